//! template.yaml's operational guarantees, read from the template itself: every alarm exists
//! and notifies the alarm topic, every function logs to a group with bounded retention, no
//! function's IAM statements reach a queue, table or secret it does not use, no secret is a
//! plain environment variable, and `sam deploy --guided` can take every default.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use klaxon_tests::workspace_root;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// template.yaml as JSON. serde-saphyr ignores CloudFormation's short-form tags (`!Ref X`
/// reads as `"X"`, `!GetAtt X.Arn` as `"X.Arn"`, `!Sub "..."` as its text, `!If [..]` as its
/// list), which is enough to read the template's structure.
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

/// The type of resource `id`, if it is one.
fn resource_type<'a>(template: &'a Value, id: &str) -> Option<&'a str> {
    template["Resources"].get(id)?["Type"].as_str()
}

/// The logical ids a (tag-stripped) value refers to: `X` of `X`, `X.Arn`, and every `${X}` /
/// `${X.Arn}` of a `!Sub` text; strings inside lists and objects too. Only resource ids are
/// kept (parameters and pseudo parameters are not resources).
fn referenced_resources(template: &Value, value: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut candidates = Vec::new();
    match value {
        Value::String(text) if text.contains("${") => {
            for part in text.split("${").skip(1) {
                if let Some(end) = part.find('}') {
                    candidates.push(part[..end].to_owned());
                }
            }
        }
        Value::String(text) => candidates.push(text.clone()),
        Value::Array(items) => {
            for item in items {
                found.extend(referenced_resources(template, item));
            }
        }
        Value::Object(map) => {
            for item in map.values() {
                found.extend(referenced_resources(template, item));
            }
        }
        _ => {}
    }
    for candidate in candidates {
        let id = candidate.split('.').next().unwrap_or_default();
        if resource_type(template, id).is_some() {
            found.insert(id.to_owned());
        }
    }
    found
}

/// A function's environment: the global variables, then its own.
fn environment(template: &Value, function: &Value) -> BTreeMap<String, Value> {
    let mut variables = BTreeMap::new();
    for source in [
        &template["Globals"]["Function"]["Environment"]["Variables"],
        &function["Properties"]["Environment"]["Variables"],
    ] {
        if let Some(map) = source.as_object() {
            variables.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    variables
}

/// The queues function `id` consumes (its event source mappings).
fn consumed_queues(template: &Value, id: &str) -> BTreeSet<String> {
    resources_of_type(template, "AWS::Lambda::EventSourceMapping")
        .into_values()
        .filter(|source| source["Properties"]["FunctionName"] == json!(id))
        .flat_map(|source| referenced_resources(template, &source["Properties"]["EventSourceArn"]))
        .collect()
}

/// The dead-letter queues a function manages (lists and redrives): those its environment
/// names in a `*_DEAD_LETTER_QUEUE_URL` variable (the api function, for the console's admin
/// page). It may receive from them as from its event sources.
fn managed_dead_letter_queues(template: &Value, function: &Value) -> BTreeSet<String> {
    environment(template, function)
        .iter()
        .filter(|(name, _)| name.ends_with("_DEAD_LETTER_QUEUE_URL"))
        .flat_map(|(_, value)| referenced_resources(template, value))
        .collect()
}

/// Everything a function uses: what its environment names, what it consumes, and its
/// asynchronous invocations' destinations (which Lambda sends with the function's role).
fn used_resources(template: &Value, id: &str, function: &Value) -> BTreeSet<String> {
    let mut used: BTreeSet<String> = environment(template, function)
        .values()
        .flat_map(|value| referenced_resources(template, value))
        .collect();
    used.extend(consumed_queues(template, id));
    used.extend(referenced_resources(
        template,
        &function["Properties"]["EventInvokeConfig"]["DestinationConfig"],
    ));
    used
}

/// A statement's actions (a single action or a list).
fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(action) => vec![action.clone()],
        Value::Array(list) => list
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect(),
        other => panic!("unexpected Action {other}"),
    }
}

/// A function's policy statements.
fn statements(function: &Value) -> Vec<&Value> {
    function["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["Statement"].as_array().unwrap().iter())
        .collect()
}

const CONSUME_ACTIONS: [&str; 4] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
];

