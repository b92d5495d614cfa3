//! Collection: the agent library's scrape engine wired to storage.
//!
//! - [`Collection`] runs the scrape jobs the reload coordinator
//!   (`crate::reload`) hands it, and stops them at shutdown.
//! - `sink.rs`: [`StorageSink`], the scrape engine's sink — scraped
//!   samples from every target committed to storage together.
//! - [`HostCollectors`] is the set of host collectors switched on, changed
//!   at run time through `/api/v1/collectors`.
//! - `metrics.rs`: the scrape metrics on `/metrics`.

pub mod metrics;
mod sink;

use pharos_agent::sync::RwLockExt;
use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use pharos_agent::host::HostCollector;
use pharos_agent::scrape::{self, Job, Manager};

use crate::storage::Storage;

pub use sink::{ScrapedSeries, StorageSink};

/// This machine's host name, for the node job's `instance` label.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The running scrape side of the server: the jobs in force and the sink
/// they store into.
pub struct Collection {
    sink: Arc<StorageSink>,
    manager: Manager<StorageSink>,
    pub host: HostCollectors,
}

impl Collection {
    /// Starts the sink's committer; no job runs until [`Collection::apply`].
    pub fn new(storage: Arc<Storage>) -> Collection {
        let seed = scrape::offset_seed(&[&hostname()]);
        let clock = storage.clock().clone();
        let sink = StorageSink::start(storage);
        Collection {
            manager: Manager::with_clock(Arc::clone(&sink), seed, clock),
            sink,
            host: HostCollectors::default(),
        }
    }

    /// Runs `jobs` from now on: new targets start, gone ones stop (with
    /// stale markers), unchanged ones keep scraping.
    pub fn apply(&self, jobs: Vec<Job>) {
        self.manager.apply(jobs);
    }

    pub fn targets(&self) -> scrape::Snapshot {
        self.manager.snapshot()
    }

    pub fn scrape_stats(&self) -> &scrape::ScrapeStats {
        self.manager.stats()
    }

    /// Stops scraping (shutdown): no stale markers, the series continue
    /// after a restart. What was scraped is committed before this returns.
    pub fn shutdown(&self) {
        self.manager.shutdown();
        self.sink.close();
    }
}

/// A request for host collectors that cannot be met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectorError {
    #[error("unknown collector {0:?}; known: {known}", known = HostCollector::available().join(", "))]
    Unknown(String),
    #[error("collect[] and exclude[] cannot be used together")]
    CollectAndExclude,
}

/// The host collectors switched on. All are on at start.
pub struct HostCollectors {
    enabled: RwLock<BTreeSet<&'static str>>,
}

impl Default for HostCollectors {
    fn default() -> Self {
        HostCollectors {
            enabled: RwLock::new(HostCollector::available().into_iter().collect()),
        }
    }
}

impl HostCollectors {
    /// Every collector and whether it is on.
    pub fn list(&self) -> Vec<(&'static str, bool)> {
        let on = self.enabled.read_locked();
        HostCollector::available()
            .into_iter()
            .map(|n| (n, on.contains(n)))
            .collect()
    }

    /// Switches one collector; unknown names are an error.
    pub fn set(&self, name: &str, on: bool) -> Result<(), CollectorError> {
        let Some(known) = HostCollector::available().into_iter().find(|n| *n == name) else {
            return Err(CollectorError::Unknown(name.to_string()));
        };
        let mut set = self.enabled.write_locked();
        if on {
            set.insert(known);
        } else {
            set.remove(known);
        }
        Ok(())
    }

    /// A collector for one request, as node_exporter's `collect[]` and
    /// `exclude[]` parameters select: `collect[]` names a subset of the
    /// enabled collectors, `exclude[]` removes some; they cannot be mixed.
    pub fn for_request(
        &self,
        collect: &[String],
        exclude: &[String],
    ) -> Result<HostCollector, CollectorError> {
        if !collect.is_empty() && !exclude.is_empty() {
            return Err(CollectorError::CollectAndExclude);
        }
        let on = self.enabled.read_locked().clone();
        for n in collect.iter().chain(exclude) {
            if !HostCollector::available().contains(&n.as_str()) {
                return Err(CollectorError::Unknown(n.clone()));
            }
        }
        let chosen: Vec<&str> = on
            .iter()
            .copied()
            .filter(|n| collect.is_empty() || collect.iter().any(|c| c == n))
            .filter(|n| !exclude.iter().any(|c| c == n))
            .collect();
        // Every name in `chosen` is one of `available()`.
        Ok(HostCollector::default()
            .with_enabled(&chosen)
            .expect("BUG: enabled collectors are known ones"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collectors_toggle_and_request_selection() {
        let h = HostCollectors::default();
        assert!(h.list().iter().all(|(_, on)| *on));
        h.set("cpu", false).unwrap();
        assert!(h.set("nope", false).is_err());
        let c = h.for_request(&[], &[]).unwrap();
        assert!(!c.enabled().any(|n| n == "cpu"));
        let c = h.for_request(&["meminfo".to_string()], &[]).unwrap();
        assert_eq!(c.enabled().collect::<Vec<_>>(), ["meminfo"]);
        let c = h.for_request(&[], &["meminfo".to_string()]).unwrap();
        assert!(!c.enabled().any(|n| n == "meminfo" || n == "cpu"));
        assert!(h
            .for_request(&["cpu".to_string()], &["meminfo".to_string()])
            .is_err());
    }
}
