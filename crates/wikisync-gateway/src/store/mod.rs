//! Storage: the [`Store`], over SQLite, for both modes.
//!
//! The store keeps nodes, items, subscriptions and the delivery outbox. Every operation that
//! changes what subscribers must receive writes the matching outbox rows **in the same
//! transaction**, so an acknowledged publish can never lose its deliveries, even to `kill -9`.
//!
//! # Schema
//!
//! - `nodes(id, owner, created_ms, heartbeat_ms, access)`: `owner` identifies the credential that
//!   created the node: `token:<hash prefix>` for an anonymous token (never the token),
//!   `site:<site id>` for a site credential, `NULL` when publishing is open; `heartbeat_ms`
//!   is the publisher's last `POST /heartbeat`; `access` is `open` or `restricted` ([`Access`]).
//! - `readers(node, id, digest, created_ms)`: the reader credentials of a node (`POST
//!   /readers/grant`): the SHA-256 `digest` of the token (never the token) and its `id`, the
//!   first 16 hex digits of that digest.
//! - `grants(node, site, created_ms)`: the sites (normalized site ids) the node's owner granted
//!   the right to publish to it and retract its items (`POST /grant`); a site credential's
//!   owner id is `site:<site id>`.
//! - `items(node, item_id, seq, payload, published_ms, publisher)`: the latest payload per item
//!   id and the authenticated site that published it (`NULL`: unknown); `seq`
//!   orders items (newest = highest) and is the cursor of `/items` pages; every item is kept
//!   unless `max_items_per_node` is set (then the oldest beyond it are dropped, logged and
//!   counted).
//! - `subscriptions(id, node, callback, secret, created_ms, topic, expires_ms,
//!   last_delivery_ms)`: `node = ''` is the root collection (every node). `id` is never reused
//!   (AUTOINCREMENT) and names the subscriber's delivery queue. `topic` is `NULL` for
//!   Idavoll-style subscriptions (`POST /subscribe`) and the topic URL as the subscriber gave it
//!   for WebSub ones (`POST /hub`). `expires_ms` is the lease end (WebSub subscriptions always
//!   have one, `/subscribe` ones when they asked for a lease; an expired subscription receives
//!   nothing and is swept away). `last_delivery_ms`: the last delivery that succeeded.
//! - `dropped_subscriptions(node, callback, sub_key, secret_sha256, topic, reason, redirect,
//!   created_ms, expires_ms, last_delivery_ms, failures, failing_since_ms, dropped_ms)`: the
//!   subscriptions that ended and why ([`DropReason`]), kept for the retention of
//!   `--dropped-retention-secs` so the subscriber can ask (`GET /subscription`, authenticated
//!   with the SHA-256 of the secret, which is all that is kept of it). One row per node +
//!   callback; subscribing again removes it.
//! - `events(id, node, kind, item_id, payload, redirect, created_ms, publisher)`: one row per
//!   thing to tell subscribers (`item`, `retracted`, `deleted`), shared by all its deliveries;
//!   `publisher` is the site that published or retracted the item, if known.
//! - `outbox(id, sub_key, event_id, callback, secret, attempts, next_attempt_ms,
//!   first_failure_ms, topic)`: one row per (subscriber, event); a subscriber's queue is its rows
//!   in `id` order. The callback, secret and topic are copied so a node deletion can still be
//!   delivered after its subscriptions are gone. An event row is removed with its last delivery.
//!
//! - `xmpp_ops(id, kind, node, item_id, payload, redirect, created_ms)`, XMPP mode only: the
//!   operations waiting for the pubsub service (`ensure`, `follow`, `unfollow`, `publish`,
//!   `retract`, `delete`), sent in `id` order and removed once answered.
//!
//! Schema version 2 (`PRAGMA user_version`) added the `topic` and `expires_ms` columns, version 3
//! `last_delivery_ms` and `dropped_subscriptions`, version 4 `heartbeat_ms`, version 5 the
//! `publisher` columns and `grants`, version 6 `access` and `readers`; older databases are
//! migrated on open. Every statement is in [`sql`], one submodule per table.
//!
//! # Embedded and XMPP nodes
//!
//! [`Store`] does everything both modes share (owners, subscriptions, the delivery outbox, the
//! item cache) and hands what differs to its `Nodes` ([`nodes`]): embedded nodes carry a change
//! out at once, XMPP nodes (`crate::xmpp`) queue it for the pubsub service in the same
//! transaction and fill the item cache and the outbox from the service's events.
//!
//! # Threading, group commit and the pipelined fsync
//!
//! rusqlite is blocking, so the store ([`db`]) owns one connection on a dedicated thread and takes
//! jobs over a channel. The thread takes every job waiting in the channel (up to 512), runs them
//! in **one** transaction, each inside its own savepoint (a failing job rolls back alone), and
//! commits once. Under load this is group commit: one fsync covers many publishes.
//!
//! The fsync is pipelined. The database runs in WAL mode with `synchronous=NORMAL`, so a commit
//! only appends its frames to the write-ahead log (SQLite itself syncs at checkpoints, before
//! the log is reused). The store thread hands each committed batch to a second thread, the
//! *sync* thread, and goes on with the next batch at once; the sync thread `fdatasync`s the WAL
//! file (one call for every batch waiting for it) and only then answers the batch's callers.
//! So batch N+1 is executed while batch N is being synced, and an answer (such as a publish's
//! acknowledgement) is still given only once its writes are on disk: the WAL is appended in
//! order, so a sync that starts after a commit covers it. Batches holding only reads and
//! delivery acknowledgements need no sync (a lost acknowledgement only repeats a delivery, which
//! at-least-once allows); they are still answered in commit order, after the batches before them.
//!
//! After a batch that queued deliveries is synced, the store marks the subscriber queues concerned
//! in its [`QueueSignal`], so the delivery worker learns which queues to work without scanning the
//! outbox (it scans it once, at start).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use wikisync_gateway::store::{PublishRequest, Store, StoreLimits};
//!
//! let dir = tempfile::tempdir().expect("temp dir");
//! let store = Store::open(&dir.path().join("g.sqlite3"), StoreLimits::default(), None)
//!     .expect("open");
//! let node = store.create_node(None, 0).await.expect("created");
//! let entry = r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id></entry>"#;
//! store
//!     .publish(PublishRequest { node: Some(node.clone()), item_id: "urn:x".into(),
//!         payload: entry.into(), owner: None, publisher: None, now_ms: 1 })
//!     .await
//!     .expect("published");
//! assert_eq!(store.items(&node, 10).await.expect("items")[0].payload, entry);
//! # }
//! ```

