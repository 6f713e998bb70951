//! The admin page's dead letters: every dead-letter queue of the deployment with its count
//! and its oldest dead letters (attempts, when it was sent and died, the last error, the start
//! of the body, the incident it concerns), a "Redrive" form per dead letter and one per queue.
//! Admins only, checked here as on the rest of the admin page; every redrive is logged with
//! the admin who asked, as key changes are.

use super::admin::{admin_page, require_admin};
use super::handlers::{Svc, error_page, require_form_fields};
use super::service::{ConsoleError, ConsoleService, SignedIn};
use crate::dead_letters::{Concern, DeadLetter, DeadLetterQueue, DeadLetters};
use crate::ports::{EmailSender, Queue, Timers};
use crate::usecases::UseCaseError;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use klaxon_store::Store;

/// How many dead letters of each queue the page shows.
pub const SHOWN_PER_QUEUE: usize = 20;

/// How many dead letters one "Redrive all" sends back (an API Gateway request has 30 s).
pub const REDRIVE_ALL_LIMIT: usize = 100;

/// The longest dead letter id accepted (SQS message ids are 36 characters).
const MAX_ID_LEN: usize = 100;

/// One dead letter as the page shows it.
#[derive(Debug, Clone)]
pub struct DeadLetterRow {
    /// Its id (the redrive form's target).
    pub id: String,
    /// How many times it was handed out, or `?`.
    pub receives: String,
    /// When it was sent (UTC), or empty.
    pub sent: String,
    /// When it died (UTC), or empty.
    pub died: String,
    /// The last error, or empty.
    pub error: String,
    /// The start of its body.
    pub preview: String,
    /// What it concerns (`incident 0192…`), or empty.
    pub concerns: String,
    /// The incident page it concerns, if any.
    pub incident: Option<String>,
}

/// One dead-letter queue as the page shows it.
#[derive(Debug, Clone)]
pub struct DeadLetterQueueRow {
    /// Its name (`alerts`, …, `scheduler`).
    pub name: &'static str,
    /// The queue a redrive sends its messages to.
    pub source: &'static str,
    /// How many dead letters it holds.
    pub count: u64,
    /// The oldest of them, at most [`SHOWN_PER_QUEUE`].
    pub letters: Vec<DeadLetterRow>,
    /// Why it could not be listed, if it could not.
    pub error: Option<String>,
}

