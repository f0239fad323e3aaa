//! Site credentials, grants and the publisher of every item: who may write to a node, and as
//! whom, told to subscribers (signed) and in `/items`.
#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::*;
use wikisync_gateway::config::Config;
use wikisync_gateway::delivery::{publisher_signature, signature};

const SITE_A: &str = "https://wiki-a.example.org/";
const TOKEN_A: &str = "token-of-a";
const TOKEN_B: &str = "token-of-b";
const TOKEN_C: &str = "token-of-c";
const ANONYMOUS: &str = "anonymous-token";

/// Sites A (given in a non-normal form), B and C, and one anonymous token.
fn identities(config: &mut Config) {
    config.tokens = vec![ANONYMOUS.to_owned()];
    config.sites = vec![
        format!("HTTPS://Wiki-A.example.org:443={TOKEN_A}"),
        format!("siteB={TOKEN_B}"),
        format!("siteC={TOKEN_C}"),
    ];
}

fn with_token(method: Method, path: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        b = b.header("authorization", format!("Bearer {token}"));
    }
    if !body.is_empty() {
        b = b.header("content-type", ENTRY_TYPE);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

fn site_api() -> Api {
    let mut config = common::config();
    identities(&mut config);
    config.validate().unwrap();
    api_with(config)
}

async fn as_(api: &Api, token: Option<&str>, method: Method, path: &str, body: &str) -> Reply {
    api.send(with_token(method, path, token, body)).await
}

fn grant_path(action: &str, uri: &str, site: &str) -> String {
    format!("/{action}?uri={}&site={}", enc(uri), enc(site))
}

/// The `<publisher>` the gateway added to the entry with `<title>{title}</title>` of a feed.
fn publisher_in_feed(feed: &str, title: &str) -> Option<String> {
    let start = feed.find(&format!("<title>{title}</title>"))?;
    let entry = &feed[start..start + feed[start..].find("</entry>")?];
    let open = "<publisher xmlns=\"urn:x-wikisync:gateway:1\">";
    let from = entry.find(open)? + open.len();
    Some(entry[from..from + entry[from..].find("</publisher>")?].to_owned())
}

#[tokio::test]
async fn a_site_credential_owns_its_nodes_and_its_owner_grants_and_revokes_peers() {
    let api = site_api();
    let created = as_(&api, Some(TOKEN_A), Method::POST, "/create", "").await;
    let uri = created.uri();
    let publishers = format!("/publishers?uri={}", enc(&uri));

    let listed = as_(&api, Some(TOKEN_A), Method::GET, &publishers, "").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["owner"]["site"], SITE_A, "normalized site id");
    assert_eq!(listed.json()["granted"], serde_json::json!([]));

    // Strangers: no token, a wrong one, another site's.
    let entry_b = entry("urn:b", "from-b");
    as_(
        &api,
        None,
        Method::POST,
        &publish_path(Some(&uri)),
        &entry_b,
    )
    .await
    .assert_error(401, "unauthorized");
    as_(
        &api,
        Some("nope"),
        Method::POST,
        &publish_path(Some(&uri)),
        &entry_b,
    )
    .await
    .assert_error(401, "unauthorized");
    as_(
        &api,
        Some(TOKEN_B),
        Method::POST,
        &publish_path(Some(&uri)),
        &entry_b,
    )
    .await
    .assert_error(403, "not_owner");
    for path in [
        grant_path("grant", &uri, "siteB"),
        grant_path("revoke", &uri, "siteB"),
    ] {
        as_(&api, Some(TOKEN_B), Method::POST, &path, "")
            .await
            .assert_error_for(&path, 403, "not_owner");
    }
    as_(&api, Some(TOKEN_B), Method::GET, &publishers, "")
        .await
        .assert_error(403, "not_owner");
    as_(&api, Some(ANONYMOUS), Method::GET, &publishers, "")
        .await
        .assert_error(403, "not_owner");

    // Bad requests of the owner.
    for (path, code) in [
        (grant_path("grant", &uri, ""), "bad_site"),
        (grant_path("grant", &uri, "two words"), "bad_site"),
        (grant_path("grant", &uri, "a=b"), "bad_site"),
        (grant_path("grant", &uri, "wiki-ü"), "bad_site"),
        (format!("/grant?uri={}", enc(&uri)), "missing_site"),
        ("/grant?site=siteB".to_owned(), "missing_uri"),
    ] {
        as_(&api, Some(TOKEN_A), Method::POST, &path, "")
            .await
            .assert_error_for(&path, 400, code);
    }

    // A grants B: B publishes and retracts, never deletes, heartbeats or grants.
    let granted = as_(
        &api,
        Some(TOKEN_A),
        Method::POST,
        &grant_path("grant", &uri, " siteB "),
        "",
    )
    .await;
    assert_eq!(granted.status, 204, "{}", granted.body);
    let again = as_(
        &api,
        Some(TOKEN_A),
        Method::POST,
        &grant_path("grant", &uri, "siteB"),
        "",
    )
    .await;
    assert_eq!(again.status, 204, "granting again: {}", again.body);
    let listed = as_(&api, Some(TOKEN_A), Method::GET, &publishers, "").await;
    assert_eq!(listed.json()["granted"], serde_json::json!(["siteB"]));

    let published = as_(
        &api,
        Some(TOKEN_B),
        Method::POST,
        &publish_path(Some(&uri)),
        &entry_b,
    )
    .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let entry_a = entry("urn:a", "from-a");
    let published = as_(
        &api,
        Some(TOKEN_A),
        Method::POST,
        &publish_path(Some(&uri)),
        &entry_a,
    )
    .await;
    assert_eq!(published.status, 200, "{}", published.body);
    as_(
        &api,
        Some(TOKEN_C),
        Method::POST,
        &publish_path(Some(&uri)),
        &entry("urn:c", "from-c"),
    )
    .await
    .assert_error(403, "not_owner");

    let feed = as_(
        &api,
        None,
        Method::GET,
        &format!("/items?uri={}", enc(&uri)),
        "",
    )
    .await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert_eq!(
        publisher_in_feed(&feed.body, "from-b").as_deref(),
        Some("siteB")
    );
    assert_eq!(
        publisher_in_feed(&feed.body, "from-a").as_deref(),
        Some(SITE_A)
    );

    for (path, what) in [
        (format!("/delete?uri={}", enc(&uri)), "delete"),
        (publish_path(Some(&uri)), "delete by empty publish"),
        (grant_path("grant", &uri, "siteC"), "grant"),
        (format!("/heartbeat?uri={}", enc(&uri)), "heartbeat"),
    ] {
        as_(&api, Some(TOKEN_B), Method::POST, &path, "")
            .await
            .assert_error_for(what, 403, "not_owner");
    }
    let retract = format!("/publish?uri={}&item=urn:a", enc(&uri));
    let retracted = as_(&api, Some(TOKEN_B), Method::POST, &retract, "").await;
    assert_eq!(retracted.status, 200, "B retracts: {}", retracted.body);

    // Revoked: B is a stranger again.
    let revoked = as_(
        &api,
        Some(TOKEN_A),
        Method::POST,
        &grant_path("revoke", &uri, "siteB"),
        "",
    )
    .await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    as_(
        &api,
        Some(TOKEN_A),
        Method::POST,
        &grant_path("revoke", &uri, "siteB"),
        "",
    )
    .await
    .assert_error(404, "no_grant");
    as_(
        &api,
        Some(TOKEN_B),
        Method::POST,
        &publish_path(Some(&uri)),
        &entry_b,
    )
    .await
    .assert_error(403, "not_owner");
    let listed = as_(&api, Some(TOKEN_A), Method::GET, &publishers, "").await;
    assert_eq!(listed.json()["granted"], serde_json::json!([]));
}

