//! Configuration: command-line flags, environment variables and a TOML file, in that order of
//! precedence, over documented defaults.
//!
//! | setting | flag | environment | TOML key | default |
//! |---|---|---|---|---|
//! | listen address | `--listen` | `WIKISYNC_GATEWAY_LISTEN` | `listen` | `127.0.0.1:8086` |
//! | data directory (SQLite file `gateway.sqlite3`) | `--data-dir` | `WIKISYNC_GATEWAY_DATA_DIR` | `data_dir` | `./wikisync-gateway-data` |
//! | pubsub service JID used in node URIs | `--service` | `WIKISYNC_GATEWAY_SERVICE` | `service` | `pubsub.localhost` |
//! | skip verification of intent | `--no-verify` | `WIKISYNC_GATEWAY_NO_VERIFY=true` | `no_verify` | `false` (verify) |
//! | publisher tokens (comma-separated in env) | `--token` (repeatable) | `WIKISYNC_GATEWAY_TOKENS` | `tokens` | none (open publishing) |
//! | site credentials `SITE_ID=TOKEN` (comma-separated in env): a token bound to a site, whose publishes carry that site as their publisher | `--site` (repeatable) | `WIKISYNC_GATEWAY_SITES` | `sites` | none |
//! | largest request body, bytes | `--max-body-bytes` | `WIKISYNC_GATEWAY_MAX_BODY_BYTES` | `max_body_bytes` | 1 MiB |
//! | items kept per node, oldest dropped beyond it (logged, counted in `/metrics`); 0 = all | `--max-items-per-node` | `WIKISYNC_GATEWAY_MAX_ITEMS_PER_NODE` | `max_items_per_node` | 0 (all) |
//! | subscriptions per node | `--max-subscriptions-per-node` | `WIKISYNC_GATEWAY_MAX_SUBSCRIPTIONS_PER_NODE` | `max_subscriptions_per_node` | 1000 |
//! | callback time limit (delivery and verification), ms | `--callback-timeout-ms` | `WIKISYNC_GATEWAY_CALLBACK_TIMEOUT_MS` | `callback_timeout_ms` | 10000 |
//! | first retry delay, ms | `--retry-base-ms` | `WIKISYNC_GATEWAY_RETRY_BASE_MS` | `retry_base_ms` | 1000 |
//! | longest retry delay, ms | `--retry-max-ms` | `WIKISYNC_GATEWAY_RETRY_MAX_MS` | `retry_max_ms` | 600000 (10 min) |
//! | failure budget: a subscription failing this long is removed, s | `--failure-budget-secs` | `WIKISYNC_GATEWAY_FAILURE_BUDGET_SECS` | `failure_budget_secs` | 86400 (24 h) |
//! | lease granted when a WebSub subscriber asks for none, s | `--lease-default-secs` | `WIKISYNC_GATEWAY_LEASE_DEFAULT_SECS` | `lease_default_secs` | 864000 (10 days) |
//! | shortest lease granted (`hub.lease_seconds`, `lease_seconds`), s | `--lease-min-secs` | `WIKISYNC_GATEWAY_LEASE_MIN_SECS` | `lease_min_secs` | 60 |
//! | longest lease granted, s | `--lease-max-secs` | `WIKISYNC_GATEWAY_LEASE_MAX_SECS` | `lease_max_secs` | 2592000 (30 days) |
//! | how long an ended subscription's record (why, when) is kept for `GET /subscription`, s | `--dropped-retention-secs` | `WIKISYNC_GATEWAY_DROPPED_RETENTION_SECS` | `dropped_retention_secs` | 2592000 (30 days) |
//! | deliveries in flight at once | `--max-concurrent-deliveries` | `WIKISYNC_GATEWAY_MAX_CONCURRENT_DELIVERIES` | `max_concurrent_deliveries` | 256 |
//! | public base URL of the gateway, for the WebSub `Link: <…/hub>; rel="hub"` | `--public-url` | `WIKISYNC_GATEWAY_PUBLIC_URL` | `public_url` | `http://<listen address>` |
//! | extra trusted certificates for `https://` callbacks (PEM file: a private CA, or a self-signed callback's own certificate), added to the system's roots | `--callback-ca` | `WIKISYNC_GATEWAY_CALLBACK_CA` | `callback_ca` | none (system roots only) |
//! | verifications of intent one client address may cause per minute (`/subscribe`, `/unsubscribe`, WebSub (un)subscribe), more: 429 with `Retry-After`; 0 = no limit | `--verify-per-minute` | `WIKISYNC_GATEWAY_VERIFY_PER_MINUTE` | `verify_per_minute` | 30 |
//! | networks callbacks may use, CIDR (comma-separated in env); when any is given, only these | `--callback-allow` (repeatable) | `WIKISYNC_GATEWAY_CALLBACK_ALLOW` | `callback_allow` | none (every network) |
//! | networks callbacks may not use, CIDR (deny wins over allow); see [`crate::netpolicy`] | `--callback-deny` (repeatable) | `WIKISYNC_GATEWAY_CALLBACK_DENY` | `callback_deny` | none |
//! | time a connection has to send a request's head (also the longest idle time between requests), ms | `--header-timeout-ms` | `WIKISYNC_GATEWAY_HEADER_TIMEOUT_MS` | `header_timeout_ms` | 10000 |
//! | time a request's body has to arrive once the gateway starts reading it, ms | `--body-timeout-ms` | `WIKISYNC_GATEWAY_BODY_TIMEOUT_MS` | `body_timeout_ms` | 30000 |
//! | connections open at once, in all | `--max-connections` | `WIKISYNC_GATEWAY_MAX_CONNECTIONS` | `max_connections` | 512 |
//! | connections open at once from one client address (IPv6: per /64); 0 = no limit | `--max-connections-per-ip` | `WIKISYNC_GATEWAY_MAX_CONNECTIONS_PER_IP` | `max_connections_per_ip` | 64 |
//! | shutdown grace for in-flight deliveries, ms | `--shutdown-grace-ms` | `WIKISYNC_GATEWAY_SHUTDOWN_GRACE_MS` | `shutdown_grace_ms` | 10000 |
//!
//! XMPP mode is selected with `--xmpp-component JID --xmpp-server HOST:PORT --xmpp-secret S`
//! (`WIKISYNC_GATEWAY_XMPP_COMPONENT`, `…_SERVER`, `…_SECRET`) or an `[xmpp]` table with
//! `component`, `server`, `secret` and optionally `ping_interval_secs` (30), `iq_timeout_ms`
//! (10000) and `reconnect_max_ms` (30000); see [`crate::xmpp`] and `docs/deploy.md`.
//!
//! The TOML file is given with `--config FILE` (or `WIKISYNC_GATEWAY_CONFIG`); unknown keys in it
//! are an error, so typos do not pass silently.
//!
//! ```
//! use wikisync_gateway::config::Config;
//!
//! let config = Config::from_toml_str("listen = \"127.0.0.1:9000\"\nno_verify = true\n")
//!     .expect("valid TOML");
//! assert_eq!(config.listen.port(), 9000);
//! assert!(!config.verify);
//! assert_eq!(config.max_items_per_node, 0); // default: every item is kept
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::netpolicy::{CallbackPolicy, Cidr};
use wikisync_core::entry::SiteId;

