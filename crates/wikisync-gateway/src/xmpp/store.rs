//! [`XmppStore`]: the [`Store`] of the XMPP mode, its durable XMPP outbox and event intake.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{Notify, mpsc};
use tokio_xmpp::Stanza;
use tokio_xmpp::minidom::Element;

use super::conn::{Connection as XmppConnection, IqError};
use super::stanza::{self, NodeConfig, PubsubEvent, PubsubRequest};
use super::{XmppConfig, XmppStatus};
use crate::store::{
    BoxFuture, Delivery, EventKind, Item, PublishRequest, QueueHead, SqliteStore, Store,
    StoreError, SubscribeRequest, XmppJob,
};
use crate::uri::{NodeUri, is_remote_key};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS xmpp_ops (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    node TEXT NOT NULL,
    item_id TEXT,
    payload TEXT,
    redirect TEXT,
    created_ms INTEGER NOT NULL
);
";

/// Operations sent to the pubsub service per pipelined batch.
const BATCH: u32 = 64;

/// Counters of the XMPP side.
#[derive(Debug, Default)]
pub struct XmppMetrics {
    /// Operations the service accepted.
    pub sent: AtomicU64,
    /// Operations the service refused (dropped, logged).
    pub refused: AtomicU64,
    /// Pubsub events received and applied.
    pub events: AtomicU64,
}

/// One queued operation.
#[derive(Clone, Debug)]
struct Op {
    id: i64,
    kind: String,
    node: String,
    item_id: Option<String>,
    payload: Option<String>,
    redirect: Option<String>,
}

/// The store of the XMPP mode: nodes and items live on the pubsub service; this store keeps
/// subscriptions, the delivery outbox, a cache of the items (filled from pubsub events) and
/// the durable outbox of operations for the service.
#[derive(Clone)]
pub struct XmppStore {
    inner: Arc<Shared>,
}

struct Shared {
    sqlite: SqliteStore,
    conn: XmppConnection,
    service: String,
    node_config: NodeConfig,
    wake: Arc<Notify>,
    metrics: XmppMetrics,
    /// Followed nodes of other services that could not be brought up to date (their server
    /// unreachable): retried in the background, so they never hold up this service's nodes.
    unreachable: std::sync::Mutex<std::collections::BTreeSet<String>>,
    /// How often the unreachable ones are tried again (the keepalive interval).
    retry_every: Duration,
}

impl std::fmt::Debug for XmppStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XmppStore")
            .field("service", &self.inner.service)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    crate::delivery::now_ms()
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last store handle is gone (the gateway stopped): end the XMPP session, so the
        // component's JID is free for the next start.
        self.conn.close();
    }
}

impl Shared {
    /// The service and node id behind a storage key (a node of another service is stored
    /// under its URI: a remote subscription).
    fn target(&self, key: &str) -> NodeUri {
        crate::uri::from_storage_key(&self.service, key)
    }

    /// Sends a request about the node stored under `key` to the node's own service.
    async fn iq_for(
        &self,
        key: &str,
        request: impl FnOnce(String) -> PubsubRequest,
    ) -> Result<Option<Element>, IqError> {
        let target = self.target(key);
        self.conn
            .iq(target.service(), &request(target.node().to_owned()))
            .await
    }
}

impl XmppStore {
    /// Creates the XMPP tables in `sqlite`'s database, connects the component and starts the
    /// outbox worker and the event intake. `service` is the pubsub service JID.
    pub async fn start(
        sqlite: SqliteStore,
        config: &XmppConfig,
        service: &str,
    ) -> Result<Self, StoreError> {
        sqlite
            .xmpp_job(true, |conn, _| Ok(conn.execute_batch(SCHEMA)?))
            .await?;
        let (conn, events) = XmppConnection::spawn(config.connection());
        let max_items = sqlite.limits().max_items_per_node;
        let store = Self {
            inner: Arc::new(Shared {
                sqlite,
                conn,
                service: service.to_owned(),
                node_config: NodeConfig { max_items },
                wake: Arc::new(Notify::new()),
                metrics: XmppMetrics::default(),
                unreachable: std::sync::Mutex::default(),
                retry_every: config.ping_interval,
            }),
        };
        tokio::spawn(intake(Arc::downgrade(&store.inner), events));
        tokio::spawn(worker(Arc::downgrade(&store.inner)));
        tokio::spawn(refollow(Arc::downgrade(&store.inner)));
        Ok(store)
    }

    /// The XMPP counters.
    pub fn metrics(&self) -> &XmppMetrics {
        &self.inner.metrics
    }

    /// Whether the component is connected.
    pub fn is_online(&self) -> bool {
        self.inner.conn.online().borrow().is_some()
    }

