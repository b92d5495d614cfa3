//! Silences: matchers plus a time window during which matching alerts are
//! not notified. Kept in the database (`state` table, one row per silence
//! under `notify/silence/<id>`) so a restart forgets none.
//!
//! The rules are Alertmanager's (`silence.Silences`): a silence is pending
//! before its start, active until its end, expired after; an update that
//! changes what an active silence means (its matchers or start) expires the
//! old one and creates a new one with a new id, so the history stays
//! truthful; expired silences are kept for the retention period, then
//! dropped.

use pharos_agent::sync::LockExt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::matchers::{MatchType, Matcher};
use crate::storage::state::StateStore;

const KEY_PREFIX: &str = "notify/silence/";

/// A silence's state at a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

/// One matcher of a silence, as the API writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceMatcher {
    pub name: String,
    pub value: String,
    #[serde(rename = "isRegex")]
    pub is_regex: bool,
    #[serde(rename = "isEqual", default = "yes")]
    pub is_equal: bool,
}

fn yes() -> bool {
    true
}

impl SilenceMatcher {
    fn compile(&self) -> Result<Matcher, String> {
        Matcher::new(
            &self.name,
            &self.value,
            MatchType::from_flags(self.is_regex, self.is_equal),
        )
    }
}

/// A silence. Times are Unix ms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<SilenceMatcher>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    pub fn state_at(&self, now: i64) -> SilenceState {
        if now < self.starts_at {
            SilenceState::Pending
        } else if now < self.ends_at {
            SilenceState::Active
        } else {
            SilenceState::Expired
        }
    }
}

/// Why a silence was refused (HTTP 400 in the API) or not found (404).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("{0}")]
    Invalid(String),
    #[error("silence {0} not found")]
    NotFound(String),
    #[error("silence {0} is already expired")]
    AlreadyExpired(String),
    #[error("cannot store silence: {0}")]
    Storage(String),
}

struct Entry {
    silence: Silence,
    matchers: Vec<Matcher>,
}

/// The set of silences.
pub struct Silences {
    entries: Mutex<BTreeMap<String, Entry>>,
    store: Arc<dyn StateStore>,
    /// How long expired silences are kept (Alertmanager's
    /// `--data.retention`, 120 h).
    retention_ms: i64,
}

impl Silences {
    /// Loads the stored silences; a row that no longer decodes is reported
    /// and skipped rather than failing start-up.
    pub fn load(store: Arc<dyn StateStore>, retention_ms: i64) -> Result<Silences, String> {
        let mut entries = BTreeMap::new();
        for (key, value) in store.list(KEY_PREFIX).map_err(|e| e.to_string())? {
            let silence: Silence = match serde_json::from_slice(&value) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(key, error = %e, "skipping a stored silence that does not decode");
                    continue;
                }
            };
            match compile(&silence.matchers) {
                Ok(matchers) => {
                    entries.insert(silence.id.clone(), Entry { silence, matchers });
                }
                Err(e) => tracing::warn!(key, error = %e, "skipping a stored silence"),
            }
        }
        Ok(Silences {
            entries: Mutex::new(entries),
            store,
            retention_ms,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.locked()
    }

    /// All silences as Alertmanager's API sorts them: active (soonest end
    /// first), pending (soonest start first), expired (latest end first).
    pub fn list(&self, now: i64) -> Vec<Silence> {
        let mut out: Vec<Silence> = self.lock().values().map(|e| e.silence.clone()).collect();
        let rank = |s: &Silence| match s.state_at(now) {
            SilenceState::Active => 0,
            SilenceState::Pending => 1,
            SilenceState::Expired => 2,
        };
        out.sort_by(|a, b| {
            rank(a).cmp(&rank(b)).then_with(|| match a.state_at(now) {
                // Expired ones: the most recently ended first.
                SilenceState::Expired => b.ends_at.cmp(&a.ends_at),
                SilenceState::Pending => a.starts_at.cmp(&b.starts_at),
                SilenceState::Active => a.ends_at.cmp(&b.ends_at),
            })
        });
        out
    }

    pub fn get(&self, id: &str) -> Option<Silence> {
        self.lock().get(id).map(|e| e.silence.clone())
    }

    /// The ids of the active silences matching `labels`, sorted.
    pub fn mutes(&self, labels: &BTreeMap<String, String>, now: i64) -> Vec<String> {
        self.lock()
            .values()
            .filter(|e| e.silence.state_at(now) == SilenceState::Active)
            .filter(|e| {
                e.matchers
                    .iter()
                    .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
            })
            .map(|e| e.silence.id.clone())
            .collect()
    }

    /// Creates a silence, or updates the one with `s.id` (Alertmanager's
    /// `Silences.Set`); returns the id under which it is stored.
    pub fn set(&self, mut s: Silence, now: i64) -> Result<String, SilenceError> {
        let matchers = validate(&s)?;
        let mut entries = self.lock();
        if !s.id.is_empty() {
            let Some(prev) = entries.get(&s.id).map(|e| e.silence.clone()) else {
                return Err(SilenceError::NotFound(s.id));
            };
            if can_update(&prev, &s, now) {
                s.updated_at = now;
                let id = s.id.clone();
                self.save(&mut entries, s, matchers)?;
                return Ok(id);
            }
            // The meaning changed: expire the old one (if still in force)
            // and store the new one under a new id.
            if prev.state_at(now) != SilenceState::Expired {
                let old_matchers = entries[&prev.id].matchers.clone();
                self.save(&mut entries, expire(prev, now), old_matchers)?;
            }
        }
        if s.ends_at <= now {
            return Err(SilenceError::Invalid(
                "the silence ends in the past: set endsAt after now".into(),
            ));
        }
        // A start in the past means "from now".
        if s.starts_at < now {
            s.starts_at = now;
        }
        s.id = new_id();
        s.updated_at = now;
        let id = s.id.clone();
        self.save(&mut entries, s, matchers)?;
        Ok(id)
    }

    /// Expires a silence now (the API's DELETE).
    pub fn expire(&self, id: &str, now: i64) -> Result<(), SilenceError> {
        let mut entries = self.lock();
        let Some(e) = entries.get(id) else {
            return Err(SilenceError::NotFound(id.to_string()));
        };
        if e.silence.state_at(now) == SilenceState::Expired {
            return Err(SilenceError::AlreadyExpired(id.to_string()));
        }
        let expired = expire(e.silence.clone(), now);
        let matchers = e.matchers.clone();
        self.save(&mut entries, expired, matchers)
    }

    /// Drops silences that expired more than the retention period ago.
    pub fn gc(&self, now: i64) {
        let mut entries = self.lock();
        let old: Vec<String> = entries
            .values()
            .filter(|e| e.silence.ends_at + self.retention_ms <= now)
            .map(|e| e.silence.id.clone())
            .collect();
        for id in old {
            match self.store.delete(&format!("{KEY_PREFIX}{id}")) {
                Ok(()) => {
                    entries.remove(&id);
                }
                Err(e) => tracing::warn!(id, error = %e, "cannot drop an old silence"),
            }
        }
    }

    /// Writes `s` to the database, then indexes it: what is in memory is
    /// always what a restart would load.
    fn save(
        &self,
        entries: &mut BTreeMap<String, Entry>,
        s: Silence,
        matchers: Vec<Matcher>,
    ) -> Result<(), SilenceError> {
        let bytes = serde_json::to_vec(&s).map_err(|e| SilenceError::Storage(e.to_string()))?;
        self.store
            .put(&format!("{KEY_PREFIX}{}", s.id), &bytes)
            .map_err(|e| SilenceError::Storage(e.to_string()))?;
        entries.insert(
            s.id.clone(),
            Entry {
                silence: s,
                matchers,
            },
        );
        Ok(())
    }
}

