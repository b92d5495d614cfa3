//! A dashboard (`/d/<uid>/<slug>`, Grafana's URL): its variables as
//! pickers, the time range and auto-refresh, rows that open and close,
//! and the panels on Grafana's 24-column grid, repeated per value where
//! a panel or row says so. The URL carries the state as Grafana's does
//! (`from`, `to`, `var-<name>`, `refresh`), so a link reopens the view.

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde_json::{json, Value};
use wasm_bindgen::JsCast;

use super::REFRESH;
use crate::api;
use crate::dashboard::edit;
use crate::dashboard::model::{Dashboard, Grid, Panel, Section};
use crate::dashboard::query::{self, refresh_variables};
use crate::dashboard::vars::{self, Variable, ALL};
use crate::panels::{DashCtx, EditHooks, PanelView};

/// Quick ranges of the time picker, as Grafana offers them.
const RANGES: &[(&str, &str)] = &[
    ("now-5m", "Last 5 minutes"),
    ("now-15m", "Last 15 minutes"),
    ("now-30m", "Last 30 minutes"),
    ("now-1h", "Last 1 hour"),
    ("now-3h", "Last 3 hours"),
    ("now-6h", "Last 6 hours"),
    ("now-12h", "Last 12 hours"),
    ("now-24h", "Last 24 hours"),
    ("now-2d", "Last 2 days"),
    ("now-7d", "Last 7 days"),
    ("now-30d", "Last 30 days"),
];

/// Panels with their pinned variable values, laid out after repeating:
/// copies side by side (`h`, at most `maxPerRow` per line, 4 by default)
/// or stacked (`v`), later panels moved down by the space the copies took.
pub fn layout(panels: &[Panel], vars: &[Variable]) -> Vec<(Panel, Vec<(String, String)>)> {
    let mut out: Vec<(Panel, Vec<(String, String)>)> = Vec::new();
    let mut shift = 0u32;
    let mut sorted: Vec<&Panel> = panels.iter().collect();
    sorted.sort_by_key(|p| (p.grid.y, p.grid.x));
    for p in sorted {
        let mut base = p.clone();
        base.grid.y += shift;
        let values = p
            .repeat
            .as_ref()
            .and_then(|name| vars.iter().find(|v| &v.name == name))
            .map(|v| (v.name.clone(), v.values()));
        let Some((name, values)) = values.filter(|(_, vs)| !vs.is_empty()) else {
            out.push((base, Vec::new()));
            continue;
        };
        let n = values.len() as u32;
        let g = base.grid;
        let mut bottom = g.y + g.h;
        for (i, value) in values.into_iter().enumerate() {
            let i = i as u32;
            let mut copy = base.clone();
            copy.grid = if p.repeat_direction == 'v' {
                Grid {
                    y: g.y + i * g.h,
                    ..g
                }
            } else {
                let per_row = p.max_per_row.unwrap_or(4).max(1);
                let w = (24 / n.min(per_row).max(1)).max(24 / per_row).max(1);
                let per_line = (24 / w).max(1);
                Grid {
                    x: (i % per_line) * w,
                    y: g.y + (i / per_line) * g.h,
                    w,
                    h: g.h,
                }
            };
            copy.id = p.id * 1000 + i64::from(i);
            bottom = bottom.max(copy.grid.y + copy.grid.h);
            out.push((copy, vec![(name.clone(), value)]));
        }
        shift += bottom - (g.y + g.h);
    }
    out
}

/// Sections after row repeats: a repeated row once per value of its
/// variable, its panels pinned to that value.
fn sections(d: &Dashboard, vars: &[Variable]) -> Vec<(Section, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for s in &d.sections {
        let repeat = s.row.as_ref().and_then(|r| r.repeat.clone());
        match repeat.and_then(|name| vars.iter().find(|v| v.name == name)) {
            Some(v) => {
                for value in v.values() {
                    out.push((s.clone(), vec![(v.name.clone(), value)]));
                }
            }
            None => out.push((s.clone(), Vec::new())),
        }
    }
    out
}

