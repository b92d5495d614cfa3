//! `email_configs`: one message per notification over SMTP, with
//! Alertmanager's connection rules (`notify/email/email.go`):
//!
//! - `smarthost` is `host:port`; port 465 means implicit TLS (SMTPS),
//!   any other port a plain connection that is upgraded with STARTTLS
//!   when `require_tls` is set (the default) — a server that does not
//!   offer STARTTLS then fails the attempt rather than receive the
//!   message in clear;
//! - `hello` is the EHLO name;
//! - with `auth_username` set and AUTH offered by the server, PLAIN (or
//!   LOGIN) authentication; a server that offers no AUTH is used without.
//!
//! The message carries the templated `headers` (`Subject` defaults to
//! `email.default.subject`, `To` and `From` to the envelope addresses),
//! `Date` and `Message-Id`, and a quoted-printable body: `text` and `html`
//! (default `email.default.html`) as `multipart/alternative` when both are
//! set, the one alone otherwise. A template that fails does not lose the
//! alert: the message goes out with a plain subject and a text body that
//! lists every alert and names the error.
//!
//! lettre speaks SMTP (connection, TLS, AUTH, dot-stuffing) and builds the
//! MIME message; this file decides what to say.
//!
//! `tls_config` sets up implicit TLS (port 465) and STARTTLS as
//! Alertmanager's does (see [`tls_parameters`]).
//!
//! Not supported: CRAM-MD5 (`auth_secret`), `auth_identity` (PLAIN is sent
//! without an authorization identity), `tls_config.max_version`. The HTML body escapes what its actions print
//! as html/template does in text and quoted attributes
//! ([`crate::template::Template::execute_html`]), not contextually inside
//! scripts or URLs.
//!
//! The config is here too: [`EmailConfig`], an `email_configs` entry with
//! the global SMTP settings filled in, and `decode_email`, which
//! `notify::config` calls for each entry.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::address::Envelope;
use lettre::message::header::{self, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Mailboxes, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, Certificate, CertificateStore, Identity, TlsParameters, TlsVersion,
};
use lettre::transport::smtp::extension::ClientId;
use lettre::Message;

use pharos_agent::config::decode::{Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::Secret;

use crate::notify::config::{at_most_one, secret, Global};

use super::{
    read_secret_file, Integration, Notification, NotifyError, NotifyFuture, Render,
    DEFAULT_HTTP_TIMEOUT,
};

/// `email_configs` entry (global SMTP settings filled in).
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub send_resolved: bool,
    pub to: String,
    pub from: String,
    pub hello: String,
    pub smarthost: String,
    pub auth_username: String,
    pub auth_password: Option<Secret>,
    pub auth_password_file: Option<PathBuf>,
    pub auth_secret: Option<Secret>,
    pub auth_identity: String,
    pub require_tls: bool,
    /// For implicit TLS (port 465) and STARTTLS.
    pub tls_config: pharos_agent::config::TlsConfig,
    pub headers: BTreeMap<String, String>,
    pub html: String,
    pub text: String,
}

