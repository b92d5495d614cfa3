//! The collection side of the API: `/api/v1/targets`,
//! `/api/v1/targets/metadata`, `/api/v1/metadata` (Prometheus's shapes),
//! `/-/reload`, the host collector's exposition at `/node/metrics` and its
//! run-time switches at `/api/v1/collectors`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pharos_agent::scrape::target::format_duration;
use pharos_agent::scrape::ActiveTarget;
use serde_json::{json, Map, Value};

use super::api::{parse_selector, Params};
use super::{success, ApiError, AppState, ErrorType};
use crate::collect::Collection;
use crate::storage::Matcher;

fn collection(st: &AppState) -> Result<&Arc<Collection>, ApiError> {
    st.collection.as_ref().ok_or_else(|| ApiError {
        kind: ErrorType::Unavailable,
        message: "scraping is not running in this server".into(),
    })
}

/// A label map, names sorted as Go's encoder writes maps.
fn labels_json<'a>(pairs: impl IntoIterator<Item = &'a (String, String)>) -> Value {
    let mut pairs: Vec<&(String, String)> = pairs.into_iter().collect();
    pairs.sort();
    let mut m = Map::new();
    for (n, v) in pairs {
        m.insert(n.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

/// RFC 3339 as Go's `time.Time` marshals (RFC3339Nano, trailing zeros
/// dropped); the zero time for a target never scraped.
pub(crate) fn rfc3339(ms: Option<i64>) -> String {
    pharos_agent::gofmt::rfc3339(ms.unwrap_or(0))
}

/// The scrape URL as seen from other machines: Prometheus swaps a
/// loopback or wildcard host for this machine's host name.
fn global_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    if !matches!(
        host,
        "localhost" | "127.0.0.1" | "[::1]" | "0.0.0.0" | "[::]"
    ) {
        return url.to_string();
    }
    let name = crate::collect::hostname();
    match port {
        Some(p) => format!("{scheme}://{name}:{p}{tail}"),
        None => format!("{scheme}://{name}{tail}"),
    }
}

fn active_json(a: &ActiveTarget) -> Value {
    json!({
        "discoveredLabels": labels_json(&a.target.discovered),
        "labels": labels_json(&a.target.labels),
        "scrapePool": a.pool,
        "scrapeUrl": a.target.url,
        "globalUrl": global_url(&a.target.url),
        "lastError": a.status.last_error,
        "lastScrape": rfc3339(a.status.last_scrape_ms),
        "lastScrapeDuration": a.status.last_duration.as_secs_f64(),
        "health": a.status.health.as_str(),
        "scrapeInterval": format_duration(a.target.interval),
        "scrapeTimeout": format_duration(a.target.timeout),
    })
}

/// `GET /api/v1/scrape_pools`: the names of the scrape pools (jobs).
pub async fn scrape_pools(State(st): State<AppState>) -> Result<Response, ApiError> {
    let pools = collection(&st)?.targets().pools;
    Ok(success(json!({ "scrapePools": pools }), Vec::new()))
}

/// `GET /api/v1/targets?state=active|dropped|any&scrapePool=<job>`.
pub async fn targets(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let c = collection(&st)?;
    let p = Params::from_request(q.as_deref(), &HeaderMap::new(), &[]);
    let state = p.get("state").unwrap_or("any").to_ascii_lowercase();
    let (show_active, show_dropped) = match state.as_str() {
        "" | "any" => (true, true),
        "active" => (true, false),
        "dropped" => (false, true),
        other => {
            return Err(ApiError::bad_data(format!(
                "invalid state {other:?}: expected active, dropped or any"
            )))
        }
    };
    let pool = p.get("scrapePool").filter(|s| !s.is_empty());
    let snap = c.targets();
    let in_pool = |name: &str| pool.is_none_or(|p| p == name);
    let active: Vec<Value> = if show_active {
        snap.active
            .iter()
            .filter(|a| in_pool(&a.pool))
            .map(active_json)
            .collect()
    } else {
        Vec::new()
    };
    let counts = &snap.dropped_counts;
    let dropped: Vec<Value> = if show_dropped {
        snap.dropped
            .iter()
            .filter(|d| in_pool(&d.pool))
            .map(|d| json!({"discoveredLabels": labels_json(&d.discovered), "scrapePool": d.pool}))
            .collect()
    } else {
        Vec::new()
    };
    Ok(success(
        json!({
            "activeTargets": active,
            "droppedTargets": dropped,
            "droppedTargetCounts": counts,
        }),
        Vec::new(),
    ))
}

fn target_matches(groups: &[Vec<Matcher>], labels: &[(String, String)]) -> bool {
    groups.is_empty()
        || groups.iter().any(|ms| {
            ms.iter().all(|m| {
                let v = labels
                    .iter()
                    .find(|(n, _)| *n == m.name)
                    .map_or("", |(_, v)| v.as_str());
                m.matches(v)
            })
        })
}

/// Reads `limit`-style parameters: absent or negative means none.
fn opt_limit(p: &Params, key: &str) -> Result<Option<usize>, ApiError> {
    match p.get(key) {
        None | Some("") => Ok(None),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n < 0 => Ok(None),
            Ok(n) => Ok(Some(n as usize)),
            Err(_) => Err(ApiError::bad_data(format!("invalid {key} {s:?}"))),
        },
    }
}

/// `GET /api/v1/targets/metadata?match_target=&metric=&limit=`.
pub async fn targets_metadata(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let c = collection(&st)?;
    let p = Params::from_request(q.as_deref(), &HeaderMap::new(), &[]);
    let groups = match p.get("match_target").filter(|s| !s.is_empty()) {
        Some(sel) => parse_selector(sel).map_err(ApiError::bad_data)?,
        None => Vec::new(),
    };
    let metric = p.get("metric").filter(|s| !s.is_empty());
    let limit = opt_limit(&p, "limit")?;
    let mut out = Vec::new();
    'targets: for a in c.targets().active {
        if !target_matches(&groups, &a.target.labels) {
            continue;
        }
        let mut families: Vec<_> = a.status.metadata.iter().collect();
        families.sort_by(|x, y| x.0.cmp(y.0));
        for (name, m) in families {
            if metric.is_some_and(|want| want != name) {
                continue;
            }
            if limit.is_some_and(|l| out.len() >= l) {
                break 'targets;
            }
            out.push(json!({
                "target": labels_json(&a.target.labels),
                "metric": name,
                "type": m.kind.as_str(),
                "help": m.help,
                "unit": m.unit,
            }));
        }
    }
    Ok(success(Value::Array(out), Vec::new()))
}

