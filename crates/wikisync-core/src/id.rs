//! DokuWiki page ids: cleaned the way DokuWiki's `cleanID()` does, and refused when they
//! would escape the wiki's data directory.
//!
//! # Rules
//!
//! [`PageId::clean`] first **refuses** (never repairs) what could escape a data directory or is
//! unreasonable, checking the id after step 1 below:
//!
//! | check | error ([`PageIdError::code`]) |
//! |---|---|
//! | more than [`MAX_RAW_BYTES`] bytes | `too_long` |
//! | a control character anywhere (NUL, U+0001–U+001F, U+007F, U+0080–U+009F) | `control_character` |
//! | starts with `/` or `\`, or a drive letter followed by `:/` or `:\` (`C:\x`) | `absolute_path` |
//! | any other `/` or `\` | `path_separator` |
//! | a segment (between `:` or `;`) that is only dots, two or more (`..`), spaces around ignored | `path_traversal` |
//!
//! `c:foo` stays a valid id (namespace `c`): without a slash nothing can escape. Then it
//! **cleans** like DokuWiki with its default configuration (`sepchar` `_`, `deaccent` off,
//! `useslash` off):
//!
//! 1. trim spaces, tabs, CR, LF and vertical tabs at both ends;
//! 2. lowercase (Unicode);
//! 3. `;` becomes `:`;
//! 4. special characters become `_`: the ASCII characters
//!    `` !"#$%&'()*+,<=>?@[]^`{|}~ `` and space, and the non-ASCII punctuation and symbols
//!    U+00A0–U+00BF, `×`, `÷`, U+2000–U+206F (general punctuation, zero-width and direction
//!    marks), U+20A0–U+20CF (currency), U+2100–U+214F (letterlike symbols), U+2190–U+23FF
//!    (arrows, mathematical and technical symbols), U+2460–U+27BF (enclosed numbers, box
//!    drawing, shapes, symbols, dingbats), U+3000–U+303F (CJK punctuation), U+FEFF, and the
//!    fullwidth forms of ASCII punctuation (U+FF01–U+FF0F, U+FF1A–U+FF20, U+FF3B–U+FF40,
//!    U+FF5B–U+FF65, U+FFE0–U+FFEE). DokuWiki lists its specials one by one; this ranges form
//!    covers all of its list except a handful of letters it also strips (e.g. Greek `φ`,
//!    Hebrew points, Arabic harakat), which are kept here;
//! 5. runs of `_` become one `_`, runs of `:` one `:`;
//! 6. `:`, `.`, `_` and `-` are trimmed at both ends;
//! 7. a `:` followed by any run of `:._-` becomes a single `:`.
//!
//! Finally an id that is empty is refused (`empty`), and so is one with a segment longer than
//! [`MAX_SEGMENT_BYTES`] bytes (`segment_too_long`: the page file `<segment>.txt` and its
//! attic copies `<segment>.<rev>.txt.bz2` must fit the usual 255-byte file-name limit) or a
//! cleaned id longer than [`MAX_ID_BYTES`] bytes (`too_long`).
//!
//! ```
//! use wikisync_core::id::{PageId, PageIdError};
//! assert_eq!(PageId::clean(" Wiki;Start Page! ").unwrap().as_str(), "wiki:start_page");
//! assert_eq!(PageId::clean("wiki:..:secret"), Err(PageIdError::PathTraversal));
//! assert_eq!(PageId::clean("c:notes").unwrap().as_str(), "c:notes");
//! ```

use serde::{Deserialize, Serialize};

/// Longest accepted raw id, in bytes, before cleaning.
pub const MAX_RAW_BYTES: usize = 4096;
/// Longest accepted cleaned id, in bytes.
pub const MAX_ID_BYTES: usize = 1024;
/// Longest accepted segment (namespace or page name) of a cleaned id, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 200;

/// A cleaned, safe DokuWiki page id such as `wiki:syntax` (namespaces separated by `:`).
///
/// The only ways to make one are [`PageId::clean`] and deserialization (which cleans too), so
/// a `PageId` never holds `..`, `/`, NUL or control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PageId(String);

