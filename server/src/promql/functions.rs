//! PromQL functions, each over all steps of its arguments.
//!
//! Range-vector functions (`rate`, `*_over_time`, …) slide over each
//! series' raw samples, one window per step; instant-vector functions map
//! points. Numerics follow Prometheus where the last bits matter for its
//! tests: Kahan–Neumaier sums, the mean that switches to an incremental
//! form on overflow, Welford variance, Go's `math.Max`/`Min` NaN rules.

use chrono::{Datelike, TimeZone, Timelike};
use promql_parser::parser::{Call, Expr};

use super::eval::{unparen, Evaluator, RangeVec, VSeries, Val};
use super::QueryError;
use crate::storage::{Labels, MatchOp, METRIC_NAME};

/// Dispatches a function call.
pub fn call(ev: &Evaluator, c: &Call) -> Result<Val, QueryError> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    match name {
        "time" => Ok(Val::Scalar(ev.times().map(|t| t as f64 / 1000.0).collect())),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; ev.steps()])),
        "vector" => {
            let v = ev.scalar_arg(args[0])?;
            Ok(Val::Vector(vec![VSeries {
                labels: Labels::default(),
                drop_name: false,
                points: ev.times().zip(v).collect(),
            }]))
        }
        "scalar" => {
            let vs = ev.vector_arg(args[0])?;
            let mut count = vec![0u32; ev.steps()];
            let mut value = vec![f64::NAN; ev.steps()];
            for s in &vs {
                for &(t, v) in &s.points {
                    let i = ev.index(t);
                    count[i] += 1;
                    value[i] = v;
                }
            }
            Ok(Val::Scalar(
                count
                    .iter()
                    .zip(value)
                    .map(|(&n, v)| if n == 1 { v } else { f64::NAN })
                    .collect(),
            ))
        }
        "timestamp" => match unparen(args[0]) {
            Expr::VectorSelector(vs) => Ok(Val::Vector(ev.vector_selector(vs, true)?)),
            other => {
                let mut vs = ev.vector_arg(other)?;
                for s in &mut vs {
                    s.drop_name = true;
                    for p in &mut s.points {
                        p.1 = p.0 as f64 / 1000.0;
                    }
                }
                Ok(Val::Vector(vs))
            }
        },
        "absent" => absent(ev, args[0]),
        "absent_over_time" => absent_over_time(ev, args[0]),
        "label_replace" => label_replace(ev, &args),
        "label_join" => label_join(ev, &args),
        "sort" | "sort_desc" => {
            let mut vs = ev.vector_arg(args[0])?;
            if ev.steps() == 1 {
                let key = |s: &VSeries| s.points.first().map_or(f64::NAN, |p| p.1);
                let desc = name == "sort_desc";
                vs.sort_by(|a, b| by_value(key(a), key(b), desc));
            }
            Ok(Val::Vector(vs))
        }
        "sort_by_label" | "sort_by_label_desc" => sort_by_label(ev, &args, name.ends_with("_desc")),
        "clamp" => {
            let vs = ev.vector_arg(args[0])?;
            let lo = ev.scalar_arg(args[1])?;
            let hi = ev.scalar_arg(args[2])?;
            // max < min gives nothing at that step.
            Ok(Val::Vector(map_indexed(ev, vs, true, |i, v| {
                (hi[i] >= lo[i] || hi[i].is_nan() || lo[i].is_nan())
                    .then(|| go_max(lo[i], go_min(hi[i], v)))
            })))
        }
        "clamp_min" | "clamp_max" => {
            let vs = ev.vector_arg(args[0])?;
            let bound = ev.scalar_arg(args[1])?;
            let min = name == "clamp_min";
            Ok(Val::Vector(map_indexed(ev, vs, true, |i, v| {
                Some(if min {
                    go_max(bound[i], v)
                } else {
                    go_min(bound[i], v)
                })
            })))
        }
        "round" => {
            let vs = ev.vector_arg(args[0])?;
            let to = match args.get(1) {
                Some(a) => ev.scalar_arg(a)?,
                None => vec![1.0; ev.steps()],
            };
            Ok(Val::Vector(map_indexed(ev, vs, true, |i, v| {
                let inv = 1.0 / to[i];
                Some((v * inv + 0.5).floor() / inv)
            })))
        }
        "abs" | "ceil" | "floor" | "exp" | "sqrt" | "ln" | "log2" | "log10" | "sgn" | "sin"
        | "cos" | "tan" | "asin" | "acos" | "atan" | "sinh" | "cosh" | "tanh" | "asinh"
        | "acosh" | "atanh" | "deg" | "rad" => {
            let f = math_fn(name);
            let vs = ev.vector_arg(args[0])?;
            Ok(Val::Vector(map_indexed(ev, vs, true, |_, v| Some(f(v)))))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => date_fn(ev, name, args.first().copied()),
        "histogram_quantile" => histogram_quantile(ev, &args),
        // Native-histogram functions: float series have no histograms,
        // so they give nothing (as in Prometheus).
        "histogram_fraction" => histogram_fraction(ev, &args),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            let last = args.last().expect("parser checked arity");
            ev.vector_arg(last)?;
            Ok(Val::Vector(Vec::new()))
        }
        "rate" | "increase" | "delta" => {
            let m = ev.matrix_arg(args[0])?;
            let counter = name != "delta";
            if counter {
                note_non_counter(ev, &m);
            }
            let rate = name == "rate";
            over_time(ev, &m, false, |w, reference| {
                extrapolated_rate(w, reference - m.range, reference, m.range, counter, rate)
            })
        }
        "irate" | "idelta" => {
            let m = ev.matrix_arg(args[0])?;
            let rate = name == "irate";
            over_time(ev, &m, false, |w, _| instant_delta(w, rate))
        }
        "deriv" => {
            let m = ev.matrix_arg(args[0])?;
            over_time(ev, &m, false, |w, _| {
                (w.len() >= 2).then(|| linear_regression(w, w[0].0).0)
            })
        }
        "predict_linear" => {
            let m = ev.matrix_arg(args[0])?;
            let d = ev.scalar_arg(args[1])?;
            let times: Vec<i64> = ev.times().collect();
            over_time_indexed(ev, &m, false, |w, _, i| {
                (w.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(w, times[i]);
                    slope * d[i] + intercept
                })
            })
        }
        "holt_winters" | "double_exponential_smoothing" => {
            let m = ev.matrix_arg(args[0])?;
            let sf = ev.scalar_arg(args[1])?;
            let tf = ev.scalar_arg(args[2])?;
            for i in 0..ev.steps() {
                if !(sf[i] > 0.0 && sf[i] < 1.0) {
                    return Err(QueryError::Execution(format!(
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
                        go_float_f(sf[i])
                    )));
                }
                if !(tf[i] > 0.0 && tf[i] < 1.0) {
                    return Err(QueryError::Execution(format!(
                        "invalid trend factor. Expected: 0 < tf < 1, got: {}",
                        go_float_f(tf[i])
                    )));
                }
            }
            over_time_indexed(ev, &m, false, |w, _, i| {
                double_exponential_smoothing(w, sf[i], tf[i])
            })
        }
        "changes" | "resets" => {
            let m = ev.matrix_arg(args[0])?;
            let resets = name == "resets";
            over_time(ev, &m, false, |w, _| {
                if w.is_empty() {
                    return None;
                }
                let n = w
                    .windows(2)
                    .filter(|p| {
                        let (prev, cur) = (p[0].1, p[1].1);
                        if resets {
                            cur < prev
                        } else {
                            cur != prev && !(cur.is_nan() && prev.is_nan())
                        }
                    })
                    .count();
                Some(n as f64)
            })
        }
        "sum_over_time" => over(ev, args[0], false, |w| {
            Some(kahan_sum(w.iter().map(|p| p.1)))
        }),
        "avg_over_time" => over(ev, args[0], false, |w| Some(mean(w.iter().map(|p| p.1)))),
        "count_over_time" => over(ev, args[0], false, |w| Some(w.len() as f64)),
        "min_over_time" | "max_over_time" => {
            let max = name == "max_over_time";
            over(ev, args[0], false, |w| {
                let mut it = w.iter().map(|p| p.1);
                let first = it.next()?;
                Some(it.fold(first, |acc, v| {
                    let better = if max { v > acc } else { v < acc };
                    if better || acc.is_nan() {
                        v
                    } else {
                        acc
                    }
                }))
            })
        }
        "last_over_time" => over(ev, args[0], true, |w| w.last().map(|p| p.1)),
        "present_over_time" => over(ev, args[0], false, |w| (!w.is_empty()).then_some(1.0)),
        "stddev_over_time" | "stdvar_over_time" => {
            let dev = name == "stddev_over_time";
            over(ev, args[0], false, |w| {
                let var = variance(w.iter().map(|p| p.1));
                Some(if dev { var.sqrt() } else { var })
            })
        }
        "mad_over_time" => over(ev, args[0], false, |w| {
            let mut values: Vec<f64> = w.iter().map(|p| p.1).collect();
            let median = quantile(0.5, &mut values);
            let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
            Some(quantile(0.5, &mut dev))
        }),
        "ts_of_min_over_time" | "ts_of_max_over_time" | "ts_of_last_over_time" => {
            let which = name;
            over(ev, args[0], false, |w| {
                let (mut best_t, mut best) = *w.first()?;
                for &(t, v) in &w[1..] {
                    let take = match which {
                        "ts_of_min_over_time" => v <= best || best.is_nan(),
                        "ts_of_max_over_time" => v >= best || best.is_nan(),
                        _ => true,
                    };
                    if take && !v.is_nan() || which == "ts_of_last_over_time" {
                        best_t = t;
                        best = v;
                    }
                }
                Some(best_t as f64 / 1000.0)
            })
        }
        "quantile_over_time" => {
            let q = ev.scalar_arg(args[0])?;
            let m = ev.matrix_arg(args[1])?;
            for &q in &q {
                if !(0.0..=1.0).contains(&q) {
                    ev.warn(format!(
                        "quantile value should be between 0 and 1, got {}",
                        go_float_g(q)
                    ));
                }
            }
            over_time_indexed(ev, &m, false, |w, _, i| {
                (!w.is_empty()).then(|| {
                    let mut values: Vec<f64> = w.iter().map(|p| p.1).collect();
                    quantile(q[i], &mut values)
                })
            })
        }
        other => Err(QueryError::Execution(format!(
            "function {other:?} is not supported"
        ))),
    }
}

