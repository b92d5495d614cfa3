//! HTTP: the routers of the Prometheus-compatible API and pharos's own
//! endpoints. `router(state)` builds everything, so tests drive it with
//! `oneshot` and no socket.
//!
//! - [`query`]: `/api/v1/query`, `/api/v1/query_range`,
//!   `/api/v1/format_query` (PromQL);
//! - [`exemplars`]: `/api/v1/query_exemplars` (the exemplar store);
//! - [`status`]: the status endpoints (build and runtime information,
//!   flags, configuration, TSDB cardinality);
//! - [`api`]: `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`
//!   in Prometheus's JSON envelope, and `/api/v1/export` (raw samples);
//! - [`write`]: the remote-write receiver at `/api/v1/write`;
//! - [`federate`]: `/federate` (newest samples in the text format);
//! - [`read`]: remote read at `/api/v1/read` (sampled responses);
//! - [`rules`]: `/api/v1/rules` and `/api/v1/alerts`;
//! - [`alertmanager`]: Alertmanager's API v2 (`/api/v2/alerts`, silences, status);
//! - [`targets`]: `/api/v1/targets`, `/api/v1/scrape_pools`, `/api/v1/targets/metadata`,
//!   `/api/v1/metadata`, `/-/reload`, the host collector at `/node/metrics`
//!   and its switches at `/api/v1/collectors`;
//! - health and readiness probes at `/-/healthy` and `/-/ready`;
//! - [`grafana`]: Grafana's dashboard, folder, search, datasource and
//!   health API (`/api/dashboards/…`, `/api/search`, `/api/folders/…`,
//!   `/api/datasources/…`, `/api/health`) over the dashboard store;
//! - [`listen`]: the connection loop with its timeouts;
//! - [`ui`]: the embedded web UI (`/`, `/assets/…`, and the app's routes).

pub mod alertmanager;
pub mod api;
pub mod exemplars;
pub mod federate;
pub mod grafana;
pub mod listen;
pub mod metrics;
pub mod query;
pub mod read;
pub mod rules;
pub mod status;
pub mod targets;
pub mod ui;
pub mod write;

#[cfg(test)]
mod tests;

use pharos_agent::sync::LockExt;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::storage::Storage;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The store itself: ingest, exemplars, TSDB status.
    pub storage: Arc<Storage>,
    /// The read seam every query-side handler (queries, series, label
    /// names and values, export, federation, remote read) goes through:
    /// the store in a server, a fake in handler tests.
    pub querier: Arc<dyn crate::storage::Queryable>,
    /// Remote-write requests decoded and appended at once. Appends
    /// serialise on the storage writer anyway; more in flight only holds
    /// more decoded requests (and allocator arenas) in memory.
    pub write_slots: Arc<tokio::sync::Semaphore>,
    /// Scraping and the host collector; `None` in servers built without
    /// them (API tests).
    pub collection: Option<Arc<crate::collect::Collection>>,
    /// The configuration in force and its reloads; `None` in servers
    /// built without a configuration (API tests).
    pub reloader: Option<Arc<crate::reload::Reloader>>,
    /// The rule evaluator; `None` in servers built without it.
    pub rules: Option<Arc<crate::rules::Manager>>,
    /// The notifier behind the Alertmanager v2 API; `None` in servers
    /// built without it.
    pub notifier: Option<Arc<crate::notify::notifier::Notifier>>,
    /// Requests served, for `/metrics`.
    pub http_stats: Arc<HttpStats>,
    /// The PromQL engine's settings (`--query.*` flags).
    pub engine: Arc<crate::promql::Engine>,
    /// Start time, flags and retention for the status endpoints.
    pub runtime: Arc<status::RuntimeInfo>,
    /// Notified by `/-/quit`: the server shuts down as on SIGTERM.
    pub quit: Arc<tokio::sync::Notify>,
    /// `--web.cors.origin`, anchored: which browser origins the API
    /// answers with CORS headers, and may send state-changing requests.
    pub cors_origin: Arc<regex::Regex>,
    /// `--web.enable-lifecycle`: `/-/reload` and `/-/quit` work; otherwise
    /// they answer 403 as Prometheus's do.
    pub lifecycle: bool,
    /// Remote read's limits and the gate of concurrent requests.
    pub remote_read: Arc<read::Gate>,
    /// `--web.route-prefix` (`""` or `/path`): the web UI's base URL.
    pub route_prefix: String,
    /// The exemplar label holding a trace id and the URL of a trace
    /// (`${__value.raw}` for the id), handed to the UI through the data
    /// source as Grafana's `exemplarTraceIdDestinations`.
    pub trace_link: Option<(String, String)>,
    /// Dashboards and folders behind the Grafana API; in memory only in
    /// servers built without `serve` (API tests).
    pub dashboards: Arc<crate::dashboards::Store>,
    /// What `/metrics` serves: each stage's collector, registered where
    /// the stages are wired (here and in `serve`).
    pub metrics: crate::metrics::Registry,
}

