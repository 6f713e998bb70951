use super::*;
use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

fn t0() -> Instant {
    Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap()
}

fn beat(name: &str) -> Heartbeat {
    Heartbeat {
        name: HeartbeatName::new(name).unwrap(),
        integration: IntegrationName::new("cron").unwrap(),
        interval: HumanDuration::from_mins(5),
        grace: HumanDuration::from_mins(1),
        severity: Severity::Critical,
        urgency: None,
        escalation_policy: None,
        description: Some("nightly backup".into()),
    }
}

#[test]
fn never_pinged_is_inactive_and_a_timer_for_it_is_stale() {
    assert_eq!(
        HeartbeatState::status(None, t0()),
        HeartbeatStatus::Inactive
    );
    let timer = HeartbeatTimer {
        heartbeat: HeartbeatName::new("backup").unwrap(),
        version: 1,
    };
    assert_eq!(expire(None, &timer, t0()), Expiry::Stale);
}

#[test]
fn ping_then_silence_expires_once_and_the_next_ping_recovers() {
    let hb = beat("backup");
    let first = ping(&hb, None, t0());
    assert_eq!(first.state.deadline, t0() + TimeDelta::minutes(6));
    assert_eq!(first.cancel, None);
    assert!(!first.recovered);
    assert_eq!(first.arm.timer_name().as_str(), "hb.backup.1");
    assert_eq!(
        HeartbeatState::status(Some(&first.state), t0()),
        HeartbeatStatus::Ok
    );

    let late = t0() + TimeDelta::minutes(7);
    let Expiry::Expired(expired) = expire(Some(&first.state), &first.arm, late) else {
        panic!("the armed timer after its deadline expires the heartbeat");
    };
    assert_eq!(expired.expired_at, Some(late));
    assert_eq!(
        HeartbeatState::status(Some(&expired), late),
        HeartbeatStatus::Expired
    );
    // The same timer delivered again: the alert is re-sent (a repeat), nothing else changes.
    assert_eq!(
        expire(Some(&expired), &first.arm, late),
        Expiry::AlreadyExpired
    );

    let again = ping(&hb, Some(&expired), late + TimeDelta::minutes(1));
    assert!(again.recovered);
    assert_eq!(again.cancel, None, "the fired timer needs no cancel");
    assert_eq!(again.state.expired_at, None);
    // The old timer arriving now is stale: it neither expires nor re-sends.
    assert_eq!(expire(Some(&again.state), &first.arm, late), Expiry::Stale);
}

#[test]
fn a_ping_cancels_the_previous_timer_and_a_late_old_timer_is_a_no_op() {
    let hb = beat("backup");
    let first = ping(&hb, None, t0());
    let second = ping(&hb, Some(&first.state), t0() + TimeDelta::minutes(4));
    assert_eq!(second.cancel.as_ref(), Some(&first.arm));
    assert_ne!(second.arm.timer_name(), first.arm.timer_name());
    // The first timer fires late, after its own deadline but before the new one.
    let at = t0() + TimeDelta::minutes(7);
    assert_eq!(expire(Some(&second.state), &first.arm, at), Expiry::Stale);
    assert_eq!(expire(Some(&second.state), &second.arm, at), Expiry::NotDue);
}

#[test]
fn longest_name_gives_a_timer_name_within_the_scheduler_limit() {
    let timer = HeartbeatTimer {
        heartbeat: HeartbeatName::new("a".repeat(MAX_HEARTBEAT_NAME_LEN)).unwrap(),
        version: u64::MAX,
    };
    let name = timer.timer_name();
    assert_eq!(name.as_str().len(), MAX_TIMER_NAME_LEN);
    assert!(TimerName::is_valid(name.as_str()));
    assert!(HeartbeatName::new("a".repeat(MAX_HEARTBEAT_NAME_LEN + 1)).is_err());
    assert!(HeartbeatName::new("Backup").is_err());
    assert!(HeartbeatName::new("").is_err());
}