/// The resolved configuration of a gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory of the SQLite database.
    pub data_dir: PathBuf,
    /// The pubsub service JID that appears in node URIs.
    pub service: String,
    /// Whether subscribe/unsubscribe requests are verified with a `hub.challenge` GET.
    pub verify: bool,
    /// Publisher tokens; empty (and no `sites`) means publishing is open to anyone (Idavoll
    /// behaviour).
    pub tokens: Vec<String>,
    /// Site credentials as given, `SITE_ID=TOKEN` (see [`Config::site_credentials`]).
    pub sites: Vec<String>,
    /// Largest accepted request body in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Items kept per node; publishing more drops the oldest (logged and counted). 0 (the
    /// default) keeps every item: items are replaced by id, so a node holds one item per page
    /// plus drafts, and a limit would drop current pages.
    pub max_items_per_node: u32,
    /// Subscriptions accepted per node (more: 403 `subscription_limit`).
    pub max_subscriptions_per_node: u32,
    /// Time limit of one callback request (delivery or verification).
    pub callback_timeout: Duration,
    /// Delay before the first retry; each further retry doubles it.
    pub retry_base: Duration,
    /// Longest delay between two retries.
    pub retry_max: Duration,
    /// A subscription whose deliveries keep failing for this long is removed.
    pub failure_budget: Duration,
    /// The lease of a WebSub subscriber that asks for none.
    pub lease_default: Duration,
    /// The shortest lease granted: shorter requests get this.
    pub lease_min: Duration,
    /// The longest lease granted: longer requests get this.
    pub lease_max: Duration,
    /// How long the record of an ended subscription (why and when) is kept.
    pub dropped_retention: Duration,
    /// Deliveries in flight at once, over all subscribers.
    pub max_concurrent_deliveries: usize,
    /// How long shutdown waits for in-flight deliveries.
    pub shutdown_grace: Duration,
    /// The base URL clients reach the gateway at (no trailing `/`); `None` = `http://<listen>`.
    pub public_url: Option<String>,
    /// A PEM file of certificates trusted for `https://` callbacks besides the system's roots.
    pub callback_ca: Option<PathBuf>,
    /// Verifications of intent one client address may cause per minute; 0 = no limit (see
    /// [`crate::http::ratelimit`]).
    pub verify_per_minute: u32,
    /// Networks callbacks may use; empty = every network not denied.
    pub callback_allow: Vec<Cidr>,
    /// Networks callbacks may not use (see [`crate::netpolicy`]).
    pub callback_deny: Vec<Cidr>,
    /// Time a connection has to send a request's head (see [`crate::server`]).
    pub header_timeout: Duration,
    /// Time a request's body has to arrive (see [`crate::http::deadline`]).
    pub body_timeout: Duration,
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client address; 0 = no limit.
    pub max_connections_per_ip: usize,
    /// XMPP mode settings; `None` = embedded mode (see [`crate::xmpp`]).
    pub xmpp: Option<crate::xmpp::config::XmppConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8086)),
            data_dir: PathBuf::from("wikisync-gateway-data"),
            service: "pubsub.localhost".to_owned(),
            verify: true,
            tokens: Vec::new(),
            sites: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_items_per_node: 0,
            max_subscriptions_per_node: 1000,
            callback_timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(600),
            failure_budget: Duration::from_secs(86_400),
            lease_default: Duration::from_secs(crate::http::websub::DEFAULT_LEASE_SECONDS),
            lease_min: Duration::from_secs(crate::http::websub::MIN_LEASE_SECONDS),
            lease_max: Duration::from_secs(crate::http::websub::MAX_LEASE_SECONDS),
            dropped_retention: Duration::from_secs(30 * 86_400),
            max_concurrent_deliveries: 256,
            shutdown_grace: Duration::from_secs(10),
            public_url: None,
            callback_ca: None,
            verify_per_minute: 30,
            callback_allow: Vec::new(),
            callback_deny: Vec::new(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_connections_per_ip: 64,
            xmpp: None,
        }
    }
}

