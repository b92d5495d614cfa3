//! Service discovery sections (`*_sd_configs`, `static_configs`).
//!
//! pharos discovers targets from `static_configs` and `file_sd_configs`
//! only. Every other mechanism Prometheus knows is accepted so that an
//! existing `prometheus.yml` loads unchanged; it is validated as far as
//! Prometheus validates it at load time (required fields, enums, URL shape,
//! HTTP client options), reported as a warning, and discovers nothing.
//! Keys inside those sections are not checked for typos: they are kept
//! loosely typed, apart from the nested structures whose checks matter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::decode::{self, Ctx, MapReader};
use super::http;
use super::yaml::Node;
use super::ConfigErrors;

/// Every SD mechanism Prometheus's `scrape_config` accepts besides
/// `static_configs` and `file_sd_configs`, by YAML key prefix.
pub const UNSUPPORTED_SD: &[&str] = &[
    "aws",
    "azure",
    "consul",
    "digitalocean",
    "docker",
    "dockerswarm",
    "dns",
    "ec2",
    "eureka",
    "gce",
    "hetzner",
    "http",
    "ionos",
    "kubernetes",
    "kuma",
    "lightsail",
    "linode",
    "marathon",
    "nerve",
    "nomad",
    "oci",
    "openstack",
    "outscale",
    "ovhcloud",
    "puppetdb",
    "scaleway",
    "serverset",
    "stackit",
    "triton",
    "uyuni",
    "vultr",
];

/// A group of targets sharing labels, as in `static_configs` and file SD.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// `host:port` addresses.
    pub targets: Vec<String>,
    /// Labels added to every target of the group.
    pub labels: BTreeMap<String, String>,
    /// Identifies the group within its provider (the index for static
    /// configs, as in Prometheus).
    pub source: String,
}

/// `file_sd_configs` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSdConfig {
    /// File names or globs (`*` in the last path element), resolved against
    /// the config file's directory.
    pub files: Vec<PathBuf>,
    /// How often files are re-read besides on change; default 5m.
    pub refresh_interval: Duration,
}

/// What the SD keys of one scrape job or Alertmanager set yielded.
#[derive(Default)]
pub struct Discovery {
    pub static_configs: Vec<TargetGroup>,
    pub file_sd_configs: Vec<FileSdConfig>,
    pub unsupported: Vec<String>,
}

/// Takes every `*_sd_configs` and `static_configs` key from `m`. `owner`
/// names the job in warnings (`job "x"`).
pub fn decode_discovery(ctx: &mut Ctx, m: &mut MapReader, owner: &str) -> Discovery {
    let mut d = Discovery::default();
    if let Some(n) = m.value("static_configs") {
        for (i, item) in decode::seq(ctx, n, "static_configs").iter().enumerate() {
            if item.is_null() {
                ctx.err(item.line, "empty or null section in static_configs");
                continue;
            }
            if let Some(tg) = decode_target_group(ctx, item, i) {
                d.static_configs.push(tg);
            }
        }
    }
    if let Some(n) = m.value("file_sd_configs") {
        for item in decode::seq(ctx, n, "file_sd_configs") {
            if item.is_null() {
                ctx.err(item.line, "empty or null section in file_sd_configs");
                continue;
            }
            if let Some(f) = decode_file_sd(ctx, item) {
                d.file_sd_configs.push(f);
            }
        }
    }
    for name in UNSUPPORTED_SD {
        let key = format!("{name}_sd_configs");
        let Some(n) = m.take(&key) else { continue };
        for item in decode::seq(ctx, n, &key) {
            if item.is_null() {
                ctx.err(item.line, format!("empty or null section in {key}"));
                continue;
            }
            check_unsupported(ctx, name, item);
        }
        ctx.warnings.push(format!(
            "{owner}: {key} is not supported by pharos; its targets will not be discovered"
        ));
        d.unsupported.push(key);
    }
    d
}

