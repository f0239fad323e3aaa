//! The JSON shapes the bindings share, so that each binding only converts its language's
//! values to JSON and back: typed errors, the merge request and report, feed items, and the
//! page state as opaque JSON text, and the few arguments a host gives as plain numbers or
//! names (a media file's size, an ignore reason).
//!
//! Every value crosses the boundary as the serde JSON form of the core's types: keys and
//! enum values in camelCase (`{"type": "localSave", "edit": {...}}`), every map written as a
//! list, so an empty PHP array is always an empty list. Error codes are snake_case
//! identifiers (`hash_mismatch`), as everywhere in wikisync.
//!
//! ```
//! use wikisync_core::wire::{self, ErrorKind};
//! // A page id the core refuses, anywhere inside an argument, is a page id error.
//! let err = wire::parse::<wikisync_core::entry::Entry>("entry", r#"{"page": "../etc"}"#)
//!     .unwrap_err();
//! assert_eq!((err.kind, err.code), (ErrorKind::PageId, "path_separator"));
//! // Any other mismatch says which argument and what is wrong.
//! let err = wire::parse::<wikisync_core::sync::SiteConfig>("config", "[]").unwrap_err();
//! assert_eq!(err.kind, ErrorKind::InvalidArgument);
//! assert!(err.message.starts_with("config: "));
//! ```

use std::cell::RefCell;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entry::{self, DecodeError, DecodeOptions, Entry, MediaError};
use crate::id::{PageId, PageIdError};
use crate::merge::{self, Markers, MergeOptions, Region};
use crate::sync::{PageState, SetupError};
use crate::tagged::ListOr;
use crate::time::Timestamp;

/// Which kind of failure a [`WireError`] is: each binding throws one error class per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A page id was refused (see [`crate::id::PageIdError`]).
    PageId,
    /// An entry or feed document was refused (see [`crate::entry::DecodeError`]).
    Decode,
    /// A namespace change cannot be made (see [`crate::sync::SetupError`]).
    Setup,
    /// A media file's bytes are not the ones announced (see [`crate::entry::MediaError`]).
    Media,
    /// An argument does not have the documented shape; the code is `invalid_argument`.
    InvalidArgument,
}

impl ErrorKind {
    /// The kind's name: `pageId`, `decode`, `setup`, `media` or `invalidArgument`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::PageId => "pageId",
            ErrorKind::Decode => "decode",
            ErrorKind::Setup => "setup",
            ErrorKind::Media => "media",
            ErrorKind::InvalidArgument => "invalidArgument",
        }
    }
}

/// A failure as it crosses a binding: its kind, a stable code and one sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    /// Which kind of failure.
    pub kind: ErrorKind,
    /// The stable code: the core error's `code()`, or `invalid_argument`.
    pub code: &'static str,
    /// What went wrong, for humans.
    pub message: String,
}

/// The code of every [`ErrorKind::InvalidArgument`] error.
pub const INVALID_ARGUMENT: &str = "invalid_argument";

impl WireError {
    /// An [`ErrorKind::InvalidArgument`] error with this message.
    pub fn invalid_argument(message: impl Into<String>) -> WireError {
        WireError {
            kind: ErrorKind::InvalidArgument,
            code: INVALID_ARGUMENT,
            message: message.into(),
        }
    }
}

