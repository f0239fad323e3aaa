//! Runs the conformance vectors of the sync engine: `decisions.json`, `locks.json`,
//! `notices.json`, `setup.json`, `hosts.json`, `feeds.json` and `site_ids.json` in `tests/vectors`.
//!
//! Outcomes and lock states in the files are written by hand; actions and new-state
//! essentials are pinned snapshots. `WIKISYNC_BLESS=1` rewrites the snapshots (after checking
//! the hand-written parts) when a deliberate change alters them.

use std::path::PathBuf;

use serde_json::{Value, json};
use wikisync_core::entry::{Entry, SiteId};
use wikisync_core::sync::*;
use wikisync_core::time::Timestamp;

fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors")
        .join(name)
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(vector_path(name)).expect("vector file is readable");
    serde_json::from_str(&text).expect("vector file is JSON")
}

fn bless() -> bool {
    std::env::var_os("WIKISYNC_BLESS").is_some()
}

fn save(name: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON serializes");
    std::fs::write(vector_path(name), text + "\n").expect("vector file is writable");
}

fn from<T: serde::de::DeserializeOwned>(value: &Value, what: &str, case: &str) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{case}: bad {what}: {e}"))
}

fn lock_type(lock: &LockState) -> Value {
    serde_json::to_value(lock).expect("lock serializes")["type"].clone()
}

/// Checks a pinned snapshot field, or fills it in when blessing.
fn pinned(expected: &mut Value, key: &str, actual: Value, case: &str) {
    match expected.get(key) {
        Some(want) if !bless() => assert_eq!(&actual, want, "{case}: {key}"),
        None if !bless() => panic!("{case}: no expected {key} (run with WIKISYNC_BLESS=1)"),
        _ => expected[key] = actual,
    }
}

#[test]
fn decisions() {
    let mut file = load("decisions.json");
    let cases = file["cases"].as_array_mut().expect("cases is a list");
    assert!(!cases.is_empty());
    for case in cases.iter_mut() {
        let name = case["name"].as_str().expect("name").to_owned();
        let config: SiteConfig = from(&case["config"], "config", &name);
        let state: PageState = from(&case["state"], "state", &name);
        let local_text: Option<String> = from(&case["localText"], "localText", &name);
        let entry: Entry = from(&case["entry"], "entry", &name);
        let now: Timestamp = from(&case["now"], "now", &name);
        // The authenticated publisher, when the case gives one (missing: the gateway reported none).
        let publisher: Option<SiteId> = case
            .get("publisher")
            .map(|p| from(p, "publisher", &name))
            .unwrap_or_default();
        let publisher = publisher.as_ref();
        let d = handle_notification(
            &config,
            state.clone(),
            local_text.as_deref(),
            &entry,
            publisher,
            now,
        );
        let want: Outcome = from(&case["expected"]["outcome"], "outcome", &name);
        assert_eq!(d.outcome, want, "{name}: outcome");
        // Idempotence: the same notification again, on the new state and text, changes nothing.
        let text_after = d.actions.iter().fold(local_text.clone(), |t, a| match a {
            Action::WritePage { text, .. } => Some(text.clone()),
            Action::DeletePage { .. } => None,
            _ => t,
        });
        let again = handle_notification(
            &config,
            d.state.clone(),
            text_after.as_deref(),
            &entry,
            publisher,
            now,
        );
        if !matches!(
            entry.kind,
            wikisync_core::entry::EntryKind::Draft {
                conflict_with: Some(_),
                ..
            }
        ) {
            assert!(
                matches!(again.outcome, Outcome::Ignore { .. }),
                "{name}: not idempotent: {:?}",
                again.outcome
            );
            assert_eq!(
                again.state, d.state,
                "{name}: second application changed the state"
            );
        }
        let expected = &mut case["expected"];
        pinned(
            expected,
            "actions",
            serde_json::to_value(&d.actions).expect("actions serialize"),
            &name,
        );
        let essentials = json!({
            "clock": d.state.clock,
            "text": d.state.text,
            "lock": d.state.lock,
            "conflict": d.state.conflict.is_some(),
        });
        pinned(expected, "state", essentials, &name);
    }
    if bless() {
        save("decisions.json", &file);
    }
}

