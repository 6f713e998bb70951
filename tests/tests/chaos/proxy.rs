//! The fault proxy itself: each kind of fault reaches the real SDK clients in the shape the
//! service gives it, and the faults that apply the request really did.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use klaxon_tests::faults::{FaultKind, FaultPlan, FaultProxy, FaultRule};
use klaxon_tests::{TEST_REGION, aws_config, unique_name};
use std::time::Duration;

/// SDK configuration for the proxy without the SDK's retries, so each fault is seen as is.
async fn bare(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(TEST_REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "proxy"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(1))
                .build(),
        )
        .load()
        .await
}

fn only(service: &str, operation: &str, kind: FaultKind) -> FaultPlan {
    FaultPlan {
        seed: 1,
        delay_seconds: 2.0,
        slow_seconds: None,
        rules: vec![FaultRule::new(service, operation, 1.0, &[kind])],
    }
}

async fn visible(sqs: &aws_sdk_sqs::Client, url: &str) -> usize {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    attributes
        .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn each_fault_reaches_the_sdk_in_the_services_own_shape_and_applied_ones_are_applied() {
    let proxy = FaultProxy::start().await;
    let through = bare(proxy.endpoint()).await;
    let direct_sqs = aws_sdk_sqs::Client::new(&aws_config().await);
    let sqs = aws_sdk_sqs::Client::new(&through);
    let sns = aws_sdk_sns::Client::new(&through);
    let dynamodb = aws_sdk_dynamodb::Client::new(&through);
    let scheduler = aws_sdk_scheduler::Client::new(&through);
    let url = direct_sqs
        .create_queue()
        .queue_name(unique_name("proxy"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    // Errors in each service's shape, with its own codes: nothing applied.
    let cases = [
        (
            "sqs",
            "SendMessage",
            FaultKind::Throttle,
            "RequestThrottled",
        ),
        (
            "sqs",
            "SendMessage",
            FaultKind::Http503,
            "ServiceUnavailable",
        ),
        ("sns", "Publish", FaultKind::Throttle, "Throttling"),
        ("sns", "Publish", FaultKind::Http500, "InternalFailure"),
        (
            "dynamodb",
            "ListTables",
            FaultKind::Provisioned,
            "ProvisionedThroughputExceededException",
        ),
        (
            "dynamodb",
            "ListTables",
            FaultKind::Throttle,
            "ThrottlingException",
        ),
        (
            "dynamodb",
            "ListTables",
            FaultKind::Http500,
            "InternalServerError",
        ),
        (
            "scheduler",
            "GetSchedule",
            FaultKind::Throttle,
            "ThrottlingException",
        ),
    ];
    for (service, operation, kind, code) in cases {
        proxy.set_plan(&only(service, operation, kind)).await;
        let seen = match service {
            "sqs" => sqs
                .send_message()
                .queue_url(&url)
                .message_body("x")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.code().map(str::to_owned))
                .unwrap_err(),
            "sns" => sns
                .publish()
                .phone_number("+15550001111")
                .message("x")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.code().map(str::to_owned))
                .unwrap_err(),
            "dynamodb" => dynamodb
                .list_tables()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.code().map(str::to_owned))
                .unwrap_err(),
            _ => scheduler
                .get_schedule()
                .name("none")
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.code().map(str::to_owned))
                .unwrap_err(),
        };
        assert_eq!(
            seen.as_deref(),
            Some(code),
            "{service}:{operation} {kind:?}"
        );
        assert_eq!(
            proxy
                .stats()
                .await
                .count(&format!("{service}:{operation}"), kind),
            1
        );
    }
    assert_eq!(
        visible(&direct_sqs, &url).await,
        0,
        "refused sends were not applied"
    );

    // A reset before the request: not applied. A reset after it, or an answer held past the
    // client's timeout: the caller sees a failure, the message is there.
    for (kind, applied) in [
        (FaultKind::ResetBefore, 0),
        (FaultKind::ResetAfter, 1),
        (FaultKind::Delay, 2),
    ] {
        proxy.set_plan(&only("sqs", "SendMessage", kind)).await;
        let result = sqs
            .send_message()
            .queue_url(&url)
            .message_body("x")
            .send()
            .await;
        assert!(result.is_err(), "{kind:?}: the caller sees a failure");
        assert_eq!(visible(&direct_sqs, &url).await, applied, "{kind:?}");
    }

    // A transaction conflict names one item TransactionConflict.
    proxy
        .set_plan(&only("dynamodb", "TransactWriteItems", FaultKind::Conflict))
        .await;
    let put = |pk: &str| {
        aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(
                aws_sdk_dynamodb::types::Put::builder()
                    .table_name("none")
                    .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let error = dynamodb
        .transact_write_items()
        .transact_items(put("a"))
        .transact_items(put("b"))
        .send()
        .await
        .unwrap_err();
    let service = error.into_service_error();
    let reasons = match &service {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => e.cancellation_reasons().to_vec(),
        other => panic!("not a cancellation: {other:?}"),
    };
    let codes: Vec<_> = reasons.iter().filter_map(|r| r.code()).collect();
    assert_eq!(codes.len(), 2);
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == "TransactionConflict")
            .count(),
        1
    );

    // Healed, everything is forwarded again; the plan's limit stops a rule.
    proxy.heal(None).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap();
    proxy
        .set_plan(&FaultPlan {
            seed: 2,
            delay_seconds: 1.0,
            slow_seconds: None,
            rules: vec![FaultRule::new("sqs", "*", 1.0, &[FaultKind::Http500]).limit(1)],
        })
        .await;
    assert!(
        sqs.send_message()
            .queue_url(&url)
            .message_body("x")
            .send()
            .await
            .is_err()
    );
    sqs.send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap();
    let stats = proxy.stats().await;
    assert_eq!(stats.faults(), 1);
    assert_eq!(stats.requests["sqs:SendMessage"], 2);
}

