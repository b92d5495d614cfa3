//! The heatmap panel over a classic Prometheus histogram: the series of
//! one `_bucket` query (one per `le`, cumulative), turned into counts per
//! bucket as Grafana's `format: heatmap` does (each bucket minus the one
//! below it), drawn on a canvas as time × bucket cells whose colour
//! deepens with the count (Grafana's default "Oranges" scheme); the
//! buckets are the y axis in order, labelled by their upper bound.

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::dashboard::query::Results;

/// Counts per bucket and time: `cells[bucket][time]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Heat {
    pub xs: Vec<f64>,
    /// Upper bounds as the series name them (`0.1`, `+Inf`), ascending.
    pub les: Vec<String>,
    pub cells: Vec<Vec<f64>>,
    pub max: f64,
}

fn le_value(le: &str) -> f64 {
    if le == "+Inf" {
        f64::INFINITY
    } else {
        le.parse().unwrap_or(f64::NAN)
    }
}

/// The buckets of every series with an `le` label, summed per bound
/// (across instances, as `sum by (le)` would), de-accumulated.
pub fn heat(results: &Results) -> Heat {
    let mut times: Vec<i64> = Vec::new();
    for (_, series) in results {
        for s in series.iter().filter(|s| s.labels.contains_key("le")) {
            times.extend(s.points.iter().map(|p| (p.0 * 1000.0).round() as i64));
        }
    }
    times.sort_unstable();
    times.dedup();
    let mut les: Vec<String> = Vec::new();
    let mut cum: Vec<Vec<f64>> = Vec::new();
    for (_, series) in results {
        for s in series {
            let Some(le) = s.labels.get("le") else {
                continue;
            };
            let b = match les.iter().position(|l| le_value(l) == le_value(le)) {
                Some(b) => b,
                None => {
                    les.push(le.clone());
                    cum.push(vec![0.0; times.len()]);
                    les.len() - 1
                }
            };
            for &(t, v) in &s.points {
                if let Ok(i) = times.binary_search(&((t * 1000.0).round() as i64)) {
                    if !v.is_nan() {
                        cum[b][i] += v;
                    }
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..les.len()).collect();
    order.sort_by(|&a, &b| le_value(&les[a]).total_cmp(&le_value(&les[b])));
    let les: Vec<String> = order.iter().map(|&i| les[i].clone()).collect();
    let cum: Vec<Vec<f64>> = order.iter().map(|&i| cum[i].clone()).collect();
    let mut cells = cum.clone();
    for b in 1..cum.len() {
        for x in 0..times.len() {
            cells[b][x] = (cum[b][x] - cum[b - 1][x]).max(0.0);
        }
    }
    let max = cells.iter().flatten().copied().fold(0.0, f64::max);
    Heat {
        xs: times.iter().map(|&t| t as f64 / 1000.0).collect(),
        les,
        cells,
        max,
    }
}

/// The colour of a cell holding `f` of the largest count (0–1).
fn color(f: f64) -> String {
    // From the panel's background to Grafana's orange.
    let f = f.clamp(0.0, 1.0).sqrt();
    let mix = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    format!(
        "rgb({},{},{})",
        mix(40.0, 255.0),
        mix(30.0, 120.0),
        mix(25.0, 10.0)
    )
}

fn draw(canvas: &web_sys::HtmlCanvasElement, h: &Heat) {
    let (w, ht) = (
        canvas.client_width().max(10),
        canvas.client_height().max(10),
    );
    canvas.set_width(w as u32);
    canvas.set_height(ht as u32);
    let Some(ctx) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    ctx.clear_rect(0.0, 0.0, w as f64, ht as f64);
    let (nx, ny) = (h.xs.len().max(1) as f64, h.les.len().max(1) as f64);
    let (cw, ch) = (w as f64 / nx, ht as f64 / ny);
    for (b, row) in h.cells.iter().enumerate() {
        for (x, &v) in row.iter().enumerate() {
            if v <= 0.0 || h.max <= 0.0 {
                continue;
            }
            ctx.set_fill_style_str(&color(v / h.max));
            // Bucket 0 at the bottom; one pixel of gap between cells.
            let y = ht as f64 - (b as f64 + 1.0) * ch;
            ctx.fill_rect(x as f64 * cw, y, (cw - 1.0).max(1.0), (ch - 1.0).max(1.0));
        }
    }
}

#[component]
pub fn Heatmap(results: Results) -> impl IntoView {
    let h = heat(&results);
    let canvas = NodeRef::<html::Canvas>::new();
    let (hover, set_hover) = signal(None::<String>);
    let h2 = h.clone();
    Effect::new(move |_| {
        if let Some(c) = canvas.get() {
            let h = h2.clone();
            request_animation_frame(move || draw(&c, &h));
        }
    });
    let h3 = h.clone();
    let on_move = move |ev: leptos::ev::MouseEvent| {
        let Some(c) = canvas.get_untracked() else {
            return;
        };
        let (w, ht) = (
            c.client_width().max(1) as f64,
            c.client_height().max(1) as f64,
        );
        let x = ((f64::from(ev.offset_x()) / w) * h3.xs.len() as f64) as usize;
        let b = (((ht - f64::from(ev.offset_y())) / ht) * h3.les.len() as f64) as usize;
        let text = (|| {
            let t = *h3.xs.get(x)?;
            let v = *h3.cells.get(b)?.get(x)?;
            let lo = if b == 0 {
                "0".to_string()
            } else {
                h3.les[b - 1].clone()
            };
            let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(t * 1000.0));
            Some(format!(
                "{}  ({lo}, {}]: {}",
                String::from(when.to_locale_time_string("sv-SE")),
                h3.les[b],
                crate::units::format(v, crate::units::Unit::parse("short"))
            ))
        })();
        set_hover.set(text);
    };
    let n = h.les.len();
    view! {
        <div class="heatmap" data-buckets=n.to_string()>
            <div class="heat-axis">{h.les.iter().rev().map(|l| view! { <span>{l.clone()}</span> }).collect_view()}</div>
            <canvas node_ref=canvas on:mousemove=on_move on:mouseleave=move |_| set_hover.set(None)></canvas>
            {move || hover.get().map(|t| view! { <div class="heat-tip">{t}</div> })}
            {(n == 0).then(|| view! { <p class="hint">"No histogram buckets (series with an le label) in the answer."</p> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::data::Series;

    fn bucket(le: &str, inst: &str, pts: &[(f64, f64)]) -> Series {
        Series {
            ref_id: "A".into(),
            name: le.into(),
            labels: [
                ("le".to_string(), le.to_string()),
                ("instance".to_string(), inst.to_string()),
            ]
            .into(),
            points: pts.to_vec(),
        }
    }

    #[test]
    fn cumulative_buckets_become_counts_in_order() {
        let results = vec![(
            "A".to_string(),
            vec![
                bucket("+Inf", "a", &[(1.0, 10.0), (2.0, 12.0)]),
                bucket("0.5", "a", &[(1.0, 6.0), (2.0, 6.0)]),
                bucket("0.1", "a", &[(1.0, 2.0), (2.0, 5.0)]),
                bucket("0.1", "b", &[(1.0, 1.0)]),
            ],
        )];
        let h = heat(&results);
        assert_eq!(h.les, ["0.1", "0.5", "+Inf"]);
        assert_eq!(h.xs, [1.0, 2.0]);
        assert_eq!(h.cells[0], [3.0, 5.0], "two instances summed");
        assert_eq!(h.cells[1], [3.0, 1.0]);
        assert_eq!(h.cells[2], [4.0, 6.0]);
        assert_eq!(h.max, 6.0);
        assert_eq!(color(0.0), "rgb(40,30,25)");
    }
}
