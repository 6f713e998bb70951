//! Opsgenie's alert API beyond create, acknowledge and close, with the request shapes of
//! Opsgenie's API reference: the SDK's flow (create, poll the request status, get, update,
//! note, acknowledge, close by alias, id and tiny id), Alertmanager's `update_alerts`
//! sequence, the list, tags, and bad input answered in Opsgenie's error shape.

use super::*;

async fn genie(p: &Pipeline) -> String {
    format!("GenieKey {}", p.key("og"))
}

/// Polls a request status as the SDK's `get_request_status` does.
async fn request_status(p: &Pipeline, auth: &str, accepted: &Value) -> Value {
    let id = accepted["requestId"].as_str().expect("a requestId");
    let (status, body) = send(
        p.ingest_router(),
        "GET",
        &format!("/v2/alerts/requests/{id}"),
        auth,
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["requestId"].as_str().map(str::is_empty), Some(false));
    body["data"].clone()
}

async fn get_alert(p: &Pipeline, auth: &str, identifier: &str, kind: &str) -> (StatusCode, Value) {
    send(
        p.ingest_router(),
        "GET",
        &format!("/v2/alerts/{identifier}?identifierType={kind}"),
        auth,
        "",
    )
    .await
}

async fn timeline_types(p: &Pipeline) -> Vec<String> {
    let incident = only_incident(p).await;
    p.repo
        .timeline(incident.incident.id(), None, 100)
        .await
        .unwrap()
        .items
        .iter()
        .map(|record| record.entry.event_type().to_string())
        .collect()
}

async fn create(p: &Pipeline, auth: &str, body: Value) -> Value {
    let (status, accepted) = post(
        p.ingest_router(),
        "/v2/alerts",
        &[("authorization", auth)],
        body.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["result"], "Request will be processed");
    accepted
}

