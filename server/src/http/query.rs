//! The query endpoints: `/api/v1/query`, `/api/v1/query_range` and
//! `/api/v1/format_query`, answering in Prometheus's JSON byte for byte.
//!
//! JSON objects keep their keys in the order they are written
//! (`serde_json`'s `preserve_order`): Go writes struct fields in
//! declaration order and map keys sorted, so each object here lists its
//! keys the way Prometheus's encoder does.
//!
//! Results are written by hand rather than through `serde_json::Value`:
//! Prometheus prints timestamps as seconds with exactly the millisecond
//! digits that are there (`1435781451.781`, `1435781451`) and values as
//! strings, and a large range query is mostly numbers, so writing them
//! straight into the body is also the fast path.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{Extensions, HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};

use super::api::{truncate, Params};
use super::{ApiError, AppState, ErrorType};
use crate::promql::value::{format_json_value, format_value};
use crate::promql::{EngineOptions, QueryError, QueryOutput, Value};
use crate::storage::Labels;

/// Most points a range query may return per series (Prometheus's limit).
const MAX_POINTS_PER_SERIES: i64 = 11_000;

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        let kind = match e {
            QueryError::Parse(_) => ErrorType::BadData,
            QueryError::Execution(_) | QueryError::TooManySamples(_) => ErrorType::Execution,
            QueryError::Timeout(_) => ErrorType::Timeout,
            QueryError::Storage(ref m) => {
                tracing::error!(error = %m, "storage error while evaluating a query");
                ErrorType::Internal
            }
        };
        let message = match e {
            QueryError::Parse(m) => format!("invalid parameter \"query\": {m}"),
            QueryError::Storage(_) => "storage error; see the server log".into(),
            other => other.to_string(),
        };
        ApiError { kind, message }
    }
}

/// Per-request engine options: the server's, narrowed by `timeout` and
/// `lookback_delta` parameters.
fn options(st: &AppState, p: &Params) -> Result<EngineOptions, ApiError> {
    let mut opts = st.engine.opts.clone();
    if let Some(t) = p.get("timeout").filter(|s| !s.is_empty()) {
        let d = parse_duration_param(t, "timeout")?;
        opts.timeout = opts.timeout.min(d);
    }
    if let Some(l) = p.get("lookback_delta").filter(|s| !s.is_empty()) {
        let d = parse_duration_param(l, "lookback_delta")?;
        if !d.is_zero() {
            opts.lookback_ms = d.as_millis() as i64;
        }
    }
    Ok(opts)
}

/// A duration parameter: Prometheus duration (`30s`) or seconds (`1.5`).
fn parse_duration_param(s: &str, name: &str) -> Result<Duration, ApiError> {
    if let Ok(f) = s.parse::<f64>() {
        if f.is_finite() && f >= 0.0 {
            return Ok(Duration::from_secs_f64(f));
        }
    }
    crate::units::parse_duration_ms(s)
        .ok()
        .filter(|&ms| ms >= 0)
        .map(|ms| Duration::from_millis(ms as u64))
        .ok_or_else(|| {
            ApiError::bad_data(format!(
                "invalid parameter {name:?}: cannot parse {s:?} to a valid duration"
            ))
        })
}

fn query_param(p: &Params) -> Result<String, ApiError> {
    Ok(p.get("query").unwrap_or("").to_string())
}

/// Who asked, for the query log.
struct Caller {
    client_ip: String,
    method: String,
    path: String,
}

impl Caller {
    fn of(ext: &Extensions, method: &Method, uri: &Uri) -> Caller {
        Caller {
            client_ip: ext
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_default(),
            method: method.to_string(),
            path: uri.path().to_string(),
        }
    }
}

/// `GET|POST /api/v1/query`.
pub async fn instant(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    (method, uri, ext): (Method, Uri, Extensions),
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &body);
    let query = query_param(&p)?;
    let t = p.time("time", st.storage.clock().now_ms())?;
    let logged = Logged {
        query: query.clone(),
        start_ms: t,
        end_ms: t,
        step_ms: 0,
        caller: Caller::of(&ext, &method, &uri),
    };
    evaluate(&st, &p, logged, move |engine, storage| {
        engine.instant(storage, &query, t)
    })
    .await
}

