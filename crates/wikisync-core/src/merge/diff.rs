//! The diff engine under the merge: Myers' O(ND) divide-and-conquer search over interned
//! records (lines or word tokens), with the same preparation and post-processing as git's
//! xdiff so that merges line up with `git merge-file`:
//!
//! 1. common leading and trailing records are trimmed;
//! 2. records that never occur on the other side are marked changed up front, and records that
//!    occur very often on the other side are dropped from the search when they sit inside a run
//!    of such records (xdiff's "discard" pass; it changes which of several equally short diffs
//!    is found, so it matters for parity);
//! 3. the middle snake is searched forward and backward alternately;
//! 4. each group of changed records is slid up and down as far as it can go and parked where it
//!    lines up with a change in the other file, or as low as possible otherwise.
//!
//! Records are `u32` ids: equal ids mean byte-identical records.

/// One change of a diff script: `chg1` records of the old sequence at `i1` became `chg2`
/// records of the new sequence at `i2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    /// Start in the old sequence.
    pub(crate) i1: usize,
    /// Number of old records replaced.
    pub(crate) chg1: usize,
    /// Start in the new sequence.
    pub(crate) i2: usize,
    /// Number of new records inserted.
    pub(crate) chg2: usize,
}

/// The result of [`diff`]: per-record change flags of both sides and the change script.
#[derive(Debug, Clone)]
pub(crate) struct Diff {
    /// `changed_new[i]`: record `i` of the new sequence is not matched with the old one.
    pub(crate) changed_new: Vec<bool>,
    /// The changes, in order.
    pub(crate) script: Vec<Change>,
}

/// A change-flag array with one sentinel slot on each side, like xdiff's `rchg`.
struct Flags {
    v: Vec<bool>,
}

impl Flags {
    fn new(n: usize) -> Self {
        Flags {
            v: vec![false; n + 2],
        }
    }
    #[inline]
    fn get(&self, i: isize) -> bool {
        self.v[(i + 1) as usize]
    }
    #[inline]
    fn set(&mut self, i: isize, value: bool) {
        self.v[(i + 1) as usize] = value;
    }
}

/// Integer square root approximation used by xdiff to bound "frequent" records.
fn bogosqrt(mut n: usize) -> usize {
    let mut i = 1;
    while n > 0 {
        i <<= 1;
        n >>= 2;
    }
    i
}

const MAX_EQLIMIT: usize = 1024;
const SIMSCAN_WINDOW: isize = 100;
const KPDIS_RUN: usize = 4;

/// Kind of a record before the search: no match on the other side, kept, or frequent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Match {
    None,
    Keep,
    Frequent,
}

/// Whether a frequent record at `i` sits in a run of unmatched records and may be dropped.
fn discard_frequent(dis: &[Match], i: isize, start: isize, end: isize) -> bool {
    let s = start.max(i - SIMSCAN_WINDOW);
    let e = end.min(i + SIMSCAN_WINDOW);
    let (mut none_before, mut freq_before) = (0usize, 1usize);
    let mut r = 1;
    while i - r >= s {
        match dis[(i - r) as usize] {
            Match::None => none_before += 1,
            Match::Frequent => freq_before += 1,
            Match::Keep => break,
        }
        r += 1;
    }
    if none_before == 0 {
        return false;
    }
    let (mut none_after, mut freq_after) = (0usize, 1usize);
    let mut r = 1;
    while i + r <= e {
        match dis[(i + r) as usize] {
            Match::None => none_after += 1,
            Match::Frequent => freq_after += 1,
            Match::Keep => break,
        }
        r += 1;
    }
    if none_after == 0 {
        return false;
    }
    let none = none_before + none_after;
    let freq = freq_before + freq_after;
    freq * KPDIS_RUN < freq + none
}

