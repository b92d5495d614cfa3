//! Explore: the Prometheus UI's graph page, with several queries on one
//! graph. Each query has an editor with autocomplete (functions with
//! their documentation, metric names, label names and values) and shows
//! the server's parse error with a caret at its position. The graph is a
//! dashboard time-series panel (tooltip with every series at the cursor,
//! legend toggling, drag-to-zoom) with stacked and zero-based options;
//! the table shows each query's instant result. Enter runs (Shift+Enter
//! adds a line). The whole state is in the URL, in the Prometheus UI's
//! parameters: `g0.expr`, `g1.expr`, … `g0.tab` (0/graph, 1/table),
//! `g0.range_input`, `g0.end_input` (UTC `YYYY-MM-DD HH:mm:ss`: the range
//! ends there instead of now), `g0.step_input`, `g0.stacked`, plus `zero`
//! and `refresh` (auto-refresh every 5s…1h while the range ends now).

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::json;

use crate::api;
use crate::dashboard::model::parse_panel;
use crate::panels::{DashCtx, PanelView};
use crate::units::{format, Unit};

/// PromQL functions and what they do (the docs' first sentences).
const FUNCTIONS: &[(&str, &str)] = &[
    ("abs", "absolute value of each sample"),
    ("absent", "1-element vector if the vector has no elements"),
    (
        "absent_over_time",
        "1-element vector if the range vector has no elements",
    ),
    ("avg_over_time", "average of all points in the range"),
    ("ceil", "rounds each sample up to the nearest integer"),
    (
        "changes",
        "number of times the value changed within the range",
    ),
    ("clamp", "clamps each sample between min and max"),
    ("clamp_max", "clamps each sample to an upper limit"),
    ("clamp_min", "clamps each sample to a lower limit"),
    ("count_over_time", "count of all points in the range"),
    (
        "day_of_month",
        "day of the month (1–31) of each sample's time, UTC",
    ),
    (
        "day_of_week",
        "day of the week (0–6) of each sample's time, UTC",
    ),
    (
        "delta",
        "difference between the first and last value of a gauge",
    ),
    ("deriv", "per-second derivative by simple linear regression"),
    ("exp", "exponential of each sample"),
    ("floor", "rounds each sample down to the nearest integer"),
    (
        "histogram_quantile",
        "φ-quantile from the buckets of a classic histogram",
    ),
    (
        "holt_winters",
        "smoothed value by double exponential smoothing",
    ),
    ("hour", "hour of the day (0–23) of each sample's time, UTC"),
    ("idelta", "difference between the last two samples"),
    (
        "increase",
        "increase of a counter over the range, extrapolated",
    ),
    (
        "irate",
        "per-second rate from the last two samples of a counter",
    ),
    ("label_join", "joins label values into a new label"),
    (
        "label_replace",
        "sets a label from a regex match on another",
    ),
    ("last_over_time", "most recent point in the range"),
    ("ln", "natural logarithm of each sample"),
    ("log2", "binary logarithm of each sample"),
    ("log10", "decimal logarithm of each sample"),
    ("max_over_time", "maximum of all points in the range"),
    ("min_over_time", "minimum of all points in the range"),
    ("minute", "minute of the hour of each sample's time, UTC"),
    (
        "month",
        "month of the year (1–12) of each sample's time, UTC",
    ),
    (
        "predict_linear",
        "value predicted t seconds ahead by linear regression",
    ),
    (
        "present_over_time",
        "1 for series with any point in the range",
    ),
    (
        "quantile_over_time",
        "φ-quantile of the points in the range",
    ),
    (
        "rate",
        "per-second average rate of increase of a counter, extrapolated",
    ),
    ("resets", "number of counter resets within the range"),
    ("round", "rounds each sample to the nearest multiple"),
    (
        "scalar",
        "the single sample's value as a scalar (NaN otherwise)",
    ),
    ("sgn", "sign of each sample: 1, -1 or 0"),
    ("sort", "samples sorted by value, ascending"),
    ("sort_desc", "samples sorted by value, descending"),
    ("sqrt", "square root of each sample"),
    (
        "stddev_over_time",
        "population standard deviation of the points in the range",
    ),
    (
        "stdvar_over_time",
        "population variance of the points in the range",
    ),
    ("sum_over_time", "sum of all points in the range"),
    ("time", "seconds since the epoch of the evaluation time"),
    ("timestamp", "timestamp of each sample in seconds"),
    ("vector", "the scalar as a vector without labels"),
    ("year", "year of each sample's time, UTC"),
    ("sum", "aggregation: sum over dimensions"),
    ("avg", "aggregation: average over dimensions"),
    ("min", "aggregation: minimum over dimensions"),
    ("max", "aggregation: maximum over dimensions"),
    ("count", "aggregation: number of elements"),
    (
        "count_values",
        "aggregation: number of elements with the same value",
    ),
    ("group", "aggregation: 1 for each group"),
    ("stddev", "aggregation: population standard deviation"),
    ("stdvar", "aggregation: population variance"),
    ("topk", "aggregation: the k largest elements"),
    ("bottomk", "aggregation: the k smallest elements"),
    ("quantile", "aggregation: φ-quantile over dimensions"),
];

