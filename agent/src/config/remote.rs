//! `remote_write`: where samples are sent, and the pieces the server's
//! `remote_read` and `alerting` sections share with it (URL and header
//! checks, SigV4).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::relabel::RelabelConfig;

use super::decode::{self, Ctx, MapReader};
use super::http::{self, HttpClientConfig, Secret};
use super::scrape::relabel_list;
use super::yaml::Node;

/// AWS Signature V4 request signing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SigV4Config {
    pub region: Option<String>,
    pub access_key: Option<String>,
    pub secret_key: Option<Secret>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub use_fips_sts_endpoint: bool,
}

/// One entry of `remote_write`.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteWriteConfig {
    pub url: String,
    pub name: Option<String>,
    /// Default 30s.
    pub remote_timeout: Duration,
    pub headers: BTreeMap<String, String>,
    pub write_relabel_configs: Vec<RelabelConfig>,
    /// `prometheus.WriteRequest` (1.0, default) or
    /// `io.prometheus.write.v2.Request` (2.0).
    pub protobuf_message: String,
    pub send_exemplars: bool,
    pub send_native_histograms: bool,
    pub round_robin_dns: bool,
    pub http: HttpClientConfig,
    pub sigv4: Option<SigV4Config>,
    /// Azure AD and Google IAM settings, flattened to dotted keys
    /// (`managed_identity.client_id`): accepted, not used by pharos.
    pub azuread: Option<BTreeMap<String, String>>,
    pub google_iam: Option<BTreeMap<String, String>>,
    pub queue_config: QueueConfig,
    pub metadata_config: MetadataConfig,
}

/// `remote_write[].queue_config`; defaults as Prometheus.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueConfig {
    pub capacity: u64,
    pub max_shards: u64,
    pub min_shards: u64,
    pub max_samples_per_send: u64,
    pub batch_send_deadline: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub retry_on_http_429: bool,
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: false,
            sample_age_limit: Duration::ZERO,
        }
    }
}

/// `remote_write[].metadata_config`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetadataConfig {
    pub send: bool,
    pub send_interval: Duration,
    pub max_samples_per_send: u64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig {
            send: true,
            send_interval: Duration::from_secs(60),
            max_samples_per_send: 2000,
        }
    }
}

/// `sigv4`: AWS Signature V4 signing (remote write, Alertmanagers).
pub fn decode_sigv4(ctx: &mut Ctx, n: &Node) -> Option<SigV4Config> {
    let mut m = MapReader::open(ctx, n, "sigv4", "sigv4.SigV4Config")?;
    let s = SigV4Config {
        region: m.string(ctx, "region"),
        access_key: m.string(ctx, "access_key"),
        secret_key: m.secret(ctx, "secret_key"),
        profile: m.string(ctx, "profile"),
        role_arn: m.string(ctx, "role_arn"),
        external_id: m.string(ctx, "external_id"),
        use_fips_sts_endpoint: m.bool(ctx, "use_fips_sts_endpoint").unwrap_or(false),
    };
    if s.access_key.is_some() != s.secret_key.is_some() {
        ctx.err(
            m.line,
            "must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config",
        );
    }
    m.finish(ctx);
    Some(s)
}

/// Nested settings flattened to `a.b` keys (for sections pharos keeps but
/// does not interpret).
fn flatten(ctx: &mut Ctx, n: &Node, prefix: &str, out: &mut BTreeMap<String, String>) {
    for (k, v) in decode::map_entries(ctx, n, prefix) {
        let Some(k) = k.as_str() else { continue };
        let key = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        match &v.kind {
            super::yaml::Kind::Map(_) => flatten(ctx, v, &key, out),
            _ => {
                let value = decode::string(ctx, v, &key).unwrap_or_default();
                out.insert(key, value);
            }
        }
    }
}

/// Headers pharos may not let a user override, as Prometheus's
/// `reservedHeaders`.
const RESERVED_HEADERS: &[&str] = &[
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
];

/// Refuses headers the client sets itself (`Authorization` gets
/// `auth_msg`), as Prometheus does for remote write, remote read and
/// tracing.
pub fn check_headers(
    ctx: &mut Ctx,
    line: usize,
    headers: &BTreeMap<String, String>,
    auth_msg: &str,
) {
    for name in headers.keys() {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" {
            ctx.err(line, auth_msg);
        } else if RESERVED_HEADERS.contains(&lower.as_str()) {
            ctx.err(
                line,
                format!("{name} is a reserved header. It must not be changed"),
            );
        }
    }
}

/// The `url` and `headers` of a remote_write or remote_read section, checked
/// alike.
pub fn url_and_headers(
    ctx: &mut Ctx,
    m: &mut MapReader,
    kind: &str,
) -> (String, BTreeMap<String, String>) {
    let url = m.url_with_query_secrets(ctx, "url").unwrap_or_default();
    if url.is_empty() {
        ctx.err(m.line, format!("url for {kind} is empty"));
    } else if let Err(e) = decode::parse_url(&url) {
        ctx.err(m.key_line("url"), format!("url: {e}"));
    }
    let headers = m.string_map(ctx, "headers");
    check_headers(
        ctx,
        m.key_line("headers"),
        &headers,
        "authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter",
    );
    (url, headers)
}

