//! `POST /heartbeat?uri=<node>`: a node's publisher says it is alive though it has nothing to
//! publish, so that the node's mirrors can tell a quiet source from one that went away.
//!
//! The gateway answers a subscriber's `GET /subscription` with `source_seen`, the newest of
//! the node's creation, its last heartbeat and its newest item ([`crate::store::Store::source_seen`]);
//! a mirror silent-source check (the core's `check_subscription`) compares it with its grace.
//! Only the node's owner (the publisher token that created it) may send heartbeats; a node
//! without an owner takes them from anyone, as it takes publications.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::input::query_param;
use super::state::AppState;
use crate::error::{ApiError, ApiResult};
use crate::time::now_ms;

/// `POST /heartbeat?uri=`: records a heartbeat of the node's publisher (204).
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let uri = query_param(query.as_deref(), "uri").ok_or_else(|| {
        ApiError::bad_request(
            "missing_uri",
            "give the node whose publisher is alive as ?uri=<xmpp uri>",
        )
    })?;
    let uri = state.leaf_uri("uri", &uri)?;
    state
        .store()
        .heartbeat(uri.node().to_owned(), owner, now_ms())
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