/// `GET /api/v1/metadata?metric=&limit=&limit_per_metric=`: per metric
/// name, the distinct metadata every target reports.
pub async fn metadata(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let c = collection(&st)?;
    let p = Params::from_request(q.as_deref(), &HeaderMap::new(), &[]);
    let metric = p.get("metric").filter(|s| !s.is_empty());
    let limit = opt_limit(&p, "limit")?;
    let per_metric = opt_limit(&p, "limit_per_metric")?;
    let mut by_name: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for a in c.targets().active {
        for (name, m) in a.status.metadata.iter() {
            if metric.is_some_and(|want| want != name) {
                continue;
            }
            let entry = json!({"type": m.kind.as_str(), "help": m.help, "unit": m.unit});
            let list = by_name.entry(name.clone()).or_default();
            if !list.contains(&entry) && per_metric.is_none_or(|l| list.len() < l) {
                list.push(entry);
            }
        }
    }
    let mut data = Map::new();
    for (name, list) in by_name {
        if limit.is_some_and(|l| data.len() >= l) {
            break;
        }
        data.insert(name, Value::Array(list));
    }
    Ok(success(Value::Object(data), Vec::new()))
}

/// `POST|PUT /-/reload`: re-reads the configuration; a bad one is refused
/// and the running one kept.
pub async fn reload(State(st): State<AppState>) -> Response {
    let Some(r) = st.reloader.as_ref() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "scraping is not running\n").into_response();
    };
    match r.reload().await {
        Ok(()) => (StatusCode::OK, "").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reloading the configuration failed; the previous configuration keeps running");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}\n"),
            )
                .into_response()
        }
    }
}

