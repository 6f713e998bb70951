use super::*;
use crate::Instant;
use crate::alert::Severity;
use crate::ids::{AlertId, DedupKey, GroupKey, IncidentId, IntegrationName, PolicyId, UserId};
use crate::user::Channel;
use crate::vocabulary::{
    EscalationStatus, ExhaustedReason, ResolveReason, StopReason, SuppressionReason, Target,
    Urgency,
};
use chrono::TimeZone;
use serde_json::json;

fn at(h: u32, m: u32) -> Instant {
    chrono::Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap()
}

fn incident() -> IncidentId {
    IncidentId::new("0192abcd").unwrap()
}

fn tier_paged_record() -> TimelineRecord {
    TimelineDraft::new(
        incident(),
        EntryKey::new("escalation.v1.0").unwrap(),
        at(9, 0),
        Actor::system("routing"),
        TimelineEntry::TierPaged {
            policy: PolicyId::new("infra").unwrap(),
            round: 0,
            tier: 0,
            targets: vec![Target::User(UserId::new("alice").unwrap())],
            urgency: Urgency::High,
            escalates_at: Some(at(9, 5)),
        },
    )
    .into_record(EventSource::klaxon("routing").unwrap())
}

/// Every entry kind, with representative data.
fn one_of_each() -> Vec<TimelineEntry> {
    let mut entries = incident_and_alert_entries();
    entries.extend(escalation_and_notification_entries());
    entries.extend(responder_entries());
    entries.extend(postmortem_entries());
    entries
}

/// The post-mortem entry kinds.
fn postmortem_entries() -> Vec<TimelineEntry> {
    use crate::ids::{ActionItemId, TemplateName};
    use crate::vocabulary::{ActionStatus, PostmortemStatus};
    let item = ActionItemId::new("ai-1").unwrap();
    vec![
        TimelineEntry::PostmortemCreated {
            template: TemplateName::shipped_default(),
        },
        TimelineEntry::PostmortemStatusChanged {
            from: PostmortemStatus::Draft,
            to: PostmortemStatus::InReview,
        },
        TimelineEntry::PostmortemPublished {},
        TimelineEntry::ActionItemAdded {
            item: item.clone(),
            title: "alert on disk".into(),
            owner: Some(UserId::new("bob").unwrap()),
        },
        TimelineEntry::ActionItemUpdated {
            item,
            status: ActionStatus::Done,
        },
    ]
}

/// The responder action entry kinds.
fn responder_entries() -> Vec<TimelineEntry> {
    use crate::vocabulary::{RetriggerReason, Target};
    let bob = Target::User(UserId::new("bob").unwrap());
    vec![
        TimelineEntry::IncidentSnoozed { until: at(11, 0) },
        TimelineEntry::SnoozeCancelled {},
        TimelineEntry::AckTimeoutArmed { at: at(11, 30) },
        TimelineEntry::IncidentRetriggered {
            reason: RetriggerReason::SnoozeEnded,
            round: 0,
            tier: 1,
        },
        TimelineEntry::IncidentReassigned {
            policy: PolicyId::new("direct").unwrap(),
            target: Some(bob.clone()),
        },
        TimelineEntry::EscalatedByHand { round: 0, tier: 0 },
        TimelineEntry::RespondersAdded { targets: vec![bob] },
        TimelineEntry::NoteAdded {
            text: "rolled back".into(),
        },
    ]
}

