//! `klaxon config validate`, and how every command reports bad input: a message naming the
//! problem, exit status 1 (cannot do the job) or 2 (wrong command line), never a panic.

// Tests run fixed inputs; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{event, example_config, klaxon, klaxon_with_stdin, temp_file};
use serde_json::Value;
use std::io::Read;
use std::process::{Command, Stdio};

#[test]
fn example_config_is_valid() {
    let config = example_config();
    let run = klaxon(&["config", "validate", &config]).ok();
    assert!(
        run.stdout.ends_with(
            "is valid: 6 users, 3 schedules, 3 escalation policies, 4 routing rules, \
             6 integrations (0 warnings)\n"
        ),
        "{}",
        run.stdout
    );
    let report = klaxon(&["config", "validate", &config, "--json"])
        .ok()
        .json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["errors"], Value::Array(Vec::new()));
    assert_eq!(report["warnings"], Value::Array(Vec::new()));
}

#[test]
fn validate_defaults_to_the_config_option_and_environment() {
    let config = example_config();
    klaxon(&["--config", &config, "config", "validate"]).ok();
    let run = Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args(["config", "validate", "--json"])
        .env("KLAXON_CONFIG", &config)
        .output()
        .unwrap();
    assert!(run.status.success());
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["file"], config.as_str());
}

/// The example with four mistakes, one per section.
fn broken_example() -> String {
    let text = std::fs::read_to_string(example_config()).unwrap();
    let broken = text
        .replace("email: ben@example.com", "email: ben-at-example.com")
        .replace(
            "participants: [anna, ben, chloe]",
            "participants: [anna, ben, chloe, zed]",
        )
        .replacen("delay: 10m", "delay: 0s", 1)
        .replace("policy: database\n", "policy: nope\n");
    assert_ne!(text, broken);
    broken
}

#[test]
fn broken_config_reports_every_error_with_its_path() {
    let (_dir, path) = temp_file("broken.yaml", &broken_example());
    let run = klaxon(&["config", "validate", &path]);
    assert_eq!(run.code, 1, "{run:#?}");
    run.assert_no_panic();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 5, "four errors and the count: {}", run.stdout);
    let paths: Vec<&str> = lines[..4]
        .iter()
        .map(|line| line.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "users[1].email",
            "schedules[0].layers[0].rotation.participants[3]",
            "escalation_policies[0].tiers[0].delay",
            "routing.rules[1].policy",
        ]
    );
    assert!(lines[1].contains("\"zed\""), "{}", lines[1]);
    assert!(lines[3].contains("\"nope\""), "{}", lines[3]);
    assert_eq!(lines[4], format!("{path} is invalid: 4 errors"));

    let json = klaxon(&["config", "validate", &path, "--json"]);
    assert_eq!(json.code, 1);
    let report = json.json();
    assert_eq!(report["valid"], false);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4);
    assert_eq!(errors[2]["path"], "escalation_policies[0].tiers[0].delay");
    assert!(
        errors[2]["message"]
            .as_str()
            .unwrap()
            .contains("at least 1s")
    );
}

#[test]
fn warnings_are_printed_but_do_not_fail() {
    let text = std::fs::read_to_string(example_config())
        .unwrap()
        .replace("priority: 30", "priority: 20");
    let (_dir, path) = temp_file("tie.yaml", &text);
    let run = klaxon(&["config", "validate", &path]).ok();
    assert!(
        run.stdout.contains("warning: routing.rules[3].priority: "),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(1 warning)"), "{}", run.stdout);
    let report = klaxon(&["config", "validate", &path, "--json"]).ok().json();
    assert_eq!(report["valid"], true);
    assert_eq!(report["warnings"][0]["path"], "routing.rules[3].priority");
}

#[test]
fn syntax_errors_have_a_line_and_no_path() {
    let (_dir, path) = temp_file("syntax.yaml", "users:\n  - id: a\n    name: [\n");
    let run = klaxon(&["config", "validate", &path, "--json"]);
    assert_eq!(run.code, 1);
    let report = run.json();
    assert_eq!(report["errors"][0]["path"], "");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("line"),
        "{report}"
    );
}

