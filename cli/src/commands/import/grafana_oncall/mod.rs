//! Grafana OnCall: the public API v1 documents an import reads ([`fetch`]) and their pure
//! mapping to a Klaxon configuration ([`map`]).
//!
//! Read (`Authorization: TOKEN`, the OnCall API token): users, their personal notification
//! rules, teams, schedules and on-call shifts, escalation chains and their escalation
//! policies, integrations and routes. Lists are followed page by page through `next`.

mod schedules;
mod steps;

use super::client::{Fetcher, path_of};
use super::model::ConfigFile;
use super::report::Report;
use super::{Imported, SourceSpec};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Grafana OnCall's facts.
pub const SPEC: SourceSpec = SourceSpec {
    name: "grafana-oncall",
    default_url: None,
    // OnCall's public API rate-limits per token; a request every 100 ms stays well under it.
    min_interval: Duration::from_millis(100),
};

/// Everything read from a Grafana OnCall stack.
#[derive(Debug, Default)]
pub struct Documents {
    /// `GET /api/v1/users/`.
    pub users: Vec<Value>,
    /// `GET /api/v1/personal_notification_rules/?user_id=` per user id.
    pub notification_rules: BTreeMap<String, Vec<Value>>,
    /// `GET /api/v1/teams/`.
    pub teams: Vec<Value>,
    /// `GET /api/v1/schedules/`.
    pub schedules: Vec<Value>,
    /// `GET /api/v1/on_call_shifts/`.
    pub shifts: Vec<Value>,
    /// `GET /api/v1/escalation_chains/`.
    pub chains: Vec<Value>,
    /// `GET /api/v1/escalation_policies/` (the steps of every chain).
    pub steps: Vec<Value>,
    /// `GET /api/v1/integrations/`.
    pub integrations: Vec<Value>,
    /// `GET /api/v1/routes/`.
    pub routes: Vec<Value>,
}

/// Reads every document an import needs.
pub async fn fetch(fetcher: &mut Fetcher) -> anyhow::Result<Documents> {
    let mut docs = Documents {
        users: list(fetcher, "/api/v1/users/").await?,
        ..Documents::default()
    };
    for user in &docs.users {
        let id = text(user, "id");
        let rules = list(
            fetcher,
            &format!("/api/v1/personal_notification_rules/?user_id={id}"),
        )
        .await?;
        docs.notification_rules.insert(id, rules);
    }
    docs.teams = list(fetcher, "/api/v1/teams/").await?;
    docs.schedules = list(fetcher, "/api/v1/schedules/").await?;
    docs.shifts = list(fetcher, "/api/v1/on_call_shifts/").await?;
    docs.chains = list(fetcher, "/api/v1/escalation_chains/").await?;
    docs.steps = list(fetcher, "/api/v1/escalation_policies/").await?;
    docs.integrations = list(fetcher, "/api/v1/integrations/").await?;
    docs.routes = list(fetcher, "/api/v1/routes/").await?;
    Ok(docs)
}

/// Every item of a list, following `next` (an absolute link; its `/api/v1/...` part is asked
/// for below the same base, so a base with a path prefix works and a replay is identical).
async fn list(fetcher: &mut Fetcher, first: &str) -> anyhow::Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut seen = BTreeSet::new();
    let mut next = Some(first.to_owned());
    while let Some(path) = next.take() {
        if !seen.insert(path.clone()) {
            break;
        }
        let page = fetcher.get(&path).await?;
        let Some(Value::Array(results)) = page.get("results") else {
            anyhow::bail!(
                "GET {path}: the answer has no \"results\" list (is --api-url an OnCall API URL?)"
            );
        };
        items.extend(results.iter().cloned());
        next = page
            .get("next")
            .and_then(Value::as_str)
            .and_then(path_of)
            .and_then(|p| p.find("/api/v1/").map(|at| p[at..].to_owned()));
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

/// The items sorted by the text at `key`, then id.
fn sorted<'a>(list: &'a [Value], key: &str) -> Vec<&'a Value> {
    let mut items: Vec<&Value> = list.iter().collect();
    items.sort_by_key(|item| (text(item, key), text(item, "id")));
    items
}

/// Source ids to Klaxon ids.
#[derive(Debug, Default)]
struct Ids {
    users: BTreeMap<String, String>,
    schedules: BTreeMap<String, String>,
    policies: BTreeMap<String, String>,
}

/// Maps everything read to a Klaxon configuration and the report. Pure.
pub fn map(docs: &Documents) -> Imported {
    let mut report = Report::new(SPEC.name);
    let mut config = ConfigFile {
        version: 1,
        ..ConfigFile::default()
    };
    let mut ids = Ids::default();
    steps::users(docs, &mut config, &mut report, &mut ids);
    for team in sorted(&docs.teams, "name") {
        let id = text(team, "id");
        report.object("team", &id, &text(team, "name"));
        report.skip(
            "team",
            &id,
            "Klaxon has no teams: schedules, chains and integrations are imported without them",
        );
    }
    schedules::schedules(docs, &mut config, &mut report, &mut ids);
    steps::chains(docs, &mut config, &mut report, &mut ids);
    steps::integrations(docs, &mut config, &mut report, &ids);
    Imported { config, report }
}
