//! Grafana's dashboard API against the real binary, as Grafana's HTTP API
//! documentation writes the requests: create, update and their 412s,
//! search, folders, versions and restore, delete; a grafonnet-style
//! dashboard and the Node Exporter Full dashboard (imported with inputs
//! and saved as is) read back unchanged; dashboards surviving a restart
//! and a SIGKILL; a provisioning directory followed as its files change;
//! the built-in dashboards, each of whose panels returns data from a
//! pharos running the built-in configuration.

use std::path::{Path, PathBuf};
use std::time::Duration;

use pharos_tests::{wait_for, write_atomic, Server};
use serde_json::{json, Value};

/// pharos without scraping, on a fresh data directory, with `extra` flags.
fn start(extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = start_on(&dir.path().join("data"), extra);
    (dir, s)
}

fn start_on(data: &Path, extra: &[&str]) -> Server {
    let mut flags = vec!["--collector.host=false", "--collector.self=false"];
    flags.extend_from_slice(extra);
    Server::start_with(data, &flags)
}

/// A request with an optional JSON body and `Origin`; (status, JSON body).
fn send(
    s: &Server,
    method: &str,
    path: &str,
    body: Option<&str>,
    origin: Option<&str>,
) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client.request(method, s.url(path));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    // Grafana's tools send a token; pharos ignores it for now.
    let r = req
        .header(
            "authorization",
            "Bearer eyJrIjoiT0tTcG1pUlY2RnVKZTFVaDFsNFZXdE9ZWmNrMkZYbk",
        )
        .send()
        .expect("request");
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn get(s: &Server, path: &str) -> (u16, Value) {
    send(s, "GET", path, None, None)
}

fn post(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    send(s, "POST", path, Some(&body.to_string()), None)
}

fn put(s: &Server, path: &str, body: &Value) -> (u16, Value) {
    send(s, "PUT", path, Some(&body.to_string()), None)
}

fn delete(s: &Server, path: &str) -> (u16, Value) {
    send(s, "DELETE", path, None, None)
}

