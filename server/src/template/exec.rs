//! The executor: walks a parsed tree with a dot value and writes text,
//! following Go's `text/template/exec.go`.
//!
//! Error messages carry Go's location and context —
//! `template: NAME:LINE:COL: executing "NAME" at <NODE>: message` — so the
//! executor tracks the node it is at exactly where Go does (`s.at(node)`):
//! the context of an error is the last node Go would have visited, which
//! is not always the one that failed (`(query "x").banana` fails at
//! `<"x">`).

use super::builtin;
use super::fmt::format_value;
use super::gotime;
use super::parse::{Arg, Branch, Node, Pipe, Tree};
use super::value::{q, Value};
use super::{FuncEntry, Funcs, MissingKey, Template, TemplateError, BARE};

/// Template calls nest at most this deep. Go allows 100000; each level here
/// costs several native stack frames, and runaway recursion must end in an
/// error, not a stack overflow.
pub(crate) const MAX_DEPTH: usize = 1000;

type R<T> = Result<T, TemplateError>;

/// How a list of nodes ended.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The node an error is reported at.
#[derive(Clone, Copy)]
enum At<'t> {
    Arg(&'t Arg),
    Pipe(&'t Pipe),
    Node(&'t Node),
}

impl At<'_> {
    fn pos(&self) -> usize {
        match self {
            At::Arg(a) => a.pos(),
            At::Pipe(p) => p.pos,
            At::Node(n) => n.pos(),
        }
    }
    fn context(&self) -> String {
        match self {
            At::Arg(a) => a.to_string(),
            At::Pipe(p) => p.to_string(),
            At::Node(n) => n.to_string(),
        }
    }
}

/// Which function a name resolves to.
enum Callee<'t> {
    Builtin,
    User(&'t FuncEntry),
}

pub(crate) struct State<'t> {
    tmpl: &'t Template,
    tree: &'t Tree,
    funcs: &'t Funcs,
    vars: Vec<(String, Value)>,
    depth: usize,
    node: Option<At<'t>>,
    /// HTML output (Go's html/template, as Alertmanager renders email
    /// bodies): what actions print is escaped.
    html: bool,
}

/// Whether a pipeline already yields HTML: it ends in `safeHtml` (Go's
/// `template.HTML`, printed as it is) or in the `html` escaper. Go tracks
/// the type through variables too; templates do not store such values in
/// variables in practice.
fn html_output(pipe: &Pipe) -> bool {
    matches!(
        pipe.cmds.last().and_then(|c| c.args.first()),
        Some(super::parse::Arg::Identifier { name, .. }) if name == "safeHtml" || name == "html"
    )
}

/// Runs `tree` with `data` as dot; with `html`, what actions print is
/// HTML-escaped as html/template escapes text (see [`html_output`]).
pub(crate) fn execute(
    tmpl: &Template,
    tree: &Tree,
    funcs: &Funcs,
    data: &Value,
    html: bool,
) -> Result<String, TemplateError> {
    let mut s = State {
        tmpl,
        tree,
        funcs,
        vars: vec![("$".to_string(), data.clone())],
        depth: 0,
        node: None,
        html,
    };
    let mut out = String::new();
    s.walk_list(&mut out, data, &tree.root)?;
    Ok(out)
}

impl<'t> State<'t> {
    fn at(&mut self, at: At<'t>) {
        self.node = Some(at);
    }

    fn err(&self, msg: impl AsRef<str>) -> TemplateError {
        let msg = msg.as_ref();
        TemplateError(match &self.node {
            None => format!("template: {}: {}", self.tree.name, msg),
            Some(at) => format!(
                "template: {}: executing {} at <{}>: {}",
                self.tree.location(at.pos()),
                q(&self.tree.name),
                at.context(),
                msg
            ),
        })
    }

