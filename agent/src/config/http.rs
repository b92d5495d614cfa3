//! The HTTP client settings shared by scrape configs, service discovery,
//! Alertmanager and remote storage (Prometheus's `common/config`
//! `HTTPClientConfig`): authentication, TLS, proxy and headers.
//!
//! [`decode_inline`] reads these keys out of the mapping they are inlined
//! in and validates them the way Prometheus does, including folding the
//! legacy `bearer_token`/`bearer_token_file` into `authorization`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::decode::{self, Ctx, MapReader};
use super::yaml::Node;

/// A secret from the config (password, token, key). Its `Debug` output is
/// redacted so that logging a config never leaks credentials.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret's value, for the code that actually sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// `basic_auth`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BasicAuth {
    pub username: String,
    pub username_file: Option<PathBuf>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
}

/// `authorization` (the header's type and credentials). Legacy
/// `bearer_token` settings end up here too, with kind `Bearer`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Authorization {
    /// The header's scheme; `Bearer` when not set.
    pub kind: String,
    pub credentials: Option<Secret>,
    pub credentials_file: Option<PathBuf>,
}

/// `tls_config`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TlsConfig {
    pub ca: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub cert: Option<String>,
    pub cert_file: Option<PathBuf>,
    pub key: Option<Secret>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
    /// `TLS10`..`TLS13`, as written.
    pub min_version: Option<String>,
    pub max_version: Option<String>,
}

/// `oauth2` (client-credentials and JWT-bearer grants).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OAuth2 {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub client_secret_file: Option<PathBuf>,
    pub client_certificate_key: Option<Secret>,
    pub client_certificate_key_file: Option<PathBuf>,
    pub client_certificate_key_id: Option<String>,
    pub grant_type: Option<String>,
    pub signature_algorithm: Option<String>,
    pub iss: Option<String>,
    pub audience: Option<String>,
    pub claims: BTreeMap<String, String>,
    pub scopes: Vec<String>,
    pub token_url: String,
    pub endpoint_params: BTreeMap<String, String>,
    pub tls_config: TlsConfig,
    pub proxy: ProxyConfig,
}

/// Proxy settings (used by the HTTP client and by OAuth2 token requests).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyConfig {
    pub proxy_url: Option<String>,
    pub no_proxy: Option<String>,
    pub proxy_from_environment: bool,
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// One entry of `http_headers`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpHeader {
    pub values: Vec<String>,
    pub secrets: Vec<Secret>,
    pub files: Vec<PathBuf>,
}

/// The HTTP client settings of one scrape job, SD mechanism, Alertmanager
/// set or remote endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpClientConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub oauth2: Option<OAuth2>,
    pub tls_config: TlsConfig,
    pub proxy: ProxyConfig,
    pub follow_redirects: bool,
    pub enable_http2: bool,
    pub http_headers: BTreeMap<String, HttpHeader>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            tls_config: TlsConfig::default(),
            proxy: ProxyConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            http_headers: BTreeMap::new(),
        }
    }
}

/// Which HTTP keys a section set, for the SD checks that depend on them
/// (Kubernetes refuses custom HTTP settings without `api_server`, Marathon
/// refuses tokens next to `auth_token`).
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpKeys {
    pub any: bool,
    pub basic_auth: bool,
    pub authorization: bool,
    pub oauth2: bool,
    pub bearer: bool,
}

/// Every key [`decode_inline`] takes.
pub(crate) const HTTP_KEYS: &[&str] = &[
    "basic_auth",
    "authorization",
    "oauth2",
    "bearer_token",
    "bearer_token_file",
    "tls_config",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
    "follow_redirects",
    "enable_http2",
    "http_headers",
];

