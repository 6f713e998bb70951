//! Where a delivery goes and how it is sent: the user's address or the configured endpoint
//! for each channel (with its `${VAR}` references resolved), then the rendered message through
//! the channel's sender.

use super::NotifyService;
use crate::ports::{Email, EmailSender, SendError, Sms, SmsSender, WebhookPost, WebhookSender};
use crate::render::{self, RenderInput};
use crate::usecases::LoadedConfig;
use crate::webhook::{SIGNATURE_HEADER, sign_webhook};
use klaxon_domain::config::EnvRef;
use klaxon_domain::user::{Channel, User};
use klaxon_store::Store;
use klaxon_store::repo::Delivery;
use sha2::{Digest, Sha256};

/// Where one delivery goes, once its configuration is resolved.
#[derive(Debug, Clone)]
pub(super) enum Route {
    Email(String),
    Sms(String),
    Slack {
        url: String,
    },
    Teams {
        url: String,
    },
    Webhook {
        name: String,
        url: String,
        secret: String,
    },
}

/// One delivery to make: its record, where it goes (or why it cannot go anywhere), and the tag
/// that tells endpoints of the webhook channel apart in timeline keys.
pub(super) struct Job {
    pub(super) delivery: Delivery,
    pub(super) tag: Option<String>,
    pub(super) route: Result<Route, String>,
}

/// A short, stable tag for a webhook name in timeline keys (names are free text).
fn webhook_tag(name: &str) -> String {
    hex::encode(Sha256::digest(name.as_bytes()))
        .chars()
        .take(8)
        .collect()
}

impl<S, E, M, W> NotifyService<S, E, M, W>
where
    S: Store,
    E: EmailSender,
    M: SmsSender,
    W: WebhookSender,
{
    fn env(&self, reference: &EnvRef) -> Result<String, String> {
        reference
            .resolve(|name| (self.env)(name))
            .map_err(|unset| unset.to_string())
    }

    /// The deliveries of `user` on `channel`: one, or one per generic webhook endpoint.
    pub(super) fn jobs(
        &self,
        config: &LoadedConfig,
        user: &User,
        channel: Channel,
        base: Delivery,
    ) -> Vec<Job> {
        let single = |route: Result<Route, String>| {
            vec![Job {
                delivery: base.clone(),
                tag: None,
                route,
            }]
        };
        let notifications = &config.notifications;
        match channel {
            Channel::Email => single(
                user.email
                    .clone()
                    .map(Route::Email)
                    .ok_or_else(|| format!("user {} has no email address", user.id)),
            ),
            Channel::Sms => single(
                user.phone
                    .clone()
                    .map(Route::Sms)
                    .ok_or_else(|| format!("user {} has no phone number", user.id)),
            ),
            Channel::Slack => single(match (&user.slack_id, &notifications.slack) {
                (None, _) => Err(format!("user {} has no slack_id", user.id)),
                (_, None) => Err("notifications.slack is not configured".to_owned()),
                (Some(_), Some(slack)) => self
                    .env(&slack.webhook_url)
                    .map(|url| Route::Slack { url })
                    .map_err(|e| format!("notifications.slack.webhook_url: {e}")),
            }),
            Channel::Teams => single(match &notifications.teams {
                None => Err("notifications.teams is not configured".to_owned()),
                Some(teams) => self
                    .env(&teams.webhook_url)
                    .map(|url| Route::Teams { url })
                    .map_err(|e| format!("notifications.teams.webhook_url: {e}")),
            }),
            Channel::Webhook if notifications.webhooks.is_empty() => {
                single(Err("notifications.webhooks is empty".to_owned()))
            }
            Channel::Webhook => notifications
                .webhooks
                .iter()
                .enumerate()
                .map(|(index, webhook)| {
                    let mut delivery = base.clone();
                    delivery.key = format!("{}/{}", base.key, webhook.name);
                    let field = format!("notifications.webhooks[{index}] ({})", webhook.name);
                    let route = self
                        .env(&webhook.url)
                        .map_err(|e| format!("{field}.url: {e}"))
                        .and_then(|url| {
                            self.env(&webhook.signing_secret)
                                .map_err(|e| format!("{field}.signing_secret: {e}"))
                                .map(|secret| Route::Webhook {
                                    name: webhook.name.clone(),
                                    url,
                                    secret,
                                })
                        });
                    Job {
                        delivery,
                        tag: Some(webhook_tag(&webhook.name)),
                        route,
                    }
                })
                .collect(),
        }
    }

    /// Renders and sends; the provider's message id on success (for webhooks: the endpoint's
    /// name and the HTTP status).
    pub(super) async fn send(
        &self,
        route: &Route,
        input: &RenderInput<'_>,
    ) -> Result<Option<String>, SendError> {
        match route {
            Route::Email(to) => {
                let rendered = render::email(input);
                let email = Email {
                    to: to.clone(),
                    subject: rendered.subject,
                    text: rendered.text,
                    html: rendered.html,
                };
                self.senders.email.send_email(&email).await.map(Some)
            }
            Route::Sms(to) => {
                let sms = Sms {
                    to: to.clone(),
                    text: render::sms(input),
                };
                self.senders.sms.send_sms(&sms).await.map(Some)
            }
            Route::Slack { url } => {
                let post = WebhookPost {
                    channel: "slack",
                    url: url.clone(),
                    headers: Vec::new(),
                    body: render::slack(input).to_string(),
                };
                let status = self.senders.webhook.post(&post).await?;
                Ok(Some(format!("slack: HTTP {status}")))
            }
            Route::Teams { url } => {
                let post = WebhookPost {
                    channel: "teams",
                    url: url.clone(),
                    headers: Vec::new(),
                    body: render::teams(input).to_string(),
                };
                let status = self.senders.webhook.post(&post).await?;
                Ok(Some(format!("teams: HTTP {status}")))
            }
            Route::Webhook { name, url, secret } => {
                let body = render::webhook(input).to_string();
                let signature = sign_webhook(secret.as_bytes(), self.core.now().timestamp(), &body);
                let post = WebhookPost {
                    channel: "webhook",
                    url: url.clone(),
                    headers: vec![(SIGNATURE_HEADER.to_owned(), signature)],
                    body,
                };
                let status =
                    self.senders
                        .webhook
                        .post(&post)
                        .await
                        .map_err(|error| match error {
                            SendError::Transient(e) => SendError::Transient(format!("{name}: {e}")),
                            SendError::Permanent(e) => SendError::Permanent(format!("{name}: {e}")),
                        })?;
                Ok(Some(format!("{name}: HTTP {status}")))
            }
        }
    }
}
