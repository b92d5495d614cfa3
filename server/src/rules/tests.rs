//! Rule tests: the rule file table (Prometheus's rulefmt fixtures and the
//! real-world rule sets), alert timelines on an injected clock, recording
//! rules and their stale markers, limits, templates, and alert state kept
//! across a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::file::parse_str;
use super::group::{Group, GroupEnv};
use super::*;
use crate::alert_sender::{AlertSender, NoSender, OutgoingAlert};
use crate::promql::Engine;
use crate::storage::{
    Appender, Clock, Labels, MatchOp, Matcher, Options, Queryable, SeriesSamples, Storage,
    METRIC_NAME,
};

const T0: i64 = 1_700_000_000_000;
const MIN: i64 = 60_000;
const STALE: u64 = 0x7ff0_0000_0000_0002;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/rules/testdata")
        .join(rel)
}

fn storage(dir: &Path) -> Arc<Storage> {
    Arc::new(
        Storage::open(
            dir,
            Options {
                retention_ms: None,
                clock: Clock::fixed(T0 + 24 * 60 * MIN),
                ..Options::default()
            },
        )
        .unwrap(),
    )
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    Labels::from_sorted_any(v).unwrap()
}

/// Appends `f(t)` every 15 s in `[from, to)`.
fn series(s: &Storage, l: &[(&str, &str)], from: i64, to: i64, f: impl Fn(i64) -> f64) {
    let samples = (from..to).step_by(15_000).map(|t| (t, f(t))).collect();
    s.append(vec![SeriesSamples {
        labels: labels(l),
        samples,
    }])
    .unwrap();
}

fn stored(s: &Storage, name: &str) -> Vec<(Labels, Vec<(i64, u64)>)> {
    let m = vec![Matcher::new(MatchOp::Equal, METRIC_NAME, name).unwrap()];
    s.select(&m, i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|d| {
            let pts = d
                .samples
                .into_iter()
                .map(|(t, v)| (t, v.to_bits()))
                .collect();
            (d.labels, pts)
        })
        .collect()
}

/// Records what the group hands to the notifier, with the time.
#[derive(Default)]
struct Recorder(Mutex<Vec<OutgoingAlert>>);

impl AlertSender for Recorder {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        self.0.lock().unwrap().extend(alerts);
    }
}

impl Recorder {
    fn take(&self) -> Vec<OutgoingAlert> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn group(yaml: &str) -> Group {
    let f = parse_str(yaml, "test.yml").unwrap_or_else(|e| panic!("{e}"));
    Group::new(&f.groups[0], Duration::from_secs(60), Duration::ZERO)
}

fn eval(g: &mut Group, s: &Arc<Storage>, rec: &Recorder, ts: i64) {
    let engine = Engine::default();
    let env = GroupEnv {
        engine: &engine,
        store: s.clone() as Arc<dyn Queryable>,
        appender: &**s,
        sender: rec,
        external_labels: &[("site".to_string(), "lab".to_string())],
        external_url: "http://pharos:9090",
        resend_delay_ms: MIN,
        query_log: None,
        clock: &crate::storage::Clock::system(),
    };
    g.eval(ts, &env);
}

fn alert_states(g: &Group) -> Vec<(String, AlertState)> {
    let mut out = Vec::new();
    for r in &g.rules {
        if let RuleImpl::Alerting(a) = &r.kind {
            for al in a.active.values() {
                let inst = al
                    .labels
                    .iter()
                    .find(|(k, _)| k == "instance")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                out.push((inst, al.state));
            }
        }
    }
    out.sort();
    out
}

// ---- rule files ----

#[test]
fn rulefmt_fixtures_match_prometheus() {
    let table = std::fs::read_to_string(testdata("rulefmt/EXPECTATIONS.tsv")).unwrap();
    let mut checked = 0;
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, expected, want) = (cols[0], cols[1], cols.get(2).copied().unwrap_or(""));
        let notes = cols.get(3).copied().unwrap_or("");
        if notes.contains("legacy (non-UTF-8)") {
            // pharos validates names as Prometheus 3 does by default (UTF-8).
            continue;
        }
        let result = file::load_file(&testdata(&format!("rulefmt/{file}")));
        match (expected, result) {
            ("ok", Ok(_)) => {}
            ("ok", Err(e)) => panic!("{file} should load: {e}"),
            ("error", Ok(_)) => panic!("{file} should fail with {want:?}"),
            ("error", Err(e)) => {
                let text = e.to_string();
                assert!(text.contains(want), "{file}: {text:?} lacks {want:?}");
                assert!(
                    text.contains(&format!("{file}:")),
                    "{file}: no file:line in {text}"
                );
            }
            other => panic!("unknown expectation {other:?}"),
        }
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} fixtures checked");
}

