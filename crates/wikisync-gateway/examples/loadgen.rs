//! Load generator for the gateway benchmark (`docs/benchmarks.md`, section "Gateway").
//!
//! Starts the release `wikisync-gateway` binary on a free loopback port with a temporary data
//! directory, and a callback receiver (a tiny axum server) in this process, then measures:
//!
//! 1. the loopback baseline: the same client loop against an axum hello-world POST endpoint;
//! 2. durable acknowledged publishes per second with 1, 10 and 100 subscribers (`--publishers`
//!    concurrent publishers for `--seconds`), and publish→callback latency of those deliveries;
//! 3. publish→callback latency at a light paced load (1 publisher, 1 subscriber);
//! 4. fan-out: one publish to 1,000 subscribers, time until the last callback arrived;
//! 5. the gateway's resident memory (VmRSS, VmHWM) with 10,000 nodes and 10,000 subscriptions.
//!
//! Run it with `scripts/bench-gateway` (builds both in release mode), or:
//! `cargo build --release -p wikisync-gateway --bin wikisync-gateway --example loadgen &&
//! target/release/examples/loadgen [--seconds 5] [--publishers 32] [--quick]`.
//!
//! `--quick` measures only the baseline and the 1-subscriber throughput (for quick iterations).
#![allow(missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, Request, StatusCode};
use axum::routing::post;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    u64::try_from(epoch().elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn client() -> HttpClient {
    let mut c = HttpConnector::new();
    c.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1024)
        .build(c)
}

/// A ~1 KiB Atom entry whose title carries the send time (µs since the epoch).
fn entry(seq: u64, sent_us: u64) -> String {
    let filler = "x".repeat(700);
    format!(
        "<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>urn:bench:{seq}</id><title>t{sent_us}</title>\
         <updated>2026-01-01T00:00:00Z</updated><author><name>bench</name></author>\
         <content type=\"text\">{filler}</content></entry>"
    )
}

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    count: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

