//! Embedded storage: one SQLite database per data directory holding the series
//! index, compressed sample chunks and the write-ahead log (byte layout in
//! `FORMAT.md`, chunk encodings in `chunkenc/FORMAT.md`).
//!
//! The seams the rest of pharos uses are the two traits [`Appender`] (scrape,
//! remote write, import, recording rules) and [`Queryable`] (HTTP API,
//! PromQL, rules). [`Storage`] implements both:
//!
//! - append: validate against the head ([`head`]), commit one write-ahead
//!   record ([`wal`]) with any new series, then append to the in-memory
//!   Gorilla chunks ([`chunkenc::XorChunk`]) and acknowledge;
//! - [`Storage::seal`]: persist frozen head chunks with the best sealed
//!   encoding and truncate the log;
//! - [`Storage::enforce_retention`]: drop data past the time and size limits
//!   in small transactions;
//! - select: label matchers resolve through the inverted [`index`]; samples
//!   come from memory, then from sealed chunks, merged by time;
//! - [`verify`]: the read-only consistency check behind `pharos check storage`;
//! - [`exemplars`]: the bounded in-memory exemplar ring beside the head
//!   ([`Storage::exemplars`]), not persisted.

pub mod chunkenc;
mod db;
pub mod exemplars;
pub mod head;
pub mod index;
pub mod labels;
pub mod metrics;
mod varint;
pub mod verify;
pub mod wal;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use rusqlite::{params, Connection};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

pub use db::DB_FILE;
pub use head::SeriesRef;
use head::{Check, MemSeries};
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

/// The read seam: the HTTP API, PromQL and rules read through this.
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

