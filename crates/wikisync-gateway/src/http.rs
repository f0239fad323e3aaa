//! The HTTP interface: Idavoll's endpoints (drop-in), plus `/healthz` and `/metrics`.
//!
//! [`app`] builds the router from an [`AppState`], so tests drive it with
//! `tower::ServiceExt::oneshot` and no socket. Every error is JSON
//! `{"error": "<code>", "message": "<sentence>"}` (see [`crate::error`]); the codes per endpoint
//! are listed in `docs/gateway.md`.
//!
//! | endpoint | success | notes |
//! |---|---|---|
//! | `POST /create` | 200 `{"uri"}` | new instant node `generic/<uuid>` |
//! | `POST /publish[?uri=][&item=]` | 200 `{"uri"}` | body = Atom entry; no `uri`: new instant node; item id = `item`, else the entry's `atom:id`, else `current`; empty body: retract `item`, or delete the node when no `item` is given |
//! | `POST /delete?uri=` | 204 | optional JSON body `{"redirect_uri": "xmpp:…"}` |
//! | `GET /list` | 200 `["node", …]` | |
//! | `POST /subscribe` | 204 | JSON `{"uri", "callback", "secret"?}`; verified unless `--no-verify`; the newest item is queued for the new subscriber |
//! | `POST /unsubscribe` | 204 | JSON `{"uri", "callback"}`; verified unless `--no-verify` |
//! | `GET /items?uri=[&max_items=]` | 200 Atom feed, newest first | |
//! | `POST /hub` | 202 | WebSub hub, form-encoded `hub.mode` subscribe / unsubscribe / publish; see [`crate::hub`] |
//! | `GET /openapi.json` | 200 OpenAPI 3.1 document of this API | |
//! | `GET /healthz` | 200 `{"status": "ok", "outbox": n}` (+ `"xmpp"` state in XMPP mode) | 503 when the store has stopped |
//! | `GET /metrics` | 200 Prometheus text | |
//!
//! Compatibility notes: like Idavoll, a missing node is 404 on `/publish`, `/delete` and `/items`
//! but **403** on `/subscribe` and `/unsubscribe`; an existing or missing subscription is 403.
//! Unlike Idavoll, malformed input is 400 (never 500), and node URIs in answers and callbacks
//! are canonical (`xmpp:<service>?;node=<id>`, see [`crate::uri`]), including a redirect URI.
//! In XMPP mode `/subscribe`, `/unsubscribe` and `/items` also take nodes of other pubsub
//! services (remote subscriptions, Idavoll's remote-node resources; see [`crate::xmpp`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::atom;
use crate::config::Config;
use crate::delivery::{self, DeliveryMetrics, HttpClient};
use crate::error::ApiError;
use crate::exposition::Exposition;
use crate::store::{PublishRequest, Store, StoreError, SubscribeRequest};
use crate::uri::{NodeUri, REMOTE_KEY_PREFIX, is_remote_key};

/// Longest callback URL accepted, in bytes.
pub const MAX_CALLBACK_LEN: usize = 2048;
/// Longest subscription secret accepted, in bytes (WebSub's limit).
pub const MAX_SECRET_LEN: usize = 199;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: Config,
    client: HttpClient,
    /// (token, owner id) pairs; the owner id is a hash prefix, never the token.
    tokens: Vec<(Vec<u8>, String)>,
    delivery_metrics: Arc<DeliveryMetrics>,
    publishes: AtomicU64,
}

impl AppState {
    /// State over `store`, using `client` for verification requests.
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        client: HttpClient,
        delivery_metrics: Arc<DeliveryMetrics>,
    ) -> Self {
        let tokens = config
            .tokens
            .iter()
            .map(|t| (t.as_bytes().to_vec(), owner_id(t)))
            .collect();
        Self {
            inner: Arc::new(Inner {
                store,
                config,
                client,
                tokens,
                delivery_metrics,
                publishes: AtomicU64::new(0),
            }),
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("service", &self.inner.config.service)
            .finish_non_exhaustive()
    }
}

/// The owner id recorded for nodes created with `token`: `token:` + 16 hex digits of its SHA-256.
pub fn owner_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!("token:{}", &crate::hex(&digest)[..16])
}

