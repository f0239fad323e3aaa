//! Atom feed → entries: what a host does with the answer of the gateway's `GET /items`.
//!
//! Each entry of the feed is decoded on its own, exactly as [`decode`] decodes a standalone
//! entry document (so a feed and a callback can never disagree about an entry): its bytes are
//! cut out of the feed and the namespace declarations it inherits from the feed element are
//! written onto it. One bad entry does not spoil the others: each comes back as a `Result`.
//! Only a feed that is not well-formed, or not a feed, is refused as a whole.
//!
//! ```
//! use wikisync_core::entry::{decode_feed, DecodeOptions};
//! let feed = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:ws="urn:x-wikisync:entry:1">
//!   <title>items</title>
//!   <entry><id>urn:x-wikisync:page:b</id><title>b</title><updated>2026-11-21T10:00:02Z</updated>
//!     <ws:page>b</ws:page><ws:revision site="s">2</ws:revision>
//!     <ws:sha256>3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d</ws:sha256>
//!     <content type="text/x-dokuwiki">b</content></entry>
//!   <entry><id>urn:x-wikisync:page:a</id><title>a</title><updated>2026-11-21T10:00:01Z</updated>
//!     <ws:revision site="s">1</ws:revision></entry>
//! </feed>"#;
//! let entries = decode_feed(feed.as_bytes(), &DecodeOptions::default())?;
//! // Oldest first: the feed lists the newest first.
//! assert_eq!(entries[0].as_ref().map_err(|e| e.code()), Err("missing_page_id"));
//! assert_eq!(entries[1].as_ref().map(|e| e.page.as_str()), Ok("b"));
//! # Ok::<(), wikisync_core::entry::DecodeError>(())
//! ```

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::{ATOM_NS, DecodeError, DecodeOptions, Entry, TOMBSTONE_NS, decode};

