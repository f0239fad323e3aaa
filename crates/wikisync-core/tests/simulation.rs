//! Deterministic simulation: three peer sites (and a mirror scenario) behind a hub that
//! delays, reorders, duplicates and drops notifications; seeded random edits; time advanced
//! by hand. Failures print the seed; replay one with `WIKISYNC_SEED=<seed>`.
//!
//! Drops are failed delivery attempts that the hub retries later (the gateway's durable
//! outbox); at the end a catch-up fetch of every node's latest item is delivered too.

mod sim;

use std::collections::BTreeSet;

use sim::{Editor, Site, World};
use wikisync_core::entry::SiteId;
use wikisync_core::id::PageId;
use wikisync_core::sync::*;

const SEEDS: u64 = 300;
const STEPS: usize = 300;

fn page() -> PageId {
    PageId::clean("wiki:sim").expect("valid page id")
}

/// Three peers. Odd seeds run behind a gateway that reports each delivery's authenticated
/// publisher, with each site's peer set naming the other two; even seeds behind one that
/// reports none.
fn peers(seed: u64) -> World {
    let names = [
        "https://a.example/",
        "https://b.example/",
        "https://c.example/",
    ];
    let authenticated = seed % 2 == 1;
    let sites = names
        .iter()
        .map(|n| {
            let peers = names
                .iter()
                .filter(|other| *other != n && authenticated)
                .map(|other| SiteId::new(*other))
                .collect();
            let mut config = SiteConfig::new(SiteId::new(*n)).rule("wiki", Role::Peer { peers });
            config.lock_seconds = 120;
            Site::new(config, &page())
        })
        .collect();
    let mut world = World::new(sites, seed);
    world.report_publisher = authenticated;
    world
}

/// The state of one peer run, for the assertions.
struct Run {
    seed: u64,
    next_token: u64,
    saved: BTreeSet<String>,
    removed: BTreeSet<String>,
}

impl Run {
    fn token(&mut self) -> String {
        self.next_token += 1;
        format!("e{}-{}", self.seed, self.next_token)
    }
}

fn tokens_in(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace())
        .filter(|w| w.starts_with('e') && w.contains('-'))
}

/// An edit of `from`: insert a line with a fresh token, or replace a line with one.
fn edit(world: &mut World, run: &mut Run, from: &str) -> (String, Vec<String>) {
    let token = run.token();
    let mut lines: Vec<String> = from.lines().map(|l| format!("{l}\n")).collect();
    let mut gone = Vec::new();
    let at = usize::try_from(world.rng.below(lines.len() as u64 + 1)).unwrap_or(0);
    if at < lines.len() && world.rng.chance(30) {
        gone.extend(tokens_in(&lines[at]).map(str::to_owned));
        lines[at] = format!("{token} replaced\n");
    } else {
        lines.insert(at, format!("{token}\n"));
    }
    (lines.concat(), gone)
}

fn save(world: &mut World, run: &mut Run, at: usize, text: String, gone: Vec<String>) {
    let site = &world.sites[at];
    let edit = LocalEdit {
        change: Change::Text { text: text.clone() },
        author: Some(format!("user{at}")),
        summary: Some("sim".into()),
        minor: false,
        revision: u64::try_from(world.now).unwrap_or(0),
        title: None,
    };
    let decision = handle_local_save(&site.config, site.state.clone(), edit, world.ts());
    let outcome = decision.outcome.clone();
    let conflict_now = matches!(
        outcome,
        Outcome::Refuse {
            reason: RefuseReason::Conflict
        }
    );
    let published = outcome == Outcome::Publish;
    world.sites[at].text = if published {
        Some(text.clone())
    } else {
        world.sites[at].text.clone()
    };
    world.carry_out(at, decision);
    if published {
        run.saved.extend(tokens_in(&text).map(str::to_owned));
        run.removed.extend(gone);
    }
    if conflict_now {
        // The editor sees the conflict and resolves it by keeping both texts.
        let resolved = union(world.sites[at].text.as_deref().unwrap_or(""), &text);
        save(world, run, at, resolved, Vec::new());
    }
}

