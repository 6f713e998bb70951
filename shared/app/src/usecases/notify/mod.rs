//! Notify: sends pages and notices (the `notify` function, fed by the notifications queue).
//!
//! - Page: if the incident still pages (triggered), resolve the tier's targets to users at the
//!   page's `resolve_at` (schedules with their overrides), and send each user's channels for
//!   the page's urgency. Each (incident, round, tier, user, channel) has one delivery record,
//!   claimed before sending and finished after with a timeline entry, so a redelivered message
//!   sends nothing twice. Generic webhooks get one record per configured endpoint (the key ends
//!   in the endpoint's name), so one failing endpoint is retried without resending to the
//!   others.
//! - Notice: tells each (user, channel) already paged that the incident was acknowledged or
//!   resolved, once.
//!
//! Failures: a channel that cannot work (no address, endpoint not configured, environment
//! variable unset) or a provider's permanent refusal is recorded as a permanent failure on the
//! timeline and never retried. Transient failures are recorded as such and make `handle`
//! return an error at the end, so the queue redelivers the message; the retry claims only the
//! deliveries that failed (the queue's redrive policy ends in the dead-letter queue).
//!
//! This module claims, sends and finishes deliveries; `channels` resolves where each goes and
//! sends it, `timeline` writes the entry each attempt records.

mod channels;
mod timeline;

use super::lifecycle::is_paging;
use super::{Core, UseCaseError};
use crate::messages::{Notice, NoticeKind, QueueMessage};
use crate::oncall::Roster;
use crate::ports::{EmailSender, SendError, SmsSender, WebhookSender};
use crate::render::{PageLinks, Purpose, RenderInput};
use crate::security::links::{LinkAction, LinkSigner};
use channels::Job;
use chrono::TimeDelta;
use klaxon_domain::Instant;
use klaxon_domain::duration::HumanDuration;
use klaxon_domain::escalation::{PageRequest, Target};
use klaxon_domain::ids::{IncidentId, ScheduleId, UserId};
use klaxon_domain::incident::{Incident, IncidentStatus};
use klaxon_domain::quiet::{self, PageDecision};
use klaxon_domain::schedule::Override;
use klaxon_domain::timeline::TimelineDraft;
use klaxon_domain::user::Channel;
use klaxon_store::Store;
use klaxon_store::repo::{Claim, Delivery, DeliveryOutcome, RepoError};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use timeline::notice_name;

/// How long a claimed delivery may stay unfinished before another sender takes it over (the
/// sender that claimed it is presumed dead).
pub const STALE_CLAIM: HumanDuration = HumanDuration::from_mins(5);

/// Tries at recording a delivery's outcome when the store fails transiently.
const FINISH_ATTEMPTS: u32 = 6;

/// The wait before the first retry of recording an outcome (doubling: 25 ms to 400 ms).
const FINISH_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(25);

/// The path of the signed acknowledge/resolve links, under the public base URL.
pub const LINKS_PATH: &str = "/v1/links";

/// How long a re-trigger's page waits for the re-trigger's commit (see
/// `NotifyService::re_trigger_pending`). Routing commits within milliseconds of queueing;
/// two minutes keeps the retries (2 s doubling locally, 30 s doubling on AWS) under the
/// queues' receive limits.
pub const RE_TRIGGER_PATIENCE: TimeDelta = TimeDelta::minutes(2);

/// Looks up an environment variable (the `${VAR}` references of webhook URLs and secrets).
/// Injected so tests never touch the process environment.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// An [`EnvLookup`] over the process environment (for binaries).
pub fn process_env() -> EnvLookup {
    Arc::new(|name| std::env::var(name).ok())
}

/// The senders notify uses, one per kind of provider.
#[derive(Debug, Clone)]
pub struct Senders<E, M, W> {
    /// Email.
    pub email: E,
    /// SMS.
    pub sms: M,
    /// Slack, Teams and generic webhooks.
    pub webhook: W,
}

/// Why nothing was sent for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The incident does not exist.
    UnknownIncident,
    /// The incident was acknowledged or resolved before the page went out.
    NoLongerPaging(IncidentStatus),
    /// The page's targets resolve to nobody (the configuration changed since routing).
    NobodyToPage,
}

/// What handling one message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// Nothing was sent, and nothing will be.
    Skipped(SkipReason),
    /// Deliveries were handled.
    Delivered(DeliveryReport),
}