/// Decodes every entry (`atom:entry` or `at:deleted-entry`) of an Atom feed, **oldest first**:
/// in the reverse of the feed's order, since feeds (and the gateway's `/items`) list the
/// newest first, and a host applies entries in the order they were made. A document that is
/// itself one entry gives that entry alone.
///
/// Each entry is checked against `options` (its size included) on its own. The whole feed
/// is refused when it is not well-formed XML, has a DOCTYPE, or its root element is neither
/// a feed nor an entry ([`DecodeError::NotAFeed`]).
pub fn decode_feed(
    input: &[u8],
    options: &DecodeOptions,
) -> Result<Vec<Result<Entry, DecodeError>>, DecodeError> {
    let text = std::str::from_utf8(input).map_err(|e| {
        DecodeError::Malformed(format!("invalid UTF-8 at byte {}", e.valid_up_to()))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    let mut entries = Vec::new();
    let mut inherited: Option<Vec<(String, String)>> = None;
    let mut root_open = false;
    loop {
        let before = offset(&reader);
        let (start, empty) = match reader.read_event().map_err(malformed)? {
            Event::DocType(_) => return Err(DecodeError::Doctype),
            Event::Eof if root_open => return Err(malformed_eof()),
            Event::Eof => break,
            Event::Start(_) | Event::Empty(_) if inherited.is_some() && !root_open => {
                return Err(DecodeError::Malformed(
                    "more than one root element".to_owned(),
                ));
            }
            Event::Start(start) => (start, false),
            Event::Empty(start) => (start, true),
            Event::End(_) => {
                // The feed's end tag: children are read whole below.
                root_open = false;
                continue;
            }
            _ => continue,
        };
        let (kind, described) = kind_of(&reader, &start);
        let Some(declared) = &inherited else {
            // The root element.
            match kind {
                Kind::Feed => {
                    inherited = Some(namespace_declarations(&start)?);
                    root_open = !empty;
                    continue;
                }
                Kind::Entry => return Ok(vec![decode(input, options)]),
                Kind::Other => return Err(DecodeError::NotAFeed(described)),
            }
        };
        if !empty {
            reader.read_to_end(start.name()).map_err(malformed)?;
        }
        if kind == Kind::Entry {
            let span = &text[before..offset(&reader)];
            entries.push(decode(with_namespaces(span, declared).as_bytes(), options));
        }
    }
    if inherited.is_none() {
        return Err(DecodeError::Malformed(
            "the document has no root element".to_owned(),
        ));
    }
    entries.reverse();
    Ok(entries)
}

/// The item id a bare retraction names: the `ref` of a standalone RFC 6721
/// `at:deleted-entry` (what the gateway posts with `Event: RETRACTED` when an item is retracted
/// without a wikisync tombstone). Anything else is refused (`not_an_entry`, or the errors of a
/// document that is not well-formed).
///
/// ```
/// use wikisync_core::entry::decode_retraction;
/// let xml = r#"<at:deleted-entry xmlns:at="http://purl.org/atompub/tombstones/1.0"
///     ref="urn:x-wikisync:page:wiki:start" when="2026-11-21T10:00:00Z"/>"#;
/// assert_eq!(decode_retraction(xml.as_bytes()).as_deref(), Ok("urn:x-wikisync:page:wiki:start"));
/// ```
pub fn decode_retraction(input: &[u8]) -> Result<String, DecodeError> {
    let text = std::str::from_utf8(input).map_err(|e| {
        DecodeError::Malformed(format!("invalid UTF-8 at byte {}", e.valid_up_to()))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = NsReader::from_str(text);
    loop {
        match reader.read_event().map_err(malformed)? {
            Event::DocType(_) => return Err(DecodeError::Doctype),
            Event::Eof => {
                return Err(DecodeError::Malformed(
                    "the document has no root element".to_owned(),
                ));
            }
            Event::Start(start) | Event::Empty(start) => {
                let (ns, local) = reader.resolver().resolve_element(start.name());
                let is_tombstone = matches!(&ns, ResolveResult::Bound(ns) if ns.as_ref() == TOMBSTONE_NS)
                    && local.as_ref() == "deleted-entry";
                if !is_tombstone {
                    return Err(DecodeError::NotAnEntry(kind_of(&reader, &start).1));
                }
                for attr in start.attributes() {
                    let attr = attr.map_err(|e| DecodeError::Malformed(e.to_string()))?;
                    if attr.key.as_ref() == "ref" {
                        return Ok(super::decode::attr_value(&attr)?.trim().to_owned());
                    }
                }
                return Err(DecodeError::MissingElement("at:deleted-entry/@ref"));
            }
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Feed,
    Entry,
    Other,
}

fn kind_of(reader: &NsReader<&[u8]>, start: &BytesStart<'_>) -> (Kind, String) {
    let (ns, local) = reader.resolver().resolve_element(start.name());
    let local: &str = local.as_ref();
    let ns = match ns {
        ResolveResult::Bound(ns) => ns.as_ref().to_owned(),
        _ => String::new(),
    };
    let kind = match (ns.as_str(), local) {
        (ATOM_NS, "feed") => Kind::Feed,
        (ATOM_NS, "entry") | (TOMBSTONE_NS, "deleted-entry") => Kind::Entry,
        _ => Kind::Other,
    };
    (kind, format!("{{{ns}}}{local}"))
}

fn offset(reader: &NsReader<&[u8]>) -> usize {
    // The input is a `&str` in memory, so every position fits in `usize`.
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

fn malformed(e: quick_xml::Error) -> DecodeError {
    DecodeError::Malformed(e.to_string())
}

fn malformed_eof() -> DecodeError {
    DecodeError::Malformed("unexpected end of input".to_owned())
}

/// The `xmlns` and `xmlns:*` attributes of the feed element, as written (name, raw value).
fn namespace_declarations(start: &BytesStart<'_>) -> Result<Vec<(String, String)>, DecodeError> {
    let mut out = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| DecodeError::Malformed(e.to_string()))?;
        let key = attr.key.as_ref().to_owned();
        if key == "xmlns" || key.starts_with("xmlns:") {
            let raw = attr.value.to_string();
            out.push((key, raw));
        }
    }
    Ok(out)
}

/// The entry's bytes with the feed's namespace declarations it does not redeclare written
/// onto its start tag, so that it means the same on its own as inside the feed.
fn with_namespaces(span: &str, declared: &[(String, String)]) -> String {
    // `span` starts with `<name` (the reader reported a start tag there).
    let name_end = span
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_ascii_whitespace() || *c == '>' || *c == '/')
        .map_or(span.len(), |(i, _)| i);
    let (head, rest) = span.split_at(name_end);
    let tag_end = rest.find('>').unwrap_or(rest.len());
    let own = &rest[..tag_end];
    let mut out = String::with_capacity(span.len() + 64);
    out.push_str(head);
    for (key, value) in declared {
        if !declares(own, key) {
            out.push(' ');
            out.push_str(key);
            out.push_str("=\"");
            out.push_str(&value.replace('"', "&quot;"));
            out.push('"');
        }
    }
    out.push_str(rest);
    out
}

/// Whether the attributes text of a start tag declares `key` (e.g. `xmlns:ws`).
fn declares(attributes: &str, key: &str) -> bool {
    attributes.match_indices(key).any(|(i, _)| {
        let before = attributes[..i].chars().next_back();
        let after = attributes[i + key.len()..].trim_start().chars().next();
        before.is_some_and(|c| c.is_ascii_whitespace()) && after == Some('=')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(feed: &str) -> Result<Vec<Result<String, &'static str>>, &'static str> {
        decode_feed(feed.as_bytes(), &DecodeOptions::default())
            .map(|v| {
                v.into_iter()
                    .map(|r| r.map(|e| e.page.to_string()).map_err(|e| e.code()))
                    .collect()
            })
            .map_err(|e| e.code())
    }

    const ENTRY_B: &str = r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>urn:x-wikisync:page:b</id><title>b</title><updated>2026-11-21T10:00:00Z</updated><page xmlns="urn:x-wikisync:entry:1">b</page><ws:revision xmlns:ws="urn:x-wikisync:entry:1" site="s">1</ws:revision><sha256 xmlns="urn:x-wikisync:entry:1">3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d</sha256><content type="text/x-dokuwiki">b</content></entry>"#;

    #[test]
    fn feeds_of_standalone_entries_decode_each() {
        let feed = format!(
            r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>{ENTRY_B}<at:deleted-entry xmlns:at="http://purl.org/atompub/tombstones/1.0" ref="urn:x-wikisync:page:c" when="2026-11-21T10:00:00Z"/></feed>"#
        );
        // The tombstone has no page id (a gateway's retraction), the entry does.
        assert_eq!(
            codes(&feed),
            Ok(vec![Err("missing_page_id"), Ok("b".to_owned())])
        );
    }

    #[test]
    fn an_empty_feed_has_no_entries_and_a_single_entry_is_itself() {
        assert_eq!(
            codes(r#"<feed xmlns="http://www.w3.org/2005/Atom"/>"#),
            Ok(vec![])
        );
        assert_eq!(codes(ENTRY_B), Ok(vec![Ok("b".to_owned())]));
    }

    #[test]
    fn not_a_feed_or_not_xml_is_refused_whole() {
        assert_eq!(codes("<html/>"), Err("not_a_feed"));
        assert_eq!(
            codes(r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry>"#),
            Err("malformed_xml")
        );
        assert_eq!(
            codes(r#"<!DOCTYPE feed><feed xmlns="http://www.w3.org/2005/Atom"/>"#),
            Err("doctype")
        );
        assert_eq!(codes(""), Err("malformed_xml"));
    }

    #[test]
    fn carriage_returns_survive_as_in_a_standalone_entry() {
        let entry = r#"<entry xmlns="http://www.w3.org/2005/Atom" xmlns:ws="urn:x-wikisync:entry:1"><id>urn:x-wikisync:page:p</id><title>p</title><updated>2026-11-21T10:00:00Z</updated><ws:page>p</ws:page><ws:revision site="s">1</ws:revision><ws:sha256>HASH</ws:sha256><content type="text/x-dokuwiki">a&#13;
b</content></entry>"#
            .replace("HASH", &crate::hash::sha256_hex("a\r\nb"));
        let feed = format!(r#"<feed xmlns="http://www.w3.org/2005/Atom">{entry}</feed>"#);
        let got = decode_feed(feed.as_bytes(), &DecodeOptions::default()).expect("a feed");
        let alone = decode(entry.as_bytes(), &DecodeOptions::default()).expect("an entry");
        assert_eq!(got, vec![Ok(alone.clone())]);
        assert_eq!(alone.text(), Some("a\r\nb"));
    }
}
