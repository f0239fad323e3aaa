//! The WebSub hub endpoint: request checks through `app()`, and the whole flow (verification,
//! fat pings, denial, unsubscription, publish pings, leases) with real callback receivers.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use axum::http::Method;
use common::*;
use wikisync_gateway::delivery::{FEED_CONTENT_TYPE, signature};
use wikisync_gateway::http::websub::{DEFAULT_LEASE_SECONDS, MAX_LEASE_SECONDS, MIN_LEASE_SECONDS};
use wikisync_gateway::store::SubscribeRequest;
use wikisync_gateway::time::now_ms;

const FORM: &str = "application/x-www-form-urlencoded";

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A subscriber's request body: `hub.mode`, `hub.callback` and `hub.topic`, then `extra`.
fn intent(mode: &str, callback: &str, topic: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("hub.mode", mode),
        ("hub.callback", callback),
        ("hub.topic", topic),
    ];
    pairs.extend_from_slice(extra);
    form(&pairs)
}

/// A `POST /hub` asking for JSON errors (`Accept: application/json`), so replies can be checked
/// with `assert_error`; the plain-text default has its own test.
fn hub_post(content_type: Option<&str>, body: String) -> axum::http::Request<axum::body::Body> {
    let mut request = post("/hub", content_type, body);
    request
        .headers_mut()
        .insert("accept", "application/json".parse().unwrap());
    request
}

async fn hub(api: &Api, body: &str) -> Reply {
    send(&api.router, hub_post(Some(FORM), body.to_owned())).await
}

#[tokio::test]
async fn hub_errors_are_plain_text_unless_json_is_asked_for() {
    let api = api();
    for accept in [None, Some("text/plain"), Some("*/*")] {
        let mut request = post("/hub", Some(FORM), "hub.mode=watch".to_owned());
        if let Some(accept) = accept {
            request
                .headers_mut()
                .insert("accept", accept.parse().unwrap());
        }
        let reply = send(&api.router, request).await;
        assert_eq!(reply.status, 400);
        assert_eq!(
            reply.headers["content-type"], "text/plain; charset=utf-8",
            "Accept: {accept:?}"
        );
        assert!(reply.body.starts_with("bad_mode: "), "{}", reply.body);
        assert!(reply.body.len() > "bad_mode: ".len() + 1);
    }
    let reply = send(
        &api.router,
        post("/hub", Some("application/json"), "{}".to_owned()),
    )
    .await;
    assert_eq!(reply.status, 415);
    assert!(
        reply.body.starts_with("unsupported_media_type: "),
        "{}",
        reply.body
    );
    let json = hub(&api, "hub.mode=watch").await;
    json.assert_error(400, "bad_mode");
    assert_eq!(json.headers["content-type"], "application/json");
}

async fn hub_call(addr: std::net::SocketAddr, body: String) -> Reply {
    call(addr, Method::POST, "/hub", Some(FORM), body).await
}

