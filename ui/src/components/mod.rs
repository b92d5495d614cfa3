//! Reusable pieces of the pages.
//!
//! - [`timeseries`]: a time-series panel (range queries drawn by uPlot);
//! - [`stat`]: a stat panel (one big value of an instant query);
//! - [`timepicker`]: the range and refresh control.

pub mod stat;
pub mod timepicker;
pub mod timeseries;
pub mod uplot;
