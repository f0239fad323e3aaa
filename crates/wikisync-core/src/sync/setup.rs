//! Changing what a site does for a namespace: becoming its source (also taking over from the
//! source it mirrored), mirroring or sharing it, handing the source role on, retiring it. The
//! core answers with the steps to carry out in order; the host runs them against the gateway
//! and its own rule table, and decides nothing.
//!
//! ```
//! use wikisync_core::sync::{NamespaceSetup, Role, SetupRequest, SetupStep, plan_setup};
//!
//! // A mirror becomes the source: it stops receiving and keeps publishing to the same node,
//! // so the other mirrors follow without changing anything.
//! let node = "xmpp:pubsub.example.org?;node=doc".to_owned();
//! let mirror = NamespaceSetup {
//!     role: Role::Mirror { source: "https://a.example/".into(), when_gone: Default::default() },
//!     node: Some(node.clone()),
//!     subscribed: true,
//! };
//! let steps = plan_setup(Some(&mirror), SetupRequest::Source { node: None })?;
//! assert_eq!(steps, vec![
//!     SetupStep::Unsubscribe { node: node.clone() },
//!     SetupStep::UseNode { node },
//!     SetupStep::SetRole { role: Role::Source, read_only: false },
//! ]);
//! # Ok::<(), wikisync_core::sync::SetupError>(())
//! ```

use serde::{Deserialize, Serialize};

use super::config::{GonePolicy, Role};
use crate::entry::{Entry, SiteId};
use crate::node::{NodeUri, UriError, same_node};
use crate::tagged;

/// What this site has for a namespace now (the host's record of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSetup {
    /// This site's role for the namespace.
    pub role: Role,
    /// The node the namespace is published to or received from, if one is recorded.
    pub node: Option<String>,
    /// Whether this site's callback is subscribed to the node (a mirror or peer whose
    /// subscription was accepted).
    pub subscribed: bool,
}

