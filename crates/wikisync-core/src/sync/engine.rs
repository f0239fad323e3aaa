//! Saves and notifications: local saves, incoming revisions (fast-forward, merge, conflict),
//! mirrors and source moves.

use super::action::{
    Action, Change, ConflictChoice, Decision, IgnoreReason, LocalEdit, Notice, Outcome,
    RefuseReason,
};
use super::config::{GonePolicy, Role, SiteConfig};
use super::lock;
use super::media;
use super::publish;
use super::state::{ConflictOrigin, LockState, PageState, PendingConflict};
use super::version_vector::{Causality, VersionVector};
use crate::entry::{Entry, EntryKind, ItemSubject, RevisionRef, SiteId};
use crate::merge::{Markers, MergeOptions, merge3};
use crate::time::Timestamp;

fn decision(outcome: Outcome, state: PageState, actions: Vec<Action>) -> Decision {
    Decision {
        outcome,
        state,
        actions,
    }
}

fn ignore(state: PageState, reason: IgnoreReason) -> Decision {
    decision(Outcome::Ignore { reason }, state, Vec::new())
}

fn refuse(state: PageState, reason: RefuseReason, mut actions: Vec<Action>) -> Decision {
    actions.insert(0, Action::RefuseLocalEdit { reason });
    decision(Outcome::Refuse { reason }, state, actions)
}

/// A local user saved (or deleted) the page: publish the revision (with `base`, `clock` and,
/// on a source, `source` filled in) and release the local lock.
///
/// Refused on a mirror, while an editor at another site holds the lock, and when the page
/// changed under the open editor in a way that does not merge (the conflict is recorded; the
/// editor resolves it and saves again). A save while a conflict is pending resolves it: the
/// new revision includes the remote one.
pub fn handle_local_save(
    config: &SiteConfig,
    mut state: PageState,
    edit: LocalEdit,
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
        Some(Role::Source | Role::Peer { .. }) => {}
    }
    let mut actions = Vec::new();
    match &state.lock {
        LockState::AwaitingRemoteSave {
            site,
            editor,
            expires,
            ..
        } => {
            if *expires > now {
                let notice = Notice::EditedElsewhere {
                    site: site.clone(),
                    editor: editor.clone(),
                    until: *expires,
                };
                return refuse(
                    state,
                    RefuseReason::RemotelyLocked,
                    vec![Action::ShowNotice { notice }],
                );
            }
            actions.push(Action::UnlockPage {
                site: site.clone(),
                editor: editor.clone(),
            });
        }
        LockState::Free | LockState::AwaitingLocalSave { .. } => {}
    }
    if edit.title.is_some() {
        state.title = edit.title.clone();
    }
    let mut text = match edit.change {
        Change::Text { text } => Some(text),
        Change::Deleted => None,
    };
    let mut clock = state.clock.clone();
    if let Some(conflict) = state.conflict.take() {
        clock = clock.join(&conflict.clock);
        actions.push(Action::ClearConflict);
    } else if let LockState::AwaitingLocalSave { opened, .. } = &state.lock
        && *opened != state.clock
    {
        // The page changed while the editor was open: merge the editor's text into it.
        let base = state.common_base(opened, opened).to_owned();
        let current = state.text.clone().unwrap_or_default();
        let saved = text.clone().unwrap_or_default();
        let merged = merge3(&base, &current, &saved, &MergeOptions::default());
        match merged.clean_text() {
            Some(m) => {
                if m != saved {
                    actions.push(write_action(
                        Some(&m),
                        edit.author.clone(),
                        edit.summary.clone(),
                        edit.minor,
                    ));
                }
                text = (!m.is_empty()).then_some(m);
            }
            None => {
                let conflict = PendingConflict {
                    origin: ConflictOrigin::LocalSave {
                        editor: edit.author.clone(),
                        text: text.clone(),
                    },
                    revision: state.head.clone().unwrap_or_else(|| RevisionRef {
                        revision: 0,
                        site: config.site.clone(),
                    }),
                    clock: state.clock.clone(),
                    text: current,
                    regions: merged.regions,
                    left: publish::label(state.head.as_ref()),
                    right: "editor".to_owned(),
                };
                state.conflict = Some(conflict.clone());
                return refuse(
                    state,
                    RefuseReason::Conflict,
                    vec![Action::RecordConflict { conflict }],
                );
            }
        }
    }
    let revision = publish::next_revision(config, &clock, edit.revision);
    let clock = clock.with(&config.site, revision);
    let old_head = state.head.clone();
    state.head = Some(RevisionRef {
        revision,
        site: config.site.clone(),
    });
    state.clock = clock;
    state.text = text;
    let snapshot_text = state.text.clone().unwrap_or_default();
    state.push_history(state.clock.clone(), &snapshot_text);
    let kind = publish::revision_kind(
        config,
        state.text.as_deref(),
        edit.author.clone(),
        edit.summary.clone(),
        now,
    );
    let mut entry = publish::entry(config, &state, kind, now);
    entry.base = old_head;
    entry.author = edit.author.clone();
    entry.summary = edit.summary;
    entry.minor = edit.minor;
    actions.push(Action::Publish { entry });
    if let LockState::AwaitingLocalSave { since, .. } = std::mem::take(&mut state.lock) {
        // Saving ends the edit session: say so explicitly (a merge publish must not).
        let at = now.max(since);
        state.release(&config.site, at);
        let mut unlock = publish::entry(config, &state, EntryKind::Unlock, at);
        unlock.author = edit.author;
        actions.push(Action::Publish { entry: unlock });
    }
    decision(Outcome::Publish, state, actions)
}

