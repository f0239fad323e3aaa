//! Hexadecimal, for signatures, challenges, owner ids, node ids and `/items` cursors.
//!
//! ```
//! use wikisync_gateway::hex;
//!
//! assert_eq!(hex::lower(&[0x0f, 0xa0]), "0fa0");
//! assert_eq!(hex::decode("0fA0"), Some(vec![0x0f, 0xa0]));
//! assert_eq!(hex::decode("0f0"), None);
//! ```

/// `bytes` as lower-case hexadecimal, two digits per byte.
pub fn lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The bytes of hexadecimal `text` (either case); `None` unless it is an even number of hex
/// digits.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| char::from(c).to_digit(16);
            u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()
        })
        .collect()
}
