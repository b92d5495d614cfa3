//! Dashboard panels: the frame every panel shares (title, description,
//! links, loading and error state; its queries re-run when the
//! dashboard's variables, time range or refresh tick change) and one
//! module per visualisation — [`graph`] (time series), [`single`] (stat,
//! gauge, bar gauge), [`heatmap`], [`table`], [`text`], [`slo`].

pub mod graph;
pub mod heatmap;
pub mod single;
pub mod slo;
pub mod table;
pub mod text;

use std::rc::Rc;

use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::api;
use crate::dashboard::model::{Grid, Kind, Panel};
use crate::dashboard::query::{self, Results, Scope};
use crate::dashboard::vars::{parse_time, Variable};

/// What every panel of a dashboard reads: the variables, the time range
/// (as written: `now-6h`…), the refresh tick, and whether the variables'
/// options are loaded.
#[derive(Clone, Copy)]
pub struct DashCtx {
    pub vars: RwSignal<Vec<Variable>>,
    pub time: RwSignal<(String, String)>,
    pub tick: RwSignal<u64>,
    pub ready: RwSignal<bool>,
    /// The shared crosshair's key, when the dashboard shares one.
    pub sync: RwSignal<Option<String>>,
    /// Firing periods of alerts over the range (`ALERTS`): start, end,
    /// alert name; drawn on the graphs.
    pub alerts: RwSignal<Vec<(f64, f64, String)>>,
}

impl DashCtx {
    /// The time range now, in Unix seconds.
    pub fn range(&self, from: &str, to: &str) -> (f64, f64) {
        let now = api::now();
        let t1 = parse_time(to, now, true).unwrap_or(now);
        let t0 = parse_time(from, now, false).unwrap_or(t1 - 6.0 * 3600.0);
        (t0.min(t1 - 1.0), t1)
    }
}

/// What a panel in edit mode can ask of the dashboard.
#[derive(Clone, Copy)]
pub struct EditHooks {
    pub on_edit: Callback<i64>,
    pub on_remove: Callback<i64>,
    pub on_duplicate: Callback<i64>,
    /// The panel moved or was resized: its id, grid place (relative to its
    /// section) and the section's top row in the document.
    pub on_grid: Callback<(i64, Grid, u32)>,
}

/// A panel's state as the browser tests read it (`data-state`).
fn state_name(r: &Option<Result<(Results, (f64, f64)), String>>) -> &'static str {
    match r {
        None => "loading",
        Some(Err(_)) => "error",
        Some(Ok((res, _))) if res.iter().all(|(_, s)| s.is_empty()) => "nodata",
        Some(Ok(_)) => "ok",
    }
}