/// Decodes an `email_configs` entry, the global SMTP settings filled in.
pub(crate) fn decode_email(ctx: &mut Ctx, item: &Node, g: &Global) -> Option<EmailConfig> {
    let mut e = MapReader::open(ctx, item, "email config", "config.EmailConfig")?;
    let to = e.string(ctx, "to").unwrap_or_default();
    if to.is_empty() {
        ctx.err(item.line, "missing to address in email config");
    }
    let mut cfg = EmailConfig {
        send_resolved: e.bool(ctx, "send_resolved").unwrap_or(false),
        to,
        from: e.string(ctx, "from").unwrap_or_else(|| g.smtp_from.clone()),
        hello: e
            .string(ctx, "hello")
            .unwrap_or_else(|| g.smtp_hello.clone()),
        smarthost: e
            .string(ctx, "smarthost")
            .unwrap_or_else(|| g.smtp_smarthost.clone()),
        auth_username: e
            .string(ctx, "auth_username")
            .unwrap_or_else(|| g.smtp_auth_username.clone()),
        auth_password: secret(&mut e, ctx, "auth_password"),
        auth_password_file: e.path(ctx, "auth_password_file"),
        auth_secret: secret(&mut e, ctx, "auth_secret"),
        auth_identity: e
            .string(ctx, "auth_identity")
            .unwrap_or_else(|| g.smtp_auth_identity.clone()),
        require_tls: e.bool(ctx, "require_tls").unwrap_or(g.smtp_require_tls),
        tls_config: e
            .value("tls_config")
            .map(|n| pharos_agent::config::decode_tls(ctx, n))
            .unwrap_or_default(),
        headers: e.string_map(ctx, "headers"),
        html: e
            .string(ctx, "html")
            .unwrap_or_else(|| "{{ template \"email.default.html\" . }}".into()),
        text: e.string(ctx, "text").unwrap_or_default(),
    };
    let _ = e.path(ctx, "auth_secret_file");
    at_most_one(
        ctx,
        item.line,
        cfg.auth_password.is_some(),
        cfg.auth_password_file.is_some(),
        "auth_password",
        "auth_password_file",
    );
    if cfg.auth_password.is_none()
        && cfg.auth_password_file.is_none()
        && cfg.auth_username == g.smtp_auth_username
    {
        cfg.auth_password = g.smtp_auth_password.clone();
        cfg.auth_password_file = g.smtp_auth_password_file.clone();
    }
    if cfg.smarthost.is_empty() {
        ctx.err(item.line, "no global SMTP smarthost set");
    }
    if cfg.from.is_empty() {
        ctx.err(item.line, "no global SMTP from set");
    }
    e.finish(ctx);
    Some(cfg)
}

/// Alertmanager's `DefaultEmailSubject`.
const DEFAULT_SUBJECT: &str = "{{ template \"email.default.subject\" . }}";

/// How long one SMTP session (connect to QUIT) may take; the same bound
/// as an HTTP attempt, for the same reason.
const SMTP_TIMEOUT: Duration = DEFAULT_HTTP_TIMEOUT;

/// One email destination.
pub struct Email {
    conf: EmailConfig,
    host: String,
    port: u16,
    /// From `tls_config`, for port 465 and STARTTLS.
    tls: TlsParameters,
    password: Option<String>,
    /// Header templates by canonical name, `Subject`, `To` and `From`
    /// filled in; sorted, so messages are stable.
    headers: Vec<(String, String)>,
}

/// What the rendered message says.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub from: String,
    pub to: String,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub html: String,
}

