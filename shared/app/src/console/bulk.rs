//! Bulk acknowledge and resolve from the incident list: one CSRF-checked form with a checkbox
//! per incident (`incident`, repeated) and the action button pressed (`action`). Every
//! incident goes through the same [`stop_incident`] as a single action, so each one's state
//! is checked on its own and the answer lists what happened to each.

use super::handlers::{Svc, error_page, message, render, require_form_fields};
use super::service::{ConsoleError, ConsoleService, SignedIn};
use super::views::Chrome;
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use crate::usecases::lifecycle::{StopAction, StopOutcome, stop_incident};
use crate::usecases::queries::find_incident;
use askama::Template;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;

/// The most incidents one bulk form may name (four list pages).
pub const MAX_BULK: usize = 100;

/// What happened to one incident of a bulk action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkResult {
    /// It changed.
    Done,
    /// It already was in that state (or beyond): nothing changed.
    Already,
    /// Its state refused the action (acknowledging a resolved incident), or it is unknown.
    Refused(String),
}

/// One incident's line of a bulk answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkOutcome {
    /// What the form named (an incident id).
    pub reference: String,
    /// `#12 title` when the incident exists.
    pub label: Option<String>,
    /// The incident's id when it exists.
    pub id: Option<String>,
    /// What happened.
    pub result: BulkResult,
}

/// Checks a bulk form's incident references: at least one, at most [`MAX_BULK`], duplicates
/// dropped (400 naming `incident` otherwise).
pub fn bulk_references<'a>(
    references: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>, UseCaseError> {
    let mut kept: Vec<String> = Vec::new();
    for reference in references.map(str::trim).filter(|r| !r.is_empty()) {
        if !kept.iter().any(|k| k == reference) {
            kept.push(reference.to_owned());
        }
    }
    if kept.is_empty() {
        return Err(UseCaseError::invalid(
            "incident",
            "select at least one incident",
        ));
    }
    if kept.len() > MAX_BULK {
        return Err(UseCaseError::invalid(
            "incident",
            format!("select at most {MAX_BULK} incidents at once"),
        ));
    }
    Ok(kept)
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// Acknowledges or resolves each incident of `references` as `who` (responder or admin:
    /// a viewer is refused before anything is read), one at a time, reporting each one's
    /// result. A failing store stops the run with an error; what was done before stays done
    /// and repeating the form is safe (a repeat is [`BulkResult::Already`]).
    pub async fn bulk_act(
        &self,
        who: &SignedIn,
        references: &[String],
        action: StopAction,
    ) -> Result<Vec<BulkOutcome>, ConsoleError> {
        if !who.role.can_act() {
            return Err(ConsoleError::Forbidden(who.role.as_str()));
        }
        let mut outcomes = Vec::with_capacity(references.len());
        for reference in references {
            let stored = match find_incident(self.core(), reference).await {
                Ok(stored) => stored,
                // Not an incident id or number at all, or no such incident.
                Err(UseCaseError::NotFound { .. } | UseCaseError::Invalid { .. }) => {
                    outcomes.push(BulkOutcome {
                        reference: reference.clone(),
                        label: None,
                        id: None,
                        result: BulkResult::Refused("no such incident".to_owned()),
                    });
                    continue;
                }
                Err(other) => return Err(other.into()),
            };
            let incident = &stored.incident;
            let result = match stop_incident(
                self.core(),
                &self.queue,
                &self.timers,
                incident.id(),
                action,
                Actor::user(who.user.clone()),
            )
            .await
            {
                Ok(StopOutcome::Changed(_)) => BulkResult::Done,
                Ok(StopOutcome::Unchanged(_)) => BulkResult::Already,
                Err(
                    error @ (UseCaseError::Conflict(_)
                    | UseCaseError::StateConflict { .. }
                    | UseCaseError::NotFound { .. }),
                ) => BulkResult::Refused(error.to_string()),
                Err(other) => return Err(other.into()),
            };
            outcomes.push(BulkOutcome {
                reference: reference.clone(),
                label: Some(format!("#{} {}", incident.number(), incident.title())),
                id: Some(incident.id().to_string()),
                result,
            });
        }
        Ok(outcomes)
    }
}

