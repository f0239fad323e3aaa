//! Three-way merge with `git merge-file` semantics, plus a word-level pass inside conflicting
//! regions.
//!
//! PLACEHOLDER: line-level only. The public API below is the contract; the implementation is
//! being replaced by the full engine (word pass, rendering options, exact git parity).

use serde::{Deserialize, Serialize};
use similar::{MergeResolution, TextMerge};

/// How to merge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeOptions {
    /// Run the word-level pass inside line conflicts (default `true`).
    pub words: bool,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions { words: true }
    }
}

/// How a region of the result was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Resolution {
    /// Neither side changed it.
    Unchanged,
    /// Only ours changed it.
    Ours,
    /// Only theirs changed it.
    Theirs,
    /// Both made the same change.
    Both,
    /// Both changed it, differently, and the word-level pass combined the two.
    Words,
}

/// One region of a merge result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Region {
    /// Text that merged cleanly.
    Resolved {
        /// The merged text of this region.
        text: String,
        /// How it was decided.
        resolution: Resolution,
    },
    /// Both sides changed this region incompatibly.
    Conflict(Conflict),
}

/// A conflicting region: the three versions of it, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The region in the common ancestor.
    pub base: String,
    /// The region in ours.
    pub ours: String,
    /// The region in theirs.
    pub theirs: String,
}

/// The result of [`merge3`]: regions in order; their concatenation (with conflicts rendered)
/// is the merged text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merge {
    /// The regions, in document order.
    pub regions: Vec<Region>,
}

/// Labels, marker size and style for rendering conflicts as git-style markers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Markers {
    /// Label after `<<<<<<<`.
    pub ours: String,
    /// Label after `|||||||` (diff3 style only).
    pub base: String,
    /// Label after `>>>>>>>`.
    pub theirs: String,
    /// Include the base section (`git merge-file --diff3`).
    pub diff3: bool,
    /// Marker length (git's default 7).
    pub size: usize,
}

impl Default for Markers {
    fn default() -> Self {
        Markers {
            ours: "ours".into(),
            base: "base".into(),
            theirs: "theirs".into(),
            diff3: false,
            size: 7,
        }
    }
}

impl Merge {
    /// How many conflicting regions there are.
    pub fn conflict_count(&self) -> usize {
        self.regions
            .iter()
            .filter(|r| matches!(r, Region::Conflict(_)))
            .count()
    }

    /// Whether the merge is free of conflicts.
    pub fn is_clean(&self) -> bool {
        self.conflict_count() == 0
    }

    /// The merged text when there is no conflict.
    pub fn clean_text(&self) -> Option<String> {
        self.is_clean().then(|| self.render(&Markers::default()))
    }

    /// The merged text with conflicts rendered as markers.
    pub fn render(&self, markers: &Markers) -> String {
        let mut out = String::new();
        for region in &self.regions {
            match region {
                Region::Resolved { text, .. } => out.push_str(text),
                Region::Conflict(c) => {
                    let m = |ch: char| ch.to_string().repeat(markers.size);
                    out.push_str(&format!("{} {}\n{}", m('<'), markers.ours, c.ours));
                    if markers.diff3 {
                        out.push_str(&format!("{} {}\n{}", m('|'), markers.base, c.base));
                    }
                    out.push_str(&format!(
                        "{}\n{}{} {}\n",
                        m('='),
                        c.theirs,
                        m('>'),
                        markers.theirs
                    ));
                }
            }
        }
        out
    }
}

/// Merges `ours` and `theirs`, two descendants of `base`.
pub fn merge3(base: &str, ours: &str, theirs: &str, options: &MergeOptions) -> Merge {
    let _ = options;
    let m = TextMerge::from_lines(base, ours, theirs);
    fn join<'a>(line: impl Fn(usize) -> Option<&'a str>, range: std::ops::Range<usize>) -> String {
        range.filter_map(line).collect()
    }
    let regions = m
        .regions()
        .iter()
        .map(|r| {
            let b = join(|i| m.base_line(i), r.base_range());
            let o = join(|i| m.ours_line(i), r.ours_range());
            let t = join(|i| m.theirs_line(i), r.theirs_range());
            match r.resolution() {
                MergeResolution::Unchanged => Region::Resolved {
                    text: o,
                    resolution: Resolution::Unchanged,
                },
                MergeResolution::Ours => Region::Resolved {
                    text: o,
                    resolution: Resolution::Ours,
                },
                MergeResolution::Theirs => Region::Resolved {
                    text: t,
                    resolution: Resolution::Theirs,
                },
                MergeResolution::Both => Region::Resolved {
                    text: o,
                    resolution: Resolution::Both,
                },
                _ => Region::Conflict(Conflict {
                    base: b,
                    ours: o,
                    theirs: t,
                }),
            }
        })
        .collect();
    Merge { regions }
}
