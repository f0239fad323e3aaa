//! `GET /subscription`: a subscriber asks where its own subscription stands, so that it can
//! heal it (subscribe again and catch up from `/items`) when the gateway dropped it.
//!
//! # The request
//!
//! `GET /subscription?uri=<node URI>&callback=<callback URL>&timestamp=<Unix seconds>` with
//! `X-Hub-Signature: sha256=<hex>`, the HMAC-SHA256 of [`signed_text`] keyed with the
//! **SHA-256 of the subscription's secret** (32 raw bytes; the gateway keeps only that digest of
//! the secret of a subscription that ended). The signed text holds the method, the path and the
//! three parameters exactly as sent (after URL-decoding), one per line:
//!
//! ```text
//! GET
//! /subscription
//! xmpp:pubsub.example.org?;node=wiki
//! https://wiki.example.org/lib/exe/ajax.php?call=wikisync
//! 1795288356
//! ```
//!
//! The timestamp must be within [`MAX_CLOCK_SKEW_SECS`] of the gateway's clock, so a captured
//! request cannot be replayed later.
//!
//! ```
//! use wikisync_gateway::http::subscription::request_signature;
//!
//! let sig = request_signature("s3cret", "xmpp:ps.example?;node=wiki", "https://w.example/cb", "1795288356");
//! assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
//! ```
//!
//! # The answer
//!
//! 200 JSON (see `docs/gateway.md`): `state` (`pending`, `active` or `dropped`), the lease end,
//! when and why it was dropped (`gone`, `failure_budget`, `lease_expired`, `unsubscribed`,
//! `node_deleted` with the deletion's `redirect`), the last successful delivery, the deliveries
//! queued, the current failure streak, and `source_seen`: the node's last sign of life from its
//! publisher (its newest item or heartbeat, see [`super::heartbeat`]; `null` for a node of
//! another service). A subscription without a secret cannot be asked
//! about. Every request that does not prove knowledge of the secret (no or a wrong signature,
//! no such subscription, none known any more) gets the same `404 subscription_not_found`, so
//! the answer never tells a stranger whether a subscription exists; only malformed requests
//! (a parameter missing or unreadable, a timestamp out of range) are 400, checked before any
//! lookup.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use super::input::{check_callback, constant_time_eq, query_param};
use super::state::AppState;
use crate::atom::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::store::{Standing, SubscriptionState};
use crate::uri::from_storage_key;

/// How far (either way) the `timestamp` of a request may be from the gateway's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The text a `GET /subscription` request signs: method, path, and the `uri`, `callback` and
/// `timestamp` parameters as sent, joined by `\n`.
pub fn signed_text(uri: &str, callback: &str, timestamp: &str) -> String {
    format!("GET\n/subscription\n{uri}\n{callback}\n{timestamp}")
}

/// The `X-Hub-Signature` of a `GET /subscription` request: `sha256=` and the hexadecimal
/// HMAC-SHA256 of [`signed_text`] keyed with the SHA-256 of `secret`.
pub fn request_signature(secret: &str, uri: &str, callback: &str, timestamp: &str) -> String {
    let key = crate::store::secret_digest(secret);
    let mac = keyed_mac(&key, &signed_text(uri, callback, timestamp));
    format!("sha256={}", crate::hex::lower(&mac))
}

fn keyed_mac(key: &[u8; 32], text: &str) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(text.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The one answer for every request that does not prove knowledge of a subscription's secret.
fn not_found() -> ApiError {
    ApiError::not_found(
        "subscription_not_found",
        "no subscription of this callback to this node is known here, or the request is not signed with its secret (X-Hub-Signature: sha256=HMAC-SHA256 keyed with SHA-256(secret); see docs/gateway.md)",
    )
}

fn required(query: Option<&str>, name: &'static str, code: &'static str) -> ApiResult<String> {
    query_param(query, name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::bad_request(code, format!("give ?{name}=")))
}

/// `GET /subscription`: the state of the caller's own subscription (see the module docs).
pub(crate) async fn state_of(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let query = query.as_deref();
    let uri_text = required(query, "uri", "missing_uri")?;
    let callback = required(query, "callback", "missing_callback")?;
    check_callback(&callback)?;
    let timestamp = required(query, "timestamp", "bad_timestamp")?;
    let now_s = crate::time::now_ms() / 1000;
    let fresh = timestamp.bytes().all(|b| b.is_ascii_digit())
        && timestamp
            .parse::<i64>()
            .is_ok_and(|t| (t - now_s).abs() <= MAX_CLOCK_SKEW_SECS);
    if !fresh {
        return Err(ApiError::bad_request(
            "bad_timestamp",
            format!(
                "timestamp must be Unix seconds within {MAX_CLOCK_SKEW_SECS} s of the gateway's clock, which says {now_s}"
            ),
        ));
    }
    let (_, node) = state.subscribable_uri("uri", &uri_text)?;
    state.check_reader(&headers, &node).await?;
    let known = match state
        .store()
        .subscription_state(node.clone(), callback.clone())
        .await?
    {
        Some(known) => Some(known),
        None => state
            .pending_intent(&node, &callback)
            .map(|p| SubscriptionState {
                node: node.clone(),
                callback: callback.clone(),
                standing: Standing::Pending,
                websub: p.websub,
                created_ms: Some(p.since_ms),
                expires_ms: None,
                last_delivery_ms: None,
                pending_deliveries: 0,
                failures: 0,
                failing_since_ms: None,
                secret_digest: p.secret_digest,
            }),
    };
    let given = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (method, hex) = v.trim().split_once('=')?;
            method.eq_ignore_ascii_case("sha256").then_some(hex)
        })
        .and_then(crate::hex::decode);
    // The MAC is computed whether or not anything was found, so the time taken does not tell.
    let key = known
        .as_ref()
        .and_then(|k| k.secret_digest)
        .unwrap_or([0; 32]);
    let expected = keyed_mac(&key, &signed_text(&uri_text, &callback, &timestamp));
    let proven = given.is_some_and(|g| constant_time_eq(&g, &expected));
    let Some(known) = known.filter(|k| proven && k.secret_digest.is_some()) else {
        return Err(not_found());
    };
    let source_seen = state.store().source_seen(known.node.clone()).await?;
    let mut response = Json(state_json(&state, &known, source_seen)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The JSON answer for `known`, with the node's last sign of life from its publisher.
fn state_json(
    state: &AppState,
    known: &SubscriptionState,
    source_seen: Option<i64>,
) -> serde_json::Value {
    let time = |ms: Option<i64>| ms.map(rfc3339);
    let (name, dropped) = match &known.standing {
        Standing::Pending => ("pending", serde_json::Value::Null),
        Standing::Active => ("active", serde_json::Value::Null),
        Standing::Dropped {
            reason,
            at_ms,
            redirect,
        } => (
            "dropped",
            json!({
                "reason": reason.as_str(),
                "at": rfc3339(*at_ms),
                "redirect": redirect,
            }),
        ),
    };
    json!({
        "uri": from_storage_key(&state.config().service, &known.node).to_string(),
        "callback": known.callback,
        "state": name,
        "kind": if known.websub { "websub" } else { "idavoll" },
        "created": time(known.created_ms),
        "expires": time(known.expires_ms),
        "last_delivery": time(known.last_delivery_ms),
        "pending_deliveries": known.pending_deliveries,
        "failures": known.failures,
        "failing_since": time(known.failing_since_ms),
        "dropped": dropped,
        "source_seen": time(source_seen),
    })
}
