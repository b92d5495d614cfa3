//! The web UI's Status pages in a real browser (headless Chromium through
//! chromedriver) against the real binary: service discovery with
//! discovered, target and dropped labels; runtime and build information;
//! flags; configuration; TSDB cardinality; the host collectors switched
//! off and on; the Status menu behind a route prefix. Each page is
//! checked against what the API answers. Screenshots go to
//! `target/ui-screenshots/status-*.png`.

use std::time::Duration;

use pharos_tests::ui::{screenshots, start_pharos_for_ui_with};
use pharos_tests::wait_for;
use pharos_tests::webdriver::Browser;
use serde_json::{json, Value};

fn get(url: &str) -> Value {
    reqwest::blocking::get(url).unwrap().json().unwrap()
}

/// The `innerText` of every element `css` selects.
fn texts(b: &Browser, css: &str) -> Vec<String> {
    let v = b.eval(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.innerText.trim())",
        vec![json!(css)],
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Waits until `css` selects at least one element.
fn wait_for_element(b: &Browser, css: &str) {
    b.wait(
        css,
        Duration::from_secs(30),
        &format!("return document.querySelector({}) !== null", json!(css)),
    );
}

/// Rows of the table `css` selects: the cells' text.
fn table(b: &Browser, css: &str) -> Vec<Vec<String>> {
    let v = b.eval(
        "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))
             .map(r => Array.from(r.children).map(c => c.innerText.trim()))",
        vec![json!(css)],
    );
    serde_json::from_value(v).unwrap()
}

/// A pool whose 1500 targets relabeling drops, and one with a kept and a
/// dropped target.
fn discovery_jobs() -> String {
    let many: Vec<String> = (0..1500)
        .map(|i| format!("'10.9.{}.{}:9100'", i / 250, i % 250))
        .collect();
    format!(
        "- job_name: gone\n  static_configs: [{{targets: ['127.0.0.1:2', '127.0.0.1:3']}}]\n\
         \x20 relabel_configs: [{{source_labels: [__address__], regex: '.*:2', action: keep}}]\n\
         - job_name: many\n  static_configs: [{{targets: [{}]}}]\n\
         \x20 relabel_configs: [{{source_labels: [__address__], regex: '.*', action: drop}}]\n",
        many.join(", ")
    )
}

#[test]
fn service_discovery_shows_discovered_target_and_dropped_labels() {
    let (_dir, _child, base) = start_pharos_for_ui_with("", &discovery_jobs(), 1);
    let addr = base.trim_start_matches("http://").to_string();
    let b = Browser::start(1400, 1000);
    b.goto(&format!("{base}/service-discovery"));
    wait_for_element(&b, "details.sd-pool");
    assert_eq!(
        texts(&b, "details.sd-pool > summary"),
        [
            "broken (1 / 1 active targets)",
            "gone (1 / 2 active targets)",
            "many (0 / 1500 active targets)",
            "node (1 / 1 active targets)",
            "pharos (1 / 1 active targets)",
        ]
    );
    // 1505 targets: the first 1000 rows render; the pools past the budget
    // still show, with what they hold back.
    let rows = b.eval(
        "return document.querySelectorAll('table.sd tbody tr').length",
        vec![],
    );
    assert_eq!(rows, json!(1000));
    let notes = texts(&b, "p.hint");
    assert!(
        notes
            .iter()
            .any(|n| n
                == "Showing the first 1000 of 1505 rows: narrow the filter to see the others."),
        "{notes:?}"
    );
    let node_note = texts(&b, "details.sd-pool:nth-of-type(4) .hint");
    assert_eq!(
        node_note,
        ["1 more target not shown: narrow the filter to see it."]
    );
    b.screenshot(&screenshots().join("status-service-discovery.png"));

    // The node pool: labels before relabeling and after.
    b.fill("input.filter", "job=\"node\"");
    b.wait(
        "only the node pool",
        Duration::from_secs(10),
        "return document.querySelectorAll('details.sd-pool').length == 1",
    );
    let rows = table(&b, "table.sd");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let discovered = &rows[0][0];
    assert!(
        discovered.contains(&format!("__address__=\"{addr}\"")),
        "{discovered}"
    );
    assert!(
        discovered.contains("__metrics_path__=\"/node/metrics\""),
        "{discovered}"
    );
    assert!(discovered.contains("__scheme__=\"http\""), "{discovered}");
    let target = &rows[0][1];
    assert!(target.contains(&format!("instance=\"{addr}\"")), "{target}");
    assert!(target.contains("job=\"node\""), "{target}");
    assert!(!target.contains("__address__"), "{target}");

    // The target relabeling dropped: its discovered labels, "Dropped".
    b.fill("input.filter", "__address__=\"127.0.0.1:3\"");
    b.wait(
        "only the dropped target",
        Duration::from_secs(10),
        "return document.querySelectorAll('table.sd tbody tr').length == 1
            && document.querySelector('details.sd-pool > summary').innerText.startsWith('gone')",
    );
    let rows = table(&b, "table.sd");
    assert!(
        rows[0][0].contains("__address__=\"127.0.0.1:3\""),
        "{rows:?}"
    );
    assert_eq!(rows[0][1], "Dropped");
    b.screenshot(&screenshots().join("status-service-discovery-dropped.png"));

    b.fill("input.filter", "no such label anywhere");
    wait_for_element(&b, "p.hint");
    assert!(texts(&b, "p.hint").contains(&"No target matches.".to_string()));

    // Pools fold.
    // Emptied as the search box's clear button does (WebDriver's clear
    // fires no input event).
    b.eval(
        "const f = document.querySelector('input.filter'); f.value = '';
         f.dispatchEvent(new Event('input', {bubbles: true}));",
        vec![],
    );
    wait_for_element(&b, "details.sd-pool");
    b.click("details.sd-pool > summary");
    let open = b.eval(
        "return document.querySelector('details.sd-pool').open",
        vec![],
    );
    assert_eq!(open, json!(false));
}

#[test]
fn status_flags_config_and_tsdb_pages_show_the_servers_answers() {
    let (_dir, _child, base) = start_pharos_for_ui_with("", "", 3);
    let b = Browser::start(1400, 1000);

    // Runtime & Build Information.
    let runtime = get(&format!("{base}/api/v1/status/runtimeinfo"))["data"].clone();
    let build = get(&format!("{base}/api/v1/status/buildinfo"))["data"].clone();
    b.goto(&format!("{base}/status"));
    wait_for_element(&b, "table.kv");
    assert_eq!(
        texts(&b, "section h2"),
        ["Runtime Information", "Build Information"]
    );
    let runtime_rows = table(&b, "section:nth-of-type(1) table.kv");
    let row = |rows: &[Vec<String>], key: &str| -> String {
        rows.iter()
            .find(|r| r[0] == key)
            .unwrap_or_else(|| panic!("no {key} in {rows:?}"))[1]
            .clone()
    };
    assert_eq!(
        row(&runtime_rows, "Start time"),
        runtime["startTime"].as_str().unwrap()
    );
    assert_eq!(
        row(&runtime_rows, "Working directory"),
        runtime["CWD"].as_str().unwrap()
    );
    assert_eq!(row(&runtime_rows, "Configuration reload"), "Successful");
    assert_eq!(
        row(&runtime_rows, "Storage retention"),
        runtime["storageRetention"].as_str().unwrap()
    );
    assert_eq!(runtime_rows[0][0], "Start time", "Prometheus's order");
    let build_rows = table(&b, "section:nth-of-type(2) table.kv");
    let keys: Vec<&str> = build_rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        keys,
        [
            "version",
            "revision",
            "branch",
            "buildUser",
            "buildDate",
            "goVersion"
        ]
    );
    assert_eq!(
        row(&build_rows, "version"),
        build["version"].as_str().unwrap()
    );
    b.screenshot(&screenshots().join("status-runtime-build.png"));

    // Command-Line Flags, filtered.
    let flags = get(&format!("{base}/api/v1/status/flags"))["data"].clone();
    let flags = flags.as_object().unwrap();
    b.goto(&format!("{base}/flags"));
    wait_for_element(&b, "table.flags tbody tr");
    let rows = table(&b, "table.flags");
    assert_eq!(rows.len(), flags.len());
    assert_eq!(
        row(&rows, "--storage.tsdb.retention.time"),
        flags["storage.tsdb.retention.time"].as_str().unwrap()
    );
    assert!(row(&rows, "--config.file").ends_with("prometheus.yml"));
    b.screenshot(&screenshots().join("status-flags.png"));
    b.fill("input.filter", "RETENTION");
    b.wait(
        "the retention flags",
        Duration::from_secs(10),
        "return document.querySelectorAll('table.flags tbody tr').length < 10",
    );
    let rows = table(&b, "table.flags");
    let want: Vec<String> = flags
        .iter()
        .filter(|(k, v)| {
            k.contains("retention") || v.as_str().unwrap().to_lowercase().contains("retention")
        })
        .map(|(k, _)| format!("--{k}"))
        .collect();
    let got: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    assert_eq!(got, want);
    assert!(
        got.contains(&"--storage.tsdb.retention.size".to_string()),
        "{got:?}"
    );
    b.fill("input.filter", "no-such-flag");
    b.wait(
        "no flag",
        Duration::from_secs(10),
        "return document.querySelectorAll('table.flags tbody tr').length == 0",
    );
    assert!(texts(&b, "p.hint").contains(&"No flag matches.".to_string()));

    // Configuration: the YAML in force, copied to the clipboard.
    let yaml = get(&format!("{base}/api/v1/status/config"))["data"]["yaml"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(yaml.contains("job_name: node"), "{yaml}");
    b.goto(&format!("{base}/config"));
    wait_for_element(&b, "pre.config-yaml");
    let shown = b.eval(
        "return document.querySelector('pre.config-yaml').textContent",
        vec![],
    );
    assert_eq!(shown.as_str().unwrap(), yaml);
    b.click("button.copy");
    b.wait(
        "the copy button's answer",
        Duration::from_secs(10),
        "return document.querySelector('button.copy').innerText == 'Copied'",
    );
    b.screenshot(&screenshots().join("status-config.png"));

    // TSDB Status: the head and the four top-10 tables.
    b.goto(&format!("{base}/tsdb-status"));
    wait_for_element(&b, ".head-stats table");
    let head = table(&b, ".head-stats table");
    let series: u64 = head[0][0].parse().unwrap();
    assert!(series > 100, "{head:?}");
    let times = texts(&b, ".head-stats p");
    assert!(times[0].starts_with("Current Min Time: 20"), "{times:?}");
    assert!(times[0].contains("Z ("), "{times:?}");
    assert_eq!(
        texts(&b, ".top-tables h2"),
        [
            "Top 10 label names with value count",
            "Top 10 series count by metric names",
            "Top 10 label names with high memory usage",
            "Top 10 series count by label value pairs",
        ]
    );
    let tables = b.eval(
        "return Array.from(document.querySelectorAll('.top-tables table')).map(t =>
             Array.from(t.querySelectorAll('tbody tr')).map(r => r.children[0].innerText))",
        vec![],
    );
    let tables: Vec<Vec<String>> = serde_json::from_value(tables).unwrap();
    assert!(tables[0].contains(&"__name__".to_string()), "{tables:?}");
    assert!(
        tables[1].contains(&"node_cpu_seconds_total".to_string()),
        "{tables:?}"
    );
    assert!(tables[2].contains(&"instance".to_string()), "{tables:?}");
    assert!(tables[3].contains(&"job=node".to_string()), "{tables:?}");
    assert!(tables.iter().all(|t| !t.is_empty() && t.len() <= 10));
    b.screenshot(&screenshots().join("status-tsdb.png"));
}