/// Diffs `a` (old) against `b` (new). Ids must be below `nids`.
pub(crate) fn diff(a: &[u32], b: &[u32], nids: usize) -> Diff {
    let mut fa = Flags::new(a.len());
    let mut fb = Flags::new(b.len());

    // Trim the common ends.
    let lim = a.len().min(b.len());
    let mut start = 0;
    while start < lim && a[start] == b[start] {
        start += 1;
    }
    let mut tail = 0;
    while tail < lim - start && a[a.len() - 1 - tail] == b[b.len() - 1 - tail] {
        tail += 1;
    }
    let (end_a, end_b) = (a.len() - tail, b.len() - tail);

    if start < end_a || start < end_b {
        // Occurrence counts over the whole sequences, as xdiff's classifier keeps them.
        let mut counts = vec![(0u32, 0u32); nids];
        for &x in a {
            counts[x as usize].0 += 1;
        }
        for &x in b {
            counts[x as usize].1 += 1;
        }
        let classify = |seq: &[u32], end: usize, other: fn((u32, u32)) -> u32| -> Vec<Match> {
            let mlim = bogosqrt(seq.len()).min(MAX_EQLIMIT);
            let mut dis = vec![Match::Keep; seq.len()];
            for i in start..end {
                let nm = other(counts[seq[i] as usize]) as usize;
                dis[i] = if nm == 0 {
                    Match::None
                } else if nm >= mlim {
                    Match::Frequent
                } else {
                    Match::Keep
                };
            }
            dis
        };
        let dis_a = classify(a, end_a, |c| c.1);
        let dis_b = classify(b, end_b, |c| c.0);
        let reduce = |seq: &[u32], end: usize, dis: &[Match], flags: &mut Flags| {
            let mut ha = Vec::with_capacity(end - start);
            let mut index = Vec::with_capacity(end - start);
            for i in start..end {
                let keep = match dis[i] {
                    Match::Keep => true,
                    Match::Frequent => {
                        !discard_frequent(dis, i as isize, start as isize, end as isize - 1)
                    }
                    Match::None => false,
                };
                if keep {
                    ha.push(seq[i]);
                    index.push(i);
                } else {
                    flags.set(i as isize, true);
                }
            }
            (ha, index)
        };
        let (ha1, idx1) = reduce(a, end_a, &dis_a, &mut fa);
        let (ha2, idx2) = reduce(b, end_b, &dis_b, &mut fb);
        compare(&ha1, &idx1, &ha2, &idx2, &mut fa, &mut fb);
        compact(a, &mut fa, &mut fb);
        compact(b, &mut fb, &mut fa);
    }

    let script = build_script(&fa, a.len(), &fb, b.len());
    let changed_new = fb.v[1..=b.len()].to_vec();
    Diff {
        changed_new,
        script,
    }
}

/// Myers' search over the reduced sequences, marking changed records in the flags.
fn compare(
    ha1: &[u32],
    idx1: &[usize],
    ha2: &[u32],
    idx2: &[usize],
    fa: &mut Flags,
    fb: &mut Flags,
) {
    let n1 = ha1.len() as isize;
    let n2 = ha2.len() as isize;
    let size = (n1 + n2 + 3) as usize;
    let mut kvdf = vec![0isize; size];
    let mut kvdb = vec![0isize; size];
    let koff = n2 + 1;
    let mut stack = vec![(0isize, n1, 0isize, n2)];
    while let Some((mut off1, mut lim1, mut off2, mut lim2)) = stack.pop() {
        while off1 < lim1 && off2 < lim2 && ha1[off1 as usize] == ha2[off2 as usize] {
            off1 += 1;
            off2 += 1;
        }
        while off1 < lim1 && off2 < lim2 && ha1[lim1 as usize - 1] == ha2[lim2 as usize - 1] {
            lim1 -= 1;
            lim2 -= 1;
        }
        if off1 == lim1 {
            for i in off2..lim2 {
                fb.set(idx2[i as usize] as isize, true);
            }
        } else if off2 == lim2 {
            for i in off1..lim1 {
                fa.set(idx1[i as usize] as isize, true);
            }
        } else {
            let (s1, s2) = split(ha1, off1, lim1, ha2, off2, lim2, &mut kvdf, &mut kvdb, koff);
            stack.push((s1, lim1, s2, lim2));
            stack.push((off1, s1, off2, s2));
        }
    }
}

