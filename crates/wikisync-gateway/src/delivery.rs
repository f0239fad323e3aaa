//! Delivery: the outbox worker that POSTs events to subscriber callbacks, and the callback
//! requests that go with it (verification of intent, signatures).
//!
//! # Guarantees
//!
//! - **At least once**: a delivery leaves the outbox only after the callback answered 2xx. A crash
//!   between the answer and the bookkeeping re-sends it after restart, so subscribers must be
//!   idempotent (wikisync entries are: the same revision applied twice changes nothing).
//! - **Ordered per subscriber**: each subscriber's queue is worked by at most one task at a time,
//!   head first; a failing head blocks only its own queue.
//! - **Independent**: queues run concurrently (up to `max_concurrent_deliveries` requests in
//!   flight); a slow or dead subscriber never delays another one or the publisher.
//!
//! # Failure policy
//!
//! | callback answer | what happens |
//! |---|---|
//! | 2xx | delivered, next in queue |
//! | 410 Gone | the subscription and its queue are removed at once |
//! | anything else, timeout, connection error | retried after `min(retry_max, retry_base × 2^(attempts−1))` with jitter (a random delay between half and all of it), or after `Retry-After` (seconds or HTTP date, at most 24 h) when that is longer |
//! | failing continuously for `failure_budget` (default 24 h) | the subscription and its queue are removed |
//!
//! A removed subscription is remembered with its reason (`gone`, `failure_budget`; and
//! `lease_expired`, `unsubscribed`, `node_deleted` from elsewhere) for `dropped_retention`, so the
//! subscriber can learn why at its next contact (`GET /subscription`).
//!
//! # Callback requests
//!
//! Callbacks are `http://` or `https://` URLs; one client ([`HttpClient`], rustls) sends
//! deliveries, verifications and denials, checking `https://` certificates against
//! [`system_roots`] plus the `--callback-ca` certificates ([`http_client_trusting`]).
//!
//! Every delivery is a `POST` with `Referer: <canonical xmpp node URI>` and
//! `PubSub-Service: <service JID>`, and, when the subscription has a secret,
//! `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body keyed with the secret>`.
//!
//! - item published: `Content-Type: application/atom+xml;type=entry;charset=utf-8`, body = entry;
//! - item retracted: `Event: RETRACTED`, same content type, body = an RFC 6721 tombstone
//!   `<at:deleted-entry xmlns:at="http://purl.org/atompub/tombstones/1.0" ref="<item id>" when="<RFC 3339>"/>`;
//! - node deleted: `Event: DELETED`, empty body, and `Link: <redirect uri>; rel=alternate` when the
//!   deletion carried a redirect.
//!
//! WebSub subscriptions (made through `POST /hub`, see [`crate::http::websub`]) get fat pings instead: an
//! Atom feed holding the entry or tombstone, `Content-Type:` [`FEED_CONTENT_TYPE`], and
//! `Link: <hub>; rel="hub", <topic>; rel="self"`; a node deletion is a `hub.mode=denied` GET.
//!
//! # Scheduling
//!
//! After each commit the store marks the queues it added deliveries to; the dispatcher keeps the
//! state of every non-empty queue in memory (worked, or waiting until its head is due), starts at
//! most one worker per queue, and scans the outbox only once, at start. A worker fetches up to 64
//! deliveries at a time and acknowledges the delivered ones while fetching the next batch (one
//! store round trip per batch); a crash before the acknowledgement re-sends them, which
//! at-least-once allows.
//!
//! Verification of intent ([`verify_intent`]) is a `GET` of the callback with `hub.mode`
//! (`subscribe` or `unsubscribe`), `hub.topic` (the node URI) and `hub.challenge` (random) added to
//! its query; the callback confirms by answering 2xx with exactly the challenge as body.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::Sha256;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::netpolicy::{CallbackPolicy, PolicyConnector};
use crate::store::{Delivery, DropReason, EventKind, QueueSignal, Store};
use crate::time::now_ms;

