//! Databases written by earlier gateway versions (schemas 1 to 5) open, migrate and keep
//! working.
#![allow(clippy::unwrap_used)]

use wikisync_gateway::store::{
    Access, DropReason, PublishRequest, Standing, Store, StoreError, StoreLimits, SubscribeRequest,
};

/// The tables of schema 1, as the first gateway version created them.
const TABLES_1: &str = "
CREATE TABLE nodes (id TEXT PRIMARY KEY NOT NULL, owner TEXT, created_ms INTEGER NOT NULL);
CREATE TABLE items (node TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE, item_id TEXT NOT NULL,
    seq INTEGER NOT NULL, payload TEXT NOT NULL, published_ms INTEGER NOT NULL, PRIMARY KEY (node, item_id));
CREATE TABLE subscriptions (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, callback TEXT NOT NULL,
    secret TEXT, created_ms INTEGER NOT NULL, UNIQUE (node, callback));
CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT NOT NULL, kind TEXT NOT NULL,
    item_id TEXT, payload TEXT NOT NULL, redirect TEXT, created_ms INTEGER NOT NULL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, sub_key INTEGER NOT NULL,
    event_id INTEGER NOT NULL REFERENCES events(id), callback TEXT NOT NULL, secret TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL, first_failure_ms INTEGER);
";

/// What schema 2 (WebSub) added to schema 1.
const ADDED_IN_2: &str = "
ALTER TABLE subscriptions ADD COLUMN topic TEXT;
ALTER TABLE subscriptions ADD COLUMN expires_ms INTEGER;
ALTER TABLE outbox ADD COLUMN topic TEXT;
CREATE INDEX items_by_seq ON items(node, seq);
CREATE INDEX outbox_by_queue ON outbox(sub_key, id);
CREATE INDEX outbox_by_event ON outbox(event_id);
CREATE INDEX subscriptions_by_lease ON subscriptions(expires_ms) WHERE expires_ms IS NOT NULL;
";

/// A schema 1 database with a subscription and a pending delivery.
const DATA_1: &str = "
INSERT INTO nodes VALUES ('old', NULL, 1);
INSERT INTO subscriptions (node, callback, secret, created_ms) VALUES ('old', 'http://127.0.0.1:9/cb', NULL, 1);
INSERT INTO events (node, kind, item_id, payload, redirect, created_ms) VALUES ('old', 'item', 'i', '<entry/>', NULL, 1);
INSERT INTO outbox (sub_key, event_id, callback, secret, next_attempt_ms) VALUES (1, 1, 'http://127.0.0.1:9/cb', NULL, 1);
PRAGMA user_version = 1;
";

/// Writes a database of `sql` at `path`.
fn old_database(path: &std::path::Path, sql: &[&str]) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(&sql.concat())
        .unwrap();
}

/// The schema version of the database at `path`.
fn version_of(path: &std::path::Path) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn schema_1_is_migrated_and_its_outbox_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    old_database(&path, &[TABLES_1, DATA_1]);
    let store = Store::open(&path, StoreLimits::default(), None).unwrap();
    assert_eq!(
        store.outbox_len().await.unwrap(),
        1,
        "pending delivery kept"
    );
    let batch = store.advance(1, Vec::new(), 10).await.unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].topic, None);
    // The new columns work: a WebSub subscription and a publish reaching both subscribers.
    store
        .websub_subscribe(SubscribeRequest {
            node: "old".to_owned(),
            callback: "http://127.0.0.1:9/ws".to_owned(),
            secret: None,
            topic: Some("xmpp:svc?;node=old".to_owned()),
            expires_ms: Some(i64::MAX),
            now_ms: 2,
        })
        .await
        .unwrap();
    store
        .publish(PublishRequest {
            node: Some("old".to_owned()),
            item_id: "j".to_owned(),
            payload: "<entry/>".to_owned(),
            owner: None,
            publisher: None,
            now_ms: 3,
        })
        .await
        .unwrap();
    assert_eq!(store.outbox_len().await.unwrap(), 3);
    drop(store);
    assert_eq!(version_of(&path), 6);
}

/// A schema 2 database (WebSub, before leases on /subscribe and remembered drops) with a
/// subscription and a pending delivery.
const DATA_2: &str = "
INSERT INTO nodes VALUES ('wiki', NULL, 1);
INSERT INTO items VALUES ('wiki', 'urn:p', 1, '<entry/>', 1);
INSERT INTO subscriptions (node, callback, secret, created_ms) VALUES ('wiki', 'http://127.0.0.1:9/cb', 's', 1);
INSERT INTO events (node, kind, item_id, payload, redirect, created_ms) VALUES ('wiki', 'item', 'urn:p', '<entry/>', NULL, 1);
INSERT INTO outbox (sub_key, event_id, callback, secret, next_attempt_ms) VALUES (1, 1, 'http://127.0.0.1:9/cb', 's', 1);
PRAGMA user_version = 2;
";