/// Finds the middle snake of the box `[off1, lim1) x [off2, lim2)`; returns the split point.
#[allow(clippy::too_many_arguments)]
fn split(
    ha1: &[u32],
    off1: isize,
    lim1: isize,
    ha2: &[u32],
    off2: isize,
    lim2: isize,
    kvdf: &mut [isize],
    kvdb: &mut [isize],
    koff: isize,
) -> (isize, isize) {
    let k = |d: isize| (d + koff) as usize;
    let (dmin, dmax) = (off1 - lim2, lim1 - off2);
    let (fmid, bmid) = (off1 - off2, lim1 - lim2);
    let odd = (fmid - bmid) & 1 != 0;
    let (mut fmin, mut fmax, mut bmin, mut bmax) = (fmid, fmid, bmid, bmid);
    kvdf[k(fmid)] = off1;
    kvdb[k(bmid)] = lim1;
    loop {
        if fmin > dmin {
            fmin -= 1;
            kvdf[k(fmin - 1)] = -1;
        } else {
            fmin += 1;
        }
        if fmax < dmax {
            fmax += 1;
            kvdf[k(fmax + 1)] = -1;
        } else {
            fmax -= 1;
        }
        let mut d = fmax;
        while d >= fmin {
            let mut i1 = if kvdf[k(d - 1)] >= kvdf[k(d + 1)] {
                kvdf[k(d - 1)] + 1
            } else {
                kvdf[k(d + 1)]
            };
            let mut i2 = i1 - d;
            while i1 < lim1 && i2 < lim2 && ha1[i1 as usize] == ha2[i2 as usize] {
                i1 += 1;
                i2 += 1;
            }
            kvdf[k(d)] = i1;
            if odd && bmin <= d && d <= bmax && kvdb[k(d)] <= i1 {
                return (i1, i2);
            }
            d -= 2;
        }

        if bmin > dmin {
            bmin -= 1;
            kvdb[k(bmin - 1)] = isize::MAX;
        } else {
            bmin += 1;
        }
        if bmax < dmax {
            bmax += 1;
            kvdb[k(bmax + 1)] = isize::MAX;
        } else {
            bmax -= 1;
        }
        let mut d = bmax;
        while d >= bmin {
            let mut i1 = if kvdb[k(d - 1)] < kvdb[k(d + 1)] {
                kvdb[k(d - 1)]
            } else {
                kvdb[k(d + 1)] - 1
            };
            let mut i2 = i1 - d;
            while i1 > off1 && i2 > off2 && ha1[i1 as usize - 1] == ha2[i2 as usize - 1] {
                i1 -= 1;
                i2 -= 1;
            }
            kvdb[k(d)] = i1;
            if !odd && fmin <= d && d <= fmax && i1 <= kvdf[k(d)] {
                return (i1, i2);
            }
            d -= 2;
        }
    }
}

/// A group of changed records `[start, end)` (possibly empty).
#[derive(Clone, Copy)]
struct Group {
    start: isize,
    end: isize,
}

fn group_first(f: &Flags) -> Group {
    let mut g = Group { start: 0, end: 0 };
    while f.get(g.end) {
        g.end += 1;
    }
    g
}

/// Moves to the next group; `false` at the end of the file.
fn group_next(f: &Flags, n: isize, g: &mut Group) -> bool {
    if g.end == n {
        return false;
    }
    g.start = g.end + 1;
    g.end = g.start;
    while f.get(g.end) {
        g.end += 1;
    }
    true
}

/// Moves to the previous group; `false` at the start of the file.
fn group_previous(f: &Flags, g: &mut Group) -> bool {
    if g.start == 0 {
        return false;
    }
    g.end = g.start - 1;
    g.start = g.end;
    while f.get(g.start - 1) {
        g.start -= 1;
    }
    true
}

fn slide_down(recs: &[u32], f: &mut Flags, g: &mut Group) -> bool {
    let n = recs.len() as isize;
    if g.end < n && recs[g.start as usize] == recs[g.end as usize] {
        f.set(g.start, false);
        g.start += 1;
        f.set(g.end, true);
        g.end += 1;
        while f.get(g.end) {
            g.end += 1;
        }
        true
    } else {
        false
    }
}

