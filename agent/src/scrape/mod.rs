//! The scrape engine: Prometheus's scrape manager, pools and loops.
//!
//! ```text
//! scrape config ──► Job ──► discovery (static, file_sd) ──► target groups
//!                                                              │ populate + relabel_configs
//!                                                              ▼
//!                     pool (one per job) ── one loop per target ──► Sink
//!                                             fetch · parse · metric_relabel
//!                                             · limits · staleness · report
//! ```
//!
//! - [`Job`] is a scrape config made ready to run: an HTTP client built,
//!   credentials located, limits and relabel rules in place.
//! - [`Manager::apply`] takes the full list of jobs (start-up or reload):
//!   unchanged jobs keep running untouched; changed jobs restart their loops.
//!   After a change of interval, timeout, sample limit or HTTP client only,
//!   each surviving target's new loop takes over its old loop's state
//!   (series cache, last scrape, metadata, health) without stale markers,
//!   as Prometheus's reload reuses the scrape cache; removed jobs, vanished
//!   targets and the old loops of any other change get end-of-run stale
//!   markers.
//! - Every target's loop appends to a [`Sink`]; the pharos server's sink is
//!   its storage, pharos-agent's is its remote-write queue. Exemplars of
//!   OpenMetrics targets go with the samples
//!   ([`Sink::append_with_exemplars`]).
//! - The manager answers the targets and metadata APIs from the loops'
//!   shared status.
//! - Wall-clock time comes from the manager's [`Clock`] (the system clock
//!   unless [`Manager::with_clock`] says otherwise): sample and stale-marker
//!   timestamps, `lastScrape`, each target's slot in its interval. Waits
//!   are Tokio timers, so a test under paused Tokio time with
//!   [`Clock::tokio`] runs the loops without waiting.

pub mod discovery;
mod failure_log;
pub mod http;
mod job;
mod oauth2;
pub use job::{header_credentials, http_client, tls_files};
pub mod scrape_loop;
pub mod target;
mod tls;

use crate::sync::LockExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::ScrapeConfig;
use crate::exposition::MetricType;

use discovery::{FileSd, Group};
pub use scrape_loop::ScrapeStats;
use scrape_loop::{ScrapeError, ScrapeState};
use target::{populate, LabelSet, Populated, Target};

pub use crate::config::parse_duration;
pub use scrape_loop::ScrapeError as Error;

/// Prometheus's stale marker: a NaN with this exact bit pattern.
pub const STALE_NAN: f64 = f64::from_bits(0x7ff0_0000_0000_0002);

/// Where scraped samples go.
pub trait Sink: Send + Sync + 'static {
    /// A handle for one series, cheap to clone and compare.
    type Series: Clone + Eq + Hash + Send + Sync + 'static;

    /// The handle for a label set (sorted by name, `__name__` included, no
    /// empty values). An `Err` says why the set is unacceptable.
    fn series(&self, labels: &[(String, String)]) -> Result<Self::Series, SinkError>;

    /// Takes samples (`series, timestamp ms, value`) to store as one
    /// batch; the returned receiver answers once they are stored. Samples
    /// the sink refuses (out of order...) are counted, not errors; `Err`
    /// means nothing was stored. Called from async worker threads: queue
    /// and store elsewhere rather than block here (a sink that stores at
    /// once can answer through [`committed`]).
    fn append(&self, samples: Vec<(Self::Series, i64, f64)>) -> Committed;

    /// [`Sink::append`] with the exemplars scraped alongside the samples
    /// (OpenMetrics targets only). A sink that keeps exemplars stores them
    /// only if the samples are stored, as Prometheus adds exemplars when
    /// it commits the scrape; the default drops them.
    fn append_with_exemplars(
        &self,
        samples: Vec<(Self::Series, i64, f64)>,
        exemplars: Vec<(Self::Series, ScrapedExemplar)>,
    ) -> Committed {
        drop(exemplars);
        self.append(samples)
    }
}

