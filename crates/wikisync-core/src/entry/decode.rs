//! Atom XML → entry.
//!
//! The parser is namespace-aware: elements are matched by namespace URI and local name, never
//! by prefix. Unknown elements (foreign extensions, XHTML) are skipped with everything inside
//! them, but still checked for well-formedness. A DOCTYPE is refused outright and no entity
//! other than the XML predefines and character references is ever expanded.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use super::encode::is_xml_char;
use super::{
    APP_NS, ATOM_NS, DecodeError, Entry, EntryKind, RevisionRef, SiteId, TOMBSTONE_NS, WIKISYNC_NS,
    base64,
};
use crate::hash::sha256_hex;
use crate::id::PageId;
use crate::time::Timestamp;

/// Limits and switches for [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Largest accepted input, in bytes (default 16 MiB).
    pub max_bytes: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

impl DecodeOptions {
    /// The default options with another size limit.
    pub fn with_max_bytes(max_bytes: usize) -> Self {
        DecodeOptions { max_bytes }
    }
}

/// Parses one wikisync Atom entry: an `atom:entry` document, or a standalone RFC 6721
/// `at:deleted-entry` document (see `docs/protocol.md`).
///
/// ```
/// use wikisync_core::entry::{decode, DecodeOptions};
/// let xml = r#"<x:entry xmlns:x="http://www.w3.org/2005/Atom"><x:title>T</x:title>
///   <x:updated>2026-11-21T10:00:00Z</x:updated><x:id>urn:x-wikisync:page:a</x:id>
///   <p xmlns="urn:x-wikisync:entry:1">a</p><!-- not a page id: wrong local name -->
/// </x:entry>"#;
/// let err = decode(xml.as_bytes(), &DecodeOptions::default()).unwrap_err();
/// assert_eq!(err.code(), "missing_page_id");
/// ```
pub fn decode(input: &[u8], options: &DecodeOptions) -> Result<Entry, DecodeError> {
    if input.len() > options.max_bytes {
        return Err(DecodeError::TooLarge {
            size: input.len(),
            max: options.max_bytes,
        });
    }
    let text = std::str::from_utf8(input).map_err(|e| {
        DecodeError::Malformed(format!("invalid UTF-8 at byte {}", e.valid_up_to()))
    })?;
    // Drop a byte order mark here so that reader positions index `text` directly.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut parser = Parser {
        reader: NsReader::from_str(text),
        input: text,
    };
    let entry = parser.document()?;
    Ok(entry)
}

/// The elements the profile knows, resolved from (namespace URI, local name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Entry,
    Id,
    Title,
    Updated,
    Author,
    Name,
    Summary,
    Link,
    Content,
    Control,
    Draft,
    DeletedEntry,
    By,
    Comment,
    Page,
    Media,
    Size,
    Revision,
    Base,
    Clock,
    Rev,
    Sha256,
    Minor,
    Source,
    LockExpires,
    Conflict,
    Unlock,
    Other,
}

fn tag_of(ns: &ResolveResult<'_>, local: &str) -> Tag {
    let ResolveResult::Bound(ns) = ns else {
        return Tag::Other;
    };
    match (ns.as_ref(), local) {
        (n, l) if n == ATOM_NS => match l {
            "entry" => Tag::Entry,
            "id" => Tag::Id,
            "title" => Tag::Title,
            "updated" => Tag::Updated,
            "author" => Tag::Author,
            "name" => Tag::Name,
            "summary" => Tag::Summary,
            "link" => Tag::Link,
            "content" => Tag::Content,
            _ => Tag::Other,
        },
        (n, l) if n == WIKISYNC_NS => match l {
            "page" => Tag::Page,
            "media" => Tag::Media,
            "size" => Tag::Size,
            "revision" => Tag::Revision,
            "base" => Tag::Base,
            "clock" => Tag::Clock,
            "rev" => Tag::Rev,
            "sha256" => Tag::Sha256,
            "minor" => Tag::Minor,
            "source" => Tag::Source,
            "lock-expires" => Tag::LockExpires,
            "conflict" => Tag::Conflict,
            "unlock" => Tag::Unlock,
            _ => Tag::Other,
        },
        (n, "control") if n == APP_NS => Tag::Control,
        (n, "draft") if n == APP_NS => Tag::Draft,
        (n, "deleted-entry") if n == TOMBSTONE_NS => Tag::DeletedEntry,
        (n, "by") if n == TOMBSTONE_NS => Tag::By,
        (n, "comment") if n == TOMBSTONE_NS => Tag::Comment,
        _ => Tag::Other,
    }
}

/// An element start: its tag, whether it is empty (`<x/>`), and the raw start tag.
struct Open<'a> {
    tag: Tag,
    empty: bool,
    start: BytesStart<'a>,
}

