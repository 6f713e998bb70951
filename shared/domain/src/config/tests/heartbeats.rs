//! Heartbeats: validation naming the field, and the heartbeat's policy in routing.

use super::*;
use crate::heartbeat::HeartbeatName;
use crate::ids::PolicyId;
use crate::routing::RoutingContext;

fn heartbeats(value: Value) -> impl FnOnce(&mut Value) {
    move |v| {
        v.as_object_mut()
            .unwrap()
            .insert("heartbeats".into(), value);
    }
}

#[test]
fn a_heartbeat_parses_with_defaults_and_its_alert_routes_to_its_policy() {
    let mut v = base();
    heartbeats(json!([
        {"name": "backup", "integration": "am", "interval": "1h", "grace": "10m",
         "urgency": "low", "escalation_policy": "infra", "description": "nightly backup"},
        {"name": "cron", "integration": "am", "interval": "5m"}
    ]))(&mut v);
    let config = config_from_value(v).unwrap();
    let backup = config
        .heartbeat(&HeartbeatName::new("backup").unwrap())
        .unwrap();
    assert_eq!(backup.window(), chrono::TimeDelta::minutes(70));
    let cron = config
        .heartbeat(&HeartbeatName::new("cron").unwrap())
        .unwrap();
    assert_eq!(cron.severity, Severity::Error);
    assert_eq!(cron.grace, HumanDuration::from_secs(0));

    let now = chrono::Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap();
    let alert = backup.missed_alert(now, now).unwrap();
    let decision = config.route(&RoutingContext::from_alert(&alert), now);
    assert_eq!(decision.policy, Some(PolicyId::new("infra").unwrap()));
    assert_eq!(decision.urgency, Urgency::Low);
    // The same label from another integration does not borrow the heartbeat's policy.
    let mut forged = RoutingContext::from_alert(&alert);
    forged.integration = crate::ids::IntegrationName::new("other").unwrap();
    forged.severity = Severity::Warning;
    assert_eq!(config.route(&forged, now).policy, None);
}

#[test]
fn bad_heartbeats_name_the_field() {
    let errors = errors_after(heartbeats(json!([
        {"name": "a", "integration": "missing", "interval": "0s"},
        {"name": "b", "integration": "am", "interval": "5m", "escalation_policy": "gone",
         "grace": "40d"},
        {"name": "a", "integration": "am", "interval": "5m", "description": " "}
    ])));
    assert_eq!(
        errors,
        vec![
            r#"heartbeats[0].integration: unknown integration "missing" (not defined under integrations)"#,
            "heartbeats[0].interval: must be between 1s and 31d (got 0s)",
            r#"heartbeats[1].escalation_policy: unknown escalation policy "gone" (not defined under escalation_policies)"#,
            "heartbeats[1].grace: must be between 0s and 31d (got 40d)",
            "heartbeats[2].description: must be 1 to 1024 characters when given",
            r#"heartbeats[2].name: duplicate heartbeat name "a" (first defined at heartbeats[0])"#,
        ]
    );
}

#[test]
fn unknown_fields_and_bad_names_are_errors_at_their_path() {
    let errors = errors_after(heartbeats(json!([
        {"name": "Backup Job", "integration": "am", "interval": "5m"},
        {"name": "ok", "integration": "am", "interval": "5m", "period": "1h"},
        {"name": "ok2", "integration": "am"}
    ])));
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("heartbeats[0].name: "), "{errors:?}");
    assert!(errors[1].starts_with("heartbeats[1]"), "{errors:?}");
    assert!(errors[1].contains("period"), "{errors:?}");
    assert!(errors[2].starts_with("heartbeats[2]"), "{errors:?}");
    assert!(errors[2].contains("interval"), "{errors:?}");
}
