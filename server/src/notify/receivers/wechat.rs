//! `wechat_configs`: WeCom's (企业微信) application message API, as
//! Alertmanager's `notify/wechat/wechat.go` drives it — fetch an access
//! token with the corp id and secret (`GET {api_url}gettoken`), cache it,
//! then `POST {api_url}message/send?access_token=…` a text or markdown
//! message to users, parties or tags of one agent.
//!
//! The token is cached per integration until shortly before WeCom says it
//! expires (two hours); a reply saying it expired (42001) or is invalid
//! (40014) drops it, and the attempt is retried with a fresh one. The
//! secret and the token appear in URLs only; errors show the API's host.
//!
//! The config is here too: [`WechatConfig`], a `wechat_configs` entry with
//! the global WeChat settings filled in, and `decode_wechat`, which
//! `notify::config` calls for each entry.

use pharos_agent::sync::LockExt;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::{json, Map, Value as Json};

use pharos_agent::config::decode::{Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::{decode_http_client, HttpClientConfig, Secret};

use crate::notify::config::{secret, Global};

use super::{
    check_url, go_json, read_secret_file, redact_url, Endpoint, Integration, Notification,
    NotifyError, NotifyFuture, Render,
};

/// `wechat_configs` entry (WeCom's application message API).
#[derive(Debug, Clone)]
pub struct WechatConfig {
    pub send_resolved: bool,
    pub api_url: String,
    pub api_secret: Option<Secret>,
    pub api_secret_file: Option<PathBuf>,
    pub corp_id: String,
    pub agent_id: String,
    pub to_user: String,
    pub to_party: String,
    pub to_tag: String,
    pub message: String,
    pub message_type: String,
    pub http_config: HttpClientConfig,
}

/// Decodes a `wechat_configs` entry, the global WeChat settings filled in.
pub(crate) fn decode_wechat(ctx: &mut Ctx, item: &Node, g: &Global) -> Option<WechatConfig> {
    let mut w = MapReader::open(ctx, item, "wechat config", "config.WechatConfig")?;
    let cfg = WechatConfig {
        send_resolved: w.bool(ctx, "send_resolved").unwrap_or(false),
        api_url: w
            .string(ctx, "api_url")
            .unwrap_or_else(|| g.wechat_api_url.clone()),
        api_secret: secret(&mut w, ctx, "api_secret").or_else(|| g.wechat_api_secret.clone()),
        api_secret_file: w
            .path(ctx, "api_secret_file")
            .or_else(|| g.wechat_api_secret_file.clone()),
        corp_id: w
            .string(ctx, "corp_id")
            .unwrap_or_else(|| g.wechat_api_corp_id.clone()),
        agent_id: w.string(ctx, "agent_id").unwrap_or_default(),
        to_user: w.string(ctx, "to_user").unwrap_or_else(|| "@all".into()),
        to_party: w.string(ctx, "to_party").unwrap_or_default(),
        to_tag: w.string(ctx, "to_tag").unwrap_or_default(),
        message: w
            .string(ctx, "message")
            .unwrap_or_else(|| "{{ template \"wechat.default.message\" . }}".into()),
        message_type: w
            .string(ctx, "message_type")
            .unwrap_or_else(|| "text".into()),
        http_config: w
            .value("http_config")
            .map(|h| decode_http_client(ctx, h))
            .unwrap_or_else(|| g.http_config.clone()),
    };
    w.finish(ctx);
    if cfg.api_secret.is_none() && cfg.api_secret_file.is_none() {
        ctx.err(
            item.line,
            "no global Wechat Api Secret set either inline or in a file",
        );
    }
    if cfg.corp_id.is_empty() {
        ctx.err(item.line, "no global Wechat CorpID set");
    }
    Some(cfg)
}

/// How long a token is used when WeCom does not say (its documented
/// lifetime), and how much earlier than its expiry it is replaced.
const TOKEN_LIFETIME_MS: i64 = 7200 * 1000;
const TOKEN_MARGIN_MS: i64 = 300 * 1000;

/// WeCom's error codes that mean "fetch a new token".
const TOKEN_EXPIRED: i64 = 42001;
const TOKEN_INVALID: i64 = 40014;
/// "System busy, try again".
const SYSTEM_BUSY: i64 = -1;

/// One WeCom application destination.
pub struct Wechat {
    conf: WechatConfig,
    secret: String,
    endpoint: Endpoint,
    /// The cached access token and when it stops being used (Unix ms of
    /// the notification clock). A std mutex: held only to copy or swap
    /// the value, never across a request.
    token: Mutex<Option<(String, i64)>>,
}

impl Wechat {
    pub fn new(c: &WechatConfig) -> Result<Wechat, String> {
        let secret = match (&c.api_secret, &c.api_secret_file) {
            (Some(s), _) => s.expose().to_string(),
            (None, Some(f)) => read_secret_file("wechat api_secret_file", f)?,
            (None, None) => return Err("wechat config has no api_secret".into()),
        };
        check_url("wechat api_url", &c.api_url)?;
        let endpoint =
            Endpoint::new(&c.http_config, None).map_err(|e| format!("wechat http_config: {e}"))?;
        Ok(Wechat {
            conf: c.clone(),
            secret,
            endpoint,
            token: Mutex::new(None),
        })
    }

    /// `{api_url}{path}` with query `pairs`.
    fn api(&self, path: &str, pairs: &[(&str, &str)]) -> Result<String, NotifyError> {
        let mut u = reqwest::Url::parse(&self.conf.api_url)
            .map_err(|e| NotifyError::permanent(format!("wechat api_url: {e}")))?;
        // Appended to the path, as Alertmanager does: api_url ends in `/`.
        let p = format!("{}{path}", u.path());
        u.set_path(&p);
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
        }
        Ok(u.to_string())
    }

    fn cached_token(&self, now: i64) -> Option<String> {
        let guard = self.token.locked();
        match &*guard {
            Some((t, until)) if now < *until => Some(t.clone()),
            _ => None,
        }
    }

    fn drop_token(&self) {
        *self.token.locked() = None;
    }

    async fn token(&self, corp_id: &str, now: i64) -> Result<String, NotifyError> {
        if let Some(t) = self.cached_token(now) {
            return Ok(t);
        }
        let url = self.api(
            "gettoken",
            &[("corpid", corp_id), ("corpsecret", &self.secret)],
        )?;
        let reply = self.endpoint.get(&url).await?;
        reply.check_status(&redact_url(&url))?;
        let v: Json = serde_json::from_slice(&reply.body).map_err(|e| {
            NotifyError::retry(format!("could not parse WeChat's token reply: {e}"))
        })?;
        let token = v.get("access_token").and_then(Json::as_str).unwrap_or("");
        if token.is_empty() {
            let code = v.get("errcode").and_then(Json::as_i64).unwrap_or(0);
            let msg = v.get("errmsg").and_then(Json::as_str).unwrap_or("");
            let message =
                format!("invalid APISecret for CorpID: {corp_id} (errcode {code}: {msg})");
            return Err(if code == SYSTEM_BUSY {
                NotifyError::retry(message)
            } else {
                NotifyError::permanent(message)
            });
        }
        let lifetime = v
            .get("expires_in")
            .and_then(Json::as_i64)
            .map(|s| s * 1000)
            .filter(|&ms| ms > 0)
            .unwrap_or(TOKEN_LIFETIME_MS)
            .min(TOKEN_LIFETIME_MS);
        let until = now + (lifetime - TOKEN_MARGIN_MS).max(lifetime / 2);
        *self.token.locked() = Some((token.to_string(), until));
        Ok(token.to_string())
    }

    /// The message body (Alertmanager's `weChatMessage`, whose
    /// `text` and `markdown` objects are always present because Go's
    /// `omitempty` does not apply to structs).
    pub(crate) fn message(&self, r: &Render) -> Json {
        let c = &self.conf;
        // Addressing falls back to the raw config text so a broken
        // template still reaches someone.
        let field = |t: &str| r.text(t).unwrap_or_else(|_| t.to_string());
        let content = r.text(&c.message).unwrap_or_else(|e| {
            r.warn_fallback("wechat", &e);
            r.fallback_body(&e)
        });
        let markdown = c.message_type == "markdown";
        let mut m = Map::new();
        m.insert(
            "text".into(),
            json!({ "content": if markdown { "" } else { content.as_str() } }),
        );
        for (key, value) in [
            ("touser", field(&c.to_user)),
            ("toparty", field(&c.to_party)),
            ("totag", field(&c.to_tag)),
            ("agentid", field(&c.agent_id)),
        ] {
            if !value.is_empty() {
                m.insert(key.into(), Json::String(value));
            }
        }
        m.insert("safe".into(), json!("0"));
        if !c.message_type.is_empty() {
            m.insert("msgtype".into(), json!(c.message_type));
        }
        m.insert(
            "markdown".into(),
            json!({ "content": if markdown { content.as_str() } else { "" } }),
        );
        Json::Object(m)
    }
}