/// An exemplar of a scraped sample, owned so it can wait for the commit.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrapedExemplar {
    /// Sorted by name, as written otherwise (empty values kept: storage
    /// drops them, as Prometheus's head does).
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds: the exemplar's own timestamp, or else the sample's.
    pub timestamp_ms: i64,
    /// Whether the target wrote a timestamp. Without one, the same
    /// exemplar seen again in the next scrape is a duplicate, not a new
    /// exemplar at the new scrape time (Prometheus's `Exemplar.HasTs`).
    pub has_timestamp: bool,
}

/// The answer to a [`Sink::append`].
pub type Committed = tokio::sync::oneshot::Receiver<Result<Appended, SinkError>>;

/// Why a sink refused a series or a batch; the text becomes the target's
/// scrape error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The label set cannot be stored (an invalid name or value).
    #[error("{0}")]
    InvalidSeries(String),
    /// The store is behind: taking more would grow memory without bound.
    #[error("storage is falling behind: {waiting} scraped samples are waiting to be written")]
    Backlog { waiting: usize },
    /// The sink is closed (shutdown), or its committer went away.
    #[error("{0}")]
    Closed(&'static str),
    /// Storing the batch failed; nothing of it was stored.
    #[error("{0}")]
    Storage(String),
}

/// A [`Committed`] that already holds its answer.
pub fn committed(result: Result<Appended, SinkError>) -> Committed {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _ = tx.send(result);
    rx
}

/// What a [`Sink::append`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Appended {
    pub written: usize,
    pub rejected: usize,
    pub first_rejection: Option<String>,
}

/// A credential given inline or read from a file at every scrape (so a
/// rotated token file is picked up without a reload, as in Prometheus).
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Inline(String),
    File(PathBuf),
}

impl Credential {
    pub fn read(&self) -> Result<String, http::FetchError> {
        match self {
            Credential::Inline(s) => Ok(s.clone()),
            Credential::File(p) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| http::FetchError::Credentials(format!("{}: {e}", p.display()))),
        }
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Inline(_) => f.write_str("<secret>"),
            Credential::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// How a job authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: Credential,
        password: Credential,
    },
    /// `Authorization: <kind> <credentials>` (`Bearer` by default).
    Header {
        kind: String,
        credentials: Credential,
    },
    /// A token from an OAuth 2.0 token server (client-credentials grant).
    OAuth2(Arc<oauth2::TokenSource>),
}

impl Auth {
    /// Adds the credentials to a request; files are read now, so a rotated
    /// token is picked up by the next request.
    pub async fn apply(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, http::FetchError> {
        Ok(match self {
            Auth::None => req,
            Auth::Basic { username, password } => {
                req.basic_auth(username.read()?, Some(password.read()?))
            }
            Auth::Header { kind, credentials } => req.header(
                reqwest::header::AUTHORIZATION,
                format!("{kind} {}", credentials.read()?),
            ),
            Auth::OAuth2(source) => {
                req.header(reqwest::header::AUTHORIZATION, source.header().await?)
            }
        })
    }
}

/// TLS material, already read from its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca_pem: Option<Vec<u8>>,
    pub client_pem: Option<(Vec<u8>, Vec<u8>)>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
}

/// A scrape config ready to run: the config itself (intervals, limits,
/// relabel rules are read from it) plus what running it needs — the HTTP
/// client built, credentials located, static groups converted.
#[derive(Debug, Clone)]
pub struct Job {
    /// A job whose config a reload leaves unchanged keeps running untouched.
    pub config: ScrapeConfig,
    pub static_groups: Vec<Group>,
    pub auth: Auth,
    /// The `Accept` header, from `scrape_protocols`.
    pub accept: String,
    pub client: reqwest::Client,
    /// Extra request headers (`http_headers`).
    pub headers: Vec<(String, Credential)>,
    /// With `tls_config.server_name`: how https targets are reached so
    /// the handshake names it.
    pub sni: Option<Arc<http::SniRoute>>,
    /// `scrape_failure_log_file`, open.
    pub failure_log: Option<Arc<failure_log::FailureLog>>,
}

