//! The HTTP side of a scrape: one client per job (TLS, proxy, redirects,
//! HTTP/2 from the job's `HttpClientConfig`), and one GET per scrape with
//! Prometheus's headers, the job's credentials, the scrape timeout, and
//! the body size limit enforced while reading — a target cannot make the
//! scraper buffer more than the limit. Gzip bodies are decompressed by the
//! client (it sends `Accept-Encoding: gzip`), so the limit applies to the
//! uncompressed size, as in Prometheus.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{HttpClientConfig, ProxyConfig};
use crate::exposition::Format;

use super::target::{format_duration, Target};
use super::{Job, TlsFiles};

/// Why fetching a body failed. The messages are the target's `lastError`
/// and follow Prometheus's wording where it has one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("Get \"{url}\": context deadline exceeded (scrape timeout {timeout})")]
    Timeout { url: String, timeout: String },
    #[error("Get \"{url}\": {message}")]
    Transport { url: String, message: String },
    #[error("server returned HTTP status {0}")]
    Status(String),
    #[error("body size limit exceeded (limit: {0} bytes)")]
    BodySizeLimit(u64),
    #[error("reading credentials for the scrape failed: {0}")]
    Credentials(String),
    /// No token from the `oauth2` token server (the message says why).
    #[error("{0}")]
    OAuth2(String),
}

/// The `Accept` header for a job's `scrape_protocols`, most preferred
/// first, with descending q-values as Prometheus sends them.
pub fn accept_header(protocols: &[String]) -> String {
    let mut parts = Vec::new();
    let mut q = 0.6_f64;
    for p in protocols {
        let media = match p.as_str() {
            "OpenMetricsText1.0.0" => "application/openmetrics-text;version=1.0.0",
            "OpenMetricsText0.0.1" => "application/openmetrics-text;version=0.0.1",
            "PrometheusText1.0.0" => "text/plain;version=1.0.0",
            "PrometheusText0.0.4" => "text/plain;version=0.0.4",
            // Protobuf and unknown protocols: not spoken here.
            _ => continue,
        };
        parts.push(format!("{media};q={q:.1}"));
        q = (q - 0.1).max(0.1);
    }
    parts.push(format!("*/*;q={q:.1}"));
    parts.join(",")
}

/// Builds the client for a job.
pub fn client(
    tls: &TlsFiles,
    proxy: &ProxyConfig,
    follow_redirects: bool,
    enable_http2: bool,
) -> Result<reqwest::Client, String> {
    builder(tls, proxy, follow_redirects, enable_http2)?
        .build()
        .map_err(|e| format!("building the HTTP client failed: {e}"))
}

fn builder(
    tls: &TlsFiles,
    proxy: &ProxyConfig,
    follow_redirects: bool,
    enable_http2: bool,
) -> Result<reqwest::ClientBuilder, String> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("pharos/", env!("CARGO_PKG_VERSION")))
        .gzip(true)
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true);
    b = if follow_redirects {
        b.redirect(reqwest::redirect::Policy::limited(10))
    } else {
        b.redirect(reqwest::redirect::Policy::none())
    };
    if !enable_http2 {
        b = b.http1_only();
    }
    b = with_proxy(b, proxy)?;
    Ok(b.use_preconfigured_tls(super::tls::client_config(tls, enable_http2)?))
}

/// How a job with `tls_config.server_name` reaches its https targets so
/// that the TLS handshake names `server_name` (SNI), as Go sends it:
/// reqwest's connector takes the SNI from the URL's host, so the request
/// goes to `https://<server_name>:<port>/…` through a client of the
/// target's own whose resolver sends that name to the target's real host,
/// and carries the target's host in `Host`, as Go's request does.
///
/// Only for a DNS name (Go sends no SNI for an IP address) and without a
/// proxy (the proxy would be asked for `server_name`).
pub struct SniRoute {
    name: String,
    tls: TlsFiles,
    follow_redirects: bool,
    enable_http2: bool,
}

impl std::fmt::Debug for SniRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniRoute")
            .field("name", &self.name)
            .finish()
    }
}

impl SniRoute {
    /// The route for a job's HTTP settings, if they need one.
    pub fn for_job(http: &HttpClientConfig, tls: &TlsFiles) -> Option<Arc<SniRoute>> {
        let name = tls.server_name.as_ref()?;
        let p = &http.proxy;
        if name.parse::<std::net::IpAddr>().is_ok()
            || p.proxy_url.is_some()
            || p.proxy_from_environment
        {
            return None;
        }
        Some(Arc::new(SniRoute {
            name: name.to_ascii_lowercase(),
            tls: tls.clone(),
            follow_redirects: http.follow_redirects,
            enable_http2: http.enable_http2,
        }))
    }

