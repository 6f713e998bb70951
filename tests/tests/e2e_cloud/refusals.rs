//! Refusals: bad keys, signatures, bodies and links change nothing.

use super::*;

/// Asserts that nothing was stored or queued by refused ingest requests.
async fn assert_nothing_stored(cloud: &Cloud, what: &str) {
    assert_eq!(
        cloud.visible(QueueName::Alerts).await,
        0,
        "{what}: nothing queued"
    );
    assert!(cloud.incidents().await.is_empty(), "{what}: no incident");
    assert_eq!(
        cloud.items_with_pk_prefix("ALERT#").await,
        0,
        "{what}: no alert record"
    );
}

#[tokio::test]
async fn bad_keys_and_bad_signatures_at_ingest_get_4xx_and_store_nothing() {
    let cloud = Cloud::new().await;
    let routes = [
        ("ingest-native-alert.json", "native", "Bearer"),
        ("ingest-alertmanager.json", "am", "Bearer"),
        ("ingest-grafana.json", "grafana", "Bearer"),
        ("ingest-opsgenie-create.json", "og", "GenieKey"),
        ("ingest-opsgenie-acknowledge.json", "og", "GenieKey"),
        ("ingest-opsgenie-close.json", "og", "GenieKey"),
    ];
    for (file, integration, scheme) in routes {
        let good = with_key(file, cloud.key(integration));
        let mut missing = good.clone();
        missing["headers"]
            .as_object_mut()
            .unwrap()
            .remove("authorization");
        let (code, body) = ingest(&cloud, missing).await;
        assert_eq!(code, 401, "{file} without a key: {body}");
        let (code, _) = ingest(&cloud, with_key(file, "klx_not-a-key")).await;
        assert_eq!(code, 401, "{file} with a wrong key");
        let (code, body) = ingest(&cloud, with_key(file, cloud.key("pd"))).await;
        assert_eq!(code, 403, "{file} with another integration's key: {body}");
        let mut api_key = good.clone();
        api_key["headers"]["authorization"] = json!(format!("{scheme} {}", cloud.api_key));
        let (code, _) = ingest(&cloud, api_key).await;
        assert_eq!(code, 403, "{file} with an API key");
    }
    // PagerDuty: the routing key in the body.
    let (code, body) = ingest(
        &cloud,
        with_key("ingest-pagerduty-enqueue.json", "klx_wrong"),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["errors"], json!(["Invalid routing key"]));
    // SNS over HTTPS: a wrong key in the path; an unsigned, a tampered and a foreign-signed
    // message with the right key.
    let (code, _) = ingest(&cloud, with_key("ingest-sns-https.json", "klx_wrong")).await;
    assert_eq!(code, 401);
    let key = cloud.key("cw").to_owned();
    let (code, body) = ingest(&cloud, with_key("ingest-sns-https.json", &key)).await;
    assert_eq!(code, 401, "unsigned sample: {body}");
    let mut tampered: Value =
        serde_json::from_str(&sign_sns(&text("ingest/cloudwatch-sns-notification.json"))).unwrap();
    tampered["Message"] = json!(tampered["Message"].as_str().unwrap().replace("ALARM", "OK"));
    let (code, body) = ingest(
        &cloud,
        with_body(
            with_key("ingest-sns-https.json", &key),
            &tampered.to_string(),
        ),
    )
    .await;
    assert_eq!(code, 401, "tampered: {body}");
    let mut elsewhere: Value =
        serde_json::from_str(&sign_sns(&text("ingest/cloudwatch-sns-notification.json"))).unwrap();
    elsewhere["SigningCertURL"] = json!("https://attacker.example.com/cert.pem");
    let (code, _) = ingest(
        &cloud,
        with_body(
            with_key("ingest-sns-https.json", &key),
            &elsewhere.to_string(),
        ),
    )
    .await;
    assert!((400..500).contains(&code), "certificate off SNS: {code}");
    // A Lambda SNS event from a topic no integration lists.
    let mut foreign: Value = serde_json::from_str(&text("ingest/sns-lambda-event.json")).unwrap();
    foreign["Records"][0]["Sns"]["TopicArn"] = json!("arn:aws:sns:eu-west-1:123456789012:other");
    assert!(cloud.ingest.handle(foreign).await.is_err());

    assert_nothing_stored(&cloud, "bad credentials").await;
}

