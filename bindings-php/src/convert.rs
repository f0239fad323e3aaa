//! Conversions between PHP values and the core's types, through their serde JSON form.
//!
//! - **PHP → core**: a PHP array is read into a [`Node`] tree (lists are arrays whose keys are
//!   exactly `0..n`, everything else is a map with string keys, in PHP order), which a small
//!   serde `Deserializer` turns into the core type. PHP cannot tell `[]` from `{}`, so an empty
//!   array becomes whatever the target type asks for: a list for a `Vec`, a map for a `Clock`.
//!   Inside internally tagged enums serde buffers values before it knows their type; there an
//!   empty array is tried as a list first and, if the value is refused, as a map (the few
//!   ambiguous arrays of one argument are tried in every combination, at most 2^8).
//! - **core → PHP**: the value is serialized to `serde_json::Value` (object keys sorted, so the
//!   key order of every returned array is deterministic) and built as nested PHP arrays.

use std::cell::RefCell;
use std::fmt;

use ext_php_rs::boxed::ZBox;
use ext_php_rs::flags::DataType;
use ext_php_rs::types::{ArrayKey, ZendHashTable, Zval};
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;

/// How deep PHP arrays may nest; deeper input (or a self-referencing array) is refused.
const MAX_DEPTH: usize = 64;

/// How many ambiguous empty arrays one argument may hold before the list/map search gives up.
const MAX_AMBIGUOUS: usize = 8;

/// A PHP value read out of the engine, ready for deserialization.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (checked to be UTF-8).
    Str(String),
    /// A non-empty array with keys `0..n` in order.
    List(Vec<Node>),
    /// A non-empty array with other keys (int keys become decimal strings), in PHP order.
    Map(Vec<(String, Node)>),
    /// An empty array, numbered in reading order: a list or a map, as the target type needs.
    Empty(usize),
}

/// Why a PHP value could not become the core type: the message says what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShapeError(pub(crate) String);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShapeError {}

impl de::Error for ShapeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ShapeError(msg.to_string())
    }
}

/// Reads a PHP array into a [`Node`]; `path` names the argument for error messages.
pub(crate) fn read_array(array: &ZendHashTable, path: &str) -> Result<Node, ShapeError> {
    let mut empties = 0;
    read_table(array, path, 0, &mut empties)
}

/// Reads any PHP value into a [`Node`].
fn read_zval(
    zval: &Zval,
    path: &str,
    depth: usize,
    empties: &mut usize,
) -> Result<Node, ShapeError> {
    let zval = zval.dereference();
    match zval.get_type() {
        DataType::Null | DataType::Undef => Ok(Node::Null),
        DataType::False => Ok(Node::Bool(false)),
        DataType::True => Ok(Node::Bool(true)),
        DataType::Long => zval
            .long()
            .map(Node::Int)
            .ok_or_else(|| ShapeError(format!("{path} is not an int"))),
        DataType::Double => zval
            .double()
            .map(Node::Float)
            .ok_or_else(|| ShapeError(format!("{path} is not a float"))),
        DataType::String => {
            let bytes = zval
                .zend_str()
                .map(|s| s.as_bytes())
                .ok_or_else(|| ShapeError(format!("{path} is not a string")))?;
            utf8(bytes, path).map(|s| Node::Str(s.to_owned()))
        }
        DataType::Array => match zval.array() {
            Some(table) => read_table(table, path, depth + 1, empties),
            None => Err(ShapeError(format!("{path} is not an array"))),
        },
        other => Err(ShapeError(format!(
            "{path} is of type {other}; only null, bool, int, float, string and array are accepted"
        ))),
    }
}

fn read_table(
    table: &ZendHashTable,
    path: &str,
    depth: usize,
    empties: &mut usize,
) -> Result<Node, ShapeError> {
    if depth > MAX_DEPTH {
        return Err(ShapeError(format!(
            "{path} nests arrays more than {MAX_DEPTH} deep (or refers to itself)"
        )));
    }
    if table.is_empty() {
        *empties += 1;
        return Ok(Node::Empty(*empties - 1));
    }
    let is_list = table
        .iter()
        .enumerate()
        .all(|(i, (key, _))| matches!(key, ArrayKey::Long(k) if usize::try_from(k) == Ok(i)));
    if is_list {
        let mut items = Vec::with_capacity(table.len());
        for (i, value) in table.values().enumerate() {
            items.push(read_zval(value, &format!("{path}[{i}]"), depth, empties)?);
        }
        return Ok(Node::List(items));
    }
    let mut entries = Vec::with_capacity(table.len());
    for (key, value) in table.iter() {
        let key = match key {
            ArrayKey::Long(k) => k.to_string(),
            ArrayKey::String(k) => k,
            ArrayKey::Str(k) => k.to_owned(),
            ArrayKey::ZendString(k) => utf8(k.as_bytes(), &format!("a key of {path}"))?.to_owned(),
        };
        let node = read_zval(value, &format!("{path}[{key:?}]"), depth, empties)?;
        entries.push((key, node));
    }
    Ok(Node::Map(entries))
}

