//! `wikisync entry`.

use crate::exit::{Failure, Outcome};

/// Arguments of `wikisync entry`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `wikisync entry`.
pub(crate) fn run(args: Args) -> Outcome {
    let _ = args;
    Err(Failure::input("not implemented yet"))
}
