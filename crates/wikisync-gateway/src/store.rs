//! Storage: the [`Store`] trait and its SQLite implementation, [`SqliteStore`].
//!
//! The store keeps nodes, items, subscriptions and the delivery outbox. Every operation that
//! changes what subscribers must receive writes the matching outbox rows **in the same
//! transaction**, so an acknowledged publish can never lose its deliveries, even to `kill -9`.
//!
//! # Schema
//!
//! - `nodes(id, owner, created_ms)`: `owner` identifies the publisher token that created the node
//!   (a hash, never the token), `NULL` when publishing is open.
//! - `items(node, item_id, seq, payload, published_ms)`: the latest payload per item id; `seq`
//!   orders items (newest = highest); at most `max_items_per_node` per node, oldest dropped.
//! - `subscriptions(id, node, callback, secret, created_ms, topic, expires_ms)`: `node = ''` is the
//!   root collection (every node). `id` is never reused (AUTOINCREMENT) and names the subscriber's
//!   delivery queue. `topic` is `NULL` for Idavoll-style subscriptions (`POST /subscribe`) and the
//!   topic URL as the subscriber gave it for WebSub ones (`POST /hub`), which also carry a lease
//!   end `expires_ms` (an expired subscription receives nothing and is swept away).
//! - `events(id, node, kind, item_id, payload, redirect, created_ms)`: one row per thing to tell
//!   subscribers (`item`, `retracted`, `deleted`), shared by all its deliveries.
//! - `outbox(id, sub_key, event_id, callback, secret, attempts, next_attempt_ms,
//!   first_failure_ms, topic)`: one row per (subscriber, event); a subscriber's queue is its rows
//!   in `id` order. The callback, secret and topic are copied so a node deletion can still be
//!   delivered after its subscriptions are gone. An event row is removed with its last delivery.
//!
//! Schema version 2 (`PRAGMA user_version`) added the `topic` and `expires_ms` columns; a version
//! 1 database is migrated on open.
//!
//! # Threading, group commit and the pipelined fsync
//!
//! rusqlite is blocking, so [`SqliteStore`] owns one connection on a dedicated thread and takes
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
//! use wikisync_gateway::store::{PublishRequest, SqliteStore, Store, StoreLimits};
//!
//! let dir = tempfile::tempdir().expect("temp dir");
//! let store = SqliteStore::open(&dir.path().join("g.sqlite3"), StoreLimits::default(), None)
//!     .expect("open");
//! let node = store.create_node(None, 0).await.expect("created");
//! let entry = r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id></entry>"#;
//! store
//!     .publish(PublishRequest { node: Some(node.clone()), item_id: "urn:x".into(),
//!         payload: entry.into(), owner: None, now_ms: 1 })
//!     .await
//!     .expect("published");
//! assert_eq!(store.items(&node, 10).await.expect("items")[0].payload, entry);
//! # }
//! ```

use std::collections::HashSet;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{Notify, oneshot};

/// A boxed future, so [`Store`] can be used as `dyn Store`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a store operation failed.
///
/// One enum for the whole store: each variant says which operations return it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The node does not exist (publish, retract, delete, items, subscribe, unsubscribe).
    #[error("node '{0}' not found")]
    NodeNotFound(String),
    /// The item does not exist in the node (retract).
    #[error("item '{0}' not found")]
    ItemNotFound(String),
    /// The node was created with another publisher token (publish, retract, delete).
    #[error("the node belongs to another publisher")]
    NotOwner,
    /// The callback is already subscribed to the node (subscribe).
    #[error("subscription already exists")]
    SubscriptionExists,
    /// The callback is not subscribed to the node (unsubscribe).
    #[error("no such subscription")]
    NoSubscription,
    /// The node already has the configured maximum of subscriptions (subscribe).
    #[error("subscription limit of {0} reached")]
    SubscriptionLimit(u32),
    /// The store thread has stopped (any operation during or after shutdown).
    #[error("the store is not running")]
    Unavailable,
    /// SQLite failed (any operation); the text is for the log, never for clients.
    #[error("database error: {0}")]
    Database(String),
    /// XMPP mode: the pubsub service of a remote node refused the request (node_exists, items
    /// of a node on another service); the text names the condition.
    #[error("the remote pubsub service refused: {0}")]
    RemoteRefused(String),
    /// XMPP mode: the pubsub service of a remote node could not be asked now (the gateway is
    /// not connected to its XMPP server, or no answer came in time); trying again may work.
    #[error("the remote pubsub service cannot be reached now: {0}")]
    RemoteUnavailable(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// Limits the store enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Items kept per node.
    pub max_items_per_node: u32,
    /// Subscriptions per node.
    pub max_subscriptions_per_node: u32,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_items_per_node: 256,
            max_subscriptions_per_node: 1000,
        }
    }
}

