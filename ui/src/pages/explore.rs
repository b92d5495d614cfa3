//! Explore: type a PromQL query, run it, see it as a graph over the chosen
//! range or as a table of the instant result — the Prometheus UI's graph
//! page. Enter runs the query (Shift+Enter adds a line), as there. The
//! Prometheus UI's links work: `/graph?g0.expr=up&g0.tab=1&g0.range_input=6h`
//! (`g0.tab` 0 or `graph`: graph; 1 or `table`: table).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api;
use crate::components::timepicker::{parse_relative, TimePicker};
use crate::components::timeseries::{Target, TimeSeriesPanel};
use crate::units::{format, Unit};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Graph,
    Table,
}

#[component]
pub fn Explore() -> impl IntoView {
    let params = use_query_map().get_untracked();
    let initial = params
        .get("g0.expr")
        .or_else(|| params.get("expr"))
        .unwrap_or_default();
    let initial_tab = match params.get("g0.tab").as_deref() {
        Some("1") | Some("table") => Tab::Table,
        _ => Tab::Graph,
    };
    let initial_range = params
        .get("g0.range_input")
        .and_then(|r| parse_relative(&format!("now-{r}")))
        .unwrap_or(3600.0);
    let (text, set_text) = signal(initial.clone());
    let (expr, set_expr) = signal(initial);
    let (tab, set_tab) = signal(initial_tab);
    let (range, set_range) = signal(initial_range);
    let (tick, set_tick) = signal(0u64);
    let run = move || {
        set_expr.set(text.get_untracked().trim().to_string());
        set_tick.update(|n| *n += 1);
    };
    view! {
        <div class="dashboard-header">
            <h1>"Explore"</h1>
            <TimePicker range=range set_range=set_range />
        </div>
        <section class="panel query-editor">
            <textarea
                class="query-input"
                rows="2"
                spellcheck="false"
                placeholder="Expression (press Enter to run, Shift+Enter for a new line)"
                prop:value=move || text.get()
                on:input=move |ev| set_text.set(event_target_value(&ev))
                on:keydown=move |ev: leptos::ev::KeyboardEvent| {
                    if ev.key() == "Enter" && !ev.shift_key() {
                        ev.prevent_default();
                        run();
                    }
                }
            ></textarea>
            <button class="run" on:click=move |_| run()>"Run query"</button>
        </section>
        <div class="tabs" role="tablist">
            <button class:active=move || tab.get() == Tab::Graph on:click=move |_| set_tab.set(Tab::Graph)>
                "Graph"
            </button>
            <button class:active=move || tab.get() == Tab::Table on:click=move |_| set_tab.set(Tab::Table)>
                "Table"
            </button>
        </div>
        {move || {
            let e = expr.get();
            if e.is_empty() {
                return view! { <p class="hint">"Type a PromQL expression, e.g. up or rate(node_cpu_seconds_total[5m])."</p> }.into_any();
            }
            match tab.get() {
                Tab::Graph => view! {
                    <TimeSeriesPanel
                        title=""
                        targets=vec![Target { expr: e, legend: String::new() }]
                        unit=Unit::parse("short")
                        range=range
                        tick=tick
                    />
                }
                .into_any(),
                Tab::Table => view! { <ResultTable expr=e tick=tick /> }.into_any(),
            }
        }}
    }
}

/// The instant result now, a row per series: its labels and its value.
#[component]
fn ResultTable(expr: String, tick: ReadSignal<u64>) -> impl IntoView {
    let rows = LocalResource::new(move || {
        tick.track();
        let expr = expr.clone();
        async move { api::query(&expr).await }
    });
    view! {
        <section class="panel table">
            <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || rows.get().map(|r| match r {
                    Ok(samples) if samples.is_empty() => view! { <p class="hint">"Empty query result"</p> }.into_any(),
                    Ok(samples) => view! {
                        <table class="result">
                            <tbody>
                                {samples.into_iter().map(|s| {
                                    let v = s.value.1.parse::<f64>().map_or(s.value.1.clone(), |v| format(v, Unit::parse("short")));
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