/// One line of the bulk answer page.
#[derive(Debug, Clone)]
pub struct BulkRow {
    /// `#12 title`, or the reference sent.
    pub label: String,
    /// The incident's page.
    pub href: Option<String>,
    /// `done`, `already` or `refused` (a class name).
    pub kind: &'static str,
    /// What happened, in words.
    pub result: String,
}

/// The answer to a bulk action: one line per incident.
#[derive(Template)]
#[template(path = "bulk_result.html")]
pub struct BulkResultPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// "3 acknowledged, 1 already acknowledged, 1 refused".
    pub summary: String,
    /// The lines.
    pub rows: Vec<BulkRow>,
}

impl BulkResultPage {
    /// The page for `outcomes` of `action`.
    pub fn new(chrome: Chrome, action: StopAction, outcomes: &[BulkOutcome]) -> Self {
        let (verb, title) = match action {
            StopAction::Acknowledge => ("acknowledged", "Bulk acknowledge"),
            StopAction::Resolve => ("resolved", "Bulk resolve"),
        };
        let count =
            |wanted: fn(&BulkResult) -> bool| outcomes.iter().filter(|o| wanted(&o.result)).count();
        let summary = format!(
            "{} {verb}, {} already {verb}, {} refused.",
            count(|r| *r == BulkResult::Done),
            count(|r| *r == BulkResult::Already),
            count(|r| matches!(r, BulkResult::Refused(_))),
        );
        let rows = outcomes
            .iter()
            .map(|outcome| {
                let (kind, result) = match &outcome.result {
                    BulkResult::Done => ("done", verb.to_owned()),
                    BulkResult::Already => ("already", format!("already {verb}; nothing changed")),
                    BulkResult::Refused(why) => ("refused", format!("not changed: {why}")),
                };
                BulkRow {
                    label: outcome
                        .label
                        .clone()
                        .unwrap_or_else(|| outcome.reference.clone()),
                    href: outcome
                        .id
                        .as_ref()
                        .map(|id| format!("/console/incidents/{id}")),
                    kind,
                    result,
                }
            })
            .collect();
        Self {
            chrome,
            title: title.to_owned(),
            summary,
            rows,
        }
    }
}

/// `POST /console/incidents/bulk` (`csrf`, `action`, `incident`…): responder or admin.
pub(super) async fn bulk<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form) = match require_form_fields(&svc, &headers, body).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    if !who.role.can_act() {
        return error_page(ConsoleError::Forbidden(who.role.as_str()), Some(&who));
    }
    let action = match form.text("action") {
        Some("acknowledge") => StopAction::Acknowledge,
        Some("resolve") => StopAction::Resolve,
        _ => {
            return message(
                StatusCode::BAD_REQUEST,
                Some(&who),
                "This did not work",
                "action: must be acknowledge or resolve",
                None,
            );
        }
    };
    let references = match bulk_references(form.all("incident")) {
        Ok(references) => references,
        Err(error) => return error_page(error.into(), Some(&who)),
    };
    match svc.bulk_act(&who, &references, action).await {
        Ok(outcomes) => render(&BulkResultPage::new(
            Chrome::new(Some(&who)),
            action,
            &outcomes,
        )),
        Err(error) => error_page(error, Some(&who)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_deduplicated_and_bounded() {
        let kept = bulk_references(["a", " b ", "a", ""].into_iter()).unwrap();
        assert_eq!(kept, vec!["a".to_owned(), "b".to_owned()]);
        let none = bulk_references(["", " "].into_iter()).unwrap_err();
        assert!(none.to_string().starts_with("incident:"), "{none}");
        let many: Vec<String> = (0..=MAX_BULK).map(|i| i.to_string()).collect();
        let error = bulk_references(many.iter().map(String::as_str)).unwrap_err();
        assert!(error.to_string().contains("at most 100"), "{error}");
    }
}
