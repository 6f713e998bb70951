//! The configuration sections that have no home module of their own: integrations, shared
//! notification endpoints (with secrets kept out of the file) and global settings.

use crate::analytics::WakingHours;
use crate::duration::HumanDuration;
use crate::ids::IntegrationName;
use crate::ingest::{Format, IntegrationDefaults};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A source of alerts. Its key is a secret and never part of the file: keys are created with
/// the CLI and only their hash is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Integration {
    /// The integration's name; alerts carry it, matchers refer to it.
    pub name: IntegrationName,
    /// The wire format it speaks.
    pub format: Format,
    /// Defaults applied while normalising its alerts.
    #[serde(default)]
    pub defaults: IntegrationDefaults,
    /// CloudWatch only: the SNS topics whose alarms belong to this integration. An HTTPS
    /// delivery from any other topic is refused, and a Lambda-subscribed SNS event is routed to
    /// the integration listing its topic (such events carry no key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sns_topic_arns: Vec<String>,
}

/// Field names in an integration entry that look like a key or secret; they are rejected with
/// an explanation instead of a bare "unknown field".
pub(crate) const INTEGRATION_SECRET_FIELDS: [&str; 7] = [
    "key",
    "keys",
    "secret",
    "api_key",
    "integration_key",
    "routing_key",
    "token",
];

/// A reference to an environment variable, written `${NAME}` in the file. Webhook URLs and
/// signing secrets are credentials, so the file only names the variable that holds them; the
/// function that sends resolves it from its environment at send time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvRef {
    name: String,
}

/// A referenced environment variable is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name} is not set (the configuration refers to it as ${{{name}}})")]
pub struct UnsetVariable {
    /// The variable's name.
    pub name: String,
}

impl EnvRef {
    /// Parses `${NAME}` where NAME is `[A-Z_][A-Z0-9_]*`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let name = text
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix('}'))
            .ok_or_else(|| {
                "must be an environment variable reference like \"${SLACK_WEBHOOK_URL}\": \
                 webhook URLs and secrets are credentials and stay out of the config file"
                    .to_string()
            })?;
        let mut chars = name.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_');
        if !first_ok || !chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
            return Err(format!(
                "{name:?} is not an environment variable name: use upper-case letters, digits \
                 and '_', not starting with a digit"
            ));
        }
        Ok(Self {
            name: name.to_string(),
        })
    }

    /// The variable's name (without `${}`).
    pub fn var_name(&self) -> &str {
        &self.name
    }

    /// The variable's value, looked up with `lookup` (e.g. `|n| std::env::var(n).ok()` in a
    /// binary; this crate never reads the environment itself).
    pub fn resolve(
        &self,
        lookup: impl FnOnce(&str) -> Option<String>,
    ) -> Result<String, UnsetVariable> {
        lookup(&self.name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| UnsetVariable {
                name: self.name.clone(),
            })
    }
}

impl fmt::Display for EnvRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{{}}}", self.name)
    }
}

impl Serialize for EnvRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EnvRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EnvRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A Slack or Teams incoming webhook shared by all pages on that channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomingWebhook {
    /// The webhook URL, as an environment variable reference.
    pub webhook_url: EnvRef,
}

/// A generic JSON webhook: every page on the `webhook` channel is POSTed to each of these,
/// signed with HMAC-SHA256 of the body under `signing_secret`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericWebhook {
    /// A name for delivery records and logs.
    pub name: String,
    /// The URL, as an environment variable reference.
    pub url: EnvRef,
    /// The HMAC key, as an environment variable reference.
    pub signing_secret: EnvRef,
}

/// The `notifications` section: shared endpoints for the Slack, Teams and webhook channels.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// Slack incoming webhook; pages mention the user's Slack id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<IncomingWebhook>,
    /// Microsoft Teams incoming webhook; pages name the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<IncomingWebhook>,
    /// Generic webhooks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<GenericWebhook>,
}

/// Default lifetime of signed acknowledge/resolve links: 24 hours.
pub const DEFAULT_ACK_LINK_LIFETIME: HumanDuration = HumanDuration::from_secs(24 * 3_600);

/// The `settings` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Resolve an incident automatically when every one of its alerts has resolved.
    #[serde(default = "yes")]
    pub auto_resolve: bool,
    /// How long the signed acknowledge/resolve links in a page stay valid (1m to 30d).
    #[serde(default = "default_ack_link_lifetime")]
    pub ack_link_lifetime: HumanDuration,
    /// The hours of the day a person is awake, in their own time zone: pages outside them
    /// count as off-hours pages in the analytics (default 08:00–22:00).
    #[serde(default)]
    pub waking_hours: WakingHours,
    /// The acknowledgement timeout of every policy that sets none: an acknowledged incident
    /// still unresolved after it re-triggers once (1m to 7d; unset: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout: Option<HumanDuration>,
    /// Single sign-on to the web console with an OpenID Connect provider, beside the email
    /// sign-in link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso: Option<Sso>,
}

