//! Changing what a site does for a namespace: becoming its source (also taking over from the
//! source it mirrored), mirroring or sharing it, handing the source role on, moving it to a
//! node on another gateway, retiring it. The core answers with the steps to carry out in
//! order; the host runs them against the gateway and its own rule table, and decides nothing.
//!
//! A namespace's node may be on another gateway than the site's own: a node given as a
//! gateway's feed URL (`http(s)://<gateway>/items?uri=<node URI>`, see [`NodeRef`]) makes the
//! plan start with [`SetupStep::UseGateway`], and the host keeps that gateway with the
//! namespace's rule and makes every call about the namespace there.
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
//!     gateway: None,
//!     subscribed: true,
//! };
//! let steps = plan_setup(Some(&mirror), SetupRequest::Source { node: None, gateway: None })?;
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
use crate::node::{NodeRef, UriError, gateway_url};
use crate::tagged;

/// What this site has for a namespace now (the host's record of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSetup {
    /// This site's role for the namespace.
    pub role: Role,
    /// The node the namespace is published to or received from, if one is recorded.
    pub node: Option<String>,
    /// The base URL of the gateway serving the node, when it is not the site's own gateway
    /// (recorded from a [`SetupStep::UseGateway`]).
    #[serde(default)]
    pub gateway: Option<String>,
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
        /// The node to publish to: a node URI, or a gateway's feed URL.
        node: Option<String>,
        /// The gateway to create the node on or to find `node` at (its base URL), when it is
        /// not the site's own (may be left out).
        gateway: Option<String>,
    },
    /// Mirror the namespace `source` publishes on `node`.
    Mirror {
        /// The source's node: a node URI (on the site's gateway), or a gateway's feed URL.
        node: String,
        /// The source site.
        source: SiteId,
        /// What to do with the pages when the source goes away (left out: the default).
        when_gone: GonePolicy,
    },
    /// Edit the namespace together with other sites on `node` (or, for the first peer, on a
    /// node created on the gateway).
    Peer {
        /// The peers' node: a node URI, or a gateway's feed URL.
        node: Option<String>,
        /// The gateway to create the node on or to find `node` at (its base URL), when it is
        /// not the site's own (may be left out).
        gateway: Option<String>,
    },
    /// Hand the source role to `new_source`: this site becomes its mirror on the same node.
    MoveSource {
        /// The site that becomes the source.
        new_source: SiteId,
    },
    /// Move a source namespace to another node, on this gateway or on another one: `node`
    /// (a node URI, or a gateway's feed URL), else a node created on `gateway` (else on the
    /// gateway in use). Every page is published there, then the old node is deleted with a
    /// redirect to the new one, which its mirrors follow.
    Relocate {
        /// The new node (may be left out).
        node: Option<String>,
        /// The gateway of the new node (its base URL; may be left out).
        gateway: Option<String>,
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
        /// The node to follow: a node URI (on the gateway in use), or another gateway's feed
        /// URL.
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
                    gateway: f.field_or_default("gateway")?,
                },
                "mirror" => SetupRequest::Mirror {
                    node: f.field("node")?,
                    source: f.field("source")?,
                    when_gone: f.field_or_default("whenGone")?,
                },
                "peer" => SetupRequest::Peer {
                    node: f.field("node")?,
                    gateway: f.field_or_default("gateway")?,
                },
                "moveSource" => SetupRequest::MoveSource {
                    new_source: f.field("newSource")?,
                },
                "relocate" => SetupRequest::Relocate {
                    node: f.field_or_default("node")?,
                    gateway: f.field_or_default("gateway")?,
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
                            "relocate",
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
/// [`SetupStep::CreateNode`] or [`SetupStep::UseNode`] act on that node; steps after a
/// [`SetupStep::UseGateway`] act on that gateway, and before one on the gateway the namespace
/// uses (its rule's, else the site's).
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
    /// Use the gateway at `gateway` (its base URL, under which `/create`, `/subscribe`,
    /// `/items` … are; `None`: the site's own gateway) for the namespace. The host records it
    /// with the rule at [`SetupStep::SetRole`] and from then on makes every call about the
    /// namespace there: publishing, subscribing and unsubscribing, reading items, checking the
    /// subscription.
    UseGateway {
        /// The gateway's base URL.
        gateway: Option<String>,
    },
    /// Create a node on the gateway and use it.
    CreateNode,
    /// Use `node` for the namespace.
    UseNode {
        /// The node.
        node: String,
    },
    /// Record this site's role for the namespace, with the node and the gateway in use.
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
    /// Give every page and media file of the namespace the input `republish`, then send the
    /// queue: the node in use gets the current revision of each, so that the mirrors that
    /// follow the namespace there, and sites that join later, find every page. Stop if the
    /// queue cannot be sent.
    Republish,
    /// Delete `node`, the node the namespace was published to before, on `gateway` (`None`:
    /// the site's own gateway), with a redirect to the node in use, which its mirrors and
    /// peers follow: with `feed` the node's feed URL on the gateway in use
    /// ([`NodeRef::at`]), else its node URI.
    RedirectNode {
        /// The previous node.
        node: String,
        /// The previous node's gateway.
        gateway: Option<String>,
        /// Whether the redirect names the gateway in use (the new node is on another gateway
        /// than the previous one).
        feed: bool,
    },
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
    /// The node given is neither an XMPP node URI (`xmpp:<service>?;node=<id>`) nor a
    /// gateway's feed URL.
    #[error(
        "the node is not an XMPP node URI (xmpp:<service>?;node=<id>) or a gateway's feed URL (http(s)://<gateway>/items?uri=<node URI>): {0}"
    )]
    BadNode(UriError),
    /// The gateway given is not a gateway's base URL.
    #[error("the gateway is not a gateway's URL (http(s)://<host>[:<port>][/<prefix>]): {0}")]
    BadGateway(UriError),
    /// A gateway was given, and a node as the feed URL of another gateway.
    #[error("the node's feed URL names the gateway {feed}, not {given}")]
    TwoGateways {
        /// The gateway given.
        given: String,
        /// The gateway the node's feed URL names.
        feed: String,
    },
    /// A namespace cannot move to the node it is published to.
    #[error("the namespace is published to that node already")]
    SameNode,
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
    /// A stable snake_case code: `not_synced`, `not_source`, `bad_node`, `bad_gateway`,
    /// `two_gateways`, `same_node`, `wrong_source`, `not_following`.
    pub fn code(&self) -> &'static str {
        match self {
            SetupError::NotSynced => "not_synced",
            SetupError::NotSource => "not_source",
            SetupError::BadNode(_) => "bad_node",
            SetupError::BadGateway(_) => "bad_gateway",
            SetupError::TwoGateways { .. } => "two_gateways",
            SetupError::SameNode => "same_node",
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

/// A node given in a request: a node URI or a gateway's feed URL.
fn target(node: &str) -> Result<NodeRef, SetupError> {
    NodeRef::parse(node.trim()).map_err(SetupError::BadNode)
}

/// The gateway a request's node is on: the one its feed URL names, else the one given, else
/// `otherwise` (the gateway the namespace uses: a node URI alone names a node there). A feed
/// URL of another gateway than the one given is refused.
fn gateway_for(
    node: Option<&NodeRef>,
    given: Option<&str>,
    otherwise: Option<String>,
) -> Result<Option<String>, SetupError> {
    let given = given
        .map(|g| gateway_url(g.trim()).map_err(SetupError::BadGateway))
        .transpose()?;
    match (node.and_then(NodeRef::gateway), given) {
        (Some(feed), Some(given)) if feed != given => Err(SetupError::TwoGateways {
            given,
            feed: feed.to_owned(),
        }),
        (Some(feed), _) => Ok(Some(feed.to_owned())),
        (None, given) => Ok(given.or(otherwise)),
    }
}

/// What a plan starts from: the namespace as recorded, its gateway in canonical form.
struct Plan<'a> {
    current: Option<&'a NamespaceSetup>,
    /// The gateway the namespace uses now (`None`: the site's).
    gateway: Option<String>,
    steps: Vec<SetupStep>,
}

