//! Rules: every rule group with its rules — the Prometheus UI's Rules
//! page: each rule's expression (linked to Explore), health, last
//! evaluation and how long it took, its error, and for alerting rules the
//! state and `for`. A filter keeps groups or rules whose name or
//! expression contains the text; "Unhealthy only" keeps rules that fail.

use leptos::prelude::*;
use serde_json::Value;

use super::targets::ago;
use crate::api;
use crate::units::{format, Unit};

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

#[component]
pub fn Rules() -> impl IntoView {
    let rules = LocalResource::new(|| async { api::json("GET", "api/v1/rules", None).await });
    let (filter, set_filter) = signal(String::new());
    let (unhealthy, set_unhealthy) = signal(false);
    let limit = super::row_budget();
    view! {
        <div class="dashboard-header">
            <h1>"Rules"</h1>
            <span class="dash-controls">
                <label class="check"><input type="checkbox" on:change=move |ev| set_unhealthy.set(event_target_checked(&ev)) />"Unhealthy only"</label>
                <input class="filter" type="search" placeholder="Filter by group, rule name or expression"
                    on:input=move |ev| set_filter.set(event_target_value(&ev)) />
            </span>
        </div>
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || rules.get().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(v) => {
                    let needle = filter.get().to_ascii_lowercase();
                    let only_bad = unhealthy.get();
                    let groups: Vec<Value> = v["data"]["groups"].as_array().cloned().unwrap_or_default();
                    if groups.is_empty() {
                        return view! { <p class="hint">"No rule groups are loaded."</p> }.into_any();
                    }
                    let kept: Vec<(Value, Vec<Value>)> = groups.into_iter().filter_map(|g| {
                        let group_hit = s(&g, "name").to_ascii_lowercase().contains(&needle);
                        let rules: Vec<Value> = g["rules"].as_array().cloned().unwrap_or_default().into_iter().filter(|r| {
                            (group_hit || needle.is_empty()
                                || s(r, "name").to_ascii_lowercase().contains(&needle)
                                || s(r, "query").to_ascii_lowercase().contains(&needle))
                                && (!only_bad || s(r, "health") != "ok")
                        }).collect();
                        (!rules.is_empty()).then_some((g, rules))
                    }).collect();
                    let (shown, hidden) = super::budgeted(&kept, limit.get());
                    let list = kept.into_iter().zip(shown).filter(|(_, n)| *n > 0).map(|((g, rules), n)| {
                        view! {
                            <section class="panel rule-group">
                                <h3 class="panel-title">
                                    {s(&g, "name")}
                                    <span class="muted">{format!("  {} · every {} s · last run {} in {}", s(&g, "file"), s(&g, "interval"), ago(&s(&g, "lastEvaluation")), format(g["evaluationTime"].as_f64().unwrap_or(0.0), Unit::parse("s")))}</span>
                                </h3>
                                <table class="result rules"><tbody>
                                    {rules.into_iter().take(n).map(|r| {
                                        let link = format!("graph?g0.expr={}&g0.tab=0", String::from(js_sys::encode_uri_component(&s(&r, "query"))));
                                        let kind = if s(&r, "type") == "alerting" { "alert" } else { "record" };
                                        let health = s(&r, "health");
                                        let state = s(&r, "state");
                                        let dur = r["duration"].as_f64().filter(|d| *d > 0.0).map(|d| format!(" for {}", format(d, Unit::parse("s"))));
                                        view! {
                                            <tr data-rule=s(&r, "name")>
                                                <td class="series">
                                                    <b>{format!("{kind}: {}", s(&r, "name"))}</b>
                                                    <pre class="expr"><a href=link>{s(&r, "query")}</a>{dur}</pre>
                                                    {(!s(&r, "lastError").is_empty()).then(|| view! { <p class="panel-error">{s(&r, "lastError")}</p> })}
                                                </td>
                                                <td>
                                                    <span class=format!("health {}", if health == "ok" { "up" } else if health == "err" { "down" } else { "unknown" })>{health.to_ascii_uppercase()}</span>
                                                    {(!state.is_empty()).then(|| view! { <span class=format!("state {state}")>{state.to_ascii_uppercase()}</span> })}
                                                </td>
                                                <td class="value">{ago(&s(&r, "lastEvaluation"))}</td>
                                                <td class="value">{format(r["evaluationTime"].as_f64().unwrap_or(0.0), Unit::parse("s"))}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody></table>
                            </section>
                        }
                    }).collect_view();
                    view! { {list} {super::show_more(limit, hidden)} }.into_any()
                }
            })}
        </Transition>
    }
}
