//! Runs every case of the shared conformance vectors `tests/vectors/merge.json` (also run by
//! the PHP and JS bindings).

use serde_json::Value;
use wikisync_core::merge::{Markers, MergeOptions, merge3};

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {case}"))
}

#[test]
fn merge_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/merge.json"
    );
    let raw = std::fs::read_to_string(path).expect("the vectors file exists");
    let file: Value = serde_json::from_str(&raw).expect("the vectors file is JSON");
    assert!(file["description"].as_str().is_some_and(|d| !d.is_empty()));
    let cases = file["cases"].as_array().expect("cases is an array");
    assert!(cases.len() >= 30, "all cases are present");
    for case in cases {
        let name = text(case, "name");
        let options = &case["options"];
        let words = options["words"].as_bool().expect("options.words");
        let diff3 = options["diff3"].as_bool().expect("options.diff3");
        let labels: Vec<&str> = options["labels"]
            .as_array()
            .expect("options.labels")
            .iter()
            .map(|l| l.as_str().expect("a label is a string"))
            .collect();
        let [ours_label, base_label, theirs_label] = labels[..] else {
            panic!("{name}: three labels");
        };
        let merged = merge3(
            text(case, "base"),
            text(case, "ours"),
            text(case, "theirs"),
            &MergeOptions::default().with_words(words).with_diff3(diff3),
        );
        let markers = Markers::labelled(ours_label, base_label, theirs_label).with_diff3(diff3);
        let expected = &case["expected"];
        assert_eq!(
            merged.render(&markers),
            text(expected, "text"),
            "{name}: merged text"
        );
        assert_eq!(
            merged.conflict_count() as u64,
            expected["conflicts"].as_u64().expect("expected.conflicts"),
            "{name}: conflict count"
        );
        assert_eq!(
            merged.is_clean(),
            expected["clean"].as_bool().expect("expected.clean"),
            "{name}: clean"
        );
        if merged.is_clean() {
            assert_eq!(merged.clean_text().as_deref(), Some(text(expected, "text")));
        }
    }
}
