//! Byte-level scanning shared by both formats: a [`Cursor`] over one line,
//! metric and label names, quoted strings and their unescaping, label sets,
//! and number parsing.
//!
//! Everything here borrows from the line; the only allocations are the
//! label `Vec` a caller hands in and an unescaped copy of a string that
//! actually contains a backslash.

use std::borrow::Cow;

/// A label as it reaches the caller: name borrowed from the line, value
/// unescaped (borrowed unless it contained an escape sequence).
pub type Label<'a> = (&'a str, Cow<'a, str>);

const NAME_START: u8 = 1; // [a-zA-Z_:]  first byte of a metric name
const NAME_CONT: u8 = 2; // [a-zA-Z0-9_:] later bytes of a metric name
const LABEL_START: u8 = 4; // [a-zA-Z_]  first byte of a label name
const LABEL_CONT: u8 = 8; // [a-zA-Z0-9_] later bytes of a label name

/// Character classes of the legacy name grammar, one table lookup per byte
/// because name scanning is most of the work on a typical scrape.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let alpha = b.is_ascii_alphabetic() || b == b'_';
        let digit = b.is_ascii_digit();
        let mut v = 0;
        if alpha || b == b':' {
            v |= NAME_START | NAME_CONT;
        }
        if digit {
            v |= NAME_CONT | LABEL_CONT;
        }
        if alpha {
            v |= LABEL_START | LABEL_CONT;
        }
        t[c] = v;
        c += 1;
    }
    t
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Marks (with the high bit) the bytes of `w` equal to the byte spread in
/// `pattern`. Exact for the lowest marked byte, which is all we use: a
/// borrow can only add false marks above a true one.
#[inline(always)]
fn match_bytes(w: u64, pattern: u64) -> u64 {
    let x = w ^ pattern;
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Position of the first byte equal to `a` or `b`, eight bytes at a time:
/// finding line ends, closing quotes and backslashes is most of the byte
/// traffic of a scrape, and std offers no two-byte search.
#[inline]
pub fn find2(hay: &[u8], a: u8, b: u8) -> Option<usize> {
    let (pa, pb) = (ONES * u64::from(a), ONES * u64::from(b));
    let mut i = 0;
    while i + 8 <= hay.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hay[i..i + 8]);
        let w = u64::from_le_bytes(word);
        let m = match_bytes(w, pa) | match_bytes(w, pb);
        if m != 0 {
            return Some(i + (m.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay[i..]
        .iter()
        .position(|&c| c == a || c == b)
        .map(|p| i + p)
}

/// Whether every byte of `s` may appear inside a metric name (OpenMetrics
/// units use this alphabet and may be empty).
pub fn is_metric_name_chars(s: &str) -> bool {
    s.bytes().all(|c| CLASS[c as usize] & NAME_CONT != 0)
}

/// A position in one line. All methods keep `pos` on a char boundary:
/// they only ever stop next to an ASCII byte or at the end.
pub struct Cursor<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(line: &'a str) -> Self {
        Cursor { line, pos: 0 }
    }

    pub fn rest(&self) -> &'a str {
        &self.line[self.pos..]
    }

    /// The line up to the cursor.
    pub fn consumed(&self) -> &'a str {
        &self.line[..self.pos]
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.line.as_bytes().get(self.pos).copied()
    }

    /// Consumes `b` if it is the next byte.
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `s` if the rest of the line starts with it.
    pub fn eat_str(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Skips spaces and tabs; reports whether there were any.
    pub fn skip_blanks(&mut self) -> bool {
        let start = self.pos;
        let b = self.line.as_bytes();
        while self.pos < b.len() && (b[self.pos] == b' ' || b[self.pos] == b'\t') {
            self.pos += 1;
        }
        self.pos > start
    }

    fn take_class(&mut self, start: u8, cont: u8) -> &'a str {
        let b = self.line.as_bytes();
        let begin = self.pos;
        if begin < b.len() && CLASS[b[begin] as usize] & start != 0 {
            let mut i = begin + 1;
            while i < b.len() && CLASS[b[i] as usize] & cont != 0 {
                i += 1;
            }
            self.pos = i;
        }
        &self.line[begin..self.pos]
    }

    /// A legacy metric name, or "" if none starts here.
    pub fn metric_name(&mut self) -> &'a str {
        self.take_class(NAME_START, NAME_CONT)
    }

    /// A legacy label name, or "" if none starts here.
    pub fn label_name(&mut self) -> &'a str {
        self.take_class(LABEL_START, LABEL_CONT)
    }

    /// The bytes up to the next space (and tab, if `tab_too`) or the end.
    pub fn token(&mut self, tab_too: bool) -> &'a str {
        let b = self.line.as_bytes();
        let begin = self.pos;
        let mut i = begin;
        while i < b.len() && b[i] != b' ' && !(tab_too && b[i] == b'\t') {
            i += 1;
        }
        self.pos = i;
        &self.line[begin..i]
    }

    /// A double-quoted string starting at the cursor; returns the raw text
    /// between the quotes (escapes still in place) and whether it has any
    /// backslash, so callers skip a second scan when it has none.
    pub fn quoted(&mut self) -> Result<(&'a str, bool), String> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        let b = self.line.as_bytes();
        let begin = self.pos + 1;
        let mut i = begin;
        let mut escaped = false;
        while i < b.len() {
            let Some(at) = find2(&b[i..], b'"', b'\\') else {
                break;
            };
            i += at;
            if b[i] == b'"' {
                self.pos = i + 1;
                return Ok((&self.line[begin..i], escaped));
            }
            // An escape covers the next byte, so `\"` does not end the
            // string. Skipping one byte of a multi-byte char is harmless:
            // continuation bytes are never '"' or '\\'.
            escaped = true;
            i += 2;
        }
        Err(format!(
            "the quoted string {} is not closed: expected a '\"' before the end of the line",
            snippet(&self.line[self.pos..])
        ))
    }

    /// Describes what is at the cursor, for "expected X, found Y" messages.
    pub fn found(&self) -> String {
        found(self.rest())
    }
}