/// Reads a `file_sd_configs` target file: a list of target groups in YAML
/// or JSON (which the YAML reader takes as it is), each checked as a
/// `static_configs` entry is — except addresses, which, as in Prometheus,
/// are checked per target when it is scraped, so one bad address does not
/// refuse the whole file.
pub fn parse_target_groups(text: &str, file_name: &str) -> Result<Vec<TargetGroup>, ConfigErrors> {
    let mut ctx = Ctx::new(file_name, Path::new("."));
    let mut groups = Vec::new();
    if let Some(root) = super::parse_tree(&mut ctx, text) {
        for (i, item) in decode::seq(&mut ctx, &root, "target groups")
            .iter()
            .enumerate()
        {
            if let Some(tg) = target_group(&mut ctx, item, i, false) {
                groups.push(tg);
            }
        }
    }
    if ctx.errors.is_empty() {
        Ok(groups)
    } else {
        Err(ConfigErrors(ctx.errors))
    }
}

fn decode_target_group(ctx: &mut Ctx, n: &Node, index: usize) -> Option<TargetGroup> {
    target_group(ctx, n, index, true)
}

fn target_group(
    ctx: &mut Ctx,
    n: &Node,
    index: usize,
    check_addresses: bool,
) -> Option<TargetGroup> {
    let mut m = MapReader::open(ctx, n, "static config", "targetgroup.Group")?;
    let mut tg = TargetGroup {
        source: index.to_string(),
        ..TargetGroup::default()
    };
    if let Some(t) = m.value("targets") {
        for item in decode::seq(ctx, t, "targets") {
            let Some(target) = decode::string(ctx, item, "targets") else {
                continue;
            };
            // Prometheus's CheckTargetAddress: a scheme or path here is a
            // common mistake (the scheme belongs in `scheme`).
            if check_addresses && target.contains('/') {
                ctx.err(item.line, format!("{target:?} is not a valid hostname"));
                continue;
            }
            tg.targets.push(target);
        }
    }
    if let Some(l) = m.value("labels") {
        tg.labels = label_map(ctx, l, "labels");
    }
    m.finish(ctx);
    Some(tg)
}

/// A label-name-to-value mapping, with Prometheus's checks: names non-empty
/// valid UTF-8, values valid UTF-8.
pub(crate) fn label_map(ctx: &mut Ctx, n: &Node, key: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in decode::map_entries(ctx, n, key) {
        let name = decode::scalar_bytes(k).unwrap_or_default();
        let Ok(name) = String::from_utf8(name.clone()) else {
            ctx.err(
                k.line,
                format!("{} is not a valid label name", decode::go_quote(&name)),
            );
            continue;
        };
        if !decode::is_valid_label_name(&name) {
            ctx.err(k.line, format!("{name:?} is not a valid label name"));
            continue;
        }
        let value = if v.is_null() {
            Vec::new()
        } else {
            match decode::scalar_bytes(v) {
                Some(b) => b,
                None => {
                    ctx.err(
                        v.line,
                        format!(
                            "{key}: cannot unmarshal {} into a label value",
                            v.kind_name()
                        ),
                    );
                    continue;
                }
            }
        };
        let Ok(value) = String::from_utf8(value.clone()) else {
            ctx.err(
                v.line,
                format!("{} is not a valid label value", decode::go_quote(&value)),
            );
            continue;
        };
        if out.insert(name.clone(), value).is_some() {
            ctx.err(k.line, format!("{key}: duplicate label name {name:?}"));
        }
    }
    out
}

fn decode_file_sd(ctx: &mut Ctx, n: &Node) -> Option<FileSdConfig> {
    let mut m = MapReader::open(ctx, n, "file_sd_config", "file.plain")?;
    let files = m.strings(ctx, "files");
    let refresh = m.duration(ctx, "refresh_interval");
    if files.is_empty() {
        ctx.err(
            m.line,
            "file service discovery config must contain at least one path name",
        );
    }
    for f in &files {
        if !is_file_sd_name(f) {
            ctx.err(
                m.key_line("files"),
                format!("path name {f:?} is not valid for file discovery"),
            );
        }
    }
    let cfg = FileSdConfig {
        files: files.iter().map(|f| ctx.path(f)).collect(),
        refresh_interval: refresh.unwrap_or(Duration::from_secs(300)),
    };
    m.finish(ctx);
    Some(cfg)
}

