//! Unit tests of every path of the escalation state machine.

use super::*;
use crate::duration::HumanDuration;
use crate::escalation::{EscalationPolicy, Tier};
use crate::ids::ScheduleId;
use crate::timeline::TimelineEntry;
use crate::vocabulary::ExhaustedReason;
use chrono::TimeZone;
mod empty_tiers;
mod policy;
mod stops;
mod timers;

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
        ack_timeout: None,
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
