//! Klaxon's application layer: use cases written once and generic over ports, and the HTTP
//! router shared by the Lambda functions and `klaxon serve`.

// At most 80 lines per function (clippy.toml), in every crate under shared/ and functions/.
#![warn(clippy::too_many_lines)]

pub mod console;
pub mod consumer;
pub mod dead_letters;
pub mod dryrun;
mod fmt_hidden;
pub mod heartbeat;
pub mod http;
pub mod ics;
pub mod messages;
pub mod oncall;
pub mod ports;
pub mod render;
pub mod security;
pub mod usecases;
pub mod webhook;

#[cfg(test)]
mod layering {
    //! The use cases know nothing of HTTP: errors are mapped to status codes in `http::error`,
    //! so a use case can be called from a queue consumer, the CLI or a test without an HTTP type.

    use std::path::{Path, PathBuf};

    fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                rust_files(&path, found);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                found.push(path);
            }
        }
    }

    /// Whether `line` names the HTTP layer: axum, this crate's `http` module, or the `http` crate.
    fn names_http(line: &str) -> bool {
        let code = line.split("//").next().unwrap_or_default();
        code.contains("axum")
            || code.contains("crate::http")
            || code.contains("super::http")
            || code.match_indices("http::").any(|(at, _)| {
                at == 0 || !code[..at].ends_with(|c: char| c == '_' || c.is_alphanumeric())
            })
    }

    #[test]
    fn no_use_case_imports_the_http_layer() {
        let mut files = Vec::new();
        rust_files(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/usecases"),
            &mut files,
        );
        assert!(files.len() > 5, "the use case sources were not found");
        let offending: Vec<String> = files
            .iter()
            .flat_map(|file| {
                let text = std::fs::read_to_string(file).unwrap();
                text.lines()
                    .enumerate()
                    .filter(|(_, line)| names_http(line))
                    .map(|(number, line)| format!("{}:{}: {line}", file.display(), number + 1))
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(offending.is_empty(), "{}", offending.join("\n"));
    }

    #[test]
    fn the_check_sees_each_way_of_naming_http() {
        for line in [
            "use axum::Json;",
            "use crate::http::ApiError;",
            "fn f() -> http::StatusCode {",
            "use super::http;",
        ] {
            assert!(names_http(line), "{line}");
        }
        for line in [
            "use reqwest_http::X;",
            "// axum is not used here",
            "let url = \"https://x\";",
        ] {
            assert!(!names_http(line), "{line}");
        }
    }
}
