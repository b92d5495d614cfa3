//! The head: per-series in-memory state. Each [`MemSeries`] holds the open
//! Gorilla chunk samples are appended to, the frozen chunks waiting for the
//! sealer to persist them, and what the append path needs to refuse
//! out-of-order and duplicate samples.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::chunkenc::XorChunk;
use super::labels::Labels;
use super::SeriesId;

/// Chunks cover aligned windows of this many milliseconds (2 h, the block
/// size Prometheus uses), so each sealed chunk holds one window of a series.
pub const WINDOW_MS: i64 = 2 * 3600 * 1000;

/// Most samples one chunk holds. A window at a 1 ms interval would hold 7.2
/// million samples; sealed blobs are capped far below that, and smaller
/// chunks keep decoding for short queries cheap.
pub const MAX_CHUNK_SAMPLES: usize = 1 << 16;

/// The window a timestamp falls in.
pub fn window_of(t: i64) -> i64 {
    t.div_euclid(WINDOW_MS)
}

/// An in-memory chunk and the bookkeeping the write-ahead log needs.
pub struct HeadChunk {
    pub chunk: XorChunk,
    /// Window all samples of this chunk fall in.
    pub window: i64,
    /// Lowest `wal.seq` that holds a sample of this chunk: the log may only be
    /// truncated below the minimum of these over all in-memory chunks.
    pub first_seq: u64,
}

/// An in-memory chunk taken out of the head for reading.
pub enum MemChunk {
    Frozen(Arc<HeadChunk>),
    Open(XorChunk),
}

impl MemChunk {
    /// Appends the samples within `[mint, maxt]` to `out`.
    pub fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<(i64, f64)>) {
        let c = match self {
            MemChunk::Frozen(h) => &h.chunk,
            MemChunk::Open(c) => c,
        };
        out.extend(c.iter().filter(|&(t, _)| t >= mint && t <= maxt));
    }
}

/// What the head keeps per series.
pub struct MemSeries {
    pub id: SeriesId,
    pub labels: Labels,
    /// The open chunk, appended to.
    pub head: Option<HeadChunk>,
    /// Closed chunks not yet committed to the `chunks` table. `Arc` so the
    /// sealer can encode them without holding the head lock.
    pub frozen: Vec<Arc<HeadChunk>>,
    /// Last accepted sample: timestamp and, when known, value bits. After a
    /// restart only the timestamp of persisted data is known; a re-sent
    /// sample at that timestamp is then accepted as a no-op.
    pub last: Option<(i64, Option<u64>)>,
    /// Time range of all data of the series, persisted or not.
    pub min_t: i64,
    pub max_t: i64,
    /// Time range of the persisted chunks (`i64::MAX`/`i64::MIN` when none).
    pub disk_min_t: i64,
    pub disk_max_t: i64,
    /// Newest timestamp the sealer persisted from this series' head: replay
    /// skips write-ahead samples up to here. Distinct from `disk_max_t`
    /// because imported chunks may reach later without covering the log.
    pub sealed_max_t: Option<i64>,
}

/// Where a series sits in the head: its id and its slot in [`SeriesMap`].
/// Callers that append to the same series again and again (scrape loops)
/// keep it, so the append path goes straight to the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRef {
    pub id: SeriesId,
    pub slot: u32,
}

/// The head's series, stored in a dense array of slots with an id → slot
/// map beside it.
///
/// Why not a hash map of series: appends touch every series of a scrape
/// once per scrape, and a hash map scatters them over memory, so each
/// sample cost a cache miss (twice: once while planning, once while
/// applying). Series created together (one scrape's new series) get
/// neighbouring slots here and are appended to in the same order, which
/// the CPU's prefetcher follows. Slots never move: a removed series leaves
/// a hole that the next new series reuses, so a [`SeriesRef`] stays valid
/// until its series is removed (the id check in [`SeriesMap::find`] catches
/// a reused slot).
#[derive(Default)]
pub struct SeriesMap {
    slots: Vec<Option<MemSeries>>,
    slot_of: FxHashMap<SeriesId, u32>,
    free: Vec<u32>,
}

