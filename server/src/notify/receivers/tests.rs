//! The receivers against real servers on 127.0.0.1: axum apps that record
//! every request and answer as the vendor would (checking DingTalk's and
//! Feishu's signatures the way those services do, with their one-hour
//! window), and a real SMTP server (Python's aiosmtpd, Debian package
//! `python3-aiosmtpd`) that hands each delivered message back parsed by
//! Python's own `email` package. Configs come from the real config
//! decoder, so the defaults under test are the ones users get.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Sha256;

use super::robot::Robot;
use super::*;
use crate::notify::config::{self as amconfig, AmConfig};

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Firing at T0: started ten minutes earlier, re-sent with an end ahead.
fn firing() -> Alert {
    Alert {
        labels: labels(&[
            ("alertname", "HighLatency"),
            ("instance", "a:9100"),
            ("severity", "critical"),
        ]),
        annotations: labels(&[
            ("summary", "p99 latency above 1s"),
            ("description", "a:9100 answers in 2.5s"),
        ]),
        starts_at: T0 - 10 * MIN,
        ends_at: T0 + 3 * MIN,
        generator_url: "http://prom:9090/graph?g0.expr=up&g0.tab=1".into(),
        updated_at: T0,
        timeout: false,
    }
}

/// Resolved a minute before T0.
fn resolved() -> Alert {
    Alert {
        labels: labels(&[
            ("alertname", "HighLatency"),
            ("instance", "b:9100"),
            ("severity", "critical"),
        ]),
        annotations: labels(&[("summary", "p99 latency above 1s")]),
        starts_at: T0 - 20 * MIN,
        ends_at: T0 - MIN,
        generator_url: String::new(),
        updated_at: T0,
        timeout: false,
    }
}

fn templates() -> Arc<Template> {
    Arc::new(default_templates().expect("default templates parse"))
}

fn notification(alerts: Vec<Alert>) -> Notification {
    Notification {
        receiver: "team-x".into(),
        group_key: "{}:{alertname=\"HighLatency\"}".into(),
        group_labels: labels(&[("alertname", "HighLatency")]),
        alerts,
        now: T0,
        external_url: "http://am.example:9093".into(),
        templates: templates(),
    }
}

/// A receiver from configuration text, through the real decoder.
fn load(receiver_yaml: &str) -> AmConfig {
    let text = format!("route:\n  receiver: team-x\nreceivers:\n- name: team-x\n{receiver_yaml}");
    let (c, _) = amconfig::load_str(&text, "test.yml", Path::new(""))
        .unwrap_or_else(|e| panic!("config does not load: {e:?}\n{text}"));
    c
}

fn integrations(receiver_yaml: &str) -> Vec<Arc<dyn Integration>> {
    let c = load(receiver_yaml);
    build(&c.receivers[0], &c.global).expect("receiver builds")
}

fn one(receiver_yaml: &str) -> Arc<dyn Integration> {
    let mut v = integrations(receiver_yaml);
    assert_eq!(v.len(), 1);
    v.remove(0)
}

// ---------------------------------------------------------------------
// A recording HTTP server.

