//! The built-in notifier end to end, against real peers: a real Prometheus
//! 2.42 (Debian) uses pharos as its Alertmanager and the notification
//! reaches a real HTTP server with Alertmanager's exact webhook payload;
//! `amtool` lists the alerts and adds, lists and expires a silence; pharos's
//! own rules on scraped data notify once, survive a restart without a
//! duplicate, retry a receiver that is down, and announce the resolution.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pharos_tests::{free_tcp_port, http_server, wait_for, ChildGuard, Server, Sink};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

fn webhook_config(dir: &Path, sink: &Sink, extra_route: &str) -> std::path::PathBuf {
    let p = dir.join("alertmanager.yml");
    std::fs::write(
        &p,
        format!(
            "route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 3s
  repeat_interval: 1h
{extra_route}receivers:
  - name: hook
    webhook_configs:
      - url: {}
        send_resolved: true
",
            sink.url("/hook?token=s3cret")
        ),
    )
    .unwrap();
    p
}

fn amtool(url: &str, args: &[&str]) -> String {
    let out = Command::new("/usr/bin/amtool")
        .args(args)
        .arg(format!("--alertmanager.url={url}"))
        .output()
        .expect("amtool (Debian package prometheus-alertmanager)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "amtool {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Keys of a JSON object, in order.
fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

#[test]
fn prometheus_sends_to_pharos_and_amtool_manages_silences() {
    let work = tempfile::tempdir().unwrap();
    let sink = Sink::ok();
    let am_cfg = webhook_config(work.path(), &sink, "");
    let s = Server::start_with(
        &work.path().join("data"),
        &[
            "--collector.host=false",
            "--collector.self=false",
            "--web.external-url=http://pharos.example:9090",
            &format!("--alertmanager.config.file={}", am_cfg.display()),
        ],
    );

    // A real Prometheus with pharos as its Alertmanager.
    let rules = work.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:
  - name: always
    rules:
      - alert: AlwaysOn
        expr: vector(1)
        labels:
          severity: page
        annotations:
          summary: it is always on
",
    )
    .unwrap();
    let prom_cfg = work.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!(
            "global:
  evaluation_interval: 1s
rule_files: ['{}']
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['{}']
",
            rules.display(),
            s.addr
        ),
    )
    .unwrap();
    let prom_port = free_tcp_port();
    let _prom = ChildGuard::spawn(
        Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", prom_cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                work.path().join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            // The first alert may go out before the Alertmanager is
            // discovered; re-sent every second, it arrives at once.
            .arg("--rules.alert.resend-delay=1s")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );

    let payload = wait_for(WAIT, "the webhook receives Prometheus's alert", || {
        sink.accepted_json()
            .into_iter()
            .next()
            .ok_or_else(|| format!("{} requests", sink.requests().len()))
    });
    assert_eq!(
        keys(&payload),
        [
            "receiver",
            "status",
            "alerts",
            "groupLabels",
            "commonLabels",
            "commonAnnotations",
            "externalURL",
            "version",
            "groupKey",
            "truncatedAlerts"
        ]
    );
    let alert = &payload["alerts"][0];
    assert_eq!(
        keys(alert),
        [
            "status",
            "labels",
            "annotations",
            "startsAt",
            "endsAt",
            "generatorURL",
            "fingerprint"
        ]
    );
    let labels = json!({"alertname": "AlwaysOn", "severity": "page"});
    let fp =
        pharos::notify::alert::labels_fingerprint(&serde_json::from_value(labels.clone()).unwrap());
    let expected = json!({
        "receiver": "hook",
        "status": "firing",
        "alerts": [{
            "status": "firing",
            "labels": labels,
            "annotations": {"summary": "it is always on"},
            "startsAt": alert["startsAt"],
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": alert["generatorURL"],
            "fingerprint": format!("{fp:016x}"),
        }],
        "groupLabels": {"alertname": "AlwaysOn"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "it is always on"},
        "externalURL": "http://pharos.example:9090",
        "version": "4",
        "groupKey": "{}:{alertname=\"AlwaysOn\"}",
        "truncatedAlerts": 0,
    });
    assert_eq!(payload, expected);
    assert!(
        alert["generatorURL"]
            .as_str()
            .unwrap()
            .contains("/graph?g0.expr=vector%281%29"),
        "{alert}"
    );
    let req = &sink.requests()[0];
    assert_eq!(
        (req.method.as_str(), req.path.as_str()),
        ("POST", "/hook?token=s3cret")
    );

    // The API shows the alert; amtool lists it.
    let (code, alerts) = s.get_json("/api/v2/alerts");
    assert_eq!(code, 200);
    assert_eq!(alerts[0]["labels"]["alertname"], "AlwaysOn");
    assert_eq!(alerts[0]["status"]["state"], "active");
    assert_eq!(alerts[0]["receivers"][0]["name"], "hook");
    let (_, groups) = s.get_json("/api/v2/alerts/groups");
    assert_eq!(groups[0]["labels"], json!({"alertname": "AlwaysOn"}));
    assert_eq!(groups[0]["receiver"], json!({"name": "hook"}));
    assert_eq!(
        groups[0]["alerts"][0]["fingerprint"],
        format!("{fp:016x}").as_str()
    );
    let url = format!("http://{}", s.addr);
    let listed = amtool(&url, &["alert", "query"]);
    assert!(listed.contains("AlwaysOn"), "{listed}");

    // A silence through amtool: the alert is suppressed (amtool's default
    // query hides it), the silence is listed, and expiring it brings the
    // alert back.
    let id = amtool(
        &url,
        &[
            "silence",
            "add",
            "alertname=AlwaysOn",
            "--comment=maintenance",
            "--author=tester",
            "--duration=1h",
        ],
    )
    .trim()
    .to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let listed = amtool(&url, &["silence", "query"]);
    assert!(
        listed.contains(&id) && listed.contains("tester") && listed.contains("maintenance"),
        "{listed}"
    );
    let (_, alerts) = s.get_json("/api/v2/alerts");
    assert_eq!(alerts[0]["status"]["state"], "suppressed");
    assert_eq!(alerts[0]["status"]["silencedBy"][0], id.as_str());
    assert!(!amtool(&url, &["alert", "query"]).contains("AlwaysOn"));
    assert!(amtool(&url, &["alert", "query", "--silenced"]).contains("AlwaysOn"));
    let (code, one) = s.get_json(&format!("/api/v2/silence/{id}"));
    assert_eq!(code, 200);
    assert_eq!(one["status"]["state"], "active");
    assert_eq!(
        one["matchers"][0],
        json!({"name": "alertname", "value": "AlwaysOn", "isRegex": false, "isEqual": true})
    );

    amtool(&url, &["silence", "expire", &id]);
    let listed = amtool(&url, &["silence", "query"]);
    assert!(!listed.contains(&id), "{listed}");
    assert!(amtool(&url, &["silence", "query", "--expired"]).contains(&id));
    let (_, alerts) = s.get_json("/api/v2/alerts");
    assert_eq!(alerts[0]["status"]["state"], "active");

    // Status and receivers as amtool and Grafana read them; the webhook
    // URL (it carries a token) is not shown.
    let (_, status) = s.get_json("/api/v2/status");
    assert_eq!(status["cluster"]["status"], "disabled");
    let shown = status["config"]["original"].as_str().unwrap();
    assert!(
        shown.contains("receiver: hook") && !shown.contains("s3cret"),
        "{shown}"
    );
    let (_, receivers) = s.get_json("/api/v2/receivers");
    assert_eq!(receivers, json!([{"name": "hook"}]));
    // Bad input gets a 400 with a reason.
    let client = reqwest::blocking::Client::new();
    let r = client
        .post(format!("{url}/api/v2/alerts"))
        .header("Content-Type", "application/json")
        .body("[{\"labels\":{}}]")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .unwrap()
        .contains("at least one label pair required"));
    let r = client
        .post(format!("{url}/api/v2/silences"))
        .header("Content-Type", "application/json")
        .body("{\"matchers\":[{\"name\":\"a\",\"value\":\"\",\"isRegex\":false}],\"startsAt\":\"2030-01-01T00:00:00Z\",\"endsAt\":\"2030-01-02T00:00:00Z\",\"createdBy\":\"x\",\"comment\":\"y\"}")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(
        s.get_json("/api/v2/silence/00000000-0000-4000-8000-000000000000")
            .0,
        404
    );
}

