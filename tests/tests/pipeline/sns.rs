//! SNS: signed HTTPS notifications, subscription confirmation, Lambda SNS events.

use super::*;

#[tokio::test]
async fn sns_notifications_are_verified_and_subscriptions_confirmed() {
    let p = Pipeline::new().await;
    let path = format!("/v1/integrations/sns/{}", p.key("cw"));
    // Unsigned sample payloads: the signature does not verify, nothing is stored.
    let (status, body) = post(
        p.ingest_router(),
        &path,
        &[],
        event("cloudwatch-sns-notification.json"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(incidents(&p).await.is_empty());
    assert!(p.queue.peek(QueueName::Alerts).is_empty());

    // Properly signed with the test certificate's key.
    let signed = sign_sns(&event("cloudwatch-sns-notification.json"));
    let (status, body) = post(p.ingest_router(), &path, &[], signed.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    p.pump().await;
    assert_eq!(incidents(&p).await.len(), 1);
    assert!(
        p.http
            .visited
            .lock()
            .unwrap()
            .iter()
            .all(|u| u.starts_with("https://sns."))
    );

    // Tampering with the message after signing breaks the signature.
    let mut tampered: Value = serde_json::from_str(&signed).unwrap();
    tampered["Subject"] = json!("ALARM: something else");
    let (status, _) = post(p.ingest_router(), &path, &[], tampered.to_string()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let confirmation = sign_sns(&event("sns-subscription-confirmation.json"));
    let (status, body) = post(p.ingest_router(), &path, &[], confirmation).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        p.http
            .visited
            .lock()
            .unwrap()
            .iter()
            .any(|u| u.contains("Action=ConfirmSubscription")),
        "the subscription was confirmed"
    );
}

/// Signs an SNS envelope with the test key (SignatureVersion 2) and points it at an SNS
/// certificate URL (served by the test fetcher).
fn sign_sns(text: &str) -> String {
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

#[tokio::test]
async fn lambda_sns_events_are_attributed_by_topic() {
    let p = Pipeline::new().await;
    let event: Value = serde_json::from_str(&event("sns-lambda-event.json")).unwrap();
    let summary = p.ingest.sns_lambda_event(&event).await.unwrap();
    assert_eq!(summary.new, 1);
    let QueueMessage::Alert(message) = p.queue.peek(QueueName::Alerts).remove(0) else {
        panic!()
    };
    assert_eq!(message.key.integration.as_str(), "cw");
    assert_eq!(message.action, AlertAction::Fire);
    // A topic no integration lists is refused.
    let mut other = event.clone();
    other["Records"][0]["Sns"]["TopicArn"] = json!("arn:aws:sns:eu-west-1:123456789012:elsewhere");
    assert!(p.ingest.sns_lambda_event(&other).await.is_err());
}
