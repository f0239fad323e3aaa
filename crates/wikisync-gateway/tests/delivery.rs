//! Real sockets: a running gateway and real callback receivers.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::Method;
use common::*;
use wikisync_gateway::delivery::{ENTRY_CONTENT_TYPE, signature};

#[tokio::test]
async fn verified_subscription_receives_signed_entries_with_idavoll_headers() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "before"))
        .await
        .uri();
    let callback = rx.url("/cb?site=a");
    let reply = http_subscribe(gw.addr, &uri, &callback, Some("s3cret")).await;
    assert_eq!(reply.status, 204, "{}", reply.body);

    let gets = rx.gets();
    assert_eq!(gets.len(), 1);
    let query = gets[0].query_pairs();
    assert_eq!(
        query[0],
        ("site".to_owned(), "a".to_owned()),
        "existing query kept"
    );
    assert!(query.contains(&("hub.mode".to_owned(), "subscribe".to_owned())));
    assert!(query.contains(&("hub.topic".to_owned(), uri.clone())));
    assert!(
        query
            .iter()
            .any(|(k, v)| k == "hub.challenge" && v.len() == 32)
    );

    // The last item reaches the new subscriber, then a new publish does.
    assert!(wait_for(WAIT, || rx.posts().len() == 1).await);
    let body = entry("urn:1", "after");
    http_publish(gw.addr, Some(&uri), body.clone()).await.uri();
    assert!(wait_for(WAIT, || rx.posts().len() == 2).await);
    let posts = rx.posts();
    assert_eq!(titles(&posts), ["before", "after"]);
    let post = &posts[1];
    assert_eq!(post.body, body);
    assert_eq!(post.headers["referer"], uri.as_str());
    assert_eq!(post.headers["pubsub-service"], SERVICE);
    assert_eq!(post.headers["content-type"], ENTRY_CONTENT_TYPE);
    assert_eq!(
        post.headers["x-hub-signature"],
        signature("s3cret", body.as_bytes()).as_str()
    );
    assert!(post.headers.get("event").is_none());
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn failed_verification_refuses_the_subscription() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_publish(gw.addr, None, entry("urn:1", "x")).await.uri();
    rx.state.wrong_challenge.store(true, Ordering::SeqCst);
    http_subscribe(gw.addr, &uri, &rx.url("/a"), None)
        .await
        .assert_error(403, "verification_failed");
    rx.state.wrong_challenge.store(false, Ordering::SeqCst);
    rx.state.get_status.store(404, Ordering::SeqCst);
    http_subscribe(gw.addr, &uri, &rx.url("/a"), None)
        .await
        .assert_error(403, "verification_failed");
    // Nothing listens on port 9 of loopback (discard) in the test environment.
    http_subscribe(gw.addr, &uri, "http://127.0.0.1:9/x", None)
        .await
        .assert_error(403, "verification_failed");
    rx.state.get_status.store(0, Ordering::SeqCst);
    http_publish(gw.addr, Some(&uri), entry("urn:1", "y"))
        .await
        .uri();
    // No subscription was stored: subscribing the same callback now succeeds (a stored one
    // would be 403 subscription_exists), and the only delivery is the newest item for it.
    assert_subscribed(gw.addr, &uri, &rx.url("/a")).await;
    assert!(wait_for(WAIT, || !rx.posts().is_empty()).await);
    assert_eq!(titles(&rx.posts()), ["y"]);
    // Unsubscribing is verified too.
    rx.state.get_status.store(404, Ordering::SeqCst);
    http_unsubscribe(gw.addr, &uri, &rx.url("/a"))
        .await
        .assert_error(403, "verification_failed");
    rx.state.get_status.store(0, Ordering::SeqCst);
    let ok = http_unsubscribe(gw.addr, &uri, &rx.url("/a")).await;
    assert_eq!(ok.status, 204);
    assert!(
        rx.gets()
            .iter()
            .any(|g| g.query.as_deref().unwrap().contains("hub.mode=unsubscribe"))
    );
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn retraction_and_node_deletion_reach_subscribers() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_create_subscribed(gw.addr, &rx.url("/cb")).await;
    http_publish(gw.addr, Some(&uri), entry("urn:page", "v1"))
        .await
        .uri();
    let retract = format!("/publish?uri={}&item=urn:page", enc(&uri));
    call(gw.addr, Method::POST, &retract, None, String::new())
        .await
        .uri();
    let delete = format!("/delete?uri={}", enc(&uri));
    let reply = call(
        gw.addr,
        Method::POST,
        &delete,
        Some("application/json"),
        r#"{"redirect_uri":"xmpp:pubsub.example.org?node=new"}"#.to_owned(),
    )
    .await;
    assert_eq!(reply.status, 204);
    assert!(
        wait_for(WAIT, || rx.posts().len() == 3).await,
        "{:?}",
        rx.posts()
    );
    let posts = rx.posts();
    assert!(posts[0].headers.get("event").is_none());
    assert_eq!(posts[1].headers["event"], "RETRACTED");
    assert_eq!(posts[1].headers["referer"], uri.as_str());
    assert!(posts[1].body.starts_with("<at:deleted-entry xmlns:at=\"http://purl.org/atompub/tombstones/1.0\" ref=\"urn:page\" when=\""));
    assert_eq!(posts[2].headers["event"], "DELETED");
    assert_eq!(
        posts[2].headers["link"],
        "<xmpp:pubsub.example.org?;node=new>; rel=alternate"
    );
    assert!(posts[2].body.is_empty());
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn gone_unsubscribes_at_once_and_others_keep_receiving() {
    let gw = Gateway::start_fresh().await;
    let gone = Receiver::start().await;
    let fine = Receiver::start().await;
    gone.state.post_status.store(410, Ordering::SeqCst);
    let uri = http_create(gw.addr).await;
    for rx in [&gone, &fine] {
        assert_subscribed(gw.addr, &uri, &rx.url("/cb")).await;
    }
    for i in 0..3 {
        http_publish(gw.addr, Some(&uri), entry("urn:p", &format!("v{i}")))
            .await
            .uri();
    }
    assert!(wait_for(WAIT, || fine.posts().len() == 3).await);
    assert_eq!(
        gone.posts().len(),
        1,
        "one 410 and the subscription is gone"
    );
    http_unsubscribe(gw.addr, &uri, &gone.url("/cb"))
        .await
        .assert_error(403, "no_subscription");
    let metrics = http_metrics(gw.addr).await;
    assert!(
        metrics.contains("wikisync_gateway_unsubscribed_total{reason=\"gone\"} 1"),
        "{metrics}"
    );
    gw.stop().await;
    gone.stop().await;
    fine.stop().await;
}

