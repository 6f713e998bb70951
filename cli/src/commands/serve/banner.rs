//! What `klaxon serve` prints at start: where everything is, the keys, and a `Try it:`
//! command (text, or one JSON line with `--json`).

use crate::args::ServeArgs;
use klaxon_local::runtime::LocalRuntime;
use klaxon_local::runtime::keys::ingest_endpoint;
use klaxon_local::smtp::{SmtpConfig, SmtpSecurity};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The sample payload the banner's `Try it:` sends, relative to the repository root.
pub(super) const SAMPLE_PAYLOAD: &str = "events/ingest/alertmanager-firing.json";

/// The path of the banner's sample payload when it is found below `directory`.
pub(super) fn sample_payload(directory: &Path) -> Option<PathBuf> {
    Some(directory.join(SAMPLE_PAYLOAD)).filter(|path| path.is_file())
}

/// `path` as one shell word: as it is when it has no special characters, else single-quoted.
pub(super) fn shell_word(path: &str) -> String {
    let plain = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@%".contains(c));
    if plain {
        path.to_owned()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

/// What `serve` prints at start (text, or one JSON line with `--json`).
#[derive(Debug, Serialize)]
pub(super) struct Banner {
    pub(super) listening: String,
    pub(super) public_url: String,
    /// The web console's address (the root path redirects to the incidents).
    pub(super) console_url: String,
    pub(super) data_dir: String,
    pub(super) database: String,
    pub(super) outbox: String,
    pub(super) keys_file: String,
    /// When serving HTTPS: the PEM file clients trust.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tls_trust_file: Option<String>,
    pub(super) config: ConfigLine,
    pub(super) email: String,
    pub(super) webhooks: bool,
    pub(super) recovered_leases: usize,
    pub(super) queued_messages: usize,
    pub(super) pending_timers: usize,
    pub(super) overdue_timers: usize,
    pub(super) dead_letters: usize,
    pub(super) api_key: KeyLine,
    pub(super) integrations: Vec<KeyLine>,
    /// The keys file for `Try it:`, absolute when the working directory is known.
    #[serde(skip)]
    pub(super) try_keys_file: String,
    /// The absolute path of the `Try it:` payload, when the working directory has it (the
    /// repository root); otherwise `Try it:` gives the relative path and says where it works.
    #[serde(skip)]
    pub(super) sample_payload: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub(super) struct ConfigLine {
    pub(super) file: Option<String>,
    pub(super) version: u64,
    pub(super) previous_version: Option<u64>,
    pub(super) unchanged: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct KeyLine {
    pub(super) name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) format: Option<String>,
    pub(super) variable: String,
    pub(super) key: String,
    pub(super) created: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) auth: Option<String>,
}

impl Banner {
    pub(super) fn new(
        runtime: &LocalRuntime,
        config_file: Option<&str>,
        smtp: Option<&SmtpConfig>,
        args: &ServeArgs,
        working_dir: Option<&Path>,
    ) -> Self {
        let report = runtime.report();
        let keys = runtime.keys();
        let data_dir = runtime.data_dir();
        let public_url = runtime.public_url().to_owned();
        let email = match smtp {
            Some(smtp) => format!(
                "SMTP {}:{} ({}) as {}",
                smtp.host,
                smtp.port,
                match smtp.security {
                    SmtpSecurity::None => "plain text",
                    SmtpSecurity::StartTls => "STARTTLS",
                    SmtpSecurity::Tls => "TLS",
                },
                smtp.from
            ),
            None => "outbox only (send for real with --smtp-url or --smtp-host)".to_owned(),
        };
        Banner {
            listening: runtime.local_addr().to_string(),
            data_dir: data_dir.root().display().to_string(),
            database: data_dir.database().display().to_string(),
            outbox: data_dir.outbox().display().to_string(),
            keys_file: data_dir.keys_env().display().to_string(),
            tls_trust_file: runtime
                .tls_trust_file()
                .map(|path| path.display().to_string()),
            config: ConfigLine {
                file: config_file.map(str::to_owned),
                version: report.config.version,
                previous_version: report.config.previous,
                unchanged: report.config.unchanged,
            },
            email,
            webhooks: !args.no_webhooks,
            recovered_leases: report.recovered_leases,
            queued_messages: report.queued_messages,
            pending_timers: report.pending_timers,
            overdue_timers: report.overdue_timers,
            dead_letters: report.dead_letters,
            api_key: KeyLine {
                name: keys.api.name.clone(),
                format: None,
                variable: keys.api.variable.clone(),
                key: keys.api.key.expose().to_owned(),
                created: keys.api.created,
                endpoint: None,
                auth: None,
            },
            integrations: keys
                .integrations
                .iter()
                .map(|key| {
                    let format = key.format;
                    let (endpoint, auth) = format.map(ingest_endpoint).unzip();
                    KeyLine {
                        name: key.name.clone(),
                        format: format.map(|f| f.as_str().to_owned()),
                        variable: key.variable.clone(),
                        key: key.key.expose().to_owned(),
                        created: key.created,
                        endpoint: endpoint.map(|e| {
                            let (method, path) = e.split_once(' ').unwrap_or(("POST", e));
                            format!("{method} {public_url}{path}")
                        }),
                        auth: auth.map(str::to_owned),
                    }
                })
                .collect(),
            console_url: format!("{public_url}/"),
            public_url,
            // Absolute, so that `Try it:` works from any directory.
            try_keys_file: working_dir
                .map_or_else(|| data_dir.keys_env(), |dir| dir.join(data_dir.keys_env()))
                .display()
                .to_string(),
            sample_payload: working_dir.and_then(sample_payload),
        }
    }

    pub(super) fn text(&self) -> String {
        let mut text = format!(
            "Klaxon is listening on {} (links in pages point at {})\n",
            self.listening, self.public_url
        );
        let config = match (
            &self.config.file,
            self.config.unchanged,
            self.config.previous_version,
        ) {
            (None, _, _) => format!("stored version {} (no --config given)", self.config.version),
            (Some(file), true, _) => format!(
                "{file}: unchanged, version {} is current",
                self.config.version
            ),
            (Some(file), false, Some(previous)) => format!(
                "{file}: applied as version {} (was version {previous})",
                self.config.version
            ),
            (Some(file), false, None) => {
                format!("{file}: applied as version {}", self.config.version)
            }
        };
        let rows = [
            (
                "console",
                format!(
                    "{} (sign in with a user's email address; the link arrives by email, and in the outbox)",
                    self.console_url
                ),
            ),
            ("config", config),
            (
                "database",
                format!("{} (store, queues, timers)", self.database),
            ),
            (
                "outbox",
                format!("{} (every page; also printed below)", self.outbox),
            ),
            ("email", self.email.clone()),
            (
                "webhooks",
                if self.webhooks {
                    "posted when the configuration's ${VAR} references are set".to_owned()
                } else {
                    "recorded in the outbox only (--no-webhooks)".to_owned()
                },
            ),
        ];
        for (label, value) in rows {
            text.push_str(&format!("  {label:<9} {value}\n"));
        }
        if let Some(trust) = &self.tls_trust_file {
            text.push_str(&format!(
                "  {:<9} HTTPS; clients trust the certificate in {trust} (e.g. REQUESTS_CA_BUNDLE, SSL_CERT_FILE, curl --cacert)\n",
                "tls"
            ));
        }
        if self.queued_messages + self.pending_timers + self.recovered_leases > 0 {
            text.push_str(&format!(
                "  {:<9} {} queued message(s) ({} interrupted by the last stop), {} escalation timer(s) pending ({} overdue, firing now)\n",
                "resuming",
                self.queued_messages,
                self.recovered_leases,
                self.pending_timers,
                self.overdue_timers
            ));
        }
        if self.dead_letters > 0 {
            text.push_str(&format!(
                "  {:<9} {} dead letter(s): messages that failed every attempt (see docs/local-mode.md)\n",
                "attention", self.dead_letters
            ));
        }
        text.push_str(&format!(
            "\nKeys (kept in {file}; load them with: set -a; . {file}; set +a)\n",
            file = self.keys_file
        ));
        let new = |created: bool| if created { " (new)" } else { "" };
        text.push_str(&format!(
            "  API key for `klaxon incidents` and `klaxon overrides`{}\n    {}={}\n",
            new(self.api_key.created),
            self.api_key.variable,
            self.api_key.key
        ));
        for key in &self.integrations {
            text.push_str(&format!(
                "  {} ({}){}\n    {}={}\n",
                key.name,
                key.format.as_deref().unwrap_or("?"),
                new(key.created),
                key.variable,
                key.key
            ));
            if let (Some(endpoint), Some(auth)) = (&key.endpoint, &key.auth) {
                text.push_str(&format!("    {endpoint}  with {auth}\n"));
            }
        }
        if let Some(alertmanager) = self
            .integrations
            .iter()
            .find(|key| key.format.as_deref() == Some("alertmanager"))
        {
            let (heading, payload) = match &self.sample_payload {
                Some(path) => ("Try it:", path.display().to_string()),
                None => (
                    "Try it (from the Klaxon repository root, which has the sample payloads):",
                    SAMPLE_PAYLOAD.to_owned(),
                ),
            };
            text.push_str(&format!(
                "\n{heading}\n  set -a; . {}; set +a\n  curl -sS {}/v1/integrations/alertmanager -H \"Authorization: Bearer ${}\" \\\n    -H 'Content-Type: application/json' --data-binary @{}\n",
                shell_word(&self.try_keys_file),
                self.public_url,
                alertmanager.variable,
                shell_word(&payload)
            ));
        }
        text.push_str("\nPress Ctrl-C to stop.\n");
        text
    }
}
