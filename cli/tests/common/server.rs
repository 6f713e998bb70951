//! Running `klaxon serve` (the built binary) in tests: start it on a port, read its keys and
//! outbox, call it over HTTP, stop it gracefully or with `kill -9`.

use super::{Run, repo};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long anything in these tests may take before the test fails (generous: the machine may
/// be busy; nothing asserts how fast things happen).
pub const PATIENCE: Duration = Duration::from_secs(90);

/// Environment variables of the klaxon command that must not leak in from the test's own
/// environment.
pub const KLAXON_VARIABLES: [&str; 17] = [
    "KLAXON_CONFIG",
    "KLAXON_LISTEN",
    "KLAXON_DATA_DIR",
    "KLAXON_PUBLIC_URL",
    "KLAXON_SMTP_URL",
    "KLAXON_SMTP_HOST",
    "KLAXON_SMTP_PORT",
    "KLAXON_SMTP_SECURITY",
    "KLAXON_SMTP_USER",
    "KLAXON_SMTP_FROM",
    "KLAXON_SMTP_PASSWORD",
    "KLAXON_SLACK_SIGNING_SECRET",
    "KLAXON_URL",
    "KLAXON_API_KEY",
    "KLAXON_DB",
    "KLAXON_TABLE",
    "KLAXON_DURABILITY",
];

/// The serve tests' configuration (`tests/fixtures/serve.yaml`).
pub fn serve_config() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/serve.yaml")
        .display()
        .to_string()
}

/// A free loopback port (bound and released; another process could take it in between, which
/// these tests accept).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A running `klaxon serve`.
pub struct Serve {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The data directory.
    pub data_dir: PathBuf,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// Starts `klaxon serve --config CONFIG --data-dir DATA_DIR --listen 127.0.0.1:PORT` and
    /// waits until it says where it listens.
    pub fn start(config: &str, data_dir: &Path, port: u16) -> Serve {
        Self::start_with(config, data_dir, port, &[])
    }

    /// Like [`Serve::start`] with extra arguments.
    pub fn start_with(config: &str, data_dir: &Path, port: u16, extra: &[&str]) -> Serve {
        let mut command = Command::new(env!("CARGO_BIN_EXE_klaxon"));
        command
            .args(["serve", "--config", config, "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra);
        for variable in KLAXON_VARIABLES {
            command.env_remove(variable);
        }
        Self::spawn(command, port, data_dir)
    }

    /// Runs `command` (a `klaxon serve` listening on `port` with data in `data_dir`) from the
    /// repository root and waits until it says where it listens.
    pub fn spawn(mut command: Command, port: u16, data_dir: &Path) -> Serve {
        command
            .current_dir(repo())
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("klaxon serve starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stdout.take().expect("piped stdout"), &stdout);
        collect(child.stderr.take().expect("piped stderr"), &stderr);
        let mut serve = Serve {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.to_path_buf(),
            stdout,
            stderr,
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            if serve.stdout().contains("Klaxon is listening on ") {
                break;
            }
            if let Some(status) = serve.child_mut().try_wait().expect("child status") {
                panic!(
                    "klaxon serve exited during start ({status}):\nstdout:\n{}\nstderr:\n{}",
                    serve.stdout(),
                    serve.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "klaxon serve did not start:\n{}\n{}",
                serve.stdout(),
                serve.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the process is running")
    }

    /// Everything it printed on standard output so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("stdout buffer").clone()
    }

    /// Everything it printed on standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer").clone()
    }

    /// The variables of `keys.env`.
    pub fn keys(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.data_dir.join("keys.env")).expect("keys.env");
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect()
    }

    /// One key from `keys.env`.
    pub fn key(&self, variable: &str) -> String {
        self.keys()
            .remove(variable)
            .unwrap_or_else(|| panic!("{variable} is not in keys.env"))
    }

    /// Every outbox line.
    pub fn outbox(&self) -> Vec<Value> {
        outbox(&self.data_dir)
    }

    /// Runs `klaxon args...` with KLAXON_URL and KLAXON_API_KEY pointing at this server.
    pub fn cli(&self, args: &[&str]) -> Run {
        cli_with_env(
            args,
            &[
                ("KLAXON_URL", self.url.as_str()),
                ("KLAXON_API_KEY", self.key("KLAXON_API_KEY").as_str()),
            ],
        )
    }

    /// Kills it with SIGKILL (`kill -9`): no chance to finish anything.
    pub fn kill9(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// Sends SIGTERM and waits for it to exit.
    pub fn terminate(self) -> (ExitStatus, String) {
        self.signal("TERM");
        self.wait()
    }

    /// Sends SIGINT (what Ctrl-C sends) and waits for it to exit.
    pub fn interrupt(self) -> (ExitStatus, String) {
        self.signal("INT");
        self.wait()
    }

    /// Sends the signal `name` (`TERM`, `INT`) without waiting.
    pub fn signal(&self, name: &str) {
        let child = self.child.as_ref().expect("running");
        let status = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child_mut().try_wait().expect("child status").is_none()
    }

    /// Waits (at most [`PATIENCE`]) for it to exit; returns its status and its standard error.
    pub fn wait(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().expect("child status") {
                // Let the reader threads drain the pipes.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.stderr());
            }
            assert!(
                Instant::now() < deadline,
                "klaxon serve did not stop:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn collect(stream: impl Read + Send + 'static, buffer: &Arc<Mutex<String>>) {
    let buffer = Arc::clone(buffer);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut text = buffer.lock().expect("buffer");
            text.push_str(&line);
            text.push('\n');
        }
    });
}

/// Every line of `<data_dir>/outbox.jsonl`, parsed.
pub fn outbox(data_dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(data_dir.join("outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Outbox records that are pages (they carry an acknowledge link) sent to `recipient`.
pub fn pages_to(records: &[Value], recipient: &str) -> Vec<Value> {
    records
        .iter()
        .filter(|record| record["recipient"] == recipient)
        .filter(|record| ack_link(record).is_some())
        .cloned()
        .collect()
}

/// The acknowledge link of an outbox record.
pub fn ack_link(record: &Value) -> Option<String> {
    record["links"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|link| link.contains("a=ack"))
        .map(str::to_owned)
}

/// Polls `check` until it returns `Some` (at most [`PATIENCE`]).
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `klaxon args...` from the repository root with `env` set and every other KLAXON_*
/// variable removed.
pub fn cli_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_klaxon"));
    command
        .args(args)
        .current_dir(repo())
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    for variable in KLAXON_VARIABLES {
        command.env_remove(variable);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("klaxon runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// An HTTP request; returns the status and the body (parsed as JSON when it is JSON, else as
/// a JSON string).
pub fn http(method: &str, url: &str, bearer: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    http_with_headers(method, url, bearer, body, &[])
}

/// [`http`] with extra request headers (`Idempotency-Key`).
pub fn http_with_headers(
    method: &str,
    url: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    runtime().block_on(async {
        let client = reqwest::Client::new();
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = client.request(method, url);
        if let Some(key) = bearer {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    })
}
