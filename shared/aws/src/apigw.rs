//! Serving the shared axum router to API Gateway HTTP API events (payload format 2.0).
//!
//! The request side is `lambda_http`'s documented conversion ([`lambda_http::request::from_str`]:
//! path, query string, headers, cookies, base64 bodies). The response side builds an
//! [`ApiGatewayV2httpResponse`]: text bodies (`text/*`, JSON, XML, JavaScript, form data) as
//! text, everything else base64-encoded, `Set-Cookie` headers in `cookies`. Doing this here
//! instead of through `lambda_http::run` keeps one code path for the function and its tests, and
//! lets the ingest function take SNS events on the same handler (see `functions/ingest`).
//!
//! Only payload 2.0 events are accepted: Klaxon's template declares an HTTP API, and a REST API
//! (1.0) event would need a differently shaped response.

use crate::lambda::FunctionError;
use aws_lambda_events::encodings::Body as LambdaBody;
use axum::Router;
use axum::body::Body;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, Response};
use serde_json::Value;
use tower::ServiceExt;

pub use aws_lambda_events::apigw::ApiGatewayV2httpResponse;

/// The largest response body returned to API Gateway (Lambda's synchronous response limit is
/// 6 MB, and base64 grows a body by a third).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Whether `event` is an API Gateway HTTP API (payload format 2.0) request.
pub fn is_http_api_event(event: &Value) -> bool {
    event.get("version").and_then(Value::as_str) == Some("2.0")
        && event
            .get("requestContext")
            .and_then(|context| context.get("http"))
            .is_some_and(Value::is_object)
}

/// Checks that `lambda_http` can turn the event into a request: it builds the URI from the
/// `Host` (or the domain name), `X-Forwarded-Proto`, the path and the raw query string and
/// *panics* when those do not form a URI. API Gateway normally sends well-formed values, but a
/// client controls the query string and some headers, and nothing may panic on input.
fn check_uri(event: &Value) -> Result<(), String> {
    let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    let header = |name: &str| {
        event
            .get("headers")
            .and_then(Value::as_object)
            .and_then(|headers| {
                headers
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(name))
                    .and_then(|(_, value)| value.as_str().map(str::to_owned))
            })
    };
    let context = event.get("requestContext");
    let host = header("host").or_else(|| text(context.and_then(|c| c.get("domainName"))));
    let stage = text(context.and_then(|c| c.get("stage")));
    let raw_path = text(event.get("rawPath")).unwrap_or_default();
    let path = match stage.as_deref() {
        None | Some("$default") => raw_path,
        Some(stage) if raw_path.starts_with(&format!("/{stage}/")) => raw_path,
        Some(stage) => format!("/{stage}{raw_path}"),
    };
    let scheme = header("x-forwarded-proto").unwrap_or_else(|| "https".to_owned());
    let mut uri = match host {
        Some(host) => url::Url::parse(&format!("{scheme}://{host}{path}"))
            .map_err(|e| format!("the host, scheme and path do not form a URL: {e}"))?
            .to_string(),
        None => url::Url::parse(&format!("http://localhost{path}"))
            .map_err(|e| format!("the path is not a URL path: {e}"))?
            .path()
            .to_owned(),
    };
    if let Some(query) = text(event.get("rawQueryString")).filter(|q| !q.is_empty()) {
        uri.push('?');
        uri.push_str(&query);
    }
    http::Uri::try_from(uri)
        .map(|_| ())
        .map_err(|e| format!("the request URI is malformed: {e}"))
}

/// `lambda_http` decodes a body marked `isBase64Encoded` with an `expect`: a body that is not
/// base64 would abort the function (release builds abort on panic). API Gateway only marks
/// bodies it encoded itself, but a direct invocation can send anything.
fn check_base64_body(event: &Value) -> Result<(), String> {
    use base64::Engine;
    let encoded = event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true);
    match event.get("body").and_then(Value::as_str) {
        Some(body) if encoded => base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(|_| ())
            .map_err(|e| format!("the request body is marked base64 but is not: {e}")),
        _ => Ok(()),
    }
}

/// Converts an API Gateway HTTP API event into an HTTP request for the router. The body is
/// decoded when the event says it is base64.
pub fn request_from_event(event: &Value) -> Result<http::Request<Body>, FunctionError> {
    if !is_http_api_event(event) {
        return Err(FunctionError::Failed(
            "not an API Gateway HTTP API event (payload format 2.0 with requestContext.http)"
                .to_owned(),
        ));
    }
    check_uri(event).map_err(FunctionError::Failed)?;
    check_base64_body(event).map_err(FunctionError::Failed)?;
    let request = lambda_http::request::from_str(&event.to_string())
        .map_err(|e| FunctionError::Failed(format!("unreadable API Gateway event: {e}")))?;
    Ok(request.map(|body| Body::from(body.to_vec())))
}

