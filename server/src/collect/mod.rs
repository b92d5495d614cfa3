//! Collection: the agent library's scrape engine wired to storage, and the
//! configuration it runs.
//!
//! - The configuration is a `prometheus.yml` given with `--config.file`, or
//!   the built-in default: pharos scraping itself (`job="pharos"`) and its
//!   host collector at `/node/metrics` (`job="node"`, `instance` = host
//!   name) every 15 s over loopback HTTP — exactly what a Prometheus with a
//!   node_exporter beside it would store, with `up` and staleness for free.
//! - [`Collection::reload`] (start-up, SIGHUP, `POST /-/reload`) loads and
//!   checks the whole file and builds every job before touching anything:
//!   a bad new config is refused with its errors and the old one keeps
//!   running.
//! - [`StorageSink`] is the scrape engine's [`Sink`]: series handles are
//!   storage [`Labels`], so a known series costs the scrape loop a cache
//!   hit and an `Arc` clone; samples from all targets are committed
//!   together every 100 ms, and their exemplars go to the exemplar store
//!   once the samples are committed.
//! - [`HostCollectors`] is the set of host collectors switched on, changed
//!   at run time through `/api/v1/collectors`.

pub mod metrics;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use pharos_agent::config::{self, Config};
use pharos_agent::host::HostCollector;
use pharos_agent::scrape::{
    self, committed, Appended, Committed, Job, Manager, ScrapedExemplar, Sink,
};
use tokio::sync::oneshot::Sender;

use crate::storage::exemplars::{Exemplar, ExemplarError, DEFAULT_MAX_EXEMPLARS};
use crate::storage::{Labels, SeriesRef, Storage};
use rustc_hash::FxHashMap;

/// How long scraped samples wait to be committed together.
const COMMIT_EVERY: Duration = Duration::from_millis(100);
/// Samples that trigger a commit before [`COMMIT_EVERY`] is up.
const COMMIT_AT: usize = 100_000;
/// Commits between sweeps of the interning map (about a minute).
const PRUNE_EVERY_COMMITS: u64 = 300;
/// Samples waiting beyond which scrapes fail instead of queueing: storage
/// has fallen behind (a slow or full disk) and memory must not grow
/// without bound.
const MAX_PENDING: usize = 4_000_000;

/// The scrape engine's view of storage: a group commit. Scrape loops hand
/// their samples over and go on; a committer thread stores everything that
/// arrived in the last [`COMMIT_EVERY`] as one batch — one write-ahead
/// record and one SQLite transaction for all targets instead of one per
/// scrape, which was the largest fixed cost of a scrape. The price: a crash
/// loses at most that much of the scraped (never of the remote-written)
/// data. Refused samples are counted by storage (`pharos_storage_*`).
pub struct StorageSink {
    storage: Arc<Storage>,
    /// One handle per label set, so that every loop holding a series holds
    /// the same handle.
    interned: Mutex<FxHashMap<Labels, ScrapedSeries>>,
    pending: Mutex<Pending>,
    wake: Condvar,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct Pending {
    points: Vec<(ScrapedSeries, (i64, f64))>,
    /// Exemplars of the queued scrapes: stored after their samples, and
    /// only if those are, as Prometheus adds them when it commits.
    exemplars: Vec<(ScrapedSeries, ScrapedExemplar)>,
    /// One answer per queued batch, with its size.
    waiting: Vec<(Sender<Result<Appended, String>>, usize)>,
    closed: bool,
}

impl StorageSink {
    /// Starts the committer thread.
    pub fn start(storage: Arc<Storage>) -> Arc<StorageSink> {
        let sink = Arc::new(StorageSink {
            storage,
            interned: Mutex::new(FxHashMap::default()),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            committer: Mutex::new(None),
        });
        let worker = Arc::clone(&sink);
        let handle = std::thread::Builder::new()
            .name("scrape-commit".into())
            .spawn(move || worker.commit_loop())
            .expect("spawning the scrape committer thread");
        *lock(&sink.committer) = Some(handle);
        sink
    }