#[test]
fn aliases_and_merge_keys_read_as_prometheus() {
    let f = file::load_file(&testdata("rulefmt/test_aliases.yaml")).unwrap();
    let g = &f.groups[0];
    assert_eq!(g.rules[0].name(), "HighAlert");
    assert_eq!(
        g.rules[0].labels.get("severity").map(String::as_str),
        Some("critical")
    );
    assert_eq!(g.rules[1].name(), "new_metric");
    // `<<: *highalert` with `alert: HighAlert2` overriding.
    let merged = &g.rules[3];
    assert_eq!(merged.name(), "HighAlert2");
    assert_eq!(merged.expr, g.rules[0].expr);
    assert_eq!(interval_secs(g), 30);
}

fn interval_secs(g: &file::GroupSpec) -> u64 {
    g.interval.unwrap().as_secs()
}

#[test]
fn promtool_fixtures() {
    assert!(file::load_file(&testdata("promtool/rules.yml")).is_ok());
    let bad = file::load_file(&testdata("promtool/rules-bad.yml"))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("$label"), "{bad}");
    assert!(
        bad.contains("rules-bad.yml:6:"),
        "error should point at the rule: {bad}"
    );
    let syntax = file::load_file(&testdata("promtool/bad-rules-syntax.yml"))
        .unwrap_err()
        .to_string();
    assert!(syntax.contains("could not parse expression"), "{syntax}");
    // Unknown keys are errors (promtool has a flag to ignore them).
    let extra = file::load_file(&testdata("promtool/rules_extrafields.yml"))
        .unwrap_err()
        .to_string();
    assert!(
        extra.contains("namespace") && extra.contains("ownership"),
        "{extra}"
    );
    // Parses, but fails at evaluation (many-to-many).
    assert!(file::load_file(&testdata("promtool/bad-rules-error.yml")).is_ok());
    let large = file::load_file(&testdata("promtool/rules_large.yml")).unwrap();
    assert!(large.groups.iter().map(|g| g.rules.len()).sum::<usize>() > 1000);
}

#[test]
fn every_error_is_reported_at_once() {
    let text = "groups:\n- name: a\n  rules:\n  - record: x\n    expr: 'sum('\n  - alert: y\n    expr: up\n    colour: red\n- name: a\n  rules: []\n";
    let e = parse_str(text, "f.yml").unwrap_err();
    let lines: Vec<String> = e.0.iter().map(|e| e.to_string()).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[1].starts_with("f.yml:8: unknown key \"colour\""),
        "{lines:?}"
    );
    assert!(
        lines[0].starts_with("f.yml:4: group \"a\", rule 1, \"x\": could not parse expression"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("f.yml:9: groupname: \"a\" is repeated in the same file")),
        "{lines:?}"
    );
}

#[test]
fn real_world_rule_sets_load() {
    let mut rules = 0;
    for dir in [
        "awesome-prometheus-alerts/**/*.yml",
        "kube-prometheus/*.yml",
        "node_exporter/*.yml",
    ] {
        let files = pharos_agent::config::expand_glob(&testdata(dir));
        assert!(!files.is_empty(), "{dir}");
        for f in files {
            let loaded = file::load_file(&f).unwrap_or_else(|e| panic!("{e}"));
            rules += loaded.groups.iter().map(|g| g.rules.len()).sum::<usize>();
        }
    }
    // 954 awesome-prometheus-alerts + 233 kube-prometheus + node_exporter's.
    assert!(rules >= 954 + 233, "{rules}");
}

