//! The `subscriptions` table: who gets the events of a node (`node = ''`: the root collection,
//! every node of this service). A subscription's id names its delivery queue. And the
//! `dropped_subscriptions` table: the subscriptions that ended, with why and when.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::super::error::StoreError;
use super::super::records::{DropReason, EventKind, Standing, SubscribeRequest, SubscriptionState};
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

/// Adds an Idavoll-style subscription (at most `max` per node), with the lease end of `req` if
/// any, and queues the node's newest item for it (not for the root collection).
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
            "INSERT INTO subscriptions (node, callback, secret, created_ms, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (node, callback) DO NOTHING",
        )?
        .execute(params![
            req.node,
            req.callback,
            req.secret,
            req.now_ms,
            req.expires_ms
        ])?;
    if inserted == 0 {
        return Err(StoreError::SubscriptionExists);
    }
    if count >= max {
        return Err(StoreError::SubscriptionLimit(max));
    }
    let sub_key = conn.last_insert_rowid();
    forget_dropped(conn, &req.node, &req.callback)?;
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
            publisher: last.publisher.as_deref(),
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

/// Renews the subscription of `req.callback` to `req.node`, if there is one: its lease end and
/// secret become those of `req` (deliveries already queued keep the secret they were queued
/// with); returns whether there was one.
pub(crate) fn renew(conn: &Connection, req: &SubscribeRequest) -> Result<bool, StoreError> {
    let renewed = conn
        .prepare_cached(
            "UPDATE subscriptions SET secret = ?3, expires_ms = ?4 WHERE node = ?1 AND callback = ?2",
        )?
        .execute(params![req.node, req.callback, req.secret, req.expires_ms])?;
    Ok(renewed > 0)
}

