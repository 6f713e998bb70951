//! A `klaxon serve` runtime in-process for the web console's tests: a configuration with one
//! user per role, sign-in through the outbox, and small HTTP helpers that keep the session
//! cookie by hand (redirects are not followed, so every answer can be checked).

use klaxon_app::messages::QueueName;
use klaxon_domain::config::Config;
use klaxon_local::outbox::{Outbox, OutboxRecord};
use klaxon_local::runtime::{Console, LocalRuntime, RuntimeOptions};
use klaxon_store::repo::StoredIncident;
use reqwest::header::{COOKIE, HeaderMap, LOCATION, SET_COOKIE};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One responder (alice, the default role), one viewer (vera), one admin (ann); alice is
/// paged by email, every two seconds while nobody acknowledges. The schedule `primary`
/// (weekly, ann then alice) is on no policy, so it changes who is paged in no test.
pub const CONSOLE_CONFIG: &str = r#"
users:
  - id: alice
    name: Alice Responder
    email: alice@example.com
    contact: { high: [email], low: [email] }
  - id: vera
    name: Vera Viewer
    email: vera@example.com
    role: viewer
  - id: ann
    name: Ann Admin
    email: ann@example.com
    role: admin
schedules:
  - id: primary
    name: Primary
    time_zone: Europe/London
    layers:
      - name: weekly
        rotation:
          participants: [ann, alice]
          start: 2026-01-01T00:00:00
          shift: { weeks: 1 }
escalation_policies:
  - id: fast
    name: Fast
    repeat: 5
    tiers:
      - delay: 2s
        targets: [{ user: alice }]
routing:
  defaults:
    critical: { policy: fast }
    error: { policy: fast }
    warning: { policy: fast }
    info: { policy: fast }
integrations:
  - name: ci
    format: native
"#;

