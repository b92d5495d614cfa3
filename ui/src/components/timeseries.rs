//! The time-series panel: one or more range queries over the selected
//! range, aligned on the step grid and drawn by uPlot with the panel's
//! unit on the axis and in the legend. The chart is created once and fed
//! new data on every refresh.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::uplot::UPlot;
use crate::api;
use crate::units::{format, ticks, Unit};

/// Series colours, Grafana's classic palette.
const COLORS: &[&str] = &[
    "#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0",
    "#508642", "#CCA300",
];

/// A query of a panel and the legend template of its series
/// (`{{device}} received`; empty: the label set).
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub expr: String,
    pub legend: String,
}

/// The series of all targets on one time grid: x in seconds, one `None`
/// where a series has no point.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub xs: Vec<f64>,
    pub series: Vec<(String, Vec<Option<f64>>)>,
}

/// Aligns range-query results on the grid `start..=end` every `step`.
pub fn frame(
    results: &[(Target, Vec<api::MatrixSeries>)],
    start: f64,
    end: f64,
    step: f64,
) -> Frame {
    let n = ((end - start) / step).floor() as usize + 1;
    let xs: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
    let mut series = Vec::new();
    for (target, result) in results {
        for s in result {
            let mut ys = vec![None; n];
            for (t, v) in &s.values {
                let i = ((t - start) / step).round();
                if i >= 0.0 && (i as usize) < n {
                    ys[i as usize] = v.parse::<f64>().ok();
                }
            }
            series.push((api::legend(&target.legend, &s.metric), ys));
        }
    }
    Frame { xs, series }
}

fn set(obj: &js_sys::Object, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), value);
}

/// uPlot's options for `frame`'s series, dark theme, values in `unit`.
fn options(frame: &Frame, unit: Unit, width: f64, height: f64) -> JsValue {
    let opts = js_sys::Object::new();
    set(&opts, "width", &width.into());
    set(&opts, "height", &height.into());
    let series = js_sys::Array::new();
    series.push(&js_sys::Object::new());
    let value_fmt = Closure::<dyn Fn(JsValue, JsValue) -> String>::new(move |_u, v: JsValue| {
        v.as_f64()
            .map_or_else(|| "--".to_string(), |v| format(v, unit))
    })
    .into_js_value();
    for (i, (label, _)) in frame.series.iter().enumerate() {
        let s = js_sys::Object::new();
        set(&s, "label", &JsValue::from_str(label));
        set(&s, "stroke", &JsValue::from_str(COLORS[i % COLORS.len()]));
        set(&s, "width", &1.5.into());
        set(&s, "value", &value_fmt);
        series.push(&s);
    }
    set(&opts, "series", &series);
    let axis = |y: bool| {
        let a = js_sys::Object::new();
        set(&a, "stroke", &JsValue::from_str("#9fa7b3"));
        let grid = js_sys::Object::new();
        set(
            &grid,
            "stroke",
            &JsValue::from_str("rgba(255,255,255,0.07)"),
        );
        set(&a, "grid", &grid);
        set(&a, "ticks", &grid);
        if y {
            set(&a, "size", &84.into());
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
                // Ticks on powers of two, so binary prefixes read as whole
                // numbers (8 GiB, not 9.31 GiB shown as "9 GiB").
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
    // Drag across the plot to zoom into that time span (double-click
    // zooms back out), as in Grafana and the Prometheus UI.
    let cursor = js_sys::Object::new();
    let drag = js_sys::Object::new();
    set(&drag, "x", &true.into());
    set(&drag, "y", &false.into());
    set(&cursor, "drag", &drag);
    set(&opts, "cursor", &cursor);
    opts.into()
}

/// `frame` as uPlot's columnar data: `[xs, ys1, ys2, …]`, `null` for gaps.
fn data(frame: &Frame) -> JsValue {
    let out = js_sys::Array::new();
    out.push(
        &frame
            .xs
            .iter()
            .map(|&x| JsValue::from_f64(x))
            .collect::<js_sys::Array>(),
    );
    for (_, ys) in &frame.series {
        out.push(
            &ys.iter()
                .map(|y| y.map_or(JsValue::NULL, JsValue::from_f64))
                .collect::<js_sys::Array>(),
        );
    }
    out.into()
}

/// A time-series panel. `range` is the selected range in seconds, `tick`
/// changes on every refresh.
#[component]
pub fn TimeSeriesPanel(
    title: &'static str,
    targets: Vec<Target>,
    unit: Unit,
    range: ReadSignal<f64>,
    tick: ReadSignal<u64>,
) -> impl IntoView {
    let node = NodeRef::<html::Div>::new();
    let (error, set_error) = signal(None::<String>);
    let (shown, set_shown) = signal(0usize);
    // The chart and the series labels it was built for (a new set of
    // series needs new options, so a new chart).
    let chart: Rc<RefCell<Option<(UPlot, Vec<String>)>>> = Rc::new(RefCell::new(None));
    // Each refresh's number: an answer that arrives after a newer refresh
    // started is dropped, so a slow old answer never overwrites a new one.
    let latest = Rc::new(std::cell::Cell::new(0u64));
    Effect::new(move |_| {
        let seconds = range.get();
        tick.track();
        let targets = targets.clone();
        let chart = Rc::clone(&chart);
        let generation = latest.get() + 1;
        latest.set(generation);
        let latest = Rc::clone(&latest);
        leptos::task::spawn_local(async move {
            let end = api::now().floor();
            let start = end - seconds;
            // About 300 points across, on a grid of whole seconds.
            let step = (seconds / 300.0).ceil().max(1.0);
            let mut results = Vec::new();
            for t in &targets {
                match api::query_range(&t.expr, start, end, step).await {
                    Ok(r) => results.push((t.clone(), r)),
                    Err(e) => {
                        set_error.set(Some(e));
                        return;
                    }
                }
            }
            if latest.get() != generation {
                return;
            }
            set_error.set(None);
            let f = frame(&results, start, end, step);
            set_shown.set(f.series.len());
            let Some(el) = node.get_untracked() else {
                return;
            };
            let labels: Vec<String> = f.series.iter().map(|(l, _)| l.clone()).collect();
            let mut c = chart.borrow_mut();
            match c.as_ref() {
                Some((u, old)) if *old == labels => u.set_data(&data(&f)),
                _ => {
                    if let Some((u, _)) = c.take() {
                        u.destroy();
                    }
                    let el: &web_sys::Element = el.unchecked_ref();
                    let width = f64::from(el.client_width()).max(300.0);
                    let u = UPlot::new(&options(&f, unit, width, 220.0), &data(&f), el);
                    *c = Some((u, labels));
                }
            }
        });
    });
    view! {
        <section class="panel timeseries">
            {(!title.is_empty()).then(|| view! { <h3 class="panel-title">{title}</h3> })}
            <div class="chart" node_ref=node data-series=move || shown.get().to_string()></div>
            {move || error.get().map(|e| view! { <p class="panel-error">{e}</p> })}
        </section>
    }
}
