//! Credentials as senders present them.
//!
//! | route | header |
//! |---|---|
//! | native, Alertmanager, Grafana, Klaxon API | `Authorization: Bearer <key>` or `X-Klaxon-Key: <key>` |
//! | Opsgenie compatibility | `Authorization: GenieKey <key>` (Bearer also accepted) |
//! | PagerDuty compatibility | `routing_key` in the body |
//! | CloudWatch via SNS | the key in the path (`/v1/integrations/sns/{key}`): SNS cannot set headers |
//! | ICS feeds | `?key=<key>` (calendar apps cannot set headers) |

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

/// The header Klaxon accepts a key in besides `Authorization`.
pub const KEY_HEADER: &str = "x-klaxon-key";

/// The key in `Authorization: <scheme> <key>` for any of `schemes` (case-insensitive), or in
/// `X-Klaxon-Key`.
pub fn key_from_headers(headers: &HeaderMap, schemes: &[&str]) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let value = value.trim();
        if let Some((scheme, key)) = value.split_once(char::is_whitespace)
            && schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme))
            && !key.trim().is_empty()
        {
            return Some(key.trim().to_string());
        }
    }
    headers
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_bearer_geniekey_and_the_klaxon_header() {
        assert_eq!(
            key_from_headers(&headers(&[("authorization", "Bearer klx_1")]), &["bearer"]),
            Some("klx_1".into())
        );
        assert_eq!(
            key_from_headers(
                &headers(&[("authorization", "bearer  klx_1 ")]),
                &["bearer"]
            ),
            Some("klx_1".into())
        );
        assert_eq!(
            key_from_headers(
                &headers(&[("authorization", "GenieKey klx_2")]),
                &["geniekey", "bearer"]
            ),
            Some("klx_2".into())
        );
        assert_eq!(
            key_from_headers(&headers(&[("x-klaxon-key", "klx_3")]), &["bearer"]),
            Some("klx_3".into())
        );
    }

    #[test]
    fn other_schemes_and_empty_values_are_no_key() {
        assert_eq!(
            key_from_headers(&headers(&[("authorization", "Basic abc")]), &["bearer"]),
            None
        );
        assert_eq!(
            key_from_headers(&headers(&[("authorization", "Bearer ")]), &["bearer"]),
            None
        );
        assert_eq!(key_from_headers(&headers(&[]), &["bearer"]), None);
    }
}
