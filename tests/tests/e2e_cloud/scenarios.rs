//! Scenarios: each ingest format end to end.

use super::*;

#[tokio::test]
async fn an_alertmanager_group_pages_escalates_is_acknowledged_by_link_and_resolves() {
    let cloud = Cloud::new().await;
    let sent = main_scenario(&cloud, 1, 0).await;
    let (emails, sms) = comparable(&sent);
    assert!(emails.iter().all(|(to, _)| to == "alice@example.com"));
    assert_eq!(sms.len(), 3);
}

#[tokio::test]
async fn every_message_and_timer_delivered_twice_in_shuffled_order_sends_the_same_pages() {
    let once = Cloud::new().await;
    let expected = comparable(&main_scenario(&once, 1, 0).await);
    for seed in [7, 1234] {
        let twice = Cloud::new().await;
        let sent = comparable(&main_scenario(&twice, 2, seed).await);
        assert_eq!(
            sent, expected,
            "seed {seed}: the same emails and SMS, none extra"
        );
    }
}

#[tokio::test]
async fn pagerduty_trigger_acknowledge_and_resolve_by_dedup_key() {
    let cloud = Cloud::new().await;
    let key = cloud.key("pd").to_owned();
    let event = |name: &str| {
        let mut body: Value = serde_json::from_str(&text(&format!("ingest/{name}"))).unwrap();
        body["routing_key"] = json!(key);
        with_body(
            with_key("ingest-pagerduty-enqueue.json", &key),
            &body.to_string(),
        )
    };
    let (code, body) = ingest(&cloud, with_key("ingest-pagerduty-enqueue.json", &key)).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        body,
        json!({"status": "success", "message": "Event processed", "dedup_key": "db-primary/replication-lag"})
    );
    cloud.pump().await;
    assert_eq!(cloud.sent().await.emails.len(), 1, "alice paged");
    let timer = only_schedule(&cloud).await;

    let (code, _) = ingest(&cloud, event("pagerduty-acknowledge.json")).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
    assert!(
        cloud.schedule(&timer).await.is_none(),
        "acknowledging deletes the escalation schedule"
    );
    assert_eq!(cloud.sent().await.emails.len(), 2, "alice is told");

    let (code, _) = ingest(&cloud, event("pagerduty-resolve.json")).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Resolved);
    let sent = cloud.sent().await;
    assert_eq!(sent.emails.len(), 3, "{sent:?}");
    assert!(sent.sms.is_empty(), "bob was never paged");
}

#[tokio::test]
async fn opsgenie_create_acknowledge_and_close_by_alias() {
    let cloud = Cloud::new().await;
    let key = cloud.key("og").to_owned();
    let (code, body) = ingest(&cloud, with_key("ingest-opsgenie-create.json", &key)).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["result"], "Request will be processed");
    cloud.pump().await;
    assert_eq!(cloud.sent().await.emails.len(), 1);
    assert_eq!(status(&cloud).await, IncidentStatus::Triggered);

    let (code, _) = ingest(&cloud, with_key("ingest-opsgenie-acknowledge.json", &key)).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
    assert!(cloud.schedule_names().await.is_empty());

    let (code, _) = ingest(&cloud, with_key("ingest-opsgenie-close.json", &key)).await;
    assert_eq!(code, 202);
    cloud.pump().await;
    assert_eq!(status(&cloud).await, IncidentStatus::Resolved);
    assert_eq!(
        cloud.sent().await.emails.len(),
        3,
        "page, ack and resolve notices"
    );
}

#[tokio::test]
async fn cloudwatch_alarms_arrive_over_signed_https_and_as_lambda_sns_events() {
    let cloud = Cloud::new().await;
    let key = cloud.key("cw").to_owned();
    let signed = sign_sns(&text("ingest/cloudwatch-sns-notification.json"));
    let (code, body) = ingest(
        &cloud,
        with_body(with_key("ingest-sns-https.json", &key), &signed),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert!(
        cloud
            .http
            .visited
            .lock()
            .unwrap()
            .iter()
            .all(|url| url.starts_with("https://sns.")),
        "only SNS certificate URLs are fetched"
    );

    let confirmation = sign_sns(&text("ingest/sns-subscription-confirmation.json"));
    let (code, body) = ingest(
        &cloud,
        with_body(with_key("ingest-sns-https.json", &key), &confirmation),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(
        cloud
            .http
            .visited
            .lock()
            .unwrap()
            .iter()
            .any(|url| url.contains("Action=ConfirmSubscription")),
        "the subscription was confirmed"
    );

    let event: Value = serde_json::from_str(&text("ingest/sns-lambda-event.json")).unwrap();
    let answer = cloud.ingest.handle(event).await.unwrap();
    assert_eq!(answer["summary"]["new"], 1);
    cloud.pump().await;
    assert_eq!(
        cloud.incidents().await.len(),
        2,
        "two alarms, two incidents"
    );
    assert_eq!(cloud.sent().await.emails.len(), 2);
}

#[tokio::test]
async fn the_api_lists_the_incident_and_who_is_on_call() {
    let cloud = Cloud::new().await;
    ingest(
        &cloud,
        with_key("ingest-native-alert.json", cloud.key("native")),
    )
    .await;
    cloud.pump().await;
    let id = cloud.only_incident().await.incident.id().to_string();
    let replacements = [
        ("klx_EXAMPLE_API_KEY", cloud.api_key.as_str()),
        ("0192f3a1b2c37d4e8f90a1b2c3d4e5f6", id.as_str()),
    ];
    let (code, body) = api(&cloud, request("api-list-incidents.json", &replacements)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["incidents"][0]["id"], id.as_str(), "{body}");
    let (code, body) = api(&cloud, request("api-get-incident.json", &replacements)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["incident"]["status"], "triggered", "{body}");
    let (code, body) = api(&cloud, request("api-oncall.json", &replacements)).await;
    assert_eq!(code, 200, "{body}");
    assert!(body.to_string().contains("alice"), "{body}");
    let (code, _) = api(&cloud, request("api-list-incidents.json", &[])).await;
    assert_eq!(code, 401, "the sample's placeholder key is not a key");
}
