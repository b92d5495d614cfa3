//! Dashboards: Grafana dashboards and folders, their version history, and
//! the ones pharos provisions from files and ships built in.
//!
//! The [`Store`] holds every [`Dashboard`] and [`Folder`] in memory and
//! writes each change through to the database's `state` table (the
//! notifier's [`StateStore`] seam) before it answers, so a change the API
//! acknowledged survives a crash. Keys:
//!
//! - `dashboard/<uid>`: the [`Dashboard`] record, its JSON model included;
//! - `dashboard-version/<uid>/<version, 10 digits>`: one saved [`Version`],
//!   read only when the history is asked for; a save keeps the last
//!   [`VERSIONS_TO_KEEP`] (Grafana's `versions_to_keep` default);
//! - `folder/<uid>`: a [`Folder`].
//!
//! The rules of a save are Grafana's (`ValidateDashboardBeforeSave`): a
//! dashboard is found by `id` or `uid`; a stored version other than the
//! one sent is a conflict unless `overwrite`; another dashboard with the
//! same title in the same folder is one too (with `overwrite`, the save
//! replaces it); every save makes version + 1. Provisioned dashboards
//! ([`provision`]: `--dashboards.path` and the built-in ones) are saved
//! by their provider only; the API refuses to save or delete them, as
//! Grafana does.
//!
//! The HTTP shapes live in `http::grafana`; this module knows no HTTP.

pub mod provision;
#[cfg(test)]
mod tests;

use pharos_agent::sync::LockExt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::storage::state::StateStore;
use crate::storage::Clock;

/// Versions kept per dashboard, as Grafana's `versions_to_keep` default.
pub const VERSIONS_TO_KEEP: i64 = 20;

/// Grafana's longest uid.
const MAX_UID_LEN: usize = 40;

const DASHBOARD_KEY: &str = "dashboard/";
const VERSION_KEY: &str = "dashboard-version/";
const FOLDER_KEY: &str = "folder/";

/// A stored dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    /// Grafana's numeric id (tools still send `id` and `folderId`); one
    /// sequence with folders, as both are rows of one table in Grafana.
    pub id: i64,
    pub uid: String,
    pub title: String,
    pub slug: String,
    /// `""`: the General folder.
    pub folder_uid: String,
    pub tags: Vec<String>,
    pub version: i64,
    /// Unix milliseconds.
    pub created: i64,
    pub updated: i64,
    /// Where a provisioned dashboard comes from; `None` for the ones saved
    /// through the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned: Option<Provisioning>,
    /// The dashboard JSON model as given (unknown fields kept), with `id`,
    /// `uid` and `version` set to the stored ones.
    pub data: Value,
}

/// The origin of a provisioned dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Provisioning {
    /// `builtin` or `files`.
    pub provider: String,
    /// The file, relative to the provider's root (`sub/dash.json`).
    pub external_id: String,
    /// SHA-256 of the file's bytes and its folder: an unchanged file is
    /// not saved again, so it makes no new version.
    pub checksum: String,
}

/// A folder of dashboards (one level, as Grafana without nested folders).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    pub id: i64,
    pub uid: String,
    pub title: String,
    pub version: i64,
    pub created: i64,
    pub updated: i64,
}

/// One saved version of a dashboard.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub id: i64,
    pub dashboard_id: i64,
    pub uid: String,
    /// The version this one replaced (0 for the first).
    pub parent_version: i64,
    /// The version a restore copied (0 when not a restore).
    pub restored_from: i64,
    pub version: i64,
    pub created: i64,
    pub message: String,
    pub data: Value,
}

