//! The sync engine: what a local save, an editor opening or closing, an incoming
//! notification, a tick or a vanished source does to one page. Sans-IO: every input is a pure
//! function `handle_*(config, state, ..., now) -> Decision`; the host stores the new
//! [`PageState`] and carries out the [`Action`]s in order. See `docs/sync.md` for the state
//! machine, the decision table, the lock protocol and the convergence argument.
//!
//! The whole loop, site A saves and site B applies:
//!
//! ```
//! use wikisync_core::entry::SiteId;
//! use wikisync_core::id::PageId;
//! use wikisync_core::sync::*;
//! use wikisync_core::time::Timestamp;
//!
//! let a = SiteConfig::new(SiteId::new("https://a.example/")).rule("", Role::peer());
//! let b = SiteConfig::new(SiteId::new("https://b.example/")).rule("", Role::peer());
//! let page = PageId::clean("wiki:start").unwrap();
//!
//! // Site A: a user saves the page.
//! let edit = LocalEdit::text("Hello\n", 1_700_000_000).by("alice").summary("first");
//! let saved = handle_local_save(&a, PageState::new(page.clone()), edit, Timestamp(1_700_000_000));
//! assert_eq!(saved.outcome, Outcome::Publish);
//! let Some(Action::Publish { entry }) = saved.actions.first() else { panic!() };
//!
//! // Site B: the notification arrives; B writes the page.
//! let applied = handle_notification(&b, PageState::new(page), None, entry, None, Timestamp(1_700_000_005));
//! assert_eq!(applied.outcome, Outcome::Create);
//! assert!(matches!(&applied.actions[0], Action::WritePage { text, .. } if text == "Hello\n"));
//!
//! // The same notification again changes nothing.
//! let again = handle_notification(&b, applied.state.clone(), Some("Hello\n"), entry, None, Timestamp(1_700_000_006));
//! assert_eq!(again.outcome, Outcome::Ignore { reason: IgnoreReason::Duplicate });
//! assert_eq!(again.state, applied.state);
//! ```

mod action;
mod config;
mod engine;
mod input;
mod lock;
mod media;
mod notices;
mod outbox;
mod publish;
mod setup;
mod state;
mod subscription;
mod version_vector;

pub use action::{
    Action, Change, ConflictChoice, Decision, IgnoreReason, LocalEdit, LocalMediaEdit, MediaChange,
    Notice, Outcome, RefuseReason,
};
pub use config::{
    DEFAULT_LEASE_SECONDS, DEFAULT_LOCK_SECONDS, DEFAULT_MEDIA_INLINE_MAX, DEFAULT_MEDIA_MAX,
    DEFAULT_SOURCE_GRACE_SECONDS, GonePolicy, NamespaceRule, Role, SiteConfig,
};
pub use engine::{
    announce_source_move, check_save, handle_local_save, handle_notification, handle_republish,
    handle_retracted, handle_source_gone, render_conflict, resolve_conflict,
};
pub use input::{Input, handle};
pub use lock::{handle_editor_closed, handle_editor_opened, handle_tick};
pub use media::{handle_media_saved, media_needs_publish};
pub use notices::{REPORT_NOTICE_SECONDS, notices};
pub use outbox::{PublishFailure, needs_publish};
pub use setup::{
    NamespaceSetup, SetupError, SetupRequest, SetupStep, check_mirror_source, follow_target,
    node_ref, plan_setup, source_of_items,
};
pub use state::{
    ConflictOrigin, ConflictReport, HISTORY_LEN, LockState, MediaVersion, PageState,
    PendingConflict, Releases, Snapshot,
};
pub use subscription::{DropReason, SubscriptionReport, SubscriptionStep, check_subscription};
pub use version_vector::{Causality, VersionVector};
