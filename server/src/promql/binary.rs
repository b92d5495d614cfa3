//! Binary operators: arithmetic, comparisons (filters or `bool`), the set
//! operators, and vector matching with `on`/`ignoring` and
//! `group_left`/`group_right`.
//!
//! Matching works on whole series: every series gets its signature (its
//! labels under `on`/`ignoring`, never the metric name unless `on` names
//! it) once; the "one" side's series are merged per signature, and each
//! "many"-side series is walked against its match point by point. The
//! errors Prometheus raises per step (duplicate series on the "one" side,
//! ambiguous one-to-one matches, colliding results) are raised for the
//! first step where they happen.

use std::collections::HashMap;

use promql_parser::parser::{token, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::eval::{Evaluator, VSeries, Val};
use super::QueryError;
use crate::storage::{Labels, METRIC_NAME};

pub fn eval(ev: &Evaluator, b: &BinaryExpr) -> Result<Val, QueryError> {
    let op = b.op.id();
    let lhs = ev.eval(&b.lhs)?;
    let rhs = ev.eval(&b.rhs)?;
    let return_bool = b.return_bool();
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.into_iter()
                .zip(r)
                .map(|(l, r)| {
                    let (v, keep) = apply(op, l, r);
                    if is_comparison(op) {
                        if keep {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Val::Vector(vs), Val::Scalar(s)) => Ok(Val::Vector(vector_scalar(
            ev,
            op,
            vs,
            &s,
            false,
            return_bool,
        ))),
        (Val::Scalar(s), Val::Vector(vs)) => Ok(Val::Vector(vector_scalar(
            ev,
            op,
            vs,
            &s,
            true,
            return_bool,
        ))),
        (Val::Vector(l), Val::Vector(r)) => {
            let matching = Matching::of(b);
            match op {
                token::T_LAND | token::T_LOR | token::T_LUNLESS => {
                    Ok(Val::Vector(set_op(ev, op, l, r, &matching)))
                }
                _ => vector_vector(ev, op, l, r, &matching, return_bool).map(Val::Vector),
            }
        }
        (l, r) => Err(QueryError::Execution(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn is_comparison(op: token::TokenId) -> bool {
    matches!(
        op,
        token::T_EQLC | token::T_NEQ | token::T_GTR | token::T_LSS | token::T_GTE | token::T_LTE
    )
}

/// Operators after which the metric name no longer describes the value.
fn drops_name(op: token::TokenId) -> bool {
    matches!(
        op,
        token::T_ADD
            | token::T_SUB
            | token::T_MUL
            | token::T_DIV
            | token::T_POW
            | token::T_MOD
            | token::T_ATAN2
    )
}

/// The value of `l op r`, and for comparisons whether it holds (the value
/// is then `l`).
fn apply(op: token::TokenId, l: f64, r: f64) -> (f64, bool) {
    match op {
        token::T_ADD => (l + r, true),
        token::T_SUB => (l - r, true),
        token::T_MUL => (l * r, true),
        token::T_DIV => (l / r, true),
        token::T_POW => (l.powf(r), true),
        token::T_MOD => (l % r, true),
        token::T_ATAN2 => (l.atan2(r), true),
        token::T_EQLC => (l, l == r),
        token::T_NEQ => (l, l != r),
        token::T_GTR => (l, l > r),
        token::T_LSS => (l, l < r),
        token::T_GTE => (l, l >= r),
        token::T_LTE => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

fn vector_scalar(
    ev: &Evaluator,
    op: token::TokenId,
    vs: Vec<VSeries>,
    s: &[f64],
    scalar_left: bool,
    return_bool: bool,
) -> Vec<VSeries> {
    let comparison = is_comparison(op);
    vs.into_iter()
        .filter_map(|mut series| {
            series.points = series
                .points
                .into_iter()
                .filter_map(|(t, v)| {
                    let sv = s[ev.index(t)];
                    let (l, r) = if scalar_left { (sv, v) } else { (v, sv) };
                    let (mut out, keep) = apply(op, l, r);
                    if comparison {
                        // A comparison keeps the vector's value whichever
                        // side it is on.
                        out = v;
                    }
                    if return_bool {
                        return Some((t, if keep { 1.0 } else { 0.0 }));
                    }
                    keep.then_some((t, out))
                })
                .collect();
            series.drop_name |= return_bool || drops_name(op);
            (!series.points.is_empty()).then_some(series)
        })
        .collect()
}

/// `on`/`ignoring` and the cardinality of a vector–vector operation.
pub struct Matching {
    pub on: bool,
    pub labels: Vec<String>,
    pub card: VectorMatchCardinality,
}

impl Matching {
    pub fn of(b: &BinaryExpr) -> Matching {
        let (on, labels) = match b.modifier.as_ref().and_then(|m| m.matching.as_ref()) {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        let card = b
            .modifier
            .as_ref()
            .map(|m| m.card.clone())
            .unwrap_or(VectorMatchCardinality::OneToOne);
        Matching { on, labels, card }
    }

    fn signature(&self, l: &Labels) -> Labels {
        if self.on {
            l.filtered(|n, _| self.labels.iter().any(|x| x == n))
        } else {
            l.filtered(|n, _| n != METRIC_NAME && !self.labels.iter().any(|x| x == n))
        }
    }

    /// `group_left(…)`/`group_right(…)` labels.
    fn include(&self) -> &[String] {
        match &self.card {
            VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => {
                &l.labels
            }
            _ => &[],
        }
    }
}

fn set_op(
    ev: &Evaluator,
    op: token::TokenId,
    lhs: Vec<VSeries>,
    rhs: Vec<VSeries>,
    m: &Matching,
) -> Vec<VSeries> {
    let steps = ev.steps();
    let presence = |vs: &[VSeries]| -> HashMap<Labels, Vec<bool>> {
        let mut p: HashMap<Labels, Vec<bool>> = HashMap::new();
        for s in vs {
            let e = p
                .entry(m.signature(&s.labels))
                .or_insert_with(|| vec![false; steps]);
            for &(t, _) in &s.points {
                e[ev.index(t)] = true;
            }
        }
        p
    };
    let filter =
        |vs: Vec<VSeries>, other: &HashMap<Labels, Vec<bool>>, want: bool| -> Vec<VSeries> {
            vs.into_iter()
                .filter_map(|mut s| {
                    let sig = m.signature(&s.labels);
                    let present = other.get(&sig);
                    s.points
                        .retain(|&(t, _)| present.is_some_and(|p| p[ev.index(t)]) == want);
                    (!s.points.is_empty()).then_some(s)
                })
                .collect()
        };
    match op {
        token::T_LAND => {
            let r = presence(&rhs);
            filter(lhs, &r, true)
        }
        token::T_LUNLESS => {
            let r = presence(&rhs);
            filter(lhs, &r, false)
        }
        _ => {
            let l = presence(&lhs);
            let mut out = lhs;
            out.extend(filter(rhs, &l, false));
            out
        }
    }
}

fn vector_vector(
    ev: &Evaluator,
    op: token::TokenId,
    lhs: Vec<VSeries>,
    rhs: Vec<VSeries>,
    m: &Matching,
    return_bool: bool,
) -> Result<Vec<VSeries>, QueryError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let swapped = matches!(m.card, VectorMatchCardinality::OneToMany(_));
    let one_to_one = matches!(m.card, VectorMatchCardinality::OneToOne);
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let one_side = if swapped { "left" } else { "right" };

    // The "one" side merged per signature: (time, value, series).
    let mut one_by_sig: HashMap<Labels, Vec<(i64, f64, usize)>> = HashMap::new();
    for (i, s) in one.iter().enumerate() {
        let e = one_by_sig.entry(m.signature(&s.labels)).or_default();
        e.extend(s.points.iter().map(|&(t, v)| (t, v, i)));
    }
    for (sig, points) in &mut one_by_sig {
        points.sort_by_key(|p| p.0);
        if let Some(w) = points.windows(2).find(|w| w[0].0 == w[1].0) {
            let (a, b) = (&one[w[1].2], &one[w[0].2]);
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {} on the {one_side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                sig.to_go_string(),
                a.labels.to_go_string(),
                b.labels.to_go_string()
            )));
        }
    }

    let comparison = is_comparison(op);
    let include = m.include();
    // Output series by result labels.
    let mut out: Vec<VSeries> = Vec::new();
    let mut out_index: HashMap<(Labels, bool), usize> = HashMap::new();
    // One-to-one: which steps each signature already matched.
    let mut matched_steps: HashMap<Labels, Vec<bool>> = HashMap::new();
    for s in &many {
        let sig = m.signature(&s.labels);
        let Some(others) = one_by_sig.get(&sig) else {
            continue;
        };
        // The output series this one feeds, per "one"-side partner: result
        // labels are built once per pair, not per point.
        let mut feeds: Vec<(usize, usize)> = Vec::new();
        // Walk both point lists in time order.
        let mut j = 0;
        for &(t, v) in &s.points {
            while j < others.len() && others[j].0 < t {
                j += 1;
            }
            if j >= others.len() || others[j].0 != t {
                continue;
            }
            let (ov, oi) = (others[j].1, others[j].2);
            let (l, r) = if swapped { (ov, v) } else { (v, ov) };
            let (mut value, keep) = apply(op, l, r);
            if return_bool {
                value = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
            if comparison && !return_bool {
                value = l;
            }
            if one_to_one {
                let steps = matched_steps
                    .entry(sig.clone())
                    .or_insert_with(|| vec![false; ev.steps()]);
                if std::mem::replace(&mut steps[ev.index(t)], true) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
            }
            let o = match feeds.iter().find(|f| f.0 == oi) {
                Some(&(_, o)) => o,
                None => {
                    let labels = result_labels(&s.labels, &one[oi].labels, m, one_to_one, include);
                    let drop_name = s.drop_name || return_bool || drops_name(op);
                    let o = *out_index
                        .entry((labels.clone(), drop_name))
                        .or_insert_with(|| {
                            out.push(VSeries {
                                labels,
                                drop_name,
                                points: Vec::new(),
                            });
                            out.len() - 1
                        });
                    feeds.push((oi, o));
                    o
                }
            };
            out[o].points.push((t, value));
        }
    }
    for s in &mut out {
        if s.points.windows(2).any(|w| w[0].0 >= w[1].0) {
            s.points.sort_by_key(|p| p.0);
            if s.points.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(QueryError::Execution(if one_to_one {
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into()
                } else {
                    "multiple matches for labels: grouping labels must ensure unique matches".into()
                }));
            }
        }
    }
    Ok(out)
}

/// Labels of a result: the "many" side's, reduced to the matching labels
/// for one-to-one `on`, without the `ignoring` labels for one-to-one
/// `ignoring`, plus `group_x` labels copied from the "one" side.
fn result_labels(
    many: &Labels,
    one: &Labels,
    m: &Matching,
    one_to_one: bool,
    include: &[String],
) -> Labels {
    let mut l = many.clone();
    if one_to_one {
        l = if m.on {
            l.filtered(|n, _| m.labels.iter().any(|x| x == n))
        } else {
            l.filtered(|n, _| !m.labels.iter().any(|x| x == n))
        };
    }
    for name in include {
        l = l.with(name, one.get(name).unwrap_or(""));
    }
    l
}
