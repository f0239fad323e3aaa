//! Runs every case of `tests/vectors/page_ids.json` against `PageId::clean`.

use serde_json::Value;
use wikisync_core::id::PageId;

#[test]
fn page_id_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/page_ids.json"
    );
    let text = std::fs::read_to_string(path).expect("the vector file is checked in");
    let doc: Value = serde_json::from_str(&text).expect("the vector file is JSON");
    let cases = doc["cases"].as_array().expect("cases is an array");
    assert!(cases.len() > 20);
    for case in cases {
        let name = case["name"].as_str().expect("every case has a name");
        let raw = case["raw"].as_str().expect("every case has a raw id");
        let got = PageId::clean(raw);
        match (&case["expected"], &case["error"]) {
            (Value::String(want), Value::Null) => {
                assert_eq!(
                    got.map(String::from).as_deref(),
                    Ok(want.as_str()),
                    "{name}"
                );
            }
            (Value::Null, Value::String(code)) => {
                assert_eq!(got.map_err(|e| e.code()), Err(code.as_str()), "{name}");
            }
            other => panic!("case {name}: exactly one of expected/error must be set: {other:?}"),
        }
    }
}
