//! Helpers shared by the gateway's integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use tower::ServiceExt;
use wikisync_gateway::config::Config;
use wikisync_gateway::delivery::{self, DeliveryMetrics};
use wikisync_gateway::http::{AppState, app};
use wikisync_gateway::store::{SqliteStore, Store, StoreLimits};

pub const SERVICE: &str = "pubsub.example.org";

pub fn entry(id: &str, text: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>{id}</id><title>{text}</title><updated>2026-01-01T00:00:00Z</updated><author><name>a</name></author><content>{text}</content></entry>"
    )
}

pub struct Api {
    pub router: Router,
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

pub fn config() -> Config {
    Config {
        service: SERVICE.to_owned(),
        verify: false,
        ..Config::default()
    }
}

pub fn api_with(config: Config) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        &dir.path().join("g.sqlite3"),
        StoreLimits {
            max_items_per_node: config.max_items_per_node,
            max_subscriptions_per_node: config.max_subscriptions_per_node,
        },
        None,
    )
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let state = AppState::new(
        store.clone(),
        config,
        delivery::http_client(),
        Arc::new(DeliveryMetrics::default()),
    );
    Api {
        router: app(state),
        store,
        _dir: dir,
    }
}

pub fn api() -> Api {
    api_with(config())
}

pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts an error reply: status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.json()["error"], code, "body: {}", self.body);
        assert!(
            self.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    pub fn uri(&self) -> String {
        assert_eq!(self.status, 200, "body: {}", self.body);
        self.json()["uri"].as_str().unwrap().to_owned()
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response: Response<Body> = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn post(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(body.into()).unwrap()
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub const ENTRY_TYPE: &str = "application/atom+xml;type=entry;charset=utf-8";