/// Why the configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    ReadFile {
        /// The file given with `--config`.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has an unknown key or a wrong type.
    #[error("invalid configuration file: {0}")]
    Parse(String),
    /// A value is out of range (the message names it).
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The examples at the end of `wikisync-gateway --help`.
const HELP_EXAMPLES: &str = "Examples:
  # Try it out: listen on 127.0.0.1:8086, data in ./wikisync-gateway-data
  wikisync-gateway

  # Drop-in for Idavoll on a trusted network: no verification of intent, open publishing
  wikisync-gateway --no-verify --service pubsub.example.org

  # Public gateway: publisher tokens, own data directory, reachable through a proxy
  wikisync-gateway --listen 0.0.0.0:8086 --data-dir /var/lib/wikisync-gateway \\
      --token \"$PUBLISHER_TOKEN\" --public-url https://hub.example.org

  # Per-site credentials: each wiki publishes with its own token, and what it publishes is
  # reported to subscribers as coming from that site (its owner may grant others: POST /grant)
  wikisync-gateway --site https://wiki-a.example.org/=\"$TOKEN_A\" \\
      --site https://wiki-b.example.org/=\"$TOKEN_B\"

  # Trust a private CA (or a self-signed callback's certificate) for https:// callbacks
  wikisync-gateway --callback-ca /etc/wikisync/callback-ca.pem

  # A gateway reachable from the Internet: never call back loopback or link-local addresses
  # (cloud metadata), fewer verifications per client address
  wikisync-gateway --callback-deny 127.0.0.0/8,::1/128,169.254.0.0/16,fe80::/10 \\
      --verify-per-minute 10

  # XMPP mode: nodes live on a Prosody/ejabberd pubsub service, the gateway is its component
  wikisync-gateway --service pubsub.example.org --xmpp-component gw.example.org \\
      --xmpp-server 127.0.0.1:5347 --xmpp-secret \"$COMPONENT_SECRET\"

  # Tighter limits and faster retries
  wikisync-gateway --max-body-bytes 262144 --max-items-per-node 5000 \\
      --callback-timeout-ms 3000 --retry-base-ms 500 --failure-budget-secs 3600

  # A test set-up: subscribers dropped after 2 s of failures, leases from 1 s
  wikisync-gateway --failure-budget-secs 2 --lease-min-secs 1 --dropped-retention-secs 600

  # The same settings from the environment or a TOML file (flags win over both)
  WIKISYNC_GATEWAY_TOKENS=alpha,beta wikisync-gateway
  wikisync-gateway --config /etc/wikisync/gateway.toml   # e.g. listen = \"0.0.0.0:8086\"

Startup warnings: with --no-verify the log says verification of intent is off; without any
--token or --site it warns that publishing is open to anyone. Logging: RUST_LOG (default info), on stderr.";

