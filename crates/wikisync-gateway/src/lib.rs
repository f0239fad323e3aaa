//! The wikisync gateway: Idavoll's HTTP publish–subscribe interface, done right.
//!
//! In embedded mode (the default) the gateway *is* the pubsub service: it keeps nodes,
//! items, subscriptions and its delivery outbox in SQLite and POSTs every published Atom entry to
//! the subscribers' callbacks. Old Idavoll clients (dokupubsub-style wikis) work unchanged; on
//! top of that, delivery is durable, ordered per subscriber and retried, subscriptions are
//! verified, callbacks can be signed, and publishing can require a token.
//!
//! The gateway holds no wiki logic: it moves entries; the wikisync core decides what they mean.
//!
//! # Layout
//!
//! | module | concern |
//! |---|---|
//! | [`config`] | flags, environment and TOML file, with documented defaults |
//! | [`error`] | [`error::ApiError`]: status + JSON `{"error", "message"}`, never leaking internals |
//! | [`uri`] | node URIs (parsed by the core's [`wikisync_core::node`]) and how the store keys them |
//! | [`atom`] | the little Atom the gateway reads (an entry's `atom:id`) and writes (feeds, tombstones) |
//! | [`hex`], [`time`] | lower-case hexadecimal; the clock in Unix milliseconds |
//! | [`store`] | the [`store::Store`] over SQLite (WAL, group commit) for both modes |
//! | [`store::sql`] | every SQL statement, as plain functions over a connection, one submodule per table |
//! | [`store`]`::nodes` | the narrow `Nodes` trait: what differs between embedded and XMPP nodes |
//! | [`http`] | the axum router: [`http::app`] builds it from an [`http::AppState`] |
//! | [`http::idavoll`] | the Idavoll API: `/create`, `/publish`, `/delete`, `/list`, `/subscribe` (with leases), `/unsubscribe`, `/items` (paged) |
//! | [`http::websub`] | the WebSub hub `POST /hub` and how topics map to nodes |
//! | [`http::subscription`] | `GET /subscription`: a subscriber asks, signed with its secret, where its subscription stands |
//! | [`http::ops`] | operations: `/healthz`, `/metrics`, `/openapi.json` |
//! | [`metrics`] | the `/metrics` families in the Prometheus text format |
//! | [`server`] | the HTTP/1.1 server: header read timeout, connections in all and per client address |
//! | [`netpolicy`] | which networks callbacks may use (`--callback-allow`, `--callback-deny`), enforced by the callback client's connector |
//! | [`delivery`] | the outbox worker: ordered, at-least-once, backoff, failure budget, the lease sweep; verification and signatures |
//! | [`xmpp`] | XMPP mode: the nodes live on an XEP-0060 service, the gateway is an XEP-0114 component |
//!
//! Modules depend on each other without cycles: `http` → `metrics` → `delivery` → `store` →
//! `uri`, `atom`, `hex`, `time`; `delivery`, `http` and `server` → `netpolicy`; `xmpp` →
//! `store`; `config` → `xmpp::config`, `netpolicy`. Only [`run`] ties them all together.
//!
//! [`run`] ties them together on a listener until a shutdown future resolves; `main.rs` only
//! parses the configuration, binds the socket and waits for Ctrl-C or SIGTERM.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wikisync_gateway::{config::Config, run};
//!
//! let config = Config::default(); // 127.0.0.1:8086, ./wikisync-gateway-data
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! run(listener, config, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(()) }
//! ```

pub mod atom;
pub mod config;
pub mod delivery;
pub mod error;
pub mod hex;
pub mod http;
pub mod metrics;
pub mod netpolicy;
pub mod server;
pub mod store;
pub mod time;
pub mod uri;
pub mod xmpp;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::delivery::{DeliveryConfig, DeliveryMetrics};
use crate::store::{QueueSignal, Store, StoreError, StoreLimits};

/// Name of the SQLite database file inside the data directory.
pub const DATABASE_FILE: &str = "gateway.sqlite3";

/// Why the gateway could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The data directory could not be created.
    #[error("cannot create the data directory: {0}")]
    DataDir(std::io::Error),
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Store(StoreError),
    /// The `--callback-ca` file could not be used.
    #[error("{0}")]
    CallbackCa(delivery::CallbackCaError),
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Runs the gateway on `listener` until `shutdown` resolves, then stops accepting requests,
/// finishes those in progress and waits up to `config.shutdown_grace` for in-flight deliveries
/// (what remains stays in the outbox for the next start).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let mut config = config;
    std::fs::create_dir_all(&config.data_dir).map_err(RunError::DataDir)?;
    let local = listener.local_addr().map_err(RunError::Serve)?;
    if config.public_url.is_none() {
        config.public_url = Some(format!("http://{local}"));
    }
    let signal = Arc::new(QueueSignal::default());
    let store = Store::open(
        &config.data_dir.join(DATABASE_FILE),
        StoreLimits {
            max_items_per_node: config.max_items_per_node,
            max_subscriptions_per_node: config.max_subscriptions_per_node,
        },
        Some(signal.clone()),
    )
    .map_err(RunError::Store)?;
    let store = match &config.xmpp {
        // XMPP mode: nodes live on the XMPP pubsub service (see `xmpp`).
        Some(xmpp) => xmpp::start(store, xmpp, &config.service)
            .await
            .map_err(RunError::Store)?,
        None => store,
    };
    let extra_roots = match &config.callback_ca {
        Some(path) => delivery::load_callback_ca(path).map_err(RunError::CallbackCa)?,
        None => Vec::new(),
    };
    let client = delivery::http_client_with(&extra_roots, Arc::new(config.callback_policy()));
    let metrics = Arc::new(DeliveryMetrics::default());
    if !config.verify {
        tracing::warn!(
            "verification of intent is OFF (--no-verify): anyone can make this gateway POST to any URL; use only on trusted networks"
        );
    }
    if config.tokens.is_empty() && config.sites.is_empty() {
        tracing::warn!(
            "no publisher tokens or site credentials configured: publishing, creating and deleting nodes is open to anyone (Idavoll behaviour)"
        );
    }
    let deliveries = delivery::spawn(
        store.clone(),
        client.clone(),
        DeliveryConfig {
            service: config.service.clone(),
            hub_url: config.hub_url(),
            callback_timeout: config.callback_timeout,
            retry_base: config.retry_base,
            retry_max: config.retry_max,
            failure_budget: config.failure_budget,
            dropped_retention: config.dropped_retention,
            max_concurrent: config.max_concurrent_deliveries,
        },
        signal,
        metrics.clone(),
    );
    let grace = config.shutdown_grace;
    let limits = server::ServerLimits {
        header_timeout: config.header_timeout,
        max_connections: config.max_connections,
        max_connections_per_ip: config.max_connections_per_ip,
    };
    tracing::info!(listen = %local, service = %config.service, data_dir = %config.data_dir.display(), "wikisync-gateway started");
    let app = http::app(http::AppState::new(store, config, client, metrics));
    let served = server::serve(listener, app, limits, shutdown).await;
    tracing::info!("stopped accepting requests; draining deliveries");
    deliveries.shutdown(grace).await;
    served.map_err(RunError::Serve)
}
