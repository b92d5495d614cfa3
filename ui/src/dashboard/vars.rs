//! Template variables and the interpolation of `$var`, `${var}`,
//! `${var:format}` and `[[var]]` into queries, titles and legends, as
//! Grafana does it for a Prometheus data source: several values (or
//! "All") become a regular expression `(a|b)` with each value escaped;
//! built-ins `$__interval`, `$__rate_interval`, `$__range`, `$__from` …
//! come from the panel's time range and width. Also the time range
//! itself (`now-6h`, `now/d`, epoch milliseconds) and Grafana's interval
//! rounding.

use serde_json::Value;

/// The kinds of variable Grafana has that mean something here.
#[derive(Clone, Debug, PartialEq)]
pub enum VarKind {
    /// Values from the server: `label_values(…)`, `label_names()`,
    /// `metrics(…)`, `query_result(…)`, filtered by `regex`, sorted by `sort`.
    Query {
        query: String,
        regex: String,
        sort: u64,
    },
    /// Comma-separated values (`a,b` or `text : value`).
    Custom(String),
    Constant(String),
    /// Intervals (`1m,10m,1h`), with an `auto` option.
    Interval {
        query: String,
        auto: bool,
        auto_count: f64,
        auto_min: String,
    },
    TextBox(String),
    /// The data source variable: one option, pharos itself.
    Datasource,
    Other,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    pub name: String,
    pub label: String,
    pub kind: VarKind,
    pub multi: bool,
    pub include_all: bool,
    pub all_value: Option<String>,
    /// 0: label and picker; 1: picker only; 2: hidden.
    pub hide: u64,
    /// `(text, value)` of each option (without "All").
    pub options: Vec<(String, String)>,
    /// The chosen values; `["$__all"]` for "All".
    pub current: Vec<String>,
}

pub const ALL: &str = "$__all";

fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// The variables of a dashboard's `templating.list`.
pub fn parse(doc: &Value) -> Vec<Variable> {
    let list = doc
        .get("templating")
        .and_then(|t| t.get("list"))
        .and_then(Value::as_array);
    list.into_iter()
        .flatten()
        .map(|v| {
            let query = match v.get("query") {
                Some(Value::Object(_)) => s(v.get("query").unwrap(), "query"),
                _ => s(v, "query"),
            };
            let kind = match s(v, "type").as_str() {
                "query" => VarKind::Query {
                    query: if query.is_empty() {
                        s(v, "definition")
                    } else {
                        query.clone()
                    },
                    regex: s(v, "regex"),
                    sort: v.get("sort").and_then(Value::as_u64).unwrap_or(0),
                },
                "custom" => VarKind::Custom(query.clone()),
                "constant" => VarKind::Constant(query.clone()),
                "interval" => VarKind::Interval {
                    query: query.clone(),
                    auto: v.get("auto").and_then(Value::as_bool).unwrap_or(false),
                    auto_count: v.get("auto_count").and_then(Value::as_f64).unwrap_or(30.0),
                    auto_min: Some(s(v, "auto_min"))
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "10s".into()),
                },
                "textbox" => VarKind::TextBox(query.clone()),
                "datasource" => VarKind::Datasource,
                _ => VarKind::Other,
            };
            let current = current_values(v.get("current"));
            let mut var = Variable {
                name: s(v, "name"),
                label: s(v, "label"),
                kind,
                multi: v.get("multi").and_then(Value::as_bool).unwrap_or(false),
                include_all: v
                    .get("includeAll")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                all_value: Some(s(v, "allValue")).filter(|a| !a.is_empty()),
                hide: v.get("hide").and_then(Value::as_u64).unwrap_or(0),
                options: Vec::new(),
                current,
            };
            var.options = static_options(&var);
            var
        })
        .collect()
}