/// Command-line flags of `wikisync-gateway` (each also settable by environment variable).
#[derive(Debug, Default, Parser)]
#[command(
    name = "wikisync-gateway",
    version,
    about = "HTTP publish-subscribe gateway for wikisync: Idavoll's HTTP interface with durable, verified and signed delivery.",
    long_about = "HTTP publish-subscribe gateway for wikisync.\n\nIt speaks Idavoll's HTTP interface (POST /create, /publish, /delete, /subscribe, /unsubscribe; GET /list, /items) and is itself the pubsub service, keeping nodes, items, subscriptions and the delivery outbox in SQLite under --data-dir. Deliveries are durable, retried with backoff and ordered per subscriber. Flags override environment variables, which override the --config TOML file.",
    after_help = HELP_EXAMPLES
)]
pub struct Args {
    /// TOML configuration file (keys as in the documentation, e.g. `listen = "127.0.0.1:8086"`).
    #[arg(long, env = "WIKISYNC_GATEWAY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8086].
    #[arg(long, env = "WIKISYNC_GATEWAY_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database [default: ./wikisync-gateway-data].
    #[arg(long, env = "WIKISYNC_GATEWAY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Pubsub service JID used in node URIs [default: pubsub.localhost].
    #[arg(long, env = "WIKISYNC_GATEWAY_SERVICE", value_name = "JID")]
    pub service: Option<String>,
    /// Do not verify /subscribe and /unsubscribe with a hub.challenge GET (trusted networks only;
    /// the startup log warns).
    #[arg(long, env = "WIKISYNC_GATEWAY_NO_VERIFY")]
    pub no_verify: bool,
    /// A publisher token (repeatable; comma-separated in the environment). With tokens,
    /// /create, /publish and /delete need `Authorization: Bearer <token>`; without any,
    /// publishing is open to anyone (the startup log warns).
    #[arg(
        long = "token",
        env = "WIKISYNC_GATEWAY_TOKENS",
        value_delimiter = ',',
        value_name = "TOKEN"
    )]
    pub tokens: Vec<String>,
    /// A site credential, SITE_ID=TOKEN (repeatable; comma-separated in the environment): the
    /// token authenticates that site (normalized like the core's site ids), nodes it creates
    /// belong to it, and what it publishes carries it as the publisher.
    #[arg(
        long = "site",
        env = "WIKISYNC_GATEWAY_SITES",
        value_delimiter = ',',
        value_name = "SITE_ID=TOKEN"
    )]
    pub sites: Vec<String>,
    /// Largest request body in bytes [default: 1048576].
    #[arg(long, env = "WIKISYNC_GATEWAY_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Items kept per node, oldest dropped first (logged and counted in /metrics); 0 keeps
    /// every item [default: 0].
    #[arg(long, env = "WIKISYNC_GATEWAY_MAX_ITEMS_PER_NODE", value_name = "N")]
    pub max_items_per_node: Option<u32>,
    /// Subscriptions accepted per node [default: 1000].
    #[arg(
        long,
        env = "WIKISYNC_GATEWAY_MAX_SUBSCRIPTIONS_PER_NODE",
        value_name = "N"
    )]
    pub max_subscriptions_per_node: Option<u32>,
    /// Time limit of one callback request in milliseconds [default: 10000].
    #[arg(long, env = "WIKISYNC_GATEWAY_CALLBACK_TIMEOUT_MS", value_name = "MS")]
    pub callback_timeout_ms: Option<u64>,
    /// First retry delay in milliseconds, doubled on each retry [default: 1000].
    #[arg(long, env = "WIKISYNC_GATEWAY_RETRY_BASE_MS", value_name = "MS")]
    pub retry_base_ms: Option<u64>,
    /// Longest retry delay in milliseconds [default: 600000].
    #[arg(long, env = "WIKISYNC_GATEWAY_RETRY_MAX_MS", value_name = "MS")]
    pub retry_max_ms: Option<u64>,
    /// Remove a subscription whose deliveries fail for this many seconds [default: 86400].
    #[arg(
        long,
        env = "WIKISYNC_GATEWAY_FAILURE_BUDGET_SECS",
        value_name = "SECS"
    )]
    pub failure_budget_secs: Option<u64>,
    /// Lease granted to a WebSub subscriber that asks for none, in seconds (a /subscribe
    /// without lease_seconds gets no lease) [default: 864000].
    #[arg(long, env = "WIKISYNC_GATEWAY_LEASE_DEFAULT_SECS", value_name = "SECS")]
    pub lease_default_secs: Option<u64>,
    /// Shortest lease granted, in seconds; shorter requests get this [default: 60].
    #[arg(long, env = "WIKISYNC_GATEWAY_LEASE_MIN_SECS", value_name = "SECS")]
    pub lease_min_secs: Option<u64>,
    /// Longest lease granted, in seconds; longer requests get this [default: 2592000].
    #[arg(long, env = "WIKISYNC_GATEWAY_LEASE_MAX_SECS", value_name = "SECS")]
    pub lease_max_secs: Option<u64>,
    /// How long the record of an ended subscription (why and when, for GET /subscription) is
    /// kept, in seconds [default: 2592000].
    #[arg(
        long,
        env = "WIKISYNC_GATEWAY_DROPPED_RETENTION_SECS",
        value_name = "SECS"
    )]
    pub dropped_retention_secs: Option<u64>,
    /// Deliveries in flight at once [default: 256].
    #[arg(
        long,
        env = "WIKISYNC_GATEWAY_MAX_CONCURRENT_DELIVERIES",
        value_name = "N"
    )]
    pub max_concurrent_deliveries: Option<usize>,
    /// How long shutdown waits for in-flight deliveries, in milliseconds [default: 10000].
    #[arg(long, env = "WIKISYNC_GATEWAY_SHUTDOWN_GRACE_MS", value_name = "MS")]
    pub shutdown_grace_ms: Option<u64>,
    /// Base URL clients reach the gateway at, for WebSub `Link` headers [default: http:// and the --listen address].
    #[arg(long, env = "WIKISYNC_GATEWAY_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// PEM file of extra certificates trusted for https:// callbacks (a private CA, or a
    /// self-signed callback's certificate), besides the system's root store.
    #[arg(long, env = "WIKISYNC_GATEWAY_CALLBACK_CA", value_name = "FILE")]
    pub callback_ca: Option<PathBuf>,
    /// Verifications of intent (/subscribe, /unsubscribe, WebSub subscribe and unsubscribe) one
    /// client address may cause per minute; more are 429 with Retry-After; 0 = no limit
    /// [default: 30].
    #[arg(long, env = "WIKISYNC_GATEWAY_VERIFY_PER_MINUTE", value_name = "N")]
    pub verify_per_minute: Option<u32>,
    /// A network callbacks may use, as CIDR (repeatable; comma-separated in the environment);
    /// once any is given, callbacks may use only these [default: every network].
    #[arg(
        long = "callback-allow",
        env = "WIKISYNC_GATEWAY_CALLBACK_ALLOW",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub callback_allow: Vec<Cidr>,
    /// A network callbacks may not use, as CIDR (repeatable; comma-separated in the
    /// environment), e.g. 127.0.0.0/8 or 169.254.0.0/16; deny wins over allow [default: none].
    #[arg(
        long = "callback-deny",
        env = "WIKISYNC_GATEWAY_CALLBACK_DENY",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub callback_deny: Vec<Cidr>,
    /// Time a connection has to send a request's head, in milliseconds; also the longest a
    /// kept-alive connection may sit idle [default: 10000].
    #[arg(long, env = "WIKISYNC_GATEWAY_HEADER_TIMEOUT_MS", value_name = "MS")]
    pub header_timeout_ms: Option<u64>,
    /// Time a request's body has to arrive once the gateway starts reading it, in milliseconds;
    /// later is 408 [default: 30000].
    #[arg(long, env = "WIKISYNC_GATEWAY_BODY_TIMEOUT_MS", value_name = "MS")]
    pub body_timeout_ms: Option<u64>,
    /// Connections open at once, over all clients; more are answered 503 and closed
    /// [default: 512].
    #[arg(long, env = "WIKISYNC_GATEWAY_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Connections open at once from one client address (IPv6: per /64); 0 = no limit, e.g.
    /// behind a reverse proxy [default: 64].
    #[arg(
        long,
        env = "WIKISYNC_GATEWAY_MAX_CONNECTIONS_PER_IP",
        value_name = "N"
    )]
    pub max_connections_per_ip: Option<usize>,
    /// XMPP mode (see `docs/deploy.md`).
    #[command(flatten)]
    pub xmpp: crate::xmpp::config::XmppArgs,
}

