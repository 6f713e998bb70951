//! The console's use cases: sign-in by email link, sessions, and the incident reads and
//! actions the pages show. Every read goes through the same repository as the JSON API, and
//! every action through the same [`stop_incident`] as links, Slack and the API, recorded with
//! the signed-in user as the actor.

use super::signin::{SigninLink, SigninSigner, random_token};
use super::sso::{SsoCallback, SsoClient, SsoError, SsoStart};
use crate::dead_letters::DeadLetters;
use crate::ports::{Email, EmailSender, Queue, Timers};
use crate::render::escape_html;
use crate::usecases::lifecycle::{StopAction, stop_incident};
use crate::usecases::notify::{EnvLookup, process_env};
use crate::usecases::queries::{QueryService, find_incident};
use crate::usecases::{Core, UseCaseError};
use chrono::Duration;
use klaxon_domain::Instant;
use klaxon_domain::config::Sso;
use klaxon_domain::ids::UserId;
use klaxon_domain::incident::Incident;
use klaxon_domain::timeline::Actor;
use klaxon_domain::user::Role;
use klaxon_store::Store;
use klaxon_store::repo::{ConsoleSession, SigninToken, StoredIncident};
use std::sync::Arc;

/// The path of the sign-in link (GET shows a button, POST signs in).
pub const SIGNIN_LINK_PATH: &str = "/console/signin/link";

/// Why a console operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// Too many sign-in requests for one address within the window.
    #[error("too many sign-in requests for this address; try again in {minutes} minutes")]
    RateLimited {
        /// How long the window lasts.
        minutes: i64,
    },
    /// The sign-in link is altered, expired, already used or for a user no longer configured.
    #[error("{0}")]
    SigninRefused(&'static str),
    /// The signed-in user's role does not allow this.
    #[error("your role ({0}) cannot do this; ask an admin for the responder role")]
    Forbidden(&'static str),
    /// Single sign-on did not sign the person in.
    #[error(transparent)]
    Sso(#[from] SsoError),
    /// A use case failed (unknown incident, storage, bad input).
    #[error(transparent)]
    UseCase(#[from] UseCaseError),
}

impl From<klaxon_store::repo::RepoError> for ConsoleError {
    fn from(error: klaxon_store::repo::RepoError) -> Self {
        ConsoleError::UseCase(error.into())
    }
}

/// Lifetimes and limits of the console.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// The base URL people open (no trailing slash); links in sign-in emails start with it,
    /// and cookies are `Secure` when it is `https://`.
    pub public_url: String,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// How long a sign-in link works.
    pub signin_ttl: Duration,
    /// How many sign-in requests one address may make per window.
    pub signin_limit: u64,
    /// The rate-limit window.
    pub signin_window: Duration,
}

impl ConsoleSettings {
    /// The defaults for `public_url`: 12-hour sessions, 15-minute links, 5 requests per
    /// address per 15 minutes.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            session_ttl: Duration::hours(12),
            signin_ttl: Duration::minutes(15),
            signin_limit: 5,
            signin_window: Duration::minutes(15),
        }
    }

    /// Whether cookies get the `Secure` attribute.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The person behind a valid session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The session token (the cookie's value).
    pub token: String,
    /// The configuration user.
    pub user: UserId,
    /// Their display name.
    pub name: String,
    /// Their role, read from the current configuration on every request.
    pub role: Role,
    /// The session's CSRF token.
    pub csrf: String,
}

/// A session just created by a sign-in link.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie value.
    pub token: String,
    /// The stored session.
    pub session: ConsoleSession,
}

/// The console's use cases.
pub struct ConsoleService<S, Q, T, E> {
    // The schedule reads and override writes go through the same use cases as the JSON API.
    queries: QueryService<S>,
    pub(super) queue: Q,
    pub(super) timers: T,
    email: E,
    signer: SigninSigner,
    sso: SsoClient,
    env: EnvLookup,
    settings: ConsoleSettings,
    // A trait object, not a fifth type parameter: only the admin page uses it.
    dead_letters: Option<Arc<dyn DeadLetters>>,
}

impl<S, Q, T, E> std::fmt::Debug for ConsoleService<S, Q, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<S: Store, Q: Queue, T: Timers, E: EmailSender> ConsoleService<S, Q, T, E> {
    /// Assembles the service: `email` sends sign-in links (the same sender pages go through),
    /// `queue` and `timers` are what acknowledging needs (notices, cancelled escalation).
    /// The single sign-on client secret's `${VAR}` is read from the process environment
    /// (see [`Self::with_env`]).
    pub fn new(
        core: Core<S>,
        queue: Q,
        timers: T,
        email: E,
        signer: SigninSigner,
        settings: ConsoleSettings,
    ) -> Self {
        let sso = SsoClient::new(signer.derive_key("klaxon-console-sso-key"));
        Self {
            queries: QueryService::new(core),
            queue,
            timers,
            email,
            sso,
            signer,
            env: process_env(),
            settings,
            dead_letters: None,
        }
    }