#[derive(Clone, Debug)]
struct Recorded {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Recorded {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
    fn query_pairs(&self) -> BTreeMap<String, String> {
        form_urlencoded::parse(self.query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// Status, content type and body of a reply.
type Answer = (u16, &'static str, String);
type Responder = Arc<dyn Fn(&Recorded) -> Answer + Send + Sync>;
type Seen = Arc<Mutex<Vec<Recorded>>>;

struct TestServer {
    base: String,
    seen: Seen,
}

impl TestServer {
    fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
    fn last(&self) -> Recorded {
        self.requests().pop().expect("the server saw a request")
    }
}

async fn serve(responder: impl Fn(&Recorded) -> Answer + Send + Sync + 'static) -> TestServer {
    let seen: Seen = Arc::default();
    let state: (Seen, Responder) = (seen.clone(), Arc::new(responder));
    let app = axum::Router::new().fallback(record).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer {
        base: format!("http://{addr}"),
        seen,
    }
}

async fn record(
    State((seen, responder)): State<(Seen, Responder)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rec = Recorded {
        method,
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers,
        body: body.to_vec(),
    };
    let (status, content_type, body) = responder(&rec);
    seen.lock().unwrap().push(rec);
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}

fn ok_text() -> impl Fn(&Recorded) -> Answer + Send + Sync + 'static {
    |_| (200, "text/plain", "ok".into())
}

fn json_answer(v: Json) -> impl Fn(&Recorded) -> Answer + Send + Sync + 'static {
    move |_| (200, "application/json", v.to_string())
}

/// Serializes with key order kept (serde_json's `preserve_order`), so two
/// documents compare equal only if their keys come in the same order.
fn ordered(v: &Json) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

// ---------------------------------------------------------------------
// Webhook.

fn expected_webhook(receiver: &str) -> Json {
    json!({
        "receiver": receiver,
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighLatency", "instance": "a:9100", "severity": "critical"},
                "annotations": {"description": "a:9100 answers in 2.5s", "summary": "p99 latency above 1s"},
                "startsAt": "2023-11-14T22:03:20Z",
                "endsAt": "2023-11-14T22:16:20Z",
                "generatorURL": "http://prom:9090/graph?g0.expr=up&g0.tab=1",
                "fingerprint": firing().fingerprint_hex(),
            },
            {
                "status": "resolved",
                "labels": {"alertname": "HighLatency", "instance": "b:9100", "severity": "critical"},
                "annotations": {"summary": "p99 latency above 1s"},
                "startsAt": "2023-11-14T21:53:20Z",
                "endsAt": "2023-11-14T22:12:20Z",
                "generatorURL": "",
                "fingerprint": resolved().fingerprint_hex(),
            },
        ],
        "groupLabels": {"alertname": "HighLatency"},
        "commonLabels": {"alertname": "HighLatency", "severity": "critical"},
        "commonAnnotations": {"summary": "p99 latency above 1s"},
        "externalURL": "http://am.example:9093",
        "version": "4",
        "groupKey": "{}:{alertname=\"HighLatency\"}",
        "truncatedAlerts": 0,
    })
}

#[tokio::test]
async fn webhook_posts_alertmanagers_version_4_payload() {
    let srv = serve(|_| (200, "text/plain", String::new())).await;
    let w = one(&format!(
        "  webhook_configs:\n  - url: {}/hook/path\n",
        srv.base
    ));
    assert_eq!((w.name(), w.send_resolved()), ("webhook", true));
    w.notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    let req = srv.last();
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.path, "/hook/path");
    assert_eq!(req.headers[header::CONTENT_TYPE], "application/json");
    let ua = req.headers[header::USER_AGENT].to_str().unwrap();
    assert!(ua.starts_with("pharos/"), "{ua}");
    // Every field, in Alertmanager's order.
    assert_eq!(ordered(&req.json()), ordered(&expected_webhook("team-x")));
    // Go's encoder: HTML characters escaped, one trailing newline.
    let raw = String::from_utf8(req.body.clone()).unwrap();
    assert!(
        raw.contains(r#""generatorURL":"http://prom:9090/graph?g0.expr=up\u0026g0.tab=1""#),
        "{raw}"
    );
    assert!(raw.ends_with("}\n"));
}

#[test]
fn webhook_receiver_name_is_quoted_as_alertmanager_does() {
    // Alertmanager's webhook message embeds template.Data, whose Receiver
    // is regexp.QuoteMeta(name).
    let mut n = notification(vec![firing()]);
    n.receiver = "team.x (prod)".into();
    let p = webhook::payload(&n, 0);
    assert_eq!(p["receiver"], json!(r"team\.x \(prod\)"));
}

#[tokio::test]
async fn webhook_max_alerts_keeps_the_first_and_counts_the_rest() {
    let srv = serve(ok_text()).await;
    let w = one(&format!(
        "  webhook_configs:\n  - url: {}/\n    max_alerts: 1\n",
        srv.base
    ));
    let mut third = firing();
    third.labels.insert("instance".into(), "c:9100".into());
    w.notify(&notification(vec![firing(), resolved(), third]))
        .await
        .unwrap();
    let got = srv.last().json();
    let alerts = got["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["labels"]["instance"], "a:9100");
    assert_eq!(got["truncatedAlerts"], 2);
    // Common labels and annotations are those of the alerts sent.
    assert_eq!(got["commonLabels"]["instance"], "a:9100");
    assert_eq!(
        got["commonAnnotations"]["description"],
        "a:9100 answers in 2.5s"
    );
}

#[tokio::test]
async fn webhook_status_codes_decide_retries() {
    for (status, retry) in [
        (500, Some(true)),
        (503, Some(true)),
        (429, Some(true)),
        (400, Some(false)),
        (404, Some(false)),
        (204, None),
    ] {
        let srv = serve(move |_| (status, "text/plain", "upstream says no".into())).await;
        let w = one(&format!(
            "  webhook_configs:\n  - url: {}/hook/SECRET-TOKEN\n",
            srv.base
        ));
        let r = w.notify(&notification(vec![firing()])).await;
        match retry {
            None => assert!(r.is_ok(), "{status}: {r:?}"),
            Some(retry) => {
                let e = r.expect_err("a failure");
                assert_eq!(e.retry, retry, "{status}: {e}");
                assert!(e.message.contains(&status.to_string()), "{e}");
                assert!(e.message.contains("upstream says no"), "{e}");
                assert!(!e.message.contains("SECRET-TOKEN"), "{e}");
            }
        }
    }
}

#[tokio::test]
async fn webhook_error_body_is_bounded() {
    let srv = serve(|_| (502, "text/plain", "x".repeat(100_000))).await;
    let w = one(&format!("  webhook_configs:\n  - url: {}/\n", srv.base));
    let e = w.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(e.retry);
    assert!(e.message.len() < 600, "{} bytes", e.message.len());
}

#[tokio::test]
async fn webhook_network_errors_retry_without_showing_the_url() {
    // A port nothing listens on: bind one, then free it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let w = one(&format!(
        "  webhook_configs:\n  - url: http://admin:hunter2@127.0.0.1:{port}/hooks/s3cr3t-token?key=k3y\n"
    ));
    let e = w.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(e.retry, "{e}");
    for secret in ["s3cr3t", "hunter2", "admin", "k3y"] {
        assert!(!e.message.contains(secret), "{secret} leaked: {e}");
    }
    assert!(
        e.message.contains(&format!("http://127.0.0.1:{port}")),
        "{e}"
    );
}

