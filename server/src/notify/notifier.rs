//! The notifier service: the alert store, dispatcher, silences and
//! notification log behind one handle, a loop that flushes groups when
//! they are due, and the views the Alertmanager v2 API serves.
//!
//! Time comes from an injected [`Clock`]; [`Notifier::tick`] runs every
//! due flush to completion, which is how the timeline tests step through
//! time, while [`Notifier::run`] is the production loop.

use pharos_agent::sync::LockExt;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::alert::Alert;
use super::config::AmConfig;
use super::dispatch::{Dispatcher, Flush};
use super::inhibit;
use super::nflog::NotificationLog;
use super::pipeline::{self, DeliveryOptions, DeliveryStats, FlushContext, RateLimiter};
use super::receivers::{self, Integration};
use super::silence::Silences;
use super::store::AlertStore;
use crate::storage::state::StateStore;
use crate::storage::Clock;
use crate::template::Template;

/// How long silences and log entries outlive their end
/// (Alertmanager's `--data.retention`).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(120 * 3600);

/// Builds a receiver's integrations ([`receivers::build`] in production;
/// tests inject recorders).
pub type BuildIntegrations = Arc<
    dyn Fn(
            &super::config::Receiver,
            &super::config::Global,
        ) -> Result<Vec<Arc<dyn Integration>>, String>
        + Send
        + Sync,
>;

pub struct NotifierOptions {
    pub clock: Clock,
    pub build: BuildIntegrations,
    pub state: Arc<dyn StateStore>,
    pub external_url: String,
    pub retention: Duration,
    pub delivery: DeliveryOptions,
}

/// A configuration checked and built, ready for [`Notifier::install`].
pub struct Prepared(Loaded);

/// One loaded configuration with everything built from it.
struct Loaded {
    dispatcher: Dispatcher,
    integrations: HashMap<String, Vec<Arc<dyn Integration>>>,
    limiters: HashMap<String, Arc<RateLimiter>>,
    templates: Arc<Template>,
    /// The configuration file's text with secrets hidden, for
    /// `/api/v2/status`.
    shown: String,
}

pub struct Notifier {
    opts: NotifierOptions,
    alerts: AlertStore,
    silences: Silences,
    nflog: Arc<NotificationLog>,
    loaded: Mutex<Loaded>,
    wake: tokio::sync::Notify,
    started_ms: i64,
    pub stats: Arc<DeliveryStats>,
}

/// An alert as the API shows it.
#[derive(Clone, Debug)]
pub struct AlertView {
    pub alert: Alert,
    pub receivers: Vec<String>,
    pub silenced_by: Vec<String>,
    pub inhibited_by: Vec<String>,
}

impl AlertView {
    /// `active`, `suppressed` (silenced or inhibited).
    pub fn state(&self) -> &'static str {
        if self.silenced_by.is_empty() && self.inhibited_by.is_empty() {
            "active"
        } else {
            "suppressed"
        }
    }
}

/// A group as the API shows it.
#[derive(Clone, Debug)]
pub struct GroupView {
    pub labels: BTreeMap<String, String>,
    pub receiver: String,
    pub alerts: Vec<AlertView>,
}

impl NotifierOptions {
    /// Production options: system clock, real integrations.
    pub fn new(state: Arc<dyn StateStore>, external_url: &str) -> NotifierOptions {
        NotifierOptions {
            clock: Clock::system(),
            build: Arc::new(receivers::build),
            state,
            external_url: external_url.to_string(),
            retention: DEFAULT_RETENTION,
            delivery: DeliveryOptions::default(),
        }
    }
}

/// Why the notifier could not start or take a configuration. Each reads
/// as the sentence it always was; the kind tells the caller what failed.
#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    /// `alertmanager.yml` does not load: every problem, with `file:line`.
    #[error("{0}")]
    Config(#[from] pharos_agent::config::ConfigErrors),
    /// A template file is unreadable or does not parse.
    #[error("{0}")]
    Template(String),
    /// A receiver cannot be built (a bad URL, an unreadable secret file).
    #[error("{0}")]
    Receiver(String),
    /// Saved silences or the notification log cannot be read.
    #[error("{0}")]
    State(String),
}