impl Job {
    /// The HTTP client for `target`'s loop: the job's, or for an https
    /// target of a job with a `server_name` route, one of its own.
    pub fn client_for(&self, target: &Target) -> reqwest::Client {
        let Some(route) = &self.sni else {
            return self.client.clone();
        };
        match route.client_for(&target.url) {
            None => self.client.clone(),
            Some(Ok(c)) => c,
            // The same settings built the job's client, so this does not
            // happen; scrape without the SNI rather than not at all.
            Some(Err(e)) => {
                tracing::warn!(url = %target.url, error = %e, "no client for tls_config.server_name");
                self.client.clone()
            }
        }
    }
}

impl Job {
    /// A job as `job_name: <name>` with `scrape_interval: 15s` and no
    /// targets loads, for tests.
    #[cfg(test)]
    pub fn for_tests(name: &str) -> Job {
        let yaml = format!("scrape_configs:\n  - job_name: {name}\n    scrape_interval: 15s\n");
        let mut loaded = crate::config::load_str(&yaml, "test", std::path::Path::new("."))
            .expect("the test job loads");
        Job::from_config(&loaded.config.scrape_configs.remove(0)).expect("the test job builds")
    }
}

/// HELP, TYPE and UNIT of a metric family, as last scraped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub kind: MetricType,
    pub help: String,
    pub unit: String,
}

/// A target's health, as the targets API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetHealth {
    #[default]
    Unknown,
    Up,
    Down,
}

impl TargetHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetHealth::Unknown => "unknown",
            TargetHealth::Up => "up",
            TargetHealth::Down => "down",
        }
    }
}

/// What the API shows about a target; updated by its loop.
#[derive(Debug, Clone, Default)]
pub struct TargetStatus {
    pub health: TargetHealth,
    pub last_error: String,
    pub last_scrape_ms: Option<i64>,
    pub last_duration: Duration,
    pub last_samples: usize,
    /// Shared with the loop: copied only when a family's metadata changes.
    pub metadata: Arc<HashMap<String, Metadata>>,
}

/// One active target in a snapshot.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    pub pool: String,
    pub target: Target,
    pub status: TargetStatus,
}

/// A target relabeling dropped (or that could not be made scrapable).
#[derive(Debug, Clone)]
pub struct DroppedTarget {
    pub pool: String,
    pub discovered: LabelSet,
}

/// Every target, for `/api/v1/targets`.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every pool (job) by name, sorted, targets or not.
    pub pools: Vec<String>,
    /// Targets each pool's relabeling dropped, by pool (every pool, zeros
    /// included), counting those `keep_dropped_targets` did not keep.
    pub dropped_counts: BTreeMap<String, usize>,
    pub active: Vec<ActiveTarget>,
    pub dropped: Vec<DroppedTarget>,
}

/// A running target loop as its pool sees it.
struct LoopHandle<S: Sink> {
    target: Target,
    status: Arc<Mutex<TargetStatus>>,
    forced: Arc<Mutex<Option<ScrapeError>>>,
    /// `Some(true)`: stop and write stale markers; `Some(false)`: stop
    /// quietly.
    stop: watch::Sender<Option<bool>>,
    /// The loop's task; it ends with the loop's state, which a successor
    /// under a reloaded job may adopt.
    task: tokio::task::JoinHandle<ScrapeState<S>>,
}

/// The targets of one job and their loops.
struct PoolState<S: Sink> {
    job: Arc<Job>,
    groups: BTreeMap<String, Group>,
    loops: HashMap<u64, LoopHandle<S>>,
    /// At most `keep_dropped_targets` of them (0: all).
    dropped: Vec<LabelSet>,
    dropped_count: usize,
    /// Set when the pool is shut down, so a discovery update racing the
    /// shutdown cannot start loops again.
    stopped: bool,
}

