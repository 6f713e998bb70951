//! Webhook delivery (Slack, Teams, generic webhooks) over HTTPS, and the signature of generic
//! webhooks.
//!
//! [`ReqwestWebhookSender`] posts a [`WebhookPost`]'s JSON body with its headers. One client is
//! built once and reused: a 10-second timeout for the whole exchange, redirects followed only
//! within the same host (at most five), `Content-Type: application/json`. Results map to the
//! retry policy: 2xx is success; 408, 429, 5xx, timeouts and connection failures are
//! [`SendError::Transient`]; any other status (4xx, an unfollowed redirect) and an invalid
//! URL or header are [`SendError::Permanent`].
//!
//! # Signature of generic webhooks
//!
//! Generic webhooks carry `X-Klaxon-Signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256, under the webhook's secret, of the bytes `"<t>.<body>"` (the timestamp, a dot,
//! the raw request body) — the scheme Stripe uses. A receiver recomputes the HMAC over the body
//! exactly as received, compares in constant time, and rejects timestamps too far from its
//! clock (five minutes is usual) so a captured request cannot be replayed later. Several `v1=`
//! entries may appear (during a secret rotation); any one matching is enough.
//! [`sign_webhook`] produces the value and [`verify_webhook`] checks one.

use crate::ports::{SendError, WebhookPost, WebhookSender};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::redirect;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The header that carries the signature of a generic webhook.
pub const SIGNATURE_HEADER: &str = "X-Klaxon-Signature";

/// The whole-exchange timeout of a webhook post.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The most redirects followed (all within the original host).
const MAX_REDIRECTS: usize = 5;

/// How much of an error response's body is quoted in the error.
const ERROR_BODY_LIMIT: usize = 300;

/// Posts webhooks with reqwest. Cheap to clone (clones share the connection pool).
#[derive(Debug, Clone)]
pub struct ReqwestWebhookSender {
    client: reqwest::Client,
}

impl ReqwestWebhookSender {
    /// A sender with the standard 10-second timeout.
    pub fn new() -> Result<Self, reqwest::Error> {
        Self::with_timeout(WEBHOOK_TIMEOUT)
    }

