//! pharos's chat robots: the group-chat webhooks of WeCom (企业微信群机器人,
//! `wecom_configs`), DingTalk (钉钉自定义机器人, `dingtalk_configs`) and
//! Feishu / Lark (飞书自定义机器人, `feishu_configs`). Alertmanager has no
//! integration for them; the formats are the vendors' documented ones:
//!
//! - WeCom: `POST url` with
//!   `{"msgtype":"markdown","markdown":{"content":MESSAGE}}` (content at
//!   most 4096 bytes); the reply `{"errcode":0,"errmsg":"ok"}`, 45009
//!   meaning "rate limited".
//! - DingTalk: with a `secret`, the URL gets
//!   `timestamp=<unix ms>&sign=<urlencode(base64(HmacSHA256(key = secret,
//!   msg = timestamp + "\n" + secret)))>`, which DingTalk refuses once an
//!   hour old; the body is
//!   `{"msgtype":"markdown","markdown":{"title":TITLE,"text":MESSAGE}}`;
//!   the reply `{"errcode":0,…}`, 130101 meaning "sending too fast".
//! - Feishu: with a `secret`, the body carries `"timestamp":"<unix s>"`
//!   and `"sign": base64(HmacSHA256(key = timestamp + "\n" + secret,
//!   msg = ""))`; the message is plain text,
//!   `{"msg_type":"text","content":{"text":MESSAGE}}` (text rather than an
//!   interactive card so that any Feishu or Lark tenant renders it and a
//!   user's `message` template stays plain text); the reply `{"code":0}`
//!   (older deployments: `{"StatusCode":0}`), 11232 meaning "rate
//!   limited".
//!
//! MESSAGE is the config's `message` template or the default
//! `wecom.default.message` / `dingtalk.default.message` /
//! `feishu.default.message` from `robots.tmpl`; when a template fails the
//! alerts go out in a plain format that names the error.
//!
//! The config is here too: [`RobotConfig`] and [`RobotKind`], an entry of
//! any of the three keys, and `decode_robot`, which `notify::config` calls
//! for each entry.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Sha256;

use pharos_agent::config::decode::{Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::{decode_http_client, HttpClientConfig, Secret};

use crate::notify::config::{secret, Global};

use super::{
    check_url, go_json, redact_url, truncate_bytes, Endpoint, Integration, Notification,
    NotifyError, NotifyFuture, Render,
};

/// Which chat robot a [`RobotConfig`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RobotKind {
    /// `wecom_configs`: WeCom group robot webhook.
    WeCom,
    /// `dingtalk_configs`: DingTalk custom robot, signed with `secret`.
    DingTalk,
    /// `feishu_configs`: Feishu custom bot, signed with `secret`.
    Feishu,
}

/// A chat robot webhook (pharos-only keys).
#[derive(Debug, Clone)]
pub struct RobotConfig {
    pub kind: RobotKind,
    pub send_resolved: bool,
    pub url: Secret,
    /// Signing secret (DingTalk, Feishu).
    pub secret: Option<Secret>,
    /// Message template; empty uses pharos's default.
    pub message: String,
    pub http_config: HttpClientConfig,
}

/// Decodes a `wecom_configs`, `dingtalk_configs` or `feishu_configs` (`key`)
/// entry.
pub(crate) fn decode_robot(
    ctx: &mut Ctx,
    item: &Node,
    key: &str,
    kind: RobotKind,
    g: &Global,
) -> Option<RobotConfig> {
    let mut w = MapReader::open(ctx, item, "robot config", "pharos.RobotConfig")?;
    let url = secret(&mut w, ctx, "url");
    let cfg = RobotConfig {
        kind,
        send_resolved: w.bool(ctx, "send_resolved").unwrap_or(true),
        url: url.clone().unwrap_or_else(|| Secret::new("")),
        secret: if kind == RobotKind::WeCom {
            None
        } else {
            secret(&mut w, ctx, "secret")
        },
        message: w.string(ctx, "message").unwrap_or_default(),
        http_config: w
            .value("http_config")
            .map(|h| decode_http_client(ctx, h))
            .unwrap_or_else(|| g.http_config.clone()),
    };
    w.finish(ctx);
    if url.is_none() {
        ctx.err(item.line, format!("missing url in {key}"));
    }
    Some(cfg)
}

