//! `label_replace`, `label_join`, and which label names the engine accepts.

use promql_parser::parser::Expr;

use super::string_arg;
use crate::promql::eval::{Evaluator, Val};
use crate::promql::QueryError;
use crate::storage::METRIC_NAME;

/// Whether `name` may be a label name under the engine's rules.
pub fn valid_label_name(ev: &Evaluator, name: &str) -> bool {
    if ev.opts.legacy_label_names {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    } else {
        !name.is_empty()
    }
}

pub(super) fn label_replace(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let vs = ev.vector_arg(args[0])?;
    let dst = string_arg(args[1])?;
    let repl = string_arg(args[2])?;
    let src = string_arg(args[3])?;
    let re_text = string_arg(args[4])?;
    let pattern = if ev.opts.legacy_label_names {
        format!("^(?:{re_text})$")
    } else {
        format!("^(?s:{re_text})$")
    };
    static COMPILED: std::sync::LazyLock<crate::memo::Memo<String, regex::Regex>> =
        std::sync::LazyLock::new(|| crate::memo::Memo::new(256));
    let re = COMPILED
        .get_or_try(&pattern, || regex::Regex::new(&pattern))
        .map_err(|_| {
            QueryError::Execution(format!(
                "invalid regular expression in label_replace(): {re_text}"
            ))
        })?;
    if !valid_label_name(ev, &dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(vs.len());
    for mut s in vs {
        let value = s.labels.get(&src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            let mut replaced = String::new();
            caps.expand(&repl, &mut replaced);
            s.labels = s.labels.with(&dst, &replaced);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        out.push(s);
    }
    ev.check_unique(&out)?;
    Ok(Val::Vector(out))
}

pub(super) fn label_join(ev: &Evaluator, args: &[&Expr]) -> Result<Val, QueryError> {
    let vs = ev.vector_arg(args[0])?;
    let dst = string_arg(args[1])?;
    let sep = string_arg(args[2])?;
    let srcs: Vec<String> = args[3..]
        .iter()
        .map(|a| string_arg(a))
        .collect::<Result<_, _>>()?;
    if !valid_label_name(ev, &dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    for s in &srcs {
        if !valid_label_name(ev, s) {
            return Err(QueryError::Execution(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
    }
    let mut out = Vec::with_capacity(vs.len());
    for mut s in vs {
        let joined: Vec<&str> = srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
        let joined = joined.join(&sep);
        s.labels = s.labels.with(&dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        out.push(s);
    }
    ev.check_unique(&out)?;
    Ok(Val::Vector(out))
}