fn utc(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn row(letter: &DeadLetter) -> DeadLetterRow {
    let (concerns, incident) = match letter.concerns() {
        Some(Concern::Incident(id)) => (format!("incident {id}"), Some(id)),
        Some(Concern::Alert(id)) => (format!("alert {id}"), None),
        Some(Concern::Heartbeat(name)) => (format!("heartbeat {name}"), None),
        None => (String::new(), None),
    };
    DeadLetterRow {
        id: letter.id.clone(),
        receives: letter
            .receives
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        sent: utc(letter.sent_at),
        died: utc(letter.dead_at),
        error: letter.last_error.clone().unwrap_or_default(),
        preview: letter.preview(),
        concerns,
        incident,
    }
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// Every dead-letter queue with its count and oldest dead letters; `None` when this
    /// deployment gave the console no dead-letters port. A queue that cannot be listed says
    /// why instead of failing the page.
    pub(super) async fn dead_letter_rows(&self) -> Option<Vec<DeadLetterQueueRow>> {
        let port = self.dead_letter_port()?;
        let mut rows = Vec::new();
        for queue in port.queues() {
            let (count, letters, error) = match port.list(queue, SHOWN_PER_QUEUE).await {
                Ok(listing) => (
                    listing.count,
                    listing.letters.iter().map(row).collect(),
                    None,
                ),
                Err(error) => {
                    tracing::warn!(queue = queue.as_str(), %error, "console: cannot list dead letters");
                    (0, Vec::new(), Some(error.to_string()))
                }
            };
            rows.push(DeadLetterQueueRow {
                name: queue.as_str(),
                source: queue.source().as_str(),
                count,
                letters,
                error,
            });
        }
        Some(rows)
    }

    fn dead_letter_queue(
        &self,
        name: &str,
    ) -> Result<(&dyn DeadLetters, DeadLetterQueue), ConsoleError> {
        let port = self
            .dead_letter_port()
            .ok_or_else(|| UseCaseError::NotFound {
                what: "dead-letter queue",
                id: name.chars().take(40).collect(),
            })?;
        let known = port.queues();
        DeadLetterQueue::parse(name)
            .filter(|queue| known.contains(queue))
            .map(|queue| (port, queue))
            .ok_or_else(|| {
                let names: Vec<&str> = known.iter().map(|q| q.as_str()).collect();
                let message = format!("must be one of {}", names.join(", "));
                UseCaseError::invalid("queue", message).into()
            })
    }

    /// Sends dead letter `id` of queue `queue` back to its source queue, as an admin.
    /// Redriving one already redriven is a `404` (not a second message).
    pub async fn redrive_dead_letter(
        &self,
        who: &SignedIn,
        queue: &str,
        id: &str,
    ) -> Result<DeadLetterQueue, ConsoleError> {
        require_admin(who)?;
        let (port, queue) = self.dead_letter_queue(queue)?;
        if id.is_empty() || id.len() > MAX_ID_LEN || !id.chars().all(|c| c.is_ascii_graphic()) {
            return Err(UseCaseError::invalid("id", "is not a dead letter id").into());
        }
        let redriven = port.redrive(queue, id).await.map_err(UseCaseError::from)?;
        if !redriven {
            return Err(UseCaseError::NotFound {
                what: "dead letter",
                id: id.to_owned(),
            }
            .into());
        }
        tracing::info!(user = %who.user, queue = queue.as_str(), id, "console: dead letter redriven");
        Ok(queue)
    }

    /// Sends the dead letters of `queue` back to its source queue (at most
    /// [`REDRIVE_ALL_LIMIT`]), as an admin; returns how many.
    pub async fn redrive_all_dead_letters(
        &self,
        who: &SignedIn,
        queue: &str,
    ) -> Result<(DeadLetterQueue, u64), ConsoleError> {
        require_admin(who)?;
        let (port, queue) = self.dead_letter_queue(queue)?;
        let count = port
            .redrive_all(queue, REDRIVE_ALL_LIMIT)
            .await
            .map_err(UseCaseError::from)?;
        tracing::info!(user = %who.user, queue = queue.as_str(), count, "console: dead letters redriven");
        Ok((queue, count))
    }
}

/// `POST /console/admin/dead-letters/{queue}/{id}/redrive` (`csrf`): the admin page with what
/// happened.
pub(super) async fn redrive<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path((queue, id)): Path<(String, String)>,
    body: Body,
) -> Response {
    let (who, _) = match require_form_fields(&svc, &headers, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match svc.redrive_dead_letter(&who, &queue, &id).await {
        Ok(queue) => {
            let notice = format!(
                "Dead letter {id} is back on the {} queue.",
                queue.source().as_str()
            );
            admin_page(&svc, &who, None, Some(notice)).await
        }
        Err(error) => error_page(error, Some(&who)),
    }
}

/// `POST /console/admin/dead-letters/{queue}/redrive-all` (`csrf`).
pub(super) async fn redrive_all<S: Store, Q: Queue, T: Timers, E: EmailSender>(
    State(svc): State<Svc<S, Q, T, E>>,
    headers: HeaderMap,
    Path(queue): Path<String>,
    body: Body,
) -> Response {
    let (who, _) = match require_form_fields(&svc, &headers, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match svc.redrive_all_dead_letters(&who, &queue).await {
        Ok((queue, count)) => {
            let plural = if count == 1 { "" } else { "s" };
            let notice = format!(
                "{count} dead letter{plural} of {} went back on the {} queue.",
                queue.as_str(),
                queue.source().as_str()
            );
            admin_page(&svc, &who, None, Some(notice)).await
        }
        Err(error) => error_page(error, Some(&who)),
    }
}
