//! Acknowledge and resolve: signed links, the API, Slack buttons.

use crate::harness::{BASE_URL, SLACK_SECRET, World, call, get, request};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::TimeDelta;
use klaxon_app::messages::{NoticeKind, QueueMessage, QueueName};
use klaxon_app::security::links::LinkAction;
use klaxon_app::security::slack::SlackVerifier;
use klaxon_domain::ids::{IncidentId, UserId};
use klaxon_domain::incident::{Incident, IncidentStatus};
use klaxon_domain::timeline::Actor;
use klaxon_domain::user::Channel;
use serde_json::json;
use std::sync::Arc;

/// An incident routed and paged (tier 0: alice by SMS and email), with the links of the email.
struct Paged {
    incident: Incident,
    /// Path and query of the acknowledge link.
    ack: String,
    /// Path and query of the resolve link.
    resolve: String,
}

async fn paged(world: &World) -> Paged {
    let incident = world.open_and_route("Database down").await;
    for result in world.deliver_notifications().await {
        result.unwrap();
    }
    let email = world.senders.sent().emails.pop().unwrap();
    let link = |label: &str| {
        let line = email
            .text
            .lines()
            .find_map(|line| line.strip_prefix(label))
            .unwrap_or_else(|| panic!("no {label} in {}", email.text));
        line.trim().strip_prefix(BASE_URL).unwrap().to_owned()
    };
    assert_eq!(
        world.timers.armed().len(),
        1,
        "routing armed the tier timer"
    );
    Paged {
        ack: link("Acknowledge: "),
        resolve: link("Resolve: "),
        incident,
    }
}

fn query_of(path: &str) -> &str {
    path.split_once('?').unwrap().1
}

fn post_form(uri: &str, form: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap()
}

/// Nothing happened to the incident: still triggered, timer armed, nobody told anything.
async fn assert_untouched(world: &World, paged: &Paged) {
    let incident = world.incident(paged.incident.id()).await;
    assert_eq!(incident.status(), IncidentStatus::Triggered);
    assert_eq!(world.timers.armed().len(), 1);
    assert!(world.timers.cancelled().is_empty());
    assert!(world.queue.peek(QueueName::Notifications).is_empty());
}

