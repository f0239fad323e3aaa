//! [`AppState`]: what every handler shares (store, configuration, HTTP client, publisher
//! tokens, counters), and the checks that need it (the caller's token, node URIs of this
//! service).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::{HeaderMap, header};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::input::constant_time_eq;
use super::ratelimit::RateLimiter;
use crate::config::Config;
use crate::delivery::{DeliveryMetrics, HttpClient};
use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::store::sql::nodes::SITE_OWNER_PREFIX;
use crate::uri::{NodeUri, REMOTE_KEY_PREFIX, is_remote_key};
use wikisync_core::entry::SiteId;

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: Config,
    client: HttpClient,
    /// Every credential: SHA-256 of its token, and who it authenticates.
    credentials: Vec<([u8; 32], Identity)>,
    delivery_metrics: Arc<DeliveryMetrics>,
    publishes: AtomicU64,
    /// Subscriptions whose verification of intent is under way, by (node key, callback).
    intents: Mutex<HashMap<(String, String), PendingIntent>>,
    next_intent: AtomicU64,
    /// Verifications of intent per client address (`--verify-per-minute`).
    verifications: RateLimiter,
}

/// A subscription request whose verification of intent is under way (`GET /subscription` says
/// `pending`).
#[derive(Clone, Debug)]
pub(crate) struct PendingIntent {
    /// SHA-256 of the secret it asked for, the key of `GET /subscription`.
    pub(crate) secret_digest: Option<[u8; 32]>,
    /// Whether it came through WebSub.
    pub(crate) websub: bool,
    /// When it came, Unix ms.
    pub(crate) since_ms: i64,
    token: u64,
}

/// Keeps a [`PendingIntent`] registered until dropped (the verification ended, one way or the
/// other).
pub(crate) struct IntentGuard {
    state: AppState,
    key: (String, String),
    token: u64,
}

impl Drop for IntentGuard {
    fn drop(&mut self) {
        let mut intents = lock(&self.state.inner.intents);
        if intents
            .get(&self.key)
            .is_some_and(|i| i.token == self.token)
        {
            intents.remove(&self.key);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned map only means a holder panicked mid-update; the map itself stays usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AppState {
    /// State over `store`, using `client` for verification requests.
    pub fn new(
        store: Store,
        config: Config,
        client: HttpClient,
        delivery_metrics: Arc<DeliveryMetrics>,
    ) -> Self {
        let anonymous = config.tokens.iter().map(|t| {
            let who = Identity {
                owner: owner_id(t),
                site: None,
            };
            (token_digest(t), who)
        });
        // Validated with the configuration: a bad entry here is left out (and was refused at
        // start by `Config::validate`).
        let sites = config.site_credentials().unwrap_or_default();
        let sites = sites.into_iter().map(|(site, t)| {
            let who = Identity {
                owner: site_owner_id(&site),
                site: Some(site),
            };
            (token_digest(&t), who)
        });
        let credentials = anonymous.chain(sites).collect();
        Self {
            inner: Arc::new(Inner {
                store,
                client,
                credentials,
                delivery_metrics,
                publishes: AtomicU64::new(0),
                intents: Mutex::default(),
                next_intent: AtomicU64::new(0),
                verifications: RateLimiter::new(config.verify_per_minute),
                config,
            }),
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("service", &self.inner.config.service)
            .finish_non_exhaustive()
    }
}

/// Who a valid credential authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The owner id recorded for the nodes it creates: [`owner_id`] of an anonymous token,
    /// [`site_owner_id`] of a site credential.
    pub owner: String,
    /// The site of a site credential (`None`: an anonymous token, whose publishes carry no
    /// publisher).
    pub site: Option<SiteId>,
}

/// The token of an `Authorization: Bearer <token>` header, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// SHA-256 of a token: all that is kept of it.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The owner id recorded for nodes created with the credential of `site`: `site:<site id>`.
pub fn site_owner_id(site: &SiteId) -> String {
    format!("{SITE_OWNER_PREFIX}{site}")
}

/// Most bytes of a site id.
pub const MAX_SITE_ID_BYTES: usize = 1024;

/// A site id as given (`--site`, `site=` of `/grant`), normalized as the core normalizes site
/// ids ([`SiteId`]); the error is a sentence: empty, too long, or not printable ASCII without
/// whitespace and `=` (the id travels in an HTTP header).
pub fn parse_site(text: &str) -> Result<SiteId, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(
            "the site id is empty; give a site id such as https://wiki.example.org/".into(),
        );
    }
    if trimmed.len() > MAX_SITE_ID_BYTES {
        return Err(format!(
            "the site id is longer than {MAX_SITE_ID_BYTES} bytes"
        ));
    }
    if !trimmed.bytes().all(|b| b.is_ascii_graphic() && b != b'=') {
        return Err(
            "the site id must be printable ASCII without whitespace or '=' (percent-encode other characters); give a site id such as https://wiki.example.org/".into(),
        );
    }
    Ok(SiteId::new(trimmed))
}

/// The owner id recorded for nodes created with `token`: `token:` + 16 hex digits of its SHA-256.
pub fn owner_id(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    format!("token:{}", &crate::hex::lower(&digest)[..16])
}

impl AppState {
    fn service(&self) -> &str {
        &self.inner.config.service
    }

