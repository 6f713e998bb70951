//! The self-heartbeat: after each successful recovery sweep, Klaxon pings an external URL
//! (another Klaxon's integration, a Healthchecks-style service), so whoever watches that URL
//! notices when Klaxon's pipeline stops: no sweep, no ping.
//!
//! A ping is a `GET`, or a `POST` with the sweep's counts as JSON, with a short timeout
//! ([`HEARTBEAT_TIMEOUT`]). A failed ping (any non-2xx answer, a timeout, no connection) is
//! logged and counted ([`Heartbeat::failures`]) and never fails the sweep: the watcher sees
//! the missing ping, which is the point. An optional [`PingObserver`] hears every outcome: the
//! deployment turns it into a CloudWatch metric with an alarm, so a ping that keeps failing
//! (a wrong URL, a watcher that is down) is noticed from inside the account too.

use crate::usecases::routing::SweepReport;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The whole-exchange timeout of one ping (well inside the routing function's timeout).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a ping is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeartbeatMethod {
    /// `GET`, no body.
    #[default]
    Get,
    /// `POST` with the sweep's counts as JSON.
    Post,
}

impl FromStr for HeartbeatMethod {
    type Err = HeartbeatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_uppercase().as_str() {
            "GET" => Ok(HeartbeatMethod::Get),
            "POST" => Ok(HeartbeatMethod::Post),
            _ => Err(HeartbeatError::Method(text.to_owned())),
        }
    }
}

/// Why a heartbeat cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeartbeatError {
    /// The URL is not an http(s) URL with a host.
    #[error("heartbeat URL: {0}")]
    Url(String),
    /// The method is neither GET nor POST.
    #[error("heartbeat method {0:?} is neither GET nor POST")]
    Method(String),
    /// The HTTP client could not be built.
    #[error("building the heartbeat client: {0}")]
    Client(String),
}

/// Told the outcome of every ping: `true` when the URL answered 2xx.
pub type PingObserver = Arc<dyn Fn(bool) + Send + Sync>;

/// Pings one URL. Clones share the failure count and the observer.
#[derive(Clone)]
pub struct Heartbeat {
    client: reqwest::Client,
    url: reqwest::Url,
    method: HeartbeatMethod,
    failures: Arc<AtomicU64>,
    observer: Option<PingObserver>,
}

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Ping URLs usually carry their check's token: show the host only.
        f.debug_struct("Heartbeat")
            .field("host", &self.url.host_str())
            .field("method", &self.method)
            .field("failures", &self.failures())
            .finish()
    }
}

impl Heartbeat {
    /// A heartbeat to `url` with the [`HEARTBEAT_TIMEOUT`].
    pub fn new(url: &str, method: HeartbeatMethod) -> Result<Self, HeartbeatError> {
        Self::with_timeout(url, method, HEARTBEAT_TIMEOUT)
    }

