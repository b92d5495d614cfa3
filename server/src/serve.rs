//! `pharos serve`: opens storage, starts the background maintenance loops and
//! the HTTP server, and shuts down in an order that loses nothing:
//!
//! 1. stop accepting HTTP requests and let in-flight ones finish, so every
//!    acknowledged write is already committed;
//! 2. stop scraping and rule evaluation (without stale markers: the series
//!    continue after a restart; alert state is already saved) and the
//!    maintenance loops;
//! 3. seal what is frozen, so the next start replays less;
//! 4. close storage (the directory lock goes with it).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::alert_sender::{AlertRelabeling, AlertSender, Senders};
use crate::collect::Collection;
use crate::http::{router, AppState};
use crate::reload::{ConfigSource, Reloader};
use crate::storage::{Options, Storage};

/// How often frozen head chunks are persisted and the log truncated.
const SEAL_EVERY: Duration = Duration::from_secs(60);
/// How often retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(300);

/// Settings of a server run, filled from flags.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// `--config.file`; `None` runs the built-in default configuration.
    pub config_file: Option<PathBuf>,
    /// `--alertmanager.config.file`; `None` runs the built-in notifier
    /// configuration (alerts kept, sent nowhere).
    pub alertmanager_config: Option<PathBuf>,
    /// The default configuration scrapes the host collector.
    pub host_collector: bool,
    /// The default configuration scrapes pharos's own metrics.
    pub self_collector: bool,
    pub storage_path: PathBuf,
    pub storage: Options,
    /// PromQL engine settings (`--query.*`).
    pub query: crate::promql::EngineOptions,
    /// Rule evaluation settings (`--rules.*`, `--web.external-url`).
    pub rules: RuleOptions,
    /// `--web.cors.origin`: the regex of browser origins the API allows.
    pub cors_origin: String,
    /// `--web.route-prefix` (default: the path of `--web.external-url`):
    /// `""` or `/path`, where every endpoint is served.
    pub route_prefix: String,
    /// `--ui.exemplar-trace-label` and `--ui.exemplar-trace-url`: where
    /// the UI links an exemplar's trace id.
    pub trace_link: Option<(String, String)>,
    /// The command-line flags and retention, for the status endpoints.
    pub flags: Vec<(String, String)>,
    pub retention: String,
    /// `--web.read-timeout`: longest wait for a request's headers, for
    /// the next request on an idle connection, and between two pieces of
    /// a request body.
    pub read_timeout: Duration,
    /// `--web.enable-lifecycle`: `/-/reload` and `/-/quit` answer; without
    /// it they are refused with 403, as in Prometheus.
    pub enable_lifecycle: bool,
    /// `--storage.remote.read-*`: what one remote-read request may cost.
    pub remote_read: crate::http::read::Limits,
    /// `--dashboards.path`: Grafana dashboard files to provision.
    pub dashboards_path: Option<PathBuf>,
    /// `--dashboards.update-interval`: how often that directory is read.
    pub dashboards_interval: Duration,
}

/// Settings of the rule evaluator from flags.
#[derive(Debug, Clone)]
pub struct RuleOptions {
    /// `None`: `http://<host name>:<port>`.
    pub external_url: Option<String>,
    pub resend_delay: Duration,
    pub outage_tolerance: Duration,
    pub grace_period: Duration,
}