#[test]
fn commands_refuse_an_invalid_config_and_list_its_errors() {
    let (_dir, path) = temp_file("broken.yaml", &broken_example());
    klaxon(&["--config", &path, "oncall"])
        .fails(1, "is invalid (4 errors)")
        .fails(1, "routing.rules[1].policy");
}

#[test]
fn unreadable_files_fail_with_the_file_name() {
    klaxon(&["config", "validate", "/nonexistent/klaxon.yaml"])
        .fails(1, "cannot read config file /nonexistent/klaxon.yaml");
    klaxon(&["--config", "/nonexistent/klaxon.yaml", "oncall"])
        .fails(1, "cannot read config file /nonexistent/klaxon.yaml");
    let config = example_config();
    klaxon(&[
        "--config",
        &config,
        "route",
        "test",
        "/nonexistent/alert.json",
    ])
    .fails(1, "cannot read payload /nonexistent/alert.json");
    // Without --config or KLAXON_CONFIG the default is klaxon.yaml in the working directory
    // (the repository root has none).
    klaxon(&["oncall"]).fails(1, "cannot read config file klaxon.yaml");
}

#[test]
fn unknown_schedule_lists_the_known_ones() {
    let config = example_config();
    for args in [
        vec!["oncall", "--schedule", "nope"],
        vec!["schedule", "show", "nope"],
        vec!["schedule", "export", "nope", "--ics"],
    ] {
        let mut argv = vec!["--config", config.as_str()];
        argv.extend(args);
        klaxon(&argv).fails(
            1,
            "unknown schedule 'nope' (known: primary, secondary, database)",
        );
    }
}

#[test]
fn malformed_times_are_usage_errors_naming_the_option() {
    let config = example_config();
    let payload = event("native-firing.json");
    for (args, needle) in [
        (
            vec!["oncall", "--at", "2026-03-08T06:30:00"],
            "'--at <TIME>'",
        ),
        (vec!["oncall", "--at", "2026-03-08"], "is a date"),
        (
            vec!["route", "test", &payload, "--at", "noon"],
            "not an RFC 3339 time",
        ),
        (
            vec!["schedule", "show", "primary", "--from", "2026-02-30"],
            "'--from <TIME>'",
        ),
    ] {
        let mut argv = vec!["--config", config.as_str()];
        argv.extend(args);
        klaxon(&argv).fails(2, needle);
    }
}

