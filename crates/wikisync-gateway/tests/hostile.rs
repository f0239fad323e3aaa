//! Hostile input against a running gateway (issue 12's "holes found by hostile input"): each
//! test feeds what an attacker sent and checks that it is refused cleanly and harms nobody.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::Ordering;

use axum::http::Method;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// `POST /subscribe` of `callback` to `uri` with the given headers.
async fn subscribe_as(
    addr: std::net::SocketAddr,
    uri: &str,
    callback: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut all = vec![("content-type", JSON)];
    all.extend_from_slice(headers);
    let body = subscription_json(uri, callback, None);
    call_with(addr, Method::POST, "/subscribe", &all, body).await
}

#[tokio::test]
async fn a_stranger_cannot_tell_why_a_verification_failed() {
    let gw = Gateway::start_fresh_with(|c| {
        c.tokens = vec!["publisher".to_owned()];
        c.verify_per_minute = 0;
    })
    .await;
    let rx = Receiver::start().await;
    let uri = call_with(
        gw.addr,
        Method::POST,
        "/create",
        &[("authorization", "Bearer publisher")],
        String::new(),
    )
    .await
    .uri();
    // Three different failures: nothing listens on port 9 of loopback in the test environment;
    // a callback refusing with 405; one answering 200 without the challenge.
    let unreachable = "http://127.0.0.1:9/x".to_owned();
    let cases = [
        (unreachable.clone(), 0, false, "could not be reached"),
        (rx.url("/refusing"), 405, false, "405"),
        (rx.url("/wrong"), 0, true, "did not echo"),
    ];
    let mut anonymous = Vec::new();
    for (callback, status, wrong, reason) in &cases {
        rx.state.get_status.store(*status, Ordering::SeqCst);
        rx.state.wrong_challenge.store(*wrong, Ordering::SeqCst);
        for token in ["", "Bearer wrong"] {
            let headers: Vec<(&str, &str)> = if token.is_empty() {
                Vec::new()
            } else {
                vec![("authorization", token)]
            };
            let reply = subscribe_as(gw.addr, &uri, callback, &headers).await;
            reply.assert_error(403, "verification_failed");
            assert!(!reply.body.contains(reason), "{}", reply.body);
            anonymous.push(reply.json()["message"].clone());
        }
        // The holder of a publisher token is told why.
        let told = subscribe_as(
            gw.addr,
            &uri,
            callback,
            &[("authorization", "Bearer publisher")],
        )
        .await;
        told.assert_error(403, "verification_failed");
        assert!(told.body.contains(reason), "{}", told.body);
    }
    assert!(
        anonymous.windows(2).all(|w| w[0] == w[1]),
        "one message for every failure: {anonymous:?}"
    );
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn verification_attempts_are_rate_limited_per_client_address() {
    let gw = Gateway::start_fresh_with(|c| {
        c.verify_per_minute = 2;
        c.tokens = vec!["publisher".to_owned()];
    })
    .await;
    let rx = Receiver::start().await;
    let uri = call_with(
        gw.addr,
        Method::POST,
        "/create",
        &[("authorization", "Bearer publisher")],
        String::new(),
    )
    .await
    .uri();
    rx.state.get_status.store(404, Ordering::SeqCst);
    for n in 0..2 {
        http_subscribe(gw.addr, &uri, &rx.url(&format!("/{n}")), None)
            .await
            .assert_error(403, "verification_failed");
    }
    let limited = http_subscribe(gw.addr, &uri, &rx.url("/2"), None).await;
    limited.assert_error(429, "too_many_requests");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "Retry-After: {retry}");
    // Unsubscribing and the WebSub hub draw on the same allowance.
    http_unsubscribe(gw.addr, &uri, &rx.url("/3"))
        .await
        .assert_error(429, "too_many_requests");
    let form = format!(
        "hub.mode=subscribe&hub.topic={}&hub.callback={}",
        enc(&uri),
        enc(&rx.url("/4"))
    );
    let hub = call(
        gw.addr,
        Method::POST,
        "/hub",
        Some("application/x-www-form-urlencoded"),
        form,
    )
    .await;
    assert_eq!(hub.status, 429, "{}", hub.body);
    assert!(hub.body.starts_with("too_many_requests: "), "{}", hub.body);
    assert!(hub.headers.contains_key("retry-after"));
    // Only the two allowed attempts reached the callback.
    let paths: Vec<String> = rx
        .gets()
        .iter()
        .map(|g| g.param("hub.mode").unwrap())
        .collect();
    assert_eq!(paths, ["subscribe", "subscribe"]);
    // A publisher-token holder is not counted (a wiki subscribing many namespaces at once).
    rx.state.get_status.store(0, Ordering::SeqCst);
    for n in 5..10 {
        let reply = subscribe_as(
            gw.addr,
            &uri,
            &rx.url(&format!("/{n}")),
            &[("authorization", "Bearer publisher")],
        )
        .await;
        assert_eq!(reply.status, 204, "{}", reply.body);
    }
    gw.stop().await;
    rx.stop().await;
}