/// A running runtime and an HTTP client that does not follow redirects.
pub struct ConsoleWorld {
    /// The runtime.
    pub runtime: LocalRuntime,
    /// The client.
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A signed-in browser, as far as these tests need one: its cookie header value.
#[derive(Debug, Clone)]
pub struct Session {
    /// `klaxon_session=<token>`.
    pub cookie: String,
    /// The whole `Set-Cookie` value the sign-in answered with.
    pub set_cookie: String,
}

/// Waits up to a minute for `check` to give a value.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of `name="<field>" value="..."` in a page (the first one).
pub fn form_value(html: &str, field: &str) -> Option<String> {
    let marker = format!("name=\"{field}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

impl ConsoleWorld {
    /// Starts a runtime on a free port with [`CONSOLE_CONFIG`].
    pub async fn start() -> Self {
        Self::start_with(CONSOLE_CONFIG).await
    }

    /// Starts a runtime with `yaml`.
    pub async fn start_with(yaml: &str) -> Self {
        Self::start_with_env(yaml, &[]).await
    }

    /// Starts a runtime with `yaml` whose `${VAR}` references see only `env`.
    pub async fn start_with_env(yaml: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut options = RuntimeOptions::new(dir.path(), "127.0.0.1:0".parse().unwrap());
        options.config = Some(Config::from_yaml(yaml).unwrap());
        options.console = Console::Silent;
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        options.env =
            Arc::new(move |name| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()));
        options.tuning.consumer.idle_poll = Duration::from_millis(100);
        let runtime = LocalRuntime::start(options).await.unwrap();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            runtime,
            client,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.runtime.public_url())
    }

    /// Every outbox record so far.
    pub fn outbox(&self) -> Vec<OutboxRecord> {
        Outbox::read_records(self.runtime.data_dir().outbox()).unwrap_or_default()
    }

    /// The sign-in emails sent to `address`.
    pub fn signin_emails(&self, address: &str) -> Vec<OutboxRecord> {
        self.outbox()
            .into_iter()
            .filter(|r| {
                r.recipient.eq_ignore_ascii_case(address)
                    && r.subject.as_deref() == Some("Sign in to Klaxon")
            })
            .collect()
    }

    /// The pages (emails with an acknowledge link) sent to `address`.
    pub fn pages_to(&self, address: &str) -> Vec<OutboxRecord> {
        self.outbox()
            .into_iter()
            .filter(|r| r.recipient == address && r.links.iter().any(|l| l.contains("a=ack")))
            .collect()
    }

    /// GET with an optional session.
    pub async fn get(&self, path: &str, session: Option<&Session>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(session) = session {
            request = request.header(COOKIE, &session.cookie);
        }
        request.send().await.unwrap()
    }

    /// POST a form with an optional session.
    pub async fn post_form(
        &self,
        path: &str,
        session: Option<&Session>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        if let Some(session) = session {
            request = request.header(COOKIE, &session.cookie);
        }
        request.send().await.unwrap()
    }

    /// Asks for a sign-in link for `address` and returns the link from the outbox.
    pub async fn request_link(&self, address: &str) -> String {
        let before = self.signin_emails(address).len();
        let response = self
            .post_form("/console/signin", None, &[("email", address)])
            .await;
        assert_eq!(response.status(), 200);
        let emails = self.signin_emails(address);
        assert_eq!(emails.len(), before + 1, "one sign-in email to {address}");
        emails[before].links[0].clone()
    }

    /// Uses a sign-in link as a browser would: open it, press the button.
    pub async fn use_link(&self, link: &str) -> reqwest::Response {
        let page = self.client.get(link).send().await.unwrap();
        let query = link.split_once('?').map(|(_, q)| q).unwrap_or_default();
        let fields: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
        let form: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if page.status() != 200 {
            return page;
        }
        self.post_form("/console/signin/link", None, &form).await
    }

    /// Signs `address` in through the outbox.
    pub async fn sign_in(&self, address: &str) -> Session {
        let link = self.request_link(address).await;
        let response = self.use_link(&link).await;
        assert_eq!(response.status(), 303, "sign-in redirects to the incidents");
        session_of(response.headers()).expect("a session cookie")
    }

    /// Puts `body` on queue `queue` of the runtime and waits until its consumer dead-letters
    /// it (a body that is not a Klaxon message dies on its first receive); returns the dead
    /// letter's id.
    pub async fn dead_letter(&self, queue: QueueName, body: &str) -> String {
        let local = self.runtime.queue();
        local
            .send_raw(queue, None, None, body.to_owned())
            .await
            .unwrap();
        eventually("the dead letter", async || {
            let letters = local.dead_letters(queue).await.unwrap();
            letters
                .into_iter()
                .find(|letter| letter.body == body)
                .map(|letter| letter.id.to_string())
        })
        .await
    }

    /// Sends a critical alert through the API and waits for its incident.
    pub async fn open_incident(&self, dedup_key: &str) -> StoredIncident {
        let key = self
            .runtime
            .keys()
            .integration("ci")
            .unwrap()
            .key
            .expose()
            .to_owned();
        let response = self
            .client
            .post(self.url("/v1/alerts"))
            .bearer_auth(key)
            .json(&json!({
                "dedup_key": dedup_key,
                "status": "firing",
                "severity": "critical",
                "summary": format!("{dedup_key} is on fire"),
                "labels": {"service": "checkout"},
                "annotations": {"runbook": "restart it"},
                "links": [{"href": "https://grafana.example.com/d/1", "text": "Dashboard"}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        let repo = self.runtime.repository();
        eventually("the incident", async || {
            let open = repo.open_incidents(None, 50).await.unwrap();
            open.items
                .into_iter()
                .find(|i| i.incident.title().contains(dedup_key))
        })
        .await
    }
}

/// The session in a response's `Set-Cookie`, if it sets one with a value.
pub fn session_of(headers: &HeaderMap) -> Option<Session> {
    let set_cookie = headers.get(SET_COOKIE)?.to_str().ok()?.to_owned();
    let pair = set_cookie.split(';').next()?.trim().to_owned();
    let (_, value) = pair.split_once('=')?;
    (!value.is_empty()).then(|| Session {
        cookie: pair.clone(),
        set_cookie: set_cookie.clone(),
    })
}

/// Where a redirect points.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
