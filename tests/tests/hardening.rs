//! Hostile input against the real binary: every case here once crashed
//! pharos, ate its memory, kept a connection forever or leaked a secret
//! (issue 14). Each test is named after what it pins; the server must
//! answer precisely and stay up.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pharos_agent::remote::proto;
use pharos_tests::{
    pharos_bin, post_write, series, snappy, wait_for, write_v1, ChildGuard, Server,
};
use prost::Message;
use serde_json::Value;

fn start(extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let mut flags = vec!["--collector.host=false", "--collector.self=false"];
    flags.extend_from_slice(extra);
    let s = Server::start_with(&dir.path().join("data"), &flags);
    (dir, s)
}

/// Waits until the pharos at `addr` (started by hand) answers /-/ready.
fn wait_ready(addr: &str) {
    wait_for(
        Duration::from_secs(30),
        "pharos ready",
        || match reqwest::blocking::get(format!("http://{addr}/-/ready")) {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(r.status().to_string()),
            Err(e) => Err(e.to_string()),
        },
    );
}

fn post_form(s: &Server, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let r = reqwest::blocking::Client::new()
        .post(s.url(path))
        .form(form)
        .timeout(Duration::from_secs(60))
        .send()
        .expect("POST");
    let status = r.status().as_u16();
    let text = r.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn healthy(s: &mut Server) {
    assert!(s.alive(), "pharos exited:\n{}", s.log_text());
    let (code, _) = s.get_text("/-/healthy");
    assert_eq!(code, 200);
}

/// Deep parentheses, nested aggregations and long operator chains used to
/// overflow a worker's stack and abort the process; they are refused with
/// 400 bad_data before they are parsed, on every endpoint that parses.
#[test]
fn deep_queries_are_refused_not_fatal() {
    let (_d, mut s) = start(&[]);
    let deep = [
        format!("{}1{}", "(".repeat(3000), ")".repeat(3000)),
        format!("{}up{}", "sum(".repeat(1000), ")".repeat(1000)),
        vec!["1"; 2000].join("+"),
        format!("-{}", "-".repeat(5000)) + "1",
        format!("up{}", "[1m:]".repeat(600)),
    ];
    for q in &deep {
        for path in [
            "/api/v1/query",
            "/api/v1/parse_query",
            "/api/v1/format_query",
        ] {
            let (code, v) = post_form(&s, path, &[("query", q)]);
            assert_eq!(code, 400, "{path} {}: {v}", &q[..20]);
            assert_eq!(v["errorType"], "bad_data");
            assert!(
                v["error"].as_str().unwrap().contains("nested too deeply"),
                "{v}"
            );
        }
    }
    // Series selectors too (match[] of the metadata APIs and federation).
    let deep = format!("{}up{}", "(".repeat(20_000), ")".repeat(20_000));
    for path in ["/api/v1/series", "/api/v1/labels"] {
        let (code, v) = post_form(&s, path, &[("match[]", &deep)]);
        assert_eq!(code, 400, "{path}: {v}");
        assert!(
            v["error"].as_str().unwrap().contains("nested too deeply"),
            "{v}"
        );
    }
    let (code, text) = s.get_text(&format!("/federate?match[]={deep}"));
    assert_eq!(code, 400, "{text}");
    // A flat chain of 100 000 terms is refused at once, not after a minute.
    let started = Instant::now();
    let (code, _) = post_form(
        &s,
        "/api/v1/query",
        &[("query", &vec!["1"; 100_000].join("+"))],
    );
    assert_eq!(code, 400);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Deep, but within the documented depth: answered.
    let (code, v) = post_form(&s, "/api/v1/query", &[("query", &vec!["1"; 200].join("+"))]);
    assert_eq!((code, v["data"]["result"][1].as_str()), (200, Some("200")));
    let (code, _) = post_form(
        &s,
        "/api/v1/query",
        &[(
            "query",
            &format!("{}vector(1){}", "sum(".repeat(120), ")".repeat(120)),
        )],
    );
    assert_eq!(code, 200);
    healthy(&mut s);
}

/// A rule `check rules` accepted crash-looped the server. Now both refuse
/// it, the server starts without the broken file's rules, says so in
/// prometheus_config_last_reload_successful, and loads the rules once the
/// file is fixed.
#[test]
fn deep_rule_is_refused_by_check_and_server_still_starts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    let deep = format!("{}1{}", "(".repeat(3000), ")".repeat(3000));
    std::fs::write(
        &rules,
        format!(
            "groups:\n- name: g\n  interval: 1s\n  rules:\n  - record: deep\n    expr: {deep}\n"
        ),
    )
    .unwrap();
    let check = Command::new(pharos_bin())
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stdout).contains("nested too deeply"));
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "rule_files: [rules.yml]\n").unwrap();
    let mut s = Server::start_with_config(
        &dir.path().join("data"),
        &config,
        &["--collector.host=false", "--collector.self=false"],
    );
    let (_, metrics) = s.get_text("/metrics");
    assert!(
        metrics.contains("prometheus_config_last_reload_successful 0"),
        "{metrics}"
    );
    let (code, v) = s.get_json("/api/v1/rules");
    assert_eq!(code, 200);
    assert_eq!(v["data"]["groups"], serde_json::json!([]));
    std::fs::write(
        &rules,
        "groups:\n- name: g\n  interval: 1s\n  rules:\n  - record: fixed\n    expr: vector(1)\n",
    )
    .unwrap();
    wait_for(Duration::from_secs(30), "the fixed rule file loads", || {
        let (_, v) = s.get_json("/api/v1/rules");
        match v["data"]["groups"][0]["rules"][0]["name"].as_str() {
            Some("fixed") => Ok(()),
            _ => Err(v.to_string()),
        }
    });
    healthy(&mut s);
}

