//! Prometheus's series notation, as its test languages write it:
//! `metric{a="b"} 1+2x3 _ stale` — a label set, then values expanded from
//! `A`, `AxN`, `A+BxN`, `A-BxN`, `_` (no sample), `_xN` and `stale`.
//! `promtool test rules` files (`input_series`) and the PromQL conformance
//! runner's `load` blocks both use it.

/// Bits of Prometheus's staleness marker, a NaN that storage keeps as is.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// A label set as the test file writes it: sorted by name, no empty values
/// (Prometheus's series parser drops those too), `__name__` included.
pub type LabelPairs = Vec<(String, String)>;

/// One position of a series' value sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SeqValue {
    /// `_`: no sample at this position (time still advances).
    Omitted,
    Float(f64),
    /// A native histogram (`{{…}}`); its contents are not read, because
    /// the engine has no histogram samples to compare them with.
    Histogram,
}

/// A series line: labels and the expanded values.
#[derive(Debug, Clone)]
pub struct SeriesDesc {
    pub labels: LabelPairs,
    pub values: Vec<SeqValue>,
}

/// Go's `parseNumber` in the test runner: `strconv.ParseInt(s, 0, 64)`,
/// else `strconv.ParseFloat(s, 64)`.
pub fn parse_number(s: &str) -> Option<f64> {
    go_parse_int(s)
        .map(|n| n as f64)
        .or_else(|| go_parse_float(s))
}

/// `strconv.ParseInt(s, 0, 64)`: sign, then a `0x`/`0o`/`0b`/`0` prefix
/// picks the base; underscores only with a prefix.
fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.is_empty() || (!prefixed && digits.contains('_')) {
        return None;
    }
    if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return None;
    }
    let digits = digits.replace('_', "");
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mag = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if mag <= i64::MAX as u64 + 1 {
            Some((mag as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(mag).ok()
    }
}

/// `strconv.ParseFloat(s, 64)` for decimal text and `inf`/`infinity`/`nan`
/// in any case (Go also reads hex floats; the test files use none).
fn go_parse_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let word = body.to_ascii_lowercase();
    let is_word = matches!(word.as_str(), "inf" | "infinity" | "nan");
    let is_decimal = !body.is_empty()
        && body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !is_word && !is_decimal {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Parses one series line: `metric{a="b"} values…`, `{a="b"} values…` or
/// `metric values…`.
pub fn parse_series(line: &str) -> Result<SeriesDesc, String> {
    let mut c = Cursor { s: line, pos: 0 };
    let mut pairs: Vec<(String, String)> = Vec::new();
    c.skip_ws();
    if let Some(name) = c.ident() {
        pairs.push(("__name__".into(), name));
    }
    c.skip_ws_if_then(|r| r.starts_with('{') && !r.starts_with("{{"));
    let mut braces = false;
    if c.rest().starts_with('{') && !c.rest().starts_with("{{") {
        c.pos += 1;
        parse_label_set(&mut c, &mut pairs)?;
        braces = true;
    }
    if pairs.is_empty() && !braces {
        return Err(format!("no metric in series line {line:?}"));
    }
    let mut labels: LabelPairs = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    labels.sort();
    for w in labels.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(format!("duplicate label {:?} in {line:?}", w[0].0));
        }
    }
    let values = parse_values(c.rest())?;
    Ok(SeriesDesc { labels, values })
}

