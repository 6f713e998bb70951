//! The rest of Opsgenie's alert API that senders and its SDKs call after creating an alert:
//! which alert a path names (`identifierType` id, alias or tiny), the bodies of the update,
//! note and tag calls, and the query parameters of the alert list. Pure parsing: the HTTP
//! edge finds the alert and applies the change.
//!
//! Limits are Opsgenie's: `message` 130 characters, `description` 15,000, `note` 25,000, at
//! most 20 tags of at most 50 characters each. Bodies may also carry `user` and `source`
//! (strings, type-checked, otherwise unused).

use super::IngestError;
use super::error::IngestErrorKind;
use super::json::{Errors, Located, item, parse_body};
use super::normalize::check_max_chars;
use super::opsgenie::{MAX_MESSAGE_CHARS, severity_from_priority};
use crate::alert::AlertChange;
use serde_json::Value;

/// Opsgenie's limit on `description`.
pub const MAX_DESCRIPTION_CHARS: usize = 15_000;
/// Opsgenie's limit on `note`.
pub const MAX_NOTE_CHARS: usize = 25_000;
/// Opsgenie's limit on the number of tags.
pub const MAX_TAGS: usize = 20;
/// Opsgenie's limit on one tag.
pub const MAX_TAG_CHARS: usize = 50;
/// The default page size of the alert list.
pub const DEFAULT_LIMIT: u32 = 20;
/// The largest page of the alert list.
pub const MAX_LIMIT: u32 = 100;

/// How the path names the alert (`identifierType`; Opsgenie's default is `id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierType {
    /// The alert id Klaxon answered in the request status (the occurrence's id).
    Id,
    /// The alias (Klaxon's dedup key).
    Alias,
    /// The short number (Klaxon's incident number).
    Tiny,
}

impl IdentifierType {
    /// Reads `identifierType` as sent; absent means `id`, as in Opsgenie.
    pub fn parse(param: Option<&str>) -> Result<Self, IngestError> {
        match param.map(str::trim) {
            None => Ok(IdentifierType::Id),
            Some(kind) if kind.eq_ignore_ascii_case("id") => Ok(IdentifierType::Id),
            Some(kind) if kind.eq_ignore_ascii_case("alias") => Ok(IdentifierType::Alias),
            Some(kind) if kind.eq_ignore_ascii_case("tiny") => Ok(IdentifierType::Tiny),
            Some(_) => Err(IngestError::invalid(
                "identifierType",
                "must be one of: id, tiny, alias",
            )),
        }
    }
}

/// Which update call a body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateCall {
    /// `PUT /v2/alerts/{identifier}/message`.
    Message,
    /// `PUT /v2/alerts/{identifier}/description`.
    Description,
    /// `PUT /v2/alerts/{identifier}/priority`.
    Priority,
    /// `POST /v2/alerts/{identifier}/notes`.
    Note,
    /// `POST /v2/alerts/{identifier}/tags`.
    AddTags,
}

impl UpdateCall {
    /// Opsgenie's name of the action, as the request status reports it.
    pub fn action(self) -> &'static str {
        match self {
            UpdateCall::Message => "UpdateMessage",
            UpdateCall::Description => "UpdateDescription",
            UpdateCall::Priority => "UpdatePriority",
            UpdateCall::Note => "AddNote",
            UpdateCall::AddTags => "AddTags",
        }
    }
}

