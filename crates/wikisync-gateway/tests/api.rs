//! The HTTP API through `app()` with `oneshot`, no socket: every endpoint and every error path.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use wikisync_gateway::config::Config;
use wikisync_gateway::http::owner_id;

#[tokio::test]
async fn create_returns_a_canonical_uri_and_lists_the_node() {
    let api = api();
    let reply = api.send(post("/create", None, Body::empty())).await;
    assert_eq!(reply.headers["content-type"], "application/json");
    let uri = reply.uri();
    let node = uri
        .strip_prefix("xmpp:pubsub.example.org?;node=")
        .expect("canonical form");
    assert!(
        node.starts_with("generic/") && node.len() == "generic/".len() + 36,
        "{node}"
    );
    let list = api.send(get("/list")).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json(), serde_json::json!([node]));
}

#[tokio::test]
async fn publish_without_uri_creates_an_instant_node_holding_the_entry() {
    let api = api();
    let uri = api.publish(None, &entry("urn:x:1", "one")).await.uri();
    let items = api.send(get(&format!("/items?uri={}", enc(&uri)))).await;
    assert_eq!(items.status, 200);
    assert_eq!(
        items.headers["content-type"],
        "application/atom+xml;type=feed;charset=utf-8"
    );
    assert!(
        items
            .body
            .contains("<title>Retrieved item collection</title>")
    );
    assert!(items.body.contains("<id>urn:x:1</id>"));
    assert_eq!(
        items.body.matches("<?xml").count(),
        1,
        "entry declarations are stripped"
    );
}

#[tokio::test]
async fn publish_accepts_every_uri_variant_and_answers_the_canonical_one() {
    let api = api();
    let canonical = api.create().await;
    let node = node_of(&canonical).to_owned();
    for variant in [
        canonical.clone(),
        format!("xmpp:{SERVICE}?node={node}"),
        format!("xmpp:{SERVICE}?pubsub;node={node}"),
        format!(
            "xmpp:{SERVICE}?pubsub;action=publish;node={}",
            node.replace('/', "%2F")
        ),
    ] {
        assert_eq!(
            api.publish(Some(&variant), &entry("urn:x", "t"))
                .await
                .uri(),
            canonical,
            "{variant}"
        );
    }
    // Unencoded in the query string, as old clients send it, works too.
    let raw = api
        .send(post(
            &format!("/publish?uri=xmpp:{SERVICE}?;node={node}"),
            Some(ENTRY_TYPE),
            entry("urn:x", "t"),
        ))
        .await;
    assert_eq!(raw.uri(), canonical);
}

#[tokio::test]
async fn item_ids_come_from_the_parameter_then_atom_id_then_current() {
    let api = api();
    let uri = api.create().await;
    api.publish(Some(&uri), &entry("urn:a", "a1")).await.uri();
    api.publish(Some(&uri), &entry("urn:a", "a2")).await.uri();
    let path = format!("/publish?uri={}&item=explicit", enc(&uri));
    api.send(post(&path, Some(ENTRY_TYPE), entry("urn:b", "b")))
        .await
        .uri();
    let no_id = "<entry xmlns=\"http://www.w3.org/2005/Atom\"><title>x</title></entry>";
    api.publish(Some(&uri), no_id).await.uri();
    let node = node_of(&uri);
    let items = api.store.items(node, 10).await.unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        ["current", "explicit", "urn:a"],
        "newest first, urn:a replaced"
    );
    assert!(items[2].payload.contains("a2"));
}