/// The incident and alert entry kinds.
fn incident_and_alert_entries() -> Vec<TimelineEntry> {
    let alice = UserId::new("alice").unwrap();
    let alert = AlertId::new("a1").unwrap();
    vec![
        TimelineEntry::IncidentTriggered {
            number: 7,
            title: "disk full".into(),
            severity: Severity::Critical,
            group_key: GroupKey("abc".into()),
            integration: IntegrationName::new("prom").unwrap(),
        },
        TimelineEntry::IncidentAcknowledged {},
        TimelineEntry::IncidentResolved {
            reason: ResolveReason::AllAlertsResolved,
        },
        TimelineEntry::IncidentSuppressed {
            reason: SuppressionReason::MaintenanceWindow {
                window: crate::ids::RuleId::new("db-upgrade").unwrap(),
            },
        },
        TimelineEntry::IncidentSeverityChanged {
            from: Severity::Warning,
            to: Severity::Critical,
        },
        TimelineEntry::IncidentAssigned {
            user: alice.clone(),
        },
        TimelineEntry::AlertLinked {
            alert: alert.clone(),
            integration: IntegrationName::new("prom").unwrap(),
            dedup_key: DedupKey::new("disk:/var").unwrap(),
            summary: "disk full".into(),
            severity: Severity::Error,
        },
        TimelineEntry::AlertResolved {
            alert: alert.clone(),
            open_alerts: 2,
        },
        TimelineEntry::ChangeRecorded {
            change: "c1".into(),
            integration: IntegrationName::new("pd").unwrap(),
            summary: "deploy api v1.2".into(),
            source: Some("ci".into()),
            happened_at: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 1, 1, 0, 0, 0)
                .unwrap(),
        },
        TimelineEntry::AlertUpdated {
            alert,
            dedup_key: DedupKey::new("disk:/var").unwrap(),
            change: crate::alert::AlertChange::Priority {
                priority: "P1".into(),
                severity: Severity::Critical,
            },
        },
    ]
}

/// The escalation and notification entry kinds.
fn escalation_and_notification_entries() -> Vec<TimelineEntry> {
    let policy = PolicyId::new("infra").unwrap();
    let alice = UserId::new("alice").unwrap();
    vec![
        TimelineEntry::TierPaged {
            policy: policy.clone(),
            round: 1,
            tier: 2,
            targets: vec![Target::Schedule(
                crate::ids::ScheduleId::new("primary").unwrap(),
            )],
            urgency: Urgency::Low,
            escalates_at: None,
        },
        TimelineEntry::TierSkipped {
            policy: policy.clone(),
            round: 0,
            tier: 1,
            targets: vec![],
        },
        TimelineEntry::EscalationExhausted {
            policy: policy.clone(),
            reason: ExhaustedReason::NobodyOnCall,
        },
        TimelineEntry::EscalationStopped {
            policy,
            reason: StopReason::Acknowledged,
            previous: EscalationStatus::Active,
            round: 0,
            tier: 1,
        },
        TimelineEntry::NotificationDelivered {
            user: alice.clone(),
            channel: Channel::Sms,
            round: 0,
            tier: 0,
            provider_id: Some("msg-1".into()),
        },
        TimelineEntry::NotificationFailed {
            user: alice.clone(),
            channel: Channel::Email,
            round: 0,
            tier: 0,
            error: "MessageRejected".into(),
            retrying: false,
        },
        TimelineEntry::NoticeDelivered {
            user: alice.clone(),
            channel: Channel::Slack,
            notice: StopReason::Acknowledged,
            provider_id: None,
        },
        TimelineEntry::NoticeFailed {
            user: alice,
            channel: Channel::Sms,
            notice: StopReason::Resolved,
            error: "throttled".into(),
            retrying: true,
        },
    ]
}

#[test]
fn record_serialises_as_a_cloudevent_with_every_required_attribute() {
    let value = tier_paged_record().to_cloud_event().unwrap();
    assert_eq!(value["specversion"], "1.0");
    assert_eq!(value["id"], "0192abcd/escalation.v1.0");
    assert_eq!(value["source"], "/klaxon/routing");
    assert_eq!(value["type"], "io.klaxon.escalation.tier_paged");
    assert_eq!(value["subject"], "0192abcd");
    assert_eq!(value["time"], "2026-01-05T09:00:00Z");
    assert_eq!(value["datacontenttype"], "application/json");
    assert_eq!(value["actor"], "system:routing");
    assert_eq!(
        value["data"],
        json!({
            "policy": "infra", "round": 0, "tier": 0,
            "targets": [{"user": "alice"}], "urgency": "high",
            "escalates_at": "2026-01-05T09:05:00Z"
        })
    );
    let time = value["time"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok());
}

#[test]
fn attribute_names_follow_the_cloudevents_naming_rule() {
    // Names: lowercase ASCII letters and digits, at most 20 characters (and never "data" for
    // a context attribute, which is reserved for the payload member).
    let value = tier_paged_record().to_cloud_event().unwrap();
    let object = value.as_object().unwrap();
    for name in object.keys() {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && name.len() <= 20,
            "{name}"
        );
    }
    assert!(object.contains_key("data"));
    assert!(object["data"].is_object());
}

