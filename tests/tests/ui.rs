//! The web UI in a real browser (Debian's headless Chromium, driven
//! through chromedriver or run with `--dump-dom`) against the real
//! binary: the home page draws the host dashboard with live data, behind
//! a route prefix too; Grafana dashboards imported through the Grafana
//! API render; variables re-query. Screenshots go to
//! `target/ui-screenshots/` to be looked at.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use pharos_tests::ui::{
    dashboard_panels, now_ms, save_dashboard, screenshots, start_pharos_for_ui as start,
};
use pharos_tests::wait_for;
use pharos_tests::webdriver::Browser;
use serde_json::{json, Value};

fn chromium() -> &'static str {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return c;
        }
    }
    panic!("the UI tests need Chromium: apt-get install -y chromium (tests/run.sh does)");
}

/// Runs headless Chromium on `url` for `budget_ms` of virtual time with
/// `extra` arguments; returns its stdout.
fn browse(url: &str, budget_ms: u32, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1100",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .args(extra)
        .arg(url)
        .stderr(Stdio::null())
        .output()
        .expect("chromium runs");
    // Leptos marks the ends of dynamic children with empty comments.
    String::from_utf8_lossy(&out.stdout).replace("<!---->", "")
}

#[test]
fn home_draws_the_host_dashboard_with_live_data() {
    let (_dir, _child, base) = start("");
    let b = Browser::start(1400, 1100);
    b.goto(&format!("{base}/"));
    let panels = dashboard_panels(&b);
    let titles: Vec<&str> = panels.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        titles,
        [
            "CPU busy",
            "Memory used",
            "Load (1m)",
            "CPU cores",
            "Memory total",
            "Uptime",
            "CPU busy by mode",
            "Load average",
            "Memory",
            "Network traffic",
            "Disk I/O",
            "Disk operations",
            "Filesystem used",
            "Disk busy"
        ],
        "{panels:?}"
    );
    for (title, state, series, text) in &panels {
        assert_eq!(state, "ok", "{title}: {text}");
        assert_ne!(*series, 0, "{title} drew no series");
    }
    let text = |t: &str| {
        panels
            .iter()
            .find(|p| p.0 == t)
            .unwrap()
            .3
            .trim()
            .to_string()
    };
    assert!(text("CPU busy").ends_with('%'), "{panels:?}");
    assert!(text("Memory total").ends_with("iB"), "{panels:?}");
    assert!(
        text("CPU cores").parse::<u32>().is_ok_and(|n| n >= 1),
        "{panels:?}"
    );
    // Load average: 1, 5 and 15 minutes (and the cores).
    assert!(
        panels.iter().any(|p| p.0 == "Load average" && p.2 >= 3),
        "{panels:?}"
    );
    b.screenshot(&screenshots().join("home.png"));
    // The theme switch (the first theme is the system's preference):
    // the other theme's colours on the page, kept across a reload.
    let theme = "return [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor]";
    let before = b.eval(theme, vec![]);
    b.click(".theme-toggle");
    let after = b.eval(theme, vec![]);
    let other = if before[0] == "light" {
        "dark"
    } else {
        "light"
    };
    assert_eq!(after[0], other, "{before} → {after}");
    assert_ne!(after[1], before[1], "{before} → {after}");
    b.goto(&format!("{base}/"));
    // The load event comes before the WASM module has started and set the
    // theme: wait for the attribute, then compare.
    let applied = b.wait(
        "the theme applied after the reload",
        Duration::from_secs(10),
        "return document.documentElement.dataset.theme",
    );
    assert_eq!(applied, other);
    // Every panel answered again in the other theme before the picture.
    let again = dashboard_panels(&b);
    assert!(again.iter().all(|p| p.1 == "ok"), "{again:?}");
    b.screenshot(&screenshots().join(format!("home-{other}.png")));
}