impl Email {
    pub fn new(c: &EmailConfig) -> Result<Email, String> {
        let (host, port) = split_host_port(&c.smarthost)?;
        let password = match (&c.auth_password, &c.auth_password_file) {
            (Some(p), _) => Some(p.expose().to_string()),
            (None, Some(f)) => Some(read_secret_file("email auth_password_file", f)?),
            (None, None) => None,
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in &c.headers {
            let name = canonical_header(name);
            HeaderName::new_from_ascii(name.clone())
                .map_err(|_| format!("email header {name:?} is not a valid header name"))?;
            if headers.iter().any(|(n, _)| *n == name) {
                return Err(format!("email header {name:?} is given twice"));
            }
            headers.push((name, value.clone()));
        }
        for (name, default) in [
            ("Subject", DEFAULT_SUBJECT),
            ("To", c.to.as_str()),
            ("From", c.from.as_str()),
        ] {
            if !headers.iter().any(|(n, _)| n == name) {
                headers.push((name.to_string(), default.to_string()));
            }
        }
        headers.sort();
        let tls = tls_parameters(c, &host)?;
        Ok(Email {
            conf: c.clone(),
            host,
            port,
            tls,
            password,
            headers,
        })
    }

    /// Renders addresses, headers and bodies, or — when a template
    /// fails — the plain fallback message.
    pub fn render(&self, n: &Notification) -> Rendered {
        let r = Render::new(n, &n.alerts);
        let c = &self.conf;
        // Addresses fall back to the config text: a message must still
        // be addressable when its templates are broken.
        let from = r.text(&c.from).unwrap_or_else(|_| c.from.clone());
        let to = r.text(&c.to).unwrap_or_else(|_| c.to.clone());
        let full = || -> Result<Rendered, crate::template::TemplateError> {
            let mut headers = Vec::with_capacity(self.headers.len());
            for (name, t) in &self.headers {
                headers.push((name.clone(), r.text(t)?));
            }
            Ok(Rendered {
                from: from.clone(),
                to: to.clone(),
                headers,
                text: r.text(&c.text)?,
                html: r.html(&c.html)?,
            })
        };
        match full() {
            Ok(m) => m,
            Err(e) => {
                r.warn_fallback("email", &e);
                let mut headers = Vec::with_capacity(self.headers.len());
                for (name, t) in &self.headers {
                    let value = match name.as_str() {
                        "Subject" => format!("{} (template error)", r.fallback_subject()),
                        "To" => r.text(t).unwrap_or_else(|_| to.clone()),
                        "From" => r.text(t).unwrap_or_else(|_| from.clone()),
                        // Other headers are kept where they still render.
                        _ => match r.text(t) {
                            Ok(v) => v,
                            Err(_) => continue,
                        },
                    };
                    headers.push((name.clone(), value));
                }
                Rendered {
                    from,
                    to,
                    headers,
                    text: r.fallback_body(&e),
                    html: String::new(),
                }
            }
        }
    }

    /// The envelope and the formatted message.
    pub fn message(&self, n: &Notification) -> Result<(Envelope, Vec<u8>), NotifyError> {
        let m = self.render(n);
        let from: Mailboxes = m.from.parse().map_err(|e| {
            NotifyError::permanent(format!("parsing from addresses {:?}: {e}", m.from))
        })?;
        let from: Vec<Mailbox> = from.into_iter().collect();
        let [from] = from.as_slice() else {
            return Err(NotifyError::permanent(format!(
                "must be exactly one from address, got {:?}",
                m.from
            )));
        };
        let to: Mailboxes = m
            .to
            .parse()
            .map_err(|e| NotifyError::permanent(format!("parsing to addresses {:?}: {e}", m.to)))?;
        let envelope = Envelope::new(
            Some(from.email.clone()),
            to.iter().map(|mb| mb.email.clone()).collect(),
        )
        .map_err(|e| NotifyError::permanent(format!("email envelope: {e}")))?;

        let date = UNIX_EPOCH + Duration::from_millis(n.now.max(0) as u64);
        let mut b = Message::builder()
            .envelope(envelope.clone())
            .date(date)
            .message_id(Some(message_id(n.now, from.email.domain())));
        for (name, value) in &m.headers {
            b = match name.as_str() {
                "From" | "To" | "Cc" | "Reply-To" => {
                    let boxes: Mailboxes = value.parse().map_err(|e| {
                        NotifyError::permanent(format!("parsing {name} header {value:?}: {e}"))
                    })?;
                    match name.as_str() {
                        "From" => b.header(header::From::from(boxes)),
                        "To" => b.header(header::To::from(boxes)),
                        "Cc" => b.header(header::Cc::from(boxes)),
                        _ => b.header(header::ReplyTo::from(boxes)),
                    }
                }
                _ => {
                    let hn = HeaderName::new_from_ascii(name.clone())
                        .expect("BUG: header names are checked when the integration is built");
                    b.raw_header(HeaderValue::new(hn, value.clone()))
                }
            };
        }
        let part = |ct: header::ContentType, body: String| {
            SinglePart::builder()
                .header(ct)
                .header(header::ContentTransferEncoding::QuotedPrintable)
                .body(body)
        };
        let msg = match (m.text.is_empty(), m.html.is_empty()) {
            // The preferred alternative goes last (RFC 2046 §5.1.4).
            (false, false) => b.multipart(
                MultiPart::alternative()
                    .singlepart(part(header::ContentType::TEXT_PLAIN, m.text))
                    .singlepart(part(header::ContentType::TEXT_HTML, m.html)),
            ),
            (true, false) => b.singlepart(part(header::ContentType::TEXT_HTML, m.html)),
            _ => b.singlepart(part(header::ContentType::TEXT_PLAIN, m.text)),
        }
        .map_err(|e| NotifyError::permanent(format!("building the email: {e}")))?;
        Ok((envelope, msg.formatted()))
    }

    /// One SMTP session delivering `bytes`.
    async fn deliver(&self, envelope: &Envelope, bytes: &[u8]) -> Result<(), NotifyError> {
        let smarthost = &self.conf.smarthost;
        let hello = ClientId::Domain(if self.conf.hello.is_empty() {
            "localhost".to_string()
        } else {
            self.conf.hello.clone()
        });
        let implicit_tls = (self.port == 465).then(|| self.tls.clone());
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(SMTP_TIMEOUT),
            &hello,
            implicit_tls,
            None,
        )
        .await
        .map_err(|e| NotifyError::retry(format!("connecting to {smarthost}: {e}")))?;
        if self.conf.require_tls && !conn.is_encrypted() {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(NotifyError::retry(format!(
                    "require_tls: true (default), but {smarthost:?} does not advertise the STARTTLS extension"
                )));
            }
            // A failed handshake leaves lettre's connection without a
            // stream: it is dropped, not sent QUIT.
            conn.starttls(self.tls.clone(), &hello).await.map_err(|e| {
                NotifyError::retry(format!("starttls with {smarthost} failed: {e}"))
            })?;
        }
        let result = self.session(&mut conn, envelope, bytes).await;
        if result.is_ok() {
            if let Err(e) = conn.quit().await {
                tracing::debug!(smarthost = %smarthost, error = %e, "SMTP QUIT failed after the message was accepted");
            }
        } else {
            conn.abort().await;
        }
        result
    }

    async fn session(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        bytes: &[u8],
    ) -> Result<(), NotifyError> {
        let smarthost = &self.conf.smarthost;
        if !self.conf.auth_username.is_empty() {
            let info = conn.server_info();
            let offered = [Mechanism::Plain, Mechanism::Login, Mechanism::Xoauth2]
                .into_iter()
                .any(|m| info.supports_auth_mechanism(m));
            if offered {
                let Some(mechanism) =
                    info.get_auth_mechanism(&[Mechanism::Plain, Mechanism::Login])
                else {
                    return Err(NotifyError::permanent(format!(
                        "{smarthost} offers no AUTH mechanism pharos speaks (PLAIN, LOGIN)"
                    )));
                };
                let Some(password) = &self.password else {
                    return Err(NotifyError::permanent(format!(
                        "missing password for {mechanism} auth mechanism"
                    )));
                };
                let creds = Credentials::new(self.conf.auth_username.clone(), password.clone());
                conn.auth(&[mechanism], &creds).await.map_err(|e| {
                    NotifyError::retry(format!("{mechanism} authentication failed: {e}"))
                })?;
            } else {
                tracing::debug!(smarthost = %smarthost, "the SMTP server offers no AUTH; sending without authenticating");
            }
        }
        conn.send(envelope, bytes).await.map_err(|e| {
            let message = format!("sending the message through {smarthost}: {e}");
            // A 5xx reply (unknown recipient, refused sender) repeats.
            if e.is_permanent() {
                NotifyError::permanent(message)
            } else {
                NotifyError::retry(message)
            }
        })?;
        Ok(())
    }
}

