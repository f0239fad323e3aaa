//! What a host's outgoing queue needs decided: whether a page still has to be published (bulk
//! publish of an existing wiki), and whether a refused publish is worth retrying.
//!
//! ```
//! use wikisync_core::sync::PublishFailure;
//! assert_eq!(PublishFailure::from_status(503), PublishFailure::Retry);
//! assert_eq!(PublishFailure::from_status(413), PublishFailure::Reject);
//! ```

use serde::{Deserialize, Serialize};

use super::state::PageState;

/// Whether a page whose text here is `local_text` (`None`: no page) still has to be published:
/// it was never synced, or its text is not the one last synced.
pub fn needs_publish(state: &PageState, local_text: Option<&str>) -> bool {
    !state.ever_synced() || state.text.as_deref() != local_text
}

/// What to do with an entry the gateway did not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PublishFailure {
    /// Keep it queued and send it again later: the gateway was unreachable, busy, or refused
    /// for a reason an administrator or time can fix (a wrong token, a full disk).
    Retry,
    /// Take it out of the queue and show it to the administrator: the gateway refused the
    /// entry itself (malformed, too large, wrong type, unknown node), so sending it again
    /// cannot help, and keeping it would hold up the entries queued after it.
    Reject,
}

impl PublishFailure {
    /// The policy for an HTTP status of the gateway (`0`: no answer at all).
    pub fn from_status(status: u16) -> PublishFailure {
        match status {
            400 | 404 | 405 | 411 | 413 | 414 | 415 | 422 => PublishFailure::Reject,
            _ => PublishFailure::Retry,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::PageId;

    #[test]
    fn statuses_split_into_retry_and_reject() {
        for status in [0, 401, 403, 408, 409, 429, 500, 502, 503, 504, 507] {
            assert_eq!(
                PublishFailure::from_status(status),
                PublishFailure::Retry,
                "{status}"
            );
        }
        for status in [400, 404, 413, 415] {
            assert_eq!(
                PublishFailure::from_status(status),
                PublishFailure::Reject,
                "{status}"
            );
        }
    }

    #[test]
    fn never_synced_pages_need_publishing() {
        let state = PageState::new(PageId::clean("p").expect("valid id"));
        assert!(needs_publish(&state, Some("x")));
        assert!(needs_publish(&state, None));
    }
}
