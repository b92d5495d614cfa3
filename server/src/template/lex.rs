//! The lexer: template text to [`Item`]s, following Go's text/template
//! lexer (`text/template/parse/lex.go`) in what it accepts and in its error
//! messages.
//!
//! Outside actions everything is text. `{{- ` trims the whitespace before
//! the action and ` -}}` the whitespace after it (the marker needs the
//! space, so `{{-3}}` is the number -3). Comments `{{/* */}}` produce no
//! item but still trim. Lexing stops at the first error, which becomes an
//! `Error` item for the parser to report (`unexpected unclosed action in
//! command`).

/// What an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Identifier,
    /// `.Name`; the value keeps the dot.
    Field,
    /// `$name` or `$`.
    Variable,
    Bool,
    Number,
    CharConst,
    Str,
    RawStr,
    Pipe,
    LeftParen,
    RightParen,
    Declare,
    Assign,
    /// Any other printable ASCII character inside an action (`,`).
    Char,
    Error,
    Eof,
    // Keywords.
    Dot,
    Nil,
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Range,
    Template,
    With,
}

/// One lexed item: its kind, text, byte offset and line.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub kind: Kind,
    pub val: String,
    pub pos: usize,
    pub line: usize,
}

impl Item {
    fn is_keyword(&self) -> bool {
        matches!(
            self.kind,
            Kind::Dot
                | Kind::Nil
                | Kind::Block
                | Kind::Break
                | Kind::Continue
                | Kind::Define
                | Kind::Else
                | Kind::End
                | Kind::If
                | Kind::Range
                | Kind::Template
                | Kind::With
        )
    }

    /// How Go's parser names the item in `unexpected X in Y` messages.
    pub fn describe(&self) -> String {
        match self.kind {
            Kind::Eof => "EOF".into(),
            Kind::Error => self.val.clone(),
            _ if self.is_keyword() => format!("<{}>", self.val),
            _ if self.val.chars().count() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                format!("{}...", super::fmt::go_quote(&head))
            }
            _ => super::fmt::go_quote(&self.val),
        }
    }
}