    /// The gateway's configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The client for verification requests and denials.
    pub(crate) fn client(&self) -> &HttpClient {
        &self.inner.client
    }

    /// The delivery worker's counters.
    pub(crate) fn delivery_metrics(&self) -> &DeliveryMetrics {
        &self.inner.delivery_metrics
    }

    /// Counts an entry accepted by `/publish`.
    pub(crate) fn count_publish(&self) {
        self.inner.publishes.fetch_add(1, Ordering::Relaxed);
    }

    /// Entries accepted by `/publish` since start.
    pub(crate) fn publishes(&self) -> u64 {
        self.inner.publishes.load(Ordering::Relaxed)
    }

    /// Registers a subscription request of `callback` to `node` (storage key) whose
    /// verification is under way, until the guard is dropped.
    pub(crate) fn begin_intent(
        &self,
        node: &str,
        callback: &str,
        secret: Option<&str>,
        websub: bool,
    ) -> IntentGuard {
        let token = self.inner.next_intent.fetch_add(1, Ordering::Relaxed);
        let key = (node.to_owned(), callback.to_owned());
        let intent = PendingIntent {
            secret_digest: secret.map(crate::store::secret_digest),
            websub,
            since_ms: crate::time::now_ms(),
            token,
        };
        lock(&self.inner.intents).insert(key.clone(), intent);
        IntentGuard {
            state: self.clone(),
            key,
            token,
        }
    }

    /// The subscription request of `callback` to `node` being verified now, if any.
    pub(crate) fn pending_intent(&self, node: &str, callback: &str) -> Option<PendingIntent> {
        lock(&self.inner.intents)
            .get(&(node.to_owned(), callback.to_owned()))
            .cloned()
    }

    /// Whether the request carries a valid publisher token (never with open publishing): such
    /// a caller is told why a verification of intent failed, anyone else gets one uniform
    /// answer.
    pub(crate) fn is_authenticated(&self, headers: &HeaderMap) -> bool {
        !self.inner.credentials.is_empty() && self.owner(headers).is_ok()
    }

    /// Counts a verification of intent `client` asks for (`None`: the address is unknown):
    /// 429 `too_many_requests` beyond `--verify-per-minute`.
    pub(crate) fn count_verification(&self, client: Option<IpAddr>) -> ApiResult<()> {
        self.inner
            .verifications
            .take(client, std::time::Instant::now())
            .map_err(|wait| ApiError::too_many_requests("verification requests", wait))
    }

    /// Checks the callback's address against `--callback-allow` / `--callback-deny`: 403
    /// `callback_not_allowed` when it has no address the gateway may call.
    pub(crate) async fn check_callback_network(&self, callback: &str) -> ApiResult<()> {
        if !self
            .inner
            .config
            .callback_policy()
            .permits_callback(callback)
            .await
        {
            tracing::info!(%callback, "callback refused: its address is in a network callbacks may not use");
            return Err(ApiError::forbidden(
                "callback_not_allowed",
                "the callback's address is in a network this gateway does not call back (--callback-allow, --callback-deny)",
            ));
        }
        Ok(())
    }

    /// The caller's owner id: `None` with open publishing, else the id of a valid bearer token.
    pub(crate) fn owner(&self, headers: &HeaderMap) -> ApiResult<Option<String>> {
        Ok(self.caller(headers)?.map(|who| who.owner))
    }

    /// Who the caller is: `None` with open publishing (no credential configured), else the
    /// identity of a valid bearer token (401 without one).
    pub(crate) fn caller(&self, headers: &HeaderMap) -> ApiResult<Option<Identity>> {
        if self.inner.credentials.is_empty() {
            return Ok(None);
        }
        let given = bearer(headers).ok_or_else(|| {
            ApiError::unauthorized(
                "this gateway requires 'Authorization: Bearer <token>' to publish",
            )
        })?;
        let given = token_digest(given);
        // Every digest is compared (in constant time), so the time taken does not tell which.
        let mut found = None;
        for (digest, who) in &self.inner.credentials {
            if constant_time_eq(digest, &given) && found.is_none() {
                found = Some(who.clone());
            }
        }
        found
            .map(Some)
            .ok_or_else(|| ApiError::unauthorized("the bearer token is not valid"))
    }

