//! The `subscriptions` table: who gets the events of a node (`node = ''`: the root collection,
//! every node of this service). A subscription's id names its delivery queue.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::error::StoreError;
use super::super::records::{EventKind, SubscribeRequest};
use super::outbox::{self, NewEvent};
use super::{Filled, items, nodes};

/// Whether `callback` is subscribed to `node`.
pub(crate) fn exists(conn: &Connection, node: &str, callback: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM subscriptions WHERE node = ?1 AND callback = ?2)",
        )?
        .query_row(params![node, callback], |r| r.get(0))?)
}

/// Whether anybody subscribes to `node`.
pub(crate) fn any(conn: &Connection, node: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM subscriptions WHERE node = ?1)")?
        .query_row([node], |r| r.get(0))?)
}

fn count(conn: &Connection, node: &str) -> Result<u32, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM subscriptions WHERE node = ?1")?
        .query_row([node], |r| r.get(0))?)
}

/// Adds an Idavoll-style subscription (at most `max` per node) and queues the node's newest
/// item for it (not for the root collection).
pub(crate) fn add(
    conn: &Connection,
    filled: &mut Filled,
    req: &SubscribeRequest,
    max: u32,
) -> Result<(), StoreError> {
    nodes::check_exists(conn, &req.node)?;
    let count = count(conn, &req.node)?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO subscriptions (node, callback, secret, created_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (node, callback) DO NOTHING",
        )?
        .execute(params![req.node, req.callback, req.secret, req.now_ms])?;
    if inserted == 0 {
        return Err(StoreError::SubscriptionExists);
    }
    if count >= max {
        return Err(StoreError::SubscriptionLimit(max));
    }
    let sub_key = conn.last_insert_rowid();
    if req.node.is_empty() {
        return Ok(());
    }
    if let Some(last) = items::last(conn, &req.node)? {
        let event = NewEvent {
            node: &req.node,
            kind: EventKind::Item,
            item_id: Some(&last.id),
            payload: &last.payload,
            redirect: None,
            now_ms: req.now_ms,
        };
        outbox::queue_for(
            conn,
            filled,
            &event,
            sub_key,
            &req.callback,
            req.secret.as_deref(),
        )?;
    }
    Ok(())
}

/// Adds or renews a WebSub subscription (at most `max` per node): a renewal replaces the
/// topic, secret and lease and keeps the queue. Queues nothing.
pub(crate) fn add_or_renew_websub(
    conn: &Connection,
    req: &SubscribeRequest,
    max: u32,
) -> Result<(), StoreError> {
    nodes::check_exists(conn, &req.node)?;
    let renewed = conn
        .prepare_cached(
            "UPDATE subscriptions SET secret = ?3, topic = ?4, expires_ms = ?5
             WHERE node = ?1 AND callback = ?2",
        )?
        .execute(params![
            req.node,
            req.callback,
            req.secret,
            req.topic,
            req.expires_ms
        ])?;
    if renewed > 0 {
        return Ok(());
    }
    if count(conn, &req.node)? >= max {
        return Err(StoreError::SubscriptionLimit(max));
    }
    conn.prepare_cached(
        "INSERT INTO subscriptions (node, callback, secret, created_ms, topic, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        req.node,
        req.callback,
        req.secret,
        req.now_ms,
        req.topic,
        req.expires_ms
    ])?;
    Ok(())
}

/// Removes the subscription of `callback` to `node` with its pending deliveries.
pub(crate) fn remove(conn: &Connection, node: &str, callback: &str) -> Result<(), StoreError> {
    nodes::check_exists(conn, node)?;
    let sub_key: Option<i64> = conn
        .prepare_cached("SELECT id FROM subscriptions WHERE node = ?1 AND callback = ?2")?
        .query_row(params![node, callback], |r| r.get(0))
        .optional()?;
    let sub_key = sub_key.ok_or(StoreError::NoSubscription)?;
    remove_by_key(conn, sub_key)?;
    Ok(())
}

/// Removes subscription `sub_key` with its pending deliveries; returns its node, if it existed.
pub(crate) fn remove_by_key(conn: &Connection, sub_key: i64) -> Result<Option<String>, StoreError> {
    let node = conn
        .prepare_cached("DELETE FROM subscriptions WHERE id = ?1 RETURNING node")?
        .query_row([sub_key], |r| r.get(0))
        .optional()?;
    outbox::clear_queue(conn, sub_key)?;
    Ok(node)
}

/// Removes the subscriptions whose lease ended by `now_ms`, with their queues; returns how many.
pub(crate) fn expire(conn: &Connection, now_ms: i64) -> Result<u64, StoreError> {
    let expired: Vec<i64> = conn
        .prepare_cached(
            "DELETE FROM subscriptions WHERE expires_ms IS NOT NULL AND expires_ms <= ?1
             RETURNING id",
        )?
        .query_map([now_ms], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for sub_key in &expired {
        outbox::clear_queue(conn, *sub_key)?;
    }
    Ok(expired.len() as u64)
}
