//! Per-page sync state: what was last synced, the bases for merges, the lock, a pending
//! conflict. The host stores it between calls (DokuWiki: the plugin's own per-page file) and
//! passes it back as it is: it is opaque to hosts, which learn what to show from
//! [`super::notices`] and [`PageState::conflict`], never by reading fields.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::version_vector::VersionVector;
use crate::entry::{RevisionRef, SiteId};
use crate::id::PageId;
use crate::merge::Region;
use crate::tagged::{self, ListOr};
use crate::time::Timestamp;

/// How many past (version vector, text) snapshots a page keeps for finding merge bases.
pub const HISTORY_LEN: usize = 8;

/// The sync state of one page at one site.
///
/// Serialized in camelCase with every map written as a sorted list; states written by
/// earlier versions (snake_case keys, maps as objects) are still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageState {
    /// The page.
    pub page: PageId,
    /// The revision the page text corresponds to; `None` before the first sync.
    pub head: Option<RevisionRef>,
    /// Every revision the page text includes.
    pub clock: VersionVector,
    /// The page text as last synced; `None` when the page does not exist (never created, or
    /// deleted).
    pub text: Option<String>,
    /// Recent synced versions (newest last, at most [`HISTORY_LEN`]), the candidates for the
    /// common base of a three-way merge.
    pub history: Vec<Snapshot>,
    /// Who may edit the page right now.
    pub lock: LockState,
    /// A remote version that could not be merged, waiting for the local editor.
    pub conflict: Option<PendingConflict>,
    /// For each site, the time of its newest save or editor close seen here: a draft from
    /// that site that started no later is stale.
    pub released: Releases,
    /// For a mirror, the source it follows when a source move replaced the configured one.
    #[serde(alias = "followed_source")]
    pub followed_source: Option<SiteId>,
    /// For a mirror, when its source went away without a successor.
    #[serde(alias = "source_gone")]
    pub source_gone: Option<Timestamp>,
    /// The page's title as the host last reported it with a save (DokuWiki: its first
    /// heading); entries carry it as `atom:title`, the page id when unknown.
    #[serde(default)]
    pub title: Option<String>,
    /// The newest conflict another site reported for a revision made or seen here.
    #[serde(default)]
    pub reported: Option<ConflictReport>,
    /// Whether this is the state of a media file (set by its first media input).
    #[serde(default)]
    pub is_media: bool,
    /// For a media file, the version last synced (`None`: no file).
    #[serde(default)]
    pub media: Option<MediaVersion>,
}

/// One version of a media file, as synced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaVersion {
    /// Its media type.
    pub media_type: String,
    /// The hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Per site, the time of its newest save or editor close seen here. Serialized as a list of
/// `{"site", "at"}` sorted by site (an object keyed by site ids is still read).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Releases(BTreeMap<SiteId, Timestamp>);

/// One element of the serialized [`Releases`].
#[derive(Serialize, Deserialize)]
struct Release {
    site: SiteId,
    at: Timestamp,
}

impl Serialize for Releases {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(site, at)| Release {
            site: site.clone(),
            at: *at,
        }))
    }
}

impl<'de> Deserialize<'de> for Releases {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The list form, or the object form written before 0.2.
        type Form = ListOr<Vec<Release>, BTreeMap<SiteId, Timestamp>>;
        Ok(Releases(match Form::deserialize(deserializer)? {
            ListOr::List(list) => {
                let mut map = BTreeMap::new();
                for r in list {
                    let slot = map.entry(r.site).or_insert(r.at);
                    *slot = (*slot).max(r.at);
                }
                map
            }
            ListOr::Object(map) => map,
        }))
    }
}

/// A conflict another site reported ("send back a newer draft"): shown to local users for
/// [`super::REPORT_NOTICE_SECONDS`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConflictReport {
    /// The site that could not merge.
    pub site: SiteId,
    /// The revision it could not merge.
    pub revision: RevisionRef,
    /// When the report arrived here.
    pub at: Timestamp,
}

/// One synced version of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Its revisions.
    pub clock: VersionVector,
    /// Its text (`""` for a deleted page).
    pub text: String,
}

