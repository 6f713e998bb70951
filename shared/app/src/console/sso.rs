//! Single sign-on with OpenID Connect: the authorization code flow with PKCE, through the
//! `openidconnect` crate.
//!
//! `GET /console/sso` discovers the provider (`settings.sso.issuer`, cached five minutes),
//! makes a PKCE verifier, a `state` and a `nonce`, keeps them in a short-lived sealed cookie
//! (`klaxon_sso`: HMAC-signed, `HttpOnly`, `SameSite=Lax`, only sent to `/console/sso`) and
//! redirects to the provider. The provider sends the browser back to
//! `GET /console/sso/callback?code&state`: the state must match the cookie's, the code is
//! exchanged with the verifier and the client secret, the ID token's signature, issuer,
//! audience, expiry (by Klaxon's clock) and nonce are checked, and the person's `email` (from
//! the ID token or, when it carries none, the userinfo endpoint) must be verified by the
//! provider and belong to a configured user. Then a session starts exactly as with an email
//! link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use klaxon_domain::Instant;
use klaxon_domain::config::Sso;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// The path that starts single sign-on.
pub const SSO_START_PATH: &str = "/console/sso";

/// The redirect URI registered at the provider: the public URL followed by this path.
pub const SSO_CALLBACK_PATH: &str = "/console/sso/callback";

/// The cookie that carries the flow's state between the two requests.
pub const SSO_COOKIE: &str = "klaxon_sso";

/// How long a person has at the provider before the flow must start again.
pub const SSO_FLOW_SECONDS: i64 = 600;

/// How long a discovered provider document (endpoints and signing keys) is reused.
const DISCOVERY_SECONDS: i64 = 300;

/// What the HMAC over the cookie covers besides its content.
const PURPOSE: &str = "klaxon-console-sso";

/// The client type discovery gives: authorization endpoint set, token and userinfo
/// endpoints as the provider's document has them.
type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why single sign-on did not sign someone in.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// The configuration has no `settings.sso`.
    #[error("single sign-on is not configured")]
    NotConfigured,
    /// The client secret's variable is not set where Klaxon runs.
    #[error("{0}")]
    Secret(String),
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider failed: {0}")]
    Provider(String),
    /// The browser's answer does not belong to a flow this browser started (no or expired
    /// cookie, a different state), or the provider refused.
    #[error("{0}")]
    Refused(String),
    /// The provider vouched for someone who is not a Klaxon user, or not for their address.
    #[error("{0}")]
    NotAUser(String),
}

/// The flow's secrets, kept in the sealed cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct FlowState {
    #[serde(rename = "s")]
    state: String,
    #[serde(rename = "n")]
    nonce: String,
    #[serde(rename = "v")]
    verifier: String,
    #[serde(rename = "e")]
    expires: i64,
}

/// Where to send the browser, and the cookie to set on the way.
#[derive(Debug, Clone)]
pub struct SsoStart {
    /// The provider's authorization URL.
    pub redirect: String,
    /// The sealed flow cookie's value.
    pub cookie: String,
}

/// Who the provider signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    /// Their verified email address, lower-cased.
    pub email: String,
    /// The provider's subject identifier.
    pub subject: String,
}

struct Discovered {
    issuer: String,
    fetched_at: Instant,
    metadata: CoreProviderMetadata,
}

/// The OpenID Connect client side: an HTTP client that follows no redirects (the spec's
/// advice against request forgery), the discovery cache and the cookie sealer.
pub struct SsoClient {
    http: Result<reqwest::Client, String>,
    key: [u8; 32],
    discovered: Mutex<Option<Discovered>>,
}

impl std::fmt::Debug for SsoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SsoClient(..)")
    }
}