fn current_values(c: Option<&Value>) -> Vec<String> {
    match c.and_then(|c| c.get("value")) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The options of variables that need no server: custom, constant,
/// interval, text box, data source.
pub fn static_options(v: &Variable) -> Vec<(String, String)> {
    let split = |q: &str| -> Vec<(String, String)> {
        // Commas separate options, except escaped ones (`\,`).
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut chars = q.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&',') => {
                    cur.push(',');
                    chars.next();
                }
                ',' => out.push(std::mem::take(&mut cur)),
                c => cur.push(c),
            }
        }
        out.push(cur);
        out.into_iter()
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .map(|o| match o.split_once(" : ") {
                Some((t, v)) => (t.trim().to_string(), v.trim().to_string()),
                None => (o.clone(), o),
            })
            .collect()
    };
    match &v.kind {
        VarKind::Custom(q) => split(q),
        VarKind::Interval { query, auto, .. } => {
            let mut o = split(query);
            if *auto {
                o.insert(0, ("auto".into(), "$__auto_interval".into()));
            }
            o
        }
        VarKind::Constant(q) | VarKind::TextBox(q) => vec![(q.clone(), q.clone())],
        VarKind::Datasource => vec![("pharos".into(), "pharos".into())],
        _ => Vec::new(),
    }
}

impl Variable {
    /// Keeps the chosen values that are still options, else picks the
    /// first option (or "All" when offered and nothing was chosen), as
    /// Grafana does after options change.
    pub fn settle(&mut self) {
        if matches!(self.kind, VarKind::TextBox(_) | VarKind::Constant(_)) {
            if self.current.is_empty() || matches!(self.kind, VarKind::Constant(_)) {
                self.current = self.options.iter().map(|o| o.1.clone()).take(1).collect();
            }
            return;
        }
        if self.current.iter().any(|c| c == ALL) && self.include_all {
            self.current = vec![ALL.into()];
            return;
        }
        let values: Vec<&String> = self.options.iter().map(|o| &o.1).collect();
        self.current.retain(|c| values.contains(&c));
        if !self.multi {
            self.current.truncate(1);
        }
        if self.current.is_empty() {
            self.current = match self.options.first() {
                Some(o) => vec![o.1.clone()],
                None if self.include_all => vec![ALL.into()],
                None => Vec::new(),
            };
        }
    }

    /// The values the current choice stands for ("All": every option).
    pub fn values(&self) -> Vec<String> {
        if self.current.iter().any(|c| c == ALL) {
            self.options.iter().map(|o| o.1.clone()).collect()
        } else {
            self.current.clone()
        }
    }

