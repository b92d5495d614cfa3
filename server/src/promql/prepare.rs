//! Query text → checked AST.
//!
//! `promql-parser` does the grammar and the type checks. Around it:
//! - `holt_winters`, which Prometheus 2 had and 3 renamed to
//!   `double_exponential_smoothing`, is registered so old dashboards keep
//!   working;
//! - constant arithmetic in durations (`[5m+1m]`, `offset (2*30s)`), which
//!   Prometheus 3.5 accepts and the parser does not, is folded into plain
//!   durations first;
//! - the parser's `or` inside braces (not PromQL) is refused.

use std::sync::Once;

use promql_parser::parser::{self, value::ValueType, Expr, Function};

use super::QueryError;

static REGISTER: Once = Once::new();

/// Parsed queries by text: parsing compiles every regex of the query, and
/// dashboards send the same queries every refresh.
static PARSED: std::sync::LazyLock<crate::memo::Memo<String, Expr>> =
    std::sync::LazyLock::new(|| crate::memo::Memo::new(1024));

/// Parses and checks a query.
pub fn parse(query: &str) -> Result<Expr, QueryError> {
    PARSED.get_or_try(query, || parse_uncached(query))
}

fn parse_uncached(query: &str) -> Result<Expr, QueryError> {
    REGISTER.call_once(|| {
        // Only fails if the parser grows a built-in of that name, in which
        // case the built-in serves.
        let _ = parser::register_extra_functions(vec![Function::new(
            "holt_winters",
            vec![ValueType::Matrix, ValueType::Scalar, ValueType::Scalar],
            0,
            ValueType::Vector,
            false,
        )]);
    });
    check_depth(query).map_err(QueryError::Parse)?;
    let text = fold_durations(query);
    let mut expr = parser::parse(&text).map_err(|e| QueryError::Parse(parse_message(query, &e)))?;
    check(&expr)?;
    let invalid = invalid_utf8_literals(query);
    if !invalid.is_empty() {
        mark_invalid_strings(&mut expr, &invalid);
    }
    Ok(expr)
}

/// Deepest syntax tree a query may have, counted as [`depth_bound`]
/// counts it. Prometheus (Go, growable stacks) parses and evaluates
/// any depth; the parser, the evaluator, the formatter and dropping a
/// tree recurse here, so deeper queries are refused with `bad_data`
/// before the parser sees them. Hand-written and generated queries stay
/// far below: the deepest query of the corpus dashboards (Node Exporter
/// Full, kube-prometheus) counts 14, the deepest rule of the corpus rule
/// files 20.
pub const MAX_DEPTH: usize = 256;

/// Refuses a query whose syntax tree could be deeper than [`MAX_DEPTH`].
pub fn check_depth(query: &str) -> Result<(), String> {
    let depth = depth_bound(query);
    if depth > MAX_DEPTH {
        return Err(format!(
            "query is nested too deeply: about {depth} levels of parentheses, calls, subqueries and operators; at most {MAX_DEPTH} are accepted"
        ));
    }
    Ok(())
}

