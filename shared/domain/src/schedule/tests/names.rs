//! Weekday names, restriction serde and the documented YAML example.

use super::*;

#[test]
fn weekday_names_accept_short_and_full_forms_in_any_case() {
    for (name, day) in [
        ("mon", Weekday::Mon),
        ("Tue", Weekday::Tue),
        ("WEDNESDAY", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("Fri", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("SUN", Weekday::Sun),
    ] {
        assert_eq!(weekdays::parse(name), Some(day), "{name}");
    }
    for name in [
        "monkey", "mo", "tues", "thurs", "", " mon", "sundays", "lundi",
    ] {
        assert_eq!(weekdays::parse(name), None, "{name}");
    }
}

#[test]
fn restriction_serde_uses_short_weekday_names_and_rejects_unknown_ones() {
    let parsed: Restriction = serde_json::from_str(
        r#"{"days": ["Monday", "fri"], "from": "09:00:00", "to": "17:30:00"}"#,
    )
    .unwrap();
    assert_eq!(parsed.days, vec![Weekday::Mon, Weekday::Fri]);
    let written = serde_json::to_value(&parsed).unwrap();
    assert_eq!(written["days"], serde_json::json!(["mon", "fri"]));
    let error = serde_json::from_str::<Restriction>(
        r#"{"days": ["monkey"], "from": "09:00:00", "to": "17:00:00"}"#,
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("unknown weekday \"monkey\""),
        "{error}"
    );
}

#[test]
fn documented_yaml_example_parses_into_the_expected_schedule() {
    // The first example of docs/schedules.md, as one schedule.
    let yaml = r#"
id: primary
name: Primary on-call
time_zone: America/New_York
layers:
  - name: business-hours
    rotation:
      participants: [alice, bob, carol]
      start: 2026-01-05T09:00:00
      shift: { days: 1 }
    restrictions:
      - days: [mon, tue, wed, thu, fri]
        from: "09:00"
        to: "17:00"
  - name: nights-and-weekends
    rotation:
      participants: [dave, erin]
      start: 2026-01-05T09:00:00
      shift: { weeks: 1 }
unavailability:
  - user: bob
    start: 2026-03-09T00:00:00Z
    end: 2026-03-16T00:00:00Z
"#;
    let parsed: Schedule = serde_saphyr::from_str(yaml).unwrap();
    assert_eq!(parsed.time_zone, NEW_YORK);
    assert_eq!(parsed.layers[0].rotation.shift, ShiftLength::Days(1));
    assert_eq!(parsed.layers[1].rotation.shift, ShiftLength::Weeks(1));
    assert_eq!(parsed.layers[0].restrictions[0].days.len(), 5);
    // Tuesday 2026-03-10 10:00 EDT: bob's shift (day 64 of the rotation, 64 % 3 == 1), but bob
    // is away, so carol covers.
    assert_eq!(
        who(&parsed, &[], "2026-03-10T14:00:00Z"),
        from_layer("carol", 0, "business-hours")
    );
    // Tuesday 18:00 EDT falls through to the weekly layer: week 9 of the rotation is erin's.
    assert_eq!(
        who(&parsed, &[], "2026-03-10T22:00:00Z"),
        from_layer("erin", 1, "nights-and-weekends")
    );
    // Unknown fields are errors, so a typo does not silently do nothing.
    let typo = yaml.replace("restrictions:", "restriction:");
    assert!(serde_saphyr::from_str::<Schedule>(&typo).is_err());
}
