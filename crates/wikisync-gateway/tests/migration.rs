//! A database written by the first gateway version (schema 1) opens, migrates and keeps working.
#![allow(clippy::unwrap_used)]

use wikisync_gateway::store::{PublishRequest, Store, StoreLimits, SubscribeRequest};

const SCHEMA_1: &str = "
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
INSERT INTO nodes VALUES ('old', NULL, 1);
INSERT INTO subscriptions (node, callback, secret, created_ms) VALUES ('old', 'http://127.0.0.1:9/cb', NULL, 1);
INSERT INTO events (node, kind, item_id, payload, redirect, created_ms) VALUES ('old', 'item', 'i', '<entry/>', NULL, 1);
INSERT INTO outbox (sub_key, event_id, callback, secret, next_attempt_ms) VALUES (1, 1, 'http://127.0.0.1:9/cb', NULL, 1);
PRAGMA user_version = 1;
";

#[tokio::test]
async fn schema_1_is_migrated_and_its_outbox_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.sqlite3");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(SCHEMA_1)
        .unwrap();
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
            now_ms: 3,
        })
        .await
        .unwrap();
    assert_eq!(store.outbox_len().await.unwrap(), 3);
    drop(store);
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}
