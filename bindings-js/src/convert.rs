//! Values across the boundary. Structured values travel as JSON text (the JS shim calls
//! `JSON.stringify` / `JSON.parse`), which is one copy each way and much cheaper than building
//! JS objects field by field from WebAssembly. Their shape is the serde JSON form of the
//! core's types with the object keys in camelCase for JS: [`parse`] accepts camelCase (and
//! snake_case, so a conformance vector can be passed as it is) and [`render`] writes
//! camelCase. Enum tags (`"type": "local_save"`) are values and stay as they are; maps keyed
//! by site ids (a clock, `released`) are data and keep their keys byte for byte.
//!
//! ```
//! use wikisync_js::convert::{camel_to_snake, snake_to_camel};
//! assert_eq!(snake_to_camel("lock_expires"), "lockExpires");
//! assert_eq!(camel_to_snake("lockExpires"), "lock_expires");
//! assert_eq!(camel_to_snake("atom_id"), "atom_id");
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use wikisync_core::id::PageId;

use crate::error::Failure;

/// Fields whose value is a map keyed by data (site ids), not by field names: `clock` in a
/// page state, snapshot or conflict (an entry's `clock` is a list and is unaffected),
/// `released`, and a local lock's `opened` clock. Their keys are never renamed.
const DATA_KEYED: &[&str] = &["clock", "released", "opened"];

/// `lock_expires` → `lockExpires`.
pub fn snake_to_camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    snake_to_camel_into(key, &mut out);
    out
}

/// `lockExpires` → `lock_expires`; snake_case keys are returned unchanged.
pub fn camel_to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    camel_to_snake_into(key, &mut out);
    out
}

/// [`snake_to_camel`], appending to `out`.
fn snake_to_camel_into(key: &str, out: &mut String) {
    let mut upper = false;
    for (n, c) in key.chars().enumerate() {
        if c == '_' && n > 0 {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if upper {
        out.push('_');
    }
}

/// [`camel_to_snake`], appending to `out`.
fn camel_to_snake_into(key: &str, out: &mut String) {
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
}

/// Rewrites the object keys of the JSON text `json` with `rename`, except inside the
/// data-keyed maps, in one pass over the text (no tree is built: strings and numbers are copied
/// as they are, so a 100 KB page text costs a copy). Malformed JSON is copied through for the
/// parser to reject.
fn rename_keys(json: &str, rename: fn(&str, &mut String)) -> String {
    /// The containers the scanner is inside of.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Frame {
        /// An object whose keys are field names (renamed).
        Fields,
        /// An object whose keys are data (kept).
        Data,
        /// An array.
        List,
    }
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    let mut stack: Vec<Frame> = Vec::with_capacity(16);
    let mut expect_key = false; // the next string is an object key
    let mut data_value = false; // the value being read belongs to a data-keyed field
    let mut copied = 0; // bytes of `json` already in `out`; always at an ASCII position
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let Some(close) = closing_quote(bytes, i + 1) else {
                    break;
                };
                if expect_key && stack.last() == Some(&Frame::Fields) {
                    let key = &json[i + 1..close];
                    data_value = DATA_KEYED.contains(&key);
                    out.push_str(&json[copied..=i]);
                    if key.contains('\\') {
                        out.push_str(key);
                    } else {
                        rename(key, &mut out);
                    }
                    copied = close;
                } else {
                    data_value = false;
                }
                expect_key = false;
                i = close;
            }
            b'{' => {
                stack.push(if data_value {
                    Frame::Data
                } else {
                    Frame::Fields
                });
                data_value = false;
                expect_key = true;
            }
            b'[' => {
                stack.push(Frame::List);
                data_value = false;
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                data_value = false;
                expect_key = false;
            }
            b',' => {
                data_value = false;
                expect_key = matches!(stack.last(), Some(Frame::Fields | Frame::Data));
            }
            b':' | b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => data_value = false,
        }
        i += 1;
    }
    out.push_str(&json[copied..]);
    out
}

/// The index of the quote closing the JSON string whose body starts at `i`, if any. Page texts
/// are long strings: the scan jumps from one quote or backslash to the next (memchr).
fn closing_quote(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        i += memchr::memchr2(b'"', b'\\', &bytes[i..])?;
        if bytes[i] == b'"' {
            return Some(i);
        }
        i += 2;
    }
    None
}

/// The first page id in `value` (a `page` field holding a string) that the core refuses.
fn bad_page_id(value: &Value) -> Option<Failure> {
    match value {
        Value::Object(map) => map.iter().find_map(|(key, v)| match v {
            Value::String(id) if key == "page" => PageId::clean(id).err().map(Failure::from),
            v => bad_page_id(v),
        }),
        Value::Array(items) => items.iter().find_map(bad_page_id),
        _ => None,
    }
}