/// Why a change was refused. The texts are Grafana's, word for word where
/// Grafana has one, because tools match on them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("Dashboard not found")]
    NotFound,
    #[error("Dashboard version not found")]
    VersionNotFound,
    /// Saving into a folder that does not exist.
    #[error("Folder not found")]
    FolderNotFound,
    #[error("The dashboard has been changed by someone else")]
    VersionMismatch,
    #[error("A dashboard with the same name in the folder already exists")]
    NameExists,
    #[error("Dashboard title cannot be empty")]
    TitleEmpty,
    #[error("uid contains illegal characters")]
    InvalidUid,
    #[error("uid too long, max 40 characters")]
    UidTooLong,
    #[error("A dashboard with the same uid already exists")]
    SameUidExists,
    #[error("Cannot save provisioned dashboard")]
    SaveProvisioned,
    #[error("provisioned dashboard cannot be deleted")]
    DeleteProvisioned,
    /// The folder API's "not found".
    #[error("folder not found")]
    NoSuchFolder,
    #[error("folder title cannot be empty")]
    FolderTitleEmpty,
    #[error("the folder has been changed by someone else")]
    FolderVersionMismatch,
    #[error("a folder/dashboard with the same uid already exists")]
    FolderUidExists,
    #[error("a folder or dashboard in the general folder with the same name already exists")]
    FolderNameExists,
    /// pharos's own: deleting the folder would delete dashboards that
    /// provisioning brings back at the next poll.
    #[error("folder contains provisioned dashboards, which cannot be deleted")]
    FolderHasProvisioned,
    /// An import whose `__inputs` names an input the request lacks.
    #[error("Dashboard input variable: {0} missing from import command")]
    InputMissing(String),
    /// A model that is not a JSON object.
    #[error("dashboard must be a JSON object")]
    NotAnObject,
    /// The database refused a write; the change was not made.
    #[error("storing dashboards failed: {0}")]
    Store(String),
}

/// Which folder a save goes to, as `folderUid` / `folderId` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderChoice {
    General,
    Uid(String),
    Id(i64),
}

/// A save through the API (`POST /api/dashboards/db`, import).
#[derive(Debug, Clone)]
pub struct Save {
    pub dashboard: Value,
    pub folder: FolderChoice,
    pub message: String,
    pub overwrite: bool,
}

/// What [`Store::search`] looks for: Grafana's search parameters.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Case-insensitive substring of the title.
    pub query: String,
    /// Every one must be among the dashboard's tags.
    pub tags: Vec<String>,
    pub kind: Option<Kind>,
    pub dashboard_uids: Vec<String>,
    pub dashboard_ids: Vec<i64>,
    /// Folders to search in; `general` (or `""`) is the root.
    pub folder_uids: Vec<String>,
    /// Folders by id; 0 is the root.
    pub folder_ids: Vec<i64>,
    /// Page size (Grafana: default 1000, at most 5000).
    pub limit: usize,
    /// From 1.
    pub page: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dashboard,
    Folder,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub kind: Kind,
    pub id: i64,
    pub uid: String,
    pub title: String,
    pub slug: String,
    pub tags: Vec<String>,
    /// The dashboard's folder; `None` in General and for folders.
    pub folder: Option<Folder>,
}

/// Dashboards and folders, in memory and written through to `state`.
pub struct Store {
    state: Arc<dyn StateStore>,
    clock: Clock,
    /// A `std` mutex: every critical section is short and synchronous
    /// (the HTTP layer calls the writing methods on blocking threads).
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    dashboards: BTreeMap<String, Dashboard>,
    folders: BTreeMap<String, Folder>,
    /// Next id of a dashboard or folder. After a restart, one past the
    /// largest stored: an id freed by a delete may come back, as with
    /// SQLite's rowids in Grafana.
    next_id: i64,
    /// Next id of a saved version (one past the largest current version's
    /// after a restart).
    next_version_id: i64,
    /// Counter mixed into made-up uids.
    uid_seed: u64,
}

/// How [`Store::save_locked`] may treat what is already stored.
struct SaveMode {
    overwrite: bool,
    /// `Some` for provisioning: it may replace a provisioned dashboard
    /// and never takes over another one by title.
    provisioning: Option<Provisioning>,
    restored_from: i64,
}

