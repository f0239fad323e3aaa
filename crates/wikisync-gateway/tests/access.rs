//! Who may read a node: the access model (`open`, the default, or `restricted`) and the
//! reader credentials its owner grants, on a real gateway on a socket.
#![allow(clippy::unwrap_used)]

mod common;

use axum::http::Method;
use common::*;
use wikisync_gateway::config::Config;
use wikisync_gateway::http::subscription::request_signature;

const TOKEN_A: &str = "token-of-a";
const TOKEN_B: &str = "token-of-b";
const TOKEN_C: &str = "token-of-c";
const ANONYMOUS: &str = "anonymous-token";
const FORM: &str = "application/x-www-form-urlencoded";

/// Site A (the owner of the nodes here), B (granted publishing in the tests), C (a stranger),
/// and one anonymous token.
fn identities(config: &mut Config) {
    config.tokens = vec![ANONYMOUS.to_owned()];
    config.sites = vec![
        format!("siteA={TOKEN_A}"),
        format!("siteB={TOKEN_B}"),
        format!("siteC={TOKEN_C}"),
    ];
}

/// A call with an optional bearer token and content type.
async fn as_(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: String,
) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("accept", JSON)];
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    if let Some(ct) = content_type {
        headers.push(("content-type", ct));
    }
    call_with(addr, method, path, &headers, body).await
}

fn items_path(uri: &str) -> String {
    format!("/items?uri={}", enc(uri))
}

fn hub_subscribe(uri: &str, callback: &str) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    s.append_pair("hub.mode", "subscribe");
    s.append_pair("hub.callback", callback);
    s.append_pair("hub.topic", uri);
    s.finish()
}

/// `GET /subscription` for `callback` on `uri`, signed with `secret`.
async fn subscription_state(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    uri: &str,
    callback: &str,
    secret: &str,
) -> Reply {
    let ts = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs())
    .to_string();
    let signature = request_signature(secret, uri, callback, &ts);
    let path = format!(
        "/subscription?uri={}&callback={}&timestamp={ts}",
        enc(uri),
        enc(callback)
    );
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = vec![("x-hub-signature", &signature)];
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    call_with(addr, Method::GET, &path, &headers, String::new()).await
}

/// Every read of `uri` by `token` (items, subscribe, subscription, hub subscribe) fails with
/// `status` and `code`.
async fn assert_cannot_read(
    addr: std::net::SocketAddr,
    token: Option<&str>,
    uri: &str,
    callback: &str,
    status: u16,
    code: &str,
) {
    let case = |what: &str| format!("{what} with {token:?}");
    as_(
        addr,
        token,
        Method::GET,
        &items_path(uri),
        None,
        String::new(),
    )
    .await
    .assert_error_for(&case("/items"), status, code);
    let body = subscription_json(uri, callback, Some("s3cret"));
    as_(addr, token, Method::POST, "/subscribe", Some(JSON), body)
        .await
        .assert_error_for(&case("/subscribe"), status, code);
    subscription_state(addr, token, uri, callback, "s3cret")
        .await
        .assert_error_for(&case("GET /subscription"), status, code);
    let body = hub_subscribe(uri, callback);
    as_(addr, token, Method::POST, "/hub", Some(FORM), body)
        .await
        .assert_error_for(&case("/hub"), status, code);
}

/// The feed of `uri` as `token` reads it (asserting 200).
async fn feed(addr: std::net::SocketAddr, token: Option<&str>, uri: &str) -> String {
    let reply = as_(
        addr,
        token,
        Method::GET,
        &items_path(uri),
        None,
        String::new(),
    )
    .await;
    assert_eq!(reply.status, 200, "{token:?}: {}", reply.body);
    reply.body
}

