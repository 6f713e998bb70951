//! `klaxon oncall`, `klaxon schedule show` and `klaxon schedule export --ics`, including DST
//! hand-offs and holiday coverage. Expected values are worked out from the configurations by hand.

// Tests run fixed inputs; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{dst_config, example_config, holidays_config, klaxon, temp_file};
use serde_json::{Value, json};

fn oncall(config: &str, schedule: &str, at: &str) -> Value {
    let report = klaxon(&[
        "--config",
        config,
        "oncall",
        "--schedule",
        schedule,
        "--at",
        at,
        "--json",
    ])
    .ok()
    .json();
    assert_eq!(report["schedules"].as_array().map(Vec::len), Some(1));
    report["schedules"][0].clone()
}

fn on_call_user(config: &str, schedule: &str, at: &str) -> Value {
    oncall(config, schedule, at)["user"]["id"].clone()
}

#[test]
fn oncall_lists_every_schedule_of_the_example() {
    let config = example_config();
    // Wednesday 2026-03-04 10:00Z, week 8 of the weekly rotations (from 2026-01-05):
    // primary [anna, ben, chloe] -> chloe; secondary [ben, chloe, diego, emma, anna] -> emma;
    // database at 05:00 New York is outside business hours: "Around the clock" [chloe, emma]
    // -> chloe.
    let report = klaxon(&[
        "--config",
        &config,
        "oncall",
        "--at",
        "2026-03-04T10:00:00Z",
        "--json",
    ])
    .ok()
    .json();
    assert_eq!(report["at"], "2026-03-04T10:00:00Z");
    let schedules = report["schedules"].as_array().unwrap();
    let ids: Vec<&str> = schedules
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["primary", "secondary", "database"]);
    assert_eq!(
        schedules[0]["user"],
        json!({"id": "chloe", "name": "Chloé Martin"})
    );
    assert_eq!(
        schedules[0]["source"],
        json!({"kind": "layer", "index": 0, "name": "EMEA daytime"})
    );
    // EMEA daytime is 07:00-19:00 UTC.
    assert_eq!(schedules[0]["since"]["utc"], "2026-03-04T07:00:00Z");
    assert_eq!(schedules[0]["until"]["utc"], "2026-03-04T19:00:00Z");
    assert_eq!(schedules[1]["user"]["id"], "emma");
    assert_eq!(schedules[1]["time_zone"], "Europe/Berlin");
    assert_eq!(schedules[1]["at_local"], "2026-03-04T11:00:00+01:00");
    // Secondary hands off Mondays 09:00 Berlin: 2026-03-02 and 2026-03-09, 08:00Z in winter.
    assert_eq!(
        schedules[1]["since"],
        json!({"utc": "2026-03-02T08:00:00Z", "local": "2026-03-02T09:00:00+01:00"})
    );
    assert_eq!(schedules[1]["until"]["utc"], "2026-03-09T08:00:00Z");
    assert_eq!(schedules[2]["user"]["id"], "chloe");
    assert_eq!(schedules[2]["source"]["name"], "Around the clock");
}

#[test]
fn example_database_hand_off_follows_new_york_summer_time() {
    let config = example_config();
    // Monday 2026-03-09, after New York's spring forward: 09:00 EDT is 13:00Z.
    let before = oncall(&config, "database", "2026-03-09T12:59:59Z");
    assert_eq!(before["user"]["id"], "chloe");
    assert_eq!(before["until"]["local"], "2026-03-09T09:00:00-04:00");
    assert_eq!(before["until"]["utc"], "2026-03-09T13:00:00Z");
    let after = oncall(&config, "database", "2026-03-09T13:00:00Z");
    assert_eq!(after["user"]["id"], "emma");
    assert_eq!(after["source"]["name"], "Business hours");
    // 13:30Z would still be before a (wrong) 14:00Z hand-off.
    assert_eq!(
        on_call_user(&config, "database", "2026-03-09T13:30:00Z"),
        "emma"
    );
}

