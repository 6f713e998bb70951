//! PagerDuty: the REST API v2 documents an import reads ([`fetch`]) and their pure mapping to
//! a Klaxon configuration ([`map`]).
//!
//! Read (`Authorization: Token token=KEY`, `Accept: application/vnd.pagerduty+json;version=2`):
//! users with their contact methods and notification rules, teams with members, schedules
//! (detail, for layers and restrictions) with their overrides for the coming year, escalation
//! policies, services with their integrations, their service orchestrations and legacy
//! service event rules, open maintenance windows, and the event orchestrations with their
//! routers. Lists are read page by page (`limit`/`offset` while `more` is true). Event
//! orchestrations and event rules depend on the account's plan: a 402, 403 or 404 from them
//! is reported as unavailable on the account, not a failure.

mod conditions;
mod orchestrations;
mod people;
mod schedules;
mod services;

use super::client::{Fetcher, Gated};
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
    /// `GET /event_orchestrations` items.
    pub orchestrations: Gated<Vec<Value>>,
    /// `GET /event_orchestrations/{id}/router` paths per orchestration id.
    pub routers: BTreeMap<String, Gated<Value>>,
    /// `GET /event_orchestrations/services/{id}` paths per service id.
    pub service_orchestrations: BTreeMap<String, Gated<Value>>,
    /// `GET /event_orchestrations/services/{id}/active` per service id.
    pub service_orchestration_active: BTreeMap<String, Gated<Value>>,
    /// `GET /services/{id}/rules` (legacy service event rules) per service id.
    pub service_rules: BTreeMap<String, Gated<Vec<Value>>>,
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
    fetch_event_rules(fetcher, &mut docs).await?;
    docs.as_of = as_of;
    Ok(docs)
}

/// Event orchestrations (global, with their routers), service orchestrations and legacy
/// service event rules: each may be unavailable on the account.
async fn fetch_event_rules(fetcher: &mut Fetcher, docs: &mut Documents) -> anyhow::Result<()> {
    for service in &docs.services {
        let id = text(service, "id");
        let path = format!("/event_orchestrations/services/{id}");
        let orchestration = fetcher.get_optional(&path).await?.map(path_of_answer);
        docs.service_orchestrations
            .insert(id.clone(), orchestration.into());
        let active = fetcher.get_optional(&format!("{path}/active")).await?;
        docs.service_orchestration_active
            .insert(id.clone(), active.into());
        let rules = list_gated(fetcher, &format!("/services/{id}/rules?"), "rules").await?;
        docs.service_rules.insert(id, rules);
    }
    docs.orchestrations = list_gated(fetcher, "/event_orchestrations?", "orchestrations").await?;
    if let Gated::Read(orchestrations) = &docs.orchestrations {
        for orchestration in orchestrations {
            let id = text(orchestration, "id");
            let router = fetcher
                .get_optional(&format!("/event_orchestrations/{id}/router"))
                .await?
                .map(path_of_answer);
            docs.routers.insert(id, router.into());
        }
    }
    Ok(())
}

/// The `orchestration_path` of an answer (the whole answer if it has none).
fn path_of_answer(answer: Value) -> Value {
    answer.get("orchestration_path").cloned().unwrap_or(answer)
}

/// Every item of a classic-paginated list: `limit`/`offset`, following `more`.
async fn list(fetcher: &mut Fetcher, prefix: &str, key: &str) -> anyhow::Result<Vec<Value>> {
    match pages(fetcher, prefix, key, false).await? {
        Gated::Read(all) => Ok(all),
        Gated::Unavailable(status) => anyhow::bail!("GET {prefix}: {status}"),
    }
}

/// A list that may be unavailable on the account: its first page decides.
async fn list_gated(
    fetcher: &mut Fetcher,
    prefix: &str,
    key: &str,
) -> anyhow::Result<Gated<Vec<Value>>> {
    pages(fetcher, prefix, key, true).await
}

async fn pages(
    fetcher: &mut Fetcher,
    prefix: &str,
    key: &str,
    gated: bool,
) -> anyhow::Result<Gated<Vec<Value>>> {
    let mut all = Vec::new();
    let (mut limit, mut offset) = (100, 0);
    loop {
        let path = format!("{prefix}limit={limit}&offset={offset}");
        let page = if gated && offset == 0 {
            match fetcher.get_optional(&path).await? {
                Ok(page) => page,
                Err(status) => return Ok(Gated::Unavailable(status)),
            }
        } else {
            fetcher.get(&path).await?
        };
        let Some(Value::Array(data)) = page.get(key) else {
            anyhow::bail!(
                "GET {path}: the answer has no {key:?} list (is --api-url a PagerDuty REST API?)"
            );
        };
        all.extend(data.iter().cloned());
        if page.get("more").and_then(Value::as_bool) != Some(true) || data.is_empty() {
            return Ok(Gated::Read(all));
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
    /// Service id → its Klaxon policy and urgency (for rules that route to it).
    service_routes: BTreeMap<String, (Option<String>, Option<String>)>,
    /// Routing rule ids in use.
    rule_slugs: Slugs,
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
    schedules::schedules(docs, &mut config, &mut report, &mut ids);
    schedules::overrides(docs, &mut report, &ids);
    services::policies(docs, &mut config, &mut report, &mut ids);
    services::services(docs, &mut config, &mut report, &mut ids);
    orchestrations::routers(docs, &mut config, &mut report, &mut ids);
    services::maintenance(docs, &mut config, &mut report, &ids);
    Imported { config, report }
}

/// The items sorted by the text at `key`, then id.
fn sorted<'a>(list: &'a [Value], key: &str) -> Vec<&'a Value> {
    let mut items: Vec<&Value> = list.iter().collect();
    items.sort_by_key(|item| (text(item, key), text(item, "id")));
    items
}
