//! `absent` and `absent_over_time`, and the labels their output takes from
//! the selector.

use promql_parser::parser::Expr;

use crate::promql::eval::{unparen, Evaluator, VSeries, Val};
use crate::promql::QueryError;
use crate::storage::{Labels, MatchOp, METRIC_NAME};

/// Labels `absent` gives its output: the selector's equality matchers
/// (a label matched twice, or otherwise, is left out).
fn absent_labels(e: &Expr) -> Labels {
    let vs = match unparen(e) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::default(),
    };
    let Ok(matchers) = crate::promql::eval::selector_matchers(vs) else {
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

pub(super) fn absent(ev: &Evaluator, arg: &Expr) -> Result<Val, QueryError> {
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
    Ok(absent_result(arg, points))
}

pub(super) fn absent_over_time(ev: &Evaluator, arg: &Expr) -> Result<Val, QueryError> {
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
    Ok(absent_result(arg, points))
}

/// The answer of `absent` and `absent_over_time`: one series with the
/// selector's equality labels at the steps where nothing was found, or
/// nothing.
fn absent_result(arg: &Expr, points: Vec<(i64, f64)>) -> Val {
    Val::Vector(if points.is_empty() {
        Vec::new()
    } else {
        vec![VSeries {
            labels: absent_labels(arg),
            drop_name: false,
            points,
        }]
    })
}
