//! `klaxon config apply` and `klaxon keys` against a local database (`--db`) and a DynamoDB
//! table in moto server (`--table`), and how they report bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::server::cli_with_env;
use common::{Run, example_config};
use std::path::Path;

fn klaxon(args: &[&str]) -> Run {
    cli_with_env(args, &[])
}

/// The example configuration with the infra policy's first delay changed from 10m to 7m.
fn changed_example(dir: &Path) -> String {
    let text = std::fs::read_to_string(example_config()).unwrap();
    let changed = text.replacen("      - delay: 10m\n", "      - delay: 7m\n", 1);
    assert_ne!(changed, text);
    let path = dir.join("changed.yaml");
    std::fs::write(&path, changed).unwrap();
    path.display().to_string()
}

#[test]
fn config_apply_stores_versions_says_unchanged_and_prints_the_diff() {
    let temp = tempfile::tempdir().unwrap();
    let db = temp.path().join("data").display().to_string();
    let config = example_config();

    let first = klaxon(&["config", "apply", &config, "--db", &db]).ok();
    assert_eq!(
        first.stdout,
        format!("applied {config} to {db}/klaxon.db: version 1 (the first configuration)\n")
    );
    let again = klaxon(&["--config", &config, "config", "apply", "--db", &db]).ok();
    assert_eq!(
        again.stdout,
        format!(
            "{config} is unchanged: version 1 is current in {db}/klaxon.db (nothing written)\n"
        )
    );

    let changed = changed_example(temp.path());
    let applied = klaxon(&["config", "apply", &changed, "--db", &db]).ok();
    let mut lines = applied.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("applied {changed} to {db}/klaxon.db: version 2 (was version 1)")
    );
    assert_eq!(
        lines.next().unwrap(),
        "  escalation_policies: changed infra"
    );
    assert_eq!(lines.next().unwrap(), "--- version 1");
    assert_eq!(lines.next().unwrap(), format!("+++ version 2 ({changed})"));
    let removed: Vec<&str> = applied
        .stdout
        .lines()
        .filter(|l| l.starts_with("-  "))
        .collect();
    let added: Vec<&str> = applied
        .stdout
        .lines()
        .filter(|l| l.starts_with("+  "))
        .collect();
    assert_eq!(
        removed,
        ["-          \"delay\": \"10m\","],
        "{}",
        applied.stdout
    );
    assert_eq!(
        added,
        ["+          \"delay\": \"7m\","],
        "{}",
        applied.stdout
    );

    // Back to the original: version 3, and JSON output.
    let report = klaxon(&["config", "apply", &config, "--db", &db, "--json"])
        .ok()
        .json();
    assert_eq!(report["version"], 3);
    assert_eq!(report["previous_version"], 2);
    assert_eq!(report["unchanged"], false);
    assert_eq!(report["target"], format!("sqlite:{db}/klaxon.db"));
    assert_eq!(report["sections"][0]["section"], "escalation_policies");
    assert_eq!(
        report["sections"][0]["changed"],
        serde_json::json!(["infra"])
    );
    assert_eq!(report["other_changes"], serde_json::json!([]));
    assert!(
        report["diff"]
            .as_str()
            .unwrap()
            .contains("+          \"delay\": \"10m\",")
    );
    let report = klaxon(&["config", "apply", &config, "--db", &db, "--json"])
        .ok()
        .json();
    assert_eq!(report["unchanged"], true);
    assert_eq!(report["diff"], serde_json::Value::Null);
}

#[test]
fn config_apply_reports_bad_input_with_exit_1_or_2() {
    let temp = tempfile::tempdir().unwrap();
    let db = temp.path().join("data").display().to_string();
    klaxon(&["config", "apply", &example_config()]).fails(2, "--db PATH");
    klaxon(&["config", "apply", "/nope.yaml", "--db", &db])
        .fails(1, "cannot read config file /nope.yaml");
    let broken = temp.path().join("broken.yaml");
    std::fs::write(&broken, "users:\n  - id: Bad Id\n").unwrap();
    klaxon(&[
        "config",
        "apply",
        &broken.display().to_string(),
        "--db",
        &db,
    ])
    .fails(1, "is invalid");
    assert!(
        !temp.path().join("data/klaxon.db").exists(),
        "nothing is created for an invalid file"
    );
    klaxon(&[
        "config",
        "apply",
        &example_config(),
        "--db",
        &db,
        "--table",
        "t",
    ])
    .fails(2, "--table");
}

