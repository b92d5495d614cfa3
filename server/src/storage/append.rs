//! The write path: [`Appender`] for [`Storage`], the scrape path's
//! [`Storage::append_points`] and [`Storage::series_ref`], the batch append
//! behind both, and the import's [`Storage::write_chunks`].

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use rusqlite::{params, Connection};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::head::{self, Check};
use super::{
    chunkenc, insert_chunks, wal, AppendReport, Appender, EncodedChunk, Labels, Origin, Plan,
    RejectReason, SeriesId, SeriesRef, SeriesSamples, Storage, StorageError, Target, Writer,
    EARLY_SEAL_CHUNKS, MAX_AHEAD_MS,
};

impl Appender for Storage {
    fn append(&self, batch: Vec<SeriesSamples>) -> Result<AppendReport, StorageError> {
        self.append_entries(
            batch
                .iter()
                .map(|e| (&e.labels, None, e.samples.as_slice())),
            false,
        )
    }
}

impl Storage {
    /// Appends one sample per entry, as one batch with [`Appender::append`]'s
    /// guarantees — the scrape path, without a vector per sample. An entry
    /// may carry the reference [`Storage::series_ref`] gave for its labels:
    /// the series is then found at its slot instead of by hashing its label
    /// set (a series retention has since deleted falls back to the labels).
    /// The report's `placed` says where the entries without a valid
    /// reference went.
    pub fn append_points<'a>(
        &self,
        points: impl Iterator<Item = (&'a Labels, Option<SeriesRef>, &'a (i64, f64))>,
    ) -> Result<AppendReport, StorageError> {
        self.append_entries(
            points.map(|(l, r, s)| (l, r, std::slice::from_ref(s))),
            true,
        )
    }

    /// Where the series with these labels is, if it exists.
    pub fn series_ref(&self, labels: &Labels) -> Option<SeriesRef> {
        let head = self.read_head();
        head.by_labels
            .get(labels)
            .and_then(|&id| head.series.slot(id))
    }

    /// `place`: fill the report's `placed`.
    fn append_entries<'a>(
        &self,
        batch: impl Iterator<Item = (&'a Labels, Option<SeriesRef>, &'a [(i64, f64)])>,
        place: bool,
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
        // The batch entry that introduced each new series.
        let mut new_entry: Vec<usize> = Vec::new();
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
            for (entry, (labels, hint, samples)) in batch.enumerate() {
                // Ids are never reused, so a series found by its id is the
                // one these labels name.
                let found = match hint.and_then(|r| head.series.find(r)) {
                    Some(hit) => Some(hit),
                    None => head
                        .by_labels
                        .get(labels)
                        .and_then(|&id| head.series.slot(id)),
                };
                // An entry without a reference, or with one that pointed
                // elsewhere: tell the caller where its series is.
                if let (true, Some(r)) = (place, found) {
                    if hint != Some(r) {
                        report.placed.push((entry, r));
                    }
                }
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
                            new_entry.push(entry);
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
                    let r = head.add_series(id, new_labels[i].clone());
                    if place {
                        report.placed.push((new_entry[i], r));
                    }
                    r
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

impl Storage {
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
