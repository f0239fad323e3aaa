//! Scenarios across two sites that the vectors do not show step by step.

use wikisync_core::entry::{Entry, SiteId};
use wikisync_core::id::PageId;
use wikisync_core::sync::*;
use wikisync_core::time::Timestamp;

fn config(site: &str) -> SiteConfig {
    SiteConfig::new(SiteId::new(site)).rule("", Role::peer())
}

fn save(config: &SiteConfig, state: PageState, text: &str, now: i64) -> Decision {
    let edit = LocalEdit {
        change: Change::Text { text: text.into() },
        author: Some("u".into()),
        summary: None,
        minor: false,
        revision: u64::try_from(now).expect("positive time"),
        title: None,
    };
    handle_local_save(config, state, edit, Timestamp(now))
}

fn published(d: &Decision) -> Entry {
    d.actions
        .iter()
        .find_map(|a| match a {
            Action::Publish { entry } if entry.text().is_some() => Some(entry.clone()),
            _ => None,
        })
        .expect("a revision was published")
}

fn page() -> PageId {
    PageId::clean("p").expect("valid id")
}

#[test]
fn both_sides_record_the_same_conflict_and_a_resolution_dominates() {
    let (a, b) = (config("a"), config("b"));
    let first = save(&a, PageState::new(page()), "x\n", 10);
    let e0 = published(&first);
    let b0 = handle_notification(&b, PageState::new(page()), None, &e0, None, Timestamp(11));
    let a1 = save(&a, first.state, "from a\n", 20);
    let b1 = save(&b, b0.state, "from b\n", 21);
    let at_a = handle_notification(
        &a,
        a1.state.clone(),
        Some("from a\n"),
        &published(&b1),
        None,
        Timestamp(30),
    );
    let at_b = handle_notification(
        &b,
        b1.state.clone(),
        Some("from b\n"),
        &published(&a1),
        None,
        Timestamp(30),
    );
    assert_eq!(at_a.outcome, Outcome::Conflict);
    assert_eq!(at_b.outcome, Outcome::Conflict);
    let ca = at_a.state.conflict.clone().expect("conflict at a");
    let cb = at_b.state.conflict.clone().expect("conflict at b");
    assert_eq!(render_conflict(&ca), render_conflict(&cb));
    assert!(render_conflict(&ca).contains("from a") && render_conflict(&ca).contains("from b"));

    // A resolves; B fast-forwards to the resolution and its own conflict is cleared.
    let resolved = save(&a, at_a.state, &render_conflict(&ca), 40);
    assert_eq!(resolved.outcome, Outcome::Publish);
    assert!(resolved.actions.contains(&Action::ClearConflict));
    let applied = handle_notification(
        &b,
        at_b.state,
        Some("from b\n"),
        &published(&resolved),
        None,
        Timestamp(41),
    );
    assert_eq!(applied.outcome, Outcome::Update);
    assert!(applied.actions.contains(&Action::ClearConflict));
    assert_eq!(applied.state.clock, resolved.state.clock);
    assert_eq!(applied.state.text, resolved.state.text);
}

#[test]
fn a_save_from_an_editor_opened_before_a_remote_change_is_merged() {
    let (a, b) = (config("a"), config("b"));
    let s0 = save(&a, PageState::new(page()), "one\ntwo\nthree\n", 10);
    let opened = handle_editor_opened(&a, s0.state.clone(), "alice", Timestamp(11));
    let b0 = handle_notification(
        &b,
        PageState::new(page()),
        None,
        &published(&s0),
        None,
        Timestamp(12),
    );
    let b1 = save(&b, b0.state, "one\ntwo\nTHREE\n", 13);
    let a1 = handle_notification(
        &a,
        opened.state,
        Some("one\ntwo\nthree\n"),
        &published(&b1),
        None,
        Timestamp(14),
    );
    assert_eq!(a1.outcome, Outcome::Update);
    // Alice's editor still shows the text from before B's change.
    let a2 = save(&a, a1.state, "ONE\ntwo\nthree\n", 20);
    assert_eq!(a2.outcome, Outcome::Publish);
    assert_eq!(a2.state.text.as_deref(), Some("ONE\ntwo\nTHREE\n"));
    assert!(
        a2.actions
            .iter()
            .any(|x| matches!(x, Action::WritePage { text, .. } if text == "ONE\ntwo\nTHREE\n"))
    );
    assert_eq!(a2.state.lock, LockState::Free);
}

#[test]
fn a_local_save_refused_for_a_conflict_is_resolved_by_the_next_save() {
    let (a, b) = (config("a"), config("b"));
    let s0 = save(&a, PageState::new(page()), "line\n", 10);
    let opened = handle_editor_opened(&a, s0.state.clone(), "alice", Timestamp(11));
    let b0 = handle_notification(
        &b,
        PageState::new(page()),
        None,
        &published(&s0),
        None,
        Timestamp(12),
    );
    let b1 = save(&b, b0.state, "bob's line\n", 13);
    let a1 = handle_notification(
        &a,
        opened.state,
        Some("line\n"),
        &published(&b1),
        None,
        Timestamp(14),
    );
    let refused = save(&a, a1.state, "alice's line\n", 20);
    assert_eq!(
        refused.outcome,
        Outcome::Refuse {
            reason: RefuseReason::Conflict
        }
    );
    assert!(refused.state.conflict.is_some());
    let again = save(&a, refused.state, "alice's and bob's line\n", 21);
    assert_eq!(again.outcome, Outcome::Publish);
    assert!(again.state.conflict.is_none());
    assert!(b1.state.clock.le(&again.state.clock));
}

#[test]
fn only_the_source_can_hand_the_source_role_on() {
    let peer = config("a");
    let refused = announce_source_move(
        &peer,
        PageState::new(page()),
        &SiteId::new("b"),
        Timestamp(5),
    );
    assert_eq!(
        refused.outcome,
        Outcome::Refuse {
            reason: RefuseReason::NotSource
        }
    );
    assert!(
        !refused
            .actions
            .iter()
            .any(|a| matches!(a, Action::Publish { .. }))
    );

    let source = SiteConfig::new(SiteId::new("a")).rule("", Role::Source);
    let saved = save(&source, PageState::new(page()), "text\n", 10);
    let moved = announce_source_move(&source, saved.state, &SiteId::new("b"), Timestamp(20));
    assert_eq!(moved.outcome, Outcome::Follow);
    assert_eq!(published(&moved).source, Some(SiteId::new("b")));
}
