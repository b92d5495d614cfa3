//! pharos's web UI: a Leptos client-side app, compiled to WebAssembly and
//! embedded in the `pharos` binary (`server/src/http/ui.rs` serves it).
//!
//! It is a pure client of the HTTP APIs — the Prometheus JSON API that
//! Grafana also reads — and shares no Rust types with the server.
//!
//! - [`api`]: fetching and the JSON shapes of the query API;
//! - [`units`]: value formatting by unit (percent, bytes, bytes/s, …);
//! - [`components`]: reusable pieces — the time-series panel drawn with
//!   uPlot (vendored under `ui/vendor/uplot`, loaded by `index.html`), the
//!   stat panel, the time picker;
//! - [`pages`]: one module per page; today the home page (the host
//!   dashboard of the built-in configuration).

pub mod api;
pub mod components;
pub mod pages;
pub mod units;

use wasm_bindgen::prelude::wasm_bindgen;

/// Entry point, run once the module is instantiated: mounts the app.
#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(pages::App);
}
