//! PromQL functions, each over all steps of its arguments.
//!
//! Range-vector functions (`rate`, `*_over_time`, …) slide over each
//! series' raw samples, one window per step; instant-vector functions map
//! points. Numerics follow Prometheus where the last bits matter for its
//! tests: Kahan–Neumaier sums, the mean that switches to an incremental
//! form on overflow, Welford variance, Go's `math.Max`/`Min` NaN rules.
//!
//! The dispatch table [`call`] is here, with the helpers every family
//! shares (string arguments, Go's float formats); the functions themselves
//! live by family:
//!
//! - `range.rs`: the range-vector functions (`rate`, `increase`, `delta`,
//!   `irate`, `deriv`, `predict_linear`, `double_exponential_smoothing`,
//!   `*_over_time`) and their numerics: Kahan sums, [`Mean`], variance,
//!   [`quantile`], linear regression;
//! - `math.rs`: point-wise math (`abs`, `sqrt`, trigonometry, …) and the
//!   point mapper `clamp` and `round` use too, Go's [`go_max`]/[`go_min`],
//!   the date functions (`hour`, `month`, …);
//! - `absent.rs`: `absent` and `absent_over_time`;
//! - `label.rs`: `label_replace`, `label_join`, label-name validity;
//! - `sort.rs`: `sort_by_label` and the orders of `sort`/`sort_desc`;
//! - `histogram.rs`: `histogram_quantile` and `histogram_fraction` over
//!   classic `le` buckets.

mod absent;
mod histogram;
mod label;
mod math;
mod range;
mod sort;

use promql_parser::parser::{Call, Expr};

use super::eval::{unparen, Evaluator, VSeries, Val};
use super::QueryError;
use crate::storage::Labels;

use absent::{absent, absent_over_time};
pub use histogram::almost_equal;
use histogram::{histogram_fraction, histogram_quantile};
pub use label::valid_label_name;
use label::{label_join, label_replace};
use math::{date_fn, map_indexed, math_fn};
pub use math::{go_max, go_min};
use range::{
    double_exponential_smoothing, extrapolated_rate, instant_delta, mean, note_non_counter, over,
    variance,
};
pub use range::{
    kahan_inc, kahan_sum, linear_regression, over_time, over_time_indexed, quantile, Mean,
};
use sort::{by_value, sort_by_label};

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

pub(super) fn string_arg(e: &Expr) -> Result<String, QueryError> {
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

/// Go's `%f` (6 decimals).
fn go_float_f(v: f64) -> String {
    format!("{v:.6}")
}

/// Go's `%g` for the values annotations print (shortest form).
pub use pharos_agent::gofmt::float_g as go_float_g;