    /// Lists and redrives dead letters on the admin page through `dead_letters` (without it
    /// the page says this deployment's dead letters are not available here).
    #[must_use]
    pub fn with_dead_letters(mut self, dead_letters: Arc<dyn DeadLetters>) -> Self {
        self.dead_letters = Some(dead_letters);
        self
    }

    /// The dead-letters port, when the deployment gave one.
    pub(super) fn dead_letter_port(&self) -> Option<&dyn DeadLetters> {
        self.dead_letters.as_deref()
    }

    /// Reads `${VAR}` references (the single sign-on client secret) with `env` instead of
    /// the process environment.
    #[must_use]
    pub fn with_env(mut self, env: EnvLookup) -> Self {
        self.env = env;
        self
    }

    /// The shared core.
    pub fn core(&self) -> &Core<S> {
        self.queries.core()
    }

    /// The JSON API's use cases over the same core.
    pub fn queries(&self) -> &QueryService<S> {
        &self.queries
    }

    /// The signer of sign-in links (and the key other console links derive from).
    pub(super) fn signer(&self) -> &SigninSigner {
        &self.signer
    }

    /// The queue and timers the incident actions use.
    pub(super) fn ports(&self) -> (&Q, &T) {
        (&self.queue, &self.timers)
    }

    /// The settings.
    pub fn settings(&self) -> &ConsoleSettings {
        &self.settings
    }

