//! [`StoreError`]: why a store operation failed.

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
    /// The node was created with another credential and the caller holds no grant on it
    /// (publish, retract: owner or granted site; delete, grant, revoke, publishers: owner).
    #[error("the node belongs to another publisher")]
    NotOwner,
    /// The site holds no grant on the node (revoke).
    #[error("site '{0}' holds no grant on this node")]
    NoGrant(String),
    /// The node has no reader credential with this id (revoke a reader).
    #[error("no reader '{0}' on this node")]
    NoReader(String),
    /// The callback is already subscribed to the node (subscribe).
    #[error("subscription already exists")]
    SubscriptionExists,
    /// The callback is not subscribed to the node (unsubscribe).
    #[error("no such subscription")]
    NoSubscription,
    /// The node already has the configured maximum of subscriptions (subscribe).
    #[error("subscription limit of {0} reached")]
    SubscriptionLimit(u32),
    /// The `after` cursor of an items page is not one this gateway wrote for this node, or
    /// no longer fits it (items); the text says why.
    #[error("bad cursor: {0}")]
    BadCursor(String),
    /// The store thread has stopped (any operation during or after shutdown).
    #[error("the store is not running")]
    Unavailable,
    /// The disk holding the database is full: nothing was written (any writing operation).
    /// Reads still work, and writes work again once there is space.
    #[error("the disk holding the database is full")]
    DiskFull,
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
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
            return Self::DiskFull;
        }
        // Growing the shared-memory index of the write-ahead log fails on a full disk too.
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.extended_code == rusqlite::ffi::SQLITE_IOERR_SHMSIZE
        {
            return Self::DiskFull;
        }
        Self::Database(e.to_string())
    }
}

impl StoreError {
    /// A file-system error while `doing` something: [`Self::DiskFull`] when the disk is full
    /// (`ENOSPC`), else [`Self::Database`].
    pub(crate) fn io(doing: &str, e: &std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            Self::DiskFull
        } else {
            Self::Database(format!("{doing}: {e}"))
        }
    }
}
