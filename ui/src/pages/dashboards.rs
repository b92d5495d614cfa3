//! The dashboard list (`/dashboards`: search by title and tag, grouped by
//! folder, from Grafana's `/api/search`) and the import page
//! (`/dashboard/import`: a Grafana dashboard JSON uploaded as a file or
//! pasted, saved through `/api/dashboards/import` with every data source
//! input pointed at pharos).

use leptos::prelude::*;
use serde_json::{json, Value};
use wasm_bindgen::JsCast;

use crate::api;

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

#[component]
pub fn Dashboards() -> impl IntoView {
    let (query, set_query) = signal(String::new());
    let hits = LocalResource::new(move || {
        let q = query.get();
        async move {
            api::json(
                "GET",
                &format!(
                    "api/search?type=dash-db&query={}",
                    js_sys::encode_uri_component(&q)
                ),
                None,
            )
            .await
        }
    });
    let base = super::base_path();
    view! {
        <div class="dashboard-header">
            <h1>"Dashboards"</h1>
            <span class="dash-controls">
                <a class="button" href=format!("{base}/dashboard/new")>"New dashboard"</a>
                <a class="button" href=format!("{base}/dashboard/import")>"Import"</a>
            </span>
        </div>
        <input class="filter" type="search" placeholder="Search dashboards by name"
            on:input=move |ev| set_query.set(event_target_value(&ev)) />
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || hits.get().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(Value::Array(list)) if list.is_empty() => view! { <p class="hint">"No dashboards found."</p> }.into_any(),
                Ok(Value::Array(list)) => {
                    let groups = super::grouped(list, |h| {
                        let f = text(h, "folderTitle");
                        if f.is_empty() { "General".to_string() } else { f }
                    });
                    let base = base.clone();
                    view! {
                        <div class="dash-list">
                            {groups.into_iter().map(|(folder, items)| {
                                let base = base.clone();
                                view! {
                                    <section class="panel">
                                        <h3 class="panel-title">{folder}</h3>
                                        <ul>
                                            {items.into_iter().map(|h| {
                                                let tags: Vec<String> = h.get("tags").and_then(Value::as_array).map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default();
                                                view! {
                                                    <li>
                                                        <a href=format!("{base}{}", text(&h, "url"))>{text(&h, "title")}</a>
                                                        {tags.into_iter().map(|t| view! { <span class="tag">{t}</span> }).collect_view()}
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                    </section>
                                }
                            }).collect_view()}
                        </div>
                    }.into_any()
                }
                Ok(_) => view! { <p class="panel-error">"unexpected answer from api/search"</p> }.into_any(),
            })}
        </Transition>
    }
}

/// The body of `/api/dashboards/import` for `doc`: its data source
/// inputs (`__inputs`) all set to pharos.
pub fn import_request(doc: Value, overwrite: bool) -> Value {
    let inputs: Vec<Value> = doc
        .get("__inputs")
        .and_then(Value::as_array)
        .map(|ins| {
            ins.iter()
                .map(|i| {
                    json!({
                        "name": text(i, "name"),
                        "type": text(i, "type"),
                        "pluginId": text(i, "pluginId"),
                        "value": "pharos",
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({"dashboard": doc, "overwrite": overwrite, "inputs": inputs, "folderUid": ""})
}

#[component]
pub fn Import() -> impl IntoView {
    let (body, set_body) = signal(String::new());
    let (status, set_status) = signal(None::<Result<String, String>>);
    let submit = move |overwrite: bool| {
        let doc: Value = match serde_json::from_str(&body.get_untracked()) {
            Ok(v) => v,
            Err(e) => {
                set_status.set(Some(Err(format!("This is not valid JSON: {e}"))));
                return;
            }
        };
        leptos::task::spawn_local(async move {
            let base = super::base_path();
            match api::json(
                "POST",
                "api/dashboards/import",
                Some(&import_request(doc, overwrite)),
            )
            .await
            {
                Ok(r) => {
                    let url = r
                        .get("importedUrl")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string();
                    if let Some(w) = web_sys::window() {
                        let _ = w.location().set_href(&format!("{base}{url}"));
                    }
                    set_status.set(Some(Ok(url)));
                }
                Err(e) => set_status.set(Some(Err(e))),
            }
        });
    };
    let on_file = move |ev: leptos::ev::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        let Some(file) = input.files().and_then(|f| f.get(0)) else {
            return;
        };
        leptos::task::spawn_local(async move {
            if let Ok(t) = wasm_bindgen_futures::JsFuture::from(file.text()).await {
                set_body.set(t.as_string().unwrap_or_default());
            }
        });
    };
    view! {
        <div class="dashboard-header"><h1>"Import dashboard"</h1></div>
        <section class="panel import">
            <p>"Upload a Grafana dashboard JSON file, or paste its JSON. Its Prometheus data source is pharos."</p>
            <input type="file" accept=".json,application/json" on:change=on_file />
            <textarea class="query-input" rows="14" spellcheck="false" placeholder="Dashboard JSON"
                prop:value=move || body.get() on:input=move |ev| set_body.set(event_target_value(&ev))></textarea>
            <div class="actions">
                <button class="run" on:click=move |_| submit(false)>"Load"</button>
                {move || matches!(status.get(), Some(Err(_))).then(|| view! {
                    <button on:click=move |_| submit(true)>"Import (overwrite)"</button>
                })}
            </div>
            {move || status.get().map(|s| match s {
                Ok(url) => view! { <p class="hint">{format!("Imported: {url}")}</p> }.into_any(),
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
            })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn inputs_point_at_pharos() {
        let doc = serde_json::json!({"__inputs": [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}], "title": "x"});
        let r = super::import_request(doc, false);
        assert_eq!(r["inputs"][0]["name"], "DS_PROMETHEUS");
        assert_eq!(r["inputs"][0]["value"], "pharos");
        assert_eq!(r["dashboard"]["title"], "x");
    }
}
