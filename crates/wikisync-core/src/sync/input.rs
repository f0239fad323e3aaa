//! Every input as one serializable enum, for hosts and conformance vectors that prefer one
//! entry point over the `handle_*` family. The time is not part of the input: it is the
//! separate `now` argument of [`handle`], as for every `handle_*` function.

use serde::{Deserialize, Serialize};

use super::action::{
    Change, ConflictChoice, Decision, IgnoreReason, LocalEdit, LocalMediaEdit, Outcome,
};
use super::config::SiteConfig;
use super::state::PageState;
use super::{
    announce_source_move, check_save, handle_editor_closed, handle_editor_opened,
    handle_local_save, handle_media_saved, handle_notification, handle_republish, handle_retracted,
    handle_source_gone, handle_tick, resolve_conflict,
};
use crate::entry::{Entry, SiteId};
use crate::tagged;
use crate::time::Timestamp;

/// One input to the sync engine for one page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Input {
    /// A local save was written; see [`handle_local_save`].
    LocalSave {
        /// The save.
        edit: LocalEdit,
    },
    /// A local save is about to be written; see [`check_save`].
    SaveRequested {
        /// The text to be saved, or the deletion.
        change: Change,
        /// The local user saving.
        editor: Option<String>,
    },
    /// See [`handle_editor_opened`].
    EditorOpened {
        /// The local user.
        editor: String,
    },
    /// See [`handle_editor_closed`].
    EditorClosed {
        /// The local user.
        editor: String,
    },
    /// See [`handle_notification`].
    Notification {
        /// The page's current local text (`None`: no page).
        local_text: Option<String>,
        /// The entry received (boxed: it is much larger than the other inputs).
        entry: Box<Entry>,
        /// The namespace whose subscription delivered the entry, when the host knows it
        /// (DokuWiki: the `ns` of the callback URL): an entry for a page outside it is
        /// ignored ([`IgnoreReason::OutsideNamespace`]).
        namespace: Option<String>,
        /// The entry's publisher as the gateway authenticated it, when it reports one (its
        /// site id, normalized like every [`SiteId`]); `None`: the gateway reports none and
        /// the entry's claimed origin is taken as it is. See [`handle_notification`].
        publisher: Option<SiteId>,
    },
    /// See [`handle_tick`].
    Tick,
    /// See [`handle_source_gone`].
    SourceGone {
        /// The new source, if the deletion named one.
        redirect: Option<SiteId>,
    },
    /// See [`announce_source_move`].
    AnnounceSourceMove {
        /// The site that becomes authoritative.
        new_source: SiteId,
    },
    /// A media file was uploaded, overwritten or deleted here; see [`handle_media_saved`].
    MediaSaved {
        /// The upload or deletion.
        edit: LocalMediaEdit,
    },
    /// The page's item was retracted from its node; see [`handle_retracted`].
    Retracted {
        /// The retracted item's id.
        item: String,
        /// Who retracted it, as the gateway authenticated them, when it reports it; see
        /// [`handle_retracted`].
        publisher: Option<SiteId>,
    },
    /// The namespace moved to another node: publish the current revision there; see
    /// [`handle_republish`].
    Republish,
    /// See [`resolve_conflict`].
    ResolveConflict {
        /// The editor's choice.
        choice: ConflictChoice,
        /// The page's current local text (`None`: no page).
        local_text: Option<String>,
        /// The text in the editor when the choice was made, if the host has it (it replaces
        /// the refused text kept with a conflict from a local save).
        editor_text: Option<String>,
    },
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for Input {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<Input, serde_json::Error> {
            Ok(match tag {
                "localSave" => Input::LocalSave {
                    edit: f.field("edit")?,
                },
                "saveRequested" => Input::SaveRequested {
                    change: f.field("change")?,
                    editor: f.field("editor")?,
                },
                "editorOpened" => Input::EditorOpened {
                    editor: f.field("editor")?,
                },
                "editorClosed" => Input::EditorClosed {
                    editor: f.field("editor")?,
                },
                "notification" => Input::Notification {
                    local_text: f.field("localText")?,
                    entry: f.field("entry")?,
                    namespace: f.field("namespace")?,
                    publisher: f.field("publisher")?,
                },
                "tick" => Input::Tick,
                "sourceGone" => Input::SourceGone {
                    redirect: f.field("redirect")?,
                },
                "announceSourceMove" => Input::AnnounceSourceMove {
                    new_source: f.field("newSource")?,
                },
                "mediaSaved" => Input::MediaSaved {
                    edit: f.field("edit")?,
                },
                "retracted" => Input::Retracted {
                    item: f.field("item")?,
                    publisher: f.field("publisher")?,
                },
                "republish" => Input::Republish,
                "resolveConflict" => Input::ResolveConflict {
                    choice: f.field("choice")?,
                    local_text: f.field("localText")?,
                    editor_text: f.field("editorText")?,
                },
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &[
                            "localSave",
                            "saveRequested",
                            "editorOpened",
                            "editorClosed",
                            "notification",
                            "tick",
                            "sourceGone",
                            "announceSourceMove",
                            "mediaSaved",
                            "retracted",
                            "republish",
                            "resolveConflict",
                        ],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

/// Runs one input through the matching `handle_*` function at time `now`.
pub fn handle(config: &SiteConfig, state: PageState, input: Input, now: Timestamp) -> Decision {
    match input {
        Input::LocalSave { edit } => handle_local_save(config, state, edit, now),
        Input::SaveRequested { change, editor } => {
            check_save(config, state, change, editor.as_deref(), now)
        }
        Input::EditorOpened { editor } => handle_editor_opened(config, state, &editor, now),
        Input::EditorClosed { editor } => handle_editor_closed(config, state, &editor, now),
        Input::Notification {
            local_text,
            entry,
            namespace,
            publisher,
        } => {
            if let Some(ns) = namespace
                && config.namespace_for(&entry.page) != Some(ns.trim_matches(':'))
            {
                let reason = IgnoreReason::OutsideNamespace;
                return Decision {
                    outcome: Outcome::Ignore { reason },
                    state,
                    actions: Vec::new(),
                };
            }
            handle_notification(
                config,
                state,
                local_text.as_deref(),
                &entry,
                publisher.as_ref(),
                now,
            )
        }
        Input::Tick => handle_tick(config, state, now),
        Input::MediaSaved { edit } => handle_media_saved(config, state, edit, now),
        Input::Retracted { item, publisher } => {
            handle_retracted(config, state, &item, publisher.as_ref(), now)
        }
        Input::Republish => handle_republish(config, state, now),
        Input::SourceGone { redirect } => handle_source_gone(config, state, redirect, now),
        Input::AnnounceSourceMove { new_source } => {
            announce_source_move(config, state, &new_source, now)
        }
        Input::ResolveConflict {
            choice,
            local_text,
            editor_text,
        } => resolve_conflict(
            config,
            state,
            choice,
            local_text.as_deref(),
            editor_text,
            now,
        ),
    }
}
