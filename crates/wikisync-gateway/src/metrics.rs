//! What `/metrics` serves: the gateway's metric families ([`render`]) in the Prometheus text
//! exposition format (0.0.4, [`Exposition`]).
//!
//! ```
//! use wikisync_gateway::metrics::Exposition;
//!
//! let mut e = Exposition::default();
//! e.family("jobs_total", "counter", "Jobs done.", &[("{kind=\"a\"}", 2), ("{kind=\"b\"}", 0)]);
//! e.family("queue", "gauge", "Jobs waiting.", &[("", 7)]);
//! let expected = [
//!     "# HELP jobs_total Jobs done.",
//!     "# TYPE jobs_total counter",
//!     "jobs_total{kind=\"a\"} 2",
//!     "jobs_total{kind=\"b\"} 0",
//!     "# HELP queue Jobs waiting.",
//!     "# TYPE queue gauge",
//!     "queue 7",
//! ];
//! assert_eq!(e.into_text(), expected.join("\n") + "\n");
//! ```

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::delivery::DeliveryMetrics;
use crate::store::XmppStatus;

/// Metric families written one after the other.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Appends a family: its `HELP` and `TYPE` lines, then one line per sample, each given as
    /// (label set including braces, or `""`, value).
    pub fn family(&mut self, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(self.text, "{name}{labels} {value}");
        }
    }

    /// The text to serve.
    pub fn into_text(self) -> String {
        self.text
    }
}

/// The text of `/metrics`: `publishes` (entries accepted by `/publish`), the delivery counters
/// `m`, the items dropped by `--max-items-per-node`, the number of deliveries waiting in the
/// outbox, and, in XMPP mode, the XMPP side.
pub fn render(
    publishes: u64,
    m: &DeliveryMetrics,
    items_dropped: u64,
    outbox: u64,
    xmpp: Option<&XmppStatus>,
) -> String {
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let mut e = Exposition::default();
    e.family(
        "wikisync_gateway_publishes_total",
        "counter",
        "Entries accepted by /publish.",
        &[("", publishes)],
    );
    e.family(
        "wikisync_gateway_deliveries_total",
        "counter",
        "Callbacks that answered 2xx.",
        &[("", load(&m.delivered))],
    );
    e.family(
        "wikisync_gateway_delivery_failures_total",
        "counter",
        "Failed delivery attempts.",
        &[("", load(&m.failed_attempts))],
    );
    e.family(
        "wikisync_gateway_unsubscribed_total",
        "counter",
        "Subscriptions removed by the gateway.",
        &[
            ("{reason=\"gone\"}", load(&m.unsubscribed_gone)),
            ("{reason=\"failure_budget\"}", load(&m.unsubscribed_budget)),
            ("{reason=\"lease_expired\"}", load(&m.unsubscribed_lease)),
        ],
    );
    let mut dropped = vec![("{by=\"gateway\"}", items_dropped)];
    if let Some(x) = xmpp {
        dropped.push(("{by=\"service\"}", x.items_dropped_by_service));
    }
    e.family(
        "wikisync_gateway_items_dropped_total",
        "counter",
        "Items dropped because their node held more than the gateway keeps (--max-items-per-node, 0 = no limit, the default) or, XMPP mode, than the pubsub service keeps.",
        &dropped,
    );
    e.family(
        "wikisync_gateway_outbox_pending",
        "gauge",
        "Deliveries waiting in the outbox.",
        &[("", outbox)],
    );
    if let Some(x) = xmpp {
        xmpp_families(&mut e, x);
    }
    e.into_text()
}

/// The XMPP part of `/metrics`.
fn xmpp_families(e: &mut Exposition, x: &XmppStatus) {
    e.family(
        "wikisync_gateway_xmpp_connected",
        "gauge",
        "Whether the component is connected to the XMPP server.",
        &[("", u64::from(x.connected))],
    );
    e.family(
        "wikisync_gateway_xmpp_sessions_total",
        "counter",
        "XMPP sessions established (1 + reconnects).",
        &[("", x.sessions)],
    );
    e.family(
        "wikisync_gateway_xmpp_ops_pending",
        "gauge",
        "Operations waiting for the pubsub service.",
        &[("", x.pending_ops)],
    );
    e.family(
        "wikisync_gateway_xmpp_ops_total",
        "counter",
        "Operations the pubsub service answered.",
        &[
            ("{result=\"accepted\"}", x.ops_sent),
            ("{result=\"refused\"}", x.ops_refused),
        ],
    );
    e.family(
        "wikisync_gateway_xmpp_events_total",
        "counter",
        "Pubsub events received and applied.",
        &[("", x.events)],
    );
    e.family(
        "wikisync_gateway_xmpp_remote_nodes",
        "gauge",
        "Nodes of other services followed.",
        &[("", x.remote_nodes)],
    );
    e.family(
        "wikisync_gateway_xmpp_remote_unreachable",
        "gauge",
        "Followed nodes of other services whose service could not be reached (retried).",
        &[("", x.remote_unreachable)],
    );
}
