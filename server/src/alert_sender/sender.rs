//! Sending alerts to Alertmanagers (`alerting.alertmanagers`), as
//! Prometheus's notifier does:
//!
//! ```text
//! send ─► external labels (where missing) ─► alert_relabel_configs ─► queue
//!        (AlertRelabeling, in front of the built-in notifier too)
//! queue ─► batches of ≤ 256 ─► per set: its alert_relabel_configs
//!                              ─► POST to each of the set's Alertmanagers
//! ```
//!
//! Each `alertmanagers` entry is a set: Alertmanagers found by its
//! `static_configs` and `file_sd_configs`, each a label set with
//! `__address__`, `__scheme__` and `__alerts_path__`
//! (`<path_prefix>/api/v2/alerts`) passed through its `relabel_configs`,
//! which may drop it or rewrite where alerts go. The queue drops its
//! oldest alerts when full.
//!
//! [`AlertmanagerSender::send`] is called from rule evaluation (a blocking
//! thread) and only queues; one task per sender drains the queue, another
//! re-reads the sets' target files.

use pharos_agent::sync::LockExt;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use pharos_agent::gofmt::rfc3339_millis;

use super::{AlertSender, AlertSettings, OutgoingAlert, SetupError};
use crate::config::AlertmanagerConfig;
use pharos_agent::relabel::{self, RelabelConfig};
use pharos_agent::scrape::discovery::{self, FileSd, Group};
use pharos_agent::scrape::target::ADDRESS;
use pharos_agent::scrape::Auth;

/// Prometheus's `--alertmanager.notification-queue-capacity` default.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Alerts per request, as Prometheus batches them.
const MAX_BATCH: usize = 256;

/// One entry of `alerting.alertmanagers` as it runs: how to reach its
/// Alertmanagers, which ones its discovery and `relabel_configs` found,
/// and what to change on the alerts sent to them.
pub struct AlertmanagerSet {
    timeout: Duration,
    client: reqwest::Client,
    auth: Auth,
    scheme: String,
    alerts_path: String,
    relabel_configs: Vec<RelabelConfig>,
    alert_relabel_configs: Vec<RelabelConfig>,
    static_groups: Vec<Group>,
    file_sds: Mutex<Vec<FileSd>>,
    found: Mutex<Found>,
}

/// The Alertmanagers a set's discovery found, as URLs.
#[derive(Debug, Default)]
struct Found {
    active: Vec<String>,
    /// Dropped by `relabel_configs`.
    dropped: Vec<String>,
}

