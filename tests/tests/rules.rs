//! Rules end to end: the real binary scrapes a target, evaluates recording
//! and alerting rules on what it scraped, and shows them through
//! `/api/v1/rules`, `/api/v1/alerts` and the `ALERTS` series; a broken rule
//! file is refused with `file:line` and the running rules stay; an edited
//! rule file is picked up without a reload; a restart keeps a firing
//! alert's start; `pharos check rules` exits 0/1 with every error.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pharos_tests::{http_server, pharos_bin, wait_for, write_atomic, Server};

/// Polls `ok` until it holds or [`WAIT`] passes.
fn until(what: &str, mut ok: impl FnMut() -> bool) {
    wait_for(WAIT, what, || {
        if ok() {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    });
}
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// A target serving `room_temperature{room="lab"}` with a value the test
/// sets.
fn thermometer(temp: Arc<AtomicU64>) -> String {
    http_server(Arc::new(move |_: &str| {
        let t = f64::from_bits(temp.load(Ordering::Relaxed));
        (
            "200 OK",
            "text/plain; version=0.0.4",
            format!("# TYPE room_temperature gauge\nroom_temperature{{room=\"lab\"}} {t}\n"),
            Duration::ZERO,
        )
    }))
}

const RULES: &str = r#"groups:
- name: temperature
  interval: 1s
  rules:
  - record: room:temperature:max
    expr: max by (room) (room_temperature)
  - alert: RoomTooHot
    expr: room:temperature:max > 25
    for: 2s
    labels:
      severity: warning
    annotations:
      summary: 'Room {{ $labels.room }} is at {{ $value }} degrees'
      hint: '{{ $value | humanize }} on {{ $externalLabels.site }}'
"#;

fn config(dir: &Path, target: &str) -> std::path::PathBuf {
    let path = dir.join("prometheus.yml");
    std::fs::write(
        &path,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels:\n    site: hq\n\
             rule_files:\n  - rules/**/*.yml\n\
             scrape_configs:\n  - job_name: thermo\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("rules/rooms")).unwrap();
    write_atomic(&dir.join("rules/rooms/temp.yml"), RULES);
    path
}

fn alerts(s: &Server) -> Vec<Value> {
    let (st, body) = s.get_json("/api/v1/alerts");
    assert_eq!(st, 200, "{body}");
    body["data"]["alerts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn rule_groups(s: &Server) -> Vec<Value> {
    let (st, body) = s.get_json("/api/v1/rules");
    assert_eq!(st, 200, "{body}");
    body["data"]["groups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn firing(s: &Server) -> Option<Value> {
    alerts(s).into_iter().find(|a| a["state"] == "firing")
}

#[test]
fn rules_fire_on_scraped_data_reload_and_survive_a_restart() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let temp = Arc::new(AtomicU64::new(20f64.to_bits()));
    let target = thermometer(Arc::clone(&temp));
    let cfg = config(work.path(), &target);
    let cfg_flag = format!("--config.file={}", cfg.display());
    let flags = [
        "--collector.host=false",
        "--collector.self=false",
        cfg_flag.as_str(),
        "--web.external-url=http://pharos.example:9090/",
        "--web.enable-lifecycle",
    ];
    let mut s = Server::start_with(&data, &flags);

    // The recording rule writes what it computes from the scrape.
    until("room:temperature:max is recorded", || {
        let (_, b) = s.get_json("/api/v1/query?query=room:temperature:max");
        b["data"]["result"][0]["value"][1] == "20"
    });
    assert!(alerts(&s).is_empty(), "20 degrees is fine");

    // Too hot: pending, then firing after `for: 2s`.
    temp.store(30f64.to_bits(), Ordering::Relaxed);
    until("the alert goes pending", || {
        alerts(&s).iter().any(|a| a["state"] == "pending")
    });
    until("the alert fires", || firing(&s).is_some());
    let a = firing(&s).unwrap();
    assert_eq!(a["labels"]["alertname"], "RoomTooHot");
    assert_eq!(a["labels"]["room"], "lab");
    assert_eq!(a["labels"]["severity"], "warning");
    assert_eq!(a["annotations"]["summary"], "Room lab is at 30 degrees");
    assert_eq!(a["annotations"]["hint"], "30 on hq");
    assert_eq!(a["value"], "3e+01");
    let active_at = a["activeAt"].as_str().unwrap().to_string();

    let groups = rule_groups(&s);
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!(g["name"], "temperature");
    assert!(
        g["file"]
            .as_str()
            .unwrap()
            .ends_with("rules/rooms/temp.yml"),
        "{g}"
    );
    assert_eq!(g["interval"], 1.0);
    let rules = g["rules"].as_array().unwrap();
    assert_eq!(rules[0]["type"], "recording");
    assert_eq!(rules[0]["health"], "ok");
    assert_eq!(rules[1]["type"], "alerting");
    assert_eq!(rules[1]["state"], "firing");
    assert_eq!(rules[1]["duration"], 2);
    assert_eq!(rules[1]["alerts"][0]["labels"]["room"], "lab");
    let keys: Vec<&str> = rules[1]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "state",
            "name",
            "query",
            "duration",
            "keepFiringFor",
            "labels",
            "annotations",
            "alerts",
            "health",
            "lastError",
            "evaluationTime",
            "lastEvaluation",
            "type"
        ],
        "Prometheus's key order"
    );
    let (_, only_rec) = s.get_json("/api/v1/rules?type=record");
    assert_eq!(
        only_rec["data"]["groups"][0]["rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // ALERTS is queryable like any series.
    let (_, b) = s.get_json("/api/v1/query?query=ALERTS%7Balertstate%3D%22firing%22%7D");
    assert_eq!(
        b["data"]["result"][0]["metric"]["alertname"], "RoomTooHot",
        "{b}"
    );

    // A broken rule file is refused; the running rules stay.
    write_atomic(
        &work.path().join("rules/broken.yml"),
        "groups:\n- name: x\n  rules:\n  - record: y\n    expr: 'sum('\n",
    );
    let (st, body) = s.post("/-/reload");
    assert_eq!(st, 500, "{body}");
    assert!(body.contains("broken.yml:4:"), "{body}");
    assert!(body.contains("could not parse expression"), "{body}");
    assert_eq!(rule_groups(&s).len(), 1);
    assert!(firing(&s).is_some(), "the alert keeps firing");
    std::fs::remove_file(work.path().join("rules/broken.yml")).unwrap();

    // An edit is picked up without a reload.
    write_atomic(
        &work.path().join("rules/rooms/temp.yml"),
        &format!("{RULES}  - record: room:temperature:fahrenheit\n    expr: room:temperature:max * 9 / 5 + 32\n"),
    );
    until("the edited rule file is loaded", || {
        let (_, b) = s.get_json("/api/v1/query?query=room:temperature:fahrenheit");
        b["data"]["result"][0]["value"][1] == "86"
    });
    assert_eq!(
        firing(&s).unwrap()["activeAt"],
        active_at.as_str(),
        "an unchanged rule keeps its alert"
    );

    // A restart while firing keeps the alert's start.
    assert!(s.stop(), "graceful stop");
    let s2 = Server::start_with(&data, &flags);
    until("the alert is back after the restart", || {
        firing(&s2).is_some()
    });
    assert_eq!(
        firing(&s2).unwrap()["activeAt"],
        active_at.as_str(),
        "restored, not restarted"
    );

    // Cooling down resolves it.
    temp.store(21f64.to_bits(), Ordering::Relaxed);
    until("the alert resolves", || alerts(&s2).is_empty());
    let g = &rule_groups(&s2)[0];
    assert_eq!(g["rules"][1]["state"], "inactive");
}

#[test]
fn check_rules_lists_every_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, RULES).unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up ==\n  - record: b\n    expr: up\n    for: 5m\n  - alert: C\n    expr: up\n    annotations:\n      x: '{{ $label.instance }}'\n",
    )
    .unwrap();
    let run = |files: &[&Path]| {
        let out = Command::new(pharos_bin())
            .args(["check", "rules"])
            .args(files)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&[&good]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("SUCCESS: 2 rules found"), "{out}");
    let (code, out) = run(&[&good, &bad]);
    assert_eq!(code, Some(1), "{out}");
    let b = bad.display();
    for (line, what) in [
        (4, "could not parse expression"),
        (6, "invalid field 'for' in recording rule"),
        (9, "$label"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.contains(&format!("{b}:{line}:")) && l.contains(what)),
            "no {what:?} at line {line} in:\n{out}"
        );
    }
}