    /// An error returned by a function: Go says `error calling NAME: ...`,
    /// except for argument-checking errors (marked with [`BARE`]), which Go
    /// raises before the call.
    fn call_error(&self, name: &str, e: String) -> TemplateError {
        match e.strip_prefix(BARE) {
            Some(bare) => self.err(bare),
            None => self.err(format!("error calling {name}: {e}")),
        }
    }

    fn walk_list(&mut self, out: &mut String, dot: &Value, list: &'t [Node]) -> R<Flow> {
        for n in list {
            let f = self.walk(out, dot, n)?;
            if f != Flow::Normal {
                return Ok(f);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, out: &mut String, dot: &Value, node: &'t Node) -> R<Flow> {
        self.at(At::Node(node));
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action { pipe, .. } => {
                let v = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at(At::Node(node));
                    self.print(out, &v, pipe);
                }
            }
            Node::Break { .. } => return Ok(Flow::Break),
            Node::Continue { .. } => return Ok(Flow::Continue),
            Node::If(b) => return self.walk_if_or_with(out, false, dot, b),
            Node::With(b) => return self.walk_if_or_with(out, true, dot, b),
            Node::Range(b) => return self.walk_range(out, dot, b),
            Node::Template { name, pipe, .. } => self.walk_template(out, dot, name, pipe)?,
        }
        Ok(Flow::Normal)
    }

