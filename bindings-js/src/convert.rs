//! Values across the boundary. Structured values travel as JSON text in the core's own serde
//! shape ([`wikisync_core::wire`]): the JS shim calls `JSON.stringify` / `JSON.parse`, one copy
//! each way, and this crate neither renames nor inspects a field. What is left here are the
//! JS numbers, which arrive as `f64`: sizes and HTTP statuses must be integers (the time in
//! milliseconds is [`wire::timestamp_from_millis`]'s, which drops fractions).
//!
//! ```
//! use wikisync_js::convert::integer;
//! assert_eq!(integer("status", 503.0), Ok(503));
//! assert!(integer("status", 1.5).is_err());
//! ```

use wikisync_core::entry::DecodeOptions;
use wikisync_core::wire::{self, WireError};

/// Largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A JS number that must be an integer (exactly representable), for the argument `what`.
pub fn integer(what: &str, n: f64) -> Result<i64, WireError> {
    if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
        // Whole and within ±2^53, so the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        Ok(n as i64)
    } else {
        Err(WireError::invalid_argument(format!(
            "{what}: expected an integer, got {n}"
        )))
    }
}

/// The decode options of `options.maxBytes` (`None`: the default limit).
pub fn decode_options(max_bytes: Option<f64>) -> Result<DecodeOptions, WireError> {
    wire::decode_options(
        max_bytes
            .map(|n| integer("options.maxBytes", n))
            .transpose()?,
    )
}