#[tokio::test]
async fn webhook_timeout_is_honoured() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let w = one(&format!(
        "  webhook_configs:\n  - url: http://{addr}/\n    timeout: 300ms\n"
    ));
    let started = std::time::Instant::now();
    let e = w.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(e.retry);
    assert!(e.message.contains("no reply within 0.3s"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn build_reads_secret_files_and_names_them_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let url_file = dir.path().join("hook-url");
    std::fs::write(&url_file, "http://127.0.0.1:9/secret-path\n").unwrap();
    let ok = integrations(&format!(
        "  webhook_configs:\n  - url_file: {}\n",
        url_file.display()
    ));
    assert_eq!(ok.len(), 1);

    let missing = dir.path().join("missing-url");
    let c = load(&format!(
        "  webhook_configs:\n  - url_file: {}\n",
        missing.display()
    ));
    let e = build(&c.receivers[0], &c.global).err().expect("fails");
    assert!(e.contains("receiver \"team-x\""), "{e}");
    assert!(e.contains("url_file"), "{e}");
    assert!(e.contains(&missing.display().to_string()), "{e}");

    // A URL that does not parse is reported without being echoed.
    std::fs::write(&url_file, "not a url with s3cr3t").unwrap();
    let c = load(&format!(
        "  webhook_configs:\n  - url_file: {}\n",
        url_file.display()
    ));
    let e = build(&c.receivers[0], &c.global).err().expect("fails");
    assert!(e.contains("not a valid URL"), "{e}");
    assert!(!e.contains("s3cr3t"), "{e}");

    let c = load(&format!(
        "  email_configs:\n  - to: a@example.org\n    from: b@example.org\n    smarthost: 127.0.0.1:25\n    auth_username: u\n    auth_password_file: {}\n",
        missing.display()
    ));
    let e = build(&c.receivers[0], &c.global).err().expect("fails");
    assert!(
        e.contains("auth_password_file") && e.contains("team-x"),
        "{e}"
    );

    let c = load(&format!(
        "  wechat_configs:\n  - api_secret_file: {}\n    corp_id: c\n",
        missing.display()
    ));
    let e = build(&c.receivers[0], &c.global).err().expect("fails");
    assert!(e.contains("api_secret_file") && e.contains("team-x"), "{e}");
}

#[test]
fn redaction_keeps_scheme_host_and_port_only() {
    assert_eq!(
        redact_url("https://user:pw@hooks.slack.com/services/T0/B0/XXXX?x=1"),
        "https://hooks.slack.com"
    );
    assert_eq!(
        redact_url("http://127.0.0.1:8080/a"),
        "http://127.0.0.1:8080"
    );
    assert_eq!(redact_url("::"), "<invalid URL>");
}

// ---------------------------------------------------------------------
// Slack.

#[tokio::test]
async fn slack_posts_alertmanagers_attachment() {
    let srv = serve(ok_text()).await;
    let s = one(&format!(
        "  slack_configs:\n  - api_url: {}/services/T0/B0/XXXX\n    channel: '#alerts'\n    send_resolved: true\n",
        srv.base
    ));
    assert_eq!((s.name(), s.send_resolved()), ("slack", true));
    s.notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    let req = srv.last();
    assert_eq!(req.path, "/services/T0/B0/XXXX");
    let title = "[FIRING:1] HighLatency (critical)";
    let link = "http://am.example:9093/#/alerts?receiver=team-x";
    let want = json!({
        "channel": "#alerts",
        "username": "Alertmanager",
        "attachments": [{
            "title": title,
            "title_link": link,
            "text": "",
            "fallback": format!("{title} | {link}"),
            "callback_id": "",
            "footer": "",
            "color": "danger",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }],
    });
    assert_eq!(ordered(&req.json()), ordered(&want));

    // All resolved: Slack's "good" colour and the RESOLVED title.
    s.notify(&notification(vec![resolved()])).await.unwrap();
    let att = &srv.last().json()["attachments"][0];
    assert_eq!(att["color"], "good");
    assert_eq!(att["title"], "[RESOLVED] HighLatency (b:9100 critical)");
}

#[tokio::test]
async fn slack_refusals_are_errors() {
    let srv = serve(|_| (500, "text/plain", "rollup_error".into())).await;
    let s = one(&format!(
        "  slack_configs:\n  - api_url: {}/services/T0/B0/XXXX\n    channel: '#alerts'\n",
        srv.base
    ));
    let e = s.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(
        e.retry && e.message.contains("500") && e.message.contains("#alerts"),
        "{e}"
    );
    assert!(!e.message.contains("XXXX"), "{e}");

    let srv = serve(|_| (400, "text/plain", "invalid_payload".into())).await;
    let s = one(&format!("  slack_configs:\n  - api_url: {}/x\n", srv.base));
    let e = s.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(!e.retry && e.message.contains("invalid_payload"), "{e}");

    // The Web API refuses with a 200 and JSON.
    let srv = serve(json_answer(
        json!({"ok": false, "error": "channel_not_found"}),
    ))
    .await;
    let s = one(&format!(
        "  slack_configs:\n  - api_url: {}/api/chat.postMessage\n",
        srv.base
    ));
    let e = s.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(!e.retry && e.message.contains("channel_not_found"), "{e}");
    let srv = serve(json_answer(json!({"ok": true}))).await;
    let s = one(&format!(
        "  slack_configs:\n  - api_url: {}/api/chat.postMessage\n",
        srv.base
    ));
    s.notify(&notification(vec![firing()])).await.unwrap();
}

#[tokio::test]
async fn slack_template_error_still_sends_the_alerts() {
    let srv = serve(ok_text()).await;
    let s = one(&format!(
        "  slack_configs:\n  - api_url: {}/x\n    channel: '#alerts'\n    text: '{{{{ template \"no.such.template\" . }}}}'\n",
        srv.base
    ));
    s.notify(&notification(vec![firing()])).await.unwrap();
    let att = &srv.last().json()["attachments"][0];
    let text = att["text"].as_str().unwrap();
    assert!(text.contains("template failed"), "{text}");
    assert!(text.contains("no.such.template"), "{text}");
    assert!(text.contains("instance=a:9100"), "{text}");
    assert!(text.contains("p99 latency above 1s"), "{text}");
    assert_eq!(srv.last().json()["channel"], "#alerts");
}

// ---------------------------------------------------------------------
// WeChat (WeCom application API).

#[tokio::test]
async fn wechat_fetches_caches_and_renews_the_token() {
    // Token n is handed out on the n-th gettoken; message/send refuses
    // tokens older than `valid_from` with 42001.
    let state = Arc::new(Mutex::new((0u32, 1u32)));
    let st = state.clone();
    let srv = serve(move |r| {
        let mut s = st.lock().unwrap();
        let q = r.query_pairs();
        match r.path.as_str() {
            "/cgi-bin/gettoken" => {
                assert_eq!(r.method, Method::GET);
                if q.get("corpid").map(String::as_str) != Some("corp-1")
                    || q.get("corpsecret").map(String::as_str) != Some("S3CRET")
                {
                    return (200, "application/json", json!({"errcode": 40001, "errmsg": "invalid credential"}).to_string());
                }
                s.0 += 1;
                let token = format!("TOKEN{}", s.0);
                (200, "application/json", json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}).to_string())
            }
            "/cgi-bin/message/send" => {
                let token = q.get("access_token").cloned().unwrap_or_default();
                let n: u32 = token.trim_start_matches("TOKEN").parse().unwrap_or(0);
                if n < s.1 {
                    (200, "application/json", json!({"errcode": 42001, "errmsg": "access_token expired"}).to_string())
                } else {
                    (200, "application/json", json!({"errcode": 0, "errmsg": "ok"}).to_string())
                }
            }
            _ => (404, "text/plain", "no such API".into()),
        }
    })
    .await;
    let w = one(&format!(
        "  wechat_configs:\n  - api_url: {}/cgi-bin/\n    api_secret: S3CRET\n    corp_id: corp-1\n    agent_id: '1000002'\n    send_resolved: true\n",
        srv.base
    ));
    assert_eq!((w.name(), w.send_resolved()), ("wechat", true));
    let n = notification(vec![firing(), resolved()]);
    w.notify(&n).await.unwrap();
    w.notify(&n).await.unwrap();
    let reqs = srv.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/cgi-bin/gettoken",
            "/cgi-bin/message/send",
            "/cgi-bin/message/send"
        ],
        "the token is cached"
    );
    let body = reqs[1].json();
    let content = body["text"]["content"].as_str().unwrap().to_string();
    let want = json!({
        "text": {"content": content},
        "touser": "@all",
        "agentid": "1000002",
        "safe": "0",
        "msgtype": "text",
        "markdown": {"content": ""},
    });
    assert_eq!(ordered(&body), ordered(&want));
    assert!(
        content.starts_with("[FIRING:1] HighLatency (critical)"),
        "{content}"
    );
    assert!(content.contains("Alerts Resolved:"), "{content}");
    assert!(content.contains(" - instance = b:9100"), "{content}");

    // WeCom expires the token: the attempt fails (to be retried), the
    // cache is dropped, and the next attempt fetches a new token.
    state.lock().unwrap().1 = 2;
    let e = w.notify(&n).await.unwrap_err();
    assert!(e.retry && e.message.contains("42001"), "{e}");
    for secret in ["S3CRET", "TOKEN"] {
        assert!(!e.message.contains(secret), "{e}");
    }
    w.notify(&n).await.unwrap();
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 6);
    assert_eq!(reqs[4].path, "/cgi-bin/gettoken");
    assert_eq!(reqs[5].query_pairs()["access_token"], "TOKEN2");
}

