//! Grafana's field configuration: the defaults of a panel and the
//! overrides that change them for the series they match (by name, by a
//! regular expression over the name, by query). Both are the same list of
//! property ids (`unit`, `color`, `custom.fillOpacity`, …), so one
//! [`apply`] reads them. Also here: thresholds, value mappings and
//! Grafana's named colours.

use serde_json::Value;

/// One property the renderer understands; the rest are ignored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Field {
    pub unit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub decimals: Option<usize>,
    pub display_name: Option<String>,
    pub no_value: Option<String>,
    /// `mode` and `fixedColor` of `color`.
    pub color_mode: String,
    pub fixed_color: Option<String>,
    /// `percentage` thresholds count from min to max.
    pub thresholds_percent: bool,
    /// Steps in order; the first one's value is −∞.
    pub thresholds: Vec<(f64, String)>,
    pub mappings: Vec<Mapping>,
    pub fill_opacity: Option<f64>,
    pub line_width: Option<f64>,
    /// `custom.stacking.mode` when not `none`, and its group.
    pub stack: Option<(String, String)>,
    pub negative_y: bool,
    pub dash: Option<Vec<f64>>,
    pub hide_legend: bool,
    pub hide_tooltip: bool,
    pub hide_viz: bool,
    /// `bars` or `points` (default: lines).
    pub draw_style: String,
    pub soft_min: Option<f64>,
    pub soft_max: Option<f64>,
    /// Table columns.
    pub width: Option<f64>,
    pub align: Option<String>,
    pub hidden: bool,
    pub links: Vec<(String, String)>,
}