/// Node Exporter Full (grafana.com 1860, as exported, with its
/// `${ds_prometheus}` input) imported through Grafana's import API renders
/// every panel of its open rows with data against the built-in host
/// collector: gauges, stats, bar gauges, stacked and negative-Y graphs.
#[test]
fn node_exporter_full_imported_through_the_grafana_api_renders() {
    let (_dir, _child, base) = start("");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../agent/tests/testdata/dashboards/node-exporter-full.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let body = json!({"dashboard": doc, "overwrite": true, "folderUid": "",
        "inputs": [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus", "value": "pharos"}]});
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}/api/dashboards/import"))
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let url = r.json::<Value>().unwrap()["importedUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(url, "/d/rYdddlPWk/node-exporter-full");
    let b = Browser::start(1600, 1400);
    b.goto(&format!("{base}{url}?from=now-5m"));
    let panels = dashboard_panels(&b);
    // The two open rows: "Quick CPU / Mem / Disk" (11) and "Basic CPU /
    // Mem / Net / Disk" (4); the other 14 rows are collapsed.
    assert_eq!(panels.len(), 15, "{panels:?}");
    for (title, state, series, text) in &panels {
        assert_eq!(state, "ok", "{title}: {text}");
        assert_ne!(*series, 0, "{title} drew no series");
        assert!(!text.contains("No data"), "{title}: {text}");
    }
    let rows = b.eval(
        "return Array.from(document.querySelectorAll('.row-header')).length",
        vec![],
    );
    assert_eq!(rows, json!(16));
    // The variables were read from the server, chained: job → nodename → node.
    let vars = b.eval(
        "return Array.from(document.querySelectorAll('.var select')).map(s => s.value)",
        vec![],
    );
    assert_eq!(vars[0], json!("node"), "{vars}");
    assert!(b
        .eval("return location.search", vec![])
        .as_str()
        .unwrap()
        .contains("var-job=node"));
    b.screenshot(&screenshots().join("node-exporter-full.png"));
    // Opening a collapsed row queries and draws its panels.
    b.eval(
        "document.querySelectorAll('.row-header')[2].click()",
        vec![],
    );
    let panels = dashboard_panels(&b);
    assert_eq!(panels.len(), 25, "{panels:?}");
    let errors: Vec<_> = panels.iter().filter(|p| p.1 == "error").collect();
    assert!(errors.is_empty(), "{errors:?}");
}

/// A variable chosen in its picker re-queries the panels (and the
/// variables chained to it), and lands in the URL.
#[test]
fn a_variable_change_requeries_the_panels() {
    let (_dir, _child, base) = start("");
    let dashboard = json!({
        "uid": "vars", "title": "Variables", "schemaVersion": 39,
        "time": {"from": "now-5m", "to": "now"},
        "templating": {"list": [
            {"name": "job", "type": "query", "query": {"query": "label_values(up, job)"}, "sort": 1,
             "current": {"value": "pharos", "text": "pharos"}},
            {"name": "instance", "type": "query", "query": "label_values(up{job=\"$job\"}, instance)"}
        ]},
        "panels": [
            {"id": 1, "type": "stat", "title": "Up in $job", "gridPos": {"x": 0, "y": 0, "w": 8, "h": 4},
             "targets": [{"expr": "sum(up{job=\"$job\"})", "refId": "A", "instant": true}]},
            {"id": 2, "type": "timeseries", "title": "Scrape duration", "gridPos": {"x": 8, "y": 0, "w": 16, "h": 8},
             "targets": [{"expr": "scrape_duration_seconds{job=\"$job\"}", "legendFormat": "{{instance}}", "refId": "A"}]},
            {"id": 3, "type": "heatmap", "title": "Buckets", "gridPos": {"x": 0, "y": 8, "w": 24, "h": 6},
             "targets": [{"expr": "label_replace(vector(2), \"le\", \"0.1\", \"\", \"\") or label_replace(vector(5), \"le\", \"+Inf\", \"\", \"\")", "format": "heatmap", "refId": "A"}]}
        ]
    });
    save_dashboard(&base, &dashboard);
    let b = Browser::start(1200, 800);
    b.goto(&format!("{base}/d/vars"));
    let panels = dashboard_panels(&b);
    assert_eq!(panels[0].0, "Up in pharos");
    // AlwaysFiring's firing period is marked along the graph's top.
    let pixel = b.wait(
        "the alert period drawn",
        Duration::from_secs(10),
        "const u = (window.__pharosCharts || []).find(c => c.data[0].length > 0);
         if (!u) return false;
         const x = Math.round(u.valToPos(Date.now() / 1000 - 8, 'x', true));
         const p = u.ctx.getImageData(x, Math.round(u.bbox.top + 1), 1, 1).data;
         return p[0] > 150 && p[1] < 130 && [p[0], p[1], p[2]];",
    );
    assert!(pixel.is_array(), "{pixel}");
    // The heatmap: two buckets drawn on a canvas.
    assert_eq!(panels[2].1, "ok", "{panels:?}");
    assert_eq!(
        b.eval("const h = document.querySelector('.heatmap'); return [h.dataset.buckets, !!h.querySelector('canvas')]", vec![]),
        json!(["2", true])
    );
    assert_eq!(panels[0].3.trim(), "1");
    let options = b.eval(
        "return Array.from(document.querySelectorAll('[data-var=job] option')).map(o => o.value)",
        vec![],
    );
    assert_eq!(options, json!(["broken", "node", "pharos"]));
    b.click("[data-var=job] option[value=broken]");
    b.wait(
        "the stat re-queried for job broken",
        Duration::from_secs(30),
        "const p = document.querySelector('section.grid-panel');
         return p.querySelector('.panel-title').textContent == 'Up in broken' && p.dataset.state == 'ok'
             && p.querySelector('.panel-body').innerText.trim() == '0';",
    );
    // The chained variable now offers the broken job's instance.
    b.wait(
        "instance follows job",
        Duration::from_secs(10),
        "return document.querySelector('[data-var=instance] select').value == '127.0.0.1:1'",
    );
    let search = b.eval("return location.search", vec![]);
    assert!(
        search.as_str().unwrap().contains("var-job=broken"),
        "{search}"
    );
    b.screenshot(&screenshots().join("variables.png"));
}

/// A dashboard edited in the browser — the panel editor's title and
/// query, a panel added — is saved as a new version and reads back after
/// a reload; a save over a newer version is refused with Grafana's
/// message until the user overwrites.
#[test]
fn a_dashboard_edited_saved_and_reloaded() {
    let (_dir, _child, base) = start("");
    let http = reqwest::blocking::Client::new();
    let post = |dashboard: Value, overwrite: bool| {
        http.post(format!("{base}/api/dashboards/db"))
            .json(&json!({"dashboard": dashboard, "overwrite": overwrite}))
            .send()
            .unwrap()
    };
    let r = post(
        json!({"uid": "edit-me", "title": "Editable", "time": {"from": "now-5m", "to": "now"},
            "panels": [{"id": 1, "type": "stat", "title": "Old title", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
                "targets": [{"refId": "A", "expr": "vector(7)", "instant": true}]}]}),
        false,
    );
    assert_eq!(r.status().as_u16(), 200);
    let b = Browser::start(1400, 1000);
    b.goto(&format!("{base}/d/edit-me"));
    let panels = dashboard_panels(&b);
    assert_eq!(
        (panels[0].0.as_str(), panels[0].3.trim()),
        ("Old title", "7")
    );
    b.click(".dash-controls button[title='Edit this dashboard']");
    b.click(".panel-tools .edit");
    b.fill(".editor-options .field input", "Targets up");
    b.fill(".target .expr", "sum(up)");
    b.click(".editor-bar .run");
    b.wait(
        "the edited panel on the dashboard",
        Duration::from_secs(20),
        "const p = document.querySelector('section.grid-panel');
         return p && p.querySelector('.panel-title').textContent == 'Targets up' && p.dataset.state == 'ok';",
    );
    b.click(".dash-controls button.save");
    b.wait(
        "saved",
        Duration::from_secs(10),
        "const s = document.querySelector('.save-state'); return s && s.textContent.includes('version 2');",
    );
    b.screenshot(&screenshots().join("dashboard-edit.png"));
    // Reloaded: the saved version.
    b.goto(&format!("{base}/d/edit-me"));
    let panels = dashboard_panels(&b);
    // pharos and node up, broken down.
    assert_eq!(
        (panels[0].0.as_str(), panels[0].3.trim()),
        ("Targets up", "2")
    );
    let stored: Value = http
        .get(format!("{base}/api/dashboards/uid/edit-me"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stored["dashboard"]["version"], 2);
    assert_eq!(
        stored["dashboard"]["panels"][0]["targets"][0]["expr"],
        "sum(up)"
    );
    // Someone else saves version 3; this page still has version 2.
    let mut theirs = stored["dashboard"].clone();
    theirs["title"] = json!("Theirs");
    assert_eq!(post(theirs, false).status().as_u16(), 200);
    b.click(".dash-controls button[title='Edit this dashboard']");
    b.click(".panel-tools .edit");
    b.fill(".editor-options .field input", "Mine");
    b.click(".editor-bar .run");
    b.click(".dash-controls button.save");
    b.wait(
        "the conflict",
        Duration::from_secs(10),
        "const s = document.querySelector('.save-state.panel-error'); return s && s.textContent.includes('changed by someone else');",
    );
    b.click(".save-state button");
    b.wait(
        "overwritten",
        Duration::from_secs(10),
        "const s = document.querySelector('.save-state'); return s && s.textContent.includes('version 4');",
    );
    let stored: Value = http
        .get(format!("{base}/api/dashboards/uid/edit-me"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stored["dashboard"]["panels"][0]["title"], "Mine");
    assert_eq!(stored["dashboard"]["title"], "Editable");
}

/// A silence created from an alert (the Alerts page's "Silence" opens
/// the editor with the alert's labels as matchers and previews the alert
/// it mutes) silences it in the built-in Alertmanager; expired from the
/// Silences page, the alert is active again. The Rules page lists the
/// rules that made the alerts.
#[test]
fn a_silence_created_from_an_alert_silences_it_and_expires() {
    let (_dir, _child, base) = start("");
    let state = || -> String {
        let url = format!("{base}/api/v2/alerts?filter=alertname%3D%22AlwaysFiring%22");
        let v: Value = reqwest::blocking::get(url).unwrap().json().unwrap();
        v[0]["status"]["state"].as_str().unwrap_or("").to_string()
    };
    wait_for(
        Duration::from_secs(30),
        "the alert in the Alertmanager",
        || {
            let s = state();
            if s == "active" {
                Ok(())
            } else {
                Err(s)
            }
        },
    );
    let b = Browser::start(1300, 900);
    b.goto(&format!("{base}/alerts"));
    b.wait(
        "the alerts",
        Duration::from_secs(20),
        "return document.querySelector('a.silence') != null",
    );
    b.click("a.silence");
    b.wait(
        "the preview of the silenced alert",
        Duration::from_secs(20),
        "const p = document.querySelector('.affected'); return p && p.dataset.count == '1';",
    );
    let matchers = b.eval(
        "return Array.from(document.querySelectorAll('.matcher-row')).map(r => r.querySelector('.m-name').value + r.querySelector('.m-op').value + r.querySelector('.m-value').value)",
        vec![],
    );
    assert!(
        matchers
            .as_array()
            .unwrap()
            .contains(&json!("alertname=AlwaysFiring")),
        "{matchers}"
    );
    b.fill(".silence-editor .creator", "ui test");
    b.fill(".silence-editor .comment", "planned maintenance");
    b.click(".silence-editor .create");
    b.wait(
        "the silence listed as active",
        Duration::from_secs(20),
        "return document.querySelector('section.silences[data-state=active] tr[data-silence]') != null",
    );
    wait_for(Duration::from_secs(10), "the alert silenced", || {
        let s = state();
        if s == "suppressed" {
            Ok(())
        } else {
            Err(s)
        }
    });
    b.screenshot(&screenshots().join("silences.png"));
    b.click("section.silences[data-state=active] button.expire");
    b.wait(
        "the silence expired",
        Duration::from_secs(20),
        "return document.querySelector('section.silences[data-state=expired] tr[data-silence]') != null
            && document.querySelector('section.silences[data-state=active] tr[data-silence]') == null",
    );
    wait_for(Duration::from_secs(10), "the alert active again", || {
        let s = state();
        if s == "active" {
            Ok(())
        } else {
            Err(s)
        }
    });
    b.goto(&format!("{base}/rules"));
    let rules = b.wait(
        "the rules",
        Duration::from_secs(20),
        "const r = document.querySelector('tr[data-rule=AlwaysFiring]'); return r && r.innerText;",
    );
    let rules = rules.as_str().unwrap();
    assert!(
        rules.contains("alert: AlwaysFiring")
            && rules.contains("vector(1)")
            && rules.contains("OK")
            && rules.contains("FIRING"),
        "{rules}"
    );
}

/// Behind a reverse proxy's path (`--web.route-prefix`), the page and its
/// assets and queries resolve under the prefix; assets are cached for a
/// year and sent pre-compressed.
#[test]
fn ui_works_under_a_route_prefix_with_cached_compressed_assets() {
    let (_dir, _child, base) = start("/pharos");
    let index = reqwest::blocking::get(format!("{base}/")).unwrap();
    assert_eq!(
        index.headers()["cache-control"].to_str().unwrap(),
        "no-cache"
    );
    let html = index.text().unwrap();
    assert!(html.contains("<base href=\"/pharos/\">"), "{html}");
    let wasm = html
        .split('"')
        .find(|s| s.starts_with("assets/") && s.ends_with(".wasm"))
        .expect("the wasm module is named");
    let r = reqwest::blocking::Client::new()
        .get(format!("{base}/{wasm}"))
        .header("Accept-Encoding", "br")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-encoding"], "br");
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert!(r.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    // A client-side route gets the app; an unknown API path does not.
    let r = reqwest::blocking::get(format!("{base}/dashboards/anything")).unwrap();
    assert!(r.text().unwrap().contains("<base href"));
    let r = reqwest::blocking::get(format!("{base}/api/v1/nothing")).unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let b = Browser::start(1400, 1100);
    b.goto(&format!("{base}/"));
    let panels = dashboard_panels(&b);
    assert_eq!(panels.len(), 14, "{panels:?}");
    assert!(panels.iter().all(|p| p.1 == "ok"), "{panels:?}");
    let links = b.eval(
        "return Array.from(document.querySelectorAll('.topbar a')).map(a => a.getAttribute('href'))",
        vec![],
    );
    assert!(
        links
            .as_array()
            .unwrap()
            .contains(&json!("/pharos/explore")),
        "links keep the prefix: {links}"
    );
}

/// The Prometheus UI's links open Explore with the query run: as a table
/// (`g0.tab=1`) and as a graph (`g0.tab=0`) over `g0.range_input`; several
/// queries share one graph; typing completes metric names and a broken
/// expression shows the server's error with a caret at its column.
#[test]
fn prometheus_graph_links_open_explore() {
    let (_dir, _child, base) = start("");
    let b = Browser::start(1300, 1000);
    b.goto(&format!("{base}/graph?g0.expr=up&g0.tab=1"));
    let rows = b.wait(
        "the table",
        Duration::from_secs(20),
        "const r = Array.from(document.querySelectorAll('table.result td.series')).map(td => td.textContent);
         return r.length > 0 && r;",
    );
    let rows: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(rows.len(), 3, "up of the three jobs: {rows:?}");
    assert!(rows.iter().any(|r| r.contains("job=\"node\"")), "{rows:?}");
    let url = format!(
        "{base}/explore?g0.expr=rate(node_cpu_seconds_total%5B1m%5D)&g1.expr=node_load1&g0.tab=0&g0.range_input=15m"
    );
    b.goto(&url);
    let panels = dashboard_panels(&b);
    assert_eq!(panels.len(), 1, "{panels:?}");
    assert_eq!(panels[0].1, "ok", "{panels:?}");
    let cpus = b.eval(
        "return document.querySelectorAll('.legend-item').length",
        vec![],
    );
    assert!(cpus.as_i64().unwrap() >= 2, "both queries drawn: {cpus}");
    let names = b.eval(
        "return Array.from(document.querySelectorAll('.legend-item')).map(l => l.textContent)",
        vec![],
    );
    assert!(
        names.to_string().contains("node_load1"),
        "the second query's series: {names}"
    );
    assert_eq!(
        b.eval(
            "return document.querySelector('.dash-controls select').value",
            vec![]
        ),
        json!("15m")
    );
    b.screenshot(&screenshots().join("explore.png"));
    // Autocomplete and the error caret on the first editor.
    b.clear(".query-editor[data-query='0'] textarea");
    b.type_into(".query-editor[data-query='0'] textarea", "node_lo");
    let offered = b.wait(
        "suggestions",
        Duration::from_secs(10),
        "const l = Array.from(document.querySelectorAll('.suggestions li b')).map(b => b.textContent); return l.length > 0 && l;",
    );
    assert!(
        offered.as_array().unwrap().contains(&json!("node_load1")),
        "{offered}"
    );
    // Tab takes the first suggestion.
    b.type_into(".query-editor[data-query='0'] textarea", "\u{E004}");
    let value = b.eval(
        "return document.querySelector(\".query-editor[data-query='0'] textarea\").value",
        vec![],
    );
    assert!(value.as_str().unwrap().starts_with("node_load"), "{value}");
    b.fill(".query-editor[data-query='0'] textarea", "foo{bar=}");
    let caret = b.wait(
        "the parse error",
        Duration::from_secs(10),
        "const c = document.querySelector('.query-editor[data-query=\"0\"] .caret');
         return c && c.textContent.startsWith('foo{bar=}') && c.textContent;",
    );
    // The server says 1:9 (the `}` where a value belongs).
    assert_eq!(caret.as_str().unwrap(), "foo{bar=}\n        ^", "{caret}");
}

/// Targets: every pool with its health; a target that cannot be scraped
/// shows DOWN with its error, and "unhealthy only" keeps just it.
#[test]
fn targets_page_shows_health_and_errors() {
    let (_dir, _child, base) = start("");
    let dom = browse(&format!("{base}/targets"), 8_000, &["--dump-dom"]);
    for pool in ["broken (0/1 up)", "node (1/1 up)", "pharos (1/1 up)"] {
        assert!(dom.contains(pool), "{pool}:\n{dom}");
    }
    assert!(dom.contains(">DOWN<") && dom.contains(">UP<"), "{dom}");
    assert!(
        dom.contains("connection refused") || dom.contains("Connection refused"),
        "{dom}"
    );
    let shot = screenshots().join("targets.png");
    browse(
        &format!("{base}/targets"),
        8_000,
        &[&format!("--screenshot={}", shot.display())],
    );
}

/// Alerts: grouped by name with their state, labels, summary and age; the
/// name links to its ALERTS series in Explore.
#[test]
fn alerts_page_lists_firing_and_pending_alerts() {
    let (_dir, _child, base) = start("");
    wait_for(Duration::from_secs(30), "the rules' alerts", || {
        let text = reqwest::blocking::get(format!("{base}/api/v1/alerts"))
            .and_then(|r| r.text())
            .map_err(|e| e.to_string())?;
        if text.contains("firing") && text.contains("pending") {
            Ok(())
        } else {
            Err(text)
        }
    });
    let dom = browse(&format!("{base}/alerts"), 8_000, &["--dump-dom"]);
    assert!(
        dom.contains(">AlwaysFiring</a> (1 firing, 0 pending)"),
        "{dom}"
    );
    assert!(
        dom.contains(">AlwaysPending</a> (0 firing, 1 pending)"),
        "{dom}"
    );
    assert!(
        dom.contains(">FIRING<") && dom.contains(">PENDING<"),
        "{dom}"
    );
    assert!(
        dom.contains("It always fires") && dom.contains("severity=\"page\""),
        "{dom}"
    );
    assert!(
        dom.contains("graph?g0.expr=ALERTS%7Balertname%3D%22AlwaysFiring%22%7D"),
        "{dom}"
    );
    let shot = screenshots().join("alerts.png");
    browse(
        &format!("{base}/alerts"),
        8_000,
        &[&format!("--screenshot={}", shot.display())],
    );
}

/// Exemplars and data links on a graph: a series with an exemplar
/// (trace id) received through remote write; the exemplar drawn as a
/// diamond whose tooltip names its trace and links it to
/// `--ui.exemplar-trace-url`; a click on the line pins the tooltip with
/// the panel's data link filled in from the series' labels, the value
/// under the cursor and the time range.
#[test]
fn exemplars_and_data_links_on_a_graph() {
    use pharos_agent::remote::proto;
    let dir = tempfile::tempdir().unwrap();
    let server = pharos_tests::Server::start_with(
        dir.path(),
        &[
            "--collector.host=false",
            "--collector.self=false",
            "--ui.exemplar-trace-url=http://tracing.example/trace/${__value.raw}",
        ],
    );
    let now = now_ms();
    // One sample every 15 s over the last 10 minutes, rising by 1.
    let samples: Vec<(i64, f64)> = (0..40)
        .map(|i| (now - 600_000 + i * 15_000, 100.0 + i as f64))
        .collect();
    let mut ts = pharos_tests::series(
        &[("__name__", "rq_total"), ("instance", "i1"), ("job", "app")],
        &samples,
    );
    let label = |n: &str, v: &str| proto::Label {
        name: n.to_string().into_bytes().into(),
        value: v.to_string().into_bytes().into(),
    };
    ts.exemplars = vec![proto::Exemplar {
        labels: vec![label("trace_id", "trace-42")],
        value: 110.0,
        timestamp: now - 240_000,
    }];
    let (code, text) = pharos_tests::write_v1(&server, vec![ts]).unwrap();
    assert_eq!(code, 204, "{text}");
    let base = server.url("");
    let dashboard = json!({
        "uid": "links", "title": "Links", "schemaVersion": 39,
        "time": {"from": "now-15m", "to": "now"},
        "panels": [
            {"id": 1, "type": "timeseries", "title": "Requests", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 12},
             "fieldConfig": {"defaults": {"links": [
                 {"title": "Logs of ${__field.labels.job}",
                  "url": "http://logs.example/?job=${__field.labels.job}&instance=${__field.labels.instance}&v=${__value.raw}&from=${__from}&to=${__to}"}
             ]}, "overrides": []},
             "options": {"legend": {"showLegend": false}},
             "targets": [{"expr": "rq_total", "refId": "A", "exemplar": true}]}
        ]
    });
    save_dashboard(&base, &dashboard);
    let b = Browser::start(1200, 800);
    b.goto(&format!("{base}/d/links"));
    let panels = dashboard_panels(&b);
    assert_eq!(panels[0].1, "ok", "{panels:?}");
    b.wait(
        "the exemplar fetched",
        Duration::from_secs(10),
        "return document.querySelector('.plot[data-exemplars=\"1\"]') !== null",
    );
    // Viewport coordinates of a (time, value) point on the chart.
    let at = |t: f64, v: f64| -> (f64, f64) {
        let p = b.eval(
            "const u = window.__pharosCharts[window.__pharosCharts.length - 1];
             const r = u.over.getBoundingClientRect();
             return [r.left + u.valToPos(arguments[0], 'x'), r.top + u.valToPos(arguments[1], 'y')];",
            vec![json!(t), json!(v)],
        );
        (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())
    };
    // The exemplar's diamond is drawn in the line's colour.
    let ex_t = (now - 240_000) as f64 / 1000.0;
    let (x, y) = at(ex_t, 110.0);
    let drawn = b.eval(
        "const u = window.__pharosCharts[window.__pharosCharts.length - 1];
         const d = window.devicePixelRatio;
         const x = Math.round(u.valToPos(arguments[0], 'x', true)), y = Math.round(u.valToPos(arguments[1], 'y', true));
         return Array.from(u.ctx.getImageData(x, y, 1, 1).data);",
        vec![json!(ex_t), json!(110.0)],
    );
    assert!(
        drawn[3].as_u64().unwrap() > 200,
        "no diamond at the exemplar: {drawn}"
    );
    // Hover: the exemplar's tooltip; click: pinned, with the trace link.
    b.mouse(x, y, false);
    let shown = b.wait(
        "the exemplar's tooltip",
        Duration::from_secs(5),
        "const t = document.querySelector('.tooltip.exemplar'); return t && t.textContent",
    );
    assert!(shown.as_str().unwrap().contains("trace-42"), "{shown}");
    assert!(shown.as_str().unwrap().contains("110"), "{shown}");
    b.mouse(x, y, true);
    let href = b.wait(
        "the trace link",
        Duration::from_secs(5),
        "const a = document.querySelector('.tooltip.exemplar.pinned a.data-link'); return a && a.href",
    );
    assert_eq!(href, "http://tracing.example/trace/trace-42");
    b.screenshot(&screenshots().join("exemplar.png"));
    b.click(".tooltip.pinned .close");
    // A click on the line, away from the exemplar: the data link of the
    // series, filled in.
    let t = (now - 480_000) as f64 / 1000.0;
    let (x, y) = at(t, 108.0);
    b.mouse(x, y, true);
    let href = b.wait(
        "the data link",
        Duration::from_secs(5),
        "const a = document.querySelector('.tooltip.pinned a.data-link'); return a && [a.textContent, a.href]",
    );
    assert_eq!(href[0], "Logs of app", "{href}");
    let url = href[1].as_str().unwrap();
    assert!(
        url.starts_with("http://logs.example/?job=app&instance=i1&v=10"),
        "{url}"
    );
    let from: i64 = url
        .split("&from=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((from - (now - 900_000)).abs() < 120_000, "{url}");
    b.screenshot(&screenshots().join("data-link.png"));
}

/// The SLO panel: error budget left and burn rates per window pair in
/// their colours, from counters received through remote write (0.2 % of
/// requests fail) and from error-ratio expressions.
#[test]
fn slo_panels_show_budget_and_burn_rates() {
    let dir = tempfile::tempdir().unwrap();
    let server = pharos_tests::Server::start_with(
        dir.path(),
        &["--collector.host=false", "--collector.self=false"],
    );
    let now = now_ms();
    // Two hours every 15 s: 998 good and 2 failed requests a step.
    let counter = |code: &str, per_step: f64| {
        let samples: Vec<(i64, f64)> = (0..480)
            .map(|i| (now - 7_200_000 + i * 15_000, per_step * i as f64))
            .collect();
        pharos_tests::series(&[("__name__", "req_total"), ("code", code)], &samples)
    };
    let (code, text) =
        pharos_tests::write_v1(&server, vec![counter("200", 998.0), counter("500", 2.0)]).unwrap();
    assert_eq!(code, 204, "{text}");
    let base = server.url("");
    let slo = |id: u32, y: u32, options: Value| {
        json!({"id": id, "type": "pharos-slo-panel", "title": format!("SLO {id}"),
               "gridPos": {"x": 0, "y": y, "w": 24, "h": 6}, "options": options})
    };
    let dashboard = json!({
        "uid": "slo", "title": "SLOs", "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "panels": [
            slo(1, 0, json!({"objective": 99.9, "window": "30d",
                "sli": {"errors": "req_total{code=~\"5..\"}", "total": "req_total"}})),
            slo(2, 6, json!({"objective": 99, "window": "30d", "sli": {"errorRatio": "vector(0.001)"}})),
            slo(3, 12, json!({"objective": 99, "window": "7d", "sli": {"errorRatio": "vector(0.02)"}})),
            slo(4, 18, json!({"objective": 99.9, "sli": {"good": "req_total{code=\"200\"}"}}))
        ]
    });
    save_dashboard(&base, &dashboard);
    let b = Browser::start(1200, 1000);
    b.goto(&format!("{base}/d/slo"));
    let panels = dashboard_panels(&b);
    let states: Vec<&str> = panels.iter().map(|p| p.1.as_str()).collect();
    assert_eq!(states, ["ok", "ok", "ok", "error"], "{panels:?}");
    assert!(panels[3].3.contains("options.sli"), "{panels:?}");
    let read = b.eval(
        "return Array.from(document.querySelectorAll('.grid-panel')).slice(0, 3).map(p => {
           const b = p.querySelector('.slo-budget');
           return [b.dataset.status, Number(b.dataset.left), b.textContent,
                   Array.from(p.querySelectorAll('tr.slo-pair')).map(r => [r.dataset.status, Number(r.dataset.burnLong), Number(r.dataset.burnShort)])];
         })",
        vec![],
    );
    let close = |v: &Value, want: f64| (v.as_f64().unwrap() - want).abs() < 1e-6;
    // 0.2 % failing against a 0.1 % budget: burning at 2× everywhere,
    // the budget spent twice over; only the 3d/6h pair (threshold 1×)
    // is over, at ticket severity.
    let first = &read[0];
    assert_eq!(first[0], "red", "{read}");
    assert!(close(&first[1], -1.0), "{read}");
    assert!(first[2].as_str().unwrap().contains("-100%"), "{read}");
    assert!(first[2].as_str().unwrap().contains("SLI 99.8%"), "{read}");
    let statuses: Vec<&str> = first[3]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["green", "green", "green", "yellow"], "{read}");
    for r in first[3].as_array().unwrap() {
        assert!(close(&r[1], 2.0) && close(&r[2], 2.0), "{read}");
    }
    // 0.1 % against 1 %: 90 % of the budget left, all green.
    assert_eq!(read[1][0], "green", "{read}");
    assert!(close(&read[1][1], 0.9), "{read}");
    // 2 % against 1 % over 7 days: thresholds 3.36, 1.4, 0.7, 0.23 —
    // the 6h/30m pair pages.
    let statuses: Vec<&str> = read[2][3]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["green", "red", "yellow", "yellow"], "{read}");
    b.screenshot(&screenshots().join("slo.png"));
}

/// Thousands of alerts and rules: the pages render the first 200 rows
/// with a "Show more" that adds the next 200, and the filter searches
/// every row (one beyond the first page is found).
#[test]
fn long_alert_and_rule_lists_render_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from(
        "groups:\n- name: many\n  interval: 1s\n  rules:\n  - alert: Many\n    expr: many > 0\n",
    );
    for g in 0..30 {
        rules.push_str(&format!("- name: recorded_{g}\n  interval: 1h\n  rules:\n"));
        for r in 0..50 {
            rules.push_str(&format!(
                "  - record: rule_{}\n    expr: vector({r})\n",
                g * 50 + r
            ));
        }
    }
    std::fs::write(dir.path().join("rules.yml"), rules).unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    let server = pharos_tests::Server::start_with_config(
        &dir.path().join("data"),
        &config,
        &["--collector.host=false", "--collector.self=false"],
    );
    let now = now_ms();
    let ids: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    let series: Vec<_> = ids
        .iter()
        .map(|i| pharos_tests::series(&[("__name__", "many"), ("i", i)], &[(now, 1.0)]))
        .collect();
    let (code, text) = pharos_tests::write_v1(&server, series).unwrap();
    assert_eq!(code, 204, "{text}");
    wait_for(Duration::from_secs(30), "3000 alerts", || {
        let (_, body) = server.get_json("/api/v1/alerts");
        let n = body["data"]["alerts"].as_array().map_or(0, Vec::len);
        (n == 3000).then_some(()).ok_or(format!("{n} alerts"))
    });
    let base = server.url("");
    let b = Browser::start(1200, 900);
    let rows = |css: &str| {
        b.eval(
            &format!("return document.querySelectorAll('{css}').length"),
            vec![],
        )
    };
    b.goto(&format!("{base}/alerts"));
    let more = b.wait(
        "the alerts page",
        Duration::from_secs(30),
        "const m = document.querySelector('.show-more'); return m && m.textContent",
    );
    assert!(more.as_str().unwrap().contains("2800 rows"), "{more}");
    assert_eq!(rows("table.alerts tr"), 200);
    // The button shows 200 more; so does scrolling to the end.
    let count = "const n = document.querySelectorAll('table.alerts tr').length;
         const m = document.querySelector('.show-more');
         return m && m.textContent.includes(`${3000 - n} rows`) && n";
    b.eval("document.querySelector('.show-more').click()", vec![]);
    let wait_rows = |n: u64| {
        wait_for(Duration::from_secs(10), &format!("{n} rows"), || {
            let v = b.eval(count, vec![]);
            (v.as_u64() == Some(n)).then_some(()).ok_or(v.to_string())
        })
    };
    wait_rows(400);
    b.eval(
        "window.scrollTo(0, document.documentElement.scrollHeight)",
        vec![],
    );
    wait_rows(600);
    b.type_into("input.filter", "i=\"2999\"");
    b.wait(
        "the last alert found by the filter",
        Duration::from_secs(10),
        "return document.querySelectorAll('table.alerts tr').length == 1 && !document.querySelector('.show-more')",
    );
    assert!(b
        .eval(
            "return document.querySelector('table.alerts tr').textContent",
            vec![]
        )
        .as_str()
        .unwrap()
        .contains("i=\"2999\""));
    b.goto(&format!("{base}/rules"));
    let more = b.wait(
        "the rules page",
        Duration::from_secs(30),
        "const m = document.querySelector('.show-more'); return m && m.textContent",
    );
    // 1 501 rules: the alert and 1 500 recording rules.
    assert!(more.as_str().unwrap().contains("1301 rows"), "{more}");
    assert_eq!(rows("tr[data-rule]"), 200);
    b.type_into("input.filter", "rule_1499");
    b.wait(
        "the last rule found by the filter",
        Duration::from_secs(10),
        "const r = document.querySelectorAll('tr[data-rule]'); return r.length == 1 && r[0].dataset.rule == 'rule_1499'",
    );
}

