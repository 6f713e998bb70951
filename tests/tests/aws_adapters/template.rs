//! template.yaml against the workspace.

use super::*;

/// template.yaml as JSON. serde-saphyr ignores CloudFormation's short-form tags (`!Ref X`
/// reads as `"X"`, `!GetAtt X.Arn` as `"X.Arn"`, `!If [..]` as its list), which is enough to
/// read the template's structure.
fn template() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> BTreeMap<&'a str, &'a Value> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == json!(kind))
        .map(|(name, resource)| (name.as_str(), resource))
        .collect()
}

/// Each SQS event source mapping as (function logical id, queue logical id, resource).
fn sqs_event_sources(template: &Value) -> Vec<(String, String, &Value)> {
    resources_of_type(template, "AWS::Lambda::EventSourceMapping")
        .into_values()
        .map(|source| {
            let properties = &source["Properties"];
            let function = properties["FunctionName"].as_str().unwrap().to_owned();
            let queue = properties["EventSourceArn"].as_str().unwrap();
            (function, queue.trim_end_matches(".Arn").to_owned(), source)
        })
        .collect()
}

/// The `name` of each `functions/*/Cargo.toml` package.
fn workspace_function_packages() -> BTreeSet<String> {
    let dir = workspace_root().join("functions");
    std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|entry| {
            let manifest = entry.unwrap().path().join("Cargo.toml");
            let text = std::fs::read_to_string(manifest).ok()?;
            let package = text.split("[package]").nth(1)?;
            let line = package
                .lines()
                .find(|line| line.trim_start().starts_with("name"))?;
            Some(line.split('"').nth(1)?.to_owned())
        })
        .collect()
}

/// Each function resource's binary name (from its BuildProperties).
fn template_binaries(template: &Value) -> BTreeMap<String, &Value> {
    resources_of_type(template, "AWS::Serverless::Function")
        .into_values()
        .map(|function| {
            let metadata = &function["Metadata"];
            assert_eq!(metadata["BuildMethod"], json!("rust-cargolambda"));
            let binary = metadata["BuildProperties"]["Binary"].as_str().unwrap();
            (binary.to_owned(), function)
        })
        .collect()
}

#[test]
fn every_template_function_is_a_workspace_binary_and_vice_versa() {
    let template = template();
    let binaries = template_binaries(&template);
    let in_template: BTreeSet<String> = binaries.keys().cloned().collect();
    let packages = workspace_function_packages();
    assert_eq!(in_template, packages);
    let expected: BTreeSet<String> = Function::ALL.iter().map(|f| f.name().to_owned()).collect();
    assert_eq!(in_template, expected);
    assert_eq!(
        resources_of_type(&template, "AWS::Serverless::Function").len(),
        binaries.len(),
        "two functions build the same binary"
    );
    for (binary, function) in &binaries {
        let properties = &function["Properties"];
        assert_eq!(
            properties["CodeUri"],
            json!(format!("functions/{binary}")),
            "{binary}"
        );
        assert_eq!(properties["Handler"], json!("bootstrap"), "{binary}");
    }
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], json!("provided.al2023"));
    assert_eq!(globals["Architectures"], json!(["arm64"]));
}

/// A plausible value for an environment variable, valid for [`CloudSettings`].
fn sample_value(name: &str) -> String {
    match name {
        "ALERTS_QUEUE_URL" => "https://sqs.us-east-1.amazonaws.com/1/k-alerts.fifo".into(),
        name if name.ends_with("_URL") => format!("https://example.com/{name}"),
        name if name.ends_with("_ARN") => format!("arn:aws:service:us-east-1:1:{name}"),
        "SENDER_EMAIL" => "pager@example.com".into(),
        "SELF_HEARTBEAT_METHOD" => "GET".into(),
        other => other.to_lowercase(),
    }
}

#[test]
fn every_function_gets_the_environment_it_requires_and_a_missing_one_is_named() {
    let template = template();
    let binaries = template_binaries(&template);
    let global: Vec<String> = template["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for function in Function::ALL {
        let resource = binaries[function.name()];
        let mut names = global.clone();
        if let Some(own) = resource["Properties"]["Environment"]["Variables"].as_object() {
            names.extend(own.keys().cloned());
        }
        let environment: BTreeMap<String, String> = names
            .iter()
            .map(|name| (name.clone(), sample_value(name)))
            .collect();
        let settings = CloudSettings::from_lookup(|name| environment.get(name).cloned()).unwrap();
        settings
            .check(function)
            .unwrap_or_else(|e| panic!("template.yaml, {}: {e}", function.name()));

        // Taking any one required variable away gives an error naming exactly it.
        for required in function.required_variables() {
            let settings = CloudSettings::from_lookup(|name| {
                (name != required)
                    .then(|| environment.get(name).cloned())
                    .flatten()
            })
            .unwrap();
            let error = settings.check(function).unwrap_err();
            assert_eq!(
                error,
                EnvError::Missing {
                    names: vec![required],
                    function: Some(function.name())
                }
            );
            assert!(error.to_string().contains(required));
        }
    }
}

