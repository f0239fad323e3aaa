//! Subscriptions that heal: what a mirror or peer does with what the gateway says about its
//! subscription (`GET /subscription`), so that it is never cut off without knowing.
//!
//! A mirror also learns here that its source went away without deleting its node: the
//! gateway reports when the node last showed a sign of life from its publisher (`sourceSeen`:
//! its newest item, or a heartbeat, which a source sends each time it checks its own
//! subscriptions, see [`SiteConfig::sends_heartbeat`]); silent for longer than
//! [`SiteConfig::source_grace_seconds`], the source is gone.
//!
//! ```
//! use wikisync_core::entry::SiteId;
//! use wikisync_core::sync::{Role, SiteConfig, SubscriptionReport, SubscriptionStep, check_subscription};
//! use wikisync_core::time::Timestamp;
//! let mut config = SiteConfig::new(SiteId::new("https://b.example/")).rule("wiki", Role::peer());
//! config.lease_seconds = 1_000;
//! // a lease with less than half of it left is renewed
//! let report = SubscriptionReport::Active { expires: Some(Timestamp(1_000 + 400)), source_seen: None };
//! assert_eq!(check_subscription(&config, "wiki", &report, Timestamp(1_000)), SubscriptionStep::Renew);
//! ```

use serde::{Deserialize, Serialize};

use super::config::{Role, SiteConfig};
use crate::tagged;
use crate::time::Timestamp;

/// What the gateway said about a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SubscriptionReport {
    /// Active, with a lease ending at `expires` (`None`: no lease).
    Active {
        /// When the lease ends.
        expires: Option<Timestamp>,
        /// The node's last sign of life from its publisher: its newest item or heartbeat
        /// (`None`: the gateway cannot tell, e.g. a node of another service).
        source_seen: Option<Timestamp>,
    },
    /// Waiting for its verification of intent.
    Pending,
    /// Dropped by the gateway at `at`, for `reason`; `redirect` is the node a deleted node
    /// redirected to (a node URI, or another gateway's feed URL).
    Dropped {
        /// Why.
        reason: DropReason,
        /// When.
        at: Timestamp,
        /// The node to follow, when a deleted node named one.
        redirect: Option<String>,
    },
    /// The gateway knows no such subscription (never made, or forgotten since).
    NotFound,
    /// The gateway could not be asked, or could not answer.
    Unreachable,
}

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for SubscriptionReport {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(
            tag: &str,
            f: &mut tagged::Fields,
        ) -> Result<SubscriptionReport, serde_json::Error> {
            Ok(match tag {
                "active" => SubscriptionReport::Active {
                    expires: f.field("expires")?,
                    source_seen: f.field("sourceSeen")?,
                },
                "pending" => SubscriptionReport::Pending,
                "dropped" => SubscriptionReport::Dropped {
                    reason: f.field("reason")?,
                    at: f.field("at")?,
                    redirect: f.field("redirect")?,
                },
                "notFound" => SubscriptionReport::NotFound,
                "unreachable" => SubscriptionReport::Unreachable,
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &["active", "pending", "dropped", "notFound", "unreachable"],
                    ));
                }
            })
        }
        tagged::deserialize(deserializer, read)
    }
}

/// Why the gateway dropped a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DropReason {
    /// The callback answered 410 Gone.
    Gone,
    /// Deliveries kept failing for longer than the gateway's failure budget.
    FailureBudget,
    /// The lease ended without a renewal.
    LeaseExpired,
    /// The subscriber unsubscribed.
    Unsubscribed,
    /// The node was deleted.
    NodeDeleted,
}

/// What to do about a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SubscriptionStep {
    /// Nothing: it is well.
    Nothing,
    /// Subscribe again to renew the lease (the queue and deliveries stay).
    Renew,
    /// It is gone: subscribe again, then catch up from the node's items (nothing was
    /// delivered meanwhile).
    Resubscribe,
    /// The node moved: follow it there (the `follow` namespace change).
    Follow {
        /// The node to follow: a node URI, or another gateway's feed URL.
        node: String,
    },
    /// The node was deleted without a successor and this site did not hear of it, or the
    /// source of this mirror has been silent for longer than its grace: apply the
    /// source-gone policy to every page (`sourceGone`).
    SourceGone,
    /// Nothing can be learnt now: ask again later, and show it.
    Wait,
}

/// What to do about the subscription of `namespace`, given what the gateway `report`ed at
/// `now`.
///
/// A lease ([`SiteConfig::lease_seconds`]) is renewed once less than half of it is left, so one
/// missed check cannot let it end. A subscription dropped for a reason this site can mend (its
/// callback failed, its lease ended, the gateway forgot it) is made again and caught up; a
/// deleted node is followed when it named a successor, else the source is gone. A mirror whose
/// source showed no sign of life for longer than [`SiteConfig::source_grace_seconds`] takes it
/// for gone too (never when the gateway cannot tell, and never for a source or peer, whose
/// namespace has no other source). An unreachable gateway is never taken for a vanished
/// source: the site waits.
pub fn check_subscription(
    config: &SiteConfig,
    namespace: &str,
    report: &SubscriptionReport,
    now: Timestamp,
) -> SubscriptionStep {
    match report {
        SubscriptionReport::Active {
            source_seen: Some(seen),
            ..
        } if source_silent(config, namespace, *seen, now) => SubscriptionStep::SourceGone,
        SubscriptionReport::Active { expires: None, .. } => SubscriptionStep::Renew,
        SubscriptionReport::Active {
            expires: Some(expires),
            ..
        } => {
            let left = expires.0.saturating_sub(now.0);
            if left.saturating_mul(2) <= i64::from(config.lease_seconds) {
                SubscriptionStep::Renew
            } else {
                SubscriptionStep::Nothing
            }
        }
        SubscriptionReport::Pending => SubscriptionStep::Nothing,
        SubscriptionReport::Dropped {
            reason: DropReason::NodeDeleted,
            redirect: Some(node),
            ..
        } => SubscriptionStep::Follow { node: node.clone() },
        SubscriptionReport::Dropped {
            reason: DropReason::NodeDeleted,
            redirect: None,
            ..
        } => SubscriptionStep::SourceGone,
        SubscriptionReport::Dropped { .. } | SubscriptionReport::NotFound => {
            SubscriptionStep::Resubscribe
        }
        SubscriptionReport::Unreachable => SubscriptionStep::Wait,
    }
}

/// Whether the source of `namespace` (a mirror's) has been silent since `seen` for longer
/// than the grace.
fn source_silent(config: &SiteConfig, namespace: &str, seen: Timestamp, now: Timestamp) -> bool {
    let grace = i64::from(config.source_grace_seconds);
    matches!(
        config.role_of_namespace(namespace),
        Some(Role::Mirror { .. })
    ) && grace > 0
        && now.0.saturating_sub(seen.0) > grace
}
