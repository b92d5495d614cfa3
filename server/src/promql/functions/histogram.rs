//! `histogram_quantile` and `histogram_fraction` over classic histograms
//! (`le` bucket series), Prometheus's bucket interpolation, and
//! [`almost_equal`].

use promql_parser::parser::Expr;

use super::go_float_g;
use crate::promql::eval::{Evaluator, VSeries, Val};
use crate::promql::QueryError;
use crate::storage::Labels;

/// Classic-histogram quantile over `le` buckets.
pub(super) fn histogram_quantile(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
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
pub(super) fn histogram_fraction(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
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