#[tokio::test]
async fn bad_hub_requests_are_4xx_with_a_code() {
    let api = api();
    let uri = api.create().await;
    let cb = "http://127.0.0.1:9/cb";
    let sub = |topic: &str, extra: &[(&str, &str)]| intent("subscribe", cb, topic, extra);
    let long = "s".repeat(200);
    let forms = [
        (String::new(), 400, "missing_mode"),
        (form(&[("hub.mode", "watch")]), 400, "bad_mode"),
        (
            form(&[("hub.mode", "subscribe"), ("hub.topic", &uri)]),
            400,
            "missing_callback",
        ),
        (
            form(&[("hub.mode", "subscribe"), ("hub.callback", cb)]),
            400,
            "missing_topic",
        ),
        (sub("http://example.org/feed", &[]), 400, "bad_topic"),
        (sub("not a url", &[]), 400, "bad_topic"),
        (sub("ftp://h/items?uri=x", &[]), 400, "bad_topic"),
        (sub("xmpp:?;node=x", &[]), 400, "malformed_uri"),
        (
            intent("subscribe", "mailto:a@b", &uri, &[]),
            400,
            "bad_callback",
        ),
        (sub(&uri, &[("hub.lease_seconds", "-5")]), 400, "bad_lease"),
        (sub(&uri, &[("hub.secret", &long)]), 400, "bad_secret"),
        (form(&[("hub.mode", "publish")]), 400, "missing_topic"),
        (
            form(&[
                ("hub.mode", "publish"),
                ("hub.url", "xmpp:pubsub.example.org?;node=nope"),
            ]),
            404,
            "node_not_found",
        ),
        (
            form(&[
                ("hub.mode", "publish"),
                ("hub.url", "xmpp:other.example?;node=x"),
            ]),
            404,
            "unknown_service",
        ),
    ];
    for (body, status, code) in forms {
        hub(&api, &body).await.assert_error_for(&body, status, code);
    }
    send(
        &api.router,
        hub_post(Some("application/json"), "{}".to_owned()),
    )
    .await
    .assert_error(415, "unsupported_media_type");
    send(&api.router, hub_post(None, "hub.mode=publish".to_owned()))
        .await
        .assert_error(400, "missing_content_type");
    send(&api.router, get("/hub"))
        .await
        .assert_error(405, "method_not_allowed");
    // Unknown parameters are ignored; a publish ping of an empty node is accepted.
    let reply = hub(
        &api,
        &form(&[("hub.mode", "publish"), ("hub.topic", &uri), ("x", "y")]),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}

#[tokio::test]
async fn publish_pings_need_a_token_when_tokens_are_configured() {
    let api = api_with(wikisync_gateway::config::Config {
        tokens: vec!["t0k".to_owned()],
        ..config()
    });
    let create = axum::http::Request::post("/create")
        .header("authorization", "Bearer t0k")
        .body(axum::body::Body::empty())
        .unwrap();
    let uri = send(&api.router, create).await.uri();
    hub(&api, &form(&[("hub.mode", "publish"), ("hub.url", &uri)]))
        .await
        .assert_error(401, "unauthorized");
    let ping = axum::http::Request::post("/hub")
        .header("content-type", FORM)
        .header("authorization", "Bearer t0k")
        .body(axum::body::Body::from(form(&[
            ("hub.mode", "publish"),
            ("hub.url", &uri),
        ])))
        .unwrap();
    assert_eq!(send(&api.router, ping).await.status, 202);
}

#[tokio::test]
async fn websub_subscriber_is_verified_then_gets_signed_fat_pings() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "before"))
        .await
        .uri();
    // The feed URL form of the topic, as a WebSub subscriber would discover it.
    let topic = format!("http://{}/items?uri={}", gw.addr, enc(&uri));
    let callback = rx.url("/ws?id=7");
    let extra = [
        ("hub.lease_seconds", "3600"),
        ("hub.secret", "k3y"),
        ("hub.unknown", "ignored"),
    ];
    let reply = hub_call(gw.addr, intent("subscribe", &callback, &topic, &extra)).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert!(reply.body.is_empty());
    assert!(wait_for(WAIT, || !rx.gets().is_empty()).await);
    let verify = &rx.gets()[0];
    assert_eq!(verify.param("id").as_deref(), Some("7"), "query kept");
    assert_eq!(verify.param("hub.mode").as_deref(), Some("subscribe"));
    assert_eq!(verify.param("hub.topic").as_deref(), Some(topic.as_str()));
    assert_eq!(verify.param("hub.lease_seconds").as_deref(), Some("3600"));
    assert_eq!(verify.param("hub.challenge").map(|c| c.len()), Some(32));
    // The subscription is stored after the verification answer.
    assert!(wait_for(WAIT, || gw.leases_of(&callback).len() == 1).await);
    let lease = gw.leases_of(&callback)[0];

    // WebSub subscribers get no "last item" on subscribe: the first delivery is the entry
    // published next (deliveries to a subscriber are ordered, so urn:1 would come first).
    let body = entry("urn:2", "after");
    http_publish(gw.addr, Some(&uri), body.clone()).await.uri();
    assert!(wait_for(WAIT, || rx.posts().len() == 1).await);
    let ping = &rx.posts()[0];
    assert_eq!(ping.headers["content-type"], FEED_CONTENT_TYPE);
    assert_eq!(
        ping.headers["link"],
        format!(
            "<http://{}/hub>; rel=\"hub\", <{topic}>; rel=\"self\"",
            gw.addr
        )
        .as_str()
    );
    assert_eq!(
        ping.headers["x-hub-signature"],
        signature("k3y", ping.body.as_bytes()).as_str()
    );
    assert!(
        ping.body
            .contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">")
    );
    assert!(ping.body.contains("<id>urn:2</id>"));
    assert!(!ping.body.contains("urn:1"), "only the new entry");

    // A publish ping re-sends the newest item.
    let reply = hub_call(
        gw.addr,
        form(&[("hub.mode", "publish"), ("hub.url", &topic)]),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert!(wait_for(WAIT, || rx.posts().len() == 2).await);
    assert!(rx.posts()[1].body.contains("<id>urn:2</id>"));

    // Re-subscription renews: the same subscription (and queue) with a new lease, so no
    // duplicate deliveries; then unsubscribe is verified too.
    hub_call(gw.addr, intent("subscribe", &callback, &topic, &[])).await;
    assert!(wait_for(WAIT, || rx.gets().len() == 2).await);
    assert_eq!(
        rx.gets()[1].param("hub.lease_seconds"),
        Some(DEFAULT_LEASE_SECONDS.to_string())
    );
    assert!(wait_for(WAIT, || gw.leases_of(&callback) != [lease]).await);
    assert_eq!(gw.leases_of(&callback).len(), 1, "renewed, not added");
    http_publish(gw.addr, Some(&uri), entry("urn:3", "three"))
        .await
        .uri();
    // A sentinel: a second delivery of urn:3 would come before it.
    http_publish(gw.addr, Some(&uri), entry("urn:3b", "sentinel"))
        .await
        .uri();
    assert!(wait_for(WAIT, || rx.posts().len() >= 4).await);
    let ids: Vec<bool> = rx.posts()[2..]
        .iter()
        .map(|p| p.body.contains("<id>urn:3</id>"))
        .collect();
    assert_eq!(ids, [true, false], "one delivery per publish after renewal");
    assert!(rx.posts()[3].body.contains("<id>urn:3b</id>"));

    hub_call(gw.addr, intent("unsubscribe", &callback, &topic, &[])).await;
    assert!(wait_for(WAIT, || rx.gets().len() == 3).await);
    let unsub = &rx.gets()[2];
    assert_eq!(unsub.param("hub.mode").as_deref(), Some("unsubscribe"));
    assert_eq!(unsub.param("hub.lease_seconds"), None);
    assert!(wait_for(WAIT, || gw.leases_of(&callback).is_empty()).await);
    // Nothing after unsubscribing: the publish is acknowledged once its deliveries are
    // queued, and none is queued for the callback.
    http_publish(gw.addr, Some(&uri), entry("urn:4", "four"))
        .await
        .uri();
    assert_eq!(gw.queued_for(&callback), 0, "nothing after unsubscribing");
    assert_eq!(rx.posts().len(), 4);
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn refused_verification_unknown_topic_and_node_deletion() {
    let gw = Gateway::start_fresh().await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "x")).await.uri();

    // A callback that answers 404 to the verification: not subscribed.
    let refuser = Receiver::start().await;
    refuser.state.get_status.store(404, Ordering::SeqCst);
    let sub = |cb: String, topic: &str| intent("subscribe", &cb, topic, &[]);
    assert_eq!(
        hub_call(gw.addr, sub(refuser.url("/r"), &uri)).await.status,
        202
    );
    assert!(wait_for(WAIT, || refuser.gets().len() == 1).await);
    // The refusal stores nothing, so a publish queues nothing for the callback (the publish
    // is acknowledged once its deliveries are queued).
    http_publish(gw.addr, Some(&uri), entry("urn:2", "y"))
        .await
        .uri();
    assert!(gw.leases_of(&refuser.url("/r")).is_empty());
    assert_eq!(gw.queued_for(&refuser.url("/r")), 0);
    assert!(refuser.posts().is_empty());

    // An unknown topic: 202, then a denial (no verification).
    let denied = Receiver::start().await;
    let missing = "xmpp:pubsub.example.org?;node=missing".to_owned();
    assert_eq!(
        hub_call(gw.addr, sub(denied.url("/d"), &missing))
            .await
            .status,
        202
    );
    assert!(wait_for(WAIT, || denied.gets().len() == 1).await);
    let denial = &denied.gets()[0];
    assert_eq!(denial.param("hub.mode").as_deref(), Some("denied"));
    assert_eq!(denial.param("hub.topic"), Some(missing));
    assert!(denial.param("hub.reason").is_some_and(|r| !r.is_empty()));
    assert_eq!(denial.param("hub.challenge"), None);

    // A subscriber of a node that is deleted is told with a denial.
    let rx = Receiver::start().await;
    hub_call(gw.addr, sub(rx.url("/s"), &uri)).await;
    assert!(wait_for(WAIT, || rx.gets().len() == 1).await);
    assert!(wait_for(WAIT, || gw.leases_of(&rx.url("/s")).len() == 1).await);
    let reply = call(
        gw.addr,
        Method::POST,
        &format!("/delete?uri={}", enc(&uri)),
        None,
        String::new(),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(wait_for(WAIT, || rx.gets().len() == 2).await);
    let gone = &rx.gets()[1];
    assert_eq!(gone.param("hub.mode").as_deref(), Some("denied"));
    assert_eq!(gone.param("hub.topic"), Some(uri));
    assert!(rx.posts().is_empty());
    gw.stop().await;
    for r in [refuser, denied, rx] {
        r.stop().await;
    }
}

