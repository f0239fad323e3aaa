//! Exit codes and error reporting shared by all subcommands.

use std::process::ExitCode;

/// A failure to report: one sentence on stderr, and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The sentence printed after `wikisync: `.
    pub(crate) message: String,
    /// The process exit code.
    pub(crate) code: u8,
}

/// Exit code for bad input or usage of `entry` and `page` (unreadable file, invalid entry,
/// bad arguments).
pub(crate) const EXIT_INPUT: u8 = 2;

/// Exit code of `page` when the entry carries no page text (draft, unlock, deletion).
pub(crate) const EXIT_NO_TEXT: u8 = 3;

/// Exit code of `merge` on trouble (git merge-file's -1): unreadable or non-UTF-8 input, bad
/// arguments. Conflict counts never reach it.
pub(crate) const EXIT_TROUBLE: u8 = 255;

/// Highest conflict count `merge` reports as its exit code (higher counts are reported as this).
pub(crate) const MAX_CONFLICT_EXIT: usize = 127;

impl Failure {
    /// A failure caused by bad input, exit code [`EXIT_INPUT`].
    pub(crate) fn input(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: EXIT_INPUT,
        }
    }
}

/// What a subcommand returns: the exit code on success (0, or a count such as merge
/// conflicts), or a [`Failure`].
pub(crate) type Outcome = Result<u8, Failure>;

/// Prints a failure, if any, and turns the outcome into the process exit code.
pub(crate) fn finish(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("wikisync: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Reports a command-line parsing error (or prints `--help`/`--version`) and returns the exit
/// code: 0 for help and version, [`EXIT_TROUBLE`] for a bad `merge` command line (so that it
/// can't be mistaken for a conflict count), [`EXIT_INPUT`] otherwise.
pub(crate) fn usage(error: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    // Printing can only fail if stdout/stderr is closed; nothing better to do then.
    let _ = error.print();
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::from(EXIT_INPUT),
        _ if std::env::args().nth(1).as_deref() == Some("merge") => ExitCode::from(EXIT_TROUBLE),
        _ => ExitCode::from(EXIT_INPUT),
    }
}