#[tokio::test]
async fn wechat_bad_secret_and_markdown() {
    let srv = serve(|r| match r.path.as_str() {
        "/cgi-bin/gettoken" => (
            200,
            "application/json",
            json!({"errcode": 0, "access_token": "T"}).to_string(),
        ),
        _ => (200, "application/json", json!({"errcode": 0}).to_string()),
    })
    .await;
    let w = one(&format!(
        "  wechat_configs:\n  - api_url: {}/cgi-bin/\n    api_secret: s\n    corp_id: c\n    message_type: markdown\n    message: '**{{{{ .CommonLabels.alertname }}}}**'\n    to_party: '2'\n",
        srv.base
    ));
    w.notify(&notification(vec![firing()])).await.unwrap();
    let body = srv.last().json();
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(body["markdown"]["content"], "**HighLatency**");
    assert_eq!(body["text"]["content"], "");
    assert_eq!(body["toparty"], "2");

    let srv = serve(json_answer(
        json!({"errcode": 40001, "errmsg": "invalid credential"}),
    ))
    .await;
    let w = one(&format!(
        "  wechat_configs:\n  - api_url: {}/cgi-bin/\n    api_secret: S3CRET\n    corp_id: corp-1\n",
        srv.base
    ));
    let e = w.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(!e.retry, "{e}");
    assert!(
        e.message.contains("invalid APISecret for CorpID: corp-1"),
        "{e}"
    );
    assert!(!e.message.contains("S3CRET"), "{e}");
}

