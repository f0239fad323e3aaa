//! Entry → Atom XML.
//!
//! The output is deterministic (fixed element order, two-space indentation, `\n` line ends,
//! a final newline), so it can be compared byte for byte in snapshot tests and vectors.

use super::base64;
use super::{APP_NS, ATOM_NS, Entry, EntryKind, RevisionRef, TOMBSTONE_NS, WIKISYNC_NS};
use crate::hash::sha256_hex;

/// Media type announced in `atom:content/@type` when the text has to travel as base64; the
/// real media type then goes into `ws:media-type`.
pub(super) const BASE64_MEDIA_TYPE: &str = "application/octet-stream";

/// Renders `entry` as a standalone Atom entry document (UTF-8).
///
/// Page text is carried byte for byte: inline when it can be, as base64 when it holds a
/// character XML 1.0 cannot carry at all, or a carriage return (a CR written as `&#13;`
/// survives one parser, but servers that re-serialize the payload, such as Prosody, write it
/// back raw and the next parser turns it into LF). In the other text fields (title, author, summary, comment, site ids,
/// link), characters XML 1.0 cannot carry (C0 controls other than tab, LF and CR; U+FFFE;
/// U+FFFF) are replaced by U+FFFD. See `docs/protocol.md`.
///
/// ```
/// use wikisync_core::entry::{decode, encode, page_atom_id, DecodeOptions, Entry, EntryKind,
///     RevisionRef, SiteId, DOKUWIKI_MEDIA_TYPE};
/// use wikisync_core::{id::PageId, time::Timestamp};
/// let page = PageId::clean("wiki:start").unwrap();
/// let site = SiteId::new("https://wiki-a.example.org/");
/// let entry = Entry {
///     atom_id: page_atom_id(&page),
///     page,
///     title: "Start".into(),
///     updated: Timestamp(1_795_255_200),
///     author: Some("alice".into()),
///     summary: None,
///     link: None,
///     revision: RevisionRef { revision: 1_795_255_200, site: site.clone() },
///     base: None,
///     clock: vec![RevisionRef { revision: 1_795_255_200, site }],
///     minor: false,
///     source: None,
///     kind: EntryKind::Page {
///         text: "line 1\nline 2 & <more>".into(),
///         media_type: DOKUWIKI_MEDIA_TYPE.into(),
///     },
/// };
/// let xml = encode(&entry);
/// assert!(xml.contains("line 1\nline 2 &amp; &lt;more&gt;"));
/// assert_eq!(decode(xml.as_bytes(), &DecodeOptions::default()), Ok(entry));
/// ```
pub fn encode(entry: &Entry) -> String {
    let text_len = match &entry.kind {
        EntryKind::Page { text, .. } => text.len(),
        EntryKind::Media {
            data: Some(bytes), ..
        } => bytes.len() / 3 * 4 + 4,
        _ => 0,
    };
    let mut out = String::with_capacity(1024 + text_len + text_len / 8);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<entry xmlns=\"");
    out.push_str(ATOM_NS);
    out.push_str("\" xmlns:ws=\"");
    out.push_str(WIKISYNC_NS);
    out.push('"');
    match entry.kind {
        EntryKind::Draft { .. } | EntryKind::Unlock => {
            out.push_str(" xmlns:app=\"");
            out.push_str(APP_NS);
            out.push('"');
        }
        EntryKind::Deleted { .. } | EntryKind::MediaDeleted { .. } => {
            out.push_str(" xmlns:at=\"");
            out.push_str(TOMBSTONE_NS);
            out.push('"');
        }
        EntryKind::Page { .. } | EntryKind::Media { .. } => {}
    }
    out.push_str(">\n");

    text_element(&mut out, "  ", "id", &entry.atom_id);
    text_element(&mut out, "  ", "title", &entry.title);
    text_element(&mut out, "  ", "updated", &entry.updated.to_rfc3339());
    person(&mut out, "  ", "author", entry.author.as_deref());
    match &entry.summary {
        Some(summary) => text_element(&mut out, "  ", "summary", summary),
        // Atom requires a summary beside base64 content; mark ours as a placeholder.
        None if needs_base64(entry) => out.push_str(
            "  <summary ws:placeholder=\"yes\">(page text in base64; no edit summary)</summary>\n",
        ),
        // Atom requires a summary beside base64 or out-of-line content.
        None if matches!(entry.kind, EntryKind::Media { .. }) => out.push_str(
            "  <summary ws:placeholder=\"yes\">(a media file; no edit summary)</summary>\n",
        ),
        None => {}
    }
    if let Some(link) = &entry.link {
        out.push_str("  <link rel=\"alternate\" href=\"");
        escape_attr(&mut out, link);
        out.push_str("\"/>\n");
    }

    let subject = if entry.is_media() {
        "ws:media"
    } else {
        "ws:page"
    };
    text_element(&mut out, "  ", subject, entry.page.as_str());
    revision_element(&mut out, "  ", "ws:revision", &entry.revision);
    if let Some(base) = &entry.base {
        revision_element(&mut out, "  ", "ws:base", base);
    }
    if entry.clock.is_empty() {
        out.push_str("  <ws:clock/>\n");
    } else {
        out.push_str("  <ws:clock>\n");
        for rev in &entry.clock {
            revision_element(&mut out, "    ", "ws:rev", rev);
        }
        out.push_str("  </ws:clock>\n");
    }
    if entry.minor {
        out.push_str("  <ws:minor/>\n");
    }
    if let Some(source) = &entry.source {
        text_element(&mut out, "  ", "ws:source", source.as_str());
    }

    match &entry.kind {
        EntryKind::Page { text, media_type } => {
            text_element(&mut out, "  ", "ws:sha256", &sha256_hex(text));
            content(&mut out, text, media_type);
        }
        EntryKind::Draft {
            lock_expires,
            conflict_with,
        } => {
            out.push_str("  <app:control>\n    <app:draft>yes</app:draft>\n  </app:control>\n");
            text_element(
                &mut out,
                "  ",
                "ws:lock-expires",
                &lock_expires.to_rfc3339(),
            );
            if let Some(conflict) = conflict_with {
                revision_element(&mut out, "  ", "ws:conflict", conflict);
            }
            let who = entry.author.as_deref().unwrap_or("someone");
            let note = format!(
                "{who} is editing this page at {} until {lock_expires}.",
                entry.revision.site
            );
            text_element(&mut out, "  ", "content", &note);
        }
        EntryKind::Unlock => {
            out.push_str("  <app:control>\n    <app:draft>yes</app:draft>\n  </app:control>\n");
            out.push_str("  <ws:unlock/>\n");
            text_element(&mut out, "  ", "content", "Editing ended without saving.");
        }
        EntryKind::Media {
            media_type,
            sha256,
            size,
            data,
            url,
        } => {
            text_element(&mut out, "  ", "ws:sha256", sha256);
            text_element(&mut out, "  ", "ws:size", &size.to_string());
            media_content(&mut out, media_type, data.as_deref(), url.as_deref());
        }
        EntryKind::Deleted { when, by, comment }
        | EntryKind::MediaDeleted { when, by, comment } => {
            out.push_str("  <at:deleted-entry ref=\"");
            escape_attr(&mut out, &entry.atom_id);
            out.push_str("\" when=\"");
            out.push_str(&when.to_rfc3339());
            out.push('"');
            if by.is_none() && comment.is_none() {
                out.push_str("/>\n");
            } else {
                out.push_str(">\n");
                if let Some(by) = by {
                    person(&mut out, "    ", "at:by", Some(by));
                }
                if let Some(comment) = comment {
                    text_element(&mut out, "    ", "at:comment", comment);
                }
                out.push_str("  </at:deleted-entry>\n");
            }
            let what = if entry.is_media() {
                "This media file was deleted."
            } else {
                "This page was deleted."
            };
            text_element(&mut out, "  ", "content", what);
        }
    }
    out.push_str("</entry>\n");
    out
}

