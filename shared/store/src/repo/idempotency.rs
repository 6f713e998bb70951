//! Idempotency records: "this request (scope, id) was handled", with a TTL, for handlers whose
//! effect is not itself conditional (an ack link clicked twice, a Slack button retried).

use super::codec::{check_key_part, from_item, to_item};
use super::schema;
use super::{RepoError, Repository};
use crate::key::{n, s};
use crate::{Condition, Key, ReturnValues, Store, StoreError, UpdateAction, attr};
use klaxon_domain::Instant;
use klaxon_domain::duration::HumanDuration;
use serde::{Deserialize, Serialize};

/// What [`Repository::begin_idempotent`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Begin {
    /// First time: handle it, then call [`Repository::complete_idempotent`].
    New,
    /// Handled before: do nothing.
    Done,
    /// Another handler started it and has not completed (or crashed; the record expires after
    /// its TTL and the request can then be handled again).
    InProgress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    InProgress,
    Done,
}

#[derive(Serialize, Deserialize)]
struct IdempotencyItem {
    pk: String,
    sk: String,
    scope: String,
    status: Status,
    started_at: Instant,
    ttl: i64,
}

/// The record's key: the id is hashed (free text from outside, any length).
fn record_key(scope: &str, id: &str) -> Result<Key, RepoError> {
    check_key_part("scope", scope, 64)?;
    if scope.contains('#') {
        return Err(RepoError::invalid("scope", "must not contain '#'"));
    }
    check_key_part("id", id, 4096)?;
    Ok(schema::idempotency_key(scope, id))
}

fn expiry(now: Instant, ttl: HumanDuration) -> i64 {
    now.timestamp().saturating_add(ttl.as_secs().max(1))
}

impl<S: Store> Repository<S> {
    /// Starts handling request `id` in `scope`: [`Begin::New`] for the first caller (the record
    /// is created in progress, expiring after `ttl`), otherwise what an earlier caller left.
    pub async fn begin_idempotent(
        &self,
        scope: &str,
        id: &str,
        ttl: HumanDuration,
    ) -> Result<Begin, RepoError> {
        let key = record_key(scope, id)?;
        let now = self.now();
        let item = IdempotencyItem {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            scope: scope.to_owned(),
            status: Status::InProgress,
            started_at: now,
            ttl: expiry(now, ttl),
        };
        match self
            .store
            .put(to_item(&item)?, Some(Condition::NotExists))
            .await
        {
            Ok(()) => Ok(Begin::New),
            Err(StoreError::ConditionFailed {
                existing: Some(existing),
                ..
            }) => match from_item::<IdempotencyItem>(*existing)?.status {
                Status::Done => Ok(Begin::Done),
                Status::InProgress => Ok(Begin::InProgress),
            },
            // Gone between the check and the report (expired): report it as taken, the caller
            // retries later.
            Err(StoreError::ConditionFailed { existing: None, .. }) => Ok(Begin::InProgress),
            Err(other) => Err(other.into()),
        }
    }

    /// Marks request `id` in `scope` as handled, keeping the record for `ttl` from now.
    pub async fn complete_idempotent(
        &self,
        scope: &str,
        id: &str,
        ttl: HumanDuration,
    ) -> Result<(), RepoError> {
        let key = record_key(scope, id)?;
        let now = self.now();
        self.store
            .update(
                &key,
                vec![
                    UpdateAction::set("scope", s(scope)),
                    UpdateAction::set("status", s("done")),
                    UpdateAction::set_if_absent("started_at", super::codec::time_value(now)),
                    UpdateAction::set(attr::TTL, n(expiry(now, ttl))),
                ],
                None,
                ReturnValues::None,
            )
            .await?;
        Ok(())
    }
}
