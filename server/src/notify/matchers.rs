//! Alertmanager's label matchers: the `name="value"`, `name!="value"`,
//! `name=~"regex"` and `name!~"regex"` terms that routes (`matchers:`),
//! inhibit rules (`source_matchers:`, `target_matchers:`), silences and the
//! v2 API's `filter` parameter are written in.
//!
//! [`Matcher`] is one compiled term and [`Matchers`] a conjunction of them;
//! [`parse_matcher`] and [`parse_matchers`] read the text forms. Alertmanager
//! has two parsers for that text: the UTF-8 one (`matcher/parse`, which allows
//! quoted label names such as `"foo.bar"="x"`) and the classic one
//! (`pkg/labels`, which tolerates spurious escapes such as `".*\.com"`). By
//! default it tries the UTF-8 parser and falls back to the classic one, and
//! when both accept an input but disagree it keeps the classic result, so
//! that configurations written for older releases keep their meaning. We do
//! the same; when both reject an input we report the UTF-8 parser's error,
//! which says where the input went wrong.
//!
//! Regular expressions are anchored (`^(?:…)$`) as in Alertmanager, and a
//! label an alert does not carry matches as the empty string, so `foo!=""`
//! means "foo is present" and `foo=""` means "foo is absent".

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use regex::Regex;

use crate::template::go_quote;

/// MatchType is the operator of a matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum MatchType {
    /// `=`: the value equals the matcher's value.
    Equal,
    /// `!=`: the value differs from the matcher's value.
    NotEqual,
    /// `=~`: the whole value matches the regular expression.
    Regexp,
    /// `!~`: the whole value does not match the regular expression.
    NotRegexp,
}

impl MatchType {
    /// as_str gives the operator as written: `=`, `!=`, `=~` or `!~`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regexp => "=~",
            MatchType::NotRegexp => "!~",
        }
    }

    /// from_flags builds the operator from the `isRegex` / `isEqual` pair
    /// that Alertmanager's API uses for silence matchers.
    pub fn from_flags(is_regex: bool, is_equal: bool) -> MatchType {
        match (is_regex, is_equal) {
            (false, true) => MatchType::Equal,
            (false, false) => MatchType::NotEqual,
            (true, true) => MatchType::Regexp,
            (true, false) => MatchType::NotRegexp,
        }
    }

    /// is_regex is true for `=~` and `!~` (the API's `isRegex`).
    pub fn is_regex(self) -> bool {
        matches!(self, MatchType::Regexp | MatchType::NotRegexp)
    }

    /// is_equal is true for `=` and `=~` (the API's `isEqual`).
    pub fn is_equal(self) -> bool {
        matches!(self, MatchType::Equal | MatchType::Regexp)
    }
}

impl fmt::Display for MatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Matcher is one compiled label matcher.
///
/// Build it with [`Matcher::new`] (or a parse function): the regular
/// expression is compiled there, so changing `value` or `kind` of a built
/// matcher afterwards does not recompile it.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name the matcher looks at.
    pub name: String,
    /// The value, or the regular expression's source for `=~` / `!~`.
    pub value: String,
    /// The operator.
    pub kind: MatchType,
    /// `^(?:value)$`, present exactly when `kind` is a regex operator.
    re: Option<Regex>,
}

impl Matcher {
    /// new builds a matcher, compiling `value` as an anchored regular
    /// expression for `=~` and `!~`.
    pub fn new(name: &str, value: &str, kind: MatchType) -> Result<Matcher, String> {
        let re = if kind.is_regex() {
            let anchored = format!("^(?:{value})$");
            Some(Regex::new(&anchored).map_err(|e| regex_error(&anchored, &e))?)
        } else {
            None
        };
        Ok(Matcher {
            name: name.to_string(),
            value: value.to_string(),
            kind,
            re,
        })
    }

    /// matches tells whether a label value satisfies the matcher. Pass ""
    /// for a label the alert does not have, as Alertmanager does.
    pub fn matches(&self, value: &str) -> bool {
        match self.kind {
            MatchType::Equal => value == self.value,
            MatchType::NotEqual => value != self.value,
            MatchType::Regexp => self.regex().is_match(value),
            MatchType::NotRegexp => !self.regex().is_match(value),
        }
    }

    fn regex(&self) -> &Regex {
        self.re
            .as_ref()
            .expect("BUG: regex matcher built without a compiled regex")
    }
}