    /// The number of operations waiting for the XMPP service.
    pub async fn pending_ops(&self) -> Result<u64, StoreError> {
        self.inner
            .sqlite
            .xmpp_job(false, |conn, _| {
                Ok(conn.query_row("SELECT COUNT(*) FROM xmpp_ops", [], |r| r.get(0))?)
            })
            .await
    }

    /// Runs `f` as a durable job of the store and, once it is committed, wakes the outbox
    /// worker: every change that may have queued an operation for the service goes through
    /// here.
    async fn queue_job<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut XmppJob<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let result = self.inner.sqlite.xmpp_job(true, f).await?;
        self.inner.wake.notify_one();
        Ok(result)
    }

    /// Whether a node of another service exists: asks that service (through the XMPP
    /// server, so across federation too). Not recorded: [`Store::subscribe`] does that.
    async fn probe_remote(&self, key: &str) -> Result<bool, StoreError> {
        let result = self
            .inner
            .iq_for(key, |node| PubsubRequest::Items { node, max: 1 })
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(IqError::Refused(r)) if r.condition == "item-not-found" => Ok(false),
            Err(IqError::Refused(r)) if !r.is_transient() => {
                Err(StoreError::RemoteRefused(r.to_string()))
            }
            Err(e) => Err(StoreError::RemoteUnavailable(e.to_string())),
        }
    }

    /// Adopts a node that exists on the service but not here (created by an XMPP client or
    /// another gateway): records it and queues its configuration and subscription.
    async fn adopt(&self, node: &str) -> Result<bool, StoreError> {
        let shared = &self.inner;
        if is_remote_key(node) || shared.conn.online().borrow().is_none() {
            return Ok(false);
        }
        let probe = PubsubRequest::Items {
            node: node.to_owned(),
            max: 1,
        };
        match shared.conn.iq(&shared.service, &probe).await {
            Ok(_) => {}
            Err(IqError::Refused(r)) => {
                tracing::debug!(node, refusal = %r, "node not adoptable");
                return Ok(false);
            }
            Err(_) => return Ok(false),
        }
        let node = node.to_owned();
        let now = now_ms();
        self.queue_job(move |conn, _| {
            conn.execute(
                "INSERT OR IGNORE INTO nodes (id, owner, created_ms) VALUES (?1, NULL, ?2)",
                params![node, now],
            )?;
            queue(conn, "ensure", &node, None, None, None, now)
        })
        .await?;
        Ok(true)
    }
}

fn queue(
    conn: &Connection,
    kind: &str,
    node: &str,
    item_id: Option<&str>,
    payload: Option<&str>,
    redirect: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO xmpp_ops (kind, node, item_id, payload, redirect, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![kind, node, item_id, payload, redirect, now])?;
    Ok(())
}

/// A new instant node, also queued for creation on the XMPP service.
fn new_node(conn: &Connection, owner: Option<&str>, now: i64) -> Result<String, StoreError> {
    let id = crate::store::new_node(conn, owner, now)?;
    queue(conn, "ensure", &id, None, None, None, now)?;
    Ok(id)
}

impl Store for XmppStore {
    fn create_node(
        &self,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<String, StoreError>> {
        Box::pin(self.queue_job(move |conn, _| new_node(conn, owner.as_deref(), now_ms)))
    }

    fn publish(&self, req: PublishRequest) -> BoxFuture<'_, Result<String, StoreError>> {
        Box::pin(async move {
            // Fail now, not in the worker, if the service could not take the payload.
            stanza::from_text(&req.payload)
                .map_err(|e| StoreError::Database(format!("entry not usable as XML: {e}")))?;
            let attempt = |req: PublishRequest| {
                self.inner.sqlite.xmpp_job(true, move |conn, _| {
                    let node = match &req.node {
                        Some(node) => {
                            crate::store::check_owner(conn, node, req.owner.as_deref())?;
                            node.clone()
                        }
                        None => new_node(conn, req.owner.as_deref(), req.now_ms)?,
                    };
                    queue(
                        conn,
                        "publish",
                        &node,
                        Some(&req.item_id),
                        Some(&req.payload),
                        None,
                        req.now_ms,
                    )?;
                    Ok(node)
                })
            };
            let result = match attempt(req.clone()).await {
                Err(StoreError::NodeNotFound(node)) if self.adopt(&node).await? => {
                    attempt(req).await
                }
                other => other,
            };
            if result.is_ok() {
                self.inner.wake.notify_one();
            }
            result
        })
    }

