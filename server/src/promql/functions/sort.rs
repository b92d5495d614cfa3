//! `sort_by_label` (natural order of label values) and the value order of
//! `sort`/`sort_desc`.

use promql_parser::parser::Expr;

use super::string_arg;
use crate::promql::eval::{Evaluator, VSeries, Val};
use crate::promql::QueryError;

pub(super) fn sort_by_label(ev: &Evaluator, args: &[&Expr], desc: bool) -> Result<Val, QueryError> {
    let mut vs = ev.vector_arg(args[0])?;
    let names: Vec<String> = args[1..]
        .iter()
        .map(|a| string_arg(a))
        .collect::<Result<_, _>>()?;
    if ev.steps() != 1 {
        return Ok(Val::Vector(vs));
    }
    if ev.opts.sort_by_label_v2 {
        // Prometheus 2: the values are sorted first (as `sort` or
        // `sort_desc`, NaN last), then a stable sort by the labels keeps
        // that order among ties.
        let key = |s: &VSeries| s.points.first().map_or(f64::NAN, |p| p.1);
        vs.sort_by(|a, b| by_value(key(a), key(b), desc));
    }
    vs.sort_by(|a, b| {
        let mut ord = std::cmp::Ordering::Equal;
        for n in &names {
            let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
            ord = natural_cmp(x, y);
            if ord.is_ne() {
                break;
            }
        }
        if ord.is_eq() && !ev.opts.sort_by_label_v2 {
            ord = a.labels.cmp(&b.labels);
        }
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
    Ok(Val::Vector(vs))
}

/// Order of `sort`/`sort_desc`: NaN last either way.
pub(super) fn by_value(x: f64, y: f64, desc: bool) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if desc => y.partial_cmp(&x).expect("not NaN"),
        _ => x.partial_cmp(&y).expect("not NaN"),
    }
}

/// Natural order: runs of digits compare as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let nx = x.iter().take_while(|c| c.is_ascii_digit()).count();
                let ny = y.iter().take_while(|c| c.is_ascii_digit()).count();
                let (dx, dy) = (&x[..nx], &y[..ny]);
                let tx = trim_zeros(dx);
                let ty = trim_zeros(dy);
                let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if ord.is_ne() {
                    return ord;
                }
                x = &x[nx..];
                y = &y[ny..];
            }
            (Some(c), Some(d)) => {
                if c != d {
                    return c.cmp(d);
                }
                x = &x[1..];
                y = &y[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n.min(d.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert!(natural_cmp("a2", "a10").is_lt());
        assert!(natural_cmp("b", "a10").is_gt());
    }
}
