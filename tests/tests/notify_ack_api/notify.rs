//! Notify: pages and notices.

use crate::harness::{AUDIT_SECRET, BASE_URL, STATUS_BOT_SECRET, World};
use chrono::TimeDelta;
use klaxon_app::messages::{Notice, NoticeKind, QueueMessage};
use klaxon_app::ports::SendError;
use klaxon_app::security::links::{LinkAction, LinkError, SignedLink};
use klaxon_app::usecases::UseCaseError;
use klaxon_app::usecases::lifecycle::{StopAction, stop_incident};
use klaxon_app::usecases::notify::{DeliveryReport, NotifyOutcome, SkipReason};
use klaxon_app::webhook::{SIGNATURE_HEADER, SignatureError, verify_webhook};
use klaxon_domain::escalation::{PageRequest, Target};
use klaxon_domain::ids::{PolicyId, ScheduleId, UserId};
use klaxon_domain::incident::{Incident, Urgency};
use klaxon_domain::schedule::Override;
use klaxon_domain::timeline::Actor;
use klaxon_domain::user::Channel;
use std::time::Duration;

const DELIVERED: &str = "io.klaxon.notification.delivered";
const FAILED: &str = "io.klaxon.notification.failed";

fn user(id: &str) -> UserId {
    UserId::new(id).unwrap()
}

fn page_to(world: &World, incident: &Incident, tier: u32, targets: Vec<Target>) -> QueueMessage {
    QueueMessage::Page(PageRequest {
        incident: incident.id().clone(),
        policy: PolicyId::new("infra").unwrap(),
        round: 0,
        tier,
        targets,
        urgency: Urgency::High,
        resolve_at: world.now(),
        cycle: 0,
        responders: None,
        quiet_hours: false,
    })
}

fn page_user(world: &World, incident: &Incident, id: &str) -> QueueMessage {
    page_to(world, incident, 0, vec![Target::User(user(id))])
}

fn delivered(report: DeliveryReport) -> Result<NotifyOutcome, String> {
    Ok(NotifyOutcome::Delivered(report))
}

fn outcome(result: Result<NotifyOutcome, UseCaseError>) -> Result<NotifyOutcome, String> {
    result.map_err(|e| e.to_string())
}

fn report(sent: usize, already_handled: usize, failed_permanently: usize) -> DeliveryReport {
    DeliveryReport {
        sent,
        already_handled,
        failed_permanently,
    }
}

/// The signed link at the end of a page's text (the SMS ends with the ack link).
fn link_in(text: &str) -> SignedLink {
    let url = text
        .split_whitespace()
        .find(|word| word.starts_with(BASE_URL))
        .unwrap_or_else(|| panic!("no link in {text:?}"));
    let query = url
        .strip_prefix(&format!("{BASE_URL}/v1/links?"))
        .unwrap_or_else(|| panic!("link {url} is not under {BASE_URL}/v1/links"));
    serde_urlencoded::from_str(query).unwrap()
}

