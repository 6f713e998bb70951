//! The thin HTTP side of an import: GET one API document at a time from the source (or from a
//! directory saved earlier), with retries, rate-limit waits and a progress line.
//!
//! - 429: waits `Retry-After` seconds (at most [`MAX_RETRY_AFTER`]), else backs off, then
//!   retries; 5xx and connection resets are retried with exponential backoff
//!   ([`MAX_ATTEMPTS`] attempts in all).
//! - 401/403: the key was refused; the import stops before writing anything. For a document
//!   read with [`Fetcher::get_optional`] (plan-gated features), 402, 403 and 404 mean "not
//!   available on this account": recorded (in the manifest too, so a replay sees the same) and
//!   reported, not a failure.
//! - Requests are spaced by the source's documented rate (`min_interval`).
//! - Every document read is kept in memory and, with `--save-dir`, written at the end (only
//!   when the whole import succeeded), one file per request, so `--from-dir` replays exactly
//!   the same requests offline.
//! - The API key goes only into the request header: never into errors, files or progress.

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Attempts per request (the first one included).
pub const MAX_ATTEMPTS: u32 = 6;
/// The longest `Retry-After` honoured; a longer one is waited for this long, then retried.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(60);
/// The name of the file listing a saved directory's requests.
pub const MANIFEST: &str = "manifest.json";

/// A document the account may not have: read, or the HTTP status that said it is unavailable.
#[derive(Debug, Clone)]
pub enum Gated<T> {
    /// Read.
    Read(T),
    /// 402, 403 or 404.
    Unavailable(u16),
}

impl<T: Default> Default for Gated<T> {
    fn default() -> Self {
        Self::Read(T::default())
    }
}

impl<T> From<Result<T, u16>> for Gated<T> {
    fn from(result: Result<T, u16>) -> Self {
        match result {
            Ok(value) => Self::Read(value),
            Err(status) => Self::Unavailable(status),
        }
    }
}

/// How to reach the source's API.
pub struct Live {
    /// `https://api.opsgenie.com` (no trailing slash).
    pub base: String,
    /// The `Authorization` header value (holds the key: never printed).
    pub authorization: String,
    /// Extra headers (PagerDuty's `Accept`).
    pub headers: Vec<(String, String)>,
    /// The least time between two requests (the source's documented rate limit).
    pub min_interval: Duration,
}

/// Where documents come from.
pub enum Origin {
    /// The source's API.
    Live(Live),
    /// A directory saved by an earlier `--save-dir`.
    Saved(PathBuf),
}

/// Reads API documents by path (`/v2/users?limit=100&offset=0`).
pub struct Fetcher {
    source: String,
    origin: Origin,
    http: reqwest::Client,
    read: BTreeMap<String, String>,
    order: Vec<String>,
    last_request: Option<Instant>,
    progress: bool,
    as_of: Option<String>,
    /// Optional documents the account does not have: path → HTTP status.
    unavailable: BTreeMap<String, u16>,
    /// Total time spent waiting on 429s and backoffs, for the progress line's total.
    waited: Duration,
    /// Requests that were retried (429, 5xx, timeouts).
    retries: u32,
}