/// Go's regexp says `error parsing regexp: missing closing ): `^(?:()$``;
/// the regex crate draws a multi-line caret diagram. Config errors are one
/// line each, so keep only the crate's last `error:` line, in Go's frame.
fn regex_error(pattern: &str, err: &regex::Error) -> String {
    let reason = match err {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(text)
            .to_string(),
        other => other.to_string(),
    };
    format!("error parsing regexp: {reason}: `{pattern}`")
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.value == other.value && self.kind == other.kind
    }
}

impl Eq for Matcher {}

impl Hash for Matcher {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.value.hash(state);
        self.kind.hash(state);
    }
}

/// Prints the matcher as Alertmanager does: `name="value"` with the value in
/// OpenMetrics escaping, unless the name holds a character the UTF-8 parser
/// reserves, in which case name and value are both Go-quoted
/// (`"foo bar"="x"`). Alertmanager uses that reserved-character test, not
/// label-name validity, to decide, so `foo.bar="x"` stays unquoted.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.chars().any(is_reserved) {
            write!(
                f,
                "{}{}{}",
                go_quote(&self.name),
                self.kind,
                go_quote(&self.value)
            )
        } else {
            write!(
                f,
                "{}{}\"{}\"",
                self.name,
                self.kind,
                open_metrics_escape(&self.value)
            )
        }
    }
}

/// Matchers is a conjunction: it matches a label set when every matcher does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// matches looks each matcher's label up through `labels`; a label it
    /// returns `None` for matches as "".
    pub fn matches(&self, labels: &dyn Fn(&str) -> Option<String>) -> bool {
        self.0
            .iter()
            .all(|m| m.matches(labels(&m.name).as_deref().unwrap_or("")))
    }

    /// matches_map is [`Matchers::matches`] over a label map, without
    /// copying values.
    pub fn matches_map(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0
            .iter()
            .all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
    }
}

impl std::ops::Deref for Matchers {
    type Target = [Matcher];
    fn deref(&self) -> &[Matcher] {
        &self.0
    }
}

/// Prints `{a="b",c=~"d"}`: Alertmanager joins with a bare comma.
impl fmt::Display for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, m) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{m}")?;
        }
        f.write_str("}")
    }
}

/// parse_matcher parses one matcher as a `matchers:` list item, amtool and
/// the API accept it: `foo="bar"`, `foo=bar`, `foo!~"a|b"`, `"foo.bar"="x"`,
/// with whitespace around the operator allowed. Braces are refused here, as
/// Alertmanager refuses them for a single matcher.
pub fn parse_matcher(s: &str) -> Result<Matcher, String> {
    if s.starts_with('{') || s.ends_with('}') {
        return Err(format!("unexpected open or close brace: {s}"));
    }
    let utf8 = utf8::parse(s).and_then(|mut ms| match ms.len() {
        1 => Ok(ms.remove(0)),
        0 => Err("no matchers".to_string()),
        n => Err(format!("expected 1 matcher, found {n}")),
    });
    prefer(utf8, classic::parse_matcher(s))
}

/// parse_matchers parses a list of matchers, with or without braces:
/// `{a="b", c!="d"}` or `a="b",c!="d"`. A trailing comma is allowed, and
/// `{}` or "" is the empty list.
pub fn parse_matchers(s: &str) -> Result<Matchers, String> {
    prefer(utf8::parse(s), classic::parse_matchers(s)).map(Matchers)
}

/// prefer combines the two parsers' answers the way Alertmanager's default
/// ("fallback") mode does, except that when both fail it reports the UTF-8
/// parser's error, which carries a position.
fn prefer<T: PartialEq>(utf8: Result<T, String>, classic: Result<T, String>) -> Result<T, String> {
    match (utf8, classic) {
        // Both accept but read the input differently (e.g. `"a\tb"`, which
        // the classic parser keeps as a backslash and a t): the classic
        // reading is what the configuration has always meant.
        (Ok(new), Ok(old)) => Ok(if new == old { new } else { old }),
        (Ok(new), Err(_)) => Ok(new),
        (Err(_), Ok(old)) => Ok(old),
        (Err(e), Err(_)) => Err(e),
    }
}

/// The characters the UTF-8 parser does not allow in an unquoted name or
/// value; also Alertmanager's test for whether to quote a printed name.
fn is_reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

/// OpenMetrics escaping: only backslash, line feed and double quote.
fn open_metrics_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

