//! # wikisync-js
//!
//! The WebAssembly binding of `wikisync-core`, published as the npm package `wikisync` (ES
//! module for Node ≥ 18 and browsers, with TypeScript types). Thin: each export reads its
//! arguments as the core's JSON shapes ([`wikisync_core::wire`]), makes one call into the core
//! and returns the result as JSON text, or throws a [`Failure`] made from the core's
//! `WireError`. The API is the one in `docs/bindings.md`, shared with the PHP binding.
//!
//! These raw exports take and return JSON text; the package's JS shim (`js/index.js`) is what
//! users call: it passes plain objects through `JSON.stringify`/`JSON.parse`, wraps
//! [`PageState`] in its JS class and turns thrown failures into `WikiSyncError` subclasses.
//! Built by `scripts/build-wasm`.
//!
//! A page state stays inside WebAssembly: [`handle`] replaces it in its [`PageState`] object,
//! so a call never parses, copies or serializes the page's history.
//!
//! ```
//! use wikisync_js::{PageState, handle, new_page_state};
//! let config = r#"{"site": "https://a.example/", "rules": [{"namespace": "", "role": {"type": "peer"}}],
//!                  "lockSeconds": 900, "mediaType": "text/x-dokuwiki"}"#;
//! let mut state: PageState = new_page_state("Wiki:Start").expect("a valid id");
//! let answer = handle(config, &mut state, r#"{"type": "editorOpened", "editor": "alice"}"#, 1.7e12)
//!     .expect("well-formed arguments");
//! assert!(answer.starts_with(r#"{"outcome":{"type":"lock"}"#));
//! assert!(state.to_json().contains(r#""lock":{"type":"awaitingLocalSave""#));
//! ```

pub mod convert;
pub mod error;

use serde::Serialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wikisync_core::entry::{self, Entry, SiteId};
use wikisync_core::id::PageId;
use wikisync_core::sync::{
    self, Action, IgnoreReason, Input, NamespaceSetup, Notice, Outcome, PendingConflict,
    PublishFailure, SetupRequest, SiteConfig, SubscriptionReport,
};
use wikisync_core::wire::{self, MergeArgs};

pub use crate::error::Failure;

/// `cleanPageId(raw)`: the page id cleaned by DokuWiki's `cleanID` rules.
#[wasm_bindgen(js_name = cleanPageId)]
pub fn clean_page_id(raw: &str) -> Result<String, Failure> {
    Ok(PageId::clean(raw)?.into())
}

/// `encodeEntry(entry)`: the Atom XML of an entry.
#[wasm_bindgen(js_name = encodeEntry)]
pub fn encode_entry(entry: &str) -> Result<String, Failure> {
    Ok(entry::encode(&wire::parse::<Entry>("entry", entry)?))
}

/// `decodeEntry(xml: string, options?)`: the entry of an Atom document.
#[wasm_bindgen(js_name = decodeEntryText)]
pub fn decode_entry_text(xml: &str, max_bytes: Option<f64>) -> Result<String, Failure> {
    decode_entry_bytes(xml.as_bytes(), max_bytes)
}

/// `decodeEntry(xml: Uint8Array, options?)`: the entry of an Atom document given as bytes.
#[wasm_bindgen(js_name = decodeEntryBytes)]
pub fn decode_entry_bytes(xml: &[u8], max_bytes: Option<f64>) -> Result<String, Failure> {
    let options = convert::decode_options(max_bytes)?;
    Ok(wire::to_json(&entry::decode(xml, &options)?))
}

/// `decodeFeed(xml: string, options?)`: one item per entry of a feed, oldest first.
#[wasm_bindgen(js_name = decodeFeedText)]
pub fn decode_feed_text(xml: &str, max_bytes: Option<f64>) -> Result<String, Failure> {
    decode_feed_bytes(xml.as_bytes(), max_bytes)
}

