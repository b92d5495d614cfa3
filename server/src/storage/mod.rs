//! Embedded storage: one SQLite database per data directory holding the series
//! index, compressed sample chunks and the write-ahead log (byte layout in
//! `FORMAT.md`, chunk encodings in `chunkenc/FORMAT.md`).
//!
//! The seams the rest of pharos uses are the two traits [`Appender`] (scrape,
//! remote write, import, recording rules) and [`Queryable`] (HTTP API,
//! PromQL, rules). [`Storage`] implements both, its methods in one file per
//! path:
//!
//! - append (`append.rs`): validate against the head ([`head`]), commit one
//!   write-ahead record ([`wal`]) with any new series, then append to the
//!   in-memory Gorilla chunks ([`chunkenc::XorChunk`]) and acknowledge; and
//!   [`Storage::write_chunks`], the import's backfill straight into sealed
//!   chunks;
//! - maintenance (`maintenance.rs`): [`Storage::seal`] persists frozen head
//!   chunks with the best sealed encoding and truncates the log;
//!   [`Storage::enforce_retention`] drops data past the time and size limits
//!   in small transactions; disk usage and SQLite checkpoints;
//! - select (`select.rs`): label matchers resolve through the inverted
//!   [`index`]; samples come from memory, then from sealed chunks, merged by
//!   time; label names and values;
//! - state (`state.rs`): the key-value `state` table (alert state, silences,
//!   the notification log);
//! - [`verify`]: the read-only consistency check behind `pharos check storage`;
//! - [`exemplars`]: the bounded in-memory exemplar ring beside the head
//!   ([`Storage::exemplars`]), not persisted.
//!
//! This file holds the types, [`Options`], [`Clock`], the [`Storage`] struct
//! and [`Storage::open`] with the series load and log replay it runs, and the
//! chunk rows the append and seal paths both write.

mod append;
pub mod chunkenc;
mod db;
pub mod exemplars;
pub mod head;
pub mod index;
pub mod labels;
mod maintenance;
pub mod mem;
pub mod metrics;
mod select;
pub mod state;
mod varint;
pub mod verify;
pub mod wal;

use pharos_agent::sync::{LockExt, RwLockExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use rusqlite::{params, Connection};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

pub use db::DB_FILE;
use head::MemSeries;
pub use head::SeriesRef;
pub use index::{MatchOp, Matcher, SeriesId};
pub use labels::{Labels, LabelsError, METRIC_NAME};

/// Errors of the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the disk holding the data directory is full; the write was not stored")]
    Full,
    #[error("data directory {path} is in use by another pharos process (stop it first)")]
    Locked { path: PathBuf },
    #[error("data directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the data directory was written by a newer pharos (storage format {0}; this one reads 1)"
    )]
    Version(i64),
    #[error("corrupt data in the storage database: {0}")]
    Corrupt(String),
}

impl StorageError {
    /// Maps SQLite's "disk full" to [`StorageError::Full`].
    fn from_sqlite(e: rusqlite::Error) -> StorageError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StorageError::Full,
            _ => StorageError::Sqlite(e),
        }
    }
}

/// One series' samples in an append batch, oldest first.
#[derive(Debug, Clone)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// Why a sample was refused; these mirror Prometheus's append errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Older than the newest sample of its series.
    OutOfOrder,
    /// Same timestamp as the newest sample of its series, different value.
    Duplicate,
    /// More than [`MAX_AHEAD_MS`] in the future, or older than retention
    /// keeps data.
    OutOfBounds,
}

/// Frozen chunks in memory that make an append ask for an early seal.
const EARLY_SEAL_CHUNKS: usize = 100_000;

/// How far ahead of the clock a sample may be, as Prometheus allows: a
/// sample stamped in micro- or nanoseconds would otherwise push "newest"
/// centuries ahead and retention would delete everything.
pub const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