/// The content type of entries sent to callbacks.
pub const ENTRY_CONTENT_TYPE: &str = "application/atom+xml;type=entry;charset=utf-8";

/// Largest callback response body read (the rest is ignored).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// The HTTP client used for callbacks: `http://` and `https://` (rustls, TLS 1.2 and 1.3).
pub type HttpClient = Client<HttpsConnector<PolicyConnector>, Full<Bytes>>;

/// A new callback client trusting the system's root certificates (see [`system_roots`]).
pub fn http_client() -> HttpClient {
    http_client_trusting(&[])
}

/// A new callback client trusting the system's root certificates plus `extra` (the
/// `--callback-ca` certificates, e.g. a private CA or a self-signed callback's certificate).
pub fn http_client_trusting(extra: &[CertificateDer<'static>]) -> HttpClient {
    http_client_with(extra, Arc::default())
}

/// A new callback client trusting the system's root certificates plus `extra`, calling only
/// addresses `policy` permits (see [`crate::netpolicy`]).
pub fn http_client_with(
    extra: &[CertificateDer<'static>],
    policy: Arc<CallbackPolicy>,
) -> HttpClient {
    let mut roots = system_roots().clone();
    let (_, ignored) = roots.add_parsable_certificates(extra.iter().cloned());
    if ignored > 0 {
        tracing::warn!(
            ignored,
            "callback CA certificates rustls cannot use were ignored"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        // The ring provider supports the safe default versions, so this cannot fail.
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = PolicyConnector::new(policy, |connector| {
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        connector.enforce_http(false);
    });
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector)
}

/// The root certificates `https://` callbacks are checked against: the operating system's store
/// (read once, through `rustls-native-certs`; `SSL_CERT_FILE` and `SSL_CERT_DIR` override it), or
/// Mozilla's roots built into the gateway (`webpki-roots`) when the system store is empty or
/// unreadable, as in minimal containers.
pub fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!(error = %e, "while reading the system root certificates");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::debug!(ignored, "system root certificates rustls cannot use");
        }
        if added == 0 {
            tracing::warn!(
                "no usable root certificates in the system store; https callbacks are checked against the built-in Mozilla roots"
            );
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}

/// Why `--callback-ca` could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackCaError {
    /// The file could not be opened or read, or a PEM section in it is malformed.
    #[error("cannot read the callback CA file {path}: {reason}")]
    Read {
        /// The file given.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file holds no `CERTIFICATE` PEM section.
    #[error("the callback CA file {0} holds no PEM certificate")]
    NoCertificate(PathBuf),
}

/// Reads the PEM certificates of a `--callback-ca` file (every `CERTIFICATE` section; other
/// sections, such as keys, are skipped).
pub fn load_callback_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, CallbackCaError> {
    let read_error = |e: rustls::pki_types::pem::Error| CallbackCaError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    if certs.is_empty() {
        return Err(CallbackCaError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// Settings of the delivery worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// The service JID (for `Referer` and `PubSub-Service`).
    pub service: String,
    /// The WebSub hub URL (for `Link: <hub>; rel="hub"` on WebSub deliveries).
    pub hub_url: String,
    /// Time limit of one callback request.
    pub callback_timeout: Duration,
    /// First retry delay.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// How long a subscription may keep failing before it is removed.
    pub failure_budget: Duration,
    /// How long the record of an ended subscription (why and when) is kept.
    pub dropped_retention: Duration,
    /// Requests in flight at once.
    pub max_concurrent: usize,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct DeliveryMetrics {
    /// Callbacks answered 2xx.
    pub delivered: AtomicU64,
    /// Failed attempts (non-2xx, timeouts, connection errors).
    pub failed_attempts: AtomicU64,
    /// Subscriptions removed because the callback answered 410.
    pub unsubscribed_gone: AtomicU64,
    /// Subscriptions removed because their failure budget was spent.
    pub unsubscribed_budget: AtomicU64,
    /// Subscriptions removed because their lease ended.
    pub unsubscribed_lease: AtomicU64,
}

struct Inner {
    store: Store,
    client: HttpClient,
    config: DeliveryConfig,
    signal: Arc<QueueSignal>,
    permits: Semaphore,
    metrics: Arc<DeliveryMetrics>,
}

/// A running delivery worker; [`DeliveryHandle::shutdown`] stops it.
#[derive(Debug)]
pub struct DeliveryHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl DeliveryHandle {
    /// Stops starting new deliveries and waits up to `grace` for those in flight; what is left
    /// stays in the outbox for the next start.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!(
                ?grace,
                "deliveries still in flight after the shutdown grace; they stay queued"
            );
            abort.abort();
        }
    }
}

/// Starts the delivery worker. `signal` must be the one the store marks after commits.
pub fn spawn(
    store: Store,
    client: HttpClient,
    config: DeliveryConfig,
    signal: Arc<QueueSignal>,
    metrics: Arc<DeliveryMetrics>,
) -> DeliveryHandle {
    let (stop, stop_rx) = watch::channel(false);
    let inner = Arc::new(Inner {
        store,
        client,
        permits: Semaphore::new(config.max_concurrent),
        config,
        signal,
        metrics,
    });
    let task = tokio::spawn(dispatch(inner, stop_rx));
    DeliveryHandle { stop, task }
}

/// Deliveries fetched (and acknowledged) per store round trip.
const BATCH: u32 = 64;

/// How often expired leases are swept away (and sooner when a lease known at the last sweep
/// ends sooner), and old records of ended subscriptions forgotten.
const LEASE_SWEEP: Duration = Duration::from_secs(10);

/// What the dispatcher knows about one queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum QueueState {
    /// A worker is on it; `more` = new deliveries arrived meanwhile, so run it again after.
    Working { more: bool },
    /// No worker; the head is due at this time (Unix ms).
    WaitingUntil(i64),
}

/// Schedules queue workers: one per queue at a time, started when the store marks a queue, when
/// a waiting queue's head falls due, or (once, at start) for every queue in the outbox.
///
/// The dispatcher keeps the state of every non-empty queue in memory, so a publish costs it no
/// outbox scan: the store hands over the queues it touched ([`QueueSignal`]).
async fn dispatch(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let mut workers: JoinSet<(i64, Option<i64>)> = JoinSet::new();
    let mut queues: HashMap<i64, QueueState> = HashMap::new();
    let worker_stop = stop.clone();
    let start = |workers: &mut JoinSet<(i64, Option<i64>)>, sub_key: i64| {
        let worker = tokio::spawn(work_queue(inner.clone(), sub_key, worker_stop.clone()));
        workers.spawn(async move {
            // Should a worker ever panic, its queue is retried in a second instead of stalling.
            worker.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, sub_key, "a delivery worker failed");
                (sub_key, Some(now_ms() + 1000))
            })
        });
    };
    // Every queue left from the last run (or from a crash).
    loop {
        match inner.store.queue_heads().await {
            Ok(heads) => {
                for head in heads {
                    queues.insert(head.sub_key, QueueState::WaitingUntil(head.next_attempt_ms));
                }
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox; retrying in 1 s");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
    let mut next_sweep = now_ms();
    loop {
        if *stop.borrow() {
            break;
        }
        let now = now_ms();
        if let Some(end) = inner.signal.take_lease_end() {
            next_sweep = next_sweep.min(end);
        }
        if now >= next_sweep {
            next_sweep = now + i64::try_from(LEASE_SWEEP.as_millis()).unwrap_or(10_000);
            match inner
                .store
                .sweep(now, Some(inner.config.dropped_retention))
                .await
            {
                Ok(swept) => {
                    if swept.expired > 0 {
                        inner
                            .metrics
                            .unsubscribed_lease
                            .fetch_add(swept.expired, Ordering::Relaxed);
                        tracing::info!(expired = swept.expired, "leases ended: unsubscribed");
                    }
                    if let Some(end) = swept.next_lease_end_ms {
                        next_sweep = next_sweep.min(end.max(now + 1));
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot sweep expired leases"),
            }
        }
        for sub_key in inner.signal.take() {
            match queues.get_mut(&sub_key) {
                Some(QueueState::Working { more }) => *more = true,
                _ => {
                    queues.insert(sub_key, QueueState::Working { more: false });
                    start(&mut workers, sub_key);
                }
            }
        }
        let mut next_due = next_sweep;
        for (sub_key, state) in &mut queues {
            if let QueueState::WaitingUntil(due) = *state {
                if due <= now {
                    *state = QueueState::Working { more: false };
                    start(&mut workers, *sub_key);
                } else {
                    next_due = next_due.min(due);
                }
            }
        }
        let wait =
            Duration::from_millis(u64::try_from((next_due - now).clamp(1, 60_000)).unwrap_or(1));
        tokio::select! {
            () = inner.signal.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
            Some(joined) = workers.join_next(), if !workers.is_empty() => {
                finished(&mut queues, &mut workers, joined, &start);
                // Collect every other finished worker without waiting.
                while let Some(joined) = workers.try_join_next() {
                    finished(&mut queues, &mut workers, joined, &start);
                }
            }
        }
    }
    while workers.join_next().await.is_some() {}
}

/// Books a finished worker: runs it again if its queue got more meanwhile, else remembers when
/// its head is due (or forgets an empty queue).
fn finished(
    queues: &mut HashMap<i64, QueueState>,
    workers: &mut JoinSet<(i64, Option<i64>)>,
    joined: Result<(i64, Option<i64>), tokio::task::JoinError>,
    start: &impl Fn(&mut JoinSet<(i64, Option<i64>)>, i64),
) {
    let (sub_key, due) = match joined {
        Ok(result) => result,
        Err(e) => {
            // Only when the wrapper task itself was cancelled (shutdown): nothing to book.
            tracing::debug!(error = %e, "a delivery worker was cancelled");
            return;
        }
    };
    let more = matches!(
        queues.get(&sub_key),
        Some(QueueState::Working { more: true })
    );
    if more {
        queues.insert(sub_key, QueueState::Working { more: false });
        start(workers, sub_key);
    } else if let Some(due) = due {
        queues.insert(sub_key, QueueState::WaitingUntil(due));
    } else {
        queues.remove(&sub_key);
    }
}

enum Outcome {
    Delivered,
    Gone,
    Failed {
        retry_after: Option<Duration>,
        reason: String,
    },
}

/// Works one subscriber's queue, head first, batch by batch, until it is empty (returns `None`),
/// or its head is not yet due or failed (returns when to try again).
async fn work_queue(
    inner: Arc<Inner>,
    sub_key: i64,
    stop: watch::Receiver<bool>,
) -> (i64, Option<i64>) {
    let mut delivered = Vec::new();
    loop {
        let limit = if *stop.borrow() { 0 } else { BATCH };
        let batch = match inner
            .store
            .advance(sub_key, std::mem::take(&mut delivered), limit)
            .await
        {
            Ok(batch) => batch,
            Err(e) => {
                tracing::error!(error = %e, sub_key, "cannot read the queue");
                return (sub_key, Some(now_ms() + 1000));
            }
        };
        if batch.is_empty() {
            // Stopping leaves the rest queued for the next start.
            return (sub_key, None);
        }
        for head in batch {
            let now = now_ms();
            if *stop.borrow() || head.next_attempt_ms > now {
                let due = head.next_attempt_ms.max(now);
                let _ = inner.store.advance(sub_key, delivered, 0).await;
                return (sub_key, (!*stop.borrow()).then_some(due));
            }
            let outcome = match inner.permits.acquire().await {
                Ok(_permit) => attempt(&inner, &head).await,
                Err(_) => return (sub_key, None),
            };
            if let Outcome::Delivered = outcome {
                inner.metrics.delivered.fetch_add(1, Ordering::Relaxed);
                delivered.push(head.id);
                continue;
            }
            if let Err(e) = inner.store.advance(sub_key, delivered, 0).await {
                tracing::error!(error = %e, "cannot record deliveries");
            }
            let due = settle(&inner, &head, outcome).await;
            return (sub_key, due);
        }
    }
}

/// Records a failed outcome (410 or another failure); returns when the queue's head is due
/// again, or `None` when the subscriber was removed.
async fn settle(inner: &Inner, head: &Delivery, outcome: Outcome) -> Option<i64> {
    let store = &inner.store;
    let now = now_ms();
    let (result, due) = match outcome {
        // Delivered heads are acknowledged in batches by the worker.
        Outcome::Delivered => return Some(now),
        Outcome::Gone => {
            inner
                .metrics
                .unsubscribed_gone
                .fetch_add(1, Ordering::Relaxed);
            tracing::info!(callback = %head.callback, node = %head.node, "callback answered 410 Gone: unsubscribed");
            (
                store.drop_subscriber(head.sub_key, DropReason::Gone).await,
                None,
            )
        }
        Outcome::Failed {
            retry_after,
            reason,
        } => {
            inner
                .metrics
                .failed_attempts
                .fetch_add(1, Ordering::Relaxed);
            let streak = now - head.first_failure_ms.unwrap_or(now);
            if Duration::from_millis(u64::try_from(streak).unwrap_or(0))
                >= inner.config.failure_budget
            {
                inner
                    .metrics
                    .unsubscribed_budget
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(callback = %head.callback, node = %head.node, %reason,
                    "callback failing longer than the failure budget: unsubscribed");
                (
                    store
                        .drop_subscriber(head.sub_key, DropReason::FailureBudget)
                        .await,
                    None,
                )
            } else {
                let mut delay = backoff(
                    head.attempts + 1,
                    inner.config.retry_base,
                    inner.config.retry_max,
                );
                if let Some(after) = retry_after {
                    delay = delay.max(after.min(MAX_RETRY_AFTER));
                }
                tracing::debug!(callback = %head.callback, %reason, ?delay, attempts = head.attempts + 1, "delivery failed; will retry");
                let next = now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                (store.delivery_failed(head.id, next, now).await, Some(next))
            }
        }
    };
    match result {
        Ok(()) => due,
        Err(e) => {
            tracing::error!(error = %e, "cannot record a delivery outcome; retrying in 1 s");
            Some(now + 1000)
        }
    }
}

/// The delay before retry number `attempt` (1-based): exponential, capped, with jitter between
/// half and all of it.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp).min(max);
    let half = full / 2;
    let spread = u64::try_from(half.as_millis())
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    half + Duration::from_millis(random_u64() % spread)
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // Without randomness the jitter is zero, which only weakens spreading, never correctness.
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// Parses `Retry-After`: delta seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `sha256=<hex>` for `X-Hub-Signature`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", crate::hex::lower(&mac.finalize().into_bytes()))
}

/// The header naming the authenticated site that published (or retracted) a delivered item.
pub const PUBLISHER_HEADER: &str = "X-Wikisync-Publisher";

/// The header signing the publisher with the body: see [`publisher_signature`].
pub const PUBLISHER_SIGNATURE_HEADER: &str = "X-Wikisync-Signature";

/// `sha256=<hex>` for `X-Wikisync-Signature`: HMAC-SHA256 keyed with the subscription's secret
/// over the publisher's site id (UTF-8), one line feed (`\n`), then the body, so that neither
/// can be changed without the other (`X-Hub-Signature` covers the body alone, as WebSub says).
pub fn publisher_signature(secret: &str, publisher: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(publisher.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    format!("sha256={}", crate::hex::lower(&mac.finalize().into_bytes()))
}

/// The content type of the fat pings sent to WebSub subscribers (the topic's, as `/items`).
pub const FEED_CONTENT_TYPE: &str = "application/atom+xml;type=feed;charset=utf-8";

fn build_request(
    service: &str,
    hub_url: &str,
    d: &Delivery,
) -> Result<Request<Full<Bytes>>, String> {
    if let (Some(topic), EventKind::Deleted) = (&d.topic, d.kind) {
        return denial_request(&d.callback, topic, "the topic was deleted");
    }
    let uri: Uri = d
        .callback
        .parse()
        .map_err(|e| format!("bad callback URL: {e}"))?;
    // A node followed on another service (remote subscription) is stored under its URI.
    let node = crate::uri::from_storage_key(service, &d.node);
    let node_uri = node.to_string();
    let mut builder = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::REFERER, &node_uri)
        .header("PubSub-Service", node.service())
        .header(
            header::USER_AGENT,
            concat!("wikisync-gateway/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(topic) = &d.topic {
        // WebSub fat ping: the topic (the node's feed) reduced to the new entry or tombstone.
        builder = builder
            .header(header::CONTENT_TYPE, FEED_CONTENT_TYPE)
            .header(
                header::LINK,
                format!("<{hub_url}>; rel=\"hub\", <{topic}>; rel=\"self\""),
            );
        if d.kind == EventKind::Retracted {
            builder = builder.header("Event", "RETRACTED");
        }
    }
    let body = match (d.kind, &d.topic) {
        (EventKind::Item | EventKind::Retracted, Some(topic)) => {
            Bytes::from(crate::atom::items_feed(
                topic,
                &crate::atom::rfc3339(d.created_ms),
                std::slice::from_ref(&d.payload),
                None,
            ))
        }
        (EventKind::Item, None) => {
            builder = builder.header(header::CONTENT_TYPE, ENTRY_CONTENT_TYPE);
            Bytes::from(d.payload.clone())
        }
        (EventKind::Retracted, None) => {
            builder = builder
                .header("Event", "RETRACTED")
                .header(header::CONTENT_TYPE, ENTRY_CONTENT_TYPE);
            Bytes::from(d.payload.clone())
        }
        (EventKind::Deleted, _) => {
            builder = builder.header("Event", "DELETED");
            if let Some(redirect) = &d.redirect {
                builder = builder.header(header::LINK, format!("<{redirect}>; rel=alternate"));
            }
            Bytes::new()
        }
    };
    if let Some(secret) = &d.secret {
        builder = builder.header("X-Hub-Signature", signature(secret, &body));
    }
    if let Some(publisher) = &d.publisher {
        builder = builder.header(PUBLISHER_HEADER, publisher);
        if let Some(secret) = &d.secret {
            builder = builder.header(
                PUBLISHER_SIGNATURE_HEADER,
                publisher_signature(secret, publisher, &body),
            );
        }
    }
    builder
        .body(Full::new(body))
        .map_err(|e| format!("cannot build the request: {e}"))
}

/// `callback` with `params` appended to its query.
fn with_query(callback: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    let separator = if callback.contains('?') { '&' } else { '?' };
    format!("{callback}{separator}{}", query.finish())
}

/// The WebSub denial: `GET callback?hub.mode=denied&hub.topic=…&hub.reason=…`.
fn denial_request(
    callback: &str,
    topic: &str,
    reason: &str,
) -> Result<Request<Full<Bytes>>, String> {
    let url = with_query(
        callback,
        &[
            ("hub.mode", "denied"),
            ("hub.topic", topic),
            ("hub.reason", reason),
        ],
    );
    let uri: Uri = url.parse().map_err(|e| format!("bad callback URL: {e}"))?;
    Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(
            header::USER_AGENT,
            concat!("wikisync-gateway/", env!("CARGO_PKG_VERSION")),
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("cannot build the request: {e}"))
}

/// Tells a WebSub subscriber its subscription was refused (`hub.mode=denied`). Best effort: the
/// answer is not looked at, a failure is only logged.
pub async fn deny(
    client: &HttpClient,
    callback: &str,
    topic: &str,
    reason: &str,
    timeout: Duration,
) {
    let Ok(request) = denial_request(callback, topic, reason) else {
        return;
    };
    let exchange = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let _ = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await;
        Ok::<(), String>(())
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::info!(%callback, error = %e, "denial not delivered"),
        Err(_) => tracing::info!(%callback, "denial timed out"),
    }
}

async fn attempt(inner: &Inner, d: &Delivery) -> Outcome {
    let request = match build_request(&inner.config.service, &inner.config.hub_url, d) {
        Ok(r) => r,
        Err(reason) => {
            return Outcome::Failed {
                retry_after: None,
                reason,
            };
        }
    };
    let send = async {
        let response = inner
            .client
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // Read (a bounded part of) the body so the connection can be reused.
        let _ = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await;
        Ok::<_, String>((status, retry_after))
    };
    match tokio::time::timeout(inner.config.callback_timeout, send).await {
        Err(_) => Outcome::Failed {
            retry_after: None,
            reason: "timed out".to_owned(),
        },
        Ok(Err(reason)) => Outcome::Failed {
            retry_after: None,
            reason,
        },
        Ok(Ok((status, _))) if status.is_success() => Outcome::Delivered,
        // A denial is information: any answer means it arrived.
        Ok(Ok(_)) if d.topic.is_some() && d.kind == EventKind::Deleted => Outcome::Delivered,
        Ok(Ok((StatusCode::GONE, _))) => Outcome::Gone,
        Ok(Ok((status, retry_after))) => Outcome::Failed {
            retry_after,
            reason: format!("callback answered {status}"),
        },
    }
}

/// Why a callback did not confirm a subscription.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The callback answered a non-2xx status (404 means "I did not ask for this").
    #[error("the callback refused the verification with status {0}")]
    Refused(u16),
    /// The callback answered 2xx but did not echo the challenge.
    #[error("the callback did not echo hub.challenge")]
    WrongChallenge,
    /// The callback could not be reached or did not answer in time.
    #[error("the callback could not be reached: {0}")]
    Unreachable(String),
}

/// Verification of intent: GETs `callback` with `hub.mode`, `hub.topic` and a fresh
/// `hub.challenge`, and checks that the body echoes the challenge.
pub async fn verify_intent(
    client: &HttpClient,
    callback: &str,
    mode: &str,
    topic: &str,
    lease_seconds: Option<u64>,
    timeout: Duration,
) -> Result<(), VerifyError> {
    let mut challenge = [0u8; 16];
    getrandom::fill(&mut challenge)
        .map_err(|e| VerifyError::Unreachable(format!("no randomness: {e}")))?;
    let challenge = crate::hex::lower(&challenge);
    let lease = lease_seconds.map(|l| l.to_string());
    let mut params = vec![
        ("hub.mode", mode),
        ("hub.topic", topic),
        ("hub.challenge", challenge.as_str()),
    ];
    if let Some(lease) = &lease {
        params.push(("hub.lease_seconds", lease));
    }
    let url = with_query(callback, &params);
    let uri: Uri = url
        .parse()
        .map_err(|e| VerifyError::Unreachable(format!("bad callback URL: {e}")))?;
    let request = Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(
            header::USER_AGENT,
            HeaderValue::from_static("wikisync-gateway"),
        )
        .body(Full::new(Bytes::new()))
        .map_err(|e| VerifyError::Unreachable(e.to_string()))?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| VerifyError::Unreachable(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| VerifyError::Unreachable(e.to_string()))?
            .to_bytes();
        Ok::<_, VerifyError>((status, body))
    };
    let (status, body) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| VerifyError::Unreachable("timed out".to_owned()))??;
    if !status.is_success() {
        return Err(VerifyError::Refused(status.as_u16()));
    }
    if body.trim_ascii() != challenge.as_bytes() {
        return Err(VerifyError::WrongChallenge);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let base = Duration::from_millis(100);
        let max = Duration::from_millis(1000);
        for _ in 0..50 {
            let first = backoff(1, base, max);
            assert!(
                first >= Duration::from_millis(50) && first <= base,
                "{first:?}"
            );
            let third = backoff(3, base, max);
            assert!(
                third >= Duration::from_millis(200) && third <= Duration::from_millis(400),
                "{third:?}"
            );
            let late = backoff(40, base, max);
            assert!(
                late >= Duration::from_millis(500) && late <= max,
                "{late:?}"
            );
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(30))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn publisher_signature_covers_publisher_line_feed_body() {
        let signed = publisher_signature("Jefe", "siteA", b"<entry/>");
        assert_eq!(signed, signature("Jefe", b"siteA\n<entry/>"));
        assert_ne!(signed, publisher_signature("Jefe", "siteB", b"<entry/>"));
        assert_ne!(signed, signature("Jefe", b"<entry/>"));
    }

    #[test]
    fn signature_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn delivery(kind: EventKind) -> Delivery {
        Delivery {
            id: 1,
            sub_key: 1,
            node: "n;1".to_owned(),
            kind,
            item_id: Some("urn:x".to_owned()),
            payload: "<entry xmlns=\"http://www.w3.org/2005/Atom\"/>".to_owned(),
            redirect: Some("xmpp:svc?;node=other".to_owned()),
            callback: "http://127.0.0.1:9/cb".to_owned(),
            secret: Some("s3cret".to_owned()),
            attempts: 0,
            next_attempt_ms: 0,
            first_failure_ms: None,
            topic: None,
            created_ms: 0,
            publisher: None,
        }
    }

    #[test]
    fn requests_carry_the_documented_headers() {
        let item = build_request("svc", "http://hub.example/hub", &delivery(EventKind::Item))
            .expect("request");
        assert_eq!(item.headers()["referer"], "xmpp:svc?;node=n%3B1");
        assert_eq!(item.headers()["pubsub-service"], "svc");
        assert_eq!(item.headers()["content-type"], ENTRY_CONTENT_TYPE);
        assert!(item.headers().get("event").is_none());
        assert_eq!(
            item.headers()["x-hub-signature"],
            signature("s3cret", b"<entry xmlns=\"http://www.w3.org/2005/Atom\"/>").as_str()
        );
        let deleted = build_request(
            "svc",
            "http://hub.example/hub",
            &delivery(EventKind::Deleted),
        )
        .expect("request");
        assert_eq!(deleted.headers()["event"], "DELETED");
        assert_eq!(
            deleted.headers()["link"],
            "<xmpp:svc?;node=other>; rel=alternate"
        );
        assert!(deleted.headers().get("content-type").is_none());
        let retracted = build_request(
            "svc",
            "http://hub.example/hub",
            &delivery(EventKind::Retracted),
        )
        .expect("request");
        assert_eq!(retracted.headers()["event"], "RETRACTED");
    }

    #[test]
    fn deliveries_of_a_remote_node_name_its_own_service() {
        let mut d = delivery(EventKind::Item);
        d.node = crate::uri::storage_key(&crate::uri::NodeUri::new("pubsub.other", "wiki"), "svc");
        let request = build_request("svc", "http://hub.example/hub", &d).expect("request");
        assert_eq!(request.headers()["referer"], "xmpp:pubsub.other?;node=wiki");
        assert_eq!(request.headers()["pubsub-service"], "pubsub.other");
    }
}
