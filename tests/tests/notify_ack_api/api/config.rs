//! Configuration upload.

use super::*;

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
    // With a UTF-8 byte-order mark in front, as some editors save files: the same.
    let with_bom = call(
        &router,
        put_config(
            key,
            "application/json",
            format!("\u{feff}{}", snapshot["config"]),
        ),
    )
    .await;
    assert_eq!(with_bom.status, StatusCode::OK, "{}", with_bom.body);
    assert_eq!(with_bom.json()["unchanged"], true);

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