/// Requests served by route and status code, with their total duration —
/// the remote-write receiver's and the query API's traffic on `/metrics`.
#[derive(Debug, Default)]
pub struct HttpStats {
    by_route: std::sync::Mutex<std::collections::BTreeMap<(String, u16), (u64, f64)>>,
}

impl HttpStats {
    pub fn record(&self, handler: &str, code: u16, seconds: f64) {
        let mut m = self.by_route.locked();
        let e = m.entry((handler.to_string(), code)).or_default();
        e.0 += 1;
        e.1 += seconds;
    }

    /// `(handler, code, requests, seconds)` for every route seen.
    pub fn snapshot(&self) -> Vec<(String, u16, u64, f64)> {
        let m = self.by_route.locked();
        m.iter()
            .map(|((h, c), (n, s))| (h.clone(), *c, *n, *s))
            .collect()
    }
}

/// Counts every routed request in [`HttpStats`].
async fn track(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let handler = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    st.http_stats.record(
        &handler,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// `--web.cors.origin` as Prometheus compiles it: anchored.
pub fn cors_regex(origin: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("^(?:{origin})$"))
}

/// Prometheus's CORS handling of the API: a request with an `Origin` gets
/// the allowed headers and methods, and `Access-Control-Allow-Origin` —
/// `*` for the default `.*`, the origin itself when it matches
/// `--web.cors.origin`; a preflight `OPTIONS` is answered at once, as
/// Prometheus's API answers it.
async fn cors(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::header::{self, HeaderValue};
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut resp = if req.method() == axum::http::Method::OPTIONS {
        success(Value::Null, Vec::new())
    } else {
        next.run(req).await
    };
    let Some(origin) = origin else {
        return resp;
    };
    let h = resp.headers_mut();
    for (name, value) in [
        (
            "access-control-allow-headers",
            "Accept, Authorization, Content-Type, Origin",
        ),
        ("access-control-allow-methods", "GET, POST, OPTIONS"),
        ("access-control-expose-headers", "Date"),
        ("vary", "Origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    if st.cors_origin.as_str() == "^(?:.*)$" {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    } else if origin.to_str().is_ok_and(|o| st.cors_origin.is_match(o)) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    resp
}

/// Refuses a state-changing request (any method but GET, HEAD and
/// OPTIONS) that a browser sent from another site whose origin
/// `--web.cors.origin` does not allow: a page the user opens must not be
/// able to reload, stop or reconfigure pharos with a plain form post.
/// Requests without an `Origin` (curl, Prometheus, amtool) and from
/// pharos's own pages pass.
async fn refuse_foreign_writes(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::{header, Method};
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return next.run(req).await;
    };
    let origin = origin.to_str().unwrap_or("");
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let same_site = origin
        .split_once("://")
        .is_some_and(|(_, authority)| !host.is_empty() && authority == host);
    if same_site || st.cors_origin.is_match(origin) {
        return next.run(req).await;
    }
    (
        StatusCode::FORBIDDEN,
        format!(
            "cross-origin {} from {origin:?} refused: --web.cors.origin does not allow that origin\n",
            req.method()
        ),
    )
        .into_response()
}

impl AppState {
    pub fn new(storage: Arc<Storage>) -> AppState {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let metrics = crate::metrics::Registry::default();
        let http_stats: Arc<HttpStats> = Arc::default();
        {
            let storage = Arc::clone(&storage);
            metrics.register(move || crate::storage::metrics::collector(&storage));
            let http = Arc::clone(&http_stats);
            metrics.register(move || metrics::collector(&http));
        }
        AppState {
            querier: Arc::clone(&storage) as Arc<dyn crate::storage::Queryable>,
            storage,
            write_slots: Arc::new(tokio::sync::Semaphore::new(cores.max(2))),
            collection: None,
            reloader: None,
            rules: None,
            notifier: None,
            http_stats,
            engine: Arc::default(),
            runtime: Arc::default(),
            quit: Arc::default(),
            cors_origin: Arc::new(cors_regex(".*").expect("the default CORS origin compiles")),
            lifecycle: false,
            remote_read: Arc::new(read::Gate::new(read::Limits::default())),
            route_prefix: String::new(),
            trace_link: None,
            dashboards: Arc::new(crate::dashboards::Store::in_memory()),
            metrics,
        }
    }

    /// Queries, series, label names and values, export, federation and
    /// remote read answered by `q` instead of the store.
    pub fn with_querier(mut self, q: Arc<dyn crate::storage::Queryable>) -> AppState {
        self.querier = q;
        self
    }

    /// A server with scraping and a configuration: the reloader and the
    /// collection it applies the jobs to, and their metrics.
    pub fn with_reloader(mut self, r: Arc<crate::reload::Reloader>) -> AppState {
        let collection = Arc::clone(r.collection());
        self.metrics
            .register(move || crate::collect::metrics::collector(&collection));
        let reloader = Arc::clone(&r);
        self.metrics
            .register(move || crate::reload::metrics::collector(&reloader));
        let reloader = Arc::clone(&r);
        self.metrics.register(move || {
            crate::rules::metrics::collector(
                reloader.rules.get().map(|r| r.groups()).unwrap_or_default(),
            )
        });
        self.collection = Some(Arc::clone(r.collection()));
        self.reloader = Some(r);
        self
    }
}

/// Largest compressed remote-write body accepted; bigger ones get 413.
pub const MAX_WRITE_BODY: usize = 32 << 20;

/// Largest body of every other endpoint (queries, alerts, silences):
/// axum's default, made explicit so the announced-size check below and
/// the extractors agree.
pub const MAX_API_BODY: usize = 2 << 20;

/// How much of an oversize body is read and thrown away before the 413
/// goes out. A client still sending when the connection closes sees a
/// reset instead of the answer; past this much, it gets the reset.
const DRAIN_LIMIT: usize = 64 << 20;

/// Answers a request whose announced body is larger than [`MAX_API_BODY`]
/// with 413 in Prometheus's envelope, after reading (and discarding, so
/// memory stays flat) what the client sends, so that it reads the answer.
async fn refuse_large_bodies(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use http_body_util::BodyExt;
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let Some(n) = announced.filter(|&n| n > MAX_API_BODY as u64) else {
        return next.run(req).await;
    };
    let mut body = req.into_body();
    let mut drained = 0usize;
    while drained <= DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => drained += frame.data_ref().map_or(0, |d| d.len()),
            _ => break,
        }
    }
    let mut resp = ApiError::bad_data(format!(
        "request body of {n} bytes is larger than the limit of {MAX_API_BODY} bytes"
    ))
    .into_response();
    *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    resp
}

