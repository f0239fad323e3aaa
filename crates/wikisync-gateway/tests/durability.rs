//! Durability: the outbox survives a restart and `kill -9`; acknowledged publishes always arrive.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

/// An address nothing listens on (yet).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn outbox_survives_a_restart_and_delivers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = socket_config(dir.path());
    config.verify = false;
    let callback_addr = free_addr();
    let gw = Gateway::start(config.clone()).await;
    let uri = http_create_subscribed(gw.addr, &format!("http://{callback_addr}/cb")).await;
    let want: Vec<String> = (0..5).map(|i| format!("v{i}")).collect();
    for t in &want {
        http_publish(gw.addr, Some(&uri), entry(&format!("urn:{t}"), t))
            .await
            .uri();
    }
    // Stop only once deliveries were attempted (and failed: nothing listens yet), so the restart
    // picks up queues with a failure streak.
    let failed = eventually(WAIT, || async {
        !http_metrics(gw.addr)
            .await
            .contains("wikisync_gateway_delivery_failures_total 0")
    })
    .await;
    assert!(failed, "no delivery was attempted");
    gw.stop().await;

    let rx = Receiver::start_on(
        tokio::net::TcpListener::bind(callback_addr).await.unwrap(),
        Arc::default(),
    )
    .await;
    let gw = Gateway::start(config).await;
    assert!(wait_for(WAIT, || rx.posts().len() >= 5).await);
    assert_eq!(titles(&rx.posts()), want);
    gw.stop().await;
    rx.stop().await;
}

struct Binary {
    child: Child,
    addr: SocketAddr,
}

impl Binary {
    async fn start(dir: &std::path::Path) -> Self {
        let addr = free_addr();
        let mut child = Command::new(env!("CARGO_BIN_EXE_wikisync-gateway"))
            .args([
                "--listen",
                &addr.to_string(),
                "--service",
                SERVICE,
                "--no-verify",
            ])
            .args(["--retry-base-ms", "20", "--retry-max-ms", "200"])
            .arg("--data-dir")
            .arg(dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let client = wikisync_gateway::delivery::http_client();
        for _ in 0..1500 {
            let request = axum::http::Request::get(format!("http://{addr}/healthz"))
                .body(http_body_util::Full::new(axum::body::Bytes::new()))
                .unwrap();
            if client
                .request(request)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Self { child, addr };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        panic!("the gateway binary did not start");
    }

    fn kill_9(mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }
}

/// Acknowledged publishes after which the gateway is killed.
const KILL_AFTER: usize = 100;

#[tokio::test]
async fn every_acknowledged_publish_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let gw = Binary::start(dir.path()).await;
    let uri = http_create_subscribed(gw.addr, &rx.url("/cb")).await;

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut publishers = Vec::new();
    for p in 0..4 {
        let (acked, uri, addr) = (acked.clone(), uri.clone(), gw.addr);
        publishers.push(tokio::spawn(async move {
            let client = wikisync_gateway::delivery::http_client();
            for i in 0.. {
                let t = format!("p{p}-{i:05}");
                let request =
                    axum::http::Request::post(format!("http://{addr}/publish?uri={}", enc(&uri)))
                        .header("content-type", ENTRY_TYPE)
                        .body(http_body_util::Full::new(axum::body::Bytes::from(entry(
                            &format!("urn:{t}"),
                            &t,
                        ))))
                        .unwrap();
                match client.request(request).await {
                    Ok(r) if r.status().is_success() => acked.lock().unwrap().push(t),
                    _ => break, // the gateway died: this publish was never acknowledged
                }
            }
        }));
    }
    // Kill the gateway while publishes are in flight, once some were acknowledged (a count, not
    // a time: a slow machine only takes longer to get there).
    assert!(
        wait_for(Duration::from_secs(120), || acked.lock().unwrap().len()
            >= KILL_AFTER)
        .await,
        "fewer than {KILL_AFTER} publishes acknowledged"
    );
    gw.kill_9();
    for p in publishers {
        p.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    eprintln!("{} publishes acknowledged before kill -9", acked.len());

    let gw = Binary::start(dir.path()).await;
    let received = || -> HashSet<String> { titles(&rx.posts()).into_iter().collect() };
    let all = wait_for(Duration::from_secs(120), || {
        let got = received();
        acked.iter().all(|t| got.contains(t))
    })
    .await;
    let got = received();
    let missing: Vec<&String> = acked.iter().filter(|t| !got.contains(*t)).collect();
    assert!(
        all,
        "{} of {} acknowledged publishes never arrived: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(5)]
    );
    // Per publisher, first arrivals keep publish order (redeliveries after the crash may repeat).
    let mut seen = HashSet::new();
    let mut last: [Option<String>; 4] = Default::default();
    for t in titles(&rx.posts()) {
        if !seen.insert(t.clone()) {
            continue;
        }
        let p: usize = t[1..2].parse().unwrap();
        if let Some(prev) = &last[p] {
            assert!(*prev < t, "{t} arrived after {prev}");
        }
        last[p] = Some(t);
    }
    gw.kill_9();
    rx.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_drains_in_flight_deliveries() {
    use wikisync_gateway::store::{Store, StoreLimits};
    let dir = tempfile::tempdir().unwrap();
    let mut config = socket_config(dir.path());
    config.verify = false;
    let rx = Receiver::start().await;
    // Part of the scenario: the callback answers slowly, so its delivery is still in flight
    // when the shutdown begins.
    rx.state
        .delay_ms
        .store(500, std::sync::atomic::Ordering::SeqCst);
    let gw = Gateway::start(config).await;
    let uri = http_create_subscribed(gw.addr, &rx.url("/cb")).await;
    http_publish(gw.addr, Some(&uri), entry("urn:1", "x"))
        .await
        .uri();
    assert!(wait_for(WAIT, || rx.posts().len() == 1).await);
    gw.stop().await; // the callback is still sleeping: shutdown must wait for its answer
    let store = Store::open(
        &dir.path().join(wikisync_gateway::DATABASE_FILE),
        StoreLimits::default(),
        None,
    )
    .unwrap();
    assert_eq!(
        store.outbox_len().await.unwrap(),
        0,
        "the in-flight delivery was completed and recorded"
    );
    rx.stop().await;
}