#[test]
fn real_world_rule_sets_evaluate_without_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(dir.path());
    let rec = Recorder::default();
    let mut failures = Vec::new();
    let mut evaluated = 0;
    for pattern in [
        "awesome-prometheus-alerts/**/*.yml",
        "kube-prometheus/*.yml",
        "node_exporter/*.yml",
    ] {
        for f in pharos_agent::config::expand_glob(&testdata(pattern)) {
            for spec in file::load_file(&f).unwrap().groups {
                let mut g = Group::new(&spec, Duration::from_secs(60), Duration::ZERO);
                eval(&mut g, &s, &rec, T0);
                for r in &g.rules {
                    evaluated += 1;
                    if r.health != "ok" {
                        failures.push(format!("{}: {}: {}", f.display(), r.name(), r.last_error));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {evaluated} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn rule_file_globs_reach_subdirectories() {
    let files = load_files(&[testdata("awesome-prometheus-alerts/**/*.yml")]).unwrap();
    assert!(files.len() >= 100, "{}", files.len());
    assert!(
        files.iter().any(|f| f.name.contains("ssl/tls/")),
        "nested directories are searched"
    );
}

// ---- alert timelines ----

const INSTANCE_DOWN: &str = r#"
groups:
- name: g
  rules:
  - alert: InstanceDown
    expr: up == 0
    for: 2m
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.instance }} of {{ $labels.job }} down, value {{ $value }}"
      site: "{{ $externalLabels.site }}"
"#;

#[test]
fn alert_goes_pending_firing_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(dir.path());
    // x is down for six minutes, then up; y is always up.
    series(
        &s,
        &[("__name__", "up"), ("job", "node"), ("instance", "x")],
        T0,
        T0 + 20 * MIN,
        |t| {
            if t < T0 + 6 * MIN {
                0.0
            } else {
                1.0
            }
        },
    );
    series(
        &s,
        &[("__name__", "up"), ("job", "node"), ("instance", "y")],
        T0,
        T0 + 20 * MIN,
        |_| 1.0,
    );
    let mut g = group(INSTANCE_DOWN);
    let rec = Recorder::default();

    eval(&mut g, &s, &rec, T0);
    assert_eq!(alert_states(&g), vec![("x".into(), AlertState::Pending)]);
    assert!(rec.take().is_empty(), "pending alerts are not sent");
    eval(&mut g, &s, &rec, T0 + MIN);
    assert_eq!(alert_states(&g), vec![("x".into(), AlertState::Pending)]);
    assert!(rec.take().is_empty());

    eval(&mut g, &s, &rec, T0 + 2 * MIN);
    assert_eq!(alert_states(&g), vec![("x".into(), AlertState::Firing)]);
    let sent = rec.take();
    assert_eq!(sent.len(), 1);
    let a = &sent[0];
    assert_eq!(
        a.labels,
        vec![
            ("alertname".to_string(), "InstanceDown".to_string()),
            ("instance".into(), "x".into()),
            ("job".into(), "node".into()),
            ("severity".into(), "page".into()),
        ]
    );
    assert_eq!(
        a.annotations,
        vec![
            ("site".to_string(), "lab".to_string()),
            ("summary".into(), "x of node down, value 0".into()),
        ]
    );
    assert_eq!(a.starts_at, T0);
    // Valid for four resend delays (1m, the interval is 1m too).
    assert_eq!(a.ends_at, T0 + 2 * MIN + 4 * MIN);
    assert_eq!(
        a.generator_url,
        "http://pharos:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1"
    );

    // Re-sent once the resend delay has passed.
    eval(&mut g, &s, &rec, T0 + 2 * MIN + 30_000);
    assert!(rec.take().is_empty(), "not re-sent before the resend delay");
    eval(&mut g, &s, &rec, T0 + 3 * MIN);
    assert_eq!(rec.take().len(), 1);

    eval(&mut g, &s, &rec, T0 + 6 * MIN);
    assert_eq!(alert_states(&g), vec![("x".into(), AlertState::Inactive)]);
    let resolved = rec.take();
    assert_eq!(resolved.len(), 1, "the resolution is sent at once");
    assert_eq!(resolved[0].ends_at, T0 + 6 * MIN);
    eval(&mut g, &s, &rec, T0 + 7 * MIN);
    assert!(rec.take().is_empty(), "a resolution is sent once");

    // ALERTS: pending at 0 and 1m, firing from 2m, stale at 6m.
    let alerts = stored(&s, "ALERTS");
    let pending = alerts
        .iter()
        .find(|(l, _)| l.get("alertstate") == Some("pending"))
        .unwrap();
    assert_eq!(
        pending.1,
        vec![
            (T0, 1f64.to_bits()),
            (T0 + MIN, 1f64.to_bits()),
            (T0 + 2 * MIN, STALE)
        ]
    );
    let firing = alerts
        .iter()
        .find(|(l, _)| l.get("alertstate") == Some("firing"))
        .unwrap();
    assert_eq!(firing.1.first(), Some(&(T0 + 2 * MIN, 1f64.to_bits())));
    assert_eq!(firing.1.last(), Some(&(T0 + 6 * MIN, STALE)));
    assert_eq!(firing.0.get("severity"), Some("page"));
    let for_state = stored(&s, "ALERTS_FOR_STATE");
    assert_eq!(for_state.len(), 1);
    assert_eq!(for_state[0].1[0], (T0, ((T0 / 1000) as f64).to_bits()));

    // After the retention a resolved alert is forgotten.
    eval(
        &mut g,
        &s,
        &rec,
        T0 + 6 * MIN + alerting::RESOLVED_RETENTION_MS + MIN,
    );
    assert!(alert_states(&g).is_empty());
}

#[test]
fn pending_alert_that_clears_is_dropped_without_notification() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(dir.path());
    series(
        &s,
        &[("__name__", "up"), ("instance", "x")],
        T0,
        T0 + 5 * MIN,
        |t| {
            if t < T0 + MIN {
                0.0
            } else {
                1.0
            }
        },
    );
    let mut g = group(INSTANCE_DOWN);
    let rec = Recorder::default();
    eval(&mut g, &s, &rec, T0);
    assert_eq!(alert_states(&g).len(), 1);
    eval(&mut g, &s, &rec, T0 + MIN);
    assert!(alert_states(&g).is_empty());
    eval(&mut g, &s, &rec, T0 + 3 * MIN);
    assert!(rec.take().is_empty());
}

#[test]
fn keep_firing_for_holds_an_alert() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(dir.path());
    series(
        &s,
        &[("__name__", "errors"), ("instance", "x")],
        T0,
        T0 + 2 * MIN,
        |_| 5.0,
    );
    series(
        &s,
        &[("__name__", "errors"), ("instance", "x")],
        T0 + 2 * MIN,
        T0 + 10 * MIN,
        |_| 0.0,
    );
    let mut g = group(
        "groups:\n- name: g\n  rules:\n  - alert: Errors\n    expr: errors > 0\n    keep_firing_for: 3m\n",
    );
    let rec = Recorder::default();
    eval(&mut g, &s, &rec, T0);
    assert_eq!(
        alert_states(&g),
        vec![("x".into(), AlertState::Firing)],
        "for 0 fires at once"
    );
    for m in [2, 3, 4] {
        eval(&mut g, &s, &rec, T0 + m * MIN);
        assert_eq!(
            alert_states(&g),
            vec![("x".into(), AlertState::Firing)],
            "held at {m}m"
        );
    }
    eval(&mut g, &s, &rec, T0 + 5 * MIN);
    assert_eq!(
        alert_states(&g),
        vec![("x".into(), AlertState::Inactive)],
        "released after 3m"
    );
}

