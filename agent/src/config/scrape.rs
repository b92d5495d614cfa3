//! `global` and `scrape_configs`: what to scrape, how often, with which
//! limits, and the relabeling rules applied to targets and samples.
//!
//! A [`ScrapeConfig`] comes out complete: every setting Prometheus inherits
//! from `global` (interval, timeout, limits, protocols, validation schemes)
//! is already filled in, so the scrape engine never looks at `global`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::relabel::{Action, RelabelConfig, RelabelRegex};

use super::decode::{self, Ctx, MapReader};
use super::http::{self, HttpClientConfig};
use super::sd::{self, FileSdConfig, TargetGroup};
use super::yaml::Node;

/// The scrape protocols Prometheus can negotiate, sorted as in its
/// messages.
pub const SCRAPE_PROTOCOLS: &[&str] = &[
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
    "PrometheusProto",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
];

/// The negotiation order when none is configured and native histograms
/// are off.
pub const DEFAULT_SCRAPE_PROTOCOLS: &[&str] = &[
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// The order when native histograms are on: protobuf first, since only it
/// carries them.
pub const PROTO_FIRST_SCRAPE_PROTOCOLS: &[&str] = &[
    "PrometheusProto",
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
];

/// `global`.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalConfig {
    /// Default 1m.
    pub scrape_interval: Duration,
    /// Default 10s (or the interval, if that is shorter).
    pub scrape_timeout: Duration,
    /// Default 1m.
    pub evaluation_interval: Duration,
    pub rule_query_offset: Duration,
    /// Sorted by name; `$VAR` references already expanded; labels whose
    /// value expands to "" are dropped.
    pub external_labels: Vec<(String, String)>,
    pub query_log_file: Option<PathBuf>,
    pub scrape_failure_log_file: Option<PathBuf>,
    /// As configured; empty means "depends on scrape_native_histograms".
    pub scrape_protocols: Vec<String>,
    /// Bytes; 0 = no limit.
    pub body_size_limit: u64,
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub target_limit: u64,
    pub keep_dropped_targets: u64,
    /// `utf8` (default) or `legacy`.
    pub metric_name_validation_scheme: String,
    /// As configured (may be empty).
    pub metric_name_escaping_scheme: String,
    pub scrape_native_histograms: bool,
    pub convert_classic_histograms_to_nhcb: bool,
    pub always_scrape_classic_histograms: bool,
    pub extra_scrape_metrics: bool,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: Duration::from_secs(60),
            scrape_timeout: Duration::from_secs(10),
            evaluation_interval: Duration::from_secs(60),
            rule_query_offset: Duration::ZERO,
            external_labels: Vec::new(),
            query_log_file: None,
            scrape_failure_log_file: None,
            scrape_protocols: Vec::new(),
            body_size_limit: 0,
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            target_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: "utf8".into(),
            metric_name_escaping_scheme: String::new(),
            scrape_native_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            always_scrape_classic_histograms: false,
            extra_scrape_metrics: false,
        }
    }
}

/// One entry of `scrape_configs`, with defaults filled from `global`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub scrape_interval: Duration,
    /// Never greater than `scrape_interval`.
    pub scrape_timeout: Duration,
    /// Negotiation order, defaults resolved.
    pub scrape_protocols: Vec<String>,
    pub fallback_scrape_protocol: Option<String>,
    pub metrics_path: String,
    pub scheme: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub track_timestamps_staleness: bool,
    pub enable_compression: bool,
    pub scrape_failure_log_file: Option<PathBuf>,
    pub http: HttpClientConfig,
    /// 0 = no limit; inherited from `global` when unset.
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    /// Bytes.
    pub body_size_limit: u64,
    pub target_limit: u64,
    pub keep_dropped_targets: u64,
    /// `utf8` or `legacy`, inherited from `global`.
    pub metric_name_validation_scheme: String,
    /// `allow-utf-8`, `underscores`, `dots` or `values`; resolved.
    pub metric_name_escaping_scheme: String,
    pub native_histogram_bucket_limit: u64,
    pub native_histogram_min_bucket_factor: f64,
    pub scrape_native_histograms: bool,
    pub convert_classic_histograms_to_nhcb: bool,
    pub always_scrape_classic_histograms: bool,
    pub extra_scrape_metrics: bool,
    pub relabel_configs: Vec<RelabelConfig>,
    pub metric_relabel_configs: Vec<RelabelConfig>,
    pub static_configs: Vec<TargetGroup>,
    pub file_sd_configs: Vec<FileSdConfig>,
    /// Keys of SD mechanisms present but not run by pharos
    /// (`"kubernetes_sd_configs"`...).
    pub unsupported_sd: Vec<String>,
}

