//! A duplicate through the ingest handler on DynamoDB.

use super::*;

/// Posts `body` to the ingest router with a bearer key; returns the status and JSON answer.
async fn post_alert(
    router: axum::Router,
    key: &str,
    body: &serde_json::Value,
) -> (axum::http::StatusCode, serde_json::Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::post("/v1/alerts")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

/// The write requests (and their write units) among what the store was asked.
fn writes(cost: &Cost) -> BTreeMap<&'static str, u32> {
    cost.requests
        .iter()
        .filter(|(request, _)| !matches!(**request, "GetItem" | "Query"))
        .map(|(request, count)| (*request, *count))
        .collect()
}

/// The whole ingest path (HTTP handler, authentication, configuration, parsing, dedup) on the
/// DynamoDB store: the second post of the same alert is one UpdateItem of one write unit, and
/// nothing is queued for it.
#[tokio::test]
async fn a_duplicate_posted_to_ingest_on_dynamodb_costs_one_write_and_queues_nothing() {
    use klaxon_app::messages::QueueName;
    use klaxon_app::security::keys::PlainKey;
    use klaxon_app::security::sns::SnsVerifier;
    use klaxon_app::usecases::ingest::IngestService;
    use klaxon_app::usecases::{ConfigCache, Core};
    use klaxon_domain::config::Config;
    use klaxon_store::repo::{KeyKind, KeyRecord};
    use klaxon_tests::fakes::{RecordingQueue, SequentialIds};
    use klaxon_tests::pipeline::{TestHttpGet, pipeline_config_text};

    let clock = manual_clock();
    let counting = CountingStore {
        inner: dynamo_store(clock.clone()).await,
        cost: Arc::default(),
    };
    let repo = |component: &str| {
        Repository::new(
            counting.clone(),
            clock.clone(),
            EventSource::klaxon(component).unwrap(),
        )
    };
    let config = Config::from_yaml(&pipeline_config_text()).unwrap();
    let admin = repo("cli");
    admin
        .save_config(
            &config.to_canonical_json().unwrap(),
            &config.fingerprint().unwrap(),
            &Actor::system("test"),
        )
        .await
        .unwrap();
    let key = PlainKey::from_random_bytes([7; 32]);
    admin
        .create_key(
            key.hash().as_str(),
            &KeyRecord {
                kind: KeyKind::Integration,
                name: "native".into(),
                label: None,
                created_at: clock.now(),
            },
        )
        .await
        .unwrap();
    let queue = RecordingQueue::new();
    let ingest = Arc::new(IngestService::new(
        Core::new(
            repo("ingest"),
            ConfigCache::new(std::time::Duration::ZERO),
            clock.clone(),
            Arc::new(SequentialIds::default()),
        ),
        queue.clone(),
        SnsVerifier::new(TestHttpGet::default()),
    ));
    let router = klaxon_app::http::ingest::routes(ingest);
    let alert = serde_json::json!({
        "dedup_key": "payments-queue-backlog",
        "status": "firing",
        "severity": "critical",
        "summary": "Payments queue backlog above 10k messages",
        "labels": {"service": "payments"},
        "details": noise(64 * 1024, 3),
    });

    let (status, answer) = post_alert(router.clone(), key.expose(), &alert).await;
    assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["summary"]["new"], 1, "{answer}");
    let queued = queue.drain(QueueName::Alerts);
    let [klaxon_app::messages::QueueMessage::Alert(new)] = queued.as_slice() else {
        panic!("expected one alert message, got {queued:?}");
    };
    counting.take();

    // Before grouping links the alert, its record is on the ungrouped index too, and the
    // update rewrites that index entry; once grouped (as grouping does) only the record.
    for (grouped, index_units) in [(false, 1), (true, 0)] {
        if grouped {
            admin
                .mark_grouped(&new.key, &new.alert_id, &incident_id("inc1"))
                .await
                .unwrap();
            counting.take();
        }
        clock.advance(Duration::seconds(60));
        let (status, answer) = post_alert(router.clone(), key.expose(), &alert).await;
        assert_eq!(status, axum::http::StatusCode::ACCEPTED, "{answer}");
        assert_eq!(
            (&answer["summary"]["new"], &answer["summary"]["repeats"]),
            (&serde_json::json!(0), &serde_json::json!(1)),
            "{answer}"
        );
        let duplicate = counting.take();
        assert_eq!(
            writes(&duplicate),
            BTreeMap::from([("UpdateItem", 1)]),
            "a duplicate is exactly one write request (grouped: {grouped}): {duplicate:?}"
        );
        assert_eq!(
            (duplicate.write_units, duplicate.index_write_units),
            (1, index_units),
            "grouped: {grouped}: {duplicate:?}"
        );
        for name in QueueName::ALL {
            assert!(
                queue.peek(name).is_empty(),
                "the duplicate queued a message on {name:?}"
            );
        }
    }
}
