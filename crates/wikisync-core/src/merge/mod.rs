//! Three-way merge with `git merge-file` semantics, plus a word-level pass inside conflicting
//! regions.
//!
//! [`merge3`] takes the common ancestor and two descendants and returns a [`Merge`]: the
//! document as a list of [`Region`]s, each either resolved (with how) or a [`Conflict`]
//! carrying the three versions of that stretch. Conflicts are data; [`Merge::render`] is one
//! way to show them, as git-style markers.
//!
//! - **Lines first**, like `git merge-file` at its default level: identical changes on both
//!   sides are clean; changes that overlap or touch conflict; conflicts are shrunk to the lines
//!   that really differ and nearby conflicts joined. Where git merges cleanly the rendered text
//!   is byte-identical to `git merge-file -p`.
//! - **Then words** ([`MergeOptions::words`], on by default): inside each line conflict the
//!   three versions are merged token by token. DokuWiki paragraphs are single long lines, so
//!   two people editing different sentences of one paragraph merge cleanly. The region is
//!   resolved only when the whole of it merges; changes from the two sides must be separated
//!   by an unchanged word or punctuation mark, never just white space.
//!
//! ```
//! use wikisync_core::merge::{merge3, MergeOptions, Markers, Resolution, Region};
//!
//! let base = "= Title =\nThe cat sat. The dog ran.\n";
//! let ours = "= Title =\nThe cat slept. The dog ran.\n";
//! let theirs = "= Title =\nThe cat sat. The dog barked.\n";
//!
//! let merged = merge3(base, ours, theirs, &MergeOptions::default());
//! assert_eq!(merged.clean_text().as_deref(), Some("= Title =\nThe cat slept. The dog barked.\n"));
//! assert!(merged.regions.iter().any(|r| matches!(r, Region::Resolved { resolution: Resolution::Words, .. })));
//!
//! // Line-level only, as git does it: the paragraph conflicts.
//! let lines = merge3(base, ours, theirs, &MergeOptions::default().with_words(false));
//! assert_eq!(lines.conflict_count(), 1);
//! assert_eq!(
//!     lines.render(&Markers::default()),
//!     "= Title =\n<<<<<<< ours\nThe cat slept. The dog ran.\n=======\nThe cat sat. The dog barked.\n>>>>>>> theirs\n",
//! );
//! ```

mod diff;
mod line;
mod render;
mod words;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use line::{Hunk, Mode};

/// How to merge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeOptions {
    /// Run the word-level pass inside line conflicts (default `true`).
    pub words: bool,
    /// Keep each line conflict whole, with its exact base, as `git merge-file --diff3` does
    /// (default `false`: conflicts are shrunk to the lines where ours and theirs differ and
    /// neighbouring conflicts joined, git's default "zealous" level). Set it when rendering
    /// with [`Markers::diff3`].
    pub diff3: bool,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            words: true,
            diff3: false,
        }
    }
}

impl MergeOptions {
    /// These options with the word-level pass switched on or off.
    pub fn with_words(mut self, words: bool) -> Self {
        self.words = words;
        self
    }

    /// These options with whole conflicts (git `--diff3`) switched on or off.
    pub fn with_diff3(mut self, diff3: bool) -> Self {
        self.diff3 = diff3;
        self
    }
}

/// How a region of the result was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
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

/// By hand rather than derived, to keep the bindings small: see `src/tagged.rs` (the rules are
/// the derive's).
impl<'de> Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        fn read(tag: &str, f: &mut crate::tagged::Fields) -> Result<Region, serde_json::Error> {
            Ok(match tag {
                "resolved" => Region::Resolved {
                    text: f.field("text")?,
                    resolution: f.field("resolution")?,
                },
                "conflict" => Region::Conflict(f.rest()?),
                other => {
                    return Err(serde::de::Error::unknown_variant(
                        other,
                        &["resolved", "conflict"],
                    ));
                }
            })
        }
        crate::tagged::deserialize(deserializer, read)
    }
}

