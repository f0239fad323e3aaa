//! Who may read a node: `POST /access` (its access model), `POST /readers` (a new reader
//! credential), `POST /readers/revoke` and `GET /readers`, all for the node's owner only (403
//! `not_owner` for anyone else).
//!
//! A node is `open` (anyone reads it, the default) or `restricted`: then `/items`,
//! `/subscribe`, `GET /subscription` and the hub's subscribe need `Authorization: Bearer
//! <token>` with one of its reader credentials, or the credential of its owner or of a site
//! granted publishing (see [`super::state::AppState::check_reader`]). A reader credential is a
//! random token shown once; the gateway keeps its SHA-256 only, and names it by an id (the
//! first 16 hex digits of that digest).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::input::query_param;
use super::state::{AppState, token_digest};
use crate::error::{ApiError, ApiResult};
use crate::store::{Access, StoreError};
use crate::time::now_ms;
use crate::uri::NodeUri;

/// The node named by `uri=`.
fn node(state: &AppState, query: Option<&str>) -> ApiResult<NodeUri> {
    let uri = query_param(query, "uri")
        .ok_or_else(|| ApiError::bad_request("missing_uri", "give the node as ?uri=<xmpp uri>"))?;
    state.leaf_uri("uri", &uri)
}

/// The access model named by `model` (`open` or `restricted`); 400 `bad_access` otherwise,
/// and for `restricted` on a gateway without publisher credentials (anyone could then manage
/// the node's readers).
pub(crate) fn parse_access(state: &AppState, field: &str, model: &str) -> ApiResult<Access> {
    let access = Access::parse(model).ok_or_else(|| {
        ApiError::bad_request(
            "bad_access",
            format!("{field} must be 'open' or 'restricted'"),
        )
    })?;
    if access == Access::Restricted && !state.has_credentials() {
        return Err(ApiError::bad_request(
            "bad_access",
            "a node can be restricted only on a gateway with publisher credentials (--token or --site): with open publishing anyone could manage its readers",
        ));
    }
    Ok(access)
}

/// The id of a reader credential: the first 16 hex digits of its token's SHA-256.
fn reader_id(token: &str) -> String {
    crate::hex::lower(&token_digest(token))[..16].to_owned()
}

/// `POST /access?uri=&model=open|restricted`: the node's owner sets who may read it; 204.
pub(crate) async fn set_access(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let uri = node(&state, query.as_deref())?;
    let model = query_param(query.as_deref(), "model").ok_or_else(|| {
        ApiError::bad_request(
            "bad_access",
            "give the access model as &model=open or &model=restricted",
        )
    })?;
    let access = parse_access(&state, "model", &model)?;
    state
        .store()
        .set_access(uri.node().to_owned(), access, owner)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /readers/grant?uri=`: the node's owner grants a new reader credential:
/// `{"uri", "reader": <token, shown this once>, "id"}`.
pub(crate) async fn add_reader(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let uri = node(&state, query.as_deref())?;
    let mut random = [0u8; 32];
    getrandom::fill(&mut random)
        .map_err(|e| ApiError::from(StoreError::Database(format!("no randomness: {e}"))))?;
    let token = crate::hex::lower(&random);
    let id = reader_id(&token);
    state
        .store()
        .add_reader(
            uri.node().to_owned(),
            id.clone(),
            token_digest(&token),
            owner,
            now_ms(),
        )
        .await?;
    Ok(Json(json!({ "uri": uri.to_string(), "reader": token, "id": id })).into_response())
}

/// `POST /readers/revoke?uri=&reader=<token or id>`: the node's owner withdraws a reader
/// credential; 204, or 404 `no_reader`.
pub(crate) async fn revoke_reader(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let uri = node(&state, query.as_deref())?;
    let reader = query_param(query.as_deref(), "reader")
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_reader",
                "give the reader credential as &reader=<token or its id>",
            )
        })?;
    // An id is 16 hex digits; a token (64 hex digits) is named by its id.
    let id = if reader.len() == 16 {
        reader.to_ascii_lowercase()
    } else {
        reader_id(&reader)
    };
    state
        .store()
        .remove_reader(uri.node().to_owned(), id, owner)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /readers?uri=`: for the node's owner, `{"uri", "access", "readers": [{"id",
/// "created"}, …]}` (ids, never tokens).
pub(crate) async fn readers(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let owner = state.owner(&headers)?;
    let uri = node(&state, query.as_deref())?;
    let (access, readers) = state.store().readers(uri.node().to_owned(), owner).await?;
    let readers: Vec<_> = readers
        .into_iter()
        .map(|r| json!({ "id": r.id, "created": crate::atom::rfc3339(r.created_ms) }))
        .collect();
    Ok(Json(json!({
        "uri": uri.to_string(),
        "access": access.as_str(),
        "readers": readers,
    }))
    .into_response())
}