/// WeCom rejects markdown content over 4096 bytes.
const WECOM_MAX_BYTES: usize = 4096;
/// DingTalk's documented limit for a markdown text is 20000 bytes.
const DINGTALK_MAX_BYTES: usize = 20000;
/// Feishu rejects request bodies over 20 KB; this leaves room for the
/// JSON around the text.
const FEISHU_MAX_BYTES: usize = 18000;

const WECOM_RATE_LIMITED: i64 = 45009;
const DINGTALK_TOO_FAST: i64 = 130101;
const FEISHU_RATE_LIMITED: i64 = 11232;

/// The wall clock the signatures are made with (Unix ms): a signature is
/// checked against the vendor's clock when the request arrives, so it is
/// taken at send time, not from the notification's (possibly older)
/// timestamp. Injected in tests.
pub type WallClock = fn() -> i64;

fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One robot webhook.
pub struct Robot {
    kind: RobotKind,
    send_resolved: bool,
    /// The webhook URL; its query (`key=`, `access_token=`) or path is
    /// the credential.
    url: String,
    secret: Option<String>,
    message: String,
    endpoint: Endpoint,
    wall: WallClock,
}

impl Robot {
    pub fn new(c: &RobotConfig) -> Result<Robot, String> {
        let key = kind_name(c.kind);
        check_url(&format!("{key} url"), c.url.expose())?;
        let endpoint =
            Endpoint::new(&c.http_config, None).map_err(|e| format!("{key} http_config: {e}"))?;
        let message = if c.message.is_empty() {
            format!("{{{{ template \"{key}.default.message\" . }}}}")
        } else {
            c.message.clone()
        };
        Ok(Robot {
            kind: c.kind,
            send_resolved: c.send_resolved,
            url: c.url.expose().to_string(),
            secret: c
                .secret
                .as_ref()
                .map(|s| s.expose().to_string())
                .filter(|s| !s.is_empty()),
            message,
            endpoint,
            wall: system_ms,
        })
    }

    /// The same robot signing with another clock (tests).
    pub fn with_clock(mut self, wall: WallClock) -> Robot {
        self.wall = wall;
        self
    }

    /// The rendered message (and, for DingTalk, title) of `n`.
    fn render(&self, n: &Notification) -> (String, String) {
        let r = Render::new(n, &n.alerts);
        let name = kind_name(self.kind);
        let title_tmpl = if self.kind == RobotKind::DingTalk {
            "{{ template \"dingtalk.default.title\" . }}"
        } else {
            ""
        };
        match r.texts([&self.message, title_tmpl]) {
            Ok([message, title]) => (message, title),
            Err(e) => {
                r.warn_fallback(name, &e);
                (r.fallback_body(&e), r.fallback_subject())
            }
        }
    }