fn provider(error: impl std::fmt::Display) -> SsoError {
    SsoError::Provider(error.to_string())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl SsoClient {
    /// A client whose flow cookies are sealed under `key` (derived from the deployment's
    /// link signing secret).
    pub fn new(key: [u8; 32]) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string());
        Self {
            http,
            key,
            discovered: Mutex::new(None),
        }
    }

    fn http(&self) -> Result<&reqwest::Client, SsoError> {
        self.http.as_ref().map_err(provider)
    }

    fn signature(&self, payload: &str) -> Result<Hmac<Sha256>, SsoError> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).map_err(provider)?;
        mac.update(format!("{PURPOSE}\n{payload}").as_bytes());
        Ok(mac)
    }

    fn seal_state(&self, state: &FlowState) -> Result<String, SsoError> {
        let json = serde_json::to_vec(state).map_err(provider)?;
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mac = self.signature(&payload)?.finalize().into_bytes();
        Ok(format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac)))
    }

    fn open_state(&self, cookie: &str, now: Instant) -> Result<FlowState, SsoError> {
        let expired = || {
            SsoError::Refused(
                "This sign-in took too long or was started in another browser. Start again.".into(),
            )
        };
        let (payload, signature) = cookie.split_once('.').ok_or_else(expired)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature.as_bytes())
            .map_err(|_| expired())?;
        self.signature(payload)?
            .verify_slice(&signature)
            .map_err(|_| expired())?;
        let json = URL_SAFE_NO_PAD
            .decode(payload.as_bytes())
            .map_err(|_| expired())?;
        let state: FlowState = serde_json::from_slice(&json).map_err(|_| expired())?;
        if state.expires <= now.timestamp() {
            return Err(expired());
        }
        Ok(state)
    }

    async fn metadata(&self, issuer: &str, now: Instant) -> Result<CoreProviderMetadata, SsoError> {
        if let Ok(cache) = self.discovered.lock()
            && let Some(found) = cache.as_ref()
            && found.issuer == issuer
            && (now - found.fetched_at).num_seconds() < DISCOVERY_SECONDS
        {
            return Ok(found.metadata.clone());
        }
        let url = IssuerUrl::new(issuer.to_owned()).map_err(provider)?;
        let metadata = CoreProviderMetadata::discover_async(url, self.http()?)
            .await
            .map_err(|e| SsoError::Provider(error_chain(&e)))?;
        if let Ok(mut cache) = self.discovered.lock() {
            *cache = Some(Discovered {
                issuer: issuer.to_owned(),
                fetched_at: now,
                metadata: metadata.clone(),
            });
        }
        Ok(metadata)
    }

    async fn client(
        &self,
        sso: &Sso,
        secret: String,
        public_url: &str,
        now: Instant,
    ) -> Result<Oidc, SsoError> {
        let metadata = self.metadata(&sso.issuer, now).await?;
        let redirect =
            RedirectUrl::new(format!("{public_url}{SSO_CALLBACK_PATH}")).map_err(provider)?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(sso.client_id.clone()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a flow: the provider URL to send the browser to and the cookie to set.
    pub async fn start(
        &self,
        sso: &Sso,
        secret: String,
        public_url: &str,
        now: Instant,
    ) -> Result<SsoStart, SsoError> {
        let client = self.client(sso, secret, public_url, now).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (state, nonce) = (super::signin::random_token(), super::signin::random_token());
        let (sent_state, sent_nonce) = (state.clone(), nonce.clone());
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(sent_state),
                move || Nonce::new(sent_nonce),
            )
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .url();
        let cookie = self.seal_state(&FlowState {
            state,
            nonce,
            verifier: verifier.secret().clone(),
            expires: now.timestamp() + SSO_FLOW_SECONDS,
        })?;
        Ok(SsoStart {
            redirect: url.to_string(),
            cookie,
        })
    }

    /// Finishes a flow from the callback's `code` and `state` and the flow cookie: who the
    /// provider signed in, with a verified email address.
    pub async fn finish(
        &self,
        sso: &Sso,
        secret: String,
        public_url: &str,
        callback: &SsoCallback<'_>,
        now: Instant,
    ) -> Result<SsoIdentity, SsoError> {
        let flow = self.open_state(callback.cookie.unwrap_or_default(), now)?;
        if !bool::from(flow.state.as_bytes().ct_eq(callback.state.as_bytes())) {
            return Err(SsoError::Refused(
                "This answer from the identity provider belongs to another sign-in. Start again."
                    .into(),
            ));
        }
        let client = self.client(sso, secret, public_url, now).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(callback.code.to_owned()))
            .map_err(provider)?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(self.http()?)
            .await
            .map_err(|e| SsoError::Provider(error_chain(&e)))?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| provider("the token response has no ID token"))?;
        let verifier = client.id_token_verifier().set_time_fn(move || now);
        let claims = id_token
            .claims(&verifier, &Nonce::new(flow.nonce))
            .map_err(|e| SsoError::Refused(format!("The ID token was refused: {e}")))?;
        let subject = claims.subject().clone();
        let (email, verified) = match claims.email() {
            Some(email) => (email.as_str().to_owned(), claims.email_verified()),
            None => {
                let info: CoreUserInfoClaims = client
                    .user_info(tokens.access_token().clone(), Some(subject.clone()))
                    .map_err(provider)?
                    .request_async(self.http()?)
                    .await
                    .map_err(|e| SsoError::Provider(error_chain(&e)))?;
                let email = info.email().map(|e| e.as_str().to_owned());
                (email.unwrap_or_default(), info.email_verified())
            }
        };
        verified_identity(email, verified, subject.as_str())
    }
}

