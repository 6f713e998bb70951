//! Response analytics and teams through the API: a fixed history paged, acknowledged and
//! resolved on a manual clock gives hand-computed MTTA, MTTR and off-hours counts; bad
//! parameters are 400s naming the parameter; change events are counted per integration,
//! apart from the incidents.

use crate::harness::{CONFIG, World, call, get};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::TimeDelta;
use klaxon_app::security::keys::PlainKey;
use klaxon_app::security::sns::SnsVerifier;
use klaxon_app::usecases::ingest::IngestService;
use klaxon_app::usecases::lifecycle::{StopAction, stop_incident};
use klaxon_domain::config::Config;
use klaxon_domain::ids::UserId;
use klaxon_domain::incident::Incident;
use klaxon_domain::timeline::Actor;
use klaxon_store::repo::{KeyKind, KeyRecord};
use klaxon_tests::pipeline::TestHttpGet;
use serde_json::{Value, json};
use std::sync::Arc;

const PERIOD: &str = "from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z";

async fn stop(world: &World, incident: &Incident, action: StopAction, who: Option<&str>) {
    let actor = who.map_or_else(
        || Actor::system("test"),
        |who| Actor::user(UserId::new(who).unwrap()),
    );
    stop_incident(
        &world.core("ack"),
        &world.queue,
        &world.timers,
        incident.id(),
        action,
        actor,
    )
    .await
    .unwrap();
}

/// From 2026-01-01 00:00 UTC (every page is off hours: the users' zone is UTC):
/// - #1 paged alice (sms, email), acknowledged by alice 2 minutes in, resolved 10 minutes in;
/// - #2 opened at 00:10, paged alice twice, resolved 5 minutes in without an acknowledgement;
/// - #3 opened at 00:15, paged alice twice, still open.
pub(crate) async fn history(world: &World) {
    let first = world.open_and_route("Database down").await;
    world.deliver_notifications().await;
    world.advance(TimeDelta::minutes(2));
    stop(world, &first, StopAction::Acknowledge, Some("alice")).await;
    world.advance(TimeDelta::minutes(8));
    stop(world, &first, StopAction::Resolve, Some("alice")).await;
    let second = world.open_and_route("Disk full").await;
    world.deliver_notifications().await;
    world.advance(TimeDelta::minutes(5));
    stop(world, &second, StopAction::Resolve, None).await;
    world.open_and_route("Latency").await;
    world.deliver_notifications().await;
    world.advance(TimeDelta::minutes(1));
}

fn row<'a>(rows: &'a Value, key: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {rows}"))
}