/// Applies a window function to a range-vector argument.
fn over(
    ev: &Evaluator,
    arg: &Expr,
    keep_name: bool,
    f: impl FnMut(&[(i64, f64)]) -> Option<f64>,
) -> Result<Val, QueryError> {
    let m = ev.matrix_arg(arg)?;
    let mut f = f;
    over_time(
        ev,
        &m,
        keep_name,
        |w, _| {
            if w.is_empty() {
                None
            } else {
                f(w)
            }
        },
    )
}

/// Runs `f` on every series' window at every step; `f` gets the window
/// and the step's reference time.
pub fn over_time(
    ev: &Evaluator,
    m: &RangeVec,
    keep_name: bool,
    mut f: impl FnMut(&[(i64, f64)], i64) -> Option<f64>,
) -> Result<Val, QueryError> {
    over_time_indexed(ev, m, keep_name, |w, r, _| f(w, r))
}

/// [`over_time`] with the step index.
pub fn over_time_indexed(
    ev: &Evaluator,
    m: &RangeVec,
    keep_name: bool,
    mut f: impl FnMut(&[(i64, f64)], i64, usize) -> Option<f64>,
) -> Result<Val, QueryError> {
    let mut out = Vec::with_capacity(m.series.len());
    for s in &m.series {
        // A window function over many series is where a query spends its
        // time: check the deadline as it goes.
        ev.check_deadline()?;
        let mut points = Vec::new();
        for (i, t) in ev.times().enumerate() {
            let reference = ev.reference(m, t);
            let w = ev.window(&s.samples, reference, m.range);
            if let Some(v) = f(w, reference, i) {
                points.push((t, v));
            }
        }
        if !points.is_empty() {
            out.push(VSeries {
                labels: s.labels.clone(),
                drop_name: s.drop_name || !keep_name,
                points,
            });
        }
    }
    Ok(Val::Vector(out))
}

