//! pharos-agent: the collect-and-ship half of pharos, shared by the `pharos`
//! server (which embeds it) and the small `pharos-agent` binary for edge
//! devices. Its modules, in the order data flows through them:
//!
//! - [`config`]: the strict YAML toolkit (errors with file:line) and
//!   the prometheus.yml sections both binaries read: `global`, scrape
//!   jobs (service discovery, HTTP client) and `remote_write`.
//! - [`relabel`]: Prometheus's relabeling (`relabel_configs`,
//!   `metric_relabel_configs`, `write_relabel_configs`).
//! - [`scrape`]: targets, the HTTP client (auth, TLS, OAuth2, proxy) and
//!   the scrape loop that hands samples to an appender.
//! - [`exposition`]: Prometheus text 0.0.4 and OpenMetrics 1.0 parsing,
//!   used by scraping and by `pharos import`.
//! - [`host`]: the built-in host collector (node_exporter's metrics).
//! - [`remote`]: the remote-write protocol (1.0 and 2.0 message types,
//!   content-type negotiation).
//! - [`gofmt`]: Go's spellings of quoted strings, floats, durations and
//!   times, so that every message and answer reads as Prometheus's.
//! - [`sync`]: locks that survive a panic elsewhere.
//! - [`clock`]: the injected wall clock ([`clock::Clock`]) the scrape
//!   engine stamps samples with; the server reads the same type for its
//!   storage, rules and notifications, and tests set or move it.
//!
//! It hands samples to whatever appender it is given and keeps its
//! dependencies few: it ships on edge devices.

pub mod clock;
pub mod config;
pub mod exposition;
pub mod gofmt;
pub mod host;
pub mod relabel;
pub mod remote;
pub mod scrape;
pub mod sync;
