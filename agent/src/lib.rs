//! pharos-agent: the collect-and-ship half of pharos, shared by the `pharos`
//! server (which embeds it) and the small `pharos-agent` binary for edge
//! devices.
//!
//! - [`exposition`]: Prometheus text 0.0.4 and OpenMetrics 1.0 parsing, used
//!   by scraping and by `pharos import`.
//! - [`remote`]: the remote-write protocol (1.0 and 2.0 message types,
//!   content-type negotiation).
//!
//! It hands samples to whatever appender it is given and keeps its
//! dependencies few: it ships on edge devices.

pub mod config;
pub mod exposition;
pub mod host;
pub mod relabel;
pub mod remote;
pub mod scrape;
