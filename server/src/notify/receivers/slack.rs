//! `slack_configs`: one legacy attachment POSTed to an incoming-webhook
//! URL, shaped as Alertmanager's `notify/slack/slack.go` builds it (same
//! keys, same order, same `omitempty` fields), so existing Slack
//! templates render the same message.
//!
//! Slack's incoming webhooks answer `200 ok` in plain text; the Web API
//! (`chat.postMessage`) answers JSON `{"ok": false, "error": …}` with a
//! 200, which is a failure too. Fields, actions, icons and `pretext` are
//! not in pharos's Slack config yet: the defaults Alertmanager uses for
//! them (empty) are sent.
//!
//! The config is here too: [`SlackConfig`], a `slack_configs` entry (with
//! the keys read but not used yet), and `decode_slack`, which
//! `notify::config` calls for each entry.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Map, Value as Json};

use pharos_agent::config::decode::{Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::{decode_http_client, HttpClientConfig, Secret};

use crate::notify::config::{at_most_one, secret, Global};

use super::{
    check_url, go_json, read_secret_file, redact_url, truncate_chars, Endpoint, Integration,
    Notification, NotifyError, NotifyFuture, Render,
};

/// `slack_configs` entry.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub send_resolved: bool,
    pub api_url: Option<Secret>,
    pub api_url_file: Option<PathBuf>,
    pub channel: String,
    pub username: String,
    pub title: String,
    pub title_link: String,
    pub text: String,
    pub color: String,
    pub http_config: HttpClientConfig,
}

/// Slack's bot API, the one URL that goes with an app token.
pub(crate) const SLACK_POST_MESSAGE: &str = "https://slack.com/api/chat.postMessage";

/// Keys of Alertmanager's Slack config that pharos reads but does not use.
const SLACK_EXTRA_KEYS: &[&str] = &[
    "app_url",
    "icon_emoji",
    "icon_url",
    "link_names",
    "short_fields",
    "footer",
    "fallback",
    "callback_id",
    "pretext",
    "mrkdwn_in",
    "fields",
    "actions",
    "image_url",
    "thumb_url",
    "message_text",
    "timeout",
];

/// Decodes a `slack_configs` entry; `globals_set["slack"]` says whether
/// `global` has a Slack URL or app token.
pub(crate) fn decode_slack(
    ctx: &mut Ctx,
    item: &Node,
    g: &Global,
    globals_set: &BTreeMap<String, bool>,
) -> Option<SlackConfig> {
    let mut s = MapReader::open(ctx, item, "slack config", "config.SlackConfig")?;
    let api_url = secret(&mut s, ctx, "api_url");
    let api_url_file = s.path(ctx, "api_url_file");
    let token = s.string(ctx, "app_token").is_some() || s.string(ctx, "app_token_file").is_some();
    let update_message = s.bool(ctx, "update_message").unwrap_or(false);
    let cfg = SlackConfig {
        send_resolved: s.bool(ctx, "send_resolved").unwrap_or(false),
        api_url: api_url.clone().or_else(|| g.slack_api_url.clone()),
        api_url_file: api_url_file
            .clone()
            .or_else(|| g.slack_api_url_file.clone()),
        channel: s.string(ctx, "channel").unwrap_or_default(),
        username: s
            .string(ctx, "username")
            .unwrap_or_else(|| "{{ template \"slack.default.username\" . }}".into()),
        title: s
            .string(ctx, "title")
            .unwrap_or_else(|| "{{ template \"slack.default.title\" . }}".into()),
        title_link: s
            .string(ctx, "title_link")
            .unwrap_or_else(|| "{{ template \"slack.default.titlelink\" . }}".into()),
        text: s
            .string(ctx, "text")
            .unwrap_or_else(|| "{{ template \"slack.default.text\" . }}".into()),
        color: s.string(ctx, "color").unwrap_or_else(|| {
            "{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}".into()
        }),
        http_config: s
            .value("http_config")
            .map(|h| decode_http_client(ctx, h))
            .unwrap_or_else(|| g.http_config.clone()),
    };
    // Alertmanager's remaining Slack keys are read (and kept strict)
    // without being used yet.
    for key in s
        .take_rest()
        .into_iter()
        .map(|(k, _)| k)
        .collect::<Vec<_>>()
    {
        if !SLACK_EXTRA_KEYS.contains(&key) {
            ctx.err(item.line, format!("unknown key {key:?} in slack config (field {key} not found in type config.plain)"));
        }
    }
    at_most_one(
        ctx,
        item.line,
        api_url.is_some(),
        api_url_file.is_some(),
        "api_url",
        "api_url_file",
    );
    let any_url = cfg.api_url.is_some() || cfg.api_url_file.is_some();
    if !any_url && !token && !globals_set.get("slack").copied().unwrap_or(false) {
        ctx.err(
            item.line,
            "no Slack API URL nor App token set either inline or in a file",
        );
    }
    if update_message
        && any_url
        && cfg.api_url.as_ref().map(|u| u.expose()) != Some(SLACK_POST_MESSAGE)
    {
        ctx.err(item.line, "update_message can only be used with bot tokens. api_url must be set to https://slack.com/api/chat.postMessage");
    }
    Some(cfg)
}