/// `GET` that must answer 200.
fn ok(s: &Server, path: &str) -> Value {
    let (code, body) = get(s, path);
    assert_eq!(code, 200, "GET {path}: {body}");
    body
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

fn uids(hits: &Value) -> Vec<&str> {
    hits.as_array()
        .unwrap()
        .iter()
        .map(|h| h["uid"].as_str().unwrap())
        .collect()
}

/// The model without what the store sets (`id`, `version`).
fn without_ids(mut v: Value) -> Value {
    let m = v.as_object_mut().unwrap();
    m.shift_remove("id");
    m.shift_remove("version");
    v
}

/// Whether two models, without `id` and `version`, serialize to the same
/// text: same content in the same key order.
fn same_text(a: Value, b: Value) -> bool {
    without_ids(a).to_string() == without_ids(b).to_string()
}

#[test]
fn dashboards_folders_search_versions_as_grafana_documents_them() {
    let (_dir, s) = start(&["--web.cors.origin=https://grafana.example"]);

    // Folders: create (docs' example), read by uid and id, list.
    let (code, folder) = post(
        &s,
        "/api/folders",
        &json!({"uid": "l3KqBxCMz", "title": "Department ABC"}),
    );
    assert_eq!(code, 200, "{folder}");
    assert_eq!(folder["uid"], "l3KqBxCMz");
    assert_eq!(folder["title"], "Department ABC");
    assert_eq!(folder["url"], "/dashboards/f/l3KqBxCMz/department-abc");
    assert_eq!(folder["version"], 1);
    let folder_id = folder["id"].as_i64().unwrap();
    assert_eq!(ok(&s, "/api/folders/l3KqBxCMz")["title"], "Department ABC");
    assert_eq!(
        ok(&s, &format!("/api/folders/id/{folder_id}"))["uid"],
        "l3KqBxCMz"
    );
    let (code, body) = post(
        &s,
        "/api/folders",
        &json!({"uid": "l3KqBxCMz", "title": "Again"}),
    );
    assert_eq!(code, 409, "{body}");
    let (code, body) = post(&s, "/api/folders", &json!({"title": ""}));
    assert_eq!(
        (code, body),
        (400, json!({"message": "folder title cannot be empty"}))
    );
    let other = post(&s, "/api/folders", &json!({"title": "Department RND"})).1;
    let other_uid = other["uid"].as_str().unwrap().to_string();
    let list = ok(&s, "/api/folders");
    let titles: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Department ABC", "Department RND", "pharos"]);
    assert_eq!(keys(&list[0]), ["id", "title", "uid"]);

    // Create, with the docs' request for a new dashboard.
    let create = json!({
        "dashboard": {
            "id": null,
            "uid": null,
            "title": "Production Overview",
            "tags": ["templated"],
            "timezone": "browser",
            "schemaVersion": 16,
            "refresh": "25s"
        },
        "folderUid": "l3KqBxCMz",
        "message": "Made changes to xyz",
        "overwrite": false
    });
    let (code, saved) = post(&s, "/api/dashboards/db", &create);
    assert_eq!(code, 200, "{saved}");
    assert_eq!(
        keys(&saved),
        ["id", "slug", "status", "uid", "url", "version"]
    );
    let uid = saved["uid"].as_str().unwrap().to_string();
    let id = saved["id"].as_i64().unwrap();
    assert_eq!(saved["status"], "success");
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["slug"], "production-overview");
    assert_eq!(saved["url"], format!("/d/{uid}/production-overview"));

    let got = ok(&s, &format!("/api/dashboards/uid/{uid}"));
    assert_eq!(got["dashboard"]["id"], id);
    assert_eq!(got["dashboard"]["uid"], uid.as_str());
    assert_eq!(got["dashboard"]["version"], 1);
    assert_eq!(got["dashboard"]["refresh"], "25s");
    let meta = &got["meta"];
    assert_eq!(meta["type"], "db");
    assert_eq!(meta["slug"], "production-overview");
    assert_eq!(meta["url"], format!("/d/{uid}/production-overview"));
    assert_eq!(meta["folderId"], folder_id);
    assert_eq!(meta["folderUid"], "l3KqBxCMz");
    assert_eq!(meta["folderTitle"], "Department ABC");
    assert_eq!(meta["folderUrl"], "/dashboards/f/l3KqBxCMz/department-abc");
    assert_eq!(meta["provisioned"], false);
    assert_eq!(meta["canSave"], true);
    assert_eq!(meta["version"], 1);
    assert!(meta["created"].as_str().unwrap().ends_with('Z'));

    // Update as the docs do: by id, with the stored version.
    let (code, saved) = post(
        &s,
        "/api/dashboards/db",
        &json!({
            "dashboard": {"id": id, "title": "Production Overview Updated", "tags": ["templated"],
                          "timezone": "browser", "schemaVersion": 16, "version": 1, "refresh": "25s"},
            "folderUid": "l3KqBxCMz",
            "message": "Made changes to xyz",
            "overwrite": false
        }),
    );
    assert_eq!(code, 200, "{saved}");
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["uid"], uid.as_str());
    assert_eq!(saved["slug"], "production-overview-updated");
    // The same stale version again: someone else changed it.
    let stale = json!({
        "dashboard": {"uid": uid, "title": "Stale", "version": 1},
        "folderUid": "l3KqBxCMz",
        "overwrite": false
    });
    let (code, body) = post(&s, "/api/dashboards/db", &stale);
    assert_eq!(
        (code, body),
        (
            412,
            json!({"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
        )
    );
    let mut forced = stale.clone();
    forced["overwrite"] = json!(true);
    forced["message"] = json!("forced");
    let (code, saved) = post(&s, "/api/dashboards/db", &forced);
    assert_eq!((code, saved["version"].clone()), (200, json!(3)), "{saved}");
    let (code, saved) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": uid, "title": "Production Overview", "version": 3, "tags": ["templated", "prod"]},
                "folderUid": "l3KqBxCMz", "message": "back"}),
    );
    assert_eq!((code, saved["version"].clone()), (200, json!(4)), "{saved}");

    // Same title, same folder, another uid: name-exists.
    let (code, body) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "twin", "title": "Production Overview"}, "folderUid": "l3KqBxCMz"}),
    );
    assert_eq!(
        (code, body),
        (
            412,
            json!({"message": "A dashboard with the same name in the folder already exists", "status": "name-exists"})
        )
    );
    // Other refusals.
    for (body, want_code, want) in [
        (
            json!({"dashboard": {"title": " "}}),
            400,
            json!({"message": "Dashboard title cannot be empty", "status": "empty-name"}),
        ),
        (
            json!({"dashboard": [1, 2]}),
            400,
            json!({"message": "bad request data: dashboard must be a JSON object"}),
        ),
        (
            json!({"dashboard": {"title": "x"}, "folderUid": "nope"}),
            400,
            json!({"message": "Folder not found"}),
        ),
        (
            json!({"dashboard": {"title": "x", "uid": "bad uid"}}),
            400,
            json!({"message": "uid contains illegal characters"}),
        ),
        (
            json!({"dashboard": {"id": 424242, "title": "x"}}),
            404,
            json!({"message": "Dashboard not found"}),
        ),
    ] {
        assert_eq!(
            post(&s, "/api/dashboards/db", &body),
            (want_code, want),
            "{body}"
        );
    }
    let (code, body) = send(
        &s,
        "POST",
        "/api/dashboards/db",
        Some("{\"dashboard\": {"),
        None,
    );
    assert_eq!(code, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("bad request data: EOF while parsing"),
        "{body}"
    );
    // A browser on a site --web.cors.origin does not allow may not write.
    let (code, _) = send(
        &s,
        "POST",
        "/api/dashboards/db",
        Some(&json!({"dashboard": {"title": "From evil"}}).to_string()),
        Some("https://evil.example"),
    );
    assert_eq!(code, 403);
    let (code, _) = send(
        &s,
        "POST",
        "/api/dashboards/db",
        Some(&json!({"dashboard": {"title": "From Grafana"}}).to_string()),
        Some("https://grafana.example"),
    );
    assert_eq!(code, 200);
    // And a browser there may update and delete (the preflight says so).
    let preflight = reqwest::blocking::Client::new()
        .request(reqwest::Method::OPTIONS, s.url("/api/folders/l3KqBxCMz"))
        .header("origin", "https://grafana.example")
        .header("access-control-request-method", "DELETE")
        .send()
        .unwrap();
    let allowed = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        allowed.contains("PUT") && allowed.contains("DELETE"),
        "{allowed}"
    );
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://grafana.example"
    );

    // A second dashboard in the other folder, one in General.
    post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "rnd-1", "title": "RND lab", "tags": ["lab"]}, "folderUid": other_uid}),
    );
    let gen = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "gen-1", "title": "general production", "tags": ["prod"]}}),
    )
    .1;

    // Search: everything, by query, tag, type, folder, uid, pages.
    let all = ok(&s, "/api/search?query=&starred=false");
    let first = &all[0];
    assert_eq!(first["type"], "dash-folder");
    assert_eq!(first["uid"], "l3KqBxCMz");
    let hit = all
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["uid"] == uid.as_str())
        .unwrap();
    assert_eq!(
        keys(hit),
        [
            "folderId",
            "folderTitle",
            "folderUid",
            "folderUrl",
            "id",
            "isStarred",
            "orgId",
            "slug",
            "sortMeta",
            "tags",
            "title",
            "type",
            "uid",
            "uri",
            "url"
        ]
    );
    assert_eq!(hit["type"], "dash-db");
    assert_eq!(hit["uri"], "db/production-overview");
    assert_eq!(hit["tags"], json!(["prod", "templated"]));
    assert_eq!(hit["folderTitle"], "Department ABC");
    let general = all
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["uid"] == "gen-1")
        .unwrap();
    assert!(
        general.get("folderUid").is_none(),
        "General has no folder fields"
    );
    assert_eq!(
        uids(&ok(&s, "/api/search?query=PRODUCTION")),
        ["gen-1", uid.as_str()]
    );
    assert_eq!(
        uids(&ok(&s, "/api/search?tag=prod&tag=templated")),
        [uid.as_str()]
    );
    assert_eq!(
        uids(&ok(&s, "/api/search?tag=prod")),
        ["gen-1", uid.as_str()]
    );
    assert_eq!(
        uids(&ok(&s, "/api/search?type=dash-folder")),
        ["l3KqBxCMz", other_uid.as_str(), "pharos"]
    );
    assert_eq!(
        uids(&ok(
            &s,
            &format!("/api/search?type=dash-db&folderUIDs={other_uid}")
        )),
        ["rnd-1"]
    );
    assert_eq!(
        uids(&ok(&s, &format!("/api/search?folderIds={folder_id}"))),
        [uid.as_str()]
    );
    assert_eq!(
        uids(&ok(
            &s,
            "/api/search?dashboardUIDs=rnd-1&dashboardUIDs=gen-1"
        )),
        ["gen-1", "rnd-1"]
    );
    let page1 = uids(&ok(&s, "/api/search?type=dash-db&limit=2&page=1"))
        .iter()
        .map(|u| u.to_string())
        .collect::<Vec<_>>();
    let page2 = ok(&s, "/api/search?type=dash-db&limit=2&page=2");
    assert_eq!(page1.len(), 2);
    assert!(!uids(&page2).iter().any(|u| page1.iter().any(|p| p == u)));
    assert_eq!(ok(&s, "/api/search?starred=true"), json!([]));
    let tags = ok(&s, "/api/dashboards/tags");
    assert!(tags
        .as_array()
        .unwrap()
        .contains(&json!({"term": "prod", "count": 2})));

    // Versions, newest first; one of them; restore makes a new one.
    let versions = ok(&s, &format!("/api/dashboards/uid/{uid}/versions"));
    assert_eq!(versions["continueToken"], "");
    let list = versions["versions"].as_array().unwrap();
    let numbers: Vec<i64> = list
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
    assert_eq!(list[1]["message"], "forced");
    assert_eq!(list[3]["message"], "Made changes to xyz");
    assert_eq!(list[0]["parentVersion"], 3);
    assert_eq!(list[0]["dashboardId"], id);
    assert_eq!(
        keys(&list[0]),
        [
            "created",
            "createdBy",
            "dashboardId",
            "id",
            "message",
            "parentVersion",
            "restoredFrom",
            "uid",
            "version"
        ]
    );
    let limited = ok(
        &s,
        &format!("/api/dashboards/uid/{uid}/versions?limit=2&start=1"),
    );
    let numbers: Vec<i64> = limited["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2]);
    let v2 = ok(&s, &format!("/api/dashboards/uid/{uid}/versions/2"));
    assert_eq!(v2["data"]["title"], "Production Overview Updated");
    assert_eq!(v2["version"], 2);
    let (code, restored) = post(
        &s,
        &format!("/api/dashboards/uid/{uid}/restore"),
        &json!({"version": 2}),
    );
    assert_eq!(code, 200, "{restored}");
    assert_eq!(
        keys(&restored),
        ["id", "slug", "status", "uid", "url", "version"]
    );
    assert_eq!(restored["version"], 5);
    assert_eq!(restored["slug"], "production-overview-updated");
    let got = ok(&s, &format!("/api/dashboards/uid/{uid}"));
    assert_eq!(got["dashboard"]["title"], "Production Overview Updated");
    assert_eq!(got["dashboard"]["version"], 5);
    assert_eq!(
        got["meta"]["folderUid"], "l3KqBxCMz",
        "a restore keeps the folder"
    );
    let newest = &ok(&s, &format!("/api/dashboards/uid/{uid}/versions"))["versions"][0];
    assert_eq!(newest["restoredFrom"], 2);
    assert_eq!(newest["message"], "Restored from version 2");
    assert_eq!(
        post(
            &s,
            &format!("/api/dashboards/uid/{uid}/restore"),
            &json!({"version": 99})
        ),
        (404, json!({"message": "Dashboard version not found"}))
    );
    assert_eq!(
        get(&s, &format!("/api/dashboards/uid/{uid}/versions/99")),
        (404, json!({"message": "Dashboard version not found"}))
    );

    // Folder update: stale version refused, right one accepted.
    assert_eq!(
        put(
            &s,
            "/api/folders/l3KqBxCMz",
            &json!({"title": "Department DEF", "version": 7})
        ),
        (
            412,
            json!({"message": "the folder has been changed by someone else", "status": "version-mismatch"})
        )
    );
    let (code, renamed) = put(
        &s,
        "/api/folders/l3KqBxCMz",
        &json!({"title": "Department DEF", "version": 1}),
    );
    assert_eq!(code, 200, "{renamed}");
    assert_eq!(renamed["version"], 2);
    assert_eq!(renamed["url"], "/dashboards/f/l3KqBxCMz/department-def");
    assert_eq!(
        ok(&s, &format!("/api/dashboards/uid/{uid}"))["meta"]["folderTitle"],
        "Department DEF"
    );

    // Delete a dashboard.
    let (code, gone) = delete(&s, "/api/dashboards/uid/gen-1");
    assert_eq!(
        (code, gone),
        (
            200,
            json!({"title": "general production", "message": "Dashboard general production deleted",
                   "id": gen["id"]})
        )
    );
    assert_eq!(
        get(&s, "/api/dashboards/uid/gen-1"),
        (404, json!({"message": "Dashboard not found"}))
    );
    assert_eq!(
        delete(&s, "/api/dashboards/uid/gen-1"),
        (404, json!({"message": "Dashboard not found"}))
    );

    // Delete a folder: its dashboards go with it.
    let (code, body) = delete(&s, "/api/folders/l3KqBxCMz");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["message"], "Folder deleted");
    assert_eq!(body["id"], folder_id);
    assert_eq!(get(&s, &format!("/api/dashboards/uid/{uid}")).0, 404);
    assert_eq!(
        get(&s, "/api/folders/l3KqBxCMz"),
        (
            404,
            json!({"message": "folder not found", "status": "not-found"})
        )
    );
    assert_eq!(get(&s, "/api/dashboards/uid/rnd-1").0, 200);

    // The datasource tools look up, and the health check.
    let ds = ok(&s, "/api/datasources");
    assert_eq!(ds.as_array().unwrap().len(), 1);
    assert_eq!(ds[0]["uid"], "pharos");
    assert_eq!(ds[0]["type"], "prometheus");
    assert_eq!(ds[0]["isDefault"], true);
    assert_eq!(ds[0]["access"], "proxy");
    // No --ui.exemplar-trace-url: no trace destination.
    assert_eq!(ds[0]["jsonData"]["exemplarTraceIdDestinations"], json!([]));
    for path in [
        "/api/datasources/uid/pharos",
        "/api/datasources/name/pharos",
        "/api/datasources/id/1",
    ] {
        let one = ok(&s, path);
        assert_eq!(
            (one["id"].clone(), one["name"].clone()),
            (json!(1), json!("pharos"))
        );
    }
    assert_eq!(
        get(&s, "/api/datasources/uid/other"),
        (404, json!({"message": "Data source not found"}))
    );
    let health = ok(&s, "/api/health");
    assert_eq!(health["database"], "ok");
    assert!(health["version"].is_string() && health["commit"].is_string());
}

