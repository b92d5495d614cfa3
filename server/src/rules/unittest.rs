//! `pharos test rules`: promtool's rule unit-test files. Each test group
//! loads its `input_series` (series notation) into a scratch store,
//! evaluates every rule group at every `evaluation_interval` from the
//! start to the last `eval_time`, compares the firing alerts of each
//! `alert_rule_test` at its time, then runs each `promql_expr_test` on
//! what the rules wrote. Semantics and messages follow promtool's
//! (`cmd/promtool/unittest.go`); native histograms are not supported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pharos_agent::config::decode::{self, Ctx, MapReader};
use pharos_agent::config::yaml::{self, Node};

use super::group::{Group, GroupEnv, RuleImpl};
use crate::alert_sender::NoSender;
use crate::promql::notation::{parse_series, SeqValue};
use crate::promql::{Engine, EngineOptions};
use crate::storage::{Appender, Labels, Options, Queryable, SeriesSamples, Storage};

/// A unit-test file.
#[derive(Debug, Default)]
struct TestFile {
    rule_files: Vec<PathBuf>,
    evaluation_interval: Duration,
    fuzzy_compare: bool,
    group_eval_order: Vec<String>,
    tests: Vec<TestGroup>,
}

#[derive(Debug, Default)]
struct TestGroup {
    name: String,
    interval: Option<Duration>,
    start_ms: i64,
    input_series: Vec<(String, String, usize)>,
    alert_tests: Vec<AlertTest>,
    expr_tests: Vec<ExprTest>,
    external_labels: Vec<(String, String)>,
    external_url: String,
}

#[derive(Debug)]
struct AlertTest {
    eval_ms: i64,
    alertname: String,
    /// (labels without alertname, annotations)
    exp: Vec<(BTreeMap<String, String>, BTreeMap<String, String>)>,
}

#[derive(Debug)]
struct ExprTest {
    expr: String,
    eval_ms: i64,
    /// (labels in series notation, value); `None` value: a histogram.
    exp: Vec<(String, Option<f64>)>,
    line: usize,
}

fn read_file(path: &Path) -> Result<TestFile, Vec<String>> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| vec![format!("{name}: {e}")])?;
    let base = path.parent().unwrap_or(Path::new(""));
    let mut ctx = Ctx::new(&name, base);
    let root = match yaml::parse(&text) {
        Ok((root, _)) => root,
        Err(i) => return Err(vec![format!("{name}:{}: {}", i.line, i.message)]),
    };
    let mut f = TestFile {
        evaluation_interval: Duration::from_secs(60),
        ..Default::default()
    };
    if let Some(root) = &root {
        if let Some(mut m) = MapReader::open(&mut ctx, root, "unit test file", "main.unitTestFile")
        {
            f.rule_files = m
                .strings(&mut ctx, "rule_files")
                .iter()
                .map(|p| ctx.path(p))
                .collect();
            if let Some(d) = m.duration(&mut ctx, "evaluation_interval") {
                f.evaluation_interval = d;
            }
            f.fuzzy_compare = m.bool(&mut ctx, "fuzzy_compare").unwrap_or(false);
            f.group_eval_order = m.strings(&mut ctx, "group_eval_order");
            if let Some(tests) = m.value("tests") {
                for t in decode::seq(&mut ctx, tests, "tests") {
                    if let Some(g) = read_group(&mut ctx, t) {
                        f.tests.push(g);
                    }
                }
            }
            m.finish(&mut ctx);
        }
    }
    if ctx.errors.is_empty() {
        Ok(f)
    } else {
        Err(ctx.errors.iter().map(|e| e.to_string()).collect())
    }
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

