//! Dashboard coverage: the Node Exporter Full Grafana dashboard
//! (testdata/dashboards/node-exporter-full.json) must find its series in
//! pharos's host collector wherever it finds them in node_exporter.
//!
//! Extracts every `node_*` metric name from the dashboard's queries
//! (panel `expr`s and template-variable queries), runs the real
//! node_exporter 1.5 (`/usr/bin/prometheus-node-exporter`, default
//! collectors) and pharos's collector on this machine, and asserts that
//! each dashboard name node_exporter exposes here, pharos exposes too, with
//! the same label names. Removing a collector fails this test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use pharos_agent::exposition::{parse_all, Entry, Format};
use pharos_agent::host::HostCollector;
use regex::Regex;

mod common;

/// metric name -> label names over all its samples.
type Names = BTreeMap<String, BTreeSet<String>>;

/// Every `node_*` name in the dashboard's query strings.
fn dashboard_names() -> BTreeSet<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/dashboards/node-exporter-full.json");
    let text = std::fs::read_to_string(&path).expect("dashboard copy");
    let json: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON parses");
    // A name starts where no identifier character (or `$`, which starts a
    // Grafana variable) precedes it.
    let re = Regex::new(r"(?:^|[^A-Za-z0-9_:$])(node_[A-Za-z0-9_]+)").unwrap();
    let mut names = BTreeSet::new();
    let mut stack = vec![(None::<String>, &json)];
    while let Some((key, v)) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                stack.extend(m.iter().map(|(k, v)| (Some(k.clone()), v)));
            }
            serde_json::Value::Array(a) => stack.extend(a.iter().map(|v| (key.clone(), v))),
            serde_json::Value::String(s)
                if matches!(key.as_deref(), Some("expr" | "query" | "definition")) =>
            {
                names.extend(re.captures_iter(s).map(|c| c[1].to_string()));
            }
            _ => {}
        }
    }
    names
}

#[test]
fn node_exporter_full_dashboard_finds_pharos_series() {
    let wanted = dashboard_names();
    assert!(
        wanted.len() > 200,
        "only {} node_* names extracted: is the dashboard intact?",
        wanted.len()
    );
    // The template variables (label_values(node_uname_info, nodename)) count.
    assert!(wanted.contains("node_uname_info"));

    let body = common::scrape_node_exporter(&[]);
    let mut theirs = Names::new();
    for entry in parse_all(&body, Format::PrometheusText).expect("node_exporter output parses") {
        if let Entry::Sample(s) = entry {
            theirs
                .entry(s.name.to_string())
                .or_default()
                .extend(s.labels.iter().map(|(k, _)| k.to_string()));
        }
    }
    let mut ours = Names::new();
    for f in HostCollector::default().collect() {
        for s in f.samples {
            ours.entry(s.name)
                .or_default()
                .extend(s.labels.into_iter().map(|(k, _)| k));
        }
    }

    let in_theirs: Vec<&String> = wanted.iter().filter(|n| theirs.contains_key(*n)).collect();
    let in_ours: Vec<&String> = wanted.iter().filter(|n| ours.contains_key(*n)).collect();
    println!(
        "Node Exporter Full: {} node_* names in its queries; node_exporter exposes {} here, \
         pharos {}",
        wanted.len(),
        in_theirs.len(),
        in_ours.len()
    );
    let neither: Vec<&String> = wanted
        .iter()
        .filter(|n| !theirs.contains_key(*n) && !ours.contains_key(*n))
        .collect();
    println!(
        "not exposed by either on this machine ({}): {neither:?}",
        neither.len()
    );

    let mut problems = Vec::new();
    for name in &in_theirs {
        match ours.get(*name) {
            None => problems.push(format!("{name}: node_exporter exposes it, pharos does not")),
            Some(labels) if labels != &theirs[*name] => problems.push(format!(
                "{name}: label names {labels:?} in pharos, {:?} in node_exporter",
                theirs[*name]
            )),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "{} dashboard series differ:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(in_ours.len() >= in_theirs.len());
}
