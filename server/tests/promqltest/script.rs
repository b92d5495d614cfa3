//! The promqltest language (Prometheus `promql/promqltest`), as the v2.53.5
//! and v3.5.5 test files use it: [`parse`] turns a file into [`Command`]s
//! (`load`, `clear`, `eval`), and [`parse_series`] reads one series line
//! (`metric{a="b"} 1+2x3 _ stale`) of a load or of an eval's expected
//! result.
//!
//! The block structure follows Prometheus's parser line for line (a block
//! ends at an empty line; a scalar or `expected_fail_*` line ends an eval
//! block early), so the same files mean the same thing. One deliberate
//! difference: a result line that does not parse makes only its eval fail
//! ([`Eval::error`]), not the whole file.

use std::sync::OnceLock;

use regex::Regex;

pub use pharos::promql::notation::{
    parse_number, parse_series, LabelPairs, SeqValue, SeriesDesc, STALE_NAN_BITS,
};

/// One command of a test file; `line` fields are 1-based.
#[derive(Debug)]
pub enum Command {
    Clear,
    Load(Load),
    Eval(Box<Eval>),
}

/// `load <step>` (or `load_with_nhcb <step>`): the i-th value of each series
/// goes at `i * step` ms.
#[derive(Debug)]
pub struct Load {
    pub line: usize,
    pub step_ms: i64,
    /// Also turn classic histogram series into native histograms with
    /// custom buckets (Prometheus 3 only).
    pub with_nhcb: bool,
    pub series: Vec<SeriesDesc>,
}

/// When an eval runs.
#[derive(Debug, Clone, Copy)]
pub enum EvalTime {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// The kinds of `expect` line (Prometheus 3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectKind {
    Fail,
    Warn,
    NoWarn,
    Info,
    NoInfo,
    Ordered,
}

/// How an `expect` line matches an error or annotation text.
#[derive(Debug, Clone)]
pub enum TextMatch {
    Any,
    Exact(String),
    Regex(Regex),
}

impl TextMatch {
    pub fn matches(&self, s: &str) -> bool {
        match self {
            TextMatch::Any => true,
            TextMatch::Exact(m) => m == s,
            TextMatch::Regex(r) => r.is_match(s),
        }
    }
}

impl std::fmt::Display for TextMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextMatch::Any => f.write_str("<any>"),
            TextMatch::Exact(m) => write!(f, "{m:?}"),
            TextMatch::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// One `expect <kind> [msg|regex: <text>]` line.
#[derive(Debug, Clone)]
pub struct Expect {
    pub kind: ExpectKind,
    pub text: TextMatch,
}

/// A series the result must contain.
#[derive(Debug, Clone)]
pub struct ExpectedSeries {
    pub labels: LabelPairs,
    /// 1-based position among the block's result lines, for ordered evals.
    pub pos: usize,
    pub values: Vec<SeqValue>,
}

/// What the eval's result lines ask for.
#[derive(Debug, Clone)]
pub enum Expected {
    /// A bare number line: the result must be a scalar.
    Scalar(f64),
    /// Series lines (none: the result must be empty).
    Series(Vec<ExpectedSeries>),
}

/// `eval[_fail|_warn|_info|_ordered] instant at <t> <expr>` or
/// `eval[_fail|_warn|_info] range from <a> to <b> step <s> <expr>` and its
/// block.
#[derive(Debug)]
pub struct Eval {
    pub line: usize,
    pub expr: String,
    pub time: EvalTime,
    /// `eval_fail`: the query must fail.
    pub fail: bool,
    /// `eval_warn`: at least one warning annotation.
    pub warn: bool,
    /// `eval_info`: at least one info annotation.
    pub info: bool,
    /// `eval_ordered`: the result order must be the listed one.
    pub ordered: bool,
    /// `expected_fail_message <text>`: the exact error text.
    pub fail_message: Option<String>,
    /// `expected_fail_regexp <re>`: a pattern the error text must match.
    pub fail_regexp: Option<Regex>,
    pub expects: Vec<Expect>,
    pub expected: Expected,
    /// Why the block could not be read; the eval then fails with this.
    pub error: Option<String>,
}