impl Integration for Email {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send_resolved(&self) -> bool {
        self.conf.send_resolved
    }

    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            let (envelope, bytes) = self.message(n)?;
            match tokio::time::timeout(SMTP_TIMEOUT, self.deliver(&envelope, &bytes)).await {
                Ok(r) => r,
                Err(_) => Err(NotifyError::retry(format!(
                    "SMTP session with {} did not finish within {}s",
                    self.conf.smarthost,
                    SMTP_TIMEOUT.as_secs()
                ))),
            }
        })
    }
}

/// `host:port` (`[v6]:port` for IPv6), as Alertmanager's `HostPort`.
fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let bad = || format!("email smarthost {s:?} is not host:port");
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
        (h, p)
    } else {
        s.rsplit_once(':').ok_or_else(bad)?
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = port.parse::<u16>().map_err(|_| bad())?;
    Ok((host.to_string(), port))
}

/// Go's `textproto.CanonicalMIMEHeaderKey` (`x-mailer` → `X-Mailer`),
/// which Alertmanager applies to configured header names.
fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-';
    }
    out
}

/// A unique `Message-Id`: the time, a random number, the sender's domain.
fn message_id(now_ms: i64, domain: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded randomly per process and per instance, which
    // is all the uniqueness a message id needs.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ms);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    format!("<{now_ms}.{:016x}@{domain}>", h.finish())
}

