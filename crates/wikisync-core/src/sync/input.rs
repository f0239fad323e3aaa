//! Every input as one serializable enum, for hosts and conformance vectors that prefer one
//! entry point over the `handle_*` family.

use serde::{Deserialize, Serialize};

use super::action::{Decision, LocalEdit};
use super::config::SiteConfig;
use super::state::PageState;
use super::{
    announce_source_move, handle_editor_closed, handle_editor_opened, handle_local_save,
    handle_notification, handle_source_gone, handle_tick,
};
use crate::entry::{Entry, SiteId};
use crate::time::Timestamp;

/// One input to the sync engine for one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Input {
    /// See [`handle_local_save`].
    LocalSave {
        /// The save.
        edit: LocalEdit,
        /// The current time.
        now: Timestamp,
    },
    /// See [`handle_editor_opened`].
    EditorOpened {
        /// The local user.
        editor: String,
        /// The current time.
        now: Timestamp,
    },
    /// See [`handle_editor_closed`].
    EditorClosed {
        /// The local user.
        editor: String,
        /// The current time.
        now: Timestamp,
    },
    /// See [`handle_notification`].
    Notification {
        /// The page's current local text (`None`: no page).
        local_text: Option<String>,
        /// The entry received (boxed: it is much larger than the other inputs).
        entry: Box<Entry>,
        /// The current time.
        now: Timestamp,
    },
    /// See [`handle_tick`].
    Tick {
        /// The current time.
        now: Timestamp,
    },
    /// See [`handle_source_gone`].
    SourceGone {
        /// The new source, if the deletion named one.
        redirect: Option<SiteId>,
        /// The current time.
        now: Timestamp,
    },
    /// See [`announce_source_move`].
    AnnounceSourceMove {
        /// The site that becomes authoritative.
        new_source: SiteId,
        /// The current time.
        now: Timestamp,
    },
}

/// Runs one input through the matching `handle_*` function.
pub fn handle(config: &SiteConfig, state: PageState, input: Input) -> Decision {
    match input {
        Input::LocalSave { edit, now } => handle_local_save(config, state, edit, now),
        Input::EditorOpened { editor, now } => handle_editor_opened(config, state, &editor, now),
        Input::EditorClosed { editor, now } => handle_editor_closed(config, state, &editor, now),
        Input::Notification {
            local_text,
            entry,
            now,
        } => handle_notification(config, state, local_text.as_deref(), &entry, now),
        Input::Tick { now } => handle_tick(config, state, now),
        Input::SourceGone { redirect, now } => handle_source_gone(config, state, redirect, now),
        Input::AnnounceSourceMove { new_source, now } => {
            announce_source_move(config, state, &new_source, now)
        }
    }
}
