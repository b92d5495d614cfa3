//! The HTTP layer's metrics on `/metrics`: requests by route and code.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use super::HttpStats;

/// A collector of the requests served so far.
pub fn collector(stats: &HttpStats) -> Box<dyn Collector> {
    Box::new(HttpCollector(stats.snapshot()))
}

/// `(handler, code, requests, seconds)` per route.
#[derive(Debug)]
struct HttpCollector(Vec<(String, u16, u64, f64)>);

impl Collector for HttpCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> fmt::Result {
        let mut m = e.encode_descriptor(
            "pharos_http_requests",
            "HTTP requests served (remote write, API, UI), by route and status code.",
            None,
            MetricType::Counter,
        )?;
        for (handler, code, n, _) in &self.0 {
            let code = code.to_string();
            let labels = [("handler", handler.as_str()), ("code", code.as_str())];
            ConstCounter::new(*n as f64).encode(m.encode_family(&labels)?)?;
        }
        let mut m = e.encode_descriptor(
            "pharos_http_request_duration_seconds",
            "Time spent serving HTTP requests, by route and status code.",
            None,
            MetricType::Counter,
        )?;
        for (handler, code, _, secs) in &self.0 {
            let code = code.to_string();
            let labels = [("handler", handler.as_str()), ("code", code.as_str())];
            ConstCounter::new(*secs).encode(m.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
