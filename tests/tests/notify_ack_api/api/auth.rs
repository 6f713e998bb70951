//! Authentication and router composition.

use super::*;

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
