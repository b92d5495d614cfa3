//! pharos: one binary that collects, stores, queries, alerts on and shows
//! metrics, speaking Prometheus's formats and APIs.
//!
//! Modules follow the pipeline (see DESIGN.md):
//!
//! - [`storage`]: the embedded SQLite store with compressed chunks, the
//!   write-ahead log and the label index; the [`storage::Appender`] and
//!   [`storage::Queryable`] seams every other stage uses.
//! - [`ingest`]: remote write 1.0/2.0 decoding and `pharos import`.
//! - [`config`]: `prometheus.yml` (the agent library's shared sections
//!   plus the server's own): types every stage may read, importing none.
//! - [`collect`]: the agent library's scrape engine appending into storage.
//! - [`promql`]: the PromQL engine (parser from `promql-parser`, our own
//!   evaluator).
//! - [`rules`]: recording and alerting rules (Prometheus's rule files),
//!   evaluated on a loop per group, alert state kept across restarts.
//! - [`alert_sender`]: rule alerts on their way out — external labels,
//!   `alert_relabel_configs`, the Alertmanagers of `alerting:` (Prometheus's
//!   notifier) and, through `serve`, the built-in notifier.
//! - [`dashboards`]: Grafana dashboards and folders with their versions,
//!   kept in the database; provisioned from `--dashboards.path` and built
//!   in (host, pharos).
//! - [`http`]: the Prometheus-compatible HTTP API, and Grafana's
//!   dashboard API.
//! - [`metrics`]: `/metrics`, assembled from the collectors each stage
//!   registers (`pharos_*`, Prometheus's names, `process_*`).
//! - [`notify`]: Alertmanager's half: routing, grouping, inhibition,
//!   silences, the notification log and the receivers.
//! - [`reload`]: the reload coordinator — loads and checks the whole
//!   configuration, then hands each stage its part.
//! - [`serve`]: wiring for `pharos serve`: storage, background maintenance,
//!   HTTP, and the shutdown order.
//! - [`template`]: Go's `text/template` language, with Prometheus's and
//!   Alertmanager's template functions.
//! - [`units`]: Prometheus-style durations and byte sizes for flags.
//! - [`memo`]: a bounded memo for parsed queries and compiled regexes.

pub mod alert_sender;
pub mod collect;
pub mod config;
pub mod dashboards;
pub mod http;
pub mod ingest;
pub mod memo;
pub mod metrics;
pub mod notify;
pub mod promql;
pub mod querylog;
pub mod reload;
pub mod rules;
pub mod serve;
pub mod storage;
pub mod template;
pub mod units;