    /// What the picker shows.
    pub fn text(&self) -> String {
        if self.current.iter().any(|c| c == ALL) {
            return "All".into();
        }
        self.current
            .iter()
            .map(|c| {
                self.options
                    .iter()
                    .find(|o| &o.1 == c)
                    .map_or(c.clone(), |o| o.0.clone())
            })
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// The variable's value as a query sees it: `format` given (`raw`,
    /// `regex`, `pipe`, `csv`, `json`, `doublequote`, `singlequote`,
    /// `glob`, `text`, `queryparam`) or Prometheus's default — several
    /// values or "All" as an escaped regular expression.
    pub fn formatted(&self, format: Option<&str>) -> String {
        let is_all = self.current.iter().any(|c| c == ALL);
        if is_all && format.is_none() {
            if let Some(a) = &self.all_value {
                return a.clone();
            }
        }
        let values = self.values();
        match format {
            Some("raw") => values.join(","),
            Some("regex") => {
                let e: Vec<String> = values.iter().map(|v| regex_escape(v)).collect();
                if e.len() == 1 {
                    e[0].clone()
                } else {
                    format!("({})", e.join("|"))
                }
            }
            Some("pipe") => values.join("|"),
            Some("csv") => values.join(","),
            Some("json") => serde_json::to_string(&values).unwrap_or_default(),
            Some("doublequote") => values
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(","),
            Some("singlequote") => values
                .iter()
                .map(|v| format!("'{v}'"))
                .collect::<Vec<_>>()
                .join(","),
            Some("glob") if values.len() > 1 => format!("{{{}}}", values.join(",")),
            Some("text") => self.text(),
            Some("queryparam") => values
                .iter()
                .map(|v| format!("var-{}={v}", self.name))
                .collect::<Vec<_>>()
                .join("&"),
            _ if !self.multi && !self.include_all => values
                .first()
                .cloned()
                .unwrap_or_default()
                .replace('\\', "\\\\")
                .replace('\'', "\\\\'"),
            _ => {
                // In a PromQL string the regex escapes are escaped again.
                let e: Vec<String> = values
                    .iter()
                    .map(|v| {
                        let mut out = String::new();
                        for c in v.chars() {
                            match c {
                                '\\' => out.push_str("\\\\\\\\"),
                                '$' | '^' | '*' | '{' | '}' | '[' | ']' | '\'' | '+' | '?'
                                | '.' | '(' | ')' | '|' => {
                                    out.push_str("\\\\");
                                    out.push(c);
                                }
                                c => out.push(c),
                            }
                        }
                        out
                    })
                    .collect();
                match e.len() {
                    1 => e[0].clone(),
                    _ => format!("({})", e.join("|")),
                }
            }
        }
    }
}

/// Escapes the characters of a regular expression.
pub fn regex_escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        if "\\^$.|?*+()[]{}/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Replaces every variable reference in `text`: `lookup(name, format)`
/// answers for each name (variables and built-ins); unknown names stay.
pub fn interpolate(text: &str, lookup: &dyn Fn(&str, Option<&str>) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    let word = |from: usize| {
        let mut j = from;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    while i < b.len() {
        // `${name}`, `${name:format}`
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            if let Some(close) = text[i + 2..].find('}') {
                let inner = &text[i + 2..i + 2 + close];
                let (name, fmt) = match inner.split_once(':') {
                    Some((n, f)) => (n, Some(f)),
                    None => (inner, None),
                };
                if let Some(v) = lookup(name, fmt) {
                    out.push_str(&v);
                    i += close + 3;
                    continue;
                }
            }
        } else if b[i] == b'$' {
            let j = word(i + 1);
            if j > i + 1 {
                if let Some(v) = lookup(&text[i + 1..j], None) {
                    out.push_str(&v);
                    i = j;
                    continue;
                }
            }
        } else if b[i] == b'[' && b.get(i + 1) == Some(&b'[') {
            if let Some(close) = text[i + 2..].find("]]") {
                let inner = &text[i + 2..i + 2 + close];
                let (name, fmt) = match inner.split_once(':') {
                    Some((n, f)) => (n, Some(f)),
                    None => (inner, None),
                };
                if let Some(v) = lookup(name, fmt) {
                    out.push_str(&v);
                    i += close + 4;
                    continue;
                }
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The names of the variables `text` refers to (for chaining: a variable
/// whose query names another is re-read when that one changes).
pub fn references(text: &str, names: &[String]) -> Vec<String> {
    let seen = std::cell::RefCell::new(Vec::new());
    interpolate(text, &|n, _| {
        if names.iter().any(|x| x == n) {
            seen.borrow_mut().push(n.to_string());
        }
        None
    });
    seen.into_inner()
}

/// A time of Grafana's time picker in Unix seconds: `now`, `now-6h`,
/// `now/d` (rounded down; `to` rounds up to the end), epoch milliseconds,
/// or an ISO date the browser reads.
pub fn parse_time(s: &str, now: f64, round_up: bool) -> Option<f64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<f64>() {
        return Some(ms / 1000.0);
    }
    let Some(mut rest) = s.strip_prefix("now") else {
        #[cfg(target_arch = "wasm32")]
        {
            let ms = js_sys::Date::parse(s);
            return (!ms.is_nan()).then_some(ms / 1000.0);
        }
        #[cfg(not(target_arch = "wasm32"))]
        return None;
    };
    let mut t = now;
    while !rest.is_empty() {
        let op = rest.as_bytes()[0];
        rest = &rest[1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: f64 = if digits == 0 {
            1.0
        } else {
            rest[..digits].parse().ok()?
        };
        rest = &rest[digits..];
        let unit = rest.chars().next()?;
        rest = &rest[unit.len_utf8()..];
        let secs = unit_seconds(unit)?;
        match op {
            b'-' => t -= n * secs,
            b'+' => t += n * secs,
            b'/' => {
                // Rounded to the unit (UTC; weeks start on Monday).
                let offset = if unit == 'w' { 4.0 * 86400.0 } else { 0.0 };
                let start = ((t - offset) / secs).floor() * secs + offset;
                t = if round_up {
                    start + secs - 0.001
                } else {
                    start
                };
            }
            _ => return None,
        }
    }
    Some(t)
}

fn unit_seconds(unit: char) -> Option<f64> {
    Some(match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86400.0,
        'w' => 604800.0,
        'M' => 30.0 * 86400.0,
        'y' => 365.0 * 86400.0,
        _ => return None,
    })
}

/// A duration such as `15s`, `1m30s`, `500ms`, `2h`, in seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (secs, len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else {
            let c = rest.chars().next()?;
            (unit_seconds(c)?, c.len_utf8())
        };
        total += n * secs;
        rest = &rest[len..];
    }
    Some(total)
}

/// Grafana's `roundInterval`: the nice interval nearest below-ish `secs`.
pub fn round_interval(secs: f64) -> f64 {
    let ms = secs * 1000.0;
    const TABLE: &[(f64, f64)] = &[
        (15.0, 10.0),
        (35.0, 20.0),
        (75.0, 50.0),
        (150.0, 100.0),
        (350.0, 200.0),
        (750.0, 500.0),
        (1500.0, 1000.0),
        (3500.0, 2000.0),
        (7500.0, 5000.0),
        (12500.0, 10000.0),
        (17500.0, 15000.0),
        (25000.0, 20000.0),
        (45000.0, 30000.0),
        (90000.0, 60000.0),
        (210000.0, 120000.0),
        (450000.0, 300000.0),
        (750000.0, 600000.0),
        (1050000.0, 900000.0),
        (1500000.0, 1200000.0),
        (2700000.0, 1800000.0),
        (5400000.0, 3600000.0),
        (9000000.0, 7200000.0),
        (16200000.0, 10800000.0),
        (32400000.0, 21600000.0),
        (86400000.0, 43200000.0),
        (604800000.0, 86400000.0),
        (1814400000.0, 604800000.0),
        (3628800000.0, 2592000000.0),
    ];
    for &(below, round) in TABLE {
        if ms < below {
            return round / 1000.0;
        }
    }
    31536000.0
}

/// A duration as PromQL reads it, exactly: `15s`, `1m`, `1m15s`, `500ms`.
pub fn format_duration(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, len) in [
        ("d", 86_400_000u64),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if rest >= len {
            out.push_str(&format!("{}{unit}", rest / len));
            rest %= len;
        }
    }
    out
}

/// The step of a panel's queries and the built-ins derived from it.
#[derive(Clone, Debug, PartialEq)]
pub struct Interval {
    /// `$__interval` in seconds (the query step).
    pub step: f64,
    /// `$__rate_interval` in seconds.
    pub rate: f64,
}

/// Grafana's interval for a panel: the range over the data points it has
/// room for (its width in pixels, or `maxDataPoints`), rounded, never
/// under the panel's minimum interval or the scrape interval; and
/// `$__rate_interval` = max(interval + scrape, 4 × scrape). Queries over
/// more than 11 000 steps get a longer step, as Prometheus refuses them.
pub fn interval(range: f64, points: f64, min: Option<f64>, scrape: f64) -> Interval {
    let low = min.unwrap_or(scrape);
    let mut step = round_interval(range / points.max(1.0)).max(low);
    if range / step > 11000.0 {
        step = (range / 11000.0).ceil();
    }
    Interval {
        step,
        rate: (step + scrape).max(4.0 * scrape),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn var(multi: bool, all: bool, options: &[&str], current: &[&str]) -> Variable {
        Variable {
            name: "v".into(),
            label: String::new(),
            kind: VarKind::Custom(options.join(",")),
            multi,
            include_all: all,
            all_value: None,
            hide: 0,
            options: options
                .iter()
                .map(|o| (o.to_string(), o.to_string()))
                .collect(),
            current: current.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn prometheus_formatting_of_values() {
        assert_eq!(var(false, false, &["a.b"], &["a.b"]).formatted(None), "a.b");
        assert_eq!(
            var(true, false, &["a.b", "c"], &["a.b"]).formatted(None),
            "a\\\\.b"
        );
        assert_eq!(
            var(true, false, &["a", "b"], &["a", "b"]).formatted(None),
            "(a|b)"
        );
        let mut all = var(false, true, &["x", "y"], &[ALL]);
        assert_eq!(all.formatted(None), "(x|y)");
        all.all_value = Some(".*".into());
        assert_eq!(all.formatted(None), ".*");
        assert_eq!(all.formatted(Some("csv")), "x,y");
        assert_eq!(all.text(), "All");
    }

    #[test]
    fn interpolation_syntaxes() {
        let look = |n: &str, f: Option<&str>| match (n, f) {
            ("node", None) => Some("host:9100".to_string()),
            ("node", Some(f)) => Some(format!("<{f}>")),
            ("__rate_interval", None) => Some("1m".to_string()),
            _ => None,
        };
        assert_eq!(
            interpolate(
                "rate(x{instance=\"$node\"}[$__rate_interval]) ${node:raw} [[node]] $nope",
                &look
            ),
            "rate(x{instance=\"host:9100\"}[1m]) <raw> host:9100 $nope"
        );
        let names = vec!["job".to_string(), "node".to_string()];
        assert_eq!(
            references("label_values(up{job=\"$job\", x=\"${node}\"}, i)", &names),
            ["job", "node"]
        );
    }

    #[test]
    fn variables_read_from_a_dashboard() {
        let doc = json!({"templating": {"list": [
            {"name": "ds", "type": "datasource", "query": "prometheus"},
            {"name": "job", "type": "query", "query": {"query": "label_values(up, job)"}, "sort": 1,
             "current": {"text": "node", "value": "node"}},
            {"name": "iv", "type": "interval", "query": "1m,10m", "auto": true},
            {"name": "c", "type": "custom", "query": "one : 1,two : 2, three", "multi": true,
             "includeAll": true, "current": {"value": ["$__all"]}}
        ]}});
        let vs = parse(&doc);
        assert_eq!(
            vs[0].options,
            [("pharos".to_string(), "pharos".to_string())]
        );
        assert!(
            matches!(&vs[1].kind, VarKind::Query { query, sort: 1, .. } if query == "label_values(up, job)")
        );
        assert_eq!(vs[1].current, ["node"]);
        assert_eq!(vs[2].options[0].1, "$__auto_interval");
        assert_eq!(vs[3].options[0], ("one".to_string(), "1".to_string()));
        assert_eq!(vs[3].options[2].1, "three");
        let mut c = vs[3].clone();
        c.settle();
        assert_eq!(c.values(), ["1", "2", "three"]);
        let mut j = vs[1].clone();
        j.options = vec![("a".into(), "a".into())];
        j.settle();
        assert_eq!(
            j.current,
            ["a"],
            "a value no longer offered falls back to the first"
        );
    }

    #[test]
    fn times_and_intervals() {
        let now = 1_700_000_000.0;
        assert_eq!(parse_time("now-6h", now, false), Some(now - 21600.0));
        assert_eq!(parse_time("now", now, false), Some(now));
        assert_eq!(parse_time("1600000000000", now, false), Some(1.6e9));
        assert_eq!(parse_time("now/d", now, false), Some(1_699_920_000.0));
        assert_eq!(
            parse_time("now-1d/d", now, true),
            Some(1_699_920_000.0 - 0.001)
        );
        assert_eq!(parse_time("later", now, false), None);
        assert_eq!(parse_duration("1m30s"), Some(90.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(format_duration(75.0), "1m15s");
        assert_eq!(format_duration(0.5), "500ms");
        // 24 h over 1000 px: 86.4 s rounds to 1 m; rate interval 4 × 15 s… or 75 s.
        let i = interval(86400.0, 1000.0, None, 15.0);
        assert_eq!(
            i,
            Interval {
                step: 60.0,
                rate: 75.0
            }
        );
        let i = interval(3600.0, 1000.0, None, 15.0);
        assert_eq!(
            i,
            Interval {
                step: 15.0,
                rate: 60.0
            }
        );
        assert_eq!(interval(3600.0, 1000.0, Some(60.0), 15.0).step, 60.0);
        assert_eq!(interval(365.0 * 86400.0, 1e6, None, 1.0).step, 2867.0);
    }
}
