//! Runs every case of `tests/vectors/entries.json` (the format is in its `description`).

use serde_json::Value;
use wikisync_core::entry::{DecodeError, DecodeOptions, Entry, decode, encode};

fn cases() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/entries.json"
    );
    let text = std::fs::read_to_string(path).expect("the vector file is checked in");
    let doc: Value = serde_json::from_str(&text).expect("the vector file is JSON");
    doc["cases"].as_array().expect("cases is an array").clone()
}

fn entry_of(value: &Value, name: &str) -> Entry {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("case {name}: bad entry: {e}"))
}

#[test]
fn entry_vectors() {
    let mut codes_seen = Vec::new();
    let mut encodes = 0;
    for case in cases() {
        let name = case["name"].as_str().expect("every case has a name");
        let xml = case["xml"].as_str().expect("every case has xml");
        let options = match case.get("max_bytes").and_then(Value::as_u64) {
            Some(max) => DecodeOptions::with_max_bytes(usize::try_from(max).expect("small")),
            None => DecodeOptions::default(),
        };
        let decoded = decode(xml.as_bytes(), &options);
        match case["op"].as_str() {
            Some("encode") => {
                encodes += 1;
                let entry = entry_of(&case["entry"], name);
                assert_eq!(encode(&entry), xml, "case {name}: encoding differs");
                assert_eq!(decoded, Ok(entry), "case {name}: does not decode back");
            }
            Some("decode") => match (&case["entry"], &case["error"]) {
                (entry, Value::Null) => {
                    assert_eq!(decoded, Ok(entry_of(entry, name)), "case {name}");
                }
                (Value::Null, Value::String(code)) => {
                    let got = decoded.as_ref().map_err(DecodeError::code);
                    assert_eq!(got.err(), Some(code.as_str()), "case {name}: {decoded:?}");
                    codes_seen.push(code.clone());
                }
                other => panic!("case {name}: exactly one of entry/error must be set: {other:?}"),
            },
            other => panic!("case {name}: unknown op {other:?}"),
        }
    }
    assert!(encodes >= 4, "one encode case per entry kind");
    // `not_a_feed` comes only from decoding a feed: tests/vectors/feeds.json exercises it.
    for code in DecodeError::CODES.iter().filter(|c| **c != "not_a_feed") {
        assert!(
            codes_seen.iter().any(|c| c == code),
            "no vector exercises the error code {code}"
        );
    }
}
