//! Provisioning: dashboards that come from files rather than the API, as
//! Grafana's file provider with `foldersFromFilesStructure` loads them.
//!
//! A [`Provider`] reads every `*.json` of its directory (General folder)
//! and of each subdirectory one level down (a folder named after the
//! directory), and [`Store::apply_provisioned`] makes the store match:
//! new and changed files are saved (a new version each), dashboards whose
//! file is gone are deleted, a broken file is logged as `path: error` and
//! its dashboard, if an earlier read loaded one, stays. [`watch`] repeats
//! this every `--dashboards.update-interval` (Grafana's
//! `updateIntervalSeconds`, 10 s). The built-in dashboards
//! ([`builtin_items`]) are a provider too, in the folder `pharos`.
//!
//! A file is recognised by its path and its SHA-256 (with its folder), so
//! an unchanged file is neither parsed nor saved again.

use pharos_agent::sync::LockExt;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::{Error, Provisioning, SaveMode, Store};

/// The provider name of `--dashboards.path`.
pub const FILES: &str = "files";
/// The provider name of the dashboards inside the binary.
pub const BUILTIN: &str = "builtin";
/// The folder of the built-in dashboards.
pub const BUILTIN_FOLDER: &str = "pharos";

/// The built-in dashboards: file name and JSON model.
pub const BUILTIN_DASHBOARDS: &[(&str, &str)] = &[
    ("host.json", include_str!("builtin/host.json")),
    ("pharos.json", include_str!("builtin/pharos.json")),
];

/// One file as read: not parsed until its checksum says it changed.
#[derive(Debug, Clone)]
pub struct Item {
    /// The path relative to the provider's root.
    pub external_id: String,
    /// `None`: the General folder.
    pub folder: Option<String>,
    pub checksum: String,
    pub bytes: Vec<u8>,
}

impl Item {
    pub fn new(external_id: String, folder: Option<String>, bytes: Vec<u8>) -> Item {
        let mut h = Sha256::new();
        h.update(folder.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        h.update(&bytes);
        Item {
            external_id,
            folder,
            checksum: hex(&h.finalize()),
            bytes,
        }
    }
}

/// A changed file, parsed.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub external_id: String,
    pub folder: Option<String>,
    pub checksum: String,
    pub dashboard: Value,
}

/// The built-in dashboards as provisioning items.
pub fn builtin_items() -> Vec<Item> {
    BUILTIN_DASHBOARDS
        .iter()
        .map(|(name, text)| {
            Item::new(
                format!("builtin/{name}"),
                Some(BUILTIN_FOLDER.to_string()),
                text.as_bytes().to_vec(),
            )
        })
        .collect()
}

/// A directory of dashboard files, read again on every [`Provider::sync`].
pub struct Provider {
    name: &'static str,
    root: PathBuf,
    /// Checksums of broken files already reported, so one broken file is
    /// logged once, not at every poll.
    reported: Mutex<HashMap<String, String>>,
    /// Whether an unreadable root was reported.
    root_reported: Mutex<bool>,
}

impl Provider {
    pub fn files(root: PathBuf) -> Provider {
        Provider {
            name: FILES,
            root,
            reported: Mutex::default(),
            root_reported: Mutex::new(false),
        }
    }

    /// Reads the directory and brings the store in line with it. Blocking.
    pub fn sync(&self, store: &Store) {
        let items = match scan(&self.root) {
            Ok(items) => {
                *self.root_reported.locked() = false;
                items
            }
            Err(e) => {
                // Grafana's answer to a missing directory: nothing changes
                // (an unmounted disk must not delete every dashboard).
                let mut reported = self.root_reported.locked();
                if !*reported {
                    tracing::error!(
                        "{}: cannot read the dashboards directory: {e}",
                        self.root.display()
                    );
                    *reported = true;
                }
                return;
            }
        };
        let mut reported = self.reported.locked();
        let errors = sync_items(store, self.name, items, |ext, checksum| {
            reported.get(ext).is_some_and(|c| c == checksum)
        });
        for (ext, checksum, e) in errors {
            tracing::error!("{}: {e}", self.root.join(&ext).display());
            reported.insert(ext, checksum);
        }
    }
}

