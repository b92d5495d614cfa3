//! `/api/v1/status/*`: build information, runtime information, command-line
//! flags, the loaded configuration and TSDB cardinality, in Prometheus's
//! shapes (Grafana's and promtool's checks read them).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{success, ApiError, AppState};

/// What the status endpoints report about this process.
#[derive(Debug, Clone)]
pub struct RuntimeInfo {
    /// RFC 3339 start time.
    pub start_time: String,
    /// Flags as Prometheus lists them: name without dashes → value.
    pub flags: Vec<(String, String)>,
    /// `--storage.tsdb.retention.time`/`.size` as text (`15d`, `15d or 10GB`).
    pub retention: String,
}

impl Default for RuntimeInfo {
    fn default() -> Self {
        RuntimeInfo {
            start_time: chrono::Utc::now().to_rfc3339(),
            flags: Vec::new(),
            retention: String::new(),
        }
    }
}

/// `GET /api/v1/status/buildinfo`.
pub async fn buildinfo() -> Response {
    success(
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "revision": option_env!("PHAROS_REVISION").unwrap_or("unknown"),
            "branch": option_env!("PHAROS_BRANCH").unwrap_or("unknown"),
            "buildUser": "",
            "buildDate": "",
            "goVersion": concat!("rust (pharos ", env!("CARGO_PKG_VERSION"), ")"),
        }),
        Vec::new(),
    )
}

/// `GET /api/v1/status/runtimeinfo`.
pub async fn runtimeinfo(State(st): State<AppState>) -> Response {
    let (reload_ok, last_config) = match &st.reloader {
        Some(c) => (
            c.last_reload_ok.load(std::sync::atomic::Ordering::Relaxed),
            c.last_reload_success_ms
                .load(std::sync::atomic::Ordering::Relaxed),
        ),
        None => (true, 0),
    };
    let last_config = chrono::DateTime::from_timestamp_millis(last_config)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default();
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Threads:")
                    .map(|v| v.trim().parse::<u64>().ok())
            })
        })
        .flatten()
        .unwrap_or(0);
    success(
        json!({
            "startTime": st.runtime.start_time,
            "CWD": std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default(),
            "hostname": crate::collect::hostname(),
            "serverTime": chrono::DateTime::from_timestamp_millis(st.storage.clock().now_ms())
                .unwrap_or_default()
                .to_rfc3339(),
            "reloadConfigSuccess": reload_ok,
            "lastConfigTime": last_config,
            "corruptionCount": 0,
            "goroutineCount": threads,
            "GOMAXPROCS": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "GOMEMLIMIT": i64::MAX,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": st.runtime.retention,
        }),
        Vec::new(),
    )
}

/// `GET /api/v1/status/flags`.
pub async fn flags(State(st): State<AppState>) -> Response {
    // A Go map: keys sorted.
    let mut flags: Vec<&(String, String)> = st.runtime.flags.iter().collect();
    flags.sort();
    let mut m = Map::new();
    for (k, v) in flags {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    success(Value::Object(m), Vec::new())
}

/// `GET /api/v1/status/config`: the configuration in force, as YAML.
pub async fn config(State(st): State<AppState>) -> Response {
    let yaml = st
        .reloader
        .as_ref()
        .map(|r| r.config_text())
        .unwrap_or_default();
    success(json!({ "yaml": yaml }), Vec::new())
}

/// `GET /api/v1/status/tsdb?limit=N`.
pub async fn tsdb(State(st): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let p = super::api::Params::from_request(q.as_deref(), &Default::default(), &[]);
    let limit = match p.limit()? {
        0 => 10,
        n => n,
    };
    let storage = Arc::clone(&st.storage);
    let stats = tokio::task::spawn_blocking(move || storage.tsdb_stats(limit))
        .await
        .map_err(ApiError::task_failed)?;
    let list = |v: &[(String, u64)]| -> Value {
        Value::Array(
            v.iter()
                .map(|(n, c)| json!({ "name": n, "value": c }))
                .collect(),
        )
    };
    let c = &stats.cardinality;
    let (min_t, max_t) = if stats.series == 0 {
        (i64::MAX, i64::MIN)
    } else {
        (stats.min_t, stats.max_t)
    };
    Ok(success(
        json!({
            "headStats": {
                "numSeries": stats.series,
                "numLabelPairs": c.label_pairs,
                "chunkCount": stats.chunks,
                "minTime": min_t,
                "maxTime": max_t,
            },
            "seriesCountByMetricName": list(&c.series_by_metric),
            "labelValueCountByLabelName": list(&c.values_by_label),
            "memoryInBytesByLabelName": list(&c.bytes_by_label),
            "seriesCountByLabelValuePair": list(&c.series_by_pair),
        }),
        Vec::new(),
    ))
}
