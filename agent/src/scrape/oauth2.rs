//! `oauth2`: the client-credentials grant, as Prometheus's HTTP client
//! runs it (golang.org/x/oauth2's `clientcredentials` with auto-detected
//! client authentication):
//!
//! - the token request is a form POST to `token_url` with
//!   `grant_type=client_credentials`, `scope` (the scopes joined by
//!   spaces) and `endpoint_params` (which may replace `grant_type` but no
//!   other parameter);
//! - the client authenticates with HTTP basic auth of its query-escaped
//!   id and secret; if the server refuses that, once more with both in the
//!   form, and the style that worked is remembered;
//! - a token is reused until ten seconds before it expires (one without
//!   `expires_in` forever), and fetched again when the secret (or its
//!   file's content) changes;
//! - requests carry `Authorization: <token_type> <access_token>`.
//!
//! Concurrent requests wait for one token fetch instead of each making
//! their own. The JWT-bearer grant is not supported: such a config is
//! refused when it is loaded.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::config::OAuth2;

use super::http::{client, FetchError};
use super::target::query_escape;
use super::{Credential, TlsFiles};

/// A token this close to its expiry is fetched again (x/oauth2's delta).
const EXPIRY_DELTA: Duration = Duration::from_secs(10);

/// The longest wait for a token server, when the caller sets none.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a job's bearer tokens come from.
pub struct TokenSource {
    client_id: String,
    secret: Credential,
    token_url: String,
    params: Vec<(String, String)>,
    client: reqwest::Client,
    state: tokio::sync::Mutex<State>,
}

#[derive(Default)]
struct State {
    token: Option<Token>,
    /// The secret the token was obtained with.
    secret: String,
    /// Basic auth (false) or form fields (true), once one has worked.
    secret_in_form: Option<bool>,
}

struct Token {
    header: String,
    expires: Option<Instant>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// Sources are compared by identity: two jobs never share one.
impl PartialEq for TokenSource {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Eq for TokenSource {}

impl TokenSource {
    /// The source for `cfg`, its token requests made with `tls` (the
    /// `oauth2` block's own `tls_config`, already read).
    pub fn new(cfg: &OAuth2, tls: &TlsFiles) -> Result<TokenSource, String> {
        match cfg.grant_type.as_deref() {
            None | Some("") | Some("client_credentials") => {}
            Some(other) => {
                return Err(format!(
                    "oauth2 grant_type {other:?} is not supported by pharos; use client_credentials"
                ))
            }
        }
        if cfg.client_certificate_key.is_some() || cfg.client_certificate_key_file.is_some() {
            return Err("oauth2 client_certificate_key (the JWT-bearer grant) is not supported by pharos; use client_secret or client_secret_file".into());
        }
        let secret = match (&cfg.client_secret_file, &cfg.client_secret) {
            (Some(f), _) => Credential::File(f.clone()),
            (None, Some(s)) => Credential::Inline(s.expose().to_string()),
            (None, None) => Credential::Inline(String::new()),
        };
        let mut params = vec![("grant_type".to_string(), "client_credentials".to_string())];
        if !cfg.scopes.is_empty() {
            params.push(("scope".to_string(), cfg.scopes.join(" ")));
        }
        for (k, v) in &cfg.endpoint_params {
            match params.iter_mut().find(|(name, _)| name == k) {
                Some((name, value)) if name == "grant_type" => *value = v.clone(),
                Some(_) => return Err(format!("oauth2: cannot overwrite parameter {k:?}")),
                None => params.push((k.clone(), v.clone())),
            }
        }
        let client = client(tls, &cfg.proxy, true, true).map_err(|e| format!("oauth2: {e}"))?;
        Ok(TokenSource {
            client_id: cfg.client_id.clone(),
            secret,
            token_url: cfg.token_url.clone(),
            params,
            client,
            state: tokio::sync::Mutex::new(State::default()),
        })
    }

