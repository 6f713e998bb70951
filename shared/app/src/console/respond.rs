//! The incident page and its responder actions: snooze, reassign (to a user, a schedule or a
//! policy), add a responder, escalate now and add a note. Each form posts the CSRF token and
//! a per-render request id; the post is turned into the JSON body the API takes and handed to
//! the same use case ([`act_as`]) as `POST /v1/incidents/{id}/…`, with the signed-in person as
//! the actor and the request id as the idempotency key (a form sent twice acts once). A refusal
//! (a snooze of a resolved incident, a bad field) is shown on the incident page with the
//! status the API would answer, and nothing changes.

use super::handlers::{Svc, error_page, render, require, require_form_fields};
use super::html::{html, see_other};
use super::service::{ConsoleError, ConsoleService, SignedIn};
use super::views::{Chrome, IncidentDetailFragment, IncidentPage};
use crate::http::ApiError;
use crate::http::api::Params;
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use crate::usecases::actions::{ActionRequest, IncidentAction, IncidentActionResult, act_as};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use klaxon_domain::incident::{Incident, IncidentStatus};
use klaxon_domain::timeline::Actor;
use klaxon_store::Store;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The snooze lengths the form offers: (value, label).
pub const SNOOZE_CHOICES: [(&str, &str); 6] = [
    ("15m", "15 minutes"),
    ("30m", "30 minutes"),
    ("1h", "1 hour"),
    ("2h", "2 hours"),
    ("4h", "4 hours"),
    ("8h", "8 hours"),
];

/// The path segment each action posts to (`/console/incidents/{id}/<segment>`).
pub fn segment(action: IncidentAction) -> &'static str {
    match action {
        IncidentAction::Snooze => "snooze",
        IncidentAction::Escalate => "escalate",
        IncidentAction::Reassign => "reassign",
        IncidentAction::AddResponders => "responders",
        IncidentAction::Note => "note",
    }
}

/// What the notice says after `action` succeeded.
fn done_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "acknowledge" => "You acknowledged this incident. Escalation has stopped.",
        "resolve" => "You resolved this incident.",
        "snooze" => "You snoozed this incident. It pages again when the snooze ends.",
        "escalate" => "You escalated this incident: the next tier is being paged.",
        "reassign" => "You reassigned this incident; its escalation started over.",
        "responders" => "The responder you added is being paged.",
        "note" => "Your note is on the timeline.",
        _ => return None,
    })
}

/// `user:bob`, `schedule:primary` or `policy:infra` (a form's choice) as `{"user": "bob"}`.
fn choice(field: &str, text: Option<&str>, policies: bool) -> Result<Value, UseCaseError> {
    let expected = if policies {
        "choose a user, a schedule or a policy"
    } else {
        "choose a user or a schedule"
    };
    let (kind, id) = text
        .and_then(|t| t.split_once(':'))
        .filter(|(kind, id)| {
            !id.is_empty()
                && (matches!(*kind, "user" | "schedule") || (policies && *kind == "policy"))
        })
        .ok_or_else(|| UseCaseError::invalid(field, expected))?;
    Ok(json!({ kind: id }))
}

/// The API's JSON body for `action` from the form's fields (each named as on the form).
pub fn action_body(action: IncidentAction, form: &Params) -> Result<Value, UseCaseError> {
    Ok(match action {
        IncidentAction::Snooze => {
            let duration = form
                .text("duration")
                .ok_or_else(|| UseCaseError::invalid("duration", "choose how long to snooze"))?;
            json!({ "duration": duration })
        }
        IncidentAction::Escalate => json!({}),
        IncidentAction::Reassign => json!({ "to": choice("to", form.text("to"), true)? }),
        IncidentAction::AddResponders => {
            json!({ "targets": [choice("target", form.text("target"), false)?] })
        }
        IncidentAction::Note => {
            json!({ "text": form.text("text").unwrap_or_default() })
        }
    })
}