#[tokio::test]
async fn leases_are_clamped_and_enforced() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "x")).await.uri();
    for (asked, granted) in [("1", MIN_LEASE_SECONDS), ("999999999", MAX_LEASE_SECONDS)] {
        let n = rx.gets().len() + 1;
        let lease = [("hub.lease_seconds", asked)];
        hub_call(gw.addr, intent("subscribe", &rx.url("/l"), &uri, &lease)).await;
        assert!(wait_for(WAIT, || rx.gets().len() == n).await);
        assert_eq!(
            rx.gets()[n - 1].param("hub.lease_seconds"),
            Some(granted.to_string())
        );
    }
    gw.stop().await;
    rx.stop().await;

    // Expiry, through the store: an expired subscription gets nothing and is swept away.
    let api = api();
    let uri = api.create().await;
    let node = node_of(&uri).to_owned();
    let now = now_ms();
    for (callback, expires) in [
        ("http://127.0.0.1:9/old", now - 1),
        ("http://127.0.0.1:9/new", now + 60_000),
    ] {
        api.store
            .websub_subscribe(SubscribeRequest {
                node: node.clone(),
                callback: callback.to_owned(),
                secret: None,
                topic: Some(uri.clone()),
                expires_ms: Some(expires),
                now_ms: now,
            })
            .await
            .unwrap();
    }
    let reply = api.publish(Some(&uri), &entry("urn:1", "x")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        api.store.outbox_len().await.unwrap(),
        1,
        "only the live lease"
    );
    assert_eq!(api.store.expire_leases(now_ms()).await.unwrap(), 1);
    assert_eq!(api.store.expire_leases(now_ms()).await.unwrap(), 0);
    assert_eq!(api.store.outbox_len().await.unwrap(), 1);
}
