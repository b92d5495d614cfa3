//! Reusable pieces of the pages.
//!
//! - [`timeseries`]: a time-series panel (range queries drawn by uPlot);
//! - [`timepicker`]: the range and refresh control.

pub mod timepicker;
pub mod timeseries;
pub mod uplot;