async fn receive(State(seen): State<Arc<Seen>>, body: Bytes) -> StatusCode {
    let now = now_us();
    if let Some(start) = body.windows(8).position(|w| w == b"<title>t") {
        let rest = &body[start + 8..];
        let end = rest.iter().position(|b| *b == b'<').unwrap_or(0);
        if let Some(sent) = std::str::from_utf8(&rest[..end])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            seen.latencies_us
                .lock()
                .unwrap()
                .push(now.saturating_sub(sent));
        }
    }
    seen.count.fetch_add(1, Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

async fn request(
    client: &HttpClient,
    method: Method,
    url: String,
    content_type: &str,
    body: String,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

struct Gateway {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_gateway(bin: &str) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(bin)
        .args(["--listen", &addr.to_string(), "--no-verify", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let gateway = Gateway {
        child,
        addr,
        _dir: dir,
    };
    let client = client();
    for _ in 0..200 {
        let req = Request::get(format!("http://{addr}/healthz"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        if client.request(req).await.is_ok() {
            return gateway;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the gateway did not start");
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Runs `publishers` loops for `seconds`, each sending `make(seq)` to `url`; returns the number
/// of 2xx answers.
async fn drive(
    client: &HttpClient,
    url: &str,
    content_type: &'static str,
    publishers: usize,
    seconds: f64,
    make: fn(u64) -> String,
) -> u64 {
    let ok = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..publishers {
        let (client, url, ok, seq) = (client.clone(), url.to_owned(), ok.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let (status, body) =
                    request(&client, Method::POST, url.clone(), content_type, make(n)).await;
                if status.is_success() {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    eprintln!("publish failed: {status} {body}");
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    ok.load(Ordering::Relaxed)
}

const ATOM: &str = "application/atom+xml;type=entry;charset=utf-8";

async fn subscribe_many(
    client: &HttpClient,
    gw: SocketAddr,
    uri: &str,
    rx: SocketAddr,
    n: usize,
    tag: &str,
) {
    for i in 0..n {
        let body = serde_json::json!({"uri": uri, "callback": format!("http://{rx}/{tag}/{i}")});
        let (status, text) = request(
            client,
            Method::POST,
            format!("http://{gw}/subscribe"),
            "application/json",
            body.to_string(),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    }
}

async fn create(client: &HttpClient, gw: SocketAddr) -> String {
    let (status, body) = request(
        client,
        Method::POST,
        format!("http://{gw}/create"),
        "text/plain",
        String::new(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["uri"].as_str().unwrap().to_owned()
}

async fn wait_count(seen: &Seen, want: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while seen.count.load(Ordering::Relaxed) < want {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

fn reset(seen: &Seen) {
    seen.count.store(0, Ordering::Relaxed);
    seen.latencies_us.lock().unwrap().clear();
}

fn latencies(seen: &Seen) -> Vec<u64> {
    let mut l = seen.latencies_us.lock().unwrap().clone();
    l.sort_unstable();
    l
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: f64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seconds = flag("--seconds", 5.0);
    let publishers = flag("--publishers", 32.0) as usize;
    let quick = args.iter().any(|a| a == "--quick");
    let default_bin = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("wikisync-gateway");
    let bin = args
        .iter()
        .position(|a| a == "--gateway")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default_bin.display().to_string());
    let _ = epoch();
    let client = client();

    // 1. Baseline: axum hello world, POST with a ~1 KiB body, same client loop.
    let hello = serve(Router::new().route("/", post(|_: Bytes| async { "hello" }))).await;
    let n = drive(
        &client,
        &format!("http://{hello}/"),
        "text/plain",
        publishers,
        seconds,
        |s| entry(s, 0),
    )
    .await;
    let baseline = n as f64 / seconds;
    println!("baseline: axum hello-world POST ~1 KiB, {publishers} clients: {baseline:.0} req/s");

    // The receiver.
    let seen = Arc::new(Seen::default());
    let rx = serve(Router::new().fallback(receive).with_state(seen.clone())).await;
    let gw = start_gateway(&bin).await;
    let publish_url = |uri: &str| format!("http://{}/publish?uri={}", gw.addr, enc(uri));

    // 2. Throughput with 1, 10, 100 subscribers.
    let subscriber_counts: &[usize] = if quick { &[1] } else { &[1, 10, 100] };
    for &subs in subscriber_counts {
        let uri = create(&client, gw.addr).await;
        subscribe_many(&client, gw.addr, &uri, rx, subs, &format!("t{subs}")).await;
        reset(&seen);
        let start = Instant::now();
        let acked = drive(
            &client,
            &publish_url(&uri),
            ATOM,
            publishers,
            seconds,
            |s| entry(s, now_us()),
        )
        .await;
        let rate = acked as f64 / seconds;
        let want = acked * subs as u64;
        let drained = wait_count(&seen, want, Duration::from_secs(120)).await;
        let all_in = start.elapsed().as_secs_f64();
        let l = latencies(&seen);
        println!(
            "publish, {subs} subscriber(s), {publishers} publishers: {rate:.0} acknowledged publishes/s ({:.2}x baseline); \
             {} of {want} deliveries in {all_in:.1} s ({:.0}/s){}; publish->callback p50 {:.2} ms, p99 {:.2} ms",
            rate / baseline,
            seen.count.load(Ordering::Relaxed),
            seen.count.load(Ordering::Relaxed) as f64 / all_in,
            if drained { "" } else { " (NOT DRAINED)" },
            percentile(&l, 0.5),
            percentile(&l, 0.99),
        );
    }

    if quick {
        return;
    }

    // 3. Latency at a light load: 1 publisher, 1 subscriber, 2,000 publishes paced at 500/s.
    {
        let uri = create(&client, gw.addr).await;
        subscribe_many(&client, gw.addr, &uri, rx, 1, "light").await;
        reset(&seen);
        let url = publish_url(&uri);
        let mut tick = tokio::time::interval(Duration::from_millis(2));
        for s in 0..2000u64 {
            tick.tick().await;
            let (status, _) =
                request(&client, Method::POST, url.clone(), ATOM, entry(s, now_us())).await;
            assert!(status.is_success());
        }
        wait_count(&seen, 2000, Duration::from_secs(30)).await;
        let l = latencies(&seen);
        println!(
            "latency, 1 subscriber, 500 publishes/s paced: publish->callback p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            percentile(&l, 1.0)
        );
    }

    // 4. Fan-out: 1 publish to 1,000 subscribers (3 runs).
    let mut fanouts = Vec::new();
    for run in 0..3 {
        let uri = create(&client, gw.addr).await;
        subscribe_many(&client, gw.addr, &uri, rx, 1000, &format!("f{run}")).await;
        reset(&seen);
        let start = Instant::now();
        let (status, _) = request(
            &client,
            Method::POST,
            publish_url(&uri),
            ATOM,
            entry(0, now_us()),
        )
        .await;
        assert!(status.is_success());
        let ok = wait_count(&seen, 1000, Duration::from_secs(30)).await;
        fanouts.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(ok, "fan-out did not complete");
    }
    fanouts.sort_by(f64::total_cmp);
    println!(
        "fan-out, 1 publish -> 1,000 subscribers: last delivery after {:.1} ms (median of 3; runs {:?})",
        fanouts[1],
        fanouts
            .iter()
            .map(|f| format!("{f:.1}"))
            .collect::<Vec<_>>()
    );
    drop(gw);

    // 5. Memory with 10,000 nodes and 10,000 subscriptions (a fresh gateway).
    let gw = start_gateway(&bin).await;
    let (rss0, _) = gw.rss_kib();
    let seq = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, seq, addr) = (client.clone(), seq.clone(), gw.addr);
        tasks.push(tokio::spawn(async move {
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n >= 10_000 {
                    break;
                }
                let (status, body) = request(
                    &client,
                    Method::POST,
                    format!("http://{addr}/publish"),
                    ATOM,
                    entry(n, now_us()),
                )
                .await;
                assert!(status.is_success(), "{body}");
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let uri = v["uri"].as_str().unwrap().to_owned();
                subscribe_many(&client, addr, &uri, rx, 1, &format!("m{n}")).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (rss, hwm) = gw.rss_kib();
    println!(
        "memory, 10,000 nodes + 10,000 subscriptions: VmRSS {:.1} MB (idle at start {:.1} MB), peak VmHWM {:.1} MB",
        rss as f64 / 1024.0,
        rss0 as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}