/// What grafonnet's `dashboard.new(...) + dashboard.withPanels([...])`
/// renders, as tools post it.
fn grafonnet_dashboard() -> Value {
    json!({
        "annotations": {"list": []},
        "editable": true,
        "graphTooltip": 1,
        "links": [],
        "panels": [
            {
                "datasource": {"type": "prometheus", "uid": "$datasource"},
                "fieldConfig": {"defaults": {"unit": "reqps"}, "overrides": []},
                "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
                "id": 1,
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [{
                    "datasource": {"type": "prometheus", "uid": "$datasource"},
                    "expr": "sum by (handler) (rate(pharos_http_requests_total{job=\"$job\"}[$__rate_interval]))",
                    "legendFormat": "{{handler}}",
                    "refId": "A"
                }],
                "title": "Requests",
                "type": "timeseries"
            },
            {
                "datasource": {"type": "prometheus", "uid": "$datasource"},
                "gridPos": {"h": 8, "w": 12, "x": 12, "y": 0},
                "id": 2,
                "targets": [{"expr": "up{job=\"$job\"}", "refId": "A", "instant": true}],
                "title": "Up",
                "type": "stat"
            }
        ],
        "refresh": "30s",
        "schemaVersion": 36,
        "tags": ["grafonnet", "generated"],
        "templating": {"list": [
            {"name": "datasource", "query": "prometheus", "type": "datasource", "current": {}},
            {"name": "job", "type": "query", "datasource": {"type": "prometheus", "uid": "$datasource"},
             "query": "label_values(up, job)", "refresh": 2, "multi": false, "includeAll": false}
        ]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "utc",
        "title": "Grafonnet service",
        "uid": "grafonnet-svc"
    })
}

fn node_exporter_full() -> Value {
    // The copy in the repository, so a fresh clone has it.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/tests/testdata/dashboards/node-exporter-full.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Panels, with those nested in collapsed rows.
fn panel_count(d: &Value) -> usize {
    fn count(panels: &Value) -> usize {
        panels
            .as_array()
            .map_or(0, |a| a.iter().map(|p| 1 + count(&p["panels"])).sum())
    }
    count(&d["panels"])
}

/// Every string of `v`.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn grafonnet_and_node_exporter_full_read_back_unchanged() {
    let (_dir, s) = start(&[]);

    // grafonnet's output, saved and read back field for field.
    let g = grafonnet_dashboard();
    let (code, saved) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": g, "overwrite": true}),
    );
    assert_eq!(code, 200, "{saved}");
    assert_eq!(saved["uid"], "grafonnet-svc");
    let back = ok(&s, "/api/dashboards/uid/grafonnet-svc")["dashboard"].clone();
    assert_eq!(without_ids(back.clone()), without_ids(g.clone()));
    assert!(same_text(back, g), "grafonnet's key order is kept");

    // Node Exporter Full as exported for sharing: a datasource input.
    let original = node_exporter_full();
    assert_eq!(panel_count(&original), 141);
    let exported_text = original
        .to_string()
        .replace("${ds_prometheus}", "${DS_PROMETHEUS}");
    let mut exported: Value = serde_json::from_str(&exported_text).unwrap();
    exported["__inputs"] = json!([{"name": "DS_PROMETHEUS", "label": "Prometheus",
        "description": "", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}]);
    exported["id"] = json!(12);
    let import = |dashboard: &Value, inputs: Value, overwrite: bool| {
        post(
            &s,
            "/api/dashboards/import",
            &json!({"dashboard": dashboard, "overwrite": overwrite, "inputs": inputs, "folderUid": ""}),
        )
    };
    assert_eq!(
        import(&exported, json!([]), true),
        (
            400,
            json!({"message": "Dashboard input variable: DS_PROMETHEUS missing from import command"})
        )
    );
    let (code, imported) = import(
        &exported,
        json!([{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus", "value": "pharos"}]),
        true,
    );
    assert_eq!(code, 200, "{imported}");
    assert_eq!(imported["uid"], "rYdddlPWk");
    assert_eq!(imported["title"], "Node Exporter Full");
    assert_eq!(imported["imported"], true);
    assert_eq!(imported["slug"], "node-exporter-full");
    assert_eq!(imported["importedUrl"], "/d/rYdddlPWk/node-exporter-full");
    assert_eq!(imported["importedUri"], "db/node-exporter-full");
    assert_eq!(imported["folderUid"], "");
    assert!(imported["dashboardId"].as_i64().unwrap() > 0);
    assert_ne!(imported["dashboardId"], 12, "the exported id is not kept");

    let back = ok(&s, "/api/dashboards/uid/rYdddlPWk")["dashboard"].clone();
    assert_eq!(panel_count(&back), 141);
    assert!(back.get("__inputs").is_none());
    let mut texts = Vec::new();
    strings(&back, &mut texts);
    assert!(!texts.iter().any(|t| t.contains("${DS_PROMETHEUS}")));
    let uses = texts.iter().filter(|t| t.as_str() == "pharos").count();
    assert!(
        uses > 100,
        "the input replaced every datasource uid ({uses})"
    );
    // Grafana's import keeps `__requires`; pharos drops it with
    // `__inputs`, both being export-only.
    let mut want: Value =
        serde_json::from_str(&original.to_string().replace("${ds_prometheus}", "pharos")).unwrap();
    want.as_object_mut().unwrap().shift_remove("__requires");
    assert_eq!(without_ids(back.clone()), without_ids(want.clone()));
    assert!(
        same_text(back, want),
        "the model reads back in its key order"
    );

    // Importing it again without overwrite: its version (102) is not the
    // stored one.
    let (code, body) = import(
        &exported,
        json!([{"name": "*", "type": "datasource", "value": "pharos"}]),
        false,
    );
    assert_eq!(code, 412, "{body}");
    assert_eq!(body["status"], "version-mismatch");

    // The original file through /api/dashboards/db: a conflict without
    // overwrite, a new version with it, read back as sent.
    let (code, body) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": original, "overwrite": false}),
    );
    assert_eq!(code, 412, "{body}");
    let (code, saved) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": original, "overwrite": true, "message": "as published"}),
    );
    assert_eq!(code, 200, "{saved}");
    assert_eq!(saved["version"], 2);
    let back = ok(&s, "/api/dashboards/uid/rYdddlPWk");
    assert_eq!(back["dashboard"]["version"], 2);
    assert_eq!(
        without_ids(back["dashboard"].clone()),
        without_ids(original.clone())
    );
    assert!(same_text(back["dashboard"].clone(), original.clone()));
    let versions = ok(&s, "/api/dashboards/uid/rYdddlPWk/versions")["versions"].clone();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["message"], "as published");
    let hits = ok(&s, "/api/search?query=node%20exporter");
    assert_eq!(uids(&hits), ["rYdddlPWk"]);
    assert_eq!(hits[0]["tags"], json!(["linux"]));
}