#[test]
fn bad_payloads_name_the_problem() {
    let config = example_config();
    let route = |payload: &str, extra: &[&str]| {
        let mut args = vec!["--config", config.as_str(), "route", "test", payload];
        args.extend_from_slice(extra);
        klaxon(&args)
    };
    let (_a, not_json) = temp_file("a.json", "this is not json");
    route(&not_json, &[]).fails(1, "is not JSON");
    // With a format given, the parser itself reports it, with its code.
    route(&not_json, &["--format", "native"]).fails(1, "not a valid native payload (not_json)");
    let (_b, unknown) = temp_file("b.json", r#"{"hello": "world"}"#);
    route(&unknown, &[]).fails(
        1,
        "cannot tell the payload's format from its fields (hello)",
    );
    let (_c, invalid) = temp_file(
        "c.json",
        r#"{"version": "4", "alerts": [{"status": "burning", "labels": {}}]}"#,
    );
    route(&invalid, &[]).fails(1, "alerts[0].status must be one of: firing, resolved");
    route(&unknown, &["--format", "nagios"]).fails(2, "possible values");
    route(&unknown, &["--integration", "nope"]).fails(1, "unknown integration 'nope' (known: ");
    // A format the configuration has no integration for.
    let (_d, empty) = temp_file("empty.yaml", "users: []\n");
    klaxon(&[
        "--config",
        &empty,
        "route",
        "test",
        &event("native-firing.json"),
    ])
    .fails(
        1,
        "no integration in the configuration receives native payloads",
    );
    // Empty standard input.
    klaxon_with_stdin(
        &[
            "--config", &config, "route", "test", "-", "--format", "native",
        ],
        Some(b""),
    )
    .fails(1, "$ is empty");
}

#[test]
fn usage_errors_exit_two_and_help_exits_zero() {
    klaxon(&["frobnicate"]).fails(2, "unrecognized subcommand");
    klaxon(&["schedule", "export", "primary"]).fails(2, "--ics");
    let help = klaxon(&["route", "test", "--help"]).ok();
    assert!(help.stdout.contains("Examples:"), "{}", help.stdout);
    assert!(help.stdout.contains("--integration <NAME>"));
    let version = klaxon(&["--version"]).ok();
    assert!(version.stdout.starts_with("klaxon "));
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let config = example_config();
    // A year of the primary schedule is well over a pipe buffer of text.
    let mut child = Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args([
            "--config",
            &config,
            "schedule",
            "show",
            "primary",
            "--from",
            "2026-01-01",
            "--to",
            "2027-01-01",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The examples of `klaxon <command> --help`, one command per entry (continuation lines ending
/// in a backslash joined).
fn help_examples(command: &[&str]) -> Vec<String> {
    // Help is wrapped at 100 columns when the width is unknown, as here: an example longer
    // than that would be broken in two.
    let output = Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args(command)
        .arg("--help")
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    assert!(output.status.success(), "{command:?} --help");
    let help = String::from_utf8(output.stdout).unwrap();
    let mut examples = Vec::new();
    let mut lines = help
        .lines()
        .skip_while(|line| line.trim() != "Examples:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty());
    while let Some(line) = lines.next() {
        let mut example = line.trim().to_owned();
        while let Some(start) = example.strip_suffix('\\') {
            let next = lines.next().unwrap_or_default().trim();
            example = format!("{} {next}", start.trim_end());
        }
        examples.push(example);
    }
    assert!(
        !examples.is_empty(),
        "{command:?} --help has examples:\n{help}"
    );
    examples
}

#[test]
fn the_help_examples_of_the_offline_commands_work_as_written_from_the_repository_root() {
    // A stand-in for the repository root (its examples and sample payloads), so that examples
    // writing files (`> primary.ics`, `--output`) write them here.
    let root = tempfile::tempdir().unwrap();
    for directory in ["examples", "events"] {
        std::os::unix::fs::symlink(common::repo().join(directory), root.path().join(directory))
            .unwrap();
    }
    let offline = [
        "config validate",
        "route test",
        "oncall",
        "schedule show",
        "schedule export",
    ];
    let mut ran = 0;
    for command in [
        &[][..],
        &["config", "validate"],
        &["route", "test"],
        &["oncall"],
        &["schedule", "show"],
        &["schedule", "export"],
    ] {
        for example in help_examples(command) {
            // Examples needing a database, a table or a server are not run here.
            if !offline.iter().any(|name| example.contains(name))
                || example.contains("--db")
                || example.contains("--table")
            {
                continue;
            }
            let mut shell = Command::new("bash");
            shell
                .args([
                    "-c",
                    &format!("set -eu\nklaxon() {{ \"$KLAXON_TEST_BIN\" \"$@\"; }}\n{example}\n"),
                ])
                .current_dir(root.path())
                .env("KLAXON_TEST_BIN", env!("CARGO_BIN_EXE_klaxon"))
                .env_remove("KLAXON_CONFIG")
                .env_remove("KLAXON_DB")
                .env_remove("KLAXON_TABLE")
                .env_remove("COLUMNS")
                .stdin(Stdio::null());
            let output = shell.output().unwrap();
            assert!(
                output.status.success(),
                "`{example}` ({command:?} --help) fails from the repository root: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            ran += 1;
        }
    }
    assert!(ran >= 15, "only {ran} examples ran");
    assert!(root.path().join("primary.ics").is_file());
    assert!(root.path().join("database.ics").is_file());
}
