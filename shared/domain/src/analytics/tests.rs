//! A fixed incident history with hand-computed figures.

use super::*;
use crate::schedule::OnCallInterval;
use chrono::{TimeDelta, TimeZone, Utc};
use std::collections::BTreeMap;

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Instant {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::new(id).unwrap()
}

fn page(who: &str, when: Instant, tier: u32) -> PageFact {
    PageFact {
        user: user(who),
        channel: Channel::Email,
        at: when,
        round: 0,
        tier,
    }
}

struct Case {
    number: u64,
    severity: Severity,
    opened: Instant,
    ack: Option<(i64, Actor)>,
    resolve: Option<i64>,
    pages: Vec<PageFact>,
}

fn facts(case: Case) -> IncidentFacts {
    IncidentFacts {
        id: IncidentId::new(format!("inc{:029}", case.number)).unwrap(),
        number: case.number,
        title: format!("incident {}", case.number),
        severity: case.severity,
        policy: Some(PolicyId::new("default").unwrap()),
        team: None,
        integration: IntegrationName::new("prometheus").unwrap(),
        source: Some(
            if case.number.is_multiple_of(2) {
                "db-1"
            } else {
                "web-1"
            }
            .to_owned(),
        ),
        alerts: u32::try_from(case.number).unwrap(),
        opened_at: case.opened,
        acknowledged: case
            .ack
            .map(|(after, by)| (case.opened + TimeDelta::seconds(after), by)),
        resolved_at: case
            .resolve
            .map(|after| case.opened + TimeDelta::seconds(after)),
        pages: case.pages,
    }
}

/// anna lives in Berlin (UTC+1 in March), bob in New York (EST, then EDT from 2026-03-08).
fn zone_of(user: &UserId) -> Option<Tz> {
    match user.as_str() {
        "anna" => Some(chrono_tz::Europe::Berlin),
        "bob" => Some(chrono_tz::America::New_York),
        _ => None,
    }
}

fn history() -> Vec<IncidentFacts> {
    let anna = || Actor::user(user("anna"));
    let bob = || Actor::user(user("bob"));
    vec![
        // 11:00 in Berlin: a waking page.
        facts(Case {
            number: 1,
            severity: Severity::Critical,
            opened: at(2026, 3, 2, 10, 0, 0),
            ack: Some((60, anna())),
            resolve: Some(600),
            pages: vec![page("anna", at(2026, 3, 2, 10, 0, 30), 0)],
        }),
        // anna at 03:00 Berlin (off hours), then tier 1: bob at 21:05 New York (waking).
        facts(Case {
            number: 2,
            severity: Severity::Critical,
            opened: at(2026, 3, 3, 2, 0, 0),
            ack: Some((300, bob())),
            resolve: Some(3600),
            pages: vec![
                page("anna", at(2026, 3, 3, 2, 0, 10), 0),
                page("bob", at(2026, 3, 3, 2, 5, 0), 1),
            ],
        }),
        facts(Case {
            number: 3,
            severity: Severity::Error,
            opened: at(2026, 3, 4, 12, 0, 0),
            ack: Some((120, anna())),
            resolve: Some(1200),
            pages: vec![page("anna", at(2026, 3, 4, 12, 0, 5), 0)],
        }),
        // 22:30 in Berlin: off hours; resolved by its alerts, never acknowledged.
        facts(Case {
            number: 4,
            severity: Severity::Error,
            opened: at(2026, 3, 5, 21, 30, 0),
            ack: None,
            resolve: Some(900),
            pages: vec![page("anna", at(2026, 3, 5, 21, 30, 5), 0)],
        }),
        // 04:00 EDT in New York: off hours; acknowledged by automation, still open.
        facts(Case {
            number: 5,
            severity: Severity::Warning,
            opened: at(2026, 3, 10, 8, 0, 0),
            ack: Some((30, Actor::ApiKey { name: "ops".into() })),
            resolve: None,
            pages: vec![page("bob", at(2026, 3, 10, 8, 0, 10), 0)],
        }),
    ]
}

fn run(by: GroupBy, hours: &BTreeMap<UserId, f64>) -> Report {
    report(
        &history(),
        by,
        (at(2026, 3, 1, 0, 0, 0), at(2026, 4, 1, 0, 0, 0)),
        &zone_of,
        &WakingHours::default(),
        hours,
    )
}

#[test]
fn nearest_rank_percentiles() {
    assert_eq!(percentile(&[], 50), None);
    assert_eq!(percentile(&[7], 90), Some(7));
    assert_eq!(percentile(&[30, 60, 120, 300], 50), Some(60));
    assert_eq!(percentile(&[30, 60, 120, 300], 90), Some(300));
    let ten: Vec<i64> = (1..=10).collect();
    assert_eq!(percentile(&ten, 50), Some(5));
    assert_eq!(percentile(&ten, 90), Some(9));
}

