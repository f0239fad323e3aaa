//! Helpers shared by the gateway's integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use tower::ServiceExt;
use wikisync_gateway::config::Config;
use wikisync_gateway::delivery::{self, DeliveryMetrics};
use wikisync_gateway::http::{AppState, app};
use wikisync_gateway::store::{Store, StoreLimits};

pub const SERVICE: &str = "pubsub.example.org";

pub fn entry(id: &str, text: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>{id}</id><title>{text}</title><updated>2026-01-01T00:00:00Z</updated><author><name>a</name></author><content>{text}</content></entry>"
    )
}

pub struct Api {
    pub router: Router,
    pub store: Store,
    _dir: tempfile::TempDir,
}

pub fn config() -> Config {
    Config {
        service: SERVICE.to_owned(),
        verify: false,
        ..Config::default()
    }
}

pub fn api_with(config: Config) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(
        &dir.path().join("g.sqlite3"),
        StoreLimits {
            max_items_per_node: config.max_items_per_node,
            max_subscriptions_per_node: config.max_subscriptions_per_node,
        },
        None,
    )
    .unwrap();
    let state = AppState::new(
        store.clone(),
        config,
        delivery::http_client(),
        Arc::new(DeliveryMetrics::default()),
    );
    Api {
        router: app(state),
        store,
        _dir: dir,
    }
}

pub fn api() -> Api {
    api_with(config())
}

impl Api {
    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.router, request).await
    }

    /// `POST /create`; returns the new node's URI.
    pub async fn create(&self) -> String {
        self.send(post("/create", None, Body::empty())).await.uri()
    }

    /// `POST /publish` of an entry, to `uri` or (`None`) to a new instant node.
    pub async fn publish(&self, uri: Option<&str>, body: &str) -> Reply {
        self.send(post(&publish_path(uri), Some(ENTRY_TYPE), body.to_owned()))
            .await
    }

    /// `POST /subscribe` of `callback` to `uri`, without a secret.
    pub async fn subscribe(&self, uri: &str, callback: &str) -> Reply {
        let body = subscription_json(uri, callback, None);
        self.send(post("/subscribe", Some(JSON), body)).await
    }
}

/// The node id of a canonical node URI.
pub fn node_of(uri: &str) -> &str {
    uri.split("node=").nth(1).unwrap()
}

/// The path of a `/publish` request: to the node `uri`, or (`None`) to a new instant node.
pub fn publish_path(uri: Option<&str>) -> String {
    uri.map_or("/publish".to_owned(), |u| {
        format!("/publish?uri={}", enc(u))
    })
}

/// The JSON body of a `/subscribe` or `/unsubscribe` request.
pub fn subscription_json(uri: &str, callback: &str, secret: Option<&str>) -> String {
    let mut body = serde_json::json!({ "uri": uri, "callback": callback });
    if let Some(secret) = secret {
        body["secret"] = secret.into();
    }
    body.to_string()
}

/// The `<title>` of an Atom entry.
pub fn title(body: &str) -> Option<String> {
    let start = body.find("<title>")? + 7;
    let end = body.find("</title>")?;
    Some(body[start..end].to_owned())
}

/// The titles of the entries `received`, in order of arrival (bodies without one skipped).
pub fn titles(received: &[Received]) -> Vec<String> {
    received.iter().filter_map(|r| title(&r.body)).collect()
}

pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts an error reply: status, code and a message.
    pub fn assert_error(&self, status: u16, code: &str) {
        self.assert_error_for("", status, code);
    }

    /// `assert_error`, naming `case` (a row of a table of requests) when it fails.
    pub fn assert_error_for(&self, case: &str, status: u16, code: &str) {
        assert_eq!(self.status, status, "{case} body: {}", self.body);
        assert_eq!(self.json()["error"], code, "{case} body: {}", self.body);
        assert!(
            self.json()["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{case} body: {}",
            self.body
        );
    }

    pub fn uri(&self) -> String {
        assert_eq!(self.status, 200, "body: {}", self.body);
        self.json()["uri"].as_str().unwrap().to_owned()
    }
}

impl Reply {
    /// Reads a whole response, from the router or from a real socket.
    async fn read<B>(response: Response<B>) -> Self
    where
        B: HttpBody,
        B::Error: std::fmt::Debug,
    {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    Reply::read(router.clone().oneshot(request).await.unwrap()).await
}

pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn post(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::post(path);
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(body.into()).unwrap()
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub const ENTRY_TYPE: &str = "application/atom+xml;type=entry;charset=utf-8";
pub const JSON: &str = "application/json";

// ---------------------------------------------------------------------------------------------
// Real sockets: a callback receiver and a running gateway.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
    /// When the request arrived (before it was answered).
    pub at: std::time::Instant,
}

impl Received {
    /// The query's pairs, decoded, in order (none without a query).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .collect()
    }

