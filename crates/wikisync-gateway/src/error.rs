//! The HTTP error type: a status and a JSON body `{"error": "<code>", "message": "<sentence>"}`.
//!
//! Client mistakes are 4xx with a stable `error` code (listed on [`ApiError`]'s constructors and
//! in `docs/gateway.md`); a fault of the gateway itself is a 500 (or 503 when the store is gone)
//! whose message never shows internals: the details go to the log.
//!
//! ```
//! use axum::http::StatusCode;
//! use wikisync_gateway::error::ApiError;
//!
//! let e = ApiError::not_found("node_not_found", "no node 'x' on this service");
//! assert_eq!(e.status(), StatusCode::NOT_FOUND);
//! assert_eq!(e.code(), "node_not_found");
//! ```

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;
use crate::uri::UriError;

/// The result of a handler step: a value, or the error to answer.
pub(crate) type ApiResult<T> = Result<T, ApiError>;

/// An error answered to an HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    allow: Option<&'static str>,
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
}

impl ApiError {
    /// An error with any status; prefer the named constructors.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            allow: None,
            retry_after: None,
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 403 Forbidden (Idavoll's status for subscription errors, kept for compatibility).
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    /// 404 Not Found.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 401 Unauthorized (`unauthorized`): a token is required and missing or wrong.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 405 Method Not Allowed (`method_not_allowed`), with the `Allow` header.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("this resource only accepts {allow}"),
            )
        }
    }

    /// 429 Too Many Requests (`too_many_requests`), with `Retry-After` in whole seconds
    /// (at least 1).
    pub fn too_many_requests(what: &str, retry_after: std::time::Duration) -> Self {
        let secs = retry_after.as_secs_f64().ceil().max(1.0);
        // At most a minute (one bucket's refill), so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = secs.min(86_400.0) as u64;
        Self {
            retry_after: Some(secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("too many {what} from this address; try again in {secs} s"),
            )
        }
    }

    /// The `Retry-After` of a 429, in seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// 413 Payload Too Large (`body_too_large`).
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }

    /// 415 Unsupported Media Type (`unsupported_media_type`).
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 500 Internal Server Error (`internal`): logs `detail`, answers a fixed sentence.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the gateway failed to handle the request; see its log",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The human-readable sentence.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A malformed `uri` parameter or field.
    pub fn bad_uri(field: &str, error: &UriError) -> Self {
        Self::bad_request(
            "malformed_uri",
            format!("{field} is not a valid XMPP node URI: {error}"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(Body {
                error: self.code,
                message: &self.message,
            }),
        )
            .into_response();
        if let Some(allow) = self.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NodeNotFound(node) => Self::not_found(
                "node_not_found",
                format!("no node '{node}' on this service"),
            ),
            StoreError::ItemNotFound(item) => {
                Self::not_found("item_not_found", format!("no item '{item}' in this node"))
            }
            StoreError::NotOwner => Self::forbidden(
                "not_owner",
                "this node belongs to another publisher credential (its owner may grant a site the right to publish: POST /grant)",
            ),
            StoreError::NoGrant(site) => Self::not_found(
                "no_grant",
                format!("site '{site}' holds no grant on this node"),
            ),
            StoreError::NoReader(id) => Self::not_found(
                "no_reader",
                format!("this node has no reader credential '{id}'"),
            ),
            StoreError::SubscriptionExists => Self::forbidden(
                "subscription_exists",
                "this callback is already subscribed to this node",
            ),
            StoreError::NoSubscription => Self::forbidden(
                "no_subscription",
                "this callback is not subscribed to this node",
            ),
            StoreError::SubscriptionLimit(limit) => Self::forbidden(
                "subscription_limit",
                format!("this node already has the maximum of {limit} subscriptions"),
            ),
            StoreError::BadCursor(why) => Self::bad_request("bad_cursor", why),
            StoreError::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the gateway is shutting down or its store has stopped",
            ),
            StoreError::DiskFull => {
                tracing::error!("a write failed: the disk holding the database is full");
                Self::new(
                    StatusCode::INSUFFICIENT_STORAGE,
                    "insufficient_storage",
                    "the gateway's disk is full, so nothing was written; reads still work, and writes work again once space is freed (see /healthz)",
                )
            }
            StoreError::Database(detail) => Self::internal(&detail),
            StoreError::RemoteRefused(detail) => Self::new(
                StatusCode::BAD_GATEWAY,
                "remote_refused",
                format!("the node's pubsub service refused: {detail}"),
            ),
            StoreError::RemoteUnavailable(detail) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "remote_unavailable",
                format!(
                    "the node's pubsub service cannot be reached now ({detail}); try again later"
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn body_is_the_documented_json() {
        let response = ApiError::method_not_allowed("POST").into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[header::ALLOW], "POST");
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(json["error"], "method_not_allowed");
        assert_eq!(json["message"], "this resource only accepts POST");
    }

    #[test]
    fn database_errors_do_not_leak() {
        let e = ApiError::from(StoreError::Database(
            "disk I/O error at /secret/path".to_owned(),
        ));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message().contains("secret"));
    }

    #[test]
    fn store_errors_map_to_idavoll_statuses() {
        assert_eq!(
            ApiError::from(StoreError::NodeNotFound("n".into())).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ApiError::from(StoreError::SubscriptionExists).status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ApiError::from(StoreError::NoSubscription).status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            ApiError::from(StoreError::Unavailable).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let full = ApiError::from(StoreError::DiskFull);
        assert_eq!(full.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(full.code(), "insufficient_storage");
    }
}
