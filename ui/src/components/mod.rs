//! Reusable pieces of the pages: the uPlot bindings ([`uplot`]).

pub mod uplot;