#[tokio::test]
async fn malformed_bodies_in_every_format_get_4xx_with_a_reason_and_store_nothing() {
    let cloud = Cloud::new().await;
    let routes = [
        ("ingest-native-alert.json", "native"),
        ("ingest-alertmanager.json", "am"),
        ("ingest-grafana.json", "grafana"),
        ("ingest-pagerduty-enqueue.json", "pd"),
        ("ingest-opsgenie-create.json", "og"),
        ("ingest-opsgenie-acknowledge.json", "og"),
        ("ingest-opsgenie-close.json", "og"),
        ("ingest-sns-https.json", "cw"),
    ];
    let bodies = [
        "",
        "not json",
        "[]",
        "{\"unexpected\": true}",
        "{\"summary\": 5}",
    ];
    for (file, integration) in routes {
        for bad in bodies {
            // Opsgenie's acknowledge and close bodies are optional and so are all their
            // fields: only a body that is not a JSON object is malformed there.
            let action = matches!(
                file,
                "ingest-opsgenie-acknowledge.json" | "ingest-opsgenie-close.json"
            );
            if action && !matches!(bad, "not json" | "[]") {
                continue;
            }
            let (code, body) = ingest(
                &cloud,
                with_body(with_key(file, cloud.key(integration)), bad),
            )
            .await;
            assert!((400..500).contains(&code), "{file} {bad:?}: {code} {body}");
            let reason = [
                &body["error"]["message"],
                &body["message"],
                &body["errors"][0],
            ]
            .into_iter()
            .find_map(|v| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned));
            assert!(
                reason.is_some(),
                "{file} {bad:?}: a reason is given: {body}"
            );
        }
        // Too large for any sender.
        let huge = format!("{{\"summary\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let (code, _) = ingest(
            &cloud,
            with_body(with_key(file, cloud.key(integration)), &huge),
        )
        .await;
        assert_eq!(code, 413, "{file}");
    }
    // A native alert missing its summary names the field.
    let (code, body) = ingest(
        &cloud,
        with_body(
            with_key("ingest-native-alert.json", cloud.key("native")),
            "{\"dedup_key\": \"x\", \"severity\": \"critical\"}",
        ),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(body["error"]["field"], "summary", "{body}");
    assert_nothing_stored(&cloud, "malformed bodies").await;
}

#[tokio::test]
async fn tampered_and_expired_links_and_bad_slack_signatures_change_nothing() {
    let cloud = Cloud::new().await;
    ingest(
        &cloud,
        with_key("ingest-alertmanager.json", cloud.key("am")),
    )
    .await;
    cloud.pump().await;
    let incident = cloud.only_incident().await.incident.id().to_string();
    let schedule = only_schedule(&cloud).await;
    let (_, _, html) = cloud.sent().await.emails.remove(0);
    let query = link_query(&html, PUBLIC_BASE_URL, "ack");

    let unchanged = |what: &'static str| {
        let cloud = &cloud;
        let schedule = &schedule;
        async move {
            assert_eq!(status(cloud).await, IncidentStatus::Triggered, "{what}");
            assert!(cloud.schedule(schedule).await.is_some(), "{what}");
            assert_eq!(
                cloud.visible(QueueName::Notifications).await,
                0,
                "{what}: no notice queued"
            );
        }
    };

    // An altered link: another action, another user, a forged signature.
    for (from, to) in [("a=ack", "a=resolve"), ("u=alice", "u=bob")] {
        let altered = query.replace(from, to);
        assert_ne!(altered, query);
        let (code, _) = ack(&cloud, link_request("ack-link-post.json", &altered)).await;
        assert_eq!(code, 403, "{from} → {to}");
    }
    let forged = format!("{}AAAA", query);
    let (code, _) = ack(&cloud, link_request("ack-link-post.json", &forged)).await;
    assert!((400..500).contains(&code), "forged signature: {code}");
    unchanged("altered links").await;

    // The API without a key, and the sample's own (unsigned) Slack request.
    let (code, _) = ack(
        &cloud,
        request(
            "ack-incident-acknowledge.json",
            &[("0192f3a1b2c37d4e8f90a1b2c3d4e5f6", &incident)],
        ),
    )
    .await;
    assert_eq!(code, 401);
    let (code, _) = ack(&cloud, request("ack-slack-actions.json", &[])).await;
    assert_eq!(code, 401, "the sample's signature is a placeholder");
    let now = cloud.clock.now().timestamp();
    let (code, _) = ack(
        &cloud,
        slack_request(&incident, now, "not-the-slack-signing-secret"),
    )
    .await;
    assert_eq!(code, 401, "signed with another secret");
    let (code, _) = ack(&cloud, slack_request(&incident, now - 3600, SLACK_SECRET)).await;
    assert_eq!(code, 401, "a replayed request an hour old");
    unchanged("refused API and Slack requests").await;

    // The link expires after the configuration's ack_link_lifetime (12h).
    cloud.clock.advance(TimeDelta::hours(13));
    let (code, page) = ack(&cloud, link_request("ack-link-post.json", &query)).await;
    assert_eq!(code, 410, "{page}");
    unchanged("expired link").await;

    // A correctly signed Slack button press does acknowledge.
    let now = cloud.clock.now().timestamp();
    let (code, body) = ack(&cloud, slack_request(&incident, now, SLACK_SECRET)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
    assert!(cloud.schedule(&schedule).await.is_none());
}

