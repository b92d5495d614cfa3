//! Panels that show one value per series — stat, gauge, bar gauge: each
//! series reduced by the panel's calculation (`reduceOptions.calcs`,
//! last non-null by default), formatted in its unit, mapped by value
//! mappings, coloured by thresholds.

use leptos::prelude::*;
use serde_json::Value;

use crate::dashboard::data::reduce;
use crate::dashboard::field::{css_color, Field};
use crate::dashboard::model::{Kind, Panel};
use crate::dashboard::query::Results;
use crate::units::{format_with, Unit};

/// One value as shown.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub name: String,
    pub value: Option<f64>,
    pub text: String,
    pub color: String,
    pub min: f64,
    pub max: f64,
    /// The series' points, for the stat's sparkline.
    pub points: Vec<(f64, f64)>,
    pub field: Field,
}

/// The values of a single-value panel.
pub fn values(panel: &Panel, results: &Results) -> Vec<Shown> {
    let calc = panel
        .options
        .get("reduceOptions")
        .and_then(|r| r.get("calcs"))
        .and_then(|c| c.get(0))
        .and_then(Value::as_str)
        .unwrap_or("lastNotNull")
        .to_string();
    let mut out = Vec::new();
    for (_, series) in results {
        for s in series {
            let field = Field::resolve(&panel.defaults, &panel.overrides, &s.name, &s.ref_id);
            let value = reduce(&calc, &s.points).filter(|v| !v.is_nan());
            out.push(shown(panel, field, s.name.clone(), value, s.points.clone()));
        }
    }
    if out.is_empty() {
        out.push(shown(
            panel,
            panel.defaults.clone(),
            String::new(),
            None,
            Vec::new(),
        ));
    }
    out
}

fn shown(
    panel: &Panel,
    field: Field,
    name: String,
    value: Option<f64>,
    points: Vec<(f64, f64)>,
) -> Shown {
    let unit = Unit::parse(field.unit.as_deref().unwrap_or("short"));
    // Gauges default to 0–100 (0–1 for percentunit), as Grafana's do
    // when no bounds are set and one value is shown.
    let max_default = match field.unit.as_deref() {
        Some("percentunit") => 1.0,
        _ if matches!(panel.kind, Kind::Gauge | Kind::BarGauge) => 100.0,
        _ => value.unwrap_or(1.0).max(1.0),
    };
    let min = field.min.unwrap_or(0.0);
    let max = field.max.unwrap_or(max_default.max(value.unwrap_or(0.0)));
    let text_default = value.map_or_else(
        || field.no_value.clone().unwrap_or_else(|| "No data".into()),
        |v| format_with(v, unit, field.decimals),
    );
    let raw = value.map(|v| v.to_string()).unwrap_or_default();
    let mapped = field.map(value, &raw).cloned();
    let text = mapped
        .as_ref()
        .and_then(|m| m.text.clone())
        .unwrap_or(text_default);
    let color = mapped
        .and_then(|m| m.color)
        .map(|c| css_color(&c))
        .or_else(|| match (field.color_mode.as_str(), &field.fixed_color) {
            ("fixed" | "shades", Some(c)) => Some(css_color(c)),
            _ => None,
        })
        .unwrap_or_else(|| match value {
            Some(v) => field.threshold_color(v, min, max),
            None => "var(--muted)".into(),
        });
    Shown {
        name,
        value,
        text,
        color,
        min,
        max,
        points,
        field,
    }
}

/// An SVG path of `points` scaled into a `w`×`h` box, closed to the bottom.
fn sparkline(points: &[(f64, f64)], w: f64, h: f64) -> Option<String> {
    let pts: Vec<(f64, f64)> = points.iter().copied().filter(|p| !p.1.is_nan()).collect();
    if pts.len() < 2 {
        return None;
    }
    let (x0, x1) = (pts[0].0, pts[pts.len() - 1].0);
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let mut d = String::new();
    for (i, (x, y)) in pts.iter().enumerate() {
        let px = (x - x0) / (x1 - x0).max(1e-9) * w;
        let py = h - (y - lo) / span * h * 0.9;
        d.push_str(&format!(
            "{}{px:.1},{py:.1} ",
            if i == 0 { "M" } else { "L" }
        ));
    }
    d.push_str(&format!("L{w:.1},{h:.1} L0,{h:.1} Z"));
    Some(d)
}

