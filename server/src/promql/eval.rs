//! The evaluator: every node is evaluated once for all steps of the query.
//!
//! An instant vector over the steps is a list of [`VSeries`], each with
//! the points (step time, value) where it has a value. A range vector
//! ([`RangeVec`]) keeps raw samples; each step reads its window from
//! them. Scalars have a value at every step.
//!
//! Selecting: an instant selector at step `t` takes the newest sample at
//! or before `t - offset` (or `@ - offset`) that is newer than the
//! lookback, unless it is a stale marker; the point gets the step's time.
//! Range windows are `(ref - range, ref]` (Prometheus 3) or
//! `[ref - range, ref]` ([`EngineOptions::closed_windows`]). A subquery's
//! inner steps are aligned to multiples of its step in absolute time.

use std::cell::RefCell;
use std::time::{Instant, SystemTime};

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{AtModifier, Expr, Offset, SubqueryExpr, VectorSelector};

use super::value::{Sample, Series, Value};
use super::{aggregate, binary, functions, EngineOptions, QueryError, QueryOutput, QueryStats};
use crate::storage::{Labels, MatchOp, Matcher, Queryable, METRIC_NAME};

/// Whether `v` is Prometheus's stale marker (one NaN bit pattern).
pub fn is_stale(v: f64) -> bool {
    v.to_bits() == pharos_agent::scrape::STALE_NAN.to_bits()
}

/// An instant vector's series over all steps.
#[derive(Debug, Clone)]
pub struct VSeries {
    pub labels: Labels,
    /// `__name__` is to be removed at the end (delayed name removal).
    pub drop_name: bool,
    /// (step time, value), in step order.
    pub points: Vec<(i64, f64)>,
}

/// A range vector: raw samples and how each step's window is placed.
#[derive(Debug, Clone)]
pub struct RangeVec {
    pub series: Vec<RSeries>,
    pub range: i64,
    pub offset: i64,
    /// Fixed reference time from `@`.
    pub at: Option<i64>,
    /// The metric name, for annotations (`rate` of a non-counter).
    pub metric_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RSeries {
    pub labels: Labels,
    pub drop_name: bool,
    /// Samples in time order, stale markers removed.
    pub samples: Vec<(i64, f64)>,
}

/// An evaluated node.
#[derive(Debug, Clone)]
pub enum Val {
    /// One value per step.
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<VSeries>),
    Matrix(RangeVec),
}

impl Val {
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

/// State shared by an evaluator and the ones of its subqueries.
#[derive(Debug, Default)]
pub struct Shared {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    pub samples_read: u64,
    /// Samples the query holds (per step, summed over its nodes; nothing
    /// is released before the end, so this is also the peak).
    pub held: usize,
}

pub struct Evaluator<'a> {
    pub opts: &'a EngineOptions,
    store: &'a dyn Queryable,
    pub start: i64,
    pub end: i64,
    /// Always positive; an instant evaluation has one step.
    pub step: i64,
    /// The query's own start and end, for `@ start()` / `@ end()`.
    query_start: i64,
    query_end: i64,
    deadline: Instant,
    pub shared: &'a RefCell<Shared>,
}

