//! Test harness shared by the integration tests: a moto server for the AWS adapters, SDK
//! configuration pointing at it, unique resource names, and ready-made stores.
//!
//! The moto server comes from `KLAXON_MOTO_ENDPOINT` when set (`./scripts/test` starts one for
//! the whole run); otherwise the first test that needs it starts one once per test binary on a
//! free loopback port, with a watchdog that stops it when the test binary exits. Both run
//! `tests/moto_server.py`: `python3 -m moto.server` with DynamoDB requests handled one at a time,
//! because moto's DynamoDB backend does not make a conditional write or an ADD atomic across its
//! request threads (real DynamoDB does; see that file). If moto is not installed, tests fail
//! (never skip) with instructions.

// Test support code: a failed set-up should stop the test with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod axe;
pub mod browser;
pub mod chaos;
pub mod console;
pub mod fakes;
pub mod faults;
pub mod oidc;
pub mod pipeline;
pub mod webdriver;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use klaxon_aws::dynamo::{DynamoStore, create_table_from_definition};
use klaxon_local::store::SqliteStore;
use klaxon_store::{Clock, ManualClock, TableDefinition};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Environment variable naming an already running moto server (`http://127.0.0.1:PORT`).
pub const MOTO_ENDPOINT_VAR: &str = "KLAXON_MOTO_ENDPOINT";

/// The region every test client uses.
pub const TEST_REGION: &str = "us-east-1";

/// How long a freshly started moto server may take to answer.
const MOTO_START_TIMEOUT: Duration = Duration::from_secs(60);

static MOTO: OnceLock<String> = OnceLock::new();

/// The moto server endpoint: `KLAXON_MOTO_ENDPOINT`, or a server this test binary starts
/// (once). Panics with instructions when moto is not installed.
pub fn moto_endpoint() -> &'static str {
    MOTO.get_or_init(|| match std::env::var(MOTO_ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint.trim().to_owned(),
        _ => start_moto(),
    })
}

/// Environment variable choosing the Python interpreter that runs moto.
pub const PYTHON_VAR: &str = "KLAXON_PYTHON";

/// The Python interpreter to run moto with: `KLAXON_PYTHON` when set, else the project's
/// `.venv` (created by `./scripts/test`) when present, otherwise `python3`.
fn python() -> PathBuf {
    if let Ok(python) = std::env::var(PYTHON_VAR)
        && !python.trim().is_empty()
    {
        return PathBuf::from(python.trim());
    }
    let venv = workspace_root().join(".venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// The workspace root directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn start_moto() -> String {
    let python = python();
    let installed = Command::new(&python)
        .args(["-c", "import moto.server, flask, flask_cors"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .unwrap_or(false);
    assert!(
        installed,
        "moto server is not installed for {}: run `pip install 'moto[server]'` (or run \
         `./scripts/test`, which installs it and starts a server), or set {MOTO_ENDPOINT_VAR} \
         to a running moto server",
        python.display()
    );
    let port = free_port();
    // The watchdog shell stops moto when this test binary (its parent) exits, so no server is
    // left behind even though statics are never dropped.
    let log = std::env::temp_dir().join(format!("klaxon-moto-{}.log", std::process::id()));
    let script = r#"
        "$1" "$4" 127.0.0.1 "$2" >"$5" 2>&1 &
        moto=$!
        trap 'kill $moto 2>/dev/null' EXIT INT TERM
        while kill -0 "$3" 2>/dev/null && kill -0 "$moto" 2>/dev/null; do sleep 1; done
    "#;
    let mut watchdog = Command::new("sh")
        .args(["-c", script, "klaxon-moto-watchdog"])
        .arg(&python)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .arg(moto_script())
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("could not start the moto server watchdog (sh)");
    // Reap the watchdog when it ends (with this process, or when moto dies) and report that.
    let (ended_tx, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = ended_tx.send(watchdog.wait());
    });
    let deadline = Instant::now() + MOTO_START_TIMEOUT;
    while Instant::now() < deadline {
        if moto_answers(port) {
            return format!("http://127.0.0.1:{port}");
        }
        if let Ok(status) = ended.try_recv() {
            panic!(
                "moto server exited during start-up ({status:?}); its output is in {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "moto server did not answer on 127.0.0.1:{port} within {MOTO_START_TIMEOUT:?}; its \
         output is in {}",
        log.display()
    );
}

/// The moto server launcher (`tests/moto_server.py`).
pub fn moto_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("moto_server.py")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("no free loopback port");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

/// Whether `GET /moto-api/` answers 200 on the port.
fn moto_answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = "GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// SDK configuration for the moto server: its endpoint, static `test`/`test` credentials,
/// region `us-east-1`.
pub async fn aws_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(Region::new(TEST_REGION))
        .credentials_provider(Credentials::new("test", "test", None, None, "klaxon-tests"))
        .load()
        .await
}

/// A DynamoDB client for the moto server.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&aws_config().await)
}

/// A Secrets Manager client for the moto server.
pub async fn secretsmanager_client() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&aws_config().await)
}