/// Prometheus's file SD name rule: a `*` only in the last path element, and
/// a `.json`/`.yml`/`.yaml` extension.
fn is_file_sd_name(f: &str) -> bool {
    let (dir, last) = f.rsplit_once('/').unwrap_or(("", f));
    if dir.contains('*') || last.matches('*').count() > 1 {
        return false;
    }
    ["json", "yml", "yaml", "JSON", "YML", "YAML"]
        .iter()
        .any(|ext| last.len() > ext.len() && last.ends_with(&format!(".{ext}")))
}

/// The load-time checks Prometheus makes on an SD mechanism pharos does not
/// run. Unknown keys inside are tolerated (see the module comment).
fn check_unsupported(ctx: &mut Ctx, name: &str, n: &Node) {
    let what: &'static str = match name {
        "kubernetes" => "kubernetes_sd_config",
        _ => "service discovery config",
    };
    let Some(mut m) = MapReader::open(ctx, n, what, "plain") else {
        return;
    };
    let line = m.line;
    let (_, keys) = http::decode_inline(ctx, &mut m);
    match name {
        "azure" => {
            let method = st(ctx, &mut m, "authentication_method");
            let method = if method.is_empty() {
                "OAuth".to_string()
            } else {
                method
            };
            let sub = st(ctx, &mut m, "subscription_id");
            let tenant = st(ctx, &mut m, "tenant_id");
            let client_id = st(ctx, &mut m, "client_id");
            let secret = st(ctx, &mut m, "client_secret");
            if sub.is_empty() {
                ctx.err(line, "azure SD configuration requires a subscription_id");
            }
            if method == "OAuth" {
                for (v, field) in [
                    (&tenant, "tenant_id"),
                    (&client_id, "client_id"),
                    (&secret, "client_secret"),
                ] {
                    if v.is_empty() {
                        ctx.err(line, format!("azure SD configuration requires a {field}"));
                    }
                }
            }
            if !matches!(
                method.as_str(),
                "OAuth" | "ManagedIdentity" | "SDK" | "WorkloadIdentity"
            ) {
                ctx.err(
                    m.key_line("authentication_method"),
                    format!("unknown authentication_type {method:?}. Supported types are \"OAuth\", \"ManagedIdentity\", \"SDK\" or \"WorkloadIdentity\""),
                );
            }
        }
        "ec2" => {
            if let Some(f) = m.value("filters") {
                for filter in decode::seq(ctx, f, "filters") {
                    let Some(mut fm) = MapReader::open(ctx, filter, "ec2 filter", "ec2.Filter")
                    else {
                        continue;
                    };
                    let _ = fm.string(ctx, "name");
                    if fm.strings(ctx, "values").is_empty() {
                        ctx.err(
                            filter.line,
                            "EC2 SD configuration filter values cannot be empty",
                        );
                    }
                    fm.finish(ctx);
                }
            }
        }
        "eureka" => {
            let server = st(ctx, &mut m, "server");
            if server.is_empty() {
                ctx.err(line, "eureka_sd: empty or null eureka server");
            } else {
                match decode::parse_url(&server) {
                    Ok(u) if !u.scheme.is_empty() && !u.host.is_empty() => {}
                    _ => ctx.err(m.key_line("server"), "eureka_sd: invalid eureka server URL"),
                }
            }
        }
        "hetzner" => match st(ctx, &mut m, "role").as_str() {
            "robot" | "hcloud" => {}
            "" => ctx.err(line, "hetzner_sd: role missing (one of: robot, hcloud)"),
            r => ctx.err(
                m.key_line("role"),
                format!("hetzner_sd: unknown role {r:?}"),
            ),
        },
        "http" | "puppetdb" => {
            let url = st(ctx, &mut m, "url");
            if url.is_empty() {
                ctx.err(line, format!("{name}_sd: URL is missing"));
            } else if let Err(e) = decode::check_http_url(&url) {
                ctx.err(m.key_line("url"), format!("{name}_sd: {e}"));
            }
            if name == "puppetdb" && st(ctx, &mut m, "query").is_empty() {
                ctx.err(line, "puppetdb_sd: query missing");
            }
        }
        "ionos" => {
            let datacenter = st(ctx, &mut m, "datacenter_id");
            if datacenter.is_empty() {
                ctx.err(line, "ionos_sd: datacenter id can't be empty");
            }
        }
        "kubernetes" => check_kubernetes(ctx, &mut m, keys),
        "kuma" => {
            let server = st(ctx, &mut m, "server");
            if server.is_empty() {
                ctx.err(line, "kuma SD server must not be empty");
            } else if let Err(e) = decode::parse_url(&server) {
                ctx.err(m.key_line("server"), format!("kuma_sd: {e}"));
            }
        }
        "marathon" => {
            let servers = m.strings(ctx, "servers");
            let token = !st(ctx, &mut m, "auth_token").is_empty();
            let token_file = !st(ctx, &mut m, "auth_token_file").is_empty();
            if servers.is_empty() {
                ctx.err(
                    line,
                    "marathon_sd: must contain at least one Marathon server",
                );
            }
            if token && token_file {
                ctx.err(
                    line,
                    "marathon_sd: at most one of auth_token & auth_token_file must be configured",
                );
            }
            let any_token = token || token_file;
            if any_token && keys.basic_auth {
                ctx.err(line, "marathon_sd: at most one of basic_auth, auth_token & auth_token_file must be configured");
            }
            if any_token && keys.bearer {
                ctx.err(line, "marathon_sd: at most one of bearer_token, bearer_token_file, auth_token & auth_token_file must be configured");
            }
            if any_token && keys.authorization {
                ctx.err(line, "marathon_sd: at most one of auth_token, auth_token_file & authorization must be configured");
            }
        }
        "nomad" => {
            let server = st(ctx, &mut m, "server");
            if server.trim().is_empty() {
                ctx.err(line, "nomad SD configuration requires a server address");
            }
        }
        "oci" => {
            let auth = st(ctx, &mut m, "auth");
            if !matches!(auth.as_str(), "" | "api_key" | "instance_principal") {
                ctx.err(
                    m.key_line("auth"),
                    format!("oci_sd: unknown auth method {auth:?}, expected \"api_key\" or \"instance_principal\""),
                );
            }
        }
        "openstack" => {
            let role = st(ctx, &mut m, "role");
            match role.as_str() {
                "instance" | "hypervisor" | "loadbalancer" => {}
                "" => ctx.err(
                    line,
                    "role missing (one of: instance, hypervisor, loadbalancer)",
                ),
                r => ctx.err(
                    m.key_line("role"),
                    format!("unknown OpenStack SD role {r:?}"),
                ),
            }
            let avail = st(ctx, &mut m, "availability");
            if !matches!(
                avail.as_str(),
                "" | "public" | "admin" | "internal" | "publicURL" | "adminURL" | "internalURL"
            ) {
                ctx.err(
                    m.key_line("availability"),
                    format!(
                        "unknown availability {avail}, must be one of admin, internal or public"
                    ),
                );
            }
            if st(ctx, &mut m, "region").is_empty() {
                ctx.err(line, "openstack SD configuration requires a region");
            }
        }
        "outscale" | "scaleway" => {
            if name == "outscale" && st(ctx, &mut m, "region").is_empty() {
                ctx.err(line, "outscale SD configuration requires a region");
            }
            if name == "scaleway" {
                match st(ctx, &mut m, "role").as_str() {
                    "instance" | "baremetal" => {}
                    "" => ctx.err(
                        line,
                        "scaleway_sd: role missing (one of: instance, baremetal)",
                    ),
                    r => ctx.err(
                        m.key_line("role"),
                        format!("scaleway_sd: unknown role {r:?}"),
                    ),
                }
                if st(ctx, &mut m, "project_id").is_empty() {
                    ctx.err(line, "scaleway_sd: project_id is mandatory");
                }
                if st(ctx, &mut m, "access_key").is_empty() {
                    ctx.err(line, "scaleway_sd: access_key is mandatory");
                }
            }
            let secret = !st(ctx, &mut m, "secret_key").is_empty();
            let secret_file = !st(ctx, &mut m, "secret_key_file").is_empty();
            if !secret && !secret_file {
                ctx.err(
                    line,
                    format!("{name}_sd: one of secret_key & secret_key_file must be configured"),
                );
            }
            if secret && secret_file {
                ctx.err(
                    line,
                    format!(
                        "{name}_sd: at most one of secret_key & secret_key_file must be configured"
                    ),
                );
            }
        }
        "ovhcloud" => {
            let service = st(ctx, &mut m, "service");
            if !matches!(service.as_str(), "vps" | "dedicated_server") {
                ctx.err(
                    m.key_line("service"),
                    format!("ovhcloud_sd: unknown service: {service}"),
                );
            }
            for (key, what) in [
                ("endpoint", "endpoint"),
                ("application_key", "application key"),
                ("application_secret", "application secret"),
                ("consumer_key", "consumer key"),
            ] {
                if st(ctx, &mut m, key).is_empty() {
                    ctx.err(line, format!("ovhcloud_sd: {what} can not be empty"));
                }
            }
        }
        "stackit" => {
            let endpoint = st(ctx, &mut m, "endpoint");
            if !endpoint.is_empty() {
                if let Err(e) = decode::parse_url(&endpoint) {
                    ctx.err(
                        m.key_line("endpoint"),
                        format!("stackit_sd: invalid endpoint {endpoint:?}: {e}"),
                    );
                }
            }
        }
        "uyuni" => {
            let server = st(ctx, &mut m, "server");
            if server.is_empty() {
                ctx.err(line, "Uyuni SD configuration requires server host");
            } else if let Err(e) = decode::parse_url(&server) {
                ctx.err(
                    m.key_line("server"),
                    format!("Uyuni SD server URL is not valid: {e}"),
                );
            }
            if st(ctx, &mut m, "username").is_empty() {
                ctx.err(line, "Uyuni SD configuration requires a username");
            }
            if st(ctx, &mut m, "password").is_empty() && !m.has("password_file") {
                ctx.err(line, "Uyuni SD configuration requires a password");
            }
        }
        "dns" => {
            if m.strings(ctx, "names").is_empty() {
                ctx.err(
                    line,
                    "DNS-SD config must contain at least one SRV record name",
                );
            }
            let kind = st(ctx, &mut m, "type");
            match kind.as_str() {
                "" | "SRV" => {}
                "A" | "AAAA" | "MX" | "NS" => {
                    if m.u64(ctx, "port").unwrap_or(0) == 0 {
                        ctx.err(
                            line,
                            "a port is required in DNS-SD configs for all record types except SRV",
                        );
                    }
                }
                t => ctx.err(
                    m.key_line("type"),
                    format!("invalid DNS-SD records type {t}"),
                ),
            }
        }
        "docker" | "dockerswarm" => {
            if st(ctx, &mut m, "host").is_empty() {
                ctx.err(line, format!("{name}_sd: host missing"));
            }
            if name == "dockerswarm" {
                match st(ctx, &mut m, "role").as_str() {
                    "nodes" | "services" | "tasks" => {}
                    r => ctx.err(
                        m.key_line("role"),
                        format!(
                            "dockerswarm_sd: invalid role {r}, expected tasks, services, or nodes"
                        ),
                    ),
                }
            }
        }
        "nerve" | "serverset" => {
            if m.strings(ctx, "servers").is_empty() {
                ctx.err(
                    line,
                    format!("{name} SD config must contain at least one Zookeeper server"),
                );
            }
            let paths = m.strings(ctx, "paths");
            if paths.is_empty() {
                ctx.err(
                    line,
                    format!("{name} SD config must contain at least one path"),
                );
            }
            for p in paths {
                if !p.starts_with('/') {
                    ctx.err(
                        m.key_line("paths"),
                        format!("{name} SD config paths must begin with '/': {p}"),
                    );
                }
            }
        }
        _ => {}
    }
    // Loosely typed: remaining keys are accepted as they are; secrets
    // among them are still hidden when the configuration is shown.
    for (key, node) in m.take_rest() {
        if SD_SECRETS.contains(&key) {
            ctx.hidden.secret(node);
        }
    }
}