fn read_group(ctx: &mut Ctx, n: &Node) -> Option<TestGroup> {
    let mut m = MapReader::open(ctx, n, "test group", "main.testGroup")?;
    let mut g = TestGroup {
        name: m.string(ctx, "name").unwrap_or_default(),
        interval: m.duration(ctx, "interval"),
        external_labels: m.string_map(ctx, "external_labels").into_iter().collect(),
        external_url: m.string(ctx, "external_url").unwrap_or_default(),
        ..Default::default()
    };
    if let Some(s) = m.string(ctx, "start_timestamp") {
        g.start_ms = match s.parse::<i64>() {
            Ok(secs) => secs * 1000,
            Err(_) => match chrono::DateTime::parse_from_rfc3339(&s) {
                Ok(t) => t.timestamp_millis(),
                Err(_) => {
                    ctx.err(
                        m.key_line("start_timestamp"),
                        format!("start_timestamp: {s:?} is neither a Unix time nor RFC 3339"),
                    );
                    0
                }
            },
        };
    }
    if let Some(series) = m.value("input_series") {
        for s in decode::seq(ctx, series, "input_series") {
            let Some(mut sm) = MapReader::open(ctx, s, "input series", "main.series") else {
                continue;
            };
            let series = sm.string(ctx, "series").unwrap_or_default();
            let values = sm.string(ctx, "values").unwrap_or_default();
            sm.finish(ctx);
            g.input_series.push((series, values, s.line));
        }
    }
    if let Some(tests) = m.value("alert_rule_test") {
        for t in decode::seq(ctx, tests, "alert_rule_test") {
            let Some(mut tm) = MapReader::open(ctx, t, "alert test", "main.alertTestCase") else {
                continue;
            };
            let eval_ms = tm.duration(ctx, "eval_time").map(ms).unwrap_or(0);
            let alertname = tm.string(ctx, "alertname").unwrap_or_default();
            let mut exp = Vec::new();
            if let Some(alerts) = tm.value("exp_alerts") {
                for a in decode::seq(ctx, alerts, "exp_alerts") {
                    let Some(mut am) = MapReader::open(ctx, a, "expected alert", "main.alert")
                    else {
                        continue;
                    };
                    exp.push((
                        am.string_map(ctx, "exp_labels"),
                        am.string_map(ctx, "exp_annotations"),
                    ));
                    am.finish(ctx);
                }
            }
            tm.finish(ctx);
            g.alert_tests.push(AlertTest {
                eval_ms,
                alertname,
                exp,
            });
        }
    }
    if let Some(tests) = m.value("promql_expr_test") {
        for t in decode::seq(ctx, tests, "promql_expr_test") {
            let Some(mut tm) = MapReader::open(ctx, t, "PromQL test", "main.promqlTestCase") else {
                continue;
            };
            let expr = tm.string(ctx, "expr").unwrap_or_default();
            let eval_ms = tm.duration(ctx, "eval_time").map(ms).unwrap_or(0);
            let mut exp = Vec::new();
            if let Some(samples) = tm.value("exp_samples") {
                for s in decode::seq(ctx, samples, "exp_samples") {
                    let Some(mut sm) = MapReader::open(ctx, s, "expected sample", "main.sample")
                    else {
                        continue;
                    };
                    let labels = sm.string(ctx, "labels").unwrap_or_default();
                    let value = sm.f64(ctx, "value");
                    let histogram = sm.string(ctx, "histogram");
                    sm.finish(ctx);
                    exp.push((
                        labels,
                        if histogram.is_some() {
                            None
                        } else {
                            Some(value.unwrap_or(0.0))
                        },
                    ));
                }
            }
            tm.finish(ctx);
            g.expr_tests.push(ExprTest {
                expr,
                eval_ms,
                exp,
                line: t.line,
            });
        }
    }
    m.finish(ctx);
    Some(g)
}