#[test]
fn a_collector_switched_off_stops_its_metrics_until_switched_on() {
    let (_dir, _child, base) = start_pharos_for_ui_with("", "", 2);
    let collectors = |base: &str| -> Vec<(String, bool)> {
        get(&format!("{base}/api/v1/collectors"))["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["enabled"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    let node_load1 = |base: &str| -> usize {
        get(&format!("{base}/api/v1/query?query=node_load1"))["data"]["result"]
            .as_array()
            .unwrap()
            .len()
    };
    let b = Browser::start(1200, 1000);
    b.goto(&format!("{base}/collectors"));
    wait_for_element(&b, "table.collectors tbody tr");
    let rows = table(&b, "table.collectors");
    let api = collectors(&base);
    assert_eq!(rows.len(), api.len());
    for (row, (name, on)) in rows.iter().zip(&api) {
        assert_eq!(
            (&row[0], &row[1]),
            (name, &if *on { "on" } else { "off" }.to_string())
        );
    }
    assert!(api.iter().any(|(n, on)| n == "loadavg" && *on), "{api:?}");
    assert_eq!(node_load1(&base), 1);

    b.click("tr[data-collector=loadavg] label.switch");
    b.wait(
        "loadavg shown off",
        Duration::from_secs(10),
        "const r = document.querySelector('tr[data-collector=loadavg]');
         return r.children[1].innerText == 'off' && !r.querySelector('input').checked
             && !r.querySelector('input').disabled;",
    );
    assert!(collectors(&base).contains(&("loadavg".to_string(), false)));
    // The next scrape lacks the load averages: they go stale.
    let text = reqwest::blocking::get(format!("{base}/node/metrics"))
        .unwrap()
        .text()
        .unwrap();
    assert!(!text.contains("\nnode_load1 "), "node_load1 still exported");
    assert!(
        text.contains("\nnode_cpu_seconds_total{"),
        "the other collectors still run"
    );
    wait_for(
        Duration::from_secs(15),
        "node_load1 stale",
        || match node_load1(&base) {
            0 => Ok(()),
            n => Err(format!("{n} series")),
        },
    );
    b.screenshot(&screenshots().join("status-collectors-off.png"));

    b.click("tr[data-collector=loadavg] label.switch");
    b.wait(
        "loadavg shown on",
        Duration::from_secs(10),
        "const r = document.querySelector('tr[data-collector=loadavg]');
         return r.children[1].innerText == 'on' && r.querySelector('input').checked;",
    );
    assert!(collectors(&base).contains(&("loadavg".to_string(), true)));
    wait_for(
        Duration::from_secs(15),
        "node_load1 back",
        || match node_load1(&base) {
            1 => Ok(()),
            n => Err(format!("{n} series")),
        },
    );
    assert!(collectors(&base).iter().all(|(_, on)| *on));
}

#[test]
fn status_menu_opens_by_keyboard_and_keeps_the_route_prefix() {
    let (_dir, _child, base) = start_pharos_for_ui_with("/pharos", "", 1);
    let b = Browser::start(1200, 900);
    b.goto(&format!("{base}/targets"));
    wait_for_element(&b, "details.menu > summary");
    // Enter on the focused summary opens the menu; Escape closes it.
    b.type_into("details.menu > summary", "\u{E007}");
    b.wait(
        "the menu open",
        Duration::from_secs(5),
        "return document.querySelector('details.menu').open",
    );
    let links = b.eval(
        "return Array.from(document.querySelectorAll('.menu-list a')).map(a => [a.innerText, a.getAttribute('href')])",
        vec![],
    );
    assert_eq!(
        links,
        json!([
            ["Runtime & Build Information", "/pharos/status"],
            ["TSDB Status", "/pharos/tsdb-status"],
            ["Command-Line Flags", "/pharos/flags"],
            ["Configuration", "/pharos/config"],
            ["Targets", "/pharos/targets"],
            ["Service Discovery", "/pharos/service-discovery"],
            ["Host Collectors", "/pharos/collectors"],
        ])
    );
    assert_eq!(
        b.eval(
            "return document.querySelector('details.menu > summary').classList.contains('active')",
            vec![]
        ),
        json!(true),
        "Targets is one of the status pages"
    );
    b.type_into(".menu-list a[href='/pharos/flags']", "\u{E00C}");
    b.wait(
        "the menu closed by Escape",
        Duration::from_secs(5),
        "return !document.querySelector('details.menu').open
            && document.activeElement == document.querySelector('details.menu > summary')",
    );
    // A link leads to the page under the prefix and closes the menu.
    b.click("details.menu > summary");
    b.click(".menu-list a[href='/pharos/flags']");
    wait_for_element(&b, "table.flags tbody tr");
    assert_eq!(
        b.eval("return location.pathname", vec![]),
        json!("/pharos/flags")
    );
    assert_eq!(
        b.eval("return document.querySelector('details.menu').open", vec![]),
        json!(false)
    );
    let prefix = b.eval(
        "return Array.from(document.querySelectorAll('table.flags tbody tr'))
             .find(r => r.children[0].innerText == '--web.route-prefix').children[1].innerText",
        vec![],
    );
    assert_eq!(prefix, json!("/pharos"));
    // A click outside closes an open menu.
    b.click("details.menu > summary");
    b.click("h1");
    assert_eq!(
        b.eval("return document.querySelector('details.menu').open", vec![]),
        json!(false)
    );
    // The pages load from their own URLs too (a reload, a bookmark).
    b.goto(&format!("{base}/service-discovery"));
    wait_for_element(&b, "details.sd-pool");
    assert_eq!(
        texts(&b, "details.sd-pool > summary"),
        [
            "broken (1 / 1 active targets)",
            "node (1 / 1 active targets)",
            "pharos (1 / 1 active targets)",
        ]
    );
    b.screenshot(&screenshots().join("status-menu.png"));
}