/// Runs a query: evaluates `expr` over the steps and shapes the result.
pub fn run(
    opts: &EngineOptions,
    store: &dyn Queryable,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
    instant: bool,
) -> Result<QueryOutput, QueryError> {
    let began = Instant::now();
    let shared = RefCell::new(Shared::default());
    let ev = Evaluator {
        opts,
        store,
        start,
        end,
        step: step.max(1),
        query_start: start,
        query_end: end,
        deadline: began + opts.timeout,
        shared: &shared,
    };
    let val = ev.eval(expr)?;
    let value = if instant {
        match val {
            Val::Scalar(v) => Value::Scalar { t: start, v: v[0] },
            Val::Str(s) => Value::String { t: start, v: s },
            Val::Vector(vs) => {
                let vs = finish_names(vs, true)?;
                Value::Vector(
                    vs.into_iter()
                        .filter_map(|s| {
                            s.points.first().map(|&(t, v)| Sample {
                                labels: s.labels,
                                t,
                                v,
                            })
                        })
                        .collect(),
                )
            }
            Val::Matrix(m) => {
                let reference = m.at.unwrap_or(start) - m.offset;
                let mut out: Vec<Series> = Vec::new();
                for s in m.series {
                    let w = ev.window(&s.samples, reference, m.range);
                    if !w.is_empty() {
                        out.push(Series {
                            labels: if s.drop_name {
                                drop_name_labels(&s.labels)
                            } else {
                                s.labels
                            },
                            points: w.to_vec(),
                        });
                    }
                }
                Value::Matrix(out)
            }
        }
    } else {
        match val {
            Val::Scalar(v) => Value::Matrix(vec![Series {
                labels: Labels::default(),
                points: ev.times().zip(v).collect(),
            }]),
            Val::Vector(vs) => {
                let vs = finish_names(vs, false)?;
                let mut out: Vec<Series> = vs
                    .into_iter()
                    .filter(|s| !s.points.is_empty())
                    .map(|s| Series {
                        labels: s.labels,
                        points: s.points,
                    })
                    .collect();
                out.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(out)
            }
            other => {
                return Err(QueryError::Execution(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                other.type_name()
            )))
            }
        }
    };
    let shared = shared.into_inner();
    let mut warnings = shared.warnings;
    let mut infos = shared.infos;
    dedup(&mut warnings);
    dedup(&mut infos);
    Ok(QueryOutput {
        value,
        warnings,
        infos,
        stats: QueryStats {
            total_queryable_samples: shared.samples_read,
            peak_samples: shared.held as u64,
            prepare_time: Default::default(),
            eval_time: began.elapsed(),
        },
    })
}

fn dedup(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(s.clone()));
}