// ---------------------------------------------------------------------
// Robots.

fn robot_config(kind_key: &str, url: &str, extra: &str) -> amconfig::RobotConfig {
    let c = load(&format!("  {kind_key}:\n  - url: '{url}'\n{extra}"));
    c.receivers[0].robots[0].clone()
}

#[tokio::test]
async fn wecom_posts_markdown_and_reads_errcode() {
    let answer = Arc::new(Mutex::new(json!({"errcode": 0, "errmsg": "ok"})));
    let a = answer.clone();
    let srv = serve(move |_| (200, "application/json", a.lock().unwrap().to_string())).await;
    let url = format!("{}/cgi-bin/webhook/send?key=ROBOT-KEY", srv.base);
    let w = one(&format!("  wecom_configs:\n  - url: '{url}'\n"));
    assert_eq!((w.name(), w.send_resolved()), ("wecom", true));
    w.notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    let req = srv.last();
    assert_eq!(req.path, "/cgi-bin/webhook/send");
    assert_eq!(req.query_pairs()["key"], "ROBOT-KEY");
    let body = req.json();
    assert_eq!(body["msgtype"], "markdown");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["msgtype", "markdown"]);
    let content = body["markdown"]["content"].as_str().unwrap();
    for want in [
        "<font color=\"warning\">**[FIRING:1] HighLatency (critical)**</font>",
        "1 firing, 1 resolved",
        "> p99 latency above 1s",
        "> a:9100 answers in 2.5s",
        "- Labels: alertname=HighLatency, instance=a:9100, severity=critical",
        "- Started: 2023-11-14 22:03:20 UTC",
        "**HighLatency** (resolved) [critical]",
        "- Resolved: 2023-11-14 22:12:20 UTC",
        "[Alertmanager](http://am.example:9093/#/alerts?receiver=team-x)",
    ] {
        assert!(content.contains(want), "missing {want:?} in:\n{content}");
    }
    // Firing alerts come before resolved ones.
    assert!(content.find("a:9100").unwrap() < content.find("b:9100").unwrap());

    *answer.lock().unwrap() = json!({"errcode": 45009, "errmsg": "api freq out of limit"});
    let e = w.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(e.retry && e.message.contains("45009"), "{e}");
    *answer.lock().unwrap() = json!({"errcode": 93000, "errmsg": "invalid webhook url"});
    let e = w.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(!e.retry && e.message.contains("93000"), "{e}");
    assert!(!e.message.contains("ROBOT-KEY"), "{e}");
}

#[tokio::test]
async fn wecom_message_template_override_and_fallback() {
    let srv = serve(json_answer(json!({"errcode": 0}))).await;
    let url = format!("{}/send?key=k", srv.base);
    let w = one(&format!(
        "  wecom_configs:\n  - url: '{url}'\n    message: '{{{{ len .Alerts }}}} alerts for {{{{ .GroupLabels.alertname }}}}'\n"
    ));
    w.notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    assert_eq!(
        srv.last().json()["markdown"]["content"],
        "2 alerts for HighLatency"
    );

    // A template that does not parse: the alerts still go out.
    let w = one(&format!(
        "  wecom_configs:\n  - url: '{url}'\n    message: '{{{{ .Alerts'\n"
    ));
    w.notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    let content = srv.last().json()["markdown"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(content.starts_with("[FIRING:1] HighLatency"), "{content}");
    assert!(content.contains("template failed"), "{content}");
    assert!(
        content.contains("instance=a:9100") && content.contains("instance=b:9100"),
        "{content}"
    );
    assert!(
        content.contains("Resolved: 2023-11-14 22:12:20 UTC"),
        "{content}"
    );
}

/// DingTalk's check: the timestamp within an hour of now, the signature
/// HmacSHA256(secret, timestamp + "\n" + secret) in base64.
fn dingtalk_verify(r: &Recorded, secret: &str) -> Result<(), String> {
    let q = r.query_pairs();
    let ts = q.get("timestamp").ok_or("no timestamp")?;
    let sign = q.get("sign").ok_or("no sign")?;
    let ts_ms: i64 = ts.parse().map_err(|_| "bad timestamp")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    if (now - ts_ms).abs() > 3_600_000 {
        return Err("timestamp is stale".into());
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}\n{secret}").as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if *sign != want {
        return Err(format!("sign mismatch: got {sign}, want {want}"));
    }
    Ok(())
}

fn two_hours_ago() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 2 * 3_600_000
}

