//! # wikisync-php
//!
//! The `wikisync` PHP extension: `wikisync-core` as the `WikiSync\` class API of
//! `docs/bindings.md`. Thin: each static method converts its arguments to JSON ([`convert`]),
//! reads them as the core's types with `wikisync_core::wire`, makes one call into the core and
//! converts the result back, or throws the exception class of the error's kind ([`error`]).
//!
//! ```php
//! $id = WikiSync\PageId::clean('Wiki:Start Page');               // "wiki:start_page"
//! $state = WikiSync\Sync::newState($id);                          // opaque JSON text: store it
//! $d = WikiSync\Sync::handle($config, $state, ['type' => 'editorOpened', 'editor' => 'alice'], time());
//! foreach ($d['actions'] as $action) { /* carry out, in order */ }
//! $state = $d['state'];                                           // then store the state
//! try {
//!     WikiSync\Entry::decode($xml);
//! } catch (WikiSync\DecodeException $e) {
//!     error_log($e->getErrorCode());                              // e.g. "hash_mismatch"
//! }
//! ```
#![cfg_attr(windows, feature(abi_vectorcall))]
// PHP names parameters after the Rust ones, and docs/bindings.md names them in camelCase
// (`$maxBytes`, `$pageId`); ext-php-rs re-emits the parameters, so a narrower allow is lost.
#![allow(non_snake_case)]

mod convert;
mod error;

pub use error::Failure;
use ext_php_rs::binary_slice::BinarySlice;
use ext_php_rs::boxed::ZBox;
use ext_php_rs::prelude::*;
use ext_php_rs::types::ZendHashTable;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use wikisync_core::entry::{Entry, SiteId};
use wikisync_core::id::PageId;
use wikisync_core::sync::{
    self, IgnoreReason, NamespaceSetup, Notice, PageState, PublishFailure, SiteConfig,
    SubscriptionReport,
};
use wikisync_core::time::Timestamp;
use wikisync_core::wire::{self, MergeArgs, WireError};
use wikisync_core::{entry, hash, node};

type Text<'a> = BinarySlice<'a, u8>;
type Array = ZBox<ZendHashTable>;

/// Reads the array argument `what` as the core type `T`.
fn arg<T: DeserializeOwned>(what: &str, array: &ZendHashTable) -> Result<T, WireError> {
    wire::from_value(what, convert::from_array(array, what)?)
}

/// Reads the string argument `what` as UTF-8 text.
fn text<'a>(what: &str, bytes: &'a Text<'a>) -> Result<&'a str, WireError> {
    convert::text(bytes, what)
}

fn config(array: &ZendHashTable) -> Result<SiteConfig, WireError> {
    arg("config", array)
}

/// Reads a page state from the JSON text a host stored.
fn state(json: &Text) -> Result<PageState, WireError> {
    wire::state_from_json(text("state", json)?)
}

/// Reads the list of entries argument `entries` (a node's items).
fn entries(array: &ZendHashTable) -> Result<Vec<Entry>, WireError> {
    arg("entries", array)
}

/// Reads and cleans a page id argument.
fn page(raw: &Text) -> Result<PageId, WireError> {
    Ok(PageId::clean(text("pageId", raw)?)?)
}

/// A core value as the PHP array returned.
fn array<T: Serialize>(value: &T) -> Result<Array, Failure> {
    convert::to_array(&wire::to_value(value)).map_err(Failure::Php)
}

/// `WikiSync\PageId`: DokuWiki page ids.
#[php_class]
#[php(name = "WikiSync\\PageId")]
pub struct PageIdClass;

#[php_impl]
impl PageIdClass {
    /// Cleans a raw page id the way DokuWiki's `cleanID` does; an id that tries to escape
    /// (`..`, `/`, an absolute path, a control character) throws `WikiSync\PageIdException`.
    pub fn clean(raw: Text) -> Result<String, Failure> {
        Ok(PageId::clean(text("raw", &raw)?)?.as_str().to_owned())
    }
}

/// `WikiSync\Entry`: the wikisync Atom entry codec.
#[php_class]
#[php(name = "WikiSync\\Entry")]
pub struct EntryClass;

