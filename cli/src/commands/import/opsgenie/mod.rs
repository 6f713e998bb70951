//! Opsgenie: the REST API documents an import reads ([`fetch`]) and their pure mapping to a
//! Klaxon configuration ([`map`]).
//!
//! Read (Opsgenie REST API v2, `Authorization: GenieKey KEY`): users with their contacts and
//! notification rules (each rule's detail, for its steps), teams (detail, for members) with
//! their routing rules, schedules with rotations (`expand=rotation`) and overrides, escalations,
//! integrations, heartbeats, maintenance (v1, detail for its rules) and forwarding rules
//! (which become overrides). Lists are followed page by page through `paging.next`.

mod forwarding;
mod integrations;
mod people;
mod routing;
mod schedules;

use super::client::{Fetcher, Gated, path_of};
use super::model::ConfigFile;
use super::report::Report;
use super::{Imported, Slugs, SourceSpec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Opsgenie's facts.
pub const SPEC: SourceSpec = SourceSpec {
    name: "opsgenie",
    default_url: Some("https://api.opsgenie.com"),
    // Opsgenie's configuration APIs allow a few requests per second per account; stay under.
    min_interval: Duration::from_millis(100),
};

/// Everything read from an Opsgenie account.
#[derive(Debug, Default)]
pub struct Documents {
    /// `GET /v2/users` items.
    pub users: Vec<Value>,
    /// Contacts per Opsgenie user id.
    pub contacts: BTreeMap<String, Vec<Value>>,
    /// Notification rule details per Opsgenie user id.
    pub notification_rules: BTreeMap<String, Vec<Value>>,
    /// `GET /v2/teams/{id}` data.
    pub teams: Vec<Value>,
    /// Routing rules per team id.
    pub routing_rules: BTreeMap<String, Vec<Value>>,
    /// `GET /v2/schedules?expand=rotation` items.
    pub schedules: Vec<Value>,
    /// Overrides per schedule id.
    pub overrides: BTreeMap<String, Vec<Value>>,
    /// `GET /v2/escalations` items.
    pub escalations: Vec<Value>,
    /// `GET /v2/integrations` items.
    pub integrations: Vec<Value>,
    /// `GET /v2/heartbeats` items.
    pub heartbeats: Vec<Value>,
    /// `GET /v1/maintenance/{id}` data.
    pub maintenance: Vec<Value>,
    /// `GET /v2/forwarding-rules` items (403 or 404 if the key may not read them).
    pub forwarding_rules: Gated<Vec<Value>>,
}

/// Reads every document an import needs.
pub async fn fetch(fetcher: &mut Fetcher) -> anyhow::Result<Documents> {
    let mut docs = Documents {
        users: list(
            fetcher,
            "/v2/users?limit=100&offset=0&sort=username&order=asc",
        )
        .await?,
        ..Documents::default()
    };
    for user in &docs.users {
        let id = text(user, "id");
        let contacts = list(fetcher, &format!("/v2/users/{id}/contacts")).await?;
        docs.contacts.insert(id.clone(), contacts);
        let mut rules = Vec::new();
        for rule in list(fetcher, &format!("/v2/users/{id}/notification-rules")).await? {
            let rule_id = text(&rule, "id");
            let detail = fetcher
                .get(&format!("/v2/users/{id}/notification-rules/{rule_id}"))
                .await?;
            rules.push(detail.get("data").cloned().unwrap_or(rule));
        }
        docs.notification_rules.insert(id, rules);
    }
    for team in list(fetcher, "/v2/teams").await? {
        let id = text(&team, "id");
        let detail = fetcher
            .get(&format!("/v2/teams/{id}?identifierType=id"))
            .await?;
        docs.teams.push(detail.get("data").cloned().unwrap_or(team));
        let rules = list(
            fetcher,
            &format!("/v2/teams/{id}/routing-rules?teamIdentifierType=id"),
        )
        .await?;
        docs.routing_rules.insert(id, rules);
    }
    docs.schedules = list(fetcher, "/v2/schedules?expand=rotation").await?;
    for schedule in &docs.schedules {
        let id = text(schedule, "id");
        let overrides = list(
            fetcher,
            &format!("/v2/schedules/{id}/overrides?scheduleIdentifierType=id"),
        )
        .await?;
        docs.overrides.insert(id, overrides);
    }
    docs.escalations = list(fetcher, "/v2/escalations").await?;
    docs.integrations = list(fetcher, "/v2/integrations").await?;
    let heartbeats = fetcher.get("/v2/heartbeats").await?;
    docs.heartbeats = heartbeats
        .pointer("/data/heartbeats")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for window in list(fetcher, "/v1/maintenance?type=all").await? {
        let id = text(&window, "id");
        let detail = fetcher.get(&format!("/v1/maintenance/{id}")).await?;
        docs.maintenance
            .push(detail.get("data").cloned().unwrap_or(window));
    }
    docs.forwarding_rules = match fetcher.get_optional("/v2/forwarding-rules").await? {
        Ok(page) => Gated::Read(
            page.get("data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        ),
        Err(status) => Gated::Unavailable(status),
    };
    Ok(docs)
}

/// Every item of a list, following `paging.next` through all pages.
async fn list(fetcher: &mut Fetcher, first: &str) -> anyhow::Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    let mut next = Some(first.to_owned());
    while let Some(path) = next.take() {
        if !seen.insert(path.clone()) {
            break; // a server repeating a page must not loop forever
        }
        let page = fetcher.get(&path).await?;
        match page.get("data") {
            Some(Value::Array(data)) => items.extend(data.iter().cloned()),
            _ => anyhow::bail!(
                "GET {path}: the answer has no \"data\" list (is --api-url an Opsgenie API?)"
            ),
        }
        next = page
            .pointer("/paging/next")
            .and_then(Value::as_str)
            .and_then(path_of);
    }
    Ok(items)
}

/// Text at `key`, or empty.
fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// What the mapping of one part hands to the next: source ids to Klaxon ids.
#[derive(Debug, Default)]
struct Ids {
    /// Opsgenie user id → Klaxon user id.
    users: BTreeMap<String, String>,
    /// Opsgenie username → Klaxon user id.
    usernames: BTreeMap<String, String>,
    /// Team id → (name, members with their role).
    teams: BTreeMap<String, (String, Vec<(String, String)>)>,
    /// Team id → Klaxon schedule ids it owns.
    team_schedules: BTreeMap<String, Vec<String>>,
    /// Opsgenie schedule id → Klaxon schedule id.
    schedules: BTreeMap<String, String>,
    /// Opsgenie schedule name → Klaxon schedule id.
    schedule_names: BTreeMap<String, String>,
    /// Opsgenie escalation id → Klaxon policy id.
    policies: BTreeMap<String, String>,
    /// Opsgenie escalation name → Klaxon policy id.
    policy_names: BTreeMap<String, String>,
    /// Opsgenie integration id → Klaxon integration name.
    integrations: BTreeMap<String, String>,
    /// Policy ids in use.
    policy_slugs: Slugs,
    /// Opsgenie owner team id (empty: none) → the Klaxon integration of its heartbeats.
    heartbeat_integrations: BTreeMap<String, String>,
    /// Imported heartbeats: (Opsgenie name, Klaxon integration).
    heartbeats: Vec<(String, String)>,
}

impl Ids {
    /// The Klaxon user a `{id, username}` reference means.
    fn user(&self, reference: &Value) -> Option<String> {
        let by_id = reference
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| self.users.get(id));
        let by_name = || {
            reference
                .get("username")
                .or_else(|| reference.get("name"))
                .and_then(Value::as_str)
                .and_then(|name| self.usernames.get(name))
        };
        by_id.or_else(by_name).cloned()
    }

    /// The Klaxon schedule a `{id, name}` reference means.
    fn schedule(&self, reference: &Value) -> Option<String> {
        let by_id = reference
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| self.schedules.get(id));
        let by_name = || {
            reference
                .get("name")
                .and_then(Value::as_str)
                .and_then(|n| self.schedule_names.get(n))
        };
        by_id.or_else(by_name).cloned()
    }

    /// The Klaxon policy a `{id, name}` reference means.
    fn policy(&self, reference: &Value) -> Option<String> {
        let by_id = reference
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| self.policies.get(id));
        let by_name = || {
            reference
                .get("name")
                .and_then(Value::as_str)
                .and_then(|n| self.policy_names.get(n))
        };
        by_id.or_else(by_name).cloned()
    }
}

