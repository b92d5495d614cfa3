//! Prometheus's template functions (`template/template.go` in Prometheus,
//! with the humanizers from `prometheus/common/helpers/templates`), for
//! alerting-rule labels and annotations.
//!
//! [`prometheus_funcs`] builds the FuncMap for one evaluation: `query` runs
//! PromQL through [`PromContext::query`] at the evaluation time, `now`
//! returns that time, `externalURL`/`pathPrefix` come from the context.
//! [`prometheus_alert_data`] is the dot of an alert template
//! (`.Labels`, `.ExternalLabels`, `.ExternalURL`, `.Value`), and
//! [`expand_alert_field`] expands one label or annotation the way the rule
//! manager does, `$labels`/`$value` prelude and error wrapping included.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use super::args::{self, type_error};
use super::builtin::query_escape;
use super::fmt::{format_float, format_value, sprintf};
use super::value::{Object, Value};
use super::{Func, Funcs, Template, TemplateError};

/// One sample of a `query` result.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Runs a PromQL instant query at the evaluation time.
pub type QueryFn = Arc<dyn Fn(&str) -> Result<Vec<QuerySample>, String> + Send + Sync>;

/// What Prometheus's template functions need from the rule evaluator.
#[derive(Clone)]
pub struct PromContext {
    /// Runs `query` (instant vector at the evaluation time).
    pub query: QueryFn,
    /// `--web.external-url`, for `externalURL` and `pathPrefix`.
    pub external_url: String,
    /// The rule evaluation time, for `now`.
    pub eval_time: DateTime<Utc>,
}

impl std::fmt::Debug for PromContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromContext")
            .field("external_url", &self.external_url)
            .field("eval_time", &self.eval_time)
            .finish()
    }
}

/// The variable definitions Prometheus puts in front of every alert label
/// and annotation template.
pub const ALERT_TEMPLATE_PRELUDE: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// A sample as templates see it: Go's `*template.sample`.
#[derive(Debug)]
struct Sample {
    labels: Value,
    value: f64,
}

impl Object for Sample {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Labels" => Some(self.labels.clone()),
            "Value" => Some(Value::Float(self.value)),
            _ => None,
        }
    }
    fn type_name(&self) -> String {
        "*template.sample".into()
    }
    fn display(&self) -> Option<String> {
        Some(format!(
            "&{{{} {}}}",
            format_value(&self.labels),
            format_float(self.value, 'g', None)
        ))
    }
}

fn sample_value(s: &QuerySample) -> Value {
    Value::object(Sample {
        labels: Value::string_map(s.labels.clone()),
        value: s.value,
    })
}

/// The dot of an alert label/annotation template (Prometheus's
/// `AlertTemplateData`).
#[derive(Debug)]
struct AlertData {
    labels: Value,
    external_labels: Value,
    external_url: String,
    value: f64,
}

impl Object for AlertData {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Labels" => Some(self.labels.clone()),
            "ExternalLabels" => Some(self.external_labels.clone()),
            "ExternalURL" => Some(Value::Str(self.external_url.clone())),
            "Value" => Some(Value::Float(self.value)),
            _ => None,
        }
    }
    fn type_name(&self) -> String {
        "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }".into()
    }
    fn display(&self) -> Option<String> {
        Some(format!(
            "{{{} {} {} {}}}",
            format_value(&self.labels),
            format_value(&self.external_labels),
            self.external_url,
            format_float(self.value, 'g', None)
        ))
    }
}

/// The data an alert template sees: `.Labels`, `.ExternalLabels`,
/// `.ExternalURL`, `.Value`.
pub fn prometheus_alert_data(
    labels: &BTreeMap<String, String>,
    external_labels: &BTreeMap<String, String>,
    external_url: &str,
    value: f64,
) -> Value {
    Value::object(AlertData {
        labels: Value::string_map(labels.clone()),
        external_labels: Value::string_map(external_labels.clone()),
        external_url: external_url.to_string(),
        value,
    })
}

/// Expands one alert label or annotation as Prometheus's rule manager
/// does: the `$labels`/`$value` prelude in front, template name
/// `__alert_RULE`, and errors wrapped `error parsing template NAME: ...` or
/// `error executing template NAME: ...`.
pub fn expand_alert_field(
    rule_name: &str,
    text: &str,
    data: &Value,
    funcs: &Funcs,
) -> Result<String, TemplateError> {
    let name = format!("__alert_{rule_name}");
    let full = format!("{ALERT_TEMPLATE_PRELUDE}{text}");
    let t = Template::parse(&name, &full, funcs)
        .map_err(|e| TemplateError(format!("error parsing template {name}: {}", e.0)))?;
    t.execute(&name, data, funcs)
        .map_err(|e| TemplateError(format!("error executing template {name}: {}", e.0)))
}

