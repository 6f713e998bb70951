//! The console's HTTP handlers: session from the cookie, CSRF and role checks, then a use case
//! and a template. Every HTML answer carries the strict headers ([`super::html`]).

use super::html::{html, see_other};
use super::read::IncidentQuery;
use super::service::{ConsoleError, ConsoleService, SignedIn};
use super::session::{clear_cookie, session_cookie, session_token};
use super::signin::SigninLink;
use super::sso::SsoError;
use super::views::{
    Chrome, IncidentListFragment, IncidentsPage, MessagePage, SigninConfirmPage, SigninPage,
};
use crate::http::ApiError;
use crate::http::api::{Params, read_limited};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::lifecycle::StopAction;
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use klaxon_store::Store;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The largest console form body.
const MAX_FORM_BYTES: usize = 8 * 1024;

pub(super) type Svc<S, Q, T, E> = Arc<ConsoleService<S, Q, T, E>>;

pub(super) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => html(StatusCode::OK, body),
        Err(error) => {
            tracing::error!(%error, "a console template failed to render");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<p>Something went wrong.</p>".into(),
            )
        }
    }
}

fn with_status(status: StatusCode, mut response: Response) -> Response {
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

/// A message page with `status`.
pub(super) fn message(
    status: StatusCode,
    who: Option<&SignedIn>,
    title: &str,
    text: &str,
    next: Option<(&str, &str)>,
) -> Response {
    let page = MessagePage {
        chrome: Chrome::new(who),
        title: title.to_owned(),
        message: text.to_owned(),
        is_error: !status.is_success(),
        next: next.map(|(href, text)| (href.to_owned(), text.to_owned())),
    };
    with_status(status, render(&page))
}

/// The page for a refused or failed operation.
pub(super) fn error_page(error: ConsoleError, who: Option<&SignedIn>) -> Response {
    match error {
        ConsoleError::RateLimited { .. } => message(
            StatusCode::TOO_MANY_REQUESTS,
            who,
            "Too many sign-in requests",
            &error.to_string(),
            Some(("/console/signin", "Back to sign-in")),
        ),
        ConsoleError::SigninRefused(reason) => message(
            StatusCode::FORBIDDEN,
            who,
            "Sign-in failed",
            reason,
            Some(("/console/signin", "Ask for a new link")),
        ),
        ConsoleError::Sso(error) => sso_error_page(&error, who),
        ConsoleError::Forbidden(_) => message(
            StatusCode::FORBIDDEN,
            who,
            "Not allowed",
            &error.to_string(),
            None,
        ),
        ConsoleError::UseCase(error) => {
            let api = ApiError::from(error);
            // A form's bad field is named, as the JSON API names it.
            let text = match &api.field {
                Some(field) => format!("{field}: {}", api.message),
                None => api.message.clone(),
            };
            message(api.status, who, "This did not work", &text, None)
        }
    }
}

fn sso_error_page(error: &SsoError, who: Option<&SignedIn>) -> Response {
    let status = match error {
        SsoError::NotConfigured => StatusCode::NOT_FOUND,
        SsoError::Secret(_) => StatusCode::INTERNAL_SERVER_ERROR,
        SsoError::Provider(_) => StatusCode::BAD_GATEWAY,
        SsoError::Refused(_) | SsoError::NotAUser(_) => StatusCode::FORBIDDEN,
    };
    if status.is_server_error() {
        tracing::warn!(%error, "console single sign-on failed");
    }
    let text = match error {
        SsoError::Provider(_) => "The identity provider could not be reached or gave an answer Klaxon cannot use. Try again, or sign in with an email link.".to_owned(),
        other => other.to_string(),
    };
    message(
        status,
        who,
        "Single sign-on failed",
        &text,
        Some(("/console/signin", "Back to sign-in")),
    )
}

fn form_fields(body: &[u8]) -> Result<Params, ApiError> {
    Params::parse(Some(&String::from_utf8_lossy(body)))
}

async fn read_form(body: Body) -> Result<Params, Response> {
    let bytes = read_limited(body, MAX_FORM_BYTES)
        .await
        .map_err(|e| message(e.status, None, "Request too large", &e.message, None))?;
    form_fields(&bytes).map_err(|e| {
        message(
            e.status,
            None,
            "This form could not be read",
            &e.message,
            None,
        )
    })
}

/// The signed-in person, or `None` (no cookie, unknown or expired session).
async fn current<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, Response> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    svc.signed_in(&token).await.map_err(|e| error_page(e, None))
}