/// Removes `__name__` where an operation asked for it, merges series with
/// the same labels, and refuses results where two of them have a value at
/// the same time.
fn finish_names(vs: Vec<VSeries>, instant: bool) -> Result<Vec<VSeries>, QueryError> {
    let mut out: Vec<VSeries> = Vec::with_capacity(vs.len());
    let mut index: std::collections::HashMap<Labels, usize> = std::collections::HashMap::new();
    for mut s in vs {
        if s.points.is_empty() {
            continue;
        }
        if s.drop_name {
            s.labels = drop_name_labels(&s.labels);
            s.drop_name = false;
        }
        // Series with the same labels (after `or`, or once names are
        // gone) are one series if they never overlap.
        match index.get(&s.labels) {
            Some(&i) => {
                let o = &mut out[i];
                let overlap = instant
                    || s.points
                        .iter()
                        .any(|(t, _)| o.points.binary_search_by_key(t, |p| p.0).is_ok());
                if overlap {
                    return Err(QueryError::Execution(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
                o.points.extend(s.points);
                o.points.sort_by_key(|p| p.0);
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// The labels without the metric name and, as Prometheus 3 does, the
/// `__type__`/`__unit__` labels that describe it.
pub fn drop_name_labels(l: &Labels) -> Labels {
    if l.get(METRIC_NAME).is_none() && l.get("__type__").is_none() && l.get("__unit__").is_none() {
        return l.clone();
    }
    l.filtered(|n, _| n != METRIC_NAME && n != "__type__" && n != "__unit__")
}

/// Milliseconds of a parser duration.
pub fn duration_ms(d: &std::time::Duration) -> i64 {
    d.as_millis() as i64
}

pub fn offset_ms(o: Option<&Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
    }
}

/// Converts a selector's matchers (with its metric name) to storage
/// matchers.
pub fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(
            Matcher::new(MatchOp::Equal, METRIC_NAME, name)
                .map_err(|e| QueryError::Parse(e.to_string()))?,
        );
    }
    for m in &vs.matchers.matchers {
        let op = match &m.op {
            PMatchOp::Equal => MatchOp::Equal,
            PMatchOp::NotEqual => MatchOp::NotEqual,
            PMatchOp::Re(_) => MatchOp::RegexMatch,
            PMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
        };
        out.push(Matcher::new(op, &m.name, &m.value).map_err(|e| {
            QueryError::Parse(format!("invalid regular expression {:?}: {e}", m.value))
        })?);
    }
    Ok(out)
}

impl<'a> Evaluator<'a> {
    /// The step times.
    pub fn times(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.steps()).map(move |i| self.start + i as i64 * self.step)
    }

    pub fn steps(&self) -> usize {
        ((self.end - self.start) / self.step + 1) as usize
    }

    /// Index of a step time.
    pub fn index(&self, t: i64) -> usize {
        ((t - self.start) / self.step) as usize
    }

    pub fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("query execution"));
        }
        Ok(())
    }

    pub fn warn(&self, w: String) {
        self.shared
            .borrow_mut()
            .warnings
            .push(format!("PromQL warning: {w}"));
    }

    pub fn info(&self, i: String) {
        self.shared
            .borrow_mut()
            .infos
            .push(format!("PromQL info: {i}"));
    }

    /// Accounts for samples held; errors past the limit.
    pub fn hold(&self, n: usize) -> Result<(), QueryError> {
        let mut s = self.shared.borrow_mut();
        s.held += n;
        if s.held > self.opts.max_samples {
            return Err(QueryError::TooManySamples("query execution"));
        }
        Ok(())
    }

    pub fn at_ms(&self, at: Option<&AtModifier>) -> Option<i64> {
        at.map(|a| match a {
            AtModifier::Start => self.query_start,
            AtModifier::End => self.query_end,
            AtModifier::At(t) => match t.duration_since(SystemTime::UNIX_EPOCH) {
                Ok(d) => d.as_millis() as i64,
                Err(e) => -(e.duration().as_millis() as i64),
            },
        })
    }

    /// The samples of `samples` in the window ending at `reference`.
    pub fn window<'s>(
        &self,
        samples: &'s [(i64, f64)],
        reference: i64,
        range: i64,
    ) -> &'s [(i64, f64)] {
        let lo_t = reference - range;
        let lo = if self.opts.closed_windows {
            samples.partition_point(|s| s.0 < lo_t)
        } else {
            samples.partition_point(|s| s.0 <= lo_t)
        };
        let hi = samples.partition_point(|s| s.0 <= reference);
        &samples[lo..hi.max(lo)]
    }

    /// Evaluates a node for all steps.
    pub fn eval(&self, e: &Expr) -> Result<Val, QueryError> {
        let v = self.eval_node(e)?;
        if self.opts.delayed_name_removal {
            return Ok(v);
        }
        // Without delayed removal a dropped name goes now, and two series
        // left with the same labels at a step are an error here, as in
        // Prometheus.
        Ok(match v {
            Val::Vector(vs) if vs.iter().any(|s| s.drop_name) => {
                let vs: Vec<VSeries> = vs
                    .into_iter()
                    .map(|mut s| {
                        if s.drop_name {
                            s.labels = drop_name_labels(&s.labels);
                            s.drop_name = false;
                        }
                        s
                    })
                    .collect();
                self.check_unique(&vs)?;
                Val::Vector(vs)
            }
            Val::Matrix(mut m) if m.series.iter().any(|s| s.drop_name) => {
                for s in &mut m.series {
                    if s.drop_name {
                        s.labels = drop_name_labels(&s.labels);
                        s.drop_name = false;
                    }
                }
                Val::Matrix(m)
            }
            other => other,
        })
    }

    /// Refuses two series with the same labels at the same step.
    pub fn check_unique(&self, vs: &[VSeries]) -> Result<(), QueryError> {
        let mut seen: std::collections::HashMap<(&Labels, bool), Vec<bool>> =
            std::collections::HashMap::new();
        for s in vs {
            let steps = seen
                .entry((&s.labels, s.drop_name))
                .or_insert_with(|| vec![false; self.steps()]);
            for &(t, _) in &s.points {
                if std::mem::replace(&mut steps[self.index(t)], true) {
                    return Err(QueryError::Execution(
                        "vector cannot contain metrics with the same labelset".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn eval_node(&self, e: &Expr) -> Result<Val, QueryError> {
        self.check_deadline()?;
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; self.steps()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => match self.eval(&u.expr)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(mut vs) => {
                    for s in &mut vs {
                        s.drop_name = true;
                        for p in &mut s.points {
                            p.1 = -p.1;
                        }
                    }
                    Ok(Val::Vector(vs))
                }
                other => Err(QueryError::Execution(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => self.vector_selector(vs, false).map(Val::Vector),
            Expr::MatrixSelector(ms) => {
                let range = duration_ms(&ms.range);
                self.range_selector(&ms.vs, range).map(Val::Matrix)
            }
            Expr::Subquery(sq) => self.subquery(sq).map(Val::Matrix),
            Expr::Call(c) => functions::call(self, c),
            Expr::Aggregate(a) => aggregate::eval(self, a),
            Expr::Binary(b) => binary::eval(self, b),
            Expr::Extension(_) => Err(QueryError::Execution(
                "extension expressions are not supported".into(),
            )),
        }
    }

    /// Reads a selector's series with samples in `[mint, maxt]`.
    fn select(
        &self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<crate::storage::SeriesData>, QueryError> {
        let matchers = selector_matchers(vs)?;
        let data = self.store.select(&matchers, mint, maxt)?;
        let n: usize = data.iter().map(|d| d.samples.len()).sum();
        self.shared.borrow_mut().samples_read += n as u64;
        Ok(data)
    }

    /// An instant selector at every step. `timestamps`: the value is the
    /// sample's timestamp in seconds (`timestamp(x)`).
    pub fn vector_selector(
        &self,
        vs: &VectorSelector,
        timestamps: bool,
    ) -> Result<Vec<VSeries>, QueryError> {
        let offset = offset_ms(vs.offset.as_ref());
        let at = self.at_ms(vs.at.as_ref());
        let lookback = self.opts.lookback_ms;
        let (ref_lo, ref_hi) = match at {
            Some(a) => (a - offset, a - offset),
            None => (self.start - offset, self.end - offset),
        };
        let data = self.select(vs, ref_lo - lookback, ref_hi)?;
        let steps = self.steps();
        let closed = self.opts.closed_windows;
        let pick =
            |samples: &[(i64, f64)], reference: i64, from: usize| -> (usize, Option<(i64, f64)>) {
                let mut j = from;
                while j < samples.len() && samples[j].0 <= reference {
                    j += 1;
                }
                let found = j.checked_sub(1).map(|k| samples[k]).filter(|&(t, v)| {
                    let fresh = if closed {
                        t >= reference - lookback
                    } else {
                        t > reference - lookback
                    };
                    fresh && !is_stale(v)
                });
                (j, found)
            };
        let mut out = Vec::with_capacity(data.len());
        for d in data {
            // Inside a subquery a selector is read at every inner step:
            // the deadline and the sample limit are checked per series,
            // before the points pile up.
            self.check_deadline()?;
            let mut points = Vec::new();
            let value = |(t, v): (i64, f64)| if timestamps { t as f64 / 1000.0 } else { v };
            match at {
                Some(a) => {
                    if let (_, Some(s)) = pick(&d.samples, a - offset, 0) {
                        points = self.times().map(|t| (t, value(s))).collect();
                    }
                }
                None => {
                    points.reserve(steps);
                    let mut j = 0;
                    for t in self.times() {
                        let (next, found) = pick(&d.samples, t - offset, j);
                        j = next.saturating_sub(1);
                        if let Some(s) = found {
                            points.push((t, value(s)));
                        }
                    }
                }
            }
            if !points.is_empty() {
                self.hold(points.len())?;
                out.push(VSeries {
                    labels: d.labels,
                    drop_name: timestamps,
                    points,
                });
            }
        }
        Ok(out)
    }

    fn range_selector(&self, vs: &VectorSelector, range: i64) -> Result<RangeVec, QueryError> {
        let offset = offset_ms(vs.offset.as_ref());
        let at = self.at_ms(vs.at.as_ref());
        let (ref_lo, ref_hi) = match at {
            Some(a) => (a - offset, a - offset),
            None => (self.start - offset, self.end - offset),
        };
        let data = self.select(vs, ref_lo - range, ref_hi)?;
        let mut series = Vec::with_capacity(data.len());
        let mut widest = 0usize;
        for d in data {
            let samples: Vec<(i64, f64)> =
                d.samples.into_iter().filter(|s| !is_stale(s.1)).collect();
            if samples.is_empty() {
                continue;
            }
            widest = widest.max(self.window(&samples, ref_lo, range).len());
            series.push(RSeries {
                labels: d.labels,
                drop_name: false,
                samples,
            });
        }
        self.hold(widest * series.len().max(1))?;
        Ok(RangeVec {
            series,
            range,
            offset,
            at,
            metric_name: vs.name.clone(),
        })
    }

    fn subquery(&self, sq: &SubqueryExpr) -> Result<RangeVec, QueryError> {
        let range = duration_ms(&sq.range);
        let step = sq
            .step
            .as_ref()
            .map(duration_ms)
            .filter(|&s| s > 0)
            .unwrap_or(self.opts.default_subquery_step_ms);
        let offset = offset_ms(sq.offset.as_ref());
        let at = self.at_ms(sq.at.as_ref());
        let (ref_lo, ref_hi) = match at {
            Some(a) => (a - offset, a - offset),
            None => (self.start - offset, self.end - offset),
        };
        // First inner step: the first multiple of `step` inside the
        // earliest window.
        let lo = ref_lo - range;
        let mut start = lo.div_euclid(step) * step;
        if start < lo || (!self.opts.closed_windows && start == lo) {
            start += step;
        }
        let mut series = Vec::new();
        if start <= ref_hi {
            // Every inner node holds at least one value per inner step (a
            // literal, `vector(1)`): `[10y:1ms]` is refused here, before
            // anything that size is allocated.
            let steps = (ref_hi - start) / step + 1;
            let held = self.shared.borrow().held;
            if usize::try_from(steps)
                .map_or(true, |n| n > self.opts.max_samples.saturating_sub(held))
            {
                return Err(QueryError::TooManySamples("query execution"));
            }
            let inner = Evaluator {
                opts: self.opts,
                store: self.store,
                start,
                end: ref_hi,
                step,
                query_start: self.query_start,
                query_end: self.query_end,
                deadline: self.deadline,
                shared: self.shared,
            };
            match inner.eval(&sq.expr)? {
                Val::Vector(vs) => {
                    for s in vs {
                        series.push(RSeries {
                            labels: s.labels,
                            drop_name: s.drop_name,
                            samples: s.points,
                        });
                    }
                }
                Val::Scalar(v) => series.push(RSeries {
                    labels: Labels::default(),
                    drop_name: false,
                    samples: inner.times().zip(v).collect(),
                }),
                other => {
                    return Err(QueryError::Execution(format!(
                        "subquery is only allowed on instant vector, got {}",
                        other.type_name()
                    )))
                }
            }
        }
        Ok(RangeVec {
            series,
            range,
            offset,
            at,
            metric_name: None,
        })
    }

    /// The reference time of step `t` for a range vector.
    pub fn reference(&self, m: &RangeVec, t: i64) -> i64 {
        m.at.unwrap_or(t) - m.offset
    }

    /// Evaluates an argument that must be a scalar.
    pub fn scalar_arg(&self, e: &Expr) -> Result<Vec<f64>, QueryError> {
        match self.eval(e)? {
            Val::Scalar(v) => Ok(v),
            other => Err(QueryError::Execution(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an argument that must be an instant vector.
    pub fn vector_arg(&self, e: &Expr) -> Result<Vec<VSeries>, QueryError> {
        match self.eval(e)? {
            Val::Vector(v) => Ok(v),
            other => Err(QueryError::Execution(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates an argument that must be a range vector.
    pub fn matrix_arg(&self, e: &Expr) -> Result<RangeVec, QueryError> {
        match self.eval(e)? {
            Val::Matrix(m) => Ok(m),
            other => Err(QueryError::Execution(format!(
                "expected range vector, got {}",
                other.type_name()
            ))),
        }
    }
}

/// Strips parentheses.
pub fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren(p) = e {
        e = &p.expr;
    }
    e
}