/// A publish: an Atom entry stored as item `item_id` of `node`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishRequest {
    /// The node; `None` creates a new instant node first (owned by `owner`).
    pub node: Option<String>,
    /// The item id (the entry's `atom:id`, an explicit id, or `current`).
    pub item_id: String,
    /// The Atom entry as received.
    pub payload: String,
    /// The publisher (token hash), or `None` when publishing is open.
    pub owner: Option<String>,
    /// Now, in Unix milliseconds.
    pub now_ms: i64,
}

/// The queues that got new deliveries, shared by the store (which marks them after each commit)
/// and the delivery worker (which takes them when notified).
#[derive(Debug, Default)]
pub struct QueueSignal {
    dirty: Mutex<HashSet<i64>>,
    notify: Notify,
}

impl QueueSignal {
    /// Marks queues as having new deliveries and wakes the waiter.
    pub fn mark(&self, queues: impl IntoIterator<Item = i64>) {
        lock(&self.dirty).extend(queues);
        self.notify.notify_one();
    }

    /// Takes the marked queues, leaving none marked.
    pub fn take(&self) -> HashSet<i64> {
        std::mem::take(&mut *lock(&self.dirty))
    }

    /// Resolves after the next [`QueueSignal::mark`] (or at once if one happened since the last
    /// wait: the wake-up is never lost).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned set only means a holder panicked mid-update; the set itself stays usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A subscription request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeRequest {
    /// The node, `""` for the root collection.
    pub node: String,
    /// The callback URL.
    pub callback: String,
    /// The HMAC secret for `X-Hub-Signature`, if any.
    pub secret: Option<String>,
    /// The WebSub topic URL as the subscriber gave it; `None` for an Idavoll-style subscription.
    pub topic: Option<String>,
    /// End of the WebSub lease, Unix ms; `None` = no lease.
    pub expires_ms: Option<i64>,
    /// Now, in Unix milliseconds.
    pub now_ms: i64,
}

/// A stored item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// The item id.
    pub id: String,
    /// The Atom entry.
    pub payload: String,
}

/// What a delivery tells the subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// An item was published: the body is the entry.
    Item,
    /// An item was retracted: `Event: RETRACTED`, the body is an `at:deleted-entry`.
    Retracted,
    /// The node was deleted: `Event: DELETED`, empty body, maybe a redirect.
    Deleted,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Item => "item",
            Self::Retracted => "retracted",
            Self::Deleted => "deleted",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "item" => Ok(Self::Item),
            "retracted" => Ok(Self::Retracted),
            "deleted" => Ok(Self::Deleted),
            other => Err(StoreError::Database(format!(
                "unknown event kind {other:?}"
            ))),
        }
    }
}

/// One pending delivery: the head of a subscriber's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The outbox row id.
    pub id: i64,
    /// The subscriber's queue key (its subscription id).
    pub sub_key: i64,
    /// The node the event happened on.
    pub node: String,
    /// What happened.
    pub kind: EventKind,
    /// The item id (items and retractions).
    pub item_id: Option<String>,
    /// The body to POST (entry, tombstone, or empty).
    pub payload: String,
    /// The redirect URI of a node deletion.
    pub redirect: Option<String>,
    /// The callback URL.
    pub callback: String,
    /// The HMAC secret, if any.
    pub secret: Option<String>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the delivery is due, Unix ms.
    pub next_attempt_ms: i64,
    /// When the current failure streak began, Unix ms.
    pub first_failure_ms: Option<i64>,
    /// The WebSub topic of the subscription (`None`: Idavoll-style).
    pub topic: Option<String>,
    /// When the event happened, Unix ms.
    pub created_ms: i64,
}

/// The head of one subscriber's queue, for the delivery scheduler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueHead {
    /// The subscriber's queue key.
    pub sub_key: i64,
    /// When its head delivery is due, Unix ms.
    pub next_attempt_ms: i64,
}