/// `<name>text</name>` on its own line.
fn text_element(out: &mut String, indent: &str, name: &str, text: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_text(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// `<name site="…">revision</name>`.
fn revision_element(out: &mut String, indent: &str, name: &str, rev: &RevisionRef) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push_str(" site=\"");
    escape_attr(out, rev.site.as_str());
    out.push_str("\">");
    out.push_str(&rev.revision.to_string());
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// An Atom person construct. Atom requires an author on a standalone entry, so an unknown
/// author is written as an empty `<name/>` (and read back as "unknown").
fn person(out: &mut String, indent: &str, name: &str, who: Option<&str>) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push_str(">\n");
    match who {
        Some(who) => {
            out.push_str(indent);
            text_element(out, "  ", "name", who);
        }
        None => {
            out.push_str(indent);
            out.push_str("  <name/>\n");
        }
    }
    out.push_str(indent);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

/// Whether the page text must travel as base64 (see [`content`]).
fn needs_base64(entry: &Entry) -> bool {
    match &entry.kind {
        EntryKind::Page { text, media_type } => {
            !is_text_media_type(media_type) || !text.chars().all(|c| is_xml_char(c) && c != '\r')
        }
        _ => false,
    }
}

fn is_text_media_type(media_type: &str) -> bool {
    media_type
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("text/"))
}

/// `atom:content`: inline text for `text/*` media types that XML can carry without a CR,
/// base64 otherwise.
fn content(out: &mut String, text: &str, media_type: &str) {
    if is_text_media_type(media_type) {
        let start = out.len();
        out.push_str("  <content type=\"");
        escape_attr(out, media_type);
        out.push_str("\">");
        if escape_text_exact(out, text) {
            out.push_str("</content>\n");
            return;
        }
        // A character XML cannot carry: undo and fall back to base64.
        out.truncate(start);
    }
    out.push_str("  <content type=\"");
    out.push_str(BASE64_MEDIA_TYPE);
    out.push_str("\" ws:media-type=\"");
    escape_attr(out, media_type);
    out.push_str("\">");
    base64::encode_into(text.as_bytes(), out);
    out.push_str("</content>\n");
}

/// A media file's `atom:content`: its bytes in base64 (as `application/octet-stream`, the real
/// type in `ws:media-type`), or out of line (`src`) with its own type.
fn media_content(out: &mut String, media_type: &str, data: Option<&[u8]>, url: Option<&str>) {
    match (data, url) {
        (None, Some(url)) => {
            out.push_str("  <content type=\"");
            escape_attr(out, media_type);
            out.push_str("\" src=\"");
            escape_attr(out, url);
            out.push_str("\"/>\n");
        }
        (bytes, _) => {
            out.push_str("  <content type=\"");
            out.push_str(BASE64_MEDIA_TYPE);
            out.push_str("\" ws:media-type=\"");
            escape_attr(out, media_type);
            out.push_str("\">");
            base64::encode_into(bytes.unwrap_or_default(), out);
            out.push_str("</content>\n");
        }
    }
}

/// Whether XML 1.0 can carry `c` at all (its `Char` production; Rust strings hold no
/// surrogates): every character but the C0 controls other than tab, LF and CR, U+FFFE and
/// U+FFFF, whether written raw or as a character reference.
///
/// ```
/// use wikisync_core::entry::is_xml_char;
///
/// assert!(is_xml_char('\t') && is_xml_char('é'));
/// assert!(!is_xml_char('\u{1}') && !is_xml_char('\u{fffe}'));
/// ```
pub fn is_xml_char(c: char) -> bool {
    !matches!(c, '\0'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Escapes element text exactly, or returns `false` (leaving `out` partly written) if `text`
/// holds a character XML 1.0 cannot carry, or a CR (which intermediaries do not keep).
fn escape_text_exact(out: &mut String, text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'\t' | b'\n' => continue,
            0..0x20 => return false,
            // U+FFFE and U+FFFF are EF BF BE / EF BF BF in UTF-8.
            0xEF if matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) => {
                return false;
            }
            _ => continue,
        };
        out.push_str(&text[start..i]);
        out.push_str(rep);
        start = i + 1;
    }
    out.push_str(&text[start..]);
    true
}

/// Escapes element text; characters XML cannot carry become U+FFFD.
fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

/// Escapes a double-quoted attribute value so that it survives attribute-value
/// normalisation; characters XML cannot carry become U+FFFD.
fn escape_attr(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}
