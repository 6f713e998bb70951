//! The README stays true: its first lines are the two commands it promises, and the shell
//! blocks of its quickstart, run with bash against a `klaxon serve` started from the
//! quickstart's own command line, page someone, acknowledge the incident by link and list it;
//! then its browser steps, in headless Chromium, sign in with the link from the outbox and
//! acknowledge the other incident.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::repo;
use common::server::{KLAXON_VARIABLES, PATIENCE, Serve, ack_link, free_port, http, pages_to};
use klaxon_tests::browser::{wait_text, wait_url};
use klaxon_tests::webdriver::Driver;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Instant;

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The fenced blocks with language `language` in the section headed `heading` (up to the next
/// heading of the same level).
fn blocks(text: &str, heading: &str, language: &str) -> Vec<String> {
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no {heading:?} section"));
    let section = &text[start + heading.len() + 2..];
    let level = heading.split(' ').next().unwrap();
    let end = section
        .find(&format!("\n{level} "))
        .unwrap_or(section.len());
    let mut blocks = Vec::new();
    let mut lines = section[..end].lines();
    while let Some(line) = lines.next() {
        if line.trim_end() == format!("```{language}") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| l.trim_end() != "```")
                .collect();
            blocks.push(body.join("\n"));
        }
    }
    blocks
}

#[test]
fn the_readme_opens_with_the_run_and_test_commands() {
    let text = readme();
    let first = text
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let commands: Vec<&str> = first
        .lines()
        .map(|line| line.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run -p klaxon -- serve --config examples/klaxon.yaml",
            "./scripts/test"
        ]
    );
    assert!(repo().join("scripts/test").is_file());
    let ci = std::fs::read_to_string(repo().join(".ci/run")).unwrap();
    assert!(ci.contains("exec ./scripts/test"), "{ci}");
}

#[test]
fn the_quickstart_commands_page_acknowledge_and_list_as_the_readme_says() {
    let text = readme();
    let mut blocks = blocks(&text, "## Quickstart", "sh").into_iter();
    let start = blocks.next().unwrap();
    let rest: Vec<String> = blocks.collect();
    assert!(rest.len() >= 5, "{rest:#?}");

    // The serve command exactly as written, with the binary this test built in place of cargo
    // run; the port and data directory come from the environment variables the README names.
    let cargo = "cargo run -p klaxon --";
    assert!(
        start.trim().starts_with(cargo),
        "the quickstart starts serve with cargo run: {start}"
    );
    let serve_line = start.trim().replacen(cargo, "exec \"$KLAXON_TEST_BIN\"", 1);
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("klaxon-data");
    let port = free_port();
    let mut command = Command::new("bash");
    command.args(["-c", &serve_line]);
    for variable in KLAXON_VARIABLES {
        command.env_remove(variable);
    }
    command
        .env("KLAXON_TEST_BIN", env!("CARGO_BIN_EXE_klaxon"))
        .env("KLAXON_DATA_DIR", &data_dir)
        .env("KLAXON_LISTEN", format!("127.0.0.1:{port}"));
    let serve = Serve::spawn(command, port, &data_dir);

    // The other blocks, in order, in one bash; `klaxon` is this test's binary (a function wins
    // over the PATH the README sets).
    let script = format!(
        "set -eu\nklaxon() {{ \"$KLAXON_TEST_BIN\" \"$@\"; }}\n{}\n",
        rest.join("\n")
    );
    let mut shell = Command::new("bash");
    shell.args(["-c", &script]);
    for variable in KLAXON_VARIABLES {
        shell.env_remove(variable);
    }
    let mut child = shell
        .current_dir(repo())
        .env("KLAXON_TEST_BIN", env!("CARGO_BIN_EXE_klaxon"))
        .env("KLAXON_DATA_DIR", &data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the quickstart commands did not finish");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        status.success(),
        "{status}\nstdout:\n{stdout}\nstderr:\n{stderr}\nserve:\n{}\n{}",
        serve.stdout(),
        serve.stderr()
    );

    // What the README shows as output.
    assert!(
        stdout.contains(r#"{"status":"accepted","summary":{"acknowledged":0,"ignored":0,"new":2,"repeats":0,"resolved":0}}"#),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"{"status":"success","message":"Event processed","dedup_key":"db-primary/replication-lag"}"#),
        "{stdout}"
    );
    assert!(stdout.contains("\n200\n"), "{stdout}");
    assert!(
        stdout.contains("NUMBER  STATUS        SEVERITY  URGENCY  CREATED"),
        "{stdout}"
    );

    // The outbox has the page, and the incident its link names is acknowledged.
    let records = serve.outbox();
    let first = records
        .iter()
        .find(|record| ack_link(record).is_some())
        .expect("a page in the outbox");
    let recipient = first["recipient"].as_str().unwrap();
    assert!(!pages_to(&records, recipient).is_empty());
    let link = ack_link(first).unwrap();
    assert!(
        link.starts_with(&format!("{}/v1/links?", serve.url)),
        "{link}"
    );
    let incident = link
        .split(['?', '&'])
        .find_map(|part| part.strip_prefix("i="))
        .unwrap();
    let (status, detail) = http(
        "GET",
        &format!("{}/v1/incidents/{incident}", serve.url),
        Some(&serve.key("KLAXON_API_KEY")),
        None,
    );
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["incident"]["status"], "acknowledged");
    let number = detail["incident"]["number"].as_u64().unwrap();
    let row = stdout
        .lines()
        .find(|line| line.starts_with(&format!("#{number} ")))
        .unwrap_or_else(|| panic!("incident #{number} is listed: {stdout}"));
    assert!(row.contains("acknowledged"), "{row}");
    let open = stdout.lines().filter(|line| line.starts_with('#')).count();
    assert_eq!(
        open, 2,
        "two incidents: the Alertmanager group and the PagerDuty event"
    );

    // The README's own link command finds each page's acknowledge link, whatever its channel
    // (an email's text has the link followed by an escaped line break).
    let link_line = rest
        .iter()
        .flat_map(|block| block.lines())
        .find(|line| line.starts_with("link=$("))
        .expect("the quickstart extracts the link with a `link=$(...)` line");
    let text = std::fs::read_to_string(serve.data_dir.join("outbox.jsonl")).unwrap();
    let mut channels = Vec::new();
    for line in text.lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let Some(expected) = ack_link(&record) else {
            continue;
        };
        let one = temp.path().join("one-page.jsonl");
        std::fs::write(&one, format!("{line}\n")).unwrap();
        let extracted = Command::new("bash")
            .args(["-c", &format!("{link_line}\nprintf '%s' \"$link\"")])
            .env("outbox", &one)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(extracted.stdout).unwrap(),
            expected,
            "`{link_line}` on {line}"
        );
        channels.push(record["channel"].as_str().unwrap().to_owned());
    }
    assert!(channels.iter().any(|c| c == "sms"), "{channels:?}");

    // The banner's `Try it:` commands work from any directory.
    let banner = serve.stdout();
    let try_it: Vec<&str> = banner
        .lines()
        .skip_while(|line| *line != "Try it:")
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect();
    assert!(!try_it.is_empty(), "{banner}");
    let elsewhere = tempfile::tempdir().unwrap();
    let tried = Command::new("bash")
        .args(["-c", &format!("set -eu\n{}", try_it.join("\n"))])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&tried.stdout);
    assert!(
        tried.status.success() && answer.contains(r#""status":"accepted""#),
        "{try_it:#?}: {answer}{}",
        String::from_utf8_lossy(&tried.stderr)
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let id = runtime.block_on(follow_the_browser_steps(&readme(), &serve));
    let (status, detail) = http(
        "GET",
        &format!("{}/v1/incidents/{id}", serve.url),
        Some(&serve.key("KLAXON_API_KEY")),
        None,
    );
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["incident"]["status"], "acknowledged",
        "acknowledged in the browser"
    );
}

