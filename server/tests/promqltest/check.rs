//! Running one eval against the engine and judging the outcome the way
//! Prometheus's runner does (`execInstantEval` / `execRangeEval`,
//! `checkAnnotations`, `compareResult`): the error expectation first, then
//! annotations, then the result, float values compared with
//! [`almost_equal`] at 1e-6.

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pharos::promql::{Engine, QueryError, QueryOutput, Value};
use pharos::storage::{Labels, Queryable};

use crate::script::{Eval, EvalTime, ExpectKind, Expected, LabelPairs, SeqValue};

/// Relative error allowed between an expected and a returned value.
const EPSILON: f64 = 1e-6;

/// Why an eval failed; the report counts some kinds separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailKind {
    /// The eval's block could not be read.
    Script,
    /// The engine panicked.
    Panic,
    /// The query did not parse (or type-check) where a result was expected.
    Parse,
    /// The query failed where a result was expected.
    Error,
    /// The query succeeded where it should have failed.
    NoError,
    /// The query failed as expected, with another error text.
    WrongMessage,
    /// Missing or unexpected warnings/infos.
    Annotations,
    /// The result differs.
    Result,
    /// The instant eval passed, but the same query as a range query
    /// around the eval time gave another answer at that time.
    RangeMode,
    /// The instant eval passed, but with `@ <eval time>` on every selector
    /// and evaluated at other times it gave another answer.
    AtVariant,
    /// The expected result holds native histograms, which the engine cannot
    /// return.
    Histogram,
}

impl FailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailKind::Script => "script",
            FailKind::Panic => "panic",
            FailKind::Parse => "parse error",
            FailKind::Error => "error",
            FailKind::NoError => "no error",
            FailKind::WrongMessage => "wrong message",
            FailKind::Annotations => "annotations",
            FailKind::Result => "result",
            FailKind::RangeMode => "range mode",
            FailKind::AtVariant => "@ variant",
            FailKind::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailKind,
    pub msg: String,
}

fn fail(kind: FailKind, msg: impl Into<String>) -> Result<(), Failure> {
    Err(Failure {
        kind,
        msg: msg.into(),
    })
}

/// Runs one eval; `Ok` when it passes.
pub fn run_eval(engine: &Engine, store: &dyn Queryable, ev: &Eval) -> Result<(), Failure> {
    if let Some(e) = &ev.error {
        return fail(FailKind::Script, e.clone());
    }
    let res = catch_unwind(AssertUnwindSafe(|| match ev.time {
        EvalTime::Instant { at_ms } => engine.instant(store, &ev.expr, at_ms),
        EvalTime::Range {
            start_ms,
            end_ms,
            step_ms,
        } => engine.range(store, &ev.expr, start_ms, end_ms, step_ms),
    }));
    let out = match res {
        Err(payload) => {
            return fail(
                FailKind::Panic,
                format!("engine panicked: {}", panic_text(&payload)),
            )
        }
        Ok(Err(e)) => return check_error(ev, &e),
        Ok(Ok(out)) => out,
    };
    if ev.is_fail() {
        return fail(
            FailKind::NoError,
            format!("expected an error, got {}", summarize(&out.value)),
        );
    }
    check_annotations(ev, &out)?;
    if ev.expects_histogram() {
        return fail(
            FailKind::Histogram,
            format!("expects native histograms; got {}", summarize(&out.value)),
        );
    }
    compare(ev, &out.value)?;
    range_mode(engine, store, ev, &out.value)?;
    at_variants(engine, store, ev)
}