#[test]
fn one_incident_metrics_count_pages_tiers_and_off_hours() {
    let second = &history()[1];
    let metrics = second.metrics(&zone_of, &WakingHours::default());
    assert_eq!(metrics.time_to_acknowledge, Some(300));
    assert_eq!(metrics.time_to_resolve, Some(3600));
    assert_eq!(metrics.pages, 2);
    assert_eq!(metrics.tiers_needed, 2);
    assert_eq!(metrics.off_hours_pages, 1);
    assert_eq!(metrics.acknowledged_by.as_deref(), Some("user:bob"));
    let fourth = history()[3].metrics(&zone_of, &WakingHours::default());
    assert_eq!(fourth.time_to_acknowledge, None);
    assert_eq!(fourth.acknowledged_by, None);
}

#[test]
fn totals_give_hand_computed_mtta_mttr_and_off_hours() {
    let report = run(GroupBy::Severity, &BTreeMap::new());
    let totals = &report.totals;
    assert_eq!(totals.incidents, 5);
    assert_eq!(totals.acknowledged, 4);
    assert_eq!(totals.resolved, 4);
    // TTA 30, 60, 120, 300: median the 2nd, p90 the 4th.
    assert_eq!(totals.mtta.median, Some(60));
    assert_eq!(totals.mtta.p90, Some(300));
    // TTR 600, 900, 1200, 3600.
    assert_eq!(totals.mttr.median, Some(900));
    assert_eq!(totals.mttr.p90, Some(3600));
    assert_eq!(totals.pages, 6);
    assert_eq!(totals.off_hours_pages, 3);
}

#[test]
fn groups_by_severity_week_and_responder() {
    let report = run(GroupBy::Severity, &BTreeMap::new());
    let keys: Vec<_> = report.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["critical", "error", "warning"]);
    let critical = &report.groups[0];
    assert_eq!(
        (critical.mtta.median, critical.mtta.p90),
        (Some(60), Some(300))
    );
    assert_eq!(
        (critical.mttr.median, critical.mttr.p90),
        (Some(600), Some(3600))
    );
    let error = &report.groups[1];
    assert_eq!((error.mttr.median, error.mttr.p90), (Some(900), Some(1200)));
    assert_eq!((error.acknowledged, error.off_hours_pages), (1, 1));
    let warning = &report.groups[2];
    assert_eq!((warning.mttr.median, warning.resolved), (None, 0));

    let weeks = run(GroupBy::Week, &BTreeMap::new());
    let keys: Vec<_> = weeks
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.incidents))
        .collect();
    assert_eq!(keys, [("2026-W10", 4), ("2026-W11", 1)]);

    let responders = run(GroupBy::Responder, &BTreeMap::new());
    let keys: Vec<_> = responders
        .groups
        .iter()
        .map(|g| (g.key.as_str(), g.incidents))
        .collect();
    assert_eq!(
        keys,
        [("(none)", 1), ("anna", 2), ("apikey:ops", 1), ("bob", 1)]
    );
}

#[test]
fn load_per_person_and_noisiest_sources() {
    let hours = BTreeMap::from([(user("anna"), 12.0), (user("carol"), 24.0)]);
    let report = run(GroupBy::Policy, &hours);
    let load: Vec<_> = report
        .on_call_load
        .iter()
        .map(|row| {
            (
                row.user.as_str(),
                row.pages,
                row.off_hours_pages,
                row.acknowledged,
                row.hours_on_call,
            )
        })
        .collect();
    assert_eq!(
        load,
        [
            ("anna", 4, 2, 2, 12.0),
            ("bob", 2, 1, 1, 0.0),
            ("carol", 0, 0, 0, 24.0)
        ]
    );
    // web-1 opened incidents 1, 3, 5 (1 + 3 + 5 alerts); db-1 incidents 2 and 4 (6 alerts).
    let sources: Vec<_> = report
        .noisiest_sources
        .iter()
        .map(|s| (s.source.as_deref(), s.incidents, s.alerts, s.pages))
        .collect();
    assert_eq!(sources, [(Some("web-1"), 3, 9, 3), (Some("db-1"), 2, 6, 3)]);
}