#[test]
fn dashboards_survive_a_restart_and_a_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = start_on(&data, &[]);
    let folder = post(&s, "/api/folders", &json!({"uid": "ops", "title": "Ops"})).1;
    post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "keep", "title": "Kept", "panels": [{"id": 1, "type": "text"}]}, "folderUid": "ops"}),
    );
    post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "keep", "title": "Kept", "version": 1, "panels": []}, "folderUid": "ops", "message": "second"}),
    );
    let before = ok(&s, "/api/dashboards/uid/keep");
    let versions_before = ok(&s, "/api/dashboards/uid/keep/versions");
    assert!(s.stop(), "clean shutdown");

    let mut s = start_on(&data, &[]);
    let after = ok(&s, "/api/dashboards/uid/keep");
    assert_eq!(after["dashboard"], before["dashboard"]);
    assert_eq!(after["meta"]["created"], before["meta"]["created"]);
    assert_eq!(after["meta"]["folderId"], folder["id"]);
    assert_eq!(ok(&s, "/api/dashboards/uid/keep/versions"), versions_before);
    assert_eq!(uids(&ok(&s, "/api/search?query=kept")), ["keep"]);

    // Durable when the API answered: a SIGKILL right after loses nothing.
    let (code, saved) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "keep", "title": "Kept", "version": 2, "panels": [{"id": 3}]}, "folderUid": "ops"}),
    );
    assert_eq!(code, 200, "{saved}");
    let (code, new_one) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"title": "Fresh"}}),
    );
    assert_eq!(code, 200);
    s.kill9();
    let s = start_on(&data, &[]);
    let after = ok(&s, "/api/dashboards/uid/keep");
    assert_eq!(after["dashboard"]["version"], 3);
    assert_eq!(after["dashboard"]["panels"], json!([{"id": 3}]));
    let fresh = ok(
        &s,
        &format!("/api/dashboards/uid/{}", new_one["uid"].as_str().unwrap()),
    );
    assert_eq!(fresh["dashboard"]["id"], new_one["id"]);
    // Ids go on after the largest stored one.
    let (_, next) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"title": "Next"}}),
    );
    assert!(next["id"].as_i64().unwrap() > new_one["id"].as_i64().unwrap());
}

