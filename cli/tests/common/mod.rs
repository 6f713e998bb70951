//! Running the built `klaxon` binary in tests.

// Not every test file uses every helper; a failed expect is a failed test.
#![allow(dead_code, clippy::expect_used)]

pub mod alertmanager;
pub mod server;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the cli package sits in the repository root")
        .to_path_buf()
}

/// `examples/klaxon.yaml`.
pub fn example_config() -> String {
    repo().join("examples/klaxon.yaml").display().to_string()
}

/// The DST test configuration.
pub fn dst_config() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/dst.yaml")
        .display()
        .to_string()
}

/// The holiday coverage test configuration (its `.ics` file sits beside it).
pub fn holidays_config() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/holidays.yaml")
        .display()
        .to_string()
}

/// A sample payload from `events/ingest/`.
pub fn event(name: &str) -> String {
    repo()
        .join("events/ingest")
        .join(name)
        .display()
        .to_string()
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Asserts success and a quiet stderr.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        self.assert_no_panic();
        self
    }

    /// Asserts exit status `code` with an `error: ...` message on stderr that contains `needle`.
    pub fn fails(self, code: i32, needle: &str) -> Self {
        assert_eq!(self.code, code, "unexpected exit status: {self:#?}");
        assert!(
            self.stderr.starts_with("error: "),
            "stderr must start with 'error: ': {self:#?}"
        );
        assert!(
            self.stderr.contains(needle),
            "stderr should mention {needle:?}: {self:#?}"
        );
        self.assert_no_panic();
        self
    }

    /// Nothing panicked and no backtrace hint leaked.
    pub fn assert_no_panic(&self) {
        for text in [&self.stdout, &self.stderr] {
            assert!(!text.contains("panicked"), "panic: {self:#?}");
            assert!(
                !text.contains("RUST_BACKTRACE"),
                "backtrace hint: {self:#?}"
            );
        }
    }
}

/// Runs `klaxon args...` with `KLAXON_CONFIG` unset.
pub fn klaxon(args: &[&str]) -> Run {
    klaxon_with_stdin(args, None)
}

/// Runs `klaxon args...`, feeding `stdin` if given.
pub fn klaxon_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_klaxon"));
    command
        .args(args)
        .env_remove("KLAXON_CONFIG")
        .env_remove("RUST_BACKTRACE")
        .current_dir(repo())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the klaxon binary runs");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input).expect("stdin takes the payload");
    }
    let output = child.wait_with_output().expect("klaxon finishes");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Writes `text` to a file named `name` in a fresh temporary directory.
pub fn temp_file(name: &str, text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("the file is written");
    (dir, path.display().to_string())
}