    /// A heartbeat with another timeout (tests).
    pub fn with_timeout(
        url: &str,
        method: HeartbeatMethod,
        timeout: Duration,
    ) -> Result<Self, HeartbeatError> {
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| HeartbeatError::Url(format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(HeartbeatError::Url(
                "must be an http:// or https:// URL with a host".to_owned(),
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| HeartbeatError::Client(e.to_string()))?;
        Ok(Self {
            client,
            url: parsed,
            method,
            failures: Arc::new(AtomicU64::new(0)),
            observer: None,
        })
    }

    /// Tells `observer` the outcome of every ping (a metric of failed pings).
    pub fn with_observer(mut self, observer: PingObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    fn observe(&self, delivered: bool) {
        if let Some(observer) = &self.observer {
            observer(delivered);
        }
    }

    /// How many pings failed since start.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Sends one ping after a sweep; `true` when the URL answered 2xx. A failure is logged
    /// and counted, never returned as an error.
    pub async fn ping(&self, report: &SweepReport) -> bool {
        let request = match self.method {
            HeartbeatMethod::Get => self.client.get(self.url.clone()),
            HeartbeatMethod::Post => self.client.post(self.url.clone()).json(&serde_json::json!({
                "source": "klaxon",
                "event": "sweep",
                "overdue_timers": report.overdue_timers,
                "requeued_alerts": report.requeued_alerts,
                "reannounced_incidents": report.reannounced_incidents,
            })),
        };
        let failure = match request.send().await {
            Ok(response) if response.status().is_success() => {
                self.observe(true);
                return true;
            }
            Ok(response) => format!("answered {}", response.status()),
            Err(error) if error.is_timeout() => "timed out".to_owned(),
            Err(error) => format!("failed: {}", error.without_url()),
        };
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            host = self.url.host_str().unwrap_or_default(),
            failures,
            "self-heartbeat ping {failure}"
        );
        self.observe(false);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_urls_are_checked() {
        assert_eq!("post".parse(), Ok(HeartbeatMethod::Post));
        assert_eq!(" GET ".parse(), Ok(HeartbeatMethod::Get));
        assert!("PUT".parse::<HeartbeatMethod>().is_err());
        for bad in ["", "hc.example/ping", "ftp://hc.example/ping", "http://"] {
            assert!(
                Heartbeat::new(bad, HeartbeatMethod::Get).is_err(),
                "{bad:?}"
            );
        }
        let heartbeat =
            Heartbeat::new("https://hc.example/ping/secret-token", HeartbeatMethod::Get).unwrap();
        assert!(!format!("{heartbeat:?}").contains("secret-token"));
    }

    /// A receiver on a free loopback port answering `status` after `delay`; records each
    /// request's method, path and body.
    async fn receiver(
        status: u16,
        delay: Duration,
    ) -> (String, Arc<std::sync::Mutex<Vec<(String, String, String)>>>) {
        let seen: Arc<std::sync::Mutex<Vec<(String, String, String)>>> = Arc::default();
        let recorded = Arc::clone(&seen);
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method, uri: axum::http::Uri, body: String| {
                let recorded = Arc::clone(&recorded);
                async move {
                    recorded.lock().unwrap().push((
                        method.to_string(),
                        uri.path().to_owned(),
                        body,
                    ));
                    tokio::time::sleep(delay).await;
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{address}/ping/check-7"), seen)
    }

    fn report() -> SweepReport {
        SweepReport {
            overdue_timers: 2,
            ..SweepReport::default()
        }
    }

    #[tokio::test]
    async fn a_get_or_post_ping_reaches_the_receiver() {
        let (url, seen) = receiver(200, Duration::ZERO).await;
        let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = Arc::clone(&outcomes);
        let get = Heartbeat::new(&url, HeartbeatMethod::Get)
            .unwrap()
            .with_observer(Arc::new(move |ok| recorded.lock().unwrap().push(ok)));
        assert!(get.ping(&report()).await);
        assert_eq!(*outcomes.lock().unwrap(), [true]);
        let post = Heartbeat::new(&url, HeartbeatMethod::Post).unwrap();
        assert!(post.ping(&report()).await);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(
            seen[0],
            ("GET".into(), "/ping/check-7".into(), String::new())
        );
        assert_eq!(seen[1].0, "POST");
        let body: serde_json::Value = serde_json::from_str(&seen[1].2).unwrap();
        assert_eq!(body["event"], "sweep");
        assert_eq!(body["overdue_timers"], 2);
        assert_eq!(get.failures() + post.failures(), 0);
    }

    #[tokio::test]
    async fn an_error_answer_a_slow_receiver_and_no_receiver_are_counted_failures() {
        let (url, _) = receiver(503, Duration::ZERO).await;
        let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let recorded = Arc::clone(&outcomes);
        let heartbeat = Heartbeat::new(&url, HeartbeatMethod::Get)
            .unwrap()
            .with_observer(Arc::new(move |ok| recorded.lock().unwrap().push(ok)));
        assert!(!heartbeat.ping(&report()).await);
        assert_eq!(heartbeat.failures(), 1);
        assert_eq!(
            *outcomes.lock().unwrap(),
            [false],
            "the observer hears a failure"
        );

        let (url, _) = receiver(200, Duration::from_secs(30)).await;
        let slow = Heartbeat::with_timeout(&url, HeartbeatMethod::Get, Duration::from_millis(200))
            .unwrap();
        let started = std::time::Instant::now();
        assert!(!slow.ping(&report()).await);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(slow.failures(), 1);

        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ping", closed.local_addr().unwrap());
        drop(closed);
        let clone = heartbeat.clone();
        let nobody = Heartbeat {
            url: url.parse().unwrap(),
            ..heartbeat
        };
        assert!(!nobody.ping(&report()).await);
        // Clones share the count.
        assert_eq!(clone.failures(), 2);
    }
}
