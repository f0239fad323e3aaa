//! The three-way walk over two diff scripts (base→ours, base→theirs), with the same rules as
//! git's `xdl_merge`: changes that overlap **or touch** in the base conflict unless they are
//! identical; overlapping results are combined into one hunk; then (at git's default
//! "zealous alnum" level) each conflict is shrunk to the lines where the two sides really
//! differ, and conflicts separated by at most three lines, or by lines without any ASCII letter
//! or digit, are joined again.

use super::diff::{Change, diff};

/// How a hunk of the merge is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Both sides changed it differently.
    Conflict,
    /// Take ours.
    Ours,
    /// Take theirs.
    Theirs,
    /// A conflict whose two sides turned out identical: take ours.
    Same,
    /// Resolved by the word pass; the text is stored aside, by hunk index.
    Words,
}

/// One hunk: `chg0` base records at `i0`, `chg1` ours records at `i1`, `chg2` theirs records
/// at `i2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hunk {
    pub(crate) mode: Mode,
    pub(crate) i0: usize,
    pub(crate) chg0: usize,
    pub(crate) i1: usize,
    pub(crate) chg1: usize,
    pub(crate) i2: usize,
    pub(crate) chg2: usize,
}

/// A hunk while walking: signed, because git's arithmetic can step before the start of a
/// side for a hunk that is then combined with the previous one.
#[derive(Clone, Copy)]
struct Raw {
    mode: Mode,
    i: [isize; 3],
    chg: [isize; 3],
}

/// Appends a hunk, combining it with the previous one when they overlap or touch on a side.
fn append(hunks: &mut Vec<Raw>, h: Raw) {
    if let Some(m) = hunks.last_mut()
        && (h.i[1] <= m.i[1] + m.chg[1] || h.i[2] <= m.i[2] + m.chg[2])
    {
        if h.mode != m.mode {
            m.mode = Mode::Conflict;
        }
        for k in 0..3 {
            m.chg[k] = h.i[k] + h.chg[k] - m.i[k];
        }
        return;
    }
    hunks.push(h);
}

/// Walks the two scripts and returns the hunks where ours or theirs differ from the result of
/// taking the other side. Identical changes on both sides produce no hunk (the text between
/// hunks is taken from ours). `n` are the lengths of base, ours and theirs.
pub(crate) fn walk(
    s1: &[Change],
    s2: &[Change],
    n: [usize; 3],
    ours: &[u32],
    theirs: &[u32],
) -> Vec<Hunk> {
    let c = |x: &Change| {
        (
            x.i1 as isize,
            x.chg1 as isize,
            x.i2 as isize,
            x.chg2 as isize,
        )
    };
    let n = n.map(|x| x as isize);
    let mut hunks: Vec<Raw> = Vec::new();
    let (mut a, mut b) = (0, 0);
    while a < s1.len() && b < s2.len() {
        let (x, y) = (&s1[a], &s2[b]);
        let (x1, xc1, x2, xc2) = c(x);
        let (y1, yc1, y2, yc2) = c(y);
        if x1 + xc1 < y1 {
            append(
                &mut hunks,
                Raw {
                    mode: Mode::Ours,
                    i: [x1, x2, y2 - y1 + x1],
                    chg: [xc1, xc2, xc1],
                },
            );
            a += 1;
            continue;
        }
        if y1 + yc1 < x1 {
            append(
                &mut hunks,
                Raw {
                    mode: Mode::Theirs,
                    i: [y1, x2 - x1 + y1, y2],
                    chg: [yc1, yc1, yc2],
                },
            );
            b += 1;
            continue;
        }
        let identical = x1 == y1
            && xc1 == yc1
            && xc2 == yc2
            && ours[x.i2..x.i2 + x.chg2] == theirs[y.i2..y.i2 + y.chg2];
        if !identical {
            // Extend the two changes to cover the same stretch of the base.
            let start = x1.min(y1);
            let end = (x1 + xc1).max(y1 + yc1);
            let i1 = x2 - (x1 - start);
            let i2 = y2 - (y1 - start);
            let end1 = x2 + xc2 + (end - (x1 + xc1));
            let end2 = y2 + yc2 + (end - (y1 + yc1));
            append(
                &mut hunks,
                Raw {
                    mode: Mode::Conflict,
                    i: [start, i1, i2],
                    chg: [end - start, end1 - i1, end2 - i2],
                },
            );
        }
        let (e1, e2) = (x1 + xc1, y1 + yc1);
        if e1 >= e2 {
            b += 1;
        }
        if e2 >= e1 {
            a += 1;
        }
    }
    for x in &s1[a..] {
        let (x1, xc1, x2, xc2) = c(x);
        append(
            &mut hunks,
            Raw {
                mode: Mode::Ours,
                i: [x1, x2, x1 + n[2] - n[0]],
                chg: [xc1, xc2, xc1],
            },
        );
    }
    for y in &s2[b..] {
        let (y1, yc1, y2, yc2) = c(y);
        append(
            &mut hunks,
            Raw {
                mode: Mode::Theirs,
                i: [y1, y1 + n[1] - n[0], y2],
                chg: [yc1, yc1, yc2],
            },
        );
    }
    // Every hunk that survives lies inside all three sequences.
    let u = |v: isize| v.max(0) as usize;
    hunks
        .iter()
        .map(|h| Hunk {
            mode: h.mode,
            i0: u(h.i[0]),
            chg0: u(h.chg[0]),
            i1: u(h.i[1]),
            chg1: u(h.chg[1]),
            i2: u(h.i[2]),
            chg2: u(h.chg[2]),
        })
        .collect()
}

