//! The query API end to end, as its users call it: the real `promtool query
//! {instant,range,series,labels}` (Debian's `prometheus` package), a
//! Grafana-style client (form posts with seconds, the metadata calls and the
//! build-info probe Grafana makes), bad queries answered with Prometheus's
//! error envelope and status codes (the server staying up after each), and
//! the status endpoints in Prometheus's shapes.
//!
//! The data is an OpenMetrics file written here with known values and
//! imported with `pharos import openmetrics`. Its timestamps end a minute
//! before now because retention counts back from the newest sample; they
//! are whole seconds so that every expected value below is exact:
//!
//! - sample `i` (0..=236) is at `S + 15 i` seconds, `S` a whole minute an
//!   hour ago;
//! - `http_requests_total{job="api",instance="a",code="200"}` = `10 i`,
//!   `{job="api",instance="a",code="500"}` = `i`,
//!   `{job="web",instance="b",code="200"}` = `5 i`;
//! - `temperature_celsius{room="lab"}` = `20 + (i mod 7) / 2`;
//! - `load{shard="0".."299"}` = `i + shard`: many series for a heavy query.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pharos_tests::{pharos_bin, Server};
use serde_json::{json, Value};

const PROMTOOL: &str = "/usr/bin/promtool";
const SHARDS: usize = 300;
const LAST: i64 = 236;

/// The imported data set: its start `S` (seconds) and the data directory.
struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    start: i64,
}

impl Fixture {
    /// Time of sample `i`, in seconds.
    fn t(&self, i: i64) -> i64 {
        self.start + 15 * i
    }
}

