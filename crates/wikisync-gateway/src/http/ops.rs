//! Operations: `/healthz`, `/metrics` and `/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::state::AppState;
use crate::error::ApiResult;

/// The OpenAPI 3.1 document of the whole HTTP API, served at `/openapi.json`.
///
/// It is checked in as `openapi.json` beside the crate's `Cargo.toml`; a test keeps its paths
/// and methods equal to [`super::routes`], and `scripts/test-gateway-openapi` runs schemathesis
/// with it against a running gateway.
pub const OPENAPI_JSON: &str = include_str!("../../openapi.json");

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
        .into_response()
}

/// `GET /healthz`: 200 with the outbox size, whether the disk is full (and the XMPP state in
/// XMPP mode) while the store runs, 503 once it has stopped. A full disk makes the status
/// `degraded`.
pub(crate) async fn healthz(State(state): State<AppState>) -> ApiResult<Response> {
    let outbox = state.store().outbox_len().await?;
    let disk_full = state.store().disk_full();
    let disk = json!({ "full": disk_full });
    let mut body = match state.store().xmpp_status().await? {
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
    body["disk"] = disk;
    if disk_full {
        // Still 200: reads are served; writes get 507 until there is space again.
        body["status"] = "degraded".into();
    }
    Ok(Json(body).into_response())
}

/// `GET /metrics`: Prometheus text (see [`crate::metrics`]).
pub(crate) async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let outbox = state.store().outbox_len().await?;
    let xmpp = state.store().xmpp_status().await?;
    let text = crate::metrics::render(
        state.publishes(),
        state.delivery_metrics(),
        state.store().items_dropped(),
        outbox,
        xmpp.as_ref(),
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        text,
    )
        .into_response())
}