fn write_action(
    text: Option<&str>,
    author: Option<String>,
    summary: Option<String>,
    minor: bool,
) -> Action {
    match text {
        Some(text) => Action::WritePage {
            text: text.to_owned(),
            author,
            summary,
            minor,
        },
        None => Action::DeletePage { author, summary },
    }
}

/// A notification arrived: `entry`, for this page. `local_text` is the page's current text
/// here (`None`: the page does not exist); if it differs from the synced text, the local
/// change is merged rather than overwritten.
///
/// `publisher` is the site the gateway authenticated as the entry's publisher, when it
/// reports one (`None`: it does not, and the entry's claimed origin is taken as it is). Given
/// one, the entry is refused when the publisher may not write the page here (a mirror's
/// source only: [`IgnoreReason::NotFromSource`]; a peer's peer set only:
/// [`IgnoreReason::NotFromPeer`]) or when the entry claims another origin site than its
/// publisher ([`IgnoreReason::WrongPublisher`]). This holds for revisions, media, locks and
/// unlocks alike; see `docs/sync.md`, "Who may write: the authenticated publisher".
pub fn handle_notification(
    config: &SiteConfig,
    state: PageState,
    local_text: Option<&str>,
    entry: &Entry,
    publisher: Option<&SiteId>,
    now: Timestamp,
) -> Decision {
    if entry.page != state.page {
        return ignore(state, IgnoreReason::OtherPage);
    }
    if let Some(publisher) = publisher {
        if let Some(reason) = refused_publisher(config, &state, publisher) {
            return ignore(state, reason);
        }
        if entry.revision.site != *publisher {
            return ignore(state, IgnoreReason::WrongPublisher);
        }
    }
    if entry.revision.site == config.site {
        return ignore(state, IgnoreReason::OwnEcho);
    }
    match config.role_for(&state.page) {
        None => ignore(state, IgnoreReason::NotSynced),
        Some(Role::Source) => ignore(state, IgnoreReason::SourceIsAuthoritative),
        Some(Role::Mirror { source, .. }) => mirror_notification(config, state, entry, source),
        Some(Role::Peer { .. }) => match &entry.kind {
            EntryKind::Draft {
                lock_expires,
                conflict_with,
            } => lock::remote_draft(
                config,
                state,
                entry,
                *lock_expires,
                conflict_with.as_ref(),
                now,
            ),
            EntryKind::Unlock => lock::remote_unlock(state, entry),
            EntryKind::Page { .. } | EntryKind::Deleted { .. } => {
                peer_revision(config, state, local_text, entry, now)
            }
            EntryKind::Media { .. } | EntryKind::MediaDeleted { .. } => {
                media::peer_media(config, state, entry)
            }
        },
    }
}

