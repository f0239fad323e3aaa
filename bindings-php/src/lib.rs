//! # wikisync-php
//!
//! The `wikisync` PHP extension: `wikisync-core` as the `WikiSync\` class API described in
//! `docs/bindings.md`. Thin: each static method converts its arguments (PHP arrays in the
//! serde JSON shape of the core's types, see [`convert`]), calls the core, and converts the
//! result, or throws the matching exception class of [`error`]. No logic lives here.
//!
//! ```php
//! $id = WikiSync\PageId::clean('Wiki:Start Page');          // "wiki:start_page"
//! $merged = WikiSync\Merge::merge($base, $ours, $theirs);      // ['text' => ..., 'clean' => ...]
//! try {
//!     WikiSync\Entry::decode($xml);
//! } catch (WikiSync\DecodeException $e) {
//!     error_log($e->getErrorCode());                           // e.g. "hash_mismatch"
//! }
//! ```
#![cfg_attr(windows, feature(abi_vectorcall))]
// PHP names parameters after the Rust ones, and docs/bindings.md names them in camelCase
// (`$maxBytes`, `$pageId`); ext-php-rs re-emits the parameters, so a narrower allow is lost.
#![allow(non_snake_case)]

mod convert;
mod error;

use ext_php_rs::binary_slice::BinarySlice;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use wikisync_core::entry::{self, DecodeOptions};
use wikisync_core::id::{self, PageIdError};
use wikisync_core::merge::{self, Markers, MergeOptions};
use wikisync_core::sync::{self, PageState, PendingConflict, SiteConfig};

use crate::convert::{Node, ShapeError};
pub use crate::error::{
    DecodeException, InvalidArgumentException, PageIdException, WikiSyncException,
};

/// Reads a PHP array argument as the core type `T`. A page id inside it that the core refuses
/// becomes a `PageIdException`, any other mismatch an `InvalidArgumentException`.
fn arg<T: DeserializeOwned>(array: &ZendHashTable, name: &str) -> PhpResult<T> {
    let node = convert::read_array(array, name).map_err(|e| error::invalid_argument(&e.0))?;
    from_node(&node, name)
}

fn from_node<T: DeserializeOwned>(node: &Node, name: &str) -> PhpResult<T> {
    convert::from_node(node).map_err(|e| match page_id_error(node, &e) {
        Some(page_error) => error::page_id(&page_error),
        None => error::invalid_argument(&format!("{name}: {e}")),
    })
}

/// The page id error behind a failed deserialization, if it was one: the core's `PageId`
/// refuses a string with the `PageIdError`'s message, so the refused string is among the
/// argument's strings and cleaning it gives that same message.
fn page_id_error(node: &Node, error: &ShapeError) -> Option<PageIdError> {
    convert::strings(node)
        .into_iter()
        .filter_map(|s| id::PageId::clean(s).err())
        .find(|e| e.to_string() == error.0)
}

/// Reads a PHP string argument as UTF-8 text.
fn text<'a>(bytes: &'a BinarySlice<'a, u8>, name: &str) -> PhpResult<&'a str> {
    convert::utf8(bytes, name).map_err(|e| error::invalid_argument(&e.0))
}

/// Converts a core value to the PHP value returned.
fn ret<T: serde::Serialize>(value: &T) -> PhpResult<ZBox<ZendHashTable>> {
    convert::to_array(value).map_err(|e| error::invalid_argument(&e.0))
}

/// `WikiSync\PageId`: DokuWiki page ids.
#[php_class]
#[php(name = "WikiSync\\PageId")]
pub struct PageIdClass;

#[php_impl]
impl PageIdClass {
    /// Cleans a raw page id the way DokuWiki's `cleanID` does, refusing ids that try to escape
    /// (`..`, `/`, absolute paths, control characters) with a `WikiSync\PageIdException`.
    pub fn clean(raw: BinarySlice<u8>) -> PhpResult<String> {
        let raw = text(&raw, "raw")?;
        id::PageId::clean(raw)
            .map(String::from)
            .map_err(|e| error::page_id(&e))
    }
}

/// `WikiSync\Entry`: the wikisync Atom entry codec.
#[php_class]
#[php(name = "WikiSync\\Entry")]
pub struct EntryClass;

#[php_impl]
impl EntryClass {
    /// Encodes an entry (an array in the serde JSON shape of the core's `Entry`) as an Atom
    /// entry document.
    pub fn encode(entry: &ZendHashTable) -> PhpResult<String> {
        let entry: entry::Entry = arg(entry, "entry")?;
        Ok(entry::encode(&entry))
    }

    /// Decodes an Atom entry document (UTF-8 bytes) into an entry array; refusals throw
    /// `WikiSync\DecodeException` with the core's code. `$maxBytes` overrides the default size
    /// limit.
    pub fn decode(xml: BinarySlice<u8>, maxBytes: Option<i64>) -> PhpResult<ZBox<ZendHashTable>> {
        let options = match maxBytes {
            None => DecodeOptions::default(),
            Some(max) => match usize::try_from(max) {
                Ok(max) => DecodeOptions::with_max_bytes(max),
                Err(_) => return Err(error::invalid_argument("maxBytes must not be negative")),
            },
        };
        let decoded = entry::decode(&xml, &options).map_err(|e| error::decode(&e))?;
        ret(&decoded)
    }
}

