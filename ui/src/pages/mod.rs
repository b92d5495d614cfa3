//! The pages, one module each, and the app frame around them: the top bar
//! and the router. Paths follow the tools users know: `/` (home),
//! `/explore` (Grafana's), `/graph` (the Prometheus UI's, with its
//! `g0.expr` / `g0.tab` / `g0.range_input` parameters), `/alerts`, `/targets`.
//! The Status menu ([`status::StatusMenu`]) leads to the Prometheus UI's
//! status pages (`/status`, `/tsdb-status`, `/flags`, `/config`,
//! `/targets`, `/service-discovery`) and pharos's `/collectors`.

pub mod alerts;
pub mod collectors;
pub mod dashboard;
pub mod dashboards;
pub mod explore;
pub mod panel_editor;
pub mod rules;
pub mod service_discovery;
pub mod silences;
pub mod status;
pub mod targets;
pub mod tsdb_status;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

/// `items` grouped by `key`, groups sorted by key, items in their order:
/// the alerts by name, the targets by scrape pool.
pub fn grouped<T>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> String,
) -> Vec<(String, Vec<T>)> {
    let mut groups: std::collections::BTreeMap<String, Vec<T>> = Default::default();
    for item in items {
        groups.entry(key(&item)).or_default().push(item);
    }
    groups.into_iter().collect()
}

/// Replaces the page's query string (no new history entry): the state of
/// a dashboard or of Explore, kept in the URL.
pub fn replace_query(params: &[String]) {
    if let Some(w) = web_sys::window() {
        let path = w.location().pathname().unwrap_or_default();
        if let Ok(h) = w.history() {
            let _ = h.replace_state_with_url(
                &wasm_bindgen::JsValue::NULL,
                "",
                Some(&format!("{path}?{}", params.join("&"))),
            );
        }
    }
}

/// A time (Unix seconds) as the Prometheus UI's `g0.end_input` writes it:
/// UTC `YYYY-MM-DD HH:mm:ss`, URL-encoded.
pub fn end_input(secs: f64) -> String {
    let iso = String::from(
        js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(secs * 1000.0)).to_iso_string(),
    );
    String::from(js_sys::encode_uri_component(
        &iso.get(..19).unwrap_or_default().replace('T', " "),
    ))
}

/// Auto-refresh choices (Grafana's), "" for off.
pub const REFRESH: &[&str] = &["", "5s", "10s", "30s", "1m", "5m", "15m", "30m", "1h"];

/// How many rows a long list renders at first; more come as the reader
/// scrolls to its end or asks. The Prometheus UI renders every row and
/// freezes on thousands of alerts, rules or targets; a filter still
/// searches them all here.
pub const ROWS: usize = 200;

/// A page's row budget: [`ROWS`], grown by as many whenever the reader
/// scrolls near the bottom while rows are left out (a "Show more" button
/// is on the page).
pub fn row_budget() -> RwSignal<usize> {
    let limit = RwSignal::new(ROWS);
    let handle = window_event_listener(leptos::ev::scroll, move |_| {
        let Some(w) = web_sys::window() else { return };
        let Some(doc) = w.document() else { return };
        if doc.query_selector(".show-more").ok().flatten().is_none() {
            return;
        }
        let seen = w.scroll_y().unwrap_or(0.0)
            + w.inner_height()
                .ok()
                .and_then(|h| h.as_f64())
                .unwrap_or(0.0);
        let height = doc.document_element().map_or(0, |e| e.scroll_height());
        if seen > f64::from(height) - 800.0 {
            limit.update(|l| *l += ROWS);
        }
    });
    on_cleanup(move || handle.remove());
    limit
}

/// How many rows of each group fit in `limit`, groups in order (a group
/// whose turn comes after the budget is spent shows none), and how many
/// rows are left out in all.
pub fn budgeted<K, T>(groups: &[(K, Vec<T>)], limit: usize) -> (Vec<usize>, usize) {
    let mut left = limit;
    let mut hidden = 0;
    let shown = groups
        .iter()
        .map(|(_, rows)| {
            let n = rows.len().min(left);
            left -= n;
            hidden += rows.len() - n;
            n
        })
        .collect();
    (shown, hidden)
}

/// The end of a budgeted list: how many rows are left out and a button
/// that shows the next [`ROWS`].
pub fn show_more(limit: RwSignal<usize>, hidden: usize) -> impl IntoView {
    (hidden > 0).then(|| {
        view! {
            <button class="show-more" on:click=move |_| limit.update(|l| *l += ROWS)>
                {format!("Show more ({hidden} rows not shown; the filter searches them all)")}
            </button>
        }
    })
}

/// The path the app is served under (`--web.route-prefix`), from the
/// `<base href>` the server writes into `index.html`; `""` at the root.
pub fn base_path() -> String {
    let base = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.base_uri().ok().flatten())
        .unwrap_or_default();
    let path = base
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
        .unwrap_or_default();
    path.trim_end_matches('/').to_string()
}

