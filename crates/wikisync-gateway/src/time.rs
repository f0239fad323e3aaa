//! Wall-clock time as the gateway stores it: Unix milliseconds.
//!
//! ```
//! assert!(wikisync_gateway::time::now_ms() > 1_700_000_000_000);
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (the gateway is not sans-IO: it reads the clock).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
