//! The draft-lock protocol: local editors opening and closing, remote drafts and unlocks,
//! expiry, and the deterministic tie-break between simultaneous starts.
//!
//! The tie-break orders edit sessions by `(session start, site id)`; the smaller wins. A draft
//! carries its session start as `atom:updated` (renewals keep it), so every site that has
//! seen both drafts picks the same winner.

use super::action::{Action, Decision, IgnoreReason, Notice, Outcome, RefuseReason};
use super::config::{Role, SiteConfig};
use super::publish;
use super::state::{ConflictReport, LockState, PageState};
use crate::entry::{Entry, EntryKind, RevisionRef, SiteId};
use crate::time::Timestamp;

fn decision(outcome: Outcome, state: PageState, actions: Vec<Action>) -> Decision {
    Decision {
        outcome,
        state,
        actions,
    }
}

fn refuse(state: PageState, reason: RefuseReason, mut actions: Vec<Action>) -> Decision {
    actions.insert(0, Action::RefuseLocalEdit { reason });
    decision(Outcome::Refuse { reason }, state, actions)
}

/// The local editor `editor` opened (or refreshed) the page: take or renew the lock and
/// publish a draft, unless an editor at another site or another local editor holds it, or the
/// page is a mirror. Pages of a namespace this site is the source of have no peers to tell
/// ([`IgnoreReason::NoPeers`]).
///
/// The host may call this as often as its editor refreshes: a renewal is published only once
/// less than half of the lock is left ([`IgnoreReason::RenewalNotDue`] before).
pub fn handle_editor_opened(
    config: &SiteConfig,
    mut state: PageState,
    editor: &str,
    now: Timestamp,
) -> Decision {
    match config.role_for(&state.page) {
        None => return refuse(state, RefuseReason::NotSynced, Vec::new()),
        Some(Role::Mirror { source, .. }) => {
            let source = state.followed_source.clone().unwrap_or(source.clone());
            let notice = Action::ShowNotice {
                notice: Notice::MirroredFrom { source },
            };
            return refuse(state, RefuseReason::Mirror, vec![notice]);
        }
        Some(Role::Source) => return ignore(state, IgnoreReason::NoPeers),
        Some(Role::Peer { .. }) => {}
    }
    let mut actions = Vec::new();
    let expires = Timestamp(now.0.saturating_add(i64::from(config.lock_seconds)));
    let (since, opened) = match std::mem::take(&mut state.lock) {
        LockState::AwaitingRemoteSave {
            site,
            editor: holder,
            since,
            expires: until,
            displaced,
        } if until > now => {
            state.lock = LockState::AwaitingRemoteSave {
                site: site.clone(),
                editor: holder.clone(),
                since,
                expires: until,
                displaced,
            };
            // The host's own lock may have lapsed or been removed: set it again.
            let lock = Action::LockPage {
                site: site.clone(),
                editor: holder.clone(),
                until,
            };
            let notice = Action::ShowNotice {
                notice: Notice::EditedElsewhere {
                    site,
                    editor: holder,
                    until,
                },
            };
            return refuse(state, RefuseReason::RemotelyLocked, vec![lock, notice]);
        }
        LockState::AwaitingRemoteSave { site, editor, .. } => {
            actions.push(Action::UnlockPage { site, editor });
            (
                fresh_session_start(config, &state, now),
                state.clock.clone(),
            )
        }
        LockState::AwaitingLocalSave {
            editor: holder,
            since,
            expires: until,
            opened,
        } if until > now => {
            if holder != editor {
                let notice = Action::ShowNotice {
                    notice: Notice::EditedLocally {
                        editor: holder.clone(),
                        until,
                    },
                };
                state.lock = LockState::AwaitingLocalSave {
                    editor: holder,
                    since,
                    expires: until,
                    opened,
                };
                return refuse(state, RefuseReason::LockedLocally, vec![notice]);
            }
            if renewal_due(config, until, now) {
                (since, opened)
            } else {
                state.lock = LockState::AwaitingLocalSave {
                    editor: holder,
                    since,
                    expires: until,
                    opened,
                };
                return ignore(state, IgnoreReason::RenewalNotDue);
            }
        }
        LockState::AwaitingLocalSave {
            editor: holder,
            opened,
            ..
        } if holder == editor => {
            // The same editor refreshes after its lock lapsed: a new session for the
            // tie-break, but its text still stems from the page as it was first opened.
            (fresh_session_start(config, &state, now), opened)
        }
        LockState::AwaitingLocalSave { .. } | LockState::Free => (
            fresh_session_start(config, &state, now),
            state.clock.clone(),
        ),
    };
    state.lock = LockState::AwaitingLocalSave {
        editor: editor.to_owned(),
        since,
        expires,
        opened,
    };
    let mut entry = publish::entry(
        config,
        &state,
        EntryKind::Draft {
            lock_expires: expires,
            conflict_with: None,
        },
        since,
    );
    entry.author = Some(editor.to_owned());
    actions.push(Action::Publish { entry });
    decision(Outcome::Lock, state, actions)
}

