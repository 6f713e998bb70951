//! Which of a user's channels a page goes out on *now*: quiet hours (do not disturb for low
//! urgency) and a minimum severity per channel.
//!
//! The rule, applied per user at the instant the page was planned (its `resolve_at`):
//!
//! 1. A channel whose `min_severity` is above the incident's severity is left out.
//! 2. **High urgency always pages**: quiet hours never apply, and if rule 1 left out every
//!    channel of the user's high-urgency list, the first one of that list is used anyway.
//! 3. **Low urgency during quiet hours is deferred**, not dropped: nothing is sent now, and the
//!    page is sent at the end of the quiet hours (the instant [`quiet_until`] gives) if the
//!    incident is still triggered then. Rule 1 applies to that later page too.
//!
//! Quiet hours are [`Restriction`] windows in the user's own zone, with the same DST rule as
//! schedules ([`crate::schedule::resolve_local`]): a window edge in a spring-forward gap moves
//! forward by the gap, an edge in a repeated hour is its first occurrence.

use crate::Instant;
use crate::alert::Severity;
use crate::schedule::{Restriction, Window};
use crate::user::{Channel, User};
use crate::vocabulary::Urgency;
use chrono::TimeDelta;
use chrono_tz::Tz;

/// How far ahead [`quiet_until`] follows windows that touch one another. Longer than any week
/// of windows can chain: windows cannot be whole days (validation refuses `from == to`), so
/// a gap appears within a week.
const HORIZON_DAYS: i64 = 8;

/// What a page does for one user now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageDecision {
    /// Send on these channels now (in the user's order; may be empty when the user has no
    /// channel for the urgency or every low-urgency channel is below its minimum severity).
    Send(Vec<Channel>),
    /// Low urgency in quiet hours: send nothing now; page again at `until`.
    Defer {
        /// The end of the quiet hours.
        until: Instant,
    },
}

/// If `at` falls inside one of `windows` (local times in `zone`), the instant the quiet time
/// ends: the end of that window, or of the last window it runs into without a gap.
pub fn quiet_until(windows: &[Restriction], zone: Tz, at: Instant) -> Option<Instant> {
    if windows.is_empty() {
        return None;
    }
    let horizon = at + TimeDelta::days(HORIZON_DAYS);
    let mut all: Vec<Window> = windows
        .iter()
        .flat_map(|window| window.windows_between(zone, at, horizon))
        .collect();
    all.sort();
    let mut end = None::<Instant>;
    for window in all {
        match end {
            None if window.contains(at) => end = Some(window.end),
            Some(current) if window.start <= current => end = Some(current.max(window.end)),
            _ => {}
        }
    }
    end
}

/// Whether `at` is inside the user's quiet hours.
pub fn is_quiet(user: &User, at: Instant) -> bool {
    quiet_until(&user.quiet_hours, user.time_zone, at).is_some()
}

/// The channels of `user` that accept a page of `severity` (rule 1), in order.
pub fn channels_at_severity(user: &User, urgency: Urgency, severity: Severity) -> Vec<Channel> {
    user.channels_for(urgency)
        .iter()
        .copied()
        .filter(|channel| {
            user.min_severity
                .get(channel)
                .is_none_or(|minimum| severity >= *minimum)
        })
        .collect()
}

/// Applies the module's rule to one user for a page of `urgency` about an incident of
/// `severity`, planned at `at`.
pub fn decide(user: &User, urgency: Urgency, severity: Severity, at: Instant) -> PageDecision {
    match urgency {
        Urgency::High => {
            let mut channels = channels_at_severity(user, urgency, severity);
            if channels.is_empty()
                && let Some(first) = user.contact.high.first()
            {
                channels.push(*first);
            }
            PageDecision::Send(channels)
        }
        Urgency::Low => match quiet_until(&user.quiet_hours, user.time_zone, at) {
            Some(until) => PageDecision::Defer { until },
            None => PageDecision::Send(channels_at_severity(user, urgency, severity)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use chrono::{NaiveTime, TimeZone, Weekday};

    fn user(yaml_extra: &str) -> User {
        let yaml = format!(
            "users:\n  - id: ann\n    name: Ann\n    email: ann@example.com\n    phone: \"+15551230001\"\n    time_zone: Europe/Berlin\n    contact: {{ high: [sms, email], low: [sms, email] }}\n{yaml_extra}"
        );
        let config = Config::from_yaml(&yaml).unwrap();
        config.users[0].clone()
    }

    fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> Instant {
        chrono_tz::Europe::Berlin
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .to_utc()
    }

    fn night() -> Restriction {
        Restriction {
            days: Vec::new(),
            from: NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            to: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        }
    }

    #[test]
    fn low_urgency_at_night_waits_until_the_morning_in_the_users_zone() {
        let ann = user("    quiet_hours: [{ from: \"22:00\", to: \"07:00\" }]\n");
        assert_eq!(ann.quiet_hours, vec![night()]);
        let late = berlin(2026, 1, 14, 23, 30);
        assert_eq!(
            decide(&ann, Urgency::Low, Severity::Warning, late),
            PageDecision::Defer {
                until: berlin(2026, 1, 15, 7, 0)
            }
        );
        // At 07:00 sharp the window is over (end exclusive).
        assert_eq!(
            decide(
                &ann,
                Urgency::Low,
                Severity::Warning,
                berlin(2026, 1, 15, 7, 0)
            ),
            PageDecision::Send(vec![Channel::Sms, Channel::Email])
        );
        // High urgency always pages.
        assert_eq!(
            decide(&ann, Urgency::High, Severity::Warning, late),
            PageDecision::Send(vec![Channel::Sms, Channel::Email])
        );
    }

    #[test]
    fn touching_windows_defer_to_the_end_of_the_last_one() {
        let weekend = Restriction {
            days: vec![Weekday::Sat],
            from: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
            to: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
        };
        // Friday 23:00: the night runs into Saturday's morning window.
        let at = berlin(2026, 1, 16, 23, 0);
        assert_eq!(
            quiet_until(&[night(), weekend], chrono_tz::Europe::Berlin, at),
            Some(berlin(2026, 1, 17, 12, 0))
        );
    }

    #[test]
    fn min_severity_leaves_channels_out_but_high_urgency_still_reaches_the_user() {
        let ann = user("    min_severity: { sms: critical, email: warning }\n");
        let noon = berlin(2026, 1, 14, 12, 0);
        assert_eq!(
            decide(&ann, Urgency::Low, Severity::Error, noon),
            PageDecision::Send(vec![Channel::Email])
        );
        assert_eq!(
            decide(&ann, Urgency::Low, Severity::Critical, noon),
            PageDecision::Send(vec![Channel::Sms, Channel::Email])
        );
        assert_eq!(
            decide(&ann, Urgency::Low, Severity::Info, noon),
            PageDecision::Send(vec![])
        );
        // Every high channel filtered out: the first one is used anyway.
        assert_eq!(
            decide(&ann, Urgency::High, Severity::Info, noon),
            PageDecision::Send(vec![Channel::Sms])
        );
    }
}