/// The OpenAPI 3.1 document of the whole HTTP API, served at `/openapi.json`.
///
/// It is checked in as `openapi.json` beside the crate's `Cargo.toml`; a test keeps its paths
/// and methods equal to [`routes`], and `scripts/test-gateway-openapi` runs schemathesis with it
/// against a running gateway.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// Every endpoint: path, its one method, and its handler (the router is built from this list).
pub fn routes() -> Vec<(&'static str, axum::http::Method, MethodRouter<AppState>)> {
    use axum::http::Method;
    vec![
        ("/create", Method::POST, only_post(post(create))),
        ("/publish", Method::POST, only_post(post(publish))),
        ("/delete", Method::POST, only_post(post(delete))),
        ("/subscribe", Method::POST, only_post(post(subscribe))),
        ("/unsubscribe", Method::POST, only_post(post(unsubscribe))),
        ("/hub", Method::POST, only_post(post(crate::hub::hub))),
        ("/list", Method::GET, only_get(get(list))),
        ("/items", Method::GET, only_get(get(items))),
        ("/healthz", Method::GET, only_get(get(healthz))),
        ("/metrics", Method::GET, only_get(get(metrics))),
        ("/openapi.json", Method::GET, only_get(get(openapi))),
    ]
}

/// The router with every endpoint.
pub fn app(state: AppState) -> Router {
    let limit = state.inner.config.max_body_bytes;
    routes()
        .into_iter()
        .fold(Router::new(), |router, (path, _, route)| {
            router.route(path, route)
        })
        .fallback(|| async {
            ApiError::not_found("no_such_endpoint", "no such endpoint; see /openapi.json")
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
}

fn only_post(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async { ApiError::method_not_allowed("POST") })
}

fn only_get(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async { ApiError::method_not_allowed("GET, HEAD") })
}

type ApiResult<T> = Result<T, ApiError>;

impl AppState {
    fn service(&self) -> &str {
        &self.inner.config.service
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(crate) fn client(&self) -> &HttpClient {
        &self.inner.client
    }

    /// The caller's owner id: `None` with open publishing, else the id of a valid bearer token.
    pub(crate) fn owner(&self, headers: &HeaderMap) -> ApiResult<Option<String>> {
        if self.inner.tokens.is_empty() {
            return Ok(None);
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "this gateway requires 'Authorization: Bearer <token>' to publish",
                )
            })?;
        self.inner
            .tokens
            .iter()
            .find(|(token, _)| constant_time_eq(token, given.as_bytes()))
            .map(|(_, owner)| Some(owner.clone()))
            .ok_or_else(|| ApiError::unauthorized("the bearer token is not valid"))
    }

    /// Parses a node URI naming a node of this service.
    pub(crate) fn local_uri(&self, field: &str, text: &str) -> ApiResult<NodeUri> {
        let uri = NodeUri::parse(text).map_err(|e| ApiError::bad_uri(field, &e))?;
        if uri.service() != self.service() {
            return Err(ApiError::not_found(
                "unknown_service",
                format!(
                    "this gateway serves '{}', not '{}'",
                    self.service(),
                    uri.service()
                ),
            ));
        }
        Ok(uri)
    }

    /// Like [`Self::local_uri`], refusing the root collection and reserved node ids.
    fn leaf_uri(&self, field: &str, text: &str) -> ApiResult<NodeUri> {
        let uri = self.local_uri(field, text)?;
        if uri.is_root() {
            return Err(ApiError::bad_request(
                "root_node",
                format!(
                    "{field} names the root collection; give a node (xmpp:<service>?;node=<id>)"
                ),
            ));
        }
        if is_remote_key(uri.node()) {
            return Err(reserved_node());
        }
        Ok(uri)
    }

    /// Parses the node URI of a subscription or an item read, and gives the node's storage
    /// key: a node of this service, or (XMPP mode: remote subscriptions, as Idavoll's
    /// remote-node resources) a node of any other pubsub service.
    pub(crate) fn subscribable_uri(&self, field: &str, text: &str) -> ApiResult<(NodeUri, String)> {
        let uri = NodeUri::parse(text).map_err(|e| ApiError::bad_uri(field, &e))?;
        if uri.service() == self.service() {
            if is_remote_key(uri.node()) {
                return Err(reserved_node());
            }
            let key = crate::uri::storage_key(&uri, self.service());
            return Ok((uri, key));
        }
        if !self.inner.store.remote_nodes() {
            return Err(ApiError::not_found(
                "unknown_service",
                format!(
                    "this gateway serves '{}', not '{}' (nodes of other services can be subscribed to in XMPP mode only)",
                    self.service(),
                    uri.service()
                ),
            ));
        }
        if uri.is_root() {
            return Err(ApiError::bad_request(
                "root_node",
                format!(
                    "{field} names the root collection of another service; give one of its nodes (xmpp:<service>?;node=<id>)"
                ),
            ));
        }
        let key = crate::uri::storage_key(&uri, self.service());
        Ok((uri, key))
    }

    fn uri_json(&self, node: &str) -> Json<serde_json::Value> {
        Json(json!({ "uri": NodeUri::new(self.service(), node).to_string() }))
    }
}