#[test]
fn example_secondary_hand_off_follows_berlin_summer_time() {
    let config = example_config();
    // Berlin springs forward on 2026-03-29; Monday 2026-03-30 09:00 CEST is 07:00Z.
    // Week 11 [ben, chloe, diego, emma, anna][11 % 5] = chloe, week 12 = diego.
    assert_eq!(
        on_call_user(&config, "secondary", "2026-03-30T06:59:00Z"),
        "chloe"
    );
    assert_eq!(
        on_call_user(&config, "secondary", "2026-03-30T07:00:00Z"),
        "diego"
    );
}

#[test]
fn daily_nine_oclock_hand_off_on_new_york_dst_days() {
    let config = dst_config();
    // [alice, bob, carol] daily from 2026-01-05 09:00. 2026-03-07 is day 61 (bob), 2026-03-08
    // day 62 (carol). On the spring-forward day 09:00 EDT is 13:00Z, not 14:00Z.
    assert_eq!(
        on_call_user(&config, "ny-daily", "2026-03-08T12:59:00Z"),
        "bob"
    );
    assert_eq!(
        on_call_user(&config, "ny-daily", "2026-03-08T13:00:00Z"),
        "carol"
    );
    assert_eq!(
        on_call_user(&config, "ny-daily", "2026-03-08T13:30:00Z"),
        "carol"
    );
    // Bob's shift started at 09:00 EST the day before: 14:00Z, 23 real hours earlier.
    let bob = oncall(&config, "ny-daily", "2026-03-08T12:00:00Z");
    assert_eq!(bob["since"]["utc"], "2026-03-07T14:00:00Z");
    assert_eq!(bob["since"]["local"], "2026-03-07T09:00:00-05:00");
    assert_eq!(bob["until"]["local"], "2026-03-08T09:00:00-04:00");
    // Fall back, 2026-11-01 (day 300, alice; day 299 carol): 09:00 EST is 14:00Z.
    assert_eq!(
        on_call_user(&config, "ny-daily", "2026-11-01T13:30:00Z"),
        "carol"
    );
    assert_eq!(
        on_call_user(&config, "ny-daily", "2026-11-01T14:00:00Z"),
        "alice"
    );
}

#[test]
fn weekly_hand_off_inside_the_london_gap() {
    let config = dst_config();
    // Sundays 01:30 London, [alice, bob] from 2026-01-04. On 2026-03-29 01:30 does not exist
    // and becomes 02:30 BST = 01:30Z; week 12 (alice) starts then, week 11 was bob.
    assert_eq!(
        on_call_user(&config, "london-sunday", "2026-03-29T01:29:00Z"),
        "bob"
    );
    let alice = oncall(&config, "london-sunday", "2026-03-29T01:30:00Z");
    assert_eq!(alice["user"]["id"], "alice");
    assert_eq!(alice["since"]["local"], "2026-03-29T02:30:00+01:00");
    // 2026-10-25 01:30 happens twice; the first (BST, 00:30Z) is the hand-off. Week 42: alice.
    assert_eq!(
        on_call_user(&config, "london-sunday", "2026-10-25T00:29:00Z"),
        "bob"
    );
    assert_eq!(
        on_call_user(&config, "london-sunday", "2026-10-25T00:30:00Z"),
        "alice"
    );
}

#[test]
fn oncall_text_shows_local_time_with_offset_and_utc() {
    let config = dst_config();
    let run = klaxon(&[
        "--config",
        &config,
        "oncall",
        "--schedule",
        "ny-daily",
        "--at",
        "2026-03-08T13:30:00Z",
    ])
    .ok();
    let expected = "On call at 2026-03-08T13:30:00Z\n\
        \n\
        ny-daily \"New York daily\" (America/New_York)\n  \
        on call  Carol Chen (carol)\n  \
        source   layer 0 \"Daily 09:00\"\n  \
        at       Sun 2026-03-08 09:30 EDT (-04:00) = 2026-03-08T13:30:00Z\n  \
        since    Sun 2026-03-08 09:00 EDT (-04:00) = 2026-03-08T13:00:00Z\n  \
        until    Mon 2026-03-09 09:00 EDT (-04:00) = 2026-03-09T13:00:00Z\n";
    assert_eq!(run.stdout, expected);
}

