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

/// Formats a value as Prometheus does in JSON and the text format
/// (`FormatFloat(v, 'f', -1, 64)` with `+Inf`, `-Inf`, `NaN`).
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