/// Whether a response with these headers is sent as text (else base64).
fn is_text(headers: &HeaderMap) -> bool {
    if headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        // No content type: API Gateway passes the body through as text.
        return true;
    };
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime.starts_with("text/")
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime == "application/xml"
        || mime.ends_with("+xml")
        || mime == "application/javascript"
        || mime == "application/x-www-form-urlencoded"
}

/// Converts the router's response into API Gateway's payload 2.0 response.
pub async fn response_to_event(
    response: Response<Body>,
) -> Result<ApiGatewayV2httpResponse, FunctionError> {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_RESPONSE_BYTES)
        .await
        .map_err(|e| FunctionError::Failed(format!("reading the response body: {e}")))?;
    let mut headers = parts.headers;
    let cookies: Vec<String> = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(SET_COOKIE);
    let (body, is_base64_encoded) = if bytes.is_empty() {
        (None, false)
    } else if is_text(&headers) {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => (Some(LambdaBody::Text(text)), false),
            Err(error) => (Some(LambdaBody::Binary(error.into_bytes())), true),
        }
    } else {
        (Some(LambdaBody::Binary(bytes.to_vec())), true)
    };
    let mut event = ApiGatewayV2httpResponse::default();
    event.status_code = i64::from(parts.status.as_u16());
    event.headers = headers;
    event.body = body;
    event.is_base64_encoded = is_base64_encoded;
    event.cookies = cookies;
    Ok(event)
}

/// A 400 in Klaxon's error envelope, for a request that cannot even be routed.
fn bad_request(reason: &str) -> ApiGatewayV2httpResponse {
    let body = serde_json::json!({"error": {"code": "bad_request", "message": reason}});
    let mut event = ApiGatewayV2httpResponse::default();
    event.status_code = 400;
    event.headers.insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    event.body = Some(LambdaBody::Text(body.to_string()));
    event
}

