//! The smaller top-level sections: `storage`, `tracing`, `otlp`, `runtime`.

use std::collections::BTreeMap;
use std::time::Duration;

use pharos_agent::config::decode::{Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::{check_headers, decode_tls, TlsConfig};

/// `storage`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageConfig {
    pub tsdb: Option<TsdbConfig>,
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.tsdb`. Retention set here overrides the command-line flags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TsdbConfig {
    pub out_of_order_time_window: Duration,
    pub stale_series_compaction_threshold: f64,
    /// `xor` or `xor2`, if set.
    pub chunk_encoding_floats: Option<String>,
    pub retention_time: Option<Duration>,
    /// Bytes.
    pub retention_size: Option<u64>,
    /// Percent of the disk, 0..=100.
    pub retention_percentage: Option<f64>,
}

/// `storage.exemplars`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExemplarsConfig {
    pub max_exemplars: i64,
}

/// `tracing` (OpenTelemetry export of pharos's own spans).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TracingConfig {
    /// `grpc` (default) or `http`.
    pub client_type: String,
    pub endpoint: String,
    pub sampling_fraction: f64,
    pub insecure: bool,
    pub headers: BTreeMap<String, String>,
    pub compression: Option<String>,
    /// Default 10s.
    pub timeout: Duration,
    pub tls_config: TlsConfig,
}

/// `otlp` (how OTLP-ingested data is translated).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OtlpConfig {
    pub promote_resource_attributes: Vec<String>,
    pub promote_all_resource_attributes: bool,
    pub ignore_resource_attributes: Vec<String>,
    pub translation_strategy: String,
    pub keep_identifying_resource_attributes: bool,
    pub convert_histograms_to_nhcb: bool,
    pub promote_scope_metadata: bool,
    pub label_name_underscore_sanitization: bool,
    pub label_name_preserve_multiple_underscores: bool,
}

/// `runtime`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeConfig {
    /// Go's GC target; accepted for compatibility, meaningless to pharos.
    pub gogc: Option<i64>,
}

pub(super) fn decode_storage(ctx: &mut Ctx, n: &Node) -> StorageConfig {
    let mut s = StorageConfig::default();
    let Some(mut m) = MapReader::open(ctx, n, "storage config", "config.StorageConfig") else {
        return s;
    };
    if let Some(t) = m.take("tsdb") {
        s.tsdb = decode_tsdb(ctx, t);
    }
    if let Some(e) = m.take("exemplars") {
        if let Some(mut em) = MapReader::open(ctx, e, "exemplars config", "config.ExemplarsConfig")
        {
            s.exemplars = Some(ExemplarsConfig {
                max_exemplars: em.i64(ctx, "max_exemplars").unwrap_or(100_000),
            });
            em.finish(ctx);
        }
    }
    m.finish(ctx);
    s
}

fn decode_tsdb(ctx: &mut Ctx, n: &Node) -> Option<TsdbConfig> {
    let mut m = MapReader::open(ctx, n, "tsdb config", "config.plain")?;
    let mut t = TsdbConfig {
        out_of_order_time_window: m
            .duration(ctx, "out_of_order_time_window")
            .unwrap_or_default(),
        stale_series_compaction_threshold: m
            .f64(ctx, "stale_series_compaction_threshold")
            .unwrap_or(0.0),
        ..TsdbConfig::default()
    };
    if let Some(c) = m.take("chunk_encoding") {
        if let Some(mut cm) = MapReader::open(ctx, c, "chunk_encoding", "config.plain") {
            if let Some(f) = cm.string(ctx, "floats") {
                if f != "xor" && f != "xor2" {
                    ctx.err(
                        cm.key_line("floats"),
                        format!("'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got {f:?}"),
                    );
                }
                t.chunk_encoding_floats = Some(f);
            }
            cm.finish(ctx);
        }
    }
    if let Some(r) = m.take("retention") {
        if let Some(mut rm) = MapReader::open(ctx, r, "retention", "config.plain") {
            t.retention_time = rm.duration(ctx, "time");
            if let Some(size) = rm.size(ctx, "size") {
                if size < 0 {
                    ctx.err(
                        rm.key_line("size"),
                        "'storage.tsdb.retention.size' must be greater than or equal to 0",
                    );
                } else {
                    t.retention_size = Some(size as u64);
                }
            }
            if let Some(p) = rm.f64(ctx, "percentage") {
                if !(0.0..=100.0).contains(&p) {
                    ctx.err(
                        rm.key_line("percentage"),
                        "'storage.tsdb.retention.percentage' must be in the range [0, 100]",
                    );
                } else {
                    t.retention_percentage = Some(p);
                }
            }
            rm.finish(ctx);
        }
    }
    m.finish(ctx);
    Some(t)
}

pub(super) fn decode_tracing(ctx: &mut Ctx, n: &Node) -> TracingConfig {
    let mut t = TracingConfig {
        client_type: "grpc".into(),
        timeout: Duration::from_secs(10),
        ..TracingConfig::default()
    };
    let Some(mut m) = MapReader::open(ctx, n, "tracing config", "config.plain") else {
        return t;
    };
    if let Some(c) = m.string(ctx, "client_type").filter(|s| !s.is_empty()) {
        if c != "grpc" && c != "http" {
            ctx.err(
                m.key_line("client_type"),
                format!("unknown tracing client type: {c}"),
            );
        }
        t.client_type = c;
    }
    t.endpoint = m.string(ctx, "endpoint").unwrap_or_default();
    t.sampling_fraction = m.f64(ctx, "sampling_fraction").unwrap_or(0.0);
    t.insecure = m.bool(ctx, "insecure").unwrap_or(false);
    t.headers = m.string_map(ctx, "headers");
    check_headers(
        ctx,
        m.key_line("headers"),
        &t.headers,
        "authorization header configuration is not yet supported",
    );
    t.compression = m.string(ctx, "compression").filter(|s| !s.is_empty());
    if let Some(c) = &t.compression {
        if c != "gzip" {
            ctx.err(
                m.key_line("compression"),
                format!("invalid compression type {c} provided, valid options: gzip"),
            );
        }
    }
    if let Some(d) = m.duration(ctx, "timeout") {
        t.timeout = d;
    }
    if let Some(tls) = m.take("tls_config") {
        t.tls_config = decode_tls(ctx, tls);
    }
    if t.endpoint.is_empty() {
        ctx.err(m.line, "tracing endpoint must be set");
    }
    m.finish(ctx);
    t
}

pub(super) fn decode_otlp(ctx: &mut Ctx, n: &Node) -> OtlpConfig {
    let mut o = OtlpConfig {
        translation_strategy: "UnderscoreEscapingWithSuffixes".into(),
        ..OtlpConfig::default()
    };
    let Some(mut m) = MapReader::open(ctx, n, "otlp config", "config.plain") else {
        return o;
    };
    let line = m.line;
    let attrs = |ctx: &mut Ctx, m: &mut MapReader, key: &str| -> Vec<String> {
        let kl = m.key_line(key);
        let mut out: Vec<String> = Vec::new();
        for a in m.strings(ctx, key) {
            let a = a.trim().to_string();
            if a.is_empty() {
                ctx.err(kl, format!("empty {key} OTel resource attribute"));
            } else if out.contains(&a) {
                ctx.err(
                    kl,
                    format!("duplicated {key} OTel resource attribute {a:?}"),
                );
            } else {
                out.push(a);
            }
        }
        out
    };
    o.promote_resource_attributes = attrs(ctx, &mut m, "promote_resource_attributes");
    o.ignore_resource_attributes = attrs(ctx, &mut m, "ignore_resource_attributes");
    o.promote_all_resource_attributes = m
        .bool(ctx, "promote_all_resource_attributes")
        .unwrap_or(false);
    if let Some(s) = m
        .string(ctx, "translation_strategy")
        .filter(|s| !s.is_empty())
    {
        const STRATEGIES: &[&str] = &[
            "UnderscoreEscapingWithSuffixes",
            "UnderscoreEscapingWithoutSuffixes",
            "NoUTF8EscapingWithSuffixes",
            "NoTranslation",
        ];
        if !STRATEGIES.contains(&s.as_str()) {
            ctx.err(
                m.key_line("translation_strategy"),
                format!("unsupported OTLP translation strategy {s:?}"),
            );
        }
        o.translation_strategy = s;
    }
    o.keep_identifying_resource_attributes = m
        .bool(ctx, "keep_identifying_resource_attributes")
        .unwrap_or(false);
    o.convert_histograms_to_nhcb = m.bool(ctx, "convert_histograms_to_nhcb").unwrap_or(false);
    o.promote_scope_metadata = m.bool(ctx, "promote_scope_metadata").unwrap_or(false);
    o.label_name_underscore_sanitization = m
        .bool(ctx, "label_name_underscore_sanitization")
        .unwrap_or(false);
    o.label_name_preserve_multiple_underscores = m
        .bool(ctx, "label_name_preserve_multiple_underscores")
        .unwrap_or(false);
    if o.promote_all_resource_attributes && !o.promote_resource_attributes.is_empty() {
        ctx.err(
            line,
            "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously",
        );
    }
    if !o.promote_all_resource_attributes && !o.ignore_resource_attributes.is_empty() {
        ctx.err(
            line,
            "'ignore_resource_attributes' can only be set when 'promote_all_resource_attributes' is true",
        );
    }
    m.finish(ctx);
    o
}

pub(super) fn decode_runtime(ctx: &mut Ctx, n: &Node) -> RuntimeConfig {
    let mut r = RuntimeConfig::default();
    if let Some(mut m) = MapReader::open(ctx, n, "runtime config", "config.RuntimeConfig") {
        r.gogc = m.i64(ctx, "gogc");
        m.finish(ctx);
    }
    r
}