/// The quickstart's browser steps in headless Chromium: the console address `serve` printed,
/// the sign-in form, the link the README's `bash` block finds in the outbox, and acknowledging
/// the incident still triggered from its page. Returns that incident's id.
async fn follow_the_browser_steps(text: &str, serve: &Serve) -> String {
    let banner = serve.stdout();
    let console_url = banner
        .lines()
        .find_map(|line| line.trim().strip_prefix("console "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("serve prints the console address: {banner}"))
        .to_owned();
    assert_eq!(console_url, format!("{}/", serve.url));
    let address = "emma@example.com";
    assert!(
        text.contains(&format!("enter `{address}`")),
        "the README signs in as {address}"
    );
    let link_blocks = blocks(text, "## Quickstart", "bash");
    assert_eq!(
        link_blocks.len(),
        1,
        "one command finds the sign-in link: {link_blocks:?}"
    );

    let driver = Driver::start().await.unwrap_or_else(|e| panic!("{e}"));
    let browser = driver.session(1280, 800).await.unwrap();
    browser.goto(&console_url).await.unwrap();
    wait_url(&browser, "/console/signin").await;
    browser
        .find("#email")
        .await
        .unwrap()
        .send_keys(address)
        .await
        .unwrap();
    browser
        .find("form[action='/console/signin'] button")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "main", "a sign-in link is on its way").await;

    let found = Command::new("bash")
        .args(["-c", &format!("set -eu\n{}", link_blocks[0])])
        .env("outbox", serve.data_dir.join("outbox.jsonl"))
        .output()
        .unwrap();
    let link = String::from_utf8(found.stdout).unwrap().trim().to_owned();
    assert!(
        link.starts_with(&format!("{}/console/signin/link?", serve.url)),
        "the README's command finds the link: {link:?} {}",
        String::from_utf8_lossy(&found.stderr)
    );
    browser.goto(&link).await.unwrap();
    browser
        .find("#signin")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&browser, "/console/incidents").await;

    // The incident nobody acknowledged yet: its row has the `triggered` badge.
    let href = browser
        .execute(
            "const row = [...document.querySelectorAll('ul.incidents li')]
               .find(li => li.querySelector('.s-triggered'));
             return row ? row.querySelector('a.title').getAttribute('href') : null;",
            vec![],
        )
        .await
        .unwrap();
    let href = href
        .as_str()
        .expect("a triggered incident in the list")
        .to_owned();
    browser
        .find(&format!("a.title[href='{href}']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_url(&browser, &href).await;
    browser
        .find("#acknowledge")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let timeline = wait_text(&browser, "#timeline", "incident.acknowledged").await;
    assert!(timeline.contains("by user:emma"), "{timeline}");
    let _ = browser.close().await;
    href.rsplit('/').next().unwrap().to_owned()
}