#[test]
fn alert_limit_and_duplicate_label_sets_fail_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(dir.path());
    for i in ["a", "b", "c"] {
        series(
            &s,
            &[("__name__", "up"), ("instance", i)],
            T0 - MIN,
            T0 + MIN,
            |_| 0.0,
        );
    }
    let mut g =
        group("groups:\n- name: g\n  limit: 2\n  rules:\n  - alert: Down\n    expr: up == 0\n");
    let rec = Recorder::default();
    eval(&mut g, &s, &rec, T0);
    assert_eq!(g.rules[0].health, "err");
    assert_eq!(g.rules[0].last_error, "exceeded limit of 2 with 3 alerts");
    assert!(alert_states(&g).is_empty());

    let mut g = group("groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    labels:\n      instance: same\n");
    eval(&mut g, &s, &rec, T0);
    assert_eq!(g.rules[0].health, "err");
    assert!(g.rules[0]
        .last_error
        .contains("same labelset after applying alert labels"));
}

#[test]
fn template_errors_give_a_message_instead_of_losing_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(dir.path());
    series(
        &s,
        &[("__name__", "up"), ("instance", "x")],
        T0 - MIN,
        T0 + MIN,
        |_| 0.0,
    );
    // Parses, but fails when run: index of a string.
    let mut g = group("groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    annotations:\n      bad: '{{ index $value 1 }}'\n      good: '{{ $value | humanize }} {{ with query \"up\" }}{{ . | first | label \"instance\" }}{{ end }}'\n");
    let rec = Recorder::default();
    eval(&mut g, &s, &rec, T0);
    let sent = rec.take();
    assert_eq!(
        sent.len(),
        1,
        "the alert is sent despite its broken annotation"
    );
    let ann: BTreeMap<_, _> = sent[0].annotations.iter().cloned().collect();
    assert!(
        ann["bad"].starts_with("<error expanding template: "),
        "{}",
        ann["bad"]
    );
    assert_eq!(ann["good"], "0 x");
}