impl RejectReason {
    /// Prometheus's wording for the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::OutOfOrder => "out of order sample",
            RejectReason::Duplicate => "duplicate sample for timestamp",
            RejectReason::OutOfBounds => "out of bounds",
        }
    }
}

/// What an append did.
#[derive(Debug, Default, Clone)]
pub struct AppendReport {
    /// Samples stored (repeats of an identical stored sample count too, as
    /// in Prometheus: they are success).
    pub written: usize,
    /// Series created by this append.
    pub new_series: usize,
    /// For the scrape path ([`Storage::append_points`]): each entry of the
    /// batch that came without a valid [`SeriesRef`] and whose series now
    /// exists — by its index in the batch — with where that series is, so
    /// the caller remembers it without looking every new series up again
    /// (Prometheus's appender returns the reference the same way). Empty
    /// for [`Appender::append`].
    pub placed: Vec<(usize, SeriesRef)>,
    /// Refused samples by reason, with the first example of each.
    pub rejected: Vec<(RejectReason, usize, String)>,
}

impl AppendReport {
    /// Total refused samples.
    pub fn rejected_total(&self) -> usize {
        self.rejected.iter().map(|r| r.1).sum()
    }
}

/// The write seam: everything that produces samples appends through this.
pub trait Appender: Send + Sync {
    /// Appends a batch atomically: when this returns `Ok`, every sample the
    /// report counts as written is durable; refused samples are reported,
    /// not stored. On `Err` nothing of the batch was stored.
    fn append(&self, batch: Vec<SeriesSamples>) -> Result<AppendReport, StorageError>;
}

/// One selected series and its samples within the requested range.
#[derive(Debug, Clone)]
pub struct SeriesData {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
}

/// See [`Storage::tsdb_stats`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TsdbStats {
    pub series: u64,
    pub chunks: u64,
    pub min_t: i64,
    pub max_t: i64,
    pub cardinality: index::Cardinality,
}

/// The read seam, Prometheus's `storage.Querier`: the HTTP API, PromQL
/// and rules read through this. An implementation answers `series` and
/// `select`; the metadata questions have answers built from `series`,
/// which a store with an index may answer faster.
pub trait Queryable: Send + Sync {
    /// Series matching every matcher that have data in `[mint, maxt]`,
    /// sorted by labels.
    fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError>;
    /// Like [`Queryable::series`], with the samples in `[mint, maxt]`.
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesData>, StorageError>;

    /// Union of the series of several selectors (an empty list: all
    /// series) with data in the range, sorted, without repeats.
    fn series_for_selectors(
        &self,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        if selectors.is_empty() {
            return self.series(&[], mint, maxt);
        }
        let mut all: Vec<Labels> = Vec::new();
        for m in selectors {
            all.extend(self.series(m, mint, maxt)?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Label names of the series matching any of the selectors (all series
    /// when empty) with data in the range, sorted.
    fn label_names(
        &self,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        Ok(label_names_of(
            &self.series_for_selectors(selectors, mint, maxt)?,
        ))
    }

    /// Values of label `name` over the series matching any of the
    /// selectors (all series when empty) with data in the range, sorted.
    fn label_values(
        &self,
        name: &str,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        Ok(label_values_of(
            name,
            &self.series_for_selectors(selectors, mint, maxt)?,
        ))
    }
}

/// The label names of `series`, sorted, once each.
pub(crate) fn label_names_of(series: &[Labels]) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    for labels in series {
        names.extend(labels.iter().map(|(n, _)| n));
    }
    names.into_iter().map(str::to_string).collect()
}

/// The values of label `name` in `series`, sorted, once each.
pub(crate) fn label_values_of(name: &str, series: &[Labels]) -> Vec<String> {
    let values: std::collections::BTreeSet<&str> =
        series.iter().filter_map(|l| l.get(name)).collect();
    values.into_iter().map(str::to_string).collect()
}

/// Storage settings (Prometheus's flag names in brackets).
#[derive(Debug, Clone)]
pub struct Options {
    /// Keep data this many milliseconds behind the newest sample
    /// (`--storage.tsdb.retention.time`); `None` keeps everything.
    pub retention_ms: Option<i64>,
    /// Delete the oldest chunks while the database is larger than this
    /// (`--storage.tsdb.retention.size`).
    pub retention_bytes: Option<u64>,
    /// fsync every commit (durable against power loss). Off for the
    /// offline import, which is re-run rather than resumed.
    pub sync_full: bool,
    /// Wall clock, injected so tests control "now".
    pub clock: Clock,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention_ms: Some(15 * 24 * 3600 * 1000),
            retention_bytes: None,
            sync_full: true,
            clock: Clock::system(),
        }
    }
}

/// A source of "now" in Unix milliseconds: the agent library's, so the
/// scrape engine and storage read one clock type.
pub use pharos_agent::clock::Clock;

/// Counters exposed on `/metrics` and used by tests and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    pub samples_appended: AtomicU64,
    pub samples_out_of_order: AtomicU64,
    pub samples_duplicate: AtomicU64,
    pub samples_out_of_bounds: AtomicU64,
    pub chunks_sealed: AtomicU64,
    pub chunks_deleted: AtomicU64,
    pub series_deleted: AtomicU64,
    pub wal_records_replayed: AtomicU64,
}