/// Functions whose result depends on the evaluation time itself, so an
/// `@` variant is not the same query.
const AT_UNSAFE: [&str; 11] = [
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// Prometheus's runner also checks every passing instant eval with
/// `@ <eval time>` added to each selector and subquery that has none
/// (not inside a subquery that has one), evaluated at other times: the
/// answer must not change.
fn at_variants(engine: &Engine, store: &dyn Queryable, ev: &Eval) -> Result<(), Failure> {
    let EvalTime::Instant { at_ms } = ev.time else {
        return Ok(());
    };
    if ev.ordered || AT_UNSAFE.iter().any(|f| ev.expr.contains(&format!("{f}("))) {
        return Ok(());
    }
    let Ok(mut expr) = pharos::promql::prepare::parse(&ev.expr) else {
        return Ok(());
    };
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(at_ms.max(0) as u64);
    if at_ms < 0 || !add_at(&mut expr, &at) {
        return Ok(());
    }
    let text = expr.to_string();
    let times: Vec<i64> = if at_ms == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![-10 * at_ms, 0, at_ms / 5, at_ms, 10 * at_ms]
    };
    for t in times {
        let res = catch_unwind(AssertUnwindSafe(|| engine.instant(store, &text, t)));
        let out = match res {
            Err(payload) => {
                return fail(
                    FailKind::Panic,
                    format!("engine panicked in @ variant: {}", panic_text(&payload)),
                )
            }
            Ok(Err(e)) => {
                return fail(FailKind::AtVariant, format!("@ variant {text} at {t}: {e}"))
            }
            Ok(Ok(out)) => out,
        };
        // Results carry the evaluation time: compare as if at the eval's.
        let value = match out.value {
            Value::Vector(v) => Value::Vector(
                v.into_iter()
                    .map(|s| pharos::promql::Sample { t: at_ms, ..s })
                    .collect(),
            ),
            Value::Scalar { v, .. } => Value::Scalar { t: at_ms, v },
            other => other,
        };
        compare(ev, &value).map_err(|f| Failure {
            kind: FailKind::AtVariant,
            msg: format!("@ variant {text} at {t}: {}", f.msg),
        })?;
    }
    Ok(())
}

/// Sets `@` on every selector and subquery without one; false when there
/// is nothing to set.
fn add_at(e: &mut promql_parser::parser::Expr, at: &std::time::SystemTime) -> bool {
    use promql_parser::parser::{AtModifier, Expr};
    match e {
        Expr::VectorSelector(vs) if vs.at.is_none() => {
            vs.at = Some(AtModifier::At(*at));
            true
        }
        Expr::MatrixSelector(ms) if ms.vs.at.is_none() => {
            ms.vs.at = Some(AtModifier::At(*at));
            true
        }
        Expr::Subquery(sq) if sq.at.is_none() => {
            sq.at = Some(AtModifier::At(*at));
            true
        }
        Expr::Aggregate(a) => {
            let x = add_at(&mut a.expr, at);
            let y = a.param.as_deref_mut().is_some_and(|p| add_at(p, at));
            x || y
        }
        Expr::Unary(u) => add_at(&mut u.expr, at),
        Expr::Binary(b) => {
            let x = add_at(&mut b.lhs, at);
            let y = add_at(&mut b.rhs, at);
            x || y
        }
        Expr::Paren(p) => add_at(&mut p.expr, at),
        Expr::Call(c) => {
            let mut any = false;
            for a in &mut c.args.args {
                any |= add_at(a, at);
            }
            any
        }
        _ => false,
    }
}

/// Prometheus's runner re-runs every passing instant eval as a range query
/// from a minute before to a minute after the eval time, step one minute,
/// and checks the middle step against the expected result: evaluating
/// many steps at once must agree with evaluating one. Skipped for ordered
/// evals and for `start()`/`end()`, whose meaning changes with the range,
/// and for results a range query cannot return (range vectors, strings).
fn range_mode(
    engine: &Engine,
    store: &dyn Queryable,
    ev: &Eval,
    instant: &Value,
) -> Result<(), Failure> {
    let EvalTime::Instant { at_ms } = ev.time else {
        return Ok(());
    };
    if ev.ordered
        || ev.expr.contains("start()")
        || ev.expr.contains("end()")
        || !matches!(instant, Value::Vector(_) | Value::Scalar { .. })
    {
        return Ok(());
    }
    let res = catch_unwind(AssertUnwindSafe(|| {
        engine.range(store, &ev.expr, at_ms - 60_000, at_ms + 60_000, 60_000)
    }));
    let out = match res {
        Err(payload) => {
            return fail(
                FailKind::Panic,
                format!("engine panicked in range mode: {}", panic_text(&payload)),
            )
        }
        Ok(Err(e)) => return fail(FailKind::RangeMode, format!("range mode: {e}")),
        Ok(Ok(out)) => out,
    };
    let Value::Matrix(series) = out.value else {
        return fail(
            FailKind::RangeMode,
            format!(
                "range mode: expected a matrix, got {}",
                summarize(&out.value)
            ),
        );
    };
    let at_eval: Vec<pharos::promql::Sample> = series
        .into_iter()
        .filter_map(|s| {
            s.points
                .iter()
                .find(|p| p.0 == at_ms)
                .map(|&(t, v)| pharos::promql::Sample {
                    labels: s.labels.clone(),
                    t,
                    v,
                })
        })
        .collect();
    let as_instant = match instant {
        Value::Scalar { .. } => match at_eval.first() {
            Some(s) => Value::Scalar { t: at_ms, v: s.v },
            None => Value::Vector(Vec::new()),
        },
        _ => Value::Vector(at_eval),
    };
    compare(ev, &as_instant).map_err(|f| Failure {
        kind: FailKind::RangeMode,
        msg: format!("range mode: {}", f.msg),
    })
}

