//! The handler on every `events/apigw/api-*` sample (with a real API key and ids
//! substituted), over the SQLite store with an incident paged through the real use cases.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use base64::Engine;
use serde_json::json;

use klaxon_test_support::{Env, apigw_request, http_response, page_requests};

const SAMPLE_INCIDENT: &str = "0192f3a1b2c37d4e8f90a1b2c3d4e5f6";
const SAMPLE_OVERRIDE: &str = "0192f3a1b2c37d4e8f90a1b2c3d4e5f9";

struct Fixture {
    env: Env,
    handler: ApiHandler,
    incident: String,
}

impl Fixture {
    async fn new() -> Self {
        let env = Env::new().await;
        let (_, incident) = page_requests(&env).await;
        let handler = ApiHandler::new(QueryService::new(env.core(COMPONENT)));
        Fixture {
            env,
            handler,
            incident: incident.to_string(),
        }
    }

    /// Sends a sample with the API key and incident id of this fixture (and `more`).
    async fn send(&self, file: &str, more: &[(&str, &str)]) -> (u64, String, Value) {
        let mut replacements = vec![
            ("klx_EXAMPLE_API_KEY", self.env.api_key.as_str()),
            (SAMPLE_INCIDENT, self.incident.as_str()),
        ];
        replacements.extend_from_slice(more);
        let response = self
            .handler
            .handle(apigw_request(file, &replacements))
            .await
            .unwrap();
        let (status, body) = http_response(&response);
        let content_type = response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            status,
            content_type,
            serde_json::from_str(&body).unwrap_or(json!(body)),
        )
    }
}

#[tokio::test]
async fn every_read_route_answers_its_sample() {
    let fixture = Fixture::new().await;
    let (status, _, body) = fixture.send("api-list-incidents.json", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["incidents"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );

    let (status, _, body) = fixture.send("api-get-incident.json", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["incident"]["id"], fixture.incident.as_str(), "{body}");

    let (status, _, body) = fixture.send("api-oncall.json", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.to_string().contains("alice"), "{body}");

    let (status, content_type, body) = fixture.send("api-schedule-ics.json", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/calendar"), "{content_type}");
    assert!(body.as_str().unwrap().starts_with("BEGIN:VCALENDAR"));

    let (status, _, body) = fixture.send("api-get-config.json", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 1);
}

#[tokio::test]
async fn overrides_are_created_listed_and_deleted() {
    let fixture = Fixture::new().await;
    let (status, _, created) = fixture.send("api-create-override.json", &[]).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _, listed) = fixture.send("api-list-overrides.json", &[]).await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed.to_string().contains(&id), "{listed}");
    let (status, _, body) = fixture
        .send(
            "api-delete-override.json",
            &[(SAMPLE_OVERRIDE, id.as_str())],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, _, listed) = fixture.send("api-list-overrides.json", &[]).await;
    assert!(!listed.to_string().contains(&id), "{listed}");
}

#[tokio::test]
async fn a_yaml_upload_stores_a_new_configuration_version() {
    let fixture = Fixture::new().await;
    let mut event = apigw_request(
        "api-put-config.json",
        &[("klx_EXAMPLE_API_KEY", fixture.env.api_key.as_str())],
    );
    let engine = base64::engine::general_purpose::STANDARD;
    let yaml = String::from_utf8(engine.decode(event["body"].as_str().unwrap()).unwrap())
        .unwrap()
        .replace("default_window: 1h", "default_window: 2h");
    event["body"] = json!(engine.encode(yaml));
    let (status, body) = http_response(&fixture.handler.handle(event).await.unwrap());
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["version"], 2, "{body}");
    let (_, _, current) = fixture.send("api-get-config.json", &[]).await;
    assert_eq!(current["version"], 2);
}

