//! Alerting rules: the state machine Prometheus runs for each rule
//! (inactive → pending → firing → resolved, with `for` and
//! `keep_firing_for`), the label and annotation templates, and the
//! `ALERTS` / `ALERTS_FOR_STATE` series.
//!
//! The order of the steps in [`AlertingRule::eval`] is Prometheus's
//! (`rules/alerting.go`): results become alerts keyed by their final label
//! set; alerts that vanished from the result are deleted when pending and
//! resolved when firing (kept 15 minutes so the resolution reaches the
//! notifier), unless `keep_firing_for` holds them; pending alerts whose
//! `for` has passed fire. Times are Unix milliseconds.

use std::collections::{BTreeMap, HashMap};

use crate::alert_sender::OutgoingAlert;
use crate::storage::{Labels, METRIC_NAME};
use crate::template::{self, PromContext, QuerySample, Value, ALERT_TEMPLATE_PRELUDE};

/// How long a resolved alert is kept and re-sent, so a notifier that missed
/// the resolution still learns of it (Prometheus's `resolvedRetention`).
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// Label or annotation pairs, sorted by name.
pub type Pairs = Vec<(String, String)>;

/// An alert's state.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: one label set of its result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Alert {
    /// Final labels: the sample's without `__name__`, the rule's labels,
    /// `alertname`.
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub state: AlertState,
    pub value: f64,
    /// When the condition started to hold (the pending start).
    pub active_at: i64,
    /// 0: never fired.
    pub fired_at: i64,
    /// 0: not resolved.
    pub resolved_at: i64,
    /// 0: never sent.
    pub last_sent_at: i64,
    /// Until when the last notification holds (`endsAt` of a firing alert).
    pub valid_until: i64,
    /// 0: not held by `keep_firing_for`.
    pub keep_firing_since: i64,
}

/// Runs an instant query at the evaluation time (the templates' `query`).
pub type QueryFn = std::sync::Arc<dyn Fn(&str) -> Result<Vec<(Labels, f64)>, String> + Send + Sync>;

/// What templates and the result need from the world outside the rule.
pub struct EvalEnv<'a> {
    /// Runs an instant PromQL query at the evaluation time, for the
    /// templates' `query` function.
    pub query: QueryFn,
    pub external_labels: &'a [(String, String)],
    pub external_url: &'a str,
}

/// One alerting rule and its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    pub name: String,
    pub expr: String,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Alerts by their final label set.
    pub active: HashMap<Labels, Alert>,
}

/// Why an evaluation failed (the rule's `lastError`).
pub type RuleError = String;

impl AlertingRule {
    pub fn new(
        name: String,
        expr: String,
        for_ms: i64,
        keep_firing_for_ms: i64,
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
    ) -> AlertingRule {
        AlertingRule {
            name,
            expr,
            for_ms,
            keep_firing_for_ms,
            labels,
            annotations,
            active: HashMap::new(),
        }
    }

    /// Advances the rule to evaluation time `ts` given the query result
    /// `result` (sample labels and values) and returns the `ALERTS` and
    /// `ALERTS_FOR_STATE` samples to store. `limit` > 0 caps the number of
    /// active alerts; over it, every alert is dropped and the evaluation
    /// fails, as Prometheus does.
    pub fn eval(
        &mut self,
        ts: i64,
        result: Vec<(Labels, f64)>,
        limit: u64,
        env: &EvalEnv<'_>,
    ) -> Result<Vec<(Labels, f64)>, RuleError> {
        let mut seen: HashMap<Labels, Alert> = HashMap::with_capacity(result.len());
        for (sample_labels, value) in result {
            let (labels, annotations) = self.expand(&sample_labels, value, ts, env);
            let key = to_labels(&labels);
            if seen.contains_key(&key) {
                return Err(
                    "vector contains metrics with the same labelset after applying alert labels"
                        .into(),
                );
            }
            seen.insert(
                key,
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value,
                    active_at: ts,
                    fired_at: 0,
                    resolved_at: 0,
                    last_sent_at: 0,
                    valid_until: 0,
                    keep_firing_since: 0,
                },
            );
        }

        // Known alerts still active take the new value and annotations;
        // new or resolved ones start pending now.
        let mut in_result = Vec::with_capacity(seen.len());
        for (key, fresh) in seen {
            in_result.push(key.clone());
            match self.active.get_mut(&key) {
                Some(a) if a.state != AlertState::Inactive => {
                    a.value = fresh.value;
                    a.annotations = fresh.annotations;
                    a.labels = fresh.labels;
                }
                _ => {
                    self.active.insert(key, fresh);
                }
            }
        }
        let in_result: std::collections::HashSet<Labels> = in_result.into_iter().collect();

        let mut active_count = 0u64;
        let mut gone = Vec::new();
        for (key, a) in self.active.iter_mut() {
            if !in_result.contains(key) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for_ms > 0 {
                    if a.keep_firing_since == 0 {
                        a.keep_firing_since = ts;
                    }
                    keep_firing = ts - a.keep_firing_since < self.keep_firing_for_ms;
                }
                if a.state == AlertState::Pending
                    || (a.resolved_at != 0 && ts - a.resolved_at > RESOLVED_RETENTION_MS)
                {
                    gone.push(key.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = ts;
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = 0;
            }
            active_count += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= self.for_ms {
                a.state = AlertState::Firing;
                a.fired_at = ts;
            }
        }
        for key in gone {
            self.active.remove(&key);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(format!(
                "exceeded limit of {limit} with {active_count} alerts"
            ));
        }
        Ok(self.series(ts))
    }

