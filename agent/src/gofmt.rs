//! Go's spellings, once: pharos answers byte for byte as Prometheus and
//! Alertmanager (written in Go) do, so wherever a value, a quoted string,
//! a duration or a time reaches a user — error messages, the text
//! exposition format, JSON answers, templates — it is written here.
//!
//! - [`quote`] / [`quote_bytes`]: `strconv.Quote` (`%q`), invalid UTF-8
//!   as `\xHH`.
//! - [`float_g`]: `strconv.FormatFloat(v, 'g', -1, 64)` with Prometheus's
//!   `+Inf`/`-Inf`/`NaN` (the text format, annotations).
//! - [`exponent_form`]: the shortest `1.5e+06` spelling with two exponent
//!   digits at least.
//! - [`duration`]: Prometheus's `model.Duration` (`1m30s`, `500ms`).
//! - [`rfc3339`] / [`rfc3339_millis`]: a `time.Time` marshalled to JSON
//!   (trailing zeros of the fraction dropped; Go's zero time for 0), and
//!   go-openapi's three fixed fractional digits (Alertmanager's API).

use std::fmt::Write;
use std::time::Duration;

use chrono::{TimeZone, Utc};

/// Go's `strconv.Quote`: `"…"` with `\"`, `\\`, `\n`… and every character
/// Go does not print escaped.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        quote_char_into(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// [`quote`] of a byte string: invalid UTF-8 bytes as `\xHH`, as Go's
/// `%q` writes them (so a bad label reads the same as in Prometheus).
pub fn quote_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            quote_char_into(&mut out, c, '"');
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint`, approximately: Go decides from Unicode
/// categories, which std does not expose, so controls, whitespace other
/// than the space, the common format characters (soft hyphen, zero-width
/// spaces, bidi marks, the BOM) and private-use characters are escaped;
/// unassigned code points print as they are.
pub fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    let format_or_private = matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..);
    !format_or_private
}

/// One character of a Go quoted literal delimited by `quote` (`"` for
/// strings, `'` for runes).
pub fn quote_char_into(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if is_print(c) => out.push(c),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's shortest `%g` (`strconv.FormatFloat(v, 'g', -1, 64)`) with
/// Prometheus's special values: `1e+06`, `0.0001`, `1.5e-05`, `+Inf`,
/// `NaN` — the text exposition format's spelling.
pub fn float_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Go's rule for the shortest %g: the exponent form below 1e-4 and
    // from 1e+06 on.
    let (exponent_form, exp) = exponent_form(v);
    if !(-4..6).contains(&exp) {
        return exponent_form;
    }
    format!("{v}")
}

/// A finite, non-zero value in Go's shortest exponent form (`5.12e+29`,
/// `7.3e-08`: at least two exponent digits), with its decimal exponent.
pub fn exponent_form(v: f64) -> (String, i32) {
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("exponent is a number");
    let text = format!(
        "{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    );
    (text, exp)
}

/// Prometheus's duration spelling (`model.Duration`: `1m30s`, `15s`,
/// `500ms`, `0s`), used for `__scrape_interval__`, rule `for`, and in
/// messages.
pub fn duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            let _ = write!(out, "{}{unit}", ms / size);
            ms %= size;
        }
    }
    out
}

/// Go's zero `time.Time` as JSON.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A Unix-ms time as Go marshals a `time.Time` to JSON (RFC 3339, UTC,
/// trailing zeros of the fraction dropped: `2024-01-02T03:04:05.12Z`);
/// 0 (unset) is Go's zero time.
pub fn rfc3339(ms: i64) -> String {
    let Some(t) = (ms != 0)
        .then(|| Utc.timestamp_millis_opt(ms).single())
        .flatten()
    else {
        return ZERO_TIME.into();
    };
    let mut s = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let frac = t.timestamp_subsec_millis();
    if frac != 0 {
        s.push_str(format!(".{frac:03}").trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// RFC 3339 with exactly three fractional digits, as Alertmanager's API
/// (go-openapi's `strfmt.DateTime`) writes times: `2024-01-02T03:04:05.120Z`;
/// 0 is Go's zero time with its fraction.
pub fn rfc3339_millis(ms: i64) -> String {
    match (ms != 0)
        .then(|| Utc.timestamp_millis_opt(ms).single())
        .flatten()
    {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => "0001-01-01T00:00:00.000Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_as_go() {
        assert_eq!(quote("a\"b\\c\nd\te"), r#""a\"b\\c\nd\te""#);
        assert_eq!(quote("it's"), r#""it's""#);
        assert_eq!(quote("\u{1}\u{7f}\u{200b}é"), r#""\x01\x7f\u200bé""#);
        assert_eq!(quote_bytes(b"ok\xff\xfe"), r#""ok\xff\xfe""#);
        assert_eq!(quote_bytes("ünï".as_bytes()), "\"ünï\"");
    }

    #[test]
    fn floats_as_go() {
        for (v, want) in [
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (1234567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (-0.5, "-0.5"),
            (0.0, "0"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(float_g(v), want, "{v}");
        }
        assert_eq!(
            exponent_form(5.120656794802596e29).0,
            "5.120656794802596e+29"
        );
    }

    #[test]
    fn durations_and_times_as_go() {
        assert_eq!(duration(Duration::from_millis(90_500)), "1m30s500ms");
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_secs(8 * 86_400)), "1w1d");
        assert_eq!(rfc3339(0), ZERO_TIME);
        assert_eq!(rfc3339(1_704_164_645_120), "2024-01-02T03:04:05.12Z");
        assert_eq!(rfc3339(1_704_164_645_000), "2024-01-02T03:04:05Z");
        assert_eq!(
            rfc3339_millis(1_704_164_645_120),
            "2024-01-02T03:04:05.120Z"
        );
    }
}