/// The signed-in person for a page, or a redirect to the sign-in page.
pub(super) async fn require<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
    headers: &HeaderMap,
) -> Result<SignedIn, Response> {
    current(svc, headers)
        .await?
        .ok_or_else(|| see_other("/console/signin"))
}

/// The signed-in person for a form post whose `csrf` field matches their session: 401 without
/// a session, 403 with a missing or wrong token (nothing is done either way).
async fn require_form<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
    headers: &HeaderMap,
    body: Body,
) -> Result<SignedIn, Response> {
    require_form_fields(svc, headers, body)
        .await
        .map(|(who, _)| who)
}

/// [`require_form`], also returning the form's fields.
pub(super) async fn require_form_fields<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(SignedIn, Params), Response> {
    let Some(who) = current(svc, headers).await? else {
        return Err(message(
            StatusCode::UNAUTHORIZED,
            None,
            "Sign in first",
            "Your session has ended. Sign in again and repeat the action.",
            Some(("/console/signin", "Sign in")),
        ));
    };
    let form = read_form(body).await?;
    let sent = form.text("csrf").unwrap_or_default();
    if !bool::from(sent.as_bytes().ct_eq(who.csrf.as_bytes())) {
        return Err(message(
            StatusCode::FORBIDDEN,
            Some(&who),
            "Form expired",
            "This form's security token is missing or wrong, so nothing was done. Reload the page and try again.",
            None,
        ));
    }
    Ok((who, form))
}

pub(super) async fn root() -> Response {
    see_other("/console/incidents")
}

pub(super) async fn signin_form<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
) -> Response {
    match current(&svc, &headers).await {
        Ok(Some(_)) => see_other("/console/incidents"),
        Ok(None) => render(&SigninPage {
            chrome: Chrome::new(None),
            title: "Sign in".into(),
            notice: None,
            email: String::new(),
            sso: sso_label(&svc).await,
        }),
        Err(response) => response,
    }
}

pub(super) async fn signin_request<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    body: Body,
) -> Response {
    let form = match read_form(body).await {
        Ok(form) => form,
        Err(response) => return response,
    };
    let email = form.text("email").unwrap_or_default().to_owned();
    match svc.request_signin(&email).await {
        Ok(()) => render(&SigninPage {
            chrome: Chrome::new(None),
            title: "Check your email".into(),
            notice: Some(format!(
                "If {email} belongs to a Klaxon user, a sign-in link is on its way. It works once, for {} minutes.",
                svc.settings().signin_ttl.num_minutes()
            )),
            email,
            sso: sso_label(&svc).await,
        }),
        Err(error) => error_page(error, None),
    }
}

/// The single sign-on button's label, when the configuration has a provider.
async fn sso_label<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: &ConsoleService<S, Q, T, E>,
) -> Option<String> {
    svc.sso().await.ok().flatten().map(|sso| sso.label())
}

fn incomplete_link() -> Response {
    message(
        StatusCode::BAD_REQUEST,
        None,
        "This sign-in link is incomplete",
        "Open the link exactly as it arrived, or ask for a new one.",
        Some(("/console/signin", "Ask for a new link")),
    )
}

fn parse_link(text: &str) -> Option<SigninLink> {
    serde_urlencoded::from_str::<SigninLink>(text).ok()
}

pub(super) async fn signin_link_page<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(link) = parse_link(query.as_deref().unwrap_or_default()) else {
        return incomplete_link();
    };
    if let Err(error) = svc.check_signin_link(&link) {
        return error_page(error, None);
    }
    let until = chrono::DateTime::from_timestamp(link.expires, 0)
        .map(|at| at.format("%H:%M UTC").to_string())
        .unwrap_or_default();
    render(&SigninConfirmPage {
        chrome: Chrome::new(None),
        title: "Sign in to Klaxon".into(),
        link,
        until,
    })
}

