//! WebSub: the hub endpoint `POST /hub`, over the same store as the Idavoll API.
//!
//! Standard WebSub subscribers and publishers (W3C WebSub, 2018) can use the gateway: requests
//! are `application/x-www-form-urlencoded`, unknown parameters are ignored.
//!
//! # Topics
//!
//! A topic is a node. `hub.topic` (and `hub.url`) may be
//!
//! - the node's XMPP URI, in any form [`crate::uri::NodeUri::parse`] accepts
//!   (`xmpp:<service>?;node=<id>`; `xmpp:<service>` alone is the root collection: every node), or
//! - the node's feed on this gateway, `http(s)://<host>[/prefix]/items?uri=<node URI>` (the
//!   host is not checked: proxies rewrite it).
//!
//! The topic string is kept as the subscriber gave it and sent back as `rel="self"`.
//!
//! # Modes
//!
//! | `hub.mode` | parameters | answer | then |
//! |---|---|---|---|
//! | `subscribe` | `hub.callback`, `hub.topic`, `hub.lease_seconds`?, `hub.secret`? | 202 | verification GET with `hub.mode`, `hub.topic`, `hub.challenge`, `hub.lease_seconds`; on an echoed challenge the subscription is added or renewed (key: node + callback) |
//! | `unsubscribe` | `hub.callback`, `hub.topic` | 202 | verification GET; on success the subscription and its queue are removed |
//! | `publish` | `hub.url` or `hub.topic` (repeatable) | 202 | the node's newest item is queued again for every subscriber |
//!
//! Verification of intent is always done on this endpoint (WebSub subscribers expect it;
//! `--no-verify` only concerns `/subscribe` and `/unsubscribe`). A subscription that cannot be
//! made (no such node, subscription limit reached) is refused with a `GET` of the callback with
//! `hub.mode=denied`, `hub.topic` and `hub.reason`. Leases default to
//! [`DEFAULT_LEASE_SECONDS`] and are clamped to [`MIN_LEASE_SECONDS`]..=[`MAX_LEASE_SECONDS`]
//! (settings: `--lease-default-secs`, `--lease-min-secs`, `--lease-max-secs`, shared with the
//! leases of `/subscribe`); an expired subscription receives nothing and is removed within
//! seconds (remembered as `lease_expired`, like an unsubscription as `unsubscribed`). `publish` needs a
//! publisher token when tokens are configured.
//!
//! Deliveries to WebSub subscribers are fat pings: `Content-Type:
//! application/atom+xml;type=feed;charset=utf-8` (the type of `/items`), body = an Atom feed
//! holding the new entry (or, for a retraction, an RFC 6721 `at:deleted-entry`, with `Event:
//! RETRACTED`), `Link: <hub>; rel="hub", <topic>; rel="self"`, and `X-Hub-Signature:
//! sha256=<hex>` with a secret. A node deletion is a `hub.mode=denied` GET.
//!
//! Errors are 4xx with a plain-text body `<code>: <message>` (`text/plain; charset=utf-8`), as
//! WebSub asks of hubs; a client whose `Accept` names `application/json` gets the gateway's JSON
//! body `{"error", "message"}` instead, like every other endpoint. The codes are the same.
//!
//! A new WebSub subscriber does **not** get the node's newest item (unlike `POST /subscribe`,
//! which keeps Idavoll's behaviour): WebSub subscribers fetch the topic themselves (the node's
//! feed, `GET /items`), and a lease renewal, which is a subscribe request too, must not
//! re-deliver. A `hub.mode=publish` ping re-sends the newest item to every subscriber.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::input::{Peer, body_bytes, check_callback, check_secret, peer_ip};
use super::state::AppState;
use crate::delivery;
use crate::error::{ApiError, ApiResult};
use crate::store::{StoreError, SubscribeRequest};
use crate::time::now_ms;
use crate::uri::NodeUri;