impl Default for RuleOptions {
    fn default() -> Self {
        RuleOptions {
            external_url: None,
            resend_delay: Duration::from_secs(60),
            outage_tolerance: Duration::from_secs(3600),
            grace_period: Duration::from_secs(600),
        }
    }
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(cfg: ServeConfig) -> anyhow::Result<()> {
    raise_open_files_limit();
    let started = std::time::Instant::now();
    let path = cfg.storage_path.clone();
    let opts = cfg.storage.clone();
    let storage = tokio::task::spawn_blocking(move || Storage::open(&path, opts))
        .await?
        .with_context(|| format!("opening storage in {}", cfg.storage_path.display()))?;
    let storage = Arc::new(storage);
    tracing::info!(
        path = %cfg.storage_path.display(),
        series = storage.series_count(),
        wal_records_replayed = storage.stats.wal_records_replayed.load(std::sync::atomic::Ordering::Relaxed),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "storage opened"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let maintenance = tokio::spawn(maintain(Arc::clone(&storage), stop_rx.clone()));
    let source = match &cfg.config_file {
        Some(path) => ConfigSource::File(path.clone()),
        None => ConfigSource::Default {
            // A wildcard bind is reached as localhost.
            self_address: if cfg.listen.ip().is_unspecified() {
                format!("localhost:{}", cfg.listen.port())
            } else {
                cfg.listen.to_string()
            },
            route_prefix: cfg.route_prefix.clone(),
            host: cfg.host_collector,
            itself: cfg.self_collector,
        },
    };
    let collection = Arc::new(Collection::new(Arc::clone(&storage)));
    let reloader = Arc::new(Reloader::new(
        source,
        Arc::clone(&collection),
        Arc::clone(&storage),
    ));
    let engine = Arc::new(crate::promql::Engine::new(cfg.query.clone()));
    let alert_sender = crate::alert_sender::AlertmanagerSender::new();
    let sender_task = tokio::spawn(alert_sender.clone().run());
    let external_url = cfg.rules.external_url.clone().unwrap_or_else(|| {
        format!(
            "http://{}:{}",
            crate::collect::hostname(),
            cfg.listen.port()
        )
    });
    let notifier = start_notifier(&cfg, &storage, &external_url).await?;
    let notifier_task = tokio::spawn(Arc::clone(&notifier).run());
    let _ = reloader
        .notifier
        .set((Arc::clone(&notifier), cfg.alertmanager_config.clone()));
    // Rule alerts, with the external labels and after
    // `alert_relabel_configs`, go to the built-in notifier and to the
    // Alertmanagers of `alerting:`.
    let alerts_out: Arc<dyn AlertSender> = Arc::new(AlertRelabeling::new(Arc::new(Senders(vec![
        Arc::clone(&notifier) as Arc<dyn AlertSender>,
        Arc::new(alert_sender.clone()),
    ]))));
    let _ = reloader.alerting.set(Arc::clone(&alerts_out));
    let rules = crate::rules::Manager::new(crate::rules::ManagerOptions {
        query_log: Some(Arc::clone(&reloader.query_log)),
        engine: Arc::clone(&engine),
        storage: Arc::clone(&storage),
        sender: alerts_out,
        external_url,
        resend_delay: cfg.rules.resend_delay,
        outage_tolerance: cfg.rules.outage_tolerance,
        grace_period: cfg.rules.grace_period,
        clock: storage.clock().clone(),
    });
    let _ = reloader.rules.set(Arc::clone(&rules));
    // A bad configuration at start is fatal, as in Prometheus; later
    // reloads keep the running one instead.
    reloader.reload().await.map_err(|e| {
        anyhow::anyhow!(
            "loading the configuration from {}: {e}",
            reloader.describe()
        )
    })?;
    let hup = tokio::spawn(reload_on_sighup(Arc::clone(&reloader), stop_rx.clone()));
    let (dashboards, dashboard_watch) = start_dashboards(&cfg, &storage, stop_rx.clone()).await?;
    let rule_watch = tokio::spawn(Arc::clone(&rules).watch_files(stop_rx.clone()));

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    let mut state = AppState::new(Arc::clone(&storage)).with_reloader(Arc::clone(&reloader));
    state.engine = engine;
    state.rules = Some(Arc::clone(&rules));
    state.notifier = Some(Arc::clone(&notifier));
    {
        let alert_sender = alert_sender.clone();
        state
            .metrics
            .register(move || crate::alert_sender::metrics::collector(alert_sender.facts()));
    }
    {
        let notifier = Arc::clone(&notifier);
        state
            .metrics
            .register(move || crate::notify::metrics::collector(&notifier));
    }
    state.runtime = Arc::new(crate::http::status::RuntimeInfo {
        flags: cfg.flags.clone(),
        retention: cfg.retention.clone(),
        ..Default::default()
    });
    state.cors_origin = Arc::new(
        crate::http::cors_regex(&cfg.cors_origin)
            .with_context(|| format!("--web.cors.origin {:?}", cfg.cors_origin))?,
    );
    state.lifecycle = cfg.enable_lifecycle;
    state.route_prefix = cfg.route_prefix.clone();
    state.trace_link = cfg.trace_link.clone();
    state.remote_read = Arc::new(crate::http::read::Gate::new(cfg.remote_read));
    state.dashboards = dashboards;
    let quit = Arc::clone(&state.quit);
    let app = with_prefix(router(state), &cfg.route_prefix);
    let app = crate::http::listen::with_read_timeout(app, cfg.read_timeout);
    crate::http::listen::serve(listener, app, cfg.read_timeout, shutdown_signal(quit)).await;

    tracing::info!("shutting down");
    collection.shutdown();
    rules.stop();
    let _ = stop_tx.send(true);
    let _ = rule_watch.await;
    if let Some(w) = dashboard_watch {
        let _ = w.await;
    }
    sender_task.abort();
    // Silences and the notification log are written as they change;
    // nothing is lost by stopping the loop here.
    notifier_task.abort();
    let _ = maintenance.await;
    let _ = hup.await;
    let s = Arc::clone(&storage);
    tokio::task::spawn_blocking(move || s.seal(false))
        .await?
        .context("sealing chunks at shutdown")?;
    drop(storage);
    tracing::info!("storage closed");
    Ok(())
}

/// The built-in notifier on its configuration (a bad one is fatal at
/// start, as in Alertmanager), keeping silences and its log in `storage`.
async fn start_notifier(
    cfg: &ServeConfig,
    storage: &Arc<Storage>,
    external_url: &str,
) -> anyhow::Result<Arc<crate::notify::notifier::Notifier>> {
    use crate::notify::notifier::{default_config, load_config, Notifier, NotifierOptions};
    let path = cfg.alertmanager_config.clone();
    let am = tokio::task::spawn_blocking(move || match path {
        Some(p) => load_config(&p),
        None => default_config(),
    })
    .await?
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut opts = NotifierOptions::new(Arc::clone(storage) as _, external_url);
    opts.clock = storage.clock().clone();
    let n = Notifier::new(opts, am).map_err(|e| anyhow::anyhow!("starting the notifier: {e}"))?;
    tracing::info!(
        silences = n.silences().list(n.now()).len(),
        log_entries = n.nflog().len(),
        "notifier started"
    );
    Ok(n)
}

/// The dashboard store on `storage`, with the built-in dashboards and
/// those of `--dashboards.path` saved before the API answers, and the
/// task that reads the directory again every `--dashboards.update-interval`.
async fn start_dashboards(
    cfg: &ServeConfig,
    storage: &Arc<Storage>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(
    Arc<crate::dashboards::Store>,
    Option<tokio::task::JoinHandle<()>>,
)> {
    use crate::dashboards::{provision, Store};
    let state = Arc::clone(storage) as Arc<dyn crate::storage::state::StateStore>;
    let clock = storage.clock().clone();
    let provider = cfg
        .dashboards_path
        .clone()
        .map(|p| Arc::new(provision::Provider::files(p)));
    let p = provider.clone();
    let store = tokio::task::spawn_blocking(move || {
        let store = Store::load(state, clock)?;
        provision::sync_builtin(&store);
        match &p {
            Some(p) => p.sync(&store),
            // Without the flag, what an earlier run provisioned from files
            // goes (Grafana deletes orphaned provisioned dashboards too):
            // left behind, they could be neither saved nor deleted.
            None => {
                for (ext, _, e) in
                    provision::sync_items(&store, provision::FILES, Vec::new(), |_, _| false)
                {
                    tracing::error!("removing the dashboard of {ext}: {e}");
                }
            }
        }
        Ok::<_, crate::dashboards::Error>(store)
    })
    .await?
    .context("loading dashboards")?;
    let store = Arc::new(store);
    let (dashboards, folders) = store.counts();
    tracing::info!(dashboards, folders, "dashboards loaded");
    let watch = provider.map(|p| {
        tokio::spawn(provision::watch(
            Arc::clone(&store),
            p,
            cfg.dashboards_interval,
            stop,
        ))
    });
    Ok((store, watch))
}

/// Periodic sealing and retention until `stop` flips.
async fn maintain(storage: Arc<Storage>, mut stop: watch::Receiver<bool>) {
    let mut seal = tokio::time::interval(SEAL_EVERY);
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    seal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = seal.tick() => seal_now(&storage).await,
            _ = storage.seal_wanted.notified() => seal_now(&storage).await,
            _ = retention.tick() => {
                let s = Arc::clone(&storage);
                match tokio::task::spawn_blocking(move || s.enforce_retention()).await {
                    Ok(Ok(n)) if n > 0 => tracing::info!(chunks = n, "retention deleted chunks"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "retention failed; will retry"),
                    Err(e) => tracing::error!(error = %e, "retention task failed"),
                }
            }
        }
    }
}

/// One sealing pass on a blocking thread; failures are logged and retried
/// at the next tick.
async fn seal_now(storage: &Arc<Storage>) {
    let s = Arc::clone(storage);
    match tokio::task::spawn_blocking(move || s.seal(true)).await {
        Ok(Ok(n)) if n > 0 => tracing::debug!(chunks = n, "sealed head chunks"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "sealing head chunks failed; will retry"),
        Err(e) => tracing::error!(error = %e, "sealing task failed"),
    }
}

/// Reloads the configuration on every SIGHUP until `stop` flips.
async fn reload_on_sighup(reloader: Arc<Reloader>, mut stop: watch::Receiver<bool>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload");
        return;
    };
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                if let Err(e) = reloader.reload().await {
                    tracing::error!(error = %e, "reloading the configuration failed; the previous configuration keeps running");
                }
            }
        }
    }
}