#[tokio::test]
async fn requests_without_the_api_key_are_refused() {
    let fixture = Fixture::new().await;
    for file in [
        "api-list-incidents.json",
        "api-get-incident.json",
        "api-oncall.json",
        "api-schedule-ics.json",
        "api-list-overrides.json",
        "api-create-override.json",
        "api-delete-override.json",
        "api-get-config.json",
        "api-put-config.json",
    ] {
        let response = fixture
            .handler
            .handle(apigw_request(file, &[(SAMPLE_INCIDENT, &fixture.incident)]))
            .await
            .unwrap();
        let (status, body) = http_response(&response);
        assert_eq!(status, 401, "{file}: {body}");
    }
    let (_, _, config) = fixture.send("api-get-config.json", &[]).await;
    assert_eq!(config["version"], 1, "nothing changed");
}

/// Without `PUBLIC_BASE_URL`: the sign-in link starts with the domain API Gateway names in
/// `requestContext.domainName`, not a header the client sent; another custom domain gets its
/// own base; an event without a usable domain gets the JSON API only.
#[tokio::test]
async fn without_a_public_base_url_links_use_the_api_gateway_domain() {
    use klaxon_app::console::{ConsoleService, ConsoleSettings, SigninSigner};
    use klaxon_test_support::{RecordingQueue, RecordingSenders, RecordingTimers};
    let env = Env::new().await;
    let senders = RecordingSenders::new();
    let (store_env, sent) = (Arc::new(env), senders.clone());
    let built = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (for_console, seen) = (Arc::clone(&store_env), Arc::clone(&built));
    let handler = ApiHandler::with_derived_console(
        QueryService::new(store_env.core(COMPONENT)),
        move |base: &str| {
            seen.lock().unwrap().push(base.to_owned());
            Ok((
                QueryService::new(for_console.core(COMPONENT)),
                ConsoleService::new(
                    for_console.core(CONSOLE_COMPONENT),
                    RecordingQueue::new(),
                    RecordingTimers::new(),
                    senders.clone(),
                    SigninSigner::new(&[9u8; 32]).unwrap(),
                    ConsoleSettings::new(base),
                ),
            ))
        },
    );
    let sample = "console-signin-request.json";
    let response = handler.handle(apigw_request(sample, &[])).await.unwrap();
    assert_eq!(http_response(&response).0, 200);
    let emails = sent.sent().emails;
    assert_eq!(emails.len(), 1, "one sign-in email");
    let link = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/console/signin/link?";
    assert!(emails[0].text.contains(link), "{}", emails[0].text);
    assert!(!emails[0].text.contains("evil.example.net"));

    // A custom domain mapped to the API: its own base URL. The same domain again: no rebuild.
    for _ in 0..2 {
        let mut event = apigw_request(sample, &[]);
        event["requestContext"]["domainName"] = json!("klaxon.example.com");
        assert_eq!(
            base_url_of(&event).as_deref(),
            Some("https://klaxon.example.com")
        );
        handler.handle(event).await.unwrap();
    }
    assert!(
        sent.sent().emails[1]
            .text
            .contains("https://klaxon.example.com/console/signin/link?")
    );
    assert_eq!(
        *built.lock().unwrap(),
        [
            "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "https://klaxon.example.com"
        ]
    );

    // No usable domain or a named stage: no console, the JSON API still answers.
    for (field, to) in [
        ("domainName", json!("evil.example.net/x")),
        ("domainName", json!("")),
        ("domainName", Value::Null),
        ("stage", json!("prod")),
    ] {
        let mut event = apigw_request(sample, &[]);
        event["requestContext"][field] = to.clone();
        assert_eq!(base_url_of(&event), None, "{to}");
        let response = handler.handle(event).await.unwrap();
        assert_eq!(http_response(&response).0, 404, "{to}: no console route");
    }
    let listed = apigw_request(
        "api-list-incidents.json",
        &[("klx_EXAMPLE_API_KEY", store_env.api_key.as_str())],
    );
    assert_eq!(http_response(&handler.handle(listed).await.unwrap()).0, 200);
    assert_eq!(
        sent.sent().emails.len(),
        3,
        "one link per sign-in request, none for the refused events"
    );
}
