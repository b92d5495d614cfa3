//! Aggregation operators over all steps at once.
//!
//! Each input series is assigned to its group once (by its labels under
//! `by`/`without`); per group, one accumulator per step collects the
//! values. `topk`, `bottomk` and `limitk` select whole input series per
//! step and keep their labels; the others produce one series per group.

use std::collections::HashMap;

use promql_parser::parser::{token, AggregateExpr, Expr, LabelModifier};

use super::eval::{unparen, Evaluator, VSeries, Val};
use super::functions::{go_float_g, kahan_inc, quantile, Mean};
use super::value::format_value;
use super::QueryError;
use crate::storage::{Labels, METRIC_NAME};

/// Per-step accumulator of the simple aggregations.
#[derive(Clone, Copy, Default)]
struct Acc {
    n: f64,
    value: f64,
    c: f64,
    mean: f64,
    avg: Mean,
}

pub fn eval(ev: &Evaluator, a: &AggregateExpr) -> Result<Val, QueryError> {
    let op = a.op.id();
    let (without, names): (bool, Vec<String>) = match &a.modifier {
        Some(LabelModifier::Include(l)) => (false, l.labels.clone()),
        Some(LabelModifier::Exclude(l)) => (true, l.labels.clone()),
        None => (false, Vec::new()),
    };
    // Parameters first, as Prometheus evaluates them.
    let param: Option<Vec<f64>> = match op {
        token::T_TOPK
        | token::T_BOTTOMK
        | token::T_LIMITK
        | token::T_QUANTILE
        | token::T_LIMIT_RATIO => {
            let p = a
                .param
                .as_deref()
                .ok_or_else(|| QueryError::Parse(format!("no parameter given to {}", a.op)))?;
            Some(ev.scalar_arg(p)?)
        }
        _ => None,
    };
    let label: Option<String> = match op {
        token::T_COUNT_VALUES => match a.param.as_deref().map(unparen) {
            Some(Expr::StringLiteral(s)) => {
                if let Some(quoted) = super::prepare::invalid_utf8(&s.val) {
                    return Err(QueryError::Execution(format!(
                        "invalid label name {quoted}"
                    )));
                }
                Some(s.val.clone())
            }
            _ => {
                return Err(QueryError::Parse(
                    "count_values needs a string parameter".into(),
                ))
            }
        },
        _ => None,
    };
    let input = ev.vector_arg(&a.expr)?;

    let group_key = |l: &Labels, extra: Option<&str>| -> Labels {
        if without {
            l.filtered(|n, _| n != METRIC_NAME && !names.iter().any(|x| x == n))
        } else {
            l.filtered(|n, _| names.iter().any(|x| x == n) || Some(n) == extra)
        }
    };
    // Group of every input series, groups in order of first appearance.
    // A group keeps `__name__` only under `by (__name__)`; it then also
    // keeps the pending removal of its first member (Prometheus 3's
    // delayed removal makes `sum by (__name__) (rate(x[5m]))` collide).
    let mut group_of: Vec<usize> = Vec::with_capacity(input.len());
    let mut groups: Vec<Labels> = Vec::new();
    let mut group_drops: Vec<bool> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in &input {
        let key = group_key(&s.labels, None);
        let g = *index.entry(key.clone()).or_insert_with(|| {
            group_drops.push(s.drop_name && key.get(METRIC_NAME).is_some());
            groups.push(key);
            groups.len() - 1
        });
        group_of.push(g);
    }
    let steps = ev.steps();
    let times: Vec<i64> = ev.times().collect();

    match op {
        token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK => {
            let k = param.expect("evaluated above");
            select_k(ev, op, &input, &group_of, groups.len(), &k)
        }
        token::T_LIMIT_RATIO => {
            let ratio = param.expect("evaluated above");
            limit_ratio(ev, input, &ratio)
        }
        token::T_QUANTILE => {
            let q = param.expect("evaluated above");
            for &q in &q {
                if !(0.0..=1.0).contains(&q) {
                    ev.warn(format!(
                        "quantile value should be between 0 and 1, got {}",
                        go_float_g(q)
                    ));
                }
            }
            let mut values: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); steps]; groups.len()];
            for (s, &g) in input.iter().zip(&group_of) {
                for &(t, v) in &s.points {
                    values[g][ev.index(t)].push(v);
                }
            }
            let out = groups
                .into_iter()
                .zip(values)
                .zip(&group_drops)
                .filter_map(|((labels, mut per_step), &drop_name)| {
                    group_series(labels, drop_name, &times, per_step.iter_mut(), |i, v| {
                        (!v.is_empty()).then(|| quantile(q[i], v))
                    })
                })
                .collect();
            Ok(Val::Vector(out))
        }
        token::T_COUNT_VALUES => {
            let label = label.expect("checked above");
            if !super::functions::valid_label_name(ev, &label) {
                return Err(QueryError::Execution(format!(
                    "invalid label name {label:?}"
                )));
            }
            // The value goes into the label first, then the series are
            // grouped (`by` keeps the value label): a clash with an
            // existing label overwrites it, as in Prometheus.
            let mut out_index: HashMap<Labels, usize> = HashMap::new();
            let mut outs: Vec<(Labels, Vec<f64>)> = Vec::new();
            for s in &input {
                for &(t, v) in &s.points {
                    let text = format_value(v);
                    let key = group_key(&s.labels.with(&label, &text), Some(&label));
                    let o = *out_index.entry(key.clone()).or_insert_with(|| {
                        outs.push((key, vec![0.0; steps]));
                        outs.len() - 1
                    });
                    outs[o].1[ev.index(t)] += 1.0;
                }
            }
            Ok(Val::Vector(
                outs.into_iter()
                    .map(|(labels, counts)| VSeries {
                        labels,
                        drop_name: false,
                        points: counts
                            .into_iter()
                            .enumerate()
                            .filter(|(_, n)| *n > 0.0)
                            .map(|(i, n)| (times[i], n))
                            .collect(),
                    })
                    .collect(),
            ))
        }
        _ => {
            let mut acc: Vec<Vec<Acc>> = vec![vec![Acc::default(); steps]; groups.len()];
            for (s, &g) in input.iter().zip(&group_of) {
                let accs = &mut acc[g];
                for &(t, v) in &s.points {
                    let a = &mut accs[ev.index(t)];
                    let first = a.n == 0.0;
                    a.n += 1.0;
                    match op {
                        token::T_SUM => {
                            if first {
                                a.value = v;
                            } else {
                                (a.value, a.c) = kahan_inc(v, a.value, a.c);
                            }
                        }
                        token::T_AVG => a.avg.add(v),
                        token::T_MIN if first || a.value > v || a.value.is_nan() => a.value = v,
                        token::T_MAX if first || a.value < v || a.value.is_nan() => a.value = v,
                        token::T_STDDEV | token::T_STDVAR => {
                            if first {
                                a.mean = v;
                                a.value = if v.is_finite() { 0.0 } else { f64::NAN };
                            } else {
                                let delta = v - a.mean;
                                a.mean += delta / a.n;
                                a.value += delta * (v - a.mean);
                            }
                        }
                        _ => {}
                    }
                }
            }
            let finish = |a: &Acc| -> f64 {
                match op {
                    token::T_SUM => a.value + a.c,
                    token::T_AVG => a.avg.value(),
                    token::T_MIN | token::T_MAX => a.value,
                    token::T_COUNT => a.n,
                    token::T_GROUP => 1.0,
                    token::T_STDVAR => a.value / a.n,
                    token::T_STDDEV => (a.value / a.n).sqrt(),
                    _ => f64::NAN,
                }
            };
            if !matches!(
                op,
                token::T_SUM
                    | token::T_AVG
                    | token::T_MIN
                    | token::T_MAX
                    | token::T_COUNT
                    | token::T_GROUP
                    | token::T_STDDEV
                    | token::T_STDVAR
            ) {
                return Err(QueryError::Execution(format!(
                    "aggregation {} is not supported",
                    a.op
                )));
            }
            let out = groups
                .into_iter()
                .zip(acc)
                .zip(&group_drops)
                .filter_map(|((labels, accs), &drop_name)| {
                    group_series(labels, drop_name, &times, accs.iter(), |_, a| {
                        (a.n > 0.0).then(|| finish(a))
                    })
                })
                .collect();
            Ok(Val::Vector(out))
        }
    }
}

