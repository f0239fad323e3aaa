//! Content hashes: the SHA-256 of a page text, as carried in `ws:sha256`.

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of the UTF-8 bytes of `text`.
///
/// ```
/// assert_eq!(
///     wikisync_core::hash::sha256_hex(""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn sha256_hex(text: &str) -> String {
    sha256_hex_bytes(text.as_bytes())
}

/// The SHA-256 of `bytes`, as 64 lowercase hex digits (the `ws:sha256` of media entries).
pub fn sha256_hex_bytes(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    out
}
