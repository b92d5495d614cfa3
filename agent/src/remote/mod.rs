//! The Prometheus remote-write protocol: message types ([`proto`] for 1.0,
//! [`proto::v2`] for 2.0) and the content types and headers that select
//! between them. The server decodes these in its ingest stage; the agent's
//! sender (later) encodes them.

pub mod proto;

/// Content type of a remote-write 1.0 body.
pub const CONTENT_TYPE_V1: &str = "application/x-protobuf";
/// The `proto` parameter naming the 1.0 message.
pub const PROTO_V1: &str = "prometheus.WriteRequest";
/// The `proto` parameter naming the 2.0 message.
pub const PROTO_V2: &str = "io.prometheus.write.v2.Request";
/// Response headers a 2.0 receiver sets with what it stored.
pub const HEADER_SAMPLES_WRITTEN: &str = "X-Prometheus-Remote-Write-Samples-Written";
pub const HEADER_HISTOGRAMS_WRITTEN: &str = "X-Prometheus-Remote-Write-Histograms-Written";
pub const HEADER_EXEMPLARS_WRITTEN: &str = "X-Prometheus-Remote-Write-Exemplars-Written";
/// Request header carrying the protocol version.
pub const HEADER_VERSION: &str = "X-Prometheus-Remote-Write-Version";

/// Which remote-write message a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    /// "1.0" or "2.0", as the specifications are named.
    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => "1.0",
            Version::V2 => "2.0",
        }
    }

    /// The other version.
    pub fn other(self) -> Version {
        match self {
            Version::V1 => Version::V2,
            Version::V2 => Version::V1,
        }
    }
}

/// Picks the message type from a `Content-Type` header as Prometheus does:
/// a missing header or bare `application/x-protobuf` means 1.0; the `proto`
/// parameter selects explicitly. Anything else is unsupported (`None`).
pub fn version_from_content_type(content_type: Option<&str>) -> Option<Version> {
    let Some(ct) = content_type else {
        return Some(Version::V1);
    };
    let mut parts = ct.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    if !media.eq_ignore_ascii_case(CONTENT_TYPE_V1) {
        return None;
    }
    let mut version = Version::V1;
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case("proto") {
            version = match v.trim().trim_matches('"') {
                PROTO_V1 => Version::V1,
                PROTO_V2 => Version::V2,
                _ => return None,
            };
        }
    }
    Some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(version_from_content_type(None), Some(Version::V1));
        assert_eq!(
            version_from_content_type(Some("application/x-protobuf")),
            Some(Version::V1)
        );
        assert_eq!(
            version_from_content_type(Some(
                "application/x-protobuf;proto=io.prometheus.write.v2.Request"
            )),
            Some(Version::V2)
        );
        assert_eq!(
            version_from_content_type(Some(
                "application/x-protobuf; proto=prometheus.WriteRequest"
            )),
            Some(Version::V1)
        );
        assert_eq!(version_from_content_type(Some("application/json")), None);
        assert_eq!(
            version_from_content_type(Some("application/x-protobuf;proto=foo.Bar")),
            None
        );
    }
}
