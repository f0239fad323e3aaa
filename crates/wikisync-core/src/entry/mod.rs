//! Pages as Atom entries: the wikisync entry profile (see `docs/protocol.md`).
//!
//! An [`Entry`] is what travels between sites: a saved page revision, a draft (the
//! edit-cycle lock), a lock release, or a deletion. [`encode`] turns it into an Atom entry
//! document (RFC 4287 with RFC 5023 `app:draft` and RFC 6721 `at:deleted-entry`); [`decode`]
//! parses one back, refusing anything unsafe or inconsistent with a typed [`DecodeError`];
//! [`decode_feed`] decodes every entry of a feed (the gateway's `/items`).

mod base64;
mod decode;
mod encode;
mod error;
mod feed;

pub use decode::{DecodeOptions, decode};
pub use encode::{encode, is_xml_char};
pub use error::DecodeError;
pub use feed::{decode_feed, decode_retraction};

pub(crate) use base64::{bytes, option_bytes};

use serde::{Deserialize, Serialize};

use crate::id::PageId;
use crate::tagged;
use crate::time::Timestamp;

/// XML namespace of Atom (RFC 4287).
pub const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// XML namespace of the Atom Publishing Protocol (RFC 5023), for `app:control/app:draft`.
pub const APP_NS: &str = "http://www.w3.org/2007/app";
/// XML namespace of Atom tombstones (RFC 6721), for `at:deleted-entry`.
pub const TOMBSTONE_NS: &str = "http://purl.org/atompub/tombstones/1.0";
/// XML namespace of the wikisync extension elements.
pub const WIKISYNC_NS: &str = "urn:x-wikisync:entry:1";
/// Media type of DokuWiki markup, the default page format.
pub const DOKUWIKI_MEDIA_TYPE: &str = "text/x-dokuwiki";

/// Identifies a site taking part in sync (in practice its base URL, e.g.
/// `https://wiki-a.example.org/`). Used for echo suppression and as the deterministic
/// tie-break between sites.
///
/// Site ids compare the way administrators write URLs: an id that is an `http`/`https` URL is
/// normalised when it is made (scheme and host lower-cased, the default port dropped, the path
/// ending with `/`), so `HTTP://Wiki.Example.org:80` and `http://wiki.example.org/` are one
/// site; any other id (`siteA`) is kept as it is, without surrounding whitespace.
///
/// ```
/// use wikisync_core::entry::SiteId;
/// assert_eq!(SiteId::new("HTTP://Wiki.Example.org:80").as_str(), "http://wiki.example.org/");
/// assert_eq!(SiteId::new("https://wiki.example.org/doc"), SiteId::new("https://WIKI.example.org:443/doc/"));
/// assert_eq!(SiteId::new(" siteA ").as_str(), "siteA");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub struct SiteId(String);

