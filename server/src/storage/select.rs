//! The read path: [`Queryable`] for [`Storage`] (label names and values
//! from the label index when it can), and the pool of read connections.

use pharos_agent::sync::LockExt;
use rusqlite::{params, Connection};

use super::{
    chunkenc, db, head, label_names_of, label_values_of, Labels, Matcher, Queryable, SeriesData,
    SeriesId, Storage, StorageError,
};

impl Storage {
    fn reader(&self) -> Result<Connection, StorageError> {
        let pooled = self.readers.locked().pop();
        match pooled {
            Some(c) => Ok(c),
            None => db::open_reader(&self.dir),
        }
    }

    fn return_reader(&self, c: Connection) {
        let mut pool = self.readers.locked();
        if pool.len() < 8 {
            pool.push(c);
        }
    }
}

impl Queryable for Storage {
    /// As the trait's, with the label index answering at once when every
    /// series over all time is asked for.
    fn label_names(
        &self,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        if selectors.is_empty() && mint == i64::MIN && maxt == i64::MAX {
            return Ok(self.read_head().index.label_names());
        }
        Ok(label_names_of(
            &self.series_for_selectors(selectors, mint, maxt)?,
        ))
    }

    /// As the trait's, with the label index answering at once when every
    /// series over all time is asked for.
    fn label_values(
        &self,
        name: &str,
        selectors: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        if selectors.is_empty() && mint == i64::MIN && maxt == i64::MAX {
            return Ok(self.read_head().index.label_values(name));
        }
        Ok(label_values_of(
            name,
            &self.series_for_selectors(selectors, mint, maxt)?,
        ))
    }

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
