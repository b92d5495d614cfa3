//! Go's `text/template`, for Prometheus rule annotations and labels and for
//! Alertmanager notification messages.
//!
//! Existing rule files and notification templates must render exactly as
//! they do under Prometheus and Alertmanager, so this is a port of Go's
//! behaviour — grammar, whitespace trimming, truthiness, comparison rules,
//! `fmt` number formatting and error messages — onto a closed [`Value`]
//! type instead of reflection. The flow is
//! [`lex`] (text to items) → [`parse`] (items to trees, one per `define`) →
//! [`exec`] (tree + dot to text). [`fmt`] and [`gotime`] reproduce Go's
//! `fmt`/`strconv` and `time` formatting; [`builtin`] holds the predefined
//! functions; [`prometheus`] and [`alertmanager`] the two projects'
//! function libraries and Alertmanager's data model and default templates.
//!
//! Differences from Go, by design:
//! - missing map keys default to Go's `missingkey=zero` behaviour, because
//!   both Prometheus and Alertmanager set that option (use
//!   [`Template::option`] for Go's default);
//! - `call` is not provided (templates cannot hold function values);
//! - template calls nest at most [`exec::MAX_DEPTH`] deep.

use std::collections::HashMap;
use std::sync::Arc;

mod builtin;
mod exec;
mod fmt;
mod gotime;
mod lex;
mod parse;
mod value;

pub mod alertmanager;
pub mod prometheus;

#[cfg(test)]
mod tests;

pub use alertmanager::{alertmanager_funcs, default_alertmanager_template, AmAlert, AmData};
pub use builtin::{html_escape, js_escape, query_escape};
pub use fmt::{format_float, go_quote, sprint, sprintf};
pub use gotime::{duration_string, time_string, zero_time};
pub use prometheus::{
    expand_alert_field, prometheus_alert_data, prometheus_funcs, PromContext, QuerySample,
    ALERT_TEMPLATE_PRELUDE,
};
pub use value::{Object, StringMap, Value};

/// Marks a function error that Go raises while checking arguments (wrong
/// type, wrong count): the executor reports it without the usual
/// `error calling NAME:` prefix.
pub(crate) const BARE: &str = "\u{1}";

/// A template function (Go's FuncMap entry). Arguments arrive evaluated; a
/// piped value is the last one.
pub type Func = Arc<dyn Fn(&[Value]) -> Result<Value, String> + Send + Sync>;

/// One named function with its optional Go-style signature check.
#[derive(Clone)]
pub(crate) struct FuncEntry {
    pub f: Func,
    /// (fixed parameters, variadic); None means any number of arguments.
    pub arity: Option<(usize, bool)>,
}

/// Named functions available to templates (Go's FuncMap). The builtins
/// (and, or, not, len, index, slice, print, printf, println, eq, ne, lt,
/// le, gt, ge, html, js, urlquery) are always there; entries here shadow
/// them, as in Go.
#[derive(Clone, Default)]
pub struct Funcs {
    map: HashMap<String, FuncEntry>,
}

impl std::fmt::Debug for Funcs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.map.keys().collect();
        names.sort();
        f.debug_struct("Funcs").field("names", &names).finish()
    }
}

impl Funcs {
    /// No functions beyond the builtins.
    pub fn new() -> Funcs {
        Funcs::default()
    }

    /// Adds (or replaces) `name`; the function checks its own arguments.
    pub fn insert(&mut self, name: &str, f: Func) {
        self.map
            .insert(name.to_string(), FuncEntry { f, arity: None });
    }

    /// Adds `name` with a Go signature of `fixed` parameters (plus more if
    /// `variadic`); calls with the wrong count fail with Go's
    /// `wrong number of args for NAME: want N got M`.
    pub fn insert_with_arity(&mut self, name: &str, fixed: usize, variadic: bool, f: Func) {
        self.map.insert(
            name.to_string(),
            FuncEntry {
                f,
                arity: Some((fixed, variadic)),
            },
        );
    }

    /// Adds every function of `other`, replacing same-named ones.
    pub fn extend(&mut self, other: &Funcs) {
        for (k, v) in &other.map {
            self.map.insert(k.clone(), v.clone());
        }
    }

    /// Whether a template may call `name` (a builtin or an entry here).
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name) || builtin::is_builtin(name)
    }
}

/// What a missing map key yields (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MissingKey {
    /// Go's default: the invalid value, printed `<no value>`.
    Invalid,
    /// The zero value of the map's element type (`""` for string maps).
    Zero,
    /// An execution error.
    Error,
}

/// A template error, worded as Go words it: parse errors
/// `template: NAME:LINE: message`, execution errors
/// `template: NAME:LINE:COL: executing "NAME" at <.Foo>: message`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

/// A set of named templates (Go's `*template.Template` with its associated
/// templates).
#[derive(Clone, Debug)]
pub struct Template {
    /// The first parsed name, used in `no template "x" associated with`.
    root: String,
    trees: parse::TreeSet,
    missing_key: MissingKey,
}