/// The fields of Prometheus's service discovery configs that are of its
/// `Secret` type (beside the HTTP client's): tokens, passwords, keys.
const SD_SECRETS: &[&str] = &[
    "token",
    "password",
    "client_secret",
    "secret_key",
    "application_secret",
    "application_credential_secret",
    "consumer_key",
    "auth_token",
];

/// A string setting, empty when absent; secrets are marked as such.
fn st(ctx: &mut Ctx, m: &mut MapReader, key: &str) -> String {
    if SD_SECRETS.contains(&key) {
        return m
            .secret(ctx, key)
            .map(|s| s.expose().to_string())
            .unwrap_or_default();
    }
    m.string(ctx, key).unwrap_or_default()
}

fn check_kubernetes(ctx: &mut Ctx, m: &mut MapReader, keys: http::HttpKeys) {
    const ROLES: &[&str] = &[
        "pod",
        "service",
        "endpoints",
        "endpointslice",
        "node",
        "ingress",
    ];
    let line = m.line;
    let role = m.string(ctx, "role").unwrap_or_default();
    if role.is_empty() {
        ctx.err(
            line,
            "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
        );
    } else if !ROLES.contains(&role.as_str()) {
        ctx.err(
            m.key_line("role"),
            format!("unknown Kubernetes SD role {role:?}"),
        );
    }
    let api_server = m.string(ctx, "api_server").filter(|s| !s.is_empty());
    if let Some(url) = &api_server {
        if let Err(e) = decode::parse_url(url) {
            ctx.err(m.key_line("api_server"), format!("api_server: {e}"));
        }
    }
    let kubeconfig = m.string(ctx, "kubeconfig_file").filter(|s| !s.is_empty());
    let mut own_namespace = false;
    if let Some(n) = m.take("namespaces") {
        if let Some(mut ns) = MapReader::open(ctx, n, "kubernetes namespaces", "kubernetes.plain") {
            own_namespace = ns.bool(ctx, "own_namespace").unwrap_or(false);
            let _ = ns.strings(ctx, "names");
            ns.finish(ctx);
        }
    }
    if api_server.is_some() && kubeconfig.is_some() {
        ctx.err(
            line,
            "cannot use 'kubeconfig_file' and 'api_server' simultaneously",
        );
    }
    if kubeconfig.is_some() && keys.any {
        ctx.err(
            line,
            "cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
        );
    }
    if api_server.is_none() && keys.any {
        ctx.err(line, "to use custom HTTP client configuration please provide the 'api_server' URL explicitly");
    }
    if api_server.is_some() && own_namespace {
        ctx.err(
            line,
            "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
        );
    }
    if kubeconfig.is_some() && own_namespace {
        ctx.err(
            line,
            "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously",
        );
    }
    let Some(sel) = m.value("selectors") else {
        return;
    };
    let allowed: &[&str] = match role.as_str() {
        "pod" => &["pod", "node"],
        "service" => &["service"],
        "endpointslice" => &["pod", "service", "endpointslice"],
        "endpoints" => &["pod", "service", "endpoints"],
        "node" => &["node"],
        "ingress" => &["ingress"],
        _ => &[],
    };
    let mut seen = Vec::new();
    for item in decode::seq(ctx, sel, "selectors") {
        let Some(mut s) = MapReader::open(
            ctx,
            item,
            "kubernetes selector",
            "kubernetes.SelectorConfig",
        ) else {
            continue;
        };
        let srole = s.string(ctx, "role").unwrap_or_default();
        let _label = s.string(ctx, "label");
        let field = s.string(ctx, "field").unwrap_or_default();
        s.finish(ctx);
        if seen.contains(&srole) {
            ctx.err(item.line, format!("duplicated selector role: {srole}"));
        }
        seen.push(srole.clone());
        if !allowed.is_empty() && !allowed.contains(&srole.as_str()) {
            ctx.err(
                item.line,
                format!("{role} role supports only {} selectors", allowed.join(", ")),
            );
        }
        // Field selectors are `key=value`, `key==value` or `key!=value`
        // terms separated by commas (Kubernetes's fields.ParseSelector).
        for term in field.split(',').filter(|t| !t.trim().is_empty()) {
            if !term.contains('=') {
                ctx.err(
                    item.line,
                    format!("invalid selector: '{field}'; can't understand '{term}'"),
                );
            }
        }
    }
}
