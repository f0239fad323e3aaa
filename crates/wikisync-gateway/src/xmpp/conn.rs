//! The XEP-0114 component connection: our thin layer over tokio-xmpp's `Component`.
//!
//! tokio-xmpp's `Component` is a bare `Stream + Sink` of stanzas: no IQ tracking, no
//! keepalive, no reconnect, and it ends the stream (`None`) on an idle read timeout, an I/O
//! error or a stream error alike. This module adds what the gateway needs:
//!
//! - **IQ tracking**: [`Connection::iq`] sends a request with a fresh id and resolves with the
//!   matching `result` or `error`, or [`IqError::Timeout`]. Stanzas that arrive meanwhile (the
//!   pubsub event of a publish often arrives *before* its result) are never dropped: every
//!   non-IQ stanza goes to the event channel returned by [`Connection::spawn`], in order.
//! - **Keepalive**: an XEP-0199 ping to the server every `ping_interval`; no answer within
//!   `iq_timeout` ends the session (the socket may be half-dead without an error).
//! - **Reconnect with backoff**: a lost session is re-established after `reconnect_min`,
//!   doubling up to `reconnect_max`. Pending requests fail with [`IqError::Disconnected`]; each
//!   new session increments the epoch published by [`Connection::online`], which the pubsub
//!   layer watches to resubscribe and resynchronise.
//! - Requests addressed to the component (pings from the server, disco) are answered.
//!
//! `tokio_xmpp::Client` is deliberately not used (a lost-wakeup bug hangs it at random; see
//! `docs/deploy.md`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::connect::DnsConfig;
use tokio_xmpp::jid::Jid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::{Component, Stanza};

use super::stanza::{NS_DISCO_INFO, NS_PING, NS_STANZAS, PubsubRequest};

/// Settings of the component connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// The component's JID (a domain, e.g. `gw.example.org`).
    pub component: String,
    /// The server's component port, `host:port`.
    pub server: String,
    /// The shared secret of the XEP-0114 handshake.
    pub secret: String,
    /// Interval of keepalive pings.
    pub ping_interval: Duration,
    /// Time limit of one IQ request (and of a ping).
    pub iq_timeout: Duration,
    /// First reconnect delay.
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
}

/// Why an IQ request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IqError {
    /// There is no session to the server right now (it will be retried after reconnecting).
    #[error("not connected to the XMPP server")]
    NotConnected,
    /// The session ended before the answer came (the request may or may not have been done).
    #[error("the XMPP session ended before the answer")]
    Disconnected,
    /// No answer within the time limit.
    #[error("no answer from the XMPP server in time")]
    Timeout,
    /// The request could not be serialized (a bug).
    #[error("cannot build the request: {0}")]
    Build(String),
    /// The entity answered with an error.
    #[error("{0}")]
    Refused(Refusal),
}

/// A stanza error answer: the request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The error type (`cancel`, `modify`, `auth`, `wait`, `continue`).
    pub error_type: String,
    /// The defined condition, e.g. `forbidden`, `item-not-found`, `conflict`.
    pub condition: String,
    /// The human-readable text, if any.
    pub text: Option<String>,
}

impl Refusal {
    /// Whether trying again later may succeed (`type='wait'` or a server-side transient
    /// condition), as opposed to a definite refusal.
    pub fn is_transient(&self) -> bool {
        self.error_type == "wait"
            || matches!(
                self.condition.as_str(),
                "remote-server-timeout"
                    | "remote-server-not-found"
                    | "internal-server-error"
                    | "resource-constraint"
                    | "service-unavailable"
            )
    }