fn compile(ms: &[SilenceMatcher]) -> Result<Vec<Matcher>, String> {
    ms.iter().map(SilenceMatcher::compile).collect()
}

/// Alertmanager's `validateSilence`.
fn validate(s: &Silence) -> Result<Vec<Matcher>, SilenceError> {
    if s.matchers.is_empty() {
        return Err(SilenceError::Invalid(
            "at least one matcher required".into(),
        ));
    }
    let matchers = compile(&s.matchers)
        .map_err(|e| SilenceError::Invalid(format!("invalid label matcher: {e}")))?;
    for m in &matchers {
        if m.name.is_empty() {
            return Err(SilenceError::Invalid(
                "invalid label matcher: empty label name".into(),
            ));
        }
    }
    // A silence whose every matcher matches the empty string would
    // silence everything, alerts without those labels included.
    if matchers.iter().all(|m| m.matches("")) {
        return Err(SilenceError::Invalid(
            "at least one matcher must not match the empty string".into(),
        ));
    }
    if s.starts_at == 0 || s.ends_at == 0 {
        return Err(SilenceError::Invalid(
            "startsAt and endsAt are required".into(),
        ));
    }
    if s.ends_at < s.starts_at {
        return Err(SilenceError::Invalid(
            "end time must not be before start time".into(),
        ));
    }
    Ok(matchers)
}

/// Alertmanager's `canUpdate`: whether `next` may replace `prev` in place.
fn can_update(prev: &Silence, next: &Silence, now: i64) -> bool {
    if prev.matchers != next.matchers {
        return false;
    }
    match prev.state_at(now) {
        SilenceState::Pending => next.starts_at >= now,
        SilenceState::Active => next.starts_at == prev.starts_at && next.ends_at >= now,
        SilenceState::Expired => false,
    }
}

fn expire(mut s: Silence, now: i64) -> Silence {
    if s.state_at(now) == SilenceState::Pending {
        s.starts_at = now;
    }
    s.ends_at = now;
    s.updated_at = now;
    s
}

/// A random version-4 UUID, the form Alertmanager's silence ids take.
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    // /dev/urandom is always there on Linux; the fallback only has to be
    // unique within this process, which the clock and a counter give.
    let ok = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_ok();
    if !ok {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b[..8].copy_from_slice(&t.to_le_bytes());
        b[8..].copy_from_slice(
            &N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_le_bytes(),
        );
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
