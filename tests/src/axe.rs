//! axe-core, Deque's accessibility engine, run inside the page by the browser tests.
//!
//! The script comes from npm (`axe-core`, pinned to [`AXE_VERSION`]) into a cache directory
//! kept out of git: `KLAXON_AXE_DIR` when set, else `target/axe-core` of the workspace.
//! `./scripts/test` installs it before the tests; a test that finds it missing installs it
//! itself (`npm install`), and fails (never skips) when that is impossible.
//!
//! The script is injected with WebDriver's "execute script", which Chromium runs through the
//! DevTools protocol, outside the page's Content-Security-Policy: the console's strict CSP
//! (`script-src 'self'`) stays as it is. The browser test checks that it does, by asserting
//! that the page's own CSP refuses the same script added as an inline `<script>`.

use crate::webdriver::{Browser, WdResult};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The axe-core version the tests run.
pub const AXE_VERSION: &str = "4.14.1";

/// Environment variable naming the cache directory for axe-core.
pub const AXE_DIR_VAR: &str = "KLAXON_AXE_DIR";

static SOURCE: OnceLock<String> = OnceLock::new();

fn cache_dir() -> PathBuf {
    match std::env::var(AXE_DIR_VAR) {
        Ok(dir) if !dir.trim().is_empty() => PathBuf::from(dir.trim()),
        _ => crate::workspace_root().join("target/axe-core"),
    }
}

/// Where this version lives in the cache: `<cache>/<version>/node_modules/axe-core/axe.min.js`.
fn script_path(cache: &Path) -> PathBuf {
    cache
        .join(AXE_VERSION)
        .join("node_modules/axe-core/axe.min.js")
}

/// Installs axe-core into `<cache>/<version>` ([`npm_install`]).
fn install(cache: &Path) {
    npm_install(cache, "axe-core", AXE_VERSION, AXE_DIR_VAR);
}

/// Installs npm package `package@version` into `<cache>/<version>`: into a directory of this
/// process first, then renamed into place, so that test processes installing at once never
/// see half an install. `dir_var` is the variable a person can set instead.
///
/// # Panics
/// When npm is missing or the install fails.
pub fn npm_install(cache: &Path, package: &str, version: &str, dir_var: &str) {
    let partial = cache.join(format!("partial-{}", std::process::id()));
    std::fs::create_dir_all(&partial).unwrap_or_else(|e| panic!("{}: {e}", partial.display()));
    let status = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--prefix",
        ])
        .arg(&partial)
        .arg(format!("{package}@{version}"))
        .status()
        .unwrap_or_else(|e| {
            panic!("npm not found ({e}): install Node.js and npm, or set {dir_var}")
        });
    assert!(status.success(), "npm install {package}@{version} failed");
    // Another process may have finished first: then its copy stays and this one goes.
    if std::fs::rename(&partial, cache.join(version)).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
}

/// The axe-core script, installed with npm into the cache directory when missing.
///
/// # Panics
/// When npm is missing or the install fails: the accessibility checks must run.
pub fn axe_source() -> &'static str {
    SOURCE.get_or_init(|| {
        let cache = cache_dir();
        let path = script_path(&cache);
        if !path.is_file() {
            install(&cache);
        }
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// One axe violation, as much of it as a failing test needs to show.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The rule (`color-contrast`, `label`, ...).
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    /// What the rule checks.
    pub help: String,
    /// CSS selectors of the offending elements.
    pub targets: Vec<String>,
}

/// Runs axe-core (WCAG 2.0/2.1 A and AA rules and best practices) on the current page and
/// returns every violation.
pub async fn run_axe(browser: &Browser) -> WdResult<Vec<Violation>> {
    browser.set_script_timeout(Duration::from_secs(60)).await?;
    let loaded = browser
        .execute(
            &format!("{};\nreturn typeof window.axe;", axe_source()),
            vec![],
        )
        .await?;
    assert_eq!(loaded, json!("object"), "axe-core loaded into the page");
    let result = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']})
               .then(r => done(r.violations.map(v => ({
                   id: v.id, impact: v.impact || '', help: v.help,
                   targets: v.nodes.map(n => n.target.join(' '))}))),
                     e => done({error: String(e)}));",
            vec![],
        )
        .await?;
    if let Some(error) = result.get("error") {
        panic!("axe-core failed: {error}");
    }
    Ok(result
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| Violation {
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            impact: v["impact"].as_str().unwrap_or_default().to_owned(),
            help: v["help"].as_str().unwrap_or_default().to_owned(),
            targets: v["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        })
        .collect())
}

/// Asserts that axe finds no serious or critical violation on the current page.
pub async fn assert_accessible(browser: &Browser, what: &str) {
    let violations = run_axe(browser)
        .await
        .unwrap_or_else(|e| panic!("axe on {what}: {e}"));
    let bad: Vec<&Violation> = violations
        .iter()
        .filter(|v| matches!(v.impact.as_str(), "serious" | "critical"))
        .collect();
    assert!(bad.is_empty(), "{what}: accessibility violations {bad:#?}");
}