/// A whole wikisync entry, as a site publishes it.
const WIKISYNC_ENTRY: &str = r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>urn:x-wikisync:page:b</id><title>b</title><updated>2026-11-21T10:00:00Z</updated><page xmlns="urn:x-wikisync:entry:1">b</page><ws:revision xmlns:ws="urn:x-wikisync:entry:1" site="s">1</ws:revision><sha256 xmlns="urn:x-wikisync:entry:1">3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d</sha256><content type="text/x-dokuwiki">b</content></entry>"#;

#[tokio::test]
async fn the_core_reads_an_entry_of_items_the_same_with_its_publisher_added() {
    use wikisync_core::entry::{DecodeOptions, decode, decode_feed};
    let api = site_api();
    let uri = as_(&api, Some(TOKEN_A), Method::POST, "/create", "")
        .await
        .uri();
    let published = as_(
        &api,
        Some(TOKEN_A),
        Method::POST,
        &publish_path(Some(&uri)),
        WIKISYNC_ENTRY,
    )
    .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let feed = as_(
        &api,
        None,
        Method::GET,
        &format!("/items?uri={}", enc(&uri)),
        "",
    )
    .await;
    assert_eq!(publisher_in_feed(&feed.body, "b").as_deref(), Some(SITE_A));
    let options = DecodeOptions::default();
    let read = decode_feed(feed.body.as_bytes(), &options).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(
        read[0].as_ref().unwrap(),
        &decode(WIKISYNC_ENTRY.as_bytes(), &options).unwrap()
    );
}