/// Reads and validates the HTTP client keys inlined in `m`. Errors point at
/// `m`'s line (or the offending key's).
pub fn decode_inline(ctx: &mut Ctx, m: &mut MapReader) -> (HttpClientConfig, HttpKeys) {
    let keys = HttpKeys {
        any: HTTP_KEYS.iter().any(|k| m.has(k)),
        basic_auth: m.has("basic_auth"),
        authorization: m.has("authorization"),
        oauth2: m.has("oauth2"),
        bearer: m.has("bearer_token") || m.has("bearer_token_file"),
    };
    let mut c = HttpClientConfig::default();
    if let Some(n) = m.take("basic_auth") {
        c.basic_auth = decode_basic_auth(ctx, n);
    }
    if let Some(n) = m.take("authorization") {
        c.authorization = decode_authorization(ctx, n);
    }
    if let Some(n) = m.take("oauth2") {
        c.oauth2 = decode_oauth2(ctx, n);
    }
    let bearer_line = m
        .key_line("bearer_token")
        .max(m.key_line("bearer_token_file"));
    let bearer_token = m
        .secret(ctx, "bearer_token")
        .filter(|s| !s.expose().is_empty());
    let bearer_token_file = m.string(ctx, "bearer_token_file").filter(|s| !s.is_empty());
    if let Some(n) = m.take("tls_config") {
        c.tls_config = decode_tls(ctx, n);
    }
    c.proxy = decode_proxy(ctx, m);
    if let Some(v) = m.bool(ctx, "follow_redirects") {
        c.follow_redirects = v;
    }
    if let Some(v) = m.bool(ctx, "enable_http2") {
        c.enable_http2 = v;
    }
    if let Some(n) = m.value("http_headers") {
        for (k, v) in decode::map_entries(ctx, n, "http_headers") {
            let Some(name) = k.as_str() else { continue };
            let Some(mut h) = MapReader::open(ctx, v, "http_headers entry", "config.plain") else {
                continue;
            };
            let header = HttpHeader {
                values: h.strings(ctx, "values"),
                secrets: h.secrets(ctx, "secrets"),
                files: h
                    .strings(ctx, "files")
                    .iter()
                    .map(|f| ctx.path(f))
                    .collect(),
            };
            h.finish(ctx);
            c.http_headers.insert(name.to_string(), header);
        }
    }

    // Validation, in Prometheus's order and words.
    if bearer_token.is_some() && bearer_token_file.is_some() {
        ctx.err(
            bearer_line,
            "at most one of bearer_token & bearer_token_file must be configured",
        );
    }
    let has_bearer = bearer_token.is_some() || bearer_token_file.is_some();
    if (c.basic_auth.is_some() || c.oauth2.is_some()) && has_bearer {
        ctx.err(
            bearer_line,
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
        );
    }
    if c.authorization.is_some() {
        let l = m.key_line("authorization");
        if has_bearer {
            ctx.err(
                l,
                "authorization is not compatible with bearer_token & bearer_token_file",
            );
        }
        if c.basic_auth.is_some() || c.oauth2.is_some() {
            ctx.err(
                l,
                "at most one of basic_auth, oauth2 & authorization must be configured",
            );
        }
    } else if let Some(token) = bearer_token {
        c.authorization = Some(Authorization {
            kind: "Bearer".into(),
            credentials: Some(token),
            credentials_file: None,
        });
    } else if let Some(file) = bearer_token_file {
        c.authorization = Some(Authorization {
            kind: "Bearer".into(),
            credentials: None,
            credentials_file: Some(ctx.path(&file)),
        });
    }
    if c.oauth2.is_some() && c.basic_auth.is_some() {
        ctx.err(
            m.key_line("oauth2"),
            "at most one of basic_auth, oauth2 & authorization must be configured",
        );
    }
    (c, keys)
}

