//! Overrides.

use super::*;

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