fn slide_up(recs: &[u32], f: &mut Flags, g: &mut Group) -> bool {
    if g.start > 0 && recs[g.start as usize - 1] == recs[g.end as usize - 1] {
        g.start -= 1;
        f.set(g.start, true);
        g.end -= 1;
        f.set(g.end, false);
        while f.get(g.start - 1) {
            g.start -= 1;
        }
        true
    } else {
        false
    }
}

/// Slides each group of changes of `recs` (flags `f`; the other side's flags `fo`) to a
/// canonical place: aligned with a change on the other side if possible, else as low as it goes.
fn compact(recs: &[u32], f: &mut Flags, fo: &mut Flags) {
    let n = recs.len() as isize;
    let no = (fo.v.len() - 2) as isize;
    let mut g = group_first(f);
    let mut go = group_first(fo);
    loop {
        if g.end != g.start {
            let mut earliest_end;
            let mut end_matching_other;
            loop {
                let size = g.end - g.start;
                end_matching_other = -1;
                while slide_up(recs, f, &mut g) {
                    group_previous(fo, &mut go);
                }
                earliest_end = g.end;
                if go.end > go.start {
                    end_matching_other = g.end;
                }
                while slide_down(recs, f, &mut g) {
                    group_next(fo, no, &mut go);
                    if go.end > go.start {
                        end_matching_other = g.end;
                    }
                }
                if size == g.end - g.start {
                    break;
                }
            }
            if g.end != earliest_end && end_matching_other != -1 {
                while go.end == go.start {
                    if !slide_up(recs, f, &mut g) {
                        break;
                    }
                    group_previous(fo, &mut go);
                }
            }
        }
        if !group_next(f, n, &mut g) {
            break;
        }
        group_next(fo, no, &mut go);
    }
}

/// Pairs the groups of changed records of both sides into a script.
fn build_script(fa: &Flags, na: usize, fb: &Flags, nb: usize) -> Vec<Change> {
    let mut script = Vec::new();
    let (mut i1, mut i2) = (0isize, 0isize);
    let (na, nb) = (na as isize, nb as isize);
    while i1 < na || i2 < nb {
        if (i1 < na && fa.get(i1)) || (i2 < nb && fb.get(i2)) {
            let (s1, s2) = (i1, i2);
            while i1 < na && fa.get(i1) {
                i1 += 1;
            }
            while i2 < nb && fb.get(i2) {
                i2 += 1;
            }
            script.push(Change {
                i1: s1 as usize,
                chg1: (i1 - s1) as usize,
                i2: s2 as usize,
                chg2: (i2 - s2) as usize,
            });
        } else {
            i1 += 1;
            i2 += 1;
        }
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &str) -> Vec<u32> {
        s.bytes().map(|b| u32::from(b - b'a')).collect()
    }

    /// Applies a script to `a`, taking inserted records from `b`; must give `b`.
    fn apply(a: &[u32], b: &[u32], script: &[Change]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = 0;
        for c in script {
            out.extend_from_slice(&a[i..c.i1]);
            out.extend_from_slice(&b[c.i2..c.i2 + c.chg2]);
            i = c.i1 + c.chg1;
        }
        out.extend_from_slice(&a[i..]);
        out
    }

    #[test]
    fn script_rebuilds_the_new_side() {
        for (a, b) in [
            ("abcabba", "cbabac"),
            ("", "abc"),
            ("abc", ""),
            ("aaaa", "aa"),
            ("abcdef", "abxdef"),
        ] {
            let (a, b) = (ids(a), ids(b));
            let d = diff(&a, &b, 26);
            assert_eq!(apply(&a, &b, &d.script), b);
        }
    }

    #[test]
    fn shortest_edit_is_found() {
        let (a, b) = (ids("abcabba"), ids("cbabac"));
        let d = diff(&a, &b, 26);
        let cost: usize = d.script.iter().map(|c| c.chg1 + c.chg2).sum();
        assert_eq!(cost, 5);
    }

    #[test]
    fn a_change_slides_to_line_up_with_the_other_side() {
        // Deleting one of two equal records: the group slides as low as it can go.
        let d = diff(&ids("xaay"), &ids("xay"), 26);
        assert_eq!(
            d.script,
            vec![Change {
                i1: 2,
                chg1: 1,
                i2: 2,
                chg2: 0
            }]
        );
    }
}
