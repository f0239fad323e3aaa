//! Request checks shared by the Idavoll API and the WebSub hub: bodies, query parameters,
//! callbacks and secrets.

use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;

use crate::error::{ApiError, ApiResult};

/// The client's address, as the server records it for every connection (absent when the
/// router is driven without a socket, as in unit tests).
pub(crate) type Peer = Option<Extension<ConnectInfo<SocketAddr>>>;

/// The IP address of `peer`, if known.
pub(crate) fn peer_ip(peer: &Peer) -> Option<IpAddr> {
    peer.as_ref().map(|Extension(ConnectInfo(addr))| addr.ip())
}

/// Longest callback URL accepted, in bytes.
pub const MAX_CALLBACK_LEN: usize = 2048;
/// Longest subscription secret accepted, in bytes (WebSub's limit).
pub const MAX_SECRET_LEN: usize = 199;

/// The first value of query parameter `name`, decoded.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The request body, or the error that says why it could not be read (too large: 413; not
/// received within `--body-timeout-ms`: 408).
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> ApiResult<Bytes> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::body_too_large(limit)
        } else if super::deadline::is_body_timeout(&e) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time (--body-timeout-ms); send it at once",
            )
        } else {
            ApiError::bad_request("bad_body", "the request body could not be read")
        }
    })
}

/// Checks a subscriber's callback: an absolute `http://` or `https://` URL with a host, at most
/// [`MAX_CALLBACK_LEN`] bytes.
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

/// Checks a subscription secret given as `field`: 1 to [`MAX_SECRET_LEN`] bytes.
pub(crate) fn check_secret(field: &str, secret: &str) -> ApiResult<()> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Err(ApiError::bad_request(
            "bad_secret",
            format!("{field} must be 1 to {MAX_SECRET_LEN} bytes"),
        ));
    }
    Ok(())
}

/// Whether `a` and `b` are equal, taking the same time wherever they differ (for tokens and
/// signatures).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