impl Store {
    /// Loads every dashboard and folder from `state`.
    pub fn load(state: Arc<dyn StateStore>, clock: Clock) -> Result<Store, Error> {
        let mut inner = Inner::default();
        let mut max_id = 0;
        let mut max_version_id = 0;
        for (key, value) in state
            .list(FOLDER_KEY)
            .map_err(|e| Error::Store(e.to_string()))?
        {
            match serde_json::from_slice::<Folder>(&value) {
                Ok(f) => {
                    max_id = max_id.max(f.id);
                    inner.folders.insert(f.uid.clone(), f);
                }
                Err(e) => tracing::error!(key, error = %e, "skipping an unreadable folder record"),
            }
        }
        for (key, value) in state
            .list(DASHBOARD_KEY)
            .map_err(|e| Error::Store(e.to_string()))?
        {
            match serde_json::from_slice::<Record>(&value) {
                Ok(r) => {
                    max_id = max_id.max(r.dashboard.id);
                    max_version_id = max_version_id.max(r.version_id);
                    inner
                        .dashboards
                        .insert(r.dashboard.uid.clone(), r.dashboard);
                }
                Err(e) => {
                    tracing::error!(key, error = %e, "skipping an unreadable dashboard record")
                }
            }
        }
        inner.next_id = max_id + 1;
        inner.next_version_id = max_version_id + 1;
        Ok(Store {
            state,
            clock,
            inner: Mutex::new(inner),
        })
    }

    /// A store in memory only, for servers built without a database (API
    /// tests).
    pub fn in_memory() -> Store {
        Store::load(
            Arc::new(crate::storage::state::MemState::default()),
            Clock::system(),
        )
        .expect("BUG: an empty in-memory state store cannot fail to load")
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.locked()
    }

    /// Creates or updates a dashboard as `POST /api/dashboards/db` does.
    pub fn save(&self, req: Save) -> Result<Dashboard, Error> {
        let mut inner = self.lock();
        let folder_uid = inner.resolve_folder(&req.folder)?;
        self.save_locked(
            &mut inner,
            req.dashboard,
            folder_uid,
            req.message,
            SaveMode {
                overwrite: req.overwrite,
                provisioning: None,
                restored_from: 0,
            },
        )
    }

