//! Secrets in AWS Secrets Manager: the link signing keys, the Slack signing secret and the
//! webhook secrets the configuration's `${VAR}` references name.
//!
//! Functions get only each secret's ARN in their environment (`*_SECRET_ARN`, `*_SECRETS_ARN`)
//! and read the value at init. [`RefreshingSecret`] keeps the value and reads it again at most
//! every [`SECRET_REFRESH`] (all three secrets), so a rotation reaches warm instances within
//! minutes without a redeploy; a failed
//! re-read keeps the previous value (logged), never failing the request that triggered it.
//!
//! Every secret holds JSON: `{"current": ..., "retired": [...]}` for link keys
//! ([`klaxon_app::security::links::LinkKeys`]), `{"signing_secret": ...}` for Slack, and an
//! object of variable names to values for webhooks.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use klaxon_app::security::links::{LinkKeys, LinkSigner};
use klaxon_app::security::slack::{SlackSigning, SlackVerifier};
use klaxon_app::usecases::notify::EnvLookup;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long a function uses a secret's value before reading it again.
pub const SECRET_REFRESH: Duration = Duration::from_secs(300);

/// Why a secret could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager refused or could not be reached.
    #[error("secret {id}: {reason}")]
    Unavailable {
        /// The secret's ARN or name.
        id: String,
        /// The service's answer.
        reason: String,
    },
    /// The value is not what Klaxon stores there (never quotes the value).
    #[error("secret {id} is malformed: {reason}")]
    Malformed {
        /// The secret's ARN or name.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads and writes secret values.
#[derive(Debug, Clone)]
pub struct SecretStore {
    client: Client,
}

impl SecretStore {
    /// A store over `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A store with a client from `config`.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    /// The current value (`AWSCURRENT`) of secret `id` (its ARN or name).
    pub async fn get(&self, id: &str) -> Result<String, SecretError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| SecretError::Unavailable {
                id: id.to_owned(),
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        output.secret_string.ok_or_else(|| SecretError::Malformed {
            id: id.to_owned(),
            reason: "it has no string value".to_owned(),
        })
    }

    /// Stores `value` as the new current value of secret `id` (the previous one becomes
    /// `AWSPREVIOUS`).
    pub async fn put(&self, id: &str, value: &str) -> Result<(), SecretError> {
        self.client
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .map_err(|e| SecretError::Unavailable {
                id: id.to_owned(),
                reason: DisplayErrorContext(&e).to_string(),
            })?;
        Ok(())
    }
}

/// A JSON object of names to strings (the webhook secrets, the Slack secret); an error names
/// the secret and what is wrong, never a value.
pub fn parse_string_map(id: &str, text: &str) -> Result<HashMap<String, String>, SecretError> {
    serde_json::from_str(text).map_err(|e| SecretError::Malformed {
        id: id.to_owned(),
        reason: format!(
            "expected a JSON object of names to strings (line {}, column {})",
            e.line(),
            e.column()
        ),
    })
}

/// The Slack signing secret from its secret's JSON (`{"signing_secret": "..."}`); `None` when
/// empty (Slack not set up yet).
pub fn slack_signing_secret(id: &str, text: &str) -> Result<Option<String>, SecretError> {
    let map = parse_string_map(id, text)?;
    Ok(map
        .get("signing_secret")
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty()))
}

/// A secret's value, read again when older than its refresh interval.
#[derive(Debug)]
pub struct RefreshingSecret {
    store: SecretStore,
    id: String,
    refresh: Duration,
    state: Mutex<(String, Instant)>,
}

impl RefreshingSecret {
    /// Reads secret `id` now (init: an error stops the function from starting, naming it).
    pub async fn load(store: SecretStore, id: &str) -> Result<Self, SecretError> {
        let value = store.get(id).await?;
        Ok(Self {
            store,
            id: id.to_owned(),
            refresh: SECRET_REFRESH,
            state: Mutex::new((value, Instant::now())),
        })
    }

    /// Replaces the refresh interval (tests use zero).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    /// The secret's ARN or name.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The value held now.
    pub fn value(&self) -> String {
        self.lock().0.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (String, Instant)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the value is older than the refresh interval, reads it again and returns it if it
    /// changed. A failed read is logged and keeps the old value (retried after the interval).
    pub async fn changed(&self) -> Option<String> {
        {
            let mut state = self.lock();
            if state.1.elapsed() < self.refresh {
                return None;
            }
            // Whoever gets here first reads; the others keep the value for another interval.
            state.1 = Instant::now();
        }
        match self.store.get(&self.id).await {
            Ok(value) => {
                let mut state = self.lock();
                if state.0 == value {
                    None
                } else {
                    state.0 = value.clone();
                    Some(value)
                }
            }
            Err(error) => {
                tracing::warn!(%error, "re-reading a secret failed; keeping its previous value");
                None
            }
        }
    }
}

/// The link signing keys (`LINK_SIGNING_KEYS_SECRET_ARN`): a signer that follows rotations.
#[derive(Debug)]
pub struct LinkKeysSecret {
    secret: RefreshingSecret,
    signer: LinkSigner,
}

fn link_keys(id: &str, text: &str) -> Result<LinkSigner, SecretError> {
    LinkKeys::from_json(text)
        .and_then(|keys| keys.signer())
        .map_err(|e| SecretError::Malformed {
            id: id.to_owned(),
            reason: e.to_string(),
        })
}

impl LinkKeysSecret {
    /// Reads and parses the keys now.
    pub async fn load(store: SecretStore, id: &str) -> Result<Self, SecretError> {
        let secret = RefreshingSecret::load(store, id).await?;
        let signer = link_keys(id, &secret.value())?;
        Ok(Self { secret, signer })
    }