fn decode_basic_auth(ctx: &mut Ctx, n: &Node) -> Option<BasicAuth> {
    let mut m = MapReader::open(ctx, n, "basic_auth", "config.BasicAuth")?;
    let b = BasicAuth {
        username: m.string(ctx, "username").unwrap_or_default(),
        username_file: m.path(ctx, "username_file"),
        password: m.secret(ctx, "password"),
        password_file: m.path(ctx, "password_file"),
    };
    if !b.username.is_empty() && b.username_file.is_some() {
        ctx.err(
            m.line,
            "at most one of basic_auth username & username_file must be configured",
        );
    }
    if b.password.is_some() && b.password_file.is_some() {
        ctx.err(
            m.line,
            "at most one of basic_auth password & password_file must be configured",
        );
    }
    m.finish(ctx);
    Some(b)
}

fn decode_authorization(ctx: &mut Ctx, n: &Node) -> Option<Authorization> {
    let mut m = MapReader::open(ctx, n, "authorization", "config.Authorization")?;
    let kind = m.string(ctx, "type").unwrap_or_default().trim().to_string();
    let a = Authorization {
        kind: if kind.is_empty() {
            "Bearer".into()
        } else {
            kind
        },
        credentials: m.secret(ctx, "credentials"),
        credentials_file: m.path(ctx, "credentials_file"),
    };
    if a.credentials.is_some() && a.credentials_file.is_some() {
        ctx.err(
            m.line,
            "at most one of authorization credentials & credentials_file must be configured",
        );
    }
    if a.kind.eq_ignore_ascii_case("basic") {
        ctx.err(
            m.line,
            "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
        );
    }
    m.finish(ctx);
    Some(a)
}

fn decode_oauth2(ctx: &mut Ctx, n: &Node) -> Option<OAuth2> {
    let mut m = MapReader::open(ctx, n, "oauth2", "config.OAuth2")?;
    let mut o = OAuth2 {
        client_id: m.string(ctx, "client_id").unwrap_or_default(),
        client_secret: m.secret(ctx, "client_secret"),
        client_secret_file: m.path(ctx, "client_secret_file"),
        client_certificate_key: m.secret(ctx, "client_certificate_key"),
        client_certificate_key_file: m.path(ctx, "client_certificate_key_file"),
        client_certificate_key_id: m.string(ctx, "client_certificate_key_id"),
        grant_type: m.string(ctx, "grant_type"),
        signature_algorithm: m.string(ctx, "signature_algorithm"),
        iss: m.string(ctx, "iss"),
        audience: m.string(ctx, "audience"),
        claims: m.string_map(ctx, "claims"),
        scopes: m.strings(ctx, "scopes"),
        token_url: m.string(ctx, "token_url").unwrap_or_default(),
        endpoint_params: m.string_map(ctx, "endpoint_params"),
        ..OAuth2::default()
    };
    if let Some(t) = m.take("tls_config") {
        o.tls_config = decode_tls(ctx, t);
    }
    o.proxy = decode_proxy(ctx, &mut m);
    let secrets = [
        o.client_secret.is_some(),
        o.client_secret_file.is_some(),
        o.client_certificate_key.is_some() || o.client_certificate_key_file.is_some(),
    ];
    if secrets.iter().filter(|s| **s).count() > 1 {
        ctx.err(
            m.line,
            "at most one of oauth2 client_secret, client_secret_file & client_certificate_key must be configured",
        );
    }
    if o.client_id.is_empty() {
        ctx.err(m.line, "oauth2 client_id must be configured");
    }
    if o.token_url.is_empty() {
        ctx.err(m.line, "oauth2 token_url must be configured");
    }
    m.finish(ctx);
    Some(o)
}

