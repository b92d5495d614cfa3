//! The time-series panel of dashboards: every query's series on one time
//! grid, drawn by uPlot with the panel's field configuration applied per
//! series (colour, fill, line width and dashes, negative-Y, stacking,
//! hiding), the unit and bounds on the y axis, a legend (list or table
//! with Grafana's calculations; click isolates a series, Ctrl/⌘-click
//! toggles it), a tooltip listing every series at the cursor, and
//! drag-to-zoom that moves the dashboard's time range. Exemplars are
//! drawn as diamonds (hover: their labels; their trace linked); a click
//! pins the tooltip with the data links of the series nearest the cursor
//! (`${__field.labels.X}`, `${__value.raw}`, … as Grafana fills them).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::Exemplar;
use crate::components::uplot::UPlot;
use crate::dashboard::data::{calc_title, reduce};
use crate::dashboard::field::{css_color, Field, CLASSIC};
use crate::dashboard::model::Panel;
use crate::dashboard::query::Results;
use crate::units::{format_with, ticks, Unit};

/// One drawn series: its name, resolved field config and values on the
/// shared grid (already negated or stacked as drawn; `raw` as queried).
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub color: String,
    pub field: Field,
    pub raw: Vec<Option<f64>>,
    pub drawn: Vec<Option<f64>>,
    /// The series this one's fill reaches down to (stacking).
    pub below: Option<usize>,
}

/// All series of a panel on one grid of times.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    pub xs: Vec<f64>,
    pub lines: Vec<Line>,
}

/// The hex colour `c` with `opacity` (0–100) as `rgba(…)`.
fn with_alpha(c: &str, opacity: f64) -> String {
    let hex = c.trim_start_matches('#');
    if hex.len() == 6 {
        if let Ok(n) = u32::from_str_radix(hex, 16) {
            return format!(
                "rgba({},{},{},{:.2})",
                n >> 16,
                (n >> 8) & 255,
                n & 255,
                opacity / 100.0
            );
        }
    }
    c.to_string()
}

/// Lays the results out as drawn: the union of their times, each series'
/// field config resolved, hidden ones dropped, negative-Y negated, stacks
/// summed in order within their group (percent stacks normalised).
pub fn chart(panel: &Panel, results: &Results) -> Chart {
    let mut times: BTreeSet<i64> = BTreeSet::new();
    for (_, series) in results {
        for s in series {
            for (t, _) in &s.points {
                times.insert((t * 1000.0).round() as i64);
            }
        }
    }
    let xs: Vec<f64> = times.iter().map(|&t| t as f64 / 1000.0).collect();
    let index = |t: f64| times.iter().position(|&x| x == (t * 1000.0).round() as i64);
    let mut lines: Vec<Line> = Vec::new();
    let mut n = 0;
    for (_, series) in results {
        for s in series {
            let field = Field::resolve(&panel.defaults, &panel.overrides, &s.name, &s.ref_id);
            let color = match (&field.fixed_color, field.color_mode.as_str()) {
                (Some(c), "fixed" | "shades") => css_color(c),
                (_, "thresholds") => field.threshold_color(f64::NEG_INFINITY, 0.0, 1.0),
                _ => CLASSIC[n % CLASSIC.len()].to_string(),
            };
            n += 1;
            if field.hide_viz {
                continue;
            }
            let mut raw = vec![None; xs.len()];
            for &(t, v) in &s.points {
                if let Some(i) = index(t) {
                    raw[i] = (!v.is_nan()).then_some(v);
                }
            }
            let sign = if field.negative_y { -1.0 } else { 1.0 };
            let drawn = raw.iter().map(|v| v.map(|v| v * sign)).collect();
            let name = field.display_name.clone().map_or(s.name.clone(), |d| {
                crate::dashboard::vars::interpolate(&d, &|k, _| {
                    k.strip_prefix("__field.labels.")
                        .and_then(|l| s.labels.get(l).cloned())
                        .or_else(|| {
                            (k == "__series.name" || k == "__field.name").then(|| s.name.clone())
                        })
                })
            });
            lines.push(Line {
                name,
                labels: s.labels.clone(),
                color,
                field,
                raw,
                drawn,
                below: None,
            });
        }
    }
    stack(&mut lines, xs.len());
    Chart { xs, lines }
}

fn stack(lines: &mut [Line], n: usize) {
    let groups: BTreeSet<(String, String)> =
        lines.iter().filter_map(|l| l.field.stack.clone()).collect();
    for g in groups {
        let members: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].field.stack.as_ref() == Some(&g))
            .collect();
        // Positive and negative-Y series stack separately, as in Grafana.
        for negative in [false, true] {
            let part: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&i| lines[i].field.negative_y == negative)
                .collect();
            let totals: Vec<f64> = (0..n)
                .map(|x| {
                    part.iter()
                        .filter_map(|&i| lines[i].drawn[x])
                        .sum::<f64>()
                        .abs()
                })
                .collect();
            let mut acc = vec![0.0; n];
            let mut prev: Option<usize> = None;
            for &i in &part {
                for x in 0..n {
                    if let Some(v) = lines[i].drawn[x] {
                        let v = if g.0 == "percent" && totals[x] > 0.0 {
                            v / totals[x]
                        } else {
                            v
                        };
                        acc[x] += v;
                        lines[i].drawn[x] = Some(acc[x]);
                    }
                }
                lines[i].below = prev;
                prev = Some(i);
            }
        }
    }
}