// ---- recording rules ----

#[test]
fn recording_rules_write_results_and_stale_markers() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(dir.path());
    series(
        &s,
        &[("__name__", "req"), ("job", "a"), ("instance", "1")],
        T0 - MIN,
        T0 + 10 * MIN,
        |_| 2.0,
    );
    series(
        &s,
        &[("__name__", "req"), ("job", "a"), ("instance", "2")],
        T0 - MIN,
        T0 + 10 * MIN,
        |_| 3.0,
    );
    series(
        &s,
        &[("__name__", "req"), ("job", "b"), ("instance", "1")],
        T0 - MIN,
        T0 + MIN + 1,
        |_| 7.0,
    );
    let mut g = group(
        "groups:\n- name: g\n  labels:\n    team: core\n  rules:\n  - record: job:req:sum\n    expr: sum by (job) (req)\n    labels:\n      tier: one\n  - record: job:req:double\n    expr: job:req:sum * 2\n",
    );
    let rec = Recorder::default();
    eval(&mut g, &s, &rec, T0);
    eval(&mut g, &s, &rec, T0 + 10 * MIN - 1);
    let sums = stored(&s, "job:req:sum");
    assert_eq!(sums.len(), 2);
    let a = sums
        .iter()
        .find(|(l, _)| l.get("job") == Some("a"))
        .unwrap();
    assert_eq!(a.0.get("tier"), Some("one"));
    assert_eq!(a.0.get("team"), Some("core"));
    assert_eq!(
        a.1,
        vec![(T0, 5f64.to_bits()), (T0 + 10 * MIN - 1, 5f64.to_bits())]
    );
    // job b vanished (its last sample is more than 5m old): a stale marker.
    let b = sums
        .iter()
        .find(|(l, _)| l.get("job") == Some("b"))
        .unwrap();
    assert_eq!(b.1, vec![(T0, 7f64.to_bits()), (T0 + 10 * MIN - 1, STALE)]);
    // The second rule sees what the first wrote in the same evaluation.
    let doubles = stored(&s, "job:req:double");
    let a2 = doubles
        .iter()
        .find(|(l, _)| l.get("job") == Some("a"))
        .unwrap();
    assert_eq!(a2.1[0], (T0, 10f64.to_bits()));
    assert_eq!(g.rules[0].health, "ok");
}

#[test]
fn recording_rule_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s = storage(dir.path());
    series(
        &s,
        &[("__name__", "x"), ("a", "1"), ("b", "1")],
        T0 - MIN,
        T0 + MIN,
        |_| 1.0,
    );
    series(
        &s,
        &[("__name__", "x"), ("a", "1"), ("b", "2")],
        T0 - MIN,
        T0 + MIN,
        |_| 1.0,
    );
    let mut g = group("groups:\n- name: g\n  limit: 1\n  rules:\n  - record: r\n    expr: x\n  - record: r2\n    expr: sum by (a) (x)\n  - record: r3\n    expr: x\n    labels:\n      b: same\n");
    let rec = Recorder::default();
    eval(&mut g, &s, &rec, T0);
    assert_eq!(g.rules[0].last_error, "exceeded limit 1 with 2 series");
    assert_eq!(g.rules[1].health, "ok");
    assert!(g.rules[2]
        .last_error
        .contains("same labelset after applying rule labels"));
    assert!(stored(&s, "r").is_empty(), "a failed rule writes nothing");
}

