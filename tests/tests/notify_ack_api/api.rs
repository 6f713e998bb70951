//! The API: incidents, on-call, calendar feeds, overrides, configuration, authentication.

use crate::harness::{CONFIG, World, call, get, request};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use icalendar::{Calendar, Component};
use klaxon_app::usecases::lifecycle::{StopAction, stop_incident};
use klaxon_domain::ids::UserId;
use klaxon_domain::incident::Incident;
use klaxon_domain::timeline::Actor;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Incidents, on-call and calendar feeds
// ---------------------------------------------------------------------------------------------

async fn resolve(world: &World, incident: &Incident) {
    stop_incident(
        &world.core("ack"),
        &world.queue,
        &world.timers,
        incident.id(),
        StopAction::Resolve,
        Actor::user(UserId::new("carol").unwrap()),
    )
    .await
    .unwrap();
}

fn numbers(page: &Value) -> Vec<u64> {
    page["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect()
}

/// Follows `next_cursor` from `first` to the end; the incident numbers in order.
async fn all_pages(world: &World, first: &str) -> (Vec<u64>, usize) {
    let router = world.api_router();
    let mut uri = first.to_owned();
    let mut seen = Vec::new();
    let mut requests = 0;
    loop {
        requests += 1;
        let answer = call(&router, get(&uri, Some(&world.api_key))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let page = answer.json();
        seen.extend(numbers(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => uri = format!("{first}&cursor={cursor}"),
            None => return (seen, requests),
        }
        assert!(requests < 10, "pagination does not end");
    }
}

#[tokio::test]
async fn incidents_are_listed_a_page_at_a_time_and_shown_with_alerts_and_timeline() {
    let world = World::new().await;
    let first = world.open_incident("Database down").await;
    let second = world.open_incident("Disk full").await;
    world.open_incident("Latency").await;
    world.advance(chrono::TimeDelta::minutes(5));
    resolve(&world, &second).await;

    let (open, requests) = all_pages(&world, "/v1/incidents?limit=1").await;
    assert_eq!(open, [1, 3], "open incidents, oldest first");
    assert!(requests >= 2);
    let (all, _) = all_pages(&world, "/v1/incidents?status=all&limit=2").await;
    assert_eq!(all, [3, 2, 1], "every incident, newest first");

    let router = world.api_router();
    let key = Some(world.api_key.as_str());
    let shown = call(&router, get(&format!("/v1/incidents/{}", second.id()), key)).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let detail = shown.json();
    assert_eq!(detail["incident"]["number"], 2);
    assert_eq!(detail["incident"]["status"], "resolved");
    assert_eq!(detail["alerts"][0]["summary"], "Disk full");
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(timeline[0]["specversion"], "1.0");
    assert_eq!(timeline[0]["type"], "io.klaxon.incident.triggered");
    let resolved = timeline
        .iter()
        .find(|e| e["type"] == "io.klaxon.incident.resolved")
        .unwrap();
    assert_eq!(resolved["actor"], "user:carol");

    // By number, and the timeline a page at a time.
    let by_number = call(&router, get("/v1/incidents/2?timeline_limit=1", key)).await;
    let page = by_number.json();
    assert_eq!(page["incident"]["id"], second.id().as_str());
    assert_eq!(page["timeline"].as_array().unwrap().len(), 1);
    let cursor = page["timeline_next_cursor"].as_str().unwrap();
    let next = call(
        &router,
        get(
            &format!("/v1/incidents/2?timeline_limit=1&timeline_cursor={cursor}"),
            key,
        ),
    )
    .await
    .json();
    assert_eq!(next["timeline"][0], timeline[1]);
    assert_ne!(first.id(), second.id());
}

#[tokio::test]
async fn malformed_listing_parameters_name_the_parameter() {
    let world = World::new().await;
    let incident = world.open_incident("Database down").await;
    let router = world.api_router();
    let key = Some(world.api_key.as_str());
    for (uri, field) in [
        ("/v1/incidents?limit=abc", "limit"),
        ("/v1/incidents?limit=0", "limit"),
        ("/v1/incidents?limit=5000", "limit"),
        ("/v1/incidents?cursor=not-a-cursor", "cursor"),
        ("/v1/incidents?status=closed", "status"),
        ("/v1/incidents/not-an-id!", "id"),
        (
            &format!("/v1/incidents/{}?timeline_cursor=zzz", incident.id()),
            "timeline_cursor",
        ),
        ("/v1/oncall?at=tomorrow", "at"),
        (
            "/v1/schedules/primary/overrides?from=2026-13-01T00:00:00Z",
            "from",
        ),
    ] {
        let answer = call(&router, get(uri, key)).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        assert_eq!(
            answer.error(),
            ("invalid_field".to_owned(), Some(field.to_owned())),
            "{uri}"
        );
    }
    let missing = call(&router, get("/v1/incidents/999", key)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error().0, "not_found");
}

#[tokio::test]
async fn on_call_answers_for_an_instant_and_an_override_wins() {
    let world = World::new().await;
    let router = world.api_router();
    let key = Some(world.api_key.as_str());
    let on_call = |at: &str| format!("/v1/oncall?schedule=primary&at={at}");

    let thursday = call(&router, get(&on_call("2026-01-01T12:00:00Z"), key))
        .await
        .json();
    let entry = &thursday["schedules"][0];
    assert_eq!(entry["schedule"], "primary");
    assert_eq!(
        entry["user"],
        json!({"id": "alice", "name": "Alice Example"})
    );
    assert_eq!(entry["source"]["kind"], "layer");
    assert_eq!(entry["until"], "2026-01-05T09:00:00Z");
    let next_week = call(&router, get(&on_call("2026-01-06T12:00:00Z"), key))
        .await
        .json();
    assert_eq!(next_week["schedules"][0]["user"]["id"], "bob");

    let created = call(
        &router,
        request(
            Method::POST,
            "/v1/schedules/primary/overrides",
            key,
            Body::from(
                json!({"user": "carol", "start": "2026-01-01T10:00:00Z", "end": "2026-01-01T14:00:00Z"})
                    .to_string(),
            ),
        ),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let override_id = created.json()["id"].as_str().unwrap().to_owned();

    let covered = call(&router, get(&on_call("2026-01-01T12:00:00Z"), key))
        .await
        .json();
    let entry = &covered["schedules"][0];
    assert_eq!(entry["user"]["id"], "carol");
    assert_eq!(
        entry["source"],
        json!({"kind": "override", "id": override_id})
    );
    assert_eq!(entry["until"], "2026-01-01T14:00:00Z");
    let after = call(&router, get(&on_call("2026-01-01T14:00:00Z"), key))
        .await
        .json();
    assert_eq!(after["schedules"][0]["user"]["id"], "alice");

    // Every schedule when none is named; an unknown one is 404.
    let everything = call(&router, get("/v1/oncall", key)).await.json();
    assert_eq!(everything["schedules"].as_array().unwrap().len(), 1);
    let unknown = call(&router, get("/v1/oncall?schedule=nope", key)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_ics_feed_is_a_calendar_that_parses_and_takes_the_key_in_the_query() {
    let world = World::new().await;
    let router = world.api_router();
    let range = "from=2026-01-01T00:00:00Z&to=2026-01-15T00:00:00Z";
    let answer = call(
        &router,
        get(
            &format!("/v1/schedules/primary/ics?key={}&{range}", world.api_key),
            None,
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        "text/calendar; charset=utf-8"
    );
    let calendar: Calendar = answer.body.parse().unwrap();
    let summaries: Vec<_> = calendar
        .events()
        .map(|e| e.get_summary().unwrap().to_owned())
        .collect();
    assert_eq!(
        summaries,
        [
            "On call: Alice Example",
            "On call: Bob Builder",
            "On call: Alice Example"
        ]
    );
    // The first stretch keeps its real start, before the range.
    assert!(answer.body.contains("DTSTART:20251229T090000Z"));

    let unauthenticated = call(
        &router,
        get(&format!("/v1/schedules/primary/ics?{range}"), None),
    )
    .await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
    let integration = call(
        &router,
        get(
            &format!("/v1/schedules/primary/ics?key={}", world.integration_key),
            None,
        ),
    )
    .await;
    assert_eq!(integration.status, StatusCode::FORBIDDEN);
    let too_long = call(
        &router,
        get(
            &format!(
                "/v1/schedules/primary/ics?key={}&from=2026-01-01T00:00:00Z&to=2028-01-01T00:00:00Z",
                world.api_key
            ),
            None,
        ),
    )
    .await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_long.error().1.as_deref(), Some("to"));
    let unknown = call(
        &router,
        get(
            &format!("/v1/schedules/nope/ics?key={}", world.api_key),
            None,
        ),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

mod auth;
mod config;
mod overrides;
