//! What local users of a page are told, at a given time: the same list on every host, so no
//! host keeps windows or precedence rules of its own.
//!
//! ```
//! use wikisync_core::entry::SiteId;
//! use wikisync_core::id::PageId;
//! use wikisync_core::sync::{GonePolicy, Notice, PageState, Role, SiteConfig, notices};
//! use wikisync_core::time::Timestamp;
//!
//! let source = SiteId::new("https://a.example/");
//! let config = SiteConfig::new(SiteId::new("https://b.example/")).rule(
//!     "doc",
//!     Role::Mirror { source: source.clone(), when_gone: GonePolicy::Keep },
//! );
//! let state = PageState::new(PageId::clean("doc:start")?);
//! assert_eq!(notices(&config, &state, Timestamp(0)), vec![Notice::MirroredFrom { source }]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::action::Notice;
use super::config::{Role, SiteConfig};
use super::state::{LockState, PageState};
use crate::time::Timestamp;

/// How long a conflict reported by another site is shown, in seconds.
pub const REPORT_NOTICE_SECONDS: i64 = 3600;

/// The notices to show with the page at `now`, in this order:
///
/// 1. [`Notice::MirroredFrom`] on a mirror (the source it follows now);
/// 2. [`Notice::SourceGone`] once that source went away;
/// 3. [`Notice::EditedElsewhere`] while an editor at another site holds the lock, and also
///    [`Notice::LockLost`] when that editor won the lock from a local editor;
/// 4. [`Notice::ConflictReported`] for [`REPORT_NOTICE_SECONDS`] after another site reported
///    a conflict;
/// 5. [`Notice::Conflict`] while a conflict waits for the local editor.
pub fn notices(config: &SiteConfig, state: &PageState, now: Timestamp) -> Vec<Notice> {
    let mut out = Vec::new();
    if let Some(Role::Mirror { source, .. }) = config.role_for(&state.page) {
        let source = state.followed_source.as_ref().unwrap_or(source);
        out.push(Notice::MirroredFrom {
            source: source.clone(),
        });
        if state.source_gone.is_some() {
            out.push(Notice::SourceGone {
                source: source.clone(),
            });
        }
    }
    match &state.lock {
        LockState::AwaitingRemoteSave {
            site,
            editor,
            expires,
            displaced,
            ..
        } if *expires > now => {
            out.push(Notice::EditedElsewhere {
                site: site.clone(),
                editor: editor.clone(),
                until: *expires,
            });
            if displaced.is_some() {
                out.push(Notice::LockLost {
                    site: site.clone(),
                    editor: editor.clone(),
                    until: *expires,
                });
            }
        }
        _ => {}
    }
    if let Some(report) = &state.reported
        && now.0.saturating_sub(report.at.0) < REPORT_NOTICE_SECONDS
    {
        out.push(Notice::ConflictReported {
            site: report.site.clone(),
            revision: report.revision.clone(),
        });
    }
    if let Some(conflict) = &state.conflict {
        out.push(Notice::Conflict {
            revision: conflict.revision.clone(),
        });
    }
    out
}
