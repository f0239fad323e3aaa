//! Why an entry was refused.

use crate::id::PageIdError;
use crate::time::TimestampError;

/// Why [`decode`](super::decode) refused an entry. Every variant has a stable
/// [`code`](DecodeError::code) (used by the CLI, the bindings and
/// `tests/vectors/entries.json`); the `Display` text is one sentence for humans.
///
/// None of these is worth retrying: the same bytes are refused the same way. A host should
/// log the code and drop the notification (or report it to the publisher).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is longer than [`DecodeOptions::max_bytes`](super::DecodeOptions::max_bytes);
    /// nothing was parsed.
    #[error("the entry is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Size of the input in bytes.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// The input is not well-formed XML 1.0 in UTF-8 (bad syntax, mismatched tags, invalid
    /// UTF-8, a character reference to a character XML forbids, text outside the root, an
    /// encoding other than UTF-8 declared, ...). The text says what and where.
    #[error("the entry is not well-formed XML: {0}")]
    Malformed(String),
    /// The input has a document type declaration. DTDs (and so entity declarations) are never
    /// processed, to rule out entity-expansion and external-entity attacks.
    #[error("the entry has a DOCTYPE declaration, which is not allowed")]
    Doctype,
    /// The input references an entity other than the five XML predefines (`&lt;` `&gt;`
    /// `&amp;` `&apos;` `&quot;`) or a character reference; the name is given.
    #[error("the entry references the undefined entity &{0};")]
    UnknownEntity(String),
    /// The root element is neither `atom:entry` nor `at:deleted-entry` (namespace URI and
    /// local name given as `{uri}local`).
    #[error("the document is not an Atom entry (its root element is {0})")]
    NotAnEntry(String),
    /// [`decode_feed`](super::decode_feed) was given a document whose root element is neither
    /// `atom:feed` nor an entry (namespace URI and local name given as `{uri}local`).
    #[error("the document is not an Atom feed (its root element is {0})")]
    NotAFeed(String),
    /// A required element or attribute is missing; the value names it (e.g. `atom:updated`,
    /// `ws:revision/@site`). The required ones are listed in `docs/protocol.md`.
    #[error("the entry has no {0}")]
    MissingElement(&'static str),
    /// An element that may appear only once appears twice; the value names it.
    #[error("the entry has more than one {0}")]
    DuplicateElement(&'static str),
    /// There is no `ws:page` element.
    #[error("the entry has no page id (ws:page)")]
    MissingPageId,
    /// `ws:page` holds an id that [`PageId::clean`](crate::id::PageId::clean) refuses.
    #[error("the page id is refused: {0}")]
    BadPageId(PageIdError),
    /// `ws:page` holds an id that is not already clean: cleaning would change it, so the two
    /// sites could disagree about which page is meant. The publisher must send the clean id.
    #[error("the page id {given:?} is not clean (it would become {clean:?})")]
    UncleanPageId {
        /// The id as sent.
        given: String,
        /// What cleaning makes of it.
        clean: String,
    },
    /// A timestamp (`atom:updated`, `ws:lock-expires`, `at:deleted-entry/@when`) is not a
    /// valid RFC 3339 date-time.
    #[error("{element} is not a valid RFC 3339 timestamp: {error}")]
    BadTimestamp {
        /// Which element or attribute.
        element: &'static str,
        /// What is wrong with it.
        error: TimestampError,
    },
    /// A revision number (`ws:revision`, `ws:base`, `ws:rev`, `ws:conflict`) is not a
    /// decimal integer from 0 to 2^64−1.
    #[error("{element} is not a revision number: {value:?}")]
    BadRevision {
        /// Which element.
        element: &'static str,
        /// The text found.
        value: String,
    },
    /// A value is outside its allowed set: `app:draft` other than `yes`/`no`, a `ws:sha256`
    /// that is not 64 hex digits.
    #[error("{element} has an invalid value: {value:?}")]
    BadValue {
        /// Which element.
        element: &'static str,
        /// The text found.
        value: String,
    },
    /// `atom:content` cannot be read as the page text: out-of-line (`src`), `xhtml`, invalid
    /// base64, or base64 that is not UTF-8.
    #[error("the content cannot be read as page text: {0}")]
    BadContent(&'static str),
    /// The markers of two kinds are combined (a tombstone that is also a draft, `ws:unlock`
    /// outside a draft).
    #[error("the entry mixes kinds: {0}")]
    ConflictingKind(&'static str),
    /// A media file's inline bytes are not `ws:size` long (a truncated or padded file).
    #[error("the media file has {actual} bytes, not the {expected} of ws:size")]
    SizeMismatch {
        /// The size announced in `ws:size`.
        expected: u64,
        /// The number of bytes received.
        actual: u64,
    },
    /// The SHA-256 of the decoded text (or a media file's bytes) differs from `ws:sha256`: it
    /// was altered or mangled on the way.
    #[error("the text does not match its hash (ws:sha256 {expected}, text {actual})")]
    HashMismatch {
        /// The hash announced in `ws:sha256`.
        expected: String,
        /// The hash of the text received.
        actual: String,
    },
}

impl DecodeError {
    /// A stable machine-readable code, e.g. `"hash_mismatch"`.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too_large",
            DecodeError::Malformed(_) => "malformed_xml",
            DecodeError::Doctype => "doctype",
            DecodeError::UnknownEntity(_) => "unknown_entity",
            DecodeError::NotAnEntry(_) => "not_an_entry",
            DecodeError::NotAFeed(_) => "not_a_feed",
            DecodeError::MissingElement(_) => "missing_element",
            DecodeError::DuplicateElement(_) => "duplicate_element",
            DecodeError::MissingPageId => "missing_page_id",
            DecodeError::BadPageId(_) => "bad_page_id",
            DecodeError::UncleanPageId { .. } => "unclean_page_id",
            DecodeError::BadTimestamp { .. } => "bad_timestamp",
            DecodeError::BadRevision { .. } => "bad_revision",
            DecodeError::BadValue { .. } => "bad_value",
            DecodeError::BadContent(_) => "bad_content",
            DecodeError::ConflictingKind(_) => "conflicting_kind",
            DecodeError::SizeMismatch { .. } => "size_mismatch",
            DecodeError::HashMismatch { .. } => "hash_mismatch",
        }
    }

    /// Every code [`code`](DecodeError::code) can return, for documentation and tests.
    pub const CODES: &'static [&'static str] = &[
        "too_large",
        "malformed_xml",
        "doctype",
        "unknown_entity",
        "not_an_entry",
        "not_a_feed",
        "missing_element",
        "duplicate_element",
        "missing_page_id",
        "bad_page_id",
        "unclean_page_id",
        "bad_timestamp",
        "bad_revision",
        "bad_value",
        "bad_content",
        "conflicting_kind",
        "size_mismatch",
        "hash_mismatch",
    ];
}
