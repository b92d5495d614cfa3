//! Alertmanager's notification templates: its default functions
//! ([`alertmanager_funcs`], Alertmanager's `DefaultFuncs`), its data model
//! ([`AmData`], [`AmAlert`] and, as template objects, `Alerts`, `KV`,
//! `Pairs`, `Pair` with their Go methods), and its built-in templates
//! `default.tmpl` and `email.tmpl` ([`default_alertmanager_template`]).
//!
//! The objects mirror Alertmanager's Go types closely because the default
//! templates call their methods: `.Alerts.Firing`, `.GroupLabels.SortedPairs`,
//! `.CommonLabels.Remove .GroupLabels.Names`. `SortedPairs` puts
//! `alertname` first, as Alertmanager does.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};

use super::args;
use super::gotime::{self, time_string};
use super::prometheus::{convert_to_float, func, humanize_duration, insert_common};
use super::value::{json_string, to_json, Object, Value};
use super::{Funcs, Template};

const DEFAULT_TMPL: &str = include_str!("default.tmpl");
const EMAIL_TMPL: &str = include_str!("email.tmpl");

/// The data passed to notification templates (Alertmanager's
/// `template.Data`).
#[derive(Clone, Debug, Default)]
pub struct AmData {
    pub receiver: String,
    /// `firing` if any alert fires, else `resolved`.
    pub status: String,
    pub alerts: Vec<AmAlert>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: String,
}

/// One alert of a notification (Alertmanager's `template.Alert`).
#[derive(Clone, Debug)]
pub struct AmAlert {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: DateTime<FixedOffset>,
    /// Go's zero time (`0001-01-01 00:00:00 +0000 UTC`) when unset.
    pub ends_at: DateTime<FixedOffset>,
    pub generator_url: String,
    pub fingerprint: String,
}

/// Go's `regexp.QuoteMeta`, which Alertmanager applies to receiver names.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn common(maps: impl Iterator<Item = BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let mut it = maps;
    let Some(mut acc) = it.next() else {
        return BTreeMap::new();
    };
    for m in it {
        acc.retain(|k, v| m.get(k) == Some(v));
    }
    acc
}

impl AmData {
    /// Assembles the data as Alertmanager's `Template.Data` does: the
    /// receiver name regexp-quoted, the status from the alerts, and the
    /// labels and annotations all alerts share.
    pub fn from_alerts(
        receiver: &str,
        group_labels: BTreeMap<String, String>,
        alerts: Vec<AmAlert>,
        external_url: &str,
    ) -> AmData {
        let status = if alerts.iter().any(|a| a.status == "firing") {
            "firing"
        } else {
            "resolved"
        };
        AmData {
            receiver: quote_meta(receiver),
            status: status.to_string(),
            common_labels: common(alerts.iter().map(|a| a.labels.clone())),
            common_annotations: common(alerts.iter().map(|a| a.annotations.clone())),
            alerts,
            group_labels,
            external_url: external_url.to_string(),
        }
    }

    /// The value templates see as dot.
    pub fn to_value(&self) -> Value {
        Value::object(DataObj(Arc::new(self.clone())))
    }
}

impl AmAlert {
    /// The value templates see for one alert.
    pub fn to_value(&self) -> Value {
        Value::object(AlertObj(Arc::new(self.clone())))
    }
}

#[derive(Debug)]
struct DataObj(Arc<AmData>);

