//! Exemplars end to end: pharos scrapes an OpenMetrics target with
//! exemplars (and receives some through remote write), and
//! `/api/v1/query_exemplars` gives them back; the exemplar store's limit is
//! applied on reload. When Debian's Prometheus 2.42 is installed
//! (`tests/run.sh` installs it), the same target is scraped by it with
//! `--enable-feature=exemplar-storage` and every answer is compared byte
//! for byte: the stored exemplars, duplicates and out-of-order ones
//! refused across scrapes, a resize keeping the newest, the selectors a
//! query contributes, and the errors.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pharos_agent::remote::proto;
use pharos_tests::{free_tcp_port, http_server, wait_for, write_v1_to, ChildGuard, Server};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the target exposes: `stage` 0 first, then 1 (newer exemplars),
/// then 2 (no exemplars at all, and a new value to see it was scraped).
/// Exemplars carry timestamps, so both servers store the same ones
/// whenever they scrape — except `nots_total`'s, which takes each
/// server's scrape time (and must still be stored once); `long_total`'s
/// label set is over 128 characters (dropped, the sample kept).
fn body(stage: usize) -> String {
    if stage >= 2 {
        return "# TYPE rq counter\nrq_total{code=\"200\"} 8\n# EOF\n".to_string();
    }
    let long = "x".repeat(130);
    let (rq200, rq500, lat1) = if stage == 0 {
        (
            r#"# {trace_id="abc"} 1.5 1690000000.5"#,
            r#"# {trace_id="def",span_id="x"} 0.25 1690000001"#,
            r#"# {trace_id="t2"} 0.5 1690000002"#,
        )
    } else {
        // A newer exemplar for two series; for rq 500 one older than the
        // stored one: refused as out of order.
        (
            r#"# {trace_id="ghi"} 2 1690000010"#,
            r#"# {trace_id="old"} 0.5 1690000000.75"#,
            r#"# {trace_id="t3"} 0.75 1690000012"#,
        )
    };
    format!(
        "# TYPE rq counter\n# HELP rq Requests.\nrq_total{{code=\"200\"}} 7 {rq200}\nrq_total{{code=\"500\"}} 2 {rq500}\n# TYPE lat histogram\nlat_bucket{{le=\"0.1\"}} 1 # {{trace_id=\"t1\"}} 0.05 1690000000.125\nlat_bucket{{le=\"1\"}} 3 {lat1}\nlat_bucket{{le=\"+Inf\"}} 3\nlat_count 3\nlat_sum 1.2\n# TYPE long counter\nlong_total 1 # {{trace_id=\"{long}\"}} 1 1690000003\n# TYPE nots counter\nnots_total 5 # {{trace_id=\"n\"}} 5\n# EOF\n"
    )
}

/// Serves `body(stage)` at `/metrics` and, at `/bad`, a gauge with an
/// exemplar (Prometheus's parser fails such a scrape).
fn start_target() -> (String, Arc<AtomicUsize>) {
    let stage = Arc::new(AtomicUsize::new(0));
    let s = Arc::clone(&stage);
    let addr = http_server(Arc::new(move |path: &str| {
        let text = if path.starts_with("/bad") {
            "# TYPE g gauge\ng 1 # {trace_id=\"x\"} 1 1690000000\n# EOF\n".to_string()
        } else {
            body(s.load(Ordering::SeqCst))
        };
        ("200 OK", OPENMETRICS, text, Duration::ZERO)
    }));
    (addr, stage)
}

fn config(target: &str, max_exemplars: usize) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nstorage:\n  exemplars:\n    max_exemplars: {max_exemplars}\nscrape_configs:\n  - job_name: om\n    static_configs:\n      - targets: ['{target}']\n  - job_name: bad\n    metrics_path: /bad\n    static_configs:\n      - targets: ['{target}']\n"
    )
}