impl PageId {
    /// Cleans `raw` by DokuWiki's `cleanID` rules and refuses ids that would escape (see the
    /// [module documentation](self) for the exact rules).
    pub fn clean(raw: &str) -> Result<PageId, PageIdError> {
        if raw.len() > MAX_RAW_BYTES {
            return Err(PageIdError::TooLong);
        }
        let trimmed = raw.trim_matches([' ', '\t', '\n', '\r', '\u{b}']);
        check_escape(trimmed)?;

        let lower = trimmed.to_lowercase();
        let mut id = String::with_capacity(lower.len());
        for c in lower.chars() {
            let c = match c {
                ';' => ':',
                c if is_special(c) => '_',
                c => c,
            };
            // Step 5: collapse runs of `_` and of `:` while building.
            if (c == '_' || c == ':') && id.ends_with(c) {
                continue;
            }
            id.push(c);
        }
        // Step 6: trim `:._-` at both ends.
        let id = id.trim_matches([':', '.', '_', '-']);
        // Step 7: `:` followed by a run of `:._-` becomes `:`.
        let mut out = String::with_capacity(id.len());
        let mut after_colon = false;
        for c in id.chars() {
            if after_colon && matches!(c, ':' | '.' | '_' | '-') {
                continue;
            }
            after_colon = c == ':';
            out.push(c);
        }

        if out.is_empty() {
            return Err(PageIdError::Empty);
        }
        if out.len() > MAX_ID_BYTES {
            return Err(PageIdError::TooLong);
        }
        if out.split(':').any(|s| s.len() > MAX_SEGMENT_BYTES) {
            return Err(PageIdError::SegmentTooLong);
        }
        Ok(PageId(out))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The refusals that come before cleaning (see the module documentation).
fn check_escape(id: &str) -> Result<(), PageIdError> {
    if id.chars().any(char::is_control) {
        return Err(PageIdError::ControlCharacter);
    }
    let b = id.as_bytes();
    let drive = b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':';
    if matches!(b.first(), Some(b'/' | b'\\')) || (drive && matches!(b[2], b'/' | b'\\')) {
        return Err(PageIdError::AbsolutePath);
    }
    if id.contains(['/', '\\']) {
        return Err(PageIdError::PathSeparator);
    }
    if id.split([':', ';']).any(|segment| {
        let s = segment.trim();
        s.len() >= 2 && s.bytes().all(|c| c == b'.')
    }) {
        return Err(PageIdError::PathTraversal);
    }
    Ok(())
}

/// DokuWiki's "special characters", replaced by `_` (step 4 of the module documentation).
fn is_special(c: char) -> bool {
    if c.is_ascii() {
        return matches!(
            c,
            ' ' | '!'
                | '"'
                | '#'
                | '$'
                | '%'
                | '&'
                | '\''
                | '('
                | ')'
                | '*'
                | '+'
                | ','
                | '<'
                | '='
                | '>'
                | '?'
                | '@'
                | '['
                | ']'
                | '^'
                | '`'
                | '{'
                | '|'
                | '}'
                | '~'
        );
    }
    matches!(
        u32::from(c),
        0xA0..=0xBF
            | 0xD7
            | 0xF7
            | 0x2000..=0x206F
            | 0x20A0..=0x20CF
            | 0x2100..=0x214F
            | 0x2190..=0x23FF
            | 0x2460..=0x27BF
            | 0x3000..=0x303F
            | 0xFEFF
            | 0xFF01..=0xFF0F
            | 0xFF1A..=0xFF20
            | 0xFF3B..=0xFF40
            | 0xFF5B..=0xFF65
            | 0xFFE0..=0xFFEE
    )
}

impl TryFrom<String> for PageId {
    type Error = PageIdError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        PageId::clean(&raw).inspect_err(crate::wire::note_refused_page_id)
    }
}

impl From<PageId> for String {
    fn from(id: PageId) -> String {
        id.0
    }
}

impl std::fmt::Display for PageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a page id was refused. Each variant has a stable [`code`](PageIdError::code) used by
/// the CLI, the bindings and `tests/vectors/page_ids.json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageIdError {
    /// The id is empty, or nothing is left of it after cleaning (e.g. `"::"`, `"!?"`).
    #[error("the page id is empty")]
    Empty,
    /// The raw id is longer than [`MAX_RAW_BYTES`], or the cleaned one longer than
    /// [`MAX_ID_BYTES`].
    #[error("the page id is too long (at most {MAX_ID_BYTES} bytes)")]
    TooLong,
    /// A namespace or page name of the cleaned id is longer than [`MAX_SEGMENT_BYTES`]: its
    /// file name would not fit common file systems.
    #[error("a segment of the page id is longer than {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong,
    /// The id contains NUL or another control character.
    #[error("the page id contains a control character")]
    ControlCharacter,
    /// The id looks like an absolute file path (`/x`, `\x`, `C:\x`, `C:/x`).
    #[error("the page id is an absolute path")]
    AbsolutePath,
    /// The id contains `/` or `\`; DokuWiki ids separate namespaces with `:`.
    #[error("the page id contains a path separator (/ or \\); use : between namespaces")]
    PathSeparator,
    /// A segment of the id is `..` (or only dots): an attempt to leave the namespace.
    #[error("the page id contains a '..' segment")]
    PathTraversal,
}

