//! The rule manager: loads the configured rule files, runs one evaluation
//! loop per group, swaps groups on reload (carrying alert state over to
//! rules that stay), keeps alert state in the database so a restart
//! continues where it stopped, and re-reads rule files when they change.
//!
//! A reload either takes every file or none: one broken file keeps all
//! the running groups, and the error is returned (and logged) with
//! `file:line`.

use pharos_agent::sync::{LockExt, RwLockExt};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use super::alerting::{to_labels, Alert, AlertState};
use super::file::{self, RuleFile};
use super::group::{Group, GroupEnv, RuleImpl};
use crate::alert_sender::AlertSender;
use crate::promql::Engine;
use crate::storage::{Appender, Clock, Queryable, Storage};

/// How often rule files are checked for changes.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// Settings that do not change on reload (from flags).
pub struct ManagerOptions {
    pub engine: Arc<Engine>,
    pub storage: Arc<Storage>,
    pub sender: Arc<dyn AlertSender>,
    /// `--web.external-url`: links in alerts and `$externalURL`.
    pub external_url: String,
    /// `--rules.alert.resend-delay` (1m).
    pub resend_delay: Duration,
    /// `--rules.alert.for-outage-tolerance` (1h): after a longer outage
    /// saved alert state is not restored.
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period` (10m): least time a restored
    /// pending alert still waits before it fires.
    pub grace_period: Duration,
    pub clock: Clock,
    /// `query_log_file`: rule queries are logged with their group.
    pub query_log: Option<Arc<crate::querylog::QueryLog>>,
}

/// What the configuration file says about rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSettings {
    /// `rule_files` patterns, resolved against the config's directory.
    pub files: Vec<PathBuf>,
    pub evaluation_interval: Duration,
    pub query_offset: Duration,
    pub external_labels: Vec<(String, String)>,
}

impl RuleSettings {
    pub fn from_config(c: &crate::config::Config) -> RuleSettings {
        RuleSettings {
            files: c.rule_files.clone(),
            evaluation_interval: c.agent.global.evaluation_interval,
            query_offset: c.agent.global.rule_query_offset,
            external_labels: c.agent.global.external_labels.clone(),
        }
    }
}

/// One running group: the copy its loop evaluates and the copy readers see
/// (published after each evaluation, so the API never waits for one).
struct Slot {
    work: Mutex<Group>,
    view: RwLock<Arc<Group>>,
}

struct Running {
    settings: RuleSettings,
    slots: Vec<Arc<Slot>>,
    /// Stops the loops of these slots.
    stop: Option<watch::Sender<bool>>,
    /// Content fingerprint of the files, to notice edits.
    fingerprint: u64,
    /// The error of the last reload, if it failed.
    last_error: Option<String>,
}

/// The rule manager.
pub struct Manager {
    opts: ManagerOptions,
    running: Mutex<Running>,
    /// Serializes reloads.
    reloading: tokio::sync::Mutex<()>,
    /// Whether saved state was read (once, at the first load).
    restored: std::sync::atomic::AtomicBool,
}

/// Every problem in a set of rule files, each `file:line: message`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.join("\n"))]
pub struct RuleLoadError(pub Vec<String>);

/// Reads every file the patterns match; errors of all files at once.
pub fn load_files(patterns: &[PathBuf]) -> Result<Vec<RuleFile>, RuleLoadError> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for pattern in patterns {
        for path in pharos_agent::config::expand_glob(pattern) {
            match file::load_file(&path) {
                Ok(f) => files.push(f),
                Err(e) => errors.extend(e.0.iter().map(|e| e.to_string())),
            }
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(RuleLoadError(errors))
    }
}

fn fingerprint(patterns: &[PathBuf]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for pattern in patterns {
        for path in pharos_agent::config::expand_glob(pattern) {
            path.hash(&mut h);
            std::fs::read(&path).unwrap_or_default().hash(&mut h);
        }
    }
    h.finish()
}

impl Manager {
    pub fn new(opts: ManagerOptions) -> Arc<Manager> {
        Arc::new(Manager {
            opts,
            running: Mutex::new(Running {
                settings: RuleSettings::default(),
                slots: Vec::new(),
                stop: None,
                fingerprint: 0,
                last_error: None,
            }),
            reloading: tokio::sync::Mutex::new(()),
            restored: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.locked()
    }

    /// Loads the rule files of `settings` and, when all of them are valid,
    /// replaces the running groups. Must run inside a tokio runtime (the
    /// loops are spawned on it).
    pub async fn update(self: &Arc<Self>, settings: RuleSettings) -> Result<(), RuleLoadError> {
        let _one = self.reloading.lock().await;
        let patterns = settings.files.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            load_files(&patterns).map(|f| (f, fingerprint(&patterns)))
        })
        .await
        .map_err(|e| RuleLoadError(vec![e.to_string()]))?;
        let (files, fp) = match loaded {
            Ok(x) => x,
            Err(e) => {
                let mut r = self.lock();
                r.last_error = Some(e.to_string());
                if !self.restored.load(std::sync::atomic::Ordering::SeqCst) {
                    // Nothing has run yet (a broken file at start): watch
                    // these files, so fixing them loads the rules without
                    // a restart.
                    let patterns = settings.files.clone();
                    r.fingerprint = fingerprint(&patterns);
                    r.settings = settings;
                }
                return Err(e);
            }
        };
        let mut groups: Vec<Group> = files
            .iter()
            .flat_map(|f| f.groups.iter())
            .map(|g| Group::new(g, settings.evaluation_interval, settings.query_offset))
            .collect();
        let first = !self
            .restored
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        let (old_slots, old_stop) = {
            let mut r = self.lock();
            (std::mem::take(&mut r.slots), r.stop.take())
        };
        // Stop the old loops before their groups are read, so no evaluation
        // runs between the copy of the state and the start of the new loop.
        if let Some(stop) = old_stop {
            let _ = stop.send(true);
        }
        let old: HashMap<String, Group> = old_slots
            .iter()
            .map(|s| {
                let g = s.work.locked().clone();
                (g.key(), g)
            })
            .collect();
        let now = self.opts.clock.now_ms();
        for g in &mut groups {
            if let Some(o) = old.get(&g.key()) {
                g.take_state_from(o);
            } else if first {
                self.restore(g, now);
            }
        }
        // Groups that went away end their series.
        let keys: std::collections::HashSet<String> = groups.iter().map(Group::key).collect();
        for (key, mut g) in old {
            if !keys.contains(&key) {
                let storage = Arc::clone(&self.opts.storage);
                let ts = g.eval_timestamp(now);
                tokio::task::spawn_blocking(move || g.stale_all(ts, &*storage));
                let _ = self.opts.storage.delete_state(&state_key(&key));
            }
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let slots: Vec<Arc<Slot>> = groups
            .into_iter()
            .map(|g| {
                Arc::new(Slot {
                    view: RwLock::new(Arc::new(g.clone())),
                    work: Mutex::new(g),
                })
            })
            .collect();
        for slot in &slots {
            tokio::spawn(Arc::clone(self).run_group(Arc::clone(slot), stop_rx.clone()));
        }
        let n = slots.len();
        {
            let mut r = self.lock();
            r.slots = slots;
            r.stop = Some(stop_tx);
            r.settings = settings;
            r.fingerprint = fp;
            r.last_error = None;
        }
        tracing::info!(groups = n, "rules loaded");
        Ok(())
    }

    /// Evaluates every group once at `ts`, outside the loops: for tests
    /// with their own clock and for rule unit tests. Blocking.
    pub fn eval_at(&self, ts: i64) {
        let slots = self.lock().slots.clone();
        for slot in &slots {
            self.eval_slot(slot, ts);
        }
    }

    /// Stops every loop (at shutdown; no stale markers, the series go on
    /// after a restart).
    pub fn stop(&self) {
        if let Some(stop) = self.lock().stop.take() {
            let _ = stop.send(true);
        }
    }

    /// The groups as last evaluated, in file order.
    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.lock()
            .slots
            .iter()
            .map(|s| Arc::clone(&s.view.read_locked()))
            .collect()
    }

    /// Where alerts are sent, and the Alertmanagers `relabel_configs`
    /// dropped (`/api/v1/alertmanagers`).
    pub fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        (
            self.opts.sender.endpoints(),
            self.opts.sender.dropped_endpoints(),
        )
    }

    /// The error of the last reload, if it failed.
    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// Re-reads the rule files whenever their content changes, until `stop`
    /// flips. A broken edit keeps the running rules.
    pub async fn watch_files(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(WATCH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tick.tick() => {}
            }
            let (settings, old_fp) = {
                let r = self.lock();
                (r.settings.clone(), r.fingerprint)
            };
            if settings.files.is_empty() {
                continue;
            }
            let patterns = settings.files.clone();
            let Ok(fp) = tokio::task::spawn_blocking(move || fingerprint(&patterns)).await else {
                continue;
            };
            if fp == old_fp {
                continue;
            }
            tracing::info!("rule files changed; reloading them");
            if let Err(e) = self.update(settings).await {
                // Remember the broken content so the error is logged once.
                self.lock().fingerprint = fp;
                tracing::error!(error = %e, "reloading rule files failed; the previous rules keep running");
            }
        }
    }

    async fn run_group(self: Arc<Self>, slot: Arc<Slot>, mut stop: watch::Receiver<bool>) {
        let mut last: Option<i64> = None;
        loop {
            let now = self.opts.clock.now_ms();
            let next = {
                let mut g = slot.work.locked();
                let next = g.eval_timestamp(now) + g.interval_ms;
                // Grid points passed over while the last evaluation ran
                // are missed iterations, as Prometheus counts them.
                if let Some(prev) = last {
                    g.counts.missed += ((next - prev) / g.interval_ms - 1).max(0) as u64;
                }
                next
            };
            last = Some(next);
            let wait = Duration::from_millis((next - now).max(0) as u64);
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            let me = Arc::clone(&self);
            let s = Arc::clone(&slot);
            let stop_now = stop.clone();
            let done = tokio::task::spawn_blocking(move || {
                if *stop_now.borrow() {
                    return;
                }
                me.eval_slot(&s, next)
            })
            .await;
            if let Err(e) = done {
                tracing::error!(error = %e, "BUG: rule group evaluation panicked");
            }
        }
    }

    /// One evaluation of a slot's group at `ts`, then the published view
    /// and the saved alert state.
    fn eval_slot(&self, slot: &Slot, ts: i64) {
        let mut g = slot.work.locked();
        let (external_labels, external_url) = {
            let r = self.lock();
            (
                r.settings.external_labels.clone(),
                self.opts.external_url.clone(),
            )
        };
        let store: Arc<dyn Queryable> = self.opts.storage.clone();
        let env = GroupEnv {
            engine: &self.opts.engine,
            store,
            appender: &*self.opts.storage as &dyn Appender,
            sender: &*self.opts.sender,
            external_labels: &external_labels,
            external_url: &external_url,
            resend_delay_ms: self.opts.resend_delay.as_millis() as i64,
            query_log: self.opts.query_log.as_deref(),
            clock: &self.opts.clock,
        };
        g.eval(ts, &env);
        self.save(&g, ts);
        *slot.view.write_locked() = Arc::new(g.clone());
    }

    /// Saves the alerts of a group's alerting rules.
    fn save(&self, g: &Group, ts: i64) {
        let mut rules = serde_json::Map::new();
        for r in &g.rules {
            if let RuleImpl::Alerting(a) = &r.kind {
                if !a.active.is_empty() {
                    let alerts: Vec<&Alert> = a.active.values().collect();
                    rules.insert(r.key(), serde_json::to_value(alerts).unwrap_or_default());
                }
            }
        }
        let key = state_key(&g.key());
        if rules.is_empty() {
            // Nothing to remember; avoid a write per evaluation for groups
            // without alerts.
            if g.rules
                .iter()
                .any(|r| matches!(r.kind, RuleImpl::Alerting(_)))
            {
                let _ = self.opts.storage.delete_state(&key);
            }
            return;
        }
        let doc = serde_json::json!({ "saved_at": ts, "rules": rules });
        if let Err(e) = self
            .opts
            .storage
            .put_state(&key, doc.to_string().as_bytes())
        {
            tracing::warn!(group = %g.name, error = %e, "saving alert state failed");
        }
    }

    /// Puts saved alerts back into a new group at start. Firing alerts
    /// continue as they were (their last notification time included, so
    /// nothing is sent twice); pending ones get their downtime added to the
    /// time they still have to wait, but no less than the grace period, as
    /// Prometheus restores `for`.
    fn restore(&self, g: &mut Group, now: i64) {
        let key = state_key(&g.key());
        let Ok(Some(bytes)) = self.opts.storage.get_state(&key) else {
            return;
        };
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            tracing::warn!(group = %g.name, "saved alert state is unreadable; starting without it");
            return;
        };
        let saved_at = doc["saved_at"].as_i64().unwrap_or(0);
        let down = now - saved_at;
        if down > self.opts.outage_tolerance.as_millis() as i64 {
            tracing::info!(group = %g.name, down_ms = down, "outage longer than the tolerance; not restoring alert state");
            return;
        }
        let grace = self.opts.grace_period.as_millis() as i64;
        let mut restored = 0;
        for r in &mut g.rules {
            let rkey = r.key();
            let RuleImpl::Alerting(a) = &mut r.kind else {
                continue;
            };
            let Some(list) = doc["rules"].get(&rkey) else {
                continue;
            };
            let Ok(alerts) = serde_json::from_value::<Vec<Alert>>(list.clone()) else {
                continue;
            };
            for mut alert in alerts {
                if alert.state == AlertState::Pending {
                    let remaining = a.for_ms - (saved_at - alert.active_at);
                    if remaining < grace {
                        alert.active_at = now + grace - a.for_ms;
                    } else {
                        alert.active_at += down;
                    }
                }
                a.active.insert(to_labels(&alert.labels), alert);
                restored += 1;
            }
        }
        if restored > 0 {
            tracing::info!(group = %g.name, alerts = restored, "restored alert state");
        }
    }
}

fn state_key(group_key: &str) -> String {
    format!("rules/alerts/{group_key}")
}