#[test]
fn oncall_reports_nobody_outside_every_layer() {
    let config = dst_config();
    // ny-business covers weekdays 09:00-17:00 only; 2026-03-08 is a Sunday.
    let nobody = oncall(&config, "ny-business", "2026-03-08T15:00:00Z");
    assert_eq!(nobody["user"], Value::Null);
    assert_eq!(nobody["source"], Value::Null);
    // The gap ends when Monday's window opens at 09:00 EDT.
    assert_eq!(nobody["until"]["utc"], "2026-03-09T13:00:00Z");
    let run = klaxon(&[
        "--config",
        &config,
        "oncall",
        "--schedule",
        "ny-business",
        "--at",
        "2026-03-08T15:00:00Z",
    ])
    .ok();
    assert!(run.stdout.contains("  on call  nobody\n"), "{}", run.stdout);
}

fn show(config: &str, args: &[&str]) -> Value {
    let mut argv = vec!["--config", config, "schedule", "show"];
    argv.extend_from_slice(args);
    argv.push("--json");
    klaxon(&argv).ok().json()
}

#[test]
fn schedule_show_covers_the_range_across_spring_forward() {
    let config = dst_config();
    // Dates are midnight New York: 2026-03-07 00:00 EST = 05:00Z, 2026-03-10 00:00 EDT = 04:00Z.
    let report = show(
        &config,
        &["ny-daily", "--from", "2026-03-07", "--to", "2026-03-10"],
    );
    assert_eq!(
        report["schedule"],
        json!({"id": "ny-daily", "name": "New York daily", "time_zone": "America/New_York"})
    );
    assert_eq!(
        report["from"],
        json!({"utc": "2026-03-07T05:00:00Z", "local": "2026-03-07T00:00:00-05:00"})
    );
    assert_eq!(report["to"]["utc"], "2026-03-10T04:00:00Z");
    let intervals: Vec<(String, String, String)> = report["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["start"]["local"].as_str().unwrap().to_string(),
                i["end"]["utc"].as_str().unwrap().to_string(),
                i["user"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("2026-03-07T00:00:00-05:00", "2026-03-07T14:00:00Z", "alice"),
        ("2026-03-07T09:00:00-05:00", "2026-03-08T13:00:00Z", "bob"),
        ("2026-03-08T09:00:00-04:00", "2026-03-09T13:00:00Z", "carol"),
        ("2026-03-09T09:00:00-04:00", "2026-03-10T04:00:00Z", "alice"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    assert_eq!(intervals, expected);
    assert_eq!(
        report["intervals"][2]["start"]["utc"],
        "2026-03-08T13:00:00Z"
    );
    assert_eq!(
        report["intervals"][2]["source"],
        json!({"kind": "layer", "index": 0, "name": "Daily 09:00"})
    );
}

#[test]
fn schedule_show_text_has_local_and_utc_columns_and_nobody() {
    let config = dst_config();
    let run = klaxon(&[
        "--config",
        &config,
        "schedule",
        "show",
        "ny-business",
        "--from",
        "2026-03-06T12:00:00Z",
        "--to",
        "2026-03-09T18:00:00Z",
    ])
    .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Schedule ny-business \"New York business hours\" (America/New_York)"
    );
    assert!(
        lines[3].starts_with("START (America/New_York)"),
        "{}",
        run.stdout
    );
    // Friday 07:00-09:00 EST nobody, 09:00-17:00 carol, then nobody until Monday 09:00 EDT.
    let rows: Vec<Vec<&str>> = lines[4..]
        .iter()
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                "Fri 2026-03-06 07:00 EST (-05:00)",
                "Fri 2026-03-06 09:00 EST (-05:00)",
                "2026-03-06T12:00:00Z",
                "2026-03-06T14:00:00Z",
                "nobody",
                "no layer has anyone on call",
            ],
            vec![
                "Fri 2026-03-06 09:00 EST (-05:00)",
                "Fri 2026-03-06 17:00 EST (-05:00)",
                "2026-03-06T14:00:00Z",
                "2026-03-06T22:00:00Z",
                "Carol Chen (carol)",
                "layer 0 \"Weekdays\"",
            ],
            vec![
                "Fri 2026-03-06 17:00 EST (-05:00)",
                "Mon 2026-03-09 09:00 EDT (-04:00)",
                "2026-03-06T22:00:00Z",
                "2026-03-09T13:00:00Z",
                "nobody",
                "no layer has anyone on call",
            ],
            vec![
                "Mon 2026-03-09 09:00 EDT (-04:00)",
                "Mon 2026-03-09 14:00 EDT (-04:00)",
                "2026-03-09T13:00:00Z",
                "2026-03-09T18:00:00Z",
                "Carol Chen (carol)",
                "layer 0 \"Weekdays\"",
            ],
        ]
    );
}

