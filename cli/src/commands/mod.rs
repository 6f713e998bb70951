//! One module per command group. Each command builds a report (serialisable for `--json`),
//! renders it as text or JSON, and returns its exit status.

mod analytics;
mod api;
mod apply;
mod config;
mod dead_letters;
mod heartbeats;
pub(crate) mod import;
mod keys;
mod link_secret;
mod oncall;
mod postmortem;
mod responder;
mod route;
mod schedule;
mod serve;
pub(crate) mod store;

use crate::args::{
    Cli, Command, ConfigCommand, DeadLettersCommand, HeartbeatsCommand, IncidentsCommand,
    KeysCommand, OverridesCommand, RouteCommand, ScheduleCommand,
};
use klaxon_domain::config::Config;
use klaxon_domain::ids::ScheduleId;
use klaxon_domain::schedule::Schedule;
use std::path::PathBuf;
use std::process::ExitCode;

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let output = Output { json: cli.json };
    if let Command::Serve(args) = &cli.command {
        return serve::run(args, cli.config.as_deref(), output);
    }
    let config_path = cli
        .config
        .unwrap_or_else(|| PathBuf::from(crate::args::DEFAULT_CONFIG));
    let config_path = config_path.as_path();
    match cli.command {
        Command::Serve(_) => Ok(ExitCode::SUCCESS),
        Command::Config(ConfigCommand::Validate(args)) => {
            config::validate(&args, config_path, output)
        }
        Command::Config(ConfigCommand::Apply(args)) => apply::run(&args, config_path, output),
        Command::Keys(KeysCommand::Create(args)) => keys::create(&args, output),
        Command::Keys(KeysCommand::List(args)) => keys::list(&args, output),
        Command::Keys(KeysCommand::Revoke(args)) => keys::revoke(&args, output),
        Command::Keys(KeysCommand::RotateLinkSecret(args)) => link_secret::run(&args, output),
        Command::Keys(KeysCommand::ImportLinkSecret(args)) => link_secret::import(&args, output),
        Command::Incidents(IncidentsCommand::List(args)) => api::list(&args, output),
        Command::Incidents(IncidentsCommand::Show(args)) => api::show(&args, output),
        Command::Incidents(IncidentsCommand::Ack(args)) => api::acknowledge(&args, output),
        Command::Incidents(IncidentsCommand::Resolve(args)) => api::resolve(&args, output),
        Command::Incidents(IncidentsCommand::Snooze(args)) => responder::snooze(&args, output),
        Command::Incidents(IncidentsCommand::Reassign(args)) => responder::reassign(&args, output),
        Command::Incidents(IncidentsCommand::AddResponder(args)) => {
            responder::add_responder(&args, output)
        }
        Command::Incidents(IncidentsCommand::Escalate(args)) => responder::escalate(&args, output),
        Command::Incidents(IncidentsCommand::Note(args)) => responder::note(&args, output),
        Command::Incidents(IncidentsCommand::Declare(args)) => responder::declare(&args, output),
        Command::Overrides(OverridesCommand::Add(args)) => api::add_override(&args, output),
        Command::Overrides(OverridesCommand::List(args)) => api::list_overrides(&args, output),
        Command::Overrides(OverridesCommand::Remove(args)) => api::remove_override(&args, output),
        Command::Heartbeats(HeartbeatsCommand::List(args)) => heartbeats::list(&args, output),
        Command::Postmortem(command) => postmortem::run(&command, output),
        Command::ActionItems(command) => postmortem::action_items(&command, output),
        Command::DeadLetters(DeadLettersCommand::List(args)) => dead_letters::list(&args, output),
        Command::DeadLetters(DeadLettersCommand::Redrive(args)) => {
            dead_letters::redrive(&args, output)
        }
        Command::Route(RouteCommand::Test(args)) => route::test(&args, config_path, output),
        Command::Oncall(args) => oncall::run(&args, config_path, output),
        Command::Analytics(args) => analytics::run(&args, output),
        Command::Schedule(ScheduleCommand::Show(args)) => {
            schedule::show(&args, config_path, output)
        }
        Command::Schedule(ScheduleCommand::Export(args)) => {
            schedule::export(&args, config_path, output)
        }
        Command::Import(command) => import::run(&command, output),
    }
}

/// How to print results.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// JSON instead of text.
    pub json: bool,
}

/// The schedule `id`, or an error listing the known ones.
pub fn find_schedule<'a>(config: &'a Config, id: &str) -> anyhow::Result<&'a Schedule> {
    ScheduleId::new(id)
        .ok()
        .and_then(|id| config.schedule(&id))
        .ok_or_else(|| {
            let known: Vec<&str> = config.schedules.iter().map(|s| s.id.as_str()).collect();
            if known.is_empty() {
                anyhow::anyhow!("unknown schedule '{id}' (the configuration defines no schedules)")
            } else {
                anyhow::anyhow!("unknown schedule '{id}' (known: {})", known.join(", "))
            }
        })
}

/// The display name of user `id`: `Chloé Martin (chloe)`.
pub fn user_label(config: &Config, id: &klaxon_domain::ids::UserId) -> String {
    match config.user(id) {
        Some(user) => format!("{} ({id})", user.name),
        None => id.to_string(),
    }
}
