//! Incident lifecycle tests.

use super::*;
use crate::duration::HumanDuration;
use crate::escalation::{
    EscalationPolicy, EscalationStatus, Ignored, OnCallResolver, Target, Tier,
};
use crate::ids::{DedupKey, IntegrationName, RuleId};
use chrono::TimeZone;
use std::collections::BTreeMap;

fn at(h: u32, m: u32) -> Instant {
    chrono::Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap()
}

fn alert(dedup: &str, severity: Severity, status: AlertStatus) -> Alert {
    Alert {
        integration: IntegrationName::new("prom").unwrap(),
        dedup_key: DedupKey::new(dedup).unwrap(),
        status,
        severity,
        summary: format!("{dedup} is broken"),
        source: Some("db-1".into()),
        labels: BTreeMap::from([("service".to_string(), "db".to_string())]),
        annotations: BTreeMap::new(),
        links: vec![],
        received_at: at(9, 0),
        started_at: None,
        ended_at: None,
        group_hint: None,
        raw: serde_json::Value::Null,
    }
}

fn alert_id(n: u32) -> AlertId {
    AlertId::new(format!("a{n}")).unwrap()
}

fn open() -> Incident {
    Incident::open(
        IncidentId::new("0192abcd").unwrap(),
        42,
        GroupKey("g1".into()),
        alert_id(1),
        &alert("disk", Severity::Warning, AlertStatus::Firing),
        at(9, 0),
    )
    .unwrap()
    .0
}

fn alice() -> Actor {
    Actor::user(UserId::new("alice").unwrap())
}

fn prom() -> Actor {
    Actor::integration(IntegrationName::new("prom").unwrap())
}

struct Everyone;
impl OnCallResolver for Everyone {
    fn users_for(&self, _: &Target, _: Instant) -> Vec<UserId> {
        vec![UserId::new("alice").unwrap()]
    }
}

fn policy() -> EscalationPolicy {
    EscalationPolicy {
        id: crate::ids::PolicyId::new("infra").unwrap(),
        name: "Infra".into(),
        tiers: vec![
            Tier {
                delay: HumanDuration::from_mins(5),
                targets: vec![Target::User(UserId::new("alice").unwrap())],
            },
            Tier {
                delay: HumanDuration::from_mins(5),
                targets: vec![Target::User(UserId::new("bob").unwrap())],
            },
        ],
        repeat: 0,
        ack_timeout: None,
    }
}

fn types(effects: &[Effect]) -> Vec<&'static str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d.entry.event_type()),
            _ => None,
        })
        .collect()
}

fn cancels(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::CancelTimer { .. }))
        .count()
}

fn escalating() -> Incident {
    let mut incident = open();
    incident
        .start_escalation(&policy(), Urgency::High, &Everyone, at(9, 1))
        .unwrap();
    incident
}

#[test]
fn open_links_the_first_alert_and_records_the_trigger() {
    let (incident, drafts) = Incident::open(
        IncidentId::new("0192abcd").unwrap(),
        42,
        GroupKey("g1".into()),
        alert_id(1),
        &alert("disk", Severity::Error, AlertStatus::Firing),
        at(9, 0),
    )
    .unwrap();
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    assert_eq!(incident.number(), 42);
    assert_eq!(incident.title(), "disk is broken");
    assert_eq!(incident.severity(), Severity::Error);
    assert_eq!(incident.alerts(), AlertCounts { linked: 1, open: 1 });
    assert_eq!(incident.created_by(), &prom());
    assert_eq!(incident.context().source.as_deref(), Some("db-1"));
    assert_eq!(incident.context().labels["service"], "db");
    assert!(incident.escalation().is_none());
    let types: Vec<_> = drafts.iter().map(|d| d.entry.event_type()).collect();
    assert_eq!(
        types,
        vec!["io.klaxon.incident.triggered", "io.klaxon.alert.linked"]
    );
    assert_eq!(drafts[0].record_id(), "0192abcd/triggered");
    assert_eq!(drafts[1].record_id(), "0192abcd/alert.a1.linked");
    for draft in &drafts {
        assert!(EntryKey::new(draft.key.as_str()).is_ok());
    }
}

#[test]
fn a_resolved_alert_cannot_open_an_incident() {
    let result = Incident::open(
        IncidentId::new("0192abcd").unwrap(),
        1,
        GroupKey("g1".into()),
        alert_id(1),
        &alert("disk", Severity::Error, AlertStatus::Resolved),
        at(9, 0),
    );
    assert_eq!(result.unwrap_err(), IncidentError::FirstAlertNotFiring);
}

