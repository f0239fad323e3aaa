//! Atom XML → entry.

use super::{DecodeError, Entry};

/// Limits and switches for [`decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Parses one wikisync Atom entry.
pub fn decode(input: &[u8], options: &DecodeOptions) -> Result<Entry, DecodeError> {
    let _ = (input, options);
    unimplemented!("decode")
}
