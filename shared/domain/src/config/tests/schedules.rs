//! Schedules: layers, rotations, shift lengths, restrictions and unavailability.

use super::*;

#[test]
fn duplicate_schedule_id() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/schedules/0").unwrap().clone();
        v.pointer_mut("/schedules")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_eq!(
        errors,
        vec![r#"schedules[1].id: duplicate schedule id "primary" (first defined at schedules[0])"#]
    );
}

#[test]
fn schedule_without_layers() {
    let errors = errors_after(|v| set(v, "/schedules/0/layers", json!([])));
    assert_eq!(
        errors,
        vec!["schedules[0].layers: a schedule needs at least one layer"]
    );
}

#[test]
fn rotation_without_participants() {
    let errors = errors_after(|v| set(v, "/schedules/0/layers/0/rotation/participants", json!([])));
    assert_eq!(
        errors,
        vec![
            "schedules[0].layers[0].rotation.participants: a rotation needs at least one participant"
        ]
    );
}

#[test]
fn rotation_with_unknown_participant() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/participants",
            json!(["alice", "carol"]),
        );
    });
    assert_eq!(
        errors,
        vec![
            r#"schedules[0].layers[0].rotation.participants[1]: unknown user "carol" (not defined under users)"#
        ]
    );
}

#[test]
fn non_positive_shift_lengths() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/shift",
            json!({"days": 0}),
        )
    });
    assert_eq!(
        errors,
        vec!["schedules[0].layers[0].rotation.shift.days: must be at least 1"]
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/shift",
            json!({"custom": "30m"}),
        );
    });
    assert_eq!(
        errors,
        vec!["schedules[0].layers[0].rotation.shift.custom: must be at least 1h (got 30m)"]
    );
    for kind in ["hours", "weeks"] {
        let errors = errors_after(|v| {
            set(
                v,
                "/schedules/0/layers/0/rotation/shift",
                json!({ kind: 0 }),
            );
        });
        assert_eq!(
            errors,
            vec![format!(
                "schedules[0].layers[0].rotation.shift.{kind}: must be at least 1"
            )]
        );
    }
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/shift",
            json!({"hours": -1}),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].rotation.shift.hours",
        "invalid value",
    );
}

#[test]
fn unknown_shift_kind() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/shift",
            json!({"months": 1}),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].rotation.shift",
        "unknown variant `months`",
    );
}

#[test]
fn bad_rotation_start() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/rotation/start",
            json!("next monday"),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].rotation.start",
        "expected a local date and time such as \"2026-01-05T09:00:00\"",
    );
}

#[test]
fn bad_restriction_time_and_weekday() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/restrictions",
            json!([{"days": ["mon"], "from": "25:00", "to": "17:00"}]),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].restrictions[0].from",
        "expected a time of day such as \"09:00\"",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/layers/0/restrictions",
            json!([{"days": ["someday"], "from": "09:00", "to": "17:00"}]),
        );
    });
    assert_one_error(
        &errors,
        "schedules[0].layers[0].restrictions[0].days",
        "unknown weekday",
    );
}

#[test]
fn unavailability_user_and_order() {
    let errors = errors_after(|v| {
        set(
            v,
            "/schedules/0/unavailability",
            json!([{"user": "zed", "start": "2026-08-02T00:00:00Z", "end": "2026-08-01T00:00:00Z"}]),
        );
    });
    assert_eq!(
        errors,
        vec![
            "schedules[0].unavailability[0].end: must be after start",
            r#"schedules[0].unavailability[0].user: unknown user "zed" (not defined under users)"#,
        ]
    );
}
