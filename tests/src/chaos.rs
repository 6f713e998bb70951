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
use std::collections::BTreeMap;

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
    /// acknowledgement or resolution before its timer fired (within a minute of its due time).
    pub fn expected_pages(&self) -> Result<(usize, usize), String> {
        if !self.tier0 && self.acknowledged.is_none() {
            return Err("tier 0 never paged, and never acknowledged".to_owned());
        }
        let stopped = match (self.acknowledged, self.resolved) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        };
        // The timer fires at the due time rounded up to the minute (Scheduler's precision): an
        // acknowledgement in that minute may rightly come first.
        if let (false, Some(due)) = (self.tier1, self.due)
            && stopped.is_none_or(|stopped| stopped >= due + chrono::TimeDelta::minutes(1))
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

/// Messages sent more than once, told apart by cause.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// Extra copies explained by a send that was applied but unanswered (the client could not
    /// know it had gone out, and sent it again): message and extra copies.
    pub resent: BTreeMap<String, usize>,
    /// Extra copies nothing explains: message and extra copies. Must be empty.
    pub unexplained: BTreeMap<String, usize>,
}

impl Duplicates {
    /// Every extra copy explained by an unanswered send.
    pub fn resent_copies(&self) -> usize {
        self.resent.values().sum()
    }
}

/// Splits the extra copies among `sent` (how many times each message went out, by a key naming
/// recipient and message) into those explained by `unanswered` (the keys of sends the provider
/// applied but whose answer the sender missed: each explains one extra copy of its message) and
/// the rest.
pub fn duplicates<'a>(
    sent: &BTreeMap<String, usize>,
    unanswered: impl IntoIterator<Item = &'a str>,
) -> Duplicates {
    let mut explaining: BTreeMap<&str, usize> = BTreeMap::new();
    for key in unanswered {
        *explaining.entry(key).or_default() += 1;
    }
    let mut found = Duplicates::default();
    for (key, copies) in sent {
        let extra = copies.saturating_sub(1);
        if extra == 0 {
            continue;
        }
        let explained = extra.min(explaining.get(key.as_str()).copied().unwrap_or(0));
        if explained > 0 {
            found.resent.insert(key.clone(), explained);
        }
        if extra > explained {
            found.unexplained.insert(key.clone(), extra - explained);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_unanswered_send_explains_one_extra_copy_of_its_message_only() {
        let sent: BTreeMap<String, usize> = [("a", 2), ("b", 3), ("c", 1), ("d", 2)]
            .into_iter()
            .map(|(k, n)| (k.to_owned(), n))
            .collect();
        let found = duplicates(&sent, ["a", "b", "c", "c"]);
        assert_eq!(found.resent_copies(), 2, "{found:?}");
        assert_eq!(found.resent.get("a"), Some(&1));
        assert_eq!(found.resent.get("b"), Some(&1));
        // b's second extra copy and d's are not explained; c's unanswered send was not resent.
        assert_eq!(
            found.unexplained.into_iter().collect::<Vec<_>>(),
            [("b".to_owned(), 1), ("d".to_owned(), 1)]
        );
    }
}