/// Who may edit a page, named after what the state waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum LockState {
    /// Nobody edits; anyone may open the editor.
    #[default]
    Free,
    /// A local editor holds the page; waits for its save, its cancel, or `expires`.
    AwaitingLocalSave {
        /// The local user editing.
        editor: String,
        /// When the edit session started (the draft's `updated`, used for the tie-break).
        since: Timestamp,
        /// When the lock lapses unless renewed.
        expires: Timestamp,
        /// The page's clock when the editor opened: if it moved, the save is merged.
        opened: VersionVector,
    },
    /// An editor at another site holds the page; waits for that site's save, its unlock, or
    /// `expires`.
    AwaitingRemoteSave {
        /// The site where the editor is.
        site: SiteId,
        /// The remote user editing, if known.
        editor: Option<String>,
        /// When that edit session started.
        since: Timestamp,
        /// When the lock lapses unless renewed.
        expires: Timestamp,
        /// The local editor whose lock this session won in a simultaneous start, if any
        /// (told until this session ends).
        displaced: Option<String>,
    },
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's). States written before 0.2 name the variants in snake_case.
impl<'de> Deserialize<'de> for LockState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<LockState, serde_json::Error> {
            Ok(match tag {
                "free" => LockState::Free,
                "awaitingLocalSave" | "awaiting_local_save" => LockState::AwaitingLocalSave {
                    editor: f.field("editor")?,
                    since: f.field("since")?,
                    expires: f.field("expires")?,
                    opened: f.field("opened")?,
                },
                "awaitingRemoteSave" | "awaiting_remote_save" => LockState::AwaitingRemoteSave {
                    site: f.field("site")?,
                    editor: f.field("editor")?,
                    since: f.field("since")?,
                    expires: f.field("expires")?,
                    displaced: f.field("displaced")?,
                },
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &["free", "awaitingLocalSave", "awaitingRemoteSave"],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

/// A version that could not be merged: kept for the local editor to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingConflict {
    /// Where the conflict came from.
    #[serde(default)]
    pub origin: ConflictOrigin,
    /// The other side's revision: the remote revision, or (for a refused local save) the
    /// page's revision the save did not merge with.
    pub revision: RevisionRef,
    /// Its version vector: the local save that resolves the conflict includes it.
    pub clock: VersionVector,
    /// The other side's text (`""`: deleted).
    pub text: String,
    /// The merge regions, with the two sides in canonical order (see [`PendingConflict::left`]).
    pub regions: Vec<Region>,
    /// The label of the side shown first (`ours` in the regions).
    pub left: String,
    /// The label of the side shown second (`theirs` in the regions).
    pub right: String,
}

/// Where a pending conflict came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ConflictOrigin {
    /// A revision from another site did not merge with the text here.
    #[default]
    Remote,
    /// A local save did not merge with a change made while its editor was open; the page
    /// keeps the other side, and the editor's text is kept here.
    LocalSave {
        /// The editor whose save was refused.
        editor: Option<String>,
        /// The text the editor tried to save (`None`: a deletion).
        text: Option<String>,
    },
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for ConflictOrigin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<ConflictOrigin, serde_json::Error> {
            Ok(match tag {
                "remote" => ConflictOrigin::Remote,
                "localSave" => ConflictOrigin::LocalSave {
                    editor: f.field("editor")?,
                    text: f.field("text")?,
                },
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &["remote", "localSave"],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

impl PageState {
    /// The state of a page that has never been synced.
    pub fn new(page: PageId) -> PageState {
        PageState {
            page,
            head: None,
            clock: VersionVector::default(),
            text: None,
            history: Vec::new(),
            lock: LockState::Free,
            conflict: None,
            released: Releases::default(),
            followed_source: None,
            source_gone: None,
            title: None,
            reported: None,
            is_media: false,
            media: None,
        }
    }

    /// The page this state is for.
    pub fn page(&self) -> &PageId {
        &self.page
    }

    /// The conflict waiting for the local editor, if any (what a host shows beside the
    /// editor: the other side's text, where the conflict came from, the labels).
    pub fn conflict(&self) -> Option<&PendingConflict> {
        self.conflict.as_ref()
    }

    /// Whether this site ever synced the page (a revision was published or applied here).
    pub fn ever_synced(&self) -> bool {
        self.head.is_some()
    }

    pub(crate) fn push_history(&mut self, clock: VersionVector, text: &str) {
        if self.history.iter().any(|s| s.clock == clock) {
            return;
        }
        self.history.push(Snapshot {
            clock,
            text: text.to_owned(),
        });
        if self.history.len() > HISTORY_LEN {
            self.history.remove(0);
        }
    }

    /// The text of the greatest recorded version included in both `ours` and `theirs` (the
    /// merge base), or `""` when none is known.
    pub fn common_base(&self, ours: &VersionVector, theirs: &VersionVector) -> &str {
        self.history
            .iter()
            .filter(|s| s.clock.le(ours) && s.clock.le(theirs))
            .max_by(|x, y| {
                x.clock
                    .weight()
                    .cmp(&y.clock.weight())
                    .then_with(|| x.clock.to_refs().cmp(&y.clock.to_refs()))
            })
            .map_or("", |s| s.text.as_str())
    }

    pub(crate) fn release(&mut self, site: &SiteId, at: Timestamp) {
        let slot = self.released.0.entry(site.clone()).or_insert(at);
        *slot = (*slot).max(at);
    }

    pub(crate) fn released_at(&self, site: &SiteId) -> Option<Timestamp> {
        self.released.0.get(site).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_is_greatest_common_snapshot() {
        let a = SiteId::new("a");
        let b = SiteId::new("b");
        let mut st = PageState::new(PageId::clean("p").expect("valid id"));
        let c1 = VersionVector::default().with(&a, 1);
        let c2 = c1.with(&a, 2);
        st.push_history(c1.clone(), "one");
        st.push_history(c2.clone(), "two");
        assert_eq!(st.common_base(&c2.with(&b, 1), &c2), "two");
        assert_eq!(st.common_base(&c2, &c1.with(&b, 1)), "one");
        assert_eq!(
            st.common_base(&c2, &VersionVector::default().with(&b, 1)),
            ""
        );
    }

    #[test]
    fn history_is_bounded() {
        let a = SiteId::new("a");
        let mut st = PageState::new(PageId::clean("p").expect("valid id"));
        for i in 1..=20 {
            st.push_history(VersionVector::default().with(&a, i), "x");
        }
        assert_eq!(st.history.len(), HISTORY_LEN);
        assert_eq!(st.history[0].clock.get(&a), 13);
    }
}
