//! Encoding helpers shared by the repositories: serde items, JSON kept as text, gzip, hashes,
//! binary attributes.

use super::RepoError;
use crate::{Item, Key, decode_item, encode_item};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{Read, Write};

/// The most bytes a compressed document may expand to when read back (far above anything the
/// repository writes; it only bounds the damage a corrupt item can do).
const MAX_EXPANDED_BYTES: u64 = 64 * 1024 * 1024;

/// Encodes a value as an item.
pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item, RepoError> {
    Ok(encode_item(value)?)
}

/// Decodes an item read from the store; a mismatch is [`RepoError::Corrupt`] naming the
/// attribute.
pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, RepoError> {
    let key = Key::of_item(&item).unwrap_or_else(|| Key::new("?", "?"));
    Ok(decode_item(&key, item)?)
}

/// Encodes a value as one attribute value (for update actions).
pub(crate) fn to_item_value<T: Serialize>(value: &T) -> Result<crate::AttributeValue, RepoError> {
    serde_dynamo::to_attribute_value(value)
        .map_err(|e| RepoError::invalid("<value>", e.to_string()))
}

/// Serialises a document to JSON text (for attributes that keep sender-controlled maps).
pub(crate) fn to_json<T: Serialize>(field: &str, value: &T) -> Result<String, RepoError> {
    serde_json::to_string(value).map_err(|e| RepoError::invalid(field, e.to_string()))
}

/// Parses a JSON document kept in `attribute`; a mismatch names the path inside it
/// (`incident.escalation.status`).
pub(crate) fn from_json<T: DeserializeOwned>(
    key: &Key,
    attribute: &str,
    text: &[u8],
) -> Result<T, RepoError> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let at = if path.is_empty() || path == "." {
            attribute.to_owned()
        } else {
            format!("{attribute}.{path}")
        };
        RepoError::corrupt(key, at, error.inner().to_string())
    })
}

/// Gzip-compresses bytes.
pub(crate) fn gzip(data: &[u8]) -> Result<Vec<u8>, RepoError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|e| RepoError::invalid("<compression>", e.to_string()))
}

/// Expands gzip-compressed bytes read from `attribute` of the item at `key`.
pub(crate) fn gunzip(key: &Key, attribute: &str, data: &[u8]) -> Result<Vec<u8>, RepoError> {
    let mut expanded = Vec::new();
    GzDecoder::new(data)
        .take(MAX_EXPANDED_BYTES + 1)
        .read_to_end(&mut expanded)
        .map_err(|e| RepoError::corrupt(key, attribute, format!("not gzip data: {e}")))?;
    if expanded.len() as u64 > MAX_EXPANDED_BYTES {
        return Err(RepoError::corrupt(
            key,
            attribute,
            "expands beyond the largest document the repository writes",
        ));
    }
    Ok(expanded)
}

/// An instant as a string attribute, in the same form serde writes instants
/// (`2026-01-01T09:00:00Z`).
pub(crate) fn time_value(at: klaxon_domain::Instant) -> crate::AttributeValue {
    crate::AttributeValue::S(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// Lowercase hex SHA-256 of some text (bounded, key-safe stand-in for free-form identifiers).
pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A binary attribute (`B`). serde's `Vec<u8>` would become a list of numbers.
#[derive(Clone, PartialEq, Eq, Default)]
pub(crate) struct Blob(pub Vec<u8>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlobVisitor;
        impl<'de> Visitor<'de> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("binary data")
            }
            fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Blob, E> {
                Ok(Blob(bytes.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(bytes))
            }
        }
        deserializer.deserialize_byte_buf(BlobVisitor)
    }
}

/// Checks an identifier that becomes part of a key: non-empty, at most `max` bytes, no
/// control characters.
pub(crate) fn check_key_part(field: &str, value: &str, max: usize) -> Result<(), RepoError> {
    if value.is_empty() {
        return Err(RepoError::invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(RepoError::invalid(
            field,
            format!("must be at most {max} bytes (got {})", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(RepoError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AttributeValue;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct WithBlob {
        pk: String,
        sk: String,
        data: Blob,
    }

    #[test]
    fn blobs_are_binary_attributes() {
        let value = WithBlob {
            pk: "p".into(),
            sk: "s".into(),
            data: Blob(vec![0, 1, 255]),
        };
        let item = to_item(&value).unwrap();
        assert_eq!(item.get("data"), Some(&AttributeValue::B(vec![0, 1, 255])));
        assert_eq!(from_item::<WithBlob>(item).unwrap(), value);
    }

    #[test]
    fn gzip_round_trips_and_garbage_is_corrupt() {
        let data = b"{\"a\":1}".repeat(1000);
        let packed = gzip(&data).unwrap();
        assert!(packed.len() < data.len());
        let key = Key::new("p", "s");
        assert_eq!(gunzip(&key, "body", &packed).unwrap(), data);
        match gunzip(&key, "body", b"not gzip") {
            Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "body"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_path_inside_the_attribute() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            inner: Inner,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            count: u32,
        }
        let key = Key::new("p", "s");
        match from_json::<Doc>(&key, "doc", br#"{"inner":{"count":"x"}}"#) {
            Err(RepoError::Corrupt { attribute, .. }) => assert_eq!(attribute, "doc.inner.count"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn key_parts_are_checked() {
        assert!(check_key_part("id", "abc", 10).is_ok());
        assert!(check_key_part("id", "", 10).is_err());
        assert!(check_key_part("id", "a\nb", 10).is_err());
        assert!(check_key_part("id", &"x".repeat(11), 10).is_err());
    }
}