#[test]
fn queues_have_dead_letter_queues_with_alarms_and_long_enough_visibility_timeouts() {
    let template = template();
    let queues = resources_of_type(&template, "AWS::SQS::Queue");
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    let alarmed: BTreeSet<String> = alarms
        .values()
        .filter(|alarm| {
            alarm["Properties"]["MetricName"] == json!("ApproximateNumberOfMessagesVisible")
        })
        .map(|alarm| {
            let value = alarm["Properties"]["Dimensions"][0]["Value"]
                .as_str()
                .unwrap();
            value.trim_end_matches(".QueueName").to_owned()
        })
        .collect();
    let global_timeout = template["Globals"]["Function"]["Timeout"].as_u64().unwrap();

    let mut dead_letter_queues = BTreeSet::new();
    let mut sources = 0;
    for (name, queue) in &queues {
        let properties = &queue["Properties"];
        assert_eq!(properties["SqsManagedSseEnabled"], json!(true), "{name}");
        let Some(redrive) = properties.get("RedrivePolicy") else {
            continue;
        };
        sources += 1;
        assert_eq!(redrive["maxReceiveCount"], json!(5), "{name}");
        let dlq = redrive["deadLetterTargetArn"]
            .as_str()
            .unwrap()
            .trim_end_matches(".Arn");
        let fifo = properties.get("FifoQueue") == Some(&json!(true));
        let dlq_fifo = queues[dlq]["Properties"].get("FifoQueue") == Some(&json!(true));
        assert_eq!(fifo, dlq_fifo, "{name} and its DLQ {dlq}");
        dead_letter_queues.insert(dlq.to_owned());

        // Every consumer's timeout × 6 fits in the visibility timeout.
        let visibility = properties["VisibilityTimeout"].as_u64().unwrap();
        let functions = resources_of_type(&template, "AWS::Serverless::Function");
        for (function_name, function) in &functions {
            let consumes = sqs_event_sources(&template)
                .iter()
                .any(|(consumer, queue, _)| consumer == function_name && queue == name);
            if consumes {
                let timeout = function["Properties"]["Timeout"]
                    .as_u64()
                    .unwrap_or(global_timeout);
                assert!(
                    visibility >= 6 * timeout,
                    "{name}: {visibility} < 6 × {timeout}"
                );
            }
        }
    }
    assert_eq!(sources, 4, "alerts, incidents, timers, notifications");
    dead_letter_queues.insert("SchedulerDeadLetterQueue".to_owned());
    // The ingest function's on-failure destination for SNS events it could not ingest.
    dead_letter_queues.insert("IngestFailedEventsQueue".to_owned());
    assert_eq!(alarmed, dead_letter_queues);
    let alerts = &queues["AlertsQueue"]["Properties"];
    assert_eq!(alerts["FifoQueue"], json!(true));
    assert_eq!(alerts["ContentBasedDeduplication"], json!(false));
}

#[test]
fn sqs_consumers_report_batch_item_failures_from_the_right_queues() {
    let template = template();
    let binaries = template_binaries(&template);
    let mut consumed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (logical, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        for (_, queue, source) in sqs_event_sources(&template)
            .into_iter()
            .filter(|(consumer, _, _)| consumer == logical)
        {
            assert_eq!(
                source["Properties"]["FunctionResponseTypes"],
                json!(["ReportBatchItemFailures"]),
                "{binary}"
            );
            consumed.entry(binary.to_owned()).or_default().insert(queue);
        }
    }
    // No SAM `SQS` events: they would attach SAM's account-wide SQS policy to the function.
    for function in binaries.values() {
        assert!(
            function["Properties"]["Events"]
                .as_object()
                .into_iter()
                .flatten()
                .all(|(_, event)| event["Type"] != json!("SQS"))
        );
    }
    let expected = BTreeMap::from([
        (
            "grouping".to_owned(),
            BTreeSet::from(["AlertsQueue".to_owned()]),
        ),
        (
            "routing".to_owned(),
            BTreeSet::from(["IncidentsQueue".to_owned(), "TimersQueue".to_owned()]),
        ),
        (
            "notify".to_owned(),
            BTreeSet::from(["NotificationsQueue".to_owned()]),
        ),
    ]);
    assert_eq!(consumed, expected);
}

