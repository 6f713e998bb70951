//! What the chaos runs (cloud and local) expect of one incident's first round, read from its
//! timeline rather than assumed from the harness's schedule: a hand-off lost to a fault (a
//! queue send that failed after the write before it was committed) is recovered by the
//! recovery sweep, so that incident's escalation starts up to a sweep interval and its grace
//! late, and an acknowledgement the harness made "after tier 1" may then precede tier 1's due
//! time: tier 1 is then rightly never paged. So what each tier owes is decided by what the
//! timeline says happened, and the timeline is checked against the times.

use klaxon_domain::Instant;
use klaxon_domain::ids::IncidentId;
use klaxon_domain::timeline::TimelineEntry;
use klaxon_store::Store;
use klaxon_store::repo::Repository;

/// The first round's tiers 0 and 1 of one incident, as its timeline tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstRound {
    /// Whether tier 0 was paged (its pages were queued).
    pub tier0: bool,
    /// When tier 1 was due (tier 0's `escalates_at`); none before tier 0 was paged.
    pub due: Option<Instant>,
    /// Whether the escalation reached tier 1 (its page was queued).
    pub tier1: bool,
    /// When the incident was acknowledged, if it was.
    pub acknowledged: Option<Instant>,
    /// When the incident was resolved, if it was.
    pub resolved: Option<Instant>,
}

impl FirstRound {
    /// The tier-0 and tier-1 pages the incident must have had, or why its escalation is wrong.
    ///
    /// A tier whose pages were queued owes exactly one page each (the runs deliver everything
    /// queued before they acknowledge or resolve anything, so only a dead letter, redriven at
    /// the end, can come too late). A tier never reached owes none, and must have had a
    /// reason: tier 0, an acknowledgement before the escalation started; tier 1, an
    /// acknowledgement or resolution before it was due.
    pub fn expected_pages(&self) -> Result<(usize, usize), String> {
        if !self.tier0 && self.acknowledged.is_none() {
            return Err("tier 0 never paged, and never acknowledged".to_owned());
        }
        let stopped = match (self.acknowledged, self.resolved) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        };
        if let (false, Some(due)) = (self.tier1, self.due)
            && stopped.is_none_or(|stopped| stopped >= due)
        {
            return Err(format!("tier 1 due at {due} never reached"));
        }
        Ok((usize::from(self.tier0), usize::from(self.tier1)))
    }
}

/// Reads the first round's tier 1 of `incident` from its timeline.
///
/// # Panics
///
/// When the timeline cannot be read (a test helper).
pub async fn first_round<S: Store>(repo: &Repository<S>, incident: &IncidentId) -> FirstRound {
    let mut facts = FirstRound {
        tier0: false,
        due: None,
        tier1: false,
        acknowledged: None,
        resolved: None,
    };
    let mut cursor = None;
    loop {
        let page = repo
            .timeline(incident, cursor, 100)
            .await
            .expect("read the timeline");
        for record in page.items {
            match record.entry {
                TimelineEntry::TierPaged {
                    round: 0,
                    tier: 0,
                    escalates_at,
                    ..
                } => {
                    facts.tier0 = true;
                    facts.due = facts.due.or(escalates_at);
                }
                TimelineEntry::TierPaged {
                    round: 0, tier: 1, ..
                } => facts.tier1 = true,
                TimelineEntry::IncidentAcknowledged {} => {
                    facts.acknowledged = facts.acknowledged.or(Some(record.time));
                }
                TimelineEntry::IncidentResolved { .. } => {
                    facts.resolved = facts.resolved.or(Some(record.time));
                }
                _ => {}
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return facts,
        }
    }
}

/// The incidents whose announcement, page or escalation timer went to a dead-letter queue, from the bodies
/// found there. A run redrives its dead letters only at its end, when their incidents have
/// resolved, and a page for a resolved incident is rightly dropped: such an incident may have
/// had no page of that tier (it is never paged twice, nor after its ack, all the same).
pub fn dead_lettered_incidents<'a>(
    bodies: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeSet<IncidentId> {
    use klaxon_app::messages::QueueMessage;
    bodies
        .into_iter()
        .filter_map(|body| match QueueMessage::from_json(body).ok()? {
            QueueMessage::Incident(message) => Some(message.incident),
            QueueMessage::Page(page) => Some(page.incident),
            QueueMessage::Timer(timer) => Some(timer.incident),
            _ => None,
        })
        .collect()
}
