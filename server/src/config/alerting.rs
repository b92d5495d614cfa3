//! `alerting`: the Alertmanagers rule alerts are sent to, and how the
//! alerts are relabelled first.

use std::time::Duration;

use pharos_agent::config::decode::{self, Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::{
    decode_discovery, decode_http_inline, decode_sigv4, relabel_list, FileSdConfig,
    HttpClientConfig, SigV4Config, TargetGroup,
};
use pharos_agent::relabel::RelabelConfig;

/// `alerting`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertingConfig {
    pub alert_relabel_configs: Vec<RelabelConfig>,
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

/// One entry of `alerting.alertmanagers`.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertmanagerConfig {
    /// Default `http`.
    pub scheme: String,
    pub path_prefix: String,
    /// Default 10s.
    pub timeout: Duration,
    /// Only `v2` exists in Prometheus 3.
    pub api_version: String,
    pub http: HttpClientConfig,
    pub sigv4: Option<SigV4Config>,
    pub static_configs: Vec<TargetGroup>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub unsupported_sd: Vec<String>,
    pub relabel_configs: Vec<RelabelConfig>,
    pub alert_relabel_configs: Vec<RelabelConfig>,
}

pub(super) fn decode_alerting(ctx: &mut Ctx, n: &Node) -> AlertingConfig {
    let mut a = AlertingConfig::default();
    let Some(mut m) = MapReader::open(ctx, n, "alerting config", "config.AlertingConfig") else {
        return a;
    };
    a.alert_relabel_configs = relabel_list(
        ctx,
        &mut m,
        "alert_relabel_configs",
        "empty or null alert relabeling rule",
    );
    if let Some(list) = m.value("alertmanagers") {
        for (i, item) in decode::seq(ctx, list, "alertmanagers").iter().enumerate() {
            if item.is_null() {
                ctx.err(item.line, "empty or null alert manager config");
                continue;
            }
            if let Some(am) = decode_alertmanager(ctx, item, i) {
                a.alertmanagers.push(am);
            }
        }
    }
    m.finish(ctx);
    a
}

fn decode_alertmanager(ctx: &mut Ctx, n: &Node, index: usize) -> Option<AlertmanagerConfig> {
    let mut m = MapReader::open(ctx, n, "alertmanager config", "config.plain")?;
    let api_version = m.string(ctx, "api_version").unwrap_or_else(|| "v2".into());
    if api_version != "v2" {
        ctx.err(
            m.key_line("api_version"),
            format!("expected Alertmanager api version to be one of [v2] but got {api_version}"),
        );
    }
    let (http, keys) = decode_http_inline(ctx, &mut m);
    let sigv4 = m.value("sigv4").and_then(|s| decode_sigv4(ctx, s));
    if sigv4.is_some() && (keys.basic_auth || keys.authorization || keys.oauth2 || keys.bearer) {
        ctx.err(
            m.key_line("sigv4"),
            "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured",
        );
    }
    let d = decode_discovery(ctx, &mut m, &format!("alertmanager config #{}", index + 1));
    let am = AlertmanagerConfig {
        scheme: m.string(ctx, "scheme").unwrap_or_else(|| "http".into()),
        path_prefix: m.string(ctx, "path_prefix").unwrap_or_default(),
        timeout: m
            .duration(ctx, "timeout")
            .unwrap_or(Duration::from_secs(10)),
        api_version,
        http,
        sigv4,
        static_configs: d.static_configs,
        file_sd_configs: d.file_sd_configs,
        unsupported_sd: d.unsupported,
        relabel_configs: relabel_list(
            ctx,
            &mut m,
            "relabel_configs",
            "empty or null Alertmanager target relabeling rule",
        ),
        alert_relabel_configs: relabel_list(
            ctx,
            &mut m,
            "alert_relabel_configs",
            "empty or null Alertmanager alert relabeling rule",
        ),
    };
    m.finish(ctx);
    Some(am)
}
