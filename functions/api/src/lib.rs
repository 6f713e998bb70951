//! The api Lambda function: incidents, timelines, who is on call, ICS feeds, overrides and the
//! configuration, served by the shared router (`http::api::routes`) to API Gateway HTTP API
//! events (see [`klaxon_aws::apigw`]), and the web console at `/` and `/console/...` from the
//! same router `klaxon serve` uses (`console::routes`). `PUT /v1/config` stores a new
//! snapshot; every function picks it up within its configuration cache's lifetime (30 s).

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

use klaxon_app::console::{ConsoleService, ConsoleSettings, SigninSigner};
use klaxon_app::http;
use klaxon_app::ports::{EmailSender, Queue, Timers};
use klaxon_app::security::links::LinkKeys;
use klaxon_app::usecases::queries::QueryService;
use klaxon_aws::FunctionContext;
use klaxon_aws::apigw::{self, ApiGatewayV2httpResponse};
use klaxon_aws::lambda::FunctionError;
use klaxon_store::Store;
use serde_json::Value;
use std::sync::Arc;

/// The timeline source of everything this function records through the API (`/klaxon/api`).
pub const COMPONENT: &str = "api";

/// The timeline source of what people do in the console (`/klaxon/console`, as with
/// `klaxon serve`).
pub const CONSOLE_COMPONENT: &str = "console";

/// The api handler: the read and configuration routes and the console behind API Gateway.
#[derive(Clone)]
pub struct ApiHandler {
    router: axum::Router,
    derived: Option<Arc<DerivedConsole>>,
}

impl std::fmt::Debug for ApiHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiHandler")
            .field("derives_base_url", &self.derived.is_some())
            .finish_non_exhaustive()
    }
}

/// How many base URLs (API Gateway domain names: the default one and custom domains) one
/// instance keeps a console for.
pub const MAX_BASE_URLS: usize = 4;

/// Builds the whole router (API and console) for a base URL.
type BuildRouter = dyn Fn(&str) -> Result<axum::Router, FunctionError> + Send + Sync;

/// The console of an api function without `PUBLIC_BASE_URL`: one router per base URL the
/// events come in on, built on first use.
struct DerivedConsole {
    build: Box<BuildRouter>,
    routers: std::sync::Mutex<Vec<(String, axum::Router)>>,
    /// Routes merged into each router built (the dead-letter API).
    extra: Option<axum::Router>,
}

impl DerivedConsole {
    fn router_for(&self, base: &str) -> Result<axum::Router, FunctionError> {
        let mut routers = self
            .routers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, router)) = routers.iter().find(|(known, _)| known == base) {
            return Ok(router.clone());
        }
        let mut router = (self.build)(base)?;
        if let Some(extra) = &self.extra {
            router = router.merge(extra.clone());
        }
        if routers.len() < MAX_BASE_URLS {
            routers.push((base.to_owned(), router.clone()));
        }
        Ok(router)
    }
}

/// The console's base URL for an API Gateway HTTP API event: `https://` and the event's
/// `requestContext.domainName`, which API Gateway sets to the domain the request came in on
/// (its own `execute-api` domain or a custom domain mapped to the API) and a client cannot
/// choose, unlike the `Host` header. `None` when the domain is missing or not a plain host
/// name, or the stage is not `$default` (the template's; a named stage would prefix every
/// path).
pub fn base_url_of(event: &Value) -> Option<String> {
    let context = event.get("requestContext")?;
    let domain = context.get("domainName")?.as_str()?;
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if domain.len() > 253 || !domain.split('.').all(label_ok) {
        return None;
    }
    let stage = context.get("stage").and_then(Value::as_str);
    if stage.is_some_and(|stage| stage != "$default") {
        return None;
    }
    Some(format!("https://{}", domain.to_ascii_lowercase()))
}

