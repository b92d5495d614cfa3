//! Exemplar storage: a bounded, in-memory ring of exemplars, the design of
//! Prometheus's `tsdb/exemplar.go` (`CircularExemplarStorage`, v2.42).
//!
//! Place in the flow: scrape (OpenMetrics exemplars, through the scrape
//! sink once their samples are committed) and the remote-write receiver
//! call [`ExemplarStorage::add`]; `/api/v1/query_exemplars` calls
//! [`ExemplarStorage::select`]; a config reload calls
//! [`ExemplarStorage::resize`] with `storage.exemplars.max_exemplars`.
//!
//! Design constraints, and how they are met:
//!
//! - **Bounded memory.** One ring of at most `max_exemplars` entries for
//!   all series; the newest exemplar overwrites the oldest in the buffer,
//!   whatever its series. The ring grows up to its capacity as exemplars
//!   arrive rather than being allocated whole, so an appliance that
//!   scrapes no OpenMetrics targets pays nothing for the default 100 000.
//! - **Per-series reads without a scan of the ring.** Entries of one
//!   series are chained oldest → newest (`Entry::next`), and an index maps
//!   the series' labels to the two ends of its chain ([`Span`]). When an
//!   entry is overwritten its series' `oldest` moves along the chain, and
//!   a series whose last exemplar goes leaves the index.
//! - **Prometheus's acceptance rules.** An exemplar equal to its series'
//!   newest one (same labels and value; same timestamp if either has one
//!   of its own) is a duplicate and ignored — a counter exposing the same
//!   exemplar at every scrape stores it once. One not newer than the
//!   series' newest is refused as out of order, and counted. Label sets
//!   over [`MAX_LABEL_SET_CHARS`] are refused.
//! - **Not persisted.** As in Prometheus, exemplars live in memory only and
//!   are gone after a restart (Prometheus's WAL replay of exemplars is not
//!   reproduced).
//!
//! One `RwLock` guards the ring: an append is a few stores, a query walks
//! chains under the read lock. Prometheus counts out-of-order refusals
//! only when they happen at commit; here every refusal is counted, since
//! there is one check.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use rustc_hash::FxHashMap;

use super::{Labels, Matcher};

/// Capacity until a config says otherwise: Prometheus's default for
/// `storage.exemplars.max_exemplars`.
pub const DEFAULT_MAX_EXEMPLARS: usize = 100_000;

/// Longest exemplar label set, in Unicode code points of names and values
/// together (OpenMetrics' limit; Prometheus's `ExemplarMaxLabelSetLength`).
pub const MAX_LABEL_SET_CHARS: usize = 128;

/// End of a series' chain. Capacity is kept below it.
const NONE: u32 = u32::MAX;

/// One exemplar.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// Its own labels (`trace_id`…), not the series'; may be empty.
    pub labels: Labels,
    pub value: f64,
    /// Milliseconds: its own timestamp, or its sample's.
    pub timestamp_ms: i64,
    /// Whether the source gave a timestamp (see [`Exemplar::same_as`]).
    pub has_timestamp: bool,
}

impl Exemplar {
    /// Prometheus's `Exemplar.Equals`: timestamps only matter when one of
    /// the two carried its own. An exemplar exposed without a timestamp
    /// takes each scrape's time, and must still be recognised as the one
    /// already stored.
    pub fn same_as(&self, other: &Exemplar) -> bool {
        self.labels == other.labels
            && (!(self.has_timestamp || other.has_timestamp)
                || self.timestamp_ms == other.timestamp_ms)
            && self.value == other.value
    }
}

/// Why an exemplar was not stored. Duplicates are not errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ExemplarError {
    #[error("exemplar storage is disabled (storage.exemplars.max_exemplars is 0)")]
    Disabled,
    #[error("exemplar label set is {0} characters long; names and values together may have at most {MAX_LABEL_SET_CHARS}")]
    LabelLength(usize),
    #[error("out of order exemplar")]
    OutOfOrder,
}

/// A series and its exemplars in a queried range, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExemplars {
    pub series: Labels,
    pub exemplars: Vec<Exemplar>,
}

