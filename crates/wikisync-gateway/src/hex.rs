//! Lower-case hexadecimal, for signatures, challenges, owner ids and node ids.
//!
//! ```
//! assert_eq!(wikisync_gateway::hex::lower(&[0x0f, 0xa0]), "0fa0");
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
