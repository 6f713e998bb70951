//! A fault-injecting proxy between the real AWS SDK clients and moto server: mitmproxy's
//! `mitmdump` in reverse-proxy mode in front of moto, running `tests/faults/inject.py`.
//!
//! [`FaultProxy::start`] starts one for a test (stopped when it is dropped, or with the test
//! binary); [`FaultProxy::set_plan`] says which calls fail how often and how (rates per service
//! and operation, a seed); [`FaultProxy::stats`] reads back what the proxy saw and injected.
//! Point SDK clients at [`FaultProxy::endpoint`]; set-up and assertions keep talking to moto
//! directly ([`crate::moto_endpoint`]).
//!
//! `mitmdump` comes from `KLAXON_MITMDUMP` when set, else the project's `.venv` (where
//! `./scripts/test` installs mitmproxy), else `PATH`. If it is missing, tests fail with
//! instructions.

use crate::{moto_endpoint, workspace_root};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the `mitmdump` executable.
pub const MITMDUMP_VAR: &str = "KLAXON_MITMDUMP";

/// How long a freshly started proxy may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One kind of injected fault (see `tests/faults/inject.py` for the exact answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The service's own throttling error; nothing applied.
    Throttle,
    /// DynamoDB `ProvisionedThroughputExceededException`; nothing applied.
    Provisioned,
    /// DynamoDB `TransactionCanceledException` with a `TransactionConflict` reason; nothing
    /// applied.
    Conflict,
    /// HTTP 500 in the service's error shape; nothing applied.
    Http500,
    /// HTTP 503 in the service's error shape; nothing applied.
    Http503,
    /// The connection is closed before the request reaches moto.
    ResetBefore,
    /// moto applies the request, then the connection is closed without an answer.
    ResetAfter,
    /// moto applies the request; its answer is held back past the client's timeout.
    Delay,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 8] = [
        FaultKind::Throttle,
        FaultKind::Provisioned,
        FaultKind::Conflict,
        FaultKind::Http500,
        FaultKind::Http503,
        FaultKind::ResetBefore,
        FaultKind::ResetAfter,
        FaultKind::Delay,
    ];

    /// Whether the call was applied although the caller saw a failure.
    pub fn applied(self) -> bool {
        matches!(self, FaultKind::ResetAfter | FaultKind::Delay)
    }
}

/// Which calls a rule covers and how they fail.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRule {
    /// The SigV4 signing name (`dynamodb`, `sqs`, `scheduler`, `ses`, `sns`) or `*`.
    pub service: String,
    /// The operation (`PutItem`, `SendMessage`, `SendEmail`, `Publish`, …) or `*`.
    pub operation: String,
    /// The share of matching calls that fail, 0 to 1.
    pub rate: f64,
    /// Relative weights of the kinds (kinds that cannot apply to a call are skipped); every
    /// kind equally when empty.
    pub kinds: BTreeMap<FaultKind, u32>,
    /// At most this many faults from this rule (unlimited when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl FaultRule {
    /// `rate` of the calls of `service`/`operation` fail with one of `kinds` (equal weights).
    pub fn new(service: &str, operation: &str, rate: f64, kinds: &[FaultKind]) -> Self {
        Self {
            service: service.to_owned(),
            operation: operation.to_owned(),
            rate,
            kinds: kinds.iter().map(|kind| (*kind, 1)).collect(),
            limit: None,
        }
    }

    /// Stops the rule after `limit` faults.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// What the proxy does to the calls it forwards. The first matching rule decides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FaultPlan {
    /// Seeds the proxy's generator (the same seed and the same call order give the same faults).
    pub seed: u64,
    /// How long a [`FaultKind::Delay`] answer is held back, in seconds.
    pub delay_seconds: f64,
    /// An unfaulted email or SMS send answered this many seconds or more after it arrived is
    /// listed in [`FaultStats::unanswered`] (kind `slow`): set it to the clients' attempt
    /// timeout, past which they gave up on a send moto applied (and their SDK sent it again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_seconds: Option<f64>,
    /// The rules, first match wins.
    pub rules: Vec<FaultRule>,
}

/// An email or SMS send that moto applied but whose answer its caller cannot have seen.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UnansweredSend {
    /// `ses:SendEmail` or `sns:Publish`.
    pub call: String,
    /// `reset_after`, `delay` (injected) or `slow` (moto answered after `slow_seconds`).
    pub kind: String,
    /// The email address or phone number.
    pub to: String,
    /// The email's subject or the SMS's text.
    pub text: String,
}

/// What the proxy saw since its plan was set.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FaultStats {
    /// Calls by `service:Operation`.
    pub requests: BTreeMap<String, u64>,
    /// Injected faults by `service:Operation` and kind.
    pub injected: BTreeMap<String, BTreeMap<FaultKind, u64>>,
    /// Email and SMS sends applied but unanswered, in the order the proxy saw them.
    #[serde(default)]
    pub unanswered: Vec<UnansweredSend>,
    /// Seconds moto took over the calls forwarded to it, by `service:Operation`.
    #[serde(default)]
    pub upstream_seconds: BTreeMap<String, f64>,
}

