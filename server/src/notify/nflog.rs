//! The notification log: for every (receiver, integration, group) the
//! alerts the last successful message announced as firing and as
//! resolved, and when. The pipeline asks it before sending
//! ([`needs_update`], Alertmanager's `DedupStage`), which is what keeps a
//! restart, a config reload or a retried flush from sending a message
//! twice. Entries live in the database under `notify/nflog/…` and expire
//! after the retention period.

use pharos_agent::sync::LockExt;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::storage::state::StateStore;

const KEY_PREFIX: &str = "notify/nflog/";

/// What one successful notification announced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub firing: BTreeSet<u64>,
    pub resolved: BTreeSet<u64>,
    /// When it was sent (Unix ms).
    pub timestamp: i64,
    /// When the entry may be forgotten (Unix ms).
    pub expires_at: i64,
}

/// Identifies one integration of one receiver for one group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Recipient {
    pub receiver: String,
    /// `webhook`, `email`, …
    pub integration: String,
    /// Position among the receiver's integrations of that kind.
    pub index: usize,
    pub group_key: String,
}

impl Recipient {
    fn key(&self) -> String {
        format!(
            "{KEY_PREFIX}{}\0{}\0{}\0{}",
            self.receiver, self.integration, self.index, self.group_key
        )
    }

    fn from_key(key: &str) -> Option<Recipient> {
        let mut it = key.strip_prefix(KEY_PREFIX)?.splitn(4, '\0');
        Some(Recipient {
            receiver: it.next()?.to_string(),
            integration: it.next()?.to_string(),
            index: it.next()?.parse().ok()?,
            group_key: it.next()?.to_string(),
        })
    }
}

/// Whether a message must go out (Alertmanager's `needsUpdate`): the first
/// one for a group with firing alerts; whenever an alert fires that the
/// last message did not announce; when everything resolved that the last
/// message announced as firing; with `send_resolved`, when an alert
/// resolved that was not yet announced as resolved; otherwise once the
/// repeat interval has passed.
pub fn needs_update(
    entry: Option<&Entry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat_ms: i64,
    now: i64,
) -> bool {
    let Some(e) = entry else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&e.firing) {
        return true;
    }
    if firing.is_empty() {
        // Sent even without send_resolved, so the log forgets the firing
        // alerts; alerts that fired and resolved between two messages were
        // never announced and need no resolution.
        return !e.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&e.resolved) {
        return true;
    }
    e.timestamp <= now - repeat_ms
}

pub struct NotificationLog {
    entries: Mutex<HashMap<Recipient, Entry>>,
    store: Arc<dyn StateStore>,
    retention_ms: i64,
}

impl NotificationLog {
    /// Loads the stored log; undecodable rows are skipped with a warning.
    pub fn load(store: Arc<dyn StateStore>, retention_ms: i64) -> Result<NotificationLog, String> {
        let mut entries = HashMap::new();
        for (key, value) in store.list(KEY_PREFIX).map_err(|e| e.to_string())? {
            match (
                Recipient::from_key(&key),
                serde_json::from_slice::<Entry>(&value),
            ) {
                (Some(r), Ok(e)) => {
                    entries.insert(r, e);
                }
                _ => tracing::warn!(
                    key,
                    "skipping a notification log entry that does not decode"
                ),
            }
        }
        Ok(NotificationLog {
            entries: Mutex::new(entries),
            store,
            retention_ms,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Recipient, Entry>> {
        self.entries.locked()
    }

    pub fn get(&self, r: &Recipient) -> Option<Entry> {
        self.lock().get(r).cloned()
    }

    /// Records a successful message; durable when this returns Ok.
    pub fn log(
        &self,
        r: &Recipient,
        firing: BTreeSet<u64>,
        resolved: BTreeSet<u64>,
        now: i64,
    ) -> Result<(), String> {
        let e = Entry {
            firing,
            resolved,
            timestamp: now,
            expires_at: now + self.retention_ms,
        };
        let bytes = serde_json::to_vec(&e).map_err(|e| e.to_string())?;
        self.store
            .put(&r.key(), &bytes)
            .map_err(|e| e.to_string())?;
        self.lock().insert(r.clone(), e);
        Ok(())
    }

    /// Forgets expired entries.
    pub fn gc(&self, now: i64) {
        let mut m = self.lock();
        let old: Vec<Recipient> = m
            .iter()
            .filter(|(_, e)| e.expires_at <= now)
            .map(|(r, _)| r.clone())
            .collect();
        for r in old {
            if self.store.delete(&r.key()).is_ok() {
                m.remove(&r);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