#[test]
fn evaluation_times_are_spread_on_the_interval_grid() {
    let g = group(INSTANCE_DOWN);
    let t = g.eval_timestamp(T0);
    assert!(t <= T0 && T0 - t < MIN);
    assert_eq!(g.eval_timestamp(t), t);
    assert_eq!(g.eval_timestamp(t + MIN - 1), t);
    assert_eq!(g.eval_timestamp(t + MIN), t + MIN);
}

// ---- the manager: reloads and restarts ----

fn manager(s: &Arc<Storage>, now: i64, sender: Arc<dyn AlertSender>) -> Arc<Manager> {
    Manager::new(ManagerOptions {
        query_log: None,
        engine: Arc::new(Engine::default()),
        storage: Arc::clone(s),
        sender,
        external_url: "http://pharos:9090".into(),
        resend_delay: Duration::from_secs(60),
        outage_tolerance: Duration::from_secs(3600),
        grace_period: Duration::from_secs(60),
        clock: Clock::fixed(now),
    })
}

fn settings(dir: &Path) -> RuleSettings {
    RuleSettings {
        files: vec![dir.join("*.yml")],
        evaluation_interval: Duration::from_secs(3600),
        ..Default::default()
    }
}

const SLOW_ALERT: &str = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 5m\n  - alert: Always\n    expr: vector(1)\n";

#[tokio::test]
async fn restart_neither_refires_nor_forgets() {
    let dir = tempfile::tempdir().unwrap();
    let rules_dir = tempfile::tempdir().unwrap();
    std::fs::write(rules_dir.path().join("r.yml"), SLOW_ALERT).unwrap();
    let s = storage(dir.path());
    series(
        &s,
        &[("__name__", "up"), ("instance", "x")],
        T0 - MIN,
        T0 + 30 * MIN,
        |_| 0.0,
    );

    let rec = Arc::new(Recorder::default());
    let m = manager(&s, T0, rec.clone());
    m.update(settings(rules_dir.path())).await.unwrap();
    m.eval_at(T0);
    m.eval_at(T0 + 30_000);
    assert_eq!(rec.take().len(), 1, "Always fires and is sent once");
    m.stop();

    // Restarted 10 s after the last evaluation.
    let rec2 = Arc::new(Recorder::default());
    let m2 = manager(&s, T0 + 40_000, rec2.clone());
    m2.update(settings(rules_dir.path())).await.unwrap();
    let g = &m2.groups()[0];
    let RuleImpl::Alerting(down) = &g.rules[0].kind else {
        panic!()
    };
    let a = down
        .active
        .values()
        .next()
        .expect("the pending alert is restored");
    assert_eq!(a.state, AlertState::Pending);
    // 4m30s of its 5 minutes remain (more than the grace period): the
    // downtime is added to its start.
    assert_eq!(a.active_at, T0 + 10_000);
    let RuleImpl::Alerting(always) = &g.rules[1].kind else {
        panic!()
    };
    assert_eq!(
        always.active.values().next().unwrap().state,
        AlertState::Firing
    );

    m2.eval_at(T0 + 45_000);
    assert!(
        rec2.take().is_empty(),
        "the firing alert is not sent again after the restart"
    );
    m2.eval_at(T0 + 5 * MIN);
    let RuleImpl::Alerting(down) = &m2.groups()[0].rules[0].kind else {
        panic!()
    };
    assert_eq!(
        down.state(),
        AlertState::Pending,
        "not yet: 5m from the restored start"
    );
    assert_eq!(
        rec2.take().len(),
        1,
        "Always is re-sent after the resend delay"
    );
    m2.eval_at(T0 + 5 * MIN + 10_000);
    let sent = rec2.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].labels[0].1, "Down");
    m2.stop();
}

