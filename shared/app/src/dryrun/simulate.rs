//! The escalation timeline of a dry run, computed by the real state machine.
//!
//! The dry run drives [`escalation::step`] exactly as the routing function does: `Start` at
//! the arrival time, then `TimerFired` with each armed timer's payload at its due time, with
//! [`Roster`] over the configuration as the resolver. So the timeline shows what production
//! would do, including skipped tiers, rounds and exhaustion, and cannot drift from it.

use super::{DryRunError, utc};
use crate::oncall::Roster;
use klaxon_domain::Instant;
use klaxon_domain::config::Config;
use klaxon_domain::escalation::{
    self, Effect, EscalationEvent, EscalationPolicy, EscalationState, EscalationStatus,
    ExhaustedReason, Target, TimerPayload,
};
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::Urgency;
use klaxon_domain::timeline::TimelineEntry;
use klaxon_domain::user::Channel;
use serde::Serialize;
use std::collections::BTreeSet;

/// The incident id the dry run's escalation runs under (never stored anywhere).
const DRY_RUN_INCIDENT: &str = "dryrun";

/// Every step of one escalation, from start to exhaustion (or to waiting for a human).
#[derive(Debug, Serialize)]
pub struct EscalationReport {
    /// The policy's id.
    pub policy: String,
    /// The policy's display name.
    pub policy_name: String,
    /// The urgency the escalation runs at.
    pub urgency: Urgency,
    /// How many times the tiers run (1 for low urgency, which pages tier 0 only).
    pub rounds: u32,
    /// What happens, in order.
    pub steps: Vec<StepReport>,
    /// How it ends if nobody acknowledges: `exhausted`, or `waiting` (low urgency: tier 0 was
    /// paged and nothing more happens until a human acts).
    pub outcome: EscalationOutcome,
}

/// How an unacknowledged escalation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationOutcome {
    /// Every tier had its turn (or nobody is on call): nothing more is paged.
    Exhausted,
    /// Low urgency: tier 0 was paged; nothing more is paged until someone acts.
    Waiting,
}

/// One step of the timeline.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepReport {
    /// A tier is paged.
    Page {
        /// When (UTC).
        at: String,
        /// The round (0 = first run through the tiers).
        round: u32,
        /// The tier index.
        tier: u32,
        /// How long the tier has to acknowledge.
        delay: String,
        /// When the next step happens if nobody acknowledges (none for low urgency).
        escalates_at: Option<String>,
        /// Each target and who it reaches.
        targets: Vec<TargetReport>,
    },
    /// A tier whose targets reach nobody at that moment is skipped at once.
    Skip {
        /// When (UTC).
        at: String,
        /// The round.
        round: u32,
        /// The tier index.
        tier: u32,
        /// The targets that reached nobody.
        targets: Vec<Target>,
    },
    /// Nobody is left to page.
    Exhausted {
        /// When (UTC).
        at: String,
        /// Why.
        reason: ExhaustedReason,
    },
}

/// One target of a paged tier and the people it reaches.
#[derive(Debug, Serialize)]
pub struct TargetReport {
    /// The target as configured: `{"schedule": "primary"}` or `{"user": "farid"}`.
    pub target: Target,
    /// Who it reaches at the moment of paging (empty: nobody on call on it).
    pub users: Vec<PagedUser>,
}

/// A person paged, and how.
#[derive(Debug, Serialize)]
pub struct PagedUser {
    /// The user's id.
    pub id: UserId,
    /// The user's display name.
    pub name: String,
    /// The channels for the page's urgency, in order (empty: the page reaches them nowhere).
    pub channels: Vec<Channel>,
    /// Already reached by an earlier target of the same tier: paged once, not twice.
    pub duplicate: bool,
}