#[test]
fn linking_counts_alerts_and_raises_severity_only_upwards() {
    let mut incident = open();
    let drafts = incident
        .link_alert(
            &alert_id(2),
            &alert("cpu", Severity::Critical, AlertStatus::Firing),
            at(9, 2),
        )
        .unwrap();
    assert_eq!(incident.severity(), Severity::Critical);
    assert!(matches!(
        drafts[1].entry,
        TimelineEntry::IncidentSeverityChanged {
            from: Severity::Warning,
            to: Severity::Critical
        }
    ));
    let drafts = incident
        .link_alert(
            &alert_id(3),
            &alert("mem", Severity::Info, AlertStatus::Firing),
            at(9, 3),
        )
        .unwrap();
    assert_eq!(drafts.len(), 1);
    assert_eq!(incident.severity(), Severity::Critical);
    // An already-resolved alert is linked but not counted as open.
    incident
        .link_alert(
            &alert_id(4),
            &alert("net", Severity::Critical, AlertStatus::Resolved),
            at(9, 4),
        )
        .unwrap();
    assert_eq!(incident.alerts(), AlertCounts { linked: 4, open: 3 });
}

#[test]
fn a_resolved_incident_is_never_re_triggered() {
    let mut incident = open();
    incident.resolve(alice(), at(9, 5)).unwrap();
    let before = incident.clone();
    let err = incident
        .link_alert(
            &alert_id(2),
            &alert("disk", Severity::Critical, AlertStatus::Firing),
            at(9, 6),
        )
        .unwrap_err();
    assert!(matches!(err, IncidentError::ResolvedCannotRetrigger { .. }));
    assert_eq!(incident, before);
}

#[test]
fn lifecycle_moves_forward_only_and_refusals_change_nothing() {
    let mut incident = open();
    let effects = incident.acknowledge(alice(), at(9, 2)).unwrap();
    assert_eq!(types(&effects), vec!["io.klaxon.incident.acknowledged"]);
    assert_eq!(incident.status(), IncidentStatus::Acknowledged);
    assert_eq!(
        incident.acknowledged(),
        Some(&ActorStamp {
            at: at(9, 2),
            by: alice()
        })
    );
    let before = incident.clone();
    assert!(matches!(
        incident.acknowledge(alice(), at(9, 3)),
        Err(IncidentError::AlreadyAcknowledged { .. })
    ));
    assert_eq!(incident, before);

    let effects = incident.resolve(alice(), at(9, 4)).unwrap();
    assert_eq!(types(&effects), vec!["io.klaxon.incident.resolved"]);
    assert_eq!(incident.status(), IncidentStatus::Resolved);
    assert!(!incident.is_open());
    assert_eq!(incident.resolved().unwrap().reason, ResolveReason::Manual);
    let before = incident.clone();
    assert!(matches!(
        incident.acknowledge(alice(), at(9, 5)),
        Err(IncidentError::AlreadyResolved { .. })
    ));
    assert!(matches!(
        incident.resolve(alice(), at(9, 5)),
        Err(IncidentError::AlreadyResolved { .. })
    ));
    assert_eq!(incident, before);
}

#[test]
fn triggered_can_be_resolved_directly() {
    let mut incident = open();
    incident.resolve(alice(), at(9, 2)).unwrap();
    assert_eq!(incident.status(), IncidentStatus::Resolved);
    assert!(incident.acknowledged().is_none());
}

#[test]
fn acknowledging_stops_the_escalation_and_its_late_timer_pages_nobody() {
    let mut incident = escalating();
    let state = incident.escalation().unwrap().clone();
    let payload = state.armed_timer(incident.id()).unwrap();
    let effects = incident.acknowledge(alice(), at(9, 3)).unwrap();
    assert_eq!(cancels(&effects), 1);
    assert_eq!(
        types(&effects),
        vec![
            "io.klaxon.incident.acknowledged",
            "io.klaxon.escalation.stopped"
        ]
    );
    assert_eq!(
        incident.escalation().unwrap().status(),
        EscalationStatus::Acknowledged
    );
    let update = incident
        .fire_timer(&payload, &policy(), &Everyone, at(9, 6))
        .unwrap();
    assert_eq!(update.outcome, Outcome::Ignored(Ignored::StaleTimer));
    assert!(update.effects.is_empty());
    // Resolving later moves the escalation to resolved too, with nothing left to cancel.
    let effects = incident.resolve(alice(), at(9, 7)).unwrap();
    assert_eq!(cancels(&effects), 0);
    assert_eq!(
        incident.escalation().unwrap().status(),
        EscalationStatus::Resolved
    );
}

