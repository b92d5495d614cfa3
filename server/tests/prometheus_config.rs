//! Runs the config loader over Prometheus's own config fixtures
//! (`tests/testdata/prometheus-config/`, see its SOURCES.md): every `error`
//! row of EXPECTATIONS.tsv must fail with a message containing the expected
//! text, and every `*.good.yml` must load.

use std::path::{Path, PathBuf};

use pharos::config::load_file;

/// Fixture rows pharos does not reproduce, with the reason. The table test
/// fails if one of these starts passing (so the list stays honest) or if a
/// row not listed here fails.
const KNOWN_GAPS: &[(&str, &str)] = &[];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/prometheus-config")
}

/// (file, expected substring) for every `error` row.
fn error_rows() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir().join("EXPECTATIONS.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols.get(1) == Some(&"error")).then(|| {
                let mut want = cols.get(2).copied().unwrap_or("").replace("\\n", "\n");
                // Prometheus prefixes some messages with the Go-relative
                // path of the file ("parsing YAML file testdata/x.yml: ");
                // pharos prefixes every message with file:line instead.
                let prefix = format!("parsing YAML file testdata/{}: ", cols[0]);
                if let Some(rest) = want.strip_prefix(&prefix) {
                    want = rest.to_string();
                }
                // `\xff` stays as written: it is how Go (and pharos) quote
                // an invalid UTF-8 byte in messages.
                (cols[0].to_string(), want)
            })
        })
        .collect()
}

#[test]
fn every_error_fixture_fails_with_the_expected_message() {
    let rows = error_rows();
    assert!(
        rows.len() > 100,
        "EXPECTATIONS.tsv has {} error rows",
        rows.len()
    );
    let mut unexpected = Vec::new();
    let mut gaps_passing = Vec::new();
    let mut passed = 0;
    for (file, want) in &rows {
        let outcome = match load_file(&dir().join(file)) {
            Ok(_) => Err("loaded without error".to_string()),
            Err(e) => {
                let text = e.to_string();
                if text.contains(want.as_str()) {
                    Ok(())
                } else {
                    Err(format!("got:\n{text}"))
                }
            }
        };
        let is_gap = KNOWN_GAPS.iter().any(|(f, _)| f == file);
        match (outcome, is_gap) {
            (Ok(()), false) => passed += 1,
            (Ok(()), true) => gaps_passing.push(file.clone()),
            (Err(_), true) => {}
            (Err(why), false) => unexpected.push(format!("{file}: want {want:?}\n{why}")),
        }
    }
    eprintln!("{passed}/{} error fixtures pass", rows.len());
    assert!(
        unexpected.is_empty(),
        "{} fixtures failed:\n\n{}",
        unexpected.len(),
        unexpected.join("\n\n")
    );
    assert!(
        gaps_passing.is_empty(),
        "listed in KNOWN_GAPS but now passing: {gaps_passing:?}"
    );
}

#[test]
fn every_good_fixture_loads() {
    let mut files: Vec<PathBuf> = Vec::new();
    for d in [dir(), dir().join("scrape_configs")] {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.to_string_lossy().ends_with(".good.yml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() > 50, "found {} good fixtures", files.len());
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = load_file(f) {
            failures.push(format!("{}:\n{e}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} good fixtures failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