impl FaultStats {
    /// Every call the proxy saw.
    pub fn calls(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Injected faults per kind, over every call.
    pub fn by_kind(&self) -> BTreeMap<FaultKind, u64> {
        let mut totals = BTreeMap::new();
        for kinds in self.injected.values() {
            for (kind, count) in kinds {
                *totals.entry(*kind).or_insert(0) += count;
            }
        }
        totals
    }

    /// Every injected fault.
    pub fn faults(&self) -> u64 {
        self.by_kind().values().sum()
    }

    /// Seconds moto took over every forwarded call.
    pub fn upstream_total(&self) -> f64 {
        self.upstream_seconds.values().sum()
    }

    /// The `n` calls moto spent the most time on: `service:Operation`, calls, seconds.
    pub fn slowest(&self, n: usize) -> Vec<(String, u64, f64)> {
        let mut calls: Vec<(String, u64, f64)> = self
            .upstream_seconds
            .iter()
            .map(|(call, seconds)| {
                let count = self.requests.get(call).copied().unwrap_or(0);
                (call.clone(), count, *seconds)
            })
            .collect();
        calls.sort_by(|a, b| b.2.total_cmp(&a.2));
        calls.truncate(n);
        calls
    }

    /// Faults of `kind` injected into `call` (`service:Operation`).
    pub fn count(&self, call: &str, kind: FaultKind) -> u64 {
        self.injected
            .get(call)
            .and_then(|kinds| kinds.get(&kind))
            .copied()
            .unwrap_or(0)
    }
}

/// A running fault-injecting proxy in front of the moto server.
pub struct FaultProxy {
    endpoint: String,
    watchdog: Child,
    http: reqwest::Client,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The `mitmdump` to run.
fn mitmdump() -> PathBuf {
    if let Ok(path) = std::env::var(MITMDUMP_VAR)
        && !path.trim().is_empty()
    {
        return PathBuf::from(path.trim());
    }
    let venv = workspace_root().join(".venv/bin/mitmdump");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("mitmdump")
    }
}

/// The addon script (`tests/faults/inject.py`).
pub fn addon_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("faults/inject.py")
}

impl FaultProxy {
    /// Starts a proxy in front of [`moto_endpoint`] on a free loopback port, with an empty
    /// plan (every call forwarded). Panics with instructions when mitmproxy is missing.
    pub async fn start() -> Self {
        let mitmdump = mitmdump();
        let installed = Command::new(&mitmdump)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|status| status.success())
            .unwrap_or(false);
        assert!(
            installed,
            "mitmproxy is not installed ({} does not run): run `pip install mitmproxy` (or \
             `./scripts/test`, which installs it into .venv), or set {MITMDUMP_VAR}",
            mitmdump.display()
        );
        let port = free_port();
        let log = std::env::temp_dir().join(format!("klaxon-faults-{port}.log"));
        // As for moto: the watchdog stops mitmdump when this test binary exits or when the
        // watchdog itself is killed (Drop).
        let script = r#"
            "$1" --mode "reverse:$2" --listen-host 127.0.0.1 --listen-port "$3" -q \
                --set connection_strategy=lazy -s "$4" >"$6" 2>&1 &
            proxy=$!
            trap 'kill $proxy 2>/dev/null' EXIT INT TERM
            while kill -0 "$5" 2>/dev/null && kill -0 "$proxy" 2>/dev/null; do sleep 1; done
        "#;
        let watchdog = Command::new("sh")
            .args(["-c", script, "klaxon-faults-watchdog"])
            .arg(&mitmdump)
            .arg(moto_endpoint())
            .arg(port.to_string())
            .arg(addon_script())
            .arg(std::process::id().to_string())
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start the fault proxy watchdog (sh)");
        let proxy = FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            watchdog,
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if proxy.try_stats().await.is_some() {
                return proxy;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "the fault proxy did not answer on 127.0.0.1:{port} within {START_TIMEOUT:?}; its \
             output is in {}",
            log.display()
        );
    }

    /// Where SDK clients should send their requests.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Replaces the plan (and resets the counters).
    pub async fn set_plan(&self, plan: &FaultPlan) {
        self.http
            .post(format!("{}/__faults/plan", self.endpoint))
            .json(plan)
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .expect("the fault proxy takes the plan");
    }

    /// Forwards every call from now on (and resets the counters), still listing sends
    /// answered after `slow_seconds` when that is set.
    pub async fn heal(&self, slow_seconds: Option<f64>) {
        self.set_plan(&FaultPlan {
            slow_seconds,
            ..FaultPlan::default()
        })
        .await;
    }

    /// What the proxy saw and injected since the plan was set.
    pub async fn stats(&self) -> FaultStats {
        self.try_stats()
            .await
            .expect("the fault proxy answers /__faults/stats")
    }

    async fn try_stats(&self) -> Option<FaultStats> {
        let response = self
            .http
            .get(format!("{}/__faults/stats", self.endpoint))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .ok()?;
        response.error_for_status().ok()?.json().await.ok()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // SIGTERM, so the watchdog's trap stops mitmdump too (SIGKILL would orphan it).
        let stopped = Command::new("kill")
            .arg(self.watchdog.id().to_string())
            .status()
            .is_ok_and(|status| status.success());
        if !stopped {
            let _ = self.watchdog.kill();
        }
        let _ = self.watchdog.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("no free loopback port");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}
