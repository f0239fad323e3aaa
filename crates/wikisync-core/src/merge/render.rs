//! Rendering a [`Merge`] as text with git-style conflict markers, byte for byte as
//! `git merge-file -p` prints it.

use super::{Markers, Merge, Region, Resolution};

/// The line-break style of the first line of `s`: `Some(true)` for CR LF, `Some(false)` for
/// LF, `None` when `s` has no line break.
fn first_eol(s: &str) -> Option<bool> {
    s.find('\n').map(|i| s[..i].ends_with('\r'))
}

/// The line-break style of the last complete line of `s`.
fn last_eol(s: &str) -> Option<bool> {
    let body = s.strip_suffix('\n')?;
    Some(body.ends_with('\r'))
}

/// One of the three inputs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Base,
    Ours,
    Theirs,
}

/// The text that `region` is known to hold in `side`, if the region records it.
fn side_text(region: &Region, side: Side) -> Option<&str> {
    match (region, side) {
        (Region::Conflict(c), Side::Base) => Some(&c.base),
        (Region::Conflict(c), Side::Ours) => Some(&c.ours),
        (Region::Conflict(c), Side::Theirs) => Some(&c.theirs),
        (Region::Resolved { text, resolution }, _) => {
            let known = match resolution {
                Resolution::Unchanged => true,
                Resolution::Both => side != Side::Base,
                Resolution::Ours => side == Side::Ours,
                Resolution::Theirs => side == Side::Theirs,
                _ => false,
            };
            known.then_some(text.as_str())
        }
    }
}

/// The line-break style of the first line of `side`, looking from region `from` on.
fn first_line_eol(regions: &[Region], from: usize, side: Side) -> Option<bool> {
    regions[from..]
        .iter()
        .filter_map(|r| side_text(r, side))
        .find(|t| !t.is_empty())
        .and_then(first_eol)
}

/// The line-break style git uses for the markers of conflict `index`: it asks, in turn, the
/// line before the conflict in ours (or ours' first line), the same in theirs, and the first
/// line of the base; it stops at the first that ends in a bare LF, and otherwise follows the
/// base's answer (LF when the base cannot tell). The regions keep every line of ours and
/// theirs except where the other side's change was taken; those are skipped.
fn needs_cr(regions: &[Region], index: usize) -> bool {
    let before = |side: Side| match regions[..index]
        .iter()
        .rev()
        .filter_map(|r| side_text(r, side))
        .find(|t| !t.is_empty())
    {
        Some(text) => last_eol(text),
        None => first_line_eol(regions, index, side),
    };
    if before(Side::Ours) == Some(false) || before(Side::Theirs) == Some(false) {
        return false;
    }
    first_line_eol(regions, 0, Side::Base) == Some(true)
}

/// Appends one side of a conflict, adding the line break it lacks, if any.
fn push_side(out: &mut String, side: &str, eol: &str) {
    out.push_str(side);
    if !side.is_empty() && !side.ends_with('\n') {
        out.push_str(eol);
    }
}

fn push_marker(out: &mut String, ch: char, size: usize, label: Option<&str>, eol: &str) {
    out.extend(std::iter::repeat_n(ch, size));
    if let Some(label) = label {
        out.push(' ');
        out.push_str(label);
    }
    out.push_str(eol);
}

pub(super) fn render(merge: &Merge, markers: &Markers) -> String {
    let size: usize = merge
        .regions
        .iter()
        .map(|r| match r {
            Region::Resolved { text, .. } => text.len(),
            Region::Conflict(c) => c.ours.len() + c.theirs.len() + c.base.len() + 64,
        })
        .sum();
    let mut out = String::with_capacity(size);
    for (index, region) in merge.regions.iter().enumerate() {
        match region {
            Region::Resolved { text, .. } => out.push_str(text),
            Region::Conflict(c) => {
                let eol = if needs_cr(&merge.regions, index) {
                    "\r\n"
                } else {
                    "\n"
                };
                push_marker(&mut out, '<', markers.size, Some(&markers.ours), eol);
                push_side(&mut out, &c.ours, eol);
                if markers.diff3 {
                    push_marker(&mut out, '|', markers.size, Some(&markers.base), eol);
                    push_side(&mut out, &c.base, eol);
                }
                push_marker(&mut out, '=', markers.size, None, eol);
                push_side(&mut out, &c.theirs, eol);
                push_marker(&mut out, '>', markers.size, Some(&markers.theirs), eol);
            }
        }
    }
    out
}