struct Pool<S: Sink> {
    state: Arc<Mutex<PoolState<S>>>,
    /// Stops the pool's discovery task.
    stop: watch::Sender<bool>,
}

/// Runs scrape pools for a set of jobs.
pub struct Manager<S: Sink> {
    sink: Arc<S>,
    offset_seed: u64,
    clock: Clock,
    stats: Arc<ScrapeStats>,
    pools: Mutex<BTreeMap<String, Pool<S>>>,
}

impl<S: Sink> Manager<S> {
    /// `offset_seed` shifts every target's slot in its interval; derive it
    /// from something per server (Prometheus uses its external labels and
    /// host name). Times are the system clock's.
    pub fn new(sink: Arc<S>, offset_seed: u64) -> Self {
        Self::with_clock(sink, offset_seed, Clock::system())
    }

    /// [`Manager::new`] reading wall-clock time from `clock` (tests).
    pub fn with_clock(sink: Arc<S>, offset_seed: u64, clock: Clock) -> Self {
        Manager {
            sink,
            offset_seed,
            clock,
            stats: Arc::default(),
            pools: Mutex::new(BTreeMap::new()),
        }
    }

    /// Runs exactly `jobs` from now on. Must be called inside a Tokio
    /// runtime.
    pub fn apply(&self, jobs: Vec<Job>) {
        let mut pools = self.pools.locked();
        let wanted: HashSet<String> = jobs.iter().map(|j| j.config.job_name.clone()).collect();
        // Removed jobs: their targets are gone.
        let removed: Vec<String> = pools
            .keys()
            .filter(|k| !wanted.contains(*k))
            .cloned()
            .collect();
        for name in removed {
            if let Some(pool) = pools.remove(&name) {
                shutdown_pool(&pool, true);
            }
        }
        for job in jobs {
            let name = job.config.job_name.clone();
            if let Some(old) = pools.get(&name) {
                let st = old.state.locked();
                if st.job.config == job.config {
                    if let (Some(running), Some(reopened)) = (&st.job.failure_log, &job.failure_log)
                    {
                        running.reopen_from(reopened);
                    }
                    continue;
                }
            }
            // As Prometheus: when only the interval, timeout, sample limit
            // or HTTP client changed, a target the new pool also scrapes
            // continues there without a gap: its old loop stops quietly
            // and hands its state to the new one. Any other change
            // (relabeling, targets, ...) may change what a target's scrape
            // stores, so every old loop writes its end-of-run stale
            // markers: those of series the new loop keeps writing come
            // after its newer samples and are refused as out of order; the
            // series no longer written go stale.
            let mut successors = HashMap::new();
            if let Some(old) = pools.get(&name) {
                if same_series(&old.state.locked().job.config, &job.config) {
                    successors = take_loops(old);
                }
            }
            let pool = self.start_pool(job, &mut successors);
            // Targets gone from the new pool (a target file rewritten just
            // now) end with stale markers.
            for l in successors.into_values() {
                let _ = l.stop.send(Some(true));
            }
            if let Some(old) = pools.insert(name, pool) {
                shutdown_pool(&old, true);
            }
        }
    }

    /// Stops every loop without stale markers (server shutdown: the series
    /// continue when it starts again).
    pub fn shutdown(&self) {
        let mut pools = self.pools.locked();
        for (_, pool) in std::mem::take(&mut *pools) {
            shutdown_pool(&pool, false);
        }
    }