/// Serves `app` under `prefix` (`--web.route-prefix`), with `/` sent
/// there, as Prometheus does behind a reverse proxy.
fn with_prefix(app: axum::Router, prefix: &str) -> axum::Router {
    if prefix.is_empty() {
        return app;
    }
    let home = format!("{prefix}/");
    axum::Router::new()
        .route(
            "/",
            axum::routing::get(move || async move {
                // 302 Found, as Prometheus's redirect.
                (
                    axum::http::StatusCode::FOUND,
                    [(axum::http::header::LOCATION, home)],
                )
            }),
        )
        // `{prefix}/` is not matched by the nested routes (their tail
        // must not be empty): the app's fallback, the web UI, answers it.
        .route(
            &format!("{prefix}/"),
            axum::routing::get({
                let app = app.clone();
                move |req: axum::extract::Request| async move {
                    use tower::ServiceExt;
                    match app.oneshot(req).await {
                        Ok(resp) => resp,
                        Err(never) => match never {},
                    }
                }
            }),
        )
        .nest(prefix, app)
}

/// SIGINT, SIGTERM or `/-/quit`.
async fn shutdown_signal(quit: Arc<tokio::sync::Notify>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
        _ = quit.notified() => {},
    }
}

/// Raises the soft limit of open files to the hard limit, as Go (and so
/// Prometheus) does at start: every connection, scrape and the database
/// use descriptors, and the usual soft limit of 1 024 is what a flood of
/// idle connections exhausts first.
fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= lim.rlim_max {
            return;
        }
        let soft = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
            tracing::debug!(
                from = soft,
                to = lim.rlim_max,
                "raised the open files limit"
            );
        }
    }
}

/// The rule evaluator's alerts delivered to the built-in notifier: the
/// adapter lives here, where the two stages are wired, so that `notify`
/// never imports `rules`.
impl AlertSender for crate::notify::notifier::Notifier {
    fn send(&self, alerts: Vec<crate::alert_sender::OutgoingAlert>) {
        let alerts = alerts
            .into_iter()
            .map(|a| crate::notify::alert::Alert {
                labels: a.labels.into_iter().collect(),
                annotations: a.annotations.into_iter().collect(),
                starts_at: a.starts_at,
                ends_at: a.ends_at,
                generator_url: a.generator_url,
                updated_at: 0,
                timeout: false,
            })
            .collect();
        for e in self.put_alerts(alerts) {
            tracing::warn!(error = %e, "the notifier refused an alert from the rule evaluator");
        }
    }
}
