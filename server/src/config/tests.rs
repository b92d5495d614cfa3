//! The server's loader against Prometheus's `conf.good.yml` and its
//! `scrape_config_files` fixtures (the whole fixture table is
//! `server/tests/prometheus_config.rs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use pharos_agent::config::{
    QueueConfig, ScrapeConfig, DEFAULT_SCRAPE_PROTOCOLS, PROTO_FIRST_SCRAPE_PROTOCOLS,
};
use pharos_agent::relabel::Action;

use super::*;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/prometheus-config")
}

fn job<'a>(c: &'a pharos_agent::config::Config, name: &str) -> &'a ScrapeConfig {
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
    let a = &c.agent;
    let secs = Duration::from_secs;

    assert_eq!(a.global.scrape_interval, secs(15));
    assert_eq!(a.global.scrape_timeout, secs(10));
    assert_eq!(a.global.evaluation_interval, secs(30));
    assert_eq!(a.global.body_size_limit, 15 << 20);
    assert_eq!(a.global.sample_limit, 1500);
    assert_eq!(a.global.target_limit, 30);
    assert_eq!(
        a.global.external_labels,
        vec![
            ("foo".into(), "bar".into()),
            ("monitor".into(), "codelab".into())
        ]
    );
    assert_eq!(a.global.query_log_file, Some(dir.join("query.log")));
    assert_eq!(c.runtime.gogc, Some(42));
    assert_eq!(
        c.rule_files,
        vec![dir.join("first.rules"), dir.join("my/*.rules")]
    );

    let p = job(a, "prometheus");
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

    let x = job(a, "service-x");
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

    let z = job(a, "service-z");
    let auth = z.http.authorization.as_ref().unwrap();
    assert_eq!(auth.credentials.as_ref().unwrap().expose(), "mysecret");
    assert_eq!(
        z.http.tls_config.cert_file,
        Some(dir.join("valid_cert_file"))
    );

    assert!(!job(a, "badfederation").honor_timestamps);
    assert_eq!(
        job(a, "service-kubernetes").unsupported_sd,
        ["kubernetes_sd_configs"]
    );
    assert!(loaded.warnings.iter().any(|w| w
        == "job \"service-kubernetes\": kubernetes_sd_configs is not supported by pharos; its targets will not be discovered"));
    for url in a.remote_write.iter().map(|r| &r.url) {
        let want = format!("remote_write {url:?}: sending samples to remote storage is not supported by pharos yet; this entry is ignored");
        assert!(loaded.warnings.contains(&want), "{want}");
    }
    assert!(!a.remote_write.is_empty() && !c.remote_read.is_empty());
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.starts_with("remote_read ") && w.ends_with("at /api/v1/read)")));
    assert!(job(a, "hetzner").scrape_native_histograms);
    assert_eq!(
        job(a, "hetzner").scrape_protocols,
        PROTO_FIRST_SCRAPE_PROTOCOLS
    );

    assert_eq!(a.remote_write.len(), 2);
    assert_eq!(a.remote_write[0].name.as_deref(), Some("drop_expensive"));
    assert_eq!(
        a.remote_write[0].write_relabel_configs[0].action,
        Action::Drop
    );
    assert_eq!(
        a.remote_write[0].http.oauth2.as_ref().unwrap().client_id,
        "123"
    );
    assert_eq!(
        a.remote_write[1].protobuf_message,
        "io.prometheus.write.v2.Request"
    );
    assert_eq!(a.remote_write[1].queue_config, QueueConfig::default());
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
fn duplicate_jobs_and_scrape_config_files() {
    let dir = testdata();
    let e = load_file(&dir.join("scrape_config_files_duplicate.bad.yml")).unwrap_err();
    assert!(e
        .to_string()
        .contains("found multiple scrape configs with job name \"prometheus\""));
    let c = load_file(&dir.join("scrape_config_files_glob.good.yml"))
        .unwrap()
        .config
        .agent;
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
fn shared_and_server_sections_in_one_file() {
    let text = "global:\n  evaluation_interval: 7s\nrule_files: [r/*.yml]\nscrape_configs:\n  - job_name: a\nalerting:\n  alertmanagers:\n    - static_configs: [{targets: ['am:9093']}]\n";
    let c = load_str(text, "p.yml", Path::new("/etc/pharos"))
        .unwrap()
        .config;
    assert_eq!(c.agent.global.evaluation_interval, Duration::from_secs(7));
    assert_eq!(c.rule_files, [PathBuf::from("/etc/pharos/r/*.yml")]);
    assert_eq!(c.agent.scrape_configs[0].job_name, "a");
    assert_eq!(
        c.alerting.alertmanagers[0].static_configs[0].targets,
        ["am:9093"]
    );
    // Problems in both kinds of sections are listed together, in order.
    let e = load_str("rule_files: ['a/*/b']\nscrape_configs:\n  - job_name: a\n    nope: 1\nstorage: {tsdb: {x: 1}}\n", "p.yml", Path::new(""))
        .unwrap_err();
    let lines: Vec<_> = e.0.iter().map(|e| e.line).collect();
    assert_eq!(lines, [Some(1), Some(4), Some(5)], "{e}");
}
