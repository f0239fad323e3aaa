//! What the host gets back from every `handle_*` input: a [`Decision`] with the summary
//! [`Outcome`], the new [`PageState`] and the [`Action`]s to carry out, in order.

use serde::{Deserialize, Serialize};

use super::state::{PageState, PendingConflict};
use crate::entry::{Entry, RevisionRef, SiteId};
use crate::tagged;
use crate::time::Timestamp;

/// The result of one input: store `state`, then carry out `actions` in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// What happened, in one word.
    pub outcome: Outcome,
    /// The page's new sync state (the host stores it, replacing the old one).
    pub state: PageState,
    /// What the host must do.
    pub actions: Vec<Action>,
}

/// The summary of a decision: exactly one per input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Outcome {
    /// A remote revision created the page here.
    Create,
    /// A remote revision replaced the page text here.
    Update,
    /// The page was deleted here (remote deletion, or a mirror's source went away).
    Delete,
    /// The page is now locked: for a remote editor, or (local input) for the local editor.
    Lock,
    /// A lock was released (remote unlock or save, local cancel, or expiry).
    Unlock,
    /// A concurrent remote revision was merged cleanly with the local text.
    Merge,
    /// A concurrent revision could not be merged (or a remote site reported a conflict).
    Conflict,
    /// The input changed nothing.
    Ignore {
        /// Why.
        reason: IgnoreReason,
    },
    /// A local save was accepted and is published.
    Publish,
    /// A local action was refused.
    Refuse {
        /// Why.
        reason: RefuseReason,
    },
    /// A mirror now follows a new source.
    Follow,
    /// This site, authoritative for the page, published its current revision again: the
    /// page's item was retracted from its node, or the namespace moved to another node.
    Restore,
    /// A mirror's source went away and the policy keeps the page.
    Keep,
    /// A local save may be written: report it with `localSave` once it is (answer to
    /// `saveRequested`; nothing to carry out).
    Accept,
    /// The local editor chose how to resolve the pending conflict: carry out the action
    /// (save the resolution, or open the editor on the merged text).
    Resolve,
}

/// Why an input changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum IgnoreReason {
    /// The entry was published by this site (an echo).
    OwnEcho,
    /// The entry is for another page than the state.
    OtherPage,
    /// The page is in no synced namespace here.
    NotSynced,
    /// The entry is already applied (same revision as the page or the pending conflict, or
    /// a lock renewal that changes nothing).
    Duplicate,
    /// The entry is older than what is applied (its clock is included in the page's).
    Stale,
    /// This site is a mirror and the entry does not come from its source: its origin, or the
    /// publisher the gateway authenticated, is another site.
    NotFromSource,
    /// This site is the source of the page: incoming changes are not applied.
    SourceIsAuthoritative,
    /// A mirror has no editors: drafts and unlocks do not concern it.
    ReadOnly,
    /// A competing draft lost the tie-break (earlier session start, then smaller site id, wins).
    LostTieBreak,
    /// The draft belongs to an edit session that already ended (saved or closed).
    SessionEnded,
    /// The draft's lock had already expired when it arrived.
    Expired,
    /// An unlock or close for a lock that is not held.
    NothingLocked,
    /// A tick found no lapsed lock.
    NothingExpired,
    /// A source-gone signal for a page this site does not mirror.
    NotAMirror,
    /// An editor closed a page whose lock another local editor holds.
    NotLockHolder,
    /// The editor holding the lock refreshed it while more than half of it was left: the
    /// draft the other sites have is still good.
    RenewalNotDue,
    /// The entry arrived on the subscription of another namespace than its page's: a
    /// node may only change the pages of the namespace it was subscribed for.
    OutsideNamespace,
    /// The page was never synced here: there is nothing to announce or to give up.
    NeverSynced,
    /// A conflict choice for a page with no pending conflict.
    NoConflict,
    /// This site is the page's source and has no peers: editors need no lock elsewhere.
    NoPeers,
    /// A media file larger than this site's `mediaMax`: not applied (a notice says so).
    TooLarge,
    /// A media file's move cannot be announced: this site has no `mediaUrl` to serve it from.
    MediaUnavailable,
    /// A retracted item that announced a lock: locks lapse by themselves.
    LockItem,
    /// This site is a peer and the gateway authenticated the entry's publisher as a site
    /// outside the namespace's peer set (see [`Role::Peer`](super::Role::Peer)).
    NotFromPeer,
    /// The entry claims another origin site (its revision's site) than the publisher the
    /// gateway authenticated: a site may only publish its own revisions, locks and unlocks.
    WrongPublisher,
}

