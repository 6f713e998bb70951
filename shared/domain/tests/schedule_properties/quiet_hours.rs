//! Quiet hours across DST, with the schedule suite's zones and generators: `quiet_until`
//! agrees with the reference's restriction windows minute by minute, a deferred page is due
//! exactly when the quiet time ends, and high urgency is never deferred.

use super::*;
use cases::{restriction, transitions};
use klaxon_domain::alert::Severity;
use klaxon_domain::config::Config;
use klaxon_domain::quiet::{PageDecision, decide, quiet_until};
use klaxon_domain::vocabulary::Urgency;

/// Quiet windows as validation accepts them (never a whole day).
fn quiet_windows() -> impl Strategy<Value = Vec<Restriction>> {
    prop::collection::vec(
        restriction().prop_filter("a whole day", |r| r.from != r.to),
        1..=3,
    )
}

/// A zone and an instant within two days of one of its 2026 offset changes (or any instant
/// of 2026 in a zone without them).
fn zone_and_instant() -> impl Strategy<Value = (Tz, Instant)> {
    (
        prop::sample::select(ZONES.to_vec()),
        0usize..4,
        -2880i64..2880,
    )
        .prop_map(|(zone, which, minutes)| {
            let changes = transitions(zone, 2026);
            let base = if changes.is_empty() {
                start_of_2026() + TimeDelta::days(i64::try_from(which).unwrap() * 90)
            } else {
                changes[which % changes.len()]
            };
            (zone, base + TimeDelta::minutes(minutes))
        })
}

fn start_of_2026() -> Instant {
    NaiveDate::from_ymd_opt(2026, 1, 1)
        .unwrap()
        .and_time(NaiveTime::MIN)
        .and_utc()
}

fn covered(windows: &[Restriction], zone: Tz, at: Instant) -> bool {
    windows
        .iter()
        .any(|window| reference::restriction_covers(window, zone, at))
}

fn user_with(windows: &[Restriction], zone: Tz) -> klaxon_domain::user::User {
    let config = Config::from_yaml(&format!(
        "users:\n  - id: ann\n    name: Ann\n    email: ann@example.com\n    time_zone: {}\n",
        zone.name()
    ))
    .unwrap();
    let mut user = config.users[0].clone();
    user.quiet_hours = windows.to_vec();
    user
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn quiet_until_agrees_with_the_reference_windows_across_dst(
        windows in quiet_windows(),
        (zone, at) in zone_and_instant(),
    ) {
        let until = quiet_until(&windows, zone, at);
        prop_assert_eq!(until.is_some(), covered(&windows, zone, at), "at {} (local {})", at, reference::local(zone, at));
        if let Some(end) = until {
            prop_assert!(end > at);
            // Quiet every minute until the end, and not quiet at the end.
            let mut minute = at;
            while minute < end {
                prop_assert!(covered(&windows, zone, minute), "gap at {} before {}", minute, end);
                minute += TimeDelta::minutes(1);
            }
            prop_assert!(!covered(&windows, zone, end), "still quiet at the end {} (local {})", end, reference::local(zone, end));
        }
    }

    #[test]
    fn low_urgency_is_deferred_exactly_in_quiet_hours_and_high_urgency_never(
        windows in quiet_windows(),
        (zone, at) in zone_and_instant(),
        severity in prop::sample::select(Severity::ALL.to_vec()),
    ) {
        let user = user_with(&windows, zone);
        let quiet = covered(&windows, zone, at);
        match decide(&user, Urgency::Low, severity, at) {
            PageDecision::Defer { until } => {
                prop_assert!(quiet);
                // The deferred page is sent at `until`, which is not quiet any more.
                let later = decide(&user, Urgency::Low, severity, until);
                prop_assert!(matches!(later, PageDecision::Send(_)), "{:?}", later);
            }
            PageDecision::Send(_) => prop_assert!(!quiet),
        }
        prop_assert!(matches!(decide(&user, Urgency::High, severity, at), PageDecision::Send(ref c) if !c.is_empty()));
    }
}
