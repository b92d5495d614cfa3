//! From a discovered target to a scrapable one: Prometheus's
//! `PopulateLabels`.
//!
//! A discovered target is its group's labels overlaid with its own
//! (`__address__`, and `__meta_*` from discovery). The job's defaults are
//! added for every label not already set — `job`, `__scheme__`,
//! `__metrics_path__`, `__scrape_interval__`, `__scrape_timeout__` and one
//! `__param_<name>` per URL parameter — and that set is what the targets API
//! reports as `discoveredLabels`. `relabel_configs` then run; a target they
//! drop is kept only for the API's `droppedTargets`. What survives must
//! have an `__address__`; its `__*` labels shape the URL and the intervals
//! and are then removed, and `instance` defaults to the address.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::relabel::{self, is_valid_label_name};

use super::{parse_duration, Job};

/// Label names with a meaning to the scraper.
pub const ADDRESS: &str = "__address__";
pub const SCHEME: &str = "__scheme__";
pub const METRICS_PATH: &str = "__metrics_path__";
pub const SCRAPE_INTERVAL: &str = "__scrape_interval__";
pub const SCRAPE_TIMEOUT: &str = "__scrape_timeout__";
pub const PARAM_PREFIX: &str = "__param_";

/// A label set: sorted by name, each name once.
pub type LabelSet = Vec<(String, String)>;

/// A target that survived relabeling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Final labels attached to every sample (`instance`, `job`, ...).
    pub labels: LabelSet,
    /// Labels before relabeling, for the targets API.
    pub discovered: LabelSet,
    /// The URL scraped, query included.
    pub url: String,
    pub interval: Duration,
    pub timeout: Duration,
}

impl Target {
    /// Identity of a target within its job: two discoveries of the same
    /// labels and URL are one target (Prometheus hashes the same two).
    pub fn key(&self) -> u64 {
        let mut h = Fnv64::default();
        for (n, v) in &self.labels {
            n.hash(&mut h);
            v.hash(&mut h);
        }
        self.url.hash(&mut h);
        h.finish()
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        get(&self.labels, name)
    }

    /// When in each interval this target is scraped: a fixed point derived
    /// from its identity, so scrapes of many targets spread over the
    /// interval instead of bursting at once, and a restart keeps the phase.
    /// `seed` mixes in something per server (Prometheus uses its external
    /// labels and host name) so two servers do not scrape in lockstep.
    pub fn offset(&self, seed: u64) -> Duration {
        let interval = self.interval.as_nanos().max(1) as u64;
        Duration::from_nanos((self.key() ^ seed) % interval)
    }
}

/// The outcome of relabeling one discovered target.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    Active(Target),
    /// Dropped by `relabel_configs`; the discovered labels are kept for the
    /// API.
    Dropped(LabelSet),
    /// The target cannot be scraped (no address, a bad interval...).
    Invalid {
        discovered: LabelSet,
        error: String,
    },
}