/// Why `publisher` may not write the page here, if it may not: the rule of the page's role
/// ([`Role::admits`]), a mirror comparing with the source it follows now.
fn refused_publisher(
    config: &SiteConfig,
    state: &PageState,
    publisher: &SiteId,
) -> Option<IgnoreReason> {
    let role = config.role_for(&state.page)?;
    let source = match role {
        Role::Mirror { source, .. } => state.followed_source.as_ref().unwrap_or(source),
        Role::Source | Role::Peer { .. } => &config.site,
    };
    if role.admits(&config.site, source, publisher) {
        return None;
    }
    Some(match role {
        Role::Peer { .. } => IgnoreReason::NotFromPeer,
        Role::Source | Role::Mirror { .. } => IgnoreReason::NotFromSource,
    })
}

fn deleted_by(entry: &Entry) -> (Option<String>, Option<String>) {
    match &entry.kind {
        EntryKind::Deleted { by, comment, .. } => (
            by.clone().or_else(|| entry.author.clone()),
            comment.clone().or_else(|| entry.summary.clone()),
        ),
        _ => (entry.author.clone(), entry.summary.clone()),
    }
}

/// Applies `entry` as the page's new synced version (fast-forward), returning the outcome
/// and the write action.
fn apply(
    state: &mut PageState,
    entry: &Entry,
    clock: VersionVector,
    actions: &mut Vec<Action>,
) -> Outcome {
    if entry.is_media() {
        return media::apply(state, entry, clock, actions);
    }
    let existed = state.text.is_some();
    let text = entry.text().map(str::to_owned);
    let outcome = match (&text, existed) {
        (Some(_), false) => Outcome::Create,
        (Some(_), true) => Outcome::Update,
        (None, _) => Outcome::Delete,
    };
    if text.is_some() || existed {
        let (author, summary) = deleted_by(entry);
        actions.push(write_action(text.as_deref(), author, summary, entry.minor));
    }
    state.head = Some(entry.revision.clone());
    state.clock = clock;
    state.text = text;
    let snapshot_text = state.text.clone().unwrap_or_default();
    state.push_history(state.clock.clone(), &snapshot_text);
    outcome
}

fn clear_included_conflict(state: &mut PageState, actions: &mut Vec<Action>) {
    if state
        .conflict
        .as_ref()
        .is_some_and(|c| c.clock.le(&state.clock))
    {
        state.conflict = None;
        actions.push(Action::ClearConflict);
    }
}

fn peer_revision(
    config: &SiteConfig,
    mut state: PageState,
    local_text: Option<&str>,
    entry: &Entry,
    now: Timestamp,
) -> Decision {
    let theirs_clock = VersionVector::from_entry(&entry.clock, &entry.revision);
    let dirty = local_text != state.text.as_deref();
    if state.head.as_ref() == Some(&entry.revision)
        || state
            .conflict
            .as_ref()
            .is_some_and(|c| c.revision == entry.revision)
    {
        return ignore(state, IgnoreReason::Duplicate);
    }
    if state
        .conflict
        .as_ref()
        .is_some_and(|c| theirs_clock.le(&c.clock))
    {
        return ignore(state, IgnoreReason::Stale);
    }
    let mut actions = Vec::new();
    match theirs_clock.compare(&state.clock) {
        Causality::Same => return ignore(state, IgnoreReason::Duplicate),
        Causality::Older => return ignore(state, IgnoreReason::Stale),
        Causality::Newer if !dirty => {
            let outcome = apply(&mut state, entry, theirs_clock, &mut actions);
            clear_included_conflict(&mut state, &mut actions);
            return decision(outcome, state, actions);
        }
        Causality::Newer | Causality::Concurrent => {}
    }
    merge_revision(config, state, local_text, entry, theirs_clock, now)
}

