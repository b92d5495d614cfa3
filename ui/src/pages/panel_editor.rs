//! The panel editor: a live preview of the panel being edited above
//! Grafana's panel options — title, visualisation, queries (PromQL,
//! legend format, instant), unit, min, max, decimals, thresholds, value
//! mappings, legend, overrides and the panel's whole JSON. It edits a copy
//! of the panel's JSON; "Apply" puts it into the dashboard.

use leptos::prelude::*;
use serde_json::{json, Value};

use crate::dashboard::edit::{get_path, set_path};
use crate::dashboard::model;
use crate::panels::{DashCtx, PanelView};

/// Grafana unit ids offered in the unit box (any id can be typed).
const UNITS: &[&str] = &[
    "short",
    "none",
    "percent",
    "percentunit",
    "bytes",
    "decbytes",
    "bits",
    "Bps",
    "binBps",
    "bps",
    "s",
    "ms",
    "ops",
    "reqps",
    "iops",
    "pps",
    "hertz",
    "celsius",
    "bool",
];
const KINDS: &[(&str, &str)] = &[
    ("timeseries", "Time series"),
    ("stat", "Stat"),
    ("gauge", "Gauge"),
    ("bargauge", "Bar gauge"),
    ("table", "Table"),
    ("text", "Text"),
    ("heatmap", "Heatmap"),
    ("pharos-slo-panel", "SLO"),
];
const CALCS: &[&str] = &["lastNotNull", "min", "mean", "max", "sum"];

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// A text input bound to `path` of the panel (empty removes the key;
/// `number` stores numbers).
fn field(
    p: RwSignal<Value>,
    label: &'static str,
    path: &'static [&'static str],
    number: bool,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input
                prop:value=move || p.with(|v| text_of(get_path(v, path)))
                list=if path.last() == Some(&"unit") { "units" } else { "" }
                on:change=move |ev| {
                    let s = event_target_value(&ev);
                    let value = if s.trim().is_empty() {
                        None
                    } else if number {
                        s.trim().parse::<f64>().ok().map(|n| json!(n))
                    } else {
                        Some(json!(s))
                    };
                    p.update(|v| set_path(v, path, value));
                }
            />
        </label>
    }
}

/// A JSON text area for the value at `path` (the whole panel when empty).
fn json_area(
    p: RwSignal<Value>,
    label: &'static str,
    path: &'static [&'static str],
) -> impl IntoView {
    let (error, set_error) = signal(None::<String>);
    view! {
        <label class="field wide">
            <span>{label}</span>
            <textarea class="query-input" rows="6" spellcheck="false"
                prop:value=move || p.with(|v| {
                    let at = if path.is_empty() { Some(v) } else { get_path(v, path) };
                    at.map(|x| serde_json::to_string_pretty(x).unwrap_or_default()).unwrap_or_default()
                })
                on:change=move |ev| { match serde_json::from_str::<Value>(&event_target_value(&ev)) {
                    Ok(x) => {
                        set_error.set(None);
                        p.update(|v| if path.is_empty() { *v = x } else { set_path(v, path, Some(x)) });
                    }
                    Err(e) => set_error.set(Some(format!("Not applied: {e}"))),
                }}
            ></textarea>
            {move || error.get().map(|e| view! { <p class="panel-error">{e}</p> })}
        </label>
    }
}