#[tokio::test]
async fn publish_errors() {
    let api = api();
    let good = entry("urn:x", "t");
    let missing = format!("xmpp:{SERVICE}?;node=missing");
    let root = format!("xmpp:{SERVICE}");
    // Nodes of other services are stored under their URI, so local ids may not look like one.
    let reserved = format!("xmpp:{SERVICE}?;node=xmpp%3Aother");
    for (uri, status, code) in [
        (missing.as_str(), 404, "node_not_found"),
        ("xmpp:@@@@", 400, "malformed_uri"),
        ("http://example.org/", 400, "malformed_uri"),
        ("xmpp:other.example.org?;node=x", 404, "unknown_service"),
        (&root, 400, "root_node"),
        (&reserved, 400, "reserved_node"),
    ] {
        api.publish(Some(uri), &good)
            .await
            .assert_error_for(uri, status, code);
    }
    api.send(post("/publish", None, good.clone()))
        .await
        .assert_error(400, "missing_content_type");
    for wrong in [
        "text/plain",
        "application/atom+xml;type=feed",
        "application/atom+xml;type=entry;charset=iso-8859-1",
    ] {
        api.send(post("/publish", Some(wrong), good.clone()))
            .await
            .assert_error_for(wrong, 415, "unsupported_media_type");
    }
    // Absent parameters and quoted values are fine.
    api.send(post("/publish", Some("application/atom+xml"), good.clone()))
        .await
        .uri();
    api.send(post(
        "/publish",
        Some("Application/Atom+XML; type=\"entry\"; charset=\"UTF-8\""),
        good.clone(),
    ))
    .await
    .uri();
    for body in [
        "<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>x</entry>",
        "<entry><id>x</id></entry>",
        "not xml at all",
    ] {
        api.publish(None, body)
            .await
            .assert_error_for(body, 400, "malformed_entry");
    }
    api.send(post(
        "/publish",
        Some(ENTRY_TYPE),
        vec![0xff_u8, 0xfe, b'<'],
    ))
    .await
    .assert_error(400, "bad_encoding");
    api.send(post("/publish", Some(ENTRY_TYPE), ""))
        .await
        .assert_error(400, "missing_uri");
}

#[tokio::test]
async fn body_size_is_limited() {
    let api = api_with(Config {
        max_body_bytes: 1000,
        ..config()
    });
    let big = entry("urn:x", &"a".repeat(2000));
    api.publish(None, &big)
        .await
        .assert_error(413, "body_too_large");
    api.publish(None, &entry("urn:x", "small")).await.uri();
}

