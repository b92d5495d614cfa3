//! PromQL conformance: runs Prometheus's own engine tests (the `promqltest`
//! scripts of v2.53.5 and v3.5.5 in `tests/testdata/promql/`, see
//! `SOURCES.md` there) against pharos's engine.
//!
//! Flow: [`script`] parses a file into `load`/`clear`/`eval` commands;
//! loads go into a [`MemStore`] (an in-memory `Queryable`); each
//! eval runs through `pharos::promql::Engine` and [`check`] judges it the
//! way Prometheus's runner does. Each file runs on its own thread; the
//! results are matched against `tests/testdata/promql/skip.txt`, the evals
//! known not to pass (`<version>/<file>:<line> <reason>`).
//!
//! The test fails when an eval not on the skip list fails, when a listed
//! eval passes (the list may only shrink: remove the line), and when a
//! listed line is no eval at all. It prints a table per version (file,
//! evals, passed, skipped, failed) to stderr and writes every failure, the
//! skipped ones included, to `promqltest-report.txt` under Cargo's
//! `CARGO_TARGET_TMPDIR`.
//!
//! ```text
//! cargo test -p pharos --test promqltest
//! PROMQLTEST_FILTER=v3.5.5/functions cargo test -p pharos --test promqltest   # only matching files
//! PROMQLTEST_WRITE_SKIPS=1 cargo test -p pharos --test promqltest             # rewrite skip.txt
//! ```
//!
//! `PROMQLTEST_WRITE_SKIPS=1` lists every currently failing eval of the
//! files that ran (entries of other files are kept). A failing eval keeps a
//! category reason it already had (`native histograms`, `load_with_nhcb`,
//! …) or gets one when the runner recognises it (the eval expects or reads
//! native histograms, reads a `load_with_nhcb` histogram, or is a duration
//! expression the parser refuses); the rest get `fails: <kind>: <error>`.
//!
//! Engine settings are those of Prometheus's test engine: lookback 5m,
//! subquery step 1m when none is given, 10 000 samples per query, 100 s
//! timeout; v2.53.5 files also get Prometheus 2's closed windows, legacy
//! label names and `sort_by_label` ties. As Prometheus's runner does,
//! every passing instant eval is run again as a range query from a minute
//! before to a minute after its time ("range mode", [`check`]): the
//! engine evaluates all steps of a range at once, so this checks that the
//! step at the eval time agrees. Also as Prometheus's runner does, each
//! passing instant eval is run with `@ <eval time>` added to every
//! selector and subquery, at other evaluation times ("@ variants"): the
//! answer must not move.
//!
//! What is and is not checked: results as Prometheus 3.5's `compareResult`
//! does (full label sets, 1e-6 relative tolerance, exact range timestamps);
//! `eval_fail` needs an error, and a different error text than the file's
//! `expected_fail_message` counts as a failure of kind "wrong message"
//! (column `wrong-msg`); annotations only where the file asks (`eval_warn`,
//! `eval_info`, `expect …`), as in 3.5 — 2.53's files expect plain results
//! from queries that warn. Native histogram samples are not loaded (the
//! `Queryable` holds floats), so evals that need them fail.

#[path = "promqltest/check.rs"]
mod check;
#[path = "promqltest/script.rs"]
mod script;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Once;
use std::time::{Duration, Instant};

use pharos::promql::{Engine, EngineOptions};
use pharos::storage::Labels;
use promql_parser::label::Matcher as PMatcher;
use promql_parser::parser::{Expr, VectorSelector};

use check::{FailKind, Failure};
use pharos::storage::mem::MemStore;
use script::{Command, Eval, LabelPairs, SeqValue};

/// An eval still running after this long is reported as hung, and the rest
/// of its file is abandoned (the engine's own timeout is 100 s).
const HANG_AFTER: Duration = Duration::from_secs(180);

/// How many unexpected failures are printed in full; the report has all.
const PRINT_LIMIT: usize = 60;

