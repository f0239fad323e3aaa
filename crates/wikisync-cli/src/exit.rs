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

/// Exit code for bad input or usage (unreadable file, invalid entry, bad arguments).
pub(crate) const EXIT_INPUT: u8 = 2;

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
