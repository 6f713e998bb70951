//! Integrations and notification settings.

use super::{Origins, require_unique};
use crate::config::Config;
use crate::config::error::{ConfigPath, Issues};
use crate::ingest::{Format, InsufficientData};

pub(super) fn check_integrations(config: &Config, origins: &Origins, issues: &mut Issues) {
    let base = ConfigPath::root().key("integrations");
    require_unique(
        "integration name",
        config
            .integrations
            .iter()
            .enumerate()
            .map(|(i, integration)| {
                let path = origins.integrations.path(&base, i);
                (integration.name.as_str(), path.clone(), path.key("name"))
            }),
        issues,
    );
    for (i, integration) in config.integrations.iter().enumerate() {
        if integration.name.as_str() == crate::declare::DECLARED_INTEGRATION {
            issues.push(
                origins.integrations.path(&base, i).key("name"),
                "\"declared\" is reserved for incidents declared by hand: choose another name",
            );
        }
        if integration.format != Format::Cloudwatch
            && integration.defaults.insufficient_data != InsufficientData::Ignore
        {
            issues.push(
                origins
                    .integrations
                    .path(&base, i)
                    .key("defaults")
                    .key("insufficient_data"),
                "only applies to cloudwatch integrations",
            );
        }
        let topics = origins.integrations.path(&base, i).key("sns_topic_arns");
        if integration.format != Format::Cloudwatch && !integration.sns_topic_arns.is_empty() {
            issues.push(topics.clone(), "only applies to cloudwatch integrations");
        }
        for (t, arn) in integration.sns_topic_arns.iter().enumerate() {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
                issues.push(
                    topics.index(t),
                    format!(
                        "{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"
                    ),
                );
            }
        }
    }
    // A topic can feed only one integration, or a Lambda-delivered alarm would be ambiguous.
    let mut seen = std::collections::BTreeMap::new();
    for (i, integration) in config.integrations.iter().enumerate() {
        for (t, arn) in integration.sns_topic_arns.iter().enumerate() {
            if let Some(first) = seen.insert(arn.as_str(), integration.name.as_str()) {
                issues.push(
                    origins
                        .integrations
                        .path(&base, i)
                        .key("sns_topic_arns")
                        .index(t),
                    format!("topic {arn} is already listed by integration {first}"),
                );
            }
        }
    }
}

pub(super) fn check_notifications(config: &Config, origins: &Origins, issues: &mut Issues) {
    let base = ConfigPath::root().key("notifications").key("webhooks");
    let webhooks = &config.notifications.webhooks;
    for (i, webhook) in webhooks.iter().enumerate() {
        if webhook.name.trim().is_empty() {
            issues.push(
                origins.webhooks.path(&base, i).key("name"),
                "must not be empty",
            );
        }
    }
    require_unique(
        "webhook name",
        webhooks.iter().enumerate().map(|(i, w)| {
            let path = origins.webhooks.path(&base, i);
            (w.name.as_str(), path.clone(), path.key("name"))
        }),
        issues,
    );
}
