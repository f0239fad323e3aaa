//! The HTTP interface: Idavoll's endpoints (drop-in), the WebSub hub, and operations.
//!
//! [`app`] builds the router from an [`AppState`], so tests drive it with
//! `tower::ServiceExt::oneshot` and no socket. Every error is JSON
//! `{"error": "<code>", "message": "<sentence>"}` (see [`crate::error`]); the codes per endpoint
//! are listed in `docs/gateway.md`.
//!
//! | endpoint | success | notes |
//! |---|---|---|
//! | `POST /create[?access=open\|restricted]` | 200 `{"uri"}` | new instant node `generic/<uuid>`, open unless `access=restricted` |
//! | `POST /publish[?uri=][&item=]` | 200 `{"uri"}` | body = Atom entry; no `uri`: new instant node; item id = `item`, else the entry's `atom:id`, else `current`; empty body: retract `item`, or delete the node when no `item` is given |
//! | `POST /delete?uri=` | 204 | optional JSON body `{"redirect_uri": "xmpp:…"}` (or another gateway's feed URL) |
//! | `GET /list` | 200 `["node", …]` | |
//! | `POST /subscribe` | 204, or 200 `{"uri", "callback", "lease_seconds", "expires"}` with a lease | JSON `{"uri", "callback", "secret"?, "lease_seconds"?}`; verified unless `--no-verify`; the newest item is queued for a new subscriber; with `lease_seconds`, subscribing again renews the lease |
//! | `POST /unsubscribe` | 204 | JSON `{"uri", "callback"}`; verified unless `--no-verify` |
//! | `GET /items?uri=[&max_items=][&after=]` | 200 Atom feed, newest first, one page | `Link: <…&after=CURSOR>; rel="next"` (and in the feed) when more follow; see `docs/gateway.md` |
//! | `POST /hub` | 202 | WebSub hub, form-encoded `hub.mode` subscribe / unsubscribe / publish; see [`websub`] |
//! | `GET /subscription?uri=&callback=&timestamp=` | 200 JSON state of the caller's own subscription | signed with `X-Hub-Signature` under its secret; anything else is one uniform 404; see [`subscription`] |
//! | `POST /heartbeat?uri=` | 204 | the node's publisher is alive (owner only); see [`heartbeat`] |
//! | `POST /grant?uri=&site=` | 204 | the owner lets a site publish to the node with its own site credential; see [`grants`] |
//! | `POST /revoke?uri=&site=` | 204 | the owner withdraws a grant (404 `no_grant` if none) |
//! | `GET /publishers?uri=` | 200 `{"uri", "owner", "granted"}` | owner only |
//! | `POST /access?uri=&model=open\|restricted` | 204 | the owner sets who may read the node; see [`readers`] |
//! | `POST /readers/grant?uri=` | 200 `{"uri", "reader", "id"}` | the owner grants a reader credential (the token is shown once) |
//! | `POST /readers/revoke?uri=&reader=` | 204 | the owner withdraws a reader credential (token or id; 404 `no_reader` if none) |
//! | `GET /readers?uri=` | 200 `{"uri", "access", "readers"}` | owner only; ids, never tokens |
//! | `GET /openapi.json` | 200 OpenAPI 3.1 document of this API | |
//! | `GET /healthz` | 200 `{"status": "ok", "outbox": n, "disk": {"full": false}}` (+ `"xmpp"` state in XMPP mode; `degraded` while the disk is full) | 503 when the store has stopped |
//! | `GET /metrics` | 200 Prometheus text | |
//!
//! Compatibility notes: like Idavoll, a missing node is 404 on `/publish`, `/delete` and `/items`
//! but **403** on `/subscribe` and `/unsubscribe`; an existing or missing subscription is 403.
//! Unlike Idavoll, malformed input is 400 (never 500), and node URIs in answers and callbacks
//! are canonical (`xmpp:<service>?;node=<id>`, see [`crate::uri`]), including a redirect URI.
//! In XMPP mode `/subscribe`, `/unsubscribe` and `/items` also take nodes of other pubsub
//! services (remote subscriptions, Idavoll's remote-node resources; see [`crate::xmpp`]).
//!
//! # Modules
//!
//! | module | holds |
//! |---|---|
//! | [`idavoll`] | the Idavoll API: `/create`, `/publish`, `/delete`, `/list`, `/subscribe`, `/unsubscribe`, `/items` |
//! | [`websub`] | the WebSub hub, `/hub` |
//! | [`subscription`] | `GET /subscription`: a subscriber asks where its subscription stands |
//! | [`heartbeat`] | `POST /heartbeat`: a quiet publisher says it is alive |
//! | [`grants`] | `POST /grant`, `POST /revoke`, `GET /publishers`: publish rights of other sites |
//! | [`readers`] | `POST /access`, `POST /readers/grant`, `POST /readers/revoke`, `GET /readers`: who may read a node |
//! | [`ops`] | operations: `/healthz`, `/metrics`, `/openapi.json` |
//! | [`state`] | [`AppState`], the publisher tokens and the node URIs of this service |
//! | [`input`] | request checks both APIs share: bodies, query parameters, callbacks, secrets |
//! | [`deadline`] | the request body deadline (`--body-timeout-ms`) |
//! | [`ratelimit`] | verifications of intent per client address (`--verify-per-minute`) |
//!
//! The handler modules depend on `state` and `input`, never on each other; this module only
//! assembles the router.

