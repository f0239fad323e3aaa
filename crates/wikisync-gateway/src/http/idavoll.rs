//! The Idavoll API: `/create`, `/publish`, `/delete`, `/list`, `/subscribe`, `/unsubscribe`
//! and `/items`, drop-in for Idavoll's HTTP interface (see [`super`] for the table).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::input::{Peer, body_bytes, check_callback, check_secret, peer_ip, query_param};
use super::state::{AppState, IntentGuard};
use crate::atom;
use crate::delivery;
use crate::error::{ApiError, ApiResult};
use crate::store::{Cursor, PageRequest, PublishRequest, StoreError, SubscribeRequest};
use crate::time::now_ms;
use crate::uri::{NodeUri, is_remote_key};
use wikisync_core::node::NodeRef;

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

/// `POST /create[?access=open|restricted]`: a new instant node, open to readers unless
/// `access=restricted`.
pub(crate) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let access = query_param(query.as_deref(), "access")
        .map(|model| super::readers::parse_access(&state, "access", &model))
        .transpose()?
        .unwrap_or_default();
    let node = state
        .store()
        .create_node_with(owner, access, now_ms())
        .await?;
    Ok(state.uri_json(&node).into_response())
}

/// `POST /publish`: an entry to a node (or a new instant node); an empty body retracts or deletes.
pub(crate) async fn publish(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body, state.config().max_body_bytes)?;
    let caller = state.caller(&headers)?;
    let publisher = caller
        .as_ref()
        .and_then(|who| who.site.as_ref())
        .map(ToString::to_string);
    let owner = caller.map(|who| who.owner);
    let uri = query_param(query.as_deref(), "uri")
        .map(|u| state.leaf_uri("uri", &u))
        .transpose()?;
    let item = query_param(query.as_deref(), "item").filter(|i| !i.is_empty());
    let store = state.store();
    let now = now_ms();
    // Only a truly empty body deletes (Idavoll: "if there is no content, a node-deletion is
    // published"); a body of whitespace is a mistake, never a deletion of the whole node.
    if !body.is_empty() && body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "blank_body",
            "the body holds only whitespace: send an Atom entry to publish, or an empty body (Content-Length: 0) to delete the node or, with item=, retract the item",
        ));
    }
    if body.is_empty() {
        let uri = uri.ok_or_else(|| {
            ApiError::bad_request(
                "missing_uri",
                "an empty body deletes a node (or, with item=, retracts an item); give the node's uri",
            )
        })?;
        let node = uri.node().to_owned();
        match item {
            Some(item) => {
                store
                    .retract(node.clone(), item, owner, publisher, now)
                    .await?;
            }
            None => store.delete_node(node.clone(), None, owner, now).await?,
        }
        return Ok(state.uri_json(&node).into_response());
    }
    check_entry_content_type(&headers)?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("bad_encoding", "the entry is not valid UTF-8"))?;
    let info = atom::scan_entry(text)
        .map_err(|e| ApiError::bad_request("malformed_entry", e.to_string()))?;
    // What the gateway adds to entries (the authenticated publisher) must come from it alone.
    if text.contains(atom::GATEWAY_NS) {
        return Err(ApiError::bad_request(
            "reserved_namespace",
            format!(
                "the entry uses the namespace {}, which only the gateway writes (the publisher it authenticated); leave it out",
                atom::GATEWAY_NS
            ),
        ));
    }
    let item_id = item.or(info.id).unwrap_or_else(|| "current".to_owned());
    let node = store
        .publish(PublishRequest {
            node: uri.map(|u| u.node().to_owned()),
            item_id,
            payload: text.to_owned(),
            owner,
            publisher,
            now_ms: now,
        })
        .await?;
    state.count_publish();
    Ok(state.uri_json(&node).into_response())
}

#[derive(Deserialize)]
struct DeleteBody {
    redirect_uri: Option<String>,
}

/// A deletion's redirect in its canonical form: a node URI (of this or any service), or
/// another gateway's feed URL `http(s)://<host>[:<port>][/<prefix>]/items?uri=<node URI>`, which
/// subscribers follow to that gateway (see [`wikisync_core::node::NodeRef`]).
fn redirect_uri(text: &str) -> ApiResult<String> {
    NodeRef::parse(text.trim())
        .map(|r| r.to_string())
        .map_err(|e| {
            ApiError::bad_request(
                "malformed_uri",
                format!(
                    "redirect_uri is neither an XMPP node URI (xmpp:<service>?;node=<id>) nor a gateway's feed URL (http(s)://<host>[:<port>][/<prefix>]/items?uri=<node URI>): {e}"
                ),
            )
        })
}