#[tokio::test]
async fn failing_subscriber_is_retried_in_order_and_never_delays_others() {
    let gw = Gateway::start_fresh().await;
    let down = Receiver::start().await;
    let slow = Receiver::start().await;
    let fast = Receiver::start().await;
    down.state.post_status.store(503, Ordering::SeqCst);
    // The slow subscriber does not answer at all until released.
    slow.state.hold.store(true, Ordering::SeqCst);
    let uri = http_create(gw.addr).await;
    for rx in [&down, &slow, &fast] {
        assert_subscribed(gw.addr, &uri, &rx.url("/cb")).await;
    }
    let want: Vec<String> = (0..20).map(|i| format!("v{i}")).collect();
    for title in &want {
        http_publish(gw.addr, Some(&uri), entry(&format!("urn:{title}"), title))
            .await
            .uri();
    }
    // The fast subscriber gets everything while the slow one hangs on its first request.
    assert!(
        wait_for(WAIT, || fast.posts().len() == 20).await,
        "fast got {}",
        fast.posts().len()
    );
    assert!(
        slow.posts().len() <= 1,
        "one request at a time per subscriber"
    );
    assert_eq!(titles(&fast.posts()), want);
    slow.release();
    assert!(wait_for(WAIT, || slow.posts().len() == 20).await);
    assert_eq!(titles(&slow.posts()), want);
    // The failing subscriber is retried (only its head) and, once back, gets everything in order.
    assert!(wait_for(WAIT, || down.posts().len() >= 3).await);
    assert!(
        titles(&down.posts()).iter().all(|t| t == "v0"),
        "only the head is retried"
    );
    down.state.post_status.store(0, Ordering::SeqCst);
    down.state.got.lock().unwrap().clear();
    assert!(wait_for(WAIT, || down.posts().len() >= 20).await);
    assert_eq!(titles(&down.posts()), want);
    gw.stop().await;
    for rx in [down, slow, fast] {
        rx.stop().await;
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    rx.state.post_status.store(503, Ordering::SeqCst);
    rx.state.retry_after.store(1, Ordering::SeqCst);
    let uri = http_create_subscribed(gw.addr, &rx.url("/cb")).await;
    http_publish(gw.addr, Some(&uri), entry("urn:1", "x"))
        .await
        .uri();
    // The callback keeps failing; its second attempt shows when the retry came.
    assert!(wait_for(WAIT, || rx.posts().len() >= 2).await);
    // Backoff alone would retry within 100 ms; Retry-After: 1 holds it for at least a second
    // after the first attempt was answered (so after it arrived).
    let posts = rx.posts();
    let gap = posts[1].at - posts[0].at;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn spent_failure_budget_unsubscribes() {
    let gw = Gateway::start_fresh_with(|c| c.failure_budget = Duration::from_millis(300)).await;
    let rx = Receiver::start().await;
    rx.state.post_status.store(500, Ordering::SeqCst);
    let uri = http_create_subscribed(gw.addr, &rx.url("/cb")).await;
    http_publish(gw.addr, Some(&uri), entry("urn:1", "x"))
        .await
        .uri();
    let removed = eventually(WAIT, || async {
        http_metrics(gw.addr)
            .await
            .contains("wikisync_gateway_unsubscribed_total{reason=\"failure_budget\"} 1")
    })
    .await;
    assert!(removed, "{}", http_metrics(gw.addr).await);
    assert!(
        http_metrics(gw.addr)
            .await
            .contains("wikisync_gateway_outbox_pending 0")
    );
    gw.stop().await;
    rx.stop().await;
}