#[tokio::test]
async fn broken_rule_file_keeps_the_running_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules_dir = tempfile::tempdir().unwrap();
    std::fs::write(rules_dir.path().join("r.yml"), SLOW_ALERT).unwrap();
    let s = storage(dir.path());
    let m = manager(&s, T0, Arc::new(NoSender));
    m.update(settings(rules_dir.path())).await.unwrap();
    m.eval_at(T0);
    std::fs::write(
        rules_dir.path().join("bad.yml"),
        "groups:\n- name: x\n  rules:\n  - record: a\n    expr: 'rate('\n",
    )
    .unwrap();
    let err = m
        .update(settings(rules_dir.path()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.yml:4:"), "{err}");
    assert_eq!(m.groups().len(), 1, "the old group keeps running");
    assert_eq!(m.last_error().as_deref(), Some(err.as_str()));
    let RuleImpl::Alerting(always) = &m.groups()[0].rules[1].kind else {
        panic!()
    };
    assert_eq!(always.active.len(), 1, "its state too");

    // A good edit replaces the group; the unchanged rule keeps its alert.
    std::fs::remove_file(rules_dir.path().join("bad.yml")).unwrap();
    std::fs::write(
        rules_dir.path().join("r.yml"),
        "groups:\n- name: g\n  rules:\n  - alert: Always\n    expr: vector(1)\n  - record: one\n    expr: vector(1)\n",
    )
    .unwrap();
    m.update(settings(rules_dir.path())).await.unwrap();
    let g = &m.groups()[0];
    assert_eq!(g.rules.len(), 2);
    let RuleImpl::Alerting(always) = &g.rules[0].kind else {
        panic!()
    };
    assert_eq!(always.active.len(), 1);
    assert!(m.last_error().is_none());
    m.stop();
}

// ---- pharos test rules ----

/// promtool's own unit-test fixtures and the exit codes promtool gives
/// them (EXPECTATIONS.md of the corpus), minus what needs native
/// histograms.
#[test]
fn promtool_unit_test_fixtures() {
    let run = |file: &str, runs: &[&str]| {
        let res: Vec<regex::Regex> = runs.iter().map(|r| regex::Regex::new(r).unwrap()).collect();
        unittest::run_file(&testdata(&format!("promtool/{file}")), &res)
    };
    for (file, runs, pass) in [
        ("long-period.yml", &[][..], true),
        ("bad-input-series.yml", &[], false),
        ("bad-promql.yml", &[], false),
        ("bad-rules-syntax-test.yml", &[], false),
        ("bad-rules-error-test.yml", &[], false),
        ("failing.yml", &[], false),
        ("negative-offset-test.yml", &[], true),
        ("no-test-group-interval.yml", &[], true),
        ("start-time-test.yml", &[], true),
        ("at-modifier-test.yml", &[], true),
        ("rules_run.yml", &[], false),
        ("rules_run.yml", &["correct", "wrong"], false),
        ("rules_run.yml", &["correct"], true),
        ("rules_run.yml", &["wrong"], false),
        ("rules_run_no_fuzzy.yml", &[], false),
        ("rules_run_fuzzy.yml", &["correct"], true),
        ("rules_run_fuzzy.yml", &["wrong"], false),
    ] {
        let r = run(file, runs);
        assert_eq!(r.is_ok(), pass, "{file} {runs:?}: {r:?}");
    }
    // unittest.yml passes except for its native-histogram series.
    let e = run("unittest.yml", &[]).unwrap_err().join("\n");
    assert!(e.contains("native histograms are not supported"), "{e}");
    assert_eq!(
        e.matches("  group ").count(),
        1,
        "only the histogram group fails: {e}"
    );
}

#[test]
fn unit_test_failures_say_what_differs() {
    let e = unittest::run_file(&testdata("promtool/failing.yml"), &[])
        .unwrap_err()
        .join("\n");
    assert!(e.contains("Failing test:"), "{e}");
    assert!(e.contains("expr: \"test\", time: 0s,"), "{e}");
    assert!(e.contains("alertname: Test, time: 0s"), "{e}");
}
