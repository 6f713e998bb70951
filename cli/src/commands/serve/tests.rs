//! Tests of the `klaxon serve` options and banner.

use super::banner::*;
use super::smtp::*;
use super::*;
use crate::args::{Cli, Command};
use clap::Parser;
use klaxon_local::smtp::SmtpSecurity;
use std::path::PathBuf;

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
        tls_trust_file: None,
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