impl Integration for Wechat {
    fn name(&self) -> &'static str {
        "wechat"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            let (corp_id, body) = {
                let r = Render::new(n, &n.alerts);
                let corp_id = r
                    .text(&self.conf.corp_id)
                    .unwrap_or_else(|_| self.conf.corp_id.clone());
                (corp_id, go_json(&self.message(&r)))
            };
            let token = self.token(&corp_id, n.now).await?;
            let url = self.api("message/send", &[("access_token", &token)])?;
            let reply = self.endpoint.post_json(&url, body).await?;
            reply.check_status(&redact_url(&url))?;
            let v: Json = serde_json::from_slice(&reply.body).map_err(|e| {
                NotifyError::retry(format!(
                    "could not parse WeChat's reply {:?}: {e}",
                    reply.snippet()
                ))
            })?;
            let code = v.get("errcode").and_then(Json::as_i64).unwrap_or(0);
            let msg = v.get("errmsg").and_then(Json::as_str).unwrap_or("");
            match code {
                0 => Ok(()),
                TOKEN_EXPIRED | TOKEN_INVALID => {
                    self.drop_token();
                    Err(NotifyError::retry(format!(
                        "WeChat access token rejected (errcode {code}: {msg}); fetching a new one"
                    )))
                }
                SYSTEM_BUSY => Err(NotifyError::retry(format!(
                    "WeChat is busy (errcode {code}: {msg})"
                ))),
                _ => Err(NotifyError::permanent(format!(
                    "WeChat refused the message (errcode {code}: {msg})"
                ))),
            }
        })
    }
}