    /// `ALERTS{…, alertstate}` = 1 and `ALERTS_FOR_STATE{…}` = the active
    /// time in seconds, for every pending or firing alert.
    fn series(&self, _ts: i64) -> Vec<(Labels, f64)> {
        let mut out = Vec::with_capacity(self.active.len() * 2);
        for a in self.active.values() {
            if a.state == AlertState::Inactive {
                continue;
            }
            let base = to_labels(&a.labels);
            out.push((
                base.with(METRIC_NAME, "ALERTS")
                    .with("alertstate", a.state.as_str()),
                1.0,
            ));
            out.push((
                base.with(METRIC_NAME, "ALERTS_FOR_STATE"),
                (a.active_at / 1000) as f64,
            ));
        }
        out
    }

    /// The alerts to hand to the notifier at `ts`: firing ones not sent for
    /// `resend_delay_ms`, and resolved ones not sent since they resolved.
    /// Marks them sent.
    pub fn to_send(
        &mut self,
        ts: i64,
        resend_delay_ms: i64,
        interval_ms: i64,
        generator_url: &str,
    ) -> Vec<OutgoingAlert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            let due = match a.state {
                AlertState::Pending => false,
                _ if a.resolved_at > a.last_sent_at => true,
                AlertState::Inactive => false,
                AlertState::Firing => a.last_sent_at + resend_delay_ms <= ts,
            };
            if !due {
                continue;
            }
            a.last_sent_at = ts;
            // Valid for four intervals (or resend delays): a notifier that
            // stops hearing of the alert resolves it on its own.
            let delta = resend_delay_ms.max(interval_ms);
            a.valid_until = ts + 4 * delta;
            let ends_at = if a.resolved_at != 0 {
                a.resolved_at
            } else {
                a.valid_until
            };
            out.push(OutgoingAlert {
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: a.active_at,
                ends_at,
                generator_url: generator_url.to_string(),
            });
        }
        out.sort_by(|x, y| x.labels.cmp(&y.labels));
        out
    }

    /// The rule's state: the most severe of its alerts.
    pub fn state(&self) -> AlertState {
        self.active
            .values()
            .map(|a| a.state)
            .max()
            .unwrap_or(AlertState::Inactive)
    }

    /// Final labels and annotations of the alert for one result sample.
    fn expand(&self, sample: &Labels, value: f64, ts: i64, env: &EvalEnv<'_>) -> (Pairs, Pairs) {
        let data = template_data(sample, value, env);
        let funcs = funcs(ts, env);
        let mut labels: BTreeMap<String, String> = sample
            .iter()
            .filter(|(n, _)| *n != METRIC_NAME)
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        for (k, text) in &self.labels {
            let v = expand_template(&self.name, text, &data, &funcs);
            if v.is_empty() {
                labels.remove(k);
            } else {
                labels.insert(k.clone(), v);
            }
        }
        labels.insert("alertname".into(), self.name.clone());
        let annotations = self
            .annotations
            .iter()
            .map(|(k, text)| (k.clone(), expand_template(&self.name, text, &data, &funcs)))
            .collect();
        (labels.into_iter().collect(), annotations)
    }
}

/// A label set from sorted pairs that are valid by construction.
pub(crate) fn to_labels(pairs: &[(String, String)]) -> Labels {
    Labels::from_sorted_any(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        .expect("BUG: alert labels are sorted and unique")
}

/// `.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`: what Prometheus
/// gives alert templates (`$labels` keeps `__name__`, as there).
fn template_data(sample: &Labels, value: f64, env: &EvalEnv<'_>) -> Value {
    let labels: BTreeMap<String, String> = sample
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let external: BTreeMap<String, String> = env.external_labels.iter().cloned().collect();
    template::prometheus_alert_data(&labels, &external, env.external_url, value)
}

/// The functions alert templates may call, `query` answered at `ts`.
fn funcs(ts: i64, env: &EvalEnv<'_>) -> template::Funcs {
    let query = std::sync::Arc::clone(&env.query);
    template::prometheus_funcs(PromContext {
        query: std::sync::Arc::new(move |q: &str| {
            query(q).map(|samples| {
                samples
                    .into_iter()
                    .map(|(l, v)| QuerySample {
                        labels: l
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.to_string()))
                            .collect(),
                        value: v,
                    })
                    .collect()
            })
        }),
        external_url: env.external_url.to_string(),
        eval_time: chrono::DateTime::from_timestamp_millis(ts).unwrap_or_default(),
    })
}

/// Expands one label or annotation template; on failure the text says so
/// (`<error expanding template: …>`), as in Prometheus, so an alert is never
/// lost to a broken template.
fn expand_template(rule: &str, text: &str, data: &Value, funcs: &template::Funcs) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let result = template::expand_alert_field(rule, text, data, funcs);
    match result {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(alert = rule, error = %e, "expanding alert template failed");
            format!("<error expanding template: {e}>")
        }
    }
}

/// Parses a label or annotation template as the rule loader does, so a
/// broken one is a file error.
pub fn check_template(rule: &str, text: &str) -> Result<(), String> {
    if !text.contains("{{") {
        return Ok(());
    }
    let env = EvalEnv {
        query: std::sync::Arc::new(|_: &str| Ok(Vec::new())),
        external_labels: &[],
        external_url: "",
    };
    let name = format!("__alert_{rule}");
    template::Template::parse(
        &name,
        &format!("{ALERT_TEMPLATE_PRELUDE}{text}"),
        &funcs(0, &env),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}
