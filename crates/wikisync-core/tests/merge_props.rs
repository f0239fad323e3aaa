//! Property tests of the merge engine.

use proptest::prelude::*;
use wikisync_core::merge::{Merge, MergeOptions, Region, Resolution, merge3};

fn options(words: bool) -> MergeOptions {
    MergeOptions::default().with_words(words)
}

/// Small texts over a small alphabet of lines, so that edits collide often.
fn text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop::sample::select(vec!["a\n", "b\n", "c\n", "x y\n", "\n"]),
            0..8,
        ),
        any::<bool>(),
    )
        .prop_map(|(lines, final_newline)| {
            let mut s = lines.concat();
            if !final_newline {
                s.pop();
            }
            s
        })
}

/// A paragraph line made of words over a small vocabulary.
fn paragraph() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["the", "cat", "sat", "mat", "dog", ".", ",", "é", "東"]),
        0..12,
    )
    .prop_map(|w| w.join(" ") + "\n")
}

/// A base paragraph of distinct words, and two sides made from it by deleting some of its
/// words (ours only even-numbered ones, theirs only odd-numbered ones, so that no change is
/// made by both) and inserting words of their own (`o…` for ours, `t…` for theirs).
fn edited_paragraphs() -> impl Strategy<Value = (String, String, String)> {
    let vocab = vec![
        "the", "cat", "sat", "mat", "dog", "é", "東", "on", "a", "rug",
    ];
    (
        Just(vocab).prop_shuffle(),
        0..10usize,
        prop::collection::vec((any::<bool>(), 0..3u8), 10),
        prop::collection::vec((any::<bool>(), 0..3u8), 10),
    )
        .prop_map(|(words, len, ours_edits, theirs_edits)| {
            let base: Vec<&str> = words.into_iter().take(len).collect();
            let edit = |edits: &[(bool, u8)], tag: &str, deletable: usize| {
                let mut out = Vec::new();
                for (i, w) in base.iter().enumerate() {
                    let (keep, insert) = edits[i];
                    let keep = keep || i % 2 != deletable;
                    for k in 0..insert {
                        out.push(format!("{tag}{i}{k}"));
                    }
                    if keep {
                        out.push((*w).to_owned());
                    }
                }
                out.join(" ") + "\n"
            };
            (
                base.join(" ") + "\n",
                edit(&ours_edits, "o", 0),
                edit(&theirs_edits, "t", 1),
            )
        })
}

