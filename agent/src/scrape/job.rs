//! From a loaded scrape config to a runnable [`Job`]: credentials located,
//! TLS material read, the HTTP client built, static groups converted.
//! Everything that can fail for a config that parsed fine (an unreadable
//! CA file, an unsupported auth method) fails here, so a reload can refuse
//! the new config as a whole and keep the old one running.

use std::sync::Arc;

use crate::config::{HttpClientConfig, ScrapeConfig, TlsConfig};

use super::discovery::Group;
use super::http::{accept_header, client};
use super::oauth2::TokenSource;
use super::{Auth, Credential, Job, TlsFiles};

impl Job {
    /// Builds the runnable job for `cfg` (whose paths are already resolved
    /// against the config file's directory).
    pub fn from_config(cfg: &ScrapeConfig) -> Result<Job, String> {
        let ctx = |e: String| format!("job {:?}: {e}", cfg.job_name);
        let http = &cfg.http;
        let tls = tls_files(&http.tls_config).map_err(ctx)?;
        let client =
            client(&tls, &http.proxy, http.follow_redirects, http.enable_http2).map_err(ctx)?;
        let static_groups = cfg
            .static_configs
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let source = if g.source.is_empty() {
                    i.to_string()
                } else {
                    g.source.clone()
                };
                Group::from_config(format!("static:{source}"), g, &[])
            })
            .collect();
        let headers = header_credentials(http);
        let sni = super::http::SniRoute::for_job(http, &tls);
        let failure_log = match &cfg.scrape_failure_log_file {
            Some(path) => Some(Arc::new(
                super::failure_log::FailureLog::open(path).map_err(ctx)?,
            )),
            None => None,
        };
        Ok(Job {
            config: cfg.clone(),
            static_groups,
            auth: auth(http).map_err(ctx)?,
            accept: accept_header(&cfg.scrape_protocols),
            client,
            headers,
            sni,
            failure_log,
        })
    }
}

/// An HTTP client and credentials for `http` (TLS, proxy, redirects,
/// HTTP/2, basic auth or authorization), as a scrape job builds them: for
/// other clients of the same configuration block (alerting's
/// Alertmanagers).
/// The `http_headers` of an HTTP client config as `(name, value)` pairs,
/// secrets and files included (files are read at request time).
pub fn header_credentials(http: &HttpClientConfig) -> Vec<(String, Credential)> {
    let mut headers = Vec::new();
    for (name, h) in &http.http_headers {
        for v in &h.values {
            headers.push((name.clone(), Credential::Inline(v.clone())));
        }
        for v in &h.secrets {
            headers.push((name.clone(), Credential::Inline(v.expose().to_string())));
        }
        for f in &h.files {
            headers.push((name.clone(), Credential::File(f.clone())));
        }
    }
    headers
}

pub fn http_client(http: &HttpClientConfig) -> Result<(reqwest::Client, Auth), String> {
    let tls = tls_files(&http.tls_config)?;
    let c = client(&tls, &http.proxy, http.follow_redirects, http.enable_http2)?;
    Ok((c, auth(http)?))
}

fn auth(http: &HttpClientConfig) -> Result<Auth, String> {
    if let Some(b) = &http.basic_auth {
        let username = match &b.username_file {
            Some(f) => Credential::File(f.clone()),
            None => Credential::Inline(b.username.clone()),
        };
        let password = match (&b.password_file, &b.password) {
            (Some(f), _) => Credential::File(f.clone()),
            (None, Some(p)) => Credential::Inline(p.expose().to_string()),
            (None, None) => Credential::Inline(String::new()),
        };
        return Ok(Auth::Basic { username, password });
    }
    if let Some(a) = &http.authorization {
        let credentials = match (&a.credentials_file, &a.credentials) {
            (Some(f), _) => Credential::File(f.clone()),
            (None, Some(c)) => Credential::Inline(c.expose().to_string()),
            (None, None) => Credential::Inline(String::new()),
        };
        let kind = if a.kind.is_empty() {
            "Bearer".to_string()
        } else {
            a.kind.clone()
        };
        return Ok(Auth::Header { kind, credentials });
    }
    if let Some(o) = &http.oauth2 {
        let tls = tls_files(&o.tls_config).map_err(|e| format!("oauth2: {e}"))?;
        return Ok(Auth::OAuth2(Arc::new(TokenSource::new(o, &tls)?)));
    }
    Ok(Auth::None)
}

/// Reads the TLS material a `tls_config` names.
pub fn tls_files(t: &TlsConfig) -> Result<TlsFiles, String> {
    let read = |p: &std::path::Path, what: &str| {
        std::fs::read(p).map_err(|e| format!("reading the {what} {}: {e}", p.display()))
    };
    let ca_pem = match (&t.ca_file, &t.ca) {
        (Some(f), _) => Some(read(f, "CA file")?),
        (None, Some(c)) => Some(c.clone().into_bytes()),
        (None, None) => None,
    };
    let cert = match (&t.cert_file, &t.cert) {
        (Some(f), _) => Some(read(f, "client certificate")?),
        (None, Some(c)) => Some(c.clone().into_bytes()),
        (None, None) => None,
    };
    let key = match (&t.key_file, &t.key) {
        (Some(f), _) => Some(read(f, "client key")?),
        (None, Some(k)) => Some(k.expose().as_bytes().to_vec()),
        (None, None) => None,
    };
    let client_pem = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("tls_config needs both a client certificate and its key".to_string()),
    };
    Ok(TlsFiles {
        ca_pem,
        client_pem,
        server_name: t.server_name.clone().filter(|n| !n.is_empty()),
        insecure_skip_verify: t.insecure_skip_verify,
        min_version: t.min_version.clone(),
        max_version: t.max_version.clone(),
    })
}