    fn retract(
        &self,
        node: String,
        item_id: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.queue_job(move |conn, _| {
                    crate::store::check_owner(conn, &node, owner.as_deref())?;
                    let known: bool = conn
                        .prepare_cached(
                            "SELECT EXISTS (SELECT 1 FROM items WHERE node = ?1 AND item_id = ?2)
                             OR EXISTS (SELECT 1 FROM xmpp_ops WHERE kind = 'publish' AND node = ?1 AND item_id = ?2)",
                        )?
                        .query_row(params![node, item_id], |r| r.get(0))?;
                    if !known {
                        return Err(StoreError::ItemNotFound(item_id));
                    }
                    queue(conn, "retract", &node, Some(&item_id), None, None, now_ms)
        }))
    }

    fn delete_node(
        &self,
        node: String,
        redirect: Option<String>,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.queue_job(move |conn, _| {
            crate::store::check_owner(conn, &node, owner.as_deref())?;
            queue(
                conn,
                "delete",
                &node,
                None,
                None,
                redirect.as_deref(),
                now_ms,
            )
        }))
    }

    fn list_nodes(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        Box::pin(async move {
            let mut nodes = self.inner.sqlite.list_nodes().await?;
            // Followed nodes of other services are not nodes of this service.
            nodes.retain(|n| !is_remote_key(n));
            Ok(nodes)
        })
    }

    fn node_exists(&self, node: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            if self.inner.sqlite.node_exists(node.clone()).await? {
                return Ok(true);
            }
            if is_remote_key(&node) {
                return self.probe_remote(&node).await;
            }
            self.adopt(&node).await
        })
    }

    fn items(&self, node: &str, max: u32) -> BoxFuture<'_, Result<Vec<Item>, StoreError>> {
        let node = node.to_owned();
        Box::pin(async move {
            if !is_remote_key(&node) || self.inner.sqlite.node_exists(node.clone()).await? {
                return self.inner.sqlite.items(&node, max).await;
            }
            // A node of another service that nobody here follows: read it from its service.
            let result = self
                .inner
                .iq_for(&node, |n| PubsubRequest::Items { node: n, max })
                .await;
            match result {
                Ok(answer) => Ok(answer
                    .map(|a| stanza::parse_items(&a))
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|(id, payload)| {
                        Some(Item {
                            id,
                            payload: stanza::to_text(&payload).ok()?,
                        })
                    })
                    .collect()),
                Err(IqError::Refused(r)) if r.condition == "item-not-found" => {
                    Err(StoreError::NodeNotFound(node))
                }
                Err(IqError::Refused(r)) if !r.is_transient() => {
                    Err(StoreError::RemoteRefused(r.to_string()))
                }
                Err(e) => Err(StoreError::RemoteUnavailable(e.to_string())),
            }
        })
    }

    fn is_subscribed(
        &self,
        node: String,
        callback: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.inner.sqlite.is_subscribed(node, callback)
    }

    fn subscribe(&self, req: SubscribeRequest) -> BoxFuture<'_, Result<(), StoreError>> {
        if !is_remote_key(&req.node) {
            return self.inner.sqlite.subscribe(req);
        }
        // The first subscription to a node of another service makes the gateway follow it
        // (subscribe its JID, fetch the items), in the same transaction.
        let max = self.inner.sqlite.limits().max_subscriptions_per_node;
        Box::pin(self.queue_job(move |conn, job| {
            let now = req.now_ms;
            let inserted = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO nodes (id, owner, created_ms) VALUES (?1, NULL, ?2)",
                )?
                .execute(params![req.node, now])?;
            if inserted > 0 {
                queue(conn, "follow", &req.node, None, None, None, now)?;
            }
            job.subscribe(conn, &req, max)
        }))
    }

    fn websub_subscribe(&self, req: SubscribeRequest) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner.sqlite.websub_subscribe(req)
    }

    fn republish(
        &self,
        node: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.inner.sqlite.republish(node, owner, now_ms)
    }

    fn expire_leases(&self, now_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.sqlite.expire_leases(now_ms)
    }

    fn unsubscribe(&self, node: String, callback: String) -> BoxFuture<'_, Result<(), StoreError>> {
        if !is_remote_key(&node) {
            return self.inner.sqlite.unsubscribe(node, callback);
        }
        // After the last subscription to a node of another service, the gateway stops
        // following it (as Idavoll unsubscribed only after the last callback).
        Box::pin(self.queue_job(move |conn, job| {
            job.unsubscribe(conn, &node, &callback)?;
            unfollow_if_unused(conn, &node, now_ms())
        }))
    }

    fn queue_heads(&self) -> BoxFuture<'_, Result<Vec<QueueHead>, StoreError>> {
        self.inner.sqlite.queue_heads()
    }

    fn advance(
        &self,
        sub_key: i64,
        delivered: Vec<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>> {
        self.inner.sqlite.advance(sub_key, delivered, limit)
    }

    fn delivery_failed(
        &self,
        delivery_id: i64,
        next_attempt_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.inner
            .sqlite
            .delivery_failed(delivery_id, next_attempt_ms, now_ms)
    }

    fn drop_subscriber(&self, sub_key: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        // The delivery worker gave up on a subscriber (410 Gone, failure budget): if it was the
        // last one of a node of another service, stop following that node too.
        Box::pin(self.queue_job(move |conn, job| {
            let node: Option<String> = conn
                .prepare_cached("SELECT node FROM subscriptions WHERE id = ?1")?
                .query_row([sub_key], |r| r.get(0))
                .optional()?;
            job.drop_subscriber(conn, sub_key)?;
            match node {
                Some(node) if is_remote_key(&node) => unfollow_if_unused(conn, &node, now_ms()),
                _ => Ok(()),
            }
        }))
    }

    fn outbox_len(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.inner.sqlite.outbox_len()
    }

    fn remote_nodes(&self) -> bool {
        true
    }

    fn xmpp_status(&self) -> BoxFuture<'_, Result<Option<XmppStatus>, StoreError>> {
        Box::pin(async move {
            let (pending_ops, remote_nodes) = self
                .inner
                .sqlite
                .xmpp_job(false, |conn, _| {
                    let pending: u64 =
                        conn.query_row("SELECT COUNT(*) FROM xmpp_ops", [], |r| r.get(0))?;
                    let remote: u64 = conn.query_row(
                        "SELECT COUNT(*) FROM nodes WHERE substr(id, 1, 5) = 'xmpp:'",
                        [],
                        |r| r.get(0),
                    )?;
                    Ok((pending, remote))
                })
                .await?;
            let m = &self.inner.metrics;
            Ok(Some(XmppStatus {
                connected: self.is_online(),
                sessions: self.inner.conn.sessions(),
                pending_ops,
                ops_sent: m.sent.load(Ordering::Relaxed),
                ops_refused: m.refused.load(Ordering::Relaxed),
                events: m.events.load(Ordering::Relaxed),
                remote_nodes,
                remote_unreachable: lock_set(&self.inner.unreachable).len() as u64,
            }))
        })
    }
}

