//! `wikisync`: the command line of wikisync. Data goes to stdout, messages to stderr; exit
//! codes are documented in `--help` and `docs/cli.md`.

mod cmd;
mod exit;

use clap::{Parser, Subcommand};

/// Mirror wiki pages between sites: convert pages to Atom entries and back, merge edits.
#[derive(Debug, Parser)]
#[command(
    name = "wikisync",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 success; `merge`: the number of conflicts (at most 127), 255 on \
                  trouble; `entry`/`page`: 2 on bad input or usage, `page` 3 when the entry \
                  carries no text. Data goes to stdout, messages to stderr.\n\n\
                  See `wikisync <command> --help` for examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the Atom entry for a page text.
    Entry(cmd::entry::Args),
    /// Print the page text (or its metadata) carried by an Atom entry.
    Page(cmd::page::Args),
    /// Three-way merge, like `git merge-file -p`.
    Merge(cmd::merge::Args),
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return exit::usage(error),
    };
    let result = match cli.command {
        Command::Entry(args) => cmd::entry::run(args),
        Command::Page(args) => cmd::page::run(args),
        Command::Merge(args) => cmd::merge::run(args),
    };
    exit::finish(result)
}
