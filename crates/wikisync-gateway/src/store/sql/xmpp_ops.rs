//! The `xmpp_ops` table (XMPP mode only): the durable outbox of operations for the pubsub
//! service, sent in `id` order by `crate::xmpp` and removed once the service answered.

use rusqlite::{Connection, params};

use super::super::error::StoreError;

/// Creates the table if missing (the gateway does at every start in XMPP mode; an embedded
/// database never has it).
pub(crate) fn create_table(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS xmpp_ops (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            node TEXT NOT NULL,
            item_id TEXT,
            payload TEXT,
            redirect TEXT,
            created_ms INTEGER NOT NULL
        );",
    )?;
    Ok(())
}

/// What an operation asks of the pubsub service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// Create the node (or configure it, if it exists) and subscribe the gateway to it.
    Ensure,
    /// Follow a node of another service: subscribe and fetch its items.
    Follow,
    /// Stop following a node of another service.
    Unfollow,
    /// Publish an item.
    Publish,
    /// Retract an item.
    Retract,
    /// Delete the node.
    Delete,
}

impl OpKind {
    const ALL: [Self; 6] = [
        Self::Ensure,
        Self::Follow,
        Self::Unfollow,
        Self::Publish,
        Self::Retract,
        Self::Delete,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Self::Ensure => "ensure",
            Self::Follow => "follow",
            Self::Unfollow => "unfollow",
            Self::Publish => "publish",
            Self::Retract => "retract",
            Self::Delete => "delete",
        }
    }

    /// The kind stored as `name`, if this gateway knows it.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// One queued operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Op {
    /// Its row id (the order of the queue).
    pub(crate) id: i64,
    /// Its kind as stored (see [`OpKind::parse`]).
    pub(crate) kind: String,
    /// The node's storage key.
    pub(crate) node: String,
    /// The item (publish, retract).
    pub(crate) item_id: Option<String>,
    /// The entry (publish).
    pub(crate) payload: Option<String>,
    /// The redirect URI (delete).
    pub(crate) redirect: Option<String>,
}

/// Queues an operation on `node`.
pub(crate) fn queue(
    conn: &Connection,
    kind: OpKind,
    node: &str,
    item_id: Option<&str>,
    payload: Option<&str>,
    redirect: Option<&str>,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO xmpp_ops (kind, node, item_id, payload, redirect, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        kind.as_str(),
        node,
        item_id,
        payload,
        redirect,
        now_ms
    ])?;
    Ok(())
}

/// The first `limit` queued operations, oldest first.
pub(crate) fn first(conn: &Connection, limit: u32) -> Result<Vec<Op>, StoreError> {
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

/// Removes the operations `ids` (done, or definitely refused).
pub(crate) fn remove(conn: &Connection, ids: &[i64]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached("DELETE FROM xmpp_ops WHERE id = ?1")?;
    for id in ids {
        stmt.execute([id])?;
    }
    Ok(())
}

/// The number of queued operations.
pub(crate) fn count(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM xmpp_ops")?
        .query_row([], |r| r.get(0))?)
}

/// Whether a publish of item `item_id` of `node` is queued.
pub(crate) fn publish_queued(
    conn: &Connection,
    node: &str,
    item_id: &str,
) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM xmpp_ops WHERE kind = ?3 AND node = ?1 AND item_id = ?2)",
        )?
        .query_row(params![node, item_id, OpKind::Publish.as_str()], |r| {
            r.get(0)
        })?)
}

/// The redirect of the first queued deletion of `node` that has one.
pub(crate) fn queued_redirect(conn: &Connection, node: &str) -> Result<Option<String>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(
            "SELECT redirect FROM xmpp_ops WHERE kind = ?2 AND node = ?1
             AND redirect IS NOT NULL ORDER BY id LIMIT 1",
        )?
        .query_row(params![node, OpKind::Delete.as_str()], |r| r.get(0))
        .optional()?)
}

/// The nodes that a queued operation will bring up to date anyway (an `ensure` or `follow`).
pub(crate) fn nodes_to_sync(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let nodes = conn
        .prepare_cached("SELECT DISTINCT node FROM xmpp_ops WHERE kind IN (?1, ?2)")?
        .query_map(
            params![OpKind::Ensure.as_str(), OpKind::Follow.as_str()],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    Ok(nodes)
}