fn reserved_node() -> ApiError {
    ApiError::bad_request(
        "reserved_node",
        format!(
            "node ids starting with '{REMOTE_KEY_PREFIX}' are reserved (the gateway stores nodes of other services under their URI)"
        ),
    )
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> ApiResult<Bytes> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::body_too_large(limit)
        } else {
            ApiError::bad_request("bad_body", "the request body could not be read")
        }
    })
}

/// Checks `Content-Type: application/atom+xml[;type=entry][;charset=utf-8]`.
fn check_entry_content_type(headers: &HeaderMap) -> ApiResult<()> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_content_type",
                "no Content-Type; send application/atom+xml;type=entry;charset=utf-8",
            )
        })?
        .to_str()
        .map_err(|_| {
            ApiError::unsupported_media_type("the Content-Type header is not readable text")
        })?;
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/atom+xml") {
        return Err(ApiError::unsupported_media_type(format!(
            "Content-Type '{essence}' is not accepted; send application/atom+xml;type=entry;charset=utf-8"
        )));
    }
    for param in parts {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match key.trim().to_ascii_lowercase().as_str() {
            "type" if !value.eq_ignore_ascii_case("entry") => {
                return Err(ApiError::unsupported_media_type(format!(
                    "type={value} is not accepted; publish one entry (type=entry) per request"
                )));
            }
            "charset" if !value.eq_ignore_ascii_case("utf-8") => {
                return Err(ApiError::unsupported_media_type(format!(
                    "charset={value} is not accepted; entries must be UTF-8"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

async fn create(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let node = state
        .inner
        .store
        .create_node(owner, delivery::now_ms())
        .await?;
    Ok(state.uri_json(&node).into_response())
}

async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body, state.inner.config.max_body_bytes)?;
    let owner = state.owner(&headers)?;
    let uri = query_param(query.as_deref(), "uri")
        .map(|u| state.leaf_uri("uri", &u))
        .transpose()?;
    let item = query_param(query.as_deref(), "item").filter(|i| !i.is_empty());
    let store = &state.inner.store;
    let now = delivery::now_ms();
    if body.iter().all(u8::is_ascii_whitespace) {
        let uri = uri.ok_or_else(|| {
            ApiError::bad_request(
                "missing_uri",
                "an empty body deletes a node (or, with item=, retracts an item); give the node's uri",
            )
        })?;
        let node = uri.node().to_owned();
        match item {
            Some(item) => store.retract(node.clone(), item, owner, now).await?,
            None => store.delete_node(node.clone(), None, owner, now).await?,
        }
        return Ok(state.uri_json(&node).into_response());
    }
    check_entry_content_type(&headers)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("bad_encoding", "the entry is not valid UTF-8"))?;
    let info = atom::scan_entry(text)
        .map_err(|e| ApiError::bad_request("malformed_entry", e.to_string()))?;
    let item_id = item.or(info.id).unwrap_or_else(|| "current".to_owned());
    let node = store
        .publish(PublishRequest {
            node: uri.map(|u| u.node().to_owned()),
            item_id,
            payload: text.to_owned(),
            owner,
            now_ms: now,
        })
        .await?;
    state.inner.publishes.fetch_add(1, Ordering::Relaxed);
    Ok(state.uri_json(&node).into_response())
}

#[derive(Deserialize)]
struct DeleteBody {
    redirect_uri: Option<String>,
}

async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body, state.inner.config.max_body_bytes)?;
    let owner = state.owner(&headers)?;
    let uri = query_param(query.as_deref(), "uri").ok_or_else(|| {
        ApiError::bad_request("missing_uri", "give the node to delete as ?uri=<xmpp uri>")
    })?;
    let uri = state.leaf_uri("uri", &uri)?;
    let redirect = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let parsed: DeleteBody = serde_json::from_slice(&body).map_err(|e| {
            ApiError::bad_request(
                "bad_json",
                format!("the body is not the expected JSON: {e}"),
            )
        })?;
        parsed
            .redirect_uri
            .map(|r| {
                NodeUri::parse(&r)
                    .map(|u| u.to_string())
                    .map_err(|e| ApiError::bad_uri("redirect_uri", &e))
            })
            .transpose()?
    };
    state
        .inner
        .store
        .delete_node(uri.node().to_owned(), redirect, owner, delivery::now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(Json(state.inner.store.list_nodes().await?).into_response())
}

#[derive(Deserialize)]
struct SubscriptionBody {
    uri: String,
    callback: String,
    secret: Option<String>,
}

fn parse_subscription(body: &[u8]) -> ApiResult<SubscriptionBody> {
    let parsed: SubscriptionBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!(
                "the body must be JSON {{\"uri\": \"xmpp:...\", \"callback\": \"http://...\"}}: {e}"
            ),
        )
    })?;
    check_callback(&parsed.callback)?;
    if let Some(secret) = &parsed.secret
        && (secret.is_empty() || secret.len() > MAX_SECRET_LEN)
    {
        return Err(ApiError::bad_request(
            "bad_secret",
            format!("secret must be 1 to {MAX_SECRET_LEN} bytes"),
        ));
    }
    Ok(parsed)
}