/// The `settings.sso` section: an OpenID Connect provider people sign in to the console with
/// (authorization code flow with PKCE). The provider's verified `email` claim is matched to a
/// user's `email`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sso {
    /// The issuer URL (`https://`, or `http://` on a loopback host for testing); its
    /// `/.well-known/openid-configuration` describes the provider.
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret, as an environment variable reference.
    pub client_secret: EnvRef,
    /// What the sign-in button says after "Sign in with" (default "single sign-on").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Sso {
    /// The button's label.
    pub fn label(&self) -> String {
        let name = self.name.as_deref().map(str::trim).unwrap_or_default();
        let name = if name.is_empty() {
            "single sign-on"
        } else {
            name
        };
        format!("Sign in with {name}")
    }

    /// Why `issuer` cannot be an issuer URL, if it cannot.
    pub fn issuer_problem(issuer: &str) -> Option<&'static str> {
        let loopback = ["http://localhost", "http://127.0.0.1", "http://[::1]"];
        let rest = if let Some(rest) = issuer.strip_prefix("https://") {
            rest
        } else if let Some(base) = loopback.iter().find(|b| issuer.starts_with(*b)) {
            let rest = &issuer[base.len()..];
            if !(rest.is_empty() || rest.starts_with(':') || rest.starts_with('/')) {
                return Some("must be an https:// URL (http:// only on a loopback host)");
            }
            &issuer["http://".len()..]
        } else {
            return Some("must be an https:// URL (http:// only on a loopback host)");
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Some("has no host");
        }
        if rest.contains(['?', '#']) || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Some("must not have a query, a fragment or spaces");
        }
        None
    }
}

fn yes() -> bool {
    true
}

fn default_ack_link_lifetime() -> HumanDuration {
    DEFAULT_ACK_LINK_LIFETIME
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            auto_resolve: true,
            ack_link_lifetime: DEFAULT_ACK_LINK_LIFETIME,
            waking_hours: WakingHours::default(),
            sso: None,
            ack_timeout: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_refs_parse_display_and_resolve() {
        let r = EnvRef::parse("${KLAXON_SLACK_URL_2}").unwrap();
        assert_eq!(r.var_name(), "KLAXON_SLACK_URL_2");
        assert_eq!(r.to_string(), "${KLAXON_SLACK_URL_2}");
        assert_eq!(
            r.resolve(|name| (name == "KLAXON_SLACK_URL_2").then(|| "https://hooks".into())),
            Ok("https://hooks".to_string())
        );
        assert_eq!(
            r.resolve(|_| Some(String::new())),
            Err(UnsetVariable {
                name: "KLAXON_SLACK_URL_2".into()
            })
        );
        let literal = EnvRef::parse("https://hooks.slack.com/services/T/B/x").unwrap_err();
        assert!(literal.contains("${SLACK_WEBHOOK_URL}"), "{literal}");
        assert!(EnvRef::parse("${lower}").is_err());
        assert!(EnvRef::parse("${1ABC}").is_err());
        assert!(EnvRef::parse("${}").is_err());
        let json: EnvRef = serde_json::from_str("\"${A}\"").unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), "\"${A}\"");
    }

    #[test]
    fn settings_default_to_auto_resolve_and_a_day() {
        let s: Settings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, Settings::default());
        assert!(s.auto_resolve);
        assert_eq!(s.ack_link_lifetime.as_secs(), 86_400);
        assert_eq!(s.sso, None);
    }

    #[test]
    fn sso_issuers_must_be_https_or_loopback_http() {
        for good in [
            "https://login.example.com",
            "https://login.example.com/realms/ops",
            "http://127.0.0.1:4000",
            "http://localhost",
        ] {
            assert_eq!(Sso::issuer_problem(good), None, "{good}");
        }
        for bad in [
            "http://login.example.com",
            "http://localhost.example.com",
            "https://",
            "https://x/?a=1",
            "login.example.com",
        ] {
            assert!(Sso::issuer_problem(bad).is_some(), "{bad}");
        }
        let sso: Sso = serde_json::from_str(
            r#"{"issuer": "https://id.example.com", "client_id": "klaxon", "client_secret": "${OIDC_SECRET}"}"#,
        )
        .unwrap();
        assert_eq!(sso.label(), "Sign in with single sign-on");
        assert_eq!(sso.client_secret.var_name(), "OIDC_SECRET");
        let literal =
            r#"{"issuer": "https://id.example.com", "client_id": "k", "client_secret": "hunter2"}"#;
        assert!(serde_json::from_str::<Sso>(literal).is_err());
    }
}