pub(crate) fn decode_global(ctx: &mut Ctx, n: &Node) -> GlobalConfig {
    let mut g = GlobalConfig::default();
    let Some(mut m) = MapReader::open(ctx, n, "global config", "config.plain") else {
        return g;
    };
    let interval = m.duration(ctx, "scrape_interval").filter(|d| !d.is_zero());
    let timeout = m.duration(ctx, "scrape_timeout").filter(|d| !d.is_zero());
    if let Some(d) = interval {
        g.scrape_interval = d;
    }
    match timeout {
        Some(t) => {
            if t > g.scrape_interval {
                ctx.err(
                    m.key_line("scrape_timeout"),
                    "global scrape timeout greater than scrape interval",
                );
            }
            g.scrape_timeout = t;
        }
        None => g.scrape_timeout = g.scrape_timeout.min(g.scrape_interval),
    }
    if let Some(d) = m
        .duration(ctx, "evaluation_interval")
        .filter(|d| !d.is_zero())
    {
        g.evaluation_interval = d;
    }
    if let Some(d) = m.duration(ctx, "rule_query_offset") {
        g.rule_query_offset = d;
    }
    if let Some(l) = m.value("external_labels") {
        for (name, value) in sd::label_map(ctx, l, "external_labels") {
            if name == "__name__" {
                ctx.err(l.line, format!("{name:?} is a reserved label name"));
                continue;
            }
            let value = decode::expand_env(&value);
            if !value.is_empty() {
                g.external_labels.push((name, value));
            }
        }
    }
    g.query_log_file = m
        .path(ctx, "query_log_file")
        .filter(|p| !p.as_os_str().is_empty());
    g.scrape_failure_log_file = m
        .path(ctx, "scrape_failure_log_file")
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(n) = m.value("scrape_protocols") {
        g.scrape_protocols = decode::strings(ctx, n, "scrape_protocols");
        if let Err(e) = check_protocols(&g.scrape_protocols) {
            ctx.err(n.line, format!("global {e}"));
        }
    }
    g.body_size_limit = size_limit(ctx, &mut m, "body_size_limit");
    g.sample_limit = m.u64(ctx, "sample_limit").unwrap_or(0);
    g.label_limit = m.u64(ctx, "label_limit").unwrap_or(0);
    g.label_name_length_limit = m.u64(ctx, "label_name_length_limit").unwrap_or(0);
    g.label_value_length_limit = m.u64(ctx, "label_value_length_limit").unwrap_or(0);
    g.target_limit = m.u64(ctx, "target_limit").unwrap_or(0);
    g.keep_dropped_targets = m.u64(ctx, "keep_dropped_targets").unwrap_or(0);
    if let Some(v) = validation_scheme(ctx, &mut m) {
        g.metric_name_validation_scheme = v;
    }
    g.metric_name_escaping_scheme = escaping_scheme(ctx, &mut m).unwrap_or_default();
    if g.metric_name_validation_scheme == "legacy" && g.metric_name_escaping_scheme == "allow-utf-8"
    {
        ctx.err(
            m.key_line("metric_name_escaping_scheme"),
            "utf8 metric names requested but validation scheme is not set to UTF8",
        );
    }
    g.scrape_native_histograms = m.bool(ctx, "scrape_native_histograms").unwrap_or(false);
    g.convert_classic_histograms_to_nhcb = m
        .bool(ctx, "convert_classic_histograms_to_nhcb")
        .unwrap_or(false);
    g.always_scrape_classic_histograms = m
        .bool(ctx, "always_scrape_classic_histograms")
        .unwrap_or(false);
    g.extra_scrape_metrics = m.bool(ctx, "extra_scrape_metrics").unwrap_or(false);
    m.finish(ctx);
    g.external_labels.sort();
    g
}

