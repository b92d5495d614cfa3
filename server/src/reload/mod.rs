//! The reload coordinator: loads the configuration (at start, on SIGHUP,
//! on `POST /-/reload`), checks all of it — the file, every scrape job,
//! the rule files, the notifier's configuration, the query log — and only
//! then hands each stage its part: the jobs to [`Collection`], the rule
//! settings to the rule manager, the routing tree to the notifier,
//! `storage.exemplars` to the exemplar store. A bad new configuration is
//! refused with its errors and the old one keeps running.
//!
//! The configuration is a `prometheus.yml` given with `--config.file`, or
//! the built-in default: pharos scraping itself (`job="pharos"`) and its
//! host collector at `/node/metrics` (`job="node"`, `instance` = host
//! name) every 15 s over loopback HTTP — exactly what a Prometheus with a
//! node_exporter beside it would store, with `up` and staleness for free.

pub mod metrics;

use pharos_agent::sync::LockExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use pharos_agent::scrape::Job;

use crate::alert_sender::{AlertSender, AlertSettings};
use crate::collect::{hostname, Collection};
use crate::config::{self, Config, ConfigErrors, Loaded};
use crate::storage::exemplars::DEFAULT_MAX_EXEMPLARS;
use crate::storage::Storage;

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
    fn load(&self) -> Result<Loaded, ConfigErrors> {
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

/// Applies the configuration to every stage that takes a part of it.
pub struct Reloader {
    source: ConfigSource,
    /// The scrape jobs go here.
    collection: Arc<Collection>,
    /// `storage.exemplars` resizes its exemplar store.
    storage: Arc<Storage>,
    current: Mutex<Option<Arc<Config>>>,
    /// The configuration in force as shown (secrets hidden).
    current_text: Mutex<String>,
    /// Serializes reloads (SIGHUP and the HTTP endpoint may race).
    reloading: tokio::sync::Mutex<()>,
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
    /// The head of the alert sender chain (external labels and
    /// `alert_relabel_configs`, then the Alertmanagers of `alerting:` and
    /// the built-in notifier), given the alert settings on every reload.
    pub alerting: std::sync::OnceLock<Arc<dyn AlertSender>>,
    /// `global.query_log_file`, reopened with every reload; the query API
    /// and the rule evaluator write to it.
    pub query_log: Arc<crate::querylog::QueryLog>,
}

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] ConfigErrors),
    #[error("{}", .0.join("; "))]
    Jobs(Vec<String>),
    #[error("{0}")]
    Alerting(#[from] crate::alert_sender::SetupError),
    #[error("loading rule files: {0}")]
    Rules(#[from] crate::rules::RuleLoadError),
    #[error("loading the Alertmanager configuration: {0}")]
    Alertmanager(#[from] crate::notify::notifier::NotifierError),
    #[error("{0}")]
    QueryLog(#[from] crate::querylog::QueryLogError),
    #[error("the reload task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Reloader {
    /// Nothing is applied until the first [`Reloader::reload`].
    pub fn new(
        source: ConfigSource,
        collection: Arc<Collection>,
        storage: Arc<Storage>,
    ) -> Reloader {
        Reloader {
            source,
            collection,
            storage,
            current: Mutex::new(None),
            current_text: Mutex::new(String::new()),
            reloading: tokio::sync::Mutex::new(()),
            last_reload_ok: AtomicBool::new(false),
            last_reload_success_ms: AtomicI64::new(0),
            rules: std::sync::OnceLock::new(),
            notifier: std::sync::OnceLock::new(),
            alerting: std::sync::OnceLock::new(),
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
            let now = self.storage.clock().now_ms();
            self.last_reload_success_ms.store(now, Ordering::Relaxed);
        }
        result.map(|_| ())
    }

    /// Applies the configuration; `Ok(false)` when it was applied without
    /// its rules (broken rule files at start).
    async fn reload_locked(&self) -> Result<bool, ReloadError> {
        let first_load = self.current.locked().is_none();
        let source = self.source.clone();
        let loaded = tokio::task::spawn_blocking(move || source.load()).await??;
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        let mut jobs = Vec::new();
        let mut errors = Vec::new();
        for sc in &loaded.config.agent.scrape_configs {
            match Job::from_config(sc) {
                Ok(j) => jobs.push(j),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(ReloadError::Jobs(errors));
        }
        let query_log =
            crate::querylog::open(loaded.config.agent.global.query_log_file.as_deref())?;
        // The notifier's configuration and the rules first: a broken one
        // refuses the whole configuration before any of it is applied.
        let notifier = match self.notifier.get() {
            Some((n, path)) => {
                let path = path.clone();
                let cfg = tokio::task::spawn_blocking(move || match path {
                    Some(p) => crate::notify::notifier::load_config(&p),
                    None => crate::notify::notifier::default_config(),
                })
                .await??;
                let prepared = n.prepare(cfg)?;
                Some((n, prepared))
            }
            None => None,
        };
        let alert_settings = match self.alerting.get() {
            Some(_) => Some(AlertSettings::from_config(&loaded.config)?),
            None => None,
        };
        let mut complete = true;
        if let Some(rules) = self.rules.get() {
            let settings = crate::rules::RuleSettings::from_config(&loaded.config);
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
        if let (Some(chain), Some(settings)) = (self.alerting.get(), alert_settings) {
            chain.configure(&settings);
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
        let exemplars = &self.storage.exemplars;
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
        self.collection.apply(jobs);
        *self.current.locked() = Some(Arc::new(loaded.config));
        *self.current_text.locked() = loaded.shown;
        tracing::info!(jobs = n, source = %self.describe(), "configuration loaded");
        Ok(complete)
    }

    /// Where the scrape jobs go.
    pub fn collection(&self) -> &Arc<Collection> {
        &self.collection
    }

    /// The configuration in force as `/api/v1/status/config` shows it:
    /// re-rendered from the parsed file, every secret as `<secret>`.
    pub fn config_text(&self) -> String {
        self.current_text.locked().clone()
    }

    /// The configuration in force.
    pub fn config(&self) -> Option<Arc<Config>> {
        self.current.locked().clone()
    }

    pub fn describe(&self) -> String {
        match &self.source {
            ConfigSource::File(p) => p.display().to_string(),
            ConfigSource::Default { .. } => "built-in default".to_string(),
        }
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
            .agent
            .scrape_configs
            .iter()
            .map(|j| j.job_name.as_str())
            .collect();
        assert_eq!(jobs, ["pharos", "node"]);
        assert_eq!(
            loaded.config.agent.scrape_configs[1].metrics_path,
            "/node/metrics"
        );
        assert_eq!(
            loaded.config.agent.global.scrape_interval,
            std::time::Duration::from_secs(15)
        );
        for (host, itself) in [(false, true), (true, false), (false, false)] {
            let yaml = default_config("localhost:9090", "", host, itself);
            let n = config::load_str(&yaml, "default", std::path::Path::new("."))
                .unwrap()
                .config
                .agent
                .scrape_configs
                .len();
            assert_eq!(n, usize::from(host) + usize::from(itself));
        }
    }
}
