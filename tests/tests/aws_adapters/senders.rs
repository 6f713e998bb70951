//! SesEmail and SnsSms against moto.

use super::*;

fn email(to: &str) -> Email {
    Email {
        to: to.to_owned(),
        subject: "[Klaxon] #42 HighLatency on api (critical)".to_owned(),
        text: "HighLatency on api\nAcknowledge: https://klaxon.example.com/v1/links?t=abc".into(),
        html: "<p>HighLatency on api</p><a href=\"https://klaxon.example.com/v1/links?t=abc\">Acknowledge</a>".into(),
    }
}

#[tokio::test]
async fn ses_sends_from_a_verified_sender_and_moto_keeps_the_message() {
    let client = sesv2_client().await;
    let sender = format!("pager@{}.example.com", unique_name("ses"));
    client
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    let ses = SesEmail::new(client, &sender);
    let to = format!("oncall@{}.example.org", unique_name("dest"));
    let email = email(&to);

    let message_id = ses.send_email(&email).await.unwrap();

    let data = moto_data().await;
    let sent = data["ses"]["Message"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == json!(message_id))
        .unwrap_or_else(|| panic!("message {message_id} not in moto's SES messages"));
    assert_eq!(sent["source"], json!(sender));
    assert_eq!(sent["destinations"]["ToAddresses"], json!([to]));
    assert_eq!(sent["subject"], json!(email.subject));
    // moto keeps only the HTML part of Simple content with both bodies.
    assert_eq!(sent["body"], json!(email.html));
}

#[tokio::test]
async fn ses_rejects_an_unverified_sender_permanently() {
    let sender = format!("pager@{}.example.com", unique_name("unverified"));
    let ses = SesEmail::new(sesv2_client().await, &sender);
    match ses.send_email(&email("oncall@example.org")).await {
        Err(SendError::Permanent(reason)) => {
            assert!(reason.contains("MessageRejected"), "{reason}");
            assert!(reason.contains("oncall@example.org"), "{reason}");
        }
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn sns_publishes_a_transactional_sms_to_the_number() {
    let sns = SnsSms::new(sns_client().await).with_sender_id("Klaxon");
    let nanos = Utc::now().timestamp_subsec_nanos();
    let sms = Sms {
        to: format!("+1555{:07}", nanos % 10_000_000),
        text: "Klaxon #42 critical: HighLatency on api. Ack: https://k.example.com/l/abc".into(),
    };

    let message_id = sns.send_sms(&sms).await.unwrap();

    let data = moto_data().await;
    let sent = data["sns"]["SMS"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["message_id"] == json!(message_id))
        .unwrap_or_else(|| panic!("SMS {message_id} not in moto's SNS data"));
    assert_eq!(sent["phone_number"], json!(sms.to));
    assert_eq!(sent["message"], json!(sms.text));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_transient_failure() {
    let config = unreachable_config().await;
    let sns = SnsSms::new(aws_sdk_sns::Client::new(&config)).with_retry_policy(no_retries());
    let sms = Sms {
        to: "+15555550100".into(),
        text: "x".into(),
    };
    assert!(
        matches!(sns.send_sms(&sms).await, Err(SendError::Transient(_))),
        "SNS"
    );
    let ses = SesEmail::new(aws_sdk_sesv2::Client::new(&config), "pager@example.com")
        .with_retry_policy(no_retries());
    assert!(
        matches!(
            ses.send_email(&email("oncall@example.org")).await,
            Err(SendError::Transient(_))
        ),
        "SES"
    );
}