/// Rotating the deployed link secret (as `klaxon keys rotate-link-secret --secret-id` does: read
/// the secret, rotate, store a new version) keeps links already sent working while their key is
/// retired, and refuses them once the retired key's end has passed, even before they expire.
#[tokio::test]
async fn a_link_sent_before_a_rotation_still_acknowledges_and_a_retired_key_fails_after_its_end() {
    let cloud = Cloud::new().await;
    ingest(
        &cloud,
        with_key("ingest-alertmanager.json", cloud.key("am")),
    )
    .await;
    cloud.pump().await;
    let (_, _, html) = cloud.sent().await.emails.remove(0);
    let ack_query = link_query(&html, PUBLIC_BASE_URL, "ack");
    let resolve_query = link_query(&html, PUBLIC_BASE_URL, "resolve");

    let secrets = SecretStore::from_config(&klaxon_tests::aws_config().await);
    let before = LinkKeys::from_json(&secrets.get(&cloud.link_keys_secret).await.unwrap()).unwrap();
    let old_key = before.signer().unwrap().key_id();
    assert!(ack_query.contains(&format!("k={old_key}")), "{ack_query}");
    let (rotated, rotation) = before
        .rotate(generate_secret(), cloud.clock.now(), TimeDelta::hours(1))
        .unwrap();
    secrets
        .put(&cloud.link_keys_secret, &rotated.to_json())
        .await
        .unwrap();
    assert_eq!(rotation.retired, old_key);
    assert_ne!(rotation.current, old_key);

    // Signed with the old key before the rotation: still acknowledges.
    let (code, page) = ack(&cloud, link_request("ack-link-post.json", &ack_query)).await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);

    // Two hours later the old key's retirement has ended; the resolve link (valid for 12h)
    // is refused and changes nothing.
    cloud.clock.advance(TimeDelta::hours(2));
    let (code, page) = ack(&cloud, link_request("ack-link-post.json", &resolve_query)).await;
    assert_eq!(code, 403, "{page}");
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
}

/// The Slack signing secret is re-read like the link keys: a new value stored in Secrets
/// Manager (rotated in the Slack app, or Slack set up after the deploy) reaches the running ack
/// function without a redeploy or a cold start. Requests signed with the replaced secret are
/// refused and change nothing; an emptied secret refuses Slack altogether.
#[tokio::test]
async fn a_rotated_slack_signing_secret_reaches_the_running_ack_function() {
    let cloud = Cloud::new().await;
    ingest(
        &cloud,
        with_key("ingest-alertmanager.json", cloud.key("am")),
    )
    .await;
    cloud.pump().await;
    let incident = cloud.only_incident().await.incident.id().to_string();
    let secrets = SecretStore::from_config(&klaxon_tests::aws_config().await);
    let store = |value: &str| {
        let secrets = &secrets;
        let id = cloud.slack_secret.clone();
        let text = serde_json::json!({ "signing_secret": value }).to_string();
        async move { secrets.put(&id, &text).await.unwrap() }
    };

    store("").await;
    let now = cloud.clock.now().timestamp();
    let (code, body) = ack(&cloud, slack_request(&incident, now, SLACK_SECRET)).await;
    assert_eq!(code, 401, "Slack switched off by an empty secret: {body}");

    const ROTATED: &str = "e2e-rotated-slack-signing-secret-5a9c";
    store(ROTATED).await;
    let (code, body) = ack(&cloud, slack_request(&incident, now, SLACK_SECRET)).await;
    assert_eq!(code, 401, "signed with the replaced secret: {body}");
    assert_eq!(status(&cloud).await, IncidentStatus::Triggered);
    let (code, body) = ack(&cloud, slack_request(&incident, now, ROTATED)).await;
    assert_eq!(code, 200, "signed with the new secret: {body}");
    assert_eq!(status(&cloud).await, IncidentStatus::Acknowledged);
}