fn resolved_only_by(merge: &Merge, allowed: &[Resolution]) -> bool {
    merge.regions.iter().all(|r| match r {
        Region::Resolved { resolution, .. } => allowed.contains(resolution),
        Region::Conflict(_) => false,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// (a) When one side did not change anything, the result is the other side.
    #[test]
    fn one_side_unchanged_gives_the_other(base in text(), other in text(), words in any::<bool>()) {
        let m = merge3(&base, &base, &other, &options(words));
        prop_assert_eq!(m.clean_text(), Some(other.clone()));
        let m = merge3(&base, &other, &base, &options(words));
        prop_assert_eq!(m.clean_text(), Some(other.clone()));
    }

    /// (b) Identical changes on both sides merge to that change.
    #[test]
    fn identical_sides_merge_to_themselves(base in text(), x in text(), words in any::<bool>()) {
        let m = merge3(&base, &x, &x, &options(words));
        prop_assert_eq!(m.clean_text(), Some(x.clone()));
        prop_assert!(resolved_only_by(&m, &[Resolution::Unchanged, Resolution::Both]));
    }

    /// (c) Where the line merge is clean, the word pass gives the same text (its regions may
    /// be cut differently: it runs before conflicts are shrunk to the lines that differ).
    #[test]
    fn word_pass_keeps_line_clean_results(base in text(), ours in text(), theirs in text()) {
        let lines = merge3(&base, &ours, &theirs, &options(false));
        if lines.is_clean() {
            let words = merge3(&base, &ours, &theirs, &options(true));
            prop_assert_eq!(words.clean_text(), lines.clean_text());
        }
    }

    /// The word pass never adds conflicts, and the regions always rebuild the rendered text.
    #[test]
    fn word_pass_only_removes_conflicts(base in paragraph(), ours in paragraph(), theirs in paragraph()) {
        let lines = merge3(&base, &ours, &theirs, &options(false));
        let words = merge3(&base, &ours, &theirs, &options(true));
        prop_assert!(words.conflict_count() <= lines.conflict_count());
        if lines.is_clean() {
            prop_assert_eq!(words.clean_text(), lines.clean_text());
        }
    }

    /// (e) Nothing silently dropped: when the word pass merges, taking theirs' change back out
    /// of the result (a merge with base and theirs swapped) gives ours, and vice versa, whenever
    /// that reverse merge is clean; and one side's unchanged text never hides the other's edit.
    /// The sides are edits of a base whose words are all distinct (deletions, and insertions of
    /// words of their own): with repeated words a diff can align several ways, and a merge that
    /// is right under one alignment need not reverse under another (e.g. base `sat cat cat`,
    /// ours `cat cat`, theirs `cat sat` merges to `cat sat`, theirs having also dropped the first
    /// `sat`).
    #[test]
    fn word_merge_keeps_both_sides((base, ours, theirs) in edited_paragraphs()) {
        let m = merge3(&base, &ours, &theirs, &options(true));
        if let Some(result) = m.clean_text() {
            if result != ours {
                let back = merge3(&theirs, &result, &base, &options(true));
                if let Some(back) = back.clean_text() {
                    prop_assert_eq!(back, ours.clone());
                }
            }
            if result != theirs {
                let back = merge3(&ours, &result, &base, &options(true));
                if let Some(back) = back.clean_text() {
                    prop_assert_eq!(back, theirs.clone());
                }
            }
            if ours != base && theirs == base {
                prop_assert_eq!(&result, &ours);
            }
        }
    }

    /// (d) Two people editing different sentences of one paragraph merge cleanly, and the result
    /// is exactly the base with both edits.
    #[test]
    fn different_sentences_of_one_paragraph_merge(
        sentences in prop::collection::vec(
            prop::collection::vec(prop::sample::select(vec!["alpha", "beta", "gamma", "délta", "ε", "東京"]), 2..6),
            3..8,
        ),
        pick in any::<(prop::sample::Index, prop::sample::Index, prop::sample::Index, prop::sample::Index)>(),
    ) {
        let n = sentences.len();
        let i = pick.0.index(n);
        // A different sentence, never the same one.
        let j = (i + 1 + pick.1.index(n - 1)) % n;
        let render = |edit: &dyn Fn(usize, &[&str]) -> String| -> String {
            let parts: Vec<String> = sentences.iter().enumerate().map(|(k, s)| edit(k, s)).collect();
            format!("{}\n", parts.join(" "))
        };
        let plain = |_: usize, s: &[&str]| format!("{}.", s.join(" "));
        let wi = pick.2.index(sentences[i].len());
        let wj = pick.3.index(sentences[j].len());
        let ours_edit = |k: usize, s: &[&str]| {
            let mut s: Vec<String> = s.iter().map(|w| w.to_string()).collect();
            if k == i { s[wi] = "OURS".into(); }
            format!("{}.", s.join(" "))
        };
        let theirs_edit = |k: usize, s: &[&str]| {
            let mut s: Vec<String> = s.iter().map(|w| w.to_string()).collect();
            if k == j { s[wj] = "THEIRS".into(); }
            format!("{}.", s.join(" "))
        };
        let both_edit = |k: usize, s: &[&str]| {
            let mut s: Vec<String> = s.iter().map(|w| w.to_string()).collect();
            if k == i { s[wi] = "OURS".into(); }
            if k == j { s[wj] = "THEIRS".into(); }
            format!("{}.", s.join(" "))
        };
        let base = render(&plain);
        let ours = render(&ours_edit);
        let theirs = render(&theirs_edit);
        let expected = render(&both_edit);
        let m = merge3(&base, &ours, &theirs, &options(true));
        prop_assert_eq!(m.clean_text(), Some(expected));
        let by_words = m
            .regions
            .iter()
            .any(|r| matches!(r, Region::Resolved { resolution: Resolution::Words, .. }));
        prop_assert!(by_words, "resolved by the word pass");
        // git's line merge conflicts on the same input.
        prop_assert_eq!(merge3(&base, &ours, &theirs, &options(false)).conflict_count(), 1);
    }
}