/// A conflicting region: the three versions of it, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[serde(rename_all = "camelCase")]
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

    /// The merged text with conflicts rendered as markers, byte for byte as
    /// `git merge-file -p` prints them: a side that does not end with a line break gets one
    /// before the next marker, and markers end with CR LF when the surrounding lines do.
    pub fn render(&self, markers: &Markers) -> String {
        render::render(self, markers)
    }
}

impl Markers {
    /// Markers with these labels (git's `-L ours -L base -L theirs`), no base section, size 7.
    pub fn labelled(
        ours: impl Into<String>,
        base: impl Into<String>,
        theirs: impl Into<String>,
    ) -> Self {
        Markers {
            ours: ours.into(),
            base: base.into(),
            theirs: theirs.into(),
            ..Markers::default()
        }
    }

    /// These markers with the base section (`|||||||`) switched on or off.
    pub fn with_diff3(mut self, diff3: bool) -> Self {
        self.diff3 = diff3;
        self
    }

    /// These markers with another marker length (git's `--marker-size`).
    pub fn with_size(mut self, size: usize) -> Self {
        self.size = size;
        self
    }
}

/// A fast non-cryptographic hasher for interning lines (FxHash-style: multiply-rotate over
/// 8-byte words). Inputs are not adversarial enough for hash flooding to matter here: a
/// collision costs a string comparison, not correctness.
#[derive(Default, Clone, Copy)]
struct LineHasher(u64);

impl std::hash::Hasher for LineHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type LineIds<'a> = HashMap<&'a str, u32, std::hash::BuildHasherDefault<LineHasher>>;

/// One input split into lines (each with its line break, the last one possibly without).
struct Lines<'a> {
    text: &'a str,
    /// Byte offset of each line start, plus the text length at the end.
    starts: Vec<usize>,
    ids: Vec<u32>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str, ids: &mut LineIds<'a>) -> Self {
        Self::aligned(text, ids, None)
    }

    /// Splits and interns `text`. With `base`, lines are first compared with the base line
    /// where the two texts are aligned so far (most lines of a descendant are unchanged), and
    /// only other lines go through the hash table; `base_pos` maps a base id to its last line.
    fn aligned(text: &'a str, ids: &mut LineIds<'a>, base: Option<(&Lines<'a>, &[u32])>) -> Self {
        let mut starts = Vec::with_capacity(text.len() / 40 + 2);
        let mut line_ids = Vec::with_capacity(text.len() / 40 + 1);
        let mut pos = 0;
        let mut j = 0;
        for line in text.split_inclusive('\n') {
            starts.push(pos);
            pos += line.len();
            if let Some((b, _)) = base
                && j < b.ids.len()
                && b.slice(j, 1) == line
            {
                line_ids.push(b.ids[j]);
                j += 1;
                continue;
            }
            let next = ids.len() as u32;
            let id = *ids.entry(line).or_insert(next);
            line_ids.push(id);
            if let Some((_, base_pos)) = base {
                // Re-align after the base line this one matches, if any.
                j = base_pos.get(id as usize).map_or(j + 1, |&p| p as usize + 1);
            }
        }
        starts.push(text.len());
        Lines {
            text,
            starts,
            ids: line_ids,
        }
    }

    /// The text of lines `[start, start + count)`.
    fn slice(&self, start: usize, count: usize) -> &'a str {
        &self.text[self.starts[start]..self.starts[start + count]]
    }
}

