//! The scrape engine's [`Sink`] into storage: series handles are storage
//! [`Labels`], so a known series costs the scrape loop a cache hit and an
//! `Arc` clone; samples from all targets are committed together every
//! 100 ms, and their exemplars go to the exemplar store once the samples
//! are committed.

use pharos_agent::sync::LockExt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use pharos_agent::scrape::{committed, Appended, Committed, ScrapedExemplar, Sink, SinkError};
use rustc_hash::FxHashMap;
use tokio::sync::oneshot::Sender;

use crate::storage::exemplars::{Exemplar, ExemplarError};
use crate::storage::{Labels, SeriesRef, Storage};

/// How long scraped samples wait to be committed together.
const COMMIT_EVERY: Duration = Duration::from_millis(100);
/// Samples that trigger a commit before [`COMMIT_EVERY`] is up.
const COMMIT_AT: usize = 100_000;
/// Commits between sweeps of the interning map (about a minute).
const PRUNE_EVERY_COMMITS: u64 = 300;
/// Samples waiting beyond which scrapes fail instead of queueing: storage
/// has fallen behind (a slow or full disk) and memory must not grow
/// without bound.
const MAX_PENDING: usize = 4_000_000;

/// The scrape engine's view of storage: a group commit. Scrape loops hand
/// their samples over and go on; a committer thread stores everything that
/// arrived in the last [`COMMIT_EVERY`] as one batch — one write-ahead
/// record and one SQLite transaction for all targets instead of one per
/// scrape, which was the largest fixed cost of a scrape. The price: a crash
/// loses at most that much of the scraped (never of the remote-written)
/// data. Refused samples are counted by storage (`pharos_storage_*`).
pub struct StorageSink {
    storage: Arc<Storage>,
    /// One handle per label set, so that every loop holding a series holds
    /// the same handle.
    interned: Mutex<FxHashMap<Labels, ScrapedSeries>>,
    pending: Mutex<Pending>,
    wake: Condvar,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct Pending {
    points: Vec<(ScrapedSeries, (i64, f64))>,
    /// Exemplars of the queued scrapes: stored after their samples, and
    /// only if those are, as Prometheus adds them when it commits.
    exemplars: Vec<(ScrapedSeries, ScrapedExemplar)>,
    /// One answer per queued batch, with its size.
    waiting: Vec<(Sender<Result<Appended, SinkError>>, usize)>,
    closed: bool,
}

impl StorageSink {
    /// Starts the committer thread.
    pub fn start(storage: Arc<Storage>) -> Arc<StorageSink> {
        let sink = Arc::new(StorageSink {
            storage,
            interned: Mutex::new(FxHashMap::default()),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            committer: Mutex::new(None),
        });
        let worker = Arc::clone(&sink);
        let handle = std::thread::Builder::new()
            .name("scrape-commit".into())
            .spawn(move || worker.commit_loop())
            .expect("spawning the scrape committer thread");
        *sink.committer.locked() = Some(handle);
        sink
    }

    fn commit_loop(&self) {
        let mut spare = Vec::new();
        let mut commits = 0u64;
        let mut exemplars;
        loop {
            let (batch, waiting, closed) = {
                let mut p = self.pending.locked();
                if !p.closed && p.points.len() < COMMIT_AT {
                    p = self
                        .wake
                        .wait_timeout(p, COMMIT_EVERY)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                let batch = std::mem::replace(&mut p.points, std::mem::take(&mut spare));
                exemplars = std::mem::take(&mut p.exemplars);
                (batch, std::mem::take(&mut p.waiting), p.closed)
            };
            let result = if batch.is_empty() {
                Ok(Default::default())
            } else {
                let points = batch.iter().map(|(s, p)| (&s.0.labels, s.series_ref(), p));
                let result = self.storage.append_points(points).map_err(|e| {
                    tracing::error!(samples = batch.len(), error = %e, "storing scraped samples failed");
                    SinkError::Storage(e.to_string())
                });
                // Handles that came without a valid reference learn where
                // their series is from the append itself.
                if let Ok(report) = &result {
                    for &(entry, r) in &report.placed {
                        batch[entry].0.remember(r);
                    }
                }
                result
            };
            if result.is_ok() && !exemplars.is_empty() {
                self.store_exemplars(std::mem::take(&mut exemplars));
            }
            commits += 1;
            if commits.is_multiple_of(PRUNE_EVERY_COMMITS) {
                // Handles only the interning map still holds belong to
                // series no loop scrapes any more.
                self.interned
                    .locked()
                    .retain(|_, s| Arc::strong_count(&s.0) > 1);
            }
            for (answer, n) in waiting {
                let _ = answer.send(result.as_ref().map_err(Clone::clone).map(|_| Appended {
                    written: n,
                    ..Appended::default()
                }));
            }
            spare = batch;
            spare.clear();
            if closed && self.pending.locked().points.is_empty() {
                return;
            }
        }
    }

    /// Adds committed scrapes' exemplars to the exemplar store. Refusals
    /// do not fail the scrape (in Prometheus neither: they are logged at
    /// debug level, out-of-order ones counted by the store).
    fn store_exemplars(&self, exemplars: Vec<(ScrapedSeries, ScrapedExemplar)>) {
        for (series, ex) in exemplars {
            let labels = match Labels::from_sorted_any(ex.labels.iter().map(|(n, v)| (n, v))) {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(series = %series.0.labels, error = %e, "exemplar refused");
                    continue;
                }
            };
            let e = Exemplar {
                labels,
                value: ex.value,
                timestamp_ms: ex.timestamp_ms,
                has_timestamp: ex.has_timestamp,
            };
            match self.storage.exemplars.add(&series.0.labels, e) {
                Ok(_) | Err(ExemplarError::Disabled) => {}
                Err(e) => {
                    tracing::debug!(series = %series.0.labels, error = %e, "exemplar refused")
                }
            }
        }
    }