/// Subqueries are held to --query.max-samples and --query.timeout like
/// everything else (they grew pharos to 24 GB before).
#[test]
fn subqueries_obey_sample_limit_and_timeout() {
    let (_d, mut s) = start(&["--query.max-samples=1000000"]);
    for q in [
        "count_over_time(vector(1)[10y:1ms])",
        "count_over_time(vector(1)[1d:1ms])",
    ] {
        let (code, v) = post_form(&s, "/api/v1/query", &[("query", q)]);
        assert_eq!(code, 422, "{q}: {v}");
        assert_eq!(v["errorType"], "execution");
        assert_eq!(
            v["error"],
            "query processing would load too many samples into memory in query execution"
        );
    }
    // 100 series at every millisecond of an hour: 360 M points.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let hundred_series = || -> Vec<_> {
        (0..100)
            .map(|i| {
                series(
                    &[("__name__", "s"), ("i", &i.to_string())],
                    &[(now - 60_000, 1.0)],
                )
            })
            .collect()
    };
    assert_eq!(write_v1(&s, hundred_series()).unwrap().0, 204);
    let (code, v) = post_form(
        &s,
        "/api/v1/query",
        &[("query", "sort_desc(quantile_over_time(0.5, s[1h:1ms]))")],
    );
    assert_eq!(code, 422, "{v}");
    // A timeout shorter than the work: 503 timeout, in time.
    let (_d2, s2) = start(&["--query.timeout=100ms", "--query.max-samples=1000000000"]);
    assert_eq!(write_v1(&s2, hundred_series()).unwrap().0, 204);
    let started = Instant::now();
    let (code, v) = post_form(
        &s2,
        "/api/v1/query",
        &[("query", "sort_desc(quantile_over_time(0.5, s[5m:1ms]))")],
    );
    assert_eq!(code, 503, "{v}");
    assert_eq!(v["errorType"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(20));
    healthy(&mut s);
}

/// Nine levels of nine aliases ("billion laughs") drove `check config` to
/// 24 GB. Every YAML reader refuses it with file:line, at once.
#[test]
fn yaml_alias_bombs_are_refused_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = |key: &str| {
        let mut s = String::from("x:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let mut prev = "a".to_string();
        for n in ["b", "c", "d", "e", "f", "g", "h", "i"] {
            s.push_str(&format!(
                "  {n}: &{n} [{}]\n",
                vec![format!("*{prev}"); 9].join(",")
            ));
            prev = n.to_string();
        }
        s.push_str(&format!("{key}: *i\n"));
        s
    };
    for (what, key) in [
        ("config", "scrape_configs"),
        ("rules", "groups"),
        ("alertmanager", "receivers"),
    ] {
        let f = dir.path().join(format!("{what}.yml"));
        std::fs::write(&f, bomb(key)).unwrap();
        let started = Instant::now();
        let out = Command::new(pharos_bin())
            .args(["check", what])
            .arg(&f)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{what}: {text}");
        assert!(text.contains("excessive aliasing"), "{what}: {text}");
        assert!(text.contains(&format!("{what}.yml:")), "{what}: {text}");
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
    }
}

