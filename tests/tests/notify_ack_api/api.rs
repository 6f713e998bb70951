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

fn post_override(key: &str, schedule: &str, body: &str) -> Request<Body> {
    request(
        Method::POST,
        &format!("/v1/schedules/{schedule}/overrides"),
        Some(key),
        Body::from(body.to_owned()),
    )
}

#[tokio::test]
async fn overrides_are_created_listed_and_deleted_and_bad_ones_name_the_field() {
    let world = World::new().await;
    let router = world.api_router();
    let key = world.api_key.as_str();
    let list = "/v1/schedules/primary/overrides?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z";

    for (body, field) in [
        (
            r#"{"user": "zed", "start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}"#,
            "user",
        ),
        (
            r#"{"user": "carol", "start": "2026-01-03T00:00:00Z", "end": "2026-01-02T00:00:00Z"}"#,
            "end",
        ),
        (
            r#"{"user": "carol", "start": "2026-01-02 00:00", "end": "2026-01-03T00:00:00Z"}"#,
            "start",
        ),
        (
            r#"{"start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}"#,
            "user",
        ),
        (
            r#"{"user": "carol", "start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z", "reason": "x"}"#,
            "reason",
        ),
        ("[]", "body"),
    ] {
        let answer = call(&router, post_override(key, "primary", body)).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.body
        );
        assert_eq!(
            answer.error(),
            ("invalid_field".into(), Some(field.into())),
            "{body}"
        );
    }
    let valid =
        r#"{"user": "carol", "start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00+01:00"}"#;
    let unknown_schedule = call(&router, post_override(key, "nope", valid)).await;
    assert_eq!(unknown_schedule.status, StatusCode::NOT_FOUND);
    let empty = call(&router, get(list, Some(key))).await.json();
    assert_eq!(
        empty["overrides"],
        json!([]),
        "refused overrides are not stored"
    );

    let created = call(&router, post_override(key, "primary", valid)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let body = created.json();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["user"], "carol");
    assert_eq!(body["end"], "2026-01-02T23:00:00Z");
    assert_eq!(body["created_by"], "apikey:ci");
    assert_eq!(
        created.header("location"),
        format!("/v1/schedules/primary/overrides/{id}")
    );

    let listed = call(&router, get(list, Some(key))).await.json();
    let overrides = listed["overrides"].as_array().unwrap();
    assert_eq!(overrides.len(), 1);
    assert_eq!(overrides[0]["id"], id.as_str());
    assert_eq!(overrides[0]["start"], "2026-01-02T00:00:00Z");

    let uri = format!("/v1/schedules/primary/overrides/{id}");
    let deleted = call(
        &router,
        request(Method::DELETE, &uri, Some(key), Body::empty()),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = call(
        &router,
        request(Method::DELETE, &uri, Some(key), Body::empty()),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let listed = call(&router, get(list, Some(key))).await.json();
    assert_eq!(listed["overrides"], json!([]));
}

fn put_config(key: &str, content_type: &str, body: String) -> Request<Body> {
    Request::builder()
        .method(Method::PUT)
        .uri("/v1/config")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

const INVALID_CONFIG: &str = r#"
users:
  - id: alice
    name: Alice
    email: alice-at-example.com
schedules:
  - id: primary
    name: Primary
    time_zone: Etc/UTC
    layers:
      - name: Weekly
        rotation:
          participants: [zed]
          start: "2026-01-05T09:00:00"
          shift: { weeks: 1 }
"#;

#[tokio::test]
async fn config_upload_lists_every_error_then_applies_a_new_version_once() {
    let world = World::new().await;
    let router = world.api_router();
    let key = world.api_key.as_str();
    let oncall = "/v1/oncall?schedule=primary&at=2026-01-01T12:00:00Z";
    // Warm the api's configuration cache.
    let before = call(&router, get(oncall, Some(key))).await.json();
    assert_eq!(before["schedules"][0]["user"]["id"], "alice");

    let invalid = call(
        &router,
        put_config(key, "application/yaml", INVALID_CONFIG.to_owned()),
    )
    .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST, "{}", invalid.body);
    let error = invalid.json();
    assert_eq!(error["error"]["code"], "invalid_config");
    let paths: Vec<_> = error["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "users[0].email",
            "schedules[0].layers[0].rotation.participants[0]"
        ]
    );
    assert_eq!(error["error"]["field"], "users[0].email");
    let current = call(&router, get("/v1/config", Some(key))).await.json();
    assert_eq!(current["version"], 1, "a refused upload stores nothing");

    // A new user, and the rotation now starts with bob.
    let changed = CONFIG.replace("participants: [alice, bob]", "participants: [bob, alice]");
    let changed = changed.replacen(
        "users:\n",
        "users:\n  - id: erin\n    name: Erin\n    email: erin@example.com\n",
        1,
    );
    let applied = call(
        &router,
        put_config(key, "application/yaml", changed.clone()),
    )
    .await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    let result = applied.json();
    assert_eq!(result["version"], 2);
    assert_eq!(result["unchanged"], false);
    assert_eq!(result["previous_version"], 1);
    let section = |name: &str| {
        result["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["section"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        section("users"),
        json!({"section": "users", "before": 4, "after": 5, "added": ["erin"], "removed": [], "changed": []})
    );
    assert_eq!(section("schedules")["changed"], json!(["primary"]));
    assert_eq!(section("escalation_policies")["changed"], json!([]));
    assert_eq!(result["other_changes"], json!([]));

    // The api's own cache was dropped: the change shows at once.
    let after = call(&router, get(oncall, Some(key))).await.json();
    assert_eq!(after["schedules"][0]["user"]["id"], "bob");

    let same = call(&router, put_config(key, "application/yaml", changed))
        .await
        .json();
    assert_eq!(
        (same["version"].clone(), same["unchanged"].clone()),
        (json!(2), json!(true))
    );

    // The stored snapshot, uploaded back as JSON, is the same configuration.
    let snapshot = call(&router, get("/v1/config", Some(key))).await.json();
    assert_eq!(snapshot["version"], 2);
    assert_eq!(snapshot["applied_by"], "apikey:ci");
    assert_eq!(snapshot["config"]["users"][0]["id"], "erin");
    let as_json = call(
        &router,
        put_config(key, "application/json", snapshot["config"].to_string()),
    )
    .await
    .json();
    assert_eq!(as_json["unchanged"], true, "{as_json}");

    let empty = call(&router, put_config(key, "application/yaml", "\n".into())).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    let broken_json = call(
        &router,
        put_config(key, "application/json", "{\"users\": [".into()),
    )
    .await;
    assert_eq!(broken_json.status, StatusCode::BAD_REQUEST);
    assert!(
        broken_json.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );
}

#[tokio::test]
async fn every_api_route_needs_an_api_key_and_refuses_integration_keys() {
    let world = World::new().await;
    let router = world.api_router();
    let override_body =
        r#"{"user": "carol", "start": "2026-01-02T00:00:00Z", "end": "2026-01-03T00:00:00Z"}"#;
    let requests = |key: Option<&str>| -> Vec<Request<Body>> {
        vec![
            get("/v1/incidents", key),
            get("/v1/incidents/1", key),
            get("/v1/oncall", key),
            get("/v1/schedules/primary/overrides", key),
            request(
                Method::POST,
                "/v1/schedules/primary/overrides",
                key,
                Body::from(override_body),
            ),
            request(
                Method::DELETE,
                "/v1/schedules/primary/overrides/x",
                key,
                Body::empty(),
            ),
            get("/v1/config", key),
            request(
                Method::PUT,
                "/v1/config",
                key,
                Body::from(CONFIG.replace("Carol", "Mallory")),
            ),
        ]
    };
    for (key, status, code) in [
        (None, StatusCode::UNAUTHORIZED, "unauthorized"),
        (
            Some("klx_unknown"),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        ),
        (
            Some(world.integration_key.as_str()),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
    ] {
        for request in requests(key) {
            let uri = request.uri().to_string();
            let answer = call(&router, request).await;
            assert_eq!(answer.status, status, "{uri}");
            assert_eq!(answer.error().0, code, "{uri}");
        }
    }
    let config = call(&router, get("/v1/config", Some(&world.api_key)))
        .await
        .json();
    assert_eq!(config["version"], 1);
    let overrides = call(
        &router,
        get("/v1/schedules/primary/overrides", Some(&world.api_key)),
    )
    .await
    .json();
    assert_eq!(overrides["overrides"], json!([]));
}

#[tokio::test]
async fn the_ack_and_api_routers_compose_into_one() {
    let world = World::new().await;
    let incident = world.open_incident("Database down").await;
    let router = world.ack_router().merge(world.api_router());
    let key = Some(world.api_key.as_str());
    let uri = format!("/v1/incidents/{}", incident.id());
    let shown = call(&router, get(&uri, key)).await;
    assert_eq!(shown.json()["incident"]["status"], "triggered");
    let acknowledged = call(
        &router,
        request(
            Method::POST,
            &format!("{uri}/acknowledge"),
            key,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(acknowledged.status, StatusCode::OK);
    let shown = call(&router, get(&uri, key)).await;
    assert_eq!(shown.json()["incident"]["status"], "acknowledged");
    // A method a path does not take is 405, not a silent success.
    let wrong = call(&router, request(Method::DELETE, &uri, key, Body::empty())).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
}