/// Adds or renews a WebSub subscription (at most `max` per node): a renewal replaces the
/// topic, secret and lease and keeps the queue. Queues nothing.
pub(crate) fn add_or_renew_websub(
    conn: &Connection,
    req: &SubscribeRequest,
    max: u32,
) -> Result<(), StoreError> {
    nodes::check_exists(conn, &req.node)?;
    forget_dropped(conn, &req.node, &req.callback)?;
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

/// Removes the subscription of `callback` to `node` with its pending deliveries (the
/// subscriber asked: [`DropReason::Unsubscribed`]).
pub(crate) fn remove(
    conn: &Connection,
    node: &str,
    callback: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    nodes::check_exists(conn, node)?;
    let sub_key: Option<i64> = conn
        .prepare_cached("SELECT id FROM subscriptions WHERE node = ?1 AND callback = ?2")?
        .query_row(params![node, callback], |r| r.get(0))
        .optional()?;
    let sub_key = sub_key.ok_or(StoreError::NoSubscription)?;
    remove_by_key(conn, sub_key, DropReason::Unsubscribed, now_ms)?;
    Ok(())
}

/// Removes subscription `sub_key` for `reason`, with its pending deliveries; returns its node,
/// if it existed.
pub(crate) fn remove_by_key(
    conn: &Connection,
    sub_key: i64,
    reason: DropReason,
    now_ms: i64,
) -> Result<Option<String>, StoreError> {
    let node = retire(conn, sub_key, reason, None, now_ms)?;
    outbox::clear_queue(conn, sub_key)?;
    Ok(node)
}

/// Removes the subscriptions whose lease ended by `now_ms`, with their queues; returns the node
/// of each.
pub(crate) fn expire(conn: &Connection, now_ms: i64) -> Result<Vec<String>, StoreError> {
    let expired: Vec<i64> = conn
        .prepare_cached(
            "SELECT id FROM subscriptions WHERE expires_ms IS NOT NULL AND expires_ms <= ?1",
        )?
        .query_map([now_ms], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut nodes = Vec::with_capacity(expired.len());
    for sub_key in expired {
        nodes.extend(remove_by_key(
            conn,
            sub_key,
            DropReason::LeaseExpired,
            now_ms,
        )?);
    }
    Ok(nodes)
}

/// The subscriptions of a node that is being deleted end ([`DropReason::NodeDeleted`], with
/// the deletion's redirect); their queues stay, since they hold the deletion itself.
pub(crate) fn retire_node(
    conn: &Connection,
    node: &str,
    redirect: Option<&str>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let subscribed: Vec<i64> = conn
        .prepare_cached("SELECT id FROM subscriptions WHERE node = ?1")?
        .query_map([node], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for sub_key in subscribed {
        retire(conn, sub_key, DropReason::NodeDeleted, redirect, now_ms)?;
    }
    Ok(())
}

/// The earliest lease end of any subscription, Unix ms.
pub(crate) fn next_lease_end(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT MIN(expires_ms) FROM subscriptions")?
        .query_row([], |r| r.get(0))?)
}

/// Records that deliveries to subscription `sub_key` succeeded at `now_ms` (also on the record
/// of a subscription that ended with its node, whose queue still held the deletion).
pub(crate) fn delivered(conn: &Connection, sub_key: i64, now_ms: i64) -> Result<(), StoreError> {
    let updated = conn
        .prepare_cached("UPDATE subscriptions SET last_delivery_ms = ?2 WHERE id = ?1")?
        .execute(params![sub_key, now_ms])?;
    if updated == 0 {
        conn.prepare_cached(
            "UPDATE dropped_subscriptions SET last_delivery_ms = ?2 WHERE sub_key = ?1",
        )?
        .execute(params![sub_key, now_ms])?;
    }
    Ok(())
}

/// Forgets the records of subscriptions that ended before `before_ms`; returns how many.
pub(crate) fn prune_dropped(conn: &Connection, before_ms: i64) -> Result<u64, StoreError> {
    let pruned = conn
        .prepare_cached("DELETE FROM dropped_subscriptions WHERE dropped_ms < ?1")?
        .execute([before_ms])?;
    Ok(pruned as u64)
}

/// The columns a subscription and the record of its end share, read from the first six of a
/// row in this order: queue key, secret (of a record: the hex SHA-256 of it), topic, created,
/// lease end, last delivery.
struct Shared {
    sub_key: i64,
    secret: Option<String>,
    topic: Option<String>,
    created_ms: i64,
    expires_ms: Option<i64>,
    last_delivery_ms: Option<i64>,
}

impl Shared {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            sub_key: r.get(0)?,
            secret: r.get(1)?,
            topic: r.get(2)?,
            created_ms: r.get(3)?,
            expires_ms: r.get(4)?,
            last_delivery_ms: r.get(5)?,
        })
    }
}

