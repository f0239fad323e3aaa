//! Site-wide configuration: this site's id, its role per namespace, the lock duration.
//!
//! ```
//! use wikisync_core::entry::SiteId;
//! use wikisync_core::id::PageId;
//! use wikisync_core::sync::{GonePolicy, NamespaceRule, Role, SiteConfig};
//! let config = SiteConfig::new(SiteId::new("https://b.example/"))
//!     .rule("", Role::peer())
//!     .rule(
//!         "handbook",
//!         Role::Mirror { source: SiteId::new("https://a.example/"), when_gone: GonePolicy::Keep },
//!     );
//! let page = PageId::clean("handbook:start").unwrap();
//! assert!(matches!(config.role_for(&page), Some(Role::Mirror { .. })));
//! assert_eq!(config.role_for(&PageId::clean("notes").unwrap()), Some(&Role::peer()));
//! ```

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::entry::{DOKUWIKI_MEDIA_TYPE, SiteId};
use crate::id::PageId;
use crate::tagged;

/// Default lock duration: DokuWiki's own edit lock lasts 15 minutes.
pub const DEFAULT_LOCK_SECONDS: u32 = 15 * 60;

/// Default largest media file carried inside its entry (64 KiB: with base64 and the entry
/// around it, well under the 256 KB stanza limit XMPP servers apply); larger files travel by
/// reference ([`SiteConfig::media_url`]).
pub const DEFAULT_MEDIA_INLINE_MAX: u64 = 64 * 1024;

/// Default largest media file synced at all (32 MiB).
pub const DEFAULT_MEDIA_MAX: u64 = 32 * 1024 * 1024;

/// Default subscription lease asked of the gateway (10 days; renewed once half is left).
pub const DEFAULT_LEASE_SECONDS: u32 = 10 * 24 * 3600;

/// Default time a mirror waits without any sign of life from its source (no publication, no
/// heartbeat on the node) before it takes the source for gone (30 days).
pub const DEFAULT_SOURCE_GRACE_SECONDS: u32 = 30 * 24 * 3600;

/// This site's sync configuration (site-wide; the host builds it from its settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    /// The URL of a page revision on this site, with `{page}` and `{revision}` placeholders
    /// (e.g. `https://wiki.example.org/doku.php?id={page}&rev={revision}`): published entries
    /// link to it (`atom:link rel="alternate"`). `None`: entries carry no link.
    #[serde(default)]
    pub page_url: Option<String>,
    /// Where other sites fetch a media file revision of this site, with `{media}`,
    /// `{revision}` and `{sha256}` placeholders (the hash is the capability: only who saw the
    /// entry knows it). Files larger than [`SiteConfig::media_inline_max`] travel by this
    /// reference; `None`: every file travels inside its entry.
    #[serde(default)]
    pub media_url: Option<String>,
    /// The largest media file carried inside its entry, in bytes.
    #[serde(default = "default_media_inline_max")]
    pub media_inline_max: u64,
    /// The largest media file synced, in bytes: larger files are not published, and not
    /// accepted from others (a notice says so).
    #[serde(default = "default_media_max")]
    pub media_max: u64,
    /// The subscription lease this site asks the gateway for, in seconds.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u32,
    /// How long a mirror goes on without any sign of life from its source (the gateway's
    /// `sourceSeen`: its newest publication or heartbeat) before it applies its when-gone
    /// policy, in seconds; `0`: never.
    #[serde(default = "default_source_grace_seconds")]
    pub source_grace_seconds: u32,
}

fn default_lease_seconds() -> u32 {
    DEFAULT_LEASE_SECONDS
}

fn default_source_grace_seconds() -> u32 {
    DEFAULT_SOURCE_GRACE_SECONDS
}

fn default_media_inline_max() -> u64 {
    DEFAULT_MEDIA_INLINE_MAX
}

fn default_media_max() -> u64 {
    DEFAULT_MEDIA_MAX
}

/// The role of this site for one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceRule {
    /// The namespace (`wiki:sub`), or `""` for every page.
    pub namespace: String,
    /// What this site does for pages in it.
    pub role: Role,
}

/// What this site does for the pages of a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
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
    Peer {
        /// The peer set: the other sites that may write the namespace's pages. When the
        /// gateway reports the authenticated publisher of an entry, one outside this set is
        /// refused ([`IgnoreReason::NotFromPeer`](super::IgnoreReason::NotFromPeer)). Empty
        /// (the default, and every peer set up before publishers were authenticated): every
        /// site the gateway lets publish on the node is a peer. Omitted from JSON when empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        peers: Vec<SiteId>,
    },
}

impl Role {
    /// A peer whose peer set is every site the gateway lets publish on the node.
    pub fn peer() -> Role {
        Role::Peer { peers: Vec::new() }
    }