/// The TOML file: every key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    service: Option<String>,
    no_verify: Option<bool>,
    tokens: Option<Vec<String>>,
    sites: Option<Vec<String>>,
    max_body_bytes: Option<usize>,
    max_items_per_node: Option<u32>,
    max_subscriptions_per_node: Option<u32>,
    callback_timeout_ms: Option<u64>,
    retry_base_ms: Option<u64>,
    retry_max_ms: Option<u64>,
    failure_budget_secs: Option<u64>,
    lease_default_secs: Option<u64>,
    lease_min_secs: Option<u64>,
    lease_max_secs: Option<u64>,
    dropped_retention_secs: Option<u64>,
    max_concurrent_deliveries: Option<usize>,
    shutdown_grace_ms: Option<u64>,
    public_url: Option<String>,
    callback_ca: Option<PathBuf>,
    verify_per_minute: Option<u32>,
    callback_allow: Option<Vec<Cidr>>,
    callback_deny: Option<Vec<Cidr>>,
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    xmpp: Option<crate::xmpp::config::XmppFileConfig>,
}

impl Config {
    /// Builds the configuration from parsed flags (and the environment, which clap reads), reading
    /// the TOML file they name, if any.
    pub fn from_args(args: Args) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
                        path: path.clone(),
                        source,
                    })?;
                parse_file(&text)?
            }
            None => FileConfig::default(),
        };
        merge(args, file)
    }

    /// Builds the configuration from TOML text alone (defaults for what it leaves out).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        merge(Args::default(), parse_file(text)?)
    }
}

