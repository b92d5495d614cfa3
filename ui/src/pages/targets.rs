//! Targets: every active scrape target grouped by scrape pool, with its
//! health, labels, last scrape and error — the Prometheus UI's Status →
//! Targets page. "Unhealthy only" keeps the ones that need attention, the
//! filter the ones whose endpoint or labels contain its text; the page
//! refreshes every 15 s.

use std::time::Duration;

use leptos::prelude::*;

use crate::api;

#[component]
pub fn Targets() -> impl IntoView {
    let (tick, set_tick) = signal(0u64);
    let _ = set_interval_with_handle(
        move || set_tick.update(|n| *n += 1),
        Duration::from_secs(15),
    );
    let (unhealthy_only, set_unhealthy_only) = signal(false);
    let (filter, set_filter) = signal(String::new());
    let limit = super::row_budget();
    let targets = LocalResource::new(move || {
        tick.track();
        api::targets()
    });
    view! {
        <div class="dashboard-header">
            <h1>"Targets"</h1>
            <label class="toggle">
                <input
                    type="checkbox"
                    prop:checked=move || unhealthy_only.get()
                    on:change=move |ev| set_unhealthy_only.set(event_target_checked(&ev))
                />
                " Unhealthy only"
            </label>
            <input class="filter" type="search" placeholder="Filter by endpoint or labels"
                on:input=move |ev| set_filter.set(event_target_value(&ev)) />
        </div>
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || targets.get().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(all) => {
                    let unhealthy = unhealthy_only.get();
                    let needle = filter.get().to_ascii_lowercase();
                    let pools = super::grouped(
                        all.into_iter().filter(|t| {
                            (!unhealthy || t.health != "up")
                                && (needle.is_empty()
                                    || t.labels.iter().map(|(k, v)| format!("{k}=\"{v}\" ")).chain([t.scrape_url.clone()])
                                        .collect::<String>().to_ascii_lowercase().contains(&needle))
                        }),
                        |t| t.scrape_pool.clone(),
                    );
                    let (shown, hidden) = super::budgeted(&pools, limit.get());
                    view! {
                        {pools.into_iter().zip(shown).filter(|(_, n)| *n > 0).map(|((pool, ts), n)| {
                            let up = ts.iter().filter(|t| t.health == "up").count();
                            let total = ts.len();
                            view! {
                                <section class="panel pool">
                                    <h3 class="panel-title">{pool}" ("{up}"/"{total}" up)"</h3>
                                    <table class="result targets">
                                        <thead>
                                            <tr><th>"Endpoint"</th><th>"State"</th><th>"Labels"</th><th>"Last scrape"</th><th>"Duration"</th><th>"Error"</th></tr>
                                        </thead>
                                        <tbody>
                                            {ts.into_iter().take(n).map(|t| {
                                                let labels = t.labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect::<Vec<_>>().join(", ");
                                                view! {
                                                    <tr>
                                                        <td>{t.scrape_url}</td>
                                                        <td><span class=format!("health {}", t.health)>{t.health.to_ascii_uppercase()}</span></td>
                                                        <td class="series">{labels}</td>
                                                        <td title=t.last_scrape.clone()>{ago(&t.last_scrape)}</td>
                                                        <td>{format!("{:.1} ms", t.last_scrape_duration * 1000.0)}</td>
                                                        <td class="panel-error">{t.last_error}</td>
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

/// `"3.2 s ago"` for an RFC 3339 time, as the Prometheus UI shows the last
/// scrape ("never" before the first).
pub fn ago(rfc3339: &str) -> String {
    let then = js_sys::Date::parse(rfc3339);
    if !then.is_finite() || rfc3339.starts_with("0001-") {
        return "never".into();
    }
    let secs = ((js_sys::Date::now() - then) / 1000.0).max(0.0);
    format!(
        "{} ago",
        crate::units::format(secs, crate::units::Unit::parse("s"))
    )
}