/// A colour of the current theme (a CSS variable on the root element):
/// canvases cannot read CSS variables themselves.
fn theme_color(var: &str, fallback: &str) -> String {
    let value = (|| {
        let w = web_sys::window()?;
        let root = w.document()?.document_element()?;
        let f: js_sys::Function = get(&w, "getComputedStyle").dyn_into().ok()?;
        let style = f.call1(&w, &root).ok()?;
        let g: js_sys::Function = get(&style, "getPropertyValue").dyn_into().ok()?;
        g.call1(&style, &JsValue::from_str(var)).ok()?.as_string()
    })();
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| fallback.to_string())
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), value);
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Fills a text in with a panel's variables and time range, `extra`
/// first (the data-link names of one series and value).
pub type Fill = Rc<dyn Fn(&str, &dyn Fn(&str) -> Option<String>) -> String>;

/// What the page hands a chart besides its data.
#[derive(Clone)]
pub struct Hooks {
    /// The crosshair group (the dashboard's uid when it shares one).
    pub sync: Option<String>,
    /// Called with the seconds of a drag-selected span.
    pub zoom: Rc<dyn Fn(f64, f64)>,
    /// The cursor moved (or left: `None`).
    pub cursor: Rc<dyn Fn(Option<At>)>,
    /// Alert firing periods to mark (start, end, name).
    pub periods: Rc<dyn Fn() -> Vec<(f64, f64, String)>>,
    /// The exemplars of the data being drawn.
    pub exemplars: Rc<dyn Fn() -> Vec<Exemplar>>,
    /// Fills in data links.
    pub fill: Fill,
}

/// Where the cursor is: its index on the time grid, its position in the
/// plot (CSS pixels), the y value there, and the exemplar under it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct At {
    pub idx: usize,
    pub left: f64,
    pub top: f64,
    pub y: f64,
    pub exemplar: Option<usize>,
}

/// A time axis label in local time for ticks `incr` seconds apart.
fn time_label(t: f64, incr: f64, days: bool) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(t * 1000.0));
    let date = format!("{:02}/{:02}", d.get_month() + 1, d.get_date());
    let time = format!("{:02}:{:02}", d.get_hours(), d.get_minutes());
    if incr >= 86_400.0 {
        date
    } else if incr < 60.0 {
        format!("{time}:{:02}", d.get_seconds())
    } else if days {
        format!("{date} {time}")
    } else {
        time
    }
}

/// Calls the method `name` of a JS object.
fn call(obj: &JsValue, name: &str, args: &[JsValue]) -> Option<JsValue> {
    let f: js_sys::Function = get(obj, name).dyn_into().ok()?;
    f.apply(obj, &args.iter().cloned().collect::<js_sys::Array>())
        .ok()
}

/// uPlot's `valToPos(v, scale, canvas)`: CSS pixels in the plot, or
/// canvas pixels.
fn val_to_pos(u: &JsValue, v: f64, scale: &str, canvas: bool) -> f64 {
    call(
        u,
        "valToPos",
        &[
            JsValue::from_f64(v),
            JsValue::from_str(scale),
            canvas.into(),
        ],
    )
    .and_then(|v| v.as_f64())
    .unwrap_or(f64::NAN)
}

/// The colour of each exemplar: its series' line colour where the series
/// is drawn, else the theme's text colour.
fn exemplar_colors(c: &Chart, ex: &[Exemplar]) -> Vec<String> {
    ex.iter()
        .map(|e| {
            c.lines
                .iter()
                .find(|l| l.labels == e.series)
                .map_or_else(|| theme_color("--text", "#d8d9da"), |l| l.color.clone())
        })
        .collect()
}

/// Draws each exemplar as a diamond at its time and value.
fn draw_exemplars(u: &JsValue, ex: &[Exemplar], colors: &[String]) {
    let ctx = get(u, "ctx");
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
    let r = 5.0 * ratio;
    call(&ctx, "save", &[]);
    for (e, color) in ex.iter().zip(colors) {
        let (x, y) = (
            val_to_pos(u, e.time, "x", true),
            val_to_pos(u, e.value, "y", true),
        );
        if !x.is_finite() || !y.is_finite() {
            continue;
        }
        let _ = js_sys::Reflect::set(&ctx, &"fillStyle".into(), &JsValue::from_str(color));
        call(&ctx, "beginPath", &[]);
        call(&ctx, "moveTo", &[x.into(), (y - r).into()]);
        call(&ctx, "lineTo", &[(x + r).into(), y.into()]);
        call(&ctx, "lineTo", &[x.into(), (y + r).into()]);
        call(&ctx, "lineTo", &[(x - r).into(), y.into()]);
        call(&ctx, "closePath", &[]);
        call(&ctx, "fill", &[]);
    }
    call(&ctx, "restore", &[]);
}