/// With stderr unwritable (`2>/dev/full`, a full disk under the log) the
/// server used to exit 101 and drop requests unanswered. Logging is lossy
/// now: every request is answered and the process stays up.
#[test]
fn unwritable_log_does_not_take_the_server_down() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", pharos_tests::free_tcp_port());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut child = ChildGuard::spawn(
        Command::new(pharos_bin())
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .args(["--collector.host=false", "--log.level=debug"])
            .stdout(Stdio::null())
            .stderr(full),
    );
    wait_ready(&addr);
    for i in 0..20 {
        // Bad writes log a warning each; every one must still be answered.
        let (code, _) = pharos_tests::post_write_to(&addr, b"not snappy".to_vec(), None).unwrap();
        assert_eq!(code, 400);
        let ts = vec![series(
            &[("__name__", "w"), ("i", &i.to_string())],
            &[(1, 1.0)],
        )];
        let (code, body) = pharos_tests::write_v1_to(&addr, ts).unwrap();
        assert!(code == 204 || code == 400, "{code} {body}");
    }
    let c = child.0.as_mut().unwrap();
    assert!(matches!(c.try_wait(), Ok(None)), "pharos exited");
}

/// POSTs a remote-read body; returns the status and the raw answer.
fn post_read(s: &Server, body: Vec<u8>) -> (u16, Vec<u8>) {
    let r = reqwest::blocking::Client::new()
        .post(s.url("/api/v1/read"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.bytes().unwrap().to_vec())
}

fn read_request(queries: usize) -> Vec<u8> {
    let q = proto::Query {
        start_timestamp_ms: 0,
        end_timestamp_ms: i64::MAX,
        matchers: vec![proto::LabelMatcher {
            r#type: 2,
            name: "__name__".into(),
            value: ".+".into(),
        }],
        hints: None,
    };
    snappy(
        &proto::ReadRequest {
            queries: vec![q; queries],
            accepted_response_types: vec![],
        }
        .encode_to_vec(),
    )
}

/// Remote read had no budget: 500 queries of everything in one small
/// request took 458 MB. The sample limit counts over the whole request,
/// and the responses in flight share a byte budget.
#[test]
fn remote_read_sample_limit_covers_the_whole_request() {
    let (_d, mut s) = start(&["--storage.remote.read-sample-limit=1000"]);
    let ts: Vec<_> = (0..10)
        .map(|i| {
            series(
                &[("__name__", "r"), ("i", &i.to_string())],
                &(0..50).map(|t| (t * 1000, 1.0)).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(write_v1(&s, ts).unwrap().0, 204);
    let post = |body| post_read(&s, body);
    // One query: 500 samples, within the limit.
    let (code, body) = post(read_request(1));
    assert_eq!(code, 200);
    let resp =
        proto::ReadResponse::decode(&snap::raw::Decoder::new().decompress_vec(&body).unwrap()[..])
            .unwrap();
    assert_eq!(resp.results.len(), 1);
    assert_eq!(resp.results[0].timeseries.len(), 10);
    // 500 copies of it: refused, not answered with 250 000 samples.
    let (code, body) = post(read_request(500));
    assert_eq!(code, 400);
    assert!(String::from_utf8_lossy(&body).contains("exceeded sample limit (1000)"));
    healthy(&mut s);
    let (_, flags) = s.get_json("/api/v1/status/flags");
    assert_eq!(flags["data"]["storage.remote.read-sample-limit"], "1000");
    assert_eq!(flags["data"]["storage.remote.read-concurrent-limit"], "10");

    // The labels of every series come back once per query: the byte
    // budget stops a request that repeats a query, whatever its samples.
    let (_d2, mut s2) = start(&["--storage.remote.read-max-bytes=1MiB"]);
    let ts: Vec<_> = (0..10)
        .map(|i| {
            series(
                &[
                    ("__name__", "r"),
                    ("i", &i.to_string()),
                    ("pad", &"p".repeat(500)),
                ],
                &(0..50).map(|t| (t * 1000, 1.0)).collect::<Vec<_>>(),
            )
        })
        .collect();
    assert_eq!(write_v1(&s2, ts).unwrap().0, 204);
    let post2 = |body| {
        let (code, bytes) = post_read(&s2, body);
        (code, String::from_utf8_lossy(&bytes).into_owned())
    };
    assert_eq!(post2(read_request(1)).0, 200);
    let (code, text) = post2(read_request(200));
    assert_eq!(code, 400, "{text}");
    assert!(text.contains("--storage.remote.read-max-bytes"), "{text}");
    // What one request held is given back: the next small one passes.
    assert_eq!(post2(read_request(1)).0, 200);
    healthy(&mut s2);
}

/// Half-sent requests were never timed out; now --web.read-timeout closes
/// them. A 34 MB alerts body is answered 413, not reset.
#[test]
fn slow_and_oversize_clients_are_cut_off() {
    let (_d, mut s) = start(&["--web.read-timeout=2s"]);
    let mut half = TcpStream::connect(&s.addr).unwrap();
    half.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    half.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = half.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(10),
        "closed after {waited:?}"
    );

    let body = format!(
        "[{}]",
        vec![r#"{"labels":{"alertname":"x"}}"#; 1_200_000].join(",")
    );
    assert!(body.len() > 34_000_000);
    let r = reqwest::blocking::Client::new()
        .post(s.url("/api/v2/alerts"))
        .header("Content-Type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .expect("an answer, not a reset");
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = serde_json::from_str(&r.text().unwrap()).unwrap();
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("larger than the limit"));

    healthy(&mut s);
}

fn open_files(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    let n = |s: &str| s.parse().unwrap_or(u64::MAX);
    (n(f[3]), n(f[4]))
}

/// With the usual soft limit of 1 024 open files, ~1 100 half-sent
/// requests made `/-/healthy` time out. pharos raises the soft limit to
/// the hard one at start (as Go does for Prometheus), so they do not.
#[test]
fn open_files_limit_is_raised_and_idle_connections_do_not_lock_out() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", pharos_tests::free_tcp_port());
    let mut cmd = Command::new(pharos_bin());
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .args(["--collector.host=false", "--collector.self=false"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            lim.rlim_cur = lim.rlim_cur.min(256);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            Ok(())
        });
    }
    let child = ChildGuard::spawn(&mut cmd);
    let pid = child.0.as_ref().unwrap().id();
    wait_ready(&addr);
    let (soft, hard) = open_files(pid);
    assert_eq!(soft, hard, "started with a soft limit of 256");
    // 1 100 half-sent requests, if this machine lets the test hold them.
    let (mine, _) = open_files(std::process::id());
    let n = if hard >= 2400 && mine >= 2400 {
        1100
    } else {
        200
    };
    let idle: Vec<TcpStream> = (0..n)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(b"POST /api/v1/query HTTP/1.1\r\n").unwrap();
            c
        })
        .collect();
    let r = reqwest::blocking::Client::new()
        .get(format!("http://{addr}/-/healthy"))
        .timeout(Duration::from_secs(10))
        .send()
        .expect("/-/healthy answers beside the idle connections");
    assert_eq!(r.status().as_u16(), 200);
    drop(idle);
}

