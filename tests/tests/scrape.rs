//! The scrape engine against real targets, end to end: the real
//! `prometheus-node-exporter` and an app instrumented with the real
//! `prometheus_client` (OpenMetrics with exemplars); targets that fail in
//! every way Prometheus distinguishes (timeout, HTTP 500, oversize body,
//! unparsable body, sample and label limits) and whose scrapes must leave
//! nothing but `up=0` and stale markers behind; reloads (SIGHUP,
//! `POST /-/reload` with a broken file, file_sd rewrites); `pharos check
//! config`; scraping over TLS (CA bundles, client certificates,
//! `server_name`, `insecure_skip_verify`) against Python's OpenSSL server;
//! `oauth2` client credentials against a token server;
//! and the host collectors' run-time switches.
//!
//! Every job scrapes every second and every wait is a poll with a
//! deadline. Spawned processes sit in [`ChildGuard`]s and [`Server`]s, so
//! a failing assertion leaves nothing running.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pharos_tests::{
    free_tcp_port, http_server, make_certificates, pharos_bin, wait_for, write_atomic, ChildGuard,
    Server,
};
use serde_json::Value;

/// The series every target gets from its scrape loop.
const REPORT: [&str; 5] = [
    "scrape_duration_seconds",
    "scrape_samples_post_metric_relabeling",
    "scrape_samples_scraped",
    "scrape_series_added",
    "up",
];

/// How long a target may take to show the effect of a change: a few 1 s
/// intervals, plus slack for a loaded 2-core machine.
const FEW_INTERVALS: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// `/api/v1/series?match[]=selector`: the label sets.
fn series(s: &Server, selector: &str) -> Vec<Value> {
    let (st, body) = s.get_json_query("/api/v1/series", &[("match[]", selector)]);
    assert_eq!(st, 200, "series {selector}: {body}");
    body["data"].as_array().cloned().unwrap_or_default()
}

/// The metric names of the series matching `selector`.
fn names(s: &Server, selector: &str) -> BTreeSet<String> {
    series(s, selector)
        .iter()
        .filter_map(|l| l["__name__"].as_str().map(str::to_string))
        .collect()
}

/// The active targets of a job, from `/api/v1/targets`.
fn targets(s: &Server, job: &str) -> Vec<Value> {
    let (st, body) = s.get_json("/api/v1/targets");
    assert_eq!(st, 200, "targets: {body}");
    body["data"]["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .filter(|t| t["labels"]["job"] == job)
        .cloned()
        .collect()
}

/// The single active target of a job.
fn target(s: &Server, job: &str) -> Result<Value, String> {
    let t = targets(s, job);
    match t.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(format!("{} targets for job {job}: {t:?}", t.len())),
    }
}

/// Waits until the job's only target has been scraped and has `health`;
/// returns it.
fn wait_health(s: &Server, job: &str, health: &str) -> Value {
    wait_for(FEW_INTERVALS, &format!("job {job} {health}"), || {
        let t = target(s, job)?;
        if t["health"] == health {
            Ok(t)
        } else {
            Err(t.to_string())
        }
    })
}

/// The last stored value of every series matching `selector`.
fn last_values(s: &Server, selector: &str) -> Vec<(Value, f64)> {
    s.export(selector)
        .into_iter()
        .filter_map(|(labels, samples)| samples.last().map(|&(_, v)| (labels, v)))
        .collect()
}

/// Asserts that `selector` matches some series and that each one's last
/// stored sample is a stale marker (the export shows it as "NaN").
fn assert_all_stale(s: &Server, selector: &str) {
    let last = last_values(s, selector);
    assert!(!last.is_empty(), "no series match {selector}");
    for (labels, v) in last {
        assert!(v.is_nan(), "{labels} ends with {v}, not a stale marker");
    }
}

/// Waits until every series matching `selector` ends with a stale marker.
fn wait_all_stale(s: &Server, selector: &str) {
    wait_for(
        FEW_INTERVALS,
        &format!("stale markers on {selector}"),
        || {
            let last = last_values(s, selector);
            match last.iter().find(|(_, v)| !v.is_nan()) {
                None if !last.is_empty() => Ok(()),
                None => Err("no series".into()),
                Some((l, v)) => Err(format!("{l} ends with {v}")),
            }
        },
    );
}

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A target serving `reload_metric 1` at /metrics.
fn simple_target() -> String {
    http_server(Arc::new(|_: &str| {
        (
            "200 OK",
            TEXT,
            "# HELP reload_metric A metric.\n# TYPE reload_metric gauge\nreload_metric 1\n".into(),
            Duration::ZERO,
        )
    }))
}

// ---------------------------------------------------------------------------
// 1. Interop with real exporters
// ---------------------------------------------------------------------------

