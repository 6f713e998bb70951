//! Arguments of `klaxon incidents ...`.

use super::ApiArgs;
use clap::{Args, Subcommand};

/// `klaxon incidents ...`
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents: open ones (oldest first) or all (newest first).
    #[command(
        long_about = "List incidents through the API (GET /v1/incidents): the open ones \
            (triggered or acknowledged), oldest first, or with --all every incident, newest \
            first.\n\n\
            Examples:\n  \
            klaxon incidents list\n  \
            klaxon incidents list --all --limit 20\n  \
            klaxon incidents list --team payments\n  \
            klaxon incidents list --url https://abc123.execute-api.eu-west-1.amazonaws.com --json"
    )]
    List(IncidentsListArgs),
    /// Show one incident with its alerts and timeline.
    #[command(
        long_about = "Show an incident (GET /v1/incidents/{id}): status, severity, \
            urgency, escalation, its alerts and its timeline. ID is the incident's number (42) \
            or its id.\n\n\
            Examples:\n  \
            klaxon incidents show 42\n  \
            klaxon incidents show 42 --json"
    )]
    Show(IncidentArgs),
    /// Acknowledge an incident: escalation stops.
    #[command(
        long_about = "Acknowledge an incident (POST /v1/incidents/{id}/acknowledge): \
            escalation stops and the people already paged are told. Acknowledging twice changes \
            nothing. With --user the timeline names that user, otherwise the API key.\n\n\
            Examples:\n  \
            klaxon incidents ack 42\n  \
            klaxon incidents ack 42 --user anna"
    )]
    Ack(IncidentActionArgs),
    /// Resolve an incident.
    #[command(
        long_about = "Resolve an incident (POST /v1/incidents/{id}/resolve): escalation \
            stops and the people already paged are told.\n\n\
            Examples:\n  \
            klaxon incidents resolve 42\n  \
            klaxon incidents resolve 42 --user anna"
    )]
    Resolve(IncidentActionArgs),
    /// Snooze an acknowledged incident: it pages again when the snooze ends.
    #[command(
        long_about = "Snooze an acknowledged incident (POST /v1/incidents/{id}/snooze) for a \
            duration: when it ends the incident re-triggers and pages the tier it was on. \
            Resolving it, or acknowledging it again, cancels the snooze. A resolved or \
            unacknowledged incident is refused (409 incident_resolved / not_acknowledged).\n\n\
            Examples:\n  \
            klaxon incidents snooze 42 --for 30m\n  \
            klaxon incidents snooze 42 --for 2h --user anna"
    )]
    Snooze(SnoozeArgs),
    /// Reassign an incident to a user, a schedule or another escalation policy.
    #[command(
        long_about = "Reassign an incident (POST /v1/incidents/{id}/reassign): escalation \
            restarts at tier 0 of the new policy, or pages the user or whoever is on call on \
            the schedule (and stops after 30 minutes without an acknowledgement). An \
            acknowledged incident re-triggers. Give exactly one of --to-user, --to-schedule, \
            --to-policy.\n\n\
            Examples:\n  \
            klaxon incidents reassign 42 --to-user bob\n  \
            klaxon incidents reassign 42 --to-policy database"
    )]
    Reassign(ReassignArgs),
    /// Page more people now, without changing the escalation policy.
    #[command(
        name = "add-responder",
        long_about = "Add responders (POST /v1/incidents/{id}/responders): page users or \
            whoever is on call on schedules now, also while the incident is acknowledged. The \
            escalation policy is unchanged.\n\n\
            Examples:\n  \
            klaxon incidents add-responder 42 --responder-user carol\n  \
            klaxon incidents add-responder 42 --responder-schedule dba --responder-user dave"
    )]
    AddResponder(AddResponderArgs),
    /// Page the next tier of the escalation policy now.
    #[command(
        long_about = "Escalate now (POST /v1/incidents/{id}/escalate): page the next tier at \
            once instead of waiting for its delay. An acknowledged incident re-triggers at the \
            next tier. Past the last tier the escalation is exhausted; a resolved incident is \
            refused.\n\n\
            Examples:\n  \
            klaxon incidents escalate 42"
    )]
    Escalate(IncidentActionArgs),
    /// Add a note to an incident's timeline.
    #[command(
        long_about = "Add a note (POST /v1/incidents/{id}/notes): plain text, 1 to 4000 \
            characters, recorded on the timeline with its author (--user, or the API key).\n\n\
            Examples:\n  \
            klaxon incidents note 42 \"rolled back 1.4.2\" --user anna"
    )]
    Note(NoteArgs),
    /// Declare an incident by hand: it pages like any other.
    #[command(
        long_about = "Declare an incident (POST /v1/incidents): it goes through routing (the \
            --policy and --urgency given, else the routing rules and defaults), pages tier 0 and \
            escalates like an alert's incident. The request carries an Idempotency-Key (--key, \
            or one made for this run), so a retry opens nothing twice.\n\n\
            Examples:\n  \
            klaxon incidents declare \"Checkout is down\" --severity critical --policy payments\n  \
            klaxon incidents declare \"Bridge: EU latency\" --description \"see #inc-eu\" --user anna"
    )]
    Declare(DeclareArgs),
}

