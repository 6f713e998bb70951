//! Messages between functions. Every message is JSON with a `kind` tag, so one consumer can take
//! several kinds (routing takes incident events, fired timers and sweeps from two queues).

use chrono::{DateTime, Utc};
use klaxon_domain::alert::AlertKey;
use klaxon_domain::escalation::{PageRequest, TimerPayload};
use klaxon_domain::heartbeat::HeartbeatTimer;
use klaxon_domain::ids::{AlertId, GroupKey, IncidentId, UserId};
use klaxon_domain::timeline::Actor;
use klaxon_domain::user::Channel;
use serde::{Deserialize, Serialize};

/// The queues of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// `alerts.fifo`: ingest → grouping, one message group per group key.
    Alerts,
    /// `incidents`: grouping → routing.
    Incidents,
    /// `timers`: EventBridge Scheduler (and the sweep schedule) → routing.
    Timers,
    /// `notifications`: routing/ack → notify.
    Notifications,
}

impl QueueName {
    /// All queues.
    pub const ALL: [QueueName; 4] = [
        QueueName::Alerts,
        QueueName::Incidents,
        QueueName::Timers,
        QueueName::Notifications,
    ];

    /// The queue's short name (`alerts`, …), used in logs and local tables.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Alerts => "alerts",
            QueueName::Incidents => "incidents",
            QueueName::Timers => "timers",
            QueueName::Notifications => "notifications",
        }
    }
}

/// What an alert message asks grouping to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    /// A new alert occurrence fires: find or create its incident and link it.
    Fire,
    /// The alert resolved: mark its link resolved, maybe auto-resolve the incident.
    Resolve,
    /// The sender acknowledged it: acknowledge its incident.
    Acknowledge,
}

/// ingest → grouping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertMessage {
    /// The alert occurrence.
    pub alert_id: AlertId,
    /// Its identity.
    pub key: AlertKey,
    /// What to do.
    pub action: AlertAction,
    /// The group key computed at ingest (also the FIFO message group).
    pub group_key: GroupKey,
    /// When ingest accepted it.
    pub at: DateTime<Utc>,
}

/// What happened to an incident, for routing. (Acknowledge and resolve need no routing: they
/// commit, cancel the timer and notify directly; see `usecases::lifecycle`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum IncidentEvent {
    /// A new incident: route it and start escalation.
    Triggered,
}

/// grouping → routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentMessage {
    /// The incident.
    pub incident: IncidentId,
    /// What happened.
    #[serde(flatten)]
    pub event: IncidentEvent,
}

/// Which notice to send to responders already paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// Someone acknowledged the incident.
    Acknowledged,
    /// Someone (or the alerts) resolved the incident.
    Resolved,
}

/// A notice to people already paged for an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The incident.
    pub incident: IncidentId,
    /// Acknowledged or resolved.
    pub notice: NoticeKind,
    /// Who did it.
    pub actor: Actor,
    /// Who to tell, on which channel (from the incident's delivery records).
    pub recipients: Vec<(UserId, Channel)>,
}

/// Every message on every queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueueMessage {
    /// ingest → grouping.
    Alert(AlertMessage),
    /// grouping → routing.
    Incident(IncidentMessage),
    /// A fired escalation timer → routing.
    Timer(TimerPayload),
    /// A fired heartbeat timer → routing: the heartbeat may have missed its deadline.
    HeartbeatTimer(HeartbeatTimer),
    /// The periodic recovery sweep → routing.
    Sweep {
        /// When the sweep was scheduled to run (informational).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    /// routing → notify: page one tier.
    Page(PageRequest),
    /// ack → notify: tell responders already paged.
    Notice(Notice),
}

impl QueueMessage {
    /// The queue this message travels on.
    pub fn queue(&self) -> QueueName {
        match self {
            QueueMessage::Alert(_) => QueueName::Alerts,
            QueueMessage::Incident(_) => QueueName::Incidents,
            QueueMessage::Timer(_)
            | QueueMessage::HeartbeatTimer(_)
            | QueueMessage::Sweep { .. } => QueueName::Timers,
            QueueMessage::Page(_) | QueueMessage::Notice(_) => QueueName::Notifications,
        }
    }

    /// The FIFO message group (alerts only: one group key is processed at a time).
    pub fn group_id(&self) -> Option<String> {
        match self {
            QueueMessage::Alert(m) => Some(m.group_key.to_string()),
            _ => None,
        }
    }

    /// The FIFO deduplication id (alerts only): the same occurrence and action sent twice
    /// within SQS's five-minute window is delivered once.
    pub fn dedup_id(&self) -> Option<String> {
        match self {
            QueueMessage::Alert(m) => {
                let action = match m.action {
                    AlertAction::Fire => "fire",
                    AlertAction::Resolve => "resolve",
                    AlertAction::Acknowledge => "ack",
                };
                Some(format!("{}-{action}", m.alert_id))
            }
            _ => None,
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        // Serialising these plain data types cannot fail (no maps with non-string keys).
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!("{{\"kind\":\"invalid\",\"error\":{:?}}}", e.to_string()))
    }

    /// Parses a body; a body that is not a Klaxon message is a typed error (the consumer
    /// reports it as a failed item so it ends in the dead-letter queue, never lost).
    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use klaxon_domain::heartbeat::HeartbeatName;

    #[test]
    fn a_heartbeat_timer_travels_on_the_timers_queue() {
        let message = QueueMessage::HeartbeatTimer(HeartbeatTimer {
            heartbeat: HeartbeatName::new("backup").unwrap(),
            version: 4,
        });
        assert_eq!(message.queue(), QueueName::Timers);
        let text = message.to_json();
        assert_eq!(
            text,
            r#"{"kind":"heartbeat_timer","heartbeat":"backup","version":4}"#
        );
        assert_eq!(QueueMessage::from_json(&text).unwrap(), message);
    }

    use klaxon_domain::escalation::TimerKind;
    use klaxon_domain::ids::IncidentId;

    #[test]
    fn every_timer_kind_round_trips_through_the_timers_queue_message() {
        for kind in [TimerKind::Tier, TimerKind::Snooze, TimerKind::AckTimeout] {
            let payload = TimerPayload {
                kind,
                cycle: 2,
                ..TimerPayload::tier(IncidentId::new("0192abcd").unwrap(), 0, 1, 9)
            };
            let message = QueueMessage::Timer(payload);
            let text = message.to_json();
            assert_eq!(QueueMessage::from_json(&text).unwrap(), message, "{text}");
        }
    }
}