#[tokio::test]
async fn a_fixed_history_gives_hand_computed_mtta_mttr_and_off_hours_pages() {
    let world = World::new().await;
    history(&world).await;
    let router = world.api_router();
    let key = Some(world.api_key.as_str());
    let answer = call(
        &router,
        get(&format!("/v1/analytics?{PERIOD}&by=responder"), key),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let report = answer.json();
    let totals = &report["totals"];
    assert_eq!(totals["incidents"], 3, "{report}");
    assert_eq!(totals["acknowledged"], 1);
    assert_eq!(totals["resolved"], 2);
    assert_eq!(totals["mtta"]["median"], 120);
    assert_eq!(totals["mtta"]["p90"], 120);
    // TTR 300 and 600: the median is the first (nearest rank), the p90 the second.
    assert_eq!(totals["mttr"]["median"], 300);
    assert_eq!(totals["mttr"]["p90"], 600);
    assert_eq!(totals["pages"], 6);
    assert_eq!(totals["off_hours_pages"], 6);
    let nobody = row(&report["groups"], "(none)");
    assert_eq!(
        (nobody["incidents"].as_u64(), nobody["resolved"].as_u64()),
        (Some(2), Some(1))
    );
    let alice = row(&report["groups"], "alice");
    assert_eq!(alice["mtta"]["median"], 120);
    assert_eq!(alice["mttr"]["median"], 600);

    let load = report["on_call_load"].as_array().unwrap();
    assert_eq!(load.len(), 1, "{report}");
    assert_eq!(load[0]["user"], "alice");
    assert_eq!(load[0]["pages"], 6);
    assert_eq!(load[0]["off_hours_pages"], 6);
    assert_eq!(load[0]["acknowledged"], 1);
    // alice holds `primary` until Monday 2026-01-05 09:00: the whole day.
    assert_eq!(load[0]["hours_on_call"], 24.0);
    let sources = report["noisiest_sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(
        (
            sources[0]["source"].as_str(),
            sources[0]["incidents"].as_u64()
        ),
        (Some("db-1"), Some(3))
    );
}

#[tokio::test]
async fn analytics_answer_csv_when_asked() {
    let world = World::new().await;
    history(&world).await;
    let router = world.api_router();
    let mut csv_request = get(
        &format!("/v1/analytics?{PERIOD}&by=responder"),
        Some(&world.api_key),
    );
    csv_request
        .headers_mut()
        .insert("accept", "text/csv".parse().unwrap());
    let answer = call(&router, csv_request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.header("content-type").starts_with("text/csv"));
    let lines: Vec<&str> = answer.body.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "responder,incidents,acknowledged,resolved,mtta_median_s,mtta_p90_s,mttr_median_s,mttr_p90_s,pages,off_hours_pages",
            "(none),2,0,1,,,300,300,4,4",
            "alice,1,1,1,120,120,600,600,2,2",
            "all,3,1,2,120,120,300,600,6,6",
            "",
        ]
    );
    let mut load = get(
        &format!("/v1/analytics?{PERIOD}&table=load"),
        Some(&world.api_key),
    );
    load.headers_mut()
        .insert("accept", "text/csv".parse().unwrap());
    let answer = call(&router, load).await;
    assert_eq!(
        answer.body,
        "user,pages,off_hours_pages,acknowledged,hours_on_call\r\nalice,6,6,1,24.00\r\n"
    );
}