    /// Whether publishing needs a credential (any `--token` or `--site` configured): only then
    /// can a node be restricted to readers.
    pub(crate) fn has_credentials(&self) -> bool {
        !self.inner.credentials.is_empty()
    }

    /// Checks that the caller may read `node` (storage key): anyone when the node is open (or
    /// not stored here: the handler answers for that), else a bearer token that is one of the
    /// node's reader credentials, its owner's, or a granted site's; 401 `reader_required`
    /// without one, 403 `not_a_reader` with another.
    pub(crate) async fn check_reader(&self, headers: &HeaderMap, node: &str) -> ApiResult<()> {
        let Some(policy) = self.inner.store.read_policy(node.to_owned()).await? else {
            return Ok(());
        };
        let given = bearer(headers).ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "reader_required",
                "this node is restricted to readers: send 'Authorization: Bearer <token>' with a reader credential its owner granted (POST /readers), or the credential of its owner or of a site granted publishing",
            )
        })?;
        let given = token_digest(given);
        // Every digest is compared (in constant time), so the time taken does not tell which.
        let mut reader = false;
        for (digest, who) in &self.inner.credentials {
            reader |=
                constant_time_eq(digest, &given) && crate::store::is_publisher(&policy, &who.owner);
        }
        for digest in &policy.readers {
            reader |= constant_time_eq(digest, &given);
        }
        if reader {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "not_a_reader",
                "this node is restricted to readers, and this bearer token is not one of its reader credentials, nor its owner's or a granted site's",
            ))
        }
    }

    /// Parses a node URI naming a node of this service.
    pub(crate) fn local_uri(&self, field: &str, text: &str) -> ApiResult<NodeUri> {
        let uri = NodeUri::parse(text).map_err(|e| ApiError::bad_uri(field, &e))?;
        if uri.service() != self.service() {
            return Err(ApiError::not_found(
                "unknown_service",
                format!(
                    "this gateway serves '{}', not '{}'",
                    self.service(),
                    uri.service()
                ),
            ));
        }
        Ok(uri)
    }

    /// Like [`Self::local_uri`], refusing the root collection and reserved node ids.
    pub(crate) fn leaf_uri(&self, field: &str, text: &str) -> ApiResult<NodeUri> {
        let uri = self.local_uri(field, text)?;
        if uri.is_root() {
            return Err(ApiError::bad_request(
                "root_node",
                format!(
                    "{field} names the root collection; give a node (xmpp:<service>?;node=<id>)"
                ),
            ));
        }
        if is_remote_key(uri.node()) {
            return Err(reserved_node());
        }
        Ok(uri)
    }

    /// Parses the node URI of a subscription or an item read, and gives the node's storage
    /// key: a node of this service, or (XMPP mode: remote subscriptions, as Idavoll's
    /// remote-node resources) a node of any other pubsub service.
    pub(crate) fn subscribable_uri(&self, field: &str, text: &str) -> ApiResult<(NodeUri, String)> {
        let uri = NodeUri::parse(text).map_err(|e| ApiError::bad_uri(field, &e))?;
        if uri.service() == self.service() {
            if is_remote_key(uri.node()) {
                return Err(reserved_node());
            }
            let key = crate::uri::storage_key(&uri, self.service());
            return Ok((uri, key));
        }
        if !self.inner.store.remote_nodes() {
            return Err(ApiError::not_found(
                "unknown_service",
                format!(
                    "this gateway serves '{}', not '{}' (nodes of other services can be subscribed to in XMPP mode only)",
                    self.service(),
                    uri.service()
                ),
            ));
        }
        if uri.is_root() {
            return Err(ApiError::bad_request(
                "root_node",
                format!(
                    "{field} names the root collection of another service; give one of its nodes (xmpp:<service>?;node=<id>)"
                ),
            ));
        }
        let key = crate::uri::storage_key(&uri, self.service());
        Ok((uri, key))
    }

    /// The JSON answer `{"uri": <canonical URI of node>}`.
    pub(crate) fn uri_json(&self, node: &str) -> Json<serde_json::Value> {
        Json(json!({ "uri": NodeUri::new(self.service(), node).to_string() }))
    }
}

fn reserved_node() -> ApiError {
    ApiError::bad_request(
        "reserved_node",
        format!(
            "node ids starting with '{REMOTE_KEY_PREFIX}' are reserved (the gateway stores nodes of other services under their URI)"
        ),
    )
}