impl std::fmt::Debug for AlertmanagerSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials stay out of logs.
        f.debug_struct("AlertmanagerSet")
            .field("found", &*self.found.locked())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl AlertmanagerSet {
    /// Builds the set's client and reads its discovery once, so a reload
    /// knows at once where alerts go.
    pub fn new(c: &AlertmanagerConfig) -> Result<AlertmanagerSet, SetupError> {
        let (client, auth) = pharos_agent::scrape::http_client(&c.http).map_err(SetupError)?;
        if !c.unsupported_sd.is_empty() {
            tracing::warn!(
                mechanisms = ?c.unsupported_sd,
                "only static_configs and file_sd_configs find Alertmanagers; the other discovery finds none"
            );
        }
        let static_groups = c
            .static_configs
            .iter()
            .enumerate()
            .map(|(i, g)| Group::from_config(format!("static:{i}"), g, &[]))
            .collect();
        let file_sds = c
            .file_sd_configs
            .iter()
            .map(|f| FileSd::new(f.files.clone(), f.refresh_interval))
            .collect();
        let set = AlertmanagerSet {
            timeout: c.timeout,
            client,
            auth,
            scheme: c.scheme.clone(),
            alerts_path: alerts_path(&c.path_prefix),
            relabel_configs: c.relabel_configs.clone(),
            alert_relabel_configs: c.alert_relabel_configs.clone(),
            static_groups,
            file_sds: Mutex::new(file_sds),
            found: Mutex::new(Found::default()),
        };
        set.refresh(true);
        Ok(set)
    }

    /// Re-reads the set's target files (those that changed) and, if any
    /// did (or `always`), finds its Alertmanagers again. Blocks on the
    /// file system.
    fn refresh(&self, always: bool) {
        let mut sds = self.file_sds.locked();
        let mut changed = always;
        for sd in sds.iter_mut() {
            changed |= sd.poll().is_some();
        }
        if !changed {
            return;
        }
        let groups: Vec<Group> = self
            .static_groups
            .iter()
            .cloned()
            .chain(sds.iter().flat_map(FileSd::groups))
            .collect();
        drop(sds);
        *self.found.locked() = self.find(&groups);
    }

    /// The Alertmanagers of `groups`, as Prometheus finds them: each
    /// target's labels with the set's `__scheme__` and `__alerts_path__`,
    /// through `relabel_configs`; the same URL once.
    fn find(&self, groups: &[Group]) -> Found {
        let mut found = Found::default();
        for g in groups {
            for mut labels in g.expand() {
                set_label(&mut labels, SCHEME, &self.scheme);
                set_label(&mut labels, ALERTS_PATH, &self.alerts_path);
                let before = labels.clone();
                if !relabel::process(&mut labels, &self.relabel_configs) {
                    found.dropped.push(url_of(&before));
                    continue;
                }
                let address = label(&labels, ADDRESS);
                if address.is_empty() || address.contains('/') {
                    tracing::error!(
                        address,
                        "alerting.alertmanagers: not a host:port address; skipped"
                    );
                    continue;
                }
                let url = url_of(&labels);
                if !found.active.contains(&url) {
                    found.active.push(url);
                }
            }
        }
        found
    }

    fn active(&self) -> Vec<String> {
        self.found.locked().active.clone()
    }
}

const SCHEME: &str = "__scheme__";
const ALERTS_PATH: &str = "__alerts_path__";

/// `<path_prefix>/api/v2/alerts`, slashes joined as Go's `path.Join`.
fn alerts_path(prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        "/api/v2/alerts".to_string()
    } else {
        format!("/{prefix}/api/v2/alerts")
    }
}

fn label<'a>(labels: &'a [(String, String)], name: &str) -> &'a str {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

fn set_label(labels: &mut Vec<(String, String)>, name: &str, value: &str) {
    match labels.iter_mut().find(|(n, _)| n == name) {
        Some(slot) => slot.1 = value.to_string(),
        None => labels.push((name.to_string(), value.to_string())),
    }
}

fn url_of(labels: &[(String, String)]) -> String {
    let path = label(labels, ALERTS_PATH);
    let slash = if path.starts_with('/') || path.is_empty() {
        ""
    } else {
        "/"
    };
    format!(
        "{}://{}{slash}{path}",
        label(labels, SCHEME),
        label(labels, ADDRESS)
    )
}

/// `alert_relabel_configs` on `alerts`, after adding the external labels
/// an alert lacks (none for a set's own rules); alerts a rule drops are
/// left out.
fn relabel_alerts(
    alerts: &[OutgoingAlert],
    external: &[(String, String)],
    configs: &[RelabelConfig],
) -> Vec<OutgoingAlert> {
    alerts
        .iter()
        .filter_map(|a| {
            let mut labels = a.labels.clone();
            for (k, v) in external {
                if label(&labels, k).is_empty() {
                    set_label(&mut labels, k, v);
                }
            }
            relabel::process(&mut labels, configs).then(|| OutgoingAlert {
                labels,
                ..a.clone()
            })
        })
        .collect()
}

/// Alerts sent to one Alertmanager, and alerts whose sending failed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub sent: u64,
    pub errors: u64,
}

/// What `/metrics` says of the sender, under Prometheus's
/// `prometheus_notifications_*` names.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SenderFacts {
    /// Per Alertmanager now in use, by URL.
    pub delivered: Vec<(String, Delivered)>,
    /// Alerts dropped: queue overflow, or no Alertmanager took a batch.
    pub dropped: u64,
    pub queue_length: usize,
    pub queue_capacity: usize,
}