/// Which series an override applies to.
#[derive(Clone, Debug, PartialEq)]
pub enum Matcher {
    Name(String),
    Regexp(String),
    Names(Vec<String>),
    RefId(String),
    Never,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Override {
    pub matcher: Matcher,
    pub properties: Vec<(String, Value)>,
}

/// A value mapping: a value, a range, a special value or a pattern, shown
/// as a text and/or a colour.
#[derive(Clone, Debug, PartialEq)]
pub enum Mapping {
    Value(String, Shown),
    Range(Option<f64>, Option<f64>, Shown),
    /// `null`, `nan`, `null+nan`, `true`, `false`, `empty`.
    Special(String, Shown),
    Regex(String, Shown),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shown {
    pub text: Option<String>,
    pub color: Option<String>,
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str()?.parse().ok())
}

fn shown(v: &Value) -> Shown {
    Shown {
        text: v
            .get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        color: v.get("color").and_then(Value::as_str).map(str::to_string),
    }
}

/// Sets the property `id` (`unit`, `custom.fillOpacity`, …) from its JSON
/// value; `null` resets it where Grafana's would.
pub fn apply(f: &mut Field, id: &str, v: &Value) {
    match id {
        "unit" => f.unit = v.as_str().map(str::to_string),
        "min" => f.min = num(v),
        "max" => f.max = num(v),
        "decimals" => f.decimals = num(v).map(|d| d.clamp(0.0, 15.0) as usize),
        "displayName" => f.display_name = v.as_str().map(str::to_string),
        "noValue" => f.no_value = v.as_str().map(str::to_string),
        "color" => {
            f.color_mode = v
                .get("mode")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            f.fixed_color = v
                .get("fixedColor")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        "thresholds" => {
            f.thresholds_percent = v.get("mode").and_then(Value::as_str) == Some("percentage");
            f.thresholds = v
                .get("steps")
                .and_then(Value::as_array)
                .map(|steps| {
                    steps
                        .iter()
                        .map(|st| {
                            (
                                st.get("value").and_then(num).unwrap_or(f64::NEG_INFINITY),
                                st.get("color")
                                    .and_then(Value::as_str)
                                    .unwrap_or("green")
                                    .to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
        "mappings" => f.mappings = mappings(v),
        "links" => {
            f.links = v
                .as_array()
                .map(|ls| {
                    ls.iter()
                        .map(|l| {
                            let g = |k: &str| {
                                l.get(k).and_then(Value::as_str).unwrap_or("").to_string()
                            };
                            (g("title"), g("url"))
                        })
                        .collect()
                })
                .unwrap_or_default()
        }
        "custom.fillOpacity" => f.fill_opacity = num(v),
        "custom.lineWidth" => f.line_width = num(v),
        "custom.stacking" => {
            let mode = v.get("mode").and_then(Value::as_str).unwrap_or("none");
            f.stack = (mode != "none").then(|| {
                (
                    mode.to_string(),
                    v.get("group")
                        .and_then(Value::as_str)
                        .unwrap_or("A")
                        .to_string(),
                )
            });
        }
        "custom.transform" => f.negative_y = v.as_str() == Some("negative-Y"),
        "custom.lineStyle" => {
            f.dash = match v.get("fill").and_then(Value::as_str) {
                Some("dash") | Some("dot") => Some(
                    v.get("dash")
                        .and_then(Value::as_array)
                        .map(|d| d.iter().filter_map(num).collect())
                        .unwrap_or_else(|| vec![10.0, 10.0]),
                ),
                _ => None,
            }
        }
        "custom.hideFrom" => {
            let b = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
            f.hide_legend = b("legend");
            f.hide_tooltip = b("tooltip");
            f.hide_viz = b("viz");
        }
        "custom.drawStyle" => f.draw_style = v.as_str().unwrap_or("").to_string(),
        "custom.axisSoftMin" => f.soft_min = num(v),
        "custom.axisSoftMax" => f.soft_max = num(v),
        "custom.width" => f.width = num(v),
        "custom.align" => f.align = v.as_str().map(str::to_string),
        "custom.hidden" | "custom.hideFrom.viz" => f.hidden = v.as_bool().unwrap_or(false),
        _ => {}
    }
}

fn mappings(v: &Value) -> Vec<Mapping> {
    let mut out = Vec::new();
    for m in v.as_array().into_iter().flatten() {
        let opts = m.get("options").cloned().unwrap_or(Value::Null);
        match m.get("type") {
            Some(Value::String(t)) if t == "value" => {
                if let Value::Object(o) = &opts {
                    for (k, r) in o {
                        out.push(Mapping::Value(k.clone(), shown(r)));
                    }
                }
            }
            Some(Value::String(t)) if t == "range" => out.push(Mapping::Range(
                opts.get("from").and_then(num),
                opts.get("to").and_then(num),
                shown(opts.get("result").unwrap_or(&Value::Null)),
            )),
            Some(Value::String(t)) if t == "special" => out.push(Mapping::Special(
                opts.get("match")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                shown(opts.get("result").unwrap_or(&Value::Null)),
            )),
            Some(Value::String(t)) if t == "regex" => out.push(Mapping::Regex(
                opts.get("pattern")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                shown(opts.get("result").unwrap_or(&Value::Null)),
            )),
            // Before Grafana 8: `type` 1 maps a value, 2 a range.
            Some(t) if t.as_u64() == Some(1) => out.push(Mapping::Value(
                m.get("value")
                    .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                    .unwrap_or_default(),
                shown(m),
            )),
            Some(t) if t.as_u64() == Some(2) => out.push(Mapping::Range(
                m.get("from").and_then(num),
                m.get("to").and_then(num),
                shown(m),
            )),
            _ => {}
        }
    }
    out
}

impl Override {
    /// Whether this override applies to the series `name` of query `ref_id`.
    pub fn matches(&self, name: &str, ref_id: &str) -> bool {
        match &self.matcher {
            Matcher::Name(n) => n == name,
            Matcher::Names(ns) => ns.iter().any(|n| n == name),
            Matcher::RefId(r) => r == ref_id,
            Matcher::Regexp(re) => regex_matches(re, name),
            Matcher::Never => false,
        }
    }
}

/// Whether JavaScript's regular expression `pattern` (Grafana's
/// overrides are JS regexes, `/…/flags` or bare) finds a match in `text`.
pub fn regex_matches(pattern: &str, text: &str) -> bool {
    let (body, flags) = match pattern
        .strip_prefix('/')
        .and_then(|rest| rest.rfind('/').map(|i| (&rest[..i], &rest[i + 1..])))
    {
        Some((b, f)) => (b, f),
        None => (pattern, ""),
    };
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::RegExp::new(body, flags).test(text)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        // Unit tests run natively, without a JS engine: plain prefixes,
        // suffixes and alternatives are enough for them.
        let _ = flags;
        body.trim_start_matches('^')
            .trim_end_matches('$')
            .split('|')
            .any(|alt| {
                let alt = alt.trim_start_matches(".*").trim_end_matches(".*");
                text.contains(alt)
            })
    }
}

impl Field {
    /// The defaults with every matching override applied in order.
    pub fn resolve(defaults: &Field, overrides: &[Override], name: &str, ref_id: &str) -> Field {
        let mut f = defaults.clone();
        for o in overrides.iter().filter(|o| o.matches(name, ref_id)) {
            for (id, v) in &o.properties {
                apply(&mut f, id, v);
            }
        }
        f
    }

    /// The mapping that applies to `v` (`None`: no value), if any.
    pub fn map(&self, v: Option<f64>, text: &str) -> Option<&Shown> {
        self.mappings.iter().find_map(|m| {
            let hit = match (m, v) {
                (Mapping::Value(k, _), Some(v)) => {
                    k.parse::<f64>().is_ok_and(|k| k == v) || k == text
                }
                (Mapping::Value(k, _), None) => k == text && !text.is_empty(),
                (Mapping::Range(from, to, _), Some(v)) => {
                    from.is_none_or(|f| v >= f) && to.is_none_or(|t| v <= t)
                }
                (Mapping::Special(what, _), v) => match (what.as_str(), v) {
                    ("null" | "null+nan", None) => true,
                    ("nan" | "null+nan", Some(v)) => v.is_nan(),
                    ("true", Some(v)) => v != 0.0,
                    ("false", Some(v)) => v == 0.0,
                    ("empty", None) => text.is_empty(),
                    _ => false,
                },
                (Mapping::Regex(p, _), _) => regex_matches(p, text),
                _ => false,
            };
            hit.then_some(match m {
                Mapping::Value(_, s)
                | Mapping::Range(_, _, s)
                | Mapping::Special(_, s)
                | Mapping::Regex(_, s) => s,
            })
        })
    }

    /// The colour of the threshold step `v` falls in (steps are absolute,
    /// or percentages of `min..max`).
    pub fn threshold_color(&self, v: f64, min: f64, max: f64) -> String {
        let x = if self.thresholds_percent && max > min {
            (v - min) / (max - min) * 100.0
        } else {
            v
        };
        let mut color = "green";
        for (at, c) in &self.thresholds {
            if x >= *at {
                color = c;
            }
        }
        css_color(color)
    }
}

/// Grafana's named colours (its palette's five shades of each hue) as
/// CSS; anything else (`#hex`, `rgba(…)`) passes through.
pub fn css_color(name: &str) -> String {
    const HUES: &[(&str, [&str; 5])] = &[
        (
            "red",
            ["#C4162A", "#E02F44", "#F2495C", "#FF7383", "#FFA6B0"],
        ),
        (
            "orange",
            ["#FA6400", "#FF780A", "#FF9830", "#FFB357", "#FFCB7D"],
        ),
        (
            "yellow",
            ["#E0B400", "#F2CC0C", "#FADE2A", "#FFEE52", "#FFF899"],
        ),
        (
            "green",
            ["#37872D", "#56A64B", "#73BF69", "#96D98D", "#C8F2C2"],
        ),
        (
            "blue",
            ["#1F60C4", "#3274D9", "#5794F2", "#8AB8FF", "#C0D8FF"],
        ),
        (
            "purple",
            ["#8F3BB8", "#A352CC", "#B877D9", "#CA95E5", "#DEB6F2"],
        ),
    ];
    let (shade, hue) = if let Some(h) = name.strip_prefix("super-light-") {
        (4, h)
    } else if let Some(h) = name.strip_prefix("light-") {
        (3, h)
    } else if let Some(h) = name.strip_prefix("semi-dark-") {
        (1, h)
    } else if let Some(h) = name.strip_prefix("dark-") {
        (0, h)
    } else {
        (2, name)
    };
    match HUES.iter().find(|(n, _)| *n == hue) {
        Some((_, shades)) => shades[shade].to_string(),
        None => match name {
            "text" => "#ccccdc".into(),
            "transparent" => "transparent".into(),
            _ => name.to_string(),
        },
    }
}

/// Grafana's classic palette, the colours of series in order.
pub const CLASSIC: &[&str] = &[
    "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
    "#508642", "#CCA300", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477",
    "#B7DBAB", "#F4D598", "#70DBED", "#F9BA8F", "#F29191", "#82B5D8", "#E5A8E2", "#AEA2E0",
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overrides_change_matching_series_only() {
        let mut d = Field::default();
        apply(&mut d, "unit", &json!("bytes"));
        let o = Override {
            matcher: Matcher::Regexp("/.*Trans.*/".into()),
            properties: vec![
                ("custom.transform".into(), json!("negative-Y")),
                (
                    "color".into(),
                    json!({"mode": "fixed", "fixedColor": "dark-red"}),
                ),
                (
                    "custom.lineStyle".into(),
                    json!({"fill": "dash", "dash": [10, 10]}),
                ),
            ],
        };
        let rx = Field::resolve(&d, std::slice::from_ref(&o), "eth0 Receive", "A");
        assert!(!rx.negative_y);
        let tx = Field::resolve(&d, &[o], "eth0 Transmit", "A");
        assert!(tx.negative_y);
        assert_eq!(tx.unit.as_deref(), Some("bytes"));
        assert_eq!(
            tx.fixed_color.as_deref().map(css_color),
            Some("#C4162A".into())
        );
        assert_eq!(tx.dash, Some(vec![10.0, 10.0]));
    }

    #[test]
    fn thresholds_and_mappings() {
        let mut f = Field::default();
        apply(
            &mut f,
            "thresholds",
            &json!({"mode": "percentage", "steps": [
                {"color": "green", "value": null}, {"color": "dark-yellow", "value": 70},
                {"color": "dark-red", "value": 90}]}),
        );
        assert_eq!(f.threshold_color(0.5, 0.0, 1.0), "#73BF69");
        assert_eq!(f.threshold_color(0.75, 0.0, 1.0), "#E0B400");
        assert_eq!(f.threshold_color(0.95, 0.0, 1.0), "#C4162A");
        apply(
            &mut f,
            "mappings",
            &json!([
                {"type": "special", "options": {"match": "null", "result": {"text": "N/A"}}},
                {"type": "value", "options": {"1": {"text": "Up", "color": "green"}}},
                {"type": "range", "options": {"from": 10, "to": 20, "result": {"text": "teen"}}}
            ]),
        );
        assert_eq!(
            f.map(None, "").and_then(|s| s.text.clone()),
            Some("N/A".into())
        );
        assert_eq!(
            f.map(Some(1.0), "1").and_then(|s| s.text.clone()),
            Some("Up".into())
        );
        assert_eq!(
            f.map(Some(15.0), "15").and_then(|s| s.text.clone()),
            Some("teen".into())
        );
        assert!(f.map(Some(2.0), "2").is_none());
    }
}
