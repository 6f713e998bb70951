//! Refusals: bad keys, malformed bodies, unknown paths, oversized labels, and answers shaped
//! for the sender (PagerDuty, Opsgenie).

use super::*;

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

/// Every ingest route, with bad credentials and with malformed bodies: a 4xx with a reason,
/// and nothing stored or queued.
#[tokio::test]
async fn bad_keys_and_malformed_bodies_are_refused_and_change_nothing() {
    let p = Pipeline::new().await;
    let cases: Vec<(&str, &str, Option<String>)> = vec![
        (
            "/v1/integrations/alertmanager",
            "alertmanager-firing.json",
            Some(bearer(p.key("am"))),
        ),
        (
            "/v1/integrations/grafana",
            "grafana-firing.json",
            Some(bearer(p.key("grafana"))),
        ),
        (
            "/v1/alerts",
            "native-firing.json",
            Some(bearer(p.key("native"))),
        ),
        (
            "/v2/alerts",
            "opsgenie-create.json",
            Some(format!("GenieKey {}", p.key("og"))),
        ),
    ];
    for (path, file, good) in &cases {
        // No key, a wrong key, another integration's key.
        let (status, body) = post(p.ingest_router(), path, &[], event(file)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {body}");
        let (status, _) = post(
            p.ingest_router(),
            path,
            &[("authorization", "Bearer klx_wrong")],
            event(file),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let other = bearer(p.key("pd"));
        let (status, _) = post(
            p.ingest_router(),
            path,
            &[("authorization", &other)],
            event(file),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{path}: a key of another format"
        );
        // Malformed bodies with a good key.
        let auth = good.clone().unwrap();
        for bad in ["", "not json", "[]", "{\"unexpected\": true}"] {
            let (status, body) =
                post(p.ingest_router(), path, &[("authorization", &auth)], bad).await;
            assert!(status.is_client_error(), "{path} {bad:?}: {status}");
            let code = body["error"]["code"].as_str().or(body["message"].as_str());
            assert!(
                code.is_some_and(|c| !c.is_empty()),
                "{path} {bad:?}: a reason is given: {body}"
            );
        }
        let huge = "x".repeat(2 * 1024 * 1024);
        let (status, _) = post(p.ingest_router(), path, &[("authorization", &auth)], huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
    }
    assert!(
        p.queue.peek(QueueName::Alerts).is_empty(),
        "nothing was queued"
    );
    assert!(incidents(&p).await.is_empty(), "nothing was created");
    let (status, body) = post(
        p.ingest_router(),
        "/v1/integrations/alertmanager",
        &[("authorization", &bearer(p.key("am")))],
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_field");
    assert!(body["error"]["field"].is_string());
}

// ---------------------------------------------------------------------------------------------
// Refusals: paths, sizes, sender-shaped answers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let p = Pipeline::new().await;
    let router = klaxon_app::http::compose([p.ingest_router()]);
    let (status, body) = post(router, "/v1/nope", &[], "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn oversized_labels_are_refused_before_anything_is_stored() {
    let p = Pipeline::new().await;
    let auth = bearer(p.key("native"));
    let body = json!({"alerts": [
        {"dedup_key": "small", "summary": "fine"},
        {"dedup_key": "huge", "summary": "too many labels", "labels": {"blob": "x".repeat(40 * 1024)}}
    ]});
    let (status, body) = post(
        p.ingest_router(),
        "/v1/alerts",
        &[("authorization", &auth)],
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "alerts[1].labels");
    assert!(
        p.queue.peek(QueueName::Alerts).is_empty(),
        "the valid first alert was not stored either"
    );
    assert!(
        p.repo
            .alert(&klaxon_domain::alert::AlertKey {
                integration: klaxon_domain::ids::IntegrationName::new("native").unwrap(),
                dedup_key: klaxon_domain::ids::DedupKey::new("small").unwrap(),
            })
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn pagerduty_senders_get_pagerduty_shaped_answers_for_limits_and_for_a_dependency_down() {
    let p = Pipeline::new().await;
    let key = p.key("pd").to_owned();
    let mut trigger: Value = serde_json::from_str(&event("pagerduty-trigger.json")).unwrap();
    trigger["routing_key"] = json!(key);

    // Parses, but its labels are over the limit: 400 in PagerDuty's shape, nothing stored.
    let mut huge = trigger.clone();
    huge["payload"]["component"] = json!("x".repeat(40 * 1024));
    let (status, body) = post(p.ingest_router(), "/v2/enqueue", &[], huge.to_string()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["status"], "invalid event");
    assert_eq!(body["message"], "Event object is invalid");
    let error = body["errors"][0].as_str().unwrap();
    assert!(error.starts_with("'labels' labels total"), "{error}");
    let mut long_source = trigger.clone();
    long_source["payload"]["source"] = json!("h".repeat(1025));
    let (status, body) = post(
        p.ingest_router(),
        "/v2/enqueue",
        &[],
        long_source.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["errors"][0],
        "'source' is 1025 characters; at most 1024 are accepted"
    );
    assert!(p.queue.peek(QueueName::Alerts).is_empty());

    // No configuration applied (the table answers, but there is nothing to route with): 429,
    // which PagerDuty senders retry.
    p.store
        .delete(
            &klaxon_store::key::Key::new(
                klaxon_store::repo::schema::CONFIG,
                klaxon_store::repo::schema::CURRENT,
            ),
            None,
        )
        .await
        .unwrap();
    let (status, body) = post(p.ingest_router(), "/v2/enqueue", &[], trigger.to_string()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["status"], "throttle event");
    assert!(p.queue.peek(QueueName::Alerts).is_empty());
}

#[tokio::test]
async fn opsgenie_senders_get_opsgenie_shaped_rejections_naming_the_field() {
    let p = Pipeline::new().await;
    let genie = format!("GenieKey {}", p.key("og"));
    let cases = [
        (None, "{}".to_owned(), StatusCode::UNAUTHORIZED, "key"),
        (
            Some(genie.as_str()),
            "not json".to_owned(),
            StatusCode::BAD_REQUEST,
            "JSON",
        ),
        (
            Some(genie.as_str()),
            "{}".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "message",
        ),
        (
            Some(genie.as_str()),
            json!({"message": "disk", "priority": "P9"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            Some(genie.as_str()),
            json!({"message": "disk", "tags": ["x".repeat(40 * 1024)]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "labels",
        ),
    ];
    for (auth, body, expected, mentions) in cases {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (status, answer) = post(p.ingest_router(), "/v2/alerts", &headers, body.clone()).await;
        assert_eq!(status, expected, "{body}: {answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
        assert!(answer["requestId"].is_string(), "{answer}");
        assert!(answer["took"].is_number(), "{answer}");
    }
    assert!(p.queue.peek(QueueName::Alerts).is_empty());
    assert!(incidents(&p).await.is_empty());
}
