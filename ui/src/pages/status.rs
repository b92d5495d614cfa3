//! The Status menu of the top bar and its small pages, at the Prometheus
//! UI's paths: `/status` (runtime and build information), `/flags` (the
//! command-line flags, filterable) and `/config` (the configuration in
//! force, copyable). The larger status pages have their own modules:
//! [`super::service_discovery`], [`super::tsdb_status`],
//! [`super::collectors`].
//!
//! The helpers every status page shares live here: [`loaded`] (fetch and
//! show, one reactive machinery for all of them, which keeps the bundle
//! small), [`Filter`] (what the filter boxes match) and [`ROW_LIMIT`] with
//! [`capped`], so a table of thousands of rows renders only its first
//! thousand.

use std::sync::Arc;

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;
use serde_json::Value;
use wasm_bindgen::JsCast;

use crate::api;

/// Rows a status table renders at most: more would make every keystroke
/// in its filter re-render thousands of rows.
pub const ROW_LIMIT: usize = 1000;

/// A filter box's text: every whitespace-separated term must occur in a
/// row's text, ignoring case.
pub struct Filter(Vec<String>);

impl Filter {
    pub fn new(text: &str) -> Filter {
        Filter(
            text.split_whitespace()
                .map(str::to_ascii_lowercase)
                .collect(),
        )
    }

    pub fn matches(&self, text: &str) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let text = text.to_ascii_lowercase();
        self.0.iter().all(|t| text.contains(t.as_str()))
    }
}

/// The first `limit` of `rows`, and how many there were.
pub fn capped<T>(rows: impl IntoIterator<Item = T>, limit: usize) -> (Vec<T>, usize) {
    let mut shown = Vec::new();
    let mut total = 0;
    for r in rows {
        if shown.len() < limit {
            shown.push(r);
        }
        total += 1;
    }
    (shown, total)
}

/// What a status page shows of the answers it loaded.
type Render = Arc<dyn Fn(&[Value]) -> AnyView + Send + Sync>;

/// The `data` of the API answers at `urls` (read again whenever `trigger`
/// changes), shown by `render`; "Loading…" until they arrive, the error if
/// one fails.
pub fn loaded(
    urls: &'static [&'static str],
    trigger: Option<ReadSignal<u32>>,
    render: impl Fn(&[Value]) -> AnyView + Send + Sync + 'static,
) -> AnyView {
    // Not generic past this point: every page shares one instance of the
    // resource and Transition code.
    loaded_boxed(urls, trigger, Arc::new(render))
}

fn loaded_boxed(
    urls: &'static [&'static str],
    trigger: Option<ReadSignal<u32>>,
    render: Render,
) -> AnyView {
    let data = LocalResource::new(move || {
        if let Some(t) = trigger {
            t.track();
        }
        async move {
            let mut out = Vec::with_capacity(urls.len());
            for u in urls {
                out.push(api::data(u).await?);
            }
            Ok::<_, String>(out)
        }
    });
    view! {
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || data.get().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(vs) => render(&vs),
            })}
        </Transition>
    }
    .into_any()
}

/// The note under a table that shows only part of its rows.
pub fn limit_note(shown: usize, total: usize) -> Option<String> {
    (shown < total).then(|| {
        format!("Showing the first {shown} of {total} rows: narrow the filter to see the others.")
    })
}

/// The status pages, as the Prometheus UI's Status menu orders them
/// (path, title), plus pharos's host collectors.
const PAGES: &[(&str, &str)] = &[
    ("/status", "Runtime & Build Information"),
    ("/tsdb-status", "TSDB Status"),
    ("/flags", "Command-Line Flags"),
    ("/config", "Configuration"),
    ("/targets", "Targets"),
    ("/service-discovery", "Service Discovery"),
    ("/collectors", "Host Collectors"),
];

