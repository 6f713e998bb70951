//! Acknowledge and resolve, events before the start, and redelivered starts.

use super::*;

#[test]
fn ack_and_resolve_cancel_the_pending_timer_and_name_the_actor() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let t1 = fire(&t0, &policy, &roster, at(9, 5));
    for (event, status, actor) in [
        (
            alice_acks(),
            EscalationStatus::Acknowledged,
            Actor::user(user("alice")),
        ),
        (
            bob_resolves(),
            EscalationStatus::Resolved,
            Actor::user(user("bob")),
        ),
    ] {
        let t = run(&t1.state, event, &policy, &roster, at(9, 7));
        assert!(t.is_applied());
        assert_eq!(t.state.status(), status);
        assert_eq!(t.state.version(), t1.state.version() + 1);
        assert_eq!(cancelled(&t), vec![TimerName::for_tier(&incident(), 0, 1)]);
        assert!(pages(&t).is_empty() && armed(&t).is_empty());
        assert_eq!(t.state.timer(), None);
        assert_eq!(t.state.next_due(), None);
        let drafts = entries(&t);
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].actor, actor);
        assert_eq!(drafts[0].time, at(9, 7));
        assert!(matches!(
            drafts[0].entry,
            TimelineEntry::EscalationStopped {
                previous: EscalationStatus::Active,
                round: 0,
                tier: 1,
                ..
            }
        ));
    }
}

#[test]
fn invalid_and_repeated_stops_are_typed_errors() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let active = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    )
    .state;
    let acked = run(&active, alice_acks(), &policy, &roster, at(9, 1)).state;
    let err = step(
        &incident(),
        &acked,
        &alice_acks(),
        &policy,
        &roster,
        at(9, 2),
    );
    assert_eq!(err, Err(EscalationError::AlreadyAcknowledged));

    // Resolve after acknowledge is fine: nothing left to cancel, no second "stopped" entry.
    let resolved = run(&acked, bob_resolves(), &policy, &roster, at(9, 3));
    assert_eq!(resolved.state.status(), EscalationStatus::Resolved);
    assert_eq!(resolved.state.version(), acked.version() + 1);
    assert!(resolved.effects.is_empty());

    for event in [alice_acks(), bob_resolves()] {
        let err = step(
            &incident(),
            &resolved.state,
            &event,
            &policy,
            &roster,
            at(9, 4),
        );
        assert_eq!(err, Err(EscalationError::AlreadyResolved));
    }
    // Start on a stopped escalation is a no-op, never a page.
    let t = run(
        &resolved.state,
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 5),
    );
    assert_eq!(t.outcome, Outcome::Ignored(Ignored::AlreadyStopped));
    assert!(t.effects.is_empty());
}

#[test]
fn events_on_a_not_started_escalation() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let fresh = new_state(&policy, Urgency::High);
    // A timer cannot belong to an escalation that never armed one.
    let forged = TimerPayload {
        incident: incident(),
        round: 0,
        tier: 0,
        version: 0,
        kind: Default::default(),
        cycle: 0,
    };
    let t = run(
        &fresh,
        EscalationEvent::TimerFired(forged),
        &policy,
        &roster,
        at(9, 0),
    );
    assert_eq!(t.outcome, Outcome::Ignored(Ignored::StaleTimer));
    assert_eq!(t.state, fresh);
    // Acknowledged before routing started it: it stops, and a later Start pages nobody.
    let acked = run(&fresh, alice_acks(), &policy, &roster, at(9, 0));
    assert_eq!(acked.state.status(), EscalationStatus::Acknowledged);
    assert!(cancelled(&acked).is_empty());
    assert!(matches!(
        entries(&acked)[0].entry,
        TimelineEntry::EscalationStopped {
            previous: EscalationStatus::NotStarted,
            reason: StopReason::Acknowledged,
            ..
        }
    ));
    let start = run(
        &acked.state,
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 1),
    );
    assert_eq!(start.outcome, Outcome::Ignored(Ignored::AlreadyStopped));
    assert!(start.effects.is_empty());
    // Resolved before it started.
    let resolved = run(&fresh, bob_resolves(), &policy, &roster, at(9, 0));
    assert_eq!(resolved.state.status(), EscalationStatus::Resolved);
}

#[test]
fn a_redelivered_start_is_ignored() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let again = run(
        &t0.state,
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 1),
    );
    assert_eq!(again.outcome, Outcome::Ignored(Ignored::AlreadyStarted));
    assert!(again.effects.is_empty());
    assert_eq!(again.state, t0.state);
}
