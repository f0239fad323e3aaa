//! `https://` callbacks: a real TLS callback receiver on 127.0.0.1 with a self-signed
//! certificate made here, trusted through `callback_ca` (`--callback-ca`) or not.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use wikisync_gateway::config::Config;
use wikisync_gateway::delivery::{
    CallbackCaError, ENTRY_CONTENT_TYPE, load_callback_ca, signature,
};

const WAIT: Duration = Duration::from_secs(10);

/// `config` trusting the certificate `pem` for callbacks, written as a CA file into `dir`.
fn trusting(dir: &std::path::Path, pem: String, config: Config) -> Config {
    let ca = dir.join("callback-ca.pem");
    std::fs::write(&ca, pem).unwrap();
    Config {
        callback_ca: Some(ca),
        ..config
    }
}

#[tokio::test]
async fn a_trusted_https_callback_is_verified_and_receives_signed_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (rx, pem) = Receiver::start_tls().await;
    let gw = Gateway::start(trusting(dir.path(), pem, socket_config(dir.path()))).await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "before"))
        .await
        .uri();
    let callback = rx.url("/cb");
    assert!(callback.starts_with("https://127.0.0.1:"));
    let reply = http_subscribe(gw.addr, &uri, &callback, Some("s3cret")).await;
    assert_eq!(reply.status, 204, "verification over TLS: {}", reply.body);
    assert_eq!(rx.gets().len(), 1, "one verification GET");

    let body = entry("urn:2", "after");
    http_publish(gw.addr, Some(&uri), body.clone()).await.uri();
    assert!(wait_for(WAIT, || rx.posts().len() == 2).await);
    let posts = rx.posts();
    assert!(posts[0].body.contains("before"), "the last item first");
    assert_eq!(posts[1].body, body);
    assert_eq!(posts[1].headers["content-type"], ENTRY_CONTENT_TYPE);
    assert_eq!(posts[1].headers["referer"], uri.as_str());
    assert_eq!(
        posts[1].headers["x-hub-signature"],
        signature("s3cret", body.as_bytes()).as_str()
    );
    assert_eq!(rx.state.tls_failures.load(Ordering::SeqCst), 0);
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn an_untrusted_certificate_fails_verification() {
    let (rx, _pem) = Receiver::start_tls().await;
    let gw = Gateway::start_fresh().await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "x")).await.uri();
    http_subscribe(gw.addr, &uri, &rx.url("/cb"), None)
        .await
        .assert_error(403, "verification_failed");
    assert!(rx.gets().is_empty(), "no request got through TLS");
    assert!(rx.state.tls_failures.load(Ordering::SeqCst) >= 1);
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn an_untrusted_certificate_fails_delivery_which_is_retried_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (rx, pem) = Receiver::start_tls().await;
    let config = Config {
        verify: false,
        ..socket_config(dir.path())
    };
    let gw = Gateway::start(config.clone()).await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "one"))
        .await
        .uri();
    let reply = http_subscribe(gw.addr, &uri, &rx.url("/cb"), None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    http_publish(gw.addr, Some(&uri), entry("urn:2", "two"))
        .await
        .uri();
    // Retried (20 ms base, 100 ms cap), never delivered.
    assert!(
        wait_for(WAIT, || rx.state.tls_failures.load(Ordering::SeqCst) >= 3).await,
        "the delivery is retried"
    );
    assert!(
        rx.posts().is_empty(),
        "nothing is delivered over an untrusted connection"
    );
    let metrics = http_metrics(gw.addr).await;
    assert!(
        !metrics.contains("wikisync_gateway_delivery_failures_total 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("wikisync_gateway_outbox_pending 2\n"));
    gw.stop().await;

    // Trusting the certificate afterwards delivers what was kept, in order.
    let gw = Gateway::start(trusting(dir.path(), pem, config)).await;
    assert!(wait_for(WAIT, || rx.posts().len() == 2).await);
    let posts = rx.posts();
    assert!(posts[0].body.contains("<title>one</title>"));
    assert!(posts[1].body.contains("<title>two</title>"));
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_bad_callback_ca_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    assert!(matches!(
        load_callback_ca(&missing),
        Err(CallbackCaError::Read { .. })
    ));
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificate here\n").unwrap();
    assert!(matches!(
        load_callback_ca(&empty),
        Err(CallbackCaError::NoCertificate(_))
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = wikisync_gateway::run(
        listener,
        Config {
            callback_ca: Some(empty),
            ..socket_config(dir.path())
        },
        std::future::pending(),
    )
    .await;
    assert!(
        matches!(result, Err(wikisync_gateway::RunError::CallbackCa(_))),
        "{result:?}"
    );
}