/// Storage of nodes, items, subscriptions and the outbox.
///
/// Every method's work is committed (durably) before its future resolves with `Ok`.
pub trait Store: Send + Sync + 'static {
    /// Creates an instant node (`generic/<random uuid>`) owned by `owner`; returns its id.
    fn create_node(
        &self,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<String, StoreError>>;
    /// Stores an item and queues it for every subscriber of the node and of the root; returns
    /// the node id (new if `req.node` was `None`).
    fn publish(&self, req: PublishRequest) -> BoxFuture<'_, Result<String, StoreError>>;
    /// Removes an item and queues a retraction for every subscriber.
    fn retract(
        &self,
        node: String,
        item_id: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Deletes a node with its items and subscriptions, queueing `deleted` for its subscribers
    /// (and root subscribers), after whatever they still have pending.
    fn delete_node(
        &self,
        node: String,
        redirect: Option<String>,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The ids of all nodes, sorted.
    fn list_nodes(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>>;
    /// Whether a node exists (`""`, the root, always does).
    fn node_exists(&self, node: String) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// The newest `max` items of a node, newest first.
    fn items(&self, node: &str, max: u32) -> BoxFuture<'_, Result<Vec<Item>, StoreError>>;
    /// Whether `callback` is subscribed to `node`.
    fn is_subscribed(
        &self,
        node: String,
        callback: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Adds a subscription and queues the node's newest item for it (not for the root).
    fn subscribe(&self, req: SubscribeRequest) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Adds or renews a WebSub subscription (the key is node + callback; a renewal replaces the
    /// topic, secret and lease and keeps the queue). Queues nothing.
    fn websub_subscribe(&self, req: SubscribeRequest) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Queues the node's newest item again for every subscriber (a WebSub publish ping); returns
    /// whether the node had an item.
    fn republish(
        &self,
        node: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Removes the subscriptions whose lease ended before `now_ms`, with their queues; returns
    /// how many.
    fn expire_leases(&self, now_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// Removes a subscription and its pending deliveries.
    fn unsubscribe(&self, node: String, callback: String) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The head of every non-empty subscriber queue.
    fn queue_heads(&self) -> BoxFuture<'_, Result<Vec<QueueHead>, StoreError>>;
    /// Records the successful deliveries `delivered` (removes them from their queue), then
    /// returns the first `limit` deliveries of queue `sub_key`, head first. One round trip per
    /// batch: the worker acknowledges a batch while fetching the next.
    fn advance(
        &self,
        sub_key: i64,
        delivered: Vec<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>>;
    /// Records a failed attempt; the delivery is due again at `next_attempt_ms`.
    fn delivery_failed(
        &self,
        delivery_id: i64,
        next_attempt_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Removes a subscriber (410 Gone or failure budget spent): its subscription and its queue.
    fn drop_subscriber(&self, sub_key: i64) -> BoxFuture<'_, Result<(), StoreError>>;
    /// The number of pending deliveries.
    fn outbox_len(&self) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Whether nodes of other pubsub services can be subscribed to and read (remote
    /// subscriptions, XMPP mode); their storage key is [`crate::uri::storage_key`].
    fn remote_nodes(&self) -> bool {
        false
    }

    /// The state of the XMPP side, in XMPP mode (`None` in embedded mode).
    fn xmpp_status(&self) -> BoxFuture<'_, Result<Option<crate::xmpp::XmppStatus>, StoreError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Per-job context: the queues the job added deliveries to.
struct Ctx {
    dirty: Vec<i64>,
}

type Finisher = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Work = Box<dyn FnOnce(&Connection, &mut Ctx) -> Finisher + Send>;

/// One unit of work for the store thread.
struct Job {
    /// Whether its writes must reach the disk before it is answered (see [`run_thread`]).
    durable: bool,
    work: Work,
}

/// The most jobs one transaction takes.
const MAX_BATCH: usize = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    node TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    PRIMARY KEY (node, item_id)
);
CREATE INDEX IF NOT EXISTS items_by_seq ON items(node, seq);
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    callback TEXT NOT NULL,
    secret TEXT,
    created_ms INTEGER NOT NULL,
    topic TEXT,
    expires_ms INTEGER,
    UNIQUE (node, callback)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT,
    payload TEXT NOT NULL,
    redirect TEXT,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sub_key INTEGER NOT NULL,
    event_id INTEGER NOT NULL REFERENCES events(id),
    callback TEXT NOT NULL,
    secret TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    first_failure_ms INTEGER,
    topic TEXT
);
CREATE INDEX IF NOT EXISTS outbox_by_queue ON outbox(sub_key, id);
CREATE INDEX IF NOT EXISTS outbox_by_event ON outbox(event_id);
CREATE INDEX IF NOT EXISTS subscriptions_by_lease ON subscriptions(expires_ms) WHERE expires_ms IS NOT NULL;
PRAGMA user_version = 2;
";

/// Brings a version 1 database (before WebSub) to version 2.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE subscriptions ADD COLUMN topic TEXT;
ALTER TABLE subscriptions ADD COLUMN expires_ms INTEGER;
ALTER TABLE outbox ADD COLUMN topic TEXT;
";

/// The SQLite store: one connection on a dedicated thread, group commit (see the module docs).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    limits: StoreLimits,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` in WAL mode and starts its thread.
    /// After each commit that queued deliveries, the queues concerned are marked in `signal`.
    pub fn open(
        path: &Path,
        limits: StoreLimits,
        signal: Option<Arc<QueueSignal>>,
    ) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Commits append to the WAL without an fsync; the sync thread syncs the WAL before any
        // answer (see the module docs). Checkpoints still sync the WAL and the database.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Savepoint journals in memory, not in temporary files.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Room for every statement the store prepares (rusqlite keeps 16 by default, fewer than
        // the store uses, so statements were evicted and parsed again).
        conn.set_prepared_statement_cache_capacity(128);
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > 2 {
            return Err(StoreError::Database(format!(
                "database schema version {version} is newer than this gateway understands (2)"
            )));
        }
        if version == 1 {
            conn.execute_batch(&format!("BEGIN; {MIGRATE_1_TO_2} COMMIT;"))?;
        }
        conn.execute_batch(SCHEMA)?;
        let wal = open_wal(path)?;
        let (jobs, rx) = mpsc::channel::<Job>();
        let (synced, to_sync) = mpsc::channel::<Committed>();
        let thread_error =
            |e: std::io::Error| StoreError::Database(format!("cannot start the store thread: {e}"));
        std::thread::Builder::new()
            .name("wikisync-sync".to_owned())
            .spawn(move || sync_thread(&wal, &to_sync, signal.as_deref()))
            .map_err(thread_error)?;
        std::thread::Builder::new()
            .name("wikisync-store".to_owned())
            .spawn(move || run_thread(&conn, &rx, &synced))
            .map_err(thread_error)?;
        Ok(Self { jobs, limits })
    }

    /// Runs `f` on the store thread inside a savepoint of the current batch; resolves after the
    /// batch committed and its WAL frames were synced to disk.
    fn call<T, F>(&self, f: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Ctx) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(true, f)
    }

    /// Like [`Self::call`] for work whose writes may be lost in a power failure without breaking
    /// a guarantee (delivery acknowledgements: a lost one only means a repeated delivery, which
    /// at-least-once allows) and for reads. It still commits in order before resolving.
    fn call_lazy<T, F>(&self, f: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Ctx) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(false, f)
    }

    fn submit<T, F>(&self, durable: bool, f: F) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Ctx) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            durable,
            work: Box::new(move |conn, ctx| {
                let result = in_savepoint(conn, ctx, f);
                Box::new(move |committed| {
                    let _ = reply.send(committed.and(result));
                })
            }),
        };
        let sent = self.jobs.send(job).map_err(|_| StoreError::Unavailable);
        Box::pin(async move {
            sent?;
            answer.await.map_err(|_| StoreError::Unavailable)?
        })
    }
}

fn in_savepoint<T>(
    conn: &Connection,
    ctx: &mut Ctx,
    f: impl FnOnce(&Connection, &mut Ctx) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // Prepared once and cached: parsing these per job cost more than running them.
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let mut job_ctx = Ctx { dirty: Vec::new() };
    let result = f(conn, &mut job_ctx);
    match &result {
        Ok(_) => {
            conn.prepare_cached("RELEASE job")?.execute([])?;
            ctx.dirty.append(&mut job_ctx.dirty);
        }
        Err(_) => {
            conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
            conn.prepare_cached("RELEASE job")?.execute([])?;
        }
    }
    result
}

/// A committed (or failed) batch on its way to the sync thread.
struct Committed {
    /// Whether a job of the batch must be on disk before it is answered.
    durable: bool,
    /// The outcome of the batch's `COMMIT`.
    result: Result<(), StoreError>,
    /// Answers the batch's callers.
    finishers: Vec<Finisher>,
    /// Queues that got deliveries in the batch.
    dirty: Vec<i64>,
}

/// Opens the database's write-ahead log (`<path>-wal`) for the sync thread, and syncs the
/// directory once so the log's directory entry is durable too.
fn open_wal(path: &Path) -> Result<std::fs::File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    let wal = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&name)
        .map_err(|e| StoreError::Database(format!("cannot open the write-ahead log: {e}")))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::Database(format!("cannot sync the data directory: {e}")))?;
    }
    Ok(wal)
}

