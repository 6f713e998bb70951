//! The single sign-on routes: `GET /console/sso` sends the browser to the identity provider,
//! `GET /console/sso/callback` signs it in when it comes back (see [`super::sso`]).

use super::handlers::{Svc, error_page, message};
use super::html::see_other;
use super::session::{clear_sso_cookie, cookie_value, session_cookie, sso_cookie};
use super::sso::{SSO_COOKIE, SsoCallback};
use crate::http::api::Params;
use crate::ports::{EmailSender, Queue, Timers};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use klaxon_store::Store;

fn add_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `GET /console/sso`: a `303` to the provider's authorization page, with the flow cookie.
pub(super) async fn start<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
) -> Response {
    match svc.sso_start().await {
        Ok(flow) => {
            let mut response = see_other(&flow.redirect);
            add_cookie(&mut response, &sso_cookie(&flow.cookie, svc.settings()));
            response
        }
        Err(error) => error_page(error, None),
    }
}

/// `GET /console/sso/callback?code&state` (or `?error&error_description`): a session and a
/// `303` to the incidents, or a page saying why not (the flow cookie is cleared either way).
pub(super) async fn callback<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = Params::parse(raw.as_deref()).unwrap_or_default();
    let again = Some(("/console/signin", "Back to sign-in"));
    let mut response = if let Some(refusal) = params.text("error") {
        let detail = params.text("error_description").unwrap_or(refusal);
        message(
            StatusCode::FORBIDDEN,
            None,
            "Single sign-on failed",
            &format!("The identity provider did not sign you in ({refusal}: {detail})."),
            again,
        )
    } else if let (Some(code), Some(state)) = (params.text("code"), params.text("state")) {
        let cookie = cookie_value(&headers, SSO_COOKIE);
        let answer = SsoCallback {
            code,
            state,
            cookie: cookie.as_deref(),
        };
        match svc.sso_finish(&answer).await {
            Ok(new) => {
                let mut response = see_other("/console/incidents");
                add_cookie(&mut response, &session_cookie(&new.token, svc.settings()));
                response
            }
            Err(error) => error_page(error, None),
        }
    } else {
        message(
            StatusCode::BAD_REQUEST,
            None,
            "Single sign-on failed",
            "code: the identity provider's answer has no code and state. Start again.",
            again,
        )
    };
    add_cookie(&mut response, &clear_sso_cookie(svc.settings()));
    response
}
