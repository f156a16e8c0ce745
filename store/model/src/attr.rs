//! Typed attribute values mirroring OTLP's `AnyValue`, so nothing is lost between OTLP, the
//! WAL and Parquet.

use serde::{Deserialize, Serialize};

/// An attribute or body value with its OTLP type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum AnyValue {
    /// No value (OTLP's unset `AnyValue`).
    #[default]
    Empty,
    /// A UTF-8 string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// A signed 64-bit integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An ordered list of values.
    Array(Vec<AnyValue>),
    /// An ordered list of key/value pairs.
    KvList(Vec<KeyValue>),
}

impl AnyValue {
    /// Returns the string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// [`AnyValue::to_text`] without a copy for strings (the common case).
    pub fn as_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            AnyValue::String(text) => std::borrow::Cow::Borrowed(text.as_str()),
            AnyValue::Empty => std::borrow::Cow::Borrowed(""),
            other => std::borrow::Cow::Owned(other.to_text()),
        }
    }

    /// Renders the value as text the way a search compares it: strings as is, numbers and
    /// booleans in their usual forms, bytes as hex, arrays and maps as JSON.
    pub fn to_text(&self) -> String {
        match self {
            AnyValue::Empty => String::new(),
            AnyValue::String(text) => text.clone(),
            AnyValue::Bool(value) => value.to_string(),
            AnyValue::Int(value) => value.to_string(),
            AnyValue::Double(value) => value.to_string(),
            AnyValue::Bytes(bytes) => hex::encode(bytes),
            AnyValue::Array(_) | AnyValue::KvList(_) => self.to_json().to_string(),
        }
    }

    /// Converts the value into plain JSON (bytes become hex strings), for display.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            AnyValue::Empty => Value::Null,
            AnyValue::String(text) => Value::String(text.clone()),
            AnyValue::Bool(flag) => Value::Bool(*flag),
            AnyValue::Int(number) => Value::from(*number),
            AnyValue::Double(number) => Value::from(*number),
            AnyValue::Bytes(bytes) => Value::String(hex::encode(bytes)),
            AnyValue::Array(items) => Value::Array(items.iter().map(AnyValue::to_json).collect()),
            AnyValue::KvList(pairs) => Value::Object(
                pairs
                    .iter()
                    .map(|kv| (kv.key.clone(), kv.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// One attribute: a key and its typed value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KeyValue {
    /// The attribute key, such as `http.request.method`.
    pub key: String,
    /// The typed value.
    pub value: AnyValue,
}

impl KeyValue {
    /// Builds a key/value pair.
    pub fn new(key: impl Into<String>, value: AnyValue) -> Self {
        Self {
            key: key.into(),
            value,
        }
    }
}

/// Finds the value of `key` in a list of attributes.
pub fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| &kv.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms() {
        let map = AnyValue::KvList(vec![
            KeyValue::new("a", AnyValue::Int(1)),
            KeyValue::new(
                "b\"",
                AnyValue::Array(vec![AnyValue::Bool(true), AnyValue::Empty]),
            ),
        ]);
        assert_eq!(map.to_text(), r#"{"a":1,"b\"":[true,null]}"#);
        assert_eq!(AnyValue::Bytes(vec![0xab, 1]).to_text(), "ab01");
        assert_eq!(AnyValue::Double(1.5).to_text(), "1.5");
    }
}
