//! Receivers: the integrations that deliver one notification (a group of
//! alerts) to the outside world — webhook, email, Slack, WeChat and the
//! WeCom / DingTalk / Feishu robots.
//!
//! Each integration makes exactly one attempt per call; retries with
//! backoff, rate limits and the notification log live in the pipeline
//! (`notify::pipeline`), which is why [`NotifyError`] says whether trying
//! again can help.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::template::Template;

use super::alert::Alert;

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

// TEMPORARY (lead, for compiling the pipeline): the receivers helper
// replaces these two with the real ones — delete this block then.
pub fn build(
    _r: &super::config::Receiver,
    _g: &super::config::Global,
) -> Result<Vec<Arc<dyn Integration>>, String> {
    Ok(Vec::new())
}
pub fn default_templates() -> Result<Template, crate::template::TemplateError> {
    Ok(crate::template::default_alertmanager_template())
}
