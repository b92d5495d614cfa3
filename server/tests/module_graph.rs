//! The shape of the house, checked: the server's top-level modules import
//! one another without circles, and the agent library (what ships on edge
//! devices) depends on none of the server-only crates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file as the build sees it outside tests: without the
/// `#[cfg(test)] mod … { … }` block (always last in this codebase) and
/// without comment lines (which name modules without importing them).
fn code_outside_tests(text: &str) -> String {
    let cut = text
        .find("#[cfg(test)]\nmod tests {")
        .or_else(|| text.find("#[cfg(test)]\npub mod tests {"))
        .unwrap_or(text.len());
    text[..cut]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// module → the other top-level modules its code names as `crate::x`.
fn server_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let p = e.path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "main" || name == "lib" {
            continue;
        }
        let mut files = Vec::new();
        if p.is_dir() {
            rust_files(&p, &mut files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            files.push(p.clone());
        } else {
            continue;
        }
        modules.insert(name, files);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (m, files) in &modules {
        let mut uses = BTreeSet::new();
        for f in files {
            if f.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let code = code_outside_tests(&std::fs::read_to_string(f).unwrap());
            for (i, _) in code.match_indices("crate::") {
                let rest = &code[i + "crate::".len()..];
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if &ident != m && names.contains(&ident) {
                    uses.insert(ident);
                }
            }
        }
        graph.insert(m.clone(), uses);
    }
    graph
}

/// A cycle through the graph, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            let mut cycle = path[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in graph.keys() {
        if let Some(c) = visit(n, graph, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn server_modules_import_each_other_without_circles() {
    let graph = server_graph();
    for (m, uses) in &graph {
        eprintln!(
            "{m} -> {}",
            uses.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    // The reading itself works: known edges are seen.
    assert!(graph["rules"].contains("storage"), "{graph:?}");
    assert!(graph["reload"].contains("rules"), "{graph:?}");
    if let Some(c) = find_cycle(&graph) {
        panic!("import circle between modules: {}", c.join(" -> "));
    }
    // Leaves and wiring stay what ARCHITECTURE.md says they are.
    assert!(
        graph["config"].is_empty(),
        "config imports {:?}",
        graph["config"]
    );
    for (m, uses) in &graph {
        if m != "http" && m != "serve" {
            assert!(
                !uses.contains("reload"),
                "{m} imports the reload coordinator"
            );
        }
        assert!(!uses.contains("serve"), "{m} imports serve");
    }
    assert!(!graph["notify"].contains("rules"), "notify imports rules");
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let edge = |g: &mut BTreeMap<String, BTreeSet<String>>, a: &str, b: &str| {
        g.entry(a.into()).or_default().insert(b.into());
    };
    edge(&mut g, "a", "b");
    edge(&mut g, "b", "c");
    assert_eq!(find_cycle(&g), None);
    edge(&mut g, "c", "a");
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn the_agent_library_depends_on_no_server_only_crate() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            "pharos-agent",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(workspace)
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: BTreeSet<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains("pharos-agent") && crates.contains("tokio"),
        "{tree}"
    );
    // (hyper, hyper-util and tower-http are there: reqwest's client side.)
    for forbidden in [
        "rusqlite",
        "axum",
        "lettre",
        "promql-parser",
        "rust-embed",
        "prometheus-client",
        "zstd",
    ] {
        assert!(
            !crates.contains(forbidden),
            "pharos-agent depends on {forbidden}:\n{tree}"
        );
    }
}
