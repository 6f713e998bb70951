//! Incidents: the open or recent listing, and one incident with its alerts and timeline.

use super::{
    DEFAULT_PAGE_SIZE, DEFAULT_TIMELINE_PAGE, MAX_PAGE_SIZE, QueryService, cursor, cursor_error,
    find_incident, page_size,
};
use crate::usecases::UseCaseError;
use klaxon_domain::config::Config;
use klaxon_domain::ids::TeamId;
use klaxon_domain::incident::Incident;
use klaxon_domain::timeline::TimelineRecord;
use klaxon_store::Store;
use klaxon_store::repo::IncidentAlert;
use serde::Serialize;

/// Which incidents to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentFilter {
    /// Not resolved, oldest first.
    Open,
    /// Every incident, newest first.
    All,
}

impl IncidentFilter {
    /// Parses the `status` parameter: `open` or `all`.
    pub fn parse(text: &str) -> Result<Self, UseCaseError> {
        match text {
            "open" => Ok(Self::Open),
            "all" => Ok(Self::All),
            other => Err(UseCaseError::invalid(
                "status",
                format!("must be \"open\" or \"all\" (got {other:?})"),
            )),
        }
    }
}

/// An incident with its owning team (from the current configuration's `teams`).
#[derive(Debug, Clone, Serialize)]
pub struct TeamIncident {
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// The team owning its escalation policy, else its integration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
}

/// The owning team of `incident` under `config` ([`Config::team_of`]); none before any
/// configuration was applied.
pub fn team_of(config: Option<&Config>, incident: &Incident) -> Option<TeamId> {
    config?
        .team_of(
            incident.escalation().map(|state| state.policy()),
            &incident.context().integration,
        )
        .cloned()
}

/// One page of incidents.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentPage {
    /// The incidents (with `?team=`, only that team's: a page may then hold fewer than
    /// `limit`, even none, and still have a next cursor).
    pub incidents: Vec<TeamIncident>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An incident with its alerts and a page of its timeline.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentDetail {
    /// The incident.
    pub incident: Incident,
    /// Its owning team, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamId>,
    /// Its alert occurrences, in the order they joined.
    pub alerts: Vec<IncidentAlert>,
    /// Its timeline, oldest first, as CloudEvents 1.0 JSON events.
    pub timeline: Vec<TimelineRecord>,
    /// Pass as `timeline_cursor` to get more of the timeline; absent when there is no more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline_next_cursor: Option<String>,
}

impl<S: Store> QueryService<S> {
    /// Lists incidents: open ones oldest first, or all newest first, a page at a time; with
    /// `team`, only the incidents that team owns (an unknown team is a 404).
    pub async fn incidents(
        &self,
        filter: IncidentFilter,
        team: Option<&str>,
        cursor_token: Option<&str>,
        limit: Option<u32>,
    ) -> Result<IncidentPage, UseCaseError> {
        let limit = page_size("limit", limit, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
        let config = self.optional_config().await?;
        let config = config.as_ref().map(|loaded| &loaded.config);
        let team = team
            .map(|id| {
                TeamId::new(id)
                    .ok()
                    .filter(|id| config.and_then(|c| c.team(id)).is_some())
                    .ok_or_else(|| UseCaseError::NotFound {
                        what: "team",
                        id: id.to_owned(),
                    })
            })
            .transpose()?;
        let after = cursor(cursor_token);
        let listing = match filter {
            IncidentFilter::Open => self.core().repo.open_incidents(after, limit).await,
            IncidentFilter::All => self.core().repo.recent_incidents(after, limit).await,
        }
        .map_err(cursor_error("cursor"))?;
        Ok(IncidentPage {
            incidents: listing
                .items
                .into_iter()
                .map(|stored| TeamIncident {
                    team: team_of(config, &stored.incident),
                    incident: stored.incident,
                })
                .filter(|listed| team.is_none() || listed.team == team)
                .collect(),
            next_cursor: listing.next.map(|c| c.as_str().to_owned()),
        })
    }

    /// The current configuration, or none when none was applied yet.
    async fn optional_config(
        &self,
    ) -> Result<Option<std::sync::Arc<crate::usecases::config::LoadedConfig>>, UseCaseError> {
        match self.core().config().await {
            Ok(config) => Ok(Some(config)),
            Err(UseCaseError::NoConfig) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// One incident (by id or number) with its alerts and a page of its timeline.
    pub async fn incident(
        &self,
        reference: &str,
        timeline_cursor: Option<&str>,
        timeline_limit: Option<u32>,
    ) -> Result<IncidentDetail, UseCaseError> {
        let limit = page_size(
            "timeline_limit",
            timeline_limit,
            DEFAULT_TIMELINE_PAGE,
            MAX_PAGE_SIZE,
        )?;
        let stored = find_incident(self.core(), reference).await?;
        let config = self.optional_config().await?;
        let id = stored.incident.id().clone();
        let alerts = self.core().repo.incident_alerts(&id).await?;
        let timeline = self
            .core()
            .repo
            .timeline(&id, cursor(timeline_cursor), limit)
            .await
            .map_err(cursor_error("timeline_cursor"))?;
        Ok(IncidentDetail {
            team: team_of(
                config.as_ref().map(|loaded| &loaded.config),
                &stored.incident,
            ),
            incident: stored.incident,
            alerts,
            timeline: timeline.items,
            timeline_next_cursor: timeline.next.map(|c| c.as_str().to_owned()),
        })
    }
}