#[tokio::test]
async fn a_page_reaches_each_channel_of_the_user_once_even_when_redelivered() {
    let world = World::new().await;
    let incident = world.open_incident("Database down").await;
    let message = page_user(&world, &incident, "alice");
    let notify = world.notify();

    assert_eq!(
        outcome(notify.handle(&message).await),
        delivered(report(2, 0, 0))
    );
    let sent = world.senders.sent();
    assert_eq!(sent.sms.len(), 1);
    assert_eq!(sent.sms[0].to, "+15551230001");
    assert!(
        sent.sms[0].text.contains("#1 Database down"),
        "{}",
        sent.sms[0].text
    );
    assert_eq!(sent.emails.len(), 1);
    let email = &sent.emails[0];
    assert_eq!(email.to, "alice@example.com");
    assert_eq!(email.subject, "[CRITICAL] #1 Database down");
    assert!(
        email
            .text
            .contains("Acknowledge: https://klaxon.example/v1/links?")
    );
    assert!(
        email
            .text
            .contains("Resolve: https://klaxon.example/v1/links?")
    );
    assert!(sent.webhooks.is_empty());

    // The SMS link acknowledges this incident as alice, and lives as long as the settings say
    // (ack_link_lifetime: 1h).
    let link = link_in(&sent.sms[0].text);
    let verified = world.signer.verify(&link, world.now()).unwrap();
    assert_eq!(&verified.incident, incident.id());
    assert_eq!(verified.user, user("alice"));
    assert_eq!(verified.action, LinkAction::Ack);
    assert!(
        world
            .signer
            .verify(&link, world.now() + TimeDelta::minutes(59))
            .is_ok()
    );
    assert!(matches!(
        world
            .signer
            .verify(&link, world.now() + TimeDelta::minutes(60)),
        Err(LinkError::Expired(_))
    ));

    // The same message again (SQS delivers at least once): nothing more goes out.
    assert_eq!(
        outcome(world.notify().handle(&message).await),
        delivered(report(0, 2, 0))
    );
    let sent = world.senders.sent();
    assert_eq!((sent.sms.len(), sent.emails.len()), (1, 1));

    let entries = world.timeline_of(incident.id(), DELIVERED).await;
    // Entries of one instant are ordered by key, not by send order: compare as sets.
    let mut channels: Vec<_> = entries
        .iter()
        .map(|e| e["data"]["channel"].as_str().unwrap())
        .collect();
    channels.sort_unstable();
    assert_eq!(channels, ["email", "sms"]);
    assert!(entries.iter().all(|e| e["data"]["user"] == "alice"));
    assert!(entries.iter().all(|e| e["actor"] == "system:notify"));
}

#[tokio::test]
async fn a_page_for_an_acknowledged_or_resolved_incident_sends_nothing() {
    let world = World::new().await;
    let core = world.core("ack");
    for action in [StopAction::Acknowledge, StopAction::Resolve] {
        let incident = world.open_incident("Disk full").await;
        stop_incident(
            &core,
            &world.queue,
            &world.timers,
            incident.id(),
            action,
            Actor::user(user("carol")),
        )
        .await
        .unwrap();
        let status = world.incident(incident.id()).await.status();
        assert_eq!(
            outcome(
                world
                    .notify()
                    .handle(&page_user(&world, &incident, "alice"))
                    .await
            ),
            Ok(NotifyOutcome::Skipped(SkipReason::NoLongerPaging(status)))
        );
        assert!(world.timeline_of(incident.id(), DELIVERED).await.is_empty());
    }
    let sent = world.senders.sent();
    assert!(sent.sms.is_empty() && sent.emails.is_empty() && sent.webhooks.is_empty());
}

#[tokio::test]
async fn a_transient_failure_fails_the_message_and_the_retry_sends_only_that_channel() {
    let world = World::new().await;
    let incident = world.open_incident("API errors").await;
    let message = page_user(&world, &incident, "alice");
    // alice's high-urgency channels are [sms, email]: the SMS fails, the email goes out.
    world
        .senders
        .fail_with([SendError::Transient("SNS: Throttling".into())]);

    let error = world.notify().handle(&message).await.unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert!(error.to_string().contains("Throttling"), "{error}");
    let sent = world.senders.sent();
    assert_eq!((sent.sms.len(), sent.emails.len()), (0, 1));
    let failed = world.timeline_of(incident.id(), FAILED).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["data"]["channel"], "sms");
    assert_eq!(failed[0]["data"]["retrying"], true);

    // The queue redelivers the message: only the SMS is sent now.
    world.advance(TimeDelta::seconds(30));
    assert_eq!(
        outcome(world.notify().handle(&message).await),
        delivered(report(1, 1, 0))
    );
    let sent = world.senders.sent();
    assert_eq!((sent.sms.len(), sent.emails.len()), (1, 1));
    let channels: Vec<_> = world
        .timeline_of(incident.id(), DELIVERED)
        .await
        .iter()
        .map(|e| e["data"]["channel"].clone())
        .collect();
    assert_eq!(channels, ["email", "sms"]);
}

