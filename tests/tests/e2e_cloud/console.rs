//! The web console through the api Lambda handler against moto, as API Gateway delivers it:
//! built from exactly the environment template.yaml gives the api function, the sign-in link
//! sent through moto's SES, the session and sign-in items on DynamoDB, the session cookie
//! carried in the event's `cookies`, and acknowledging an incident the pipeline paged
//! (the pending escalation schedule is deleted, the people paged are told).

use super::cloud::{Cloud, PUBLIC_BASE_URL};
use super::events::{request, response, with_key};
use base64::Engine;
use klaxon_app::dead_letters::DeadLetterQueue;
use klaxon_app::messages::{IncidentEvent, IncidentMessage, QueueMessage, QueueName};
use klaxon_domain::ids::IncidentId;
use klaxon_domain::incident::IncidentStatus;
use klaxon_tests::console::form_value;
use serde_json::{Value, json};

/// An API Gateway HTTP API event for the console: `target` is a path with an optional query,
/// `cookie` the session cookie (API Gateway passes cookies apart from the headers), `form` a
/// form body (base64, as API Gateway delivers form posts).
fn console_event(method: &str, target: &str, cookie: Option<&str>, form: Option<&str>) -> Value {
    let mut event = request("ack-link-post.json", &[]);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    event["routeKey"] = json!("ANY /console/{proxy+}");
    event["requestContext"]["routeKey"] = json!("ANY /console/{proxy+}");
    event["rawPath"] = json!(path);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["rawQueryString"] = json!(query);
    let parameters: serde_json::Map<String, Value> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    event["queryStringParameters"] = Value::Object(parameters);
    if let Some(cookie) = cookie {
        event["cookies"] = json!([cookie]);
    }
    let headers = event["headers"].as_object_mut().unwrap();
    headers.remove("content-length");
    match form {
        Some(body) => {
            event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
            event["isBase64Encoded"] = json!(true);
        }
        None => {
            headers.remove("content-type");
            event.as_object_mut().unwrap().remove("body");
            event["isBase64Encoded"] = json!(false);
        }
    }
    event
}

/// The api handler's answer: status, headers, cookies and body as text.
struct Answer {
    status: u16,
    headers: Value,
    cookies: Vec<String>,
    body: String,
}