    /// The `Authorization` header value for the next request: the cached
    /// token, or a new one.
    pub async fn header(&self) -> Result<String, FetchError> {
        let secret = self.secret.read()?;
        let mut state = self.state.lock().await;
        if state.secret == secret {
            if let Some(t) = &state.token {
                if t.expires.is_none_or(|e| Instant::now() + EXPIRY_DELTA < e) {
                    return Ok(t.header.clone());
                }
            }
        }
        let styles: &[bool] = match state.secret_in_form {
            Some(in_form) => &[in_form][..],
            None => &[false, true],
        };
        let mut last = None;
        for &in_form in styles {
            match self.request(&secret, in_form).await {
                Ok(token) => {
                    let header = token.header.clone();
                    state.token = Some(token);
                    state.secret = secret;
                    state.secret_in_form = Some(in_form);
                    return Ok(header);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(FetchError::OAuth2(last.expect("at least one style tried")))
    }

    /// One token request.
    async fn request(&self, secret: &str, secret_in_form: bool) -> Result<Token, String> {
        let mut form = self.params.clone();
        let mut req = self.client.post(&self.token_url).timeout(TOKEN_TIMEOUT);
        if secret_in_form {
            form.push(("client_id".into(), self.client_id.clone()));
            if !secret.is_empty() {
                form.push(("client_secret".into(), secret.to_string()));
            }
        } else {
            // Escaped first, as RFC 6749 §2.3.1 and Go's client do.
            req = req.basic_auth(query_escape(&self.client_id), Some(query_escape(secret)));
        }
        let fail =
            |why: String| format!("oauth2: cannot fetch token from {}: {why}", self.token_url);
        let resp = req
            .form(&form)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let form_encoded = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                t.starts_with("application/x-www-form-urlencoded") || t.starts_with("text/plain")
            });
        let body = resp.bytes().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let text: String = text.trim().chars().take(200).collect();
            return Err(fail(format!("{status}: {text}")));
        }
        let reply: Reply = if form_encoded {
            serde_urlencoded::from_bytes(&body).map_err(|e| fail(e.to_string()))?
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| fail(format!("the response is not a token: {e}")))?
        };
        if reply.access_token.is_empty() {
            return Err(fail("server response missing access_token".into()));
        }
        let seconds = reply.expires_in.as_ref().and_then(Seconds::get);
        Ok(Token {
            header: format!("{} {}", token_type(&reply.token_type), reply.access_token),
            expires: seconds
                .filter(|&s| s > 0)
                .map(|s| Instant::now() + Duration::from_secs(s)),
        })
    }
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: Option<Seconds>,
}

/// `expires_in`: a number, or (from some servers, and in form replies) a
/// string holding one.
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(f64),
    Text(String),
}

