//! The SQL layer: every statement the gateway runs, as plain functions over a
//! [`rusqlite::Connection`] (the store thread's, inside the transaction of the current batch).
//!
//! Both kinds of nodes call these functions, the embedded ones (through [`super::Store`] and
//! [`super::nodes::Embedded`]) and the XMPP ones (`crate::xmpp`), so a schema change is made
//! here once. One submodule per table (see the schema in the [`super`] module docs):
//!
//! | module | table |
//! |---|---|
//! | [`nodes`] | `nodes` and `grants` |
//! | [`items`] | `items` |
//! | [`subscriptions`] | `subscriptions` |
//! | [`readers`] | `readers` (and the `access` column of `nodes`) |
//! | [`outbox`] | `events` and `outbox` (the deliveries to HTTP subscribers) |
//! | [`xmpp_ops`] | `xmpp_ops` (XMPP mode only: the operations waiting for the pubsub service) |
//!
//! A function that queues deliveries records the subscriber queues it filled in a [`Filled`],
//! which the store marks in its [`super::QueueSignal`] once the transaction is on disk.

pub(crate) mod items;
pub(crate) mod nodes;
pub(crate) mod outbox;
pub(crate) mod readers;
pub(crate) mod subscriptions;
pub(crate) mod xmpp_ops;

use std::path::Path;

use rusqlite::Connection;

use super::error::StoreError;

/// The schema version this gateway writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 6;

/// The subscriber queues (subscription ids) a transaction added deliveries to.
#[derive(Debug, Default)]
pub(crate) struct Filled(Vec<i64>);

impl Filled {
    /// Records that queue `sub_key` got a delivery.
    pub(crate) fn push(&mut self, sub_key: i64) {
        self.0.push(sub_key);
    }

    /// Moves every queue recorded in `other` into this one.
    pub(crate) fn append(&mut self, other: &mut Self) {
        self.0.append(&mut other.0);
    }

