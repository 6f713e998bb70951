//! `klaxon serve`: the local runtime ([`klaxon_local::runtime::LocalRuntime`]) behind a
//! command line: options (here and in [`smtp`]), the start-up banner ([`banner`]) and the stop
//! signals ([`signals`]).

mod banner;
mod signals;
mod smtp;

use super::Output;
use super::store::block_on;
use crate::args::{DurabilityArg, HeartbeatMethodArg, ServeArgs};
use crate::failure::UsageError;
use crate::{config_file, output};
use banner::Banner;
use klaxon_app::heartbeat::{Heartbeat, HeartbeatMethod};
use klaxon_domain::config::Config;
use klaxon_local::Durability;
use klaxon_local::runtime::{Console, LocalRuntime, RuntimeOptions, TlsSource, check_public_url};
use signals::StopSignals;
pub use smtp::smtp_config;
use std::path::Path;
use std::process::ExitCode;

/// The environment variable holding the SMTP password.
pub const SMTP_PASSWORD_VARIABLE: &str = "KLAXON_SMTP_PASSWORD";
/// The environment variable holding the Slack app's signing secret (for Slack buttons).
pub const SLACK_SECRET_VARIABLE: &str = "KLAXON_SLACK_SIGNING_SECRET";

/// The exit status when a second SIGINT or SIGTERM arrives while a graceful stop is still
/// waiting for work in progress (128 + SIGINT, as shells report an interrupted command).
pub const EXIT_INTERRUPTED: i32 = 130;

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
    let heartbeat = heartbeat_from_args(args)?;
    init_tracing();
    let mut options = RuntimeOptions::new(&args.data_dir, args.listen);
    options.heartbeat = heartbeat;
    options.public_url = public_url;
    options.config = config.as_ref().map(|(config, _)| config.clone());
    options.smtp = smtp.clone();
    options.webhooks = !args.no_webhooks;
    options.tls = match (&args.tls_cert, &args.tls_key, args.tls_self_signed) {
        (Some(cert), Some(key), _) => Some(TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (_, _, true) => Some(TlsSource::SelfSigned),
        _ => None,
    };
    options.tuning.durability = match args.durability {
        DurabilityArg::Normal => Durability::Normal,
        DurabilityArg::Full => Durability::Full,
    };
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

#[cfg(test)]
mod tests;

/// The self-heartbeat `--heartbeat-url` asks for (none when it is absent or blank); a bad URL is
/// a usage error, found before anything is created.
fn heartbeat_from_args(args: &ServeArgs) -> Result<Option<Heartbeat>, UsageError> {
    args.heartbeat_url
        .as_deref()
        .filter(|url| !url.trim().is_empty())
        .map(|url| {
            let method = match args.heartbeat_method {
                HeartbeatMethodArg::Get => HeartbeatMethod::Get,
                HeartbeatMethodArg::Post => HeartbeatMethod::Post,
            };
            Heartbeat::new(url, method)
        })
        .transpose()
        .map_err(|error| UsageError(format!("--heartbeat-url: {error}")))
}