/// Builds the whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route(
            "/api/v1/format_query",
            get(query::format_query).post(query::format_query),
        )
        .route(
            "/api/v1/parse_query",
            get(query::parse_query).post(query::parse_query),
        )
        .route(
            "/api/v1/query_exemplars",
            get(exemplars::query_exemplars).post(exemplars::query_exemplars),
        )
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/status/tsdb", get(status::tsdb))
        .route("/federate", get(federate::federate))
        .route("/api/v1/series", get(api::series).post(api::series))
        .route("/api/v1/labels", get(api::labels).post(api::labels))
        .route("/api/v1/label/{name}/values", get(api::label_values))
        .route("/api/v1/export", get(api::export).post(api::export))
        .route("/api/v1/rules", get(rules::rules))
        .route("/api/v1/alerts", get(rules::alerts))
        .route("/api/v1/alertmanagers", get(rules::alertmanagers))
        .route(
            "/api/v2/alerts",
            get(alertmanager::get_alerts).post(alertmanager::post_alerts),
        )
        .route("/api/v2/alerts/groups", get(alertmanager::get_groups))
        .route(
            "/api/v2/silences",
            get(alertmanager::get_silences).post(alertmanager::post_silence),
        )
        .route(
            "/api/v2/silence/{id}",
            get(alertmanager::get_silence).delete(alertmanager::delete_silence),
        )
        .route("/api/v2/status", get(alertmanager::status))
        .route("/api/v2/receivers", get(alertmanager::receivers))
        .route("/api/v1/scrape_pools", get(targets::scrape_pools))
        .route("/api/v1/targets", get(targets::targets))
        .route("/api/v1/targets/metadata", get(targets::targets_metadata))
        .route("/api/v1/metadata", get(targets::metadata))
        .route("/api/v1/collectors", get(targets::collectors))
        .route(
            "/api/v1/collectors/{name}",
            post(targets::set_collector).put(targets::set_collector),
        )
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors))
        .layer(DefaultBodyLimit::max(MAX_API_BODY))
        .layer(axum::middleware::from_fn(refuse_large_bodies));
    Router::new()
        .route(
            "/api/v1/write",
            // The handler enforces MAX_WRITE_BODY itself, before reading.
            post(write::remote_write).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/read", post(read::remote_read))
        .route("/metrics", get(metrics))
        .route("/node/metrics", get(targets::node_metrics))
        .route(
            "/-/reload",
            if state.lifecycle {
                post(targets::reload).put(targets::reload)
            } else {
                post(lifecycle_disabled).put(lifecycle_disabled)
            },
        )
        .route(
            "/-/quit",
            if state.lifecycle {
                post(quit).put(quit)
            } else {
                post(lifecycle_disabled).put(lifecycle_disabled)
            },
        )
        .route(
            "/-/healthy",
            get(|| async { "Pharos is Healthy.\n" }).head(|| async {}),
        )
        .route(
            "/-/ready",
            get(|| async { "Pharos is Ready.\n" }).head(|| async {}),
        )
        .merge(api)
        .merge(grafana::routes(state.clone()))
        .route("/assets/{name}", get(ui::asset))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), track))
        .fallback(get(ui::index))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            refuse_foreign_writes,
        ))
        .with_state(state)
}

