//! Test harness for the deterministic simulation: sites running the sync engine, a hub that
//! delays, reorders, duplicates and drops (then redelivers) notifications, and a PRNG.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeSet;

use wikisync_core::entry::{Entry, EntryKind, SiteId};
use wikisync_core::id::PageId;
use wikisync_core::sync::*;
use wikisync_core::time::Timestamp;

/// splitmix64: tiny, seedable, good enough for test schedules.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// An open editor at a site: the text it started from.
pub struct Editor {
    pub user: String,
    pub started_from: String,
}

/// One simulated wiki.
pub struct Site {
    pub config: SiteConfig,
    pub state: PageState,
    /// The host's page text (`None`: no page).
    pub text: Option<String>,
    pub editor: Option<Editor>,
    /// Every entry this site published, in order.
    pub published: Vec<Entry>,
}

impl Site {
    pub fn new(config: SiteConfig, page: &PageId) -> Site {
        Site {
            config,
            state: PageState::new(page.clone()),
            text: None,
            editor: None,
            published: Vec::new(),
        }
    }
    pub fn id(&self) -> &SiteId {
        &self.config.site
    }
}

/// A notification on its way.
pub struct Message {
    pub to: usize,
    pub entry: Entry,
    /// The site that published it, as a gateway with site credentials authenticates it.
    pub publisher: SiteId,
    pub due: i64,
    /// Failed delivery attempts so far (a drop is a failed attempt, retried later).
    pub attempts: u32,
}

/// The hub and the sites.
pub struct World {
    pub sites: Vec<Site>,
    pub queue: Vec<Message>,
    pub now: i64,
    pub rng: Rng,
    /// Texts of every conflict any site reported (remote text and region sides).
    pub reported: Vec<String>,
    /// (receiver, sender, sender's session start, receiver's session start) of every
    /// unexpired draft delivered while the receiver's own editor held the page.
    pub drafts_seen: BTreeSet<(usize, SiteId, i64, i64)>,
    /// Percent chances of the hub's misbehaviour.
    pub duplicate_percent: u64,
    pub drop_percent: u64,
    pub max_delay: i64,
    pub echo_percent: u64,
    /// Whether deliveries carry their authenticated publisher (a gateway with site
    /// credentials) or none (an open gateway).
    pub report_publisher: bool,
}

impl World {
    pub fn new(sites: Vec<Site>, seed: u64) -> World {
        World {
            sites,
            queue: Vec::new(),
            now: 1_000_000,
            rng: Rng::new(seed),
            reported: Vec::new(),
            drafts_seen: BTreeSet::new(),
            duplicate_percent: 10,
            drop_percent: 10,
            max_delay: 60,
            echo_percent: 10,
            report_publisher: false,
        }
    }

    pub fn ts(&self) -> Timestamp {
        Timestamp(self.now)
    }

    fn enqueue(&mut self, from: usize, to: usize, entry: Entry) {
        let delay = i64::try_from(self.rng.below(self.max_delay.unsigned_abs() + 1)).unwrap_or(0);
        let publisher = self.sites[from].config.site.clone();
        self.queue.push(Message {
            to,
            entry,
            publisher,
            due: self.now + delay,
            attempts: 0,
        });
    }

    /// Publishes `entry` from site `from` to every other site (and sometimes echoes it).
    pub fn publish(&mut self, from: usize, entry: Entry) {
        self.sites[from].published.push(entry.clone());
        for to in 0..self.sites.len() {
            if to == from && !self.rng.chance(self.echo_percent) {
                continue;
            }
            self.enqueue(from, to, entry.clone());
            if self.rng.chance(self.duplicate_percent) {
                self.enqueue(from, to, entry.clone());
            }
        }
    }