    /// The client for the https target at `url`: the job's settings, with
    /// `server_name` resolving to the target's host. `None` for other
    /// URLs (plain http needs no route).
    pub fn client_for(&self, url: &str) -> Option<Result<reqwest::Client, String>> {
        let url = reqwest::Url::parse(url)
            .ok()
            .filter(|u| u.scheme() == "https")?;
        // An IPv6 literal without its brackets, for the resolver.
        let host = url
            .host_str()?
            .trim_start_matches('[')
            .trim_end_matches(']');
        let host = host.to_string();
        let resolver = Arc::new(ToTarget {
            name: self.name.clone(),
            host,
        });
        let none = ProxyConfig::default();
        Some(
            builder(&self.tls, &none, self.follow_redirects, self.enable_http2)
                .map(|b| b.dns_resolver(resolver))
                .and_then(|b| {
                    b.build()
                        .map_err(|e| format!("building the HTTP client failed: {e}"))
                }),
        )
    }

    /// What to request for the https target at `url`: the URL with
    /// `server_name` for its host, and the `Host` header the target's own
    /// authority. `None` for other URLs.
    pub fn request(&self, url: &str) -> Option<(String, String)> {
        let mut u = reqwest::Url::parse(url)
            .ok()
            .filter(|u| u.scheme() == "https")?;
        let authority = match u.port() {
            Some(port) => format!("{}:{port}", u.host_str()?),
            None => u.host_str()?.to_string(),
        };
        u.set_host(Some(&self.name)).ok()?;
        Some((u.into(), authority))
    }
}

/// Resolves a route's `server_name` to the target's host, and any other
/// name (a redirect elsewhere) as itself.
struct ToTarget {
    name: String,
    host: String,
}

impl reqwest::dns::Resolve for ToTarget {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = if name.as_str().eq_ignore_ascii_case(&self.name) {
            self.host.clone()
        } else {
            name.as_str().to_string()
        };
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Prometheus's proxy settings: `proxy_url` for every request except the
/// hosts `no_proxy` lists (names with their subdomains, IP addresses, CIDR
/// ranges, `*`), or with `proxy_from_environment` the `HTTP_PROXY`,
/// `HTTPS_PROXY` and `NO_PROXY` variables; otherwise no proxy at all,
/// whatever the environment says. `proxy_connect_header` goes only into
/// the CONNECT requests that tunnel https, as in Go: a plain http request
/// is forwarded by the proxy, headers and all, to the target.
fn with_proxy(
    b: reqwest::ClientBuilder,
    p: &ProxyConfig,
) -> Result<reqwest::ClientBuilder, String> {
    let url = match (&p.proxy_url, p.proxy_from_environment) {
        (Some(url), _) => url.as_str(),
        // reqwest's default is the environment's proxies.
        (None, true) if p.proxy_connect_header.is_empty() => return Ok(b),
        (None, true) => return Err("proxy_connect_header with proxy_from_environment is not supported by pharos; set proxy_url".into()),
        (None, false) => return Ok(b.no_proxy()),
    };
    let bad = |e: reqwest::Error| format!("proxy_url {url:?}: {e}");
    let no_proxy = || {
        p.no_proxy
            .as_deref()
            .and_then(reqwest::NoProxy::from_string)
    };
    if p.proxy_connect_header.is_empty() {
        return Ok(b.proxy(reqwest::Proxy::all(url).map_err(bad)?.no_proxy(no_proxy())));
    }
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, values) in &p.proxy_connect_header {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| format!("proxy_connect_header {name:?}: {e}"))?;
        for v in values {
            let value = reqwest::header::HeaderValue::from_str(v.expose())
                .map_err(|e| format!("proxy_connect_header {name}: {e}"))?;
            headers.append(name.clone(), value);
        }
    }
    let http = reqwest::Proxy::http(url).map_err(bad)?.no_proxy(no_proxy());
    let https = reqwest::Proxy::https(url).map_err(bad)?;
    Ok(b.proxy(http)
        .proxy(https.no_proxy(no_proxy()).headers(headers)))
}

