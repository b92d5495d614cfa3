//! The built-in collection loop. Every interval it stores pharos's own
//! metrics (`job="pharos"`, as a Prometheus scraping itself would) and the
//! host's.
//!
//! The host collector feeds storage directly: every interval the
//! agent library's [`HostCollector`] reads /proc and /sys and its samples are
//! appended as `job="node"`, `instance="<hostname>"` — what a Prometheus
//! scraping node_exporter on this host would store, without the HTTP round
//! trip. (Scrape targets and the configurable default config arrive with the
//! scrape engine; this loop is the host half of "pharos monitors its own
//! machine out of the box".)

use std::sync::Arc;
use std::time::Duration;

use pharos_agent::host::{Family, HostCollector};
use tokio::sync::watch;

use crate::storage::{Appender, Labels, SeriesSamples, Storage, METRIC_NAME};

/// How often the host is sampled (Prometheus's default scrape interval).
pub const INTERVAL: Duration = Duration::from_secs(15);

/// A label set for a sample of the built-in targets: the metric name, the
/// target labels `instance` and `job`, and the sample's own labels (except
/// any named like a target label, which the target's win, as with
/// honor_labels off).
fn target_labels<'a>(
    name: &str,
    instance: &str,
    job: &str,
    own: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<Labels> {
    let mut pairs: Vec<(String, String)> = vec![
        (METRIC_NAME.to_string(), name.to_string()),
        ("instance".to_string(), instance.to_string()),
        ("job".to_string(), job.to_string()),
    ];
    pairs.extend(
        own.filter(|(n, _)| *n != "instance" && *n != "job")
            .map(|(n, v)| (n.to_string(), v.to_string())),
    );
    match Labels::from_unsorted(pairs) {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::debug!(metric = %name, error = %e, "built-in sample skipped");
            None
        }
    }
}

/// Converts collected families into an append batch at time `t`.
pub fn to_batch(families: &[Family], instance: &str, t: i64) -> Vec<SeriesSamples> {
    let mut batch = Vec::new();
    for f in families {
        for s in &f.samples {
            let own = s.labels.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            if let Some(labels) = target_labels(&s.name, instance, "node", own) {
                batch.push(SeriesSamples {
                    labels,
                    samples: vec![(t, s.value)],
                });
            }
        }
    }
    batch
}

/// This machine's host name, for the `instance` label.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Converts pharos's own `/metrics` text into an append batch at time `t`,
/// labelled `job="pharos"`, `instance` as given — what a Prometheus scraping
/// itself stores. Lines the parser refuses are skipped (none are expected:
/// the text is ours).
pub fn self_batch(text: &str, instance: &str, t: i64) -> Vec<SeriesSamples> {
    use pharos_agent::exposition::{Entry, Format, Parser, Validation};
    let mut parser = Parser::with_validation(Format::OpenMetrics, Validation::Prometheus);
    let mut batch = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Ok(Some(Entry::Sample(s))) = parser.parse_line(line, i + 1) else {
            continue;
        };
        let own = s.labels.iter().map(|(n, v)| (*n, v.as_ref()));
        if let Some(labels) = target_labels(s.name, instance, "pharos", own) {
            batch.push(SeriesSamples {
                labels,
                samples: vec![(t, s.value)],
            });
        }
    }
    batch
}

/// What the built-in collection loop gathers.
#[derive(Debug, Clone)]
pub struct Sources {
    /// This host's metrics (node_exporter's).
    pub host: bool,
    /// pharos's own `/metrics`, under this `instance` label.
    pub itself: Option<String>,
}

/// Collects and appends every [`INTERVAL`] until `stop` flips.
pub async fn run(storage: Arc<Storage>, sources: Sources, mut stop: watch::Receiver<bool>) {
    let collector = Arc::new(HostCollector::default());
    let instance = hostname();
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {
                let (c, s, inst, src) =
                    (Arc::clone(&collector), Arc::clone(&storage), instance.clone(), sources.clone());
                let done = tokio::task::spawn_blocking(move || {
                    let t = chrono::Utc::now().timestamp_millis();
                    let mut batch = Vec::new();
                    if src.host {
                        let (families, errors) = c.collect_with_errors();
                        for e in errors {
                            tracing::debug!(collector = %e.collector, error = %e.message, "host collector failed");
                        }
                        batch.extend(to_batch(&families, &inst, t));
                    }
                    if let Some(me) = &src.itself {
                        batch.extend(self_batch(&crate::selfmetrics::render(&s), me, t));
                    }
                    s.append(batch)
                })
                .await;
                match done {
                    Ok(Ok(r)) if r.rejected_total() > 0 => {
                        tracing::warn!(refused = r.rejected_total(), "host samples refused by storage")
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "storing host samples failed"),
                    Err(e) => tracing::error!(error = %e, "host collection task failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pharos_agent::exposition::MetricType;
    use pharos_agent::host::Sample;

    #[test]
    fn own_metrics_become_pharos_job_series() {
        let text = "# TYPE pharos_x counter\npharos_x_total{k=\"v\"} 3.0\n# EOF\n";
        let b = self_batch(text, "127.0.0.1:9090", 5);
        assert_eq!(b.len(), 1);
        assert_eq!(
            b[0].labels.to_string(),
            r#"pharos_x_total{instance="127.0.0.1:9090", job="pharos", k="v"}"#
        );
        assert_eq!(b[0].samples, vec![(5, 3.0)]);
    }

    #[test]
    fn families_become_node_job_series() {
        let f = Family {
            name: "node_cpu_seconds".into(),
            help: String::new(),
            kind: MetricType::Counter,
            samples: vec![Sample {
                name: "node_cpu_seconds_total".into(),
                labels: vec![("cpu".into(), "0".into()), ("mode".into(), "idle".into())],
                value: 12.5,
            }],
        };
        let b = to_batch(&[f], "box", 1000);
        assert_eq!(b.len(), 1);
        assert_eq!(
            b[0].labels.to_string(),
            r#"node_cpu_seconds_total{cpu="0", instance="box", job="node", mode="idle"}"#
        );
        assert_eq!(b[0].samples, vec![(1000, 12.5)]);
    }
}
