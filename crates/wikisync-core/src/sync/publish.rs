//! Building the entries this site publishes.

use super::config::{Role, SiteConfig};
use super::state::PageState;
use super::version_vector::VersionVector;
use crate::entry::{Entry, EntryKind, RevisionRef, draft_atom_id, media_atom_id, page_atom_id};
use crate::time::Timestamp;

/// An entry for `state`'s page from this site, with the page's current revision, base,
/// version vector, title and link; callers adjust the fields that differ.
pub(crate) fn entry(
    config: &SiteConfig,
    state: &PageState,
    kind: EntryKind,
    now: Timestamp,
) -> Entry {
    let source = match config.role_for(&state.page) {
        Some(Role::Source) => Some(config.site.clone()),
        _ => None,
    };
    let atom_id = match kind {
        EntryKind::Draft { .. } | EntryKind::Unlock => draft_atom_id(&state.page),
        EntryKind::Media { .. } | EntryKind::MediaDeleted { .. } => media_atom_id(&state.page),
        _ => page_atom_id(&state.page),
    };
    let revision = state.clock.get(&config.site);
    // a media file has no page to link to
    let link = (!kind.is_media())
        .then(|| config.page_link(&state.page, revision))
        .flatten();
    Entry {
        atom_id,
        page: state.page.clone(),
        title: state
            .title
            .clone()
            .unwrap_or_else(|| state.page.to_string()),
        updated: now,
        author: None,
        summary: None,
        link,
        revision: RevisionRef {
            revision,
            site: config.site.clone(),
        },
        base: state.head.clone(),
        clock: state.clock.to_refs(),
        minor: false,
        source,
        kind,
    }
}

/// The next revision number of this site for the page: the host's number if it grows, else
/// one more than the last.
pub(crate) fn next_revision(config: &SiteConfig, clock: &VersionVector, host_revision: u64) -> u64 {
    host_revision.max(clock.get(&config.site).saturating_add(1))
}

/// A `Page` or `Deleted` kind for `text` (`None`: deleted).
pub(crate) fn revision_kind(
    config: &SiteConfig,
    text: Option<&str>,
    by: Option<String>,
    comment: Option<String>,
    now: Timestamp,
) -> EntryKind {
    match text {
        Some(text) => EntryKind::Page {
            text: text.to_owned(),
            media_type: config.media_type.clone(),
        },
        None => EntryKind::Deleted {
            when: now,
            by,
            comment,
        },
    }
}

/// The revision number a timestamp gives (negative times count as 0).
pub(crate) fn time_revision(now: Timestamp) -> u64 {
    u64::try_from(now.0).unwrap_or(0)
}

/// The label of a side in a conflict: `site@revision`.
pub(crate) fn label(rev: Option<&RevisionRef>) -> String {
    rev.map_or_else(
        || "local".to_owned(),
        |r| format!("{}@{}", r.site, r.revision),
    )
}