impl Eval {
    pub fn expects(&self, kind: ExpectKind) -> impl Iterator<Item = &Expect> {
        self.expects.iter().filter(move |e| e.kind == kind)
    }

    /// Whether the query must fail (`eval_fail` or `expect fail`).
    pub fn is_fail(&self) -> bool {
        self.fail || self.expects(ExpectKind::Fail).next().is_some()
    }

    /// Whether the result order is checked.
    pub fn is_ordered(&self) -> bool {
        self.ordered || self.expects(ExpectKind::Ordered).next().is_some()
    }

    /// Whether any expected value is a native histogram.
    pub fn expects_histogram(&self) -> bool {
        match &self.expected {
            Expected::Scalar(_) => false,
            Expected::Series(s) => s
                .iter()
                .any(|s| s.values.iter().any(|v| matches!(v, SeqValue::Histogram))),
        }
    }
}

struct Patterns {
    space: Regex,
    load: Regex,
    eval_instant: Regex,
    eval_range: Regex,
    expect: Regex,
}

/// Prometheus's own patterns (promqltest/test.go in 3.5).
fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        space: Regex::new(r"[\t ]+").unwrap(),
        load: Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").unwrap(),
        eval_instant: Regex::new(
            r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$",
        )
        .unwrap(),
        eval_range: Regex::new(
            r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$",
        )
        .unwrap(),
        expect: Regex::new(
            r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$",
        )
        .unwrap(),
    })
}

/// Parses a whole test file. Errors name the 1-based line.
pub fn parse(text: &str) -> Result<Vec<Command>, String> {
    // Trimmed lines; a comment line counts as empty, so it ends a block.
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                ""
            } else {
                l
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = patterns()
            .space
            .split(l)
            .next()
            .unwrap_or("")
            .to_lowercase();
        if word == "clear" {
            cmds.push(Command::Clear);
            i += 1;
        } else if word.starts_with("load") {
            let (next, load) = parse_load(&lines, i)?;
            cmds.push(Command::Load(load));
            i = next;
        } else if word.starts_with("eval") {
            let (next, eval) = parse_eval(&lines, i)?;
            cmds.push(Command::Eval(Box::new(eval)));
            i = next;
        } else {
            return Err(format!("line {}: invalid command {l:?}", i + 1));
        }
    }
    Ok(cmds)
}

/// Reads a load block starting at `lines[i]`; returns the index after it.
fn parse_load(lines: &[&str], i: usize) -> Result<(usize, Load), String> {
    let caps = patterns().load.captures(lines[i]).ok_or_else(|| {
        format!(
            "line {}: invalid load command (load[_with_nhcb] <step>)",
            i + 1
        )
    })?;
    let step = &caps[2];
    let step_ms = parse_duration(step).map_err(|e| format!("line {}: {e}", i + 1))?;
    let mut load = Load {
        line: i + 1,
        step_ms,
        with_nhcb: caps.get(1).is_some(),
        series: Vec::new(),
    };
    let mut j = i + 1;
    while j < lines.len() && !lines[j].is_empty() {
        let s = parse_series(lines[j]).map_err(|e| format!("line {}: {e}", j + 1))?;
        // Within one load a repeated series replaces the earlier line.
        if let Some(old) = load.series.iter_mut().find(|o| o.labels == s.labels) {
            *old = s;
        } else {
            load.series.push(s);
        }
        j += 1;
    }
    Ok((j, load))
}

