//! One module per subcommand.

pub(crate) mod entry;
pub(crate) mod merge;
pub(crate) mod page;
