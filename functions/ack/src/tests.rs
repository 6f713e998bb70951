//! The handler on the `events/apigw/ack-*` samples (with a real signed link, API key and Slack
//! signature substituted), over the SQLite store with an incident paged through the real use
//! cases; `ack-declare-incident.json` declares one by hand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use chrono::TimeDelta;
use klaxon_app::messages::{QueueMessage, QueueName};
use klaxon_app::security::links::LinkAction;
use klaxon_app::security::links::LinkSigner;
use klaxon_app::security::slack::SlackVerifier;
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::IncidentStatus;
use klaxon_store::Clock;
use serde_json::json;

use klaxon_test_support::{
    Env, RecordingQueue, RecordingTimers, apigw_request, http_response, page_requests,
};

const LINK_SECRET: &str = "ack-unit-test-link-secret-0123456789abcdef";
const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SAMPLE_INCIDENT: &str = "0192f3a1b2c37d4e8f90a1b2c3d4e5f6";

struct Fixture {
    env: Env,
    handler: AckHandler,
    queue: RecordingQueue,
    incident: IncidentId,
}

impl Fixture {
    async fn new() -> Self {
        let env = Env::new().await;
        let (_, incident) = page_requests(&env).await;
        let queue = RecordingQueue::default();
        let service = AckService::new(
            env.core(COMPONENT),
            queue.clone(),
            RecordingTimers::default(),
            LinkSigner::new(LINK_SECRET.as_bytes()).unwrap(),
            SlackVerifier::new(SLACK_SECRET),
        );
        Fixture {
            env,
            handler: AckHandler::new(service),
            queue,
            incident,
        }
    }

    /// A signed link's query string for `user`, expiring `lifetime` from now.
    fn link(&self, action: LinkAction, lifetime: TimeDelta) -> String {
        let signer = LinkSigner::new(LINK_SECRET.as_bytes()).unwrap();
        let link = signer.sign(
            &self.incident,
            &UserId::new("bob").unwrap(),
            action,
            self.env.clock.now() + lifetime,
        );
        signer.url("", &link).trim_start_matches('?').to_owned()
    }

    async fn status(&self) -> IncidentStatus {
        self.env
            .repo("test")
            .incident(&self.incident)
            .await
            .unwrap()
            .unwrap()
            .incident
            .status()
    }
}

/// A link request with its query (and, for POST, its form body) replaced by `query`.
fn link_request(file: &str, query: &str) -> Value {
    use base64::Engine;
    let mut event = apigw_request(file, &[]);
    event["rawQueryString"] = json!(query);
    let parameters: serde_json::Map<String, Value> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    event["queryStringParameters"] = Value::Object(parameters);
    if event.get("body").is_some() {
        event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(query));
    }
    event
}

#[tokio::test]
async fn opening_a_link_shows_a_page_and_posting_it_acknowledges() {
    let fixture = Fixture::new().await;
    let query = fixture.link(LinkAction::Ack, TimeDelta::hours(1));
    let response = fixture
        .handler
        .handle(link_request("ack-link-get.json", &query))
        .await
        .unwrap();
    let (status, body) = http_response(&response);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<form method=\"post\">"), "{body}");
    assert_eq!(
        response.headers["content-type"], "text/html; charset=utf-8",
        "{response:?}"
    );
    assert_eq!(
        fixture.status().await,
        IncidentStatus::Triggered,
        "GET changes nothing"
    );

    let response = fixture
        .handler
        .handle(link_request("ack-link-post.json", &query))
        .await
        .unwrap();
    let (status, body) = http_response(&response);
    assert_eq!(status, 200, "{body}");
    assert_eq!(fixture.status().await, IncidentStatus::Acknowledged);
    assert!(
        fixture
            .queue
            .drain(QueueName::Notifications)
            .iter()
            .all(|m| matches!(m, QueueMessage::Notice(_))),
        "only notices go out"
    );
}

