//! Receivers: the integrations that deliver one notification (a group of
//! alerts) to the outside world — webhook, email, Slack, WeChat and the
//! WeCom / DingTalk / Feishu robots.
//!
//! Each integration makes exactly one attempt per call; retries with
//! backoff, rate limits and the notification log live in the pipeline
//! (`notify::pipeline`), which is why [`NotifyError`] says whether trying
//! again can help.
//!
//! [`build`] turns a configured receiver into its integrations, reading
//! `*_file` secrets once; one file per integration ([`webhook`],
//! [`email`], [`slack`], [`wechat`], [`robot`]) follows the Alertmanager
//! notifier it mirrors and holds its config (`WebhookConfig`, …) and the
//! decoding of its `*_configs` entries. What they share lives here: the
//! template renderer (`Render`) with its never-lose-the-alert fallback, the HTTP
//! client (`Endpoint`) with Alertmanager's status classification,
//! Go-compatible JSON, and URL redaction — a secret (a token in a URL, a password, a
//! signing key) never reaches an error or a log line.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use pharos_agent::config::HttpClientConfig;
use pharos_agent::scrape::http::FetchError;
use pharos_agent::scrape::{Auth, Credential};

use crate::template::{
    alertmanager_funcs, default_alertmanager_template, AmAlert, AmData, Funcs, Template,
    TemplateError, Value,
};

use super::alert::Alert;
use super::config;

pub mod email;
pub mod robot;
pub mod slack;
pub mod webhook;
pub mod wechat;

#[cfg(test)]
mod tests;

/// pharos's default robot messages (`wecom.default.message`, …), loaded
/// on top of Alertmanager's own by [`default_templates`].
const ROBOTS_TMPL: &str = include_str!("robots.tmpl");

/// One notification: the alerts of one aggregation group for one receiver.
#[derive(Clone, Debug)]
pub struct Notification {
    /// The receiver's name.
    pub receiver: String,
    /// Alertmanager's group key (`{}/{env="prod"}:{alertname="A"}`).
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    /// Firing and resolved alerts (an integration without `send_resolved`
    /// gets only the firing ones).
    pub alerts: Vec<Alert>,
    /// The time the notification is built (Unix ms): decides each alert's
    /// status.
    pub now: i64,
    /// `--web.external-url`.
    pub external_url: String,
    /// Alertmanager's default templates plus the config's `templates`.
    pub templates: Arc<Template>,
}

/// A failed attempt.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct NotifyError {
    /// Whether a later attempt may succeed (network errors, 5xx, 429).
    pub retry: bool,
    /// A sentence for the log and `/api/v2/status`; never contains a secret.
    pub message: String,
}

impl NotifyError {
    /// A failure that another attempt may cure.
    pub fn retry(message: impl Into<String>) -> NotifyError {
        NotifyError {
            retry: true,
            message: message.into(),
        }
    }

    /// A failure that repeats on every attempt (a rejected request, a
    /// broken address).
    pub fn permanent(message: impl Into<String>) -> NotifyError {
        NotifyError {
            retry: false,
            message: message.into(),
        }
    }
}

/// The boxed future an integration returns.
pub type NotifyFuture<'a> = Pin<Box<dyn Future<Output = Result<(), NotifyError>> + Send + 'a>>;

/// One configured integration of a receiver.
pub trait Integration: Send + Sync {
    /// Alertmanager's integration name: `webhook`, `email`, `slack`,
    /// `wechat`, and pharos's `wecom`, `dingtalk`, `feishu`.
    fn name(&self) -> &'static str;
    /// Whether resolved alerts are sent (`send_resolved`).
    fn send_resolved(&self) -> bool;
    /// One delivery attempt.
    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a>;
}

/// Builds the integrations of `receiver`, one per configured entry, in
/// the order webhooks, emails, Slack, WeChat, robots. Secrets kept in
/// files are read now, so a reload fails as a whole when one is missing;
/// errors are sentences naming the receiver (and the file), never a
/// secret.
///
/// `global` is taken for symmetry with Alertmanager's loader; the config
/// decoder has already filled global defaults into each entry.
pub fn build(
    receiver: &config::Receiver,
    _global: &config::Global,
) -> Result<Vec<Arc<dyn Integration>>, String> {
    let ctx = |e: String| format!("receiver {:?}: {e}", receiver.name);
    let mut out: Vec<Arc<dyn Integration>> = Vec::new();
    for c in &receiver.webhooks {
        out.push(Arc::new(webhook::Webhook::new(c).map_err(ctx)?));
    }
    for c in &receiver.emails {
        out.push(Arc::new(email::Email::new(c).map_err(ctx)?));
    }
    for c in &receiver.slack {
        out.push(Arc::new(slack::Slack::new(c).map_err(ctx)?));
    }
    for c in &receiver.wechat {
        out.push(Arc::new(wechat::Wechat::new(c).map_err(ctx)?));
    }
    for c in &receiver.robots {
        out.push(Arc::new(robot::Robot::new(c).map_err(ctx)?));
    }
    Ok(out)
}

