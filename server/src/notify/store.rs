//! The alert store: every alert the notifier knows, by fingerprint, merged
//! as reports come in (Alertmanager's `provider/mem`). Resolved alerts
//! stay until garbage collection so that late reports merge correctly and
//! groups can announce the resolution.

use pharos_agent::sync::LockExt;
use std::collections::HashMap;
use std::sync::Mutex;

use super::alert::Alert;

#[derive(Default)]
pub struct AlertStore {
    alerts: Mutex<HashMap<u64, Alert>>,
}

impl AlertStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Alert>> {
        self.alerts.locked()
    }

    /// Merges `alert` with what is stored under its fingerprint and returns
    /// the merged alert (what the dispatcher must see).
    pub fn put(&self, alert: Alert, now: i64) -> Alert {
        let fp = alert.fingerprint();
        let mut m = self.lock();
        // Merged only when the two reports overlap in time (as
        // Alertmanager's store): an alert that resolved and fires again
        // later is a new alert with its own start.
        let merged = match m.get(&fp) {
            Some(old)
                if (alert.ends_at > old.starts_at && alert.ends_at < old.ends_at)
                    || (alert.starts_at > old.starts_at && alert.starts_at < old.ends_at) =>
            {
                old.merge(&alert, now)
            }
            _ => alert,
        };
        m.insert(fp, merged.clone());
        merged
    }

    pub fn get(&self, fp: u64) -> Option<Alert> {
        self.lock().get(&fp).cloned()
    }

    /// Every stored alert, resolved ones included.
    pub fn all(&self) -> Vec<Alert> {
        self.lock().values().cloned().collect()
    }

    /// Drops resolved alerts; returns how many went.
    pub fn gc(&self, now: i64) -> usize {
        let mut m = self.lock();
        let before = m.len();
        m.retain(|_, a| !a.resolved_at(now));
        before - m.len()
    }
}