fn merge_revision(
    config: &SiteConfig,
    mut state: PageState,
    local_text: Option<&str>,
    entry: &Entry,
    theirs_clock: VersionVector,
    now: Timestamp,
) -> Decision {
    let mut actions = Vec::new();
    let ours = local_text.unwrap_or("");
    let theirs = entry.text().unwrap_or("");
    let joined = state.clock.join(&theirs_clock);
    // Order the sides by revision so that every site computes the same merge.
    let theirs_first = Some(&entry.revision) < state.head.as_ref();
    let head = if theirs_first {
        state.head.clone()
    } else {
        Some(entry.revision.clone())
    };
    if ours == theirs {
        state.clock = joined;
        state.head = head;
        state.push_history(state.clock.clone(), ours);
        clear_included_conflict(&mut state, &mut actions);
        return decision(Outcome::Merge, state, actions);
    }
    let base = state.common_base(&state.clock, &theirs_clock).to_owned();
    let (left, right, left_ref, right_ref) = if theirs_first {
        (theirs, ours, Some(&entry.revision), state.head.as_ref())
    } else {
        (ours, theirs, state.head.as_ref(), Some(&entry.revision))
    };
    let merged = merge3(&base, left, right, &MergeOptions::default());
    let Some(text) = merged.clean_text() else {
        let conflict_clock = match &state.conflict {
            Some(old) => old.clock.join(&theirs_clock),
            None => theirs_clock.clone(),
        };
        let conflict = PendingConflict {
            origin: ConflictOrigin::Remote,
            revision: entry.revision.clone(),
            clock: conflict_clock,
            text: theirs.to_owned(),
            regions: merged.regions,
            left: publish::label(left_ref),
            right: publish::label(right_ref),
        };
        state.push_history(theirs_clock, theirs);
        state.conflict = Some(conflict.clone());
        let report = publish::entry(
            config,
            &state,
            EntryKind::Draft {
                lock_expires: now,
                conflict_with: Some(entry.revision.clone()),
            },
            now,
        );
        actions.push(Action::RecordConflict { conflict });
        actions.push(Action::ShowNotice {
            notice: Notice::Conflict {
                revision: entry.revision.clone(),
            },
        });
        actions.push(Action::Publish { entry: report });
        return decision(Outcome::Conflict, state, actions);
    };
    let summary = Some(format!(
        "wikisync: merged {} and {}",
        publish::label(left_ref),
        publish::label(right_ref)
    ));
    let new_text = (!text.is_empty()).then_some(text);
    if new_text.as_deref().unwrap_or("") != ours {
        actions.push(write_action(
            new_text.as_deref(),
            None,
            summary.clone(),
            false,
        ));
    }
    let merged_text = new_text.clone().unwrap_or_default();
    if merged_text == ours || merged_text == theirs {
        // One side already holds the merge: the other side computes the same and adopts it
        // too, so nothing new needs publishing.
        state.clock = joined;
        state.head = head;
        state.text = new_text;
        state.push_history(state.clock.clone(), &merged_text);
    } else {
        let revision = publish::next_revision(config, &joined, publish::time_revision(now));
        let old_head = state.head.clone();
        state.clock = joined.with(&config.site, revision);
        state.head = Some(RevisionRef {
            revision,
            site: config.site.clone(),
        });
        state.text = new_text;
        state.push_history(state.clock.clone(), &merged_text);
        let kind =
            publish::revision_kind(config, state.text.as_deref(), None, summary.clone(), now);
        let mut out = publish::entry(config, &state, kind, now);
        out.base = old_head;
        out.summary = summary;
        actions.push(Action::Publish { entry: out });
    }
    clear_included_conflict(&mut state, &mut actions);
    decision(Outcome::Merge, state, actions)
}

fn mirror_notification(
    config: &SiteConfig,
    mut state: PageState,
    entry: &Entry,
    configured: &SiteId,
) -> Decision {
    let source = state
        .followed_source
        .clone()
        .unwrap_or_else(|| configured.clone());
    if entry.revision.site != source {
        return ignore(state, IgnoreReason::NotFromSource);
    }
    let mut actions = Vec::new();
    let mut outcome = None;
    if let Some(new) = &entry.source
        && *new != source
    {
        state.followed_source = Some(new.clone());
        state.source_gone = None;
        actions.push(Action::ShowNotice {
            notice: Notice::MirroredFrom {
                source: new.clone(),
            },
        });
        outcome = Some(Outcome::Follow);
    }
    if matches!(entry.kind, EntryKind::Draft { .. } | EntryKind::Unlock) {
        return match outcome {
            Some(outcome) => decision(outcome, state, actions),
            None => ignore(state, IgnoreReason::ReadOnly),
        };
    }
    if let Some(refused) = media::too_large(config, &state, entry) {
        return refused;
    }
    let theirs_clock = VersionVector::from_entry(&entry.clock, &entry.revision);
    let applied = match theirs_clock.compare(&state.clock) {
        Causality::Same => Err(IgnoreReason::Duplicate),
        Causality::Older => Err(IgnoreReason::Stale),
        Causality::Newer | Causality::Concurrent => {
            // The source is authoritative: a mirror never merges.
            let clock = state.clock.join(&theirs_clock);
            let created = state.text.is_none();
            let o = apply(&mut state, entry, clock, &mut actions);
            if created && o == Outcome::Create {
                actions.push(Action::ShowNotice {
                    notice: Notice::MirroredFrom {
                        source: state.followed_source.clone().unwrap_or(source),
                    },
                });
            }
            Ok(o)
        }
    };
    match (outcome, applied) {
        (Some(follow), _) => decision(follow, state, actions),
        (None, Ok(o)) => decision(o, state, actions),
        (None, Err(reason)) => ignore(state, reason),
    }
}

