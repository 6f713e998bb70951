//! A small reader over `serde_json::Value` that records every problem with its exact path.
//!
//! Parsers read fields through [`Obj`] instead of deriving `Deserialize`, because serde stops at
//! the first error while a sender fixing a payload wants to see all of them, each with its path.

use super::MAX_BODY_BYTES;
use super::error::{BODY, FieldError, IngestError, IngestErrorKind};
use super::time::parse_timestamp;
use crate::Instant;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The UTF-8 byte-order mark. Some senders put it before a JSON body; RFC 8259 §8.1 forbids
/// sending it but lets a parser ignore it, which is kinder than refusing the alert.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Checks, in this order: size (before reading anything), emptiness, JSON syntax. A leading
/// UTF-8 byte-order mark is skipped; the size limit still counts it.
pub(crate) fn parse_body(body: &[u8]) -> Result<Value, IngestError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(IngestError::too_large(body.len(), MAX_BODY_BYTES));
    }
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::empty_body());
    }
    serde_json::from_slice(body).map_err(|error| IngestError::not_json(&error))
}

/// The path of `key` inside the object at `parent` (`""` is the body itself).
pub(crate) fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path of element `index` of the array at `parent`.
pub(crate) fn item(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// How a path is shown in an error: the body itself is `$`.
fn shown(path: &str) -> String {
    if path.is_empty() {
        BODY.to_string()
    } else {
        path.to_string()
    }
}

/// The JSON type name of `value`, for "must be a string (got number)".
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Field errors collected while reading one body.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    /// Records that the field at `path` is wrong.
    pub(crate) fn push(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: shown(path),
            message: message.into(),
        });
    }

    /// Records that the field at `path` is missing.
    pub(crate) fn missing(&mut self, path: &str) {
        self.push(path, "is required");
    }

    /// Records that the field at `path` has the wrong JSON type.
    pub(crate) fn wrong_type(&mut self, path: &str, expected: &str, found: &Value) {
        self.push(
            path,
            format!("must be {expected} (got {})", type_name(found)),
        );
    }

    /// `Ok(value)` when nothing was recorded, else an `invalid_field` error with every problem.
    pub(crate) fn into_result<T>(self, value: T) -> Result<T, IngestError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(IngestError {
                kind: IngestErrorKind::Invalid,
                errors: self.0,
            })
        }
    }

    /// The recorded problems as an `invalid_field` error. Only called after a check failed, so
    /// the list is never empty; an empty one still yields a generic error rather than a panic.
    pub(crate) fn into_error(self) -> IngestError {
        if self.0.is_empty() {
            IngestError::invalid(BODY, "is not a valid payload for this format")
        } else {
            IngestError {
                kind: IngestErrorKind::Invalid,
                errors: self.0,
            }
        }
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were recorded so far (to tell whether one element added any).
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// A JSON object and its path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Obj<'a> {
    path: &'a str,
    map: &'a Map<String, Value>,
}

/// An owned path plus the object at it; [`Obj`] borrows the path so nested reads stay cheap.
#[derive(Debug, Clone)]
pub(crate) struct Located<'a> {
    pub(crate) path: String,
    pub(crate) map: &'a Map<String, Value>,
}

impl<'a> Located<'a> {
    /// `value` as an object at `path`, or a recorded error.
    pub(crate) fn new(value: &'a Value, path: String, errors: &mut Errors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Located { path, map }),
            other => {
                errors.wrong_type(&path, "an object", other);
                None
            }
        }
    }

    /// A borrowed view for reading fields.
    pub(crate) fn obj(&self) -> Obj<'_> {
        Obj {
            path: &self.path,
            map: self.map,
        }
    }
}

