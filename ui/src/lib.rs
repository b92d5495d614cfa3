//! pharos's web UI: a Leptos client-side app, compiled to WebAssembly and
//! embedded in the `pharos` binary (`server/src/http/ui.rs` serves it).
//!
//! It is a pure client of the HTTP APIs — the Prometheus JSON API that
//! Grafana also reads — and shares no Rust types with the server.
//!
//! - [`api`]: fetching and the JSON shapes of the Prometheus API, and
//!   JSON requests to pharos's own and the Grafana-compatible endpoints;
//! - [`units`]: value formatting by Grafana's unit ids;
//! - [`dashboard`]: Grafana dashboard JSON read (panels, rows, field
//!   config and overrides, variables), queries run and results reshaped;
//! - [`panels`]: the panel frame and one module per visualisation — time
//!   series drawn with uPlot (vendored under `ui/vendor/uplot`, loaded by
//!   `index.html`), stat, gauge, bar gauge, table, text;
//! - [`components`]: the uPlot bindings;
//! - [`pages`]: one module per page — home (the built-in host
//!   dashboard), dashboards (list, import, view), explore, alerts, targets.

pub mod api;
pub mod components;
pub mod dashboard;
pub mod pages;
pub mod panels;
pub mod units;

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point, run once the module is instantiated: mounts the app.
#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(pages::App);
}