fn set_url(time: &(String, String), vars: &[Variable], refresh: &str) {
    let mut q: Vec<String> = vec![
        format!("from={}", js_sys::encode_uri_component(&time.0)),
        format!("to={}", js_sys::encode_uri_component(&time.1)),
    ];
    for v in vars
        .iter()
        .filter(|v| !matches!(v.kind, vars::VarKind::Datasource))
    {
        for c in &v.current {
            let c = if c == ALL { "$__all" } else { c };
            q.push(format!(
                "var-{}={}",
                v.name,
                js_sys::encode_uri_component(c)
            ));
        }
    }
    if !refresh.is_empty() {
        q.push(format!("refresh={refresh}"));
    }
    super::replace_query(&q);
}

/// The built-in dashboard the home page shows: the host's.
pub const HOME: &str = "pharos-host";

/// The dashboard page (`/d/<uid>`).
#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_params_map();
    let uid = Signal::derive(move || params.with(|p| p.get("uid").unwrap_or_default()));
    view! { <DashboardByUid uid=uid /> }
}

/// The home page: the built-in host dashboard, live from the first start.
#[component]
pub fn Home() -> impl IntoView {
    view! { <DashboardByUid uid=Signal::derive(|| HOME.to_string()) /> }
}

#[component]
fn DashboardByUid(uid: Signal<String>) -> impl IntoView {
    let loaded = LocalResource::new(move || {
        let uid = uid.get();
        async move { api::json("GET", &format!("api/dashboards/uid/{uid}"), None).await }
    });
    view! {
        <Suspense fallback=|| view! { <p class="hint">"Loading dashboard…"</p> }>
            {move || loaded.get().map(|r| match r {
                Ok(doc) => {
                    let dash = doc.get("dashboard").cloned().unwrap_or(Value::Null);
                    let meta = doc.get("meta").cloned().unwrap_or(Value::Null);
                    match Dashboard::parse(&dash) {
                        Ok(d) => view! { <DashboardView dash=d doc=dash meta=meta editing=false /> }.into_any(),
                        Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                    }
                }
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
            })}
        </Suspense>
    }
}

/// A new, empty dashboard in edit mode (`/dashboard/new`).
#[component]
pub fn NewDashboard() -> impl IntoView {
    let doc = json!({
        "title": "New dashboard", "tags": [], "schemaVersion": 39, "editable": true,
        "time": {"from": "now-1h", "to": "now"}, "templating": {"list": []}, "panels": []
    });
    let dash = Dashboard::parse(&doc).unwrap_or_else(|_| unreachable!("a literal dashboard"));
    view! { <DashboardView dash=dash doc=doc meta=Value::Null editing=true /> }
}