/// The in-memory state guarded by one lock: series, their labels → id map,
/// and the inverted index.
#[derive(Default)]
struct Head {
    series: head::SeriesMap,
    // Fx hashing: probed once per new or unknown appended series, and
    // SipHash's flooding resistance buys nothing for keys we created.
    by_labels: FxHashMap<Labels, SeriesId>,
    index: index::Index,
    /// Newest timestamp stored anywhere: retention counts back from it, as
    /// Prometheus counts back from its newest block.
    max_t: i64,
}

/// The one writer connection and the next write-ahead sequence number.
struct Writer {
    conn: Connection,
    next_seq: u64,
    /// Scratch of `append_entries`: per head slot, the batch (by number)
    /// that last planned it and that plan's index. Indexing by slot
    /// replaces a hash map per batch; the batch number makes clearing
    /// unnecessary.
    plan_by_slot: Vec<(u64, u32)>,
    batches: u64,
    /// Scratch of `append_entries`, kept between batches: the plans and
    /// the write-ahead record.
    plans: Vec<Plan>,
    record: Vec<u8>,
}

/// Where a planned series goes: an existing head series, or the n-th new
/// one of the batch.
#[derive(Clone, Copy)]
enum Target {
    Existing(SeriesRef),
    New(usize),
}

/// What one append does to one series.
struct Plan {
    target: Target,
    /// One sample per series is the common case (a scrape); no allocation
    /// for it.
    samples: SmallVec<[(i64, f64); 1]>,
    last: Option<(i64, Option<u64>)>,
}

/// The storage engine of one data directory.
pub struct Storage {
    dir: PathBuf,
    opts: Options,
    /// Serialises writers. A `std` mutex: it is never held across `.await`
    /// (callers run appends on blocking threads).
    writer: Mutex<Writer>,
    /// Lock order: `writer` before `head`, never the reverse.
    head: RwLock<Head>,
    /// Idle read connections, reused across queries.
    readers: Mutex<Vec<Connection>>,
    /// Frozen chunks waiting for the sealer, and the signal that asks for
    /// an early seal when they pile up (a request of sparse old samples can
    /// freeze one chunk per sample; the periodic seal may be a minute away).
    frozen_waiting: std::sync::atomic::AtomicUsize,
    pub seal_wanted: tokio::sync::Notify,
    /// Held for a whole [`Storage::seal`]: two passes at once would both
    /// persist the same frozen chunks.
    sealing: Mutex<()>,
    pub stats: Stats,
    /// Exemplars of the stored series, in memory only (as Prometheus keeps
    /// them); sized by the config's `storage.exemplars.max_exemplars`.
    pub exemplars: exemplars::ExemplarStorage,
    _lock: db::DirLock,
}