/// Reads an eval block starting at `lines[i]`; returns the index of the
/// next line to read as a command.
fn parse_eval(lines: &[&str], mut i: usize) -> Result<(usize, Eval), String> {
    let p = patterns();
    let header = lines[i];
    let line = i + 1;
    let (modifier, expr, time) = if let Some(c) = p.eval_instant.captures(header) {
        let at = c.get(2).map_or("", |m| m.as_str());
        let time = parse_duration(at).map(|at_ms| EvalTime::Instant { at_ms });
        (c.get(1).map(|m| m.as_str()), c[3].to_string(), time)
    } else if let Some(c) = p.eval_range.captures(header) {
        let time = (|| {
            let start_ms = parse_duration(&c[2])?;
            let end_ms = parse_duration(&c[3])?;
            if end_ms < start_ms {
                return Err(format!(
                    "end timestamp ({}) is before start ({})",
                    &c[3], &c[2]
                ));
            }
            let step_ms = parse_duration(&c[4])?;
            Ok(EvalTime::Range {
                start_ms,
                end_ms,
                step_ms,
            })
        })();
        (c.get(1).map(|m| m.as_str()), c[5].to_string(), time)
    } else {
        return Err(format!(
            "line {line}: invalid evaluation command {header:?}"
        ));
    };
    let mut eval = Eval {
        line,
        expr,
        time: time.clone().unwrap_or(EvalTime::Instant { at_ms: 0 }),
        fail: modifier == Some("fail"),
        warn: modifier == Some("warn"),
        info: modifier == Some("info"),
        ordered: modifier == Some("ordered"),
        fail_message: None,
        fail_regexp: None,
        expects: Vec::new(),
        expected: Expected::Series(Vec::new()),
        error: time.err(),
    };
    let mut series: Vec<ExpectedSeries> = Vec::new();
    // Position of the next result line; `expect` lines do not count.
    let mut pos = 1;
    while i + 1 < lines.len() {
        i += 1;
        let def = lines[i];
        if def.is_empty() {
            break;
        }
        if eval.fail {
            if let Some(rest) = def.strip_prefix("expected_fail_message") {
                eval.fail_message = Some(rest.trim().to_string());
                eval.expected = Expected::Series(series);
                return Ok((i + 1, eval));
            }
            if let Some(rest) = def.strip_prefix("expected_fail_regexp") {
                match Regex::new(rest.trim()) {
                    Ok(r) => eval.fail_regexp = Some(r),
                    Err(e) => set_error(&mut eval, i, format!("bad expected_fail_regexp: {e}")),
                }
                eval.expected = Expected::Series(series);
                return Ok((i + 1, eval));
            }
        }
        if def.split(' ').next() == Some("expect") {
            match parse_expect(def) {
                Ok(e) => eval.expects.push(e),
                Err(e) => set_error(&mut eval, i, e),
            }
            continue;
        }
        if let Some(f) = parse_number(def) {
            // A scalar ends the block, as in Prometheus's parser.
            eval.expected = Expected::Scalar(f);
            return Ok((i + 1, eval));
        }
        match parse_series(def) {
            Ok(s) => {
                let e = ExpectedSeries {
                    labels: s.labels,
                    pos,
                    values: s.values,
                };
                // A repeated series replaces the earlier line, as in Go's map.
                if let Some(old) = series.iter_mut().find(|o| o.labels == e.labels) {
                    *old = e;
                } else {
                    series.push(e);
                }
            }
            Err(e) => set_error(&mut eval, i, e),
        }
        pos += 1;
    }
    eval.expected = Expected::Series(series);
    // `i` is the empty line that ended the block, or the file's last line.
    Ok((i + 1, eval))
}

fn set_error(eval: &mut Eval, i: usize, msg: String) {
    if eval.error.is_none() {
        eval.error = Some(format!("test file line {}: {msg}", i + 1));
    }
}

fn parse_expect(def: &str) -> Result<Expect, String> {
    let c = patterns()
        .expect
        .captures(def.trim())
        .ok_or_else(|| format!("invalid expect line {def:?}"))?;
    let kind = match &c[1] {
        "fail" => ExpectKind::Fail,
        "warn" => ExpectKind::Warn,
        "no_warn" => ExpectKind::NoWarn,
        "info" => ExpectKind::Info,
        "no_info" => ExpectKind::NoInfo,
        _ => ExpectKind::Ordered,
    };
    let text = match c.get(2).map(|m| m.as_str()) {
        None => TextMatch::Any,
        Some("msg") => TextMatch::Exact(c[3].trim().to_string()),
        Some(_) => TextMatch::Regex(
            Regex::new(c[3].trim()).map_err(|e| format!("invalid regex in {def:?}: {e}"))?,
        ),
    };
    Ok(Expect { kind, text })
}

