//! The `pharos` command line: a thin layer that parses flags with clap and
//! hands typed settings to the library (`serve`, `ingest::import`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use pharos::serve::ServeConfig;
use pharos::storage::Options;
use pharos::units::{parse_bytes, parse_duration_ms};

/// `eprintln!` that drops the message instead of panicking when stderr
/// cannot be written (`2>/dev/full`, a full disk).
macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// glibc's allocator spent more time consolidating free lists than pharos
/// spent decoding remote-write requests (many small label strings freed
/// across blocking threads); mimalloc keeps per-thread pages instead.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// pharos: metrics collection, storage, PromQL, alerting and dashboards in
/// one binary, compatible with Prometheus's formats and APIs.
///
/// With no subcommand, pharos serves (same as `pharos serve`).
#[derive(Parser, Debug)]
#[command(name = "pharos", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the server: storage, remote-write receiver and HTTP API.
    Serve(Box<ServeArgs>),
    /// Backfill data into a data directory (the server must be stopped).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Check things before they go live (exit code 0 when fine, 1 when not).
    #[command(subcommand)]
    Check(CheckCommand),
    /// Run tests (exit code 0 when all pass, 1 when not).
    #[command(subcommand)]
    Test(TestCommand),
}

#[derive(Subcommand, Debug)]
enum TestCommand {
    /// Run rule unit tests in promtool's format (`promtool test rules`):
    /// input series, alert_rule_test and promql_expr_test cases.
    Rules {
        /// The unit-test files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Only run test groups whose name matches this regular expression
        /// (may be given more than once).
        #[arg(long = "run", value_name = "REGEX")]
        run: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum CheckCommand {
    /// Check Prometheus configuration files (prometheus.yml): syntax,
    /// unknown keys, and everything Prometheus validates when loading.
    /// Every problem is listed with file:line.
    Config {
        /// The files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Check Prometheus rule files: syntax, unknown keys, expressions,
    /// label and annotation templates, as `promtool check rules` does.
    /// Every problem is listed with file:line.
    Rules {
        /// The rule files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Check Alertmanager configuration files (alertmanager.yml): routes,
    /// receivers, inhibition rules, time intervals, as `amtool
    /// check-config` does. Every problem is listed with file:line.
    Alertmanager {
        /// The files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Read a data directory end to end and report every inconsistency:
    /// SQLite integrity, undecodable label sets, chunks and write-ahead
    /// records. Safe to run beside a server using the directory.
    Storage {
        /// Data directory to check.
        #[arg(long = "storage.path", default_value = "data", value_name = "DIR")]
        storage_path: PathBuf,
        /// Do not draw a progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// Import an OpenMetrics text file, as `promtool tsdb
    /// create-blocks-from openmetrics` takes: samples with timestamps,
    /// terminated by `# EOF`.
    Openmetrics {
        /// The OpenMetrics file to import.
        file: PathBuf,
        /// Data directory to write into.
        #[arg(long = "storage.path", default_value = "data", value_name = "DIR")]
        storage_path: PathBuf,
        /// Do not draw a progress bar (it is also hidden when stderr is not a terminal).
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Args, Debug, Clone)]
struct ServeArgs {
    /// Address to listen on for the web interface, API and remote write
    /// (`:9090` means every interface).
    #[arg(
        long = "web.listen-address",
        default_value = ":9090",
        value_name = "ADDR"
    )]
    listen_address: String,
    /// Directory for the database.
    #[arg(
        long = "storage.path",
        alias = "storage.tsdb.path",
        default_value = "data",
        value_name = "DIR"
    )]
    storage_path: PathBuf,
    /// How long to keep samples, counted back from the newest one
    /// (e.g. 15d, 12h, 1y). Default 15d when no size limit is set either.
    #[arg(long = "storage.tsdb.retention.time", value_name = "DURATION")]
    retention_time: Option<String>,
    /// Largest size of stored data before the oldest is deleted (e.g. 512MB,
    /// 10GB). 0 or unset means no size limit.
    #[arg(long = "storage.tsdb.retention.size", value_name = "SIZE")]
    retention_size: Option<String>,
    /// Prometheus configuration file (prometheus.yml). Without it, pharos
    /// runs its built-in configuration: it scrapes itself and its host
    /// collector every 15 s. Reload with SIGHUP or POST /-/reload.
    #[arg(long = "config.file", value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Serve the host collector (node_exporter's metrics) at /node/metrics
    /// and, in the built-in configuration, scrape it as job="node".
    /// `--collector.host=false` turns it off.
    #[arg(long = "collector.host", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    collector_host: bool,
    /// In the built-in configuration, scrape pharos's own metrics
    /// (`/metrics`, job="pharos"). `--collector.self=false` turns it off.
    #[arg(long = "collector.self", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    collector_self: bool,
    /// How far back an instant selector looks for the latest sample.
    #[arg(
        long = "query.lookback-delta",
        default_value = "5m",
        value_name = "DURATION"
    )]
    query_lookback_delta: String,
    /// Longest a query may run before it is aborted (error type timeout).
    #[arg(long = "query.timeout", default_value = "2m", value_name = "DURATION")]
    query_timeout: String,
    /// Most samples a single query may hold in memory.
    #[arg(
        long = "query.max-samples",
        default_value_t = 50_000_000,
        value_name = "N"
    )]
    query_max_samples: usize,
    /// The URL under which pharos is reached from outside (behind a proxy,
    /// say): alerts link back to it and templates see it as
    /// $externalURL. Default: http://<host name>:<port>.
    #[arg(long = "web.external-url", value_name = "URL")]
    external_url: Option<String>,
    /// Least time between two notifications of the same firing alert.
    #[arg(
        long = "rules.alert.resend-delay",
        default_value = "1m",
        value_name = "DURATION"
    )]
    alert_resend_delay: String,
    /// Longest outage after which saved pending and firing alerts are
    /// still restored at start.
    #[arg(
        long = "rules.alert.for-outage-tolerance",
        default_value = "1h",
        value_name = "DURATION"
    )]
    alert_outage_tolerance: String,
    /// Least time a restored pending alert waits before it fires.
    #[arg(
        long = "rules.alert.for-grace-period",
        default_value = "10m",
        value_name = "DURATION"
    )]
    alert_grace_period: String,
    /// Alertmanager configuration (alertmanager.yml) of the built-in
    /// notifier: routes, receivers, inhibition, time intervals. Without
    /// it alerts are kept and served by the Alertmanager API
    /// (/api/v2/alerts) but sent nowhere. Reloaded with --config.file.
    #[arg(long = "alertmanager.config.file", value_name = "FILE")]
    alertmanager_config: Option<PathBuf>,
    /// Log level: debug, info, warn or error.
    #[arg(long = "log.level", default_value = "info", value_name = "LEVEL")]
    log_level: String,
    /// Regex of the browser origins the API answers with CORS headers
    /// (anchored, as in Prometheus; e.g. 'https?://(domain1|domain2)\.com').
    #[arg(long = "web.cors.origin", default_value = ".*", value_name = "REGEX")]
    cors_origin: String,
    /// Prefix of every endpoint (behind a reverse proxy serving pharos
    /// under a path). Default: the path of --web.external-url.
    #[arg(long = "web.route-prefix", value_name = "PATH")]
    route_prefix: Option<String>,
    /// Log format: logfmt (lines of text) or json (one JSON object per
    /// line).
    #[arg(long = "log.format", default_value = "logfmt", value_name = "FORMAT",
          value_parser = ["logfmt", "json"])]
    log_format: String,
    /// Enable shutdown and reload via HTTP request (POST /-/quit,
    /// POST /-/reload); without it both answer 403, as in Prometheus.
    /// SIGHUP reloads either way.
    #[arg(long = "web.enable-lifecycle")]
    enable_lifecycle: bool,
    /// Longest a client may take to send a request's headers, pause
    /// between two pieces of its body, or leave a kept-alive connection
    /// idle; then the connection is closed.
    #[arg(
        long = "web.read-timeout",
        default_value = "5m",
        value_name = "DURATION"
    )]
    read_timeout: String,
    /// Most samples one remote-read request may return, over all its
    /// queries; 0 means no limit.
    #[arg(
        long = "storage.remote.read-sample-limit",
        default_value_t = 50_000_000,
        value_name = "N"
    )]
    remote_read_sample_limit: usize,
    /// Most remote-read requests served at once; more wait. 0 means no
    /// limit.
    #[arg(
        long = "storage.remote.read-concurrent-limit",
        default_value_t = 10,
        value_name = "N"
    )]
    remote_read_concurrent_limit: usize,
    /// Prometheus's frame size of streamed remote-read responses. pharos
    /// answers with the sampled response type, which has no frames, so it
    /// is accepted and shown in the flags only.
    #[arg(
        long = "storage.remote.read-max-bytes-in-frame",
        default_value_t = 1_048_576,
        value_name = "BYTES"
    )]
    remote_read_max_bytes_in_frame: usize,
    /// Most bytes the responses of all remote reads in flight may hold
    /// together (plain and compressed); a request that would go past it
    /// fails with 400. pharos's own: the sample limit alone does not bound
    /// memory, as labels repeat with every query of a request. 0 means no
    /// limit.
    #[arg(
        long = "storage.remote.read-max-bytes",
        default_value = "256MiB",
        value_name = "SIZE"
    )]
    remote_read_max_bytes: String,
    /// Accepted so Prometheus's command lines run unchanged: pharos always
    /// receives remote write at /api/v1/write.
    #[arg(long = "web.enable-remote-write-receiver")]
    enable_remote_write_receiver: bool,
    /// Accepted for Prometheus's command lines; pharos has no TSDB admin
    /// API, so it is ignored with a warning.
    #[arg(long = "web.enable-admin-api")]
    enable_admin_api: bool,
    /// Prometheus's console templates; pharos serves no consoles, so it is
    /// ignored with a warning (the official Prometheus 2 image passes it).
    #[arg(long = "web.console.templates", value_name = "DIR")]
    console_templates: Option<PathBuf>,
    /// Prometheus's console libraries; ignored with a warning, as
    /// --web.console.templates.
    #[arg(long = "web.console.libraries", value_name = "DIR")]
    console_libraries: Option<PathBuf>,
    /// Grafana dashboard JSON files to provision; subfolders become
    /// folders; re-read on change. Provisioned dashboards are read-only
    /// through the API; a removed file removes its dashboard.
    #[arg(long = "dashboards.path", value_name = "DIR")]
    dashboards_path: Option<PathBuf>,
    /// How often --dashboards.path is read again (Grafana's
    /// updateIntervalSeconds).
    #[arg(
        long = "dashboards.update-interval",
        default_value = "10s",
        value_name = "DURATION"
    )]
    dashboards_update_interval: String,
    /// The URL of a trace in your tracing UI (Jaeger, Tempo, Zipkin…),
    /// `${__value.raw}` standing for the trace id, e.g.
    /// `http://jaeger:16686/trace/${__value.raw}`: exemplars drawn on the
    /// web UI's graphs link there (Grafana's exemplarTraceIdDestinations).
    #[arg(long = "ui.exemplar-trace-url", value_name = "URL")]
    exemplar_trace_url: Option<String>,
    /// The exemplar label that holds the trace id.
    #[arg(
        long = "ui.exemplar-trace-label",
        default_value = "trace_id",
        value_name = "LABEL"
    )]
    exemplar_trace_label: String,
    /// Prometheus's feature flags (comma-separated, repeatable); none
    /// changes pharos, so each is named in a warning.
    #[arg(long = "enable-feature", value_name = "FEATURE", value_delimiter = ',')]
    enable_feature: Vec<String>,
}