    fn commit_loop(&self) {
        let mut spare = Vec::new();
        let mut commits = 0u64;
        let mut exemplars;
        loop {
            let (batch, waiting, closed) = {
                let mut p = lock(&self.pending);
                if !p.closed && p.points.len() < COMMIT_AT {
                    p = self
                        .wake
                        .wait_timeout(p, COMMIT_EVERY)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                let batch = std::mem::replace(&mut p.points, std::mem::take(&mut spare));
                exemplars = std::mem::take(&mut p.exemplars);
                (batch, std::mem::take(&mut p.waiting), p.closed)
            };
            let result = if batch.is_empty() {
                Ok(Default::default())
            } else {
                let unplaced = std::cell::Cell::new(false);
                let points = batch.iter().map(|(s, p)| {
                    let r = s.series_ref();
                    unplaced.set(unplaced.get() | r.is_none());
                    (&s.0.labels, r, p)
                });
                let result = self.storage.append_points(points).map_err(|e| {
                    tracing::error!(samples = batch.len(), error = %e, "storing scraped samples failed");
                    e.to_string()
                });
                // Handles storage had no place for: remember where their
                // series are now. A second pass over thousands of handles
                // is a cache miss each, so only when there are some.
                if unplaced.get() {
                    for (s, _) in &batch {
                        if s.series_ref().is_none() {
                            if let Some(r) = self.storage.series_ref(&s.0.labels) {
                                s.remember(r);
                            }
                        }
                    }
                }
                result
            };
            if result.is_ok() && !exemplars.is_empty() {
                self.store_exemplars(std::mem::take(&mut exemplars));
            }
            commits += 1;
            if commits.is_multiple_of(PRUNE_EVERY_COMMITS) {
                // Handles only the interning map still holds belong to
                // series no loop scrapes any more.
                lock(&self.interned).retain(|_, s| Arc::strong_count(&s.0) > 1);
            }
            for (answer, n) in waiting {
                let _ = answer.send(result.as_ref().map_err(Clone::clone).map(|_| Appended {
                    written: n,
                    ..Appended::default()
                }));
            }
            spare = batch;
            spare.clear();
            if closed && lock(&self.pending).points.is_empty() {
                return;
            }
        }
    }

    /// Adds committed scrapes' exemplars to the exemplar store. Refusals
    /// do not fail the scrape (in Prometheus neither: they are logged at
    /// debug level, out-of-order ones counted by the store).
    fn store_exemplars(&self, exemplars: Vec<(ScrapedSeries, ScrapedExemplar)>) {
        for (series, ex) in exemplars {
            let labels = match Labels::from_sorted_any(ex.labels.iter().map(|(n, v)| (n, v))) {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(series = %series.0.labels, error = %e, "exemplar refused");
                    continue;
                }
            };
            let e = Exemplar {
                labels,
                value: ex.value,
                timestamp_ms: ex.timestamp_ms,
                has_timestamp: ex.has_timestamp,
            };
            match self.storage.exemplars.add(&series.0.labels, e) {
                Ok(_) | Err(ExemplarError::Disabled) => {}
                Err(e) => {
                    tracing::debug!(series = %series.0.labels, error = %e, "exemplar refused")
                }
            }
        }
    }