/// The TLS settings of an email receiver, as Alertmanager reads its
/// `tls_config`: the certificate is checked against `server_name` (the
/// smarthost's host by default), `ca`/`ca_file` replaces the system
/// roots, `cert`/`key` is the client certificate, `insecure_skip_verify`
/// accepts any certificate, `min_version` bounds the protocol (TLS 1.2 and
/// 1.3 are spoken; `TLS10`/`TLS11` mean "anything spoken").
fn tls_parameters(c: &EmailConfig, host: &str) -> Result<TlsParameters, String> {
    let t = pharos_agent::scrape::tls_files(&c.tls_config)
        .map_err(|e| format!("email tls_config: {e}"))?;
    if t.max_version.is_some() {
        return Err("email tls_config.max_version is not supported by pharos".into());
    }
    let name = t.server_name.clone().unwrap_or_else(|| host.to_string());
    // Go's InsecureSkipVerify skips the name check as well.
    let mut b = TlsParameters::builder(name)
        .dangerous_accept_invalid_certs(t.insecure_skip_verify)
        .dangerous_accept_invalid_hostnames(t.insecure_skip_verify);
    if let Some(pem) = &t.ca_pem {
        let ca = Certificate::from_pem(pem)
            .map_err(|e| format!("email tls_config: the CA certificates do not parse: {e}"))?;
        b = b
            .certificate_store(CertificateStore::None)
            .add_root_certificate(ca);
    }
    if let Some((cert, key)) = &t.client_pem {
        let id = Identity::from_pem(cert, key).map_err(|e| {
            format!("email tls_config: the client certificate or key does not parse: {e}")
        })?;
        b = b.identify_with(id);
    }
    if t.min_version.as_deref() == Some("TLS13") {
        b = b.set_min_tls_version(TlsVersion::Tlsv13);
    }
    b.build_rustls()
        .map_err(|e| format!("email tls_config: {e}"))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn smarthost_and_header_names() {
        assert_eq!(
            split_host_port("smtp.example.org:587").unwrap(),
            ("smtp.example.org".to_string(), 587)
        );
        assert_eq!(
            split_host_port("[::1]:25").unwrap(),
            ("::1".to_string(), 25)
        );
        assert!(split_host_port("smtp.example.org").is_err());
        assert!(split_host_port(":25").is_err());
        assert_eq!(canonical_header("x-mailer"), "X-Mailer");
        assert_eq!(canonical_header("SUBJECT"), "Subject");
        assert_eq!(canonical_header("reply-to"), "Reply-To");
        let id = message_id(1_700_000_000_000, "example.org");
        assert!(id.starts_with("<1700000000000.") && id.ends_with("@example.org>"));
    }
}