/// The theme in use: the one chosen last (kept in `localStorage`), else
/// the system's preference.
fn initial_theme() -> String {
    let w = web_sys::window();
    let saved = w
        .as_ref()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item("pharos.theme").ok().flatten());
    saved.unwrap_or_else(|| {
        let light = w
            .and_then(|w| {
                w.match_media("(prefers-color-scheme: light)")
                    .ok()
                    .flatten()
            })
            .is_some_and(|m| m.matches());
        if light {
            "light".into()
        } else {
            "dark".into()
        }
    })
}

fn apply_theme(theme: &str) {
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-theme", theme);
    }
}

/// The light/dark switch; charts pick the new colours when next drawn.
#[component]
fn ThemeToggle() -> impl IntoView {
    let theme = RwSignal::new(initial_theme());
    apply_theme(&theme.get_untracked());
    let flip = move |_| {
        let next = if theme.get_untracked() == "light" {
            "dark"
        } else {
            "light"
        };
        theme.set(next.to_string());
        apply_theme(next);
        if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
            let _ = s.set_item("pharos.theme", next);
        }
    };
    view! {
        <button class="theme-toggle" title="Light or dark theme" aria-label="Switch theme" on:click=flip>
            {move || if theme.get() == "light" { "☾ Dark" } else { "☀ Light" }}
        </button>
    }
}

/// The app: the top bar and the page of the current path.
#[component]
pub fn App() -> impl IntoView {
    let base = base_path();
    leptos::task::spawn_local(crate::dashboard::query::load_datasource());
    // The router leaves absolute links as they are: they carry the prefix
    // themselves, so a reload behind a proxy stays under it.
    let home = format!("{base}/");
    let explore = format!("{base}/explore");
    let targets = format!("{base}/targets");
    let alerts = format!("{base}/alerts");
    let dashboards = format!("{base}/dashboards");
    let silences = format!("{base}/silences");
    let rules = format!("{base}/rules");
    view! {
        <Router base=base>
            <header class="topbar">
                <span class="brand">"pharos"</span>
                <nav>
                    <A href=home exact=true>"Home"</A>
                    <A href=dashboards>"Dashboards"</A>
                    <A href=explore>"Explore"</A>
                    <A href=alerts>"Alerts"</A>
                    <A href=silences>"Silences"</A>
                    <A href=rules>"Rules"</A>
                    <A href=targets>"Targets"</A>
                    <status::StatusMenu />
                </nav>
                <ThemeToggle />
            </header>
            <main>
                <Routes fallback=|| view! { <p class="panel-error">"No such page."</p> }>
                    <Route path=path!("/") view=dashboard::Home />
                    <Route path=path!("/explore") view=explore::Explore />
                    <Route path=path!("/graph") view=explore::Explore />
                    <Route path=path!("/targets") view=targets::Targets />
                    <Route path=path!("/service-discovery") view=service_discovery::ServiceDiscovery />
                    <Route path=path!("/status") view=status::RuntimeAndBuild />
                    <Route path=path!("/flags") view=status::Flags />
                    <Route path=path!("/config") view=status::Config />
                    <Route path=path!("/tsdb-status") view=tsdb_status::TsdbStatus />
                    <Route path=path!("/collectors") view=collectors::Collectors />
                    <Route path=path!("/alerts") view=alerts::Alerts />
                    <Route path=path!("/silences") view=silences::Silences />
                    <Route path=path!("/silences/new") view=silences::SilenceEditor />
                    <Route path=path!("/rules") view=rules::Rules />
                    <Route path=path!("/dashboards") view=dashboards::Dashboards />
                    <Route path=path!("/dashboard/import") view=dashboards::Import />
                    <Route path=path!("/dashboard/new") view=dashboard::NewDashboard />
                    <Route path=path!("/d/:uid") view=dashboard::DashboardPage />
                    <Route path=path!("/d/:uid/:slug") view=dashboard::DashboardPage />
                </Routes>
            </main>
        </Router>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn budgets_share_rows_across_groups() {
        let groups = vec![("a", vec![1, 2, 3]), ("b", vec![4, 5]), ("c", vec![6])];
        assert_eq!(super::budgeted(&groups, 4), (vec![3, 1, 0], 2));
        assert_eq!(super::budgeted(&groups, 10), (vec![3, 2, 1], 0));
    }

    #[test]
    fn grouped_sorts_groups_and_keeps_item_order() {
        let g = super::grouped(["b1", "a1", "b2", "a2"], |s| s[..1].to_string());
        assert_eq!(
            g,
            vec![
                ("a".to_string(), vec!["a1", "a2"]),
                ("b".to_string(), vec!["b1", "b2"])
            ]
        );
    }
}
