//! Arguments of `klaxon route test`.

use crate::time::parse_instant;
use clap::{Args, Subcommand, ValueEnum};
use klaxon_domain::Instant;
use klaxon_domain::ingest::Format;
use std::path::PathBuf;

/// `klaxon route ...`
#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Dry-run an alert payload through grouping, routing and escalation.
    #[command(
        long_about = "Dry-run an alert payload through parsing, grouping, routing and \
            escalation, with the configuration file, as if it arrived at --at. Nothing is stored \
            and nobody is paged.\n\n\
            For each alert in the payload it shows the dedup key and status, the grouping rule \
            and group key, the routing rule and every step of the routing decision, the policy, \
            severity and urgency, any suppression (rule or maintenance window), and for every \
            tier the escalation would page: when, who (schedules resolved at that moment), and on \
            which channels, round after round until the policy is exhausted. The timeline is \
            computed by the same state machine the routing function runs.\n\n\
            The format is detected from the payload's fields unless --format is given; the \
            integration is the configuration's first one of that format unless --integration is \
            given. Overrides (runtime data) are not taken into account. The configuration is \
            the --config file, else the file KLAXON_CONFIG names, else ./klaxon.yaml.\n\n\
            Examples:\n  \
            klaxon route test events/ingest/alertmanager-firing.json --config examples/klaxon.yaml\n  \
            klaxon route test events/ingest/native-firing.json --config examples/klaxon.yaml \\\n      \
            --integration deploy-pipeline --at 2026-03-14T02:00:00Z\n  \
            klaxon route test - --config examples/klaxon.yaml --format pagerduty --json \\\n      \
            < events/ingest/pagerduty-trigger.json"
    )]
    Test(RouteTestArgs),
}

/// The wire formats `route test` can parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Klaxon's own JSON.
    Native,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// Opsgenie create-alert API.
    Opsgenie,
    /// Prometheus Alertmanager webhook v4.
    Alertmanager,
    /// Grafana alerting webhook.
    Grafana,
    /// CloudWatch alarm in an SNS message (HTTPS delivery or Lambda event).
    Cloudwatch,
}

impl From<FormatArg> for Format {
    fn from(value: FormatArg) -> Self {
        match value {
            FormatArg::Native => Format::Native,
            FormatArg::Pagerduty => Format::Pagerduty,
            FormatArg::Opsgenie => Format::Opsgenie,
            FormatArg::Alertmanager => Format::Alertmanager,
            FormatArg::Grafana => Format::Grafana,
            FormatArg::Cloudwatch => Format::Cloudwatch,
        }
    }
}

/// Arguments of `klaxon route test`.
#[derive(Debug, Args)]
pub struct RouteTestArgs {
    /// The payload file (JSON, as the sender would POST it); `-` reads standard input.
    #[arg(value_name = "PAYLOAD")]
    pub payload: PathBuf,

    /// The payload's format (default: detected from its fields).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,

    /// The integration the payload arrives on (default: the first integration of its format).
    #[arg(long, value_name = "NAME")]
    pub integration: Option<String>,

    /// When the payload arrives, RFC 3339 (`2026-03-08T06:30:00Z`, `2026-03-08T07:30:00+01:00`).
    #[arg(long, value_name = "TIME", value_parser = parse_instant, default_value = "now")]
    pub at: Instant,
}