/// Quick ranges of the Prometheus UI's range input.
const RANGES: &[&str] = &[
    "5m", "15m", "30m", "1h", "3h", "6h", "12h", "1d", "2d", "1w",
];

/// What autocomplete offers at the cursor of `text` (byte offset `at`):
/// the word being typed and the suggestions `(text, doc)`.
pub fn suggestions(
    text: &str,
    at: usize,
    metrics: &[String],
    labels: &[String],
    values: &dyn Fn(&str) -> Vec<String>,
) -> (usize, Vec<(String, String)>) {
    let at = at.min(text.len());
    let before = &text[..at];
    let start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .map_or(0, |i| i + 1);
    let word = &before[start..];
    // Inside braces: label names, or values after `name="`.
    let open = before.rfind('{');
    let close = before.rfind('}');
    let in_braces = open.is_some_and(|o| close.is_none_or(|c| c < o));
    if in_braces {
        let tail = &before[open.unwrap_or(0)..];
        let quotes = tail.matches('"').count();
        if quotes % 2 == 1 {
            // A value: the label name before `="`.
            let q = before.rfind('"').unwrap_or(0);
            let name_part = before[..q].trim_end_matches(['=', '~', '!']);
            let name_start = name_part
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let label = &name_part[name_start..];
            let typed = &before[q + 1..];
            let list = values(label)
                .into_iter()
                .filter(|v| v.starts_with(typed) && v != typed)
                .take(50)
                .map(|v| (v, format!("value of {label}")))
                .collect();
            return (q + 1, list);
        }
        // A label name goes right after `{` or `,` (not after `=`).
        let prev = before[..start].trim_end().chars().last();
        if word.is_empty() && !matches!(prev, Some('{') | Some(',')) {
            return (start, Vec::new());
        }
        let list = labels
            .iter()
            .filter(|l| l.starts_with(word) && l.as_str() != word)
            .take(50)
            .map(|l| (l.clone(), "label".to_string()))
            .collect();
        return (start, list);
    }
    if word.is_empty() {
        return (start, Vec::new());
    }
    let mut list: Vec<(String, String)> = FUNCTIONS
        .iter()
        .filter(|(f, _)| f.starts_with(word) && *f != word)
        .map(|(f, d)| (f.to_string(), d.to_string()))
        .collect();
    list.extend(
        metrics
            .iter()
            .filter(|m| m.starts_with(word) && m.as_str() != word)
            .take(50)
            .map(|m| (m.clone(), "metric".to_string())),
    );
    (start, list)
}

/// The `line:column` of a Prometheus parse error message, if it has one.
pub fn error_position(msg: &str) -> Option<(usize, usize)> {
    let rest = msg.split("\"query\": ").nth(1).unwrap_or(msg);
    let mut parts = rest.splitn(3, ':');
    let line = parts.next()?.trim().parse().ok()?;
    let col = parts.next()?.trim().parse().ok()?;
    Some((line, col))
}

fn param(q: &leptos_router::params::ParamsMap, key: &str) -> Option<String> {
    q.get(key).filter(|v| !v.is_empty())
}