struct Shared {
    queue: Mutex<VecDeque<OutgoingAlert>>,
    sets: Mutex<Arc<Vec<Arc<AlertmanagerSet>>>>,
    wake: tokio::sync::Notify,
    /// By URL; kept across reloads, as Prometheus's counters are.
    delivered: Mutex<std::collections::BTreeMap<String, Delivered>>,
    dropped: std::sync::atomic::AtomicU64,
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
                sets: Mutex::new(Arc::new(Vec::new())),
                wake: tokio::sync::Notify::new(),
                delivered: Mutex::new(std::collections::BTreeMap::new()),
                dropped: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Counters and gauges for `/metrics`: only Alertmanagers in use are
    /// listed (Prometheus deletes the series of removed ones).
    pub fn facts(&self) -> SenderFacts {
        let urls = self.endpoints();
        let delivered = self.shared.delivered.locked();
        let delivered = urls
            .into_iter()
            .map(|url| {
                let d = delivered.get(&url).copied().unwrap_or_default();
                (url, d)
            })
            .collect();
        SenderFacts {
            delivered,
            dropped: self
                .shared
                .dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            queue_length: self.shared.queue.locked().len(),
            queue_capacity: QUEUE_CAPACITY,
        }
    }

    fn count(&self, url: &str, alerts: usize, ok: bool) {
        let mut d = self.shared.delivered.locked();
        let e = d.entry(url.to_string()).or_default();
        if ok {
            e.sent += alerts as u64;
        } else {
            e.errors += alerts as u64;
        }
    }