/// Counts of the deliveries one message led to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Sent now.
    pub sent: usize,
    /// Sent or failed for good before (a redelivered message), or claimed by another sender
    /// right now (the message is then retried, in case that sender dies): not sent now.
    pub already_handled: usize,
    /// Failed for good now (recorded on the timeline, not retried).
    pub failed_permanently: usize,
}

/// Page or notice, for timeline entries and keys.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Page { round: u32, tier: u32 },
    Notice(NoticeKind),
}

#[derive(Default)]
struct Tally {
    report: DeliveryReport,
    transient: Vec<String>,
}

/// The notify use case.
pub struct NotifyService<S, E, M, W> {
    core: Core<S>,
    senders: Senders<E, M, W>,
    links: LinkSigner,
    links_url: String,
    env: EnvLookup,
}

crate::fmt_hidden::opaque_debug!(NotifyService<S, E, M, W>);

impl<S, E, M, W> NotifyService<S, E, M, W>
where
    S: Store,
    E: EmailSender,
    M: SmsSender,
    W: WebhookSender,
{
    /// Assembles the service. `public_base_url` is where Klaxon's HTTP API is reachable (the
    /// API Gateway URL or `klaxon serve`'s address); links in pages point at
    /// `{public_base_url}/v1/links`. `env` resolves the configuration's `${VAR}` references.
    pub fn new(
        core: Core<S>,
        senders: Senders<E, M, W>,
        links: LinkSigner,
        public_base_url: &str,
        env: EnvLookup,
    ) -> Self {
        Self {
            core,
            senders,
            links,
            links_url: format!("{}{LINKS_PATH}", public_base_url.trim_end_matches('/')),
            env,
        }
    }

    /// The shared core.
    pub fn core(&self) -> &Core<S> {
        &self.core
    }

    /// Handles one message from the notifications queue: a [`QueueMessage::Page`] or
    /// [`QueueMessage::Notice`]. Other kinds are refused so they end in the dead-letter queue.
    /// An error that [`UseCaseError::is_transient`] means: retry the message later.
    pub async fn handle(&self, message: &QueueMessage) -> Result<NotifyOutcome, UseCaseError> {
        match message {
            QueueMessage::Page(page) => self.page(page).await,
            QueueMessage::Notice(notice) => self.notice(notice).await,
            other => Err(UseCaseError::invalid(
                "kind",
                format!(
                    "notify does not handle messages of the {:?} queue",
                    other.queue().as_str()
                ),
            )),
        }
    }

    /// A page of a re-trigger (snooze end, acknowledgement timeout, escalation by hand) is
    /// queued before the re-trigger commits, so it can arrive while the incident still reads as
    /// acknowledged in the cycle before: that page is early, not late. It is failed
    /// transiently (the queue delivers it again) while it is younger than
    /// [`RE_TRIGGER_PATIENCE`]; older, the re-trigger lost its commit (to a resolve, say) and the
    /// page is skipped. If routing crashed before its commit, its retry queues a fresh copy.
    fn re_trigger_pending(&self, page: &PageRequest, incident: &Incident) -> Option<UseCaseError> {
        let state = incident.escalation()?;
        let early = incident.status() == IncidentStatus::Acknowledged
            && page.responders.is_none()
            && page.cycle > state.cycle()
            && self.core.now() - page.resolve_at < RE_TRIGGER_PATIENCE;
        early.then(|| UseCaseError::PageAhead {
            incident: page.incident.to_string(),
            page: page.cycle,
            state: state.cycle(),
        })
    }

    async fn page(&self, page: &PageRequest) -> Result<NotifyOutcome, UseCaseError> {
        let Some(stored) = self.core.repo.incident(&page.incident).await? else {
            tracing::warn!(incident = %page.incident, "page for an unknown incident");
            return Ok(NotifyOutcome::Skipped(SkipReason::UnknownIncident));
        };
        // Responders added by hand are paged while the incident is acknowledged too.
        let wanted = |status| {
            is_paging(status)
                || (page.responders.is_some() && status == IncidentStatus::Acknowledged)
        };
        if !wanted(stored.incident.status()) {
            if let Some(ahead) = self.re_trigger_pending(page, &stored.incident) {
                return Err(ahead);
            }
            return Ok(NotifyOutcome::Skipped(SkipReason::NoLongerPaging(
                stored.incident.status(),
            )));
        }
        let config = self.core.config().await?;
        let overrides = self.overrides_at(&page.targets, page.resolve_at).await?;
        let users =
            Roster::new(&config.config, overrides).resolve_all(&page.targets, page.resolve_at);
        if users.is_empty() {
            tracing::warn!(incident = %page.incident, round = page.round, tier = page.tier, "the page's targets resolve to nobody");
            return Ok(NotifyOutcome::Skipped(SkipReason::NobodyToPage));
        }
        let expires = self.core.now() + config.settings.ack_link_lifetime.to_delta();
        let kind = Kind::Page {
            round: page.round,
            tier: page.tier,
        };
        let mut tally = Tally::default();
        let mut incident = stored.incident;
        for (position, user_id) in users.iter().enumerate() {
            if position > 0 {
                // An acknowledgement may have committed while earlier users were paged: read
                // the incident again so nobody else is paged after it.
                match self.core.repo.incident(&page.incident).await? {
                    Some(fresh) if wanted(fresh.incident.status()) => incident = fresh.incident,
                    _ => break,
                }
            }
            let Some(user) = config.user(user_id) else {
                continue;
            };
            let links = self.page_links(incident.id(), &user.id, expires);
            let input = RenderInput {
                incident: &incident,
                user,
                purpose: Purpose::Page {
                    round: page.round,
                    tier: page.tier,
                    urgency: page.urgency,
                    links: &links,
                },
            };
            // Quiet hours and minimum severities, decided at the instant the page was planned
            // (its `resolve_at`), as routing decided when it armed the quiet-hours timer.
            let channels = match quiet::decide(
                user,
                page.urgency,
                incident.severity(),
                page.resolve_at,
            ) {
                PageDecision::Send(channels) => channels,
                // Only a page routing planned quiet hours for is held: its timer pages again.
                PageDecision::Defer { .. } if !page.quiet_hours => {
                    quiet::channels_at_severity(user, page.urgency, incident.severity())
                }
                PageDecision::Defer { until } => {
                    tracing::info!(incident = %page.incident, user = %user.id, %until, "low-urgency page deferred to the end of the user's quiet hours");
                    continue;
                }
            };
            for channel in channels {
                let base = Delivery::page(page, &user.id, channel);
                for job in self.jobs(&config, user, channel, base) {
                    self.attempt(job, kind, &input, &mut tally).await?;
                }
            }
        }
        tally.finish()
    }

    async fn notice(&self, notice: &Notice) -> Result<NotifyOutcome, UseCaseError> {
        let Some(stored) = self.core.repo.incident(&notice.incident).await? else {
            tracing::warn!(incident = %notice.incident, "notice for an unknown incident");
            return Ok(NotifyOutcome::Skipped(SkipReason::UnknownIncident));
        };
        let config = self.core.config().await?;
        let kind = Kind::Notice(notice.notice);
        let recipients: BTreeSet<&(UserId, Channel)> = notice.recipients.iter().collect();
        let mut tally = Tally::default();
        for (user_id, channel) in recipients {
            let Some(user) = config.user(user_id) else {
                tracing::warn!(incident = %notice.incident, user = %user_id, "notice recipient is no longer in the configuration");
                continue;
            };
            let input = RenderInput {
                incident: &stored.incident,
                user,
                purpose: Purpose::Notice {
                    kind: notice.notice,
                    actor: &notice.actor,
                },
            };
            let base = Delivery::notice(
                &notice.incident,
                notice_name(notice.notice),
                &user.id,
                *channel,
            );
            for job in self.jobs(&config, user, *channel, base) {
                self.attempt(job, kind, &input, &mut tally).await?;
            }
        }
        tally.finish()
    }

    /// The overrides of every schedule among `targets`, in force at `at`.
    async fn overrides_at(
        &self,
        targets: &[Target],
        at: Instant,
    ) -> Result<HashMap<ScheduleId, Vec<Override>>, UseCaseError> {
        let mut overrides = HashMap::new();
        for target in targets {
            if let Target::Schedule(schedule) = target
                && !overrides.contains_key(schedule)
            {
                let list = self
                    .core
                    .repo
                    .overrides(schedule, at, at + TimeDelta::seconds(1))
                    .await?;
                overrides.insert(schedule.clone(), list);
            }
        }
        Ok(overrides)
    }

    fn page_links(&self, incident: &IncidentId, user: &UserId, expires: Instant) -> PageLinks {
        let ack = self.links.sign(incident, user, LinkAction::Ack, expires);
        let resolve = self
            .links
            .sign(incident, user, LinkAction::Resolve, expires);
        PageLinks {
            ack: self.links.url(&self.links_url, &ack),
            resolve: self.links.url(&self.links_url, &resolve),
        }
    }

    /// Claims, sends and finishes one delivery.
    async fn attempt(
        &self,
        job: Job,
        kind: Kind,
        input: &RenderInput<'_>,
        tally: &mut Tally,
    ) -> Result<(), UseCaseError> {
        let attempt = match self
            .core
            .repo
            .claim_delivery(&job.delivery, STALE_CLAIM)
            .await?
        {
            Claim::Claimed { attempt } => attempt,
            Claim::AlreadySent | Claim::FailedPermanently => {
                tally.report.already_handled += 1;
                return Ok(());
            }
            Claim::InFlight => {
                // Someone else holds a fresh claim. If that sender died before recording the
                // outcome, only a retry of this message (after the claim goes stale) sends the
                // page, so this counts as a transient failure rather than as handled.
                tally.report.already_handled += 1;
                tally
                    .transient
                    .push(format!("{}: claimed by another sender", job.delivery.key));
                return Ok(());
            }
        };
        let result = match &job.route {
            Ok(route) => self.send(route, input).await,
            Err(reason) => Err(SendError::Permanent(reason.clone())),
        };
        let outcome = match &result {
            Ok(provider_id) => DeliveryOutcome::Sent {
                provider_id: provider_id.clone(),
            },
            Err(SendError::Permanent(error)) => DeliveryOutcome::Failed {
                permanent: true,
                error: error.clone(),
            },
            Err(SendError::Transient(error)) => DeliveryOutcome::Failed {
                permanent: false,
                error: error.clone(),
            },
        };
        let draft = self.timeline(&job, kind, attempt, &outcome)?;
        self.finish(&job, attempt, &outcome, &draft).await?;
        match outcome {
            DeliveryOutcome::Sent { .. } => tally.report.sent += 1,
            DeliveryOutcome::Failed {
                permanent: true,
                error,
            } => {
                tracing::warn!(delivery = %job.delivery.key, %error, "delivery failed permanently");
                tally.report.failed_permanently += 1;
            }
            DeliveryOutcome::Failed {
                permanent: false,
                error,
            } => {
                tracing::warn!(delivery = %job.delivery.key, %error, "delivery failed; it will be retried");
                tally
                    .transient
                    .push(format!("{}: {error}", job.delivery.key));
            }
        }
        Ok(())
    }
}