#[php_impl]
impl EntryClass {
    /// Encodes an entry as an Atom entry document.
    pub fn encode(entry: &ZendHashTable) -> Result<String, Failure> {
        Ok(entry::encode(&arg("entry", entry)?))
    }

    /// Decodes an Atom entry document; a refusal throws `WikiSync\DecodeException`.
    /// `$maxBytes` overrides the default size limit.
    pub fn decode(xml: Text, maxBytes: Option<i64>) -> Result<Array, Failure> {
        array(&entry::decode(&xml, &wire::decode_options(maxBytes)?)?)
    }

    /// Decodes an Atom feed into its entries, oldest first, each `{entry, error}` so that one
    /// bad entry does not spoil the others; a feed refused as a whole throws
    /// `WikiSync\DecodeException`.
    pub fn decode_feed(xml: Text, maxBytes: Option<i64>) -> Result<Array, Failure> {
        array(&wire::decode_feed(&xml, &wire::decode_options(maxBytes)?)?)
    }

    /// Checks fetched media bytes (a PHP string is bytes) against the `sha256` and `size` their
    /// entry announced, before the host writes them; bytes that do not match throw
    /// `WikiSync\MediaException` (`size_mismatch`, `hash_mismatch`).
    pub fn verify_media(bytes: Text, sha256: Text, size: i64) -> Result<(), Failure> {
        Ok(wire::verify_media(&bytes, text("sha256", &sha256)?, size)?)
    }

    /// The item id a bare retraction (`Event: RETRACTED`, a standalone `at:deleted-entry`)
    /// names; anything else throws `WikiSync\DecodeException`.
    pub fn decode_retraction(xml: Text) -> Result<String, Failure> {
        Ok(entry::decode_retraction(&xml)?)
    }

    /// What a node's item id names: `['type' => 'page' | 'draft', 'page' => …]` or
    /// `['type' => 'media', 'media' => …]`; null for an item wikisync does not write.
    pub fn item_subject(itemId: Text) -> Result<Option<Array>, Failure> {
        (entry::item_subject(text("itemId", &itemId)?).as_ref())
            .map(array)
            .transpose()
    }
}

/// `WikiSync\Hash`: content hashes.
#[php_class]
#[php(name = "WikiSync\\Hash")]
pub struct HashClass;

#[php_impl]
impl HashClass {
    /// The SHA-256 of a text, as 64 lowercase hex digits (the `ws:sha256` of entries).
    pub fn sha256(text: Text) -> Result<String, Failure> {
        Ok(hash::sha256_hex(self::text("text", &text)?))
    }
}

/// `WikiSync\Merge`: three-way merge.
#[php_class]
#[php(name = "WikiSync\\Merge")]
pub struct MergeClass;

#[php_impl]
impl MergeClass {
    /// Merges `$ours` and `$theirs`, two descendants of `$base`: `text` (conflicts as
    /// git-style markers), `conflicts` (their count), `clean` and `regions`. Options: `words`,
    /// `diff3`, `labels`, `markerSize`; left out, null or `[]`: the defaults.
    pub fn merge(
        base: Text,
        ours: Text,
        theirs: Text,
        options: Option<&ZendHashTable>,
    ) -> Result<Array, Failure> {
        let args = options.map_or(Ok(MergeArgs::default()), |o| arg("options", o))?;
        let (base, ours, theirs) = (
            text("base", &base)?,
            text("ours", &ours)?,
            text("theirs", &theirs)?,
        );
        array(&wire::merge(base, ours, theirs, &args))
    }
}

/// `WikiSync\Sync`: the sync engine for one page. A page state is the JSON text the core
/// gives: store it and pass it back unread.
#[php_class]
#[php(name = "WikiSync\\Sync")]
pub struct SyncClass;

#[php_impl]
impl SyncClass {
    /// The state of a page never synced (the id is cleaned first).
    pub fn new_state(pageId: Text) -> Result<String, Failure> {
        Ok(wire::state_to_json(&wire::new_state(text(
            "pageId", &pageId,
        )?)?))
    }