/// Merges `ours` and `theirs`, two descendants of `base`.
///
/// Never fails: conflicts are part of the result ([`Region::Conflict`]).
pub fn merge3(base: &str, ours: &str, theirs: &str, options: &MergeOptions) -> Merge {
    let mut ids =
        LineIds::with_capacity_and_hasher((base.len() + ours.len()) / 40 + 16, Default::default());
    let b = Lines::new(base, &mut ids);
    // The last base line of each base id, to re-align the descendants after an edit.
    let mut base_pos = vec![0u32; ids.len()];
    for (i, &id) in b.ids.iter().enumerate() {
        base_pos[id as usize] = i as u32;
    }
    let o = Lines::aligned(ours, &mut ids, Some((&b, &base_pos)));
    let t = Lines::aligned(theirs, &mut ids, Some((&b, &base_pos)));
    let nids = ids.len();
    drop(ids);

    let d1 = diff::diff(&b.ids, &o.ids, nids);
    let d2 = diff::diff(&b.ids, &t.ids, nids);
    let n = [b.ids.len(), o.ids.len(), t.ids.len()];
    let walked = line::walk(&d1.script, &d2.script, n, &o.ids, &t.ids);

    let mut hunks: Vec<Hunk> = Vec::with_capacity(walked.len());
    let mut word_texts: Vec<String> = Vec::new();
    for h in walked {
        if h.mode != Mode::Conflict {
            hunks.push(h);
            continue;
        }
        if options.words
            && let Some(text) = words::merge_words(
                b.slice(h.i0, h.chg0),
                o.slice(h.i1, h.chg1),
                t.slice(h.i2, h.chg2),
            )
        {
            // The index of the text rides in `i0`, which a resolved hunk no longer needs.
            word_texts.push(text);
            hunks.push(Hunk {
                mode: Mode::Words,
                i0: word_texts.len() - 1,
                ..h
            });
            continue;
        }
        if options.diff3 {
            hunks.push(h);
        } else {
            hunks.extend(line::refine(h, &o.ids, &t.ids));
        }
    }
    if !options.diff3 {
        line::simplify(&mut hunks, |begin, end| {
            o.slice(begin, end - begin)
                .bytes()
                .any(|c| c.is_ascii_alphanumeric())
        });
    }

    let mut regions: Vec<Region> = Vec::with_capacity(hunks.len() * 2 + 1);
    // Lines of ours between hunks are unchanged, or changed identically on both sides.
    let gap = |regions: &mut Vec<Region>, from: usize, to: usize| {
        let mut i = from;
        while i < to {
            let changed = d1.changed_new[i];
            let mut j = i;
            while j < to && d1.changed_new[j] == changed {
                j += 1;
            }
            let resolution = if changed {
                Resolution::Both
            } else {
                Resolution::Unchanged
            };
            push_resolved(regions, o.slice(i, j - i), resolution);
            i = j;
        }
    };
    let mut i = 0;
    for h in &hunks {
        if h.mode == Mode::Same {
            // Taken from ours with the next gap, where it counts as changed on both sides.
            continue;
        }
        gap(&mut regions, i, h.i1);
        match h.mode {
            Mode::Ours => push_resolved(&mut regions, o.slice(h.i1, h.chg1), Resolution::Ours),
            Mode::Theirs => push_resolved(&mut regions, t.slice(h.i2, h.chg2), Resolution::Theirs),
            Mode::Words => push_resolved(&mut regions, &word_texts[h.i0], Resolution::Words),
            Mode::Conflict | Mode::Same => regions.push(Region::Conflict(Conflict {
                base: b.slice(h.i0, h.chg0).to_owned(),
                ours: o.slice(h.i1, h.chg1).to_owned(),
                theirs: t.slice(h.i2, h.chg2).to_owned(),
            })),
        }
        i = h.i1 + h.chg1;
    }
    gap(&mut regions, i, n[1]);
    Merge { regions }
}

/// Appends resolved text, joining it to the previous region when that was resolved the same way.
fn push_resolved(regions: &mut Vec<Region>, text: &str, resolution: Resolution) {
    if text.is_empty() {
        return;
    }
    if let Some(Region::Resolved {
        text: last,
        resolution: r,
    }) = regions.last_mut()
        && *r == resolution
    {
        last.push_str(text);
        return;
    }
    regions.push(Region::Resolved {
        text: text.to_owned(),
        resolution,
    });
}