/// `decodeFeed(xml: Uint8Array, options?)`: [`decode_feed_text`] for bytes.
#[wasm_bindgen(js_name = decodeFeedBytes)]
pub fn decode_feed_bytes(xml: &[u8], max_bytes: Option<f64>) -> Result<String, Failure> {
    let options = convert::decode_options(max_bytes)?;
    Ok(wire::to_json(&wire::decode_feed(xml, &options)?))
}

/// `sha256Hex(text)`: the SHA-256 of the UTF-8 text, lowercase hex.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(text: &str) -> String {
    wikisync_core::hash::sha256_hex(text)
}

/// `sha256HexBytes(bytes)`: the SHA-256 of bytes, lowercase hex (a media file's `sha256`).
#[wasm_bindgen(js_name = sha256HexBytes)]
pub fn sha256_hex_bytes(bytes: &[u8]) -> String {
    wikisync_core::hash::sha256_hex_bytes(bytes)
}

/// `verifyMedia(bytes, sha256, size)`: checks fetched media bytes against what their entry
/// announced, before the host writes them.
#[wasm_bindgen(js_name = verifyMedia)]
pub fn verify_media(bytes: &[u8], sha256: &str, size: f64) -> Result<(), Failure> {
    Ok(wire::verify_media(
        bytes,
        sha256,
        convert::integer("size", size)?,
    )?)
}

/// `itemSubject(itemId)`: what a node's item id names (JSON; `null` for another item).
#[wasm_bindgen(js_name = itemSubject)]
pub fn item_subject(item_id: &str) -> String {
    wire::to_json(&entry::item_subject(item_id))
}

/// `normalizeSiteId(raw)`: a site id in the normal form the core compares.
#[wasm_bindgen(js_name = normalizeSiteId)]
pub fn normalize_site_id(raw: &str) -> String {
    SiteId::new(raw).into()
}

/// `merge(base, ours, theirs, options?)`: the three-way merge.
#[wasm_bindgen]
pub fn merge(
    base: &str,
    ours: &str,
    theirs: &str,
    options: Option<String>,
) -> Result<String, Failure> {
    let args: MergeArgs = match options {
        Some(json) => wire::parse("options", &json)?,
        None => MergeArgs::default(),
    };
    Ok(wire::to_json(&wire::merge(base, ours, theirs, &args)))
}

/// A page's sync state, kept inside WebAssembly between calls: hosts store it
/// (`toJSON`/`fromJSON`) and pass it back unread. The JS shim wraps it in its `PageState`
/// class.
#[wasm_bindgen]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageState(sync::PageState);

#[wasm_bindgen]
impl PageState {
    /// `PageState.fromJSON(json)`: the state `toJSON` gave (also in earlier versions' form).
    #[wasm_bindgen(js_name = fromJSON)]
    pub fn from_json(json: &str) -> Result<PageState, Failure> {
        Ok(PageState(wire::state_from_json(json)?))
    }

    /// `state.toJSON()`: the JSON text to store.
    #[wasm_bindgen(js_name = toJSON)]
    pub fn to_json(&self) -> String {
        wire::state_to_json(&self.0)
    }

    /// `state.page`: the page id.
    #[wasm_bindgen(getter)]
    pub fn page(&self) -> String {
        self.0.page().as_str().to_owned()
    }

    /// `state.conflict`: the pending conflict (JSON), if any.
    #[wasm_bindgen(getter)]
    pub fn conflict(&self) -> Option<String> {
        self.0.conflict().map(wire::to_json)
    }
}

/// `newPageState(pageId)`: the state of a page never synced.
#[wasm_bindgen(js_name = newPageState)]
pub fn new_page_state(page_id: &str) -> Result<PageState, Failure> {
    Ok(PageState(wire::new_state(page_id)?))
}

/// A decision without its state, which stays in the [`PageState`] object.
#[derive(Serialize)]
struct Answer<'a> {
    outcome: &'a Outcome,
    actions: &'a [Action],
}