/// `limit_ratio(r, v)`: a series is kept when its place in [0, 1] — the
/// hash of its labels as Prometheus computes it (xxHash64 of
/// `name\xffvalue\xff…`) over the largest hash — is below `r`, or, for a
/// negative `r`, at or above `1 + r`; so `limit_ratio(r, x)` and
/// `limit_ratio(-(1 - r), x)` split `x` exactly.
fn limit_ratio(ev: &Evaluator, input: Vec<VSeries>, ratio: &[f64]) -> Result<Val, QueryError> {
    let mut capped = false;
    let mut ratio = ratio.to_vec();
    for r in &mut ratio {
        if r.is_nan() {
            return Err(QueryError::Execution("Ratio value is NaN".to_string()));
        }
        if *r > 1.0 || *r < -1.0 {
            if !capped {
                ev.warn(format!(
                    "ratio value should be between -1 and 1, got {}, capping to {}",
                    go_float_g(*r),
                    go_float_g(r.clamp(-1.0, 1.0))
                ));
            }
            capped = true;
            *r = r.clamp(-1.0, 1.0);
        }
    }
    let out = input
        .into_iter()
        .filter_map(|mut s| {
            let mut bytes = Vec::new();
            for (n, v) in s.labels.iter() {
                bytes.extend_from_slice(n.as_bytes());
                bytes.push(0xff);
                bytes.extend_from_slice(v.as_bytes());
                bytes.push(0xff);
            }
            let offset = xxh64(&bytes) as f64 / u64::MAX as f64;
            s.points.retain(|&(t, _)| {
                let r = ratio[ev.index(t)];
                (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
            });
            (!s.points.is_empty()).then_some(s)
        })
        .collect();
    Ok(Val::Vector(out))
}

/// xxHash64 with seed 0 (the hash Prometheus's `labels.Hash` uses).
pub fn xxh64(data: &[u8]) -> u64 {
    const P1: u64 = 0x9E37_79B1_85EB_CA87;
    const P2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    const P3: u64 = 0x1656_67B1_9E37_79F9;
    const P4: u64 = 0x85EB_CA77_C2B2_AE63;
    const P5: u64 = 0x27D4_EB2F_1656_67C5;
    let round = |acc: u64, input: u64| {
        acc.wrapping_add(input.wrapping_mul(P2))
            .rotate_left(31)
            .wrapping_mul(P1)
    };
    let merge = |acc: u64, v: u64| (acc ^ round(0, v)).wrapping_mul(P1).wrapping_add(P4);
    let u64_at = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
    let mut rest = data;
    let mut h = if data.len() >= 32 {
        let mut v = [P1.wrapping_add(P2), P2, 0, 0u64.wrapping_sub(P1)];
        while rest.len() >= 32 {
            for (i, acc) in v.iter_mut().enumerate() {
                *acc = round(*acc, u64_at(&rest[i * 8..]));
            }
            rest = &rest[32..];
        }
        let mut h = v[0]
            .rotate_left(1)
            .wrapping_add(v[1].rotate_left(7))
            .wrapping_add(v[2].rotate_left(12))
            .wrapping_add(v[3].rotate_left(18));
        for x in v {
            h = merge(h, x);
        }
        h
    } else {
        P5
    };
    h = h.wrapping_add(data.len() as u64);
    while rest.len() >= 8 {
        h ^= round(0, u64_at(rest));
        h = h.rotate_left(27).wrapping_mul(P1).wrapping_add(P4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        let k = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as u64;
        h ^= k.wrapping_mul(P1);
        h = h.rotate_left(23).wrapping_mul(P2).wrapping_add(P3);
        rest = &rest[4..];
    }
    for &b in rest {
        h ^= (b as u64).wrapping_mul(P5);
        h = h.rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(P2);
    h ^= h >> 29;
    h = h.wrapping_mul(P3);
    h ^= h >> 32;
    h
}

/// A group's output series from its per-step state: a point at every step
/// where `value` gives one; `None` when there is none at all.
fn group_series<T>(
    labels: Labels,
    drop_name: bool,
    times: &[i64],
    per_step: impl Iterator<Item = T>,
    mut value: impl FnMut(usize, T) -> Option<f64>,
) -> Option<VSeries> {
    let points: Vec<(i64, f64)> = per_step
        .enumerate()
        .filter_map(|(i, x)| value(i, x).map(|v| (times[i], v)))
        .collect();
    (!points.is_empty()).then_some(VSeries {
        labels,
        drop_name,
        points,
    })
}

/// `topk`, `bottomk`, `limitk`: per step and group, which input series are
/// kept, in the order Prometheus outputs them.
fn select_k(
    ev: &Evaluator,
    op: token::TokenId,
    input: &[VSeries],
    group_of: &[usize],
    n_groups: usize,
    k: &[f64],
) -> Result<Val, QueryError> {
    let steps = ev.steps();
    // Values per step: (series index, value) per group, in input order.
    let mut at_step: Vec<Vec<Vec<(usize, f64)>>> = vec![vec![Vec::new(); n_groups]; steps];
    for (i, (s, &g)) in input.iter().zip(group_of).enumerate() {
        for &(t, v) in &s.points {
            at_step[ev.index(t)][g].push((i, v));
        }
    }
    let mut points: Vec<Vec<(i64, f64)>> = vec![Vec::new(); input.len()];
    // For an instant query: output order.
    let mut order: Vec<usize> = Vec::new();
    for (step, groups) in at_step.into_iter().enumerate() {
        let t = ev.start + step as i64 * ev.step;
        let kf = k[step];
        if kf.is_nan() {
            return Err(QueryError::Execution(format!(
                "Parameter value is NaN for {}",
                token_name(op)
            )));
        }
        let kk = if kf >= i64::MAX as f64 {
            i64::MAX
        } else {
            kf as i64
        };
        if kk < 1 {
            continue;
        }
        for members in groups {
            if members.is_empty() {
                continue;
            }
            let kk = (kk as usize).min(members.len());
            let chosen: Vec<(usize, f64)> = match op {
                token::T_LIMITK => members[..kk].to_vec(),
                _ => go_heap_select(&members, kk, op == token::T_TOPK),
            };
            for (i, v) in chosen {
                points[i].push((t, v));
                if steps == 1 {
                    order.push(i);
                }
            }
        }
    }
    let mut out: Vec<VSeries> = Vec::new();
    if steps == 1 {
        for i in order {
            out.push(VSeries {
                labels: input[i].labels.clone(),
                drop_name: input[i].drop_name,
                points: std::mem::take(&mut points[i]),
            });
        }
    } else {
        for (i, p) in points.into_iter().enumerate() {
            if !p.is_empty() {
                out.push(VSeries {
                    labels: input[i].labels.clone(),
                    drop_name: input[i].drop_name,
                    points: p,
                });
            }
        }
    }
    Ok(Val::Vector(out))
}

fn token_name(op: token::TokenId) -> &'static str {
    match op {
        token::T_TOPK => "topk",
        token::T_BOTTOMK => "bottomk",
        _ => "limitk",
    }
}

/// Prometheus keeps the k best in a binary heap (Go's container/heap) and
/// sorts it at the end; ties come out in the order that produces, so the
/// same steps are taken here.
fn go_heap_select(members: &[(usize, f64)], k: usize, top: bool) -> Vec<(usize, f64)> {
    // `less` is the heap order: the root is the worst kept element.
    let less = |a: f64, b: f64| -> bool {
        if a.is_nan() {
            return true;
        }
        if top {
            a < b
        } else {
            a > b
        }
    };
    let mut h: Vec<(usize, f64)> = Vec::with_capacity(k);
    for &m in members {
        if h.len() < k {
            h.push(m);
            let mut j = h.len() - 1;
            while j > 0 {
                let parent = (j - 1) / 2;
                if !less(h[j].1, h[parent].1) {
                    break;
                }
                h.swap(parent, j);
                j = parent;
            }
        } else {
            let root = h[0].1;
            let replace = if top {
                root < m.1 || (root.is_nan() && !m.1.is_nan())
            } else {
                root > m.1 || (root.is_nan() && !m.1.is_nan())
            };
            if replace {
                h[0] = m;
                if k > 1 {
                    down(&mut h, 0, &less);
                }
            }
        }
    }
    // sort.Sort(sort.Reverse(heap)): insertion sort for small inputs (Go
    // uses it below 12 elements), with the reversed order.
    let rless = |a: &(usize, f64), b: &(usize, f64)| less(b.1, a.1);
    if h.len() <= 12 {
        for i in 1..h.len() {
            let mut j = i;
            while j > 0 && rless(&h[j], &h[j - 1]) {
                h.swap(j, j - 1);
                j -= 1;
            }
        }
    } else {
        h.sort_by(|a, b| {
            if rless(a, b) {
                std::cmp::Ordering::Less
            } else if rless(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
    }
    h
}

fn down(h: &mut [(usize, f64)], i0: usize, less: &impl Fn(f64, f64) -> bool) {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(h[j2].1, h[j1].1) {
            j = j2;
        }
        if !less(h[j].1, h[i].1) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::xxh64;

    #[test]
    fn xxh64_reference_values() {
        assert_eq!(xxh64(b""), 0xEF46_DB37_51D8_E999);
        assert_eq!(xxh64(b"a"), 0xD24E_C4F1_A98C_6E5B);
        assert_eq!(
            xxh64(b"Nobody inspects the spammish repetition"),
            0xFBCE_A83C_8A37_8BF1
        );
    }
}
