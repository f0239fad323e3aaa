//! # wikisync-js
//!
//! The WebAssembly binding of `wikisync-core`, published as the npm package `wikisync` (ES
//! module for Node ≥ 18 and browsers, with TypeScript types). Thin: each export converts its
//! arguments ([`convert`]), makes one call into the core and converts the result or the error
//! ([`error`]). The API is the one in `docs/bindings.md`, shared with the PHP binding.
//!
//! These raw exports take and return JSON text; the package's JS shim (`js/index.js`) is
//! what users call: it passes plain objects through `JSON.stringify`/`JSON.parse` and turns
//! thrown [`error::Failure`]s into `WikiSyncError` subclasses. Built by `scripts/build-wasm`.

pub mod convert;
pub mod error;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::wasm_bindgen;
use wikisync_core::entry::{self, DecodeOptions, Entry};
use wikisync_core::id::PageId;
use wikisync_core::merge::{self, Markers, MergeOptions, Region};
use wikisync_core::sync::{self, Input, PageState, PendingConflict, SiteConfig};

use crate::convert::{parse, render};
use crate::error::Failure;

/// `cleanPageId(raw)`: the page id cleaned by DokuWiki's `cleanID` rules.
#[wasm_bindgen(js_name = cleanPageId)]
pub fn clean_page_id(raw: &str) -> Result<String, Failure> {
    Ok(PageId::clean(raw)?.into())
}

/// `encodeEntry(entry)`: the Atom XML of an entry (JSON text in).
#[wasm_bindgen(js_name = encodeEntry)]
pub fn encode_entry(entry: &str) -> Result<String, Failure> {
    Ok(entry::encode(&parse::<Entry>("entry", entry)?))
}

/// `decodeEntry(xml: string)`: the entry (JSON text) of an Atom document.
#[wasm_bindgen(js_name = decodeEntryText)]
pub fn decode_entry_text(xml: &str, max_bytes: Option<f64>) -> Result<String, Failure> {
    decode_entry_bytes(xml.as_bytes(), max_bytes)
}

/// `decodeEntry(xml: Uint8Array)`: the entry (JSON text) of an Atom document given as bytes.
#[wasm_bindgen(js_name = decodeEntryBytes)]
pub fn decode_entry_bytes(xml: &[u8], max_bytes: Option<f64>) -> Result<String, Failure> {
    let options = match max_bytes {
        None => DecodeOptions::default(),
        Some(n) => DecodeOptions::with_max_bytes(convert::size("options.maxBytes", n)?),
    };
    Ok(render(&entry::decode(xml, &options)?))
}

/// `sha256Hex(text)`: the SHA-256 of the UTF-8 text, lowercase hex.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(text: &str) -> String {
    wikisync_core::hash::sha256_hex(text)
}

/// The options of `merge`, as documented in `docs/bindings.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeArgs {
    words: Option<bool>,
    diff3: Option<bool>,
    labels: Option<Labels>,
    marker_size: Option<usize>,
}

/// Marker labels: `{ours, base, theirs}` or `[ours, base, theirs]` (the vectors' form).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Labels {
    Named {
        ours: String,
        base: String,
        theirs: String,
    },
    List([String; 3]),
}

/// The result of `merge`.
#[derive(Debug, Serialize)]
struct MergeResult<'a> {
    text: String,
    conflicts: usize,
    clean: bool,
    regions: &'a [Region],
}

/// `merge(base, ours, theirs, options?)`: the three-way merge (JSON text of the result).
#[wasm_bindgen]
pub fn merge(
    base: &str,
    ours: &str,
    theirs: &str,
    options: Option<String>,
) -> Result<String, Failure> {
    let args: MergeArgs = match options {
        Some(json) => parse("options", &json)?,
        None => MergeArgs::default(),
    };
    let diff3 = args.diff3.unwrap_or(false);
    let merged = merge::merge3(
        base,
        ours,
        theirs,
        &MergeOptions::default()
            .with_words(args.words.unwrap_or(true))
            .with_diff3(diff3),
    );
    let [l_ours, l_base, l_theirs] = match args.labels {
        Some(Labels::Named { ours, base, theirs }) => [ours, base, theirs],
        Some(Labels::List(list)) => list,
        None => ["ours".into(), "base".into(), "theirs".into()],
    };
    let mut markers = Markers::labelled(l_ours, l_base, l_theirs).with_diff3(diff3);
    if let Some(size) = args.marker_size {
        markers = markers.with_size(size);
    }
    Ok(render(&MergeResult {
        text: merged.render(&markers),
        conflicts: merged.conflict_count(),
        clean: merged.is_clean(),
        regions: &merged.regions,
    }))
}

/// `newPageState(pageId)`: the sync state of a page never synced (JSON text).
#[wasm_bindgen(js_name = newPageState)]
pub fn new_page_state(page_id: &str) -> Result<String, Failure> {
    Ok(render(&PageState::new(PageId::clean(page_id)?)))
}

/// `handle(config, state, input)`: the decision for one sync input (JSON text in and out).
#[wasm_bindgen]
pub fn handle(config: &str, state: &str, input: &str) -> Result<String, Failure> {
    let config: SiteConfig = parse("config", config)?;
    let state: PageState = parse("state", state)?;
    let input: Input = parse("input", input)?;
    Ok(render(&sync::handle(&config, state, input)))
}

/// `renderConflict(conflict)`: a pending conflict rendered with git-style markers.
#[wasm_bindgen(js_name = renderConflict)]
pub fn render_conflict(conflict: &str) -> Result<String, Failure> {
    Ok(sync::render_conflict(&parse::<PendingConflict>(
        "conflict", conflict,
    )?))
}
