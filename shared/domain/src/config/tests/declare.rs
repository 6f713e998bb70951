//! Incidents declared by hand: routing honours the declaration, the reserved integration name.

use super::Config;
use crate::Instant;
use crate::alert::Severity;
use crate::declare::*;
use crate::ids::{IntegrationName, PolicyId};
use crate::routing::RoutingContext;
use crate::vocabulary::Urgency;

const CONFIG: &str = r#"
users:
  - { id: alice, name: Alice, email: alice@example.com }
escalation_policies:
  - { id: infra, name: Infra, tiers: [{ delay: 5m, targets: [{ user: alice }] }] }
  - { id: db, name: Database, tiers: [{ delay: 5m, targets: [{ user: alice }] }] }
routing:
  defaults:
    critical: { policy: infra }
"#;

fn now() -> Instant {
    "2026-12-04T10:00:00Z".parse().unwrap()
}

fn declaration(policy: Option<&str>, urgency: Option<Urgency>) -> Declaration {
    Declaration {
        title: "Checkout is down".into(),
        severity: Severity::Critical,
        urgency,
        policy: policy.map(|p| PolicyId::new(p).unwrap()),
        description: Some("customers see 500s".into()),
    }
}

#[test]
fn a_declared_incident_takes_its_policy_and_urgency() {
    let config = Config::from_yaml(CONFIG).unwrap();
    let alert = declaration(Some("db"), Some(Urgency::Low))
        .alert("req-1", now())
        .unwrap();
    assert_eq!(alert.dedup_key.to_string(), "declared-req-1");
    assert_eq!(group_key(&alert).as_str(), "declared:declared-req-1");
    let decision = config.route(&RoutingContext::from_alert(&alert), now());
    assert_eq!(decision.policy, Some(PolicyId::new("db").unwrap()));
    assert_eq!(decision.urgency, Urgency::Low);
}

#[test]
fn without_a_policy_the_routing_defaults_decide() {
    let config = Config::from_yaml(CONFIG).unwrap();
    let alert = declaration(None, None).alert("req-2", now()).unwrap();
    let decision = config.route(&RoutingContext::from_alert(&alert), now());
    assert_eq!(decision.policy, Some(PolicyId::new("infra").unwrap()));
}

#[test]
fn another_integrations_alert_cannot_borrow_a_declared_policy() {
    let config = Config::from_yaml(CONFIG).unwrap();
    let mut alert = declaration(Some("db"), None).alert("req-3", now()).unwrap();
    alert.integration = IntegrationName::new("alertmanager").unwrap();
    let decision = config.route(&RoutingContext::from_alert(&alert), now());
    assert_eq!(decision.policy, Some(PolicyId::new("infra").unwrap()));
}

#[test]
fn no_integration_may_be_named_declared() {
    let text = format!("{CONFIG}integrations:\n  - {{ name: declared, format: native }}\n");
    let errors = Config::from_yaml(&text).unwrap_err();
    let lines: Vec<String> = errors.issues.iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("integrations[0].name: \"declared\" is reserved"),
        "{lines:?}"
    );
}