/// The panic text recorded by the hook in `promqltest.rs`, or the payload.
fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = crate::take_panic_message() {
        return s;
    }
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-text panic)".into()
    }
}

fn check_error(ev: &Eval, e: &QueryError) -> Result<(), Failure> {
    let text = e.to_string();
    if !ev.is_fail() {
        let kind = if matches!(e, QueryError::Parse(_)) {
            FailKind::Parse
        } else {
            FailKind::Error
        };
        return fail(kind, format!("unexpected error: {text}"));
    }
    if let Some(m) = &ev.fail_message {
        if *m != text {
            return fail(
                FailKind::WrongMessage,
                format!("expected error {m:?}, got {text:?}"),
            );
        }
    }
    if let Some(r) = &ev.fail_regexp {
        if !r.is_match(&text) {
            return fail(
                FailKind::WrongMessage,
                format!("expected error matching /{}/, got {text:?}", r.as_str()),
            );
        }
    }
    if let Some(x) = ev.expects(ExpectKind::Fail).next() {
        if !x.text.matches(&text) {
            return fail(
                FailKind::WrongMessage,
                format!("expected error {}, got {text:?}", x.text),
            );
        }
    }
    Ok(())
}

/// `checkAnnotations` of Prometheus 3.5: a plain eval accepts any
/// annotations. (Prometheus 2.53's files have only plain evals, and they
/// expect results that come with warnings, so its runner did not object
/// either.)
fn check_annotations(ev: &Eval, out: &QueryOutput) -> Result<(), Failure> {
    let (warnings, infos) = (&out.warnings, &out.infos);
    if ev.warn && warnings.is_empty() {
        return fail(FailKind::Annotations, "expected warnings, got none");
    }
    if ev.info && infos.is_empty() {
        return fail(FailKind::Annotations, "expected info annotations, got none");
    }
    for (kind, none_kind, got, what) in [
        (ExpectKind::Warn, ExpectKind::NoWarn, warnings, "warn"),
        (ExpectKind::Info, ExpectKind::NoInfo, infos, "info"),
    ] {
        let expected: Vec<_> = ev.expects(kind).collect();
        if !expected.is_empty() {
            if got.is_empty() {
                return fail(
                    FailKind::Annotations,
                    format!("expected {what} annotations, got none"),
                );
            }
            for x in &expected {
                if !got.iter().any(|a| x.text.matches(a)) {
                    return fail(
                        FailKind::Annotations,
                        format!("expected {what} annotation {}, got {got:?}", x.text),
                    );
                }
            }
            if let Some(a) = got
                .iter()
                .find(|a| !expected.iter().any(|x| x.text.matches(a)))
            {
                return fail(
                    FailKind::Annotations,
                    format!("unexpected {what} annotation {a:?}"),
                );
            }
        }
        if ev.expects(none_kind).next().is_some() && !got.is_empty() {
            return fail(
                FailKind::Annotations,
                format!("unexpected {what} annotations: {got:?}"),
            );
        }
    }
    Ok(())
}

