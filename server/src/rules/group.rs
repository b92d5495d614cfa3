//! A rule group: its rules evaluated in order at one timestamp per
//! interval, results written back to storage, stale markers for series a
//! rule stopped producing, alerts handed to the notifier.
//!
//! [`Group::eval`] does one evaluation at a timestamp it is given, so tests
//! drive a group with their own clock; the manager's loop calls it on the
//! interval grid [`Group::eval_timestamp`] computes (offset by a hash of the
//! group, as Prometheus spreads groups).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::alerting::{AlertingRule, EvalEnv};
use super::file::{GroupSpec, RuleKind};
use crate::alert_sender::AlertSender;
use crate::promql::{Engine, Value};
use crate::storage::{Appender, Labels, Queryable, SeriesSamples, METRIC_NAME};

/// Prometheus's stale marker.
const STALE_NAN: f64 = pharos_agent::scrape::STALE_NAN;

/// Everything a group evaluation reads from and writes to.
pub struct GroupEnv<'a> {
    pub engine: &'a Engine,
    pub store: Arc<dyn Queryable>,
    pub appender: &'a dyn Appender,
    pub sender: &'a dyn AlertSender,
    pub external_labels: &'a [(String, String)],
    pub external_url: &'a str,
    /// Least time between two notifications of a firing alert
    /// (`--rules.alert.resend-delay`).
    pub resend_delay_ms: i64,
    /// Where each rule's query is logged, with its group.
    pub query_log: Option<&'a crate::querylog::QueryLog>,
    /// The server's clock: when a query was logged.
    pub clock: &'a crate::storage::Clock,
}

/// What a rule is.
#[derive(Debug, Clone)]
pub enum RuleImpl {
    Recording { record: String },
    Alerting(AlertingRule),
}

/// One rule of a group with its evaluation status.
#[derive(Debug, Clone)]
pub struct Rule {
    pub expr: String,
    /// The rule's labels (group labels under the rule's own).
    pub labels: BTreeMap<String, String>,
    pub kind: RuleImpl,
    /// `ok`, `err` or `unknown` (not evaluated yet).
    pub health: &'static str,
    pub last_error: String,
    /// Unix ms of the last evaluation; 0 before the first.
    pub last_eval: i64,
    pub eval_duration: Duration,
    /// Series written by the last evaluation, for stale markers.
    prev_series: HashSet<Labels>,
}

impl Rule {
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleImpl::Recording { record } => record,
            RuleImpl::Alerting(a) => &a.name,
        }
    }

    /// Identity across reloads: kind, name and labels (what Prometheus
    /// matches to carry alert state over).
    pub fn key(&self) -> String {
        let kind = match self.kind {
            RuleImpl::Recording { .. } => "record",
            RuleImpl::Alerting(_) => "alert",
        };
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{kind}\0{}\0{}", self.name(), labels.join(","))
    }
}

/// A group of rules evaluated together.
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub file: String,
    pub interval_ms: i64,
    pub query_offset_ms: i64,
    pub limit: u64,
    pub rules: Vec<Rule>,
    /// Unix ms of the last evaluation; 0 before the first.
    pub last_eval: i64,
    pub eval_duration: Duration,
    /// Counters for `/metrics`, carried across reloads.
    pub counts: GroupCounts,
}

/// A group's counters, as Prometheus's `prometheus_rule_*` metrics count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Evaluations of the group.
    pub iterations: u64,
    /// Evaluation times skipped because the previous one ran too long.
    pub missed: u64,
    /// Rule evaluations, and those that failed.
    pub evaluations: u64,
    pub failures: u64,
}