pub(crate) fn decode_remote_write(ctx: &mut Ctx, n: &Node) -> Option<RemoteWriteConfig> {
    let mut m = MapReader::open(ctx, n, "remote_write config", "config.plain")?;
    let (url, headers) = url_and_headers(ctx, &mut m, "remote_write");
    let protobuf_message = m
        .string(ctx, "protobuf_message")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "prometheus.WriteRequest".into());
    if !matches!(
        protobuf_message.as_str(),
        "prometheus.WriteRequest" | "io.prometheus.write.v2.Request"
    ) {
        ctx.err(
            m.key_line("protobuf_message"),
            format!("invalid protobuf_message value: unknown type for remote write protobuf message {protobuf_message}, supported: prometheus.WriteRequest, io.prometheus.write.v2.Request"),
        );
    }
    let (http, keys) = http::decode_inline(ctx, &mut m);
    let sigv4 = m.value("sigv4").and_then(|s| decode_sigv4(ctx, s));
    let section = |ctx: &mut Ctx, m: &mut MapReader, key: &str| {
        m.value(key).map(|v| {
            let mut out = BTreeMap::new();
            flatten(ctx, v, "", &mut out);
            out
        })
    };
    let azuread = section(ctx, &mut m, "azuread");
    let google_iam = section(ctx, &mut m, "google_iam");
    let auths = [
        keys.basic_auth,
        keys.authorization || keys.bearer,
        keys.oauth2,
        sigv4.is_some(),
        azuread.is_some(),
        google_iam.is_some(),
    ];
    if auths.iter().filter(|a| **a).count() > 1 {
        ctx.err(
            m.line,
            "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured",
        );
    }
    let queue_config = match m.value("queue_config") {
        Some(q) => decode_queue(ctx, q),
        None => QueueConfig::default(),
    };
    let metadata_config = match m.value("metadata_config") {
        Some(q) => decode_metadata(ctx, q),
        None => MetadataConfig::default(),
    };
    let c = RemoteWriteConfig {
        url,
        name: m.string(ctx, "name").filter(|s| !s.is_empty()),
        remote_timeout: m
            .duration(ctx, "remote_timeout")
            .unwrap_or(Duration::from_secs(30)),
        headers,
        write_relabel_configs: relabel_list(
            ctx,
            &mut m,
            "write_relabel_configs",
            "empty or null relabeling rule in remote write config",
        ),
        protobuf_message,
        send_exemplars: m.bool(ctx, "send_exemplars").unwrap_or(false),
        send_native_histograms: m.bool(ctx, "send_native_histograms").unwrap_or(false),
        round_robin_dns: m.bool(ctx, "round_robin_dns").unwrap_or(false),
        http,
        sigv4,
        azuread,
        google_iam,
        queue_config,
        metadata_config,
    };
    m.finish(ctx);
    Some(c)
}

fn decode_queue(ctx: &mut Ctx, n: &Node) -> QueueConfig {
    let mut q = QueueConfig::default();
    let Some(mut m) = MapReader::open(ctx, n, "queue_config", "config.QueueConfig") else {
        return q;
    };
    let line = m.line;
    // Read as signed so that `-1` gets the "must be positive" message.
    let int = |ctx: &mut Ctx, m: &mut MapReader, key: &str, dflt: u64, what: &str| match m
        .i64(ctx, key)
    {
        Some(v) if v <= 0 => {
            ctx.err(
                m.key_line(key),
                format!("remote write queue {what} must be positive"),
            );
            dflt
        }
        Some(v) => v as u64,
        None => dflt,
    };
    q.capacity = int(ctx, &mut m, "capacity", q.capacity, "capacity");
    q.max_shards = int(ctx, &mut m, "max_shards", q.max_shards, "max_shards");
    q.min_shards = int(ctx, &mut m, "min_shards", q.min_shards, "min_shards");
    q.max_samples_per_send = int(
        ctx,
        &mut m,
        "max_samples_per_send",
        q.max_samples_per_send,
        "max_samples_per_send",
    );
    if let Some(v) = m.duration(ctx, "batch_send_deadline") {
        q.batch_send_deadline = v;
    }
    if let Some(v) = m.duration(ctx, "min_backoff") {
        q.min_backoff = v;
    }
    if let Some(v) = m.duration(ctx, "max_backoff") {
        q.max_backoff = v;
    }
    if let Some(v) = m.bool(ctx, "retry_on_http_429") {
        q.retry_on_http_429 = v;
    }
    if let Some(v) = m.duration(ctx, "sample_age_limit") {
        q.sample_age_limit = v;
    }
    if q.min_shards > q.max_shards {
        ctx.err(
            line,
            "remote write queue min_shards must not be greater than max_shards",
        );
    }
    if q.max_backoff < q.min_backoff {
        ctx.err(
            line,
            "remote write queue max_backoff must not be less than min_backoff",
        );
    }
    m.finish(ctx);
    q
}

fn decode_metadata(ctx: &mut Ctx, n: &Node) -> MetadataConfig {
    let mut c = MetadataConfig::default();
    let Some(mut m) = MapReader::open(ctx, n, "metadata_config", "config.MetadataConfig") else {
        return c;
    };
    if let Some(v) = m.bool(ctx, "send") {
        c.send = v;
    }
    if let Some(v) = m.duration(ctx, "send_interval") {
        c.send_interval = v;
    }
    if let Some(v) = m.u64(ctx, "max_samples_per_send") {
        c.max_samples_per_send = v;
    }
    m.finish(ctx);
    c
}