#[test]
fn waking_hours_follow_the_local_clock_across_dst() {
    let waking = WakingHours::default();
    let new_york = chrono_tz::America::New_York;
    // 12:30 UTC is 07:30 EST the day before spring-forward, 08:30 EDT on the day.
    assert!(waking.is_off_hours(at(2026, 3, 7, 12, 30, 0), new_york));
    assert!(!waking.is_off_hours(at(2026, 3, 8, 12, 30, 0), new_york));
    // 21:30 UTC is 22:30 CET (off) in winter, 23:30 CEST in summer (off), 21:30 UTC in UTC.
    assert!(waking.is_off_hours(at(2026, 1, 5, 21, 30, 0), chrono_tz::Europe::Berlin));
    assert!(!waking.is_off_hours(at(2026, 1, 5, 21, 30, 0), Tz::UTC));
    // The end is exclusive, the start inclusive.
    assert!(!waking.is_off_hours(at(2026, 1, 5, 8, 0, 0), Tz::UTC));
    assert!(waking.is_off_hours(at(2026, 1, 5, 22, 0, 0), Tz::UTC));
    // A window that wraps midnight (a night-shift worker awake 20:00-06:00).
    let night = WakingHours {
        start: NaiveTime::from_hms_opt(20, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(6, 0, 0).unwrap(),
    };
    assert!(!night.is_off_hours(at(2026, 1, 5, 2, 0, 0), Tz::UTC));
    assert!(night.is_off_hours(at(2026, 1, 5, 12, 0, 0), Tz::UTC));
}

#[test]
fn hours_on_call_count_only_the_period() {
    let interval = |who: Option<&str>, from: Instant, to: Instant| OnCallInterval {
        start: from,
        end: to,
        user: who.map(user),
        source: None,
    };
    let intervals = [
        interval(
            Some("anna"),
            at(2026, 3, 1, 0, 0, 0),
            at(2026, 3, 2, 0, 0, 0),
        ),
        interval(None, at(2026, 3, 2, 0, 0, 0), at(2026, 3, 2, 6, 0, 0)),
        interval(
            Some("bob"),
            at(2026, 3, 2, 6, 0, 0),
            at(2026, 3, 2, 7, 30, 0),
        ),
        interval(
            Some("anna"),
            at(2026, 3, 2, 7, 30, 0),
            at(2026, 3, 9, 0, 0, 0),
        ),
    ];
    let hours = on_call_hours(
        &intervals,
        at(2026, 3, 1, 12, 0, 0),
        at(2026, 3, 2, 12, 0, 0),
    );
    assert_eq!(hours.get(&user("anna")), Some(&16.5));
    assert_eq!(hours.get(&user("bob")), Some(&1.5));
    assert_eq!(hours.len(), 2);
}

#[test]
fn group_names_parse_and_bad_ones_list_the_choices() {
    for by in GroupBy::ALL {
        assert_eq!(GroupBy::parse(by.as_str()), Ok(by));
    }
    let error = GroupBy::parse("month").unwrap_err();
    assert!(
        error.contains("week, severity, policy, team, integration, responder"),
        "{error}"
    );
}

fn change(integration: &str, summary: &str, when: Instant) -> ChangeFact {
    ChangeFact {
        integration: IntegrationName::new(integration).unwrap(),
        summary: summary.to_owned(),
        source: None,
        at: when,
    }
}

#[test]
fn changes_count_per_integration_in_the_period_and_never_as_incidents() {
    let mut changes: Vec<_> = (0..7)
        .map(|day| {
            change(
                "ci",
                &format!("deploy {day}"),
                at(2026, 3, 2 + day, 12, 0, 0),
            )
        })
        .collect();
    changes.push(change("ci", "too early", at(2026, 2, 28, 23, 59, 59)));
    changes.push(change("ci", "at the end: outside", at(2026, 4, 1, 0, 0, 0)));
    changes.push(change("deployer", "flag flip", at(2026, 3, 20, 0, 0, 0)));
    let plain = run(GroupBy::Integration, &BTreeMap::new());
    let with = plain.clone().with_changes(&changes);
    assert_eq!(with.changes.len(), 2);
    let ci = &with.changes[0];
    assert_eq!((ci.integration.as_str(), ci.count), ("ci", 7));
    let latest: Vec<_> = ci.latest.iter().map(|c| c.summary.as_str()).collect();
    assert_eq!(
        latest,
        ["deploy 6", "deploy 5", "deploy 4", "deploy 3", "deploy 2"],
        "newest first, at most {LATEST_CHANGES}"
    );
    assert_eq!(with.changes[1].count, 1);
    // Incident figures are untouched; the integration groups gain a change count.
    let strip = |row: &GroupRow| GroupRow {
        changes: None,
        ..row.clone()
    };
    assert_eq!(strip(&with.totals), plain.totals);
    assert_eq!(with.totals.changes, Some(8));
    let incident_groups: Vec<_> = with
        .groups
        .iter()
        .filter(|g| g.incidents > 0)
        .map(strip)
        .collect();
    assert_eq!(incident_groups, plain.groups);
    let ci_group = with.groups.iter().find(|g| g.key == "ci").unwrap();
    assert_eq!((ci_group.incidents, ci_group.changes), (0, Some(7)));
    assert_eq!(ci_group.pages, 0);
}

#[test]
fn changes_count_per_group_only_when_grouped_by_integration() {
    let changes = [change("ci", "deploy", at(2026, 3, 2, 12, 0, 0))];
    let by_severity = run(GroupBy::Severity, &BTreeMap::new()).with_changes(&changes);
    assert_eq!(by_severity.changes[0].count, 1);
    assert!(by_severity.groups.iter().all(|g| g.changes.is_none()));
    assert_eq!(by_severity.totals.changes, None);
}
