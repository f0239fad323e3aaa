//! Who may read a node: its access model (`nodes.access`) and the `readers` table (the reader
//! credentials its owner granted, kept as SHA-256 digests).

use rusqlite::{Connection, OptionalExtension, params};

use super::super::error::StoreError;
use super::nodes::SITE_OWNER_PREFIX;

/// A node's access model: who may read it (`/items`, `/subscribe`, `GET /subscription`, the
/// WebSub hub's subscribe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Access {
    /// Anyone may read (the default, and the only model before schema version 6).
    #[default]
    Open,
    /// Only the owner, the sites granted publishing, and holders of a reader credential.
    Restricted,
}

impl Access {
    /// The model's name, as stored and as the API spells it: `open` or `restricted`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Restricted => "restricted",
        }
    }

    /// The model named `text` (`open` or `restricted`), if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "restricted" => Some(Self::Restricted),
            _ => None,
        }
    }
}

/// What decides whether a caller may read a restricted node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadPolicy {
    /// The node's owner id (`None`: no owner).
    pub owner: Option<String>,
    /// The sites granted publishing (normalized site ids), who may read too.
    pub sites: Vec<String>,
    /// SHA-256 digests of the reader credentials.
    pub readers: Vec<[u8; 32]>,
}

/// A reader credential as its owner sees it: its id and when it was granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    /// The credential's id (the first 16 hex digits of its token's SHA-256).
    pub id: String,
    /// When it was granted, Unix ms.
    pub created_ms: i64,
}

/// The access model of `node` ([`StoreError::NodeNotFound`] if it is not stored here).
pub(crate) fn access(conn: &Connection, node: &str) -> Result<Access, StoreError> {
    let model: String = conn
        .prepare_cached("SELECT access FROM nodes WHERE id = ?1")?
        .query_row([node], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NodeNotFound(node.to_owned()))?;
    // Only this module writes the column; anything else would be a foreign edit, read safely.
    Ok(Access::parse(&model).unwrap_or(Access::Restricted))
}

/// Sets the access model of `node`.
pub(crate) fn set_access(conn: &Connection, node: &str, access: Access) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE nodes SET access = ?2 WHERE id = ?1")?
        .execute(params![node, access.as_str()])?;
    Ok(())
}

/// Who may read `node` when it is restricted; `None` when it is open or not stored here (a
/// node of another service, or one that does not exist: the handler answers for those).
pub(crate) fn read_policy(conn: &Connection, node: &str) -> Result<Option<ReadPolicy>, StoreError> {
    let row: Option<(Option<String>, String)> = conn
        .prepare_cached("SELECT owner, access FROM nodes WHERE id = ?1")?
        .query_row([node], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((owner, model)) = row else {
        return Ok(None);
    };
    if Access::parse(&model) == Some(Access::Open) {
        return Ok(None);
    }
    let sites = conn
        .prepare_cached("SELECT site FROM grants WHERE node = ?1")?
        .query_map([node], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let readers = conn
        .prepare_cached("SELECT digest FROM readers WHERE node = ?1")?
        .query_map([node], |r| r.get::<_, Vec<u8>>(0))?
        .filter_map(|d| match d {
            Ok(d) => <[u8; 32]>::try_from(d.as_slice()).ok().map(Ok),
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    Ok(Some(ReadPolicy {
        owner,
        sites,
        readers,
    }))
}

/// Whether `owner` (an owner id) is the node's owner or a site granted publishing on it.
pub fn is_publisher(policy: &ReadPolicy, owner: &str) -> bool {
    policy.owner.as_deref() == Some(owner)
        || owner
            .strip_prefix(SITE_OWNER_PREFIX)
            .is_some_and(|site| policy.sites.iter().any(|s| s == site))
}

/// Records a reader credential of `node` by its `id` and `digest`.
pub(crate) fn add_reader(
    conn: &Connection,
    node: &str,
    id: &str,
    digest: &[u8; 32],
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO readers (node, id, digest, created_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![node, id, digest.as_slice(), now_ms])?;
    Ok(())
}

/// Removes the reader credential `id` of `node` ([`StoreError::NoReader`] if there is none).
pub(crate) fn remove_reader(conn: &Connection, node: &str, id: &str) -> Result<(), StoreError> {
    let removed = conn
        .prepare_cached("DELETE FROM readers WHERE node = ?1 AND id = ?2")?
        .execute([node, id])?;
    if removed == 0 {
        return Err(StoreError::NoReader(id.to_owned()));
    }
    Ok(())
}

/// The reader credentials of `node`, oldest first.
pub(crate) fn readers(conn: &Connection, node: &str) -> Result<Vec<Reader>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, created_ms FROM readers WHERE node = ?1 ORDER BY created_ms, id",
        )?
        .query_map([node], |r| {
            Ok(Reader {
                id: r.get(0)?,
                created_ms: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?)
}
