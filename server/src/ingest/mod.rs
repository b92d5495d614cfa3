//! Ingest: turning what senders push into storage appends.
//!
//! - [`remote_write`]: Prometheus remote write 1.0 and 2.0 bodies (snappy +
//!   protobuf) decoded and validated into [`crate::storage::SeriesSamples`].
//! - [`import`]: `pharos import openmetrics FILE`, the offline backfill that
//!   writes sealed chunks straight into a data directory.

pub mod import;
pub mod remote_write;
