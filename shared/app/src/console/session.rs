//! The session cookie: `klaxon_session=<token>`, `HttpOnly` (no script reads it),
//! `SameSite=Lax` (sent when following a link from an email or chat, never on a cross-site
//! form post), `Path=/`, `Secure` when the console is served over HTTPS, and a `Max-Age` equal
//! to the session's lifetime.

use super::service::ConsoleSettings;
use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The cookie's name.
pub const COOKIE_NAME: &str = "klaxon_session";

fn attributes(settings: &ConsoleSettings, max_age: i64) -> String {
    attributes_at("/", settings, max_age)
}

fn attributes_at(path: &str, settings: &ConsoleSettings, max_age: i64) -> String {
    let secure = if settings.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!("; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// The `Set-Cookie` value that keeps a single sign-on flow's sealed state while the person is
/// at the provider: sent only to `/console/sso` paths, for the flow's lifetime.
pub fn sso_cookie(value: &str, settings: &ConsoleSettings) -> String {
    use super::sso::{SSO_COOKIE, SSO_FLOW_SECONDS, SSO_START_PATH};
    format!(
        "{SSO_COOKIE}={value}{}",
        attributes_at(SSO_START_PATH, settings, SSO_FLOW_SECONDS)
    )
}

/// The `Set-Cookie` value that removes the single sign-on flow cookie (the flow is over).
pub fn clear_sso_cookie(settings: &ConsoleSettings) -> String {
    use super::sso::{SSO_COOKIE, SSO_START_PATH};
    format!(
        "{SSO_COOKIE}={}",
        attributes_at(SSO_START_PATH, settings, 0)
    )
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie(token: &str, settings: &ConsoleSettings) -> String {
    format!(
        "{COOKIE_NAME}={token}{}",
        attributes(settings, settings.session_ttl.num_seconds())
    )
}

/// The `Set-Cookie` value that removes the cookie (sign-out).
pub fn clear_cookie(settings: &ConsoleSettings) -> String {
    format!("{COOKIE_NAME}={}", attributes(settings, 0))
}

/// The session token in the request's cookies, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE_NAME)
}

/// The value of the cookie `wanted` in the request, if it has one.
pub fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_flags_follow_the_public_url() {
        let local = ConsoleSettings::new("http://127.0.0.1:8080");
        let cookie = session_cookie("abc", &local);
        assert!(cookie.starts_with("klaxon_session=abc; "));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
        assert!(cookie.contains("Max-Age=43200"));
        assert!(!cookie.contains("Secure"));
        let cloud = ConsoleSettings::new("https://klaxon.example.com/");
        assert!(session_cookie("abc", &cloud).ends_with("; Secure"));
        assert!(clear_cookie(&cloud).contains("Max-Age=0"));
        let flow = sso_cookie("sealed", &cloud);
        assert!(flow.starts_with("klaxon_sso=sealed; Path=/console/sso; HttpOnly; SameSite=Lax"));
        assert!(flow.contains("Max-Age=600") && flow.ends_with("; Secure"));
        assert!(
            clear_sso_cookie(&local)
                .contains("Path=/console/sso; HttpOnly; SameSite=Lax; Max-Age=0")
        );
    }

    #[test]
    fn finds_the_session_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; klaxon_session=tok_1; other=x"),
        );
        assert_eq!(session_token(&headers).as_deref(), Some("tok_1"));
        assert_eq!(session_token(&HeaderMap::new()), None);
    }
}
