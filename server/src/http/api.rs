//! Metadata endpoints of the Prometheus HTTP API: series, label names and
//! label values, each filtered by `match[]` selectors and a `start`/`end`
//! range, with `limit`. Parameters come from the query string and, for POST,
//! from a form body, exactly as Prometheus reads them.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::{success, ApiError, AppState};
use crate::storage::{Labels, MatchOp, Matcher, Queryable, StorageError, METRIC_NAME};

/// Request parameters, repeated keys kept (`match[]`).
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Reads the query string and, for form posts, the body.
    pub fn from_request(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Params {
        let mut all: Vec<(String, String)> = query
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let is_form = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            all.extend(form_urlencoded::parse(body).into_owned());
        }
        Params(all)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `start`/`end`-style time parameter, `default` when absent.
    pub fn time(&self, key: &str, default: i64) -> Result<i64, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(default),
            Some(s) => parse_time(s).ok_or_else(|| {
                ApiError::bad_data(format!(
                    "invalid parameter {key:?}: cannot parse {s:?} to a valid timestamp"
                ))
            }),
        }
    }

    /// The `match[]` selectors, each a list of matchers.
    pub fn selectors(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        self.all("match[]")
            .map(|s| {
                parse_selector(s)
                    .map_err(|e| ApiError::bad_data(format!("invalid parameter \"match[]\": {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.into_iter().flatten().collect())
    }

    /// `limit`: 0 or absent means no limit.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.get("limit") {
            None | Some("") => Ok(0),
            Some(s) => s.parse::<usize>().map_err(|_| {
                ApiError::bad_data(format!(
                    "invalid parameter \"limit\": cannot parse {s:?} to a non-negative integer"
                ))
            }),
        }
    }
}

/// Parses a time as Prometheus's API does: Unix seconds with an optional
/// fraction (kept to the millisecond), or RFC 3339.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return None;
        }
        let ms = (f * 1000.0).round();
        if ms < i64::MIN as f64 || ms > i64::MAX as f64 {
            return None;
        }
        return Some(ms as i64);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Parses one series selector (`up{job="x"}`) into matcher groups: one group
/// normally, several when the selector uses `or` inside its braces.
pub fn parse_selector(s: &str) -> Result<Vec<Vec<Matcher>>, String> {
    use promql_parser::label::MatchOp as P;
    use promql_parser::parser::Expr;
    crate::promql::prepare::check_depth(s)?;
    let expr = promql_parser::parser::parse(s)?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!(
            "1:1: parse error: expected a series selector, got {s:?}"
        ));
    };
    let convert = |ms: &[promql_parser::label::Matcher]| -> Result<Vec<Matcher>, String> {
        let mut out = Vec::with_capacity(ms.len() + 1);
        if let Some(name) = &vs.name {
            out.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name).map_err(|e| e.to_string())?);
        }
        for m in ms {
            let (op, value) = match &m.op {
                P::Equal => (MatchOp::Equal, m.value.as_str()),
                P::NotEqual => (MatchOp::NotEqual, m.value.as_str()),
                P::Re(_) => (MatchOp::RegexMatch, m.value.as_str()),
                P::NotRe(_) => (MatchOp::RegexNoMatch, m.value.as_str()),
            };
            out.push(Matcher::new(op, &m.name, value).map_err(|e| e.to_string())?);
        }
        if out.iter().all(Matcher::matches_empty) {
            return Err("vector selector must contain at least one non-empty matcher".into());
        }
        Ok(out)
    };
    if vs.matchers.or_matchers.is_empty() {
        Ok(vec![convert(&vs.matchers.matchers)?])
    } else {
        vs.matchers
            .or_matchers
            .iter()
            .map(|group| convert(group))
            .collect()
    }
}

fn labels_json(l: &Labels) -> Value {
    let mut m = Map::new();
    for (n, v) in l.iter() {
        m.insert(n.to_string(), Value::String(v.to_string()));
    }
    Value::Object(m)
}

/// Cuts a result to `limit` entries (0: no limit) with Prometheus's
/// warning.
pub(super) fn truncate<T>(v: &mut Vec<T>, limit: usize, warnings: &mut Vec<String>) {
    if limit > 0 && v.len() > limit {
        v.truncate(limit);
        warnings.push("results truncated due to limit".into());
    }
}