/// `handle(config, state, input, now)`: runs one input at `now` (Unix milliseconds). The new
/// state replaces the old one inside `state`; the outcome and actions are returned. When an
/// argument is refused, `state` is left as it was.
#[wasm_bindgen]
pub fn handle(
    config: &str,
    state: &mut PageState,
    input: &str,
    now: f64,
) -> Result<String, Failure> {
    let config: SiteConfig = wire::parse("config", config)?;
    let input: Input = wire::parse("input", input)?;
    let now = wire::timestamp_from_millis(now)?;
    // Every argument is read, nothing fails from here on: take the state out and put the new
    // one in its place (the page id is a cheap stand-in while the core runs).
    let blank = sync::PageState::new(state.0.page().clone());
    let decision = sync::handle(&config, std::mem::replace(&mut state.0, blank), input, now);
    state.0 = decision.state;
    Ok(wire::to_json(&Answer {
        outcome: &decision.outcome,
        actions: &decision.actions,
    }))
}

/// `notices(config, state, now)`: what to show with the page at `now` (Unix milliseconds).
#[wasm_bindgen]
pub fn notices(config: &str, state: &PageState, now: f64) -> Result<String, Failure> {
    let config: SiteConfig = wire::parse("config", config)?;
    let now = wire::timestamp_from_millis(now)?;
    Ok(wire::to_json(&sync::notices(&config, &state.0, now)))
}

/// `renderConflict(conflict)`: a pending conflict rendered with git-style markers.
#[wasm_bindgen(js_name = renderConflict)]
pub fn render_conflict(conflict: &str) -> Result<String, Failure> {
    let conflict: PendingConflict = wire::parse("conflict", conflict)?;
    Ok(sync::render_conflict(&conflict))
}

/// `needsPublish(state, text)`: whether the page (`None`: no page) still has to be published.
#[wasm_bindgen(js_name = needsPublish)]
pub fn needs_publish(state: &PageState, text: Option<String>) -> bool {
    sync::needs_publish(&state.0, text.as_deref())
}

/// `mediaNeedsPublish(state, sha256)`: whether the media file whose bytes here have this
/// SHA-256 (`None`: no file) still has to be published.
#[wasm_bindgen(js_name = mediaNeedsPublish)]
pub fn media_needs_publish(state: &PageState, sha256: Option<String>) -> bool {
    sync::media_needs_publish(&state.0, sha256.as_deref())
}

/// `publishFailure(status)`: `"retry"` or `"reject"` (JSON) for a refused publish.
#[wasm_bindgen(js_name = publishFailure)]
pub fn publish_failure(status: f64) -> Result<String, Failure> {
    let status = convert::integer("status", status)?;
    let status = u16::try_from(status).map_err(|_| {
        wire::WireError::invalid_argument(format!("status: {status} is not an HTTP status"))
    })?;
    Ok(wire::to_json(&PublishFailure::from_status(status)))
}

/// `namespaceOf(config, pageId)`: the namespace whose rule covers the page, if any.
#[wasm_bindgen(js_name = namespaceOf)]
pub fn namespace_of(config: &str, page_id: &str) -> Result<Option<String>, Failure> {
    let config: SiteConfig = wire::parse("config", config)?;
    Ok(config
        .namespace_for(&PageId::clean(page_id)?)
        .map(str::to_owned))
}

/// `isReadOnly(config, pageId)`: whether local users may not edit the page (a mirror).
#[wasm_bindgen(js_name = isReadOnly)]
pub fn is_read_only(config: &str, page_id: &str) -> Result<bool, Failure> {
    let config: SiteConfig = wire::parse("config", config)?;
    Ok(config.is_read_only(&PageId::clean(page_id)?))
}

/// `planSetup(current, request)`: the steps of a namespace change (`current` may be `null`).
#[wasm_bindgen(js_name = planSetup)]
pub fn plan_setup(current: &str, request: &str) -> Result<String, Failure> {
    let current: Option<NamespaceSetup> = wire::parse("current", current)?;
    let request: SetupRequest = wire::parse("request", request)?;
    Ok(wire::to_json(&sync::plan_setup(current.as_ref(), request)?))
}