fn dash_file(uid: &str, title: &str) -> String {
    json!({"uid": uid, "title": title, "schemaVersion": 39, "panels": [], "tags": ["from-file"]})
        .to_string()
}

#[test]
fn provisioning_directory_is_followed_as_files_change() {
    let dir = tempfile::tempdir().unwrap();
    let dash = dir.path().join("dashboards");
    std::fs::create_dir_all(dash.join("Team A")).unwrap();
    std::fs::write(dash.join("a.json"), dash_file("file-a", "File A")).unwrap();
    std::fs::write(dash.join("Team A/b.json"), dash_file("file-b", "File B")).unwrap();
    // No uid: one is made from the path.
    std::fs::write(
        dash.join("Team A/no-uid.json"),
        json!({"title": "No uid"}).to_string(),
    )
    .unwrap();
    std::fs::write(dash.join("notes.txt"), "not a dashboard").unwrap();
    let flag = format!("--dashboards.path={}", dash.display());
    let s = start_on(
        &dir.path().join("data"),
        &[&flag, "--dashboards.update-interval=1s"],
    );

    // Loaded before the server answered.
    let a = ok(&s, "/api/dashboards/uid/file-a");
    assert_eq!(a["meta"]["provisioned"], true);
    assert_eq!(a["meta"]["provisionedExternalId"], "a.json");
    assert_eq!(a["meta"]["folderTitle"], "General");
    let b = ok(&s, "/api/dashboards/uid/file-b");
    assert_eq!(b["meta"]["folderTitle"], "Team A");
    assert_eq!(b["meta"]["provisionedExternalId"], "Team A/b.json");
    let found = ok(&s, "/api/search?tag=from-file");
    assert_eq!(uids(&found), ["file-a", "file-b"]);
    let no_uid = ok(&s, "/api/search?query=no%20uid");
    assert!(no_uid[0]["uid"].as_str().unwrap().starts_with("no-uid-"));
    let team = ok(&s, "/api/search?type=dash-folder&query=team%20a");
    assert_eq!(team[0]["title"], "Team A");

    // Read-only through the API, with Grafana's words.
    assert_eq!(
        post(
            &s,
            "/api/dashboards/db",
            &json!({"dashboard": {"uid": "file-a", "title": "Mine", "version": 1}, "overwrite": true}),
        ),
        (400, json!({"message": "Cannot save provisioned dashboard"}))
    );
    assert_eq!(
        delete(&s, "/api/dashboards/uid/file-a"),
        (
            400,
            json!({"message": "provisioned dashboard cannot be deleted"})
        )
    );

    let within_polls = Duration::from_secs(15);
    // A new file appears.
    write_atomic(&dash.join("Team A/c.json"), &dash_file("file-c", "File C"));
    wait_for(within_polls, "the new file's dashboard", || {
        let (code, body) = get(&s, "/api/dashboards/uid/file-c");
        (code == 200).then_some(()).ok_or(body.to_string())
    });
    assert_eq!(
        ok(&s, "/api/dashboards/uid/file-c")["meta"]["folderTitle"],
        "Team A"
    );
    // A changed file brings its new content, as a new version.
    write_atomic(
        &dash.join("a.json"),
        &dash_file("file-a", "File A, changed"),
    );
    wait_for(within_polls, "the changed file's content", || {
        let d = ok(&s, "/api/dashboards/uid/file-a")["dashboard"].clone();
        (d["title"] == "File A, changed")
            .then_some(())
            .ok_or(d.to_string())
    });
    assert_eq!(
        ok(&s, "/api/dashboards/uid/file-a")["dashboard"]["version"],
        2
    );
    // A broken file is logged with its path; the others stay.
    write_atomic(&dash.join("Team A/b.json"), "{\"title\": \"File B\",");
    wait_for(within_polls, "the broken file in the log", || {
        let log = s.log_text();
        log.contains("Team A/b.json: invalid JSON")
            .then_some(())
            .ok_or(log)
    });
    for uid in ["file-a", "file-b", "file-c"] {
        assert_eq!(
            get(&s, &format!("/api/dashboards/uid/{uid}")).0,
            200,
            "{uid}"
        );
    }
    // A removed file takes its dashboard along.
    std::fs::remove_file(dash.join("Team A/c.json")).unwrap();
    wait_for(within_polls, "the removed file's dashboard gone", || {
        let (code, body) = get(&s, "/api/dashboards/uid/file-c");
        (code == 404).then_some(()).ok_or(body.to_string())
    });
    assert_eq!(get(&s, "/api/dashboards/uid/file-a").0, 200);
    assert_eq!(
        s.log_text().matches("Team A/b.json: invalid JSON").count(),
        1,
        "logged once"
    );

    // Started again without the flag, the files' dashboards are gone
    // rather than stuck read-only; the built-in ones stay.
    drop(s);
    let s = start_on(&dir.path().join("data"), &[]);
    assert_eq!(get(&s, "/api/dashboards/uid/file-a").0, 404);
    assert_eq!(
        uids(&ok(&s, "/api/search?tag=from-file")),
        Vec::<&str>::new()
    );
    assert_eq!(get(&s, "/api/dashboards/uid/pharos-host").0, 200);
}

