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

use serde_json::{json, Map, Value as Json};

use crate::notify::config::SlackConfig;

use super::{
    check_url, go_json, read_secret_file, redact_url, truncate_chars, Endpoint, Integration,
    Notification, NotifyError, NotifyFuture, Render,
};

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