#[test]
fn schedule_show_refuses_bad_ranges_as_usage_errors() {
    let config = dst_config();
    let base = ["--config", config.as_str(), "schedule", "show", "ny-daily"];
    let run = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        klaxon(&args)
    };
    run(&["--from", "2026-01-01", "--to", "2027-01-03"]).fails(2, "at most 366 days");
    run(&["--from", "2026-03-05", "--to", "2026-03-01"]).fails(2, "must be after its start");
    run(&["--from", "2026-03-05T10:00"]).fails(2, "has no time zone");
    run(&["--to", "next week"]).fails(2, "or a date like 2026-03-01");
    // A full year is fine.
    run(&["--from", "2026-01-01", "--to", "2027-01-01", "--json"]).ok();
}

/// The ICS export of ny-daily over `from`..`to` as written to a file.
fn export(from: &str, to: &str) -> (String, Value) {
    let config = dst_config();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ny.ics");
    let path_text = path.display().to_string();
    let summary = klaxon(&[
        "--config", &config, "schedule", "export", "ny-daily", "--ics", "--from", from, "--to", to,
        "--output", &path_text, "--json",
    ])
    .ok()
    .json();
    (std::fs::read_to_string(&path).unwrap(), summary)
}

#[test]
fn ics_export_is_a_valid_calendar_with_one_event_per_shift() {
    let (text, summary) = export("2026-03-07", "2026-03-10");
    // alice (from 2026-03-06 14:00Z, kept whole), bob, carol, alice (to 2026-03-10 13:00Z).
    assert_eq!(summary["events"], 4);
    assert_eq!(summary["schedule"], "ny-daily");

    // Structure, line by line: CRLF everywhere, folded at 75 octets.
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in output"
    );
    assert!(text.ends_with("\r\n"));
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    for line in &lines {
        assert!(line.len() <= 75, "longer than 75 octets: {line:?}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with(' ')),
        "long lines are folded"
    );
    assert_eq!(lines.first(), Some(&"BEGIN:VCALENDAR"));
    assert_eq!(lines.last(), Some(&"END:VCALENDAR"));
    assert!(lines.contains(&"VERSION:2.0"));
    assert!(lines.contains(&"PRODID:-//Klaxon//On-call schedule//EN"));
    assert!(lines.contains(&"X-WR-CALNAME:On call: New York daily"));

    // And it parses back with the icalendar crate.
    let calendar: icalendar::Calendar = text.parse().expect("the export parses");
    use icalendar::Component;
    let events: Vec<&icalendar::Event> = calendar.events().collect();
    assert_eq!(events.len(), 4);
    let get = |event: &icalendar::Event, key: &str| event.property_value(key).map(str::to_string);
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                get(e, "DTSTART"),
                get(e, "DTEND"),
                e.get_summary().map(str::to_string),
            )
        })
        .collect();
    let some = |s: &str| Some(s.to_string());
    assert_eq!(
        rows,
        [
            (
                some("20260306T140000Z"),
                some("20260307T140000Z"),
                some("On call: Alice Adams")
            ),
            (
                some("20260307T140000Z"),
                some("20260308T130000Z"),
                some("On call: Bob Brown")
            ),
            (
                some("20260308T130000Z"),
                some("20260309T130000Z"),
                some("On call: Carol Chen")
            ),
            (
                some("20260309T130000Z"),
                some("20260310T130000Z"),
                some("On call: Alice Adams")
            ),
        ]
    );
    let uids: Vec<String> = events
        .iter()
        .map(|e| e.get_uid().unwrap().to_string())
        .collect();
    assert_eq!(uids[2], "ny-daily-20260308T130000Z-carol@klaxon");
    let unique: std::collections::BTreeSet<&String> = uids.iter().collect();
    assert_eq!(unique.len(), 4);
    // The folded description unfolds to the whole sentence.
    assert_eq!(
        events[2].get_description(),
        Some(
            "Carol Chen (carol) is on call for schedule New York daily (ny-daily), from layer 0 \"Daily 09:00\"."
        )
    );
    assert!(
        events.iter().all(|e| e.get_timestamp().is_some()),
        "DTSTAMP on every event"
    );
}