/// `/api/v1/status/config` returned prometheus.yml verbatim and
/// `/api/v2/status` leaked flow-style secrets; a warning logged a
/// remote_write URL with its token. Both status APIs now render the parsed
/// configuration with every secret as `<secret>`.
#[test]
fn status_apis_hide_every_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        r"global:
  scrape_interval: 15s
scrape_configs:
- job_name: block
  basic_auth:
    username: u
    password: blockpass1
  static_configs: [{targets: ['127.0.0.1:1']}]
- job_name: flow
  authorization: {credentials: flowcred2}
  static_configs: [{targets: ['127.0.0.1:1']}]
- job_name: oauth
  oauth2: {client_id: c, client_secret: oauthsecret3, token_url: 'http://127.0.0.1:1/t'}
  static_configs: [{targets: ['127.0.0.1:1']}]
remote_write:
- url: https://writer:userinfopass4@metrics.example/api/v1/write?token=querytoken5
alerting:
  alertmanagers:
  - basic_auth: {username: am, password: ampass6}
    static_configs: [{targets: ['127.0.0.1:1']}]
",
    )
    .unwrap();
    let am = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am,
        "global:\n  smtp_auth_password: smtppass7\nroute: {receiver: hook}\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://127.0.0.1:1/hooktoken8\n    http_config: {basic_auth: {username: u, password: flowhookpass9}}\n",
    )
    .unwrap();
    let am_flag = format!("--alertmanager.config.file={}", am.display());
    let mut s = Server::start_with_config(
        &dir.path().join("data"),
        &config,
        &["--collector.host=false", "--collector.self=false", &am_flag],
    );
    let secrets = [
        "blockpass1",
        "flowcred2",
        "oauthsecret3",
        "userinfopass4",
        "querytoken5",
        "ampass6",
        "smtppass7",
        "hooktoken8",
        "flowhookpass9",
    ];
    let (code, v) = s.get_json("/api/v1/status/config");
    assert_eq!(code, 200);
    let yaml = v["data"]["yaml"].as_str().unwrap();
    let (code, v) = s.get_json("/api/v2/status");
    assert_eq!(code, 200);
    let am_yaml = v["config"]["original"].as_str().unwrap();
    for secret in secrets {
        assert!(!yaml.contains(secret), "{secret} in\n{yaml}");
        assert!(!am_yaml.contains(secret), "{secret} in\n{am_yaml}");
        assert!(!s.log_text().contains(secret), "{secret} in the log");
    }
    assert!(
        yaml.contains("<secret>") && yaml.contains("username: u"),
        "{yaml}"
    );
    assert!(yaml.contains("writer:xxxxx@metrics.example"), "{yaml}");
    assert!(yaml.contains("job_name: flow"), "{yaml}");
    assert!(am_yaml.contains("<secret>"), "{am_yaml}");
    // No colour codes in a log that is not a terminal.
    assert!(!s.log_text().contains('\u{1b}'), "{}", s.log_text());
    healthy(&mut s);
}