pub(crate) fn check_callback(callback: &str) -> ApiResult<()> {
    if callback.len() > MAX_CALLBACK_LEN {
        return Err(ApiError::bad_request(
            "bad_callback",
            format!("callback is longer than {MAX_CALLBACK_LEN} bytes"),
        ));
    }
    let uri: axum::http::Uri = callback.parse().map_err(|_| {
        ApiError::bad_request("bad_callback", "callback is not a valid absolute URL")
    })?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(ApiError::bad_request(
            "bad_callback",
            "callback must be an http:// or https:// URL",
        ));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "bad_callback",
            "callback has no host",
        ));
    }
    Ok(())
}

/// A missing node is 403 on the subscription endpoints, as in Idavoll.
fn subscription_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NodeNotFound(node) if is_remote_key(&node) => ApiError::forbidden(
            "node_not_found",
            format!("no node {node}: its pubsub service says it does not exist"),
        ),
        StoreError::NodeNotFound(node) => ApiError::forbidden(
            "node_not_found",
            format!("no node '{node}' on this service"),
        ),
        other => other.into(),
    }
}

async fn verify(state: &AppState, callback: &str, mode: &str, topic: &NodeUri) -> ApiResult<()> {
    if !state.inner.config.verify {
        return Ok(());
    }
    delivery::verify_intent(
        &state.inner.client,
        callback,
        mode,
        &topic.to_string(),
        None,
        state.inner.config.callback_timeout,
    )
    .await
    .map_err(|e| {
        ApiError::forbidden(
            "verification_failed",
            format!("verification of intent failed: {e}"),
        )
    })
}

async fn subscribe(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body, state.inner.config.max_body_bytes)?;
    let req = parse_subscription(&body)?;
    let (uri, node) = state.subscribable_uri("uri", &req.uri)?;
    let store = &state.inner.store;
    if !store.node_exists(node.clone()).await? {
        return Err(subscription_error(StoreError::NodeNotFound(node)));
    }
    if store
        .is_subscribed(node.clone(), req.callback.clone())
        .await?
    {
        return Err(StoreError::SubscriptionExists.into());
    }
    verify(&state, &req.callback, "subscribe", &uri).await?;
    store
        .subscribe(SubscribeRequest {
            node,
            callback: req.callback,
            secret: req.secret,
            topic: None,
            expires_ms: None,
            now_ms: delivery::now_ms(),
        })
        .await
        .map_err(subscription_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn unsubscribe(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body, state.inner.config.max_body_bytes)?;
    let req = parse_subscription(&body)?;
    let (uri, node) = state.subscribable_uri("uri", &req.uri)?;
    let store = &state.inner.store;
    if !store.node_exists(node.clone()).await? {
        return Err(subscription_error(StoreError::NodeNotFound(node)));
    }
    if !store
        .is_subscribed(node.clone(), req.callback.clone())
        .await?
    {
        return Err(StoreError::NoSubscription.into());
    }
    verify(&state, &req.callback, "unsubscribe", &uri).await?;
    store
        .unsubscribe(node, req.callback)
        .await
        .map_err(subscription_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn items(State(state): State<AppState>, RawQuery(query): RawQuery) -> ApiResult<Response> {
    let uri = query_param(query.as_deref(), "uri")
        .ok_or_else(|| ApiError::bad_request("missing_uri", "give the node as ?uri=<xmpp uri>"))?;
    let (uri, node) = state.subscribable_uri("uri", &uri)?;
    if uri.is_root() {
        return Err(ApiError::bad_request(
            "root_node",
            "uri names the root collection; give a node (xmpp:<service>?;node=<id>)",
        ));
    }
    let max = match query_param(query.as_deref(), "max_items") {
        None => state.inner.config.max_items_per_node,
        Some(text) => text.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::bad_request(
                "bad_max_items",
                "max_items must be a whole number of at least 1",
            )
        })?,
    };
    let items = state.inner.store.items(&node, max).await?;
    let payloads: Vec<String> = items.into_iter().map(|i| i.payload).collect();
    let feed = atom::items_feed(
        &uri.to_string(),
        &atom::rfc3339(delivery::now_ms()),
        &payloads,
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/atom+xml;type=feed;charset=utf-8"),
        )],
        feed,
    )
        .into_response())
}