/// `mine` followed by the lines of `theirs` that `mine` lacks.
fn union(mine: &str, theirs: &str) -> String {
    let have: BTreeSet<&str> = mine.lines().collect();
    let mut out = mine.to_owned();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for line in theirs.lines().filter(|l| !have.contains(l)) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn resolve_conflict(world: &mut World, run: &mut Run, at: usize) {
    let Some(conflict) = world.sites[at].state.conflict.clone() else {
        return;
    };
    let mine = world.sites[at].text.clone().unwrap_or_default();
    let text = if world.rng.chance(50) {
        union(&mine, &conflict.text)
    } else {
        mine
    };
    save(world, run, at, text, Vec::new());
}

fn check_locks(world: &World, seed: u64) {
    let n = world.sites.len();
    for i in 0..n {
        for j in (i + 1)..n {
            let (
                LockState::AwaitingLocalSave { since: si, .. },
                LockState::AwaitingLocalSave { since: sj, .. },
            ) = (&world.sites[i].state.lock, &world.sites[j].state.lock)
            else {
                continue;
            };
            let i_saw_j = world
                .drafts_seen
                .contains(&(i, world.sites[j].id().clone(), sj.0, si.0));
            let j_saw_i = world
                .drafts_seen
                .contains(&(j, world.sites[i].id().clone(), si.0, sj.0));
            assert!(
                !(i_saw_j && j_saw_i),
                "seed {seed}: sites {i} and {j} both hold the lock after seeing each other's drafts"
            );
            if i_saw_j {
                assert!(
                    (si, world.sites[i].id()) < (sj, world.sites[j].id()),
                    "seed {seed}: site {i} kept a lock it lost"
                );
            }
            if j_saw_i {
                assert!(
                    (sj, world.sites[j].id()) < (si, world.sites[i].id()),
                    "seed {seed}: site {j} kept a lock it lost"
                );
            }
        }
    }
}

fn step(world: &mut World, run: &mut Run) {
    world.now += i64::try_from(world.rng.below(20)).unwrap_or(0);
    let at = usize::try_from(world.rng.below(world.sites.len() as u64)).unwrap_or(0);
    match world.rng.below(100) {
        0..=39 => world.deliver_some(),
        40..=51 => {
            let site = &world.sites[at];
            let user = format!("user{at}");
            let d = handle_editor_opened(&site.config, site.state.clone(), &user, world.ts());
            let locked = d.outcome == Outcome::Lock;
            let had_editor = world.sites[at].editor.is_some();
            world.carry_out(at, d);
            if locked && !had_editor {
                let started_from = world.sites[at].text.clone().unwrap_or_default();
                world.sites[at].editor = Some(Editor { user, started_from });
            }
        }
        52..=66 => {
            if let Some(editor) = world.sites[at].editor.take() {
                let (text, gone) = edit(world, run, &editor.started_from);
                world.sites[at].editor = Some(editor);
                save(world, run, at, text, gone);
                world.sites[at].editor = None;
            }
        }
        67..=71 => {
            if let Some(editor) = world.sites[at].editor.take() {
                let site = &world.sites[at];
                let d = handle_editor_closed(
                    &site.config,
                    site.state.clone(),
                    &editor.user,
                    world.ts(),
                );
                world.carry_out(at, d);
            }
        }
        72..=79 => {
            // A save without the editor lock (offline, bulk import): the slip-through case.
            if world.sites[at].editor.is_none() {
                let from = world.sites[at].text.clone().unwrap_or_default();
                let (text, gone) = edit(world, run, &from);
                save(world, run, at, text, gone);
            }
        }
        80..=87 => resolve_conflict(world, run, at),
        _ => {
            let site = &world.sites[at];
            let d = handle_tick(&site.config, site.state.clone(), world.ts());
            world.carry_out(at, d);
        }
    }
}

fn quiesce(world: &mut World, run: &mut Run) {
    for at in 0..world.sites.len() {
        if let Some(editor) = world.sites[at].editor.take() {
            let site = &world.sites[at];
            let d =
                handle_editor_closed(&site.config, site.state.clone(), &editor.user, world.ts());
            world.carry_out(at, d);
        }
    }
    for _round in 0..50 {
        world.drain();
        world.now += 10_000;
        for at in 0..world.sites.len() {
            let site = &world.sites[at];
            let d = handle_tick(&site.config, site.state.clone(), world.ts());
            world.carry_out(at, d);
        }
        world.catch_up();
        match (0..world.sites.len()).find(|&i| world.sites[i].state.conflict.is_some()) {
            Some(at) => resolve_conflict(world, run, at),
            None => {
                if world.queue.is_empty() {
                    return;
                }
            }
        }
    }
    panic!("seed {}: no quiescence after 50 rounds", run.seed);
}

fn run_peers(seed: u64) {
    let mut world = peers(seed);
    let mut run = Run {
        seed,
        next_token: 0,
        saved: BTreeSet::new(),
        removed: BTreeSet::new(),
    };
    for _ in 0..STEPS {
        step(&mut world, &mut run);
        check_locks(&world, seed);
    }
    quiesce(&mut world, &mut run);
    let first = world.sites[0].text.clone();
    for (i, site) in world.sites.iter().enumerate() {
        assert_eq!(site.text, first, "seed {seed}: site {i} text differs");
        assert_eq!(
            site.state.text, site.text,
            "seed {seed}: site {i} state text differs from page"
        );
        assert_eq!(
            site.state.clock, world.sites[0].state.clock,
            "seed {seed}: site {i} clock differs"
        );
        assert!(
            site.state.conflict.is_none(),
            "seed {seed}: site {i} has a conflict left"
        );
    }
    let final_text = first.unwrap_or_default();
    let present: BTreeSet<&str> = tokens_in(&final_text).collect();
    for token in run.saved.difference(&run.removed) {
        let reported = world
            .reported
            .iter()
            .any(|t| tokens_in(t).any(|x| x == token));
        assert!(
            present.contains(token.as_str()) || reported,
            "seed {seed}: edit {token} lost without a reported conflict"
        );
    }
    assert!(!run.saved.is_empty(), "seed {seed}: the run saved nothing");
}

#[test]
fn three_peers_converge_without_losing_edits() {
    if let Some(seed) = std::env::var("WIKISYNC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        run_peers(seed);
        return;
    }
    for seed in 0..SEEDS {
        run_peers(seed);
    }
}

fn mirror_world(seed: u64) -> World {
    let s = SiteId::new("https://source.example/");
    let keep = SiteConfig::new(SiteId::new("https://keep.example/")).rule(
        "wiki",
        Role::Mirror {
            source: s.clone(),
            when_gone: GonePolicy::Keep,
        },
    );
    let delete = SiteConfig::new(SiteId::new("https://delete.example/")).rule(
        "wiki",
        Role::Mirror {
            source: s.clone(),
            when_gone: GonePolicy::Delete,
        },
    );
    let source = SiteConfig::new(s).rule("wiki", Role::Source);
    let mut world = World::new(
        vec![
            Site::new(source, &page()),
            Site::new(keep, &page()),
            Site::new(delete, &page()),
        ],
        seed,
    );
    // Odd seeds: a gateway that reports each delivery's authenticated publisher.
    world.report_publisher = seed % 2 == 1;
    world
}

fn source_save(world: &mut World, at: usize, change: Change) -> Outcome {
    let site = &world.sites[at];
    let edit = LocalEdit {
        change: change.clone(),
        author: Some("editor".into()),
        summary: None,
        minor: false,
        revision: u64::try_from(world.now).unwrap_or(0),
        title: None,
    };
    let d = handle_local_save(&site.config, site.state.clone(), edit, world.ts());
    let outcome = d.outcome.clone();
    if outcome == Outcome::Publish {
        world.sites[at].text = match change {
            Change::Text { text } => Some(text),
            Change::Deleted => None,
        };
    }
    world.carry_out(at, d);
    outcome
}

fn run_mirrors(seed: u64) {
    let mut world = mirror_world(seed);
    let mut n = 0;
    for _ in 0..60 {
        world.now += 7;
        match world.rng.below(10) {
            0..=4 => world.deliver_some(),
            5..=7 => {
                n += 1;
                let text = format!("version {n}\n");
                assert_eq!(
                    source_save(&mut world, 0, Change::Text { text }),
                    Outcome::Publish
                );
            }
            8 => {
                assert_eq!(
                    source_save(&mut world, 0, Change::Deleted),
                    Outcome::Publish
                );
            }
            _ => {
                let at = 1 + usize::try_from(world.rng.below(2)).unwrap_or(0);
                let outcome = source_save(
                    &mut world,
                    at,
                    Change::Text {
                        text: "mine\n".into(),
                    },
                );
                assert_eq!(
                    outcome,
                    Outcome::Refuse {
                        reason: RefuseReason::Mirror
                    },
                    "seed {seed}: a mirror accepted a local edit"
                );
            }
        }
    }
    world.drain();
    for at in 1..3 {
        assert_eq!(
            world.sites[at].text, world.sites[0].text,
            "seed {seed}: mirror {at} differs from the source"
        );
    }

    // The source moves to the keep-mirror: the old source announces it, the new one edits.
    let new_source = world.sites[1].id().clone();
    let site = &world.sites[0];
    let d = announce_source_move(&site.config, site.state.clone(), &new_source, world.ts());
    world.carry_out(0, d);
    world.sites[1].config = SiteConfig::new(new_source.clone()).rule("wiki", Role::Source);
    world.drain();
    assert_eq!(
        world.sites[2].state.followed_source.as_ref(),
        Some(&new_source),
        "seed {seed}: the mirror did not follow the move"
    );
    world.now += 10;
    assert_eq!(
        source_save(
            &mut world,
            1,
            Change::Text {
                text: "after the move\n".into()
            }
        ),
        Outcome::Publish
    );
    world.drain();
    assert_eq!(
        world.sites[2].text.as_deref(),
        Some("after the move\n"),
        "seed {seed}"
    );
    // Entries from the old source are no longer applied.
    let site = &world.sites[0];
    let stray = handle_notification(
        &world.sites[2].config,
        world.sites[2].state.clone(),
        world.sites[2].text.as_deref(),
        site.published.last().expect("the old source published"),
        None,
        world.ts(),
    );
    assert!(matches!(
        stray.outcome,
        Outcome::Ignore {
            reason: IgnoreReason::NotFromSource
        }
    ));
    // With publishers authenticated: the old source is refused as a publisher too, and the new
    // source cannot pass the old source's entry off as its own delivery.
    let mirror = &world.sites[2];
    let old = site.published.last().expect("the old source published");
    let from_old = handle_notification(
        &mirror.config,
        mirror.state.clone(),
        mirror.text.as_deref(),
        old,
        Some(&site.config.site),
        world.ts(),
    );
    assert_eq!(
        from_old.outcome,
        Outcome::Ignore {
            reason: IgnoreReason::NotFromSource
        },
        "seed {seed}"
    );
    let relayed = handle_notification(
        &mirror.config,
        mirror.state.clone(),
        mirror.text.as_deref(),
        old,
        Some(&world.sites[1].config.site),
        world.ts(),
    );
    assert_eq!(
        relayed.outcome,
        Outcome::Ignore {
            reason: IgnoreReason::WrongPublisher
        },
        "seed {seed}"
    );

    // The new source goes away: the delete-mirror deletes, a keep-mirror would keep.
    let site = &world.sites[2];
    let d = handle_source_gone(&site.config, site.state.clone(), None, world.ts());
    assert_eq!(d.outcome, Outcome::Delete, "seed {seed}");
    world.carry_out(2, d);
    assert_eq!(world.sites[2].text, None);
    let mut keeper = mirror_world(seed).sites.swap_remove(1);
    keeper.state = world.sites[2].state.clone();
    keeper.state.source_gone = None;
    keeper.state.text = Some("kept\n".into());
    let d = handle_source_gone(&keeper.config, keeper.state.clone(), None, world.ts());
    assert_eq!(d.outcome, Outcome::Keep);
    assert_eq!(d.state.text.as_deref(), Some("kept\n"));
    // A redirect instead makes the mirror follow.
    let d = handle_source_gone(
        &keeper.config,
        keeper.state,
        Some(SiteId::new("https://new.example/")),
        world.ts(),
    );
    assert_eq!(d.outcome, Outcome::Follow);
}

#[test]
fn mirrors_follow_their_source_through_deletes_moves_and_loss() {
    for seed in 0..50 {
        run_mirrors(seed);
    }
}
