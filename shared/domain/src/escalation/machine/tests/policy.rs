//! Urgency, policies without tiers, typed errors, determinism, the sweep, JSON and dedup keys.

use super::*;

#[test]
fn low_urgency_pages_tier_zero_only_and_never_escalates() {
    let policy = three_tiers(3);
    let roster = everyone(&policy);
    let t = run(
        &new_state(&policy, Urgency::Low),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    assert_eq!(pages(&t), vec![(0, 0)]);
    let Some(Effect::Page(page)) = t.effects.first() else {
        panic!("page first")
    };
    assert_eq!(page.urgency, Urgency::Low);
    assert!(armed(&t).is_empty());
    assert_eq!(t.state.status(), EscalationStatus::Active);
    assert_eq!(t.state.next_due(), None);
    assert_eq!(t.state.timer(), None);
    assert_eq!(t.state.armed_timer(&incident()), None);
    assert!(matches!(
        entries(&t)[0].entry,
        TimelineEntry::TierPaged {
            urgency: Urgency::Low,
            escalates_at: None,
            ..
        }
    ));
    // Even a payload that looks current does not escalate a low-urgency incident.
    let forged = TimerPayload {
        incident: incident(),
        round: 0,
        tier: 0,
        version: t.state.version(),
        kind: Default::default(),
        cycle: 0,
    };
    let fired = run(
        &t.state,
        EscalationEvent::TimerFired(forged),
        &policy,
        &roster,
        at(10, 0),
    );
    assert_eq!(fired.outcome, Outcome::Ignored(Ignored::StaleTimer));
    // Acknowledging it cancels nothing.
    let acked = run(&t.state, alice_acks(), &policy, &roster, at(10, 0));
    assert!(cancelled(&acked).is_empty());
    assert_eq!(acked.state.status(), EscalationStatus::Acknowledged);
}

#[test]
fn low_urgency_with_nobody_on_tier_zero_is_exhausted_not_escalated() {
    let policy = three_tiers(3);
    // Tier 1 has someone, but low urgency never pages beyond tier 0.
    let roster = Roster::default().with(schedule("primary"), "bob");
    let t = run(
        &new_state(&policy, Urgency::Low),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    assert!(pages(&t).is_empty() && armed(&t).is_empty());
    assert_eq!(t.state.status(), EscalationStatus::Exhausted);
    assert_eq!(
        types(&t),
        vec![
            "io.klaxon.escalation.tier_skipped",
            "io.klaxon.escalation.exhausted"
        ]
    );
    assert!(matches!(
        entries(&t)[1].entry,
        TimelineEntry::EscalationExhausted {
            reason: ExhaustedReason::NobodyOnCall,
            ..
        }
    ));
}

#[test]
fn a_policy_without_tiers_is_exhausted_at_start() {
    let policy = policy(&[], 2);
    let t = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &Roster::default(),
        at(9, 0),
    );
    assert_eq!(t.state.status(), EscalationStatus::Exhausted);
    assert!(pages(&t).is_empty() && armed(&t).is_empty());
    assert!(matches!(
        entries(&t)[0].entry,
        TimelineEntry::EscalationExhausted {
            reason: ExhaustedReason::NoTiers,
            ..
        }
    ));
}

#[test]
fn wrong_policy_wrong_incident_and_huge_delay_are_errors() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let mut other = policy.clone();
    other.id = PolicyId::new("other").unwrap();
    let state = new_state(&policy, Urgency::High);
    let err = step(
        &incident(),
        &state,
        &EscalationEvent::Start,
        &other,
        &roster,
        at(9, 0),
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("policy:"), "{err}");

    let active = run(&state, EscalationEvent::Start, &policy, &roster, at(9, 0)).state;
    let mut payload = active.armed_timer(&incident()).unwrap();
    payload.incident = IncidentId::new("ffff").unwrap();
    let err = step(
        &incident(),
        &active,
        &EscalationEvent::TimerFired(payload),
        &policy,
        &roster,
        at(9, 5),
    );
    assert!(matches!(err, Err(EscalationError::WrongIncident { .. })));

    let mut huge = policy.clone();
    huge.tiers[0].delay = HumanDuration::from_secs(i64::MAX);
    let err = step(
        &incident(),
        &state,
        &EscalationEvent::Start,
        &huge,
        &roster,
        at(9, 0),
    );
    assert_eq!(
        err,
        Err(EscalationError::DelayOutOfRange {
            tier: 0,
            delay: HumanDuration::from_secs(i64::MAX)
        })
    );
}

#[test]
fn re_running_a_step_gives_identical_effects() {
    let policy = three_tiers(1);
    let roster = Roster::default()
        .with(person("alice"), "alice")
        .with(person("carol"), "carol");
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let (_, _, payload) = armed(&t0).pop().unwrap();
    let event = EscalationEvent::TimerFired(payload);
    let first = run(&t0.state, event.clone(), &policy, &roster, at(9, 5));
    let second = run(&t0.state, event, &policy, &roster, at(9, 5));
    assert_eq!(first, second);
    // The step skipped tier 1 and paged tier 2: two timeline entries with distinct keys.
    let keys: Vec<_> = entries(&first).iter().map(|d| d.key.clone()).collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
}

#[test]
fn the_sweep_fires_an_overdue_timer_and_the_real_one_then_is_stale() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    assert_eq!(t0.state.overdue_timer(&incident(), at(9, 4)), None);
    let overdue = t0.state.overdue_timer(&incident(), at(9, 5)).unwrap();
    assert_eq!(overdue, armed(&t0)[0].2);
    let swept = run(
        &t0.state,
        EscalationEvent::TimerFired(overdue.clone()),
        &policy,
        &roster,
        at(9, 7),
    );
    assert_eq!(pages(&swept), vec![(0, 1)]);
    let real = run(
        &swept.state,
        EscalationEvent::TimerFired(overdue),
        &policy,
        &roster,
        at(9, 8),
    );
    assert_eq!(real.outcome, Outcome::Ignored(Ignored::StaleTimer));
}

#[test]
fn state_and_effects_round_trip_through_json() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let t = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let json = serde_json::to_value(&t.state).unwrap();
    assert_eq!(json["status"], "active");
    assert_eq!(json["timer"], "0192abcd-r0-t0");
    let back: EscalationState = serde_json::from_value(json).unwrap();
    assert_eq!(back, t.state);
    for effect in &t.effects {
        let json = serde_json::to_string(effect).unwrap();
        assert_eq!(&serde_json::from_str::<Effect>(&json).unwrap(), effect);
    }
    let event = alice_acks();
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"kind": "acknowledge", "actor": "user:alice"})
    );
}

#[test]
fn page_dedup_key_names_incident_round_tier_user_and_channel() {
    let page = PageRequest {
        incident: incident(),
        policy: PolicyId::new("infra").unwrap(),
        round: 1,
        tier: 2,
        targets: vec![],
        urgency: Urgency::High,
        resolve_at: at(9, 0),
        cycle: 0,
        responders: None,
        quiet_hours: false,
    };
    assert_eq!(
        page.dedup_key(&user("alice"), Channel::Sms),
        "0192abcd/r1/t2/alice/sms"
    );
}