#[test]
fn every_entry_kind_round_trips_and_its_type_matches_event_type() {
    for (n, entry) in one_of_each().into_iter().enumerate() {
        let record = TimelineDraft::new(
            incident(),
            EntryKey::new(format!("k{n}")).unwrap(),
            at(10, n as u32),
            Actor::user(UserId::new("bob").unwrap()),
            entry.clone(),
        )
        .into_record(EventSource::klaxon("api").unwrap());
        let value = record.to_cloud_event().unwrap();
        assert_eq!(value["type"], entry.event_type());
        assert!(value["data"].is_object(), "{}", entry.event_type());
        let back = TimelineRecord::from_cloud_event(value).unwrap();
        assert_eq!(back, record);
    }
}

#[test]
fn parsing_rejects_wrong_specversion_content_type_id_type_and_data() {
    let good = tier_paged_record().to_cloud_event().unwrap();
    let with = |key: &str, v: serde_json::Value| {
        let mut event = good.clone();
        event[key] = v;
        TimelineRecord::from_cloud_event(event)
    };
    let err = with("specversion", json!("0.3")).unwrap_err().to_string();
    assert!(err.contains("specversion"), "{err}");
    let err = with("datacontenttype", json!("text/xml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("datacontenttype"), "{err}");
    assert!(with("id", json!("")).is_err());
    assert!(with("source", json!("has space")).is_err());
    assert!(with("time", json!("yesterday")).is_err());
    assert!(with("type", json!("io.klaxon.incident.exploded")).is_err());
    assert!(with("data", json!({"policy": "infra"})).is_err());
    assert!(with("actor", json!("robot:r2")).is_err());
    // Parameters on the media type and unknown extension attributes are fine.
    assert!(with("datacontenttype", json!("application/json; charset=utf-8")).is_ok());
    assert!(with("traceparent", json!("00-abc")).is_ok());
    // Required attributes must be present.
    for required in ["specversion", "id", "source", "type"] {
        let mut event = good.clone();
        event.as_object_mut().unwrap().remove(required);
        assert!(
            TimelineRecord::from_cloud_event(event).is_err(),
            "{required}"
        );
    }
    // datacontenttype is optional: JSON is implied.
    let mut event = good.clone();
    event.as_object_mut().unwrap().remove("datacontenttype");
    assert!(TimelineRecord::from_cloud_event(event).is_ok());
}

#[test]
fn actor_round_trips_through_its_string_form() {
    let actors = [
        Actor::system("routing"),
        Actor::user(UserId::new("alice").unwrap()),
        Actor::integration(IntegrationName::new("alertmanager-prod").unwrap()),
        Actor::ApiKey {
            name: "ci:deploy".into(),
        },
    ];
    let strings = [
        "system:routing",
        "user:alice",
        "integration:alertmanager-prod",
        "apikey:ci:deploy",
    ];
    for (actor, text) in actors.iter().zip(strings) {
        assert_eq!(actor.to_string(), text);
        assert_eq!(&text.parse::<Actor>().unwrap(), actor);
        assert_eq!(serde_json::to_value(actor).unwrap(), json!(text));
    }
    assert!("user:Alice".parse::<Actor>().is_err());
    assert!("user:".parse::<Actor>().is_err());
    assert!("alice".parse::<Actor>().is_err());
    // Control characters never reach the CloudEvents string.
    assert_eq!(Actor::system("a\nb").to_string(), "system:a\u{FFFD}b");
}

#[test]
fn ids_are_deterministic_and_keys_validated() {
    let a = tier_paged_record();
    let b = tier_paged_record();
    assert_eq!(a.id, b.id);
    assert!(EntryKey::new("delivery:abc-1.2_x").is_ok());
    assert!(EntryKey::new("").is_err());
    assert!(EntryKey::new("has space").is_err());
    assert!(EntryKey::new("x".repeat(129)).is_err());
    assert!(EventSource::new("urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66").is_ok());
    assert!(EventSource::new("").is_err());
}