async fn healthz(State(state): State<AppState>) -> ApiResult<Response> {
    let outbox = state.inner.store.outbox_len().await?;
    let body = match state.inner.store.xmpp_status().await? {
        // XMPP mode: still 200 while the XMPP server is away (publishes are queued durably and
        // sent after reconnecting), but the status says so.
        Some(x) => json!({
            "status": if x.connected { "ok" } else { "degraded" },
            "outbox": outbox,
            "xmpp": {
                "connected": x.connected,
                "sessions": x.sessions,
                "pending_ops": x.pending_ops,
                "remote_nodes": x.remote_nodes,
                "remote_unreachable": x.remote_unreachable,
            },
        }),
        None => json!({ "status": "ok", "outbox": outbox }),
    };
    Ok(Json(body).into_response())
}

/// The XMPP part of `/metrics`.
fn xmpp_metrics(e: &mut Exposition, x: &crate::xmpp::XmppStatus) {
    e.family(
        "wikisync_gateway_xmpp_connected",
        "gauge",
        "Whether the component is connected to the XMPP server.",
        &[("", u64::from(x.connected))],
    );
    e.family(
        "wikisync_gateway_xmpp_sessions_total",
        "counter",
        "XMPP sessions established (1 + reconnects).",
        &[("", x.sessions)],
    );
    e.family(
        "wikisync_gateway_xmpp_ops_pending",
        "gauge",
        "Operations waiting for the pubsub service.",
        &[("", x.pending_ops)],
    );
    e.family(
        "wikisync_gateway_xmpp_ops_total",
        "counter",
        "Operations the pubsub service answered.",
        &[
            ("{result=\"accepted\"}", x.ops_sent),
            ("{result=\"refused\"}", x.ops_refused),
        ],
    );
    e.family(
        "wikisync_gateway_xmpp_events_total",
        "counter",
        "Pubsub events received and applied.",
        &[("", x.events)],
    );
    e.family(
        "wikisync_gateway_xmpp_remote_nodes",
        "gauge",
        "Nodes of other services followed.",
        &[("", x.remote_nodes)],
    );
    e.family(
        "wikisync_gateway_xmpp_remote_unreachable",
        "gauge",
        "Followed nodes of other services whose service could not be reached (retried).",
        &[("", x.remote_unreachable)],
    );
}

async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let outbox = state.inner.store.outbox_len().await?;
    let xmpp = state.inner.store.xmpp_status().await?;
    let m = &state.inner.delivery_metrics;
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut e = Exposition::default();
    e.family(
        "wikisync_gateway_publishes_total",
        "counter",
        "Entries accepted by /publish.",
        &[("", load(&state.inner.publishes))],
    );
    e.family(
        "wikisync_gateway_deliveries_total",
        "counter",
        "Callbacks that answered 2xx.",
        &[("", load(&m.delivered))],
    );
    e.family(
        "wikisync_gateway_delivery_failures_total",
        "counter",
        "Failed delivery attempts.",
        &[("", load(&m.failed_attempts))],
    );
    e.family(
        "wikisync_gateway_unsubscribed_total",
        "counter",
        "Subscriptions removed by the gateway.",
        &[
            ("{reason=\"gone\"}", load(&m.unsubscribed_gone)),
            ("{reason=\"failure_budget\"}", load(&m.unsubscribed_budget)),
        ],
    );
    e.family(
        "wikisync_gateway_outbox_pending",
        "gauge",
        "Deliveries waiting in the outbox.",
        &[("", outbox)],
    );
    if let Some(x) = xmpp {
        xmpp_metrics(&mut e, &x);
    }
    let text = e.into_text();
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response())
}