    /// Runs one input at `$now` (Unix seconds): `outcome`, the new `state` and the `actions`.
    /// Carry out the actions in order, then store the state.
    pub fn handle(
        config: &ZendHashTable,
        state: Text,
        input: &ZendHashTable,
        now: i64,
    ) -> Result<Array, Failure> {
        let (config, state) = (self::config(config)?, self::state(&state)?);
        let d = sync::handle(&config, state, arg("input", input)?, Timestamp(now));
        array(&json!({
            "outcome": wire::to_value(&d.outcome),
            "state": wire::state_to_json(&d.state),
            "actions": wire::to_value(&d.actions),
        }))
    }

    /// The notices to show with the page at `$now` (Unix seconds).
    pub fn notices(config: &ZendHashTable, state: Text, now: i64) -> Result<Array, Failure> {
        let (config, state) = (self::config(config)?, self::state(&state)?);
        array(&sync::notices(&config, &state, Timestamp(now)))
    }

    /// The conflict waiting for the local editor, if any.
    pub fn conflict(state: Text) -> Result<Option<Array>, Failure> {
        self::state(&state)?.conflict().map(array).transpose()
    }

    /// A pending conflict (from `conflict`) as git-style markers labelled with the revisions.
    pub fn render_conflict(conflict: &ZendHashTable) -> Result<String, Failure> {
        Ok(sync::render_conflict(&arg("conflict", conflict)?))
    }

    /// Whether a page whose text here is `$text` (null: no page) still has to be published.
    /// (ext-php-rs makes a trailing nullable parameter optional: callers pass it always.)
    pub fn needs_publish(state: Text, text: Option<Text>) -> Result<bool, Failure> {
        let text = text.as_ref().map(|t| self::text("text", t)).transpose()?;
        Ok(sync::needs_publish(&self::state(&state)?, text))
    }

    /// Whether a media file whose bytes here have the hex SHA-256 `$sha256` (null: no file)
    /// still has to be published. (Optional like `needsPublish`'s text: pass it always.)
    pub fn media_needs_publish(state: Text, sha256: Option<Text>) -> Result<bool, Failure> {
        let sha256 = sha256.as_ref().map(|s| text("sha256", s)).transpose()?;
        Ok(sync::media_needs_publish(&self::state(&state)?, sha256))
    }

    /// A site id in its normal form (an http/https URL: scheme and host lower-cased, default
    /// port dropped, path ending with `/`; anything else trimmed), as the core compares them.
    pub fn site_id(raw: Text) -> Result<String, Failure> {
        Ok(SiteId::new(text("raw", &raw)?).into())
    }

    /// The site a node's items (`$entries`) come from, as far as they say; null for none.
    pub fn source_of_items(entries: &ZendHashTable) -> Result<Option<String>, Failure> {
        Ok(sync::source_of_items(&self::entries(entries)?).map(String::from))
    }

    /// Checks, before a mirror subscribes, that the node's items (`$entries`, a page of them is
    /// enough) come from `$source`; otherwise throws `WikiSync\SetupException`
    /// (`wrong_source`).
    pub fn check_mirror_source(source: Text, entries: &ZendHashTable) -> Result<(), Failure> {
        let source = SiteId::new(text("source", &source)?);
        Ok(sync::check_mirror_source(
            &source,
            &self::entries(entries)?,
        )?)
    }

    /// Whether an administrator should hear of an `ignore` outcome with this reason (e.g.
    /// `notFromSource`), as opposed to the echoes and repeats every site sees.
    pub fn worth_reporting(reason: Text) -> Result<bool, Failure> {
        let reason: IgnoreReason = wire::parse_name("reason", text("reason", &reason)?)?;
        Ok(reason.worth_reporting())
    }

    /// Whether an administrator should hear of a notice (a file over the size limit,
    /// concurrent uploads, a vanished source), beyond the page's readers.
    pub fn notice_worth_reporting(notice: &ZendHashTable) -> Result<bool, Failure> {
        let notice: Notice = arg("notice", notice)?;
        Ok(notice.worth_reporting())
    }

    /// What to do about the subscription of namespace `$namespace` (`renew`, `resubscribe`,
    /// `follow` with its node, `sourceGone`, `wait`, `nothing`) given the site's config (its
    /// lease and source grace) and what the gateway said about it (a `SubscriptionReport`).
    pub fn check_subscription(
        config: &ZendHashTable,
        namespace: Text,
        report: &ZendHashTable,
        now: i64,
    ) -> Result<Array, Failure> {
        let config = self::config(config)?;
        let report: SubscriptionReport = arg("report", report)?;
        array(&sync::check_subscription(
            &config,
            text("namespace", &namespace)?,
            &report,
            Timestamp(now),
        ))
    }

