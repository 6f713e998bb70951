//! Unit tests of the DynamoDB adapter's pure parts: expressions, conversion, cancellations.

use super::convert::*;
use super::expression::*;
use super::transact::*;
use super::*;
use chrono::{DateTime, Utc};
use klaxon_store::item::MAX_ITEM_BYTES;
use klaxon_store::key::{n, s};
use klaxon_store::{
    AttributeValue, CancelReason, Condition, Item, Key, StoreError, TransactOp, UpdateAction, attr,
};

#[test]
fn expressions_use_placeholders_for_every_name_and_value() {
    let mut expr = Expression::default();
    let hostile = "status) OR attribute_exists(pk";
    let rendered = expr.condition(
        &Condition::equals(hostile, s("x\" OR 1=1"))
            .and(Condition::not_equals("state", s("resolved")))
            .or(Condition::VersionEquals(4)),
    );
    assert_eq!(
        rendered,
        "((#n0 = :v0 AND (attribute_not_exists(#n1) OR #n1 <> :v1)) OR #n2 = :v2)"
    );
    let names = expr.names().unwrap();
    assert_eq!(names.get("#n0").map(String::as_str), Some(hostile));
    assert_eq!(names.get("#n2").map(String::as_str), Some("version"));
    assert_eq!(
        expr.values().unwrap().get(":v2"),
        Some(&SdkValue::N("4".into()))
    );
}

#[test]
fn conditions_that_hold_for_a_missing_item_also_accept_an_expired_one() {
    let now = DateTime::from_timestamp(1_000, 0).unwrap();
    let mut expr = Expression::default();
    assert_eq!(
        expr.guard(Some(&Condition::NotExists), now).unwrap(),
        "(((attribute_not_exists(#n1) OR #n1 > :v0) AND attribute_not_exists(#n0)) OR #n1 <= :v1)"
    );
    let mut expr = Expression::default();
    assert_eq!(
        expr.guard(Some(&Condition::Exists), now).unwrap(),
        "((attribute_not_exists(#n1) OR #n1 > :v0) AND attribute_exists(#n0))"
    );
    assert_eq!(Expression::default().guard(None, now), None);
}

#[test]
fn update_expressions_group_actions_and_guard_counters() {
    let now = DateTime::from_timestamp(1_000, 0).unwrap();
    let actions = [
        UpdateAction::add("count", 1),
        UpdateAction::set("last_seen", n(5)),
        UpdateAction::set_if_absent("first_seen", n(5)),
        UpdateAction::remove("gsi1pk"),
    ];
    let mut expr = Expression::default();
    assert_eq!(
        expr.update(&actions),
        "SET #n1 = :v1, #n2 = if_not_exists(#n2, :v2) REMOVE #n3 ADD #n0 :v0"
    );
    let guard = expr.strict_guard(Some(&Condition::Exists), &actions, now);
    assert_eq!(
        guard,
        "(attribute_not_exists(#n4) OR #n4 > :v3) AND attribute_exists(#n5) AND \
         (attribute_not_exists(#n0) OR attribute_type(#n0, :v4))"
    );
}