impl SeriesMap {
    /// Adds a series (the id must be new) and returns where it went.
    pub fn insert(&mut self, id: SeriesId, series: MemSeries) -> SeriesRef {
        debug_assert!(!self.slot_of.contains_key(&id), "series {id} added twice");
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(series);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len())
                    .expect("BUG: more than u32::MAX series in the head");
                self.slots.push(Some(series));
                slot
            }
        };
        self.slot_of.insert(id, slot);
        SeriesRef { id, slot }
    }

    pub fn remove(&mut self, id: &SeriesId) -> Option<MemSeries> {
        let slot = self.slot_of.remove(id)?;
        self.free.push(slot);
        self.slots[slot as usize].take()
    }

    /// Where the series with this id is.
    pub fn slot(&self, id: SeriesId) -> Option<SeriesRef> {
        self.slot_of.get(&id).map(|&slot| SeriesRef { id, slot })
    }

    /// Checks a remembered reference (one load, no hashing) and falls back
    /// to the id when its slot now holds another series or none.
    pub fn find(&self, r: SeriesRef) -> Option<SeriesRef> {
        match self.slots.get(r.slot as usize) {
            Some(Some(s)) if s.id == r.id => Some(r),
            _ => self.slot(r.id),
        }
    }

    /// The series at a reference [`SeriesMap::find`] or
    /// [`SeriesMap::insert`] returned (and no removal since).
    pub fn at(&self, r: SeriesRef) -> &MemSeries {
        self.slots[r.slot as usize]
            .as_ref()
            .filter(|s| s.id == r.id)
            .expect("BUG: stale series reference")
    }

    pub fn at_mut(&mut self, r: SeriesRef) -> &mut MemSeries {
        self.slots[r.slot as usize]
            .as_mut()
            .filter(|s| s.id == r.id)
            .expect("BUG: stale series reference")
    }

    pub fn get(&self, id: &SeriesId) -> Option<&MemSeries> {
        self.slot(*id).map(|r| self.at(r))
    }

    pub fn get_mut(&mut self, id: &SeriesId) -> Option<&mut MemSeries> {
        self.slot(*id).map(|r| self.at_mut(r))
    }

    pub fn values(&self) -> impl Iterator<Item = &MemSeries> {
        self.slots.iter().flatten()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut MemSeries> {
        self.slots.iter_mut().flatten()
    }

    /// Heap bytes of the slot array and the id map (not of the series).
    pub fn mem_size(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Option<MemSeries>>()
            + self.slot_of.capacity() * (std::mem::size_of::<(SeriesId, u32)>() + 1)
            + self.free.capacity() * 4
    }
}

/// Outcome of checking one sample against the last accepted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Accept,
    /// Same timestamp and same value as already stored: Prometheus treats a
    /// re-sent sample as success without storing it twice.
    Repeat,
    OutOfOrder,
    Duplicate,
}

/// Checks `(t, v)` against the last accepted sample.
pub fn check(last: Option<(i64, Option<u64>)>, t: i64, v: f64) -> Check {
    match last {
        None => Check::Accept,
        Some((lt, _)) if t > lt => Check::Accept,
        Some((lt, _)) if t < lt => Check::OutOfOrder,
        Some((_, Some(bits))) if bits != v.to_bits() => Check::Duplicate,
        Some(_) => Check::Repeat,
    }
}

impl MemSeries {
    pub fn new(id: SeriesId, labels: Labels) -> MemSeries {
        MemSeries {
            id,
            labels,
            head: None,
            frozen: Vec::new(),
            last: None,
            min_t: i64::MAX,
            max_t: i64::MIN,
            disk_min_t: i64::MAX,
            disk_max_t: i64::MIN,
            sealed_max_t: None,
        }
    }

    /// Earliest timestamp held in memory.
    pub fn mem_min_t(&self) -> Option<i64> {
        self.frozen
            .first()
            .map(|c| &c.chunk)
            .or(self.head.as_ref().map(|h| &h.chunk))
            .and_then(|c| c.min_t())
    }

    /// The in-memory chunks overlapping `[mint, maxt]`, cheap to take under
    /// the head lock: frozen ones are shared, the open one is copied.
    pub fn chunks_in(&self, mint: i64, maxt: i64) -> Vec<MemChunk> {
        let overlaps = |c: &XorChunk| {
            !(c.max_t().is_some_and(|m| m < mint) || c.min_t().is_some_and(|m| m > maxt))
        };
        let mut out: Vec<MemChunk> = self
            .frozen
            .iter()
            .filter(|c| overlaps(&c.chunk))
            .map(|c| MemChunk::Frozen(Arc::clone(c)))
            .collect();
        if let Some(h) = self.head.as_ref().filter(|h| overlaps(&h.chunk)) {
            out.push(MemChunk::Open(h.chunk.clone()));
        }
        out
    }