impl PageIdError {
    /// A stable machine-readable code for this error, e.g. `"path_traversal"`.
    pub fn code(&self) -> &'static str {
        match self {
            PageIdError::Empty => "empty",
            PageIdError::TooLong => "too_long",
            PageIdError::SegmentTooLong => "segment_too_long",
            PageIdError::ControlCharacter => "control_character",
            PageIdError::AbsolutePath => "absolute_path",
            PageIdError::PathSeparator => "path_separator",
            PageIdError::PathTraversal => "path_traversal",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clean(raw: &str) -> Result<String, &'static str> {
        PageId::clean(raw).map(String::from).map_err(|e| e.code())
    }

    #[test]
    fn cleans_like_dokuwiki() {
        let cases = [
            ("wiki:syntax", "wiki:syntax"),
            ("  Wiki:Syntax\n", "wiki:syntax"),
            ("a;b;c", "a:b:c"),
            ("hello world", "hello_world"),
            ("hello   world!!", "hello_world"),
            ("a:::b", "a:b"),
            (":start:", "start"),
            ("_-.x._-", "x"),
            ("ns:_private", "ns:private"),
            ("ns:-.x", "ns:x"),
            ("a_:b", "a_:b"),
            ("Größe", "größe"),
            ("ÄÖÜ:Ünïcödé", "äöü:ünïcödé"),
            ("日本語:ページ", "日本語:ページ"),
            ("a*b", "a_b"),
            ("x.y.z", "x.y.z"),
            ("a..b", "a..b"),
            ("c:foo", "c:foo"),
            ("price€list", "price_list"),
            ("“quoted”", "quoted"),
            ("tab\u{3000}space", "tab_space"),
        ];
        for (raw, want) in cases {
            assert_eq!(clean(raw), Ok(want.to_owned()), "{raw:?}");
        }
    }

    #[test]
    fn refuses_escapes() {
        let cases = [
            ("", "empty"),
            ("  ", "empty"),
            ("::", "empty"),
            ("!?", "empty"),
            ("..", "path_traversal"),
            ("wiki:..:x", "path_traversal"),
            ("wiki; .. ;x", "path_traversal"),
            ("...", "path_traversal"),
            ("a/b", "path_separator"),
            ("a\\b", "path_separator"),
            ("/etc:passwd", "absolute_path"),
            ("\\\\server", "absolute_path"),
            ("C:\\Windows", "absolute_path"),
            ("c:/x", "absolute_path"),
            ("a\0b", "control_character"),
            ("a\tb", "control_character"),
            ("a\u{85}b", "control_character"),
            ("a\u{7f}", "control_character"),
        ];
        for (raw, want) in cases {
            assert_eq!(clean(raw), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn limits() {
        let seg = "a".repeat(MAX_SEGMENT_BYTES);
        assert!(PageId::clean(&seg).is_ok());
        assert_eq!(clean(&format!("{seg}b")), Err("segment_too_long"));
        let long = vec!["a"; MAX_ID_BYTES / 2 + 1].join(":");
        assert_eq!(clean(&long), Err("too_long"));
        assert_eq!(clean(&" ".repeat(MAX_RAW_BYTES + 1)), Err("too_long"));
    }

    proptest! {
        #[test]
        fn cleaning_is_idempotent_and_safe(raw in "\\PC{0,40}") {
            if let Ok(id) = PageId::clean(&raw) {
                let s = id.as_str();
                prop_assert_eq!(PageId::clean(s).map(String::from), Ok(s.to_owned()));
                prop_assert!(!s.contains(['/', '\\']) && !s.chars().any(char::is_control));
                prop_assert!(s.split(':').all(|seg| !seg.is_empty() && !seg.starts_with('.')));
            }
        }
    }
}