mod db;
mod error;
mod nodes;
mod records;
pub(crate) mod sql;

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;

pub use db::QueueSignal;
pub(crate) use db::{BoxFuture, Db};
pub use error::StoreError;
pub use nodes::XmppStatus;
pub(crate) use nodes::{ItemKeeping, NodeChange, Nodes};
pub use records::{
    Cursor, Delivery, DropReason, EventKind, Item, ItemPage, PageRequest, PublishRequest,
    QueueHead, Standing, StoreLimits, SubscribeRequest, Subscribed, SubscriptionState, Swept,
};
use sql::Filled;
pub use sql::readers::{Access, ReadPolicy, Reader, is_publisher};
pub use sql::subscriptions::secret_digest;

use crate::uri::is_remote_key;

/// Why a cursor of the wrong kind is refused: the node went from read-through to followed (or
/// back) between two pages.
const WRONG_CURSOR_KIND: &str = "the cursor belongs to another listing of this node (it was followed or left meanwhile); start again without after";

/// Storage of nodes, items, subscriptions and the outbox; cheap to clone.
///
/// Every method's work is committed (durably, unless it says otherwise) before it returns `Ok`.
#[derive(Clone)]
pub struct Store {
    db: Db,
    /// Told of new deliveries (by the database thread) and of new leases.
    signal: Option<Arc<QueueSignal>>,
    limits: StoreLimits,
    items: Arc<ItemKeeping>,
    nodes: Arc<dyn Nodes>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("limits", &self.limits)
            .field("remote_nodes", &self.nodes.remote_nodes())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` in WAL mode and starts its thread, with
    /// embedded nodes. After each commit that queued deliveries, the queues concerned are marked
    /// in `signal`.
    pub fn open(
        path: &Path,
        limits: StoreLimits,
        signal: Option<Arc<QueueSignal>>,
    ) -> Result<Self, StoreError> {
        let items = Arc::new(ItemKeeping::new(limits.max_items_per_node));
        Ok(Self {
            db: Db::open(path, signal.clone())?,
            signal,
            limits,
            nodes: Arc::new(nodes::Embedded {
                items: items.clone(),
            }),
            items,
        })
    }

    /// The same database with other nodes (XMPP mode).
    pub(crate) fn with_nodes(self, nodes: Arc<dyn Nodes>) -> Self {
        Self { nodes, ..self }
    }

    /// The database thread.
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// The limits the store was opened with.
    pub(crate) fn limits(&self) -> StoreLimits {
        self.limits
    }

    /// How many items the store keeps per node (shared with the XMPP mode's item cache).
    pub(crate) fn item_keeping(&self) -> Arc<ItemKeeping> {
        self.items.clone()
    }

    /// Whether the last write failed because the disk is full (and none has succeeded since):
    /// reads are served, writes are refused until there is space again.
    pub fn disk_full(&self) -> bool {
        self.db.disk_full()
    }

    /// Items dropped since start because a node held more than `max_items_per_node`.
    pub fn items_dropped(&self) -> u64 {
        self.items
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` as a durable job that may hand changes to the nodes, and tells them once it is
    /// committed.
    async fn change<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Filled, &dyn Nodes) -> Result<T, StoreError> + Send + 'static,
    {
        let nodes = self.nodes.clone();
        let result = self
            .db
            .call(move |conn, filled| f(conn, filled, &*nodes))
            .await?;
        self.nodes.committed();
        Ok(result)
    }

    /// Creates an instant node (`generic/<random uuid>`) owned by `owner`, open to readers;
    /// returns its id.
    pub async fn create_node(
        &self,
        owner: Option<String>,
        now_ms: i64,
    ) -> Result<String, StoreError> {
        self.create_node_with(owner, Access::Open, now_ms).await
    }

    /// Creates an instant node (`generic/<random uuid>`) owned by `owner` with the access
    /// model `access`; returns its id.
    pub async fn create_node_with(
        &self,
        owner: Option<String>,
        access: Access,
        now_ms: i64,
    ) -> Result<String, StoreError> {
        self.change(move |conn, filled, nodes| {
            let node = create_instant(conn, filled, nodes, owner.as_deref(), now_ms)?;
            sql::readers::set_access(conn, &node, access)?;
            Ok(node)
        })
        .await
    }

    /// Sets the access model of `node`; `owner` must own the node.
    pub async fn set_access(
        &self,
        node: String,
        access: Access,
        owner: Option<String>,
    ) -> Result<(), StoreError> {
        self.db
            .call(move |conn, _| {
                sql::nodes::check_owner(conn, &node, owner.as_deref())?;
                sql::readers::set_access(conn, &node, access)
            })
            .await
    }

    /// Who may read `node` (storage key) when it is restricted; `None` when it is open or not
    /// stored here.
    pub async fn read_policy(&self, node: String) -> Result<Option<ReadPolicy>, StoreError> {
        self.db
            .call_lazy(move |conn| sql::readers::read_policy(conn, &node))
            .await
    }

    /// Records a reader credential (its `id` and the SHA-256 `digest` of its token) of
    /// `node`; `owner` must own the node.
    pub async fn add_reader(
        &self,
        node: String,
        id: String,
        digest: [u8; 32],
        owner: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.db
            .call(move |conn, _| {
                sql::nodes::check_owner(conn, &node, owner.as_deref())?;
                sql::readers::add_reader(conn, &node, &id, &digest, now_ms)
            })
            .await
    }

    /// Removes the reader credential `id` of `node` ([`StoreError::NoReader`] if none);
    /// `owner` must own the node.
    pub async fn remove_reader(
        &self,
        node: String,
        id: String,
        owner: Option<String>,
    ) -> Result<(), StoreError> {
        self.db
            .call(move |conn, _| {
                sql::nodes::check_owner(conn, &node, owner.as_deref())?;
                sql::readers::remove_reader(conn, &node, &id)
            })
            .await
    }

    /// The access model of `node` and its reader credentials (ids, never tokens); `owner`
    /// must own the node.
    pub async fn readers(
        &self,
        node: String,
        owner: Option<String>,
    ) -> Result<(Access, Vec<Reader>), StoreError> {
        self.db
            .call_lazy(move |conn| {
                sql::nodes::check_owner(conn, &node, owner.as_deref())?;
                Ok((
                    sql::readers::access(conn, &node)?,
                    sql::readers::readers(conn, &node)?,
                ))
            })
            .await
    }

    /// Stores an item and queues it for every subscriber of the node and of the root; returns
    /// the node id (new if `req.node` was `None`).
    pub async fn publish(&self, req: PublishRequest) -> Result<String, StoreError> {
        self.nodes.accepts(&req.payload)?;
        match self.publish_once(req.clone()).await {
            // A node made on the XMPP service by someone else: adopted, then published to.
            Err(StoreError::NodeNotFound(node)) => {
                if self.nodes.find(node.clone()).await? {
                    self.publish_once(req).await
                } else {
                    Err(StoreError::NodeNotFound(node))
                }
            }
            other => other,
        }
    }

    async fn publish_once(&self, req: PublishRequest) -> Result<String, StoreError> {
        self.change(move |conn, filled, nodes| {
            let node = match req.node {
                Some(node) => {
                    sql::nodes::check_publisher(conn, &node, req.owner.as_deref())?;
                    node
                }
                None => create_instant(conn, filled, nodes, req.owner.as_deref(), req.now_ms)?,
            };
            let item = Item {
                id: req.item_id,
                payload: req.payload,
                publisher: req.publisher,
            };
            let change = NodeChange::Publish {
                node: &node,
                item: &item,
            };
            nodes.apply(conn, filled, change, req.now_ms)?;
            Ok(node)
        })
        .await
    }

    /// Removes an item and queues a retraction for every subscriber. `owner` must own the node
    /// or be a site granted on it; `publisher` is the retracting site, told to subscribers.
    pub async fn retract(
        &self,
        node: String,
        item_id: String,
        owner: Option<String>,
        publisher: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.change(move |conn, filled, nodes| {
            sql::nodes::check_publisher(conn, &node, owner.as_deref())?;
            let change = NodeChange::Retract {
                node: &node,
                item_id: &item_id,
                publisher: publisher.as_deref(),
            };
            nodes.apply(conn, filled, change, now_ms)
        })
        .await
    }

    /// Deletes a node with its items and subscriptions, queueing `deleted` for its subscribers
    /// (and root subscribers), after whatever they still have pending.
    pub async fn delete_node(
        &self,
        node: String,
        redirect: Option<String>,
        owner: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.change(move |conn, filled, nodes| {
            sql::nodes::check_owner(conn, &node, owner.as_deref())?;
            let change = NodeChange::Delete {
                node: &node,
                redirect: redirect.as_deref(),
            };
            nodes.apply(conn, filled, change, now_ms)
        })
        .await
    }

    /// Grants `site` (a normalized site id) the right to publish to `node` and retract its
    /// items; `owner` must own the node. Granting again changes nothing.
    pub async fn grant(
        &self,
        node: String,
        site: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.db
            .call(move |conn, _| {
                sql::nodes::check_owner(conn, &node, owner.as_deref())?;
                sql::nodes::grant(conn, &node, &site, now_ms)
            })
            .await
    }

    /// Revokes the grant of `site` on `node` ([`StoreError::NoGrant`] if it holds none);
    /// `owner` must own the node.
    pub async fn revoke(
        &self,
        node: String,
        site: String,
        owner: Option<String>,
    ) -> Result<(), StoreError> {
        self.db
            .call(move |conn, _| {
                sql::nodes::check_owner(conn, &node, owner.as_deref())?;
                sql::nodes::revoke(conn, &node, &site)
            })
            .await
    }

    /// The owner id of `node` (`None`: open) and the sites granted on it, sorted; `owner`
    /// must own the node.
    pub async fn publishers(
        &self,
        node: String,
        owner: Option<String>,
    ) -> Result<(Option<String>, Vec<String>), StoreError> {
        self.db
            .call_lazy(move |conn| {
                sql::nodes::check_owner(conn, &node, owner.as_deref())?;
                sql::nodes::publishers(conn, &node)
            })
            .await
    }

    /// The ids of all nodes of this service, sorted.
    pub async fn list_nodes(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .call_lazy(|conn| sql::nodes::list(conn, false))
            .await
    }

    /// Whether a node exists (`""`, the root, always does).
    pub async fn node_exists(&self, node: String) -> Result<bool, StoreError> {
        let key = node.clone();
        let here = self
            .db
            .call_lazy(move |conn| Ok(sql::nodes::check_exists(conn, &key).is_ok()))
            .await?;
        if here {
            return Ok(true);
        }
        self.nodes.find(node).await
    }

    /// The newest `max` items of a node, newest first (the first page of [`Store::items_page`]
    /// without a byte limit).
    pub async fn items(&self, node: &str, max: u32) -> Result<Vec<Item>, StoreError> {
        let first = PageRequest {
            max,
            max_bytes: usize::MAX,
            after: None,
        };
        Ok(self.items_page(node, first).await?.items)
    }

    /// One page of a node's items, newest first, and where the next one begins. Nodes stored
    /// here (embedded nodes; in XMPP mode the cache of the gateway's own nodes and of the
    /// nodes it follows) are paged by sequence number ([`Cursor::Stored`]); a node of another
    /// service nobody here follows is read from that service ([`Cursor::Rsm`] or
    /// [`Cursor::ItemId`]). A cursor of another kind than the node's is
    /// [`StoreError::BadCursor`].
    pub async fn items_page(&self, node: &str, req: PageRequest) -> Result<ItemPage, StoreError> {
        let key = node.to_owned();
        let local = req.clone();
        let stored = self
            .db
            .call_lazy(move |conn| {
                if !sql::nodes::exists(conn, &key)? {
                    return Err(StoreError::NodeNotFound(key));
                }
                let after = match local.after {
                    None => None,
                    Some(Cursor::Stored(seq)) => Some(seq),
                    Some(_) => return Err(StoreError::BadCursor(WRONG_CURSOR_KIND.to_owned())),
                };
                sql::items::page(conn, &key, after, local.max, local.max_bytes)
            })
            .await;
        match stored {
            // A node of another service that nobody here follows: read from its service.
            Err(StoreError::NodeNotFound(node)) if is_remote_key(&node) => {
                if matches!(req.after, Some(Cursor::Stored(_))) {
                    return Err(StoreError::BadCursor(WRONG_CURSOR_KIND.to_owned()));
                }
                self.nodes.remote_page(node, req).await
            }
            other => other,
        }
    }

    /// Whether `callback` is subscribed to `node`.
    pub async fn is_subscribed(&self, node: String, callback: String) -> Result<bool, StoreError> {
        self.db
            .call_lazy(move |conn| sql::subscriptions::exists(conn, &node, &callback))
            .await
    }

    /// Tells the delivery worker about a lease ending at `end_ms`, so that it sweeps then.
    fn lease_granted(&self, end_ms: Option<i64>) {
        if let (Some(signal), Some(end)) = (&self.signal, end_ms) {
            signal.lease_granted(end);
        }
    }

    /// Adds a subscription and queues the node's newest item for it (not for the root). The
    /// first subscription to a node of another service (XMPP mode) makes the gateway follow it.
    pub async fn subscribe(&self, req: SubscribeRequest) -> Result<(), StoreError> {
        let max = self.limits.max_subscriptions_per_node;
        let remote = self.nodes.remote_nodes() && is_remote_key(&req.node);
        let lease_end = req.expires_ms;
        self.change(move |conn, filled, nodes| {
            if remote && sql::nodes::record(conn, &req.node, req.now_ms)? {
                let change = NodeChange::Follow { node: &req.node };
                nodes.apply(conn, filled, change, req.now_ms)?;
            }
            sql::subscriptions::add(conn, filled, &req, max)
        })
        .await?;
        self.lease_granted(lease_end);
        Ok(())
    }

    /// Adds a subscription, or renews it if `req.callback` is subscribed to `req.node` already
    /// (a `/subscribe` with a lease: the lease end and secret are replaced, the queue is kept
    /// and nothing is queued). A new one is [`Store::subscribe`].
    pub async fn subscribe_or_renew(
        &self,
        req: SubscribeRequest,
    ) -> Result<Subscribed, StoreError> {
        let renewal = req.clone();
        let renewed = self
            .db
            .call(move |conn, _| sql::subscriptions::renew(conn, &renewal))
            .await?;
        if renewed {
            self.lease_granted(req.expires_ms);
            return Ok(Subscribed::Renewed);
        }
        self.subscribe(req).await.map(|()| Subscribed::Added)
    }

    /// Adds or renews a WebSub subscription (the key is node + callback; a renewal replaces the
    /// topic, secret and lease and keeps the queue). Queues nothing.
    pub async fn websub_subscribe(&self, req: SubscribeRequest) -> Result<(), StoreError> {
        let max = self.limits.max_subscriptions_per_node;
        let lease_end = req.expires_ms;
        self.db
            .call(move |conn, _| sql::subscriptions::add_or_renew_websub(conn, &req, max))
            .await?;
        self.lease_granted(lease_end);
        Ok(())
    }

    /// Queues the node's newest item again for every subscriber (a WebSub publish ping); returns
    /// whether the node had an item.
    pub async fn republish(
        &self,
        node: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.db
            .call(move |conn, filled| {
                sql::nodes::check_publisher(conn, &node, owner.as_deref())?;
                let Some(item) = sql::items::last(conn, &node)? else {
                    return Ok(false);
                };
                sql::outbox::fan_out_item(conn, filled, &node, &item, now_ms)?;
                Ok(true)
            })
            .await
    }

    /// Removes the subscriptions whose lease ended by `now_ms`, with their queues (remembered
    /// as [`DropReason::LeaseExpired`]); returns how many.
    pub async fn expire_leases(&self, now_ms: i64) -> Result<u64, StoreError> {
        Ok(self.sweep(now_ms, None).await?.expired)
    }

    /// The periodic sweep: drops the subscriptions whose lease ended by `now_ms` (as
    /// [`Store::expire_leases`]; the last one of a followed node of another service unfollows
    /// it), forgets the records of subscriptions that ended more than `keep_dropped` ago
    /// (`None`: keeps them), and tells when the next lease ends.
    pub async fn sweep(
        &self,
        now_ms: i64,
        keep_dropped: Option<std::time::Duration>,
    ) -> Result<Swept, StoreError> {
        self.change(move |conn, filled, nodes| {
            let mut ended = sql::subscriptions::expire(conn, now_ms)?;
            let expired = ended.len() as u64;
            ended.sort();
            ended.dedup();
            for node in ended {
                unfollow_if_unused(conn, filled, nodes, &node)?;
            }
            if let Some(keep) = keep_dropped {
                let keep = i64::try_from(keep.as_millis()).unwrap_or(i64::MAX);
                sql::subscriptions::prune_dropped(conn, now_ms.saturating_sub(keep))?;
            }
            Ok(Swept {
                expired,
                next_lease_end_ms: sql::subscriptions::next_lease_end(conn)?,
            })
        })
        .await
    }

    /// Removes a subscription and its pending deliveries (remembered as
    /// [`DropReason::Unsubscribed`]). After the last subscription to a node of another service,
    /// the gateway stops following it (as Idavoll unsubscribed only after the last callback).
    pub async fn unsubscribe(&self, node: String, callback: String) -> Result<(), StoreError> {
        self.change(move |conn, filled, nodes| {
            sql::subscriptions::remove(conn, &node, &callback, crate::time::now_ms())?;
            unfollow_if_unused(conn, filled, nodes, &node)
        })
        .await
    }

    /// What is known of the subscription of `callback` to `node` (its storage key): the
    /// subscription, else the record of its end (kept for the retention), else `None`.
    pub async fn subscription_state(
        &self,
        node: String,
        callback: String,
    ) -> Result<Option<SubscriptionState>, StoreError> {
        self.db
            .call_lazy(move |conn| sql::subscriptions::state(conn, &node, &callback))
            .await
    }

    /// Records a heartbeat of `node`'s publisher (`owner` must own it): the node's source is
    /// alive, though it may have nothing to publish (see `GET /subscription`'s `source_seen`).
    pub async fn heartbeat(
        &self,
        node: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        // Not synced to disk: a heartbeat lost to a power failure is only a heartbeat missed.
        self.db
            .call_lazy(move |conn| {
                sql::nodes::check_owner(conn, &node, owner.as_deref())?;
                sql::nodes::heartbeat(conn, &node, now_ms)
            })
            .await
    }

    /// The last sign of life of `node`'s publisher (its storage key), Unix ms: see
    /// [`Store::heartbeat`]; `None` for the root, another service's node or an unknown one.
    pub async fn source_seen(&self, node: String) -> Result<Option<i64>, StoreError> {
        self.db
            .call_lazy(move |conn| sql::nodes::source_seen(conn, &node))
            .await
    }

    /// The head of every non-empty subscriber queue.
    pub async fn queue_heads(&self) -> Result<Vec<QueueHead>, StoreError> {
        self.db.call_lazy(sql::outbox::heads).await
    }

    /// Records the successful deliveries `delivered` (removes them from their queue), then
    /// returns the first `limit` deliveries of queue `sub_key`, head first. One round trip per
    /// batch: the worker acknowledges a batch while fetching the next. Not synced to disk (a lost
    /// acknowledgement only repeats a delivery, which at-least-once allows).
    pub async fn advance(
        &self,
        sub_key: i64,
        delivered: Vec<i64>,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.db
            .call_lazy(move |conn| {
                if !delivered.is_empty() {
                    sql::outbox::acknowledge(conn, &delivered)?;
                    sql::subscriptions::delivered(conn, sub_key, crate::time::now_ms())?;
                }
                if limit == 0 {
                    return Ok(Vec::new());
                }
                sql::outbox::first(conn, sub_key, limit)
            })
            .await
    }

    /// Records a failed attempt; the delivery is due again at `next_attempt_ms`.
    pub async fn delivery_failed(
        &self,
        delivery_id: i64,
        next_attempt_ms: i64,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.db
            .call(move |conn, _| sql::outbox::failed(conn, delivery_id, next_attempt_ms, now_ms))
            .await
    }

    /// Removes a subscriber for `reason` (410 Gone or failure budget spent): its subscription
    /// and its queue; like [`Store::unsubscribe`], the last one of a node of another service
    /// unfollows it.
    pub async fn drop_subscriber(
        &self,
        sub_key: i64,
        reason: DropReason,
    ) -> Result<(), StoreError> {
        self.change(move |conn, filled, nodes| {
            let now = crate::time::now_ms();
            match sql::subscriptions::remove_by_key(conn, sub_key, reason, now)? {
                Some(node) => unfollow_if_unused(conn, filled, nodes, &node),
                None => Ok(()),
            }
        })
        .await
    }

    /// The number of pending deliveries.
    pub async fn outbox_len(&self) -> Result<u64, StoreError> {
        self.db.call_lazy(sql::outbox::len).await
    }

    /// Whether nodes of other pubsub services can be subscribed to and read (remote
    /// subscriptions, XMPP mode); their storage key is [`crate::uri::storage_key`].
    pub fn remote_nodes(&self) -> bool {
        self.nodes.remote_nodes()
    }

    /// The state of the XMPP side, in XMPP mode (`None` in embedded mode).
    pub async fn xmpp_status(&self) -> Result<Option<XmppStatus>, StoreError> {
        self.nodes.status().await
    }
}

/// Inserts a new instant node and tells the nodes.
fn create_instant(
    conn: &Connection,
    filled: &mut Filled,
    nodes: &dyn Nodes,
    owner: Option<&str>,
    now_ms: i64,
) -> Result<String, StoreError> {
    let node = sql::nodes::create_instant(conn, owner, now_ms)?;
    nodes.apply(conn, filled, NodeChange::Create { node: &node }, now_ms)?;
    Ok(node)
}

/// Stops following a node of another service once nobody here subscribes to it: forgets it
/// and its cached items, and tells the nodes.
fn unfollow_if_unused(
    conn: &Connection,
    filled: &mut Filled,
    nodes: &dyn Nodes,
    node: &str,
) -> Result<(), StoreError> {
    if !is_remote_key(node) || sql::subscriptions::any(conn, node)? {
        return Ok(());
    }
    if sql::nodes::forget(conn, node)? {
        let now = crate::time::now_ms();
        nodes.apply(conn, filled, NodeChange::Unfollow { node }, now)?;
    }
    Ok(())
}