#[tokio::test]
async fn the_sdk_flow_creates_polls_reads_updates_notes_acknowledges_and_closes() {
    let p = Pipeline::new().await;
    let auth = genie(&p).await;
    let accepted = create(
        &p,
        &auth,
        json!({"message": "Disk 90% on db-1", "alias": "disk-db-1", "priority": "P3",
               "tags": ["db"], "description": "root volume"}),
    )
    .await;
    // Processed once grouping has linked the alert: until then the SDKs poll again.
    let status = request_status(&p, &auth, &accepted).await;
    assert_eq!(status["isSuccess"], false, "{status}");
    assert_eq!(status["action"], "Create");
    p.pump().await;
    let status = request_status(&p, &auth, &accepted).await;
    assert_eq!(status["isSuccess"], true, "{status}");
    assert_eq!(status["alias"], "disk-db-1");
    let alert_id = status["alertId"].as_str().expect("an alertId").to_string();

    // Get by id, as the SDK does with the id from the request status.
    let (code, alert) = get_alert(&p, &auth, &alert_id, "id").await;
    assert_eq!(code, StatusCode::OK, "{alert}");
    assert_eq!(alert["data"]["message"], "Disk 90% on db-1");
    assert_eq!(alert["data"]["status"], "open");
    assert_eq!(alert["data"]["priority"], "P3");
    assert_eq!(alert["data"]["description"], "root volume");
    let tiny = alert["data"]["tinyId"].as_str().unwrap().to_string();
    assert_eq!(tiny, only_incident(&p).await.incident.number().to_string());

    // Update message and priority by id, add a note by tiny id.
    let (code, body) = send(
        p.ingest_router(),
        "PUT",
        &format!("/v2/alerts/{alert_id}/message?identifierType=id"),
        &auth,
        r#"{"message":"Disk 97% on db-1"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let status = request_status(&p, &auth, &body).await;
    assert_eq!(status["action"], "UpdateMessage");
    assert_eq!(status["isSuccess"], true);
    assert_eq!(status["alertId"], alert_id.as_str());
    let (code, _) = send(
        p.ingest_router(),
        "PUT",
        &format!("/v2/alerts/{alert_id}/priority"),
        &auth,
        r#"{"priority":"P1","user":"bot"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let (code, _) = send(
        p.ingest_router(),
        "POST",
        &format!("/v2/alerts/{tiny}/notes?identifierType=tiny"),
        &auth,
        r#"{"note":"resizing the volume","user":"alice"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let (_, alert) = get_alert(&p, &auth, "disk-db-1", "alias").await;
    assert_eq!(alert["data"]["message"], "Disk 97% on db-1");
    assert_eq!(alert["data"]["priority"], "P1");

    // Acknowledge by tiny id, close by id.
    let (code, body) = post(
        p.ingest_router(),
        &format!("/v2/alerts/{tiny}/acknowledge?identifierType=tiny"),
        &[("authorization", &auth)],
        r#"{"user":"alice"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(request_status(&p, &auth, &body).await["isSuccess"], true);
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Acknowledged
    );
    let (_, alert) = get_alert(&p, &auth, &alert_id, "id").await;
    assert_eq!(alert["data"]["acknowledged"], true);
    let (code, body) = post(
        p.ingest_router(),
        &format!("/v2/alerts/{alert_id}/close"),
        &[("authorization", &auth)],
        "",
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let status = request_status(&p, &auth, &body).await;
    assert_eq!(
        (status["action"].as_str(), status["isSuccess"].as_bool()),
        (Some("Close"), Some(true))
    );
    p.pump().await;
    assert_eq!(
        only_incident(&p).await.incident.status(),
        IncidentStatus::Resolved
    );
    let (_, alert) = get_alert(&p, &auth, &alert_id, "id").await;
    assert_eq!(alert["data"]["status"], "closed");

    // Each update is on the timeline, in order.
    let updates: Vec<String> = timeline_types(&p)
        .await
        .into_iter()
        .filter(|t| t == "io.klaxon.alert.updated")
        .collect();
    assert_eq!(updates.len(), 3, "message, priority and note");
}

#[tokio::test]
async fn alertmanager_update_alerts_sequence_leaves_one_resolved_incident() {
    let p = Pipeline::new().await;
    let auth = genie(&p).await;
    let alias = "4a7c1f0e9b2d";
    // Alertmanager's opsgenie_configs with update_alerts: true sends, on each notify: create,
    // then message, description and priority by alias; on resolve, close by alias.
    for round in 0..2 {
        create(
            &p,
            &auth,
            json!({"alias": alias, "message": format!("[FIRING:{}] HighLatency", round + 1),
                   "description": "latency above 1s", "priority": "P3", "source": "alertmanager"}),
        )
        .await;
        for (path, body) in [
            (
                "message",
                json!({"message": format!("[FIRING:{}] HighLatency", round + 1)}),
            ),
            (
                "description",
                json!({"description": "latency above 1s on api"}),
            ),
            ("priority", json!({"priority": "P2"})),
        ] {
            let (code, answer) = send(
                p.ingest_router(),
                "PUT",
                &format!("/v2/alerts/{alias}/{path}?identifierType=alias"),
                &auth,
                &body.to_string(),
            )
            .await;
            assert_eq!(code, StatusCode::ACCEPTED, "{path}: {answer}");
        }
        p.pump().await;
    }
    let (code, _) = post(
        p.ingest_router(),
        &format!("/v2/alerts/{alias}/close?identifierType=alias"),
        &[("authorization", &auth)],
        r#"{"source":"alertmanager"}"#,
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    p.pump().await;
    let incident = only_incident(&p).await;
    assert_eq!(incident.incident.status(), IncidentStatus::Resolved);
    let (_, alert) = get_alert(&p, &auth, alias, "alias").await;
    assert_eq!(alert["data"]["priority"], "P2");
    assert_eq!(alert["data"]["description"], "latency above 1s on api");
    assert_eq!(alert["data"]["count"], 2);
}

#[tokio::test]
async fn tags_are_added_and_removed_and_the_list_filters_sorts_and_pages() {
    let p = Pipeline::new().await;
    let auth = genie(&p).await;
    for (alias, message) in [
        ("a-1", "first disk"),
        ("a-2", "second cpu"),
        ("a-3", "third disk"),
    ] {
        create(
            &p,
            &auth,
            json!({"alias": alias, "message": message, "tags": ["t0"]}),
        )
        .await;
        p.pump().await;
        p.clock.advance(TimeDelta::seconds(1));
    }
    let (code, _) = send(
        p.ingest_router(),
        "POST",
        "/v2/alerts/a-1/tags?identifierType=alias",
        &auth,
        r#"{"tags":["db","team:ops"]}"#,
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let (code, _) = send(
        p.ingest_router(),
        "DELETE",
        "/v2/alerts/a-1/tags?identifierType=alias&tags=t0,db",
        &auth,
        "",
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED);
    let (_, alert) = get_alert(&p, &auth, "a-1", "alias").await;
    assert_eq!(alert["data"]["tags"], json!(["team:ops"]));

    post(
        p.ingest_router(),
        "/v2/alerts/a-2/close?identifierType=alias",
        &[("authorization", &auth)],
        "",
    )
    .await;
    p.pump().await;
    let list = |query: &'static str| {
        let router = p.ingest_router();
        let auth = auth.clone();
        async move { send(router, "GET", &format!("/v2/alerts{query}"), &auth, "").await }
    };
    let aliases = |body: &Value| -> Vec<String> {
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["alias"].as_str().unwrap().to_string())
            .collect()
    };
    let (code, body) = list("").await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(
        aliases(&body),
        ["a-3", "a-2", "a-1"],
        "newest first by default"
    );
    let (_, body) = list("?query=status:open&sort=alias&order=asc").await;
    assert_eq!(aliases(&body), ["a-1", "a-3"]);
    let (_, body) = list("?query=disk&limit=1&offset=1&order=asc").await;
    assert_eq!(aliases(&body), ["a-3"]);
    let (_, body) = list("?query=tag:team:ops").await;
    assert_eq!(aliases(&body), ["a-1"]);
}

#[tokio::test]
async fn bad_calls_are_answered_in_opsgenie_shapes_and_change_nothing() {
    let p = Pipeline::new().await;
    let auth = genie(&p).await;
    create(&p, &auth, json!({"alias": "x", "message": "m"})).await;
    p.pump().await;
    let before = timeline_types(&p).await;

    let cases: [(&str, &str, &str, &str, StatusCode, &str); 9] = [
        (
            "PUT",
            "/v2/alerts/x/priority?identifierType=alias",
            &auth,
            r#"{"priority":"P9"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "priority",
        ),
        (
            "PUT",
            "/v2/alerts/x/message?identifierType=alias",
            &auth,
            "not json",
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            "PUT",
            "/v2/alerts/x/message?identifierType=name",
            &auth,
            r#"{"message":"n"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "identifierType",
        ),
        (
            "POST",
            "/v2/alerts/x/tags?identifierType=alias",
            &auth,
            r#"{"tags":[1]}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "tags[0]",
        ),
        (
            "POST",
            "/v2/alerts/x/notes?identifierType=alias",
            &auth,
            r#"{}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "note",
        ),
        (
            "PUT",
            "/v2/alerts/x/message?identifierType=alias",
            "GenieKey klx_wrong",
            r#"{"message":"n"}"#,
            StatusCode::UNAUTHORIZED,
            "",
        ),
        (
            "POST",
            "/v2/alerts/x/actions/Restart?identifierType=alias",
            &auth,
            "{}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "$",
        ),
        (
            "GET",
            "/v2/alerts?limit=500",
            &auth,
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "limit",
        ),
        (
            "DELETE",
            "/v2/alerts/x/tags?identifierType=alias",
            &auth,
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            "tags",
        ),
    ];
    for (method, path, authorization, body, expected, field) in cases {
        let (code, answer) = send(p.ingest_router(), method, path, authorization, body).await;
        assert_eq!(code, expected, "{method} {path}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
        assert!(answer["requestId"].is_string(), "{answer}");
        assert!(answer["took"].is_number(), "{answer}");
        if !field.is_empty() {
            assert!(
                answer["errors"][field].is_string(),
                "{method} {path}: {answer}"
            );
        }
    }
    // The custom action says plainly it is not supported.
    let (_, answer) = send(
        p.ingest_router(),
        "POST",
        "/v2/alerts/x/actions/Restart?identifierType=alias",
        &auth,
        "{}",
    )
    .await;
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("not supported"),
        "{answer}"
    );
    // Reads of what does not exist: 404.
    let (code, answer) = get_alert(&p, &auth, "nope", "alias").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(answer["message"], "Alert does not exist");
    let (code, _) = send(
        p.ingest_router(),
        "GET",
        "/v2/alerts/requests/nope",
        &auth,
        "",
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);

    assert_eq!(timeline_types(&p).await, before, "nothing was recorded");
    let (_, alert) = get_alert(&p, &auth, "x", "alias").await;
    assert_eq!(alert["data"]["priority"], "P3");
    assert_eq!(alert["data"]["message"], "m");
}

#[tokio::test]
async fn a_byte_order_mark_is_accepted_on_every_opsgenie_body() {
    let p = Pipeline::new().await;
    let auth = genie(&p).await;
    let bom = |text: &str| format!("\u{feff}{text}");
    let (code, body) = post(
        p.ingest_router(),
        "/v2/alerts",
        &[("authorization", &auth)],
        bom(r#"{"alias":"b","message":"with a BOM"}"#),
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    p.pump().await;
    let (code, body) = send(
        p.ingest_router(),
        "PUT",
        "/v2/alerts/b/message?identifierType=alias",
        &auth,
        &bom(r#"{"message":"still with a BOM"}"#),
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let (code, body) = post(
        p.ingest_router(),
        "/v2/alerts/b/close?identifierType=alias",
        &[("authorization", &auth)],
        bom("{}"),
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    assert_eq!(request_status(&p, &auth, &body).await["isSuccess"], true);
}
