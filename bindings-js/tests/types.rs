//! Checks `index.d.ts` against the core's enums: each TypeScript union names exactly the
//! variants serde reads for the Rust enum of the same name, so a variant added to the core
//! cannot be missing from the package's types (as `announceSourceMove` once was).
//!
//! serde lists an enum's variants in the error for an unknown one; that list is the truth.

use serde::de::DeserializeOwned;
use wikisync_core::entry::{DecodeError, EntryKind, ItemSubject, MediaError, SiteId};
use wikisync_core::id::PageIdError;
use wikisync_core::merge::{Region, Resolution};
use wikisync_core::sync::{
    Action, Change, ConflictChoice, ConflictOrigin, DropReason, GonePolicy, IgnoreReason, Input,
    MediaChange, Notice, Outcome, PublishFailure, RefuseReason, Role, SetupError, SetupRequest,
    SetupStep, SubscriptionReport, SubscriptionStep, plan_setup,
};

const TYPES: &str = include_str!("../index.d.ts");

/// The variants serde accepts for `T`, read from its answer to an unknown one given as `json`.
fn variants<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> Vec<String> {
    let message = serde_json::from_str::<T>(json)
        .expect_err("an unknown variant is refused")
        .to_string();
    let (_, expected) = message
        .split_once("expected")
        .unwrap_or_else(|| panic!("no variant list in {message:?}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The string literals of `export type <name> = …;` in `index.d.ts`.
fn literals(name: &str) -> Vec<String> {
    let start = TYPES
        .find(&format!("export type {name} ="))
        .unwrap_or_else(|| panic!("index.d.ts has no type {name}"));
    let mut depth = 0i32;
    let body: String = TYPES[start..]
        .chars()
        .take_while(|&c| {
            depth += match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            };
            !(c == ';' && depth == 0)
        })
        .collect();
    body.split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn same(name: &str, mut rust: Vec<String>) {
    let mut ts = literals(name);
    rust.sort();
    ts.sort();
    ts.dedup();
    assert_eq!(ts, rust, "index.d.ts `{name}` against the Rust enum");
}

/// Checks each named type against the variants serde lists for an unknown one given as `$json`.
macro_rules! unions {
    ($json:expr => $($name:ident),+ $(,)?) => {
        $( same(stringify!($name), variants::<$name>($json)); )+
    };
}

#[test]
fn tagged_unions_name_every_variant() {
    unions!(r#"{"type": "?"}"# =>
        Input, Action, Outcome, Notice, SetupRequest, SetupStep, Role, EntryKind, Change,
        ConflictOrigin, Region, ItemSubject, MediaChange, SubscriptionReport, SubscriptionStep);
}

#[test]
fn string_unions_name_every_value() {
    unions!(r#""?""# =>
        IgnoreReason, RefuseReason, GonePolicy, ConflictChoice, Resolution, PublishFailure,
        DropReason);
}

#[test]
fn error_codes_are_the_core_codes() {
    same(
        "DecodeErrorCode",
        DecodeError::CODES.iter().map(|c| (*c).to_owned()).collect(),
    );
    let bad_node = plan_setup(
        None,
        SetupRequest::Peer {
            node: Some("x".into()),
            gateway: None,
        },
    );
    let bad_gateway = plan_setup(
        None,
        SetupRequest::Peer {
            node: None,
            gateway: Some("x".into()),
        },
    );
    let wrong_source = SetupError::WrongSource {
        expected: SiteId::new("a"),
        carries: SiteId::new("b"),
    };
    let setup = [
        SetupError::NotSynced,
        SetupError::NotSource,
        SetupError::NotFollowing,
        SetupError::SameNode,
        SetupError::TwoGateways {
            given: String::new(),
            feed: String::new(),
        },
        wrong_source,
    ]
    .iter()
    .chain(bad_node.as_ref().err())
    .chain(bad_gateway.as_ref().err())
    .map(|e| e.code().to_owned())
    .collect();
    same("SetupErrorCode", setup);
    let media = [
        MediaError::SizeMismatch {
            expected: 1,
            actual: 2,
        },
        MediaError::HashMismatch {
            expected: String::new(),
            actual: String::new(),
        },
    ];
    same(
        "MediaErrorCode",
        media.iter().map(|e| e.code().to_owned()).collect(),
    );
    use PageIdError::*;
    let page_id = [
        Empty,
        TooLong,
        SegmentTooLong,
        ControlCharacter,
        AbsolutePath,
        PathSeparator,
        PathTraversal,
    ];
    same(
        "PageIdErrorCode",
        page_id.iter().map(|e| e.code().to_owned()).collect(),
    );
}
