//! The parser: items to trees of [`Node`]s, following Go's
//! `text/template/parse` — the same grammar, the same parse-time checks
//! (unknown functions, undeclared variables, `{{break}}` outside `range`,
//! duplicate definitions) and the same messages, prefixed
//! `template: NAME:LINE:`.
//!
//! One text yields several trees: its top level plus one per `define` and
//! `block`. Positions are byte offsets into the text; the executor turns
//! them into `LINE:COL` for its error messages.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use super::fmt::go_quote;
use super::lex::{lex, Item, Kind};
use super::TemplateError;

/// A parsed template: a name, the text it came from and its body.
#[derive(Debug)]
pub(crate) struct Tree {
    pub name: String,
    /// The name given to `parse`/`add` (Go's ParseName), used in messages.
    pub parse_name: String,
    pub text: Arc<str>,
    pub root: Vec<Node>,
}

impl Tree {
    /// Go's `ErrorContext` location: `NAME:LINE:COL` with a 0-based byte
    /// column.
    pub fn location(&self, pos: usize) -> String {
        let pos = pos.min(self.text.len());
        let before = &self.text[..pos];
        let line = 1 + before.matches('\n').count();
        let col = match before.rfind('\n') {
            None => pos,
            Some(i) => pos - (i + 1),
        };
        format!("{}:{}:{}", self.parse_name, line, col)
    }
}

/// Whether a body is empty for redefinition purposes: only whitespace text.
pub(crate) fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    Action {
        pos: usize,
        pipe: Pipe,
    },
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break {
        pos: usize,
    },
    Continue {
        pos: usize,
    },
}

impl Node {
    pub fn pos(&self) -> usize {
        match self {
            Node::Text(_) => 0,
            Node::Action { pos, .. }
            | Node::Template { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos } => *pos,
            Node::If(b) | Node::Range(b) | Node::With(b) => b.pipe.pos,
        }
    }
}

/// The body of `if`, `range` and `with`.
#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub args: Vec<Arg>,
}

/// A number literal with every reading Go's parser gives it.
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub text: String,
    pub int: Option<i64>,
    pub uint: Option<u64>,
    pub float: Option<f64>,
    pub is_char: bool,
}

/// An operand of a command.
#[derive(Debug)]
pub(crate) enum Arg {
    /// `.A.B`
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    /// `$x.A.B`; `idents[0]` is `$x`.
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    /// `(pipeline).A.B`
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Bool {
        pos: usize,
        val: bool,
    },
    Number {
        pos: usize,
        num: Number,
    },
    Str {
        pos: usize,
        quoted: String,
        val: String,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::Str { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

// Go's Node.String(), used as the `at <...>` context of execution errors.
impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => write!(f, "{}", idents.join(".")),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = &**node {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => write!(f, "{name}"),
            Arg::Dot { .. } => write!(f, "."),
            Arg::Nil { .. } => write!(f, "nil"),
            Arg::Bool { val, .. } => write!(f, "{val}"),
            Arg::Number { num, .. } => write!(f, "{}", num.text),
            Arg::Str { quoted, .. } => write!(f, "{quoted}"),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(
                f,
                "{} {} ",
                self.decl.join(", "),
                if self.is_assign { "=" } else { ":=" }
            )?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            for (j, a) in c.args.iter().enumerate() {
                if j > 0 {
                    f.write_char(' ')?;
                }
                if let Arg::Pipe(p) = a {
                    write!(f, "({p})")?;
                } else {
                    write!(f, "{a}")?;
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Text(t) => write!(f, "{}", go_quote(t)),
            Node::Action { pipe, .. } => write!(f, "{{{{{pipe}}}}}"),
            Node::Template { name, pipe, .. } => match pipe {
                None => write!(f, "{{{{template {}}}}}", go_quote(name)),
                Some(p) => write!(f, "{{{{template {} {p}}}}}", go_quote(name)),
            },
            Node::Break { .. } => write!(f, "{{{{break}}}}"),
            Node::Continue { .. } => write!(f, "{{{{continue}}}}"),
            Node::If(b) => write!(f, "{{{{if {}}}}}", b.pipe),
            Node::Range(b) => write!(f, "{{{{range {}}}}}", b.pipe),
            Node::With(b) => write!(f, "{{{{with {}}}}}", b.pipe),
        }
    }
}

/// What `text_or_action` can return: a node, or the `{{end}}`/`{{else}}`
/// that closes the list being parsed.
enum Parsed {
    Node(Node),
    End,
    Else,
}

impl fmt::Display for Parsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Parsed::Node(n) => write!(f, "{n}"),
            Parsed::End => f.write_str("{{end}}"),
            Parsed::Else => f.write_str("{{else}}"),
        }
    }
}