/// Prometheus's `convertToFloat`: numbers, numeric strings and durations.
pub(crate) fn convert_to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Duration(d) => Ok(*d as f64 / 1e9),
        Value::Str(s) => parse_go_float(s).ok_or_else(|| {
            format!(
                "strconv.ParseFloat: parsing {}: invalid syntax",
                super::go_quote(s)
            )
        }),
        Value::Nil => Err("can't convert <nil> to float".into()),
        v => Err(format!("can't convert {} to float", v.type_name())),
    }
}

/// Go's `strconv.ParseFloat` for the forms people write (`1.5`, `1e3`,
/// `+Inf`, `NaN`).
fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.trim_start_matches(['+', '-']);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" || lower == "nan" {
        let v = if lower == "nan" {
            f64::NAN
        } else {
            f64::INFINITY
        };
        return Some(if s.starts_with('-') { -v } else { v });
    }
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Go's `%.4g`.
fn g4(v: f64) -> String {
    sprintf("%.4g", &[Value::Float(v)])
}

/// `humanize`: SI prefixes, four significant digits.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    if v.abs() >= 1.0 {
        let mut prefix = "";
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
        return format!("{}{}", g4(v), prefix);
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{}", g4(v), prefix)
}

/// `humanize1024`: binary prefixes (ki, Mi, ...).
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return g4(v);
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{}", g4(v), prefix)
}

/// `humanizeDuration`: seconds as `1d 2h 3m 4s`, or `1.234s`, `100ms`.
pub fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return g4(v);
    }
    if v == 0.0 {
        return format!("{}s", g4(v));
    }
    if v.abs() >= 1.0 {
        let (sign, v) = if v < 0.0 { ("-", -v) } else { ("", v) };
        let d = v as i64;
        let (secs, mins, hours, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        // From minutes up the seconds are whole.
        if days != 0 {
            return format!("{sign}{days}d {hours}h {mins}m {secs}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {mins}m {secs}s");
        }
        if mins != 0 {
            return format!("{sign}{mins}m {secs}s");
        }
        return format!("{sign}{}s", g4(v));
    }
    let mut v = v;
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{}s", g4(v), prefix)
}

/// Prometheus's `FloatToTime`: Unix seconds to a UTC time, truncated to
/// milliseconds as Prometheus's `model.Time` does.
pub(crate) fn float_to_time(v: f64) -> Result<Value, String> {
    if !v.is_finite() {
        return Err("value is NaN or Inf".into());
    }
    let ns = v * 1e9;
    if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v, 'g', None)
        ));
    }
    let ms = (ns as i64) / 1_000_000;
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| format!("{} is out of range", format_float(v, 'g', None)))?;
    Ok(Value::Time(t.fixed_offset()))
}

/// `humanizeTimestamp`: Unix seconds printed as Go prints a UTC time.
pub fn humanize_timestamp(v: &Value) -> Result<String, String> {
    if let Value::Time(t) = v {
        return Ok(super::gotime::time_string(t));
    }
    let f = convert_to_float(v)?;
    if !f.is_finite() {
        return Ok(g4(f));
    }
    Ok(format_value(&float_to_time(f)?))
}

/// Prometheus's duration syntax (`1h30m`, `5m`, `1d`, `-10s`) in seconds.
pub fn parse_prom_duration(s: &str) -> Result<f64, String> {
    let invalid = || format!("not a valid duration string: {}", super::go_quote(s));
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    if body == "0" {
        return Ok(0.0);
    }
    // Units must appear largest first, each at most once.
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = body;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit = if rest.starts_with("ms") {
            "ms"
        } else {
            rest.get(..1).ok_or_else(invalid)?
        };
        let Some(i) = UNITS[next_unit..].iter().position(|(u, _)| *u == unit) else {
            return Err(invalid());
        };
        let i = next_unit + i;
        next_unit = i + 1;
        total = n
            .checked_mul(UNITS[i].1)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(|| "duration out of range".to_string())?;
        rest = &rest[unit.len()..];
    }
    let secs = total as f64 / 1000.0;
    Ok(if neg { -secs } else { secs })
}

