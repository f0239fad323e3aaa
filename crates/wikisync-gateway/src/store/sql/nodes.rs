//! The `nodes` table: the nodes of this service, and (XMPP mode) the nodes of other services the
//! gateway follows, stored under their URI ([`crate::uri::storage_key`]).

use rusqlite::{Connection, OptionalExtension, params};

use super::super::error::StoreError;
use crate::uri::{REMOTE_KEY_PREFIX, is_remote_key};

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

/// Checks that `node` exists and that `owner` may publish to it and retract its items: its
/// owner, or a site the owner granted it to (`owner` = `site:<site id>`); a node without an
/// owner is open.
pub(crate) fn check_publisher(
    conn: &Connection,
    node: &str,
    owner: Option<&str>,
) -> Result<(), StoreError> {
    match check_owner(conn, node, owner) {
        Err(StoreError::NotOwner) => {
            let site = owner.and_then(|o| o.strip_prefix(SITE_OWNER_PREFIX));
            match site {
                Some(site) if is_granted(conn, node, site)? => Ok(()),
                _ => Err(StoreError::NotOwner),
            }
        }
        other => other,
    }
}

/// The prefix of the owner id of a site credential: `site:<normalized site id>`.
pub(crate) const SITE_OWNER_PREFIX: &str = "site:";

/// Whether `site` holds a grant on `node`.
pub(crate) fn is_granted(conn: &Connection, node: &str, site: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM grants WHERE node = ?1 AND site = ?2)")?
        .query_row([node, site], |r| r.get(0))?)
}

/// Grants `site` the right to publish to `node` (again: nothing changes).
pub(crate) fn grant(
    conn: &Connection,
    node: &str,
    site: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO grants (node, site, created_ms) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![node, site, now_ms])?;
    Ok(())
}

/// Revokes the grant of `site` on `node` ([`StoreError::NoGrant`] if it holds none).
pub(crate) fn revoke(conn: &Connection, node: &str, site: &str) -> Result<(), StoreError> {
    let removed = conn
        .prepare_cached("DELETE FROM grants WHERE node = ?1 AND site = ?2")?
        .execute([node, site])?;
    if removed == 0 {
        return Err(StoreError::NoGrant(site.to_owned()));
    }
    Ok(())
}

/// The owner id of `node` and the sites granted publishing on it, sorted.
pub(crate) fn publishers(
    conn: &Connection,
    node: &str,
) -> Result<(Option<String>, Vec<String>), StoreError> {
    let owner: Option<String> = conn
        .prepare_cached("SELECT owner FROM nodes WHERE id = ?1")?
        .query_row([node], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NodeNotFound(node.to_owned()))?;
    let sites = conn
        .prepare_cached("SELECT site FROM grants WHERE node = ?1 ORDER BY site")?
        .query_map([node], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok((owner, sites))
}

/// Checks that `node` exists, whoever owns it ([`StoreError::NodeNotFound`] if not); the root
/// collection (`""`) always does.
pub(crate) fn check_exists(conn: &Connection, node: &str) -> Result<(), StoreError> {
    if node.is_empty() || exists(conn, node)? {
        Ok(())
    } else {
        Err(StoreError::NodeNotFound(node.to_owned()))
    }
}

/// Whether `node` is stored here (the root collection, `""`, is not a row: see
/// [`check_exists`]).
pub(crate) fn exists(conn: &Connection, node: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM nodes WHERE id = ?1)")?
        .query_row([node], |r| r.get(0))?)
}

/// Records a heartbeat of `node`'s publisher at `now_ms`.
pub(crate) fn heartbeat(conn: &Connection, node: &str, now_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE nodes SET heartbeat_ms = ?2 WHERE id = ?1")?
        .execute(params![node, now_ms])?;
    Ok(())
}

/// The last sign of life of `node`'s publisher, Unix ms: the newest of its creation, its last
/// heartbeat and its newest item; `None` for a node not stored here or of another service
/// (whose publisher's heartbeats go to that service).
pub(crate) fn source_seen(conn: &Connection, node: &str) -> Result<Option<i64>, StoreError> {
    if is_remote_key(node) {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached(
            "SELECT MAX(created_ms, COALESCE(heartbeat_ms, 0),
                        COALESCE((SELECT MAX(published_ms) FROM items WHERE node = nodes.id), 0))
             FROM nodes WHERE id = ?1",
        )?
        .query_row([node], |r| r.get(0))
        .optional()?)
}

/// Inserts a new instant node (`generic/<uuid>`) owned by `owner` and returns its id.
pub(crate) fn create_instant(
    conn: &Connection,
    owner: Option<&str>,
    now_ms: i64,
) -> Result<String, StoreError> {
    let id = format!("generic/{}", random_uuid()?);
    conn.prepare_cached("INSERT INTO nodes (id, owner, created_ms) VALUES (?1, ?2, ?3)")?
        .execute(params![id, owner, now_ms])?;
    Ok(id)
}

/// Records a node that exists elsewhere (made on the XMPP service by someone else, or a node of
/// another service that is followed), without an owner; returns whether it was new here.
pub(crate) fn record(conn: &Connection, node: &str, now_ms: i64) -> Result<bool, StoreError> {
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO nodes (id, owner, created_ms) VALUES (?1, NULL, ?2)",
        )?
        .execute(params![node, now_ms])?;
    Ok(inserted > 0)
}

/// The ids of every node stored here, sorted; with `remote`, the followed nodes of other
/// services too.
pub(crate) fn list(conn: &Connection, remote: bool) -> Result<Vec<String>, StoreError> {
    let mut nodes: Vec<String> = conn
        .prepare_cached("SELECT id FROM nodes ORDER BY id")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if !remote {
        nodes.retain(|n| !is_remote_key(n));
    }
    Ok(nodes)
}

/// The followed nodes of other services that nobody here subscribes to any more.
pub(crate) fn unused_remote(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let nodes = conn
        .prepare_cached(
            "SELECT id FROM nodes WHERE substr(id, 1, length(?1)) = ?1
             AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE node = nodes.id)",
        )?
        .query_map([REMOTE_KEY_PREFIX], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(nodes)
}

/// How many nodes of other services are followed.
pub(crate) fn count_remote(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM nodes WHERE substr(id, 1, length(?1)) = ?1")?
        .query_row([REMOTE_KEY_PREFIX], |r| r.get(0))?)
}

/// Removes a node with its items and subscriptions (after its deletion was fanned out); returns
/// whether the node was stored here.
pub(crate) fn forget(conn: &Connection, node: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM items WHERE node = ?1")?
        .execute([node])?;
    conn.prepare_cached("DELETE FROM subscriptions WHERE node = ?1")?
        .execute([node])?;
    conn.prepare_cached("DELETE FROM grants WHERE node = ?1")?
        .execute([node])?;
    conn.prepare_cached("DELETE FROM readers WHERE node = ?1")?
        .execute([node])?;
    let removed = conn
        .prepare_cached("DELETE FROM nodes WHERE id = ?1")?
        .execute([node])?;
    Ok(removed > 0)
}

/// A random version-4 UUID, formatted.
fn random_uuid() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| StoreError::Database(format!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::hex::lower(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}
