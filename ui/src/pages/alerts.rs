//! Alerts: the rules' pending and firing alerts grouped by alert name —
//! the Prometheus UI's Alerts page — with a filter over labels and
//! annotations; each name links to its `ALERTS` series in Explore, each
//! alert to its rule's expression graphed around the time it started
//! firing (or pending) and to a new silence prefilled with its labels. Grouped by
//! notification policy instead, it shows the groups the routing tree
//! makes (Alertmanager's `/api/v2/alerts/groups`: receiver, group labels,
//! silenced alerts marked). The page refreshes every 15 s.

use std::time::Duration;

use leptos::prelude::*;

use super::targets::ago;
use crate::api;

#[component]
pub fn Alerts() -> impl IntoView {
    let (tick, set_tick) = signal(0u64);
    let _ = set_interval_with_handle(
        move || set_tick.update(|n| *n += 1),
        Duration::from_secs(15),
    );
    let (filter, set_filter) = signal(String::new());
    let limit = super::row_budget();
    let alerts = LocalResource::new(move || {
        tick.track();
        api::alerts()
    });
    // The alerting rules' expressions by alert name, for the graph links.
    let exprs = LocalResource::new(|| async {
        let v = api::data("api/v1/rules?type=alert")
            .await
            .unwrap_or_default();
        let mut m = std::collections::BTreeMap::new();
        for g in v["groups"].as_array().into_iter().flatten() {
            for r in g["rules"].as_array().into_iter().flatten() {
                if let (Some(n), Some(q)) = (r["name"].as_str(), r["query"].as_str()) {
                    m.entry(n.to_string()).or_insert_with(|| q.to_string());
                }
            }
        }
        m
    });
    let (by_route, set_by_route) = signal(false);
    let routed = LocalResource::new(move || {
        tick.track();
        let on = by_route.get();
        async move {
            if !on {
                return Ok(serde_json::Value::Null);
            }
            api::json("GET", "api/v2/alerts/groups", None).await
        }
    });
    let base = super::base_path();
    let silence_link = move |labels: &std::collections::BTreeMap<String, String>| {
        let m: Vec<String> = labels
            .iter()
            .map(|(k, v)| {
                crate::pages::silences::Matcher {
                    name: k.clone(),
                    op: "=".into(),
                    value: v.clone(),
                }
                .text()
            })
            .collect();
        format!(
            "{base}/silences/new?filter={}",
            String::from(js_sys::encode_uri_component(&format!(
                "{{{}}}",
                m.join(",")
            )))
        )
    };
    view! {
        <div class="dashboard-header">
            <h1>"Alerts"</h1>
            <span class="dash-controls">
                <select class="group-by" aria-label="Group by" on:change=move |ev| set_by_route.set(event_target_value(&ev) == "route")>
                    <option value="name">"Group by alert name"</option>
                    <option value="route">"Group by notification policy"</option>
                </select>
                <input
                    class="filter"
                    type="search"
                    placeholder="Filter by label or annotation"
                    prop:value=move || filter.get()
                    on:input=move |ev| set_filter.set(event_target_value(&ev))
                />
            </span>
        </div>
        {move || by_route.get().then(|| view! {
            <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
                {move || routed.get().map(|r| match r {
                    Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                    Ok(v) => {
                        let needle = filter.get().to_ascii_lowercase();
                        v.as_array().cloned().unwrap_or_default().into_iter().map(|g| {
                            let labels = g["labels"].as_object().map(|o| o.iter().map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(", ")).unwrap_or_default();
                            let alerts: Vec<serde_json::Value> = g["alerts"].as_array().cloned().unwrap_or_default().into_iter()
                                .filter(|a| needle.is_empty() || a.to_string().to_ascii_lowercase().contains(&needle)).collect();
                            view! {
                                <section class="panel alert-group route-group">
                                    <h3 class="panel-title">{format!("{} · {{{labels}}} ({} alerts)", g["receiver"]["name"].as_str().unwrap_or(""), alerts.len())}</h3>
                                    <table class="result alerts"><tbody>
                                        {alerts.into_iter().map(|a| {
                                            let state = a["status"]["state"].as_str().unwrap_or("").to_string();
                                            let ls = a["labels"].as_object().map(|o| o.iter().map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(", ")).unwrap_or_default();
                                            view! {
                                                <tr>
                                                    <td><span class=format!("state {}", if state == "suppressed" { "pending" } else { "firing" })>{if state == "suppressed" { "SILENCED".to_string() } else { state.to_ascii_uppercase() }}</span></td>
                                                    <td class="series">{ls}</td>
                                                    <td>{a["annotations"]["summary"].as_str().unwrap_or("").to_string()}</td>
                                                    <td class="value">{ago(a["startsAt"].as_str().unwrap_or(""))}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody></table>
                                </section>
                            }
                        }).collect_view().into_any()
                    }
                })}
            </Transition>
        })}
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || (!by_route.get()).then(|| alerts.get()).flatten().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(all) => {
                    let needle = filter.get().to_ascii_lowercase();
                    let groups = super::grouped(
                        all.into_iter().filter(|a| {
                            needle.is_empty()
                                || a.labels.iter().chain(&a.annotations)
                                    .map(|(k, v)| format!("{k}=\"{v}\" "))
                                    .collect::<String>()
                                    .to_ascii_lowercase()
                                    .contains(&needle)
                        }),
                        |a| a.labels.get("alertname").cloned().unwrap_or_default(),
                    );
                    if groups.is_empty() {
                        return view! { <p class="hint">"No pending or firing alerts."</p> }.into_any();
                    }
                    let (shown, hidden) = super::budgeted(&groups, limit.get());
                    let exprs = exprs.get().unwrap_or_default();
                    view! {
                        {groups.into_iter().zip(shown).filter(|(_, n)| *n > 0).map(|((name, list), n)| {
                            let firing = list.iter().filter(|a| a.state == "firing").count();
                            let link = format!(
                                "graph?g0.expr={}&g0.tab=0",
                                String::from(js_sys::encode_uri_component(&format!("ALERTS{{alertname=\"{name}\"}}")))
                            );
                            view! {
                                <section class="panel alert-group">
                                    <h3 class="panel-title">
                                        <a href=link>{name.clone()}</a>
                                        {format!(" ({} firing, {} pending)", firing, list.len() - firing)}
                                    </h3>
                                    <table class="result alerts">
                                        <tbody>
                                            {list.into_iter().take(n).map(|a| {
                                                let labels = a.labels.iter()
                                                    .filter(|(k, _)| k.as_str() != "alertname")
                                                    .map(|(k, v)| format!("{k}=\"{v}\""))
                                                    .collect::<Vec<_>>()
                                                    .join(", ");
                                                let summary = a.annotations.get("summary")
                                                    .or_else(|| a.annotations.get("description"))
                                                    .cloned()
                                                    .unwrap_or_default();
                                                let since = a.active_at.as_deref().map(ago).unwrap_or_default();
                                                let silence = silence_link(&a.labels);
                                                let graph = exprs.get(&name).zip(a.active_at.as_deref()).map(|(q, at)| graph_around(q, at));
                                                view! {
                                                    <tr>
                                                        <td><span class=format!("state {}", a.state)>{a.state.to_ascii_uppercase()}</span></td>
                                                        <td class="series">{labels}</td>
                                                        <td>{summary}</td>
                                                        <td class="value">{since}</td>
                                                        <td class="value">
                                                            {graph.map(|g| view! { <a class="button graph" href=g title="The rule's expression around the time this alert started">"Graph"</a> })}
                                                            <a class="button silence" href=silence>"Silence"</a>
                                                        </td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                            }
                        }).collect_view()}
                        {super::show_more(limit, hidden)}
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// An Explore link to `expr` over the hour around `active_at` (RFC 3339),
/// or from half an hour before it until now when it is recent.
pub fn graph_around(expr: &str, active_at: &str) -> String {
    let at = js_sys::Date::parse(active_at) / 1000.0;
    let now = api::now();
    let q = String::from(js_sys::encode_uri_component(expr));
    if !at.is_finite() {
        return format!("graph?g0.expr={q}&g0.tab=0&g0.range_input=1h");
    }
    if at + 1800.0 < now {
        format!(
            "graph?g0.expr={q}&g0.tab=0&g0.range_input=1h&g0.end_input={}",
            super::end_input(at + 1800.0)
        )
    } else {
        let minutes = ((now - at + 1800.0) / 60.0).ceil().max(60.0);
        format!("graph?g0.expr={q}&g0.tab=0&g0.range_input={minutes}m")
    }
}