impl<S, E, M, W> NotifyService<S, E, M, W>
where
    S: Store,
{
    /// Records a delivery's outcome, retrying a store that fails transiently: once the
    /// provider has the message, this record is all that stops a second copy (a retry of the
    /// message would find the claim in flight, and send again once it went stale), so a
    /// store blip must not abandon it.
    async fn finish(
        &self,
        job: &Job,
        attempt: u32,
        outcome: &DeliveryOutcome,
        draft: &TimelineDraft,
    ) -> Result<(), UseCaseError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let result = self
                .core
                .repo
                .finish_delivery(
                    &job.delivery.incident,
                    &job.delivery.key,
                    attempt,
                    outcome,
                    draft,
                )
                .await;
            match result {
                Ok(()) => return Ok(()),
                Err(RepoError::Conflict { .. }) => {
                    // The claim is no longer this attempt's: another sender took the delivery
                    // over after it went stale, or an earlier try of this finish was applied
                    // but its answer lost. Either way the outcome is recorded.
                    tracing::warn!(delivery = %job.delivery.key, "delivery finished elsewhere");
                    return Ok(());
                }
                Err(RepoError::Store(error)) if error.is_transient() && tries < FINISH_ATTEMPTS => {
                    tracing::warn!(delivery = %job.delivery.key, %error, "recording the delivery failed; retrying");
                    tokio::time::sleep(FINISH_RETRY_DELAY * 2u32.pow(tries - 1)).await;
                }
                Err(other) => return Err(other.into()),
            }
        }
    }
}

impl Tally {
    fn finish(self) -> Result<NotifyOutcome, UseCaseError> {
        if self.transient.is_empty() {
            return Ok(NotifyOutcome::Delivered(self.report));
        }
        Err(UseCaseError::Send(SendError::Transient(format!(
            "{} deliveries failed and will be retried ({} sent): {}",
            self.transient.len(),
            self.report.sent,
            self.transient.join("; ")
        ))))
    }
}
