//! `GET /federate?match[]=…`: the newest sample of every matching series in
//! Prometheus's text format, so another Prometheus (or pharos) can scrape
//! this one. As in Prometheus: samples older than the lookback delta and
//! stale series are left out, the configuration's external labels are
//! added where a series lacks them, and families come sorted by name.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};

use super::api::Params;
use super::{ApiError, AppState};
use crate::promql::eval::is_stale;
use crate::storage::{Labels, METRIC_NAME};

/// `GET /federate`.
pub async fn federate(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let p = Params::from_request(q.as_deref(), &headers, &Bytes::new());
    if p.get("match[]").is_none() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let selectors = p.selectors()?;
    let external: Vec<(String, String)> = st
        .reloader
        .as_ref()
        .and_then(|c| c.config())
        .map(|c| c.agent.global.external_labels.clone())
        .unwrap_or_default();
    let now = st.storage.clock().now_ms();
    let lookback = st.engine.opts.lookback_ms;
    let querier = Arc::clone(&st.querier);
    let text = tokio::task::spawn_blocking(move || -> Result<String, ApiError> {
        let mut latest: Vec<(Labels, i64, f64)> = Vec::new();
        for m in &selectors {
            for d in querier.select(m, now - lookback, now)? {
                if let Some(&(t, v)) = d.samples.last() {
                    if !is_stale(v) {
                        let mut labels = d.labels;
                        for (n, v) in &external {
                            if labels.get(n).is_none() {
                                labels = labels.with(n, v);
                            }
                        }
                        latest.push((labels, t, v));
                    }
                }
            }
        }
        latest.sort_by(|a, b| {
            a.0.metric_name()
                .cmp(b.0.metric_name())
                .then_with(|| a.0.cmp(&b.0))
        });
        latest.dedup_by(|a, b| a.0 == b.0);
        let mut out = String::new();
        let mut family = None;
        for (labels, t, v) in &latest {
            let name = labels.metric_name();
            if family != Some(name) {
                out.push_str(&format!("# TYPE {name} untyped\n"));
                family = Some(name);
            }
            out.push_str(name);
            let mut first = true;
            for (n, val) in labels.iter().filter(|(n, _)| *n != METRIC_NAME) {
                out.push(if first { '{' } else { ',' });
                first = false;
                out.push_str(n);
                out.push_str("=\"");
                for c in val.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '"' => out.push_str("\\\""),
                        '\n' => out.push_str("\\n"),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            if !first {
                out.push('}');
            }
            out.push_str(&format!(" {} {t}\n", go_float_text(*v)));
        }
        Ok(out)
    })
    .await
    .map_err(ApiError::task_failed)??;
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// A value as Prometheus's text format writes it (Go's `%g` with the
/// shortest precision: `1e+06`, `0.0001`, `1.5e-05`, `+Inf`, `NaN`).
pub use pharos_agent::gofmt::float_g as go_float_text;

#[cfg(test)]
mod tests {
    use super::go_float_text;

    #[test]
    fn floats_as_go_formats_them() {
        assert_eq!(go_float_text(1.0), "1");
        assert_eq!(go_float_text(0.5), "0.5");
        assert_eq!(go_float_text(123456.0), "123456");
        assert_eq!(go_float_text(0.0001), "0.0001");
        assert_eq!(go_float_text(0.00001), "1e-05");
        assert_eq!(go_float_text(f64::INFINITY), "+Inf");
        assert_eq!(go_float_text(-1.5e-7), "-1.5e-07");
        assert_eq!(go_float_text(1234567.0), "1.234567e+06");
        assert_eq!(go_float_text(1e100), "1e+100");
    }
}
