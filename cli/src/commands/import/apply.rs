//! `--apply-overrides`: the imported overrides added to a running or deployed Klaxon through
//! its API (`POST /v1/schedules/{id}/overrides`), after the files were written; the same as
//! running `overrides.sh`.

use super::report::Report;
use crate::failure::UsageError;
use anyhow::{Context, anyhow, bail};
use std::time::Duration;

/// Where to apply the overrides, checked before anything is read from the source.
pub struct Target {
    base: String,
    key: String,
}

impl Target {
    /// The Klaxon at `url` with the API key `key` (`KLAXON_URL`, `KLAXON_API_KEY`).
    pub fn new(url: Option<&str>, key: Option<&str>) -> anyhow::Result<Self> {
        let base = url
            .map(|u| u.trim().trim_end_matches('/').to_owned())
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                UsageError(
                    "--apply-overrides needs Klaxon's URL: --klaxon-url URL or KLAXON_URL".into(),
                )
            })?;
        let parsed = url::Url::parse(&base)
            .map_err(|e| UsageError(format!("--klaxon-url {base:?} is not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!(UsageError(format!(
                "--klaxon-url {base:?} must start with http:// or https://"
            )));
        }
        let key = key
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                UsageError("--apply-overrides needs a Klaxon API key: --klaxon-api-key KEY or KLAXON_API_KEY (`klaxon keys create --api NAME`)".into())
            })?
            .to_owned();
        Ok(Self { base, key })
    }

    /// Adds every override of the report; stops at the first one Klaxon refuses. Returns how
    /// many were added.
    pub async fn apply(&self, report: &Report) -> anyhow::Result<usize> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("klaxon-import/", env!("CARGO_PKG_VERSION")))
            .build()?;
        for (done, o) in report.overrides.iter().enumerate() {
            let url = format!(
                "{}/v1/schedules/{}/overrides",
                self.base,
                url::form_urlencoded::byte_serialize(o.schedule.as_bytes()).collect::<String>()
            );
            let body = serde_json::json!({ "user": o.user, "start": o.start, "end": o.end });
            let response = http
                .post(&url)
                .bearer_auth(&self.key)
                .json(&body)
                .send()
                .await
                .with_context(|| {
                    format!(
                        "cannot reach Klaxon at {} to add `{}` (the files were written; {done} of {} overrides were added)",
                        self.base,
                        o.command_line(),
                        report.overrides.len()
                    )
                })?;
            let status = response.status();
            if !status.is_success() {
                let text = response.text().await.unwrap_or_default();
                return Err(anyhow!(
                    "Klaxon refused `{}`: {status} {} (the files were written; {done} of {} overrides were added)",
                    o.command_line(),
                    text.chars().take(300).collect::<String>(),
                    report.overrides.len()
                ));
            }
        }
        Ok(report.overrides.len())
    }
}