/// The category reasons `PROMQLTEST_WRITE_SKIPS` assigns by itself.
const CAT_HISTOGRAMS: &str = "native histograms";
const CAT_NHCB: &str = "load_with_nhcb";
const CAT_DURATION: &str = "duration expressions: parser";

/// A Prometheus release whose test files we run, with its engine settings.
#[derive(Clone)]
struct Version {
    name: &'static str,
    opts: EngineOptions,
}

fn versions() -> Vec<Version> {
    // Prometheus's test engine (promqltest.NewTestEngine).
    let base = EngineOptions {
        lookback_ms: 5 * 60 * 1000,
        max_samples: 10_000,
        timeout: Duration::from_secs(100),
        default_subquery_step_ms: 60 * 1000,
        ..Default::default()
    };
    vec![
        Version {
            name: "v2.53.5",
            opts: EngineOptions {
                closed_windows: true,
                legacy_label_names: true,
                sort_by_label_v2: true,
                ..base.clone()
            },
        },
        Version {
            name: "v3.5.5",
            // Prometheus's test engine turns delayed name removal on.
            opts: EngineOptions {
                delayed_name_removal: true,
                ..base
            },
        },
    ]
}

/// The outcome of one eval.
struct EvalResult {
    line: usize,
    expr: String,
    failure: Option<Failure>,
    /// A category reason the runner recognised (for failing evals).
    category: Option<&'static str>,
}

/// What a file's worker thread reports.
enum Msg {
    Started(usize, usize),
    Done(usize, EvalResult),
    FileError(usize, String),
    End(usize),
}

thread_local! {
    /// The last panic on this worker thread, recorded by the hook.
    static PANIC_MESSAGE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The message and location of the last engine panic on this thread.
pub fn take_panic_message() -> Option<String> {
    PANIC_MESSAGE.with(|m| m.borrow_mut().take())
}

/// Keeps engine panics on worker threads out of the output (they become
/// eval failures); other threads keep the default hook.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let worker = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("promqltest:"));
            if !worker {
                return previous(info);
            }
            let payload = info.payload();
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(non-text panic)".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()));
            PANIC_MESSAGE
                .with(|m| *m.borrow_mut() = Some(format!("{text}{}", at.unwrap_or_default())));
        }));
    });
}

/// Runs one file on the current thread, reporting through `tx`.
fn run_file(version: &Version, idx: usize, rel: &str, text: &str, tx: &mpsc::Sender<Msg>) {
    let cmds = match script::parse(text) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Msg::FileError(idx, format!("cannot parse test file: {e}")));
            return;
        }
    };
    let engine = Engine::new(version.opts.clone());
    let mut store = MemStore::new();
    // Series loaded with histogram samples (not stored: the engine reads
    // floats only), and the histograms `load_with_nhcb` would have made;
    // a failing eval that reads them is put in a histogram category.
    let mut hist_series: HashSet<LabelPairs> = HashSet::new();
    let mut nhcb_series: HashSet<LabelPairs> = HashSet::new();
    for cmd in cmds {
        match cmd {
            Command::Clear => {
                store.clear();
                hist_series.clear();
                nhcb_series.clear();
            }
            Command::Load(load) => {
                for s in &load.series {
                    let name = s
                        .labels
                        .iter()
                        .find(|(n, _)| n == "__name__")
                        .map_or("", |(_, v)| v.as_str());
                    let mut samples = Vec::with_capacity(s.values.len());
                    for (i, v) in s.values.iter().enumerate() {
                        match v {
                            SeqValue::Float(f) => samples.push((i as i64 * load.step_ms, *f)),
                            SeqValue::Histogram => {
                                hist_series.insert(s.labels.clone());
                            }
                            SeqValue::Omitted => {}
                        }
                    }
                    if load.with_nhcb {
                        for suffix in ["_bucket", "_count", "_sum"] {
                            if let Some(base) = name.strip_suffix(suffix) {
                                let mut l: LabelPairs = s
                                    .labels
                                    .iter()
                                    .filter(|(n, _)| n != "le" && n != "__name__")
                                    .cloned()
                                    .collect();
                                l.push(("__name__".into(), base.into()));
                                l.sort();
                                nhcb_series.insert(l);
                            }
                        }
                    }
                    let labels = match Labels::from_sorted(s.labels.iter().map(|(n, v)| (n, v))) {
                        Ok(l) => l,
                        Err(e) => {
                            let msg =
                                format!("load at line {}: series {:?}: {e}", load.line, s.labels);
                            let _ = tx.send(Msg::FileError(idx, msg));
                            return;
                        }
                    };
                    store.add(labels, &samples);
                }
            }
            Command::Eval(ev) => {
                let _ = tx.send(Msg::Started(idx, ev.line));
                let failure = check::run_eval(&engine, &store, &ev).err();
                let category = failure
                    .as_ref()
                    .and_then(|f| category(&ev, f, rel, &hist_series, &nhcb_series));
                let _ = tx.send(Msg::Done(
                    idx,
                    EvalResult {
                        line: ev.line,
                        expr: ev.expr.clone(),
                        failure,
                        category,
                    },
                ));
            }
        }
    }
    let _ = tx.send(Msg::End(idx));
}