/// `POST /delete`: deletes a node, with an optional redirect.
pub(crate) async fn delete(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body_bytes(body, state.config().max_body_bytes)?;
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
        parsed.redirect_uri.map(|r| redirect_uri(&r)).transpose()?
    };
    state
        .store()
        .delete_node(uri.node().to_owned(), redirect, owner, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /list`: the nodes of this service.
pub(crate) async fn list(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(Json(state.store().list_nodes().await?).into_response())
}

#[derive(Deserialize)]
struct SubscriptionBody {
    uri: String,
    callback: String,
    secret: Option<String>,
    /// `/subscribe` only: the lease asked for, in seconds (WebSub's `hub.lease_seconds`).
    lease_seconds: Option<u64>,
}

fn parse_subscription(body: &[u8]) -> ApiResult<SubscriptionBody> {
    let parsed: SubscriptionBody = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "bad_json",
            format!(
                "the body must be JSON {{\"uri\": \"xmpp:...\", \"callback\": \"http://...\"}} (optionally \"secret\" and, to subscribe, a whole \"lease_seconds\"): {e}"
            ),
        )
    })?;
    check_callback(&parsed.callback)?;
    if let Some(secret) = &parsed.secret {
        check_secret("secret", secret)?;
    }
    Ok(parsed)
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

/// The one answer to a failed verification of intent for a caller without a publisher token:
/// whether the callback could not be reached, refused, or did not echo is not told (that would
/// make `/subscribe` a probe of what the gateway reaches); the log has it.
pub const VERIFICATION_FAILED: &str = "verification of intent failed: the callback did not confirm this request (a GET with hub.challenge must be answered 2xx, echoing the challenge); the gateway's log has the details";

/// Who asked for a verification of intent.
#[derive(Clone, Copy, Debug)]
struct Caller {
    /// The client's address, if known.
    ip: Option<std::net::IpAddr>,
    /// Whether it holds a publisher token (then it is told why a verification failed).
    authenticated: bool,
}

async fn verify(
    state: &AppState,
    caller: Caller,
    callback: &str,
    mode: &str,
    topic: &NodeUri,
    lease_seconds: Option<u64>,
) -> ApiResult<()> {
    if !state.config().verify {
        return Ok(());
    }
    // Publisher-token holders are trusted (a wiki setting up many namespaces at once).
    if !caller.authenticated {
        state.count_verification(caller.ip)?;
    }
    delivery::verify_intent(
        state.client(),
        callback,
        mode,
        &topic.to_string(),
        lease_seconds,
        state.config().callback_timeout,
    )
    .await
    .map_err(|e| {
        tracing::info!(%callback, mode, topic = %topic, client = ?caller.ip, error = %e,
            "verification of intent failed");
        if caller.authenticated {
            ApiError::forbidden(
                "verification_failed",
                format!("verification of intent failed: {e}"),
            )
        } else {
            ApiError::forbidden("verification_failed", VERIFICATION_FAILED)
        }
    })
}

/// Which of the two subscription endpoints a request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Intent {
    Subscribe,
    Unsubscribe,
}

impl Intent {
    fn mode(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
        }
    }
}

/// A `/subscribe` or `/unsubscribe` request, checked and verified.
struct Checked {
    req: SubscriptionBody,
    uri: NodeUri,
    /// The node's storage key.
    node: String,
    /// `/subscribe` with `lease_seconds`: the lease granted, in seconds.
    lease: Option<u64>,
    /// `/subscribe`: registered as pending while it was verified (and until it is stored).
    _pending: Option<IntentGuard>,
}

/// What `/subscribe` and `/unsubscribe` share: the request, checked against the store (the node
/// exists), verified with the callback (with the lease granted, if any, as
/// `hub.lease_seconds`), and only then checked for the subscription (not yet subscribed, unless
/// a lease renews it; or subscribed), so that only the callback's owner learns whether it is.
async fn checked_request(
    state: &AppState,
    caller: Caller,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    intent: Intent,
) -> ApiResult<Checked> {
    let body = body_bytes(body, state.config().max_body_bytes)?;
    let req = parse_subscription(&body)?;
    let (uri, node) = state.subscribable_uri("uri", &req.uri)?;
    let lease = match intent {
        Intent::Subscribe => req
            .lease_seconds
            .map(|l| state.config().grant_lease(Some(l))),
        Intent::Unsubscribe => None,
    };
    let store = state.store();
    if !store.node_exists(node.clone()).await? {
        return Err(subscription_error(StoreError::NodeNotFound(node)));
    }
    if intent == Intent::Subscribe {
        state.check_reader(headers, &node).await?;
    }
    // With or without verification, a callback the gateway may not call is refused here.
    state.check_callback_network(&req.callback).await?;
    let pending = (intent == Intent::Subscribe)
        .then(|| state.begin_intent(&node, &req.callback, req.secret.as_deref(), false));
    // Verified first: whether a callback is subscribed is told only to whoever controls it
    // (answering `subscription_exists` or `no_subscription` before would tell anyone).
    verify(state, caller, &req.callback, intent.mode(), &uri, lease).await?;
    let subscribed = store
        .is_subscribed(node.clone(), req.callback.clone())
        .await?;
    match (intent, subscribed) {
        // Without a lease, Idavoll's behaviour; with one, re-subscribing renews it.
        (Intent::Subscribe, true) if lease.is_none() => {
            return Err(StoreError::SubscriptionExists.into());
        }
        (Intent::Unsubscribe, false) => return Err(StoreError::NoSubscription.into()),
        _ => {}
    }
    Ok(Checked {
        req,
        uri,
        node,
        lease,
        _pending: pending,
    })
}

/// `POST /subscribe`: a verified Idavoll-style subscription. Without `lease_seconds` it is
/// Idavoll's: no lease, 204, and a second one is 403 `subscription_exists`. With it, the lease
/// granted (clamped to the configured bounds) is in the verification GET and in the answer, 200
/// `{"uri", "callback", "lease_seconds", "expires"}`, and subscribing again renews it.
pub(crate) async fn subscribe(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = Caller {
        ip: peer_ip(&peer),
        authenticated: state.is_authenticated(&headers),
    };
    let checked = checked_request(&state, caller, &headers, body, Intent::Subscribe).await?;
    let now = now_ms();
    let expires_ms = checked
        .lease
        .map(|l| now.saturating_add(i64::try_from(l.saturating_mul(1000)).unwrap_or(i64::MAX)));
    let req = SubscribeRequest {
        node: checked.node,
        callback: checked.req.callback,
        secret: checked.req.secret,
        topic: None,
        expires_ms,
        now_ms: now,
    };
    let store = state.store();
    let (Some(lease), Some(expires_ms)) = (checked.lease, expires_ms) else {
        store.subscribe(req).await.map_err(subscription_error)?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let callback = req.callback.clone();
    store
        .subscribe_or_renew(req)
        .await
        .map_err(subscription_error)?;
    Ok(Json(serde_json::json!({
        "uri": checked.uri.to_string(),
        "callback": callback,
        "lease_seconds": lease,
        "expires": atom::rfc3339(expires_ms),
    }))
    .into_response())
}

/// `POST /unsubscribe`: removes a subscription, verified.
pub(crate) async fn unsubscribe(
    State(state): State<AppState>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = Caller {
        ip: peer_ip(&peer),
        authenticated: state.is_authenticated(&headers),
    };
    let checked = checked_request(&state, caller, &headers, body, Intent::Unsubscribe).await?;
    state
        .store()
        .unsubscribe(checked.node, checked.req.callback)
        .await
        .map_err(subscription_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Items per `/items` page when the request gives no `max_items`: what a node held at most
/// under the old default limit, so a client that does not page sees what it saw before.
pub const DEFAULT_PAGE_ITEMS: u32 = 256;

/// Most items per `/items` page; a larger `max_items` is served as this many, with a link to
/// the next page.
pub const MAX_PAGE_ITEMS: u32 = 1000;

/// A page of `/items` stops adding entries once they reach this many bytes (it always holds at
/// least one), and links to the next page.
pub const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// `GET /items`: one page of a node's items as an Atom feed, newest first; when more follow,
/// `Link: <…&after=CURSOR>; rel="next"` and the same link in the feed (RFC 5005).
pub(crate) async fn items(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let uri = query_param(query.as_deref(), "uri")
        .ok_or_else(|| ApiError::bad_request("missing_uri", "give the node as ?uri=<xmpp uri>"))?;
    let (uri, node) = state.subscribable_uri("uri", &uri)?;
    if uri.is_root() {
        return Err(ApiError::bad_request(
            "root_node",
            "uri names the root collection; give a node (xmpp:<service>?;node=<id>)",
        ));
    }
    state.check_reader(&headers, &node).await?;
    let max = match query_param(query.as_deref(), "max_items") {
        None => DEFAULT_PAGE_ITEMS,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_max_items",
                    "max_items must be a whole number of at least 1",
                )
            })?
            .min(MAX_PAGE_ITEMS),
    };
    let after = query_param(query.as_deref(), "after")
        .map(|text| {
            Cursor::decode(&text).ok_or_else(|| {
                ApiError::bad_request(
                    "bad_cursor",
                    "after must be a cursor from a next link of /items; start without after",
                )
            })
        })
        .transpose()?;
    let page = state
        .store()
        .items_page(
            &node,
            PageRequest {
                max,
                max_bytes: MAX_PAGE_BYTES,
                after,
            },
        )
        .await?;
    let canonical = uri.to_string();
    let next = page.next.map(|cursor| {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("uri", &canonical)
            .append_pair("max_items", &max.to_string())
            .append_pair("after", &cursor.encode())
            .finish();
        format!("{}/items?{query}", state.config().public_base())
    });
    let payloads: Vec<String> = page
        .items
        .into_iter()
        .map(|i| match &i.publisher {
            Some(site) => atom::with_publisher(&i.payload, site),
            None => i.payload,
        })
        .collect();
    let feed = atom::items_feed(
        &canonical,
        &atom::rfc3339(now_ms()),
        &payloads,
        next.as_deref(),
    );
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/atom+xml;type=feed;charset=utf-8"),
        )],
        feed,
    )
        .into_response();
    if let Some(next) = next {
        let link = HeaderValue::try_from(format!("<{next}>; rel=\"next\""))
            .map_err(|e| ApiError::internal(&e))?;
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}
