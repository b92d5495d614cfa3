//! pharos as a data source for a real Prometheus (Debian's 2.42): its
//! `remote_read` reads pharos's `/api/v1/read`, and a scrape job reads
//! pharos's `/federate`. Both must give Prometheus exactly what pharos
//! stored. Also the remote-read endpoint's answers to bad requests.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pharos_agent::remote::proto;
use pharos_tests::{free_tcp_port, series, snappy, wait_for, write_v1, ChildGuard, Server};
use prost::Message;

const PROMETHEUS: &str = "/usr/bin/prometheus";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn prometheus_json(port: u16, path_and_query: &str) -> serde_json::Value {
    let url = format!("http://127.0.0.1:{port}{path_and_query}");
    let out = Command::new("curl")
        .args(["-sf", "-g", &url])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn start_prometheus(dir: &Path, config: &str) -> (ChildGuard, u16) {
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
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    );
    wait_for(Duration::from_secs(30), "Prometheus ready", || {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{port}/-/ready")])
            .output()
            .map_err(|e| e.to_string())?;
        out.status
            .success()
            .then_some(())
            .ok_or("not ready".to_string())
    });
    (guard, port)
}

#[test]
fn prometheus_reads_pharos_through_remote_read_and_federation() {
    if !Path::new(PROMETHEUS).exists() {
        eprintln!("skipping: {PROMETHEUS} is not installed (tests/run.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pharos = Server::start(&dir.path().join("pharos"));
    let t = now_ms() - 60_000;
    let (status, body) = write_v1(
        &pharos,
        vec![
            series(
                &[("__name__", "room_temperature"), ("room", "lab")],
                &[(t - 30_000, 20.5), (t, 21.25)],
            ),
            series(
                &[("__name__", "room_temperature"), ("room", "hall")],
                &[(t, 18.0)],
            ),
            series(&[("__name__", "other_metric"), ("x", "1")], &[(t, 1e6)]),
        ],
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");

    // The federation endpoint itself: text format, newest sample each.
    let (code, text) = pharos.get_text("/federate?match[]=room_temperature");
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        text,
        format!(
            "# TYPE room_temperature untyped\nroom_temperature{{room=\"hall\"}} 18 {t}\nroom_temperature{{room=\"lab\"}} 21.25 {t}\n"
        )
    );
    let (code, _) = pharos.get_text("/federate");
    assert_eq!(code, 400, "federate without match[] is refused");

    let pharos_addr = pharos
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let (_prom, port) = start_prometheus(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nremote_read:\n  - url: http://{pharos_addr}/api/v1/read\n    read_recent: true\nscrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n    params:\n      'match[]': ['other_metric']\n    static_configs:\n      - targets: ['{pharos_addr}']\n"
        ),
    );

    // Remote read: Prometheus has none of these samples itself.
    let v = wait_for(Duration::from_secs(20), "remote read answer", || {
        let v = prometheus_json(
            port,
            &format!(
                "/api/v1/query?query=room_temperature&time={}",
                t as f64 / 1000.0
            ),
        );
        if v["data"]["result"].as_array().is_some_and(|r| r.len() == 2) {
            Ok(v)
        } else {
            Err(format!("{v}"))
        }
    });
    let mut got: Vec<(String, String)> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"]["room"].as_str().unwrap().to_string(),
                r["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![("hall".into(), "18".into()), ("lab".into(), "21.25".into())]
    );
    // Raw samples over a range come through too.
    let v = prometheus_json(
        port,
        &format!(
            "/api/v1/query?query=room_temperature{{room=\"lab\"}}[5m]&time={}",
            t as f64 / 1000.0
        ),
    );
    let values = v["data"]["result"][0]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(values.len(), 2, "{v}");
    assert_eq!(values[0][1], "20.5");

    // Federation: Prometheus scrapes the newest sample with its labels.
    let v = wait_for(Duration::from_secs(20), "federated sample", || {
        let v = prometheus_json(port, "/api/v1/query?query=other_metric{job=\"federate\"}");
        if v["data"]["result"].as_array().is_some_and(|r| r.len() == 1) {
            Ok(v)
        } else {
            Err(format!("{v}"))
        }
    });
    assert_eq!(v["data"]["result"][0]["metric"]["x"], "1");
    assert_eq!(v["data"]["result"][0]["value"][1], "1000000");
}

#[test]
fn remote_read_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir.path().join("data"));
    let post = |body: Vec<u8>| -> (u16, String) {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code}",
                "-H",
                "Content-Type: application/x-protobuf",
                "-H",
                "Content-Encoding: snappy",
                "--data-binary",
                "@-",
                &s.url("/api/v1/read"),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(&body)?;
                c.wait_with_output()
            })
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.parse().unwrap(), body.to_string())
    };
    let (code, msg) = post(b"not snappy".to_vec());
    assert_eq!(code, 400);
    assert!(msg.contains("snappy"), "{msg}");
    let (code, _) = post(snappy(b"\xff\xff\xff garbage protobuf"));
    assert_eq!(code, 400);
    let req = proto::ReadRequest {
        queries: vec![proto::Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: now_ms(),
            matchers: vec![proto::LabelMatcher {
                r#type: 2,
                name: "__name__".into(),
                value: "(".into(),
            }],
            hints: None,
        }],
        accepted_response_types: vec![],
    };
    let (code, msg) = post(snappy(&req.encode_to_vec()));
    assert_eq!(code, 400);
    assert!(msg.contains("regular expression"), "{msg}");
    let only_chunks = proto::ReadRequest {
        queries: vec![],
        accepted_response_types: vec![1],
    };
    let (code, msg) = post(snappy(&only_chunks.encode_to_vec()));
    assert_eq!(code, 400);
    assert!(msg.contains("response types"), "{msg}");
    assert!(s.get_text("/-/healthy").0 == 200);
}

#[test]
fn federation_adds_external_labels_a_series_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pharos.yml");
    std::fs::write(
        &config,
        "global:\n  external_labels:\n    site: lab\n    room: default\nscrape_configs: []\n",
    )
    .unwrap();
    let s = pharos_tests::Server::start_with_config(
        &dir.path().join("data"),
        &config,
        &["--collector.host=false", "--collector.self=false"],
    );
    let t = now_ms() - 10_000;
    let (status, body) = write_v1(
        &s,
        vec![series(
            &[("__name__", "door_open"), ("room", "hall")],
            &[(t, 1.0)],
        )],
    )
    .unwrap();
    assert_eq!(status, 204, "{body}");
    let (code, text) = s.get_text("/federate?match[]=door_open");
    assert_eq!(code, 200, "{text}");
    // `site` is added; the series' own `room` wins over the external one.
    assert_eq!(
        text,
        format!("# TYPE door_open untyped\ndoor_open{{room=\"hall\",site=\"lab\"}} 1 {t}\n")
    );
}
