//! The TLS side of a job's HTTP client, built from its `tls_config` the
//! way Prometheus (Go's crypto/tls) reads it:
//!
//! - `ca`/`ca_file` replaces the system roots instead of adding to them;
//! - `cert`/`key` (or their files) is the client certificate;
//! - `server_name` is the name the target's certificate must be valid for,
//!   whatever host the scrape URL names (targets found by IP address with
//!   certificates issued for a DNS name);
//! - `insecure_skip_verify` accepts any certificate, still checking that
//!   the handshake is signed by it;
//! - `min_version`/`max_version` bound the protocol (TLS 1.2 and 1.3 are
//!   spoken; `TLS10`/`TLS11` as minimum mean "anything spoken").
//!
//! Go also sends `server_name` as the SNI; the connector takes the SNI
//! from the URL's host, so scrapes reach such targets by that name through
//! a resolver of their own ([`super::http::SniRoute`]). Other clients
//! (Alertmanagers, receivers, scrapes through a proxy) still send the
//! URL's host (none for an IP address).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::TlsFiles;

/// The rustls configuration for `tls`; `http2` offers h2 by ALPN.
pub fn client_config(tls: &TlsFiles, http2: bool) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions = versions(tls.min_version.as_deref(), tls.max_version.as_deref())?;
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_config: {e}"))?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(SignaturesOnly {
            provider: Arc::clone(&provider),
            refusal: None,
        })
    } else {
        let name = match &tls.server_name {
            Some(name) => Some(ServerName::try_from(name.clone()).map_err(|_| {
                format!("tls_config.server_name {name:?} is not a valid DNS name or IP address")
            })?),
            None => None,
        };
        let roots = match &tls.ca_pem {
            Some(pem) => Arc::new(ca_roots(pem)?),
            None => system_roots(),
        };
        if roots.is_empty() {
            // Only https targets need roots: a machine without CA
            // certificates still scrapes plain HTTP.
            Arc::new(SignaturesOnly {
                provider: Arc::clone(&provider),
                refusal: Some(
                    "no CA certificates to verify the target's certificate: \
                     the system has none; set tls_config.ca_file",
                ),
            })
        } else {
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| format!("tls_config: {e}"))?;
            match name {
                Some(name) => Arc::new(FixedName { name, webpki }),
                None => webpki,
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &tls.client_pem {
        Some((cert, key)) => {
            let chain = certificates(cert, "client certificate")?;
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| format!("the client key is not a valid PEM private key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key do not go together: {e}"))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// The protocol versions between `min` and `max` (`TLS10`..`TLS13`);
/// Prometheus's default minimum is TLS 1.2, which is also the lowest
/// spoken here.
fn versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |v: Option<&str>, default: u8, key: &str| match v {
        None | Some("") => Ok(default),
        Some("TLS10") => Ok(10),
        Some("TLS11") => Ok(11),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(other) => Err(format!(
            "tls_config.{key}: unknown TLS version {other:?} (TLS10, TLS11, TLS12 or TLS13)"
        )),
    };
    let (lo, hi) = (rank(min, 12, "min_version")?, rank(max, 13, "max_version")?);
    if hi < lo {
        return Err(format!(
            "tls_config.max_version TLS{hi} is below min_version TLS{lo}"
        ));
    }
    if hi < 12 {
        return Err(format!(
            "tls_config.max_version TLS{hi}: pharos speaks TLS 1.2 and 1.3 only"
        ));
    }
    let mut v = Vec::new();
    if lo <= 12 {
        v.push(&rustls::version::TLS12);
    }
    if hi >= 13 {
        v.push(&rustls::version::TLS13);
    }
    Ok(v)
}

fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the {what} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("the {what} holds no PEM certificate"));
    }
    Ok(certs)
}

/// The configured CA bundle, alone, as Go's `RootCAs`.
fn ca_roots(pem: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(pem, "CA certificate")? {
        roots
            .add(cert)
            .map_err(|e| format!("the CA certificate cannot be used: {e}"))?;
    }
    Ok(roots)
}

/// The system's roots, read once per process (every job's client, and
/// every reload, would otherwise parse the whole store again). Stores
/// often hold a few certificates rustls cannot parse; those are skipped.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: std::sync::OnceLock<Arc<RootCertStore>> = std::sync::OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(found.certs);
        if roots.is_empty() {
            tracing::warn!(
                errors = ?found.errors,
                "no usable system CA certificates: https targets need tls_config.ca_file"
            );
        }
        Arc::new(roots)
    });
    Arc::clone(roots)
}

/// Verifies the certificate for the configured `server_name` instead of
/// the URL's host.
#[derive(Debug)]
struct FixedName {
    name: ServerName<'static>,
    webpki: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for FixedName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _url_host: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.webpki
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Checks only that the handshake is signed by the certificate's key; the
/// certificate itself is accepted (`insecure_skip_verify`) or, with no
/// roots to verify it against, refused saying why.
#[derive(Debug)]
struct SignaturesOnly {
    provider: Arc<CryptoProvider>,
    refusal: Option<&'static str>,
}

impl ServerCertVerifier for SignaturesOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.refusal {
            None => Ok(ServerCertVerified::assertion()),
            Some(why) => Err(rustls::Error::General(why.into())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_min_and_max() {
        let names =
            |min, max| versions(min, max).map(|v| v.iter().map(|v| v.version).collect::<Vec<_>>());
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        assert_eq!(names(None, None), Ok(vec![TLSv1_2, TLSv1_3]));
        assert_eq!(names(Some("TLS10"), None), Ok(vec![TLSv1_2, TLSv1_3]));
        assert_eq!(names(Some("TLS13"), None), Ok(vec![TLSv1_3]));
        assert_eq!(names(None, Some("TLS12")), Ok(vec![TLSv1_2]));
        assert!(names(Some("TLS13"), Some("TLS12"))
            .unwrap_err()
            .contains("below"));
        assert!(names(Some("TLS10"), Some("TLS11"))
            .unwrap_err()
            .contains("1.2 and 1.3"));
        assert!(names(Some("SSL3"), None).unwrap_err().contains("unknown"));
    }

    #[test]
    fn bad_material_is_named() {
        let tls = TlsFiles {
            ca_pem: Some(b"not a certificate".to_vec()),
            ..TlsFiles::default()
        };
        let e = client_config(&tls, true).unwrap_err();
        assert!(e.contains("CA certificate holds no PEM"), "{e}");
        let tls = TlsFiles {
            insecure_skip_verify: true,
            server_name: Some("bad name!".into()),
            ..TlsFiles::default()
        };
        // Nothing is verified, so the name is not needed.
        assert!(client_config(&tls, false).is_ok());
        let tls = TlsFiles {
            server_name: Some("bad name!".into()),
            ..TlsFiles::default()
        };
        let e = client_config(&tls, false).unwrap_err();
        assert!(e.contains("not a valid DNS name"), "{e}");
    }
}