    /// Whether this site tells the gateway it is alive for the namespace (it is its source).
    pub fn sends_heartbeat(config: &ZendHashTable, namespace: Text) -> Result<bool, Failure> {
        Ok(self::config(config)?.sends_heartbeat(text("namespace", &namespace)?))
    }

    /// What to do with an entry the gateway refused with HTTP `$status` (0: no answer):
    /// `retry` or `reject`.
    pub fn publish_failure(status: i64) -> Result<String, Failure> {
        let status = u16::try_from(status).map_err(|_| {
            WireError::invalid_argument(format!("status: {status} is not an HTTP status"))
        })?;
        // A unit variant serializes as its name.
        let failure = wire::to_value(&PublishFailure::from_status(status));
        Ok(failure.as_str().unwrap_or_default().to_owned())
    }

    /// The namespace whose rule covers the page, or null when the page is not synced.
    pub fn namespace_of(config: &ZendHashTable, pageId: Text) -> Result<Option<String>, Failure> {
        let (config, page) = (self::config(config)?, page(&pageId)?);
        Ok(config.namespace_for(&page).map(str::to_owned))
    }

    /// Whether local users may not edit the page here (it is mirrored).
    pub fn is_read_only(config: &ZendHashTable, pageId: Text) -> Result<bool, Failure> {
        Ok(self::config(config)?.is_read_only(&page(&pageId)?))
    }

    /// The steps that turn what this site has for a namespace (`$current`, null: nothing) into
    /// what `$request` asks for; a change that cannot be made throws `WikiSync\SetupException`.
    pub fn plan_setup(
        current: Option<&ZendHashTable>,
        request: &ZendHashTable,
    ) -> Result<Array, Failure> {
        let current: Option<NamespaceSetup> = current.map(|c| arg("current", c)).transpose()?;
        array(&sync::plan_setup(
            current.as_ref(),
            arg("request", request)?,
        )?)
    }
}

/// `WikiSync\Node`: XMPP pubsub node URIs.
#[php_class]
#[php(name = "WikiSync\\Node")]
pub struct NodeClass;

#[php_impl]
impl NodeClass {
    /// Whether two node URIs name the same node, however each is spelled (a string that is
    /// not a node URI names none).
    pub fn same(a: Text, b: Text) -> Result<bool, Failure> {
        Ok(node::same_node(text("a", &a)?, text("b", &b)?))
    }

    /// Where a node is followed: `['gateway' => base URL or null, 'node' => node URI]`, from
    /// a node URI alone (null: the gateway the namespace uses) or another gateway's feed URL;
    /// anything else throws `WikiSync\SetupException` (`bad_node`).
    pub fn follow_target(reference: Text) -> Result<Array, Failure> {
        let target = sync::follow_target(text("ref", &reference)?).map_err(WireError::from)?;
        array(&json!({"gateway": target.gateway(), "node": target.node().to_string()}))
    }

    /// The text naming `$node` on `$gateway` (its feed URL there), or the node URI alone when
    /// `$gateway` is null; throws `WikiSync\SetupException` (`bad_gateway`, `bad_node`).
    pub fn node_ref(gateway: Option<Text>, node: Text) -> Result<String, Failure> {
        let gateway = gateway.as_ref().map(|g| text("gateway", g)).transpose()?;
        Ok(sync::node_ref(gateway, text("node", &node)?).map_err(WireError::from)?)
    }
}

/// The module entry point. ext-php-rs generates undocumented `extern "C"` items next to it,
/// hence the private module and its lint allowances.
#[allow(missing_docs, unreachable_pub)]
mod entry_point {
    use super::*;

    /// The extension: the exception classes (registered at startup, see [`error`]) and the
    /// classes above.
    #[php_module]
    fn get_module(module: ModuleBuilder) -> ModuleBuilder {
        module
            .name("wikisync")
            .startup_function(error::register)
            .class::<PageIdClass>()
            .class::<EntryClass>()
            .class::<HashClass>()
            .class::<MergeClass>()
            .class::<SyncClass>()
            .class::<NodeClass>()
    }
}