/// Parses the JSON text of the argument `what` into a core type. A malformed or misshapen
/// value is an `invalid_argument` failure naming `what`; a page id the core refuses inside it
/// is a page id failure with the core's code.
pub fn parse<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, Failure> {
    let json = rename_keys(json, camel_to_snake_into);
    serde_json::from_str(&json).map_err(|e| {
        // The slow path, for the error only: find a refused page id inside the value.
        serde_json::from_str::<Value>(&json)
            .ok()
            .and_then(|v| bad_page_id(&v))
            .unwrap_or_else(|| Failure::invalid_argument(format!("{what}: {e}")))
    })
}

/// A JS number used as a size: a non-negative integer that fits the platform's `usize`.
pub fn size(what: &str, n: f64) -> Result<usize, Failure> {
    // `usize::MAX as f64` rounds up to a power of two, so `<` is the exact bound.
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n < usize::MAX as f64 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(n as usize)
    } else {
        Err(Failure::invalid_argument(format!(
            "{what}: expected a non-negative integer, got {n}"
        )))
    }
}

/// The JSON text of a core value, with camelCase keys.
pub fn render<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value)
        .expect("the core's types serialize to JSON: every map key is a string");
    rename_keys(&json, snake_to_camel_into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wikisync_core::sync::PageState;

    #[test]
    fn keys_round_trip() {
        for key in [
            "atom_id",
            "lock_expires",
            "media_type",
            "type",
            "conflict_with",
            "a_b_c",
        ] {
            assert_eq!(camel_to_snake(&snake_to_camel(key)), key);
        }
        assert_eq!(snake_to_camel("followed_source"), "followedSource");
    }

    /// Both directions through the text rewriter, compared as values.
    fn both_ways(snake: &Value) -> Value {
        let camel = rename_keys(&snake.to_string(), snake_to_camel_into);
        let back = rename_keys(&camel, camel_to_snake_into);
        assert_eq!(&serde_json::from_str::<Value>(&back).expect("JSON"), snake);
        serde_json::from_str(&camel).expect("JSON")
    }

    #[test]
    fn site_keyed_maps_keep_their_keys() {
        let v = json!({"followed_source": null, "clock": {"https://a_b.example/": 3},
                       "history": [{"clock": {"x_y": 1}, "text": ""}],
                       "lock": {"type": "awaiting_local_save", "opened": {"s_t": 2}, "since": 1},
                       "released": {"u_v": 4}, "after_map": {"k_k": [1, {"z_z": 0}]}});
        let camel = both_ways(&v);
        assert_eq!(camel["followedSource"], Value::Null);
        assert_eq!(camel["clock"]["https://a_b.example/"], 3);
        assert_eq!(camel["history"][0]["clock"]["x_y"], 1);
        assert_eq!(camel["lock"]["opened"]["s_t"], 2);
        assert_eq!(camel["released"]["u_v"], 4);
        assert_eq!(camel["afterMap"]["kK"][1]["zZ"], 0);
    }

    #[test]
    fn strings_are_copied_untouched() {
        // Values that look like keys, escapes, quotes, non-ASCII, and an entry's clock list.
        let v = json!({"page_text": "a_b\\\"c_d\": {\"x_y\": 1}\u{e9}",
                       "clock": [{"revision": 1, "site": "s_t"}], "media_type": "text/x_y",
                       "e_f": ["g_h", {"i_j": "k_l"}], "n_one": 1.5e3, "t_f": [true, false, null]});
        let camel = both_ways(&v);
        assert_eq!(camel["pageText"], v["page_text"]);
        assert_eq!(camel["clock"][0]["site"], "s_t");
        assert_eq!(camel["mediaType"], "text/x_y");
        assert_eq!(camel["eF"][1]["iJ"], "k_l");
        assert_eq!(camel["eF"][0], "g_h");
    }

    #[test]
    fn malformed_text_is_copied_through_without_panicking() {
        for bad in [
            "{\"a_b\": \"unterminated é",
            "{\"a_b",
            "]]}}",
            "\"\\",
            "{\"é_x\":1,\"\\u00e9\":2}",
        ] {
            let out = rename_keys(bad, snake_to_camel_into);
            assert!(!out.is_empty());
        }
    }

    #[test]
    fn bad_page_id_inside_an_argument_is_a_page_id_failure() {
        let state = render(&PageState::new(PageId::clean("a:b").expect("clean id")));
        let ok: PageState = parse("state", &state).expect("round trip");
        assert_eq!(ok.page.as_str(), "a:b");
        let bad = state.replace("\"a:b\"", "\"a:..:b\"");
        let err = parse::<PageState>("state", &bad).expect_err("refused");
        assert_eq!(err.code_str(), "path_traversal");
        let err = parse::<PageState>("state", "{").expect_err("refused");
        assert_eq!(err.code_str(), "invalid_argument");
        assert!(err.message().starts_with("state: "));
    }
}