/// Whether a lock that lapses at `expires` is renewed at `now`: once less than half of the
/// lock duration is left, so that an editor refreshing every minute publishes a draft every
/// `lock_seconds / 2` and the other sites' locks never lapse while it types.
fn renewal_due(config: &SiteConfig, expires: Timestamp, now: Timestamp) -> bool {
    let left = expires.0.saturating_sub(now.0);
    left.saturating_mul(2) <= i64::from(config.lock_seconds)
}

fn ignore(state: PageState, reason: IgnoreReason) -> Decision {
    decision(Outcome::Ignore { reason }, state, Vec::new())
}

/// A new session starts strictly after this site's last release, so that receivers can tell
/// its drafts from those of the ended session.
fn fresh_session_start(config: &SiteConfig, state: &PageState, now: Timestamp) -> Timestamp {
    match state.released_at(&config.site) {
        Some(last) if last >= now => Timestamp(last.0.saturating_add(1)),
        _ => now,
    }
}

/// The local editor `editor` closed the page without saving: release the lock and publish an
/// unlock. Only the editor holding the lock can release it ([`IgnoreReason::NotLockHolder`]).
pub fn handle_editor_closed(
    config: &SiteConfig,
    mut state: PageState,
    editor: &str,
    now: Timestamp,
) -> Decision {
    match std::mem::take(&mut state.lock) {
        LockState::AwaitingLocalSave {
            editor: holder,
            since,
            expires,
            opened,
        } if holder != editor => {
            state.lock = LockState::AwaitingLocalSave {
                editor: holder,
                since,
                expires,
                opened,
            };
            ignore(state, IgnoreReason::NotLockHolder)
        }
        LockState::AwaitingLocalSave { since, .. } => {
            let at = now.max(since);
            state.release(&config.site, at);
            let mut entry = publish::entry(config, &state, EntryKind::Unlock, at);
            entry.author = Some(editor.to_owned());
            decision(Outcome::Unlock, state, vec![Action::Publish { entry }])
        }
        other => {
            state.lock = other;
            ignore(state, IgnoreReason::NothingLocked)
        }
    }
}

/// Time passed: release a remote lock that lapsed (unlock action) and drop a lapsed local one.
pub fn handle_tick(config: &SiteConfig, mut state: PageState, now: Timestamp) -> Decision {
    let _ = config;
    match &state.lock {
        LockState::AwaitingRemoteSave {
            expires,
            site,
            editor,
            ..
        } if *expires <= now => {
            let unlock = Action::UnlockPage {
                site: site.clone(),
                editor: editor.clone(),
            };
            state.lock = LockState::Free;
            decision(Outcome::Unlock, state, vec![unlock])
        }
        LockState::AwaitingLocalSave { expires, .. } if *expires <= now => {
            state.lock = LockState::Free;
            decision(Outcome::Unlock, state, Vec::new())
        }
        _ => {
            let reason = IgnoreReason::NothingExpired;
            decision(Outcome::Ignore { reason }, state, Vec::new())
        }
    }
}