/// The numbers `/metrics` reports, under Prometheus's
/// `prometheus_tsdb_exemplar_*` names.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExemplarStats {
    pub appended: u64,
    pub out_of_order: u64,
    pub in_storage: usize,
    pub series: usize,
    pub max: usize,
    /// Timestamp (seconds) of the oldest exemplar in the buffer, 0 when
    /// empty: how far back the buffer reaches.
    pub oldest_seconds: f64,
}

/// The exemplar store. See the module documentation.
pub struct ExemplarStorage {
    ring: RwLock<Ring>,
    /// Exemplars stored since start (not duplicates or refusals).
    appended: AtomicU64,
    out_of_order: AtomicU64,
}

struct Ring {
    /// `max_exemplars`; 0 disables the store.
    cap: usize,
    /// Grows to `cap`, then is overwritten in place.
    entries: Vec<Entry>,
    /// Where the next exemplar goes: `entries.len()` until the ring is
    /// full, then the oldest entry.
    next: usize,
    index: FxHashMap<Labels, Span>,
}

struct Entry {
    /// The series' labels (a reference-counted share of one allocation),
    /// to find its index entry when this entry is overwritten.
    series: Labels,
    exemplar: Exemplar,
    /// The series' next newer entry, or [`NONE`].
    next: u32,
}

/// Both ends of a series' chain of entries.
#[derive(Debug, Clone, Copy)]
struct Span {
    oldest: u32,
    newest: u32,
}

impl ExemplarStorage {
    /// A store holding at most `max_exemplars` (0: disabled).
    pub fn new(max_exemplars: usize) -> ExemplarStorage {
        ExemplarStorage {
            ring: RwLock::new(Ring {
                cap: clamp(max_exemplars),
                entries: Vec::new(),
                next: 0,
                index: FxHashMap::default(),
            }),
            appended: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
        }
    }

    /// Adds an exemplar of `series`. `Ok(false)`: a duplicate of the
    /// series' newest exemplar, ignored.
    pub fn add(&self, series: &Labels, e: Exemplar) -> Result<bool, ExemplarError> {
        let mut r = self.ring.write().unwrap_or_else(|p| p.into_inner());
        if r.cap == 0 {
            return Err(ExemplarError::Disabled);
        }
        let chars: usize = e
            .labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum();
        if chars > MAX_LABEL_SET_CHARS {
            return Err(ExemplarError::LabelLength(chars));
        }
        if let Some(span) = r.index.get(series) {
            let newest = &r.entries[span.newest as usize].exemplar;
            if newest.same_as(&e) {
                return Ok(false);
            }
            if e.timestamp_ms <= newest.timestamp_ms {
                self.out_of_order.fetch_add(1, Ordering::Relaxed);
                return Err(ExemplarError::OutOfOrder);
            }
        }
        r.push(series.clone(), e);
        self.appended.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// The exemplars in `[start, end]` (ms, inclusive) of every series that
    /// matches all matchers of at least one of `matcher_sets`, sorted by
    /// series labels.
    pub fn select(
        &self,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<Matcher>],
    ) -> Vec<SeriesExemplars> {
        let r = self.ring.read().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (series, span) in &r.index {
            let at = |i: u32| &r.entries[i as usize];
            if at(span.oldest).exemplar.timestamp_ms > end
                || at(span.newest).exemplar.timestamp_ms < start
            {
                continue;
            }
            let selected = matcher_sets.iter().any(|ms| {
                ms.iter()
                    .all(|m| m.matches(series.get(&m.name).unwrap_or("")))
            });
            if !selected {
                continue;
            }
            let mut exemplars = Vec::new();
            let mut i = span.oldest;
            // A chain is in timestamp order (out-of-order exemplars are
            // refused), so it can stop at the first one past `end`.
            loop {
                let e = at(i);
                if e.exemplar.timestamp_ms > end {
                    break;
                }
                if e.exemplar.timestamp_ms >= start {
                    exemplars.push(e.exemplar.clone());
                }
                if e.next == NONE {
                    break;
                }
                i = e.next;
            }
            if !exemplars.is_empty() {
                out.push(SeriesExemplars {
                    series: series.clone(),
                    exemplars,
                });
            }
        }
        out.sort_by(|a, b| a.series.cmp(&b.series));
        out
    }

