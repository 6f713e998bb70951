//! The dead-letter routes of the JSON API through the api Lambda handler (the samples in
//! `events/apigw/`), over the deployment's SQS dead-letter queues in moto: listed with what
//! they concern, redriven once (a second redrive is a 404 and sends nothing), a queue the
//! deployment does not have named in a 400, no key a 401.

use super::cloud::Cloud;
use super::events::{request, response};
use klaxon_app::dead_letters::DeadLetterQueue;
use klaxon_app::messages::{IncidentEvent, IncidentMessage, QueueMessage, QueueName};
use klaxon_domain::ids::IncidentId;

const KEY: &str = "klx_EXAMPLE_API_KEY";
const ID: &str = "EXAMPLE_DEAD_LETTER_ID";

async fn api(cloud: &Cloud, event: serde_json::Value) -> (u16, serde_json::Value) {
    let raw = serde_json::to_value(cloud.api.handle(event).await.unwrap()).unwrap();
    response(&raw)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_and_redrives_the_sqs_dead_letters_once() {
    let cloud = Cloud::new().await;
    let (dlq, _) = &cloud.dead_letter_queues[&DeadLetterQueue::Incidents];
    let message = QueueMessage::Incident(IncidentMessage {
        incident: IncidentId::new("0192dead0002").unwrap(),
        event: IncidentEvent::Triggered,
    });
    let sent = (cloud.sqs.send_message())
        .queue_url(dlq)
        .message_body(message.to_json())
        .send()
        .await
        .unwrap();
    let id = sent.message_id.unwrap();
    let key = cloud.api_key.clone();

    let (status, listed) = api(
        &cloud,
        request("api-list-dead-letters.json", &[(KEY, &key)]),
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let queue = &listed["queues"][0];
    assert_eq!(queue["queue"], "incidents", "{listed}");
    assert_eq!(queue["source"], "incidents");
    assert_eq!(queue["count"], 1);
    assert_eq!(queue["letters"][0]["id"], id.as_str());
    assert_eq!(queue["letters"][0]["concerns"]["incident"], "0192dead0002");
    assert_eq!(queue["letters"][0]["body"], message.to_json().as_str());

    let (status, _) = api(
        &cloud,
        request("api-redrive-dead-letter.json", &[(ID, &id)]),
    )
    .await;
    assert_eq!(status, 401, "no API key");
    let mut bad = request("api-redrive-dead-letter.json", &[(KEY, &key), (ID, &id)]);
    let path = bad["rawPath"]
        .as_str()
        .unwrap()
        .replace("/incidents/", "/queues/");
    bad["rawPath"] = serde_json::json!(path);
    bad["requestContext"]["http"]["path"] = serde_json::json!(path);
    let (status, refused) = api(&cloud, bad).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"]["field"], "queue", "{refused}");
    let incidents = cloud.queue(QueueName::Incidents).clone();
    assert!(
        cloud.receive(&incidents).await.is_empty(),
        "refusals redrive nothing"
    );

    let redrive = || request("api-redrive-dead-letter.json", &[(KEY, &key), (ID, &id)]);
    let (status, done) = api(&cloud, redrive()).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["to"], "incidents");
    let (status, again) = api(&cloud, redrive()).await;
    assert_eq!(status, 404, "{again}");
    assert_eq!(again["error"]["code"], "not_found");
    let back = cloud.receive(&incidents).await;
    assert_eq!(back.len(), 1, "redriven once");
    assert_eq!(
        QueueMessage::from_json(back[0].body.as_deref().unwrap()).unwrap(),
        message
    );
}
