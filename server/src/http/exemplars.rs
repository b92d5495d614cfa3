//! `GET|POST /api/v1/query_exemplars`: the exemplars of the series a PromQL
//! query selects, from the exemplar store
//! ([`crate::storage::exemplars`]), answered as Prometheus 2.42's
//! `queryExemplars` does.
//!
//! The query is not evaluated: every vector selector in it (inside
//! functions, aggregations, binary operations, subqueries, range
//! selectors) is a set of matchers, and a series is answered if it matches
//! any set — Prometheus's `parser.ExtractSelectors`. A query without
//! selectors (`1 + 1`) gets `204 No Content` and no body: Prometheus's
//! handler returns no data for it, and its API answers that with 204.
//!
//! Parameters are checked in Prometheus's order (`start`, `end`, then the
//! query), with its messages, which differ from `/api/v1/query`'s: a bad
//! time says `Invalid time value for 'start'` as well (its
//! `parseTimeParam`), and a bad query is `bad_data` with the parser's
//! message alone, without `invalid parameter "query"`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use promql_parser::parser::Expr;

use super::api::Params;
use super::query::{json_string, labels, timestamp};
use super::{ApiError, AppState};
use crate::promql::eval::selector_matchers;
use crate::promql::value::format_json_value;
use crate::promql::QueryError;
use crate::storage::exemplars::SeriesExemplars;
use crate::storage::Matcher;

/// `GET|POST /api/v1/query_exemplars`.
pub async fn query_exemplars(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &body);
    let start = time_param(&p, "start", i64::MIN)?;
    let end = time_param(&p, "end", i64::MAX)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    // Prometheus's exemplar API words a bad query without the
    // `invalid parameter "query"` prefix the query API gives it.
    let plain = |e: QueryError| match e {
        QueryError::Parse(m) => ApiError::bad_data(m),
        other => other.into(),
    };
    let expr = crate::promql::prepare::parse(p.get("query").unwrap_or("")).map_err(plain)?;
    let sets = selectors(&expr).map_err(plain)?;
    if sets.is_empty() {
        return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
    }
    let storage = Arc::clone(&st.storage);
    let found = tokio::task::spawn_blocking(move || storage.exemplars.select(start, end, &sets))
        .await
        .map_err(ApiError::task_failed)?;
    Ok(respond(&found))
}

/// An optional time parameter, with Prometheus's `parseTimeParam` message.
fn time_param(p: &Params, key: &str, default: i64) -> Result<i64, ApiError> {
    p.time(key, default).map_err(|_| {
        ApiError::bad_data(format!(
            "invalid parameter {key:?}: Invalid time value for '{key}': cannot parse {:?} to a valid timestamp",
            p.get(key).unwrap_or("")
        ))
    })
}

/// The matcher sets of every vector selector in `expr`, depth first.
pub fn selectors(expr: &Expr) -> Result<Vec<Vec<Matcher>>, QueryError> {
    let mut out = Vec::new();
    collect(expr, &mut out)?;
    Ok(out)
}

fn collect(expr: &Expr, out: &mut Vec<Vec<Matcher>>) -> Result<(), QueryError> {
    match expr {
        Expr::VectorSelector(vs) => out.push(selector_matchers(vs)?),
        Expr::MatrixSelector(ms) => out.push(selector_matchers(&ms.vs)?),
        Expr::Aggregate(a) => {
            // The parameter first, as Prometheus's AST lists its children.
            if let Some(p) = &a.param {
                collect(p, out)?;
            }
            collect(&a.expr, out)?;
        }
        Expr::Unary(u) => collect(&u.expr, out)?,
        Expr::Binary(b) => {
            collect(&b.lhs, out)?;
            collect(&b.rhs, out)?;
        }
        Expr::Paren(p) => collect(&p.expr, out)?,
        Expr::Subquery(s) => collect(&s.expr, out)?,
        Expr::Call(c) => {
            for arg in &c.args.args {
                collect(arg, out)?;
            }
        }
        Expr::Extension(e) => {
            for child in e.expr.children() {
                collect(child, out)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => {}
    }
    Ok(())
}

/// `{"status":"success","data":[{"seriesLabels":{…},"exemplars":[{"labels":
/// {…},"value":"6","timestamp":1600096945.479}]}]}`, keys in Prometheus's
/// order, timestamps and values written as its encoder writes them.
fn respond(found: &[SeriesExemplars]) -> Response {
    let mut b = String::with_capacity(64 + 128 * found.len());
    b.push_str(r#"{"status":"success","data":["#);
    for (i, se) in found.iter().enumerate() {
        if i > 0 {
            b.push(',');
        }
        b.push_str(r#"{"seriesLabels":"#);
        labels(&mut b, &se.series);
        b.push_str(r#","exemplars":["#);
        for (j, e) in se.exemplars.iter().enumerate() {
            if j > 0 {
                b.push(',');
            }
            b.push_str(r#"{"labels":"#);
            labels(&mut b, &e.labels);
            b.push_str(r#","value":"#);
            json_string(&mut b, &format_json_value(e.value));
            b.push_str(r#","timestamp":"#);
            timestamp(&mut b, e.timestamp_ms);
            b.push('}');
        }
        b.push_str("]}");
    }
    b.push_str("]}");
    ([(axum::http::header::CONTENT_TYPE, "application/json")], b).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(q: &str) -> Vec<Vec<String>> {
        let expr = crate::promql::prepare::parse(q).unwrap();
        selectors(&expr)
            .unwrap()
            .into_iter()
            .map(|ms| {
                ms.iter()
                    .map(|m| format!("{}={}", m.name, m.value))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_selector_of_the_query_counts() {
        assert_eq!(names("1 + 1"), Vec::<Vec<String>>::new());
        assert_eq!(
            names(r#"rq_total{code="200"}"#),
            vec![vec!["__name__=rq_total", "code=200"]]
        );
        assert_eq!(
            names(
                r#"sum by (le) (rate(lat_bucket[5m])) / on() group_left quantile(scalar(q), max_over_time(x[1m:10s])) > -y"#
            ),
            vec![
                vec!["__name__=lat_bucket".to_string()],
                vec!["__name__=q".to_string()],
                vec!["__name__=x".to_string()],
                vec!["__name__=y".to_string()],
            ]
        );
        assert_eq!(names(r#"{job="a"}"#), vec![vec!["job=a"]]);
    }
}
