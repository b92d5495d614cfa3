//! The web UI in a real browser (Debian's headless Chromium) against the
//! real binary: the home page draws the host dashboard with live data,
//! behind a route prefix too. Screenshots go to `target/ui-screenshots/`
//! to be looked at.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pharos_tests::{pharos_bin, wait_for, ChildGuard};

fn chromium() -> &'static str {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return c;
        }
    }
    panic!("the UI tests need Chromium: apt-get install -y chromium (tests/run.sh does)");
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// pharos scraping itself and its host collector every second (the
/// built-in configuration's jobs, faster, so a test sees data at once).
fn start(prefix: &str) -> (tempfile::TempDir, ChildGuard, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = pharos_tests::free_tcp_port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s}}\nrule_files: [rules.yml]\nscrape_configs:\n\
             - job_name: pharos\n  metrics_path: {prefix}/metrics\n  static_configs: [{{targets: ['{addr}']}}]\n\
             - job_name: node\n  metrics_path: {prefix}/node/metrics\n  static_configs: [{{targets: ['{addr}']}}]\n\
             - job_name: broken\n  static_configs: [{{targets: ['127.0.0.1:1']}}]\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: ui\n  interval: 1s\n  rules:\n\
         \x20 - alert: AlwaysFiring\n    expr: vector(1)\n    labels: {severity: page}\n    annotations: {summary: 'It always fires'}\n\
         \x20 - alert: AlwaysPending\n    expr: vector(1)\n    for: 1h\n",
    )
    .unwrap();
    let mut cmd = Command::new(pharos_bin());
    cmd.arg(format!("--web.listen-address={addr}"))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--config.file={}", config.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if !prefix.is_empty() {
        cmd.arg(format!("--web.route-prefix={prefix}"));
    }
    let child = ChildGuard::spawn(&mut cmd);
    let base = format!("http://{addr}{prefix}");
    // Rates need two scrapes of the host collector.
    wait_for(Duration::from_secs(60), "two scrapes of the host", || {
        let url =
            format!("{base}/api/v1/query?query=count(count_over_time(node_load1%5B1m%5D)%3E%3D3)");
        let r = reqwest::blocking::get(&url).map_err(|e| e.to_string())?;
        let text = r.text().map_err(|e| e.to_string())?;
        if text.contains("\"value\"") {
            Ok(())
        } else {
            Err(text)
        }
    });
    (dir, child, base)
}

/// Panels of the dumped DOM: `(title, number of series drawn)` for each
/// time-series panel.
fn charts(dom: &str) -> Vec<(String, usize)> {
    dom.split("<section class=\"panel timeseries\">")
        .skip(1)
        .map(|p| {
            let title = p
                .split("<h3 class=\"panel-title\">")
                .nth(1)
                .and_then(|t| t.split('<').next())
                .unwrap_or("")
                .to_string();
            let series = p
                .split("data-series=\"")
                .nth(1)
                .and_then(|t| t.split('"').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let drawn = p.contains("<canvas");
            (title, if drawn { series } else { 0 })
        })
        .collect()
}

fn stats(dom: &str) -> Vec<String> {
    dom.split("<p class=\"stat-value\">")
        .skip(1)
        .filter_map(|p| p.split('<').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn home_draws_the_host_dashboard_with_live_data() {
    let (_dir, _child, base) = start("");
    let dom = browse(&format!("{base}/"), 10_000, &["--dump-dom"]);
    let charts = charts(&dom);
    let titles: Vec<&str> = charts.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        [
            "CPU busy",
            "Load average",
            "Memory",
            "Network traffic",
            "Disk space used",
            "Disk I/O"
        ],
        "{dom}"
    );
    for (title, series) in &charts {
        assert!(*series > 0, "{title} drew no series:\n{dom}");
    }
    assert_eq!(charts[1].1, 3, "load 1, 5 and 15 min");
    assert_eq!(charts[2].1, 2, "memory used and total");
    let stats = stats(&dom);
    assert_eq!(stats.len(), 4, "{dom}");
    assert_eq!(stats[0], "2", "both jobs up: {stats:?}");
    assert!(stats[1].ends_with('%'), "{stats:?}");
    assert!(
        stats[2].ends_with("iB") || stats[2].ends_with(" B"),
        "{stats:?}"
    );
    assert!(!dom.contains("panel-error"), "{dom}");
    let shot = screenshots().join("home.png");
    browse(
        &format!("{base}/"),
        10_000,
        &[&format!("--screenshot={}", shot.display())],
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 20_000);
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
    let dom = browse(&format!("{base}/"), 10_000, &["--dump-dom"]);
    assert!(
        dom.contains("href=\"/pharos/explore\""),
        "links keep the prefix:\n{dom}"
    );
    let charts = charts(&dom);
    assert_eq!(charts.len(), 6, "{dom}");
    assert!(charts.iter().all(|(_, n)| *n > 0), "{charts:?}\n{dom}");
}

/// The Prometheus UI's links open Explore with the query run: as a table
/// (`g0.tab=1`) and as a graph (`g0.tab=0`) over `g0.range_input`.
#[test]
fn prometheus_graph_links_open_explore() {
    let (_dir, _child, base) = start("");
    let dom = browse(
        &format!("{base}/graph?g0.expr=up&g0.tab=1"),
        8_000,
        &["--dump-dom"],
    );
    let rows: Vec<&str> = dom
        .split("<td class=\"series\">")
        .skip(1)
        .filter_map(|r| r.split('<').next())
        .collect();
    assert_eq!(rows.len(), 3, "up of the three jobs in the table:\n{dom}");
    assert!(rows.iter().any(|r| r.contains("job=\"node\"")), "{rows:?}");
    assert!(rows.iter().all(|r| r.starts_with("up{")), "{rows:?}");
    let url = format!(
        "{base}/explore?g0.expr=rate(node_cpu_seconds_total%5B1m%5D)&g0.tab=0&g0.range_input=15m"
    );
    let dom = browse(&url, 8_000, &["--dump-dom"]);
    let charts = charts(&dom);
    assert_eq!(charts.len(), 1, "{dom}");
    assert!(
        charts[0].1 > 0,
        "rate(node_cpu_seconds_total) drew series:\n{dom}"
    );
    assert!(
        dom.contains("<button class=\"active\">Last 15 minutes</button>"),
        "g0.range_input=15m picks the range:\n{dom}"
    );
    let shot = screenshots().join("explore.png");
    browse(&url, 8_000, &[&format!("--screenshot={}", shot.display())]);
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
