//! Go's `time` package as templates see it: `Time.Format` with Go's
//! reference-time layouts (`2006-01-02 15:04:05`), `Time.String`,
//! `Duration.String` (`1h2m3s`), and the methods templates call on times
//! and durations (`.Unix`, `.UTC`, `.Format "..."`, `.Seconds` ...).

use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Timelike, Utc};

use super::value::Value;
use super::BARE;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// Go's `Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`.
pub fn time_string(t: &DateTime<FixedOffset>) -> String {
    format(t, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// One piece of a Go layout.
enum Chunk<'a> {
    Lit(&'a str),
    Std(&'static str),
    /// Fractional seconds: digit count, and whether trailing zeros are
    /// trimmed (`.999`) or kept (`.000`); the separator (`.` or `,`).
    Frac(usize, bool, char),
}

fn starts_lower(s: &str) -> bool {
    s.as_bytes().first().is_some_and(|b| b.is_ascii_lowercase())
}

/// Splits a layout the way Go's `nextStdChunk` does: the first standard
/// element wins at each position, so `Jan` followed by a lower-case letter
/// is literal text (`January` excepted).
fn chunks(layout: &str) -> Vec<Chunk<'_>> {
    let b = layout.as_bytes();
    let mut out = Vec::new();
    let mut lit_start = 0;
    let mut i = 0;
    while i < b.len() {
        let rest = &layout[i..];
        let found: Option<(Chunk, usize)> = match b[i] {
            b'J' if rest.starts_with("January") => Some((Chunk::Std("January"), 7)),
            b'J' if rest.starts_with("Jan") && !starts_lower(&rest[3..]) => {
                Some((Chunk::Std("Jan"), 3))
            }
            b'M' if rest.starts_with("Monday") => Some((Chunk::Std("Monday"), 6)),
            b'M' if rest.starts_with("Mon") && !starts_lower(&rest[3..]) => {
                Some((Chunk::Std("Mon"), 3))
            }
            b'M' if rest.starts_with("MST") => Some((Chunk::Std("MST"), 3)),
            b'0' if b.len() > i + 1 && (b'1'..=b'6').contains(&b[i + 1]) => {
                let s = ["01", "02", "03", "04", "05", "06"][(b[i + 1] - b'1') as usize];
                Some((Chunk::Std(s), 2))
            }
            b'0' if rest.starts_with("002") => Some((Chunk::Std("002"), 3)),
            b'1' if rest.starts_with("15") => Some((Chunk::Std("15"), 2)),
            b'1' => Some((Chunk::Std("1"), 1)),
            b'2' if rest.starts_with("2006") => Some((Chunk::Std("2006"), 4)),
            b'2' => Some((Chunk::Std("2"), 1)),
            b'_' if rest.starts_with("_2006") => {
                // A literal underscore followed by the long year.
                out.push(Chunk::Lit(&layout[lit_start..i + 1]));
                lit_start = i + 1;
                Some((Chunk::Std("2006"), 5))
            }
            b'_' if rest.starts_with("__2") => Some((Chunk::Std("__2"), 3)),
            b'_' if rest.starts_with("_2") => Some((Chunk::Std("_2"), 2)),
            b'3' => Some((Chunk::Std("3"), 1)),
            b'4' => Some((Chunk::Std("4"), 1)),
            b'5' => Some((Chunk::Std("5"), 1)),
            b'P' if rest.starts_with("PM") => Some((Chunk::Std("PM"), 2)),
            b'p' if rest.starts_with("pm") => Some((Chunk::Std("pm"), 2)),
            b'-' | b'Z' => {
                let names: &[&'static str] = if b[i] == b'-' {
                    &["-07:00:00", "-070000", "-07:00", "-0700", "-07"]
                } else {
                    &["Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07"]
                };
                names
                    .iter()
                    .find(|n| rest.starts_with(**n))
                    .map(|n| (Chunk::Std(n), n.len()))
            }
            b'.' | b',' if b.len() > i + 1 && (b[i + 1] == b'0' || b[i + 1] == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    None
                } else {
                    Some((Chunk::Frac(j - i - 1, ch == b'9', b[i] as char), j - i))
                }
            }
            _ => None,
        };
        match found {
            Some((chunk, len)) => {
                if lit_start < i {
                    out.push(Chunk::Lit(&layout[lit_start..i]));
                }
                out.push(chunk);
                i += len;
                lit_start = i;
            }
            None => i += layout[i..].chars().next().map_or(1, |c| c.len_utf8()),
        }
    }
    if lit_start < b.len() {
        out.push(Chunk::Lit(&layout[lit_start..]));
    }
    out
}

fn pad(n: i64, width: usize) -> String {
    if n < 0 {
        format!("-{:0width$}", -n, width = width)
    } else {
        format!("{:0width$}", n, width = width)
    }
}

/// Go's `Time.Format(layout)`.
pub fn format(t: &DateTime<FixedOffset>, layout: &str) -> String {
    let mut out = String::new();
    let offset = t.offset().local_minus_utc();
    for chunk in chunks(layout) {
        match chunk {
            Chunk::Lit(s) => out.push_str(s),
            Chunk::Frac(n, trim, sep) => {
                let nanos = t.nanosecond() % 1_000_000_000;
                let digits = format!("{:09}", nanos);
                let mut d = &digits[..n.min(9)];
                if trim {
                    d = d.trim_end_matches('0');
                    if d.is_empty() {
                        continue;
                    }
                }
                out.push(sep);
                out.push_str(d);
            }
            Chunk::Std(s) => {
                let hour = t.hour() as i64;
                let h12 = if hour % 12 == 0 { 12 } else { hour % 12 };
                let piece = match s {
                    "January" => MONTHS[t.month0() as usize].to_string(),
                    "Jan" => MONTHS[t.month0() as usize][..3].to_string(),
                    "Monday" => DAYS[t.weekday().num_days_from_sunday() as usize].to_string(),
                    "Mon" => DAYS[t.weekday().num_days_from_sunday() as usize][..3].to_string(),
                    "01" => pad(t.month() as i64, 2),
                    "1" => t.month().to_string(),
                    "02" => pad(t.day() as i64, 2),
                    "2" => t.day().to_string(),
                    "_2" => format!("{:>2}", t.day()),
                    "002" => pad(t.ordinal() as i64, 3),
                    "__2" => format!("{:>3}", t.ordinal()),
                    "03" => pad(h12, 2),
                    "3" => h12.to_string(),
                    "15" => pad(hour, 2),
                    "04" => pad(t.minute() as i64, 2),
                    "4" => t.minute().to_string(),
                    "05" => pad(t.second() as i64, 2),
                    "5" => t.second().to_string(),
                    "06" => pad((t.year() as i64).rem_euclid(100), 2),
                    "2006" => pad(t.year() as i64, 4),
                    "PM" => (if hour >= 12 { "PM" } else { "AM" }).to_string(),
                    "pm" => (if hour >= 12 { "pm" } else { "am" }).to_string(),
                    "MST" => {
                        if offset == 0 {
                            "UTC".to_string()
                        } else {
                            // No zone name is known; Go prints -0700 then.
                            zone(offset, false, false)
                        }
                    }
                    _ => {
                        // Numeric zones; the Z forms print "Z" for UTC.
                        if s.starts_with('Z') && offset == 0 {
                            "Z".to_string()
                        } else {
                            let colon = s.contains(':');
                            let secs = s.ends_with(":00:00") || s.len() == 7;
                            let mut z = zone(offset, colon, secs);
                            if s.len() == 3 {
                                z.truncate(3); // -07
                            }
                            z
                        }
                    }
                };
                out.push_str(&piece);
            }
        }
    }
    out
}

fn zone(offset: i32, colon: bool, secs: bool) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let o = offset.abs();
    let (h, m, s) = (o / 3600, (o / 60) % 60, o % 60);
    let sep = if colon { ":" } else { "" };
    if secs {
        format!("{sign}{h:02}{sep}{m:02}{sep}{s:02}")
    } else {
        format!("{sign}{h:02}{sep}{m:02}")
    }
}