#[tokio::test]
async fn callbacks_in_a_denied_network_are_never_called() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start().await;
    let callback = rx.url("/cb");
    let gw = Gateway::start(socket_config(dir.path())).await;
    let uri = http_create(gw.addr).await;
    let reply = http_subscribe(gw.addr, &uri, &callback, Some("s3cret")).await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    gw.stop().await;
    assert_eq!(
        rx.gets().len(),
        1,
        "the verification before the policy changed"
    );

    // The same gateway, now denying loopback.
    let deny = |c: &mut wikisync_gateway::config::Config| {
        c.callback_deny = vec!["127.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
    };
    let mut config = socket_config(dir.path());
    deny(&mut config);
    let gw = Gateway::start(config).await;
    // A new subscription is refused before any request: by address and by a name resolving
    // to it, verified or not.
    let by_name = format!("http://localhost:{}/other", rx.addr.port());
    for cb in [rx.url("/other"), by_name] {
        http_subscribe(gw.addr, &uri, &cb, None)
            .await
            .assert_error(403, "callback_not_allowed");
    }
    let open = Gateway::start_fresh_with(|c| {
        c.verify = false;
        deny(c);
    })
    .await;
    let open_uri = http_create(open.addr).await;
    http_subscribe(open.addr, &open_uri, &rx.url("/nv"), None)
        .await
        .assert_error(403, "callback_not_allowed");
    open.stop().await;
    // The existing subscription's deliveries are attempted and fail at the connection.
    http_publish(gw.addr, Some(&uri), entry("urn:1", "x"))
        .await
        .uri();
    let failed = eventually(WAIT, || async {
        let ts = (wikisync_gateway::time::now_ms() / 1000).to_string();
        let sig =
            wikisync_gateway::http::subscription::request_signature("s3cret", &uri, &callback, &ts);
        let path = format!(
            "/subscription?uri={}&callback={}&timestamp={ts}",
            enc(&uri),
            enc(&callback)
        );
        let reply = call_with(
            gw.addr,
            Method::GET,
            &path,
            &[("x-hub-signature", &sig)],
            String::new(),
        )
        .await;
        reply.status == 200 && reply.json()["failures"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    assert!(failed, "the delivery to a denied address failed");
    assert_eq!(rx.gets().len(), 1, "no verification reached the callback");
    assert!(rx.posts().is_empty(), "no delivery reached the callback");
    gw.stop().await;
    rx.stop().await;
}

/// A TCP connection to `gw` from the loopback address `from` (127.0.0.x).
async fn connect_from(gw: std::net::SocketAddr, from: [u8; 4]) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((from, 0))).unwrap();
    socket.connect(gw).await.unwrap()
}

/// A connection that has sent only the start of a request's head.
async fn slow_connection(gw: std::net::SocketAddr, from: [u8; 4]) -> tokio::net::TcpStream {
    let mut stream = connect_from(gw, from).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    stream
}

/// Everything the server sends on `stream` until it closes it (or `WAIT` passes: `None`).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut got = Vec::new();
    match tokio::time::timeout(WAIT, stream.read_to_end(&mut got)).await {
        Ok(Ok(_)) => Some(String::from_utf8_lossy(&got).into_owned()),
        // A reset after the answer counts as closed too.
        Ok(Err(_)) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

/// `GET /healthz` over a fresh connection from `from`: the raw answer.
async fn healthz_from(gw: std::net::SocketAddr, from: [u8; 4]) -> String {
    let mut stream = connect_from(gw, from).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut stream).await.expect("an answer")
}

/// A connection from `from` that was served `GET /healthz` and is kept alive, idle; `None` if
/// the server refused it.
async fn kept_alive(gw: std::net::SocketAddr, from: [u8; 4]) -> Option<tokio::net::TcpStream> {
    let mut stream = connect_from(gw, from).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
        .await
        .ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < 12 {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got.starts_with(b"HTTP/1.1 200").then_some(stream)
}

#[tokio::test]
async fn a_connection_trickling_its_headers_is_closed_after_the_header_timeout() {
    let gw = Gateway::start_fresh_with(|c| {
        c.header_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut slow = slow_connection(gw.addr, [127, 0, 0, 1]).await;
    let mut byte_by_byte = slow_connection(gw.addr, [127, 0, 0, 1]).await;
    // Keep sending single bytes (never the end of the head) while waiting for the close.
    let trickle = async {
        for _ in 0..1000 {
            if byte_by_byte.write_all(b"x").await.is_err() {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    };
    let (closed, trickled) = tokio::join!(read_until_closed(&mut slow), trickle);
    assert!(closed.is_some(), "the silent connection was closed");
    assert!(trickled, "the trickling connection was closed");
    // The gateway serves others meanwhile and after.
    assert!(
        healthz_from(gw.addr, [127, 0, 0, 1])
            .await
            .starts_with("HTTP/1.1 200")
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_greedy_client_cannot_take_every_connection() {
    let gw = Gateway::start_fresh_with(|c| {
        c.header_timeout = std::time::Duration::from_secs(600);
        c.max_connections_per_ip = 4;
        c.max_connections = 6;
    })
    .await;
    let greedy = [127, 0, 0, 1];
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(slow_connection(gw.addr, greedy).await);
    }
    // The greedy address's next connection is turned away at once...
    let mut refused = connect_from(gw.addr, greedy).await;
    let answer = read_until_closed(&mut refused).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    // ... while another client is served.
    let other = [127, 0, 0, 2];
    assert!(
        healthz_from(gw.addr, other)
            .await
            .starts_with("HTTP/1.1 200")
    );
    // The limit in all: one slow connection and one idle kept-alive connection from other
    // addresses fill it (the kept-alive one is retried until it is admitted: the place of the
    // connection above is given back only once the server has closed it).
    held.push(slow_connection(gw.addr, [127, 0, 0, 3]).await);
    let deadline = tokio::time::Instant::now() + WAIT;
    let idle = loop {
        if let Some(stream) = kept_alive(gw.addr, [127, 0, 0, 4]).await {
            break stream;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a sixth connection was never admitted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    held.push(idle);
    let full = healthz_from(gw.addr, other).await;
    assert!(full.starts_with("HTTP/1.1 503"), "{full}");
    // Closing one frees its place.
    drop(held.pop());
    let served = eventually(WAIT, || async {
        healthz_from(gw.addr, other)
            .await
            .starts_with("HTTP/1.1 200")
    })
    .await;
    assert!(served, "a place was freed when a connection closed");
    drop(held);
    gw.stop().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_408() {
    let gw = Gateway::start_fresh_with(|c| {
        c.body_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let uri = http_create(gw.addr).await;
    let mut stream = connect_from(gw.addr, [127, 0, 0, 1]).await;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: gw\r\nContent-Type: {ENTRY_TYPE}\r\nContent-Length: 1000\r\n\r\n<entry",
        publish_path(Some(&uri))
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream)
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"body_timeout\""), "{answer}");
    // Nothing was published.
    let feed = call(
        gw.addr,
        Method::GET,
        &format!("/items?uri={}", enc(&uri)),
        None,
        String::new(),
    )
    .await;
    assert_eq!(feed.status, 200, "{}", feed.body);
    assert!(!feed.body.contains("<entry"), "{}", feed.body);
    gw.stop().await;
}