    /// Starts a pool for `job`; a target with a loop in `predecessors` is
    /// taken over from it (removed from the map).
    fn start_pool(&self, job: Job, predecessors: &mut HashMap<u64, LoopHandle<S>>) -> Pool<S> {
        let job = Arc::new(job);
        let mut file_sds: Vec<FileSd> = job
            .config
            .file_sd_configs
            .iter()
            .map(|f| FileSd::new(f.files.clone(), f.refresh_interval))
            .collect();
        let mut groups: BTreeMap<String, Group> = BTreeMap::new();
        for g in &job.static_groups {
            groups.insert(g.source.clone(), g.clone());
        }
        // The first read of the files happens now, so a reload knows at
        // once which targets continue.
        for sd in &mut file_sds {
            for g in sd.poll().unwrap_or_default() {
                groups.insert(g.source.clone(), g);
            }
        }
        let state = Arc::new(Mutex::new(PoolState {
            job: Arc::clone(&job),
            groups,
            loops: HashMap::new(),
            dropped: Vec::new(),
            dropped_count: 0,
            stopped: false,
        }));
        self.clone_handle().sync(&state, predecessors);
        let (stop, mut stopped) = watch::channel(false);
        if !file_sds.is_empty() {
            let (state, this) = (Arc::clone(&state), self.clone_handle());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(discovery::FILE_POLL);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = stopped.changed() => return,
                        _ = tick.tick() => {}
                    }
                    let mut sds = std::mem::take(&mut file_sds);
                    let (sds_back, changed) = tokio::task::spawn_blocking(move || {
                        let changed: Vec<Option<Vec<Group>>> =
                            sds.iter_mut().map(FileSd::poll).collect();
                        (sds, changed)
                    })
                    .await
                    .unwrap_or_default();
                    file_sds = sds_back;
                    if changed.iter().all(Option::is_none) {
                        continue;
                    }
                    {
                        let mut st = state.locked();
                        let statics: Vec<Group> = st.job.static_groups.clone();
                        st.groups.clear();
                        for g in statics
                            .into_iter()
                            .chain(file_sds.iter().flat_map(FileSd::groups))
                        {
                            st.groups.insert(g.source.clone(), g);
                        }
                    }
                    this.sync(&state, &mut HashMap::new());
                }
            });
        }
        Pool { state, stop }
    }

    /// A cheap copy of what [`Manager::sync`] needs, for background tasks.
    fn clone_handle(&self) -> SyncHandle<S> {
        SyncHandle {
            sink: Arc::clone(&self.sink),
            offset_seed: self.offset_seed,
            clock: self.clock.clone(),
            stats: Arc::clone(&self.stats),
        }
    }

    /// Counters over every scrape.
    pub fn stats(&self) -> &ScrapeStats {
        &self.stats
    }

    /// Every target of every pool.
    pub fn snapshot(&self) -> Snapshot {
        let pools = self.pools.locked();
        let mut snap = Snapshot::default();
        for (name, pool) in pools.iter() {
            snap.pools.push(name.clone());
            let st = pool.state.locked();
            snap.dropped_counts.insert(name.clone(), st.dropped_count);
            for l in st.loops.values() {
                snap.active.push(ActiveTarget {
                    pool: name.clone(),
                    target: l.target.clone(),
                    status: l.status.locked().clone(),
                });
            }
            for d in &st.dropped {
                snap.dropped.push(DroppedTarget {
                    pool: name.clone(),
                    discovered: d.clone(),
                });
            }
        }
        snap.pools.sort();
        snap.active
            .sort_by(|a, b| (&a.pool, &a.target.labels).cmp(&(&b.pool, &b.target.labels)));
        snap
    }
}

struct SyncHandle<S: Sink> {
    sink: Arc<S>,
    offset_seed: u64,
    clock: Clock,
    stats: Arc<ScrapeStats>,
}

