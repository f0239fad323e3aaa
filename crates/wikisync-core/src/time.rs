//! Time as the core sees it: Unix seconds passed in by the host (the core has no clock), and
//! their RFC 3339 form used in Atom.

use serde::{Deserialize, Serialize};

/// A point in time as whole Unix seconds (UTC). The core never reads a clock: hosts pass `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);
