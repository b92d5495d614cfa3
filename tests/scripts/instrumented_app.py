#!/usr/bin/env python3
"""A small app instrumented with the real prometheus_client library, for
the scrape end-to-end tests (tests/tests/scrape.rs).

Usage: instrumented_app.py PORT

Serves /metrics on 127.0.0.1:PORT. prometheus_client picks OpenMetrics when
the scraper's Accept header asks for it (Prometheus's and pharos's do), so
the body carries exemplars and `# EOF`. Families (all prefixed `app_`):

- app_requests (counter, sample app_requests_total) with an exemplar,
- app_in_flight (gauge),
- app_request_duration_seconds (histogram) with exemplars on buckets,
- app_rpc_duration_seconds (summary with quantiles: the client's own
  Summary has only _sum and _count, so a custom collector emits the
  quantile samples through the library's Metric type).

A background thread keeps the values moving, so every scrape differs.
"""

import sys
import threading
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import Metric

OBSERVATIONS = []
LOCK = threading.Lock()


class RpcSummary:
    """A summary with quantiles computed from every observation so far."""

    def collect(self):
        with LOCK:
            obs = sorted(OBSERVATIONS)
        m = Metric("app_rpc_duration_seconds", "RPC latency, a summary with quantiles.", "summary")
        for q in (0.5, 0.9, 0.99):
            v = obs[min(len(obs) - 1, int(q * len(obs)))] if obs else float("nan")
            m.add_sample("app_rpc_duration_seconds", {"quantile": str(q)}, v)
        m.add_sample("app_rpc_duration_seconds_sum", {}, sum(obs))
        m.add_sample("app_rpc_duration_seconds_count", {}, len(obs))
        yield m


def main():
    port = int(sys.argv[1])
    reg = CollectorRegistry()
    requests = Counter("app_requests", "Requests handled by the app.", ["path"], registry=reg)
    in_flight = Gauge("app_in_flight", "Requests in flight.", registry=reg)
    latency = Histogram(
        "app_request_duration_seconds",
        "Request latency.",
        buckets=(0.1, 0.5, 1.0),
        registry=reg,
    )
    reg.register(RpcSummary())

    def work():
        i = 0
        while True:
            i += 1
            trace = {"trace_id": "%08x" % i}
            requests.labels(path="/api").inc(1, exemplar=trace)
            in_flight.set(i % 7)
            v = (i % 10) / 10.0 + 0.05
            latency.observe(v, exemplar=trace)
            with LOCK:
                OBSERVATIONS.append(v)
            time.sleep(0.05)

    threading.Thread(target=work, daemon=True).start()
    start_http_server(port, addr="127.0.0.1", registry=reg)
    print("listening on 127.0.0.1:%d" % port, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
