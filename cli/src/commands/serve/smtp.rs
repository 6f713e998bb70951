//! The SMTP options of `klaxon serve`: `--smtp-url`, or `--smtp-host` and friends.

use super::SMTP_PASSWORD_VARIABLE;
use crate::args::{ServeArgs, SmtpSecurityArg};
use crate::failure::UsageError;
use klaxon_local::smtp::{SmtpConfig, SmtpSecurity};
use std::time::Duration;

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

pub(super) fn default_port(security: SmtpSecurity) -> u16 {
    match security {
        SmtpSecurity::None => 25,
        SmtpSecurity::StartTls => 587,
        SmtpSecurity::Tls => 465,
    }
}

/// `smtp://[user[:password]@]host[:port][?tls=none|starttls|tls][&from=address]`; `smtps://`
/// means TLS from the first byte.
pub(super) fn parse_smtp_url(text: &str) -> Result<SmtpConfig, UsageError> {
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
pub(super) fn percent_decode(text: &str) -> String {
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
