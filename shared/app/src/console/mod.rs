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
//! | `POST /console/signout` (`csrf`) | signed in | ends the session, clears the cookie |
//! | `GET /console/incidents?status&severity&urgency&policy&q&cursor[&fragment=1]` | signed in (any role) | the list (or only its fragment, for live refresh) |
//! | `GET /console/incidents/{id}[?fragment=1]` | signed in (any role) | one incident (id or number) |
//! | `POST /console/incidents/{id}/acknowledge`, `/resolve` (`csrf`) | responder, admin | `303` to the incident; `403` for a viewer or a missing/wrong CSRF token, nothing changed |
//!
//! Pages without a session redirect to the sign-in page; form posts without one are `401`.
//! Every HTML answer carries a strict Content-Security-Policy (see [`html::CSP`]).

pub mod assets;
mod handlers;
pub mod html;
pub mod read;
pub mod service;
pub mod session;
pub mod signin;
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
        .route("/console/signout", post(signout::<S, Q, T, E>))
        .route("/console/incidents", get(incidents::<S, Q, T, E>))
        .route("/console/incidents/{id}", get(incident::<S, Q, T, E>))
        .route(
            "/console/incidents/{id}/acknowledge",
            post(acknowledge::<S, Q, T, E>),
        )
        .route(
            "/console/incidents/{id}/resolve",
            post(resolve::<S, Q, T, E>),
        )
        .with_state(service)
}