    /// Handles "email me a sign-in link" for `address`. The answer is the same whether or not
    /// a user has that address (no account enumeration): only the rate limit, counted per
    /// address whoever it belongs to, is ever refused. A failed send is logged, not shown.
    pub async fn request_signin(&self, address: &str) -> Result<(), ConsoleError> {
        let address = address.trim().to_lowercase();
        if address.len() > 254 || !address.contains('@') || address.chars().any(char::is_control) {
            return Err(UseCaseError::invalid("email", "must be an email address").into());
        }
        let window = self.settings.signin_window;
        let count = self
            .core()
            .repo
            .count_signin_request(&address, window.num_seconds())
            .await?;
        if count > self.settings.signin_limit {
            return Err(ConsoleError::RateLimited {
                minutes: window.num_minutes(),
            });
        }
        let config = self.core().config().await?;
        let Some(user) = config.users.iter().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(&address))
        }) else {
            tracing::info!("console sign-in requested for an address no user has");
            return Ok(());
        };
        let expires_at = self.core().now() + self.settings.signin_ttl;
        let token = random_token();
        let record = SigninToken {
            user: user.id.clone(),
            expires_at,
        };
        self.core()
            .repo
            .create_signin_token(&token, &record)
            .await?;
        let link = self.signer.sign(&token, expires_at.timestamp());
        let email = self.signin_email(&address, &link, expires_at);
        if let Err(error) = self.email.send_email(&email).await {
            tracing::warn!(user = %user.id, %error, "could not send a console sign-in link");
        }
        Ok(())
    }

    fn signin_email(&self, to: &str, link: &SigninLink, expires_at: Instant) -> Email {
        let url = format!(
            "{}{SIGNIN_LINK_PATH}?t={}&e={}&s={}",
            self.settings.public_url, link.token, link.expires, link.signature
        );
        let until = expires_at.format("%Y-%m-%d %H:%M UTC");
        Email {
            to: to.to_owned(),
            subject: "Sign in to Klaxon".to_owned(),
            text: format!(
                "Open this link to sign in to the Klaxon console:\n\n{url}\n\n\
                 It works once, until {until}. If you did not ask for it, ignore this email.\n"
            ),
            html: format!(
                "<p><a href=\"{0}\">Sign in to the Klaxon console</a></p><p>Or open {0}</p>\
                 <p>It works once, until {until}. If you did not ask for it, ignore this email.</p>",
                escape_html(&url)
            ),
        }
    }

    /// Whether a sign-in link looks usable (signature and expiry), for its confirmation page.
    /// Changes nothing: mail scanners open links.
    pub fn check_signin_link(&self, link: &SigninLink) -> Result<(), ConsoleError> {
        if !self.signer.verify(link) {
            return Err(ConsoleError::SigninRefused(
                "This sign-in link is not valid: it was altered or belongs to another Klaxon.",
            ));
        }
        if link.expires <= self.core().now().timestamp() {
            return Err(ConsoleError::SigninRefused(
                "This sign-in link has expired. Ask for a new one.",
            ));
        }
        Ok(())
    }

    /// Signs in with a link: checks it, uses up its token (a second use fails) and creates a
    /// session for the user it was sent to.
    pub async fn complete_signin(&self, link: &SigninLink) -> Result<NewSession, ConsoleError> {
        self.check_signin_link(link)?;
        let used = ConsoleError::SigninRefused(
            "This sign-in link was already used (each link works once). Ask for a new one.",
        );
        let Some(token) = self.core().repo.consume_signin_token(&link.token).await? else {
            return Err(used);
        };
        let config = self.core().config().await?;
        if config.user(&token.user).is_none() {
            return Err(ConsoleError::SigninRefused(
                "The user this link was sent to is no longer configured.",
            ));
        }
        self.start_session(token.user, "email link").await
    }

    async fn start_session(&self, user: UserId, how: &str) -> Result<NewSession, ConsoleError> {
        let now = self.core().now();
        let session = ConsoleSession {
            user,
            csrf: random_token(),
            created_at: now,
            expires_at: now + self.settings.session_ttl,
        };
        let secret = random_token();
        self.core().repo.create_session(&secret, &session).await?;
        tracing::info!(user = %session.user, how, "console session started");
        Ok(NewSession {
            token: secret,
            session,
        })
    }

    /// The single sign-on settings, if the configuration has them (the sign-in page shows
    /// the button).
    pub async fn sso(&self) -> Result<Option<Sso>, ConsoleError> {
        Ok(self.core().config().await?.settings.sso.clone())
    }

    async fn sso_secret(&self) -> Result<(Sso, String), ConsoleError> {
        let sso = self.sso().await?.ok_or(SsoError::NotConfigured)?;
        let env = &self.env;
        let secret = sso
            .client_secret
            .resolve(|name| env(name))
            .map_err(|e| SsoError::Secret(format!("settings.sso.client_secret: {e}")))?;
        Ok((sso, secret))
    }

    /// Starts single sign-on: where to send the browser and the flow cookie.
    pub async fn sso_start(&self) -> Result<SsoStart, ConsoleError> {
        let (sso, secret) = self.sso_secret().await?;
        let now = self.core().now();
        Ok(self
            .sso
            .start(&sso, secret, &self.settings.public_url, now)
            .await?)
    }

    /// Finishes single sign-on: the provider's verified email address must be a configured
    /// user's; then a session starts as with an email link.
    pub async fn sso_finish(&self, callback: &SsoCallback<'_>) -> Result<NewSession, ConsoleError> {
        let (sso, secret) = self.sso_secret().await?;
        let now = self.core().now();
        let identity = self
            .sso
            .finish(&sso, secret, &self.settings.public_url, callback, now)
            .await?;
        let config = self.core().config().await?;
        let Some(user) = config.users.iter().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(&identity.email))
        }) else {
            tracing::info!(subject = %identity.subject, "single sign-on for an address no user has");
            return Err(SsoError::NotAUser(format!(
                "{} is not the address of any Klaxon user. Ask an admin to add it to the configuration.",
                identity.email
            ))
            .into());
        };
        self.start_session(user.id.clone(), "single sign-on").await
    }

    /// The person signed in with session cookie `token`, if the session is live and its user
    /// is still configured.
    pub async fn signed_in(&self, token: &str) -> Result<Option<SignedIn>, ConsoleError> {
        let Some(session) = self.core().repo.session(token).await? else {
            return Ok(None);
        };
        let config = self.core().config().await?;
        Ok(config.user(&session.user).map(|user| SignedIn {
            token: token.to_owned(),
            user: user.id.clone(),
            name: user.name.clone(),
            role: user.role,
            csrf: session.csrf,
        }))
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), ConsoleError> {
        self.core().repo.revoke_session(token).await?;
        Ok(())
    }

    /// Acknowledges or resolves incident `reference` as the signed-in user (responder or
    /// admin only). Returns the incident afterwards.
    pub async fn act(
        &self,
        who: &SignedIn,
        reference: &str,
        action: StopAction,
    ) -> Result<Incident, ConsoleError> {
        if !who.role.can_act() {
            return Err(ConsoleError::Forbidden(who.role.as_str()));
        }
        let stored: StoredIncident = find_incident(self.core(), reference).await?;
        let outcome = stop_incident(
            self.core(),
            &self.queue,
            &self.timers,
            stored.incident.id(),
            action,
            Actor::user(who.user.clone()),
        )
        .await?;
        Ok(outcome.incident().incident.clone())
    }
}
