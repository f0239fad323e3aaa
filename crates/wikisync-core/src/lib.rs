//! # wikisync-core
//!
//! The portable sync engine of wikisync: wiki pages as Atom entries, what an incoming
//! notification does to a page, the draft-lock protocol, and three-way merge.
//!
//! ## The contract: sans-IO
//!
//! This crate does **no I/O, reads no clock and draws no random numbers**. The host (the
//! DokuWiki plugin through the PHP extension, a JavaScript CMS through WebAssembly, the
//! `wikisync` CLI, the tests) reads and writes pages, talks to the gateway and passes the time
//! in as `now` ([`time::Timestamp`], Unix seconds). Every function is deterministic: the same
//! inputs give the same outputs on every platform, which is what lets three sites agree on a
//! merge or a lock without talking to each other. It compiles to `wasm32-unknown-unknown`.
//!
//! ## The loop
//!
//! Per page, the host keeps a [`sync::PageState`] (opaque: stored as the core gives it and
//! passed back unread; DokuWiki keeps it in the plugin's own per-page file) and calls one
//! `handle_*` function per event, in the order the events happen, with the time `now`:
//!
//! 1. a local save about to be written → [`sync::check_save`]; written →
//!    [`sync::handle_local_save`]; editor opened / closed → [`sync::handle_editor_opened`] /
//!    [`sync::handle_editor_closed`]; a conflict choice → [`sync::resolve_conflict`];
//! 2. a notification from the gateway → [`entry::decode`] the Atom entry (or
//!    [`entry::decode_feed`] a node's items), then [`sync::handle_notification`];
//! 3. time passing → [`sync::handle_tick`]; the source's node deleted →
//!    [`sync::handle_source_gone`]; handing the source role on → [`sync::announce_source_move`].
//!
//! Each returns a [`sync::Decision`]: one [`sync::Outcome`] (create, update, delete, lock,
//! unlock, merge, conflict, ignore, ...), the new state, and [`sync::Action`]s (publish this
//! entry — [`entry::encode`] it for the wire —, write this page text with this author and
//! summary, lock this page for a remote editor, show this notice, ...). The host **carries out
//! the actions in order, then stores the state**: if an action fails, the old state stays and
//! the input can be given again. [`sync::Input`] with [`sync::handle`] is the same family as
//! one serializable enum.
//!
//! What a host shows comes from the core too: [`sync::notices`] (mirrored from, being edited
//! elsewhere, conflicts), [`sync::PageState::conflict`] for the conflict panel. Namespace
//! changes (become source, mirror, move, retire) are planned by [`sync::plan_setup`].
//!
//! ```
//! use wikisync_core::entry::{self, DecodeOptions, SiteId};
//! use wikisync_core::id::PageId;
//! use wikisync_core::sync::{self, Action, LocalEdit, Outcome, PageState, Role, SiteConfig};
//! use wikisync_core::time::Timestamp;
//!
//! let site_a = SiteConfig::new(SiteId::new("https://a.example/")).rule("doc", Role::peer());
//! let site_b = SiteConfig::new(SiteId::new("https://b.example/")).rule("doc", Role::peer());
//! let page = PageId::clean("doc:Getting Started")?; // DokuWiki's cleanID rules
//! assert_eq!(page.as_str(), "doc:getting_started");
//!
//! // Site A: alice saves the page. The core answers "publish this entry".
//! let edit = LocalEdit::text("====== Getting started ======\r\nHello & welcome.", 1_763_700_000)
//!     .by("alice")
//!     .summary("first version");
//! let saved = sync::handle_local_save(&site_a, PageState::new(page.clone()), edit, Timestamp(1_763_700_000));
//! let Some(Action::Publish { entry: published }) = saved.actions.first() else { unreachable!() };
//!
//! // The wire: an Atom entry, byte-exact for the page text (CR LF, `&`, no final newline).
//! let xml = entry::encode(published);
//! let received = entry::decode(xml.as_bytes(), &DecodeOptions::default())?;
//! assert_eq!(&received, published);
//!
//! // Site B: the notification creates the page, with alice's name and summary.
//! let applied = sync::handle_notification(&site_b, PageState::new(page), None, &received, None, Timestamp(1_763_700_002));
//! assert_eq!(applied.outcome, Outcome::Create);
//! assert!(matches!(&applied.actions[0],
//!     Action::WritePage { text, author, .. }
//!         if text == "====== Getting started ======\r\nHello & welcome." && author.as_deref() == Some("alice")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Modules
//!
//! - [`entry`]: the [`entry::Entry`] model and the Atom codec (the wire profile of
//!   `docs/protocol.md`), with typed [`entry::DecodeError`]s for unsafe or inconsistent input.
//! - [`id`]: [`id::PageId`], DokuWiki page ids cleaned by `cleanID` rules; ids that would escape
//!   the data directory are refused.
//! - [`sync`]: the decisions, roles (source / mirror / peer), the draft-lock protocol, version
//!   vectors (`docs/sync.md`).
//! - [`merge`]: three-way merge with `git merge-file` semantics plus a word-level pass inside
//!   conflicts; conflicts are data ([`merge::Region`]), markers one rendering (`docs/merge.md`).
//! - [`node`]: XMPP node URIs (every spelling old clients send, one canonical form).
//! - [`wire`]: the JSON shapes the PHP and JavaScript bindings share (typed errors, merge
//!   options and report, feed items, the page state as opaque JSON text).
//! - [`hash`], [`time`]: the content hash carried in entries, and timestamps.

pub mod entry;
pub mod hash;
pub mod id;
pub mod merge;
pub mod node;
pub mod sync;
mod tagged;
pub mod time;
pub mod wire;