#[test]
fn ics_uids_are_stable_when_the_range_moves() {
    let (first, _) = export("2026-03-07", "2026-03-10");
    let (later, _) = export("2026-03-08T06:00:00Z", "2026-03-12");
    let uids = |text: &str| -> Vec<String> {
        text.split("\r\n")
            .filter_map(|l| l.strip_prefix("UID:").map(str::to_string))
            .collect()
    };
    // bob's, carol's and the second alice's shifts are in both exports with the same UIDs.
    let first = uids(&first);
    let later = uids(&later);
    for uid in &first[1..] {
        assert!(later.contains(uid), "{uid} missing from {later:?}");
    }
}

#[test]
fn ics_export_goes_to_stdout_by_default() {
    let config = example_config();
    let run = klaxon(&[
        "--config",
        &config,
        "schedule",
        "export",
        "secondary",
        "--ics",
        "--from",
        "2026-03-23",
        "--to",
        "2026-04-06",
    ])
    .ok();
    assert!(run.stdout.starts_with("BEGIN:VCALENDAR\r\n"));
    // Berlin: Monday 09:00 is 08:00Z before 2026-03-29 and 07:00Z after it.
    assert!(run.stdout.contains("DTSTART:20260323T080000Z\r\n"));
    assert!(run.stdout.contains("DTSTART:20260330T070000Z\r\n"));
    assert!(run.stdout.contains("SUMMARY:On call: Diego Alvarez\r\n"));
    assert!(run.stdout.contains("X-WR-TIMEZONE:Europe/Berlin\r\n"));
}

#[test]
fn ics_export_to_stdout_refuses_json_instead_of_ignoring_it() {
    let config = example_config();
    let run = klaxon(&[
        "--config",
        &config,
        "schedule",
        "export",
        "secondary",
        "--ics",
        "--json",
    ])
    .fails(2, "--json needs --output FILE with --ics");
    assert!(run.stdout.is_empty(), "{run:#?}");
}

// ---- Holidays ------------------------------------------------------------------------------