#[test]
fn timers_advance_the_escalation_through_the_incident() {
    let mut incident = escalating();
    let payload = incident
        .escalation()
        .unwrap()
        .armed_timer(incident.id())
        .unwrap();
    let update = incident
        .fire_timer(&payload, &policy(), &Everyone, at(9, 6))
        .unwrap();
    assert_eq!(update.outcome, Outcome::Applied);
    assert!(
        update
            .effects
            .iter()
            .any(|e| matches!(e, Effect::Page(p) if p.tier == 1))
    );
    assert_eq!(incident.escalation().unwrap().tier(), 1);
    // No escalation yet: the write that starts it (and armed the timer) has not committed,
    // so the timer is early, not stale, and changes nothing.
    let mut fresh = open();
    let update = fresh
        .fire_timer(&payload, &policy(), &Everyone, at(9, 6))
        .unwrap();
    assert_eq!(update.outcome, Outcome::Ignored(Ignored::NotYetCommitted));
    assert!(update.effects.is_empty());
}

#[test]
fn auto_resolve_on_resolves_when_the_last_alert_clears() {
    let mut incident = escalating();
    incident
        .link_alert(
            &alert_id(2),
            &alert("cpu", Severity::Warning, AlertStatus::Firing),
            at(9, 2),
        )
        .unwrap();
    let effects = incident
        .alert_resolved(
            &alert_id(1),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            at(9, 3),
        )
        .unwrap();
    assert_eq!(types(&effects), vec!["io.klaxon.alert.resolved"]);
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    assert_eq!(incident.alerts().open, 1);

    let effects = incident
        .alert_resolved(
            &alert_id(2),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            at(9, 4),
        )
        .unwrap();
    assert_eq!(
        types(&effects),
        vec![
            "io.klaxon.alert.resolved",
            "io.klaxon.incident.resolved",
            "io.klaxon.escalation.stopped"
        ]
    );
    assert_eq!(cancels(&effects), 1);
    assert_eq!(incident.status(), IncidentStatus::Resolved);
    let resolution = incident.resolved().unwrap();
    assert_eq!(resolution.reason, ResolveReason::AllAlertsResolved);
    assert_eq!(resolution.by, prom());
    assert_eq!(
        incident.escalation().unwrap().status(),
        EscalationStatus::Resolved
    );
}

#[test]
fn auto_resolve_off_leaves_the_incident_open() {
    let mut incident = escalating();
    let effects = incident
        .alert_resolved(&alert_id(1), prom(), AutoResolve::Never, at(9, 3))
        .unwrap();
    assert_eq!(types(&effects), vec!["io.klaxon.alert.resolved"]);
    assert_eq!(cancels(&effects), 0);
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    assert_eq!(incident.alerts(), AlertCounts { linked: 1, open: 0 });
    assert_eq!(
        incident.escalation().unwrap().status(),
        EscalationStatus::Active
    );
    // Nothing left to resolve.
    let before = incident.clone();
    assert!(matches!(
        incident.alert_resolved(&alert_id(1), prom(), AutoResolve::Never, at(9, 4)),
        Err(IncidentError::NoOpenAlerts { .. })
    ));
    assert_eq!(incident, before);
}

#[test]
fn alerts_clearing_after_a_manual_resolve_are_counted_but_resolve_nothing() {
    let mut incident = open();
    incident.resolve(alice(), at(9, 2)).unwrap();
    let effects = incident
        .alert_resolved(
            &alert_id(1),
            prom(),
            AutoResolve::WhenAllAlertsResolve,
            at(9, 3),
        )
        .unwrap();
    assert_eq!(types(&effects), vec!["io.klaxon.alert.resolved"]);
    assert_eq!(incident.alerts().open, 0);
    assert_eq!(incident.resolved().unwrap().reason, ResolveReason::Manual);
}

#[test]
fn start_escalation_sets_urgency_and_ignores_redelivery() {
    let mut incident = open();
    let update = incident
        .start_escalation(&policy(), Urgency::Low, &Everyone, at(9, 1))
        .unwrap();
    assert_eq!(update.outcome, Outcome::Applied);
    assert_eq!(incident.urgency(), Urgency::Low);
    assert_eq!(
        incident.escalation().unwrap().status(),
        EscalationStatus::Active
    );
    let again = incident
        .start_escalation(&policy(), Urgency::High, &Everyone, at(9, 2))
        .unwrap();
    assert_eq!(again.outcome, Outcome::Ignored(Ignored::AlreadyStarted));
    assert!(again.effects.is_empty());
    assert_eq!(incident.urgency(), Urgency::Low);
    // Even if routing now picks another policy, the running escalation keeps its own.
    let mut other = policy();
    other.id = crate::ids::PolicyId::new("other").unwrap();
    let again = incident
        .start_escalation(&other, Urgency::High, &Everyone, at(9, 3))
        .unwrap();
    assert_eq!(again.outcome, Outcome::Ignored(Ignored::AlreadyStarted));
    assert_eq!(incident.escalation().unwrap().policy().as_str(), "infra");
}