/// Scrapes `target` into `buf` (cleared first) and returns the body's
/// format, from its `Content-Type`.
pub async fn fetch(
    client: &reqwest::Client,
    job: &Job,
    target: &Target,
    buf: &mut Vec<u8>,
) -> Result<Format, FetchError> {
    buf.clear();
    let url = &target.url;
    let timeout = target.timeout;
    // The message names the target's URL once, as Go's does; reqwest's
    // would repeat it (or name a routed request's `server_name` URL).
    let transport = |e: reqwest::Error| FetchError::Transport {
        url: url.clone(),
        message: error_chain(&e.without_url()),
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let routed = job.sni.as_ref().and_then(|r| r.request(url));
    let mut req = match &routed {
        Some((request_url, host)) => client
            .get(request_url.as_str())
            .header(reqwest::header::HOST, host.as_str()),
        None => client.get(url),
    };
    if !job.config.enable_compression {
        // As Prometheus: ask for the body as it is.
        req = req.header(reqwest::header::ACCEPT_ENCODING, "identity");
    }
    req = req.header(reqwest::header::ACCEPT, &job.accept).header(
        "X-Prometheus-Scrape-Timeout-Seconds",
        format!("{}", timeout.as_secs_f64()),
    );
    for (name, value) in &job.headers {
        req = req.header(name.as_str(), value.read()?);
    }
    let timed_out = || FetchError::Timeout {
        url: url.clone(),
        timeout: format_duration(timeout),
    };
    // A token fetch counts against the scrape timeout, as in Prometheus.
    req = tokio::time::timeout_at(deadline, job.auth.apply(req))
        .await
        .map_err(|_| timed_out())??;
    let mut resp = tokio::time::timeout_at(deadline, req.send())
        .await
        .map_err(|_| timed_out())?
        .map_err(transport)?;
    if resp.status() != reqwest::StatusCode::OK {
        let s = resp.status();
        return Err(FetchError::Status(format!(
            "{} {}",
            s.as_u16(),
            s.canonical_reason().unwrap_or("")
        )));
    }
    let format = body_format(
        resp.headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        job.config.fallback_scrape_protocol.as_deref(),
    );
    let limit = job.config.body_size_limit;
    loop {
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .map_err(|_| timed_out())?
            .map_err(transport)?;
        let Some(chunk) = chunk else { break };
        if limit > 0 && (buf.len() + chunk.len()) as u64 > limit {
            return Err(FetchError::BodySizeLimit(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(format)
}

/// The format of a body with `content_type`: OpenMetrics or the text
/// format when the media type says so; otherwise (none, unparseable, not
/// an exposition type) the job's `fallback_scrape_protocol`, and without
/// one the text format, as Prometheus 2 reads such bodies. (Prometheus 3
/// fails those scrapes instead; pharos keeps the older, lenient answer.)
pub fn body_format(content_type: Option<&str>, fallback: Option<&str>) -> Format {
    content_type
        .and_then(Format::from_content_type)
        .unwrap_or(match fallback {
            Some(p) if p.starts_with("OpenMetricsText") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        })
}

/// An error and its causes, joined: reqwest's top-level message alone
/// ("error sending request") does not say what went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_format_falls_back_only_for_unknown_content_types() {
        let om = Some("OpenMetricsText1.0.0");
        let cases = [
            (
                Some("application/openmetrics-text; version=1.0.0"),
                om,
                Format::OpenMetrics,
            ),
            (
                Some("Application/OpenMetrics-Text"),
                None,
                Format::OpenMetrics,
            ),
            (
                Some("text/plain; version=0.0.4"),
                om,
                Format::PrometheusText,
            ),
            (None, om, Format::OpenMetrics),
            (Some(""), om, Format::OpenMetrics),
            (Some("text/html"), om, Format::OpenMetrics),
            (None, None, Format::PrometheusText),
            (
                Some("text/html"),
                Some("PrometheusText1.0.0"),
                Format::PrometheusText,
            ),
        ];
        for (ct, fallback, want) in cases {
            assert_eq!(body_format(ct, fallback), want, "{ct:?} {fallback:?}");
        }
    }

    #[test]
    fn sni_route_requests_server_name_with_the_targets_host() {
        let tls = |name: &str| TlsFiles {
            server_name: Some(name.to_string()),
            ..TlsFiles::default()
        };
        let http = HttpClientConfig::default();
        let route = SniRoute::for_job(&http, &tls("Metrics.Internal")).unwrap();
        assert_eq!(
            route.request("https://10.0.0.5:8443/metrics?x=1"),
            Some((
                "https://metrics.internal:8443/metrics?x=1".to_string(),
                "10.0.0.5:8443".to_string()
            ))
        );
        assert_eq!(
            route.request("https://[::1]/m"),
            Some((
                "https://metrics.internal/m".to_string(),
                "[::1]".to_string()
            ))
        );
        // Plain http has no handshake to name anything in.
        assert_eq!(route.request("http://10.0.0.5:80/metrics"), None);
        assert!(route.client_for("http://10.0.0.5/metrics").is_none());
        assert!(matches!(route.client_for("https://[::1]:1/m"), Some(Ok(_))));

        // Go sends no SNI for an IP address; a proxy would be asked for
        // the name instead of the target.
        assert!(SniRoute::for_job(&http, &tls("10.1.2.3")).is_none());
        assert!(SniRoute::for_job(&http, &TlsFiles::default()).is_none());
        let mut proxied = HttpClientConfig::default();
        proxied.proxy.proxy_url = Some("http://proxy:3128".to_string());
        assert!(SniRoute::for_job(&proxied, &tls("metrics.internal")).is_none());
    }

    #[test]
    fn accept_header_follows_protocol_order() {
        let h = accept_header(&[
            "OpenMetricsText1.0.0".to_string(),
            "PrometheusProto".to_string(),
            "PrometheusText0.0.4".to_string(),
        ]);
        assert_eq!(
            h,
            "application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.4"
        );
    }
}