#[test]
fn oncall_on_a_holiday_from_the_ics_file_names_the_holiday_cover() {
    let config = holidays_config();
    // 2026-08-31 is in holidays/uk-2026.ics; London is on BST (+01:00), so the holiday is
    // 2026-08-30 23:00Z to 2026-08-31 23:00Z.
    let holiday = oncall(&config, "london", "2026-08-31T12:00:00Z");
    assert_eq!(
        holiday["user"],
        json!({"id": "hana", "name": "Hana Holiday"})
    );
    assert_eq!(
        holiday["source"],
        json!({"kind": "layer", "index": 0, "name": "Holiday cover"})
    );
    assert_eq!(
        holiday["since"],
        json!({"utc": "2026-08-30T23:00:00Z", "local": "2026-08-31T00:00:00+01:00"})
    );
    assert_eq!(
        holiday["until"],
        json!({"utc": "2026-08-31T23:00:00Z", "local": "2026-09-01T00:00:00+01:00"})
    );
    // The next day the weekly team is back: alice's week began on the holiday at 09:00 BST.
    let after = oncall(&config, "london", "2026-08-31T23:00:00Z");
    assert_eq!(after["user"]["id"], "alice");
    assert_eq!(after["source"]["name"], "Weekly");
    // The day before, bob's week (from Monday 2026-08-24 09:00 BST) until the holiday starts.
    let before = oncall(&config, "london", "2026-08-30T22:59:59Z");
    assert_eq!(before["user"]["id"], "bob");
    assert_eq!(before["until"]["utc"], "2026-08-30T23:00:00Z");
}

#[test]
fn a_listed_holiday_on_the_fall_back_day_lasts_25_hours() {
    let config = holidays_config();
    let holiday = oncall(&config, "london", "2026-10-25T12:00:00Z");
    assert_eq!(holiday["user"]["id"], "hana");
    assert_eq!(
        holiday["since"],
        json!({"utc": "2026-10-24T23:00:00Z", "local": "2026-10-25T00:00:00+01:00"})
    );
    assert_eq!(
        holiday["until"],
        json!({"utc": "2026-10-26T00:00:00Z", "local": "2026-10-26T00:00:00Z"})
    );
}

#[test]
fn schedule_show_hands_a_two_day_holiday_to_the_cover_and_back() {
    let config = holidays_config();
    // London is on GMT in December: local midnight is 00:00Z.
    let report = show(
        &config,
        &["london", "--from", "2026-12-24", "--to", "2026-12-28"],
    );
    let intervals: Vec<(&str, &str, &str)> = report["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["start"]["utc"].as_str().unwrap(),
                i["end"]["utc"].as_str().unwrap(),
                i["user"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        intervals,
        [
            ("2026-12-24T00:00:00Z", "2026-12-25T00:00:00Z", "alice"),
            ("2026-12-25T00:00:00Z", "2026-12-27T00:00:00Z", "hana"),
            ("2026-12-27T00:00:00Z", "2026-12-28T00:00:00Z", "alice"),
        ]
    );
}

fn calendar_with(event: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{event}END:VCALENDAR\r\n")
}

#[test]
fn validate_names_the_ics_file_and_the_event_it_cannot_use() {
    let text = std::fs::read_to_string(holidays_config())
        .unwrap()
        .replace("holidays/uk-2026.ics", "repeating.ics");
    let (dir, path) = temp_file("klaxon.yaml", &text);
    std::fs::write(
        dir.path().join("repeating.ics"),
        calendar_with(
            "BEGIN:VEVENT\r\nUID:may-day\r\nSUMMARY:May Day\r\nDTSTART;VALUE=DATE:20260504\r\n\
             RRULE:FREQ=YEARLY;BYMONTH=5;BYDAY=1MO\r\nEND:VEVENT\r\n",
        ),
    )
    .unwrap();
    let report = klaxon(&["config", "validate", &path, "--json"]);
    assert_eq!(report.code, 1, "{report:#?}");
    let errors = report.json()["errors"].clone();
    assert_eq!(errors.as_array().map(Vec::len), Some(1), "{errors}");
    assert_eq!(errors[0]["path"], "schedules[0].holidays_ics");
    let message = errors[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("repeating.ics: event 1 \"May Day\" (UID may-day) repeats (RRULE)"),
        "{message}"
    );

    // A missing file is named too, and commands that load the file refuse to run.
    let missing = text.replace("repeating.ics", "absent.ics");
    let (_other, path) = temp_file("klaxon.yaml", &missing);
    klaxon(&["--config", &path, "oncall", "--at", "2026-12-25T12:00:00Z"])
        .fails(1, "schedules[0].holidays_ics: absent.ics: cannot read");
}