/// Lease given when the subscriber asks for none, by default (`--lease-default-secs`): 10 days,
/// as WebSub suggests.
pub const DEFAULT_LEASE_SECONDS: u64 = 10 * 86_400;
/// Shortest lease granted by default (`--lease-min-secs`; shorter requests get this).
pub const MIN_LEASE_SECONDS: u64 = 60;
/// Longest lease granted by default (`--lease-max-secs`; longer requests get this): 30 days.
pub const MAX_LEASE_SECONDS: u64 = 30 * 86_400;

/// A parsed `hub.mode=subscribe|unsubscribe` request.
struct SubscriptionRequest {
    subscribe: bool,
    callback: String,
    topic: String,
    node: NodeUri,
    lease_seconds: u64,
    secret: Option<String>,
}

fn check_form_content_type(headers: &HeaderMap) -> ApiResult<()> {
    let value = headers
        .get(header::CONTENT_TYPE)
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_content_type",
                "no Content-Type; send application/x-www-form-urlencoded",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::unsupported_media_type("the Content-Type header is not readable"))?;
    let essence = value.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "Content-Type '{essence}' is not accepted; send application/x-www-form-urlencoded"
        )))
    }
}

/// Maps a topic URL to a node of this service (see the module documentation).
pub(crate) fn topic_node(state: &AppState, topic: &str) -> ApiResult<NodeUri> {
    let bad = || {
        ApiError::bad_request(
            "bad_topic",
            "hub.topic must be a node URI (xmpp:<service>?;node=<id>) or this gateway's feed URL (http://<host>/items?uri=<node URI>)",
        )
    };
    if topic.len() > crate::uri::MAX_URI_LEN {
        return Err(bad());
    }
    if topic
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("xmpp:"))
    {
        return state.local_uri("hub.topic", topic);
    }
    let url: axum::http::Uri = topic.parse().map_err(|_| bad())?;
    if !matches!(url.scheme_str(), Some("http" | "https")) || !url.path().ends_with("/items") {
        return Err(bad());
    }
    let uri = form_urlencoded::parse(url.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "uri")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(bad)?;
    state.local_uri("hub.topic", &uri)
}

fn parse_subscription(
    state: &AppState,
    subscribe: bool,
    params: &[(String, String)],
) -> ApiResult<SubscriptionRequest> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let callback = get("hub.callback")
        .ok_or_else(|| ApiError::bad_request("missing_callback", "hub.callback is required"))?;
    check_callback(callback)?;
    let topic = get("hub.topic")
        .ok_or_else(|| ApiError::bad_request("missing_topic", "hub.topic is required"))?;
    let node = topic_node(state, topic)?;
    let requested = get("hub.lease_seconds")
        .filter(|l| !l.is_empty())
        .map(|text| {
            text.parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    "bad_lease",
                    "hub.lease_seconds must be a whole number of seconds",
                )
            })
        })
        .transpose()?;
    let lease_seconds = state.config().grant_lease(requested);
    let secret = get("hub.secret")
        .map(|secret| check_secret("hub.secret", secret).map(|()| secret.to_owned()))
        .transpose()?;
    Ok(SubscriptionRequest {
        subscribe,
        callback: callback.to_owned(),
        topic: topic.to_owned(),
        node,
        lease_seconds,
        secret,
    })
}

/// `POST /hub`: subscribe, unsubscribe or publish ping (see the module docs).
pub(crate) async fn hub(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("application/json"));
    match hub_request(state, peer_ip(&peer), headers, body).await {
        Ok(response) => response,
        Err(e) if wants_json => e.into_response(),
        Err(e) => plain_text_error(&e),
    }
}

