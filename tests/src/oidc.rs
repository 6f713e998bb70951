//! A real OpenID Connect provider on loopback for the console's single sign-on tests: the
//! certified `oidc-provider` package from npm (pinned to [`OIDC_PROVIDER_VERSION`]), run by
//! `tests/oidc_provider.mjs` with Node.js. The package comes into a cache directory kept out
//! of git, `KLAXON_OIDC_PROVIDER_DIR` when set, else `target/oidc-provider` of the workspace;
//! `./scripts/test` installs it before the tests, and a test that finds it missing installs it
//! itself (`npm install`), failing (never skipping) when that is impossible.

use crate::axe::npm_install;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The `oidc-provider` version the tests run.
pub const OIDC_PROVIDER_VERSION: &str = "9.13.3";

/// Environment variable naming the cache directory for `oidc-provider`.
pub const OIDC_PROVIDER_DIR_VAR: &str = "KLAXON_OIDC_PROVIDER_DIR";

/// The client id the tests register.
pub const CLIENT_ID: &str = "klaxon-console";

/// The client secret the tests register (Klaxon reads it through `${KLAXON_TEST_OIDC_SECRET}`).
pub const CLIENT_SECRET: &str = "a-test-only-client-secret-of-some-length";

/// The variable the test configuration names for the client secret.
pub const SECRET_VAR: &str = "KLAXON_TEST_OIDC_SECRET";

static INSTALL: Mutex<()> = Mutex::new(());

fn module_path() -> PathBuf {
    let cache = match std::env::var(OIDC_PROVIDER_DIR_VAR) {
        Ok(dir) if !dir.trim().is_empty() => PathBuf::from(dir.trim()),
        _ => crate::workspace_root().join("target/oidc-provider"),
    };
    let path = cache
        .join(OIDC_PROVIDER_VERSION)
        .join("node_modules/oidc-provider/lib/index.js");
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if !path.is_file() {
        npm_install(
            &cache,
            "oidc-provider",
            OIDC_PROVIDER_VERSION,
            OIDC_PROVIDER_DIR_VAR,
        );
    }
    path
}

/// A running provider; stopped when dropped.
pub struct OidcProvider {
    /// `http://127.0.0.1:PORT`.
    pub issuer: String,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    _child: Child,
}

impl OidcProvider {
    /// Starts the provider on a free port; it serves once [`Self::register`] gave it the
    /// client.
    ///
    /// # Panics
    /// When Node.js is missing or the provider does not start.
    pub async fn start() -> Self {
        let script = crate::workspace_root().join("tests/oidc_provider.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .env("OIDC_PROVIDER_MODULE", module_path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("node {}: {e} (install Node.js)", script.display()));
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let hello = next_json(&mut stdout).await;
        let issuer = hello["issuer"].as_str().unwrap().to_owned();
        Self {
            issuer,
            stdin,
            stdout,
            _child: child,
        }
    }

    /// Registers Klaxon as the provider's one client, with `redirect_uri`, and waits until
    /// the provider serves.
    pub async fn register(&mut self, redirect_uri: &str) {
        let client = json!({
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": redirect_uri,
        });
        let line = format!("{client}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let ready = next_json(&mut self.stdout).await;
        assert_eq!(ready["ready"], json!(true), "the provider started");
    }
}

async fn next_json(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), lines.next_line())
        .await
        .expect("the OpenID provider answers within a minute")
        .unwrap()
        .expect("the OpenID provider printed a line");
    serde_json::from_str(&read).unwrap_or_else(|e| panic!("{read:?}: {e}"))
}

/// The `settings.sso` YAML for a provider at `issuer`, to append under `settings:`.
pub fn sso_settings(issuer: &str) -> String {
    format!(
        "settings:\n  sso:\n    issuer: {issuer}\n    client_id: {CLIENT_ID}\n    \
         client_secret: ${{{SECRET_VAR}}}\n    name: Test SSO\n"
    )
}