impl Fetcher {
    /// A fetcher for `source` (`opsgenie`, ...).
    pub fn new(source: &str, origin: Origin) -> anyhow::Result<Self> {
        let (as_of, unavailable) = match &origin {
            Origin::Saved(dir) => check_manifest(dir, source)?,
            Origin::Live(_) => {
                // Midnight UTC today: the start of the windows asked for (overrides, ...).
                let today = chrono::Utc::now().date_naive();
                (Some(format!("{today}T00:00:00Z")), BTreeMap::new())
            }
        };
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("klaxon-import/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            source: source.to_owned(),
            origin,
            http,
            read: BTreeMap::new(),
            order: Vec::new(),
            last_request: None,
            progress: std::io::stderr().is_terminal(),
            as_of,
            unavailable,
            waited: Duration::ZERO,
            retries: 0,
        })
    }

    /// The JSON document at `path` (path and query below the API base).
    pub async fn get(&mut self, path: &str) -> anyhow::Result<Value> {
        match self.fetch(path, false).await? {
            Ok(value) => Ok(value),
            Err(status) => bail!("GET {path}: {status}"),
        }
    }

    /// The JSON document at `path`, or the HTTP status (402, 403 or 404) with which the source
    /// said the account does not have it (a feature of another plan, say).
    pub async fn get_optional(&mut self, path: &str) -> anyhow::Result<Result<Value, u16>> {
        self.fetch(path, true).await
    }

    async fn fetch(&mut self, path: &str, optional: bool) -> anyhow::Result<Result<Value, u16>> {
        if let Some(status) = self.unavailable.get(path) {
            return Ok(Err(*status));
        }
        let text = match &self.origin {
            Origin::Saved(dir) => read_saved(dir, path)?,
            Origin::Live(_) => match self.get_live(path, optional).await? {
                Ok(text) => text,
                Err(status) => {
                    self.unavailable.insert(path.to_owned(), status);
                    return Ok(Err(status));
                }
            },
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| match &self.origin {
            Origin::Saved(dir) => anyhow!(
                "saved response {} (for GET {path}) is not valid JSON ({e}): the file is truncated or damaged; import again from the API with --save-dir",
                dir.join(file_name(path)).display()
            ),
            Origin::Live(live) => anyhow!("{}{path} answered with something that is not JSON ({e})", live.base),
        })?;
        if !self.read.contains_key(path) {
            self.order.push(path.to_owned());
        }
        self.read.insert(path.to_owned(), text);
        if self.progress {
            eprint!(
                "\r\x1b[Kimporting from {}: {} requests, last {}",
                self.source,
                self.order.len(),
                shorten(path)
            );
        }
        Ok(Ok(value))
    }

    /// The instant the import reads "from now on" data as of (RFC 3339, midnight UTC of the
    /// live import's day; kept in the manifest so a replay asks for the same windows).
    pub fn as_of(&self) -> anyhow::Result<String> {
        self.as_of.clone().ok_or_else(|| {
            anyhow!(
                "the saved directory's {MANIFEST} has no \"as_of\": save it again with --save-dir"
            )
        })
    }

    /// Ends the progress line and writes the saved directory, if asked for.
    pub fn finish(&self, save_dir: Option<&Path>) -> anyhow::Result<()> {
        if self.progress {
            eprintln!(
                "\r\x1b[Kimported from {}: {} requests ({} retried, {}s spent waiting)",
                self.source,
                self.order.len(),
                self.retries,
                self.waited.as_secs_f32().ceil()
            );
        }
        let Some(dir) = save_dir else { return Ok(()) };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for (path, text) in &self.read {
            let file = dir.join(file_name(path));
            std::fs::write(&file, text)
                .with_context(|| format!("cannot write {}", file.display()))?;
        }
        let manifest = serde_json::json!({
            "source": self.source,
            "as_of": self.as_of,
            "requests": self.order,
            "unavailable": self.unavailable,
        });
        let file = dir.join(MANIFEST);
        std::fs::write(&file, serde_json::to_string_pretty(&manifest)? + "\n")
            .with_context(|| format!("cannot write {}", file.display()))
    }

    /// The body at `path`, or (when `optional`) the status saying the account has no such
    /// document.
    async fn get_live(
        &mut self,
        path: &str,
        optional: bool,
    ) -> anyhow::Result<Result<String, u16>> {
        let Origin::Live(live) = &self.origin else {
            bail!("not a live import")
        };
        let url = format!("{}{path}", live.base);
        let mut backoff = Duration::from_millis(500);
        for attempt in 1..=MAX_ATTEMPTS {
            if let Some(last) = self.last_request {
                let since = last.elapsed();
                if since < live.min_interval {
                    tokio::time::sleep(live.min_interval - since).await;
                }
            }
            self.last_request = Some(Instant::now());
            let mut request = self
                .http
                .get(&url)
                .header("Authorization", &live.authorization);
            for (name, value) in &live.headers {
                request = request.header(name, value);
            }
            let retry = match request.send().await {
                Ok(response) => {
                    match answer(&self.source, response, &url, attempt, optional).await? {
                        Answer::Body(text) => return Ok(Ok(text)),
                        Answer::Unavailable(status) => return Ok(Err(status)),
                        Answer::Retry(wait, why) => (wait.unwrap_or(backoff), why),
                    }
                }
                Err(error) => connection_error(&self.source, &live.base, &url, &error, attempt)
                    .map(|why| (backoff, why))?,
            };
            let (wait, why) = retry;
            self.retries += 1;
            self.waited += wait;
            if self.progress {
                eprint!(
                    "\r\x1b[Kimporting from {}: {} requests, waiting {}s ({why}) before GET {}",
                    self.source,
                    self.order.len(),
                    wait.as_secs_f32().ceil(),
                    shorten(path)
                );
            }
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
        bail!("GET {url} failed after {MAX_ATTEMPTS} attempts; nothing was written")
    }
}

/// What one answer of the API means.
enum Answer {
    /// The document.
    Body(String),
    /// An optional document the account does not have (402, 403, 404).
    Unavailable(u16),
    /// Ask again, after the wait given (`Retry-After`) or the backoff; why, for the progress line.
    Retry(Option<Duration>, String),
}

