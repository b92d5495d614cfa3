//! The notifier's metrics on `/metrics`: deliveries per integration,
//! alerts and silences by state.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::notifier::Notifier;

/// A collector of the notifier's deliveries, alerts and silences now.
pub fn collector(n: &Notifier) -> Box<dyn Collector> {
    let now = n.now();
    let mut alerts = [0u64; 2];
    for v in n.alerts() {
        alerts[usize::from(v.state() != "active")] += 1;
    }
    let mut silences = [0u64; 3];
    for s in n.silences().list(now) {
        silences[s.state_at(now) as usize] += 1;
    }
    Box::new(NotifyCollector {
        deliveries: n.stats.snapshot(),
        alerts,
        silences,
    })
}

/// The notifier's deliveries, alerts and silences (Alertmanager's
/// `alertmanager_notifications_total` and friends, under pharos's prefix).
#[derive(Debug)]
struct NotifyCollector {
    deliveries: Vec<(&'static str, u64, u64)>,
    /// active, suppressed
    alerts: [u64; 2],
    /// pending, active, expired
    silences: [u64; 3],
}

impl Collector for NotifyCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let mut m = e.encode_descriptor(
            "pharos_notifications",
            "Notification delivery attempts, by integration.",
            None,
            MetricType::Counter,
        )?;
        for (integration, n, _) in &self.deliveries {
            ConstCounter::new(*n as f64)
                .encode(m.encode_family(&[("integration", *integration)])?)?;
        }
        let mut m = e.encode_descriptor(
            "pharos_notifications_failed",
            "Notification delivery attempts that failed, by integration.",
            None,
            MetricType::Counter,
        )?;
        for (integration, _, f) in &self.deliveries {
            ConstCounter::new(*f as f64)
                .encode(m.encode_family(&[("integration", *integration)])?)?;
        }
        let mut m = e.encode_descriptor(
            "pharos_notifier_alerts",
            "Alerts the notifier holds, by state.",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in ["active", "suppressed"].iter().zip(self.alerts) {
            ConstGauge::new(n as f64).encode(m.encode_family(&[("state", *state)])?)?;
        }
        let mut m = e.encode_descriptor(
            "pharos_silences",
            "Silences, by state.",
            None,
            MetricType::Gauge,
        )?;
        for (state, n) in ["pending", "active", "expired"].iter().zip(self.silences) {
            ConstGauge::new(n as f64).encode(m.encode_family(&[("state", *state)])?)?;
        }
        Ok(())
    }
}