/// `compareResult`: dispatches on what the engine returned.
fn compare(ev: &Eval, value: &Value) -> Result<(), Failure> {
    let expected_series = match &ev.expected {
        Expected::Scalar(want) => {
            return match value {
                Value::Scalar { v, .. } if almost_equal(*want, *v, EPSILON) => Ok(()),
                Value::Scalar { v, .. } => {
                    fail(FailKind::Result, format!("expected scalar {want}, got {v}"))
                }
                other => fail(
                    FailKind::Result,
                    format!("expected scalar {want}, got {}", summarize(other)),
                ),
            };
        }
        Expected::Series(s) => s,
    };
    let find = |labels: &LabelPairs| expected_series.iter().find(|e| &e.labels == labels);
    match value {
        Value::Scalar { v, .. } => fail(
            FailKind::Result,
            format!("expected a vector or matrix, got scalar {v}"),
        ),
        Value::String { v, .. } => fail(
            FailKind::Result,
            format!("got string {v:?}; the test language has no string results"),
        ),
        Value::Vector(samples) => {
            let mut seen = vec![false; expected_series.len()];
            for (k, s) in samples.iter().enumerate() {
                let labels = pairs(&s.labels);
                let Some(exp) = find(&labels) else {
                    return fail(
                        FailKind::Result,
                        format!(
                            "unexpected series {} = {} in result{}",
                            fmt_labels(&labels),
                            s.v,
                            got_list(value)
                        ),
                    );
                };
                if ev.is_ordered() && exp.pos != k + 1 {
                    return fail(
                        FailKind::Result,
                        format!(
                            "series {} at position {}, expected at {}{}",
                            fmt_labels(&labels),
                            k + 1,
                            exp.pos,
                            got_list(value)
                        ),
                    );
                }
                let want = match exp.values.first() {
                    Some(SeqValue::Float(f)) => *f,
                    // Go compares the zero value of an omitted position.
                    Some(SeqValue::Omitted) | None => 0.0,
                    Some(SeqValue::Histogram) => unreachable!("histograms are refused earlier"),
                };
                if !almost_equal(want, s.v, EPSILON) {
                    return fail(
                        FailKind::Result,
                        format!(
                            "expected {want} for {}, got {}{}",
                            fmt_labels(&labels),
                            s.v,
                            got_list(value)
                        ),
                    );
                }
                seen[expected_series
                    .iter()
                    .position(|e| e.labels == labels)
                    .unwrap()] = true;
            }
            if let Some(k) = seen.iter().position(|s| !s) {
                return fail(
                    FailKind::Result,
                    format!(
                        "expected series {} not found{}",
                        fmt_labels(&expected_series[k].labels),
                        got_list(value)
                    ),
                );
            }
            Ok(())
        }
        Value::Matrix(series) => {
            if ev.is_ordered() {
                return fail(FailKind::Result, "expected an ordered result, got a matrix");
            }
            for w in series.windows(2) {
                if w[0].labels > w[1].labels {
                    return fail(
                        FailKind::Result,
                        format!(
                            "matrix not sorted by labels: {} before {}",
                            w[0].labels, w[1].labels
                        ),
                    );
                }
            }
            let (start, step, end) = match ev.time {
                EvalTime::Range {
                    start_ms,
                    end_ms,
                    step_ms,
                } => (start_ms, step_ms, Some(end_ms)),
                // Prometheus has no way to expect a matrix from an instant
                // query in these versions: every expected point is "past
                // the end".
                EvalTime::Instant { at_ms } => (at_ms, 0, None),
            };
            let mut seen = vec![false; expected_series.len()];
            for s in series {
                let labels = pairs(&s.labels);
                let Some(k) = expected_series.iter().position(|e| e.labels == labels) else {
                    return fail(
                        FailKind::Result,
                        format!(
                            "unexpected series {} in result: {}",
                            fmt_labels(&labels),
                            fmt_points(&s.points)
                        ),
                    );
                };
                seen[k] = true;
                let mut want: Vec<(i64, f64)> = Vec::new();
                for (i, v) in expected_series[k].values.iter().enumerate() {
                    let t = start + i as i64 * step;
                    if end.is_none_or(|end| t > end) {
                        return fail(
                            FailKind::Result,
                            format!(
                                "expected {} points for {}, more than the query range has",
                                expected_series[k].values.len(),
                                fmt_labels(&labels)
                            ),
                        );
                    }
                    if let SeqValue::Float(f) = v {
                        want.push((t, *f));
                    }
                }
                let mismatch = want.len() != s.points.len()
                    || want
                        .iter()
                        .zip(&s.points)
                        .any(|(w, g)| w.0 != g.0 || !almost_equal(w.1, g.1, EPSILON));
                if mismatch {
                    return fail(
                        FailKind::Result,
                        format!(
                            "{}: expected {}, got {}",
                            fmt_labels(&labels),
                            fmt_points(&want),
                            fmt_points(&s.points)
                        ),
                    );
                }
            }
            if let Some(k) = seen.iter().position(|s| !s) {
                return fail(
                    FailKind::Result,
                    format!(
                        "expected series {} not found{}",
                        fmt_labels(&expected_series[k].labels),
                        got_list(value)
                    ),
                );
            }
            Ok(())
        }
    }
}