    /// Changes the capacity, keeping the newest exemplars that fit (in
    /// the order they came); 0 empties and disables the store. Returns
    /// how many were kept.
    pub fn resize(&self, max_exemplars: usize) -> usize {
        let cap = clamp(max_exemplars);
        let mut r = self.ring.write().unwrap_or_else(|p| p.into_inner());
        if cap == r.cap {
            return r.entries.len();
        }
        let mut old = std::mem::take(&mut r.entries);
        // Oldest first: the ring from `next` on, then what wrapped around
        // (while the ring is not full `next` is its length, so this is
        // the identity).
        old.rotate_left(r.next);
        let keep = old.len().min(cap);
        let drop = old.len() - keep;
        r.cap = cap;
        r.next = 0;
        r.index.clear();
        r.entries = Vec::with_capacity(keep);
        for e in old.into_iter().skip(drop) {
            // Already accepted once, and in order within each series.
            r.push(e.series, e.exemplar);
        }
        keep
    }

    pub fn stats(&self) -> ExemplarStats {
        let r = self.ring.read().unwrap_or_else(|p| p.into_inner());
        let oldest = if r.entries.len() == r.cap {
            r.entries.get(r.next)
        } else {
            r.entries.first()
        };
        ExemplarStats {
            appended: self.appended.load(Ordering::Relaxed),
            out_of_order: self.out_of_order.load(Ordering::Relaxed),
            in_storage: r.entries.len(),
            series: r.index.len(),
            max: r.cap,
            oldest_seconds: oldest.map_or(0.0, |e| e.exemplar.timestamp_ms as f64 / 1000.0),
        }
    }
}

impl Ring {
    /// Stores an accepted exemplar at `next`, overwriting the oldest entry
    /// when the ring is full. `cap` must be above 0.
    fn push(&mut self, series: Labels, exemplar: Exemplar) {
        let at = self.next;
        let at32 = at as u32;
        // Link the series to the new slot before unlinking what the slot
        // held: when that is the series' own oldest entry (a ring smaller
        // than the series' history), the unlink then follows the new link
        // and keeps the series instead of dropping it from the index.
        match self.index.get(&series).copied() {
            Some(span) => self.entries[span.newest as usize].next = at32,
            None => {
                self.index.insert(
                    series.clone(),
                    Span {
                        oldest: at32,
                        newest: at32,
                    },
                );
            }
        }
        let entry = Entry {
            series,
            exemplar,
            next: NONE,
        };
        if at < self.entries.len() {
            let old = std::mem::replace(&mut self.entries[at], entry);
            if old.next == NONE {
                // Its series' last exemplar.
                self.index.remove(&old.series);
            } else if let Some(span) = self.index.get_mut(&old.series) {
                span.oldest = old.next;
            }
        } else {
            self.entries.push(entry);
        }
        let series = &self.entries[at].series;
        self.index
            .get_mut(series)
            .expect("BUG: the series was indexed above")
            .newest = at32;
        self.next = (at + 1) % self.cap;
    }
}

