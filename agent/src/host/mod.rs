//! Built-in host collector: the subset of node_exporter 1.x's Linux
//! collectors that an edge agent needs, read straight from `/proc` and
//! `/sys` with std (plus `statvfs` for filesystems).
//!
//! Metric names, label names, units and types follow node_exporter 1.5
//! (the `prometheus-node-exporter` Debian package), so dashboards and
//! alerts written for node_exporter work unchanged.
//!
//! One file per node_exporter collector: `cpu` (cpu), `memory` (meminfo),
//! `load` (loadavg), `filesystem`, `diskstats`, `netdev`, `stat`, `time`,
//! `pressure`, `filefd`, `netstat`, `sockstat`, `netclass`, `softnet`,
//! `arp`, `conntrack`, `udp_queues`, `uname`, `vmstat`, `timex`, `entropy`,
//! `textfile`. `uname` and `timex` ask the kernel directly (uname(2),
//! adjtimex(2)) as node_exporter does, so they ignore the roots. A collector that fails does not stop the others;
//! like node_exporter, every scrape also reports
//! `node_scrape_collector_success{collector}` and
//! `node_scrape_collector_duration_seconds{collector}`.
//!
//! The roots are injectable so tests can point at fixture trees.

mod arp;
mod conntrack;
mod cpu;
mod diskstats;
mod entropy;
mod filefd;
mod filesystem;
mod load;
mod memory;
mod netclass;
mod netdev;
mod netstat;
mod pressure;
mod sockstat;
mod softnet;
mod stat;
mod textfile;
mod time;
mod timex;
mod udp_queues;
mod uname;
mod vmstat;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::exposition::MetricType;

/// One sample: metric name, labels (sorted by name, no `__name__`), value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// One metric family as node_exporter would expose it.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: MetricType,
    pub samples: Vec<Sample>,
}

impl Family {
    pub(crate) fn new(name: &str, help: &str, kind: MetricType) -> Family {
        Family {
            name: name.to_string(),
            help: help.to_string(),
            kind,
            samples: Vec::new(),
        }
    }

    /// Adds a sample named like the family; labels are sorted here.
    pub(crate) fn push(&mut self, labels: &[(&str, &str)], value: f64) {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        self.samples.push(Sample {
            name: self.name.clone(),
            labels,
            value,
        });
    }

    /// A family with one unlabelled sample.
    pub(crate) fn single(name: &str, help: &str, kind: MetricType, value: f64) -> Family {
        let mut f = Family::new(name, help, kind);
        f.push(&[], value);
        f
    }
}

/// A collector that failed during [`HostCollector::collect_with_errors`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorError {
    /// node_exporter's collector name, e.g. `"meminfo"`.
    pub collector: &'static str,
    pub message: String,
}

/// Where the collectors read from.
pub(crate) struct Roots<'a> {
    pub proc_root: &'a Path,
    pub sys_root: &'a Path,
    pub udev_data: &'a Path,
    /// The textfile collector's directory; `None` reads no files.
    pub textfile_dir: Option<&'a Path>,
}

impl Roots<'_> {
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.proc_root.join(rel)
    }
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sys_root.join(rel)
    }
}

/// Reads a file to a string, naming the path in the error.
pub(crate) fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Parses a number, naming what it was in the error.
pub(crate) fn num(s: &str, what: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .map_err(|_| format!("{what}: cannot parse {s:?} as a number"))
}

type CollectFn = fn(&Roots) -> Result<Vec<Family>, String>;

/// The collectors, by node_exporter name, in output order.
const COLLECTORS: &[(&str, CollectFn)] = &[
    ("arp", arp::collect),
    ("conntrack", conntrack::collect),
    ("cpu", cpu::collect),
    ("diskstats", diskstats::collect),
    ("entropy", entropy::collect),
    ("filefd", filefd::collect),
    ("filesystem", filesystem::collect),
    ("loadavg", load::collect),
    ("meminfo", memory::collect),
    ("netclass", netclass::collect),
    ("netdev", netdev::collect),
    ("netstat", netstat::collect),
    ("pressure", pressure::collect),
    ("sockstat", sockstat::collect),
    ("softnet", softnet::collect),
    ("stat", stat::collect),
    ("textfile", textfile::collect),
    ("time", time::collect),
    ("timex", timex::collect),
    ("udp_queues", udp_queues::collect),
    ("uname", uname::collect),
    ("vmstat", vmstat::collect),
];

/// Collects host metrics the way node_exporter's default Linux collectors
/// of the same names do.
#[derive(Debug, Clone)]
pub struct HostCollector {
    proc_root: PathBuf,
    sys_root: PathBuf,
    udev_data: PathBuf,
    /// node_exporter's `--collector.textfile.directory`; `None` (the
    /// default) reads no files.
    textfile_dir: Option<PathBuf>,
    enabled: BTreeSet<&'static str>,
}