/// The source of a mirrored page went away (DokuWiki: the node was deleted). With a
/// `redirect` (the new source, e.g. from the deletion's redirect URI) the mirror follows it;
/// without one it applies its keep/delete policy.
pub fn handle_source_gone(
    config: &SiteConfig,
    mut state: PageState,
    redirect: Option<SiteId>,
    now: Timestamp,
) -> Decision {
    let Some(Role::Mirror { source, when_gone }) = config.role_for(&state.page) else {
        return ignore(state, IgnoreReason::NotAMirror);
    };
    if !state.ever_synced() {
        return ignore(state, IgnoreReason::NeverSynced);
    }
    let current = state.followed_source.clone().unwrap_or(source.clone());
    if let Some(new) = redirect {
        if new == current {
            return ignore(state, IgnoreReason::Duplicate);
        }
        state.followed_source = Some(new.clone());
        state.source_gone = None;
        let notice = Notice::MirroredFrom { source: new };
        return decision(Outcome::Follow, state, vec![Action::ShowNotice { notice }]);
    }
    if state.source_gone.is_some() {
        return ignore(state, IgnoreReason::Duplicate);
    }
    state.source_gone = Some(now);
    let mut actions = vec![Action::ShowNotice {
        notice: Notice::SourceGone { source: current },
    }];
    match when_gone {
        GonePolicy::Keep => decision(Outcome::Keep, state, actions),
        GonePolicy::Delete if state.is_media => {
            if state.media.take().is_some() {
                actions.push(Action::DeleteMedia {
                    author: None,
                    summary: Some("wikisync: source gone".to_owned()),
                });
            }
            decision(Outcome::Delete, state, actions)
        }
        GonePolicy::Delete => {
            if state.text.take().is_some() {
                actions.push(Action::DeletePage {
                    author: None,
                    summary: Some("wikisync: source gone".to_owned()),
                });
            }
            decision(Outcome::Delete, state, actions)
        }
    }
}

/// On the source of a page: announce that `new_source` is now authoritative for it, by
/// republishing the current revision naming it in `ws:source`. Mirrors that follow this site
/// switch to `new_source`. Refused ([`RefuseReason::NotSource`]) unless this site is the page's
/// source; a page never published here has nothing to announce ([`IgnoreReason::NeverSynced`]).
pub fn announce_source_move(
    config: &SiteConfig,
    state: PageState,
    new_source: &SiteId,
    now: Timestamp,
) -> Decision {
    if !matches!(config.role_for(&state.page), Some(Role::Source)) {
        // Nothing was edited, so there is no local edit to refuse: only the outcome says no.
        let reason = RefuseReason::NotSource;
        return decision(Outcome::Refuse { reason }, state, Vec::new());
    }
    if !state.ever_synced() {
        return ignore(state, IgnoreReason::NeverSynced);
    }
    let entry = if state.is_media {
        media::announcement(config, &state, now)
    } else {
        let kind = publish::revision_kind(config, state.text.as_deref(), None, None, now);
        Some(publish::entry(config, &state, kind, now))
    };
    let Some(mut entry) = entry else {
        return ignore(state, IgnoreReason::MediaUnavailable);
    };
    entry.source = Some(new_source.clone());
    decision(Outcome::Follow, state, vec![Action::Publish { entry }])
}

