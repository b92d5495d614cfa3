//! Point-wise math on instant vectors (`abs`, `sqrt`, trigonometry, …) and
//! the point mapper `clamp` and `round` use too, Go's `math.Max`/`Min`, and
//! the date functions (`hour`, `day_of_week`, `days_in_month`, …).

use chrono::{Datelike, TimeZone, Timelike};
use promql_parser::parser::Expr;

use crate::promql::eval::{Evaluator, VSeries, Val};
use crate::promql::QueryError;
use crate::storage::Labels;

/// Maps every point; `f` gets the step index and may drop the point.
pub(super) fn map_indexed(
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

pub(super) fn math_fn(name: &str) -> fn(f64) -> f64 {
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

pub(super) fn date_fn(ev: &Evaluator, name: &str, arg: Option<&Expr>) -> Result<Val, QueryError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_min_max_nan() {
        assert!(go_max(1.0, f64::NAN).is_nan());
        assert_eq!(go_min(1.0, 2.0), 1.0);
        assert!(go_min(0.0, -0.0).is_sign_negative());
        assert!(go_min(-0.0, 0.0).is_sign_negative());
        assert!(go_max(-0.0, 0.0).is_sign_positive());
    }
}
