//! The little Atom the gateway needs: check that a body is one well-formed `atom:entry`, read its
//! `atom:id`, and write the few documents the gateway itself produces (item feeds, tombstones).
//!
//! The gateway holds no wiki logic; it only moves entries. Elements are matched by namespace URI
//! and local name, never by prefix.
//!
//! ```
//! use wikisync_gateway::atom::scan_entry;
//!
//! let entry = r#"<a:entry xmlns:a="http://www.w3.org/2005/Atom"><a:id>urn:x:1</a:id></a:entry>"#;
//! assert_eq!(scan_entry(entry).expect("an entry").id.as_deref(), Some("urn:x:1"));
//! assert!(scan_entry("<entry/>").is_err()); // no Atom namespace
//! ```

use quick_xml::NsReader;
use quick_xml::escape::{escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use wikisync_core::entry::is_xml_char;

/// The Atom namespace (RFC 4287).
pub const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
/// The Atom tombstones namespace (RFC 6721).
pub const TOMBSTONES_NS: &str = "http://purl.org/atompub/tombstones/1.0";

/// What the gateway reads from an entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryInfo {
    /// The text of the entry's `atom:id` child, trimmed; `None` when it has none.
    pub id: Option<String>,
}

/// Why a body is not an Atom entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The XML is not well-formed; the message says where and why.
    #[error("the body is not well-formed XML: {0}")]
    Malformed(String),
    /// The document element is not `{http://www.w3.org/2005/Atom}entry`.
    #[error("the document element is not an Atom entry (namespace http://www.w3.org/2005/Atom)")]
    NotAnEntry,
    /// The body declares a DOCTYPE, which the gateway refuses (entity expansion attacks).
    #[error("a DOCTYPE is not allowed")]
    Doctype,
    /// There is something other than whitespace, comments or processing instructions after the
    /// entry, or nothing at all.
    #[error("the body must contain exactly one entry element")]
    NotOneElement,
    /// The body holds a character XML 1.0 does not allow (a C0 control other than tab, LF and
    /// CR, U+FFFE or U+FFFF), raw or as a character reference, in text or in an attribute:
    /// subscribers could not parse it (the check is the core's
    /// [`wikisync_core::entry::is_xml_char`]).
    #[error(
        "the entry holds U+{code:04X} {place}, a character XML 1.0 does not allow; subscribers could not parse it"
    )]
    ForbiddenChar {
        /// The character's code point.
        code: u32,
        /// Where: `at byte N`, `as a character reference` or `in an attribute value`.
        place: String,
    },
}

/// The first character of `text` XML 1.0 does not allow, described at `place`.
fn check_chars(text: &str, place: impl FnOnce(usize) -> String) -> Result<(), EntryError> {
    match text.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        Some((at, c)) => Err(EntryError::ForbiddenChar {
            code: u32::from(c),
            place: place(at),
        }),
        None => Ok(()),
    }
}