impl Storage {
    /// Opens (or creates) the data directory, rebuilds the index from the
    /// `series` table, replays the write-ahead log into the head, and
    /// persists what the replay froze.
    pub fn open(dir: &Path, opts: Options) -> Result<Storage, StorageError> {
        let lock = db::lock_dir(dir)?;
        let conn = db::open_writer(dir, opts.sync_full)?;
        let mut head = Head {
            max_t: i64::MIN,
            ..Head::default()
        };
        load_series(&conn, &mut head)?;
        let next_seq: u64 =
            conn.query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM wal", [], |r| {
                r.get::<_, i64>(0)
            })? as u64;
        let storage = Storage {
            dir: dir.to_path_buf(),
            opts,
            writer: Mutex::new(Writer {
                conn,
                next_seq,
                plan_by_slot: Vec::new(),
                plans: Vec::new(),
                record: Vec::new(),
                batches: 0,
            }),
            head: RwLock::new(head),
            readers: Mutex::new(Vec::new()),
            frozen_waiting: std::sync::atomic::AtomicUsize::new(0),
            seal_wanted: tokio::sync::Notify::new(),
            sealing: Mutex::new(()),
            stats: Stats::default(),
            exemplars: exemplars::ExemplarStorage::new(exemplars::DEFAULT_MAX_EXEMPLARS),
            _lock: lock,
        };
        storage.replay_wal()?;
        storage.seal(false)?;
        Ok(storage)
    }

    /// The clock the store was opened with: the one clock of the server,
    /// which the other stages take from here.
    pub fn clock(&self) -> &Clock {
        &self.opts.clock
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of series in the index.
    pub fn series_count(&self) -> usize {
        self.read_head().index.len()
    }

    /// Head statistics and index cardinality for `/api/v1/status/tsdb`:
    /// (series, chunks in memory, min time, max time, cardinality).
    pub fn tsdb_stats(&self, limit: usize) -> TsdbStats {
        let head = self.read_head();
        let (mut chunks, mut min_t, mut max_t) = (0u64, i64::MAX, i64::MIN);
        for s in head.series.values() {
            chunks += s.frozen.len() as u64 + u64::from(s.head.is_some());
            min_t = min_t.min(s.min_t);
            max_t = max_t.max(s.max_t);
        }
        TsdbStats {
            series: head.index.len() as u64,
            chunks,
            min_t,
            max_t,
            cardinality: head.index.cardinality(limit),
        }
    }

    /// Approximate heap bytes used by the head and index.
    pub fn head_mem_bytes(&self) -> usize {
        let head = self.read_head();
        head.index.mem_size()
            + head
                .series
                .values()
                .map(|s| s.mem_size() + s.labels.mem_size() + 64)
                .sum::<usize>()
    }

    fn read_head(&self) -> std::sync::RwLockReadGuard<'_, Head> {
        self.head.read_locked()
    }

    fn write_head(&self) -> std::sync::RwLockWriteGuard<'_, Head> {
        self.head.write_locked()
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.locked()
    }

    fn replay_wal(&self) -> Result<(), StorageError> {
        let w = self.lock_writer();
        let mut stmt = w.conn.prepare("SELECT seq, data FROM wal ORDER BY seq")?;
        let mut rows = stmt.query([])?;
        let mut head = self.write_head();
        let mut replayed = 0u64;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let data: Vec<u8> = row.get(1)?;
            let head = &mut *head;
            let mut max_t = head.max_t;
            wal::decode(&data, |id, t, v| {
                let Some(s) = head.series.get_mut(&id) else {
                    return;
                };
                // Already sealed into a chunk before the record was deleted,
                // or (never expected) not after the series' last sample.
                if s.sealed_max_t.is_some_and(|m| t <= m)
                    || s.head.is_some() && s.last.is_some_and(|(lt, _)| t <= lt)
                {
                    return;
                }
                s.append(t, v, seq as u64);
                max_t = max_t.max(t);
            })
            .map_err(|e| StorageError::Corrupt(format!("wal record {seq}: {e}")))?;
            head.max_t = max_t;
            replayed += 1;
        }
        // Imported chunks may reach past the replayed samples; appends must
        // still come after everything stored.
        for s in head.series.values_mut() {
            if s.last.is_none_or(|(lt, _)| lt < s.disk_max_t) && s.disk_max_t != i64::MIN {
                s.last = Some((s.disk_max_t, None));
            }
        }
        self.stats
            .wal_records_replayed
            .store(replayed, Ordering::Relaxed);
        Ok(())
    }
}

