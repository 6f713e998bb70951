//! The one error type every ingest parser returns.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What kind of problem made a body unacceptable. Each kind has a stable, machine-readable
/// [`code`](IngestErrorKind::code) that the HTTP edge puts in its 4xx answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IngestErrorKind {
    /// The body was empty (or only whitespace). Code `empty_body`.
    #[serde(rename = "empty_body")]
    EmptyBody,
    /// The body was not valid JSON. Code `not_json`.
    #[serde(rename = "not_json")]
    NotJson,
    /// The body was larger than [`super::MAX_BODY_BYTES`]. Code `too_large`.
    #[serde(rename = "too_large")]
    TooLarge,
    /// A field was missing, had the wrong type or an invalid value. Code `invalid_field`.
    #[serde(rename = "invalid_field")]
    Invalid,
    /// The request is well formed but asks for something Klaxon does not support (for example
    /// an Opsgenie `identifierType` other than `alias`). Code `unsupported`.
    #[serde(rename = "unsupported")]
    Unsupported,
}

impl IngestErrorKind {
    /// The machine-readable code: `empty_body`, `not_json`, `too_large`, `invalid_field` or
    /// `unsupported`.
    pub fn code(self) -> &'static str {
        match self {
            IngestErrorKind::EmptyBody => "empty_body",
            IngestErrorKind::NotJson => "not_json",
            IngestErrorKind::TooLarge => "too_large",
            IngestErrorKind::Invalid => "invalid_field",
            IngestErrorKind::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for IngestErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The exact JSON path of the field: `payload.summary`, `alerts[2].labels`,
    /// `Message.Trigger.Dimensions[0].name`. `$` is the whole body.
    pub field: String,
    /// What is wrong, as a phrase that follows the field name: `is required`,
    /// `must be a string`, `must be at most 1024 characters (got 1500)`.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

/// Why a body was rejected: a kind (with a machine-readable code) and every field error found.
///
/// Serialises as `{"code":"invalid_field","errors":[{"field":"payload.summary","message":"is required"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {}", join_errors(.errors))]
pub struct IngestError {
    /// The kind of problem.
    #[serde(rename = "code")]
    pub kind: IngestErrorKind,
    /// Every problem found, in document order. Never empty.
    pub errors: Vec<FieldError>,
}

fn join_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The path that names the whole body in [`FieldError::field`].
pub(crate) const BODY: &str = "$";

impl IngestError {
    /// The machine-readable code of this error's kind.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// An error of `kind` about one field.
    pub fn single(
        kind: IngestErrorKind,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        IngestError {
            kind,
            errors: vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
        }
    }

    /// An `invalid_field` error about one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::single(IngestErrorKind::Invalid, field, message)
    }

    /// Whether any error names exactly `field`.
    pub fn names_field(&self, field: &str) -> bool {
        self.errors.iter().any(|error| error.field == field)
    }

    pub(crate) fn empty_body() -> Self {
        Self::single(IngestErrorKind::EmptyBody, BODY, "is empty")
    }

    pub(crate) fn too_large(len: usize, max: usize) -> Self {
        Self::single(
            IngestErrorKind::TooLarge,
            BODY,
            format!("is {len} bytes; the limit is {max} bytes"),
        )
    }

    pub(crate) fn not_json(error: &serde_json::Error) -> Self {
        Self::single(
            IngestErrorKind::NotJson,
            BODY,
            format!("is not valid JSON ({error})"),
        )
    }
}
