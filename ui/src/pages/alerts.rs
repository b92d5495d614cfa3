//! Alerts: the rules' pending and firing alerts grouped by alert name —
//! the Prometheus UI's Alerts page — with a filter over labels and
//! annotations; each name links to its `ALERTS` series in Explore. The
//! page refreshes every 15 s.

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
    let alerts = LocalResource::new(move || {
        tick.track();
        api::alerts()
    });
    view! {
        <div class="dashboard-header">
            <h1>"Alerts"</h1>
            <input
                class="filter"
                type="search"
                placeholder="Filter by label or annotation"
                prop:value=move || filter.get()
                on:input=move |ev| set_filter.set(event_target_value(&ev))
            />
        </div>
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || alerts.get().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(all) => {
                    let needle = filter.get().to_lowercase();
                    let groups = super::grouped(
                        all.into_iter().filter(|a| {
                            needle.is_empty()
                                || format!("{:?} {:?}", a.labels, a.annotations).to_lowercase().contains(&needle)
                        }),
                        |a| a.labels.get("alertname").cloned().unwrap_or_default(),
                    );
                    if groups.is_empty() {
                        return view! { <p class="hint">"No pending or firing alerts."</p> }.into_any();
                    }
                    view! {
                        {groups.into_iter().map(|(name, list)| {
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
                                            {list.into_iter().map(|a| {
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
                                                view! {
                                                    <tr>
                                                        <td><span class=format!("state {}", a.state)>{a.state.to_uppercase()}</span></td>
                                                        <td class="series">{labels}</td>
                                                        <td>{summary}</td>
                                                        <td class="value">{since}</td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                            }
                        }).collect_view()}
                    }.into_any()
                }
            })}
        </Transition>
    }
}