/// What the administrator asks for a namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SetupRequest {
    /// Publish the namespace from here, to `node` or (without one) to the node already
    /// recorded, else to a node created on the gateway.
    Source {
        /// The node to publish to.
        node: Option<String>,
    },
    /// Mirror the namespace `source` publishes on `node`.
    Mirror {
        /// The source's node.
        node: String,
        /// The source site.
        source: SiteId,
        /// What to do with the pages when the source goes away (left out: the default).
        when_gone: GonePolicy,
    },
    /// Edit the namespace together with other sites on `node` (or, for the first peer, on a
    /// node created on the gateway).
    Peer {
        /// The peers' node.
        node: Option<String>,
    },
    /// Hand the source role to `new_source`: this site becomes its mirror on the same node.
    MoveSource {
        /// The site that becomes the source.
        new_source: SiteId,
    },
    /// Stop publishing a source namespace and delete its node (mirrors apply their keep or
    /// delete policy).
    Retire,
    /// Stop syncing the namespace; its pages stay.
    Remove,
    /// The node was deleted with a redirect to `node` (the source moved, maybe to another
    /// gateway or service): a mirror or peer follows it there. `source` is the site the new
    /// node's items come from ([`source_of_items`]), when they say.
    Follow {
        /// The node to follow.
        node: String,
        /// The site publishing there, if known.
        source: Option<SiteId>,
    },
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for SetupRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut tagged::Fields) -> Result<SetupRequest, serde_json::Error> {
            Ok(match tag {
                "source" => SetupRequest::Source {
                    node: f.field("node")?,
                },
                "mirror" => SetupRequest::Mirror {
                    node: f.field("node")?,
                    source: f.field("source")?,
                    when_gone: f.field_or_default("whenGone")?,
                },
                "peer" => SetupRequest::Peer {
                    node: f.field("node")?,
                },
                "moveSource" => SetupRequest::MoveSource {
                    new_source: f.field("newSource")?,
                },
                "retire" => SetupRequest::Retire,
                "remove" => SetupRequest::Remove,
                "follow" => SetupRequest::Follow {
                    node: f.field("node")?,
                    source: f.field("source")?,
                },
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &[
                            "source",
                            "mirror",
                            "peer",
                            "moveSource",
                            "retire",
                            "remove",
                            "follow",
                        ],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

/// One step of a namespace change, for the host to carry out in order. Steps after a
/// [`SetupStep::CreateNode`] or [`SetupStep::UseNode`] act on that node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SetupStep {
    /// Read the first page of the node's items and ask [`check_mirror_source`] whether they
    /// come from `source`; stop with its error if not.
    CheckSource {
        /// The source given.
        source: SiteId,
    },
    /// Unsubscribe this site's callback from `node` (stop receiving from it).
    Unsubscribe {
        /// The node.
        node: String,
    },
    /// Create a node on the gateway and use it.
    CreateNode,
    /// Use `node` for the namespace.
    UseNode {
        /// The node.
        node: String,
    },
    /// Record this site's role for the namespace, with the node in use.
    SetRole {
        /// The role.
        role: Role,
        /// Whether local users may not edit the namespace's pages (a mirror). Hosts keep it
        /// to enforce read-only pages even when they cannot ask the core (see
        /// [`crate::sync::SiteConfig::is_read_only`]).
        read_only: bool,
    },
    /// Subscribe this site's callback to the node in use.
    Subscribe,
    /// Give every page of the namespace the input `announceSourceMove` with `new_source`,
    /// then send the queue, so that mirrors learn of the move before this site stops being
    /// the source.
    AnnounceSourceMove {
        /// The new source.
        new_source: SiteId,
    },
    /// Delete the node in use.
    DeleteNode,
    /// Forget the namespace's rule (the pages stay).
    ForgetRule,
    /// Give every page of the namespace the input `sourceGone` with `redirect` = `source`, so
    /// that pages following an earlier source follow this one.
    FollowSource {
        /// The source to follow.
        source: SiteId,
    },
    /// Fetch the node's items and apply them (first sync).
    FirstSync,
}

/// Why a namespace change cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The namespace is not synced here: there is nothing to remove.
    #[error("the namespace is not synced here")]
    NotSynced,
    /// Only the namespace's source can hand the role on or retire it.
    #[error("this site is not the source of the namespace")]
    NotSource,
    /// The node given is not an XMPP node URI (`xmpp:<service>?;node=<id>`).
    #[error("the node is not an XMPP node URI (xmpp:<service>?;node=<id>): {0}")]
    BadNode(UriError),
    /// The node's items come from another site than the source given: the mirror would ignore
    /// every page (`notFromSource`).
    #[error("the node's pages come from {carries}, not from {expected}")]
    WrongSource {
        /// The source given.
        expected: SiteId,
        /// The site the node's items come from.
        carries: SiteId,
    },
    /// Only a mirror or a peer follows a node elsewhere.
    #[error("only a mirror or a peer follows its node to another one")]
    NotFollowing,
}

impl SetupError {
    /// A stable snake_case code: `not_synced`, `not_source`, `bad_node`, `wrong_source`,
    /// `not_following`.
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::NotSynced => "not_synced",
            SetupError::NotSource => "not_source",
            SetupError::BadNode(_) => "bad_node",
            SetupError::WrongSource { .. } => "wrong_source",
            SetupError::NotFollowing => "not_following",
        }
    }
}

/// The site a node's items come from, as far as they say: the `ws:source` most of them name,
/// else the site that made most of their revisions. `None` for a node without items.
///
/// ```
/// use wikisync_core::entry::{Entry, SiteId};
/// use wikisync_core::sync::source_of_items;
/// assert_eq!(source_of_items(&[]), None);
/// ```
pub fn source_of_items(entries: &[Entry]) -> Option<SiteId> {
    let most = |sites: Vec<&SiteId>| -> Option<SiteId> {
        let mut counts: std::collections::BTreeMap<&SiteId, usize> = Default::default();
        for site in sites {
            *counts.entry(site).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(site, _)| site.clone())
    };
    let declared: Vec<&SiteId> = entries.iter().filter_map(|e| e.source.as_ref()).collect();
    if declared.is_empty() {
        most(entries.iter().map(|e| &e.revision.site).collect())
    } else {
        most(declared)
    }
}

/// The check a mirror makes before subscribing to `node`: do the node's items (`entries`, a
/// page of them is enough) come from `source`? An empty node passes.
pub fn check_mirror_source(source: &SiteId, entries: &[Entry]) -> Result<(), SetupError> {
    match source_of_items(entries) {
        Some(carries) if carries != *source => Err(SetupError::WrongSource {
            expected: source.clone(),
            carries,
        }),
        _ => Ok(()),
    }
}