async fn console(cloud: &Cloud, event: Value) -> Answer {
    let raw = serde_json::to_value(cloud.api.handle(event).await.unwrap()).unwrap();
    let (status, body) = response(&raw);
    Answer {
        status,
        headers: raw["headers"].clone(),
        cookies: raw["cookies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect(),
        body: body.as_str().map(str::to_owned).unwrap_or(body.to_string()),
    }
}

/// The sign-in link in an email body (text or HTML with `&amp;`).
fn signin_link(body: &str) -> String {
    let start = format!("{PUBLIC_BASE_URL}/console/signin/link?");
    let at = body
        .find(&start)
        .unwrap_or_else(|| panic!("no link: {body}"));
    let rest = &body[at..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
        .unwrap_or(rest.len());
    rest[..end].replace("&amp;", "&")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_by_ses_and_acknowledges_through_the_api_function() {
    let cloud = Cloud::new().await;
    let am = cloud.key("am").to_owned();
    let (status, body) = response(
        &serde_json::to_value(
            cloud
                .ingest
                .handle(with_key("ingest-alertmanager.json", &am))
                .await
                .unwrap(),
        )
        .unwrap(),
    );
    assert_eq!(status, 202, "{body}");
    cloud.pump().await;
    let incident = cloud.only_incident().await;
    let id = incident.incident.id().to_string();
    assert_eq!(cloud.schedule_names().await.len(), 1, "tier 0 is pending");

    pages_and_assets_answer(&cloud).await;
    let (cookie, emails_before_ack) = sign_in_through_ses(&cloud).await;

    let page = format!("/console/incidents/{id}");
    let html = console(&cloud, console_event("GET", &page, Some(&cookie), None)).await;
    assert_eq!(html.status, 200, "{}", html.body);
    assert!(html.body.contains("id=\"acknowledge\""), "{}", html.body);
    let csrf = form_value(&html.body, "csrf").unwrap();
    let wrong = console(
        &cloud,
        console_event(
            "POST",
            &format!("{page}/acknowledge"),
            Some(&cookie),
            Some("csrf=nope"),
        ),
    )
    .await;
    assert_eq!(wrong.status, 403);
    assert_eq!(
        cloud.only_incident().await.incident.status(),
        IncidentStatus::Triggered
    );

    let done = console(
        &cloud,
        console_event(
            "POST",
            &format!("{page}/acknowledge"),
            Some(&cookie),
            Some(&format!("csrf={csrf}")),
        ),
    )
    .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(
        cloud.only_incident().await.incident.status(),
        IncidentStatus::Acknowledged
    );
    assert!(
        cloud.schedule_names().await.is_empty(),
        "acknowledging in the console deletes the pending escalation schedule"
    );
    let timeline = console(
        &cloud,
        console_event("GET", &format!("{page}?fragment=1"), Some(&cookie), None),
    )
    .await;
    assert!(
        timeline
            .body
            .contains("incident.acknowledged</strong> by user:alice"),
        "{}",
        timeline.body
    );
    assert!(
        timeline.body.contains("via /klaxon/console"),
        "{}",
        timeline.body
    );
    // Alice, who was paged, is told by email that it is acknowledged.
    cloud.pump().await;
    let told = cloud.sent().await;
    assert!(
        told.emails.len() > emails_before_ack,
        "a notice after the acknowledgement: {told:?}"
    );
}

/// The root redirect, the sign-in redirect, the sign-in form's CSP and an embedded asset.
async fn pages_and_assets_answer(cloud: &Cloud) {
    let root = console(cloud, console_event("GET", "/", None, None)).await;
    assert_eq!(root.status, 303);
    assert_eq!(root.headers["location"], "/console/incidents");
    let anonymous = console(
        cloud,
        console_event("GET", "/console/incidents", None, None),
    )
    .await;
    assert_eq!(anonymous.status, 303, "not signed in: to the sign-in page");
    let form = console(cloud, console_event("GET", "/console/signin", None, None)).await;
    assert_eq!(form.status, 200);
    assert!(
        form.headers["content-security-policy"]
            .as_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let css = form
        .body
        .split('"')
        .find(|part| part.starts_with("/console/assets/") && part.ends_with(".css"))
        .unwrap()
        .to_owned();
    let asset = console(cloud, console_event("GET", &css, None, None)).await;
    assert_eq!(asset.status, 200, "{css}");
    assert!(
        asset.headers["content-type"]
            .as_str()
            .unwrap()
            .starts_with("text/css")
    );
}

/// Signs alice in through SES and the link's two requests; returns the session cookie and
/// how many emails the deployment had sent then. A second use of the link fails.
async fn sign_in_through_ses(cloud: &Cloud) -> (String, usize) {
    // The sign-in link goes out through SES, from the deployment's sender.
    let emails_before = cloud.sent().await.emails.len();
    let requested = console(
        cloud,
        console_event(
            "POST",
            "/console/signin",
            None,
            Some("email=alice%40example.com"),
        ),
    )
    .await;
    assert_eq!(requested.status, 200, "{}", requested.body);
    let sent = cloud.sent().await;
    assert_eq!(sent.emails.len(), emails_before + 1, "{sent:?}");
    let (to, subject, body) = sent.emails.last().unwrap().clone();
    assert_eq!(
        (to.as_str(), subject.as_str()),
        ("alice@example.com", "Sign in to Klaxon")
    );
    let link = signin_link(&body);
    let query = link.split_once('?').unwrap().1.to_owned();

    let confirm = console(
        cloud,
        console_event("GET", &format!("/console/signin/link?{query}"), None, None),
    )
    .await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let signed_in = console(
        cloud,
        console_event("POST", "/console/signin/link", None, Some(&query)),
    )
    .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let set_cookie = signed_in.cookies.first().expect("a session cookie").clone();
    assert!(
        set_cookie.contains("Secure"),
        "HTTPS deployment: {set_cookie}"
    );
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let replay = console(
        cloud,
        console_event("POST", "/console/signin/link", None, Some(&query)),
    )
    .await;
    assert_eq!(replay.status, 403, "a used link fails on DynamoDB too");
    (cookie, sent.emails.len())
}

/// Makes alice an admin: a new configuration version, as `klaxon config apply` stores it.
async fn make_alice_admin(cloud: &Cloud) {
    let text = klaxon_tests::pipeline::pipeline_config_text()
        .replace("+15555550100", &cloud.phone)
        .replace(
            "    email: alice@example.com\n",
            "    email: alice@example.com\n    role: admin\n",
        );
    let config = klaxon_domain::config::Config::from_yaml(&text).unwrap();
    cloud
        .repo
        .save_config(
            &config.to_canonical_json().unwrap(),
            &config.fingerprint().unwrap(),
            &klaxon_domain::timeline::Actor::system("e2e"),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_redrives_a_dead_letter_from_the_admin_page_of_the_api_function() {
    let cloud = Cloud::new().await;
    make_alice_admin(&cloud).await;
    let (dlq, _) = &cloud.dead_letter_queues[&DeadLetterQueue::Incidents];
    let message = QueueMessage::Incident(IncidentMessage {
        incident: IncidentId::new("0192dead0001").unwrap(),
        event: IncidentEvent::Triggered,
    });
    let sent = cloud
        .sqs
        .send_message()
        .queue_url(dlq)
        .message_body(message.to_json())
        .send()
        .await
        .unwrap();
    let id = sent.message_id.unwrap();
    let (cookie, _) = sign_in_through_ses(&cloud).await;

    let page = console(
        &cloud,
        console_event("GET", "/console/admin", Some(&cookie), None),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("id=\"dead-letters-scheduler\""),
        "{}",
        page.body
    );
    let incidents = page.body.find("id=\"dead-letters-incidents\"").unwrap();
    let card = &page.body[incidents..];
    assert!(card.contains(&id), "{card}");
    assert!(card.contains("/console/incidents/0192dead0001"), "{card}");
    let csrf = form_value(&page.body, "csrf").unwrap();
    let redrive = format!("/console/admin/dead-letters/incidents/{id}/redrive");

    let forged = console(
        &cloud,
        console_event("POST", &redrive, Some(&cookie), Some("csrf=nope")),
    )
    .await;
    assert_eq!(forged.status, 403);
    let incidents_queue = cloud.queue(QueueName::Incidents).clone();
    assert!(
        cloud.receive(&incidents_queue).await.is_empty(),
        "nothing redriven"
    );

    let form = format!("csrf={csrf}");
    let done = console(
        &cloud,
        console_event("POST", &redrive, Some(&cookie), Some(&form)),
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(
        done.body.contains("is back on the incidents queue"),
        "{}",
        done.body
    );
    let again = console(
        &cloud,
        console_event("POST", &redrive, Some(&cookie), Some(&form)),
    )
    .await;
    assert_eq!(again.status, 404, "already redriven: {}", again.body);
    let back = cloud.receive(&incidents_queue).await;
    assert_eq!(back.len(), 1, "redriven once");
    assert_eq!(
        QueueMessage::from_json(back[0].body.as_deref().unwrap()).unwrap(),
        message
    );
}
