//! Host Collectors: the built-in node_exporter's collectors with an on/off
//! switch each (pharos's `/api/v1/collectors`, switched with
//! `POST /api/v1/collectors/<name>?enabled=…`). After a switch the list
//! is read again, so the page shows what the server did, not what was
//! asked.

use leptos::prelude::*;
use serde_json::Value;

use super::status::loaded;
use crate::api;

/// `(name, enabled)` of each collector in the answer.
pub fn collector_list(v: &Value) -> Vec<(String, bool)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| Some((c["name"].as_str()?.to_string(), c["enabled"].as_bool()?)))
                .collect()
        })
        .unwrap_or_default()
}

#[component]
pub fn Collectors() -> impl IntoView {
    let (version, set_version) = signal(0u32);
    // The collector being switched: its switch waits for the answer.
    let (busy, set_busy) = signal(None::<String>);
    let (error, set_error) = signal(None::<String>);
    let switch = move |name: String, on: bool| {
        set_busy.set(Some(name.clone()));
        set_error.set(None);
        leptos::task::spawn_local(async move {
            if let Err(e) = api::set_collector(&name, on).await {
                set_error.set(Some(format!("{name}: {e}")));
            }
            set_busy.set(None);
            set_version.update(|v| *v += 1);
        });
    };
    view! {
        <div class="dashboard-header"><h1>"Host Collectors"</h1></div>
        <p class="hint">
            "The host metrics (job "<code>"node"</code>") come from these collectors; a collector switched off "
            "stops its metrics from the next scrape until it is switched on or pharos restarts."
        </p>
        {move || error.get().map(|e| view! { <p class="panel-error">{e}</p> })}
        {loaded(&["api/v1/collectors"], Some(version), move |vs| view! {
                    <table class="result kv collectors">
                        <thead><tr><th>"Collector"</th><th>"State"</th><th>"Switch"</th></tr></thead>
                        <tbody>
                            {collector_list(&vs[0]).into_iter().map(|(name, enabled)| {
                                let pending = {
                                    let name = name.clone();
                                    move || busy.get().as_deref() == Some(name.as_str())
                                };
                                let state = if enabled { "on" } else { "off" };
                                let label = format!("{name} collector");
                                let (attr, cell) = (name.clone(), name.clone());
                                view! {
                                    <tr data-collector=attr>
                                        <td>{cell}</td>
                                        <td><span class=format!("health {}", if enabled { "up" } else { "unknown" })>{state}</span></td>
                                        <td>
                                            <label class="switch">
                                                <input
                                                    type="checkbox"
                                                    role="switch"
                                                    aria-label=label
                                                    prop:checked=enabled
                                                    disabled=pending
                                                    on:change=move |ev| switch(name.clone(), event_target_checked(&ev))
                                                />
                                                <span class="slider"></span>
                                            </label>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
        }.into_any())}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn collectors_read_from_the_answer() {
        let v = serde_json::json!([{"name": "cpu", "enabled": true}, {"name": "arp", "enabled": false}, {"bad": 1}]);
        assert_eq!(
            super::collector_list(&v),
            [("cpu".to_string(), true), ("arp".to_string(), false)]
        );
    }
}