    fn from_element(e: &Element) -> Self {
        let mut condition = "undefined-condition".to_owned();
        let mut text = None;
        for c in e.children() {
            if c.ns() == NS_STANZAS {
                if c.name() == "text" {
                    text = Some(c.text());
                } else {
                    condition = c.name().to_owned();
                }
            }
        }
        Self {
            error_type: e.attr("type").unwrap_or("cancel").to_owned(),
            condition,
            text,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {} ({})", self.condition, self.error_type)?;
        if let Some(text) = &self.text {
            write!(f, ": {text}")?;
        }
        Ok(())
    }
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Result<Option<Element>, IqError>>>>>;

/// A handle on the component connection (cheap to clone).
#[derive(Clone, Debug)]
pub struct Connection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ConnectionConfig,
    /// The writer of the current session, if any.
    out: Mutex<Option<mpsc::UnboundedSender<Stanza>>>,
    pending: Pending,
    next_id: AtomicU64,
    online: watch::Sender<Option<u64>>,
    /// Sessions established so far (the current epoch, kept while disconnected too).
    sessions: AtomicU64,
    /// Set by [`Connection::close`]: end the session and stop reconnecting.
    closed: watch::Sender<bool>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a holder panicked; the map or sender inside stays usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Connection {
    /// Starts the connection task (it connects, and reconnects forever, until every handle and
    /// the event receiver are dropped). Non-IQ stanzas from the server arrive on the receiver.
    pub fn spawn(config: ConnectionConfig) -> (Self, mpsc::UnboundedReceiver<Stanza>) {
        let (events, rx) = mpsc::unbounded_channel();
        let (online, _) = watch::channel(None);
        let inner = Arc::new(Inner {
            config,
            out: Mutex::new(None),
            pending: Arc::default(),
            next_id: AtomicU64::new(1),
            online,
            sessions: AtomicU64::new(0),
            closed: watch::channel(false).0,
        });
        tokio::spawn(run(Arc::downgrade(&inner), events));
        (Self { inner }, rx)
    }

    /// The component's JID.
    pub fn jid(&self) -> &str {
        &self.inner.config.component
    }

    /// `Some(epoch)` while a session is up (the epoch grows with every new session), `None`
    /// while disconnected.
    pub fn online(&self) -> watch::Receiver<Option<u64>> {
        self.inner.online.subscribe()
    }

    /// Ends the session (closing the stream) and stops reconnecting, for every handle. Pending
    /// and later requests fail with [`IqError::NotConnected`] or [`IqError::Disconnected`].
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// How many sessions to the server were established so far (1 after the first connect;
    /// every reconnect adds one).
    pub fn sessions(&self) -> u64 {
        self.inner.sessions.load(Ordering::Relaxed)
    }

    /// Sends `request` to `to` and waits for the answer: `Ok(payload)` on `result`.
    pub async fn iq(&self, to: &str, request: &PubsubRequest) -> Result<Option<Element>, IqError> {
        let payload = request
            .to_element()
            .map_err(|e| IqError::Build(e.to_string()))?;
        let to: Jid = to
            .parse()
            .map_err(|e: tokio_xmpp::jid::Error| IqError::Build(e.to_string()))?;
        let from: Jid = self
            .inner
            .config
            .component
            .parse()
            .map_err(|e: tokio_xmpp::jid::Error| IqError::Build(e.to_string()))?;
        let id = format!("wsg{}", self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let iq = if request.is_get() {
            Iq::Get {
                from: Some(from),
                to: Some(to),
                id: id.clone(),
                payload,
            }
        } else {
            Iq::Set {
                from: Some(from),
                to: Some(to),
                id: id.clone(),
                payload,
            }
        };
        let (tx, rx) = oneshot::channel();
        {
            let out = lock(&self.inner.out);
            let out = out.as_ref().ok_or(IqError::NotConnected)?;
            lock(&self.inner.pending).insert(id.clone(), tx);
            if out.send(Stanza::Iq(iq)).is_err() {
                lock(&self.inner.pending).remove(&id);
                return Err(IqError::NotConnected);
            }
        }
        match tokio::time::timeout(self.inner.config.iq_timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(IqError::Disconnected),
            Err(_) => {
                lock(&self.inner.pending).remove(&id);
                Err(IqError::Timeout)
            }
        }
    }

    /// Waits until a session is up; returns its epoch.
    pub async fn wait_online(&self) -> u64 {
        let mut rx = self.online();
        loop {
            if let Some(epoch) = *rx.borrow_and_update() {
                return epoch;
            }
            if rx.changed().await.is_err() {
                // The connection task is gone: never online again.
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The reconnect loop.
async fn run(inner: std::sync::Weak<Inner>, events: mpsc::UnboundedSender<Stanza>) {
    let mut delay = None::<Duration>;
    let mut epoch = 0u64;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let config = strong.config.clone();
        let mut closed = strong.closed.subscribe();
        drop(strong);
        if *closed.borrow_and_update() {
            return;
        }
        if let Some(d) = delay {
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                _ = closed.changed() => return,
            }
        }
        let timeouts = Timeouts {
            // Our own pings detect dead sessions; tokio-xmpp's soft timeout would end the stream.
            read_timeout: Duration::from_secs(86_400 * 365),
            response_timeout: config.iq_timeout,
        };
        let connected = tokio::time::timeout(
            config.iq_timeout,
            Component::new_plaintext(
                &config.component,
                &config.secret,
                DnsConfig::addr(&config.server),
                timeouts,
            ),
        )
        .await;
        let component = match connected {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let next = next_delay(delay, &config);
                tracing::warn!(server = %config.server, error = %e, retry_in = ?next, "cannot connect to the XMPP server");
                delay = Some(next);
                continue;
            }
            Err(_) => {
                let next = next_delay(delay, &config);
                tracing::warn!(server = %config.server, retry_in = ?next, "XMPP connection attempt timed out");
                delay = Some(next);
                continue;
            }
        };
        epoch += 1;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        tracing::info!(component = %config.component, server = %config.server, epoch, "XMPP component online");
        let reason = session(&strong, component, &events, epoch).await;
        if *strong.closed.borrow() {
            tracing::info!(server = %config.server, "XMPP session closed");
            return;
        }
        drop(strong);
        tracing::warn!(server = %config.server, reason, "XMPP session ended; reconnecting");
        delay = Some(config.reconnect_min);
        if events.is_closed() {
            return;
        }
    }
}

fn next_delay(delay: Option<Duration>, config: &ConnectionConfig) -> Duration {
    delay.map_or(config.reconnect_min, |d| (d * 2).min(config.reconnect_max))
}

/// One session: reads, writes and pings until the stream ends; returns why it ended.
///
/// Reading and writing run in separate tasks: a server that stops reading from us while its
/// own output to us is backed up (Prosody does, to bound its buffers) would otherwise deadlock
/// a loop that does not read while it writes.
async fn session(
    inner: &Arc<Inner>,
    component: Component<tokio_xmpp::connect::TcpServerConnector>,
    events: &mpsc::UnboundedSender<Stanza>,
    epoch: u64,
) -> &'static str {
    let (mut sink, mut stream) = component.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Stanza>();
    *lock(&inner.out) = Some(out_tx.clone());
    inner.sessions.store(epoch, Ordering::Relaxed);
    inner.online.send_replace(Some(epoch));
    let mut writer = tokio::spawn(async move {
        while let Some(stanza) = out_rx.recv().await {
            if let Err(e) = sink.feed(stanza).await {
                tracing::warn!(error = %e, "XMPP write failed");
                return "write failed";
            }
            // Coalesce: flush once the queue is empty, not after every stanza.
            if out_rx.is_empty()
                && let Err(e) = sink.flush().await
            {
                tracing::warn!(error = %e, "XMPP write failed");
                return "write failed";
            }
        }
        let _ = sink.close().await;
        "writer closed"
    });
    let mut closed = inner.closed.subscribe();
    let (dead_tx, mut dead_rx) = mpsc::channel::<()>(1);
    let pinger = tokio::spawn(ping_loop(
        Connection {
            inner: inner.clone(),
        },
        dead_tx,
    ));
    let reason = loop {
        tokio::select! {
            incoming = stream.next() => {
                let Some(stanza) = incoming else { break "stream ended" };
                if let Some(reply) = handle_incoming(inner, stanza, events) {
                    let _ = out_tx.send(reply);
                }
            }
            ended = &mut writer => break ended.unwrap_or("writer panicked"),
            _ = dead_rx.recv() => break "keepalive ping unanswered",
            _ = closed.wait_for(|c| *c) => break "closed",
        }
    };
    pinger.abort();
    if reason == "closed" {
        // Let the writer send what is queued and the end of the stream, briefly.
        *lock(&inner.out) = None;
        drop(out_tx);
        let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
    }
    writer.abort();
    *lock(&inner.out) = None;
    inner.online.send_replace(None);
    let failed: Vec<_> = lock(&inner.pending).drain().collect();
    for (_, tx) in failed {
        let _ = tx.send(Err(IqError::Disconnected));
    }
    reason
}

async fn ping_loop(conn: Connection, dead: mpsc::Sender<()>) {
    // The server's own domain: the component JID's parent (gw.example.org -> example.org).
    let domain = conn
        .jid()
        .split_once('.')
        .map_or_else(|| conn.jid().to_owned(), |(_, parent)| parent.to_owned());
    let mut tick = tokio::time::interval(conn.inner.config.ping_interval);
    tick.tick().await;
    loop {
        tick.tick().await;
        match conn.iq(&domain, &PubsubRequest::Ping).await {
            Ok(_) | Err(IqError::Refused(_) | IqError::Build(_)) => {}
            Err(e) => {
                tracing::warn!(error = %e, "XMPP keepalive ping failed");
                let _ = dead.send(()).await;
                return;
            }
        }
    }
}

/// Routes one incoming stanza; returns a reply to send, if any.
fn handle_incoming(
    inner: &Inner,
    stanza: Stanza,
    events: &mpsc::UnboundedSender<Stanza>,
) -> Option<Stanza> {
    match stanza {
        Stanza::Iq(Iq::Result { id, payload, .. }) => {
            if let Some(tx) = lock(&inner.pending).remove(&id) {
                let _ = tx.send(Ok(payload));
            }
            None
        }
        Stanza::Iq(Iq::Error { id, error, .. }) => {
            if let Some(tx) = lock(&inner.pending).remove(&id) {
                let refusal = Refusal::from_element(&Element::from(error));
                let _ = tx.send(Err(IqError::Refused(refusal)));
            }
            None
        }
        Stanza::Iq(Iq::Get {
            from,
            to,
            id,
            payload,
            ..
        }) => {
            let answer = if payload.is("ping", NS_PING) {
                None
            } else if payload.is("query", NS_DISCO_INFO) {
                Some(disco_info())
            } else {
                return Some(error_reply(from, to, id));
            };
            Some(Stanza::Iq(Iq::Result {
                from: to,
                to: from,
                id,
                payload: answer,
            }))
        }
        Stanza::Iq(Iq::Set { from, to, id, .. }) => Some(error_reply(from, to, id)),
        other => {
            let _ = events.send(other);
            None
        }
    }
}

fn disco_info() -> Element {
    let text = format!(
        "<query xmlns='{NS_DISCO_INFO}'><identity category='gateway' type='http' name='wikisync gateway'/>\
         <feature var='{NS_DISCO_INFO}'/><feature var='{NS_PING}'/></query>"
    );
    text.parse()
        .unwrap_or_else(|_| Element::bare("query", NS_DISCO_INFO))
}

fn error_reply(from: Option<Jid>, to: Option<Jid>, id: String) -> Stanza {
    let error: Element = format!(
        "<error xmlns='jabber:component:accept' type='cancel'><service-unavailable xmlns='{NS_STANZAS}'/></error>"
    )
    .parse()
    .unwrap_or_else(|_| Element::bare("error", "jabber:component:accept"));
    match tokio_xmpp::parsers::stanza_error::StanzaError::try_from(error) {
        Ok(error) => Stanza::Iq(Iq::Error {
            from: to,
            to: from,
            id,
            error,
            payload: None,
        }),
        Err(_) => Stanza::Iq(Iq::Result {
            from: to,
            to: from,
            id,
            payload: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_read_from_the_error_element() {
        let e: Element = format!(
            "<error xmlns='jabber:component:accept' type='auth'><forbidden xmlns='{NS_STANZAS}'/>\
             <text xmlns='{NS_STANZAS}'>no</text></error>"
        )
        .parse()
        .expect("xml");
        let r = Refusal::from_element(&e);
        assert_eq!(r.condition, "forbidden");
        assert_eq!(r.error_type, "auth");
        assert_eq!(r.text.as_deref(), Some("no"));
        assert!(!r.is_transient());
        assert_eq!(r.to_string(), "refused: forbidden (auth): no");
        let wait = Refusal {
            error_type: "wait".into(),
            condition: "x".into(),
            text: None,
        };
        assert!(wait.is_transient());
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let config = ConnectionConfig {
            component: "gw.localhost".into(),
            server: "127.0.0.1:1".into(),
            secret: "s".into(),
            ping_interval: Duration::from_secs(30),
            iq_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_millis(350),
        };
        let d1 = next_delay(None, &config);
        let d2 = next_delay(Some(d1), &config);
        let d3 = next_delay(Some(d2), &config);
        let d4 = next_delay(Some(d3), &config);
        assert_eq!(
            [d1, d2, d3, d4].map(|d| d.as_millis()),
            [100, 200, 350, 350]
        );
    }

    #[tokio::test]
    async fn requests_without_a_session_fail_fast_and_the_loop_keeps_trying() {
        let (conn, _events) = Connection::spawn(ConnectionConfig {
            component: "gw.localhost".into(),
            server: "127.0.0.1:1".into(),
            secret: "s".into(),
            ping_interval: Duration::from_secs(30),
            iq_timeout: Duration::from_millis(200),
            reconnect_min: Duration::from_millis(10),
            reconnect_max: Duration::from_millis(20),
        });
        assert_eq!(
            conn.iq("pubsub.localhost", &PubsubRequest::Ping).await,
            Err(IqError::NotConnected)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(*conn.online().borrow(), None);
    }
}