impl ServeArgs {
    fn to_config(&self) -> Result<ServeConfig, String> {
        let addr = if self.listen_address.starts_with(':') {
            format!("0.0.0.0{}", self.listen_address)
        } else {
            self.listen_address.clone()
        };
        let listen: SocketAddr = addr.parse().map_err(|_| {
            format!(
                "invalid --web.listen-address {:?}: expected host:port, e.g. :9090 or 127.0.0.1:9090",
                self.listen_address
            )
        })?;
        let retention_ms = self
            .retention_time
            .as_deref()
            .map(parse_duration_ms)
            .transpose()
            .map_err(|e| format!("--storage.tsdb.retention.time: {e}"))?;
        let retention_bytes = self
            .retention_size
            .as_deref()
            .filter(|s| *s != "0")
            .map(parse_bytes)
            .transpose()
            .map_err(|e| format!("--storage.tsdb.retention.size: {e}"))?;
        let retention_ms = match (retention_ms, retention_bytes) {
            (Some(0), _) => None,
            (Some(ms), _) => Some(ms),
            (None, None) => Options::default().retention_ms,
            (None, Some(_)) => None,
        };
        let duration = |flag: &str, v: &str| {
            parse_duration_ms(v)
                .ok()
                .filter(|&ms| ms > 0)
                .ok_or_else(|| {
                    format!("--{flag}: {v:?} is not a positive duration such as 5m or 30s")
                })
        };
        let query = pharos::promql::EngineOptions {
            lookback_ms: duration("query.lookback-delta", &self.query_lookback_delta)?,
            timeout: std::time::Duration::from_millis(duration(
                "query.timeout",
                &self.query_timeout,
            )? as u64),
            max_samples: self.query_max_samples,
            ..Default::default()
        };
        let ms = |flag: &str, v: &str| {
            duration(flag, v).map(|ms| std::time::Duration::from_millis(ms as u64))
        };
        let rules = pharos::serve::RuleOptions {
            external_url: self
                .external_url
                .clone()
                .map(|u| u.trim_end_matches('/').to_string()),
            resend_delay: ms("rules.alert.resend-delay", &self.alert_resend_delay)?,
            outage_tolerance: ms(
                "rules.alert.for-outage-tolerance",
                &self.alert_outage_tolerance,
            )?,
            grace_period: ms("rules.alert.for-grace-period", &self.alert_grace_period)?,
        };
        // As Prometheus: the route prefix defaults to the external URL's
        // path, and is always "/" + the path without outer slashes.
        let route_prefix = match &self.route_prefix {
            Some(p) => p.clone(),
            None => match &self.external_url {
                Some(u) => reqwest::Url::parse(u)
                    .map_err(|e| format!("--web.external-url {u:?}: {e}"))?
                    .path()
                    .to_string(),
                None => String::new(),
            },
        };
        let route_prefix = match route_prefix.trim_matches('/') {
            "" => String::new(),
            p => format!("/{p}"),
        };
        let flags = vec![
            ("web.listen-address", self.listen_address.clone()),
            ("storage.tsdb.path", self.storage_path.display().to_string()),
            (
                "storage.tsdb.retention.time",
                self.retention_time.clone().unwrap_or_else(|| "0s".into()),
            ),
            (
                "storage.tsdb.retention.size",
                self.retention_size.clone().unwrap_or_else(|| "0B".into()),
            ),
            (
                "config.file",
                self.config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("query.lookback-delta", self.query_lookback_delta.clone()),
            ("query.timeout", self.query_timeout.clone()),
            ("query.max-samples", self.query_max_samples.to_string()),
            (
                "web.external-url",
                self.external_url.clone().unwrap_or_default(),
            ),
            ("rules.alert.resend-delay", self.alert_resend_delay.clone()),
            (
                "rules.alert.for-outage-tolerance",
                self.alert_outage_tolerance.clone(),
            ),
            (
                "rules.alert.for-grace-period",
                self.alert_grace_period.clone(),
            ),
            (
                "alertmanager.config.file",
                self.alertmanager_config
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("collector.host", self.collector_host.to_string()),
            ("collector.self", self.collector_self.to_string()),
            ("log.level", self.log_level.clone()),
            ("log.format", self.log_format.clone()),
            ("web.cors.origin", self.cors_origin.clone()),
            (
                "web.route-prefix",
                if route_prefix.is_empty() {
                    "/".to_string()
                } else {
                    route_prefix.clone()
                },
            ),
            ("web.enable-lifecycle", self.enable_lifecycle.to_string()),
            ("web.read-timeout", self.read_timeout.clone()),
            (
                "storage.remote.read-sample-limit",
                self.remote_read_sample_limit.to_string(),
            ),
            (
                "storage.remote.read-concurrent-limit",
                self.remote_read_concurrent_limit.to_string(),
            ),
            (
                "storage.remote.read-max-bytes-in-frame",
                self.remote_read_max_bytes_in_frame.to_string(),
            ),
            (
                "storage.remote.read-max-bytes",
                self.remote_read_max_bytes.clone(),
            ),
            (
                "web.enable-remote-write-receiver",
                self.enable_remote_write_receiver.to_string(),
            ),
            ("web.enable-admin-api", self.enable_admin_api.to_string()),
            (
                "web.console.templates",
                self.console_templates
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            (
                "web.console.libraries",
                self.console_libraries
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("enable-feature", self.enable_feature.join(",")),
            (
                "dashboards.path",
                self.dashboards_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            (
                "dashboards.update-interval",
                self.dashboards_update_interval.clone(),
            ),
            (
                "ui.exemplar-trace-url",
                self.exemplar_trace_url.clone().unwrap_or_default(),
            ),
            ("ui.exemplar-trace-label", self.exemplar_trace_label.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let retention = match (retention_ms, &self.retention_size) {
            (Some(_), Some(size)) => format!(
                "{} or {size}",
                self.retention_time.as_deref().unwrap_or("15d")
            ),
            (Some(_), None) => self.retention_time.clone().unwrap_or_else(|| "15d".into()),
            (None, Some(size)) => size.clone(),
            (None, None) => "unlimited".into(),
        };
        pharos::http::cors_regex(&self.cors_origin)
            .map_err(|e| format!("--web.cors.origin {:?}: {e}", self.cors_origin))?;
        let read_timeout = ms("web.read-timeout", &self.read_timeout)?;
        let remote_read = pharos::http::read::Limits {
            sample_limit: self.remote_read_sample_limit,
            concurrent_limit: self.remote_read_concurrent_limit,
            max_bytes_in_frame: self.remote_read_max_bytes_in_frame,
            max_bytes: match self.remote_read_max_bytes.as_str() {
                "0" => 0,
                v => parse_bytes(v).map_err(|e| format!("--storage.remote.read-max-bytes: {e}"))?
                    as usize,
            },
            timeout: query.timeout,
        };
        let dashboards_interval = ms(
            "dashboards.update-interval",
            &self.dashboards_update_interval,
        )?;
        Ok(ServeConfig {
            dashboards_path: self.dashboards_path.clone(),
            dashboards_interval,
            read_timeout,
            remote_read,
            enable_lifecycle: self.enable_lifecycle,
            cors_origin: self.cors_origin.clone(),
            route_prefix,
            trace_link: self
                .exemplar_trace_url
                .clone()
                .map(|url| (self.exemplar_trace_label.clone(), url)),
            listen,
            query,
            rules,
            flags,
            retention,
            config_file: self.config_file.clone(),
            alertmanager_config: self.alertmanager_config.clone(),
            host_collector: self.collector_host,
            self_collector: self.collector_self,
            storage_path: self.storage_path.clone(),
            storage: Options {
                retention_ms,
                retention_bytes,
                ..Options::default()
            },
        })
    }
}

fn init_logging(level: &str) {
    init_logging_as(level, "logfmt");
}

/// Logs to stderr at `level`, as text or (`json`) one JSON object a line;
/// colours only when stderr is a terminal (journald and log files get
/// plain text).
fn init_logging_as(level: &str, format: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("pharos={level},warn")));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        // Its own report of a failed write goes through eprintln!, which
        // panics when stderr cannot be written.
        .log_internal_errors(false)
        .with_writer(|| LossyStderr);
    if format == "json" {
        fmt.json().init();
    } else {
        fmt.init();
    }
}

/// Stderr that never fails: a log line that cannot be written (a full
/// disk, a closed pipe) is dropped, so logging can take down neither the
/// process nor the request that logged.
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

impl ServeArgs {
    /// What the Prometheus flags pharos accepts but does not act on mean
    /// here, said once at start.
    fn warn_ignored_flags(&self) {
        if self.enable_admin_api {
            tracing::warn!(
                "--web.enable-admin-api: pharos has no TSDB admin API; the flag is ignored"
            );
        }
        if self.console_templates.is_some() || self.console_libraries.is_some() {
            tracing::warn!("--web.console.templates/--web.console.libraries: pharos serves no console templates; the flags are ignored");
        }
        for f in self.enable_feature.iter().filter(|f| !f.is_empty()) {
            tracing::warn!(feature = %f, "--enable-feature: Prometheus feature flags do not change pharos; ignored");
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Import(ImportCommand::Openmetrics {
            file,
            storage_path,
            quiet,
        })) => {
            init_logging("warn");
            match pharos::ingest::import::import_openmetrics(&file, &storage_path, !quiet) {
                Ok(summary) => {
                    println!("{summary}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    say_err!("pharos import: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some(Command::Check(CheckCommand::Config { files })) => check_config(&files),
        Some(Command::Check(CheckCommand::Rules { files })) => check_rules(&files),
        Some(Command::Check(CheckCommand::Alertmanager { files })) => check_files(&files, |f| {
            pharos::notify::config::load_file(f).map(|(c, warnings)| {
                for w in &warnings {
                    println!("  WARNING: {w}");
                }
                format!(
                    "{} receivers, {} inhibit rules, {} time intervals",
                    c.receivers.len(),
                    c.inhibit_rules.len(),
                    c.time_intervals.len()
                )
            })
        }),
        Some(Command::Test(TestCommand::Rules { files, run })) => {
            init_logging("error");
            test_rules(&files, &run)
        }
        Some(Command::Check(CheckCommand::Storage {
            storage_path,
            quiet,
        })) => {
            init_logging("warn");
            check_storage(&storage_path, quiet)
        }
        Some(Command::Serve(args)) => serve(*args),
        None => serve(cli.serve),
    }
}

fn check_storage(dir: &std::path::Path, quiet: bool) -> ExitCode {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    let result = pharos::storage::verify::verify(dir, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            println!("{report}");
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            say_err!("pharos check storage: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `pharos check config`: promtool's output shape, every error listed.
fn check_config(files: &[PathBuf]) -> ExitCode {
    check_files(files, |f| {
        pharos::config::load_file(f).map(|loaded| {
            for w in &loaded.warnings {
                println!("  WARNING: {w}");
            }
            let c = &loaded.config;
            format!(
                "{} scrape configs, {} rule files",
                c.agent.scrape_configs.len(),
                c.rule_files.len()
            )
        })
    })
}

/// `pharos check rules`: promtool's output shape, every error listed.
fn check_rules(files: &[PathBuf]) -> ExitCode {
    check_files(files, |f| {
        pharos::rules::file::load_file(f).map(|file| {
            let n: usize = file.groups.iter().map(|g| g.rules.len()).sum();
            format!("{n} rules found")
        })
    })
}

/// Checks each file with `check` and prints promtool's report: `SUCCESS:`
/// and a summary, or `FAILED:` and every error; exit 1 if any failed.
fn check_files(
    files: &[PathBuf],
    check: impl Fn(&std::path::Path) -> Result<String, pharos_agent::config::ConfigErrors>,
) -> ExitCode {
    let mut ok = true;
    for f in files {
        println!("Checking {}", f.display());
        match check(f) {
            Ok(summary) => println!("  SUCCESS: {summary}"),
            Err(errors) => {
                ok = false;
                println!("  FAILED:");
                for e in &errors.0 {
                    println!("    {e}");
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `pharos test rules`: promtool's output shape.
fn test_rules(files: &[PathBuf], run: &[String]) -> ExitCode {
    let mut patterns = Vec::new();
    for r in run {
        match regex::Regex::new(r) {
            Ok(re) => patterns.push(re),
            Err(e) => {
                say_err!("pharos test rules: --run {r:?} is not a valid regular expression: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let mut ok = true;
    for f in files {
        println!("Unit Testing:  {}", f.display());
        match pharos::rules::unittest::run_file(f, &patterns) {
            Ok(()) => println!("  SUCCESS\n"),
            Err(errors) => {
                ok = false;
                println!("  FAILED:");
                for e in errors {
                    println!("{e}");
                }
                println!();
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    init_logging_as(&args.log_level, &args.log_format);
    args.warn_ignored_flags();
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            say_err!("pharos: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Parsing and evaluating a query recurse once per level of its
        // syntax tree (at most promql::prepare::MAX_DEPTH); 8 MiB, the
        // main thread's usual size, leaves room in unoptimised builds
        // too. Only touched pages cost memory.
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say_err!("pharos: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(pharos::serve::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say_err!("pharos: {e:#}");
            ExitCode::FAILURE
        }
    }
}