/// A local user is about to save (or delete) the page: may the save be written? Pure: the
/// answer is [`Outcome::Accept`] (nothing to do: write the page, then report the save with
/// [`handle_local_save`]) or the refusal `handle_local_save` would give, which the host
/// carries out and stores instead of writing (a conflict is recorded with the editor's text,
/// see [`ConflictOrigin::LocalSave`]). Also refused while another local editor holds the lock
/// ([`RefuseReason::LockedLocally`]). Pages that are not synced are accepted.
pub fn check_save(
    config: &SiteConfig,
    state: PageState,
    change: Change,
    editor: Option<&str>,
    now: Timestamp,
) -> Decision {
    if let (
        LockState::AwaitingLocalSave {
            editor: holder,
            expires,
            ..
        },
        Some(editor),
    ) = (&state.lock, editor)
        && *expires > now
        && holder != editor
    {
        let notice = Notice::EditedLocally {
            editor: holder.clone(),
            until: *expires,
        };
        return refuse(
            state,
            RefuseReason::LockedLocally,
            vec![Action::ShowNotice { notice }],
        );
    }
    let edit = LocalEdit {
        change,
        author: editor.map(str::to_owned),
        summary: None,
        minor: false,
        revision: publish::time_revision(now),
        title: None,
    };
    let tried = handle_local_save(config, state.clone(), edit, now);
    match tried.outcome {
        Outcome::Refuse { reason } if reason != RefuseReason::NotSynced => tried,
        _ => decision(Outcome::Accept, state, Vec::new()),
    }
}

/// The local editor chose how to resolve the page's pending conflict: keep this side, take
/// the other, or edit the merge with its conflict markers.
///
/// Keep and take answer [`Action::SaveResolution`] with the text to save as a new local
/// revision (reported with [`handle_local_save`] like any save, which clears the conflict and
/// publishes a revision every peer takes). Keep is the page's text here for a remote
/// conflict, and the editor's text for a refused save (`editor_text` when the host has the
/// editor's current text, else the text kept with the conflict). Take is the other side's
/// text. Merge answers [`Action::OpenEditor`] with the merge rendered with markers.
pub fn resolve_conflict(
    config: &SiteConfig,
    state: PageState,
    choice: ConflictChoice,
    local_text: Option<&str>,
    editor_text: Option<String>,
    now: Timestamp,
) -> Decision {
    let _ = (config, now);
    let Some(conflict) = &state.conflict else {
        return ignore(state, IgnoreReason::NoConflict);
    };
    let action = match choice {
        ConflictChoice::Merge => Action::OpenEditor {
            text: render_conflict(conflict),
        },
        ConflictChoice::Keep | ConflictChoice::Take => {
            let text = match (choice, &conflict.origin) {
                (ConflictChoice::Take, _) => {
                    (!conflict.text.is_empty()).then(|| conflict.text.clone())
                }
                (_, ConflictOrigin::Remote) => local_text.map(str::to_owned),
                (_, ConflictOrigin::LocalSave { text, .. }) => editor_text.or_else(|| text.clone()),
            };
            Action::SaveResolution {
                text,
                choice,
                site: conflict.revision.site.clone(),
            }
        }
    };
    decision(Outcome::Resolve, state, vec![action])
}