#[tokio::test]
async fn a_permanent_failure_is_recorded_on_the_timeline_and_never_retried() {
    let world = World::new().await;
    let incident = world.open_incident("API errors").await;
    let message = page_user(&world, &incident, "alice");
    world.senders.fail_with([SendError::Permanent(
        "SNS: +15551230001 has opted out".into(),
    )]);

    assert_eq!(
        outcome(world.notify().handle(&message).await),
        delivered(report(1, 0, 1))
    );
    let failed = world.timeline_of(incident.id(), FAILED).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["data"]["channel"], "sms");
    assert_eq!(failed[0]["data"]["retrying"], false);
    assert!(
        failed[0]["data"]["error"]
            .as_str()
            .unwrap()
            .contains("opted out")
    );

    assert_eq!(
        outcome(world.notify().handle(&message).await),
        delivered(report(0, 2, 0))
    );
    let sent = world.senders.sent();
    assert_eq!((sent.sms.len(), sent.emails.len()), (0, 1));
    assert_eq!(world.timeline_of(incident.id(), FAILED).await.len(), 1);
}

#[tokio::test]
async fn slack_teams_and_webhook_pages_have_their_bodies_and_webhooks_verify() {
    let world = World::new().await;
    let incident = world.open_incident("Payments failing").await;
    // bob's high-urgency channels are [slack, teams, webhook]; two webhooks are configured.
    assert_eq!(
        outcome(
            world
                .notify()
                .handle(&page_user(&world, &incident, "bob"))
                .await
        ),
        delivered(report(4, 0, 0))
    );
    let posts = world.senders.sent().webhooks;
    let targets: Vec<_> = posts.iter().map(|p| (p.channel, p.url.as_str())).collect();
    assert_eq!(
        targets,
        [
            ("slack", "https://hooks.slack.example/T1/B1/x"),
            ("teams", "https://teams.example/webhook/1"),
            ("webhook", "https://status.example/hook"),
            ("webhook", "https://audit.example/hook"),
        ]
    );

    let slack: serde_json::Value = serde_json::from_str(&posts[0].body).unwrap();
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .starts_with("<@U0BOB0001> [CRITICAL] #1 Payments failing")
    );
    let buttons = &slack["blocks"][2]["elements"];
    assert_eq!(buttons[0]["action_id"], "klaxon_ack");
    assert_eq!(buttons[0]["value"], incident.id().as_str());
    assert_eq!(buttons[1]["action_id"], "klaxon_resolve");
    let resolve_link = buttons[1]["url"].as_str().unwrap();
    let link = link_in(resolve_link);
    assert_eq!(link.action, LinkAction::Resolve);
    assert_eq!(link.user, "bob");

    let teams: serde_json::Value = serde_json::from_str(&posts[1].body).unwrap();
    let card = &teams["attachments"][0];
    assert_eq!(
        card["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(card["content"]["body"][1]["text"], "For Bob Builder");
    assert_eq!(card["content"]["actions"][0]["title"], "Acknowledge");

    let now = world.now().timestamp();
    let window = Duration::from_secs(300);
    for (post, secret, other) in [
        (&posts[2], STATUS_BOT_SECRET, AUDIT_SECRET),
        (&posts[3], AUDIT_SECRET, STATUS_BOT_SECRET),
    ] {
        let (name, signature) = &post.headers[0];
        assert_eq!(name, SIGNATURE_HEADER);
        assert_eq!(
            verify_webhook(secret.as_bytes(), signature, &post.body, now, window),
            Ok(())
        );
        assert_eq!(
            verify_webhook(other.as_bytes(), signature, &post.body, now, window),
            Err(SignatureError::Mismatch)
        );
        let body: serde_json::Value = serde_json::from_str(&post.body).unwrap();
        assert_eq!(body["event"], "incident.page");
        assert_eq!(body["recipient"]["id"], "bob");
        assert_eq!(body["incident"]["number"], 1);
        assert!(body["links"]["ack"].as_str().unwrap().starts_with(BASE_URL));
    }
    assert!(posts[0].headers.is_empty() && posts[1].headers.is_empty());

    let mut providers: Vec<_> = world
        .timeline_of(incident.id(), DELIVERED)
        .await
        .iter()
        .map(|e| e["data"]["provider_id"].as_str().unwrap().to_owned())
        .collect();
    providers.sort_unstable();
    assert_eq!(
        providers,
        [
            "audit: HTTP 200",
            "slack: HTTP 200",
            "status-bot: HTTP 200",
            "teams: HTTP 200"
        ]
    );
}

#[tokio::test]
async fn one_failing_webhook_endpoint_is_retried_without_resending_to_the_other() {
    let world = World::new().await;
    let incident = world.open_incident("Queue backlog").await;
    let message = page_user(&world, &incident, "dave");
    // dave is paged on [webhook]: status-bot first (fails), then audit.
    world
        .senders
        .fail_with([SendError::Transient("webhook: HTTP 503".into())]);
    assert!(
        world
            .notify()
            .handle(&message)
            .await
            .unwrap_err()
            .is_transient()
    );
    let urls: Vec<_> = world
        .senders
        .sent()
        .webhooks
        .into_iter()
        .map(|p| p.url)
        .collect();
    assert_eq!(urls, ["https://audit.example/hook"]);
    let failed = world.timeline_of(incident.id(), FAILED).await;
    assert!(
        failed[0]["data"]["error"]
            .as_str()
            .unwrap()
            .starts_with("status-bot: ")
    );

    assert_eq!(
        outcome(world.notify().handle(&message).await),
        delivered(report(1, 1, 0))
    );
    let urls: Vec<_> = world
        .senders
        .sent()
        .webhooks
        .into_iter()
        .map(|p| p.url)
        .collect();
    assert_eq!(
        urls,
        ["https://audit.example/hook", "https://status.example/hook"]
    );
}

#[tokio::test]
async fn an_unset_environment_variable_is_a_permanent_failure_naming_it() {
    let world = World::new().await;
    let incident = world.open_incident("Queue backlog").await;
    world.env.lock().unwrap().remove("TEST_AUDIT_SECRET");
    let message = page_user(&world, &incident, "dave");

    assert_eq!(
        outcome(world.notify().handle(&message).await),
        delivered(report(1, 0, 1))
    );
    let urls: Vec<_> = world
        .senders
        .sent()
        .webhooks
        .into_iter()
        .map(|p| p.url)
        .collect();
    assert_eq!(
        urls,
        ["https://status.example/hook"],
        "nothing unsigned goes out"
    );
    let failed = world.timeline_of(incident.id(), FAILED).await;
    assert_eq!(failed.len(), 1);
    let error = failed[0]["data"]["error"].as_str().unwrap();
    assert!(error.contains("TEST_AUDIT_SECRET"), "{error}");
    assert!(
        error.contains("notifications.webhooks[1] (audit).signing_secret"),
        "{error}"
    );
    assert_eq!(failed[0]["data"]["retrying"], false);

    // Setting the variable later does not resend this page: the failure was permanent.
    world
        .env
        .lock()
        .unwrap()
        .insert("TEST_AUDIT_SECRET".into(), AUDIT_SECRET.into());
    assert_eq!(
        outcome(world.notify().handle(&message).await),
        delivered(report(0, 2, 0))
    );
    assert_eq!(world.senders.sent().webhooks.len(), 1);
}

#[tokio::test]
async fn a_schedule_target_pages_whoever_is_on_call_at_send_time_overrides_first() {
    let world = World::new().await;
    let incident = world.open_incident("Latency").await;
    let primary = vec![Target::Schedule(ScheduleId::new("primary").unwrap())];
    world
        .repo("api")
        .create_override(
            &Override {
                id: "cover-1".into(),
                schedule: ScheduleId::new("primary").unwrap(),
                user: user("carol"),
                start: world.now() - TimeDelta::hours(1),
                end: world.now() + TimeDelta::hours(1),
            },
            &Actor::system("test"),
        )
        .await
        .unwrap();
    world
        .notify()
        .handle(&page_to(&world, &incident, 1, primary.clone()))
        .await
        .unwrap();
    let sent = world.senders.sent();
    let to: Vec<_> = sent.emails.iter().map(|e| e.to.as_str()).collect();
    assert_eq!(to, ["carol@example.com"]);
    assert!(sent.sms.is_empty(), "alice is overridden");

    // Without the override the rotation's alice is paged (a later page, another tier).
    world
        .repo("api")
        .delete_override(&ScheduleId::new("primary").unwrap(), "cover-1")
        .await
        .unwrap();
    world
        .notify()
        .handle(&page_to(&world, &incident, 2, primary))
        .await
        .unwrap();
    let sent = world.senders.sent();
    assert_eq!(sent.sms.len(), 1);
    assert_eq!(sent.sms[0].to, "+15551230001");
}

#[tokio::test]
async fn a_notice_reaches_exactly_its_recipients_once() {
    let world = World::new().await;
    let incident = world.open_incident("Database down").await;
    let notice = QueueMessage::Notice(Notice {
        incident: incident.id().clone(),
        notice: NoticeKind::Acknowledged,
        actor: Actor::user(user("carol")),
        recipients: vec![(user("alice"), Channel::Sms), (user("bob"), Channel::Slack)],
    });
    assert_eq!(
        outcome(world.notify().handle(&notice).await),
        delivered(report(2, 0, 0))
    );
    let sent = world.senders.sent();
    assert_eq!(sent.sms.len(), 1);
    assert_eq!(sent.sms[0].to, "+15551230001");
    assert_eq!(
        sent.sms[0].text,
        "Klaxon Acknowledged by carol: [CRITICAL] #1 Database down"
    );
    assert!(sent.emails.is_empty(), "alice was not paged by email");
    assert_eq!(sent.webhooks.len(), 1);
    assert_eq!(sent.webhooks[0].channel, "slack");
    assert!(sent.webhooks[0].body.contains("Acknowledged by carol"));
    assert!(
        !sent.webhooks[0].body.contains("klaxon_ack"),
        "a notice has no buttons"
    );

    assert_eq!(
        outcome(world.notify().handle(&notice).await),
        delivered(report(0, 2, 0))
    );
    assert_eq!(world.senders.sent().sms.len(), 1);
    let notices = world
        .timeline_of(incident.id(), "io.klaxon.notification.notice_delivered")
        .await;
    assert_eq!(notices.len(), 2);
    assert!(
        notices
            .iter()
            .all(|e| e["data"]["notice"] == "acknowledged")
    );
}

#[tokio::test]
async fn other_message_kinds_are_refused() {
    let world = World::new().await;
    let error = world
        .notify()
        .handle(&QueueMessage::Sweep { at: None })
        .await
        .unwrap_err();
    assert!(matches!(error, UseCaseError::Invalid { ref field, .. } if field == "kind"));
}

/// A sender that claimed a delivery and died before recording it: a redelivered page must not
/// count it as done. It fails (so the queue retries it) until the claim goes stale, then sends.
#[tokio::test]
async fn a_delivery_claimed_by_a_dead_sender_is_retried_and_sent_once_stale() {
    use klaxon_store::repo::{Claim, Delivery};
    let world = World::new().await;
    let incident = world.open_incident("Database down").await;
    let message = page_user(&world, &incident, "alice");
    let QueueMessage::Page(page) = &message else {
        unreachable!()
    };
    // The dead sender's claim on alice's SMS.
    let repo = world.repo("notify");
    let claim = repo
        .claim_delivery(
            &Delivery::page(page, &user("alice"), Channel::Sms),
            klaxon_app::usecases::notify::STALE_CLAIM,
        )
        .await
        .unwrap();
    assert!(matches!(claim, Claim::Claimed { .. }));

    let notify = world.notify();
    let result = notify.handle(&message).await;
    let error = result.expect_err("an in-flight claim makes the message fail for a retry");
    assert!(error.is_transient(), "{error}");
    assert_eq!(
        world.senders.sent().sms.len(),
        0,
        "not sent while the claim is fresh"
    );
    assert_eq!(
        world.senders.sent().emails.len(),
        1,
        "the other channel went out"
    );

    world.advance(TimeDelta::minutes(6));
    assert_eq!(
        outcome(notify.handle(&message).await),
        delivered(report(1, 1, 0))
    );
    assert_eq!(
        world.senders.sent().sms.len(),
        1,
        "sent once the claim went stale"
    );
    assert_eq!(world.senders.sent().emails.len(), 1, "email not sent again");
}