/// The stat panel: each value large, coloured, with its name when there
/// are several, and a sparkline when `graphMode` is `area`.
#[component]
pub fn Stat(panel: Panel, values: Vec<Shown>) -> impl IntoView {
    let o = &panel.options;
    let color_mode = o
        .get("colorMode")
        .and_then(Value::as_str)
        .unwrap_or("value")
        .to_string();
    let text_mode = o
        .get("textMode")
        .and_then(Value::as_str)
        .unwrap_or("auto")
        .to_string();
    let graph = o.get("graphMode").and_then(Value::as_str).unwrap_or("area") == "area";
    let several = values.len() > 1;
    let n = values.len();
    view! {
        <div class="stat-grid" style=format!("--n:{n}")>
            {values.into_iter().map(|v| {
                let show_name = match text_mode.as_str() {
                    "value_and_name" | "name" => true,
                    "auto" => several,
                    _ => false,
                };
                let show_value = !matches!(text_mode.as_str(), "name" | "none");
                let (bg, fg) = match color_mode.as_str() {
                    "background" | "background_solid" => (v.color.clone(), "#fff".to_string()),
                    "none" => ("transparent".into(), "var(--text)".into()),
                    _ => ("transparent".into(), v.color.clone()),
                };
                let spark = if graph { sparkline(&v.points, 100.0, 30.0) } else { None };
                view! {
                    <div class="stat-cell" style=format!("background:{bg};color:{fg}")>
                        {spark.map(|d| view! {
                            <svg class="spark" viewBox="0 0 100 30" preserveAspectRatio="none">
                                <path d=d fill=v.color.clone() fill-opacity="0.15" stroke=v.color.clone() stroke-width="1" vector-effect="non-scaling-stroke"></path>
                            </svg>
                        })}
                        {show_name.then(|| view! { <div class="stat-name">{v.name.clone()}</div> })}
                        {show_value.then(|| view! { <div class="stat-value">{v.text.clone()}</div> })}
                    </div>
                }
            }).collect_view()}
        </div>
    }
}

/// A point on the gauge's arc: `f` from 0 to 1 over 240°.
fn arc_point(f: f64, r: f64) -> (f64, f64) {
    let a = (150.0 + 240.0 * f.clamp(0.0, 1.0)).to_radians();
    (100.0 + r * a.cos(), 100.0 + r * a.sin())
}

fn arc(f0: f64, f1: f64, r: f64) -> String {
    let (x0, y0) = arc_point(f0, r);
    let (x1, y1) = arc_point(f1, r);
    let large = if (f1 - f0) * 240.0 > 180.0 { 1 } else { 0 };
    format!("M{x0:.2},{y0:.2} A{r},{r} 0 {large} 1 {x1:.2},{y1:.2}")
}