#[test]
fn keys_are_created_once_listed_by_hash_and_revoked_by_prefix() {
    let temp = tempfile::tempdir().unwrap();
    let db = temp.path().join("data").display().to_string();
    klaxon(&["keys", "list", "--db", &db]).fails(1, "no Klaxon database");
    klaxon(&["config", "apply", &example_config(), "--db", &db]).ok();
    assert_eq!(
        klaxon(&["keys", "list", "--db", &db]).ok().stdout,
        "no keys\n"
    );

    let created = klaxon(&["keys", "create", "--integration", "grafana", "--db", &db]).ok();
    let key = created.stdout.lines().last().unwrap().to_owned();
    assert!(
        key.starts_with("klx_") && key.len() == 47,
        "{}",
        created.stdout
    );
    assert!(
        created.stdout.contains("shown only this once"),
        "{}",
        created.stdout
    );
    let api = klaxon(&[
        "keys",
        "create",
        "--api",
        "ops",
        "--label",
        "cron on bastion",
        "--db",
        &db,
        "--json",
    ])
    .ok()
    .json();
    assert_eq!(api["kind"], "api");
    assert_eq!(api["name"], "ops");
    assert!(api["key"].as_str().unwrap().starts_with("klx_"));

    let listed = klaxon(&["keys", "list", "--db", &db]).ok();
    let lines: Vec<&str> = listed.stdout.lines().collect();
    assert!(lines[0].starts_with("KIND"), "{}", listed.stdout);
    assert_eq!(lines.len(), 3, "{}", listed.stdout);
    assert!(listed.stdout.contains("cron on bastion"));
    assert!(!listed.stdout.contains(&key), "keys are never shown again");
    let json = klaxon(&["keys", "list", "--db", &db, "--json"]).ok().json();
    let hashes: Vec<String> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["hash"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(hashes.len(), 2);
    assert!(hashes.contains(&api["hash"].as_str().unwrap().to_owned()));

    klaxon(&["keys", "create", "--integration", "nope", "--db", &db]).fails(
        1,
        "unknown integration 'nope' (configuration version 1 defines: alertmanager-prod, grafana",
    );
    klaxon(&["keys", "create", "--db", &db]).fails(2, "--integration");
    klaxon(&["keys", "revoke", "zz", "--db", &db]).fails(2, "not a hash prefix");

    let api_hash = api["hash"].as_str().unwrap();
    let revoked = klaxon(&["keys", "revoke", &api_hash[..8], "--db", &db]).ok();
    assert_eq!(
        revoked.stdout,
        format!("revoked api key ops (hash {}…)\n", &api_hash[..12])
    );
    klaxon(&["keys", "revoke", &api_hash[..8], "--db", &db]).fails(1, "no key's hash starts with");
    let json = klaxon(&["keys", "list", "--db", &db, "--json"]).ok().json();
    assert_eq!(json.as_array().unwrap().len(), 1);
}

/// The AWS variables that make the SDK talk to the test's moto server.
fn moto_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", klaxon_tests::moto_endpoint().to_owned()),
        ("AWS_REGION", klaxon_tests::TEST_REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", "test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
    ]
}

#[tokio::test]
async fn config_apply_and_keys_work_on_a_dynamodb_table() {
    let clock = klaxon_tests::manual_clock();
    let store = klaxon_tests::dynamo_store(clock).await;
    let table = store.table_name().to_owned();
    let env = moto_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The binary blocks this test's thread; nothing else needs to run meanwhile.
    let run = |args: Vec<&str>| cli_with_env(&args, &env);
    let config = example_config();
    let applied = run(vec!["config", "apply", &config, "--table", &table]).ok();
    assert_eq!(
        applied.stdout,
        format!(
            "applied {config} to DynamoDB table {table}: version 1 (the first configuration)\n"
        )
    );
    let again = run(vec![
        "config", "apply", &config, "--table", &table, "--json",
    ])
    .ok()
    .json();
    assert_eq!(again["unchanged"], true);
    assert_eq!(again["target"], format!("dynamodb:{table}"));

    let created = run(vec![
        "keys",
        "create",
        "--integration",
        "alertmanager-prod",
        "--table",
        &table,
        "--json",
    ])
    .ok()
    .json();
    let listed = run(vec!["keys", "list", "--table", &table, "--json"])
        .ok()
        .json();
    assert_eq!(listed[0]["hash"], created["hash"]);
    assert_eq!(listed[0]["name"], "alertmanager-prod");
    let hash = created["hash"].as_str().unwrap();
    run(vec!["keys", "revoke", &hash[..10], "--table", &table]).ok();
    let listed = run(vec!["keys", "list", "--table", &table, "--json"])
        .ok()
        .json();
    assert_eq!(listed, serde_json::json!([]));

    run(vec!["keys", "list", "--table", "no-such-table"]).fails(1, "cannot list the keys");
}