/// The inside of `{…}` after the brace: `name="value"` pairs, or a bare
/// quoted metric name (Prometheus 3's UTF-8 syntax).
fn parse_label_set(c: &mut Cursor, pairs: &mut Vec<(String, String)>) -> Result<(), String> {
    loop {
        c.skip_ws();
        if c.eat('}') {
            return Ok(());
        }
        let name = if let Some(n) = c.ident() {
            n
        } else if let Some(q) = c.quoted()? {
            c.skip_ws();
            if c.rest().starts_with(',') || c.rest().starts_with('}') {
                // `{"metric.name", …}`
                pairs.push(("__name__".into(), q));
                c.skip_ws();
                c.eat(',');
                continue;
            }
            q
        } else {
            return Err(format!("expected a label name at {:?}", c.rest()));
        };
        c.skip_ws();
        if !c.eat('=') || c.rest().starts_with('~') {
            return Err(format!(
                "expected '=' after label {name:?} (series lines allow only =)"
            ));
        }
        c.skip_ws();
        let value = c
            .quoted()?
            .ok_or_else(|| format!("expected a quoted value for label {name:?}"))?;
        pairs.push((name, value));
        c.skip_ws();
        if c.eat(',') {
            continue;
        }
        c.skip_ws();
        if c.eat('}') {
            return Ok(());
        }
        return Err(format!("expected ',' or '}}' at {:?}", c.rest()));
    }
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    /// Skips whitespace only if what follows satisfies `f`.
    fn skip_ws_if_then(&mut self, f: impl Fn(&str) -> bool) {
        let t = self.rest().trim_start();
        if f(t) {
            self.skip_ws();
        }
    }

    fn eat(&mut self, ch: char) -> bool {
        if self.rest().starts_with(ch) {
            self.pos += ch.len_utf8();
            true
        } else {
            false
        }
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    fn ident(&mut self) -> Option<String> {
        let r = self.rest().as_bytes();
        if r.is_empty() || !(r[0].is_ascii_alphabetic() || r[0] == b'_' || r[0] == b':') {
            return None;
        }
        let n = r
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b':')
            .count();
        let id = self.rest()[..n].to_string();
        self.pos += n;
        Some(id)
    }

    /// A Go string literal: `"…"` or `'…'` with escapes, or a raw `` `…` ``.
    fn quoted(&mut self) -> Result<Option<String>, String> {
        let r = self.rest();
        let Some(q) = r.chars().next().filter(|c| matches!(c, '"' | '\'' | '`')) else {
            return Ok(None);
        };
        let body = &r[1..];
        if q == '`' {
            let end = body.find('`').ok_or("unterminated raw string")?;
            self.pos += end + 2;
            return Ok(Some(body[..end].to_string()));
        }
        let mut out: Vec<u8> = Vec::new();
        let b = body.as_bytes();
        let mut k = 0;
        while k < b.len() {
            let ch = b[k];
            if ch == q as u8 {
                self.pos += k + 2;
                return Ok(Some(String::from_utf8_lossy(&out).into_owned()));
            }
            if ch != b'\\' {
                out.push(ch);
                k += 1;
                continue;
            }
            let e = *b.get(k + 1).ok_or("unterminated escape")?;
            k += 2;
            let simple = match e {
                b'a' => Some(7u8),
                b'b' => Some(8),
                b'f' => Some(12),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'v' => Some(11),
                b'\\' | b'"' | b'\'' => Some(e),
                _ => None,
            };
            if let Some(v) = simple {
                out.push(v);
                continue;
            }
            let hex = |k: usize, n: usize| -> Result<u32, String> {
                body.get(k..k + n)
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .ok_or_else(|| "bad hex escape".to_string())
            };
            match e {
                b'x' => {
                    out.push(hex(k, 2)? as u8);
                    k += 2;
                }
                b'u' | b'U' => {
                    let n = if e == b'u' { 4 } else { 8 };
                    let c = char::from_u32(hex(k, n)?).ok_or("bad unicode escape")?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    k += n;
                }
                b'0'..=b'7' => {
                    let oct = body.get(k - 1..k + 2).ok_or("bad octal escape")?;
                    out.push(u8::from_str_radix(oct, 8).map_err(|_| "bad octal escape")?);
                    k += 2;
                }
                _ => return Err(format!("unknown escape \\{}", e as char)),
            }
        }
        Err("unterminated string".into())
    }
}

/// The value sequence of a series line, expanded.
fn parse_values(s: &str) -> Result<Vec<SeqValue>, String> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        if rest.starts_with("{{") {
            rest = parse_histogram_item(rest, &mut out)?;
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            parse_value_item(&rest[..end], &mut out)?;
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Ok(out)
}

