//! The domain crate has its own `clippy.toml` (it forbids clock reads); clippy then ignores the
//! workspace's, so every workspace setting must be repeated there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn settings(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_domain_clippy_config_repeats_every_workspace_setting() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = settings(&crate_dir.join("../../clippy.toml"));
    let domain = settings(&crate_dir.join("clippy.toml"));
    assert!(!workspace.is_empty());
    for line in &workspace {
        assert!(
            domain.contains(line),
            "shared/domain/clippy.toml lacks the workspace setting `{line}`"
        );
    }
    assert!(
        domain.iter().any(|line| line.contains("chrono::Utc::now")),
        "the domain forbids clock reads"
    );
}
