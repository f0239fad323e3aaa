//! PHP values ↔ JSON values (`serde_json::Value`), the form in which `wikisync_core::wire`
//! reads and writes the core's types. Nothing else happens here: no field names, no guessing.
//!
//! - **PHP → JSON**: an array whose keys are exactly `0..n` in order is a list (so the empty
//!   array is `[]`), any other array an object (int keys become decimal strings). Strings must
//!   be UTF-8, floats finite, and arrays nest at most [`MAX_DEPTH`] deep (which also stops an
//!   array that contains itself); objects and resources are refused.
//! - **JSON → PHP**: objects become associative arrays, keys in `serde_json`'s order (sorted);
//!   integers beyond PHP's int become floats, as in PHP's own `json_decode`.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::error::{Error, Result};
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ZendHashTable, Zval};
use serde_json::{Map, Number, Value};
use wikisync_core::wire::WireError;

/// How deep PHP arrays may nest; deeper input (or an array that contains itself) is refused.
const MAX_DEPTH: usize = 64;

/// A PHP array argument as JSON; `what` names it in error messages.
pub(crate) fn from_array(array: &ZendHashTable, what: &str) -> Result<Value, WireError> {
    from_table(array, what, 1)
}

/// A PHP string argument as UTF-8 text; `what` names it in error messages.
pub(crate) fn text<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, WireError> {
    std::str::from_utf8(bytes)
        .map_err(|e| WireError::invalid_argument(format!("{what} is not valid UTF-8: {e}")))
}

fn from_table(array: &ZendHashTable, path: &str, depth: usize) -> Result<Value, WireError> {
    if depth > MAX_DEPTH {
        return Err(WireError::invalid_argument(format!(
            "{path} nests arrays more than {MAX_DEPTH} deep (or contains itself)"
        )));
    }
    // Keys as zvals: a string key need not be UTF-8, which `ArrayKey` cannot hold.
    let mut entries = Vec::with_capacity(array.len());
    let mut iter = array.iter();
    while let Some(entry) = iter.next_zval() {
        entries.push(entry);
    }
    let is_list = (entries.iter().enumerate())
        .all(|(i, (key, _))| key.long().and_then(|k| usize::try_from(k).ok()) == Some(i));
    if is_list {
        let items = entries.iter().enumerate();
        return (items.map(|(i, (_, item))| from_zval(item, &format!("{path}[{i}]"), depth)))
            .collect::<Result<_, _>>()
            .map(Value::Array);
    }
    let mut object = Map::new();
    for (key, item) in &entries {
        let key = match (key.long(), key.zend_str()) {
            (Some(index), _) => index.to_string(),
            (None, Some(name)) => text(name.as_bytes(), &format!("a key of {path}"))?.to_owned(),
            (None, None) => continue, // the engine only has int and string keys
        };
        let value = from_zval(item, &format!("{path}[{key:?}]"), depth)?;
        object.insert(key, value);
    }
    Ok(Value::Object(object))
}

fn from_zval(zval: &Zval, path: &str, depth: usize) -> Result<Value, WireError> {
    let zval = zval.dereference();
    if zval.is_null() {
        Ok(Value::Null)
    } else if let Some(b) = zval.bool() {
        Ok(Value::Bool(b))
    } else if let Some(i) = zval.long() {
        Ok(Value::from(i))
    } else if let Some(f) = zval.double() {
        Number::from_f64(f).map(Value::Number).ok_or_else(|| {
            WireError::invalid_argument(format!("{path} is {f}, not a finite number"))
        })
    } else if let Some(s) = zval.zend_str() {
        Ok(Value::String(text(s.as_bytes(), path)?.to_owned()))
    } else if let Some(array) = zval.array() {
        from_table(array, path, depth + 1)
    } else {
        Err(WireError::invalid_argument(format!(
            "{path} is of type {}: only null, bool, int, float, string and array are accepted",
            zval.get_type()
        )))
    }
}

/// A JSON list or object as the PHP array returned.
pub(crate) fn to_array(value: &Value) -> Result<ZBox<ZendHashTable>> {
    let mut array = ZendHashTable::new();
    match value {
        Value::Array(items) => {
            for item in items {
                array.push(to_zval(item)?)?;
            }
        }
        Value::Object(object) => {
            for (key, item) in object {
                array.insert(key.as_str(), to_zval(item)?)?;
            }
        }
        // Only the core's structs and lists are returned as arrays.
        _ => return Err(Error::ZvalConversion(DataType::Array)),
    }
    Ok(array)
}

fn to_zval(value: &Value) -> Result<Zval> {
    let mut zval = Zval::new();
    match value {
        Value::Null => zval.set_null(),
        Value::Bool(b) => zval.set_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => zval.set_long(i),
            // Without serde_json's arbitrary precision every number has an f64 form.
            None => zval.set_double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => zval.set_string(s, false)?,
        Value::Array(_) | Value::Object(_) => zval.set_hashtable(to_array(value)?),
    }
    Ok(zval)
}