/// The UTF-8 matchers parser (Alertmanager's `matcher/parse`): a lexer that
/// cuts the input into tokens, then a small state machine over them. Error
/// texts and their `start:end` column positions (in characters) follow
/// Alertmanager's, because users paste them into searches.
mod utf8 {
    use super::{is_reserved, MatchType, Matcher};

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        OpenBrace,
        CloseBrace,
        Comma,
        Equals,
        NotEquals,
        Matches,
        NotMatches,
        Quoted,
        Unquoted,
    }

    struct Token<'a> {
        kind: Kind,
        text: &'a str,
        col_start: usize,
        col_end: usize,
    }

    /// lex cuts the whole input into tokens up front. Alertmanager's lexer
    /// is lazy but stops for good at its first error, so the tokens before
    /// that error plus the error itself are the same information.
    fn lex(input: &str) -> (Vec<Token<'_>>, Option<String>) {
        let chars: Vec<(usize, char)> = input.char_indices().collect();
        let byte = |col: usize| chars.get(col).map_or(input.len(), |&(b, _)| b);
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let start = i;
            let c = chars[i].1;
            i += 1;
            let next = chars.get(i).map(|&(_, c)| c);
            let kind = match c {
                '{' => Kind::OpenBrace,
                '}' => Kind::CloseBrace,
                ',' => Kind::Comma,
                '=' if next == Some('~') => {
                    i += 1;
                    Kind::Matches
                }
                '=' => Kind::Equals,
                '!' => match next {
                    Some('=') => {
                        i += 1;
                        Kind::NotEquals
                    }
                    Some('~') => {
                        i += 1;
                        Kind::NotMatches
                    }
                    None => {
                        let e =
                            format!("{start}:{i}: unexpected end of input, expected one of '=~'");
                        return (tokens, Some(e));
                    }
                    Some(_) => {
                        let e = format!("{start}:{i}: !: expected one of '=~'");
                        return (tokens, Some(e));
                    }
                },
                '"' => {
                    let mut escaped = false;
                    loop {
                        let Some(&(_, ch)) = chars.get(i) else {
                            let e =
                                format!("{start}:{i}: {}: missing end \"", &input[byte(start)..]);
                            return (tokens, Some(e));
                        };
                        i += 1;
                        if escaped {
                            escaped = false;
                        } else if ch == '\\' {
                            escaped = true;
                        } else if ch == '"' {
                            break;
                        }
                    }
                    Kind::Quoted
                }
                c if c.is_whitespace() => continue,
                c if !is_reserved(c) => {
                    while i < chars.len() && !is_reserved(chars[i].1) {
                        i += 1;
                    }
                    Kind::Unquoted
                }
                c => {
                    let e = format!("{start}:{i}: {c}: invalid input");
                    return (tokens, Some(e));
                }
            };
            tokens.push(Token {
                kind,
                text: &input[byte(start)..byte(i)],
                col_start: start,
                col_end: i,
            });
        }
        (tokens, None)
    }

    /// Why the next token is not the one wanted: the input ended, or the
    /// text (a lexer error or `start:end: unexpected tok`) says what is there.
    enum Miss {
        Eof,
        Other(String),
    }

    impl std::fmt::Display for Miss {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Miss::Eof => f.write_str("end of input"),
                Miss::Other(s) => f.write_str(s),
            }
        }
    }

    struct Parser<'a> {
        tokens: Vec<Token<'a>>,
        lex_error: Option<String>,
        pos: usize,
    }

    impl<'a> Parser<'a> {
        /// peek gives the next token, None at the end of the input, or the
        /// lexer's error once its tokens are used up.
        fn peek(&self) -> Result<Option<&Token<'a>>, String> {
            match self.tokens.get(self.pos) {
                Some(t) => Ok(Some(t)),
                None => match &self.lex_error {
                    Some(e) => Err(e.clone()),
                    None => Ok(None),
                },
            }
        }

        fn expect_peek(&self, kinds: &[Kind]) -> Result<&Token<'a>, Miss> {
            match self.peek() {
                Err(e) => Err(Miss::Other(e)),
                Ok(None) => Err(Miss::Eof),
                Ok(Some(t)) if kinds.contains(&t.kind) => Ok(t),
                Ok(Some(t)) => Err(Miss::Other(format!(
                    "{}:{}: unexpected {}",
                    t.col_start, t.col_end, t.text
                ))),
            }
        }

        /// The column after the last consumed token: where Alertmanager
        /// places brace errors.
        fn consumed_col(&self) -> usize {
            self.pos
                .checked_sub(1)
                .map_or(0, |i| self.tokens[i].col_end)
        }
    }

    enum State {
        OpenBrace,
        CloseBrace,
        Matcher,
        EndOfMatcher,
        Comma,
        Eof,
    }

    /// parse reads zero or more matchers.
    pub(super) fn parse(input: &str) -> Result<Vec<Matcher>, String> {
        let (tokens, lex_error) = lex(input);
        let mut p = Parser {
            tokens,
            lex_error,
            pos: 0,
        };
        let mut out = Vec::new();
        let mut has_open_brace = false;
        let mut state = State::OpenBrace;
        loop {
            state = match state {
                State::OpenBrace => match p.peek()? {
                    None => State::Eof,
                    Some(t) => {
                        if t.kind == Kind::OpenBrace {
                            has_open_brace = true;
                            p.pos += 1;
                        }
                        match p.peek()? {
                            None => State::CloseBrace,
                            Some(t) if t.kind == Kind::CloseBrace => State::CloseBrace,
                            Some(_) => State::Matcher,
                        }
                    }
                },
                State::CloseBrace => {
                    let next = p.expect_peek(&[Kind::CloseBrace]);
                    if has_open_brace {
                        if let Err(miss) = next {
                            let col = p.consumed_col();
                            return Err(format!("0:{col}: {miss}: expected close brace"));
                        }
                        p.pos += 1;
                    } else if next.is_ok() {
                        p.pos += 1;
                        let col = p.consumed_col();
                        return Err(format!("0:{col}: }}: expected opening brace"));
                    }
                    State::Eof
                }
                State::Matcher => {
                    out.push(parse_one(&mut p)?);
                    State::EndOfMatcher
                }
                State::EndOfMatcher => match p.expect_peek(&[Kind::Comma, Kind::CloseBrace]) {
                    Err(Miss::Eof) => State::CloseBrace,
                    Err(miss) => return Err(format!("{miss}: expected a comma or close brace")),
                    Ok(t) if t.kind == Kind::Comma => State::Comma,
                    Ok(_) => State::CloseBrace,
                },
                State::Comma => {
                    p.pos += 1;
                    match p.expect_peek(&[Kind::CloseBrace, Kind::Unquoted, Kind::Quoted]) {
                        Err(Miss::Eof) => State::CloseBrace,
                        Err(miss) => {
                            return Err(format!(
                                "{miss}: expected a matcher or close brace after comma"
                            ))
                        }
                        Ok(t) if t.kind == Kind::CloseBrace => State::CloseBrace,
                        Ok(_) => State::Matcher,
                    }
                }
                State::Eof => {
                    return match p.peek() {
                        Err(e) => Err(format!("{e}: expected end of input")),
                        Ok(None) => Ok(out),
                        Ok(Some(t)) => Err(format!(
                            "{}:{}: {}: expected end of input",
                            t.col_start, t.col_end, t.text
                        )),
                    };
                }
            };
        }
    }

    /// parse_one reads `name op value` at the parser's position.
    fn parse_one(p: &mut Parser<'_>) -> Result<Matcher, String> {
        let t = p
            .expect_peek(&[Kind::Quoted, Kind::Unquoted])
            .map_err(|miss| format!("{miss}: expected label name"))?;
        let name = unquote(t)?;
        p.pos += 1;

        let ops = [
            Kind::Equals,
            Kind::NotEquals,
            Kind::Matches,
            Kind::NotMatches,
        ];
        let t = p.expect_peek(&ops).map_err(|miss| {
            format!("{miss}: expected an operator such as '=', '!=', '=~' or '!~'")
        })?;
        let kind = match t.kind {
            Kind::Equals => MatchType::Equal,
            Kind::NotEquals => MatchType::NotEqual,
            Kind::Matches => MatchType::Regexp,
            _ => MatchType::NotRegexp,
        };
        p.pos += 1;

        let t = p
            .expect_peek(&[Kind::Unquoted, Kind::Quoted])
            .map_err(|miss| format!("{miss}: expected label value"))?;
        let value = unquote(t)?;
        p.pos += 1;

        Matcher::new(&name, &value, kind).map_err(|e| format!("failed to create matcher: {e}"))
    }

    fn unquote(t: &Token<'_>) -> Result<String, String> {
        if t.kind != Kind::Quoted {
            return Ok(t.text.to_string());
        }
        go_unquote(t.text)
            .ok_or_else(|| format!("{}:{}: {}: invalid input", t.col_start, t.col_end, t.text))
    }

    /// go_unquote reads a double-quoted Go string literal as
    /// `strconv.Unquote` does: `\a \b \f \n \r \t \v \\ \"`, octal `\ooo`,
    /// `\xHH`, `\uHHHH` and `\UHHHHHHHH`; anything else, a raw line feed or
    /// bytes that end up invalid UTF-8 make it fail.
    pub(super) fn go_unquote(quoted: &str) -> Option<String> {
        let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
        if inner.contains('\n') {
            return None;
        }
        let mut out: Vec<u8> = Vec::with_capacity(inner.len());
        let mut chars = inner.chars();
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> Option<u32> {
            (0..n).try_fold(0u32, |acc, _| Some(acc * 16 + chars.next()?.to_digit(16)?))
        };
        while let Some(c) = chars.next() {
            match c {
                '"' => return None,
                '\\' => {}
                c => {
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
            }
            let byte = match chars.next()? {
                'a' => 0x07,
                'b' => 0x08,
                'f' => 0x0c,
                'n' => b'\n',
                'r' => b'\r',
                't' => b'\t',
                'v' => 0x0b,
                '\\' => b'\\',
                '"' => b'"',
                'x' => hex(&mut chars, 2)? as u8,
                d @ '0'..='7' => {
                    let rest = (0..2)
                        .try_fold(0u32, |acc, _| Some(acc * 8 + chars.next()?.to_digit(8)?))?;
                    let v = d.to_digit(8)? * 64 + rest;
                    u8::try_from(v).ok()?
                }
                e @ ('u' | 'U') => {
                    let c = char::from_u32(hex(&mut chars, if e == 'u' { 4 } else { 8 })?)?;
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
                _ => return None,
            };
            out.push(byte);
        }
        String::from_utf8(out).ok()
    }
}

/// The classic matchers parser (Alertmanager's `pkg/labels`): a legacy
/// label name, an operator, and a value that may be double-quoted, read
/// leniently (a backslash not starting `\\`, `\"` or `\n` is kept).
mod classic {
    use super::{MatchType, Matcher};

    /// Go's regexp `\s`: ASCII whitespace without the vertical tab.
    fn is_space(c: char) -> bool {
        matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
    }

    pub(super) fn parse_matcher(s: &str) -> Result<Matcher, String> {
        let bad = || format!("bad matcher format: {s}");
        let rest = s.trim_start_matches(is_space);
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad());
        }
        let rest = rest[name_len..].trim_start_matches(is_space);
        // `=~` before `=`, or `foo=~x` would read as `foo = "~x"`.
        let (kind, rest) = [
            ("=~", MatchType::Regexp),
            ("=", MatchType::Equal),
            ("!=", MatchType::NotEqual),
            ("!~", MatchType::NotRegexp),
        ]
        .iter()
        .find_map(|&(op, kind)| rest.strip_prefix(op).map(|r| (kind, r)))
        .ok_or_else(bad)?;
        let raw = rest.trim_matches(is_space);

        let unescaped_quote = || format!("matcher value contains unescaped double quote: {raw}");
        let (body, mut expect_trailing_quote) = match raw.strip_prefix('"') {
            Some(body) => (body, true),
            None => (raw, false),
        };
        let mut value = String::with_capacity(body.len());
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            let last = i == body.len() - c.len_utf8();
            if escaped {
                escaped = false;
                match c {
                    'n' => value.push('\n'),
                    '"' | '\\' => value.push(c),
                    // A spurious escape: the backslash is literal.
                    c => {
                        value.push('\\');
                        value.push(c);
                    }
                }
                continue;
            }
            match c {
                '\\' if !last => escaped = true,
                '\\' => value.push('\\'),
                '"' if !expect_trailing_quote || !last => return Err(unescaped_quote()),
                '"' => expect_trailing_quote = false,
                c => value.push(c),
            }
        }
        if expect_trailing_quote {
            return Err(unescaped_quote());
        }
        Matcher::new(name, &value, kind)
    }

    /// parse_matchers trims one optional `{` and `}`, splits at commas
    /// outside double quotes, and parses each piece; only the last piece
    /// may be empty (a trailing comma).
    pub(super) fn parse_matchers(s: &str) -> Result<Vec<Matcher>, String> {
        let s = s.strip_prefix('{').unwrap_or(s);
        let s = s.strip_suffix('}').unwrap_or(s);
        let mut pieces = Vec::new();
        let mut piece = String::new();
        let (mut inside_quotes, mut escaped) = (false, false);
        for c in s.chars() {
            match c {
                ',' if !inside_quotes => {
                    pieces.push(std::mem::take(&mut piece));
                    continue;
                }
                ',' => {}
                '"' if !escaped => inside_quotes = !inside_quotes,
                '"' => escaped = false,
                '\\' => escaped = !escaped,
                _ => escaped = false,
            }
            piece.push(c);
        }
        let last = piece.trim();
        if !last.is_empty() {
            pieces.push(last.to_string());
        }
        pieces.iter().map(|p| parse_matcher(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use MatchType::{Equal, NotEqual, NotRegexp, Regexp};

    fn m(name: &str, kind: MatchType, value: &str) -> Matcher {
        Matcher::new(name, value, kind).unwrap()
    }

    #[test]
    fn parse_matcher_good() {
        // (input, name, kind, value, Display)
        let cases: &[(&str, &str, MatchType, &str, &str)] = &[
            (r#"foo="bar""#, "foo", Equal, "bar", r#"foo="bar""#),
            ("foo=bar", "foo", Equal, "bar", r#"foo="bar""#),
            (r#"foo!="bar""#, "foo", NotEqual, "bar", r#"foo!="bar""#),
            (r#"foo=~"a|b""#, "foo", Regexp, "a|b", r#"foo=~"a|b""#),
            (r#"foo!~"a|b""#, "foo", NotRegexp, "a|b", r#"foo!~"a|b""#),
            ("foo=~[a-z]+", "foo", Regexp, "[a-z]+", r#"foo=~"[a-z]+""#),
            (r#"  foo  =  "bar"  "#, "foo", Equal, "bar", r#"foo="bar""#),
            (r#""foo.bar"="x""#, "foo.bar", Equal, "x", r#"foo.bar="x""#),
            (
                r#""foo bar"="x y""#,
                "foo bar",
                Equal,
                "x y",
                r#""foo bar"="x y""#,
            ),
            (r#"foo="""#, "foo", Equal, "", r#"foo="""#),
            ("foo=", "foo", Equal, "", r#"foo="""#),
            (r#"foo!="""#, "foo", NotEqual, "", r#"foo!="""#),
            (
                r#"foo="say \"hi\"""#,
                "foo",
                Equal,
                r#"say "hi""#,
                r#"foo="say \"hi\"""#,
            ),
            (r#"foo="a,b""#, "foo", Equal, "a,b", r#"foo="a,b""#),
            (
                r#"foo="line\nbreak""#,
                "foo",
                Equal,
                "line\nbreak",
                r#"foo="line\nbreak""#,
            ),
            (
                r#"foo="back\\slash""#,
                "foo",
                Equal,
                r"back\slash",
                r#"foo="back\\slash""#,
            ),
            ("foo=🙂bar", "foo", Equal, "🙂bar", r#"foo="🙂bar""#),
            (r#""foo"="\U0001f642""#, "foo", Equal, "🙂", r#"foo="🙂""#),
            (
                r#""foo"="\xf0\x9f\x99\x82""#,
                "foo",
                Equal,
                "🙂",
                r#"foo="🙂""#,
            ),
            // Only the classic parser takes these: a spurious escape in a
            // regex and a value with spaces.
            (
                r#"instance=~".*\.example\.com""#,
                "instance",
                Regexp,
                r".*\.example\.com",
                r#"instance=~".*\\.example\\.com""#,
            ),
            ("foo=bar baz", "foo", Equal, "bar baz", r#"foo="bar baz""#),
            // Alertmanager's fallback too: the classic parser reads an
            // unquoted comma as part of the value.
            (
                "foo=bar,bar=baz",
                "foo",
                Equal,
                "bar,bar=baz",
                r#"foo="bar,bar=baz""#,
            ),
            ("foo='bar'", "foo", Equal, "'bar'", r#"foo="'bar'""#),
            // Both parsers accept `\t` but disagree; the classic reading wins.
            (r#"foo="a\tb""#, "foo", Equal, r"a\tb", r#"foo="a\\tb""#),
        ];
        for &(input, name, kind, value, shown) in cases {
            let got = parse_matcher(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, m(name, kind, value), "{input}");
            assert_eq!(got.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn parse_matcher_bad() {
        let cases: &[(&str, &str)] = &[
            ("", "no matchers"),
            ("{foo=bar}", "unexpected open or close brace: {foo=bar}"),
            ("foo=bar}", "unexpected open or close brace"),
            (r#"foo="bar",bar="baz""#, "expected 1 matcher, found 2"),
            (
                "foo",
                "end of input: expected an operator such as '=', '!=', '=~' or '!~'",
            ),
            ("foo!", "3:4: unexpected end of input, expected one of '=~'"),
            (r#"foo="bar"#, r#"4:8: "bar: missing end ""#),
            (
                r#"foo=~"(""#,
                "failed to create matcher: error parsing regexp: ",
            ),
            (r#"foo=~"(""#, "`^(?:()$`"),
            ("=bar", "0:1: unexpected =: expected label name"),
        ];
        for &(input, want) in cases {
            match parse_matcher(input) {
                Ok(got) => panic!("{input}: parsed as {got}, want error {want:?}"),
                Err(e) => assert!(e.contains(want), "{input}: error {e:?} lacks {want:?}"),
            }
        }
    }

    #[test]
    fn parse_matchers_good() {
        let cases: &[(&str, &str)] = &[
            ("", "{}"),
            ("{}", "{}"),
            ("{foo=bar}", r#"{foo="bar"}"#),
            ("{foo=bar,}", r#"{foo="bar"}"#),
            ("foo=bar,", r#"{foo="bar"}"#),
            (r#"{a="b", c!="d"}"#, r#"{a="b",c!="d"}"#),
            (r#"a="b",c!="d""#, r#"{a="b",c!="d"}"#),
            (r#"{ a = "b" , c =~ "d|e" , }"#, r#"{a="b",c=~"d|e"}"#),
            (r#"{"foo"="bar","baz"!~"x"}"#, r#"{foo="bar",baz!~"x"}"#),
            (
                r#"{quote="She said: \"Hi, there\""}"#,
                r#"{quote="She said: \"Hi, there\""}"#,
            ),
            (
                r#"{instance=~".*\.com", job="x"}"#,
                r#"{instance=~".*\\.com",job="x"}"#,
            ),
        ];
        for &(input, shown) in cases {
            let got = parse_matchers(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got.to_string(), shown, "{input}");
        }
        let got = parse_matchers(r#"{a="b", c!~"d"}"#).unwrap();
        assert_eq!(got.0, vec![m("a", Equal, "b"), m("c", NotRegexp, "d")]);
    }

    #[test]
    fn utf8_parser_errors() {
        // Exact texts from Alertmanager's tests of its UTF-8 parser. Some of
        // these inputs (`{`, `{foo=bar`, `{foo=bar\n}`) the classic parser
        // accepts, so parse_matchers does too, as Alertmanager's default
        // mode does.
        let cases: &[(&str, &str)] = &[
            (",", "0:1: unexpected ,: expected label name"),
            ("{,}", "1:2: unexpected ,: expected label name"),
            ("{", "0:1: end of input: expected close brace"),
            ("{foo=bar", "0:8: end of input: expected close brace"),
            (
                r#"{foo=:"bar"}"#,
                r#"6:11: unexpected "bar": expected a comma or close brace"#,
            ),
            (
                r"{foo=bar\n}",
                r"8:9: \: invalid input: expected a comma or close brace",
            ),
            (
                r#"{"foo"="\xf0\x9f"}"#,
                r#"7:17: "\xf0\x9f": invalid input"#,
            ),
            (
                "foo=bar,,",
                "8:9: unexpected ,: expected a matcher or close brace after comma",
            ),
            ("{foo=bar}}", "9:10: }: expected end of input"),
            (r#"foo="\xf0\x9f""#, r#"4:14: "\xf0\x9f": invalid input"#),
        ];
        for &(input, want) in cases {
            match utf8::parse(input) {
                Ok(got) => panic!("{input}: parsed as {}, want error {want:?}", Matchers(got)),
                Err(e) => assert_eq!(e, want, "{input}"),
            }
        }
    }

    #[test]
    fn parse_matchers_bad() {
        // Inputs both parsers refuse: the UTF-8 parser's error is reported.
        let cases: &[(&str, &str)] = &[
            (",", "0:1: unexpected ,: expected label name"),
            ("{,}", "1:2: unexpected ,: expected label name"),
            (
                "foo=bar,,",
                "8:9: unexpected ,: expected a matcher or close brace after comma",
            ),
            (
                "foo",
                "end of input: expected an operator such as '=', '!=', '=~' or '!~'",
            ),
            (
                r#"{foo=:"bar"}"#,
                r#"6:11: unexpected "bar": expected a comma or close brace"#,
            ),
            (
                r#"{a="b" c="d"}"#,
                r#"7:8: unexpected c: expected a comma or close brace"#,
            ),
            (
                r#"{"foo"="\xf0\x9f"}"#,
                r#"7:17: "\xf0\x9f": invalid input"#,
            ),
            (
                r#"{foo=~"("}"#,
                "failed to create matcher: error parsing regexp: unclosed group: `^(?:()$`",
            ),
        ];
        for &(input, want) in cases {
            match parse_matchers(input) {
                Ok(got) => panic!("{input}: parsed as {got}, want error {want:?}"),
                Err(e) => assert_eq!(e, want, "{input}"),
            }
        }
    }

    #[test]
    fn matching_semantics() {
        let labels: BTreeMap<String, String> = [("job", "api"), ("env", "prod"), ("empty", "")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // (matchers, want)
        let cases: &[(&str, bool)] = &[
            (r#"job="api""#, true),
            (r#"job="ap""#, false),
            (r#"job!="api""#, false),
            // Regexes are anchored at both ends.
            (r#"job=~"a""#, false),
            (r#"job=~"ap""#, false),
            (r#"job=~"a.*""#, true),
            (r#"job=~"api|web""#, true),
            (r#"job!~"a""#, true),
            // A missing label is the empty string.
            (r#"missing="""#, true),
            (r#"missing!="""#, false),
            (r#"missing=~".*""#, true),
            (r#"missing=~".+""#, false),
            (r#"missing!="x""#, true),
            // `!=""` means present (and not empty).
            (r#"job!="""#, true),
            (r#"empty!="""#, false),
            (r#"job="api",env="prod""#, true),
            (r#"job="api",env="dev""#, false),
            ("", true),
        ];
        for &(input, want) in cases {
            let ms = parse_matchers(input).unwrap();
            assert_eq!(ms.matches_map(&labels), want, "{input} on map");
            let lookup = |name: &str| labels.get(name).cloned();
            assert_eq!(ms.matches(&lookup), want, "{input} via closure");
        }
    }

    #[test]
    fn display_quotes_reserved_names_go_style() {
        let cases: &[(Matcher, &str)] = &[
            (m("foo", Equal, "a\"b\\c\nd"), r#"foo="a\"b\\c\nd""#),
            (m("foo bar", Equal, "tab\there"), r#""foo bar"="tab\there""#),
            (m("a,b", NotRegexp, "x"), r#""a,b"!~"x""#),
            (
                m("a=b", Equal, "\u{1}\u{7f}\u{200b}é"),
                r#""a=b"="\x01\x7f\u200bé""#,
            ),
            (m("utf8🙂", Equal, "🙂"), r#"utf8🙂="🙂""#),
        ];
        for (matcher, want) in cases {
            assert_eq!(matcher.to_string(), *want);
            // What we print reads back as the same matcher.
            assert_eq!(&parse_matcher(want).unwrap(), matcher, "{want}");
        }
    }

    #[test]
    fn go_unquote_escapes() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#""plain""#, Some("plain")),
            (
                r#""\a\b\f\n\r\t\v\\\"""#,
                Some("\u{7}\u{8}\u{c}\n\r\t\u{b}\\\""),
            ),
            (r#""\101\x42\u0043""#, Some("ABC")),
            (r#""\'""#, None),
            (r#""\w""#, None),
            (r#""\400""#, None),
            (r#""\ud800""#, None),
            ("\"a\nb\"", None),
        ];
        for &(input, want) in cases {
            assert_eq!(utf8::go_unquote(input).as_deref(), want, "{input}");
        }
    }

    #[test]
    fn match_type_flags_round_trip() {
        for kind in [Equal, NotEqual, Regexp, NotRegexp] {
            assert_eq!(
                MatchType::from_flags(kind.is_regex(), kind.is_equal()),
                kind
            );
        }
    }
}