/// The exemplar within 7 CSS pixels of the cursor, the nearest one.
fn exemplar_at(u: &JsValue, ex: &[Exemplar], left: f64, top: f64) -> Option<usize> {
    ex.iter()
        .enumerate()
        .map(|(i, e)| {
            let dx = val_to_pos(u, e.time, "x", false) - left;
            let dy = val_to_pos(u, e.value, "y", false) - top;
            (i, dx * dx + dy * dy)
        })
        .filter(|(_, d)| *d <= 49.0)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// The names a data link of `line` at grid index `idx` is filled in with
/// (Grafana's `${__field.labels.X}`, `${__field.name}`, `${__value.*}`).
fn link_names(
    line: &Line,
    t: f64,
    value: Option<f64>,
    text: String,
) -> impl Fn(&str) -> Option<String> {
    let (name, labels) = (line.name.clone(), line.labels.clone());
    move |k: &str| match k {
        "__field.name" | "__series.name" | "__field.displayName" => Some(name.clone()),
        "__value.raw" | "__value.numeric" => value.map(|v| v.to_string()),
        "__value.text" => Some(text.clone()),
        "__value.time" => Some(format!("{}", (t * 1000.0).round())),
        "__field.labels" => Some(
            labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => k
            .strip_prefix("__field.labels.")
            .and_then(|l| labels.get(l).cloned()),
    }
}

/// Marks each firing period on the plot: a faint red band over the
/// plot's height and a solid bar along its top (Grafana's alert
/// annotations).
fn draw_periods(u: &JsValue, periods: &[(f64, f64, String)]) {
    let ctx = get(u, "ctx");
    let bbox = get(u, "bbox");
    let (left, top, width, height) = (
        get(&bbox, "left").as_f64().unwrap_or(0.0),
        get(&bbox, "top").as_f64().unwrap_or(0.0),
        get(&bbox, "width").as_f64().unwrap_or(0.0),
        get(&bbox, "height").as_f64().unwrap_or(0.0),
    );
    let pos = |t: f64| {
        let x = val_to_pos(u, t, "x", true);
        if x.is_finite() {
            x
        } else {
            0.0
        }
    };
    call(&ctx, "save", &[]);
    for (a, b, _) in periods {
        let x0 = pos(*a).max(left);
        let x1 = pos(*b).min(left + width);
        if x1 < left || x0 > left + width {
            continue;
        }
        let w = (x1 - x0).max(2.0);
        let _ = js_sys::Reflect::set(&ctx, &"fillStyle".into(), &"rgba(242,73,92,0.10)".into());
        call(
            &ctx,
            "fillRect",
            &[x0.into(), top.into(), w.into(), height.into()],
        );
        let _ = js_sys::Reflect::set(&ctx, &"fillStyle".into(), &"rgba(242,73,92,0.85)".into());
        call(
            &ctx,
            "fillRect",
            &[x0.into(), top.into(), w.into(), 4.0.into()],
        );
    }
    call(&ctx, "restore", &[]);
}

fn options(
    c: &Chart,
    panel: &Panel,
    size: (f64, f64),
    hooks: &Hooks,
    range: (f64, f64),
    ex: Rc<Vec<Exemplar>>,
) -> JsValue {
    let (w, h) = size;
    let unit = Unit::parse(panel.defaults.unit.as_deref().unwrap_or("short"));
    let opts = js_sys::Object::new();
    set(&opts, "width", &w.into());
    set(&opts, "height", &h.into());
    let legend = js_sys::Object::new();
    set(&legend, "show", &false.into());
    set(&opts, "legend", &legend);
    let series = js_sys::Array::new();
    series.push(&js_sys::Object::new());
    let bands = js_sys::Array::new();
    for (i, l) in c.lines.iter().enumerate() {
        let s = js_sys::Object::new();
        set(&s, "label", &JsValue::from_str(&l.name));
        set(&s, "stroke", &JsValue::from_str(&l.color));
        set(&s, "width", &l.field.line_width.unwrap_or(1.0).into());
        let fill = l.field.fill_opacity.unwrap_or(0.0);
        if fill > 0.0 {
            set(&s, "fill", &JsValue::from_str(&with_alpha(&l.color, fill)));
        }
        if let Some(d) = &l.field.dash {
            let a: js_sys::Array = d.iter().map(|&x| JsValue::from_f64(x)).collect();
            set(&s, "dash", &a);
        }
        if l.field.draw_style == "points" {
            set(&s, "width", &0.into());
            let p = js_sys::Object::new();
            set(&p, "show", &true.into());
            set(&s, "points", &p);
        }
        // Otherwise uPlot's default: points shown where the data is sparse
        // enough to see them (a series of one point is a dot, not nothing).
        set(&s, "spanGaps", &false.into());
        series.push(&s);
        if let Some(b) = l.below {
            let band = js_sys::Object::new();
            let pair: js_sys::Array = [JsValue::from(i as u32 + 1), JsValue::from(b as u32 + 1)]
                .into_iter()
                .collect();
            set(&band, "series", &pair);
            if fill > 0.0 {
                set(
                    &band,
                    "fill",
                    &JsValue::from_str(&with_alpha(&l.color, fill)),
                );
            }
            bands.push(&band);
        }
    }
    set(&opts, "series", &series);
    if bands.length() > 0 {
        set(&opts, "bands", &bands);
    }
    // Scales: the dashboard's time range on x; on y the field's min and
    // max where set, else the data's (soft bounds widen it).
    let scales = js_sys::Object::new();
    let x = js_sys::Object::new();
    set(&x, "time", &true.into());
    let (from, to) = range;
    let xr = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> js_sys::Array>::new(move |_, _, _| {
        [JsValue::from_f64(from), JsValue::from_f64(to)]
            .into_iter()
            .collect()
    })
    .into_js_value();
    set(&x, "range", &xr);
    set(&scales, "x", &x);
    let f = panel.defaults.clone();
    let y = js_sys::Object::new();
    let yr = Closure::<dyn Fn(JsValue, JsValue, JsValue) -> js_sys::Array>::new(
        move |_, lo: JsValue, hi: JsValue| {
            let mut lo = lo.as_f64().unwrap_or(0.0);
            let mut hi = hi.as_f64().unwrap_or(1.0);
            if let Some(s) = f.soft_min {
                lo = lo.min(s);
            }
            if let Some(s) = f.soft_max {
                hi = hi.max(s);
            }
            if lo == hi {
                let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
                lo -= pad;
                hi += pad;
            } else {
                let pad = (hi - lo) * 0.05;
                if lo != 0.0 {
                    lo -= pad;
                }
                hi += pad;
            }
            let lo = f.min.unwrap_or(lo);
            let hi = f.max.unwrap_or(hi);
            [JsValue::from_f64(lo), JsValue::from_f64(hi)]
                .into_iter()
                .collect()
        },
    )
    .into_js_value();
    set(&y, "range", &yr);
    set(&scales, "y", &y);
    set(&opts, "scales", &scales);
    let axis = |is_y: bool| {
        let a = js_sys::Object::new();
        set(
            &a,
            "stroke",
            &JsValue::from_str(&theme_color("--muted", "#9fa7b3")),
        );
        let grid = js_sys::Object::new();
        set(
            &grid,
            "stroke",
            &JsValue::from_str(&theme_color("--grid", "rgba(255,255,255,0.07)")),
        );
        set(&grid, "width", &1.into());
        set(&a, "grid", &grid);
        set(&a, "ticks", &grid);
        if !is_y {
            // Grafana's time labels: 24-hour `HH:mm` (seconds when ticks
            // are under a minute apart), the date in front when the range
            // spans days, the date alone for ticks a day or more apart;
            // spaced so that they never overlap on a narrow panel.
            let days = range.1 - range.0 > 86_400.0;
            set(&a, "space", &(if days { 90 } else { 60 }).into());
            let values = Closure::<
                dyn Fn(JsValue, js_sys::Array, JsValue, JsValue, JsValue) -> js_sys::Array,
            >::new(
                move |_u, splits: js_sys::Array, _axis, _space, incr: JsValue| {
                    let incr = incr.as_f64().unwrap_or(60.0);
                    splits
                        .iter()
                        .map(|t| {
                            JsValue::from_str(&time_label(t.as_f64().unwrap_or(0.0), incr, days))
                        })
                        .collect()
                },
            )
            .into_js_value();
            set(&a, "values", &values);
        }
        if is_y {
            set(&a, "size", &64.into());
            let values = Closure::<dyn Fn(JsValue, js_sys::Array) -> js_sys::Array>::new(
                move |_u, splits: js_sys::Array| {
                    let splits: Vec<f64> = splits
                        .iter()
                        .map(|v| v.as_f64().unwrap_or(f64::NAN))
                        .collect();
                    ticks(&splits, unit)
                        .iter()
                        .map(|s| JsValue::from_str(s))
                        .collect()
                },
            )
            .into_js_value();
            set(&a, "values", &values);
            if matches!(unit, Unit::Prefixed { base, .. } if base == 1024.0) {
                let incrs: js_sys::Array =
                    (0..61).map(|k| JsValue::from_f64(2f64.powi(k))).collect();
                set(&a, "incrs", &incrs);
            }
        }
        a
    };
    let axes = js_sys::Array::new();
    axes.push(&axis(false));
    axes.push(&axis(true));
    set(&opts, "axes", &axes);
    let cursor = js_sys::Object::new();
    let drag = js_sys::Object::new();
    set(&drag, "x", &true.into());
    set(&drag, "y", &false.into());
    // The drag selects; the selection sets the dashboard's range.
    set(&drag, "setScale", &false.into());
    set(&cursor, "drag", &drag);
    if let Some(key) = &hooks.sync {
        let sync = js_sys::Object::new();
        set(&sync, "key", &JsValue::from_str(key));
        set(&cursor, "sync", &sync);
    }
    let points = js_sys::Object::new();
    set(&points, "size", &6.into());
    set(&cursor, "points", &points);
    set(&opts, "cursor", &cursor);
    let hooks_obj = js_sys::Object::new();
    let zoom = Rc::clone(&hooks.zoom);
    let on_select = Closure::<dyn Fn(JsValue)>::new(move |u: JsValue| {
        let sel = get(&u, "select");
        let width = get(&sel, "width").as_f64().unwrap_or(0.0);
        if width < 5.0 {
            return;
        }
        let left = get(&sel, "left").as_f64().unwrap_or(0.0);
        let pos = |px: f64| -> Option<f64> {
            let f: js_sys::Function = get(&u, "posToVal").dyn_into().ok()?;
            f.call2(&u, &JsValue::from_f64(px), &JsValue::from_str("x"))
                .ok()?
                .as_f64()
        };
        if let (Some(a), Some(b)) = (pos(left), pos(left + width)) {
            zoom(a, b);
        }
    })
    .into_js_value();
    set(&hooks_obj, "setSelect", &js_sys::Array::of1(&on_select));
    let moved = Rc::clone(&hooks.cursor);
    let near = Rc::clone(&ex);
    let on_cursor = Closure::<dyn Fn(JsValue)>::new(move |u: JsValue| {
        let c = get(&u, "cursor");
        let idx = get(&c, "idx").as_f64();
        let left = get(&c, "left").as_f64().unwrap_or(-1.0);
        let top = get(&c, "top").as_f64().unwrap_or(-1.0);
        let y = call(&u, "posToVal", &[top.into(), JsValue::from_str("y")])
            .and_then(|v| v.as_f64())
            .unwrap_or(f64::NAN);
        moved(idx.filter(|_| left >= 0.0).map(|i| At {
            idx: i as usize,
            left,
            top,
            y,
            exemplar: exemplar_at(&u, &near, left, top),
        }));
    })
    .into_js_value();
    set(&hooks_obj, "setCursor", &js_sys::Array::of1(&on_cursor));
    let periods = Rc::clone(&hooks.periods);
    let colors = exemplar_colors(c, &ex);
    let on_draw = Closure::<dyn Fn(JsValue)>::new(move |u: JsValue| {
        let p = periods();
        if !p.is_empty() {
            draw_periods(&u, &p);
        }
        draw_exemplars(&u, &ex, &colors);
    })
    .into_js_value();
    set(&hooks_obj, "draw", &js_sys::Array::of1(&on_draw));
    set(&opts, "hooks", &hooks_obj);
    opts.into()
}

/// Keeps the newest charts in `window.__pharosCharts` (at most 32), so
/// tests/bench/ui_bench.py can drive pans and zooms and time the frames.
fn expose(u: &UPlot) {
    let Some(w) = web_sys::window() else { return };
    let key = JsValue::from_str("__pharosCharts");
    let list = match js_sys::Reflect::get(&w, &key)
        .ok()
        .filter(|v| v.is_object())
    {
        Some(l) => l.unchecked_into::<js_sys::Array>(),
        None => {
            let l = js_sys::Array::new();
            let _ = js_sys::Reflect::set(&w, &key, &l);
            l
        }
    };
    list.push(u);
    if list.length() > 32 {
        list.shift();
    }
}

fn data(c: &Chart) -> JsValue {
    let out = js_sys::Array::new();
    out.push(
        &c.xs
            .iter()
            .map(|&x| JsValue::from_f64(x))
            .collect::<js_sys::Array>(),
    );
    for l in &c.lines {
        out.push(
            &l.drawn
                .iter()
                .map(|y| y.map_or(JsValue::NULL, JsValue::from_f64))
                .collect::<js_sys::Array>(),
        );
    }
    out.into()
}

/// The legend's settings (`options.legend`).
struct LegendOpts {
    show: bool,
    table: bool,
    right: bool,
    calcs: Vec<String>,
}

fn legend_opts(options: &Value) -> LegendOpts {
    let l = options.get("legend").cloned().unwrap_or(Value::Null);
    let mode = l
        .get("displayMode")
        .and_then(Value::as_str)
        .unwrap_or("list");
    LegendOpts {
        show: l.get("showLegend").and_then(Value::as_bool).unwrap_or(true) && mode != "hidden",
        table: mode == "table",
        right: l.get("placement").and_then(Value::as_str) == Some("right"),
        calcs: l
            .get("calcs")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A time-series panel's body. `range` is the dashboard's time range
/// when the data was asked for.
#[component]
pub fn Graph(
    panel: Panel,
    data_in: Signal<Option<(Results, (f64, f64))>>,
    hooks: Hooks,
) -> impl IntoView {
    let node = NodeRef::<html::Div>::new();
    let plot: Rc<RefCell<Option<(UPlot, Vec<String>)>>> = Rc::new(RefCell::new(None));
    let (shown, set_shown) = signal(Chart::default());
    let (hidden, set_hidden) = signal(BTreeSet::<usize>::new());
    let (cursor, set_cursor) = signal(None::<At>);
    let (hover, set_hover) = signal(false);
    // A click pins the tooltip (its links can then be clicked).
    let pinned = RwSignal::new(None::<At>);
    let exemplars = RwSignal::new_local(Rc::new(Vec::<Exemplar>::new()));
    let fill = StoredValue::new_local(Rc::clone(&hooks.fill));
    let lo = legend_opts(&panel.options);
    let unit = Unit::parse(panel.defaults.unit.as_deref().unwrap_or("short"));
    let decimals = panel.defaults.decimals;
    let panel_field = panel.defaults.clone();
    let hooks = Hooks {
        cursor: Rc::new(move |c| set_cursor.set(c)),
        ..hooks
    };
    let p = panel.clone();
    let ex_source = Rc::clone(&hooks.exemplars);
    let draw = {
        let chart = Rc::clone(&plot);
        move |c: &Chart, range: (f64, f64), ex: Rc<Vec<Exemplar>>| {
            let Some(el) = node.get_untracked() else {
                return;
            };
            let el: &web_sys::Element = el.unchecked_ref();
            let (w, h) = (
                f64::from(el.client_width()).max(100.0),
                f64::from(el.client_height()).max(60.0),
            );
            let names: Vec<String> = c.lines.iter().map(|l| l.name.clone()).collect();
            let mut slot = chart.borrow_mut();
            if let Some((u, _)) = slot.take() {
                u.destroy();
            }
            let u = UPlot::new(&options(c, &p, (w, h), &hooks, range, ex), &data(c), el);
            expose(&u);
            *slot = Some((u, names));
        }
    };
    let draw = Rc::new(draw);
    {
        let draw = Rc::clone(&draw);
        let panel = panel.clone();
        Effect::new(move |_| {
            let Some((results, range)) = data_in.get() else {
                return;
            };
            let c = chart(&panel, &results);
            let ex = Rc::new(ex_source());
            set_hidden.set(BTreeSet::new());
            set_shown.set(c.clone());
            exemplars.set(Rc::clone(&ex));
            pinned.set(None);
            // Drawn once the legend is laid out, so the plot's box has
            // its final height.
            let draw = Rc::clone(&draw);
            request_animation_frame(move || draw(&c, range, ex));
        });
    }
    {
        // Keep the chart the size of its box as the window resizes.
        let chart = Rc::clone(&plot);
        let handle = window_event_listener(leptos::ev::resize, move |_| {
            let slot = chart.borrow();
            let (Some(el), Some((u, _))) = (node.get_untracked(), slot.as_ref()) else {
                return;
            };
            let el: &web_sys::Element = el.unchecked_ref();
            let size = js_sys::Object::new();
            set(
                &size,
                "width",
                &f64::from(el.client_width()).max(100.0).into(),
            );
            set(
                &size,
                "height",
                &f64::from(el.client_height()).max(60.0).into(),
            );
            u.set_size(&size);
        });
        on_cleanup(move || handle.remove());
    }
    {
        let chart = Rc::clone(&plot);
        Effect::new(move |_| {
            let h = hidden.get();
            if let Some((u, names)) = chart.borrow().as_ref() {
                for i in 0..names.len() {
                    let opts = js_sys::Object::new();
                    set(&opts, "show", &(!h.contains(&i)).into());
                    u.set_series(i as u32 + 1, &opts);
                }
            }
        });
    }
    let toggle = move |i: usize, only: bool| {
        let n = shown.with_untracked(|c| c.lines.len());
        set_hidden.update(|h| {
            if only {
                // Click: show only this one; again: show all.
                let isolated = h.len() + 1 == n && !h.contains(&i);
                *h = if isolated {
                    BTreeSet::new()
                } else {
                    (0..n).filter(|&j| j != i).collect()
                };
            } else if !h.remove(&i) {
                h.insert(i);
            }
        });
    };
    let fmt = move |v: Option<f64>, f: &Field| {
        v.map_or("-".to_string(), |v| {
            let u = f.unit.as_deref().map_or(unit, Unit::parse);
            format_with(v, u, f.decimals.or(decimals))
        })
    };
    let legend = move || {
        if !lo.show {
            return None;
        }
        let c = shown.get();
        let h = hidden.get();
        let rows = c
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.field.hide_legend)
            .map(|(i, l)| {
                let pts: Vec<(f64, f64)> =
                    c.xs.iter()
                        .zip(&l.raw)
                        .map(|(x, v)| (*x, v.unwrap_or(f64::NAN)))
                        .collect();
                let calcs: Vec<String> = lo
                    .calcs
                    .iter()
                    .map(|k| fmt(reduce(k, &pts), &l.field))
                    .collect();
                (i, l.name.clone(), l.color.clone(), calcs, h.contains(&i))
            })
            .collect::<Vec<_>>();
        let heads = lo.calcs.clone();
        let item = move |(i, name, color, calcs, off): (
            usize,
            String,
            String,
            Vec<String>,
            bool,
        ),
                         table: bool| {
            let click =
                move |ev: leptos::ev::MouseEvent| toggle(i, !(ev.ctrl_key() || ev.meta_key()));
            if table {
                view! {
                    <tr class:off=off on:click=click>
                        <td class="series"><i class="swatch" style=format!("background:{color}")></i>{name}</td>
                        {calcs.into_iter().map(|v| view! { <td class="num">{v}</td> }).collect_view()}
                    </tr>
                }
                .into_any()
            } else {
                view! {
                    <button class="legend-item" class:off=off on:click=click>
                        <i class="swatch" style=format!("background:{color}")></i>
                        {name}
                        {calcs.into_iter().zip(heads.clone()).map(|(v, k)| view! { <span class="calc">{format!("{}: {v}", calc_title(&k))}</span> }).collect_view()}
                    </button>
                }
                .into_any()
            }
        };
        Some(if lo.table {
            view! {
                <div class="legend table" class:right=lo.right>
                    <table>
                        <thead><tr><th>"Name"</th>{lo.calcs.iter().map(|k| view! { <th class="num">{calc_title(k).to_string()}</th> }).collect_view()}</tr></thead>
                        <tbody>{rows.into_iter().map(|r| item(r, true)).collect_view()}</tbody>
                    </table>
                </div>
            }
            .into_any()
        } else {
            view! { <div class="legend" class:right=lo.right>{rows.into_iter().map(|r| item(r, false)).collect_view()}</div> }.into_any()
        })
    };
    let tooltip_sort = panel
        .options
        .get("tooltip")
        .and_then(|t| t.get("sort"))
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_string();
    let no_tooltip = panel
        .options
        .get("tooltip")
        .and_then(|t| t.get("mode"))
        .and_then(Value::as_str)
        == Some("none");
    let tooltip = move || {
        let pin = pinned.get();
        let at = match pin {
            Some(at) => at,
            None if hover.get() && !no_tooltip => cursor.get()?,
            None => return None,
        };
        let c = shown.get();
        let h = hidden.get();
        let style = format!("left:{}px;top:{}px", at.left + 70.0, at.top + 10.0);
        let stamp = |t: f64| {
            let when = js_sys::Date::new(&JsValue::from_f64(t * 1000.0));
            String::from(when.to_locale_string("sv-SE", &JsValue::UNDEFINED))
        };
        let close = move |_| pinned.set(None);
        let closer =
            pin.map(|_| view! { <button class="close" title="Close" on:click=close>"✕"</button> });
        if let Some(e) = at
            .exemplar
            .and_then(|i| exemplars.with(|x| x.get(i).cloned()))
        {
            // An exemplar: its labels, its series' labels, its trace.
            let value = fmt(Some(e.value), &panel_field);
            let traces: Vec<(String, String)> = crate::dashboard::query::trace_links()
                .into_iter()
                .filter_map(|(label, url)| {
                    let id = e.labels.get(&label)?.clone();
                    let href = crate::dashboard::vars::interpolate(&url, &|k, _| {
                        (k == "__value.raw").then(|| id.clone())
                    });
                    Some((format!("Trace {id}"), href))
                })
                .collect();
            let rows = e.labels.iter().chain(e.series.iter()).map(|(k, v)| view! {
                <div class="row"><span class="name">{k.clone()}</span><b>{v.clone()}</b></div>
            }).collect_view();
            return Some(view! {
                <div class="tooltip exemplar" class:pinned=pin.is_some() style=style>
                    {closer}
                    <div class="when">{format!("Exemplar · {}", stamp(e.time))}</div>
                    <div class="row"><span class="name">"Value"</span><b>{value}</b></div>
                    {rows}
                    {traces.into_iter().map(|(title, href)| view! { <a class="data-link" href=href target="_blank" rel="noopener">{title}</a> }).collect_view()}
                </div>
            }.into_any());
        }
        let t = *c.xs.get(at.idx)?;
        let mut rows: Vec<(String, String, f64, String)> = c
            .lines
            .iter()
            .enumerate()
            .filter(|(i, l)| !h.contains(i) && !l.field.hide_tooltip)
            .filter_map(|(_, l)| {
                let v = l.raw.get(at.idx).copied().flatten()?;
                Some((l.name.clone(), l.color.clone(), v, fmt(Some(v), &l.field)))
            })
            .collect();
        match tooltip_sort.as_str() {
            "desc" => rows.sort_by(|a, b| b.2.total_cmp(&a.2)),
            "asc" => rows.sort_by(|a, b| a.2.total_cmp(&b.2)),
            _ => {}
        }
        // Pinned: the data links of the series nearest the cursor.
        let links = pin.and_then(|_| {
            let line = c
                .lines
                .iter()
                .enumerate()
                .filter(|(i, l)| !h.contains(i) && !l.field.links.is_empty())
                .filter_map(|(_, l)| Some((l, l.drawn.get(at.idx).copied().flatten()?)))
                .min_by(|a, b| (a.1 - at.y).abs().total_cmp(&(b.1 - at.y).abs()))?
                .0;
            let v = line.raw.get(at.idx).copied().flatten();
            let names = link_names(line, t, v, fmt(v, &line.field));
            let links: Vec<(String, String)> = line
                .field
                .links
                .iter()
                .map(|(title, url)| fill.with_value(|f| (f(title, &names), f(url, &names))))
                .collect();
            Some((line.name.clone(), links))
        });
        Some(view! {
            <div class="tooltip" class:pinned=pin.is_some() style=style>
                {closer}
                <div class="when">{stamp(t)}</div>
                {rows.into_iter().take(30).map(|(name, color, _, v)| view! {
                    <div class="row"><i class="swatch" style=format!("background:{color}")></i><span class="name">{name}</span><b>{v}</b></div>
                }).collect_view()}
                {links.map(|(name, links)| view! {
                    <div class="links">
                        <div class="when">{name}</div>
                        {links.into_iter().map(|(title, href)| view! { <a class="data-link" href=href target="_blank" rel="noopener">{title}</a> }).collect_view()}
                    </div>
                })}
            </div>
        }.into_any())
    };
    // A click (not a drag) pins the tooltip where it is, or unpins it.
    let down = Rc::new(std::cell::Cell::new((0, 0)));
    let press = {
        let down = Rc::clone(&down);
        move |ev: leptos::ev::PointerEvent| down.set((ev.client_x(), ev.client_y()))
    };
    let click = move |ev: leptos::ev::MouseEvent| {
        let inside_tooltip = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest(".tooltip").ok().flatten())
            .is_some();
        let (x, y) = down.get();
        if inside_tooltip || (ev.client_x() - x).abs() + (ev.client_y() - y).abs() > 4 {
            return;
        }
        pinned.set(match pinned.get_untracked() {
            Some(_) => None,
            None => cursor.get_untracked(),
        });
    };
    view! {
        <div class="graph" class:legend-right=lo.right
            on:mouseenter=move |_| set_hover.set(true)
            on:mouseleave=move |_| set_hover.set(false)>
            <div class="plot" node_ref=node data-series=move || shown.with(|c| c.lines.len().to_string())
                data-exemplars=move || exemplars.with(|e| e.len().to_string())
                on:pointerdown=press on:click=click>
                {tooltip}
            </div>
            {legend}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::data::Series;
    use crate::dashboard::model::Dashboard;

    #[test]
    fn stacking_negative_y_and_hiding() {
        let doc = serde_json::json!({"panels": [{"type": "timeseries", "gridPos": {"x":0,"y":0,"w":12,"h":8},
            "fieldConfig": {"defaults": {"custom": {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 20}},
              "overrides": [
                {"matcher": {"id": "byName", "options": "tx"}, "properties": [{"id": "custom.transform", "value": "negative-Y"}]},
                {"matcher": {"id": "byName", "options": "gone"}, "properties": [{"id": "custom.hideFrom", "value": {"viz": true, "legend": true, "tooltip": true}}]}
              ]},
            "targets": [{"expr": "x", "refId": "A"}]}]});
        let d = Dashboard::parse(&doc).unwrap();
        let p = &d.sections[0].panels[0];
        let s = |name: &str, pts: Vec<(f64, f64)>| Series {
            ref_id: "A".into(),
            name: name.into(),
            labels: Default::default(),
            points: pts,
        };
        let results = vec![(
            "A".to_string(),
            vec![
                s("a", vec![(10.0, 1.0), (20.0, 2.0)]),
                s("b", vec![(10.0, 3.0), (30.0, 4.0)]),
                s("tx", vec![(10.0, 5.0)]),
                s("gone", vec![(10.0, 9.0)]),
            ],
        )];
        let c = chart(p, &results);
        assert_eq!(c.xs, [10.0, 20.0, 30.0]);
        let names: Vec<&str> = c.lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "tx"]);
        assert_eq!(c.lines[1].drawn, [Some(4.0), None, Some(4.0)]);
        assert_eq!(c.lines[1].raw, [Some(3.0), None, Some(4.0)]);
        assert_eq!(c.lines[1].below, Some(0));
        assert_eq!(c.lines[2].drawn, [Some(-5.0), None, None]);
        assert_eq!(c.lines[2].below, None);
        assert_eq!(c.lines[0].color, CLASSIC[0]);
        assert_eq!(with_alpha("#7EB26D", 20.0), "rgba(126,178,109,0.20)");
    }
}
