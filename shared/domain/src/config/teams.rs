//! The `teams` section: who belongs to a team and which schedules, escalation policies and
//! integrations it owns. An incident's owning team is the team that owns its escalation
//! policy, else the team that owns the integration of its first alert ([`Config::team_of`]).

use super::Config;
use crate::ids::{IntegrationName, PolicyId, ScheduleId, TeamId, UserId};
use serde::{Deserialize, Serialize};

/// One team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Identifier (`payments`).
    pub id: TeamId,
    /// Display name (defaults to the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Members (user ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<UserId>,
    /// Schedules the team owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleId>,
    /// Escalation policies the team owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalation_policies: Vec<PolicyId>,
    /// Integrations the team owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<IntegrationName>,
}

impl Config {
    /// The team with id `id`.
    pub fn team(&self, id: &TeamId) -> Option<&Team> {
        self.teams.iter().find(|team| &team.id == id)
    }

    /// The team owning an incident routed to `policy` whose first alert came from
    /// `integration`: the policy's owner first (it decides who responds), else the
    /// integration's. Validation keeps each of them owned by at most one team.
    pub fn team_of(
        &self,
        policy: Option<&PolicyId>,
        integration: &IntegrationName,
    ) -> Option<&TeamId> {
        let by_policy = policy.and_then(|policy| {
            self.teams
                .iter()
                .find(|team| team.escalation_policies.contains(policy))
        });
        by_policy
            .or_else(|| {
                self.teams
                    .iter()
                    .find(|team| team.integrations.contains(integration))
            })
            .map(|team| &team.id)
    }
}