/// GET; (status, body).
fn get(url: &str) -> (u16, String) {
    let r = reqwest::blocking::get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn post(url: &str) -> (u16, String) {
    let r = reqwest::blocking::Client::new().post(url).send().unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// Percent-encodes a query parameter value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/api/v1/query_exemplars` for a query and a range in seconds.
fn exemplars_path(query: &str, start: &str, end: &str) -> String {
    format!(
        "/api/v1/query_exemplars?query={}&start={start}&end={end}",
        enc(query)
    )
}

/// How many exemplars an answer holds.
fn count(body: &str) -> usize {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["data"].as_array().map_or(0, |a| {
        a.iter()
            .map(|s| s["exemplars"].as_array().unwrap().len())
            .sum()
    })
}

/// The value of an unlabelled sample in a text exposition.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

fn start_prometheus(dir: &Path, config: &str) -> (ChildGuard, String) {
    let port = free_tcp_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(&cfg, config).unwrap();
    let guard = ChildGuard::spawn(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("prom-data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--enable-feature=exemplar-storage")
            .arg("--web.enable-lifecycle")
            .arg("--web.enable-remote-write-receiver")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_for(
        Duration::from_secs(30),
        "Prometheus ready",
        || match reqwest::blocking::get(format!("{base}/-/ready")) {
            Ok(r) if r.status().is_success() => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    (guard, base)
}

/// The queries both servers answer, over the scraped exemplars' range.
const RANGE: (&str, &str) = ("1689999999", "1690000100");
const QUERIES: &[&str] = &[
    "rq_total",
    r#"{__name__=~"rq_total|lat_bucket"}"#,
    r#"sum(rate(rq_total{code="500"}[5m])) / sum by (le) (rate(lat_bucket{le="1"}[5m]))"#,
    r#"topk(1, lat_bucket{le!="+Inf"}) or max_over_time(long_total[1m:10s])"#,
    "up",
];

/// Scraping, the query API, remote write and reload against pharos, each
/// answer compared with Prometheus 2.42's when it is installed.
#[test]
fn scraped_and_remote_written_exemplars_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let (target, stage) = start_target();
    let cfg = dir.path().join("pharos.yml");
    std::fs::write(&cfg, config(&target, 50)).unwrap();
    let pharos = Server::start_with_config(
        &dir.path().join("pharos"),
        &cfg,
        &[
            "--web.enable-lifecycle",
            "--web.enable-remote-write-receiver",
        ],
    );
    let base = pharos.url("").trim_end_matches('/').to_string();
    let prom = Path::new(PROMETHEUS).exists().then(|| {
        let d = dir.path().join("prom");
        std::fs::create_dir_all(&d).unwrap();
        start_prometheus(&d, &config(&target, 50))
    });
    if prom.is_none() {
        eprintln!("{PROMETHEUS} is not installed (tests/run.sh installs it): pharos alone");
    }
    let servers: Vec<&str> = std::iter::once(base.as_str())
        .chain(prom.as_ref().map(|(_, b)| b.as_str()))
        .collect();
    let all = exemplars_path(r#"{__name__=~".+"}"#, RANGE.0, RANGE.1);
    // Both have scraped the target at least twice (so the untimed exemplar
    // has met itself again) once their `up` series has two samples.
    for s in &servers {
        wait_for(Duration::from_secs(30), "two scrapes", || {
            let (_, b) = get(&format!(
                "{s}/api/v1/query?query={}",
                enc("count_over_time(up{job=\"om\"}[1m])")
            ));
            let v: serde_json::Value = serde_json::from_str(&b).map_err(|e| e.to_string())?;
            let n = v["data"]["result"][0]["value"][1]
                .as_str()
                .unwrap_or("0")
                .to_string();
            (n.parse::<f64>().unwrap_or(0.0) >= 2.0)
                .then_some(())
                .ok_or(b)
        });
    }

    // pharos on its own: five exemplars (the oversize one dropped, the
    // untimed one stored once), in Prometheus's JSON.
    let (code, text) = get(&format!(
        "{base}{}",
        exemplars_path("rq_total", RANGE.0, RANGE.1)
    ));
    assert_eq!(code, 200, "{text}");
    let inst = &target;
    assert_eq!(
        text,
        format!(
            r#"{{"status":"success","data":[{{"seriesLabels":{{"__name__":"rq_total","code":"200","instance":"{inst}","job":"om"}},"exemplars":[{{"labels":{{"trace_id":"abc"}},"value":"1.5","timestamp":1690000000.500}}]}},{{"seriesLabels":{{"__name__":"rq_total","code":"500","instance":"{inst}","job":"om"}},"exemplars":[{{"labels":{{"span_id":"x","trace_id":"def"}},"value":"0.25","timestamp":1690000001}}]}}]}}"#
        )
    );
    let (_, text) = get(&format!(
        "{base}{}",
        exemplars_path("nots_total", "0", "9999999999")
    ));
    assert_eq!(
        count(&text),
        1,
        "the untimed exemplar is stored once: {text}"
    );
    let (_, text) = get(&format!("{base}{all}"));
    assert_eq!(count(&text), 4, "{text}");
    let (_, targets) = get(&format!("{base}/api/v1/targets"));
    assert!(
        targets.contains("metric name \\\"g\\\" does not support exemplars"),
        "{targets}"
    );
    let (_, m) = get(&format!("{base}/metrics"));
    assert_eq!(
        metric(&m, "prometheus_tsdb_exemplar_max_exemplars"),
        Some(50.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "prometheus_tsdb_exemplar_exemplars_in_storage"),
        Some(5.0)
    );
    assert_eq!(
        metric(
            &m,
            "prometheus_tsdb_exemplar_series_with_exemplars_in_storage"
        ),
        Some(5.0)
    );
    assert_eq!(
        metric(&m, "prometheus_tsdb_exemplar_exemplars_appended_total"),
        Some(5.0)
    );
    assert_eq!(
        metric(
            &m,
            "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds"
        ),
        Some(1690000000.5)
    );

    let compare = |path: &str| {
        let answers: Vec<(u16, String)> =
            servers.iter().map(|s| get(&format!("{s}{path}"))).collect();
        if let [p, q] = &answers[..] {
            assert_eq!(p, q, "pharos vs Prometheus for {path}");
        }
        answers.into_iter().next().unwrap()
    };
    let compare_error = |path: &str| {
        let answers: Vec<(u16, serde_json::Value)> = servers
            .iter()
            .map(|s| {
                let (c, b) = get(&format!("{s}{path}"));
                (c, serde_json::from_str(&b).unwrap())
            })
            .collect();
        assert_eq!(answers[0].0, 400, "{path}: {:?}", answers[0]);
        assert_eq!(answers[0].1["errorType"], "bad_data");
        if let [p, q] = &answers[..] {
            assert_eq!((p.0, &p.1["errorType"]), (q.0, &q.1["errorType"]), "{path}");
        }
        answers.into_iter().next().unwrap().1
    };
    for q in QUERIES {
        compare(&exemplars_path(q, RANGE.0, RANGE.1));
    }
    // A window inside the range; one that selects nothing; no selector.
    compare(&exemplars_path("lat_bucket", "1690000000.2", "1690000002"));
    assert_eq!(
        compare(&exemplars_path("rq_total", "1700000000", "1700000001")).1,
        r#"{"status":"success","data":[]}"#
    );
    // No selector: Prometheus's handler has no data, its API answers 204.
    assert_eq!(
        compare(&exemplars_path("1 + 1", RANGE.0, RANGE.1)),
        (204, String::new())
    );
    // Errors: the same status and type; the messages of parameter errors
    // are the same text (the parser's own wording may differ).
    for path in [
        exemplars_path("rq_total", "abc", RANGE.1),
        exemplars_path("rq_total", RANGE.1, RANGE.0),
    ] {
        let e = compare_error(&path);
        if let [_, p] = &servers[..] {
            let (_, b) = get(&format!("{p}{path}"));
            let q: serde_json::Value = serde_json::from_str(&b).unwrap();
            assert_eq!(e["error"], q["error"], "{path}");
        }
    }
    compare_error(&exemplars_path("rq_total{", RANGE.0, RANGE.1));
    compare_error(&exemplars_path("", RANGE.0, RANGE.1));
    // POST with a form body answers as GET.
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}/api/v1/query_exemplars"))
        .form(&[("query", "rq_total"), ("start", RANGE.0), ("end", RANGE.1)])
        .send()
        .unwrap();
    assert_eq!(count(&r.text().unwrap()), 2);

    // The target moves on: two newer exemplars stored, an out-of-order one
    // refused, the untimed one still a duplicate.
    stage.store(1, Ordering::SeqCst);
    for s in &servers {
        wait_for(Duration::from_secs(30), "the new exemplars", || {
            let (_, b) = get(&format!("{s}{all}"));
            (count(&b) == 6).then_some(()).ok_or(b)
        });
    }
    // One more scrape each, so a late out-of-order exemplar would show.
    std::thread::sleep(Duration::from_millis(2500));
    for q in QUERIES {
        compare(&exemplars_path(q, RANGE.0, RANGE.1));
    }
    let (_, text) = get(&format!(
        "{base}{}",
        exemplars_path(r#"rq_total{code="500"}"#, RANGE.0, RANGE.1)
    ));
    assert!(text.contains("def") && !text.contains("old"), "{text}");
    let (_, m) = get(&format!("{base}/metrics"));
    assert!(metric(&m, "prometheus_tsdb_exemplar_out_of_order_exemplars_total").unwrap() >= 1.0);

    // Remote write: exemplars of an existing series and of one created by
    // the same request are stored (the 2.42 receiver stores them with
    // exemplar storage on); one of a series storage lacks is not.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let label = |n: &str, v: &str| proto::Label::new(n, v);
    let exemplar = |trace: &str, v: f64, t: i64| proto::Exemplar {
        labels: vec![label("trace_id", trace)],
        value: v,
        timestamp: t,
    };
    let written = vec![
        proto::TimeSeries {
            labels: vec![label("__name__", "rw_total"), label("job", "rw")],
            samples: vec![proto::Sample {
                value: 3.0,
                timestamp: now,
            }],
            exemplars: vec![
                exemplar("w1", 1.0, 1690000020_000),
                exemplar("w2", 2.0, 1690000021_000),
            ],
            ..Default::default()
        },
        proto::TimeSeries {
            labels: vec![label("__name__", "missing_total")],
            exemplars: vec![exemplar("w3", 1.0, 1690000022_000)],
            ..Default::default()
        },
    ];
    for s in &servers {
        let addr = s.trim_start_matches("http://");
        let (code, body) = write_v1_to(addr, written.clone()).unwrap();
        assert_eq!(code, 204, "{s}: {body}");
    }
    let rw = exemplars_path(r#"{__name__=~"rw_total|missing_total"}"#, RANGE.0, RANGE.1);
    let (_, text) = compare(&rw);
    assert_eq!(
        text,
        r#"{"status":"success","data":[{"seriesLabels":{"__name__":"rw_total","job":"rw"},"exemplars":[{"labels":{"trace_id":"w1"},"value":"1","timestamp":1690000020},{"labels":{"trace_id":"w2"},"value":"2","timestamp":1690000021}]}]}"#
    );

    // Reload with room for two: the newest two in the order they came stay.
    // First the target stops exposing exemplars: a series whose exemplars
    // a resize drops takes the next one it is scraped with as new.
    stage.store(2, Ordering::SeqCst);
    for s in &servers {
        wait_for(Duration::from_secs(30), "the exemplar-free scrape", || {
            let (_, b) = get(&format!(
                "{s}/api/v1/query?query={}",
                enc("rq_total{code=\"200\"} == 8")
            ));
            b.contains("\"8\"").then_some(()).ok_or(b)
        });
    }
    std::fs::write(&cfg, config(&target, 2)).unwrap();
    let (code, body) = post(&format!("{base}/-/reload"));
    assert_eq!(code, 200, "{body}");
    if let Some((_, p)) = &prom {
        std::fs::write(dir.path().join("prom/prometheus.yml"), config(&target, 2)).unwrap();
        let (code, body) = post(&format!("{p}/-/reload"));
        assert_eq!(code, 200, "{body}");
    }
    let (_, text) = compare(&all);
    assert_eq!(count(&text), 2, "{text}");
    assert!(text.contains("w1") && text.contains("w2"), "{text}");
    let (_, m) = get(&format!("{base}/metrics"));
    assert_eq!(
        metric(&m, "prometheus_tsdb_exemplar_max_exemplars"),
        Some(2.0)
    );
    assert_eq!(
        metric(&m, "prometheus_tsdb_exemplar_exemplars_in_storage"),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &m,
            "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds"
        ),
        Some(1690000020.0)
    );
    // 0 disables: nothing is answered, nothing stored.
    std::fs::write(&cfg, config(&target, 0)).unwrap();
    assert_eq!(post(&format!("{base}/-/reload")).0, 200);
    let (_, text) = get(&format!("{base}{all}"));
    assert_eq!(text, r#"{"status":"success","data":[]}"#);
}