    /// Commits what is waiting and stops the committer (shutdown).
    pub fn close(&self) {
        self.pending.locked().closed = true;
        self.wake.notify_one();
        if let Some(h) = self.committer.locked().take() {
            let _ = h.join();
        }
    }
}

/// A series as scrape loops hold it: its labels and, once storage has it,
/// where it is in storage, so appends go straight to it without hashing
/// the labels. Handles are interned (one per label set), so they compare
/// and hash by address.
#[derive(Clone)]
pub struct ScrapedSeries(Arc<SeriesHandle>);

struct SeriesHandle {
    labels: Labels,
    /// 0 until storage has created the series (ids start at 1). Only the
    /// committer thread writes these two, and storage checks the pair
    /// before trusting it, so relaxed loads are enough.
    id: AtomicU64,
    slot: AtomicU32,
}

impl ScrapedSeries {
    fn series_ref(&self) -> Option<SeriesRef> {
        let id = self.0.id.load(Ordering::Relaxed);
        (id != 0).then(|| SeriesRef {
            id,
            slot: self.0.slot.load(Ordering::Relaxed),
        })
    }

    fn remember(&self, r: SeriesRef) {
        self.0.slot.store(r.slot, Ordering::Relaxed);
        self.0.id.store(r.id, Ordering::Relaxed);
    }
}

impl PartialEq for ScrapedSeries {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for ScrapedSeries {}

impl std::hash::Hash for ScrapedSeries {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}

impl Sink for StorageSink {
    type Series = ScrapedSeries;

    fn series(&self, labels: &[(String, String)]) -> Result<ScrapedSeries, SinkError> {
        let labels = Labels::from_sorted(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .map_err(|e| SinkError::InvalidSeries(e.to_string()))?;
        let mut interned = self.interned.locked();
        if let Some(s) = interned.get(&labels) {
            return Ok(s.clone());
        }
        let s = ScrapedSeries(Arc::new(SeriesHandle {
            labels: labels.clone(),
            id: AtomicU64::new(0),
            slot: AtomicU32::new(0),
        }));
        if let Some(r) = self.storage.series_ref(&labels) {
            s.remember(r);
        }
        interned.insert(labels, s.clone());
        Ok(s)
    }

    fn append(&self, samples: Vec<(ScrapedSeries, i64, f64)>) -> Committed {
        self.append_with_exemplars(samples, Vec::new())
    }

    fn append_with_exemplars(
        &self,
        samples: Vec<(ScrapedSeries, i64, f64)>,
        exemplars: Vec<(ScrapedSeries, ScrapedExemplar)>,
    ) -> Committed {
        let n = samples.len();
        let mut p = self.pending.locked();
        if p.closed {
            return committed(Err(SinkError::Closed("pharos is shutting down")));
        }
        if p.points.len() + n > MAX_PENDING {
            return committed(Err(SinkError::Backlog {
                waiting: p.points.len(),
            }));
        }
        p.points
            .extend(samples.into_iter().map(|(l, t, v)| (l, (t, v))));
        p.exemplars.extend(exemplars);
        let (tx, rx) = tokio::sync::oneshot::channel();
        p.waiting.push((tx, n));
        if p.points.len() >= COMMIT_AT {
            self.wake.notify_one();
        }
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_interns_series_learns_ids_and_survives_stale_ids() {
        use crate::storage::Queryable;
        let dir = tempfile::tempdir().unwrap();
        let storage = Arc::new(Storage::open(dir.path(), Default::default()).unwrap());
        let sink = StorageSink::start(Arc::clone(&storage));
        let l = vec![
            ("__name__".to_string(), "m".to_string()),
            ("job".to_string(), "j".to_string()),
        ];
        let a = sink.series(&l).unwrap();
        assert!(a == sink.series(&l).unwrap(), "one handle per label set");
        assert_eq!(a.series_ref(), None);
        let now = chrono::Utc::now().timestamp_millis();
        let stored = |s: &ScrapedSeries, t: i64, v: f64| {
            sink.append(vec![(s.clone(), t, v)])
                .blocking_recv()
                .unwrap()
                .unwrap()
        };
        assert_eq!(stored(&a, now, 1.0).written, 1);
        let r = a
            .series_ref()
            .expect("the reference is learnt once storage has the series");
        assert_eq!(storage.series_ref(&a.0.labels), Some(r));
        // An id storage no longer knows falls back to the labels, and so
        // does a slot holding another series or none.
        a.remember(SeriesRef {
            id: r.id + 1000,
            ..r
        });
        stored(&a, now + 1000, 2.0);
        assert_eq!(a.series_ref(), Some(r), "a stale reference is re-learnt");
        a.remember(SeriesRef {
            slot: r.slot + 7,
            ..r
        });
        stored(&a, now + 2000, 2.5);
        assert_eq!(a.series_ref(), Some(r));
        let got = storage.select(&[], i64::MIN, i64::MAX).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].samples,
            vec![(now, 1.0), (now + 1000, 2.0), (now + 2000, 2.5)]
        );
        sink.close();
        assert!(sink
            .append(vec![(a, now + 3000, 3.0)])
            .blocking_recv()
            .unwrap()
            .is_err());
    }
}