/// `sourceOfItems(entries)`: the site a node's items come from, if they say.
#[wasm_bindgen(js_name = sourceOfItems)]
pub fn source_of_items(entries: &str) -> Result<Option<String>, Failure> {
    let entries: Vec<Entry> = wire::parse("entries", entries)?;
    Ok(sync::source_of_items(&entries).map(String::from))
}

/// `checkMirrorSource(source, entries)`: refuses (`wrong_source`) a node whose items come from
/// another site than the mirror's source.
#[wasm_bindgen(js_name = checkMirrorSource)]
pub fn check_mirror_source(source: &str, entries: &str) -> Result<(), Failure> {
    let entries: Vec<Entry> = wire::parse("entries", entries)?;
    Ok(sync::check_mirror_source(&SiteId::new(source), &entries)?)
}

/// `worthReporting(reason)`: whether an administrator should hear of this ignore reason.
#[wasm_bindgen(js_name = worthReporting)]
pub fn worth_reporting(reason: &str) -> Result<bool, Failure> {
    let reason: IgnoreReason = wire::parse_name("reason", reason)?;
    Ok(reason.worth_reporting())
}

/// `noticeWorthReporting(notice)`: whether an administrator should hear of a notice.
#[wasm_bindgen(js_name = noticeWorthReporting)]
pub fn notice_worth_reporting(notice: &str) -> Result<bool, Failure> {
    let notice: Notice = wire::parse("notice", notice)?;
    Ok(notice.worth_reporting())
}

/// `checkSubscription(config, namespace, report, now)`: what to do about a subscription (JSON).
#[wasm_bindgen(js_name = checkSubscription)]
pub fn check_subscription(
    config: &str,
    namespace: &str,
    report: &str,
    now: f64,
) -> Result<String, Failure> {
    let config: SiteConfig = wire::parse("config", config)?;
    let report: SubscriptionReport = wire::parse("report", report)?;
    let now = wire::timestamp_from_millis(now)?;
    Ok(wire::to_json(&sync::check_subscription(
        &config, namespace, &report, now,
    )))
}

/// `sendsHeartbeat(config, namespace)`: whether this site tells the gateway it is alive.
#[wasm_bindgen(js_name = sendsHeartbeat)]
pub fn sends_heartbeat(config: &str, namespace: &str) -> Result<bool, Failure> {
    let config: SiteConfig = wire::parse("config", config)?;
    Ok(config.sends_heartbeat(namespace))
}

/// `decodeRetraction(xml)`: the item id a bare retraction names.
#[wasm_bindgen(js_name = decodeRetraction)]
pub fn decode_retraction(xml: &str) -> Result<String, Failure> {
    Ok(entry::decode_retraction(xml.as_bytes())?)
}

/// `sameNode(a, b)`: whether two node URIs name the same node.
#[wasm_bindgen(js_name = sameNode)]
pub fn same_node(a: &str, b: &str) -> bool {
    wikisync_core::node::same_node(a, b)
}

/// `followTarget(ref)`: `{gateway, node}` (JSON) for a node URI alone (`gateway` null) or
/// another gateway's feed URL; `SetupError` (`bad_node`) for anything else.
#[wasm_bindgen(js_name = followTarget)]
pub fn follow_target(reference: &str) -> Result<String, Failure> {
    let target = sync::follow_target(reference).map_err(wire::WireError::from)?;
    Ok(
        serde_json::json!({"gateway": target.gateway(), "node": target.node().to_string()})
            .to_string(),
    )
}

/// `nodeRef(gateway, node)`: the feed URL of `node` on `gateway`, or the node URI alone.
#[wasm_bindgen(js_name = nodeRef)]
pub fn node_ref(gateway: Option<String>, node: &str) -> Result<String, Failure> {
    Ok(sync::node_ref(gateway.as_deref(), node).map_err(wire::WireError::from)?)
}
