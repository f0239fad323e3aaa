//! Hostile input against a running gateway (issue 12's "holes found by hostile input"): each
//! test feeds what an attacker sent and checks that it is refused cleanly and harms nobody.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use axum::http::Method;
use common::*;

/// An entry with `inner` inside `<content>` and `attr` as the value of an attribute.
fn entry_with(id: &str, inner: &str, attr: &str) -> String {
    format!(
        "<entry xmlns=\"http://www.w3.org/2005/Atom\" xmlns:x=\"urn:x\" x:a=\"{attr}\"><id>{id}</id><title>t</title><updated>2026-01-01T00:00:00Z</updated><content>{inner}</content></entry>"
    )
}

#[tokio::test]
async fn characters_xml_forbids_are_refused_and_never_reach_subscribers() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let uri = http_create_subscribed(gw.addr, &rx.url("/cb")).await;
    let hostile = [
        entry_with("urn:1", "a\u{1}b", ""),
        entry_with("urn:1", "\u{b}", ""),
        entry_with("urn:1", "\u{1f}", ""),
        entry_with("urn:1", "\u{fffe}", ""),
        entry_with("urn:1", "\u{ffff}", ""),
        entry_with("urn:1", "&#x1;", ""),
        entry_with("urn:1", "&#xFFFE;", ""),
        entry_with("urn:1", "", "&#x1;"),
        entry_with("urn:1", "", "&#xFFFE;"),
        entry_with("urn:1", "", "\u{1}"),
        entry_with("urn:1", "", "\u{ffff}"),
    ];
    for body in &hostile {
        http_publish(gw.addr, Some(&uri), body.clone())
            .await
            .assert_error_for(&format!("{body:?}"), 400, "malformed_entry");
    }
    // Allowed look-alikes pass: tab, LF, CR as references, U+FFFD, a character beyond U+FFFF.
    let fine = entry_with("urn:1", "&#x9;&#xA;&#xD;\u{fffd}\u{10000}", "&#x9;");
    http_publish(gw.addr, Some(&uri), fine.clone()).await.uri();
    assert!(wait_for(WAIT, || !rx.posts().is_empty()).await);
    let posts = rx.posts();
    assert_eq!(posts.len(), 1, "only the allowed entry was delivered");
    assert_eq!(posts[0].body, fine);
    // Nor are they stored: the feed holds the allowed entry alone.
    let feed = call(
        gw.addr,
        Method::GET,
        &format!("/items?uri={}", enc(&uri)),
        None,
        String::new(),
    )
    .await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert_eq!(feed.body.matches("<entry ").count(), 1, "{}", feed.body);
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_whitespace_body_from_the_owner_deletes_nothing() {
    let gw = Gateway::start_fresh_with(|c| c.tokens = vec!["owner".to_owned()]).await;
    let auth = [
        ("authorization", "Bearer owner"),
        ("content-type", ENTRY_TYPE),
    ];
    let publish = |path: String, body: &'static str| async move {
        call_with(gw.addr, Method::POST, &path, &auth, body.to_owned()).await
    };
    let first = call_with(
        gw.addr,
        Method::POST,
        "/publish",
        &auth,
        entry("urn:1", "kept"),
    )
    .await;
    let uri = first.uri();
    let node_path = publish_path(Some(&uri));
    for body in [" ", "\r\n", " \r\n", "\t\n \n"] {
        publish(node_path.clone(), body).await.assert_error_for(
            &format!("{body:?}"),
            400,
            "blank_body",
        );
        publish(format!("{node_path}&item=urn%3A1"), body)
            .await
            .assert_error_for(&format!("{body:?} with item="), 400, "blank_body");
    }
    // The node and its item are still there.
    let feed = call(
        gw.addr,
        Method::GET,
        &format!("/items?uri={}", enc(&uri)),
        None,
        String::new(),
    )
    .await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert!(feed.body.contains("<title>kept</title>"), "{}", feed.body);
    // A truly empty body still deletes, as Idavoll's seed says.
    assert_eq!(publish(node_path.clone(), "").await.uri(), uri);
    let gone = call(
        gw.addr,
        Method::GET,
        &format!("/items?uri={}", enc(&uri)),
        None,
        String::new(),
    )
    .await;
    gone.assert_error(404, "node_not_found");
    gw.stop().await;
}

#[tokio::test]
async fn whether_a_callback_is_subscribed_is_told_only_after_verification() {
    let gw = Gateway::start_fresh().await;
    let rx = Receiver::start().await;
    let subscribed = rx.url("/subscribed");
    let other = rx.url("/other");
    let uri = http_create_subscribed(gw.addr, &subscribed).await;
    // From now on the subscriber confirms nothing: these requests are a stranger's.
    rx.state.get_status.store(404, Ordering::SeqCst);
    let mut answers = Vec::new();
    for callback in [&subscribed, &other] {
        let sub = http_subscribe(gw.addr, &uri, callback, None).await;
        sub.assert_error(403, "verification_failed");
        let unsub = http_unsubscribe(gw.addr, &uri, callback).await;
        unsub.assert_error(403, "verification_failed");
        answers.push((sub.body, unsub.body));
    }
    assert_eq!(
        answers[0], answers[1],
        "a subscribed and an unknown callback get the same answers"
    );
    // Each of those four requests was put to the callback before anything was answered.
    assert_eq!(rx.gets().len(), 1 + 4);
    // Whoever controls the callback still learns it: it confirms, then hears the state.
    rx.state.get_status.store(0, Ordering::SeqCst);
    http_subscribe(gw.addr, &uri, &subscribed, None)
        .await
        .assert_error(403, "subscription_exists");
    http_unsubscribe(gw.addr, &uri, &other)
        .await
        .assert_error(403, "no_subscription");
    gw.stop().await;
    rx.stop().await;
}
