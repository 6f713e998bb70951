//! "My shifts" as a calendar feed: `GET /console/calendar/{user}.ics?s=<signature>`, one
//! person's shifts on every schedule (overrides included) from a week ago to 90 days ahead.
//!
//! Calendar apps fetch subscriptions on their own, without the browser's session cookie, so
//! the link itself is the credential: an HMAC-SHA256 of the user id under a key derived from
//! the console's signing secret. The "on call now" page shows each signed-in person their own
//! link. It reads one person's shifts and nothing else; it stops working when the user is
//! removed from the configuration or the signing secret is rotated (which also ends every
//! other person's link).

use super::handlers::Svc;
use super::service::ConsoleService;
use crate::http::ApiError;
use crate::ics::{ScheduleRange, user_calendar};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use klaxon_domain::ids::UserId;
use klaxon_store::Store;
use sha2::Sha256;

/// Where the feeds are served.
pub const CALENDAR_PATH: &str = "/console/calendar";
/// How far back and ahead a feed reaches, in days.
pub const FEED_DAYS_BACK: i64 = 7;
/// See [`FEED_DAYS_BACK`].
pub const FEED_DAYS_AHEAD: i64 = 90;

fn keyed(key: &[u8; 32], user: &str) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).ok()?;
    mac.update(format!("klaxon-calendar\n{user}").as_bytes());
    Some(mac)
}

/// Why a feed was not served.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The link was altered or is for another Klaxon.
    #[error("this calendar link is not valid")]
    BadSignature,
    /// No such configured user.
    #[error("no such calendar")]
    Unknown,
    /// Reading the schedules failed.
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    fn calendar_key(&self) -> [u8; 32] {
        self.signer().derive_key("klaxon-console-calendar")
    }

    /// The signed feed link of `user` (a full URL under the console's public address).
    pub fn calendar_link(&self, user: &UserId) -> String {
        let signature = keyed(&self.calendar_key(), user.as_str())
            .map(|mac| URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
            .unwrap_or_default();
        format!(
            "{}{CALENDAR_PATH}/{user}.ics?s={signature}",
            self.settings().public_url
        )
    }

    /// The feed of `user` if `signature` is theirs.
    pub async fn calendar_feed(&self, user: &str, signature: &str) -> Result<String, FeedError> {
        let sent = URL_SAFE_NO_PAD
            .decode(signature.as_bytes())
            .map_err(|_| FeedError::BadSignature)?;
        keyed(&self.calendar_key(), user)
            .ok_or(FeedError::BadSignature)?
            .verify_slice(&sent)
            .map_err(|_| FeedError::BadSignature)?;
        let config = self.core().config().await?;
        let id = UserId::new(user.to_owned()).map_err(|_| FeedError::Unknown)?;
        if config.user(&id).is_none() {
            return Err(FeedError::Unknown);
        }
        let now = self.core().now();
        let from = now - TimeDelta::days(FEED_DAYS_BACK);
        let to = now + TimeDelta::days(FEED_DAYS_AHEAD);
        let range = ScheduleRange::new(from, to)
            .map_err(|e| UseCaseError::invalid("range", e.to_string()))?;
        let mut schedules = Vec::new();
        for schedule in &config.schedules {
            let overrides = self
                .core()
                .repo
                .overrides(&schedule.id, from, to)
                .await
                .map_err(UseCaseError::from)?;
            schedules.push((schedule, overrides));
        }
        Ok(user_calendar(&config, &id, &schedules, range, now))
    }
}

/// `GET /console/calendar/{user}.ics?s=`: no session needed (the signature is the credential).
pub(super) async fn feed<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = crate::http::api::Params::parse(raw.as_deref()).unwrap_or_default();
    let Some(user) = file.strip_suffix(".ics") else {
        return ApiError::not_found("no such calendar").into_response();
    };
    match svc
        .calendar_feed(user, params.text("s").unwrap_or_default())
        .await
    {
        Ok(body) => {
            let mut response = (StatusCode::OK, body).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/calendar; charset=utf-8"),
            );
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=300"),
            );
            response
        }
        Err(FeedError::BadSignature) => {
            ApiError::forbidden("this calendar link is not valid (altered, or for another Klaxon)")
                .into_response()
        }
        Err(FeedError::Unknown) => ApiError::not_found("no such calendar").into_response(),
        Err(FeedError::UseCase(error)) => ApiError::from(error).into_response(),
    }
}