async fn publish_as(addr: std::net::SocketAddr, token: &str, uri: &str, title: &str) {
    let reply = as_(
        addr,
        Some(token),
        Method::POST,
        &publish_path(Some(uri)),
        Some(ENTRY_TYPE),
        entry(&format!("urn:{title}"), title),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn a_node_created_without_asking_is_open_to_anyone() {
    let rx = Receiver::start().await;
    let gateway = Gateway::start_fresh_with(identities).await;
    let addr = gateway.addr;
    let created = as_(
        addr,
        Some(TOKEN_A),
        Method::POST,
        "/create",
        None,
        String::new(),
    )
    .await;
    let uri = created.uri();
    publish_as(addr, TOKEN_A, &uri, "open-page").await;
    assert!(feed(addr, None, &uri).await.contains("open-page"));
    assert!(
        feed(addr, Some("anything"), &uri)
            .await
            .contains("open-page")
    );
    let reply = http_subscribe(addr, &uri, &rx.url("/cb"), None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let readers = as_(
        addr,
        Some(TOKEN_A),
        Method::GET,
        &format!("/readers?uri={}", enc(&uri)),
        None,
        String::new(),
    )
    .await;
    assert_eq!(readers.status, 200, "{}", readers.body);
    assert_eq!(readers.json()["access"], "open");
    gateway.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_restricted_node_is_read_by_its_readers_owner_and_granted_sites_only() {
    let rx = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = socket_config(dir.path());
    identities(&mut config);
    let gateway = Gateway::start(config.clone()).await;
    let addr = gateway.addr;
    let post = |token: &'static str, path: String| async move {
        as_(addr, Some(token), Method::POST, &path, None, String::new()).await
    };
    let uri = post(TOKEN_A, "/create?access=restricted".to_owned())
        .await
        .uri();
    publish_as(addr, TOKEN_A, &uri, "secret-page").await;
    let callback = rx.url("/cb");

    // Strangers: no token, a wrong one, another site's, the anonymous token.
    assert_cannot_read(addr, None, &uri, &callback, 401, "reader_required").await;
    for stranger in ["wrong", TOKEN_C, TOKEN_B, ANONYMOUS] {
        assert_cannot_read(addr, Some(stranger), &uri, &callback, 403, "not_a_reader").await;
    }
    assert!(rx.gets().is_empty(), "no stranger got a verification sent");

    // The owner reads; a site reads once it is granted publishing.
    assert!(
        feed(addr, Some(TOKEN_A), &uri)
            .await
            .contains("secret-page")
    );
    let granted = post(TOKEN_A, format!("/grant?uri={}&site=siteB", enc(&uri))).await;
    assert_eq!(granted.status, 204, "{}", granted.body);
    assert!(
        feed(addr, Some(TOKEN_B), &uri)
            .await
            .contains("secret-page")
    );

    // Only the owner manages readers and the model.
    let grant_reader = format!("/readers/grant?uri={}", enc(&uri));
    let listing = format!("/readers?uri={}", enc(&uri));
    for (method, path) in [
        (Method::POST, grant_reader.clone()),
        (
            Method::POST,
            format!("/readers/revoke?uri={}&reader=x", enc(&uri)),
        ),
        (
            Method::POST,
            format!("/access?uri={}&model=open", enc(&uri)),
        ),
        (Method::GET, listing.clone()),
    ] {
        as_(
            addr,
            Some(TOKEN_B),
            method.clone(),
            &path,
            None,
            String::new(),
        )
        .await
        .assert_error_for(&path, 403, "not_owner");
        as_(addr, None, method, &path, None, String::new())
            .await
            .assert_error_for(&path, 401, "unauthorized");
    }

    // A granted reader reads, subscribes (Idavoll and WebSub) and asks about its subscription.
    let first = post(TOKEN_A, grant_reader.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let reader = first.json()["reader"].as_str().unwrap().to_owned();
    let reader_id = first.json()["id"].as_str().unwrap().to_owned();
    assert!(reader.len() >= 32, "a random token: {reader}");
    assert!(
        feed(addr, Some(&reader), &uri)
            .await
            .contains("secret-page")
    );
    let body = subscription_json(&uri, &callback, Some("s3cret"));
    let subscribed = as_(
        addr,
        Some(&reader),
        Method::POST,
        "/subscribe",
        Some(JSON),
        body,
    )
    .await;
    assert_eq!(subscribed.status, 204, "{}", subscribed.body);
    let state = subscription_state(addr, Some(&reader), &uri, &callback, "s3cret").await;
    assert_eq!(state.status, 200, "{}", state.body);
    let hub_callback = rx.url("/hub-cb");
    let body = hub_subscribe(&uri, &hub_callback);
    let accepted = as_(addr, Some(&reader), Method::POST, "/hub", Some(FORM), body).await;
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    assert!(
        wait_for(WAIT, || gateway.leases_of(&hub_callback).len() == 1).await,
        "the WebSub subscription of a reader takes effect"
    );

    // The listing names readers by id, never by token.
    let listed = as_(
        addr,
        Some(TOKEN_A),
        Method::GET,
        &listing,
        None,
        String::new(),
    )
    .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["access"], "restricted");
    assert_eq!(listed.json()["readers"][0]["id"], reader_id.as_str());
    assert!(!listed.body.contains(&reader), "{}", listed.body);

    // Revoked by its token: refused; revoking again: 404. Another one, revoked by its id.
    let revoke = |r: &str| format!("/readers/revoke?uri={}&reader={}", enc(&uri), enc(r));
    assert_eq!(post(TOKEN_A, revoke(&reader)).await.status, 204);
    as_(
        addr,
        Some(&reader),
        Method::GET,
        &items_path(&uri),
        None,
        String::new(),
    )
    .await
    .assert_error(403, "not_a_reader");
    post(TOKEN_A, revoke(&reader))
        .await
        .assert_error(404, "no_reader");
    let second = post(TOKEN_A, grant_reader.clone()).await.json();
    let kept = post(TOKEN_A, grant_reader.clone()).await.json();
    let second_token = second["reader"].as_str().unwrap().to_owned();
    let second_id = second["id"].as_str().unwrap().to_owned();
    assert!(
        feed(addr, Some(&second_token), &uri)
            .await
            .contains("secret-page")
    );
    assert_eq!(post(TOKEN_A, revoke(&second_id)).await.status, 204);
    as_(
        addr,
        Some(&second_token),
        Method::GET,
        &items_path(&uri),
        None,
        String::new(),
    )
    .await
    .assert_error(403, "not_a_reader");
    let kept = kept["reader"].as_str().unwrap().to_owned();
    assert!(feed(addr, Some(&kept), &uri).await.contains("secret-page"));

    // Bad input is a clear 400.
    for (path, code) in [
        (
            format!("/access?uri={}&model=closed", enc(&uri)),
            "bad_access",
        ),
        (format!("/access?uri={}", enc(&uri)), "bad_access"),
        ("/access?model=open".to_owned(), "missing_uri"),
        ("/create?access=whitelist".to_owned(), "bad_access"),
        ("/readers/grant".to_owned(), "missing_uri"),
        (
            format!("/readers/revoke?uri={}", enc(&uri)),
            "missing_reader",
        ),
    ] {
        post(TOKEN_A, path.clone())
            .await
            .assert_error_for(&path, 400, code);
    }

    // The owner opens the node: anyone reads; restricts it again: strangers are refused.
    let open = post(TOKEN_A, format!("/access?uri={}&model=open", enc(&uri))).await;
    assert_eq!(open.status, 204, "{}", open.body);
    assert!(feed(addr, None, &uri).await.contains("secret-page"));
    let restrict = post(
        TOKEN_A,
        format!("/access?uri={}&model=restricted", enc(&uri)),
    )
    .await;
    assert_eq!(restrict.status, 204, "{}", restrict.body);
    gateway.stop().await;

    // Restarted on the same data: the model and the readers are kept.
    let gateway = Gateway::start(config).await;
    let addr = gateway.addr;
    as_(
        addr,
        None,
        Method::GET,
        &items_path(&uri),
        None,
        String::new(),
    )
    .await
    .assert_error(401, "reader_required");
    as_(
        addr,
        Some(&second_token),
        Method::GET,
        &items_path(&uri),
        None,
        String::new(),
    )
    .await
    .assert_error(403, "not_a_reader");
    assert!(feed(addr, Some(&kept), &uri).await.contains("secret-page"));
    assert!(
        feed(addr, Some(TOKEN_B), &uri)
            .await
            .contains("secret-page")
    );
    gateway.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn a_gateway_with_open_publishing_refuses_to_restrict_a_node() {
    let gateway = Gateway::start_fresh().await;
    let addr = gateway.addr;
    as_(
        addr,
        None,
        Method::POST,
        "/create?access=restricted",
        None,
        String::new(),
    )
    .await
    .assert_error(400, "bad_access");
    let uri = as_(
        addr,
        None,
        Method::POST,
        "/create?access=open",
        None,
        String::new(),
    )
    .await
    .uri();
    let path = format!("/access?uri={}&model=restricted", enc(&uri));
    as_(addr, None, Method::POST, &path, None, String::new())
        .await
        .assert_error(400, "bad_access");
    assert_eq!(
        http_create(addr).await.len(),
        uri.len(),
        "plain /create still works"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn subscribers_of_the_root_collection_get_open_nodes_only() {
    let rx = Receiver::start().await;
    let gateway = Gateway::start_fresh_with(identities).await;
    let addr = gateway.addr;
    let create = |path: &'static str| async move {
        as_(addr, Some(TOKEN_A), Method::POST, path, None, String::new())
            .await
            .uri()
    };
    let restricted = create("/create?access=restricted").await;
    let open = create("/create").await;
    let reply = http_subscribe(addr, &format!("xmpp:{SERVICE}"), &rx.url("/root"), None).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    // Deliveries to one subscriber keep their order: once the open node's item (published
    // last) has arrived, the restricted node's would have arrived before it.
    publish_as(addr, TOKEN_A, &restricted, "restricted-page").await;
    publish_as(addr, TOKEN_A, &open, "open-page").await;
    assert!(
        wait_for(WAIT, || !rx.posts().is_empty()).await,
        "nothing delivered"
    );
    assert_eq!(titles(&rx.posts()), vec!["open-page".to_owned()]);
    gateway.stop().await;
    rx.stop().await;
}
