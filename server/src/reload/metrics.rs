//! The reload's `prometheus_config_last_reload_*` and the query log's
//! `prometheus_engine_query_log_*` on `/metrics`.

use std::fmt;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::Reloader;
use crate::metrics::{counter, gauge};

/// A collector of the reload and query-log facts as they are now, for
/// [`crate::metrics::Registry`].
pub fn collector(r: &Reloader) -> Box<dyn Collector> {
    Box::new(ReloadCollector(ReloadFacts {
        reload_ok: r.last_reload_ok.load(Ordering::Relaxed),
        reload_success_seconds: r.last_reload_success_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        query_log_enabled: r.query_log.enabled(),
        query_log_failures: r.query_log.failures() as f64,
    }))
}

#[derive(Debug)]
struct ReloadFacts {
    reload_ok: bool,
    reload_success_seconds: f64,
    query_log_enabled: bool,
    query_log_failures: f64,
}

#[derive(Debug)]
struct ReloadCollector(ReloadFacts);

impl Collector for ReloadCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let f = &self.0;
        gauge(
            &mut e,
            "prometheus_engine_query_log_enabled",
            "State of the query log.",
            if f.query_log_enabled { 1.0 } else { 0.0 },
        )?;
        counter(
            &mut e,
            "prometheus_engine_query_log_failures",
            "The number of query log failures.",
            f.query_log_failures,
        )?;
        gauge(
            &mut e,
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            if f.reload_ok { 1.0 } else { 0.0 },
        )?;
        gauge(
            &mut e,
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            f.reload_success_seconds,
        )?;
        Ok(())
    }
}