fn parse_file(text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
}

fn merge(args: Args, file: FileConfig) -> Result<Config, ConfigError> {
    let d = Config::default();
    let ms = Duration::from_millis;
    let config = Config {
        listen: args.listen.or(file.listen).unwrap_or(d.listen),
        data_dir: args.data_dir.or(file.data_dir).unwrap_or(d.data_dir),
        service: case_folded_service(args.service.or(file.service).unwrap_or(d.service)),
        verify: !(args.no_verify || file.no_verify.unwrap_or(false)),
        tokens: if args.tokens.is_empty() {
            file.tokens.unwrap_or_default()
        } else {
            args.tokens
        },
        sites: if args.sites.is_empty() {
            file.sites.unwrap_or_default()
        } else {
            args.sites
        },
        max_body_bytes: args
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(d.max_body_bytes),
        max_items_per_node: args
            .max_items_per_node
            .or(file.max_items_per_node)
            .unwrap_or(d.max_items_per_node),
        max_subscriptions_per_node: args
            .max_subscriptions_per_node
            .or(file.max_subscriptions_per_node)
            .unwrap_or(d.max_subscriptions_per_node),
        callback_timeout: args
            .callback_timeout_ms
            .or(file.callback_timeout_ms)
            .map_or(d.callback_timeout, ms),
        retry_base: args
            .retry_base_ms
            .or(file.retry_base_ms)
            .map_or(d.retry_base, ms),
        retry_max: args
            .retry_max_ms
            .or(file.retry_max_ms)
            .map_or(d.retry_max, ms),
        failure_budget: args
            .failure_budget_secs
            .or(file.failure_budget_secs)
            .map_or(d.failure_budget, Duration::from_secs),
        lease_default: args
            .lease_default_secs
            .or(file.lease_default_secs)
            .map_or(d.lease_default, Duration::from_secs),
        lease_min: args
            .lease_min_secs
            .or(file.lease_min_secs)
            .map_or(d.lease_min, Duration::from_secs),
        lease_max: args
            .lease_max_secs
            .or(file.lease_max_secs)
            .map_or(d.lease_max, Duration::from_secs),
        dropped_retention: args
            .dropped_retention_secs
            .or(file.dropped_retention_secs)
            .map_or(d.dropped_retention, Duration::from_secs),
        max_concurrent_deliveries: args
            .max_concurrent_deliveries
            .or(file.max_concurrent_deliveries)
            .unwrap_or(d.max_concurrent_deliveries),
        shutdown_grace: args
            .shutdown_grace_ms
            .or(file.shutdown_grace_ms)
            .map_or(d.shutdown_grace, ms),
        public_url: args
            .public_url
            .or(file.public_url)
            .map(|u| u.trim_end_matches('/').to_owned()),
        callback_ca: args.callback_ca.or(file.callback_ca),
        verify_per_minute: args
            .verify_per_minute
            .or(file.verify_per_minute)
            .unwrap_or(d.verify_per_minute),
        callback_allow: if args.callback_allow.is_empty() {
            file.callback_allow.unwrap_or_default()
        } else {
            args.callback_allow
        },
        callback_deny: if args.callback_deny.is_empty() {
            file.callback_deny.unwrap_or_default()
        } else {
            args.callback_deny
        },
        header_timeout: args
            .header_timeout_ms
            .or(file.header_timeout_ms)
            .map_or(d.header_timeout, ms),
        body_timeout: args
            .body_timeout_ms
            .or(file.body_timeout_ms)
            .map_or(d.body_timeout, ms),
        max_connections: args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(d.max_connections),
        max_connections_per_ip: args
            .max_connections_per_ip
            .or(file.max_connections_per_ip)
            .unwrap_or(d.max_connections_per_ip),
        xmpp: crate::xmpp::config::XmppConfig::merge(args.xmpp, file.xmpp)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?,
    };
    config.validate()?;
    Ok(config)
}

impl Config {
    /// The lease granted for a requested one (`None`: the default), in whole seconds, clamped
    /// to `lease_min` ..= `lease_max` as WebSub does.
    ///
    /// ```
    /// use wikisync_gateway::config::Config;
    ///
    /// let config = Config::default();
    /// assert_eq!(config.grant_lease(None), 864_000);
    /// assert_eq!(config.grant_lease(Some(1)), 60);
    /// assert_eq!(config.grant_lease(Some(u64::MAX)), 2_592_000);
    /// ```
    pub fn grant_lease(&self, requested: Option<u64>) -> u64 {
        requested
            .unwrap_or(self.lease_default.as_secs())
            .clamp(self.lease_min.as_secs(), self.lease_max.as_secs())
    }