impl Template {
    /// Parses `text` as the template `name`; `{{ define }}` blocks inside
    /// add more named templates. Functions not in `funcs` (or the builtins)
    /// are parse errors, as in Go: `template: name:1: function "foo" not
    /// defined`.
    pub fn parse(name: &str, text: &str, funcs: &Funcs) -> Result<Template, TemplateError> {
        let mut t = Template {
            root: name.to_string(),
            trees: HashMap::new(),
            missing_key: MissingKey::Zero,
        };
        t.add(name, text, funcs)?;
        Ok(t)
    }

    /// Parses more text into the same set; later definitions replace
    /// earlier ones, except that an empty body never replaces a non-empty
    /// one (Go's rule, which lets a file hold only `define`s).
    pub fn add(&mut self, name: &str, text: &str, funcs: &Funcs) -> Result<(), TemplateError> {
        let trees = parse::parse(name, text, &|f: &str| funcs.has(f))?;
        for tree in trees {
            if let Some(old) = self.trees.get(&tree.name) {
                if parse::is_empty_tree(&tree.root) && !parse::is_empty_tree(&old.root) {
                    continue;
                }
            }
            self.trees.insert(tree.name.clone(), Arc::new(tree));
        }
        Ok(())
    }

    /// Sets an option as Go's `Template.Option` does: `missingkey=default`
    /// (or `invalid`), `missingkey=zero` (this crate's default) or
    /// `missingkey=error`.
    pub fn option(&mut self, opt: &str) -> Result<(), TemplateError> {
        self.missing_key = match opt {
            "missingkey=default" | "missingkey=invalid" => MissingKey::Invalid,
            "missingkey=zero" => MissingKey::Zero,
            "missingkey=error" => MissingKey::Error,
            _ => return Err(TemplateError(format!("unrecognized option: {opt}"))),
        };
        Ok(())
    }

    /// Executes template `name` with `data` as dot.
    pub fn execute(
        &self,
        name: &str,
        data: &Value,
        funcs: &Funcs,
    ) -> Result<String, TemplateError> {
        self.run(name, data, funcs, false)
    }

    /// Executes template `name` for HTML output, as Alertmanager runs
    /// email bodies through html/template: what actions print is escaped
    /// as html/template escapes text (`<`, `>`, `&`, quotes, `+`), except
    /// pipelines ending in `safeHtml` or `html`. Simpler than Go's
    /// contextual escaping: inside `<script>` or a URL attribute Go escapes
    /// differently; email templates put values in text and quoted
    /// attributes, where the two agree.
    pub fn execute_html(
        &self,
        name: &str,
        data: &Value,
        funcs: &Funcs,
    ) -> Result<String, TemplateError> {
        self.run(name, data, funcs, true)
    }

    fn run(
        &self,
        name: &str,
        data: &Value,
        funcs: &Funcs,
        html: bool,
    ) -> Result<String, TemplateError> {
        let Some(tree) = self.trees.get(name) else {
            return Err(TemplateError(format!(
                "template: no template {} associated with template {}",
                go_quote(name),
                go_quote(&self.root)
            )));
        };
        exec::execute(self, tree, funcs, data, html)
    }

    /// Whether a template with this name is defined (non-empty).
    pub fn has(&self, name: &str) -> bool {
        self.trees
            .get(name)
            .is_some_and(|t| !parse::is_empty_tree(&t.root))
    }

    /// Names of all defined templates, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.trees.keys().cloned().collect();
        v.sort();
        v
    }
}

/// Argument helpers for function libraries: Go converts arguments to the
/// function's parameter types before calling, and reports mismatches with
/// these messages.
pub(crate) mod args {
    use super::{Value, BARE};

    pub fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
        if args.len() != n {
            return Err(format!(
                "{BARE}wrong number of args for {name}: want {n} got {}",
                args.len()
            ));
        }
        Ok(())
    }

    pub fn type_error(expected: &str, got: &Value) -> String {
        if let Value::Nil = got {
            return format!("{BARE}invalid value; expected {expected}");
        }
        format!(
            "{BARE}wrong type for value; expected {expected}; got {}",
            got.type_name()
        )
    }

    pub fn string(args: &[Value], i: usize) -> Result<&str, String> {
        match &args[i] {
            Value::Str(s) => Ok(s),
            v => Err(type_error("string", v)),
        }
    }

    pub fn strings(args: &[Value], i: usize) -> Result<Vec<String>, String> {
        let items = args[i]
            .list_items()
            .ok_or_else(|| type_error("[]string", &args[i]))?;
        items
            .into_iter()
            .map(|v| match v {
                Value::Str(s) => Ok(s),
                _ => Err(type_error("[]string", &args[i])),
            })
            .collect()
    }

    pub fn time(args: &[Value], i: usize) -> Result<chrono::DateTime<chrono::FixedOffset>, String> {
        match &args[i] {
            Value::Time(t) => Ok(*t),
            v => Err(type_error("time.Time", v)),
        }
    }
}