#[component]
fn DashboardView(dash: Dashboard, doc: Value, meta: Value, editing: bool) -> impl IntoView {
    let q = use_query_map().get_untracked();
    let mut vs = vars::parse(&doc);
    // Values from the URL win over the saved ones (`var-job=node`).
    let query_string = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    for v in vs.iter_mut() {
        let key = format!("var-{}=", v.name);
        let from_url: Vec<String> = query_string
            .trim_start_matches('?')
            .split('&')
            .filter_map(|kv| kv.strip_prefix(&key))
            .filter_map(|x| js_sys::decode_uri_component(x).ok().map(String::from))
            .collect();
        if !from_url.is_empty() {
            v.current = from_url;
        }
    }
    let from = q.get("from").unwrap_or_else(|| dash.from.clone());
    let to = q.get("to").unwrap_or_else(|| dash.to.clone());
    let refresh0 = q.get("refresh").unwrap_or_else(|| dash.refresh.clone());
    let ctx = DashCtx {
        vars: RwSignal::new(vs),
        time: RwSignal::new((from, to)),
        tick: RwSignal::new(0),
        ready: RwSignal::new(false),
        sync: RwSignal::new((dash.graph_tooltip > 0).then(|| format!("dash-{}", dash.uid))),
        alerts: RwSignal::new(Vec::new()),
    };
    let (refresh, set_refresh) = signal(refresh0);
    let (var_errors, set_var_errors) = signal(Vec::<String>::new());
    // Load the variables' options (each with the ones before it), then
    // let the panels query.
    let reload_vars = move |from_index: usize| {
        let mut vs = ctx.vars.get_untracked();
        let (f, t) = ctx.time.get_untracked();
        let (t0, t1) = ctx.range(&f, &t);
        leptos::task::spawn_local(async move {
            let errs = refresh_variables(&mut vs, from_index, t0, t1).await;
            set_var_errors.set(errs);
            ctx.vars.set(vs);
            ctx.ready.set(true);
        });
    };
    reload_vars(0);
    // Alert firing periods over the range, marked on the graphs
    // (Grafana's built-in "Annotations & Alerts").
    Effect::new(move |_| {
        if !ctx.ready.get() {
            return;
        }
        let (f, t) = ctx.time.get();
        ctx.tick.track();
        let (t0, t1) = ctx.range(&f, &t);
        let step = ((t1 - t0) / 300.0).ceil().max(1.0);
        leptos::task::spawn_local(async move {
            let q = "ALERTS{alertstate=\"firing\"}";
            if let Ok(series) = api::query_range(q, t0.floor(), t1.floor(), step).await {
                ctx.alerts.set(query::firing_periods(&series, step));
            }
        });
    });
    Effect::new(move |_| {
        let vs = ctx.vars.get();
        let time = ctx.time.get();
        set_url(&time, &vs, &refresh.get());
    });
    // Auto-refresh: a new tick every interval.
    Effect::new(
        move |prev: Option<Option<leptos::prelude::IntervalHandle>>| {
            if let Some(Some(h)) = prev {
                h.clear();
            }
            let secs = vars::parse_duration(&refresh.get())?;
            set_interval_with_handle(
                move || ctx.tick.update(|n| *n += 1),
                Duration::from_secs_f64(secs.max(1.0)),
            )
            .ok()
        },
    );
    let choose = move |i: usize, values: Vec<String>| {
        ctx.vars.update(|vs| vs[i].current = values);
        // Variables after this one may depend on it.
        reload_vars(i + 1);
    };
    // The document being viewed and edited; the model is read from it.
    let folder_uid = meta
        .get("folderUid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let provisioned = meta
        .get("provisioned")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let doc = RwSignal::new(doc);
    let saved = RwSignal::new(doc.get_untracked());
    let model = Memo::new(move |_| Dashboard::parse(&doc.get()).unwrap_or_else(|_| dash.clone()));
    let edit_mode = RwSignal::new(editing);
    let editing_panel = RwSignal::new(None::<i64>);
    let show_settings = RwSignal::new(false);
    let picker = RwSignal::new(false);
    // Grafana's keyboard shortcuts: `t z` zooms out, `t ←`/`t →` move the
    // range by half its span, `d r` refreshes, `d s` opens the settings,
    // `d k` toggles kiosk-like full width (hides the top bar), Esc closes
    // the editor, settings and pickers. Not while typing in a field.
    {
        let pending = std::rc::Rc::new(std::cell::Cell::new(None::<char>));
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            let typing = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .is_some_and(|t| matches!(t.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"));
            if typing || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
                return;
            }
            let key = ev.key();
            let shift = |by: f64| {
                let (f, t) = ctx.time.get_untracked();
                let (t0, t1) = ctx.range(&f, &t);
                let d = (t1 - t0) * by;
                ctx.time.set((
                    format!("{}", ((t0 + d) * 1000.0).round()),
                    format!("{}", ((t1 + d) * 1000.0).round()),
                ));
            };
            match (pending.take(), key.as_str()) {
                (_, "Escape") => {
                    editing_panel.set(None);
                    show_settings.set(false);
                    picker.set(false);
                }
                (Some('t'), "z") => {
                    let (f, t) = ctx.time.get_untracked();
                    let (t0, t1) = ctx.range(&f, &t);
                    let span = t1 - t0;
                    ctx.time.set((
                        format!("{}", ((t0 - span / 2.0) * 1000.0).round()),
                        format!("{}", ((t1 + span / 2.0).min(api::now()) * 1000.0).round()),
                    ));
                }
                (Some('t'), "ArrowLeft") => shift(-0.5),
                (Some('t'), "ArrowRight") => shift(0.5),
                (Some('d'), "r") => ctx.tick.update(|n| *n += 1),
                (Some('d'), "s") => show_settings.set(true),
                (Some('d'), "k") => {
                    if let Some(b) = document().body() {
                        let _ = b.class_list().toggle("kiosk");
                    }
                }
                (_, "t") => pending.set(Some('t')),
                (_, "d") => pending.set(Some('d')),
                _ => {}
            }
        });
        on_cleanup(move || handle.remove());
    }
    let save_state = RwSignal::new(None::<Result<String, String>>);
    // Rows opened or closed here, by section index (else as saved).
    let toggled = RwSignal::new(std::collections::BTreeMap::<usize, bool>::new());
    let hooks = EditHooks {
        on_edit: Callback::new(move |id| editing_panel.set(Some(id))),
        on_remove: Callback::new(move |id| doc.update(|d| edit::remove(d, id))),
        on_duplicate: Callback::new(move |id| {
            doc.update(|d| {
                edit::duplicate(d, id);
            })
        }),
        on_grid: Callback::new(move |(id, g, top): (i64, Grid, u32)| {
            doc.update(|d| edit::set_grid(d, id, g, top))
        }),
    };
    let save = move |overwrite: bool| {
        let body = json!({
            "dashboard": doc.get_untracked(),
            "overwrite": overwrite,
            "message": "",
            "folderUid": folder_uid.clone(),
        });
        let was_new = doc.with_untracked(|d| {
            d.get("uid")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        });
        leptos::task::spawn_local(async move {
            match api::json("POST", "api/dashboards/db", Some(&body)).await {
                Ok(r) => {
                    doc.update(|d| {
                        for k in ["id", "uid", "version"] {
                            d[k] = r[k].clone();
                        }
                    });
                    saved.set(doc.get_untracked());
                    save_state.set(Some(Ok(format!("Saved as version {}", r["version"]))));
                    if was_new {
                        if let (Some(w), Some(url)) = (web_sys::window(), r["url"].as_str()) {
                            let _ = w
                                .location()
                                .set_href(&format!("{}{url}", super::base_path()));
                        }
                    }
                }
                Err(e) => save_state.set(Some(Err(e))),
            }
        });
    };
    let save = std::sync::Arc::new(save);
    let title = move || model.with(|d| d.title.clone());
    let body = move || {
        // Re-laid out when a repeat variable's values change.
        let vs = ctx.vars.get();
        if !ctx.ready.get() {
            return view! { <p class="hint">"Loading variables…"</p> }.into_any();
        }
        let d = model.get();
        let editing = edit_mode.get();
        sections(&d, &vs)
            .into_iter()
            .map(|(s, pinned)| {
                let index = d.sections.iter().position(|x| *x == s).unwrap_or(0);
                let saved_collapsed = s.row.as_ref().is_some_and(|r| r.collapsed);
                let open = move || !toggled.with(|t| t.get(&index).copied().unwrap_or(saved_collapsed));
                let row_title = s.row.as_ref().map(|r| {
                    let scope = query::Scope { vars: &vs, fixed: &pinned, from: 0.0, to: 0.0, interval: None };
                    scope.fill(&r.title)
                });
                let count = s.panels.len();
                let top = s.top;
                let panels = layout(&s.panels, &vs);
                let pinned2 = pinned.clone();
                view! {
                    <div class="section">
                        {row_title.map(|t| view! {
                            <button class="row-header" aria-expanded=move || open().to_string()
                                on:click=move |_| { let was_open = open(); toggled.update(|m| { m.insert(index, was_open); }) }>
                                <span class="chevron">{move || if open() { "▾" } else { "▸" }}</span>
                                {t}
                                <span class="row-count">{move || (!open()).then(|| format!("({count} panels)"))}</span>
                            </button>
                        })}
                        {move || open().then(|| {
                            let panels = panels.clone();
                            let pinned = pinned2.clone();
                            view! {
                                <div class="grid" class:editing=editing>
                                    {panels.into_iter().map(|(p, mut fixed)| {
                                        // Repeated copies are edited through their original.
                                        let edit = (editing && fixed.is_empty()).then_some((hooks, top));
                                        fixed.extend(pinned.iter().cloned());
                                        view! { <PanelView panel=p fixed=fixed ctx=ctx edit=edit /> }
                                    }).collect_view()}
                                </div>
                            }
                        })}
                    </div>
                }
            })
            .collect_view()
            .into_any()
    };
    let save_click = {
        let save = std::sync::Arc::clone(&save);
        move |_| save(false)
    };
    let overwrite_click = {
        let save = std::sync::Arc::clone(&save);
        move |_| save(true)
    };
    let toolbar = move || {
        let save_click = save_click.clone();
        if !edit_mode.get() {
            return view! {
                <button class="icon" title="Edit this dashboard" on:click=move |_| edit_mode.set(true)>"Edit"</button>
            }
            .into_any();
        }
        view! {
            <button class="icon" on:click=move |_| {
                let id = doc.try_update(|d| edit::add_panel(d, "timeseries")).unwrap_or(0);
                editing_panel.set(Some(id));
            }>"Add panel"</button>
            <button class="icon" on:click=move |_| doc.update(|d| { edit::add_row(d, "Row title"); })>"Add row"</button>
            <button class="icon" on:click=move |_| show_settings.update(|s| *s = !*s)>"Settings"</button>
            <button class="run save" class:dirty=move || doc.get() != saved.get() disabled=provisioned
                title=if provisioned { "Provisioned from a file: change the file" } else { "Save (a new version)" }
                on:click=save_click>"Save"</button>
            <button class="icon" on:click=move |_| { edit_mode.set(false); show_settings.set(false); }>"Exit edit"</button>
        }
        .into_any()
    };
    let editor = move || {
        let id = editing_panel.get()?;
        let initial = doc.with_untracked(|d| edit::panel(d, id))?;
        Some(view! {
            <crate::pages::panel_editor::PanelEditor
                initial=initial
                ctx=ctx
                on_apply=Callback::new(move |p: Value| {
                    doc.update(|d| if let Some(slot) = edit::panel_mut(d, id) { *slot = p; });
                    editing_panel.set(None);
                })
                on_close=Callback::new(move |_| editing_panel.set(None))
            />
        })
    };
    let settings = move || {
        show_settings
            .get()
            .then(|| view! { <Settings doc=doc saved=saved /> })
    };
    view! {
        <div class="dashboard-header">
            <h1>{title}</h1>
            <div class="dash-controls">
                {toolbar}
                <select class="range-select" aria-label="Time range"
                    on:change=move |ev| ctx.time.set((event_target_value(&ev), "now".into()))>
                    {move || {
                        let (f, t) = ctx.time.get();
                        let known = t == "now" && RANGES.iter().any(|(r, _)| *r == f);
                        let custom = (!known).then(|| view! { <option selected=true value=f.clone()>{format!("{} to {}", shown_time(&f), shown_time(&t))}</option> });
                        view! {
                            {custom}
                            {RANGES.iter().map(|(r, label)| view! { <option value=*r selected=known && f == *r>{*label}</option> }).collect_view()}
                        }
                    }}
                </select>
                <button class="icon picker-toggle" title="Absolute time range" aria-label="Absolute time range"
                    on:click=move |_| picker.update(|p| *p = !*p)>"From–to"</button>
                {move || picker.get().then(|| view! { <TimePicker ctx=ctx close=Callback::new(move |_| picker.set(false)) /> })}
                <button class="icon" title="Zoom out (time range × 2; t z)" on:click=move |_| {
                    let (f, t) = ctx.time.get_untracked();
                    let (t0, t1) = ctx.range(&f, &t);
                    let span = t1 - t0;
                    ctx.time.set((format!("{}", ((t0 - span / 2.0) * 1000.0).round()), format!("{}", ((t1 + span / 2.0).min(api::now()) * 1000.0).round())));
                }>"⊖"</button>
                <button class="icon" title="Refresh" on:click=move |_| ctx.tick.update(|n| *n += 1)>"⟳"</button>
                <select class="refresh-select" aria-label="Auto-refresh" on:change=move |ev| set_refresh.set(event_target_value(&ev))>
                    {REFRESH.iter().map(|r| view! { <option value=*r selected=move || refresh.get() == *r>{if r.is_empty() { "Off" } else { r }}</option> }).collect_view()}
                </select>
            </div>
        </div>
        <div class="variables">
            {move || ctx.vars.get().into_iter().enumerate().filter(|(_, v)| v.hide < 2 && !matches!(v.kind, vars::VarKind::Datasource | vars::VarKind::Constant(_))).map(|(i, v)| {
                let label = if v.label.is_empty() { v.name.clone() } else { v.label.clone() };
                view! { <VariablePicker label=label var=v on_change=Callback::new(move |vals| choose(i, vals)) /> }
            }).collect_view()}
            {move || var_errors.get().into_iter().map(|e| view! { <p class="panel-error">{e}</p> }).collect_view()}
        </div>
        {move || save_state.get().map(|s| match s {
            Ok(m) => view! { <p class="hint save-state">{m}</p> }.into_any(),
            Err(e) => view! {
                <p class="panel-error save-state">{e}" "
                    <button class="icon" on:click=overwrite_click.clone()>"Save and overwrite"</button>
                </p>
            }.into_any(),
        })}
        {settings}
        {editor}
        {body}
    }
}