fn thermometer(temp: Arc<AtomicU64>) -> String {
    http_server(Arc::new(move |_path: &str| {
        let t = f64::from_bits(temp.load(Ordering::Relaxed));
        (
            "200 OK",
            "text/plain; version=0.0.4",
            format!("# TYPE room_temperature_celsius gauge\nroom_temperature_celsius{{room=\"lab\"}} {t}\n"),
            Duration::ZERO,
        )
    }))
}

/// pharos's rules on scraped data → the built-in notifier → a webhook that
/// is down for its first two requests: one notification arrives (after
/// retries), a restart while firing sends nothing again, and the
/// resolution is announced once.
#[test]
fn own_rules_notify_once_across_retries_and_restarts() {
    let work = tempfile::tempdir().unwrap();
    let down = Arc::new(AtomicUsize::new(2));
    let d = Arc::clone(&down);
    let sink = Sink::start(Arc::new(move |_, _| {
        if d.load(Ordering::SeqCst) > 0 {
            d.fetch_sub(1, Ordering::SeqCst);
            (503, "down for maintenance".to_string())
        } else {
            (200, "{}".to_string())
        }
    }));
    let am_cfg = webhook_config(work.path(), &sink, "");
    let temp = Arc::new(AtomicU64::new(30f64.to_bits()));
    let target = thermometer(Arc::clone(&temp));
    std::fs::write(
        work.path().join("rules.yml"),
        "groups:
  - name: room
    interval: 1s
    rules:
      - alert: RoomTooHot
        expr: room_temperature_celsius > 25
        annotations:
          summary: 'Room {{ $labels.room }} is at {{ $value }} degrees'
",
    )
    .unwrap();
    let cfg = work.path().join("pharos.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: room
    static_configs:
      - targets: ['{target}']
"
        ),
    )
    .unwrap();
    let flags = [
        "--collector.host=false".to_string(),
        "--collector.self=false".to_string(),
        format!("--config.file={}", cfg.display()),
        format!("--alertmanager.config.file={}", am_cfg.display()),
    ];
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let data = work.path().join("data");
    let mut s = Server::start_with(&data, &flag_refs);

    let first = wait_for(WAIT, "the notification gets through", || {
        sink.accepted_json()
            .into_iter()
            .next()
            .ok_or_else(|| format!("{} attempts", sink.requests().len()))
    });
    assert_eq!(first["status"], "firing");
    assert_eq!(first["alerts"][0]["labels"]["alertname"], "RoomTooHot");
    assert_eq!(first["alerts"][0]["labels"]["room"], "lab");
    assert_eq!(
        first["alerts"][0]["annotations"]["summary"],
        "Room lab is at 30 degrees"
    );
    let attempts = sink.requests().len();
    assert_eq!(attempts, 3, "two refused attempts, then one accepted");
    assert_eq!(sink.requests()[0].status, 503);

    // Several group intervals: nothing new.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(
        sink.requests().len(),
        3,
        "no duplicate after the retried success"
    );

    // Restart while firing: the log and the alert state survive; nothing
    // is sent again.
    assert!(s.stop(), "graceful stop");
    let s = Server::start_with(&data, &flag_refs);
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(
        sink.requests().len(),
        3,
        "a restart sends nothing twice: {:?}",
        sink.requests().iter().map(|r| &r.body).collect::<Vec<_>>()
    );

    // Cool down: the resolution is announced once.
    temp.store(20f64.to_bits(), Ordering::Relaxed);
    let resolved = wait_for(WAIT, "the resolution is announced", || {
        sink.accepted_json()
            .into_iter()
            .find(|p| p["status"] == "resolved")
            .ok_or_else(|| "not yet".to_string())
    });
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(sink.accepted_json().len(), 2, "firing once, resolved once");
    drop(s);
}