/// Maps every point; `f` gets the step index and may drop the point.
fn map_indexed(
    ev: &Evaluator,
    vs: Vec<VSeries>,
    drop_name: bool,
    f: impl Fn(usize, f64) -> Option<f64>,
) -> Vec<VSeries> {
    vs.into_iter()
        .filter_map(|mut s| {
            s.points = s
                .points
                .into_iter()
                .filter_map(|(t, v)| f(ev.index(t), v).map(|v| (t, v)))
                .collect();
            s.drop_name |= drop_name;
            (!s.points.is_empty()).then_some(s)
        })
        .collect()
}

/// Prometheus's `rate`/`increase` (and `delta`) over one window.
fn extrapolated_rate(
    w: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    range: i64,
    counter: bool,
    rate: bool,
) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (first_t, first_v) = w[0];
    let (last_t, last_v) = w[w.len() - 1];
    let mut result = last_v - first_v;
    if counter {
        let mut prev = first_v;
        for &(_, v) in &w[1..] {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    let mut to_start = (first_t - range_start) as f64 / 1000.0;
    let mut to_end = (range_end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg = sampled / (w.len() - 1) as f64;
    let threshold = avg * 1.1;
    // Extrapolate to the window's edges when the first/last sample is
    // within 1.1 average intervals of them, else by half an interval.
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if counter {
        // A counter cannot go below zero: extrapolate at most to where the
        // line through the samples reaches it.
        let mut to_zero = to_start;
        if result > 0.0 && first_v >= 0.0 {
            to_zero = sampled * (first_v / result);
        }
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let factor = (sampled + to_start + to_end) / sampled;
    let mut factor = factor;
    if rate {
        factor /= range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `irate` / `idelta` from the last two samples.
fn instant_delta(w: &[(i64, f64)], rate: bool) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (t1, v1) = w[w.len() - 2];
    let (t2, v2) = w[w.len() - 1];
    let mut result = if rate && v2 < v1 { v2 } else { v2 - v1 };
    if rate {
        let dt = t2 - t1;
        if dt == 0 {
            return None;
        }
        result /= dt as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares slope and the intercept at `intercept_t`.
pub fn linear_regression(w: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = w[0].1;
    let mut const_y = true;
    for (i, &(t, v)) in w.iter().enumerate() {
        if const_y && i > 0 && v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(v, sy, cy);
        (sxy, cxy) = kahan_inc(x * v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn double_exponential_smoothing(w: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, w[0].1);
    let mut b = w[1].1 - w[0].1;
    for (i, &(_, v)) in w.iter().enumerate().skip(1) {
        let x = sf * v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

/// One step of Kahan–Neumaier summation.
pub fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

pub fn kahan_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for v in values {
        (s, c) = kahan_inc(v, s, c);
    }
    s + c
}

/// The mean as Prometheus 3 computes it: a compensated sum while it is
/// finite, an incremental mean once the sum would overflow.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mean {
    count: f64,
    sum: f64,
    c: f64,
    mean: f64,
    incremental: bool,
}

impl Mean {
    pub fn add(&mut self, v: f64) {
        self.count += 1.0;
        if !self.incremental {
            let (s, c) = kahan_inc(v, self.sum, self.c);
            if self.count == 1.0 || !s.is_infinite() {
                self.sum = s;
                self.c = c;
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (self.count - 1.0);
            self.c /= self.count - 1.0;
        }
        if self.mean.is_infinite() {
            if v.is_infinite() && (self.mean > 0.0) == (v > 0.0) {
                return;
            }
            if !v.is_infinite() && !v.is_nan() {
                return;
            }
        }
        let corrected = self.mean + self.c;
        (self.mean, self.c) = kahan_inc(v / self.count - corrected / self.count, self.mean, self.c);
    }

    pub fn value(&self) -> f64 {
        if self.incremental {
            self.mean + self.c
        } else {
            self.sum / self.count + self.c / self.count
        }
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let mut m = Mean::default();
    for v in values {
        m.add(v);
    }
    m.value()
}

/// Population variance (Welford, compensated).
fn variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for v in values {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// The φ-quantile of `values` (sorted in place), interpolating linearly
/// between neighbours; NaN sorts first, as in Prometheus.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).expect("not NaN"),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Go's `math.Max`: NaN wins.
pub fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() {
            b
        } else {
            a
        }
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: NaN wins, -0 below +0 (the mirror of [`go_max`]).
pub fn go_min(a: f64, b: f64) -> f64 {
    -go_max(-a, -b)
}

/// Go's `%f` (6 decimals).
fn go_float_f(v: f64) -> String {
    format!("{v:.6}")
}

/// Go's `%g` for the values annotations print (shortest form).
pub use pharos_agent::gofmt::float_g as go_float_g;

fn math_fn(name: &str) -> fn(f64) -> f64 {
    match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        _ => unreachable!("math_fn called with {name}"),
    }
}

fn date_fn(ev: &Evaluator, name: &str, arg: Option<&Expr>) -> Result<Val, QueryError> {
    let f = |secs: f64| -> f64 {
        // Go's int64(f) truncates toward zero.
        let s = if secs.is_finite() {
            secs.trunc() as i64
        } else {
            i64::MIN
        };
        let Some(d) = chrono::Utc.timestamp_opt(s, 0).single() else {
            return f64::NAN;
        };
        match name {
            "day_of_month" => d.day() as f64,
            "day_of_week" => d.weekday().num_days_from_sunday() as f64,
            "day_of_year" => d.ordinal() as f64,
            "days_in_month" => {
                let (y, m) = (d.year(), d.month());
                let next = if m == 12 {
                    chrono::NaiveDate::from_ymd_opt(y + 1, 1, 1)
                } else {
                    chrono::NaiveDate::from_ymd_opt(y, m + 1, 1)
                };
                let this = chrono::NaiveDate::from_ymd_opt(y, m, 1);
                match (next, this) {
                    (Some(n), Some(t)) => (n - t).num_days() as f64,
                    _ => f64::NAN,
                }
            }
            "hour" => d.hour() as f64,
            "minute" => d.minute() as f64,
            "month" => d.month() as f64,
            "year" => d.year() as f64,
            _ => unreachable!("date_fn called with {name}"),
        }
    };
    match arg {
        None => Ok(Val::Vector(vec![VSeries {
            labels: Labels::default(),
            drop_name: false,
            points: ev.times().map(|t| (t, f(t as f64 / 1000.0))).collect(),
        }])),
        Some(a) => {
            let vs = ev.vector_arg(a)?;
            Ok(Val::Vector(map_indexed(ev, vs, true, |_, v| Some(f(v)))))
        }
    }
}

/// Labels `absent` gives its output: the selector's equality matchers
/// (a label matched twice, or otherwise, is left out).
fn absent_labels(e: &Expr) -> Labels {
    let vs = match unparen(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::default(),
    };
    let Ok(matchers) = super::eval::selector_matchers(vs) else {
        return Labels::default();
    };
    let mut set: Vec<(String, String)> = Vec::new();
    let mut deleted: Vec<String> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let has = set.iter().any(|(n, _)| *n == m.name);
        if m.op == MatchOp::Equal && !has && !deleted.contains(&m.name) {
            set.push((m.name.clone(), m.value.clone()));
        } else {
            set.retain(|(n, _)| *n != m.name);
            deleted.push(m.name.clone());
        }
    }
    set.sort();
    Labels::from_sorted_any(set).unwrap_or_default()
}

fn absent(ev: &Evaluator, arg: &Expr) -> Result<Val, QueryError> {
    let vs = ev.vector_arg(arg)?;
    let mut present = vec![false; ev.steps()];
    for s in &vs {
        for &(t, _) in &s.points {
            present[ev.index(t)] = true;
        }
    }
    let points: Vec<(i64, f64)> = ev
        .times()
        .zip(present)
        .filter(|(_, p)| !p)
        .map(|(t, _)| (t, 1.0))
        .collect();
    Ok(Val::Vector(if points.is_empty() {
        Vec::new()
    } else {
        vec![VSeries {
            labels: absent_labels(arg),
            drop_name: false,
            points,
        }]
    }))
}

fn absent_over_time(ev: &Evaluator, arg: &Expr) -> Result<Val, QueryError> {
    let m = ev.matrix_arg(arg)?;
    let mut points = Vec::new();
    for t in ev.times() {
        let reference = ev.reference(&m, t);
        let any = m
            .series
            .iter()
            .any(|s| !ev.window(&s.samples, reference, m.range).is_empty());
        if !any {
            points.push((t, 1.0));
        }
    }
    Ok(Val::Vector(if points.is_empty() {
        Vec::new()
    } else {
        vec![VSeries {
            labels: absent_labels(arg),
            drop_name: false,
            points,
        }]
    }))
}

fn string_arg(e: &Expr) -> Result<String, QueryError> {
    match unparen(e) {
        Expr::StringLiteral(s) => match super::prepare::invalid_utf8(&s.val) {
            Some(quoted) => Err(QueryError::Execution(format!(
                "invalid UTF-8 in string argument {quoted}"
            ))),
            None => Ok(s.val.clone()),
        },
        _ => Err(QueryError::Execution("expected a string literal".into())),
    }
}

/// Whether `name` may be a label name under the engine's rules.
pub fn valid_label_name(ev: &Evaluator, name: &str) -> bool {
    if ev.opts.legacy_label_names {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    } else {
        !name.is_empty()
    }
}

fn label_replace(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let vs = ev.vector_arg(args[0])?;
    let dst = string_arg(args[1])?;
    let repl = string_arg(args[2])?;
    let src = string_arg(args[3])?;
    let re_text = string_arg(args[4])?;
    let pattern = if ev.opts.legacy_label_names {
        format!("^(?:{re_text})$")
    } else {
        format!("^(?s:{re_text})$")
    };
    static COMPILED: std::sync::LazyLock<crate::memo::Memo<String, regex::Regex>> =
        std::sync::LazyLock::new(|| crate::memo::Memo::new(256));
    let re = COMPILED
        .get_or_try(&pattern, || regex::Regex::new(&pattern))
        .map_err(|_| {
            QueryError::Execution(format!(
                "invalid regular expression in label_replace(): {re_text}"
            ))
        })?;
    if !valid_label_name(ev, &dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(vs.len());
    for mut s in vs {
        let value = s.labels.get(&src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            let mut replaced = String::new();
            caps.expand(&repl, &mut replaced);
            s.labels = s.labels.with(&dst, &replaced);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        out.push(s);
    }
    ev.check_unique(&out)?;
    Ok(Val::Vector(out))
}

fn label_join(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let vs = ev.vector_arg(args[0])?;
    let dst = string_arg(args[1])?;
    let sep = string_arg(args[2])?;
    let srcs: Vec<String> = args[3..]
        .iter()
        .map(|a| string_arg(a))
        .collect::<Result<_, _>>()?;
    if !valid_label_name(ev, &dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    for s in &srcs {
        if !valid_label_name(ev, s) {
            return Err(QueryError::Execution(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
    }
    let mut out = Vec::with_capacity(vs.len());
    for mut s in vs {
        let joined: Vec<&str> = srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
        let joined = joined.join(&sep);
        s.labels = s.labels.with(&dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        out.push(s);
    }
    ev.check_unique(&out)?;
    Ok(Val::Vector(out))
}

fn sort_by_label(ev: &Evaluator, args: &[&Expr], desc: bool) -> Result<Val, QueryError> {
    let mut vs = ev.vector_arg(args[0])?;
    let names: Vec<String> = args[1..]
        .iter()
        .map(|a| string_arg(a))
        .collect::<Result<_, _>>()?;
    if ev.steps() != 1 {
        return Ok(Val::Vector(vs));
    }
    if ev.opts.sort_by_label_v2 {
        // Prometheus 2: the values are sorted first (as `sort` or
        // `sort_desc`, NaN last), then a stable sort by the labels keeps
        // that order among ties.
        let key = |s: &VSeries| s.points.first().map_or(f64::NAN, |p| p.1);
        vs.sort_by(|a, b| by_value(key(a), key(b), desc));
    }
    vs.sort_by(|a, b| {
        let mut ord = std::cmp::Ordering::Equal;
        for n in &names {
            let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
            ord = natural_cmp(x, y);
            if ord.is_ne() {
                break;
            }
        }
        if ord.is_eq() && !ev.opts.sort_by_label_v2 {
            ord = a.labels.cmp(&b.labels);
        }
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
    Ok(Val::Vector(vs))
}

/// Order of `sort`/`sort_desc`: NaN last either way.
fn by_value(x: f64, y: f64, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if desc => y.partial_cmp(&x).expect("not NaN"),
        _ => x.partial_cmp(&y).expect("not NaN"),
    }
}

/// Natural order: runs of digits compare as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = trim_zeros(dx);
                let ty = trim_zeros(dy);
                let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if ord.is_ne() {
                    return ord;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n.min(d.len().saturating_sub(1))..]
}

/// The "metric might not be a counter" info for rate/increase.
fn note_non_counter(ev: &Evaluator, m: &RangeVec) {
    for s in &m.series {
        let name = s.labels.metric_name();
        if !name.is_empty()
            && !s.samples.is_empty()
            && !["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|suffix| name.ends_with(suffix))
        {
            ev.info(format!(
                "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
            ));
        }
    }
}

/// Classic-histogram quantile over `le` buckets.
fn histogram_quantile(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let q = ev.scalar_arg(args[0])?;
    let vs = ev.vector_arg(args[1])?;
    for &q in &q {
        if !(0.0..=1.0).contains(&q) {
            ev.warn(format!(
                "quantile value should be between 0 and 1, got {}",
                go_float_g(q)
            ));
        }
    }
    let mut fixed = false;
    let out = per_classic_histogram(ev, &vs, |i, b| {
        let (v, forced) = bucket_quantile(q[i], b);
        fixed |= forced;
        v
    });
    if fixed {
        ev.info("input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".into());
    }
    Ok(Val::Vector(out))
}

/// Classic-histogram fraction of observations between two bounds.
fn histogram_fraction(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let lower = ev.scalar_arg(args[0])?;
    let upper = ev.scalar_arg(args[1])?;
    let vs = ev.vector_arg(args[2])?;
    let out = per_classic_histogram(ev, &vs, |i, b| bucket_fraction(lower[i], upper[i], b));
    Ok(Val::Vector(out))
}

/// Groups bucket series by their labels without `le` and computes `f` on
/// each group's buckets (upper bound, count) at every step.
fn per_classic_histogram(
    ev: &Evaluator,
    vs: &[VSeries],
    mut f: impl FnMut(usize, &mut Vec<(f64, f64)>) -> f64,
) -> Vec<VSeries> {
    let mut groups: Vec<(Labels, Vec<(f64, &VSeries)>)> = Vec::new();
    let mut index: std::collections::HashMap<Labels, usize> = std::collections::HashMap::new();
    for s in vs {
        let Some(upper) = s.labels.get("le").and_then(parse_le) else {
            let name = s.labels.metric_name();
            let le = s.labels.get("le").unwrap_or("");
            ev.warn(if name.is_empty() {
                format!("bucket label \"le\" is missing or has a malformed value of {le:?}")
            } else {
                format!(
                    "bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {name:?}"
                )
            });
            continue;
        };
        let key = s.labels.without("le");
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((upper, s));
    }
    let mut out = Vec::with_capacity(groups.len());
    for (labels, buckets) in groups {
        let mut per_step: Vec<Vec<(f64, f64)>> = vec![Vec::new(); ev.steps()];
        for (upper, s) in &buckets {
            for &(t, v) in &s.points {
                per_step[ev.index(t)].push((*upper, v));
            }
        }
        let points: Vec<(i64, f64)> = ev
            .times()
            .zip(per_step.iter_mut())
            .enumerate()
            .filter(|(_, (_, b))| !b.is_empty())
            .map(|(i, (t, b))| (t, f(i, b)))
            .collect();
        if !points.is_empty() {
            out.push(VSeries {
                labels,
                drop_name: true,
                points,
            });
        }
    }
    out
}

/// Prometheus's `BucketFraction`: the share of observations between
/// `lower` and `upper`, interpolating linearly inside buckets.
fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [(f64, f64)]) -> f64 {
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    let merged = coalesce(buckets);
    let count = merged[merged.len() - 1].1;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, &(bucket_upper, bucket_count)) in merged.iter().enumerate() {
        // The first bucket starts at 0 when its bound is positive, as in
        // histogram_quantile; otherwise at -Inf.
        let bucket_lower = match i {
            0 if bucket_upper > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => merged[i - 1].0,
        };
        let interpolate = |v: f64| {
            if bucket_lower == f64::NEG_INFINITY || bucket_upper == f64::INFINITY {
                // No width to interpolate over: the whole bucket counts.
                return if v >= bucket_upper {
                    bucket_count
                } else {
                    rank
                };
            }
            rank + (bucket_count - rank) * (v - bucket_lower) / (bucket_upper - bucket_lower)
        };
        if !lower_set && bucket_lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && bucket_lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && bucket_lower < lower && bucket_upper > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && bucket_lower < upper && bucket_upper > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = bucket_count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// Adds up buckets with the same bound (sorted input).
fn coalesce(buckets: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &(u, c) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == u => last.1 += c,
            _ => merged.push((u, c)),
        }
    }
    merged
}

fn parse_le(s: &str) -> Option<f64> {
    match s.trim() {
        "+Inf" | "Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse::<f64>().ok(),
    }
}

/// Prometheus's `BucketQuantile`; also whether the counts had to be made
/// monotonic.
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    let mut merged = coalesce(buckets);
    let buckets = &mut merged;
    let mut forced = false;
    let mut prev = buckets[0].1;
    for b in buckets.iter_mut().skip(1) {
        let cur = b.1;
        if cur < prev {
            if !almost_equal(prev, cur, 1e-12) {
                forced = true;
            }
            b.1 = prev;
        }
        prev = b.1;
    }
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].1;
    if observations == 0.0 || observations.is_nan() {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let n = buckets.len();
    let b = buckets[..n - 1].partition_point(|x| x.1 < rank);
    if b == n - 1 {
        return (buckets[n - 2].0, forced);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return (buckets[0].0, forced);
    }
    let (mut start, end, mut count) = (0.0, buckets[b].0, buckets[b].1);
    if b > 0 {
        start = buckets[b - 1].0;
        count -= buckets[b - 1].1;
        rank -= buckets[b - 1].1;
    }
    (start + (end - start) * (rank / count), forced)
}

/// Relative comparison as Prometheus's `almost.Equal`.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || a.abs() + b.abs() < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_extrapolates_like_prometheus() {
        // 0, 10, ..., 50 every 10 s in a 60 s window ending at 60 s.
        let w: Vec<(i64, f64)> = (0..6).map(|i| (i * 10_000, i as f64 * 10.0)).collect();
        let r = extrapolated_rate(&w[1..], 0, 60_000, 60_000, true, false).unwrap();
        // Samples at 10..50 s; the counter's zero point is 10 s before the
        // first: extrapolated to the full minute.
        assert!((r - 60.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn quantile_interpolates() {
        let mut v = vec![1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(0.5, &mut v), 2.5);
        assert_eq!(quantile(-1.0, &mut v), f64::NEG_INFINITY);
    }

    #[test]
    fn natural_order() {
        assert!(natural_cmp("a2", "a10").is_lt());
        assert!(natural_cmp("b", "a10").is_gt());
    }

    #[test]
    fn go_min_max_nan() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert_eq!(go_min(1.0, 2.0), 1.0);
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert!(go_min(-0.0, 0.0).is_sign_negative());
        assert!(go_max(-0.0, 0.0).is_sign_positive());
    }
}