#[tokio::test]
async fn schema_2_is_migrated_and_its_subscriptions_can_be_asked_about_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    old_database(&path, &[TABLES_1, ADDED_IN_2, DATA_2]);
    let store = Store::open(&path, StoreLimits::default(), None).unwrap();
    let cb = "http://127.0.0.1:9/cb".to_owned();
    let state = store
        .subscription_state("wiki".to_owned(), cb.clone())
        .await
        .unwrap()
        .expect("the old subscription");
    assert_eq!(state.standing, Standing::Active);
    assert_eq!(
        (state.pending_deliveries, state.last_delivery_ms),
        (1, None)
    );
    // A delivery acknowledged now is remembered (the new column), and a drop is recorded.
    let batch = store.advance(1, Vec::new(), 10).await.unwrap();
    store.advance(1, vec![batch[0].id], 0).await.unwrap();
    let state = store
        .subscription_state("wiki".to_owned(), cb.clone())
        .await
        .unwrap()
        .unwrap();
    assert!(state.last_delivery_ms.is_some());
    store.drop_subscriber(1, DropReason::Gone).await.unwrap();
    let state = store
        .subscription_state("wiki".to_owned(), cb)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            state.standing,
            Standing::Dropped {
                reason: DropReason::Gone,
                ..
            }
        ),
        "{state:?}"
    );
    assert!(state.secret_digest.is_some(), "the secret's digest is kept");
    assert_eq!(store.items("wiki", 10).await.unwrap().len(), 1);
    drop(store);
    assert_eq!(version_of(&path), 6);
}

/// What schema 3 (leases on /subscribe, remembered drops) added to schema 2.
const ADDED_IN_3: &str = "
ALTER TABLE subscriptions ADD COLUMN last_delivery_ms INTEGER;
PRAGMA user_version = 3;
";

#[tokio::test]
async fn schema_3_is_migrated_and_its_nodes_take_heartbeats() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    old_database(&path, &[TABLES_1, ADDED_IN_2, DATA_2, ADDED_IN_3]);
    let store = Store::open(&path, StoreLimits::default(), None).unwrap();
    // The old node was last seen at its newest item (published at 1 ms).
    assert_eq!(store.source_seen("wiki".to_owned()).await.unwrap(), Some(1));
    store.heartbeat("wiki".to_owned(), None, 7).await.unwrap();
    assert_eq!(store.source_seen("wiki".to_owned()).await.unwrap(), Some(7));
    drop(store);
    assert_eq!(version_of(&path), 6);
}

/// What schema 4 (heartbeats) added to schema 3.
const ADDED_IN_4: &str = "
ALTER TABLE nodes ADD COLUMN heartbeat_ms INTEGER;
PRAGMA user_version = 4;
";

#[tokio::test]
async fn schema_4_is_migrated_and_its_items_get_publishers_and_its_nodes_grants() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    let owned = "UPDATE nodes SET owner = 'site:siteA' WHERE id = 'wiki';";
    old_database(
        &path,
        &[TABLES_1, ADDED_IN_2, DATA_2, ADDED_IN_3, ADDED_IN_4, owned],
    );
    let store = Store::open(&path, StoreLimits::default(), None).unwrap();
    let old = store.items("wiki", 10).await.unwrap();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].publisher, None, "an old item's publisher is unknown");
    let publish = |site: &str| PublishRequest {
        node: Some("wiki".to_owned()),
        item_id: "new".to_owned(),
        payload: "<entry/>".to_owned(),
        owner: Some(format!("site:{site}")),
        publisher: Some(site.to_owned()),
        now_ms: 9,
    };
    assert_eq!(
        store.publish(publish("siteB")).await,
        Err(StoreError::NotOwner),
        "not granted yet"
    );
    store
        .grant(
            "wiki".to_owned(),
            "siteB".to_owned(),
            Some("site:siteA".to_owned()),
            8,
        )
        .await
        .unwrap();
    store.publish(publish("siteB")).await.unwrap();
    let items = store.items("wiki", 10).await.unwrap();
    assert_eq!(items[0].publisher.as_deref(), Some("siteB"));
    drop(store);
    assert_eq!(version_of(&path), 6);
}

/// What schema 5 (publishers, grants) added to schema 4.
const ADDED_IN_5: &str = "
ALTER TABLE items ADD COLUMN publisher TEXT;
ALTER TABLE events ADD COLUMN publisher TEXT;
CREATE TABLE grants (node TEXT NOT NULL REFERENCES nodes(id) ON DELETE CASCADE, site TEXT NOT NULL,
    created_ms INTEGER NOT NULL, PRIMARY KEY (node, site));
PRAGMA user_version = 5;
";

#[tokio::test]
async fn schema_5_is_migrated_and_its_nodes_stay_open_until_restricted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    let owned = "UPDATE nodes SET owner = 'site:siteA' WHERE id = 'wiki';";
    old_database(
        &path,
        &[
            TABLES_1, ADDED_IN_2, DATA_2, ADDED_IN_3, ADDED_IN_4, owned, ADDED_IN_5,
        ],
    );
    let store = Store::open(&path, StoreLimits::default(), None).unwrap();
    let owner = || Some("site:siteA".to_owned());
    assert_eq!(
        store.read_policy("wiki".to_owned()).await.unwrap(),
        None,
        "an old node stays open"
    );
    let (access, readers) = store.readers("wiki".to_owned(), owner()).await.unwrap();
    assert_eq!((access, readers.len()), (Access::Open, 0));
    store
        .set_access("wiki".to_owned(), Access::Restricted, owner())
        .await
        .unwrap();
    store
        .add_reader("wiki".to_owned(), "r1".to_owned(), [7; 32], owner(), 5)
        .await
        .unwrap();
    let policy = store.read_policy("wiki".to_owned()).await.unwrap().unwrap();
    assert_eq!(policy.owner.as_deref(), Some("site:siteA"));
    assert_eq!(policy.readers, vec![[7; 32]]);
    assert_eq!(
        store.items("wiki", 10).await.unwrap().len(),
        1,
        "items kept"
    );
    drop(store);
    assert_eq!(version_of(&path), 6);
}