/// What an entry document said, before the kind is decided.
#[derive(Default)]
struct Fields {
    atom_id: Option<String>,
    title: Option<String>,
    updated: Option<Timestamp>,
    author: Option<Option<String>>,
    summary: Option<String>,
    placeholder_summary: bool,
    link: Option<String>,
    page: Option<String>,
    revision: Option<RevisionRef>,
    base: Option<RevisionRef>,
    clock: Option<Vec<RevisionRef>>,
    sha256: Option<String>,
    minor: bool,
    source: Option<String>,
    lock_expires: Option<Timestamp>,
    conflict: Option<RevisionRef>,
    unlock: bool,
    draft: Option<bool>,
    media: Option<String>,
    size: Option<u64>,
    content: Option<Content>,
    deleted: Option<Tombstone>,
}

/// An `atom:content` as read: its body and its media type.
struct Content {
    body: Body,
    media_type: String,
}

/// What an `atom:content` carried.
enum Body {
    /// Inline text (a `text/*` or XML type).
    Text(String),
    /// Base64 of any other type, decoded.
    Bytes(Vec<u8>),
    /// Out of line: the `src` URI.
    Src(String),
}

/// The data of an `at:deleted-entry`.
struct Tombstone {
    atom_id: String,
    when: Timestamp,
    by: Option<String>,
    comment: Option<String>,
}

fn set<T>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(DecodeError::DuplicateElement(name));
    }
    *slot = Some(value);
    Ok(())
}

fn xml_error(e: quick_xml::Error) -> DecodeError {
    match e {
        quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(_, name)) => {
            DecodeError::UnknownEntity(name)
        }
        e => DecodeError::Malformed(e.to_string()),
    }
}

/// XML whitespace, trimmed around token values (ids, numbers, timestamps, hashes).
fn trim_xml(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r'])
}

struct Parser<'a> {
    reader: NsReader<&'a [u8]>,
    /// The whole input, for slicing element spans.
    input: &'a str,
}