/// Slack's limit on an attachment title, in characters.
const MAX_TITLE_CHARS: usize = 1024;

/// Alertmanager's defaults for the attachment fields pharos's config does
/// not carry.
const FALLBACK: &str = "{{ template \"slack.default.fallback\" . }}";
const PRETEXT: &str = "{{ template \"slack.default.pretext\" . }}";
const CALLBACK_ID: &str = "{{ template \"slack.default.callbackid\" . }}";
const FOOTER: &str = "{{ template \"slack.default.footer\" . }}";

/// One Slack destination.
pub struct Slack {
    conf: SlackConfig,
    /// The webhook URL (a secret: its path is the credential).
    url: String,
    endpoint: Endpoint,
}

impl Slack {
    pub fn new(c: &SlackConfig) -> Result<Slack, String> {
        let url = match (&c.api_url, &c.api_url_file) {
            (Some(u), _) => u.expose().to_string(),
            (None, Some(f)) => read_secret_file("slack api_url_file", f)?,
            (None, None) => return Err(
                "slack config has no api_url or api_url_file (pharos does not support app tokens)"
                    .into(),
            ),
        };
        check_url("slack api_url", &url)?;
        let endpoint =
            Endpoint::new(&c.http_config, None).map_err(|e| format!("slack http_config: {e}"))?;
        Ok(Slack {
            conf: c.clone(),
            url,
            endpoint,
        })
    }

    /// The request body for `n`.
    pub fn message(&self, n: &Notification) -> Json {
        let r = Render::new(n, &n.alerts);
        let c = &self.conf;
        let fields = r.texts([
            &c.channel,
            &c.username,
            &c.title,
            &c.title_link,
            PRETEXT,
            &c.text,
            FALLBACK,
            CALLBACK_ID,
            FOOTER,
            &c.color,
        ]);
        let [channel, username, title, title_link, pretext, text, fallback, callback_id, footer, color] =
            match fields {
                Ok(f) => f,
                Err(e) => {
                    r.warn_fallback("slack", &e);
                    let subject = r.fallback_subject();
                    // The channel is the one field that must survive: it
                    // decides where the message goes.
                    let channel = r.text(&c.channel).unwrap_or_else(|_| c.channel.clone());
                    let color = if r.data().status == "firing" {
                        "danger"
                    } else {
                        "good"
                    };
                    [
                        channel,
                        "Alertmanager".into(),
                        subject.clone(),
                        String::new(),
                        String::new(),
                        r.fallback_body(&e),
                        subject,
                        String::new(),
                        String::new(),
                        color.into(),
                    ]
                }
            };
        let (title, truncated) = truncate_chars(&title, MAX_TITLE_CHARS);
        if truncated {
            tracing::warn!(receiver = %n.receiver, group_key = %n.group_key, max_chars = MAX_TITLE_CHARS, "truncated Slack title");
        }
        let mut att = Map::new();
        put_nonempty(&mut att, "title", title);
        put_nonempty(&mut att, "title_link", title_link);
        put_nonempty(&mut att, "pretext", pretext);
        att.insert("text".into(), Json::String(text));
        att.insert("fallback".into(), Json::String(fallback));
        att.insert("callback_id".into(), Json::String(callback_id));
        att.insert("footer".into(), Json::String(footer));
        put_nonempty(&mut att, "color", color);
        att.insert("mrkdwn_in".into(), json!(["fallback", "pretext", "text"]));
        let mut req = Map::new();
        put_nonempty(&mut req, "channel", channel);
        put_nonempty(&mut req, "username", username);
        req.insert("attachments".into(), Json::Array(vec![Json::Object(att)]));
        Json::Object(req)
    }
}

/// Go's `omitempty` on a string field.
fn put_nonempty(m: &mut Map<String, Json>, key: &str, value: String) {
    if !value.is_empty() {
        m.insert(key.into(), Json::String(value));
    }
}

impl Integration for Slack {
    fn name(&self) -> &'static str {
        "slack"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            let msg = self.message(n);
            let channel = msg
                .get("channel")
                .and_then(Json::as_str)
                .unwrap_or("")
                .to_string();
            let ctx = |e: NotifyError| NotifyError {
                retry: e.retry,
                message: format!("channel {channel:?}: {}", e.message),
            };
            let reply = self
                .endpoint
                .post_json(&self.url, go_json(&msg))
                .await
                .map_err(ctx)?;
            reply.check_status(&redact_url(&self.url)).map_err(ctx)?;
            if reply.content_type.starts_with("application/json") {
                // The Web API: a 200 can still be a refusal.
                let v: Json = serde_json::from_slice(&reply.body).map_err(|e| {
                    ctx(NotifyError::retry(format!(
                        "could not parse Slack's JSON reply {:?}: {e}",
                        reply.snippet()
                    )))
                })?;
                if v.get("ok").and_then(Json::as_bool) != Some(true) {
                    let err = v.get("error").and_then(Json::as_str).unwrap_or("");
                    return Err(ctx(NotifyError::permanent(format!(
                        "error response from Slack: {err}"
                    ))));
                }
            } else if reply.body != b"ok" {
                return Err(ctx(NotifyError::permanent(format!(
                    "received an error response from Slack: {}",
                    reply.snippet()
                ))));
            }
            Ok(())
        })
    }
}