impl Notifier {
    /// Builds the notifier from a checked configuration.
    pub fn new(opts: NotifierOptions, config: AmConfig) -> Result<Arc<Notifier>, NotifierError> {
        let retention = opts.retention.as_millis() as i64;
        let silences = Silences::load(opts.state.clone(), retention)
            .map_err(|e| NotifierError::State(format!("cannot load silences: {e}")))?;
        let nflog = NotificationLog::load(opts.state.clone(), retention)
            .map_err(|e| NotifierError::State(format!("cannot load the notification log: {e}")))?;
        let loaded = build(config, &opts)?;
        let started_ms = opts.clock.now_ms();
        Ok(Arc::new(Notifier {
            opts,
            alerts: AlertStore::default(),
            silences,
            nflog: Arc::new(nflog),
            loaded: Mutex::new(loaded),
            wake: tokio::sync::Notify::new(),
            started_ms,
            stats: Arc::default(),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Loaded> {
        self.loaded.locked()
    }

    pub fn now(&self) -> i64 {
        self.opts.clock.now_ms()
    }

    /// Swaps in a new configuration; on error the old one stays. Groups
    /// start afresh (waiting `group_wait`), as in Alertmanager; the
    /// notification log keeps them from repeating what was sent.
    pub fn apply_config(&self, config: AmConfig) -> Result<(), NotifierError> {
        let next = self.prepare(config)?;
        self.install(next);
        Ok(())
    }

    /// Builds everything a configuration needs (integrations, templates)
    /// without applying it, so a reload can check all parts first.
    pub fn prepare(&self, config: AmConfig) -> Result<Prepared, NotifierError> {
        build(config, &self.opts).map(Prepared)
    }

    /// Applies a prepared configuration.
    pub fn install(&self, prepared: Prepared) {
        let mut next = prepared.0;
        let now = self.now();
        for a in self.alerts.all() {
            if !a.resolved_at(now) {
                next.dispatcher.insert(&a, now);
            }
        }
        *self.lock() = next;
        self.wake.notify_one();
    }

    /// Takes alerts as the v2 API's POST does: a missing start is now (or
    /// the end), a missing end is now + `resolve_timeout`. Alerts that
    /// fail validation are refused with a reason each; the others are
    /// taken.
    pub fn put_alerts(&self, alerts: Vec<Alert>) -> Vec<String> {
        let now = self.now();
        let resolve_timeout = self
            .lock()
            .dispatcher
            .config()
            .global
            .resolve_timeout
            .as_millis() as i64;
        let mut errors = Vec::new();
        let mut accepted = Vec::new();
        for mut a in alerts {
            if a.starts_at == 0 {
                a.starts_at = if a.ends_at == 0 { now } else { a.ends_at };
            }
            if a.ends_at == 0 {
                a.timeout = true;
                a.ends_at = now + resolve_timeout;
            } else {
                a.timeout = false;
            }
            a.updated_at = now;
            if let Err(e) = validate(&a) {
                errors.push(e);
                continue;
            }
            accepted.push(a);
        }
        if !accepted.is_empty() {
            let mut loaded = self.lock();
            for a in accepted {
                let merged = self.alerts.put(a, now);
                loaded.dispatcher.insert(&merged, now);
            }
            drop(loaded);
            self.wake.notify_one();
        }
        errors
    }

    /// Runs every flush due now to completion; returns how many ran.
    pub async fn tick(self: &Arc<Self>) -> usize {
        let jobs = self.take_due();
        let n = jobs.len();
        let mut set = tokio::task::JoinSet::new();
        for (flush, ctx) in jobs {
            let me = self.clone();
            set.spawn(async move { me.run_flush(flush, ctx).await });
        }
        while set.join_next().await.is_some() {}
        n
    }

    fn take_due(&self) -> Vec<(Flush, FlushContext)> {
        let now = self.now();
        let mut loaded = self.lock();
        let due = loaded.dispatcher.due(now);
        due.into_iter()
            .map(|f| {
                let ctx = FlushContext {
                    config: loaded.dispatcher.config().clone(),
                    integrations: loaded
                        .integrations
                        .get(&f.route.receiver)
                        .cloned()
                        .unwrap_or_default(),
                    templates: loaded.templates.clone(),
                    limiter: loaded
                        .limiters
                        .get(&f.route.receiver)
                        .cloned()
                        .unwrap_or_else(|| Arc::new(RateLimiter::new(1, 1))),
                    external_url: self.opts.external_url.clone(),
                    stats: self.stats.clone(),
                };
                (f, ctx)
            })
            .collect()
    }

    async fn run_flush(self: Arc<Self>, flush: Flush, ctx: FlushContext) {
        let all = self.alerts.all();
        let ok = match pipeline::unmuted(&flush, &ctx.config, &self.silences, &all) {
            None => true,
            Some(alerts) => {
                pipeline::deliver(&flush, alerts, ctx, self.nflog.clone(), &self.opts.delivery)
                    .await
            }
        };
        self.lock().dispatcher.flushed(&flush, ok);
        self.wake.notify_one();
    }

    /// The production loop: flushes groups as they come due (each in its
    /// own task, so a slow receiver delays nobody else) and collects
    /// garbage every few minutes. Runs until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut last_gc = self.now();
        loop {
            for (flush, ctx) in self.take_due() {
                tokio::spawn(self.clone().run_flush(flush, ctx));
            }
            let now = self.now();
            if now - last_gc >= 5 * 60 * 1000 {
                last_gc = now;
                self.gc(now);
            }
            let next = self.lock().dispatcher.next_deadline();
            // Wake at the next deadline, on news, or at least every
            // second (the clock may be adjusted).
            let wait = next.map_or(1000, |t| (t - now).clamp(0, 1000)) as u64;
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(wait.max(5))) => {}
            }
        }
    }

    /// Drops resolved alerts, old silences and expired log entries.
    pub fn gc(&self, now: i64) {
        self.alerts.gc(now);
        self.silences.gc(now);
        self.nflog.gc(now);
    }

    pub fn silences(&self) -> &Silences {
        &self.silences
    }

    pub fn nflog(&self) -> &NotificationLog {
        &self.nflog
    }

    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    /// The configuration text with secrets hidden.
    pub fn config_shown(&self) -> String {
        self.lock().shown.clone()
    }

    /// Receiver names, in configuration order.
    pub fn receivers(&self) -> Vec<String> {
        self.lock()
            .dispatcher
            .config()
            .receivers
            .iter()
            .map(|r| r.name.clone())
            .collect()
    }

    fn view(
        &self,
        a: &Alert,
        receivers: Vec<String>,
        config: &AmConfig,
        all: &[Alert],
        now: i64,
    ) -> AlertView {
        AlertView {
            alert: a.clone(),
            receivers,
            silenced_by: self.silences.mutes(&a.labels, now),
            inhibited_by: inhibit::inhibited_by(&config.inhibit_rules, &a.labels, all, now),
        }
    }

    /// The alerts not yet resolved, sorted by fingerprint.
    pub fn alerts(&self) -> Vec<AlertView> {
        let now = self.now();
        let all = self.alerts.all();
        let loaded = self.lock();
        let config = loaded.dispatcher.config();
        let mut out: Vec<AlertView> = all
            .iter()
            .filter(|a| !a.resolved_at(now))
            .map(|a| {
                let mut receivers: Vec<String> = Vec::new();
                for r in loaded.dispatcher.routes_for(&a.labels) {
                    if !receivers.contains(&r.receiver) {
                        receivers.push(r.receiver.clone());
                    }
                }
                self.view(a, receivers, config, &all, now)
            })
            .collect();
        out.sort_by_key(|v| v.alert.fingerprint());
        out
    }

    /// The aggregation groups and their unresolved alerts.
    pub fn groups(&self) -> Vec<GroupView> {
        let now = self.now();
        let all = self.alerts.all();
        let loaded = self.lock();
        let config = loaded.dispatcher.config();
        loaded
            .dispatcher
            .groups()
            .filter_map(|g| {
                let alerts: Vec<AlertView> = g
                    .alerts
                    .values()
                    .filter(|a| !a.resolved_at(now))
                    .map(|a| {
                        // The store has the newest report of the alert.
                        let cur = self
                            .alerts
                            .get(a.fingerprint())
                            .unwrap_or_else(|| a.clone());
                        self.view(&cur, vec![g.route.receiver.clone()], config, &all, now)
                    })
                    .collect();
                (!alerts.is_empty()).then(|| GroupView {
                    labels: g.labels.clone(),
                    receiver: g.route.receiver.clone(),
                    alerts,
                })
            })
            .collect()
    }
}

/// The configuration used without `--alertmanager.config.file`: alerts
/// are kept (and shown by the API) but go nowhere.
pub const DEFAULT_CONFIG: &str = "route:\n  receiver: default\nreceivers:\n  - name: default\n";

/// Alertmanager's `Alert.Validate`.
fn validate(a: &Alert) -> Result<(), String> {
    if a.labels.is_empty() {
        return Err("at least one label pair required".into());
    }
    for (k, v) in &a.labels {
        if k.is_empty() {
            return Err(format!("invalid label set: invalid name {k:?}"));
        }
        if v.is_empty() {
            return Err(format!(
                "invalid label set: invalid value for label {k:?}: empty"
            ));
        }
    }
    for k in a.annotations.keys() {
        if k.is_empty() {
            return Err("invalid annotations: invalid name \"\"".into());
        }
    }
    if a.ends_at != 0 && a.ends_at < a.starts_at {
        return Err("start time must be before end time".into());
    }
    Ok(())
}

fn build(config: AmConfig, opts: &NotifierOptions) -> Result<Loaded, NotifierError> {
    let delivery = &opts.delivery;
    let mut templates = receivers::default_templates()
        .map_err(|e| NotifierError::Template(format!("default templates: {e}")))?;
    let funcs = crate::template::alertmanager_funcs();
    for pattern in &config.templates {
        for file in pharos_agent::config::expand_glob(pattern) {
            let body = std::fs::read_to_string(&file).map_err(|e| {
                NotifierError::Template(format!("cannot read template {}: {e}", file.display()))
            })?;
            templates
                .add(&file.display().to_string(), &body, &funcs)
                .map_err(|e| {
                    NotifierError::Template(format!("template {}: {e}", file.display()))
                })?;
        }
    }
    let mut integrations = HashMap::new();
    let mut limiters = HashMap::new();
    for r in &config.receivers {
        let built = (opts.build)(r, &config.global).map_err(NotifierError::Receiver)?;
        integrations.insert(r.name.clone(), built);
        limiters.insert(
            r.name.clone(),
            Arc::new(RateLimiter::new(
                delivery.rate_burst,
                delivery.rate_per_minute,
            )),
        );
    }
    let shown = config.shown.clone();
    Ok(Loaded {
        dispatcher: Dispatcher::new(Arc::new(config)),
        integrations,
        limiters,
        templates: Arc::new(templates),
        shown,
    })
}

/// The built-in configuration ([`DEFAULT_CONFIG`]), parsed.
pub fn default_config() -> Result<AmConfig, NotifierError> {
    let (cfg, _) = super::config::load_str(DEFAULT_CONFIG, "<built-in>", Path::new(""))?;
    Ok(cfg)
}

/// Reads and checks an `alertmanager.yml`, logging its warnings.
pub fn load_config(path: &Path) -> Result<AmConfig, NotifierError> {
    let (cfg, warnings) = super::config::load_file(path)?;
    for w in warnings {
        tracing::warn!(file = %path.display(), "{w}");
    }
    Ok(cfg)
}