/// Runs the escalation of `policy` at `urgency` starting at `start`, until it is exhausted or
/// waits for a human.
pub fn simulate(
    config: &Config,
    policy: &EscalationPolicy,
    urgency: Urgency,
    start: Instant,
) -> Result<EscalationReport, DryRunError> {
    let roster = Roster::new(config, Default::default());
    let incident = IncidentId::new(DRY_RUN_INCIDENT)?;
    let mut state = EscalationState::new(policy.id.clone(), urgency);
    let mut event = EscalationEvent::Start;
    let mut now = start;
    let mut steps = Vec::new();
    // Every applied step pages or skips at least one tier or ends the escalation, so this bound
    // (all tiers of all rounds, twice over) is never reached by a correct machine.
    let rounds = u64::from(policy.repeat) + 1;
    let max_steps = (policy.tiers.len() as u64 + 1)
        .saturating_mul(rounds)
        .saturating_mul(2);
    for _ in 0..max_steps {
        let transition = escalation::step(&incident, &state, &event, policy, &roster, now)
            .map_err(|e| DryRunError(format!("escalation of policy {}: {e}", policy.id)))?;
        let mut next_timer = None;
        for effect in transition.effects {
            if let Some(timer) = record(effect, config, policy, &roster, &mut steps) {
                next_timer = Some(timer);
            }
        }
        state = transition.state;
        match next_timer {
            Some((due, payload)) => {
                now = due;
                event = EscalationEvent::TimerFired(payload);
            }
            None => break,
        }
    }
    let outcome = match state.status() {
        EscalationStatus::Active if state.next_due().is_none() => EscalationOutcome::Waiting,
        EscalationStatus::Exhausted => EscalationOutcome::Exhausted,
        other => {
            return Err(DryRunError(format!(
                "the dry run of policy {} stopped in state {other:?}; this is a bug in klaxon",
                policy.id
            )));
        }
    };
    Ok(EscalationReport {
        policy: policy.id.to_string(),
        policy_name: policy.name.clone(),
        urgency,
        rounds: match urgency {
            Urgency::High => policy.repeat.saturating_add(1),
            Urgency::Low => 1,
        },
        steps,
        outcome,
    })
}

/// Adds what `effect` shows to `steps`; returns the timer it arms, if it arms one.
fn record(
    effect: Effect,
    config: &Config,
    policy: &EscalationPolicy,
    roster: &Roster<'_>,
    steps: &mut Vec<StepReport>,
) -> Option<(Instant, TimerPayload)> {
    match effect {
        Effect::Page(page) => {
            let delay = usize::try_from(page.tier)
                .ok()
                .and_then(|tier| policy.tiers.get(tier))
                .map(|tier| tier.delay.to_string())
                .unwrap_or_default();
            steps.push(StepReport::Page {
                at: utc(page.resolve_at),
                round: page.round,
                tier: page.tier,
                delay,
                escalates_at: None,
                targets: resolve_targets(
                    config,
                    roster,
                    &page.targets,
                    page.urgency,
                    page.resolve_at,
                ),
            });
        }
        Effect::ArmTimer { due, payload, .. } => {
            if let Some(StepReport::Page { escalates_at, .. }) = steps.last_mut() {
                *escalates_at = Some(utc(due));
            }
            return Some((due, payload));
        }
        Effect::Timeline(draft) => match draft.entry {
            TimelineEntry::TierSkipped {
                round,
                tier,
                targets,
                ..
            } => steps.push(StepReport::Skip {
                at: utc(draft.time),
                round,
                tier,
                targets,
            }),
            TimelineEntry::EscalationExhausted { reason, .. } => {
                steps.push(StepReport::Exhausted {
                    at: utc(draft.time),
                    reason,
                });
            }
            _ => {}
        },
        Effect::CancelTimer { .. } => {}
    }
    None
}