impl<S: Sink> SyncHandle<S> {
    /// Reconciles a pool's loops with its current groups: starts loops for
    /// new targets (taking over a target's loop in `predecessors`), stops
    /// (with stale markers) loops of vanished ones, and applies the target
    /// limit.
    fn sync(
        &self,
        state: &Arc<Mutex<PoolState<S>>>,
        predecessors: &mut HashMap<u64, LoopHandle<S>>,
    ) {
        let mut st = state.locked();
        if st.stopped {
            return;
        }
        let job = Arc::clone(&st.job);
        let mut active: HashMap<u64, Target> = HashMap::new();
        let mut dropped = Vec::new();
        for group in st.groups.values() {
            for labels in group.expand() {
                match populate(&job, labels) {
                    Populated::Active(t) => {
                        active.insert(t.key(), t);
                    }
                    Populated::Dropped(d) => dropped.push(d),
                    Populated::Invalid { discovered, error } => {
                        tracing::warn!(job = %job.config.job_name, %error, "target cannot be scraped");
                        dropped.push(discovered);
                    }
                }
            }
        }
        // As Prometheus: the count is of every dropped target, the list
        // only of as many as `keep_dropped_targets` allows (memory).
        st.dropped_count = dropped.len();
        let keep = job.config.keep_dropped_targets;
        if keep > 0 {
            dropped.truncate(keep as usize);
        }
        st.dropped = dropped;
        let gone: Vec<u64> = st
            .loops
            .keys()
            .filter(|k| !active.contains_key(k))
            .copied()
            .collect();
        for k in gone {
            if let Some(l) = st.loops.remove(&k) {
                let _ = l.stop.send(Some(true));
            }
        }
        let limit = job.config.target_limit;
        let over = (limit > 0 && active.len() as u64 > limit).then_some(ScrapeError::TargetLimit {
            targets: active.len(),
            limit,
        });
        if over.is_some() {
            self.stats
                .target_limit_syncs
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        for (k, target) in active {
            if let Some(l) = st.loops.get(&k) {
                *l.forced.locked() = over.clone();
                continue;
            }
            // A taken-over target keeps its health and last scrape in the
            // API while its old loop winds down.
            let predecessor = predecessors.remove(&k);
            let status = predecessor
                .as_ref()
                .map(|p| p.status.locked().clone())
                .unwrap_or_default();
            let status = Arc::new(Mutex::new(status));
            let predecessor = predecessor.map(|p| {
                let _ = p.stop.send(Some(false));
                p.task
            });
            let forced = Arc::new(Mutex::new(over.clone()));
            let (stop, stop_rx) = watch::channel(None);
            let loop_state = ScrapeState::new(
                Arc::clone(&self.sink),
                Arc::clone(&job),
                target.clone(),
                Arc::clone(&status),
                Arc::clone(&self.stats),
            );
            let client = job.client_for(&target);
            let task = tokio::spawn(scrape_loop::run(
                loop_state,
                client,
                self.offset_seed,
                self.clock.clone(),
                Arc::clone(&forced),
                stop_rx,
                predecessor,
            ));
            st.loops.insert(
                k,
                LoopHandle {
                    target,
                    status,
                    forced,
                    stop,
                    task,
                },
            );
        }
    }
}

/// Whether `old` and `new` differ at most in settings that do not change
/// what a target's scrapes store (Prometheus's `reusableCache`).
fn same_series(old: &ScrapeConfig, new: &ScrapeConfig) -> bool {
    let zero = |c: &ScrapeConfig| ScrapeConfig {
        scrape_interval: Duration::ZERO,
        scrape_timeout: Duration::ZERO,
        sample_limit: 0,
        http: crate::config::HttpClientConfig::default(),
        ..c.clone()
    };
    zero(old) == zero(new)
}

/// Stops a pool's discovery and takes its loops, still running, for a
/// successor pool to stop.
fn take_loops<S: Sink>(pool: &Pool<S>) -> HashMap<u64, LoopHandle<S>> {
    let _ = pool.stop.send(true);
    let mut st = pool.state.locked();
    st.stopped = true;
    std::mem::take(&mut st.loops)
}

/// Stops a pool's discovery and loops, with end-of-run stale markers or
/// quietly.
fn shutdown_pool<S: Sink>(pool: &Pool<S>, stale: bool) {
    for l in take_loops(pool).into_values() {
        let _ = l.stop.send(Some(stale));
    }
}

/// A hash for [`Manager::new`]'s offset seed.
pub fn offset_seed(parts: &[&str]) -> u64 {
    let mut h = target::Fnv64::default();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests;
