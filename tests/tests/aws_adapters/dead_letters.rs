//! The dead-letters port, one scenario over both adapters: the SQLite queue of `klaxon serve`
//! and template.yaml's SQS dead-letter queues on moto (real redrive policies: messages die by
//! being received `maxReceiveCount` times without a delete, as a failing Lambda leaves them).
//! Listing does not consume, redrive sends the message back to its source queue (a FIFO
//! alert keeps its message group), a second redrive of the same dead letter is refused and
//! sends nothing, and "redrive all" empties a queue.

use super::*;
use klaxon_app::dead_letters::{Concern, DeadLetterQueue, DeadLetters};
use klaxon_app::messages::{Notice, NoticeKind};
use klaxon_aws::dead_letters::SqsDeadLetters;
use klaxon_domain::timeline::Actor;
use klaxon_local::queue::{QueueOptions, SqliteQueue};

/// How many receives the test queues allow before a message dies.
const MAX_RECEIVES: u32 = 2;

fn notice(incident: &str) -> QueueMessage {
    QueueMessage::Notice(Notice {
        incident: IncidentId::new(incident).unwrap(),
        notice: NoticeKind::Resolved,
        actor: Actor::system("test"),
        recipients: Vec::new(),
    })
}

/// One adapter under test, with what the scenario needs to make messages die and to see what
/// reached a source queue.
enum World {
    Local {
        queue: SqliteQueue,
    },
    Sqs {
        client: aws_sdk_sqs::Client,
        sources: Box<SqsQueue>,
        letters: Box<SqsDeadLetters>,
    },
}

