//! DynamoStore throttling, against a stub DynamoDB endpoint (moto never throttles).

use super::*;

/// How the stub answers a request it fails.
#[derive(Clone)]
struct StubFailure {
    /// The `x-amzn-ErrorType` header, when the error code travels there.
    error_type_header: Option<&'static str>,
    /// The JSON error body.
    body: Value,
}

/// A DynamoDB endpoint that fails the first `failures` requests with `failure` (HTTP 400, as
/// DynamoDB does) and answers `{}` (success) after that. Records every request's
/// `X-Amz-Target`.
#[derive(Clone)]
struct StubDynamo {
    failures: usize,
    failure: StubFailure,
    targets: Arc<Mutex<Vec<String>>>,
}

impl StubDynamo {
    async fn answer(
        axum::extract::State(stub): axum::extract::State<StubDynamo>,
        headers: axum::http::HeaderMap,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let target = headers
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let seen = {
            let mut targets = stub.targets.lock().unwrap();
            targets.push(target);
            targets.len()
        };
        let content_type = ("content-type", "application/x-amz-json-1.0");
        if seen > stub.failures {
            return ([content_type], "{}").into_response();
        }
        let mut response = (
            axum::http::StatusCode::BAD_REQUEST,
            [content_type],
            stub.failure.body.to_string(),
        )
            .into_response();
        if let Some(code) = stub.failure.error_type_header {
            response
                .headers_mut()
                .insert("x-amzn-errortype", code.parse().unwrap());
        }
        response
    }

    /// Serves the stub on a free loopback port; returns a store on it whose SDK client does
    /// not retry (so every attempt the stub sees is one of the adapter's), and the stub.
    async fn start(
        failures: usize,
        failure: StubFailure,
    ) -> (klaxon_aws::dynamo::DynamoStore, Self) {
        let stub = StubDynamo {
            failures,
            failure,
            targets: Arc::default(),
        };
        let router = axum::Router::new()
            .fallback(StubDynamo::answer)
            .with_state(stub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .endpoint_url(format!("http://{address}"))
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "test", "test", None, None, "stub",
            ))
            .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
            .build();
        let store = klaxon_aws::dynamo::DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            "klaxon-stub",
            Arc::new(ManualClock::new(test_start())),
        )
        .with_retry_policy(RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        });
        (store, stub)
    }

    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn provisioned_throughput_exceeded() -> StubFailure {
    StubFailure {
        error_type_header: None,
        body: json!({
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded."
        }),
    }
}

fn throttling_exception() -> StubFailure {
    StubFailure {
        error_type_header: Some("ThrottlingException"),
        body: json!({"message": "Rate of requests exceeds the allowed throughput."}),
    }
}

/// A `TransactionCanceledException` with one reason code per operation.
fn transaction_cancelled(codes: &[&str]) -> StubFailure {
    let reasons: Vec<Value> = codes.iter().map(|code| json!({"Code": code})).collect();
    StubFailure {
        error_type_header: None,
        body: json!({
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "Message": format!("Transaction cancelled, please refer cancellation reasons for specific reasons {codes:?}"),
            "CancellationReasons": reasons,
        }),
    }
}

/// A put that must not overwrite and a check that another item exists.
fn two_ops() -> Vec<klaxon_store::TransactOp> {
    use klaxon_store::{Condition, Key, TransactOp};
    vec![
        TransactOp::Put {
            item: Key::new("ALERT#x", "OCCURRENCE").to_item(),
            condition: Some(Condition::NotExists),
        },
        TransactOp::ConditionCheck {
            key: Key::new("GROUP#g", "POINTER"),
            condition: Condition::Exists,
        },
    ]
}

fn many(target: &str, times: usize) -> Vec<String> {
    vec![format!("DynamoDB_20120810.{target}"); times]
}

#[tokio::test]
async fn a_throttled_write_is_retried_by_the_adapter_until_it_succeeds() {
    use klaxon_store::{Key, ReturnValues, Store, UpdateAction};
    let (store, stub) = StubDynamo::start(2, provisioned_throughput_exceeded()).await;
    let result = store
        .update(
            &Key::new("COUNTER", "INCIDENT_NUMBER"),
            vec![UpdateAction::add("value", 1)],
            None,
            ReturnValues::None,
        )
        .await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(stub.targets(), many("UpdateItem", 3));
}

