//! Go's `fmt` and `strconv` number formatting, as templates reach them
//! through `print`, `printf`, `println` and plain `{{ . }}` output.
//!
//! Output must match Go byte for byte, so the float rules are Go's, not
//! Rust's: `%v` of a float is strconv's shortest `%g`, which switches to an
//! exponent when the decimal exponent is < -4 or >= 6 (Go prints 1234567.0
//! as `1.234567e+06` and 100000.0 as `100000`), exponents have at least two
//! digits, and infinities print as `+Inf`/`-Inf`. Digits come from
//! Rust's correctly rounded `{:e}` formatting; the layout around them is
//! Go's. Wrong-type arguments print Go's `%!d(string=x)` forms.

use super::gotime::{duration_string, time_string};
use super::value::Value;

/// Decimal digits of `|v|` (no leading zeros, no trailing zeros) and the
/// decimal point position: value = 0.d1d2d3... * 10^dp. Zero has no digits.
fn digits_of(sci: &str) -> (Vec<u8>, i32) {
    let (mant, exp) = sci
        .split_once('e')
        .expect("BUG: {:e} output has an exponent");
    let exp: i32 = exp.parse().expect("BUG: {:e} exponent is an integer");
    let mut d: Vec<u8> = mant.bytes().filter(|b| b.is_ascii_digit()).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return (d, 0);
    }
    (d, exp + 1)
}

/// Shortest digits that round-trip.
fn shortest(a: f64) -> (Vec<u8>, i32) {
    digits_of(&format!("{:e}", a))
}

/// `sig` significant digits, correctly rounded.
fn rounded(a: f64, sig: usize) -> (Vec<u8>, i32) {
    digits_of(&format!("{:.*e}", sig.saturating_sub(1), a))
}

/// `d.ddde±XX`, with `prec` digits after the point.
fn fmt_e(d: &[u8], dp: i32, prec: usize, upper: bool) -> String {
    let mut s = String::new();
    s.push(d.first().map_or('0', |c| *c as char));
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(d.get(i).map_or('0', |c| *c as char));
        }
    }
    s.push(if upper { 'E' } else { 'e' });
    let exp = if d.is_empty() { 0 } else { dp - 1 };
    s.push(if exp < 0 { '-' } else { '+' });
    s.push_str(&format!("{:02}", exp.abs()));
    s
}

