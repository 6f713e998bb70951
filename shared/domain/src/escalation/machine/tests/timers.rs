//! Paging tier by tier as timers fire, rounds, and timers delivered twice, late or stale.

use super::*;

#[test]
fn start_pages_tier_zero_and_arms_its_timer() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let t = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    assert!(t.is_applied());
    assert_eq!(pages(&t), vec![(0, 0)]);
    let Some(Effect::Page(page)) = t.effects.first() else {
        panic!("first effect is the page: {:?}", t.effects)
    };
    assert_eq!(page.targets, vec![person("alice")]);
    assert_eq!(page.urgency, Urgency::High);
    assert_eq!(page.resolve_at, at(9, 0));
    let timers = armed(&t);
    assert_eq!(timers.len(), 1);
    let (name, due, payload) = &timers[0];
    assert_eq!(name.as_str(), "0192abcd-r0-t0");
    assert_eq!(*due, at(9, 5));
    assert_eq!(
        payload,
        &TimerPayload {
            incident: incident(),
            round: 0,
            tier: 0,
            version: 1,
            kind: Default::default(),
            cycle: 0,
        }
    );
    assert_eq!(t.state.status(), EscalationStatus::Active);
    assert_eq!(t.state.version(), 1);
    assert_eq!(t.state.next_due(), Some(at(9, 5)));
    assert_eq!(t.state.timer(), Some(name));
    assert_eq!(types(&t), vec!["io.klaxon.escalation.tier_paged"]);
    assert_eq!(entries(&t)[0].key.as_str(), "escalation.v1.0");
}

#[test]
fn timers_advance_tier_by_tier_each_with_its_own_delay() {
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
    assert_eq!(pages(&t1), vec![(0, 1)]);
    assert_eq!(armed(&t1)[0].1, at(9, 15));
    assert_eq!(armed(&t1)[0].2.version, 2);
    assert_eq!(armed(&t1)[0].0.as_str(), "0192abcd-r0-t1");
    let t2 = fire(&t1, &policy, &roster, at(9, 15));
    assert_eq!(pages(&t2), vec![(0, 2)]);
    assert_eq!(armed(&t2)[0].1, at(9, 30));
    assert_eq!((t2.state.round(), t2.state.tier()), (0, 2));
    assert_eq!(t2.state.version(), 3);
}

#[test]
fn rounds_repeat_from_tier_zero_then_exhaust_after_the_last_delay() {
    let policy = policy(&[(&[person("alice")], 5), (&[person("bob")], 5)], 1);
    let roster = everyone(&policy);
    let mut t = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let mut paged = pages(&t);
    let mut minute = 0;
    while t.state.status() == EscalationStatus::Active {
        minute += 5;
        t = fire(&t, &policy, &roster, at(9, minute));
        paged.extend(pages(&t));
    }
    assert_eq!(paged, vec![(0, 0), (0, 1), (1, 0), (1, 1)]);
    // The last tier of the last round had its 5 minutes before exhaustion.
    assert_eq!(minute, 20);
    assert_eq!(t.state.status(), EscalationStatus::Exhausted);
    assert!(armed(&t).is_empty());
    assert_eq!(t.state.timer(), None);
    assert_eq!(t.state.next_due(), None);
    assert_eq!(types(&t), vec!["io.klaxon.escalation.exhausted"]);
    assert!(matches!(
        entries(&t)[0].entry,
        TimelineEntry::EscalationExhausted {
            reason: ExhaustedReason::RoundsCompleted,
            ..
        }
    ));
    // An exhausted escalation ignores further timers and can still be acknowledged.
    let stale = TimerPayload {
        incident: incident(),
        round: 1,
        tier: 1,
        version: t.state.version(),
        kind: Default::default(),
        cycle: 0,
    };
    let again = run(
        &t.state,
        EscalationEvent::TimerFired(stale),
        &policy,
        &roster,
        at(10, 0),
    );
    assert_eq!(again.outcome, Outcome::Ignored(Ignored::StaleTimer));
    let acked = run(&t.state, alice_acks(), &policy, &roster, at(10, 0));
    assert_eq!(acked.state.status(), EscalationStatus::Acknowledged);
    assert!(acked.effects.is_empty());
}

#[test]
fn the_same_timer_delivered_twice_pages_once() {
    let policy = three_tiers(0);
    let roster = everyone(&policy);
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let (_, _, payload) = armed(&t0).pop().unwrap();
    let first = run(
        &t0.state,
        EscalationEvent::TimerFired(payload.clone()),
        &policy,
        &roster,
        at(9, 5),
    );
    assert_eq!(pages(&first), vec![(0, 1)]);
    let second = run(
        &first.state,
        EscalationEvent::TimerFired(payload),
        &policy,
        &roster,
        at(9, 6),
    );
    assert_eq!(second.outcome, Outcome::Ignored(Ignored::StaleTimer));
    assert!(second.effects.is_empty());
    assert_eq!(second.state, first.state);
}

#[test]
fn a_timer_from_an_older_version_is_stale() {
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
    // Same position, older version; and the right version at the wrong position. (A newer
    // version is not stale but early: see the next test.)
    for (round, tier, version) in [(0, 1, 1), (0, 0, 2), (1, 1, 2)] {
        let payload = TimerPayload {
            incident: incident(),
            round,
            tier,
            version,
            kind: Default::default(),
            cycle: 0,
        };
        let t = run(
            &t1.state,
            EscalationEvent::TimerFired(payload),
            &policy,
            &roster,
            at(9, 20),
        );
        assert_eq!(t.outcome, Outcome::Ignored(Ignored::StaleTimer));
        assert!(t.effects.is_empty());
        assert_eq!(t.state, t1.state);
    }
}

#[test]
fn a_timer_whose_version_is_ahead_was_armed_by_a_write_not_yet_committed() {
    // Timers are armed before the write that records them commits, so a short timer can be
    // delivered while the state still has the previous version: it is not stale and must not
    // be dropped; the caller retries it once the write has committed.
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
    let armed = t1.state.armed_timer(&incident()).unwrap();
    let early = run(
        &t0.state,
        EscalationEvent::TimerFired(armed.clone()),
        &policy,
        &roster,
        at(9, 5),
    );
    assert_eq!(early.outcome, Outcome::Ignored(Ignored::NotYetCommitted));
    assert!(early.effects.is_empty());
    assert_eq!(early.state, t0.state);
    // Once the write has committed the same delivery advances the escalation.
    let late = run(
        &t1.state,
        EscalationEvent::TimerFired(armed),
        &policy,
        &roster,
        at(9, 10),
    );
    assert_eq!(late.outcome, Outcome::Applied);
}

#[test]
fn a_timer_arriving_after_ack_or_resolve_pages_nobody() {
    let policy = three_tiers(2);
    let roster = everyone(&policy);
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    // The timer payload was computed (armed) before the ack; it is delivered after it.
    let (_, _, payload) = armed(&t0).pop().unwrap();
    for stop in [alice_acks(), bob_resolves()] {
        let stopped = run(&t0.state, stop, &policy, &roster, at(9, 4));
        let late = run(
            &stopped.state,
            EscalationEvent::TimerFired(payload.clone()),
            &policy,
            &roster,
            at(9, 5),
        );
        assert_eq!(late.outcome, Outcome::Ignored(Ignored::StaleTimer));
        assert!(late.effects.is_empty());
        assert_eq!(late.state, stopped.state);
    }
}
