//! What the browser tests of the web UI share: pharos started the way
//! they need it (scraping itself and its host collector every second,
//! rules that fire), the screenshot folder, and reading a dashboard's
//! panels once they have answered.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::webdriver::Browser;
use crate::{free_tcp_port, pharos_bin, wait_for, ChildGuard};

/// `target/ui-screenshots/`, created: where the UI tests leave their
/// screenshots to be looked at.
pub fn screenshots() -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// pharos scraping itself (`pharos`), its host collector (`node`) and a
/// closed port (`broken`) every second, with two alerting rules
/// (`AlwaysFiring`, `AlwaysPending`), served under `prefix` (`""` or
/// `/path`); returns once 20 scrapes of the host are stored (graphs step
/// at least 15 s, so the first step has a sample). Returns the data
/// directory, the process and the base URL (with the prefix).
pub fn start_pharos_for_ui(prefix: &str) -> (tempfile::TempDir, ChildGuard, String) {
    start_pharos_for_ui_with(prefix, "", 20)
}

/// [`start_pharos_for_ui`] with `extra_jobs` (YAML list items appended to
/// `scrape_configs`), returning once `scrapes` scrapes of the host are
/// stored.
pub fn start_pharos_for_ui_with(
    prefix: &str,
    extra_jobs: &str,
    scrapes: u32,
) -> (tempfile::TempDir, ChildGuard, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_tcp_port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s}}\nrule_files: [rules.yml]\nscrape_configs:\n\
             - job_name: pharos\n  metrics_path: {prefix}/metrics\n  static_configs: [{{targets: ['{addr}']}}]\n\
             - job_name: node\n  metrics_path: {prefix}/node/metrics\n  static_configs: [{{targets: ['{addr}']}}]\n\
             - job_name: broken\n  static_configs: [{{targets: ['127.0.0.1:1']}}]\n{extra_jobs}"
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
    wait_for(
        Duration::from_secs(60),
        &format!("{scrapes} scrapes of the host"),
        || {
            let url = format!(
                "{base}/api/v1/query?query=count(count_over_time(node_load1%5B1m%5D)%3E%3D{scrapes})"
            );
            let r = reqwest::blocking::get(&url).map_err(|e| e.to_string())?;
            let text = r.text().map_err(|e| e.to_string())?;
            if text.contains("\"value\"") {
                Ok(())
            } else {
                Err(text)
            }
        },
    );
    (dir, child, base)
}

/// Waits until every dashboard panel on the page has its answer, then
/// returns `(title, state, series drawn, text)` for each: the state is
/// `ok`, `nodata` or `error`; series is −1 for panels without a graph.
pub fn dashboard_panels(b: &Browser) -> Vec<(String, String, i64, String)> {
    b.wait(
        "every panel answered",
        Duration::from_secs(60),
        "const ps = document.querySelectorAll('section.grid-panel');
         return ps.length > 0 && Array.from(ps).every(p => p.dataset.state !== 'loading');",
    );
    // A graph draws once its data arrived: give the canvases a moment.
    std::thread::sleep(Duration::from_millis(500));
    let v = b.eval(
        "return Array.from(document.querySelectorAll('section.grid-panel')).map(p => {
            const plot = p.querySelector('.plot');
            const drawn = plot ? (p.querySelector('canvas') ? Number(plot.dataset.series) : 0) : -1;
            return [p.querySelector('.panel-title').textContent, p.dataset.state, drawn,
                    p.querySelector('.panel-body').innerText.slice(0, 300)];
        });",
        vec![],
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
                p[2].as_i64().unwrap(),
                p[3].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Saves `dashboard` through the Grafana API (`POST /api/dashboards/db`)
/// and checks it was accepted.
pub fn save_dashboard(base: &str, dashboard: &serde_json::Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}/api/dashboards/db"))
        .json(&serde_json::json!({"dashboard": dashboard}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap());
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