/// What is known of the subscription of `callback` to `node`: the subscription itself, else the
/// record of its end.
pub(crate) fn state(
    conn: &Connection,
    node: &str,
    callback: &str,
) -> Result<Option<SubscriptionState>, StoreError> {
    // The failure streak is the queue head's, or for a record of an end the one it ended with.
    let state = |shared: Shared, standing, secret_digest, recorded: Option<(u32, Option<i64>)>| {
        let (pending, failures, failing_since) = queue_state(conn, shared.sub_key)?;
        let (failures, failing_since) = recorded.unwrap_or((failures, failing_since));
        Ok::<_, StoreError>(Some(SubscriptionState {
            node: node.to_owned(),
            callback: callback.to_owned(),
            standing,
            websub: shared.topic.is_some(),
            created_ms: Some(shared.created_ms),
            expires_ms: shared.expires_ms,
            last_delivery_ms: shared.last_delivery_ms,
            pending_deliveries: pending,
            failures,
            failing_since_ms: failing_since,
            secret_digest,
        }))
    };
    let active = conn
        .prepare_cached(
            "SELECT id, secret, topic, created_ms, expires_ms, last_delivery_ms FROM subscriptions
             WHERE node = ?1 AND callback = ?2",
        )?
        .query_row(params![node, callback], Shared::read)
        .optional()?;
    if let Some(shared) = active {
        let digest = shared.secret.as_deref().map(secret_digest);
        return state(shared, Standing::Active, digest, None);
    }
    let dropped = conn
        .prepare_cached(
            "SELECT sub_key, secret_sha256, topic, created_ms, expires_ms, last_delivery_ms,
                    reason, redirect, failures, failing_since_ms, dropped_ms
             FROM dropped_subscriptions WHERE node = ?1 AND callback = ?2",
        )?
        .query_row(params![node, callback], |r| {
            Ok((
                Shared::read(r)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
                (r.get::<_, u32>(8)?, r.get::<_, Option<i64>>(9)?),
                r.get::<_, i64>(10)?,
            ))
        })
        .optional()?;
    let Some((shared, reason, redirect, failures, at_ms)) = dropped else {
        return Ok(None);
    };
    let reason = DropReason::parse(&reason)
        .ok_or_else(|| StoreError::Database(format!("unknown drop reason {reason:?}")))?;
    let digest = shared
        .secret
        .as_deref()
        .and_then(crate::hex::decode)
        .and_then(|d| d.try_into().ok());
    let standing = Standing::Dropped {
        reason,
        at_ms,
        redirect,
    };
    state(shared, standing, digest, Some(failures))
}

/// The SHA-256 of a subscription secret: all the gateway keeps of the secret of a subscription
/// that ended, and the key of the signature of `GET /subscription`.
pub fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// The deliveries queued for `sub_key`, and the failed attempts and failure streak start of
/// the one at the head.
fn queue_state(conn: &Connection, sub_key: i64) -> Result<(u64, u32, Option<i64>), StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(*),
                    COALESCE((SELECT attempts FROM outbox WHERE sub_key = ?1 ORDER BY id LIMIT 1), 0),
                    (SELECT first_failure_ms FROM outbox WHERE sub_key = ?1 ORDER BY id LIMIT 1)
             FROM outbox WHERE sub_key = ?1",
        )?
        .query_row([sub_key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?)
}

/// Ends subscription `sub_key`: records why (replacing an earlier record of the same node and
/// callback) and removes it; its queue is the caller's business. Returns its node, if it
/// existed.
fn retire(
    conn: &Connection,
    sub_key: i64,
    reason: DropReason,
    redirect: Option<&str>,
    now_ms: i64,
) -> Result<Option<String>, StoreError> {
    let Some((shared, node, callback)) = conn
        .prepare_cached(
            "DELETE FROM subscriptions WHERE id = ?1
             RETURNING id, secret, topic, created_ms, expires_ms, last_delivery_ms, node, callback",
        )?
        .query_row([sub_key], |r| {
            Ok((
                Shared::read(r)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
            ))
        })
        .optional()?
    else {
        return Ok(None);
    };
    let (_, failures, failing_since) = queue_state(conn, sub_key)?;
    let digest = shared
        .secret
        .as_deref()
        .map(|s| crate::hex::lower(&secret_digest(s)));
    conn.prepare_cached(
        "INSERT OR REPLACE INTO dropped_subscriptions (node, callback, sub_key, secret_sha256,
             topic, reason, redirect, created_ms, expires_ms, last_delivery_ms, failures,
             failing_since_ms, dropped_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        node,
        callback,
        sub_key,
        digest,
        shared.topic,
        reason.as_str(),
        redirect,
        shared.created_ms,
        shared.expires_ms,
        shared.last_delivery_ms,
        failures,
        failing_since,
        now_ms
    ])?;
    Ok(Some(node))
}

/// Forgets the record of an ended subscription of `callback` to `node` (it subscribes again).
fn forget_dropped(conn: &Connection, node: &str, callback: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM dropped_subscriptions WHERE node = ?1 AND callback = ?2")?
        .execute(params![node, callback])?;
    Ok(())
}