/// Prometheus's `almost.Equal`: NaN equals NaN; a zero only equals (almost)
/// exactly zero; otherwise the relative difference must be below `eps`.
pub fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < eps * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

fn pairs(l: &Labels) -> LabelPairs {
    l.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// `name{a="b"}`, the notation of the test files.
pub fn fmt_labels(l: &LabelPairs) -> String {
    let mut s = String::new();
    if let Some((_, n)) = l.iter().find(|(n, _)| n == "__name__") {
        s.push_str(n);
    }
    s.push('{');
    let rest: Vec<String> = l
        .iter()
        .filter(|(n, _)| n != "__name__")
        .map(|(n, v)| format!("{n}={v:?}"))
        .collect();
    s.push_str(&rest.join(", "));
    s.push('}');
    s
}

fn fmt_points(p: &[(i64, f64)]) -> String {
    let mut s = String::from("[");
    for (k, (t, v)) in p.iter().enumerate() {
        if k > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{v}@{}", fmt_ms(*t));
    }
    s.push(']');
    s
}

fn fmt_ms(t: i64) -> String {
    if t % 1000 == 0 {
        format!("{}s", t / 1000)
    } else {
        format!("{t}ms")
    }
}

/// A short description of a result, for messages.
pub fn summarize(v: &Value) -> String {
    match v {
        Value::Scalar { v, .. } => format!("scalar {v}"),
        Value::String { v, .. } => format!("string {v:?}"),
        Value::Vector(s) => format!("vector of {}", s.len()),
        Value::Matrix(s) => format!("matrix of {}", s.len()),
    }
}

/// `; got: {…} 1, {…} 2` for vectors (up to 6 entries), empty otherwise.
fn got_list(v: &Value) -> String {
    match v {
        Value::Vector(s) => {
            let items: Vec<String> = s
                .iter()
                .take(6)
                .map(|s| format!("{} {}", fmt_labels(&pairs(&s.labels)), s.v))
                .collect();
            let more = if s.len() > 6 {
                format!(" … ({} in all)", s.len())
            } else {
                String::new()
            };
            format!("; got [{}{more}]", items.join(", "))
        }
        Value::Matrix(s) => {
            let items: Vec<String> = s
                .iter()
                .take(4)
                .map(|s| fmt_labels(&pairs(&s.labels)))
                .collect();
            format!("; got series [{}]", items.join(", "))
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::almost_equal;

    #[test]
    fn almost_equal_like_go() {
        assert!(almost_equal(
            f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0002),
            1e-6
        ));
        assert!(almost_equal(1.0, 1.0 + 1e-7, 1e-6));
        assert!(!almost_equal(1.0, 1.0 + 1e-5, 1e-6));
        assert!(!almost_equal(0.0, 1e-300, 1e-6));
        assert!(almost_equal(0.0, -0.0, 1e-6));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY, 1e-6));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY, 1e-6));
    }
}