#[tokio::test]
async fn dingtalk_signs_requests_as_dingtalk_checks_them() {
    const SECRET: &str = "SEC0123456789abcdef+/=";
    let srv = serve(|r| {
        let body = match dingtalk_verify(r, SECRET) {
            Ok(()) => json!({"errcode": 0, "errmsg": "ok"}),
            Err(e) => json!({"errcode": 310000, "errmsg": format!("sign not match: {e}")}),
        };
        (200, "application/json", body.to_string())
    })
    .await;
    let url = format!("{}/robot/send?access_token=DT-TOKEN", srv.base);
    let cfg = robot_config(
        "dingtalk_configs",
        &url,
        &format!("    secret: '{SECRET}'\n"),
    );
    let robot = Robot::new(&cfg).unwrap();
    assert_eq!(robot.name(), "dingtalk");
    robot
        .notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    let req = srv.last();
    assert_eq!(req.path, "/robot/send");
    let q = req.query_pairs();
    assert_eq!(q["access_token"], "DT-TOKEN");
    // The signature is base64; its `+`, `/` and `=` travel percent-encoded.
    let raw_sign = req.query.split("sign=").nth(1).expect("a sign parameter");
    assert!(!raw_sign.contains(['+', '/', '=']), "{raw_sign}");
    let body = req.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["msgtype", "markdown"]);
    assert_eq!(body["msgtype"], "markdown");
    assert_eq!(
        body["markdown"]["title"],
        "[FIRING:1] HighLatency (critical)"
    );
    let text = body["markdown"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("### [FIRING:1] HighLatency (critical)"),
        "{text}"
    );
    assert!(text.contains("> p99 latency above 1s"), "{text}");
    assert!(text.contains("**HighLatency** (resolved)"), "{text}");

    // A signature made two hours ago is refused, as DingTalk refuses it.
    let stale = Robot::new(&cfg).unwrap().with_clock(two_hours_ago);
    let e = stale
        .notify(&notification(vec![firing()]))
        .await
        .unwrap_err();
    assert!(!e.retry && e.message.contains("310000"), "{e}");
    assert!(
        !e.message.contains(SECRET) && !e.message.contains("DT-TOKEN"),
        "{e}"
    );

    // Without a secret the URL is used as given (and this server, which
    // wants signatures, refuses it).
    let cfg = robot_config("dingtalk_configs", &url, "");
    Robot::new(&cfg)
        .unwrap()
        .notify(&notification(vec![firing()]))
        .await
        .unwrap_err();
    assert_eq!(srv.last().query, "access_token=DT-TOKEN");
}

#[tokio::test]
async fn dingtalk_url_without_query_gets_one() {
    let srv = serve(|r| {
        let ok = dingtalk_verify(r, "k").is_ok();
        (
            200,
            "application/json",
            json!({"errcode": if ok { 0 } else { 310000 }}).to_string(),
        )
    })
    .await;
    let cfg = robot_config(
        "dingtalk_configs",
        &format!("{}/send", srv.base),
        "    secret: k\n",
    );
    Robot::new(&cfg)
        .unwrap()
        .notify(&notification(vec![firing()]))
        .await
        .unwrap();
    assert!(
        srv.last().query.starts_with("timestamp="),
        "{}",
        srv.last().query
    );
}

#[tokio::test]
async fn dingtalk_rate_limit_retries() {
    let srv = serve(json_answer(
        json!({"errcode": 130101, "errmsg": "send too fast"}),
    ))
    .await;
    let d = one(&format!(
        "  dingtalk_configs:\n  - url: '{}/send?access_token=t'\n",
        srv.base
    ));
    let e = d.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(e.retry && e.message.contains("130101"), "{e}");
}

/// Feishu's check: the timestamp (seconds) within an hour of now, the
/// signature HmacSHA256(key = timestamp + "\n" + secret, msg = "") in
/// base64.
fn feishu_verify(body: &Json, secret: &str) -> Result<(), String> {
    let ts = body["timestamp"].as_str().ok_or("no timestamp")?;
    let sign = body["sign"].as_str().ok_or("no sign")?;
    let ts_s: i64 = ts.parse().map_err(|_| "bad timestamp")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts_s).abs() > 3600 {
        return Err("timestamp is not within one hour".into());
    }
    let mac = Hmac::<Sha256>::new_from_slice(format!("{ts}\n{secret}").as_bytes()).unwrap();
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    if sign != want {
        return Err("sign match fail".into());
    }
    Ok(())
}

#[tokio::test]
async fn feishu_signs_the_body_as_feishu_checks_it() {
    const SECRET: &str = "feishu-SECRET";
    let srv = serve(|r| {
        let body = match feishu_verify(&r.json(), SECRET) {
            Ok(()) => json!({"code": 0, "msg": "success", "data": {}}),
            Err(e) => json!({"code": 19021, "msg": e}),
        };
        (200, "application/json", body.to_string())
    })
    .await;
    let url = format!("{}/open-apis/bot/v2/hook/HOOK-ID", srv.base);
    let cfg = robot_config("feishu_configs", &url, &format!("    secret: {SECRET}\n"));
    let robot = Robot::new(&cfg).unwrap();
    assert_eq!(robot.name(), "feishu");
    robot
        .notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    let req = srv.last();
    assert_eq!(req.path, "/open-apis/bot/v2/hook/HOOK-ID");
    let body = req.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["timestamp", "sign", "msg_type", "content"]);
    assert_eq!(body["msg_type"], "text");
    let text = body["content"]["text"].as_str().unwrap();
    for want in [
        "[FIRING:1] HighLatency (critical)",
        "[FIRING] HighLatency (critical)",
        "Summary: p99 latency above 1s",
        "Description: a:9100 answers in 2.5s",
        "Labels: alertname=HighLatency, instance=b:9100, severity=critical",
        "[RESOLVED] HighLatency (critical)",
        "Resolved: 2023-11-14 22:12:20 UTC",
        "Alertmanager: http://am.example:9093/#/alerts?receiver=team-x",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    let stale = Robot::new(&cfg).unwrap().with_clock(two_hours_ago);
    let e = stale
        .notify(&notification(vec![firing()]))
        .await
        .unwrap_err();
    assert!(!e.retry && e.message.contains("19021"), "{e}");
    assert!(
        !e.message.contains(SECRET) && !e.message.contains("HOOK-ID"),
        "{e}"
    );

    // Unsigned: no timestamp or sign keys.
    let cfg = robot_config("feishu_configs", &url, "");
    let _ = Robot::new(&cfg)
        .unwrap()
        .notify(&notification(vec![firing()]))
        .await;
    let keys: Vec<String> = srv
        .last()
        .json()
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(keys, ["msg_type", "content"]);
}