/// A source of "now" in Unix milliseconds.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0)
        }))
    }

    /// A clock reading `f`, for tests that move time by hand.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(f))
    }

    /// A clock stuck at `ms`, for tests.
    pub fn fixed(ms: i64) -> Clock {
        Clock(Arc::new(move || ms))
    }

    /// Now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock(now={})", self.now_ms())
    }
}

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

    /// Bytes of database pages in use (see [`db::used_bytes`]).
    pub fn disk_bytes(&self) -> Result<u64, StorageError> {
        let w = self.lock_writer();
        db::used_bytes(&w.conn)
    }

    /// Bytes of SQLite's `-wal` file, which holds commits not yet copied
    /// into the main file.
    pub fn sqlite_wal_bytes(&self) -> u64 {
        db::wal_file_bytes(&self.dir)
    }

    /// Copies SQLite's own log into the main file as far as readers allow
    /// (never waiting for them), so page counts reflect what is stored.
    pub fn checkpoint(&self) -> Result<(), StorageError> {
        let w = self.lock_writer();
        w.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(StorageError::from_sqlite)
    }

    /// Timestamps before this are past `--storage.tsdb.retention.time`,
    /// counted back from the newest sample (as Prometheus counts from its
    /// newest block), but never from later than the clock.
    pub fn retention_cutoff(&self) -> Option<i64> {
        let ret = self.opts.retention_ms?;
        let newest = self.read_head().max_t;
        (newest != i64::MIN).then(|| newest.min(self.opts.clock.now_ms()).saturating_sub(ret))
    }

    /// Stores `value` under `key` in the `state` table (FORMAT.md),
    /// replacing what was there: the rule evaluator's alert state, the
    /// notifier's silences and log. Durable when this returns.
    pub fn put_state(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        let w = self.lock_writer();
        w.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO state (key, value, updated) VALUES (?1, ?2, ?3)",
            )?
            .execute(rusqlite::params![key, value, self.opts.clock.now_ms()])
            .map_err(StorageError::from_sqlite)?;
        Ok(())
    }

    /// The value stored under `key`, if any.
    pub fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let w = self.lock_writer();
        let mut stmt = w
            .conn
            .prepare_cached("SELECT value FROM state WHERE key = ?1")?;
        let mut rows = stmt.query([key])?;
        match rows.next()? {
            Some(r) => Ok(Some(r.get(0)?)),
            None => Ok(None),
        }
    }

    /// Every `(key, value)` whose key starts with `prefix`, in key order.
    pub fn list_state(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let w = self.lock_writer();
        let mut stmt = w.conn.prepare_cached(
            "SELECT key, value FROM state WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
        )?;
        let rows = stmt.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes the value under `key`.
    pub fn delete_state(&self, key: &str) -> Result<(), StorageError> {
        let w = self.lock_writer();
        w.conn
            .execute("DELETE FROM state WHERE key = ?1", [key])
            .map_err(StorageError::from_sqlite)?;
        Ok(())
    }

    fn read_head(&self) -> std::sync::RwLockReadGuard<'_, Head> {
        self.head.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_head(&self) -> std::sync::RwLockWriteGuard<'_, Head> {
        self.head.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Persists frozen chunks (and, with `freeze_idle`, first freezes open
    /// chunks whose window ended a whole window before the newest sample),
    /// then truncates the write-ahead log. Returns the chunks written.
    ///
    /// Encoding runs without any lock; only the commit holds the writer.
    pub fn seal(&self, freeze_idle: bool) -> Result<usize, StorageError> {
        let _one_at_a_time = self.sealing.lock().unwrap_or_else(|e| e.into_inner());
        let frozen: Vec<(SeriesId, Arc<head::HeadChunk>)> = {
            let mut head = self.write_head();
            if freeze_idle && head.max_t != i64::MIN {
                let current = head::window_of(head.max_t.min(self.opts.clock.now_ms()));
                for s in head.series.values_mut() {
                    if s.head.as_ref().is_some_and(|h| h.window < current - 1) {
                        s.freeze();
                    }
                }
            }
            self.frozen_waiting.store(0, Ordering::Relaxed);
            head.series
                .values()
                .flat_map(|s| s.frozen.iter().map(move |c| (s.id, Arc::clone(c))))
                .collect()
        };
        let encoded: Vec<(SeriesId, &Arc<head::HeadChunk>, EncodedChunk)> = frozen
            .iter()
            .filter_map(|(id, c)| {
                let samples: Vec<(i64, f64)> = c.chunk.iter().collect();
                Some((*id, c, EncodedChunk::encode(&samples)?))
            })
            .collect();
        let mut w = self.lock_writer();
        if !encoded.is_empty() {
            let tx = w.conn.transaction().map_err(StorageError::from_sqlite)?;
            insert_chunks(
                &tx,
                Origin::Sealer,
                encoded.iter().map(|(id, _, e)| (*id, e)),
            )?;
            tx.commit().map_err(StorageError::from_sqlite)?;
            let mut head = self.write_head();
            // Frozen chunks are only ever pushed at the end and only the
            // sealer removes them, so the ones just sealed are a prefix of
            // each series' list, in order: drop them by count rather than
            // searching (a series with many frozen chunks made that
            // quadratic).
            let mut taken: FxHashMap<SeriesId, usize> = FxHashMap::default();
            for (id, chunk, e) in &encoded {
                let (min_t, max_t) = (&e.min_t, &e.max_t);
                let Some(s) = head.series.get_mut(id) else {
                    continue;
                };
                let k = taken.entry(*id).or_default();
                assert!(
                    s.frozen.get(*k).is_some_and(|c| Arc::ptr_eq(c, chunk)),
                    "BUG: sealed chunks are not the oldest frozen chunks of series {id}"
                );
                *k += 1;
                s.disk_min_t = s.disk_min_t.min(*min_t);
                s.disk_max_t = s.disk_max_t.max(*max_t);
                s.sealed_max_t = Some(s.sealed_max_t.map_or(*max_t, |m| m.max(*max_t)));
            }
            for (id, k) in taken {
                if let Some(s) = head.series.get_mut(&id) {
                    s.frozen.drain(..k);
                }
            }
        }
        // Every record below the oldest one memory still needs is now
        // covered by sealed chunks.
        let keep_from = {
            let head = self.read_head();
            head.series
                .values()
                .filter_map(MemSeries::min_seq)
                .min()
                .unwrap_or(w.next_seq)
        };
        w.conn
            .execute("DELETE FROM wal WHERE seq < ?1", [keep_from as i64])
            .map_err(StorageError::from_sqlite)?;
        self.stats
            .chunks_sealed
            .fetch_add(encoded.len() as u64, Ordering::Relaxed);
        Ok(encoded.len())
    }

    /// Deletes chunks past the retention limits, a batch per transaction so
    /// appends interleave, then series left without any data. Returns the
    /// number of chunks deleted.
    pub fn enforce_retention(&self) -> Result<usize, StorageError> {
        const BATCH: i64 = 500;
        let mut deleted = 0usize;
        let mut touched: HashSet<SeriesId> = HashSet::new();
        if let Some(cutoff) = self.retention_cutoff() {
            loop {
                let ids = self.delete_chunks(
                    "SELECT id FROM chunks WHERE max_t < ?1 LIMIT ?2",
                    params![cutoff, BATCH],
                )?;
                deleted += ids.len();
                let done = (ids.len() as i64) < BATCH;
                touched.extend(ids);
                if done {
                    break;
                }
            }
        }
        if let Some(limit) = self.opts.retention_bytes {
            // Page counts are logical: freed pages count as free at once,
            // whether or not SQLite's log was copied back yet.
            while self.disk_bytes()? > limit {
                // Small steps: chunks can be large, and each step re-measures.
                let ids = self.delete_chunks(
                    "SELECT id FROM chunks ORDER BY max_t LIMIT ?1",
                    params![BATCH / 16],
                )?;
                if ids.is_empty() {
                    tracing::warn!(
                        limit,
                        "every chunk is deleted and the database is still over --storage.tsdb.retention.size"
                    );
                    break;
                }
                deleted += ids.len();
                touched.extend(ids);
            }
        }
        if !touched.is_empty() {
            self.refresh_series_ranges(touched)?;
        }
        self.stats
            .chunks_deleted
            .fetch_add(deleted as u64, Ordering::Relaxed);
        Ok(deleted)
    }

    /// Deletes the chunks whose ids `select` yields; returns their series.
    fn delete_chunks(
        &self,
        select: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<SeriesId>, StorageError> {
        let mut w = self.lock_writer();
        let tx = w.conn.transaction().map_err(StorageError::from_sqlite)?;
        let series: Vec<SeriesId> = {
            let sql = format!("DELETE FROM chunks WHERE id IN ({select}) RETURNING series_id");
            let mut stmt = tx.prepare(&sql)?;
            let rows = stmt.query_map(args, |r| r.get::<_, i64>(0))?;
            rows.map(|r| r.map(|id| id as SeriesId))
                .collect::<Result<_, _>>()?
        };
        tx.commit().map_err(StorageError::from_sqlite)?;
        Ok(series)
    }

    /// Recomputes the persisted range of series that lost chunks, and
    /// deletes those left with no data at all.
    fn refresh_series_ranges(&self, ids: HashSet<SeriesId>) -> Result<(), StorageError> {
        let mut w = self.lock_writer();
        // Ranges are read holding only the writer (appends wait, queries
        // do not); the head lock is taken briefly to apply them.
        // (series, first, last, last sealed from the head) of what is left.
        type Ranges = Vec<(SeriesId, Option<i64>, Option<i64>, Option<i64>)>;
        let ranges: Ranges = {
            let mut stmt = w.conn.prepare_cached(
                "SELECT MIN(min_t), MAX(max_t), MAX(CASE WHEN origin = 0 THEN max_t END) FROM chunks WHERE series_id = ?1",
            )?;
            ids.into_iter()
                .map(|id| {
                    stmt.query_row([id as i64], |r| Ok((id, r.get(0)?, r.get(1)?, r.get(2)?)))
                })
                .collect::<Result<_, _>>()?
        };
        let mut gone = Vec::new();
        {
            let mut head = self.write_head();
            for (id, lo, hi, sealed) in ranges {
                let Some(s) = head.series.get_mut(&id) else {
                    continue;
                };
                s.disk_min_t = lo.unwrap_or(i64::MAX);
                s.disk_max_t = hi.unwrap_or(i64::MIN);
                s.sealed_max_t = sealed;
                s.min_t = s.disk_min_t.min(s.mem_min_t().unwrap_or(i64::MAX));
                if lo.is_none() && s.memory_empty() {
                    gone.push(id);
                }
            }
        }
        if gone.is_empty() {
            return Ok(());
        }
        let tx = w.conn.transaction().map_err(StorageError::from_sqlite)?;
        {
            let mut del = tx.prepare_cached("DELETE FROM series WHERE id = ?1")?;
            for id in &gone {
                del.execute([*id as i64])
                    .map_err(StorageError::from_sqlite)?;
            }
        }
        tx.commit().map_err(StorageError::from_sqlite)?;
        let mut head = self.write_head();
        for id in &gone {
            if let Some(s) = head.series.remove(id) {
                head.by_labels.remove(&s.labels);
                head.index.remove(*id, &s.labels);
            }
        }
        self.stats
            .series_deleted
            .fetch_add(gone.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Writes whole runs of samples straight into sealed chunks, bypassing
    /// the head and the log: the backfill path of `pharos import`. Samples of
    /// each series must be strictly increasing. Older data may overlap what
    /// is stored; readers merge it. One transaction per call.
    pub fn write_chunks(&self, batch: &[SeriesSamples]) -> Result<AppendReport, StorageError> {
        let mut report = AppendReport::default();
        // Encode before taking the writer: it is the expensive part.
        let encoded: Vec<Vec<EncodedChunk>> = batch
            .iter()
            .map(|s| {
                s.samples
                    .chunk_by(|a, b| head::window_of(a.0) == head::window_of(b.0))
                    .flat_map(|run| run.chunks(head::MAX_CHUNK_SAMPLES))
                    .filter_map(EncodedChunk::encode)
                    .collect()
            })
            .collect();
        let mut w = self.lock_writer();
        let tx = w.conn.transaction().map_err(StorageError::from_sqlite)?;
        let mut ids = Vec::with_capacity(batch.len());
        let mut new_series = Vec::new();
        {
            let head = self.read_head();
            let mut ins_series = tx.prepare_cached("INSERT INTO series (labels) VALUES (?1)")?;
            for s in batch {
                match head.by_labels.get(&s.labels) {
                    Some(&id) => ids.push(id),
                    None => {
                        // The same new series may occur twice in one batch.
                        if let Some((id, _)) = new_series.iter().find(|(_, l)| *l == &s.labels) {
                            ids.push(*id);
                            continue;
                        }
                        ins_series
                            .execute([s.labels.encode()])
                            .map_err(StorageError::from_sqlite)?;
                        let id = tx.last_insert_rowid() as SeriesId;
                        new_series.push((id, &s.labels));
                        ids.push(id);
                    }
                }
            }
            let rows = encoded
                .iter()
                .zip(&ids)
                .flat_map(|(chunks, id)| chunks.iter().map(move |e| (*id, e)));
            insert_chunks(&tx, Origin::Import, rows)?;
        }
        tx.commit().map_err(StorageError::from_sqlite)?;
        let mut head = self.write_head();
        for (id, labels) in &new_series {
            head.add_series(*id, (*labels).clone());
        }
        for (s, id) in batch.iter().zip(&ids) {
            let (Some(first), Some(last)) = (s.samples.first(), s.samples.last()) else {
                continue;
            };
            head.max_t = head.max_t.max(last.0);
            let ms = head
                .series
                .get_mut(id)
                .expect("BUG: imported series not in head");
            ms.disk_min_t = ms.disk_min_t.min(first.0);
            ms.disk_max_t = ms.disk_max_t.max(last.0);
            ms.min_t = ms.min_t.min(first.0);
            ms.max_t = ms.max_t.max(last.0);
            if ms.last.is_none_or(|(lt, _)| lt < last.0) {
                ms.last = Some((last.0, Some(last.1.to_bits())));
            }
            report.written += s.samples.len();
        }
        report.new_series = new_series.len();
        Ok(report)
    }

    fn reader(&self) -> Result<Connection, StorageError> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(c) => Ok(c),
            None => db::open_reader(&self.dir),
        }
    }

    fn return_reader(&self, c: Connection) {
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < 8 {
            pool.push(c);
        }
    }

    /// Label names of series matching any of the selectors (all series when
    /// `selectors` is empty) with data in the range, sorted.
    pub fn label_names(
        &self,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        if selectors.is_empty() && mint == i64::MIN && maxt == i64::MAX {
            return Ok(self.read_head().index.label_names());
        }
        let mut names = std::collections::BTreeSet::new();
        for labels in self.series_for_selectors(selectors, mint, maxt)? {
            names.extend(labels.iter().map(|(n, _)| n.to_string()));
        }
        Ok(names.into_iter().collect())
    }

    /// Values of label `name` over series matching any of the selectors (all
    /// series when empty) with data in the range, sorted.
    pub fn label_values(
        &self,
        name: &str,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        if selectors.is_empty() && mint == i64::MIN && maxt == i64::MAX {
            return Ok(self.read_head().index.label_values(name));
        }
        let mut values = std::collections::BTreeSet::new();
        for labels in self.series_for_selectors(selectors, mint, maxt)? {
            if let Some(v) = labels.get(name) {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }

    /// Union of the series of several selectors (empty list = all series),
    /// sorted, without repeats.
    pub fn series_for_selectors(
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

/// Value bits of the persisted sample of series `id` at timestamp `t`, if any.
fn stored_value_bits(conn: &Connection, id: SeriesId, t: i64) -> Result<Option<u64>, StorageError> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM chunks WHERE series_id = ?1 AND min_t <= ?2 AND max_t >= ?2",
    )?;
    let mut rows = stmt.query(params![id as i64, t])?;
    let mut samples = Vec::new();
    while let Some(row) = rows.next()? {
        samples.clear();
        let blob = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
        chunkenc::decode_sealed_into(blob, &mut samples)
            .map_err(|e| StorageError::Corrupt(format!("chunk of series {id}: {e}")))?;
        if let Some(&(_, v)) = samples.iter().find(|s| s.0 == t) {
            return Ok(Some(v.to_bits()));
        }
    }
    Ok(None)
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

impl Appender for Storage {
    fn append(&self, batch: Vec<SeriesSamples>) -> Result<AppendReport, StorageError> {
        self.append_entries(
            batch
                .iter()
                .map(|e| (&e.labels, None, e.samples.as_slice())),
        )
    }
}

impl Storage {
    /// Appends one sample per entry, as one batch with [`Appender::append`]'s
    /// guarantees — the scrape path, without a vector per sample. An entry
    /// may carry the reference [`Storage::series_ref`] gave for its labels:
    /// the series is then found at its slot instead of by hashing its label
    /// set (a series retention has since deleted falls back to the labels).
    pub fn append_points<'a>(
        &self,
        points: impl Iterator<Item = (&'a Labels, Option<SeriesRef>, &'a (i64, f64))>,
    ) -> Result<AppendReport, StorageError> {
        self.append_entries(points.map(|(l, r, s)| (l, r, std::slice::from_ref(s))))
    }

    /// Where the series with these labels is, if it exists.
    pub fn series_ref(&self, labels: &Labels) -> Option<SeriesRef> {
        let head = self.read_head();
        head.by_labels
            .get(labels)
            .and_then(|&id| head.series.slot(id))
    }

    fn append_entries<'a>(
        &self,
        batch: impl Iterator<Item = (&'a Labels, Option<SeriesRef>, &'a [(i64, f64)])>,
    ) -> Result<AppendReport, StorageError> {
        let mut report = AppendReport::default();
        let mut reasons: HashMap<RejectReason, (usize, String)> = HashMap::new();
        let too_new = self.opts.clock.now_ms().saturating_add(MAX_AHEAD_MS);
        let too_old = self.retention_cutoff().unwrap_or(i64::MIN);
        let mut w = self.lock_writer();

        // 1. Plan under the read lock: which samples are accepted, which
        //    series are new. Holding `writer` means no one else appends, so
        //    the decisions stay valid until step 3.
        // The plan vector is the writer's, reused: a batch of a scrape
        // round plans thousands of series, and a fresh buffer of that size
        // per batch is fresh memory the kernel has to fault in and zero.
        let mut plans = std::mem::take(&mut w.plans);
        plans.clear();
        plans.reserve(batch.size_hint().0);
        let mut new_labels: Vec<Labels> = Vec::new();
        {
            let head = self.read_head();
            let Writer {
                conn,
                plan_by_slot,
                batches,
                ..
            } = &mut *w;
            *batches += 1;
            let batch_no = *batches;
            let mut plan_of_new: FxHashMap<Labels, usize> = FxHashMap::default();
            for (labels, hint, samples) in batch {
                // Ids are never reused, so a series found by its id is the
                // one these labels name.
                let found = match hint.and_then(|r| head.series.find(r)) {
                    Some(hit) => Some(hit),
                    None => head
                        .by_labels
                        .get(labels)
                        .and_then(|&id| head.series.slot(id)),
                };
                let p = match found {
                    Some(r) => {
                        let slot = r.slot as usize;
                        if slot >= plan_by_slot.len() {
                            plan_by_slot.resize(slot + 1, (0, 0));
                        }
                        match plan_by_slot[slot] {
                            (b, p) if b == batch_no => p as usize,
                            _ => {
                                plans.push(Plan {
                                    target: Target::Existing(r),
                                    samples: SmallVec::new(),
                                    last: head.series.at(r).last,
                                });
                                plan_by_slot[slot] = (batch_no, (plans.len() - 1) as u32);
                                plans.len() - 1
                            }
                        }
                    }
                    None => match plan_of_new.get(labels) {
                        Some(&p) => p,
                        None => {
                            plans.push(Plan {
                                target: Target::New(new_labels.len()),
                                samples: SmallVec::new(),
                                last: None,
                            });
                            new_labels.push(labels.clone());
                            plan_of_new.insert(labels.clone(), plans.len() - 1);
                            plans.len() - 1
                        }
                    },
                };
                let plan = &mut plans[p];
                for &(t, v) in samples {
                    let mut check = head::check(plan.last, t, v);
                    // After a restart the value of the newest persisted
                    // sample is not in memory: fetch it once to tell a
                    // harmless re-send from a conflicting duplicate.
                    if let (Check::Repeat, Some((lt, None)), Target::Existing(r)) =
                        (check, plan.last, &plan.target)
                    {
                        plan.last = Some((lt, stored_value_bits(conn, r.id, lt)?));
                        check = head::check(plan.last, t, v);
                    }
                    let reason = match check {
                        _ if t > too_new || t < too_old => RejectReason::OutOfBounds,
                        Check::Accept => {
                            plan.samples.push((t, v));
                            plan.last = Some((t, Some(v.to_bits())));
                            report.written += 1;
                            continue;
                        }
                        Check::Repeat => {
                            report.written += 1;
                            continue;
                        }
                        Check::OutOfOrder => RejectReason::OutOfOrder,
                        Check::Duplicate => RejectReason::Duplicate,
                    };
                    let e = reasons
                        .entry(reason)
                        .or_insert_with(|| (0, format!("series {labels}, timestamp {t}")));
                    e.0 += 1;
                }
            }
        }
        for (reason, (n, example)) in reasons {
            let counter = match reason {
                RejectReason::OutOfOrder => &self.stats.samples_out_of_order,
                RejectReason::Duplicate => &self.stats.samples_duplicate,
                RejectReason::OutOfBounds => &self.stats.samples_out_of_bounds,
            };
            counter.fetch_add(n as u64, Ordering::Relaxed);
            report.rejected.push((reason, n, example));
        }
        report.rejected.sort_by_key(|r| r.0.as_str());
        plans.retain(|p| !p.samples.is_empty());
        if plans.is_empty() {
            w.plans = plans;
            return Ok(report);
        }

        // 2. Commit new series and one write-ahead record.
        let seq = w.next_seq;
        let mut new_ids: Vec<Option<SeriesId>> = vec![None; new_labels.len()];
        let mut record = std::mem::take(&mut w.record);
        {
            let tx = w.conn.transaction().map_err(StorageError::from_sqlite)?;
            {
                let mut ins = tx.prepare_cached("INSERT INTO series (labels) VALUES (?1)")?;
                for p in &plans {
                    if let Target::New(i) = p.target {
                        ins.execute([new_labels[i].encode()])
                            .map_err(StorageError::from_sqlite)?;
                        new_ids[i] = Some(tx.last_insert_rowid() as SeriesId);
                    }
                }
            }
            let id_of = |t: &Target| match *t {
                Target::Existing(r) => r.id,
                Target::New(i) => new_ids[i].expect("BUG: new series without id"),
            };
            wal::encode_into(
                &mut record,
                plans
                    .iter()
                    .map(|p| (id_of(&p.target), p.samples.as_slice())),
            );
            tx.execute(
                "INSERT INTO wal (seq, data) VALUES (?1, ?2)",
                params![seq as i64, record],
            )
            .map_err(StorageError::from_sqlite)?;
            tx.commit().map_err(StorageError::from_sqlite)?;
        }
        w.next_seq += 1;
        w.record = record;

        // 3. Apply to memory. Readers see the samples from here on.
        let mut head = self.write_head();
        let mut appended = 0u64;
        let mut froze = 0usize;
        // How many series ahead to ask the CPU for the end of the chunk
        // buffer: each append writes there, and the buffers of thousands
        // of series are scattered over memory.
        const PREFETCH_AHEAD: usize = 8;
        for (i, p) in plans.iter().enumerate() {
            if let Some(Plan {
                target: Target::Existing(ahead),
                ..
            }) = plans.get(i + PREFETCH_AHEAD)
            {
                if let Some(h) = &head.series.at(*ahead).head {
                    h.chunk.prefetch_tail();
                }
            }
            // Slots found while planning are still valid: series are only
            // removed under the writer lock this append holds.
            let r = match p.target {
                Target::Existing(r) => r,
                Target::New(i) => {
                    let id = new_ids[i].expect("BUG: new series without id");
                    report.new_series += 1;
                    head.add_series(id, new_labels[i].clone())
                }
            };
            let s = head.series.at_mut(r);
            for &(t, v) in &p.samples {
                if s.append(t, v, seq) {
                    froze += 1;
                }
            }
            let max_t = s.max_t;
            head.max_t = head.max_t.max(max_t);
            appended += p.samples.len() as u64;
        }
        drop(head);
        w.plans = plans;
        self.stats
            .samples_appended
            .fetch_add(appended, Ordering::Relaxed);
        if froze > 0
            && self.frozen_waiting.fetch_add(froze, Ordering::Relaxed) + froze > EARLY_SEAL_CHUNKS
        {
            self.seal_wanted.notify_one();
        }
        Ok(report)
    }
}

impl Queryable for Storage {
    fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        let head = self.read_head();
        let ids = if matchers.is_empty() {
            head.index.select(&[])
        } else {
            head.index.select(matchers)
        };
        let mut out: Vec<Labels> = ids
            .iter()
            .filter_map(|id| head.series.get(id))
            .filter(|s| s.min_t <= maxt && s.max_t >= mint)
            .map(|s| s.labels.clone())
            .collect();
        out.sort();
        Ok(out)
    }

    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesData>, StorageError> {
        // Memory first, then disk: a chunk the sealer moves in between is
        // then seen twice (merged away) rather than not at all, because the
        // sealer commits to disk before it drops the chunk from memory.
        // Only chunk handles are taken under the lock; decoding happens
        // after it is released, so a large query never holds up appends.
        let taken: Vec<(SeriesId, Labels, Vec<head::MemChunk>, bool)> = {
            let head = self.read_head();
            head.index
                .select(matchers)
                .into_iter()
                .filter_map(|id| head.series.get(&id).map(|s| (id, s)))
                .filter(|(_, s)| s.min_t <= maxt && s.max_t >= mint)
                .map(|(id, s)| {
                    let on_disk = s.disk_min_t <= maxt && s.disk_max_t >= mint;
                    (id, s.labels.clone(), s.chunks_in(mint, maxt), on_disk)
                })
                .collect()
        };
        let mut picked: Vec<(SeriesId, SeriesData, bool)> = taken
            .into_iter()
            .map(|(id, labels, chunks, on_disk)| {
                let mut samples = Vec::new();
                for c in &chunks {
                    c.samples_in(mint, maxt, &mut samples);
                }
                (id, SeriesData { labels, samples }, on_disk)
            })
            .collect();
        if picked.iter().any(|p| p.2) {
            let conn = self.reader()?;
            // One read transaction for every series: one snapshot, and the
            // shared lock is taken once instead of once per statement.
            let tx = conn.unchecked_transaction()?;
            {
                let mut stmt = conn.prepare_cached(
                    "SELECT data FROM chunks WHERE series_id = ?1 AND max_t >= ?3 AND min_t <= ?2 ORDER BY min_t",
                )?;
                let mut disk = Vec::new();
                for (id, data, _) in picked.iter_mut().filter(|p| p.2) {
                    disk.clear();
                    let mut rows = stmt.query(params![*id as i64, maxt, mint])?;
                    while let Some(row) = rows.next()? {
                        let blob = row.get_ref(0)?.as_blob().map_err(rusqlite::Error::from)?;
                        chunkenc::decode_sealed_into(blob, &mut disk).map_err(|e| {
                            StorageError::Corrupt(format!("chunk of series {id}: {e}"))
                        })?;
                    }
                    disk.retain(|&(t, _)| t >= mint && t <= maxt);
                    if !disk.is_empty() {
                        disk.append(&mut data.samples);
                        data.samples = merge_sorted(std::mem::take(&mut disk));
                    }
                }
            }
            tx.finish()?;
            self.return_reader(conn);
        }
        let mut out: Vec<SeriesData> = picked
            .into_iter()
            .map(|p| p.1)
            .filter(|d| !d.samples.is_empty())
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }
}

/// Orders samples by time and keeps the first of equal timestamps. Chunks
/// normally follow each other, so the common case is a sortedness check.
fn merge_sorted(mut v: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    if v.windows(2).all(|w| w[0].0 < w[1].0) {
        return v;
    }
    v.sort_by_key(|s| s.0);
    v.dedup_by_key(|s| s.0);
    v
}

#[cfg(test)]
mod tests;