#[tokio::test]
async fn a_write_throttled_through_every_retry_is_a_transient_throttled_error() {
    use klaxon_store::{Key, Store, StoreError};
    let (store, stub) = StubDynamo::start(usize::MAX, throttling_exception()).await;
    let error = store
        .put(Key::new("CONFIG", "CURRENT").to_item(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Throttled {
                operation: "put",
                attempts: 4
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(
        stub.targets(),
        many("PutItem", 4),
        "one request per attempt"
    );
}

#[tokio::test]
async fn a_transaction_cancelled_for_throttling_is_retried_until_it_succeeds() {
    use klaxon_store::Store;
    let (store, stub) =
        StubDynamo::start(2, transaction_cancelled(&["None", "ThrottlingError"])).await;
    let result = store.transact(two_ops()).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(stub.targets(), many("TransactWriteItems", 3));
}

/// Retries used up on a transaction nobody refused is the store being busy: a transient
/// `Throttled` (HTTP 503, the message retried), not a permanent cancellation (HTTP 500).
#[tokio::test]
async fn a_transaction_throttled_through_every_retry_is_transient_not_cancelled() {
    use klaxon_app::http::ApiError;
    use klaxon_app::usecases::UseCaseError;
    use klaxon_store::{RepoError, Store, StoreError};
    for codes in [
        ["None", "ThrottlingError"],
        ["TransactionConflict", "None"],
        ["ProvisionedThroughputExceeded", "TransactionConflict"],
    ] {
        let (store, stub) = StubDynamo::start(usize::MAX, transaction_cancelled(&codes)).await;
        let error = store.transact(two_ops()).await.unwrap_err();
        assert!(
            matches!(
                error,
                StoreError::Throttled {
                    operation: "transact",
                    attempts: 4
                }
            ),
            "{codes:?}: {error:?}"
        );
        assert_eq!(stub.targets(), many("TransactWriteItems", 4));
        let error = UseCaseError::from(RepoError::from(error));
        assert!(error.is_transient());
        assert_eq!(
            ApiError::from(error).status,
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
    }
}

#[tokio::test]
async fn a_transaction_with_a_failed_condition_is_cancelled_at_once_even_if_throttled() {
    use klaxon_store::{CancelReason, Store, StoreError};
    let (store, stub) = StubDynamo::start(
        usize::MAX,
        transaction_cancelled(&["ConditionalCheckFailed", "ThrottlingError"]),
    )
    .await;
    match store.transact(two_ops()).await {
        Err(StoreError::TransactionCancelled { reasons }) => assert_eq!(
            reasons,
            vec![
                CancelReason::ConditionFailed { existing: None },
                CancelReason::Throttled
            ]
        ),
        other => panic!("expected TransactionCancelled, got {other:?}"),
    }
    assert_eq!(stub.targets(), many("TransactWriteItems", 1), "not retried");
}

/// A versioned incident save cancelled for a reason that is neither its lock nor a timeline
/// entry's condition is reported as that cancellation, not as "timeline entry exists".
#[tokio::test]
async fn an_incident_save_cancelled_for_another_reason_says_so() {
    use klaxon_domain::alert::{Alert, AlertStatus, Severity};
    use klaxon_domain::incident::Incident;
    use klaxon_domain::timeline::EventSource;
    use klaxon_store::repo::Repository;
    use klaxon_store::{CancelReason, RepoError, StoreError};

    let now = test_start();
    let alert = Alert {
        integration: IntegrationName::new("prom").unwrap(),
        dedup_key: DedupKey::new("disk").unwrap(),
        status: AlertStatus::Firing,
        severity: Severity::Critical,
        summary: "disk full".into(),
        source: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        links: Vec::new(),
        received_at: now,
        started_at: None,
        ended_at: None,
        group_hint: None,
        raw: json!({}),
    };
    let (incident, drafts) = Incident::open(
        IncidentId::new("inc1").unwrap(),
        1,
        GroupKey("g".into()),
        AlertId::new("a1").unwrap(),
        &alert,
        now,
    )
    .unwrap();
    assert!(!drafts.is_empty());
    // The incident's update passes; the first timeline put fails validation.
    let mut codes = vec!["None", "ValidationError"];
    codes.resize(drafts.len() + 1, "None");
    let (store, _stub) = StubDynamo::start(usize::MAX, transaction_cancelled(&codes)).await;
    let repo = Repository::new(
        store,
        Arc::new(ManualClock::new(now)),
        EventSource::klaxon("test").unwrap(),
    );
    match repo.save_incident(&incident, 1, &drafts).await {
        Err(RepoError::Store(StoreError::TransactionCancelled { reasons })) => {
            assert!(
                matches!(&reasons[1], CancelReason::Other(code) if code == "ValidationError"),
                "{reasons:?}"
            );
        }
        other => panic!("expected the cancellation itself, got {other:?}"),
    }
}