/// Go's `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
pub fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".to_string();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Below a second Go switches to the largest unit that keeps an
        // integer part: ns, µs or ms.
        let (unit, prec) = if u < 1_000 {
            ("ns", 0)
        } else if u < 1_000_000 {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        out.push_str(&frac(u, prec));
        out.push_str(unit);
    } else {
        let secs = u / 1_000_000_000;
        let nanos = u % 1_000_000_000;
        let mut s = (secs % 60).to_string();
        if nanos != 0 {
            let f = format!("{:09}", nanos);
            s.push('.');
            s.push_str(f.trim_end_matches('0'));
        }
        let mins = secs / 60;
        if mins > 0 {
            let hours = mins / 60;
            if hours > 0 {
                out.push_str(&format!("{}h", hours));
            }
            out.push_str(&format!("{}m", mins % 60));
        }
        out.push_str(&s);
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `u / 10^prec` with the fraction's trailing zeros (and a bare point)
/// dropped.
fn frac(u: u64, prec: u32) -> String {
    let p = 10u64.pow(prec);
    let (int, f) = (u / p, u % p);
    if f == 0 {
        return int.to_string();
    }
    let fs = format!("{:0width$}", f, width = prec as usize);
    format!("{}.{}", int, fs.trim_end_matches('0'))
}

/// Go's zero `time.Time` (January 1, year 1, 00:00:00 UTC).
pub fn zero_time() -> DateTime<FixedOffset> {
    Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0)
        .single()
        .expect("BUG: year 1 is representable")
        .fixed_offset()
}

fn want(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "{BARE}wrong number of args for {}: want {} got {}",
            name,
            n,
            args.len()
        ));
    }
    Ok(())
}

fn arg_time(args: &[Value], i: usize) -> Result<DateTime<FixedOffset>, String> {
    match args.get(i) {
        Some(Value::Time(t)) => Ok(*t),
        Some(v) => Err(format!(
            "{BARE}wrong type for value; expected time.Time; got {}",
            v.type_name()
        )),
        None => Err(format!("{BARE}missing argument")),
    }
}