/// Builds a target from its discovered labels (group labels overlaid with
/// the target's own), following Prometheus's `PopulateLabels`.
pub fn populate(job: &Job, mut labels: LabelSet) -> Populated {
    let defaults: [(&str, String); 5] = [
        ("job", job.config.job_name.clone()),
        (SCRAPE_INTERVAL, format_duration(job.config.scrape_interval)),
        (SCRAPE_TIMEOUT, format_duration(job.config.scrape_timeout)),
        (METRICS_PATH, job.config.metrics_path.clone()),
        (SCHEME, job.config.scheme.clone()),
    ];
    for (name, value) in defaults {
        if get(&labels, name).is_none() {
            labels.push((name.to_string(), value));
        }
    }
    for (param, values) in &job.config.params {
        let name = format!("{PARAM_PREFIX}{param}");
        if get(&labels, &name).is_none() {
            if let Some(first) = values.first() {
                labels.push((name, first.clone()));
            }
        }
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    let discovered = labels.clone();

    if !relabel::process(&mut labels, &job.config.relabel_configs) {
        return Populated::Dropped(discovered);
    }
    let invalid = |error: String| Populated::Invalid {
        discovered: discovered.clone(),
        error,
    };
    let Some(address) = get(&labels, ADDRESS).map(str::to_string) else {
        return invalid("no address".to_string());
    };
    if address.contains('/') {
        return invalid(format!(
            "{address:?} is not a valid address: a target address is host:port, without scheme or path"
        ));
    }
    let interval = match get(&labels, SCRAPE_INTERVAL).map(parse_duration) {
        Some(Ok(d)) if !d.is_zero() => d,
        Some(Ok(_)) => return invalid("scrape interval cannot be 0".to_string()),
        Some(Err(e)) => return invalid(format!("error parsing scrape interval: {e}")),
        None => job.config.scrape_interval,
    };
    let timeout = match get(&labels, SCRAPE_TIMEOUT).map(parse_duration) {
        Some(Ok(d)) if !d.is_zero() => d,
        Some(Ok(_)) => return invalid("scrape timeout cannot be 0".to_string()),
        Some(Err(e)) => return invalid(format!("error parsing scrape timeout: {e}")),
        None => job.config.scrape_timeout,
    };
    if timeout > interval {
        return invalid(format!(
            "scrape timeout cannot be greater than scrape interval ({} > {})",
            format_duration(timeout),
            format_duration(interval)
        ));
    }

    let scheme = get(&labels, SCHEME).unwrap_or("http").to_string();
    let path = get(&labels, METRICS_PATH).unwrap_or("/metrics").to_string();
    let mut url = format!("{scheme}://{address}{path}");
    // Parameters: the job's, with the first value of each replaced by its
    // `__param_` label (relabeling may have changed it), plus parameters
    // that only exist as labels.
    let mut params: BTreeMap<String, Vec<String>> = job.config.params.clone();
    for (name, value) in &labels {
        if let Some(p) = name.strip_prefix(PARAM_PREFIX) {
            let values = params.entry(p.to_string()).or_default();
            match values.first_mut() {
                Some(first) => *first = value.clone(),
                None => values.push(value.clone()),
            }
        }
    }
    let mut sep = if path.contains('?') { '&' } else { '?' };
    for (name, values) in &params {
        for v in values {
            let _ = write!(url, "{sep}{}={}", query_escape(name), query_escape(v));
            sep = '&';
        }
    }

    labels.retain(|(n, _)| !n.starts_with("__"));
    if get(&labels, "instance").is_none() {
        labels.push(("instance".to_string(), address));
        labels.sort_by(|a, b| a.0.cmp(&b.0));
    }
    for (name, _) in &labels {
        if !is_valid_label_name(name) {
            return invalid(format!("{name:?} is not a valid label name"));
        }
    }
    Populated::Active(Target {
        labels,
        discovered,
        url,
        interval,
        timeout,
    })
}

/// The value of `name` in a label set (sorted or not).
pub fn get<'a>(labels: &'a [(String, String)], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Prometheus's duration spelling (`1m30s`, `15s`, `500ms`), used for
/// `__scrape_interval__` and in messages.
pub use crate::gofmt::duration as format_duration;

/// Percent-encodes a query component the way Go's `url.QueryEscape` does
/// (scrape `params`; the server's templates and alert links use it too).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// FNV-1a, 64 bit: stable across runs and platforms (std's hasher is
/// seeded per process), so scrape offsets survive restarts.
#[derive(Clone, Copy)]
pub(crate) struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relabel::{Action, RelabelConfig};

    fn pairs(p: &[(&str, &str)]) -> LabelSet {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn active(p: Populated) -> Target {
        match p {
            Populated::Active(t) => t,
            other => panic!("expected an active target, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_instance() {
        let job = Job::for_tests("node");
        let t = active(populate(
            &job,
            pairs(&[("__address__", "h:9100"), ("env", "prod")]),
        ));
        assert_eq!(
            t.labels,
            pairs(&[("env", "prod"), ("instance", "h:9100"), ("job", "node")])
        );
        assert_eq!(t.url, "http://h:9100/metrics");
        assert_eq!(
            t.discovered,
            pairs(&[
                ("__address__", "h:9100"),
                ("__metrics_path__", "/metrics"),
                ("__scheme__", "http"),
                ("__scrape_interval__", "15s"),
                ("__scrape_timeout__", "10s"),
                ("env", "prod"),
                ("job", "node"),
            ])
        );
    }

    #[test]
    fn relabeling_shapes_url_and_params() {
        let mut job = Job::for_tests("blackbox");
        job.config
            .params
            .insert("module".to_string(), vec!["http_2xx".to_string()]);
        job.config.relabel_configs = vec![
            RelabelConfig::new(Action::Replace)
                .source_labels(["__address__"])
                .target_label("__param_target"),
            RelabelConfig::new(Action::Replace)
                .target_label("__address__")
                .replacement("exporter:9115"),
            RelabelConfig::new(Action::Replace)
                .target_label("__scheme__")
                .replacement("https"),
            RelabelConfig::new(Action::Replace)
                .target_label("__scrape_interval__")
                .replacement("1m"),
        ];
        let t = active(populate(&job, pairs(&[("__address__", "example.com")])));
        assert_eq!(
            t.url,
            "https://exporter:9115/metrics?module=http_2xx&target=example.com"
        );
        assert_eq!(t.label("instance"), Some("exporter:9115"));
        assert_eq!(t.interval, Duration::from_secs(60));
    }

    #[test]
    fn dropped_and_invalid_targets() {
        let mut job = Job::for_tests("j");
        job.config.relabel_configs = vec![RelabelConfig::new(Action::Drop)
            .source_labels(["env"])
            .regex("dev")
            .unwrap()];
        assert!(matches!(
            populate(&job, pairs(&[("__address__", "a:1"), ("env", "dev")])),
            Populated::Dropped(_)
        ));
        match populate(&Job::for_tests("j"), pairs(&[("env", "x")])) {
            Populated::Invalid { error, .. } => assert_eq!(error, "no address"),
            other => panic!("{other:?}"),
        }
        match populate(
            &Job::for_tests("j"),
            pairs(&[("__address__", "http://a:1/metrics")]),
        ) {
            Populated::Invalid { error, .. } => assert!(error.contains("host:port"), "{error}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn offsets_are_stable_and_within_the_interval() {
        let job = Job::for_tests("j");
        let a = active(populate(&job, pairs(&[("__address__", "a:1")])));
        let b = active(populate(&job, pairs(&[("__address__", "b:1")])));
        assert!(a.offset(0) < a.interval);
        // A fixed value: the hash must not change between runs or builds
        // (std's seeded hasher would), or targets change phase on restart.
        assert_eq!(a.offset(7), Duration::from_nanos(13_765_400_651));
        assert_ne!(a.offset(7), a.offset(8), "the seed shifts the slot");
        assert_ne!(a.offset(0), b.offset(0));
    }

    #[test]
    fn durations_and_escaping() {
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