/// Checks that a PHP string argument is UTF-8.
pub(crate) fn utf8<'a>(bytes: &'a [u8], path: &str) -> Result<&'a str, ShapeError> {
    std::str::from_utf8(bytes).map_err(|e| ShapeError(format!("{path} is not valid UTF-8: {e}")))
}

/// Deserializes a core type from a [`Node`], resolving ambiguous empty arrays (see the module
/// doc).
pub(crate) fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, ShapeError> {
    let ctx = Ctx::default();
    let first = T::deserialize(De { node, ctx: &ctx });
    let Err(first_error) = first else {
        return first;
    };
    let mut asked = ctx.asked.take();
    asked.sort_unstable();
    asked.dedup();
    if asked.is_empty() || asked.len() > MAX_AMBIGUOUS {
        return Err(first_error);
    }
    for mask in 1u32..(1 << asked.len()) {
        let maps = asked
            .iter()
            .enumerate()
            .filter(|(bit, _)| mask & (1 << bit) != 0)
            .map(|(_, &id)| id)
            .collect();
        let ctx = Ctx {
            maps,
            asked: RefCell::default(),
        };
        if let Ok(value) = T::deserialize(De { node, ctx: &ctx }) {
            return Ok(value);
        }
    }
    Err(first_error)
}

/// Every string of a node, for finding which one a failed deserialization refused.
pub(crate) fn strings(node: &Node) -> Vec<&str> {
    let mut out = Vec::new();
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match n {
            Node::Str(s) => out.push(s.as_str()),
            Node::List(items) => stack.extend(items.iter()),
            Node::Map(entries) => {
                for (key, value) in entries {
                    out.push(key.as_str());
                    stack.push(value);
                }
            }
            _ => {}
        }
    }
    out
}

/// Serializes a core value (a struct, a map or a list) and builds it as a PHP array.
pub(crate) fn to_array<T: serde::Serialize>(value: &T) -> Result<ZBox<ZendHashTable>, ShapeError> {
    let json = serde_json::to_value(value)
        .map_err(|e| ShapeError(format!("the result cannot be converted: {e}")))?;
    json_to_table(&json)
}

/// Builds a JSON object or array as a PHP array.
fn json_to_table(value: &Value) -> Result<ZBox<ZendHashTable>, ShapeError> {
    match value {
        Value::Array(items) => {
            let mut table = table_with_capacity(items.len());
            for item in items {
                table.push(json_to_zval(item)?).map_err(php_error)?;
            }
            Ok(table)
        }
        Value::Object(map) => {
            let mut table = table_with_capacity(map.len());
            for (key, item) in map {
                table
                    .insert(key.as_str(), json_to_zval(item)?)
                    .map_err(php_error)?;
            }
            Ok(table)
        }
        other => Err(ShapeError(format!("the result is not an array: {other}"))),
    }
}

/// Builds a JSON value as a PHP value: objects become associative arrays (keys in the
/// `serde_json::Map` order, i.e. sorted), arrays become lists; integers beyond PHP's int range
/// become floats, as in PHP's own `json_decode`.
fn json_to_zval(value: &Value) -> Result<Zval, ShapeError> {
    let mut zval = Zval::new();
    match value {
        Value::Null => zval.set_null(),
        Value::Bool(b) => zval.set_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => zval.set_long(i),
            None => zval.set_double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => zval.set_string(s, false).map_err(php_error)?,
        Value::Array(_) | Value::Object(_) => zval.set_hashtable(json_to_table(value)?),
    }
    Ok(zval)
}

fn table_with_capacity(len: usize) -> ZBox<ZendHashTable> {
    ZendHashTable::with_capacity(u32::try_from(len).unwrap_or(u32::MAX))
}

fn php_error(e: ext_php_rs::error::Error) -> ShapeError {
    ShapeError(format!("cannot build the PHP value: {e}"))
}

/// The choices for ambiguous empty arrays in one deserialization attempt.
#[derive(Default)]
struct Ctx {
    /// Empty arrays (by number) to present as maps when serde does not say what it wants.
    maps: Vec<usize>,
    /// Empty arrays serde asked for without saying what it wants (`deserialize_any`).
    asked: RefCell<Vec<usize>>,
}

/// A serde `Deserializer` over a [`Node`].
#[derive(Clone, Copy)]
struct De<'a> {
    node: &'a Node,
    ctx: &'a Ctx,
}