/// Parses the body of an update call into the change it asks for.
pub fn parse_update(call: UpdateCall, body: &[u8]) -> Result<AlertChange, IngestError> {
    let value = parse_body(body)?;
    let mut errors = Errors::default();
    let Some(root) = Located::new(&value, String::new(), &mut errors) else {
        return Err(errors.into_error());
    };
    let obj = root.obj();
    for name in ["user", "source"] {
        obj.str(name, &mut errors);
    }
    let text = |name: &str, max: usize, errors: &mut Errors| {
        let text = obj.required_str(name, errors)?;
        check_max_chars(text, max, name, errors).then(|| text.to_string())
    };
    let change = match call {
        UpdateCall::Message => text("message", MAX_MESSAGE_CHARS, &mut errors)
            .map(|message| AlertChange::Message { message }),
        UpdateCall::Description => text("description", MAX_DESCRIPTION_CHARS, &mut errors)
            .map(|description| AlertChange::Description { description }),
        UpdateCall::Note => {
            text("note", MAX_NOTE_CHARS, &mut errors).map(|note| AlertChange::Note { note })
        }
        UpdateCall::Priority => match obj.required_str("priority", &mut errors) {
            Some(priority) => match severity_from_priority(priority) {
                Some(severity) => Some(AlertChange::Priority {
                    priority: priority.to_string(),
                    severity,
                }),
                None => {
                    errors.push("priority", "must be one of: P1, P2, P3, P4, P5");
                    None
                }
            },
            None => None,
        },
        UpdateCall::AddTags => {
            obj.str("note", &mut errors);
            obj.required_array("tags", &mut errors)
                .and_then(|tags| tag_list(tags, &mut errors))
                .map(|tags| AlertChange::TagsAdded { tags })
        }
    };
    match (change, errors.is_empty()) {
        (Some(change), true) => Ok(change),
        _ => Err(errors.into_error()),
    }
}

fn tag_list(tags: &[Value], errors: &mut Errors) -> Option<Vec<String>> {
    let before = errors.len();
    let mut list = Vec::new();
    for (index, tag) in tags.iter().enumerate() {
        match tag {
            Value::String(tag) if tag.trim().is_empty() => {
                errors.push(&item("tags", index), "must not be empty");
            }
            Value::String(tag) => {
                if check_max_chars(tag, MAX_TAG_CHARS, &item("tags", index), errors) {
                    list.push(tag.trim().to_string());
                }
            }
            other => errors.wrong_type(&item("tags", index), "a string", other),
        }
    }
    check_tag_count(&list, errors);
    (errors.len() == before).then_some(list)
}

fn check_tag_count(tags: &[String], errors: &mut Errors) {
    if tags.is_empty() {
        errors.push("tags", "must name at least one tag");
    } else if tags.len() > MAX_TAGS {
        errors.push(
            "tags",
            format!("must hold at most {MAX_TAGS} tags (got {})", tags.len()),
        );
    }
}

/// Parses the `tags` query parameter of `DELETE /v2/alerts/{identifier}/tags`: a
/// comma-separated list.
pub fn parse_tag_removal(tags: Option<&str>) -> Result<AlertChange, IngestError> {
    let mut errors = Errors::default();
    let list: Vec<String> = tags
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
        .map(str::to_string)
        .collect();
    for (index, tag) in list.iter().enumerate() {
        check_max_chars(tag, MAX_TAG_CHARS, &item("tags", index), &mut errors);
    }
    check_tag_count(&list, &mut errors);
    errors.into_result(AlertChange::TagsRemoved { tags: list })
}

/// An alert's status as the list query filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Still firing.
    Open,
    /// Resolved.
    Closed,
}

/// One term of the list's `query` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryTerm {
    /// `status:open` or `status:closed`.
    Status(StatusFilter),
    /// `alias:<alias>`.
    Alias(String),
    /// `tag:<tag>` (or `tags:<tag>`).
    Tag(String),
    /// `priority:P1`.
    Priority(String),
    /// Any other word: the message must contain it (case-insensitive).
    Text(String),
}

/// The field the alert list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// `createdAt` (the default).
    CreatedAt,
    /// `updatedAt` / `lastOccurredAt`: when it last fired.
    LastOccurredAt,
    /// `tinyId`: the incident number.
    TinyId,
    /// `alias`.
    Alias,
    /// `message`.
    Message,
    /// `count`.
    Count,
}

/// The list's query parameters, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The terms of `query`, all of which must match.
    pub terms: Vec<QueryTerm>,
    /// Page size, 1–100 (default 20).
    pub limit: u32,
    /// How many matching alerts to skip.
    pub offset: u32,
    /// The sort field.
    pub sort: SortField,
    /// Ascending (`order=asc`) or descending (the default).
    pub ascending: bool,
}