/// Stops following a node of another service once nobody here subscribes to it: forgets it
/// and queues the XMPP unsubscription.
fn unfollow_if_unused(conn: &Connection, node: &str, now: i64) -> Result<(), StoreError> {
    let used: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM subscriptions WHERE node = ?1)")?
        .query_row([node], |r| r.get(0))?;
    if used {
        return Ok(());
    }
    conn.prepare_cached("DELETE FROM items WHERE node = ?1")?
        .execute([node])?;
    let forgotten = conn
        .prepare_cached("DELETE FROM nodes WHERE id = ?1")?
        .execute([node])?;
    if forgotten > 0 {
        queue(conn, "unfollow", node, None, None, None, now)?;
    }
    Ok(())
}

// ---- the outbox worker: HTTP -> XMPP ----

/// What became of one operation.
enum Outcome {
    /// Done (or definitely refused, which was logged): remove it.
    Finished,
    /// Not done now (disconnected, timeout, transient refusal): keep it and retry later.
    Retry,
}

async fn worker(shared: std::sync::Weak<Shared>) {
    let mut synced_epoch = None;
    let mut pause = Duration::from_millis(100);
    loop {
        let Some(s) = shared.upgrade() else { return };
        let conn = s.conn.clone();
        drop(s);
        let epoch = conn.wait_online().await;
        let Some(s) = shared.upgrade() else { return };
        if synced_epoch != Some(epoch) {
            match resync(&s).await {
                Ok(()) => synced_epoch = Some(epoch),
                Err(e) => {
                    tracing::warn!(error = %e, "resynchronisation with the pubsub service failed; retrying");
                    drop(s);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
        }
        let ops = match s
            .sqlite
            .xmpp_job(false, |conn, _| pending(conn, BATCH))
            .await
        {
            Ok(ops) => ops,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the XMPP outbox");
                drop(s);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if ops.is_empty() {
            let wake = s.wake.clone();
            let mut online = conn.online();
            drop(s);
            tokio::select! {
                () = wake.notified() => {}
                _ = online.changed() => {}
                () = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            continue;
        }
        let outcomes: Vec<Outcome> =
            futures_util::future::join_all(ops.iter().map(|op| perform(&s, op))).await;
        let done = finished_in_order(&ops, &outcomes);
        let retry = done.len() < ops.len();
        if !done.is_empty() {
            let result = s
                .sqlite
                .xmpp_job(false, move |conn, _| {
                    let mut stmt = conn.prepare_cached("DELETE FROM xmpp_ops WHERE id = ?1")?;
                    for id in done {
                        stmt.execute([id])?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "cannot acknowledge XMPP operations");
            }
        }
        drop(s);
        if retry {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
        } else {
            pause = Duration::from_millis(100);
        }
    }
}

/// The operations of a batch that can leave the outbox: the finished ones, except those that
/// follow, on the same node, an operation that must be retried. Those are sent again after
/// it, so the service applies a node's operations in the order they were accepted (a publish
/// retried after a later one would otherwise put the older entry back).
fn finished_in_order(ops: &[Op], outcomes: &[Outcome]) -> Vec<i64> {
    let mut held: Vec<&str> = Vec::new();
    let mut done = Vec::new();
    for (op, outcome) in ops.iter().zip(outcomes) {
        match outcome {
            Outcome::Finished if !held.contains(&op.node.as_str()) => done.push(op.id),
            _ => held.push(&op.node),
        }
    }
    done
}

fn pending(conn: &Connection, limit: u32) -> Result<Vec<Op>, StoreError> {
    let ops = conn
        .prepare_cached(
            "SELECT id, kind, node, item_id, payload, redirect FROM xmpp_ops ORDER BY id LIMIT ?1",
        )?
        .query_map([limit], |r| {
            Ok(Op {
                id: r.get(0)?,
                kind: r.get(1)?,
                node: r.get(2)?,
                item_id: r.get(3)?,
                payload: r.get(4)?,
                redirect: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(ops)
}

/// Sends one operation (an `ensure` is create-or-configure, then subscribe; a `follow` is
/// subscribe and fetch the items of a node of another service; an `unfollow`, unsubscribe).
async fn perform(s: &Shared, op: &Op) -> Outcome {
    let target = s.target(&op.node);
    let node = target.node().to_owned();
    let request = match op.kind.as_str() {
        "ensure" => return ensure(s, &op.node).await,
        "follow" => {
            return match follow(s, &op.node).await {
                Ok(()) => Outcome::Finished,
                Err(e) => {
                    tracing::debug!(node = %op.node, error = %e, "following the node will be retried");
                    Outcome::Retry
                }
            };
        }
        "unfollow" => PubsubRequest::Unsubscribe {
            node,
            jid: s.conn.jid().to_owned(),
        },
        "publish" => {
            let payload = match op.payload.as_deref().map(stanza::from_text) {
                Some(Ok(p)) => p,
                _ => {
                    tracing::error!(node = %op.node, "queued publish has no usable payload; dropped");
                    return Outcome::Finished;
                }
            };
            PubsubRequest::Publish {
                node,
                item: op.item_id.clone().unwrap_or_else(|| "current".to_owned()),
                payload,
            }
        }
        "retract" => PubsubRequest::Retract {
            node,
            item: op.item_id.clone().unwrap_or_default(),
        },
        "delete" => PubsubRequest::Delete {
            node,
            redirect: op.redirect.clone(),
        },
        other => {
            tracing::error!(kind = other, "unknown queued XMPP operation; dropped");
            return Outcome::Finished;
        }
    };
    let result = s.conn.iq(target.service(), &request).await;
    let confirmed = result.is_ok();
    let outcome = outcome(s, &op.node, &request, result);
    if confirmed {
        // Apply our own retraction or deletion at once: the service may not notify its
        // originator, and the event, if it comes, then finds nothing left to deliver.
        let event = match request {
            PubsubRequest::Retract { item, .. } => Some(PubsubEvent::Retracted {
                node: op.node.clone(),
                item,
            }),
            PubsubRequest::Delete { redirect, .. } => Some(PubsubEvent::Deleted {
                node: op.node.clone(),
                redirect,
            }),
            _ => None,
        };
        if let Some(event) = event {
            apply(s, vec![event]).await;
        }
    }
    outcome
}

fn outcome(
    s: &Shared,
    node: &str,
    request: &PubsubRequest,
    result: Result<Option<Element>, IqError>,
) -> Outcome {
    match result {
        Ok(_) => {
            s.metrics.sent.fetch_add(1, Ordering::Relaxed);
            Outcome::Finished
        }
        Err(IqError::Refused(r)) if !r.is_transient() => {
            s.metrics.refused.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                node,
                operation = request.kind(),
                service = %s.target(node).service(),
                condition = %r.condition,
                text = r.text.as_deref().unwrap_or(""),
                "the XMPP pubsub service refused the operation; it is dropped"
            );
            Outcome::Finished
        }
        Err(e) => {
            tracing::debug!(node, operation = request.kind(), error = %e, "XMPP operation will be retried");
            Outcome::Retry
        }
    }
}

/// Creates the node with the gateway's configuration, or (it exists) reconfigures it, then
/// subscribes the component. Idempotent.
async fn ensure(s: &Shared, node: &str) -> Outcome {
    let create = PubsubRequest::Create {
        node: node.to_owned(),
        config: s.node_config.clone(),
    };
    match s.conn.iq(&s.service, &create).await {
        Ok(_) => {}
        Err(IqError::Refused(r)) if r.condition == "conflict" => {
            let configure = PubsubRequest::Configure {
                node: node.to_owned(),
                config: s.node_config.clone(),
            };
            match s.conn.iq(&s.service, &configure).await {
                Ok(_) => {}
                Err(IqError::Refused(r)) if !r.is_transient() => {
                    tracing::error!(
                        node,
                        service = %s.service,
                        condition = %r.condition,
                        text = r.text.as_deref().unwrap_or(""),
                        "the XMPP pubsub service refused the node configuration (persist items, max items, notify retract/delete, send last item); the node works but may not behave as wikisync expects"
                    );
                }
                Err(_) => return Outcome::Retry,
            }
        }
        Err(IqError::Refused(r)) if !r.is_transient() => {
            s.metrics.refused.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                node,
                service = %s.service,
                condition = %r.condition,
                text = r.text.as_deref().unwrap_or(""),
                "the XMPP pubsub service refused to create the node; allow the component to create nodes (Prosody: list its JID in `admins`; ejabberd: `access_createnode`)"
            );
            return Outcome::Finished;
        }
        Err(_) => return Outcome::Retry,
    }
    let subscribe = PubsubRequest::Subscribe {
        node: node.to_owned(),
        jid: s.conn.jid().to_owned(),
    };
    let result = s.conn.iq(&s.service, &subscribe).await;
    outcome(s, node, &subscribe, result)
}

/// After a (re)connection: stop following nodes of other services nobody here subscribes to
/// any more, resubscribe to every other known node and deliver what changed meanwhile.
async fn resync(s: &Shared) -> Result<(), IqError> {
    s.sqlite
        .xmpp_job(true, |conn, _| {
            let unused: Vec<String> = conn
                .prepare_cached(
                    "SELECT id FROM nodes WHERE substr(id, 1, 5) = 'xmpp:'
                     AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE node = nodes.id)",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for node in unused {
                unfollow_if_unused(conn, &node, now_ms())?;
            }
            Ok(())
        })
        .await
        .map_err(|e| IqError::Build(e.to_string()))?;
    let nodes = s
        .sqlite
        .list_nodes()
        .await
        .map_err(|e| IqError::Build(e.to_string()))?;
    let queued: Vec<String> = s
        .sqlite
        .xmpp_job(false, |conn, _| {
            let v = conn
                .prepare_cached(
                    "SELECT DISTINCT node FROM xmpp_ops WHERE kind IN ('ensure', 'follow')",
                )?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
        .await
        .map_err(|e| IqError::Build(e.to_string()))?;
    for node in nodes.into_iter().filter(|n| !queued.contains(n)) {
        if is_remote_key(&node) {
            follow(s, &node).await?;
        } else {
            sync_node(s, &node).await?;
        }
    }
    Ok(())
}

/// Brings a followed node of another service up to date. When that service cannot be
/// reached (its server down, federation broken) while this gateway's own connection is fine,
/// the node is set aside and retried in the background ([`refollow`]) instead of holding up
/// the outbox or the resynchronisation of this service's nodes; only a lost connection is an
/// error.
async fn follow(s: &Shared, key: &str) -> Result<(), IqError> {
    let result = sync_node(s, key).await;
    let mut unreachable = lock_set(&s.unreachable);
    match result {
        Ok(()) => {
            unreachable.remove(key);
            Ok(())
        }
        Err(e @ (IqError::NotConnected | IqError::Disconnected)) => Err(e),
        Err(e) => {
            if unreachable.insert(key.to_owned()) {
                tracing::warn!(node = key, error = %e, "the node's pubsub service cannot be reached; retrying in the background");
            }
            Ok(())
        }
    }
}

fn lock_set<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Tries the unreachable followed nodes again, every `retry_every`, while connected.
async fn refollow(shared: std::sync::Weak<Shared>) {
    loop {
        let Some(s) = shared.upgrade() else { return };
        let every = s.retry_every;
        drop(s);
        tokio::time::sleep(every).await;
        let Some(s) = shared.upgrade() else { return };
        if s.conn.online().borrow().is_none() {
            continue;
        }
        let waiting: Vec<String> = lock_set(&s.unreachable).iter().cloned().collect();
        for key in waiting {
            match is_known(&s, &key).await {
                Ok(true) => {
                    if follow(&s, &key).await.is_err() {
                        break;
                    }
                }
                _ => {
                    lock_set(&s.unreachable).remove(&key);
                }
            }
        }
    }
}

/// Brings one node up to date with its service: subscribes the component (again) and applies
/// what changed while the gateway was not listening: items published (delivered unless
/// identical to the cached ones), items retracted (delivered as retractions), or the node
/// deleted. Only transient failures are errors (the caller retries).
async fn sync_node(s: &Shared, key: &str) -> Result<(), IqError> {
    let max = s.node_config.max_items;
    let found = match s
        .iq_for(key, |node| PubsubRequest::Items { node, max })
        .await
    {
        Ok(result) => result.map(|r| stanza::parse_items(&r)).unwrap_or_default(),
        Err(IqError::Refused(r)) if r.condition == "item-not-found" => {
            let deleted = PubsubEvent::Deleted {
                node: key.to_owned(),
                redirect: None,
            };
            apply(s, vec![deleted]).await;
            return Ok(());
        }
        Err(IqError::Refused(r)) if !r.is_transient() => {
            tracing::warn!(node = key, condition = %r.condition, "cannot read the node's items");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if is_remote_key(key) && !is_known(s, key).await? {
        // Unfollowed meanwhile (its unsubscription is queued after this): stay unsubscribed.
        return Ok(());
    }
    let result = s
        .iq_for(key, |node| PubsubRequest::Subscribe {
            node,
            jid: s.conn.jid().to_owned(),
        })
        .await;
    match result {
        Ok(_) => {}
        Err(IqError::Refused(r)) if !r.is_transient() => {
            tracing::error!(node = key, condition = %r.condition, "the pubsub service refused the gateway's subscription; events of this node will not reach HTTP subscribers");
        }
        Err(e) => return Err(e),
    }
    let gone = retracted_meanwhile(s, key, &found, max).await?;
    // Oldest first, so the newest ends up newest in the cache too.
    let mut events: Vec<PubsubEvent> = found
        .into_iter()
        .rev()
        .map(|(id, payload)| PubsubEvent::Published {
            node: key.to_owned(),
            item: Some(id),
            payload: Some(payload),
        })
        .collect();
    events.extend(gone.into_iter().map(|item| PubsubEvent::Retracted {
        node: key.to_owned(),
        item,
    }));
    apply(s, events).await;
    Ok(())
}

async fn is_known(s: &Shared, key: &str) -> Result<bool, IqError> {
    s.sqlite
        .node_exists(key.to_owned())
        .await
        .map_err(|e| IqError::Build(e.to_string()))
}

/// The cached items of a node that its service no longer has: retracted (or purged) while
/// the gateway was not listening. When the answer may have been cut at `max` items, the
/// missing ones are asked for by id, so an item is never taken for retracted only because
/// the service sent the newest `max`.
async fn retracted_meanwhile(
    s: &Shared,
    key: &str,
    found: &[(String, Element)],
    max: u32,
) -> Result<Vec<String>, IqError> {
    let node = key.to_owned();
    let cached: Vec<String> = s
        .sqlite
        .xmpp_job(false, move |conn, _| {
            let v = conn
                .prepare_cached("SELECT item_id FROM items WHERE node = ?1 ORDER BY seq")?
                .query_map([&node], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(v)
        })
        .await
        .map_err(|e| IqError::Build(e.to_string()))?;
    let missing: Vec<String> = cached
        .into_iter()
        .filter(|id| !found.iter().any(|(f, _)| f == id))
        .collect();
    if missing.is_empty() || found.len() < max as usize {
        return Ok(missing);
    }
    let ids = missing.clone();
    match s
        .iq_for(key, |node| PubsubRequest::ItemsById { node, ids })
        .await
    {
        Ok(answer) => {
            let still: Vec<String> = answer
                .map(|a| stanza::parse_items(&a))
                .unwrap_or_default()
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            Ok(missing
                .into_iter()
                .filter(|id| !still.contains(id))
                .collect())
        }
        Err(IqError::Refused(r)) if r.condition == "item-not-found" => Ok(missing),
        Err(IqError::Refused(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

// ---- the event intake: XMPP -> HTTP ----

async fn intake(shared: std::sync::Weak<Shared>, mut events: mpsc::UnboundedReceiver<Stanza>) {
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
async fn apply(s: &Shared, events: Vec<PubsubEvent>) {
    let count = events.len() as u64;
    let max = i64::from(s.node_config.max_items);
    let result = s
        .sqlite
        .xmpp_job(true, move |conn, job| {
            for event in events {
                apply_one(conn, job, event, max, now_ms())?;
            }
            Ok(())
        })
        .await;
    match result {
        Ok(()) => {
            s.metrics.events.fetch_add(count, Ordering::Relaxed);
        }
        Err(e) => tracing::error!(error = %e, "cannot record pubsub events"),
    }
}

fn apply_one(
    conn: &Connection,
    job: &mut XmppJob<'_>,
    event: PubsubEvent,
    max_items: i64,
    now: i64,
) -> Result<(), StoreError> {
    // A node of this service that the gateway did not know is adopted (created by an XMPP
    // client); a node of another service counts only while followed.
    let ensure_node = |node: &str| -> Result<bool, StoreError> {
        if is_remote_key(node) {
            return Ok(conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM nodes WHERE id = ?1)")?
                .query_row([node], |r| r.get(0))?);
        }
        conn.prepare_cached(
            "INSERT OR IGNORE INTO nodes (id, owner, created_ms) VALUES (?1, NULL, ?2)",
        )?
        .execute(params![node, now])?;
        Ok(true)
    };
    match event {
        PubsubEvent::Published {
            node,
            item,
            payload,
        } => {
            let Some(payload) = payload else {
                return Ok(());
            };
            let text = stanza::to_text(&payload).map_err(StoreError::Database)?;
            let item = item.unwrap_or_else(|| "current".to_owned());
            if !ensure_node(&node)? {
                return Ok(());
            }
            let cached: Option<String> = conn
                .prepare_cached("SELECT payload FROM items WHERE node = ?1 AND item_id = ?2")?
                .query_row(params![node, item], |r| r.get(0))
                .optional()?;
            if cached.as_deref() == Some(text.as_str()) {
                return Ok(());
            }
            let seq: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM items WHERE node = ?1")?
                .query_row([&node], |r| r.get(0))?;
            conn.prepare_cached(
                "INSERT INTO items (node, item_id, seq, payload, published_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (node, item_id) DO UPDATE SET seq = excluded.seq, payload = excluded.payload,
                 published_ms = excluded.published_ms",
            )?
            .execute(params![node, item, seq, text, now])?;
            if seq > max_items {
                conn.prepare_cached("DELETE FROM items WHERE node = ?1 AND seq <= ?2")?
                    .execute(params![node, seq - max_items])?;
            }
            job.fan_out(conn, &node, EventKind::Item, Some(&item), &text, None, now)
        }
        PubsubEvent::Retracted { node, item } => {
            // Only what the cache held: the gateway applies its own retractions as soon as the
            // service confirms them, and the echo of the event must not be delivered twice.
            let removed = conn
                .prepare_cached("DELETE FROM items WHERE node = ?1 AND item_id = ?2")?
                .execute(params![node, item])?;
            if removed == 0 {
                return Ok(());
            }
            let tombstone = crate::atom::deleted_entry(&item, &crate::atom::rfc3339(now));
            job.fan_out(
                conn,
                &node,
                EventKind::Retracted,
                Some(&item),
                &tombstone,
                None,
                now,
            )
        }
        PubsubEvent::Purged { node } => {
            let items: Vec<String> = conn
                .prepare_cached("SELECT item_id FROM items WHERE node = ?1 ORDER BY seq")?
                .query_map([&node], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for item in items {
                apply_one(
                    conn,
                    job,
                    PubsubEvent::Retracted {
                        node: node.clone(),
                        item,
                    },
                    max_items,
                    now,
                )?;
            }
            Ok(())
        }
        PubsubEvent::Deleted { node, redirect } => {
            let known: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM nodes WHERE id = ?1)")?
                .query_row([&node], |r| r.get(0))?;
            if !known {
                return Ok(());
            }
            // The service may leave out the redirect (Prosody 0.12 does); when the deletion is
            // ours, the queued operation still holds it (it is removed only after the answer,
            // and the event comes first).
            let redirect = match redirect {
                Some(r) => Some(r),
                None => conn
                    .prepare_cached(
                        "SELECT redirect FROM xmpp_ops WHERE kind = 'delete' AND node = ?1
                         AND redirect IS NOT NULL ORDER BY id LIMIT 1",
                    )?
                    .query_row([&node], |r| r.get(0))
                    .optional()?,
            };
            job.fan_out(
                conn,
                &node,
                EventKind::Deleted,
                None,
                "",
                redirect.as_deref(),
                now,
            )?;
            crate::store::forget_node(conn, &node)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(id: i64, node: &str) -> Op {
        Op {
            id,
            kind: "publish".into(),
            node: node.into(),
            item_id: Some("urn:x".into()),
            payload: None,
            redirect: None,
        }
    }

    #[test]
    fn operations_after_a_retried_one_on_its_node_stay_queued() {
        let ops = [op(1, "a"), op(2, "b"), op(3, "a"), op(4, "b"), op(5, "c")];
        let outcomes = [
            Outcome::Retry,
            Outcome::Finished,
            Outcome::Finished,
            Outcome::Finished,
            Outcome::Finished,
        ];
        assert_eq!(finished_in_order(&ops, &outcomes), [2, 4, 5]);
        let all = [Outcome::Finished, Outcome::Finished];
        assert_eq!(finished_in_order(&ops[..2], &all), [1, 2]);
    }
}