#[tokio::test]
async fn dead_letters_are_listed_and_redriven() {
    use klaxon_app::messages::QueueName;
    use klaxon_local::queue::SqliteQueue;
    use std::sync::Arc;
    use std::time::Duration;

    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let db = data.display().to_string();
    klaxon(&["dead-letters", "list", "--db", &db]).fails(1, "no Klaxon database");
    std::fs::create_dir(&data).unwrap();
    let clock: Arc<dyn klaxon_store::Clock> = Arc::new(klaxon_store::SystemClock);
    let queue = SqliteQueue::open(data.join("klaxon.db"), clock).unwrap();
    assert_eq!(
        klaxon(&["dead-letters", "list", "--db", &db]).ok().stdout,
        "no dead letters\n"
    );

    // A body that is not a Klaxon message is dead-lettered when received.
    queue
        .send_raw(
            QueueName::Notifications,
            None,
            None,
            "{\"kind\":\"mystery\"}".into(),
        )
        .await
        .unwrap();
    let received = queue
        .receive(QueueName::Notifications, 10, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(received.is_empty());
    let listed = klaxon(&["dead-letters", "list", "--db", &db]).ok();
    let row = listed.stdout.lines().nth(1).unwrap();
    assert!(
        row.contains("notifications") && row.contains("unparseable body"),
        "{}",
        listed.stdout
    );
    let letters = klaxon(&["dead-letters", "list", "--db", &db, "--json"])
        .ok()
        .json();
    let id = letters[0]["id"].as_i64().unwrap();
    assert_eq!(letters[0]["body"], "{\"kind\":\"mystery\"}");

    let redriven = klaxon(&["dead-letters", "redrive", &id.to_string(), "--db", &db]).ok();
    assert_eq!(
        redriven.stdout,
        format!("dead letter {id} is back on the notifications queue with fresh attempts\n")
    );
    assert_eq!(queue.len(QueueName::Notifications).await.unwrap(), 1);
    assert_eq!(
        klaxon(&["dead-letters", "list", "--db", &db]).ok().stdout,
        "no dead letters\n"
    );
    klaxon(&["dead-letters", "redrive", &id.to_string(), "--db", &db]).fails(1, "no dead letter");
    klaxon(&["dead-letters", "redrive", "x", "--db", &db]).fails(2, "ID");
}

#[test]
fn rotate_link_secret_on_a_data_directory_retires_the_old_secret_without_printing_any() {
    use klaxon_app::security::links::key_id;
    use klaxon_local::runtime::data_dir::DataDir;
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("data");
    let db = root.display().to_string();
    klaxon(&["keys", "rotate-link-secret", "--db", &db]).fails(1, "no link secret");
    let dir = DataDir::new(&root);
    dir.create().unwrap();
    let before = dir.link_keys_or_create().unwrap();

    let run = klaxon(&["keys", "rotate-link-secret", "--db", &db, "--json"]).ok();
    let report = run.json();
    let after = dir.link_keys_or_create().unwrap();
    assert_eq!(report["retired"], key_id(before.current.as_bytes()));
    assert_eq!(report["current"], key_id(after.current.as_bytes()));
    assert_ne!(after.current, before.current);
    assert_eq!(after.retired.len(), 1);
    assert_eq!(after.retired[0].secret, before.current);
    assert!(!run.stdout.contains(&before.current) && !run.stdout.contains(&after.current));

    // The text form says what to do next; the database file names its directory too.
    let text = klaxon(&[
        "keys",
        "rotate-link-secret",
        "--db",
        &root.join("klaxon.db").display().to_string(),
    ])
    .ok()
    .stdout;
    assert!(text.contains("Restart `klaxon serve`"), "{text}");
    assert_eq!(dir.link_keys_or_create().unwrap().retired.len(), 2);

    klaxon(&[
        "keys",
        "rotate-link-secret",
        "--db",
        &db,
        "--retire-for",
        "10s",
    ])
    .fails(2, "shorter than a minute");
    klaxon(&["keys", "rotate-link-secret"]).fails(2, "--db");
    klaxon(&[
        "keys",
        "rotate-link-secret",
        "--db",
        &db,
        "--secret-id",
        "klaxon/link-keys",
    ])
    .fails(2, "cannot be used with");
}

#[tokio::test]
async fn rotate_link_secret_on_a_deployed_secret_keeps_the_old_key_until_its_end() {
    use klaxon_app::security::links::{LinkKeys, key_id};
    const OLD: &str = "deployed-link-secret-0123456789abcdef0123";
    let arn = klaxon_tests::create_secret(
        "cli-link-keys",
        &serde_json::json!({"current": OLD, "retired": []}).to_string(),
    )
    .await;
    let env = moto_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The command keeps whole seconds.
    let started = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0);
    let run = cli_with_env(
        &[
            "keys",
            "rotate-link-secret",
            "--secret-id",
            &arn,
            "--retire-for",
            "7d",
            "--json",
        ],
        &env,
    )
    .ok();
    assert!(!run.stdout.contains(OLD), "{}", run.stdout);

    let stored = klaxon_tests::secretsmanager_client()
        .await
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .unwrap()
        .secret_string
        .unwrap();
    let keys = LinkKeys::from_json(&stored).unwrap();
    assert_ne!(keys.current, OLD);
    assert_eq!(keys.retired.len(), 1);
    assert_eq!(keys.retired[0].secret, OLD);
    let until = keys.retired[0].until;
    assert!(until >= started + chrono::TimeDelta::days(7), "{until}");
    assert!(
        until <= chrono::Utc::now() + chrono::TimeDelta::days(7),
        "{until}"
    );
    let report = run.json();
    assert_eq!(report["current"], key_id(keys.current.as_bytes()));
    assert_eq!(report["retired"], key_id(OLD.as_bytes()));
    assert!(report["target"].as_str().unwrap().contains(&arn));

    cli_with_env(
        &[
            "keys",
            "rotate-link-secret",
            "--secret-id",
            "no-such-secret",
        ],
        &env,
    )
    .fails(1, "cannot read the link signing keys");
}