impl Group {
    /// A group from its file form; `default_interval` is the global
    /// `evaluation_interval`.
    pub fn new(spec: &GroupSpec, default_interval: Duration, default_offset: Duration) -> Group {
        let rules = spec
            .rules
            .iter()
            .map(|r| {
                let mut labels = spec.labels.clone();
                labels.extend(r.labels.clone());
                let kind = match &r.kind {
                    RuleKind::Recording { record } => RuleImpl::Recording {
                        record: record.clone(),
                    },
                    RuleKind::Alerting {
                        alert,
                        for_,
                        keep_firing_for,
                        annotations,
                    } => RuleImpl::Alerting(AlertingRule::new(
                        alert.clone(),
                        r.expr.clone(),
                        for_.as_millis() as i64,
                        keep_firing_for.as_millis() as i64,
                        labels.clone(),
                        annotations.clone(),
                    )),
                };
                Rule {
                    expr: r.expr.clone(),
                    labels,
                    kind,
                    health: "unknown",
                    last_error: String::new(),
                    last_eval: 0,
                    eval_duration: Duration::ZERO,
                    prev_series: HashSet::new(),
                }
            })
            .collect();
        Group {
            name: spec.name.clone(),
            file: spec.file.clone(),
            interval_ms: spec.interval.unwrap_or(default_interval).as_millis().max(1) as i64,
            query_offset_ms: spec.query_offset.unwrap_or(default_offset).as_millis() as i64,
            limit: spec.limit,
            rules,
            last_eval: 0,
            eval_duration: Duration::ZERO,
            counts: GroupCounts::default(),
        }
    }

    /// Identity across reloads.
    pub fn key(&self) -> String {
        format!("{}\0{}", self.file, self.name)
    }

    /// The latest evaluation time on this group's grid at or before `now`:
    /// multiples of the interval, shifted by a hash of the group so groups
    /// with one interval do not all run at once.
    pub fn eval_timestamp(&self, now_ms: i64) -> i64 {
        let offset = (fnv1a(self.key().as_bytes()) % self.interval_ms as u64) as i64;
        let adjusted = now_ms - offset;
        adjusted - adjusted.rem_euclid(self.interval_ms) + offset
    }

    /// Carries alert state and staleness tracking over from the group this
    /// one replaces on reload, rule by rule.
    pub fn take_state_from(&mut self, old: &Group) {
        for rule in &mut self.rules {
            let key = rule.key();
            if let Some(o) = old.rules.iter().find(|o| o.key() == key) {
                rule.prev_series = o.prev_series.clone();
                rule.health = o.health;
                rule.last_error = o.last_error.clone();
                rule.last_eval = o.last_eval;
                rule.eval_duration = o.eval_duration;
                if let (RuleImpl::Alerting(new), RuleImpl::Alerting(old)) =
                    (&mut rule.kind, &o.kind)
                {
                    new.active = old.active.clone();
                }
            }
        }
        self.last_eval = old.last_eval;
        self.eval_duration = old.eval_duration;
        self.counts = old.counts;
    }

    /// Stale markers at `ts` for everything the group wrote last: when a
    /// group goes away on reload its series end instead of lingering for
    /// the lookback.
    pub fn stale_all(&mut self, ts: i64, appender: &dyn Appender) {
        let mut batch = Vec::new();
        for rule in &mut self.rules {
            for l in rule.prev_series.drain() {
                batch.push(SeriesSamples {
                    labels: l,
                    samples: vec![(ts, STALE_NAN)],
                });
            }
        }
        if !batch.is_empty() {
            if let Err(e) = appender.append(batch) {
                tracing::warn!(group = %self.name, error = %e, "writing stale markers failed");
            }
        }
    }