/// A time as the picker shows it: relative ones as written (`now-6h`),
/// absolute ones (milliseconds) as local `YYYY-MM-DD HH:mm:ss`.
fn shown_time(s: &str) -> String {
    match s.parse::<f64>() {
        Ok(ms) => String::from(
            js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms))
                .to_locale_string("sv-SE", &wasm_bindgen::JsValue::UNDEFINED),
        ),
        Err(_) => s.to_string(),
    }
}

/// Grafana's time picker's absolute half: From and To, each relative
/// (`now-2d`, `now/d`) or absolute (`2026-12-01 08:00:00`, local time);
/// Apply sets the range (absolute times kept as milliseconds, as Grafana
/// writes them in the URL).
#[component]
fn TimePicker(ctx: DashCtx, close: Callback<()>) -> impl IntoView {
    let (f0, t0) = ctx.time.get_untracked();
    let from = RwSignal::new(shown_time(&f0));
    let to = RwSignal::new(shown_time(&t0));
    let error = RwSignal::new(None::<String>);
    let apply = move || {
        let now = api::now();
        let norm = |s: String, up: bool| -> Result<(String, f64), String> {
            let s = s.trim().to_string();
            let t = vars::parse_time(&s, now, up).ok_or(format!(
                "“{s}” is not a time: use now-6h, now/d or 2026-12-01 08:00:00."
            ))?;
            Ok((
                if s.starts_with("now") {
                    s
                } else {
                    format!("{}", (t * 1000.0).round())
                },
                t,
            ))
        };
        match (
            norm(from.get_untracked(), false),
            norm(to.get_untracked(), true),
        ) {
            (Ok((f, a)), Ok((t, b))) if a < b => {
                ctx.time.set((f, t));
                close.run(());
            }
            (Ok(_), Ok(_)) => error.set(Some("From must be before To.".into())),
            (Err(e), _) | (_, Err(e)) => error.set(Some(e)),
        }
    };
    view! {
        <div class="time-picker" role="dialog" aria-label="Absolute time range"
            on:keydown=move |ev: leptos::ev::KeyboardEvent| if ev.key() == "Enter" { apply() }>
            <label>"From"<input class="time-from" prop:value=move || from.get() on:input=move |ev| from.set(event_target_value(&ev)) /></label>
            <label>"To"<input class="time-to" prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev)) /></label>
            {move || error.get().map(|e| view! { <p class="panel-error">{e}</p> })}
            <button class="run apply-time" on:click=move |_| apply()>"Apply time range"</button>
        </div>
    }
}

