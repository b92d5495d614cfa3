//! pharos's own metrics: what `/metrics` serves (OpenMetrics, rendered by
//! the `prometheus-client` crate) — storage and scrape metrics under a
//! `pharos_` prefix; under Prometheus's own names, what the Prometheus
//! mixin's alerts read — `prometheus_config_last_reload_*`,
//! `prometheus_engine_query_log_*`, the rule
//! groups' `prometheus_rule_*`, the exemplar store's
//! `prometheus_tsdb_exemplar_*` and the Alertmanager sender's
//! `prometheus_notifications_*` — so existing alerts on pharos keep
//! working; and the standard `process_*` metrics.
//!
//! Values are read when a scrape asks ([`PharosCollector`] is a
//! `prometheus_client` collector), so nothing is double-counted and the hot
//! paths keep their plain atomics.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::collect::Collection;
use crate::http::HttpStats;
use crate::storage::Storage;

/// Content type of the rendered text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Renders everything `/metrics` serves.
pub fn render(
    storage: &Arc<Storage>,
    collection: Option<&Collection>,
    http: Option<&HttpStats>,
    notifier: Option<&crate::notify::notifier::Notifier>,
) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(PharosCollector {
        storage: Arc::clone(storage),
    }));
    if let Some(c) = collection {
        registry.register_collector(Box::new(ScrapeCollector(scrape_facts(c))));
        registry.register_collector(Box::new(RulesCollector {
            groups: c.rules.get().map(|r| r.groups()).unwrap_or_default(),
            sender: c.alert_sender.get().map(|s| s.facts()),
        }));
    }
    if let Some(h) = http {
        registry.register_collector(Box::new(HttpCollector(h.snapshot())));
    }
    if let Some(n) = notifier {
        let now = n.now();
        let mut alerts = [0u64; 2];
        for v in n.alerts() {
            alerts[usize::from(v.state() != "active")] += 1;
        }
        let mut silences = [0u64; 3];
        for s in n.silences().list(now) {
            silences[s.state_at(now) as usize] += 1;
        }
        registry.register_collector(Box::new(NotifyCollector {
            deliveries: n.stats.snapshot(),
            alerts,
            silences,
        }));
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// Reads storage statistics and process facts at scrape time.
pub struct PharosCollector {
    storage: Arc<Storage>,
}

impl fmt::Debug for PharosCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PharosCollector")
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    let m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(v).encode(m)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: f64) -> fmt::Result {
    let m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

impl Collector for PharosCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let st = &self.storage.stats;
        let c = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
        // Counter names get `_total` from the encoder.
        counter(
            &mut e,
            "pharos_storage_samples_appended",
            "Samples appended to the head.",
            c(&st.samples_appended),
        )?;
        counter(
            &mut e,
            "pharos_storage_out_of_order_samples",
            "Samples refused as out of order.",
            c(&st.samples_out_of_order),
        )?;
        counter(
            &mut e,
            "pharos_storage_duplicate_samples",
            "Samples refused as duplicates with a different value.",
            c(&st.samples_duplicate),
        )?;
        counter(
            &mut e,
            "pharos_storage_out_of_bounds_samples",
            "Samples refused as too far in the future or older than retention.",
            c(&st.samples_out_of_bounds),
        )?;
        counter(
            &mut e,
            "pharos_storage_chunks_sealed",
            "Head chunks persisted by the sealer.",
            c(&st.chunks_sealed),
        )?;
        counter(
            &mut e,
            "pharos_storage_chunks_deleted",
            "Chunks deleted by retention.",
            c(&st.chunks_deleted),
        )?;
        counter(
            &mut e,
            "pharos_storage_series_deleted",
            "Series deleted by retention.",
            c(&st.series_deleted),
        )?;
        gauge(
            &mut e,
            "pharos_storage_wal_records_replayed",
            "Write-ahead records replayed at the last start.",
            c(&st.wal_records_replayed),
        )?;
        gauge(
            &mut e,
            "pharos_storage_head_series",
            "Series in the index.",
            self.storage.series_count() as f64,
        )?;
        gauge(
            &mut e,
            "pharos_storage_head_memory_bytes",
            "Approximate heap bytes of the head and index.",
            self.storage.head_mem_bytes() as f64,
        )?;
        let db = std::fs::metadata(self.storage.dir().join(crate::storage::DB_FILE))
            .map_or(0, |m| m.len());
        gauge(
            &mut e,
            "pharos_storage_database_bytes",
            "Size of the database file.",
            db as f64,
        )?;
        gauge(
            &mut e,
            "pharos_storage_sqlite_wal_bytes",
            "Size of SQLite's write-ahead file beside the database.",
            self.storage.sqlite_wal_bytes() as f64,
        )?;
        // The exemplar store, under Prometheus's names and help texts.
        let ex = self.storage.exemplars.stats();
        counter(
            &mut e,
            "prometheus_tsdb_exemplar_exemplars_appended",
            "Total number of appended exemplars.",
            ex.appended as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_tsdb_exemplar_exemplars_in_storage",
            "Number of exemplars currently in circular storage.",
            ex.in_storage as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_tsdb_exemplar_series_with_exemplars_in_storage",
            "Number of series with exemplars currently in circular storage.",
            ex.series as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_tsdb_exemplar_max_exemplars",
            "Total number of exemplars the exemplar storage can store, resizeable.",
            ex.max as f64,
        )?;
        gauge(
            &mut e,
            "prometheus_tsdb_exemplar_last_exemplars_timestamp_seconds",
            "The timestamp of the oldest exemplar stored in circular storage. Useful to check for what time range the current exemplar buffer limit allows.",
            ex.oldest_seconds,
        )?;
        counter(
            &mut e,
            "prometheus_tsdb_exemplar_out_of_order_exemplars",
            "Total number of out of order exemplar ingestion failed attempts.",
            ex.out_of_order as f64,
        )?;
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
    reload_ok: bool,
    reload_success_seconds: f64,
    query_log_enabled: bool,
    query_log_failures: f64,
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
        reload_ok: c.last_reload_ok.load(Ordering::Relaxed),
        reload_success_seconds: c.last_reload_success_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        query_log_enabled: c.query_log.enabled(),
        query_log_failures: c.query_log.failures() as f64,
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

/// `(handler, code, requests, seconds)` per route.
#[derive(Debug)]
struct HttpCollector(Vec<(String, u16, u64, f64)>);

impl Collector for HttpCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let mut m = e.encode_descriptor(
            "pharos_http_requests",
            "HTTP requests served (remote write, API, UI), by route and status code.",
            None,
            MetricType::Counter,
        )?;
        for (handler, code, n, _) in &self.0 {
            let code = code.to_string();
            let labels = [("handler", handler.as_str()), ("code", code.as_str())];
            ConstCounter::new(*n as f64).encode(m.encode_family(&labels)?)?;
        }
        let mut m = e.encode_descriptor(
            "pharos_http_request_duration_seconds",
            "Time spent serving HTTP requests, by route and status code.",
            None,
            MetricType::Counter,
        )?;
        for (handler, code, _, secs) in &self.0 {
            let code = code.to_string();
            let labels = [("handler", handler.as_str()), ("code", code.as_str())];
            ConstCounter::new(*secs).encode(m.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Rule groups and the sender to `alerting.alertmanagers`, as Prometheus
/// names them.
#[derive(Debug)]
struct RulesCollector {
    groups: Vec<Arc<crate::rules::Group>>,
    sender: Option<crate::rules::SenderFacts>,
}

impl Collector for RulesCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        type Read = fn(&crate::rules::Group) -> f64;
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
        let Some(s) = &self.sender else {
            return Ok(());
        };
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
    use pharos_agent::exposition::{parse_all, Entry, Format};

    #[tokio::test]
    async fn renders_valid_openmetrics_with_storage_scrape_and_process_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Storage::open(dir.path(), Default::default()).unwrap());
        let source = crate::collect::ConfigSource::Default {
            self_address: "127.0.0.1:1".to_string(),
            route_prefix: String::new(),
            host: false,
            itself: true,
        };
        let collection = Collection::new(source, Arc::clone(&storage));
        collection.reload().await.unwrap();
        let http = HttpStats::default();
        http.record("/api/v1/write", 204, 0.25);
        use crate::notify::notifier::{default_config, Notifier, NotifierOptions};
        let am = default_config().unwrap();
        let state = Arc::new(crate::notify::MemState::default());
        let notifier = Notifier::new(NotifierOptions::new(state, "http://x"), am).unwrap();
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
        let text = render(&storage, Some(&collection), Some(&http), Some(&notifier));
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