#[tokio::test]
async fn feishu_replies_old_and_new_style() {
    for (reply, ok, retry) in [
        (
            json!({"StatusCode": 0, "StatusMessage": "success"}),
            true,
            false,
        ),
        (
            json!({"code": 11232, "msg": "frequency limited"}),
            false,
            true,
        ),
        (json!({"code": 9499, "msg": "Bad Request"}), false, false),
    ] {
        let srv = serve(json_answer(reply.clone())).await;
        let f = one(&format!(
            "  feishu_configs:\n  - url: {}/hook/x\n",
            srv.base
        ));
        match f.notify(&notification(vec![firing()])).await {
            Ok(()) => assert!(ok, "{reply}"),
            Err(e) => {
                assert!(!ok, "{reply}: {e}");
                assert_eq!(e.retry, retry, "{reply}: {e}");
            }
        }
    }
}

#[test]
fn signatures_match_the_vendors_examples() {
    // Worked out independently of the code under test (openssl dgst
    // -sha256 -hmac … | base64), so a swapped key and message shows.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"SECxyz").unwrap();
    mac.update(b"1700000000000\nSECxyz");
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(robot::dingtalk_sign("SECxyz", "1700000000000"), want);
    let mac = Hmac::<Sha256>::new_from_slice(b"1700000000\nfs").unwrap();
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(robot::feishu_sign("fs", "1700000000"), want);
    assert_ne!(
        robot::feishu_sign("fs", "1700000000"),
        robot::dingtalk_sign("fs", "1700000000")
    );
}

#[test]
fn default_templates_hold_alertmanagers_and_the_robots() {
    let t = default_templates().unwrap();
    for name in [
        "email.default.subject",
        "email.default.html",
        "slack.default.title",
        "wechat.default.message",
        "wecom.default.message",
        "dingtalk.default.title",
        "dingtalk.default.message",
        "feishu.default.message",
    ] {
        assert!(t.has(name), "{name}");
    }
}

