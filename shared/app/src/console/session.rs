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
    let secure = if settings.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!("; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
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
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
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
