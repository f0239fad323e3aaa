//! `wikisync page`: Atom entry → page text (or its metadata).

use std::io::Write;
use std::path::PathBuf;

use wikisync_core::entry::{DecodeOptions, EntryKind, decode};
use wikisync_core::hash::sha256_hex;

use crate::cmd::entry::read_bounded;
use crate::exit::{EXIT_NO_TEXT, Failure, Outcome};

/// Arguments of `wikisync page`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints the page text exactly as carried (no newline is added). A draft, a lock release or a
deletion carries no text: nothing is printed and the exit code is 3; use --json to see what it
says.

--json prints everything but the text as one JSON object (the entry's fields as in
tests/vectors/entries.json, timestamps in Unix seconds), plus `sha256` and `bytes` of the
text for page entries.

Exit codes: 0 printed; 2 bad input (unreadable file, or an entry that is refused; the message
names the error code, e.g. `invalid entry (hash_mismatch): ...`); 3 the entry has no text.

Examples:
  wikisync page start.atom > start.txt
  wikisync entry --id wiki:start start.txt | wikisync page | cmp - start.txt
  wikisync page --json < start.atom")]
pub(crate) struct Args {
    /// Print the metadata as JSON instead of the text.
    #[arg(long)]
    json: bool,
    /// The largest entry accepted, in bytes (reading stops one byte past it).
    #[arg(long, value_name = "N", default_value_t = DecodeOptions::default().max_bytes)]
    max_bytes: usize,
    /// The file holding the Atom entry, or `-` for stdin [default: stdin].
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

/// Runs `wikisync page`.
pub(crate) fn run(args: Args) -> Outcome {
    // Read at most one byte more than the limit: a larger input is refused without being
    // held in memory.
    let max = u64::try_from(args.max_bytes).unwrap_or(u64::MAX);
    let (bytes, name) = read_bounded(args.file.as_deref(), max)?;
    if bytes.len() > args.max_bytes {
        return Err(Failure::input(format!(
            "invalid entry (too_large): {name} holds more than the limit of {} bytes (--max-bytes); nothing was parsed",
            args.max_bytes
        )));
    }
    let entry = decode(&bytes, &DecodeOptions::with_max_bytes(args.max_bytes))
        .map_err(|e| Failure::input(format!("invalid entry ({}): {e}", e.code())))?;
    let mut stdout = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock<'_>, data: &[u8]| {
        out.write_all(data)
            .and_then(|()| out.flush())
            .map_err(|e| Failure::input(format!("cannot write the output: {e}")))
    };
    if args.json {
        let mut value = serde_json::to_value(&entry)
            .map_err(|e| Failure::input(format!("cannot render the entry as JSON: {e}")))?;
        if let Some(text) = entry.text() {
            value["sha256"] = sha256_hex(text).into();
            value["bytes"] = text.len().into();
            if let Some(kind) = value.get_mut("kind").and_then(|k| k.as_object_mut()) {
                kind.remove("text");
            }
        }
        let mut json = serde_json::to_string_pretty(&value)
            .map_err(|e| Failure::input(format!("cannot render the entry as JSON: {e}")))?;
        json.push('\n');
        write(&mut stdout, json.as_bytes())?;
        return Ok(0);
    }
    match &entry.kind {
        EntryKind::Page { text, .. } => {
            write(&mut stdout, text.as_bytes())?;
            Ok(0)
        }
        _ => Ok(EXIT_NO_TEXT),
    }
}