impl IgnoreReason {
    /// Whether an administrator should hear of it: the entry was not applied for a reason
    /// that may be a mistake in the set-up or a site writing what it may not
    /// (`notFromSource`, `notFromPeer`, `wrongPublisher`, `outsideNamespace`, `notSynced`,
    /// `sourceIsAuthoritative`, `tooLarge`, `mediaUnavailable`), as opposed to the expected
    /// repeats, echoes and lock bookkeeping every site sees all the time.
    pub fn worth_reporting(self) -> bool {
        matches!(
            self,
            IgnoreReason::NotFromSource
                | IgnoreReason::NotFromPeer
                | IgnoreReason::WrongPublisher
                | IgnoreReason::OutsideNamespace
                | IgnoreReason::NotSynced
                | IgnoreReason::SourceIsAuthoritative
                | IgnoreReason::TooLarge
                | IgnoreReason::MediaUnavailable
        )
    }
}

/// Why a local action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RefuseReason {
    /// The page is a read-only mirror here.
    Mirror,
    /// An editor at another site holds the lock.
    RemotelyLocked,
    /// The page changed while the editor was open and the save does not merge; the conflict
    /// is recorded and the editor must resolve it and save again.
    Conflict,
    /// The page is in no synced namespace here (the host saves it without sync).
    NotSynced,
    /// Only the page's source can hand the source role to another site, and this site is not
    /// its source.
    NotSource,
    /// Another local editor holds the page's lock.
    LockedLocally,
    /// A media file larger than this site's `mediaMax`: it stays here and is not published.
    TooLarge,
}

/// Something the host must do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Action {
    /// Publish this entry to the page's node.
    Publish {
        /// The entry.
        entry: Entry,
    },
    /// Save this text as a new local revision of the page.
    WritePage {
        /// The new text.
        text: String,
        /// The author to record, if known.
        author: Option<String>,
        /// The edit summary.
        summary: Option<String>,
        /// Whether it is a minor edit.
        minor: bool,
    },
    /// Delete the page locally.
    DeletePage {
        /// Who deleted it, if known.
        author: Option<String>,
        /// Why, if given.
        summary: Option<String>,
    },
    /// Lock the page for an editor at another site (DokuWiki: the lock file).
    LockPage {
        /// The site of the editor.
        site: SiteId,
        /// The editor, if known.
        editor: Option<String>,
        /// Until when.
        until: Timestamp,
    },
    /// Remove the lock of the remote editor `editor` at `site` (the one a `lockPage` set;
    /// a lock a local editor took since is not this one and stays).
    UnlockPage {
        /// The site of the editor whose lock ends.
        site: SiteId,
        /// That editor, if known.
        editor: Option<String>,
    },
    /// Show this notice to local users of the page.
    ShowNotice {
        /// The notice.
        notice: Notice,
    },
    /// Store this conflict for the local editor (shown with the remote text and the regions).
    RecordConflict {
        /// The conflict.
        conflict: PendingConflict,
    },
    /// The recorded conflict is resolved or superseded: stop showing it.
    ClearConflict,
    /// Refuse the local edit (keep the user's text in the editor, show why).
    RefuseLocalEdit {
        /// Why.
        reason: RefuseReason,
    },
    /// Save `text` as a new local revision by the local editor, even when it equals the
    /// page's text (the resolution must be a revision of its own), and report it with
    /// `localSave` like any save; `None`: the page is deleted (or stays deleted: report the
    /// deletion). Resolves the pending conflict.
    SaveResolution {
        /// The resolving text, `None` for a deletion.
        text: Option<String>,
        /// The choice that gave it (for the edit summary).
        choice: ConflictChoice,
        /// The other side's site (for the edit summary).
        site: SiteId,
    },
    /// Open the editor on `text` (the merge with conflict markers); saving it resolves the
    /// pending conflict.
    OpenEditor {
        /// The text for the editor.
        text: String,
    },
    /// Save this media file as a new local revision: its bytes are `data`, or are fetched
    /// from `url`; either way, write them only if [`crate::entry::verify_media`] accepts them
    /// (else fail the input: its state is not stored and it is tried again later).
    WriteMedia {
        /// The media type.
        media_type: String,
        /// The hex SHA-256 the bytes must have.
        sha256: String,
        /// The size the bytes must have.
        size: u64,
        /// The bytes, when the entry carried them.
        #[serde(default, with = "crate::entry::option_bytes")]
        data: Option<Vec<u8>>,
        /// Where to fetch them otherwise.
        url: Option<String>,
        /// The author to record, if known.
        author: Option<String>,
        /// The summary to record.
        summary: Option<String>,
    },
    /// Delete the media file locally.
    DeleteMedia {
        /// Who deleted it, if known.
        author: Option<String>,
        /// Why, if given.
        summary: Option<String>,
    },
}

