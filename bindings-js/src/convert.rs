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
use serde_json::{Map, Value};
use wikisync_core::id::PageId;

use crate::error::Failure;

/// Fields whose value is a map keyed by data (site ids), not by field names: `clock` in a
/// page state, snapshot or conflict (an entry's `clock` is a list and is unaffected),
/// `released`, and a local lock's `opened` clock. Their keys are never renamed.
const DATA_KEYED: &[&str] = &["clock", "released", "opened"];

/// `lock_expires` → `lockExpires`.
pub fn snake_to_camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' && !out.is_empty() {
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
    out
}

/// `lockExpires` → `lock_expires`; snake_case keys are returned unchanged.
pub fn camel_to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames every object key with `rename`, except inside the data-keyed maps.
fn rename_keys(value: Value, rename: fn(&str) -> String) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::with_capacity(map.len());
            for (key, v) in map {
                let v = if DATA_KEYED.contains(&key.as_str()) && v.is_object() {
                    v
                } else {
                    rename_keys(v, rename)
                };
                out.insert(rename(&key), v);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| rename_keys(v, rename)).collect())
        }
        other => other,
    }
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
    let value: Value = serde_json::from_str(json)
        .map_err(|e| Failure::invalid_argument(format!("{what}: not JSON data: {e}")))?;
    from_value(what, value)
}

/// Like [`parse`], for a value already parsed.
pub fn from_value<T: DeserializeOwned>(what: &str, value: Value) -> Result<T, Failure> {
    let value = rename_keys(value, camel_to_snake);
    T::deserialize(&value).map_err(|e| {
        bad_page_id(&value).unwrap_or_else(|| Failure::invalid_argument(format!("{what}: {e}")))
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
    let value = serde_json::to_value(value)
        .expect("the core's types serialize to JSON: every map key is a string");
    rename_keys(value, snake_to_camel).to_string()
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

    #[test]
    fn site_keyed_maps_keep_their_keys() {
        let v = json!({"followed_source": null, "clock": {"https://a_b.example/": 3},
                       "history": [{"clock": {"x_y": 1}, "text": ""}]});
        let camel = rename_keys(v.clone(), snake_to_camel);
        assert_eq!(camel["followedSource"], Value::Null);
        assert_eq!(camel["clock"]["https://a_b.example/"], 3);
        assert_eq!(camel["history"][0]["clock"]["x_y"], 1);
        assert_eq!(rename_keys(camel, camel_to_snake), v);
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