/// An upper bound of the depth of `query`'s syntax tree, found in one
/// pass over its text without parsing it. Every bracket pair (`(`, `[`,
/// `{`) is a group; a group's tree is at most one level for the group,
/// plus one per operator written directly in it (binary and unary
/// operators, `and`/`or`/`unless`/`atan2`, and each `[` — a range or
/// subquery wraps what precedes it), plus its deepest inner group.
/// Strings and comments are skipped. Over-counting only makes the bound
/// looser; it never under-counts, so nothing deeper reaches the parser.
pub fn depth_bound(query: &str) -> usize {
    // Per open group: operators seen directly in it, deepest inner group.
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    let b = query.as_bytes();
    let mut i = 0;
    let close = |stack: &mut Vec<(usize, usize)>| {
        if stack.len() > 1 {
            let (ops, inner) = stack.pop().expect("BUG: depth stack is never empty");
            let top = stack.last_mut().expect("BUG: depth stack is never empty");
            top.1 = top.1.max(1 + ops + inner);
        }
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' | b'\'' | b'`' => {
                i += 1;
                while i < b.len() && b[i] != c {
                    if b[i] == b'\\' && c != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' | b'{' => stack.push((0, 0)),
            b'[' => {
                stack.last_mut().expect("BUG: depth stack is never empty").0 += 1;
                stack.push((0, 0));
            }
            b')' | b'}' | b']' => close(&mut stack),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' => {
                stack.last_mut().expect("BUG: depth stack is never empty").0 += 1;
                // Two-character operators (`==`, `!=`, `<=`, `=~`...) count once.
                if matches!(b.get(i + 1), Some(b'=' | b'~')) {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                let word = &query[start..i];
                if ["and", "or", "unless", "atan2"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    stack.last_mut().expect("BUG: depth stack is never empty").0 += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    let (ops, inner) = stack[0];
    1 + ops + inner
}

/// Prefix of a string literal whose escapes spell bytes that are not UTF-8
/// (`"\xff"`). Go keeps such strings as bytes and Prometheus refuses them
/// where a label name is needed; the parser instead reads `\xff` as the
/// character U+00FF, a valid name. Such literals are rewritten to this
/// prefix followed by Go's quoting of the bytes, which no label name or
/// value can contain, so the functions can refuse them as Prometheus does.
pub const INVALID_UTF8: &str = "\u{0}invalid utf-8\u{0}";

/// The Go-quoted text (`"a\xc5z"`) of a literal marked by
/// [`INVALID_UTF8`].
pub fn invalid_utf8(s: &str) -> Option<&str> {
    s.strip_prefix(INVALID_UTF8)
}

/// String literals of the query whose bytes are not UTF-8: the value the
/// parser gives them → Go's quoting of their bytes.
fn invalid_utf8_literals(query: &str) -> Vec<(String, String)> {
    let b = query.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let q = b[i];
        if q != b'"' && q != b'\'' {
            if q == b'`' {
                // Raw strings have no escapes.
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            i += 1;
            continue;
        }
        i += 1;
        let (mut bytes, mut parsed) = (Vec::new(), String::new());
        while i < b.len() && b[i] != q {
            if b[i] == b'\\' && i + 1 < b.len() {
                let e = b[i + 1];
                let hex = |s: &[u8]| {
                    std::str::from_utf8(s)
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                };
                let oct = |s: &[u8]| {
                    std::str::from_utf8(s)
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 8).ok())
                };
                let byte = match e {
                    b'x' if i + 4 <= b.len() => hex(&b[i + 2..i + 4]).map(|v| (v, 4)),
                    b'0'..=b'7' if i + 4 <= b.len() => oct(&b[i + 1..i + 4]).map(|v| (v, 4)),
                    _ => None,
                };
                if let Some((v, len)) = byte {
                    bytes.push(v as u8);
                    parsed.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                    i += len;
                    continue;
                }
                // Other escapes are ASCII or whole characters: same bytes
                // for both readings.
                let c = match e {
                    b'n' => '\n',
                    b't' => '\t',
                    b'r' => '\r',
                    b'a' => '\u{7}',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'v' => '\u{b}',
                    other => other as char,
                };
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                parsed.push(c);
                i += 2;
                continue;
            }
            let c = query[i..].chars().next().expect("in bounds");
            bytes.extend_from_slice(c.to_string().as_bytes());
            parsed.push(c);
            i += c.len_utf8();
        }
        i += 1;
        if std::str::from_utf8(&bytes).is_err() {
            out.push((parsed, go_quote(&bytes)));
        }
    }
    out
}

use pharos_agent::gofmt::quote_bytes as go_quote;

/// Replaces string literals the parser read from invalid UTF-8.
fn mark_invalid_strings(e: &mut Expr, invalid: &[(String, String)]) {
    match e {
        Expr::StringLiteral(s) => {
            if let Some((_, quoted)) = invalid.iter().find(|(v, _)| *v == s.val) {
                s.val = format!("{INVALID_UTF8}{quoted}");
            }
        }
        Expr::Aggregate(a) => {
            mark_invalid_strings(&mut a.expr, invalid);
            if let Some(p) = a.param.as_deref_mut() {
                mark_invalid_strings(p, invalid);
            }
        }
        Expr::Unary(u) => mark_invalid_strings(&mut u.expr, invalid),
        Expr::Binary(b) => {
            mark_invalid_strings(&mut b.lhs, invalid);
            mark_invalid_strings(&mut b.rhs, invalid);
        }
        Expr::Paren(p) => mark_invalid_strings(&mut p.expr, invalid),
        Expr::Subquery(s) => mark_invalid_strings(&mut s.expr, invalid),
        Expr::Call(c) => {
            for a in &mut c.args.args {
                mark_invalid_strings(a, invalid);
            }
        }
        _ => {}
    }
}

/// A parse error as Prometheus words it: `line:column: parse error: …`.
///
/// The parser reports grammar errors only as "invalid promql query", with
/// no position. The position is found here instead: the first token after
/// which no continuation of the query parses is the unexpected one
/// (continuations tried: an operand, closing brackets, a string). Errors
/// the parser does describe keep its text, with Prometheus's type names.
fn parse_message(query: &str, e: &str) -> String {
    let (pos, msg) = if e == "invalid promql query" {
        match unexpected_token(query) {
            Some((at, tok)) => (at, format!("unexpected {tok}")),
            None => (query.len(), "unexpected end of input".to_string()),
        }
    } else {
        let msg = e
            .replace("type matrix", "type range vector")
            .replace("type vector", "type instant vector")
            .replace("got matrix", "got range vector")
            .replace("got vector", "got instant vector");
        (0, quote_names(&msg))
    };
    let (line, col) = line_col(query, pos);
    format!("{line}:{col}: parse error: {msg}")
}

/// `'rate'` → `"rate"`, as Prometheus quotes names.
fn quote_names(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(start) = rest.find('\'') {
        match rest[start + 1..].find('\'') {
            Some(len) if !rest[start + 1..start + 1 + len].contains(' ') => {
                out.push_str(&rest[..start]);
                out.push('"');
                out.push_str(&rest[start + 1..start + 1 + len]);
                out.push('"');
                rest = &rest[start + 2 + len..];
            }
            _ => break,
        }
    }
    out.push_str(rest);
    out
}

/// 1-based line and column of byte offset `pos`.
fn line_col(query: &str, pos: usize) -> (usize, usize) {
    let before = &query[..pos.min(query.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Byte offset and text of the first token no valid query continues.
fn unexpected_token(query: &str) -> Option<(usize, String)> {
    const CONTINUATIONS: [&str; 16] = [
        "", " x", ")", "]", "}", " x)", " x]", "\"\"}", "\"\")", "5m]", " x))", "))", " 1)",
        "\"\"})", "=\"x\"}", "=\"x\"})",
    ];
    if query.len() > 4096 {
        return None;
    }
    let viable = |prefix: &str| {
        CONTINUATIONS
            .iter()
            .any(|c| promql_parser::parser::parse(&format!("{prefix}{c}")).is_ok())
    };
    for (start, end) in tokens(query) {
        if !viable(&query[..end]) {
            let tok = &query[start..end];
            return Some((start, format!("{tok:?}")));
        }
    }
    None
}

/// Token spans, roughly as PromQL's lexer splits: identifiers, numbers
/// and durations, strings, operators.
fn tokens(q: &str) -> Vec<(usize, usize)> {
    let b = q.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || c == b':' || c == b'.' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b"_:.".contains(&b[i])) {
                i += 1;
            }
        } else if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' && c != b'`' { 2 } else { 1 };
            }
            i = (i + 1).min(b.len());
        } else if i + 1 < b.len()
            && matches!(&b[i..i + 2], b"==" | b"!=" | b">=" | b"<=" | b"=~" | b"!~")
        {
            i += 2;
        } else {
            i += q[i..].chars().next().map_or(1, char::len_utf8);
        }
        out.push((start, i));
    }
    out
}

/// Refuses what the parser accepts and Prometheus does not.
fn check(e: &Expr) -> Result<(), QueryError> {
    let (at, or_matchers) = match e {
        Expr::VectorSelector(vs) => (vs.at.as_ref(), !vs.matchers.or_matchers.is_empty()),
        Expr::MatrixSelector(ms) => (ms.vs.at.as_ref(), !ms.vs.matchers.or_matchers.is_empty()),
        Expr::Subquery(sq) => (sq.at.as_ref(), false),
        _ => (None, false),
    };
    if let Some(promql_parser::parser::AtModifier::At(t)) = at {
        // The parser saturates huge timestamps instead of refusing them;
        // Prometheus needs the milliseconds to fit an int64.
        let ms = match t.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_millis(),
            Err(e) => e.duration().as_millis(),
        };
        if ms >= i64::MAX as u128 {
            return Err(QueryError::Parse(
                "1:1: parse error: timestamp out of bounds for @ modifier".into(),
            ));
        }
    }
    if or_matchers {
        return Err(QueryError::Parse(
            "1:1: parse error: unexpected \"or\" in label matching".into(),
        ));
    }
    match e {
        Expr::Aggregate(a) => {
            check(&a.expr)?;
            a.param.as_deref().map_or(Ok(()), check)
        }
        Expr::Unary(u) => check(&u.expr),
        Expr::Binary(b) => {
            check(&b.lhs)?;
            check(&b.rhs)
        }
        Expr::Paren(p) => check(&p.expr),
        Expr::Subquery(s) => check(&s.expr),
        Expr::Call(c) => c.args.args.iter().try_for_each(|a| check(a)),
        _ => Ok(()),
    }
}

/// Rewrites constant duration arithmetic inside `[...]` and after
/// `offset` into plain millisecond durations; anything it does not
/// understand is left for the parser to judge.
pub fn fold_durations(query: &str) -> String {
    let b = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut i = 0;
    let mut in_string: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = in_string {
            out.push(c as char);
            if c == b'\\' && i + 1 < b.len() {
                out.push(b[i + 1] as char);
                i += 2;
                continue;
            }
            if c == q {
                in_string = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\'' | b'`' => {
                in_string = Some(c);
                out.push(c as char);
                i += 1;
            }
            b'[' => {
                // `[range]` or `[range:step]`.
                let Some(close) = query[i..].find(']').map(|p| i + p) else {
                    out.push_str(&query[i..]);
                    break;
                };
                let inner = &query[i + 1..close];
                let parts: Vec<&str> = inner.splitn(2, ':').collect();
                let folded: Option<Vec<String>> = parts
                    .iter()
                    .map(|p| {
                        if p.trim().is_empty() {
                            Some(String::new())
                        } else {
                            fold_one(p)
                        }
                    })
                    .collect();
                out.push('[');
                match folded {
                    Some(f) => out.push_str(&f.join(":")),
                    None => out.push_str(inner),
                }
                out.push(']');
                i = close + 1;
            }
            _ if query[i..].starts_with("offset")
                && (i == 0 || !is_ident(b[i - 1]))
                && !b.get(i + 6).is_some_and(|&c| is_ident(c)) =>
            {
                out.push_str("offset");
                i += 6;
                // Only parenthesised expressions (and `-(...)`) are folded:
                // `x offset 5m + 1` must stay `(x offset 5m) + 1`.
                let rest = &query[i..];
                let trimmed = rest.trim_start();
                let ws = rest.len() - trimmed.len();
                let (neg, body_start) = match trimmed.strip_prefix('-') {
                    Some(r) if r.trim_start().starts_with('(') => {
                        (true, ws + 1 + (r.len() - r.trim_start().len()))
                    }
                    _ => (false, ws),
                };
                if query[i + body_start..].starts_with('(') {
                    if let Some(end) = matching_paren(&query[i + body_start..]) {
                        let expr = &query[i + body_start..i + body_start + end + 1];
                        if let Some(ms) = eval_duration(expr) {
                            let ms = if neg { -ms } else { ms };
                            out.push(' ');
                            out.push_str(&format_ms(ms));
                            i += body_start + end + 1;
                            continue;
                        }
                    }
                }
            }
            _ => {
                let ch = query[i..].chars().next().expect("in bounds");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// A range or step part: folded when it is arithmetic, else `None` (left
/// as written).
fn fold_one(p: &str) -> Option<String> {
    let t = p.trim();
    if !t.contains(['+', '-', '*', '/', '%', '^', '(']) {
        return None;
    }
    eval_duration(t).map(format_ms)
}

fn format_ms(ms: i64) -> String {
    if ms < 0 {
        format!("-{}ms", -ms)
    } else {
        format!("{ms}ms")
    }
}

/// Index of the `)` closing the `(` at 0.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Evaluates constant duration arithmetic (seconds for bare numbers) to
/// milliseconds.
fn eval_duration(s: &str) -> Option<i64> {
    let toks = tokenize(s)?;
    let mut p = DurParser { toks, pos: 0 };
    let v = p.expr()?;
    if p.pos != p.toks.len() || !v.is_finite() {
        return None;
    }
    Some((v * 1000.0).round() as i64)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Op(char),
}

fn tokenize(s: &str) -> Option<Vec<Tok>> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if b"+-*/%^()".contains(&c) {
            out.push(Tok::Op(c as char));
            i += 1;
        } else if c.is_ascii_digit() || c == b'.' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            let word = &s[start..i];
            let secs = match crate::units::parse_duration_ms(word) {
                Ok(ms) => ms as f64 / 1000.0,
                Err(_) => word.parse::<f64>().ok()?,
            };
            out.push(Tok::Num(secs));
        } else {
            return None;
        }
    }
    Some(out)
}

/// Precedence climbing over + - (lowest), * / %, ^ (right), unary -.
struct DurParser {
    toks: Vec<Tok>,
    pos: usize,
}

impl DurParser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn expr(&mut self) -> Option<f64> {
        let mut v = self.term()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            let r = self.term()?;
            v = if op == '+' { v + r } else { v - r };
        }
        Some(v)
    }

    fn term(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        while let Some(Tok::Op(op @ ('*' | '/' | '%'))) = self.peek().cloned() {
            self.pos += 1;
            let r = self.unary()?;
            v = match op {
                '*' => v * r,
                '/' => v / r,
                _ => v % r,
            };
        }
        Some(v)
    }

    /// Unary minus binds looser than `^`, as in PromQL: `-2^2` is -4.
    fn unary(&mut self) -> Option<f64> {
        match self.peek().cloned()? {
            Tok::Op('-') => {
                self.pos += 1;
                Some(-self.unary()?)
            }
            Tok::Op('+') => {
                self.pos += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.primary()?;
        if let Some(Tok::Op('^')) = self.peek() {
            self.pos += 1;
            let exp = self.unary()?;
            return Some(base.powf(exp));
        }
        Some(base)
    }

    fn primary(&mut self) -> Option<f64> {
        match self.peek().cloned()? {
            Tok::Op('(') => {
                self.pos += 1;
                let v = self.expr()?;
                if self.peek() != Some(&Tok::Op(')')) {
                    return None;
                }
                self.pos += 1;
                Some(v)
            }
            Tok::Num(n) => {
                self.pos += 1;
                Some(n)
            }
            Tok::Op(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_point_at_the_token() {
        let msg = |q: &str| match parse(q) {
            Err(QueryError::Parse(m)) => m,
            other => panic!("{q}: {other:?}"),
        };
        assert_eq!(msg("1 +* 2"), "1:4: parse error: unexpected \"*\"");
        assert_eq!(msg("foo bar"), "1:5: parse error: unexpected \"bar\"");
        assert_eq!(msg("foo{a=}"), "1:7: parse error: unexpected \"}\"");
        assert_eq!(msg("x +"), "1:4: parse error: unexpected end of input");
        assert_eq!(
            msg("rate(up)"),
            "1:1: parse error: expected type range vector in call to function \"rate\", got instant vector"
        );
    }

    #[test]
    fn invalid_utf8_literals_are_marked() {
        let lits = invalid_utf8_literals(r#"count_values("a\xc5z", x) + f("ok\x41", 'x\377')"#);
        assert_eq!(
            lits,
            vec![
                ("a\u{c5}z".to_string(), r#""a\xc5z""#.to_string()),
                ("x\u{ff}".to_string(), r#""x\xff""#.to_string()),
            ]
        );
    }

    #[test]
    fn durations_fold() {
        assert_eq!(fold_durations("x[5m+1m]"), "x[360000ms]");
        assert_eq!(fold_durations("x[5m]"), "x[5m]");
        assert_eq!(fold_durations("x[29s+1s:5s+5s]"), "x[30000ms:10000ms]");
        assert_eq!(fold_durations("x offset (2*30s)"), "x offset 60000ms");
        assert_eq!(fold_durations("x offset -(1m)"), "x offset -60000ms");
        assert_eq!(fold_durations("x offset 5m + 1"), "x offset 5m + 1");
        assert_eq!(fold_durations(r#"x{a="[1+1]"}"#), r#"x{a="[1+1]"}"#);
        assert_eq!(fold_durations("x[1h30m % 1h]"), "x[1800000ms]");
        assert_eq!(fold_durations("x[2m*(10+5)]"), "x[1800000ms]");
        assert_eq!(fold_durations("x offset (-2 ^ 2)"), "x offset -4000ms");
    }
}
