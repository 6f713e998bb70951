//! The example file (`examples/klaxon.yaml`): it validates, and its lookups, grouping and
//! routing decide as documented.

use super::*;

fn alert(integration: &str, severity: Severity, summary: &str, labels: &[(&str, &str)]) -> Alert {
    Alert {
        integration: IntegrationName::new(integration).unwrap(),
        dedup_key: DedupKey::new(format!("{integration}-{summary}")).unwrap(),
        status: AlertStatus::Firing,
        severity,
        summary: summary.into(),
        source: None,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        annotations: BTreeMap::new(),
        links: Vec::new(),
        received_at: chrono::DateTime::UNIX_EPOCH,
        started_at: None,
        ended_at: None,
        group_hint: None,
        raw: Value::Null,
    }
}

fn example() -> Config {
    match Config::from_yaml(EXAMPLE) {
        Ok(config) => config,
        Err(errors) => panic!("examples/klaxon.yaml is invalid:\n{errors}"),
    }
}

#[test]
fn example_validates_without_warnings_and_covers_every_format() {
    let config = example();
    assert_eq!(config.warnings(), Vec::new());
    assert_eq!(config.users.len(), 6);
    let formats: Vec<Format> = config.integrations.iter().map(|i| i.format).collect();
    for format in [
        Format::Alertmanager,
        Format::Grafana,
        Format::Cloudwatch,
        Format::Pagerduty,
        Format::Opsgenie,
        Format::Native,
    ] {
        assert!(formats.contains(&format), "{format:?} missing");
    }
}

#[test]
fn example_lookups() {
    let config = example();
    let anna = config.user(&UserId::new("anna").unwrap()).unwrap();
    assert_eq!(anna.time_zone, chrono_tz::Europe::Berlin);
    assert_eq!(
        anna.channels_for(Urgency::High),
        &[Channel::Sms, Channel::Slack, Channel::Email]
    );
    let farid = config.user(&UserId::new("farid").unwrap()).unwrap();
    assert_eq!(
        farid.channels_for(Urgency::High),
        &[Channel::Sms, Channel::Email],
        "defaults"
    );
    assert_eq!(farid.channels_for(Urgency::Low), &[Channel::Email]);
    assert!(config.user(&UserId::new("nobody").unwrap()).is_none());
    assert_eq!(
        config
            .schedule(&ScheduleId::new("primary").unwrap())
            .unwrap()
            .layers
            .len(),
        2
    );
    assert_eq!(
        config
            .policy(&PolicyId::new("infra").unwrap())
            .unwrap()
            .repeat,
        2
    );
    let cloudwatch = config
        .integration(&IntegrationName::new("cloudwatch-prod").unwrap())
        .unwrap();
    assert_eq!(cloudwatch.format, Format::Cloudwatch);
    assert_eq!(cloudwatch.defaults.severity, Some(Severity::Error));
    assert_eq!(
        config.settings.ack_link_lifetime,
        HumanDuration::from_secs(12 * 3_600)
    );
    assert_eq!(
        config
            .notifications
            .slack
            .as_ref()
            .unwrap()
            .webhook_url
            .var_name(),
        "SLACK_WEBHOOK_URL"
    );
}

#[test]
fn example_grouping_decisions() {
    let config = example();
    let disk_a = alert(
        "alertmanager-prod",
        Severity::Error,
        "disk",
        &[
            ("alertname", "DiskFull"),
            ("cluster", "eu-1"),
            ("instance", "node-1"),
        ],
    );
    let disk_b = alert(
        "alertmanager-prod",
        Severity::Error,
        "disk 2",
        &[
            ("alertname", "DiskFull"),
            ("cluster", "eu-1"),
            ("instance", "node-2"),
        ],
    );
    let other_cluster = alert(
        "alertmanager-prod",
        Severity::Error,
        "disk 3",
        &[("alertname", "DiskFull"), ("cluster", "us-1")],
    );
    let g = config.group(&disk_a);
    assert_eq!(
        g.rule.as_ref().map(RuleId::as_str),
        Some("alertmanager-by-alertname")
    );
    assert_eq!(g.window, HumanDuration::from_secs(4 * 3_600));
    assert_eq!(
        g.key,
        config.group(&disk_b).key,
        "instance is not in group_by"
    );
    assert_ne!(g.key, config.group(&other_cluster).key);

    // Database alerts from Grafana and Alertmanager join one incident per cluster.
    let db_grafana = alert(
        "grafana",
        Severity::Critical,
        "replication lag",
        &[("team", "database"), ("cluster", "eu-1")],
    );
    let db_am = alert(
        "alertmanager-prod",
        Severity::Error,
        "connections",
        &[
            ("team", "database"),
            ("cluster", "eu-1"),
            ("alertname", "PgConnections"),
        ],
    );
    let g = config.group(&db_grafana);
    assert_eq!(
        g.rule.as_ref().map(RuleId::as_str),
        Some("database-by-cluster")
    );
    assert_eq!(g.key, config.group(&db_am).key);

    let deploy = alert("deploy-pipeline", Severity::Warning, "deploy failed", &[]);
    let g = config.group(&deploy);
    assert_eq!(
        (g.rule, g.window),
        (None, HumanDuration::from_secs(24 * 3_600))
    );
}