fn verified_identity(
    email: String,
    verified: Option<bool>,
    subject: &str,
) -> Result<SsoIdentity, SsoError> {
    if email.trim().is_empty() {
        return Err(SsoError::NotAUser(
            "The identity provider did not tell Klaxon your email address.".into(),
        ));
    }
    if verified != Some(true) {
        return Err(SsoError::NotAUser(format!(
            "The identity provider has not verified {email}, so Klaxon cannot sign you in with it."
        )));
    }
    Ok(SsoIdentity {
        email: email.trim().to_lowercase(),
        subject: subject.to_owned(),
    })
}

/// What the provider sent the browser back with.
#[derive(Debug, Clone, Copy)]
pub struct SsoCallback<'a> {
    /// The authorization code.
    pub code: &'a str,
    /// The state echoed back.
    pub state: &'a str,
    /// The flow cookie, if the browser sent it.
    pub cookie: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64) -> Instant {
        chrono::Utc.timestamp_opt(seconds, 0).unwrap()
    }

    fn state(expires: i64) -> FlowState {
        FlowState {
            state: "st".into(),
            nonce: "no".into(),
            verifier: "ve".into(),
            expires,
        }
    }

    #[test]
    fn the_flow_cookie_opens_only_unaltered_unexpired_and_under_its_own_key() {
        let client = SsoClient::new([3; 32]);
        let sealed = client.seal_state(&state(1_000)).unwrap();
        let opened = client.open_state(&sealed, at(999)).unwrap();
        assert_eq!(
            (opened.state.as_str(), opened.verifier.as_str()),
            ("st", "ve")
        );
        assert!(client.open_state(&sealed, at(1_000)).is_err(), "expired");
        let (payload, signature) = sealed.split_once('.').unwrap();
        let other = client.seal_state(&state(9_999)).unwrap();
        let (later, _) = other.split_once('.').unwrap();
        assert!(
            client
                .open_state(&format!("{later}.{signature}"), at(999))
                .is_err()
        );
        assert!(client.open_state(payload, at(999)).is_err());
        let stranger = SsoClient::new([4; 32]);
        assert!(stranger.open_state(&sealed, at(999)).is_err());
    }

    #[test]
    fn only_a_verified_address_is_an_identity() {
        let ok = verified_identity(" Alice@Example.com ".into(), Some(true), "s1").unwrap();
        assert_eq!(ok.email, "alice@example.com");
        assert!(matches!(
            verified_identity("alice@example.com".into(), Some(false), "s1"),
            Err(SsoError::NotAUser(_))
        ));
        assert!(matches!(
            verified_identity("alice@example.com".into(), None, "s1"),
            Err(SsoError::NotAUser(_))
        ));
        assert!(matches!(
            verified_identity(String::new(), Some(true), "s1"),
            Err(SsoError::NotAUser(_))
        ));
    }
}
