//! Users and schedules: unique ids, contact addresses, rotations and who they name.

use super::MIN_CUSTOM_SHIFT;
use super::{Known, Origins, require_unique};
use crate::config::Config;
use crate::config::error::{ConfigPath, Issues};
use crate::schedule::{HolidayRule, ShiftLength};
use crate::user::{Channel, check_e164, check_email, check_slack_id};
use std::collections::BTreeSet;

/// A quiet-hours window must not be a whole day (`from` equal to `to`): a user who is never
/// reachable at low urgency should have `contact.low: []` instead, and a deferred page needs
/// an end.
fn check_quiet_hours(user: &crate::user::User, path: &ConfigPath, issues: &mut Issues) {
    for (k, window) in user.quiet_hours.iter().enumerate() {
        if window.from == window.to {
            issues.push(
                path.key("quiet_hours").index(k).key("to"),
                format!(
                    "quiet hours from {} to {} would last the whole day: low-urgency pages \
                     would never be sent (use contact.low: [] for that)",
                    window.from.format("%H:%M"),
                    window.to.format("%H:%M")
                ),
            );
        }
    }
}

pub(super) fn check_users(config: &Config, origins: &Origins, issues: &mut Issues) {
    let base = ConfigPath::root().key("users");
    require_unique(
        "user id",
        config.users.iter().enumerate().map(|(i, u)| {
            let path = origins.users.path(&base, i);
            (u.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    let notifications = &config.notifications;
    for (i, user) in config.users.iter().enumerate() {
        let path = origins.users.path(&base, i);
        if user.name.trim().is_empty() {
            issues.push(path.key("name"), "must not be empty");
        }
        if let Some(email) = &user.email
            && let Err(why) = check_email(email)
        {
            issues.push(path.key("email"), why);
        }
        if let Some(phone) = &user.phone
            && let Err(why) = check_e164(phone)
        {
            issues.push(path.key("phone"), why);
        }
        if let Some(slack_id) = &user.slack_id
            && let Err(why) = check_slack_id(slack_id)
        {
            issues.push(path.key("slack_id"), why);
        }
        check_quiet_hours(user, &path, issues);
        if user.contact.high.is_empty() {
            issues.push(
                path.key("contact").key("high"),
                "no channel for high-urgency pages: set email or phone (the defaults are built \
                 from them) or list channels here",
            );
        }
        for (urgency, channels) in [("high", &user.contact.high), ("low", &user.contact.low)] {
            let mut seen = BTreeSet::new();
            for (k, channel) in channels.iter().enumerate() {
                let channel_path = path.key("contact").key(urgency).index(k);
                if !seen.insert(*channel) {
                    issues.push(channel_path.clone(), format!("{channel} is listed twice"));
                }
                let mut missing = Vec::new();
                match channel {
                    Channel::Sms if user.phone.is_none() => {
                        missing.push(format!("a phone number ({path}.phone)"));
                    }
                    Channel::Email if user.email.is_none() => {
                        missing.push(format!("an email address ({path}.email)"));
                    }
                    Channel::Slack => {
                        if user.slack_id.is_none() {
                            missing.push(format!("a Slack member id ({path}.slack_id)"));
                        }
                        if notifications.slack.is_none() {
                            missing.push("the shared Slack webhook (notifications.slack)".into());
                        }
                    }
                    Channel::Teams if notifications.teams.is_none() => {
                        missing.push("the shared Teams webhook (notifications.teams)".into());
                    }
                    Channel::Webhook if notifications.webhooks.is_empty() => {
                        missing
                            .push("at least one generic webhook (notifications.webhooks)".into());
                    }
                    _ => {}
                }
                if !missing.is_empty() {
                    issues.push(
                        channel_path,
                        format!("{channel} needs {}", missing.join(" and ")),
                    );
                }
            }
        }
    }
}

pub(super) fn check_schedules(
    config: &Config,
    origins: &Origins,
    users: &Known<'_>,
    issues: &mut Issues,
) {
    let base = ConfigPath::root().key("schedules");
    require_unique(
        "schedule id",
        config.schedules.iter().enumerate().map(|(i, s)| {
            let path = origins.schedules.path(&base, i);
            (s.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    for (i, schedule) in config.schedules.iter().enumerate() {
        let path = origins.schedules.path(&base, i);
        if schedule.layers.is_empty() {
            issues.push(path.key("layers"), "a schedule needs at least one layer");
        }
        for (l, layer) in schedule.layers.iter().enumerate() {
            if layer.holidays == Some(HolidayRule::Only) && schedule.holidays.is_empty() {
                // The layer could never apply: almost certainly a forgotten list.
                issues.push(
                    path.key("layers").index(l).key("holidays"),
                    "`only` limits this layer to the schedule's holidays, but the schedule has \
                     none: add dates in `holidays` (or an .ics file in `holidays_ics`)",
                );
            }
            let rotation = path.key("layers").index(l).key("rotation");
            if layer.rotation.participants.is_empty() {
                issues.push(
                    rotation.key("participants"),
                    "a rotation needs at least one participant",
                );
            }
            for (p, participant) in layer.rotation.participants.iter().enumerate() {
                users.require(
                    participant.as_str(),
                    rotation.key("participants").index(p),
                    issues,
                );
            }
            let shift = rotation.key("shift");
            match layer.rotation.shift {
                ShiftLength::Hours(0) => issues.push(shift.key("hours"), "must be at least 1"),
                ShiftLength::Days(0) => issues.push(shift.key("days"), "must be at least 1"),
                ShiftLength::Weeks(0) => issues.push(shift.key("weeks"), "must be at least 1"),
                ShiftLength::Custom(length) if length < MIN_CUSTOM_SHIFT => issues.push(
                    shift.key("custom"),
                    format!("must be at least {MIN_CUSTOM_SHIFT} (got {length})"),
                ),
                _ => {}
            }
        }
        for (k, away) in schedule.unavailability.iter().enumerate() {
            let away_path = path.key("unavailability").index(k);
            users.require(away.user.as_str(), away_path.key("user"), issues);
            if away.end <= away.start {
                issues.push(away_path.key("end"), "must be after start");
            }
        }
    }
}