/// Creates secret `name` (unique per call) holding `value` in moto; returns its ARN.
pub async fn create_secret(name: &str, value: &str) -> String {
    secretsmanager_client()
        .await
        .create_secret()
        .name(unique_name(name))
        .secret_string(value)
        .send()
        .await
        .expect("moto creates the secret")
        .arn
        .expect("a created secret has an ARN")
}

/// A name no other test (in this or another concurrently running test binary) uses:
/// `prefix-<pid>-<counter>-<nanos>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{count}-{nanos}", std::process::id())
}

/// The instant every store test starts at: 2026-01-01T00:00:00Z.
pub fn test_start() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("valid timestamp")
}

/// A manual clock at [`test_start`].
pub fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(test_start()))
}

/// A DynamoDB store on a fresh table (created from `infra/table.json`) in the moto server.
pub async fn dynamo_store(clock: Arc<dyn Clock>) -> DynamoStore {
    let client = dynamodb_client().await;
    let table = unique_name("klaxon");
    let definition = TableDefinition::load().expect("infra/table.json is valid");
    create_table_from_definition(&client, &table, &definition)
        .await
        .expect("create the test table in moto");
    DynamoStore::new(client, table, clock)
}

/// An in-memory SQLite store.
pub fn sqlite_store(clock: Arc<dyn Clock>) -> SqliteStore {
    SqliteStore::open_in_memory(clock).expect("open an in-memory SQLite store")
}

/// An SQS client for the moto server.
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&aws_config().await)
}

/// An EventBridge Scheduler client for the moto server.
pub async fn scheduler_client() -> aws_sdk_scheduler::Client {
    aws_sdk_scheduler::Client::new(&aws_config().await)
}

/// An SES v2 client for the moto server.
pub async fn sesv2_client() -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(&aws_config().await)
}

/// An SNS client for the moto server.
pub async fn sns_client() -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(&aws_config().await)
}

/// Everything moto holds (`GET /moto-api/data.json`): `.ses.Message[]` (id, source,
/// destinations, subject, body), `.sns.SMS[]` (message_id, phone_number, message), ….
///
/// moto builds this dump by iterating every backend's dictionaries while other threads keep
/// serving requests, so under load it sometimes answers 500 ("dictionary changed size during
/// iteration"); such an answer is asked again, a few times, before the test gives up.
pub async fn moto_data() -> serde_json::Value {
    const ATTEMPTS: u32 = 20;
    let url = format!("{}/moto-api/data.json", moto_endpoint());
    let mut attempt = 1;
    loop {
        let answer = reqwest::get(&url)
            .await
            .and_then(|response| response.error_for_status());
        match answer {
            Ok(response) => return response.json().await.expect("moto's data.json is JSON"),
            Err(error) if error.is_status() && attempt < ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(error) => panic!("moto answers /moto-api/data.json: {error}"),
        }
    }
}
