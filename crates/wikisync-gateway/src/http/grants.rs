//! Publish rights of other sites on a node: `POST /grant`, `POST /revoke` and
//! `GET /publishers`, all for the node's owner only (403 `not_owner` for anyone else).
//!
//! A granted site publishes with its own site credential (no secret is shared): it may
//! `/publish` to the node and retract its items, never delete the node, heartbeat it or grant.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::input::query_param;
use super::state::{AppState, parse_site};
use crate::error::{ApiError, ApiResult};
use crate::store::sql::nodes::SITE_OWNER_PREFIX;
use crate::time::now_ms;
use crate::uri::NodeUri;

/// The node (`uri=`) and the normalized site id (`site=`) of a grant or revocation.
fn node_and_site(state: &AppState, query: Option<&str>) -> ApiResult<(NodeUri, String)> {
    let uri = query_param(query, "uri")
        .ok_or_else(|| ApiError::bad_request("missing_uri", "give the node as ?uri=<xmpp uri>"))?;
    let uri = state.leaf_uri("uri", &uri)?;
    let site = query_param(query, "site").ok_or_else(|| {
        ApiError::bad_request(
            "missing_site",
            "give the site as &site=<site id> (the id the site publishes under)",
        )
    })?;
    let site = parse_site(&site).map_err(|m| ApiError::bad_request("bad_site", m))?;
    Ok((uri, site.to_string()))
}

/// `POST /grant?uri=&site=`: the node's owner lets `site` publish to it (with its own site
/// credential); 204, also when the site holds the grant already.
pub(crate) async fn grant(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let (uri, site) = node_and_site(&state, query.as_deref())?;
    state
        .store()
        .grant(uri.node().to_owned(), site, owner, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /revoke?uri=&site=`: the node's owner withdraws the grant of `site`; 204, or 404
/// `no_grant` when it holds none.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let (uri, site) = node_and_site(&state, query.as_deref())?;
    state
        .store()
        .revoke(uri.node().to_owned(), site, owner)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /publishers?uri=`: who may publish to the node, for its owner:
/// `{"uri", "owner": {"site": <site id>} | {"token": <owner id>} | null, "granted": [<site id>, …]}`.
pub(crate) async fn publishers(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let uri = query_param(query.as_deref(), "uri")
        .ok_or_else(|| ApiError::bad_request("missing_uri", "give the node as ?uri=<xmpp uri>"))?;
    let uri = state.leaf_uri("uri", &uri)?;
    let (node_owner, granted) = state
        .store()
        .publishers(uri.node().to_owned(), owner)
        .await?;
    let node_owner = node_owner.map(|o| match o.strip_prefix(SITE_OWNER_PREFIX) {
        Some(site) => json!({ "site": site }),
        None => json!({ "token": o }),
    });
    Ok(Json(json!({
        "uri": uri.to_string(),
        "owner": node_owner,
        "granted": granted,
    }))
    .into_response())
}
