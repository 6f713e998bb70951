//! Users: ids, addresses, time zones and contact channels.

use super::*;

#[test]
fn duplicate_user_id() {
    let errors = errors_after(|v| {
        let copy = v.pointer("/users/0").unwrap().clone();
        v.pointer_mut("/users")
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push(copy);
    });
    assert_eq!(
        errors,
        vec![r#"users[2].id: duplicate user id "alice" (first defined at users[0])"#]
    );
}

#[test]
fn user_email_shape() {
    let errors = errors_after(|v| set(v, "/users/1/email", json!("bob.example.com")));
    assert_one_error(
        &errors,
        "users[1].email",
        "is not an email address: it has no '@'",
    );
}

#[test]
fn user_phone_e164() {
    let errors = errors_after(|v| set(v, "/users/0/phone", json!("555-1234")));
    assert_one_error(&errors, "users[0].phone", "is not in E.164 form");
}

#[test]
fn unquoted_yaml_phone_gets_a_quoting_hint() {
    let text = BASE.replace(r#"phone: "+15551234567""#, "phone: +15551234567");
    let errors = yaml_errors(&text);
    assert_one_error(&errors, "users[0].phone", "\"+15551234567\"");
}

#[test]
fn user_slack_id_shape() {
    let errors = errors_after(|v| {
        set(v, "/users/0/slack_id", json!("@alice"));
        set(
            v,
            "/notifications",
            json!({"slack": {"webhook_url": "${SLACK_URL}"}}),
        );
    });
    assert_one_error(&errors, "users[0].slack_id", "is not a Slack member id");
}

#[test]
fn user_unknown_field_names_the_field() {
    let errors = errors_after(|v| set(v, "/users/0/phon", json!("+15551234567")));
    assert_one_error(
        &errors,
        "users[0].phon",
        "unknown field (expected one of `id`, `name`",
    );
}

#[test]
fn user_missing_name() {
    let errors = errors_after(|v| remove(v, "/users/1/name"));
    assert_eq!(errors, vec!["users[1].name: required field is missing"]);
}

#[test]
fn user_blank_name() {
    let errors = errors_after(|v| set(v, "/users/1/name", json!("  ")));
    assert_eq!(errors, vec!["users[1].name: must not be empty"]);
}

#[test]
fn invalid_time_zones() {
    let errors = errors_after(|v| {
        set(v, "/users/0/time_zone", json!("Europe/Atlantis"));
        set(v, "/schedules/0/time_zone", json!("CEST+1"));
    });
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("users[0].time_zone: "), "{errors:?}");
    assert!(errors[0].contains("Europe/Atlantis"), "{errors:?}");
    assert!(errors[0].contains("use an IANA zone name"), "{errors:?}");
    assert!(
        errors[1].starts_with("schedules[0].time_zone: "),
        "{errors:?}"
    );
}

#[test]
fn sms_without_phone() {
    let errors = errors_after(|v| set(v, "/users/1/contact", json!({"high": ["sms"]})));
    assert_eq!(
        errors,
        vec!["users[1].contact.high[0]: sms needs a phone number (users[1].phone)"]
    );
}

#[test]
fn email_without_address() {
    let errors = errors_after(|v| {
        remove(v, "/users/0/email");
        set(
            v,
            "/users/0/contact",
            json!({"high": ["sms"], "low": ["email"]}),
        );
    });
    assert_eq!(
        errors,
        vec!["users[0].contact.low[0]: email needs an email address (users[0].email)"]
    );
}

#[test]
fn slack_needs_member_id_and_shared_webhook() {
    let errors = errors_after(|v| set(v, "/users/1/contact", json!({"high": ["email", "slack"]})));
    assert_eq!(
        errors,
        vec![
            "users[1].contact.high[1]: slack needs a Slack member id (users[1].slack_id) and \
             the shared Slack webhook (notifications.slack)"
        ]
    );
}

#[test]
fn teams_and_webhook_channels_need_shared_endpoints() {
    let errors = errors_after(|v| {
        set(
            v,
            "/users/1/contact",
            json!({"high": ["teams", "webhook"], "low": []}),
        );
    });
    assert_eq!(
        errors,
        vec![
            "users[1].contact.high[0]: teams needs the shared Teams webhook (notifications.teams)",
            "users[1].contact.high[1]: webhook needs at least one generic webhook (notifications.webhooks)",
        ]
    );
    let fixed = errors_after(|v| {
        set(
            v,
            "/users/1/contact",
            json!({"high": ["teams", "webhook"], "low": []}),
        );
        set(
            v,
            "/notifications",
            json!({
                "teams": {"webhook_url": "${TEAMS_URL}"},
                "webhooks": [{"name": "bot", "url": "${BOT_URL}", "signing_secret": "${BOT_SECRET}"}]
            }),
        );
    });
    assert!(fixed.is_empty(), "{fixed:?}");
}

#[test]
fn channel_listed_twice() {
    let errors = errors_after(|v| set(v, "/users/1/contact", json!({"high": ["email", "email"]})));
    assert_eq!(
        errors,
        vec!["users[1].contact.high[1]: email is listed twice"]
    );
}

#[test]
fn user_without_any_high_urgency_channel() {
    let errors = errors_after(|v| remove(v, "/users/1/email"));
    assert_one_error(
        &errors,
        "users[1].contact.high",
        "no channel for high-urgency pages",
    );
    let errors = errors_after(|v| set(v, "/users/0/contact", json!({"high": []})));
    assert_one_error(
        &errors,
        "users[0].contact.high",
        "no channel for high-urgency pages",
    );
}

#[test]
fn unknown_channel_name() {
    let errors = errors_after(|v| set(v, "/users/0/contact", json!({"high": ["pager"]})));
    assert_one_error(
        &errors,
        "users[0].contact.high[0]",
        "unknown variant `pager`",
    );
}

#[test]
fn quiet_hours_of_a_whole_day_are_refused_naming_the_window() {
    let errors = errors_after(|v| {
        set(
            v,
            "/users/0/quiet_hours",
            json!([{"from": "22:00", "to": "07:00"}, {"from": "08:00", "to": "08:00"}]),
        );
    });
    assert_one_error(&errors, "users[0].quiet_hours[1].to", "the whole day");
}

#[test]
fn min_severity_names_a_bad_severity_or_channel() {
    let errors = errors_after(|v| set(v, "/users/0/min_severity", json!({"sms": "urgent"})));
    assert_one_error(&errors, "users[0].min_severity", "urgent");
    let errors = errors_after(|v| set(v, "/users/0/min_severity", json!({"pager": "critical"})));
    assert_one_error(&errors, "users[0].min_severity", "pager");
}