/// The category of a failing eval, when it is one the runner can tell.
fn category(
    ev: &Eval,
    f: &Failure,
    rel: &str,
    hist: &HashSet<LabelPairs>,
    nhcb: &HashSet<LabelPairs>,
) -> Option<&'static str> {
    let selectors = selectors(&ev.expr);
    let reads = |set: &HashSet<LabelPairs>| match &selectors {
        Some(sels) => set.iter().any(|l| sels.iter().any(|s| selects(s, l))),
        // Unparseable: any word of the query that names such a metric.
        None => set.iter().any(|l| {
            let name = l
                .iter()
                .find(|(n, _)| n == "__name__")
                .map(|(_, v)| v.as_str());
            identifiers(&ev.expr).any(|w| Some(w) == name)
        }),
    };
    if reads(nhcb) {
        return Some(CAT_NHCB);
    }
    if f.kind == FailKind::Histogram || ev.expects_histogram() || reads(hist) {
        return Some(CAT_HISTOGRAMS);
    }
    if rel.ends_with("/duration_expression.test") && f.kind == FailKind::Parse {
        return Some(CAT_DURATION);
    }
    None
}

/// The vector selectors of a query, or `None` when it does not parse.
fn selectors(expr: &str) -> Option<Vec<VectorSelector>> {
    fn walk(e: &Expr, out: &mut Vec<VectorSelector>) {
        match e {
            Expr::VectorSelector(vs) => out.push(vs.clone()),
            Expr::MatrixSelector(ms) => out.push(ms.vs.clone()),
            Expr::Aggregate(a) => {
                walk(&a.expr, out);
                if let Some(p) = &a.param {
                    walk(p, out);
                }
            }
            Expr::Unary(u) => walk(&u.expr, out),
            Expr::Binary(b) => {
                walk(&b.lhs, out);
                walk(&b.rhs, out);
            }
            Expr::Paren(p) => walk(&p.expr, out),
            Expr::Subquery(s) => walk(&s.expr, out),
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, out)),
            _ => {}
        }
    }
    let e = pharos::promql::prepare::parse(expr).ok()?;
    let mut out = Vec::new();
    walk(&e, &mut out);
    Some(out)
}

/// Whether a selector picks a series with these labels.
fn selects(vs: &VectorSelector, labels: &LabelPairs) -> bool {
    let get = |n: &str| {
        labels
            .iter()
            .find(|(k, _)| k == n)
            .map_or("", |(_, v)| v.as_str())
    };
    if vs.name.as_deref().is_some_and(|n| n != get("__name__")) {
        return false;
    }
    let all = |ms: &[PMatcher]| ms.iter().all(|m| m.is_match(get(&m.name)));
    all(&vs.matchers.matchers)
        && (vs.matchers.or_matchers.is_empty() || vs.matchers.or_matchers.iter().any(|g| all(g)))
}

/// The words of a query that could be metric names.
fn identifiers(q: &str) -> impl Iterator<Item = &str> {
    q.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|w| !w.is_empty())
}

