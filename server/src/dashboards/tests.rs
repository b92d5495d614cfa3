//! The store's rules against an in-memory state: saves and conflicts,
//! versions and restore, folders, search, provisioning, a restart.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use super::provision::{self, Item};
use super::*;
use crate::storage::state::MemState;

struct Fixture {
    state: Arc<MemState>,
    now: Arc<AtomicI64>,
    store: Store,
}

impl Fixture {
    fn new() -> Fixture {
        let state = Arc::new(MemState::default());
        let now = Arc::new(AtomicI64::new(1_700_000_000_000));
        let store = Fixture::open(&state, &now);
        Fixture { state, now, store }
    }

    fn open(state: &Arc<MemState>, now: &Arc<AtomicI64>) -> Store {
        let n = Arc::clone(now);
        Store::load(
            Arc::clone(state) as Arc<dyn StateStore>,
            Clock::from_fn(move || n.load(Ordering::SeqCst)),
        )
        .unwrap()
    }

    /// The same state opened again, as after a restart.
    fn restart(self) -> Fixture {
        let store = Fixture::open(&self.state, &self.now);
        Fixture { store, ..self }
    }

    fn tick(&self) {
        self.now.fetch_add(1000, Ordering::SeqCst);
    }

    fn save(
        &self,
        dashboard: Value,
        folder: FolderChoice,
        overwrite: bool,
    ) -> Result<Dashboard, Error> {
        self.tick();
        self.store.save(Save {
            dashboard,
            folder,
            message: String::new(),
            overwrite,
        })
    }

    fn keys(&self, prefix: &str) -> Vec<String> {
        self.state
            .list(prefix)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    }
}