    /// Grafana's save rules; see the module documentation.
    fn save_locked(
        &self,
        inner: &mut Inner,
        mut data: Value,
        folder_uid: String,
        message: String,
        mode: SaveMode,
    ) -> Result<Dashboard, Error> {
        let Some(model) = data.as_object() else {
            return Err(Error::NotAnObject);
        };
        let title = model
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if title.trim().is_empty() {
            return Err(Error::TitleEmpty);
        }
        let id = model.get("id").and_then(Value::as_f64).unwrap_or(0.0) as i64;
        let mut uid = model
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let mut version = model.get("version").and_then(Value::as_f64).unwrap_or(0.0) as i64;
        validate_uid(&uid)?;

        let by_id = if id > 0 {
            let found = inner.dashboards.values().find(|d| d.id == id).cloned();
            let Some(found) = found else {
                return Err(Error::NotFound);
            };
            if uid.is_empty() {
                uid.clone_from(&found.uid);
            }
            Some(found)
        } else {
            None
        };
        if !uid.is_empty() && inner.folders.contains_key(&uid) {
            return Err(Error::SameUidExists);
        }
        let by_uid = inner.dashboards.get(&uid).cloned();
        if let (Some(a), Some(b)) = (&by_id, &by_uid) {
            if a.uid != b.uid {
                return Err(Error::SameUidExists);
            }
        }
        let mut existing = by_id.or(by_uid);
        if let Some(e) = &existing {
            if version != e.version {
                if mode.overwrite {
                    version = e.version;
                } else {
                    return Err(Error::VersionMismatch);
                }
            }
        }
        let same_title = inner
            .dashboards
            .values()
            .find(|d| {
                d.folder_uid == folder_uid
                    && d.title == title
                    && existing.as_ref().is_none_or(|e| e.uid != d.uid)
                    && d.uid != uid
            })
            .cloned();
        if let Some(other) = same_title {
            // Provisioning never replaces another dashboard by its title:
            // the file's uid must stay the dashboard's uid.
            if !mode.overwrite || mode.provisioning.is_some() {
                return Err(Error::NameExists);
            }
            uid.clone_from(&other.uid);
            version = other.version;
            existing = Some(other);
        }
        if let Some(e) = &existing {
            let allowed = match (&e.provisioned, &mode.provisioning) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(a), Some(b)) => a.provider == b.provider && a.external_id == b.external_id,
            };
            if !allowed {
                return Err(Error::SaveProvisioned);
            }
        }

        let now = self.clock.now_ms();
        let (id, created, parent_version) = match &existing {
            Some(e) => (e.id, e.created, e.version),
            None => {
                let id = inner.next_id;
                inner.next_id += 1;
                (id, now, 0)
            }
        };
        if existing.is_none() && uid.is_empty() {
            uid = inner.new_uid();
        }
        let version = if existing.is_some() { version + 1 } else { 1 };
        if let Some(m) = data.as_object_mut() {
            m.insert("id".into(), Value::from(id));
            m.insert("uid".into(), Value::from(uid.clone()));
            m.insert("version".into(), Value::from(version));
        }
        let tags = data
            .get("tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let dashboard = Dashboard {
            id,
            uid: uid.clone(),
            slug: slugify(&title),
            title,
            folder_uid,
            tags,
            version,
            created,
            updated: now,
            provisioned: mode.provisioning,
            data,
        };
        let version_id = inner.next_version_id;
        inner.next_version_id += 1;
        let record = Version {
            id: version_id,
            dashboard_id: id,
            uid: uid.clone(),
            parent_version,
            restored_from: mode.restored_from,
            version,
            created: now,
            message,
            data: dashboard.data.clone(),
        };
        // The version first: a crash between the two writes leaves a
        // version that the next save of the same number overwrites, never
        // a dashboard whose current version is missing.
        self.put(&version_key(&uid, version), &record)?;
        self.put(
            &format!("{DASHBOARD_KEY}{uid}"),
            &RecordRef {
                dashboard: &dashboard,
                version_id,
            },
        )?;
        // Versions are numbered without gaps, so the one to let go is
        // known without listing them.
        if version > VERSIONS_TO_KEEP {
            self.delete_key(&version_key(&uid, version - VERSIONS_TO_KEEP));
        }
        // Found by `id` but sent with another uid: Grafana changes the
        // dashboard's uid; its history stays under the old one and goes.
        if let Some(old) = existing.filter(|e| e.uid != uid) {
            self.delete_locked(inner, &old.uid)?;
        }
        inner.dashboards.insert(uid, dashboard.clone());
        Ok(dashboard)
    }

    /// The dashboard and its folder (`None` in General).
    pub fn get(&self, uid: &str) -> Option<(Dashboard, Option<Folder>)> {
        let inner = self.lock();
        let d = inner.dashboards.get(uid)?.clone();
        let f = inner.folders.get(&d.folder_uid).cloned();
        Some((d, f))
    }

    /// Deletes a dashboard saved through the API, and its versions.
    pub fn delete(&self, uid: &str) -> Result<Dashboard, Error> {
        let mut inner = self.lock();
        let d = inner.dashboards.get(uid).ok_or(Error::NotFound)?;
        if d.provisioned.is_some() {
            return Err(Error::DeleteProvisioned);
        }
        self.delete_locked(&mut inner, uid)
    }

    fn delete_locked(&self, inner: &mut Inner, uid: &str) -> Result<Dashboard, Error> {
        let Some(d) = inner.dashboards.get(uid).cloned() else {
            return Err(Error::NotFound);
        };
        self.state
            .delete(&format!("{DASHBOARD_KEY}{uid}"))
            .map_err(|e| Error::Store(e.to_string()))?;
        for v in (d.version - VERSIONS_TO_KEEP + 1).max(1)..=d.version {
            self.delete_key(&version_key(uid, v));
        }
        inner.dashboards.remove(uid);
        Ok(d)
    }

    /// A dashboard's kept versions, newest first.
    pub fn versions(&self, uid: &str) -> Result<Vec<Version>, Error> {
        let current = {
            let inner = self.lock();
            inner.dashboards.get(uid).ok_or(Error::NotFound)?.version
        };
        let mut out: Vec<Version> = self
            .state
            .list(&format!("{VERSION_KEY}{uid}/"))
            .map_err(|e| Error::Store(e.to_string()))?
            .into_iter()
            .filter_map(|(key, value)| match serde_json::from_slice::<Version>(&value) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::error!(key, error = %e, "skipping an unreadable dashboard version");
                    None
                }
            })
            // Left over from a dashboard deleted (or a save that failed)
            // before this one was created under the same uid.
            .filter(|v| v.version <= current)
            .collect();
        out.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(out)
    }

    /// One kept version.
    pub fn version(&self, uid: &str, version: i64) -> Result<Version, Error> {
        self.versions(uid)?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or(Error::VersionNotFound)
    }

    /// Saves the model of `version` as a new version (Grafana's restore:
    /// same folder, overwriting, message "Restored from version N").
    pub fn restore(&self, uid: &str, version: i64) -> Result<Dashboard, Error> {
        let old = self.version(uid, version)?;
        let mut inner = self.lock();
        let current = inner.dashboards.get(uid).cloned().ok_or(Error::NotFound)?;
        if current.provisioned.is_some() {
            return Err(Error::SaveProvisioned);
        }
        let mut data = old.data;
        if let Some(m) = data.as_object_mut() {
            m.insert("id".into(), Value::from(current.id));
            m.insert("uid".into(), Value::from(uid));
            m.insert("version".into(), Value::from(current.version));
        }
        self.save_locked(
            &mut inner,
            data,
            current.folder_uid,
            format!("Restored from version {version}"),
            SaveMode {
                overwrite: true,
                provisioning: None,
                restored_from: version,
            },
        )
    }

    /// Folders and dashboards matching `q`: folders first, then by title
    /// ignoring case (Grafana's order without a `sort`), one page.
    pub fn search(&self, q: &Query) -> Vec<Hit> {
        let inner = self.lock();
        let needle = q.query.to_lowercase();
        let in_folder = |folder_uid: &str| {
            if q.folder_uids.is_empty() && q.folder_ids.is_empty() {
                return true;
            }
            let root = folder_uid.is_empty();
            q.folder_uids
                .iter()
                .any(|u| u == folder_uid || (root && (u == "general" || u.is_empty())))
                || q.folder_ids.iter().any(|&id| {
                    if root {
                        id == 0
                    } else {
                        inner.folders.get(folder_uid).is_some_and(|f| f.id == id)
                    }
                })
        };
        let wanted = |kind: Kind, id: i64, uid: &str, title: &str, tags: &[String]| {
            q.kind.is_none_or(|k| k == kind)
                && (needle.is_empty() || title.to_lowercase().contains(&needle))
                && q.tags.iter().all(|t| tags.contains(t))
                && (q.dashboard_uids.is_empty() || q.dashboard_uids.iter().any(|u| u == uid))
                && (q.dashboard_ids.is_empty() || q.dashboard_ids.contains(&id))
        };
        let mut hits: Vec<Hit> = Vec::new();
        for f in inner.folders.values() {
            if wanted(Kind::Folder, f.id, &f.uid, &f.title, &[]) && in_folder("") {
                hits.push(Hit {
                    kind: Kind::Folder,
                    id: f.id,
                    uid: f.uid.clone(),
                    slug: slugify(&f.title),
                    title: f.title.clone(),
                    tags: Vec::new(),
                    folder: None,
                });
            }
        }
        for d in inner.dashboards.values() {
            if wanted(Kind::Dashboard, d.id, &d.uid, &d.title, &d.tags) && in_folder(&d.folder_uid)
            {
                let mut tags = d.tags.clone();
                tags.sort();
                hits.push(Hit {
                    kind: Kind::Dashboard,
                    id: d.id,
                    uid: d.uid.clone(),
                    title: d.title.clone(),
                    slug: d.slug.clone(),
                    tags,
                    folder: inner.folders.get(&d.folder_uid).cloned(),
                });
            }
        }
        hits.sort_by(|a, b| {
            (a.kind == Kind::Dashboard)
                .cmp(&(b.kind == Kind::Dashboard))
                .then_with(|| a.title.to_lowercase().cmp(&b.title.to_lowercase()))
                .then_with(|| a.uid.cmp(&b.uid))
        });
        let limit = q.limit.max(1);
        hits.into_iter()
            .skip(limit * (q.page.max(1) - 1))
            .take(limit)
            .collect()
    }

    /// Every tag with the number of dashboards carrying it, by tag.
    pub fn tags(&self) -> Vec<(String, usize)> {
        let inner = self.lock();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for d in inner.dashboards.values() {
            for t in &d.tags {
                *counts.entry(t.clone()).or_default() += 1;
            }
        }
        counts.into_iter().collect()
    }

    /// How many dashboards and folders there are.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.dashboards.len(), inner.folders.len())
    }

    /// Every folder, by title.
    pub fn folders(&self) -> Vec<Folder> {
        let inner = self.lock();
        let mut out: Vec<Folder> = inner.folders.values().cloned().collect();
        out.sort_by_key(|f| f.title.to_lowercase());
        out
    }

    pub fn folder(&self, uid: &str) -> Option<Folder> {
        self.lock().folders.get(uid).cloned()
    }

    pub fn folder_by_id(&self, id: i64) -> Option<Folder> {
        self.lock().folders.values().find(|f| f.id == id).cloned()
    }

    /// `POST /api/folders`: a new folder; the uid is made up when not given.
    pub fn create_folder(&self, uid: Option<&str>, title: &str) -> Result<Folder, Error> {
        let mut inner = self.lock();
        self.create_folder_locked(&mut inner, uid.unwrap_or(""), title)
    }

    fn create_folder_locked(
        &self,
        inner: &mut Inner,
        uid: &str,
        title: &str,
    ) -> Result<Folder, Error> {
        validate_uid(uid)?;
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::FolderTitleEmpty);
        }
        if inner.folders.contains_key(uid) || inner.dashboards.contains_key(uid) {
            return Err(Error::FolderUidExists);
        }
        if inner.folders.values().any(|f| f.title == title)
            || inner
                .dashboards
                .values()
                .any(|d| d.folder_uid.is_empty() && d.title == title)
        {
            return Err(Error::FolderNameExists);
        }
        let uid = if uid.is_empty() {
            inner.new_uid()
        } else {
            uid.to_string()
        };
        let now = self.clock.now_ms();
        let folder = Folder {
            id: inner.next_id,
            uid: uid.clone(),
            title: title.to_string(),
            version: 1,
            created: now,
            updated: now,
        };
        self.put(&format!("{FOLDER_KEY}{uid}"), &folder)?;
        inner.next_id += 1;
        inner.folders.insert(uid, folder.clone());
        Ok(folder)
    }

    /// `PUT /api/folders/{uid}`: a new title; `version` must be the stored
    /// one unless `overwrite`.
    pub fn update_folder(
        &self,
        uid: &str,
        title: &str,
        version: i64,
        overwrite: bool,
    ) -> Result<Folder, Error> {
        let mut inner = self.lock();
        let mut f = inner.folders.get(uid).cloned().ok_or(Error::NoSuchFolder)?;
        if !overwrite && version != f.version {
            return Err(Error::FolderVersionMismatch);
        }
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::FolderTitleEmpty);
        }
        if inner
            .folders
            .values()
            .any(|o| o.uid != uid && o.title == title)
        {
            return Err(Error::FolderNameExists);
        }
        f.title = title.to_string();
        f.version += 1;
        f.updated = self.clock.now_ms();
        self.put(&format!("{FOLDER_KEY}{uid}"), &f)?;
        inner.folders.insert(uid.to_string(), f.clone());
        Ok(f)
    }

    /// `DELETE /api/folders/{uid}`: the folder and every dashboard in it,
    /// as Grafana does; refused when provisioned dashboards are inside.
    pub fn delete_folder(&self, uid: &str) -> Result<(Folder, usize), Error> {
        let mut inner = self.lock();
        let f = inner.folders.get(uid).cloned().ok_or(Error::NoSuchFolder)?;
        let inside: Vec<&Dashboard> = inner
            .dashboards
            .values()
            .filter(|d| d.folder_uid == uid)
            .collect();
        if inside.iter().any(|d| d.provisioned.is_some()) {
            return Err(Error::FolderHasProvisioned);
        }
        let inside: Vec<String> = inside.iter().map(|d| d.uid.clone()).collect();
        for d in &inside {
            self.delete_locked(&mut inner, d)?;
        }
        self.state
            .delete(&format!("{FOLDER_KEY}{uid}"))
            .map_err(|e| Error::Store(e.to_string()))?;
        inner.folders.remove(uid);
        Ok((f, inside.len()))
    }

    fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<(), Error> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::Store(format!("BUG: encoding {key}: {e}")))?;
        self.state
            .put(key, &bytes)
            .map_err(|e| Error::Store(e.to_string()))
    }

    /// Deletes a key whose loss costs nothing but space (an old version).
    fn delete_key(&self, key: &str) {
        if let Err(e) = self.state.delete(key) {
            tracing::warn!(key, error = %e, "deleting an old dashboard version failed");
        }
    }
}

