//! The event intake (XMPP → HTTP): pubsub events from the service fill the item cache and
//! queue their deliveries to HTTP subscribers, in one durable transaction per batch.

use std::collections::HashMap;
use std::sync::Weak;
use std::sync::atomic::Ordering;

use rusqlite::Connection;
use tokio::sync::mpsc;
use tokio_xmpp::Stanza;

use super::stanza::{self, PubsubEvent};
use super::state::Shared;
use crate::store::sql::{Filled, items, nodes, outbox, subscriptions, xmpp_ops};
use crate::store::{Item, ItemKeeping, StoreError};
use crate::uri::{NodeUri, is_remote_key};

/// Applies the pubsub events that arrive on `events`, for as long as the XMPP side exists.
pub(crate) async fn intake(shared: Weak<Shared>, mut events: mpsc::UnboundedReceiver<Stanza>) {
    while let Some(first) = events.recv().await {
        let Some(s) = shared.upgrade() else { return };
        // Everything already waiting goes into one transaction (one fsync for many events).
        let mut parsed = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(stanza) = next.take() {
            parsed.extend(events_of(&s, stanza));
            taken += 1;
            if taken < 512 {
                next = events.try_recv().ok();
            }
        }
        if !parsed.is_empty() {
            apply(&s, parsed).await;
        }
    }
}

/// The pubsub events in a stanza from the pubsub service (anything else gives none).
fn events_of(s: &Shared, stanza: Stanza) -> Vec<PubsubEvent> {
    let Stanza::Message(message) = stanza else {
        return Vec::new();
    };
    // Events of this service are about its nodes; events of another service are about the
    // nodes followed there (remote subscriptions), stored under their URI. The XMPP server
    // stamps `from`, so a service cannot speak for another.
    let Some(from) = message.from.as_ref().map(ToString::to_string) else {
        return Vec::new();
    };
    let key =
        |node: String| crate::uri::storage_key(&NodeUri::new(from.as_str(), node), &s.service);
    message
        .payloads
        .iter()
        .flat_map(stanza::parse_event)
        .map(|event| match event {
            PubsubEvent::Published {
                node,
                item,
                payload,
            } => PubsubEvent::Published {
                node: key(node),
                item,
                payload,
            },
            PubsubEvent::Retracted { node, item } => PubsubEvent::Retracted {
                node: key(node),
                item,
            },
            PubsubEvent::Deleted { node, redirect } => PubsubEvent::Deleted {
                node: key(node),
                redirect,
            },
            PubsubEvent::Purged { node } => PubsubEvent::Purged { node: key(node) },
        })
        .collect()
}

/// Applies events to the item cache and queues their deliveries, in one durable transaction.
pub(crate) async fn apply(s: &Shared, events: Vec<PubsubEvent>) {
    let count = events.len() as u64;
    let keeping = s.items.clone();
    let caps = s.caps().clone();
    let result =
        s.db.call(move |conn, filled| {
            let mut over_cap = Vec::new();
            for event in events {
                let now = crate::time::now_ms();
                over_cap.extend(apply_one(conn, filled, event, &keeping, &caps, now)?);
            }
            Ok(over_cap)
        })
        .await;
    match result {
        Ok(over_cap) => {
            s.metrics.events.fetch_add(count, Ordering::Relaxed);
            for (node, cap) in over_cap {
                s.metrics.dropped_by_service.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    node,
                    cap,
                    "the node holds more items than the pubsub service keeps: the service dropped its oldest (the gateway's cache still serves it); raise Prosody's pubsub_max_items or ejabberd's max_items_node (docs/deploy.md)"
                );
            }
        }
        Err(e) => tracing::error!(error = %e, "cannot record pubsub events"),
    }
}

/// Applies one event; for a new item that took one of the gateway's nodes past the item cap
/// of the service (`caps`), gives the node and the cap: the service dropped an older item.
fn apply_one(
    conn: &Connection,
    filled: &mut Filled,
    event: PubsubEvent,
    keeping: &ItemKeeping,
    caps: &HashMap<String, u32>,
    now: i64,
) -> Result<Option<(String, u32)>, StoreError> {
    // A node of this service that the gateway did not know is adopted (created by an XMPP
    // client); a node of another service counts only while followed.
    let ensure_node = |node: &str| -> Result<bool, StoreError> {
        if is_remote_key(node) {
            return nodes::exists(conn, node);
        }
        nodes::record(conn, node, now)?;
        Ok(true)
    };
    match event {
        PubsubEvent::Published {
            node,
            item,
            payload,
        } => {
            let Some(payload) = payload else {
                return Ok(None);
            };
            let item = Item {
                id: item.unwrap_or_else(|| "current".to_owned()),
                payload: stanza::to_text(&payload).map_err(StoreError::Database)?,
                // Not yet: the publisher's JID is not mapped to a site id in XMPP mode.
                publisher: None,
            };
            if !ensure_node(&node)? {
                return Ok(None);
            }
            let cached = items::payload(conn, &node, &item.id)?;
            if cached.as_deref() == Some(item.payload.as_str()) {
                return Ok(None);
            }
            keeping.put(conn, &node, &item, now)?;
            outbox::fan_out_item(conn, filled, &node, &item, now)?;
            match caps.get(&node) {
                Some(&cap) if cached.is_none() && items::count(conn, &node)? > u64::from(cap) => {
                    Ok(Some((node, cap)))
                }
                _ => Ok(None),
            }
        }
        PubsubEvent::Retracted { node, item } => {
            // Only what the cache held: the gateway applies its own retractions as soon as the
            // service confirms them, and the echo of the event must not be delivered twice.
            if !items::remove(conn, &node, &item)? {
                return Ok(None);
            }
            outbox::fan_out_retraction(conn, filled, &node, &item, None, now)?;
            Ok(None)
        }
        PubsubEvent::Purged { node } => {
            for item in items::ids(conn, &node)? {
                let retracted = PubsubEvent::Retracted {
                    node: node.clone(),
                    item,
                };
                apply_one(conn, filled, retracted, keeping, caps, now)?;
            }
            Ok(None)
        }
        PubsubEvent::Deleted { node, redirect } => {
            if !nodes::exists(conn, &node)? {
                return Ok(None);
            }
            // The service may leave out the redirect (Prosody 0.12 does); when the deletion is
            // ours, the queued operation still holds it (it is removed only after the answer,
            // and the event comes first).
            let redirect = match redirect {
                Some(r) => Some(r),
                None => xmpp_ops::queued_redirect(conn, &node)?,
            };
            outbox::fan_out_deletion(conn, filled, &node, redirect.as_deref(), now)?;
            subscriptions::retire_node(conn, &node, redirect.as_deref(), now)?;
            nodes::forget(conn, &node)?;
            Ok(None)
        }
    }
}
