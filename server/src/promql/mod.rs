//! PromQL: parse with `promql-parser`, evaluate with our own engine.
//!
//! The engine answers instant queries (one evaluation time) and range
//! queries (`start..=end` every `step`) with Prometheus's results. It is
//! organised like the pipeline a query goes through:
//!
//! - [`prepare`]: text → AST: constant duration arithmetic folded
//!   (`[5m+1m]`), functions Prometheus 2 had registered, checks the parser
//!   leaves to the engine;
//! - [`eval`]: the evaluator. Every node is evaluated once for all steps
//!   of the query: an instant vector is a set of [`Series`] with one point
//!   per step where the series has a value, a range vector (selector or
//!   subquery) keeps its raw samples and each step reads its own window.
//!   Selectors apply the lookback and staleness; subqueries evaluate their
//!   inner expression on their own absolutely aligned steps;
//! - [`functions`], [`aggregate`], [`binary`]: the operations, each over
//!   all steps of its inputs;
//! - [`value`]: what a query returns ([`Value`]);
//! - [`notation`]: the series notation of Prometheus's test files.
//!
//! Two window rules exist: Prometheus 3 reads ranges and the lookback as
//! left-open intervals (`(t-r, t]`), Prometheus 2 as closed ones
//! (`[t-r, t]`). [`EngineOptions::closed_windows`] picks the latter; the
//! server uses Prometheus 3's rule, the conformance runner both.
//!
//! An operation that drops `__name__` marks the series; the name goes when
//! the node is done, or — with [`EngineOptions::delayed_name_removal`], as
//! Prometheus 3's feature flag — at the very end of the query.

pub mod aggregate;
pub mod binary;
pub mod eval;
pub mod functions;
pub mod notation;
pub mod prepare;
pub mod value;

use std::time::Duration;

pub use value::{Point, Sample, Series, Value};

use crate::storage::{Queryable, StorageError};

/// Engine limits and behaviour switches.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample
    /// (`--query.lookback-delta`, 5m).
    pub lookback_ms: i64,
    /// Most samples a query may hold in memory at once
    /// (`--query.max-samples`, 50 000 000).
    pub max_samples: usize,
    /// Query time limit (`--query.timeout`, 2m).
    pub timeout: Duration,
    /// Step of subqueries written without one (`[1h:]`); Prometheus uses
    /// the global evaluation interval.
    pub default_subquery_step_ms: i64,
    /// Prometheus 2's closed windows (`[t-r, t]`) instead of Prometheus 3's
    /// left-open ones (`(t-r, t]`), for ranges, the lookback and subquery
    /// alignment.
    pub closed_windows: bool,
    /// Prometheus 2's label name rule (`[a-zA-Z_][a-zA-Z0-9_]*`) for names
    /// that functions create; Prometheus 3 accepts any UTF-8.
    pub legacy_label_names: bool,
    /// Prometheus 2's `sort_by_label`: ties keep value order instead of
    /// being broken by the full label set.
    pub sort_by_label_v2: bool,
    /// Prometheus 3's `promql-delayed-name-removal` (off by default there,
    /// on in its test suite): operations only mark `__name__` for removal
    /// and it goes at the end, so `label_replace` can still read it.
    /// Off, the name goes as soon as an operation drops it.
    pub delayed_name_removal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step_ms: 60 * 1000,
            closed_windows: false,
            legacy_label_names: false,
            sort_by_label_v2: false,
            delayed_name_removal: false,
        }
    }
}

/// Why a query failed; each kind maps to one of Prometheus's `errorType`s.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query does not parse or is not well typed (`bad_data`, 400).
    #[error("{0}")]
    Parse(String),
    /// Evaluation failed (`execution`, 422).
    #[error("{0}")]
    Execution(String),
    /// `query processing would load too many samples into memory in query
    /// execution` (`execution`, 422).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The query ran past its timeout (`timeout`, 503).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// Storage could not be read (`internal`, 500).
    #[error("{0}")]
    Storage(String),
}

impl QueryError {
    /// Prometheus's `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) => "bad_data",
            QueryError::Execution(_) | QueryError::TooManySamples(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Storage(_) => "internal",
        }
    }

    /// The HTTP status Prometheus answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self.error_type() {
            "bad_data" => 400,
            "execution" => 422,
            "timeout" => 503,
            _ => 500,
        }
    }
}

impl From<StorageError> for QueryError {
    fn from(e: StorageError) -> Self {
        QueryError::Storage(e.to_string())
    }
}

/// A query's result with its annotations and statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub value: Value,
    /// `PromQL warning: …` annotations (Prometheus's `warnings`).
    pub warnings: Vec<String>,
    /// `PromQL info: …` annotations (Prometheus's `infos`).
    pub infos: Vec<String>,
    pub stats: QueryStats,
}

/// What `stats=all` reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryStats {
    /// Samples read from storage.
    pub total_queryable_samples: u64,
    /// Most samples held at once.
    pub peak_samples: u64,
    /// Time spent parsing and preparing the query.
    pub prepare_time: Duration,
    /// Time spent evaluating.
    pub eval_time: Duration,
}

/// The PromQL engine: options only; every query gets its own evaluator.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    pub opts: EngineOptions,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Engine {
        Engine { opts }
    }

    /// Evaluates `query` at `t_ms`.
    pub fn instant(
        &self,
        store: &dyn Queryable,
        query: &str,
        t_ms: i64,
    ) -> Result<QueryOutput, QueryError> {
        let expr = prepare::parse(query)?;
        eval::run(&self.opts, store, &expr, t_ms, t_ms, 0, true)
    }

    /// Evaluates `query` at every `step_ms` from `start_ms` to `end_ms`
    /// inclusive. The expression must give an instant vector or a scalar.
    pub fn range(
        &self,
        store: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryOutput, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::Parse(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::Parse(
                "end timestamp must not be before start time".into(),
            ));
        }
        let expr = prepare::parse(query)?;
        eval::run(&self.opts, store, &expr, start_ms, end_ms, step_ms, false)
    }
}