/// A draft from another site (peer role; the entry is not an echo and is for this page).
pub(crate) fn remote_draft(
    config: &SiteConfig,
    mut state: PageState,
    entry: &Entry,
    lock_expires: Timestamp,
    conflict_with: Option<&RevisionRef>,
    now: Timestamp,
) -> Decision {
    let origin = entry.revision.site.clone();
    if let Some(revision) = conflict_with {
        state.reported = Some(ConflictReport {
            site: origin.clone(),
            revision: revision.clone(),
            at: now,
        });
        let notice = Notice::ConflictReported {
            site: origin,
            revision: revision.clone(),
        };
        return decision(
            Outcome::Conflict,
            state,
            vec![Action::ShowNotice { notice }],
        );
    }
    let since = entry.updated;
    if state.released_at(&origin).is_some_and(|r| r >= since) {
        let reason = IgnoreReason::SessionEnded;
        return decision(Outcome::Ignore { reason }, state, Vec::new());
    }
    if lock_expires <= now {
        let reason = IgnoreReason::Expired;
        return decision(Outcome::Ignore { reason }, state, Vec::new());
    }
    let ours = (since, &origin);
    let mut lost = None;
    match &mut state.lock {
        LockState::Free => {}
        LockState::AwaitingRemoteSave {
            site,
            since: held_since,
            expires,
            ..
        } if *expires > now => {
            if *site == origin && *held_since == since {
                if lock_expires > *expires {
                    *expires = lock_expires;
                    let action = Action::LockPage {
                        site: origin,
                        editor: entry.author.clone(),
                        until: lock_expires,
                    };
                    return decision(Outcome::Lock, state, vec![action]);
                }
                let reason = IgnoreReason::Duplicate;
                return decision(Outcome::Ignore { reason }, state, Vec::new());
            }
            if *site == origin && since < *held_since {
                let reason = IgnoreReason::SessionEnded;
                return decision(Outcome::Ignore { reason }, state, Vec::new());
            }
            if *site != origin && ours > (*held_since, &*site) {
                let reason = IgnoreReason::LostTieBreak;
                return decision(Outcome::Ignore { reason }, state, Vec::new());
            }
        }
        LockState::AwaitingLocalSave {
            editor,
            since: held_since,
            expires,
            ..
        } if *expires > now => {
            if ours > (*held_since, &config.site) {
                let reason = IgnoreReason::LostTieBreak;
                return decision(Outcome::Ignore { reason }, state, Vec::new());
            }
            lost = Some(editor.clone());
        }
        LockState::AwaitingRemoteSave { .. } | LockState::AwaitingLocalSave { .. } => {}
    }
    state.lock = LockState::AwaitingRemoteSave {
        site: origin.clone(),
        editor: entry.author.clone(),
        since,
        expires: lock_expires,
        displaced: lost.clone(),
    };
    let notice = if lost.is_some() {
        Notice::LockLost {
            site: origin.clone(),
            editor: entry.author.clone(),
            until: lock_expires,
        }
    } else {
        Notice::EditedElsewhere {
            site: origin.clone(),
            editor: entry.author.clone(),
            until: lock_expires,
        }
    };
    let actions = vec![
        Action::LockPage {
            site: origin,
            editor: entry.author.clone(),
            until: lock_expires,
        },
        Action::ShowNotice { notice },
    ];
    decision(Outcome::Lock, state, actions)
}

/// An unlock from another site: its editor closed the page or saved it.
pub(crate) fn remote_unlock(mut state: PageState, entry: &Entry) -> Decision {
    let origin: &SiteId = &entry.revision.site;
    state.release(origin, entry.updated);
    let held = match &state.lock {
        LockState::AwaitingRemoteSave {
            site,
            since,
            editor,
            ..
        } if site == origin && *since <= entry.updated => Some(Action::UnlockPage {
            site: site.clone(),
            editor: editor.clone(),
        }),
        _ => None,
    };
    if let Some(unlock) = held {
        state.lock = LockState::Free;
        decision(Outcome::Unlock, state, vec![unlock])
    } else {
        let reason = IgnoreReason::NothingLocked;
        decision(Outcome::Ignore { reason }, state, Vec::new())
    }
}
