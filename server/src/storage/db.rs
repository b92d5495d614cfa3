//! Opening the SQLite database of a data directory: the exclusive directory
//! lock, connection settings, schema creation and version check. The schema
//! itself is documented in FORMAT.md.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::StorageError;

/// The format version this code reads and writes (FORMAT.md).
pub const FORMAT_VERSION: i64 = 1;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "pharos.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta   (key TEXT PRIMARY KEY, value ANY) STRICT;
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY AUTOINCREMENT, labels BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (id INTEGER PRIMARY KEY, series_id INTEGER NOT NULL,
                                   min_t INTEGER NOT NULL, max_t INTEGER NOT NULL,
                                   samples INTEGER NOT NULL, origin INTEGER NOT NULL,
                                   data BLOB NOT NULL);
DROP INDEX IF EXISTS chunks_by_series;
CREATE INDEX IF NOT EXISTS chunks_by_series_t ON chunks (series_id, max_t, min_t);
CREATE INDEX IF NOT EXISTS chunks_by_max_t  ON chunks (max_t);
CREATE TABLE IF NOT EXISTS wal    (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS state  (key TEXT PRIMARY KEY, value BLOB NOT NULL, updated INTEGER NOT NULL) STRICT;
";

/// Holds the exclusive lock on a data directory for as long as it lives.
pub struct DirLock {
    _file: File,
}

/// Takes the directory lock, creating the directory if needed. Fails at once
/// (rather than waiting) when another process holds it.
pub fn lock_dir(dir: &Path) -> Result<DirLock, StorageError> {
    let io = |source| StorageError::Io {
        path: dir.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(io)?;
    let path = dir.join("lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(DirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(StorageError::Locked {
            path: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// Path of the database file in `dir`.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Opens the writer connection, creating the schema on first use and
/// refusing databases written by a newer format.
pub fn open_writer(dir: &Path, sync_full: bool) -> Result<Connection, StorageError> {
    let conn = Connection::open(db_path(dir))?;
    // WAL lets readers run beside the one writer; FULL makes every commit
    // durable against power loss, not only against a process crash.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        if sync_full { "FULL" } else { "NORMAL" },
    )?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch(SCHEMA)?;
    let version: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'format_version'",
            [],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    match version {
        None => {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('format_version', ?1)",
                [FORMAT_VERSION],
            )?;
        }
        Some(v) if v == FORMAT_VERSION => {}
        Some(v) => return Err(StorageError::Version(v)),
    }
    Ok(conn)
}

/// Opens a read-only connection for queries.
pub fn open_reader(dir: &Path) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(
        db_path(dir),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // 8 MiB of page cache per pooled reader (SQLite's default is 2 MiB):
    // a dashboard's range queries otherwise push out the pages its next
    // instant query needs.
    conn.pragma_update(None, "cache_size", -8192)?;
    Ok(conn)
}

/// Bytes of the database pages in use (pages minus free pages), as of the
/// last checkpoint. SQLite's own `-wal` file is left out on purpose: it
/// cannot shrink while a reader is active, and counting it would make size
/// retention delete data that deleting cannot make smaller.
pub fn used_bytes(conn: &Connection) -> Result<u64, StorageError> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok(((pages - free).max(0) * size) as u64)
}

/// Bytes of SQLite's `-wal` file beside the database.
pub fn wal_file_bytes(dir: &Path) -> u64 {
    fs::metadata(dir.join(format!("{DB_FILE}-wal")))
        .map(|m| m.len())
        .unwrap_or(0)
}