/// Runs one unit-test file; `Ok(())` when every test passes, else every
/// failure, worded as promtool's. With `run` patterns, only test groups
/// whose name one of them matches run (promtool's `--run`).
pub fn run_file(path: &Path, run: &[regex::Regex]) -> Result<(), Vec<String>> {
    let f = read_file(path)?;
    let files = super::load_files(&f.rule_files).map_err(|e| e.0)?;
    let mut errors = Vec::new();
    for (i, tg) in f.tests.iter().enumerate() {
        if !run.is_empty() && !run.iter().any(|r| r.is_match(&tg.name)) {
            continue;
        }
        if let Err(mut e) = run_group(&f, &files, tg, i) {
            errors.append(&mut e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A scratch store for one test group, removed when dropped.
struct Scratch {
    storage: Arc<Storage>,
    dir: PathBuf,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn scratch() -> Result<Scratch, String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "pharos-test-rules-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let storage = Storage::open(
        &dir,
        Options {
            retention_ms: None,
            sync_full: false,
            // Test series may lie centuries ahead (promtool's own tests go
            // to 2262); the store must not refuse them as future samples.
            clock: crate::storage::Clock::fixed(i64::MAX / 4),
            ..Options::default()
        },
    )
    .map_err(|e| format!("opening a scratch store in {}: {e}", dir.display()))?;
    Ok(Scratch {
        storage: Arc::new(storage),
        dir,
    })
}

fn run_group(
    f: &TestFile,
    files: &[super::file::RuleFile],
    tg: &TestGroup,
    index: usize,
) -> Result<(), Vec<String>> {
    let label = if tg.name.is_empty() {
        format!("group {index}")
    } else {
        tg.name.clone()
    };
    let fail = |msg: String| vec![format!("  {label}:\n    {msg}")];
    let eval_ms = ms(f.evaluation_interval).max(1);
    let interval_ms = tg.interval.map(ms).unwrap_or(eval_ms).max(1);
    let s = scratch().map_err(fail)?;
    let store = &s.storage;

    let mut batch = Vec::new();
    for (series, values, line) in &tg.input_series {
        let desc = parse_series(&format!("{series} {values}"))
            .map_err(|e| fail(format!("input_series at line {line}: {e}")))?;
        let labels =
            Labels::from_sorted_any(desc.labels.iter().map(|(a, b)| (a.as_str(), b.as_str())))
                .map_err(|e| fail(format!("input_series at line {line}: {e}")))?;
        let mut samples = Vec::new();
        for (k, v) in desc.values.iter().enumerate() {
            match v {
                SeqValue::Omitted => {}
                SeqValue::Float(x) => samples.push((tg.start_ms + k as i64 * interval_ms, *x)),
                SeqValue::Histogram => {
                    return Err(fail(format!(
                    "input_series at line {line}: native histograms are not supported by pharos"
                )))
                }
            }
        }
        batch.push(SeriesSamples { labels, samples });
    }
    store.append(batch).map_err(|e| fail(e.to_string()))?;

    // Groups: those named in group_eval_order first, in that order.
    let mut groups: Vec<Group> = files
        .iter()
        .flat_map(|f| f.groups.iter())
        .map(|g| Group::new(g, f.evaluation_interval, Duration::ZERO))
        .collect();
    groups.sort_by_key(|g| {
        f.group_eval_order
            .iter()
            .position(|n| *n == g.name)
            .unwrap_or(usize::MAX)
    });
    let engine = Engine::new(EngineOptions {
        default_subquery_step_ms: eval_ms,
        ..Default::default()
    });
    let mut alert_times: Vec<i64> = tg.alert_tests.iter().map(|t| t.eval_ms).collect();
    alert_times.sort();
    alert_times.dedup();
    let max_t = alert_times
        .iter()
        .chain(tg.expr_tests.iter().map(|t| &t.eval_ms))
        .copied()
        .max()
        .unwrap_or(0);
    let mut errors = Vec::new();
    let mut next_alert = 0;
    let env = GroupEnv {
        engine: &engine,
        store: Arc::clone(store) as Arc<dyn Queryable>,
        appender: &**store as &dyn Appender,
        sender: &NoSender,
        external_labels: &tg.external_labels,
        external_url: &tg.external_url,
        resend_delay_ms: 60_000,
        query_log: None,
        clock: &crate::storage::Clock::system(),
    };
    let mut ts = 0;
    while ts <= max_t {
        for g in &mut groups {
            g.eval(tg.start_ms + ts, &env);
            for r in g.rules.iter().filter(|r| r.health == "err") {
                errors.push(format!(
                    "    rule: {}, time: {}, err: {}",
                    r.name(),
                    pharos_agent::scrape::target::format_duration(Duration::from_millis(
                        ts.max(0) as u64
                    )),
                    r.last_error
                ));
            }
        }
        // Alerts tested at `t` are compared with the evaluation at the
        // last tick at or before `t`, as promtool does.
        while next_alert < alert_times.len()
            && ts <= alert_times[next_alert]
            && alert_times[next_alert] < ts + eval_ms
        {
            let t = alert_times[next_alert];
            for test in tg.alert_tests.iter().filter(|a| a.eval_ms == t) {
                if let Some(e) = check_alerts(&groups, test) {
                    errors.push(e);
                }
            }
            next_alert += 1;
        }
        ts += eval_ms;
    }
    for test in &tg.expr_tests {
        if let Some(e) = check_expr(&engine, &**store, tg.start_ms, test, f.fuzzy_compare) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(vec![format!("  {label}:\n{}", errors.join("\n"))])
    }
}

type LabelsAndAnnotations = Vec<(BTreeMap<String, String>, BTreeMap<String, String>)>;

fn show(list: &LabelsAndAnnotations) -> String {
    let items: Vec<String> = list
        .iter()
        .enumerate()
        .map(|(i, (l, a))| {
            let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            let a: Vec<String> = a.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!(
                "{i}:\n           Labels:{{{}}}\n           Annotations:{{{}}}",
                l.join(", "),
                a.join(", ")
            )
        })
        .collect();
    format!("[\n        {}\n        ]", items.join("\n        "))
}

fn check_alerts(groups: &[Group], test: &AlertTest) -> Option<String> {
    let mut got: LabelsAndAnnotations = Vec::new();
    for g in groups {
        for r in &g.rules {
            let RuleImpl::Alerting(a) = &r.kind else {
                continue;
            };
            if a.name != test.alertname {
                continue;
            }
            for al in a.active.values() {
                if al.state == super::AlertState::Firing {
                    got.push((
                        al.labels.iter().cloned().collect(),
                        al.annotations.iter().cloned().collect(),
                    ));
                }
            }
        }
    }
    let mut exp: LabelsAndAnnotations = test
        .exp
        .iter()
        .map(|(l, a)| {
            let mut l = l.clone();
            l.insert("alertname".into(), test.alertname.clone());
            (l, a.clone())
        })
        .collect();
    got.sort();
    exp.sort();
    if got == exp {
        return None;
    }
    Some(format!(
        "    alertname: {}, time: {}, \n        exp:{},\n        got:{}",
        test.alertname,
        pharos_agent::scrape::target::format_duration(Duration::from_millis(
            test.eval_ms.max(0) as u64
        )),
        show(&exp),
        show(&got)
    ))
}

fn close(a: f64, b: f64, fuzzy: bool) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    // Fuzzy: the last bit of the mantissa may differ.
    fuzzy && a.is_finite() && b.is_finite() && (a.to_bits() as i64 - b.to_bits() as i64).abs() <= 1
}

fn check_expr(
    engine: &Engine,
    store: &dyn Queryable,
    start: i64,
    t: &ExprTest,
    fuzzy: bool,
) -> Option<String> {
    let when = pharos_agent::scrape::target::format_duration(Duration::from_millis(
        t.eval_ms.max(0) as u64,
    ));
    let head = format!("    expr: {:?}, time: {when},", t.expr);
    let got = match super::group::instant_vector(engine, store, &t.expr, start + t.eval_ms) {
        Ok(v) => v,
        Err(e) => return Some(format!("{head} err: {e}")),
    };
    let mut exp = Vec::new();
    for (labels, v) in &t.exp {
        let Some(v) = v else {
            return Some(format!(
                "{head} native histograms are not supported by pharos (line {})",
                t.line
            ));
        };
        let l = if labels.trim().is_empty() {
            Labels::default()
        } else {
            match parse_series(labels) {
                Ok(d) => {
                    Labels::from_sorted_any(d.labels.iter().map(|(a, b)| (a.as_str(), b.as_str())))
                        .unwrap_or_default()
                }
                Err(e) => {
                    return Some(format!(
                        "{head} exp_samples: could not parse labels {labels:?}: {e}"
                    ))
                }
            }
        };
        exp.push((l, *v));
    }
    let mut got = got;
    got.sort_by(|a, b| a.0.cmp(&b.0));
    exp.sort_by(|a, b| a.0.cmp(&b.0));
    let same = got.len() == exp.len()
        && got
            .iter()
            .zip(&exp)
            .all(|(g, e)| g.0 == e.0 && close(g.1, e.1, fuzzy));
    if same {
        return None;
    }
    let fmt = |v: &[(Labels, f64)]| {
        let items: Vec<String> = v.iter().map(|(l, x)| format!("{l} {x}")).collect();
        format!("[{}]", items.join(", "))
    };
    Some(format!(
        "{head}\n        exp: {}\n        got: {}",
        fmt(&exp),
        fmt(&got)
    ))
}