/// Checks that `xml` is exactly one well-formed Atom entry and reads its `atom:id`.
pub fn scan_entry(xml: &str) -> Result<EntryInfo, EntryError> {
    check_chars(xml, |at| format!("at byte {at}"))?;
    let mut reader = NsReader::from_str(xml);
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut in_id = false;
    let mut id: Option<String> = None;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| EntryError::Malformed(e.to_string()))?;
        let is_atom = |ns: &ResolveResult<'_>| matches!(ns, ResolveResult::Bound(Namespace(n)) if *n == ATOM_NS);
        if let Event::Start(start) | Event::Empty(start) = &event {
            for attribute in start.attributes() {
                let attribute = attribute.map_err(|e| EntryError::Malformed(e.to_string()))?;
                let value = attribute
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| EntryError::Malformed(e.to_string()))?;
                check_chars(&value, |_| "in an attribute value".to_owned())?;
            }
        }
        match event {
            Event::Start(start) if depth == 0 => {
                check_root(&mut seen_root, is_atom(&ns), start.local_name().as_ref())?;
                depth = 1;
            }
            Event::Empty(start) if depth == 0 => {
                check_root(&mut seen_root, is_atom(&ns), start.local_name().as_ref())?;
            }
            Event::Start(start) => {
                if depth == 1 && id.is_none() && is_atom(&ns) && start.local_name().as_ref() == "id"
                {
                    in_id = true;
                    id = Some(String::new());
                }
                depth += 1;
            }
            Event::Empty(start) => {
                if depth == 1 && id.is_none() && is_atom(&ns) && start.local_name().as_ref() == "id"
                {
                    id = Some(String::new());
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                in_id = false;
            }
            Event::Text(text) => {
                if depth == 0 && !text.trim().is_empty() {
                    return Err(EntryError::NotOneElement);
                }
                if in_id {
                    push(&mut id, &text.xml10_content());
                }
            }
            Event::CData(data) => {
                if depth == 0 {
                    return Err(EntryError::NotOneElement);
                }
                if in_id {
                    push(&mut id, &data);
                }
            }
            Event::GeneralRef(reference) => {
                if depth == 0 {
                    return Err(EntryError::NotOneElement);
                }
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => resolve_predefined_entity(&reference)
                        .map(str::to_owned)
                        .ok_or_else(|| {
                            EntryError::Malformed(format!("unknown entity &{};", &*reference))
                        })?,
                    Err(e) => return Err(EntryError::Malformed(e.to_string())),
                };
                check_chars(&resolved, |_| "as a character reference".to_owned())?;
                if in_id {
                    push(&mut id, &resolved);
                }
            }
            Event::DocType(_) => return Err(EntryError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !seen_root {
        return Err(EntryError::NotOneElement);
    }
    if depth != 0 {
        return Err(EntryError::Malformed(
            "the entry element is not closed".to_owned(),
        ));
    }
    Ok(EntryInfo {
        id: id.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
    })
}

fn check_root(seen_root: &mut bool, is_atom: bool, local_name: &str) -> Result<(), EntryError> {
    if *seen_root {
        return Err(EntryError::NotOneElement);
    }
    if !(is_atom && local_name == "entry") {
        return Err(EntryError::NotAnEntry);
    }
    *seen_root = true;
    Ok(())
}

fn push(id: &mut Option<String>, text: &str) {
    if let Some(id) = id {
        id.push_str(text);
    }
}

/// The entry as it is embedded in a feed: without its XML declaration, byte order mark or
/// leading whitespace.
pub fn strip_prolog(xml: &str) -> &str {
    let mut rest = xml.trim_start_matches('\u{feff}').trim_start();
    if rest.starts_with("<?xml")
        && let Some(end) = rest.find("?>")
    {
        rest = rest[end + 2..].trim_start();
    }
    rest
}

/// The namespace of what the gateway adds to entries it serves (`/items`).
pub const GATEWAY_NS: &str = "urn:x-wikisync:gateway:1";

/// `entry` with the authenticated site that published it added as its last child,
/// `<publisher xmlns="urn:x-wikisync:gateway:1">SITE</publisher>` (entry decoders skip
/// elements of namespaces they do not know); an entry without a closing tag (`<entry/>`) is
/// returned as it is.
pub fn with_publisher(entry: &str, publisher: &str) -> String {
    let entry = strip_prolog(entry).trim_end();
    let Some(close) = entry.rfind("</") else {
        return entry.to_owned();
    };
    let mut out = String::with_capacity(entry.len() + publisher.len() + 64);
    out.push_str(&entry[..close]);
    out.push_str("<publisher xmlns=\"");
    out.push_str(GATEWAY_NS);
    out.push_str("\">");
    out.push_str(&escape(publisher));
    out.push_str("</publisher>");
    out.push_str(&entry[close..]);
    out
}

/// An Atom feed of `entries`, newest first, as `GET /items` returns it (Idavoll's title
/// "Retrieved item collection"), with an RFC 5005 `<link rel="next" href="…"/>` to the next
/// page when there is one.
pub fn items_feed(node_uri: &str, updated: &str, entries: &[String], next: Option<&str>) -> String {
    let mut feed = String::with_capacity(256 + entries.iter().map(String::len).sum::<usize>());
    feed.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    feed.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">");
    feed.push_str("<title>Retrieved item collection</title>");
    feed.push_str("<id>");
    feed.push_str(&escape(node_uri));
    feed.push_str("</id><updated>");
    feed.push_str(updated);
    feed.push_str("</updated>");
    if let Some(next) = next {
        feed.push_str("<link rel=\"next\" href=\"");
        feed.push_str(&escape(next));
        feed.push_str("\"/>");
    }
    for entry in entries {
        feed.push_str(strip_prolog(entry));
    }
    feed.push_str("</feed>\n");
    feed
}

