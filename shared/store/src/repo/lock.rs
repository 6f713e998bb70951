//! Retrying an operation that lost an optimistic-lock race: the one loop every versioned
//! write (in this crate and in the use cases) goes through.

use super::RepoError;
use std::future::Future;

/// How many times an operation that lost a race re-reads and tries again before it reports
/// [`RepoError::Conflict`].
pub const LOCK_ATTEMPTS: u32 = 16;

/// What one attempt under an optimistic lock came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    /// The operation finished with this value.
    Done(T),
    /// It lost a race (the item changed since it was read): read again and retry.
    Retry,
}

/// Runs `attempt` until it is [`Attempt::Done`] or fails, at most [`LOCK_ATTEMPTS`] times;
/// when every attempt lost its race, the error is [`RepoError::Conflict`] on `entity` `id`.
///
/// `attempt` is a `move || async move { … }` closure over references: an `async` closure
/// would be simpler, but its futures are not provably `Send` (rust-lang/rust#110338 and
/// kin), which the axum handlers need.
pub async fn retry_on_conflict<T, E, F, Fut>(
    entity: &'static str,
    id: impl Into<String>,
    mut attempt: F,
) -> Result<T, E>
where
    E: From<RepoError>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, E>>,
{
    for _ in 0..LOCK_ATTEMPTS {
        if let Attempt::Done(value) = attempt().await? {
            return Ok(value);
        }
    }
    Err(RepoError::conflict(entity, id).into())
}
