//! The table panel: the queries' instant (or last) values as Grafana's
//! `format: table` frames, reshaped by the panel's transformations, each
//! column formatted by its field configuration (unit, decimals, display
//! name, hidden, width, alignment; a gauge or colour cell as a coloured
//! value); click a header to sort.

use leptos::prelude::*;

use crate::dashboard::data::{table_frames, transform, Cell, Frame};
use crate::dashboard::field::Field;
use crate::dashboard::model::Panel;
use crate::dashboard::query::Results;
use crate::units::{format_with, Unit};

/// The frames a table panel shows, and the transformations it skipped.
pub fn frames(panel: &Panel, results: &Results) -> (Vec<Frame>, Vec<String>) {
    transform(table_frames(results), &panel.transformations)
}

fn cell_text(c: &Cell, name: &str, f: &Field) -> String {
    match c {
        Cell::Null => String::new(),
        Cell::Text(t) => t.clone(),
        Cell::Num(v) if name == "Time" => {
            let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(*v));
            String::from(d.to_locale_string("sv-SE", &wasm_bindgen::JsValue::UNDEFINED))
        }
        Cell::Num(v) => {
            let raw = v.to_string();
            if let Some(t) = f.map(Some(*v), &raw).and_then(|m| m.text.clone()) {
                return t;
            }
            format_with(
                *v,
                Unit::parse(f.unit.as_deref().unwrap_or("none")),
                f.decimals,
            )
        }
    }
}

#[component]
pub fn Table(panel: Panel, frames: Vec<Frame>) -> impl IntoView {
    let (sort, set_sort) = signal(None::<(usize, bool)>);
    view! {
        <div class="table-panel">
            {frames.into_iter().map(|f| {
                let fields: Vec<Field> = f.names.iter().map(|n| Field::resolve(&panel.defaults, &panel.overrides, n, "")).collect();
                let visible: Vec<usize> = (0..f.names.len()).filter(|&i| !fields[i].hidden && !fields[i].hide_viz).collect();
                let f2 = f.clone();
                let fields2 = fields.clone();
                let visible2 = visible.clone();
                let rows = move || {
                    let mut rows = f2.rows.clone();
                    if let Some((i, desc)) = sort.get() {
                        rows.sort_by(|a, b| {
                            let o = match (a[i].num(), b[i].num()) {
                                (Some(x), Some(y)) => x.total_cmp(&y),
                                _ => cell_text(&a[i], "", &Field::default()).cmp(&cell_text(&b[i], "", &Field::default())),
                            };
                            if desc { o.reverse() } else { o }
                        });
                    }
                    rows.into_iter().map(|r| {
                        view! {
                            <tr>
                                {visible2.iter().map(|&i| {
                                    let fd = &fields2[i];
                                    let text = cell_text(&r[i], &f2.names[i], fd);
                                    let color = match (&r[i], fd.thresholds.len() > 1) {
                                        (Cell::Num(v), true) => Some(fd.threshold_color(*v, fd.min.unwrap_or(0.0), fd.max.unwrap_or(100.0))),
                                        _ => None,
                                    };
                                    let align = fd.align.clone().unwrap_or_else(|| if matches!(r[i], Cell::Num(_)) { "right".into() } else { "left".into() });
                                    view! { <td style=format!("text-align:{align};{}", color.map(|c| format!("color:{c}")).unwrap_or_default())>{text}</td> }
                                }).collect_view()}
                            </tr>
                        }
                    }).collect_view()
                };
                view! {
                    <table class="result">
                        <thead><tr>
                            {visible.iter().map(|&i| {
                                let name = fields[i].display_name.clone().unwrap_or_else(|| f.names[i].clone());
                                let width = fields[i].width.map(|w| format!("width:{w}px")).unwrap_or_default();
                                view! {
                                    <th style=width tabindex="0"
                                        on:click=move |_| set_sort.update(|s| *s = match *s { Some((j, false)) if j == i => Some((i, true)), Some((j, true)) if j == i => None, _ => Some((i, false)) })>
                                        {name}
                                        {move || match sort.get() { Some((j, d)) if j == i => if d { " ▼" } else { " ▲" }, _ => "" }}
                                    </th>
                                }
                            }).collect_view()}
                        </tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }
            }).collect_view()}
        </div>
    }
}