    /// Whether no queue was filled.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The queues, in the order they were filled.
    pub(crate) fn into_queues(self) -> Vec<i64> {
        self.0
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT,
    created_ms INTEGER NOT NULL,
    heartbeat_ms INTEGER,
    access TEXT NOT NULL DEFAULT 'open'
);
CREATE TABLE IF NOT EXISTS items (
    node TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    item_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    publisher TEXT,
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
    last_delivery_ms INTEGER,
    UNIQUE (node, callback)
);
CREATE TABLE IF NOT EXISTS dropped_subscriptions (
    node TEXT NOT NULL,
    callback TEXT NOT NULL,
    sub_key INTEGER NOT NULL,
    secret_sha256 TEXT,
    topic TEXT,
    reason TEXT NOT NULL,
    redirect TEXT,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    last_delivery_ms INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,
    failing_since_ms INTEGER,
    dropped_ms INTEGER NOT NULL,
    PRIMARY KEY (node, callback)
);
CREATE INDEX IF NOT EXISTS dropped_by_time ON dropped_subscriptions(dropped_ms);
CREATE INDEX IF NOT EXISTS dropped_by_queue ON dropped_subscriptions(sub_key);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT,
    payload TEXT NOT NULL,
    redirect TEXT,
    created_ms INTEGER NOT NULL,
    publisher TEXT
);
CREATE TABLE IF NOT EXISTS grants (
    node TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    site TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (node, site)
);
CREATE TABLE IF NOT EXISTS readers (
    node TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    digest BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (node, id)
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
PRAGMA user_version = 6;
";

/// Brings a version 1 database (before WebSub) to version 2.
const MIGRATE_1_TO_2: &str = "
ALTER TABLE subscriptions ADD COLUMN topic TEXT;
ALTER TABLE subscriptions ADD COLUMN expires_ms INTEGER;
ALTER TABLE outbox ADD COLUMN topic TEXT;
";

/// Brings a version 2 database (before `GET /subscription`) to version 3: subscriptions
/// remember their last successful delivery; the `dropped_subscriptions` table is created by
/// [`SCHEMA`].
const MIGRATE_2_TO_3: &str = "
ALTER TABLE subscriptions ADD COLUMN last_delivery_ms INTEGER;
";

/// Brings a version 3 database to version 4: nodes remember their publisher's last heartbeat.
const MIGRATE_3_TO_4: &str = "
ALTER TABLE nodes ADD COLUMN heartbeat_ms INTEGER;
";

/// Brings a version 4 database to version 5: items and events remember the site that
/// published them (`NULL`: unknown, an anonymous token or open publishing); the `grants` table
/// is created by [`SCHEMA`].
const MIGRATE_4_TO_5: &str = "
ALTER TABLE items ADD COLUMN publisher TEXT;
ALTER TABLE events ADD COLUMN publisher TEXT;
";

/// Brings a version 5 database to version 6: nodes get an access model, `open` for every
/// existing node (what they were); the `readers` table is created by [`SCHEMA`].
const MIGRATE_5_TO_6: &str = "
ALTER TABLE nodes ADD COLUMN access TEXT NOT NULL DEFAULT 'open';
";

/// Opens (creating if needed) the database at `path` in WAL mode, migrates an older schema and
/// creates what is missing.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // Commits append to the WAL without an fsync; the store's sync thread syncs the WAL before
    // any answer (see the store's module docs). Checkpoints still sync the WAL and the database.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Savepoint journals in memory, not in temporary files.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Room for every statement the store prepares (rusqlite keeps 16 by default, fewer than
    // the store uses, so statements were evicted and parsed again).
    conn.set_prepared_statement_cache_capacity(128);
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Database(format!(
            "database schema version {version} is newer than this gateway understands ({SCHEMA_VERSION})"
        )));
    }
    let migrations = [
        (1, MIGRATE_1_TO_2),
        (2, MIGRATE_2_TO_3),
        (3, MIGRATE_3_TO_4),
        (4, MIGRATE_4_TO_5),
        (5, MIGRATE_5_TO_6),
    ];
    let due: String = migrations
        .iter()
        .filter(|(from, _)| version != 0 && *from >= version)
        .map(|(_, sql)| *sql)
        .collect();
    if !due.is_empty() {
        conn.execute_batch(&format!("BEGIN; {due} COMMIT;"))?;
    }
    // A database already at this version is only read here: a gateway restarted while its disk
    // is full must still start (and serve reads) without writing anything.
    if version != SCHEMA_VERSION {
        conn.execute_batch(SCHEMA)?;
    }
    Ok(conn)
}

/// Opens the database at `path` read-only, as it is on disk, without the write-ahead log or its
/// index (SQLite's `immutable`): what a gateway started on a full disk serves reads from. Only
/// complete when the log is empty.
pub(crate) fn open_read_only_snapshot(path: &Path) -> Result<Connection, StoreError> {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    let conn = Connection::open_with_flags(
        uri,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )?;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version != SCHEMA_VERSION {
        return Err(StoreError::Database(format!(
            "the database (schema version {version}) needs migrating, which a full disk does not allow"
        )));
    }
    Ok(conn)
}

/// Tries a write that changes nothing (the schema version, set to itself): `Err(DiskFull)`
/// when the disk is full, so that a gateway started on a full disk knows it at once.
pub(crate) fn probe_write(conn: &Connection) -> Result<(), StoreError> {
    let probe = conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ));
    if probe.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    probe.map_err(StoreError::from)
}

/// Runs `f` inside a savepoint of the current transaction: its writes are kept when it
/// succeeds and rolled back alone when it fails (the rest of the batch is unaffected). The
/// queues it filled are added to `filled` only when it succeeds.
pub(crate) fn in_savepoint<T>(
    conn: &Connection,
    filled: &mut Filled,
    f: impl FnOnce(&Connection, &mut Filled) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // Prepared once and cached: parsing these per job cost more than running them.
    conn.prepare_cached("SAVEPOINT job")?.execute([])?;
    let mut own = Filled::default();
    let result = f(conn, &mut own);
    match &result {
        Ok(_) => {
            conn.prepare_cached("RELEASE job")?.execute([])?;
            filled.append(&mut own);
        }
        Err(_) => {
            conn.prepare_cached("ROLLBACK TO job")?.execute([])?;
            conn.prepare_cached("RELEASE job")?.execute([])?;
        }
    }
    result
}