    /// The base URL clients reach the gateway at: `public_url`, or `http://<listen>`.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(base) => base.clone(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The networks callbacks may and may not use.
    pub fn callback_policy(&self) -> CallbackPolicy {
        CallbackPolicy {
            allow: self.callback_allow.clone(),
            deny: self.callback_deny.clone(),
        }
    }

    /// The WebSub hub URL: `<public_url>/hub`, or `http://<listen>/hub`.
    pub fn hub_url(&self) -> String {
        format!("{}/hub", self.public_base())
    }

    /// The site credentials: (normalized site id, token) for each `SITE_ID=TOKEN` of `sites`
    /// (split at the first `=`: a site id cannot hold one; the token without surrounding
    /// whitespace, as bearer tokens are compared).
    pub fn site_credentials(&self) -> Result<Vec<(SiteId, String)>, ConfigError> {
        self.sites
            .iter()
            .map(|entry| {
                let (site, token) = entry.split_once('=').ok_or_else(|| {
                    ConfigError::Invalid(
                        "a site credential is SITE_ID=TOKEN (an '=' between the site id and its token)".to_owned(),
                    )
                })?;
                let site = crate::http::state::parse_site(site).map_err(ConfigError::Invalid)?;
                if token.trim().is_empty() {
                    return Err(ConfigError::Invalid(format!(
                        "the token of site '{site}' must not be empty"
                    )));
                }
                Ok((site, token.trim().to_owned()))
            })
            .collect()
    }

    /// Checks the ranges: non-zero limits, a valid service JID, non-empty tokens.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if crate::uri::NodeUri::parse(&format!("xmpp:{}", self.service)).is_err() {
            return invalid("service must be a valid JID such as pubsub.example.org");
        }
        if self.tokens.iter().any(|t| t.trim().is_empty()) {
            return invalid("tokens must not be empty");
        }
        let sites = self.site_credentials()?;
        for (i, (_, token)) in sites.iter().enumerate() {
            if self.tokens.contains(token) || sites[..i].iter().any(|(_, t)| t == token) {
                return invalid("a site credential's token must be used by no other credential");
            }
        }
        if self.max_body_bytes == 0
            || self.max_subscriptions_per_node == 0
            || self.max_concurrent_deliveries == 0
            || self.max_connections == 0
        {
            return invalid(
                "limits (max_*) must be at least 1 (only max_items_per_node and max_connections_per_ip take 0: no limit)",
            );
        }
        if self.header_timeout.is_zero() || self.body_timeout.is_zero() {
            return invalid("header_timeout_ms and body_timeout_ms must be at least 1");
        }
        if self.callback_timeout.is_zero() || self.retry_base.is_zero() {
            return invalid("callback_timeout_ms and retry_base_ms must be at least 1");
        }
        if self.retry_max < self.retry_base {
            return invalid("retry_max_ms must be at least retry_base_ms");
        }
        if self.lease_min.is_zero()
            || self.lease_min > self.lease_default
            || self.lease_default > self.lease_max
        {
            return invalid(
                "leases need 1 <= lease_min_secs <= lease_default_secs <= lease_max_secs",
            );
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return invalid("public_url must start with http:// or https://");
        }
        Ok(())
    }
}

