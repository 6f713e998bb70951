//! Property tests: random policies, on-call rosters and event sequences (with duplicated,
//! replayed, forged and reordered timer payloads) never break the machine's invariants.

use super::*;
use crate::Instant;
use crate::duration::HumanDuration;
use crate::ids::{IncidentId, ScheduleId, UserId};
use crate::timeline::{Actor, TimelineEntry};
use crate::vocabulary::Urgency;
use chrono::TimeZone;
use proptest::prelude::*;
use std::collections::HashSet;

fn base() -> Instant {
    chrono::Utc.with_ymd_and_hms(2026, 3, 8, 6, 0, 0).unwrap()
}

fn minutes(n: i64) -> chrono::TimeDelta {
    chrono::TimeDelta::minutes(n)
}

fn all_targets() -> Vec<Target> {
    let mut targets: Vec<Target> = (0..4)
        .map(|i| Target::User(UserId::new(format!("u{i}")).unwrap()))
        .collect();
    targets.extend((0..3).map(|i| Target::Schedule(ScheduleId::new(format!("s{i}")).unwrap())));
    targets
}

/// When a target has someone on call, in minutes after [`base`].
#[derive(Debug, Clone)]
enum Availability {
    Never,
    Always,
    Between(i64, i64),
}

#[derive(Debug, Clone)]
struct Roster(Vec<Availability>);

impl OnCallResolver for Roster {
    fn users_for(&self, target: &Target, at: Instant) -> Vec<UserId> {
        let Some(index) = all_targets().iter().position(|t| t == target) else {
            return Vec::new();
        };
        let minute = (at - base()).num_minutes();
        let on = match self.0.get(index) {
            Some(Availability::Always) => true,
            Some(Availability::Between(from, to)) => *from <= minute && minute < *to,
            Some(Availability::Never) | None => false,
        };
        if on {
            vec![UserId::new(format!("oncall{index}")).unwrap()]
        } else {
            Vec::new()
        }
    }
}

fn someone_on_call(roster: &Roster, targets: &[Target], at: Instant) -> bool {
    targets.iter().any(|t| !roster.users_for(t, at).is_empty())
}

#[derive(Debug, Clone)]
enum Op {
    Start,
    /// Fire the most recently armed timer, at or after its due time.
    FireLatest,
    /// Deliver again (late, duplicated, out of order) a payload armed earlier.
    Replay(prop::sample::Index),
    /// A payload nobody armed.
    Forged(u32, u32, u64),
    /// The recovery sweep.
    Sweep,
    Acknowledge,
    Resolve,
    Wait(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Start),
        6 => Just(Op::FireLatest),
        4 => any::<prop::sample::Index>().prop_map(Op::Replay),
        1 => (0u32..4, 0u32..6, 0u64..12).prop_map(|(r, t, v)| Op::Forged(r, t, v)),
        2 => Just(Op::Sweep),
        1 => Just(Op::Acknowledge),
        1 => Just(Op::Resolve),
        2 => (0i64..90).prop_map(Op::Wait),
    ]
}

fn availability() -> impl Strategy<Value = Availability> {
    prop_oneof![
        Just(Availability::Never),
        Just(Availability::Always),
        (0i64..300, 0i64..300).prop_map(|(a, b)| Availability::Between(a.min(b), a.max(b))),
    ]
}

fn policy() -> impl Strategy<Value = EscalationPolicy> {
    let tier =
        (prop::collection::vec(0usize..7, 0..3), 0i64..45).prop_map(|(targets, delay)| Tier {
            delay: HumanDuration::from_mins(delay),
            targets: targets
                .into_iter()
                .filter_map(|i| all_targets().get(i).cloned())
                .collect(),
        });
    (prop::collection::vec(tier, 0..5), 0u32..4).prop_map(|(tiers, repeat)| EscalationPolicy {
        id: PolicyId::new("p").unwrap(),
        name: "P".into(),
        tiers,
        repeat,
        ack_timeout: None,
    })
}