impl From<PageIdError> for WireError {
    fn from(e: PageIdError) -> WireError {
        WireError {
            kind: ErrorKind::PageId,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<DecodeError> for WireError {
    fn from(e: DecodeError) -> WireError {
        WireError {
            kind: ErrorKind::Decode,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<SetupError> for WireError {
    fn from(e: SetupError) -> WireError {
        WireError {
            kind: ErrorKind::Setup,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<MediaError> for WireError {
    fn from(e: MediaError) -> WireError {
        WireError {
            kind: ErrorKind::Media,
            code: e.code(),
            message: e.to_string(),
        }
    }
}

thread_local! {
    /// The page id error of the last page id refused while deserializing on this thread:
    /// serde keeps only an error's message, and this keeps its type.
    static REFUSED_PAGE_ID: RefCell<Option<PageIdError>> = const { RefCell::new(None) };
}

/// Notes a page id refused during deserialization (called by `PageId`'s `TryFrom`).
pub(crate) fn note_refused_page_id(error: &PageIdError) {
    REFUSED_PAGE_ID.with(|slot| *slot.borrow_mut() = Some(error.clone()));
}

fn take_refused_page_id() -> Option<PageIdError> {
    REFUSED_PAGE_ID.with(|slot| slot.borrow_mut().take())
}

fn shape_error(what: &str, error: &serde_json::Error) -> WireError {
    match take_refused_page_id() {
        Some(page_id) => page_id.into(),
        None => WireError::invalid_argument(format!("{what}: {error}")),
    }
}

/// Reads the JSON text of the argument `what` as the core type `T`. A page id the core
/// refuses inside it is a [`ErrorKind::PageId`] error; any other mismatch an
/// [`ErrorKind::InvalidArgument`] error whose message starts with `what`.
///
/// The text is read into a `serde_json::Value` first and `T` from that, as [`from_value`]
/// does for PHP: every core type is then deserialized from one kind of input only, which
/// keeps the bindings small (each kind of input is one more copy of every type's
/// deserializer; see also `src/tagged.rs`), and the JSON text reader is compiled for `Value`
/// alone. As in a `Value`, a key given twice in one object counts once, the last time
/// (`JSON.stringify` and PHP arrays never write one twice).
pub fn parse<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, WireError> {
    from_value(what, parse_value(what, json)?)
}

/// The JSON text of the argument `what` as a `Value` (the part of [`parse`] that does not
/// depend on the type).
fn parse_value(what: &str, json: &str) -> Result<Value, WireError> {
    take_refused_page_id();
    serde_json::from_str(json).map_err(|e| shape_error(what, &e))
}

/// [`parse`] for a value already read into a `serde_json::Value`.
pub fn from_value<T: DeserializeOwned>(what: &str, value: Value) -> Result<T, WireError> {
    take_refused_page_id();
    serde_json::from_value(value).map_err(|e| shape_error(what, &e))
}

/// Reads a value of a unit-only enum given by its name, as hosts pass it: a plain string such
/// as `"notFromSource"` for an [`crate::sync::IgnoreReason`]. An unknown name is an
/// [`ErrorKind::InvalidArgument`] error whose message starts with `what`.
pub fn parse_name<T: DeserializeOwned>(what: &str, name: &str) -> Result<T, WireError> {
    from_value(what, Value::String(name.to_owned()))
}

/// The JSON value of a core value (object keys sorted).
pub fn to_value<T: Serialize>(value: &T) -> Value {
    // The core's types serialize to JSON without failing: every map key is a string.
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The JSON text of a core value.
pub fn to_json<T: Serialize>(value: &T) -> String {
    // As in `to_value`: serializing the core's types cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// A page state as the JSON text a host stores (and passes back unread).
pub fn state_to_json(state: &PageState) -> String {
    to_json(state)
}

/// A page state from the JSON text a host stored, also in the form of earlier versions.
pub fn state_from_json(json: &str) -> Result<PageState, WireError> {
    parse("state", json)
}

/// The state of a page never synced, the page id cleaned first.
pub fn new_state(page: &str) -> Result<PageState, WireError> {
    Ok(PageState::new(PageId::clean(page)?))
}

/// Decode options with a size limit given as a host number (`None`: the default limit).
pub fn decode_options(max_bytes: Option<i64>) -> Result<DecodeOptions, WireError> {
    match max_bytes {
        None => Ok(DecodeOptions::default()),
        Some(max) => usize::try_from(max)
            .map(DecodeOptions::with_max_bytes)
            .map_err(|_| WireError::invalid_argument("maxBytes must not be negative")),
    }
}

/// Checks fetched media bytes against the `sha256` and `size` their entry announced
/// ([`entry::verify_media`]), the size given as a host integer: a negative one is an
/// [`ErrorKind::InvalidArgument`] error, bytes that do not match an [`ErrorKind::Media`] one.
pub fn verify_media(bytes: &[u8], sha256: &str, size: i64) -> Result<(), WireError> {
    let size = u64::try_from(size)
        .map_err(|_| WireError::invalid_argument(format!("size: {size} is negative")))?;
    Ok(entry::verify_media(bytes, sha256, size)?)
}

/// The time a host gives as Unix milliseconds (JavaScript's `Date.now()`), as a timestamp:
/// fractions are dropped toward the past.
pub fn timestamp_from_millis(ms: f64) -> Result<Timestamp, WireError> {
    if !ms.is_finite() {
        return Err(WireError::invalid_argument(format!(
            "now: expected a time in milliseconds, got {ms}"
        )));
    }
    let seconds = (ms / 1000.0).floor();
    if seconds.abs() > 1e15 {
        return Err(WireError::invalid_argument(format!(
            "now: {ms} ms is out of range"
        )));
    }
    // In range (checked above), so the conversion is exact.
    #[allow(clippy::cast_possible_truncation)]
    Ok(Timestamp(seconds as i64))
}

/// One entry of a decoded feed: the entry, or why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedItem {
    /// The entry, when it decoded.
    pub entry: Option<Entry>,
    /// Why it did not, when it did not.
    pub error: Option<ErrorReport>,
}

/// A refusal as data: its stable code and its sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorReport {
    /// The stable code.
    pub code: &'static str,
    /// The sentence.
    pub message: String,
}

/// Every entry of a feed, oldest first (see [`entry::decode_feed`]).
pub fn decode_feed(xml: &[u8], options: &DecodeOptions) -> Result<Vec<FeedItem>, WireError> {
    Ok(entry::decode_feed(xml, options)?
        .into_iter()
        .map(|item| match item {
            Ok(entry) => FeedItem {
                entry: Some(entry),
                error: None,
            },
            Err(e) => FeedItem {
                entry: None,
                error: Some(ErrorReport {
                    code: e.code(),
                    message: e.to_string(),
                }),
            },
        })
        .collect())
}

/// The options of a merge, as both bindings take them. Every option may be left out, also
/// from the empty list that is PHP's empty array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct MergeArgs {
    /// The word-level pass inside line conflicts (default true).
    pub words: Option<bool>,
    /// Keep conflicts whole and render the base section (`git merge-file --diff3`).
    pub diff3: Option<bool>,
    /// Marker labels (default `ours`, `base`, `theirs`).
    pub labels: Option<Labels>,
    /// Marker length (default 7).
    pub marker_size: Option<usize>,
}

/// Marker labels: `{"ours", "base", "theirs"}` or `[ours, base, theirs]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Labels {
    /// By name.
    Named {
        /// The label of ours.
        ours: String,
        /// The label of the base.
        base: String,
        /// The label of theirs.
        theirs: String,
    },
    /// `[ours, base, theirs]`, as in `tests/vectors/merge.json`.
    List([String; 3]),
}

/// An object reads as [`Labels::Named`], a list as [`Labels::List`]. By hand rather than
/// `#[serde(untagged)]`, to keep the bindings small: see `src/tagged.rs`.
impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The object form.
        #[derive(Deserialize)]
        struct Named {
            ours: String,
            base: String,
            theirs: String,
        }
        Ok(
            match ListOr::<[String; 3], Named>::deserialize(deserializer)? {
                ListOr::List(list) => Labels::List(list),
                ListOr::Object(Named { ours, base, theirs }) => {
                    Labels::Named { ours, base, theirs }
                }
            },
        )
    }
}

/// The result of a merge, as both bindings return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeReport {
    /// The merged text, conflicts rendered as git-style markers.
    pub text: String,
    /// How many conflict regions.
    pub conflicts: usize,
    /// Whether there are none.
    pub clean: bool,
    /// The regions, in document order.
    pub regions: Vec<Region>,
}

/// Merges `ours` and `theirs`, two descendants of `base`, with `args`.
pub fn merge(base: &str, ours: &str, theirs: &str, args: &MergeArgs) -> MergeReport {
    let diff3 = args.diff3.unwrap_or(false);
    let options = MergeOptions::default()
        .with_words(args.words.unwrap_or(true))
        .with_diff3(diff3);
    let mut markers = match &args.labels {
        None => Markers::default(),
        Some(Labels::Named { ours, base, theirs } | Labels::List([ours, base, theirs])) => {
            Markers::labelled(ours.clone(), base.clone(), theirs.clone())
        }
    }
    .with_diff3(diff3);
    if let Some(size) = args.marker_size {
        markers = markers.with_size(size);
    }
    let merged = merge::merge3(base, ours, theirs, &options);
    MergeReport {
        text: merged.render(&markers),
        conflicts: merged.conflict_count(),
        clean: merged.is_clean(),
        regions: merged.regions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unclean_page_id_is_cleaned_and_a_refused_one_is_typed() {
        let state: PageState = parse(
            "state",
            &to_json(&PageState::new(PageId::clean("a").expect("id"))),
        )
        .expect("a state");
        assert_eq!(state.page().as_str(), "a");
        let bad = to_json(&PageState::new(PageId::clean("a").expect("id")))
            .replace("\"page\":\"a\"", "\"page\":\"/etc/passwd\"");
        let err = state_from_json(&bad).expect_err("refused");
        assert_eq!(err.kind, ErrorKind::PageId);
        // The slot is cleared: the next failure is an argument error again.
        let err = state_from_json("{}").expect_err("refused");
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
    }

    #[test]
    fn media_bytes_are_checked_with_typed_errors() {
        let png = b"\x89PNG";
        let sha256 = crate::hash::sha256_hex_bytes(png);
        assert_eq!(verify_media(png, &sha256, 4), Ok(()));
        let err = verify_media(&png[..3], &sha256, 4).expect_err("short");
        assert_eq!((err.kind, err.code), (ErrorKind::Media, "size_mismatch"));
        let err = verify_media(b"\x89PNH", &sha256, 4).expect_err("other bytes");
        assert_eq!((err.kind, err.code), (ErrorKind::Media, "hash_mismatch"));
        assert_eq!(ErrorKind::Media.as_str(), "media");
        let err = verify_media(png, &sha256, -4).expect_err("negative size");
        assert_eq!(err.code, INVALID_ARGUMENT);
    }

    #[test]
    fn names_read_unit_enums() {
        use crate::sync::IgnoreReason;
        let reason: IgnoreReason = parse_name("reason", "notFromSource").expect("a reason");
        assert!(reason.worth_reporting());
        let err = parse_name::<IgnoreReason>("reason", "not_from_source").expect_err("snake");
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(err.message.starts_with("reason: "));
    }

    #[test]
    fn milliseconds_floor_to_seconds() {
        assert_eq!(timestamp_from_millis(1_999.9), Ok(Timestamp(1)));
        assert_eq!(timestamp_from_millis(-1.0), Ok(Timestamp(-1)));
        assert!(timestamp_from_millis(f64::NAN).is_err());
        assert!(timestamp_from_millis(1e300).is_err());
    }

    #[test]
    fn merge_options_are_strict() {
        assert!(parse::<MergeArgs>("options", r#"{"markerSize": 9, "words": false}"#).is_ok());
        let err = parse::<MergeArgs>("options", r#"{"marker_size": 9}"#).expect_err("unknown");
        assert_eq!(err.code, INVALID_ARGUMENT);
        // No options from PHP is an empty array, and an empty PHP array is an empty list.
        assert_eq!(
            parse::<MergeArgs>("options", "[]"),
            Ok(MergeArgs::default())
        );
    }
}