    /// Commits what is waiting and stops the committer (shutdown).
    pub fn close(&self) {
        lock(&self.pending).closed = true;
        self.wake.notify_one();
        if let Some(h) = lock(&self.committer).take() {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A series as scrape loops hold it: its labels and, once storage has it,
/// where it is in storage, so appends go straight to it without hashing
/// the labels. Handles are interned (one per label set), so they compare
/// and hash by address.
#[derive(Clone)]
pub struct ScrapedSeries(Arc<SeriesHandle>);

struct SeriesHandle {
    labels: Labels,
    /// 0 until storage has created the series (ids start at 1). Only the
    /// committer thread writes these two, and storage checks the pair
    /// before trusting it, so relaxed loads are enough.
    id: AtomicU64,
    slot: AtomicU32,
}

impl ScrapedSeries {
    fn series_ref(&self) -> Option<SeriesRef> {
        let id = self.0.id.load(Ordering::Relaxed);
        (id != 0).then(|| SeriesRef {
            id,
            slot: self.0.slot.load(Ordering::Relaxed),
        })
    }

    fn remember(&self, r: SeriesRef) {
        self.0.slot.store(r.slot, Ordering::Relaxed);
        self.0.id.store(r.id, Ordering::Relaxed);
    }
}

impl PartialEq for ScrapedSeries {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ScrapedSeries {}

impl std::hash::Hash for ScrapedSeries {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}

impl Sink for StorageSink {
    type Series = ScrapedSeries;

    fn series(&self, labels: &[(String, String)]) -> Result<ScrapedSeries, String> {
        let labels = Labels::from_sorted(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .map_err(|e| e.to_string())?;
        let mut interned = lock(&self.interned);
        if let Some(s) = interned.get(&labels) {
            return Ok(s.clone());
        }
        let s = ScrapedSeries(Arc::new(SeriesHandle {
            labels: labels.clone(),
            id: AtomicU64::new(0),
            slot: AtomicU32::new(0),
        }));
        if let Some(r) = self.storage.series_ref(&labels) {
            s.remember(r);
        }
        interned.insert(labels, s.clone());
        Ok(s)
    }

    fn append(&self, samples: Vec<(ScrapedSeries, i64, f64)>) -> Committed {
        self.append_with_exemplars(samples, Vec::new())
    }

    fn append_with_exemplars(
        &self,
        samples: Vec<(ScrapedSeries, i64, f64)>,
        exemplars: Vec<(ScrapedSeries, ScrapedExemplar)>,
    ) -> Committed {
        let n = samples.len();
        let mut p = lock(&self.pending);
        if p.closed {
            return committed(Err("pharos is shutting down".to_string()));
        }
        if p.points.len() + n > MAX_PENDING {
            return committed(Err(format!(
                "storage is falling behind: {} scraped samples are waiting to be written",
                p.points.len()
            )));
        }
        p.points
            .extend(samples.into_iter().map(|(l, t, v)| (l, (t, v))));
        p.exemplars.extend(exemplars);
        let (tx, rx) = tokio::sync::oneshot::channel();
        p.waiting.push((tx, n));
        if p.points.len() >= COMMIT_AT {
            self.wake.notify_one();
        }
        rx
    }
}

/// This machine's host name, for the node job's `instance` label.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// `--config.file`.
    File(PathBuf),
    /// The built-in default.
    Default {
        /// How pharos reaches itself (`localhost:9090`).
        self_address: String,
        /// `--web.route-prefix` (`""` or `/path`): where its own endpoints
        /// are.
        route_prefix: String,
        /// Scrape the host collector.
        host: bool,
        /// Scrape pharos's own `/metrics`.
        itself: bool,
    },
}

impl ConfigSource {
    /// Loads and checks the configuration (file reads: call off the async
    /// threads).
    fn load(&self) -> Result<config::Loaded, config::ConfigErrors> {
        match self {
            ConfigSource::File(path) => config::load_file(path),
            ConfigSource::Default {
                self_address,
                route_prefix,
                host,
                itself,
            } => config::load_str(
                &default_config(self_address, route_prefix, *host, *itself),
                "<built-in default config>",
                std::path::Path::new("."),
            ),
        }
    }
}

/// The built-in configuration: pharos and its host collector, every 15 s;
/// `prefix` is the `--web.route-prefix` their paths live under.
pub fn default_config(self_address: &str, prefix: &str, host: bool, itself: bool) -> String {
    let mut yaml = String::from(
        "# pharos's built-in configuration (used when --config.file is not given).\n\
         global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\n\
         scrape_configs:\n",
    );
    if itself {
        yaml.push_str(&format!(
            "  - job_name: pharos\n    metrics_path: {prefix}/metrics\n    static_configs:\n      - targets: ['{self_address}']\n"
        ));
    }
    if host {
        yaml.push_str(&format!(
            "  - job_name: node\n    metrics_path: {prefix}/node/metrics\n    static_configs:\n      - targets: ['{self_address}']\n    relabel_configs:\n      - target_label: instance\n        replacement: '{}'\n",
            hostname()
        ));
    }
    if !itself && !host {
        yaml.push_str("  []\n");
    }
    yaml
}

/// The running collection side of the server.
pub struct Collection {
    source: ConfigSource,
    sink: Arc<StorageSink>,
    manager: Manager<StorageSink>,
    current: Mutex<Option<Arc<Config>>>,
    /// The configuration in force as shown (secrets hidden).
    current_text: Mutex<String>,
    /// Serializes reloads (SIGHUP and the HTTP endpoint may race).
    reloading: tokio::sync::Mutex<()>,
    pub host: HostCollectors,
    /// Whether the last reload succeeded, and when one last did (ms).
    pub last_reload_ok: AtomicBool,
    pub last_reload_success_ms: AtomicI64,
    /// The rule evaluator, reloaded with the configuration (set once at
    /// start; servers without rules leave it empty).
    pub rules: std::sync::OnceLock<Arc<crate::rules::Manager>>,
    /// The notifier and its `--alertmanager.config.file` (none: the
    /// built-in configuration), reloaded with the rest.
    pub notifier: std::sync::OnceLock<(
        Arc<crate::notify::notifier::Notifier>,
        Option<std::path::PathBuf>,
    )>,
    /// The sender to `alerting.alertmanagers`, for `/metrics`.
    pub alert_sender: std::sync::OnceLock<crate::rules::AlertmanagerSender>,
    /// `global.query_log_file`, reopened with every reload; the query API
    /// and the rule evaluator write to it.
    pub query_log: Arc<crate::querylog::QueryLog>,
}

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),
    #[error("{}", .0.join("; "))]
    Jobs(Vec<String>),
    #[error("loading rule files: {0}")]
    Rules(#[from] crate::rules::RuleLoadError),
    #[error("loading the Alertmanager configuration: {0}")]
    Alertmanager(String),
    #[error("{0}")]
    QueryLog(String),
}

impl Collection {
    pub fn new(source: ConfigSource, storage: Arc<Storage>) -> Collection {
        let seed = scrape::offset_seed(&[&hostname()]);
        let sink = StorageSink::start(storage);
        Collection {
            source,
            manager: Manager::new(Arc::clone(&sink), seed),
            sink,
            current: Mutex::new(None),
            current_text: Mutex::new(String::new()),
            reloading: tokio::sync::Mutex::new(()),
            host: HostCollectors::default(),
            last_reload_ok: AtomicBool::new(false),
            last_reload_success_ms: AtomicI64::new(0),
            rules: std::sync::OnceLock::new(),
            notifier: std::sync::OnceLock::new(),
            alert_sender: std::sync::OnceLock::new(),
            query_log: Arc::new(crate::querylog::QueryLog::new()),
        }
    }

    /// Loads the configuration and, if it is valid as a whole, runs it.
    /// Must be called inside the Tokio runtime.
    pub async fn reload(&self) -> Result<(), ReloadError> {
        let _one_at_a_time = self.reloading.lock().await;
        let result = self.reload_locked().await;
        let complete = matches!(result, Ok(true));
        self.last_reload_ok.store(complete, Ordering::Relaxed);
        if complete {
            let now = chrono::Utc::now().timestamp_millis();
            self.last_reload_success_ms.store(now, Ordering::Relaxed);
        }
        result.map(|_| ())
    }

    /// Applies the configuration; `Ok(false)` when it was applied without
    /// its rules (broken rule files at start).
    async fn reload_locked(&self) -> Result<bool, ReloadError> {
        let first_load = self
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none();
        let source = self.source.clone();
        let loaded = tokio::task::spawn_blocking(move || source.load())
            .await
            .map_err(|e| ReloadError::Jobs(vec![e.to_string()]))??;
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        let mut jobs = Vec::new();
        let mut errors = Vec::new();
        for sc in &loaded.config.scrape_configs {
            match Job::from_config(sc) {
                Ok(j) => jobs.push(j),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(ReloadError::Jobs(errors));
        }
        let query_log = crate::querylog::open(loaded.config.global.query_log_file.as_deref())
            .map_err(ReloadError::QueryLog)?;
        // The notifier's configuration and the rules first: a broken one
        // refuses the whole configuration before any of it is applied.
        let notifier = match self.notifier.get() {
            Some((n, path)) => {
                let path = path.clone();
                let cfg = tokio::task::spawn_blocking(move || match path {
                    Some(p) => crate::notify::notifier::load_config(&p),
                    None => crate::notify::notifier::default_config(),
                })
                .await
                .map_err(|e| ReloadError::Alertmanager(e.to_string()))?
                .map_err(ReloadError::Alertmanager)?;
                let prepared = n.prepare(cfg).map_err(ReloadError::Alertmanager)?;
                Some((n, prepared))
            }
            None => None,
        };
        let mut complete = true;
        if let Some(rules) = self.rules.get() {
            let settings = crate::rules::RuleSettings::from_config(&loaded.config)?;
            match rules.update(settings).await {
                Ok(()) => {}
                // At start a broken rule file must not keep scraping,
                // storage and the API down (a crash loop under systemd):
                // the rest runs, the rules load once the files are fixed
                // (they are watched), and the failed load shows in
                // prometheus_config_last_reload_successful and
                // /api/v1/rules' absence of groups. Later reloads refuse
                // the whole configuration instead, keeping the rules that
                // run.
                Err(e) if first_load => {
                    tracing::error!(error = %e, "rule files are broken: starting without their rules; they load once fixed");
                    complete = false;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some((n, prepared)) = notifier {
            n.install(prepared);
        }
        self.query_log.install(query_log);
        // As Prometheus applies `storage.exemplars` on every reload:
        // resized, keeping the newest exemplars that fit.
        let max_exemplars = loaded
            .config
            .storage
            .exemplars
            .as_ref()
            .map_or(DEFAULT_MAX_EXEMPLARS, |e| e.max_exemplars.max(0) as usize);
        let exemplars = &self.sink.storage.exemplars;
        let before = exemplars.stats().max;
        if before != max_exemplars {
            let kept = exemplars.resize(max_exemplars);
            tracing::info!(
                from = before,
                to = max_exemplars,
                kept,
                "exemplar storage resized"
            );
        }
        let n = jobs.len();
        self.manager.apply(jobs);
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(loaded.config));
        *self.current_text.lock().unwrap_or_else(|e| e.into_inner()) = loaded.shown;
        tracing::info!(jobs = n, source = %self.describe(), "configuration loaded");
        Ok(complete)
    }

    /// The configuration in force as `/api/v1/status/config` shows it:
    /// re-rendered from the parsed file, every secret as `<secret>`.
    pub fn config_text(&self) -> String {
        self.current_text
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The configuration in force.
    pub fn config(&self) -> Option<Arc<Config>> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn describe(&self) -> String {
        match &self.source {
            ConfigSource::File(p) => p.display().to_string(),
            ConfigSource::Default { .. } => "built-in default".to_string(),
        }
    }

    pub fn targets(&self) -> scrape::Snapshot {
        self.manager.snapshot()
    }

    pub fn scrape_stats(&self) -> &scrape::ScrapeStats {
        self.manager.stats()
    }

    /// Stops scraping (shutdown): no stale markers, the series continue
    /// after a restart. What was scraped is committed before this returns.
    pub fn shutdown(&self) {
        self.manager.shutdown();
        self.sink.close();
    }
}

/// The host collectors switched on. All are on at start.
pub struct HostCollectors {
    enabled: RwLock<BTreeSet<&'static str>>,
}

impl Default for HostCollectors {
    fn default() -> Self {
        HostCollectors {
            enabled: RwLock::new(HostCollector::available().into_iter().collect()),
        }
    }
}

impl HostCollectors {
    /// Every collector and whether it is on.
    pub fn list(&self) -> Vec<(&'static str, bool)> {
        let on = self.enabled.read().unwrap_or_else(|e| e.into_inner());
        HostCollector::available()
            .into_iter()
            .map(|n| (n, on.contains(n)))
            .collect()
    }

    /// Switches one collector; unknown names are an error.
    pub fn set(&self, name: &str, on: bool) -> Result<(), String> {
        let Some(known) = HostCollector::available().into_iter().find(|n| *n == name) else {
            return Err(format!(
                "unknown collector {name:?}; known: {}",
                HostCollector::available().join(", ")
            ));
        };
        let mut set = self.enabled.write().unwrap_or_else(|e| e.into_inner());
        if on {
            set.insert(known);
        } else {
            set.remove(known);
        }
        Ok(())
    }

    /// A collector for one request, as node_exporter's `collect[]` and
    /// `exclude[]` parameters select: `collect[]` names a subset of the
    /// enabled collectors, `exclude[]` removes some; they cannot be mixed.
    pub fn for_request(
        &self,
        collect: &[String],
        exclude: &[String],
    ) -> Result<HostCollector, String> {
        if !collect.is_empty() && !exclude.is_empty() {
            return Err("collect[] and exclude[] cannot be used together".to_string());
        }
        let on = self
            .enabled
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for n in collect.iter().chain(exclude) {
            if !HostCollector::available().contains(&n.as_str()) {
                return Err(format!(
                    "unknown collector {n:?}; known: {}",
                    HostCollector::available().join(", ")
                ));
            }
        }
        let chosen: Vec<&str> = on
            .iter()
            .copied()
            .filter(|n| collect.is_empty() || collect.iter().any(|c| c == n))
            .filter(|n| !exclude.iter().any(|c| c == n))
            .collect();
        HostCollector::default().with_enabled(&chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_loads_and_names_both_jobs() {
        let yaml = default_config("localhost:9090", "", true, true);
        let loaded = config::load_str(&yaml, "default", std::path::Path::new(".")).unwrap();
        let jobs: Vec<&str> = loaded
            .config
            .scrape_configs
            .iter()
            .map(|j| j.job_name.as_str())
            .collect();
        assert_eq!(jobs, ["pharos", "node"]);
        assert_eq!(
            loaded.config.scrape_configs[1].metrics_path,
            "/node/metrics"
        );
        assert_eq!(
            loaded.config.global.scrape_interval,
            std::time::Duration::from_secs(15)
        );
        for (host, itself) in [(false, true), (true, false), (false, false)] {
            let yaml = default_config("localhost:9090", "", host, itself);
            let n = config::load_str(&yaml, "default", std::path::Path::new("."))
                .unwrap()
                .config
                .scrape_configs
                .len();
            assert_eq!(n, usize::from(host) + usize::from(itself));
        }
    }

    #[test]
    fn sink_interns_series_learns_ids_and_survives_stale_ids() {
        use crate::storage::Queryable;
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Storage::open(dir.path(), Default::default()).unwrap());
        let sink = StorageSink::start(Arc::clone(&storage));
        let l = vec![
            ("__name__".to_string(), "m".to_string()),
            ("job".to_string(), "j".to_string()),
        ];
        let a = sink.series(&l).unwrap();
        assert!(a == sink.series(&l).unwrap(), "one handle per label set");
        assert_eq!(a.series_ref(), None);
        let now = chrono::Utc::now().timestamp_millis();
        let stored = |s: &ScrapedSeries, t: i64, v: f64| {
            sink.append(vec![(s.clone(), t, v)])
                .blocking_recv()
                .unwrap()
                .unwrap()
        };
        assert_eq!(stored(&a, now, 1.0).written, 1);
        let r = a
            .series_ref()
            .expect("the reference is learnt once storage has the series");
        assert_eq!(storage.series_ref(&a.0.labels), Some(r));
        // An id storage no longer knows falls back to the labels, and so
        // does a slot holding another series or none.
        a.remember(SeriesRef {
            id: r.id + 1000,
            ..r
        });
        stored(&a, now + 1000, 2.0);
        a.remember(SeriesRef {
            slot: r.slot + 7,
            ..r
        });
        stored(&a, now + 2000, 2.5);
        let got = storage.select(&[], i64::MIN, i64::MAX).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].samples,
            vec![(now, 1.0), (now + 1000, 2.0), (now + 2000, 2.5)]
        );
        sink.close();
        assert!(sink
            .append(vec![(a, now + 3000, 3.0)])
            .blocking_recv()
            .unwrap()
            .is_err());
    }

    #[test]
    fn collectors_toggle_and_request_selection() {
        let h = HostCollectors::default();
        assert!(h.list().iter().all(|(_, on)| *on));
        h.set("cpu", false).unwrap();
        assert!(h.set("nope", false).is_err());
        let c = h.for_request(&[], &[]).unwrap();
        assert!(!c.enabled().any(|n| n == "cpu"));
        let c = h.for_request(&["meminfo".to_string()], &[]).unwrap();
        assert_eq!(c.enabled().collect::<Vec<_>>(), ["meminfo"]);
        let c = h.for_request(&[], &["meminfo".to_string()]).unwrap();
        assert!(!c.enabled().any(|n| n == "meminfo" || n == "cpu"));
        assert!(h
            .for_request(&["cpu".to_string()], &["meminfo".to_string()])
            .is_err());
    }
}
