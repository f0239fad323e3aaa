//! The `events` and `outbox` tables: what to tell HTTP subscribers, one event row per thing that
//! happened and one outbox row per (subscriber, event); a subscriber's queue is its outbox rows
//! in `id` order.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::error::StoreError;
use super::super::records::{Delivery, EventKind, Item, QueueHead};
use super::Filled;
use crate::uri::is_remote_key;

/// Something that happened on a node, to queue for its subscribers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewEvent<'a> {
    /// The node's storage key.
    pub(crate) node: &'a str,
    /// What happened.
    pub(crate) kind: EventKind,
    /// The item (items and retractions).
    pub(crate) item_id: Option<&'a str>,
    /// The body to deliver (entry, tombstone, or empty).
    pub(crate) payload: &'a str,
    /// The redirect URI of a node deletion.
    pub(crate) redirect: Option<&'a str>,
    /// When, Unix ms.
    pub(crate) now_ms: i64,
    /// The site that published or retracted the item, if known.
    pub(crate) publisher: Option<&'a str>,
}

fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Item => "item",
        EventKind::Retracted => "retracted",
        EventKind::Deleted => "deleted",
    }
}

fn parse_kind(s: &str) -> Result<EventKind, StoreError> {
    match s {
        "item" => Ok(EventKind::Item),
        "retracted" => Ok(EventKind::Retracted),
        "deleted" => Ok(EventKind::Deleted),
        other => Err(StoreError::Database(format!(
            "unknown event kind {other:?}"
        ))),
    }
}

/// Queues `event` for every live subscriber of its node and (for a node of this service) of the
/// root collection.
fn fan_out(conn: &Connection, filled: &mut Filled, event: &NewEvent<'_>) -> Result<(), StoreError> {
    let (node, now_ms) = (event.node, event.now_ms);
    // Subscribers of the root collection get every node of this service, not the nodes of
    // other services the gateway follows (remote subscriptions), nor restricted nodes (they
    // have no reader credential to show for them): `node = NULL` never matches.
    let restricted =
        super::readers::access(conn, node).is_ok_and(|a| a == super::readers::Access::Restricted);
    let root = (!is_remote_key(node) && !restricted).then_some("");
    let any: Option<i64> = conn
        .prepare_cached(
            "SELECT 1 FROM subscriptions WHERE (node = ?1 OR node = ?3)
             AND (expires_ms IS NULL OR expires_ms > ?2) LIMIT 1",
        )?
        .query_row(params![node, now_ms, root], |r| r.get(0))
        .optional()?;
    if any.is_none() {
        return Ok(());
    }
    let event = insert_event(conn, event)?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO outbox (sub_key, event_id, callback, secret, next_attempt_ms, topic)
         SELECT id, ?1, callback, secret, ?2, topic FROM subscriptions
         WHERE (node = ?3 OR node = ?4) AND (expires_ms IS NULL OR expires_ms > ?2) ORDER BY id
         RETURNING sub_key",
    )?;
    let mut rows = insert.query(params![event, now_ms, node, root])?;
    while let Some(row) = rows.next()? {
        filled.push(row.get(0)?);
    }
    Ok(())
}

/// Queues the publication of `item` for the subscribers of `node`.
pub(crate) fn fan_out_item(
    conn: &Connection,
    filled: &mut Filled,
    node: &str,
    item: &Item,
    now_ms: i64,
) -> Result<(), StoreError> {
    let event = NewEvent {
        node,
        kind: EventKind::Item,
        item_id: Some(&item.id),
        payload: &item.payload,
        redirect: None,
        now_ms,
        publisher: item.publisher.as_deref(),
    };
    fan_out(conn, filled, &event)
}

/// Queues the retraction of `item_id` (an RFC 6721 tombstone) by `publisher` (the retracting
/// site, if known) for the subscribers of `node`.
pub(crate) fn fan_out_retraction(
    conn: &Connection,
    filled: &mut Filled,
    node: &str,
    item_id: &str,
    publisher: Option<&str>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let tombstone = crate::atom::deleted_entry(item_id, &crate::atom::rfc3339(now_ms));
    let event = NewEvent {
        node,
        kind: EventKind::Retracted,
        item_id: Some(item_id),
        payload: &tombstone,
        redirect: None,
        now_ms,
        publisher,
    };
    fan_out(conn, filled, &event)
}

/// Queues the deletion of `node` (with its redirect) for its subscribers.
pub(crate) fn fan_out_deletion(
    conn: &Connection,
    filled: &mut Filled,
    node: &str,
    redirect: Option<&str>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let event = NewEvent {
        node,
        kind: EventKind::Deleted,
        item_id: None,
        payload: "",
        redirect,
        now_ms,
        publisher: None,
    };
    fan_out(conn, filled, &event)
}