/// The value of `label` on the first series of `selector`.
fn label(s: &Server, selector: &str, label: &str) -> String {
    let (code, body) = s.get_json_query("/api/v1/series", &[("match[]", selector)]);
    assert_eq!(code, 200, "{body}");
    body["data"][0][label]
        .as_str()
        .unwrap_or_else(|| panic!("no {label} on {selector}: {body}"))
        .to_string()
}

#[test]
fn builtin_dashboards_panels_return_data_from_the_builtin_configuration() {
    let dir = tempfile::tempdir().unwrap();
    // The built-in configuration: pharos scrapes itself and its host
    // collector every 15 s.
    let s = Server::start_with(&dir.path().join("data"), &[]);

    // Provisioned in the folder "pharos", before any scrape.
    let hits = ok(&s, "/api/search?folderUIDs=pharos&type=dash-db");
    assert_eq!(uids(&hits), ["pharos-host", "pharos-self"]);
    assert_eq!(hits[0]["title"], "Host");
    assert_eq!(hits[1]["title"], "pharos");
    let (code, body) = post(
        &s,
        "/api/dashboards/db",
        &json!({"dashboard": {"uid": "pharos-host", "title": "Mine"}, "overwrite": true}),
    );
    assert_eq!(
        (code, body),
        (400, json!({"message": "Cannot save provisioned dashboard"}))
    );

    // Rates need two scrapes of each job within the rate window.
    wait_for(Duration::from_secs(90), "two scrapes of both jobs", || {
        let (_, body) = s.get_json_query(
            "/api/v1/query",
            &[("query", "count(count_over_time(up[1m]) >= 2) >= 2")],
        );
        (body["data"]["result"]
            .as_array()
            .is_some_and(|r| !r.is_empty()))
        .then_some(())
        .ok_or(body.to_string())
    });
    let vars = [
        ("pharos-host", "node_uname_info"),
        ("pharos-self", "pharos_storage_head_series"),
    ];
    let mut checked = 0;
    for (uid, variable_metric) in vars {
        let d = ok(&s, &format!("/api/dashboards/uid/{uid}"));
        assert_eq!(d["meta"]["provisioned"], true);
        assert_eq!(d["meta"]["folderTitle"], "pharos");
        let job = label(&s, variable_metric, "job");
        let instance = label(
            &s,
            &format!("{variable_metric}{{job=\"{job}\"}}"),
            "instance",
        );
        for p in d["dashboard"]["panels"].as_array().unwrap() {
            // The SLO panel's error ratio, as the UI asks for it.
            let slo = p["options"]["sli"].as_object().map(|sli| {
                let rated =
                    |k: &str| format!("(sum(rate({}[1m])) or vector(0))", sli[k].as_str().unwrap());
                vec![json!({"expr": format!("{} / {}", rated("errors"), rated("total"))})]
            });
            let targets = slo.unwrap_or_else(|| p["targets"].as_array().unwrap().clone());
            for t in &targets {
                let expr = t["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$__rate_interval", "1m")
                    .replace("$job", &job)
                    .replace("$instance", &instance);
                let (code, body) = s.get_json_query("/api/v1/query", &[("query", &expr)]);
                assert_eq!(code, 200, "{uid} {}: {expr}: {body}", p["title"]);
                let result = body["data"]["result"].as_array().unwrap();
                assert!(
                    !result.is_empty(),
                    "{uid} panel {} returns no data: {expr}",
                    p["title"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} queries");
}