/// Capacity within what the `u32` chain links can address.
fn clamp(n: usize) -> usize {
    n.min(NONE as usize - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MatchOp;

    fn series(name: &str) -> Labels {
        Labels::from_sorted([("__name__", name), ("job", "j")]).unwrap()
    }

    fn ex(trace: &str, value: f64, ts: i64) -> Exemplar {
        Exemplar {
            labels: Labels::from_sorted_any([("trace_id", trace)]).unwrap(),
            value,
            timestamp_ms: ts,
            has_timestamp: true,
        }
    }

    fn all(s: &ExemplarStorage) -> Vec<(String, Vec<i64>)> {
        let any = vec![Vec::new()];
        s.select(i64::MIN, i64::MAX, &any)
            .into_iter()
            .map(|se| {
                (
                    se.series.metric_name().to_string(),
                    se.exemplars.iter().map(|e| e.timestamp_ms).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn wrapping_around_keeps_the_newest() {
        let s = ExemplarStorage::new(3);
        s.add(&series("a"), ex("1", 1.0, 10)).unwrap();
        s.add(&series("b"), ex("2", 1.0, 11)).unwrap();
        s.add(&series("a"), ex("3", 1.0, 12)).unwrap();
        assert_eq!(
            all(&s),
            vec![("a".into(), vec![10, 12]), ("b".into(), vec![11])]
        );
        // The 4th overwrites a's oldest; the 5th b's only one.
        s.add(&series("c"), ex("4", 1.0, 13)).unwrap();
        s.add(&series("a"), ex("5", 1.0, 14)).unwrap();
        assert_eq!(
            all(&s),
            vec![("a".into(), vec![12, 14]), ("c".into(), vec![13])]
        );
        let st = s.stats();
        assert_eq!(
            (st.in_storage, st.series, st.max, st.appended),
            (3, 2, 3, 5)
        );
        assert_eq!(st.oldest_seconds, 0.012);
    }

    #[test]
    fn a_ring_of_one_keeps_the_last() {
        let s = ExemplarStorage::new(1);
        for ts in 1..=3 {
            s.add(&series("a"), ex("t", ts as f64, ts)).unwrap();
        }
        assert_eq!(all(&s), vec![("a".into(), vec![3])]);
        s.add(&series("b"), ex("t", 1.0, 1)).unwrap();
        assert_eq!(all(&s), vec![("b".into(), vec![1])]);
    }

    #[test]
    fn duplicates_are_ignored() {
        let s = ExemplarStorage::new(10);
        assert_eq!(s.add(&series("a"), ex("t", 1.0, 10)), Ok(true));
        assert_eq!(s.add(&series("a"), ex("t", 1.0, 10)), Ok(false));
        // Without timestamps of their own, the scrape time does not count:
        // the same exemplar at every scrape is stored once.
        let untimed = |ts| Exemplar {
            has_timestamp: false,
            ..ex("u", 2.0, ts)
        };
        assert_eq!(s.add(&series("b"), untimed(10)), Ok(true));
        assert_eq!(s.add(&series("b"), untimed(20)), Ok(false));
        // A new value is a new exemplar.
        assert_eq!(
            s.add(
                &series("b"),
                Exemplar {
                    value: 3.0,
                    ..untimed(30)
                }
            ),
            Ok(true)
        );
        let st = s.stats();
        assert_eq!((st.appended, st.in_storage, st.out_of_order), (3, 3, 0));
    }

    #[test]
    fn out_of_order_is_refused_and_counted() {
        let s = ExemplarStorage::new(10);
        s.add(&series("a"), ex("t", 1.0, 10)).unwrap();
        assert_eq!(
            s.add(&series("a"), ex("u", 1.0, 10)),
            Err(ExemplarError::OutOfOrder)
        );
        assert_eq!(
            s.add(&series("a"), ex("u", 1.0, 9)),
            Err(ExemplarError::OutOfOrder)
        );
        // Other series are independent.
        assert_eq!(s.add(&series("b"), ex("u", 1.0, 5)), Ok(true));
        assert_eq!(s.stats().out_of_order, 2);
        assert_eq!(all(&s), vec![("a".into(), vec![10]), ("b".into(), vec![5])]);
    }

    #[test]
    fn label_sets_over_128_characters_are_refused() {
        let s = ExemplarStorage::new(10);
        let long = |v: &str| Exemplar {
            labels: Labels::from_sorted_any([("t", v)]).unwrap(),
            ..ex("", 1.0, 1)
        };
        assert_eq!(
            s.add(&series("a"), long(&"x".repeat(128))),
            Err(ExemplarError::LabelLength(129))
        );
        // Code points, not bytes.
        assert_eq!(s.add(&series("a"), long(&"☃".repeat(127))), Ok(true));
    }

    #[test]
    fn zero_capacity_disables() {
        let s = ExemplarStorage::new(0);
        assert_eq!(
            s.add(&series("a"), ex("t", 1.0, 1)),
            Err(ExemplarError::Disabled)
        );
        assert!(all(&s).is_empty());
    }

    #[test]
    fn resize_keeps_the_newest_in_order() {
        let s = ExemplarStorage::new(4);
        for (i, name) in ["a", "b", "a", "b", "a", "c"].iter().enumerate() {
            s.add(&series(name), ex("t", 1.0, i as i64)).unwrap();
        }
        // Holds 2..=5: a@2 a@4, b@3, c@5.
        assert_eq!(s.resize(3), 3);
        assert_eq!(
            all(&s),
            vec![
                ("a".into(), vec![4]),
                ("b".into(), vec![3]),
                ("c".into(), vec![5])
            ]
        );
        assert_eq!(s.resize(10), 3);
        s.add(&series("a"), ex("t", 1.0, 6)).unwrap();
        assert_eq!(all(&s)[0], ("a".into(), vec![4, 6]));
        assert_eq!(s.stats().max, 10);
        assert_eq!(s.resize(0), 0);
        assert!(all(&s).is_empty());
        assert_eq!(
            s.add(&series("a"), ex("t", 1.0, 7)),
            Err(ExemplarError::Disabled)
        );
        s.resize(2);
        s.add(&series("a"), ex("t", 1.0, 7)).unwrap();
        assert_eq!(all(&s), vec![("a".into(), vec![7])]);
    }

    #[test]
    fn select_filters_by_time_and_matchers() {
        let s = ExemplarStorage::new(10);
        for ts in [10, 20, 30] {
            s.add(&series("a"), ex("t", 1.0, ts)).unwrap();
            s.add(&series("b"), ex("t", 1.0, ts + 1)).unwrap();
        }
        let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        let only_a = vec![vec![m(MatchOp::Equal, "__name__", "a")]];
        let got = s.select(15, 30, &only_a);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0]
                .exemplars
                .iter()
                .map(|e| e.timestamp_ms)
                .collect::<Vec<_>>(),
            vec![20, 30]
        );
        // Sets are alternatives; a matcher on a missing label sees "".
        let either = vec![
            vec![m(MatchOp::Equal, "__name__", "b")],
            vec![
                m(MatchOp::RegexMatch, "__name__", "a"),
                m(MatchOp::Equal, "nope", ""),
            ],
        ];
        assert_eq!(s.select(0, 100, &either).len(), 2);
        assert!(s.select(32, 100, &only_a).is_empty());
        assert!(s.select(0, 9, &only_a).is_empty());
    }

    proptest::proptest! {
        /// The ring against a plain model: a queue of accepted exemplars,
        /// cut to capacity from the front, checked the same way.
        #[test]
        fn behaves_like_a_bounded_queue(
            ops in proptest::collection::vec(
                (0u8..8, 0usize..3, 0i64..20, 0u8..3, proptest::bool::ANY),
                1..120,
            ),
            cap in 0usize..6,
        ) {
            let s = ExemplarStorage::new(cap);
            let mut cap = cap;
            let mut model: std::collections::VecDeque<(usize, Exemplar)> = Default::default();
            let names = ["a", "b", "c"];
            for (op, sid, ts, value, has_ts) in ops {
                if op == 0 {
                    // Resize to 0..6.
                    cap = (ts % 6) as usize;
                    s.resize(cap);
                    while model.len() > cap {
                        model.pop_front();
                    }
                    continue;
                }
                let e = Exemplar { has_timestamp: has_ts, ..ex("t", value as f64, ts) };
                let want = if cap == 0 {
                    Err(ExemplarError::Disabled)
                } else {
                    match model.iter().rev().find(|(i, _)| *i == sid) {
                        Some((_, newest)) if newest.same_as(&e) => Ok(false),
                        Some((_, newest)) if e.timestamp_ms <= newest.timestamp_ms => {
                            Err(ExemplarError::OutOfOrder)
                        }
                        _ => Ok(true),
                    }
                };
                if want == Ok(true) {
                    model.push_back((sid, e.clone()));
                    if model.len() > cap {
                        model.pop_front();
                    }
                }
                proptest::prop_assert_eq!(s.add(&series(names[sid]), e), want);
            }
            let mut expect: Vec<(String, Vec<i64>)> = Vec::new();
            for (sid, name) in names.iter().enumerate() {
                let ts: Vec<i64> = model
                    .iter()
                    .filter(|(i, _)| *i == sid)
                    .map(|(_, e)| e.timestamp_ms)
                    .collect();
                if !ts.is_empty() {
                    expect.push((name.to_string(), ts));
                }
            }
            proptest::prop_assert_eq!(all(&s), expect);
            let st = s.stats();
            proptest::prop_assert_eq!(st.in_storage, model.len());
            proptest::prop_assert_eq!(
                st.oldest_seconds,
                model.front().map_or(0.0, |(_, e)| e.timestamp_ms as f64 / 1000.0)
            );
        }
    }
}