impl Inner {
    fn resolve_folder(&self, choice: &FolderChoice) -> Result<String, Error> {
        match choice {
            FolderChoice::General => Ok(String::new()),
            FolderChoice::Uid(u) => self
                .folders
                .get(u)
                .map(|f| f.uid.clone())
                .ok_or(Error::FolderNotFound),
            FolderChoice::Id(id) => self
                .folders
                .values()
                .find(|f| f.id == *id)
                .map(|f| f.uid.clone())
                .ok_or(Error::FolderNotFound),
        }
    }

    /// A fresh uid as Grafana makes them: 14 characters, a lowercase
    /// letter first, then letters and digits.
    fn new_uid(&mut self) -> String {
        use std::hash::BuildHasher;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        loop {
            self.uid_seed = self.uid_seed.wrapping_add(1);
            // RandomState is seeded from the operating system's random
            // source; two draws give the 14 characters enough bits.
            let random = std::collections::hash_map::RandomState::new();
            let mut bits = [
                random.hash_one(self.uid_seed),
                random.hash_one(!self.uid_seed),
            ];
            let mut uid = String::with_capacity(14);
            for i in 0..14 {
                let word = &mut bits[i / 7];
                let n = if i == 0 { 26 } else { 36 };
                uid.push(ALPHABET[(*word % n) as usize] as char);
                *word /= n;
            }
            if !self.dashboards.contains_key(&uid) && !self.folders.contains_key(&uid) {
                return uid;
            }
        }
    }
}