fn decode_proxy(ctx: &mut Ctx, m: &mut MapReader) -> ProxyConfig {
    let line = m.key_line("proxy_url");
    let mut p = ProxyConfig {
        proxy_url: m.string(ctx, "proxy_url").filter(|s| !s.is_empty()),
        no_proxy: m.string(ctx, "no_proxy").filter(|s| !s.is_empty()),
        proxy_from_environment: m.bool(ctx, "proxy_from_environment").unwrap_or(false),
        proxy_connect_header: BTreeMap::new(),
    };
    if let Some(n) = m.value("proxy_connect_header") {
        for (k, v) in decode::map_entries(ctx, n, "proxy_connect_header") {
            if let Some(name) = k.as_str() {
                ctx.hidden.secret(v);
                let values = decode::strings(ctx, v, "proxy_connect_header");
                p.proxy_connect_header
                    .insert(name.to_string(), values.into_iter().map(Secret).collect());
            }
        }
    }
    if let Some(u) = &p.proxy_url {
        if let Err(e) = decode::parse_url(u) {
            ctx.err(line, format!("proxy_url: {e}"));
        }
    }
    if p.proxy_from_environment && p.proxy_url.is_some() {
        ctx.err(
            line,
            "if proxy_from_environment is configured, proxy_url must not be configured",
        );
    }
    if p.proxy_from_environment && p.no_proxy.is_some() {
        ctx.err(
            line,
            "if proxy_from_environment is configured, no_proxy must not be configured",
        );
    }
    if p.proxy_url.is_none() && p.no_proxy.is_some() {
        ctx.err(
            line,
            "if no_proxy is configured, proxy_url must also be configured",
        );
    }
    if !p.proxy_connect_header.is_empty() && p.proxy_url.is_none() && !p.proxy_from_environment {
        ctx.err(
            line,
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured",
        );
    }
    p
}

/// Reads and validates a `tls_config` mapping.
pub fn decode_tls(ctx: &mut Ctx, n: &Node) -> TlsConfig {
    let Some(mut m) = MapReader::open(ctx, n, "tls_config", "config.TLSConfig") else {
        return TlsConfig::default();
    };
    let t = TlsConfig {
        ca: m.string(ctx, "ca").filter(|s| !s.is_empty()),
        ca_file: m.path(ctx, "ca_file").filter(|p| !p.as_os_str().is_empty()),
        cert: m.string(ctx, "cert").filter(|s| !s.is_empty()),
        cert_file: m
            .path(ctx, "cert_file")
            .filter(|p| !p.as_os_str().is_empty()),
        key: m.secret(ctx, "key").filter(|s| !s.expose().is_empty()),
        key_file: m
            .path(ctx, "key_file")
            .filter(|p| !p.as_os_str().is_empty()),
        server_name: m.string(ctx, "server_name"),
        insecure_skip_verify: m.bool(ctx, "insecure_skip_verify").unwrap_or(false),
        min_version: m.string(ctx, "min_version"),
        max_version: m.string(ctx, "max_version"),
    };
    for (key, v) in [
        ("min_version", &t.min_version),
        ("max_version", &t.max_version),
    ] {
        if let Some(v) = v {
            if !matches!(v.as_str(), "TLS10" | "TLS11" | "TLS12" | "TLS13") {
                ctx.err(m.key_line(key), format!("unknown TLS version: {v}"));
            }
        }
    }
    if t.ca.is_some() && t.ca_file.is_some() {
        ctx.err(m.line, "at most one of ca and ca_file must be configured");
    }
    if t.cert.is_some() && t.cert_file.is_some() {
        ctx.err(
            m.line,
            "at most one of cert and cert_file must be configured",
        );
    }
    if t.key.is_some() && t.key_file.is_some() {
        ctx.err(m.line, "at most one of key and key_file must be configured");
    }
    let has_cert = t.cert.is_some() || t.cert_file.is_some();
    let has_key = t.key.is_some() || t.key_file.is_some();
    if has_cert && !has_key {
        ctx.err(
            m.line,
            "exactly one of key or key_file must be configured when a client certificate is configured",
        );
    }
    if has_key && !has_cert {
        ctx.err(
            m.line,
            "exactly one of cert or cert_file must be configured when a client key is configured",
        );
    }
    m.finish(ctx);
    t
}
