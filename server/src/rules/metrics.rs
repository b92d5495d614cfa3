//! The rule evaluator's metrics on `/metrics`, as Prometheus names them
//! (`prometheus_rule_*`).

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// A collector of the rule groups' facts now.
pub fn collector(groups: Vec<Arc<super::Group>>) -> Box<dyn Collector> {
    Box::new(RulesCollector { groups })
}

/// Rule groups, as Prometheus names their metrics.
#[derive(Debug)]
struct RulesCollector {
    groups: Vec<Arc<super::Group>>,
}

impl Collector for RulesCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        type Read = fn(&super::Group) -> f64;
        let per_group: [(&str, &str, MetricType, Read); 8] = [
            (
                "prometheus_rule_evaluations",
                "The total number of rule evaluations.",
                MetricType::Counter,
                |g| g.counts.evaluations as f64,
            ),
            (
                "prometheus_rule_evaluation_failures",
                "The total number of rule evaluation failures.",
                MetricType::Counter,
                |g| g.counts.failures as f64,
            ),
            (
                "prometheus_rule_group_iterations",
                "The total number of scheduled rule group evaluations, whether executed or missed.",
                MetricType::Counter,
                |g| (g.counts.iterations + g.counts.missed) as f64,
            ),
            (
                "prometheus_rule_group_iterations_missed",
                "The total number of rule group evaluations missed due to slow rule group evaluation.",
                MetricType::Counter,
                |g| g.counts.missed as f64,
            ),
            (
                "prometheus_rule_group_interval_seconds",
                "The interval of a rule group.",
                MetricType::Gauge,
                |g| g.interval_ms as f64 / 1000.0,
            ),
            (
                "prometheus_rule_group_last_duration_seconds",
                "The duration of the last rule group evaluation.",
                MetricType::Gauge,
                |g| g.eval_duration.as_secs_f64(),
            ),
            (
                "prometheus_rule_group_last_evaluation_timestamp_seconds",
                "The timestamp of the last rule group evaluation in seconds.",
                MetricType::Gauge,
                |g| g.last_eval as f64 / 1000.0,
            ),
            (
                "prometheus_rule_group_rules",
                "The number of rules.",
                MetricType::Gauge,
                |g| g.rules.len() as f64,
            ),
        ];
        for (name, help, kind, read) in per_group {
            if self.groups.is_empty() {
                break;
            }
            let mut m = e.encode_descriptor(name, help, None, kind)?;
            for g in &self.groups {
                // Prometheus's key: the file, ";" and the group's name.
                let key = format!("{};{}", g.file, g.name);
                let labels = [("rule_group", key.as_str())];
                match kind {
                    MetricType::Counter => {
                        ConstCounter::new(read(g)).encode(m.encode_family(&labels)?)?
                    }
                    _ => ConstGauge::new(read(g)).encode(m.encode_family(&labels)?)?,
                }
            }
        }
        Ok(())
    }
}