/// Every way a function's statements exceed (or miss) what it uses, one line each.
fn iam_problems(template: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for (id, function) in resources_of_type(template, "AWS::Serverless::Function") {
        let used = used_resources(template, id, function);
        let mut consumed = consumed_queues(template, id);
        consumed.extend(managed_dead_letter_queues(template, function));
        let mut granted_consume = BTreeSet::new();
        let mut granted_secrets = BTreeSet::new();
        for statement in statements(function) {
            if statement["Effect"] == json!("Deny") {
                continue; // narrows, never widens
            }
            let actions = actions(statement);
            let sid = statement["Sid"].as_str().unwrap_or("?");
            if statement["Resource"] == json!("*") {
                // SMS to phone numbers has no resource ARN (see SendSms in the template).
                if actions != ["sns:Publish"] {
                    problems.push(format!("{id}: {sid} allows {actions:?} on every resource"));
                }
                continue;
            }
            for resource in referenced_resources(template, &statement["Resource"]) {
                let kind = resource_type(template, &resource).unwrap_or_default();
                let data = matches!(
                    kind,
                    "AWS::SQS::Queue" | "AWS::DynamoDB::Table" | "AWS::SecretsManager::Secret"
                );
                if data && !used.contains(&resource) {
                    problems.push(format!(
                        "{id}: {sid} allows {resource}, which the function does not use"
                    ));
                }
                if kind == "AWS::SQS::Queue"
                    && actions
                        .iter()
                        .any(|a| CONSUME_ACTIONS.contains(&a.as_str()))
                {
                    if !consumed.contains(&resource) {
                        problems.push(format!(
                            "{id}: {sid} lets it receive from {resource}, not its event source"
                        ));
                    }
                    granted_consume.insert(resource.clone());
                }
                if kind == "AWS::SecretsManager::Secret" {
                    if actions != ["secretsmanager:GetSecretValue"] {
                        problems.push(format!("{id}: {sid} allows {actions:?} on {resource}"));
                    }
                    granted_secrets.insert(resource.clone());
                }
            }
        }
        // And what it does use is granted: its event sources and its secrets.
        if granted_consume != consumed {
            problems.push(format!(
                "{id}: consumes {consumed:?} but may receive from {granted_consume:?}"
            ));
        }
        let secrets: BTreeSet<String> = used
            .iter()
            .filter(|r| resource_type(template, r) == Some("AWS::SecretsManager::Secret"))
            .cloned()
            .collect();
        if granted_secrets != secrets {
            problems.push(format!(
                "{id}: uses secrets {secrets:?} but may read {granted_secrets:?}"
            ));
        }
    }
    problems
}

