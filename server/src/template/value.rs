//! Values a template sees: [`Value`], the [`Object`] trait for anything
//! with fields and methods, and [`StringMap`] for Go's `map[string]string`.
//!
//! Go templates work on arbitrary Go values through reflection; we replace
//! reflection with a closed enum plus one open door (`Object`). The rules
//! that depend on a value's Go kind — truthiness, `len`, comparisons, the
//! type names in error messages — live here so the executor and the
//! builtins agree on them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};

use super::fmt::{format_float, go_quote};
use super::gotime;

/// A value a template sees.
#[derive(Clone, Debug)]
pub enum Value {
    /// Go's invalid value (a missing map key, an unset pipeline). Printed by
    /// an action as `<no value>`, by `print` as `<nil>`.
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Go's `[]interface{}`.
    List(Vec<Value>),
    /// Go's `map[string]interface{}`: fields are keys, range and print go in
    /// sorted key order. A missing key yields `Nil`.
    Map(BTreeMap<String, Value>),
    /// Go's `time.Time`. An offset of zero is taken to be the UTC location
    /// (prints `UTC`); other offsets print numerically (`+0200`), as Go does
    /// for a zone without a name.
    Time(DateTime<FixedOffset>),
    /// Go's `time.Duration`, in nanoseconds.
    Duration(i64),
    /// Anything with fields and methods.
    Object(Arc<dyn Object>),
}

/// A value with fields and methods, like a Go struct or a named map type.
///
/// Go resolves `.Name` first as a method, then as a struct field or a map
/// key; implementors answer `field` for both fields and zero-argument
/// methods, `call` for methods with arguments, and the map hooks when the
/// object is map-like (so `.key`, `index`, `range` and `len` work on it).
pub trait Object: Send + Sync + std::fmt::Debug {
    /// Field or zero-argument method `name` (Go resolves `.Name` either way).
    fn field(&self, name: &str) -> Option<Value>;

    /// Method `name` with arguments; None when there is no such method.
    fn call(&self, _name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        None
    }

    /// The Go type name used in error messages (`can't evaluate field X in
    /// type T`, `%!d(T=...)`).
    fn type_name(&self) -> String {
        "struct".to_string()
    }

    /// What `{{ . }}` and `%v` print: Go's `String()` method, or the
    /// struct's fields. None prints the list or map form when the object is
    /// list- or map-like, else `{}`.
    fn display(&self) -> Option<String> {
        None
    }

    /// The elements when the object is list-like (range, len, index).
    fn as_list(&self) -> Option<Vec<Value>> {
        None
    }

    /// The entries when the object is map-like (range, len, index, print).
    fn as_map(&self) -> Option<BTreeMap<String, Value>> {
        None
    }

    /// Map lookup: None when the object is not a map; Some(None) for a
    /// missing key. Override to avoid copying the whole map.
    fn map_key(&self, key: &str) -> Option<Option<Value>> {
        self.as_map().map(|m| m.get(key).cloned())
    }

    /// The zero value of the map's element type: what a missing key gives
    /// with `missingkey=zero` and through `index` (`""` for string maps).
    fn map_zero(&self) -> Value {
        Value::Nil
    }

    /// Length for `len` and truthiness; None when the object has none.
    fn len(&self) -> Option<usize> {
        if let Some(l) = self.as_list() {
            return Some(l.len());
        }
        self.as_map().map(|m| m.len())
    }

    /// Whether the object is a collection with no elements.
    fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// Go's truthiness: empty collections are false, structs are true.
    fn truthy(&self) -> bool {
        !self.is_empty()
    }

    /// JSON for `toJson` (Go's encoding/json); None uses the list or map
    /// form, else `{}`.
    fn to_json(&self) -> Option<String> {
        None
    }
}

/// Go's `map[string]string` (Prometheus's `$labels`, a sample's `.Labels`):
/// a missing key is `""` rather than `<no value>` under `missingkey=zero`
/// and through `index`.
#[derive(Clone, Debug, Default)]
pub struct StringMap(pub BTreeMap<String, String>);

/// The entries of a `map[string]string` as template values.
pub(crate) fn string_map_entries(m: &BTreeMap<String, String>) -> Option<BTreeMap<String, Value>> {
    Some(
        m.iter()
            .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
            .collect(),
    )
}

