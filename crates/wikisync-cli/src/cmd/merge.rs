//! `wikisync merge`: three-way merge of three files, with the arguments, output and exit codes
//! of `git merge-file -p`, plus the word-level pass.

use std::io::Write;
use std::path::{Path, PathBuf};

use wikisync_core::merge::{Markers, MergeOptions, merge3};

use crate::exit::{EXIT_TROUBLE, Failure, MAX_CONFLICT_EXIT, Outcome};

/// Arguments of `wikisync merge`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Line changes are merged as `git merge-file` merges them; inside conflicting lines a word-level
pass merges edits to different words of the same line (a DokuWiki paragraph is one line).

Exit status: 0 when the merge is clean, else the number of conflicts (at most 127); 255 when a
file cannot be read or is not UTF-8 text, or the command line is wrong.

Examples:
  wikisync merge mine.txt old.txt theirs.txt > merged.txt
  wikisync merge -L local -L base -L remote --diff3 local.txt base.txt remote.txt
  wikisync merge --no-words a.txt base.txt b.txt    # line-level only: exactly git's result
")]
pub(crate) struct Args {
    /// Labels for the conflict markers, in the order ours, base, theirs (default: the file
    /// names). Give up to three.
    #[arg(short = 'L', value_name = "LABEL", action = clap::ArgAction::Append)]
    labels: Vec<String>,
    /// Show the base version in conflicts (`|||||||` section) and keep conflicts whole.
    #[arg(long)]
    diff3: bool,
    /// Line-level merge only (no word-level pass); the result is then that of git.
    #[arg(long)]
    no_words: bool,
    /// Length of the conflict markers.
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..))]
    marker_size: u16,
    /// Our version (the file being merged into).
    ours: PathBuf,
    /// The common ancestor.
    base: PathBuf,
    /// Their version.
    theirs: PathBuf,
}

fn trouble(message: String) -> Failure {
    Failure {
        message,
        code: EXIT_TROUBLE,
    }
}

/// Reads `path` as UTF-8 text, or says in one sentence why not.
fn read_text(path: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        let reason = e.to_string();
        let reason = reason
            .split_once(" (os error")
            .map_or(reason.as_str(), |(r, _)| r)
            .to_owned();
        trouble(format!("cannot read '{}': {reason}", path.display()))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        trouble(format!(
            "cannot merge '{}': it is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Runs `wikisync merge`.
pub(crate) fn run(args: Args) -> Outcome {
    if args.labels.len() > 3 {
        return Err(trouble("at most three labels (-L) can be given".into()));
    }
    let ours = read_text(&args.ours)?;
    let base = read_text(&args.base)?;
    let theirs = read_text(&args.theirs)?;

    let label = |i: usize, path: &Path| {
        args.labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| path.display().to_string())
    };
    let markers = Markers::labelled(
        label(0, &args.ours),
        label(1, &args.base),
        label(2, &args.theirs),
    )
    .with_diff3(args.diff3)
    .with_size(usize::from(args.marker_size));
    let options = MergeOptions::default()
        .with_words(!args.no_words)
        .with_diff3(args.diff3);

    let merged = merge3(&base, &ours, &theirs, &options);
    let text = merged.render(&markers);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| trouble(format!("cannot write the result: {e}")))?;
    let conflicts = merged.conflict_count().min(MAX_CONFLICT_EXIT);
    // The count is capped at 127 just above, so it fits in a byte.
    Ok(u8::try_from(conflicts).unwrap_or(u8::MAX >> 1))
}