#[test]
fn no_function_statement_allows_a_queue_table_or_secret_the_function_does_not_use() {
    let template = template();
    assert_eq!(
        resources_of_type(&template, "AWS::Serverless::Function").len(),
        6
    );
    let problems = iam_problems(&template);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_iam_check_finds_grants_beyond_what_a_function_uses() {
    let mut template = template();
    // The api function (it sends notices and redriven dead letters and reads the link keys
    // for the console's sign-in links) allowed to send to the failed-events queue and to read the Slack secret; notify allowed
    // to receive from the alerts queue.
    let api = &mut template["Resources"]["ApiFunction"]["Properties"]["Policies"][0]["Statement"];
    let api = api.as_array_mut().unwrap();
    api.push(json!({"Sid": "Extra", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "IngestFailedEventsQueue.Arn"}));
    api.push(json!({"Sid": "Keys", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": ["SlackSigningSecret"]}));
    let notify = template["Resources"]["NotifyFunction"]["Properties"]["Policies"][0]["Statement"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["Sid"] == "ConsumeNotifications")
        .unwrap();
    notify["Resource"]
        .as_array_mut()
        .unwrap()
        .push(json!("AlertsQueue.Arn"));
    let problems = iam_problems(&template);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("ApiFunction: Extra allows IngestFailedEventsQueue")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("ApiFunction: Keys allows SlackSigningSecret")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p
            .starts_with("NotifyFunction: ConsumeNotifications lets it receive from AlertsQueue")),
        "{problems:?}"
    );
}

#[test]
fn no_secret_is_a_plain_environment_variable_or_parameter() {
    let template = template();
    // No parameter carries a secret: NoEcho parameters end up in the stack and in guided
    // prompts; secrets live in Secrets Manager.
    for (name, parameter) in template["Parameters"].as_object().unwrap() {
        assert_ne!(parameter["NoEcho"], json!(true), "parameter {name}");
    }
    let secretish = [
        "SECRET",
        "PASSWORD",
        "TOKEN",
        "PRIVATE",
        "KEY",
        "CREDENTIAL",
    ];
    let mut secret_variables = 0;
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        for (name, value) in environment(&template, function) {
            if !secretish.iter().any(|word| name.contains(word)) {
                continue;
            }
            // Only a secret's ARN, pointing at a Secrets Manager secret of the stack.
            assert!(
                name.ends_with("_ARN"),
                "{id}: {name} looks like a plain secret"
            );
            let targets = referenced_resources(&template, &value);
            assert_eq!(targets.len(), 1, "{id}: {name} = {value}");
            let target = targets.iter().next().unwrap();
            assert_eq!(
                resource_type(&template, target),
                Some("AWS::SecretsManager::Secret"),
                "{id}: {name}"
            );
            secret_variables += 1;
        }
    }
    // ack: link keys, Slack; notify: link keys, webhook secrets; api: link keys (the console's
    // sign-in links).
    assert_eq!(secret_variables, 5);
    // The link keys are generated by the stack, never given (so never replaced by a deploy).
    let keys = &template["Resources"]["LinkSigningKeys"]["Properties"];
    assert_eq!(keys["GenerateSecretString"]["GenerateStringKey"], "current");
    assert!(keys.get("SecretString").is_none());
}

#[test]
fn every_function_logs_to_its_own_group_with_bounded_retention() {
    let template = template();
    let retention = &template["Parameters"]["LogRetentionDays"];
    assert_eq!(retention["Default"], json!(30));
    let allowed = retention["AllowedValues"].as_array().unwrap();
    assert!(!allowed.is_empty());
    assert!(
        allowed
            .iter()
            .all(|days| days.as_u64().is_some_and(|d| d <= 3653)),
        "every choice expires: {allowed:?}"
    );
    let groups = resources_of_type(&template, "AWS::Logs::LogGroup");
    for (id, group) in &groups {
        let days = &group["Properties"]["RetentionInDays"];
        assert!(
            *days == json!("LogRetentionDays") || days.as_u64().is_some(),
            "{id} keeps logs forever"
        );
    }
    let mut used = BTreeSet::new();
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let group = function["Properties"]["LoggingConfig"]["LogGroup"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has no LoggingConfig.LogGroup"));
        assert!(
            groups.contains_key(group),
            "{id}: {group} is not a log group"
        );
        assert!(used.insert(group), "{id} shares {group}");
    }
    let access =
        template["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]["DestinationArn"]
            .as_str()
            .unwrap();
    assert!(groups.contains_key(access.trim_end_matches(".Arn")));
}

/// The (namespace, metric, dimension value) an alarm watches.
fn watched(alarm: &Value) -> (String, String, String) {
    let properties = &alarm["Properties"];
    let dimension = properties["Dimensions"][0]["Value"]
        .as_str()
        .unwrap_or_default()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    (
        properties["Namespace"].as_str().unwrap().to_owned(),
        properties["MetricName"].as_str().unwrap().to_owned(),
        dimension,
    )
}

#[test]
fn every_alarm_exists_and_notifies_the_alarm_topic() {
    let template = template();
    let topic = json!([["CreateAlarmTopic", "AlarmTopic", "AlarmTopicArn"]]);
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    for (id, alarm) in &alarms {
        assert_eq!(alarm["Properties"]["AlarmActions"], topic, "{id}");
        assert_eq!(alarm["Properties"]["OKActions"], topic, "{id}");
    }
    let topic_resource = &template["Resources"]["AlarmTopic"];
    assert_eq!(topic_resource["Type"], "AWS::SNS::Topic");
    assert_eq!(topic_resource["Condition"], "CreateAlarmTopic");
    let subscription = &template["Resources"]["AlarmEmailSubscription"]["Properties"];
    assert_eq!(subscription["Protocol"], "email");
    assert_eq!(subscription["TopicArn"], topic[0]);

    let have: BTreeSet<(String, String, String)> = alarms.values().map(|a| watched(a)).collect();
    let mut want = BTreeSet::new();
    let w = |ns: &str, metric: &str, dim: &str| (ns.to_owned(), metric.to_owned(), dim.to_owned());
    for function in resources_of_type(&template, "AWS::Serverless::Function").into_keys() {
        want.insert(w("AWS/Lambda", "Errors", function));
        want.insert(w("AWS/Lambda", "Throttles", function));
    }
    let queues = resources_of_type(&template, "AWS::SQS::Queue");
    for (id, queue) in &queues {
        if let Some(redrive) = queue["Properties"].get("RedrivePolicy") {
            want.insert(w("AWS/SQS", "ApproximateAgeOfOldestMessage", id));
            let dlq = redrive["deadLetterTargetArn"].as_str().unwrap();
            want.insert(w(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                dlq.trim_end_matches(".Arn"),
            ));
        }
    }
    for dlq in ["IngestFailedEventsQueue", "SchedulerDeadLetterQueue"] {
        want.insert(w("AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq));
    }
    want.insert(w("AWS/ApiGateway", "5xx", "HttpApi"));
    for metric in [
        "TargetErrorCount",
        "InvocationDroppedCount",
        "InvocationsFailedToBeSentToDeadLetterCount",
    ] {
        want.insert(w("AWS/Scheduler", metric, "EscalationScheduleGroup"));
    }
    want.insert(w("AWS/SNS", "SMSMonthToDateSpentUSD", ""));
    want.insert(w("AWS/SES", "Reputation.BounceRate", ""));
    want.insert(w("AWS/SES", "Reputation.ComplaintRate", ""));
    // Klaxon watching itself: the 5-minute sweep stopped invoking routing, and the
    // self-heartbeat's pings fail (the metric routing writes, klaxon_aws::metrics).
    want.insert(w("AWS/Lambda", "Invocations", "RoutingFunction"));
    want.insert(w(
        klaxon_aws::metrics::NAMESPACE,
        klaxon_aws::metrics::SELF_HEARTBEAT_FAILURES,
        "RoutingFunction",
    ));
    let missing: Vec<_> = want.difference(&have).collect();
    assert!(missing.is_empty(), "no alarm on {missing:?}");
    assert_eq!(alarms.len(), want.len(), "one alarm each: {have:?}");
    let stopped = alarms
        .values()
        .find(|a| watched(a).1 == "Invocations")
        .unwrap();
    assert_eq!(stopped["Properties"]["TreatMissingData"], "breaching");
    let heartbeat = alarms
        .values()
        .find(|a| watched(a).1 == klaxon_aws::metrics::SELF_HEARTBEAT_FAILURES)
        .unwrap();
    let properties = &heartbeat["Properties"];
    assert_eq!(
        properties["Dimensions"][0]["Name"],
        klaxon_aws::metrics::FUNCTION_DIMENSION
    );
    // No SelfHeartbeatUrl, no data: not an alarm.
    assert_eq!(properties["TreatMissingData"], "notBreaching");
}

/// `sam build` hashes and copies nothing but each function's own workspace member: every
/// `CodeUri` is `functions/<binary>`, a package whose name is the binary (so cargo-lambda,
/// run there, builds exactly that package with the same dependency features as a by-hand
/// build of all six), and SAM's own cache, which would judge a build fresh by that directory
/// alone, is off in infra/samconfig.toml: cargo decides what to rebuild.
#[test]
fn each_function_builds_from_its_own_member_directory_and_sams_cache_is_off() {
    let template = template();
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let binary = function["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: no Binary"));
        assert_eq!(
            function["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id}"
        );
        let code_uri = function["Properties"]["CodeUri"].as_str().unwrap();
        assert_eq!(code_uri, format!("functions/{binary}"), "{id}");
        let manifest =
            std::fs::read_to_string(workspace_root().join(code_uri).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{id}: {code_uri}/Cargo.toml is not package {binary}"
        );
    }
    let samconfig = std::fs::read_to_string(workspace_root().join("infra/samconfig.toml")).unwrap();
    let mut section = "";
    let mut cached = None;
    for line in samconfig.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[default.build.parameters]" && line.starts_with("cached") {
            cached = line.split('=').nth(1).map(str::trim);
        }
    }
    assert_eq!(cached, Some("false"), "SAM's build cache must stay off");
}

#[test]
fn guided_deploys_can_take_every_default_and_the_sweep_gets_the_heartbeat() {
    let template = template();
    // `sam deploy --guided` re-prompts on an empty answer only where there is no default.
    let without_default: Vec<&String> = template["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, p)| p.get("Default").is_none())
        .map(|(name, _)| name)
        .collect();
    assert_eq!(without_default, ["SenderEmail"]);
    let heartbeat = &template["Parameters"]["SelfHeartbeatUrl"];
    assert_eq!(heartbeat["Default"], "");
    let routing = environment(&template, &template["Resources"]["RoutingFunction"]);
    assert_eq!(routing["SELF_HEARTBEAT_URL"], "SelfHeartbeatUrl");
    assert_eq!(routing["SELF_HEARTBEAT_METHOD"], "SelfHeartbeatMethod");
    for output in [
        "LinkSigningKeysSecretArn",
        "SlackSigningSecretArn",
        "WebhookSecretsArn",
    ] {
        assert!(template["Outputs"].get(output).is_some(), "{output}");
    }
}

/// A function behind the HTTP API cannot name the API in its environment: the API's routes
/// reference the function, so CloudFormation would refuse the stack as a circular dependency
/// (neither cfn-lint nor the SAM translator reports it).
#[test]
fn no_function_behind_the_api_references_the_api() {
    let template = template();
    let mut behind_the_api = 0;
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let serves_routes = function["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flatten()
            .any(|(_, event)| event["Type"] == json!("HttpApi"));
        if !serves_routes {
            continue;
        }
        behind_the_api += 1;
        let environment = function["Properties"]["Environment"].to_string();
        assert!(
            !environment.contains("HttpApi"),
            "{id} serves API routes and references the API in its environment: {environment}"
        );
    }
    // ingest, ack and api.
    assert_eq!(behind_the_api, 3);
}