fn size_limit(ctx: &mut Ctx, m: &mut MapReader, key: &str) -> u64 {
    match m.size(ctx, key) {
        Some(v) if v < 0 => {
            ctx.err(m.key_line(key), format!("{key} must not be negative"));
            0
        }
        Some(v) => v as u64,
        None => 0,
    }
}

fn validation_scheme(ctx: &mut Ctx, m: &mut MapReader) -> Option<String> {
    let key = "metric_name_validation_scheme";
    let v = m.string(ctx, key)?;
    match v.as_str() {
        "" => None,
        "utf8" | "legacy" => Some(v),
        _ => {
            ctx.err(
                m.key_line(key),
                format!("unrecognized ValidationScheme: {v:?}"),
            );
            None
        }
    }
}

fn escaping_scheme(ctx: &mut Ctx, m: &mut MapReader) -> Option<String> {
    let key = "metric_name_escaping_scheme";
    let v = m.string(ctx, key)?;
    match v.as_str() {
        "" => None,
        "allow-utf-8" | "underscores" | "dots" | "values" => Some(v),
        _ => {
            ctx.err(
                m.key_line(key),
                format!("unknown name escaping method {v:?}, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values'"),
            );
            None
        }
    }
}

fn check_protocols(ps: &[String]) -> Result<(), String> {
    for p in ps {
        if !SCRAPE_PROTOCOLS.contains(&p.as_str()) {
            return Err(format!(
                "scrape_protocols: unknown scrape protocol {p}, supported: [{}]",
                SCRAPE_PROTOCOLS.join(" ")
            ));
        }
    }
    for (i, p) in ps.iter().enumerate() {
        if ps[..i].contains(p) {
            return Err(format!(
                "duplicated protocol in scrape_protocols, got [{}]",
                ps.join(" ")
            ));
        }
    }
    Ok(())
}

