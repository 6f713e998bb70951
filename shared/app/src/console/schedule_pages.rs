//! The handlers and templates of "on call now" and the schedule page (see [`super::oncall`]
//! for what they show), and the override forms' posts.

use super::handlers::{Svc, error_page, render, require, require_form_fields};
use super::html::see_other;
use super::oncall::{LOOK_AHEAD_DAYS, OnCallNow, ScheduleView};
use super::service::ConsoleError;
use super::timeline::{TimelineQuery, TimelineView};
use super::views::Chrome;
use crate::http::api::Params;
use crate::ports::{EmailSender, Queue, Timers};
use askama::Template;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use klaxon_store::Store;

/// The "on call now" page.
#[derive(Template)]
#[template(path = "oncall.html")]
pub struct OnCallPage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// What it shows.
    pub now: OnCallNow,
    /// The look-ahead, in days.
    pub days: i64,
    /// The signed-in person's calendar feed link.
    pub calendar: String,
}

/// A schedule's page.
#[derive(Template)]
#[template(path = "schedule.html")]
pub struct SchedulePage {
    /// The frame.
    pub chrome: Chrome,
    /// Heading and title.
    pub title: String,
    /// What it shows.
    pub view: ScheduleView,
    /// The CSRF token when the signed-in person may change overrides (no forms otherwise).
    pub csrf: Option<String>,
    /// A notice after a change.
    pub notice: Option<String>,
    /// The look-ahead, in days.
    pub days: i64,
    /// The week or month timeline.
    pub timeline: TimelineView,
}

pub(super) async fn on_call<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
) -> Response {
    let who = match require(&svc, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    match svc.on_call_now(&who).await {
        Ok(now) => render(&OnCallPage {
            chrome: Chrome::new(Some(&who)),
            title: "On call now".to_owned(),
            now,
            days: LOOK_AHEAD_DAYS,
            calendar: svc.calendar_link(&who.user),
        }),
        Err(error) => error_page(error, Some(&who)),
    }
}

pub(super) async fn schedule<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let who = match require(&svc, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let view = match svc.schedule_view(&id).await {
        Ok(view) => view,
        Err(error) => return error_page(error, Some(&who)),
    };
    let params = Params::parse(raw.as_deref()).unwrap_or_default();
    let query = match TimelineQuery::parse(
        params.text("view"),
        params.text("start"),
        params.text("zone"),
    ) {
        Ok(query) => query,
        Err(error) => return error_page(ConsoleError::UseCase(error), Some(&who)),
    };
    let timeline = match svc.schedule_timeline(&who, &id, &query).await {
        Ok(timeline) => timeline,
        Err(error) => return error_page(error, Some(&who)),
    };
    let notice = match params.text("done") {
        Some("created") => Some("Override created.".to_owned()),
        Some("removed") => Some("Override removed.".to_owned()),
        _ => None,
    };
    render(&SchedulePage {
        chrome: Chrome::new(Some(&who)),
        title: view.name.clone(),
        csrf: who.role.can_act().then(|| who.csrf.clone()),
        view,
        notice,
        days: LOOK_AHEAD_DAYS,
        timeline,
    })
}

pub(super) async fn create_override<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let (who, form) = match require_form_fields(&svc, &headers, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let field = |name: &str| form.text(name).unwrap_or_default().to_owned();
    match svc
        .create_override(&who, &id, &field("user"), &field("start"), &field("end"))
        .await
    {
        Ok(()) => see_other(&format!("/console/schedules/{id}?done=created")),
        Err(error) => error_page(error, Some(&who)),
    }
}

pub(super) async fn remove_override<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path((id, override_id)): Path<(String, String)>,
    body: Body,
) -> Response {
    let who = match require_form_fields(&svc, &headers, body).await {
        Ok((who, _)) => who,
        Err(response) => return response,
    };
    match svc.remove_override(&who, &id, &override_id).await {
        Ok(()) => see_other(&format!("/console/schedules/{id}?done=removed")),
        Err(error) => error_page(error, Some(&who)),
    }
}