/// `ddd.ddd` with `prec` digits after the point.
fn fmt_f(d: &[u8], dp: i32, prec: usize) -> String {
    let mut s = String::new();
    if dp > 0 {
        for i in 0..dp as usize {
            s.push(d.get(i).map_or('0', |c| *c as char));
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 1..=prec as i32 {
            let j = dp + i - 1;
            let c = if j >= 0 { d.get(j as usize) } else { None };
            s.push(c.map_or('0', |c| *c as char));
        }
    }
    s
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)` for fmt in `e E f g G`;
/// `prec` None is Go's -1 (shortest).
pub fn format_float(v: f64, fmt: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let neg = v.is_sign_negative();
    let a = v.abs();
    let body = match fmt {
        'f' | 'F' => match prec {
            Some(p) => format!("{:.*}", p, a),
            None => {
                let (d, dp) = shortest(a);
                fmt_f(&d, dp, (d.len() as i32 - dp).max(0) as usize)
            }
        },
        'e' | 'E' => {
            let (d, dp) = match prec {
                Some(p) => rounded(a, p + 1),
                None => shortest(a),
            };
            let p = prec.unwrap_or(d.len().saturating_sub(1));
            fmt_e(&d, dp, p, fmt == 'E')
        }
        _ => {
            // %g: strconv's rule for choosing between %e and %f.
            let upper = fmt == 'G';
            let (d, dp, mut p, shortest_form) = match prec {
                Some(p) => {
                    let p = p.max(1);
                    let (d, dp) = rounded(a, p);
                    (d, dp, p, false)
                }
                None => {
                    let (d, dp) = shortest(a);
                    let n = d.len();
                    (d, dp, n, true)
                }
            };
            let nd = d.len();
            let mut eprec = p as i32;
            if eprec > nd as i32 && nd as i32 >= dp {
                eprec = nd as i32;
            }
            if shortest_form {
                eprec = 6;
            }
            let exp = dp - 1;
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(&d, dp, p.saturating_sub(1), upper)
            } else {
                if p as i32 > dp {
                    p = nd;
                }
                fmt_f(&d, dp, (p as i32 - dp).max(0) as usize)
            }
        }
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

pub use pharos_agent::gofmt::quote as go_quote;
use pharos_agent::gofmt::{is_print, quote_char_into};

/// Go's `%v` of a value (what `{{ . }}` prints, apart from `Nil`).
pub fn format_value(v: &Value) -> String {
    let mut out = String::new();
    print_arg(&mut out, &Spec::default(), v, 'v');
    out
}

/// Go's `fmt.Sprint`: a space between operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        print_arg(&mut out, &Spec::default(), a, 'v');
        prev_string = is_string;
    }
    out
}

/// Go's `fmt.Sprintln`: spaces between all operands, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_arg(&mut out, &Spec::default(), a, 'v');
    }
    out.push('\n');
    out
}

/// Flags, width and precision of one verb.
#[derive(Default, Clone)]
struct Spec {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut argn = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '+' => spec.plus = true,
                '-' => {
                    spec.minus = true;
                    spec.zero = false; // Only zero-pad on the left.
                }
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = !spec.minus,
                _ => break,
            }
            chars.next();
        }
        // Width: digits or `*`.
        if chars.peek() == Some(&'*') {
            chars.next();
            match args.get(argn) {
                Some(Value::Int(w)) => {
                    if *w < 0 {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            argn += 1;
        } else {
            let mut w = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                w.push(d);
                chars.next();
            }
            if !w.is_empty() {
                spec.width = w.parse().ok();
            }
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            if chars.peek() == Some(&'*') {
                chars.next();
                match args.get(argn) {
                    Some(Value::Int(p)) if *p >= 0 => spec.prec = Some(*p as usize),
                    _ => out.push_str("%!(BADPREC)"),
                }
                argn += 1;
            } else {
                let mut p = String::new();
                while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    p.push(d);
                    chars.next();
                }
                spec.prec = Some(p.parse().unwrap_or(0));
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(argn) {
            None => {
                out.push_str(&format!("%!{verb}(MISSING)"));
            }
            Some(a) => {
                print_arg(&mut out, &spec, a, verb);
                argn += 1;
            }
        }
    }
    if argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argn..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if let Value::Nil = a {
                out.push_str("<nil>");
            } else {
                out.push_str(&a.type_name());
                out.push('=');
                print_arg(&mut out, &Spec::default(), a, 'v');
            }
        }
        out.push(')');
    }
    out
}

fn bad_verb(out: &mut String, v: &Value, verb: char) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if let Value::Nil = v {
        out.push_str("<nil>");
    } else {
        out.push_str(&v.type_name());
        out.push('=');
        print_arg(out, &Spec::default(), v, 'v');
    }
    out.push(')');
}

fn pad(out: &mut String, spec: &Spec, s: &str) {
    let n = s.chars().count();
    let w = spec.width.unwrap_or(0);
    if w <= n {
        out.push_str(s);
        return;
    }
    let fill = w - n;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        let c = if spec.zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(c, fill));
        out.push_str(s);
    }
}

fn print_arg(out: &mut String, spec: &Spec, v: &Value, verb: char) {
    if verb == 'T' {
        pad(out, spec, &v.type_name());
        return;
    }
    match v {
        Value::Nil => match verb {
            'v' => pad(out, spec, "<nil>"),
            _ => bad_verb(out, v, verb),
        },
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, spec, if *b { "true" } else { "false" }),
            _ => bad_verb(out, v, verb),
        },
        Value::Int(i) => fmt_int(out, spec, *i, verb, v),
        Value::Duration(d) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => fmt_str(out, spec, &duration_string(*d), verb),
            _ => fmt_int(out, spec, *d, verb, v),
        },
        Value::Float(f) => fmt_float(out, spec, *f, verb, v),
        Value::Str(s) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => fmt_str(out, spec, s, verb),
            _ => bad_verb(out, v, verb),
        },
        Value::Time(t) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => fmt_str(out, spec, &time_string(t), verb),
            _ => bad_verb(out, v, verb),
        },
        Value::List(l) => print_list(out, spec, l, verb),
        Value::Map(m) => print_map(out, spec, m.iter(), verb),
        Value::Object(o) => {
            if let Some(s) = o.display() {
                match verb {
                    'v' | 's' | 'q' | 'x' | 'X' => fmt_str(out, spec, &s, verb),
                    _ => bad_verb(out, v, verb),
                }
            } else if let Some(l) = o.as_list() {
                print_list(out, spec, &l, verb);
            } else if let Some(m) = o.as_map() {
                print_map(out, spec, m.iter(), verb);
            } else {
                out.push_str("{}");
            }
        }
    }
}

fn print_list(out: &mut String, spec: &Spec, l: &[Value], verb: char) {
    out.push('[');
    for (i, e) in l.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_arg(out, spec, e, verb);
    }
    out.push(']');
}

fn print_map<'a>(
    out: &mut String,
    spec: &Spec,
    m: impl Iterator<Item = (&'a String, &'a Value)>,
    verb: char,
) {
    out.push_str("map[");
    for (i, (k, e)) in m.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        fmt_str(out, spec, k, if verb == 'v' { 's' } else { verb });
        out.push(':');
        print_arg(out, spec, e, verb);
    }
    out.push(']');
}

fn fmt_str(out: &mut String, spec: &Spec, s: &str, verb: char) {
    match verb {
        'q' => {
            let t: String = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            pad(out, spec, &go_quote(&t));
        }
        'x' | 'X' => {
            let bytes = s.as_bytes();
            let bytes = match spec.prec {
                Some(p) if p < bytes.len() => &bytes[..p],
                _ => bytes,
            };
            let mut h = String::new();
            for (i, b) in bytes.iter().enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    h.push_str(&format!("{:02x}", b));
                } else {
                    h.push_str(&format!("{:02X}", b));
                }
            }
            pad(out, spec, &h);
        }
        _ => {
            let t: String = match spec.prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            pad(out, spec, &t);
        }
    }
}

fn fmt_int(out: &mut String, spec: &Spec, i: i64, verb: char, orig: &Value) {
    let base = match verb {
        'd' | 'v' => 10,
        'b' => 2,
        'o' | 'O' => 8,
        'x' | 'X' => 16,
        'c' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            pad(out, spec, &c.to_string());
            return;
        }
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            let mut s = String::from('\'');
            quote_char_into(&mut s, c, '\'');
            s.push('\'');
            pad(out, spec, &s);
            return;
        }
        'U' => {
            let mut s = format!("U+{:04X}", i);
            if spec.sharp {
                if let Some(c) = char::from_u32(i as u32).filter(|c| is_print(*c)) {
                    s.push_str(&format!(" '{c}'"));
                }
            }
            pad(out, spec, &s);
            return;
        }
        _ => {
            bad_verb(out, orig, verb);
            return;
        }
    };
    let neg = i < 0;
    let u = i.unsigned_abs();
    let mut prec = 0usize;
    if let Some(p) = spec.prec {
        prec = p;
        if p == 0 && u == 0 {
            let s = Spec {
                zero: false,
                ..spec.clone()
            };
            pad(out, &s, "");
            return;
        }
    } else if spec.zero && !spec.minus {
        if let Some(w) = spec.width {
            prec = w;
            if neg || spec.plus || spec.space {
                prec = prec.saturating_sub(1);
            }
        }
    }
    let mut digits = match base {
        2 => format!("{:b}", u),
        8 => format!("{:o}", u),
        16 if verb == 'X' => format!("{:X}", u),
        16 => format!("{:x}", u),
        _ => u.to_string(),
    };
    while digits.len() < prec {
        digits.insert(0, '0');
    }
    let mut prefix = String::new();
    if spec.sharp {
        match base {
            2 => prefix.push_str("0b"),
            8 if !digits.starts_with('0') => prefix.push('0'),
            16 => prefix.push_str(if verb == 'X' { "0X" } else { "0x" }),
            _ => {}
        }
    }
    if verb == 'O' {
        prefix = "0o".into();
    }
    let sign = if neg {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let s = format!("{sign}{prefix}{digits}");
    let sp = Spec {
        zero: false,
        ..spec.clone()
    };
    pad(out, &sp, &s);
}

fn fmt_float(out: &mut String, spec: &Spec, f: f64, verb: char, orig: &Value) {
    let (fmt, default_prec) = match verb {
        'v' | 'g' => ('g', None),
        'G' => ('G', None),
        'e' | 'E' | 'f' => (verb, Some(6)),
        'F' => ('f', Some(6)),
        _ => {
            bad_verb(out, orig, verb);
            return;
        }
    };
    let prec = spec.prec.or(default_prec);
    let mut num = format_float(f, fmt, prec);
    if !num.starts_with('-') && !num.starts_with('+') {
        num.insert(0, '+');
    }
    if spec.space && num.starts_with('+') && !spec.plus {
        num.replace_range(0..1, " ");
    }
    // Infinities and NaN are never zero-padded; NaN loses its sign unless
    // one was asked for.
    if num[1..].starts_with('I') || num[1..].starts_with('N') {
        if num[1..].starts_with('N') && !spec.space && !spec.plus {
            num.remove(0);
        }
        let sp = Spec {
            zero: false,
            ..spec.clone()
        };
        pad(out, &sp, &num);
        return;
    }
    if spec.plus || !num.starts_with('+') {
        // Zero padding goes between the sign and the digits.
        if spec.zero && !spec.minus {
            if let Some(w) = spec.width {
                if w > num.len() {
                    out.push_str(&num[..1]);
                    out.extend(std::iter::repeat_n('0', w - num.len()));
                    out.push_str(&num[1..]);
                    return;
                }
            }
        }
        pad(out, spec, &num);
        return;
    }
    pad(out, spec, &num[1..]);
}
