//! XMPP mode: the nodes live on a real XEP-0060 service; the gateway is an XEP-0114 component
//! of the XMPP server (as Idavoll was) and keeps the same HTTP API.
//!
//! Selected by configuration (`--xmpp-component`, `--xmpp-server`, `--xmpp-secret`, or an
//! `[xmpp]` table in the TOML file); without it the gateway runs in embedded mode. The HTTP
//! `service` setting names the pubsub service JID (e.g. `pubsub.example.org`), so node URIs
//! stay `xmpp:<service>?;node=<id>` in both modes.
//!
//! # How it works
//!
//! The XMPP nodes implement the store's narrow `Nodes` trait, so the [`crate::store::Store`], the
//! HTTP layer and the delivery worker are the same as in embedded mode:
//!
//! - **HTTP → XMPP.** `/create`, `/publish`, `/delete` and retractions are written to a
//!   durable XMPP outbox (table `xmpp_ops`, same database and transaction as the rest) and
//!   acknowledged; a worker sends them to the pubsub service in order, pipelined, and removes
//!   each when the service answered. While the server is away they wait, and are sent after
//!   reconnecting: an acknowledged publish is never lost. A definite refusal (`forbidden`,
//!   `item-not-found`, …) drops the operation with an error in the log naming the condition.
//! - **XMPP → HTTP.** The component subscribes its own JID to every node it knows. Pubsub
//!   events (items, retractions, node deletion with redirect, purge) are applied to the local
//!   cache of items and queued in the delivery outbox in one transaction, so each becomes a
//!   durable HTTP callback. An HTTP publish therefore reaches HTTP subscribers through the XMPP
//!   service, exactly like a publish by any XMPP client or another gateway.
//! - **Reconnect.** After every new session the gateway resubscribes to its nodes and fetches
//!   their items: items published while it was away are delivered (identical payloads are not
//!   delivered twice), cached items the service no longer has are delivered as retractions, a
//!   node that disappeared is delivered as a deletion.
//! - **Remote subscriptions.** `/subscribe` to a node of another pubsub service makes the
//!   component follow it (subscribe, fetch its items) until the last `/unsubscribe`; such a node
//!   is stored under its URI ([`crate::uri::storage_key`]) and its events come in on
//!   the same stream. `/items` of a node nobody follows is asked from its service.
//! - **State.** [`crate::store::XmppStatus`] (connection, sessions, queued operations, counters) feeds
//!   `/healthz` and `/metrics`.
//!
//! # Node and item mapping
//!
//! See `docs/deploy.md`: one node per wiki (or namespace), item id = the entry's `atom:id`
//! (the page identity), Idavoll's instant nodes (`generic/<uuid>`) still work, a deletion is a
//! retraction (`Event: RETRACTED` + RFC 6721 tombstone to HTTP subscribers), and a purge is a
//! retraction of every item the gateway knew.
//!
//! The component layer ([`conn`]) is independent of the HTTP gateway, which keeps the design
//! open for a later step in which the gateway itself serves XEP-0060 to XMPP clients.
//!
//! # Modules
//!
//! | module | holds |
//! |---|---|
//! | [`config`] | the settings of the XMPP mode (flags, `[xmpp]` table) |
//! | [`conn`] | the XEP-0114 component connection: IQ tracking, keepalive, reconnects |
//! | [`stanza`] | the XEP-0060 requests and events the gateway sends and reads |
//! | `state` | what the XMPP nodes and their tasks share |
//! | `nodes` | the store's `Nodes` for XMPP: changes become queued operations |
//! | `outbox` | the worker sending queued operations to the service (HTTP → XMPP) |
//! | `intake` | pubsub events into the item cache and the delivery outbox (XMPP → HTTP) |
//! | `sync` | resynchronisation after reconnecting, following nodes of other services |

pub mod config;
pub mod conn;
mod intake;
mod nodes;
mod outbox;
pub mod stanza;
mod state;
mod sync;

use std::sync::Arc;

pub use config::{XmppArgs, XmppConfig, XmppConfigError, XmppFileConfig};

use crate::store::sql::xmpp_ops;
use crate::store::{Store, StoreError};

/// Turns `store` into the store of the XMPP mode: creates the XMPP table in its database,
/// connects the component and starts the outbox worker, the event intake and the background
/// retry of unreachable followed nodes. `service` is the pubsub service JID.
pub async fn start(store: Store, config: &XmppConfig, service: &str) -> Result<Store, StoreError> {
    store
        .db()
        .call(|conn, _| xmpp_ops::create_table(conn))
        .await?;
    let (conn, events) = conn::Connection::spawn(config.connection());
    let shared = Arc::new(state::Shared {
        db: store.db().clone(),
        conn,
        service: service.to_owned(),
        node_config: stanza::NodeConfig {
            max_items: store.limits().max_items_per_node,
        },
        items: store.item_keeping(),
        wake: Arc::default(),
        metrics: state::XmppMetrics::default(),
        unreachable: std::sync::Mutex::default(),
        retry_every: config.ping_interval,
        caps: std::sync::Mutex::default(),
    });
    tokio::spawn(intake::intake(Arc::downgrade(&shared), events));
    tokio::spawn(outbox::worker(Arc::downgrade(&shared)));
    tokio::spawn(sync::refollow(Arc::downgrade(&shared)));
    Ok(store.with_nodes(Arc::new(nodes::XmppNodes { inner: shared })))
}