impl SiteId {
    /// Makes a site id from anything string-like, normalised (see the type's documentation).
    pub fn new(id: impl Into<String>) -> Self {
        SiteId(normalize_site(&id.into()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The normal form of a site id: URLs by the rules of [`SiteId`], anything else trimmed.
fn normalize_site(raw: &str) -> String {
    let id = raw.trim();
    let Some((scheme, rest)) = id.split_once("://") else {
        return id.to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return id.to_owned(),
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    // user info keeps its case; the host (and port) do not
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    let mut host = host.to_ascii_lowercase();
    if let Some(bare) = host.strip_suffix(default_port) {
        host = bare.to_owned();
    }
    let (path, tail) = match path.find(['?', '#']) {
        Some(i) => path.split_at(i),
        None => (path, ""),
    };
    let mut out = format!("{scheme}://");
    if let Some(user) = user {
        out.push_str(user);
        out.push('@');
    }
    out.push_str(&host);
    out.push_str(path);
    if !path.ends_with('/') {
        out.push('/');
    }
    out.push_str(tail);
    out
}

impl From<String> for SiteId {
    fn from(id: String) -> Self {
        SiteId::new(id)
    }
}

impl From<&str> for SiteId {
    fn from(id: &str) -> Self {
        SiteId::new(id)
    }
}

impl From<SiteId> for String {
    fn from(id: SiteId) -> String {
        id.0
    }
}

impl std::fmt::Display for SiteId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One revision of one page at one site: the site's own revision number (DokuWiki uses the
/// save time in Unix seconds) qualified by the site that made it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RevisionRef {
    /// The revision number at `site`. Strictly increasing per page at that site.
    pub revision: u64,
    /// The site that made the revision.
    pub site: SiteId,
}

/// A wikisync Atom entry, decoded. Field by field it maps to the elements listed in
/// `docs/protocol.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// `atom:id`: stable per page and independent of the site, so it survives a source move
    /// (see [`page_atom_id`]); drafts and lock releases have their own
    /// ([`draft_atom_id`]), so that as pubsub items they never replace the page.
    pub atom_id: String,
    /// `ws:page`: the DokuWiki page id, already cleaned (see [`crate::id`]).
    pub page: PageId,
    /// `atom:title`: the page title (DokuWiki: first heading, or the page id).
    pub title: String,
    /// `atom:updated`: when this revision was made.
    pub updated: Timestamp,
    /// `atom:author/atom:name`: who made the change (user name), if known.
    pub author: Option<String>,
    /// `atom:summary`: the edit summary, if any.
    pub summary: Option<String>,
    /// `atom:link rel="alternate"`: the page URL on its origin site, if known.
    pub link: Option<String>,
    /// `ws:revision` (with its `site` attribute, the origin): this revision and the site that
    /// made it.
    pub revision: RevisionRef,
    /// `ws:base`: the revision this edit started from (its parent); `None` for a page creation.
    pub base: Option<RevisionRef>,
    /// `ws:clock`: the version vector, i.e. for each site the newest of its revisions that
    /// this text includes (sorted by site). Lets a receiver tell "newer" from "concurrent"
    /// without keeping history.
    pub clock: Vec<RevisionRef>,
    /// `ws:minor`: a minor edit (DokuWiki's "minor changes" box).
    pub minor: bool,
    /// `ws:source`: the site that is authoritative for this page's namespace, when the
    /// publisher declares one (mirrors follow it; a changed value announces a source move).
    pub source: Option<SiteId>,
    /// What kind of entry this is, with the data of that kind.
    pub kind: EntryKind,
}

/// The kinds of wikisync entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum EntryKind {
    /// A saved revision. `atom:content type="<media_type>"` carries `text` byte for byte;
    /// `ws:sha256` is the hex SHA-256 of the UTF-8 text, checked on decode.
    Page {
        /// The raw page text (DokuWiki markup), exact to the byte.
        text: String,
        /// The markup dialect, e.g. [`DOKUWIKI_MEDIA_TYPE`] or `text/markdown`.
        media_type: String,
    },
    /// A draft (`app:control/app:draft` = `yes`): an editor at the origin site opened the page;
    /// receivers lock it for that editor (`author`) until `lock_expires`.
    Draft {
        /// `ws:lock-expires`: when the lock lapses unless renewed by a newer draft.
        lock_expires: Timestamp,
        /// `ws:conflict`: for a conflict report ("send back a newer draft"), the revision
        /// this site could not merge; `None` for a plain lock.
        conflict_with: Option<RevisionRef>,
    },
    /// The editor at the origin site closed the page without saving: release the lock
    /// (`ws:unlock`, sent as a draft so that clients that do not know it ignore it).
    Unlock,
    /// The page was deleted at the origin (RFC 6721 `at:deleted-entry`).
    Deleted {
        /// `at:deleted-entry/@when`: when it was deleted.
        when: Timestamp,
        /// `at:by/atom:name`: who deleted it, if known.
        by: Option<String>,
        /// `at:comment`: why, if given.
        comment: Option<String>,
    },
    /// A media file (an image, an attachment) named by `ws:media` (the entry's `page` holds
    /// its id). Its bytes travel inside the entry (`data`, base64 on the wire and in JSON) or
    /// by reference (`url`, fetched by the receiver); either way `sha256` and `size` say what
    /// they must be, and nothing is written before they match ([`verify_media`]).
    Media {
        /// The file's media type, e.g. `image/png`.
        media_type: String,
        /// The hex SHA-256 of the bytes (`ws:sha256`).
        sha256: String,
        /// The number of bytes (`ws:size`).
        size: u64,
        /// The bytes, when they travel inside the entry (may be left out).
        #[serde(with = "base64::option_bytes")]
        data: Option<Vec<u8>>,
        /// Where to fetch the bytes, when they travel by reference (`atom:content/@src`; may
        /// be left out).
        url: Option<String>,
    },
    /// The media file was deleted at the origin (an `at:deleted-entry` with `ws:media`).
    MediaDeleted {
        /// When it was deleted.
        when: Timestamp,
        /// Who deleted it, if known.
        by: Option<String>,
        /// Why, if given.
        comment: Option<String>,
    },
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for EntryKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<EntryKind, serde_json::Error> {
            Ok(match tag {
                "page" => EntryKind::Page {
                    text: f.field("text")?,
                    media_type: f.field("mediaType")?,
                },
                "draft" => EntryKind::Draft {
                    lock_expires: f.field("lockExpires")?,
                    conflict_with: f.field("conflictWith")?,
                },
                "unlock" => EntryKind::Unlock,
                "deleted" => EntryKind::Deleted {
                    when: f.field("when")?,
                    by: f.field("by")?,
                    comment: f.field("comment")?,
                },
                "media" => EntryKind::Media {
                    media_type: f.field("mediaType")?,
                    sha256: f.field("sha256")?,
                    size: f.field("size")?,
                    data: f
                        .take("data")
                        .map_or(Ok(None), base64::option_bytes::deserialize)?,
                    url: f.field("url")?,
                },
                "mediaDeleted" => EntryKind::MediaDeleted {
                    when: f.field("when")?,
                    by: f.field("by")?,
                    comment: f.field("comment")?,
                },
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &[
                            "page",
                            "draft",
                            "unlock",
                            "deleted",
                            "media",
                            "mediaDeleted",
                        ],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

/// Why the bytes of a media file are not the ones its entry announced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The number of bytes differs from `ws:size` (a truncated or padded file).
    #[error("the file has {actual} bytes, not the {expected} announced")]
    SizeMismatch {
        /// The size announced.
        expected: u64,
        /// The size received.
        actual: u64,
    },
    /// The SHA-256 differs from `ws:sha256` (a corrupt or other file).
    #[error("the file does not match its hash (ws:sha256 {expected}, file {actual})")]
    HashMismatch {
        /// The hash announced.
        expected: String,
        /// The hash of the bytes received.
        actual: String,
    },
}

impl MediaError {
    /// A stable code: `size_mismatch`, `hash_mismatch`.
    pub fn code(&self) -> &'static str {
        match self {
            MediaError::SizeMismatch { .. } => "size_mismatch",
            MediaError::HashMismatch { .. } => "hash_mismatch",
        }
    }
}

/// Checks that `bytes` are the media file an entry announced (`size` bytes with the hex
/// SHA-256 `sha256`): what a host runs on fetched bytes before it writes them.
///
/// ```
/// use wikisync_core::entry::verify_media;
/// use wikisync_core::hash::sha256_hex_bytes;
/// let png = b"\x89PNG...";
/// assert!(verify_media(png, &sha256_hex_bytes(png), 7).is_ok());
/// assert_eq!(verify_media(&png[..3], &sha256_hex_bytes(png), 7).unwrap_err().code(), "size_mismatch");
/// ```
pub fn verify_media(bytes: &[u8], sha256: &str, size: u64) -> Result<(), MediaError> {
    let actual = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if actual != size {
        return Err(MediaError::SizeMismatch {
            expected: size,
            actual,
        });
    }
    let hash = crate::hash::sha256_hex_bytes(bytes);
    if !hash.eq_ignore_ascii_case(sha256) {
        return Err(MediaError::HashMismatch {
            expected: sha256.to_owned(),
            actual: hash,
        });
    }
    Ok(())
}

impl Entry {
    /// The page text, for [`EntryKind::Page`] entries.
    pub fn text(&self) -> Option<&str> {
        match &self.kind {
            EntryKind::Page { text, .. } => Some(text),
            _ => None,
        }
    }

    /// Whether the entry is about a media file rather than a page.
    pub fn is_media(&self) -> bool {
        self.kind.is_media()
    }
}

impl EntryKind {
    /// Whether this kind is about a media file ([`EntryKind::Media`], [`EntryKind::MediaDeleted`]).
    pub fn is_media(&self) -> bool {
        matches!(
            self,
            EntryKind::Media { .. } | EntryKind::MediaDeleted { .. }
        )
    }
}

/// The `atom:id` of a page within a wiki namespace shared by several sites: a URN built from the
/// cleaned page id, so that every site (and a new source after a move) agrees on it.
///
/// ```
/// use wikisync_core::{entry::page_atom_id, id::PageId};
/// let id = PageId::clean("Wiki:Start Page").unwrap();
/// assert_eq!(page_atom_id(&id), "urn:x-wikisync:page:wiki:start_page");
/// ```
pub fn page_atom_id(page: &PageId) -> String {
    format!("urn:x-wikisync:page:{}", page.as_str())
}

/// The `atom:id` of a page's drafts and lock releases: the item id is the `atom:id`, so the
/// edit lock is an item of its own beside the page's, and a node's items always hold the
/// page's last revision (a site that joins during an edit fetches the page, not the draft).
///
/// ```
/// use wikisync_core::{entry::draft_atom_id, id::PageId};
/// let id = PageId::clean("wiki:start").unwrap();
/// assert_eq!(draft_atom_id(&id), "urn:x-wikisync:draft:wiki:start");
/// ```
pub fn draft_atom_id(page: &PageId) -> String {
    format!("urn:x-wikisync:draft:{}", page.as_str())
}

/// What an item of a wikisync node is about, read from its id (its `atom:id`): what a bare
/// retraction names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ItemSubject {
    /// A page's revisions (`urn:x-wikisync:page:<id>`).
    Page {
        /// The page.
        page: PageId,
    },
    /// A page's drafts and lock releases (`urn:x-wikisync:draft:<id>`).
    Draft {
        /// The page.
        page: PageId,
    },
    /// A media file (`urn:x-wikisync:media:<id>`).
    Media {
        /// The media file.
        media: PageId,
    },
}

/// The subject of an item id, if it is one wikisync writes (the id must be clean).
///
/// ```
/// use wikisync_core::entry::{ItemSubject, item_subject};
/// assert!(matches!(item_subject("urn:x-wikisync:page:wiki:start"), Some(ItemSubject::Page { .. })));
/// assert_eq!(item_subject("urn:x-wikisync:page:../etc"), None);
/// assert_eq!(item_subject("tag:example.org,2026:1"), None);
/// ```
pub fn item_subject(item_id: &str) -> Option<ItemSubject> {
    let (kind, id) = item_id
        .trim()
        .strip_prefix("urn:x-wikisync:")?
        .split_once(':')?;
    let page = PageId::clean(id).ok().filter(|p| p.as_str() == id)?;
    match kind {
        "page" => Some(ItemSubject::Page { page }),
        "draft" => Some(ItemSubject::Draft { page }),
        "media" => Some(ItemSubject::Media { media: page }),
        _ => None,
    }
}

/// The `atom:id` of a media file (its id cleaned like a page id).
///
/// ```
/// use wikisync_core::{entry::media_atom_id, id::PageId};
/// let id = PageId::clean("wiki:Logo.PNG").unwrap();
/// assert_eq!(media_atom_id(&id), "urn:x-wikisync:media:wiki:logo.png");
/// ```
pub fn media_atom_id(media: &PageId) -> String {
    format!("urn:x-wikisync:media:{}", media.as_str())
}