fn set_role(role: Role) -> SetupStep {
    let read_only = matches!(role, Role::Mirror { .. });
    SetupStep::SetRole { role, read_only }
}

fn checked(node: &str) -> Result<String, SetupError> {
    NodeUri::parse(node.trim()).map_err(SetupError::BadNode)?;
    Ok(node.trim().to_owned())
}

/// The steps that turn `current` (what this site has for the namespace, `None`: nothing)
/// into what `request` asks for.
pub fn plan_setup(
    current: Option<&NamespaceSetup>,
    request: SetupRequest,
) -> Result<Vec<SetupStep>, SetupError> {
    let recorded = current.and_then(|c| c.node.clone());
    let mut steps = Vec::new();
    // Stop receiving from a node this site no longer follows as a mirror or peer.
    let leave = |steps: &mut Vec<SetupStep>, keep: Option<&str>| {
        if let Some(NamespaceSetup {
            node: Some(node),
            subscribed: true,
            ..
        }) = current
            && keep.is_none_or(|k| !same_node(k, node))
        {
            steps.push(SetupStep::Unsubscribe { node: node.clone() });
        }
    };
    let use_node = |steps: &mut Vec<SetupStep>, node: Option<String>| {
        steps.push(match node {
            Some(node) => SetupStep::UseNode { node },
            None => SetupStep::CreateNode,
        });
    };
    match request {
        SetupRequest::Source { node } => {
            let node = node.as_deref().map(checked).transpose()?;
            leave(&mut steps, None);
            use_node(&mut steps, node.or(recorded));
            steps.push(set_role(Role::Source));
        }
        SetupRequest::Mirror {
            node,
            source,
            when_gone,
        } => {
            let node = checked(&node)?;
            leave(&mut steps, Some(&node));
            steps.push(SetupStep::UseNode { node });
            steps.push(SetupStep::CheckSource {
                source: source.clone(),
            });
            steps.push(set_role(Role::Mirror { source, when_gone }));
            steps.push(SetupStep::Subscribe);
            steps.push(SetupStep::FirstSync);
        }
        SetupRequest::Peer { node } => {
            let node = node.as_deref().map(checked).transpose()?;
            leave(&mut steps, node.as_deref());
            let joins = node.is_some();
            use_node(&mut steps, node);
            steps.push(set_role(Role::Peer));
            steps.push(SetupStep::Subscribe);
            if joins {
                steps.push(SetupStep::FirstSync);
            }
        }
        SetupRequest::MoveSource { new_source } => match (current, recorded) {
            (
                Some(NamespaceSetup {
                    role: Role::Source, ..
                }),
                Some(node),
            ) => {
                steps.push(SetupStep::AnnounceSourceMove {
                    new_source: new_source.clone(),
                });
                steps.push(SetupStep::UseNode { node });
                steps.push(set_role(Role::Mirror {
                    source: new_source,
                    when_gone: GonePolicy::Keep,
                }));
                steps.push(SetupStep::Subscribe);
            }
            _ => return Err(SetupError::NotSource),
        },
        SetupRequest::Retire => match (current, recorded) {
            (
                Some(NamespaceSetup {
                    role: Role::Source, ..
                }),
                Some(node),
            ) => {
                steps.push(SetupStep::UseNode { node });
                steps.push(SetupStep::DeleteNode);
                steps.push(SetupStep::ForgetRule);
            }
            _ => return Err(SetupError::NotSource),
        },
        SetupRequest::Remove => {
            if current.is_none() {
                return Err(SetupError::NotSynced);
            }
            leave(&mut steps, None);
            steps.push(SetupStep::ForgetRule);
        }
        SetupRequest::Follow { node, source } => {
            let node = checked(&node)?;
            let role = match current.map(|c| &c.role) {
                Some(Role::Mirror {
                    source: old,
                    when_gone,
                }) => {
                    let new = source.unwrap_or_else(|| old.clone());
                    if new != *old {
                        steps.push(SetupStep::FollowSource {
                            source: new.clone(),
                        });
                    }
                    Role::Mirror {
                        source: new,
                        when_gone: *when_gone,
                    }
                }
                Some(Role::Peer) => Role::Peer,
                _ => return Err(SetupError::NotFollowing),
            };
            let mut plan = Vec::new();
            leave(&mut plan, Some(&node));
            plan.push(SetupStep::UseNode { node });
            plan.push(set_role(role));
            plan.push(SetupStep::Subscribe);
            plan.append(&mut steps);
            plan.push(SetupStep::FirstSync);
            steps = plan;
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: &str = "xmpp:pubsub.example.org?;node=doc";

    fn setup(role: Role, subscribed: bool) -> NamespaceSetup {
        NamespaceSetup {
            role,
            node: Some(NODE.to_owned()),
            subscribed,
        }
    }

    fn mirror_of(source: &str) -> Role {
        Role::Mirror {
            source: SiteId::new(source),
            when_gone: GonePolicy::Keep,
        }
    }

    #[test]
    fn a_new_source_creates_its_node_unless_one_is_given() {
        assert_eq!(
            plan_setup(None, SetupRequest::Source { node: None }),
            Ok(vec![SetupStep::CreateNode, set_role(Role::Source)])
        );
        let given = plan_setup(
            None,
            SetupRequest::Source {
                node: Some(NODE.into()),
            },
        );
        assert_eq!(
            given.as_ref().map(|s| s[0].clone()),
            Ok(SetupStep::UseNode { node: NODE.into() })
        );
        assert!(matches!(
            plan_setup(
                None,
                SetupRequest::Source {
                    node: Some("http://x".into())
                }
            ),
            Err(SetupError::BadNode(_))
        ));
    }

    #[test]
    fn only_a_source_moves_or_retires() {
        let mirror = setup(mirror_of("a"), true);
        for request in [
            SetupRequest::Retire,
            SetupRequest::MoveSource {
                new_source: SiteId::new("b"),
            },
        ] {
            assert_eq!(
                plan_setup(Some(&mirror), request.clone()),
                Err(SetupError::NotSource)
            );
            assert_eq!(plan_setup(None, request), Err(SetupError::NotSource));
        }
        let source = setup(Role::Source, false);
        assert_eq!(
            plan_setup(
                Some(&source),
                SetupRequest::MoveSource {
                    new_source: SiteId::new("b")
                }
            ),
            Ok(vec![
                SetupStep::AnnounceSourceMove {
                    new_source: SiteId::new("b")
                },
                SetupStep::UseNode { node: NODE.into() },
                set_role(mirror_of("b")),
                SetupStep::Subscribe,
            ])
        );
    }

    #[test]
    fn removing_unsubscribes_only_what_is_subscribed() {
        assert_eq!(
            plan_setup(None, SetupRequest::Remove),
            Err(SetupError::NotSynced)
        );
        assert_eq!(
            plan_setup(Some(&setup(Role::Source, false)), SetupRequest::Remove),
            Ok(vec![SetupStep::ForgetRule])
        );
        assert_eq!(
            plan_setup(Some(&setup(Role::Peer, true)), SetupRequest::Remove),
            Ok(vec![
                SetupStep::Unsubscribe { node: NODE.into() },
                SetupStep::ForgetRule
            ])
        );
    }

    #[test]
    fn joining_peers_sync_first_and_the_first_peer_creates_the_node() {
        let first = plan_setup(None, SetupRequest::Peer { node: None }).expect("a plan");
        assert_eq!(first[0], SetupStep::CreateNode);
        assert!(!first.contains(&SetupStep::FirstSync));
        let join = plan_setup(
            None,
            SetupRequest::Peer {
                node: Some(NODE.into()),
            },
        )
        .expect("a plan");
        assert_eq!(join.last(), Some(&SetupStep::FirstSync));
    }

    #[test]
    fn re_mirroring_the_same_node_does_not_unsubscribe_it() {
        let current = setup(mirror_of("a"), true);
        let steps = plan_setup(
            Some(&current),
            SetupRequest::Mirror {
                node: "xmpp:PubSub.example.org?node=doc".into(),
                source: SiteId::new("a"),
                when_gone: GonePolicy::Delete,
            },
        )
        .expect("a plan");
        assert!(
            !steps
                .iter()
                .any(|s| matches!(s, SetupStep::Unsubscribe { .. }))
        );
    }
}