/// `WikiSync\Hash`: content hashes.
#[php_class]
#[php(name = "WikiSync\\Hash")]
pub struct HashClass;

#[php_impl]
impl HashClass {
    /// The SHA-256 of a UTF-8 text, as 64 lowercase hex digits (the `ws:sha256` of entries).
    pub fn sha256(text: BinarySlice<u8>) -> PhpResult<String> {
        Ok(wikisync_core::hash::sha256_hex(self::text(&text, "text")?))
    }
}

/// Merge options as PHP passes them (see `docs/bindings.md`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeArgs {
    words: Option<bool>,
    diff3: Option<bool>,
    labels: Option<Labels>,
    marker_size: Option<usize>,
}

/// Marker labels: `[ours, base, theirs]` (as in `tests/vectors/merge.json`) or a map with those
/// keys.
#[derive(Deserialize)]
#[serde(untagged)]
enum Labels {
    List([String; 3]),
    Map {
        ours: String,
        base: String,
        theirs: String,
    },
}

/// `WikiSync\Merge`: three-way merge.
#[php_class]
#[php(name = "WikiSync\\Merge")]
pub struct MergeClass;

#[php_impl]
impl MergeClass {
    /// Merges `$ours` and `$theirs`, two descendants of `$base`. Returns `text` (conflicts
    /// rendered as git-style markers), `conflicts` (their count), `clean` and `regions`.
    /// Options: `words` (bool, default true), `diff3` (bool), `labels` (`[ours, base, theirs]`
    /// or keyed by those names), `marker_size` (int, default 7).
    pub fn merge(
        base: BinarySlice<u8>,
        ours: BinarySlice<u8>,
        theirs: BinarySlice<u8>,
        options: Option<&ZendHashTable>,
    ) -> PhpResult<ZBox<ZendHashTable>> {
        let args: MergeArgs = match options {
            Some(options) => arg(options, "options")?,
            None => MergeArgs {
                words: None,
                diff3: None,
                labels: None,
                marker_size: None,
            },
        };
        let diff3 = args.diff3.unwrap_or(false);
        let merge_options = MergeOptions::default()
            .with_words(args.words.unwrap_or(true))
            .with_diff3(diff3);
        let mut markers = match args.labels {
            None => Markers::default(),
            Some(Labels::List([ours, base, theirs]) | Labels::Map { ours, base, theirs }) => {
                Markers::labelled(ours, base, theirs)
            }
        }
        .with_diff3(diff3);
        if let Some(size) = args.marker_size {
            markers = markers.with_size(size);
        }
        let merged = merge::merge3(
            text(&base, "base")?,
            text(&ours, "ours")?,
            text(&theirs, "theirs")?,
            &merge_options,
        );
        ret(&serde_json::json!({
            "text": merged.render(&markers),
            "conflicts": merged.conflict_count(),
            "clean": merged.is_clean(),
            "regions": merged.regions,
        }))
    }
}

/// `WikiSync\Sync`: the sync engine for one page.
#[php_class]
#[php(name = "WikiSync\\Sync")]
pub struct SyncClass;

#[php_impl]
impl SyncClass {
    /// A fresh sync state for a page that has never been synced (the id is cleaned first).
    pub fn new_state(pageId: BinarySlice<u8>) -> PhpResult<ZBox<ZendHashTable>> {
        let raw = text(&pageId, "pageId")?;
        let page = id::PageId::clean(raw).map_err(|e| error::page_id(&e))?;
        ret(&PageState::new(page))
    }

    /// Runs one input (`notification`, `local_save`, `editor_opened`, `editor_closed`, `tick`,
    /// `source_gone`, `announce_source_move`) for a page and returns the decision: `outcome`,
    /// the new `state` (store it) and the `actions` to carry out in order.
    pub fn handle(
        config: &ZendHashTable,
        state: &ZendHashTable,
        input: &ZendHashTable,
    ) -> PhpResult<ZBox<ZendHashTable>> {
        let config: SiteConfig = arg(config, "config")?;
        let state: PageState = arg(state, "state")?;
        let input: sync::Input = arg(input, "input")?;
        ret(&sync::handle(&config, state, input))
    }

    /// Renders a pending conflict (the `conflict` of a page state) as git-style markers
    /// labelled with the two revisions.
    pub fn render_conflict(conflict: &ZendHashTable) -> PhpResult<String> {
        let conflict: PendingConflict = arg(conflict, "conflict")?;
        Ok(sync::render_conflict(&conflict))
    }
}

/// The module entry point. ext-php-rs generates undocumented `extern "C"` items next to it,
/// hence the private module and its lint allowances.
#[allow(missing_docs, unreachable_pub)]
mod entry_point {
    use super::*;

    /// The extension: the classes above and the exception classes.
    #[php_module]
    fn get_module(module: ModuleBuilder) -> ModuleBuilder {
        module
            .name("wikisync")
            .class::<WikiSyncException>()
            .class::<PageIdException>()
            .class::<DecodeException>()
            .class::<InvalidArgumentException>()
            .class::<PageIdClass>()
            .class::<EntryClass>()
            .class::<HashClass>()
            .class::<MergeClass>()
            .class::<SyncClass>()
    }
}