/// The store thread: one transaction per batch of waiting jobs (group commit), handed to the
/// sync thread once committed, without waiting for the disk.
fn run_thread(conn: &Connection, rx: &mpsc::Receiver<Job>, synced: &mpsc::Sender<Committed>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let durable = batch.iter().any(|job| job.durable);
        let mut ctx = Ctx { dirty: Vec::new() };
        let begun = conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from);
        let mut finishers = Vec::with_capacity(batch.len());
        if begun.is_ok() {
            for job in batch {
                finishers.push((job.work)(conn, &mut ctx));
            }
        }
        let result = begun.and_then(|()| {
            conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                StoreError::from(e)
            })
        });
        if let Err(e) = &result {
            tracing::error!(error = %e, "store transaction failed");
        }
        let committed = Committed {
            durable,
            result,
            finishers,
            dirty: ctx.dirty,
        };
        if synced.send(committed).is_err() {
            tracing::error!("the sync thread has stopped; the store stops");
            return;
        }
    }
}

/// The sync thread: takes every committed batch waiting, syncs the WAL once if one of them needs
/// it, then answers them in commit order and marks the queues they filled.
fn sync_thread(wal: &std::fs::File, rx: &mpsc::Receiver<Committed>, signal: Option<&QueueSignal>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while let Ok(next) = rx.try_recv() {
            group.push(next);
        }
        let synced = if group.iter().any(|c| c.durable && c.result.is_ok()) {
            wal.sync_data().map_err(|e| {
                tracing::error!(error = %e, "cannot sync the write-ahead log");
                StoreError::Database(format!("cannot sync the write-ahead log: {e}"))
            })
        } else {
            Ok(())
        };
        for batch in group {
            let outcome = batch.result.and_then(|()| {
                if batch.durable {
                    synced.clone()
                } else {
                    Ok(())
                }
            });
            let ok = outcome.is_ok();
            for finish in batch.finishers {
                finish(outcome.clone());
            }
            if ok
                && !batch.dirty.is_empty()
                && let Some(signal) = signal
            {
                signal.mark(batch.dirty);
            }
        }
    }
}

