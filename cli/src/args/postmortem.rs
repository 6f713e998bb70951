//! Arguments of `klaxon postmortem …` and `klaxon action-items …`.

use super::ApiArgs;
use clap::{ArgGroup, Args, Subcommand};
use std::path::PathBuf;

/// `klaxon postmortem …`.
#[derive(Debug, Subcommand)]
pub enum PostmortemCommand {
    /// Start an incident's post-mortem from a template, pre-filled with its facts.
    #[command(
        long_about = "Create an incident's post-mortem (POST /v1/incidents/{id}/postmortem) \
            from a template of the configuration's postmortem_templates (without --template: \
            the one marked default, else Klaxon's own `default`). It starts as a draft, \
            pre-filled with what Klaxon knows: the impact window (first alert to resolve), the \
            responders, the pages, acknowledgements, escalations and notes of the timeline, \
            and the response metrics. An incident still open may get a draft; it goes to review \
            once resolved. One post-mortem per incident: a second create is refused \
            (409 postmortem_exists).\n\n\
            Examples:\n  \
            klaxon postmortem create 42\n  \
            klaxon postmortem create 42 --template security --user anna"
    )]
    Create(PostmortemCreateArgs),
    /// Show an incident's post-mortem: status, facts, sections, action items.
    #[command(
        long_about = "Show an incident's post-mortem (GET /v1/incidents/{id}/postmortem): \
            status, version, facts, sections and action items.\n\n\
            Examples:\n  \
            klaxon postmortem show 42\n  \
            klaxon postmortem show 42 --json"
    )]
    Show(PostmortemArgs),
    /// Write one section (Markdown) of a post-mortem; a new title adds a section.
    #[command(long_about = "Set the Markdown body of one section (PATCH \
            /v1/incidents/{id}/postmortem): the section titled --section gets the text of \
            --body or of --file (`-` reads standard input); a title the post-mortem does not \
            have adds a section at the end. With --version the change applies only if the \
            post-mortem is still at that version (409 version_conflict otherwise). A published \
            post-mortem's sections are final (409 postmortem_published).\n\n\
            Examples:\n  \
            klaxon postmortem edit 42 --section 'Root cause' --body 'WAL archiving stopped.'\n  \
            klaxon postmortem edit 42 --section Summary --file summary.md --version 3")]
    Edit(PostmortemEditArgs),
    /// Move a post-mortem to draft, in-review or published.
    #[command(
        long_about = "Set a post-mortem's status (PATCH /v1/incidents/{id}/postmortem): \
            draft → in-review → published, and in-review back to draft. Review needs the \
            incident resolved (409 incident_not_resolved) and refreshes the facts; publishing \
            twice changes nothing; any other move is refused (409 invalid_transition).\n\n\
            Examples:\n  \
            klaxon postmortem status 42 in-review\n  \
            klaxon postmortem status 42 published --user anna"
    )]
    Status(PostmortemStatusArgs),
    /// Print a post-mortem as Markdown.
    #[command(
        long_about = "Print an incident's post-mortem as a Markdown document (GET \
            /v1/incidents/{id}/postmortem with Accept: text/markdown): facts, timeline, \
            sections and action items as a task list.\n\n\
            Examples:\n  \
            klaxon postmortem export 42 > pm.md"
    )]
    Export(PostmortemArgs),
}

/// Arguments naming one incident's post-mortem.
#[derive(Debug, Args)]
pub struct PostmortemArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "INCIDENT")]
    pub incident: String,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon postmortem create`.
#[derive(Debug, Args)]
pub struct PostmortemCreateArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "INCIDENT")]
    pub incident: String,

    /// The template (a name of the configuration's postmortem_templates, or `default`).
    #[arg(long, value_name = "NAME")]
    pub template: Option<String>,

    /// The user acting (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon postmortem edit`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("text").args(["body", "file"]).required(true)))]
pub struct PostmortemEditArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "INCIDENT")]
    pub incident: String,

    /// The section's title.
    #[arg(long, value_name = "TITLE")]
    pub section: String,

    /// The section's Markdown text.
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,

    /// A file holding the section's Markdown text (`-`: standard input).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,

    /// Apply only if the post-mortem is at this version.
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,

    /// The user acting (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon postmortem status`.
#[derive(Debug, Args)]
pub struct PostmortemStatusArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "INCIDENT")]
    pub incident: String,

    /// The status: draft, in-review or published.
    #[arg(value_name = "STATUS", value_parser = ["draft", "in-review", "in_review", "published"])]
    pub status: String,

    /// Apply only if the post-mortem is at this version.
    #[arg(long, value_name = "N")]
    pub version: Option<u64>,

    /// The user acting (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `klaxon action-items …`.
#[derive(Debug, Subcommand)]
pub enum ActionItemsCommand {
    /// Action items across every post-mortem.
    #[command(
        long_about = "List post-mortem action items across incidents (GET /v1/action-items): \
            with --open only those not done, soonest due first (undated last); otherwise all, \
            newest first.\n\n\
            Examples:\n  \
            klaxon action-items list --open\n  \
            klaxon action-items list --json"
    )]
    List(ActionItemsListArgs),
    /// Add an action item to an incident's post-mortem.
    #[command(
        long_about = "Add an action item (POST /v1/incidents/{id}/postmortem/action-items): \
            a title, optionally an owner (a user id of the configuration) and a due date. It \
            starts open. Prints the item's id, which `action-items done` takes.\n\n\
            Examples:\n  \
            klaxon action-items add 42 'Alert on disk at 80%' --owner bob --due 2026-04-01"
    )]
    Add(ActionItemAddArgs),
    /// Mark an action item done (or open again with --reopen).
    #[command(long_about = "Mark an action item done (PATCH \
            /v1/incidents/{id}/postmortem/action-items/{item}); with --reopen, open again. \
            Marking it done twice changes nothing.\n\n\
            Examples:\n  \
            klaxon action-items done 42 ai-3f2a9c01d4e5\n  \
            klaxon action-items done 42 ai-3f2a9c01d4e5 --reopen")]
    Done(ActionItemDoneArgs),
}

/// Arguments of `klaxon action-items list`.
#[derive(Debug, Args)]
pub struct ActionItemsListArgs {
    /// Only the items not done yet.
    #[arg(long)]
    pub open: bool,

    /// At most this many (1 to 200) [default: 100].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: Option<u32>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon action-items add`.
#[derive(Debug, Args)]
pub struct ActionItemAddArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "INCIDENT")]
    pub incident: String,

    /// What to do.
    #[arg(value_name = "TITLE")]
    pub title: String,

    /// Who does it (a user id of the configuration).
    #[arg(long, value_name = "USER")]
    pub owner: Option<String>,

    /// By when (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub due: Option<String>,

    /// The user acting (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Arguments of `klaxon action-items done`.
#[derive(Debug, Args)]
pub struct ActionItemDoneArgs {
    /// The incident's number (42) or id.
    #[arg(value_name = "INCIDENT")]
    pub incident: String,

    /// The item's id (from `action-items add` or `list`).
    #[arg(value_name = "ITEM")]
    pub item: String,

    /// Open it again instead.
    #[arg(long)]
    pub reopen: bool,

    /// The user acting (a user id of the configuration) [default: the API key].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// The server.
    #[command(flatten)]
    pub api: ApiArgs,
}