/// `found "xyz"` / `found the end of the line`, with the quoted part kept short.
pub fn found(rest: &str) -> String {
    if rest.is_empty() {
        "found the end of the line".to_string()
    } else {
        format!("found {}", snippet(rest))
    }
}

/// Quotes the start of `s` (at most 40 chars) for an error message.
pub fn snippet(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}…", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// Undoes exposition escaping: `\\` → `\`, `\n` → newline and, where
/// `quote` is set, `\"` → `"`. Any other backslash is kept as written, as
/// Prometheus and the OpenMetrics reference parser do.
pub fn unescape(raw: &str, quote: bool) -> Cow<'_, str> {
    let Some(first) = find2(raw.as_bytes(), b'\\', b'\\') else {
        return Cow::Borrowed(raw);
    };
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut i = first;
    let mut copied = first; // raw[copied..i] is pending plain text
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let replacement = match b.get(i + 1) {
            Some(b'\\') => Some('\\'),
            Some(b'n') => Some('\n'),
            Some(b'"') if quote => Some('"'),
            _ => None,
        };
        match replacement {
            Some(c) => {
                out.push_str(&raw[copied..i]);
                out.push(c);
                i += 2;
                copied = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&raw[copied..]);
    Cow::Owned(out)
}

/// How strictly a label set is read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LabelSyntax {
    /// Prometheus text 0.0.4 as Prometheus reads it: blanks around every
    /// token, a trailing comma, and (a Prometheus quirk kept for
    /// compatibility) pairs not separated by a comma.
    Lenient,
    /// OpenMetrics ABNF: no blanks, commas exactly between pairs.
    Strict,
}