/// `/-/quit` and `/-/reload` answered anyone, and a form post from any
/// page stopped the server. They are off without --web.enable-lifecycle
/// (as in Prometheus), and state-changing requests from browser origins
/// --web.cors.origin does not allow are refused.
#[test]
fn lifecycle_is_gated_and_foreign_origins_cannot_write() {
    let (_d, mut s) = start(&[]);
    for path in ["/-/quit", "/-/reload"] {
        let (code, body) = s.post(path);
        assert_eq!(
            (code, body.as_str()),
            (403, "Lifecycle API is not enabled.")
        );
    }
    healthy(&mut s);
    let (_d2, mut s2) = start(&[
        "--web.enable-lifecycle",
        "--web.cors.origin=https://dash\\.example\\.com",
    ]);
    let post_from = |s: &Server, path: &str, origin: &str| {
        reqwest::blocking::Client::new()
            .post(s.url(path))
            .header("Origin", origin)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("")
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post_from(&s2, "/-/quit", "https://evil.example"), 403);
    assert_eq!(
        post_from(
            &s2,
            "/api/v1/collectors/cpu?enabled=false",
            "https://evil.example"
        ),
        403
    );
    healthy(&mut s2);
    // The allowed origin and pharos's own pages may.
    assert_eq!(post_from(&s2, "/-/reload", "https://dash.example.com"), 200);
    let own = format!("http://{}", s2.addr);
    assert_eq!(post_from(&s2, "/-/reload", &own), 200);
    assert_eq!(post_from(&s2, "/-/quit", &own), 200);
    wait_for(Duration::from_secs(20), "shut down by /-/quit", || {
        if s2.alive() {
            Err("still running".into())
        } else {
            Ok(())
        }
    });
}

/// A remote-write 1.0 body sent with the 2.0 content type was answered 204
/// with nothing stored. A body with none of the announced version's fields
/// is refused and the reply says why.
#[test]
fn remote_write_body_of_the_other_version_is_refused() {
    let (_d, mut s) = start(&[]);
    let v1 = proto::WriteRequest {
        timeseries: vec![series(&[("__name__", "m")], &[(1000, 1.0)])],
        metadata: vec![],
    };
    let (code, body) = post_write(
        &s,
        snappy(&v1.encode_to_vec()),
        Some("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
    )
    .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("was it a 1.0 request"), "{body}");
    assert!(s.export("m").is_empty());
    healthy(&mut s);
}