/// Who each target reaches at `at`, with their channels for `urgency`. A user reached twice in
/// one tier is paged once (the page's dedup key has no target in it), so later occurrences are
/// marked duplicate.
fn resolve_targets(
    config: &Config,
    roster: &Roster<'_>,
    targets: &[Target],
    urgency: Urgency,
    at: Instant,
) -> Vec<TargetReport> {
    let mut seen = BTreeSet::new();
    targets
        .iter()
        .map(|target| TargetReport {
            target: target.clone(),
            users: roster
                .resolve(target, at)
                .into_iter()
                .map(|id| {
                    let user = config.user(&id);
                    PagedUser {
                        name: user.map_or_else(|| id.to_string(), |user| user.name.clone()),
                        channels: user
                            .map(|user| user.channels_for(urgency).to_vec())
                            .unwrap_or_default(),
                        duplicate: !seen.insert(id.clone()),
                        id,
                    }
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use klaxon_domain::ids::PolicyId;

    const CONFIG: &str = r#"
users:
  - { id: ann, name: Ann, email: ann@example.com, phone: "+4915112345601" }
  - { id: bo, name: Bo, email: bo@example.com }
schedules:
  - id: days
    name: Days
    time_zone: Etc/UTC
    layers:
      - name: Days
        rotation: { participants: [ann], start: "2026-01-05T00:00:00", shift: { days: 1 } }
        restrictions: [{ from: "08:00", to: "18:00" }]
escalation_policies:
  - id: two-tiers
    name: Two tiers
    repeat: 1
    tiers:
      - { delay: 5m, targets: [{ schedule: days }, { user: ann }] }
      - { delay: 10m, targets: [{ user: bo }] }
"#;

    fn config() -> Config {
        Config::from_yaml(CONFIG).unwrap()
    }

    fn at(h: u32, m: u32) -> Instant {
        Utc.with_ymd_and_hms(2026, 3, 4, h, m, 0).unwrap()
    }

    fn policy(config: &Config) -> &EscalationPolicy {
        config.policy(&PolicyId::new("two-tiers").unwrap()).unwrap()
    }

    fn kinds(report: &EscalationReport) -> Vec<String> {
        report
            .steps
            .iter()
            .map(|step| match step {
                StepReport::Page {
                    at, round, tier, ..
                } => format!("page {at} r{round} t{tier}"),
                StepReport::Skip {
                    at, round, tier, ..
                } => format!("skip {at} r{round} t{tier}"),
                StepReport::Exhausted { at, .. } => format!("exhausted {at}"),
            })
            .collect()
    }

    #[test]
    fn high_urgency_walks_every_tier_of_every_round() {
        let config = config();
        let report = simulate(&config, policy(&config), Urgency::High, at(9, 0)).unwrap();
        assert_eq!(
            kinds(&report),
            [
                "page 2026-03-04T09:00:00Z r0 t0",
                "page 2026-03-04T09:05:00Z r0 t1",
                "page 2026-03-04T09:15:00Z r1 t0",
                "page 2026-03-04T09:20:00Z r1 t1",
                "exhausted 2026-03-04T09:30:00Z",
            ]
        );
        assert_eq!(report.rounds, 2);
        assert_eq!(report.outcome, EscalationOutcome::Exhausted);
        let StepReport::Page {
            targets,
            escalates_at,
            ..
        } = &report.steps[0]
        else {
            panic!("first step pages");
        };
        assert_eq!(escalates_at.as_deref(), Some("2026-03-04T09:05:00Z"));
        // Ann is on the schedule and named directly: paged once.
        assert_eq!(targets[0].users[0].id.as_str(), "ann");
        assert!(!targets[0].users[0].duplicate);
        assert_eq!(targets[0].users[0].channels, [Channel::Sms, Channel::Email]);
        assert!(targets[1].users[0].duplicate);
    }

    #[test]
    fn low_urgency_pages_tier_zero_and_waits() {
        let config = config();
        let report = simulate(&config, policy(&config), Urgency::Low, at(9, 0)).unwrap();
        assert_eq!(kinds(&report), ["page 2026-03-04T09:00:00Z r0 t0"]);
        assert_eq!(report.outcome, EscalationOutcome::Waiting);
        let StepReport::Page {
            targets,
            escalates_at,
            ..
        } = &report.steps[0]
        else {
            panic!("pages");
        };
        assert_eq!(*escalates_at, None);
        assert_eq!(targets[0].users[0].channels, [Channel::Email]);
    }

    #[test]
    fn a_tier_that_reaches_nobody_is_skipped_at_once() {
        let config = Config::from_yaml(&CONFIG.replace(
            "targets: [{ schedule: days }, { user: ann }]",
            "targets: [{ schedule: days }]",
        ))
        .unwrap();
        // 17:58: tier 0 pages Ann; at 18:03 the next round's tier 0 is outside the window.
        let report = simulate(&config, policy(&config), Urgency::High, at(17, 58)).unwrap();
        assert_eq!(
            kinds(&report),
            [
                "page 2026-03-04T17:58:00Z r0 t0",
                "page 2026-03-04T18:03:00Z r0 t1",
                "skip 2026-03-04T18:13:00Z r1 t0",
                "page 2026-03-04T18:13:00Z r1 t1",
                "exhausted 2026-03-04T18:23:00Z",
            ]
        );
    }
}