/// Go's `cases.Title`: the first letter of each word upper-cased; with
/// `lower_rest` the other letters lower-cased (Alertmanager), without it
/// left alone (Prometheus uses `cases.NoLower`).
pub fn title_case(s: &str, lower_rest: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        // Apostrophes and underscores continue a word ("don't", "a_b").
        let word_char = c.is_alphanumeric() || (in_word && (c == '\'' || c == '_'));
        if word_char && !in_word {
            out.extend(c.to_uppercase());
        } else if word_char && lower_rest {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        in_word = word_char;
    }
    out
}

/// Go's `net.SplitHostPort`.
pub(crate) fn split_host_port(hp: &str) -> Option<(String, String)> {
    let i = hp.rfind(':')?;
    let host = if let Some(stripped) = hp.strip_prefix('[') {
        let end = stripped.find(']')? + 1;
        if end + 1 != i {
            return None;
        }
        &hp[1..end]
    } else {
        let h = &hp[..i];
        if h.contains(':') {
            return None;
        }
        h
    };
    let port = &hp[i + 1..];
    if host.contains(['[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

fn url_path(u: &str) -> String {
    let after_scheme = match u.find("://") {
        Some(i) => &u[i + 3..],
        None => return u.split(['?', '#']).next().unwrap_or("").to_string(),
    };
    match after_scheme.find('/') {
        Some(i) => after_scheme[i..]
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .to_string(),
        None => String::new(),
    }
}

pub(crate) fn func(f: impl Fn(&[Value]) -> Result<Value, String> + Send + Sync + 'static) -> Func {
    Arc::new(f)
}

/// Adds the string and regexp functions Prometheus and Alertmanager share.
pub(crate) fn insert_common(fs: &mut Funcs, lower_title: bool) {
    fs.insert_with_arity(
        "toUpper",
        1,
        false,
        func(|a| Ok(Value::Str(args::string(a, 0)?.to_uppercase()))),
    );
    fs.insert_with_arity(
        "toLower",
        1,
        false,
        func(|a| Ok(Value::Str(args::string(a, 0)?.to_lowercase()))),
    );
    fs.insert_with_arity(
        "title",
        1,
        false,
        func(move |a| Ok(Value::Str(title_case(args::string(a, 0)?, lower_title)))),
    );
    fs.insert_with_arity(
        "match",
        2,
        false,
        func(|a| {
            let re = regex::Regex::new(args::string(a, 0)?)
                .map_err(|e| format!("error parsing regexp: {e}"))?;
            Ok(Value::Bool(re.is_match(args::string(a, 1)?)))
        }),
    );
    fs.insert_with_arity(
        "reReplaceAll",
        3,
        false,
        func(|a| {
            let pattern = args::string(a, 0)?;
            let re = regex::Regex::new(pattern)
                .map_err(|e| format!("regexp: Compile({}): {e}", super::go_quote(pattern)))?;
            let repl = args::string(a, 1)?;
            Ok(Value::Str(
                re.replace_all(args::string(a, 2)?, repl).into_owned(),
            ))
        }),
    );
    fs.insert_with_arity(
        "safeHtml",
        1,
        false,
        func(|a| Ok(Value::Str(args::string(a, 0)?.to_string()))),
    );
}

fn sample_arg(a: &[Value], i: usize) -> Result<&Arc<dyn Object>, String> {
    match &a[i] {
        Value::Object(o) if o.type_name() == "*template.sample" => Ok(o),
        v => Err(type_error("*template.sample", v)),
    }
}

fn sample_label(o: &Arc<dyn Object>, name: &str) -> String {
    match o.field("Labels") {
        Some(Value::Object(m)) => match m.map_key(name) {
            Some(Some(Value::Str(s))) => s,
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// Prometheus's template functions for one evaluation.
pub fn prometheus_funcs(ctx: PromContext) -> Funcs {
    let mut fs = Funcs::new();
    insert_common(&mut fs, false);
    let q = ctx.query.clone();
    fs.insert_with_arity(
        "query",
        1,
        false,
        func(move |a| {
            let samples = q(args::string(a, 0)?)?;
            Ok(Value::List(samples.iter().map(sample_value).collect()))
        }),
    );
    fs.insert_with_arity(
        "first",
        1,
        false,
        func(|a| match &a[0] {
            Value::List(l) => l
                .first()
                .cloned()
                .ok_or_else(|| "first() called on vector with no elements".to_string()),
            v => Err(type_error("template.queryResult", v)),
        }),
    );
    fs.insert_with_arity(
        "label",
        2,
        false,
        func(|a| {
            let name = args::string(a, 0)?;
            Ok(Value::Str(sample_label(sample_arg(a, 1)?, name)))
        }),
    );
    fs.insert_with_arity(
        "value",
        1,
        false,
        func(|a| Ok(sample_arg(a, 0)?.field("Value").unwrap_or(Value::Nil))),
    );
    fs.insert_with_arity(
        "strvalue",
        1,
        false,
        func(|a| Ok(Value::Str(sample_label(sample_arg(a, 0)?, "__value__")))),
    );
    fs.insert_with_arity(
        "sortByLabel",
        2,
        false,
        func(|a| {
            let name = args::string(a, 0)?;
            let Value::List(l) = &a[1] else {
                return Err(type_error("template.queryResult", &a[1]));
            };
            let mut keyed: Vec<(String, Value)> = l
                .iter()
                .map(|v| {
                    let key = match v {
                        Value::Object(o) => sample_label(o, name),
                        _ => String::new(),
                    };
                    (key, v.clone())
                })
                .collect();
            // Stable, as Prometheus's sort.Stable.
            keyed.sort_by(|x, y| x.0.cmp(&y.0));
            Ok(Value::List(keyed.into_iter().map(|(_, v)| v).collect()))
        }),
    );
    fs.insert_with_arity(
        "args",
        0,
        true,
        func(|a| {
            Ok(Value::Map(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| (format!("arg{i}"), v.clone()))
                    .collect(),
            ))
        }),
    );
    // The expression browser's graph (tab 0) and table (tab 1) views.
    for (name, tab) in [("graphLink", 0), ("tableLink", 1)] {
        fs.insert_with_arity(
            name,
            1,
            false,
            func(move |a| {
                Ok(Value::Str(format!(
                    "/graph?g0.expr={}&g0.tab={tab}",
                    query_escape(args::string(a, 0)?)
                )))
            }),
        );
    }
    fs.insert_with_arity(
        "stripPort",
        1,
        false,
        func(|a| {
            let hp = args::string(a, 0)?;
            Ok(Value::Str(
                split_host_port(hp).map_or_else(|| hp.to_string(), |(h, _)| h),
            ))
        }),
    );
    fs.insert_with_arity(
        "stripDomain",
        1,
        false,
        func(|a| {
            let hp = args::string(a, 0)?;
            let (host, port) =
                split_host_port(hp).unwrap_or_else(|| (hp.to_string(), String::new()));
            if host.parse::<std::net::IpAddr>().is_ok() {
                return Ok(Value::Str(hp.to_string()));
            }
            let short = host.split('.').next().unwrap_or("").to_string();
            Ok(Value::Str(if port.is_empty() {
                short
            } else if short.contains(':') {
                format!("[{short}]:{port}")
            } else {
                format!("{short}:{port}")
            }))
        }),
    );
    let num =
        |f: fn(f64) -> String| func(move |a: &[Value]| Ok(Value::Str(f(convert_to_float(&a[0])?))));
    fs.insert_with_arity("humanize", 1, false, num(humanize));
    fs.insert_with_arity("humanize1024", 1, false, num(humanize1024));
    fs.insert_with_arity("humanizeDuration", 1, false, num(humanize_duration));
    fs.insert_with_arity(
        "humanizePercentage",
        1,
        false,
        num(|v| sprintf("%.4g%%", &[Value::Float(v * 100.0)])),
    );
    fs.insert_with_arity(
        "humanizeTimestamp",
        1,
        false,
        func(|a| humanize_timestamp(&a[0]).map(Value::Str)),
    );
    fs.insert_with_arity(
        "toTime",
        1,
        false,
        func(|a| float_to_time(convert_to_float(&a[0])?)),
    );
    fs.insert_with_arity(
        "toDuration",
        1,
        false,
        func(|a| {
            let v = convert_to_float(&a[0])?;
            if !v.is_finite() {
                return Err("value is NaN or Inf".into());
            }
            Ok(Value::Duration((v * 1e9) as i64))
        }),
    );
    fs.insert_with_arity(
        "parseDuration",
        1,
        false,
        func(|a| parse_prom_duration(args::string(a, 0)?).map(Value::Float)),
    );
    let now = ctx.eval_time.timestamp_millis() as f64 / 1000.0;
    fs.insert_with_arity("now", 0, false, func(move |_| Ok(Value::Float(now))));
    let url = ctx.external_url.clone();
    fs.insert_with_arity(
        "externalURL",
        0,
        false,
        func(move |_| Ok(Value::Str(url.clone()))),
    );
    let path = url_path(&ctx.external_url);
    fs.insert_with_arity(
        "pathPrefix",
        0,
        false,
        func(move |_| Ok(Value::Str(path.clone()))),
    );
    fs
}