/// Dashboard settings: title, tags, the JSON model, and the saved
/// versions with a restore for each.
#[component]
fn Settings(doc: RwSignal<Value>, saved: RwSignal<Value>) -> impl IntoView {
    let (json_error, set_json_error) = signal(None::<String>);
    let uid = doc.with_untracked(|d| {
        d.get("uid")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    });
    let versions = LocalResource::new({
        let uid = uid.clone();
        move || {
            saved.track();
            let uid = uid.clone();
            async move {
                if uid.is_empty() {
                    return Ok(Value::Null);
                }
                api::json("GET", &format!("api/dashboards/uid/{uid}/versions"), None).await
            }
        }
    });
    let restore = move |version: i64| {
        let uid = uid.clone();
        leptos::task::spawn_local(async move {
            let url = format!("api/dashboards/uid/{uid}/restore");
            if api::json("POST", &url, Some(&json!({"version": version})))
                .await
                .is_ok()
            {
                if let Ok(r) = api::json("GET", &format!("api/dashboards/uid/{uid}"), None).await {
                    doc.set(r["dashboard"].clone());
                    saved.set(r["dashboard"].clone());
                }
            }
        });
    };
    view! {
        <section class="panel settings">
            <label class="field">
                <span>"Title"</span>
                <input prop:value=move || doc.with(|d| d["title"].as_str().unwrap_or("").to_string())
                    on:change=move |ev| doc.update(|d| d["title"] = json!(event_target_value(&ev))) />
            </label>
            <label class="field">
                <span>"Tags (comma-separated)"</span>
                <input prop:value=move || doc.with(|d| d["tags"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default())
                    on:change=move |ev| {
                        let tags: Vec<String> = event_target_value(&ev).split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
                        doc.update(|d| d["tags"] = json!(tags));
                    } />
            </label>
            <details>
                <summary>"JSON model"</summary>
                <textarea class="query-input" rows="16" spellcheck="false"
                    prop:value=move || doc.with(|d| serde_json::to_string_pretty(d).unwrap_or_default())
                    on:change=move |ev| { match serde_json::from_str::<Value>(&event_target_value(&ev)) {
                        Ok(v) if Dashboard::parse(&v).is_ok() => { set_json_error.set(None); doc.set(v); }
                        Ok(_) => set_json_error.set(Some("A dashboard is a JSON object.".into())),
                        Err(e) => set_json_error.set(Some(format!("Not applied: {e}"))),
                    }}></textarea>
                {move || json_error.get().map(|e| view! { <p class="panel-error">{e}</p> })}
            </details>
            <h3>"Versions"</h3>
            {move || versions.get().map(|r| match r {
                Ok(v) => {
                    let list = v.get("versions").or(Some(&v)).and_then(Value::as_array).cloned().unwrap_or_default();
                    let restore = restore.clone();
                    view! {
                        <table class="result versions">
                            <tbody>
                                {list.into_iter().map(|ver| {
                                    let n = ver["version"].as_i64().unwrap_or(0);
                                    let restore = restore.clone();
                                    view! {
                                        <tr>
                                            <td>{n}</td>
                                            <td>{ver["created"].as_str().unwrap_or("").to_string()}</td>
                                            <td>{ver["message"].as_str().unwrap_or("").to_string()}</td>
                                            <td><button class="icon" on:click=move |_| restore(n)>"Restore"</button></td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
            })}
        </section>
    }
}

/// A variable's picker: a text box, a select, or (multi-value) a list of
/// checkboxes behind a button, "All" first where offered.
#[component]
fn VariablePicker(label: String, var: Variable, on_change: Callback<Vec<String>>) -> impl IntoView {
    let name = var.name.clone();
    let picker = if let vars::VarKind::TextBox(_) = var.kind {
        let current = var.current.first().cloned().unwrap_or_default();
        view! {
            <input class="var-text" value=current
                on:change=move |ev| on_change.run(vec![event_target_value(&ev)]) />
        }
        .into_any()
    } else if var.multi {
        let open = RwSignal::new(false);
        let chosen = RwSignal::new(var.current.clone());
        let mut options: Vec<(String, String)> = Vec::new();
        if var.include_all {
            options.push(("All".into(), ALL.into()));
        }
        options.extend(var.options.iter().cloned());
        let text = var.text();
        view! {
            <div class="var-multi">
                <button class="var-button" on:click=move |_| {
                    if open.get_untracked() { on_change.run(chosen.get_untracked()); }
                    open.update(|o| *o = !*o);
                }>{text}" ▾"</button>
                {move || open.get().then(|| view! {
                    <div class="var-menu">
                        {options.iter().cloned().map(|(t, v)| {
                            let v2 = v.clone();
                            view! {
                                <label>
                                    <input type="checkbox" prop:checked=move || chosen.get().contains(&v)
                                        on:change=move |_| chosen.update(|c| {
                                            if v2 == ALL { *c = vec![ALL.into()]; return; }
                                            c.retain(|x| x != ALL);
                                            if let Some(i) = c.iter().position(|x| *x == v2) { c.remove(i); } else { c.push(v2.clone()); }
                                        }) />
                                    {t}
                                </label>
                            }
                        }).collect_view()}
                        <button on:click=move |_| { on_change.run(chosen.get_untracked()); open.set(false); }>"Apply"</button>
                    </div>
                })}
            </div>
        }
        .into_any()
    } else {
        let current = var.current.first().cloned().unwrap_or_default();
        let mut options: Vec<(String, String)> = Vec::new();
        if var.include_all {
            options.push(("All".into(), ALL.into()));
        }
        options.extend(var.options.iter().cloned());
        view! {
            <select class="var-select" on:change=move |ev| on_change.run(vec![event_target_value(&ev)])>
                {options.into_iter().map(|(t, v)| {
                    let sel = v == current;
                    view! { <option value=v selected=sel>{t}</option> }
                }).collect_view()}
            </select>
        }
        .into_any()
    };
    view! {
        <div class="var" data-var=name>
            {(var.hide == 0).then(|| view! { <span class="var-label">{label}</span> })}
            {picker}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::model::Dashboard;

    #[test]
    fn repeated_panels_fill_lines_and_push_later_panels_down() {
        let doc = serde_json::json!({"panels": [
            {"type": "stat", "id": 1, "repeat": "v", "maxPerRow": 2, "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}, "targets": []},
            {"type": "stat", "id": 2, "gridPos": {"x": 0, "y": 4, "w": 24, "h": 4}, "targets": []}
        ], "templating": {"list": [{"name": "v", "type": "custom", "query": "a,b,c", "multi": true,
            "current": {"value": ["a", "b", "c"]}}]}});
        let d = Dashboard::parse(&doc).unwrap();
        let vs = vars::parse(&doc);
        let l = layout(&d.sections[0].panels, &vs);
        let grids: Vec<(u32, u32, u32)> = l
            .iter()
            .map(|(p, _)| (p.grid.x, p.grid.y, p.grid.w))
            .collect();
        assert_eq!(grids, [(0, 0, 12), (12, 0, 12), (0, 4, 12), (0, 8, 24)]);
        assert_eq!(l[2].1, [("v".to_string(), "c".to_string())]);
    }
}
