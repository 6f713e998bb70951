//! Teams: unique ids, known references, and one owner per schedule, policy and integration.

use super::{Known, Origins, require_unique};
use crate::config::Config;
use crate::config::error::{ConfigPath, Issues};
use std::collections::BTreeMap;

/// The lists a team may name.
pub(super) struct References<'k, 'a> {
    pub(super) users: &'k Known<'a>,
    pub(super) schedules: &'k Known<'a>,
    pub(super) policies: &'k Known<'a>,
    pub(super) integrations: &'k Known<'a>,
}

/// Records an error for every reference to an unknown id, and for every thing two teams
/// (or one team twice) claim: an incident has one owning team.
fn check_list<'c>(
    known: &Known<'_>,
    field: &'static str,
    ids: impl Iterator<Item = (&'c str, ConfigPath)>,
    owners: &mut BTreeMap<(&'static str, &'c str), ConfigPath>,
    issues: &mut Issues,
) {
    for (id, path) in ids {
        known.require(id, path.clone(), issues);
        match owners.get(&(field, id)) {
            Some(first) => issues.push(
                path,
                format!("{id:?} is already owned at {first}: a {field} entry has one owning team"),
            ),
            None => {
                owners.insert((field, id), path);
            }
        }
    }
}

pub(super) fn check_teams(
    config: &Config,
    origins: &Origins,
    known: &References<'_, '_>,
    issues: &mut Issues,
) {
    let base = ConfigPath::root().key("teams");
    require_unique(
        "team id",
        config.teams.iter().enumerate().map(|(i, team)| {
            let path = origins.teams.path(&base, i);
            (team.id.as_str(), path.clone(), path.key("id"))
        }),
        issues,
    );
    let mut owners = BTreeMap::new();
    for (i, team) in config.teams.iter().enumerate() {
        let path = origins.teams.path(&base, i);
        if team
            .name
            .as_deref()
            .is_some_and(|name| name.trim().is_empty())
        {
            issues.push(path.key("name"), "must not be empty when given");
        }
        for (k, member) in team.members.iter().enumerate() {
            known
                .users
                .require(member.as_str(), path.key("members").index(k), issues);
        }
        check_list(
            known.schedules,
            "schedules",
            team.schedules
                .iter()
                .enumerate()
                .map(|(k, id)| (id.as_str(), path.key("schedules").index(k))),
            &mut owners,
            issues,
        );
        check_list(
            known.policies,
            "escalation_policies",
            team.escalation_policies
                .iter()
                .enumerate()
                .map(|(k, id)| (id.as_str(), path.key("escalation_policies").index(k))),
            &mut owners,
            issues,
        );
        check_list(
            known.integrations,
            "integrations",
            team.integrations
                .iter()
                .enumerate()
                .map(|(k, id)| (id.as_str(), path.key("integrations").index(k))),
            &mut owners,
            issues,
        );
    }
}