#[tokio::test]
async fn opening_a_link_shows_a_confirmation_page_and_changes_nothing() {
    let world = World::new().await;
    let paged = paged(&world).await;
    let answer = call(&world.ack_router(), get(&paged.ack, None)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(answer.header("cache-control"), "no-store");
    assert_eq!(answer.header("referrer-policy"), "no-referrer");
    assert!(
        answer.body.contains("<form method=\"post\">"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("Acknowledge incident #1</button>"));
    assert!(answer.body.contains("#1 Database down"));
    assert!(answer.body.contains("<strong>alice</strong>"));
    // Opening it twice (a mail scanner, then the person) still changes nothing.
    call(&world.ack_router(), get(&paged.ack, None)).await;
    assert_untouched(&world, &paged).await;
}

#[tokio::test]
async fn posting_a_link_acknowledges_as_the_user_stops_escalation_and_tells_those_paged() {
    let world = World::new().await;
    let paged = paged(&world).await;
    let timer = world.timers.armed().into_keys().next().unwrap();

    // The confirmation form posts the link's fields back.
    let answer = call(
        &world.ack_router(),
        post_form("/v1/links", query_of(&paged.ack)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.body.contains("Incident #1 acknowledged"),
        "{}",
        answer.body
    );

    let incident = world.incident(paged.incident.id()).await;
    assert_eq!(incident.status(), IncidentStatus::Acknowledged);
    assert_eq!(
        incident.acknowledged().unwrap().by,
        Actor::user(UserId::new("alice").unwrap())
    );
    let acks = world
        .timeline_of(paged.incident.id(), "io.klaxon.incident.acknowledged")
        .await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["actor"], "user:alice");
    assert!(world.timers.armed().is_empty());
    assert_eq!(world.timers.cancelled(), [timer]);

    let messages = world.queue.peek(QueueName::Notifications);
    let [QueueMessage::Notice(notice)] = messages.as_slice() else {
        panic!("expected one notice, got {messages:?}");
    };
    assert_eq!(notice.notice, NoticeKind::Acknowledged);
    let alice = UserId::new("alice").unwrap();
    assert_eq!(
        notice.recipients,
        [(alice.clone(), Channel::Email), (alice, Channel::Sms)]
    );
    // notify tells alice on both channels she was paged on.
    for result in world.deliver_notifications().await {
        result.unwrap();
    }
    let sent = world.senders.sent();
    assert_eq!(
        sent.sms.last().unwrap().text,
        "Klaxon Acknowledged by alice: [CRITICAL] #1 Database down"
    );
    assert_eq!(sent.emails.len(), 2);

    // Posting again (a double click) changes nothing more and tells nobody again.
    let again = call(
        &world.ack_router(),
        post_form("/v1/links", query_of(&paged.ack)),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.contains("was already acknowledged"));
    assert!(world.queue.peek(QueueName::Notifications).is_empty());
}

#[tokio::test]
async fn tampered_links_are_403_expired_ones_410_malformed_ones_400_and_nothing_changes() {
    let world = World::new().await;
    let paged = paged(&world).await;
    let router = world.ack_router();

    let as_resolve = paged.ack.replace("a=ack", "a=resolve");
    assert_ne!(as_resolve, paged.ack);
    let as_bob = paged.ack.replace("u=alice", "u=bob");
    for tampered in [&as_resolve, &as_bob] {
        let shown = call(&router, get(tampered, None)).await;
        assert_eq!(shown.status, StatusCode::FORBIDDEN);
        assert!(shown.body.contains("This link is not valid"));
        let posted = call(&router, post_form("/v1/links", query_of(tampered))).await;
        assert_eq!(posted.status, StatusCode::FORBIDDEN);
    }

    for broken in ["/v1/links", "/v1/links?i=abc&u=alice"] {
        let answer = call(&router, get(broken, None)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{broken}");
        assert!(answer.body.contains("This link is incomplete"));
    }
    assert_untouched(&world, &paged).await;

    // ack_link_lifetime is 1h.
    world.advance(TimeDelta::minutes(61));
    let expired = call(&router, post_form("/v1/links", query_of(&paged.ack))).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("This link has expired"));
    assert_eq!(
        call(&router, get(&paged.ack, None)).await.status,
        StatusCode::GONE
    );
    assert_untouched(&world, &paged).await;
}

#[tokio::test]
async fn acknowledging_a_resolved_incident_is_409_and_an_unknown_incident_404() {
    let world = World::new().await;
    let paged = paged(&world).await;
    let router = world.ack_router();
    // A POST of the link URL itself, with an empty body, acts too.
    let resolved = call(
        &router,
        request(Method::POST, &paged.resolve, None, Body::empty()),
    )
    .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    assert!(resolved.body.contains("Incident #1 resolved"));
    assert_eq!(
        world.incident(paged.incident.id()).await.status(),
        IncidentStatus::Resolved
    );

    let conflict = call(&router, post_form("/v1/links", query_of(&paged.ack))).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert!(
        conflict.body.contains("already resolved"),
        "{}",
        conflict.body
    );
    // Its confirmation page says so and offers no button.
    let shown = call(&router, get(&paged.ack, None)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("already resolved"));
    assert!(!shown.body.contains("<form"));

    let link = world.signer.sign(
        &IncidentId::new("nosuchincident").unwrap(),
        &UserId::new("alice").unwrap(),
        LinkAction::Ack,
        world.now() + TimeDelta::hours(1),
    );
    let query = serde_urlencoded::to_string(&link).unwrap();
    let missing = call(&router, post_form("/v1/links", &query)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_api_acknowledges_and_resolves_with_an_api_key() {
    let world = World::new().await;
    let paged = paged(&world).await;
    let router = world.ack_router();
    let id = paged.incident.id().to_string();
    let key = Some(world.api_key.as_str());

    let answer = call(
        &router,
        request(
            Method::POST,
            &format!("/v1/incidents/{id}/acknowledge"),
            key,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let json = answer.json();
    assert_eq!(json["changed"], true);
    assert_eq!(json["action"], "acknowledge");
    assert_eq!(json["actor"], "apikey:ci");
    assert_eq!(json["incident"]["status"], "acknowledged");
    assert_eq!(world.timers.cancelled().len(), 1);

    let again = call(
        &router,
        request(
            Method::POST,
            &format!("/v1/incidents/{id}/acknowledge"),
            key,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(again.json()["changed"], false);

    // By number, in bob's name.
    let resolved = call(
        &router,
        request(
            Method::POST,
            "/v1/incidents/1/resolve",
            key,
            Body::from(json!({"user": "bob"}).to_string()),
        ),
    )
    .await;
    assert_eq!(resolved.status, StatusCode::OK, "{}", resolved.body);
    assert_eq!(resolved.json()["actor"], "user:bob");
    let incident = world.incident(paged.incident.id()).await;
    assert_eq!(incident.status(), IncidentStatus::Resolved);
    assert_eq!(
        incident.resolved().unwrap().by,
        Actor::user(UserId::new("bob").unwrap())
    );
}

#[tokio::test]
async fn the_api_refuses_bad_bodies_unknown_incidents_and_wrong_keys_without_changing_anything() {
    let world = World::new().await;
    let paged = paged(&world).await;
    let router = world.ack_router();
    let uri = format!("/v1/incidents/{}/acknowledge", paged.incident.id());
    let api = Some(world.api_key.as_str());

    for (body, field) in [
        (r#"{"user": "zed"}"#, "user"),
        (r#"{"usr": "bob"}"#, "usr"),
        (r#"{"user": 7}"#, "user"),
        ("not json", "body"),
    ] {
        let answer = call(&router, request(Method::POST, &uri, api, Body::from(body))).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.error(), ("invalid_field".into(), Some(field.into())));
    }
    let missing = call(
        &router,
        request(
            Method::POST,
            "/v1/incidents/999/acknowledge",
            api,
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error().0, "not_found");

    let integration = call(
        &router,
        request(
            Method::POST,
            &uri,
            Some(&world.integration_key),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(integration.status, StatusCode::FORBIDDEN);
    assert_eq!(integration.error().0, "forbidden");
    for key in [None, Some("klx_not-a-real-key")] {
        let answer = call(&router, request(Method::POST, &uri, key, Body::empty())).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.error().0, "unauthorized");
    }
    assert_untouched(&world, &paged).await;
}

fn slack_request(
    secret: &str,
    timestamp: i64,
    slack_user: &str,
    action: &str,
    incident: &str,
) -> Request<Body> {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": slack_user, "username": "someone", "team_id": "T1"},
        "team": {"id": "T1"},
        "actions": [{"action_id": action, "block_id": "b1", "value": incident, "type": "button", "action_ts": "1"}],
        "response_url": "https://hooks.slack.com/actions/T1/1/x"
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
    let timestamp = timestamp.to_string();
    let signature = SlackVerifier::new(secret)
        .unwrap()
        .sign(&timestamp, body.as_bytes());
    Request::builder()
        .method(Method::POST)
        .uri("/v1/slack/actions")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", signature)
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn a_signed_slack_button_acknowledges_as_the_configured_user() {
    let world = World::new().await;
    let paged = paged(&world).await;
    let id = paged.incident.id().to_string();
    let now = world.now().timestamp();
    let answer = call(
        &world.ack_router(),
        slack_request(SLACK_SECRET, now, "U0BOB0001", "klaxon_ack", &id),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.json()["text"],
        "Incident #1 acknowledged by user:bob."
    );
    let incident = world.incident(paged.incident.id()).await;
    assert_eq!(incident.status(), IncidentStatus::Acknowledged);
    assert_eq!(
        incident.acknowledged().unwrap().by,
        Actor::user(UserId::new("bob").unwrap())
    );
    assert!(world.timers.armed().is_empty());

    let resolved = call(
        &world.ack_router(),
        slack_request(SLACK_SECRET, now, "U0ALICE01", "klaxon_resolve", &id),
    )
    .await;
    assert_eq!(
        resolved.json()["text"],
        "Incident #1 resolved by user:alice."
    );
}

#[tokio::test]
async fn slack_requests_with_bad_signatures_or_unknown_users_change_nothing() {
    let world = World::new().await;
    let paged = paged(&world).await;
    let id = paged.incident.id().to_string();
    let now = world.now().timestamp();
    let router = world.ack_router();

    let forged = call(
        &router,
        slack_request("another-apps-secret", now, "U0BOB0001", "klaxon_ack", &id),
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert_eq!(forged.error().0, "unauthorized");
    let replayed = call(
        &router,
        slack_request(SLACK_SECRET, now - 600, "U0BOB0001", "klaxon_ack", &id),
    )
    .await;
    assert_eq!(replayed.status, StatusCode::UNAUTHORIZED);

    let stranger = call(
        &router,
        slack_request(SLACK_SECRET, now, "U0NOBODY1", "klaxon_ack", &id),
    )
    .await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);
    assert!(stranger.body.contains("U0NOBODY1"));

    let unknown_button = call(
        &router,
        slack_request(SLACK_SECRET, now, "U0BOB0001", "klaxon_snooze", &id),
    )
    .await;
    assert_eq!(unknown_button.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unknown_button.error().1.as_deref(),
        Some("payload.actions[0].action_id")
    );

    // A deployment without a Slack signing secret refuses every Slack request.
    let disabled: Router = klaxon_app::http::ack::routes(Arc::new(world.ack_service(None)));
    let answer = call(
        &disabled,
        slack_request(SLACK_SECRET, now, "U0BOB0001", "klaxon_ack", &id),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_untouched(&world, &paged).await;
}

#[tokio::test]
async fn link_pages_escape_the_incident_title() {
    let world = World::new().await;
    let incident = world
        .open_incident("<script>alert('x')</script> & co")
        .await;
    let link = world.signer.sign(
        incident.id(),
        &UserId::new("alice").unwrap(),
        LinkAction::Ack,
        world.now() + TimeDelta::hours(1),
    );
    let query = serde_urlencoded::to_string(&link).unwrap();
    let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co";
    let shown = call(
        &world.ack_router(),
        get(&format!("/v1/links?{query}"), None),
    )
    .await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains(escaped), "{}", shown.body);
    assert!(!shown.body.contains("<script>"));
    let done = call(&world.ack_router(), post_form("/v1/links", &query)).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains(escaped));
    assert!(!done.body.contains("<script>"));
}
