//! Scraping's metrics on `/metrics` (`pharos_scrape*` and the limit
//! counters under Prometheus's names).

use std::fmt;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::Collection;
use crate::metrics::counter;

/// A collector of the collection's scrape facts as they are now, for [`crate::metrics::Registry`].
pub fn collector(c: &Collection) -> Box<dyn Collector> {
    Box::new(ScrapeCollector(scrape_facts(c)))
}

/// What the scrape metrics report, read once per render.
#[derive(Debug)]
struct ScrapeFacts {
    scrapes: f64,
    failures: Vec<(&'static str, f64)>,
    target_limit_syncs: f64,
    samples: f64,
    stale_markers: f64,
    /// Targets per (job, health).
    targets: std::collections::BTreeMap<(String, &'static str), f64>,
}

fn scrape_facts(c: &Collection) -> ScrapeFacts {
    let st = c.scrape_stats();
    let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
    let mut targets = std::collections::BTreeMap::new();
    for t in c.targets().active {
        *targets
            .entry((t.pool.clone(), t.status.health.as_str()))
            .or_insert(0.0) += 1.0;
    }
    ScrapeFacts {
        scrapes: l(&st.scrapes),
        failures: pharos_agent::scrape::Error::REASONS
            .iter()
            .zip(&st.failures)
            .map(|(r, a)| (*r, l(a)))
            .collect(),
        samples: l(&st.samples),
        stale_markers: l(&st.stale_markers),
        target_limit_syncs: l(&st.target_limit_syncs),
        targets,
    }
}

#[derive(Debug)]
struct ScrapeCollector(ScrapeFacts);

impl Collector for ScrapeCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let f = &self.0;
        counter(&mut e, "pharos_scrapes", "Scrapes attempted.", f.scrapes)?;
        let mut m = e.encode_descriptor(
            "pharos_scrape_failures",
            "Failed scrapes by reason.",
            None,
            MetricType::Counter,
        )?;
        for (reason, v) in &f.failures {
            ConstCounter::new(*v).encode(m.encode_family(&[("reason", *reason)])?)?;
        }
        counter(
            &mut e,
            "pharos_scrape_samples",
            "Samples stored from successful scrapes, after metric relabeling.",
            f.samples,
        )?;
        counter(
            &mut e,
            "pharos_scrape_stale_markers",
            "Stale markers written for series that disappeared.",
            f.stale_markers,
        )?;
        let mut m = e.encode_descriptor(
            "pharos_scrape_targets",
            "Active scrape targets by job and health.",
            None,
            MetricType::Gauge,
        )?;
        for ((job, health), n) in &f.targets {
            let labels = [("scrape_job", job.as_str()), ("health", *health)];
            ConstGauge::new(*n).encode(m.encode_family(&labels)?)?;
        }
        // The limit counters the Prometheus mixin's alerts watch, under
        // Prometheus's names (the same counts as pharos_scrape_failures).
        let failed = |reason: &str| {
            f.failures
                .iter()
                .find(|(r, _)| *r == reason)
                .map_or(0.0, |(_, v)| *v)
        };
        for (name, help, reason) in [
            (
                "prometheus_target_scrapes_exceeded_sample_limit",
                "Total number of scrapes that hit the sample limit and were rejected.",
                "sample_limit",
            ),
            (
                "prometheus_target_scrapes_exceeded_body_size_limit",
                "Total number of scrapes that hit the body size limit.",
                "body_size_limit",
            ),
            (
                "prometheus_target_scrape_pool_exceeded_label_limits",
                "Total number of times scrape pools hit the label limits, during sync or config reload.",
                "label_limit",
            ),
        ] {
            counter(&mut e, name, help, failed(reason))?;
        }
        counter(
            &mut e,
            "prometheus_target_scrape_pool_exceeded_target_limit",
            "Total number of times scrape pools hit the target limit, during sync or config reload.",
            f.target_limit_syncs,
        )?;
        Ok(())
    }
}
