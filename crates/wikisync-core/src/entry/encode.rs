//! Entry → Atom XML.

use super::Entry;

/// Renders `entry` as a standalone Atom entry document (UTF-8).
pub fn encode(entry: &Entry) -> String {
    let _ = entry;
    unimplemented!("encode")
}
