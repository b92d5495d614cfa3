//! Host Collectors: the built-in node_exporter's collectors with an on/off
//! switch each (pharos's `/api/v1/collectors`, switched with
//! `POST /api/v1/collectors/<name>?enabled=…`). After a switch the list
//! is read again, so the page shows what the server did, not what was
//! asked.

use leptos::prelude::*;

use crate::api;

#[component]
pub fn Collectors() -> impl IntoView {
    let (version, set_version) = signal(0u32);
    // The collector being switched: its switch waits for the answer.
    let (busy, set_busy) = signal(None::<String>);
    let (error, set_error) = signal(None::<String>);
    let list = LocalResource::new(move || {
        version.track();
        api::collectors()
    });
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
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || list.get().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(cs) => view! {
                    <table class="result kv collectors">
                        <thead><tr><th>"Collector"</th><th>"State"</th><th>"Switch"</th></tr></thead>
                        <tbody>
                            {cs.into_iter().map(|c| {
                                let name = c.name.clone();
                                let pending = {
                                    let name = name.clone();
                                    move || busy.get().as_deref() == Some(name.as_str())
                                };
                                let state = if c.enabled { "on" } else { "off" };
                                view! {
                                    <tr data-collector=c.name.clone()>
                                        <td>{c.name.clone()}</td>
                                        <td><span class=format!("health {}", if c.enabled { "up" } else { "unknown" })>{state}</span></td>
                                        <td>
                                            <label class="switch">
                                                <input
                                                    type="checkbox"
                                                    role="switch"
                                                    aria-label=format!("{} collector", c.name)
                                                    prop:checked=c.enabled
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
                }.into_any(),
            })}
        </Transition>
    }
}
