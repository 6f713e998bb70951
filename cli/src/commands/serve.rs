//! `klaxon serve`: the local runtime ([`klaxon_local::runtime::LocalRuntime`]) behind a
//! command line: options, the start-up banner, signals.

use super::Output;
use super::store::block_on;
use crate::args::{ServeArgs, SmtpSecurityArg};
use crate::failure::UsageError;
use crate::{config_file, output};
use anyhow::Context;
use klaxon_domain::config::Config;
use klaxon_local::runtime::keys::ingest_endpoint;
use klaxon_local::runtime::{Console, LocalRuntime, RuntimeOptions, check_public_url};
use klaxon_local::smtp::{SmtpConfig, SmtpSecurity};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The environment variable holding the SMTP password.
pub const SMTP_PASSWORD_VARIABLE: &str = "KLAXON_SMTP_PASSWORD";
/// The environment variable holding the Slack app's signing secret (for Slack buttons).
pub const SLACK_SECRET_VARIABLE: &str = "KLAXON_SLACK_SIGNING_SECRET";

/// The exit status when a second SIGINT or SIGTERM arrives while a graceful stop is still
/// waiting for work in progress (128 + SIGINT, as shells report an interrupted command).
pub const EXIT_INTERRUPTED: i32 = 130;

/// The sample payload the banner's `Try it:` sends, relative to the repository root.
const SAMPLE_PAYLOAD: &str = "events/ingest/alertmanager-firing.json";

/// Runs `serve` until SIGINT or SIGTERM; a second one exits at once with
/// [`EXIT_INTERRUPTED`].
pub fn run(
    args: &ServeArgs,
    config_path: Option<&Path>,
    output: Output,
) -> anyhow::Result<ExitCode> {
    let config = load_config(config_path)?;
    let password = std::env::var(SMTP_PASSWORD_VARIABLE)
        .ok()
        .filter(|p| !p.is_empty());
    let smtp = smtp_config(args, password)?;
    // A usage error, checked before anything (the data directory) is created.
    let public_url = args
        .public_url
        .as_deref()
        .map(check_public_url)
        .transpose()
        .map_err(|error| UsageError(error.to_string()))?;
    init_tracing();
    let mut options = RuntimeOptions::new(&args.data_dir, args.listen);
    options.public_url = public_url;
    options.config = config.as_ref().map(|(config, _)| config.clone());
    options.smtp = smtp.clone();
    options.webhooks = !args.no_webhooks;
    options.slack_signing_secret = std::env::var(SLACK_SECRET_VARIABLE)
        .ok()
        .filter(|secret| !secret.trim().is_empty());
    options.console = if output.json {
        Console::Silent
    } else {
        Console::Stdout
    };
    let config_file = config.map(|(_, path)| path);
    block_on(async move {
        let runtime = LocalRuntime::start(options).await?;
        // Listening before the banner says the server is up, so a signal sent as soon as it
        // is printed stops the server gracefully instead of killing it.
        let mut signals = match StopSignals::new() {
            Ok(signals) => signals,
            Err(error) => {
                runtime.shutdown().await?;
                return Err(error);
            }
        };
        let working_dir = std::env::current_dir().ok();
        let banner = Banner::new(
            &runtime,
            config_file.as_deref(),
            smtp.as_ref(),
            args,
            working_dir.as_deref(),
        );
        let text = if output.json {
            let mut text = serde_json::to_string(&banner)?;
            text.push('\n');
            text
        } else {
            banner.text()
        };
        output::print(&text)?;

        let (stop, stop_requested) = tokio::sync::oneshot::channel::<()>();
        let running = runtime.run_until(async {
            let _ = stop_requested.await;
        });
        tokio::pin!(running);
        let mut stop = Some(stop);
        loop {
            tokio::select! {
                result = &mut running => {
                    result?;
                    break;
                }
                signal = signals.next() => match stop.take() {
                    Some(stop) => {
                        eprintln!(
                            "{signal}: stopping: finishing requests and messages in progress… (Ctrl-C again exits at once)"
                        );
                        let _ = stop.send(());
                    }
                    None => {
                        eprintln!(
                            "{signal} again: exiting without waiting (work in progress is redone at the next start)"
                        );
                        // Not a return: dropping the async runtime would wait for the very
                        // work that hangs.
                        std::process::exit(EXIT_INTERRUPTED);
                    }
                },
            }
        }
        if !output.json {
            eprintln!("klaxon serve stopped");
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })?
}

/// The configuration to apply: `--config` (or `KLAXON_CONFIG`) when given, else `klaxon.yaml`
/// when it exists, else none (run with what the data directory has stored).
fn load_config(path: Option<&Path>) -> anyhow::Result<Option<(Config, String)>> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => {
            let default = Path::new(crate::args::DEFAULT_CONFIG);
            if !default.exists() {
                return Ok(None);
            }
            default.to_path_buf()
        }
    };
    let config = config_file::load(&path)?;
    Ok(Some((config, path.display().to_string())))
}

