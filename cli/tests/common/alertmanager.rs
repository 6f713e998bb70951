//! Prometheus Alertmanager itself (Debian's `prometheus-alertmanager`, installed by
//! `scripts/test`), started on a free port for the tests that point one of its receivers at
//! `klaxon serve`.

use super::server::PATIENCE;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Alertmanager binary: `KLAXON_ALERTMANAGER`, else Debian's
/// `/usr/bin/prometheus-alertmanager`. Missing, the test fails saying so (never skips).
fn alertmanager_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KLAXON_ALERTMANAGER") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from("/usr/bin/prometheus-alertmanager");
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/test once (it installs Debian's prometheus-alertmanager), or set KLAXON_ALERTMANAGER",
        path.display()
    );
    path
}

/// A running Alertmanager, killed when dropped.
pub struct Alertmanager {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: PathBuf,
}

impl Alertmanager {
    /// Starts it with `config` on `port`, data in `dir`, clustering off, and waits until
    /// `/-/ready` answers 200.
    pub fn start(config: &str, dir: &Path, port: u16) -> Alertmanager {
        let config_file = dir.join("alertmanager.yml");
        std::fs::write(&config_file, config).expect("the Alertmanager config is written");
        let log = dir.join("alertmanager.log");
        let child = Command::new(alertmanager_binary())
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("the Alertmanager log is created"))
            .spawn()
            .expect("prometheus-alertmanager starts");
        let mut alertmanager = Alertmanager {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = alertmanager.child.try_wait().expect("the child's status") {
                panic!(
                    "alertmanager exited during start ({status}):\n{}",
                    alertmanager.log()
                );
            }
            let ready = block_on(async {
                reqwest::get(format!("{}/-/ready", alertmanager.url))
                    .await
                    .is_ok_and(|response| response.status().is_success())
            });
            if ready {
                return alertmanager;
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager did not become ready:\n{}",
                alertmanager.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `POST /api/v2/alerts` with `alerts`; Alertmanager answers 200.
    pub fn push(&self, alerts: &Value) {
        let (status, text) = block_on(async {
            let response = reqwest::Client::new()
                .post(format!("{}/api/v2/alerts", self.url))
                .json(alerts)
                .send()
                .await
                .expect("alertmanager answers");
            (
                response.status().as_u16(),
                response.text().await.expect("alertmanager answers"),
            )
        });
        assert_eq!(status, 200, "alertmanager refused the alerts: {text}");
    }

    /// The sum of the samples of `metric` labelled `integration="{integration}"` on
    /// `/metrics` (`alertmanager_notifications_total`, `…_failed_total`).
    pub fn metric(&self, metric: &str, integration: &str) -> f64 {
        let text = block_on(async {
            reqwest::get(format!("{}/metrics", self.url))
                .await
                .expect("alertmanager answers")
                .text()
                .await
                .expect("alertmanager answers")
        });
        let label = format!("integration=\"{integration}\"");
        let samples: Vec<f64> = text
            .lines()
            .filter(|line| line.starts_with(&format!("{metric}{{")))
            .filter(|line| line.contains(&label))
            .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
            .collect();
        assert!(!samples.is_empty(), "{metric} is not on /metrics:\n{text}");
        samples.iter().sum()
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `future` to completion on a fresh current-thread runtime.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(future)
}