/// A random version-4 UUID, formatted.
pub(crate) fn random_uuid() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| StoreError::Database(format!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// Checks that `node` exists and that `owner` may change it (a node without an owner is open).
pub(crate) fn check_owner(
    conn: &Connection,
    node: &str,
    owner: Option<&str>,
) -> Result<(), StoreError> {
    let found: Option<Option<String>> = conn
        .prepare_cached("SELECT owner FROM nodes WHERE id = ?1")?
        .query_row([node], |r| r.get(0))
        .optional()?;
    match found {
        None => Err(StoreError::NodeNotFound(node.to_owned())),
        Some(Some(o)) if Some(o.as_str()) != owner => Err(StoreError::NotOwner),
        Some(_) => Ok(()),
    }
}

/// Inserts a new instant node (`generic/<uuid>`) and returns its id.
pub(crate) fn new_node(
    conn: &Connection,
    owner: Option<&str>,
    now_ms: i64,
) -> Result<String, StoreError> {
    let id = format!("generic/{}", random_uuid()?);
    conn.prepare_cached("INSERT INTO nodes (id, owner, created_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![id, owner, now_ms])?;
    Ok(id)
}

/// Inserts an event and one outbox row per subscriber of `node` and of the root.
#[derive(Clone, Copy)]
struct NewEvent<'a> {
    node: &'a str,
    kind: EventKind,
    item_id: Option<&'a str>,
    payload: &'a str,
    redirect: Option<&'a str>,
    now_ms: i64,
}

fn fan_out(conn: &Connection, ctx: &mut Ctx, event: &NewEvent<'_>) -> Result<(), StoreError> {
    let NewEvent {
        node,
        kind,
        item_id,
        payload,
        redirect,
        now_ms,
    } = *event;
    // Subscribers of the root collection get every node of this service, not the nodes of
    // other services the gateway follows (remote subscriptions): `node = NULL` never matches.
    let root = (!crate::uri::is_remote_key(node)).then_some("");
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
    conn.prepare_cached(
        "INSERT INTO events (node, kind, item_id, payload, redirect, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![node, kind.as_str(), item_id, payload, redirect, now_ms])?;
    let event = conn.last_insert_rowid();
    let mut insert = conn.prepare_cached(
        "INSERT INTO outbox (sub_key, event_id, callback, secret, next_attempt_ms, topic)
         SELECT id, ?1, callback, secret, ?2, topic FROM subscriptions
         WHERE (node = ?3 OR node = ?4) AND (expires_ms IS NULL OR expires_ms > ?2) ORDER BY id
         RETURNING sub_key",
    )?;
    let mut rows = insert.query(params![event, now_ms, node, root])?;
    while let Some(row) = rows.next()? {
        ctx.dirty.push(row.get(0)?);
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

fn gc_events_of_queue(conn: &Connection, sub_key: i64) -> Result<(), StoreError> {
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

/// Adds an Idavoll-style subscription and queues the node's newest item for it (inside the
/// caller's transaction).
fn subscribe_in(
    conn: &Connection,
    ctx: &mut Ctx,
    req: &SubscribeRequest,
    max: u32,
) -> Result<(), StoreError> {
    if !req.node.is_empty() {
        check_owner(conn, &req.node, None).or_else(|e| match e {
            StoreError::NotOwner => Ok(()),
            other => Err(other),
        })?;
    }
    let count: u32 = conn
        .prepare_cached("SELECT COUNT(*) FROM subscriptions WHERE node = ?1")?
        .query_row([&req.node], |r| r.get(0))?;
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
    let last: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT item_id, payload FROM items WHERE node = ?1 ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([&req.node], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((item_id, payload)) = last {
        conn.prepare_cached(
            "INSERT INTO events (node, kind, item_id, payload, redirect, created_ms) VALUES (?1, 'item', ?2, ?3, NULL, ?4)",
        )?
        .execute(params![req.node, item_id, payload, req.now_ms])?;
        let event = conn.last_insert_rowid();
        conn.prepare_cached(
            "INSERT INTO outbox (sub_key, event_id, callback, secret, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![sub_key, event, req.callback, req.secret, req.now_ms])?;
        ctx.dirty.push(sub_key);
    }
    Ok(())
}

/// Removes a node with its items and subscriptions (after its deletion was fanned out).
pub(crate) fn forget_node(conn: &Connection, node: &str) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE node = ?1")?
        .execute([node])?;
    conn.prepare_cached("DELETE FROM subscriptions WHERE node = ?1")?
        .execute([node])?;
    conn.prepare_cached("DELETE FROM nodes WHERE id = ?1")?
        .execute([node])?;
    Ok(())
}

/// Removes a subscription by its key, with its pending deliveries (inside the caller's
/// transaction).
fn drop_subscriber_in(conn: &Connection, sub_key: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?
        .execute([sub_key])?;
    gc_events_of_queue(conn, sub_key)
}

/// Removes a subscription and its pending deliveries (inside the caller's transaction).
fn unsubscribe_in(conn: &Connection, node: &str, callback: &str) -> Result<(), StoreError> {
    if !node.is_empty() {
        check_owner(conn, node, None).or_else(|e| match e {
            StoreError::NotOwner => Ok(()),
            other => Err(other),
        })?;
    }
    let sub_key: Option<i64> = conn
        .prepare_cached("SELECT id FROM subscriptions WHERE node = ?1 AND callback = ?2")?
        .query_row(params![node, callback], |r| r.get(0))
        .optional()?;
    let sub_key = sub_key.ok_or(StoreError::NoSubscription)?;
    conn.prepare_cached("DELETE FROM subscriptions WHERE id = ?1")?
        .execute([sub_key])?;
    gc_events_of_queue(conn, sub_key)
}

impl Store for SqliteStore {
    fn create_node(
        &self,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<String, StoreError>> {
        self.call(move |conn, _| new_node(conn, owner.as_deref(), now_ms))
    }

    fn publish(&self, req: PublishRequest) -> BoxFuture<'_, Result<String, StoreError>> {
        let limits = self.limits;
        self.call(move |conn, ctx| {
            let node = match req.node {
                Some(node) => {
                    check_owner(conn, &node, req.owner.as_deref())?;
                    node
                }
                None => new_node(conn, req.owner.as_deref(), req.now_ms)?,
            };
            let seq: i64 = conn
                .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM items WHERE node = ?1")?
                .query_row([&node], |r| r.get(0))?;
            conn.prepare_cached(
                "INSERT INTO items (node, item_id, seq, payload, published_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (node, item_id) DO UPDATE SET seq = excluded.seq, payload = excluded.payload,
                 published_ms = excluded.published_ms",
            )?
            .execute(params![node, req.item_id, seq, req.payload, req.now_ms])?;
            let max = i64::from(limits.max_items_per_node);
            if seq > max {
                conn.prepare_cached("DELETE FROM items WHERE node = ?1 AND seq <= ?2")?
                    .execute(params![node, seq - max])?;
            }
            fan_out(
                conn,
                ctx,
                &NewEvent {
                    node: &node,
                    kind: EventKind::Item,
                    item_id: Some(&req.item_id),
                    payload: &req.payload,
                    redirect: None,
                    now_ms: req.now_ms,
                },
            )?;
            Ok(node)
        })
    }

    fn retract(
        &self,
        node: String,
        item_id: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.call(move |conn, ctx| {
            check_owner(conn, &node, owner.as_deref())?;
            let removed = conn
                .prepare_cached("DELETE FROM items WHERE node = ?1 AND item_id = ?2")?
                .execute(params![node, item_id])?;
            if removed == 0 {
                return Err(StoreError::ItemNotFound(item_id));
            }
            let tombstone = crate::atom::deleted_entry(&item_id, &crate::atom::rfc3339(now_ms));
            fan_out(
                conn,
                ctx,
                &NewEvent {
                    node: &node,
                    kind: EventKind::Retracted,
                    item_id: Some(&item_id),
                    payload: &tombstone,
                    redirect: None,
                    now_ms,
                },
            )
        })
    }

    fn delete_node(
        &self,
        node: String,
        redirect: Option<String>,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.call(move |conn, ctx| {
            check_owner(conn, &node, owner.as_deref())?;
            fan_out(
                conn,
                ctx,
                &NewEvent {
                    node: &node,
                    kind: EventKind::Deleted,
                    item_id: None,
                    payload: "",
                    redirect: redirect.as_deref(),
                    now_ms,
                },
            )?;
            forget_node(conn, &node)
        })
    }

    fn list_nodes(&self) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        self.call_lazy(|conn, _| {
            let nodes = conn
                .prepare_cached("SELECT id FROM nodes ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(nodes)
        })
    }

    fn node_exists(&self, node: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.call_lazy(move |conn, _| {
            if node.is_empty() {
                return Ok(true);
            }
            Ok(conn
                .prepare_cached("SELECT 1 FROM nodes WHERE id = ?1")?
                .query_row([&node], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn items(&self, node: &str, max: u32) -> BoxFuture<'_, Result<Vec<Item>, StoreError>> {
        let node = node.to_owned();
        self.call_lazy(move |conn, _| {
            check_owner(conn, &node, None).or_else(|e| match e {
                StoreError::NotOwner => Ok(()),
                other => Err(other),
            })?;
            let items = conn
                .prepare_cached(
                    "SELECT item_id, payload FROM items WHERE node = ?1 ORDER BY seq DESC LIMIT ?2",
                )?
                .query_map(params![node, max], |r| {
                    Ok(Item {
                        id: r.get(0)?,
                        payload: r.get(1)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(items)
        })
    }

    fn is_subscribed(
        &self,
        node: String,
        callback: String,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.call_lazy(move |conn, _| {
            Ok(conn
                .prepare_cached("SELECT 1 FROM subscriptions WHERE node = ?1 AND callback = ?2")?
                .query_row(params![node, callback], |_| Ok(()))
                .optional()?
                .is_some())
        })
    }

    fn subscribe(&self, req: SubscribeRequest) -> BoxFuture<'_, Result<(), StoreError>> {
        let max = self.limits.max_subscriptions_per_node;
        self.call(move |conn, ctx| subscribe_in(conn, ctx, &req, max))
    }

    fn websub_subscribe(&self, req: SubscribeRequest) -> BoxFuture<'_, Result<(), StoreError>> {
        let max = self.limits.max_subscriptions_per_node;
        self.call(move |conn, _| {
            if !req.node.is_empty() {
                check_owner(conn, &req.node, None).or_else(|e| match e {
                    StoreError::NotOwner => Ok(()),
                    other => Err(other),
                })?;
            }
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
            let count: u32 = conn
                .prepare_cached("SELECT COUNT(*) FROM subscriptions WHERE node = ?1")?
                .query_row([&req.node], |r| r.get(0))?;
            if count >= max {
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
        })
    }

    fn republish(
        &self,
        node: String,
        owner: Option<String>,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.call(move |conn, ctx| {
            check_owner(conn, &node, owner.as_deref())?;
            let last: Option<(String, String)> = conn
                .prepare_cached(
                    "SELECT item_id, payload FROM items WHERE node = ?1 ORDER BY seq DESC LIMIT 1",
                )?
                .query_row([&node], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((item_id, payload)) = last else {
                return Ok(false);
            };
            fan_out(
                conn,
                ctx,
                &NewEvent {
                    node: &node,
                    kind: EventKind::Item,
                    item_id: Some(&item_id),
                    payload: &payload,
                    redirect: None,
                    now_ms,
                },
            )?;
            Ok(true)
        })
    }

    fn expire_leases(&self, now_ms: i64) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.call(move |conn, _| {
            let expired: Vec<i64> = conn
                .prepare_cached(
                    "DELETE FROM subscriptions WHERE expires_ms IS NOT NULL AND expires_ms <= ?1
                     RETURNING id",
                )?
                .query_map([now_ms], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for sub_key in &expired {
                gc_events_of_queue(conn, *sub_key)?;
            }
            Ok(expired.len() as u64)
        })
    }

    fn unsubscribe(&self, node: String, callback: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.call(move |conn, _| unsubscribe_in(conn, &node, &callback))
    }

    fn queue_heads(&self) -> BoxFuture<'_, Result<Vec<QueueHead>, StoreError>> {
        self.call_lazy(|conn, _| {
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
        })
    }

    fn advance(
        &self,
        sub_key: i64,
        delivered: Vec<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<Delivery>, StoreError>> {
        self.call_lazy(move |conn, _| {
            for id in delivered {
                let event: Option<i64> = conn
                    .prepare_cached("DELETE FROM outbox WHERE id = ?1 RETURNING event_id")?
                    .query_row([id], |r| r.get(0))
                    .optional()?;
                if let Some(event) = event {
                    gc_event(conn, event)?;
                }
            }
            if limit == 0 {
                return Ok(Vec::new());
            }
            let mut stmt = conn.prepare_cached(
                "SELECT o.id, o.sub_key, e.node, e.kind, e.item_id, e.payload, e.redirect, o.callback, o.secret,
                        o.attempts, o.next_attempt_ms, o.first_failure_ms, o.topic, e.created_ms
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
                    },
                    r.get::<_, String>(3)?,
                ))
            })?;
            let mut batch = Vec::new();
            for row in rows {
                let (mut delivery, kind) = row?;
                delivery.kind = EventKind::parse(&kind)?;
                batch.push(delivery);
            }
            Ok(batch)
        })
    }

    fn delivery_failed(
        &self,
        delivery_id: i64,
        next_attempt_ms: i64,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        self.call(move |conn, _| {
            conn.prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2,
                 first_failure_ms = COALESCE(first_failure_ms, ?3) WHERE id = ?1",
            )?
            .execute(params![delivery_id, next_attempt_ms, now_ms])?;
            Ok(())
        })
    }

    fn drop_subscriber(&self, sub_key: i64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.call(move |conn, _| drop_subscriber_in(conn, sub_key))
    }

    fn outbox_len(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.call_lazy(|conn, _| {
            Ok(conn
                .prepare_cached("SELECT COUNT(*) FROM outbox")?
                .query_row([], |r| r.get(0))?)
        })
    }
}

// ---- Hooks for the XMPP mode (`crate::xmpp`): kept in one block to ease merging. ----

/// A job of the XMPP mode running inside the store's batch transaction (see
/// [`SqliteStore::xmpp_job`]): it may queue deliveries, which are signalled after the commit.
pub(crate) struct XmppJob<'a> {
    ctx: &'a mut Ctx,
}

impl XmppJob<'_> {
    /// Queues an event for every subscriber of `node` and of the root (like a local publish).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fan_out(
        &mut self,
        conn: &Connection,
        node: &str,
        kind: EventKind,
        item_id: Option<&str>,
        payload: &str,
        redirect: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        fan_out(
            conn,
            self.ctx,
            &NewEvent {
                node,
                kind,
                item_id,
                payload,
                redirect,
                now_ms,
            },
        )
    }
}

impl XmppJob<'_> {
    /// Adds an Idavoll-style subscription, as [`Store::subscribe`] does, in this transaction.
    pub(crate) fn subscribe(
        &mut self,
        conn: &Connection,
        req: &SubscribeRequest,
        max: u32,
    ) -> Result<(), StoreError> {
        subscribe_in(conn, self.ctx, req, max)
    }

    /// Removes a subscription by its key, as [`Store::drop_subscriber`] does, in this
    /// transaction.
    pub(crate) fn drop_subscriber(
        &self,
        conn: &Connection,
        sub_key: i64,
    ) -> Result<(), StoreError> {
        drop_subscriber_in(conn, sub_key)
    }

    /// Removes a subscription, as [`Store::unsubscribe`] does, in this transaction.
    pub(crate) fn unsubscribe(
        &self,
        conn: &Connection,
        node: &str,
        callback: &str,
    ) -> Result<(), StoreError> {
        unsubscribe_in(conn, node, callback)
    }
}

impl SqliteStore {
    /// Runs `f` on the store thread inside the current batch transaction, in its own savepoint;
    /// resolves after the commit (fsynced when `durable`). The XMPP mode keeps its own tables in
    /// the same database, so its outbox shares the group commit and the atomicity of the store.
    pub(crate) fn xmpp_job<T, F>(
        &self,
        durable: bool,
        f: F,
    ) -> BoxFuture<'static, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut XmppJob<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(durable, move |conn, ctx| f(conn, &mut XmppJob { ctx }))
    }

    /// The limits the store was opened with.
    pub(crate) fn limits(&self) -> StoreLimits {
        self.limits
    }
}
