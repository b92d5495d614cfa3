//! `webhook_configs`: POSTs Alertmanager's webhook payload, version 4,
//! to a URL — the contract every Alertmanager webhook consumer is written
//! against, so it is reproduced field for field and in Alertmanager's
//! key order (`notify/webhook/webhook.go`: `template.Data` followed by
//! `version`, `groupKey`, `truncatedAlerts`).
//!
//! `receiver` is the name as Alertmanager's `template.Data` holds it,
//! i.e. passed through Go's `regexp.QuoteMeta` (`team.a` arrives as
//! `team\.a`): Alertmanager embeds that struct in the message, and
//! consumers that match on the name see what they always saw.
//!
//! The config is here too: [`WebhookConfig`], a `webhook_configs` entry,
//! and `decode_webhook`, which `notify::config` calls for each entry.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};

use pharos_agent::config::decode::{Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::{decode_http_client, HttpClientConfig, Secret};

use crate::notify::alert::{rfc3339, Alert};
use crate::notify::config::{at_most_one, secret, Global};
use crate::template::AmData;

use super::{
    check_url, go_json, read_secret_file, redact_url, Endpoint, Integration, Notification,
    NotifyFuture,
};

/// `webhook_configs` entry.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub send_resolved: bool,
    pub url: Option<Secret>,
    pub url_file: Option<PathBuf>,
    /// Most alerts per message; 0 is all.
    pub max_alerts: u64,
    pub timeout: Duration,
    pub http_config: HttpClientConfig,
}

/// Decodes a `webhook_configs` entry; `http_config` defaults to the global one.
pub(crate) fn decode_webhook(ctx: &mut Ctx, item: &Node, g: &Global) -> Option<WebhookConfig> {
    let mut w = MapReader::open(ctx, item, "webhook config", "config.WebhookConfig")?;
    let url = secret(&mut w, ctx, "url");
    let url_file = w.path(ctx, "url_file");
    if url.is_none() && url_file.is_none() {
        ctx.err(item.line, "one of url or url_file must be configured");
    }
    at_most_one(
        ctx,
        item.line,
        url.is_some(),
        url_file.is_some(),
        "url",
        "url_file",
    );
    let cfg = WebhookConfig {
        send_resolved: w.bool(ctx, "send_resolved").unwrap_or(true),
        url,
        url_file,
        max_alerts: w.u64(ctx, "max_alerts").unwrap_or(0),
        timeout: w.duration(ctx, "timeout").unwrap_or(Duration::ZERO),
        http_config: w
            .value("http_config")
            .map(|h| decode_http_client(ctx, h))
            .unwrap_or_else(|| g.http_config.clone()),
    };
    w.finish(ctx);
    Some(cfg)
}

/// One webhook endpoint.
pub struct Webhook {
    /// Holds the secret URL; shown only as `scheme://host`.
    url: Arc<str>,
    max_alerts: u64,
    send_resolved: bool,
    endpoint: Endpoint,
}

impl Webhook {
    pub fn new(c: &WebhookConfig) -> Result<Webhook, String> {
        let url = match (&c.url, &c.url_file) {
            (Some(u), _) => u.expose().to_string(),
            (None, Some(f)) => read_secret_file("webhook url_file", f)?,
            (None, None) => return Err("webhook config has neither url nor url_file".into()),
        };
        check_url("webhook url", &url)?;
        let endpoint = Endpoint::new(&c.http_config, Some(c.timeout))
            .map_err(|e| format!("webhook http_config: {e}"))?;
        Ok(Webhook {
            url: url.into(),
            max_alerts: c.max_alerts,
            send_resolved: c.send_resolved,
            endpoint,
        })
    }
}

/// The first `max` alerts (0: all) and how many were dropped, as
/// Alertmanager's `truncateAlerts`.
pub fn truncate_alerts(alerts: &[Alert], max: u64) -> (&[Alert], u64) {
    if max != 0 && alerts.len() as u64 > max {
        (&alerts[..max as usize], alerts.len() as u64 - max)
    } else {
        (alerts, 0)
    }
}

/// The webhook message for `n`, with at most `max_alerts` alerts.
pub fn payload(n: &Notification, max_alerts: u64) -> Json {
    let (alerts, truncated) = truncate_alerts(&n.alerts, max_alerts);
    let data = AmData::from_alerts(
        &n.receiver,
        n.group_labels.clone(),
        alerts.iter().map(|a| a.to_template(n.now)).collect(),
        &n.external_url,
    );
    let alerts: Vec<Json> = alerts
        .iter()
        .map(|a| {
            json!({
                "status": a.status_at(n.now),
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": rfc3339(a.starts_at),
                "endsAt": rfc3339(a.ends_at),
                "generatorURL": a.generator_url,
                "fingerprint": a.fingerprint_hex(),
            })
        })
        .collect();
    json!({
        "receiver": data.receiver,
        "status": data.status,
        "alerts": alerts,
        "groupLabels": data.group_labels,
        "commonLabels": data.common_labels,
        "commonAnnotations": data.common_annotations,
        "externalURL": data.external_url,
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": truncated,
    })
}

impl Integration for Webhook {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send_resolved(&self) -> bool {
        self.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            let body = go_json(&payload(n, self.max_alerts));
            let reply = self.endpoint.post_json(&self.url, body).await?;
            reply.check_status(&redact_url(&self.url))
        })
    }
}