    /// Carries out a decision's actions at site `at` and stores its state.
    pub fn carry_out(&mut self, at: usize, decision: Decision) {
        if std::env::var_os("WIKISYNC_TRACE").is_some() {
            eprintln!(
                "t={} site={at} {:?} clock={:?} head={:?} actions={:?}",
                self.now,
                decision.outcome,
                decision.state.clock,
                decision.state.head,
                decision.actions
            );
        }
        self.sites[at].state = decision.state;
        for action in decision.actions {
            match action {
                Action::Publish { entry } => self.publish(at, entry),
                Action::WritePage { text, .. } => self.sites[at].text = Some(text),
                Action::DeletePage { .. } => self.sites[at].text = None,
                Action::RecordConflict { conflict } => {
                    self.reported.push(conflict.text.clone());
                    for region in &conflict.regions {
                        if let wikisync_core::merge::Region::Conflict(c) = region {
                            self.reported.push(c.ours.clone());
                            self.reported.push(c.theirs.clone());
                        }
                    }
                }
                Action::LockPage { .. }
                | Action::UnlockPage { .. }
                | Action::ShowNotice { .. }
                | Action::ClearConflict
                | Action::RefuseLocalEdit { .. } => {}
                // Only answers to `resolveConflict` and media, which the simulation never sends.
                Action::SaveResolution { .. }
                | Action::OpenEditor { .. }
                | Action::WriteMedia { .. }
                | Action::DeleteMedia { .. } => {
                    unreachable!("no conflict choice or media file is simulated")
                }
            }
        }
        // An editor whose lock is gone (lost the tie-break, or expired) is closed by the host.
        let site = &mut self.sites[at];
        if site.editor.is_some() && !matches!(site.state.lock, LockState::AwaitingLocalSave { .. })
        {
            site.editor = None;
        }
    }

    /// Delivers message `index` (or fails the attempt and schedules a retry).
    pub fn deliver(&mut self, index: usize, allow_drop: bool) {
        let mut msg = self.queue.swap_remove(index);
        if allow_drop && self.rng.chance(self.drop_percent) {
            msg.attempts += 1;
            msg.due = self.now + 5 * i64::from(msg.attempts);
            self.queue.push(msg);
            return;
        }
        let to = msg.to;
        if let (
            EntryKind::Draft {
                conflict_with: None,
                lock_expires,
            },
            LockState::AwaitingLocalSave { since, .. },
        ) = (&msg.entry.kind, &self.sites[to].state.lock)
            && lock_expires.0 > self.now
        {
            self.drafts_seen.insert((
                to,
                msg.entry.revision.site.clone(),
                msg.entry.updated.0,
                since.0,
            ));
        }
        let site = &self.sites[to];
        let decision = handle_notification(
            &site.config,
            site.state.clone(),
            site.text.as_deref(),
            &msg.entry,
            self.report_publisher.then_some(&msg.publisher),
            self.ts(),
        );
        // Every site here publishes only its own entries: none is refused for its publisher.
        assert!(
            !matches!(
                decision.outcome,
                Outcome::Ignore {
                    reason: IgnoreReason::WrongPublisher | IgnoreReason::NotFromPeer
                }
            ),
            "an honest publisher was refused: {:?}",
            decision.outcome
        );
        self.carry_out(to, decision);
    }

    /// Delivers one message that is due (or, to reorder, sometimes any message).
    pub fn deliver_some(&mut self) {
        if self.queue.is_empty() {
            return;
        }
        let due: Vec<usize> = (0..self.queue.len())
            .filter(|&i| self.queue[i].due <= self.now)
            .collect();
        let index = if !due.is_empty() {
            due[usize::try_from(self.rng.below(due.len() as u64)).unwrap_or(0)]
        } else if self.rng.chance(20) {
            usize::try_from(self.rng.below(self.queue.len() as u64)).unwrap_or(0)
        } else {
            return;
        };
        self.deliver(index, true);
    }

    /// Delivers everything still queued, in random order, without drops.
    pub fn drain(&mut self) {
        while !self.queue.is_empty() {
            let i = usize::try_from(self.rng.below(self.queue.len() as u64)).unwrap_or(0);
            self.deliver(i, false);
        }
    }

    /// The catch-up fetch: every site's latest published revision, delivered to all others
    /// (what a subscriber gets from `GET /items` of the node).
    pub fn catch_up(&mut self) {
        for from in 0..self.sites.len() {
            let latest = self.sites[from]
                .published
                .iter()
                .rev()
                .find(|e| matches!(e.kind, EntryKind::Page { .. } | EntryKind::Deleted { .. }))
                .cloned();
            if let Some(entry) = latest {
                for to in 0..self.sites.len() {
                    if to != from {
                        self.queue.push(Message {
                            to,
                            entry: entry.clone(),
                            publisher: self.sites[from].config.site.clone(),
                            due: self.now,
                            attempts: 0,
                        });
                    }
                }
            }
        }
        self.drain();
    }
}