/// Decodes one scrape config; `None` when it is not a mapping. Errors are
/// recorded in `ctx` (the loader fails if there are any).
pub(crate) fn decode_scrape(ctx: &mut Ctx, n: &Node, g: &GlobalConfig) -> Option<ScrapeConfig> {
    let mut m = MapReader::open(ctx, n, "scrape config", "config.plain")?;
    let job_name = m.string(ctx, "job_name").unwrap_or_default();
    if job_name.is_empty() {
        ctx.err(m.line, "job_name is empty");
    }
    let job_q = format!("{job_name:?}");
    let owner = format!("job {job_q}");

    let interval = m.duration(ctx, "scrape_interval").filter(|d| !d.is_zero());
    let timeout = m.duration(ctx, "scrape_timeout").filter(|d| !d.is_zero());
    let scrape_interval = interval.unwrap_or(g.scrape_interval);
    let scrape_timeout = match timeout {
        Some(t) => {
            if t > scrape_interval {
                ctx.err(
                    m.key_line("scrape_timeout"),
                    format!("scrape timeout greater than scrape interval for scrape config with job name {job_q}"),
                );
            }
            t
        }
        None => g.scrape_timeout.min(scrape_interval),
    };

    let native = m
        .bool(ctx, "scrape_native_histograms")
        .unwrap_or(g.scrape_native_histograms);
    let mut scrape_protocols = Vec::new();
    if let Some(p) = m.value("scrape_protocols") {
        scrape_protocols = decode::strings(ctx, p, "scrape_protocols");
        if let Err(e) = check_protocols(&scrape_protocols) {
            ctx.err(
                p.line,
                format!("{e} for scrape config with job name {job_q}"),
            );
        }
    }
    if scrape_protocols.is_empty() {
        scrape_protocols = if !g.scrape_protocols.is_empty() {
            g.scrape_protocols.clone()
        } else if native {
            PROTO_FIRST_SCRAPE_PROTOCOLS
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            DEFAULT_SCRAPE_PROTOCOLS
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
    }
    let fallback_scrape_protocol = m
        .string(ctx, "fallback_scrape_protocol")
        .filter(|s| !s.is_empty());
    if let Some(p) = &fallback_scrape_protocol {
        if !SCRAPE_PROTOCOLS.contains(&p.as_str()) {
            ctx.err(
                m.key_line("fallback_scrape_protocol"),
                format!(
                    "invalid fallback_scrape_protocol for scrape config with job name {job_q}: unknown scrape protocol {p}, supported: [{}]",
                    SCRAPE_PROTOCOLS.join(" ")
                ),
            );
        }
    }

    let mut params = BTreeMap::new();
    if let Some(p) = m.value("params") {
        for (k, v) in decode::map_entries(ctx, p, "params") {
            if let Some(k) = k.as_str() {
                params.insert(k.to_string(), decode::strings(ctx, v, "params"));
            }
        }
    }

    let validation =
        validation_scheme(ctx, &mut m).unwrap_or_else(|| g.metric_name_validation_scheme.clone());
    let escaping = escaping_scheme(ctx, &mut m)
        .or_else(|| Some(g.metric_name_escaping_scheme.clone()).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| {
            if validation == "legacy" {
                "underscores"
            } else {
                "allow-utf-8"
            }
            .to_string()
        });
    if validation == "legacy" && escaping == "allow-utf-8" {
        ctx.err(
            m.line,
            "utf8 metric names requested but validation scheme is not set to UTF8",
        );
    }

    let (http, _) = http::decode_inline(ctx, &mut m);
    let discovery = sd::decode_discovery(ctx, &mut m, &owner);
    let limit = |ctx: &mut Ctx, m: &mut MapReader, key: &str, global: u64| {
        m.u64(ctx, key).filter(|v| *v != 0).unwrap_or(global)
    };
    let body_size_limit = match size_limit(ctx, &mut m, "body_size_limit") {
        0 => g.body_size_limit,
        v => v,
    };
    let c = ScrapeConfig {
        scrape_interval,
        scrape_timeout,
        scrape_protocols,
        fallback_scrape_protocol,
        metrics_path: m
            .string(ctx, "metrics_path")
            .unwrap_or_else(|| "/metrics".into()),
        scheme: m.string(ctx, "scheme").unwrap_or_else(|| "http".into()),
        params,
        honor_labels: m.bool(ctx, "honor_labels").unwrap_or(false),
        honor_timestamps: m.bool(ctx, "honor_timestamps").unwrap_or(true),
        track_timestamps_staleness: m.bool(ctx, "track_timestamps_staleness").unwrap_or(false),
        enable_compression: m.bool(ctx, "enable_compression").unwrap_or(true),
        scrape_failure_log_file: m
            .path(ctx, "scrape_failure_log_file")
            .filter(|p| !p.as_os_str().is_empty())
            .or_else(|| g.scrape_failure_log_file.clone()),
        http,
        sample_limit: limit(ctx, &mut m, "sample_limit", g.sample_limit),
        label_limit: limit(ctx, &mut m, "label_limit", g.label_limit),
        label_name_length_limit: limit(
            ctx,
            &mut m,
            "label_name_length_limit",
            g.label_name_length_limit,
        ),
        label_value_length_limit: limit(
            ctx,
            &mut m,
            "label_value_length_limit",
            g.label_value_length_limit,
        ),
        body_size_limit,
        target_limit: limit(ctx, &mut m, "target_limit", g.target_limit),
        keep_dropped_targets: limit(ctx, &mut m, "keep_dropped_targets", g.keep_dropped_targets),
        metric_name_validation_scheme: validation,
        metric_name_escaping_scheme: escaping,
        native_histogram_bucket_limit: m.u64(ctx, "native_histogram_bucket_limit").unwrap_or(0),
        native_histogram_min_bucket_factor: m
            .f64(ctx, "native_histogram_min_bucket_factor")
            .unwrap_or(0.0),
        scrape_native_histograms: native,
        convert_classic_histograms_to_nhcb: m
            .bool(ctx, "convert_classic_histograms_to_nhcb")
            .unwrap_or(g.convert_classic_histograms_to_nhcb),
        always_scrape_classic_histograms: m
            .bool(ctx, "always_scrape_classic_histograms")
            .unwrap_or(g.always_scrape_classic_histograms),
        extra_scrape_metrics: m
            .bool(ctx, "extra_scrape_metrics")
            .unwrap_or(g.extra_scrape_metrics),
        relabel_configs: relabel_list(
            ctx,
            &mut m,
            "relabel_configs",
            "empty or null target relabeling rule",
        ),
        metric_relabel_configs: relabel_list(
            ctx,
            &mut m,
            "metric_relabel_configs",
            "empty or null metric relabeling rule",
        ),
        static_configs: discovery.static_configs,
        file_sd_configs: discovery.file_sd_configs,
        unsupported_sd: discovery.unsupported,
        job_name,
    };
    m.finish(ctx);
    Some(c)
}

/// Decodes the relabel rules under `key` of `m`. `empty` is the message for
/// a null rule (Prometheus words it differently per list).
pub fn relabel_list(
    ctx: &mut Ctx,
    m: &mut MapReader,
    key: &str,
    empty: &str,
) -> Vec<RelabelConfig> {
    let Some(n) = m.value(key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in decode::seq(ctx, n, key) {
        if item.is_null() {
            ctx.err(item.line, empty);
            continue;
        }
        if let Some(r) = decode_relabel(ctx, item) {
            out.push(r);
        }
    }
    out
}

fn decode_relabel(ctx: &mut Ctx, n: &Node) -> Option<RelabelConfig> {
    let mut m = MapReader::open(ctx, n, "relabel config", "relabel.plain")?;
    let mut r = RelabelConfig::new(Action::Replace);
    let mut ok = true;
    if let Some(a) = m.take("action") {
        match decode::string(ctx, a, "action")
            .unwrap_or_default()
            .as_str()
        {
            "" => {
                ctx.err(a.line, "relabel action cannot be empty");
                ok = false;
            }
            s => match s.parse::<Action>() {
                Ok(action) => r.action = action,
                Err(e) => {
                    ctx.err(a.line, e);
                    ok = false;
                }
            },
        }
    }
    if let Some(v) = m.value("source_labels") {
        r.source_labels = decode::strings(ctx, v, "source_labels");
    }
    if let Some(v) = m.string(ctx, "separator") {
        r.separator = v;
    }
    // An explicit `regex:` with no value is the empty regex, not the
    // default (Prometheus behaves so).
    if let Some(v) = m.take("regex") {
        let src = decode::string(ctx, v, "regex").unwrap_or_default();
        match RelabelRegex::new(&src) {
            Ok(re) => r.regex = re,
            Err(e) => {
                ctx.err(v.line, format!("error parsing regexp: {e}"));
                ok = false;
            }
        }
    }
    if let Some(v) = m.u64(ctx, "modulus") {
        r.modulus = v;
    }
    if let Some(v) = m.string(ctx, "target_label") {
        r.target_label = v;
    }
    if let Some(v) = m.string(ctx, "replacement") {
        r.replacement = v;
    }
    m.finish(ctx);
    if ok {
        if let Err(e) = r.validate() {
            ctx.err(n.line, e);
            ok = false;
        }
    }
    ok.then_some(r)
}