/// The API names the reassignment's field `to.user` and a responder `targets[0].user`; the
/// form calls them `to` and `target`.
fn form_field(field: &str) -> &str {
    if field.starts_with("to") {
        "to"
    } else if field.starts_with("targets") {
        "target"
    } else {
        field
    }
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// Performs `action` on incident `reference` as `who` (responders and admins only) from
    /// the form's fields, through the API's use case. The form's `request` id makes a second
    /// post of the same form a no-op.
    pub async fn respond(
        &self,
        who: &SignedIn,
        reference: &str,
        action: IncidentAction,
        form: &Params,
    ) -> Result<IncidentActionResult, ConsoleError> {
        if !who.role.can_act() {
            return Err(ConsoleError::Forbidden(who.role.as_str()));
        }
        let body = action_body(action, form)?.to_string();
        let (queue, timers) = self.ports();
        // The form's id with what it asks: the same form sent twice is one request, and a
        // page sent again with other content (a second note) is another.
        let key = form.text("request").map(|id| {
            let digest = Sha256::digest(body.as_bytes());
            format!("{id}-{}", hex::encode(&digest[..8]))
        });
        let request = ActionRequest {
            key: None,
            reference,
            idempotency_key: key.as_deref(),
            body: body.as_bytes(),
        };
        let actor = Actor::user(who.user.clone());
        Ok(act_as(self.core(), queue, timers, action, actor, request).await?)
    }
}

/// The responder action forms under an incident (responders and admins only).
#[derive(Template)]
#[template(path = "incident_actions.html")]
pub struct IncidentActions {
    /// The incident's console path.
    pub base: String,
    /// The CSRF token.
    pub csrf: String,
    /// This rendering's request id (the idempotency key of every form on it).
    pub request: String,
    /// Snooze is offered (the incident is acknowledged).
    pub show_snooze: bool,
    /// Escalate now is offered (triggered or acknowledged, with an escalation).
    pub show_escalate: bool,
    /// Reassign and add responder are offered (not resolved).
    pub show_targets: bool,
    /// Snooze lengths.
    pub snooze: Vec<(&'static str, &'static str)>,
    /// Users: (`user:id`, name).
    pub users: Vec<(String, String)>,
    /// Schedules: (`schedule:id`, name).
    pub schedules: Vec<(String, String)>,
    /// Policies: (`policy:id`, name).
    pub policies: Vec<(String, String)>,
}

impl IncidentActions {
    /// The forms for `incident` with the configuration's users, schedules and policies.
    pub fn new(
        incident: &Incident,
        config: &klaxon_domain::config::Config,
        csrf: String,
        request: String,
    ) -> Self {
        let status = incident.status();
        let escalating = incident.escalation().is_some();
        Self {
            base: format!("/console/incidents/{}", incident.id()),
            csrf,
            request,
            show_snooze: status == IncidentStatus::Acknowledged && escalating,
            show_escalate: status != IncidentStatus::Resolved && escalating,
            show_targets: status != IncidentStatus::Resolved,
            snooze: SNOOZE_CHOICES.to_vec(),
            users: config
                .users
                .iter()
                .map(|u| (format!("user:{}", u.id), u.name.clone()))
                .collect(),
            schedules: config
                .schedules
                .iter()
                .map(|s| (format!("schedule:{}", s.id), s.name.clone()))
                .collect(),
            policies: config
                .escalation_policies
                .iter()
                .map(|p| (format!("policy:{}", p.id), p.name.clone()))
                .collect(),
        }
    }
}

/// The incident page for `who`, with `notice` after a change or `failure` (its status and
/// text) after a refused action.
pub(super) async fn incident_page<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
    who: &SignedIn,
    id: &str,
    fragment_only: bool,
    notice: Option<String>,
    failure: Option<(StatusCode, String)>,
) -> Response {
    let view = match svc.incident(id).await {
        Ok(view) => view,
        Err(error) => return error_page(error, Some(who)),
    };
    let mut fragment = IncidentDetailFragment::new(&view, who, svc.core().now());
    match svc.escalation_facts(&view.incident).await {
        Ok(facts) => fragment.escalation = facts,
        Err(error) => return error_page(error, Some(who)),
    }
    let Ok(detail) = fragment.render() else {
        return render(&fragment);
    };
    if fragment_only {
        return html(StatusCode::OK, detail);
    }
    let actions = match action_forms(svc, who, &view.incident).await {
        Ok(actions) => actions,
        Err(error) => return error_page(error, Some(who)),
    };
    let status = failure.as_ref().map_or(StatusCode::OK, |(s, _)| *s);
    let mut response = render(&IncidentPage {
        chrome: Chrome::new(Some(who)),
        title: format!("#{} {}", view.incident.number(), view.incident.title()),
        notice,
        error: failure.map(|(_, text)| text),
        detail,
        actions,
    });
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

async fn action_forms<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
    who: &SignedIn,
    incident: &Incident,
) -> Result<String, ConsoleError> {
    if !who.role.can_act() {
        return Ok(String::new());
    }
    let config = svc.core().config().await?;
    let request: String = svc
        .core()
        .ids
        .new_id()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let forms = IncidentActions::new(incident, &config, who.csrf.clone(), request);
    forms.render().map_err(|error| {
        tracing::error!(%error, "the incident action forms failed to render");
        ConsoleError::UseCase(UseCaseError::invalid("template", "could not be rendered"))
    })
}

