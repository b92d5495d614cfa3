//! What a query returns, in Prometheus's four result types.

use crate::storage::Labels;

/// A timestamp (ms) and a value.
pub type Point = (i64, f64);

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// One series of a matrix: points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<Point>,
}

/// A query result.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar {
        t: i64,
        v: f64,
    },
    String {
        t: i64,
        v: String,
    },
    /// Instant query of an instant-vector expression. The order is the
    /// expression's (`sort`, `topk`, …); otherwise it is not defined.
    Vector(Vec<Sample>),
    /// Range query (sorted by labels), or an instant query of a range
    /// vector (raw samples of each window).
    Matrix(Vec<Series>),
}

impl Value {
    /// Prometheus's `resultType`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// A value as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it, with
/// `+Inf`, `-Inf` and `NaN`: what `count_values` puts in its label and the
/// parse_query tree shows for numbers.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's Display prints the shortest representation that round
        // trips, without an exponent — what Go's 'f', -1 prints.
        format!("{v}")
    }
}

/// A sample value as Prometheus's JSON API writes it: like
/// [`format_value`], but in exponent form (`7.389999999999999e-08`,
/// `5.12e+29`) below 1e-6 and from 1e21 on.
pub fn format_json_value(v: f64) -> String {
    let abs = v.abs();
    if v.is_finite() && abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        return go_exponent_form(v).0;
    }
    format_value(v)
}

pub use pharos_agent::gofmt::exponent_form as go_exponent_form;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_as_prometheus_writes_them() {
        assert_eq!(
            format_json_value(7.389999999999999e-08),
            "7.389999999999999e-08"
        );
        assert_eq!(
            format_json_value(5.120656794802596e29),
            "5.120656794802596e+29"
        );
        assert_eq!(format_json_value(1e21), "1e+21");
        assert_eq!(format_json_value(1e-6), "0.000001");
        assert_eq!(format_json_value(123.5), "123.5");
        assert_eq!(format_json_value(0.0), "0");
        assert_eq!(format_json_value(f64::NEG_INFINITY), "-Inf");
    }
}