#[test]
fn example_routing_decisions() {
    let config = example();
    let during_upgrade = chrono::Utc.with_ymd_and_hms(2026, 3, 14, 2, 0, 0).unwrap();
    let after_upgrade = chrono::Utc.with_ymd_and_hms(2026, 3, 14, 5, 0, 0).unwrap();
    let route = |a: &Alert, now| config.route(&RoutingContext::from_alert(a), now);

    let db = alert(
        "grafana",
        Severity::Critical,
        "replication lag",
        &[("team", "database")],
    );
    let d = route(&db, during_upgrade);
    assert_eq!(d.policy, Some(PolicyId::new("database").unwrap()));
    assert_eq!(
        d.suppressed.map(|s| s.by),
        Some(SuppressedBy::MaintenanceWindow(
            RuleId::new("db-upgrade-2026-03").unwrap()
        ))
    );
    let d = route(&db, after_upgrade);
    assert!(d.pages());
    assert_eq!(d.urgency, Urgency::High);

    let payments = alert(
        "alertmanager-prod",
        Severity::Warning,
        "latency",
        &[("service", "payments-api")],
    );
    let d = route(&payments, after_upgrade);
    assert_eq!(
        d.rule.as_ref().map(RuleId::as_str),
        Some("payments-always-critical")
    );
    assert_eq!((d.severity, d.urgency), (Severity::Critical, Urgency::High));
    assert_eq!(d.policy, Some(PolicyId::new("infra").unwrap()));

    let noisy = alert("grafana", Severity::Info, "cpu a bit high", &[]);
    let d = route(&noisy, after_upgrade);
    assert_eq!(
        d.suppressed.map(|s| s.by),
        Some(SuppressedBy::Rule(
            RuleId::new("drop-grafana-info").unwrap()
        ))
    );

    let billing = alert(
        "cloudwatch-prod",
        Severity::Error,
        "Billing alarm: spend > $500",
        &[],
    );
    let d = route(&billing, after_upgrade);
    assert_eq!(d.policy, Some(PolicyId::new("business-hours").unwrap()));
    assert_eq!(d.urgency, Urgency::Low);

    let warning = alert("opsgenie-migrated", Severity::Warning, "queue growing", &[]);
    let d = route(&warning, after_upgrade);
    assert_eq!(d.rule, None);
    assert_eq!(d.policy, Some(PolicyId::new("business-hours").unwrap()));
    assert_eq!(d.urgency, Urgency::Low, "built-in default for warning");
}

#[test]
fn sns_topic_arns_only_for_cloudwatch_well_formed_and_unique() {
    let errors = errors_after(|v| {
        set(
            v,
            "/integrations/0/sns_topic_arns",
            json!(["arn:aws:sns:us-east-1:123456789012:alarms"]),
        );
    });
    assert_eq!(
        errors,
        vec!["integrations[0].sns_topic_arns: only applies to cloudwatch integrations"]
    );
    let errors = errors_after(|v| {
        set(v, "/integrations/0/format", json!("cloudwatch"));
        set(
            v,
            "/integrations/0/sns_topic_arns",
            json!(["arn:aws:sqs:us-east-1:1:q", "arn:aws:sns:us-east-1:1:t"]),
        );
    });
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with(
        "integrations[0].sns_topic_arns[0]: \"arn:aws:sqs:us-east-1:1:q\" is not an SNS topic ARN"
    ));
}