/// The raw query parameters of `GET /v2/alerts`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListParams<'a> {
    /// `query`.
    pub query: Option<&'a str>,
    /// `limit`.
    pub limit: Option<&'a str>,
    /// `offset`.
    pub offset: Option<&'a str>,
    /// `sort`.
    pub sort: Option<&'a str>,
    /// `order`.
    pub order: Option<&'a str>,
}

/// Checks the list's query parameters, naming each bad one.
pub fn parse_list(params: ListParams<'_>) -> Result<ListQuery, IngestError> {
    let mut errors = Errors::default();
    let number = |name: &str, text: Option<&str>, errors: &mut Errors| match text {
        None => None,
        Some(text) => match text.trim().parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(name, "must be a whole number");
                None
            }
        },
    };
    let limit = number("limit", params.limit, &mut errors).unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push("limit", format!("must be between 1 and {MAX_LIMIT}"));
    }
    let offset = number("offset", params.offset, &mut errors).unwrap_or(0);
    let sort = match params.sort.map(str::trim) {
        None | Some("createdAt") => SortField::CreatedAt,
        Some("updatedAt" | "lastOccurredAt") => SortField::LastOccurredAt,
        Some("tinyId") => SortField::TinyId,
        Some("alias") => SortField::Alias,
        Some("message") => SortField::Message,
        Some("count") => SortField::Count,
        Some(_) => {
            errors.push(
                "sort",
                "must be one of: createdAt, updatedAt, lastOccurredAt, tinyId, alias, message, count",
            );
            SortField::CreatedAt
        }
    };
    let ascending = match params.order.map(str::trim) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(_) => {
            errors.push("order", "must be one of: asc, desc");
            false
        }
    };
    let terms = parse_terms(params.query.unwrap_or_default(), &mut errors);
    errors.into_result(ListQuery {
        terms,
        limit,
        offset,
        sort,
        ascending,
    })
}

fn parse_terms(query: &str, errors: &mut Errors) -> Vec<QueryTerm> {
    let mut terms = Vec::new();
    for word in query.split_whitespace() {
        if word.eq_ignore_ascii_case("and") {
            continue;
        }
        let Some((field, value)) = word.split_once(':') else {
            terms.push(QueryTerm::Text(word.to_lowercase()));
            continue;
        };
        let value = value.trim_matches('"').to_string();
        match field {
            "status" if value.eq_ignore_ascii_case("open") => {
                terms.push(QueryTerm::Status(StatusFilter::Open));
            }
            "status" if value.eq_ignore_ascii_case("closed") => {
                terms.push(QueryTerm::Status(StatusFilter::Closed));
            }
            "status" => errors.push("query", "status must be open or closed"),
            "alias" => terms.push(QueryTerm::Alias(value)),
            "tag" | "tags" => terms.push(QueryTerm::Tag(value)),
            "priority" if severity_from_priority(&value).is_some() => {
                terms.push(QueryTerm::Priority(value));
            }
            "priority" => errors.push("query", "priority must be one of: P1, P2, P3, P4, P5"),
            other => errors.push(
                "query",
                format!(
                    "the field {other:?} is not supported: use status, alias, tag, priority or plain words"
                ),
            ),
        }
    }
    terms
}