/// `GET /node/metrics`: the host collector's exposition (node_exporter's
/// names), honouring node_exporter's `collect[]` / `exclude[]` parameters.
pub async fn node_metrics(State(st): State<AppState>, RawQuery(q): RawQuery) -> Response {
    let Some(c) = st.collection.as_ref() else {
        return (StatusCode::NOT_FOUND, "the host collector is off\n").into_response();
    };
    let p = Params::from_request(q.as_deref(), &HeaderMap::new(), &[]);
    let collect: Vec<String> = p.all("collect[]").map(str::to_string).collect();
    let exclude: Vec<String> = p.all("exclude[]").map(str::to_string).collect();
    let collector = match c.host.for_request(&collect, &exclude) {
        Ok(h) => h,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    match tokio::task::spawn_blocking(move || {
        let (families, errors) = collector.collect_with_errors();
        for e in errors {
            tracing::debug!(collector = %e.collector, error = %e.message, "host collector failed");
        }
        pharos_agent::host::render_text(&families)
    })
    .await
    {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => ApiError::task_failed(e).into_response(),
    }
}

/// `GET /api/v1/collectors`: the host collectors and whether each is on.
pub async fn collectors(State(st): State<AppState>) -> Result<Response, ApiError> {
    let c = collection(&st)?;
    let list: Vec<Value> = c
        .host
        .list()
        .into_iter()
        .map(|(name, on)| json!({"name": name, "enabled": on}))
        .collect();
    Ok(success(Value::Array(list), Vec::new()))
}

/// `POST|PUT /api/v1/collectors/<name>?enabled=true|false`: switches a host
/// collector at run time.
pub async fn set_collector(
    State(st): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let c = collection(&st)?;
    let p = Params::from_request(q.as_deref(), &headers, &body);
    let on = match p.get("enabled") {
        Some("true" | "1") => true,
        Some("false" | "0") => false,
        other => {
            return Err(ApiError::bad_data(format!(
                "enabled must be true or false, got {:?}",
                other.unwrap_or("nothing")
            )))
        }
    };
    c.host
        .set(&name, on)
        .map_err(|e| ApiError::bad_data(e.to_string()))?;
    tracing::info!(collector = %name, enabled = on, "host collector switched");
    Ok(success(json!({"name": name, "enabled": on}), Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_time_for_never_scraped() {
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
        // RFC3339Nano as Go writes it: trailing zeros of the fraction dropped.
        assert_eq!(rfc3339(Some(1_500)), "1970-01-01T00:00:01.5Z");
    }

    #[test]
    fn global_url_names_this_host_for_loopback() {
        let me = crate::collect::hostname();
        assert_eq!(
            global_url("http://localhost:9090/metrics"),
            format!("http://{me}:9090/metrics")
        );
        assert_eq!(
            global_url("http://127.0.0.1:1/x?a=b"),
            format!("http://{me}:1/x?a=b")
        );
        assert_eq!(
            global_url("https://example.com:443/metrics"),
            "https://example.com:443/metrics"
        );
    }

    #[test]
    fn match_target_selects_by_labels() {
        let g = parse_selector(r#"{job=~"no.*"}"#).unwrap();
        let l = vec![("job".to_string(), "node".to_string())];
        assert!(target_matches(&g, &l));
        let g = parse_selector(r#"{job="x"}"#).unwrap();
        assert!(!target_matches(&g, &l));
        assert!(target_matches(&[], &l));
    }
}
