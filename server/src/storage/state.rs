//! The key-value `state` table: what the rule evaluator, the notifier and
//! the dashboards persist (alert state, silences, the notification log,
//! dashboards), and [`StateStore`], the seam the notifier and dashboards
//! take it through.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pharos_agent::sync::LockExt;

use super::{Storage, StorageError};

impl Storage {
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
}

/// The key-value seam for what must survive a restart (the notifier's
/// silences and log, dashboards): the database's `state` table in
/// production, [`MemState`] in tests.
pub trait StateStore: Send + Sync {
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError>;
    /// Every `(key, value)` under `prefix`, in key order.
    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StorageError>;
    fn delete(&self, key: &str) -> Result<(), StorageError>;
}

impl StateStore for Storage {
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.put_state(key, value)
    }
    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        self.list_state(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.delete_state(key)
    }
}

/// A [`StateStore`] in memory, for tests and for running without a
/// database.
#[derive(Default)]
pub struct MemState(Mutex<BTreeMap<String, Vec<u8>>>);

impl StateStore for MemState {
    fn put(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
        self.0.locked().insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let m = self.0.locked();
        Ok(m.range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.0.locked().remove(key);
        Ok(())
    }
}
