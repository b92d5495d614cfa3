//! The stat panel: the value of one instant query, large, in the panel's
//! unit (the first sample when the query returns several).

use leptos::prelude::*;

use crate::api;
use crate::units::{format, Unit};

#[component]
pub fn StatPanel(
    title: &'static str,
    expr: &'static str,
    unit: Unit,
    tick: ReadSignal<u64>,
) -> impl IntoView {
    let value = LocalResource::new(move || {
        tick.track();
        async move {
            let samples = api::query(expr).await?;
            Ok::<_, String>(
                samples
                    .first()
                    .and_then(|s| s.value.1.parse::<f64>().ok())
                    .map_or_else(|| "No data".to_string(), |v| format(v, unit)),
            )
        }
    });
    view! {
        <section class="panel stat">
            <h3 class="panel-title">{title}</h3>
            <Transition fallback=|| view! { <p class="stat-value">"…"</p> }>
                {move || value.get().map(|v| match v {
                    Ok(text) => view! { <p class="stat-value">{text}</p> }.into_any(),
                    Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}
