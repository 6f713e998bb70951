//! Integrations, notification endpoints and settings.

use super::*;

// ---- integrations ----

#[test]
fn integration_keys_are_rejected_with_an_explanation() {
    let errors = errors_after(|v| {
        set(v, "/integrations/0/key", json!("abc123"));
        set(v, "/integrations/0/secret", json!("s3cr3t"));
    });
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("integrations[0].key: integration keys are secrets"));
    assert!(
        errors[0].contains("create one with the klaxon CLI"),
        "{errors:?}"
    );
    assert!(errors[0].contains("see the deployment docs"), "{errors:?}");
    assert!(errors[1].starts_with("integrations[0].secret: "));
}

#[test]
fn integration_name_format_and_defaults() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/integrations/0").unwrap().clone();
        v.pointer_mut("/integrations")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_one_error(
        &errors,
        "integrations[1].name",
        "duplicate integration name \"am\"",
    );
    let errors = errors_after(|v| set(v, "/integrations/0/format", json!("nagios")));
    assert_one_error(
        &errors,
        "integrations[0].format",
        "unknown variant `nagios`",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/integrations/0/defaults",
            json!({"insufficient_data": "firing"}),
        );
    });
    assert_eq!(
        errors,
        vec!["integrations[0].defaults.insufficient_data: only applies to cloudwatch integrations"]
    );
    // The integration is gone, so the grouping rule's reference to "am" is unknown too.
    let errors = errors_after(|v| set(v, "/integrations/0/name", json!("Alert Manager")));
    assert_eq!(
        errors,
        vec![
            r#"grouping.rules[0].match.integrations[0]: unknown integration "am" (not defined under integrations)"#,
            "integrations[0].name: may only contain lowercase letters, digits, '-' and '_' (found 'A')",
        ]
    );
}

// ---- notifications and settings ----

#[test]
fn webhook_urls_must_be_env_references() {
    let errors = errors_after(|v| {
        set(
            v,
            "/notifications",
            json!({"slack": {"webhook_url": "https://hooks.slack.com/services/T0/B0/xyz"}}),
        );
    });
    assert_one_error(
        &errors,
        "notifications.slack.webhook_url",
        "must be an environment variable reference like \"${SLACK_WEBHOOK_URL}\"",
    );
}

#[test]
fn generic_webhook_checks() {
    let hook = json!({"name": "bot", "url": "${BOT_URL}", "signing_secret": "${BOT_SECRET}"});
    let errors = errors_after(|v| {
        set(
            v,
            "/notifications",
            json!({"webhooks": [hook.clone(), hook.clone()]}),
        );
    });
    assert_one_error(
        &errors,
        "notifications.webhooks[1].name",
        "duplicate webhook name \"bot\"",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/notifications",
            json!({"webhooks": [{"name": "bot", "url": "${BOT_URL}", "signing_secret": "plain"}]}),
        );
    });
    assert_one_error(
        &errors,
        "notifications.webhooks[0].signing_secret",
        "environment variable",
    );
    let errors = errors_after(|v| {
        set(
            v,
            "/notifications",
            json!({"webhooks": [{"name": " ", "url": "${BOT_URL}", "signing_secret": "${BOT_SECRET}"}]}),
        );
    });
    assert_eq!(
        errors,
        vec!["notifications.webhooks[0].name: must not be empty"]
    );
}

#[test]
fn settings_checks() {
    let errors = errors_after(|v| set(v, "/settings", json!({"ack_link_lifetime": "0s"})));
    assert_eq!(
        errors,
        vec!["settings.ack_link_lifetime: must be between 1m and 30d (got 0s)"]
    );
    let errors = yaml_errors(&format!("{BASE}settings:\n  auto_resolve: yes\n"));
    assert_one_error(&errors, "settings.auto_resolve", "expected a boolean");
    let errors = errors_after(|v| set(v, "/settings", json!({"auto_resolv": false})));
    assert_one_error(&errors, "settings.auto_resolv", "unknown field");
}