/// `GET|POST /api/v1/series`.
pub async fn series(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &body);
    if p.get("match[]").is_none() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    metadata(
        &st,
        &p,
        |q, sel, start, end| q.series_for_selectors(sel, start, end),
        |found| Value::Array(found.iter().map(labels_json).collect()),
    )
    .await
}

/// `GET|POST /api/v1/labels`.
pub async fn labels(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &body);
    metadata(
        &st,
        &p,
        |q, sel, start, end| q.label_names(sel, start, end),
        |names| json!(names),
    )
    .await
}

/// `GET /api/v1/label/<name>/values`.
pub async fn label_values(
    State(st): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if name.is_empty() {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let p = Params::from_request(q.as_deref(), &headers, &[]);
    metadata(
        &st,
        &p,
        move |q, sel, start, end| q.label_values(&name, sel, start, end),
        |values| json!(values),
    )
    .await
}

/// What `/api/v1/series`, `/labels` and `/label/<name>/values` share:
/// `match[]`, `start`, `end` and `limit` read from the request, `lookup`
/// run on the querier off the async threads, the answer cut to `limit`
/// with Prometheus's warning and written by `json`.
async fn metadata<T: Send + 'static>(
    st: &AppState,
    p: &Params,
    lookup: impl FnOnce(&dyn Queryable, &[Vec<Matcher>], i64, i64) -> Result<Vec<T>, StorageError>
        + Send
        + 'static,
    json: impl FnOnce(&[T]) -> Value,
) -> Result<Response, ApiError> {
    let selectors = p.selectors()?;
    let (start, end) = (p.time("start", i64::MIN)?, p.time("end", i64::MAX)?);
    let limit = p.limit()?;
    let querier = Arc::clone(&st.querier);
    let mut found = tokio::task::spawn_blocking(move || lookup(&*querier, &selectors, start, end))
        .await
        .map_err(ApiError::task_failed)??;
    let mut warnings = Vec::new();
    truncate(&mut found, limit, &mut warnings);
    Ok(success(json(&found), warnings))
}

/// `GET|POST /api/v1/export`: raw samples as JSON lines, one series per line,
/// in VictoriaMetrics's export format (`{"metric":{…},"values":[…],
/// "timestamps":[…]}`), so stored data can be checked sample by sample and
/// moved to another store. Non-finite values are written as Prometheus
/// writes them in JSON: `"NaN"`, `"+Inf"`, `"-Inf"`.
pub async fn export(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &body);
    if p.get("match[]").is_none() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let selectors = p.selectors()?;
    let (start, end) = (p.time("start", i64::MIN)?, p.time("end", i64::MAX)?);
    let querier = Arc::clone(&st.querier);
    let text = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let mut all = Vec::new();
        for m in &selectors {
            all.extend(querier.select(m, start, end)?);
        }
        all.sort_by(|a, b| a.labels.cmp(&b.labels));
        all.dedup_by(|a, b| a.labels == b.labels);
        let mut out = String::new();
        for s in all {
            let values: Vec<Value> = s.samples.iter().map(|&(_, v)| float_json(v)).collect();
            let ts: Vec<i64> = s.samples.iter().map(|&(t, _)| t).collect();
            let line =
                json!({ "metric": labels_json(&s.labels), "values": values, "timestamps": ts });
            out.push_str(&line.to_string());
            out.push('\n');
        }
        Ok(out)
    })
    .await
    .map_err(ApiError::task_failed)??;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/stream+json")],
        text,
    )
        .into_response())
}

/// A sample value in JSON: a number when finite, else Prometheus's strings.
fn float_json(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else if v.is_nan() {
        json!("NaN")
    } else if v > 0.0 {
        json!("+Inf")
    } else {
        json!("-Inf")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.123"), Some(1_700_000_000_123));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.5+01:00"),
            Some(1_699_996_400_500)
        );
        assert_eq!(parse_time("abc"), None);
        assert_eq!(parse_time("NaN"), None);
    }

    #[test]
    fn selectors() {
        let s = parse_selector(r#"up{job=~"a|b", instance!=""}"#).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].len(), 3);
        assert_eq!(s[0][0].name, "__name__");
        assert!(parse_selector(r#"{job=""}"#).is_err());
        assert!(parse_selector("up{").is_err());
        assert!(parse_selector("rate(up[5m])").is_err());
    }
}