/// `GET|POST /api/v1/query_range`.
pub async fn range(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    (method, uri, ext): (Method, Uri, Extensions),
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &body);
    let query = query_param(&p)?;
    let start = required_time(&p, "start")?;
    let end = required_time(&p, "end")?;
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    let step = match p.get("step") {
        None | Some("") => {
            return Err(ApiError::bad_data(
                "invalid parameter \"step\": cannot parse \"\" to a valid duration",
            ))
        }
        Some(s) => parse_duration_param(s, "step")?,
    };
    let step_ms = step.as_millis() as i64;
    if step_ms <= 0 {
        return Err(ApiError::bad_data(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    if (end - start) / step_ms > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    let logged = Logged {
        query: query.clone(),
        start_ms: start,
        end_ms: end,
        step_ms,
        caller: Caller::of(&ext, &method, &uri),
    };
    evaluate(&st, &p, logged, move |engine, storage| {
        engine.range(storage, &query, start, end, step_ms)
    })
    .await
}

/// A query as the query log records it.
struct Logged {
    query: String,
    start_ms: i64,
    end_ms: i64,
    step_ms: i64,
    caller: Caller,
}

/// Runs a query off the async threads with the request's engine options,
/// writes it to the query log, and answers with its result (`limit`,
/// `stats` applied).
async fn evaluate(
    st: &AppState,
    p: &Params,
    logged: Logged,
    run: impl FnOnce(
            &crate::promql::Engine,
            &dyn crate::storage::Queryable,
        ) -> Result<QueryOutput, QueryError>
        + Send
        + 'static,
) -> Result<Response, ApiError> {
    let engine = crate::promql::Engine::new(options(st, p)?);
    let limit = p.limit()?;
    let stats = p.get("stats").map(str::to_string);
    let querier = Arc::clone(&st.querier);
    let out = tokio::task::spawn_blocking(move || run(&engine, &*querier))
        .await
        .map_err(ApiError::task_failed)?;
    if let Some(log) = st.reloader.as_ref().map(|r| &r.query_log) {
        log_query(log, &logged, &out, st.storage.clock().now_ms());
    }
    Ok(respond(out?, limit, stats.as_deref()))
}

fn log_query(
    log: &crate::querylog::QueryLog,
    q: &Logged,
    out: &Result<QueryOutput, QueryError>,
    now_ms: i64,
) {
    let origin = crate::querylog::Origin::Http {
        client_ip: &q.caller.client_ip,
        method: &q.caller.method,
        path: &q.caller.path,
    };
    log.record(
        &q.query,
        (q.start_ms, q.end_ms, q.step_ms),
        origin,
        out,
        now_ms,
    );
}

fn required_time(p: &Params, key: &str) -> Result<i64, ApiError> {
    match p.get(key) {
        None | Some("") => Err(ApiError::bad_data(format!(
            "invalid parameter {key:?}: cannot parse \"\" to a valid timestamp"
        ))),
        Some(_) => p.time(key, 0),
    }
}

/// `GET|POST /api/v1/format_query`.
pub async fn format_query(
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &body);
    let query = query_param(&p)?;
    let expr = crate::promql::prepare::parse(&query)?;
    Ok(super::success(
        serde_json::Value::String(expr.prettify()),
        Vec::new(),
    ))
}

/// `GET|POST /api/v1/parse_query`: the query's syntax tree as JSON, in
/// the shape Prometheus's `translateAST` gives it.
pub async fn parse_query(
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &body);
    let query = query_param(&p)?;
    let expr = crate::promql::prepare::parse(&query)?;
    Ok(super::success(ast_json(&expr), Vec::new()))
}