/// Arguments of `klaxon incidents declare`.
#[derive(Debug, Args)]
pub struct DeclareArgs {
    /// The incident's title (one line, at most 255 characters).
    #[arg(value_name = "TITLE")]
    pub title: String,

    /// critical, error, warning or info [default: critical].
    #[arg(long, value_name = "SEVERITY")]
    pub severity: Option<String>,

    /// high or low [default: what the routing rules say].
    #[arg(long, value_name = "URGENCY")]
    pub urgency: Option<String>,

    /// The escalation policy to page [default: what the routing rules say].
    #[arg(long, value_name = "POLICY")]
    pub policy: Option<String>,

    /// Free text for the responders.
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// The Idempotency-Key: the same key again answers the same incident [default: one made
    /// for this run].
    #[arg(long = "key", value_name = "KEY")]
    pub idempotency_key: Option<String>,

    /// The user declaring it (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon incidents snooze`.
#[derive(Debug, Args)]
pub struct SnoozeArgs {
    /// The incident, its user and the server.
    #[command(flatten)]
    pub action: IncidentActionArgs,

    /// How long (`30m`, `2h`, `1d`; 1s to 7d).
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: String,
}

/// Arguments of `klaxon incidents reassign`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("to").required(true).args(["to_user", "to_schedule", "to_policy"])))]
pub struct ReassignArgs {
    /// The incident, its user and the server.
    #[command(flatten)]
    pub action: IncidentActionArgs,

    /// Reassign to this user.
    #[arg(long, value_name = "USER")]
    pub to_user: Option<String>,

    /// Reassign to whoever is on call on this schedule.
    #[arg(long, value_name = "SCHEDULE")]
    pub to_schedule: Option<String>,

    /// Restart the escalation on this policy.
    #[arg(long, value_name = "POLICY")]
    pub to_policy: Option<String>,
}

/// Arguments of `klaxon incidents add-responder`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("who").required(true).multiple(true).args(["responder_user", "responder_schedule"])))]
pub struct AddResponderArgs {
    /// The incident, its user and the server.
    #[command(flatten)]
    pub action: IncidentActionArgs,

    /// Page this user (repeatable).
    #[arg(long, value_name = "USER")]
    pub responder_user: Vec<String>,

    /// Page whoever is on call on this schedule (repeatable).
    #[arg(long, value_name = "SCHEDULE")]
    pub responder_schedule: Vec<String>,
}

/// Arguments of `klaxon incidents note`.
#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The incident, its user and the server.
    #[command(flatten)]
    pub action: IncidentActionArgs,

    /// The note.
    #[arg(value_name = "TEXT")]
    pub text: String,
}

/// Arguments of `klaxon incidents list`.
#[derive(Debug, Args)]
pub struct IncidentsListArgs {
    /// Every incident, newest first (default: open ones, oldest first).
    #[arg(long)]
    pub all: bool,

    /// At most this many (1 to 200) [default: 50].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,

    /// Only the incidents this team owns (a team id of the configuration's `teams`).
    #[arg(long, value_name = "TEAM")]
    pub team: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments naming one incident.
#[derive(Debug, Args)]
pub struct IncidentArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "ID")]
    pub incident: String,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon incidents ack|resolve`.
#[derive(Debug, Args)]
pub struct IncidentActionArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "ID")]
    pub incident: String,

    /// The user acting (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}
