//! Holiday coverage against a running `klaxon serve`: the configuration names an `.ics` file
//! (read by `serve --config`, relative to the file), the stored snapshot carries its dates, and
//! the API's on-call answer and calendar feed name the holiday cover on a holiday; an upload
//! through the API naming an `.ics` file is refused.

use super::*;
use common::holidays_config;

#[test]
fn the_api_names_the_holiday_cover_on_a_holiday_from_the_ics_file() {
    let temp = tempfile::tempdir().unwrap();
    let serve = Serve::start(&holidays_config(), &temp.path().join("data"), free_port());
    let key = serve.key("KLAXON_API_KEY");
    let on_call = |at: &str| {
        let (status, body) = http(
            "GET",
            &format!("{}/v1/oncall?schedule=london&at={at}", serve.url),
            Some(&key),
            None,
        );
        assert_eq!(status, 200, "{body}");
        body["schedules"][0].clone()
    };
    // Boxing Day comes from the two-day Christmas event of holidays/uk-2026.ics.
    let holiday = on_call("2026-12-26T15:00:00Z");
    assert_eq!(holiday["user"]["id"], "hana", "{holiday}");
    assert_eq!(holiday["source"]["name"], "Holiday cover");
    let workday = on_call("2026-12-24T15:00:00Z");
    assert_eq!(workday["user"]["id"], "alice", "{workday}");
    assert_eq!(workday["source"]["name"], "Weekly");

    // The stored configuration holds the calendar's dates, not the path: the Lambda functions
    // reading the same snapshot have no file to open.
    let (status, stored) = http("GET", &format!("{}/v1/config", serve.url), Some(&key), None);
    assert_eq!(status, 200, "{stored}");
    let schedule = stored["config"]["schedules"][0].clone();
    assert_eq!(
        schedule["holidays"],
        json!(["2026-10-25", "2026-08-31", "2026-12-25", "2026-12-26"]),
        "{stored}"
    );
    assert!(schedule.get("holidays_ics").is_none(), "{schedule}");

    // Uploaded through the API there is no folder to read an .ics file from: refused at the
    // field, and the stored version stays.
    let mut upload = stored["config"].clone();
    upload["schedules"][0]["holidays_ics"] = json!("holidays/uk-2026.ics");
    let (status, refused) = http(
        "PUT",
        &format!("{}/v1/config", serve.url),
        Some(&key),
        Some(&upload),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid_config", "{refused}");
    assert_eq!(
        refused["error"]["field"], "schedules[0].holidays_ics",
        "{refused}"
    );
    let (_, after) = http("GET", &format!("{}/v1/config", serve.url), Some(&key), None);
    assert!(stored["version"].is_u64(), "{stored}");
    assert_eq!(after["version"], stored["version"], "{after}");

    // The calendar feed over Christmas: alice, then hana for both holidays, then alice.
    let feed = runtime_get(&format!(
        "{}/v1/schedules/london/ics?key={key}&from=2026-12-24T00:00:00Z&to=2026-12-28T00:00:00Z",
        serve.url
    ));
    let summaries: Vec<&str> = feed
        .lines()
        .filter_map(|line| line.trim_end().strip_prefix("SUMMARY:"))
        .collect();
    assert_eq!(
        summaries,
        [
            "On call: Alice Adams",
            "On call: Hana Holiday",
            "On call: Alice Adams"
        ],
        "{feed}"
    );
    assert!(
        feed.contains("DTSTART:20261225T000000Z") && feed.contains("DTEND:20261227T000000Z"),
        "{feed}"
    );
}

/// The body of a GET, as text (the calendar feed is not JSON).
fn runtime_get(url: &str) -> String {
    let (status, body) = http("GET", url, None, None);
    assert_eq!(status, 200, "{body}");
    match body {
        Value::String(text) => text,
        other => panic!("expected a calendar, got {other}"),
    }
}
