//! `wikisync page`.

use crate::exit::{Failure, Outcome};

/// Arguments of `wikisync page`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `wikisync page`.
pub(crate) fn run(args: Args) -> Outcome {
    let _ = args;
    Err(Failure::input("not implemented yet"))
}
