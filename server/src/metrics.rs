//! `/metrics`: pharos's own metrics, assembled from the collectors each
//! stage registers — storage, scraping and reloads, rules and the alert
//! sender, the HTTP layer, the notifier — and the standard `process_*`
//! metrics, rendered as OpenMetrics by the `prometheus-client` crate.
//! Prometheus's own names are kept where the Prometheus mixin's alerts
//! read them (`prometheus_config_last_reload_*`, `prometheus_rule_*`,
//! `prometheus_tsdb_exemplar_*`, `prometheus_notifications_*`), so
//! existing alerts on pharos keep working.
//!
//! Values are read when a scrape asks (each source makes a collector of
//! the facts as they are then), so nothing is double-counted and the hot
//! paths keep their plain atomics. This module knows no stage: the wiring
//! ([`crate::http::AppState`], `serve`) registers them.

use pharos_agent::sync::LockExt;
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::sync::Mutex;

use prometheus_client::registry;

/// Content type of the rendered text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Makes a collector of a stage's metrics as they are now.
pub type Source = Arc<dyn Fn() -> Box<dyn Collector> + Send + Sync>;

/// The stages' metric sources; cloning shares them.
#[derive(Clone)]
pub struct Registry(Arc<Mutex<Vec<Source>>>);

impl Default for Registry {
    /// A registry with the process metrics.
    fn default() -> Registry {
        let r = Registry(Arc::default());
        r.register(|| Box::new(ProcessCollector) as Box<dyn Collector>);
        r
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.lock().map_or(0, |s| s.len());
        write!(f, "Registry({n} sources)")
    }
}

impl Registry {
    /// Adds a stage's source.
    pub fn register(&self, source: impl Fn() -> Box<dyn Collector> + Send + Sync + 'static) {
        self.0.locked().push(Arc::new(source));
    }

    /// Everything `/metrics` serves.
    pub fn render(&self) -> String {
        let sources: Vec<Source> = self.0.locked().clone();
        let mut registry = registry::Registry::default();
        for s in sources {
            registry.register_collector(s());
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

pub(crate) fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    let m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(v).encode(m)
}

pub(crate) fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    let m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

/// The standard process metrics, read from /proc/self when scraped.
#[derive(Debug)]
struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        if let Some(p) = process() {
            counter(
                &mut e,
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                p.cpu_seconds,
            )?;
            gauge(
                &mut e,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                p.resident_bytes,
            )?;
            gauge(
                &mut e,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                p.virtual_bytes,
            )?;
            gauge(
                &mut e,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                p.start_time_seconds,
            )?;
            gauge(
                &mut e,
                "process_open_fds",
                "Number of open file descriptors.",
                p.open_fds,
            )?;
            gauge(
                &mut e,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                p.max_fds,
            )?;
        }
        Ok(())
    }
}

/// The standard process metrics, from /proc/self.
struct Process {
    cpu_seconds: f64,
    resident_bytes: f64,
    virtual_bytes: f64,
    start_time_seconds: f64,
    open_fds: f64,
    max_fds: f64,
}

fn process() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may hold spaces.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| rest.get(n - 3).and_then(|s| s.parse::<f64>().ok());
    // SAFETY: sysconf only reads a configuration value.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK) as f64,
            libc::sysconf(libc::_SC_PAGESIZE) as f64,
        )
    };
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    })?;
    let max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
        });
    Some(Process {
        cpu_seconds: (field(14)? + field(15)?) / ticks,
        resident_bytes: field(24)? * page,
        virtual_bytes: field(23)?,
        start_time_seconds: boot + field(22)? / ticks,
        open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as f64,
        max_fds: max_fds.unwrap_or(f64::NAN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::Collection;
    use crate::http::AppState;
    use crate::storage::Storage;
    use pharos_agent::exposition::{parse_all, Entry, Format};

    #[tokio::test]
    async fn renders_valid_openmetrics_with_storage_scrape_and_process_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Storage::open(dir.path(), Default::default()).unwrap());
        let source = crate::reload::ConfigSource::Default {
            self_address: "127.0.0.1:1".to_string(),
            route_prefix: String::new(),
            host: false,
            itself: true,
        };
        let collection = Arc::new(Collection::new(Arc::clone(&storage)));
        let reloader = Arc::new(crate::reload::Reloader::new(
            source,
            Arc::clone(&collection),
            Arc::clone(&storage),
        ));
        reloader.reload().await.unwrap();
        // Wired as `serve` wires it: each stage registers its collector.
        let state = AppState::new(Arc::clone(&storage)).with_reloader(Arc::clone(&reloader));
        state.http_stats.record("/api/v1/write", 204, 0.25);
        use crate::notify::notifier::{default_config, Notifier, NotifierOptions};
        let am = default_config().unwrap();
        let mem = Arc::new(crate::storage::state::MemState::default());
        let notifier = Arc::new(Notifier::new(NotifierOptions::new(mem, "http://x"), am).unwrap());
        let now = notifier.now();
        notifier
            .silences()
            .set(
                crate::notify::silence::Silence {
                    id: String::new(),
                    matchers: vec![crate::notify::silence::SilenceMatcher {
                        name: "alertname".into(),
                        value: "A".into(),
                        is_regex: false,
                        is_equal: true,
                    }],
                    starts_at: now,
                    ends_at: now + 3_600_000,
                    updated_at: 0,
                    created_by: "t".into(),
                    comment: "c".into(),
                },
                now,
            )
            .unwrap();
        let n = Arc::clone(&notifier);
        state
            .metrics
            .register(move || crate::notify::metrics::collector(&n));
        let text = state.metrics.render();
        collection.shutdown();
        let entries = parse_all(&text, Format::OpenMetrics).expect("our own parser accepts it");
        let names: Vec<&str> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Sample(s) => Some(s.name),
                _ => None,
            })
            .collect();
        for want in [
            "pharos_storage_samples_appended_total",
            "pharos_storage_head_series",
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
            "process_open_fds",
            "pharos_scrapes_total",
            "pharos_scrape_failures_total",
            "pharos_scrape_targets",
            "prometheus_config_last_reload_successful",
        ] {
            assert!(names.contains(&want), "{want} missing from:\n{text}");
        }
        assert!(
            text.contains(r#"pharos_silences{state="active"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"pharos_notifier_alerts{state="active"} 0"#),
            "{text}"
        );
        assert!(
            text.contains("prometheus_config_last_reload_successful 1"),
            "{text}"
        );
        assert!(
            text.contains(r#"pharos_scrape_targets{scrape_job="pharos",health="unknown"} 1"#),
            "{text}"
        );
    }
}
