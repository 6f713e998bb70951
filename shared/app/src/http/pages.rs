//! The small HTML pages people see when they open a signed acknowledge/resolve link: a
//! confirmation page with a button (opening a link never acts: mail scanners prefetch links),
//! the result, and errors. Every value shown is HTML-escaped.
//!
//! Pages are sent with `Cache-Control: no-store`, `Referrer-Policy: no-referrer` (the URL holds
//! the signature), `X-Robots-Tag: noindex` and a Content-Security-Policy that allows no
//! scripts and only forms posting back to Klaxon.

use super::ApiError;
use crate::render::escape_html;
use crate::security::links::{LinkAction, LinkError, SignedLink};
use crate::usecases::UseCaseError;
use crate::usecases::ack::{ActionResult, LinkFailure, LinkPreview};
use crate::usecases::lifecycle::StopAction;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use klaxon_domain::incident::{Incident, IncidentStatus};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}.meta{color:#555}button{font-size:1.1rem;padding:.6rem 1.4rem;border-radius:.4rem;\
border:1px solid #444;background:#1d4ed8;color:#fff;cursor:pointer}";

/// A complete HTML page with `status` and the protective headers.
pub fn html_page(status: StatusCode, title: &str, content: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} · Klaxon</title><style>{STYLE}</style></head><body><h1>{}</h1>{content}\
         <p class=\"meta\">Klaxon</p></body></html>",
        escape_html(title),
        escape_html(title)
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

fn verb(action: LinkAction) -> &'static str {
    match action {
        LinkAction::Ack => "Acknowledge",
        LinkAction::Resolve => "Resolve",
    }
}

fn describe(incident: &Incident) -> String {
    format!(
        "<p><strong>#{} {}</strong></p><p class=\"meta\">Severity {} · status {} · opened {}</p>\
         <p><a href=\"/console/incidents/{}\">Open incident #{} in the console</a></p>",
        incident.number(),
        escape_html(incident.title()),
        escape_html(incident.severity().as_str()),
        status_name(incident.status()),
        incident.created_at().format("%Y-%m-%d %H:%M UTC"),
        incident.id(),
        incident.number(),
    )
}

fn status_name(status: IncidentStatus) -> &'static str {
    match status {
        IncidentStatus::Triggered => "triggered",
        IncidentStatus::Acknowledged => "acknowledged",
        IncidentStatus::Resolved => "resolved",
    }
}

/// The confirmation page of a valid link: what it will do, and a button that POSTs the link
/// back. An incident already resolved gets no button.
pub fn confirmation_page(preview: &LinkPreview, link: &SignedLink) -> Response {
    let incident = &preview.incident;
    let verb = verb(preview.action);
    let title = format!("{verb} incident #{}?", incident.number());
    let mut content = describe(incident);
    if incident.status() == IncidentStatus::Resolved {
        content.push_str("<p>This incident is already resolved. There is nothing left to do.</p>");
        return html_page(
            StatusCode::OK,
            &format!("Incident #{}", incident.number()),
            &content,
        );
    }
    if preview.action == LinkAction::Ack && incident.status() == IncidentStatus::Acknowledged {
        content.push_str("<p>This incident is already acknowledged.</p>");
    }
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape_html(value)
        )
    };
    // No `action` attribute: the form posts back to this very URL, wherever Klaxon is mounted.
    content.push_str(&format!(
        "<p>This link was sent to <strong>{}</strong>; the action is recorded in their name.</p>\
         <form method=\"post\">{}{}{}{}{}{}<button type=\"submit\">{verb} incident #{}</button></form>",
        escape_html(preview.user.as_str()),
        hidden("i", &link.incident),
        hidden("u", &link.user),
        hidden("a", link.action.as_str()),
        hidden("e", &link.expires.to_string()),
        hidden("s", &link.signature),
        link.key.as_deref().map(|id| hidden("k", id)).unwrap_or_default(),
        incident.number(),
    ));
    html_page(StatusCode::OK, &title, &content)
}

/// The page after a link's action ran.
pub fn result_page(result: &ActionResult) -> Response {
    let incident = &result.incident;
    let done = match result.action {
        StopAction::Acknowledge => "acknowledged",
        StopAction::Resolve => "resolved",
    };
    let title = if result.changed {
        format!("Incident #{} {done}", incident.number())
    } else {
        format!("Incident #{} was already {done}", incident.number())
    };
    let mut content = describe(incident);
    if result.changed {
        content.push_str(&format!(
            "<p>Recorded as {}. Escalation has stopped and the people already paged are being told.</p>",
            escape_html(&result.actor.to_string())
        ));
    } else {
        content.push_str("<p>Nothing changed.</p>");
    }
    html_page(StatusCode::OK, &title, &content)
}

/// An error page.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    html_page(status, title, &format!("<p>{}</p>", escape_html(message)))
}

/// The error page for a link that could not be used: 403 altered, 410 expired, 400 malformed,
/// 404 unknown incident, 409 acknowledging a resolved incident, 503/500 otherwise.
pub fn link_failure_page(failure: LinkFailure) -> Response {
    match failure {
        LinkFailure::Link(LinkError::BadSignature) => error_page(
            StatusCode::FORBIDDEN,
            "This link is not valid",
            "The link was altered or belongs to another Klaxon deployment. Use the link from the page exactly as it arrived.",
        ),
        LinkFailure::Link(LinkError::Expired(at)) => error_page(
            StatusCode::GONE,
            "This link has expired",
            &format!(
                "It stopped working at {}. Use a newer page, the Klaxon API or the CLI instead.",
                at.format("%Y-%m-%d %H:%M UTC")
            ),
        ),
        LinkFailure::Link(LinkError::Malformed(reason)) => {
            error_page(StatusCode::BAD_REQUEST, "This link is malformed", &reason)
        }
        LinkFailure::Other(error) => use_case_error_page(error),
    }
}

/// An error page for a use-case error, with the status the JSON API would give.
pub fn use_case_error_page(error: UseCaseError) -> Response {
    let title = match &error {
        UseCaseError::NotFound { .. } => "Incident not found",
        UseCaseError::Conflict(_) => "This cannot be done any more",
        UseCaseError::Invalid { .. } => "This link is malformed",
        _ => "Something went wrong",
    };
    let api = ApiError::from(error);
    error_page(api.status, title, &api.message)
}