#[tokio::test]
async fn items_per_node_are_limited_oldest_dropped_logged_and_counted() {
    let api = api_with(Config {
        max_items_per_node: 2,
        ..config()
    });
    let uri = api.publish(None, &entry("urn:1", "1")).await.uri();
    api.publish(Some(&uri), &entry("urn:2", "2")).await.uri();
    // Republishing one item many times leaves gaps in the sequence; they cost nobody a place.
    for i in 0..5 {
        api.publish(Some(&uri), &entry("urn:2", &format!("2.{i}")))
            .await
            .uri();
    }
    let node = node_of(&uri);
    let ids = |items: Vec<wikisync_gateway::store::Item>| -> Vec<String> {
        items.into_iter().map(|i| i.id).collect()
    };
    assert_eq!(
        ids(api.store.items(node, 10).await.unwrap()),
        ["urn:2", "urn:1"]
    );
    api.publish(Some(&uri), &entry("urn:3", "3")).await.uri();
    assert_eq!(
        ids(api.store.items(node, 10).await.unwrap()),
        ["urn:3", "urn:2"]
    );
    let metrics = api.send(get("/metrics")).await.body;
    assert!(
        metrics.contains("\nwikisync_gateway_items_dropped_total{by=\"gateway\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn empty_publish_retracts_an_item_or_deletes_the_node() {
    let api = api();
    let uri = api.publish(None, &entry("urn:1", "1")).await.uri();
    api.subscribe(&uri, "http://127.0.0.1:9/cb").await;
    let before = api.store.outbox_len().await.unwrap();
    let retract = format!("/publish?uri={}&item=urn:1", enc(&uri));
    assert_eq!(api.send(post(&retract, None, "")).await.uri(), uri);
    assert_eq!(
        api.store.outbox_len().await.unwrap(),
        before + 1,
        "retraction queued"
    );
    api.send(post(&retract, None, ""))
        .await
        .assert_error(404, "item_not_found");
    let delete = format!("/publish?uri={}", enc(&uri));
    assert_eq!(api.send(post(&delete, None, "")).await.uri(), uri);
    assert_eq!(api.send(get("/list")).await.json(), serde_json::json!([]));
    assert_eq!(
        api.store.outbox_len().await.unwrap(),
        before + 2,
        "deletion queued"
    );
}

#[tokio::test]
async fn delete_endpoint() {
    let api = api();
    let uri = api.create().await;
    let path = format!("/delete?uri={}", enc(&uri));
    api.send(post("/delete", None, ""))
        .await
        .assert_error(400, "missing_uri");
    api.send(post("/delete?uri=xmpp:@@@@", None, ""))
        .await
        .assert_error(400, "malformed_uri");
    api.send(post(&path, Some("application/json"), "{not json"))
        .await
        .assert_error(400, "bad_json");
    api.send(post(
        &path,
        Some("application/json"),
        r#"{"redirect_uri": "mailto:x@y"}"#,
    ))
    .await
    .assert_error(400, "malformed_uri");
    // another gateway's feed URL: http(s), the /items path and a node URI as `uri`
    for (bad, why) in [
        (
            "ftp://gw2.example/items?uri=xmpp:ps?;node=n",
            "not an xmpp: URI",
        ),
        (
            "http://gw2.example/feed?uri=xmpp:ps?;node=n",
            "ends in /items",
        ),
        ("http://gw2.example/items", "names its node once"),
        (
            "http://user:pw@gw2.example/items?uri=xmpp:ps?;node=n",
            "not a gateway URL",
        ),
        (
            "http://gw2.example/items?uri=mailto%3Ax%40y",
            "not an xmpp: URI",
        ),
    ] {
        let r = api
            .send(post(
                &path,
                Some("application/json"),
                format!(r#"{{"redirect_uri": "{bad}"}}"#),
            ))
            .await;
        r.assert_error(400, "malformed_uri");
        assert!(
            r.body.contains("feed URL") && r.body.contains(why),
            "{bad}: {}",
            r.body
        );
    }
    let ok = api
        .send(post(
            &path,
            Some("application/json"),
            r#"{"redirect_uri": "xmpp:pubsub.example.org?node=test"}"#,
        ))
        .await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert!(ok.body.is_empty());
    api.send(post(&path, None, ""))
        .await
        .assert_error(404, "node_not_found");
    let second = api.create().await;
    let plain = api
        .send(post(&format!("/delete?uri={}", enc(&second)), None, ""))
        .await;
    assert_eq!(plain.status, 204);
    let third = api.create().await;
    let feed = api
        .send(post(
            &format!("/delete?uri={}", enc(&third)),
            Some("application/json"),
            r#"{"redirect_uri": "https://GW2.example/ps/items?uri=xmpp:pubsub.two?;node=n"}"#,
        ))
        .await;
    assert_eq!(feed.status, 204, "{}", feed.body);
}

#[tokio::test]
async fn subscribe_and_unsubscribe() {
    let api = api();
    let uri = api.publish(None, &entry("urn:1", "1")).await.uri();
    let cb = "http://127.0.0.1:9/callback";
    let ok = api.subscribe(&uri, cb).await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(
        api.store.outbox_len().await.unwrap(),
        1,
        "the last item is queued for the new subscriber"
    );
    let missing = format!("xmpp:{SERVICE}?;node=missing");
    for (topic, status, code) in [
        (uri.as_str(), 403, "subscription_exists"),
        (&missing, 403, "node_not_found"),
        ("xmpp:@@", 400, "malformed_uri"),
    ] {
        api.subscribe(topic, cb)
            .await
            .assert_error_for(topic, status, code);
    }
    // Remote subscriptions need XMPP mode; embedded mode says so.
    let remote = api
        .subscribe("xmpp:pubsub.other.example?;node=wiki", cb)
        .await;
    assert!(remote.body.contains("XMPP mode"), "{}", remote.body);
    remote.assert_error(404, "unknown_service");
    for callback in ["ftp://example.org/", "not a url", "https:///cb"] {
        api.subscribe(&uri, callback)
            .await
            .assert_error_for(callback, 400, "bad_callback");
    }
    for body in [
        "",
        "{}",
        r#"{"uri": "x"}"#,
        r#"{"uri": 1, "callback": "http://a/"}"#,
        "[1]",
    ] {
        api.send(post("/subscribe", Some(JSON), body))
            .await
            .assert_error_for(body, 400, "bad_json");
    }
    let long_secret = subscription_json(&uri, "http://a/", Some(&"s".repeat(200)));
    api.send(post("/subscribe", Some(JSON), long_secret))
        .await
        .assert_error(400, "bad_secret");

    let unsub = |uri: &str, callback: &str| {
        post(
            "/unsubscribe",
            Some(JSON),
            subscription_json(uri, callback, None),
        )
    };
    api.send(unsub(&uri, "http://127.0.0.1:9/other"))
        .await
        .assert_error(403, "no_subscription");
    api.send(unsub(&missing, cb))
        .await
        .assert_error(403, "node_not_found");
    let ok = api.send(unsub(&uri, cb)).await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(
        api.store.outbox_len().await.unwrap(),
        0,
        "pending deliveries go with the subscription"
    );
    let https = api.subscribe(&uri, "https://example.org/cb").await;
    assert_eq!(
        https.status, 204,
        "https callbacks are accepted: {}",
        https.body
    );
    api.send(unsub(&uri, cb))
        .await
        .assert_error(403, "no_subscription");
}

#[tokio::test]
async fn root_subscribers_receive_every_node_but_no_last_item() {
    let api = api();
    let uri = api.publish(None, &entry("urn:1", "1")).await.uri();
    let ok = api
        .subscribe(&format!("xmpp:{SERVICE}"), "http://127.0.0.1:9/root")
        .await;
    assert_eq!(ok.status, 204, "{}", ok.body);
    assert_eq!(api.store.outbox_len().await.unwrap(), 0);
    api.publish(Some(&uri), &entry("urn:1", "2")).await.uri();
    api.publish(None, &entry("urn:9", "other node")).await.uri();
    assert_eq!(api.store.outbox_len().await.unwrap(), 2);
}

#[tokio::test]
async fn subscriptions_per_node_are_limited() {
    let api = api_with(Config {
        max_subscriptions_per_node: 1,
        ..config()
    });
    let uri = api.create().await;
    assert_eq!(
        api.subscribe(&uri, "http://127.0.0.1:9/a").await.status,
        204
    );
    api.subscribe(&uri, "http://127.0.0.1:9/b")
        .await
        .assert_error(403, "subscription_limit");
}

#[tokio::test]
async fn items_endpoint() {
    let api = api();
    let uri = api.publish(None, &entry("urn:1", "first")).await.uri();
    api.publish(Some(&uri), &entry("urn:2", "second"))
        .await
        .uri();
    let one = api
        .send(get(&format!("/items?uri={}&max_items=1", enc(&uri))))
        .await;
    assert_eq!(one.status, 200);
    assert!(
        one.body.contains("urn:2") && !one.body.contains("urn:1"),
        "{}",
        one.body
    );
    let all = api.send(get(&format!("/items?uri={}", enc(&uri)))).await;
    assert!(
        all.body.find("urn:2") < all.body.find("urn:1"),
        "newest first"
    );
    api.send(get("/items"))
        .await
        .assert_error(400, "missing_uri");
    for bad in ["0", "-1", "x", ""] {
        api.send(get(&format!("/items?uri={}&max_items={bad}", enc(&uri))))
            .await
            .assert_error(400, "bad_max_items");
    }
    api.send(get("/items?uri=xmpp:@@"))
        .await
        .assert_error(400, "malformed_uri");
    api.send(get(&format!(
        "/items?uri={}",
        enc(&format!("xmpp:{SERVICE}?;node=nope"))
    )))
    .await
    .assert_error(404, "node_not_found");
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let api = api();
    for (method, path, allow) in [
        ("GET", "/create", "POST"),
        ("GET", "/publish", "POST"),
        ("PUT", "/delete", "POST"),
        ("GET", "/subscribe", "POST"),
        ("DELETE", "/unsubscribe", "POST"),
        ("POST", "/list", "GET, HEAD"),
        ("POST", "/items", "GET, HEAD"),
        ("POST", "/healthz", "GET, HEAD"),
    ] {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        let reply = api.send(request).await;
        reply.assert_error(405, "method_not_allowed");
        assert_eq!(reply.headers["allow"], allow, "{method} {path}");
    }
    api.send(get("/nope"))
        .await
        .assert_error(404, "no_such_endpoint");
}

#[tokio::test]
async fn tokens_guard_publishing_and_nodes_belong_to_their_creator() {
    let api = api_with(Config {
        tokens: vec!["alpha".to_owned(), "beta".to_owned()],
        ..config()
    });
    let with = |path: &str, token: &str, body: String| {
        Request::post(path)
            .header("content-type", ENTRY_TYPE)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap()
    };
    api.send(post("/create", None, Body::empty()))
        .await
        .assert_error(401, "unauthorized");
    api.send(with("/create", "gamma", String::new()))
        .await
        .assert_error(401, "unauthorized");
    let uri = api
        .send(with("/publish", "alpha", entry("urn:1", "1")))
        .await
        .uri();
    let path = format!("/publish?uri={}", enc(&uri));
    api.send(with(&path, "beta", entry("urn:1", "2")))
        .await
        .assert_error(403, "not_owner");
    api.send(with(&path, "alpha", entry("urn:1", "2")))
        .await
        .uri();
    let delete = format!("/delete?uri={}", enc(&uri));
    api.send(with(&delete, "beta", String::new()))
        .await
        .assert_error(403, "not_owner");
    // Reading and subscribing stay open.
    assert_eq!(api.send(get("/list")).await.status, 200);
    assert_eq!(
        api.send(with(&delete, "alpha", String::new())).await.status,
        204
    );
    assert!(owner_id("alpha").starts_with("token:") && !owner_id("alpha").contains("alpha"));
}

#[tokio::test]
async fn only_a_nodes_owner_sends_its_heartbeat() {
    let api = api_with(Config {
        tokens: vec!["alpha".to_owned(), "beta".to_owned()],
        ..config()
    });
    let with = |path: &str, token: Option<&str>, body: String| {
        let mut request = Request::post(path).header("content-type", ENTRY_TYPE);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::from(body)).unwrap()
    };
    let uri = api
        .send(with("/publish", Some("alpha"), entry("urn:1", "1")))
        .await
        .uri();
    let beat = format!("/heartbeat?uri={}", enc(&uri));
    api.send(with(&beat, None, String::new()))
        .await
        .assert_error(401, "unauthorized");
    api.send(with(&beat, Some("beta"), String::new()))
        .await
        .assert_error(403, "not_owner");
    assert_eq!(
        api.send(with(&beat, Some("alpha"), String::new()))
            .await
            .status,
        204
    );
    api.send(with("/heartbeat", Some("alpha"), String::new()))
        .await
        .assert_error(400, "missing_uri");
    api.send(with(
        "/heartbeat?uri=nonsense",
        Some("alpha"),
        String::new(),
    ))
    .await
    .assert_error(400, "malformed_uri");
    let missing = format!(
        "/heartbeat?uri={}",
        enc(&uri.replace("generic/", "generic/x"))
    );
    api.send(with(&missing, Some("alpha"), String::new()))
        .await
        .assert_error(404, "node_not_found");
    api.send(get(&beat))
        .await
        .assert_error(405, "method_not_allowed");
}

#[tokio::test]
async fn health_and_metrics() {
    let api = api();
    api.publish(None, &entry("urn:1", "1")).await.uri();
    let health = api.send(get("/healthz")).await;
    assert_eq!(health.status, 200);
    assert_eq!(
        health.json(),
        serde_json::json!({"status": "ok", "outbox": 0, "disk": {"full": false}})
    );
    let metrics = api.send(get("/metrics")).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("\nwikisync_gateway_publishes_total 1\n"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("wikisync_gateway_outbox_pending 0"));
    assert!(
        !metrics.body.contains("wikisync_gateway_xmpp_"),
        "no XMPP figures in embedded mode"
    );
}
