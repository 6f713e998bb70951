//! The domain's top-level modules depend on each other in one direction only.
//!
//! The rule this test enforces: every `crate::<module>` path written in a source file under
//! `src/<module>.rs` or `src/<module>/` (in `use` lines, `pub use` re-exports, inline paths
//! and `#[cfg(test)]` code alike; comments are skipped) is an edge from that file's top-level
//! module to `<module>`. Paths to items of the crate root (`crate::Instant`) are not edges,
//! and neither are `super::` paths (they stay inside a module). The graph of those edges
//! must have no cycle. Shared vocabulary that two modules both need goes into a leaf module
//! such as `vocabulary`, which the others import, instead of one importing the other.

// Helpers outside #[test] functions read the crate's own sources: a failure is a broken checkout.
#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The crate's top-level modules, read from the `mod` lines of `lib.rs`.
fn top_level_modules() -> BTreeSet<String> {
    let lib = fs::read_to_string(src_dir().join("lib.rs")).expect("read lib.rs");
    lib.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').trim().to_owned())
        })
        .collect()
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`None` for `lib.rs`).
fn owner(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src_dir()).expect("file under src");
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// Every `<module>` in a `crate::<module>` path of `source`, comments skipped.
fn referenced_modules(source: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (index, _) in code.match_indices("crate::") {
            let preceded_by_ident = code[..index]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_');
            if preceded_by_ident {
                continue; // `klaxon_crate::`, not `crate::`
            }
            let rest = &code[index + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&name) {
                found.insert(name);
            }
        }
    }
    found
}

fn module_graph() -> Graph {
    let modules = top_level_modules();
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for file in files {
        let Some(from) = owner(&file) else { continue };
        let source = fs::read_to_string(&file).expect("read source file");
        let edges = graph.entry(from.clone()).or_default();
        for to in referenced_modules(&source, &modules) {
            if to != from {
                edges.insert(to);
            }
        }
    }
    graph
}

/// A cycle in `graph` as a path `a → b → … → a`, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_domain_module_graph_has_no_cycle() {
    let graph = module_graph();
    assert!(
        graph.contains_key("incident") && graph.contains_key("vocabulary"),
        "lib.rs lists the modules: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "the domain modules import each other in a circle: {}; move the shared types into a \
             leaf module (see src/vocabulary.rs)",
            cycle.join(" → ")
        );
    }
}

#[test]
fn vocabulary_is_a_leaf() {
    let graph = module_graph();
    let allowed: BTreeSet<String> = ["ids".to_owned()].into();
    assert!(
        graph["vocabulary"].is_subset(&allowed),
        "vocabulary may import only ids, imports {:?}",
        graph["vocabulary"]
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut graph = Graph::new();
    graph.insert("a".into(), ["b".to_owned()].into());
    graph.insert("b".into(), ["c".to_owned()].into());
    graph.insert("c".into(), ["a".to_owned()].into());
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.insert("c".into(), BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
}

#[test]
fn crate_paths_are_read_from_code_not_comments() {
    let modules: BTreeSet<String> = ["incident".to_owned(), "ids".to_owned()].into();
    let source = "use crate::ids::UserId;\n// see crate::incident\nlet x = crate::Instant;";
    assert_eq!(
        referenced_modules(source, &modules),
        ["ids".to_owned()].into()
    );
}
