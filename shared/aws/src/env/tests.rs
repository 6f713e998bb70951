use super::*;
use std::collections::HashMap;

fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn missing_variables_are_named_with_the_function() {
    let settings = CloudSettings::from_lookup(lookup(&[("TABLE_NAME", "t")])).unwrap();
    let error = settings.check(Function::Routing).unwrap_err();
    assert_eq!(
        error,
        EnvError::Missing {
            names: vec![
                "ALERTS_QUEUE_URL",
                "INCIDENTS_QUEUE_URL",
                "NOTIFICATIONS_QUEUE_URL",
                "TIMERS_QUEUE_URL",
                "TIMERS_QUEUE_ARN",
                "SCHEDULER_ROLE_ARN",
                "SCHEDULE_GROUP_NAME"
            ],
            function: Some("routing"),
        }
    );
    assert_eq!(
        error.to_string(),
        "missing environment variables ALERTS_QUEUE_URL, INCIDENTS_QUEUE_URL, \
         NOTIFICATIONS_QUEUE_URL, TIMERS_QUEUE_URL, TIMERS_QUEUE_ARN, SCHEDULER_ROLE_ARN, \
         SCHEDULE_GROUP_NAME (required by the routing function)"
    );
}

#[test]
fn empty_values_count_as_unset() {
    let settings = CloudSettings::from_lookup(lookup(&[
        ("TABLE_NAME", "  "),
        ("SLACK_SIGNING_SECRET", ""),
    ]))
    .unwrap();
    assert_eq!(
        settings.require_table_name().unwrap_err().to_string(),
        "missing environment variable TABLE_NAME"
    );
    assert!(settings.require_slack_signing_secret().is_err());
}

#[test]
fn malformed_values_name_the_variable() {
    let cases = [
        (
            "ALERTS_QUEUE_URL",
            "https://sqs.example/1/alerts",
            "ALERTS_QUEUE_URL",
        ),
        ("TIMERS_QUEUE_ARN", "timers", "TIMERS_QUEUE_ARN"),
        ("LINK_SIGNING_SECRET", "short", "LINK_SIGNING_SECRET"),
        ("PUBLIC_BASE_URL", "klaxon.example.com", "PUBLIC_BASE_URL"),
        ("SENDER_EMAIL", "klaxon", "SENDER_EMAIL"),
    ];
    for (name, value, expected) in cases {
        let error = CloudSettings::from_lookup(lookup(&[(name, value)])).unwrap_err();
        match error {
            EnvError::Invalid { name, .. } => assert_eq!(name, expected),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn public_base_url_loses_its_trailing_slash_and_secrets_are_not_printed() {
    let secret = "s".repeat(40);
    let settings = CloudSettings::from_lookup(lookup(&[
        ("PUBLIC_BASE_URL", "https://klaxon.example.com/"),
        ("LINK_SIGNING_SECRET", &secret),
    ]))
    .unwrap();
    assert_eq!(
        settings.require_public_base_url().unwrap(),
        "https://klaxon.example.com"
    );
    assert!(!format!("{settings:?}").contains(&secret));
}

#[test]
fn scheduler_settings_need_all_four_variables() {
    let settings = CloudSettings::from_lookup(lookup(&[
        ("SCHEDULE_GROUP_NAME", "g"),
        ("TIMERS_QUEUE_ARN", "arn:aws:sqs:us-east-1:1:timers"),
    ]))
    .unwrap();
    assert_eq!(
        settings.scheduler_settings().unwrap_err(),
        EnvError::Missing {
            names: vec!["TIMERS_QUEUE_URL", "SCHEDULER_ROLE_ARN"],
            function: None
        }
    );
}

#[tokio::test]
async fn the_endpoint_override_reaches_the_sdk_configuration() {
    let settings =
        CloudSettings::from_lookup(lookup(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")]))
            .unwrap();
    // An explicit region keeps the loader from asking instance metadata for one.
    let config = aws_config_loader(&settings)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
}