#[tokio::test]
async fn altered_and_expired_links_are_refused_and_change_nothing() {
    let fixture = Fixture::new().await;
    let query = fixture.link(LinkAction::Resolve, TimeDelta::hours(1));
    let tampered = query.replace("a=resolve", "a=ack");
    let (status, _) = http_response(
        &fixture
            .handler
            .handle(link_request("ack-link-post.json", &tampered))
            .await
            .unwrap(),
    );
    assert_eq!(status, 403);
    let expired = fixture.link(LinkAction::Ack, TimeDelta::seconds(-1));
    let (status, _) = http_response(
        &fixture
            .handler
            .handle(link_request("ack-link-post.json", &expired))
            .await
            .unwrap(),
    );
    assert_eq!(status, 410);
    let (status, _) = http_response(
        &fixture
            .handler
            .handle(apigw_request("ack-link-post.json", &[]))
            .await
            .unwrap(),
    );
    assert!(
        (400..500).contains(&status),
        "the sample's own signature is not valid here"
    );
    assert_eq!(fixture.status().await, IncidentStatus::Triggered);
}

#[tokio::test]
async fn the_api_routes_acknowledge_and_resolve_with_an_api_key() {
    let fixture = Fixture::new().await;
    let replacements = [
        ("klx_EXAMPLE_API_KEY", fixture.env.api_key.as_str()),
        (SAMPLE_INCIDENT, fixture.incident.as_str()),
    ];
    let (status, body) = http_response(
        &fixture
            .handler
            .handle(apigw_request(
                "ack-incident-acknowledge.json",
                &replacements,
            ))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["changed"], true);
    assert_eq!(body["actor"], "user:alice");
    let (status, _) = http_response(
        &fixture
            .handler
            .handle(apigw_request("ack-incident-resolve.json", &replacements))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200);
    assert_eq!(fixture.status().await, IncidentStatus::Resolved);

    let (status, _) = http_response(
        &fixture
            .handler
            .handle(apigw_request(
                "ack-incident-acknowledge.json",
                &[(SAMPLE_INCIDENT, fixture.incident.as_str())],
            ))
            .await
            .unwrap(),
    );
    assert_eq!(status, 401, "the sample's placeholder key is not a key");
}

#[tokio::test]
async fn a_slack_button_acknowledges_only_with_a_valid_signature() {
    use base64::Engine;
    let fixture = Fixture::new().await;
    let mut event = apigw_request(
        "ack-slack-actions.json",
        &[(SAMPLE_INCIDENT, fixture.incident.as_str())],
    );
    // The body is base64 (a form post): put this incident's id in the payload.
    let body = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(event["body"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
    .replace(SAMPLE_INCIDENT, fixture.incident.as_str())
    .into_bytes();
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
    let timestamp = fixture.env.clock.now().timestamp().to_string();
    event["headers"]["x-slack-request-timestamp"] = json!(timestamp);

    // The sample's placeholder signature is refused.
    let (status, _) = http_response(&fixture.handler.handle(event.clone()).await.unwrap());
    assert_eq!(status, 401);
    assert_eq!(fixture.status().await, IncidentStatus::Triggered);

    let signature = SlackVerifier::new(SLACK_SECRET)
        .unwrap()
        .sign(&timestamp, &body);
    event["headers"]["x-slack-signature"] = json!(signature);
    let (status, text) = http_response(&fixture.handler.handle(event).await.unwrap());
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("acknowledged by user:alice"), "{text}");
    assert_eq!(fixture.status().await, IncidentStatus::Acknowledged);
}

#[tokio::test]
async fn the_declare_sample_opens_one_incident_and_its_retry_finds_it() {
    let fixture = Fixture::new().await;
    let replacements = [("klx_EXAMPLE_API_KEY", fixture.env.api_key.as_str())];
    let (status, body) = http_response(
        &fixture
            .handler
            .handle(apigw_request("ack-declare-incident.json", &replacements))
            .await
            .unwrap(),
    );
    assert_eq!(status, 201, "{body}");
    let first: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(first["created"], true);
    assert_eq!(first["actor"], "user:alice");
    assert_eq!(
        first["incident"]["title"],
        "Checkout is down for EU customers"
    );
    let announced = fixture.queue.drain(QueueName::Incidents);
    assert_eq!(announced.len(), 1, "announced to routing: {announced:?}");

    // The same request again (same Idempotency-Key): the same incident, nothing created.
    let (status, body) = http_response(
        &fixture
            .handler
            .handle(apigw_request("ack-declare-incident.json", &replacements))
            .await
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again["created"], false);
    assert!(first["incident"]["number"].is_u64(), "{first}");
    assert_eq!(again["incident"]["number"], first["incident"]["number"]);

    // Without a valid key: refused.
    let (status, _) = http_response(
        &fixture
            .handler
            .handle(apigw_request("ack-declare-incident.json", &[]))
            .await
            .unwrap(),
    );
    assert_eq!(status, 401);
}