impl Plan<'_> {
    /// Stops receiving from the recorded node, unless it is `keep` (a node on `gateway`).
    fn leave(&mut self, keep: Option<(&Option<String>, &NodeRef)>) {
        if let Some(NamespaceSetup {
            node: Some(node),
            subscribed: true,
            ..
        }) = self.current
        {
            let kept = keep.is_some_and(|(gateway, k)| {
                *gateway == self.gateway && NodeRef::parse(node).is_ok_and(|n| n.node() == k.node())
            });
            if !kept {
                self.steps
                    .push(SetupStep::Unsubscribe { node: node.clone() });
            }
        }
    }

    /// Switches to `gateway` when the namespace uses another one now.
    fn use_gateway(&mut self, gateway: &Option<String>) {
        if *gateway != self.gateway {
            self.steps.push(SetupStep::UseGateway {
                gateway: gateway.clone(),
            });
        }
    }

    /// Uses `node` (its node URI in canonical form), else creates one.
    fn use_node(&mut self, node: Option<&NodeRef>) {
        self.steps.push(match node {
            Some(node) => SetupStep::UseNode {
                node: node.node().to_string(),
            },
            None => SetupStep::CreateNode,
        });
    }

    fn push(&mut self, step: SetupStep) {
        self.steps.push(step);
    }
}