#[component]
pub fn Explore() -> impl IntoView {
    let q = use_query_map().get_untracked();
    let mut exprs: Vec<String> = (0..10)
        .map_while(|i| param(&q, &format!("g{i}.expr")))
        .collect();
    if exprs.is_empty() {
        exprs.push(param(&q, "expr").unwrap_or_default());
    }
    let table = matches!(param(&q, "g0.tab").as_deref(), Some("1") | Some("table"));
    let range = param(&q, "g0.range_input").unwrap_or_else(|| "1h".into());
    let step = param(&q, "g0.step_input").unwrap_or_default();
    let stacked = param(&q, "g0.stacked").as_deref() == Some("1");
    let zero = param(&q, "zero").as_deref() == Some("1");
    // The Prometheus UI writes the end in UTC without a zone.
    let end = param(&q, "g0.end_input")
        .map(|e| js_sys::Date::parse(&format!("{}Z", e.replace(' ', "T"))) / 1000.0)
        .filter(|t| t.is_finite());
    let refresh = RwSignal::new(param(&q, "refresh").unwrap_or_default());

    let texts = RwSignal::new(exprs.clone());
    let run_exprs = RwSignal::new(exprs);
    let tab_table = RwSignal::new(table);
    let range = RwSignal::new(range);
    let step = RwSignal::new(step);
    let stacked = RwSignal::new(stacked);
    let zero = RwSignal::new(zero);
    let end = RwSignal::new(end);
    // The time range as the panels read it: relative to now, or ending
    // at `end` (milliseconds, as dashboards write absolute times).
    let time_of = move |range: &str, end: Option<f64>| match end {
        None => (format!("now-{range}"), "now".to_string()),
        Some(e) => {
            let span = crate::dashboard::vars::parse_duration(range).unwrap_or(3600.0);
            (
                format!("{}", ((e - span) * 1000.0).round()),
                format!("{}", (e * 1000.0).round()),
            )
        }
    };
    let ctx = DashCtx {
        vars: RwSignal::new(Vec::new()),
        time: RwSignal::new(time_of(&range.get_untracked(), end.get_untracked())),
        tick: RwSignal::new(0),
        ready: RwSignal::new(true),
        sync: RwSignal::new(None),
        alerts: RwSignal::new(Vec::new()),
    };
    let metrics = LocalResource::new(|| async {
        api::label_values("__name__", None, api::now() - 3600.0, api::now())
            .await
            .unwrap_or_default()
    });
    let labels = LocalResource::new(|| async {
        api::label_names(None, api::now() - 3600.0, api::now())
            .await
            .unwrap_or_default()
    });
    let run = move || {
        run_exprs.set(
            texts
                .get_untracked()
                .iter()
                .map(|t| t.trim().to_string())
                .collect(),
        );
        ctx.time
            .set(time_of(&range.get_untracked(), end.get_untracked()));
        ctx.tick.update(|n| *n += 1);
    };
    // Auto-refresh while the range ends now.
    Effect::new(
        move |prev: Option<Option<leptos::prelude::IntervalHandle>>| {
            if let Some(Some(h)) = prev {
                h.clear();
            }
            let secs = crate::dashboard::vars::parse_duration(&refresh.get())?;
            if end.get().is_some() {
                return None;
            }
            set_interval_with_handle(
                move || ctx.tick.update(|n| *n += 1),
                Duration::from_secs_f64(secs.max(1.0)),
            )
            .ok()
        },
    );
    // The state in the URL, as the Prometheus UI writes it.
    Effect::new(move |_| {
        let mut qs: Vec<String> = run_exprs
            .get()
            .iter()
            .enumerate()
            .map(|(i, e)| format!("g{i}.expr={}", js_sys::encode_uri_component(e)))
            .collect();
        qs.push(format!("g0.tab={}", if tab_table.get() { 1 } else { 0 }));
        qs.push(format!("g0.range_input={}", range.get()));
        if let Some(e) = end.get() {
            qs.push(format!("g0.end_input={}", super::end_input(e)));
        }
        if !refresh.get().is_empty() {
            qs.push(format!("refresh={}", refresh.get()));
        }
        if !step.get().is_empty() {
            qs.push(format!("g0.step_input={}", step.get()));
        }
        if stacked.get() {
            qs.push("g0.stacked=1".into());
        }
        if zero.get() {
            qs.push("zero=1".into());
        }
        super::replace_query(&qs);
    });
    // Editors are re-made only when queries are added or removed (not on
    // every keystroke, which would reset their cursor and suggestions).
    let count = Memo::new(move |_| texts.with(Vec::len));
    let editors = move || {
        let n = count.get();
        (0..n)
            .map(|i| view! { <QueryEditor i=i texts=texts run=Callback::new(move |_| run()) metrics=metrics labels=labels /> })
            .collect_view()
    };
    let graph = move || {
        let exprs: Vec<String> = run_exprs
            .get()
            .into_iter()
            .filter(|e| !e.is_empty())
            .collect();
        if exprs.is_empty() {
            return view! { <p class="hint">"Type a PromQL expression, e.g. up or rate(node_cpu_seconds_total[5m])."</p> }.into_any();
        }
        if tab_table.get() {
            return exprs
                .into_iter()
                .map(|e| view! { <ResultTable expr=e tick=ctx.tick /> })
                .collect_view()
                .into_any();
        }
        let targets: Vec<serde_json::Value> = exprs
            .iter()
            .enumerate()
            .map(|(i, e)| json!({"refId": ((b'A' + i as u8) as char).to_string(), "expr": e, "exemplar": true}))
            .collect();
        let mut custom = json!({});
        if stacked.get() {
            custom = json!({"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 30});
        }
        if zero.get() {
            custom["axisSoftMin"] = json!(0);
        }
        let panel = json!({
            "id": 1, "type": "timeseries", "title": "",
            "gridPos": {"x": 0, "y": 0, "w": 24, "h": 14},
            "interval": step.get(),
            "targets": targets,
            "fieldConfig": {"defaults": {"unit": "short", "custom": custom}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi", "sort": "desc"}}
        });
        parse_panel(&panel)
            .map(|p| view! { <div class="grid explore-graph"><PanelView panel=p fixed=Vec::new() ctx=ctx /></div> }.into_any())
            .unwrap_or_else(|| view! { <p class="panel-error">"cannot draw"</p> }.into_any())
    };
    view! {
        <div class="dashboard-header">
            <h1>"Explore"</h1>
            <span class="dash-controls">
                <select aria-label="Range" on:change=move |ev| { range.set(event_target_value(&ev)); end.set(None); run(); }>
                    {move || match end.get() {
                        Some(e) => {
                            let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(e * 1000.0));
                            let when = String::from(d.to_locale_string("sv-SE", &wasm_bindgen::JsValue::UNDEFINED));
                            Some(view! { <option selected=true>{format!("{} until {when}", range.get_untracked())}</option> })
                        }
                        None => {
                            let r = range.get();
                            (!RANGES.contains(&r.as_str())).then(|| view! { <option selected=true>{format!("Last {r}")}</option> })
                        }
                    }}
                    {RANGES.iter().map(|r| view! { <option value=*r selected=move || end.get().is_none() && range.get() == *r>{format!("Last {r}")}</option> }).collect_view()}
                </select>
                <input class="step" placeholder="Resolution (auto)" title="Query resolution, e.g. 15s (empty: from the width)"
                    prop:value=move || step.get() on:change=move |ev| { step.set(event_target_value(&ev)); run(); } />
                <label class="check"><input type="checkbox" prop:checked=move || stacked.get() on:change=move |ev| stacked.set(event_target_checked(&ev)) />"Stacked"</label>
                <label class="check"><input type="checkbox" prop:checked=move || zero.get() on:change=move |ev| zero.set(event_target_checked(&ev)) />"From zero"</label>
                <select class="refresh-select" aria-label="Auto-refresh" on:change=move |ev| refresh.set(event_target_value(&ev))>
                    {super::REFRESH.iter().copied().map(|r| view! {
                        <option value=r selected=move || refresh.get() == r>{if r.is_empty() { "Auto-refresh off" } else { r }}</option>
                    }).collect_view()}
                </select>
            </span>
        </div>
        {editors}
        <div class="actions explore-actions">
            <button class="run" on:click=move |_| run()>"Run queries"</button>
            <button on:click=move |_| texts.update(|t| t.push(String::new()))>"Add query"</button>
        </div>
        <div class="tabs" role="tablist">
            <button class:active=move || !tab_table.get() on:click=move |_| tab_table.set(false)>"Graph"</button>
            <button class:active=move || tab_table.get() on:click=move |_| tab_table.set(true)>"Table"</button>
        </div>
        {graph}
    }
}

/// One query's editor: the text, autocomplete under it, its parse error
/// with a caret, and a remove button.
#[component]
fn QueryEditor(
    i: usize,
    texts: RwSignal<Vec<String>>,
    run: Callback<()>,
    metrics: LocalResource<Vec<String>>,
    labels: LocalResource<Vec<String>>,
) -> impl IntoView {
    let text = move || texts.with(|t| t.get(i).cloned().unwrap_or_default());
    let (cursor, set_cursor) = signal(0usize);
    let (chosen, set_chosen) = signal(0usize);
    let (open, set_open) = signal(false);
    let (error, set_error) = signal(None::<String>);
    // Label values, fetched on demand per label name.
    let values: RwSignal<std::collections::BTreeMap<String, Vec<String>>> =
        RwSignal::new(Default::default());
    let fetch_values = move |label: &str| {
        if label.is_empty() || values.with_untracked(|v| v.contains_key(label)) {
            return;
        }
        let label = label.to_string();
        values.update(|v| {
            v.insert(label.clone(), Vec::new());
        });
        leptos::task::spawn_local(async move {
            let vs = api::label_values(&label, None, api::now() - 3600.0, api::now())
                .await
                .unwrap_or_default();
            values.update(|v| {
                v.insert(label, vs);
            });
        });
    };
    let current = move || {
        let t = text();
        let ms = metrics.get().unwrap_or_default();
        let ls = labels.get().unwrap_or_default();
        let vs = values.get();
        let (start, list) = suggestions(&t, cursor.get(), &ms, &ls, &|l: &str| {
            fetch_values(l);
            vs.get(l).cloned().unwrap_or_default()
        });
        (start, list)
    };
    let accept = move |pick: String| {
        let (start, _) = current();
        let at = cursor.get_untracked();
        texts.update(|t| {
            if let Some(s) = t.get_mut(i) {
                let end = at.min(s.len());
                s.replace_range(start.min(end)..end, &pick);
            }
        });
        set_cursor.set(start + pick.len());
        set_open.set(false);
    };
    // Check the expression with the server's parser as it is typed.
    Effect::new(move |_| {
        let t = text();
        if t.trim().is_empty() {
            set_error.set(None);
            return;
        }
        leptos::task::spawn_local(async move {
            let r = api::json(
                "GET",
                &format!(
                    "api/v1/format_query?query={}",
                    js_sys::encode_uri_component(&t)
                ),
                None,
            )
            .await;
            // An answer for text that has changed since is dropped.
            if texts.with_untracked(|x| x.get(i) == Some(&t)) {
                set_error.set(r.err());
            }
        });
    });
    view! {
        <section class="panel query-editor" data-query=i.to_string()>
            <div class="query-row">
                <textarea class="query-input" rows="2" spellcheck="false"
                    placeholder="Expression (press Enter to run, Shift+Enter for a new line)"
                    prop:value=text
                    on:input=move |ev| {
                        let v = event_target_value(&ev);
                        let el: web_sys::HtmlTextAreaElement = wasm_bindgen::JsCast::unchecked_into(event_target::<web_sys::HtmlTextAreaElement>(&ev));
                        set_cursor.set(el.selection_start().ok().flatten().unwrap_or(v.len() as u32) as usize);
                        texts.update(|t| if let Some(s) = t.get_mut(i) { *s = v });
                        set_open.set(true);
                        set_chosen.set(0);
                    }
                    on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                        let n = if open.get_untracked() { current().1.len() } else { 0 };
                        match ev.key().as_str() {
                            "ArrowDown" if n > 0 => { ev.prevent_default(); set_chosen.update(|c| *c = (*c + 1) % n); }
                            "ArrowUp" if n > 0 => { ev.prevent_default(); set_chosen.update(|c| *c = (*c + n - 1) % n); }
                            "Tab" if n > 0 => {
                                ev.prevent_default();
                                let pick = current().1.get(chosen.get_untracked()).map(|s| s.0.clone());
                                if let Some(p) = pick { accept(p); }
                            }
                            "Escape" => set_open.set(false),
                            "Enter" if !ev.shift_key() => { ev.prevent_default(); set_open.set(false); run.run(()); }
                            _ => {}
                        }
                    }
                    on:blur=move |_| set_open.set(false)
                ></textarea>
                {move || (texts.with(Vec::len) > 1).then(|| view! {
                    <button class="icon" title="Remove query" on:click=move |_| texts.update(|t| { if i < t.len() { t.remove(i); } })>"✕"</button>
                })}
            </div>
            {move || {
                if !open.get() { return None; }
                let (_, list) = current();
                (!list.is_empty()).then(|| view! {
                    <ul class="suggestions" role="listbox">
                        {list.into_iter().take(12).enumerate().map(|(k, (s, doc))| {
                            let pick = s.clone();
                            view! {
                                <li class:chosen=move || chosen.get() == k role="option"
                                    on:mousedown=move |ev| { ev.prevent_default(); accept(pick.clone()); }>
                                    <b>{s}</b><span class="doc">{doc}</span>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                })
            }}
            {move || error.get().map(|e| {
                let caret = error_position(&e).map(|(_, col)| format!("{}^", " ".repeat(col.saturating_sub(1))));
                view! {
                    <div class="parse-error">
                        {caret.map(|c| view! { <pre class="caret">{text()}"\n"{c}</pre> })}
                        <p class="panel-error">{e}</p>
                    </div>
                }
            })}
        </section>
    }
}

/// The instant result now, a row per series: its labels and its value.
#[component]
fn ResultTable(expr: String, tick: RwSignal<u64>) -> impl IntoView {
    let e2 = expr.clone();
    let rows = LocalResource::new(move || {
        tick.track();
        let expr = e2.clone();
        async move { api::query(&expr).await }
    });
    view! {
        <section class="panel table">
            <h3 class="panel-title">{expr}</h3>
            <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || rows.get().map(|r| match r {
                    Ok(samples) if samples.is_empty() => view! { <p class="hint">"Empty query result"</p> }.into_any(),
                    Ok(samples) => view! {
                        <table class="result">
                            <tbody>
                                {samples.into_iter().take(1000).map(|s| {
                                    let v = s.value.1.parse::<f64>().map_or(s.value.1.clone(), |v| format(v, Unit::parse("none")));
                                    view! {
                                        <tr>
                                            <td class="series">{api::legend("", &s.metric)}</td>
                                            <td class="value" title=s.value.1.clone()>{v}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autocomplete_by_position() {
        let metrics = vec![
            "node_load1".to_string(),
            "node_load5".to_string(),
            "up".to_string(),
        ];
        let labels = vec!["instance".to_string(), "job".to_string()];
        let values = |l: &str| {
            if l == "job" {
                vec!["node".to_string(), "pharos".to_string()]
            } else {
                vec![]
            }
        };
        let (start, s) = suggestions("rate(node_lo", 12, &metrics, &labels, &values);
        assert_eq!(start, 5);
        assert_eq!(
            s.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["node_load1", "node_load5"]
        );
        let (_, s) = suggestions("ra", 2, &metrics, &labels, &values);
        assert_eq!(s[0].0, "rate");
        assert!(s[0].1.contains("per-second"));
        let (start, s) = suggestions("up{jo", 5, &metrics, &labels, &values);
        assert_eq!((start, s[0].0.as_str()), (3, "job"));
        let (start, s) = suggestions("up{job=\"p", 9, &metrics, &labels, &values);
        assert_eq!((start, s.len(), s[0].0.as_str()), (8, 1, "pharos"));
        assert!(suggestions("up{job=\"x\"}", 11, &metrics, &labels, &values)
            .1
            .is_empty());
        assert!(suggestions("up{job=", 7, &metrics, &labels, &values)
            .1
            .is_empty());
        assert_eq!(
            suggestions("up{job=\"x\",", 12, &metrics, &labels, &values)
                .1
                .len(),
            2
        );
    }

    #[test]
    fn parse_error_positions() {
        assert_eq!(
            error_position("invalid parameter \"query\": 1:9: parse error: unexpected \"}\""),
            Some((1, 9))
        );
        assert_eq!(error_position("something else"), None);
    }
}
