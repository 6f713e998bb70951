//! Carrying out the effects the domain asks for.
//!
//! Escalation steps (start, timer fired) run their effects BEFORE committing the new state:
//! every effect is idempotent (pages are deduplicated per delivery key by notify, timers are
//! named deterministically and re-arming is a no-op), so if the commit then fails — a crash, or
//! an ack that won the optimistic lock — a retry repeats the same effects harmlessly, and
//! nothing is ever committed without its pages having been queued. Stopping steps (ack,
//! resolve) commit first and cancel timers after: a timer that survives a crash fires into a
//! stopped escalation and is ignored. A page queued this way can reach notify before the
//! commit; notify retries a re-trigger's page that is ahead of its incident
//! ([`UseCaseError::PageAhead`]).

use super::UseCaseError;
use crate::messages::QueueMessage;
use crate::ports::{Queue, Timers};
use klaxon_domain::escalation::Effect;
use klaxon_domain::timeline::TimelineDraft;

/// Runs the page and timer effects; returns the timeline drafts for the caller to commit with
/// the state change.
pub async fn run_effects<Q: Queue, T: Timers>(
    queue: &Q,
    timers: &T,
    effects: Vec<Effect>,
) -> Result<Vec<TimelineDraft>, UseCaseError> {
    let mut timeline = Vec::new();
    for effect in effects {
        match effect {
            Effect::Page(page) => queue.send(&QueueMessage::Page(page)).await?,
            Effect::ArmTimer { name, due, payload } => timers.arm(&name, due, &payload).await?,
            Effect::CancelTimer { name } => timers.cancel(&name).await?,
            Effect::Timeline(draft) => timeline.push(draft),
        }
    }
    Ok(timeline)
}

/// Splits effects into timeline drafts (to commit) and the rest (to run after the commit).
pub fn split_timeline(effects: Vec<Effect>) -> (Vec<TimelineDraft>, Vec<Effect>) {
    let mut timeline = Vec::new();
    let mut rest = Vec::new();
    for effect in effects {
        match effect {
            Effect::Timeline(draft) => timeline.push(draft),
            other => rest.push(other),
        }
    }
    (timeline, rest)
}