/// Logs (warnings and errors by default; `RUST_LOG` for more) go to standard error.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// SIGINT (Ctrl-C) and SIGTERM, caught from the moment this is made (so none is lost between
/// the first and the second).
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    #[cfg(unix)]
    fn new() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot listen for {name}"))
        };
        Ok(Self {
            interrupt: listen(SignalKind::interrupt(), "SIGINT")?,
            terminate: listen(SignalKind::terminate(), "SIGTERM")?,
        })
    }

    #[cfg(not(unix))]
    fn new() -> anyhow::Result<Self> {
        Ok(Self {})
    }

    /// The name of the next signal that arrives.
    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            Some(()) = self.interrupt.recv() => "SIGINT",
            Some(()) = self.terminate.recv() => "SIGTERM",
            else => std::future::pending().await,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(_) => std::future::pending().await,
        }
    }
}

/// The path of the banner's sample payload when it is found below `directory`.
fn sample_payload(directory: &Path) -> Option<PathBuf> {
    Some(directory.join(SAMPLE_PAYLOAD)).filter(|path| path.is_file())
}

/// `path` as one shell word: as it is when it has no special characters, else single-quoted.
fn shell_word(path: &str) -> String {
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

/// The SMTP settings from `--smtp-url` or `--smtp-host` and friends; none when neither is set.
pub fn smtp_config(
    args: &ServeArgs,
    password: Option<String>,
) -> Result<Option<SmtpConfig>, UsageError> {
    let mut config = match (&args.smtp_url, &args.smtp_host) {
        (Some(url), _) => parse_smtp_url(url)?,
        (None, Some(host)) => {
            let security = match args.smtp_security {
                Some(SmtpSecurityArg::None) => SmtpSecurity::None,
                Some(SmtpSecurityArg::Tls) => SmtpSecurity::Tls,
                Some(SmtpSecurityArg::Starttls) | None => SmtpSecurity::StartTls,
            };
            SmtpConfig {
                host: host.trim().to_owned(),
                port: args.smtp_port.unwrap_or(default_port(security)),
                security,
                credentials: args.smtp_user.clone().map(|user| (user, String::new())),
                from: String::new(),
                timeout: Duration::from_secs(10),
            }
        }
        (None, None) => {
            if args.smtp_from.is_some() {
                return Err(UsageError(
                    "--smtp-from needs an SMTP server: add --smtp-url or --smtp-host".into(),
                ));
            }
            return Ok(None);
        }
    };
    if config.host.is_empty() {
        return Err(UsageError("the SMTP host is empty".into()));
    }
    if let Some(from) = &args.smtp_from {
        config.from = from.clone();
    }
    if config.from.trim().is_empty() {
        return Err(UsageError(
            "SMTP needs a sender: add --smtp-from ADDRESS (or KLAXON_SMTP_FROM, or &from= in --smtp-url)".into(),
        ));
    }
    if let Some((user, url_password)) = config.credentials.take() {
        let password = match password {
            Some(password) => password,
            None if !url_password.is_empty() => url_password,
            None => {
                return Err(UsageError(format!(
                    "SMTP user {user:?} needs a password: set {SMTP_PASSWORD_VARIABLE}"
                )));
            }
        };
        config.credentials = Some((user, password));
    }
    Ok(Some(config))
}

fn default_port(security: SmtpSecurity) -> u16 {
    match security {
        SmtpSecurity::None => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    }
}

/// `smtp://[user[:password]@]host[:port][?tls=none|starttls|tls][&from=address]`; `smtps://`
/// means TLS from the first byte.
fn parse_smtp_url(text: &str) -> Result<SmtpConfig, UsageError> {
    let bad = |why: &str| UsageError(format!("--smtp-url {text:?}: {why}"));
    let url = url::Url::parse(text.trim()).map_err(|e| bad(&e.to_string()))?;
    let mut security = match url.scheme() {
        "smtp" => SmtpSecurity::StartTls,
        "smtps" => SmtpSecurity::Tls,
        other => {
            return Err(bad(&format!(
                "the scheme must be smtp:// or smtps://, not {other}://"
            )));
        }
    };
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("it has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let mut from = String::new();
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "tls" => {
                security = match value.as_ref() {
                    "none" => SmtpSecurity::None,
                    "starttls" => SmtpSecurity::StartTls,
                    "tls" => SmtpSecurity::Tls,
                    other => {
                        return Err(bad(&format!(
                            "tls must be none, starttls or tls, not {other:?}"
                        )));
                    }
                }
            }
            "from" => from = value.into_owned(),
            other => {
                return Err(bad(&format!(
                    "unknown parameter {other:?} (known: tls, from)"
                )));
            }
        }
    }
    let user = percent_decode(url.username());
    let password = url.password().map(percent_decode).unwrap_or_default();
    Ok(SmtpConfig {
        host,
        port: url.port().unwrap_or(default_port(security)),
        security,
        credentials: (!user.is_empty()).then_some((user, password)),
        from,
        timeout: Duration::from_secs(10),
    })
}

