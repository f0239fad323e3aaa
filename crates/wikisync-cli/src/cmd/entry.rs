//! `wikisync entry`: page text → Atom entry.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use wikisync_core::entry::{
    DOKUWIKI_MEDIA_TYPE, Entry, EntryKind, RevisionRef, SiteId, encode, page_atom_id,
};
use wikisync_core::id::PageId;
use wikisync_core::time::Timestamp;

use crate::exit::{Failure, Outcome};

/// Default lock duration of a draft, in seconds (DokuWiki's default `locktime`).
const DEFAULT_LOCK_SECONDS: i64 = 15 * 60;

/// Arguments of `wikisync entry`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
The page text is read as bytes and carried byte for byte (CR, CRLF, missing final newline,
any Unicode); it must be UTF-8. The page id is cleaned like DokuWiki's cleanID (`Wiki:Start
Page` becomes `wiki:start_page`); ids that could escape a directory (`..`, `/`, `\\`, control
characters) are refused.

Exit codes: 0 the entry was printed; 2 bad input (unreadable or non-UTF-8 file, refused page
id, bad option value).

Examples:
  wikisync entry --id wiki:start --author alice --summary 'typo' start.txt > start.atom
  wikisync entry --id wiki:start --site https://wiki-a.example.org/ --rev 1795255200 \\
      --base 1795250000 --updated 2026-11-21T10:00:00Z - < start.txt
  wikisync entry --id wiki:start --author alice --draft --lock-expires 2026-11-21T10:15:00Z")]
pub(crate) struct Args {
    /// The DokuWiki page id (cleaned like DokuWiki does).
    #[arg(long = "id", value_name = "PAGE_ID")]
    id: String,
    /// Descriptive fields (boxed to keep the subcommand enum small).
    #[command(flatten)]
    meta: Box<Meta>,
    /// The revision number at --site [default: the --updated time in Unix seconds].
    #[arg(long, value_name = "N")]
    rev: Option<u64>,
    /// The revision of the same --site this edit started from.
    #[arg(long, value_name = "N")]
    base: Option<u64>,
    /// The site that made the revision.
    #[arg(long, value_name = "URL", default_value = "local")]
    site: String,
    /// Mark the change as minor.
    #[arg(long)]
    minor: bool,
    /// Make a draft (an edit lock) instead of a page revision; no text is read.
    #[arg(long)]
    draft: bool,
    /// The file holding the page text, or `-` for stdin [default: stdin].
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

/// The descriptive options of `wikisync entry`.
#[derive(Debug, clap::Args)]
struct Meta {
    /// Who made the change.
    #[arg(long, value_name = "NAME")]
    author: Option<String>,
    /// The edit summary.
    #[arg(long, value_name = "TEXT")]
    summary: Option<String>,
    /// The page title [default: the page id].
    #[arg(long, value_name = "TEXT")]
    title: Option<String>,
    /// The page URL on its site (atom:link rel="alternate").
    #[arg(long, value_name = "URL")]
    link: Option<String>,
    /// When the revision was made: RFC 3339 or Unix seconds [default: now].
    #[arg(long, value_name = "TIME")]
    updated: Option<String>,
    /// The markup's media type.
    #[arg(long, value_name = "TYPE", default_value = DOKUWIKI_MEDIA_TYPE)]
    media_type: String,
    /// When the draft's lock lapses: RFC 3339 or Unix seconds [default: --updated + 15 min].
    #[arg(long, value_name = "TIME", requires = "draft")]
    lock_expires: Option<String>,
}

/// Runs `wikisync entry`.
pub(crate) fn run(args: Args) -> Outcome {
    let page = PageId::clean(&args.id).map_err(|e| {
        Failure::input(format!(
            "invalid page id ({}): {e}: {:?}",
            e.code(),
            args.id
        ))
    })?;
    let meta = *args.meta;
    let updated = match &meta.updated {
        Some(text) => parse_time(text, "--updated")?,
        None => now(),
    };
    let revision = match args.rev {
        Some(rev) => rev,
        None => u64::try_from(updated.0).map_err(|_| {
            Failure::input("--updated is before 1970, so give the revision with --rev")
        })?,
    };
    let site = SiteId::new(args.site);
    let kind = if args.draft {
        if args.file.is_some() {
            return Err(Failure::input(
                "a draft carries no page text; leave out FILE with --draft",
            ));
        }
        let lock_expires = match &meta.lock_expires {
            Some(text) => parse_time(text, "--lock-expires")?,
            None => updated.plus_seconds(DEFAULT_LOCK_SECONDS),
        };
        EntryKind::Draft {
            lock_expires,
            conflict_with: None,
        }
    } else {
        EntryKind::Page {
            text: read_text(args.file.as_deref())?,
            media_type: meta.media_type,
        }
    };
    let revision = RevisionRef {
        revision,
        site: site.clone(),
    };
    let entry = Entry {
        atom_id: page_atom_id(&page),
        title: meta.title.unwrap_or_else(|| page.as_str().to_owned()),
        page,
        updated,
        author: meta.author,
        summary: meta.summary,
        link: meta.link,
        base: args.base.map(|base| RevisionRef {
            revision: base,
            site: site.clone(),
        }),
        clock: vec![revision.clone()],
        revision,
        minor: args.minor,
        source: None,
        kind,
    };
    let xml = encode(&entry);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(xml.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::input(format!("cannot write the entry: {e}")))?;
    Ok(0)
}

/// The current time (the CLI, unlike the core, may read the clock).
fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    Timestamp(secs)
}

/// RFC 3339 or Unix seconds.
fn parse_time(text: &str, option: &str) -> Result<Timestamp, Failure> {
    if let Ok(secs) = text.parse::<i64>() {
        return Ok(Timestamp(secs));
    }
    Timestamp::parse_rfc3339(text).map_err(|e| {
        Failure::input(format!(
            "{option} {text:?} is neither Unix seconds nor RFC 3339: {e}"
        ))
    })
}

/// Reads FILE or stdin (`None` or `-`), byte-exact, whole.
pub(crate) fn read_input(file: Option<&std::path::Path>) -> Result<(Vec<u8>, String), Failure> {
    read_bounded(file, u64::MAX)
}

/// Reads FILE or stdin (`None` or `-`), byte-exact, but never more than `max + 1` bytes: the
/// caller tells an input longer than `max` by the length, and memory stays bounded whatever
/// the input's size (an endless stream included).
pub(crate) fn read_bounded(
    file: Option<&std::path::Path>,
    max: u64,
) -> Result<(Vec<u8>, String), Failure> {
    let mut bytes = Vec::new();
    let name = match file {
        None => "stdin".to_owned(),
        Some(path) if path.as_os_str() == "-" => "stdin".to_owned(),
        Some(path) => path.display().to_string(),
    };
    let limit = max.saturating_add(1);
    let result = match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut bytes))
        }
        _ => std::io::stdin().lock().take(limit).read_to_end(&mut bytes),
    };
    result.map_err(|e| Failure::input(format!("cannot read {name}: {e}")))?;
    Ok((bytes, name))
}

fn read_text(file: Option<&std::path::Path>) -> Result<String, Failure> {
    let (bytes, name) = read_input(file)?;
    String::from_utf8(bytes).map_err(|e| {
        Failure::input(format!(
            "{name} is not UTF-8 text (invalid byte at offset {}); convert it first, e.g. with iconv",
            e.utf8_error().valid_up_to()
        ))
    })
}