/// `skip.txt`: key (`v3.5.5/functions.test:123`) → reason.
struct SkipList {
    path: PathBuf,
    entries: HashMap<String, String>,
}

impl SkipList {
    fn read(path: &Path) -> SkipList {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut entries = HashMap::new();
        for l in text.lines() {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (key, reason) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            entries.insert(key.to_string(), reason.trim().to_string());
        }
        SkipList {
            path: path.to_path_buf(),
            entries,
        }
    }

    fn write(&self, entries: &HashMap<String, String>) {
        let mut keys: Vec<&String> = entries.keys().collect();
        keys.sort_by_key(|k| sort_key(k));
        let mut out = String::from(
            "# Evals of the promqltest files that pharos does not pass yet, one a line:\n\
             #   <version>/<file>:<line of the eval> <reason>\n\
             # server/tests/promqltest.rs fails when an eval not listed here fails and when a\n\
             # listed eval passes (then remove its line). Regenerate with\n\
             #   PROMQLTEST_WRITE_SKIPS=1 cargo test -p pharos --test promqltest\n\
             # which keeps category reasons and writes `fails: <kind>: <error>` for the rest.\n",
        );
        for k in keys {
            let _ = writeln!(out, "{k} {}", entries[k]);
        }
        std::fs::write(&self.path, out).expect("writing skip.txt");
    }
}

/// Orders keys by file, then numerically by line.
fn sort_key(k: &str) -> (String, usize) {
    match k.rsplit_once(':') {
        Some((f, l)) => (f.to_string(), l.parse().unwrap_or(0)),
        None => (k.to_string(), 0),
    }
}

/// The first line of a message, at most `n` characters.
fn short(s: &str, n: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() <= n {
        line.to_string()
    } else {
        let cut: String = line.chars().take(n).collect();
        format!("{cut}…")
    }
}

/// One file's run, as collected from its worker.
struct FileRun {
    version: &'static str,
    file: String,
    results: Vec<EvalResult>,
    error: Option<String>,
    running: Option<(usize, Instant)>,
    done: bool,
}

impl FileRun {
    fn rel(&self) -> String {
        format!("{}/{}", self.version, self.file)
    }
}

#[test]
fn promqltest() {
    install_panic_hook();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/promql");
    let filter = std::env::var("PROMQLTEST_FILTER")
        .ok()
        .filter(|f| !f.is_empty());
    let write_skips = std::env::var("PROMQLTEST_WRITE_SKIPS").is_ok_and(|v| v == "1");
    let skips = SkipList::read(&root.join("skip.txt"));
    let versions = versions();

    let mut jobs: Vec<(usize, PathBuf, String)> = Vec::new();
    for (vi, v) in versions.iter().enumerate() {
        let dir = root.join(v.name);
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".test"))
            .collect();
        names.sort();
        for n in names {
            let rel = format!("{}/{n}", v.name);
            if filter.as_deref().is_none_or(|f| rel.contains(f)) {
                jobs.push((vi, dir.join(&n), n));
            }
        }
    }
    assert!(
        !jobs.is_empty(),
        "no test file matches PROMQLTEST_FILTER={filter:?}"
    );

    let (tx, rx) = mpsc::channel::<Msg>();
    let mut runs: Vec<FileRun> = Vec::new();
    for (idx, (vi, path, name)) in jobs.iter().enumerate() {
        let version = versions[*vi].clone();
        runs.push(FileRun {
            version: version.name,
            file: name.clone(),
            results: Vec::new(),
            error: None,
            running: None,
            done: false,
        });
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let rel = format!("{}/{name}", version.name);
        let tx = tx.clone();
        // Detached, not scoped: a hung eval must not keep the test from
        // reporting.
        std::thread::Builder::new()
            .name(format!("promqltest:{rel}"))
            // Deeply nested queries recurse in the evaluator.
            .stack_size(64 << 20)
            .spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    run_file(&version, idx, &rel, &text, &tx)
                }));
                if r.is_err() {
                    let msg = take_panic_message().unwrap_or_else(|| "unknown".into());
                    let _ = tx.send(Msg::FileError(idx, format!("runner panicked: {msg}")));
                }
            })
            .expect("spawning a worker thread");
    }
    drop(tx);
    collect(&rx, &mut runs);
    report(&runs, &skips, write_skips, filter.as_deref());
}

