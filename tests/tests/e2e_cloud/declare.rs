//! Declaring an incident by hand through the ack Lambda handler (the
//! `events/apigw/ack-declare-incident.json` sample) on DynamoDB, SQS and Scheduler (moto): the
//! incident is stored, routed to the declared policy, tier 0 is paged once and its tier timer
//! armed; the same request again (same `Idempotency-Key`), before and after routing, pages
//! nobody again; the timeline records who declared it.

use super::*;

#[tokio::test]
async fn a_declared_incident_is_routed_and_pages_tier_zero_once() {
    let cloud = Cloud::new().await;
    let event = request(
        "ack-declare-incident.json",
        &[("klx_EXAMPLE_API_KEY", cloud.api_key.as_str())],
    );
    // Declared, and retried before routing has run.
    for expected in [201, 200] {
        let (code, body) = ack(&cloud, event.clone()).await;
        assert_eq!(code, expected, "{body}");
    }
    cloud.pump().await;
    let stored = cloud.only_incident().await;
    let incident = stored.incident;
    assert_eq!(incident.title(), "Checkout is down for EU customers");
    let state = incident
        .escalation()
        .expect("routing started the escalation");
    assert_eq!(state.policy().as_str(), "standard");
    // Tier 0 of `standard` is the primary schedule: alice, by email, once.
    let sent = cloud.sent().await;
    assert_eq!((sent.emails.len(), sent.sms.len()), (1, 0), "{sent:?}");
    let tier0 = only_schedule(&cloud).await;
    assert_eq!(
        tier0,
        format!("{}-r0-t0", incident.id()),
        "the tier-0 timer"
    );

    // Retried after routing: the same incident, nobody paged again.
    let (code, body) = ack(&cloud, event.clone()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["created"], false);
    assert_eq!(body["incident"]["number"].as_u64(), Some(incident.number()));
    cloud.pump().await;
    assert_eq!(cloud.sent().await, sent);

    let timeline = cloud.repo.timeline(incident.id(), None, 100).await.unwrap();
    let declared: Vec<_> = timeline
        .items
        .iter()
        .filter(|r| r.entry.event_type() == "io.klaxon.incident.declared")
        .collect();
    assert_eq!(declared.len(), 1);
    assert_eq!(declared[0].actor.to_string(), "user:alice");
}