fn temperature(i: i64) -> f64 {
    20.0 + (i % 7) as f64 / 2.0
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = now / 60 * 60 - 3600;
    let mut om = String::new();
    om.push_str("# HELP http_requests Requests served.\n# TYPE http_requests counter\n");
    for (labels, per_step) in [
        (r#"code="200",instance="a",job="api""#, 10),
        (r#"code="500",instance="a",job="api""#, 1),
        (r#"code="200",instance="b",job="web""#, 5),
    ] {
        for i in 0..=LAST {
            writeln!(
                om,
                "http_requests_total{{{labels}}} {} {}",
                per_step * i,
                start + 15 * i
            )
            .unwrap();
        }
    }
    om.push_str("# TYPE temperature_celsius gauge\n");
    for i in 0..=LAST {
        writeln!(
            om,
            "temperature_celsius{{room=\"lab\"}} {} {}",
            temperature(i),
            start + 15 * i
        )
        .unwrap();
    }
    om.push_str("# TYPE load gauge\n");
    for shard in 0..SHARDS {
        for i in 0..=LAST {
            writeln!(
                om,
                "load{{shard=\"{shard}\"}} {} {}",
                i + shard as i64,
                start + 15 * i
            )
            .unwrap();
        }
    }
    om.push_str("# EOF\n");
    let file = dir.path().join("data.om");
    std::fs::write(&file, om).unwrap();
    let data = dir.path().join("data");
    let out = Command::new(pharos_bin())
        .args(["import", "openmetrics"])
        .arg(&file)
        .arg(format!("--storage.path={}", data.display()))
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "import failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A configuration with no scrape jobs: nothing but the imported data
    // is stored, and /api/v1/status/config has a file to show.
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 15s\n  evaluation_interval: 1m\n",
    )
    .unwrap();
    Fixture {
        _dir: dir,
        data,
        config,
        start,
    }
}

fn start_server(f: &Fixture) -> Server {
    Server::start_with_config(
        &f.data,
        &f.config,
        &["--collector.host=false", "--collector.self=false"],
    )
}

/// Runs promtool with `args`; returns its stdout, failing on a non-zero exit.
fn promtool(args: &[&str]) -> String {
    let out = Command::new(PROMTOOL).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "promtool {args:?} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn healthy(s: &mut Server) {
    assert!(s.alive(), "pharos died:\n{}", s.log_text());
    let (code, _) = s.get_text("/-/healthy");
    assert_eq!(code, 200, "/-/healthy after a bad query");
}

#[test]
fn promtool_queries_pharos() {
    if !Path::new(PROMTOOL).exists() {
        eprintln!("skipping: {PROMTOOL} is missing (Debian package `prometheus`; tests/run.sh installs it)");
        return;
    }
    let f = fixture();
    let s = start_server(&f);
    let url = format!("http://{}", s.addr);
    let t = f.t(200);
    let ts = t.to_string();

    // Instant: promtool prints `{labels} => value @[time]`, one per line.
    let out = promtool(&[
        "query",
        "instant",
        "--time",
        &ts,
        &url,
        r#"http_requests_total{code="200"}"#,
    ]);
    assert!(
        out.contains(&format!(
            r#"http_requests_total{{code="200", instance="a", job="api"}} => 2000 @[{t}]"#
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            r#"http_requests_total{{code="200", instance="b", job="web"}} => 1000 @[{t}]"#
        )),
        "{out}"
    );
    assert_eq!(out.lines().count(), 2, "{out}");

    // 20 samples of +10 in the left-open 5m window, extrapolated to the
    // window's start: exactly 10/15 per second.
    let out = promtool(&[
        "query",
        "instant",
        "--time",
        &ts,
        &url,
        r#"rate(http_requests_total{job="api"}[5m])"#,
    ]);
    assert!(
        out.contains(&format!(
            r#"{{code="200", instance="a", job="api"}} => 0.6666666666666666 @[{t}]"#
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            r#"{{code="500", instance="a", job="api"}} => 0.06666666666666667 @[{t}]"#
        )),
        "{out}"
    );

    // A scalar, and JSON output (promtool decodes the API's JSON itself).
    let out = promtool(&["query", "instant", "--time", &ts, &url, "count(load) * 2"]);
    assert!(
        out.contains(&format!("{{}} => {} @[{t}]", SHARDS * 2)),
        "{out}"
    );
    let out = promtool(&[
        "query",
        "instant",
        "--time",
        &ts,
        &url,
        "scalar(count(load))",
    ]);
    assert!(out.contains(&format!("scalar: {SHARDS} @[{t}]")), "{out}");
    let out = promtool(&[
        "query",
        "instant",
        "-o",
        "json",
        "--time",
        &ts,
        &url,
        "temperature_celsius",
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        v,
        json!([{"metric": {"__name__": "temperature_celsius", "room": "lab"}, "value": [t, "22"]}])
    );

    // Range: `{labels} =>` then `value @[time]` per step.
    let (start, end) = (f.t(192).to_string(), f.t(200).to_string());
    let out = promtool(&[
        "query",
        "range",
        "--start",
        &start,
        "--end",
        &end,
        "--step",
        "1m",
        &url,
        "temperature_celsius",
    ]);
    let want = format!(
        "temperature_celsius{{room=\"lab\"}} =>\n{} @[{}]\n{} @[{}]\n{} @[{}]\n",
        temperature(192),
        f.t(192),
        temperature(196),
        f.t(196),
        temperature(200),
        f.t(200)
    );
    assert_eq!(out, want);
    let out = promtool(&[
        "query",
        "range",
        "--start",
        &start,
        "--end",
        &end,
        "--step",
        "60s",
        &url,
        "sum by (job) (http_requests_total)",
    ]);
    assert!(
        out.contains(&format!(
            "{{job=\"api\"}} =>\n{} @[{}]\n",
            11 * 192,
            f.t(192)
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{{job=\"web\"}} =>\n{} @[{}]\n",
            5 * 192,
            f.t(192)
        )),
        "{out}"
    );

    // Series and label values.
    let out = promtool(&["query", "series", "--match", "http_requests_total", &url]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{__name__="http_requests_total", code="200", instance="a", job="api"}"#,
            r#"{__name__="http_requests_total", code="200", instance="b", job="web"}"#,
            r#"{__name__="http_requests_total", code="500", instance="a", job="api"}"#,
        ],
        "{out}"
    );
    let out = promtool(&["query", "series", "--match", r#"load{shard=~"1."}"#, &url]);
    assert_eq!(out.lines().count(), 10, "{out}");
    let out = promtool(&["query", "labels", &url, "job"]);
    assert_eq!(out, "api\nweb\n");
    let out = promtool(&["query", "labels", &url, "__name__"]);
    assert_eq!(out, "http_requests_total\nload\ntemperature_celsius\n");

    // A bad query: promtool shows Prometheus's error type and message.
    let out = Command::new(PROMTOOL)
        .args(["query", "instant", &url, "rate(http_requests_total"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad_data: invalid parameter \"query\""),
        "{stderr}"
    );
}

/// A client that speaks like Grafana's Prometheus data source.
struct Grafana {
    http: reqwest::blocking::Client,
    base: String,
}

impl Grafana {
    fn post_form(&self, path: &str, form: &[(&str, String)]) -> (u16, String) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    fn get(&self, path: &str, query: &[(&str, String)]) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .query(query)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// `[<number>, "<string>"]`, as Prometheus writes a sample.
fn assert_point(p: &Value) {
    let a = p
        .as_array()
        .unwrap_or_else(|| panic!("point {p} is not an array"));
    assert_eq!(a.len(), 2, "{p}");
    assert!(a[0].is_number(), "timestamp of {p}");
    assert!(a[1].is_string(), "value of {p}");
}

#[test]
fn grafana_style_client() {
    let f = fixture();
    let s = start_server(&f);
    let g = Grafana {
        http: reqwest::blocking::Client::new(),
        base: format!("http://{}", s.addr),
    };
    let t = f.t(200);

    // The probe Grafana makes when a data source is saved.
    let (code, body) = g.get("/api/v1/status/buildinfo", &[]);
    assert_eq!(code, 200);
    assert!(
        body.starts_with(r#"{"status":"success","data":{"#),
        "{body}"
    );
    let v = parse(&body);
    for k in [
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    ] {
        assert!(v["data"][k].is_string(), "buildinfo.{k}: {body}");
    }

    // Instant query (table panels, alert previews): form post with `time`.
    let (code, body) = g.post_form(
        "/api/v1/query",
        &[
            ("query", "temperature_celsius".into()),
            ("time", t.to_string()),
        ],
    );
    assert_eq!(code, 200);
    assert_eq!(
        body,
        format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{"__name__":"temperature_celsius","room":"lab"}},"value":[{t},"22"]}}]}}}}"#
        )
    );
    // Fractional times keep their milliseconds; scalars are a bare point.
    let (code, body) = g.post_form(
        "/api/v1/query",
        &[("query", "1 + 1".into()), ("time", format!("{t}.5"))],
    );
    assert_eq!(code, 200);
    assert_eq!(
        body,
        format!(
            r#"{{"status":"success","data":{{"resultType":"scalar","result":[{t}.500,"2"]}}}}"#
        )
    );

    // Range query (graph panels): start, end and step in seconds.
    let (code, body) = g.post_form(
        "/api/v1/query_range",
        &[
            ("query", "temperature_celsius".into()),
            ("start", f.t(192).to_string()),
            ("end", f.t(200).to_string()),
            ("step", "60".into()),
        ],
    );
    assert_eq!(code, 200);
    assert_eq!(
        body,
        format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"__name__":"temperature_celsius","room":"lab"}},"values":[[{},"21.5"],[{},"20"],[{},"22"]]}}]}}}}"#,
            f.t(192),
            f.t(196),
            f.t(200)
        )
    );
    let (code, body) = g.post_form(
        "/api/v1/query_range",
        &[
            (
                "query",
                "sum by (job) (rate(http_requests_total[5m]))".into(),
            ),
            ("start", (t - 600).to_string()),
            ("end", t.to_string()),
            ("step", "60".into()),
        ],
    );
    assert_eq!(code, 200);
    assert!(
        body.starts_with(r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"api"},"values":[["#),
        "{body}"
    );
    let v = parse(&body);
    let result = v["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2);
    assert_eq!(result[1]["metric"], json!({"job": "web"}));
    for (series, want) in result.iter().zip([11.0 / 15.0, 5.0 / 15.0]) {
        let values = series["values"].as_array().unwrap();
        assert_eq!(values.len(), 11, "{series}");
        for (k, p) in values.iter().enumerate() {
            assert_point(p);
            assert_eq!(p[0].as_i64(), Some(t - 600 + 60 * k as i64), "{p}");
            let x: f64 = p[1].as_str().unwrap().parse().unwrap();
            assert!((x - want).abs() < 1e-12, "{p} != {want}");
        }
    }
    // The same as a GET (Grafana's "HTTP method: GET" setting).
    let (code, get_body) = g.get(
        "/api/v1/query_range",
        &[
            (
                "query",
                "sum by (job) (rate(http_requests_total[5m]))".into(),
            ),
            ("start", (t - 600).to_string()),
            ("end", t.to_string()),
            ("step", "60".into()),
        ],
    );
    assert_eq!(code, 200);
    assert_eq!(get_body, body);

    // Metadata: the query editor's metric and label pickers.
    let range = [
        ("start", f.t(0).to_string()),
        ("end", f.t(LAST).to_string()),
    ];
    let (code, body) = g.get("/api/v1/labels", &range);
    assert_eq!(code, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":["__name__","code","instance","job","room","shard"]}"#
    );
    let (code, body) = g.get("/api/v1/label/__name__/values", &range);
    assert_eq!(code, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":["http_requests_total","load","temperature_celsius"]}"#
    );
    let (code, body) = g.get(
        "/api/v1/series",
        &[
            ("match[]", r#"http_requests_total{job="api"}"#.into()),
            ("start", f.t(0).to_string()),
            ("end", f.t(LAST).to_string()),
        ],
    );
    assert_eq!(code, 200);
    assert_eq!(
        parse(&body),
        json!({"status": "success", "data": [
            {"__name__": "http_requests_total", "code": "200", "instance": "a", "job": "api"},
            {"__name__": "http_requests_total", "code": "500", "instance": "a", "job": "api"},
        ]})
    );
    assert!(
        body.starts_with(
            r#"{"status":"success","data":[{"__name__":"http_requests_total","code":"200""#
        ),
        "{body}"
    );

    // Grafana's variable query `label_values(http_requests_total, job)`.
    let (code, body) = g.get(
        "/api/v1/label/job/values",
        &[
            ("match[]", "http_requests_total".into()),
            ("start", f.t(0).to_string()),
            ("end", f.t(LAST).to_string()),
        ],
    );
    assert_eq!(code, 200);
    assert_eq!(body, r#"{"status":"success","data":["api","web"]}"#);

    // format_query (the query editor's "format" button in Prometheus's UI).
    let (code, body) = g.get(
        "/api/v1/format_query",
        &[("query", "sum(rate(x[5m]))by(job)".into())],
    );
    assert_eq!(code, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":"sum by (job) (rate(x[5m]))"}"#
    );
}

/// `(code, body)` of an instant query (GET, as Grafana's explore does).
fn query(s: &Server, q: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut params = vec![("query", q)];
    params.extend_from_slice(extra);
    s.get_json_query("/api/v1/query", &params)
}

/// The raw error body must be Prometheus's envelope, keys in its order.
fn assert_error(code: u16, body: &str, want_code: u16, want_type: &str) {
    assert_eq!(code, want_code, "{body}");
    let prefix = format!(r#"{{"status":"error","errorType":"{want_type}","error":""#);
    assert!(
        body.starts_with(&prefix),
        "{body} does not start with {prefix}"
    );
    let v = parse(body);
    assert_eq!(v.as_object().unwrap().len(), 3, "{body}");
}

#[test]
fn bad_queries_get_prometheus_errors() {
    let f = fixture();
    let mut s = start_server(&f);
    let t = f.t(200).to_string();
    let base = format!("http://{}", s.addr);
    let raw = |path: &str, params: &[(&str, &str)]| -> (u16, String) {
        let r = reqwest::blocking::Client::new()
            .get(format!("{base}{path}"))
            .query(params)
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    };

    // Parse errors and type errors: 400 bad_data, naming the parameter.
    for q in [
        "rate(http_requests_total",
        "http_requests_total{",
        "sum(",
        "rate(up)",
        "rate(http_requests_total)",
        "nosuchfunction(http_requests_total)",
        "sum(http_requests_total[5m])",
        r#"topk("x", http_requests_total)"#,
        "http_requests_total[5m] + 1",
        "",
    ] {
        let (code, body) = raw("/api/v1/query", &[("query", q), ("time", &t)]);
        assert_error(code, &body, 400, "bad_data");
        assert!(
            body.contains(r#""error":"invalid parameter \"query\": "#),
            "{q:?}: {body}"
        );
        healthy(&mut s);
    }
    let (code, body) = raw("/api/v1/query", &[("query", "rate(up)"), ("time", &t)]);
    assert_error(code, &body, 400, "bad_data");
    assert!(body.contains("rate"), "{body}");

    // Execution errors: 422.
    for q in [
        r#"label_replace(up, "a", "b", "c", "(")"#,
        r#"label_replace(http_requests_total, "a", "b", "c", "(")"#,
        // Many-to-many matching.
        "http_requests_total + on(job) http_requests_total",
        // Two series with the same labels once `code` is overwritten.
        r#"label_replace(http_requests_total, "code", "x", "code", ".*")"#,
    ] {
        let (code, body) = raw("/api/v1/query", &[("query", q), ("time", &t)]);
        assert_error(code, &body, 422, "execution");
        healthy(&mut s);
    }
    let (code, body) = raw(
        "/api/v1/query",
        &[
            ("query", r#"label_replace(up, "a", "b", "c", "(")"#),
            ("time", &t),
        ],
    );
    assert_error(code, &body, 422, "execution");
    assert!(
        body.contains("invalid regular expression in label_replace(): ("),
        "{body}"
    );

    // Bad parameters: 400 bad_data.
    let (code, body) = raw("/api/v1/query", &[("query", "1"), ("time", "yesterday")]);
    assert_error(code, &body, 400, "bad_data");
    let (code, body) = raw(
        "/api/v1/query_range",
        &[("query", "1"), ("start", "1"), ("end", "0"), ("step", "1")],
    );
    assert_error(code, &body, 400, "bad_data");
    let (code, body) = raw(
        "/api/v1/query_range",
        &[("query", "1"), ("start", "0"), ("end", "1"), ("step", "0")],
    );
    assert_error(code, &body, 400, "bad_data");
    let (code, body) = raw(
        "/api/v1/query_range",
        &[("query", "1"), ("start", "0"), ("end", "1")],
    );
    assert_error(code, &body, 400, "bad_data");
    let (code, body) = raw("/api/v1/query", &[("query", "1"), ("timeout", "soon")]);
    assert_error(code, &body, 400, "bad_data");
    healthy(&mut s);

    // Too many points: an hour at 0.1 s is 36 000 points per series.
    let start = f.t(0).to_string();
    let end = f.t(240).to_string();
    let (code, body) = raw(
        "/api/v1/query_range",
        &[
            ("query", "http_requests_total"),
            ("start", &start),
            ("end", &end),
            ("step", "0.1"),
        ],
    );
    assert_error(code, &body, 400, "bad_data");
    assert!(
        body.contains("exceeded maximum resolution of 11,000 points per timeseries"),
        "{body}"
    );
    // 11 000 is still allowed.
    let end_ok = (f.t(0) + 11_000).to_string();
    let (code, body) = raw(
        "/api/v1/query_range",
        &[
            ("query", "vector(1)"),
            ("start", &start),
            ("end", &end_ok),
            ("step", "1"),
        ],
    );
    assert_eq!(code, 200, "{body}");
    healthy(&mut s);

    // A 1 ms timeout on a query over every `load` series, whose
    // right-hand side is only evaluated after the heavy left one.
    let heavy = "sum(rate(load[1h])) + sum(avg_over_time(load[1h])) + 1";
    let (code, body) = raw(
        "/api/v1/query_range",
        &[
            ("query", heavy),
            ("start", &start),
            ("end", &f.t(LAST).to_string()),
            ("step", "15"),
            ("timeout", "1ms"),
        ],
    );
    assert_error(code, &body, 503, "timeout");
    assert!(body.contains("query timed out"), "{body}");
    healthy(&mut s);
    // The same query with the default timeout succeeds.
    let (code, body) = raw(
        "/api/v1/query_range",
        &[
            ("query", heavy),
            ("start", &start),
            ("end", &f.t(LAST).to_string()),
            ("step", "15"),
        ],
    );
    assert_eq!(code, 200, "{body}");

    // And the server still answers queries.
    let (code, v) = query(&s, "count(load)", &[("time", &t)]);
    assert_eq!(code, 200);
    assert_eq!(
        v["data"]["result"][0]["value"][1],
        json!(SHARDS.to_string())
    );
    healthy(&mut s);
}

#[test]
fn status_endpoints_have_prometheus_shapes() {
    let f = fixture();
    let s = start_server(&f);

    let (code, v) = s.get_json("/api/v1/status/runtimeinfo");
    assert_eq!(code, 200);
    assert_eq!(v["status"], "success");
    let d = &v["data"];
    for k in [
        "startTime",
        "CWD",
        "lastConfigTime",
        "GOGC",
        "GODEBUG",
        "storageRetention",
    ] {
        assert!(d[k].is_string(), "runtimeinfo.{k}: {v}");
    }
    for k in ["corruptionCount", "goroutineCount", "GOMAXPROCS"] {
        assert!(d[k].is_u64(), "runtimeinfo.{k}: {v}");
    }
    assert!(d["reloadConfigSuccess"].as_bool() == Some(true), "{v}");
    assert_eq!(d["storageRetention"], "15d");

    let (code, v) = s.get_json("/api/v1/status/buildinfo");
    assert_eq!(code, 200);
    assert!(
        v["data"]["version"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );

    let (code, v) = s.get_json("/api/v1/status/flags");
    assert_eq!(code, 200);
    let flags = v["data"].as_object().unwrap();
    assert!(flags.values().all(Value::is_string), "{v}");
    assert_eq!(flags["web.listen-address"], json!(s.addr));
    assert_eq!(flags["config.file"], json!(f.config.display().to_string()));
    assert_eq!(flags["query.lookback-delta"], "5m");

    let (code, v) = s.get_json("/api/v1/status/config");
    assert_eq!(code, 200);
    assert_eq!(v["data"].as_object().unwrap().len(), 1, "{v}");
    let yaml = v["data"]["yaml"].as_str().unwrap();
    assert!(yaml.contains("scrape_interval: 15s"), "{yaml}");

    let (code, body) = s.get_text("/api/v1/status/tsdb");
    assert_eq!(code, 200);
    assert!(
        body.starts_with(r#"{"status":"success","data":{"headStats":{"#),
        "{body}"
    );
    let v = parse(&body);
    let d = &v["data"];
    let series = SHARDS as u64 + 4;
    assert_eq!(d["headStats"]["numSeries"], json!(series), "{body}");
    // Prometheus counts the head's chunks only (none for backfilled data).
    assert!(d["headStats"]["chunkCount"].is_u64(), "{body}");
    // shard × 300, __name__ × 3, code × 2, instance × 2, job × 2, room.
    assert_eq!(
        d["headStats"]["numLabelPairs"],
        json!(SHARDS + 10),
        "{body}"
    );
    assert_eq!(d["headStats"]["minTime"], json!(f.t(0) * 1000), "{body}");
    assert_eq!(d["headStats"]["maxTime"], json!(f.t(LAST) * 1000), "{body}");
    assert_eq!(
        d["seriesCountByMetricName"],
        json!([
            {"name": "load", "value": SHARDS},
            {"name": "http_requests_total", "value": 3},
            {"name": "temperature_celsius", "value": 1},
        ]),
        "{body}"
    );
    let by_label = d["labelValueCountByLabelName"].as_array().unwrap();
    assert_eq!(
        by_label[0],
        json!({"name": "shard", "value": SHARDS}),
        "{body}"
    );
    assert!(
        by_label.contains(&json!({"name": "__name__", "value": 3})),
        "{body}"
    );
    assert!(
        by_label.contains(&json!({"name": "code", "value": 2})),
        "{body}"
    );
    for k in ["memoryInBytesByLabelName", "seriesCountByLabelValuePair"] {
        let list = d[k].as_array().unwrap_or_else(|| panic!("{k}: {body}"));
        assert!(!list.is_empty() && list.len() <= 10, "{k}: {body}");
        for e in list {
            assert!(e["name"].is_string() && e["value"].is_u64(), "{k}: {e}");
        }
    }
    assert!(
        d["seriesCountByLabelValuePair"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "__name__=load", "value": SHARDS})),
        "{body}"
    );
    // `limit` narrows the lists.
    let (_, v) = s.get_json("/api/v1/status/tsdb?limit=1");
    assert_eq!(
        v["data"]["seriesCountByMetricName"],
        json!([{"name": "load", "value": SHARDS}])
    );
}

#[test]
fn query_sample_limit_is_an_execution_error() {
    let f = fixture();
    // 300 `load` series: a range query over all of them holds more than
    // 100 samples.
    let mut s = Server::start_with_config(
        &f.data,
        &f.config,
        &[
            "--collector.host=false",
            "--collector.self=false",
            "--query.max-samples=100",
        ],
    );
    let t = f.t(200).to_string();
    let (code, v) = query(&s, "sum_over_time(load[1h])", &[("time", &t)]);
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["errorType"], "execution");
    assert_eq!(
        v["error"],
        "query processing would load too many samples into memory in query execution"
    );
    // A small query still works under the same limit.
    let (code, v) = query(
        &s,
        "up_total_small_nonexistent or vector(1)",
        &[("time", &t)],
    );
    assert_eq!(code, 200, "{v}");
    healthy(&mut s);
}

/// `query_log_file`: API and rule queries, one JSON line each as
/// Prometheus's query log writes them; a reload without the key closes it.
#[test]
fn queries_go_to_the_query_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("query.log");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: logged\n    interval: 1s\n    rules:\n      - record: one\n        expr: vector(1)\n",
    )
    .unwrap();
    let with_log = format!(
        "global:\n  evaluation_interval: 1s\n  query_log_file: {}\nrule_files: [rules.yml]\n",
        log.display()
    );
    std::fs::write(&config, &with_log).unwrap();
    let s = Server::start_with_config(
        &dir.path().join("data"),
        &config,
        &[
            "--collector.host=false",
            "--collector.self=false",
            "--web.enable-lifecycle",
        ],
    );
    let (code, _) = query(&s, "vector(2) + 1", &[("time", "1700000000")]);
    assert_eq!(code, 200);
    let (code, _) = s.get_json_query(
        "/api/v1/query_range",
        &[
            ("query", "time()"),
            ("start", "1700000000"),
            ("end", "1700000060"),
            ("step", "15"),
        ],
    );
    assert_eq!(code, 200);
    let (code, _) = query(&s, "sum(", &[]);
    assert_eq!(code, 400, "a query that does not parse");

    let entries = || -> Vec<Value> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let mut waited = 0;
    while !entries().iter().any(|e| e.get("ruleGroup").is_some()) {
        assert!(waited < 100, "no rule query logged: {:?}", entries());
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    let all = entries();
    let http: Vec<&Value> = all
        .iter()
        .filter(|e| e.get("httpRequest").is_some())
        .collect();
    assert_eq!(
        http.len(),
        2,
        "the unparseable query is not logged: {all:?}"
    );
    assert_eq!(
        http[0]["httpRequest"],
        json!({"clientIP": "127.0.0.1", "method": "GET", "path": "/api/v1/query"})
    );
    assert_eq!(
        http[0]["params"],
        json!({"end": "2023-11-14T22:13:20.000Z", "query": "vector(2) + 1", "start": "2023-11-14T22:13:20.000Z", "step": 0})
    );
    assert_eq!(http[1]["httpRequest"]["path"], "/api/v1/query_range");
    assert_eq!(
        http[1]["params"],
        json!({"end": "2023-11-14T22:14:20.000Z", "query": "time()", "start": "2023-11-14T22:13:20.000Z", "step": 15})
    );
    for e in &all {
        assert!(e["stats"]["timings"]["execTotalTime"].is_number(), "{e}");
        assert!(e["ts"].as_str().unwrap().ends_with('Z'), "{e}");
    }
    let rule = all.iter().find(|e| e.get("ruleGroup").is_some()).unwrap();
    assert_eq!(rule["ruleGroup"]["name"], "logged");
    assert!(
        rule["ruleGroup"]["file"]
            .as_str()
            .unwrap()
            .ends_with("rules.yml"),
        "{rule}"
    );
    assert_eq!(rule["params"]["query"], "vector(1)");
    let enabled = || -> f64 {
        let (_, metrics) = s.get_text("/metrics");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("prometheus_engine_query_log_enabled "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{metrics}"))
    };
    assert_eq!(enabled(), 1.0);

    // Without query_log_file the log is closed.
    std::fs::write(
        &config,
        with_log.replace(&format!("  query_log_file: {}\n", log.display()), ""),
    )
    .unwrap();
    let (code, body) = s.post("/-/reload");
    assert_eq!(code, 200, "{body}");
    assert_eq!(enabled(), 0.0);
    let before = entries().len();
    query(&s, "vector(3)", &[]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(entries().len(), before, "nothing is logged once closed");
}

/// The command line of Prometheus 2's official image, plus the flags
/// systemd units commonly add, starts pharos unchanged: the flags are in
/// /api/v1/status/flags, the ones pharos does not act on are named in a
/// warning, and --log.format=json logs one JSON object per line.
#[test]
fn prometheus_command_lines_run_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 15s\n").unwrap();
    let s = Server::start_with(
        &dir.path().join("data"),
        &[
            &format!("--config.file={}", config.display()),
            "--web.console.libraries=/usr/share/prometheus/console_libraries",
            "--web.console.templates=/usr/share/prometheus/consoles",
            "--web.enable-lifecycle",
            "--web.enable-remote-write-receiver",
            "--enable-feature=exemplar-storage,memory-snapshot-on-shutdown",
            "--log.format=json",
            "--collector.host=false",
            "--collector.self=false",
        ],
    );
    let (code, flags) = s.get_json("/api/v1/status/flags");
    assert_eq!(code, 200);
    assert_eq!(flags["data"]["web.enable-lifecycle"], "true");
    assert_eq!(
        flags["data"]["enable-feature"],
        "exemplar-storage,memory-snapshot-on-shutdown"
    );
    let (code, body) = s.post("/-/reload");
    assert_eq!(code, 200, "{body}");
    let log = s.log_text();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["timestamp"].is_string()));
    let warned = |needle: &str| {
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && l.to_string().contains(needle))
    };
    assert!(warned("console templates"), "{log}");
    assert!(
        warned("exemplar-storage") && warned("memory-snapshot-on-shutdown"),
        "{log}"
    );
    // The lifecycle API's /-/quit shuts down as SIGTERM does.
    let mut s = s;
    let (code, body) = s.post("/-/quit");
    assert_eq!(
        (code, body.as_str()),
        (200, "Requesting termination... Goodbye!\n")
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.alive() {
        assert!(
            std::time::Instant::now() < deadline,
            "still running after /-/quit"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(s.log_text().contains("shutting down"));
    // A misspelt format is refused with the choices.
    let out = std::process::Command::new(pharos_bin())
        .args(["--log.format=xml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[possible values: logfmt, json]"));
}

/// Behind a reverse proxy: with an external URL that has a path, every
/// endpoint moves under it (Prometheus's default --web.route-prefix), `/`
/// is sent there, and the built-in configuration scrapes itself there.
#[test]
fn an_external_url_path_is_the_route_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let port = pharos_tests::free_tcp_port();
    let _pharos = pharos_tests::ChildGuard::spawn(
        std::process::Command::new(pharos_bin())
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg("--web.external-url=http://proxy.example/monitoring/pharos/")
            .arg("--collector.host=false")
            .stderr(std::process::Stdio::null()),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    pharos_tests::wait_for(
        std::time::Duration::from_secs(30),
        "pharos under its prefix",
        || {
            client
                .get(format!("{base}/monitoring/pharos/-/ready"))
                .send()
                .map_err(|e| e.to_string())
                .and_then(|r| {
                    if r.status().is_success() {
                        Ok(())
                    } else {
                        Err(r.status().to_string())
                    }
                })
        },
    );
    let root = client.get(format!("{base}/")).send().unwrap();
    assert_eq!(root.status().as_u16(), 302);
    assert_eq!(root.headers()["location"], "/monitoring/pharos/");
    assert_eq!(
        client
            .get(format!("{base}/metrics"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let get_json = |path: &str| -> Value {
        let text = client
            .get(format!("{base}{path}"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let targets = get_json("/monitoring/pharos/api/v1/targets");
    assert_eq!(
        targets["data"]["activeTargets"][0]["scrapeUrl"],
        format!("http://127.0.0.1:{port}/monitoring/pharos/metrics")
    );
    let flags = get_json("/monitoring/pharos/api/v1/status/flags");
    assert_eq!(flags["data"]["web.route-prefix"], "/monitoring/pharos");
}

/// CORS as Prometheus's API answers browsers: `*` for the default origin
/// regex, the origin itself when it matches `--web.cors.origin`, nothing
/// without an `Origin`; preflight OPTIONS answered with a null success.
#[test]
fn cors_headers_follow_web_cors_origin() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::blocking::Client::new();
    let allow_origin = |s: &Server, origin: Option<&str>| -> Option<String> {
        let mut req = client.get(s.url("/api/v1/query?query=1"));
        if let Some(o) = origin {
            req = req.header("Origin", o);
        }
        let r = req.send().unwrap();
        assert_eq!(r.status().as_u16(), 200);
        if origin.is_some() {
            assert_eq!(
                r.headers()["access-control-allow-methods"],
                "GET, POST, OPTIONS"
            );
            assert_eq!(
                r.headers()["access-control-allow-headers"],
                "Accept, Authorization, Content-Type, Origin"
            );
        } else {
            assert!(r.headers().get("access-control-allow-methods").is_none());
        }
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_string())
    };
    let any = Server::start(&dir.path().join("a"));
    assert_eq!(
        allow_origin(&any, Some("http://grafana.example")).as_deref(),
        Some("*")
    );
    assert_eq!(allow_origin(&any, None), None);
    let pre = client
        .request(reqwest::Method::OPTIONS, any.url("/api/v1/query_range"))
        .header("Origin", "http://grafana.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .unwrap();
    assert_eq!(pre.status().as_u16(), 200);
    assert_eq!(pre.headers()["access-control-allow-origin"], "*");
    assert_eq!(pre.text().unwrap(), r#"{"status":"success","data":null}"#);

    let some = Server::start_with(
        &dir.path().join("b"),
        &[
            "--collector.host=false",
            "--collector.self=false",
            r"--web.cors.origin=https?://allowed\.example",
        ],
    );
    assert_eq!(
        allow_origin(&some, Some("https://allowed.example")).as_deref(),
        Some("https://allowed.example")
    );
    assert_eq!(
        allow_origin(&some, Some("https://allowed.example.evil")),
        None,
        "anchored"
    );
}