/// `{{…}}`, `{{…}}xN`, `{{…}}+{{…}}xN` or `{{…}}-{{…}}xN`; returns the text
/// after it.
fn parse_histogram_item<'a>(s: &'a str, out: &mut Vec<SeqValue>) -> Result<&'a str, String> {
    let close = |t: &str| {
        t.find("}}")
            .map(|k| k + 2)
            .ok_or("unterminated {{ histogram")
    };
    let mut rest = &s[close(s)?..];
    let mut needs_count = false;
    if (rest.starts_with("+{{") || rest.starts_with("-{{")) && !rest.is_empty() {
        rest = &rest[1..];
        rest = &rest[close(rest)?..];
        needs_count = true;
    }
    if let Some(r) = rest.strip_prefix('x') {
        let n = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        let count: usize = r[..n].parse().map_err(|_| "bad histogram repeat count")?;
        out.extend(std::iter::repeat_n(SeqValue::Histogram, count + 1));
        return Ok(&r[n..]);
    }
    if needs_count {
        return Err("histogram series `{{..}}+{{..}}` needs `xN`".into());
    }
    out.push(SeqValue::Histogram);
    Ok(rest)
}

/// One whitespace-free item: `_`, `_xN`, `stale`, `A`, `AxN`, `A+BxN`,
/// `A-BxN`. Sequences are built by repeated addition, as Prometheus does,
/// so rounding drifts the same way.
fn parse_value_item(tok: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    if tok == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = tok.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| format!("bad item {tok:?}"))?;
        out.extend(std::iter::repeat_n(SeqValue::Omitted, n));
        return Ok(());
    }
    if tok == "stale" {
        out.push(SeqValue::Float(f64::from_bits(STALE_NAN_BITS)));
        return Ok(());
    }
    let (a, rest) = scan_number(tok, true).ok_or_else(|| format!("bad value {tok:?}"))?;
    if rest.is_empty() {
        out.push(SeqValue::Float(a));
        return Ok(());
    }
    let (step, rest) = if rest.starts_with(['+', '-']) {
        let (b, r) = scan_number(rest, true).ok_or_else(|| format!("bad value {tok:?}"))?;
        (b, r)
    } else {
        (0.0, rest)
    };
    let count: u64 = rest
        .strip_prefix('x')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("bad value {tok:?}"))?;
    let mut v = a;
    for _ in 0..=count {
        out.push(SeqValue::Float(v));
        v += step;
    }
    Ok(())
}

/// Reads a number at the start of `s` the way Prometheus's series lexer
/// does (decimal with optional fraction and exponent, or `Inf`/`NaN` in any
/// case; no hex, so `0x3` is "0 three more times"). Returns the value and
/// the rest.
fn scan_number(s: &str, signed: bool) -> Option<(f64, &str)> {
    let b = s.as_bytes();
    let mut k = 0;
    if signed && matches!(b.first(), Some(b'+') | Some(b'-')) {
        k = 1;
    }
    let lower = s[k..].to_ascii_lowercase();
    for word in ["inf", "nan"] {
        if lower.starts_with(word) {
            let end = k + 3;
            let next = b.get(end).copied();
            if next.is_none() || matches!(next, Some(b'x' | b'+' | b'-')) {
                let v = if word == "nan" {
                    f64::NAN
                } else if b[0] == b'-' {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                };
                return Some((v, &s[end..]));
            }
            return None;
        }
    }
    let digits_start = k;
    while k < b.len() && b[k].is_ascii_digit() {
        k += 1;
    }
    if k < b.len() && b[k] == b'.' {
        k += 1;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
    }
    if !s[digits_start..k].bytes().any(|c| c.is_ascii_digit()) {
        return None;
    }
    if k < b.len() && matches!(b[k], b'e' | b'E') {
        let mut e = k + 1;
        if e < b.len() && matches!(b[e], b'+' | b'-') {
            e += 1;
        }
        let exp_digits = b[e..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits > 0 {
            k = e + exp_digits;
        }
    }
    let v: f64 = s[..k].parse().ok()?;
    Some((v, &s[k..]))
}