impl Object for DataObj {
    fn field(&self, name: &str) -> Option<Value> {
        let d = &self.0;
        Some(match name {
            "Receiver" => Value::Str(d.receiver.clone()),
            "Status" => Value::Str(d.status.clone()),
            "Alerts" => Value::object(AlertsObj(d.alerts.clone())),
            "GroupLabels" => kv(&d.group_labels),
            "CommonLabels" => kv(&d.common_labels),
            "CommonAnnotations" => kv(&d.common_annotations),
            "ExternalURL" => Value::Str(d.external_url.clone()),
            _ => return None,
        })
    }
    fn type_name(&self) -> String {
        "*template.Data".into()
    }
    fn display(&self) -> Option<String> {
        let d = &self.0;
        let alerts: Vec<String> = d.alerts.iter().map(alert_display).collect();
        Some(format!(
            "&{{{} {} [{}] {} {} {} {}}}",
            d.receiver,
            d.status,
            alerts.join(" "),
            kv_string(&d.group_labels),
            kv_string(&d.common_labels),
            kv_string(&d.common_annotations),
            d.external_url
        ))
    }
    fn to_json(&self) -> Option<String> {
        let d = &self.0;
        let mut o = String::from("{\"receiver\":");
        json_string(&mut o, &d.receiver);
        o.push_str(",\"status\":");
        json_string(&mut o, &d.status);
        o.push_str(",\"alerts\":[");
        for (i, a) in d.alerts.iter().enumerate() {
            if i > 0 {
                o.push(',');
            }
            o.push_str(&alert_json(a));
        }
        o.push_str("],\"groupLabels\":");
        o.push_str(&map_json(&d.group_labels));
        o.push_str(",\"commonLabels\":");
        o.push_str(&map_json(&d.common_labels));
        o.push_str(",\"commonAnnotations\":");
        o.push_str(&map_json(&d.common_annotations));
        o.push_str(",\"externalURL\":");
        json_string(&mut o, &d.external_url);
        o.push('}');
        Some(o)
    }
}

fn map_json(m: &BTreeMap<String, String>) -> String {
    let mut o = String::from("{");
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 {
            o.push(',');
        }
        json_string(&mut o, k);
        o.push(':');
        json_string(&mut o, v);
    }
    o.push('}');
    o
}

fn alert_json(a: &AmAlert) -> String {
    let mut o = String::from("{\"status\":");
    json_string(&mut o, &a.status);
    o.push_str(",\"labels\":");
    o.push_str(&map_json(&a.labels));
    o.push_str(",\"annotations\":");
    o.push_str(&map_json(&a.annotations));
    o.push_str(",\"startsAt\":");
    o.push_str(&to_json(&Value::Time(a.starts_at)).unwrap_or_default());
    o.push_str(",\"endsAt\":");
    o.push_str(&to_json(&Value::Time(a.ends_at)).unwrap_or_default());
    o.push_str(",\"generatorURL\":");
    json_string(&mut o, &a.generator_url);
    o.push_str(",\"fingerprint\":");
    json_string(&mut o, &a.fingerprint);
    o.push('}');
    o
}

/// Go prints a struct field by field; KV fields use KV's String method.
fn alert_display(a: &AmAlert) -> String {
    format!(
        "{{{} {} {} {} {} {} {}}}",
        a.status,
        kv_string(&a.labels),
        kv_string(&a.annotations),
        time_string(&a.starts_at),
        time_string(&a.ends_at),
        a.generator_url,
        a.fingerprint
    )
}

/// Alertmanager's `Alerts`: a list with `.Firing` and `.Resolved`.
#[derive(Debug)]
struct AlertsObj(Vec<AmAlert>);

impl AlertsObj {
    fn with_status(&self, status: &str) -> Value {
        Value::List(
            self.0
                .iter()
                .filter(|a| a.status == status)
                .map(AmAlert::to_value)
                .collect(),
        )
    }
}

impl Object for AlertsObj {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Firing" => Some(self.with_status("firing")),
            "Resolved" => Some(self.with_status("resolved")),
            _ => None,
        }
    }
    fn type_name(&self) -> String {
        "template.Alerts".into()
    }
    fn as_list(&self) -> Option<Vec<Value>> {
        Some(self.0.iter().map(AmAlert::to_value).collect())
    }
    fn len(&self) -> Option<usize> {
        Some(self.0.len())
    }
    fn display(&self) -> Option<String> {
        let items: Vec<String> = self.0.iter().map(alert_display).collect();
        Some(format!("[{}]", items.join(" ")))
    }
    fn to_json(&self) -> Option<String> {
        let items: Vec<String> = self.0.iter().map(alert_json).collect();
        Some(format!("[{}]", items.join(",")))
    }
}

#[derive(Debug)]
struct AlertObj(Arc<AmAlert>);

