//! Sending alerts to Alertmanagers (`alerting.alertmanagers`), as
//! Prometheus's notifier does: alerts queue in memory (oldest dropped when
//! full), are labelled with the external labels, and go in batches of up
//! to 256 as `POST <scheme>://<address><path_prefix>/api/v2/alerts` to
//! every configured Alertmanager.
//!
//! [`AlertmanagerSender::send`] is called from rule evaluation (a blocking
//! thread) and only queues; one task per sender drains the queue.

use crate::notify::alert::rfc3339_millis;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::alerting::OutgoingAlert;
use super::group::AlertSender;
use super::manager::RuleSettings;
use pharos_agent::scrape::Auth;

/// Prometheus's `--alertmanager.notification-queue-capacity` default.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Alerts per request, as Prometheus batches them.
const MAX_BATCH: usize = 256;

/// One Alertmanager to post to.
#[derive(Clone)]
pub struct Endpoint {
    /// `http://host:9093/prefix/api/v2/alerts`.
    pub url: String,
    pub timeout: Duration,
    pub client: reqwest::Client,
    pub auth: Auth,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials stay out of logs.
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Counters for `/metrics` and tests.
#[derive(Debug, Default)]
pub struct SenderStats {
    pub sent: std::sync::atomic::AtomicU64,
    pub errors: std::sync::atomic::AtomicU64,
    pub dropped: std::sync::atomic::AtomicU64,
}

struct Shared {
    queue: Mutex<VecDeque<OutgoingAlert>>,
    endpoints: Mutex<Arc<Vec<Endpoint>>>,
    external_labels: Mutex<Vec<(String, String)>>,
    wake: tokio::sync::Notify,
    stats: SenderStats,
}

/// Posts alerts to the configured Alertmanagers.
#[derive(Clone)]
pub struct AlertmanagerSender {
    shared: Arc<Shared>,
}

impl Default for AlertmanagerSender {
    fn default() -> Self {
        AlertmanagerSender::new()
    }
}

impl AlertmanagerSender {
    pub fn new() -> AlertmanagerSender {
        AlertmanagerSender {
            shared: Arc::new(Shared {
                queue: Mutex::new(VecDeque::new()),
                endpoints: Mutex::new(Arc::new(Vec::new())),
                external_labels: Mutex::new(Vec::new()),
                wake: tokio::sync::Notify::new(),
                stats: SenderStats::default(),
            }),
        }
    }

    pub fn stats(&self) -> &SenderStats {
        &self.shared.stats
    }

    /// Drains the queue until the runtime stops: every batch to every
    /// Alertmanager. Spawn once.
    pub async fn run(self) {
        loop {
            self.shared.wake.notified().await;
            loop {
                let batch: Vec<OutgoingAlert> = {
                    let mut q = lock(&self.shared.queue);
                    let n = q.len().min(MAX_BATCH);
                    q.drain(..n).collect()
                };
                if batch.is_empty() {
                    break;
                }
                let endpoints = Arc::clone(&lock(&self.shared.endpoints));
                if endpoints.is_empty() {
                    continue;
                }
                let body = self.payload(&batch);
                for e in endpoints.iter() {
                    match post(e, &body).await {
                        Ok(()) => {
                            self.shared.stats.sent.fetch_add(
                                batch.len() as u64,
                                std::sync::atomic::Ordering::Relaxed,
                            );
                        }
                        Err(err) => {
                            self.shared
                                .stats
                                .errors
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            tracing::warn!(alertmanager = %e.url, count = batch.len(), error = %err, "sending alerts to the Alertmanager failed");
                        }
                    }
                }
            }
        }
    }

    /// The JSON body of one batch: API v2's postable alerts, external
    /// labels added where the alert lacks them.
    fn payload(&self, batch: &[OutgoingAlert]) -> String {
        let external = lock(&self.shared.external_labels).clone();
        let alerts: Vec<serde_json::Value> = batch
            .iter()
            .map(|a| {
                let mut labels = serde_json::Map::new();
                for (k, v) in &external {
                    labels.insert(k.clone(), json!(v));
                }
                for (k, v) in &a.labels {
                    labels.insert(k.clone(), json!(v));
                }
                let annotations: serde_json::Map<String, serde_json::Value> = a
                    .annotations
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                json!({
                    "startsAt": rfc3339_millis(a.starts_at),
                    "endsAt": rfc3339_millis(a.ends_at),
                    "annotations": annotations,
                    "labels": labels,
                    "generatorURL": a.generator_url,
                })
            })
            .collect();
        serde_json::Value::Array(alerts).to_string()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn post(e: &Endpoint, body: &str) -> Result<(), String> {
    let req = e
        .client
        .post(&e.url)
        .timeout(e.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    let req = e.auth.apply(req).await.map_err(|err| err.to_string())?;
    let resp = req.send().await.map_err(|err| err.to_string())?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        let text = resp.text().await.unwrap_or_default();
        Err(format!("HTTP {status}: {}", text.trim()))
    }
}

impl AlertSender for AlertmanagerSender {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        {
            let mut q = lock(&self.shared.queue);
            q.extend(alerts);
            let over = q.len().saturating_sub(QUEUE_CAPACITY);
            if over > 0 {
                q.drain(..over);
                self.shared
                    .stats
                    .dropped
                    .fetch_add(over as u64, std::sync::atomic::Ordering::Relaxed);
                tracing::warn!(
                    dropped = over,
                    "alert queue full; dropped the oldest alerts"
                );
            }
        }
        self.shared.wake.notify_one();
    }

    fn endpoints(&self) -> Vec<String> {
        lock(&self.shared.endpoints)
            .iter()
            .map(|e| e.url.clone())
            .collect()
    }

    fn configure(&self, settings: &RuleSettings) {
        *lock(&self.shared.endpoints) = Arc::new(settings.alertmanagers.clone());
        *lock(&self.shared.external_labels) = settings.external_labels.clone();
    }
}

/// The endpoints of `alerting.alertmanagers`: static targets only (file
/// and other discovery are not read for Alertmanagers yet).
pub fn endpoints(c: &pharos_agent::config::AlertingConfig) -> Result<Vec<Endpoint>, String> {
    let mut out = Vec::new();
    for am in &c.alertmanagers {
        let (client, auth) = pharos_agent::scrape::http_client(&am.http)?;
        let prefix = am.path_prefix.trim_end_matches('/');
        for g in &am.static_configs {
            for t in &g.targets {
                out.push(Endpoint {
                    url: format!("{}://{t}{prefix}/api/v2/alerts", am.scheme),
                    timeout: am.timeout,
                    client: client.clone(),
                    auth: auth.clone(),
                });
            }
        }
        if !am.file_sd_configs.is_empty() || !am.unsupported_sd.is_empty() {
            tracing::warn!("only static_configs are read for alerting.alertmanagers; other discovery finds no Alertmanagers");
        }
    }
    Ok(out)
}