#[test]
fn create_generates_uid_and_sets_id_uid_version_in_the_model() {
    let f = Fixture::new();
    let d = f
        .save(
            json!({"id": null, "uid": null, "title": "Production Overview", "tags": ["templated"], "custom": {"kept": [1, 2]}}),
            FolderChoice::General,
            false,
        )
        .unwrap();
    assert_eq!(d.version, 1);
    assert_eq!(d.slug, "production-overview");
    assert_eq!(d.uid.len(), 14);
    assert!(d.uid.as_bytes()[0].is_ascii_lowercase());
    assert!(d
        .uid
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    let (got, folder) = f.store.get(&d.uid).unwrap();
    assert!(folder.is_none());
    assert_eq!(got.data["id"], d.id);
    assert_eq!(got.data["uid"], d.uid.as_str());
    assert_eq!(got.data["version"], 1);
    assert_eq!(
        got.data["custom"],
        json!({"kept": [1, 2]}),
        "unknown fields are kept"
    );
    assert_eq!(got.tags, ["templated"]);
    // Another create gets another uid and id.
    let e = f
        .save(json!({"title": "Other"}), FolderChoice::General, false)
        .unwrap();
    assert_ne!(e.uid, d.uid);
    assert_ne!(e.id, d.id);
}

#[test]
fn update_needs_the_stored_version_unless_overwrite() {
    let f = Fixture::new();
    let d = f
        .save(
            json!({"uid": "abc", "title": "A"}),
            FolderChoice::General,
            false,
        )
        .unwrap();
    let created = d.created;
    // Stale (missing) version: refused.
    assert_eq!(
        f.save(
            json!({"uid": "abc", "title": "A2"}),
            FolderChoice::General,
            false
        ),
        Err(Error::VersionMismatch)
    );
    let d2 = f
        .save(
            json!({"uid": "abc", "title": "A2", "version": 1}),
            FolderChoice::General,
            false,
        )
        .unwrap();
    assert_eq!((d2.id, d2.version, d2.created), (d.id, 2, created));
    assert!(d2.updated > created);
    // By id alone, without the uid, is the same dashboard.
    let d3 = f
        .save(
            json!({"id": d.id, "title": "A3", "version": 2}),
            FolderChoice::General,
            false,
        )
        .unwrap();
    assert_eq!((d3.uid.as_str(), d3.version), ("abc", 3));
    assert_eq!(
        f.save(
            json!({"uid": "abc", "title": "A4", "version": 1}),
            FolderChoice::General,
            false
        ),
        Err(Error::VersionMismatch)
    );
    let d4 = f
        .save(
            json!({"uid": "abc", "title": "A4", "version": 1}),
            FolderChoice::General,
            true,
        )
        .unwrap();
    assert_eq!(d4.version, 4);
    // An id that does not exist.
    assert_eq!(
        f.save(
            json!({"id": 999, "title": "X"}),
            FolderChoice::General,
            false
        ),
        Err(Error::NotFound)
    );
}

#[test]
fn same_title_in_the_same_folder_is_a_conflict_unless_overwrite() {
    let f = Fixture::new();
    let folder = f.store.create_folder(Some("team"), "Team").unwrap();
    let a = f
        .save(
            json!({"uid": "a", "title": "Same"}),
            FolderChoice::General,
            false,
        )
        .unwrap();
    assert_eq!(
        f.save(
            json!({"uid": "b", "title": "Same"}),
            FolderChoice::General,
            false
        ),
        Err(Error::NameExists)
    );
    // Another folder is fine.
    f.save(
        json!({"uid": "b", "title": "Same"}),
        FolderChoice::Uid("team".into()),
        false,
    )
    .unwrap();
    f.save(
        json!({"uid": "c", "title": "Same2"}),
        FolderChoice::Id(folder.id),
        false,
    )
    .unwrap();
    // With overwrite, the save replaces the dashboard holding the title.
    let replaced = f
        .save(
            json!({"uid": "z", "title": "Same", "panels": [1]}),
            FolderChoice::General,
            true,
        )
        .unwrap();
    assert_eq!(
        (replaced.uid.as_str(), replaced.id, replaced.version),
        ("a", a.id, 2)
    );
    assert!(f.store.get("z").is_none());
}

#[test]
fn bad_input_is_refused_with_grafanas_reasons() {
    let f = Fixture::new();
    for (model, want) in [
        (json!({"title": "  "}), Error::TitleEmpty),
        (json!({"uid": "x"}), Error::TitleEmpty),
        (json!({"title": "t", "uid": "has space"}), Error::InvalidUid),
        (
            json!({"title": "t", "uid": "a".repeat(41)}),
            Error::UidTooLong,
        ),
        (json!([1, 2]), Error::NotAnObject),
    ] {
        assert_eq!(f.save(model, FolderChoice::General, false), Err(want));
    }
    assert_eq!(
        f.save(
            json!({"title": "t"}),
            FolderChoice::Uid("nope".into()),
            false
        ),
        Err(Error::FolderNotFound)
    );
    assert_eq!(
        f.save(json!({"title": "t"}), FolderChoice::Id(42), false),
        Err(Error::FolderNotFound)
    );
    f.store.create_folder(Some("fold"), "Fold").unwrap();
    assert_eq!(
        f.save(
            json!({"title": "t", "uid": "fold"}),
            FolderChoice::General,
            false
        ),
        Err(Error::SameUidExists)
    );
    assert!(f.keys("dashboard").is_empty(), "nothing refused was stored");
}

#[test]
fn slugs_are_grafanas() {
    for (title, want) in [
        ("Production Overview", "production-overview"),
        ("  Hello,  World!! ", "hello-world"),
        ("CPU / Memory (5m)", "cpu-memory-5m"),
        ("Crème brûlée & Co", "creme-brulee-and-co"),
        ("a--b__c", "a-b-c"),
        ("Node Exporter Full", "node-exporter-full"),
        ("日本語", "5pel5pys6Kqe"),
    ] {
        assert_eq!(slugify(title), want, "{title:?}");
    }
}

#[test]
fn versions_are_kept_bounded_and_restore_makes_a_new_one() {
    let f = Fixture::new();
    for v in 0..25 {
        f.save(
            json!({"uid": "v", "title": format!("title {}", v + 1), "version": v}),
            FolderChoice::General,
            false,
        )
        .unwrap();
    }
    let versions = f.store.versions("v").unwrap();
    assert_eq!(versions.len(), VERSIONS_TO_KEEP as usize);
    assert_eq!(versions[0].version, 25);
    assert_eq!(versions.last().unwrap().version, 6);
    assert_eq!(versions[0].parent_version, 24);
    assert_eq!(
        f.keys("dashboard-version/v/").len(),
        20,
        "old versions deleted"
    );
    assert_eq!(f.store.version("v", 5), Err(Error::VersionNotFound));
    let v10 = f.store.version("v", 10).unwrap();
    assert_eq!(v10.data["title"], "title 10");
    assert_eq!(v10.data["version"], 10);

    let d = f.store.restore("v", 10).unwrap();
    assert_eq!((d.version, d.title.as_str()), (26, "title 10"));
    assert_eq!(d.data["version"], 26);
    let newest = &f.store.versions("v").unwrap()[0];
    assert_eq!(newest.version, 26);
    assert_eq!(newest.restored_from, 10);
    assert_eq!(newest.parent_version, 25);
    assert_eq!(newest.message, "Restored from version 10");
    assert_eq!(f.store.restore("v", 3), Err(Error::VersionNotFound));
    assert_eq!(f.store.restore("nope", 3), Err(Error::NotFound));

    f.store.delete("v").unwrap();
    assert!(
        f.keys("dashboard-version/").is_empty(),
        "versions go with the dashboard"
    );
    assert_eq!(f.store.versions("v"), Err(Error::NotFound));
}

#[test]
fn folders_rename_with_versions_and_delete_with_their_dashboards() {
    let f = Fixture::new();
    let folder = f.store.create_folder(None, "Team A").unwrap();
    assert_eq!(folder.version, 1);
    assert_eq!(
        f.store.create_folder(None, "Team A"),
        Err(Error::FolderNameExists)
    );
    assert_eq!(
        f.store.create_folder(Some(&folder.uid), "Other"),
        Err(Error::FolderUidExists)
    );
    assert_eq!(
        f.store.create_folder(None, " "),
        Err(Error::FolderTitleEmpty)
    );
    assert_eq!(
        f.store.update_folder(&folder.uid, "Team B", 7, false),
        Err(Error::FolderVersionMismatch)
    );
    let renamed = f
        .store
        .update_folder(&folder.uid, "Team B", 1, false)
        .unwrap();
    assert_eq!((renamed.title.as_str(), renamed.version), ("Team B", 2));
    assert_eq!(
        f.store.update_folder("nope", "x", 1, true),
        Err(Error::NoSuchFolder)
    );

    let inside = f
        .save(
            json!({"title": "Inside"}),
            FolderChoice::Uid(folder.uid.clone()),
            false,
        )
        .unwrap();
    let outside = f
        .save(json!({"title": "Outside"}), FolderChoice::General, false)
        .unwrap();
    let (_, got_folder) = f.store.get(&inside.uid).unwrap();
    assert_eq!(got_folder.unwrap().title, "Team B");

    let (gone, n) = f.store.delete_folder(&folder.uid).unwrap();
    assert_eq!((gone.uid.as_str(), n), (folder.uid.as_str(), 1));
    assert!(f.store.get(&inside.uid).is_none());
    assert!(f.store.get(&outside.uid).is_some());
    assert!(f.store.folder(&folder.uid).is_none());
    assert_eq!(f.keys("dashboard/").len(), 1);
    assert!(f.keys("folder/").is_empty());
    assert!(f
        .keys(&format!("dashboard-version/{}/", inside.uid))
        .is_empty());
    assert_eq!(f.store.delete_folder(&folder.uid), Err(Error::NoSuchFolder));
}

#[test]
fn a_restart_loads_everything_and_ids_continue() {
    let f = Fixture::new();
    let folder = f.store.create_folder(Some("ops"), "Ops").unwrap();
    let a = f
        .save(
            json!({"uid": "a", "title": "A", "tags": ["x"]}),
            FolderChoice::Uid("ops".into()),
            false,
        )
        .unwrap();
    let a2 = f
        .save(
            json!({"uid": "a", "title": "A", "version": 1, "x": 2}),
            FolderChoice::Uid("ops".into()),
            false,
        )
        .unwrap();
    let before_versions = f.store.versions("a").unwrap();
    let f = f.restart();
    let (got, got_folder) = f.store.get("a").unwrap();
    assert_eq!(got, a2);
    assert_eq!(got_folder.unwrap(), folder);
    assert_eq!(f.store.versions("a").unwrap(), before_versions);
    let b = f
        .save(json!({"title": "B"}), FolderChoice::General, false)
        .unwrap();
    assert!(b.id > a.id.max(folder.id), "ids continue after the largest");
    let a3 = f
        .save(
            json!({"uid": "a", "title": "A", "version": 2}),
            FolderChoice::Uid("ops".into()),
            false,
        )
        .unwrap();
    assert_eq!(a3.version, 3);
    let versions = f.store.versions("a").unwrap();
    assert!(versions[0].id > versions[1].id, "version ids continue too");
}

#[test]
fn search_filters_sorts_and_pages_as_grafana() {
    let f = Fixture::new();
    let ops = f.store.create_folder(Some("ops"), "ops").unwrap();
    f.store.create_folder(Some("apps"), "Apps").unwrap();
    for (uid, title, tags, folder) in [
        ("n", "Node Exporter", vec!["linux", "node"], "ops"),
        ("b", "blackbox", vec!["probe"], ""),
        ("k", "Kubernetes Nodes", vec!["node"], "apps"),
        ("z", "Zeta", vec![], ""),
    ] {
        let folder = if folder.is_empty() {
            FolderChoice::General
        } else {
            FolderChoice::Uid(folder.into())
        };
        f.save(
            json!({"uid": uid, "title": title, "tags": tags}),
            folder,
            false,
        )
        .unwrap();
    }
    let uids = |q: Query| -> Vec<String> {
        f.store
            .search(&Query { limit: 1000, ..q })
            .into_iter()
            .map(|h| h.uid)
            .collect()
    };
    // Folders first, then titles ignoring case.
    assert_eq!(uids(Query::default()), ["apps", "ops", "b", "k", "n", "z"]);
    assert_eq!(
        uids(Query {
            query: "NODE".into(),
            ..Default::default()
        }),
        ["k", "n"]
    );
    assert_eq!(
        uids(Query {
            tags: vec!["node".into()],
            ..Default::default()
        }),
        ["k", "n"]
    );
    assert_eq!(
        uids(Query {
            tags: vec!["node".into(), "linux".into()],
            ..Default::default()
        }),
        ["n"]
    );
    assert_eq!(
        uids(Query {
            kind: Some(Kind::Folder),
            ..Default::default()
        }),
        ["apps", "ops"]
    );
    assert_eq!(
        uids(Query {
            kind: Some(Kind::Dashboard),
            folder_uids: vec!["ops".into()],
            ..Default::default()
        }),
        ["n"]
    );
    assert_eq!(
        uids(Query {
            kind: Some(Kind::Dashboard),
            folder_uids: vec!["general".into()],
            ..Default::default()
        }),
        ["b", "z"]
    );
    assert_eq!(
        uids(Query {
            folder_ids: vec![ops.id],
            ..Default::default()
        }),
        ["n"]
    );
    assert_eq!(
        uids(Query {
            dashboard_uids: vec!["z".into(), "k".into()],
            ..Default::default()
        }),
        ["k", "z"]
    );
    let page2: Vec<String> = f
        .store
        .search(&Query {
            limit: 2,
            page: 2,
            ..Default::default()
        })
        .into_iter()
        .map(|h| h.uid)
        .collect();
    assert_eq!(page2, ["b", "k"]);
    let n = &f.store.search(&Query {
        query: "exporter".into(),
        limit: 10,
        ..Default::default()
    })[0];
    assert_eq!(n.folder.as_ref().unwrap().uid, "ops");
    assert_eq!(n.tags, ["linux", "node"]);
    assert_eq!(
        f.store.tags(),
        [
            ("linux".to_string(), 1),
            ("node".to_string(), 2),
            ("probe".to_string(), 1)
        ]
    );
}

fn item(path: &str, folder: Option<&str>, text: &str) -> Item {
    Item::new(
        path.into(),
        folder.map(str::to_string),
        text.as_bytes().to_vec(),
    )
}

fn sync(f: &Fixture, items: Vec<Item>) -> Vec<(String, String, String)> {
    f.tick();
    provision::sync_items(&f.store, provision::FILES, items, |_, _| false)
}

#[test]
fn provisioning_saves_changes_removes_gone_files_and_is_read_only() {
    let f = Fixture::new();
    let errors = sync(
        &f,
        vec![
            item(
                "a.json",
                None,
                r#"{"uid": "prov-a", "title": "A", "id": 99}"#,
            ),
            item("team/b.json", Some("team"), r#"{"title": "B"}"#),
        ],
    );
    assert!(errors.is_empty(), "{errors:?}");
    let (a, _) = f.store.get("prov-a").unwrap();
    assert_eq!(a.version, 1);
    assert_ne!(a.id, 99, "the file's id is not the store's");
    assert_eq!(a.provisioned.as_ref().unwrap().external_id, "a.json");
    let b = &f.store.search(&Query {
        query: "B".into(),
        kind: Some(Kind::Dashboard),
        limit: 10,
        ..Default::default()
    })[0];
    assert_eq!(b.folder.as_ref().unwrap().title, "team");
    let b_uid = b.uid.clone();
    assert!(
        b_uid.starts_with("b-"),
        "derived from the file name: {b_uid}"
    );

    // The API can neither save nor delete them.
    assert_eq!(
        f.save(
            json!({"uid": "prov-a", "title": "A", "version": 1}),
            FolderChoice::General,
            false
        ),
        Err(Error::SaveProvisioned)
    );
    assert_eq!(f.store.delete("prov-a"), Err(Error::DeleteProvisioned));
    assert_eq!(f.store.restore("prov-a", 1), Err(Error::SaveProvisioned));
    let team = f.store.folders()[0].uid.clone();
    assert_eq!(
        f.store.delete_folder(&team),
        Err(Error::FolderHasProvisioned)
    );

    // Unchanged files make no new version; a changed one does; a broken
    // one is reported and its dashboard kept; a gone one is deleted.
    sync(
        &f,
        vec![
            item(
                "a.json",
                None,
                r#"{"uid": "prov-a", "title": "A", "id": 99}"#,
            ),
            item("team/b.json", Some("team"), r#"{"title": "B"}"#),
        ],
    );
    assert_eq!(f.store.get("prov-a").unwrap().0.version, 1);
    let errors = sync(
        &f,
        vec![
            item("a.json", None, r#"{"uid": "prov-a", "title": "A changed"}"#),
            item("team/b.json", Some("team"), r#"{"title": "B", "#),
            item("c.json", None, r#"{"uid": "prov-c", "title": "C"}"#),
        ],
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "team/b.json");
    assert!(errors[0].2.contains("invalid JSON"), "{}", errors[0].2);
    let (a, _) = f.store.get("prov-a").unwrap();
    assert_eq!((a.version, a.title.as_str()), (2, "A changed"));
    assert!(
        f.store.get(&b_uid).is_some(),
        "a broken file keeps its dashboard"
    );
    assert!(f.store.get("prov-c").is_some());
    sync(
        &f,
        vec![item("c.json", None, r#"{"uid": "prov-c", "title": "C"}"#)],
    );
    assert!(f.store.get("prov-a").is_none());
    assert!(f.store.get(&b_uid).is_none());
    assert!(f.store.get("prov-c").is_some());

    // Two files may not claim one uid.
    let errors = sync(
        &f,
        vec![
            item("c.json", None, r#"{"uid": "prov-c", "title": "C"}"#),
            item("d.json", None, r#"{"uid": "prov-c", "title": "D"}"#),
        ],
    );
    assert_eq!(errors.len(), 1);
    assert!(errors[0].2.contains("already used"), "{}", errors[0].2);
    assert_eq!(f.store.get("prov-c").unwrap().0.title, "C");

    // They survive a restart, still provisioned.
    let f = f.restart();
    assert_eq!(f.store.delete("prov-c"), Err(Error::DeleteProvisioned));
}

#[test]
fn builtin_dashboards_load_into_the_pharos_folder() {
    let f = Fixture::new();
    provision::sync_builtin(&f.store);
    for uid in ["pharos-host", "pharos-self"] {
        let (d, folder) = f.store.get(uid).unwrap_or_else(|| panic!("{uid} missing"));
        assert_eq!(folder.unwrap().title, provision::BUILTIN_FOLDER);
        assert!(d.provisioned.is_some());
        assert_eq!(d.version, 1);
    }
    assert_eq!(f.store.get("pharos-host").unwrap().0.title, "Host");
    assert_eq!(f.store.get("pharos-self").unwrap().0.title, "pharos");
    // Loading them again at the next start changes nothing.
    let f = f.restart();
    provision::sync_builtin(&f.store);
    assert_eq!(f.store.get("pharos-host").unwrap().0.version, 1);
}

/// Every query of the built-in dashboards, with Grafana's variables
/// replaced: panel targets and the variables' `label_values` selectors.
fn builtin_queries() -> Vec<(String, String)> {
    let subst = |e: &str| {
        e.replace("$__rate_interval", "1m")
            .replace("$__interval", "15s")
            .replace("$__range", "1h")
            .replace("$instance", "x")
            .replace("$job", "y")
    };
    let mut out = Vec::new();
    for (name, text) in provision::BUILTIN_DASHBOARDS {
        let d: Value = serde_json::from_str(text).unwrap();
        for p in d["panels"].as_array().unwrap() {
            let gp = &p["gridPos"];
            let (x, w) = (gp["x"].as_i64().unwrap(), gp["w"].as_i64().unwrap());
            assert!(
                x >= 0 && w > 0 && x + w <= 24,
                "{name}: {} off the grid",
                p["title"]
            );
            // An SLO panel's queries are its SLI's selectors, rated.
            let slo = p["options"]["sli"].as_object().map(|sli| {
                sli.values()
                    .map(|sel| json!({"expr": format!("sum(rate({}[1m]))", sel.as_str().unwrap())}))
                    .collect::<Vec<_>>()
            });
            let targets = slo.unwrap_or_else(|| p["targets"].as_array().unwrap().clone());
            for t in &targets {
                out.push((
                    format!("{name}: {}", p["title"]),
                    subst(t["expr"].as_str().unwrap()),
                ));
            }
        }
        for v in d["templating"]["list"].as_array().unwrap() {
            let q = v["query"]["query"].as_str().unwrap();
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.rsplit_once(','))
                .map(|(sel, _)| sel)
                .unwrap_or_else(|| panic!("{name}: variable query {q}"));
            out.push((format!("{name}: variable {}", v["name"]), subst(inner)));
        }
    }
    out
}

#[test]
fn builtin_dashboard_queries_parse() {
    let queries = builtin_queries();
    assert!(queries.len() > 40, "only {} queries", queries.len());
    let mut seen = HashSet::new();
    for (what, q) in &queries {
        assert!(!q.contains('$'), "{what}: unreplaced variable in {q}");
        if let Err(e) = crate::promql::prepare::parse(q) {
            panic!("{what}: {q}: {e}");
        }
        seen.insert(what.clone());
    }
}
