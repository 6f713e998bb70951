//! The web console: server-rendered HTML pages over the same use cases as the JSON API,
//! served at `/` and under `/console/` by the `api` function and by `klaxon serve` from the
//! same router.
//!
//! | route | who | answer |
//! |---|---|---|
//! | `GET /`, `GET /console` | anyone | `303` to the incidents page |
//! | `GET /console/assets/{name}` | anyone | the stylesheet or script (content-hashed name, cached a year, ETag) |
//! | `GET /console/signin` | anyone | the sign-in form |
//! | `POST /console/signin` (`email`) | anyone | the same "check your email" answer for every address; `429` past the per-address limit |
//! | `GET /console/signin/link?t&e&s` | holder of a sign-in link | a confirmation page with a button; changes nothing |
//! | `POST /console/signin/link` | holder of a sign-in link | uses the link up, sets the session cookie, `303` to the incidents; `403` altered, expired or used |
//! | `GET /console/sso` | anyone (when `settings.sso` is configured) | `303` to the OpenID provider with a sealed flow cookie; `404` without a provider |
//! | `GET /console/sso/callback?code&state` | the browser back from the provider | a session for the user with the provider's verified email, `303` to the incidents; `403` for an unknown or unverified address, a wrong state or no flow cookie; `502` when the provider fails |
//! | `POST /console/signout` (`csrf`) | signed in | ends the session, clears the cookie |
//! | `GET /console/incidents?status&severity&urgency&policy&team&from&to&q&cursor[&fragment=1]` | signed in (any role) | the list (or only its fragment, for live refresh); `400` naming a bad `status`, `urgency`, `team`, `from`, `to` or `cursor` |
//! | `POST /console/incidents/bulk` (`csrf`, `action`, `incident`…) | responder, admin | acknowledges or resolves each selected incident, answering what happened to each; `400` naming `action` or `incident`; `403` for a viewer or a missing/wrong CSRF token, nothing changed |
//! | `GET /console/incidents/{id}[?fragment=1]` | signed in (any role) | one incident (id or number) |
//! | `POST /console/incidents/{id}/acknowledge`, `/resolve` (`csrf`) | responder, admin | `303` to the incident; `403` for a viewer or a missing/wrong CSRF token, nothing changed |
//! | `POST /console/incidents/{id}/snooze` (`csrf`, `request`, `duration`), `/escalate`, `/reassign` (`to`: `user:ID`, `schedule:ID` or `policy:ID`), `/responders` (`target`), `/note` (`text`) | responder, admin | the API's responder action as the signed-in person, `303` to the incident; a refusal (`409` snooze of a resolved incident, `400` naming the field) is the incident page with the reason, nothing changed; `403` for a viewer |
//! | `GET /console/oncall` | signed in (any role) | who is on call on every schedule, until when, who's next; every policy's tiers; my shifts |
//! | `GET /console/calendar/{user}.ics?s` | anyone with the link (calendar apps send no cookie) | that person's shifts as iCalendar; `403` for a wrong signature, `404` for no such user |
//! | `GET /console/analytics?from&to` | signed in (any role) | MTTA and MTTR per week, incidents per week by severity, noisiest sources, on-call load: SVG charts and tables; `400` naming `from` or `to` |
//! | `GET /console/analytics.csv?from&to&table` | signed in (any role) | the API's analytics CSV (`groups` per week, `sources`, `load`, `changes`); `401` without a session |
//! | `GET /console/admin` | admin | integrations with their endpoint URLs and keys (by hash prefix), API keys, the applied configuration version and what the earlier versions changed, the dead letters of every dead-letter queue; `403` for other roles |
//! | `POST /console/admin/keys` (`csrf`, `kind`, `name`, `label`) | admin | creates a key and shows its secret this once |
//! | `POST /console/admin/keys/{hash}/revoke` (`csrf`) | admin | revokes the key |
//! | `POST /console/admin/dead-letters/{queue}/{id}/redrive` (`csrf`) | admin | sends the dead letter back to its source queue, the page with what happened; `404` when it is gone (already redriven), `400` naming `queue` or `id` |
//! | `POST /console/admin/dead-letters/{queue}/redrive-all` (`csrf`) | admin | sends up to 100 dead letters of the queue back, the page says how many |
//! | `GET /console/policies` | signed in (any role) | every policy's tiers and targets, grouping and routing rules in priority order, defaults, maintenance windows, the "test an alert" form |
//! | `POST /console/policies/test` (`csrf`, `payload`, `integration`) | signed in (any role) | the page with the dry run `klaxon route test` does (nothing stored, nobody paged); `400` naming `payload` when it cannot be read |
//! | `GET /console/schedules/{id}?view&start&zone` | signed in (any role) | a week (`view=week`, the default) or month timeline per layer and the final row, overrides marked, in `zone` (default the viewer's configured zone); the final rotation and overrides over 14 days; the override forms for responders and admins; `400` naming `view`, `start` or `zone` when bad |
//! | `POST /console/schedules/{id}/overrides` (`csrf`, `user`, `start`, `end`) | responder, admin | creates an override (times in the schedule's zone), `303` to the schedule |
//! | `POST /console/schedules/{id}/overrides/{override}/remove` (`csrf`) | responder, admin | removes it, `303` to the schedule |
//!
//! Pages without a session redirect to the sign-in page; form posts without one are `401`.
//! Every HTML answer carries a strict Content-Security-Policy (see [`html::CSP`]).