/// The Lambda half of the consumer table: each [`Consumer`] is the function of its name, fed
/// by exactly the queues the table gives it (local mode runs the same table in its workers).
#[test]
fn the_template_wires_each_consumer_to_the_queues_of_the_consumer_table() {
    use klaxon_app::consumer::Consumer;
    let template = template();
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    for consumer in Consumer::ALL {
        let (logical, _) = functions
            .iter()
            .find(|(_, function)| {
                function["Metadata"]["BuildProperties"]["Binary"] == json!(consumer.name())
            })
            .unwrap_or_else(|| panic!("no function for the {} consumer", consumer.name()));
        let fed_by: BTreeSet<String> = sqs_event_sources(&template)
            .into_iter()
            .filter(|(function, _, _)| function == logical)
            .map(|(_, queue, _)| queue)
            .collect();
        let expected: BTreeSet<String> = consumer
            .queues()
            .iter()
            .map(|queue| {
                let name = queue.as_str();
                format!("{}{}Queue", name[..1].to_uppercase(), &name[1..])
            })
            .collect();
        assert_eq!(fed_by, expected, "{}", consumer.name());
    }
}

#[test]
fn http_routes_are_served_by_the_right_functions() {
    let template = template();
    let binaries = template_binaries(&template);
    let mut routes: BTreeSet<(String, String, String)> = BTreeSet::new();
    for (binary, function) in &binaries {
        for event in function["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, event)| event)
            .filter(|event| event["Type"] == json!("HttpApi"))
        {
            let properties = &event["Properties"];
            assert_eq!(properties["ApiId"], json!("HttpApi"), "{binary}");
            let method = properties["Method"].as_str().unwrap().to_owned();
            let path = properties["Path"].as_str().unwrap().to_owned();
            assert!(
                routes.insert((method.clone(), path.clone(), binary.clone())),
                "{method} {path} twice"
            );
        }
    }
    let expected: BTreeSet<(String, String, String)> = [
        ("POST", "/v1/alerts", "ingest"),
        ("POST", "/v2/enqueue", "ingest"),
        ("POST", "/v2/alerts", "ingest"),
        ("POST", "/v2/alerts/{identifier}/acknowledge", "ingest"),
        ("POST", "/v2/alerts/{identifier}/close", "ingest"),
        ("GET", "/v2/alerts", "ingest"),
        ("GET", "/v2/alerts/requests/{requestId}", "ingest"),
        ("GET", "/v2/alerts/{identifier}", "ingest"),
        ("DELETE", "/v2/alerts/{identifier}", "ingest"),
        ("PUT", "/v2/alerts/{identifier}/message", "ingest"),
        ("PUT", "/v2/alerts/{identifier}/description", "ingest"),
        ("PUT", "/v2/alerts/{identifier}/priority", "ingest"),
        ("POST", "/v2/alerts/{identifier}/notes", "ingest"),
        ("POST", "/v2/alerts/{identifier}/tags", "ingest"),
        ("DELETE", "/v2/alerts/{identifier}/tags", "ingest"),
        ("POST", "/v2/alerts/{identifier}/actions/{action}", "ingest"),
        ("POST", "/generic/2010-04-15/create_event.json", "ingest"),
        ("POST", "/v2/change/enqueue", "ingest"),
        ("POST", "/v1/integrations/alertmanager", "ingest"),
        ("POST", "/v1/integrations/grafana", "ingest"),
        ("POST", "/v1/integrations/sns/{key}", "ingest"),
        ("GET", "/v1/links", "ack"),
        ("POST", "/v1/links", "ack"),
        ("POST", "/v1/incidents/{id}/acknowledge", "ack"),
        ("POST", "/v1/incidents/{id}/resolve", "ack"),
        ("POST", "/v1/incidents/{id}/snooze", "ack"),
        ("POST", "/v1/incidents/{id}/escalate", "ack"),
        ("POST", "/v1/incidents/{id}/reassign", "ack"),
        ("POST", "/v1/incidents/{id}/responders", "ack"),
        ("POST", "/v1/incidents/{id}/notes", "ack"),
        ("POST", "/v1/slack/actions", "ack"),
        ("GET", "/v1/heartbeats/{name}/ping", "ack"),
        ("POST", "/v1/heartbeats/{name}/ping", "ack"),
        ("GET", "/v2/heartbeats/{name}/ping", "ack"),
        ("POST", "/v2/heartbeats/{name}/ping", "ack"),
        ("PUT", "/v2/heartbeats/{name}/ping", "ack"),
        ("PATCH", "/v2/heartbeats/{name}/ping", "ack"),
        ("GET", "/v1/heartbeats", "ack"),
        ("POST", "/v1/incidents", "ack"),
        ("GET", "/v1/incidents", "api"),
        ("GET", "/v1/incidents/{id}", "api"),
        ("GET", "/v1/oncall", "api"),
        ("GET", "/v1/schedules/{id}/ics", "api"),
        ("GET", "/v1/schedules/{id}/overrides", "api"),
        ("POST", "/v1/schedules/{id}/overrides", "api"),
        (
            "DELETE",
            "/v1/schedules/{id}/overrides/{override_id}",
            "api",
        ),
        ("GET", "/v1/analytics", "api"),
        ("GET", "/v1/config", "api"),
        ("PUT", "/v1/config", "api"),
        ("POST", "/v1/incidents/{id}/postmortem", "api"),
        ("GET", "/v1/incidents/{id}/postmortem", "api"),
        ("PATCH", "/v1/incidents/{id}/postmortem", "api"),
        ("POST", "/v1/incidents/{id}/postmortem/action-items", "api"),
        (
            "PATCH",
            "/v1/incidents/{id}/postmortem/action-items/{item}",
            "api",
        ),
        ("GET", "/v1/action-items", "api"),
        ("GET", "/v1/dead-letters", "api"),
        ("POST", "/v1/dead-letters/{queue}/{id}/redrive", "api"),
        ("POST", "/v1/dead-letters/{queue}/redrive-all", "api"),
        ("GET", "/", "api"),
        ("GET", "/console", "api"),
        ("ANY", "/console/{proxy+}", "api"),
    ]
    .into_iter()
    .map(|(m, p, f)| (m.to_owned(), p.to_owned(), f.to_owned()))
    .collect();
    assert_eq!(routes, expected);
}

#[test]
fn the_recovery_sweep_schedule_sends_a_sweep_message_to_the_timers_queue() {
    let template = template();
    let schedules = resources_of_type(&template, "AWS::Scheduler::Schedule");
    let sweep = &schedules["RecoverySweepSchedule"]["Properties"];
    assert_eq!(sweep["ScheduleExpression"], json!("rate(5 minutes)"));
    assert_eq!(sweep["FlexibleTimeWindow"]["Mode"], json!("OFF"));
    assert_eq!(sweep["Target"]["Arn"], json!("TimersQueue.Arn"));
    assert_eq!(sweep["Target"]["RoleArn"], json!("SchedulerRole.Arn"));
    let input = sweep["Target"]["Input"].as_str().unwrap();
    assert_eq!(
        QueueMessage::from_json(input).unwrap(),
        QueueMessage::Sweep { at: None }
    );
    // The schedules' role may only deliver to the timers queue (and the scheduler DLQ).
    let role = &template["Resources"]["SchedulerRole"]["Properties"];
    let statement = &role["Policies"][0]["PolicyDocument"]["Statement"];
    assert_eq!(statement.as_array().unwrap().len(), 1);
    assert_eq!(statement[0]["Action"], json!("sqs:SendMessage"));
    assert_eq!(
        statement[0]["Resource"],
        json!(["TimersQueue.Arn", "SchedulerDeadLetterQueue.Arn"])
    );
}

/// A failed record's next delivery is deferred (its visibility timeout set by the backoff), so
/// a provider outage is not retried at the queue's fixed pace.
#[tokio::test]
async fn failed_records_are_deferred_by_the_retry_backoff() {
    use klaxon_aws::lambda::{RetryBackoff, process_sqs_batch_with_backoff};
    let client = sqs_client().await;
    for deferred in [false, true] {
        let (url, arn) = create_queue(&client, &queue_name("backoff")).await;
        client
            .send_message()
            .queue_url(&url)
            .message_body(r#"{"kind":"sweep"}"#)
            .send()
            .await
            .unwrap();
        // Received with no visibility timeout: visible again at once unless deferred.
        let received = client
            .receive_message()
            .queue_url(&url)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap();
        let message = &received[0];
        let event: SqsEvent = serde_json::from_value(json!({"Records": [{
            "messageId": message.message_id.clone().unwrap(),
            "receiptHandle": message.receipt_handle.clone().unwrap(),
            "body": message.body.clone().unwrap(),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": "us-east-1"
        }]}))
        .unwrap();
        let backoff = RetryBackoff::new(client.clone());
        let failing = |_: QueueMessage, _: MessageMeta| async { Err::<(), _>("provider down") };
        let response =
            process_sqs_batch_with_backoff(event, &failing, deferred.then_some(&backoff)).await;
        assert_eq!(response.batch_item_failures.len(), 1);
        let visible = client
            .receive_message()
            .queue_url(&url)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        assert_eq!(visible.is_empty(), deferred, "deferred: {deferred}");
    }
}