impl World {
    fn local() -> Self {
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(test_start()));
        let queue = SqliteQueue::open_in_memory(clock)
            .unwrap()
            .with_options(QueueOptions {
                max_attempts: MAX_RECEIVES,
                ..QueueOptions::default()
            });
        World::Local { queue }
    }

    /// The four pipeline queues, each with a dead-letter queue (FIFO for alerts) its redrive
    /// policy sends a message to after [`MAX_RECEIVES`] receives, as template.yaml does.
    async fn sqs() -> Self {
        let client = sqs_client().await;
        let mut sources = SqsQueue::new(client.clone());
        let mut dead = BTreeMap::new();
        for name in QueueName::ALL {
            let fifo = if name == QueueName::Alerts {
                ".fifo"
            } else {
                ""
            };
            let prefix = format!("dl-{}", name.as_str());
            let (dlq_url, dlq_arn) = create_queue(
                &client,
                &format!("{}{fifo}", queue_name(&format!("{prefix}-dlq"))),
            )
            .await;
            let (url, _) = create_queue(&client, &format!("{}{fifo}", queue_name(&prefix))).await;
            let policy = json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES});
            client
                .set_queue_attributes()
                .queue_url(&url)
                .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
                .send()
                .await
                .unwrap();
            sources = sources.with_queue(name, url);
            dead.insert(DeadLetterQueue::of(name), dlq_url);
        }
        let letters = dead.into_iter().fold(
            SqsDeadLetters::new(client.clone(), sources.clone()),
            |letters, (queue, url)| letters.with_queue(queue, url),
        );
        World::Sqs {
            client,
            sources: Box::new(sources),
            letters: Box::new(letters),
        }
    }

    fn port(&self) -> &dyn DeadLetters {
        match self {
            World::Local { queue } => queue,
            World::Sqs { letters, .. } => letters.as_ref(),
        }
    }

    /// Sends `message` and fails it until it is a dead letter.
    async fn kill(&self, message: &QueueMessage) {
        let name = message.queue();
        match self {
            World::Local { queue } => {
                queue.send(message).await.unwrap();
                for _ in 0..MAX_RECEIVES {
                    let batch = queue
                        .receive(name, 10, Duration::from_secs(30))
                        .await
                        .unwrap();
                    for received in batch {
                        queue
                            .retry(received.id, Duration::ZERO, "handler failed: boom")
                            .await
                            .unwrap();
                    }
                }
            }
            World::Sqs {
                client, sources, ..
            } => {
                sources.send(message).await.unwrap();
                let url = sources.url(name).unwrap();
                // Received and never deleted, visible again at once: moto moves it to the
                // dead-letter queue on the receive after the last allowed one.
                for _ in 0..=MAX_RECEIVES {
                    client
                        .receive_message()
                        .queue_url(url)
                        .max_number_of_messages(10)
                        .visibility_timeout(0)
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
    }

    /// Takes every message from source queue `name`: its body and FIFO group (SQS only).
    async fn take(&self, name: QueueName) -> Vec<(QueueMessage, Option<String>)> {
        match self {
            World::Local { queue } => {
                let batch = queue
                    .receive(name, 10, Duration::from_secs(30))
                    .await
                    .unwrap();
                for received in &batch {
                    queue.ack(received.id).await.unwrap();
                }
                batch.into_iter().map(|r| (r.message, None)).collect()
            }
            World::Sqs {
                client, sources, ..
            } => drain(client, sources.url(name).unwrap(), 0)
                .await
                .iter()
                .map(|m| {
                    let body = QueueMessage::from_json(m.body.as_deref().unwrap()).unwrap();
                    (
                        body,
                        system_attribute(m, MessageSystemAttributeName::MessageGroupId),
                    )
                })
                .collect(),
        }
    }
}

async fn the_dead_letters_are_listed_redriven_once_and_redriven_all(world: World) {
    let what = match world {
        World::Local { .. } => "local",
        World::Sqs { .. } => "sqs",
    };
    let port = world.port();
    for queue in [
        DeadLetterQueue::Alerts,
        DeadLetterQueue::Incidents,
        DeadLetterQueue::Timers,
        DeadLetterQueue::Notifications,
    ] {
        assert!(port.queues().contains(&queue), "{what}: {queue:?}");
    }
    let alert = alert_message("0192dddd0001", AlertAction::Fire);
    let incident = incident_message("0192dddd0002", IncidentEvent::Triggered);
    let notices = [notice("0192dddd0003"), notice("0192dddd0004")];
    world.kill(&alert).await;
    world.kill(&incident).await;
    for message in &notices {
        world.kill(message).await;
    }
    assert!(
        world.take(QueueName::Incidents).await.is_empty(),
        "{what}: it died"
    );

    // Listed with what it concerns, twice: looking does not consume.
    let listing = port.list(DeadLetterQueue::Incidents, 20).await.unwrap();
    assert_eq!(listing.count, 1, "{what}");
    let letter = &listing.letters[0];
    assert_eq!(
        QueueMessage::from_json(&letter.body).unwrap(),
        incident,
        "{what}"
    );
    assert_eq!(
        letter.concerns(),
        Some(Concern::Incident("0192dddd0002".into())),
        "{what}"
    );
    assert!(
        letter.receives.unwrap() >= MAX_RECEIVES,
        "{what}: {letter:?}"
    );
    assert!(letter.sent_at.is_some(), "{what}");
    let again = port.list(DeadLetterQueue::Incidents, 20).await.unwrap();
    assert_eq!(again.letters.len(), 1, "{what}");
    assert_eq!(again.letters[0].id, letter.id, "{what}");
    let alerts = port.list(DeadLetterQueue::Alerts, 20).await.unwrap();
    assert_eq!(alerts.letters.len(), 1, "{what}");
    assert_eq!(
        alerts.letters[0].concerns(),
        Some(Concern::Alert("0192dddd0001".into())),
        "{what}"
    );

    // An id of another queue's dead letter is not redriven from this one.
    assert!(
        !port
            .redrive(DeadLetterQueue::Timers, &letter.id)
            .await
            .unwrap(),
        "{what}"
    );

    // Redriven: back on its source queue once; a second redrive sends nothing.
    assert!(
        port.redrive(DeadLetterQueue::Incidents, &letter.id)
            .await
            .unwrap(),
        "{what}"
    );
    assert!(
        !port
            .redrive(DeadLetterQueue::Incidents, &letter.id)
            .await
            .unwrap(),
        "{what}"
    );
    let back = world.take(QueueName::Incidents).await;
    assert_eq!(back.len(), 1, "{what}: {back:?}");
    assert_eq!(back[0].0, incident, "{what}");
    assert!(
        port.list(DeadLetterQueue::Incidents, 20)
            .await
            .unwrap()
            .letters
            .is_empty(),
        "{what}"
    );

    // A FIFO alert goes back into its message group.
    let alert_id = alerts.letters[0].id.clone();
    assert!(
        port.redrive(DeadLetterQueue::Alerts, &alert_id)
            .await
            .unwrap(),
        "{what}"
    );
    assert!(
        !port
            .redrive(DeadLetterQueue::Alerts, &alert_id)
            .await
            .unwrap(),
        "{what}"
    );
    let back = world.take(QueueName::Alerts).await;
    assert_eq!(back.len(), 1, "{what}: {back:?}");
    assert_eq!(back[0].0, alert, "{what}");
    if let World::Sqs { .. } = world {
        assert_eq!(back[0].1.as_deref(), Some("group0192dddd0001"));
    }

    // Redrive all.
    assert_eq!(
        port.list(DeadLetterQueue::Notifications, 20)
            .await
            .unwrap()
            .count,
        2,
        "{what}"
    );
    assert_eq!(
        port.redrive_all(DeadLetterQueue::Notifications, 100)
            .await
            .unwrap(),
        2,
        "{what}"
    );
    assert_eq!(
        port.redrive_all(DeadLetterQueue::Notifications, 100)
            .await
            .unwrap(),
        0,
        "{what}"
    );
    let mut back: Vec<QueueMessage> = (world.take(QueueName::Notifications).await)
        .into_iter()
        .map(|(message, _)| message)
        .collect();
    back.sort_by_key(QueueMessage::to_json);
    assert_eq!(back, notices.to_vec(), "{what}");
    assert_eq!(
        port.list(DeadLetterQueue::Notifications, 20)
            .await
            .unwrap()
            .count,
        0,
        "{what}"
    );
}

#[tokio::test]
async fn local_dead_letters_are_listed_redriven_once_and_redriven_all() {
    the_dead_letters_are_listed_redriven_once_and_redriven_all(World::local()).await;
}

#[tokio::test]
async fn sqs_dead_letters_are_listed_redriven_once_and_redriven_all() {
    the_dead_letters_are_listed_redriven_once_and_redriven_all(World::sqs().await).await;
}

#[tokio::test]
async fn the_local_errors_and_times_of_death_are_kept() {
    let world = World::local();
    world
        .kill(&incident_message("0192eeee0001", IncidentEvent::Triggered))
        .await;
    let listing = world
        .port()
        .list(DeadLetterQueue::Incidents, 20)
        .await
        .unwrap();
    let letter = &listing.letters[0];
    assert_eq!(letter.receives, Some(MAX_RECEIVES));
    assert!(
        letter
            .last_error
            .as_deref()
            .unwrap()
            .contains("handler failed: boom"),
        "{letter:?}"
    );
    assert_eq!(letter.dead_at, Some(test_start()));
    assert!(!world.port().queues().contains(&DeadLetterQueue::Scheduler));
}

#[tokio::test]
async fn a_scheduler_dead_letter_shows_the_schedulers_error_and_goes_to_the_timers_queue() {
    let client = sqs_client().await;
    let (timers, _) = create_queue(&client, &queue_name("dl-timers")).await;
    let (dlq, _) = create_queue(&client, &queue_name("dl-scheduler")).await;
    let sources = SqsQueue::new(client.clone()).with_queue(QueueName::Timers, &timers);
    let letters =
        SqsDeadLetters::new(client.clone(), sources).with_queue(DeadLetterQueue::Scheduler, &dlq);
    let timer = QueueMessage::Timer(TimerPayload::tier(
        IncidentId::new("0192ffff0001").unwrap(),
        0,
        1,
        3,
    ));
    let attribute = |value: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .unwrap()
    };
    // What EventBridge Scheduler puts in its dead-letter queue: the target's input, and why.
    client
        .send_message()
        .queue_url(&dlq)
        .message_body(timer.to_json())
        .message_attributes("ERROR_CODE", attribute("AWS.SQS.AccessDenied"))
        .message_attributes("ERROR_MESSAGE", attribute("not authorized to send"))
        .send()
        .await
        .unwrap();
    assert_eq!(letters.queues(), vec![DeadLetterQueue::Scheduler]);
    let listing = letters.list(DeadLetterQueue::Scheduler, 20).await.unwrap();
    let letter = &listing.letters[0];
    assert_eq!(
        letter.last_error.as_deref(),
        Some("AWS.SQS.AccessDenied: not authorized to send")
    );
    assert_eq!(
        letter.concerns(),
        Some(Concern::Incident("0192ffff0001".into()))
    );
    assert!(
        letters
            .redrive(DeadLetterQueue::Scheduler, &letter.id)
            .await
            .unwrap()
    );
    let back = drain(&client, &timers, 0).await;
    assert_eq!(back.len(), 1);
    assert_eq!(
        QueueMessage::from_json(back[0].body.as_deref().unwrap()).unwrap(),
        timer
    );
    assert!(drain(&client, &dlq, 0).await.is_empty());
}

#[tokio::test]
async fn a_dead_letter_queue_without_a_url_is_an_error_naming_its_variable() {
    let client = sqs_client().await;
    let letters = SqsDeadLetters::new(client.clone(), SqsQueue::new(client));
    let error = letters.list(DeadLetterQueue::Timers, 20).await.unwrap_err();
    assert!(
        error.message.contains("TIMERS_DEAD_LETTER_QUEUE_URL"),
        "{error}"
    );
}
