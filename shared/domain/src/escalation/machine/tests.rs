//! Unit tests of every path of the escalation state machine.

use super::*;
use crate::duration::HumanDuration;
use crate::escalation::{EscalationPolicy, Tier};
use crate::ids::ScheduleId;
use chrono::TimeZone;

fn at(h: u32, m: u32) -> Instant {
    chrono::Utc.with_ymd_and_hms(2026, 1, 5, h, m, 0).unwrap()
}

fn incident() -> IncidentId {
    IncidentId::new("0192abcd").unwrap()
}

fn user(name: &str) -> UserId {
    UserId::new(name).unwrap()
}

fn person(name: &str) -> Target {
    Target::User(user(name))
}

fn schedule(name: &str) -> Target {
    Target::Schedule(ScheduleId::new(name).unwrap())
}

/// `[from, to)`; `None` means always.
type Window = Option<(Instant, Instant)>;

/// Who is on call: each entry pages `user` for `target`, optionally only in a window.
#[derive(Default)]
struct Roster(Vec<(Target, UserId, Window)>);

impl Roster {
    fn with(mut self, target: Target, name: &str) -> Self {
        self.0.push((target, user(name), None));
        self
    }
    fn during(mut self, target: Target, name: &str, from: Instant, to: Instant) -> Self {
        self.0.push((target, user(name), Some((from, to))));
        self
    }
}

impl OnCallResolver for Roster {
    fn users_for(&self, target: &Target, at: Instant) -> Vec<UserId> {
        self.0
            .iter()
            .filter(|(t, _, window)| {
                t == target && window.is_none_or(|(from, to)| from <= at && at < to)
            })
            .map(|(_, u, _)| u.clone())
            .collect()
    }
}

/// Everyone named in any tier is always on call.
fn everyone(policy: &EscalationPolicy) -> Roster {
    let mut roster = Roster::default();
    for tier in &policy.tiers {
        for target in &tier.targets {
            roster = roster.with(target.clone(), "someone");
        }
    }
    roster
}

/// A policy with one tier per target list, each with `minutes` of delay.
fn policy(tiers: &[(&[Target], i64)], repeat: u32) -> EscalationPolicy {
    EscalationPolicy {
        id: PolicyId::new("infra").unwrap(),
        name: "Infra".into(),
        tiers: tiers
            .iter()
            .map(|(targets, minutes)| Tier {
                delay: HumanDuration::from_mins(*minutes),
                targets: targets.to_vec(),
            })
            .collect(),
        repeat,
    }
}

fn three_tiers(repeat: u32) -> EscalationPolicy {
    policy(
        &[
            (&[person("alice")], 5),
            (&[schedule("primary")], 10),
            (&[person("carol"), person("dave")], 15),
        ],
        repeat,
    )
}

fn new_state(policy: &EscalationPolicy, urgency: Urgency) -> EscalationState {
    EscalationState::new(policy.id.clone(), urgency)
}

fn run(
    state: &EscalationState,
    event: EscalationEvent,
    policy: &EscalationPolicy,
    roster: &Roster,
    now: Instant,
) -> Transition {
    step(&incident(), state, &event, policy, roster, now).unwrap()
}

fn pages(t: &Transition) -> Vec<(u32, u32)> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Page(p) => Some((p.round, p.tier)),
            _ => None,
        })
        .collect()
}

fn armed(t: &Transition) -> Vec<(TimerName, Instant, TimerPayload)> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::ArmTimer { name, due, payload } => Some((name.clone(), *due, payload.clone())),
            _ => None,
        })
        .collect()
}

fn cancelled(t: &Transition) -> Vec<TimerName> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::CancelTimer { name } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn entries(t: &Transition) -> Vec<&TimelineDraft> {
    t.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Timeline(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn types(t: &Transition) -> Vec<&'static str> {
    entries(t).iter().map(|d| d.entry.event_type()).collect()
}

/// Fires the timer the transition armed.
fn fire(t: &Transition, policy: &EscalationPolicy, roster: &Roster, now: Instant) -> Transition {
    let (_, _, payload) = armed(t).pop().expect("a timer was armed");
    run(
        &t.state,
        EscalationEvent::TimerFired(payload),
        policy,
        roster,
        now,
    )
}

fn alice_acks() -> EscalationEvent {
    EscalationEvent::Acknowledge {
        actor: Actor::user(user("alice")),
    }
}

fn bob_resolves() -> EscalationEvent {
    EscalationEvent::Resolve {
        actor: Actor::user(user("bob")),
    }
}

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
            version: 1
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
    // Same position, wrong version; and the right version at the wrong position.
    for (round, tier, version) in [(0, 1, 1), (0, 1, 3), (0, 0, 2), (1, 1, 2)] {
        let payload = TimerPayload {
            incident: incident(),
            round,
            tier,
            version,
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
    };
    assert_eq!(
        page.dedup_key(&user("alice"), Channel::Sms),
        "0192abcd/r1/t2/alice/sms"
    );
}
