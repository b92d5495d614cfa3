//! The alert sender: rule alerts on their way out, as Prometheus's
//! `notifier` package sends them.
//!
//! The rule evaluator hands its alerts to an [`AlertSender`]; `serve.rs`
//! chains the senders so that every alert first gets the external labels
//! and `alerting.alert_relabel_configs` ([`AlertRelabeling`]), then goes
//! both to the built-in notifier (`notify`, through an adapter in
//! `serve.rs`) and to the Alertmanagers of `alerting.alertmanagers`
//! ([`AlertmanagerSender`], `sender.rs`: discovery, batching, the queue).
//! The reload coordinator hands the chain its [`AlertSettings`];
//! `metrics.rs` reports `prometheus_notifications_*`.

pub mod metrics;
mod sender;

use std::sync::Arc;

pub use sender::{
    AlertRelabeling, AlertmanagerSender, AlertmanagerSet, Delivered, SenderFacts, QUEUE_CAPACITY,
};

/// An alert as the rule evaluator sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingAlert {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub starts_at: i64,
    /// The resolution time of a resolved alert, else when the alert expires
    /// unless re-sent.
    pub ends_at: i64,
    pub generator_url: String,
}

/// What the configuration says about where alerts go and how they are
/// changed first.
#[derive(Debug, Clone, Default)]
pub struct AlertSettings {
    /// `global.external_labels`, added to alerts that lack them.
    pub external_labels: Vec<(String, String)>,
    /// `alerting.alertmanagers`: where firing and resolved alerts go.
    pub alertmanagers: Vec<Arc<AlertmanagerSet>>,
    /// `alerting.alert_relabel_configs`, for every alert sent.
    pub alert_relabel_configs: Vec<pharos_agent::relabel::RelabelConfig>,
}

impl AlertSettings {
    /// Builds every Alertmanager set's client and reads its discovery
    /// once; a set that cannot be built fails the whole configuration.
    pub fn from_config(c: &crate::config::Config) -> Result<AlertSettings, SetupError> {
        Ok(AlertSettings {
            external_labels: c.agent.global.external_labels.clone(),
            alertmanagers: sender::alertmanager_sets(&c.alerting)?,
            alert_relabel_configs: c.alerting.alert_relabel_configs.clone(),
        })
    }
}

/// An `alerting.alertmanagers` entry that cannot be set up (an unreadable
/// CA, certificate or password file).
#[derive(Debug, Clone, thiserror::Error)]
#[error("alerting.alertmanagers: {0}")]
pub struct SetupError(pub String);

/// Where a group's alerts go: the notifier, or an external Alertmanager.
pub trait AlertSender: Send + Sync {
    /// Queues alerts for delivery; must not block on the network.
    fn send(&self, alerts: Vec<OutgoingAlert>);
    /// Takes the settings of a successful reload (where to send).
    fn configure(&self, _settings: &AlertSettings) {}
    /// Where alerts go, for `/api/v1/alertmanagers`.
    fn endpoints(&self) -> Vec<String> {
        Vec::new()
    }
    /// Alertmanagers discovered but dropped by relabeling.
    fn dropped_endpoints(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Drops alerts (no notifier configured).
pub struct NoSender;

impl AlertSender for NoSender {
    fn send(&self, _alerts: Vec<OutgoingAlert>) {}
}

/// Sends to several places: pharos's own notifier and the configured
/// external Alertmanagers.
pub struct Senders(pub Vec<Arc<dyn AlertSender>>);

impl AlertSender for Senders {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        if let Some((last, rest)) = self.0.split_last() {
            for s in rest {
                s.send(alerts.clone());
            }
            last.send(alerts);
        }
    }
    fn configure(&self, settings: &AlertSettings) {
        for s in &self.0 {
            s.configure(settings);
        }
    }
    fn endpoints(&self) -> Vec<String> {
        self.0.iter().flat_map(|s| s.endpoints()).collect()
    }
    fn dropped_endpoints(&self) -> Vec<String> {
        self.0.iter().flat_map(|s| s.dropped_endpoints()).collect()
    }
}