/// Maps everything read to a Klaxon configuration and the report. Pure: same documents, same
/// output, byte for byte.
pub fn map(docs: &Documents) -> Imported {
    let mut report = Report::new(SPEC.name);
    let mut config = ConfigFile {
        version: 1,
        ..ConfigFile::default()
    };
    let mut ids = Ids::default();
    people::users(docs, &mut config, &mut report, &mut ids);
    people::teams(docs, &mut report, &mut ids);
    schedules::schedules(docs, &mut config, &mut report, &mut ids);
    schedules::overrides(docs, &mut report, &ids);
    routing::escalations(docs, &mut config, &mut report, &mut ids);
    integrations::integrations(docs, &mut config, &mut report, &mut ids);
    integrations::heartbeats(docs, &mut config, &mut report, &mut ids);
    routing::routing_rules(docs, &mut config, &mut report, &mut ids);
    integrations::heartbeat_routes(&config, &mut report, &ids);
    integrations::maintenance(docs, &mut config, &mut report, &ids);
    forwarding::forwarding_rules(docs, &config, &mut report, &ids);
    Imported { config, report }
}

/// The items of `list` sorted by the text at `key` (then by id), for a stable output order.
fn sorted<'a>(list: &'a [Value], key: &str) -> Vec<&'a Value> {
    let mut items: Vec<&Value> = list.iter().collect();
    items.sort_by_key(|item| (text(item, key), text(item, "id")));
    items
}
