//! What differs between embedded nodes and nodes on an XMPP service: the [`Nodes`] trait, and
//! its embedded implementation, [`Embedded`].
//!
//! The [`super::Store`] does everything both kinds share (owners, subscriptions, the delivery
//! outbox, the item cache) and hands a [`NodeChange`] to its `Nodes` inside the same
//! transaction. Embedded nodes carry it out at once (store the item, queue its deliveries);
//! XMPP nodes queue an operation for the pubsub service, whose event later fills the item cache
//! and queues the deliveries (`crate::xmpp`).

use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

use super::db::BoxFuture;
use super::error::StoreError;
use super::records::{Item, ItemPage, PageRequest};
use super::sql::{Filled, items, nodes, outbox, subscriptions};

/// The state of the XMPP side, for `/healthz` and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct XmppStatus {
    /// Whether the component is connected to the XMPP server now.
    pub connected: bool,
    /// Sessions established since start (1 + reconnects).
    pub sessions: u64,
    /// Operations waiting in the XMPP outbox (sent after reconnecting if disconnected).
    pub pending_ops: u64,
    /// Operations the pubsub service accepted.
    pub ops_sent: u64,
    /// Operations the pubsub service refused (dropped and logged).
    pub ops_refused: u64,
    /// Pubsub events received and applied.
    pub events: u64,
    /// Nodes of other services the gateway follows (remote subscriptions).
    pub remote_nodes: u64,
    /// Of those, the ones whose service could not be reached at the last try (retried in the
    /// background).
    pub remote_unreachable: u64,
    /// Items the pubsub service dropped because one of the gateway's nodes held more than the
    /// service keeps (Prosody `pubsub_max_items`, ejabberd `max_items_node`); the gateway's
    /// cache still serves them.
    pub items_dropped_by_service: u64,
}

/// A change the store decided on, already checked (the node exists and the caller may change
/// it); node names are storage keys.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NodeChange<'a> {
    /// An instant node was created here.
    Create {
        /// The new node.
        node: &'a str,
    },
    /// Publish `item` to `node`.
    Publish {
        /// The node.
        node: &'a str,
        /// The item.
        item: &'a Item,
    },
    /// Retract item `item_id` of `node` ([`StoreError::ItemNotFound`] if it has none).
    Retract {
        /// The node.
        node: &'a str,
        /// The item.
        item_id: &'a str,
        /// The authenticated site retracting it, if known.
        publisher: Option<&'a str>,
    },
    /// Delete `node`, telling its subscribers about `redirect`.
    Delete {
        /// The node.
        node: &'a str,
        /// Where its content went.
        redirect: Option<&'a str>,
    },
    /// Start following `node` of another service (its first subscription here).
    Follow {
        /// The node.
        node: &'a str,
    },
    /// Stop following `node` of another service (its last subscription here is gone; the node
    /// and its cached items are already forgotten).
    Unfollow {
        /// The node.
        node: &'a str,
    },
}

/// What differs between embedded nodes and nodes on an XMPP service.
pub(crate) trait Nodes: Send + Sync + 'static {
    /// Carries out `change` inside the store's transaction (an error rolls back the whole
    /// operation); deliveries queued go into `filled`.
    fn apply(
        &self,
        conn: &Connection,
        filled: &mut Filled,
        change: NodeChange<'_>,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Checks, before anything is stored, that a payload can be published to these nodes.
    fn accepts(&self, _payload: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Called after a transaction in which [`Nodes::apply`] may have run was committed.
    fn committed(&self) {}

    /// Whether a node that is not stored here exists all the same: a node of this service made
    /// by someone else on the XMPP service (then recorded here: adopted), or a node of another
    /// service (asked, not recorded).
    fn find(&self, _node: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async { Ok(false) })
    }

    /// One page of the items of a node of another service that nobody here follows, read
    /// from that service.
    fn remote_page(
        &self,
        node: String,
        _req: PageRequest,
    ) -> BoxFuture<'_, Result<ItemPage, StoreError>> {
        Box::pin(async move { Err(StoreError::NodeNotFound(node)) })
    }

    /// Whether nodes of other pubsub services can be subscribed to and read.
    fn remote_nodes(&self) -> bool {
        false
    }

    /// The state of the XMPP side (`None`: embedded mode).
    fn status(&self) -> BoxFuture<'_, Result<Option<XmppStatus>, StoreError>> {
        Box::pin(async { Ok(None) })
    }
}

/// How many items the store keeps per node (embedded nodes, and the item cache of the XMPP
/// mode), and how many it had to drop.
#[derive(Debug, Default)]
pub(crate) struct ItemKeeping {
    /// Items kept per node, oldest dropped beyond it; 0 = all (the default).
    pub(crate) max_items: u32,
    /// Items dropped so far because a node held more than `max_items`.
    pub(crate) dropped: AtomicU64,
}

impl ItemKeeping {
    /// Keeps no more than `max_items` items per node (0: all).
    pub(crate) fn new(max_items: u32) -> Self {
        Self {
            max_items,
            dropped: AtomicU64::new(0),
        }
    }

    /// Stores `item` as the newest item of `node`; items it pushes out (only with a limit) are
    /// logged and counted, never dropped silently.
    pub(crate) fn put(
        &self,
        conn: &Connection,
        node: &str,
        item: &Item,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let dropped = items::put(conn, node, item, now_ms, self.max_items)?;
        if dropped > 0 {
            self.dropped.fetch_add(dropped as u64, Ordering::Relaxed);
            tracing::warn!(
                node,
                dropped,
                max_items_per_node = self.max_items,
                "the node holds more items than --max-items-per-node allows: its oldest items were dropped (0 keeps them all)"
            );
        }
        Ok(())
    }
}

/// Embedded mode: the gateway is the pubsub service, so a change is carried out at once.
#[derive(Clone, Debug)]
pub(crate) struct Embedded {
    /// How many items are kept.
    pub(crate) items: std::sync::Arc<ItemKeeping>,
}

impl Nodes for Embedded {
    fn apply(
        &self,
        conn: &Connection,
        filled: &mut Filled,
        change: NodeChange<'_>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        match change {
            // Embedded mode follows no other service (the HTTP layer refuses their nodes).
            NodeChange::Create { .. } | NodeChange::Follow { .. } | NodeChange::Unfollow { .. } => {
                Ok(())
            }
            NodeChange::Publish { node, item } => {
                self.items.put(conn, node, item, now_ms)?;
                outbox::fan_out_item(conn, filled, node, item, now_ms)
            }
            NodeChange::Retract {
                node,
                item_id,
                publisher,
            } => {
                if !items::remove(conn, node, item_id)? {
                    return Err(StoreError::ItemNotFound(item_id.to_owned()));
                }
                outbox::fan_out_retraction(conn, filled, node, item_id, publisher, now_ms)
            }
            NodeChange::Delete { node, redirect } => {
                outbox::fan_out_deletion(conn, filled, node, redirect, now_ms)?;
                subscriptions::retire_node(conn, node, redirect, now_ms)?;
                nodes::forget(conn, node)?;
                Ok(())
            }
        }
    }
}