/// The top bar's Status menu: a `<details>` dropdown (a keyboard opens it
/// with Enter or Space on its summary; Escape, a click on a link or outside
/// closes it), marked active on any of its pages.
#[component]
pub fn StatusMenu() -> impl IntoView {
    let base = super::base_path();
    let location = use_location();
    let menu = NodeRef::<leptos::html::Details>::new();
    let active = {
        let base = base.clone();
        move || {
            let path = location.pathname.get();
            PAGES
                .iter()
                .any(|(p, _)| path == *p || path.strip_prefix(base.as_str()) == Some(*p))
        }
    };
    let close = move || {
        if let Some(d) = menu.get_untracked() {
            let _ = d.remove_attribute("open");
        }
    };
    let outside = window_event_listener(leptos::ev::click, move |ev| {
        let inside = menu.get_untracked().is_some_and(|d| {
            ev.target()
                .and_then(|t| t.dyn_into::<web_sys::Node>().ok())
                .is_some_and(|t| d.contains(Some(&t)))
        });
        if !inside {
            close();
        }
    });
    on_cleanup(move || outside.remove());
    let links = PAGES
        .iter()
        .map(|(path, title)| view! { <A href=format!("{base}{path}")>{*title}</A> })
        .collect_view();
    view! {
        <details
            class="menu"
            node_ref=menu
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    close();
                    if let Some(s) = menu
                        .get_untracked()
                        .and_then(|d| d.query_selector("summary").ok().flatten())
                        .and_then(|s| s.dyn_into::<web_sys::HtmlElement>().ok())
                    {
                        let _ = s.focus();
                    }
                }
            }
        >
            <summary class:active=active>"Status"</summary>
            <div class="menu-list" on:click=move |_| close()>
                {links}
            </div>
        </details>
    }
}

/// Runtime information's keys in Prometheus's order, with the titles its
/// UI gives them (the Go runtime's names stay as they are).
const RUNTIME_KEYS: &[(&str, &str)] = &[
    ("startTime", "Start time"),
    ("CWD", "Working directory"),
    ("hostname", "Hostname"),
    ("serverTime", "Server time"),
    ("reloadConfigSuccess", "Configuration reload"),
    ("lastConfigTime", "Last successful configuration reload"),
    ("corruptionCount", "WAL corruptions"),
    ("goroutineCount", "Goroutines"),
    ("GOMAXPROCS", "GOMAXPROCS"),
    ("GOMEMLIMIT", "GOMEMLIMIT"),
    ("GOGC", "GOGC"),
    ("GODEBUG", "GODEBUG"),
    ("storageRetention", "Storage retention"),
];

/// Build information's keys in Prometheus's order; its UI shows them as
/// they are.
const BUILD_KEYS: &[(&str, &str)] = &[
    ("version", "version"),
    ("revision", "revision"),
    ("branch", "branch"),
    ("buildUser", "buildUser"),
    ("buildDate", "buildDate"),
    ("goVersion", "goVersion"),
];

/// `(title, value)` rows of a status object: the `known` keys first in
/// their order and with their titles, then any others by name.
pub fn info_rows(map: &Value, known: &[(&str, &str)]) -> Vec<(String, String)> {
    let empty = serde_json::Map::new();
    let map = map.as_object().unwrap_or(&empty);
    let text = |k: &str, v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) if k == "reloadConfigSuccess" => {
            if *b { "Successful" } else { "Unsuccessful" }.to_string()
        }
        other => other.to_string(),
    };
    let mut rows: Vec<(String, String)> = known
        .iter()
        .filter_map(|(k, title)| map.get(*k).map(|v| (title.to_string(), text(k, v))))
        .collect();
    rows.extend(
        map.iter()
            .filter(|(k, _)| !known.iter().any(|(n, _)| n == k))
            .map(|(k, v)| (k.clone(), text(k, v))),
    );
    rows
}