    fn walk_if_or_with(
        &mut self,
        out: &mut String,
        with: bool,
        dot: &Value,
        b: &'t Branch,
    ) -> R<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let r = if val.is_true() {
            if with {
                self.walk_list(out, &val, &b.list)
            } else {
                self.walk_list(out, dot, &b.list)
            }
        } else if let Some(el) = &b.else_list {
            self.walk_list(out, dot, el)
        } else {
            Ok(Flow::Normal)
        };
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, out: &mut String, dot: &Value, b: &'t Branch) -> R<Flow> {
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let decl = &b.pipe.decl;
        let items: Vec<(Value, Value)> = match &val {
            Value::List(l) => enumerate(l),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (Value::Str(k.clone()), v.clone()))
                .collect(),
            Value::Int(n) => {
                if decl.len() > 1 {
                    return Err(self.err(format!(
                        "can't use {} to iterate over more than one variable",
                        n
                    )));
                }
                (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect()
            }
            Value::Nil => Vec::new(),
            Value::Object(o) => {
                if let Some(l) = o.as_list() {
                    enumerate(&l)
                } else if let Some(m) = o.as_map() {
                    m.into_iter().map(|(k, v)| (Value::Str(k), v)).collect()
                } else {
                    return Err(
                        self.err(format!("range can't iterate over {}", format_value(&val)))
                    );
                }
            }
            _ => return Err(self.err(format!("range can't iterate over {}", format_value(&val)))),
        };
        if items.is_empty() {
            let r = match &b.else_list {
                Some(el) => self.walk_list(out, dot, el),
                None => Ok(Flow::Normal),
            };
            self.vars.truncate(mark);
            return r;
        }
        let body_mark = self.vars.len();
        for (key, elem) in items {
            // With `$i, $e :=` the pipeline pushed both variables; set them
            // per iteration (element on top, index below), or assign.
            if !decl.is_empty() {
                if b.pipe.is_assign {
                    let v = if decl.len() > 1 {
                        key.clone()
                    } else {
                        elem.clone()
                    };
                    self.set_var(&decl[0], v)?;
                } else {
                    let n = self.vars.len();
                    self.vars[n - 1].1 = elem.clone();
                }
            }
            if decl.len() > 1 {
                if b.pipe.is_assign {
                    self.set_var(&decl[1], elem.clone())?;
                } else {
                    let n = self.vars.len();
                    self.vars[n - 2].1 = key.clone();
                }
            }
            let f = self.walk_list(out, &elem, &b.list);
            self.vars.truncate(body_mark);
            if f? == Flow::Break {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn walk_template(
        &mut self,
        out: &mut String,
        dot: &Value,
        name: &'t str,
        pipe: &'t Option<Pipe>,
    ) -> R<()> {
        let Some(tree) = self.tmpl.trees.get(name) else {
            return Err(self.err(format!("template {} not defined", q(name))));
        };
        if self.depth >= MAX_DEPTH {
            return Err(self.err(format!("exceeded maximum template depth ({MAX_DEPTH})")));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        // No dynamic scoping: the called template sees only `$`.
        let mut s = State {
            tmpl: self.tmpl,
            tree,
            funcs: self.funcs,
            vars: vec![("$".to_string(), new_dot.clone())],
            depth: self.depth + 1,
            node: None,
            html: self.html,
        };
        s.walk_list(out, &new_dot, &tree.root)?;
        Ok(())
    }

    /// What an action prints. Kept out of [`Self::walk`], which recurses
    /// with every template call, so its frame stays small.
    #[inline(never)]
    fn print(&self, out: &mut String, v: &Value, pipe: &Pipe) {
        let escape = self.html && !html_output(pipe);
        match v {
            // html/template's escapers skip a nil argument, so a missing
            // key prints nothing there.
            Value::Nil if escape => {}
            Value::Nil => out.push_str("<no value>"),
            v if escape => out.push_str(&builtin::html_text_escape(&format_value(v))),
            v => out.push_str(&format_value(v)),
        }
    }

    fn var_value(&self, name: &str) -> R<Value> {
        match self.vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.err(format!("undefined variable: {name}"))),
        }
    }

    fn set_var(&mut self, name: &str, v: Value) -> R<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(self.err(format!("undefined variable: {name}"))),
        }
    }

    fn eval_pipeline(&mut self, dot: &Value, pipe: &'t Pipe) -> R<Value> {
        self.at(At::Pipe(pipe));
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, &cmd.args, value.take())?);
        }
        let value = value.unwrap_or(Value::Nil);
        for v in &pipe.decl {
            if pipe.is_assign {
                self.set_var(v, value.clone())?;
            } else {
                self.vars.push((v.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, first: &Arg, rest: &[Arg], fin: &Option<Value>) -> R<()> {
        if !rest.is_empty() || fin.is_some() {
            return Err(self.err(format!("can't give argument to non-function {first}")));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, args: &'t [Arg], fin: Option<Value>) -> R<Value> {
        let first = &args[0];
        let rest = &args[1..];
        match first {
            Arg::Field { idents, .. } => {
                self.at(At::Arg(first));
                self.eval_field_chain(dot, dot.clone(), first, idents, rest, fin)
            }
            Arg::Chain { .. } => self.eval_chain(dot, first, rest, fin),
            Arg::Identifier { name, .. } => self.eval_function(dot, first, name, rest, fin),
            Arg::Pipe(p) => {
                self.not_a_function(first, rest, &fin)?;
                self.eval_pipeline(dot, p)
            }
            Arg::Variable { .. } => self.eval_variable(dot, first, rest, fin),
            _ => {
                self.at(At::Arg(first));
                self.not_a_function(first, rest, &fin)?;
                self.literal(dot, first)
            }
        }
    }

    fn literal(&self, dot: &Value, arg: &Arg) -> R<Value> {
        Ok(match arg {
            Arg::Bool { val, .. } => Value::Bool(*val),
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => return Err(self.err("nil is not a command")),
            Arg::Number { num, .. } => self.ideal_constant(num)?,
            Arg::Str { val, .. } => Value::Str(val.clone()),
            _ => unreachable!("BUG: literal() called on a non-literal"),
        })
    }

    /// Go's untyped constants: a number with `.`/`e`/`p` is a float64,
    /// otherwise an int (so `eq 1 1.0` is a type mismatch, as in Go).
    fn ideal_constant(&self, num: &super::parse::Number) -> R<Value> {
        let t = &num.text;
        let is_hex_int = t.len() > 2
            && t.starts_with('0')
            && (t.as_bytes()[1] == b'x' || t.as_bytes()[1] == b'X')
            && !t.contains(['p', 'P']);
        if num.is_char {
            return Ok(Value::Int(num.int.unwrap_or(0)));
        }
        if let Some(f) = num.float {
            if !is_hex_int && t.contains(['.', 'e', 'E', 'p', 'P']) {
                return Ok(Value::Float(f));
            }
        }
        if let Some(i) = num.int {
            return Ok(Value::Int(i));
        }
        if num.uint.is_some() {
            return Err(self.err(format!("{t} overflows int")));
        }
        Ok(Value::Nil)
    }

    fn eval_chain(
        &mut self,
        dot: &Value,
        chain: &'t Arg,
        rest: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(chain));
        let Arg::Chain { node, fields, .. } = chain else {
            unreachable!("BUG: eval_chain on a non-chain");
        };
        if let Arg::Nil { .. } = **node {
            return Err(self.err(format!("indirection through explicit nil in {chain}")));
        }
        let recv = self.eval_arg(dot, node)?;
        self.eval_field_chain(dot, recv, chain, fields, rest, fin)
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        var: &'t Arg,
        rest: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(var));
        let Arg::Variable { idents, .. } = var else {
            unreachable!("BUG: eval_variable on a non-variable");
        };
        let value = self.var_value(&idents[0])?;
        if idents.len() == 1 {
            self.not_a_function(var, rest, &fin)?;
            return Ok(value);
        }
        self.eval_field_chain(dot, value, var, &idents[1..], rest, fin)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        receiver: Value,
        node: &'t Arg,
        idents: &'t [String],
        rest: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        let n = idents.len();
        let mut recv = receiver;
        for ident in &idents[..n - 1] {
            recv = self.eval_field(dot, ident, node, &[], None, recv)?;
        }
        self.eval_field(dot, &idents[n - 1], node, rest, fin, recv)
    }

    fn call_args(&mut self, dot: &Value, rest: &'t [Arg], fin: Option<Value>) -> R<Vec<Value>> {
        let mut argv = Vec::with_capacity(rest.len() + 1);
        for a in rest {
            argv.push(self.eval_arg(dot, a)?);
        }
        if let Some(f) = fin {
            argv.push(f);
        }
        Ok(argv)
    }

    fn missing_key(&self, name: &str, zero: Value) -> R<Value> {
        match self.tmpl.missing_key {
            MissingKey::Invalid => Ok(Value::Nil),
            MissingKey::Zero => Ok(zero),
            MissingKey::Error => Err(self.err(format!("map has no entry for key {}", q(name)))),
        }
    }

    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &'t Arg,
        rest: &'t [Arg],
        fin: Option<Value>,
        recv: Value,
    ) -> R<Value> {
        let has_args = !rest.is_empty() || fin.is_some();
        match &recv {
            Value::Nil => {
                if self.tmpl.missing_key == MissingKey::Error {
                    return Err(self.err(format!("nil data; no entry for key {}", q(name))));
                }
                Ok(Value::Nil)
            }
            Value::Map(m) => {
                if has_args {
                    return Err(self.err(format!("{name} is not a method but has arguments")));
                }
                match m.get(name) {
                    Some(v) => Ok(v.clone()),
                    None => self.missing_key(name, Value::Nil),
                }
            }
            Value::Object(o) => {
                // Methods first, then fields, then map keys — Go's order.
                if has_args {
                    let argv = self.call_args(dot, rest, fin)?;
                    if let Some(r) = o.call(name, &argv) {
                        return r.map_err(|e| {
                            self.at(At::Arg(node));
                            self.call_error(name, e)
                        });
                    }
                    if o.field(name).is_some() {
                        return Err(self.err(format!(
                            "{name} has arguments but cannot be invoked as function"
                        )));
                    }
                } else {
                    if let Some(v) = o.field(name) {
                        return Ok(v);
                    }
                    if let Some(r) = o.call(name, &[]) {
                        return r.map_err(|e| {
                            self.at(At::Arg(node));
                            self.call_error(name, e)
                        });
                    }
                }
                if let Some(found) = o.map_key(name) {
                    if has_args {
                        return Err(self.err(format!("{name} is not a method but has arguments")));
                    }
                    return match found {
                        Some(v) => Ok(v),
                        None => self.missing_key(name, o.map_zero()),
                    };
                }
                Err(self.err(format!(
                    "can't evaluate field {name} in type {}",
                    o.type_name()
                )))
            }
            Value::Time(_) | Value::Duration(_) => {
                let argv = self.call_args(dot, rest, fin)?;
                match gotime::method(&recv, name, &argv) {
                    Some(r) => r.map_err(|e| {
                        self.at(At::Arg(node));
                        self.call_error(name, e)
                    }),
                    None => Err(self.err(format!(
                        "can't evaluate field {name} in type {}",
                        recv.type_name()
                    ))),
                }
            }
            _ => Err(self.err(format!(
                "can't evaluate field {name} in type {}",
                recv.type_name()
            ))),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        node: &'t Arg,
        name: &str,
        rest: &'t [Arg],
        fin: Option<Value>,
    ) -> R<Value> {
        self.at(At::Arg(node));
        // The caller's functions shadow builtins, as in Go.
        let callee = match self.funcs.map.get(name) {
            Some(e) => Callee::User(e),
            None if builtin::is_builtin(name) => Callee::Builtin,
            None => return Err(self.err(format!("{} is not a defined function", q(name)))),
        };
        let n_in = rest.len() + usize::from(fin.is_some());
        let arity = match &callee {
            Callee::Builtin => builtin::arity(name),
            Callee::User(e) => e.arity,
        };
        if let Some((fixed, variadic)) = arity {
            if variadic {
                if n_in < fixed {
                    return Err(self.err(format!(
                        "wrong number of args for {name}: want at least {fixed} got {}",
                        rest.len()
                    )));
                }
            } else if n_in != fixed {
                return Err(self.err(format!(
                    "wrong number of args for {name}: want {fixed} got {n_in}"
                )));
            }
        }
        if matches!(callee, Callee::Builtin) && (name == "and" || name == "or") {
            // Short-circuit: return the first deciding value, else the last.
            let mut v = Value::Nil;
            for a in rest {
                v = self.eval_arg(dot, a)?;
                if v.is_true() == (name == "or") {
                    return Ok(v);
                }
            }
            if let Some(f) = fin {
                v = f;
            }
            return Ok(v);
        }
        let argv = self.call_args(dot, rest, fin)?;
        let r = match callee {
            Callee::Builtin => builtin::call(name, &argv),
            Callee::User(e) => (e.f)(&argv),
        };
        r.map_err(|e| {
            self.at(At::Arg(node));
            self.call_error(name, e)
        })
    }

    fn eval_arg(&mut self, dot: &Value, arg: &'t Arg) -> R<Value> {
        self.at(At::Arg(arg));
        match arg {
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Ok(Value::Nil),
            Arg::Field { idents, .. } => {
                self.eval_field_chain(dot, dot.clone(), arg, idents, &[], None)
            }
            Arg::Variable { .. } => self.eval_variable(dot, arg, &[], None),
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            Arg::Identifier { name, .. } => self.eval_function(dot, arg, name, &[], None),
            Arg::Chain { .. } => self.eval_chain(dot, arg, &[], None),
            _ => self.literal(dot, arg),
        }
    }
}

fn enumerate(l: &[Value]) -> Vec<(Value, Value)> {
    l.iter()
        .enumerate()
        .map(|(i, v)| (Value::Int(i as i64), v.clone()))
        .collect()
}