fn ast_json(e: &promql_parser::parser::Expr) -> serde_json::Value {
    use crate::promql::eval::{duration_ms, offset_ms};
    use promql_parser::label::MatchOp as P;
    use promql_parser::parser::{AtModifier, Expr, LabelModifier, VectorMatchCardinality};
    use serde_json::{json, Value as J};
    let at = |a: Option<&AtModifier>| -> (J, J) {
        match a {
            None => (J::Null, J::Null),
            Some(AtModifier::Start) => (J::Null, json!("start")),
            Some(AtModifier::End) => (J::Null, json!("end")),
            Some(AtModifier::At(t)) => {
                let ms = match t.duration_since(std::time::UNIX_EPOCH) {
                    Ok(d) => d.as_millis() as i64,
                    Err(e) => -(e.duration().as_millis() as i64),
                };
                (json!(ms), J::Null)
            }
        }
    };
    let matchers = |vs: &promql_parser::parser::VectorSelector| -> J {
        let mut out = Vec::new();
        if let Some(n) = &vs.name {
            out.push(json!({ "name": "__name__", "type": "=", "value": n }));
        }
        for m in &vs.matchers.matchers {
            let op = match m.op {
                P::Equal => "=",
                P::NotEqual => "!=",
                P::Re(_) => "=~",
                P::NotRe(_) => "!~",
            };
            out.push(json!({ "name": m.name, "type": op, "value": m.value }));
        }
        J::Array(out)
    };
    let value_type = |t: &promql_parser::parser::value::ValueType| -> &'static str {
        use promql_parser::parser::value::ValueType as V;
        match t {
            V::Vector => "vector",
            V::Scalar => "scalar",
            V::Matrix => "matrix",
            V::String => "string",
        }
    };
    match e {
        Expr::Aggregate(a) => {
            let (without, grouping) = match &a.modifier {
                Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
                Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
                None => (false, Vec::new()),
            };
            json!({
                "expr": ast_json(&a.expr),
                "grouping": grouping,
                "op": a.op.to_string(),
                "param": a.param.as_deref().map_or(J::Null, ast_json),
                "type": "aggregation",
                "without": without,
            })
        }
        Expr::Binary(b) => {
            let vectors = !matches!(
                (b.lhs.value_type(), b.rhs.value_type()),
                (promql_parser::parser::value::ValueType::Scalar, _)
                    | (_, promql_parser::parser::value::ValueType::Scalar)
            );
            let matching = if vectors {
                let m = crate::promql::binary::Matching::of(b);
                let (card, include) = match m.card {
                    VectorMatchCardinality::OneToOne => ("one-to-one", Vec::new()),
                    VectorMatchCardinality::ManyToOne(l) => ("many-to-one", l.labels),
                    VectorMatchCardinality::OneToMany(l) => ("one-to-many", l.labels),
                    VectorMatchCardinality::ManyToMany => ("many-to-many", Vec::new()),
                };
                json!({ "card": card, "include": include, "labels": m.labels, "on": m.on })
            } else {
                J::Null
            };
            json!({
                "bool": b.return_bool(),
                "lhs": ast_json(&b.lhs),
                "matching": matching,
                "op": b.op.to_string(),
                "rhs": ast_json(&b.rhs),
                "type": "binaryExpr",
            })
        }
        Expr::Call(c) => json!({
            "args": c.args.args.iter().map(|a| ast_json(a)).collect::<Vec<_>>(),
            "func": {
                "argTypes": c.func.arg_types.iter().map(value_type).collect::<Vec<_>>(),
                "name": c.func.name,
                "returnType": value_type(&c.func.return_type),
                "variadic": c.func.variadic,
            },
            "type": "call",
        }),
        Expr::MatrixSelector(m) => {
            let (timestamp, start_or_end) = at(m.vs.at.as_ref());
            json!({
                "matchers": matchers(&m.vs),
                "name": m.vs.name.clone().unwrap_or_default(),
                "offset": offset_ms(m.vs.offset.as_ref()),
                "range": duration_ms(&m.range),
                "startOrEnd": start_or_end,
                "timestamp": timestamp,
                "type": "matrixSelector",
            })
        }
        Expr::Subquery(sq) => {
            let (timestamp, start_or_end) = at(sq.at.as_ref());
            json!({
                "expr": ast_json(&sq.expr),
                "offset": offset_ms(sq.offset.as_ref()),
                "range": duration_ms(&sq.range),
                "startOrEnd": start_or_end,
                "step": sq.step.as_ref().map_or(0, duration_ms),
                "timestamp": timestamp,
                "type": "subquery",
            })
        }
        Expr::NumberLiteral(n) => json!({ "type": "numberLiteral", "val": format_value(n.val) }),
        Expr::StringLiteral(s) => json!({ "type": "stringLiteral", "val": s.val }),
        Expr::Paren(p) => json!({ "expr": ast_json(&p.expr), "type": "parenExpr" }),
        Expr::Unary(u) => json!({ "expr": ast_json(&u.expr), "op": "-", "type": "unaryExpr" }),
        Expr::VectorSelector(vs) => {
            let (timestamp, start_or_end) = at(vs.at.as_ref());
            json!({
                "matchers": matchers(vs),
                "name": vs.name.clone().unwrap_or_default(),
                "offset": offset_ms(vs.offset.as_ref()),
                "startOrEnd": start_or_end,
                "timestamp": timestamp,
                "type": "vectorSelector",
            })
        }
        Expr::Extension(_) => J::Null,
    }
}