/// `/-/reload` and `/-/quit` without `--web.enable-lifecycle`: Prometheus's
/// answer, word for word.
async fn lifecycle_disabled() -> (StatusCode, &'static str) {
    (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.")
}

/// `POST|PUT /-/quit`: a graceful shutdown, as Prometheus's lifecycle API
/// (and SIGTERM) does it.
async fn quit(axum::extract::State(st): axum::extract::State<AppState>) -> &'static str {
    tracing::warn!("received a shutdown request through /-/quit");
    st.quit.notify_one();
    "Requesting termination... Goodbye!\n"
}

/// `GET /metrics`: pharos's own metrics, OpenMetrics text.
async fn metrics(axum::extract::State(st): axum::extract::State<AppState>) -> Response {
    let registry = st.metrics.clone();
    match tokio::task::spawn_blocking(move || registry.render()).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                crate::metrics::CONTENT_TYPE,
            )],
            text,
        )
            .into_response(),
        Err(e) => ApiError::task_failed(e).into_response(),
    }
}

/// Prometheus's `errorType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    BadData,
    Execution,
    Internal,
    Unavailable,
    Timeout,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::Timeout => "timeout",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Unavailable | ErrorType::Timeout => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// An API error, rendered as Prometheus's error envelope. Internal details
/// (SQLite messages) are logged, not sent.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn bad_data(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }
}

impl ApiError {
    /// A query task that panicked or was cancelled: a server fault.
    pub fn task_failed(e: tokio::task::JoinError) -> ApiError {
        tracing::error!(error = %e, "query task failed");
        ApiError {
            kind: ErrorType::Internal,
            message: "query task failed; see the server log".into(),
        }
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> ApiError {
        tracing::error!(error = %e, "storage error while serving a query");
        ApiError {
            kind: ErrorType::Internal,
            message: "storage error; see the server log".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Keys in Prometheus's order (serde_json's maps sort them).
        let body = format!(
            r#"{{"status":"error","errorType":{},"error":{}}}"#,
            json!(self.kind.as_str()),
            json!(self.message)
        );
        (
            self.kind.status(),
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// The success envelope, with `warnings` only when there are some, keys in
/// Prometheus's order.
pub fn success(data: Value, warnings: Vec<String>) -> Response {
    let mut body = format!(r#"{{"status":"success","data":{data}"#);
    if !warnings.is_empty() {
        body.push_str(&format!(r#","warnings":{}"#, json!(warnings)));
    }
    body.push('}');
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}