impl Object for AlertObj {
    fn field(&self, name: &str) -> Option<Value> {
        let a = &self.0;
        Some(match name {
            "Status" => Value::Str(a.status.clone()),
            "Labels" => kv(&a.labels),
            "Annotations" => kv(&a.annotations),
            "StartsAt" => Value::Time(a.starts_at),
            "EndsAt" => Value::Time(a.ends_at),
            "GeneratorURL" => Value::Str(a.generator_url.clone()),
            "Fingerprint" => Value::Str(a.fingerprint.clone()),
            _ => return None,
        })
    }
    fn type_name(&self) -> String {
        "template.Alert".into()
    }
    fn display(&self) -> Option<String> {
        Some(alert_display(&self.0))
    }
    fn to_json(&self) -> Option<String> {
        Some(alert_json(&self.0))
    }
}

fn kv(m: &BTreeMap<String, String>) -> Value {
    Value::object(Kv(m.clone()))
}

/// Alertmanager's sort: `alertname` first, the rest by name.
fn sorted_pairs(m: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(m.len());
    if let Some(v) = m.get("alertname") {
        pairs.push(("alertname".to_string(), v.clone()));
    }
    pairs.extend(
        m.iter()
            .filter(|(k, _)| *k != "alertname")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    pairs
}

fn pairs_string(p: &[(String, String)]) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn kv_string(m: &BTreeMap<String, String>) -> String {
    pairs_string(&sorted_pairs(m))
}

/// Alertmanager's `KV` (`map[string]string` with methods).
#[derive(Debug)]
struct Kv(BTreeMap<String, String>);

impl Object for Kv {
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "SortedPairs" => Value::object(Pairs(sorted_pairs(&self.0))),
            "Names" => Value::str_list(sorted_pairs(&self.0).into_iter().map(|p| p.0)),
            "Values" => Value::str_list(sorted_pairs(&self.0).into_iter().map(|p| p.1)),
            "String" => Value::Str(kv_string(&self.0)),
            _ => return None,
        })
    }
    fn call(&self, name: &str, a: &[Value]) -> Option<Result<Value, String>> {
        match name {
            "Remove" => Some((|| {
                args::want("Remove", a, 1)?;
                let drop: BTreeSet<String> = args::strings(a, 0)?.into_iter().collect();
                let mut m = self.0.clone();
                m.retain(|k, _| !drop.contains(k));
                Ok(kv(&m))
            })()),
            "SortedPairs" | "Names" | "Values" | "String" => {
                Some(args::want(name, a, 0).map(|_| Value::Nil))
            }
            _ => None,
        }
    }
    fn type_name(&self) -> String {
        "template.KV".into()
    }
    fn display(&self) -> Option<String> {
        Some(kv_string(&self.0))
    }
    // Map behaviour is Go's map[string]string, as StringMap has it.
    fn as_map(&self) -> Option<BTreeMap<String, Value>> {
        super::value::string_map_entries(&self.0)
    }
    fn map_key(&self, key: &str) -> Option<Option<Value>> {
        super::value::string_map_key(&self.0, key)
    }
    fn map_zero(&self) -> Value {
        Value::Str(String::new())
    }
    fn len(&self) -> Option<usize> {
        Some(self.0.len())
    }
    fn to_json(&self) -> Option<String> {
        Some(map_json(&self.0))
    }
}

/// Alertmanager's `Pairs`: a list of `Pair` with `.Names` and `.Values`.
#[derive(Debug)]
struct Pairs(Vec<(String, String)>);

impl Object for Pairs {
    fn field(&self, name: &str) -> Option<Value> {
        Some(match name {
            "Names" => Value::str_list(self.0.iter().map(|p| p.0.clone())),
            "Values" => Value::str_list(self.0.iter().map(|p| p.1.clone())),
            "String" => Value::Str(pairs_string(&self.0)),
            _ => return None,
        })
    }
    fn type_name(&self) -> String {
        "template.Pairs".into()
    }
    fn display(&self) -> Option<String> {
        Some(pairs_string(&self.0))
    }
    fn as_list(&self) -> Option<Vec<Value>> {
        Some(
            self.0
                .iter()
                .map(|(n, v)| Value::object(Pair(n.clone(), v.clone())))
                .collect(),
        )
    }
    fn len(&self) -> Option<usize> {
        Some(self.0.len())
    }
    fn to_json(&self) -> Option<String> {
        let items: Vec<String> = self
            .0
            .iter()
            .map(|(n, v)| {
                let mut o = String::from("{\"Name\":");
                json_string(&mut o, n);
                o.push_str(",\"Value\":");
                json_string(&mut o, v);
                o.push('}');
                o
            })
            .collect();
        Some(format!("[{}]", items.join(",")))
    }
}

