//! The handler on the sample events of `events/` (API Gateway requests and SNS events), over the
//! SQLite store with the pipeline test configuration and a recording queue.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use klaxon_app::messages::{AlertAction, QueueMessage};
use klaxon_local::store::SqliteStore;

use klaxon_test_support::{Env, RecordingQueue, read};

/// Serves nothing: the unsigned sample SNS payloads must fail before or at verification.
struct NoFetch;

impl HttpGet for NoFetch {
    async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        Err(format!("no network in unit tests ({url})"))
    }
}

struct Fixture {
    handler: IngestHandler<SqliteStore, RecordingQueue, NoFetch>,
    queue: RecordingQueue,
    keys: std::collections::BTreeMap<String, String>,
}

impl Fixture {
    async fn new() -> Self {
        let env = Env::new().await;
        let queue = RecordingQueue::default();
        let service = IngestService::new(
            env.core(COMPONENT),
            queue.clone(),
            SnsVerifier::new(NoFetch),
        );
        Fixture {
            handler: IngestHandler::new(Arc::new(service)),
            queue,
            keys: env.keys,
        }
    }

    /// An `events/apigw` request with the example key replaced by `integration`'s key.
    fn request(&self, file: &str, integration: &str) -> Value {
        let text = read(&format!("events/apigw/{file}"))
            .replace("klx_EXAMPLE_INTEGRATION_KEY", &self.keys[integration]);
        serde_json::from_str(&text).unwrap()
    }

    fn queued(&self) -> Vec<QueueMessage> {
        self.queue.all()
    }
}

fn status_and_body(response: &Value) -> (i64, Value) {
    let body = response["body"].as_str().unwrap_or_default();
    (
        response["statusCode"].as_i64().unwrap(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn every_webhook_route_accepts_its_sample_request() {
    let fixture = Fixture::new().await;
    let cases = [
        ("ingest-native-alert.json", "native", 1),
        ("ingest-alertmanager.json", "am", 2),
        ("ingest-grafana.json", "grafana", 2),
        ("ingest-pagerduty-enqueue.json", "pd", 1),
        ("ingest-opsgenie-create.json", "og", 1),
    ];
    let mut expected = 0;
    for (file, integration, new) in cases {
        let response = fixture
            .handler
            .handle(fixture.request(file, integration))
            .await
            .unwrap();
        let (status, body) = status_and_body(&response);
        assert_eq!(status, 202, "{file}: {body}");
        assert_eq!(
            response["headers"]["content-type"], "application/json",
            "{file}"
        );
        expected += new;
        assert_eq!(fixture.queued().len(), expected, "{file} queues {new}");
    }
    assert!(fixture.queued().iter().all(|message| matches!(
        message,
        QueueMessage::Alert(alert) if alert.action == AlertAction::Fire
    )));

    // Opsgenie acknowledge and close by alias (path parameter and query string).
    for file in [
        "ingest-opsgenie-acknowledge.json",
        "ingest-opsgenie-close.json",
    ] {
        let response = fixture
            .handler
            .handle(fixture.request(file, "og"))
            .await
            .unwrap();
        let (status, body) = status_and_body(&response);
        assert_eq!(status, 202, "{file}: {body}");
        assert_eq!(body["result"], "Request will be processed");
    }
    let actions: Vec<AlertAction> = fixture
        .queued()
        .iter()
        .filter_map(|message| match message {
            QueueMessage::Alert(alert) if alert.key.integration.as_str() == "og" => {
                Some(alert.action)
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            AlertAction::Fire,
            AlertAction::Acknowledge,
            AlertAction::Resolve
        ]
    );
}

#[tokio::test]
async fn requests_without_a_valid_key_get_a_4xx_and_queue_nothing() {
    let fixture = Fixture::new().await;
    let mut missing = fixture.request("ingest-alertmanager.json", "am");
    missing["headers"]
        .as_object_mut()
        .unwrap()
        .remove("authorization");
    let (status, body) = status_and_body(&fixture.handler.handle(missing).await.unwrap());
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");

    let wrong: Value =
        serde_json::from_str(&read("events/apigw/ingest-alertmanager.json")).unwrap();
    let (status, _) = status_and_body(&fixture.handler.handle(wrong).await.unwrap());
    assert_eq!(status, 401);

    // The SNS sample is not signed by SNS: refused before anything is stored.
    let unsigned = fixture.request("ingest-sns-https.json", "cw");
    let (status, body) = status_and_body(&fixture.handler.handle(unsigned).await.unwrap());
    assert_eq!(status, 401, "{body}");
    assert!(fixture.queued().is_empty());
}

#[tokio::test]
async fn a_lambda_sns_event_is_ingested_for_the_integration_listing_its_topic() {
    let fixture = Fixture::new().await;
    let event: Value = serde_json::from_str(&read("events/ingest/sns-lambda-event.json")).unwrap();
    assert!(is_sns_event(&event));
    let result = fixture.handler.handle(event.clone()).await.unwrap();
    assert_eq!(result["summary"]["new"], 1);
    let queued = fixture.queued();
    let [QueueMessage::Alert(alert)] = queued.as_slice() else {
        panic!("{queued:?}")
    };
    assert_eq!(alert.key.integration.as_str(), "cw");

    // A topic no integration lists: an error for Lambda (retried, then the on-failure
    // destination), nothing queued.
    let mut foreign = event;
    foreign["Records"][0]["Sns"]["TopicArn"] = json!("arn:aws:sns:eu-west-1:123456789012:other");
    let error = fixture.handler.handle(foreign).await.unwrap_err();
    assert!(matches!(error, IngestEventError::SnsRefused(_)), "{error}");
    assert_eq!(Diagnostic::from(error).error_type, "Klaxon.SnsEventRefused");
    assert_eq!(fixture.queued().len(), 1);

    // A malformed SNS event is refused as well.
    let malformed = json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": 5}}]});
    assert!(matches!(
        fixture.handler.handle(malformed).await,
        Err(IngestEventError::SnsRefused(_))
    ));
}

#[tokio::test]
async fn other_events_are_errors_not_requests() {
    let fixture = Fixture::new().await;
    let sqs: Value = serde_json::from_str(&read("events/sqs/timers-batch.json")).unwrap();
    let error = fixture.handler.handle(sqs).await.unwrap_err();
    assert!(matches!(error, IngestEventError::Function(_)), "{error}");
    assert!(error.to_string().contains("unsupported event"));
    assert_eq!(Diagnostic::from(error).error_type, "Klaxon.FunctionError");
    assert!(!is_sns_event(&json!({"Records": []})));
    assert!(fixture.queued().is_empty());
}

#[tokio::test]
async fn unknown_paths_get_the_routers_json_404() {
    let fixture = Fixture::new().await;
    let mut request = fixture.request("ingest-native-alert.json", "native");
    request["rawPath"] = json!("/v1/nope");
    request["requestContext"]["http"]["path"] = json!("/v1/nope");
    let (status, body) = status_and_body(&fixture.handler.handle(request).await.unwrap());
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
}