fn scheduler_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_random_runs(
        incident in "[0-9A-Za-z]{1,40}",
        policy in policy(),
        roster in prop::collection::vec(availability(), 7).prop_map(Roster),
        urgency in prop_oneof![Just(Urgency::High), Just(Urgency::Low)],
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let incident = IncidentId::new(incident).unwrap();
        let mut state = EscalationState::new(policy.id.clone(), urgency);
        let mut now = base();
        let mut armed: Vec<TimerPayload> = Vec::new();
        let mut paged: HashSet<(u32, u32)> = HashSet::new();
        let mut timeline_keys: HashSet<String> = HashSet::new();
        let mut consumed: HashSet<TimerPayload> = HashSet::new();
        let mut stopped = false;

        for op in ops {
            let event = match op {
                Op::Start => EscalationEvent::Start,
                Op::FireLatest => {
                    let Some(payload) = armed.last().cloned() else { continue };
                    if let Some(due) = state.next_due() {
                        now = now.max(due);
                    }
                    EscalationEvent::TimerFired(payload)
                }
                Op::Replay(index) => {
                    if armed.is_empty() { continue }
                    EscalationEvent::TimerFired(armed[index.index(armed.len())].clone())
                }
                Op::Forged(round, tier, version) => EscalationEvent::TimerFired(TimerPayload {
                    incident: incident.clone(), round, tier, version,
                    kind: Default::default(),
                    cycle: 0,
                }),
                Op::Sweep => {
                    let Some(payload) = state.overdue_timer(&incident, now) else { continue };
                    EscalationEvent::TimerFired(payload)
                }
                Op::Acknowledge => EscalationEvent::Acknowledge {
                    actor: Actor::user(UserId::new("u0").unwrap()),
                },
                Op::Resolve => EscalationEvent::Resolve { actor: Actor::system("api") },
                Op::Wait(m) => { now += minutes(m); continue }
            };

            let result = step(&incident, &state, &event, &policy, &roster, now);
            // Deterministic: a re-run after a crash produces the identical transition.
            prop_assert_eq!(&result, &step(&incident, &state, &event, &policy, &roster, now));
            let transition = match result {
                Ok(t) => t,
                Err(e) => {
                    // Only repeated stops are refused, and only on a stopped escalation.
                    prop_assert!(matches!(
                        e,
                        EscalationError::AlreadyAcknowledged | EscalationError::AlreadyResolved
                    ), "unexpected error {e}");
                    prop_assert!(matches!(
                        state.status(),
                        EscalationStatus::Acknowledged | EscalationStatus::Resolved
                    ));
                    continue;
                }
            };

            if transition.is_applied() {
                prop_assert!(transition.state.version() > state.version());
                // A timer advances the escalation only if it was armed, and only once: a
                // duplicate, late or forged delivery never escalates early.
                if let EscalationEvent::TimerFired(payload) = &event {
                    prop_assert!(armed.contains(payload), "unarmed timer applied");
                    prop_assert!(consumed.insert(payload.clone()), "timer applied twice");
                }
            } else {
                prop_assert_eq!(&transition.state, &state);
                prop_assert!(transition.effects.is_empty());
            }
            // Bounded work per step: at most one skip per tier, one page, one timer, one end.
            prop_assert!(transition.effects.len() <= policy.tiers.len() + 4);

            let next = &transition.state;
            for effect in &transition.effects {
                match effect {
                    Effect::Page(page) => {
                        prop_assert!(!stopped, "page after a successful ack/resolve");
                        prop_assert!(paged.insert((page.round, page.tier)),
                            "(round {}, tier {}) paged twice", page.round, page.tier);
                        prop_assert!(page.round <= policy.repeat);
                        if urgency == Urgency::Low {
                            prop_assert_eq!((page.round, page.tier), (0, 0));
                        }
                        // Only tiers with someone on call are paged.
                        prop_assert!(someone_on_call(&roster, &page.targets, now));
                    }
                    Effect::ArmTimer { name, due, payload } => {
                        prop_assert!(scheduler_name_ok(name.as_str()), "bad name {}", name);
                        prop_assert_eq!(name, &payload.timer_name());
                        prop_assert_eq!(payload.version, next.version());
                        prop_assert_eq!(Some(*due), next.next_due());
                        prop_assert_eq!(Some(name), next.timer());
                        prop_assert!(*due >= now);
                        armed.push(payload.clone());
                    }
                    Effect::CancelTimer { name } => {
                        prop_assert_eq!(Some(name), state.timer());
                    }
                    Effect::Timeline(draft) => {
                        prop_assert!(crate::timeline::EntryKey::new(draft.key.as_str()).is_ok());
                        prop_assert!(timeline_keys.insert(draft.key.to_string()),
                            "timeline key {} reused", draft.key);
                        if let TimelineEntry::TierSkipped { targets, .. } = &draft.entry {
                            prop_assert!(!someone_on_call(&roster, targets, now));
                        }
                    }
                }
            }

            // Never stalls: an active high-urgency escalation always has a timer armed; a
            // low-urgency one never has; anything else has none.
            match (next.status(), next.urgency()) {
                (EscalationStatus::Active, Urgency::High) => {
                    prop_assert!(next.timer().is_some() && next.next_due().is_some());
                }
                _ => prop_assert!(next.timer().is_none() && next.next_due().is_none()),
            }

            if transition.is_applied()
                && matches!(event, EscalationEvent::Acknowledge { .. } | EscalationEvent::Resolve { .. })
            {
                stopped = true;
            }
            state = transition.state;
        }
    }
}
