//! Media files (images, attachments): uploads, overwrites and deletions travel as pages do,
//! with roles, sources, version vectors and the keep/delete policy, but without editor locks
//! or merges: a file is one blob. Concurrent uploads at two peers keep the version with the
//! greater revision everywhere; the other stays in the media history of the site that made it,
//! and both sites are told.
//!
//! Small files travel inside their entry; larger ones by reference ([`SiteConfig::media_url`]),
//! fetched by the receiver and written only once [`crate::entry::verify_media`] accepts them.
//!
//! ```
//! use wikisync_core::entry::{EntryKind, SiteId};
//! use wikisync_core::id::PageId;
//! use wikisync_core::sync::*;
//! use wikisync_core::time::Timestamp;
//!
//! let source = SiteConfig::new(SiteId::new("https://a.example/")).rule("doc", Role::Source);
//! let logo = PageId::clean("doc:logo.png")?;
//! let edit = LocalMediaEdit {
//!     change: MediaChange::File { data: b"\x89PNG".to_vec(), media_type: "image/png".into() },
//!     author: Some("alice".into()),
//!     summary: None,
//!     revision: 1_700_000_000,
//! };
//! let d = handle_media_saved(&source, PageState::new(logo), edit, Timestamp(1_700_000_000));
//! let Some(Action::Publish { entry }) = d.actions.first() else { unreachable!() };
//! assert!(matches!(&entry.kind, EntryKind::Media { size: 4, data: Some(_), .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::action::{
    Action, Decision, IgnoreReason, LocalMediaEdit, MediaChange, Notice, Outcome, RefuseReason,
};
use super::config::{Role, SiteConfig};
use super::publish;
use super::state::{MediaVersion, PageState};
use super::version_vector::{Causality, VersionVector};
use crate::entry::{Entry, EntryKind, RevisionRef};
use crate::hash::sha256_hex_bytes;
use crate::time::Timestamp;

fn decision(outcome: Outcome, state: PageState, actions: Vec<Action>) -> Decision {
    Decision {
        outcome,
        state,
        actions,
    }
}

fn refuse(state: PageState, reason: RefuseReason, notice: Option<Notice>) -> Decision {
    let mut actions = vec![Action::RefuseLocalEdit { reason }];
    actions.extend(notice.map(|notice| Action::ShowNotice { notice }));
    decision(Outcome::Refuse { reason }, state, actions)
}

/// A local user uploaded, overwrote or deleted the media file: publish it (inside the entry
/// up to [`SiteConfig::media_inline_max`], else by reference). Refused on a mirror, and for a
/// file over [`SiteConfig::media_max`] (it stays here, unpublished, with a notice).
pub fn handle_media_saved(
    config: &SiteConfig,
    mut state: PageState,
    edit: LocalMediaEdit,
    now: Timestamp,
) -> Decision {
    match config.role_for(&state.page) {
        None => return refuse(state, RefuseReason::NotSynced, None),
        Some(Role::Mirror { source, .. }) => {
            let source = state.followed_source.clone().unwrap_or(source.clone());
            let notice = Notice::MirroredFrom { source };
            return refuse(state, RefuseReason::Mirror, Some(notice));
        }
        Some(Role::Source | Role::Peer { .. }) => {}
    }
    if let MediaChange::File { data, .. } = &edit.change {
        let size = byte_len(data);
        if size > config.media_max {
            let notice = Notice::MediaTooLarge {
                size,
                max: config.media_max,
            };
            return refuse(state, RefuseReason::TooLarge, Some(notice));
        }
    }
    state.is_media = true;
    let revision = publish::next_revision(config, &state.clock, edit.revision);
    let old_head = state.head.replace(RevisionRef {
        revision,
        site: config.site.clone(),
    });
    state.clock = state.clock.with(&config.site, revision);
    let kind = match edit.change {
        MediaChange::File { data, media_type } => {
            let size = byte_len(&data);
            let sha256 = sha256_hex_bytes(&data);
            state.media = Some(MediaVersion {
                media_type: media_type.clone(),
                sha256: sha256.clone(),
                size,
            });
            let url = (size > config.media_inline_max)
                .then(|| config.media_link(&state.page, revision, &sha256))
                .flatten();
            EntryKind::Media {
                media_type,
                sha256,
                size,
                data: url.is_none().then_some(data),
                url,
            }
        }
        MediaChange::Deleted => {
            state.media = None;
            EntryKind::MediaDeleted {
                when: now,
                by: edit.author.clone(),
                comment: edit.summary.clone(),
            }
        }
    };
    let mut entry = publish::entry(config, &state, kind, now);
    entry.base = old_head;
    entry.author = edit.author;
    entry.summary = edit.summary;
    decision(Outcome::Publish, state, vec![Action::Publish { entry }])
}

fn byte_len(data: &[u8]) -> u64 {
    u64::try_from(data.len()).unwrap_or(u64::MAX)
}