#[tokio::test]
async fn bad_analytics_parameters_are_400s_naming_the_parameter() {
    let world = World::new().await;
    let router = world.api_router();
    let key = Some(world.api_key.as_str());
    for (query, field) in [
        ("by=month", "by"),
        ("from=yesterday", "from"),
        ("from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
        ("from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
        ("table=pies", "table"),
    ] {
        let answer = call(&router, get(&format!("/v1/analytics?{query}"), key)).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            answer.body
        );
        assert_eq!(
            answer.error(),
            ("invalid_field".to_owned(), Some(field.to_owned())),
            "{query}"
        );
    }
    let answer = call(&router, get("/v1/analytics", None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn incidents_carry_their_team_and_filter_by_it() {
    let world = World::new().await;
    let with_teams = format!(
        "{CONFIG}teams:\n  - id: infra-team\n    members: [alice, bob]\n    escalation_policies: [infra]\n    schedules: [primary]\n"
    );
    let config = Config::from_yaml(&with_teams).unwrap();
    world
        .repo("test")
        .save_config(
            &config.to_canonical_json().unwrap(),
            &config.fingerprint().unwrap(),
            &Actor::system("test"),
        )
        .await
        .unwrap();
    history(&world).await;
    let router = world.api_router();
    let key = Some(world.api_key.as_str());
    let answer = call(
        &router,
        get("/v1/incidents?status=all&team=infra-team", key),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let page = answer.json();
    let teams: Vec<_> = page["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["number"].as_u64().unwrap(),
                i["team"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(teams.len(), 3, "{page}");
    assert!(teams.iter().all(|(_, team)| team == "infra-team"));
    let shown = call(&router, get("/v1/incidents/1", key)).await.json();
    assert_eq!(shown["team"], "infra-team", "{shown}");
    let by_team = call(
        &router,
        get(&format!("/v1/analytics?{PERIOD}&by=team"), key),
    )
    .await
    .json();
    assert_eq!(
        row(&by_team["groups"], "infra-team")["incidents"],
        3,
        "{by_team}"
    );

    let unknown = call(&router, get("/v1/incidents?team=nobody", key)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
}

/// Saves [`CONFIG`] with a PagerDuty integration `deploys` and returns the ingest routes and
/// that integration's key.
async fn with_pagerduty_integration(world: &World) -> (axum::Router, String) {
    let text = CONFIG.replace(
        "integrations:\n  - name: prom\n    format: native\n",
        "integrations:\n  - name: prom\n    format: native\n  - name: deploys\n    format: pagerduty\n",
    );
    let config = Config::from_yaml(&text).unwrap();
    let repo = world.repo("test");
    repo.save_config(
        &config.to_canonical_json().unwrap(),
        &config.fingerprint().unwrap(),
        &Actor::system("test"),
    )
    .await
    .unwrap();
    let key = PlainKey::from_random_bytes([3; 32]).expose().to_owned();
    let record = KeyRecord {
        kind: KeyKind::Integration,
        name: "deploys".into(),
        label: None,
        created_at: world.now(),
    };
    repo.create_key(PlainKey::from_client(&key).hash().as_str(), &record)
        .await
        .unwrap();
    let ingest = IngestService::new(
        world.core("ingest"),
        world.queue.clone(),
        SnsVerifier::new(TestHttpGet::default()),
    );
    (klaxon_app::http::ingest::routes(Arc::new(ingest)), key)
}

async fn post_change(router: &axum::Router, change: Value) {
    let request = Request::post("/v2/change/enqueue")
        .header("content-type", "application/json")
        .body(Body::from(change.to_string()))
        .unwrap();
    let answer = call(router, request).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
}

#[tokio::test]
async fn change_events_of_the_period_are_counted_apart_from_the_incidents() {
    let world = World::new().await;
    let (ingest, key) = with_pagerduty_integration(&world).await;
    // Outside the period (the day before), then two inside: at 00:00 and after the history.
    post_change(
        &ingest,
        json!({"routing_key": key, "payload": {"summary": "old deploy",
            "timestamp": "2025-12-31T10:00:00Z"}}),
    )
    .await;
    post_change(
        &ingest,
        json!({"routing_key": key, "payload": {"summary": "deploy api v1", "source": "ci"}}),
    )
    .await;
    history(&world).await;
    post_change(
        &ingest,
        json!({"routing_key": key, "payload": {"summary": "deploy api v2, with \"quotes\""}}),
    )
    .await;
    let router = world.api_router();
    let key = Some(world.api_key.as_str());
    let answer = call(
        &router,
        get(&format!("/v1/analytics?{PERIOD}&by=integration"), key),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let report = answer.json();
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{report}");
    assert_eq!(changes[0]["integration"], "deploys");
    assert_eq!(changes[0]["count"], 2);
    let latest: Vec<_> = changes[0]["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["summary"].as_str().unwrap(), c["at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        latest,
        [
            ("deploy api v2, with \"quotes\"", "2026-01-01T00:16:00Z"),
            ("deploy api v1", "2026-01-01T00:00:00Z")
        ]
    );
    // The incidents' figures are those of the history alone.
    let totals = &report["totals"];
    assert_eq!(
        (&totals["incidents"], &totals["pages"], &totals["changes"]),
        (&json!(3), &json!(6), &json!(2))
    );
    assert_eq!(totals["mtta"]["median"], 120);
    assert_eq!(totals["mttr"]["p90"], 600);
    let prom = row(&report["groups"], "prom");
    assert_eq!(
        (&prom["incidents"], &prom["changes"]),
        (&json!(3), &json!(0))
    );
    let deploys = row(&report["groups"], "deploys");
    assert_eq!(
        (
            &deploys["incidents"],
            &deploys["pages"],
            &deploys["changes"]
        ),
        (&json!(0), &json!(0), &json!(2))
    );
    // Other groupings carry no per-group change count.
    let by_severity = call(
        &router,
        get(&format!("/v1/analytics?{PERIOD}&by=severity"), key),
    )
    .await
    .json();
    assert_eq!(by_severity["changes"][0]["count"], 2);
    assert!(
        by_severity["totals"].get("changes").is_none(),
        "{by_severity}"
    );

    let mut csv = get(&format!("/v1/analytics?{PERIOD}&table=changes"), key);
    csv.headers_mut()
        .insert("accept", "text/csv".parse().unwrap());
    let answer = call(&router, csv).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body,
        "integration,changes,happened_at,summary,source\r\n\
         deploys,2,2026-01-01T00:16:00+00:00,\"deploy api v2, with \"\"quotes\"\"\",\r\n\
         deploys,2,2026-01-01T00:00:00+00:00,deploy api v1,ci\r\n"
    );
}
