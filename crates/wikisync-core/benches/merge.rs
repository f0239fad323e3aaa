//! Merge benchmarks: the TARGETS.md case (a ~1.3 MB page of 12,000 lines with 200 + 200
//! scattered edits on the two sides) and a same-paragraph word-level merge.
//!
//! Run briefly: `cargo bench -p wikisync-core --bench merge -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use wikisync_core::merge::{MergeOptions, merge3};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: &[&str] = &[
    "wiki",
    "page",
    "sync",
    "mirror",
    "source",
    "edit",
    "draft",
    "lock",
    "merge",
    "conflict",
    "namespace",
    "revision",
    "author",
    "summary",
    "entry",
    "atom",
    "node",
    "publish",
    "site",
];

fn line(rng: &mut Rng, i: usize) -> String {
    let mut s = format!("Line {i}:");
    while s.len() < 100 {
        s.push(' ');
        s.push_str(WORDS[rng.below(WORDS.len())]);
    }
    s.push('\n');
    s
}

/// Base, ours and theirs: 12,000 lines; ours edits 200 lines at positions 0 mod 4, theirs
/// 200 at 2 mod 4, so the merge is clean.
fn big_page() -> (String, String, String) {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let base: Vec<String> = (0..12_000).map(|i| line(&mut rng, i)).collect();
    let mut ours = base.clone();
    let mut theirs = base.clone();
    for _ in 0..200 {
        let i = rng.below(3_000) * 4;
        ours[i] = line(&mut rng, i).replace("Line", "Ours");
        let j = rng.below(3_000) * 4 + 2;
        theirs[j] = line(&mut rng, j).replace("Line", "Theirs");
    }
    (base.concat(), ours.concat(), theirs.concat())
}

/// One long paragraph line of 40 sentences; ours edits sentence 5, theirs sentence 30.
fn paragraph() -> (String, String, String) {
    let mut rng = Rng(0x5EED_0000_0000_0002);
    let sentences: Vec<String> = (0..40)
        .map(|_| {
            let words: Vec<&str> = (0..8).map(|_| WORDS[rng.below(WORDS.len())]).collect();
            format!("{}.", words.join(" "))
        })
        .collect();
    let with = |k: usize, s: &str| {
        let mut v = sentences.clone();
        v[k] = s.to_owned();
        format!("== Section ==\n{}\n", v.join(" "))
    };
    let base = format!("== Section ==\n{}\n", sentences.join(" "));
    (
        base,
        with(5, "Ours rewrote this sentence."),
        with(30, "Theirs rewrote that one."),
    )
}

fn bench(c: &mut Criterion) {
    let (base, ours, theirs) = big_page();
    assert!(merge3(&base, &ours, &theirs, &MergeOptions::default()).is_clean());
    c.bench_function("merge3 1.3 MB page, 200+200 edits", |b| {
        b.iter(|| merge3(black_box(&base), &ours, &theirs, &MergeOptions::default()))
    });
    let (base, ours, theirs) = paragraph();
    assert!(merge3(&base, &ours, &theirs, &MergeOptions::default()).is_clean());
    c.bench_function("merge3 same-paragraph word merge", |b| {
        b.iter(|| merge3(black_box(&base), &ours, &theirs, &MergeOptions::default()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