impl<'de> IntoDeserializer<'de, ShapeError> for De<'_> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl De<'_> {
    fn visit_list<'de, V: Visitor<'de>>(
        self,
        items: &[Node],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        let ctx = self.ctx;
        let mut seq = SeqDeserializer::new(items.iter().map(|node| De { node, ctx }));
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn visit_map<'de, V: Visitor<'de>>(
        self,
        entries: &[(String, Node)],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        let ctx = self.ctx;
        let mut map = MapDeserializer::new(
            entries
                .iter()
                .map(|(key, node)| (key.as_str(), De { node, ctx })),
        );
        let value = visitor.visit_map(&mut map)?;
        map.end()?;
        Ok(value)
    }
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = ShapeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.node {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(*b),
            Node::Int(i) => visitor.visit_i64(*i),
            Node::Float(f) => visitor.visit_f64(*f),
            Node::Str(s) => visitor.visit_str(s),
            Node::List(items) => self.visit_list(items, visitor),
            Node::Map(entries) => self.visit_map(entries, visitor),
            Node::Empty(id) => {
                self.ctx.asked.borrow_mut().push(*id);
                if self.ctx.maps.contains(id) {
                    self.visit_map(&[], visitor)
                } else {
                    self.visit_list(&[], visitor)
                }
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.node {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.node {
            Node::Empty(_) => self.visit_list(&[], visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self.node {
            Node::Empty(_) => self.visit_map(&[], visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        match self.node {
            Node::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Node::Map(entries) if entries.len() == 1 => {
                let ctx = self.ctx;
                let map = MapDeserializer::new(
                    entries
                        .iter()
                        .map(|(key, node)| (key.as_str(), De { node, ctx })),
                );
                visitor.visit_enum(de::value::MapAccessDeserializer::new(map))
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &visitor)),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct tuple_struct identifier ignored_any
    }
}

impl De<'_> {
    fn unexpected(&self) -> de::Unexpected<'_> {
        match self.node {
            Node::Null => de::Unexpected::Unit,
            Node::Bool(b) => de::Unexpected::Bool(*b),
            Node::Int(i) => de::Unexpected::Signed(*i),
            Node::Float(f) => de::Unexpected::Float(*f),
            Node::Str(s) => de::Unexpected::Str(s),
            Node::List(_) | Node::Empty(_) => de::Unexpected::Seq,
            Node::Map(_) => de::Unexpected::Map,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Tagged {
        Both {
            list: Vec<u8>,
            map: BTreeMap<String, u8>,
        },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Plain {
        list: Vec<u8>,
        map: BTreeMap<String, u8>,
        maybe: Option<String>,
        inner: Tagged,
    }

    fn map(entries: Vec<(&str, Node)>) -> Node {
        Node::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    #[test]
    fn empty_arrays_become_what_the_type_needs_even_inside_tagged_enums() {
        let node = map(vec![
            ("list", Node::Empty(0)),
            ("map", Node::Empty(1)),
            ("maybe", Node::Null),
            (
                "inner",
                map(vec![
                    ("type", Node::Str("both".into())),
                    ("map", Node::Empty(2)),
                    ("list", Node::Empty(3)),
                ]),
            ),
        ]);
        let got: Plain = from_node(&node).expect("every empty array has one right reading");
        assert_eq!(
            got,
            Plain {
                list: vec![],
                map: BTreeMap::new(),
                maybe: None,
                inner: Tagged::Both {
                    list: vec![],
                    map: BTreeMap::new()
                },
            }
        );
    }

    #[test]
    fn wrong_shapes_are_errors_that_say_what_is_wrong() {
        let node = map(vec![("list", Node::Str("x".into()))]);
        let err = from_node::<Plain>(&node).expect_err("a string is not a list");
        assert!(err.0.contains("invalid type"), "{err}");
        let err = from_node::<Plain>(&Node::Int(3)).expect_err("an int is not a struct");
        assert!(err.0.contains("invalid type"), "{err}");
    }

    #[test]
    fn unit_variants_read_from_strings() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(rename_all = "snake_case")]
        enum Unit {
            Alpha,
            Beta,
        }
        assert_eq!(from_node::<Unit>(&Node::Str("beta".into())), Ok(Unit::Beta));
        assert!(from_node::<Unit>(&Node::Str("gamma".into())).is_err());
        assert_eq!(
            from_node::<Unit>(&Node::Str("alpha".into())),
            Ok(Unit::Alpha)
        );
    }

    #[test]
    fn strings_lists_every_string_and_key() {
        let node = map(vec![(
            "a",
            Node::List(vec![Node::Str("x".into()), Node::Int(1)]),
        )]);
        let mut got = strings(&node);
        got.sort_unstable();
        assert_eq!(got, vec!["a", "x"]);
    }
}