/// Saves the changed items of `provider` and deletes its dashboards whose
/// file is gone; returns the files refused, with their checksum and why.
/// Items `known_broken` says were refused before are kept as they are.
pub fn sync_items(
    store: &Store,
    provider: &str,
    items: Vec<Item>,
    known_broken: impl Fn(&str, &str) -> bool,
) -> Vec<(String, String, String)> {
    let stored = store.provisioned_checksums(provider);
    let present: HashSet<String> = items.iter().map(|i| i.external_id.clone()).collect();
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for item in items {
        if stored.get(&item.external_id) == Some(&item.checksum)
            || known_broken(&item.external_id, &item.checksum)
        {
            continue;
        }
        match serde_json::from_slice::<Value>(&item.bytes) {
            Ok(v) if v.is_object() => parsed.push(Parsed {
                external_id: item.external_id,
                folder: item.folder,
                checksum: item.checksum,
                dashboard: v,
            }),
            Ok(_) => errors.push((
                item.external_id,
                item.checksum,
                Error::NotAnObject.to_string(),
            )),
            Err(e) => errors.push((
                item.external_id,
                item.checksum,
                format!("invalid JSON: {e}"),
            )),
        }
    }
    let checksums: HashMap<String, String> = parsed
        .iter()
        .map(|p| (p.external_id.clone(), p.checksum.clone()))
        .collect();
    for (ext, e) in store.apply_provisioned(provider, parsed, &present) {
        let checksum = checksums.get(&ext).cloned().unwrap_or_default();
        errors.push((ext, checksum, e.to_string()));
    }
    errors
}

/// Saves the built-in dashboards (at start; they change with the binary).
pub fn sync_builtin(store: &Store) {
    for (ext, _, e) in sync_items(store, BUILTIN, builtin_items(), |_, _| false) {
        tracing::error!("BUG: built-in dashboard {ext}: {e}");
    }
}

/// The `*.json` files of `root` and of its subdirectories (one level;
/// hidden entries skipped), by path. A file that cannot be read is left
/// out, which deletes its dashboard only if it is gone for good; reading
/// errors other than "not found" are logged.
pub fn scan(root: &Path) -> std::io::Result<Vec<Item>> {
    let mut items = Vec::new();
    for entry in sorted_entries(root)? {
        let (name, path) = entry;
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let Ok(inner) = sorted_entries(&path) else {
                continue;
            };
            for (file, p) in inner {
                if file.ends_with(".json") && p.is_file() {
                    read_into(&mut items, format!("{name}/{file}"), Some(name.clone()), &p);
                }
            }
        } else if name.ends_with(".json") {
            read_into(&mut items, name, None, &path);
        }
    }
    Ok(items)
}