/// The SMTP sink of `tests/scripts/smtp_sink.py` (Python's aiosmtpd).
struct Smtp {
    _child: ChildGuard,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Smtp {
    fn start() -> Smtp {
        Smtp::start_with(&[])
    }

    /// With `args` for the script (`--tls CERT KEY`).
    fn start_with(args: &[&str]) -> Smtp {
        use std::io::BufRead;
        let python = ["/usr/bin/python3", "python3"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .args(["-c", "import aiosmtpd"])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .expect("the email test needs Python's aiosmtpd (apt-get install -y python3-aiosmtpd)");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the SMTP sink");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the SMTP sink starts");
        let port = first
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .expect("PORT line");
        Smtp {
            _child: ChildGuard(Some(child)),
            port,
            lines,
        }
    }

    fn next(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .expect("a mail arrives at the SMTP server");
        serde_json::from_str(&line).unwrap()
    }
}

/// An `alertmanager.yml` receiver with one email config to the SMTP sink
/// on `port`; `extra` is more of the email config's keys.
fn email_receiver(name: &str, port: u16, require_tls: bool, extra: &str) -> String {
    format!(
        "  - name: {name}
    email_configs:
      - to: ops@example.org
        from: pharos@example.org
        smarthost: 127.0.0.1:{port}
        require_tls: {require_tls}
{extra}"
    )
}

/// The text/html part of a mail the SMTP sink received.
fn html_part(m: &Value) -> String {
    m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "text/html")
        .and_then(|p| p["body"].as_str())
        .expect("an HTML part")
        .to_string()
}

