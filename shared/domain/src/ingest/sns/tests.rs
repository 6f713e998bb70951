use super::*;
use crate::ingest::IngestErrorKind;
use crate::ingest::test_support::error_fields;
use serde_json::json;

const NOTIFICATION: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/cloudwatch-sns-notification.json"
));
const OK: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/cloudwatch-sns-ok.json"
));
const SUBSCRIBE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/sns-subscription-confirmation.json"
));
const UNSUBSCRIBE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/sns-unsubscribe-confirmation.json"
));
const LAMBDA: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../events/ingest/sns-lambda-event.json"
));

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap()
}

fn https(value: &Value) -> Result<SnsEnvelope, IngestError> {
    parse_https(value.to_string().as_bytes())
}

#[test]
fn notification_with_subject_signs_fields_in_aws_order() {
    let body = json_of(NOTIFICATION);
    let envelope = parse_https(NOTIFICATION.as_bytes()).unwrap();
    assert_eq!(envelope.message_type(), SnsMessageType::Notification);
    let expected = format!(
        "Message\n{}\nMessageId\n{}\nSubject\n{}\nTimestamp\n{}\nTopicArn\n{}\nType\nNotification\n",
        field(&body, "Message"),
        field(&body, "MessageId"),
        field(&body, "Subject"),
        field(&body, "Timestamp"),
        field(&body, "TopicArn"),
    );
    assert_eq!(envelope.string_to_sign(), expected);
    let signature = envelope.signature().unwrap();
    assert_eq!(signature.version(), "1");
    assert_eq!(signature.algorithm(), SignatureAlgorithm::Sha1WithRsa);
    assert_eq!(signature.algorithm().name(), "SHA1withRSA");
    assert_eq!(signature.bytes().len(), 256);
    assert_eq!(signature.signing_cert_url(), field(&body, "SigningCertURL"));
    assert_eq!(
        envelope.unsubscribe_url(),
        Some(field(&body, "UnsubscribeURL"))
    );
    assert_eq!(envelope.subscribe_url(), None);
}

#[test]
fn notification_without_subject_leaves_it_out() {
    let mut body = json_of(NOTIFICATION);
    body.as_object_mut().unwrap().remove("Subject");
    let envelope = https(&body).unwrap();
    assert_eq!(envelope.subject(), None);
    let expected = format!(
        "Message\n{}\nMessageId\n{}\nTimestamp\n{}\nTopicArn\n{}\nType\nNotification\n",
        field(&body, "Message"),
        field(&body, "MessageId"),
        field(&body, "Timestamp"),
        field(&body, "TopicArn"),
    );
    assert_eq!(envelope.string_to_sign(), expected);
}

#[test]
fn version_two_signs_the_same_string_with_sha256() {
    let body = json_of(OK);
    let envelope = parse_https(OK.as_bytes()).unwrap();
    let signature = envelope.signature().unwrap();
    assert_eq!(signature.version(), "2");
    assert_eq!(signature.algorithm(), SignatureAlgorithm::Sha256WithRsa);
    assert_eq!(signature.algorithm().name(), "SHA256withRSA");
    let expected = format!(
        "Message\n{}\nMessageId\n{}\nSubject\n{}\nTimestamp\n{}\nTopicArn\n{}\nType\nNotification\n",
        field(&body, "Message"),
        field(&body, "MessageId"),
        field(&body, "Subject"),
        field(&body, "Timestamp"),
        field(&body, "TopicArn"),
    );
    assert_eq!(envelope.string_to_sign(), expected);

    let mut as_v1 = body.clone();
    as_v1["SignatureVersion"] = json!("1");
    let v1 = https(&as_v1).unwrap();
    assert_eq!(v1.string_to_sign(), envelope.string_to_sign());
    assert_eq!(
        v1.signature().unwrap().algorithm(),
        SignatureAlgorithm::Sha1WithRsa
    );
}

#[test]
fn subscription_confirmation_signs_url_and_token() {
    let body = json_of(SUBSCRIBE);
    let envelope = parse_https(SUBSCRIBE.as_bytes()).unwrap();
    assert_eq!(
        envelope.message_type(),
        SnsMessageType::SubscriptionConfirmation
    );
    assert_eq!(envelope.subscribe_url(), Some(field(&body, "SubscribeURL")));
    assert_eq!(envelope.token(), Some(field(&body, "Token")));
    let expected = format!(
        "Message\n{}\nMessageId\n{}\nSubscribeURL\n{}\nTimestamp\n{}\nToken\n{}\nTopicArn\n{}\nType\nSubscriptionConfirmation\n",
        field(&body, "Message"),
        field(&body, "MessageId"),
        field(&body, "SubscribeURL"),
        field(&body, "Timestamp"),
        field(&body, "Token"),
        field(&body, "TopicArn"),
    );
    assert_eq!(envelope.string_to_sign(), expected);
    assert_eq!(
        envelope.signature().unwrap().algorithm(),
        SignatureAlgorithm::Sha1WithRsa
    );
}

#[test]
fn unsubscribe_confirmation_signs_url_and_token_with_v2() {
    let body = json_of(UNSUBSCRIBE);
    let envelope = parse_https(UNSUBSCRIBE.as_bytes()).unwrap();
    assert_eq!(
        envelope.message_type(),
        SnsMessageType::UnsubscribeConfirmation
    );
    let expected = format!(
        "Message\n{}\nMessageId\n{}\nSubscribeURL\n{}\nTimestamp\n{}\nToken\n{}\nTopicArn\n{}\nType\nUnsubscribeConfirmation\n",
        field(&body, "Message"),
        field(&body, "MessageId"),
        field(&body, "SubscribeURL"),
        field(&body, "Timestamp"),
        field(&body, "Token"),
        field(&body, "TopicArn"),
    );
    assert_eq!(envelope.string_to_sign(), expected);
    assert_eq!(
        envelope.signature().unwrap().algorithm(),
        SignatureAlgorithm::Sha256WithRsa
    );
}