/// A Prometheus duration (`0`, `50m`, `1m16s`, `10s53ms`) in milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    pharos::units::parse_duration_ms(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(line: &str) -> Vec<f64> {
        parse_series(line)
            .unwrap()
            .values
            .into_iter()
            .map(|v| match v {
                SeqValue::Float(f) => f,
                SeqValue::Omitted => -999.0,
                SeqValue::Histogram => -777.0,
            })
            .collect()
    }

    #[test]
    fn series_values() {
        assert_eq!(floats("m 1+2x3"), vec![1.0, 3.0, 5.0, 7.0]);
        assert_eq!(
            floats("m -2x2 _x2 _"),
            vec![-2.0, -2.0, -2.0, -999.0, -999.0, -999.0]
        );
        assert_eq!(
            floats("m 10-1x2 1e-6 -Inf +Inf"),
            vec![10.0, 9.0, 8.0, 1e-6, f64::NEG_INFINITY, f64::INFINITY]
        );
        assert_eq!(floats("m 0x3"), vec![0.0; 4]);
        assert_eq!(
            floats("m {{schema:0 sum:5 buckets:[1 2]}}x1 3"),
            vec![-777.0, -777.0, 3.0]
        );
        assert_eq!(floats("m {{sum:1}}+{{sum:2}}x2"), vec![-777.0; 3]);
        let s = parse_series("m stale").unwrap();
        assert!(matches!(s.values[0], SeqValue::Float(f) if f.to_bits() == STALE_NAN_BITS));
        assert!(floats("m NaN")[0].is_nan());
        // Repeated addition, not A + i*B.
        let v = floats("m 0+0.1x3");
        assert_eq!(v[3], 0.1 + 0.1 + 0.1);
    }

    #[test]
    fn series_labels() {
        let s = parse_series(r#"http_requests{job="api", group='canary', e=""} 1"#).unwrap();
        assert_eq!(
            s.labels,
            vec![
                ("__name__".into(), "http_requests".into()),
                ("group".into(), "canary".into()),
                ("job".into(), "api".into())
            ]
        );
        assert_eq!(parse_series("{} 3").unwrap().labels, vec![]);
        let s = parse_series(r#"{"a.b", x="\n\x41"} 3"#).unwrap();
        assert_eq!(s.labels[0], ("__name__".into(), "a.b".into()));
        assert_eq!(s.labels[1], ("x".into(), "\nA".into()));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x10"), Some(16.0));
        assert_eq!(parse_number("-0.2e-6"), Some(-0.2e-6));
        assert_eq!(parse_number("+Inf"), Some(f64::INFINITY));
        assert!(parse_number("NaN").unwrap().is_nan());
        assert_eq!(parse_number("foo 1"), None);
        assert_eq!(parse_number("{} 1"), None);
    }

    #[test]
    fn blocks() {
        let text = "load 5m\n  m{a=\"1\"} 0+1x10\n\n# c\neval instant at 10m m\n  m{a=\"1\"} 2\n\neval_fail instant at 1m x\n  expected_fail_message boom\n\neval range from 0 to 10m step 5m m\n  expect no_info\n  m{a=\"1\"} 0 _ 2\n\neval instant at 0 1\n  1\nclear\n";
        let cmds = parse(text).unwrap();
        assert_eq!(cmds.len(), 6);
        let Command::Eval(e) = &cmds[3] else { panic!() };
        assert!(matches!(
            e.time,
            EvalTime::Range {
                start_ms: 0,
                end_ms: 600000,
                step_ms: 300000
            }
        ));
        assert_eq!(e.expects.len(), 1);
        let Expected::Series(s) = &e.expected else {
            panic!()
        };
        assert_eq!(s[0].values.len(), 3);
        let Command::Eval(e) = &cmds[2] else { panic!() };
        assert_eq!(e.fail_message.as_deref(), Some("boom"));
        assert!(matches!(cmds[5], Command::Clear));
    }
}