impl Seconds {
    fn get(&self) -> Option<u64> {
        match self {
            Seconds::Number(n) if *n >= 0.0 => Some(*n as u64),
            Seconds::Number(_) => None,
            Seconds::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// The scheme word of the `Authorization` header, as x/oauth2 spells it.
fn token_type(t: &str) -> &str {
    if t.is_empty() || t.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else if t.eq_ignore_ascii_case("mac") {
        "MAC"
    } else if t.eq_ignore_ascii_case("basic") {
        "Basic"
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::config::Secret;

    /// A token server on a free port; `respond(request)` gives the status,
    /// content type and body. Every request (head and body) is kept.
    async fn token_server(
        respond: impl Fn(&str) -> (u16, &'static str, String) + Send + Sync + 'static,
    ) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/token", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (respond, log) = (Arc::new(respond), Arc::clone(&seen));
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let (respond, log) = (Arc::clone(&respond), Arc::clone(&log));
                tokio::spawn(async move {
                    let req = read_request(&mut sock).await;
                    let (status, kind, body) = respond(&req);
                    log.lock().unwrap().push(req);
                    let head = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(body.as_bytes()).await;
                });
            }
        });
        (url, seen)
    }

    /// The request's head and its whole body (by `content-length`).
    async fn read_request(sock: &mut tokio::net::TcpStream) -> String {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_string)
                    })
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break;
                }
            }
        }
        String::from_utf8_lossy(&buf).to_string()
    }

    fn config(token_url: &str) -> OAuth2 {
        OAuth2 {
            client_id: "my client".into(),
            client_secret: Some(Secret::new("s3cr&t")),
            scopes: vec!["read".into(), "write".into()],
            token_url: token_url.into(),
            endpoint_params: BTreeMap::from([("audience".to_string(), "pharos".to_string())]),
            ..OAuth2::default()
        }
    }

    /// The form body of a logged request.
    fn form_of(req: &str) -> Vec<(String, String)> {
        let body = req.split("\r\n\r\n").nth(1).unwrap_or("");
        serde_urlencoded::from_str(body).unwrap()
    }

    #[tokio::test]
    async fn fetches_once_and_reuses_the_token_until_it_expires() {
        let (url, seen) = token_server(|_| {
            (
                200,
                "application/json",
                r#"{"access_token":"tok1","token_type":"bearer","expires_in":3600}"#.into(),
            )
        })
        .await;
        let src = TokenSource::new(&config(&url), &TlsFiles::default()).unwrap();
        assert_eq!(src.header().await.unwrap(), "Bearer tok1");
        assert_eq!(src.header().await.unwrap(), "Bearer tok1");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "the token is cached");
        let req = &seen[0];
        assert!(req.starts_with("POST /token "), "{req}");
        // Basic auth of the query-escaped id and secret.
        let basic = "my+client:s3cr%26t";
        let expect = format!("authorization: Basic {}", base64(basic.as_bytes()));
        assert!(
            req.to_ascii_lowercase()
                .contains(&expect.to_ascii_lowercase()),
            "{req}"
        );
        assert_eq!(
            form_of(req),
            [
                ("grant_type".to_string(), "client_credentials".to_string()),
                ("scope".into(), "read write".into()),
                ("audience".into(), "pharos".into()),
            ]
        );
    }

    #[tokio::test]
    async fn a_token_close_to_expiry_is_fetched_again() {
        let n = Arc::new(Mutex::new(0));
        let count = Arc::clone(&n);
        let (url, _) = token_server(move |_| {
            let mut n = count.lock().unwrap();
            *n += 1;
            // Within EXPIRY_DELTA of expiry from the start.
            let body = format!(r#"{{"access_token":"tok{n}","expires_in":5}}"#);
            (200, "application/json", body)
        })
        .await;
        let src = TokenSource::new(&config(&url), &TlsFiles::default()).unwrap();
        assert_eq!(src.header().await.unwrap(), "Bearer tok1");
        assert_eq!(src.header().await.unwrap(), "Bearer tok2");
    }

    #[tokio::test]
    async fn falls_back_to_the_secret_in_the_form_and_remembers() {
        let (url, seen) = token_server(|req| {
            if req.to_ascii_lowercase().contains("authorization: basic") {
                (
                    401,
                    "application/json",
                    r#"{"error":"invalid_client"}"#.into(),
                )
            } else {
                (
                    200,
                    "application/x-www-form-urlencoded",
                    "access_token=tok%2Fform&token_type=mac&expires_in=1".into(),
                )
            }
        })
        .await;
        let src = TokenSource::new(&config(&url), &TlsFiles::default()).unwrap();
        assert_eq!(src.header().await.unwrap(), "MAC tok/form");
        // Expired at once: fetched again, straight in the form style.
        assert_eq!(src.header().await.unwrap(), "MAC tok/form");
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3, "header try, form, form: {seen:?}");
        let form = form_of(&seen[2]);
        assert!(
            form.contains(&("client_id".into(), "my client".into())),
            "{form:?}"
        );
        assert!(
            form.contains(&("client_secret".into(), "s3cr&t".into())),
            "{form:?}"
        );
    }

    #[tokio::test]
    async fn a_refusal_is_reported_and_a_changed_secret_file_refetches() {
        let dir = std::env::temp_dir().join(format!("pharos-oauth2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret");
        std::fs::write(&file, "one\n").unwrap();
        let (url, seen) = token_server(|req| {
            let form = form_of(req);
            let lower = req.to_ascii_lowercase();
            if lower.contains(
                &format!("authorization: basic {}", base64(b"id:two")).to_ascii_lowercase(),
            ) {
                (200, "application/json", r#"{"access_token":"t2"}"#.into())
            } else if lower.contains(
                &format!("authorization: basic {}", base64(b"id:one")).to_ascii_lowercase(),
            ) {
                (200, "application/json", r#"{"access_token":"t1"}"#.into())
            } else if form.iter().any(|(k, _)| k == "client_secret") {
                (
                    400,
                    "application/json",
                    r#"{"error":"invalid_client"}"#.into(),
                )
            } else {
                (401, "text/html", "denied".into())
            }
        })
        .await;
        let mut cfg = config(&url);
        cfg.client_id = "id".into();
        cfg.client_secret = None;
        cfg.client_secret_file = Some(file.clone());
        let src = TokenSource::new(&cfg, &TlsFiles::default()).unwrap();
        assert_eq!(src.header().await.unwrap(), "Bearer t1");
        assert_eq!(src.header().await.unwrap(), "Bearer t1");
        std::fs::write(&file, "two\n").unwrap();
        assert_eq!(src.header().await.unwrap(), "Bearer t2");
        assert_eq!(seen.lock().unwrap().len(), 2);
        std::fs::write(&file, "three\n").unwrap();
        let e = src.header().await.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "oauth2: cannot fetch token from {url}: 401 Unauthorized: denied"
            )),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unsupported_grants_and_overwritten_parameters_are_refused() {
        let mut cfg = config("http://127.0.0.1:1/token");
        cfg.grant_type = Some("urn:ietf:params:oauth:grant-type:jwt-bearer".into());
        let e = TokenSource::new(&cfg, &TlsFiles::default()).unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        let mut cfg = config("http://127.0.0.1:1/token");
        cfg.endpoint_params.insert("scope".into(), "x".into());
        let e = TokenSource::new(&cfg, &TlsFiles::default()).unwrap_err();
        assert_eq!(e, "oauth2: cannot overwrite parameter \"scope\"");
        let mut cfg = config("http://127.0.0.1:1/token");
        cfg.endpoint_params
            .insert("grant_type".into(), "password".into());
        assert!(TokenSource::new(&cfg, &TlsFiles::default()).is_ok());
    }

    #[test]
    fn token_types_are_spelled_like_go() {
        assert_eq!(token_type(""), "Bearer");
        assert_eq!(token_type("BEARER"), "Bearer");
        assert_eq!(token_type("DPoP"), "DPoP");
    }

    fn base64(data: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for c in data.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= c.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
