//! Web console state: sessions, one-time sign-in tokens and per-address sign-in counters. All
//! three are short-lived items with a TTL, keyed by the SHA-256 of their secret or address (the
//! store never holds a token a reader could replay, nor a list of addresses).

use super::codec::{check_key_part, from_item, to_item};
use super::schema;
use super::{RepoError, Repository};
use crate::key::n;
use crate::{Condition, ReturnValues, Store, StoreError, UpdateAction, attr};
use klaxon_domain::Instant;
use klaxon_domain::ids::UserId;
use serde::{Deserialize, Serialize};

/// The longest secret (session or sign-in token) accepted as part of a key lookup.
const MAX_SECRET_BYTES: usize = 256;

/// A signed-in console session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleSession {
    /// The configuration user it belongs to.
    pub user: UserId,
    /// The session's CSRF token, which every state-changing form must carry.
    pub csrf: String,
    /// When it was created.
    pub created_at: Instant,
    /// When it stops working.
    pub expires_at: Instant,
}

/// A one-time sign-in token as issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigninToken {
    /// The user it signs in.
    pub user: UserId,
    /// When it stops working.
    pub expires_at: Instant,
}

#[derive(Serialize, Deserialize)]
struct SessionItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    session: ConsoleSession,
    ttl: i64,
}

#[derive(Serialize, Deserialize)]
struct SigninItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    token: SigninToken,
    ttl: i64,
}

fn check_secret(field: &str, secret: &str) -> Result<(), RepoError> {
    check_key_part(field, secret, MAX_SECRET_BYTES)
}

impl<S: Store> Repository<S> {
    /// Stores a new session under `token` (its hash), expiring at `session.expires_at`. A
    /// token already in use is [`RepoError::AlreadyExists`].
    pub async fn create_session(
        &self,
        token: &str,
        session: &ConsoleSession,
    ) -> Result<(), RepoError> {
        check_secret("session", token)?;
        let key = schema::session_key(token);
        let item = SessionItem {
            pk: key.pk,
            sk: key.sk,
            session: session.clone(),
            ttl: session.expires_at.timestamp(),
        };
        match self
            .store
            .put(to_item(&item)?, Some(Condition::NotExists))
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Err(RepoError::AlreadyExists {
                entity: "session",
                id: "(token)".into(),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// The session of `token`, if it exists and has not expired.
    pub async fn session(&self, token: &str) -> Result<Option<ConsoleSession>, RepoError> {
        if check_secret("session", token).is_err() {
            return Ok(None);
        }
        let Some(item) = self.store.get(&schema::session_key(token)).await? else {
            return Ok(None);
        };
        let item: SessionItem = from_item(item)?;
        Ok(Some(item.session).filter(|s| s.expires_at > self.now()))
    }

    /// Ends the session of `token` (sign-out). True when there was one.
    pub async fn revoke_session(&self, token: &str) -> Result<bool, RepoError> {
        if check_secret("session", token).is_err() {
            return Ok(false);
        }
        let deleted = self.store.delete(&schema::session_key(token), None).await?;
        Ok(deleted.is_some())
    }

    /// Records a one-time sign-in token (by its hash), expiring at `token.expires_at`.
    pub async fn create_signin_token(
        &self,
        secret: &str,
        token: &SigninToken,
    ) -> Result<(), RepoError> {
        check_secret("sign-in token", secret)?;
        let key = schema::signin_token_key(secret);
        let item = SigninItem {
            pk: key.pk,
            sk: key.sk,
            token: token.clone(),
            ttl: token.expires_at.timestamp(),
        };
        match self
            .store
            .put(to_item(&item)?, Some(Condition::NotExists))
            .await
        {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { .. }) => Err(RepoError::AlreadyExists {
                entity: "sign-in token",
                id: "(token)".into(),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// Uses up a sign-in token: deletes it on the condition that it exists and returns what it
    /// was. `None` when it was never issued, has expired or was used already (so only one of
    /// two concurrent uses succeeds).
    pub async fn consume_signin_token(
        &self,
        secret: &str,
    ) -> Result<Option<SigninToken>, RepoError> {
        if check_secret("sign-in token", secret).is_err() {
            return Ok(None);
        }
        let key = schema::signin_token_key(secret);
        match self.store.delete(&key, Some(Condition::Exists)).await {
            Ok(Some(item)) => {
                let item: SigninItem = from_item(item)?;
                Ok(Some(item.token).filter(|t| t.expires_at > self.now()))
            }
            Ok(None) | Err(StoreError::ConditionFailed { .. }) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Counts one sign-in request for `address` in the current window and returns the count
    /// so far. The window starts with the first request and lasts `window_secs` (the counter
    /// item expires then, and the next request starts a new window).
    pub async fn count_signin_request(
        &self,
        address: &str,
        window_secs: i64,
    ) -> Result<u64, RepoError> {
        let address = address.trim().to_lowercase();
        check_key_part("address", &address, 1024)?;
        let key = schema::signin_rate_key(&address);
        let expires = self.now().timestamp().saturating_add(window_secs.max(1));
        let item = self
            .store
            .update(
                &key,
                vec![
                    UpdateAction::add("count", 1),
                    UpdateAction::set_if_absent(attr::TTL, n(expires)),
                ],
                None,
                ReturnValues::AllNew,
            )
            .await?
            .ok_or_else(|| RepoError::corrupt(&key, "*", "the update returned no item"))?;
        #[derive(Deserialize)]
        struct Counter {
            count: u64,
        }
        Ok(from_item::<Counter>(item)?.count)
    }
}