/// How the local editor resolves a pending conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConflictChoice {
    /// Keep this side: the text here (a remote conflict) or the editor's refused text (a
    /// refused save).
    Keep,
    /// Take the other side: the remote text, or the page's text that the save did not merge with.
    Take,
    /// Edit the merge with conflict markers.
    Merge,
}

/// A message for the local users of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Notice {
    /// The page is being edited at `site` by `editor` until `until`.
    EditedElsewhere {
        /// The site.
        site: SiteId,
        /// The editor, if known.
        editor: Option<String>,
        /// Until when the lock holds.
        until: Timestamp,
    },
    /// The local editor lost a simultaneous start to an editor at `site` and must stop.
    LockLost {
        /// The winning site.
        site: SiteId,
        /// The winning editor, if known.
        editor: Option<String>,
        /// Until when the winner's lock holds.
        until: Timestamp,
    },
    /// The page is a read-only copy of `source`.
    MirroredFrom {
        /// The source.
        source: SiteId,
    },
    /// The page's source went away; the page was kept or deleted as configured.
    SourceGone {
        /// The source that went away.
        source: SiteId,
    },
    /// A conflict waits for the local editor: `revision` (of `origin`) could not be merged.
    Conflict {
        /// The other side's revision.
        revision: RevisionRef,
    },
    /// A media file of `size` bytes is over this site's limit of `max`: not published (a local
    /// upload) or not applied (from another site).
    MediaTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Two sites uploaded the media file at once: `kept` is the version everywhere now,
    /// `replaced` stays in the media history of the site that made it.
    MediaConflict {
        /// The version kept.
        kept: RevisionRef,
        /// The version replaced.
        replaced: RevisionRef,
    },
    /// Another local editor holds the page until `until`.
    EditedLocally {
        /// The editor.
        editor: String,
        /// Until when the lock holds.
        until: Timestamp,
    },
    /// Another site could not merge `revision` (made here or seen here) with its own text.
    ConflictReported {
        /// The site reporting.
        site: SiteId,
        /// The revision it could not merge.
        revision: RevisionRef,
    },
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for Notice {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<Notice, serde_json::Error> {
            Ok(match tag {
                "editedElsewhere" => Notice::EditedElsewhere {
                    site: f.field("site")?,
                    editor: f.field("editor")?,
                    until: f.field("until")?,
                },
                "lockLost" => Notice::LockLost {
                    site: f.field("site")?,
                    editor: f.field("editor")?,
                    until: f.field("until")?,
                },
                "mirroredFrom" => Notice::MirroredFrom {
                    source: f.field("source")?,
                },
                "sourceGone" => Notice::SourceGone {
                    source: f.field("source")?,
                },
                "conflict" => Notice::Conflict {
                    revision: f.field("revision")?,
                },
                "mediaTooLarge" => Notice::MediaTooLarge {
                    size: f.field("size")?,
                    max: f.field("max")?,
                },
                "mediaConflict" => Notice::MediaConflict {
                    kept: f.field("kept")?,
                    replaced: f.field("replaced")?,
                },
                "editedLocally" => Notice::EditedLocally {
                    editor: f.field("editor")?,
                    until: f.field("until")?,
                },
                "conflictReported" => Notice::ConflictReported {
                    site: f.field("site")?,
                    revision: f.field("revision")?,
                },
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &[
                            "editedElsewhere",
                            "lockLost",
                            "mirroredFrom",
                            "sourceGone",
                            "conflict",
                            "mediaTooLarge",
                            "mediaConflict",
                            "editedLocally",
                            "conflictReported",
                        ],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

impl Notice {
    /// Whether an administrator should hear of it (the admin page), beyond the readers of the
    /// page: a file over the size limit, concurrent uploads, a vanished source.
    pub fn worth_reporting(&self) -> bool {
        matches!(
            self,
            Notice::MediaTooLarge { .. } | Notice::MediaConflict { .. } | Notice::SourceGone { .. }
        )
    }
}

/// A local upload, overwrite or deletion of a media file, as the host reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalMediaEdit {
    /// The new file, or the deletion.
    pub change: MediaChange,
    /// The user who uploaded or deleted it.
    pub author: Option<String>,
    /// The summary, if any.
    pub summary: Option<String>,
    /// The host's revision number (DokuWiki: the upload time).
    pub revision: u64,
}

/// What a local media edit did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum MediaChange {
    /// The file now has these bytes (base64 in JSON).
    File {
        /// The bytes.
        #[serde(with = "crate::entry::bytes")]
        data: Vec<u8>,
        /// The media type, e.g. `image/png`.
        media_type: String,
    },
    /// The file was deleted.
    Deleted,
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for MediaChange {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<MediaChange, serde_json::Error> {
            Ok(match tag {
                "file" => MediaChange::File {
                    data: match f.take("data") {
                        Some(data) => crate::entry::bytes::deserialize(data)?,
                        None => return Err(serde::de::Error::missing_field("data")),
                    },
                    media_type: f.field("mediaType")?,
                },
                "deleted" => MediaChange::Deleted,
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &["file", "deleted"],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

/// A local save, as the host reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalEdit {
    /// The new text, or the deletion.
    pub change: Change,
    /// The user who saved.
    pub author: Option<String>,
    /// The edit summary.
    pub summary: Option<String>,
    /// The "minor changes" box.
    pub minor: bool,
    /// The host's revision number (DokuWiki: the save time). The published revision number
    /// is this, raised when needed so that it grows strictly per page and site.
    pub revision: u64,
    /// The page's title as the host shows it (DokuWiki: the first heading), if it has one;
    /// kept in the state for every entry published for the page.
    #[serde(default)]
    pub title: Option<String>,
}

impl LocalEdit {
    /// A save of `text` as revision `revision`, with no author, summary or title.
    pub fn text(text: impl Into<String>, revision: u64) -> LocalEdit {
        LocalEdit {
            change: Change::Text { text: text.into() },
            author: None,
            summary: None,
            minor: false,
            revision,
            title: None,
        }
    }

    /// A deletion as revision `revision`, with no author or summary.
    pub fn deleted(revision: u64) -> LocalEdit {
        LocalEdit {
            change: Change::Deleted,
            ..LocalEdit::text("", revision)
        }
    }

    /// This edit by `author`.
    pub fn by(mut self, author: impl Into<String>) -> LocalEdit {
        self.author = Some(author.into());
        self
    }

    /// This edit with the summary `summary`.
    pub fn summary(mut self, summary: impl Into<String>) -> LocalEdit {
        self.summary = Some(summary.into());
        self
    }
}

/// What a local save did to the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Change {
    /// The page now has this text.
    Text {
        /// The text.
        text: String,
    },
    /// The page was deleted.
    Deleted,
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for Change {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<Change, serde_json::Error> {
            Ok(match tag {
                "text" => Change::Text {
                    text: f.field("text")?,
                },
                "deleted" => Change::Deleted,
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &["text", "deleted"],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}