/// pharos's alerts reach a real Alertmanager (Debian's
/// `prometheus-alertmanager`) through `alerting.alertmanagers`, with
/// external labels and annotations, and `amtool` lists them; when the
/// condition clears, the Alertmanager learns of the resolution.
#[test]
fn alerts_reach_a_real_alertmanager() {
    use pharos_tests::{free_tcp_port, ChildGuard};
    use std::process::Stdio;

    let work = tempfile::tempdir().unwrap();
    let am_port = free_tcp_port();
    std::fs::write(
        work.path().join("alertmanager.yml"),
        "route:\n  receiver: 'null'\n  group_wait: 1s\nreceivers:\n  - name: 'null'\n",
    )
    .unwrap();
    let _am = ChildGuard(Some(
        Command::new("/usr/bin/prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                work.path().join("alertmanager.yml").display()
            ))
            .arg(format!(
                "--storage.path={}",
                work.path().join("am").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-alertmanager (Debian package prometheus-alertmanager)"),
    ));
    let am = format!("http://127.0.0.1:{am_port}");
    let client = reqwest::blocking::Client::new();
    let am_alerts = || -> Vec<Value> {
        client
            .get(format!("{am}/api/v2/alerts"))
            .send()
            .ok()
            .and_then(|r| r.text().ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    };
    until("the Alertmanager is up", || {
        client
            .get(format!("{am}/-/ready"))
            .send()
            .map(|r| r.status().is_success())
            .unwrap_or(false)
    });

    let temp = Arc::new(AtomicU64::new(30f64.to_bits()));
    let target = thermometer(Arc::clone(&temp));
    let cfg = config(work.path(), &target);
    // A second set, found in a target file: a recording stand-in for an
    // Alertmanager, and a decoy its relabel_configs drop. Alerts to it get
    // the set's own relabeling on top of the global one.
    let recorder = pharos_tests::Sink::ok();
    write_atomic(
        &work.path().join("ams.json"),
        &format!(
            r#"[{{"targets": ["{}", "decoy.invalid:9093"], "labels": {{"team": "ops"}}}}]"#,
            recorder.addr
        ),
    );
    let alerting = format!(
        r#"alerting:
  alert_relabel_configs:
    - source_labels: [site]
      target_label: site_seen
      replacement: "seen-$1"
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:{am_port}']
    - path_prefix: /recorder
      file_sd_configs:
        - files: ['{}']
      relabel_configs:
        - source_labels: [__address__]
          regex: decoy.*
          action: drop
      alert_relabel_configs:
        - target_label: via
          replacement: recorder
"#,
        work.path().join("ams.json").display()
    );
    let text = std::fs::read_to_string(&cfg).unwrap() + &alerting;
    std::fs::write(&cfg, text).unwrap();
    let cfg_flag = format!("--config.file={}", cfg.display());
    let s = Server::start_with(
        &work.path().join("data"),
        &[
            "--collector.host=false",
            "--collector.self=false",
            &cfg_flag,
        ],
    );
    let (_, ams) = s.get_json("/api/v1/alertmanagers");
    assert_eq!(
        ams["data"],
        serde_json::json!({
            "activeAlertmanagers": [
                {"url": format!("http://127.0.0.1:{am_port}/api/v2/alerts")},
                {"url": format!("http://{}/recorder/api/v2/alerts", recorder.addr)},
            ],
            "droppedAlertmanagers": [{"url": "http://decoy.invalid:9093/recorder/api/v2/alerts"}],
        })
    );

    until("the alert reaches the Alertmanager", || {
        am_alerts()
            .iter()
            .any(|a| a["labels"]["alertname"] == "RoomTooHot")
    });
    let a = am_alerts()
        .into_iter()
        .find(|a| a["labels"]["alertname"] == "RoomTooHot")
        .unwrap();
    assert_eq!(a["labels"]["room"], "lab");
    assert_eq!(a["labels"]["site"], "hq", "external labels are added");
    assert_eq!(
        a["labels"]["site_seen"], "seen-hq",
        "alert_relabel_configs see the external labels"
    );
    assert!(a["labels"].get("via").is_none(), "{a}");
    // The second set's Alertmanager got the same alert with its own
    // relabeling, at its relabelled path.
    until("the alert reaches the second set", || {
        recorder
            .requests()
            .iter()
            .any(|r| r.body.contains("RoomTooHot"))
    });
    let posted = recorder
        .requests()
        .into_iter()
        .find(|r| r.body.contains("RoomTooHot"))
        .unwrap();
    assert_eq!(
        (posted.method.as_str(), posted.path.as_str()),
        ("POST", "/recorder/api/v2/alerts")
    );
    let body: Value = serde_json::from_str(&posted.body).unwrap();
    assert_eq!(body[0]["labels"]["via"], "recorder", "{body}");
    assert_eq!(body[0]["labels"]["site_seen"], "seen-hq", "{body}");
    assert!(
        body[0]["labels"].get("team").is_none(),
        "target labels stay on the target: {body}"
    );
    // The built-in notifier gets what an Alertmanager gets.
    let (_, own) = s.get_json("/api/v2/alerts");
    let own = own
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "RoomTooHot")
        .cloned()
        .unwrap_or_else(|| panic!("the built-in notifier holds the alert: {own}"));
    assert_eq!(own["labels"]["site"], "hq", "{own}");
    assert_eq!(own["labels"]["site_seen"], "seen-hq", "{own}");

    // The Prometheus mixin's alerts read these names from /metrics.
    let (_, metrics) = s.get_text("/metrics");
    let value = |line_start: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(line_start)
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("no {line_start} in /metrics:\n{metrics}"))
    };
    let sent = |url: &str| {
        value(&format!(
            r#"prometheus_notifications_sent_total{{alertmanager="{url}"}} "#
        ))
    };
    assert!(sent(&format!("http://127.0.0.1:{am_port}/api/v2/alerts")) >= 1.0);
    assert!(sent(&format!("http://{}/recorder/api/v2/alerts", recorder.addr)) >= 1.0);
    assert_eq!(
        value("prometheus_notifications_alertmanagers_discovered "),
        2.0
    );
    assert_eq!(value("prometheus_notifications_queue_capacity "), 10000.0);
    assert_eq!(value("prometheus_notifications_dropped_total "), 0.0);
    let group = format!(
        r#"{{rule_group="{};temperature"}} "#,
        work.path().join("rules/rooms/temp.yml").display()
    );
    assert!(value(&format!("prometheus_rule_evaluations_total{group}")) >= 1.0);
    assert_eq!(
        value(&format!("prometheus_rule_evaluation_failures_total{group}")),
        0.0
    );
    assert_eq!(
        value(&format!("prometheus_rule_group_interval_seconds{group}")),
        1.0
    );
    assert!(value(&format!("prometheus_rule_group_rules{group}")) >= 1.0);
    assert_eq!(a["annotations"]["summary"], "Room lab is at 30 degrees");
    assert_eq!(a["status"]["state"], "active");
    assert!(
        a["generatorURL"]
            .as_str()
            .unwrap()
            .contains("/graph?g0.expr="),
        "{a}"
    );

    // amtool, as an operator would use it.
    let out = Command::new("/usr/bin/amtool")
        .args([
            "alert",
            "query",
            "--alertmanager.url",
            &am,
            "-o",
            "extended",
            "alertname=RoomTooHot",
        ])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{listed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listed.contains("RoomTooHot") && listed.contains("room=\"lab\""),
        "{listed}"
    );

    // Resolved: the Alertmanager gets an endsAt in the past and drops the
    // alert from its active list.
    temp.store(20f64.to_bits(), Ordering::Relaxed);
    until("the Alertmanager sees the alert resolved", || {
        !am_alerts()
            .iter()
            .any(|a| a["labels"]["alertname"] == "RoomTooHot")
    });
}

