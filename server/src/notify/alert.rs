//! The notifier's alert: what Prometheus (or pharos's own rule evaluator)
//! posts to `/api/v2/alerts`, as Alertmanager keeps it (`types.Alert`).
//!
//! Times are Unix milliseconds; `ends_at == 0` means "not set". An alert is
//! resolved once its `ends_at` has passed; while a sender keeps it firing it
//! re-posts it with `ends_at` in the future (Prometheus sends
//! `4 × resend_delay` ahead), and an alert posted without `ends_at` gets
//! `now + resolve_timeout` (marked `timeout`).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::template::{zero_time, AmAlert};

/// One alert, identified by its label set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// Unix ms.
    pub starts_at: i64,
    /// Unix ms; 0 when unset.
    pub ends_at: i64,
    pub generator_url: String,
    /// When the store last changed this alert (Unix ms).
    pub updated_at: i64,
    /// `ends_at` was filled in from `resolve_timeout`, not by the sender.
    pub timeout: bool,
}

impl Alert {
    /// The alert's identity: Prometheus's label-set fingerprint (FNV-1a
    /// over sorted names and values, each followed by 0xff), the value
    /// Alertmanager prints as `fingerprint`.
    pub fn fingerprint(&self) -> u64 {
        labels_fingerprint(&self.labels)
    }

    /// The fingerprint as Alertmanager writes it (`%016x`).
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint())
    }

    /// The alert's name (`alertname` label), or "".
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Whether the alert is resolved at `now` (its end has passed).
    pub fn resolved_at(&self, now: i64) -> bool {
        self.ends_at != 0 && self.ends_at <= now
    }

    /// `firing` or `resolved` at `now`.
    pub fn status_at(&self, now: i64) -> &'static str {
        if self.resolved_at(now) {
            "resolved"
        } else {
            "firing"
        }
    }

    /// Folds another report of the same alert into `self`, as
    /// Alertmanager's `Alert.Merge`: the younger report (by update time)
    /// wins, the earliest start is kept, and a later end set by a sender
    /// (not a timeout) is kept.
    pub fn merge(&self, other: &Alert, now: i64) -> Alert {
        if other.updated_at < self.updated_at {
            return other.merge(self, now);
        }
        let mut out = other.clone();
        if self.starts_at < other.starts_at {
            out.starts_at = self.starts_at;
        }
        if other.resolved_at(now) {
            // Both resolved: the latest explicit end wins.
            if self.resolved_at(now) && self.ends_at > other.ends_at {
                out.ends_at = self.ends_at;
            }
        } else if self.ends_at > other.ends_at && !self.timeout {
            out.ends_at = self.ends_at;
        }
        out
    }

    /// The alert as notification templates and payloads see it at `now`.
    pub fn to_template(&self, now: i64) -> AmAlert {
        AmAlert {
            status: self.status_at(now).to_string(),
            labels: self.labels.clone(),
            annotations: self.annotations.clone(),
            starts_at: ms_to_time(self.starts_at),
            ends_at: ms_to_time(self.ends_at),
            generator_url: self.generator_url.clone(),
            fingerprint: self.fingerprint_hex(),
        }
    }
}

/// Prometheus's fingerprint of a label set.
pub fn labels_fingerprint(labels: &BTreeMap<String, String>) -> u64 {
    const OFFSET: u64 = 14695981039346656037;
    const PRIME: u64 = 1099511628211;
    let mut h = OFFSET;
    let mut add = |b: &[u8]| {
        for &x in b {
            h ^= x as u64;
            h = h.wrapping_mul(PRIME);
        }
    };
    // BTreeMap iterates in byte order of the names, as Go's sort.Strings.
    for (k, v) in labels {
        add(k.as_bytes());
        add(&[0xff]);
        add(v.as_bytes());
        add(&[0xff]);
    }
    h
}

/// Unix ms as a UTC time; 0 is Go's zero time (`0001-01-01T00:00:00Z`).
pub fn ms_to_time(ms: i64) -> DateTime<FixedOffset> {
    if ms == 0 {
        return zero_time();
    }
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.fixed_offset())
        .unwrap_or_else(zero_time)
}

/// RFC 3339 as Go marshals a `time.Time` to JSON, and with the three
/// fractional digits of Alertmanager's API.
pub use pharos_agent::gofmt::{rfc3339, rfc3339_millis};

/// Parses an RFC 3339 time into Unix ms; Go's zero time (and anything
/// before 1970) is 0, "unset".
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let t = DateTime::parse_from_rfc3339(s).map_err(|e| format!("invalid time {s:?}: {e}"))?;
    let ms = t.timestamp_millis();
    Ok(if ms <= 0 { 0 } else { ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fingerprint_matches_prometheus() {
        // Values from prometheus/common model's signature tests.
        assert_eq!(labels_fingerprint(&BTreeMap::new()), 14695981039346656037);
        // Read off a real Alertmanager 0.25 (`/api/v2/alerts`).
        assert_eq!(
            labels_fingerprint(&labels(&[("foo", "bar"), ("bar", "foo")])),
            0x8a625e07b8683665
        );
        let a = Alert {
            labels: labels(&[("alertname", "TestAlert")]),
            ..Alert::default()
        };
        assert_eq!(a.fingerprint_hex(), "dab43189276e5f48");
    }

    #[test]
    fn times_round_trip_as_go_marshals_them() {
        assert_eq!(rfc3339(0), "0001-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_700_000_000_120), "2023-11-14T22:13:20.12Z");
        assert_eq!(
            rfc3339_millis(1_700_000_000_120),
            "2023-11-14T22:13:20.120Z"
        );
        assert_eq!(
            rfc3339_millis(1_700_000_000_000),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.5+01:00").unwrap(),
            1_700_000_000_500
        );
        assert!(parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn merge_keeps_first_start_and_real_end() {
        let old = Alert {
            labels: labels(&[("alertname", "A")]),
            starts_at: 1000,
            ends_at: 9000,
            updated_at: 1000,
            ..Alert::default()
        };
        let newer = Alert {
            starts_at: 2000,
            ends_at: 5000,
            updated_at: 2000,
            timeout: true,
            ..old.clone()
        };
        let m = old.merge(&newer, 2500);
        assert_eq!((m.starts_at, m.ends_at), (1000, 9000));
        // Either order gives the same result.
        assert_eq!(newer.merge(&old, 2500), m);
        let resolved = Alert {
            ends_at: 3000,
            updated_at: 3000,
            ..old.clone()
        };
        assert_eq!(old.merge(&resolved, 3500).ends_at, 3000);
        assert_eq!(resolved.status_at(3000), "resolved");
        assert_eq!(old.status_at(3000), "firing");
    }
}