#[test]
fn an_incident_acknowledged_before_routing_never_starts_paging() {
    let mut incident = open();
    incident.acknowledge(alice(), at(9, 0)).unwrap();
    let update = incident
        .start_escalation(&policy(), Urgency::High, &Everyone, at(9, 1))
        .unwrap();
    assert_eq!(update.outcome, Outcome::Ignored(Ignored::AlreadyStopped));
    assert!(update.effects.is_empty());
    assert!(incident.escalation().is_none());
}

#[test]
fn suppression_blocks_paging_and_comes_too_late_once_paging_started() {
    let window = SuppressionReason::MaintenanceWindow {
        window: RuleId::new("db-upgrade").unwrap(),
    };
    let mut incident = open();
    let drafts = incident
        .suppress(window.clone(), Actor::system("routing"), at(9, 1))
        .unwrap();
    assert_eq!(
        drafts[0].entry.event_type(),
        "io.klaxon.incident.suppressed"
    );
    assert_eq!(incident.suppressed().unwrap().reason, window);
    assert!(
        incident
            .suppress(window.clone(), Actor::system("routing"), at(9, 2))
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        incident.start_escalation(&policy(), Urgency::High, &Everyone, at(9, 2)),
        Err(IncidentError::Suppressed { .. })
    ));

    let mut paging = escalating();
    assert!(matches!(
        paging.suppress(window, Actor::system("routing"), at(9, 2)),
        Err(IncidentError::EscalationStarted { .. })
    ));
}

#[test]
fn assigning_records_each_assignee_once() {
    let mut incident = open();
    let bob = UserId::new("bob").unwrap();
    let drafts = incident.assign(bob.clone(), alice(), at(9, 1));
    assert_eq!(drafts.len(), 1);
    assert!(EntryKey::new(drafts[0].key.as_str()).is_ok());
    // The longest user id still gives a valid key.
    let long = UserId::new("x".repeat(64)).unwrap();
    let drafts = incident.assign(long.clone(), alice(), at(9, 1));
    assert!(EntryKey::new(drafts[0].key.as_str()).is_ok());
    incident.assignees.retain(|u| u != &long);
    assert!(incident.assign(bob.clone(), alice(), at(9, 2)).is_empty());
    assert_eq!(incident.assignees(), &[bob]);
}

#[test]
fn incident_round_trips_through_json() {
    let mut incident = escalating();
    incident.acknowledge(alice(), at(9, 3)).unwrap();
    let json = serde_json::to_value(&incident).unwrap();
    assert_eq!(json["status"], "acknowledged");
    assert_eq!(json["acknowledged"]["by"], "user:alice");
    assert_eq!(json["escalation"]["status"], "acknowledged");
    let back: Incident = serde_json::from_value(json).unwrap();
    assert_eq!(back, incident);
}

#[test]
fn severity_override_changes_severity_once_with_an_entry() {
    let mut incident = open();
    let before = incident.severity();
    let target = if before == Severity::Info {
        Severity::Critical
    } else {
        Severity::Info
    };
    let draft = incident
        .override_severity(target, Actor::system("routing"), at(9, 1))
        .expect("a change is recorded");
    assert_eq!(incident.severity(), target);
    assert!(matches!(
        draft.entry,
        TimelineEntry::IncidentSeverityChanged { from, to } if from == before && to == target
    ));
    assert!(
        incident
            .override_severity(target, Actor::system("routing"), at(9, 2))
            .is_none()
    );
}

#[test]
fn counters_observed_at_zero_resolve_the_incident_once() {
    let mut incident = escalating();
    // Storage saw the open counter reach zero after two alerts resolved concurrently.
    incident.set_alert_counts(AlertCounts { linked: 2, open: 0 });
    assert_eq!(incident.alerts(), AlertCounts { linked: 2, open: 0 });
    let effects = incident
        .resolve_when_no_alert_is_open(prom(), at(9, 5))
        .unwrap();
    assert_eq!(
        types(&effects),
        vec![
            "io.klaxon.incident.resolved",
            "io.klaxon.escalation.stopped"
        ]
    );
    assert_eq!(cancels(&effects), 1);
    let resolution = incident.resolved().unwrap();
    assert_eq!(resolution.reason, ResolveReason::AllAlertsResolved);
    assert_eq!(resolution.by, prom());
    // Already resolved: nothing more.
    let again = incident.clone();
    assert!(
        incident
            .resolve_when_no_alert_is_open(prom(), at(9, 6))
            .unwrap()
            .is_empty()
    );
    assert_eq!(incident, again);
}

#[test]
fn an_open_alert_keeps_the_incident_open() {
    let mut incident = escalating();
    let before = incident.clone();
    assert!(
        incident
            .resolve_when_no_alert_is_open(prom(), at(9, 5))
            .unwrap()
            .is_empty()
    );
    assert_eq!(incident, before);
    assert_eq!(incident.status(), IncidentStatus::Triggered);
}
