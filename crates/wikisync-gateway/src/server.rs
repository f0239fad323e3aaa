//! The HTTP/1.1 server: accepts connections within limits, so that a slow or greedy client
//! cannot starve the others.
//!
//! - **Header read timeout** (`--header-timeout-ms`, default 10 s): a connection must send a
//!   request's whole head within it, counted from when the server starts waiting for that head;
//!   so it is also the longest a kept-alive connection may sit idle between requests. A client
//!   trickling its headers one byte a second is closed when it runs out.
//! - **Connections in all** (`--max-connections`, default 512): kept below the usual limit of
//!   1,024 open files, leaving room for the database, deliveries and XMPP.
//! - **Connections per client address** (`--max-connections-per-ip`, default 64; IPv6 counted
//!   per /64; 0 = no per-address limit, e.g. behind a reverse proxy where every client has the
//!   proxy's address): one client cannot take every connection.
//!
//! A connection over a limit is answered at once with `503 too_many_connections` (JSON,
//! `Retry-After: 1`, `Connection: close`) and closed. Every request carries the client's
//! address as [`axum::extract::ConnectInfo`]`<SocketAddr>`.
//!
//! On shutdown the server stops accepting, asks every connection to close after its current
//! request, and returns once all have.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// The limits of [`serve`] (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time to send a request's head (and longest idle time between requests).
    pub header_timeout: Duration,
    /// Connections open at once, over all clients.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv6: one /64); 0 = no limit.
    pub max_connections_per_ip: usize,
}

/// How long accepting pauses after the operating system refused a connection (no file
/// descriptors left, for instance), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The answer to a connection over a limit.
fn over_limit_response(why: &str) -> Vec<u8> {
    let body = serde_json::json!({
        "error": "too_many_connections",
        "message": format!("{why}; try again later"),
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Open connections, in all and per client address.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A connection's place in [`Counts`], given back when dropped.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_ip.remove(&self.key);
            }
        }
    }
}

fn lock(m: &Mutex<Counts>) -> std::sync::MutexGuard<'_, Counts> {
    // The counts stay consistent even if a holder panicked (each update is one statement).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Takes a slot for a connection from `ip`, or says which limit it is over.
fn take_slot(
    counts: &Arc<Mutex<Counts>>,
    limits: &ServerLimits,
    ip: IpAddr,
) -> Result<Slot, &'static str> {
    let key = crate::netpolicy::client_key(ip);
    let mut c = lock(counts);
    if c.total >= limits.max_connections {
        return Err("the gateway has as many connections open as it accepts");
    }
    let mine = c.per_ip.get(&key).copied().unwrap_or(0);
    if limits.max_connections_per_ip > 0 && mine >= limits.max_connections_per_ip {
        return Err(
            "this address has as many connections open as the gateway accepts from one client",
        );
    }
    c.total += 1;
    *c.per_ip.entry(key).or_insert(0) += 1;
    Ok(Slot {
        counts: counts.clone(),
        key,
    })
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then waits for the open
/// connections to finish their current requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let counts = Arc::new(Mutex::new(Counts::default()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        match take_slot(&counts, &limits, addr.ip()) {
            Ok(slot) => {
                let app = app.clone();
                let stop = stop_rx.clone();
                tokio::spawn(async move {
                    connection(stream, addr, app, limits, stop).await;
                    drop(slot);
                });
            }
            Err(why) => {
                tracing::info!(client = %addr, why, "connection refused");
                // Best effort, without waiting: a client that does not read gets nothing.
                let _ = stream.try_write(&over_limit_response(why));
            }
        }
    }
    let _ = stop_tx.send(true);
    drop(stop_rx);
    // Every connection task holds a receiver: this returns once all have ended.
    stop_tx.closed().await;
    Ok(())
}

/// Serves one connection until it ends, or until `stop` asks it to close after its current
/// request.
async fn connection(
    stream: TcpStream,
    addr: SocketAddr,
    app: Router,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(addr));
        app.clone().oneshot(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let mut stopping = *stop.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(client = %addr, error = %e, "connection ended");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_per_address_and_in_all() {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let limits = ServerLimits {
            header_timeout: Duration::from_secs(1),
            max_connections: 3,
            max_connections_per_ip: 2,
        };
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "2001:db8::1".parse().expect("ip");
        let b2: IpAddr = "2001:db8::2".parse().expect("ip");
        let first = take_slot(&counts, &limits, a).expect("free");
        let _second = take_slot(&counts, &limits, a).expect("free");
        assert!(take_slot(&counts, &limits, a).is_err(), "per address");
        let _third = take_slot(&counts, &limits, b).expect("free");
        assert!(take_slot(&counts, &limits, b2).is_err(), "in all");
        drop(first);
        let fourth = take_slot(&counts, &limits, b2).expect("same /64, one place left for it");
        assert_eq!(lock(&counts).total, 3);
        drop(fourth);
        assert_eq!(lock(&counts).total, 2, "a dropped slot is given back");
    }

    #[test]
    fn the_refusal_is_a_complete_http_response() {
        let text = String::from_utf8(over_limit_response("full")).expect("text");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 503 "));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["error"], "too_many_connections");
    }
}
