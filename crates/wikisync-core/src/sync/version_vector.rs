//! Version vectors: for each site, the newest of its revisions that a text includes. They
//! order page versions causally ("newer", "older", "concurrent"), which is all the sync
//! engine needs: no clock is read anywhere.
//!
//! ```
//! use wikisync_core::entry::SiteId;
//! use wikisync_core::sync::{Causality, VersionVector};
//! let a = SiteId::new("a");
//! let b = SiteId::new("b");
//! let base = VersionVector::default().with(&a, 1);
//! let ours = base.with(&a, 2);
//! let theirs = base.with(&b, 1);
//! assert_eq!(ours.compare(&base), Causality::Newer);
//! assert_eq!(ours.compare(&theirs), Causality::Concurrent);
//! assert_eq!(ours.join(&theirs).compare(&theirs), Causality::Newer);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::entry::{RevisionRef, SiteId};
use crate::tagged::ListOr;

/// A version vector: for each site, the newest revision number of that site included; a
/// missing site means revision 0.
///
/// Serialized as a list of `{"revision", "site"}` sorted by site (the `ws:clock` form), so that
/// every language reads it the same way: a JSON object keyed by site ids would be an empty
/// array in PHP when empty. The object form of earlier versions is still read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct VersionVector(BTreeMap<SiteId, u64>);

impl Serialize for VersionVector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.to_refs())
    }
}

impl<'de> Deserialize<'de> for VersionVector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The list form, or the object form written before 0.2.
        type Form = ListOr<Vec<RevisionRef>, BTreeMap<SiteId, u64>>;
        Ok(match Form::deserialize(deserializer)? {
            ListOr::List(refs) => {
                let mut out = VersionVector::default();
                for r in &refs {
                    out.raise(&r.site, r.revision);
                }
                out
            }
            ListOr::Object(map) => VersionVector(map.into_iter().filter(|(_, r)| *r > 0).collect()),
        })
    }
}

/// How one clock relates to another, seen from the first (`self`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Causality {
    /// Both include exactly the same revisions.
    Same,
    /// `self` is included in the other (the other is newer).
    Older,
    /// `self` includes the other and more.
    Newer,
    /// Each includes a revision the other lacks.
    Concurrent,
}

impl VersionVector {
    /// The clock carried by an entry (`ws:clock`), with the entry's own revision joined in so
    /// that an inconsistent entry cannot claim less than it is.
    pub fn from_entry(clock: &[RevisionRef], own: &RevisionRef) -> VersionVector {
        let mut out = VersionVector::default();
        for r in clock.iter().chain(std::iter::once(own)) {
            out.raise(&r.site, r.revision);
        }
        out
    }

    /// The `ws:clock` list form, sorted by site.
    pub fn to_refs(&self) -> Vec<RevisionRef> {
        self.0
            .iter()
            .map(|(site, revision)| RevisionRef {
                revision: *revision,
                site: site.clone(),
            })
            .collect()
    }

    /// The newest revision of `site` included (0 when none).
    pub fn get(&self, site: &SiteId) -> u64 {
        self.0.get(site).copied().unwrap_or(0)
    }

    /// This clock with `site` raised to at least `revision`.
    pub fn with(&self, site: &SiteId, revision: u64) -> VersionVector {
        let mut out = self.clone();
        out.raise(site, revision);
        out
    }

    fn raise(&mut self, site: &SiteId, revision: u64) {
        if revision == 0 {
            return;
        }
        let slot = self.0.entry(site.clone()).or_insert(0);
        *slot = (*slot).max(revision);
    }

    /// The least clock including both.
    pub fn join(&self, other: &VersionVector) -> VersionVector {
        let mut out = self.clone();
        for (site, revision) in &other.0 {
            out.raise(site, *revision);
        }
        out
    }

    /// Whether every revision in `self` is included in `other`.
    pub fn le(&self, other: &VersionVector) -> bool {
        self.0.iter().all(|(site, rev)| other.get(site) >= *rev)
    }

    /// How `self` relates to `other`.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        match (self.le(other), other.le(self)) {
            (true, true) => Causality::Same,
            (true, false) => Causality::Older,
            (false, true) => Causality::Newer,
            (false, false) => Causality::Concurrent,
        }
    }

    /// The sum of all components: a size used only to rank common ancestors.
    pub fn weight(&self) -> u128 {
        self.0.values().map(|v| u128::from(*v)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> SiteId {
        SiteId::new(x)
    }

    #[test]
    fn entry_clock_includes_own_revision() {
        let own = RevisionRef {
            revision: 5,
            site: s("b"),
        };
        let c = VersionVector::from_entry(&[], &own);
        assert_eq!(c.get(&s("b")), 5);
        assert_eq!(c.to_refs(), vec![own]);
    }

    #[test]
    fn compare_covers_all_relations() {
        let a1 = VersionVector::default().with(&s("a"), 1);
        assert_eq!(a1.compare(&a1), Causality::Same);
        assert_eq!(VersionVector::default().compare(&a1), Causality::Older);
        assert_eq!(a1.compare(&VersionVector::default()), Causality::Newer);
        let b1 = VersionVector::default().with(&s("b"), 1);
        assert_eq!(a1.compare(&b1), Causality::Concurrent);
        assert_eq!(a1.join(&b1).weight(), 2);
    }

    #[test]
    fn zero_revisions_are_not_stored() {
        let c = VersionVector::default().with(&s("a"), 0);
        assert_eq!(c, VersionVector::default());
    }
}