/// The absolute time picker (relative and absolute times, a clear error),
/// Grafana's keyboard shortcuts (t z, t ←), each alert's link to its
/// rule's expression graphed around its start, and Explore's end time
/// and auto-refresh in the URL.
#[test]
fn time_picker_shortcuts_and_alert_graph_links() {
    let (_dir, _child, base) = start("");
    let dashboard = json!({
        "uid": "time", "title": "Time", "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "panels": [{"id": 1, "type": "timeseries", "title": "Scrapes", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 8},
                    "targets": [{"expr": "scrape_duration_seconds", "refId": "A"}]}]
    });
    save_dashboard(&base, &dashboard);
    let b = Browser::start(1200, 800);
    b.goto(&format!("{base}/d/time"));
    dashboard_panels(&b);
    let url_param = |k: &str| {
        b.eval(
            "return new URLSearchParams(location.search).get(arguments[0])",
            vec![json!(k)],
        )
    };
    // Relative times, as typed.
    b.click(".picker-toggle");
    b.fill(".time-from", "now-3h");
    b.fill(".time-to", "now-2h");
    b.click(".apply-time");
    b.wait(
        "the relative range in the URL",
        Duration::from_secs(5),
        "return location.search.includes('from=now-3h') && location.search.includes('to=now-2h')",
    );
    // A typo: a sentence, nothing applied.
    b.click(".picker-toggle");
    b.fill(".time-from", "yesterday-ish");
    b.click(".apply-time");
    let err = b.wait(
        "the picker's error",
        Duration::from_secs(5),
        "const e = document.querySelector('.time-picker .panel-error'); return e && e.textContent",
    );
    assert!(err.as_str().unwrap().contains("is not a time"), "{err}");
    assert_eq!(url_param("from"), "now-3h");
    // Absolute local times: kept as milliseconds.
    let (from_text, from_ms, to_text, to_ms) = {
        let v = b.eval(
            "const f = new Date(Math.floor(Date.now() / 60000) * 60000 - 2 * 3600e3), t = new Date(f.getTime() + 3600e3);
             return [f.toLocaleString('sv-SE'), f.getTime(), t.toLocaleString('sv-SE'), t.getTime()]",
            vec![],
        );
        (
            v[0].as_str().unwrap().to_string(),
            v[1].as_i64().unwrap(),
            v[2].as_str().unwrap().to_string(),
            v[3].as_i64().unwrap(),
        )
    };
    b.fill(".time-from", &from_text);
    b.fill(".time-to", &to_text);
    b.click(".apply-time");
    b.wait(
        "the absolute range in the URL",
        Duration::from_secs(5),
        &format!("return new URLSearchParams(location.search).get('from') == '{from_ms}'"),
    );
    assert_eq!(url_param("to"), to_ms.to_string());
    let shown = b.eval(
        "return document.querySelector('.range-select').selectedOptions[0].textContent",
        vec![],
    );
    assert_eq!(shown, format!("{from_text} to {to_text}"));
    // t ←: back by half the span; t z: twice the span around the middle.
    b.keys("t\u{E012}");
    b.wait(
        "the range moved back",
        Duration::from_secs(5),
        &format!(
            "return new URLSearchParams(location.search).get('from') == '{}'",
            from_ms - 1_800_000
        ),
    );
    b.keys("tz");
    b.wait(
        "the range zoomed out",
        Duration::from_secs(5),
        &format!(
            "const q = new URLSearchParams(location.search); return q.get('from') == '{}' && q.get('to') == '{}'",
            from_ms - 3_600_000,
            to_ms
        ),
    );
    // An alert's Graph link: its rule's expression since before it started.
    b.goto(&format!("{base}/alerts"));
    let href = b.wait(
        "the alert's graph link",
        Duration::from_secs(10),
        "const a = document.querySelector('a.button.graph'); return a && a.getAttribute('href')",
    );
    let href = href.as_str().unwrap().to_string();
    assert!(
        href.starts_with("graph?g0.expr=vector(1)&g0.tab=0&g0.range_input="),
        "{href}"
    );
    b.click("a.button.graph");
    b.wait(
        "Explore with the rule's expression",
        Duration::from_secs(10),
        "const p = document.querySelector('section.grid-panel'); return p && p.dataset.state == 'ok' && document.querySelector('textarea, input.expr') !== null",
    );
    // Explore: a range that ends in the past, and auto-refresh, in the URL.
    let end = b.eval(
        "return new Date(Date.now() - 5e3).toISOString().slice(0, 19).replace('T', ' ')",
        vec![],
    );
    b.goto(&format!(
        "{base}/graph?g0.expr=up&g0.range_input=1h&g0.end_input={}",
        end.as_str().unwrap().replace(' ', "%20")
    ));
    b.wait(
        "the graph up to the end time",
        Duration::from_secs(10),
        "const p = document.querySelector('section.grid-panel'); return p && p.dataset.state == 'ok'",
    );
    assert_eq!(url_param("g0.end_input"), end);
    let label = b.eval(
        "return document.querySelector('select[aria-label=Range]').selectedOptions[0].textContent",
        vec![],
    );
    assert!(label.as_str().unwrap().starts_with("1h until "), "{label}");
    b.eval(
        "const s = document.querySelector('.refresh-select'); s.value = '5s'; s.dispatchEvent(new Event('change'))",
        vec![],
    );
    b.wait(
        "refresh in the URL",
        Duration::from_secs(5),
        "return new URLSearchParams(location.search).get('refresh') == '5s'",
    );
}