impl<'a> Parser<'a> {
    /// The next event, with DOCTYPE refused.
    fn event(&mut self) -> Result<Event<'a>, DecodeError> {
        match self.reader.read_event().map_err(xml_error)? {
            Event::DocType(_) => Err(DecodeError::Doctype),
            event => Ok(event),
        }
    }

    fn open(&self, start: BytesStart<'a>, empty: bool) -> Open<'a> {
        let (ns, local) = self.reader.resolver().resolve_element(start.name());
        let tag = tag_of(&ns, local.as_ref());
        Open { tag, empty, start }
    }

    fn describe(&self, start: &BytesStart<'_>) -> String {
        let (ns, local) = self.reader.resolver().resolve_element(start.name());
        let local: &str = local.as_ref();
        match ns {
            ResolveResult::Bound(ns) => {
                format!("{{{}}}{local}", ns.as_ref())
            }
            _ => local.to_owned(),
        }
    }

    /// The whole document: prolog, one root element, trailing misc.
    fn document(&mut self) -> Result<Entry, DecodeError> {
        let mut result = None;
        loop {
            match self.event()? {
                Event::Decl(decl) => {
                    if let Some(enc) = decl.encoding() {
                        let enc = enc.map_err(|e| DecodeError::Malformed(e.to_string()))?;
                        if !enc.eq_ignore_ascii_case("utf-8") {
                            return Err(DecodeError::Malformed(format!(
                                "unsupported encoding {enc}"
                            )));
                        }
                    }
                }
                Event::Start(start) | Event::Empty(start) if result.is_some() => {
                    let _ = start;
                    return Err(DecodeError::Malformed(
                        "more than one root element".to_owned(),
                    ));
                }
                Event::Start(start) => {
                    let open = self.open(start, false);
                    result = Some(self.root(open)?);
                }
                Event::Empty(start) => {
                    let open = self.open(start, true);
                    result = Some(self.root(open)?);
                }
                Event::Text(t) => {
                    if !trim_xml(&t.xml10_content()).is_empty() {
                        return Err(DecodeError::Malformed(
                            "text outside the root element".to_owned(),
                        ));
                    }
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => {
                    return result.ok_or_else(|| {
                        DecodeError::Malformed("the document has no root element".to_owned())
                    });
                }
                Event::End(_) | Event::CData(_) | Event::GeneralRef(_) | Event::DocType(_) => {
                    return Err(DecodeError::Malformed(
                        "content outside the root element".to_owned(),
                    ));
                }
            }
        }
    }

    fn root(&mut self, open: Open<'a>) -> Result<Entry, DecodeError> {
        let mut fields = Fields::default();
        match open.tag {
            Tag::Entry => {
                if !open.empty {
                    self.entry_children(&mut fields)?;
                }
            }
            Tag::DeletedEntry => {
                let tombstone = self.tombstone(&open, &mut fields)?;
                fields.updated.get_or_insert(tombstone.when);
                fields
                    .atom_id
                    .get_or_insert_with(|| tombstone.atom_id.clone());
                fields.deleted = Some(tombstone);
            }
            _ => return Err(DecodeError::NotAnEntry(self.describe(&open.start))),
        }
        build(fields)
    }

    /// Children of `atom:entry` (and the wikisync elements inside a standalone tombstone).
    fn entry_children(&mut self, f: &mut Fields) -> Result<(), DecodeError> {
        loop {
            let open = match self.event()? {
                Event::Start(start) => self.open(start, false),
                Event::Empty(start) => self.open(start, true),
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(eof()),
                Event::GeneralRef(r) => {
                    resolve_ref(&r)?;
                    continue;
                }
                _ => continue,
            };
            self.entry_child(open, f)?;
        }
    }

    fn entry_child(&mut self, open: Open<'a>, f: &mut Fields) -> Result<(), DecodeError> {
        match open.tag {
            Tag::Id => set(
                &mut f.atom_id,
                trim_xml(&self.text(&open)?).to_owned(),
                "atom:id",
            ),
            Tag::Title => set(&mut f.title, self.text(&open)?, "atom:title"),
            Tag::Summary => {
                let placeholder = self
                    .ns_attributes(&open.start)?
                    .iter()
                    .any(|(ws, local, value)| *ws && local == "placeholder" && value == "yes");
                let text = self.text(&open)?;
                if f.summary.is_some() || f.placeholder_summary {
                    return Err(DecodeError::DuplicateElement("atom:summary"));
                }
                if placeholder {
                    f.placeholder_summary = true;
                } else {
                    f.summary = Some(text);
                }
                Ok(())
            }
            Tag::Updated => {
                let t = self.timestamp(&open, "atom:updated")?;
                set(&mut f.updated, t, "atom:updated")
            }
            Tag::Author => {
                let name = self.person(&open)?;
                set(&mut f.author, name, "atom:author")
            }
            Tag::Link => {
                let mut rel = None;
                let mut href = None;
                self.attributes(&open.start, |local, value| {
                    match local {
                        "rel" => rel = Some(value),
                        "href" => href = Some(value),
                        _ => {}
                    }
                    Ok(())
                })?;
                self.skip(&open)?;
                let alternate = rel.as_deref().is_none_or(|r| trim_xml(r) == "alternate");
                if let (true, Some(href), None) = (alternate, href, &f.link) {
                    f.link = Some(href);
                }
                Ok(())
            }
            Tag::Content => {
                let content = self.content(&open)?;
                set(&mut f.content, content, "atom:content")
            }
            Tag::Control => self.control(&open, f),
            Tag::DeletedEntry => {
                let tombstone = self.tombstone(&open, f)?;
                if f.deleted.is_some() {
                    return Err(DecodeError::DuplicateElement("at:deleted-entry"));
                }
                f.deleted = Some(tombstone);
                Ok(())
            }
            Tag::Page => set(&mut f.page, self.text(&open)?, "ws:page"),
            Tag::Media => set(&mut f.media, self.text(&open)?, "ws:media"),
            Tag::Size => {
                let text = self.text(&open)?;
                let size = trim_xml(&text)
                    .parse::<u64>()
                    .map_err(|_| DecodeError::BadValue {
                        element: "ws:size",
                        value: text.clone(),
                    })?;
                set(&mut f.size, size, "ws:size")
            }
            Tag::Revision => {
                let rev = self.revision(&open, "ws:revision")?;
                set(&mut f.revision, rev, "ws:revision")
            }
            Tag::Base => {
                let rev = self.revision(&open, "ws:base")?;
                set(&mut f.base, rev, "ws:base")
            }
            Tag::Conflict => {
                let rev = self.revision(&open, "ws:conflict")?;
                set(&mut f.conflict, rev, "ws:conflict")
            }
            Tag::Clock => {
                let clock = self.clock(&open)?;
                set(&mut f.clock, clock, "ws:clock")
            }
            Tag::Sha256 => set(
                &mut f.sha256,
                trim_xml(&self.text(&open)?).to_owned(),
                "ws:sha256",
            ),
            Tag::Source => set(&mut f.source, self.text(&open)?, "ws:source"),
            Tag::LockExpires => {
                let t = self.timestamp(&open, "ws:lock-expires")?;
                set(&mut f.lock_expires, t, "ws:lock-expires")
            }
            Tag::Minor => {
                self.skip(&open)?;
                f.minor = true;
                Ok(())
            }
            Tag::Unlock => {
                self.skip(&open)?;
                f.unlock = true;
                Ok(())
            }
            _ => self.skip(&open),
        }
    }

    /// `app:control`: only `app:draft` matters.
    fn control(&mut self, open: &Open<'a>, f: &mut Fields) -> Result<(), DecodeError> {
        if open.empty {
            return Ok(());
        }
        loop {
            let child = match self.event()? {
                Event::Start(start) => self.open(start, false),
                Event::Empty(start) => self.open(start, true),
                Event::End(_) => return Ok(()),
                Event::Eof => return Err(eof()),
                Event::GeneralRef(r) => {
                    resolve_ref(&r)?;
                    continue;
                }
                _ => continue,
            };
            if child.tag == Tag::Draft {
                let value = self.text(&child)?;
                let draft = match trim_xml(&value) {
                    "yes" => true,
                    "no" => false,
                    _ => {
                        return Err(DecodeError::BadValue {
                            element: "app:draft",
                            value,
                        });
                    }
                };
                set(&mut f.draft, draft, "app:draft")?;
            } else {
                self.skip(&child)?;
            }
        }
    }

    /// `at:deleted-entry`, inside an entry or as the root. Wikisync elements inside it are
    /// collected into `f` (that is how a standalone tombstone carries them).
    fn tombstone(&mut self, open: &Open<'a>, f: &mut Fields) -> Result<Tombstone, DecodeError> {
        let mut atom_id = None;
        let mut when = None;
        self.attributes(&open.start, |local, value| {
            match local {
                "ref" => atom_id = Some(trim_xml(&value).to_owned()),
                "when" => when = Some(value),
                _ => {}
            }
            Ok(())
        })?;
        let atom_id = atom_id.ok_or(DecodeError::MissingElement("at:deleted-entry/@ref"))?;
        let when = when.ok_or(DecodeError::MissingElement("at:deleted-entry/@when"))?;
        let when = Timestamp::parse_rfc3339(trim_xml(&when)).map_err(|error| {
            DecodeError::BadTimestamp {
                element: "at:deleted-entry/@when",
                error,
            }
        })?;
        let mut tombstone = Tombstone {
            atom_id,
            when,
            by: None,
            comment: None,
        };
        if open.empty {
            return Ok(tombstone);
        }
        loop {
            let child = match self.event()? {
                Event::Start(start) => self.open(start, false),
                Event::Empty(start) => self.open(start, true),
                Event::End(_) => return Ok(tombstone),
                Event::Eof => return Err(eof()),
                Event::GeneralRef(r) => {
                    resolve_ref(&r)?;
                    continue;
                }
                _ => continue,
            };
            match child.tag {
                Tag::By => {
                    let by = self.person(&child)?;
                    if tombstone.by.is_some() {
                        return Err(DecodeError::DuplicateElement("at:by"));
                    }
                    tombstone.by = by;
                }
                Tag::Comment => {
                    let comment = self.text(&child)?;
                    set(&mut tombstone.comment, comment, "at:comment")?;
                }
                Tag::Entry | Tag::DeletedEntry => self.skip(&child)?,
                _ => self.entry_child(child, f)?,
            }
        }
    }

    /// A person construct: the text of its `atom:name`; an empty or missing name is `None`.
    fn person(&mut self, open: &Open<'a>) -> Result<Option<String>, DecodeError> {
        if open.empty {
            return Ok(None);
        }
        let mut name = None;
        loop {
            let child = match self.event()? {
                Event::Start(start) => self.open(start, false),
                Event::Empty(start) => self.open(start, true),
                Event::End(_) => return Ok(name.filter(|n: &String| !n.is_empty())),
                Event::Eof => return Err(eof()),
                Event::GeneralRef(r) => {
                    resolve_ref(&r)?;
                    continue;
                }
                _ => continue,
            };
            if child.tag == Tag::Name && name.is_none() {
                name = Some(self.text(&child)?);
            } else {
                self.skip(&child)?;
            }
        }
    }

    /// `ws:clock`: its `ws:rev` children, sorted by site.
    fn clock(&mut self, open: &Open<'a>) -> Result<Vec<RevisionRef>, DecodeError> {
        let mut clock = Vec::new();
        if open.empty {
            return Ok(clock);
        }
        loop {
            let child = match self.event()? {
                Event::Start(start) => self.open(start, false),
                Event::Empty(start) => self.open(start, true),
                Event::End(_) => break,
                Event::Eof => return Err(eof()),
                Event::GeneralRef(r) => {
                    resolve_ref(&r)?;
                    continue;
                }
                _ => continue,
            };
            if child.tag == Tag::Rev {
                clock.push(self.revision(&child, "ws:rev")?);
            } else {
                self.skip(&child)?;
            }
        }
        clock.sort_by(|a, b| a.site.cmp(&b.site));
        if clock.windows(2).any(|w| w[0].site == w[1].site) {
            return Err(DecodeError::DuplicateElement(
                "ws:clock/ws:rev for one site",
            ));
        }
        Ok(clock)
    }

    /// A revision element: decimal text and a `site` attribute.
    fn revision(
        &mut self,
        open: &Open<'a>,
        element: &'static str,
    ) -> Result<RevisionRef, DecodeError> {
        let mut site = None;
        self.attributes(&open.start, |local, value| {
            if local == "site" {
                site = Some(value);
            }
            Ok(())
        })?;
        let value = self.text(open)?;
        let site = site.ok_or(DecodeError::MissingElement(match element {
            "ws:revision" => "ws:revision/@site",
            "ws:base" => "ws:base/@site",
            "ws:conflict" => "ws:conflict/@site",
            _ => "ws:rev/@site",
        }))?;
        let digits = trim_xml(&value);
        let revision = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse().ok()
        } else {
            None
        };
        match revision {
            Some(revision) => Ok(RevisionRef {
                revision,
                site: SiteId::new(site),
            }),
            None => Err(DecodeError::BadRevision { element, value }),
        }
    }

    fn timestamp(
        &mut self,
        open: &Open<'a>,
        element: &'static str,
    ) -> Result<Timestamp, DecodeError> {
        let text = self.text(open)?;
        Timestamp::parse_rfc3339(trim_xml(&text))
            .map_err(|error| DecodeError::BadTimestamp { element, error })
    }

    /// `atom:content`: (text, media type).
    fn content(&mut self, open: &Open<'a>) -> Result<Content, DecodeError> {
        let mut kind = None;
        let mut media = None;
        let mut src = None;
        let resolver_attrs = self.ns_attributes(&open.start)?;
        for (ns_ws, local, value) in resolver_attrs {
            match (ns_ws, local.as_str()) {
                (false, "type") => kind = Some(value),
                (false, "src") => src = Some(value),
                (true, "media-type") => media = Some(value),
                _ => {}
            }
        }
        let kind = kind.as_deref().map(trim_xml).unwrap_or("text").to_owned();
        let text = self.text(open)?;
        let lower = kind.to_ascii_lowercase();
        let media_type = media.unwrap_or_else(|| match lower.as_str() {
            "text" => "text/plain".to_owned(),
            "html" => "text/html".to_owned(),
            _ => kind.clone(),
        });
        if let Some(src) = src {
            return Ok(Content {
                body: Body::Src(trim_xml(&src).to_owned()),
                media_type,
            });
        }
        let inline = match lower.as_str() {
            "text" | "html" => true,
            "xhtml" => return Err(DecodeError::BadContent("xhtml content")),
            t => t.starts_with("text/") || t.ends_with("/xml") || t.ends_with("+xml"),
        };
        let body = if inline {
            Body::Text(text)
        } else {
            Body::Bytes(base64::decode(&text).ok_or(DecodeError::BadContent("invalid base64"))?)
        };
        Ok(Content { body, media_type })
    }

    /// Calls `each(local name, value)` for every attribute without a namespace.
    fn attributes(
        &self,
        start: &BytesStart<'_>,
        mut each: impl FnMut(&str, String) -> Result<(), DecodeError>,
    ) -> Result<(), DecodeError> {
        for attr in start.attributes() {
            let attr = attr.map_err(|e| DecodeError::Malformed(e.to_string()))?;
            let value = attr_value(&attr)?;
            if attr.key.prefix().is_none() {
                each(attr.key.as_ref(), value)?;
            }
        }
        Ok(())
    }

    /// All attributes as (in the wikisync namespace?, local name, value); others skipped.
    fn ns_attributes(
        &self,
        start: &BytesStart<'_>,
    ) -> Result<Vec<(bool, String, String)>, DecodeError> {
        let mut out = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| DecodeError::Malformed(e.to_string()))?;
            let value = attr_value(&attr)?;
            if attr.key.prefix().is_none() {
                out.push((false, attr.key.as_ref().to_owned(), value));
                continue;
            }
            let (ns, local) = self.reader.resolver().resolve_attribute(attr.key);
            match ns {
                ResolveResult::Bound(ns) if ns.as_ref() == WIKISYNC_NS => {
                    out.push((true, local.as_ref().to_owned(), value));
                }
                ResolveResult::Unknown(prefix) => {
                    return Err(DecodeError::Malformed(format!(
                        "undeclared namespace prefix {prefix}"
                    )));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The character content of an element and all its descendants (markup dropped), exact:
    /// references resolved, line ends normalised as XML requires (so a CR must arrive as
    /// `&#13;`). Consumes the element's end tag.
    ///
    /// The element is first skipped as a whole by quick-xml (which checks that the markup
    /// inside is well-formed) and its raw span is then unescaped in one pass into one
    /// allocation; only a span holding markup (CDATA, comments, child elements) goes through
    /// events again.
    fn text(&mut self, open: &Open<'a>) -> Result<String, DecodeError> {
        if open.empty {
            return Ok(String::new());
        }
        let span = self
            .reader
            .read_to_end(open.start.name())
            .map_err(xml_error)?;
        let raw = usize::try_from(span.start)
            .ok()
            .zip(usize::try_from(span.end).ok())
            .and_then(|(start, end)| self.input.get(start..end))
            .ok_or_else(|| DecodeError::Malformed("an element span out of bounds".to_owned()))?;
        match unescape(raw)? {
            Some(text) => Ok(text),
            None => mixed_text(raw),
        }
    }

    /// Skips an element and everything inside it, still checking entity references.
    fn skip(&mut self, open: &Open<'a>) -> Result<(), DecodeError> {
        if open.empty {
            return Ok(());
        }
        let mut depth = 0usize;
        loop {
            match self.event()? {
                Event::Start(_) => depth += 1,
                Event::End(_) if depth == 0 => return Ok(()),
                Event::End(_) => depth -= 1,
                Event::GeneralRef(r) => {
                    resolve_ref(&r)?;
                }
                Event::Eof => return Err(eof()),
                _ => {}
            }
        }
    }
}

fn eof() -> DecodeError {
    DecodeError::Malformed("unexpected end of input".to_owned())
}

/// Eight bytes at a time: is any of them below 0x20, `&`, `<` or 0xEF (the lead byte of
/// U+FFFE and U+FFFF)? (Exact, by the usual "has a zero byte" / "has a byte less than n" bit
/// tricks.)
fn has_special(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    let is = |byte: u8| {
        let x = word ^ (ONES * u64::from(byte));
        x.wrapping_sub(ONES) & !x & HIGH
    };
    (below_space | is(b'&') | is(b'<') | is(0xEF)) != 0
}

/// Unescapes character data without markup: resolves references, normalises CR and CRLF to
/// LF, and refuses the characters XML does not allow (control characters, U+FFFE, U+FFFF). `None` if the span holds markup
/// (a `<`), which [`mixed_text`] handles.
fn unescape(raw: &str) -> Result<Option<String>, DecodeError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !has_special(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        // U+FFFE and U+FFFF are EF BF BE / EF BF BF in UTF-8.
        if b == 0xEF && matches!(bytes.get(i + 1..i + 3), Some([0xBF, 0xBE | 0xBF])) {
            return Err(DecodeError::Malformed(
                "a character that XML does not allow (U+FFFE or U+FFFF)".to_owned(),
            ));
        }
        if b >= 0x20 && b != b'&' && b != b'<' {
            i += 1;
            continue;
        }
        out.push_str(&raw[start..i]);
        match b {
            b'&' => {
                // Names are short; a plain loop beats a general substring search here.
                let len = bytes[i..]
                    .iter()
                    .position(|&c| c == b';')
                    .ok_or_else(|| DecodeError::Malformed("a '&' without ';'".to_owned()))?;
                out.push(resolve_name(&raw[i + 1..i + len])?);
                i += len + 1;
            }
            b'<' => return Ok(None),
            b'\r' => {
                out.push('\n');
                i += 1;
                if bytes.get(i) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\t' | b'\n' => {
                out.push(char::from(b));
                i += 1;
            }
            _ => {
                return Err(DecodeError::Malformed(
                    "a control character that XML does not allow".to_owned(),
                ));
            }
        }
        start = i;
    }
    out.push_str(&raw[start..]);
    Ok(Some(out))
}

/// [`unescape`] of a span known to hold no markup.
fn unescape_text(raw: &str) -> Result<String, DecodeError> {
    unescape(raw)?.ok_or_else(|| DecodeError::Malformed("unexpected '<'".to_owned()))
}

/// The character data of a span that holds markup (CDATA sections, comments, processing
/// instructions, child elements), which is dropped.
fn mixed_text(raw: &str) -> Result<String, DecodeError> {
    let mut reader = quick_xml::Reader::from_str(raw);
    let mut out = String::with_capacity(raw.len());
    loop {
        match reader.read_event().map_err(xml_error)? {
            Event::Text(t) => {
                let t: &str = t.as_ref();
                out.push_str(&unescape_text(t)?);
            }
            Event::CData(t) => {
                let t: &str = t.as_ref();
                if t.contains('&') {
                    // Inside CDATA `&` is literal: escape it for the shared unescaper.
                    out.push_str(&unescape_text(
                        &t.replace('&', "&amp;").replace('<', "&lt;"),
                    )?);
                } else {
                    out.push_str(&unescape_text(t)?);
                }
            }
            Event::GeneralRef(r) => out.push(resolve_ref(&r)?),
            Event::DocType(_) => return Err(DecodeError::Doctype),
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

/// Resolves a reference event (see [`resolve_name`]).
fn resolve_ref(r: &BytesRef<'_>) -> Result<char, DecodeError> {
    resolve_name(r)
}

/// Resolves `&name;`: the five predefined entities and character references only.
fn resolve_name(name: &str) -> Result<char, DecodeError> {
    // Slice patterns compare bytes inline (a `match` on `&str` calls memcmp per arm).
    let c = match name.as_bytes() {
        [b'l', b't'] => '<',
        [b'g', b't'] => '>',
        [b'a', b'm', b'p'] => '&',
        [b'a', b'p', b'o', b's'] => '\'',
        [b'q', b'u', b'o', b't'] => '"',
        [b'#', b'1', b'3'] => '\r',
        [b'#', number @ ..] => {
            let (digits, radix) = match number {
                [b'x', hex @ ..] => (hex, 16),
                _ => (number, 10),
            };
            let mut code: Option<u32> = (!digits.is_empty()).then_some(0);
            for &d in digits {
                let digit = char::from(d).to_digit(radix);
                code = code
                    .zip(digit)
                    .and_then(|(n, d)| n.checked_mul(radix)?.checked_add(d));
            }
            match code.and_then(char::from_u32) {
                Some(c) => c,
                None => {
                    return Err(DecodeError::Malformed(format!(
                        "an invalid character reference &{name};"
                    )));
                }
            }
        }
        [] => return Err(DecodeError::Malformed("an empty reference '&;'".to_owned())),
        _ => return Err(DecodeError::UnknownEntity(name.to_owned())),
    };
    if !is_xml_char(c) {
        return Err(DecodeError::Malformed(format!(
            "character reference &{name}; to a character XML does not allow"
        )));
    }
    Ok(c)
}

/// An attribute value, normalised as XML requires (literal tab/CR/LF become spaces;
/// references resolved).
pub(super) fn attr_value(
    attr: &quick_xml::events::attributes::Attribute<'_>,
) -> Result<String, DecodeError> {
    let value = attr
        .normalized_value(XmlVersion::Implicit1_0)
        .map_err(xml_error)?;
    if !value.chars().all(is_xml_char) {
        return Err(DecodeError::Malformed(
            "an attribute holds a character XML does not allow".to_owned(),
        ));
    }
    Ok(value.into_owned())
}

/// Turns the collected fields into an entry, checking what is required.
fn build(f: Fields) -> Result<Entry, DecodeError> {
    let is_media = f.media.is_some();
    let raw_page = match (f.page, f.media) {
        (Some(_), Some(_)) => {
            return Err(DecodeError::ConflictingKind("both ws:page and ws:media"));
        }
        (Some(id), None) | (None, Some(id)) => id,
        (None, None) => return Err(DecodeError::MissingPageId),
    };
    let page = PageId::clean(&raw_page).map_err(DecodeError::BadPageId)?;
    if page.as_str() != trim_xml(&raw_page) {
        return Err(DecodeError::UncleanPageId {
            given: raw_page,
            clean: page.into(),
        });
    }
    let atom_id = f.atom_id.ok_or(DecodeError::MissingElement("atom:id"))?;
    let updated = f
        .updated
        .ok_or(DecodeError::MissingElement("atom:updated"))?;
    let revision = f
        .revision
        .ok_or(DecodeError::MissingElement("ws:revision"))?;
    let draft = f.draft.unwrap_or(false);
    if f.unlock && !draft {
        return Err(DecodeError::ConflictingKind("ws:unlock outside a draft"));
    }
    let kind = if let Some(t) = f.deleted {
        if draft {
            return Err(DecodeError::ConflictingKind(
                "a deleted entry that is a draft",
            ));
        }
        if is_media {
            EntryKind::MediaDeleted {
                when: t.when,
                by: t.by,
                comment: t.comment,
            }
        } else {
            EntryKind::Deleted {
                when: t.when,
                by: t.by,
                comment: t.comment,
            }
        }
    } else if is_media {
        if draft {
            return Err(DecodeError::ConflictingKind("a media file that is a draft"));
        }
        let content = f
            .content
            .ok_or(DecodeError::MissingElement("atom:content"))?;
        let sha256 = checked_sha256(f.sha256)?;
        let size = f.size.ok_or(DecodeError::MissingElement("ws:size"))?;
        let (data, url) = match content.body {
            Body::Src(url) => (None, Some(url)),
            Body::Bytes(bytes) => (Some(bytes), None),
            Body::Text(text) => (Some(text.into_bytes()), None),
        };
        if let Some(bytes) = &data {
            super::verify_media(bytes, &sha256, size).map_err(|e| match e {
                super::MediaError::HashMismatch { expected, actual } => {
                    DecodeError::HashMismatch { expected, actual }
                }
                super::MediaError::SizeMismatch { expected, actual } => {
                    DecodeError::SizeMismatch { expected, actual }
                }
            })?;
        }
        EntryKind::Media {
            media_type: content.media_type,
            sha256,
            size,
            data,
            url,
        }
    } else if f.unlock {
        EntryKind::Unlock
    } else if draft {
        EntryKind::Draft {
            lock_expires: f
                .lock_expires
                .ok_or(DecodeError::MissingElement("ws:lock-expires"))?,
            conflict_with: f.conflict,
        }
    } else {
        let content = f
            .content
            .ok_or(DecodeError::MissingElement("atom:content"))?;
        let media_type = content.media_type;
        let text = match content.body {
            Body::Text(text) => text,
            Body::Bytes(bytes) => String::from_utf8(bytes)
                .map_err(|_| DecodeError::BadContent("base64 content that is not UTF-8"))?,
            Body::Src(_) => return Err(DecodeError::BadContent("out-of-line content (src)")),
        };
        let expected = checked_sha256(f.sha256)?;
        let actual = sha256_hex(&text);
        if !actual.eq_ignore_ascii_case(&expected) {
            return Err(DecodeError::HashMismatch { expected, actual });
        }
        EntryKind::Page { text, media_type }
    };
    let title = match f.title {
        Some(title) => title,
        None if matches!(
            kind,
            EntryKind::Deleted { .. } | EntryKind::MediaDeleted { .. }
        ) =>
        {
            page.as_str().to_owned()
        }
        None => return Err(DecodeError::MissingElement("atom:title")),
    };
    Ok(Entry {
        atom_id,
        page,
        title,
        updated,
        author: f.author.flatten(),
        summary: f.summary,
        link: f.link,
        revision,
        base: f.base,
        clock: f.clock.unwrap_or_default(),
        minor: f.minor,
        source: f.source.map(SiteId::new),
        kind,
    })
}

/// `ws:sha256`, required and 64 hex digits.
fn checked_sha256(sha256: Option<String>) -> Result<String, DecodeError> {
    let expected = sha256.ok_or(DecodeError::MissingElement("ws:sha256"))?;
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DecodeError::BadValue {
            element: "ws:sha256",
            value: expected,
        });
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_special_is_exact() {
        for b in 0..=255u8 {
            let special = b < 0x20 || b == b'&' || b == b'<' || b == 0xEF;
            for k in 0..8 {
                let mut word = [b'a'; 8];
                word[k] = b;
                assert_eq!(has_special(u64::from_le_bytes(word)), special, "{b} at {k}");
            }
            // Neighbours of a special byte must not hide or fake one.
            let mut word = [0x7f; 8];
            word[3] = b;
            assert_eq!(
                has_special(u64::from_le_bytes(word)),
                special,
                "{b} among 0x7f"
            );
        }
    }

    #[test]
    fn unescape_handles_references_and_line_ends() {
        let cases = [
            ("plain", "plain"),
            ("a&amp;b&lt;c&gt;d&apos;e&quot;f", "a&b<c>d'e\"f"),
            ("x&#13;&#10;&#x9;&#x1F600;", "x\r\n\t\u{1f600}"),
            ("a\r\nb\rc\n\r", "a\nb\nc\n\n"),
            (
                "0123456789abcdef&amp;0123456789",
                "0123456789abcdef&0123456789",
            ),
            // Other characters led by 0xEF are fine: U+FFFD, fullwidth forms.
            (
                "\u{fffd}\u{ff21}0123456789\u{f000}",
                "\u{fffd}\u{ff21}0123456789\u{f000}",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(unescape(raw), Ok(Some(want.to_owned())), "{raw}");
        }
        assert_eq!(unescape("has <markup/>"), Ok(None));
        for (raw, code) in [
            ("&nbsp;", "unknown_entity"),
            ("&#0;", "malformed_xml"),
            ("&#xD800;", "malformed_xml"),
            ("&#99999999999;", "malformed_xml"),
            ("&#x;", "malformed_xml"),
            ("&;", "malformed_xml"),
            ("a & b", "malformed_xml"),
            ("bell \u{7}", "malformed_xml"),
            ("raw \u{fffe}", "malformed_xml"),
            ("0123456789\u{ffff}", "malformed_xml"),
        ] {
            assert_eq!(unescape(raw).map_err(|e| e.code()), Err(code), "{raw}");
        }
    }
}