#[test]
fn lambda_event_uses_its_own_casing() {
    let body = json_of(LAMBDA);
    let envelopes = parse_lambda_event(LAMBDA.as_bytes()).unwrap();
    assert_eq!(envelopes.len(), 1);
    let envelope = &envelopes[0];
    let sns = &body["Records"][0]["Sns"];
    assert_eq!(envelope.message_type(), SnsMessageType::Notification);
    assert_eq!(envelope.topic_arn(), field(sns, "TopicArn"));
    assert_eq!(
        envelope.signature().unwrap().signing_cert_url(),
        field(sns, "SigningCertUrl")
    );
    assert_eq!(
        envelope.unsubscribe_url(),
        Some(field(sns, "UnsubscribeUrl"))
    );
    assert_eq!(envelope.subject(), Some(field(sns, "Subject")));
    assert_eq!(envelope.field_path("Message"), "Records[0].Sns.Message");
    assert_eq!(
        parse_lambda_event_value(&body).unwrap(),
        envelopes,
        "bytes and decoded values parse alike"
    );
}

#[test]
fn lambda_event_without_signature_or_subject_is_accepted() {
    let mut body = json_of(LAMBDA);
    let sns = body["Records"][0]["Sns"].as_object_mut().unwrap();
    for name in ["SignatureVersion", "Signature", "SigningCertUrl"] {
        sns.remove(name);
    }
    sns.insert("Subject".into(), Value::Null);
    sns.insert(
        "MessageAttributes".into(),
        json!({"team": {"Type": "String", "Value": "payments"}}),
    );
    let envelope = parse_lambda_event_value(&body).unwrap().remove(0);
    assert_eq!(envelope.signature(), None);
    assert_eq!(envelope.subject(), None);
    assert!(!envelope.string_to_sign().contains("Subject\n"));
    assert_eq!(
        envelope.message_attributes()["team"],
        SnsMessageAttribute {
            data_type: "String".into(),
            value: "payments".into()
        }
    );
}

/// Asserts that `fixture` without `name` is rejected naming exactly `name`.
fn assert_missing_is_named(fixture: &str, name: &str) {
    let mut body = json_of(fixture);
    body.as_object_mut().unwrap().remove(name);
    let error = https(&body).unwrap_err();
    assert_eq!(error_fields(&error), [name], "removing {name}");
    assert_eq!(error.errors[0].message, "is required");
}

macro_rules! missing_field_tests {
        ($($test:ident: $fixture:ident without $name:literal;)*) => {$(
            #[test]
            fn $test() {
                assert_missing_is_named($fixture, $name);
            }
        )*};
    }

missing_field_tests! {
    missing_type_is_named: NOTIFICATION without "Type";
    missing_message_id_is_named: NOTIFICATION without "MessageId";
    missing_topic_arn_is_named: NOTIFICATION without "TopicArn";
    missing_message_is_named: NOTIFICATION without "Message";
    missing_timestamp_is_named: NOTIFICATION without "Timestamp";
    missing_signature_version_is_named: NOTIFICATION without "SignatureVersion";
    missing_signature_is_named: NOTIFICATION without "Signature";
    missing_signing_cert_url_is_named: NOTIFICATION without "SigningCertURL";
    missing_subscribe_url_is_named: SUBSCRIBE without "SubscribeURL";
    missing_token_is_named: SUBSCRIBE without "Token";
    missing_unsubscribe_token_is_named: UNSUBSCRIBE without "Token";
}

#[test]
fn bad_values_are_named() {
    let mut body = json_of(NOTIFICATION);
    body["Type"] = json!("Notice");
    body["SignatureVersion"] = json!("3");
    body["Signature"] = json!("not base64!!");
    body["Subject"] = json!(7);
    let error = https(&body).unwrap_err();
    assert_eq!(
        error_fields(&error),
        ["Type", "Subject", "SignatureVersion", "Signature"]
    );
}

#[test]
fn lambda_records_are_validated_with_paths() {
    let error = parse_lambda_event(br#"{"Records":[{"EventSource":"aws:sqs"}]}"#).unwrap_err();
    assert_eq!(
        error_fields(&error),
        ["Records[0].EventSource", "Records[0].Sns"]
    );
    let mut body = json_of(LAMBDA);
    body["Records"][0]["Sns"]
        .as_object_mut()
        .unwrap()
        .remove("MessageId");
    let error = parse_lambda_event_value(&body).unwrap_err();
    assert_eq!(error_fields(&error), ["Records[0].Sns.MessageId"]);
    let error = parse_lambda_event(br#"{"Records":[]}"#).unwrap_err();
    assert_eq!(error_fields(&error), ["Records"]);
    let error = parse_lambda_event(br#"{}"#).unwrap_err();
    assert_eq!(error_fields(&error), ["Records"]);
}

#[test]
fn empty_not_json_and_oversized_bodies_are_rejected_by_kind() {
    assert_eq!(
        parse_https(b"").unwrap_err().kind,
        IngestErrorKind::EmptyBody
    );
    assert_eq!(
        parse_https(b"Action=Publish").unwrap_err().kind,
        IngestErrorKind::NotJson
    );
    let huge = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(
        parse_https(&huge).unwrap_err().kind,
        IngestErrorKind::TooLarge
    );
    assert_eq!(
        parse_lambda_event(&huge).unwrap_err().kind,
        IngestErrorKind::TooLarge
    );
}
