//! `remote_read`: remote stores queries may read from.

use std::collections::BTreeMap;
use std::time::Duration;

use pharos_agent::config::decode::{Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::{decode_http_inline, url_and_headers, HttpClientConfig};

/// One entry of `remote_read`.
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteReadConfig {
    pub url: String,
    pub name: Option<String>,
    /// Default 1m.
    pub remote_timeout: Duration,
    pub headers: BTreeMap<String, String>,
    pub required_matchers: BTreeMap<String, String>,
    pub read_recent: bool,
    /// Default true.
    pub filter_external_labels: bool,
    pub http: HttpClientConfig,
}

pub(super) fn decode_remote_read(ctx: &mut Ctx, n: &Node) -> Option<RemoteReadConfig> {
    let mut m = MapReader::open(ctx, n, "remote_read config", "config.plain")?;
    let (url, headers) = url_and_headers(ctx, &mut m, "remote_read");
    let (http, _) = decode_http_inline(ctx, &mut m);
    let c = RemoteReadConfig {
        url,
        name: m.string(ctx, "name").filter(|s| !s.is_empty()),
        remote_timeout: m
            .duration(ctx, "remote_timeout")
            .unwrap_or(Duration::from_secs(60)),
        headers,
        required_matchers: m.string_map(ctx, "required_matchers"),
        read_recent: m.bool(ctx, "read_recent").unwrap_or(false),
        filter_external_labels: m.bool(ctx, "filter_external_labels").unwrap_or(true),
        http,
    };
    m.finish(ctx);
    Some(c)
}