/// The steps that turn `current` (what this site has for the namespace, `None`: nothing)
/// into what `request` asks for.
pub fn plan_setup(
    current: Option<&NamespaceSetup>,
    request: SetupRequest,
) -> Result<Vec<SetupStep>, SetupError> {
    let recorded = current.and_then(|c| c.node.clone());
    let in_use = current
        .and_then(|c| c.gateway.as_deref())
        .map(|g| gateway_url(g).unwrap_or_else(|_| g.to_owned()));
    let mut plan = Plan {
        current,
        gateway: in_use.clone(),
        steps: Vec::new(),
    };
    match request {
        SetupRequest::Source { node, gateway } => {
            let node = node.as_deref().map(target).transpose()?;
            let gateway = gateway_for(node.as_ref(), gateway.as_deref(), in_use.clone())?;
            let node = match (node, &recorded) {
                (Some(node), _) => Some(node),
                // A node recorded for the gateway the namespace uses now.
                (None, Some(recorded)) if gateway == in_use => NodeRef::parse(recorded).ok(),
                (None, _) => None,
            };
            plan.leave(None);
            plan.use_gateway(&gateway);
            plan.use_node(node.as_ref());
            plan.push(set_role(Role::Source));
        }
        SetupRequest::Mirror {
            node,
            source,
            when_gone,
        } => {
            let node = target(&node)?;
            let gateway = gateway_for(Some(&node), None, in_use.clone())?;
            plan.leave(Some((&gateway, &node)));
            plan.use_gateway(&gateway);
            plan.use_node(Some(&node));
            plan.push(SetupStep::CheckSource {
                source: source.clone(),
            });
            plan.push(set_role(Role::Mirror { source, when_gone }));
            plan.push(SetupStep::Subscribe);
            plan.push(SetupStep::FirstSync);
        }
        SetupRequest::Peer { node, gateway } => {
            let node = node.as_deref().map(target).transpose()?;
            let gateway = gateway_for(node.as_ref(), gateway.as_deref(), in_use.clone())?;
            match &node {
                Some(node) => plan.leave(Some((&gateway, node))),
                None => plan.leave(None),
            }
            plan.use_gateway(&gateway);
            plan.use_node(node.as_ref());
            plan.push(set_role(Role::peer()));
            plan.push(SetupStep::Subscribe);
            if node.is_some() {
                plan.push(SetupStep::FirstSync);
            }
        }
        SetupRequest::MoveSource { new_source } => match (current, recorded) {
            (
                Some(NamespaceSetup {
                    role: Role::Source, ..
                }),
                Some(node),
            ) => {
                plan.push(SetupStep::AnnounceSourceMove {
                    new_source: new_source.clone(),
                });
                plan.push(SetupStep::UseNode { node });
                plan.push(set_role(Role::Mirror {
                    source: new_source,
                    when_gone: GonePolicy::Keep,
                }));
                plan.push(SetupStep::Subscribe);
            }
            _ => return Err(SetupError::NotSource),
        },
        SetupRequest::Relocate { node, gateway } => {
            let (
                Some(NamespaceSetup {
                    role: Role::Source, ..
                }),
                Some(old),
            ) = (current, recorded)
            else {
                return Err(SetupError::NotSource);
            };
            let node = node.as_deref().map(target).transpose()?;
            let gateway = gateway_for(node.as_ref(), gateway.as_deref(), in_use.clone())?;
            let same = |n: &NodeRef| NodeRef::parse(&old).is_ok_and(|o| o.node() == n.node());
            if gateway == in_use && node.as_ref().is_some_and(same) {
                return Err(SetupError::SameNode);
            }
            plan.use_gateway(&gateway);
            plan.use_node(node.as_ref());
            plan.push(set_role(Role::Source));
            plan.push(SetupStep::Republish);
            plan.push(SetupStep::RedirectNode {
                node: old,
                feed: gateway != in_use,
                gateway: in_use,
            });
        }
        SetupRequest::Retire => match (current, recorded) {
            (
                Some(NamespaceSetup {
                    role: Role::Source, ..
                }),
                Some(node),
            ) => {
                plan.push(SetupStep::UseNode { node });
                plan.push(SetupStep::DeleteNode);
                plan.push(SetupStep::ForgetRule);
            }
            _ => return Err(SetupError::NotSource),
        },
        SetupRequest::Remove => {
            if current.is_none() {
                return Err(SetupError::NotSynced);
            }
            plan.leave(None);
            plan.push(SetupStep::ForgetRule);
        }
        SetupRequest::Follow { node, source } => {
            let node = target(&node)?;
            let gateway = gateway_for(Some(&node), None, in_use)?;
            let mut follow = Vec::new();
            let role = match current.map(|c| &c.role) {
                Some(Role::Mirror {
                    source: old,
                    when_gone,
                }) => {
                    let new = source.unwrap_or_else(|| old.clone());
                    if new != *old {
                        follow.push(SetupStep::FollowSource {
                            source: new.clone(),
                        });
                    }
                    Role::Mirror {
                        source: new,
                        when_gone: *when_gone,
                    }
                }
                Some(peer @ Role::Peer { .. }) => peer.clone(),
                _ => return Err(SetupError::NotFollowing),
            };
            plan.leave(Some((&gateway, &node)));
            plan.use_gateway(&gateway);
            plan.use_node(Some(&node));
            plan.push(set_role(role));
            plan.push(SetupStep::Subscribe);
            plan.steps.append(&mut follow);
            plan.push(SetupStep::FirstSync);
        }
    }
    Ok(plan.steps)
}

/// Where a node is followed ([`NodeRef::parse`]): a node URI alone, on the gateway the
/// namespace uses, or another gateway's feed URL; anything else is [`SetupError::BadNode`].
/// Hosts read a deletion's redirect with it (to fetch the new node's items before following).
pub fn follow_target(node: &str) -> Result<NodeRef, SetupError> {
    target(node)
}

/// The text naming `node` on `gateway` (its feed URL there), or the node URI alone without
/// a gateway, both canonical: the redirect of [`SetupStep::RedirectNode`].
pub fn node_ref(gateway: Option<&str>, node: &str) -> Result<String, SetupError> {
    let gateway = gateway
        .map(|g| gateway_url(g.trim()).map_err(SetupError::BadGateway))
        .transpose()?;
    // the gateway is checked: only the node can be refused now
    NodeRef::at(gateway.as_deref(), node.trim())
        .map(|r| r.to_string())
        .map_err(SetupError::BadNode)
}

#[cfg(test)]
mod tests;