#[test]
fn wecom_default_message_reads_well() {
    // The whole default message, pinned: a layout change shows here.
    let n = notification(vec![firing(), resolved()]);
    let r = Render::new(&n, &n.alerts);
    let got = r
        .text("{{ template \"wecom.default.message\" . }}")
        .unwrap();
    let want = "\
<font color=\"warning\">**[FIRING:1] HighLatency (critical)**</font>

1 firing, 1 resolved

**HighLatency** [critical]

> p99 latency above 1s

> a:9100 answers in 2.5s

- Labels: alertname=HighLatency, instance=a:9100, severity=critical
- Started: 2023-11-14 22:03:20 UTC
- [Source](http://prom:9090/graph?g0.expr=up&g0.tab=1)

**HighLatency** (resolved) [critical]

> p99 latency above 1s

- Labels: alertname=HighLatency, instance=b:9100, severity=critical
- Started: 2023-11-14 21:53:20 UTC
- Resolved: 2023-11-14 22:12:20 UTC

[Alertmanager](http://am.example:9093/#/alerts?receiver=team-x)";
    assert_eq!(got, want, "\n--- got ---\n{got}\n---");
}

#[test]
fn wecom_message_is_cut_to_4096_bytes() {
    let mut big = firing();
    big.annotations
        .insert("description".into(), "界".repeat(3000));
    let cfg = robot_config("wecom_configs", "http://127.0.0.1:9/send?key=k", "");
    let (_, body) = Robot::new(&cfg)
        .unwrap()
        .request(&notification(vec![big]), T0)
        .unwrap();
    let content = body["markdown"]["content"].as_str().unwrap();
    assert!(content.len() <= 4096, "{}", content.len());
    assert!(content.ends_with('…'));
}

// ---------------------------------------------------------------------
// Email, through a real SMTP server.

/// aiosmtpd on a port the kernel picks; prints `PORT n`, then one JSON
/// line per delivered message, parsed by Python's `email` package.
const SMTP_SERVER: &str = include_str!("../../../../tests/scripts/smtp_sink.py");

/// The SMTP server process; killed when dropped.
struct SmtpServer {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Debian package installs into the system interpreter, which need
/// not be the first `python3` on PATH (pyenv, virtualenvs).
fn python_with_aiosmtpd() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

impl SmtpServer {
    fn start(auth: Option<(&str, &str)>) -> SmtpServer {
        let python = python_with_aiosmtpd().unwrap_or_else(|| {
            panic!(
                "the email tests need Python's aiosmtpd: install it with `apt-get install -y python3-aiosmtpd`"
            )
        });
        let mut cmd = Command::new(python);
        cmd.args(["-c", SMTP_SERVER]);
        if let Some((u, p)) = auth {
            cmd.args([u, p]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the SMTP server reports its port");
        let port = first
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        SmtpServer { child, port, lines }
    }

    fn next_message(&self) -> Json {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the SMTP server received a message");
        serde_json::from_str(&line).unwrap()
    }
}

fn email_config(port: u16, extra: &str) -> String {
    format!(
        "  email_configs:\n  - to: 'ops@example.org, Oncall <oncall@example.org>'\n    from: 'Alertmanager <am@example.org>'\n    smarthost: 127.0.0.1:{port}\n    hello: pharos.test\n    require_tls: false\n    send_resolved: true\n{extra}"
    )
}

#[tokio::test]
async fn email_delivers_subject_headers_and_both_bodies() {
    let smtp = SmtpServer::start(None);
    let e = one(&email_config(
        smtp.port,
        "    text: \"{{ range .Alerts }}{{ .Status }} {{ .Labels.instance }}\\n{{ end }}\"\n    headers:\n      x-team: 'team of {{ .GroupLabels.alertname }}'\n",
    ));
    assert_eq!((e.name(), e.send_resolved()), ("email", true));
    e.notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    let m = smtp.next_message();
    assert_eq!(m["mail_from"], "am@example.org");
    assert_eq!(
        m["rcpt_tos"],
        json!(["ops@example.org", "oncall@example.org"])
    );
    assert_eq!(m["authenticated"], false);
    let h = &m["headers"];
    assert_eq!(h["Subject"], "[FIRING:1] HighLatency (critical)");
    assert_eq!(h["From"], "Alertmanager <am@example.org>");
    assert_eq!(h["To"], "ops@example.org, Oncall <oncall@example.org>");
    assert_eq!(h["X-Team"], "team of HighLatency");
    assert_eq!(h["Date"], "Tue, 14 Nov 2023 22:13:20 +0000");
    let id = h["Message-ID"].as_str().unwrap();
    assert!(id.starts_with('<') && id.ends_with("@example.org>"), "{id}");
    assert_eq!(m["content_type"], "multipart/alternative");
    let parts = m["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[0]["cte"], "quoted-printable");
    // Quoted-printable text travels with canonical CRLF line breaks.
    assert_eq!(parts[0]["body"], "firing a:9100\r\nresolved b:9100\r\n");
    assert_eq!(parts[1]["type"], "text/html");
    let html = parts[1]["body"].as_str().unwrap();
    assert!(html.contains("<!DOCTYPE html"), "{html}");
    assert!(html.contains("instance = a:9100"), "{html}");
    assert!(html.contains("View in Alertmanager"), "{html}");
}

#[tokio::test]
async fn email_html_only_is_a_single_part() {
    let smtp = SmtpServer::start(None);
    let e = one(&email_config(smtp.port, ""));
    e.notify(&notification(vec![firing()])).await.unwrap();
    let m = smtp.next_message();
    assert_eq!(m["content_type"], "text/html");
    assert_eq!(m["parts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn email_authenticates_and_hides_the_password() {
    let smtp = SmtpServer::start(Some(("alerts", "correct-horse")));
    let e = one(&email_config(
        smtp.port,
        "    auth_username: alerts\n    auth_password: correct-horse\n",
    ));
    e.notify(&notification(vec![firing()])).await.unwrap();
    let m = smtp.next_message();
    assert_eq!(m["authenticated"], true);

    let bad = one(&email_config(
        smtp.port,
        "    auth_username: alerts\n    auth_password: wrong-battery\n",
    ));
    let err = bad.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(err.message.contains("authentication failed"), "{err}");
    assert!(!err.message.contains("wrong-battery"), "{err}");

    // The server demands AUTH; without credentials the message is refused.
    let anon = one(&email_config(smtp.port, ""));
    let err = anon
        .notify(&notification(vec![firing()]))
        .await
        .unwrap_err();
    assert!(err.message.contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn email_require_tls_refuses_a_server_without_starttls() {
    let smtp = SmtpServer::start(None);
    let text = email_config(smtp.port, "").replace("require_tls: false", "require_tls: true");
    let e = one(&text);
    let err = e.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(err.retry, "{err}");
    assert!(err.message.contains("STARTTLS"), "{err}");
}

#[tokio::test]
async fn email_template_error_still_delivers_every_alert() {
    let smtp = SmtpServer::start(None);
    let e = one(&email_config(
        smtp.port,
        "    html: '{{ template \"no.such\" . }}'\n    headers:\n      Subject: '{{ .Nope.Deeper }}'\n",
    ));
    e.notify(&notification(vec![firing(), resolved()]))
        .await
        .unwrap();
    let m = smtp.next_message();
    assert_eq!(
        m["headers"]["Subject"],
        "[FIRING:1] HighLatency (template error)"
    );
    assert_eq!(m["content_type"], "text/plain");
    let body = m["parts"][0]["body"].as_str().unwrap();
    assert!(body.contains("template failed"), "{body}");
    assert!(body.contains("[FIRING] HighLatency"), "{body}");
    assert!(body.contains("[RESOLVED] HighLatency"), "{body}");
    assert!(
        body.contains("instance=a:9100") && body.contains("instance=b:9100"),
        "{body}"
    );
    assert!(body.contains("summary: p99 latency above 1s"), "{body}");
}

#[tokio::test]
async fn email_connection_refused_retries() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = one(&email_config(
        port,
        "    auth_username: u\n    auth_password: pw-s3cret\n",
    ));
    let err = e.notify(&notification(vec![firing()])).await.unwrap_err();
    assert!(err.retry, "{err}");
    assert!(!err.message.contains("pw-s3cret"), "{err}");
}
