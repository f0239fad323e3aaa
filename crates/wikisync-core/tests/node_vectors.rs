//! Runs every case of the conformance vectors `tests/vectors/node_uris.json` and
//! `tests/vectors/follow_targets.json`.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use wikisync_core::node::{NodeRef, NodeUri, same_node};

#[test]
fn node_uri_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/node_uris.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["description"].as_str().is_some_and(|d| !d.is_empty()));
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let raw = case["raw"].as_str().unwrap();
        let expected = &case["expected"];
        let got = NodeUri::parse(raw);
        match (expected.get("error"), got) {
            (Some(code), Err(e)) => {
                if code.as_str() != Some(e.code()) {
                    failures.push(format!("{name}: want error {code}, got {}", e.code()));
                }
            }
            (Some(code), Ok(uri)) => {
                failures.push(format!("{name}: want error {code}, got {uri}"));
            }
            (None, Err(e)) => failures.push(format!("{name}: unexpected error {}", e.code())),
            (None, Ok(uri)) => {
                let canonical = expected["canonical"].as_str().unwrap();
                if uri.service() != expected["service"].as_str().unwrap()
                    || uri.node() != expected["node"].as_str().unwrap()
                    || uri.to_string() != canonical
                {
                    failures.push(format!(
                        "{name}: got service {:?} node {:?} canonical {uri}",
                        uri.service(),
                        uri.node()
                    ));
                }
                // The canonical form parses back to the same node.
                if NodeUri::parse(canonical).as_ref() != Ok(&uri) {
                    failures.push(format!("{name}: canonical form does not round-trip"));
                }
                // Hosts compare spellings with `same_node`: every spelling names its canonical node.
                if !same_node(raw, canonical) {
                    failures.push(format!("{name}: not the same node as its canonical form"));
                }
            }
        }
    }
    for pair in doc["pairs"].as_array().unwrap() {
        let (a, b) = (pair["a"].as_str().unwrap(), pair["b"].as_str().unwrap());
        if Some(same_node(a, b)) != pair["same"].as_bool() || same_node(a, b) != same_node(b, a) {
            failures.push(format!("same_node({a:?}, {b:?}) is not {}", pair["same"]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn follow_target_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/follow_targets.json"
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(doc["description"].as_str().is_some_and(|d| !d.is_empty()));
    let mut failures = Vec::new();
    for case in doc["targets"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let expected = &case["expected"];
        match (
            NodeRef::parse(case["raw"].as_str().unwrap()),
            expected.get("error"),
        ) {
            (Err(e), Some(code)) if code.as_str() == Some(e.code()) => {}
            (Ok(r), None) => {
                let got = (r.gateway(), r.node().to_string(), r.to_string());
                let want = (
                    expected["gateway"].as_str(),
                    expected["node"].as_str().unwrap().to_owned(),
                    expected["canonical"].as_str().unwrap().to_owned(),
                );
                if got != want {
                    failures.push(format!("{name}: got {got:?}, want {want:?}"));
                }
                if NodeRef::parse(&r.to_string()).as_ref() != Ok(&r) {
                    failures.push(format!("{name}: canonical form does not round-trip"));
                }
            }
            (got, _) => failures.push(format!("{name}: got {got:?}, want {expected}")),
        }
    }
    for case in doc["refs"].as_array().unwrap() {
        let got = NodeRef::at(case["gateway"].as_str(), case["node"].as_str().unwrap());
        let ok = match (&got, &case["expected"]) {
            (Ok(r), Value::String(want)) => r.to_string() == *want,
            (Err(e), want) => want["error"].as_str() == Some(e.code()),
            _ => false,
        };
        if !ok {
            failures.push(format!("{case}: got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