    /// Whether `publisher`, authenticated by the gateway, may write pages of this role at a
    /// site `site`, for a mirror following `source` now: a mirror only its source, a peer
    /// itself or a site of its peer set (any site when the set is empty). A source admits
    /// every publisher here because it applies nothing from elsewhere anyway (see
    /// [`IgnoreReason::SourceIsAuthoritative`](super::IgnoreReason::SourceIsAuthoritative)).
    pub fn admits(&self, site: &SiteId, source: &SiteId, publisher: &SiteId) -> bool {
        match self {
            Role::Source => true,
            Role::Mirror { .. } => publisher == source,
            Role::Peer { peers } => {
                publisher == site || peers.is_empty() || peers.contains(publisher)
            }
        }
    }
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<Role, serde_json::Error> {
            Ok(match tag {
                "source" => Role::Source,
                "mirror" => Role::Mirror {
                    source: f.field("source")?,
                    when_gone: f.field("whenGone")?,
                },
                "peer" => Role::Peer {
                    peers: f.field_or_default("peers")?,
                },
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &["source", "mirror", "peer"],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

/// What a mirror does with its pages when the source goes away without naming a successor.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum GonePolicy {
    /// Keep the pages as they are (they stay read-only).
    #[default]
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
            page_url: None,
            media_url: None,
            media_inline_max: DEFAULT_MEDIA_INLINE_MAX,
            media_max: DEFAULT_MEDIA_MAX,
            lease_seconds: DEFAULT_LEASE_SECONDS,
            source_grace_seconds: DEFAULT_SOURCE_GRACE_SECONDS,
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
        self.rule_for(page).map(|r| &r.role)
    }

    /// The namespace whose rule covers `page` (the longest containing it, without leading or
    /// trailing `:`; `""` for the whole wiki), if any: the namespace the page is synced with.
    pub fn namespace_for(&self, page: &PageId) -> Option<&str> {
        self.rule_for(page).map(|r| r.namespace.trim_matches(':'))
    }

    /// Whether local users may not edit `page`: it is a read-only mirror of another site.
    pub fn is_read_only(&self, page: &PageId) -> bool {
        matches!(self.role_for(page), Some(Role::Mirror { .. }))
    }

    /// The role of namespace `namespace` itself (its rule, compared without leading or
    /// trailing `:`), if it has one.
    pub fn role_of_namespace(&self, namespace: &str) -> Option<&Role> {
        let namespace = namespace.trim_matches(':');
        self.rules
            .iter()
            .find(|r| r.namespace.trim_matches(':') == namespace)
            .map(|r| &r.role)
    }

    /// Whether this site tells the gateway it is alive for `namespace` (a heartbeat on the
    /// node, each time it checks its subscriptions): it is the namespace's source, whose
    /// mirrors take a long silence for a source gone away (see
    /// [`SiteConfig::source_grace_seconds`]).
    pub fn sends_heartbeat(&self, namespace: &str) -> bool {
        matches!(self.role_of_namespace(namespace), Some(Role::Source))
    }

    fn rule_for(&self, page: &PageId) -> Option<&NamespaceRule> {
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
    }

    /// Where other sites fetch `revision` of media file `media` (hash `sha256`) from this site
    /// ([`SiteConfig::media_url`] filled in).
    pub fn media_link(&self, media: &PageId, revision: u64, sha256: &str) -> Option<String> {
        let template = self.media_url.as_deref()?;
        let id = utf8_percent_encode(media.as_str(), URL_COMPONENT).to_string();
        Some(
            template
                .replace("{media}", &id)
                .replace("{revision}", &revision.to_string())
                .replace("{sha256}", sha256),
        )
    }

    /// The link of `revision` of `page` on this site ([`SiteConfig::page_url`] filled in; the
    /// page id percent-encoded where a URL needs it, its `:` kept).
    pub fn page_link(&self, page: &PageId, revision: u64) -> Option<String> {
        let template = self.page_url.as_deref()?;
        let id = utf8_percent_encode(page.as_str(), URL_COMPONENT).to_string();
        Some(
            template
                .replace("{page}", &id)
                .replace("{revision}", &revision.to_string()),
        )
    }
}

/// What a page id keeps unencoded in a link: letters, digits and `-._~:`.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_namespace_wins_and_prefix_must_end_at_colon() {
        let config = SiteConfig::new(SiteId::new("me"))
            .rule("wiki", Role::Source)
            .rule("wiki:team", Role::peer());
        let role = |p: &str| {
            config
                .role_for(&PageId::clean(p).expect("valid id"))
                .cloned()
        };
        assert_eq!(role("wiki:team:x"), Some(Role::peer()));
        assert_eq!(role("wiki:other"), Some(Role::Source));
        assert_eq!(role("wikipedia:x"), None);
        assert_eq!(role("wiki"), None);
        let ns = |p: &str| {
            config
                .namespace_for(&PageId::clean(p).expect("valid id"))
                .map(str::to_owned)
        };
        assert_eq!(ns("wiki:team:x").as_deref(), Some("wiki:team"));
        assert_eq!(ns("wikipedia:x"), None);
    }

    #[test]
    fn links_fill_the_template() {
        let mut config = SiteConfig::new(SiteId::new("me"));
        let page = PageId::clean("wiki:start").expect("valid id");
        assert_eq!(config.page_link(&page, 7), None);
        config.page_url = Some("https://w.example/doku.php?id={page}&rev={revision}".into());
        assert_eq!(
            config.page_link(&page, 7).as_deref(),
            Some("https://w.example/doku.php?id=wiki:start&rev=7")
        );
        let odd = PageId::clean("wiki:ünï").expect("valid id");
        assert_eq!(
            config.page_link(&odd, 1).as_deref(),
            Some("https://w.example/doku.php?id=wiki:%C3%BCn%C3%AF&rev=1")
        );
    }
}