/// Gathers worker messages until every file ended, failed or hung.
fn collect(rx: &mpsc::Receiver<Msg>, runs: &mut [FileRun]) {
    while runs.iter().any(|r| !r.done) {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(Msg::Started(i, line)) => runs[i].running = Some((line, Instant::now())),
            Ok(Msg::Done(i, res)) => {
                runs[i].running = None;
                if !runs[i].done {
                    runs[i].results.push(res);
                }
            }
            Ok(Msg::FileError(i, e)) => {
                if !runs[i].done {
                    runs[i].error = Some(e);
                    runs[i].done = true;
                }
            }
            Ok(Msg::End(i)) => runs[i].done = true,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                for r in runs.iter_mut().filter(|r| !r.done) {
                    if let Some((line, since)) = r.running {
                        if since.elapsed() > HANG_AFTER {
                            r.error = Some(format!(
                                "eval at line {line} did not finish in {} s; rest of the file not run",
                                HANG_AFTER.as_secs()
                            ));
                            r.done = true;
                        }
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                for r in runs.iter_mut().filter(|r| !r.done) {
                    r.error = Some("worker ended without finishing".into());
                    r.done = true;
                }
            }
        }
    }
}

/// Prints the tables, writes the report (and skip.txt when asked), and
/// fails the test when the results disagree with the skip list.
fn report(runs: &[FileRun], skips: &SkipList, write_skips: bool, filter: Option<&str>) {
    let mut out = String::new();
    let mut report = String::new();
    let mut unexpected: Vec<String> = Vec::new();
    let mut now_passes: Vec<String> = Vec::new();
    let mut file_errors: Vec<String> = Vec::new();
    let mut new_skips: HashMap<String, String> = HashMap::new();
    let ran: HashSet<String> = runs.iter().map(|r| r.rel()).collect();

    let mut current_version = "";
    let mut totals = [0usize; 6];
    let header = format!(
        "{:<28} {:>6} {:>7} {:>8} {:>7} {:>9} {:>10}\n",
        "file", "evals", "passed", "skipped", "failed", "now-pass", "wrong-msg"
    );
    let flush_totals = |out: &mut String, totals: &mut [usize; 6], version: &str| {
        if !version.is_empty() {
            let _ = writeln!(
                out,
                "{:<28} {:>6} {:>7} {:>8} {:>7} {:>9} {:>10}",
                "total", totals[0], totals[1], totals[2], totals[3], totals[4], totals[5]
            );
        }
        *totals = [0; 6];
    };
    for r in runs {
        if r.version != current_version {
            flush_totals(&mut out, &mut totals, current_version);
            current_version = r.version;
            let _ = write!(out, "\npromqltest {current_version}\n{header}");
        }
        let rel = r.rel();
        let mut row = [r.results.len(), 0, 0, 0, 0, 0];
        for res in &r.results {
            let key = format!("{rel}:{}", res.line);
            let listed = skips.entries.get(&key);
            match (&res.failure, listed) {
                (None, None) => row[1] += 1,
                (None, Some(reason)) => {
                    row[1] += 1;
                    row[4] += 1;
                    now_passes.push(format!("{key} ({reason}): {}", res.expr));
                }
                (Some(f), listed) => {
                    if listed.is_some() {
                        row[2] += 1;
                    } else {
                        row[3] += 1;
                    }
                    if f.kind == FailKind::WrongMessage {
                        row[5] += 1;
                    }
                    let status = if listed.is_some() {
                        "skipped"
                    } else {
                        "FAILED"
                    };
                    let cat = res.category.map(|c| format!(" [{c}]")).unwrap_or_default();
                    let _ = writeln!(
                        report,
                        "{key} {status} ({}){cat}: {}\n    {}",
                        f.kind.as_str(),
                        res.expr,
                        f.msg
                    );
                    if listed.is_none() {
                        unexpected.push(format!(
                            "{key} ({}): {}\n    {}",
                            f.kind.as_str(),
                            res.expr,
                            f.msg
                        ));
                    }
                    let reason = match (listed, res.category) {
                        (Some(old), _) if !old.starts_with("fails:") && !old.is_empty() => {
                            old.clone()
                        }
                        (_, Some(cat)) => cat.to_string(),
                        _ => format!("fails: {}: {}", f.kind.as_str(), short(&f.msg, 110)),
                    };
                    new_skips.insert(key, reason);
                }
            }
        }
        for (k, t) in totals.iter_mut().zip(row) {
            *k += t;
        }
        let mut name = r.file.clone();
        if let Some(e) = &r.error {
            name.push_str(" (ERROR)");
            file_errors.push(format!("{rel}: {e}"));
        }
        let _ = writeln!(
            out,
            "{:<28} {:>6} {:>7} {:>8} {:>7} {:>9} {:>10}",
            name, row[0], row[1], row[2], row[3], row[4], row[5]
        );
    }
    flush_totals(&mut out, &mut totals, current_version);

    // Listed lines of the files that ran that are no eval (any more).
    let seen: HashSet<String> = runs
        .iter()
        .flat_map(|r| {
            r.results
                .iter()
                .map(move |res| format!("{}:{}", r.rel(), res.line))
        })
        .collect();
    let complete: HashSet<String> = runs
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| r.rel())
        .collect();
    let mut stale: Vec<String> = skips
        .entries
        .keys()
        .filter(|k| {
            let file = sort_key(k).0;
            complete.contains(&file) && !seen.contains(*k)
        })
        .cloned()
        .collect();
    stale.sort_by_key(|k| sort_key(k));

    let report_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("promqltest-report.txt");
    let _ = std::fs::write(&report_path, &report);

    if !unexpected.is_empty() {
        let _ = writeln!(
            out,
            "\n{} unexpected failures (not in skip.txt):",
            unexpected.len()
        );
        for u in unexpected.iter().take(PRINT_LIMIT) {
            let _ = writeln!(out, "  {u}");
        }
        if unexpected.len() > PRINT_LIMIT {
            let _ = writeln!(
                out,
                "  … {} more in the report",
                unexpected.len() - PRINT_LIMIT
            );
        }
    }
    for n in &now_passes {
        let _ = writeln!(out, "now passes, remove from skip.txt: {n}");
    }
    for s in &stale {
        let _ = writeln!(out, "skip.txt entry is no eval, remove it: {s}");
    }
    for e in &file_errors {
        let _ = writeln!(out, "file error: {e}");
    }
    let _ = writeln!(
        out,
        "\nall failures (skipped ones too): {}",
        report_path.display()
    );

    if write_skips {
        // Keep the entries of files that did not run (filtered out, or
        // broken before their evals ran).
        for (k, reason) in &skips.entries {
            let file = sort_key(k).0;
            if !ran.contains(&file) || (!complete.contains(&file) && !seen.contains(k)) {
                new_skips.entry(k.clone()).or_insert_with(|| reason.clone());
            }
        }
        skips.write(&new_skips);
        let _ = writeln!(
            out,
            "wrote {} ({} entries{})",
            skips.path.display(),
            new_skips.len(),
            filter
                .map(|f| format!("; filter {f:?}"))
                .unwrap_or_default()
        );
    }
    // Straight to the process's stderr: libtest captures only the print
    // macros, and the table is wanted on every run.
    let _ = std::io::stderr().lock().write_all(out.as_bytes());

    let bad = if write_skips {
        !file_errors.is_empty()
    } else {
        !(unexpected.is_empty()
            && now_passes.is_empty()
            && stale.is_empty()
            && file_errors.is_empty())
    };
    if bad {
        panic!(
            "promqltest: {} unexpected failures, {} skipped evals now pass, {} stale skip entries, {} file errors (details above)",
            unexpected.len(),
            now_passes.len(),
            stale.len(),
            file_errors.len()
        );
    }
}