fn sorted_entries(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            (!name.starts_with('.')).then(|| (name, e.path()))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn read_into(items: &mut Vec<Item>, external_id: String, folder: Option<String>, path: &Path) {
    match std::fs::read(path) {
        Ok(bytes) => items.push(Item::new(external_id, folder, bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::error!("{}: {e}", path.display()),
    }
}

/// Polls `provider` every `every` until `stop` flips.
pub async fn watch(
    store: Arc<Store>,
    provider: Arc<Provider>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the start already synced.
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let (s, p) = (Arc::clone(&store), Arc::clone(&provider));
        if let Err(e) = tokio::task::spawn_blocking(move || p.sync(&s)).await {
            tracing::error!(error = %e, "dashboard provisioning task failed");
        }
    }
}

impl Store {
    /// Checksum of every dashboard `provider` saved, by file.
    pub fn provisioned_checksums(&self, provider: &str) -> HashMap<String, String> {
        self.lock()
            .dashboards
            .values()
            .filter_map(|d| d.provisioned.as_ref())
            .filter(|p| p.provider == provider)
            .map(|p| (p.external_id.clone(), p.checksum.clone()))
            .collect()
    }

    /// Saves `parsed` as `provider`'s dashboards and deletes those of its
    /// dashboards whose file is not in `present`; returns the files
    /// refused and why.
    pub fn apply_provisioned(
        &self,
        provider: &str,
        parsed: Vec<Parsed>,
        present: &HashSet<String>,
    ) -> Vec<(String, Error)> {
        let mut inner = self.lock();
        let mut errors = Vec::new();
        let gone: Vec<String> = inner
            .dashboards
            .values()
            .filter(|d| {
                d.provisioned
                    .as_ref()
                    .is_some_and(|p| p.provider == provider && !present.contains(&p.external_id))
            })
            .map(|d| d.uid.clone())
            .collect();
        for uid in gone {
            if let Err(e) = self.delete_locked(&mut inner, &uid) {
                errors.push((uid, e));
            }
        }
        for p in parsed {
            let mine = |d: &super::Dashboard| {
                d.provisioned
                    .as_ref()
                    .is_some_and(|x| x.provider == provider && x.external_id == p.external_id)
            };
            let before = inner.dashboards.values().find(|d| mine(d)).cloned();
            let uid = match p.dashboard.get("uid").and_then(Value::as_str) {
                Some(u) if !u.is_empty() => u.to_string(),
                _ => before
                    .as_ref()
                    .map(|d| d.uid.clone())
                    .unwrap_or_else(|| derived_uid(&p.external_id)),
            };
            if let Err(e) = super::validate_uid(&uid) {
                errors.push((p.external_id, e));
                continue;
            }
            if let Some(other) = inner.dashboards.get(&uid).filter(|d| !mine(d)) {
                if let Some(x) = &other.provisioned {
                    errors.push((
                        p.external_id,
                        Error::Store(format!(
                            "uid {uid:?} is already used by the provisioned dashboard {}",
                            x.external_id
                        )),
                    ));
                    continue;
                }
                tracing::warn!(
                    uid,
                    file = p.external_id,
                    "a provisioned dashboard replaces the one saved through the API with its uid"
                );
            }
            let folder_uid = match &p.folder {
                None => String::new(),
                Some(title) => match self.folder_for_provisioning(&mut inner, title) {
                    Ok(u) => u,
                    Err(e) => {
                        errors.push((p.external_id, e));
                        continue;
                    }
                },
            };
            // The file's uid changed: its old dashboard goes.
            if let Some(b) = before.filter(|b| b.uid != uid) {
                if let Err(e) = self.delete_locked(&mut inner, &b.uid) {
                    errors.push((p.external_id, e));
                    continue;
                }
            }
            let mut data = p.dashboard;
            if let Some(m) = data.as_object_mut() {
                // An exported dashboard's id belongs to another install.
                m.shift_remove("id");
                m.insert("uid".into(), Value::from(uid.clone()));
            }
            let mode = SaveMode {
                overwrite: true,
                provisioning: Some(Provisioning {
                    provider: provider.to_string(),
                    external_id: p.external_id.clone(),
                    checksum: p.checksum,
                }),
                restored_from: 0,
            };
            if let Err(e) = self.save_locked(&mut inner, data, folder_uid, String::new(), mode) {
                errors.push((p.external_id, e));
            }
        }
        errors
    }

    /// The folder titled `title`, created when missing (uid: its slug when
    /// free), as Grafana's provisioning finds folders by title.
    fn folder_for_provisioning(
        &self,
        inner: &mut super::Inner,
        title: &str,
    ) -> Result<String, Error> {
        if let Some(f) = inner.folders.values().find(|f| f.title == title) {
            return Ok(f.uid.clone());
        }
        let mut uid: String = super::slugify(title).chars().take(40).collect();
        if super::validate_uid(&uid).is_err()
            || inner.folders.contains_key(&uid)
            || inner.dashboards.contains_key(&uid)
        {
            uid = String::new();
        }
        Ok(self.create_folder_locked(inner, &uid, title)?.uid)
    }
}

/// A uid for a file without one: its name's slug and a hash of its path,
/// the same at every start.
fn derived_uid(external_id: &str) -> String {
    let stem = external_id
        .rsplit('/')
        .next()
        .unwrap_or(external_id)
        .trim_end_matches(".json");
    let slug: String = super::slugify(stem)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(27)
        .collect();
    let hash = hex(&Sha256::digest(external_id.as_bytes()));
    format!("{slug}-{}", &hash[..12])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