#[tokio::test]
async fn anonymous_tokens_keep_working_without_a_publisher() {
    let api = site_api();
    let created = as_(&api, Some(ANONYMOUS), Method::POST, "/create", "").await;
    let uri = created.uri();
    let published = as_(
        &api,
        Some(ANONYMOUS),
        Method::POST,
        &publish_path(Some(&uri)),
        &entry("urn:x", "anon"),
    )
    .await;
    assert_eq!(published.status, 200, "{}", published.body);
    let listed = as_(
        &api,
        Some(ANONYMOUS),
        Method::GET,
        &format!("/publishers?uri={}", enc(&uri)),
        "",
    )
    .await;
    assert!(
        listed.json()["owner"]["token"]
            .as_str()
            .is_some_and(|o| o.starts_with("token:")),
        "{}",
        listed.body
    );
    // Nobody writes the gateway's publisher element into an entry themselves.
    let forged = entry("urn:f", "forged").replace(
        "</entry>",
        "<publisher xmlns=\"urn:x-wikisync:gateway:1\">https://wiki-a.example.org/</publisher></entry>",
    );
    for token in [ANONYMOUS, TOKEN_A] {
        as_(
            &api,
            Some(token),
            Method::POST,
            &publish_path(Some(&uri)),
            &forged,
        )
        .await
        .assert_error_for(token, 400, "reserved_namespace");
    }
    let feed = as_(
        &api,
        None,
        Method::GET,
        &format!("/items?uri={}", enc(&uri)),
        "",
    )
    .await;
    assert!(feed.body.contains("<title>anon</title>"), "{}", feed.body);
    assert!(
        !feed.body.contains("urn:x-wikisync:gateway:1"),
        "{}",
        feed.body
    );
    // A site cannot write to the anonymous token's node without a grant, nor A's token to it.
    as_(
        &api,
        Some(TOKEN_A),
        Method::POST,
        &publish_path(Some(&uri)),
        &entry("urn:y", "a"),
    )
    .await
    .assert_error(403, "not_owner");
}

#[tokio::test]
async fn bad_site_credentials_are_refused_at_start() {
    for (sites, tokens) in [
        (vec!["siteA".to_owned()], vec![]),
        (vec!["siteA=".to_owned()], vec![]),
        (vec!["=tok".to_owned()], vec![]),
        (vec!["site A=tok".to_owned()], vec![]),
        (vec!["siteA=tok".to_owned(), "siteB=tok".to_owned()], vec![]),
        (vec!["siteA=tok".to_owned()], vec!["tok".to_owned()]),
    ] {
        let config = Config {
            sites: sites.clone(),
            tokens,
            ..common::config()
        };
        let error = config.validate().unwrap_err().to_string();
        assert!(!error.is_empty(), "{sites:?}");
    }
}