    /// The URL and body of the request for `n`, signed at `now_ms`.
    pub fn request(&self, n: &Notification, now_ms: i64) -> Result<(String, Json), NotifyError> {
        let (message, title) = self.render(n);
        Ok(match self.kind {
            RobotKind::WeCom => (
                self.url.clone(),
                json!({
                    "msgtype": "markdown",
                    "markdown": { "content": truncate_bytes(&message, WECOM_MAX_BYTES) },
                }),
            ),
            RobotKind::DingTalk => {
                let mut url = self.url.clone();
                if let Some(secret) = &self.secret {
                    let ts = now_ms.to_string();
                    let sign = dingtalk_sign(secret, &ts);
                    let mut u = reqwest::Url::parse(&url).map_err(|e| {
                        NotifyError::permanent(format!("dingtalk url is not a valid URL: {e}"))
                    })?;
                    u.query_pairs_mut()
                        .append_pair("timestamp", &ts)
                        .append_pair("sign", &sign);
                    url = u.to_string();
                }
                (
                    url,
                    json!({
                        "msgtype": "markdown",
                        "markdown": {
                            "title": title,
                            "text": truncate_bytes(&message, DINGTALK_MAX_BYTES),
                        },
                    }),
                )
            }
            RobotKind::Feishu => {
                let mut body = serde_json::Map::new();
                if let Some(secret) = &self.secret {
                    let ts = (now_ms / 1000).to_string();
                    let sign = feishu_sign(secret, &ts);
                    body.insert("timestamp".into(), json!(ts));
                    body.insert("sign".into(), json!(sign));
                }
                body.insert("msg_type".into(), json!("text"));
                body.insert(
                    "content".into(),
                    json!({ "text": truncate_bytes(&message, FEISHU_MAX_BYTES) }),
                );
                (self.url.clone(), Json::Object(body))
            }
        })
    }

    /// Reads the vendor's JSON status out of a 2xx reply.
    fn check_reply(&self, body: &[u8], snippet: &str) -> Result<(), NotifyError> {
        let name = kind_name(self.kind);
        let v: Json = serde_json::from_slice(body).map_err(|e| {
            NotifyError::retry(format!("could not parse the {name} reply {snippet:?}: {e}"))
        })?;
        let (code, msg) = match self.kind {
            RobotKind::WeCom | RobotKind::DingTalk => (
                v.get("errcode").and_then(Json::as_i64),
                v.get("errmsg").and_then(Json::as_str),
            ),
            RobotKind::Feishu => (
                v.get("code")
                    .or_else(|| v.get("StatusCode"))
                    .and_then(Json::as_i64),
                v.get("msg")
                    .or_else(|| v.get("StatusMessage"))
                    .and_then(Json::as_str),
            ),
        };
        let Some(code) = code else {
            return Err(NotifyError::permanent(format!(
                "the {name} reply has no status code: {snippet}"
            )));
        };
        if code == 0 {
            return Ok(());
        }
        let retry = matches!(
            (self.kind, code),
            (RobotKind::WeCom, WECOM_RATE_LIMITED)
                | (RobotKind::DingTalk, DINGTALK_TOO_FAST)
                | (RobotKind::Feishu, FEISHU_RATE_LIMITED)
        );
        Err(NotifyError {
            retry,
            message: format!(
                "{name} refused the message (code {code}: {})",
                msg.unwrap_or("")
            ),
        })
    }
}

/// The config key prefix, also the template prefix and integration name.
fn kind_name(kind: RobotKind) -> &'static str {
    match kind {
        RobotKind::WeCom => "wecom",
        RobotKind::DingTalk => "dingtalk",
        RobotKind::Feishu => "feishu",
    }
}

fn hmac_sha256_base64(key: &[u8], msg: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("BUG: HMAC accepts keys of any length");
    mac.update(msg);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk's signature of `timestamp` (ms): the key is the secret, the
/// message `timestamp\nsecret`. Returned un-encoded; the caller's query
/// builder percent-encodes it.
pub fn dingtalk_sign(secret: &str, timestamp: &str) -> String {
    hmac_sha256_base64(
        secret.as_bytes(),
        format!("{timestamp}\n{secret}").as_bytes(),
    )
}

/// Feishu's signature of `timestamp` (s): the key is `timestamp\nsecret`,
/// the message empty.
pub fn feishu_sign(secret: &str, timestamp: &str) -> String {
    hmac_sha256_base64(format!("{timestamp}\n{secret}").as_bytes(), b"")
}

impl Integration for Robot {
    fn name(&self) -> &'static str {
        kind_name(self.kind)
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            let (url, body) = self.request(n, (self.wall)())?;
            let reply = self.endpoint.post_json(&url, go_json(&body)).await?;
            reply.check_status(&redact_url(&url))?;
            self.check_reply(&reply.body, &reply.snippet())
        })
    }
}