    /// Appends an accepted sample (`t` after every sample of the series),
    /// freezing the open chunk first when `t` starts a new window or the
    /// chunk is full. Returns whether a chunk was frozen.
    pub fn append(&mut self, t: i64, v: f64, seq: u64) -> bool {
        let window = window_of(t);
        let full = |h: &HeadChunk| h.window != window || h.chunk.len() >= MAX_CHUNK_SAMPLES;
        let froze = self.head.as_ref().is_some_and(full);
        if froze {
            self.freeze();
        }
        let head = self.head.get_or_insert_with(|| HeadChunk {
            chunk: XorChunk::new(),
            window,
            first_seq: seq,
        });
        head.chunk.append(t, v);
        self.last = Some((t, Some(v.to_bits())));
        self.min_t = self.min_t.min(t);
        self.max_t = self.max_t.max(t);
        froze
    }

    /// Closes the open chunk (if any) so the sealer persists it.
    pub fn freeze(&mut self) {
        if let Some(h) = self.head.take() {
            if !h.chunk.is_empty() {
                self.frozen.push(Arc::new(h));
            }
        }
    }

    /// Lowest write-ahead sequence still needed by this series' memory.
    pub fn min_seq(&self) -> Option<u64> {
        self.frozen
            .iter()
            .map(|c| c.first_seq)
            .chain(self.head.as_ref().map(|h| h.first_seq))
            .min()
    }

    /// True when nothing of the series is in memory.
    pub fn memory_empty(&self) -> bool {
        self.head.is_none() && self.frozen.is_empty()
    }

    /// Heap bytes held, for memory accounting.
    pub fn mem_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.head.as_ref().map_or(0, |h| h.chunk.mem_size())
            + self
                .frozen
                .iter()
                .map(|c| c.chunk.mem_size())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series() -> MemSeries {
        MemSeries::new(1, Labels::from_sorted([("__name__", "x")]).unwrap())
    }

    #[test]
    fn check_rules() {
        assert_eq!(check(None, 5, 1.0), Check::Accept);
        assert_eq!(
            check(Some((5, Some(1f64.to_bits()))), 6, 1.0),
            Check::Accept
        );
        assert_eq!(
            check(Some((5, Some(1f64.to_bits()))), 4, 1.0),
            Check::OutOfOrder
        );
        assert_eq!(
            check(Some((5, Some(1f64.to_bits()))), 5, 1.0),
            Check::Repeat
        );
        assert_eq!(
            check(Some((5, Some(1f64.to_bits()))), 5, 2.0),
            Check::Duplicate
        );
        assert_eq!(check(Some((5, None)), 5, 2.0), Check::Repeat);
    }

    #[test]
    fn window_crossing_freezes() {
        let mut s = series();
        s.append(1, 1.0, 10);
        s.append(WINDOW_MS - 1, 2.0, 11);
        assert!(s.frozen.is_empty());
        s.append(WINDOW_MS, 3.0, 12);
        assert_eq!(s.frozen.len(), 1);
        assert_eq!(s.frozen[0].first_seq, 10);
        assert_eq!(s.min_seq(), Some(10));
        let mut out = Vec::new();
        for c in s.chunks_in(2, WINDOW_MS) {
            c.samples_in(2, WINDOW_MS, &mut out);
        }
        assert_eq!(out, vec![(WINDOW_MS - 1, 2.0), (WINDOW_MS, 3.0)]);
        assert_eq!((s.min_t, s.max_t), (1, WINDOW_MS));
    }

    #[test]
    fn series_map_reuses_slots_and_checks_references() {
        let labels = |v: &str| Labels::from_sorted([("__name__", v)]).unwrap();
        let mut m = SeriesMap::default();
        let a = m.insert(10, MemSeries::new(10, labels("a")));
        let b = m.insert(11, MemSeries::new(11, labels("b")));
        assert_eq!(
            (a.slot, b.slot),
            (0, 1),
            "new series take neighbouring slots"
        );
        assert_eq!(m.find(a), Some(a));
        assert_eq!(m.get(&11).unwrap().labels, labels("b"));
        assert_eq!(m.remove(&10).unwrap().id, 10);
        assert_eq!(m.find(a), None, "a removed series is not found");
        let c = m.insert(12, MemSeries::new(12, labels("c")));
        assert_eq!(c.slot, a.slot, "the hole is reused");
        assert_eq!(
            m.find(a),
            None,
            "a reused slot does not answer for the old id"
        );
        // A reference with a wrong slot falls back to the id.
        assert_eq!(m.find(SeriesRef { id: 11, slot: 0 }), Some(b));
        assert_eq!(m.find(SeriesRef { id: 11, slot: 99 }), Some(b));
        let mut ids: Vec<_> = m.values().map(|s| s.id).collect();
        ids.sort();
        assert_eq!(ids, vec![11, 12]);
    }

    #[test]
    fn negative_times_use_floor_windows() {
        assert_eq!(window_of(-1), -1);
        assert_eq!(window_of(0), 0);
    }
}
