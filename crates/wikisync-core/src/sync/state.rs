//! Per-page sync state: what was last synced, the bases for merges, the lock, a pending
//! conflict. The host stores it between calls (DokuWiki: in page metadata) as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::clock::Clock;
use crate::entry::{RevisionRef, SiteId};
use crate::id::PageId;
use crate::merge::Region;
use crate::time::Timestamp;

/// How many past (clock, text) snapshots a page keeps for finding merge bases.
pub const HISTORY_LEN: usize = 8;

/// The sync state of one page at one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageState {
    /// The page.
    pub page: PageId,
    /// The revision the page text corresponds to; `None` before the first sync.
    pub head: Option<RevisionRef>,
    /// Every revision the page text includes.
    pub clock: Clock,
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
    pub released: BTreeMap<SiteId, Timestamp>,
    /// For a mirror, the source it follows when a source move replaced the configured one.
    pub followed_source: Option<SiteId>,
    /// For a mirror, when its source went away without a successor.
    pub source_gone: Option<Timestamp>,
}

/// One synced version of the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Its revisions.
    pub clock: Clock,
    /// Its text (`""` for a deleted page).
    pub text: String,
}

/// Who may edit a page, named after what the state waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
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
        opened: Clock,
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
    },
}

/// A remote version that could not be merged: kept for the local editor to resolve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingConflict {
    /// The remote revision.
    pub revision: RevisionRef,
    /// Its clock: the local save that resolves the conflict includes it.
    pub clock: Clock,
    /// Its text.
    pub text: String,
    /// The merge regions, with the two sides in canonical order (see [`PendingConflict::left`]).
    pub regions: Vec<Region>,
    /// The label of the side shown first (`ours` in the regions).
    pub left: String,
    /// The label of the side shown second (`theirs` in the regions).
    pub right: String,
}

impl PageState {
    /// The state of a page that has never been synced.
    pub fn new(page: PageId) -> PageState {
        PageState {
            page,
            head: None,
            clock: Clock::default(),
            text: None,
            history: Vec::new(),
            lock: LockState::Free,
            conflict: None,
            released: BTreeMap::new(),
            followed_source: None,
            source_gone: None,
        }
    }

    pub(crate) fn push_history(&mut self, clock: Clock, text: &str) {
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
    pub fn common_base(&self, ours: &Clock, theirs: &Clock) -> &str {
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
        let slot = self.released.entry(site.clone()).or_insert(at);
        *slot = (*slot).max(at);
    }

    pub(crate) fn released_at(&self, site: &SiteId) -> Option<Timestamp> {
        self.released.get(site).copied()
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
        let c1 = Clock::default().with(&a, 1);
        let c2 = c1.with(&a, 2);
        st.push_history(c1.clone(), "one");
        st.push_history(c2.clone(), "two");
        assert_eq!(st.common_base(&c2.with(&b, 1), &c2), "two");
        assert_eq!(st.common_base(&c2, &c1.with(&b, 1)), "one");
        assert_eq!(st.common_base(&c2, &Clock::default().with(&b, 1)), "");
    }

    #[test]
    fn history_is_bounded() {
        let a = SiteId::new("a");
        let mut st = PageState::new(PageId::clean("p").expect("valid id"));
        for i in 1..=20 {
            st.push_history(Clock::default().with(&a, i), "x");
        }
        assert_eq!(st.history.len(), HISTORY_LEN);
        assert_eq!(st.history[0].clock.get(&a), 13);
    }
}
