//! Upkeep of the stored data: sealing head chunks and truncating the log,
//! retention by time and size, disk usage, SQLite checkpoints.

use pharos_agent::sync::LockExt;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rusqlite::params;
use rustc_hash::FxHashMap;

use super::head::{self, MemSeries};
use super::{db, insert_chunks, EncodedChunk, Origin, SeriesId, Storage, StorageError};

impl Storage {
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

    /// Persists frozen chunks (and, with `freeze_idle`, first freezes open
    /// chunks whose window ended a whole window before the newest sample),
    /// then truncates the write-ahead log. Returns the chunks written.
    ///
    /// Encoding runs without any lock; only the commit holds the writer.
    pub fn seal(&self, freeze_idle: bool) -> Result<usize, StorageError> {
        let _one_at_a_time = self.sealing.locked();
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
}
