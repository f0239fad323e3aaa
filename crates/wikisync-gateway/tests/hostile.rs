//! Hostile input against a running gateway (issue 12's "holes found by hostile input"): each
//! test feeds what an attacker sent and checks that it is refused cleanly and harms nobody.
#![allow(clippy::unwrap_used)]

mod common;

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
    let publish = |path: String, body: &'static str| {
        async move { call_with(gw.addr, Method::POST, &path, &auth, body.to_owned()).await }
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
