//! Many errors at once: all reported, in document order, and never twice.

use super::*;

#[test]
fn five_different_errors_are_all_reported_in_document_order() {
    let text = BASE
        .replace("email: bob@example.com", "email: bob-at-example.com")
        .replace("participants: [alice, bob]", "participants: [alice, zed]")
        .replace("delay: 5m", "delay: 0s")
        .replace("      policy: infra", "      policy: nope")
        .replace(
            "end: \"2026-03-14T05:00:00Z\"",
            "end: \"2026-03-14T01:00:00Z\"",
        );
    let errors = Config::from_yaml(&text).unwrap_err();
    assert_eq!(
        errors.paths(),
        vec![
            "users[1].email",
            "schedules[0].layers[0].rotation.participants[1]",
            "escalation_policies[0].tiers[0].delay",
            "routing.rules[0].policy",
            "maintenance_windows[0].end",
        ]
    );
    assert_eq!(errors.to_string().lines().count(), 5);
}

#[test]
fn shape_and_semantic_errors_in_many_elements_are_all_reported() {
    let errors = errors_after(|v| {
        set(v, "/users/0/email", json!(42)); // shape error: user 0 is left out
        set(v, "/users/1/phone", json!("0800"));
        set(v, "/schedules/0/layers/0/rotation/start", json!("soon"));
        set(v, "/integrations/0/format", json!("nagios"));
    });
    let paths: Vec<&str> = errors
        .iter()
        .map(|e| e.split_once(": ").unwrap().0)
        .collect();
    assert_eq!(
        paths,
        vec![
            "users[0].email",
            "users[1].phone",
            "schedules[0].layers[0].rotation.start",
            "integrations[0].format",
        ],
        "{errors:#?}"
    );
    assert!(errors[0].contains("quote the value"), "{errors:?}");
}

#[test]
fn references_to_elements_that_failed_to_parse_are_not_reported_again() {
    // alice is broken (bad field); the rotation still names her: one error, not two.
    let errors = errors_after(|v| set(v, "/users/0/pager", json!("x")));
    assert_one_error(&errors, "users[0].pager", "unknown field");
    // A broken element later in a list keeps its own index in paths.
    let errors = errors_after(|v| {
        let list = v.pointer_mut("/users").unwrap().as_array_mut().unwrap();
        list.insert(0, json!({"id": "zoe"}));
        list.push(json!({"id": "carl", "name": "Carl", "email": "carl@"}));
    });
    assert_eq!(
        errors,
        vec![
            "users[0].name: required field is missing",
            r#"users[3].email: "carl@" is not an email address: the domain must look like example.com"#,
        ]
    );
}