/// `klaxon keys import-link-secret` with moto's variables, feeding `stdin`.
fn import_link_secret(arn: &str, stdin: &str, extra: &[&str]) -> Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut command = Command::new(env!("CARGO_BIN_EXE_klaxon"));
    command
        .args(["keys", "import-link-secret", "--secret-id", arn])
        .args(extra)
        .current_dir(common::repo())
        .env_remove("RUST_BACKTRACE")
        .env_remove("KLAXON_LINK_KEYS_SECRET")
        .envs(moto_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Upgrading a stack deployed with the old `LinkSigningSecret` parameter: the old secret,
/// imported as a retired key, verifies the links it signed (they carry no key id), while new
/// links are still signed with the stack's generated key; nothing secret is printed.
#[tokio::test]
async fn import_link_secret_keeps_links_of_the_old_parameter_valid() {
    use klaxon_app::security::links::{LinkAction, LinkKeys, LinkSigner, key_id};
    use klaxon_domain::ids::{IncidentId, UserId};
    const CURRENT: &str = "generated-by-the-stack-0123456789abcdef0123";
    const OLD: &str = "the-old-LinkSigningSecret-parameter-value-0042";
    let arn = klaxon_tests::create_secret(
        "cli-import-link-keys",
        &serde_json::json!({"current": CURRENT, "retired": []}).to_string(),
    )
    .await;
    let now = chrono::Utc::now();
    let mut sent_before_upgrade = LinkSigner::new(OLD).unwrap().sign(
        &IncidentId::new("0192abc").unwrap(),
        &UserId::new("alice").unwrap(),
        LinkAction::Ack,
        now + chrono::TimeDelta::hours(12),
    );
    sent_before_upgrade.key = None;
    let stored = || async {
        let text = klaxon_tests::secretsmanager_client()
            .await
            .get_secret_value()
            .secret_id(&arn)
            .send()
            .await
            .unwrap()
            .secret_string
            .unwrap();
        LinkKeys::from_json(&text).unwrap()
    };
    let signer = stored().await.signer().unwrap();
    assert!(signer.verify(&sent_before_upgrade, now).is_err());

    let run = import_link_secret(&arn, &format!("{OLD}\n"), &["--json"]).ok();
    assert!(
        !run.stdout.contains(OLD) && !run.stderr.contains(OLD),
        "{run:?}"
    );
    let report = run.json();
    assert_eq!(report["imported"], key_id(OLD.as_bytes()));
    assert_eq!(report["current"], key_id(CURRENT.as_bytes()));
    assert_eq!(report["added"], true);
    let keys = stored().await;
    assert_eq!(keys.current, CURRENT, "new links: still the stack's key");
    let signer = keys.signer().unwrap();
    assert!(signer.verify(&sent_before_upgrade, now).is_ok());
    let until = keys.retired[0].until;
    assert!(until >= now + chrono::TimeDelta::days(30) - chrono::TimeDelta::minutes(1));

    // Again: extended, still one retired key. Bad input names standard input, changes nothing.
    let run = import_link_secret(&arn, OLD, &[]).ok();
    assert!(run.stdout.contains("Already accepted"), "{}", run.stdout);
    let keys = stored().await;
    assert_eq!(keys.retired.len(), 1);
    import_link_secret(&arn, "  \n", &[]).fails(2, "standard input");
    import_link_secret(&arn, "too-short", &[]).fails(1, "at least 32 bytes");
    import_link_secret(&arn, CURRENT, &[]).fails(1, "current key");
    assert_eq!(stored().await, keys);
}