/// `pharos test rules` runs promtool's unit-test format: exit 0 when the
/// expected alerts fire, 1 with promtool's report when they do not.
#[test]
fn test_rules_runs_promtool_unit_tests() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let test = |exp_room: &str| {
        format!(
            "rule_files: [rules.yml]\nevaluation_interval: 1s\ntests:\n- interval: 1s\n  external_labels:\n    site: hq\n  input_series:\n  - series: 'room_temperature{{room=\"lab\"}}'\n    values: '20 30x10'\n  alert_rule_test:\n  - eval_time: 2s\n    alertname: RoomTooHot\n  - eval_time: 5s\n    alertname: RoomTooHot\n    exp_alerts:\n    - exp_labels: {{room: {exp_room}, severity: warning}}\n      exp_annotations:\n        summary: Room lab is at 30 degrees\n        hint: 30 on hq\n  promql_expr_test:\n  - expr: room:temperature:max\n    eval_time: 3s\n    exp_samples:\n    - labels: 'room:temperature:max{{room=\"lab\"}}'\n      value: 30\n"
        )
    };
    let run = |text: String| {
        let f = dir.path().join("test.yml");
        std::fs::write(&f, text).unwrap();
        let out = Command::new(pharos_bin())
            .args(["test", "rules"])
            .arg(&f)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(test("lab"));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("SUCCESS"), "{out}");
    let (code, out) = run(test("attic"));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("alertname: RoomTooHot, time: 5s"), "{out}");
    assert!(
        out.contains("room=\"attic\"") && out.contains("room=\"lab\""),
        "{out}"
    );
}