/// The success envelope around a query result.
fn respond(out: QueryOutput, limit: usize, stats: Option<&str>) -> Response {
    let mut warnings = out.warnings;
    let mut b = String::with_capacity(256);
    b.push_str(r#"{"status":"success","data":{"resultType":""#);
    b.push_str(out.value.type_name());
    b.push_str(r#"","result":"#);
    match out.value {
        Value::Scalar { t, v } => point(&mut b, t, v),
        Value::String { t, v } => {
            b.push('[');
            timestamp(&mut b, t);
            b.push(',');
            json_string(&mut b, &v);
            b.push(']');
        }
        Value::Vector(mut samples) => {
            truncate(&mut samples, limit, &mut warnings);
            list(&mut b, &samples, |b, s| {
                b.push_str(r#"{"metric":"#);
                labels(b, &s.labels);
                b.push_str(r#","value":"#);
                point(b, s.t, s.v);
                b.push('}');
            });
        }
        Value::Matrix(mut series) => {
            truncate(&mut series, limit, &mut warnings);
            list(&mut b, &series, |b, s| {
                b.push_str(r#"{"metric":"#);
                labels(b, &s.labels);
                b.push_str(r#","values":"#);
                list(b, &s.points, |b, &(t, v)| point(b, t, v));
                b.push('}');
            });
        }
    }
    if stats.is_some_and(|s| !s.is_empty()) {
        let st = &out.stats;
        b.push_str(r#","stats":{"timings":{"evalTotalTime":"#);
        b.push_str(&format!("{}", st.eval_time.as_secs_f64()));
        b.push_str(r#","resultSortTime":0,"queryPreparationTime":"#);
        b.push_str(&format!("{}", st.prepare_time.as_secs_f64()));
        b.push_str(r#","innerEvalTime":"#);
        b.push_str(&format!("{}", st.eval_time.as_secs_f64()));
        b.push_str(r#","execQueueTime":0,"execTotalTime":"#);
        b.push_str(&format!(
            "{}",
            (st.eval_time + st.prepare_time).as_secs_f64()
        ));
        b.push_str(r#"},"samples":{"#);
        b.push_str(&format!(
            r#""totalQueryableSamples":{},"peakSamples":{}}}}}"#,
            st.total_queryable_samples, st.peak_samples
        ));
    }
    b.push('}');
    for (key, texts) in [("warnings", &warnings), ("infos", &out.infos)] {
        if !texts.is_empty() {
            b.push_str(&format!(",\"{key}\":"));
            list(&mut b, texts, |b, w| json_string(b, w));
        }
    }
    b.push('}');
    ([(axum::http::header::CONTENT_TYPE, "application/json")], b).into_response()
}

/// `[item,item,…]`.
fn list<T>(b: &mut String, items: &[T], mut item: impl FnMut(&mut String, &T)) {
    b.push('[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        item(b, x);
    }
    b.push(']');
}

/// `[<seconds>,"<value>"]`.
fn point(b: &mut String, t: i64, v: f64) {
    b.push('[');
    timestamp(b, t);
    b.push_str(",\"");
    b.push_str(&format_json_value(v));
    b.push_str("\"]");
}

/// Seconds with the millisecond digits only when there are some, as
/// Prometheus writes them.
pub fn timestamp(b: &mut String, t: i64) {
    use std::fmt::Write;
    let (sign, t) = if t < 0 {
        ("-", t.unsigned_abs())
    } else {
        ("", t as u64)
    };
    let _ = write!(b, "{sign}{}", t / 1000);
    let frac = t % 1000;
    if frac != 0 {
        let _ = write!(b, ".{frac:03}");
    }
}

pub(super) fn labels(b: &mut String, l: &Labels) {
    b.push('{');
    for (i, (n, v)) in l.iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        json_string(b, n);
        b.push(':');
        json_string(b, v);
    }
    b.push('}');
}

pub(super) fn json_string(b: &mut String, s: &str) {
    b.push_str(&serde_json::to_string(s).expect("strings always serialise"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_query_matches_prometheus_docs_example() {
        let e = crate::promql::prepare::parse("foo/bar").unwrap();
        let got = ast_json(&e).to_string();
        let want = r#"{"bool":false,"lhs":{"matchers":[{"name":"__name__","type":"=","value":"foo"}],"name":"foo","offset":0,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"matching":{"card":"one-to-one","include":[],"labels":[],"on":false},"op":"/","rhs":{"matchers":[{"name":"__name__","type":"=","value":"bar"}],"name":"bar","offset":0,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"type":"binaryExpr"}"#;
        assert_eq!(got, want);
    }

    #[test]
    fn timestamps_as_prometheus_writes_them() {
        let f = |t| {
            let mut b = String::new();
            timestamp(&mut b, t);
            b
        };
        assert_eq!(f(1_435_781_451_781), "1435781451.781");
        assert_eq!(f(1_435_781_451_000), "1435781451");
        assert_eq!(f(1_435_781_451_050), "1435781451.050");
        assert_eq!(f(-1500), "-1.500");
    }
}