    /// Evaluates every rule at `ts`, in order (a rule sees what the rules
    /// before it wrote), writes the results and sends the alerts that are
    /// due.
    pub fn eval(&mut self, ts: i64, env: &GroupEnv<'_>) {
        let started = Instant::now();
        let query_ts = ts - self.query_offset_ms;
        self.counts.iterations += 1;
        for rule in &mut self.rules {
            let began = Instant::now();
            let group = (self.file.as_str(), self.name.as_str());
            let outcome = eval_rule(rule, group, ts, query_ts, self.limit, env);
            self.counts.evaluations += 1;
            self.counts.failures += u64::from(outcome.is_err());
            let mut written: HashSet<Labels> = HashSet::new();
            let mut batch = Vec::new();
            match outcome {
                Ok(samples) => {
                    rule.health = "ok";
                    rule.last_error.clear();
                    for (labels, v) in samples {
                        written.insert(labels.clone());
                        batch.push(SeriesSamples {
                            labels,
                            samples: vec![(query_ts, v)],
                        });
                    }
                }
                Err(e) => {
                    rule.health = "err";
                    tracing::warn!(group = %self.name, rule = rule.name(), error = %e, "rule evaluation failed");
                    rule.last_error = e;
                }
            }
            // Series of the last evaluation that this one did not produce
            // end with a stale marker, as Prometheus writes them.
            for gone in rule.prev_series.difference(&written) {
                batch.push(SeriesSamples {
                    labels: gone.clone(),
                    samples: vec![(query_ts, STALE_NAN)],
                });
            }
            if !batch.is_empty() {
                match env.appender.append(batch) {
                    Ok(report) if report.rejected_total() > 0 => {
                        for (reason, n, example) in &report.rejected {
                            tracing::warn!(group = %self.name, rule = rule.name(), reason = reason.as_str(), count = n, example = %example, "rule samples refused by storage");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        rule.health = "err";
                        rule.last_error = format!("writing results: {e}");
                    }
                }
            }
            rule.prev_series = written;
            if let RuleImpl::Alerting(a) = &mut rule.kind {
                let url = generator_url(env.external_url, &rule.expr);
                let due = a.to_send(ts, env.resend_delay_ms, self.interval_ms, &url);
                if !due.is_empty() {
                    env.sender.send(due);
                }
            }
            rule.last_eval = ts;
            rule.eval_duration = began.elapsed();
        }
        self.last_eval = ts;
        self.eval_duration = started.elapsed();
    }
}

/// One rule's evaluation: the samples to write.
fn eval_rule(
    rule: &mut Rule,
    group: (&str, &str),
    ts: i64,
    query_ts: i64,
    limit: u64,
    env: &GroupEnv<'_>,
) -> Result<Vec<(Labels, f64)>, String> {
    let out = env.engine.instant(&*env.store, &rule.expr, query_ts);
    if let Some(log) = env.query_log {
        let (file, name) = group;
        let origin = crate::querylog::Origin::Rule { file, name };
        let now = env.clock.now_ms();
        log.record(&rule.expr, (query_ts, query_ts, 0), origin, &out, now);
    }
    let result = vector_of(out.map_err(|e| e.to_string())?)?;
    match &mut rule.kind {
        RuleImpl::Recording { record } => {
            let mut out = Vec::with_capacity(result.len());
            let mut seen = HashSet::with_capacity(result.len());
            for (l, v) in result {
                let mut l = l.with(METRIC_NAME, record);
                for (k, val) in &rule.labels {
                    l = l.with(k, val);
                }
                if !seen.insert(l.clone()) {
                    return Err(
                        "vector contains metrics with the same labelset after applying rule labels"
                            .into(),
                    );
                }
                out.push((l, v));
            }
            if limit > 0 && out.len() as u64 > limit {
                return Err(format!("exceeded limit {limit} with {} series", out.len()));
            }
            Ok(out)
        }
        RuleImpl::Alerting(a) => {
            let store = Arc::clone(&env.store);
            let engine = env.engine.clone();
            let query = move |q: &str| instant_vector(&engine, &*store, q, query_ts);
            let aenv = EvalEnv {
                query: Arc::new(query),
                external_labels: env.external_labels,
                external_url: env.external_url,
            };
            a.eval(ts, result, limit, &aenv)
        }
    }
}

/// Runs `expr` at `t` and returns its samples; a scalar is one sample
/// without labels, as Prometheus's rule query function gives it.
pub fn instant_vector(
    engine: &Engine,
    store: &dyn Queryable,
    expr: &str,
    t: i64,
) -> Result<Vec<(Labels, f64)>, String> {
    vector_of(engine.instant(store, expr, t).map_err(|e| e.to_string())?)
}

/// A query's result as a rule uses it.
fn vector_of(out: crate::promql::QueryOutput) -> Result<Vec<(Labels, f64)>, String> {
    match out.value {
        Value::Vector(v) => Ok(v.into_iter().map(|s| (s.labels, s.v)).collect()),
        Value::Scalar { v, .. } => Ok(vec![(Labels::default(), v)]),
        Value::Matrix(_) | Value::String { .. } => {
            Err("rule result is not a vector or scalar".into())
        }
    }
}

/// The link back to the expression that made an alert, as Prometheus
/// writes it: its table link, with Go's query escaping (`*` escaped, `~`
/// kept — not the form encoding).
pub fn generator_url(external_url: &str, expr: &str) -> String {
    format!(
        "{}/graph?g0.expr={}&g0.tab=1",
        external_url.trim_end_matches('/'),
        crate::template::query_escape(expr)
    )
}

fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
