//! Subscriptions that heal: leases on `/subscribe`, dropped subscriptions remembered with their
//! reason, `GET /subscription` for a subscriber's own subscription, node deletion with a
//! redirect, and a mirror that is dropped, comes back and catches up.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::Method;
use common::*;
use wikisync_gateway::http::subscription::{MAX_CLOCK_SKEW_SECS, request_signature};
use wikisync_gateway::store::{
    DropReason, PublishRequest, Standing, Store, StoreLimits, SubscribeRequest,
};
use wikisync_gateway::time::now_ms;

/// `POST /subscribe` with a lease (and a secret).
async fn subscribe_leased(
    addr: SocketAddr,
    uri: &str,
    callback: &str,
    secret: Option<&str>,
    lease_seconds: u64,
) -> Reply {
    let mut body: serde_json::Value =
        serde_json::from_str(&subscription_json(uri, callback, secret)).unwrap();
    body["lease_seconds"] = lease_seconds.into();
    call(
        addr,
        Method::POST,
        "/subscribe",
        Some(JSON),
        body.to_string(),
    )
    .await
}

/// How a `GET /subscription` request is signed in a test.
enum Signed<'a> {
    /// Correctly, with this secret.
    With(&'a str),
    /// Not at all.
    Unsigned,
    /// With a made-up header value.
    Header(&'a str),
}

fn now_s() -> i64 {
    now_ms() / 1000
}

/// `GET /subscription` for `callback`'s subscription to `uri`, at `timestamp`.
async fn state_call(
    addr: SocketAddr,
    uri: &str,
    callback: &str,
    timestamp: i64,
    signed: Signed<'_>,
) -> Reply {
    let ts = timestamp.to_string();
    let path = format!(
        "/subscription?uri={}&callback={}&timestamp={ts}",
        enc(uri),
        enc(callback)
    );
    let signature = match signed {
        Signed::With(secret) => Some(request_signature(secret, uri, callback, &ts)),
        Signed::Header(value) => Some(value.to_owned()),
        Signed::Unsigned => None,
    };
    let headers: Vec<(&str, &str)> = signature
        .as_deref()
        .map(|s| ("x-hub-signature", s))
        .into_iter()
        .collect();
    call_with(addr, Method::GET, &path, &headers, String::new()).await
}

/// The state JSON of `callback`'s subscription, asked with `secret`; asserts a 200.
async fn state_of(addr: SocketAddr, uri: &str, callback: &str, secret: &str) -> serde_json::Value {
    let reply = state_call(addr, uri, callback, now_s(), Signed::With(secret)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.headers["cache-control"], "no-store");
    reply.json()
}

/// Asks for the state of `callback`'s subscription every 20 ms until `want` holds of the answer
/// (status, JSON); returns that JSON.
async fn poll_state(
    addr: SocketAddr,
    uri: &str,
    callback: &str,
    secret: &str,
    want: impl Fn(u16, &serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = state_call(addr, uri, callback, now_s(), Signed::With(secret)).await;
        let json: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        if want(reply.status, &json) {
            return json;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the condition never held: {} {json}",
            reply.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `callback`'s subscription is dropped; returns its state.
async fn wait_dropped(
    addr: SocketAddr,
    uri: &str,
    callback: &str,
    secret: &str,
) -> serde_json::Value {
    poll_state(addr, uri, callback, secret, |status, s| {
        status == 200 && s["state"] == "dropped"
    })
    .await
}

#[tokio::test]
async fn a_leased_subscribe_is_verified_with_its_lease_answered_and_renewed() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "first"))
        .await
        .uri();
    let cb = rx.url("/cb");
    let before = now_ms();
    let reply = subscribe_leased(gw.addr, &uri, &cb, Some("s"), 3600).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let granted = reply.json();
    assert_eq!(granted["uri"], uri.as_str());
    assert_eq!(granted["callback"], cb.as_str());
    assert_eq!(granted["lease_seconds"], 3600);
    let expires = granted["expires"].as_str().unwrap().to_owned();
    assert!(expires.ends_with('Z'), "RFC 3339: {expires}");
    assert_eq!(
        rx.gets()[0].param("hub.lease_seconds").as_deref(),
        Some("3600")
    );
    let lease = gw.leases_of(&cb)[0].unwrap();
    assert!(lease >= before + 3_600_000 && lease <= now_ms() + 3_600_000);
    // The new subscriber gets the newest item, as without a lease.
    assert!(wait_for(WAIT, || rx.posts().len() == 1).await);

    // Subscribing again renews: verified again, a new lease, clamped, and nothing re-sent.
    let again = subscribe_leased(gw.addr, &uri, &cb, Some("s"), 999_999_999).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(
        again.json()["lease_seconds"],
        2_592_000,
        "clamped to the longest lease"
    );
    assert_eq!(rx.gets().len(), 2);
    assert_eq!(
        rx.gets()[1].param("hub.lease_seconds").as_deref(),
        Some("2592000")
    );
    assert!(gw.leases_of(&cb)[0].unwrap() > lease);
    let short = subscribe_leased(gw.addr, &uri, &cb, Some("s"), 1).await;
    assert_eq!(
        short.json()["lease_seconds"],
        60,
        "clamped to the shortest lease"
    );
    // A sentinel publish: the only delivery since is the sentinel itself (per-subscriber order).
    http_publish(gw.addr, Some(&uri), entry("urn:2", "sentinel"))
        .await
        .uri();
    assert!(wait_for(WAIT, || rx.posts().len() >= 2).await);
    assert_eq!(titles(&rx.posts()), ["first", "sentinel"]);

    // Without lease_seconds it stays Idavoll's: 204, no lease, and no renewal.
    let plain = rx.url("/plain");
    let reply = http_subscribe(gw.addr, &uri, &plain, None).await;
    assert_eq!((reply.status, reply.body.as_str()), (204, ""));
    assert_eq!(gw.leases_of(&plain), [None]);
    http_subscribe(gw.addr, &uri, &plain, None)
        .await
        .assert_error(403, "subscription_exists");
    // ... until it asks for a lease.
    assert_eq!(
        subscribe_leased(gw.addr, &uri, &plain, None, 600)
            .await
            .status,
        200
    );
    assert!(gw.leases_of(&plain)[0].is_some());
    for bad in [r#"-1"#, r#"1.5"#, r#""60""#] {
        let body = format!(r#"{{"uri": "{uri}", "callback": "{plain}", "lease_seconds": {bad}}}"#);
        call(gw.addr, Method::POST, "/subscribe", Some(JSON), body)
            .await
            .assert_error_for(bad, 400, "bad_json");
    }
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn an_expired_lease_drops_the_subscription_and_says_so() {
    let gw = Gateway::start_fresh_with(|c| c.lease_min = Duration::from_secs(1)).await;
    let rx = Receiver::start().await;
    let uri = http_create(gw.addr).await;
    let cb = rx.url("/leased");
    assert_eq!(
        subscribe_leased(gw.addr, &uri, &cb, Some("k"), 1)
            .await
            .status,
        200
    );
    let state = state_of(gw.addr, &uri, &cb, "k").await;
    assert_eq!(state["state"], "active");
    assert!(state["expires"].is_string());

    let state = wait_dropped(gw.addr, &uri, &cb, "k").await;
    assert_eq!(state["dropped"]["reason"], "lease_expired");
    assert!(state["dropped"]["at"].as_str().unwrap().ends_with('Z'));
    assert!(
        state["expires"].is_string(),
        "the ended lease is still shown"
    );
    // Dropped: a publish queues nothing for it (the queue is written in the publish's
    // transaction, so this holds as soon as the publish is answered).
    http_publish(gw.addr, Some(&uri), entry("urn:after", "after"))
        .await
        .uri();
    assert_eq!(gw.queued_for(&cb), 0);
    assert!(
        http_metrics(gw.addr)
            .await
            .contains("wikisync_gateway_unsubscribed_total{reason=\"lease_expired\"} 1")
    );
    // Subscribing again heals it.
    assert_eq!(
        subscribe_leased(gw.addr, &uri, &cb, Some("k"), 600)
            .await
            .status,
        200
    );
    assert_eq!(state_of(gw.addr, &uri, &cb, "k").await["state"], "active");
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn dropped_subscriptions_remember_why_and_when() {
    let gw = Gateway::start_fresh_with(|c| c.failure_budget = Duration::from_millis(300)).await;
    let rx = Receiver::start().await;
    let gone = Receiver::start().await;
    gone.state.post_status.store(410, Ordering::SeqCst);
    let failing = Receiver::start().await;
    failing.state.post_status.store(500, Ordering::SeqCst);
    let uri = http_create(gw.addr).await;
    let (cb_gone, cb_failing, cb_unsub) = (gone.url("/g"), failing.url("/f"), rx.url("/u"));
    for cb in [&cb_gone, &cb_failing, &cb_unsub] {
        assert_eq!(
            http_subscribe(gw.addr, &uri, cb, Some("sec")).await.status,
            204
        );
    }
    assert_eq!(
        state_of(gw.addr, &uri, &cb_unsub, "sec").await["state"],
        "active"
    );
    http_publish(gw.addr, Some(&uri), entry("urn:1", "x"))
        .await
        .uri();

    let state = wait_dropped(gw.addr, &uri, &cb_gone, "sec").await;
    assert_eq!(state["dropped"]["reason"], "gone");
    let state = wait_dropped(gw.addr, &uri, &cb_failing, "sec").await;
    assert_eq!(state["dropped"]["reason"], "failure_budget");
    assert!(state["failures"].as_u64().unwrap() >= 1, "{state}");
    assert!(state["failing_since"].is_string(), "{state}");
    assert_eq!(state["pending_deliveries"], 0, "its queue went with it");
    // The one that keeps working was delivered to; then it unsubscribes.
    assert!(wait_for(WAIT, || rx.posts().len() == 1).await);
    let active = state_of(gw.addr, &uri, &cb_unsub, "sec").await;
    assert!(active["last_delivery"].is_string(), "{active}");
    assert_eq!(http_unsubscribe(gw.addr, &uri, &cb_unsub).await.status, 204);
    let state = state_of(gw.addr, &uri, &cb_unsub, "sec").await;
    assert_eq!(
        (&state["state"], &state["dropped"]["reason"]),
        (&"dropped".into(), &"unsubscribed".into())
    );
    assert_eq!(state["last_delivery"], active["last_delivery"]);
    gw.stop().await;
    for r in [rx, gone, failing] {
        r.stop().await;
    }
}

#[tokio::test]
async fn a_node_deleted_with_a_redirect_tells_every_subscriber_where_it_went() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let old = http_publish(gw.addr, None, entry("urn:p", "page"))
        .await
        .uri();
    let new = http_create(gw.addr).await;
    let cb = rx.url("/mirror");
    assert_eq!(
        http_subscribe(gw.addr, &old, &cb, Some("m")).await.status,
        204
    );
    assert!(wait_for(WAIT, || rx.posts().len() == 1).await);
    let reply = call(
        gw.addr,
        Method::POST,
        &format!("/delete?uri={}", enc(&old)),
        Some(JSON),
        format!(r#"{{"redirect_uri": "{new}"}}"#),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(wait_for(WAIT, || rx.posts().len() == 2).await);
    let deleted = &rx.posts()[1];
    assert_eq!(deleted.headers["event"], "DELETED");
    assert_eq!(
        deleted.headers["link"],
        format!("<{new}>; rel=alternate").as_str()
    );
    assert_eq!(deleted.headers["referer"], old.as_str());
    assert!(deleted.body.is_empty());
    // A mirror that missed it learns it at its next contact, with the redirect.
    let state = state_of(gw.addr, &old, &cb, "m").await;
    assert_eq!(state["dropped"]["reason"], "node_deleted");
    assert_eq!(state["dropped"]["redirect"], new.as_str());
    assert!(
        state["last_delivery"].is_string(),
        "the deletion was delivered: {state}"
    );
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_node_deleted_with_a_redirect_to_another_gateway_passes_its_feed_url_on() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let old = http_create(gw.addr).await;
    let cb = rx.url("/mirror");
    assert_eq!(
        http_subscribe(gw.addr, &old, &cb, Some("m")).await.status,
        204
    );
    // as an administrator may type it: unencoded, the host in capitals, another parameter
    let typed = "http://GW2.example:8081/items?max_items=5&uri=xmpp:pubsub.two?;node=generic/new";
    let canonical = "http://gw2.example:8081/items?uri=xmpp%3Apubsub.two%3F%3Bnode%3Dgeneric%2Fnew";
    let reply = call(
        gw.addr,
        Method::POST,
        &format!("/delete?uri={}", enc(&old)),
        Some(JSON),
        format!(r#"{{"redirect_uri": "{typed}"}}"#),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert!(wait_for(WAIT, || rx.posts().len() == 1).await);
    let deleted = &rx.posts()[0];
    assert_eq!(deleted.headers["event"], "DELETED");
    assert_eq!(
        deleted.headers["link"],
        format!("<{canonical}>; rel=alternate").as_str()
    );
    let state = state_of(gw.addr, &old, &cb, "m").await;
    assert_eq!(state["dropped"]["redirect"], canonical);
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn the_state_call_answers_only_who_knows_the_secret() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_create(gw.addr).await;
    let cb = rx.url("/cb");
    assert_eq!(
        http_subscribe(gw.addr, &uri, &cb, Some("right"))
            .await
            .status,
        204
    );
    let open = rx.url("/nosecret");
    assert_eq!(http_subscribe(gw.addr, &uri, &open, None).await.status, 204);
    let ok = state_of(gw.addr, &uri, &cb, "right").await;
    assert_eq!(ok["state"], "active");
    assert_eq!(ok["kind"], "idavoll");
    assert_eq!(ok["uri"], uri.as_str());
    assert_eq!(ok["callback"], cb.as_str());
    assert_eq!(ok["expires"], serde_json::Value::Null, "no lease");
    assert_eq!(ok["dropped"], serde_json::Value::Null);

    // Wrong secret, no signature, a forged one, nobody subscribed, a subscription without a
    // secret: one answer, which does not tell whether the subscription exists.
    let now = now_s();
    let uniform = [
        state_call(gw.addr, &uri, &cb, now, Signed::With("wrong")).await,
        state_call(gw.addr, &uri, &cb, now, Signed::Unsigned).await,
        state_call(gw.addr, &uri, &cb, now, Signed::Header("sha256=00")).await,
        state_call(gw.addr, &uri, &cb, now, Signed::Header("md5=abc")).await,
        state_call(
            gw.addr,
            &uri,
            &rx.url("/nobody"),
            now,
            Signed::With("right"),
        )
        .await,
        state_call(gw.addr, &uri, &open, now, Signed::With("")).await,
    ];
    for reply in &uniform {
        reply.assert_error(404, "subscription_not_found");
        assert_eq!(reply.body, uniform[0].body);
    }
    // The signature covers the uri as sent: another spelling of the same node needs its own.
    let variant = format!("xmpp:{SERVICE}?node={}", node_of(&uri));
    let reply = state_call(gw.addr, &variant, &cb, now, Signed::With("right")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.json()["uri"],
        uri.as_str(),
        "answered with the canonical URI"
    );

    // A captured request cannot be replayed later: its timestamp goes stale.
    let stale = now - MAX_CLOCK_SKEW_SECS - 5;
    for ts in [stale, now + MAX_CLOCK_SKEW_SECS + 5] {
        state_call(gw.addr, &uri, &cb, ts, Signed::With("right"))
            .await
            .assert_error(400, "bad_timestamp");
    }
    // Malformed requests are 400 before anything is looked up.
    for (path, code) in [
        ("/subscription".to_owned(), "missing_uri"),
        (
            format!("/subscription?uri={}", enc(&uri)),
            "missing_callback",
        ),
        (
            format!("/subscription?uri={}&callback=ftp://x/", enc(&uri)),
            "bad_callback",
        ),
        (
            format!("/subscription?uri={}&callback={}", enc(&uri), enc(&cb)),
            "bad_timestamp",
        ),
        (
            format!(
                "/subscription?uri={}&callback={}&timestamp=soon",
                enc(&uri),
                enc(&cb)
            ),
            "bad_timestamp",
        ),
        (
            format!(
                "/subscription?uri=xmpp:@@&callback={}&timestamp={now}",
                enc(&cb)
            ),
            "malformed_uri",
        ),
    ] {
        call(gw.addr, Method::GET, &path, None, String::new())
            .await
            .assert_error_for(&path, 400, code);
    }
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_subscription_being_verified_is_pending() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_create(gw.addr).await;
    let cb = rx.url("/slow");
    rx.state.hold_gets.store(true, Ordering::SeqCst);
    let subscribing = tokio::spawn({
        let (uri, cb) = (uri.clone(), cb.clone());
        let addr = gw.addr;
        async move { subscribe_leased(addr, &uri, &cb, Some("p"), 600).await }
    });
    poll_state(gw.addr, &uri, &cb, "p", |status, s| {
        status == 200 && s["state"] == "pending"
    })
    .await;
    rx.release();
    assert_eq!(subscribing.await.unwrap().status, 200);
    assert_eq!(state_of(gw.addr, &uri, &cb, "p").await["state"], "active");

    // WebSub subscribers can ask too (their subscription is kind "websub").
    let ws = rx.url("/websub");
    let form = format!(
        "hub.mode=subscribe&hub.callback={}&hub.topic={}&hub.secret=w",
        enc(&ws),
        enc(&uri)
    );
    let reply = call(
        gw.addr,
        Method::POST,
        "/hub",
        Some("application/x-www-form-urlencoded"),
        form,
    )
    .await;
    assert_eq!(reply.status, 202);
    let last = poll_state(gw.addr, &uri, &ws, "w", |status, s| {
        status == 200 && s["state"] == "active"
    })
    .await;
    assert_eq!(last["kind"], "websub");
    assert!(
        last["expires"].is_string(),
        "WebSub subscriptions are leased"
    );
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn records_of_dropped_subscriptions_are_kept_for_the_retention_only() {
    let api = api();
    let uri = api.create().await;
    let node = node_of(&uri).to_owned();
    let cb = "http://127.0.0.1:9/gone-mirror";
    api.store
        .subscribe(SubscribeRequest {
            node: node.clone(),
            callback: cb.to_owned(),
            secret: Some("s".to_owned()),
            topic: None,
            expires_ms: None,
            now_ms: now_ms(),
        })
        .await
        .unwrap();
    api.store
        .unsubscribe(node.clone(), cb.to_owned())
        .await
        .unwrap();
    let dropped_at = match api
        .store
        .subscription_state(node.clone(), cb.to_owned())
        .await
        .unwrap()
        .unwrap()
        .standing
    {
        Standing::Dropped { reason, at_ms, .. } => {
            assert_eq!(reason, DropReason::Unsubscribed);
            at_ms
        }
        other => panic!("{other:?}"),
    };
    let retention = Some(Duration::from_secs(60));
    api.store
        .sweep(dropped_at + 59_000, retention)
        .await
        .unwrap();
    assert!(
        api.store
            .subscription_state(node.clone(), cb.to_owned())
            .await
            .unwrap()
            .is_some()
    );
    api.store
        .sweep(dropped_at + 61_000, retention)
        .await
        .unwrap();
    assert_eq!(
        api.store
            .subscription_state(node, cb.to_owned())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_dropped_mirror_comes_back_and_holds_every_page() {
    // The failure budget made short by its setting (--failure-budget-secs).
    let gw = Gateway::start_fresh_with(|c| c.failure_budget = Duration::from_secs(1)).await;
    let mirror = Receiver::start().await;
    let uri = http_create(gw.addr).await;
    let cb = mirror.url("/mirror");
    let secret = "mirror-secret";
    assert_eq!(
        subscribe_leased(gw.addr, &uri, &cb, Some(secret), 86_400)
            .await
            .status,
        200
    );
    let page = |n: usize, rev: usize| entry(&format!("urn:page:{n}"), &format!("p{n} r{rev}"));
    for n in 0..30 {
        http_publish(gw.addr, Some(&uri), page(n, 1)).await.uri();
    }
    assert!(wait_for(WAIT, || mirror.posts().len() == 30).await);

    // The mirror goes down while the source keeps editing; its failure budget runs out.
    mirror.state.post_status.store(503, Ordering::SeqCst);
    for n in 0..40 {
        http_publish(gw.addr, Some(&uri), page(n, 2)).await.uri();
    }
    let state = wait_dropped(gw.addr, &uri, &cb, secret).await;
    assert_eq!(state["dropped"]["reason"], "failure_budget");

    // It comes back: learns it was dropped, subscribes again, then catches up from /items.
    mirror.state.post_status.store(0, Ordering::SeqCst);
    let came_back = mirror.posts().len();
    assert_eq!(
        subscribe_leased(gw.addr, &uri, &cb, Some(secret), 86_400)
            .await
            .status,
        200
    );
    let mut holds: BTreeMap<String, String> = BTreeMap::new();
    let mut next = Some(format!("/items?uri={}&max_items=7", enc(&uri)));
    while let Some(target) = next {
        let path = &target[target.find("/items?").unwrap()..];
        let reply = call(gw.addr, Method::GET, path, None, String::new()).await;
        assert_eq!(reply.status, 200);
        for e in reply.body.split("<entry").skip(1) {
            let id = e[e.find("<id>").unwrap() + 4..e.find("</id>").unwrap()].to_owned();
            holds.insert(id, title(e).unwrap());
        }
        next = reply.headers.get("link").map(|l| {
            let l = l.to_str().unwrap();
            l[1..l.find('>').unwrap()].to_owned()
        });
    }
    // Whatever arrives by callback after it came back is newer than the pages it read.
    assert!(wait_for(WAIT, || mirror.posts().len() > came_back).await);
    for post in &mirror.posts()[came_back..] {
        let id = &post.body[post.body.find("<id>").unwrap() + 4..post.body.find("</id>").unwrap()];
        holds.insert(id.to_owned(), title(&post.body).unwrap());
    }
    let expected: BTreeMap<String, String> = (0..40)
        .map(|n| (format!("urn:page:{n}"), format!("p{n} r2")))
        .collect();
    assert_eq!(holds, expected, "every page, at its latest revision");
    assert_eq!(
        state_of(gw.addr, &uri, &cb, secret).await["state"],
        "active"
    );
    gw.stop().await;
    mirror.stop().await;
}

#[tokio::test]
async fn the_source_is_last_seen_at_its_newest_item_or_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.sqlite3"), StoreLimits::default(), None).unwrap();
    let node = store
        .create_node(Some("a".to_owned()), 1_000)
        .await
        .unwrap();
    let seen = || store.source_seen(node.clone());
    assert_eq!(seen().await.unwrap(), Some(1_000), "created");
    let publish = |now_ms| PublishRequest {
        node: Some(node.clone()),
        item_id: "urn:p".to_owned(),
        payload: "<entry/>".to_owned(),
        owner: Some("a".to_owned()),
        publisher: None,
        now_ms,
    };
    store.publish(publish(2_000)).await.unwrap();
    assert_eq!(seen().await.unwrap(), Some(2_000), "published");
    store
        .heartbeat(node.clone(), Some("a".to_owned()), 5_000)
        .await
        .unwrap();
    assert_eq!(seen().await.unwrap(), Some(5_000), "heartbeat");
    store.publish(publish(6_000)).await.unwrap();
    assert_eq!(seen().await.unwrap(), Some(6_000), "published again");
    let stranger = store
        .heartbeat(node.clone(), Some("b".to_owned()), 9_000)
        .await
        .unwrap_err();
    assert!(
        stranger.to_string().contains("another publisher"),
        "{stranger}"
    );
    assert_eq!(
        seen().await.unwrap(),
        Some(6_000),
        "a stranger's is not taken"
    );
    assert_eq!(store.source_seen("nope".to_owned()).await.unwrap(), None);
    assert_eq!(
        store
            .source_seen("xmpp:other.example?;node=x".to_owned())
            .await
            .unwrap(),
        None,
        "another service's node: this gateway cannot tell"
    );
}

#[tokio::test]
async fn a_subscriber_reads_when_the_source_was_last_seen() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let before = now_s();
    let uri = http_publish(gw.addr, None, entry("urn:p", "page"))
        .await
        .uri();
    let cb = rx.url("/mirror");
    assert_eq!(
        subscribe_leased(gw.addr, &uri, &cb, Some("m"), 3600)
            .await
            .status,
        200
    );
    let first = state_of(gw.addr, &uri, &cb, "m").await;
    let seen = first["source_seen"].as_str().expect("a time").to_owned();
    assert!(seen.ends_with('Z') && seen.len() == 20, "{first}");
    let reply = call(
        gw.addr,
        Method::POST,
        &format!("/heartbeat?uri={}", enc(&uri)),
        None,
        String::new(),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let after = state_of(gw.addr, &uri, &cb, "m").await;
    let seen_after = after["source_seen"].as_str().expect("a time");
    assert!(seen_after >= seen.as_str(), "{seen_after} < {seen}");
    let year = |s: &str| s[..4].parse::<i64>().unwrap();
    assert!(year(seen_after) >= 1970 + before / 31_557_600, "{after}");
    gw.stop().await;
    rx.stop().await;
}