/// Answers one API Gateway HTTP API event with `router`. A request whose URI cannot be built
/// gets a 400 without reaching the router.
pub async fn serve_event(
    router: Router,
    event: &Value,
) -> Result<ApiGatewayV2httpResponse, FunctionError> {
    if is_http_api_event(event)
        && let Err(reason) = check_uri(event)
    {
        tracing::warn!(%reason, "malformed request refused before routing");
        return Ok(bad_request(&reason));
    }
    let request = request_from_event(event)?;
    // The router's error type is Infallible: every failure is already an HTTP response.
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    response_to_event(response).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::{Path, Query};
    use axum::routing::{get, post};
    use base64::Engine;
    use serde_json::json;
    use std::collections::HashMap;

    fn event(method: &str, path: &str, query: &str, body: Option<(&str, bool)>) -> Value {
        let (body, encoded) = body.unwrap_or(("", false));
        json!({
            "version": "2.0",
            "routeKey": format!("{method} {path}"),
            "rawPath": path,
            "rawQueryString": query,
            "cookies": ["session=abc"],
            "headers": {"content-type": "application/json", "host": "klaxon.example.com", "x-custom": "one"},
            "queryStringParameters": {},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abcdef1234",
                "domainName": "klaxon.example.com",
                "domainPrefix": "klaxon",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
                "requestId": "req-1",
                "routeKey": format!("{method} {path}"),
                "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": 1_767_225_600_000_i64
            },
            "body": body,
            "isBase64Encoded": encoded
        })
    }

    fn router() -> Router {
        Router::new()
            .route(
                "/v1/echo/{id}",
                post(
                    |Path(id): Path<String>,
                     Query(query): Query<HashMap<String, String>>,
                     headers: HeaderMap,
                     body: String| async move {
                        axum::Json(json!({
                            "id": id,
                            "query": query,
                            "custom": headers.get("x-custom").and_then(|v| v.to_str().ok()),
                            "cookie": headers.get("cookie").and_then(|v| v.to_str().ok()),
                            "body": body,
                        }))
                    },
                ),
            )
            .route(
                "/v1/page",
                get(|| async {
                    Response::builder()
                        .header(CONTENT_TYPE, "text/html; charset=utf-8")
                        .header(SET_COOKIE, "a=1")
                        .header(SET_COOKIE, "b=2")
                        .body(Body::from("<p>héllo</p>"))
                        .unwrap()
                }),
            )
            .route(
                "/v1/bytes",
                get(|| async {
                    Response::builder()
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .body(Body::from(vec![0_u8, 159, 146, 150]))
                        .unwrap()
                }),
            )
    }

    #[tokio::test]
    async fn path_query_headers_cookies_and_body_reach_the_router() {
        let event = event(
            "POST",
            "/v1/echo/42",
            "identifierType=alias&x=1",
            Some(("{\"a\":1}", false)),
        );
        let response = serve_event(router(), &event).await.unwrap();
        assert_eq!(response.status_code, 200);
        assert!(!response.is_base64_encoded);
        let Some(LambdaBody::Text(text)) = &response.body else {
            panic!("{response:?}")
        };
        let body: Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["id"], "42");
        assert_eq!(body["query"]["identifierType"], "alias");
        assert_eq!(body["custom"], "one");
        assert_eq!(body["cookie"], "session=abc");
        assert_eq!(body["body"], "{\"a\":1}");
    }

    #[tokio::test]
    async fn a_base64_request_body_is_decoded() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("payload=%7B%7D");
        let event = event("POST", "/v1/echo/1", "", Some((&encoded, true)));
        let response = serve_event(router(), &event).await.unwrap();
        let Some(LambdaBody::Text(text)) = &response.body else {
            panic!()
        };
        let body: Value = serde_json::from_str(text).unwrap();
        assert_eq!(body["body"], "payload=%7B%7D");
    }

    #[tokio::test]
    async fn a_body_marked_base64_that_is_not_base64_is_refused_not_a_panic() {
        let event = event("POST", "/v1/echo/1", "", Some(("{not base64!}", true)));
        let error = serve_event(router(), &event).await.unwrap_err();
        assert!(error.to_string().contains("base64"), "{error}");
    }

    #[tokio::test]
    async fn html_is_text_with_cookies_apart_and_bytes_are_base64() {
        let response = serve_event(router(), &event("GET", "/v1/page", "", None))
            .await
            .unwrap();
        assert_eq!(response.body, Some(LambdaBody::Text("<p>héllo</p>".into())));
        assert_eq!(response.cookies, vec!["a=1".to_owned(), "b=2".to_owned()]);
        assert!(response.headers.get(SET_COOKIE).is_none());
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["statusCode"], 200);
        assert_eq!(json["headers"]["content-type"], "text/html; charset=utf-8");

        let response = serve_event(router(), &event("GET", "/v1/bytes", "", None))
            .await
            .unwrap();
        assert!(response.is_base64_encoded);
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(
            json["body"],
            base64::engine::general_purpose::STANDARD.encode([0_u8, 159, 146, 150])
        );
    }

    #[tokio::test]
    async fn events_of_other_kinds_are_refused() {
        let sns = json!({"Records": [{"EventSource": "aws:sns", "Sns": {}}]});
        assert!(!is_http_api_event(&sns));
        assert!(serve_event(router(), &sns).await.is_err());
        let mut rest = event("GET", "/v1/page", "", None);
        rest["version"] = json!("1.0");
        assert!(serve_event(router(), &rest).await.is_err());
    }

    #[tokio::test]
    async fn a_request_whose_uri_cannot_be_built_is_a_400_not_a_panic() {
        let mut bad_host = event("GET", "/v1/page", "", None);
        bad_host["headers"]["host"] = json!("bad host name");
        let mut bad_query = event("GET", "/v1/page", "", None);
        bad_query["rawQueryString"] = json!("a=b c");
        let mut bad_scheme = event("GET", "/v1/page", "", None);
        bad_scheme["headers"]["x-forwarded-proto"] = json!("ht tp");
        for event in [bad_host, bad_query, bad_scheme] {
            let response = serve_event(router(), &event).await.unwrap();
            assert_eq!(response.status_code, 400, "{event}");
            let Some(LambdaBody::Text(text)) = &response.body else {
                panic!()
            };
            assert!(text.contains("bad_request"), "{text}");
        }
        let mut staged = event("GET", "/v1/page", "", None);
        staged["requestContext"]["stage"] = json!("prod");
        let response = serve_event(router(), &staged).await.unwrap();
        assert_eq!(response.status_code, 404, "a named stage prefixes the path");
    }

    #[tokio::test]
    async fn unknown_routes_answer_the_routers_own_404() {
        let response = serve_event(router(), &event("GET", "/v1/nope", "", None))
            .await
            .unwrap();
        assert_eq!(response.status_code, 404);
    }
}
