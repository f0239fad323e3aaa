//! Site-wide configuration: this site's id, its role per namespace, the lock duration.
//!
//! ```
//! use wikisync_core::entry::SiteId;
//! use wikisync_core::id::PageId;
//! use wikisync_core::sync::{GonePolicy, NamespaceRule, Role, SiteConfig};
//! let config = SiteConfig::new(SiteId::new("https://b.example/"))
//!     .rule("", Role::Peer)
//!     .rule(
//!         "handbook",
//!         Role::Mirror { source: SiteId::new("https://a.example/"), when_gone: GonePolicy::Keep },
//!     );
//! let page = PageId::clean("handbook:start").unwrap();
//! assert!(matches!(config.role_for(&page), Some(Role::Mirror { .. })));
//! assert_eq!(config.role_for(&PageId::clean("notes").unwrap()), Some(&Role::Peer));
//! ```

use serde::{Deserialize, Serialize};

use crate::entry::{DOKUWIKI_MEDIA_TYPE, SiteId};
use crate::id::PageId;

/// Default lock duration: DokuWiki's own edit lock lasts 15 minutes.
pub const DEFAULT_LOCK_SECONDS: u32 = 15 * 60;

/// This site's sync configuration (site-wide; the host stores it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteConfig {
    /// This site's id (its base URL in practice).
    pub site: SiteId,
    /// Per-namespace roles; the longest matching namespace wins. Pages matching no rule are
    /// not synced.
    pub rules: Vec<NamespaceRule>,
    /// How long a draft lock lasts unless renewed, in seconds.
    pub lock_seconds: u32,
    /// The markup dialect of this site's pages, e.g. `text/x-dokuwiki`.
    pub media_type: String,
}

/// The role of this site for one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceRule {
    /// The namespace (`wiki:sub`), or `""` for every page.
    pub namespace: String,
    /// What this site does for pages in it.
    pub role: Role,
}

/// What this site does for the pages of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Role {
    /// Authoritative: publishes its pages and ignores incoming changes to them.
    Source,
    /// Read-only copy of `source`: applies only what the source publishes, never merges,
    /// refuses local edits.
    Mirror {
        /// The site this mirror follows (until a source move names another).
        source: SiteId,
        /// What to do with the pages when the source goes away.
        when_gone: GonePolicy,
    },
    /// Everyone edits: drafts lock, concurrent edits merge.
    Peer,
}

/// What a mirror does with its pages when the source goes away without naming a successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GonePolicy {
    /// Keep the pages as they are (they stay read-only).
    Keep,
    /// Delete the pages.
    Delete,
}

impl SiteConfig {
    /// A configuration for `site` with no rules, the default lock duration and DokuWiki markup.
    pub fn new(site: SiteId) -> SiteConfig {
        SiteConfig {
            site,
            rules: Vec::new(),
            lock_seconds: DEFAULT_LOCK_SECONDS,
            media_type: DOKUWIKI_MEDIA_TYPE.to_owned(),
        }
    }

    /// This configuration with one more namespace rule.
    pub fn rule(mut self, namespace: impl Into<String>, role: Role) -> SiteConfig {
        self.rules.push(NamespaceRule {
            namespace: namespace.into(),
            role,
        });
        self
    }

    /// The role for `page`: the rule of the longest namespace containing it, if any.
    pub fn role_for(&self, page: &PageId) -> Option<&Role> {
        let id = page.as_str();
        self.rules
            .iter()
            .filter(|r| {
                let ns = r.namespace.trim_matches(':');
                ns.is_empty()
                    || id
                        .strip_prefix(ns)
                        .is_some_and(|rest| rest.starts_with(':'))
            })
            .max_by_key(|r| r.namespace.trim_matches(':').len())
            .map(|r| &r.role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_namespace_wins_and_prefix_must_end_at_colon() {
        let config = SiteConfig::new(SiteId::new("me"))
            .rule("wiki", Role::Source)
            .rule("wiki:team", Role::Peer);
        let role = |p: &str| {
            config
                .role_for(&PageId::clean(p).expect("valid id"))
                .cloned()
        };
        assert_eq!(role("wiki:team:x"), Some(Role::Peer));
        assert_eq!(role("wiki:other"), Some(Role::Source));
        assert_eq!(role("wikipedia:x"), None);
        assert_eq!(role("wiki"), None);
    }
}