impl<'a> Obj<'a> {
    /// The path of this object.
    pub(crate) fn path(&self) -> &'a str {
        self.path
    }

    /// The path of `key` inside this object.
    pub(crate) fn at(&self, key: &str) -> String {
        child(self.path, key)
    }

    /// The value at `key`; JSON `null` counts as absent.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// An optional string.
    pub(crate) fn str(&self, key: &str, errors: &mut Errors) -> Option<&'a str> {
        match self.get(key)? {
            Value::String(text) => Some(text),
            other => {
                errors.wrong_type(&self.at(key), "a string", other);
                None
            }
        }
    }

    /// An optional string, with `""` treated as absent (senders often send empty URLs).
    pub(crate) fn non_empty_str(&self, key: &str, errors: &mut Errors) -> Option<&'a str> {
        self.str(key, errors).filter(|text| !text.trim().is_empty())
    }

    /// A required, non-blank string.
    pub(crate) fn required_str(&self, key: &str, errors: &mut Errors) -> Option<&'a str> {
        match self.get(key) {
            None => {
                errors.missing(&self.at(key));
                None
            }
            Some(Value::String(text)) if text.trim().is_empty() => {
                errors.push(&self.at(key), "must not be empty");
                None
            }
            Some(Value::String(text)) => Some(text),
            Some(other) => {
                errors.wrong_type(&self.at(key), "a string", other);
                None
            }
        }
    }

    /// An optional nested object.
    pub(crate) fn object(&self, key: &str, errors: &mut Errors) -> Option<Located<'a>> {
        Located::new(self.get(key)?, self.at(key), errors)
    }

    /// A required nested object.
    pub(crate) fn required_object(&self, key: &str, errors: &mut Errors) -> Option<Located<'a>> {
        if self.get(key).is_none() {
            errors.missing(&self.at(key));
            return None;
        }
        self.object(key, errors)
    }

    /// An optional array.
    pub(crate) fn array(&self, key: &str, errors: &mut Errors) -> Option<&'a [Value]> {
        match self.get(key)? {
            Value::Array(items) => Some(items),
            other => {
                errors.wrong_type(&self.at(key), "an array", other);
                None
            }
        }
    }

    /// A required array.
    pub(crate) fn required_array(&self, key: &str, errors: &mut Errors) -> Option<&'a [Value]> {
        if self.get(key).is_none() {
            errors.missing(&self.at(key));
            return None;
        }
        self.array(key, errors)
    }

    /// An optional object whose values are all strings (labels, annotations).
    pub(crate) fn string_map(&self, key: &str, errors: &mut Errors) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let Some(located) = self.object(key, errors) else {
            return out;
        };
        for (name, value) in located.map {
            match value {
                Value::String(text) => {
                    out.insert(name.clone(), text.clone());
                }
                other => errors.wrong_type(&child(&located.path, name), "a string", other),
            }
        }
        out
    }

    /// An optional timestamp (RFC 3339, or ISO 8601 with a `+0000` offset).
    pub(crate) fn timestamp(&self, key: &str, errors: &mut Errors) -> Option<Instant> {
        let text = self.str(key, errors)?;
        let parsed = parse_timestamp(text);
        if parsed.is_none() {
            errors.push(
                &self.at(key),
                "must be an RFC 3339 timestamp such as 2024-05-01T12:00:00Z",
            );
        }
        parsed
    }

    /// An optional non-negative integer.
    pub(crate) fn unsigned(&self, key: &str, errors: &mut Errors) -> Option<u64> {
        let value = self.get(key)?;
        let parsed = value.as_u64();
        if parsed.is_none() {
            errors.wrong_type(&self.at(key), "a non-negative integer", value);
        }
        parsed
    }

    /// An optional integer.
    pub(crate) fn integer(&self, key: &str, errors: &mut Errors) -> Option<i64> {
        let value = self.get(key)?;
        let parsed = value.as_i64();
        if parsed.is_none() {
            errors.wrong_type(&self.at(key), "an integer", value);
        }
        parsed
    }

    /// An optional number.
    pub(crate) fn number(&self, key: &str, errors: &mut Errors) -> Option<f64> {
        let value = self.get(key)?;
        let parsed = value.as_f64();
        if parsed.is_none() {
            errors.wrong_type(&self.at(key), "a number", value);
        }
        parsed
    }

    /// An optional boolean.
    pub(crate) fn boolean(&self, key: &str, errors: &mut Errors) -> Option<bool> {
        let value = self.get(key)?;
        let parsed = value.as_bool();
        if parsed.is_none() {
            errors.wrong_type(&self.at(key), "a boolean", value);
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn size_is_checked_before_anything_else() {
        let huge = vec![b'x'; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse_body(&huge).unwrap_err().kind,
            IngestErrorKind::TooLarge
        );
        assert_eq!(
            parse_body(b" \n\t").unwrap_err().kind,
            IngestErrorKind::EmptyBody
        );
        assert_eq!(
            parse_body(b"{nope").unwrap_err().kind,
            IngestErrorKind::NotJson
        );
        assert_eq!(parse_body(b"{}").unwrap(), json!({}));
    }

    #[test]
    fn a_leading_byte_order_mark_is_skipped_and_nothing_else_is() {
        assert_eq!(
            parse_body(b"\xEF\xBB\xBF{\"a\": 1}").unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            parse_body(b"\xEF\xBB\xBF").unwrap_err().kind,
            IngestErrorKind::EmptyBody
        );
        // Only one mark, and only at the start: anything else is still not JSON.
        assert_eq!(
            parse_body(b"\xEF\xBB\xBF\xEF\xBB\xBF{}").unwrap_err().kind,
            IngestErrorKind::NotJson
        );
        assert_eq!(
            parse_body(b"{}\xEF\xBB\xBF").unwrap_err().kind,
            IngestErrorKind::NotJson
        );
    }

    #[test]
    fn reader_names_nested_paths_and_collects_every_error() {
        let value = json!({"a": {"b": 1, "labels": {"ok": "x", "bad": 2}}, "n": null});
        let mut errors = Errors::default();
        let root = Located::new(&value, String::new(), &mut errors).unwrap();
        let a = root.obj().required_object("a", &mut errors).unwrap();
        assert_eq!(a.obj().str("b", &mut errors), None);
        let labels = a.obj().string_map("labels", &mut errors);
        assert_eq!(labels.get("ok").map(String::as_str), Some("x"));
        assert_eq!(root.obj().required_str("n", &mut errors), None);
        let error = errors.into_result(()).unwrap_err();
        let fields: Vec<_> = error.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["a.b", "a.labels.bad", "n"]);
        assert_eq!(error.errors[0].message, "must be a string (got number)");
        assert_eq!(error.errors[2].message, "is required");
    }

    #[test]
    fn a_body_that_is_not_an_object_is_named_dollar() {
        let value = json!([1, 2]);
        let mut errors = Errors::default();
        assert!(Located::new(&value, String::new(), &mut errors).is_none());
        let error = errors.into_result(()).unwrap_err();
        assert_eq!(error.errors[0].field, "$");
        assert_eq!(error.errors[0].message, "must be an object (got array)");
    }
}
