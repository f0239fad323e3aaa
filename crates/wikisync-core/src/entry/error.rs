//! Why an entry was refused.

/// Why [`decode`](super::decode) refused an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is not well-formed XML.
    #[error("the entry is not well-formed XML: {0}")]
    Malformed(String),
}