impl ApiHandler {
    /// A handler with the JSON API only, over `service`.
    pub fn new<S: Store + 'static>(service: QueryService<S>) -> Self {
        Self {
            router: http::compose([http::api::routes(Arc::new(service))]),
            derived: None,
        }
    }

    /// A handler with the JSON API and the web console.
    pub fn with_console<S, Q, T, E>(
        service: QueryService<S>,
        console: ConsoleService<S, Q, T, E>,
    ) -> Self
    where
        S: Store + 'static,
        Q: Queue + 'static,
        T: Timers + 'static,
        E: EmailSender + 'static,
    {
        Self {
            router: console_router(service, console),
            derived: None,
        }
    }

    /// A handler that serves the JSON API from `service` and, for each event whose base URL
    /// [`base_url_of`] finds, the API and the console `console(base URL)` builds (once per
    /// base URL). Events without one get the JSON API only.
    pub fn with_derived_console<S, Q, T, E>(
        service: QueryService<S>,
        console: impl Fn(&str) -> Result<(QueryService<S>, ConsoleService<S, Q, T, E>), FunctionError>
        + Send
        + Sync
        + 'static,
    ) -> Self
    where
        S: Store + 'static,
        Q: Queue + 'static,
        T: Timers + 'static,
        E: EmailSender + 'static,
    {
        let build = move |base: &str| {
            let (service, console) = console(base)?;
            Ok(console_router(service, console))
        };
        Self {
            router: http::compose([http::api::routes(Arc::new(service))]),
            derived: Some(Arc::new(DerivedConsole {
                build: Box::new(build),
                routers: std::sync::Mutex::new(Vec::new()),
                extra: None,
            })),
        }
    }

    /// Adds `routes` to every router of this handler. Called right after construction, while
    /// nothing shares the derived console yet.
    fn with_routes(mut self, routes: axum::Router) -> Self {
        self.router = self.router.merge(routes.clone());
        if let Some(derived) = self.derived.as_mut().and_then(Arc::get_mut) {
            derived.extra = Some(routes);
        }
        self
    }

    /// Builds the deployed handler over the table: the console sends sign-in links through
    /// SES (`SENDER_EMAIL`), signs them with the current link signing key (secret
    /// `LINK_SIGNING_KEYS_SECRET_ARN`, read now), starts them with `PUBLIC_BASE_URL`, and
    /// acknowledging needs the notifications queue and the timers; the admin page lists and
    /// redrives the dead-letter queues (`*_DEAD_LETTER_QUEUE_URL`).
    ///
    /// Sign-in links live 15 minutes and are checked against the key read at cold start: after
    /// a rotation, a link signed by an instance that already has the new key fails on one
    /// that does not, and the person asks for another link.
    ///
    /// Without `PUBLIC_BASE_URL` (the template's `PublicBaseUrl` left empty) the base URL of
    /// links is the domain API Gateway says the request came in on ([`base_url_of`]), never
    /// a header the client sent.
    pub async fn from_context(context: &FunctionContext) -> Result<Self, FunctionError> {
        let signer = signin_signer(context).await?;
        let dead_letters = http::dead_letters::routes(
            Arc::new(QueryService::new(context.core(COMPONENT)?)),
            Arc::new(context.dead_letters()),
        );
        let console = |context: &FunctionContext, base: &str, signer: SigninSigner| {
            Ok::<_, FunctionError>((
                QueryService::new(context.core(COMPONENT)?),
                ConsoleService::new(
                    context.core(CONSOLE_COMPONENT)?,
                    context.queue(),
                    context.timers()?,
                    context.email()?,
                    signer,
                    ConsoleSettings::new(base),
                )
                .with_dead_letters(Arc::new(context.dead_letters())),
            ))
        };
        if let Some(base) = context.settings.public_base_url.as_deref() {
            let (service, console) = console(context, base, signer)?;
            return Ok(Self::with_console(service, console).with_routes(dead_letters));
        }
        tracing::info!("PUBLIC_BASE_URL is not set: console links use API Gateway's domain name");
        let owned = context.clone();
        Ok(
            Self::with_derived_console(QueryService::new(context.core(COMPONENT)?), move |base| {
                console(&owned, base, signer.clone())
            })
            .with_routes(dead_letters),
        )
    }

    /// Answers one API Gateway HTTP API event.
    pub async fn handle(&self, event: Value) -> Result<ApiGatewayV2httpResponse, FunctionError> {
        let router = match (&self.derived, base_url_of(&event)) {
            (Some(derived), Some(base)) => derived.router_for(&base)?,
            _ => self.router.clone(),
        };
        apigw::serve_event(router, &event).await
    }
}

fn console_router<S, Q, T, E>(
    service: QueryService<S>,
    console: ConsoleService<S, Q, T, E>,
) -> axum::Router
where
    S: Store + 'static,
    Q: Queue + 'static,
    T: Timers + 'static,
    E: EmailSender + 'static,
{
    http::compose([
        http::api::routes(Arc::new(service)),
        klaxon_app::console::routes(Arc::new(console)),
    ])
}

/// The sign-in link signer from the current link signing key (secret
/// `LINK_SIGNING_KEYS_SECRET_ARN`).
async fn signin_signer(context: &FunctionContext) -> Result<SigninSigner, FunctionError> {
    let id = context.settings.require_link_signing_keys_secret_arn()?;
    let failed =
        |reason: String| FunctionError::Failed(format!("LINK_SIGNING_KEYS_SECRET_ARN: {reason}"));
    let text = context
        .secret_store()
        .get(id)
        .await
        .map_err(|error| failed(error.to_string()))?;
    let keys = LinkKeys::from_json(&text).map_err(|error| failed(error.to_string()))?;
    SigninSigner::new(keys.current.as_bytes())
        .ok_or_else(|| failed("the current key is too short".into()))
}

#[cfg(test)]
mod tests;