/// One key of a `map[string]string`; the inner `None` is a missing key.
pub(crate) fn string_map_key(m: &BTreeMap<String, String>, key: &str) -> Option<Option<Value>> {
    Some(m.get(key).map(|v| Value::Str(v.clone())))
}

impl Object for StringMap {
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn type_name(&self) -> String {
        "map[string]string".to_string()
    }
    fn as_map(&self) -> Option<BTreeMap<String, Value>> {
        string_map_entries(&self.0)
    }
    fn map_key(&self, key: &str) -> Option<Option<Value>> {
        string_map_key(&self.0, key)
    }
    fn map_zero(&self) -> Value {
        Value::Str(String::new())
    }
    fn len(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

impl Value {
    /// A Go `map[string]string`.
    pub fn string_map(m: BTreeMap<String, String>) -> Value {
        Value::Object(Arc::new(StringMap(m)))
    }

    /// Wraps an [`Object`].
    pub fn object(o: impl Object + 'static) -> Value {
        Value::Object(Arc::new(o))
    }

    /// A list of strings (Go's `[]string`).
    pub fn str_list<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Value {
        Value::List(items.into_iter().map(|s| Value::Str(s.into())).collect())
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Go's truthiness, as `if`, `with`, `and`, `or` and `not` see it.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Time(_) => true,
            Value::Duration(d) => *d != 0,
            Value::Object(o) => o.truthy(),
        }
    }

    /// The Go type name used in error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Time(_) => "time.Time".into(),
            Value::Duration(_) => "time.Duration".into(),
            Value::Object(o) => o.type_name(),
        }
    }

    /// Elements when the value is list-like.
    pub(crate) fn list_items(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) => Some(l.clone()),
            Value::Object(o) => o.as_list(),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}
impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// Go's `encoding/json` rendering of a value (used by `toJson`): sorted map
/// keys, HTML-safe string escapes, floats in Go's shortest form.
pub(crate) fn to_json(v: &Value) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, v)?;
    Ok(out)
}

fn write_json(out: &mut String, v: &Value) -> Result<(), String> {
    match v {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) | Value::Duration(i) => out.push_str(&i.to_string()),
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    format_float(*f, 'g', None)
                ));
            }
            let a = f.abs();
            if a != 0.0 && !(1e-6..1e21).contains(&a) {
                // Go writes e-07 as e-7 in JSON.
                let s = format_float(*f, 'e', None);
                let s = match s.find("e-0") {
                    Some(i) if s.len() == i + 4 => format!("{}e-{}", &s[..i], &s[i + 3..]),
                    _ => s,
                };
                let s = match s.find("e+0") {
                    Some(i) if s.len() == i + 4 => format!("{}e+{}", &s[..i], &s[i + 3..]),
                    _ => s,
                };
                out.push_str(&s);
            } else {
                out.push_str(&format_float(*f, 'f', None));
            }
        }
        Value::Str(s) => json_string(out, s),
        Value::List(l) => {
            out.push('[');
            for (i, e) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, e)?;
            }
            out.push(']');
        }
        Value::Map(m) => json_map(out, m)?,
        Value::Time(t) => {
            json_string(
                out,
                &gotime::format(t, "2006-01-02T15:04:05.999999999Z07:00"),
            );
        }
        Value::Object(o) => {
            if let Some(j) = o.to_json() {
                out.push_str(&j);
            } else if let Some(l) = o.as_list() {
                write_json(out, &Value::List(l))?;
            } else if let Some(m) = o.as_map() {
                json_map(out, &m)?;
            } else {
                out.push_str("{}");
            }
        }
    }
    Ok(())
}

fn json_map(out: &mut String, m: &BTreeMap<String, Value>) -> Result<(), String> {
    out.push('{');
    for (i, (k, e)) in m.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(out, k);
        out.push(':');
        write_json(out, e)?;
    }
    out.push('}');
    Ok(())
}

/// A JSON string as Go's encoder writes it (escaping `<`, `>`, `&`,
/// U+2028 and U+2029 so the output is safe inside HTML).
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Quoted for messages that use Go's `%q`.
pub(crate) fn q(s: &str) -> String {
    go_quote(s)
}