impl Head {
    fn add_series(&mut self, id: SeriesId, labels: Labels) -> SeriesRef {
        self.index.add(id, &labels);
        self.by_labels.insert(labels.clone(), id);
        self.series.insert(id, MemSeries::new(id, labels))
    }
}

/// A run of one series' samples in a sealed encoding, ready for the
/// `chunks` table.
struct EncodedChunk {
    min_t: i64,
    max_t: i64,
    samples: usize,
    data: Vec<u8>,
}

impl EncodedChunk {
    /// Encodes a non-empty, strictly increasing run.
    fn encode(run: &[(i64, f64)]) -> Option<EncodedChunk> {
        let (first, last) = (run.first()?.0, run.last()?.0);
        Some(EncodedChunk {
            min_t: first,
            max_t: last,
            samples: run.len(),
            data: chunkenc::encode_sealed(run),
        })
    }
}

/// Who wrote a chunk: the `chunks.origin` column (FORMAT.md).
#[derive(Clone, Copy)]
enum Origin {
    /// Sealed from the head: covers the write-ahead log up to its `max_t`.
    Sealer = 0,
    /// Written by an import: covers nothing in the log.
    Import = 1,
}

/// Inserts chunks within the caller's transaction.
fn insert_chunks<'a>(
    tx: &rusqlite::Transaction<'_>,
    origin: Origin,
    rows: impl Iterator<Item = (SeriesId, &'a EncodedChunk)>,
) -> Result<(), StorageError> {
    let mut ins = tx.prepare_cached(
        "INSERT INTO chunks (series_id, min_t, max_t, samples, origin, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (id, e) in rows {
        ins.execute(params![
            id as i64,
            e.min_t,
            e.max_t,
            e.samples as i64,
            origin as i64,
            e.data
        ])
        .map_err(StorageError::from_sqlite)?;
    }
    Ok(())
}

/// Rebuilds the series map and index from the `series` table, with each
/// series' persisted time range.
fn load_series(conn: &Connection, head: &mut Head) -> Result<(), StorageError> {
    let mut stmt = conn.prepare("SELECT id, labels FROM series ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let raw: Vec<u8> = row.get(1)?;
        let labels =
            Labels::decode(&raw).map_err(|e| StorageError::Corrupt(format!("series {id}: {e}")))?;
        head.add_series(id as SeriesId, labels);
    }
    let mut stmt = conn.prepare(
        "SELECT series_id, MIN(min_t), MAX(max_t), MAX(CASE WHEN origin = 0 THEN max_t END) FROM chunks GROUP BY series_id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let (lo, hi): (i64, i64) = (row.get(1)?, row.get(2)?);
        if let Some(s) = head.series.get_mut(&(id as SeriesId)) {
            s.disk_min_t = lo;
            s.disk_max_t = hi;
            s.sealed_max_t = row.get(3)?;
            s.min_t = lo;
            s.max_t = hi;
            s.last = Some((hi, None));
            head.max_t = head.max_t.max(hi);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
