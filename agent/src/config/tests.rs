//! Unit tests of the shared sections' loader against hand-written
//! configs (Prometheus's own fixtures, `conf.good.yml` among them, are
//! loaded through the server's loader: `server/src/config/tests.rs` and
//! `server/tests/prometheus_config.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn load(text: &str) -> Result<Loaded, ConfigErrors> {
    load_str(text, "test.yml", Path::new("/etc/pharos"))
}

#[test]
fn defaults_and_inheritance() {
    let c = load("").unwrap().config;
    assert_eq!(c.global.scrape_interval, Duration::from_secs(60));
    assert_eq!(c.global.scrape_timeout, Duration::from_secs(10));
    assert_eq!(c.global.evaluation_interval, Duration::from_secs(60));
    assert_eq!(c.global.metric_name_validation_scheme, "utf8");

    let c = load(
        "global:\n  scrape_interval: 5s\n  sample_limit: 7\nscrape_configs:\n  - job_name: a\n",
    )
    .unwrap()
    .config;
    let a = &c.scrape_configs[0];
    assert_eq!(a.scrape_interval, Duration::from_secs(5));
    // The 10s default timeout is capped at the interval, as in Prometheus.
    assert_eq!(a.scrape_timeout, Duration::from_secs(5));
    assert_eq!(a.sample_limit, 7);
    assert_eq!(a.metrics_path, "/metrics");
    assert!(a.honor_timestamps);
    assert!(!a.honor_labels);
    assert_eq!(a.metric_name_escaping_scheme, "allow-utf-8");
}

#[test]
fn legacy_bearer_token_is_folded_into_authorization() {
    let c = load(
        "scrape_configs:\n  - job_name: a\n    bearer_token: tok\n  - job_name: b\n    bearer_token_file: tok.txt\n",
    )
    .unwrap()
    .config;
    let a = c.scrape_configs[0].http.authorization.as_ref().unwrap();
    assert_eq!(a.kind, "Bearer");
    assert_eq!(a.credentials.as_ref().unwrap().expose(), "tok");
    let b = c.scrape_configs[1].http.authorization.as_ref().unwrap();
    assert_eq!(
        b.credentials_file,
        Some(PathBuf::from("/etc/pharos/tok.txt"))
    );
}

#[test]
fn server_sections_are_unknown_keys_here() {
    let e = load("rule_files: [a.yml]\nalerting: {}\n").unwrap_err();
    assert_eq!(e.0.len(), 2, "{e}");
    assert!(e.0[0].message.contains("unknown key \"rule_files\""), "{e}");
}

#[test]
fn error_points_at_the_offending_key() {
    let e = load("scrape_configs:\n  - job_name: a\n\n    foo: 1\n").unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].line, Some(4));
    assert_eq!(e.0[0].file, "test.yml");
    assert!(
        e.0[0]
            .message
            .contains("unknown key \"foo\" in scrape config"),
        "{e}"
    );
    assert!(e.to_string().starts_with("test.yml:4: "), "{e}");

    let e =
        load("scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 6s\n")
            .unwrap_err();
    assert_eq!(e.0[0].line, Some(4), "{e}");
    assert!(e.0[0]
        .message
        .contains("scrape timeout greater than scrape interval"));
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = "\
global:
  scrape_interval: 1x
scrape_configs:
  - job_name: a
    scrape_interval: nope
  - job_name: b
    relabel_configs:
      - action: hashmod
        target_label: t
remote_write:
  - name: w
";
    let e = load(text).unwrap_err();
    let lines: Vec<Option<usize>> = e.0.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(2), Some(5), Some(8), Some(11)], "{e}");
    assert_eq!(e.to_string().lines().count(), 4);
}

#[test]
fn secrets_are_redacted_in_debug() {
    let c = load("scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: hunter2\n")
        .unwrap()
        .config;
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("hunter2"));
    assert!(dbg.contains("<secret>"));
}

#[test]
fn yaml_syntax_error_has_a_line() {
    let e = load("global:\n  scrape_interval: [1\n").unwrap_err();
    assert!(e.0[0].line.is_some());
    assert!(e.0[0].message.contains("YAML syntax error"), "{e}");
}