/// The RFC 6721 tombstone sent to callbacks when an item is retracted.
pub fn deleted_entry(item_id: &str, when: &str) -> String {
    format!(
        "<at:deleted-entry xmlns:at=\"{TOMBSTONES_NS}\" ref=\"{}\" when=\"{when}\"/>",
        escape(item_id)
    )
}

/// Formats Unix milliseconds as an RFC 3339 UTC timestamp (`2026-11-21T19:12:36Z`).
pub fn rfc3339(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENTRY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<entry xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id><title>T</title></entry>
"#;

    #[test]
    fn the_publisher_is_the_last_child_of_the_entry_escaped() {
        assert_eq!(
            with_publisher(ENTRY, "http://a.example/?x<y&z"),
            "<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id><title>T</title><publisher xmlns=\"urn:x-wikisync:gateway:1\">http://a.example/?x&lt;y&amp;z</publisher></entry>"
        );
        let prefixed = r#"<a:entry xmlns:a="http://www.w3.org/2005/Atom"><a:id>x</a:id></a:entry>"#;
        assert_eq!(
            with_publisher(prefixed, "s"),
            r#"<a:entry xmlns:a="http://www.w3.org/2005/Atom"><a:id>x</a:id><publisher xmlns="urn:x-wikisync:gateway:1">s</publisher></a:entry>"#
        );
        let empty = r#"<entry xmlns="http://www.w3.org/2005/Atom"/>"#;
        assert_eq!(
            with_publisher(empty, "s"),
            empty,
            "no closing tag: left as it is"
        );
    }

    #[test]
    fn reads_the_id_of_a_default_namespace_entry() {
        let info = scan_entry(ENTRY).expect("valid");
        assert_eq!(
            info.id.as_deref(),
            Some("urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a")
        );
    }

    #[test]
    fn id_is_matched_by_namespace_not_prefix() {
        let xml = r#"<e:entry xmlns:e="http://www.w3.org/2005/Atom" xmlns:x="urn:other"><x:id>wrong</x:id><e:id> a&amp;b&#x21; </e:id></e:entry>"#;
        assert_eq!(scan_entry(xml).expect("valid").id.as_deref(), Some("a&b!"));
        let nested =
            r#"<entry xmlns="http://www.w3.org/2005/Atom"><source><id>inner</id></source></entry>"#;
        assert_eq!(scan_entry(nested).expect("valid").id, None);
    }

    #[test]
    fn rejects_what_is_not_one_entry() {
        assert_eq!(scan_entry("<entry/>"), Err(EntryError::NotAnEntry));
        assert_eq!(
            scan_entry(r#"<feed xmlns="http://www.w3.org/2005/Atom"/>"#),
            Err(EntryError::NotAnEntry)
        );
        assert_eq!(scan_entry(""), Err(EntryError::NotOneElement));
        assert_eq!(scan_entry("just text"), Err(EntryError::NotOneElement));
        let two = r#"<entry xmlns="http://www.w3.org/2005/Atom"/><entry xmlns="http://www.w3.org/2005/Atom"/>"#;
        assert_eq!(scan_entry(two), Err(EntryError::NotOneElement));
        let doctype =
            r#"<!DOCTYPE x [<!ENTITY a "b">]><entry xmlns="http://www.w3.org/2005/Atom"/>"#;
        assert_eq!(scan_entry(doctype), Err(EntryError::Doctype));
    }

    #[test]
    fn rejects_malformed_xml() {
        for xml in [
            r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>x</entry>"#,
            r#"<entry xmlns="http://www.w3.org/2005/Atom"><id>x</id>"#,
            r#"<entry xmlns="http://www.w3.org/2005/Atom">&bogus;</entry>"#,
            r#"<entry xmlns="http://www.w3.org/2005/Atom" a="1" a="2"/>"#,
        ] {
            assert!(
                matches!(scan_entry(xml), Err(EntryError::Malformed(_))),
                "{xml}"
            );
        }
    }

    #[test]
    fn rejects_characters_xml_forbids_raw_referenced_or_in_attributes() {
        for (xml, code) in [
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\">a\u{1}</entry>",
                0x1,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\">\u{b}</entry>",
                0xb,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\">\u{1f}</entry>",
                0x1f,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\">\u{fffe}</entry>",
                0xfffe,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\"><!-- \u{ffff} --></entry>",
                0xffff,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\">&#x1;</entry>",
                0x1,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>&#xFFFE;</id></entry>",
                0xfffe,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\" a=\"&#x1;\"/>",
                0x1,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\"><x y=\"&#65535;\"/></entry>",
                0xffff,
            ),
            (
                "<entry xmlns=\"http://www.w3.org/2005/Atom\" a=\"\u{1f}\"/>",
                0x1f,
            ),
        ] {
            assert!(
                matches!(scan_entry(xml), Err(EntryError::ForbiddenChar { code: c, .. }) if c == code),
                "{xml:?}: {:?}",
                scan_entry(xml)
            );
        }
        let fine = "<entry xmlns=\"http://www.w3.org/2005/Atom\" a=\"&#x9;&#xA;\">\t&#xD;&#xFFFD;\u{10000}</entry>";
        assert!(scan_entry(fine).is_ok());
    }

    #[test]
    fn empty_entry_element_is_an_entry_without_id() {
        let info = scan_entry(r#"<entry xmlns="http://www.w3.org/2005/Atom"/>"#).expect("valid");
        assert_eq!(info.id, None);
    }

    #[test]
    fn feed_embeds_entries_without_their_declaration() {
        let feed = items_feed(
            "xmpp:svc?;node=a&b",
            "2026-01-01T00:00:00Z",
            &[ENTRY.to_owned()],
            None,
        );
        assert!(!feed[10..].contains("<?xml"));
        assert!(feed.contains("<id>xmpp:svc?;node=a&amp;b</id>"));
        assert!(feed.contains("<entry xmlns=\"http://www.w3.org/2005/Atom\"><id>urn:uuid:"));
        assert!(!feed.contains("rel=\"next\""), "no next page");
        let paged = items_feed(
            "n",
            "2026-01-01T00:00:00Z",
            &[],
            Some("http://g/items?uri=n&after=s1"),
        );
        assert!(paged.contains("<link rel=\"next\" href=\"http://g/items?uri=n&amp;after=s1\"/>"));
    }

    #[test]
    fn tombstone_escapes_the_ref() {
        assert_eq!(
            deleted_entry("a\"<b", "2026-01-01T00:00:00Z"),
            "<at:deleted-entry xmlns:at=\"http://purl.org/atompub/tombstones/1.0\" ref=\"a&quot;&lt;b\" when=\"2026-01-01T00:00:00Z\"/>"
        );
    }

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_288_356_999), "2026-11-21T19:12:36Z");
        assert_eq!(rfc3339(-1000), "1969-12-31T23:59:59Z");
    }
}
