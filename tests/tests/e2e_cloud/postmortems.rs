//! Post-mortems through the api Lambda handler with the `events/apigw/api-*postmortem*` and
//! `api-*action-item*` samples, on DynamoDB (moto): an incident paged, acknowledged, noted and
//! resolved through the handlers gets a post-mortem whose facts are the stored incident's;
//! retried creates and additions are no-ops, sections and status change under the version,
//! publishing twice changes nothing, the Markdown export and the open action items are read
//! back, and bad input is refused with a code and changes nothing.

use super::responder::{SAMPLE_INCIDENT, action, alert_event, keyed};
use super::*;

/// The `api-{name}.json` sample for `incident` with this deployment's API key, its body
/// replaced when `body` is given.
fn sample(cloud: &Cloud, name: &str, incident: &str, body: Option<Value>) -> Value {
    let event = request(
        &format!("api-{name}.json"),
        &[
            ("klx_EXAMPLE_API_KEY", cloud.api_key.as_str()),
            (SAMPLE_INCIDENT, incident),
        ],
    );
    match body {
        Some(body) => with_body(event, &body.to_string()),
        None => event,
    }
}

fn json_get(cloud: &Cloud, incident: &str) -> Value {
    let mut event = sample(cloud, "get-postmortem", incident, None);
    event["headers"]["accept"] = json!("application/json");
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resolved_incident_gets_its_post_mortem_through_the_api_handler() {
    let cloud = Cloud::new().await;
    let (code, body) = ingest(&cloud, alert_event(&cloud, "disk-full", json!({}))).await;
    assert_eq!(code, 202, "{body}");
    cloud.pump().await;
    let id = cloud.only_incident().await.incident.id().to_string();
    let (code, body) = ack(&cloud, action(&cloud, "acknowledge", &id, None)).await;
    assert_eq!(code, 200, "{body}");
    let note = json!({"text": "freed 20 GB", "user": "bob"});
    let (code, body) = ack(&cloud, action(&cloud, "notes", &id, Some(note))).await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = ack(&cloud, action(&cloud, "resolve", &id, None)).await;
    assert_eq!(code, 200, "{body}");
    cloud.pump().await;
    let incident = cloud.only_incident().await.incident;

    // Create; the same Idempotency-Key again answers the same post-mortem; another is 409.
    let create = sample(&cloud, "create-postmortem", &id, None);
    let (code, created) = api(&cloud, create.clone()).await;
    assert_eq!(code, 201, "{created}");
    let (code, again) = api(&cloud, create.clone()).await;
    assert_eq!((code, &again["changed"]), (200, &json!(false)), "{again}");
    assert_eq!(again["postmortem"]["version"], 1);
    let (code, body) = api(&cloud, keyed(create, "another-request")).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("postmortem_exists"))
    );

    // The facts are the stored incident's.
    let pm = &created["postmortem"];
    assert_eq!(pm["template"], "default");
    let facts = &pm["facts"];
    assert_eq!(facts["opened_at"], json!(incident.created_at()));
    assert_eq!(facts["resolved_at"], json!(incident.resolved().unwrap().at));
    assert!(
        facts["responders"]
            .as_array()
            .unwrap()
            .contains(&json!("bob"))
    );
    let kinds: Vec<&str> = facts["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "incident.acknowledged",
        "incident.note",
        "incident.resolved",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }

    // Bad input: a code, and nothing changes.
    for (body, field) in [
        (json!({"status": "nope"}), "status"),
        (
            json!({"sections": [{"title": "", "body": "x"}]}),
            "sections[0].title",
        ),
        (json!({"owner": "x"}), "owner"),
    ] {
        let (code, answer) =
            api(&cloud, sample(&cloud, "update-postmortem", &id, Some(body))).await;
        assert_eq!(code, 400, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (code, answer) = api(&cloud, sample(&cloud, "update-action-item", &id, None)).await;
    assert_eq!(
        (code, answer["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (_, unchanged) = api(&cloud, json_get(&cloud, &id)).await;
    assert_eq!(unchanged["version"], 1, "{unchanged}");

    // Sections and review in one PATCH at version 1 (the sample's), then a stale retry.
    let update = sample(&cloud, "update-postmortem", &id, None);
    let (code, updated) = api(&cloud, update.clone()).await;
    assert_eq!(code, 200, "{updated}");
    assert_eq!(updated["postmortem"]["status"], "in_review");
    assert_eq!(updated["postmortem"]["version"], 2);
    let (code, retried) = api(&cloud, update).await;
    assert_eq!(
        (code, &retried["changed"]),
        (200, &json!(false)),
        "a retry is a no-op"
    );
    let stale = json!({"sections": [{"title": "Summary", "body": "other"}], "version": 1});
    let (code, body) = api(
        &cloud,
        sample(&cloud, "update-postmortem", &id, Some(stale)),
    )
    .await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("version_conflict"))
    );

    // An action item, added twice under one key: one item, open in the listing.
    let add = sample(&cloud, "add-action-item", &id, None);
    let (code, added) = api(&cloud, add.clone()).await;
    assert_eq!(code, 201, "{added}");
    let (code, again) = api(&cloud, add).await;
    assert_eq!((code, &again["changed"]), (200, &json!(false)));
    let item = added["action_item"]["id"].as_str().unwrap().to_owned();
    let (code, listed) = api(&cloud, sample(&cloud, "list-action-items", &id, None)).await;
    assert_eq!(code, 200, "{listed}");
    let open = listed["action_items"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{listed}");
    assert_eq!(open[0]["id"], item.as_str());
    assert_eq!(open[0]["owner"], "bob");

    // Publish, and publish again: the second changes nothing.
    let publish = json!({"status": "published"});
    let (code, body) = api(
        &cloud,
        sample(&cloud, "update-postmortem", &id, Some(publish.clone())),
    )
    .await;
    assert_eq!((code, &body["changed"]), (200, &json!(true)), "{body}");
    let (code, body) = api(
        &cloud,
        sample(&cloud, "update-postmortem", &id, Some(publish)),
    )
    .await;
    assert_eq!((code, &body["changed"]), (200, &json!(false)), "{body}");
    let back = json!({"status": "draft"});
    let (code, body) = api(&cloud, sample(&cloud, "update-postmortem", &id, Some(back))).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("invalid_transition"))
    );

    // The item done (its id in the path), out of the open list.
    let mut done = sample(&cloud, "update-action-item", &id, None);
    let path = format!("/v1/incidents/{id}/postmortem/action-items/{item}");
    done["rawPath"] = json!(path);
    done["requestContext"]["http"]["path"] = json!(path);
    done["pathParameters"]["item"] = json!(item);
    let (code, body) = api(&cloud, done).await;
    assert_eq!(code, 200, "{body}");
    let (_, listed) = api(&cloud, sample(&cloud, "list-action-items", &id, None)).await;
    assert_eq!(listed["action_items"], json!([]));

    // The Markdown export.
    let (code, markdown) = api(&cloud, sample(&cloud, "get-postmortem", &id, None)).await;
    assert_eq!(code, 200);
    let text = markdown.as_str().unwrap();
    assert!(
        text.starts_with(&format!("# Post-mortem: incident #{}", incident.number())),
        "{text}"
    );
    assert!(
        text.contains("## Root cause\n\nLog rotation was off on db-1."),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "- [x] Enable log rotation everywhere (`{item}`, owner bob, due 2026-04-01)"
        )),
        "{text}"
    );

    // The timeline recorded each step once.
    let (_, detail) = api(
        &cloud,
        request(
            "api-get-incident.json",
            &[
                ("klx_EXAMPLE_API_KEY", cloud.api_key.as_str()),
                (SAMPLE_INCIDENT, &id),
            ],
        ),
    )
    .await;
    let mut types: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .filter(|t| t.starts_with("io.klaxon.postmortem."))
        .collect();
    // Entries of one instant (the manual clock stands still) sort by key, not by step.
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "io.klaxon.postmortem.action_item_added",
            "io.klaxon.postmortem.action_item_updated",
            "io.klaxon.postmortem.created",
            "io.klaxon.postmortem.published",
            "io.klaxon.postmortem.status_changed",
        ]
    );
}