/// The error for a custom action (`POST /v2/alerts/{identifier}/actions/{action}`) and other
/// calls Klaxon does not serve.
pub fn unsupported(what: &str) -> IngestError {
    IngestError::single(
        IngestErrorKind::Unsupported,
        "$",
        format!("{what} is not supported by Klaxon"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;

    fn fields(error: &IngestError) -> Vec<&str> {
        error.errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn identifier_type_defaults_to_id_and_names_the_parameter_when_unknown() {
        assert_eq!(IdentifierType::parse(None).unwrap(), IdentifierType::Id);
        assert_eq!(
            IdentifierType::parse(Some("ALIAS")).unwrap(),
            IdentifierType::Alias
        );
        assert_eq!(
            IdentifierType::parse(Some("tiny")).unwrap(),
            IdentifierType::Tiny
        );
        let error = IdentifierType::parse(Some("name")).unwrap_err();
        assert_eq!(fields(&error), ["identifierType"]);
    }

    #[test]
    fn update_bodies_parse_as_opsgenie_documents_them() {
        let change = parse_update(UpdateCall::Message, br#"{"message":"disk 95%"}"#).unwrap();
        assert_eq!(
            change,
            AlertChange::Message {
                message: "disk 95%".into()
            }
        );
        let change = parse_update(UpdateCall::Priority, br#"{"priority":"P1"}"#).unwrap();
        assert_eq!(
            change,
            AlertChange::Priority {
                priority: "P1".into(),
                severity: Severity::Critical
            }
        );
        let change = parse_update(
            UpdateCall::AddTags,
            br#"{"tags":["db"," team:ops "],"user":"bot","note":"n"}"#,
        )
        .unwrap();
        assert_eq!(
            change,
            AlertChange::TagsAdded {
                tags: vec!["db".into(), "team:ops".into()]
            }
        );
        // A byte-order mark in front is fine.
        let change = parse_update(UpdateCall::Note, b"\xEF\xBB\xBF{\"note\":\"looking\"}").unwrap();
        assert_eq!(
            change,
            AlertChange::Note {
                note: "looking".into()
            }
        );
    }

    #[test]
    fn bad_update_bodies_name_the_field() {
        let error = parse_update(UpdateCall::Message, br#"{"message":""}"#).unwrap_err();
        assert_eq!(fields(&error), ["message"]);
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(131));
        let error = parse_update(UpdateCall::Message, long.as_bytes()).unwrap_err();
        assert_eq!(fields(&error), ["message"]);
        let error = parse_update(UpdateCall::Priority, br#"{"priority":"P9"}"#).unwrap_err();
        assert_eq!(fields(&error), ["priority"]);
        let error = parse_update(UpdateCall::Description, br#"{}"#).unwrap_err();
        assert_eq!(fields(&error), ["description"]);
        let error = parse_update(UpdateCall::AddTags, br#"{"tags":["ok", 3, ""]}"#).unwrap_err();
        assert_eq!(fields(&error), ["tags[1]", "tags[2]"]);
        let error = parse_update(UpdateCall::AddTags, br#"{"tags":[]}"#).unwrap_err();
        assert_eq!(fields(&error), ["tags"]);
        let error = parse_update(UpdateCall::Note, b"not json").unwrap_err();
        assert_eq!(error.kind, IngestErrorKind::NotJson);
    }

    #[test]
    fn tag_removal_reads_a_comma_separated_list() {
        assert_eq!(
            parse_tag_removal(Some("db, team:ops,")).unwrap(),
            AlertChange::TagsRemoved {
                tags: vec!["db".into(), "team:ops".into()]
            }
        );
        assert_eq!(fields(&parse_tag_removal(None).unwrap_err()), ["tags"]);
    }

    #[test]
    fn list_parameters_default_like_opsgenie_and_name_each_bad_one() {
        let query = parse_list(ListParams::default()).unwrap();
        assert_eq!(query.limit, 20);
        assert_eq!(query.offset, 0);
        assert_eq!(query.sort, SortField::CreatedAt);
        assert!(!query.ascending);
        let query = parse_list(ListParams {
            query: Some("status:open AND alias:disk-full disk"),
            limit: Some("5"),
            offset: Some("10"),
            sort: Some("tinyId"),
            order: Some("asc"),
        })
        .unwrap();
        assert_eq!(
            query.terms,
            [
                QueryTerm::Status(StatusFilter::Open),
                QueryTerm::Alias("disk-full".into()),
                QueryTerm::Text("disk".into())
            ]
        );
        assert!(query.ascending);
        let error = parse_list(ListParams {
            query: Some("owner:me"),
            limit: Some("500"),
            offset: Some("-1"),
            sort: Some("owner"),
            order: Some("up"),
        })
        .unwrap_err();
        assert_eq!(
            fields(&error),
            ["limit", "offset", "sort", "order", "query"]
        );
    }
}
