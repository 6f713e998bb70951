//! Quiet hours in routing: a low-urgency page that reaches someone in their quiet hours gets a
//! one-shot timer at the end of those hours, and that timer pages the tier again.
//!
//! Routing marks the low-urgency pages it plans ([`PageRequest::quiet_hours`]) and arms, per
//! page, one timer at the earliest end of quiet hours among the users the page resolves to
//! (at its `resolve_at`, the instant notify decides at too, so both agree). Notify holds a
//! marked page for users in quiet hours and sends it to the others. When the timer fires,
//! routing queues the same tier's page again, resolved at that instant, and plans it the same
//! way (a user still in quiet hours gets the next timer). The delivery key of a page
//! (incident, cycle, round, tier, user, channel) makes each user get it once, however often
//! it is queued; a timer that fires after an acknowledge, a resolve or a re-trigger pages
//! nobody (notify skips a page of an incident that no longer pages, and a new cycle pages
//! with new keys itself).

use super::UseCaseError;
use super::effects::run_effects;
use super::routing::{RoutingOutcome, RoutingService, running_policy};
use crate::oncall::Roster;
use crate::ports::{Queue, Timers};
use klaxon_domain::config::Config;
use klaxon_domain::escalation::{Effect, PageRequest, TimerKind, TimerName, TimerPayload};
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::IncidentStatus;
use klaxon_domain::quiet::quiet_until;
use klaxon_domain::vocabulary::Urgency;
use klaxon_store::Store;

/// Marks the low-urgency escalation pages among `effects` for quiet hours and adds the timer
/// for each one that reaches someone in quiet hours. `version` is the escalation's version
/// once the effects' write commits.
pub(crate) fn plan_quiet_hours(
    config: &Config,
    roster: &Roster<'_>,
    effects: &mut Vec<Effect>,
    incident: &IncidentId,
    version: u64,
) {
    let mut timers = Vec::new();
    for effect in effects.iter_mut() {
        let Effect::Page(page) = effect else {
            continue;
        };
        if page.urgency != Urgency::Low || page.responders.is_some() {
            continue;
        }
        page.quiet_hours = true;
        let earliest_end = roster
            .resolve_all(&page.targets, page.resolve_at)
            .iter()
            .filter_map(|id| config.user(id))
            .filter_map(|user| quiet_until(&user.quiet_hours, user.time_zone, page.resolve_at))
            .min();
        if let Some(due) = earliest_end {
            let name = TimerName::for_quiet_end(
                incident,
                page.round,
                page.tier,
                page.cycle,
                due.timestamp().div_euclid(60),
            );
            let payload = TimerPayload {
                incident: incident.clone(),
                round: page.round,
                tier: page.tier,
                version,
                kind: TimerKind::QuietHoursEnd,
                cycle: page.cycle,
            };
            timers.push(Effect::ArmTimer { name, due, payload });
        }
    }
    effects.extend(timers);
}

impl<S: Store, Q: Queue, T: Timers> RoutingService<S, Q, T> {
    /// A quiet-hours timer fired: queue the tier's page again if the incident still pages in
    /// the same cycle. Changes no stored state, so a duplicate delivery only queues a page
    /// whose deliveries were made already.
    pub(crate) async fn quiet_hours_ended(
        &self,
        payload: &TimerPayload,
    ) -> Result<RoutingOutcome, UseCaseError> {
        let Some(stored) = self.core.repo.incident(&payload.incident).await? else {
            return Ok(RoutingOutcome::Unchanged);
        };
        let incident = stored.incident;
        let Some(escalation) = incident.escalation() else {
            return Ok(RoutingOutcome::Unchanged);
        };
        if incident.status() != IncidentStatus::Triggered || escalation.cycle() != payload.cycle {
            return Ok(RoutingOutcome::Unchanged);
        }
        let config = self.core.config().await?;
        let Some(policy) = running_policy(&config, escalation) else {
            return Ok(RoutingOutcome::Unchanged);
        };
        let Some(tier) = usize::try_from(payload.tier)
            .ok()
            .and_then(|index| policy.tiers.get(index))
        else {
            return Ok(RoutingOutcome::Unchanged);
        };
        let targets = match escalation.assigned() {
            Some(assigned) => vec![assigned.clone()],
            None => tier.targets.clone(),
        };
        let overrides = self.roster_overrides(&policy).await?;
        let roster = Roster::new(&config.config, overrides);
        let mut effects = vec![Effect::Page(PageRequest {
            incident: payload.incident.clone(),
            policy: policy.id.clone(),
            round: payload.round,
            tier: payload.tier,
            targets,
            urgency: escalation.urgency(),
            resolve_at: self.core.now(),
            cycle: payload.cycle,
            responders: None,
            quiet_hours: false,
        })];
        plan_quiet_hours(
            &config.config,
            &roster,
            &mut effects,
            &payload.incident,
            escalation.version(),
        );
        run_effects(&self.queue, &self.timers, effects).await?;
        Ok(RoutingOutcome::Advanced)
    }
}
