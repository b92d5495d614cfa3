//! Bindings to uPlot (vendored under `ui/vendor/uplot`, loaded by
//! `index.html` as the global `uPlot` before this module starts).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A uPlot chart.
    #[wasm_bindgen(js_name = uPlot)]
    pub type UPlot;

    /// `new uPlot(opts, data, target)`.
    #[wasm_bindgen(constructor, js_class = "uPlot")]
    pub fn new(opts: &JsValue, data: &JsValue, target: &web_sys::Element) -> UPlot;

    /// Replaces the data (and rescales).
    #[wasm_bindgen(method, js_name = setData)]
    pub fn set_data(this: &UPlot, data: &JsValue);

    /// `setSize({width, height})`.
    #[wasm_bindgen(method, js_name = setSize)]
    pub fn set_size(this: &UPlot, size: &JsValue);

    /// `setSeries(i, {show})`: shows or hides series `i` (1-based).
    #[wasm_bindgen(method, js_name = setSeries)]
    pub fn set_series(this: &UPlot, idx: u32, opts: &JsValue);

    /// Removes the chart from the page.
    #[wasm_bindgen(method)]
    pub fn destroy(this: &UPlot);
}
