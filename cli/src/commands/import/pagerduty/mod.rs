//! PagerDuty: the REST API v2 documents an import reads ([`fetch`]) and their pure mapping to
//! a Klaxon configuration ([`map`]).
//!
//! Read (`Authorization: Token token=KEY`, `Accept: application/vnd.pagerduty+json;version=2`):
//! users with their contact methods and notification rules, teams with members, schedules
//! (detail, for layers and restrictions) with their overrides for the coming year, escalation
//! policies, services with their integrations, and open maintenance windows. Lists are read
//! page by page (`limit`/`offset` while `more` is true).

mod people;
mod services;

use super::client::Fetcher;
use super::model::ConfigFile;
use super::report::Report;
use super::{Imported, Slugs, SourceSpec};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// PagerDuty's facts.
pub const SPEC: SourceSpec = SourceSpec {
    name: "pagerduty",
    default_url: Some("https://api.pagerduty.com"),
    // PagerDuty allows 960 REST requests a minute per API key: one every 62.5 ms.
    min_interval: Duration::from_millis(70),
};

/// Everything read from a PagerDuty account.
#[derive(Debug, Default)]
pub struct Documents {
    /// When "from now on" lists were read from (RFC 3339).
    pub as_of: String,
    /// `GET /users` items.
    pub users: Vec<Value>,
    /// Contact methods per user id.
    pub contact_methods: BTreeMap<String, Vec<Value>>,
    /// Notification rules per user id.
    pub notification_rules: BTreeMap<String, Vec<Value>>,
    /// `GET /teams` items.
    pub teams: Vec<Value>,
    /// Members per team id.
    pub members: BTreeMap<String, Vec<Value>>,
    /// `GET /schedules/{id}` schedules.
    pub schedules: Vec<Value>,
    /// Overrides per schedule id.
    pub overrides: BTreeMap<String, Vec<Value>>,
    /// `GET /escalation_policies` items.
    pub escalation_policies: Vec<Value>,
    /// `GET /services?include[]=integrations` items.
    pub services: Vec<Value>,
    /// `GET /maintenance_windows?filter=open` items.
    pub maintenance_windows: Vec<Value>,
}

/// Reads every document an import needs.
pub async fn fetch(fetcher: &mut Fetcher) -> anyhow::Result<Documents> {
    let as_of = fetcher.as_of()?;
    let mut docs = Documents {
        users: list(fetcher, "/users?", "users").await?,
        ..Documents::default()
    };
    for user in &docs.users {
        let id = text(user, "id");
        let methods = fetcher.get(&format!("/users/{id}/contact_methods")).await?;
        docs.contact_methods
            .insert(id.clone(), items(&methods, "contact_methods"));
        let rules = fetcher
            .get(&format!("/users/{id}/notification_rules"))
            .await?;
        docs.notification_rules
            .insert(id, items(&rules, "notification_rules"));
    }
    docs.teams = list(fetcher, "/teams?", "teams").await?;
    for team in &docs.teams {
        let id = text(team, "id");
        let members = list(fetcher, &format!("/teams/{id}/members?"), "members").await?;
        docs.members.insert(id, members);
    }
    let until = chrono::DateTime::parse_from_rfc3339(&as_of)
        .map(|t| {
            (t + chrono::Duration::days(365)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .map_err(|e| anyhow::anyhow!("as_of {as_of:?} is not RFC 3339 ({e})"))?;
    for schedule in list(fetcher, "/schedules?", "schedules").await? {
        let id = text(&schedule, "id");
        let detail = fetcher.get(&format!("/schedules/{id}")).await?;
        docs.schedules
            .push(detail.get("schedule").cloned().unwrap_or(schedule));
        let overrides = fetcher
            .get(&format!(
                "/schedules/{id}/overrides?since={as_of}&until={until}"
            ))
            .await?;
        docs.overrides.insert(id, items(&overrides, "overrides"));
    }
    docs.escalation_policies =
        list(fetcher, "/escalation_policies?", "escalation_policies").await?;
    docs.services = list(fetcher, "/services?include[]=integrations&", "services").await?;
    docs.maintenance_windows = list(
        fetcher,
        "/maintenance_windows?filter=open&",
        "maintenance_windows",
    )
    .await?;
    docs.as_of = as_of;
    Ok(docs)
}

/// Every item of a classic-paginated list: `limit`/`offset`, following `more`.
async fn list(fetcher: &mut Fetcher, prefix: &str, key: &str) -> anyhow::Result<Vec<Value>> {
    let mut all = Vec::new();
    let (mut limit, mut offset) = (100, 0);
    loop {
        let path = format!("{prefix}limit={limit}&offset={offset}");
        let page = fetcher.get(&path).await?;
        let Some(Value::Array(data)) = page.get(key) else {
            anyhow::bail!(
                "GET {path}: the answer has no {key:?} list (is --api-url a PagerDuty REST API?)"
            );
        };
        all.extend(data.iter().cloned());
        if page.get("more").and_then(Value::as_bool) != Some(true) || data.is_empty() {
            return Ok(all);
        }
        limit = page.get("limit").and_then(Value::as_u64).unwrap_or(limit);
        offset += u64::try_from(data.len()).unwrap_or(limit);
    }
}

fn items(page: &Value, key: &str) -> Vec<Value> {
    page.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Text at `key`, or empty.
fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Source ids to Klaxon ids.
#[derive(Debug, Default)]
struct Ids {
    users: BTreeMap<String, String>,
    schedules: BTreeMap<String, String>,
    policies: BTreeMap<String, String>,
    /// Service id → its Klaxon integration names.
    service_integrations: BTreeMap<String, Vec<String>>,
    policy_slugs: Slugs,
}

/// Maps everything read to a Klaxon configuration and the report. Pure.
pub fn map(docs: &Documents) -> Imported {
    let mut report = Report::new(SPEC.name);
    let mut config = ConfigFile {
        version: 1,
        ..ConfigFile::default()
    };
    let mut ids = Ids::default();
    people::users(docs, &mut config, &mut report, &mut ids);
    people::teams(docs, &mut report, &ids);
    people::schedules(docs, &mut config, &mut report, &mut ids);
    people::overrides(docs, &mut report, &ids);
    services::policies(docs, &mut config, &mut report, &mut ids);
    services::services(docs, &mut config, &mut report, &mut ids);
    services::maintenance(docs, &mut config, &mut report, &ids);
    report.object("event orchestration", "*", "event orchestrations");
    report.skip("event orchestration", "*", "event orchestrations and service event rules are not read by this importer: rebuild them as Klaxon routing rules (docs/config.md#routing)");
    Imported { config, report }
}

/// The items sorted by the text at `key`, then id.
fn sorted<'a>(list: &'a [Value], key: &str) -> Vec<&'a Value> {
    let mut items: Vec<&Value> = list.iter().collect();
    items.sort_by_key(|item| (text(item, key), text(item, "id")));
    items
}
