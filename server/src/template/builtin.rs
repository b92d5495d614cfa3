//! Go's predefined template functions (`text/template/funcs.go`):
//! comparisons with Go's basic-kind rules, `len`, `index`, `slice`, `not`,
//! the `print` family and the `html`/`js`/`urlquery` escapers. `and` and
//! `or` short-circuit, so the executor evaluates them itself.

use std::cmp::Ordering;

use super::fmt::{sprint, sprintf, sprintln};
use super::value::Value;
use super::BARE;

const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
    "urlquery", "eq", "ne", "lt", "le", "gt", "ge",
];

pub(crate) fn is_builtin(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Go's signature of each builtin: fixed parameters, and whether more may
/// follow.
pub(crate) fn arity(name: &str) -> Option<(usize, bool)> {
    Some(match name {
        "and" | "or" | "index" | "slice" | "printf" | "eq" => (1, true),
        "not" | "len" => (1, false),
        "print" | "println" | "html" | "js" | "urlquery" => (0, true),
        "ne" | "lt" | "le" | "gt" | "ge" => (2, false),
        _ => return None,
    })
}

pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    match name {
        "not" => Ok(Value::Bool(!args[0].is_true())),
        "len" => length(&args[0]).map(|n| Value::Int(n as i64)),
        "index" => index(&args[0], &args[1..]),
        "slice" => slice(&args[0], &args[1..]),
        "print" => Ok(Value::Str(sprint(args))),
        "println" => Ok(Value::Str(sprintln(args))),
        "printf" => match &args[0] {
            Value::Str(f) => Ok(Value::Str(sprintf(f, &args[1..]))),
            v => Err(format!(
                "{BARE}wrong type for value; expected string; got {}",
                v.type_name()
            )),
        },
        "html" => Ok(Value::Str(html_escape(&eval_args(args)))),
        "js" => Ok(Value::Str(js_escape(&eval_args(args)))),
        "urlquery" => Ok(Value::Str(query_escape(&eval_args(args)))),
        "eq" => eq(&args[0], &args[1..]).map(Value::Bool),
        "ne" => eq(&args[0], &args[1..2]).map(|b| Value::Bool(!b)),
        "lt" => lt(&args[0], &args[1]).map(Value::Bool),
        "le" => le(&args[0], &args[1]).map(Value::Bool),
        "gt" => le(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        "ge" => lt(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        _ => Err(format!("BUG: {name} is not a builtin")),
    }
}

/// The string the escapers work on: a lone string as is, otherwise
/// `fmt.Sprint` of the arguments (with Go's `<no value>` for nil).
fn eval_args(args: &[Value]) -> String {
    if let [Value::Str(s)] = args {
        return s.clone();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Nil => Value::Str("<no value>".into()),
            a => a.clone(),
        })
        .collect();
    sprint(&printable)
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    escape_html(s, false)
}

/// What html/template writes for a value printed in HTML text: the same as
/// [`html_escape`], and `+` as `&#43;` (its table guards against UTF-7).
pub fn html_text_escape(s: &str) -> String {
    escape_html(s, true)
}

fn escape_html(s: &str, plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '+' if plus => out.push_str("&#43;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if !(c.is_control() || (c.is_whitespace() && c != ' ')) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+` (the
/// scrape engine's, which builds target URLs the same way).
pub use pharos_agent::scrape::target::query_escape;

fn length(v: &Value) -> Result<usize, String> {
    match v {
        Value::Str(s) => Ok(s.len()),
        Value::List(l) => Ok(l.len()),
        Value::Map(m) => Ok(m.len()),
        Value::Object(o) => o
            .len()
            .ok_or_else(|| format!("len of type {}", o.type_name())),
        Value::Nil => Err("len of nil pointer".into()),
        v => Err(format!("len of type {}", v.type_name())),
    }
}

fn index_arg(idx: &Value, cap: usize) -> Result<usize, String> {
    let x = match idx {
        Value::Int(i) | Value::Duration(i) => *i,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        v => {
            return Err(format!(
                "cannot index slice/array with type {}",
                v.type_name()
            ))
        }
    };
    if x < 0 || x as usize >= cap {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Value, idx: &[Value]) -> Result<Value, String> {
    if let Value::Nil = item {
        return Err("index of untyped nil".into());
    }
    let mut item = item.clone();
    for i in idx {
        item = match &item {
            Value::Nil => return Err("index of nil pointer".into()),
            Value::List(l) => l[index_arg(i, l.len())?].clone(),
            Value::Str(s) => Value::Int(s.as_bytes()[index_arg(i, s.len())?] as i64),
            Value::Map(m) => match i {
                Value::Str(k) => m.get(k).cloned().unwrap_or(Value::Nil),
                Value::Nil => m.get("").cloned().unwrap_or(Value::Nil),
                v => {
                    return Err(format!(
                        "value has type {}; should be string",
                        v.type_name()
                    ))
                }
            },
            Value::Object(o) => {
                if let Some(l) = o.as_list() {
                    l[index_arg(i, l.len())?].clone()
                } else {
                    let key = match i {
                        Value::Str(k) => k.as_str(),
                        Value::Nil => "",
                        v => {
                            return Err(format!(
                                "value has type {}; should be string",
                                v.type_name()
                            ))
                        }
                    };
                    match o.map_key(key) {
                        Some(Some(v)) => v,
                        Some(None) => o.map_zero(),
                        None => return Err(format!("can't index item of type {}", o.type_name())),
                    }
                }
            }
            v => return Err(format!("can't index item of type {}", v.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, idx: &[Value]) -> Result<Value, String> {
    if let Value::Nil = item {
        return Err("slice of untyped nil".into());
    }
    if idx.len() > 3 {
        return Err(format!("too many slice indexes: {}", idx.len()));
    }
    let (len, is_str) = match item {
        Value::Str(s) => (s.len(), true),
        Value::List(l) => (l.len(), false),
        Value::Object(o) if o.as_list().is_some() => (o.as_list().map_or(0, |l| l.len()), false),
        v => return Err(format!("can't slice item of type {}", v.type_name())),
    };
    if is_str && idx.len() == 3 {
        return Err("cannot 3-index slice a string".into());
    }
    // Go bounds-checks against the capacity; ours equals the length.
    let mut bounds = [0usize, len, len];
    for (i, x) in idx.iter().enumerate() {
        bounds[i] = index_arg(x, len + 1)?;
    }
    if idx.len() < 2 {
        bounds[1] = len;
    }
    if bounds[0] > bounds[1] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[0], bounds[1]
        ));
    }
    if idx.len() == 3 && bounds[1] > bounds[2] {
        return Err(format!(
            "invalid slice index: {} > {}",
            bounds[1], bounds[2]
        ));
    }
    Ok(match item {
        Value::Str(s) => {
            Value::Str(String::from_utf8_lossy(&s.as_bytes()[bounds[0]..bounds[1]]).into_owned())
        }
        Value::List(l) => Value::List(l[bounds[0]..bounds[1]].to_vec()),
        Value::Object(o) => {
            let l = o.as_list().unwrap_or_default();
            Value::List(l[bounds[0]..bounds[1]].to_vec())
        }
        _ => unreachable!("BUG: slice kinds checked above"),
    })
}

/// Go's basic kinds for comparison; None for everything else.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
}

fn basic_kind(v: &Value) -> Option<Kind> {
    match v {
        Value::Bool(_) => Some(Kind::Bool),
        // time.Duration is an int64 underneath.
        Value::Int(_) | Value::Duration(_) => Some(Kind::Int),
        Value::Float(_) => Some(Kind::Float),
        Value::Str(_) => Some(Kind::Str),
        _ => None,
    }
}

fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) | Value::Duration(i) => *i,
        _ => 0,
    }
}

fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = basic_kind(a);
    for b in others {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            let a_nil = matches!(a, Value::Nil);
            let b_nil = matches!(b, Value::Nil);
            if !a_nil && !b_nil {
                return Err("incompatible types for comparison".into());
            }
            false
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                _ if k1 == Some(Kind::Int) => int_of(a) == int_of(b),
                (Value::Nil, Value::Nil) => true,
                (Value::Nil, _) | (_, Value::Nil) => false,
                (Value::Time(x), Value::Time(y)) => x == y && x.offset() == y.offset(),
                (Value::Object(x), Value::Object(y)) => {
                    if x.len().is_some() || y.len().is_some() {
                        return Err(format!("non-comparable type {}", y.type_name()));
                    }
                    std::sync::Arc::ptr_eq(x, y)
                }
                (Value::List(_), _) | (Value::Map(_), _) => {
                    return Err(format!("non-comparable type {}", a.type_name()))
                }
                _ => return Err("incompatible types for comparison".into()),
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let (Some(k1), Some(k2)) = (basic_kind(a), basic_kind(b)) else {
        return Err("invalid type for comparison".into());
    };
    if k1 != k2 {
        return Err("incompatible types for comparison".into());
    }
    Ok(match k1 {
        Kind::Bool => return Err("invalid type for comparison".into()),
        Kind::Int => int_of(a) < int_of(b),
        Kind::Float => match (a, b) {
            (Value::Float(x), Value::Float(y)) => x.partial_cmp(y) == Some(Ordering::Less),
            _ => false,
        },
        Kind::Str => a.as_str() < b.as_str(),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}