/// Alertmanager's built-in templates (`default.tmpl`, `email.tmpl`) plus
/// pharos's robot messages (`robots.tmpl`: `wecom.default.message`,
/// `dingtalk.default.title`, `dingtalk.default.message`,
/// `feishu.default.message`); the config's `templates` go on top.
pub fn default_templates() -> Result<Template, TemplateError> {
    let mut t = default_alertmanager_template();
    t.add("robots.tmpl", ROBOTS_TMPL, &alertmanager_funcs())?;
    Ok(t)
}

/// A secret kept in a file (`url_file`, `auth_password_file`, …), read
/// at build time with surrounding whitespace trimmed, as Alertmanager
/// trims it. The error names the key and the file, not the content.
pub(crate) fn read_secret_file(key: &str, path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {key} {}: {e}", path.display()))?;
    let s = text.trim();
    if s.is_empty() {
        return Err(format!("{key} {} is empty", path.display()));
    }
    Ok(s.to_string())
}

/// The part of a URL that may be shown: `scheme://host[:port]`. Paths,
/// queries and user info are where webhook tokens live, so they go.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            match u.port() {
                Some(p) => format!("{}://{host}:{p}", u.scheme()),
                None => format!("{}://{host}", u.scheme()),
            }
        }
        Err(_) => "<invalid URL>".to_string(),
    }
}

/// Checks that `url` is an absolute http(s) URL, for build-time errors
/// that do not echo it.
pub(crate) fn check_url(key: &str, url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(()),
        Ok(u) => Err(format!(
            "{key} must be an http or https URL (got scheme {:?})",
            u.scheme()
        )),
        Err(e) => Err(format!("{key} is not a valid URL: {e}")),
    }
}