/// The proxy lists every email or SMS send that moto applied but whose caller missed the
/// answer, with its recipient and text: an answer held back (or cut) by a fault, and an
/// unfaulted answer slower than the plan's `slow_seconds`. Other calls and answered sends are
/// not listed.
#[tokio::test]
async fn sends_applied_but_unanswered_are_listed_with_their_recipient_and_text() {
    let proxy = FaultProxy::start().await;
    let sns = aws_sdk_sns::Client::new(&bare(proxy.endpoint()).await);
    let publish = |text: &'static str| {
        sns.publish()
            .phone_number("+15550002222")
            .message(text)
            .send()
    };
    proxy
        .set_plan(&FaultPlan {
            slow_seconds: Some(30.0),
            ..only("sns", "Publish", FaultKind::Delay)
        })
        .await;
    assert!(publish("held back").await.is_err(), "the client gave up");
    // Listed when moto's answer reaches the proxy, which may be after the client gave up.
    let mut held = Vec::new();
    for _ in 0..100 {
        held = proxy.stats().await.unanswered;
        if !held.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        (
            held[0].kind.as_str(),
            held[0].to.as_str(),
            held[0].text.as_str()
        ),
        ("delay", "+15550002222", "held back")
    );
    proxy
        .set_plan(&FaultPlan {
            slow_seconds: Some(30.0),
            ..FaultPlan::default()
        })
        .await;
    publish("answered in time").await.unwrap();
    assert!(proxy.stats().await.unanswered.is_empty());
    // Every answer counts as slow at 0 seconds: the send is listed, a read is not.
    proxy
        .set_plan(&FaultPlan {
            slow_seconds: Some(0.0),
            ..FaultPlan::default()
        })
        .await;
    publish("answered late").await.unwrap();
    sns.list_topics().send().await.unwrap();
    let listed: Vec<(String, String, String, String)> = proxy
        .stats()
        .await
        .unanswered
        .into_iter()
        .map(|send| (send.call, send.kind, send.to, send.text))
        .collect();
    assert_eq!(
        listed,
        [(
            "sns:Publish".to_owned(),
            "slow".to_owned(),
            "+15550002222".to_owned(),
            "answered late".to_owned()
        )]
    );
}