/// Alertmanager's `Pair`.
#[derive(Debug)]
struct Pair(String, String);

impl Object for Pair {
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Name" => Some(Value::Str(self.0.clone())),
            "Value" => Some(Value::Str(self.1.clone())),
            _ => None,
        }
    }
    fn type_name(&self) -> String {
        "template.Pair".into()
    }
    fn display(&self) -> Option<String> {
        Some(format!("{{{} {}}}", self.0, self.1))
    }
}

/// Go's `url.QueryUnescape`.
fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s
                    .get(i + 1..i + 3)
                    .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
                let Some(h) = hex else {
                    let bad: String = s[i..].chars().take(3).collect();
                    return Err(format!("invalid URL escape {}", super::go_quote(&bad)));
                };
                out.push(u8::from_str_radix(h, 16).expect("BUG: checked hex digits"));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `time.LoadLocation` for the names we can resolve without a zone
/// database: `UTC` (or empty) and `Local`.
fn load_location(name: &str, t: DateTime<FixedOffset>) -> Result<DateTime<FixedOffset>, String> {
    match name {
        "" | "UTC" => Ok(t.with_timezone(&Utc).fixed_offset()),
        "Local" => Ok(t.with_timezone(&chrono::Local).fixed_offset()),
        _ => Err(format!("unknown time zone {name}")),
    }
}

/// Alertmanager's `DefaultFuncs`.
pub fn alertmanager_funcs() -> Funcs {
    let mut fs = Funcs::new();
    insert_common(&mut fs, true);
    fs.insert_with_arity(
        "trimSpace",
        1,
        false,
        func(|a| Ok(Value::Str(args::string(a, 0)?.trim().to_string()))),
    );
    fs.insert_with_arity(
        "join",
        2,
        false,
        func(|a| {
            let sep = args::string(a, 0)?;
            Ok(Value::Str(args::strings(a, 1)?.join(sep)))
        }),
    );
    fs.insert_with_arity(
        "safeUrl",
        1,
        false,
        func(|a| Ok(Value::Str(args::string(a, 0)?.to_string()))),
    );
    fs.insert_with_arity(
        "urlUnescape",
        1,
        false,
        func(|a| query_unescape(args::string(a, 0)?).map(Value::Str)),
    );
    fs.insert_with_arity(
        "stringSlice",
        0,
        true,
        func(|a| {
            for (i, _) in a.iter().enumerate() {
                args::string(a, i)?;
            }
            Ok(Value::List(a.to_vec()))
        }),
    );
    fs.insert_with_arity(
        "date",
        2,
        false,
        func(|a| {
            let layout = args::string(a, 0)?;
            Ok(Value::Str(gotime::format(&args::time(a, 1)?, layout)))
        }),
    );
    fs.insert_with_arity(
        "tz",
        2,
        false,
        func(|a| load_location(args::string(a, 0)?, args::time(a, 1)?).map(Value::Time)),
    );
    fs.insert_with_arity(
        "since",
        1,
        false,
        func(|a| {
            let t = args::time(a, 0)?;
            let d = Utc::now().fixed_offset() - t;
            Ok(Value::Duration(d.num_nanoseconds().unwrap_or(i64::MAX)))
        }),
    );
    fs.insert_with_arity(
        "now",
        0,
        false,
        func(|_| Ok(Value::Time(Utc::now().fixed_offset()))),
    );
    fs.insert_with_arity(
        "humanizeDuration",
        1,
        false,
        func(|a| Ok(Value::Str(humanize_duration(convert_to_float(&a[0])?)))),
    );
    fs.insert_with_arity("toJson", 1, false, func(|a| to_json(&a[0]).map(Value::Str)));
    fs
}

/// Alertmanager's built-in templates (`default.tmpl` then `email.tmpl`,
/// as Alertmanager loads them), ready for user template files to be
/// [`Template::add`]ed on top.
pub fn default_alertmanager_template() -> Template {
    let funcs = alertmanager_funcs();
    let mut t = Template::parse("default.tmpl", DEFAULT_TMPL, &funcs)
        .expect("BUG: Alertmanager's default.tmpl must parse");
    t.add("email.tmpl", EMAIL_TMPL, &funcs)
        .expect("BUG: Alertmanager's email.tmpl must parse");
    t
}