#[component]
pub fn PanelEditor(
    initial: Value,
    ctx: DashCtx,
    on_apply: Callback<Value>,
    on_close: Callback<()>,
) -> impl IntoView {
    let p = RwSignal::new(initial);
    let preview = move || {
        let mut v = p.get();
        // The preview fills the editor's width.
        v["gridPos"] = json!({"x": 0, "y": 0, "w": 24, "h": 9});
        model::parse_panel(&v).map(|panel| view! { <div class="grid preview"><PanelView panel=panel fixed=Vec::new() ctx=ctx /></div> })
    };
    let kind = move || p.with(|v| text_of(v.get("type")));
    let targets = move || {
        let n = p.with(|v| {
            v.get("targets")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
        });
        (0..n)
            .map(|i| {
                let get = move |k: &str| p.with(|v| text_of(v["targets"][i].get(k)));
                view! {
                    <div class="target">
                        <span class="ref">{move || get("refId")}</span>
                        <textarea class="query-input expr" rows="2" spellcheck="false" placeholder="PromQL expression"
                            prop:value=move || get("expr")
                            on:change=move |ev| p.update(|v| v["targets"][i]["expr"] = json!(event_target_value(&ev)))></textarea>
                        <input class="legend-format" placeholder="Legend, e.g. {{instance}}"
                            prop:value=move || get("legendFormat")
                            on:change=move |ev| p.update(|v| v["targets"][i]["legendFormat"] = json!(event_target_value(&ev))) />
                        <label class="check">
                            <input type="checkbox" prop:checked=move || p.with(|v| v["targets"][i]["instant"] == json!(true))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    p.update(|v| { v["targets"][i]["instant"] = json!(on); v["targets"][i]["range"] = json!(!on); });
                                } />
                            "Instant"
                        </label>
                        <button class="icon" title="Remove query" on:click=move |_| p.update(|v| {
                            if let Some(a) = v["targets"].as_array_mut() { if i < a.len() { a.remove(i); } }
                        })>"✕"</button>
                    </div>
                }
            })
            .collect_view()
    };
    let add_target = move |_| {
        p.update(|v| {
            if !v["targets"].is_array() {
                v["targets"] = json!([]);
            }
            let used: Vec<String> = v["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| text_of(t.get("refId")))
                .collect();
            let id = (b'A'..=b'Z')
                .map(|c| (c as char).to_string())
                .find(|c| !used.contains(c))
                .unwrap_or_else(|| "Z".into());
            v["targets"]
                .as_array_mut()
                .unwrap()
                .push(json!({"refId": id, "expr": ""}));
        })
    };
    let steps_path: &'static [&'static str] = &["fieldConfig", "defaults", "thresholds", "steps"];
    let thresholds = move || {
        let steps: Vec<Value> = p.with(|v| {
            get_path(v, steps_path)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        });
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let color = text_of(s.get("color"));
                let value = text_of(s.get("value"));
                let set = move |k: &'static str, x: Value| {
                    p.update(|v| {
                        if let Some(Value::Array(a)) = get_path(v, steps_path).cloned().as_mut().map(|a| { if let Some(o) = a.get_mut(i) { o[k] = x.clone(); } a.clone() }) {
                            set_path(v, steps_path, Some(Value::Array(a)));
                        }
                    })
                };
                view! {
                    <div class="threshold">
                        <input class="color" prop:value=color.clone() on:change=move |ev| set("color", json!(event_target_value(&ev))) />
                        {if i == 0 {
                            view! { <span class="base">"Base"</span> }.into_any()
                        } else {
                            view! { <input prop:value=value on:change=move |ev| set("value", event_target_value(&ev).trim().parse::<f64>().map_or(Value::Null, |n| json!(n))) /> }.into_any()
                        }}
                        <button class="icon" title="Remove threshold" on:click=move |_| p.update(|v| {
                            if let Some(mut a) = get_path(v, steps_path).and_then(Value::as_array).cloned() {
                                if i < a.len() { a.remove(i); }
                                set_path(v, steps_path, Some(Value::Array(a)));
                            }
                        })>"✕"</button>
                    </div>
                }
            })
            .collect_view()
    };
    let add_threshold = move |_| {
        p.update(|v| {
            let mut a = get_path(v, steps_path)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if a.is_empty() {
                a.push(json!({"color": "green", "value": null}));
            }
            let last = a
                .iter()
                .filter_map(|s| s.get("value").and_then(Value::as_f64))
                .fold(70.0, f64::max);
            a.push(json!({"color": "red", "value": if a.len() == 1 { 80.0 } else { last + 10.0 }}));
            set_path(v, steps_path, Some(Value::Array(a)));
        })
    };
    let mappings_path: &'static [&'static str] = &["fieldConfig", "defaults", "mappings"];
    // Value mappings as rows `value → text`: Grafana's "value" mapping.
    let value_maps = move || {
        p.with(|v| {
            get_path(v, mappings_path)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|m| m.get("type").and_then(Value::as_str) == Some("value"))
                .flat_map(|m| m["options"].as_object().cloned().unwrap_or_default())
                .map(|(k, r)| format!("{k} = {}", text_of(r.get("text"))))
                .collect::<Vec<_>>()
                .join("\n")
        })
    };
    let set_value_maps = move |text: String| {
        p.update(|v| {
            let mut others: Vec<Value> = get_path(v, mappings_path)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|m| m.get("type").and_then(Value::as_str) != Some("value"))
                .collect();
            let mut options = serde_json::Map::new();
            for (i, line) in text.lines().enumerate() {
                if let Some((k, t)) = line.split_once('=') {
                    options.insert(k.trim().to_string(), json!({"text": t.trim(), "index": i}));
                }
            }
            if !options.is_empty() {
                others.push(json!({"type": "value", "options": options}));
            }
            set_path(v, mappings_path, Some(Value::Array(others)));
        })
    };
    let legend_mode: &'static [&'static str] = &["options", "legend", "displayMode"];
    let legend_place: &'static [&'static str] = &["options", "legend", "placement"];
    view! {
        <div class="editor" role="dialog" aria-label="Edit panel">
            <div class="editor-bar">
                <h2>"Edit panel"</h2>
                <button class="icon" on:click=move |_| on_close.run(())>"Discard"</button>
                <button class="run" on:click=move |_| on_apply.run(p.get_untracked())>"Apply"</button>
            </div>
            {preview}
            <datalist id="units">{UNITS.iter().map(|u| view! { <option value=*u></option> }).collect_view()}</datalist>
            <div class="editor-body">
                <section class="editor-queries">
                    <h3>"Queries"</h3>
                    {targets}
                    <button on:click=add_target>"Add query"</button>
                </section>
                <section class="editor-options">
                    {field(p, "Title", &["title"], false)}
                    <label class="field">
                        <span>"Visualisation"</span>
                        <select on:change=move |ev| p.update(|v| v["type"] = json!(event_target_value(&ev)))>
                            {KINDS.iter().map(|(id, name)| view! { <option value=*id selected=move || kind() == *id>{*name}</option> }).collect_view()}
                        </select>
                    </label>
                    {field(p, "Description", &["description"], false)}
                    {field(p, "Unit", &["fieldConfig", "defaults", "unit"], false)}
                    {field(p, "Min", &["fieldConfig", "defaults", "min"], true)}
                    {field(p, "Max", &["fieldConfig", "defaults", "max"], true)}
                    {field(p, "Decimals", &["fieldConfig", "defaults", "decimals"], true)}
                    <label class="field">
                        <span>"Legend"</span>
                        <select on:change=move |ev| p.update(|v| set_path(v, legend_mode, Some(json!(event_target_value(&ev)))))>
                            {["list", "table", "hidden"].map(|m| view! { <option value=m selected=move || p.with(|v| text_of(get_path(v, legend_mode))) == m>{m}</option> }).collect_view()}
                        </select>
                        <select on:change=move |ev| p.update(|v| set_path(v, legend_place, Some(json!(event_target_value(&ev)))))>
                            {["bottom", "right"].map(|m| view! { <option value=m selected=move || p.with(|v| text_of(get_path(v, legend_place))) == m>{m}</option> }).collect_view()}
                        </select>
                    </label>
                    <div class="field">
                        <span>"Legend values"</span>
                        {CALCS.iter().map(|c| view! {
                            <label class="check">
                                <input type="checkbox"
                                    prop:checked=move || p.with(|v| get_path(v, &["options", "legend", "calcs"]).and_then(Value::as_array).is_some_and(|a| a.contains(&json!(c))))
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        p.update(|v| {
                                            let mut a = get_path(v, &["options", "legend", "calcs"]).and_then(Value::as_array).cloned().unwrap_or_default();
                                            a.retain(|x| x != &json!(c));
                                            if on { a.push(json!(c)); }
                                            set_path(v, &["options", "legend", "calcs"], Some(Value::Array(a)));
                                        });
                                    } />
                                {*c}
                            </label>
                        }).collect_view()}
                    </div>
                    <div class="field wide">
                        <span>"Thresholds"</span>
                        {thresholds}
                        <button on:click=add_threshold>"Add threshold"</button>
                    </div>
                    <label class="field wide">
                        <span>"Value mappings (one per line: value = text)"</span>
                        <textarea rows="3" prop:value=value_maps on:change=move |ev| set_value_maps(event_target_value(&ev))></textarea>
                    </label>
                    {move || (kind() == "text").then(|| json_area(p, "Text content (Markdown)", &["options", "content"]))}
                    {move || (kind() == "pharos-slo-panel").then(|| json_area(p, "SLO: objective, window and SLI (JSON)", &["options"]))}
                    {json_area(p, "Overrides (JSON)", &["fieldConfig", "overrides"])}
                    <details>
                        <summary>"Panel JSON"</summary>
                        {json_area(p, "Panel JSON", &[])}
                    </details>
                </section>
            </div>
        </div>
    }
}