/// JSON as Go's `json.Encoder` writes it, which is what Alertmanager
/// sends: `<`, `>`, `&`, U+2028 and U+2029 escaped, a trailing newline.
/// Those characters only occur inside strings of serde_json's output, so
/// replacing them there keeps the document valid and equal.
pub(crate) fn go_json(v: &serde_json::Value) -> Vec<u8> {
    let s = serde_json::to_string(v).expect("BUG: a serde_json::Value always serializes");
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    out.into_bytes()
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the
/// cut with `…` (chat APIs reject longer messages outright, which would
/// lose the alert).
pub(crate) fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mark = "…";
    let mut end = max.saturating_sub(mark.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{mark}", &s[..end])
}

/// Cuts `s` to at most `max` characters, as Alertmanager's
/// `TruncateInRunes`.
pub(crate) fn truncate_chars(s: &str, max: usize) -> (String, bool) {
    if s.chars().count() <= max {
        return (s.to_string(), false);
    }
    if max <= 3 {
        return (s.chars().take(max).collect(), true);
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    (out, true)
}

/// Renders config fields for one notification (Alertmanager's
/// `ExecuteTextString` on the notification's data) and, when a template
/// fails, the plain message that still carries every alert.
pub(crate) struct Render {
    /// The receiver's name as configured, for log lines (the data holds
    /// it regexp-quoted).
    receiver: String,
    /// The notification's set: fields may call its `define`s.
    templates: Arc<Template>,
    /// Alertmanager's functions, built once per notification.
    funcs: Funcs,
    /// The data itself, for the fallback message and the status.
    data: AmData,
    /// The data as templates see it, built once for all fields.
    dot: Value,
}

/// The name a config field is parsed under; it cannot clash with a
/// `define`d name because user templates would need the same odd name.
const FIELD_TEMPLATE: &str = "__pharos_config_field";

impl Render {
    /// The template data of `alerts` (which may be a truncated subset of
    /// the notification's) at the notification's time.
    pub fn new(n: &Notification, alerts: &[Alert]) -> Render {
        let data = AmData::from_alerts(
            &n.receiver,
            n.group_labels.clone(),
            alerts.iter().map(|a| a.to_template(n.now)).collect(),
            &n.external_url,
        );
        Render {
            receiver: n.receiver.clone(),
            templates: n.templates.clone(),
            funcs: alertmanager_funcs(),
            dot: data.to_value(),
            data,
        }
    }

    /// The template data (status, common labels, …).
    pub fn data(&self) -> &AmData {
        &self.data
    }

    /// Executes one config field as a template against the notification
    /// set; empty text is empty, text without actions is itself.
    pub fn text(&self, text: &str) -> Result<String, TemplateError> {
        self.render(text, false)
    }

    /// Renders an HTML field (the email `html`), escaping what its
    /// actions print as Alertmanager's html/template does.
    pub fn html(&self, text: &str) -> Result<String, TemplateError> {
        self.render(text, true)
    }

    fn render(&self, text: &str, html: bool) -> Result<String, TemplateError> {
        if text.is_empty() {
            return Ok(String::new());
        }
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        // The field joins a copy of the set so it can call the set's
        // `define`s; the copy shares the parsed trees (Arc), so this
        // costs a map of pointers, not a re-parse.
        let mut t = (*self.templates).clone();
        t.add(FIELD_TEMPLATE, text, &self.funcs)?;
        if html {
            t.execute_html(FIELD_TEMPLATE, &self.dot, &self.funcs)
        } else {
            t.execute(FIELD_TEMPLATE, &self.dot, &self.funcs)
        }
    }

    /// Renders several fields; the first failure fails them all, because
    /// half-rendered messages mislead.
    pub fn texts<const N: usize>(&self, fields: [&str; N]) -> Result<[String; N], TemplateError> {
        let mut out: [String; N] = std::array::from_fn(|_| String::new());
        for (slot, field) in out.iter_mut().zip(fields) {
            *slot = self.text(field)?;
        }
        Ok(out)
    }

    /// A one-line title without templates: `[FIRING:2] GroupValue …`.
    pub fn fallback_subject(&self) -> String {
        let d = &self.data;
        let firing = d.alerts.iter().filter(|a| a.status == "firing").count();
        let mut s = if firing > 0 {
            format!("[FIRING:{firing}]")
        } else {
            "[RESOLVED]".to_string()
        };
        let mut values: Vec<&str> = Vec::new();
        if let Some(v) = d.group_labels.get("alertname") {
            values.push(v);
        }
        values.extend(
            d.group_labels
                .iter()
                .filter(|(k, _)| *k != "alertname")
                .map(|(_, v)| v.as_str()),
        );
        if values.is_empty() {
            if let Some(v) = d.common_labels.get("alertname") {
                values.push(v);
            }
        }
        for v in values {
            s.push(' ');
            s.push_str(v);
        }
        s
    }

    /// The message sent when a template fails: the error, then every
    /// alert with its status, labels, annotations and times, so that a
    /// broken template never hides an alert.
    pub fn fallback_body(&self, err: &TemplateError) -> String {
        let mut s = format!(
            "{}\n\nThis message uses pharos's plain format because a notification template failed: {err}\n",
            self.fallback_subject()
        );
        for a in &self.data.alerts {
            s.push('\n');
            push_plain_alert(&mut s, a);
        }
        if !self.data.external_url.is_empty() {
            s.push_str(&format!("\nAlertmanager: {}\n", self.data.external_url));
        }
        s
    }

    /// Logs a template failure (the alert still goes out, in the plain
    /// format).
    pub fn warn_fallback(&self, integration: &str, err: &TemplateError) {
        tracing::warn!(
            receiver = %self.receiver,
            integration,
            error = %err,
            "notification template failed; sending the alerts in the plain format"
        );
    }
}

fn push_plain_alert(s: &mut String, a: &AmAlert) {
    let name = a.labels.get("alertname").map_or("", String::as_str);
    s.push_str(&format!("[{}] {name}\n", a.status.to_uppercase()));
    let pairs = |m: &BTreeMap<String, String>| -> String {
        m.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    s.push_str(&format!("Labels: {}\n", pairs(&a.labels)));
    if !a.annotations.is_empty() {
        s.push_str("Annotations:\n");
        for (k, v) in &a.annotations {
            s.push_str(&format!("  {k}: {v}\n"));
        }
    }
    s.push_str(&format!(
        "Started: {}\n",
        a.starts_at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    if a.status == "resolved" {
        s.push_str(&format!(
            "Resolved: {}\n",
            a.ends_at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    if !a.generator_url.is_empty() {
        s.push_str(&format!("Source: {}\n", a.generator_url));
    }
}

/// How long one HTTP attempt may take when the config sets no timeout.
/// The pipeline does not cancel a hung attempt, so without a bound a
/// receiver that accepts the connection and never answers would hold the
/// group's delivery forever; Alertmanager bounds it by its notify context.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// How much of a reply is read: enough for any JSON status object, and
/// no more, so a misbehaving server cannot make pharos buffer a large
/// body.
const MAX_REPLY_BYTES: usize = 64 * 1024;

/// How much of a reply body goes into an error message.
const ERROR_BODY_CHARS: usize = 256;

/// An HTTP receiver endpoint's client: TLS, proxy, credentials and extra
/// headers from `http_config`, and the per-attempt timeout.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    client: reqwest::Client,
    auth: Auth,
    headers: Vec<(String, Credential)>,
    timeout: Duration,
}

/// A reply, read up to [`MAX_REPLY_BYTES`].
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The start of the body, for error messages.
    pub fn snippet(&self) -> String {
        let text = self.text();
        let text = text.trim();
        let (s, _) = truncate_chars(text, ERROR_BODY_CHARS);
        s
    }

    /// Alertmanager's `Retrier.Check`: 2xx succeeds; 5xx and 429 (rate
    /// limited) may succeed later; any other status will not. `target`
    /// is the redacted URL.
    pub fn check_status(&self, target: &str) -> Result<(), NotifyError> {
        if (200..300).contains(&self.status) {
            return Ok(());
        }
        let retry = self.status >= 500 || self.status == 429;
        let mut message = format!("unexpected status code {} from {target}", self.status);
        let body = self.snippet();
        if !body.is_empty() {
            message.push_str(": ");
            message.push_str(&body);
        }
        Err(NotifyError { retry, message })
    }
}

impl Endpoint {
    /// The client for `http` with `timeout` per attempt (None or zero:
    /// [`DEFAULT_HTTP_TIMEOUT`]).
    pub fn new(http: &HttpClientConfig, timeout: Option<Duration>) -> Result<Endpoint, String> {
        let (client, auth) = pharos_agent::scrape::http_client(http)?;
        let headers = pharos_agent::scrape::header_credentials(http);
        Ok(Endpoint {
            client,
            auth,
            headers,
            timeout: timeout
                .filter(|t| !t.is_zero())
                .unwrap_or(DEFAULT_HTTP_TIMEOUT),
        })
    }

    /// POSTs a JSON body.
    pub async fn post_json(&self, url: &str, body: Vec<u8>) -> Result<Reply, NotifyError> {
        let req = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.send(req, "POST", url).await
    }

    /// GETs a URL.
    pub async fn get(&self, url: &str) -> Result<Reply, NotifyError> {
        self.send(self.client.get(url), "GET", url).await
    }

    async fn send(
        &self,
        mut req: reqwest::RequestBuilder,
        method: &str,
        url: &str,
    ) -> Result<Reply, NotifyError> {
        let target = redact_url(url);
        req = self.auth.apply(req).await.map_err(|e| match e {
            // The token server may be back by the next attempt.
            FetchError::OAuth2(why) => NotifyError::retry(why),
            e => NotifyError::permanent(e.to_string()),
        })?;
        for (name, value) in &self.headers {
            let v = value
                .read()
                .map_err(|e| NotifyError::permanent(e.to_string()))?;
            req = req.header(name.as_str(), v);
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let timed_out = || {
            NotifyError::retry(format!(
                "{method} {target}: no reply within {}s",
                self.timeout.as_secs_f64()
            ))
        };
        let mut resp = match tokio::time::timeout_at(deadline, req.send()).await {
            Err(_) => return Err(timed_out()),
            Ok(Err(e)) => {
                return Err(NotifyError::retry(format!(
                    "{method} {target}: {}",
                    reqwest_error(e)
                )))
            }
            Ok(Ok(r)) => r,
        };
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let mut body = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, resp.chunk()).await {
                Err(_) => return Err(timed_out()),
                Ok(Err(e)) => {
                    return Err(NotifyError::retry(format!(
                        "{method} {target}: reading the reply: {}",
                        reqwest_error(e)
                    )))
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => {
                    let room = MAX_REPLY_BYTES - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= MAX_REPLY_BYTES {
                        break;
                    }
                }
            }
        }
        Ok(Reply {
            status,
            content_type,
            body,
        })
    }
}

/// A reqwest error with its causes but without the URL, which may carry
/// a token.
fn reqwest_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}