/// Parses a label set starting at `{` into `out`.
///
/// `name_allowed` says whether a bare quoted string (`{"my.metric", a="b"}`,
/// the UTF-8 metric name syntax) may appear; it is returned if found.
pub fn label_set<'a>(
    cur: &mut Cursor<'a>,
    syntax: LabelSyntax,
    name_allowed: bool,
    out: &mut Vec<Label<'a>>,
) -> Result<Option<&'a str>, String> {
    let lenient = syntax == LabelSyntax::Lenient;
    debug_assert_eq!(cur.peek(), Some(b'{'));
    cur.eat(b'{');
    let mut quoted_name: Option<&'a str> = None;
    let mut after_comma = false;
    loop {
        if lenient {
            cur.skip_blanks();
        }
        let name = match cur.peek() {
            Some(b'}') => {
                if after_comma && !lenient {
                    return Err("a label set must not end with a comma before '}'".to_string());
                }
                cur.eat(b'}');
                return Ok(quoted_name);
            }
            None => {
                return Err(
                    "the label set is not closed: expected '}' before the end of the line"
                        .to_string(),
                )
            }
            Some(b'"') => {
                let (raw, _) = cur.quoted()?;
                if lenient {
                    cur.skip_blanks();
                }
                if matches!(cur.peek(), Some(b',') | Some(b'}')) {
                    // A lone quoted string is the metric name.
                    if !name_allowed {
                        return Err(format!(
                            "expected a label name followed by '=', found the bare string {}",
                            snippet(raw)
                        ));
                    }
                    if quoted_name.is_some() {
                        return Err("the label set names the metric twice".to_string());
                    }
                    quoted_name = Some(quoted_name_text(raw, "metric")?);
                    after_comma = cur.eat(b',');
                    continue;
                }
                quoted_name_text(raw, "label")?
            }
            Some(_) => {
                let n = cur.label_name();
                if n.is_empty() {
                    return Err(format!(
                        "expected a label name (letters, digits and '_', not starting with a digit), {}",
                        cur.found()
                    ));
                }
                n
            }
        };
        if lenient {
            cur.skip_blanks();
        }
        if !cur.eat(b'=') {
            return Err(format!(
                "expected '=' after the label name {name:?}, {}",
                cur.found()
            ));
        }
        if lenient {
            cur.skip_blanks();
        }
        if cur.peek() != Some(b'"') {
            return Err(format!(
                "expected a double-quoted value after {name:?}=, {}",
                cur.found()
            ));
        }
        let value = match cur.quoted()? {
            (raw, true) => unescape(raw, true),
            (raw, false) => Cow::Borrowed(raw),
        };
        if name == "__name__" {
            return Err(
                "the label set contains __name__; write the metric name before '{' instead"
                    .to_string(),
            );
        }
        // Duplicate names make the series ambiguous; Prometheus rejects the
        // whole scrape for them, so do it here with a better message. Label
        // sets are small, so a linear scan beats hashing.
        if out.iter().any(|(n, _)| *n == name) {
            return Err(format!("the label {name:?} appears twice in one label set"));
        }
        out.push((name, value));
        if lenient {
            cur.skip_blanks();
        }
        match cur.peek() {
            Some(b',') => {
                cur.eat(b',');
                after_comma = true;
            }
            Some(b'}') => after_comma = false,
            Some(c) if lenient && (c == b'"' || CLASS[c as usize] & LABEL_START != 0) => {
                after_comma = false;
            }
            _ => {
                return Err(format!(
                    "expected ',' or '}}' after the value of label {name:?}, {}",
                    cur.found()
                ))
            }
        }
    }
}

/// Checks a quoted (UTF-8) metric or label name. Names are handed out as
/// borrowed `&str`, so a name that would need unescaping is refused rather
/// than silently kept with its backslashes.
fn quoted_name_text<'a>(raw: &'a str, what: &str) -> Result<&'a str, String> {
    if raw.is_empty() {
        return Err(format!("the quoted {what} name is empty"));
    }
    if raw.contains('\\') {
        return Err(format!(
            "the quoted {what} name {} contains a backslash escape; names with '\\', '\"' or newlines are not supported",
            snippet(raw)
        ));
    }
    Ok(raw)
}

/// Reads a metric name in a `# HELP`/`# TYPE`/`# UNIT` line: legacy or quoted.
pub fn metadata_name<'a>(cur: &mut Cursor<'a>, keyword: &str) -> Result<&'a str, String> {
    if cur.peek() == Some(b'"') {
        let (raw, _) = cur.quoted()?;
        return quoted_name_text(raw, "metric");
    }
    let name = cur.metric_name();
    if name.is_empty() {
        return Err(format!(
            "expected a metric name after \"# {keyword}\", {}",
            cur.found()
        ));
    }
    Ok(name)
}

/// Why a number did not parse.
#[derive(Debug, PartialEq, Eq)]
pub enum NumError {
    /// Not in the number grammar (hex, underscores, stray characters, …).
    Syntax,
    /// Well-formed but beyond the float64 range (e.g. `1e400`); Go's
    /// ParseFloat, and so Prometheus, reject these rather than return ±Inf.
    Range,
}

impl NumError {
    pub fn explain(&self, what: &str, text: &str) -> String {
        match self {
            NumError::Syntax => format!(
                "{what} {} is not a number (expected e.g. 12, -3.5, 1e-3, +Inf, -Inf or NaN)",
                snippet(text)
            ),
            NumError::Range => format!(
                "{what} {} is outside the range of a 64-bit float",
                snippet(text)
            ),
        }
    }
}

/// Validates the decimal grammar shared by Go's ParseFloat (without hex or
/// underscores, which Prometheus also refuses) and OpenMetrics'
/// `realnumber`: `[+-] (digits [. digits*] | . digits) [(e|E) [+-] digits]`.
fn is_decimal(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'+') | Some(b'-')) {
        i = 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - frac_start;
    }
    if digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Parses a sample or exemplar value: a decimal number, `[+-]Inf`,