/// The service JID as node URIs carry it (domain lower-cased, see [`crate::uri`]), so that a
/// configured `PubSub.Example.org` still matches the URIs clients send; an invalid one is
/// kept as given for [`Config::validate`] to refuse.
fn case_folded_service(service: String) -> String {
    crate::uri::NodeUri::parse(&format!("xmpp:{service}"))
        .map(|u| u.service().to_owned())
        .unwrap_or(service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_which_overrides_defaults() {
        let args = Args::try_parse_from([
            "wikisync-gateway",
            "--listen",
            "127.0.0.1:1234",
            "--token",
            "a,b",
            "--callback-ca",
            "ca.pem",
        ])
        .expect("valid flags");
        let file = parse_file(
            "listen = \"127.0.0.1:9999\"\nservice = \"ps.example.org\"\nretry_max_ms = 5000\n",
        )
        .expect("valid file");
        let config = merge(args, file).expect("valid");
        assert_eq!(config.listen, "127.0.0.1:1234".parse().expect("addr"));
        assert_eq!(config.service, "ps.example.org");
        let upper = Config::from_toml_str("service = \"PS.Example.org\"").expect("valid");
        assert_eq!(
            upper.service, "ps.example.org",
            "the domain compares without case"
        );
        assert_eq!(config.retry_max, Duration::from_millis(5000));
        assert_eq!(config.tokens, vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(config.max_body_bytes, 1024 * 1024);
        assert_eq!(config.callback_ca, Some(PathBuf::from("ca.pem")));
        assert!(config.verify);
        let nets = Args::try_parse_from([
            "wikisync-gateway",
            "--callback-deny",
            "127.0.0.0/8,::1",
            "--callback-deny",
            "169.254.0.0/16",
            "--verify-per-minute",
            "5",
        ])
        .expect("valid flags");
        let file =
            parse_file("callback_allow = [\"10.0.0.0/8\"]\ncallback_deny = [\"192.0.2.0/24\"]")
                .expect("valid file");
        let config = merge(nets, file).expect("valid");
        assert_eq!(config.verify_per_minute, 5);
        assert_eq!(
            config
                .callback_deny
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["127.0.0.0/8", "::1/128", "169.254.0.0/16"],
            "flags replace the file's list"
        );
        assert_eq!(
            config.callback_allow.len(),
            1,
            "the file's list when no flag"
        );
        assert!(
            Args::try_parse_from(["wikisync-gateway", "--callback-deny", "10.0.0.0/40"]).is_err()
        );
        assert!(matches!(
            Config::from_toml_str("callback_deny = [\"not a network\"]"),
            Err(ConfigError::Parse(_))
        ));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(matches!(
            Config::from_toml_str("lisen = \"x\""),
            Err(ConfigError::Parse(_))
        ));
        assert!(matches!(
            Config::from_toml_str("listen = 5"),
            Err(ConfigError::Parse(_))
        ));
        assert!(matches!(
            Config::from_toml_str("service = \"@@bad\""),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            Config::from_toml_str("max_subscriptions_per_node = 0"),
            Err(ConfigError::Invalid(_))
        ));
        let unlimited = Config::from_toml_str("max_items_per_node = 0").expect("0 = no limit");
        assert_eq!(unlimited.max_items_per_node, 0);
        assert!(matches!(
            Config::from_toml_str("retry_base_ms = 10\nretry_max_ms = 5"),
            Err(ConfigError::Invalid(_))
        ));
        for leases in [
            "lease_min_secs = 0",
            "lease_min_secs = 100\nlease_default_secs = 50",
            "lease_max_secs = 100",
        ] {
            assert!(
                matches!(Config::from_toml_str(leases), Err(ConfigError::Invalid(_))),
                "{leases}"
            );
        }
        let short = Config::from_toml_str("lease_min_secs = 1\nfailure_budget_secs = 0")
            .expect("short leases and an empty failure budget are valid");
        assert_eq!(short.grant_lease(Some(1)), 1);
    }

    #[test]
    fn site_credentials_are_normalized_and_checked() {
        let args = Args::try_parse_from([
            "wikisync-gateway",
            "--site",
            "HTTP://Wiki.Example.org:80= tok=en ",
            "--site",
            "siteB=t2",
        ])
        .expect("valid flags");
        let config = merge(args, FileConfig::default()).expect("valid");
        let sites = config.site_credentials().expect("valid credentials");
        assert_eq!(sites[0].0.as_str(), "http://wiki.example.org/");
        assert_eq!(sites[0].1, "tok=en", "split at the first '='");
        assert_eq!(sites[1].0.as_str(), "siteB");
        let file = Config::from_toml_str("sites = [\"siteC=t3\"]").expect("valid file");
        assert_eq!(
            file.site_credentials().expect("valid")[0].0.as_str(),
            "siteC"
        );
        for bad in ["siteA", "=tok", "siteA=", "site A=tok"] {
            let config = Config {
                sites: vec![bad.to_owned()],
                ..Config::default()
            };
            assert!(config.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn help_documents_every_flag_and_gives_examples() {
        use clap::CommandFactory;
        let mut command = Args::command();
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            assert!(
                arg.get_help().is_some_and(|h| !h.to_string().is_empty()),
                "--{id} has no help"
            );
            let long = arg.get_long().unwrap_or_default();
            assert!(
                HELP_EXAMPLES.contains(&format!("--{long}"))
                    || ["config", "listen", "data_dir", "service", "public_url"].contains(&id)
                    || arg
                        .get_help()
                        .is_some_and(|h| h.to_string().contains("default")),
                "--{long}: neither an example nor a stated default"
            );
        }
        let help = command.render_long_help().to_string();
        assert!(help.contains("Examples:"));
        assert!(help.contains("--callback-ca"));
        assert!(help.contains("WIKISYNC_GATEWAY_CALLBACK_CA"));
        // Every example parses (continued lines joined).
        let joined = HELP_EXAMPLES.replace("\\\n", " ");
        let mut parsed = 0;
        for line in joined.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("wikisync-gateway") {
                let mut argv = vec!["wikisync-gateway".to_owned()];
                argv.extend(
                    rest.split('#')
                        .next()
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(|w| w.trim_matches('"').to_owned()),
                );
                Args::try_parse_from(&argv).unwrap_or_else(|e| panic!("{line}: {e}"));
                parsed += 1;
            }
        }
        assert!(parsed >= 6, "{parsed} examples parsed");
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Config::from_toml_str("").expect("empty file is valid");
        assert_eq!(config, Config::default());
        assert_eq!(config.listen.to_string(), "127.0.0.1:8086");
    }
}