/// One panel on the grid; `fixed` pins variables to one value (a panel
/// repeated for each value of a variable).
#[component]
pub fn PanelView(
    panel: Panel,
    fixed: Vec<(String, String)>,
    ctx: DashCtx,
    /// Edit mode: the hooks and the top row of the panel's section.
    #[prop(default = None)]
    edit: Option<(EditHooks, u32)>,
) -> impl IntoView {
    let node = NodeRef::<html::Div>::new();
    let frame = NodeRef::<html::Section>::new();
    let result: RwSignal<Option<Result<(Results, (f64, f64)), String>>> = RwSignal::new(None);
    // Exemplars of the queries that ask for them, set with the result.
    let exemplars: RwSignal<Vec<api::Exemplar>> = RwSignal::new(Vec::new());
    let latest = Rc::new(std::cell::Cell::new(0u64));
    let needs_data = !matches!(panel.kind, Kind::Text | Kind::Other(_));
    let fixed = std::sync::Arc::new(fixed);
    if needs_data {
        let panel = panel.clone();
        let fixed = std::sync::Arc::clone(&fixed);
        Effect::new(move |_| {
            if !ctx.ready.get() {
                return;
            }
            let vars = ctx.vars.get();
            let (from, to) = ctx.time.get();
            ctx.tick.track();
            let generation = latest.get() + 1;
            latest.set(generation);
            let latest = Rc::clone(&latest);
            let panel = panel.clone();
            let fixed = std::sync::Arc::clone(&fixed);
            leptos::task::spawn_local(async move {
                let (t0, t1) = ctx.range(&from, &to);
                let width = node
                    .get_untracked()
                    .map(|el| {
                        let el: &web_sys::Element = el.unchecked_ref();
                        f64::from(el.client_width())
                    })
                    .filter(|w| *w > 0.0)
                    .unwrap_or(600.0);
                let scope = Scope {
                    vars: &vars,
                    fixed: &fixed,
                    from: t0,
                    to: t1,
                    interval: None,
                };
                let r = if matches!(panel.kind, Kind::Slo) {
                    slo::run(&panel, &scope).await
                } else {
                    query::run(&panel, &scope, width).await
                };
                let ex = if r.is_ok() && matches!(panel.kind, Kind::TimeSeries) {
                    query::exemplars(&panel, &scope, width).await
                } else {
                    Vec::new()
                };
                if latest.get() == generation {
                    exemplars.set(ex);
                    result.set(Some(r.map(|res| (res, (t0, t1)))));
                }
            });
        });
    }
    let title = {
        let panel = panel.clone();
        let fixed = std::sync::Arc::clone(&fixed);
        move || {
            let vars = ctx.vars.get();
            let scope = Scope {
                vars: &vars,
                fixed: &fixed,
                from: 0.0,
                to: 0.0,
                interval: None,
            };
            scope.fill(&panel.title)
        }
    };
    // The grid place, live while the panel is dragged or resized.
    let live = RwSignal::new(panel.grid);
    let style = move || {
        let g = live.get();
        format!("--x:{};--y:{};--w:{};--h:{}", g.x + 1, g.y + 1, g.w, g.h)
    };
    let id = panel.id;
    let drag = move |ev: leptos::ev::PointerEvent, resize: bool| {
        let Some((hooks, top)) = edit else { return };
        let Some(el) = frame.get_untracked() else {
            return;
        };
        let el: &web_sys::Element = el.unchecked_ref();
        let width = el.parent_element().map_or(1200, |p| p.client_width()) as f64;
        // A grid column (with its gap), a grid row: 30 px and an 8 px gap.
        let (col, row) = ((width + 8.0) / 24.0, 38.0);
        let (x0, y0) = (f64::from(ev.client_x()), f64::from(ev.client_y()));
        let g0 = live.get_untracked();
        ev.prevent_default();
        let handles: Rc<std::cell::RefCell<Vec<WindowListenerHandle>>> = Rc::default();
        let moved = window_event_listener(leptos::ev::pointermove, move |e| {
            let dx = ((f64::from(e.client_x()) - x0) / col).round() as i64;
            let dy = ((f64::from(e.client_y()) - y0) / row).round() as i64;
            let clamp = |v: i64, lo: i64, hi: i64| v.clamp(lo, hi.max(lo)) as u32;
            live.set(if resize {
                Grid {
                    w: clamp(i64::from(g0.w) + dx, 1, 24 - i64::from(g0.x)),
                    h: clamp(i64::from(g0.h) + dy, 1, 200),
                    ..g0
                }
            } else {
                Grid {
                    x: clamp(i64::from(g0.x) + dx, 0, 24 - i64::from(g0.w)),
                    y: clamp(i64::from(g0.y) + dy, 0, 10_000),
                    ..g0
                }
            });
        });
        let hs = Rc::clone(&handles);
        let up = window_event_listener(leptos::ev::pointerup, move |_| {
            for h in hs.borrow_mut().drain(..) {
                h.remove();
            }
            let g = live.get_untracked();
            if g != g0 {
                hooks.on_grid.run((id, g, top));
            }
        });
        handles.borrow_mut().extend([moved, up]);
    };
    let links = panel.links.clone();
    let fixed_links = std::sync::Arc::clone(&fixed);
    let description = panel.description.clone();
    let body = {
        let panel = panel.clone();
        let fixed = std::sync::Arc::clone(&fixed);
        move || -> AnyView {
            match &panel.kind {
                Kind::Text => {
                    let vars = ctx.vars.get();
                    let fixed = std::sync::Arc::clone(&fixed);
                    let fill: Rc<dyn Fn(&str) -> String> = Rc::new(move |s: &str| {
                        Scope {
                            vars: &vars,
                            fixed: &fixed,
                            from: 0.0,
                            to: 0.0,
                            interval: None,
                        }
                        .fill(s)
                    });
                    return view! { <text::Text options=panel.options.clone() fill=fill /> }
                        .into_any();
                }
                Kind::Other(name) => {
                    let name = name.clone();
                    return view! { <p class="panel-note">{format!("Panels of type “{name}” are not drawn by pharos yet.")}</p> }.into_any();
                }
                _ => {}
            }
            if matches!(panel.kind, Kind::TimeSeries) {
                // The graph keeps its chart across refreshes; it reads
                // the data through a signal.
                let data_in = Signal::derive(move || result.get().and_then(Result::ok));
                let hooks = graph::Hooks {
                    sync: ctx.sync.get_untracked(),
                    zoom: Rc::new(move |a, b| {
                        ctx.time.set((
                            format!("{}", (a * 1000.0).round()),
                            format!("{}", (b * 1000.0).round()),
                        ))
                    }),
                    cursor: Rc::new(|_| {}),
                    periods: Rc::new(move || ctx.alerts.get_untracked()),
                    exemplars: Rc::new(move || exemplars.get_untracked()),
                    fill: {
                        let fixed = std::sync::Arc::clone(&fixed);
                        Rc::new(move |text: &str, extra: &dyn Fn(&str) -> Option<String>| {
                            let vars = ctx.vars.get_untracked();
                            let (f, t) = ctx.time.get_untracked();
                            let (from, to) = ctx.range(&f, &t);
                            let scope = Scope {
                                vars: &vars,
                                fixed: &fixed,
                                from,
                                to,
                                interval: None,
                            };
                            crate::dashboard::vars::interpolate(text, &|n, fmt| {
                                extra(n).or_else(|| scope.lookup(n, fmt))
                            })
                        })
                    },
                };
                return view! {
                    <graph::Graph panel=panel.clone() data_in=data_in hooks=hooks />
                    {move || result.get().and_then(Result::err).map(|e| view! { <p class="panel-error">{e}</p> })}
                }
                .into_any();
            }
            let panel = panel.clone();
            (move || match result.get() {
                None => view! { <p class="hint">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Some(Ok((res, _))) => match panel.kind {
                    Kind::Stat => view! { <single::Stat panel=panel.clone() values=single::values(&panel, &res) /> }.into_any(),
                    Kind::Gauge => view! { <single::Gauge panel=panel.clone() values=single::values(&panel, &res) /> }.into_any(),
                    Kind::BarGauge => view! { <single::BarGauge panel=panel.clone() values=single::values(&panel, &res) /> }.into_any(),
                    Kind::Heatmap => view! { <heatmap::Heatmap results=res /> }.into_any(),
                    Kind::Slo => view! { <slo::SloView panel=panel.clone() results=res /> }.into_any(),
                    _ => {
                        let (frames, skipped) = table::frames(&panel, &res);
                        view! {
                            <table::Table panel=panel.clone() frames=frames />
                            {(!skipped.is_empty()).then(|| view! { <p class="panel-note">{format!("Not applied: {}", skipped.join(", "))}</p> })}
                        }
                        .into_any()
                    }
                },
            })
            .into_any()
        }
    };
    let tools = edit.map(|(hooks, _)| {
        view! {
            <span class="panel-tools">
                <button class="tool edit" title="Edit panel" on:click=move |_| hooks.on_edit.run(id)>"Edit"</button>
                <button class="tool" title="Duplicate" on:click=move |_| hooks.on_duplicate.run(id)>"Copy"</button>
                <button class="tool" title="Remove" on:click=move |_| hooks.on_remove.run(id)>"✕"</button>
            </span>
        }
    });
    let editing = edit.is_some();
    view! {
        <section class="panel grid-panel" style=style data-panel-id=panel.id.to_string() node_ref=frame
            data-state=move || if needs_data { state_name(&result.get()) } else { "ok" }>
            <header class="panel-header" class:draggable=editing
                on:pointerdown=move |ev| if editing && ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()).is_some_and(|t| t.tag_name() != "BUTTON") { drag(ev, false) }>
                <h3 class="panel-title" title=description.clone()>{title}</h3>
                {tools}
                {(!description.is_empty()).then(|| view! { <span class="info" title=description.clone()>"i"</span> })}
                {links.into_iter().map(|l| {
                    // The URL filled in with the variables and the time
                    // range (`${__from}`, `${__to}`, `$job`…) when opened.
                    let fixed = std::sync::Arc::clone(&fixed_links);
                    let href = move || {
                        let vars = ctx.vars.get();
                        let (f, t) = ctx.time.get();
                        let (from, to) = ctx.range(&f, &t);
                        Scope { vars: &vars, fixed: &fixed, from, to, interval: None }.fill(&l.url)
                    };
                    view! {
                        <a class="panel-link" href=href target=if l.blank { "_blank" } else { "_self" } rel="noopener">{l.title.clone()}</a>
                    }
                }).collect_view()}
            </header>
            <div class="panel-body" node_ref=node>{body}</div>
            {editing.then(|| view! { <span class="resize" title="Resize" on:pointerdown=move |ev| drag(ev, true)></span> })}
        </section>
    }
}