fn arg_duration(args: &[Value], i: usize) -> Result<i64, String> {
    match args.get(i) {
        Some(Value::Duration(d)) | Some(Value::Int(d)) => Ok(*d),
        Some(v) => Err(format!(
            "{BARE}wrong type for value; expected time.Duration; got {}",
            v.type_name()
        )),
        None => Err(format!("{BARE}missing argument")),
    }
}

/// Methods on `time.Time` and `time.Duration`; None when there is no such
/// method (the caller reports `can't evaluate field`).
pub(crate) fn method(recv: &Value, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    match recv {
        Value::Time(t) => time_method(t, name, args),
        Value::Duration(d) => duration_method(*d, name, args),
        _ => None,
    }
}

fn time_method(
    t: &DateTime<FixedOffset>,
    name: &str,
    args: &[Value],
) -> Option<Result<Value, String>> {
    let zero_args = |v: Value| want(name, args, 0).map(|_| v);
    Some(match name {
        "String" => zero_args(Value::Str(time_string(t))),
        "Unix" => zero_args(Value::Int(t.timestamp())),
        "UnixMilli" => zero_args(Value::Int(t.timestamp_millis())),
        "UnixMicro" => zero_args(Value::Int(t.timestamp_micros())),
        "UnixNano" => zero_args(Value::Int(t.timestamp_nanos_opt().unwrap_or(0))),
        "UTC" => zero_args(Value::Time(t.with_timezone(&Utc).fixed_offset())),
        "Local" => zero_args(Value::Time(t.with_timezone(&chrono::Local).fixed_offset())),
        "IsZero" => zero_args(Value::Bool(*t == zero_time())),
        "Year" => zero_args(Value::Int(t.year() as i64)),
        "Month" => zero_args(Value::Str(MONTHS[t.month0() as usize].to_string())),
        "Day" => zero_args(Value::Int(t.day() as i64)),
        "Hour" => zero_args(Value::Int(t.hour() as i64)),
        "Minute" => zero_args(Value::Int(t.minute() as i64)),
        "Second" => zero_args(Value::Int(t.second() as i64)),
        "Nanosecond" => zero_args(Value::Int((t.nanosecond() % 1_000_000_000) as i64)),
        "YearDay" => zero_args(Value::Int(t.ordinal() as i64)),
        "Weekday" => zero_args(Value::Str(
            DAYS[t.weekday().num_days_from_sunday() as usize].to_string(),
        )),
        "Format" => want(name, args, 1).and_then(|_| match &args[0] {
            Value::Str(layout) => Ok(Value::Str(format(t, layout))),
            v => Err(format!(
                "{BARE}wrong type for value; expected string; got {}",
                v.type_name()
            )),
        }),
        "Add" => want(name, args, 1)
            .and_then(|_| arg_duration(args, 0))
            .map(|d| Value::Time(*t + chrono::Duration::nanoseconds(d))),
        "Sub" => want(name, args, 1)
            .and_then(|_| arg_time(args, 0))
            .map(|u| Value::Duration((*t - u).num_nanoseconds().unwrap_or(i64::MAX))),
        "Before" => want(name, args, 1)
            .and_then(|_| arg_time(args, 0))
            .map(|u| Value::Bool(*t < u)),
        "After" => want(name, args, 1)
            .and_then(|_| arg_time(args, 0))
            .map(|u| Value::Bool(*t > u)),
        "Equal" => want(name, args, 1)
            .and_then(|_| arg_time(args, 0))
            .map(|u| Value::Bool(*t == u)),
        _ => return None,
    })
}

fn duration_method(d: i64, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    let zero_args = |v: Value| want(name, args, 0).map(|_| v);
    Some(match name {
        "String" => zero_args(Value::Str(duration_string(d))),
        "Seconds" => zero_args(Value::Float(d as f64 / 1e9)),
        "Minutes" => zero_args(Value::Float(d as f64 / 6e10)),
        "Hours" => zero_args(Value::Float(d as f64 / 3.6e12)),
        "Milliseconds" => zero_args(Value::Int(d / 1_000_000)),
        "Microseconds" => zero_args(Value::Int(d / 1_000)),
        "Nanoseconds" => zero_args(Value::Int(d)),
        "Abs" => zero_args(Value::Duration(d.saturating_abs())),
        "Truncate" => want(name, args, 1)
            .and_then(|_| arg_duration(args, 0))
            .map(|m| Value::Duration(if m <= 0 { d } else { d - d % m })),
        "Round" => want(name, args, 1)
            .and_then(|_| arg_duration(args, 0))
            .map(|m| {
                if m <= 0 {
                    return Value::Duration(d);
                }
                // Halfway values round away from zero, as Go does.
                let r = d % m;
                let v = if d < 0 {
                    if -r + -r < m {
                        d - r
                    } else {
                        d - r - m
                    }
                } else if r + r < m {
                    d - r
                } else {
                    d - r + m
                };
                Value::Duration(v)
            }),
        _ => return None,
    })
}
