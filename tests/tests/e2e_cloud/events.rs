//! Event files from `events/`, with the placeholders of the samples replaced by this
//! deployment's keys and ids, and the handlers' API Gateway responses read back.

use base64::Engine;
use klaxon_tests::workspace_root;
use serde_json::{Value, json};

/// The integration key placeholder of the `events/apigw` samples.
pub const EXAMPLE_INTEGRATION_KEY: &str = "klx_EXAMPLE_INTEGRATION_KEY";

/// A file under `events/`, as text.
pub fn text(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join("events").join(path))
        .unwrap_or_else(|e| panic!("events/{path}: {e}"))
}

/// An `events/apigw` request with every `(placeholder, value)` replaced.
pub fn request(file: &str, replacements: &[(&str, &str)]) -> Value {
    let mut text = text(&format!("apigw/{file}"));
    for (placeholder, value) in replacements {
        text = text.replace(placeholder, value);
    }
    serde_json::from_str(&text).unwrap()
}

/// An `events/apigw` request authenticated with `key` (the integration key placeholder
/// replaced).
pub fn with_key(file: &str, key: &str) -> Value {
    request(file, &[(EXAMPLE_INTEGRATION_KEY, key)])
}

/// Replaces a request's body (sent as text, not base64).
pub fn with_body(mut event: Value, body: &str) -> Value {
    event["body"] = json!(body);
    event["isBase64Encoded"] = json!(false);
    event
}

/// An API Gateway response: its status and its body (JSON when it is JSON, else a string).
pub fn response(response: &Value) -> (u16, Value) {
    let status = response["statusCode"].as_u64().unwrap() as u16;
    let raw = response["body"].as_str().unwrap_or_default();
    let body = if response["isBase64Encoded"] == json!(true) {
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .unwrap(),
        )
        .unwrap()
    } else {
        raw.to_owned()
    };
    let parsed = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, parsed)
}

/// Signs an SNS envelope with the test certificate's key (SignatureVersion 2) and points it at
/// an SNS certificate URL, which the test fetcher serves.
pub fn sign_sns(text: &str) -> String {
    let mut envelope: Value = serde_json::from_str(text).unwrap();
    envelope["SignatureVersion"] = json!("2");
    envelope["SigningCertURL"] =
        json!("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-test.pem");
    let parsed = klaxon_domain::ingest::sns::parse_https(envelope.to_string().as_bytes()).unwrap();
    let key = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(
        &std::fs::read(workspace_root().join("shared/app/testdata/sns-test-key.pk8.der")).unwrap(),
    )
    .unwrap();
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        parsed.string_to_sign().as_bytes(),
        &mut signature,
    )
    .unwrap();
    envelope["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature));
    envelope.to_string()
}

/// The query string of a signed link found in a page (the SMS text, or an email's HTML with
/// `&amp;` escapes): `i=…&u=…&a=…&e=…&s=…`.
pub fn link_query(page: &str, base_url: &str, action: &str) -> String {
    let start = format!("{base_url}/v1/links?");
    page.match_indices(&start)
        .map(|(at, _)| {
            let rest = &page[at + start.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
                .unwrap_or(rest.len());
            rest[..end].replace("&amp;", "&")
        })
        .find(|query| query.split('&').any(|pair| pair == format!("a={action}")))
        .unwrap_or_else(|| panic!("no {action} link under {base_url} in: {page}"))
}

/// An `events/apigw/ack-link-*` request for the link with `query`: the query string, and for
/// the POST sample the form body (base64, as API Gateway delivers form posts).
pub fn link_request(file: &str, query: &str) -> Value {
    let mut event = request(file, &[]);
    event["rawQueryString"] = json!(query);
    let parameters: serde_json::Map<String, Value> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    event["queryStringParameters"] = Value::Object(parameters);
    if event.get("body").is_some() {
        event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(query));
        event["isBase64Encoded"] = json!(true);
    }
    event
}

/// The `events/apigw/ack-slack-actions.json` request for `incident`, stamped `timestamp` and
/// signed with `secret` (the way Slack signs: `v0=` HMAC-SHA256 of `v0:{timestamp}:{body}`).
pub fn slack_request(incident: &str, timestamp: i64, secret: &str) -> Value {
    let mut event = request("ack-slack-actions.json", &[]);
    let engine = base64::engine::general_purpose::STANDARD;
    let body = String::from_utf8(engine.decode(event["body"].as_str().unwrap()).unwrap())
        .unwrap()
        .replace("0192f3a1b2c37d4e8f90a1b2c3d4e5f6", incident);
    let timestamp = timestamp.to_string();
    let signature = klaxon_app::security::slack::SlackVerifier::new(secret)
        .unwrap()
        .sign(&timestamp, body.as_bytes());
    event["body"] = json!(engine.encode(&body));
    event["headers"]["x-slack-request-timestamp"] = json!(timestamp);
    event["headers"]["x-slack-signature"] = json!(signature);
    event
}
