//! The `items` table: the newest payload per item id of each node, ordered by `seq` (embedded
//! mode: what was published; XMPP mode: a cache of the pubsub service's items).

use rusqlite::{Connection, OptionalExtension, params};

use super::super::error::StoreError;
use super::super::records::{Cursor, Item, ItemPage};

/// Stores `payload` as item `item_id` of `node`, as its newest item, and drops the oldest items
/// beyond `max_items` (0: no limit); returns how many it dropped.
pub(crate) fn put(
    conn: &Connection,
    node: &str,
    item: &Item,
    now_ms: i64,
    max_items: u32,
) -> Result<usize, StoreError> {
    let seq: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM items WHERE node = ?1")?
        .query_row([node], |r| r.get(0))?;
    conn.prepare_cached(
        "INSERT INTO items (node, item_id, seq, payload, published_ms, publisher)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (node, item_id) DO UPDATE SET seq = excluded.seq, payload = excluded.payload,
         published_ms = excluded.published_ms, publisher = excluded.publisher",
    )?
    .execute(params![
        node,
        item.id,
        seq,
        item.payload,
        now_ms,
        item.publisher
    ])?;
    if max_items == 0 || seq <= i64::from(max_items) {
        return Ok(0);
    }
    // By count, not by sequence number: a republished item leaves a gap in the sequence, and
    // the gap must not cost another item its place.
    Ok(conn
        .prepare_cached(
            "DELETE FROM items WHERE node = ?1 AND seq <= (SELECT seq FROM items WHERE node = ?1
             ORDER BY seq DESC LIMIT 1 OFFSET ?2)",
        )?
        .execute(params![node, max_items])?)
}

/// The payload of item `item_id` of `node`, if stored.
pub(crate) fn payload(
    conn: &Connection,
    node: &str,
    item_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT payload FROM items WHERE node = ?1 AND item_id = ?2")?
        .query_row(params![node, item_id], |r| r.get(0))
        .optional()?)
}

/// Removes item `item_id` of `node`; returns whether it was stored.
pub(crate) fn remove(conn: &Connection, node: &str, item_id: &str) -> Result<bool, StoreError> {
    let removed = conn
        .prepare_cached("DELETE FROM items WHERE node = ?1 AND item_id = ?2")?
        .execute(params![node, item_id])?;
    Ok(removed > 0)
}

/// The newest `max` items of `node`, newest first.
pub(crate) fn newest(conn: &Connection, node: &str, max: u32) -> Result<Vec<Item>, StoreError> {
    let items = conn
        .prepare_cached(
            "SELECT item_id, payload, publisher FROM items WHERE node = ?1
             ORDER BY seq DESC LIMIT ?2",
        )?
        .query_map(params![node, max], |r| {
            Ok(Item {
                id: r.get(0)?,
                payload: r.get(1)?,
                publisher: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(items)
}

/// One page of the items of `node`, newest first: those with a sequence number below `after`
/// (all with `None`), at most `max`, stopping once the payloads reach `max_bytes` (at least
/// one item). Rows are read one at a time, so a page never holds more than it serves.
pub(crate) fn page(
    conn: &Connection,
    node: &str,
    after: Option<i64>,
    max: u32,
    max_bytes: usize,
) -> Result<ItemPage, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, item_id, payload, publisher FROM items WHERE node = ?1 AND seq < ?2
         ORDER BY seq DESC LIMIT ?3",
    )?;
    let limit = i64::from(max) + 1;
    let mut rows = stmt.query(params![node, after.unwrap_or(i64::MAX), limit])?;
    let mut page = ItemPage::default();
    let (mut bytes, mut last_seq) = (0usize, None);
    while let Some(row) = rows.next()? {
        let payload: String = row.get(2)?;
        let full = page.items.len() >= max as usize
            || (!page.items.is_empty() && bytes.saturating_add(payload.len()) > max_bytes);
        if full {
            page.next = last_seq.map(Cursor::Stored);
            break;
        }
        bytes = bytes.saturating_add(payload.len());
        last_seq = Some(row.get::<_, i64>(0)?);
        page.items.push(Item {
            id: row.get(1)?,
            payload,
            publisher: row.get(3)?,
        });
    }
    Ok(page)
}

/// How many items `node` holds.
pub(crate) fn count(conn: &Connection, node: &str) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*) FROM items WHERE node = ?1")?
        .query_row([node], |r| r.get(0))?)
}

/// The newest item of `node`, if it has one.
pub(crate) fn last(conn: &Connection, node: &str) -> Result<Option<Item>, StoreError> {
    Ok(newest(conn, node, 1)?.into_iter().next())
}

/// The ids of the items of `node`, oldest first.
pub(crate) fn ids(conn: &Connection, node: &str) -> Result<Vec<String>, StoreError> {
    let ids = conn
        .prepare_cached("SELECT item_id FROM items WHERE node = ?1 ORDER BY seq")?
        .query_map([node], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}