/// An incoming media file over this site's limit: not applied, and said so.
pub(crate) fn too_large(config: &SiteConfig, state: &PageState, entry: &Entry) -> Option<Decision> {
    match &entry.kind {
        EntryKind::Media { size, .. } if *size > config.media_max => {
            let notice = Notice::MediaTooLarge {
                size: *size,
                max: config.media_max,
            };
            Some(decision(
                Outcome::Ignore {
                    reason: IgnoreReason::TooLarge,
                },
                state.clone(),
                vec![Action::ShowNotice { notice }],
            ))
        }
        _ => None,
    }
}

/// Applies a media entry as the file's new version (fast-forward), returning the outcome and
/// the write action.
pub(crate) fn apply(
    state: &mut PageState,
    entry: &Entry,
    clock: VersionVector,
    actions: &mut Vec<Action>,
) -> Outcome {
    state.is_media = true;
    let existed = state.media.is_some();
    let outcome = match &entry.kind {
        EntryKind::Media {
            media_type,
            sha256,
            size,
            data,
            url,
        } => {
            actions.push(Action::WriteMedia {
                media_type: media_type.clone(),
                sha256: sha256.clone(),
                size: *size,
                data: data.clone(),
                url: url.clone(),
                author: entry.author.clone(),
                summary: entry.summary.clone(),
            });
            state.media = Some(MediaVersion {
                media_type: media_type.clone(),
                sha256: sha256.clone(),
                size: *size,
            });
            if existed {
                Outcome::Update
            } else {
                Outcome::Create
            }
        }
        EntryKind::MediaDeleted { by, comment, .. } => {
            if existed {
                actions.push(Action::DeleteMedia {
                    author: by.clone().or_else(|| entry.author.clone()),
                    summary: comment.clone().or_else(|| entry.summary.clone()),
                });
            }
            state.media = None;
            Outcome::Delete
        }
        // Only media entries come here (see `handle_notification`).
        _ => {
            return Outcome::Ignore {
                reason: IgnoreReason::OtherPage,
            };
        }
    };
    state.head = Some(entry.revision.clone());
    state.clock = clock;
    outcome
}

/// A media entry from a peer: newer versions apply; of two concurrent uploads the one with
/// the greater revision is kept everywhere.
pub(crate) fn peer_media(config: &SiteConfig, mut state: PageState, entry: &Entry) -> Decision {
    if state.head.as_ref() == Some(&entry.revision) {
        let reason = IgnoreReason::Duplicate;
        return decision(Outcome::Ignore { reason }, state, Vec::new());
    }
    if let Some(refused) = too_large(config, &state, entry) {
        return refused;
    }
    let theirs = VersionVector::from_entry(&entry.clock, &entry.revision);
    let mut actions = Vec::new();
    match theirs.compare(&state.clock) {
        Causality::Same => {
            let reason = IgnoreReason::Duplicate;
            decision(Outcome::Ignore { reason }, state, actions)
        }
        Causality::Older => {
            let reason = IgnoreReason::Stale;
            decision(Outcome::Ignore { reason }, state, actions)
        }
        Causality::Newer => {
            let outcome = apply(&mut state, entry, theirs, &mut actions);
            decision(outcome, state, actions)
        }
        Causality::Concurrent => {
            let joined = state.clock.join(&theirs);
            let ours = state.head.clone();
            if ours.as_ref().is_none_or(|ours| entry.revision > *ours) {
                apply(&mut state, entry, joined, &mut actions);
                if let Some(replaced) = ours {
                    actions.push(Action::ShowNotice {
                        notice: Notice::MediaConflict {
                            kept: entry.revision.clone(),
                            replaced,
                        },
                    });
                }
                decision(Outcome::Conflict, state, actions)
            } else {
                // Ours is kept: the other site keeps ours too when it arrives there.
                state.clock = joined;
                let kept = ours.unwrap_or_else(|| entry.revision.clone());
                actions.push(Action::ShowNotice {
                    notice: Notice::MediaConflict {
                        kept,
                        replaced: entry.revision.clone(),
                    },
                });
                decision(Outcome::Conflict, state, actions)
            }
        }
    }
}

/// The entry announcing a media file's move to a new source: its current version, by
/// reference (this site serves it), or its deletion.
pub(crate) fn announcement(
    config: &SiteConfig,
    state: &PageState,
    now: Timestamp,
) -> Option<Entry> {
    let kind = match &state.media {
        Some(version) => {
            let revision = state
                .clock
                .get(&config.site)
                .max(state.head.as_ref().map_or(0, |head| head.revision));
            EntryKind::Media {
                media_type: version.media_type.clone(),
                sha256: version.sha256.clone(),
                size: version.size,
                data: None,
                url: Some(config.media_link(&state.page, revision, &version.sha256)?),
            }
        }
        None => EntryKind::MediaDeleted {
            when: now,
            by: None,
            comment: None,
        },
    };
    Some(publish::entry(config, state, kind, now))
}

/// Whether a media file whose bytes here have the hex SHA-256 `sha256` (`None`: no file)
/// still has to be published: never synced, or not the version last synced.
pub fn media_needs_publish(state: &PageState, sha256: Option<&str>) -> bool {
    !state.ever_synced() || state.media.as_ref().map(|m| m.sha256.as_str()) != sha256
}