/// A plain table of text cells: the one table view every status page
/// uses (one view type keeps the bundle small). `head` empty: no header
/// row.
pub fn table(class: &'static str, head: Vec<String>, rows: Vec<Vec<String>>) -> AnyView {
    view! {
        <table class=class>
            {(!head.is_empty()).then(|| view! {
                <thead><tr>{head.into_iter().map(|h| view! { <th>{h}</th> }).collect_view()}</tr></thead>
            })}
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>{r.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// A panel with a title over a table.
pub fn titled_table(
    title: &'static str,
    class: &'static str,
    head: Vec<String>,
    rows: Vec<Vec<String>>,
) -> AnyView {
    view! {
        <section class="panel status-section">
            <h2 class="panel-title">{title}</h2>
            {table(class, head, rows)}
        </section>
    }
    .into_any()
}

fn info_table(title: &'static str, rows: Vec<(String, String)>) -> AnyView {
    let rows = rows.into_iter().map(|(k, v)| vec![k, v]).collect();
    titled_table(title, "result kv info", Vec::new(), rows)
}

/// `/status`: Runtime Information and Build Information.
#[component]
pub fn RuntimeAndBuild() -> impl IntoView {
    const URLS: &[&str] = &["api/v1/status/runtimeinfo", "api/v1/status/buildinfo"];
    view! {
        <div class="dashboard-header"><h1>"Runtime & Build Information"</h1></div>
        {loaded(URLS, None, |vs| view! {
            {info_table("Runtime Information", info_rows(&vs[0], RUNTIME_KEYS))}
            {info_table("Build Information", info_rows(&vs[1], BUILD_KEYS))}
        }.into_any())}
    }
}

/// `(--name, value)` of the flags `filter` matches (name or value).
pub fn flag_rows(flags: &Value, filter: &Filter) -> Vec<(String, String)> {
    api::string_map(flags)
        .into_iter()
        .map(|(k, v)| (format!("--{k}"), v))
        .filter(|(k, v)| filter.matches(&format!("{k} {v}")))
        .collect()
}

/// `/flags`: the command-line flags and their values.
#[component]
pub fn Flags() -> impl IntoView {
    let (filter, set_filter) = signal(String::new());
    view! {
        <div class="dashboard-header">
            <h1>"Command-Line Flags"</h1>
            <input
                class="filter"
                type="search"
                placeholder="Filter by flag name or value"
                aria-label="Filter flags"
                on:input=move |ev| set_filter.set(event_target_value(&ev))
            />
        </div>
        {loaded(&["api/v1/status/flags"], None, move |vs| {
                    let (rows, total) = capped(flag_rows(&vs[0], &Filter::new(&filter.get())), ROW_LIMIT);
                    let note = limit_note(rows.len(), total);
                    view! {
                        {table(
                            "result kv flags",
                            vec!["Flag".into(), "Value".into()],
                            rows.into_iter().map(|(k, v)| vec![k, v]).collect(),
                        )}
                        {(total == 0).then(|| view! { <p class="hint">"No flag matches."</p> })}
                        {note.map(|n| view! { <p class="hint">{n}</p> })}
                    }.into_any()
        })}
    }
}

/// Puts `text` on the clipboard: the Clipboard API where the page may use
/// it (HTTPS or localhost), else a selected text area and `copy`, which
/// plain-HTTP pages still allow.
async fn copy_to_clipboard(text: &str) -> bool {
    use js_sys::{Function, Promise, Reflect};
    let Some(window) = web_sys::window() else {
        return false;
    };
    let clipboard = Reflect::get(&window, &"navigator".into())
        .and_then(|n| Reflect::get(&n, &"clipboard".into()))
        .ok()
        .filter(|c| c.is_object());
    if let Some(c) = clipboard {
        if let Ok(f) = Reflect::get(&c, &"writeText".into()).and_then(|f| f.dyn_into::<Function>())
        {
            if let Ok(p) = f
                .call1(&c, &text.into())
                .and_then(|p| p.dyn_into::<Promise>())
            {
                if wasm_bindgen_futures::JsFuture::from(p).await.is_ok() {
                    return true;
                }
            }
        }
    }
    let Some(doc) = window.document() else {
        return false;
    };
    let Some(area) = doc
        .create_element("textarea")
        .ok()
        .and_then(|e| e.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
    else {
        return false;
    };
    area.set_value(text);
    let Some(body) = doc.body() else {
        return false;
    };
    let _ = body.append_child(&area);
    area.select();
    let copied = Reflect::get(&doc, &"execCommand".into())
        .and_then(|f| f.dyn_into::<Function>())
        .and_then(|f| f.call1(&doc, &"copy".into()))
        .is_ok_and(|r| r.is_truthy());
    area.remove();
    copied
}

/// `/config`: the configuration in force, as YAML.
#[component]
pub fn Config() -> impl IntoView {
    // The YAML shown, for the copy button.
    let (yaml, set_yaml) = signal(String::new());
    let (copied, set_copied) = signal(None::<bool>);
    view! {
        <div class="dashboard-header">
            <h1>"Configuration"</h1>
            <button
                class="run copy"
                on:click=move |_| {
                    let text = yaml.get_untracked();
                    leptos::task::spawn_local(async move {
                        set_copied.set(Some(copy_to_clipboard(&text).await));
                    });
                }
            >
                {move || match copied.get() {
                    None => "Copy to clipboard",
                    Some(true) => "Copied",
                    Some(false) => "Copy failed",
                }}
            </button>
        </div>
        {loaded(&["api/v1/status/config"], None, move |vs| {
            let y = vs[0]["yaml"].as_str().unwrap_or_default().to_string();
            set_yaml.set(y.clone());
            view! { <pre class="panel config-yaml">{y}</pre> }.into_any()
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_needs_every_term_ignoring_case() {
        assert!(Filter::new("").matches("anything"));
        assert!(Filter::new("  ").matches(""));
        assert!(Filter::new("RETENTION time").matches("--storage.tsdb.retention.time 15d"));
        assert!(!Filter::new("retention size").matches("--storage.tsdb.retention.time 15d"));
    }

    #[test]
    fn capped_keeps_the_first_rows_and_counts_all() {
        assert_eq!(capped(0..5, 3), (vec![0, 1, 2], 5));
        assert_eq!(capped(0..2, 3), (vec![0, 1], 2));
        assert_eq!(limit_note(2, 2), None);
        assert_eq!(
            limit_note(1000, 2500).unwrap(),
            "Showing the first 1000 of 2500 rows: narrow the filter to see the others."
        );
    }

    #[test]
    fn runtime_rows_use_prometheus_titles_in_its_order() {
        let map: Value = serde_json::from_str(
            r#"{"storageRetention":"15d","CWD":"/var/lib/pharos","reloadConfigSuccess":false,
                "startTime":"2024-01-01T00:00:00Z","goroutineCount":6,"extra":"x"}"#,
        )
        .unwrap();
        let rows = info_rows(&map, RUNTIME_KEYS);
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            rows,
            vec![
                s("Start time", "2024-01-01T00:00:00Z"),
                s("Working directory", "/var/lib/pharos"),
                s("Configuration reload", "Unsuccessful"),
                s("Goroutines", "6"),
                s("Storage retention", "15d"),
                s("extra", "x"),
            ]
        );
        let build: Value =
            serde_json::from_str(r#"{"goVersion":"rust","version":"0.1.0"}"#).unwrap();
        assert_eq!(
            info_rows(&build, BUILD_KEYS),
            vec![s("version", "0.1.0"), s("goVersion", "rust")]
        );
    }

    #[test]
    fn flags_get_dashes_and_filter_on_name_or_value() {
        let map: Value = serde_json::from_str(
            r#"{"storage.tsdb.retention.time":"15d","web.listen-address":":9090","log.level":"info"}"#,
        )
        .unwrap();
        let all = flag_rows(&map, &Filter::new(""));
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], ("--log.level".to_string(), "info".to_string()));
        let by_value = flag_rows(&map, &Filter::new(":9090"));
        assert_eq!(
            by_value,
            vec![("--web.listen-address".to_string(), ":9090".to_string())]
        );
        assert!(flag_rows(&map, &Filter::new("nothing")).is_empty());
    }
}
