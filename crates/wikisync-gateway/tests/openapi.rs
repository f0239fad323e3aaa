//! The OpenAPI document stays true to the router: same paths and methods, served as JSON.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use wikisync_gateway::http::{OPENAPI_JSON, routes};

#[test]
fn every_route_is_documented_and_every_documented_operation_is_routed() {
    let doc: serde_json::Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((path.clone(), method.to_uppercase()));
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            // Every error status is documented with the shared Error schema.
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/Error",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    let routed: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|(path, method, _)| (path.to_owned(), method.to_string()))
        .collect();
    assert_eq!(documented, routed);
}

#[tokio::test]
async fn the_document_is_served_and_every_route_answers() {
    let api = api();
    let reply = send(&api.router, get("/openapi.json")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(reply.body, OPENAPI_JSON);
    for (path, method, _) in routes() {
        let request = axum::http::Request::builder()
            .method(method.clone())
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let reply = send(&api.router, request).await;
        assert!(
            reply.status != 404 || reply.json()["error"] != "no_such_endpoint",
            "{method} {path} is not routed"
        );
        assert_ne!(reply.status, 405, "{method} {path}");
        assert!(reply.status < 500, "{method} {path}: {}", reply.body);
    }
}