    /// Drains the queue until the runtime stops: every batch to every
    /// Alertmanager. Spawn once.
    pub async fn run(self) {
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(discovery::FILE_POLL);
            loop {
                tick.tick().await;
                let sets = Arc::clone(&shared.sets.locked());
                let _ = tokio::task::spawn_blocking(move || {
                    for s in sets.iter() {
                        s.refresh(false);
                    }
                })
                .await;
            }
        });
        loop {
            self.shared.wake.notified().await;
            loop {
                let batch: Vec<OutgoingAlert> = {
                    let mut q = self.shared.queue.locked();
                    let n = q.len().min(MAX_BATCH);
                    q.drain(..n).collect()
                };
                if batch.is_empty() {
                    break;
                }
                let sets = Arc::clone(&self.shared.sets.locked());
                let mut shared_body = None;
                // As Prometheus: a batch is dropped when a set that was
                // tried had no Alertmanager take it.
                let mut set_failed = false;
                for set in sets.iter() {
                    let urls = set.active();
                    if urls.is_empty() {
                        continue;
                    }
                    let (body, count) = if set.alert_relabel_configs.is_empty() {
                        let body = shared_body.get_or_insert_with(|| payload(&batch));
                        (body.clone(), batch.len())
                    } else {
                        let alerts = relabel_alerts(&batch, &[], &set.alert_relabel_configs);
                        if alerts.is_empty() {
                            continue;
                        }
                        (payload(&alerts), alerts.len())
                    };
                    let mut taken = false;
                    for url in &urls {
                        let result = post(set, url, &body).await;
                        self.count(url, count, result.is_ok());
                        match result {
                            Ok(()) => taken = true,
                            Err(err) => {
                                tracing::warn!(alertmanager = %url, count, error = %err, "sending alerts to the Alertmanager failed");
                            }
                        }
                    }
                    set_failed |= !taken;
                }
                if set_failed {
                    self.shared
                        .dropped
                        .fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    }
}

/// The JSON body of one batch: API v2's postable alerts.
fn payload(batch: &[OutgoingAlert]) -> String {
    let alerts: Vec<serde_json::Value> = batch
        .iter()
        .map(|a| {
            let pairs = |kv: &[(String, String)]| -> serde_json::Map<String, serde_json::Value> {
                kv.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
            };
            json!({
                "startsAt": rfc3339_millis(a.starts_at),
                "endsAt": rfc3339_millis(a.ends_at),
                "annotations": pairs(&a.annotations),
                "labels": pairs(&a.labels),
                "generatorURL": a.generator_url,
            })
        })
        .collect();
    serde_json::Value::Array(alerts).to_string()
}

async fn post(set: &AlertmanagerSet, url: &str, body: &str) -> Result<(), String> {
    let req = set
        .client
        .post(url)
        .timeout(set.timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    let req = set.auth.apply(req).await.map_err(|err| err.to_string())?;
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
            let mut q = self.shared.queue.locked();
            q.extend(alerts);
            let over = q.len().saturating_sub(QUEUE_CAPACITY);
            if over > 0 {
                q.drain(..over);
                self.shared
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
        self.shared
            .sets
            .locked()
            .iter()
            .flat_map(|s| s.active())
            .collect()
    }

    fn dropped_endpoints(&self) -> Vec<String> {
        self.shared
            .sets
            .locked()
            .iter()
            .flat_map(|s| s.found.locked().dropped.clone())
            .collect()
    }

    fn configure(&self, settings: &AlertSettings) {
        *self.shared.sets.locked() = Arc::new(settings.alertmanagers.clone());
    }
}

/// Gives every alert what Prometheus gives the alerts it sends to
/// Alertmanagers — the external labels it lacks, then
/// `alerting.alert_relabel_configs`, dropping those a rule drops — and
/// passes the result on: to the Alertmanagers of `alerting:` and to the
/// built-in notifier alike, so routes matching an external label route
/// the same in both.
pub struct AlertRelabeling {
    inner: Arc<dyn AlertSender>,
    relabel: Mutex<AlertRelabel>,
}

#[derive(Default)]
struct AlertRelabel {
    external_labels: Vec<(String, String)>,
    configs: Vec<RelabelConfig>,
}

impl AlertRelabeling {
    pub fn new(inner: Arc<dyn AlertSender>) -> AlertRelabeling {
        AlertRelabeling {
            inner,
            relabel: Mutex::new(AlertRelabel::default()),
        }
    }
}

impl AlertSender for AlertRelabeling {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        let alerts = {
            let r = self.relabel.locked();
            relabel_alerts(&alerts, &r.external_labels, &r.configs)
        };
        if !alerts.is_empty() {
            self.inner.send(alerts);
        }
    }

    fn configure(&self, settings: &AlertSettings) {
        *self.relabel.locked() = AlertRelabel {
            external_labels: settings.external_labels.clone(),
            configs: settings.alert_relabel_configs.clone(),
        };
        self.inner.configure(settings);
    }

    fn endpoints(&self) -> Vec<String> {
        self.inner.endpoints()
    }

    fn dropped_endpoints(&self) -> Vec<String> {
        self.inner.dropped_endpoints()
    }
}

/// The sets of `alerting.alertmanagers`.
pub fn alertmanager_sets(
    c: &crate::config::AlertingConfig,
) -> Result<Vec<Arc<AlertmanagerSet>>, SetupError> {
    c.alertmanagers
        .iter()
        .map(|am| AlertmanagerSet::new(am).map(Arc::new))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> crate::config::AlertingConfig {
        let loaded = crate::config::load_str(yaml, "test.yml", std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{e}"));
        loaded.config.alerting
    }

    fn alert(labels: &[(&str, &str)]) -> OutgoingAlert {
        OutgoingAlert {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: Vec::new(),
            starts_at: 0,
            ends_at: 0,
            generator_url: String::new(),
        }
    }

    #[test]
    fn alertmanagers_are_found_through_relabel_configs() {
        let c = config(
            r#"
alerting:
  alertmanagers:
    - path_prefix: /am/
      static_configs:
        - targets: ['a:9093', 'b:9093', 'a:9093']
          labels: {dc: east}
        - targets: ['c:9093']
          labels: {dc: west}
      relabel_configs:
        - source_labels: [dc]
          regex: west
          action: drop
        - source_labels: [__address__]
          regex: b:9093
          target_label: __scheme__
          replacement: https
        - source_labels: [__address__]
          regex: b:9093
          target_label: __alerts_path__
          replacement: /other/api/v2/alerts
"#,
        );
        let set = AlertmanagerSet::new(&c.alertmanagers[0]).unwrap();
        let found = set.found.locked();
        assert_eq!(
            found.active,
            [
                "http://a:9093/am/api/v2/alerts",
                "https://b:9093/other/api/v2/alerts"
            ]
        );
        assert_eq!(found.dropped, ["http://c:9093/am/api/v2/alerts"]);
    }

    #[tokio::test]
    async fn failed_sends_count_as_errors_and_drop_the_batch() {
        let c = config(
            "alerting:\n  alertmanagers:\n    - timeout: 1s\n      static_configs:\n        - targets: ['127.0.0.1:1']\n",
        );
        let sender = AlertmanagerSender::new();
        sender.configure(&AlertSettings {
            alertmanagers: alertmanager_sets(&c).unwrap(),
            ..AlertSettings::default()
        });
        tokio::spawn(sender.clone().run());
        sender.send(vec![
            alert(&[("alertname", "A")]),
            alert(&[("alertname", "B")]),
        ]);
        let url = "http://127.0.0.1:1/api/v2/alerts".to_string();
        let want = SenderFacts {
            delivered: vec![(url, Delivered { sent: 0, errors: 2 })],
            dropped: 2,
            queue_length: 0,
            queue_capacity: QUEUE_CAPACITY,
        };
        for _ in 0..100 {
            if sender.facts() == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(sender.facts(), want);
    }

    #[test]
    fn alerts_path_joins_like_go() {
        assert_eq!(alerts_path(""), "/api/v2/alerts");
        assert_eq!(alerts_path("/"), "/api/v2/alerts");
        assert_eq!(alerts_path("am"), "/am/api/v2/alerts");
        assert_eq!(alerts_path("/a/b/"), "/a/b/api/v2/alerts");
    }

    #[test]
    fn alert_relabeling_sees_external_labels_and_may_drop() {
        let c = config(
            r#"
alerting:
  alert_relabel_configs:
    - source_labels: [replica]
      target_label: replica_seen
    - action: labeldrop
      regex: replica
    - source_labels: [severity]
      regex: debug
      action: drop
"#,
        );
        let external = vec![
            ("replica".to_string(), "r1".to_string()),
            ("site".to_string(), "hq".to_string()),
        ];
        let out = relabel_alerts(
            &[
                alert(&[("alertname", "A"), ("site", "own")]),
                alert(&[("alertname", "B"), ("severity", "debug")]),
            ],
            &external,
            &c.alert_relabel_configs,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        let labels: Vec<(&str, &str)> = out[0]
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // The alert's own `site` wins over the external label; `replica`
        // was there for the rules to read before it was dropped.
        assert_eq!(
            labels,
            [("alertname", "A"), ("replica_seen", "r1"), ("site", "own")]
        );
    }

    #[test]
    fn target_files_are_reread_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("am.json");
        std::fs::write(&file, r#"[{"targets": ["x:9093"]}]"#).unwrap();
        let c = config(&format!(
            "alerting:\n  alertmanagers:\n    - file_sd_configs:\n        - files: ['{}']\n",
            file.display()
        ));
        let set = AlertmanagerSet::new(&c.alertmanagers[0]).unwrap();
        assert_eq!(set.active(), ["http://x:9093/api/v2/alerts"]);
        // A different size is a change even within the same second.
        std::fs::write(&file, r#"[{"targets": ["y:9093", "z:9093"]}]"#).unwrap();
        set.refresh(false);
        assert_eq!(
            set.active(),
            ["http://y:9093/api/v2/alerts", "http://z:9093/api/v2/alerts"]
        );
    }
}
