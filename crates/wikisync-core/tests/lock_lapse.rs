//! Lock renewal and lapse between two peers, with time advanced by hand: an editor that keeps
//! refreshing holds the page at the other site however long it types, even when its drafts
//! arrive late; one that stops holds it until its last lock lapses, not a second longer.
//! (The end-to-end test only checks the same on real sites with a short lock.)

use wikisync_core::entry::{Entry, SiteId};
use wikisync_core::id::PageId;
use wikisync_core::sync::*;
use wikisync_core::time::Timestamp;

const LOCK: u32 = 900;

fn peer(site: &str) -> SiteConfig {
    let mut config = SiteConfig::new(SiteId::new(site)).rule("", Role::peer());
    config.lock_seconds = LOCK;
    config
}

fn page() -> PageId {
    PageId::clean("wiki:start").expect("a valid id")
}

/// The drafts a decision publishes.
fn drafts(d: &Decision) -> Vec<Entry> {
    d.actions
        .iter()
        .filter_map(|a| match a {
            Action::Publish { entry } => Some(entry.clone()),
            _ => None,
        })
        .collect()
}

/// `entry` arrives at a site (no local text: the page's text plays no part in locks), its
/// publisher authenticated as the site that made it.
fn receive(config: &SiteConfig, state: PageState, entry: Entry, now: i64) -> Decision {
    let publisher = Some(entry.revision.site.clone());
    let input = Input::Notification {
        local_text: None,
        entry: Box::new(entry),
        namespace: None,
        publisher,
    };
    handle(config, state, input, Timestamp(now))
}

fn remote_expiry(state: &PageState) -> Option<i64> {
    match &state.lock {
        LockState::AwaitingRemoteSave { expires, .. } => Some(expires.0),
        _ => None,
    }
}

#[test]
fn a_refreshing_editor_holds_the_page_elsewhere_and_a_silent_one_lapses_on_time() {
    let (a, b) = (peer("https://a.example/"), peer("https://b.example/"));
    let mut at_a = PageState::new(page());
    let mut at_b = PageState::new(page());
    // Drafts reach B 30 s after they are published (a slow gateway).
    let delay = 30;
    let mut in_flight: Vec<(i64, Entry)> = Vec::new();
    let mut renewed_at: Vec<i64> = Vec::new();

    // alice types for an hour; DokuWiki's editor refreshes her lock every 60 s
    let start = 100;
    let stop = start + 3600;
    let mut t = start;
    while t <= stop {
        let d = handle(
            &a,
            at_a,
            Input::EditorOpened {
                editor: "alice".into(),
            },
            Timestamp(t),
        );
        match d.outcome {
            Outcome::Lock => renewed_at.push(t),
            Outcome::Ignore {
                reason: IgnoreReason::RenewalNotDue,
            } => {}
            other => panic!("t={t}: alice's refresh gave {other:?}"),
        }
        in_flight.extend(drafts(&d).into_iter().map(|e| (t + delay, e)));
        at_a = d.state;
        // every second up to the next refresh: deliver what is due at B, let time pass there
        for now in t..t + 60 {
            let due: Vec<Entry> = in_flight
                .iter()
                .filter(|(when, _)| *when == now)
                .map(|(_, e)| e.clone())
                .collect();
            for entry in due {
                at_b = receive(&b, at_b, entry, now).state;
            }
            let d = handle(&b, at_b, Input::Tick, Timestamp(now));
            if now >= start + delay {
                assert_eq!(
                    d.outcome,
                    Outcome::Ignore {
                        reason: IgnoreReason::NothingExpired
                    },
                    "t={now}: B's lock lapsed while alice was still typing"
                );
            }
            at_b = d.state;
        }
        t += 60;
    }
    // a renewal at the first refresh once half of the lock has passed, not at every refresh
    let half = i64::from(LOCK / 2);
    assert!(renewed_at.len() > 5, "drafts at {renewed_at:?}");
    for gap in renewed_at.windows(2).map(|w| w[1] - w[0]) {
        assert!((half..half + 60).contains(&gap), "drafts at {renewed_at:?}");
    }

    // alice stops (her browser is gone: no cancel); B holds the page until the last expiry
    let last = remote_expiry(&at_b).expect("B holds the page for alice");
    for entry in in_flight
        .iter()
        .filter(|(when, _)| *when > stop)
        .map(|(_, e)| e.clone())
    {
        at_b = receive(&b, at_b, entry, stop + delay).state;
    }
    let last = remote_expiry(&at_b).unwrap_or(last);
    let before = handle(&b, at_b.clone(), Input::Tick, Timestamp(last - 1));
    assert_eq!(
        before.outcome,
        Outcome::Ignore {
            reason: IgnoreReason::NothingExpired
        }
    );
    let bob_early = handle(
        &b,
        at_b.clone(),
        Input::EditorOpened {
            editor: "bob".into(),
        },
        Timestamp(last - 1),
    );
    assert_eq!(
        bob_early.outcome,
        Outcome::Refuse {
            reason: RefuseReason::RemotelyLocked
        }
    );
    let lapsed = handle(&b, at_b, Input::Tick, Timestamp(last));
    assert_eq!(lapsed.outcome, Outcome::Unlock);
    assert_eq!(
        lapsed.actions,
        vec![Action::UnlockPage {
            site: SiteId::new("https://a.example/"),
            editor: Some("alice".into())
        }]
    );

    // bob edits at B now; his draft locks the page at A, where alice's lapsed editor is refused
    let bob = handle(
        &b,
        lapsed.state,
        Input::EditorOpened {
            editor: "bob".into(),
        },
        Timestamp(last + 1),
    );
    assert_eq!(bob.outcome, Outcome::Lock);
    let draft = drafts(&bob).pop().expect("bob's draft");
    let at_a = receive(&a, at_a, draft, last + 2);
    assert_eq!(at_a.outcome, Outcome::Lock);
    let late = handle(
        &a,
        at_a.state,
        Input::EditorOpened {
            editor: "alice".into(),
        },
        Timestamp(last + 3),
    );
    assert_eq!(
        late.outcome,
        Outcome::Refuse {
            reason: RefuseReason::RemotelyLocked
        }
    );
}