#[test]
fn locks() {
    let mut file = load("locks.json");
    let cases = file["cases"].as_array_mut().expect("cases is a list");
    assert!(!cases.is_empty());
    for case in cases.iter_mut() {
        let name = case["name"].as_str().expect("name").to_owned();
        let config: SiteConfig = from(&case["config"], "config", &name);
        let mut state: PageState = from(&case["state"], "state", &name);
        let steps = case["steps"].as_array_mut().expect("steps is a list");
        for (i, step) in steps.iter_mut().enumerate() {
            let label = format!("{name} step {i}");
            let input: Input = from(&step["input"], "input", &label);
            let now: Timestamp = from(&step["now"], "now", &label);
            let d = handle(&config, state, input, now);
            let want: Outcome = from(&step["expected"]["outcome"], "outcome", &label);
            assert_eq!(d.outcome, want, "{label}: outcome");
            assert_eq!(
                lock_type(&d.state.lock),
                step["expected"]["lock"],
                "{label}: lock"
            );
            let actions = serde_json::to_value(&d.actions).expect("actions serialize");
            pinned(&mut step["expected"], "actions", actions, &label);
            state = d.state;
        }
    }
    if bless() {
        save("locks.json", &file);
    }
}

#[test]
fn notices_at_a_time() {
    let file = load("notices.json");
    for case in file["cases"].as_array().expect("cases is a list") {
        let name = case["name"].as_str().expect("name");
        let config: SiteConfig = from(&case["config"], "config", name);
        let state: PageState = from(&case["state"], "state", name);
        let now: Timestamp = from(&case["now"], "now", name);
        let want: Vec<Notice> = from(&case["expected"], "expected", name);
        assert_eq!(notices(&config, &state, now), want, "{name}");
    }
}

#[test]
fn namespace_changes() {
    let file = load("setup.json");
    for case in file["cases"].as_array().expect("cases is a list") {
        let name = case["name"].as_str().expect("name");
        let current: Option<NamespaceSetup> = from(&case["current"], "current", name);
        let request: SetupRequest = from(&case["request"], "request", name);
        let got = plan_setup(current.as_ref(), request);
        match (&case["expected"]["steps"], &case["expected"]["error"]) {
            (Value::Null, code) => {
                let err = got.expect_err(name);
                assert_eq!(Some(err.code()), code.as_str(), "{name}");
            }
            (steps, _) => {
                let want: Vec<SetupStep> = from(steps, "steps", name);
                assert_eq!(got.expect(name), want, "{name}");
            }
        }
    }
}