/// pharos scrapes the real node_exporter and a real prometheus_client app
/// (OpenMetrics, exemplars, all four metric types); killing the app takes
/// its target down and marks its series stale.
#[test]
fn scrapes_node_exporter_and_prometheus_client_app() {
    let node_exporter = Path::new("/usr/bin/prometheus-node-exporter");
    assert!(
        node_exporter.exists(),
        "install prometheus-node-exporter (tests/run.sh does)"
    );
    let dir = tempfile::tempdir().unwrap();
    let node_port = free_tcp_port();
    let _node = ChildGuard::spawn(
        Command::new(node_exporter)
            .arg(format!("--web.listen-address=127.0.0.1:{node_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let app_port = free_tcp_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/instrumented_app.py");
    // Debian's python3-prometheus-client lives in the system Python.
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let mut app = ChildGuard::spawn(
        Command::new(python)
            .arg(&script)
            .arg(app_port.to_string())
            .stdout(Stdio::null()),
    );
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n\
             \x20 - job_name: node_exporter\n    static_configs:\n      - targets: ['127.0.0.1:{node_port}']\n\
             \x20 - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:{app_port}']\n"
        ),
    )
    .unwrap();
    let s = Server::start_with_config(&dir.path().join("data"), &config, &[]);
    let t0 = Instant::now();

    let node = wait_health(&s, "node_exporter", "up");
    let node_instance = format!("127.0.0.1:{node_port}");
    assert_eq!(node["labels"]["instance"], node_instance.as_str());
    assert_eq!(
        node["scrapeUrl"],
        format!("http://127.0.0.1:{node_port}/metrics").as_str()
    );
    assert_eq!(node["lastError"], "");
    let app_t = wait_health(&s, "app", "up");
    let app_instance = format!("127.0.0.1:{app_port}");
    assert_eq!(app_t["labels"]["instance"], app_instance.as_str());
    assert_eq!(
        app_t["discoveredLabels"]["__address__"],
        app_instance.as_str()
    );

    // node_exporter's series, with the target's labels.
    let cpu = series(&s, "node_cpu_seconds_total");
    assert!(!cpu.is_empty(), "node_cpu_seconds_total was stored");
    for l in &cpu {
        assert_eq!(l["job"], "node_exporter", "{l}");
        assert_eq!(l["instance"], node_instance.as_str(), "{l}");
        assert!(l["cpu"].is_string() && l["mode"].is_string(), "{l}");
    }
    let node_names = names(&s, r#"{job="node_exporter"}"#);
    for want in [
        "node_memory_MemTotal_bytes",
        "node_load1",
        "node_exporter_build_info",
    ] {
        assert!(node_names.contains(want), "{want} missing: {node_names:?}");
    }
    for want in REPORT {
        assert!(
            node_names.contains(want),
            "{want} missing for node_exporter"
        );
    }

    // The app's series: counter with _total, histogram buckets with le,
    // _sum and _count, summary quantiles.
    let app_names = names(&s, r#"{job="app"}"#);
    for want in [
        "app_requests_total",
        "app_in_flight",
        "app_request_duration_seconds_bucket",
        "app_request_duration_seconds_sum",
        "app_request_duration_seconds_count",
        "app_rpc_duration_seconds",
        "app_rpc_duration_seconds_sum",
        "app_rpc_duration_seconds_count",
    ] {
        assert!(app_names.contains(want), "{want} missing: {app_names:?}");
    }
    let counter = series(&s, r#"app_requests_total{job="app"}"#);
    assert_eq!(counter.len(), 1, "{counter:?}");
    assert_eq!(counter[0]["path"], "/api");
    assert_eq!(counter[0]["instance"], app_instance.as_str());
    let les: BTreeSet<String> = series(&s, "app_request_duration_seconds_bucket")
        .iter()
        .map(|l| l["le"].as_str().unwrap_or("<none>").to_string())
        .collect();
    // OpenMetrics writes `le` canonically ("1.0"); Prometheus 3 stores it
    // normalised the same way, so both spellings of one are fine.
    assert!(
        les.contains("0.1") && les.contains("0.5") && les.contains("+Inf"),
        "{les:?}"
    );
    assert!(les.contains("1.0") || les.contains("1"), "{les:?}");
    let quantiles: BTreeSet<String> = series(&s, r#"app_rpc_duration_seconds{job="app"}"#)
        .iter()
        .map(|l| l["quantile"].as_str().unwrap_or("<none>").to_string())
        .collect();
    assert_eq!(
        quantiles,
        ["0.5", "0.9", "0.99"].map(String::from).into(),
        "summary quantiles"
    );
    // The values are the app's: the counter only grows, and exemplars did
    // not leak into values (a bucket count is a whole number).
    let counts = s.export(r#"app_requests_total{job="app"}"#);
    let vals: Vec<f64> = counts[0].1.iter().map(|&(_, v)| v).collect();
    assert!(
        vals.windows(2).all(|w| w[0] <= w[1]) && vals[0] >= 1.0,
        "{vals:?}"
    );
    for (l, v) in last_values(&s, "app_request_duration_seconds_bucket") {
        assert!(v >= 0.0 && v.fract() == 0.0, "{l} = {v}");
    }

    // Metadata from the app's HELP and TYPE lines.
    let (st, meta) = s.get_json("/api/v1/metadata");
    assert_eq!(st, 200);
    let entry = |family: &str| -> Value {
        meta["data"][family]
            .as_array()
            .and_then(|a| a.first().cloned())
            .unwrap_or_else(|| panic!("no metadata for {family}: {}", meta["data"]))
    };
    let m = entry("app_requests");
    assert_eq!(m["type"], "counter");
    assert_eq!(m["help"], "Requests handled by the app.");
    assert_eq!(entry("app_in_flight")["type"], "gauge");
    let h = entry("app_request_duration_seconds");
    assert_eq!(h["type"], "histogram");
    assert_eq!(h["help"], "Request latency.");
    let sm = entry("app_rpc_duration_seconds");
    assert_eq!(sm["type"], "summary");
    assert_eq!(sm["help"], "RPC latency, a summary with quantiles.");
    assert_eq!(entry("node_load1")["type"], "gauge");
    let (st, tm) = s.get_json_query(
        "/api/v1/targets/metadata",
        &[
            ("match_target", r#"{job="app"}"#),
            ("metric", "app_in_flight"),
        ],
    );
    assert_eq!(st, 200);
    assert_eq!(tm["data"][0]["help"], "Requests in flight.", "{tm}");
    assert_eq!(tm["data"][0]["target"]["instance"], app_instance.as_str());
    eprintln!("interop: both targets scraped in {:?}", t0.elapsed());

    // The app dies: its target goes down with a connection error, up is 0
    // and every series it had ends with a stale marker.
    app.kill();
    let down = wait_health(&s, "app", "down");
    let err = down["lastError"].as_str().unwrap();
    assert!(
        err.starts_with(&format!("Get \"http://{app_instance}/metrics\": "))
            && err.to_ascii_lowercase().contains("connection refused"),
        "lastError: {err}"
    );
    let up = last_values(&s, r#"up{job="app"}"#);
    assert_eq!(up.len(), 1);
    assert_eq!(up[0].1, 0.0, "up for the dead app");
    assert_all_stale(&s, r#"{job="app",__name__=~"app_.+"}"#);
    // node_exporter is untouched.
    assert_eq!(target(&s, "node_exporter").unwrap()["health"], "up");
    assert_eq!(last_values(&s, r#"up{job="node_exporter"}"#)[0].1, 1.0);
    eprintln!("interop: done in {:?}", t0.elapsed());
}

/// Scrapes over TLS against Python's (OpenSSL's) server, which requires a
/// client certificate: the CA bundle, the client certificate,
/// `server_name` for a target addressed by IP, and `insecure_skip_verify`
/// all work as in Prometheus, and each way of getting TLS wrong takes its
/// target down with the reason in `lastError`.
#[test]
fn scrapes_over_tls_with_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    make_certificates(certs);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tls_target.py");
    let serve = |port: u16, extra: &[&str]| {
        ChildGuard::spawn(
            Command::new("python3")
                .arg(&script)
                .arg(port.to_string())
                .args(["server.crt", "server.key", "ca.crt"])
                .args(extra)
                .current_dir(certs)
                .stdout(Stdio::null()),
        )
    };
    // `port` speaks TLS 1.2 and 1.3, `port13` only 1.3.
    let (port, port13) = (free_tcp_port(), free_tcp_port());
    let _target = serve(port, &[]);
    let _target13 = serve(port13, &["tls13"]);
    // Listening before the first scrape, so every error below is TLS's.
    for p in [port, port13] {
        wait_for(FEW_INTERVALS, &format!("the TLS target on {p}"), || {
            std::net::TcpStream::connect(("127.0.0.1", p))
                .map(drop)
                .map_err(|e| e.to_string())
        });
    }
    let path = |f: &str| certs.join(f).display().to_string();
    let (ca, cert, key) = (path("ca.crt"), path("client.crt"), path("client.key"));
    let job_on = |port: u16, name: &str, tls: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n{tls}    \
             static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        )
    };
    let job = |name: &str, tls: &str| job_on(port, name, tls);
    let verified = format!("      ca_file: {ca}\n      server_name: metrics.internal\n");
    let client = format!("      cert_file: {cert}\n      key_file: {key}\n");
    let config = dir.path().join("prometheus.yml");
    let jobs = [
        job(
            "tls_ok",
            &format!("      ca_file: {ca}\n      server_name: metrics.internal\n{client}"),
        ),
        job("tls_wrong_name", &format!("      ca_file: {ca}\n{client}")),
        job(
            "tls_system_roots",
            &format!("      server_name: metrics.internal\n{client}"),
        ),
        job(
            "tls_no_client_cert",
            &format!("      ca_file: {ca}\n      server_name: metrics.internal\n"),
        ),
        job(
            "tls_insecure",
            &format!("      insecure_skip_verify: true\n{client}"),
        ),
        job_on(
            port13,
            "tls_1_3_only",
            &format!("{verified}      min_version: TLS13\n{client}"),
        ),
        job_on(
            port13,
            "tls_1_2_only",
            &format!("{verified}      max_version: TLS12\n{client}"),
        ),
    ];
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}",
            jobs.concat()
        ),
    )
    .unwrap();
    let s = Server::start_with_config(&dir.path().join("data"), &config, &[]);

    // With server_name the handshake names it (SNI), as Go's does, while
    // the request still carries the target's own host; an IP address
    // target without one names nothing.
    for (job, p, sni) in [
        ("tls_ok", port, Some("metrics.internal")),
        ("tls_insecure", port, None),
        ("tls_1_3_only", port13, Some("metrics.internal")),
    ] {
        let t = wait_health(&s, job, "up");
        assert!(
            t["scrapeUrl"]
                .as_str()
                .unwrap()
                .starts_with("https://127.0.0.1:"),
            "{t}"
        );
        assert_eq!(t["lastError"], "", "{job}");
        let labels = wait_for(
            FEW_INTERVALS,
            &format!("{job}'s sample"),
            || match last_values(&s, &format!(r#"tls_target_up{{job="{job}"}}"#)).as_slice() {
                [(labels, v)] if *v == 1.0 => Ok(labels.clone()),
                other => Err(format!("{other:?}")),
            },
        );
        assert_eq!(labels["host"], format!("127.0.0.1:{p}"), "{job}: {labels}");
        assert_eq!(labels["sni"].as_str(), sni, "{job}: {labels}");
    }
    let error_of = |job: &str| {
        let t = wait_health(&s, job, "down");
        t["lastError"].as_str().unwrap().to_string()
    };
    let wrong_name = error_of("tls_wrong_name");
    assert!(
        wrong_name.contains("certificate") && wrong_name.contains("127.0.0.1"),
        "a certificate for metrics.internal is not valid for 127.0.0.1: {wrong_name}"
    );
    // ca_file was not given: the test CA is in no system store.
    let unknown = error_of("tls_system_roots");
    assert!(
        unknown.contains("UnknownIssuer") || unknown.contains("no CA certificates"),
        "{unknown}"
    );
    let no_cert = error_of("tls_no_client_cert");
    assert!(
        no_cert.to_ascii_lowercase().contains("certificate"),
        "the server's alert is named: {no_cert}"
    );
    let old_version = error_of("tls_1_2_only");
    assert!(
        old_version.contains("ProtocolVersion"),
        "a TLS 1.2 client against a TLS 1.3 server: {old_version}"
    );
    eprintln!("tls: wrong name: {wrong_name}\ntls: unknown CA: {unknown}\ntls: no client certificate: {no_cert}\ntls: TLS 1.2 only: {old_version}");
    for job in [
        "tls_wrong_name",
        "tls_system_roots",
        "tls_no_client_cert",
        "tls_1_2_only",
    ] {
        assert_eq!(last_values(&s, &format!(r#"up{{job="{job}"}}"#))[0].1, 0.0);
        assert!(s
            .export(&format!(r#"tls_target_up{{job="{job}"}}"#))
            .is_empty());
    }
}

/// A job with `oauth2` fetches one token (client credentials, basic auth,
/// scopes) from a real token server and scrapes with it, reusing it; a job
/// whose secret the token server refuses is down with the token server's
/// answer in `lastError`.
#[test]
fn scrapes_with_oauth2_client_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/oauth2_target.py");
    let _server = ChildGuard::spawn(
        Command::new("python3")
            .arg(&script)
            .args([&port.to_string(), "pharos client", "s&cret/1"])
            .stdout(Stdio::null()),
    );
    wait_for(FEW_INTERVALS, "the token server", || {
        std::net::TcpStream::connect(("127.0.0.1", port))
            .map(drop)
            .map_err(|e| e.to_string())
    });
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, "s&cret/1\n").unwrap();
    let job = |name: &str, secret: &str| {
        format!(
            "  - job_name: {name}\n    oauth2:\n      client_id: pharos client\n{secret}      \
             token_url: http://127.0.0.1:{port}/token\n      scopes: [metrics]\n    \
             static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        )
    };
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}",
            job(
                "oauth_ok",
                &format!("      client_secret_file: {}\n", secret_file.display())
            ),
            job("oauth_refused", "      client_secret: wrong\n"),
        ),
    )
    .unwrap();
    let s = Server::start_with_config(&dir.path().join("data"), &config, &[]);
    wait_health(&s, "oauth_ok", "up");
    // Several scrapes later the first token is still the one in use.
    let scrapes = |s: &Server| s.export(r#"up{job="oauth_ok"}"#)[0].1.len();
    let first = scrapes(&s);
    wait_for(FEW_INTERVALS, "three more scrapes", || {
        if scrapes(&s) >= first + 3 {
            Ok(())
        } else {
            Err(format!("{} scrapes", scrapes(&s)))
        }
    });
    assert_eq!(target(&s, "oauth_ok").unwrap()["health"], "up");
    let issued = s.export(r#"oauth2_tokens_issued{job="oauth_ok"}"#);
    assert_eq!(issued.len(), 1);
    assert!(
        issued[0].1.iter().all(|&(_, v)| v == 1.0),
        "one token for every scrape: {:?}",
        issued[0].1
    );
    let refused = wait_health(&s, "oauth_refused", "down");
    let err = refused["lastError"].as_str().unwrap();
    assert!(
        err.starts_with(&format!(
            "oauth2: cannot fetch token from http://127.0.0.1:{port}/token: 401 Unauthorized"
        )) && err.contains("invalid_client"),
        "lastError: {err}"
    );
    assert!(s
        .export(r#"oauth2_tokens_issued{job="oauth_refused"}"#)
        .is_empty());
}

// ---------------------------------------------------------------------------
// 2. Targets that fail
// ---------------------------------------------------------------------------

/// One server for every bad target, each at its own path.
fn bad_targets(flaky_fails: Arc<AtomicBool>) -> String {
    http_server(Arc::new(move |path: &str| {
        let ok = |body: String| ("200 OK", TEXT, body, Duration::ZERO);
        match path {
            "/good" => ok("# HELP good_metric Good.\n# TYPE good_metric gauge\ngood_metric 42\n".into()),
            // Longer than the 1 s scrape timeout.
            "/slow" => ("200 OK", TEXT, "slow_metric 1\n".into(), Duration::from_secs(3)),
            "/error500" => (
                "500 Internal Server Error",
                TEXT,
                "error500_metric 1\n".into(),
                Duration::ZERO,
            ),
            // 4 KiB of valid lines against a 1 KiB limit.
            "/oversize" => ok((0..200).map(|i| format!("oversize_metric{{i=\"{i:03}\"}} 1\n")).collect()),
            // Three valid lines, then a broken one.
            "/malformed" => ok("malformed_ok_a 1\nmalformed_ok_b 2\nmalformed_ok_c 3\nmalformed_broken{x=\"1\" 4\n".into()),
            // Ten samples against a limit of five.
            "/toomany" => ok((0..10).map(|i| format!("toomany_metric{{i=\"{i}\"}} {i}\n")).collect()),
            // Seven labels (with __name__, job, instance) against four.
            "/labels" => ok("labels_ok 1\nlabels_metric{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1\n".into()),
            "/flaky" if flaky_fails.load(Ordering::SeqCst) => (
                "500 Internal Server Error",
                TEXT,
                "flaky_metric{k=\"a\"} 1\n".into(),
                Duration::ZERO,
            ),
            "/flaky" => ok("flaky_metric{k=\"a\"} 1\nflaky_metric{k=\"b\"} 2\n".into()),
            _ => ("404 Not Found", TEXT, "not found\n".into(), Duration::ZERO),
        }
    }))
}

/// Every failure Prometheus distinguishes makes the target down with its
/// precise error and stores nothing of the body — not even the valid lines
/// before a broken one; a good target beside them is unaffected; a target
/// that starts failing gets stale markers for its series.
#[test]
fn failed_scrapes_store_nothing_and_say_why() {
    let flaky_fails = Arc::new(AtomicBool::new(false));
    let addr = bad_targets(Arc::clone(&flaky_fails));
    let dir = tempfile::tempdir().unwrap();
    let job = |name: &str, extra: &str| {
        format!(
            "  - job_name: {name}\n    metrics_path: /{name}\n{extra}    static_configs:\n      - targets: ['{addr}']\n"
        )
    };
    let config = dir.path().join("prometheus.yml");
    let yaml = [
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  scrape_failure_log_file: {}\nscrape_configs:\n",
            dir.path().join("failures.log").display()
        ),
        job("good", ""),
        job("slow", ""),
        job("error500", ""),
        job("oversize", "    body_size_limit: 1KB\n"),
        job("malformed", ""),
        job("toomany", "    sample_limit: 5\n"),
        job("labels", "    label_limit: 4\n"),
        job("flaky", ""),
    ]
    .concat();
    std::fs::write(&config, yaml).unwrap();
    let s = Server::start_with_config(&dir.path().join("data"), &config, &[]);
    let t0 = Instant::now();

    let url = |job: &str| format!("http://{addr}/{job}");
    let expected: [(&str, String); 6] = [
        (
            "slow",
            format!(
                "Get \"{}\": context deadline exceeded (scrape timeout 1s)",
                url("slow")
            ),
        ),
        (
            "error500",
            "server returned HTTP status 500 Internal Server Error".into(),
        ),
        (
            "oversize",
            "body size limit exceeded (limit: 1024 bytes)".into(),
        ),
        ("malformed", "line 4: ".into()),
        ("toomany", "sample limit exceeded".into()),
        (
            "labels",
            "label_limit exceeded (metric: labels_metric".into(),
        ),
    ];
    for (job, want) in &expected {
        let t = wait_health(&s, job, "down");
        let err = t["lastError"].as_str().unwrap();
        eprintln!("bad targets: {job}: {err}");
        assert!(
            err.starts_with(want.as_str()),
            "job {job}: lastError {err:?}, want it to start with {want:?}"
        );
        assert_eq!(t["scrapeUrl"], url(job).as_str());
    }
    let good = wait_health(&s, "good", "up");
    assert_eq!(good["lastError"], "");
    wait_health(&s, "flaky", "up");
    eprintln!("bad targets: all scraped in {:?}", t0.elapsed());

    // Let each bad target fail a few more times (the slow one included),
    // then look at what was stored.
    wait_for(
        FEW_INTERVALS,
        "three failed scrapes of each bad target",
        || {
            for (job, _) in &expected {
                let n = s
                    .export(&format!(r#"up{{job="{job}"}}"#))
                    .first()
                    .map_or(0, |(_, v)| v.len());
                if n < 3 {
                    return Err(format!("{job}: {n} scrapes"));
                }
            }
            Ok(())
        },
    );
    // The limit counters the Prometheus mixin's alerts read.
    let (_, metrics) = s.get_text("/metrics");
    for name in [
        "prometheus_target_scrapes_exceeded_sample_limit_total",
        "prometheus_target_scrapes_exceeded_body_size_limit_total",
        "prometheus_target_scrape_pool_exceeded_label_limits_total",
    ] {
        let v: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {name} in /metrics"));
        assert!(v >= 3.0, "{name} = {v}: each limit failed three scrapes");
    }
    // Fetch failures, and only those, went to scrape_failure_log_file as
    // Prometheus writes it: one JSON object per line.
    let log = std::fs::read_to_string(dir.path().join("failures.log")).unwrap();
    let mut logged: BTreeSet<String> = BTreeSet::new();
    for line in log.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let job = v["job_name"].as_str().unwrap().to_string();
        assert_eq!(v["level"], "ERROR", "{line}");
        assert_eq!(v["target"], url(&job).as_str(), "{line}");
        let want = &expected.iter().find(|(j, _)| *j == job).unwrap().1;
        assert!(
            v["msg"].as_str().unwrap().starts_with(want.as_str()),
            "{line}"
        );
        logged.insert(job);
    }
    assert_eq!(
        logged,
        ["error500", "oversize", "slow"].map(String::from).into(),
        "parse and limit errors are not fetch failures: {log}"
    );
    let report: BTreeSet<String> = REPORT.iter().map(|s| s.to_string()).collect();
    for (job, _) in &expected {
        let stored = names(&s, &format!(r#"{{job="{job}"}}"#));
        assert_eq!(
            stored, report,
            "job {job}: only the report series are stored"
        );
        for (labels, samples) in s.export(&format!(r#"up{{job="{job}"}}"#)) {
            assert!(
                samples.iter().all(|&(_, v)| v == 0.0),
                "{labels}: {samples:?}"
            );
        }
        for (labels, samples) in s.export(&format!(r#"scrape_samples_scraped{{job="{job}"}}"#)) {
            assert!(
                samples.iter().all(|&(_, v)| v == 0.0),
                "{labels}: {samples:?}"
            );
        }
    }
    for name in [
        "slow_metric",
        "error500_metric",
        "oversize_metric",
        "malformed_ok_a",
        "malformed_ok_b",
        "malformed_ok_c",
        "toomany_metric",
        "labels_ok",
        "labels_metric",
    ] {
        assert!(series(&s, name).is_empty(), "{name} must not be stored");
    }
    // The good target is up with its data and exact report values.
    assert_eq!(last_values(&s, r#"good_metric{job="good"}"#)[0].1, 42.0);
    assert_eq!(last_values(&s, r#"up{job="good"}"#)[0].1, 1.0);
    assert_eq!(
        last_values(&s, r#"scrape_samples_scraped{job="good"}"#)[0].1,
        1.0
    );
    assert_eq!(
        last_values(&s, r#"scrape_samples_post_metric_relabeling{job="good"}"#)[0].1,
        1.0
    );
    let added = s.export(r#"scrape_series_added{job="good"}"#);
    assert_eq!(added[0].1[0].1, 1.0, "the first scrape added good_metric");
    assert_eq!(
        added[0].1.last().unwrap().1,
        0.0,
        "later scrapes add nothing"
    );

    // The flaky target worked; now it returns 500: down, and both its
    // series end with stale markers.
    assert_eq!(
        last_values(&s, r#"flaky_metric{job="flaky"}"#)
            .iter()
            .map(|(_, v)| *v)
            .collect::<Vec<_>>(),
        [1.0, 2.0]
    );
    flaky_fails.store(true, Ordering::SeqCst);
    let t = wait_health(&s, "flaky", "down");
    assert_eq!(
        t["lastError"],
        "server returned HTTP status 500 Internal Server Error"
    );
    assert_all_stale(&s, r#"flaky_metric{job="flaky"}"#);
    assert_eq!(series(&s, r#"flaky_metric{job="flaky"}"#).len(), 2);
    assert_eq!(last_values(&s, r#"up{job="flaky"}"#)[0].1, 0.0);
    // The good target never noticed.
    assert_eq!(target(&s, "good").unwrap()["health"], "up");
    eprintln!("bad targets: done in {:?}", t0.elapsed());
}

// ---------------------------------------------------------------------------
// 3. Reload and file_sd
// ---------------------------------------------------------------------------

/// SIGHUP applies a new job; a broken file is refused by `POST /-/reload`
/// with its error while the old configuration keeps scraping; file_sd
/// rewrites change targets without a reload, and a removed target's series
/// (`up` included) get stale markers.
#[test]
fn reload_sighup_bad_config_and_file_sd() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (simple_target(), simple_target());
    let (f1, f2, f3) = (simple_target(), simple_target(), simple_target());
    let sd_file = dir.path().join("targets.json");
    // The second group is dropped by relabeling: it must show up in
    // droppedTargets, never scraped.
    let sd = |targets: &[&str]| {
        serde_json::json!([
            {"targets": targets, "labels": {"team": "x"}},
            {"targets": ["127.0.0.1:1"], "labels": {"team": "drop-me"}},
        ])
        .to_string()
    };
    write_atomic(&sd_file, &sd(&[&f1, &f2]));
    let config = dir.path().join("prometheus.yml");
    let v1 = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
         \x20 - job_name: a\n    static_configs:\n      - targets: ['{a}']\n\
         \x20 - job_name: fsd\n    file_sd_configs:\n      - files: ['{}']\n\
         \x20   relabel_configs:\n      - source_labels: [team]\n        regex: drop-me\n        action: drop\n",
        sd_file.display()
    );
    write_atomic(&config, &v1);
    let s = Server::start_with_config(
        &dir.path().join("data"),
        &config,
        &["--web.enable-lifecycle"],
    );
    let t0 = Instant::now();
    wait_health(&s, "a", "up");
    let instances = |job: &str| -> BTreeSet<String> {
        targets(&s, job)
            .iter()
            .map(|t| t["labels"]["instance"].as_str().unwrap().to_string())
            .collect()
    };
    let set = |xs: &[&String]| -> BTreeSet<String> { xs.iter().map(|x| x.to_string()).collect() };
    assert_eq!(instances("fsd"), set(&[&f1, &f2]));
    let fsd = targets(&s, "fsd");
    assert!(fsd.iter().all(|t| t["labels"]["team"] == "x"), "{fsd:?}");
    assert!(
        fsd.iter()
            .all(|t| t["discoveredLabels"]["__meta_filepath"] == sd_file.to_str().unwrap()),
        "{fsd:?}"
    );
    assert!(targets(&s, "b").is_empty());
    let (_, all) = s.get_json("/api/v1/targets?state=dropped");
    let dropped = all["data"]["droppedTargets"].as_array().unwrap();
    assert_eq!(dropped.len(), 1, "{all}");
    assert_eq!(dropped[0]["scrapePool"], "fsd");
    assert_eq!(dropped[0]["discoveredLabels"]["__address__"], "127.0.0.1:1");
    assert_eq!(dropped[0]["discoveredLabels"]["team"], "drop-me");
    assert_eq!(
        all["data"]["activeTargets"],
        Value::Array(vec![]),
        "state=dropped"
    );

    // SIGHUP with a new job.
    let v2 = format!("{v1}  - job_name: b\n    static_configs:\n      - targets: ['{b}']\n");
    write_atomic(&config, &v2);
    s.signal(libc::SIGHUP);
    wait_health(&s, "b", "up");
    let b_names = names(&s, r#"{job="b"}"#);
    assert!(b_names.contains("reload_metric"), "{b_names:?}");
    eprintln!("reload: SIGHUP applied after {:?}", t0.elapsed());

    // A broken file: refused with its error, the old jobs keep scraping.
    let broken = format!("{v2}  - job_name: c\n    scrape_interval: soon\n    static_configs:\n      - targets: ['{b}']\n");
    write_atomic(&config, &broken);
    let (st, body) = s.post("/-/reload");
    assert_eq!(st, 500, "reload of a broken config: {body}");
    let bad_line = broken.lines().position(|l| l.contains("soon")).unwrap() + 1;
    assert!(
        body.contains(&format!("{}:{bad_line}", config.display())) && body.contains("soon"),
        "the error names file:line and the bad value: {body}"
    );
    assert!(targets(&s, "c").is_empty());
    // The pools are the running config's jobs, as /api/v1/scrape_pools
    // lists them.
    let (st, pools) = s.get_json("/api/v1/scrape_pools");
    assert_eq!(st, 200);
    assert_eq!(
        pools["data"]["scrapePools"],
        serde_json::json!(["a", "b", "fsd"])
    );
    let ups = |job: &str| {
        s.export(&format!(r#"up{{job="{job}"}}"#))
            .first()
            .map_or(0, |(_, v)| v.len())
    };
    let (na, nb) = (ups("a"), ups("b"));
    wait_for(
        FEW_INTERVALS,
        "jobs a and b scraping after the refused reload",
        || {
            if ups("a") >= na + 2 && ups("b") >= nb + 2 {
                Ok(())
            } else {
                Err(format!("a {na}→{}, b {nb}→{}", ups("a"), ups("b")))
            }
        },
    );
    assert_eq!(target(&s, "a").unwrap()["health"], "up");
    assert_eq!(target(&s, "b").unwrap()["health"], "up");
    assert_eq!(instances("fsd").len(), 2);

    // file_sd: f2 leaves, f3 arrives, no reload. (Written first: the
    // file is polled every few seconds, and the SIGHUP below leaves the
    // fsd job untouched.)
    write_atomic(&sd_file, &sd(&[&f1, &f3]));

    // SIGHUP with job b removed again: its target goes, and its series
    // (`up` included) end with stale markers.
    write_atomic(&config, &v1);
    s.signal(libc::SIGHUP);
    wait_for(FEW_INTERVALS, "job b to be removed", || {
        let t = targets(&s, "b");
        t.is_empty().then_some(()).ok_or(format!("{t:?}"))
    });
    wait_all_stale(&s, r#"{job="b"}"#);
    let b_names = names(&s, r#"{job="b"}"#);
    assert!(
        b_names.is_superset(&REPORT.iter().map(|n| n.to_string()).collect()),
        "{b_names:?}"
    );
    assert_eq!(target(&s, "a").unwrap()["health"], "up");
    eprintln!("reload: job b removed after {:?}", t0.elapsed());

    wait_for(Duration::from_secs(15), "file_sd to swap f2 for f3", || {
        let got = instances("fsd");
        if got == set(&[&f1, &f3]) {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    });
    eprintln!("reload: file_sd change seen after {:?}", t0.elapsed());
    wait_health_instance(&s, "fsd", &f3);
    // The removed target's series, `up` and the other report series
    // included, get stale markers about one interval later.
    wait_all_stale(&s, &format!(r#"{{job="fsd",instance="{f2}"}}"#));
    let gone = names(&s, &format!(r#"{{job="fsd",instance="{f2}"}}"#));
    assert!(
        gone.contains("up") && gone.contains("reload_metric"),
        "{gone:?}"
    );
    // f1 kept scraping throughout.
    assert_eq!(
        last_values(&s, &format!(r#"up{{job="fsd",instance="{f1}"}}"#))[0].1,
        1.0
    );

    // Reloads that change job a, as Prometheus handles them. A new
    // timeout does not change what is stored: the target goes on without
    // a single stale marker.
    let job_a = format!("  - job_name: a\n    static_configs:\n      - targets: ['{a}']\n");
    assert!(v1.contains(&job_a));
    let nans = |selector: &str| -> usize {
        s.export(selector)
            .iter()
            .map(|(_, samples)| samples.iter().filter(|(_, v)| v.is_nan()).count())
            .sum()
    };
    let v3 = v1.replace(&job_a, &format!("{job_a}    scrape_timeout: 900ms\n"));
    write_atomic(&config, &v3);
    s.signal(libc::SIGHUP);
    wait_for(FEW_INTERVALS, "job a's new timeout", || {
        let t = target(&s, "a")?;
        (t["scrapeTimeout"] == "900ms")
            .then_some(())
            .ok_or(t.to_string())
    });
    let n = ups("a");
    wait_for(FEW_INTERVALS, "three more scrapes of a", || {
        (ups("a") >= n + 3)
            .then_some(())
            .ok_or(format!("{}", ups("a")))
    });
    assert_eq!(
        nans(r#"{job="a"}"#),
        0,
        "no stale marker after a timeout change"
    );
    // New metric relabeling: reload_metric is dropped from now on and goes
    // stale; the series the new loop keeps writing refuse the old loop's
    // end-of-run markers (they are older than its samples), so `up` shows
    // no gap.
    let v4 = v3.replace(
        "    scrape_timeout: 900ms\n",
        "    scrape_timeout: 900ms\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: reload_metric\n        action: drop\n",
    );
    write_atomic(&config, &v4);
    s.signal(libc::SIGHUP);
    wait_all_stale(&s, r#"reload_metric{job="a"}"#);
    let n = ups("a");
    wait_for(FEW_INTERVALS, "two more scrapes of a", || {
        (ups("a") >= n + 2)
            .then_some(())
            .ok_or(format!("{}", ups("a")))
    });
    assert_eq!(
        nans(r#"up{job="a"}"#),
        0,
        "up{{job=\"a\"}} has no stale marker"
    );
    assert_eq!(last_values(&s, r#"up{job="a"}"#)[0].1, 1.0);
    assert_eq!(
        last_values(&s, r#"scrape_samples_post_metric_relabeling{job="a"}"#)[0].1,
        0.0
    );
    eprintln!("reload: done in {:?}", t0.elapsed());
}

/// Waits until the job's target at `instance` is up.
fn wait_health_instance(s: &Server, job: &str, instance: &str) {
    wait_for(FEW_INTERVALS, &format!("{job}/{instance} up"), || {
        let t = targets(s, job);
        if t.iter()
            .any(|t| t["labels"]["instance"] == instance && t["health"] == "up")
        {
            Ok(())
        } else {
            Err(format!("{t:?}"))
        }
    });
}

// ---------------------------------------------------------------------------
// 4. pharos check config
// ---------------------------------------------------------------------------

#[test]
fn check_config_lists_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['localhost:9100']\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n\
         \x20 - job_name: a\n\
         \x20   static_configs:\n\
         \x20     - targets: ['localhost:1']\n\
         \x20   nope_key: 3\n\
         \x20 - job_name: b\n\
         \x20   scrape_interval: 5x\n\
         \x20   static_configs:\n\
         \x20     - targets: ['localhost:2']\n",
    )
    .unwrap();
    let run = |files: &[&Path]| {
        let out = Command::new(pharos_bin())
            .args(["check", "config"])
            .args(files)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = run(&[&good]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("SUCCESS"), "{out}");

    let (code, out) = run(&[&bad]);
    assert_eq!(code, Some(1), "{out}");
    let b = bad.display();
    let line7 = out
        .lines()
        .find(|l| l.contains(&format!("{b}:7")))
        .unwrap_or_else(|| panic!("no error at {b}:7 in:\n{out}"));
    assert!(line7.contains("nope_key"), "{line7}");
    let line9 = out
        .lines()
        .find(|l| l.contains(&format!("{b}:9")))
        .unwrap_or_else(|| panic!("no error at {b}:9 in:\n{out}"));
    assert!(line9.contains("5x"), "{line9}");

    // Both files at once: the bad one fails the run, the good one is
    // still reported as fine.
    let (code, out) = run(&[&good, &bad]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("SUCCESS") && out.contains("nope_key"), "{out}");
}

// ---------------------------------------------------------------------------
// 5. Host collectors
// ---------------------------------------------------------------------------

/// The built-in configuration scrapes the host collector as job="node";
/// collectors switch off and on at run time; unknown names are a 400 with
/// the API's error envelope.
#[test]
fn host_collectors_switch_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with(&dir.path().join("data"), &["--collector.self=false"]);
    let t0 = Instant::now();

    let (st, text) = s.get_text("/node/metrics");
    assert_eq!(st, 200);
    assert!(text.contains("node_cpu_seconds_total{"), "cpu on at start");
    let (st, list) = s.get_json("/api/v1/collectors");
    assert_eq!(st, 200);
    let cpu_on = |list: &Value| {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "cpu")
            .map(|c| c["enabled"].clone())
    };
    assert_eq!(cpu_on(&list), Some(Value::Bool(true)), "{list}");

    let (st, body) = s.post("/api/v1/collectors/cpu?enabled=false");
    assert_eq!(st, 200, "{body}");
    let (_, text) = s.get_text("/node/metrics");
    assert!(!text.contains("node_cpu_seconds_total"), "cpu switched off");
    assert!(
        text.contains("node_memory_MemTotal_bytes"),
        "others still on"
    );
    let (_, text) = s.get_text("/node/metrics?collect[]=cpu");
    assert!(
        !text.contains("node_cpu_seconds_total"),
        "collect[] cannot revive cpu"
    );
    let (_, list) = s.get_json("/api/v1/collectors");
    assert_eq!(cpu_on(&list), Some(Value::Bool(false)), "{list}");

    let (st, body) = s.post("/api/v1/collectors/no_such_collector?enabled=false");
    assert_eq!(st, 400, "{body}");
    let err: Value = serde_json::from_str(&body).expect("JSON error envelope");
    assert_eq!(err["status"], "error", "{err}");
    assert_eq!(err["errorType"], "bad_data", "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap_or("")
            .contains("no_such_collector"),
        "{err}"
    );

    let (st, _) = s.post("/api/v1/collectors/cpu?enabled=true");
    assert_eq!(st, 200);
    let (_, text) = s.get_text("/node/metrics?collect[]=cpu");
    assert!(text.contains("node_cpu_seconds_total{"), "cpu back on");
    assert!(
        !text.contains("node_memory_MemTotal_bytes"),
        "collect[] selects"
    );

    // The built-in config scrapes it every 15 s at the target's slot in the
    // interval: the first scrape comes within 15 s.
    wait_for(Duration::from_secs(20), "job=\"node\" series", || {
        let n = names(&s, r#"{job="node"}"#);
        if n.contains("up") && n.contains("node_memory_MemTotal_bytes") {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    });
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let up = series(&s, r#"up{job="node"}"#);
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0]["instance"], host.as_str());
    assert_eq!(last_values(&s, r#"up{job="node"}"#)[0].1, 1.0);
    assert!(targets(&s, "pharos").is_empty(), "--collector.self=false");
    eprintln!("collectors: done in {:?}", t0.elapsed());
}