/// Reads one HTTP answer: the body of a success, a retry for 429 and 5xx (honouring
/// `Retry-After` in seconds), an error for everything else.
async fn answer(
    source: &str,
    response: reqwest::Response,
    url: &str,
    attempt: u32,
    optional: bool,
) -> anyhow::Result<Answer> {
    let status = response.status();
    if optional && matches!(status.as_u16(), 402..=404) {
        return Ok(Answer::Unavailable(status.as_u16()));
    }
    if status.is_success() {
        let text = response
            .text()
            .await
            .with_context(|| format!("reading GET {url}"))?;
        return Ok(Answer::Body(text));
    }
    if status.as_u16() == 401 || status.as_u16() == 403 {
        bail!(
            "{source} refused the API key (GET {url}: {status}): check --api-key (it needs read access to the whole account); nothing was written"
        );
    }
    if status.as_u16() != 429 && !status.is_server_error() {
        let body = response.text().await.unwrap_or_default();
        bail!(
            "GET {url} failed: {status} {}; nothing was written",
            body.chars().take(300).collect::<String>()
        );
    }
    if attempt == MAX_ATTEMPTS {
        bail!(
            "GET {url} still failed after {MAX_ATTEMPTS} attempts: {status}; nothing was written"
        );
    }
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(MAX_RETRY_AFTER));
    Ok(Answer::Retry(retry_after, status.to_string()))
}

/// A request that got no answer: unreachable is an error at once; a timeout or a reset is
/// retried (returns why) until the last attempt.
fn connection_error(
    source: &str,
    base: &str,
    url: &str,
    error: &reqwest::Error,
    attempt: u32,
) -> anyhow::Result<String> {
    if error.is_connect() {
        bail!(
            "cannot reach {source} at {base}: {} (check --api-url); nothing was written",
            root_cause(error)
        );
    }
    if attempt < MAX_ATTEMPTS && (error.is_timeout() || error.is_request()) {
        return Ok(if error.is_timeout() {
            "timed out".to_owned()
        } else {
            "connection failed".to_owned()
        });
    }
    bail!(
        "GET {url} failed: {}; nothing was written",
        root_cause(error)
    )
}

/// The path and query of an absolute `next` link, to be fetched below the same base (so a
/// saved directory replays the same requests).
pub fn path_of(link: &str) -> Option<String> {
    let url = url::Url::parse(link).ok()?;
    Some(match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    })
}

/// The saved file for a request path: letters, digits, `-` and `.` kept, `/` as `~`, every other
/// byte as `_XX` (so two paths never share a file).
pub fn file_name(path: &str) -> String {
    let mut name = String::new();
    for byte in path.trim_start_matches('/').bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' => name.push(char::from(byte)),
            b'/' => name.push('~'),
            other => name.push_str(&format!("_{other:02X}")),
        }
    }
    name.push_str(".json");
    name
}

fn read_saved(dir: &Path, path: &str) -> anyhow::Result<String> {
    let file = dir.join(file_name(path));
    std::fs::read_to_string(&file).with_context(|| {
        format!("the saved directory {} has no response for GET {path} (expected {}): was it saved by a complete import?", dir.display(), file.display())
    })
}

/// What a saved directory's manifest says: `as_of`, and the optional documents the account
/// did not have.
type Manifest = (Option<String>, BTreeMap<String, u16>);

/// Checks the manifest names `source`; returns its `as_of` and unavailable documents.
fn check_manifest(dir: &Path, source: &str) -> anyhow::Result<Manifest> {
    let file = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&file).with_context(|| {
        format!(
            "{} is not a directory saved by `klaxon import --save-dir` (no {MANIFEST})",
            dir.display()
        )
    })?;
    let manifest: Value = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{} is not valid JSON ({e}): the file is truncated or damaged",
            file.display()
        )
    })?;
    match manifest.get("source").and_then(Value::as_str) {
        Some(saved) if saved == source => {
            let as_of = manifest
                .get("as_of")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let unavailable = manifest
                .get("unavailable")
                .and_then(Value::as_object)
                .map(|map| {
                    map.iter()
                        .filter_map(|(path, status)| {
                            let status = u16::try_from(status.as_u64()?).ok()?;
                            Some((path.clone(), status))
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok((as_of, unavailable))
        }
        Some(saved) => bail!(
            "{} was saved by an import from {saved}, not {source}",
            dir.display()
        ),
        None => bail!("{} has no \"source\"", file.display()),
    }
}

fn shorten(path: &str) -> String {
    path.chars().take(60).collect()
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