#[test]
fn mirror_source_checks() {
    let file = load("setup.json");
    for case in file["sourceChecks"].as_array().expect("a list") {
        let name = case["name"].as_str().expect("name");
        let source = wikisync_core::entry::SiteId::new(case["source"].as_str().expect("source"));
        let entries: Vec<Entry> = from(&case["entries"], "entries", name);
        match check_mirror_source(&source, &entries) {
            Ok(()) => assert_eq!(case["expected"]["ok"], Value::Bool(true), "{name}"),
            Err(e) => {
                assert_eq!(Some(e.code()), case["expected"]["error"].as_str(), "{name}");
                let SetupError::WrongSource { carries, .. } = e else {
                    panic!("{name}: {e}")
                };
                assert_eq!(
                    Some(carries.as_str()),
                    case["expected"]["carries"].as_str(),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn host_policies() {
    let file = load("hosts.json");
    for case in file["namespaces"].as_array().expect("a list") {
        let name = case["name"].as_str().expect("name");
        let config: SiteConfig = from(&case["config"], "config", name);
        let page = wikisync_core::id::PageId::clean(case["page"].as_str().expect("page"))
            .expect("a valid page id");
        assert_eq!(
            config.namespace_for(&page),
            case["namespace"].as_str(),
            "{name}"
        );
        assert_eq!(
            Value::Bool(config.is_read_only(&page)),
            case["readOnly"],
            "{name}"
        );
    }
    for case in file["publishFailures"].as_array().expect("a list") {
        let status = u16::try_from(case["status"].as_u64().expect("a status")).expect("u16");
        let want: PublishFailure = from(&case["failure"], "failure", "publishFailures");
        assert_eq!(PublishFailure::from_status(status), want, "{status}");
    }
    for case in file["subscriptions"].as_array().expect("a list") {
        let name = case["name"].as_str().expect("name");
        let config: SiteConfig = from(&case["config"], "config", name);
        let namespace = case["namespace"].as_str().expect("namespace");
        let report: SubscriptionReport = from(&case["report"], "report", name);
        let now: Timestamp = from(&case["now"], "now", name);
        let want: SubscriptionStep = from(&case["expected"], "expected", name);
        assert_eq!(
            check_subscription(&config, namespace, &report, now),
            want,
            "{name}"
        );
    }
    let heartbeats = file["heartbeats"].as_array().expect("a list");
    assert!(!heartbeats.is_empty());
    for case in heartbeats {
        let name = case["name"].as_str().expect("name");
        let config: SiteConfig = from(&case["config"], "config", name);
        let namespace = case["namespace"].as_str().expect("namespace");
        assert_eq!(
            Value::Bool(config.sends_heartbeat(namespace)),
            case["expected"],
            "{name}"
        );
    }
    for case in file["mediaNeedsPublish"].as_array().expect("a list") {
        let name = case["name"].as_str().expect("name");
        let state: PageState = from(&case["state"], "state", name);
        let sha256: Option<String> = from(&case["sha256"], "sha256", name);
        assert_eq!(
            Value::Bool(media_needs_publish(&state, sha256.as_deref())),
            case["expected"],
            "{name}"
        );
    }
    for case in file["needsPublish"].as_array().expect("a list") {
        let name = case["name"].as_str().expect("name");
        let state: PageState = from(&case["state"], "state", name);
        let text: Option<String> = from(&case["localText"], "localText", name);
        assert_eq!(
            Value::Bool(needs_publish(&state, text.as_deref())),
            case["expected"],
            "{name}"
        );
    }
}

#[test]
fn feeds() {
    use wikisync_core::entry::{DecodeOptions, decode_feed};
    let file = load("feeds.json");
    for case in file["cases"].as_array().expect("cases is a list") {
        let name = case["name"].as_str().expect("name");
        let xml = case["xml"].as_str().expect("xml");
        let options = match case["maxBytes"].as_u64() {
            Some(max) => DecodeOptions::with_max_bytes(usize::try_from(max).expect("usize")),
            None => DecodeOptions::default(),
        };
        let got = decode_feed(xml.as_bytes(), &options);
        match (&case["expected"]["items"], &case["expected"]["error"]) {
            (Value::Null, code) => {
                let err = got.expect_err(name);
                assert_eq!(Some(err.code()), code.as_str(), "{name}");
            }
            (items, _) => {
                let got: Vec<Value> = got
                    .expect(name)
                    .into_iter()
                    .map(|item| match item {
                        Ok(entry) => json!({ "entry": entry }),
                        Err(e) => json!({ "error": e.code() }),
                    })
                    .collect();
                assert_eq!(&Value::Array(got), items, "{name}");
            }
        }
    }
}

#[test]
fn site_ids() {
    use wikisync_core::entry::SiteId;
    let file = load("site_ids.json");
    for case in file["cases"].as_array().expect("cases is a list") {
        let name = case["name"].as_str().expect("name");
        let raw = case["raw"].as_str().expect("raw");
        let want = case["expected"].as_str().expect("expected");
        assert_eq!(SiteId::new(raw).as_str(), want, "{name}");
        // normal forms are normal, and ids read from JSON are normalised too
        assert_eq!(SiteId::new(want).as_str(), want, "{name}: not idempotent");
        let read: SiteId = from(&Value::String(raw.to_owned()), "site", name);
        assert_eq!(read.as_str(), want, "{name}: read from JSON");
    }
}