    /// A sender with another timeout (tests, slow receivers).
    pub fn with_timeout(timeout: Duration) -> Result<Self, reqwest::Error> {
        let policy = redirect::Policy::custom(|attempt| {
            let same_host = attempt
                .previous()
                .first()
                .is_some_and(|first| first.host_str() == attempt.url().host_str());
            if same_host && attempt.previous().len() <= MAX_REDIRECTS {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(policy)
            .user_agent(concat!("klaxon/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }
}

impl WebhookSender for ReqwestWebhookSender {
    async fn post(&self, post: &WebhookPost) -> Result<u16, SendError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &post.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                SendError::Permanent(format!("{}: invalid header name {name:?}", post.channel))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                SendError::Permanent(format!(
                    "{}: invalid value for header {name:?}",
                    post.channel
                ))
            })?;
            headers.insert(header, value);
        }
        let response = self
            .client
            .post(&post.url)
            .headers(headers)
            .body(post.body.clone())
            .send()
            .await
            .map_err(|error| classify_error(post.channel, &error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let body = response.text().await.unwrap_or_default();
        let excerpt: String = body.chars().take(ERROR_BODY_LIMIT).collect();
        let message = format!("{}: HTTP {status}: {excerpt}", post.channel);
        let code = status.as_u16();
        if code == 408 || code == 429 || status.is_server_error() {
            Err(SendError::Transient(message))
        } else {
            Err(SendError::Permanent(message))
        }
    }
}

/// Errors before a status arrived: an unusable URL is permanent, the rest (timeouts,
/// connection refused or reset, TLS) may pass.
fn classify_error(channel: &str, error: &reqwest::Error) -> SendError {
    let message = format!("{channel}: {}", error_chain(error));
    if error.is_builder() {
        SendError::Permanent(message)
    } else {
        SendError::Transient(message)
    }
}

/// The error and its sources, so "error sending request" says why.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

type HmacSha256 = Hmac<Sha256>;

/// The `X-Klaxon-Signature` value for `body` sent at `timestamp` (Unix seconds):
/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn sign_webhook(secret: &[u8], timestamp: i64, body: &str) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

fn mac(secret: &[u8], timestamp: i64, body: &str) -> HmacSha256 {
    let mut mac = keyed(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac
}

/// HMAC-SHA256 keyed with `secret` of any length, without a fallible constructor: this is
/// HMAC's own key preparation (RFC 2104: a key longer than the 64-byte block is hashed, then
/// zero-padded to the block), so the result equals `Hmac::new_from_slice(secret)`.
fn keyed(secret: &[u8]) -> HmacSha256 {
    let mut block = [0u8; 64];
    if secret.len() > block.len() {
        let digest = Sha256::digest(secret);
        block[..digest.len()].copy_from_slice(&digest);
    } else {
        block[..secret.len()].copy_from_slice(secret);
    }
    <HmacSha256 as KeyInit>::new(&block.into())
}

/// Why a webhook signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<unix>,v1=<hex>[,v1=<hex>…]`.
    #[error("X-Klaxon-Signature: malformed ({0})")]
    Malformed(&'static str),
    /// The timestamp is further from now than the tolerance (a replay, or a skewed clock).
    #[error(
        "X-Klaxon-Signature: timestamp {timestamp} is {skew} s from now (tolerance {tolerance} s)"
    )]
    Stale {
        /// The header's timestamp.
        timestamp: i64,
        /// Its distance from now, in seconds.
        skew: u64,
        /// The allowed distance, in seconds.
        tolerance: u64,
    },
    /// No `v1` signature matches: the body was altered or signed with another secret.
    #[error("X-Klaxon-Signature: signature does not match")]
    Mismatch,
}

/// Checks an `X-Klaxon-Signature` header value against the raw `body`, the shared `secret`
/// and the receiver's clock (`now`, Unix seconds): the timestamp must be within `tolerance`
/// of now and one `v1` entry must match (compared in constant time).
pub fn verify_webhook(
    secret: &[u8],
    header: &str,
    body: &str,
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("an entry without '='"))?;
        match key {
            "t" => {
                let parsed = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed("t is not a Unix timestamp"))?;
                timestamp = Some(parsed);
            }
            "v1" => signatures
                .push(hex::decode(value).map_err(|_| SignatureError::Malformed("v1 is not hex"))?),
            // Other schemes may be added later; a receiver ignores what it does not know.
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no t= entry"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1= entry"));
    }
    let skew = now.abs_diff(timestamp);
    if skew > tolerance.as_secs() {
        return Err(SignatureError::Stale {
            timestamp,
            skew,
            tolerance: tolerance.as_secs(),
        });
    }
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|signature| expected.clone().verify_slice(signature).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::{HeaderMap as AxumHeaders, StatusCode, header};
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(AxumHeaders, String)>>>;

    /// A receiver on a free loopback port; returns its base URL and what it saw.
    async fn server() -> (String, Seen) {
        let seen: Seen = Arc::default();
        let record = Arc::clone(&seen);
        let app = Router::new()
            .route(
                "/ok",
                post(move |headers: AxumHeaders, body: String| async move {
                    record.lock().unwrap().push((headers, body));
                    StatusCode::NO_CONTENT
                }),
            )
            .route(
                "/fail",
                post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "db down") }),
            )
            .route("/busy", post(|| async { StatusCode::TOO_MANY_REQUESTS }))
            .route(
                "/bad",
                post(|| async { (StatusCode::BAD_REQUEST, "invalid_payload") }),
            )
            .route(
                "/slow",
                post(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    StatusCode::OK
                }),
            )
            .route("/moved", post(|| async { Redirect::temporary("/ok") }))
            .route(
                "/elsewhere",
                post(|headers: AxumHeaders| async move {
                    // Same port, other host name: must not be followed.
                    let host = headers
                        .get(header::HOST)
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or_default()
                        .replace("127.0.0.1", "localhost");
                    Redirect::temporary(&format!("http://{host}/ok")).into_response()
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{address}"), seen)
    }

    fn post_to(url: String) -> WebhookPost {
        WebhookPost {
            channel: "webhook",
            url,
            headers: vec![(SIGNATURE_HEADER.to_owned(), "t=1,v1=00".to_owned())],
            body: r#"{"incident":"0192abcd"}"#.to_owned(),
        }
    }

    #[tokio::test]
    async fn a_2xx_is_success_and_the_body_and_headers_arrive() {
        let (base, seen) = server().await;
        let sender = ReqwestWebhookSender::new().unwrap();
        assert_eq!(sender.post(&post_to(format!("{base}/ok"))).await, Ok(204));
        let seen = seen.lock().unwrap();
        let (headers, body) = &seen[0];
        assert_eq!(body, r#"{"incident":"0192abcd"}"#);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(headers["x-klaxon-signature"], "t=1,v1=00");
        assert!(
            headers[header::USER_AGENT]
                .to_str()
                .unwrap()
                .starts_with("klaxon/")
        );
    }

    #[tokio::test]
    async fn server_errors_and_throttling_are_transient_other_4xx_permanent() {
        let (base, _) = server().await;
        let sender = ReqwestWebhookSender::new().unwrap();
        let fail = sender.post(&post_to(format!("{base}/fail"))).await;
        assert!(
            matches!(&fail, Err(SendError::Transient(m)) if m.contains("500") && m.contains("db down")),
            "{fail:?}"
        );
        let busy = sender.post(&post_to(format!("{base}/busy"))).await;
        assert!(matches!(busy, Err(SendError::Transient(_))), "{busy:?}");
        let bad = sender.post(&post_to(format!("{base}/bad"))).await;
        assert!(
            matches!(&bad, Err(SendError::Permanent(m)) if m.contains("400") && m.contains("invalid_payload")),
            "{bad:?}"
        );
        let missing = sender.post(&post_to(format!("{base}/nowhere"))).await;
        assert!(
            matches!(missing, Err(SendError::Permanent(_))),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn a_timeout_and_a_refused_connection_are_transient() {
        let (base, _) = server().await;
        let sender = ReqwestWebhookSender::with_timeout(Duration::from_millis(200)).unwrap();
        let slow = sender.post(&post_to(format!("{base}/slow"))).await;
        assert!(matches!(slow, Err(SendError::Transient(_))), "{slow:?}");

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = listener.local_addr().unwrap();
        drop(listener);
        let refused = sender.post(&post_to(format!("http://{closed}/ok"))).await;
        assert!(
            matches!(refused, Err(SendError::Transient(_))),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn an_invalid_url_or_header_is_permanent() {
        let sender = ReqwestWebhookSender::new().unwrap();
        let url = sender.post(&post_to("not a url".to_owned())).await;
        assert!(matches!(url, Err(SendError::Permanent(_))), "{url:?}");
        let mut bad_header = post_to("http://127.0.0.1:9/ok".to_owned());
        bad_header.headers = vec![("X-Bad".to_owned(), "line\nbreak".to_owned())];
        let header = sender.post(&bad_header).await;
        assert!(
            matches!(&header, Err(SendError::Permanent(m)) if m.contains("X-Bad")),
            "{header:?}"
        );
    }

    #[tokio::test]
    async fn redirects_are_followed_within_the_host_only() {
        let (base, seen) = server().await;
        let sender = ReqwestWebhookSender::new().unwrap();
        assert_eq!(
            sender.post(&post_to(format!("{base}/moved"))).await,
            Ok(204)
        );
        assert_eq!(seen.lock().unwrap().len(), 1);
        let elsewhere = sender.post(&post_to(format!("{base}/elsewhere"))).await;
        assert!(
            matches!(&elsewhere, Err(SendError::Permanent(m)) if m.contains("307")),
            "{elsewhere:?}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    const SECRET: &[u8] = b"whsec_test";
    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    #[test]
    fn a_signature_verifies_and_has_the_documented_form() {
        let body = r#"{"incident":"0192abcd"}"#;
        let header = sign_webhook(SECRET, 1_774_746_000, body);
        let (t, v1) = header.split_once(',').unwrap();
        assert_eq!(t, "t=1774746000");
        let mut expected = <HmacSha256 as Mac>::new_from_slice(SECRET).unwrap();
        expected.update(format!("1774746000.{body}").as_bytes());
        assert_eq!(
            v1,
            format!("v1={}", hex::encode(expected.finalize().into_bytes()))
        );
        assert_eq!(
            verify_webhook(SECRET, &header, body, 1_774_746_100, FIVE_MINUTES),
            Ok(())
        );
    }

    #[test]
    fn keys_of_any_length_give_the_standard_hmac() {
        for length in [0, 1, 32, 64, 65, 200] {
            let secret = vec![0x5a; length];
            let mut standard = <HmacSha256 as Mac>::new_from_slice(&secret).unwrap();
            standard.update(b"7.body");
            assert_eq!(
                keyed_digest(&secret),
                standard.finalize().into_bytes().to_vec(),
                "key length {length}"
            );
        }
    }

    fn keyed_digest(secret: &[u8]) -> Vec<u8> {
        mac(secret, 7, "body").finalize().into_bytes().to_vec()
    }

    #[test]
    fn tampering_another_secret_or_a_stale_timestamp_is_refused() {
        let body = r#"{"incident":"0192abcd"}"#;
        let header = sign_webhook(SECRET, 1_000_000, body);
        assert_eq!(
            verify_webhook(
                SECRET,
                &header,
                r#"{"incident":"0192abce"}"#,
                1_000_000,
                FIVE_MINUTES
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_webhook(b"other", &header, body, 1_000_000, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
        // Moving the timestamp breaks the signature too.
        let moved = header.replace("t=1000000", "t=1000001");
        assert_eq!(
            verify_webhook(SECRET, &moved, body, 1_000_000, FIVE_MINUTES),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_webhook(SECRET, &header, body, 1_000_301, FIVE_MINUTES),
            Err(SignatureError::Stale {
                timestamp: 1_000_000,
                skew: 301,
                tolerance: 300
            })
        );
    }

    #[test]
    fn any_matching_v1_entry_is_enough_and_malformed_headers_are_named() {
        let body = "{}";
        let old = sign_webhook(b"old-secret", 50, body);
        let new = sign_webhook(SECRET, 50, body);
        let rotated = format!("{new},{}", old.split_once(',').unwrap().1);
        assert_eq!(
            verify_webhook(b"old-secret", &rotated, body, 50, FIVE_MINUTES),
            Ok(())
        );
        assert_eq!(
            verify_webhook(SECRET, &rotated, body, 50, FIVE_MINUTES),
            Ok(())
        );
        for (header, reason) in [
            ("v1=00", "no t= entry"),
            ("t=50", "no v1= entry"),
            ("t=soon,v1=00", "t is not a Unix timestamp"),
            ("t=50,v1=zz", "v1 is not hex"),
            ("garbage", "an entry without '='"),
        ] {
            assert_eq!(
                verify_webhook(SECRET, header, body, 50, FIVE_MINUTES),
                Err(SignatureError::Malformed(reason)),
                "{header}"
            );
        }
    }
}