#[test]
fn payload_json_is_the_documented_shape() {
    let timer: HeartbeatTimer =
        serde_json::from_str(r#"{"heartbeat":"backup","version":3}"#).unwrap();
    assert_eq!(timer.version, 3);
    // An incident timer's payload is not a heartbeat timer's.
    assert!(
        serde_json::from_str::<HeartbeatTimer>(
            r#"{"incident":"0192abcd","round":0,"tier":1,"version":3}"#
        )
        .is_err()
    );
}

#[test]
fn the_missed_alert_has_a_stable_dedup_key_and_the_heartbeat_label() {
    let hb = beat("backup");
    let a = hb.missed_alert(t0(), t0() + TimeDelta::minutes(7)).unwrap();
    let b = hb.missed_alert(t0(), t0() + TimeDelta::hours(9)).unwrap();
    assert_eq!(a.dedup_key, b.dedup_key);
    assert_eq!(
        a.labels.get(HEARTBEAT_LABEL).map(String::as_str),
        Some("backup")
    );
    assert_eq!(a.severity, Severity::Critical);
    assert!(a.check_limits().is_ok());
}

#[derive(Debug, Clone)]
enum Step {
    /// A ping this many minutes after the previous step.
    Ping(i64),
    /// Deliver the timer armed by ping number `n` (modulo the pings so far), at this many
    /// minutes after the previous step.
    Fire(usize, i64),
}

#[test]
fn only_a_resolved_alertmanager_or_grafana_notification_is_not_a_ping() {
    // Alertmanager's webhook payload (v4) for a Watchdog that stopped firing.
    let resolved = br#"{"version":"4","groupKey":"{}:{alertname=\"Watchdog\"}","status":"resolved",
        "receiver":"klaxon-heartbeat","alerts":[{"status":"resolved","labels":{"alertname":"Watchdog"}}]}"#;
    assert_eq!(
        ignored_ping(resolved),
        Some(IgnoredPing::ResolvedNotification)
    );
    let firing = br#"{"version":"4","status":"firing","alerts":[{"status":"firing"}]}"#;
    for counts in [
        &b""[..],
        &firing[..],
        b"pg_dump done",
        br#"{"status":"resolved"}"#,
        br#"{"status":"resolved","alerts":"none"}"#,
        br#"["resolved"]"#,
        b"{not json",
    ] {
        assert_eq!(
            ignored_ping(counts),
            None,
            "{}",
            String::from_utf8_lossy(counts)
        );
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0i64..10).prop_map(Step::Ping),
        (0usize..8, 0i64..10).prop_map(|(n, m)| Step::Fire(n, m)),
    ]
}

proptest! {
    /// Whatever order pings and (duplicate, late, stale) timer deliveries come in, an alert is
    /// opened only by the timer of the latest ping after its deadline, at most once per
    /// silence, and the version never goes back.
    #[test]
    fn expiries_follow_only_the_latest_ping(steps in prop::collection::vec(step(), 1..40)) {
        let hb = beat("backup");
        let mut now = t0();
        let mut state: Option<HeartbeatState> = None;
        let mut armed: Vec<HeartbeatTimer> = Vec::new();
        for step in steps {
            match step {
                Step::Ping(minutes) => {
                    now += TimeDelta::minutes(minutes);
                    let outcome = ping(&hb, state.as_ref(), now);
                    if let Some(previous) = &state {
                        prop_assert!(outcome.state.version > previous.version);
                        prop_assert_eq!(outcome.recovered, previous.expired_at.is_some());
                    }
                    armed.push(outcome.arm.clone());
                    state = Some(outcome.state);
                }
                Step::Fire(n, minutes) => {
                    now += TimeDelta::minutes(minutes);
                    let Some(timer) = armed.get(n % armed.len().max(1)).cloned() else {
                        continue;
                    };
                    let current = state.clone();
                    match expire(current.as_ref(), &timer, now) {
                        Expiry::Expired(next) => {
                            let current = current.unwrap();
                            prop_assert_eq!(current.timer_version, Some(timer.version));
                            prop_assert!(now >= current.deadline);
                            prop_assert_eq!(Some(&timer), armed.last());
                            prop_assert!(current.expired_at.is_none());
                            state = Some(next);
                        }
                        Expiry::AlreadyExpired => {
                            let current = current.unwrap();
                            prop_assert_eq!(current.expired_by, Some(timer.version));
                        }
                        Expiry::NotDue => prop_assert!(now < current.unwrap().deadline),
                        Expiry::Stale => {
                            prop_assert!(current.unwrap().timer_version != Some(timer.version));
                        }
                    }
                }
            }
        }
    }
}