/// The item of this page (or media file) was retracted from its node without a wikisync
/// tombstone (an XMPP client removed it): `item` is the retracted item's id.
///
/// The node no longer carries the page, so a mirror removes its copy (and forgets the page's
/// versions, so that the source can put it back); a source or a peer, for whom the page is
/// still alive, republishes its current revision, so the node is complete again for sites that
/// join later. A retracted lock announcement changes nothing (locks lapse by themselves).
///
/// `publisher` is the site the gateway authenticated as the retraction's author, when it
/// reports one. A mirror removes its copy only when its source retracted the item (another
/// publisher: [`IgnoreReason::NotFromSource`], nothing removed). A source or a peer republishes
/// whoever retracted: putting its own current revision back takes nothing from anyone.
pub fn handle_retracted(
    config: &SiteConfig,
    mut state: PageState,
    item: &str,
    publisher: Option<&SiteId>,
    now: Timestamp,
) -> Decision {
    let subject = crate::entry::item_subject(item);
    let page = match &subject {
        Some(ItemSubject::Page { page } | ItemSubject::Media { media: page }) => page,
        Some(ItemSubject::Draft { .. }) => return ignore(state, IgnoreReason::LockItem),
        None => return ignore(state, IgnoreReason::OtherPage),
    };
    if *page != state.page {
        return ignore(state, IgnoreReason::OtherPage);
    }
    if !state.ever_synced() {
        return ignore(state, IgnoreReason::NeverSynced);
    }
    let media = matches!(subject, Some(ItemSubject::Media { .. }));
    // Only a mirror's removal depends on who retracted: see above.
    if matches!(config.role_for(&state.page), Some(Role::Mirror { .. }))
        && let Some(reason) = publisher.and_then(|p| refused_publisher(config, &state, p))
    {
        return ignore(state, reason);
    }
    match config.role_for(&state.page) {
        None => ignore(state, IgnoreReason::NotSynced),
        Some(Role::Mirror { .. }) => {
            let summary = Some("wikisync: removed from its node".to_owned());
            let mut actions = Vec::new();
            if media && state.media.take().is_some() {
                actions.push(Action::DeleteMedia {
                    author: None,
                    summary,
                });
            } else if !media && state.text.take().is_some() {
                actions.push(Action::DeletePage {
                    author: None,
                    summary,
                });
            }
            state.head = None;
            state.clock = VersionVector::default();
            decision(Outcome::Delete, state, actions)
        }
        Some(Role::Source | Role::Peer { .. }) => restore(config, state, media, now),
    }
}

/// The namespace moved to another node ([`crate::sync::SetupStep::Republish`]): on its source
/// (or a peer) the page or media file publishes its current revision there, the same revision
/// (sites that have it ignore it), so that the new node carries every page; a deleted page
/// publishes its deletion. Refused ([`RefuseReason::NotSource`]) on a mirror; a page never
/// published here has nothing to republish ([`IgnoreReason::NeverSynced`]).
pub fn handle_republish(config: &SiteConfig, state: PageState, now: Timestamp) -> Decision {
    match config.role_for(&state.page) {
        None => ignore(state, IgnoreReason::NotSynced),
        Some(Role::Mirror { .. }) => {
            let reason = RefuseReason::NotSource;
            decision(Outcome::Refuse { reason }, state, Vec::new())
        }
        Some(_) if !state.ever_synced() => ignore(state, IgnoreReason::NeverSynced),
        Some(Role::Source | Role::Peer { .. }) => {
            let media = state.is_media;
            restore(config, state, media, now)
        }
    }
}

/// Publishes the current revision of the page (`media`: of the media file) again, outcome
/// `restore`.
fn restore(config: &SiteConfig, state: PageState, media: bool, now: Timestamp) -> Decision {
    let entry = if media {
        match &state.media {
            Some(version) => {
                let head = state.head.as_ref().map_or(0, |h| h.revision);
                let url = config.media_link(&state.page, head, &version.sha256);
                let Some(url) = url else {
                    return ignore(state, IgnoreReason::MediaUnavailable);
                };
                let kind = EntryKind::Media {
                    media_type: version.media_type.clone(),
                    sha256: version.sha256.clone(),
                    size: version.size,
                    data: None,
                    url: Some(url),
                };
                publish::entry(config, &state, kind, now)
            }
            None => {
                let kind = EntryKind::MediaDeleted {
                    when: now,
                    by: None,
                    comment: None,
                };
                publish::entry(config, &state, kind, now)
            }
        }
    } else {
        let kind = publish::revision_kind(config, state.text.as_deref(), None, None, now);
        publish::entry(config, &state, kind, now)
    };
    let mut entry = entry;
    // the revision the page has here, not a new one: receivers that have it ignore it
    if let Some(head) = &state.head {
        entry.revision = head.clone();
    }
    decision(Outcome::Restore, state, vec![Action::Publish { entry }])
}

/// Renders a pending conflict as git-style markers labelled with the two revisions; the
/// result is the same at every site that recorded the conflict.
pub fn render_conflict(conflict: &PendingConflict) -> String {
    let markers = Markers {
        ours: conflict.left.clone(),
        theirs: conflict.right.clone(),
        ..Markers::default()
    };
    crate::merge::Merge {
        regions: conflict.regions.clone(),
    }
    .render(&markers)
}