    /// Replaces the refresh interval (tests use zero).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.secret = self.secret.with_refresh(refresh);
        self
    }

    /// The signer; it and its clones pick up the keys [`LinkKeysSecret::refresh`] reads.
    pub fn signer(&self) -> LinkSigner {
        self.signer.clone()
    }

    /// Reads the keys again when due; keys that do not parse are logged and ignored (the
    /// previous keys stay in use).
    pub async fn refresh(&self) {
        if let Some(text) = self.secret.changed().await {
            match link_keys(self.secret.id(), &text) {
                Ok(signer) => {
                    self.signer.replace_keys(&signer);
                    tracing::info!(key = %signer.key_id(), "link signing keys changed");
                }
                Err(error) => tracing::error!(%error, "ignoring the changed link signing keys"),
            }
        }
    }
}

/// The Slack signing secret (`SLACK_SIGNING_SECRET_ARN`): a [`SlackSigning`] that follows the
/// secret, so setting up Slack or rotating its signing secret needs no redeploy.
#[derive(Debug)]
pub struct SlackSigningSecret {
    secret: RefreshingSecret,
    signing: SlackSigning,
}

fn slack_verifier(id: &str, text: &str) -> Result<Option<SlackVerifier>, SecretError> {
    Ok(slack_signing_secret(id, text)?
        .as_deref()
        .and_then(SlackVerifier::new))
}

impl SlackSigningSecret {
    /// Reads and parses the secret now (an empty `signing_secret`: Slack refused until set).
    pub async fn load(store: SecretStore, id: &str) -> Result<Self, SecretError> {
        let secret = RefreshingSecret::load(store, id).await?;
        let signing = SlackSigning::new(slack_verifier(id, &secret.value())?);
        Ok(Self { secret, signing })
    }

    /// Replaces the refresh interval (tests use zero).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.secret = self.secret.with_refresh(refresh);
        self
    }

    /// The verifier; it and its clones pick up what [`SlackSigningSecret::refresh`] reads.
    pub fn signing(&self) -> SlackSigning {
        self.signing.clone()
    }

    /// Reads the secret again when due; a value that does not parse is logged and ignored
    /// (the previous signing secret stays in use).
    pub async fn refresh(&self) {
        if let Some(text) = self.secret.changed().await {
            match slack_verifier(self.secret.id(), &text) {
                Ok(verifier) => {
                    tracing::info!(set = verifier.is_some(), "Slack signing secret changed");
                    self.signing.replace(verifier);
                }
                Err(error) => tracing::error!(%error, "ignoring the changed Slack signing secret"),
            }
        }
    }
}

/// The webhook secrets (`WEBHOOK_SECRETS_ARN`): the values of the configuration's `${VAR}`
/// references, read again as [`RefreshingSecret`] does.
#[derive(Debug)]
pub struct WebhookSecrets {
    secret: RefreshingSecret,
    values: Arc<RwLock<HashMap<String, String>>>,
}

impl WebhookSecrets {
    /// Reads and parses the secret now.
    pub async fn load(store: SecretStore, id: &str) -> Result<Self, SecretError> {
        let secret = RefreshingSecret::load(store, id).await?;
        let values = parse_string_map(id, &secret.value())?;
        Ok(Self {
            secret,
            values: Arc::new(RwLock::new(values)),
        })
    }

    /// Replaces the refresh interval (tests use zero).
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.secret = self.secret.with_refresh(refresh);
        self
    }

    /// A lookup of `${VAR}` values: this secret's (empty values count as unset), then
    /// `fallback`'s.
    pub fn lookup(&self, fallback: EnvLookup) -> EnvLookup {
        let values = Arc::clone(&self.values);
        Arc::new(move |name: &str| {
            let found = values
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(name)
                .filter(|value| !value.is_empty())
                .cloned();
            found.or_else(|| fallback(name))
        })
    }

    /// Reads the secret again when due; a value that does not parse is logged and ignored.
    pub async fn refresh(&self) {
        if let Some(text) = self.secret.changed().await {
            match parse_string_map(self.secret.id(), &text) {
                Ok(values) => {
                    *self.values.write().unwrap_or_else(|e| e.into_inner()) = values;
                    tracing::info!("webhook secrets changed");
                }
                Err(error) => tracing::error!(%error, "ignoring the changed webhook secrets"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_maps_and_the_slack_secret_parse_without_quoting_values() {
        let map = parse_string_map("s", r#"{"SLACK_WEBHOOK_URL": "https://hooks.example"}"#);
        assert_eq!(map.unwrap()["SLACK_WEBHOOK_URL"], "https://hooks.example");
        let error = parse_string_map("s", r#"{"A": 1, "B": "hidden-value"}"#).unwrap_err();
        assert!(error.to_string().starts_with("secret s is malformed"));
        assert!(!error.to_string().contains("hidden-value"));
        assert_eq!(
            slack_signing_secret("s", r#"{"signing_secret": " abc "}"#).unwrap(),
            Some("abc".to_owned())
        );
        assert_eq!(
            slack_signing_secret("s", r#"{"signing_secret": ""}"#).unwrap(),
            None
        );
        assert_eq!(slack_signing_secret("s", "{}").unwrap(), None);
    }
}