pub(super) async fn signin_link_use<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    body: Body,
) -> Response {
    let bytes = match read_limited(body, MAX_FORM_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => return message(e.status, None, "Request too large", &e.message, None),
    };
    let Some(link) = parse_link(&String::from_utf8_lossy(&bytes)) else {
        return incomplete_link();
    };
    match svc.complete_signin(&link).await {
        Ok(new) => {
            let mut response = see_other("/console/incidents");
            let cookie = session_cookie(&new.token, svc.settings());
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => error_page(error, None),
    }
}

pub(super) async fn signout<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let who = match require_form(&svc, &headers, body).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if let Err(error) = svc.sign_out(&who.token).await {
        return error_page(error, Some(&who));
    }
    let mut response = message(
        StatusCode::OK,
        None,
        "Signed out",
        "Your session has ended.",
        Some(("/console/signin", "Sign in again")),
    );
    if let Ok(value) = HeaderValue::from_str(&clear_cookie(svc.settings())) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn incident_query(params: &Params) -> IncidentQuery {
    let text = |name: &str| params.text(name).unwrap_or_default().trim().to_owned();
    IncidentQuery {
        status: text("status"),
        severity: text("severity"),
        urgency: text("urgency"),
        policy: text("policy"),
        team: text("team"),
        from: text("from"),
        to: text("to"),
        search: text("q"),
    }
}

fn next_href(query: &IncidentQuery, cursor: &str) -> String {
    let pairs = [
        ("status", query.status.as_str()),
        ("severity", &query.severity),
        ("urgency", &query.urgency),
        ("policy", &query.policy),
        ("team", &query.team),
        ("from", &query.from),
        ("to", &query.to),
        ("q", &query.search),
        ("cursor", cursor),
    ];
    let kept: Vec<(&str, &str)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    format!(
        "/console/incidents?{}",
        serde_urlencoded::to_string(kept).unwrap_or_default()
    )
}

pub(super) async fn incidents<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let who = match require(&svc, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let params = match Params::parse(raw.as_deref()) {
        Ok(params) => params,
        Err(e) => return message(e.status, Some(&who), "Bad filter", &e.message, None),
    };
    let query = incident_query(&params);
    let list = match svc.incidents(&query, params.text("cursor")).await {
        Ok(list) => list,
        Err(error) => return error_page(error, Some(&who)),
    };
    let next = list.next_cursor.as_deref().map(|c| next_href(&query, c));
    let bulk_csrf = who.role.can_act().then(|| who.csrf.clone());
    let fragment = IncidentListFragment::new(&list, svc.core().now(), next).with_bulk(bulk_csrf);
    let Ok(rendered) = fragment.render() else {
        return render(&fragment);
    };
    if params.text("fragment").is_some() {
        return html(StatusCode::OK, rendered);
    }
    let (policies, teams): (Vec<String>, Vec<String>) = match svc.core().config().await {
        Ok(config) => (
            config
                .escalation_policies
                .iter()
                .map(|p| p.id.to_string())
                .collect(),
            config.teams.iter().map(|t| t.id.to_string()).collect(),
        ),
        Err(error) => return error_page(error.into(), Some(&who)),
    };
    render(&IncidentsPage::with_teams(
        Chrome::new(Some(&who)),
        query,
        &policies,
        &teams,
        rendered,
    ))
}

async fn act<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    svc: Svc<S, Q, T, E>,
    headers: HeaderMap,
    id: String,
    body: Body,
    action: StopAction,
) -> Response {
    let who = match require_form(&svc, &headers, body).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    match svc.act(&who, &id, action).await {
        Ok(incident) => {
            let done = match action {
                StopAction::Acknowledge => "acknowledge",
                StopAction::Resolve => "resolve",
            };
            see_other(&format!("/console/incidents/{}?done={done}", incident.id()))
        }
        Err(error) => error_page(error, Some(&who)),
    }
}

pub(super) async fn acknowledge<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(svc, headers, id, body, StopAction::Acknowledge).await
}

pub(super) async fn resolve<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    act(svc, headers, id, body, StopAction::Resolve).await
}