/// `GET /console/incidents/{id}`.
pub(super) async fn incident<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let who = match require(&svc, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let params = Params::parse(raw.as_deref()).unwrap_or_default();
    let notice = params.text("done").and_then(done_text).map(str::to_owned);
    let fragment_only = params.text("fragment").is_some();
    incident_page(&svc, &who, &id, fragment_only, notice, None).await
}

async fn respond<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: Svc<S, Q, T, E>,
    headers: HeaderMap,
    id: String,
    body: Body,
    action: IncidentAction,
) -> Response {
    let (who, form) = match require_form_fields(&svc, &headers, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match svc.respond(&who, &id, action, &form).await {
        Ok(result) => see_other(&format!(
            "/console/incidents/{}?done={}",
            result.incident.id(),
            segment(action)
        )),
        Err(ConsoleError::UseCase(error)) => {
            let api = ApiError::from(error);
            if api.status == StatusCode::NOT_FOUND {
                return error_page(
                    ConsoleError::UseCase(UseCaseError::NotFound {
                        what: "incident",
                        id,
                    }),
                    Some(&who),
                );
            }
            let text = match &api.field {
                Some(field) => format!(
                    "Nothing was changed. {}: {}",
                    form_field(field),
                    api.message
                ),
                None => format!("Nothing was changed. {}", api.message),
            };
            incident_page(&svc, &who, &id, false, None, Some((api.status, text))).await
        }
        Err(error) => error_page(error, Some(&who)),
    }
}

macro_rules! action_handler {
    ($name:ident, $action:expr, $doc:literal) => {
        #[doc = $doc]
        pub(super) async fn $name<S: Store, Q: Queue, T: Timers, E: EmailSender>(
            State(svc): State<Svc<S, Q, T, E>>,
            headers: HeaderMap,
            Path(id): Path<String>,
            body: Body,
        ) -> Response {
            respond(svc, headers, id, body, $action).await
        }
    };
}

action_handler!(
    snooze,
    IncidentAction::Snooze,
    "`POST /console/incidents/{id}/snooze`."
);
action_handler!(
    escalate,
    IncidentAction::Escalate,
    "`POST /console/incidents/{id}/escalate`."
);
action_handler!(
    reassign,
    IncidentAction::Reassign,
    "`POST /console/incidents/{id}/reassign`."
);
action_handler!(
    responders,
    IncidentAction::AddResponders,
    "`POST /console/incidents/{id}/responders`."
);
action_handler!(
    note,
    IncidentAction::Note,
    "`POST /console/incidents/{id}/note`."
);

#[cfg(test)]
mod tests {
    use super::*;

    fn form(text: &str) -> Params {
        Params::parse(Some(text)).unwrap()
    }

    #[test]
    fn form_choices_become_the_apis_json() {
        let body = action_body(IncidentAction::Reassign, &form("to=schedule%3Aprimary")).unwrap();
        assert_eq!(body, json!({"to": {"schedule": "primary"}}));
        let body = action_body(IncidentAction::AddResponders, &form("target=user%3Abob")).unwrap();
        assert_eq!(body, json!({"targets": [{"user": "bob"}]}));
        let body = action_body(IncidentAction::Snooze, &form("duration=30m")).unwrap();
        assert_eq!(body, json!({"duration": "30m"}));
    }

    #[test]
    fn a_bad_choice_names_the_forms_field() {
        let error = action_body(
            IncidentAction::AddResponders,
            &form("target=policy%3Ainfra"),
        )
        .unwrap_err();
        assert!(error.to_string().contains("target"), "{error}");
        let error = action_body(IncidentAction::Reassign, &form("")).unwrap_err();
        assert!(error.to_string().contains("to"), "{error}");
        let error = action_body(IncidentAction::Snooze, &form("")).unwrap_err();
        assert!(error.to_string().contains("duration"), "{error}");
        assert_eq!(form_field("targets[0].user"), "target");
        assert_eq!(form_field("to.policy"), "to");
    }
}