#[tokio::test]
async fn deliveries_carry_the_signed_publisher_and_grants_survive_a_restart() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = socket_config(dir.path());
    identities(&mut config);
    let gateway = Gateway::start(config.clone()).await;
    let addr = gateway.addr;
    let bearer = |t: &'static str| format!("Bearer {t}");
    let created = call_with(
        addr,
        Method::POST,
        "/create",
        &[("authorization", &bearer(TOKEN_A))],
        String::new(),
    )
    .await;
    let uri = created.uri();
    let secret = "the-secret";
    let signed = receiver.url("/signed");
    let plain = receiver.url("/plain");
    let reply = http_subscribe(addr, &uri, &signed, Some(secret)).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_subscribed(addr, &uri, &plain).await;
    let grant = call_with(
        addr,
        Method::POST,
        &grant_path("grant", &uri, "siteB"),
        &[("authorization", &bearer(TOKEN_A))],
        String::new(),
    )
    .await;
    assert_eq!(grant.status, 204, "{}", grant.body);

    let publish_as = |token: &'static str, body: String| {
        let path = publish_path(Some(&uri));
        async move {
            call_with(
                addr,
                Method::POST,
                &path,
                &[
                    ("authorization", &format!("Bearer {token}")),
                    ("content-type", ENTRY_TYPE),
                ],
                body,
            )
            .await
        }
    };
    let reply = publish_as(TOKEN_A, entry("urn:a", "by-a")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = publish_as(TOKEN_B, entry("urn:b", "by-b")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let retract = call_with(
        addr,
        Method::POST,
        &format!("/publish?uri={}&item=urn:a", enc(&uri)),
        &[("authorization", &bearer(TOKEN_B))],
        String::new(),
    )
    .await;
    assert_eq!(retract.status, 200, "{}", retract.body);

    assert!(
        wait_for(WAIT, || receiver.posts().len() >= 6).await,
        "three deliveries to each callback: {:?}",
        receiver.posts()
    );
    let header =
        |r: &Received, name: &str| r.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let mut seen = Vec::new();
    for r in receiver.posts() {
        let publisher =
            header(&r, "x-wikisync-publisher").expect("every delivery names its publisher");
        let event = header(&r, "event");
        let secret_signed = header(&r, "x-hub-signature").is_some();
        let kind = if event.as_deref() == Some("RETRACTED") {
            "retracted".to_owned()
        } else {
            title(&r.body).unwrap()
        };
        if secret_signed {
            assert_eq!(
                header(&r, "x-hub-signature").unwrap(),
                signature(secret, r.body.as_bytes()),
                "X-Hub-Signature is over the body alone"
            );
            assert_eq!(
                header(&r, "x-wikisync-signature").unwrap(),
                publisher_signature(secret, &publisher, r.body.as_bytes()),
                "X-Wikisync-Signature covers publisher and body"
            );
        } else {
            assert_eq!(
                header(&r, "x-wikisync-signature"),
                None,
                "no secret, no signature"
            );
        }
        seen.push((secret_signed, kind, publisher));
    }
    seen.sort();
    let expected = |signed: bool| {
        vec![
            (signed, "by-a".to_owned(), SITE_A.to_owned()),
            (signed, "by-b".to_owned(), "siteB".to_owned()),
            (signed, "retracted".to_owned(), "siteB".to_owned()),
        ]
    };
    let mut all = expected(false);
    all.extend(expected(true));
    assert_eq!(seen, all);
    gateway.stop().await;

    // Restarted on the same data: the grant and the publishers of the items are kept.
    let gateway = Gateway::start(config).await;
    let addr = gateway.addr;
    let reply = call_with(
        addr,
        Method::POST,
        &publish_path(Some(&uri)),
        &[
            ("authorization", &bearer(TOKEN_B)),
            ("content-type", ENTRY_TYPE),
        ],
        entry("urn:b2", "by-b-after-restart"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let listed = call_with(
        addr,
        Method::GET,
        &format!("/publishers?uri={}", enc(&uri)),
        &[("authorization", &bearer(TOKEN_A))],
        String::new(),
    )
    .await;
    assert_eq!(listed.json()["granted"], serde_json::json!(["siteB"]));
    let feed = call(
        addr,
        Method::GET,
        &format!("/items?uri={}", enc(&uri)),
        None,
        String::new(),
    )
    .await;
    assert_eq!(
        publisher_in_feed(&feed.body, "by-b").as_deref(),
        Some("siteB")
    );
    assert_eq!(
        publisher_in_feed(&feed.body, "by-b-after-restart").as_deref(),
        Some("siteB")
    );
    gateway.stop().await;
    receiver.stop().await;
}