    /// The first value of the query parameter `name`.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query_pairs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

#[derive(Default)]
pub struct ReceiverState {
    pub got: Mutex<Vec<Received>>,
    /// Status answered to POSTs (0 = 204).
    pub post_status: AtomicU16,
    /// Status answered to verification GETs (0 = 200 with the challenge echoed).
    pub get_status: AtomicU16,
    /// Echo a wrong challenge.
    pub wrong_challenge: std::sync::atomic::AtomicBool,
    /// Milliseconds to wait before answering a POST (a callback that is slow on purpose).
    pub delay_ms: AtomicU64,
    /// While set, POSTs are not answered until [`Receiver::release`] (a callback that hangs).
    pub hold: std::sync::atomic::AtomicBool,
    /// While set, GETs (verifications of intent) are not answered until [`Receiver::release`].
    pub hold_gets: std::sync::atomic::AtomicBool,
    /// Wakes the POSTs held by `hold`.
    pub released: tokio::sync::Notify,
    /// Retry-After header value in seconds for failing POSTs (0 = none).
    pub retry_after: AtomicU64,
    /// TLS handshakes that failed (a TLS receiver only).
    pub tls_failures: AtomicU64,
}

pub struct Receiver {
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    pub state: Arc<ReceiverState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let is_get = method == Method::GET;
    state.got.lock().unwrap().push(Received {
        method,
        query: query.clone(),
        headers,
        body,
        at: std::time::Instant::now(),
    });
    let hold = if is_get {
        &state.hold_gets
    } else {
        &state.hold
    };
    loop {
        let released = state.released.notified();
        tokio::pin!(released);
        released.as_mut().enable();
        if !hold.load(Ordering::SeqCst) {
            break;
        }
        released.await;
    }
    if is_get {
        let status = state.get_status.load(Ordering::SeqCst);
        if status != 0 {
            return StatusCode::from_u16(status).unwrap().into_response();
        }
        let challenge = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "hub.challenge")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        if state.wrong_challenge.load(Ordering::SeqCst) {
            return "not the challenge".into_response();
        }
        return challenge.into_response();
    }
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        // Part of the scenario: a callback that answers slowly on purpose.
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let status = match state.post_status.load(Ordering::SeqCst) {
        0 => StatusCode::NO_CONTENT,
        s => StatusCode::from_u16(s).unwrap(),
    };
    let retry_after = state.retry_after.load(Ordering::SeqCst);
    if !status.is_success() && retry_after > 0 {
        return (status, [("retry-after", retry_after.to_string())]).into_response();
    }
    status.into_response()
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on(
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            Arc::default(),
        )
        .await
    }

    pub async fn start_on(listener: tokio::net::TcpListener, state: Arc<ReceiverState>) -> Self {
        let addr = listener.local_addr().unwrap();
        Self::serve(listener, addr, "http", state)
    }

    /// Serves `receive` on `listener` until `stop`.
    fn serve<L>(
        listener: L,
        addr: SocketAddr,
        scheme: &'static str,
        state: Arc<ReceiverState>,
    ) -> Self
    where
        L: axum::serve::Listener,
        L::Addr: std::fmt::Debug,
    {
        let router = Router::new().fallback(receive).with_state(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            addr,
            scheme,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A receiver served over TLS with a fresh self-signed certificate for 127.0.0.1, returned
    /// as PEM.
    pub async fn start_tls() -> (Self, String) {
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .unwrap();
        let state: Arc<ReceiverState> = Arc::default();
        let listener = TlsListener {
            tcp: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
            state: state.clone(),
        };
        let addr = listener.tcp.local_addr().unwrap();
        (Self::serve(listener, addr, "https", state), cert.pem())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// POSTs received so far (deliveries).
    pub fn posts(&self) -> Vec<Received> {
        self.received(Method::POST)
    }

    /// GETs received so far (verifications of intent and denials).
    pub fn gets(&self) -> Vec<Received> {
        self.received(Method::GET)
    }

    fn received(&self, method: Method) -> Vec<Received> {
        self.state
            .got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == method)
            .cloned()
            .collect()
    }

    /// Answers the requests held since `state.hold` or `state.hold_gets` was set, and holds no
    /// more.
    pub fn release(&self) {
        self.state.hold.store(false, Ordering::SeqCst);
        self.state.hold_gets.store(false, Ordering::SeqCst);
        self.state.released.notify_waiters();
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A TCP listener that completes a TLS handshake before handing a connection to axum; failed
/// handshakes are counted and skipped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<ReceiverState>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => return (tls, addr),
                Err(_) => {
                    self.state.tls_failures.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// How long a test waits for something that must happen: generous, so that only a condition
/// that never holds fails, however slow the machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub async fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls the asynchronous `cond` every 10 ms until it holds or `timeout` passes; returns
/// whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub struct Gateway {
    pub addr: SocketAddr,
    /// Its data directory.
    pub data_dir: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), wikisync_gateway::RunError>>>,
    /// The data directory the gateway made for itself (`start_fresh`), removed after it stops.
    own_dir: Option<tempfile::TempDir>,
}

/// A config for socket tests: fast retries, data in `dir`.
pub fn socket_config(dir: &std::path::Path) -> Config {
    Config {
        service: SERVICE.to_owned(),
        data_dir: dir.to_owned(),
        verify: true,
        callback_timeout: Duration::from_secs(2),
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(2),
        ..Config::default()
    }
}

impl Gateway {
    pub async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let data_dir = config.data_dir.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(wikisync_gateway::run(listener, config, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            data_dir,
            stop: Some(stop),
            task: Some(task),
            own_dir: None,
        }
    }

    /// A gateway with `socket_config` in a fresh data directory of its own.
    pub async fn start_fresh() -> Self {
        Self::start_fresh_with(|_| {}).await
    }

    /// `start_fresh`, with `adjust` applied to the config first.
    pub async fn start_fresh_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = socket_config(dir.path());
        adjust(&mut config);
        Self {
            own_dir: Some(dir),
            ..Self::start(config).await
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Reads the running gateway's database (a second, read-only connection: WAL mode allows
    /// it), to see state that no endpoint shows, such as a WebSub subscription taking effect.
    fn peek<T>(
        &self,
        sql: &str,
        param: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Vec<T> {
        let conn = rusqlite::Connection::open_with_flags(
            self.data_dir.join(wikisync_gateway::DATABASE_FILE),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([param], row)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// The lease ends (`None`: no lease) of the subscriptions of `callback`, as stored now.
    pub fn leases_of(&self, callback: &str) -> Vec<Option<i64>> {
        self.peek(
            "SELECT expires_ms FROM subscriptions WHERE callback = ?1",
            callback,
            |r| r.get(0),
        )
    }

    /// The deliveries waiting for `callback` now.
    pub fn queued_for(&self, callback: &str) -> u64 {
        self.peek(
            "SELECT COUNT(*) FROM outbox WHERE callback = ?1",
            callback,
            |r| r.get(0),
        )[0]
    }
}

/// A plain HTTP call to `addr`.
pub async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: String,
) -> Reply {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("content-type", ct))
        .into_iter()
        .collect();
    call_with(addr, method, path, &headers, body).await
}

/// An HTTP call to `addr` with the given request headers.
pub async fn call_with(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Reply {
    let client = delivery::http_client();
    let mut b = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        b = b.header(*name, *value);
    }
    let response = client
        .request(
            b.body(http_body_util::Full::new(axum::body::Bytes::from(body)))
                .unwrap(),
        )
        .await
        .unwrap();
    Reply::read(response).await
}

pub async fn http_publish(addr: SocketAddr, uri: Option<&str>, body: String) -> Reply {
    call(
        addr,
        Method::POST,
        &publish_path(uri),
        Some(ENTRY_TYPE),
        body,
    )
    .await
}

/// `POST /create`; returns the new node's URI.
pub async fn http_create(addr: SocketAddr) -> String {
    call(addr, Method::POST, "/create", None, String::new())
        .await
        .uri()
}

/// `GET /metrics`: the exposition text.
pub async fn http_metrics(addr: SocketAddr) -> String {
    let reply = call(addr, Method::GET, "/metrics", None, String::new()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

pub async fn http_subscribe(
    addr: SocketAddr,
    uri: &str,
    callback: &str,
    secret: Option<&str>,
) -> Reply {
    let body = subscription_json(uri, callback, secret);
    call(addr, Method::POST, "/subscribe", Some(JSON), body).await
}

pub async fn http_unsubscribe(addr: SocketAddr, uri: &str, callback: &str) -> Reply {
    let body = subscription_json(uri, callback, None);
    call(addr, Method::POST, "/unsubscribe", Some(JSON), body).await
}

/// Subscribes `callback` to `uri` without a secret and asserts the 204.
pub async fn assert_subscribed(addr: SocketAddr, uri: &str, callback: &str) {
    let reply = http_subscribe(addr, uri, callback, None).await;
    assert_eq!(reply.status, 204, "subscribing {callback}: {}", reply.body);
}

/// A new node with `callback` subscribed to it; returns the node's URI.
pub async fn http_create_subscribed(addr: SocketAddr, callback: &str) -> String {
    let uri = http_create(addr).await;
    assert_subscribed(addr, &uri, callback).await;
    uri
}
