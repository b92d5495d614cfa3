//! `GET /api/v1/rules`, `GET /api/v1/alerts` and `GET /api/v1/alertmanagers`
//! in Prometheus's shapes:
//! groups with their rules' health, last error, evaluation time and, for
//! alerting rules, their active alerts.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::api::Params;
use super::targets::rfc3339;
use super::{success, ApiError, AppState};
use crate::promql::value::go_exponent_form;
use crate::rules::{Alert, AlertState, Group, RuleImpl};

fn pairs(p: &[(String, String)]) -> Value {
    Value::Object(p.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn map(m: &std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

/// An alert's value as Prometheus's API writes it (`strconv.FormatFloat(v,
/// 'e', -1, 64)`: `1e+00`, `1.5e+01`).
fn alert_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v == 0.0 {
        if v.is_sign_negative() {
            "-0e+00"
        } else {
            "0e+00"
        }
        .into()
    } else {
        go_exponent_form(v).0
    }
}

/// Active alerts only: pending and firing (a resolved alert kept for the
/// notifier is not shown, as in Prometheus).
fn alerts_json(active: &std::collections::HashMap<crate::storage::Labels, Alert>) -> Vec<Value> {
    let mut alerts: Vec<&Alert> = active
        .values()
        .filter(|a| a.state != AlertState::Inactive)
        .collect();
    alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
    alerts
        .into_iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("labels".into(), pairs(&a.labels));
            m.insert("annotations".into(), pairs(&a.annotations));
            m.insert("state".into(), json!(a.state.as_str()));
            m.insert("activeAt".into(), json!(rfc3339(Some(a.active_at))));
            if a.keep_firing_since != 0 {
                m.insert(
                    "keepFiringSince".into(),
                    json!(rfc3339(Some(a.keep_firing_since))),
                );
            }
            m.insert("value".into(), json!(alert_value(a.value)));
            Value::Object(m)
        })
        .collect()
}

fn last_eval(ms: i64) -> String {
    rfc3339((ms != 0).then_some(ms))
}

/// Filters of `/api/v1/rules`.
struct Filter {
    kind: Option<String>,
    names: Vec<String>,
    groups: Vec<String>,
    files: Vec<String>,
    exclude_alerts: bool,
}

fn group_json(g: &Group, f: &Filter) -> Option<Value> {
    if !f.groups.is_empty() && !f.groups.contains(&g.name) {
        return None;
    }
    if !f.files.is_empty() && !f.files.contains(&g.file) {
        return None;
    }
    let mut rules = Vec::new();
    for r in &g.rules {
        if !f.names.is_empty() && !f.names.iter().any(|n| n == r.name()) {
            continue;
        }
        let mut m = Map::new();
        match &r.kind {
            RuleImpl::Alerting(a) => {
                if f.kind.as_deref() == Some("record") {
                    continue;
                }
                m.insert("state".into(), json!(a.state().as_str()));
                m.insert("name".into(), json!(a.name));
                m.insert("query".into(), json!(r.expr));
                m.insert("duration".into(), json!(a.for_ms / 1000));
                m.insert("keepFiringFor".into(), json!(a.keep_firing_for_ms / 1000));
                m.insert("labels".into(), map(&r.labels));
                m.insert("annotations".into(), map(&a.annotations));
                if !f.exclude_alerts {
                    m.insert("alerts".into(), Value::Array(alerts_json(&a.active)));
                }
            }
            RuleImpl::Recording { record } => {
                if f.kind.as_deref() == Some("alert") {
                    continue;
                }
                m.insert("name".into(), json!(record));
                m.insert("query".into(), json!(r.expr));
                m.insert("labels".into(), map(&r.labels));
            }
        }
        m.insert("health".into(), json!(r.health));
        m.insert("lastError".into(), json!(r.last_error));
        m.insert(
            "evaluationTime".into(),
            json!(r.eval_duration.as_secs_f64()),
        );
        m.insert("lastEvaluation".into(), json!(last_eval(r.last_eval)));
        m.insert(
            "type".into(),
            json!(if matches!(r.kind, RuleImpl::Alerting(_)) {
                "alerting"
            } else {
                "recording"
            }),
        );
        rules.push(Value::Object(m));
    }
    // A filter that leaves a group without rules leaves the group out.
    if rules.is_empty() && (f.kind.is_some() || !f.names.is_empty()) {
        return None;
    }
    let mut m = Map::new();
    m.insert("name".into(), json!(g.name));
    m.insert("file".into(), json!(g.file));
    m.insert("rules".into(), Value::Array(rules));
    m.insert("interval".into(), json!(g.interval_ms as f64 / 1000.0));
    m.insert("limit".into(), json!(g.limit));
    m.insert(
        "evaluationTime".into(),
        json!(g.eval_duration.as_secs_f64()),
    );
    m.insert("lastEvaluation".into(), json!(last_eval(g.last_eval)));
    Some(Value::Object(m))
}

/// `GET /api/v1/rules` (`type`, `rule_name[]`, `rule_group[]`, `file[]`,
/// `exclude_alerts`).
pub async fn rules(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let p = Params::from_request(q.as_deref(), &HeaderMap::new(), &[]);
    let kind = match p.get("type").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => None,
        Some(k @ ("alert" | "record")) => Some(k.to_string()),
        Some(other) => {
            return ApiError::bad_data(format!("unsupported type {other:?}")).into_response()
        }
    };
    let exclude_alerts = match p.get("exclude_alerts") {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return ApiError::bad_data(format!("parsing exclude_alerts: invalid value {v:?}"))
                .into_response()
        }
    };
    let f = Filter {
        kind,
        names: p.all("rule_name[]").map(str::to_string).collect(),
        groups: p.all("rule_group[]").map(str::to_string).collect(),
        files: p.all("file[]").map(str::to_string).collect(),
        exclude_alerts,
    };
    let groups: Vec<Value> = st
        .rules
        .as_ref()
        .map(|m| m.groups())
        .unwrap_or_default()
        .iter()
        .filter_map(|g| group_json(g, &f))
        .collect();
    success(json!({ "groups": groups }), Vec::new())
}

/// `GET /api/v1/alerts`: every pending and firing alert.
pub async fn alerts(State(st): State<AppState>) -> Response {
    let mut alerts = Vec::new();
    for g in st.rules.as_ref().map(|m| m.groups()).unwrap_or_default() {
        for r in &g.rules {
            if let RuleImpl::Alerting(a) = &r.kind {
                alerts.extend(alerts_json(&a.active));
            }
        }
    }
    success(json!({ "alerts": alerts }), Vec::new())
}

/// `GET /api/v1/alertmanagers`: where alerts are sent, and the
/// Alertmanagers `relabel_configs` dropped.
pub async fn alertmanagers(State(st): State<AppState>) -> Response {
    let (active, dropped) = st
        .rules
        .as_ref()
        .map(|m| m.alertmanagers())
        .unwrap_or_default();
    let urls = |list: Vec<String>| -> Vec<Value> {
        list.into_iter().map(|url| json!({ "url": url })).collect()
    };
    success(
        json!({ "activeAlertmanagers": urls(active), "droppedAlertmanagers": urls(dropped) }),
        Vec::new(),
    )
}

#[cfg(test)]
mod tests {
    use super::alert_value;

    #[test]
    fn alert_values_in_go_exponent_form() {
        assert_eq!(alert_value(1.0), "1e+00");
        assert_eq!(alert_value(15.0), "1.5e+01");
        assert_eq!(alert_value(0.5), "5e-01");
        assert_eq!(alert_value(0.0), "0e+00");
        assert_eq!(alert_value(f64::NAN), "NaN");
    }
}