/// An error as WebSub asks for it: a plain-text description (`<code>: <message>`).
fn plain_text_error(e: &ApiError) -> Response {
    let mut response = (
        e.status(),
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{}: {}\n", e.code(), e.message()),
    )
        .into_response();
    if let Some(secs) = e.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

async fn hub_request(
    state: AppState,
    client: Option<std::net::IpAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body, state.config().max_body_bytes)?;
    check_form_content_type(&headers)?;
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let mode = params
        .iter()
        .find(|(k, _)| k == "hub.mode")
        .map(|(_, v)| v.as_str())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_mode",
                "hub.mode is required: subscribe, unsubscribe or publish",
            )
        })?;
    match mode {
        "subscribe" | "unsubscribe" => {
            let req = parse_subscription(&state, mode == "subscribe", &params)?;
            if req.subscribe {
                state.check_reader(&headers, req.node.node()).await?;
            }
            // Every such request makes the gateway call the callback (a verification, or a
            // denial): counted per client address, and only to networks it may call.
            if !state.is_authenticated(&headers) {
                state.count_verification(client)?;
            }
            state.check_callback_network(&req.callback).await?;
            // A subscription request is `pending` (GET /subscription) until it is verified.
            let pending = req.subscribe.then(|| {
                state.begin_intent(req.node.node(), &req.callback, req.secret.as_deref(), true)
            });
            tokio::spawn(async move {
                verify_and_apply(state, req).await;
                drop(pending);
            });
            Ok(StatusCode::ACCEPTED.into_response())
        }
        "publish" => publish(&state, &headers, &params).await,
        _ => Err(ApiError::bad_request(
            "bad_mode",
            "hub.mode must be subscribe, unsubscribe or publish",
        )),
    }
}

async fn publish(
    state: &AppState,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> ApiResult<Response> {
    let owner = state.owner(headers)?;
    let topics: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "hub.url" || k == "hub.topic")
        .map(|(_, v)| v.as_str())
        .collect();
    if topics.is_empty() {
        return Err(ApiError::bad_request(
            "missing_topic",
            "hub.mode=publish needs hub.url or hub.topic",
        ));
    }
    let nodes = topics
        .iter()
        .map(|t| {
            let uri = topic_node(state, t)?;
            if uri.is_root() {
                return Err(ApiError::bad_request(
                    "root_node",
                    "the root collection cannot be published to; name a node",
                ));
            }
            Ok(uri)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    for node in nodes {
        state
            .store()
            .republish(node.node().to_owned(), owner.clone(), now_ms())
            .await?;
    }
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The asynchronous half of (un)subscribe: refuse, or verify intent and then apply.
async fn verify_and_apply(state: AppState, req: SubscriptionRequest) {
    let config = state.config();
    let timeout = config.callback_timeout;
    let client = state.client();
    let node = req.node.node().to_owned();
    let store = state.store();
    if req.subscribe {
        match store.node_exists(node.clone()).await {
            Ok(true) => {}
            Ok(false) => {
                delivery::deny(client, &req.callback, &req.topic, "no such topic", timeout).await;
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot check a WebSub topic");
                return;
            }
        }
    }
    let mode = if req.subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    let lease = req.subscribe.then_some(req.lease_seconds);
    if let Err(e) =
        delivery::verify_intent(client, &req.callback, mode, &req.topic, lease, timeout).await
    {
        tracing::info!(callback = %req.callback, topic = %req.topic, mode, error = %e,
            "WebSub verification of intent failed; request ignored");
        return;
    }
    let now = now_ms();
    let result = if req.subscribe {
        let lease_ms = i64::try_from(req.lease_seconds.saturating_mul(1000)).unwrap_or(i64::MAX);
        store
            .websub_subscribe(SubscribeRequest {
                node,
                callback: req.callback.clone(),
                secret: req.secret,
                topic: Some(req.topic.clone()),
                expires_ms: Some(now.saturating_add(lease_ms)),
                now_ms: now,
            })
            .await
    } else {
        match store.unsubscribe(node, req.callback.clone()).await {
            Err(StoreError::NoSubscription | StoreError::NodeNotFound(_)) => Ok(()),
            other => other,
        }
    };
    match result {
        Ok(()) => {
            tracing::info!(callback = %req.callback, topic = %req.topic, mode, "WebSub request verified and applied");
        }
        Err(e @ (StoreError::SubscriptionLimit(_) | StoreError::NodeNotFound(_))) => {
            delivery::deny(client, &req.callback, &req.topic, &e.to_string(), timeout).await;
        }
        Err(e) => tracing::error!(error = %e, "cannot apply a WebSub request"),
    }
}
