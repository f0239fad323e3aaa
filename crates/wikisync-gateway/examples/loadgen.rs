//! Load generator for the gateway benchmark (`docs/benchmarks.md`, sections "Gateway" and
//! "Gateway through Prosody").
//!
//! Starts the release `wikisync-gateway` binary on a free loopback port with a temporary data
//! directory, and a callback receiver (a tiny axum server) in this process, then measures:
//!
//! 1. the loopback baseline: the same client loop against an axum hello-world POST endpoint;
//! 2. durable acknowledged publishes per second with 1, 10 and 100 subscribers (`--publishers`
//!    concurrent publishers for `--seconds`), deliveries per second end to end, and
//!    publish→callback latency of those deliveries;
//! 3. publish→callback latency at a light paced load (1 publisher, 1 subscriber);
//! 4. fan-out: one publish to 1,000 subscribers, time until the last callback arrived;
//! 5. the gateway's resident memory (VmRSS, VmHWM) with 10,000 nodes and 10,000 subscriptions.
//!
//! The gateway inherits this process's environment, so with `WIKISYNC_GATEWAY_XMPP_*` set it
//! runs in XMPP mode (`scripts/bench-gateway-xmpp`). Each phase waits at most `--drain-seconds`
//! for its deliveries and reports what is still undelivered rather than waiting longer; each
//! phase also reports the CPU time used by the gateway, by this process and by any process
//! given with `--cpu-of NAME=PID` (e.g. the XMPP server), and the load average.
//!
//! Run it with `scripts/bench-gateway` (builds both in release mode), or:
//! `cargo build --release -p wikisync-gateway --bin wikisync-gateway --example loadgen &&
//! target/release/examples/loadgen --help`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, Request, StatusCode, Uri};
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
///
/// Callback paths are `/<phase>/<n>`; only deliveries for the current phase are counted, so a
/// phase that did not drain cannot inflate the next one's figures.
#[derive(Default)]
struct Seen {
    phase: Mutex<String>,
    count: AtomicU64,
    /// Deliveries for an earlier phase that arrived during this one.
    stale: AtomicU64,
    last_us: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

async fn receive(State(seen): State<Arc<Seen>>, uri: Uri, body: Bytes) -> StatusCode {
    let now = now_us();
    let tag = uri.path().trim_start_matches('/').split('/').next();
    if tag != Some(seen.phase.lock().unwrap().as_str()) {
        seen.stale.fetch_add(1, Ordering::Relaxed);
        return StatusCode::NO_CONTENT;
    }
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
    seen.last_us.fetch_max(now, Ordering::Relaxed);
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
        // Every load comes from one address: no per-address connection limit.
        .args([
            "--listen",
            &addr.to_string(),
            "--no-verify",
            "--max-connections-per-ip",
            "0",
            "--data-dir",
        ])
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

/// Runs `publishers` loops for `seconds` (or until `limit` requests were sent), each sending
/// `make(seq)` to `url`; returns the number of 2xx answers and the time it took.
async fn drive(
    client: &HttpClient,
    url: &str,
    content_type: &'static str,
    publishers: usize,
    seconds: f64,
    limit: u64,
    make: fn(u64) -> String,
) -> (u64, f64) {
    let ok = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for _ in 0..publishers {
        let (client, url, ok, seq) = (client.clone(), url.to_owned(), ok.clone(), seq.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n >= limit {
                    break;
                }
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
    (ok.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
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

/// Starts counting deliveries for callbacks under `/<phase>/`.
fn reset(seen: &Seen, phase: &str) {
    phase.clone_into(&mut seen.phase.lock().unwrap());
    seen.count.store(0, Ordering::Relaxed);
    seen.stale.store(0, Ordering::Relaxed);
    seen.last_us.store(0, Ordering::Relaxed);
    seen.latencies_us.lock().unwrap().clear();
}

/// Seconds from `start_us` to the last delivery of the phase (0 when there was none).
fn until_last(seen: &Seen, start_us: u64) -> f64 {
    seen.last_us
        .load(Ordering::Relaxed)
        .saturating_sub(start_us) as f64
        / 1e6
}

/// "" when all arrived, else " (N UNDELIVERED after the time limit)".
fn undelivered(got: u64, want: u64) -> String {
    if got >= want {
        String::new()
    } else {
        format!(" ({} UNDELIVERED after the time limit)", want - got)
    }
}

/// CPU time (user + system, in clock ticks) of a process, from `/proc/<pid>/stat`.
fn cpu_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// CPU used by the watched processes over one phase, as a percentage of one core.
struct CpuWatch {
    procs: Vec<(String, String, Option<u64>)>,
    start: Instant,
    load_at_start: String,
}

impl CpuWatch {
    fn start(procs: &[(String, String)]) -> Self {
        Self {
            procs: procs
                .iter()
                .map(|(name, pid)| (name.clone(), pid.clone(), cpu_ticks(pid)))
                .collect(),
            start: Instant::now(),
            load_at_start: load_average(),
        }
    }

    fn report(&self) -> String {
        static TICKS: OnceLock<f64> = OnceLock::new();
        let ticks = *TICKS.get_or_init(clock_ticks_per_second);
        let wall = self.start.elapsed().as_secs_f64();
        let used: Vec<String> = self
            .procs
            .iter()
            .map(|(name, pid, before)| match (before, cpu_ticks(pid)) {
                (Some(b), Some(a)) => {
                    format!("{name} {:.0}%", (a - b) as f64 / ticks / wall * 100.0)
                }
                _ => format!("{name} ?"),
            })
            .collect();
        format!(
            "    cpu over {wall:.1} s (% of one core): {}; load average {} -> {}",
            used.join(", "),
            self.load_at_start,
            load_average()
        )
    }
}

fn latencies(seen: &Seen) -> Vec<u64> {
    let mut l = seen.latencies_us.lock().unwrap().clone();
    l.sort_unstable();
    l
}

const USAGE: &str = "\
usage: loadgen [options]
  --gateway PATH          the wikisync-gateway binary (default: next to this example's directory)
  --seconds S             length of each saturation run (default 5)
  --publishers N          concurrent publishers in the saturation runs (default 32)
  --subscribers LIST      subscriber counts of the saturation runs (default 1,10,100)
  --max-publishes N       stop each saturation run after N publishes (default: no limit)
  --drain-seconds S       longest wait for a phase's deliveries once its publishing ended;
                          what is missing then is reported as undelivered (default 120)
  --paced-rate R          publishes/s of the paced latency run (default 500)
  --paced-count N         publishes of the paced latency run (default 2000)
  --memory-nodes N        nodes (one subscription each) of the memory run (default 10000)
  --phases LIST           of throughput,paced,fanout,memory (default: all)
  --quick                 baseline and the 1-subscriber saturation run only
  --cpu-of NAME=PID       also report this process's CPU time per phase (repeatable)
  --help                  this text
The gateway inherits the environment (WIKISYNC_GATEWAY_XMPP_* selects XMPP mode).";

struct Options {
    bin: String,
    seconds: f64,
    publishers: usize,
    subscribers: Vec<usize>,
    max_publishes: u64,
    drain: Duration,
    paced_rate: f64,
    paced_count: u64,
    memory_nodes: u64,
    phases: Vec<String>,
    cpu_of: Vec<(String, String)>,
}

fn parse_list<T: std::str::FromStr>(flag: &str, value: &str) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(|v| {
            v.trim()
                .parse()
                .map_err(|_| format!("{flag}: cannot read {v:?}"))
        })
        .collect()
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let default_bin = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.parent()?.join("wikisync-gateway")))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "wikisync-gateway".to_owned());
    let mut o = Options {
        bin: default_bin,
        seconds: 5.0,
        publishers: 32,
        subscribers: vec![1, 10, 100],
        max_publishes: u64::MAX,
        drain: Duration::from_secs(120),
        paced_rate: 500.0,
        paced_count: 2000,
        memory_nodes: 10_000,
        phases: ["throughput", "paced", "fanout", "memory"]
            .map(str::to_owned)
            .to_vec(),
        cpu_of: Vec::new(),
    };
    let mut it = args.iter().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        if flag == "--quick" {
            o.subscribers = vec![1];
            o.phases = vec!["throughput".to_owned()];
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| -> Result<f64, String> {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n > 0.0)
                .ok_or_else(|| format!("{flag}: {v:?} is not a positive number"))
        };
        match flag.as_str() {
            "--gateway" => o.bin.clone_from(value),
            "--seconds" => o.seconds = num(value)?,
            "--publishers" => o.publishers = num(value)? as usize,
            "--subscribers" => o.subscribers = parse_list(flag, value)?,
            "--max-publishes" => o.max_publishes = num(value)? as u64,
            "--drain-seconds" => o.drain = Duration::from_secs_f64(num(value)?),
            "--paced-rate" => o.paced_rate = num(value)?,
            "--paced-count" => o.paced_count = num(value)? as u64,
            "--memory-nodes" => o.memory_nodes = num(value)? as u64,
            "--phases" => {
                o.phases = parse_list(flag, value)?;
                if let Some(p) = o
                    .phases
                    .iter()
                    .find(|p| !["throughput", "paced", "fanout", "memory"].contains(&p.as_str()))
                {
                    return Err(format!("--phases: unknown phase {p:?}"));
                }
            }
            "--cpu-of" => {
                let (name, pid) = value
                    .split_once('=')
                    .ok_or_else(|| format!("--cpu-of wants NAME=PID, not {value:?}"))?;
                o.cpu_of.push((name.to_owned(), pid.to_owned()));
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let o = match parse_options(&args) {
        Ok(o) => o,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("loadgen: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let (seconds, publishers) = (o.seconds, o.publishers);
    let phase = |name: &str| o.phases.iter().any(|p| p == name);
    let _ = epoch();
    let client = client();
    let xmpp = std::env::var_os("WIKISYNC_GATEWAY_XMPP_COMPONENT").is_some();
    match std::env::var("WIKISYNC_GATEWAY_XMPP_COMPONENT") {
        Ok(component) => println!(
            "mode: XMPP (component {component}, service {})",
            std::env::var("WIKISYNC_GATEWAY_SERVICE").unwrap_or_default()
        ),
        Err(_) => println!("mode: embedded"),
    }
    let watch = |gw: &Gateway| {
        let mut procs = vec![
            ("gateway".to_owned(), gw.child.id().to_string()),
            ("loadgen".to_owned(), std::process::id().to_string()),
        ];
        procs.extend(o.cpu_of.iter().cloned());
        CpuWatch::start(&procs)
    };

    // 1. Baseline: axum hello world, POST with a ~1 KiB body, same client loop.
    let hello = serve(Router::new().route("/", post(|_: Bytes| async { "hello" }))).await;
    let (n, took) = drive(
        &client,
        &format!("http://{hello}/"),
        "text/plain",
        publishers,
        seconds,
        u64::MAX,
        |s| entry(s, 0),
    )
    .await;
    let baseline = n as f64 / took;
    println!(
        "baseline: axum hello-world POST ~1 KiB, {publishers} clients: {baseline:.0} req/s (load average {})",
        load_average()
    );

    // The receiver.
    let seen = Arc::new(Seen::default());
    let rx = serve(Router::new().fallback(receive).with_state(seen.clone())).await;
    let gw = start_gateway(&o.bin).await;
    let publish_url = |uri: &str| format!("http://{}/publish?uri={}", gw.addr, enc(uri));

    // 2. Throughput with 1, 10, 100 subscribers.
    let subscriber_counts: &[usize] = if phase("throughput") {
        &o.subscribers
    } else {
        &[]
    };
    for &subs in subscriber_counts {
        let tag = format!("t{subs}");
        let uri = create(&client, gw.addr).await;
        subscribe_many(&client, gw.addr, &uri, rx, subs, &tag).await;
        reset(&seen, &tag);
        let cpu = watch(&gw);
        let start_us = now_us();
        let (acked, took) = drive(
            &client,
            &publish_url(&uri),
            ATOM,
            publishers,
            seconds,
            o.max_publishes,
            |s| entry(s, now_us()),
        )
        .await;
        let rate = acked as f64 / took;
        let want = acked * subs as u64;
        wait_count(&seen, want, o.drain).await;
        let got = seen.count.load(Ordering::Relaxed);
        let span = until_last(&seen, start_us);
        let l = latencies(&seen);
        println!(
            "publish, {subs} subscriber(s), {publishers} publishers: {acked} acknowledged in {took:.1} s = {rate:.0}/s ({:.2}x baseline); \
             {got} of {want} deliveries, the last after {span:.1} s ({:.0}/s){}; publish->callback p50 {:.2} ms, p99 {:.2} ms",
            rate / baseline,
            got as f64 / span.max(f64::MIN_POSITIVE),
            undelivered(got, want),
            percentile(&l, 0.5),
            percentile(&l, 0.99),
        );
        println!("{}", cpu.report());
    }

    // 3. Latency at a light load: 1 publisher, 1 subscriber, paced (default 2,000 at 500/s).
    if phase("paced") {
        let uri = create(&client, gw.addr).await;
        subscribe_many(&client, gw.addr, &uri, rx, 1, "light").await;
        reset(&seen, "light");
        let cpu = watch(&gw);
        let url = publish_url(&uri);
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / o.paced_rate));
        let start = Instant::now();
        let mut acked = 0;
        for s in 0..o.paced_count {
            tick.tick().await;
            let (status, body) =
                request(&client, Method::POST, url.clone(), ATOM, entry(s, now_us())).await;
            if status.is_success() {
                acked += 1;
            } else {
                eprintln!("publish failed: {status} {body}");
            }
        }
        let took = start.elapsed().as_secs_f64();
        wait_count(&seen, acked, o.drain).await;
        let got = seen.count.load(Ordering::Relaxed);
        let l = latencies(&seen);
        println!(
            "latency, 1 subscriber, {acked} publishes paced at {:.0}/s (sent in {took:.1} s): {got} of {acked} delivered{}; \
             publish->callback p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            o.paced_rate,
            undelivered(got, acked),
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            percentile(&l, 1.0)
        );
        println!("{}", cpu.report());
    }

    // 4. Fan-out: 1 publish to 1,000 subscribers (3 runs).
    if phase("fanout") {
        let mut fanouts = Vec::new();
        let cpu = watch(&gw);
        for run in 0..3 {
            let tag = format!("f{run}");
            let uri = create(&client, gw.addr).await;
            subscribe_many(&client, gw.addr, &uri, rx, 1000, &tag).await;
            reset(&seen, &tag);
            let start = Instant::now();
            let (status, body) = request(
                &client,
                Method::POST,
                publish_url(&uri),
                ATOM,
                entry(0, now_us()),
            )
            .await;
            if !status.is_success() {
                eprintln!("publish failed: {status} {body}");
            }
            if wait_count(&seen, 1000, o.drain).await {
                fanouts.push(format!("{:.1}", start.elapsed().as_secs_f64() * 1000.0));
            } else {
                fanouts.push(format!(
                    "incomplete ({} of 1000)",
                    seen.count.load(Ordering::Relaxed)
                ));
            }
        }
        println!("fan-out, 1 publish -> 1,000 subscribers: last delivery after (ms) {fanouts:?}");
        println!("{}", cpu.report());
    }
    drop(gw);

    // 5. Memory with 10,000 nodes and 10,000 subscriptions (a fresh gateway).
    if !phase("memory") {
        return;
    }
    let gw = start_gateway(&o.bin).await;
    let cpu = watch(&gw);
    let (rss0, _) = gw.rss_kib();
    reset(&seen, "m");
    let start_us = now_us();
    let seq = Arc::new(AtomicU64::new(0));
    let total = o.memory_nodes;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (client, seq, addr) = (client.clone(), seq.clone(), gw.addr);
        tasks.push(tokio::spawn(async move {
            loop {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                if n >= total {
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
                subscribe_many(&client, addr, &uri, rx, 1, "m").await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = cpu.start.elapsed().as_secs_f64();
    let (rss, hwm) = gw.rss_kib();
    println!(
        "memory, {total} nodes + {total} subscriptions (created in {took:.1} s): VmRSS {:.1} MB (idle at start {:.1} MB), peak VmHWM {:.1} MB",
        rss as f64 / 1024.0,
        rss0 as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    if xmpp {
        // Each node's publish reaches its subscriber only once the node was created on the
        // pubsub service and the item came back as an event: wait for that too.
        wait_count(&seen, total, o.drain).await;
        let got = seen.count.load(Ordering::Relaxed);
        let (rss, hwm) = gw.rss_kib();
        println!(
            "memory, after the pubsub round trips: {got} of {total} first items delivered{}, the last after {:.1} s; \
             VmRSS {:.1} MB, peak VmHWM {:.1} MB",
            undelivered(got, total),
            until_last(&seen, start_us),
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    println!("{}", cpu.report());
}