impl Default for HostCollector {
    fn default() -> Self {
        HostCollector::new("/proc", "/sys")
    }
}

impl HostCollector {
    /// All collectors enabled, reading from the given roots (normally
    /// `/proc` and `/sys`). udev data is read from `/run/udev/data`.
    pub fn new(proc_root: impl Into<PathBuf>, sys_root: impl Into<PathBuf>) -> Self {
        HostCollector {
            proc_root: proc_root.into(),
            sys_root: sys_root.into(),
            udev_data: PathBuf::from("/run/udev/data"),
            textfile_dir: None,
            enabled: Self::available().iter().copied().collect(),
        }
    }

    /// Where `node_disk_info` looks up udev properties
    /// (node_exporter's `--collector.diskstats` udev data path).
    pub fn with_udev_data(mut self, path: impl Into<PathBuf>) -> Self {
        self.udev_data = path.into();
        self
    }

    /// Where the textfile collector reads `*.prom` files from
    /// (node_exporter's `--collector.textfile.directory`).
    pub fn with_textfile_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.textfile_dir = Some(path.into());
        self
    }

    /// The collector names this module implements (node_exporter's names).
    pub fn available() -> Vec<&'static str> {
        COLLECTORS.iter().map(|(n, _)| *n).collect()
    }

    /// Enables only the named collectors; unknown names are an error.
    pub fn with_enabled<S: AsRef<str>>(mut self, names: &[S]) -> Result<Self, String> {
        let mut set = BTreeSet::new();
        for n in names {
            let n = n.as_ref();
            match COLLECTORS.iter().find(|(c, _)| *c == n) {
                Some((c, _)) => {
                    set.insert(*c);
                }
                None => {
                    return Err(format!(
                        "unknown host collector {n:?}; known: {}",
                        Self::available().join(", ")
                    ))
                }
            }
        }
        self.enabled = set;
        Ok(self)
    }

    /// The enabled collector names.
    pub fn enabled(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.enabled.iter().copied()
    }

    /// Runs every enabled collector; failures are reported through
    /// `node_scrape_collector_success` only. See [`Self::collect_with_errors`].
    pub fn collect(&self) -> Vec<Family> {
        self.collect_with_errors().0
    }

    /// Runs every enabled collector and returns the families plus one
    /// error per failed collector. A failed collector contributes no
    /// families but does not stop the others.
    pub fn collect_with_errors(&self) -> (Vec<Family>, Vec<CollectorError>) {
        let roots = Roots {
            proc_root: &self.proc_root,
            sys_root: &self.sys_root,
            udev_data: &self.udev_data,
            textfile_dir: self.textfile_dir.as_deref(),
        };
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let mut duration = Family::new(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            MetricType::Gauge,
        );
        let mut success = Family::new(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            MetricType::Gauge,
        );
        for (name, f) in COLLECTORS {
            if !self.enabled.contains(name) {
                continue;
            }
            let start = Instant::now();
            let result = f(&roots);
            let took = start.elapsed().as_secs_f64();
            duration.push(&[("collector", name)], took);
            match result {
                Ok(families) => {
                    success.push(&[("collector", name)], 1.0);
                    out.extend(families.into_iter().filter(|f| !f.samples.is_empty()));
                }
                Err(message) => {
                    success.push(&[("collector", name)], 0.0);
                    errors.push(CollectorError {
                        collector: name,
                        message,
                    });
                }
            }
        }
        out.push(duration);
        out.push(success);
        (out, errors)
    }
}

/// Renders families in the Prometheus text format 0.0.4.
pub fn render_text(families: &[Family]) -> String {
    let mut s = String::new();
    for f in families {
        let help = f.help.replace('\\', "\\\\").replace('\n', "\\n");
        let kind = match f.kind {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            _ => "untyped",
        };
        let _ = writeln!(s, "# HELP {} {}", f.name, help);
        let _ = writeln!(s, "# TYPE {} {}", f.name, kind);
        for smp in &f.samples {
            s.push_str(&smp.name);
            if !smp.labels.is_empty() {
                s.push('{');
                for (i, (k, v)) in smp.labels.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    let v = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    let _ = write!(s, "{k}=\"{v}\"");
                }
                s.push('}');
            }
            let v = smp.value;
            let _ = if v.is_nan() {
                writeln!(s, " NaN")
            } else if v.is_infinite() {
                writeln!(s, " {}", if v > 0.0 { "+Inf" } else { "-Inf" })
            } else {
                writeln!(s, " {v}")
            };
        }
    }
    s
}
