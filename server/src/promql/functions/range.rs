//! The range-vector functions (`rate` and its kin, `deriv`,
//! `predict_linear`, `double_exponential_smoothing`, the `*_over_time`
//! window functions) and the numerics they share with aggregation:
//! Kahan–Neumaier sums, [`Mean`], variance, [`quantile`].

use promql_parser::parser::Expr;

use crate::promql::eval::{Evaluator, RangeVec, VSeries, Val};
use crate::promql::QueryError;

/// Applies a window function to a range-vector argument.
pub(super) fn over(
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

/// Prometheus's `rate`/`increase` (and `delta`) over one window.
pub(super) fn extrapolated_rate(
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
pub(super) fn instant_delta(w: &[(i64, f64)], rate: bool) -> Option<f64> {
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

pub(super) fn double_exponential_smoothing(w: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
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

pub(super) fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let mut m = Mean::default();
    for v in values {
        m.add(v);
    }
    m.value()
}

/// Population variance (Welford, compensated).
pub(super) fn variance(values: impl Iterator<Item = f64>) -> f64 {
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

/// The "metric might not be a counter" info for rate/increase.
pub(super) fn note_non_counter(ev: &Evaluator, m: &RangeVec) {
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
}