pub mod deadline;
pub mod grants;
pub mod heartbeat;
pub mod idavoll;
pub mod input;
pub mod ops;
pub mod ratelimit;
pub mod readers;
pub mod state;
pub mod subscription;
pub mod websub;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, get, post};

pub use ops::OPENAPI_JSON;
pub use state::{AppState, Identity, owner_id, parse_site, site_owner_id};

use crate::error::ApiError;

/// Every endpoint: path, its one method, and its handler (the router is built from this list).
pub fn routes() -> Vec<(&'static str, Method, MethodRouter<AppState>)> {
    vec![
        ("/create", Method::POST, only_post(post(idavoll::create))),
        ("/publish", Method::POST, only_post(post(idavoll::publish))),
        ("/delete", Method::POST, only_post(post(idavoll::delete))),
        (
            "/subscribe",
            Method::POST,
            only_post(post(idavoll::subscribe)),
        ),
        (
            "/unsubscribe",
            Method::POST,
            only_post(post(idavoll::unsubscribe)),
        ),
        ("/hub", Method::POST, only_post(post(websub::hub))),
        (
            "/subscription",
            Method::GET,
            only_get(get(subscription::state_of)),
        ),
        (
            "/heartbeat",
            Method::POST,
            only_post(post(heartbeat::heartbeat)),
        ),
        ("/grant", Method::POST, only_post(post(grants::grant))),
        ("/revoke", Method::POST, only_post(post(grants::revoke))),
        (
            "/publishers",
            Method::GET,
            only_get(get(grants::publishers)),
        ),
        (
            "/access",
            Method::POST,
            only_post(post(readers::set_access)),
        ),
        (
            "/readers/grant",
            Method::POST,
            only_post(post(readers::add_reader)),
        ),
        (
            "/readers/revoke",
            Method::POST,
            only_post(post(readers::revoke_reader)),
        ),
        ("/readers", Method::GET, only_get(get(readers::readers))),
        ("/list", Method::GET, only_get(get(idavoll::list))),
        ("/items", Method::GET, only_get(get(idavoll::items))),
        ("/healthz", Method::GET, only_get(get(ops::healthz))),
        ("/metrics", Method::GET, only_get(get(ops::metrics))),
        ("/openapi.json", Method::GET, only_get(get(ops::openapi))),
    ]
}

/// The router with every endpoint.
pub fn app(state: AppState) -> Router {
    let limit = state.config().max_body_bytes;
    let body_timeout = state.config().body_timeout;
    routes()
        .into_iter()
        .fold(Router::new(), |router, (path, _, route)| {
            router.route(path, route)
        })
        .fallback(|| async {
            ApiError::not_found("no_such_endpoint", "no such endpoint; see /openapi.json")
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            body_timeout,
            deadline::body_deadline,
        ))
        .with_state(state)
}

fn only_post(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async { ApiError::method_not_allowed("POST") })
}

fn only_get(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async { ApiError::method_not_allowed("GET, HEAD") })
}