fn post_alerts(s: &Server, body: Value) -> u16 {
    reqwest::blocking::Client::new()
        .post(s.url("/api/v2/alerts"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// An alert posted through the Alertmanager API reaches a real SMTP server
/// as Alertmanager's default email; a receiver whose template fails still
/// delivers the alert, in the plain fallback format naming the error.
#[test]
fn email_arrives_and_a_broken_template_falls_back() {
    let work = tempfile::tempdir().unwrap();
    let smtp = Smtp::start();
    std::fs::write(
        work.path().join("custom.tmpl"),
        "{{ define \"broken.subject\" }}{{ index .Alerts 99 }}{{ end }}\n",
    )
    .unwrap();
    let mail = |name: &str, extra: &str| email_receiver(name, smtp.port, false, extra);
    let am = work.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "templates: ['custom.tmpl']
route:
  receiver: mail
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  routes:
    - matchers: [broken=yes]
      receiver: broken-mail
receivers:
{}{}",
            mail("mail", ""),
            mail(
                "broken-mail",
                "        headers:\n          Subject: '{{ template \"broken.subject\" . }}'\n"
            )
        ),
    )
    .unwrap();
    let s = Server::start_with(
        &work.path().join("data"),
        &[
            "--collector.host=false",
            "--collector.self=false",
            &format!("--alertmanager.config.file={}", am.display()),
        ],
    );
    let code = post_alerts(
        &s,
        json!([{"labels": {"alertname": "DiskFull", "instance": "db1"},
                "annotations": {"summary": "the disk of db1 is full"}}]),
    );
    assert_eq!(code, 200);
    let m = smtp.next();
    assert_eq!(m["rcpt_tos"], json!(["ops@example.org"]));
    assert_eq!(m["mail_from"], "pharos@example.org");
    let subject = m["headers"]["Subject"].as_str().unwrap();
    assert!(subject.starts_with("[FIRING:1] DiskFull"), "{subject}");
    assert!(html_part(&m).contains("the disk of db1 is full"));

    assert_eq!(
        post_alerts(
            &s,
            json!([{"labels": {"alertname": "DiskBroken", "broken": "yes"}}])
        ),
        200
    );
    let m = smtp.next();
    let subject = m["headers"]["Subject"].as_str().unwrap();
    assert!(
        subject.contains("DiskBroken") && subject.contains("template error"),
        "{subject}"
    );
    let body: String = m["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["body"].as_str().unwrap_or(""))
        .collect();
    assert!(
        body.contains("template failed") && body.contains("index"),
        "{body}"
    );
    assert!(
        body.contains("Labels: alertname=DiskBroken, broken=yes"),
        "{body}"
    );
    assert!(s.log_text().contains("notification template failed"));
}

/// Email over STARTTLS as Alertmanager's `tls_config` sets it up: a CA
/// bundle with `server_name` for a smarthost addressed by IP, and
/// `insecure_skip_verify`, deliver; a certificate no root vouches for does
/// not. The HTML body escapes what its templates print.
#[test]
fn email_over_starttls_follows_tls_config() {
    let work = tempfile::tempdir().unwrap();
    let certs = work.path();
    pharos_tests::make_certificates(certs);
    let path = |f: &str| certs.join(f).display().to_string();
    let smtp = Smtp::start_with(&["--tls", &path("server.crt"), &path("server.key")]);
    let mail = |name: &str, tls: &str| {
        email_receiver(
            name,
            smtp.port,
            true,
            &format!("        tls_config:\n{tls}"),
        )
    };
    let am = work.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        format!(
            "route:
  receiver: verified
  group_by: [alertname]
  group_wait: 1s
  routes:
    - matchers: [alertname=TlsInsecure]
      receiver: insecure
    - matchers: [alertname=TlsUnknownCa]
      receiver: unknown-ca
receivers:
{}{}{}",
            mail(
                "verified",
                &format!(
                    "          ca_file: {}\n          server_name: metrics.internal\n",
                    path("ca.crt")
                )
            ),
            mail("insecure", "          insecure_skip_verify: true\n"),
            mail("unknown-ca", "          server_name: metrics.internal\n"),
        ),
    )
    .unwrap();
    let s = Server::start_with(
        &work.path().join("data"),
        &[
            "--collector.host=false",
            "--collector.self=false",
            &format!("--alertmanager.config.file={}", am.display()),
        ],
    );
    for name in ["TlsVerified", "TlsInsecure", "TlsUnknownCa"] {
        let code = post_alerts(
            &s,
            json!([{"labels": {"alertname": name},
                    "annotations": {"summary": "<b>bold</b> & \"quoted\""}}]),
        );
        assert_eq!(code, 200);
    }
    let mut subjects = Vec::new();
    for _ in 0..2 {
        let m = smtp.next();
        subjects.push(m["headers"]["Subject"].as_str().unwrap().to_string());
        let html = html_part(&m);
        assert!(
            html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34;"),
            "annotations are escaped in the HTML body: {html}"
        );
        assert!(!html.contains("<b>bold</b>"), "{html}");
    }
    subjects.sort();
    assert!(subjects[0].contains("TlsInsecure"), "{subjects:?}");
    assert!(subjects[1].contains("TlsVerified"), "{subjects:?}");
    // The third never arrives: its certificate is not trusted.
    wait_for(WAIT, "the refused TLS handshake in the log", || {
        let log = s.log_text();
        if log.contains("unknown-ca") && log.to_ascii_lowercase().contains("certificate") {
            Ok(())
        } else {
            Err(log.lines().rev().take(5).collect::<Vec<_>>().join("\n"))
        }
    });
    assert!(
        smtp.lines.recv_timeout(Duration::from_secs(2)).is_err(),
        "no mail through an untrusted certificate"
    );
}