struct Parser<'f> {
    items: Vec<Item>,
    idx: usize,
    /// The furthest item looked at; Go reports errors on its line.
    seen: usize,
    parse_name: String,
    text: Arc<str>,
    has_func: &'f dyn Fn(&str) -> bool,
    vars: Vec<String>,
    range_depth: usize,
    /// Control structures and parenthesized pipelines open around the
    /// current item (see [`MAX_NESTING`]).
    nesting: usize,
    /// Line of the `{{` of the action being parsed (0 outside actions),
    /// for `unclosed action started at NAME:LINE`.
    action_line: usize,
    /// Trees defined so far in this text, in definition order.
    trees: Vec<Tree>,
}

type PResult<T> = Result<T, TemplateError>;

/// Deepest nesting of control structures (`if`, `range`, `with`, and each
/// `else if` of a chain) and parenthesized pipelines. Parsing and
/// executing recurse once per level; Go's growable stacks allow 10 000
/// levels of parentheses ("max expression depth exceeded"), a fixed
/// thread stack does not. Real templates nest a handful of levels.
const MAX_NESTING: usize = 100;

/// Parses `text` as template `name`: the top-level tree plus one tree per
/// `define`/`block`, in the order they were completed.
pub(crate) fn parse(
    name: &str,
    text: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, TemplateError> {
    let mut p = Parser {
        items: lex(text),
        idx: 0,
        seen: 0,
        parse_name: name.to_string(),
        text: Arc::from(text),
        has_func,
        vars: vec!["$".to_string()],
        range_depth: 0,
        nesting: 0,
        action_line: 0,
        trees: Vec::new(),
    };
    let mut root = Vec::new();
    while p.peek().kind != Kind::Eof {
        if p.peek().kind == Kind::LeftDelim {
            let mark = p.idx;
            p.next();
            if p.next_non_space().kind == Kind::Define {
                p.definition()?;
                continue;
            }
            p.idx = mark;
        }
        match p.text_or_action()? {
            Parsed::Node(n) => root.push(n),
            other => return Err(p.error(format!("unexpected {other}"))),
        }
    }
    p.add(name.to_string(), root)?;
    Ok(p.trees)
}

impl Parser<'_> {
    /// Opens one level of nesting; past [`MAX_NESTING`] the template is
    /// refused instead of overflowing the stack.
    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error(format!(
                "max expression depth exceeded: more than {MAX_NESTING} nested control structures or parentheses"
            )));
        }
        Ok(())
    }

    fn error(&self, msg: String) -> TemplateError {
        let line = self.items[self.seen.min(self.items.len() - 1)].line;
        TemplateError(format!("template: {}:{}: {}", self.parse_name, line, msg))
    }

    fn unexpected(&self, item: &Item, context: &str) -> TemplateError {
        // Lexer errors speak for themselves (Go 1.16 and later).
        if item.kind == Kind::Error {
            let mut extra = String::new();
            if self.action_line != 0 && self.action_line != item.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.action_line
                );
                if item.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.error(format!("{}{}", item.val, extra));
        }
        self.error(format!("unexpected {} in {}", item.describe(), context))
    }

    fn next(&mut self) -> Item {
        let i = self.idx.min(self.items.len() - 1);
        self.idx = i + 1;
        self.seen = self.seen.max(i);
        self.items[i].clone()
    }

    fn backup(&mut self) {
        self.idx -= 1;
    }

    fn peek(&mut self) -> Item {
        let it = self.next();
        self.backup();
        it
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.kind != Kind::Space {
                return it;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Item> {
        let it = self.next_non_space();
        if it.kind != kind {
            return Err(self.unexpected(&it, context));
        }
        Ok(it)
    }

    /// Records a finished tree; within one text a second non-empty
    /// definition of a name is an error, as in Go.
    fn add(&mut self, name: String, root: Vec<Node>) -> PResult<()> {
        if let Some(i) = self.trees.iter().position(|t| t.name == name) {
            if is_empty_tree(&self.trees[i].root) {
                self.trees.remove(i);
            } else if !is_empty_tree(&root) {
                return Err(self.error(format!(
                    "template: multiple definition of template {}",
                    go_quote(&name)
                )));
            } else {
                return Ok(());
            }
        }
        self.trees.push(Tree {
            name,
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root,
        });
        Ok(())
    }

    /// A nested tree (`define`, `block`) starts with only `$` in scope.
    fn nested_list(&mut self, context: &str) -> PResult<Vec<Node>> {
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return Err(self.error(format!("unexpected {end} in {context}")));
        }
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        Ok(list)
    }

    fn definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let tok = self.next_non_space();
        let name = match tok.kind {
            Kind::Str | Kind::RawStr => self.unquote(&tok)?,
            _ => return Err(self.unexpected(&tok, CONTEXT)),
        };
        self.expect(Kind::RightDelim, CONTEXT)?;
        let list = self.nested_list(CONTEXT)?;
        self.add(name, list)
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
        Err(self.error("unexpected EOF".into()))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let tok = self.next_non_space();
        match tok.kind {
            Kind::Text => Ok(Parsed::Node(Node::Text(tok.val))),
            Kind::LeftDelim => {
                self.action_line = tok.line;
                let r = self.action();
                self.action_line = 0;
                r
            }
            _ => Err(self.unexpected(&tok, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let tok = self.next_non_space();
        match tok.kind {
            Kind::Block => return self.block_control(),
            Kind::Break | Kind::Continue => return self.break_control(&tok),
            Kind::Else => return self.else_control(),
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            Kind::If => return self.control("if").map(|b| Parsed::Node(Node::If(b))),
            Kind::Range => return self.control("range").map(|b| Parsed::Node(Node::Range(b))),
            Kind::With => return self.control("with").map(|b| Parsed::Node(Node::With(b))),
            Kind::Template => return self.template_control(),
            _ => {}
        }
        self.backup();
        let pos = self.peek().pos;
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Parsed::Node(Node::Action { pos, pipe }))
    }

    fn break_control(&mut self, tok: &Item) -> PResult<Parsed> {
        let word = if tok.kind == Kind::Break {
            "break"
        } else {
            "continue"
        };
        let next = self.next_non_space();
        if next.kind != Kind::RightDelim {
            return Err(self.unexpected(&next, &format!("{{{{{word}}}}}")));
        }
        if self.range_depth == 0 {
            return Err(self.error(format!("{{{{{word}}}}} outside {{{{range}}}}")));
        }
        Ok(Parsed::Node(if tok.kind == Kind::Break {
            Node::Break { pos: tok.pos }
        } else {
            Node::Continue { pos: tok.pos }
        }))
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        // `else if` / `else with`: leave the keyword for the enclosing
        // control to chain on.
        let peek = self.peek_non_space();
        if peek.kind == Kind::If || peek.kind == Kind::With {
            return Ok(Parsed::Else);
        }
        self.expect(Kind::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn control(&mut self, context: &str) -> PResult<Branch> {
        self.enter()?;
        let branch = self.control_inner(context);
        self.nesting -= 1;
        branch
    }

    fn control_inner(&mut self, context: &str) -> PResult<Branch> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match next {
            Parsed::Else => {
                let chained = self.peek().kind;
                if (context == "if" && chained == Kind::If)
                    || (context == "with" && chained == Kind::With)
                {
                    self.next();
                    let inner = self.control(context)?;
                    // One {{end}} closes the whole chain.
                    Some(vec![if context == "if" {
                        Node::If(inner)
                    } else {
                        Node::With(inner)
                    }])
                } else {
                    let (el, next) = self.item_list()?;
                    if !matches!(next, Parsed::End) {
                        return Err(self.error(format!("expected end; found {next}")));
                    }
                    Some(el)
                }
            }
            _ => None,
        };
        self.vars.truncate(mark);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, tok: &Item, context: &str) -> PResult<String> {
        match tok.kind {
            Kind::Str | Kind::RawStr => self.unquote(tok),
            _ => Err(self.unexpected(tok, context)),
        }
    }

    fn template_control(&mut self) -> PResult<Parsed> {
        const CONTEXT: &str = "template clause";
        let tok = self.next_non_space();
        let name = self.template_name(&tok, CONTEXT)?;
        let pipe = if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            Some(self.pipeline(CONTEXT, Kind::RightDelim)?)
        } else {
            None
        };
        Ok(Parsed::Node(Node::Template {
            pos: tok.pos,
            name,
            pipe,
        }))
    }

    fn block_control(&mut self) -> PResult<Parsed> {
        const CONTEXT: &str = "block clause";
        let tok = self.next_non_space();
        let name = self.template_name(&tok, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        let list = self.nested_list(CONTEXT)?;
        self.add(name.clone(), list)?;
        Ok(Parsed::Node(Node::Template {
            pos: tok.pos,
            name,
            pipe: Some(pipe),
        }))
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        let pos = self.peek_non_space().pos;
        let mut pipe = Pipe {
            pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            self.next_non_space();
            let next = self.peek_non_space();
            if next.kind == Kind::Assign || next.kind == Kind::Declare {
                pipe.is_assign = next.kind == Kind::Assign;
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val);
                break;
            } else if next.kind == Kind::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().kind {
                        Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                        _ => return Err(self.error("range can only initialize variables".into())),
                    }
                }
                return Err(self.error(format!("too many declarations in {context}")));
            } else {
                // Not a declaration: the variable is an operand.
                self.backup_to(v.pos);
                break;
            }
        }
        loop {
            let tok = self.next_non_space();
            if tok.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match tok.kind {
                Kind::Bool
                | Kind::CharConst
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawStr
                | Kind::Str
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&tok, context)),
            }
        }
    }

    /// Rewinds to the item at byte `pos`.
    fn backup_to(&mut self, pos: usize) {
        while self.idx > 0 && self.items[self.idx - 1].pos >= pos {
            self.idx -= 1;
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.error(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Arg::Bool { .. }
                    | Arg::Dot { .. }
                    | Arg::Nil { .. }
                    | Arg::Number { .. }
                    | Arg::Str { .. }
            ) {
                return Err(self.error(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let mut cmd = Command { args: Vec::new() };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let tok = self.next();
            match tok.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return Err(self.unexpected(&tok, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error("empty command".into()));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            fields.push(self.next().val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field { mut idents, .. } => {
                idents.extend(fields);
                Arg::Field { pos, idents }
            }
            Arg::Variable { mut idents, .. } => {
                idents.extend(fields);
                Arg::Variable { pos, idents }
            }
            Arg::Bool { .. }
            | Arg::Str { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.error(format!(
                    "unexpected . after term {}",
                    go_quote(&node.to_string())
                )));
            }
            node => Arg::Chain {
                pos,
                node: Box::new(node),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let tok = self.next_non_space();
        let pos = tok.pos;
        Ok(Some(match tok.kind {
            Kind::Identifier => {
                if !(self.has_func)(&tok.val) {
                    return Err(self.error(format!("function {} not defined", go_quote(&tok.val))));
                }
                Arg::Identifier { pos, name: tok.val }
            }
            Kind::Dot => Arg::Dot { pos },
            Kind::Nil => Arg::Nil { pos },
            Kind::Variable => {
                if !self.vars.contains(&tok.val) {
                    return Err(self.error(format!("undefined variable {}", go_quote(&tok.val))));
                }
                Arg::Variable {
                    pos,
                    idents: vec![tok.val],
                }
            }
            Kind::Field => Arg::Field {
                pos,
                idents: vec![tok.val[1..].to_string()],
            },
            Kind::Bool => Arg::Bool {
                pos,
                val: tok.val == "true",
            },
            Kind::Number | Kind::CharConst => {
                let num = parse_number(&tok.val, tok.kind == Kind::CharConst)
                    .map_err(|e| self.error(e))?;
                Arg::Number { pos, num }
            }
            Kind::LeftParen => {
                self.enter()?;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen)?;
                self.nesting -= 1;
                Arg::Pipe(Box::new(pipe))
            }
            Kind::Str | Kind::RawStr => {
                let val = self.unquote(&tok)?;
                Arg::Str {
                    pos,
                    quoted: tok.val,
                    val,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn unquote(&self, tok: &Item) -> PResult<String> {
        if tok.kind == Kind::RawStr {
            let inner = &tok.val[1..tok.val.len() - 1];
            return Ok(inner.replace('\r', ""));
        }
        unquote_interpreted(&tok.val[1..tok.val.len() - 1], '"')
            .map_err(|_| self.error("invalid syntax".into()))
    }
}

/// Decodes the escapes of a Go interpreted string or rune literal body.
fn unquote_interpreted(s: &str, quote: char) -> Result<String, ()> {
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let hex = |chars: &mut std::iter::Peekable<std::str::Chars>, n: usize| -> Result<u32, ()> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = chars.next().and_then(|c| c.to_digit(16)).ok_or(())?;
            v = v * 16 + d;
        }
        Ok(v)
    };
    while let Some(c) = chars.next() {
        if c == quote {
            return Err(());
        }
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or(())?;
        let push_char = |out: &mut Vec<u8>, c: char| {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        };
        match e {
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(11),
            '\\' => out.push(b'\\'),
            '\'' | '"' if e == quote => out.push(e as u8),
            'x' => out.push(hex(&mut chars, 2)? as u8),
            'u' => push_char(&mut out, char::from_u32(hex(&mut chars, 4)?).ok_or(())?),
            'U' => push_char(&mut out, char::from_u32(hex(&mut chars, 8)?).ok_or(())?),
            '0'..='7' => {
                let mut v = e.to_digit(8).ok_or(())?;
                for _ in 0..2 {
                    v = v * 8 + chars.next().and_then(|c| c.to_digit(8)).ok_or(())?;
                }
                if v > 255 {
                    return Err(());
                }
                out.push(v as u8);
            }
            _ => return Err(()),
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn parse_go_uint(text: &str) -> Option<u64> {
    if text.starts_with('+') || text.starts_with('-') {
        return None;
    }
    let t = text.replace('_', "");
    if text.starts_with('_') || text.ends_with('_') || text.contains("__") {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    let (digits, radix) = if let Some(h) = lower.strip_prefix("0x") {
        (h, 16)
    } else if let Some(o) = lower.strip_prefix("0o") {
        (o, 8)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (b, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn parse_go_int(text: &str) -> Option<i64> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let u = parse_go_uint(body)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// Go's `newNumber`: every reading of a literal (int, uint, float).
pub(crate) fn parse_number(text: &str, is_char: bool) -> Result<Number, String> {
    if is_char {
        let body = &text[1..text.len() - 1];
        let s = unquote_interpreted(body, '\'')
            .map_err(|_| format!("malformed character constant: {text}"))?;
        let mut cs = s.chars();
        let (Some(c), None) = (cs.next(), cs.next()) else {
            return Err(format!("malformed character constant: {text}"));
        };
        let r = c as i64;
        return Ok(Number {
            text: text.to_string(),
            int: Some(r),
            uint: Some(r as u64),
            float: Some(r as f64),
            is_char: true,
        });
    }
    if text.ends_with('i') {
        return Err(format!(
            "complex numbers are not supported: {}",
            go_quote(text)
        ));
    }
    let mut n = Number {
        text: text.to_string(),
        int: parse_go_int(text),
        uint: parse_go_uint(text),
        float: None,
        is_char: false,
    };
    if let Some(i) = n.int {
        n.float = Some(i as f64);
    } else if let Some(u) = n.uint {
        n.float = Some(u as f64);
    } else {
        let cleaned = text.replace('_', "");
        let is_hex = cleaned
            .to_ascii_lowercase()
            .trim_start_matches(['+', '-'])
            .starts_with("0x");
        if let (false, Ok(f)) = (is_hex, cleaned.parse::<f64>()) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(format!("integer overflow: {}", go_quote(text)));
            }
            n.float = Some(f);
            if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 {
                n.int = Some(f as i64);
            }
            if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 {
                n.uint = Some(f as u64);
            }
        }
    }
    if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
        return Err(format!("illegal number syntax: {}", go_quote(text)));
    }
    Ok(n)
}

/// Trees by name, for the executor.
pub(crate) type TreeSet = HashMap<String, Arc<Tree>>;
