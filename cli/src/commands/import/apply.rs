//! `--apply-overrides`: the imported overrides added to a running or deployed Klaxon through
//! its API (`POST /v1/schedules/{id}/overrides`), after the files were written; the same as
//! running `overrides.sh`, but safe to repeat: an override Klaxon already holds (same
//! schedule, user, start and end, read with `GET /v1/schedules/{id}/overrides`) is not added
//! again.

use super::report::{OverrideCommand, Report};
use crate::failure::UsageError;
use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use std::time::Duration;

/// The longest range Klaxon's override list answers (`MAX_RANGE_DAYS`).
const MAX_LOOKUP_DAYS: i64 = 366;

/// Where to apply the overrides, checked before anything is read from the source.
pub struct Target {
    base: String,
    key: String,
}

/// What applying did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// Overrides added now.
    pub added: usize,
    /// Overrides Klaxon already held (an earlier run added them).
    pub present: usize,
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

    /// Adds every override of the report that Klaxon does not hold yet; stops at the first
    /// one Klaxon refuses.
    pub async fn apply(&self, report: &Report) -> anyhow::Result<Applied> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("klaxon-import/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut applied = Applied {
            added: 0,
            present: 0,
        };
        let total = report.overrides.len();
        for o in &report.overrides {
            let progress = format!(
                "the files were written; {} of {total} overrides were added, {} were there already",
                applied.added, applied.present
            );
            if self.holds(&http, o, &progress).await? {
                applied.present += 1;
                continue;
            }
            self.add(&http, o, &progress).await?;
            applied.added += 1;
        }
        Ok(applied)
    }

    fn overrides_url(&self, o: &OverrideCommand) -> String {
        format!(
            "{}/v1/schedules/{}/overrides",
            self.base,
            url::form_urlencoded::byte_serialize(o.schedule.as_bytes()).collect::<String>()
        )
    }

    /// Whether Klaxon already holds `o`: an override of its schedule with the same user,
    /// start and end.
    async fn holds(
        &self,
        http: &reqwest::Client,
        o: &OverrideCommand,
        progress: &str,
    ) -> anyhow::Result<bool> {
        let (Some(start), Some(end)) = (instant(&o.start), instant(&o.end)) else {
            bail!("`{}`: its times are not RFC 3339", o.command_line());
        };
        let to = end.min(start + TimeDelta::days(MAX_LOOKUP_DAYS));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("from", &o.start)
            .append_pair("to", &to.to_rfc3339())
            .finish();
        let url = format!("{}?{query}", self.overrides_url(o));
        let response = http
            .get(&url)
            .bearer_auth(&self.key)
            .send()
            .await
            .with_context(|| format!("cannot reach Klaxon at {} ({progress})", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(anyhow!(
                "Klaxon refused `{}` (listing the overrides of {}, to see whether it is there already): {status} {} ({progress})",
                o.command_line(),
                o.schedule,
                text.chars().take(300).collect::<String>()
            ));
        }
        let list: Value = serde_json::from_str(&text)
            .with_context(|| format!("Klaxon's override list for {} is not JSON", o.schedule))?;
        Ok(list
            .get("overrides")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .any(|held| {
                held.get("user").and_then(Value::as_str) == Some(o.user.as_str())
                    && held.get("start").and_then(Value::as_str).and_then(instant) == Some(start)
                    && held.get("end").and_then(Value::as_str).and_then(instant) == Some(end)
            }))
    }

    async fn add(
        &self,
        http: &reqwest::Client,
        o: &OverrideCommand,
        progress: &str,
    ) -> anyhow::Result<()> {
        let body = serde_json::json!({ "user": o.user, "start": o.start, "end": o.end });
        let response = http
            .post(self.overrides_url(o))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .with_context(|| {
                format!(
                    "cannot reach Klaxon at {} to add `{}` ({progress})",
                    self.base,
                    o.command_line()
                )
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(anyhow!(
            "Klaxon refused `{}`: {status} {} ({progress})",
            o.command_line(),
            text.chars().take(300).collect::<String>()
        ))
    }
}

fn instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
