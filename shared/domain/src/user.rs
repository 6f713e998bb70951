//! Responders and how to reach them.

use crate::ids::UserId;
use crate::incident::Urgency;
use serde::{Deserialize, Serialize};

/// A channel a page can go out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Email (SES v2 in the cloud, SMTP or the outbox locally).
    Email,
    /// SMS (SNS in the cloud, the outbox locally).
    Sms,
    /// Slack incoming webhook (the user's Slack id is mentioned).
    Slack,
    /// Microsoft Teams incoming webhook.
    Teams,
    /// A generic JSON webhook, signed with HMAC-SHA256.
    Webhook,
}

impl Channel {
    /// All channels.
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Sms,
        Channel::Slack,
        Channel::Teams,
        Channel::Webhook,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Slack => "slack",
            Channel::Teams => "teams",
            Channel::Webhook => "webhook",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person who can be paged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Identifier used in schedules and policies.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Email address (required for the email channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number in E.164 form (`+15551234567`), required for SMS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Slack member id (`U012ABCDEF`), mentioned in Slack pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_id: Option<String>,
    /// The user's own time zone (for display; schedules have their own zone).
    pub time_zone: chrono_tz::Tz,
    /// Channels to use for high-urgency pages, in order.
    pub high_urgency: Vec<Channel>,
    /// Channels to use for low-urgency pages, in order.
    pub low_urgency: Vec<Channel>,
}

impl User {
    /// The channels to page this user on for `urgency`.
    pub fn channels_for(&self, urgency: Urgency) -> &[Channel] {
        match urgency {
            Urgency::High => &self.high_urgency,
            Urgency::Low => &self.low_urgency,
        }
    }
}
