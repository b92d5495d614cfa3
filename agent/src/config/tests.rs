//! Unit tests of the loader against hand-written configs and against
//! Prometheus's `conf.good.yml` (the fixture table lives in
//! `agent/tests/prometheus_config.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::relabel::Action;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/prometheus-config")
}

fn load(text: &str) -> Result<Loaded, ConfigErrors> {
    load_str(text, "test.yml", Path::new("/etc/pharos"))
}

fn job<'a>(c: &'a Config, name: &str) -> &'a ScrapeConfig {
    c.scrape_configs
        .iter()
        .find(|j| j.job_name == name)
        .unwrap_or_else(|| panic!("no job {name}"))
}

#[test]
fn conf_good_values() {
    let dir = testdata();
    let loaded = load_file(&dir.join("conf.good.yml")).unwrap();
    let c = &loaded.config;
    let secs = Duration::from_secs;

    assert_eq!(c.global.scrape_interval, secs(15));
    assert_eq!(c.global.scrape_timeout, secs(10));
    assert_eq!(c.global.evaluation_interval, secs(30));
    assert_eq!(c.global.body_size_limit, 15 << 20);
    assert_eq!(c.global.sample_limit, 1500);
    assert_eq!(c.global.target_limit, 30);
    assert_eq!(
        c.global.external_labels,
        vec![
            ("foo".into(), "bar".into()),
            ("monitor".into(), "codelab".into())
        ]
    );
    assert_eq!(c.global.query_log_file, Some(dir.join("query.log")));
    assert_eq!(c.runtime.gogc, Some(42));
    assert_eq!(
        c.rule_files,
        vec![dir.join("first.rules"), dir.join("my/*.rules")]
    );

    let p = job(c, "prometheus");
    assert_eq!(p.scrape_interval, secs(15), "inherited from global");
    assert_eq!(p.scrape_timeout, secs(10));
    assert!(p.honor_labels);
    assert!(p.honor_timestamps);
    assert_eq!(p.metrics_path, "/metrics");
    assert_eq!(p.scheme, "http");
    assert_eq!(p.sample_limit, 1500, "limit inherited from global");
    assert_eq!(p.body_size_limit, 15 << 20);
    assert_eq!(
        p.fallback_scrape_protocol.as_deref(),
        Some("PrometheusText0.0.4")
    );
    assert_eq!(p.scrape_protocols, DEFAULT_SCRAPE_PROTOCOLS);
    assert_eq!(p.file_sd_configs.len(), 2);
    assert_eq!(
        p.file_sd_configs[0].files,
        vec![
            dir.join("foo/*.slow.json"),
            dir.join("foo/*.slow.yml"),
            dir.join("single/file.yml")
        ]
    );
    assert_eq!(p.file_sd_configs[0].refresh_interval, secs(600));
    assert_eq!(
        p.file_sd_configs[1].refresh_interval,
        secs(300),
        "default 5m"
    );
    assert_eq!(p.static_configs.len(), 1);
    assert_eq!(
        p.static_configs[0].targets,
        ["localhost:9090", "localhost:9191"]
    );
    assert_eq!(p.static_configs[0].labels["my"], "label");
    assert_eq!(p.static_configs[0].source, "0");
    assert_eq!(p.relabel_configs.len(), 6);
    let r0 = &p.relabel_configs[0];
    assert_eq!(r0.source_labels, ["job", "__meta_dns_name"]);
    assert_eq!(r0.regex.as_str(), "(.*)some-[regex]");
    assert_eq!(r0.target_label, "job");
    assert_eq!(r0.replacement, "foo-${1}");
    assert_eq!(r0.action, Action::Replace);
    assert_eq!(
        p.relabel_configs[3].regex.as_str(),
        "",
        "explicit null regex"
    );
    assert_eq!(p.relabel_configs[4].action, Action::KeepEqual);
    let auth = p.http.authorization.as_ref().unwrap();
    assert_eq!(auth.kind, "Bearer");
    assert_eq!(auth.credentials_file, Some(dir.join("valid_token_file")));
    assert_eq!(p.http.tls_config.min_version.as_deref(), Some("TLS10"));
    assert!(p.http.follow_redirects && p.http.enable_http2);
    assert_eq!(
        p.http.http_headers["foo"].files,
        vec![dir.join("valid_password_file")]
    );

    let x = job(c, "service-x");
    assert_eq!(x.scrape_interval, secs(50));
    assert_eq!(x.scrape_timeout, secs(5));
    assert_eq!(x.scrape_protocols, ["PrometheusText0.0.4"]);
    assert_eq!(x.body_size_limit, 10 << 20);
    assert_eq!(x.sample_limit, 1000);
    assert_eq!(x.label_name_length_limit, 210);
    assert_eq!(x.metrics_path, "/my_path");
    assert_eq!(x.scheme, "https");
    let basic = x.http.basic_auth.as_ref().unwrap();
    assert_eq!(basic.username, "admin_name");
    assert_eq!(
        basic.password.as_ref().unwrap().expose(),
        "multiline\nmysecret\ntest"
    );
    assert_eq!(x.relabel_configs[1].action, Action::HashMod);
    assert_eq!(x.relabel_configs[1].modulus, 8);
    assert_eq!(x.metric_relabel_configs.len(), 1);
    assert_eq!(x.unsupported_sd, ["dns_sd_configs"]);

    let z = job(c, "service-z");
    let auth = z.http.authorization.as_ref().unwrap();
    assert_eq!(auth.credentials.as_ref().unwrap().expose(), "mysecret");
    assert_eq!(
        z.http.tls_config.cert_file,
        Some(dir.join("valid_cert_file"))
    );

    assert!(!job(c, "badfederation").honor_timestamps);
    assert_eq!(
        job(c, "service-kubernetes").unsupported_sd,
        ["kubernetes_sd_configs"]
    );
    assert!(loaded.warnings.iter().any(|w| w
        == "job \"service-kubernetes\": kubernetes_sd_configs is not supported by pharos; its targets will not be discovered"));
    for url in c.remote_write.iter().map(|r| &r.url) {
        let want = format!("remote_write {url:?}: sending samples to remote storage is not supported by pharos yet; this entry is ignored");
        assert!(loaded.warnings.contains(&want), "{want}");
    }
    assert!(!c.remote_write.is_empty() && !c.remote_read.is_empty());
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.starts_with("remote_read ") && w.ends_with("at /api/v1/read)")));
    assert!(job(c, "hetzner").scrape_native_histograms);
    assert_eq!(
        job(c, "hetzner").scrape_protocols,
        PROTO_FIRST_SCRAPE_PROTOCOLS
    );

    assert_eq!(c.remote_write.len(), 2);
    assert_eq!(c.remote_write[0].name.as_deref(), Some("drop_expensive"));
    assert_eq!(
        c.remote_write[0].write_relabel_configs[0].action,
        Action::Drop
    );
    assert_eq!(
        c.remote_write[0].http.oauth2.as_ref().unwrap().client_id,
        "123"
    );
    assert_eq!(
        c.remote_write[1].protobuf_message,
        "io.prometheus.write.v2.Request"
    );
    assert_eq!(c.remote_write[1].queue_config, QueueConfig::default());
    assert_eq!(c.remote_read.len(), 2);
    assert!(!c.remote_read[0].http.enable_http2);
    assert_eq!(c.remote_read[1].required_matchers["job"], "special");
    assert_eq!(c.alerting.alertmanagers[0].scheme, "https");
    assert_eq!(c.alerting.alertmanagers[0].timeout, secs(10));
    assert_eq!(
        c.alerting.alertmanagers[0].static_configs[0].targets.len(),
        3
    );
    let tsdb = c.storage.tsdb.as_ref().unwrap();
    assert_eq!(tsdb.out_of_order_time_window, secs(1800));
    assert_eq!(tsdb.retention_time, Some(secs(86400)));
    assert_eq!(tsdb.retention_size, Some(1 << 30));
    assert_eq!(c.tracing.as_ref().unwrap().endpoint, "localhost:4317");
    assert_eq!(c.otlp.promote_resource_attributes.len(), 3);
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
fn duplicate_jobs_and_scrape_config_files() {
    let dir = testdata();
    let e = load_file(&dir.join("scrape_config_files_duplicate.bad.yml")).unwrap_err();
    assert!(e
        .to_string()
        .contains("found multiple scrape configs with job name \"prometheus\""));
    let c = load_file(&dir.join("scrape_config_files_glob.good.yml"))
        .unwrap()
        .config;
    let names: Vec<&str> = c
        .scrape_configs
        .iter()
        .map(|j| j.job_name.as_str())
        .collect();
    assert_eq!(names, ["prometheus", "node"]);
    // Paths in an included file resolve against that file's directory.
    assert_eq!(
        c.scrape_configs[1].http.tls_config.cert_file,
        Some(dir.join("scrape_configs").join("../valid_cert_file"))
    );
    let e = load_file(&dir.join("scrape_config_files_global.bad.yml")).unwrap_err();
    assert!(
        e.to_string()
            .contains("scrape timeout greater than scrape interval"),
        "{e}"
    );
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