/// Re-interns a slice of ids into dense local ids, for a diff of two small slices.
fn local_ids(a: &[u32], b: &[u32]) -> (Vec<u32>, Vec<u32>, usize) {
    let mut map = std::collections::HashMap::new();
    let mut conv = |s: &[u32]| -> Vec<u32> {
        s.iter()
            .map(|x| {
                let next = map.len() as u32;
                *map.entry(*x).or_insert(next)
            })
            .collect()
    };
    let la = conv(a);
    let lb = conv(b);
    (la, lb, map.len())
}

/// Shrinks one conflict to the places where ours and theirs really differ: diffs the two
/// sides and turns each difference into its own conflict (all keep the base range of the
/// original hunk). Returns the replacement hunks.
pub(crate) fn refine(h: Hunk, ours: &[u32], theirs: &[u32]) -> Vec<Hunk> {
    if h.chg1 == 0 || h.chg2 == 0 {
        return vec![h];
    }
    let (a, b, nids) = local_ids(&ours[h.i1..h.i1 + h.chg1], &theirs[h.i2..h.i2 + h.chg2]);
    let d = diff(&a, &b, nids);
    if d.script.is_empty() {
        return vec![Hunk {
            mode: Mode::Same,
            ..h
        }];
    }
    d.script
        .iter()
        .map(|c| Hunk {
            mode: Mode::Conflict,
            i1: h.i1 + c.i1,
            chg1: c.chg1,
            i2: h.i2 + c.i2,
            chg2: c.chg2,
            ..h
        })
        .collect()
}

/// Joins neighbouring conflicts separated by three lines or fewer, or by lines of ours
/// without any ASCII letter or digit (`has_alnum(begin, end)` tells).
pub(crate) fn simplify(hunks: &mut Vec<Hunk>, has_alnum: impl Fn(usize, usize) -> bool) {
    let mut out: Vec<Hunk> = Vec::with_capacity(hunks.len());
    for h in hunks.drain(..) {
        if let Some(m) = out.last_mut()
            && m.mode == Mode::Conflict
            && h.mode == Mode::Conflict
        {
            let (begin, end) = (m.i1 + m.chg1, h.i1);
            if end - begin <= 3 || !has_alnum(begin, end) {
                let end0 = (m.i0 + m.chg0).max(h.i0 + h.chg0);
                m.i0 = m.i0.min(h.i0);
                m.chg0 = end0 - m.i0;
                m.chg1 = h.i1 + h.chg1 - m.i1;
                m.chg2 = h.i2 + h.chg2 - m.i2;
                continue;
            }
        }
        out.push(h);
    }
    *hunks = out;
}