/// `[+-]Infinity` or `NaN` (specials case-insensitive, NaN unsigned), with
/// Go's ParseFloat semantics. Both formats share this grammar.
pub fn parse_value(s: &str) -> Result<f64, NumError> {
    let b = s.as_bytes();
    // Fast path: short integers and plain decimals (most samples), at
    // most 15 digits. The digits as an integer n < 10^15 < 2^53 and 10^k
    // (k <= 15) are both exact doubles, and one division rounds
    // correctly, so n / 10^k is exactly what a full parser returns
    // (Clinger's fast path).
    if !b.is_empty() && b.len() <= 17 {
        let (neg, digits) = match b[0] {
            b'-' => (true, &b[1..]),
            b'+' => (false, &b[1..]),
            _ => (false, b),
        };
        let mut n: u64 = 0;
        let mut count = 0usize;
        let mut frac: Option<usize> = None;
        let mut ok = !digits.is_empty();
        for &d in digits {
            match d {
                b'0'..=b'9' => {
                    n = n * 10 + u64::from(d - b'0');
                    count += 1;
                    if let Some(f) = frac.as_mut() {
                        *f += 1;
                    }
                }
                b'.' if frac.is_none() => frac = Some(0),
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && count > 0 && count <= 15 && frac != Some(0) {
            const POW10: [f64; 16] = [
                1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
                1e15,
            ];
            let v = n as f64 / POW10[frac.unwrap_or(0)];
            return Ok(if neg { -v } else { v });
        }
    }
    if is_decimal(b) {
        let v: f64 = s.parse().map_err(|_| NumError::Syntax)?;
        return if v.is_infinite() {
            Err(NumError::Range)
        } else {
            Ok(v)
        };
    }
    let (sign, word) = match b.first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (0.0, s),
    };
    if word.eq_ignore_ascii_case("inf") || word.eq_ignore_ascii_case("infinity") {
        return Ok(if sign < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if sign == 0.0 && word.eq_ignore_ascii_case("nan") {
        return Ok(f64::NAN);
    }
    Err(NumError::Syntax)
}

/// Parses an OpenMetrics timestamp (`realnumber`: decimal only, seconds).
pub fn parse_real(s: &str) -> Result<f64, NumError> {
    if !is_decimal(s.as_bytes()) {
        return Err(NumError::Syntax);
    }
    let v: f64 = s.parse().map_err(|_| NumError::Syntax)?;
    if v.is_infinite() {
        Err(NumError::Range)
    } else {
        Ok(v)
    }
}

/// Seconds (OpenMetrics) to milliseconds (storage), rounded to the nearest
/// millisecond as Prometheus's `timestamp.FromFloatSeconds` does, and
/// saturating for absurd values. (Prometheus's OpenMetrics parser itself
/// truncates, `int64(ts * 1000)`, which turns "1.001" into 1000 because
/// 1.001 × 1000 is 1000.9999…; rounding keeps every millisecond-precise
/// timestamp exact.)
pub fn seconds_to_ms(secs: f64) -> i64 {
    (secs * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_go_parsefloat() {
        let ok = [
            ("0", 0.0),
            ("-0", -0.0),
            ("+12", 12.0),
            ("1e3", 1000.0),
            ("1E+3", 1000.0),
            ("1.", 1.0),
            (".5", 0.5),
            ("-.5e-1", -0.05),
            ("1.e2", 100.0),
            ("0000000000000000000000000000000000000000001", 1.0),
            ("9223372036854775808", 9223372036854775808.0),
            ("+Inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("Infinity", f64::INFINITY),
            ("1e-400", 0.0),
        ];
        for (s, want) in ok {
            assert_eq!(parse_value(s), Ok(want), "{s}");
        }
        assert!(parse_value("NaN").unwrap().is_nan());
        assert!(parse_value("nan").unwrap().is_nan());
        for bad in [
            "", "+", "-", ".", "e3", "1e", "1e+", "0x1", "0x1p-3", "1_000", "+NaN", "-nan", "1 ",
            " 1", "1.1.1", "infinit", "in", "1e3.5", "--1", "١",
        ] {
            assert_eq!(parse_value(bad), Err(NumError::Syntax), "{bad:?}");
        }
        assert_eq!(parse_value("1e400"), Err(NumError::Range));
        assert_eq!(parse_value("-1e400"), Err(NumError::Range));
    }

    proptest::proptest! {
        /// The decimal fast path returns exactly what the full parser does.
        #[test]
        fn decimal_fast_path_is_exact(int in 0u64..10_000_000_000, frac in 0u64..100_000, digits in 0usize..6, neg: bool) {
            let text = if digits == 0 {
                format!("{}{int}", if neg { "-" } else { "" })
            } else {
                let f = format!("{frac:05}");
                format!("{}{int}.{}", if neg { "-" } else { "" }, &f[..digits])
            };
            let want: f64 = text.parse().unwrap();
            proptest::prop_assert_eq!(parse_value(&text).unwrap().to_bits(), want.to_bits(), "{}", text);
        }
    }

    #[test]
    fn timestamps_are_real_numbers() {
        assert_eq!(parse_real("1.5e3"), Ok(1500.0));
        assert_eq!(parse_real("-1"), Ok(-1.0));
        for bad in ["NaN", "Inf", "+Inf", "0x1p-3", "1z", "1_2", ""] {
            assert!(parse_real(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds_to_ms(1.1), 1100);
        assert_eq!(seconds_to_ms(1.001), 1001);
        assert_eq!(seconds_to_ms(1.0004), 1000);
        assert_eq!(seconds_to_ms(-1.5), -1500);
        assert_eq!(seconds_to_ms(1e30), i64::MAX);
    }

    #[test]
    fn find2_finds_the_first_match() {
        let hay = b"0123456789abcdef\"x\\y";
        for start in 0..hay.len() {
            let want = hay[start..].iter().position(|&c| c == b'"' || c == b'\\');
            assert_eq!(find2(&hay[start..], b'"', b'\\'), want, "from {start}");
        }
        // Bytes >= 0x80 and a match after them (the borrow case).
        let hay = "ééééééé\n€\n".as_bytes();
        assert_eq!(find2(hay, b'\n', b'\n'), Some(14));
        assert_eq!(
            find2(b"\x01\x00\x01\x02\x03\x04\x05\x06\x00", 0, 0),
            Some(1)
        );
        assert_eq!(find2(b"", b'a', b'b'), None);
    }

    #[test]
    fn unescaping() {
        assert!(matches!(unescape("plain", true), Cow::Borrowed("plain")));
        assert_eq!(unescape(r#"a\\b\"c\nd"#, true), "a\\b\"c\nd");
        assert_eq!(unescape(r#"\z\"#, true), r#"\z\"#);
        assert_eq!(unescape(r#"\""#, false), r#"\""#);
        assert_eq!(unescape(r#"\\n"#, true), r"\n");
        assert_eq!(unescape(r#"\\\n"#, true), "\\\n");
        assert_eq!(unescape("é\\né", true), "é\né");
    }

    #[test]
    fn names() {
        assert!(is_metric_name_chars("a:b_c9"));
        assert!(!is_metric_name_chars("a b"));
        let mut c = Cursor::new("abc{");
        assert_eq!(c.metric_name(), "abc");
        assert_eq!(c.peek(), Some(b'{'));
        let mut c = Cursor::new("a:b");
        assert_eq!(c.label_name(), "a");
    }

    #[test]
    fn label_sets() {
        let parse = |s: &'static str, syntax| {
            let mut c = Cursor::new(s);
            let mut v = Vec::new();
            label_set(&mut c, syntax, true, &mut v).map(|n| (n, v, c.rest()))
        };
        let (n, v, rest) = parse(r#"{a="1",b="x\"y"} 1"#, LabelSyntax::Strict).unwrap();
        assert_eq!(n, None);
        assert_eq!(v, vec![("a", Cow::from("1")), ("b", Cow::from("x\"y"))]);
        assert_eq!(rest, " 1");
        let (n, v, _) = parse(r#"{ "my.metric" , a = "1" , }"#, LabelSyntax::Lenient).unwrap();
        assert_eq!(n, Some("my.metric"));
        assert_eq!(v.len(), 1);
        assert!(parse(r#"{a="1",}"#, LabelSyntax::Strict).is_err());
        assert!(parse(r#"{a="1",}"#, LabelSyntax::Lenient).is_ok());
        assert!(parse(r#"{a="1" b="2"}"#, LabelSyntax::Lenient).is_ok());
        assert!(parse(r#"{a="1"b="2"}"#, LabelSyntax::Strict).is_err());
        assert!(parse(r#"{a="1",a="2"}"#, LabelSyntax::Lenient).is_err());
        assert!(parse(r#"{a="1}"#, LabelSyntax::Lenient).is_err());
        assert!(parse(r#"{__name__="x"}"#, LabelSyntax::Lenient).is_err());
        assert!(parse(r#"{"a\"b"="x"}"#, LabelSyntax::Lenient).is_err());
    }
}
