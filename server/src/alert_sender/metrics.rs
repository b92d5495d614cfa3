//! The alert sender's metrics on `/metrics`, as Prometheus names them
//! (`prometheus_notifications_*`).

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use super::SenderFacts;
use crate::metrics::{counter, gauge};

/// A collector of the sender's facts now.
pub fn collector(facts: SenderFacts) -> Box<dyn Collector> {
    Box::new(SenderCollector(facts))
}

#[derive(Debug)]
struct SenderCollector(SenderFacts);

impl Collector for SenderCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let s = &self.0;
        for (name, help, errors) in [
            (
                "prometheus_notifications_sent",
                "Total number of alerts sent.",
                false,
            ),
            (
                "prometheus_notifications_errors",
                "Total number of sent alerts affected by errors.",
                true,
            ),
        ] {
            let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (url, d) in &s.delivered {
                let v = if errors { d.errors } else { d.sent };
                ConstCounter::new(v as f64)
                    .encode(m.encode_family(&[("alertmanager", url.as_str())])?)?;
            }
        }
        counter(
            &mut e,
            "prometheus_notifications_dropped",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
            s.dropped as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_notifications_queue_length",
            "The number of alert notifications in the queue.",
            s.queue_length as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_notifications_queue_capacity",
            "The capacity of the alert notifications queue.",
            s.queue_capacity as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_notifications_alertmanagers_discovered",
            "The number of alertmanagers discovered and active.",
            s.delivered.len() as f64,
        )
    }
}
