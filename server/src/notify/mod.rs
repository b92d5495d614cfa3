//! The notifier: Alertmanager's half of the loop.
//!
//! Alerts arrive (from pharos's rule evaluator or, through the Alertmanager
//! v2 API, from any Prometheus) into the [`store`]; the [`dispatch`]er
//! walks the `route` tree and sorts them into aggregation groups, which it
//! flushes after `group_wait`, then every `group_interval`; each flush runs
//! the [`pipeline`]: drop alerts that are [`inhibit`]ed, silenced
//! ([`silence`]) or outside the route's time intervals, ask the
//! notification log ([`nflog`]) whether anything changed since the last
//! message (or `repeat_interval` has passed), and deliver through the
//! [`receivers`] with retries and a rate limit. Silences and the log live
//! in the database, so a restart neither forgets a silence nor sends a
//! message twice.
//!
//! - [`config`]: Alertmanager's configuration format, strict, every error
//!   with `file:line` (`pharos check alertmanager`);
//! - [`matchers`]: label matchers as routes, inhibition rules, silences
//!   and `amtool` write them;
//! - [`timeinterval`]: the `time_intervals` that mute or activate routes.

use pharos_agent::sync::LockExt;
use std::collections::BTreeMap;
use std::sync::Mutex;

pub mod alert;
pub mod config;
pub mod dispatch;
pub mod inhibit;
pub mod matchers;
pub mod metrics;
pub mod nflog;
pub mod notifier;
pub mod pipeline;
pub mod receivers;
pub mod silence;
pub mod store;
pub mod timeinterval;

#[cfg(test)]
mod tests;

/// Where the notifier keeps what must survive a restart (silences, the
/// notification log): the database's `state` table in production.
pub trait StateStore: Send + Sync {
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String>;
    /// Every `(key, value)` under `prefix`, in key order.
    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, String>;
    fn delete(&self, key: &str) -> Result<(), String>;
}

impl StateStore for crate::storage::Storage {
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.put_state(key, value).map_err(|e| e.to_string())
    }
    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
        self.list_state(prefix).map_err(|e| e.to_string())
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.delete_state(key).map_err(|e| e.to_string())
    }
}

/// A [`StateStore`] in memory, for tests and for running without a
/// database.
#[derive(Default)]
pub struct MemState(Mutex<BTreeMap<String, Vec<u8>>>);

impl StateStore for MemState {
    fn put(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.locked().insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn list(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
        let m = self.0.locked();
        Ok(m.range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.locked().remove(key);
        Ok(())
    }
}