/// The gauge panel: an arc per value, filled to the value in its
/// threshold colour, the thresholds as a thin outer band.
#[component]
pub fn Gauge(panel: Panel, values: Vec<Shown>) -> impl IntoView {
    let markers = panel
        .options
        .get("showThresholdMarkers")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let several = values.len() > 1;
    view! {
        <div class="gauge-grid">
            {values.into_iter().map(|v| {
                let span = (v.max - v.min).max(1e-12);
                let f = v.value.map_or(0.0, |x| (x - v.min) / span);
                let bands: Vec<(String, String)> = if markers {
                    let steps = &v.field.thresholds;
                    steps.iter().enumerate().map(|(i, (at, color))| {
                        let frac = |x: f64| if v.field.thresholds_percent { x / 100.0 } else { (x - v.min) / span };
                        let a = if at.is_finite() { frac(*at) } else { 0.0 };
                        let b = steps.get(i + 1).map_or(1.0, |n| frac(n.0));
                        (arc(a.clamp(0.0, 1.0), b.clamp(0.0, 1.0), 86.0), css_color(color))
                    }).collect()
                } else {
                    Vec::new()
                };
                view! {
                    <div class="gauge">
                        <svg viewBox="0 0 200 170" role="img" aria-label=format!("{} {}", v.name, v.text)>
                            {bands.into_iter().map(|(d, c)| view! { <path d=d stroke=c stroke-width="4" fill="none"></path> }).collect_view()}
                            <path d=arc(0.0, 1.0, 70.0) stroke="var(--track)" stroke-width="18" fill="none"></path>
                            {(f > 0.0).then(|| view! { <path d=arc(0.0, f.min(1.0), 70.0) stroke=v.color.clone() stroke-width="18" fill="none"></path> })}
                            <text x="100" y="112" text-anchor="middle" class="gauge-value" fill=v.color.clone()>{v.text.clone()}</text>
                        </svg>
                        {several.then(|| view! { <div class="gauge-name">{v.name.clone()}</div> })}
                    </div>
                }
            }).collect_view()}
        </div>
    }
}

/// The bar gauge panel: a bar per value, filled from min to max.
#[component]
pub fn BarGauge(panel: Panel, values: Vec<Shown>) -> impl IntoView {
    let vertical = panel.options.get("orientation").and_then(Value::as_str) == Some("vertical");
    view! {
        <div class="bargauge" class:vertical=vertical>
            {values.into_iter().map(|v| {
                let span = (v.max - v.min).max(1e-12);
                let pct = v.value.map_or(0.0, |x| ((x - v.min) / span * 100.0).clamp(0.0, 100.0));
                let fill = if vertical { format!("height:{pct:.1}%;background:{}", v.color) } else { format!("width:{pct:.1}%;background:{}", v.color) };
                view! {
                    <div class="bar-row">
                        <span class="bar-name">{v.name.clone()}</span>
                        <span class="bar-track"><span class="bar-fill" style=fill></span></span>
                        <span class="bar-value" style=format!("color:{}", v.color)>{v.text.clone()}</span>
                    </div>
                }
            }).collect_view()}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::data::Series;
    use crate::dashboard::model::Dashboard;

    #[test]
    fn values_are_reduced_mapped_and_coloured() {
        let doc = serde_json::json!({"panels": [{"type": "stat", "gridPos": {"x":0,"y":0,"w":4,"h":4},
            "options": {"reduceOptions": {"calcs": ["max"]}},
            "fieldConfig": {"defaults": {"unit": "percent",
                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": null}, {"color": "red", "value": 80}]},
                "mappings": [{"type": "special", "options": {"match": "null", "result": {"text": "N/A"}}}]}},
            "targets": [{"expr": "x"}]}]});
        let d = Dashboard::parse(&doc).unwrap();
        let p = &d.sections[0].panels[0];
        let results = vec![(
            "A".to_string(),
            vec![Series {
                ref_id: "A".into(),
                name: "cpu".into(),
                labels: Default::default(),
                points: vec![(1.0, 50.0), (2.0, 90.0), (3.0, 10.0)],
            }],
        )];
        let v = values(p, &results);
        assert_eq!(v[0].text, "90%");
        assert_eq!(v[0].color, "#F2495C");
        let none = values(p, &vec![("A".to_string(), vec![])]);
        assert_eq!(none[0].text, "N/A");
        assert!(sparkline(&[(0.0, 1.0), (1.0, 2.0)], 100.0, 30.0).is_some());
        assert_eq!(
            arc_point(0.0, 70.0).0.round(),
            (100.0 - 70.0 * 0.866f64).round()
        );
    }
}