/// Decodes `%XX` escapes (URL user names and passwords); invalid escapes stay as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                index += 3;
            }
            None => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What `serve` prints at start (text, or one JSON line with `--json`).
#[derive(Debug, Serialize)]
struct Banner {
    listening: String,
    public_url: String,
    /// The web console's address (the root path redirects to the incidents).
    console_url: String,
    data_dir: String,
    database: String,
    outbox: String,
    keys_file: String,
    config: ConfigLine,
    email: String,
    webhooks: bool,
    recovered_leases: usize,
    queued_messages: usize,
    pending_timers: usize,
    overdue_timers: usize,
    dead_letters: usize,
    api_key: KeyLine,
    integrations: Vec<KeyLine>,
    /// The keys file for `Try it:`, absolute when the working directory is known.
    #[serde(skip)]
    try_keys_file: String,
    /// The absolute path of the `Try it:` payload, when the working directory has it (the
    /// repository root); otherwise `Try it:` gives the relative path and says where it works.
    #[serde(skip)]
    sample_payload: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct ConfigLine {
    file: Option<String>,
    version: u64,
    previous_version: Option<u64>,
    unchanged: bool,
}

#[derive(Debug, Serialize)]
struct KeyLine {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    variable: String,
    key: String,
    created: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<String>,
}

impl Banner {
    fn new(
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

    fn text(&self) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn serve_args(argv: &[&str]) -> ServeArgs {
        let mut full = vec!["klaxon", "serve"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Serve(args) => args,
            _ => unreachable!("serve parses as serve"),
        }
    }

    #[test]
    fn smtp_urls_give_host_port_security_user_and_sender() {
        let args = serve_args(&[
            "--smtp-url",
            "smtps://bob%40example.com:p%40ss@mail.example.com?from=Klaxon%20%3Ck%40example.com%3E",
        ]);
        let config = smtp_config(&args, None).unwrap().unwrap();
        assert_eq!(config.host, "mail.example.com");
        assert_eq!(config.port, 465);
        assert_eq!(config.security, SmtpSecurity::Tls);
        assert_eq!(
            config.credentials,
            Some(("bob@example.com".into(), "p@ss".into()))
        );
        assert_eq!(config.from, "Klaxon <k@example.com>");

        let args = serve_args(&[
            "--smtp-url",
            "smtp://localhost:1025?tls=none",
            "--smtp-from",
            "k@example.com",
        ]);
        let config = smtp_config(&args, None).unwrap().unwrap();
        assert_eq!(
            (config.port, config.security, config.credentials),
            (1025, SmtpSecurity::None, None)
        );
    }

    #[test]
    fn smtp_host_options_default_to_starttls_on_587_and_take_the_password_from_the_environment() {
        let args = serve_args(&[
            "--smtp-host",
            "smtp.example.com",
            "--smtp-user",
            "klaxon",
            "--smtp-from",
            "k@example.com",
        ]);
        let config = smtp_config(&args, Some("secret".into())).unwrap().unwrap();
        assert_eq!(
            (config.port, config.security),
            (587, SmtpSecurity::StartTls)
        );
        assert_eq!(config.credentials, Some(("klaxon".into(), "secret".into())));
        let error = smtp_config(&args, None).unwrap_err().0;
        assert!(error.contains("KLAXON_SMTP_PASSWORD"), "{error}");
    }

    #[test]
    fn bad_smtp_settings_are_usage_errors_naming_the_problem() {
        for (argv, needle) in [
            (vec!["--smtp-url", "http://mail"], "smtp:// or smtps://"),
            (vec!["--smtp-url", "smtp://mail?tls=maybe"], "tls must be"),
            (
                vec!["--smtp-url", "smtp://mail?port=1"],
                "unknown parameter",
            ),
            (vec!["--smtp-url", "smtp://mail"], "--smtp-from"),
            (vec!["--smtp-from", "k@example.com"], "needs an SMTP server"),
        ] {
            let error = smtp_config(&serve_args(&argv), None).unwrap_err().0;
            assert!(error.contains(needle), "{argv:?}: {error}");
        }
        assert!(smtp_config(&serve_args(&[]), None).unwrap().is_none());
    }

    #[test]
    fn listen_takes_a_port_or_an_address() {
        assert_eq!(
            serve_args(&["--listen", "9000"]).listen.to_string(),
            "127.0.0.1:9000"
        );
        assert_eq!(
            serve_args(&["--listen", "0.0.0.0:80"]).listen.to_string(),
            "0.0.0.0:80"
        );
        let error = Cli::try_parse_from(["klaxon", "serve", "--listen", "nowhere"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }

    fn banner(try_keys_file: &str, sample_payload: Option<PathBuf>) -> Banner {
        Banner {
            listening: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            console_url: "http://127.0.0.1:8080/".into(),
            data_dir: "klaxon-data".into(),
            database: "klaxon-data/klaxon.db".into(),
            outbox: "klaxon-data/outbox.jsonl".into(),
            keys_file: "klaxon-data/keys.env".into(),
            config: ConfigLine {
                file: None,
                version: 1,
                previous_version: None,
                unchanged: true,
            },
            email: "outbox only".into(),
            webhooks: false,
            recovered_leases: 0,
            queued_messages: 0,
            pending_timers: 0,
            overdue_timers: 0,
            dead_letters: 0,
            api_key: KeyLine {
                name: "local".into(),
                format: None,
                variable: "KLAXON_API_KEY".into(),
                key: "klx_api".into(),
                created: false,
                endpoint: None,
                auth: None,
            },
            integrations: vec![KeyLine {
                name: "am".into(),
                format: Some("alertmanager".into()),
                variable: "KLAXON_KEY_AM".into(),
                key: "klx_am".into(),
                created: false,
                endpoint: None,
                auth: None,
            }],
            try_keys_file: try_keys_file.into(),
            sample_payload,
        }
    }

    #[test]
    fn try_it_names_the_sample_payload_by_absolute_path_or_says_where_it_works() {
        let found = banner(
            "/srv/klaxon/klaxon-data/keys.env",
            Some(PathBuf::from(
                "/src/klaxon/events/ingest/alertmanager-firing.json",
            )),
        )
        .text();
        assert!(
            found.contains("\n  console   http://127.0.0.1:8080/ (sign in with"),
            "the first lines name the console: {found}"
        );
        assert!(
            found.contains(
                "\nTry it:\n  set -a; . /srv/klaxon/klaxon-data/keys.env; set +a\n  curl -sS \
                 http://127.0.0.1:8080/v1/integrations/alertmanager -H \"Authorization: Bearer \
                 $KLAXON_KEY_AM\" \\\n    -H 'Content-Type: application/json' --data-binary \
                 @/src/klaxon/events/ingest/alertmanager-firing.json\n"
            ),
            "{found}"
        );
        let elsewhere = banner("/home/o'neil/klaxon data/keys.env", None).text();
        assert!(
            elsewhere.contains(
                "\nTry it (from the Klaxon repository root, which has the sample payloads):\n  \
                 set -a; . '/home/o'\\''neil/klaxon data/keys.env'; set +a\n"
            ),
            "{elsewhere}"
        );
        assert!(
            elsewhere.contains("--data-binary @events/ingest/alertmanager-firing.json\n"),
            "{elsewhere}"
        );
    }

    #[test]
    fn the_sample_payload_is_found_only_where_it_is() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(sample_payload(root.path()), None);
        let path = root.path().join(SAMPLE_PAYLOAD);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{}").unwrap();
        assert_eq!(sample_payload(root.path()), Some(path));
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
    }
}
