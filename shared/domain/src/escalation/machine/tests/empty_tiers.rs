//! Tiers with nobody on call are skipped, and a policy with nobody at all is exhausted.

use super::*;

#[test]
fn an_empty_first_tier_is_skipped_at_once() {
    let policy = three_tiers(0);
    // Nobody on the primary schedule or alice; carol is on call.
    let roster = Roster::default().with(schedule("primary"), "bob");
    let t = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    assert_eq!(pages(&t), vec![(0, 1)]);
    // Tier 1's delay, counted from now: tier 0's 5 minutes are not waited out.
    assert_eq!(armed(&t)[0].1, at(9, 10));
    assert_eq!(
        types(&t),
        vec![
            "io.klaxon.escalation.tier_skipped",
            "io.klaxon.escalation.tier_paged"
        ]
    );
    assert!(matches!(
        &entries(&t)[0].entry,
        TimelineEntry::TierSkipped { round: 0, tier: 0, targets, .. } if targets == &vec![person("alice")]
    ));
    let keys: Vec<_> = entries(&t).iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, vec!["escalation.v1.0", "escalation.v1.1"]);
}

#[test]
fn an_empty_middle_tier_is_skipped_when_its_turn_comes() {
    let policy = three_tiers(0);
    let roster = Roster::default()
        .with(person("alice"), "alice")
        .with(person("dave"), "dave");
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let t1 = fire(&t0, &policy, &roster, at(9, 5));
    assert_eq!(pages(&t1), vec![(0, 2)]);
    assert_eq!(armed(&t1)[0].1, at(9, 20));
}

#[test]
fn an_empty_last_tier_goes_straight_to_the_next_round_or_exhaustion() {
    let roster = Roster::default()
        .with(person("alice"), "alice")
        .with(schedule("primary"), "bob");
    // With a repeat: tier 2 is empty, so round 1 starts immediately.
    let policy = three_tiers(1);
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let t1 = fire(&t0, &policy, &roster, at(9, 5));
    let t2 = fire(&t1, &policy, &roster, at(9, 15));
    assert_eq!(pages(&t2), vec![(1, 0)]);
    assert_eq!(
        types(&t2),
        vec![
            "io.klaxon.escalation.tier_skipped",
            "io.klaxon.escalation.tier_paged"
        ]
    );
    // Without one: exhausted right away, no timer.
    let policy = three_tiers(0);
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    let t1 = fire(&t0, &policy, &roster, at(9, 5));
    let t2 = fire(&t1, &policy, &roster, at(9, 15));
    assert!(pages(&t2).is_empty() && armed(&t2).is_empty());
    assert_eq!(t2.state.status(), EscalationStatus::Exhausted);
    assert_eq!(
        types(&t2),
        vec![
            "io.klaxon.escalation.tier_skipped",
            "io.klaxon.escalation.exhausted"
        ]
    );
}

#[test]
fn all_tiers_empty_exhausts_with_one_entry_per_tier_even_with_many_rounds() {
    let policy = three_tiers(u32::MAX);
    let roster = Roster::default();
    let t = run(
        &new_state(&policy, Urgency::High),
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
            "io.klaxon.escalation.tier_skipped",
            "io.klaxon.escalation.tier_skipped",
            "io.klaxon.escalation.exhausted"
        ]
    );
    assert!(matches!(
        entries(&t)[3].entry,
        TimelineEntry::EscalationExhausted {
            reason: ExhaustedReason::NobodyOnCall,
            ..
        }
    ));
}

#[test]
fn everyone_gone_mid_escalation_exhausts_after_a_full_round_of_skips() {
    let policy = three_tiers(5);
    let until = at(9, 3);
    let roster = Roster::default().during(person("alice"), "alice", at(9, 0), until);
    let t0 = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    assert_eq!(pages(&t0), vec![(0, 0)]);
    let t1 = fire(&t0, &policy, &roster, at(9, 5));
    // Skips (0,1), (0,2), (1,0) and stops: (1,1) onwards would be the same tiers again.
    assert_eq!(types(&t1).len(), 4);
    assert_eq!(t1.state.status(), EscalationStatus::Exhausted);
}

#[test]
fn skipping_uses_who_is_on_call_now() {
    let policy = three_tiers(0);
    // Alice is on call from 09:10 only.
    let roster = Roster::default()
        .during(person("alice"), "alice", at(9, 10), at(18, 0))
        .with(schedule("primary"), "bob");
    let early = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    assert_eq!(pages(&early), vec![(0, 1)]);
    let later = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 10),
    );
    assert_eq!(pages(&later), vec![(0, 0)]);
}

#[test]
fn a_tier_without_targets_counts_as_empty() {
    let policy = policy(&[(&[], 5), (&[person("bob")], 5)], 0);
    let roster = everyone(&policy);
    let t = run(
        &new_state(&policy, Urgency::High),
        EscalationEvent::Start,
        &policy,
        &roster,
        at(9, 0),
    );
    assert_eq!(pages(&t), vec![(0, 1)]);
}