/// Queues `event` for one (Idavoll-style) subscriber only: queue `sub_key` with `callback` and
/// `secret`.
pub(crate) fn queue_for(
    conn: &Connection,
    filled: &mut Filled,
    event: &NewEvent<'_>,
    sub_key: i64,
    callback: &str,
    secret: Option<&str>,
) -> Result<(), StoreError> {
    let event_id = insert_event(conn, event)?;
    conn.prepare_cached(
        "INSERT INTO outbox (sub_key, event_id, callback, secret, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![sub_key, event_id, callback, secret, event.now_ms])?;
    filled.push(sub_key);
    Ok(())
}

fn insert_event(conn: &Connection, event: &NewEvent<'_>) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO events (node, kind, item_id, payload, redirect, created_ms, publisher)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        event.node,
        kind_name(event.kind),
        event.item_id,
        event.payload,
        event.redirect,
        event.now_ms,
        event.publisher
    ])?;
    Ok(conn.last_insert_rowid())
}

/// The head of every non-empty subscriber queue.
pub(crate) fn heads(conn: &Connection) -> Result<Vec<QueueHead>, StoreError> {
    let heads = conn
        .prepare_cached(
            "SELECT o.sub_key, o.next_attempt_ms FROM outbox o
             JOIN (SELECT MIN(id) AS id FROM outbox GROUP BY sub_key) h ON h.id = o.id",
        )?
        .query_map([], |r| {
            Ok(QueueHead {
                sub_key: r.get(0)?,
                next_attempt_ms: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(heads)
}

/// Removes the delivered outbox rows `ids` (and their events once no other delivery needs
/// them).
pub(crate) fn acknowledge(conn: &Connection, ids: &[i64]) -> Result<(), StoreError> {
    for id in ids {
        let event: Option<i64> = conn
            .prepare_cached("DELETE FROM outbox WHERE id = ?1 RETURNING event_id")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        if let Some(event) = event {
            gc_event(conn, event)?;
        }
    }
    Ok(())
}

/// The first `limit` deliveries of queue `sub_key`, head first.
pub(crate) fn first(
    conn: &Connection,
    sub_key: i64,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.id, o.sub_key, e.node, e.kind, e.item_id, e.payload, e.redirect, o.callback, o.secret,
                o.attempts, o.next_attempt_ms, o.first_failure_ms, o.topic, e.created_ms, e.publisher
         FROM outbox o JOIN events e ON e.id = o.event_id
         WHERE o.sub_key = ?1 ORDER BY o.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![sub_key, limit], |r| {
        Ok((
            Delivery {
                id: r.get(0)?,
                sub_key: r.get(1)?,
                node: r.get(2)?,
                kind: EventKind::Item,
                item_id: r.get(4)?,
                payload: r.get(5)?,
                redirect: r.get(6)?,
                callback: r.get(7)?,
                secret: r.get(8)?,
                attempts: r.get(9)?,
                next_attempt_ms: r.get(10)?,
                first_failure_ms: r.get(11)?,
                topic: r.get(12)?,
                created_ms: r.get(13)?,
                publisher: r.get(14)?,
            },
            r.get::<_, String>(3)?,
        ))
    })?;
    let mut batch = Vec::new();
    for row in rows {
        let (mut delivery, kind) = row?;
        delivery.kind = parse_kind(&kind)?;
        batch.push(delivery);
    }
    Ok(batch)
}

/// Records a failed attempt of outbox row `id`; it is due again at `next_attempt_ms`.
pub(crate) fn failed(
    conn: &Connection,
    id: i64,
    next_attempt_ms: i64,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2,
         first_failure_ms = COALESCE(first_failure_ms, ?3) WHERE id = ?1",
    )?
    .execute(params![id, next_attempt_ms, now_ms])?;
    Ok(())
}

/// The number of pending deliveries.
pub(crate) fn len(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM outbox")?
        .query_row([], |r| r.get(0))?)
}

/// Empties queue `sub_key` (and removes the events no other delivery needs).
pub(crate) fn clear_queue(conn: &Connection, sub_key: i64) -> Result<(), StoreError> {
    let events: Vec<i64> = conn
        .prepare_cached("SELECT DISTINCT event_id FROM outbox WHERE sub_key = ?1")?
        .query_map([sub_key], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    conn.prepare_cached("DELETE FROM outbox WHERE sub_key = ?1")?
        .execute([sub_key])?;
    for event in events {
        gc_event(conn, event)?;
    }
    Ok(())
}

fn gc_event(conn: &Connection, event: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "DELETE FROM events WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM outbox WHERE event_id = ?1)",
    )?
    .execute([event])?;
    Ok(())
}
