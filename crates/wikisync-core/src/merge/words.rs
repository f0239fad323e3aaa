//! The word-level pass: a three-way merge of one conflicting region at word granularity.
//!
//! The three versions are cut into tokens: runs of letters and digits (any script), single
//! CJK ideographs and kana (those scripts do not separate words with spaces), runs of spaces
//! and tabs, line breaks, and single punctuation or symbol characters. The token sequences are
//! merged with the line engine's strict rules: a change from one side is taken only when the
//! other side left its tokens **and both neighbouring tokens** alone, so touching changes and
//! insertions at the same point conflict; moreover, changes from the two sides must be
//! separated by at least one unchanged token that is not white space (two people editing
//! neighbouring words, or neighbouring lines, conflict). Any conflict means the whole region stays a line
//! conflict; a half-merged region is never returned.

use std::collections::HashMap;

use super::diff::diff;
use super::line::{Mode, walk};

/// Whether `c` is written without spaces between words (CJK ideographs, kana), so that each
/// character is a token of its own.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF       // Hiragana, Katakana
        | 0x3400..=0x4DBF     // CJK Extension A
        | 0x4E00..=0x9FFF     // CJK Unified Ideographs
        | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
        | 0xFF66..=0xFF9F     // Halfwidth Katakana
        | 0x20000..=0x3134F   // CJK Extensions B–G
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Space,
    Single,
}

fn class(c: char) -> Class {
    if is_cjk(c) {
        Class::Single
    } else if c.is_alphanumeric() || c == '_' {
        Class::Word
    } else if c == ' ' || c == '\t' || c == '\u{a0}' {
        Class::Space
    } else {
        // Line breaks, punctuation, symbols, other controls: one token per character, except
        // that "\r\n" stays one token.
        Class::Single
    }
}

/// Cuts `s` into tokens whose concatenation is `s`.
pub(crate) fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        debug_assert_eq!(i, start);
        let k = class(c);
        let mut end = i + c.len_utf8();
        if c == '\r' {
            if let Some(&(j, '\n')) = iter.peek() {
                iter.next();
                end = j + 1;
            }
        } else if k != Class::Single {
            while let Some(&(j, d)) = iter.peek() {
                if class(d) != k {
                    break;
                }
                iter.next();
                end = j + d.len_utf8();
            }
        }
        out.push(&s[start..end]);
        start = end;
    }
    out
}

/// Maps each token to a small id, equal ids for equal tokens.
fn intern<'a>(tokens: &[&'a str], ids: &mut HashMap<&'a str, u32>) -> Vec<u32> {
    tokens
        .iter()
        .map(|t| {
            let next = ids.len() as u32;
            *ids.entry(*t).or_insert(next)
        })
        .collect()
}

/// Merges one region at word level; `None` when the sides conflict even there.
pub(crate) fn merge_words(base: &str, ours: &str, theirs: &str) -> Option<String> {
    let (tb, to, tt) = (tokens(base), tokens(ours), tokens(theirs));
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let b = intern(&tb, &mut ids);
    let o = intern(&to, &mut ids);
    let t = intern(&tt, &mut ids);
    let nids = ids.len();
    let d1 = diff(&b, &o, nids);
    let d2 = diff(&b, &t, nids);
    let hunks = walk(&d1.script, &d2.script, [b.len(), o.len(), t.len()], &o, &t);
    // Changes from different sides must be separated by at least one unchanged token that is
    // not white space: two neighbouring words edited by two people are a conflict.
    for pair in hunks.windows(2) {
        if pair[0].mode != pair[1].mode
            && to[pair[0].i1 + pair[0].chg1..pair[1].i1]
                .iter()
                .all(|t| t.chars().all(char::is_whitespace))
        {
            return None;
        }
    }
    let mut out = String::with_capacity(ours.len().max(theirs.len()));
    let mut i = 0;
    for h in &hunks {
        match h.mode {
            Mode::Ours => {
                out.extend(to[i..h.i1 + h.chg1].iter().copied());
            }
            Mode::Theirs => {
                out.extend(to[i..h.i1].iter().copied());
                out.extend(tt[h.i2..h.i2 + h.chg2].iter().copied());
            }
            Mode::Conflict | Mode::Same | Mode::Words => return None,
        }
        i = h.i1 + h.chg1;
    }
    out.extend(to[i..].iter().copied());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_text() {
        let s = "Grüße, Welt!  東京都\r\nend_of line\t— ok";
        let t = tokens(s);
        assert_eq!(t.concat(), s);
        assert!(t.contains(&"Grüße"));
        assert!(t.contains(&"東"));
        assert!(t.contains(&"\r\n"));
        assert!(t.contains(&"end_of"));
        assert!(t.contains(&"  "));
    }

    #[test]
    fn different_sentences_merge() {
        let base = "The cat sat. The dog ran. The bird flew.\n";
        let ours = "The cat slept. The dog ran. The bird flew.\n";
        let theirs = "The cat sat. The dog ran. The bird sang.\n";
        assert_eq!(
            merge_words(base, ours, theirs).as_deref(),
            Some("The cat slept. The dog ran. The bird sang.\n")
        );
    }

    #[test]
    fn touching_changes_conflict() {
        assert_eq!(merge_words("a b c\n", "a X c\n", "a b Y\n"), None);
        // Insertions at the same point conflict.
        assert_eq!(merge_words("a c\n", "a x c\n", "a y c\n"), None);
    }
}