#[test]
fn unknown_sdk_types_are_corrupt_not_a_panic() {
    let key = Key::new("p", "s");
    let mut item = to_sdk_item(key.to_item());
    item.insert("future".into(), SdkValue::Unknown);
    match from_sdk_item(item, &key) {
        Err(StoreError::Corrupt { attribute, .. }) => assert_eq!(attribute, "future"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

mod cancellation {
    use super::*;
    use aws_sdk_dynamodb::types::CancellationReason;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_000, 0).unwrap()
    }

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    fn failed_with(item: Item) -> CancellationReason {
        CancellationReason::builder()
            .code("ConditionalCheckFailed")
            .message("The conditional request failed")
            .set_item(Some(to_sdk_item(item)))
            .build()
    }

    fn record(key: &Key, status: &str, ttl: Option<i64>) -> Item {
        let mut item = key.to_item();
        item.insert("status".into(), s(status));
        if let Some(ttl) = ttl {
            item.insert(attr::TTL.into(), n(ttl));
        }
        item
    }

    /// A put conditioned on absence, an update conditioned on `status = open` and a check
    /// that the third item exists, as the repository writes them.
    fn ops() -> (Vec<TransactOp>, Vec<Key>) {
        let keys = vec![Key::new("A", "1"), Key::new("B", "2"), Key::new("C", "3")];
        let ops = vec![
            TransactOp::Put {
                item: record(&keys[0], "new", None),
                condition: Some(Condition::NotExists),
            },
            TransactOp::Update {
                key: keys[1].clone(),
                actions: vec![UpdateAction::add("count", 1)],
                condition: Some(Condition::equals("status", s("open"))),
            },
            TransactOp::ConditionCheck {
                key: keys[2].clone(),
                condition: Condition::Exists,
            },
        ];
        (ops, keys)
    }

    fn explain(reasons: &[CancellationReason]) -> Cancellation {
        let (ops, keys) = ops();
        explain_cancellation(&ops, &keys, reasons, now()).unwrap()
    }

    fn cancelled_with(outcome: Cancellation) -> Vec<CancelReason> {
        match outcome {
            Cancellation::Final(StoreError::TransactionCancelled { reasons }) => reasons,
            other => panic!("expected a final TransactionCancelled, got {other:?}"),
        }
    }

    #[test]
    fn a_failed_put_condition_carries_the_item_the_service_returned() {
        let existing = record(&Key::new("A", "1"), "open", None);
        let reasons = cancelled_with(explain(&[
            failed_with(existing.clone()),
            reason("None"),
            reason("None"),
        ]));
        assert_eq!(
            reasons,
            vec![
                CancelReason::ConditionFailed {
                    existing: Some(Box::new(existing))
                },
                CancelReason::None,
                CancelReason::None,
            ]
        );
    }

    #[test]
    fn a_failed_condition_without_an_item_means_the_item_is_absent() {
        let reasons = cancelled_with(explain(&[
            reason("None"),
            reason("None"),
            reason("ConditionalCheckFailed"),
        ]));
        assert_eq!(
            reasons,
            vec![
                CancelReason::None,
                CancelReason::None,
                CancelReason::ConditionFailed { existing: None },
            ]
        );
    }

    #[test]
    fn an_expired_item_that_failed_a_put_condition_counts_as_absent() {
        let expired = record(&Key::new("A", "1"), "open", Some(now().timestamp()));
        let reasons = cancelled_with(explain(&[
            failed_with(expired),
            reason("None"),
            reason("None"),
        ]));
        assert_eq!(reasons[0], CancelReason::ConditionFailed { existing: None });
    }

    #[test]
    fn an_update_that_met_an_expired_item_starts_over_instead_of_failing() {
        let expired = record(&Key::new("B", "2"), "open", Some(now().timestamp() - 1));
        match explain(&[reason("None"), failed_with(expired), reason("None")]) {
            Cancellation::Expired(keys) => assert_eq!(keys, vec![Key::new("B", "2")]),
            other => panic!("expected Expired, got {other:?}"),
        }
    }

    #[test]
    fn an_update_whose_condition_failed_reports_the_live_item() {
        let resolved = record(&Key::new("B", "2"), "resolved", None);
        let reasons = cancelled_with(explain(&[
            reason("None"),
            failed_with(resolved.clone()),
            reason("None"),
        ]));
        assert_eq!(
            reasons[1],
            CancelReason::ConditionFailed {
                existing: Some(Box::new(resolved))
            }
        );
    }

    #[test]
    fn throttling_and_conflicts_alone_are_retried() {
        for codes in [
            ["None", "ThrottlingError", "None"],
            ["ProvisionedThroughputExceeded", "None", "None"],
            ["None", "None", "TransactionConflict"],
            ["TransactionConflict", "ThrottlingError", "None"],
        ] {
            let reasons: Vec<_> = codes.iter().map(|code| reason(code)).collect();
            assert!(
                matches!(explain(&reasons), Cancellation::Retry),
                "{codes:?} should be retried"
            );
        }
    }

    #[test]
    fn a_failed_condition_beside_throttling_is_final() {
        let reasons = cancelled_with(explain(&[
            reason("ConditionalCheckFailed"),
            reason("ThrottlingError"),
            reason("TransactionConflict"),
        ]));
        assert_eq!(
            reasons,
            vec![
                CancelReason::ConditionFailed { existing: None },
                CancelReason::Throttled,
                CancelReason::Other("TransactionConflict".into()),
            ]
        );
    }

    #[test]
    fn a_size_validation_error_is_item_too_large_for_that_item() {
        let too_large = CancellationReason::builder()
            .code("ValidationError")
            .message("Item size has exceeded the maximum allowed size")
            .build();
        match explain(&[reason("None"), too_large, reason("None")]) {
            Cancellation::Final(StoreError::ItemTooLarge { key, size, limit }) => {
                assert_eq!(key, Key::new("B", "2"));
                assert_eq!(size, None);
                assert_eq!(limit, MAX_ITEM_BYTES);
            }
            other => panic!("expected ItemTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn other_validation_errors_and_unknown_codes_are_final_with_their_code() {
        let invalid = CancellationReason::builder()
            .code("ValidationError")
            .message("One or more parameter values were invalid")
            .build();
        let reasons = cancelled_with(explain(&[
            invalid,
            reason("SomethingNew"),
            reason("ThrottlingError"),
        ]));
        assert_eq!(
            reasons,
            vec![
                CancelReason::Other("ValidationError".into()),
                CancelReason::Other("SomethingNew".into()),
                CancelReason::Throttled,
            ]
        );
    }

    #[test]
    fn no_reasons_or_only_none_is_final_not_retried() {
        let reasons = cancelled_with(explain(&[]));
        assert_eq!(reasons, vec![CancelReason::None; 3]);
        let reasons = cancelled_with(explain(&[
            reason("None"),
            CancellationReason::builder().build(),
            reason("None"),
        ]));
        assert_eq!(reasons, vec![CancelReason::None; 3]);
    }

    #[test]
    fn an_add_to_a_value_that_is_not_a_number_is_corrupt() {
        let mut wrong = record(&Key::new("B", "2"), "open", None);
        wrong.insert("count".into(), s("many"));
        match explain(&[reason("None"), failed_with(wrong), reason("None")]) {
            Cancellation::Final(StoreError::Corrupt { key, attribute, .. }) => {
                assert_eq!(key, Key::new("B", "2"));
                assert_eq!(attribute, "count");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn sdk_conversion_round_trips_every_type() {
    let key = Key::new("p", "s");
    let mut item = key.to_item();
    item.insert("b".into(), AttributeValue::B(vec![0, 255]));
    item.insert("bs".into(), AttributeValue::Bs(vec![vec![1], vec![2]]));
    item.insert("ns".into(), AttributeValue::Ns(vec!["1".into()]));
    item.insert("ss".into(), AttributeValue::Ss(vec!["a".into()]));
    item.insert("null".into(), AttributeValue::Null(true));
    item.insert("bool".into(), AttributeValue::Bool(false));
    item.insert(
        "m".into(),
        AttributeValue::M([("l".to_owned(), AttributeValue::L(vec![n(1), s("x")]))].into()),
    );
    assert_eq!(
        from_sdk_item(to_sdk_item(item.clone()), &key).unwrap(),
        item
    );
}