pub mod admin;
pub mod analytics;
pub mod assets;
pub mod bulk;
pub mod calendar;
pub mod charts;
pub mod dead_letters;
pub mod escalation_view;
mod handlers;
pub mod html;
pub mod oncall;
pub mod policies;
pub mod read;
pub mod respond;
pub mod schedule_pages;
pub mod service;
pub mod session;
pub mod signin;
pub mod sso;
mod sso_pages;
pub mod timeline;
pub mod views;

pub use read::{IncidentList, IncidentQuery, IncidentView};
pub use service::{ConsoleError, ConsoleService, ConsoleSettings, NewSession, SignedIn};
pub use signin::{SigninLink, SigninSigner};

use crate::ports::{EmailSender, Queue, Timers};
use axum::Router;
use axum::routing::{get, post};
use klaxon_store::Store;
use std::sync::Arc;

/// The console routes over `service`.
pub fn routes<S, Q, T, E>(service: Arc<ConsoleService<S, Q, T, E>>) -> Router
where
    S: Store + 'static,
    Q: Queue + 'static,
    T: Timers + 'static,
    E: EmailSender + 'static,
{
    use handlers::*;
    Router::new()
        .route("/", get(root))
        .route("/console", get(root))
        .route("/console/assets/{file}", get(assets::serve))
        .route(
            "/console/signin",
            get(signin_form::<S, Q, T, E>).post(signin_request::<S, Q, T, E>),
        )
        .route(
            service::SIGNIN_LINK_PATH,
            get(signin_link_page::<S, Q, T, E>).post(signin_link_use::<S, Q, T, E>),
        )
        .route(sso::SSO_START_PATH, get(sso_pages::start::<S, Q, T, E>))
        .route(
            sso::SSO_CALLBACK_PATH,
            get(sso_pages::callback::<S, Q, T, E>),
        )
        .route("/console/signout", post(signout::<S, Q, T, E>))
        .route("/console/incidents", get(incidents::<S, Q, T, E>))
        .route("/console/incidents/bulk", post(bulk::bulk::<S, Q, T, E>))
        .route(
            "/console/incidents/{id}/acknowledge",
            post(acknowledge::<S, Q, T, E>),
        )
        .route(
            "/console/incidents/{id}/resolve",
            post(resolve::<S, Q, T, E>),
        )
        .route(
            "/console/oncall",
            get(schedule_pages::on_call::<S, Q, T, E>),
        )
        .route("/console/admin", get(admin::page::<S, Q, T, E>))
        .route("/console/admin/keys", post(admin::create_key::<S, Q, T, E>))
        .route(
            "/console/admin/keys/{hash}/revoke",
            post(admin::revoke_key::<S, Q, T, E>),
        )
        .route(
            "/console/admin/dead-letters/{queue}/{id}/redrive",
            post(dead_letters::redrive::<S, Q, T, E>),
        )
        .route(
            "/console/admin/dead-letters/{queue}/redrive-all",
            post(dead_letters::redrive_all::<S, Q, T, E>),
        )
        .route("/console/policies", get(policies::page::<S, Q, T, E>))
        .route("/console/policies/test", post(policies::test::<S, Q, T, E>))
        .route(
            "/console/schedules/{id}",
            get(schedule_pages::schedule::<S, Q, T, E>),
        )
        .route(
            "/console/schedules/{id}/overrides",
            post(schedule_pages::create_override::<S, Q, T, E>),
        )
        .route(
            "/console/schedules/{id}/overrides/{override_id}/remove",
            post(schedule_pages::remove_override::<S, Q, T, E>),
        )
        .merge(view_routes::<S, Q, T, E>())
        .with_state(service)
}

/// The incident page and its responder actions, the calendar feed and the analytics page.
fn view_routes<S, Q, T, E>() -> Router<Arc<ConsoleService<S, Q, T, E>>>
where
    S: Store + 'static,
    Q: Queue + 'static,
    T: Timers + 'static,
    E: EmailSender + 'static,
{
    let action = |path: &str| format!("/console/incidents/{{id}}/{path}");
    Router::new()
        .route(
            "/console/incidents/{id}",
            get(respond::incident::<S, Q, T, E>),
        )
        .route(&action("snooze"), post(respond::snooze::<S, Q, T, E>))
        .route(&action("escalate"), post(respond::escalate::<S, Q, T, E>))
        .route(&action("reassign"), post(respond::reassign::<S, Q, T, E>))
        .route(
            &action("responders"),
            post(respond::responders::<S, Q, T, E>),
        )
        .route(&action("note"), post(respond::note::<S, Q, T, E>))
        .route(
            "/console/calendar/{file}",
            get(calendar::feed::<S, Q, T, E>),
        )
        .route("/console/analytics", get(analytics::page::<S, Q, T, E>))
        .route("/console/analytics.csv", get(analytics::csv::<S, Q, T, E>))
}
