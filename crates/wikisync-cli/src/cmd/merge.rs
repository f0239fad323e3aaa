//! `wikisync merge`.

use crate::exit::{Failure, Outcome};

/// Arguments of `wikisync merge`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `wikisync merge`.
pub(crate) fn run(args: Args) -> Outcome {
    let _ = args;
    Err(Failure::input("not implemented yet"))
}