/// The stored form of a dashboard: the record and the id of its current
/// version (so ids of new versions continue after a restart).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(flatten)]
    dashboard: Dashboard,
    #[serde(default)]
    version_id: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordRef<'a> {
    #[serde(flatten)]
    dashboard: &'a Dashboard,
    version_id: i64,
}

fn version_key(uid: &str, version: i64) -> String {
    format!("{VERSION_KEY}{uid}/{version:010}")
}

/// Grafana's uid rules: at most 40 of `[A-Za-z0-9_-]`.
fn validate_uid(uid: &str) -> Result<(), Error> {
    if !uid
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Error::InvalidUid);
    }
    if uid.len() > MAX_UID_LEN {
        return Err(Error::UidTooLong);
    }
    Ok(())
}

/// Grafana's slug of a title (`pkg/infra/slugify`): lowercase; ASCII
/// letters and digits kept, common accented Latin letters and `&`, `@`
/// spelled out, every other run of characters one `-`, none at either
/// end. A title with nothing sluggable becomes its URL-safe base64, as in
/// Grafana, so the URL is never empty.
pub fn slugify(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut dash = false;
    for c in title.trim().to_lowercase().chars() {
        let spelled = match c {
            'a'..='z' | '0'..='9' => None,
            '&' => Some("and"),
            '@' => Some("at"),
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => Some("a"),
            'æ' => Some("ae"),
            'ç' | 'č' | 'ć' => Some("c"),
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => Some("e"),
            'ì' | 'í' | 'î' | 'ï' | 'ī' => Some("i"),
            'ñ' | 'ń' | 'ň' => Some("n"),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => Some("o"),
            'œ' => Some("oe"),
            'ß' => Some("ss"),
            'š' | 'ś' => Some("s"),
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => Some("u"),
            'ý' | 'ÿ' => Some("y"),
            'ž' | 'ź' | 'ż' => Some("z"),
            'ł' => Some("l"),
            'đ' | 'ď' => Some("d"),
            'ř' => Some("r"),
            'ť' => Some("t"),
            _ => {
                if !dash {
                    out.push('-');
                    dash = true;
                }
                continue;
            }
        };
        match spelled {
            Some(s) => out.push_str(s),
            None => out.push(c),
        }
        dash = false;
    }
    let slug = out.trim_matches('-');
    if slug.is_empty() {
        use base64::Engine;
        return base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(title.as_bytes());
    }
    slug.to_string()
}
