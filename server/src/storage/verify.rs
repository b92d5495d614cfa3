//! `pharos check storage`: reads a data directory end to end, without taking
//! its lock (a running server may keep writing), and reports every
//! inconsistency it finds: SQLite's own `quick_check`, label sets that do not
//! decode, chunks that do not decode or whose stored count and time range
//! disagree with their samples, chunks of unknown series, and write-ahead
//! records that do not decode.

use std::fmt;
use std::path::Path;

use super::{chunkenc, db, labels::Labels, wal, StorageError};

/// What the check found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub series: u64,
    pub chunks: u64,
    pub samples: u64,
    pub wal_records: u64,
    /// One sentence per problem (capped, see `MAX_PROBLEMS`).
    pub problems: Vec<String>,
    /// Problems beyond the listed ones.
    pub more_problems: u64,
}

const MAX_PROBLEMS: usize = 50;

impl VerifyReport {
    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.more_problems += 1;
        }
    }

    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "checked {} series, {} chunks ({} samples), {} write-ahead records",
            self.series, self.chunks, self.samples, self.wal_records
        )?;
        if self.ok() {
            return write!(f, "no problems found");
        }
        for p in &self.problems {
            writeln!(f, "problem: {p}")?;
        }
        if self.more_problems > 0 {
            writeln!(f, "… and {} more problems", self.more_problems)?;
        }
        write!(
            f,
            "{} problems found",
            self.problems.len() as u64 + self.more_problems
        )
    }
}

/// Checks the data directory `dir`. `progress(done, total)` is called as
/// chunks are read.
pub fn verify(dir: &Path, progress: impl Fn(u64, u64)) -> Result<VerifyReport, StorageError> {
    if !db::db_path(dir).exists() {
        return Err(StorageError::Io {
            path: db::db_path(dir),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no pharos database here"),
        });
    }
    let conn = db::open_reader(dir)?;
    // One read transaction: every table is seen as of one moment, even while
    // a server keeps writing.
    conn.execute_batch("BEGIN")?;
    let mut r = VerifyReport::default();
    let mut stmt = conn.prepare("PRAGMA quick_check")?;
    for row in stmt.query_map([], |row| row.get::<_, String>(0))? {
        let line = row?;
        if line != "ok" {
            r.problem(format!("SQLite: {line}"));
        }
    }
    let mut known = std::collections::HashSet::new();
    let mut stmt = conn.prepare("SELECT id, labels FROM series")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        r.series += 1;
        known.insert(id);
        if let Err(e) = Labels::decode(row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?) {
            r.problem(format!("series {id}: label set does not decode: {e}"));
        }
    }
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM chunks", [], |row| row.get(0))?;
    let mut stmt = conn.prepare("SELECT id, series_id, min_t, max_t, samples, data FROM chunks")?;
    let mut rows = stmt.query([])?;
    let mut samples = Vec::new();
    while let Some(row) = rows.next()? {
        let (id, series, min_t, max_t, n): (i64, i64, i64, i64, i64) = (
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
        );
        r.chunks += 1;
        if r.chunks % 1024 == 0 {
            progress(r.chunks, total as u64);
        }
        if !known.contains(&series) {
            r.problem(format!(
                "chunk {id} belongs to series {series}, which does not exist"
            ));
        }
        samples.clear();
        let blob = row.get_ref(5)?.as_blob().map_err(rusqlite::Error::from)?;
        if let Err(e) = chunkenc::decode_sealed_into(blob, &mut samples) {
            r.problem(format!(
                "chunk {id} of series {series} does not decode: {e}"
            ));
            continue;
        }
        r.samples += samples.len() as u64;
        let (first, last) = (samples.first().map(|s| s.0), samples.last().map(|s| s.0));
        if samples.len() as i64 != n || first != Some(min_t) || last != Some(max_t) {
            r.problem(format!(
                "chunk {id} of series {series}: header says {n} samples in [{min_t}, {max_t}], data holds {} in [{}, {}]",
                samples.len(),
                first.unwrap_or_default(),
                last.unwrap_or_default()
            ));
        }
        if samples.windows(2).any(|w| w[0].0 >= w[1].0) {
            r.problem(format!(
                "chunk {id} of series {series}: timestamps do not increase"
            ));
        }
    }
    progress(r.chunks, total as u64);
    // Retention may delete a series whose samples sit in a record that is
    // still kept for another series; only ids never handed out are wrong.
    let max_id: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'series'",
            [],
            |row| row.get(0),
        )
        .unwrap_or(0);
    let mut stmt = conn.prepare("SELECT seq, data FROM wal")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        r.wal_records += 1;
        let blob = row.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
        let mut unknown = 0;
        if let Err(e) = wal::decode(blob, |id, _, _| {
            if id as i64 > max_id {
                unknown += 1;
            }
        }) {
            r.problem(format!("write-ahead record {seq}: {e}"));
        } else if unknown > 0 {
            r.problem(format!(
                "write-ahead record {seq} holds {unknown} samples of series ids never created"
            ));
        }
    }
    drop(rows);
    drop(stmt);
    conn.execute_batch("COMMIT")?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::super::{Appender, Options, SeriesSamples, Storage};
    use super::*;

    #[test]
    fn finds_nothing_wrong_then_finds_a_corrupt_chunk() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Storage::open(dir.path(), Options::default()).unwrap();
            let l = Labels::from_sorted([("__name__", "m")]).unwrap();
            let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, i as f64)).collect();
            s.write_chunks(&[SeriesSamples {
                labels: l.clone(),
                samples,
            }])
            .unwrap();
            s.append(vec![SeriesSamples {
                labels: l,
                samples: vec![(200_000, 1.0)],
            }])
            .unwrap();
        }
        let r = verify(dir.path(), |_, _| {}).unwrap();
        assert!(r.ok(), "{r}");
        assert_eq!(
            (r.series, r.chunks, r.samples, r.wal_records),
            (1, 1, 100, 1)
        );

        let conn = rusqlite::Connection::open(db::db_path(dir.path())).unwrap();
        conn.execute("UPDATE chunks SET data = x'02ffff', samples = 3", [])
            .unwrap();
        conn.execute("INSERT INTO wal (seq, data) VALUES (99, x'01')", [])
            .unwrap();
        drop(conn);
        let r = verify(dir.path(), |_, _| {}).unwrap();
        assert_eq!(r.problems.len(), 2, "{r}");
        assert!(r.problems[0].contains("does not decode"), "{r}");
        assert!(r.problems[1].contains("write-ahead record 99"), "{r}");
    }
}