fn keyword(word: &str) -> Option<Kind> {
    Some(match word {
        "block" => Kind::Block,
        "break" => Kind::Break,
        "continue" => Kind::Continue,
        "define" => Kind::Define,
        "else" => Kind::Else,
        "end" => Kind::End,
        "if" => Kind::If,
        "range" => Kind::Range,
        "nil" => Kind::Nil,
        "template" => Kind::Template,
        "with" => Kind::With,
        _ => return None,
    })
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// `-` then a space, after `{{`.
fn has_left_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

/// A space then `-`, before `}}`.
fn has_right_trim(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

/// Go's `%#U`.
pub(crate) fn unicode_repr(c: char) -> String {
    if !c.is_control() && (!c.is_whitespace() || c == ' ') {
        format!("U+{:04X} '{}'", c as u32, c)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    start: usize,
    paren_depth: i32,
    items: Vec<Item>,
    /// Line bookkeeping: the line at byte `line_at.0`.
    line_at: (usize, usize),
}

/// Lexes `src` into items ending with `Eof` or `Error`.
pub(crate) fn lex(src: &str) -> Vec<Item> {
    let mut l = Lexer {
        src,
        pos: 0,
        start: 0,
        paren_depth: 0,
        items: Vec::new(),
        line_at: (0, 1),
    };
    let mut inside = false;
    loop {
        let r = if inside { l.inside_action() } else { l.text() };
        match r {
            Step::Text => inside = false,
            Step::Action => inside = true,
            Step::Done => break,
        }
    }
    l.items
}

enum Step {
    Text,
    Action,
    Done,
}

impl<'a> Lexer<'a> {
    fn line_of(&mut self, pos: usize) -> usize {
        let (at, line) = self.line_at;
        let line = if pos >= at {
            line + self.src[at..pos].matches('\n').count()
        } else {
            1 + self.src[..pos].matches('\n').count()
        };
        self.line_at = (pos, line);
        line
    }

    fn emit_val(&mut self, kind: Kind, val: &str, pos: usize) {
        let line = self.line_of(pos);
        self.items.push(Item {
            kind,
            val: val.to_string(),
            pos,
            line,
        });
    }

    fn emit(&mut self, kind: Kind) {
        let (s, p) = (&self.src[self.start..self.pos], self.start);
        let line = self.line_of(p);
        self.items.push(Item {
            kind,
            val: s.to_string(),
            pos: p,
            line,
        });
        self.start = self.pos;
    }

    fn error(&mut self, msg: String) -> Step {
        let p = self.start;
        self.emit_val(Kind::Error, &msg, p);
        Step::Done
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn backup(&mut self, c: Option<char>) {
        if let Some(c) = c {
            self.pos -= c.len_utf8();
        }
    }

    /// Text up to the next action or comment.
    fn text(&mut self) -> Step {
        match self.rest().find(LEFT) {
            None => {
                self.pos = self.src.len();
                if self.pos > self.start {
                    self.emit(Kind::Text);
                }
                let p = self.pos;
                self.emit_val(Kind::Eof, "", p);
                Step::Done
            }
            Some(x) => {
                let delim = self.pos + x;
                let trim = has_left_trim(&self.src[delim + LEFT.len()..]);
                let mut text_end = delim;
                if trim {
                    let t = &self.src[self.start..delim];
                    text_end = self.start + t.trim_end_matches(is_space).len();
                }
                if text_end > self.start {
                    self.pos = text_end;
                    self.emit(Kind::Text);
                }
                self.pos = delim + LEFT.len();
                self.start = delim;
                let after = if trim { 2 } else { 0 };
                if self.src[self.pos + after..].starts_with("/*") {
                    self.pos += after;
                    return self.comment();
                }
                self.emit(Kind::LeftDelim);
                self.pos += after;
                self.start = self.pos;
                self.paren_depth = 0;
                Step::Action
            }
        }
    }

    fn comment(&mut self) -> Step {
        self.pos += 2;
        let Some(x) = self.rest().find("*/") else {
            return self.error("unclosed comment".into());
        };
        self.pos += x + 2;
        let (delim, trim) = self.at_right_delim();
        if !delim {
            return self.error("comment ends before closing delimiter".into());
        }
        if trim {
            self.pos += 2;
        }
        self.pos += RIGHT.len();
        if trim {
            self.pos += self.rest().len() - self.rest().trim_start_matches(is_space).len();
        }
        self.start = self.pos;
        Step::Text
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let r = self.rest();
        if has_right_trim(r) && r[2..].starts_with(RIGHT) {
            return (true, true);
        }
        (r.starts_with(RIGHT), false)
    }

    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            _ => self.rest().starts_with(RIGHT),
        }
    }

    fn inside_action(&mut self) -> Step {
        let (delim, trim) = self.at_right_delim();
        if delim {
            if self.paren_depth != 0 {
                return self.error("unclosed left paren".into());
            }
            if trim {
                self.pos += 2;
                self.start = self.pos;
            }
            self.pos += RIGHT.len();
            self.emit(Kind::RightDelim);
            if trim {
                self.pos += self.rest().len() - self.rest().trim_start_matches(is_space).len();
            }
            self.start = self.pos;
            return Step::Text;
        }
        let Some(c) = self.next() else {
            return self.error("unclosed action".into());
        };
        match c {
            c if is_space(c) => {
                self.backup(Some(c));
                return self.space();
            }
            '=' => self.emit(Kind::Assign),
            ':' => {
                if self.next() != Some('=') {
                    return self.error("expected :=".into());
                }
                self.emit(Kind::Declare);
            }
            '|' => self.emit(Kind::Pipe),
            '"' => return self.quote(),
            '`' => return self.raw_quote(),
            '$' => return self.field_or_variable(Kind::Variable),
            '\'' => return self.char_const(),
            '.' => {
                // `.5` is a number; anything else starts a field.
                if !self.peek().is_some_and(|d| d.is_ascii_digit()) {
                    return self.field_or_variable(Kind::Field);
                }
                self.backup(Some(c));
                return self.number();
            }
            '+' | '-' | '0'..='9' => {
                self.backup(Some(c));
                return self.number();
            }
            c if is_alnum(c) => {
                self.backup(Some(c));
                return self.identifier();
            }
            '(' => {
                self.emit(Kind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.error(format!("unexpected right paren {}", unicode_repr(c)));
                }
                self.emit(Kind::RightParen);
            }
            c if c.is_ascii() && !c.is_ascii_control() => self.emit(Kind::Char),
            c => {
                return self.error(format!(
                    "unrecognized character in action: {}",
                    unicode_repr(c)
                ))
            }
        }
        Step::Action
    }

    fn space(&mut self) -> Step {
        let mut n = 0;
        while self.peek().is_some_and(is_space) {
            self.next();
            n += 1;
        }
        // A trim marker's space belongs to the closing delimiter.
        let back = &self.src[self.pos - 1..];
        if has_right_trim(back) && back[2..].starts_with(RIGHT) {
            self.pos -= 1;
            if n == 1 {
                return Step::Action;
            }
        }
        self.emit(Kind::Space);
        Step::Action
    }

    fn identifier(&mut self) -> Step {
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", unicode_repr(c)));
        }
        let word = &self.src[self.start..self.pos];
        let kind = match keyword(word) {
            Some(k) => k,
            None if word == "true" || word == "false" => Kind::Bool,
            None => Kind::Identifier,
        };
        self.emit(kind);
        Step::Action
    }

    fn field_or_variable(&mut self, kind: Kind) -> Step {
        if self.at_terminator() {
            self.emit(if kind == Kind::Variable {
                Kind::Variable
            } else {
                Kind::Dot
            });
            return Step::Action;
        }
        while self.peek().is_some_and(is_alnum) {
            self.next();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            return self.error(format!("bad character {}", unicode_repr(c)));
        }
        self.emit(kind);
        Step::Action
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.next();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    fn number(&mut self) -> Step {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if self.peek().is_some_and(is_alnum) || self.peek().is_some_and(|c| c == '+' || c == '-') {
            self.next();
            let text = &self.src[self.start..self.pos];
            return self.error(format!("bad number syntax: {}", super::fmt::go_quote(text)));
        }
        self.emit(Kind::Number);
        Step::Action
    }

    fn quote(&mut self) -> Step {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => {
                        return self.error("unterminated quoted string".into());
                    }
                    _ => {}
                },
                Some('\n') | None => return self.error("unterminated quoted string".into()),
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(Kind::Str);
        Step::Action
    }

    fn raw_quote(&mut self) -> Step {
        match self.rest().find('`') {
            None => self.error("unterminated raw quoted string".into()),
            Some(x) => {
                self.pos += x + 1;
                self.emit(Kind::RawStr);
                Step::Action
            }
        }
    }

    fn char_const(&mut self) -> Step {
        loop {
            match self.next() {
                Some('\\') => match self.next() {
                    Some('\n') | None => {
                        return self.error("unterminated character constant".into());
                    }
                    _ => {}
                },
                Some('\n') | None => return self.error("unterminated character constant".into()),
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(Kind::CharConst);
        Step::Action
    }
}
