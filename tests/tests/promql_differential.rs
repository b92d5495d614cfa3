//! PromQL differential test: the same data in the real Prometheus (Debian's
//! 2.42, `/usr/bin/prometheus`) and in pharos, the same queries to both over
//! HTTP, and the answers compared.
//!
//! The data is an OpenMetrics file written here (see [`openmetrics`]):
//! 3 hours of 40 series ending 4–5 minutes before now (retention counts
//! back from the newest sample) — counters with resets,
//! a counter that starts late and one that stops early, gauges with
//! gaps longer than the 5 m lookback, NaN and ±Inf samples, integer
//! gauges that repeat, huge values and a classic histogram (`le` buckets
//! with `_sum` and `_count`). Prometheus loads it through
//! `promtool tsdb create-blocks-from openmetrics` (2 h blocks in its data
//! directory, checked with a count before the comparison), pharos through
//! `pharos import openmetrics`.
//!
//! **Window boundaries.** Prometheus 2.42 reads range windows and the
//! lookback as closed intervals `[t-r, t]`; pharos, like Prometheus 3, as
//! left-open `(t-r, t]`. The two only disagree about a sample exactly on
//! `t-r`, so no sample may sit on one:
//!
//! - samples are 15 s apart at 7 ms past a whole second, while every
//!   evaluation time, range, offset and `@` time is whole seconds;
//! - evaluation times are 17 s past a whole minute (range queries step by
//!   60 s or 15 s from there), so the start of an outer window over a
//!   subquery (`[30m:1m]`) never falls on the subquery's own steps,
//!   which are multiples of their step (none of the steps used divides
//!   17 s, 32 s, 47 s or 2 s).
//!
//! **Other Prometheus 2 → 3 changes** that pharos follows the newer side
//! of and that the data avoids:
//!
//! - `rate`/`increase` limit the extrapolation towards the window's start
//!   to where a counter would reach zero; 2.42 compares that with the
//!   distance to the window's start before capping it at half a sample
//!   interval, Prometheus 3 after. They differ only when a window's first
//!   sample is far from its start and the counter's value there is
//!   between ~0.5 and ~1.1 sample intervals' worth of its increase
//!   (prometheus/prometheus#13725, in 2.51), so every counter here has 0
//!   as its first sample (also after a reset) or starts far above any
//!   window's increase;
//! - `le` label values are written as Prometheus 3 would normalise them
//!   (`1.0`, not `1`);
//! - Prometheus 3 sums with Kahan compensation where 2.42 adds plainly,
//!   hence the tolerance below.
//!
//! **Comparison.** Same status and error type; same result type; same set
//! of label sets; per series the same timestamps and values within 1e-9
//! relative (or 1e-12 absolute, for results that are 0 in exact arithmetic
//! but summed in a different order), NaN equal to NaN, ±Inf equal by sign;
//! where two values are bit-identical their text must be too (Prometheus
//! prints Go's shortest form, 'f' or, below 1e-6 and from 1e21, 'e').
//! Every pair of error answers' messages is printed for the reader, not
//! compared (pharos's parser words them differently). Result order is
//! compared only where
//! PromQL defines it: instant `sort`, `sort_desc` and single-group
//! `topk`/`bottomk` (by value sequence, since ties have no order).
//!
//! Queries pharos answers differently because of an engine bug are listed
//! in [`KNOWN_DIFFERENCES`] with what was seen, those where 2.42 itself
//! differs from later Prometheus in [`PROMETHEUS_2_42_ONLY`]; a listed
//! query that starts agreeing fails the test, so the lists can only
//! shrink.
//!
//! A second test compares whole response bodies byte for byte where
//! Prometheus's output is fully determined (key order, timestamp and value
//! text, sorted matrices, the metadata endpoints), and the status
//! endpoints' shapes (every key Prometheus has, with the same JSON type).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pharos_tests::{free_tcp_port, pharos_bin, wait_for, ChildGuard, Server};
use serde_json::Value;

const PROMETHEUS: &str = "/usr/bin/prometheus";
const PROMTOOL: &str = "/usr/bin/promtool";

/// Queries where pharos answers differently from Prometheus 2.42 and
/// from Prometheus 3 too, as far as the cause goes: `(query, what was
/// seen)`. These are engine bugs to fix; a fixed one fails the test until
/// it is removed from here, so the list can only shrink.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

/// Queries where Prometheus 2.42 answers differently from later
/// Prometheus versions and pharos answers as the later ones do:
/// `(query, why)`. Like [`KNOWN_DIFFERENCES`], each must still differ.
const PROMETHEUS_2_42_ONLY: &[(&str, &str)] = &[
    (
        "node_temperature_celsius atan2 10",
        "2.42 keeps __name__ through `atan2`; since 2.46 it is dropped like for the other \
         arithmetic operators (prometheus/prometheus#12595)",
    ),
    (
        "topk(2, rate(http_requests_total[5m]))",
        "ties (two series at the same rate): 2.42 replaces a heap's root by Pop and Push, \
         later versions (and pharos) overwrite the root and Fix the heap, so another of the \
         tied series is kept at a few steps",
    ),
];

/// Number of 15 s samples: 3 hours.
const STEPS: i64 = 720;

/// The data set's clock: sample `i` is at `start + 15 i` seconds + 7 ms.
struct Dataset {
    /// A whole minute, seconds.
    start: i64,
}

impl Dataset {
    fn sample_ms(&self, i: i64) -> i64 {
        (self.start + 15 * i) * 1000 + 7
    }

    /// `start + 60 m + 17` seconds: an evaluation time.
    fn at(&self, minutes: i64) -> i64 {
        self.start + 60 * minutes + 17
    }

    /// A fixed `@` time (whole seconds) inside the data.
    fn at_fixed(&self) -> i64 {
        self.start + 5400
    }
}

/// A small deterministic generator (xorshift64*), so every run has the
/// same shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One line of the OpenMetrics file.
fn line(out: &mut String, name: &str, labels: &str, v: f64, t_ms: i64) {
    let v = if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v}")
    };
    writeln!(
        out,
        "{name}{{{labels}}} {v} {}.{:03}",
        t_ms / 1000,
        t_ms % 1000
    )
    .unwrap();
}

/// The OpenMetrics text and its number of series.
fn openmetrics(d: &Dataset) -> (String, usize) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut om = String::new();
    let mut series = 0;

    // Counters: 2 jobs × 2 instances × 2 codes.
    om.push_str("# HELP http_requests Requests served.\n# TYPE http_requests counter\n");
    for job in ["api", "web"] {
        for instance in ["a", "b"] {
            for code in ["200", "500"] {
                series += 1;
                let labels = format!(r#"code="{code}",instance="{instance}",job="{job}""#);
                // Far above any window's increase, or 0 (see the header).
                let mut v: f64 = match (job, instance, code) {
                    ("api", "a", "200") => 0.0,
                    _ => 100_000.0 + rng.below(1000) as f64,
                };
                let max_inc = if code == "200" { 20 } else { 3 };
                for i in 0..STEPS {
                    if i > 0 {
                        v += rng.below(max_inc) as f64;
                    }
                    match (job, instance, code, i) {
                        // Resets: the process restarted and counts from 0.
                        ("web", "a", "200", 300) | ("api", "b", "500", 500) => v = 0.0,
                        // Starts an hour in, from zero.
                        ("api", "a", "500", i) if i < 240 => continue,
                        ("api", "a", "500", 240) => v = 0.0,
                        // A 10 minute gap (the counter keeps counting).
                        ("web", "b", "200", 400..=439) => continue,
                        // Stops half an hour before the end.
                        ("web", "b", "500", 600..) => continue,
                        _ => {}
                    }
                    line(&mut om, "http_requests_total", &labels, v, d.sample_ms(i));
                }
            }
        }
    }

    // Gauges: temperatures in two zones, one below zero, one with a
    // 7.5 minute gap.
    om.push_str("# TYPE node_temperature_celsius gauge\n");
    for (h, host, zone) in [
        (0, "h1", "z1"),
        (1, "h2", "z1"),
        (2, "h3", "z2"),
        (3, "h4", "z2"),
    ] {
        series += 1;
        let labels = format!(r#"host="{host}",zone="{zone}""#);
        let base = if host == "h4" { -10.0 } else { 20.0 };
        for i in 0..STEPS {
            if host == "h2" && (100..130).contains(&i) {
                continue;
            }
            let noise = rng.below(10) as f64 / 10.0;
            let v = base + 5.0 * ((i as f64) / 20.0 + h as f64).sin() + noise;
            line(
                &mut om,
                "node_temperature_celsius",
                &labels,
                (v * 1000.0).round() / 1000.0,
                d.sample_ms(i),
            );
        }
    }

    // Large values.
    om.push_str("# TYPE memory_bytes gauge\n");
    for host in ["h1", "h2", "h3"] {
        series += 1;
        let mut v = 8.0e9 + rng.below(1 << 20) as f64;
        for i in 0..STEPS {
            v += rng.below(1 << 16) as f64 - 32768.0;
            line(
                &mut om,
                "memory_bytes",
                &format!(r#"host="{host}""#),
                v,
                d.sample_ms(i),
            );
        }
    }

    // Small integers that mostly repeat.
    om.push_str("# TYPE queue_length gauge\n");
    for q in ["q1", "q2", "q3"] {
        series += 1;
        let mut v = rng.below(4) as f64;
        for i in 0..STEPS {
            if rng.below(4) == 0 {
                v = rng.below(4) as f64;
            }
            line(
                &mut om,
                "queue_length",
                &format!(r#"queue="{q}""#),
                v,
                d.sample_ms(i),
            );
        }
    }

    // Values in [0, 1].
    om.push_str("# TYPE ratio gauge\n");
    for kind in ["x", "y"] {
        series += 1;
        for i in 0..STEPS {
            let v = rng.below(1001) as f64 / 1000.0;
            line(
                &mut om,
                "ratio",
                &format!(r#"kind="{kind}""#),
                v,
                d.sample_ms(i),
            );
        }
    }

    // NaN and infinities among ordinary values.
    om.push_str("# TYPE weird gauge\n");
    for case in ["nan", "inf"] {
        series += 1;
        for i in 0..STEPS {
            let v = match (case, i) {
                ("nan", i) if i % 37 < 3 => f64::NAN,
                ("inf", i) if i % 41 < 2 => f64::INFINITY,
                ("inf", i) if i % 53 < 2 => f64::NEG_INFINITY,
                _ => (i % 50) as f64 - 10.0,
            };
            line(
                &mut om,
                "weird",
                &format!(r#"case="{case}""#),
                v,
                d.sample_ms(i),
            );
        }
    }

    // A classic histogram per job; job="web" resets an hour and a half in.
    const LE: [(&str, f64); 7] = [
        ("0.05", 0.05),
        ("0.1", 0.1),
        ("0.25", 0.25),
        ("0.5", 0.5),
        ("1.0", 1.0),
        ("2.5", 2.5),
        ("+Inf", f64::INFINITY),
    ];
    om.push_str("# HELP request_duration_seconds Request latency.\n");
    om.push_str("# TYPE request_duration_seconds histogram\n");
    let mut hist: Vec<(&str, [f64; 7], f64, f64)> =
        vec![("api", [0.0; 7], 0.0, 0.0), ("web", [0.0; 7], 0.0, 0.0)];
    series += 2 * (LE.len() + 2);
    for i in 0..STEPS {
        for (job, buckets, sum, count) in hist.iter_mut() {
            // Counting from 0 at the first sample and after the reset.
            if *job == "web" && i == 360 {
                *buckets = [0.0; 7];
                *sum = 0.0;
                *count = 0.0;
            }
            let observations = if i == 0 || (*job == "web" && i == 360) {
                0
            } else {
                rng.below(12)
            };
            for _ in 0..observations {
                // Mostly fast, a long tail; in milliseconds.
                let ms = match rng.below(10) {
                    0..=5 => rng.below(120),
                    6..=8 => 100 + rng.below(900),
                    _ => 1000 + rng.below(4000),
                };
                let x = ms as f64 / 1000.0;
                for (k, (_, le)) in LE.iter().enumerate() {
                    if x <= *le {
                        buckets[k] += 1.0;
                    }
                }
                *sum += x;
                *count += 1.0;
            }
            let t = d.sample_ms(i);
            for (k, (le, _)) in LE.iter().enumerate() {
                let labels = format!(r#"job="{job}",le="{le}""#);
                line(
                    &mut om,
                    "request_duration_seconds_bucket",
                    &labels,
                    buckets[k],
                    t,
                );
            }
            let labels = format!(r#"job="{job}""#);
            line(
                &mut om,
                "request_duration_seconds_sum",
                &labels,
                (*sum * 1000.0).round() / 1000.0,
                t,
            );
            line(
                &mut om,
                "request_duration_seconds_count",
                &labels,
                *count,
                t,
            );
        }
    }
    om.push_str("# EOF\n");
    (om, series)
}

/// One query: its text and whether its instant result's order matters.
struct Q {
    expr: String,
    /// Instant results must come in the same order of values.
    ordered: bool,
    /// Only as an instant query (range vectors and strings cannot be
    /// range-queried).
    instant_only: bool,
}

fn queries(d: &Dataset) -> Vec<Q> {
    let at = d.at_fixed();
    let plain = [
        // Selectors, offset, @.
        "http_requests_total".to_string(),
        r#"http_requests_total{job="api"}"#.into(),
        r#"http_requests_total{code=~"5..", instance!="b"}"#.into(),
        r#"{__name__=~"node_.*|memory_bytes"}"#.into(),
        r#"{job="web", __name__!~"request_.*"}"#.into(),
        "http_requests_total offset 10m".into(),
        format!("http_requests_total @ {at}"),
        format!("node_temperature_celsius @ {at} offset 5m"),
        "node_temperature_celsius @ start()".into(),
        "node_temperature_celsius @ end()".into(),
        "weird".into(),
        "-node_temperature_celsius".into(),
        "1 + 2 * 3 - 4 / 8 % 3 ^ 2".into(),
        // Counter and gauge functions.
        "rate(http_requests_total[5m])".into(),
        "rate(http_requests_total[1h])".into(),
        "rate(http_requests_total[45s])".into(),
        "rate(http_requests_total[5m] offset 30m)".into(),
        format!("rate(http_requests_total[10m] @ {at})"),
        "irate(http_requests_total[5m])".into(),
        "irate(http_requests_total[20s])".into(),
        "increase(http_requests_total[10m])".into(),
        "increase(http_requests_total[3h])".into(),
        "increase(request_duration_seconds_count[15m])".into(),
        "delta(node_temperature_celsius[10m])".into(),
        "delta(memory_bytes[1h])".into(),
        "idelta(node_temperature_celsius[5m])".into(),
        "idelta(queue_length[1m])".into(),
        "deriv(node_temperature_celsius[15m])".into(),
        "deriv(memory_bytes[10m])".into(),
        "deriv(http_requests_total[5m])".into(),
        "predict_linear(node_temperature_celsius[30m], 3600)".into(),
        "predict_linear(memory_bytes[10m], 600)".into(),
        "holt_winters(node_temperature_celsius[10m], 0.5, 0.5)".into(),
        "holt_winters(memory_bytes[30m], 0.1, 0.9)".into(),
        "changes(queue_length[15m])".into(),
        "changes(weird[10m])".into(),
        "resets(http_requests_total[1h])".into(),
        "resets(request_duration_seconds_bucket[2h])".into(),
        // *_over_time.
        "avg_over_time(node_temperature_celsius[10m])".into(),
        "min_over_time(node_temperature_celsius[10m])".into(),
        "max_over_time(node_temperature_celsius[10m])".into(),
        "sum_over_time(queue_length[10m])".into(),
        "count_over_time(node_temperature_celsius[10m])".into(),
        "last_over_time(node_temperature_celsius[10m])".into(),
        "present_over_time(node_temperature_celsius[2m])".into(),
        "stddev_over_time(node_temperature_celsius[10m])".into(),
        "stdvar_over_time(memory_bytes[10m])".into(),
        "quantile_over_time(0.9, node_temperature_celsius[30m])".into(),
        "quantile_over_time(0, ratio[5m])".into(),
        "quantile_over_time(0.5, ratio[10m])".into(),
        "quantile_over_time(1, ratio[10m])".into(),
        "quantile_over_time(1.5, ratio[10m])".into(),
        "avg_over_time(weird[10m])".into(),
        "sum_over_time(weird[10m])".into(),
        "min_over_time(weird[10m])".into(),
        "max_over_time(weird[10m])".into(),
        "stddev_over_time(weird[10m])".into(),
        "quantile_over_time(0.5, weird[10m])".into(),
        "absent_over_time(node_temperature_celsius[5m])".into(),
        r#"absent_over_time(node_temperature_celsius{host="h2"}[2m])"#.into(),
        r#"absent_over_time(nonexistent{job="x", a=~"b"}[5m])"#.into(),
        // absent.
        "absent(http_requests_total)".into(),
        r#"absent(node_temperature_celsius{host="h2"})"#.into(),
        r#"absent(nonexistent{job="x", instance=~"y", zone="z"})"#.into(),
        r#"absent(sum(nonexistent{job="x"}))"#.into(),
        // Histograms.
        "histogram_quantile(0.9, rate(request_duration_seconds_bucket[5m]))".into(),
        "histogram_quantile(0.5, sum by (le) (rate(request_duration_seconds_bucket[10m])))".into(),
        "histogram_quantile(0.99, sum by (job, le) (increase(request_duration_seconds_bucket[1h])))".into(),
        "histogram_quantile(0, rate(request_duration_seconds_bucket[5m]))".into(),
        "histogram_quantile(1, rate(request_duration_seconds_bucket[5m]))".into(),
        "histogram_quantile(1.5, rate(request_duration_seconds_bucket[5m]))".into(),
        "histogram_quantile(-0.5, rate(request_duration_seconds_bucket[5m]))".into(),
        "histogram_quantile(0.75, request_duration_seconds_bucket)".into(),
        r#"histogram_quantile(0.5, request_duration_seconds_bucket{le!="+Inf"})"#.into(),
        "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])".into(),
        // Aggregations.
        "sum(http_requests_total)".into(),
        "sum by (job) (rate(http_requests_total[5m]))".into(),
        "sum without (instance) (rate(http_requests_total[5m]))".into(),
        "avg by (zone) (node_temperature_celsius)".into(),
        "min by (zone) (node_temperature_celsius)".into(),
        "max without (host) (node_temperature_celsius)".into(),
        "count by (job) (http_requests_total)".into(),
        "count without (code, instance) (http_requests_total)".into(),
        "group by (job) (http_requests_total)".into(),
        "group(node_temperature_celsius)".into(),
        "stddev(node_temperature_celsius)".into(),
        "stdvar by (zone) (node_temperature_celsius)".into(),
        "stddev by (host) (memory_bytes)".into(),
        "avg(memory_bytes)".into(),
        "quantile(0.5, node_temperature_celsius)".into(),
        "quantile by (job) (0.9, rate(http_requests_total[5m]))".into(),
        "quantile(0, ratio)".into(),
        "quantile(2, ratio)".into(),
        r#"count_values("value", queue_length)"#.into(),
        r#"count_values by (queue) ("v", queue_length)"#.into(),
        r#"count_values("t", node_temperature_celsius)"#.into(),
        "topk by (job) (1, rate(http_requests_total[5m]))".into(),
        "bottomk without (instance) (1, http_requests_total)".into(),
        "sum(weird)".into(),
        "avg(weird)".into(),
        "max(weird)".into(),
        "min(weird)".into(),
        "quantile(0.5, weird)".into(),
        "stddev(weird)".into(),
        "count(weird > 0)".into(),
        "sum by (le) (request_duration_seconds_bucket)".into(),
        // Binary operators and vector matching.
        r#"http_requests_total{code="500"} / ignoring(code) http_requests_total{code="200"}"#.into(),
        r#"rate(http_requests_total{code="500"}[5m]) / on(job, instance) rate(http_requests_total{code="200"}[5m])"#.into(),
        "sum by (job, instance) (rate(http_requests_total[5m])) / on(job) group_left sum by (job) (rate(http_requests_total[5m]))".into(),
        "sum by (job) (http_requests_total) / on(job) group_right sum by (job, instance) (http_requests_total)".into(),
        "http_requests_total / on(job, instance) group_left(zone) label_replace(node_temperature_celsius, \"instance\", \"a\", \"host\", \"h1\")".into(),
        "request_duration_seconds_bucket / ignoring(le) group_left request_duration_seconds_count".into(),
        "node_temperature_celsius > 20".into(),
        "node_temperature_celsius > bool 20".into(),
        "20 < node_temperature_celsius".into(),
        "node_temperature_celsius == bool on(host, zone) node_temperature_celsius".into(),
        "node_temperature_celsius >= on(zone) group_left avg by (zone) (node_temperature_celsius)".into(),
        "queue_length != 0".into(),
        "queue_length != bool 0".into(),
        "node_temperature_celsius % 3".into(),
        "node_temperature_celsius ^ 2".into(),
        "node_temperature_celsius atan2 10".into(),
        "2 * node_temperature_celsius - 1".into(),
        "scalar(sum(queue_length)) * node_temperature_celsius".into(),
        "memory_bytes / 1024 / 1024".into(),
        "memory_bytes ^ 3".into(),
        "ratio / 1e7".into(),
        "http_requests_total - http_requests_total offset 5m".into(),
        "1 / (queue_length - queue_length)".into(),
        "queue_length / queue_length".into(),
        "weird * 0".into(),
        "weird > 5".into(),
        "-weird < bool -5".into(),
        "2 > bool 1".into(),
        "time() - 1000 > 0".into(),
        // Set operators.
        r#"http_requests_total and http_requests_total{code="200"}"#.into(),
        "http_requests_total or node_temperature_celsius".into(),
        r#"rate(http_requests_total[5m]) unless on(job) rate(http_requests_total{instance="b"}[5m])"#.into(),
        r#"node_temperature_celsius and on(zone) (node_temperature_celsius{host="h1"} > 20)"#.into(),
        r#"http_requests_total unless http_requests_total{instance="a"}"#.into(),
        "vector(1) or vector(2)".into(),
        r#"node_temperature_celsius{host="h2"} or on() vector(-1)"#.into(),
        r#"(queue_length > 1) or ignoring(queue) (queue_length < 1)"#.into(),
        // Labels.
        r#"label_replace(http_requests_total, "dst", "$1-x", "instance", "(.*)")"#.into(),
        r#"label_replace(http_requests_total, "code", "", "code", "5.*")"#.into(),
        r#"label_replace(node_temperature_celsius, "z", "${1}_$2", "host", "(h)(\\d)")"#.into(),
        r#"label_replace(node_temperature_celsius, "host", "x", "host", "nomatch")"#.into(),
        r#"label_join(node_temperature_celsius, "hz", "/", "host", "zone")"#.into(),
        r#"label_join(node_temperature_celsius, "host", "", "zone")"#.into(),
        r#"label_replace(rate(http_requests_total[5m]), "name_copy", "$1", "__name__", "(.+)")"#.into(),
        // Math.
        "abs(node_temperature_celsius)".into(),
        "ceil(node_temperature_celsius)".into(),
        "floor(node_temperature_celsius)".into(),
        "round(node_temperature_celsius)".into(),
        "round(node_temperature_celsius, 0.5)".into(),
        "round(node_temperature_celsius, 5)".into(),
        "clamp(node_temperature_celsius, 0, 21)".into(),
        "clamp(node_temperature_celsius, 5, 1)".into(),
        "clamp_min(node_temperature_celsius, 20)".into(),
        "clamp_max(node_temperature_celsius, 20)".into(),
        "sqrt(node_temperature_celsius)".into(),
        "exp(node_temperature_celsius / 10)".into(),
        "exp(memory_bytes)".into(),
        "ln(node_temperature_celsius)".into(),
        "ln(queue_length)".into(),
        "log2(memory_bytes)".into(),
        "log10(memory_bytes)".into(),
        "sgn(node_temperature_celsius - 20)".into(),
        "abs(weird)".into(),
        "sqrt(weird)".into(),
        "round(weird)".into(),
        "sin(ratio)".into(),
        "cos(ratio)".into(),
        "atan(ratio)".into(),
        "tanh(node_temperature_celsius)".into(),
        "deg(ratio)".into(),
        "rad(node_temperature_celsius)".into(),
        // Time.
        "time()".into(),
        "day_of_week()".into(),
        "day_of_week(vector(time()))".into(),
        "day_of_month(vector(time()))".into(),
        "day_of_year(vector(time()))".into(),
        "days_in_month(vector(time()))".into(),
        "hour(vector(time()))".into(),
        "minute(vector(time()))".into(),
        "month()".into(),
        "year(vector(time()))".into(),
        "day_of_week(vector(1709251199))".into(),
        "days_in_month(vector(1709251199))".into(),
        "timestamp(http_requests_total)".into(),
        "timestamp(node_temperature_celsius offset 1h)".into(),
        format!("timestamp(memory_bytes @ {at})"),
        "hour(timestamp(node_temperature_celsius))".into(),
        "vector(time()) - timestamp(memory_bytes)".into(),
        "timestamp(sum(memory_bytes))".into(),
        // scalar / vector.
        "scalar(http_requests_total)".into(),
        "scalar(sum(http_requests_total))".into(),
        r#"scalar(node_temperature_celsius{host="h2"})"#.into(),
        "vector(scalar(sum(queue_length)))".into(),
        "vector(1)".into(),
        // Subqueries.
        "max_over_time(rate(http_requests_total[5m])[30m:1m])".into(),
        "avg_over_time(node_temperature_celsius[20m:30s])".into(),
        "rate(sum(http_requests_total)[10m:1m])".into(),
        "min_over_time(deriv(node_temperature_celsius[10m])[1h:5m])".into(),
        "quantile_over_time(0.5, sum(rate(http_requests_total[2m]))[30m:2m])".into(),
        "max_over_time(node_temperature_celsius[10m:1m] offset 20m)".into(),
        "sum_over_time(vector(1)[5m:30s])".into(),
        "count_over_time(node_temperature_celsius[10m:])".into(),
        format!("last_over_time(queue_length[1h:10m] @ {at})"),
        "max_over_time(max_over_time(queue_length[5m:10s])[20m:1m])".into(),
        "absent_over_time(node_temperature_celsius[5m:1m])".into(),
        "changes(queue_length[30m:15s])".into(),
    ];
    let ordered = [
        "sort(node_temperature_celsius)",
        "sort_desc(rate(http_requests_total[5m]))",
        "sort(weird)",
        "sort_desc(weird)",
        "sort(queue_length)",
        "topk(3, http_requests_total)",
        "bottomk(2, node_temperature_celsius)",
        "topk(2, weird)",
        "bottomk(2, weird)",
        "topk(2, rate(http_requests_total[5m]))",
    ];
    let instant_only = [
        r#"http_requests_total{instance="a", code="200"}[2m]"#,
        "node_temperature_celsius[1m] offset 30m",
        "rate(http_requests_total[5m])[10m:2m]",
        "\"hello\"",
        "42",
    ];
    let mut out: Vec<Q> = plain
        .into_iter()
        .map(|expr| Q {
            expr,
            ordered: false,
            instant_only: false,
        })
        .collect();
    out.extend(ordered.iter().map(|e| Q {
        expr: e.to_string(),
        ordered: true,
        instant_only: false,
    }));
    out.extend(instant_only.iter().map(|e| Q {
        expr: e.to_string(),
        ordered: false,
        instant_only: true,
    }));
    out
}

/// Queries that must fail in both, with the same error type.
const ERRORS: &[&str] = &[
    "rate(http_requests_total)",
    "rate(http_requests_total[5m]",
    "nosuchfunction(http_requests_total)",
    "sum(http_requests_total[5m])",
    r#"label_replace(http_requests_total, "a", "b", "c", "(")"#,
    r#"label_replace(up, "a", "b", "c", "(")"#,
    "http_requests_total + on(job) http_requests_total",
    "sum by (job) (http_requests_total) / on(job) group_left sum by (job, instance) (http_requests_total)",
    r#"{__name__=~"request_duration_seconds_(sum|count)"} * 2"#,
    r#"label_replace(http_requests_total, "code", "x", "code", ".*")"#,
    r#"quantile_over_time("a", ratio[5m])"#,
    "http_requests_total @ 1e100",
    "{__name__=~\".*\"}",
];

/// One request to send to both servers; `params[0]` is the query.
struct Job {
    path: &'static str,
    params: Vec<(&'static str, String)>,
    /// Whether the order of the instant result's values matters.
    ordered: bool,
}

/// A running server of either kind, by base URL.
struct Api {
    name: &'static str,
    base: String,
    http: reqwest::blocking::Client,
}

/// A query's answer: HTTP status and JSON body (and the raw text).
struct Answer {
    code: u16,
    body: Value,
    text: String,
}

impl Api {
    fn get(&self, path: &str, params: &[(&str, String)]) -> Answer {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .query(params)
            .send()
            .unwrap_or_else(|e| panic!("{}: {path} {params:?}: {e}", self.name));
        let code = r.status().as_u16();
        let text = r.text().unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { code, body, text }
    }
}

/// A value as Prometheus writes it.
fn num(v: &Value) -> f64 {
    match v.as_str() {
        Some("NaN") => f64::NAN,
        Some("+Inf") => f64::INFINITY,
        Some("-Inf") => f64::NEG_INFINITY,
        Some(s) => s.parse().unwrap_or_else(|_| panic!("bad value {s:?}")),
        None => panic!("value {v} is not a string"),
    }
}

fn close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    let d = (a - b).abs();
    d <= 1e-9 * a.abs().max(b.abs()) || d <= 1e-12
}

/// Queries that probe how values in exponent form are printed. While
/// they are in [`KNOWN_DIFFERENCES`], the other queries do not compare the
/// text of such values, which would otherwise fail them whenever both
/// sides happen to compute the very same tiny or huge value.
const EXPONENT_PROBES: [&str; 2] = ["memory_bytes ^ 3", "ratio / 1e7"];

fn exponent_text_known() -> bool {
    KNOWN_DIFFERENCES
        .iter()
        .any(|(q, _)| EXPONENT_PROBES.contains(q))
}

/// Values Prometheus prints in exponent form (`strconv` 'e' rather
/// than 'f').
fn exponent_form(v: f64) -> bool {
    v != 0.0 && v.is_finite() && (v.abs() < 1e-6 || v.abs() >= 1e21)
}

/// Compares two `[t, "v"]` points; `None` when they agree.
fn point_diff(p: &Value, q: &Value, lax_exponent_text: bool) -> Option<String> {
    let (tp, tq) = (p[0].as_f64(), q[0].as_f64());
    if tp != tq {
        return Some(format!("timestamp {} vs {}", p[0], q[0]));
    }
    let (a, b) = (num(&p[1]), num(&q[1]));
    if !close(a, b) {
        return Some(format!("value {} vs {}", p[1], q[1]));
    }
    if a.to_bits() == b.to_bits() && p[1] != q[1] && !(lax_exponent_text && exponent_form(a)) {
        return Some(format!("same value printed as {} vs {}", p[1], q[1]));
    }
    None
}

/// Canonical text of a label set.
fn labels_key(m: &Value) -> String {
    let map: BTreeMap<&String, &Value> = m
        .as_object()
        .unwrap_or_else(|| panic!("metric {m} is not an object"))
        .iter()
        .collect();
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", parts.join(","))
}

/// Differences between Prometheus's answer `p` and pharos's `q`.
fn diff(p: &Answer, q: &Answer, ordered: bool, lax_exponent_text: bool) -> Vec<String> {
    let mut out = Vec::new();
    if p.code != q.code || p.body["status"] != q.body["status"] {
        out.push(format!(
            "HTTP {} vs {}: {} vs {}",
            p.code,
            q.code,
            truncate(&p.text),
            truncate(&q.text)
        ));
        return out;
    }
    if p.body["status"] == "error" {
        if p.body["errorType"] != q.body["errorType"] {
            out.push(format!(
                "errorType {} vs {}",
                p.body["errorType"], q.body["errorType"]
            ));
        }
        return out;
    }
    let (pd, qd) = (&p.body["data"], &q.body["data"]);
    if pd["resultType"] != qd["resultType"] {
        out.push(format!(
            "resultType {} vs {}",
            pd["resultType"], qd["resultType"]
        ));
        return out;
    }
    let (pr, qr) = (&pd["result"], &qd["result"]);
    match pd["resultType"].as_str().unwrap_or("") {
        "scalar" => out.extend(point_diff(pr, qr, lax_exponent_text)),
        "string" => {
            if pr != qr {
                out.push(format!("{pr} vs {qr}"));
            }
        }
        "vector" | "matrix" => {
            let mut index = |r: &Value, who: &str| -> BTreeMap<String, Vec<Value>> {
                let mut m = BTreeMap::new();
                for s in r.as_array().unwrap() {
                    let points = match s.get("value") {
                        Some(v) => vec![v.clone()],
                        None => s["values"].as_array().unwrap().clone(),
                    };
                    let key = labels_key(&s["metric"]);
                    if m.insert(key.clone(), points).is_some() {
                        out.push(format!("{who} returns {key} more than once"));
                    }
                }
                m
            };
            let (pm, qm) = (index(pr, "Prometheus"), index(qr, "pharos"));
            let pk: BTreeSet<&String> = pm.keys().collect();
            let qk: BTreeSet<&String> = qm.keys().collect();
            for k in pk.difference(&qk) {
                out.push(format!("only Prometheus has {k} {}", short(&pm[*k])));
            }
            for k in qk.difference(&pk) {
                out.push(format!("only pharos has {k} {}", short(&qm[*k])));
            }
            for k in pk.intersection(&qk) {
                let (a, b) = (&pm[*k], &qm[*k]);
                if a.len() != b.len() {
                    out.push(format!(
                        "{k}: {} points vs {}: {} vs {}",
                        a.len(),
                        b.len(),
                        short(a),
                        short(b)
                    ));
                    continue;
                }
                for (x, y) in a.iter().zip(b) {
                    if let Some(d) = point_diff(x, y, lax_exponent_text) {
                        out.push(format!("{k}: {d}"));
                        break;
                    }
                }
            }
            if ordered && out.is_empty() && pd["resultType"] == "vector" {
                let seq = |r: &Value| -> Vec<f64> {
                    r.as_array()
                        .unwrap()
                        .iter()
                        .map(|s| num(&s["value"][1]))
                        .collect()
                };
                let (a, b) = (seq(pr), seq(qr));
                if !a.iter().zip(&b).all(|(x, y)| close(*x, *y)) {
                    out.push(format!("order of values {a:?} vs {b:?}"));
                }
            }
        }
        other => out.push(format!("unknown resultType {other}")),
    }
    if out.len() > 4 {
        let n = out.len();
        out.truncate(4);
        out.push(format!("… {} more", n - 4));
    }
    out
}

fn short(points: &[Value]) -> String {
    let s: Vec<String> = points.iter().take(3).map(|p| p.to_string()).collect();
    let more = if points.len() > 3 { ", …" } else { "" };
    format!("[{}{more}]", s.join(", "))
}

fn truncate(s: &str) -> String {
    if s.len() > 300 {
        format!("{}…", &s[..300])
    } else {
        s.to_string()
    }
}

/// Starts Prometheus on `data` (already holding blocks) and waits until
/// it is ready.
fn start_prometheus(dir: &Path, data: &Path) -> (ChildGuard, String) {
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  evaluation_interval: 1m\n").unwrap();
    let port = free_tcp_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let guard = ChildGuard::spawn(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=30d")
            .arg(format!("--web.console.templates={}", dir.display()))
            .arg(format!("--web.console.libraries={}", dir.display()))
            .stdout(Stdio::null())
            .stderr(log),
    );
    let ready = format!("{base}/-/ready");
    wait_for(
        Duration::from_secs(20),
        "Prometheus to be ready",
        || match reqwest::blocking::get(&ready) {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status())),
            Err(e) => Err(format!(
                "{e}; log: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            )),
        },
    );
    (guard, base)
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Both servers holding the same data.
struct Pair {
    d: Dataset,
    prom: Api,
    ours: Api,
    _pharos: Server,
    _prometheus: ChildGuard,
    _dir: tempfile::TempDir,
}

/// Writes the data set, loads it into Prometheus and pharos, starts both
/// and checks that both hold every series; `None` (after saying why) when
/// Prometheus is not installed.
fn start_both() -> Option<Pair> {
    for tool in [PROMETHEUS, PROMTOOL] {
        if !Path::new(tool).exists() {
            eprintln!(
                "skipping: {tool} is missing (Debian package `prometheus`; tests/run.sh installs it)"
            );
            return None;
        }
    }
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // The last sample lands 4–5 minutes before now.
    let d = Dataset {
        start: now / 60 * 60 - 4 * 60 - STEPS * 15,
    };
    let (om, n_series) = openmetrics(&d);
    let file = dir.path().join("data.om");
    std::fs::write(&file, &om).unwrap();

    // Prometheus: blocks from promtool, then the server.
    let prom_data: PathBuf = dir.path().join("prometheus-data");
    run(Command::new(PROMTOOL)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&prom_data));
    let (prometheus, prom_base) = start_prometheus(dir.path(), &prom_data);
    // pharos: the import, then the server.
    let pharos_data = dir.path().join("pharos-data");
    run(Command::new(pharos_bin())
        .args(["import", "openmetrics", "--quiet"])
        .arg(&file)
        .arg(format!("--storage.path={}", pharos_data.display())));
    let pharos = Server::start(&pharos_data);

    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let prom = Api {
        name: "Prometheus",
        base: prom_base,
        http: http.clone(),
    };
    let ours = Api {
        name: "pharos",
        base: format!("http://{}", pharos.addr),
        http,
    };

    // Both hold every series (Prometheus has loaded promtool's blocks).
    let count = r#"count(last_over_time({__name__=~".+"}[4h]))"#.to_string();
    for api in [&prom, &ours] {
        let a = api.get(
            "/api/v1/query",
            &[("query", count.clone()), ("time", d.at(180).to_string())],
        );
        assert_eq!(
            a.body["data"]["result"][0]["value"][1],
            Value::String(n_series.to_string()),
            "{} does not hold the {n_series} series: {}",
            api.name,
            a.text
        );
    }
    eprintln!(
        "loaded {n_series} series into both in {:.1?}",
        began.elapsed()
    );
    Some(Pair {
        d,
        prom,
        ours,
        _pharos: pharos,
        _prometheus: prometheus,
        _dir: dir,
    })
}

/// Fails for each difference not listed in `known` (query → what was
/// seen) and for each listed query that no longer differs.
fn check_against_lists(by_query: &BTreeMap<String, String>, total: usize) {
    let mut failures = Vec::new();
    for (query, text) in by_query {
        let known = KNOWN_DIFFERENCES
            .iter()
            .chain(PROMETHEUS_2_42_ONLY)
            .find(|(q, _)| q == query);
        match known {
            Some((_, seen)) => eprintln!("known difference ({seen}):\n{query}\n{text}"),
            None => failures.push(format!("{query}\n{text}")),
        }
    }
    for (list, name) in [
        (KNOWN_DIFFERENCES, "KNOWN_DIFFERENCES"),
        (PROMETHEUS_2_42_ONLY, "PROMETHEUS_2_42_ONLY"),
    ] {
        for (q, _) in list {
            if !by_query.contains_key(*q) {
                failures.push(format!(
                    "{q}\n    now agrees with Prometheus 2.42: remove it from {name}\n"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} queries differ from Prometheus 2.42:\n{}",
        failures.len(),
        failures.join("")
    );
}

#[test]
fn pharos_answers_like_prometheus() {
    // Bound whole: the servers live as long as `pair`.
    let Some(pair) = start_both() else {
        return;
    };
    let Pair { d, prom, ours, .. } = &pair;
    let began = Instant::now();

    // Evaluation times: near the start (windows reaching before the
    // data), inside h2's gap, an hour in, inside web/b/200's gap, after
    // web/b/500 stopped, after the last sample within the lookback, and
    // past it.
    let instant_times: Vec<i64> = [3, 30, 60, 105, 150, 182, 187]
        .iter()
        .map(|&m| d.at(m))
        .collect();
    // (start, end, step) in seconds.
    let ranges = [(d.at(-10), d.at(190), 60), (d.at(100), d.at(130), 15)];

    let qs = queries(d);
    let mut jobs: Vec<Job> = Vec::new();
    for q in &qs {
        for &t in &instant_times {
            jobs.push(Job {
                path: "/api/v1/query",
                params: vec![("query", q.expr.clone()), ("time", t.to_string())],
                ordered: q.ordered,
            });
        }
        if !q.instant_only {
            for &(s, e, step) in &ranges {
                jobs.push(Job {
                    path: "/api/v1/query_range",
                    params: vec![
                        ("query", q.expr.clone()),
                        ("start", s.to_string()),
                        ("end", e.to_string()),
                        ("step", step.to_string()),
                    ],
                    ordered: false,
                });
            }
        }
    }
    for e in ERRORS {
        jobs.push(Job {
            path: "/api/v1/query",
            params: vec![("query", e.to_string()), ("time", d.at(60).to_string())],
            ordered: false,
        });
    }

    // A few threads: both servers are mostly idle otherwise.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<BTreeMap<usize, Vec<String>>> = Default::default();
    let error_messages: std::sync::Mutex<Vec<String>> = Default::default();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(Job {
                    path,
                    params,
                    ordered,
                }) = jobs.get(i)
                else {
                    break;
                };
                let p = prom.get(path, params);
                let q = ours.get(path, params);
                if p.body["status"] == "error" && q.body["status"] == "error" {
                    error_messages.lock().unwrap().push(format!(
                        "{}\n    Prometheus: {}\n    pharos:     {}",
                        params[0].1, p.body["error"], q.body["error"]
                    ));
                }
                let query = params[0].1.as_str();
                let lax = exponent_text_known() && !EXPONENT_PROBES.contains(&query);
                let d = diff(&p, &q, *ordered, lax);
                if !d.is_empty() {
                    let at = params[1..]
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let mut lines = vec![format!("{path} {at}")];
                    lines.extend(d);
                    results.lock().unwrap().insert(i, lines);
                }
            });
        }
    });
    eprintln!(
        "{} requests to each server ({} queries) in {:.1?}",
        jobs.len(),
        qs.len() + ERRORS.len(),
        began.elapsed()
    );
    let mut errs = error_messages.into_inner().unwrap();
    errs.sort();
    errs.dedup();
    eprintln!("error messages (informational):");
    for e in &errs {
        eprintln!("  {e}");
    }

    // Group the differences by query.
    let results = results.into_inner().unwrap();
    let mut cases_of: BTreeMap<&str, Vec<&Vec<String>>> = BTreeMap::new();
    for (i, lines) in &results {
        cases_of
            .entry(jobs[*i].params[0].1.as_str())
            .or_default()
            .push(lines);
    }
    let mut by_query = BTreeMap::new();
    for (query, cases) in &cases_of {
        let mut text = String::new();
        for c in cases.iter().take(3) {
            for l in c.iter() {
                let _ = writeln!(text, "    {l}");
            }
        }
        if cases.len() > 3 {
            let _ = writeln!(text, "    … and at {} more times", cases.len() - 3);
        }
        by_query.insert(query.to_string(), text);
    }
    eprintln!("done in {:.1?}", began.elapsed());
    check_against_lists(&by_query, qs.len() + ERRORS.len());
}

/// Requests whose whole response body must be Prometheus's, byte for
/// byte: key order, timestamp and value text, and the order of results
/// where Prometheus defines it (sorted matrices, metadata lists).
fn byte_exact(d: &Dataset) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let t = d.at(60).to_string();
    let range = |q: &str, step: &str| {
        vec![
            ("query", q.to_string()),
            ("start", d.at(100).to_string()),
            ("end", d.at(110).to_string()),
            ("step", step.to_string()),
        ]
    };
    let span = || {
        vec![
            ("start", (d.start - 60).to_string()),
            ("end", d.at(190).to_string()),
        ]
    };
    let with = |mut v: Vec<(&'static str, String)>, k: &'static str, x: &str| {
        v.push((k, x.to_string()));
        v
    };
    let instant = |q: &str| vec![("query", q.to_string()), ("time", t.clone())];
    vec![
        (
            "/api/v1/query",
            instant(r#"node_temperature_celsius{host="h1"}"#),
        ),
        (
            "/api/v1/query",
            instant(r#"timestamp(memory_bytes{host="h1"})"#),
        ),
        ("/api/v1/query", instant("sum(http_requests_total)")),
        ("/api/v1/query", instant("scalar(sum(queue_length))")),
        ("/api/v1/query", instant(r#""hello""#)),
        ("/api/v1/query", instant(r#"weird{case="inf"} > 1e300"#)),
        (
            "/api/v1/query",
            instant(r#"http_requests_total{job="api", instance="a", code="200"}[1m]"#),
        ),
        (
            "/api/v1/query",
            vec![
                ("query", "vector(1)".to_string()),
                ("time", format!("{}.5", d.at(60))),
            ],
        ),
        (
            "/api/v1/query_range",
            range("max by (job) (http_requests_total)", "60"),
        ),
        ("/api/v1/query_range", range("weird", "15")),
        ("/api/v1/query_range", range("queue_length", "90")),
        ("/api/v1/query_range", range("time()", "30")),
        ("/api/v1/labels", span()),
        ("/api/v1/label/le/values", span()),
        ("/api/v1/label/__name__/values", span()),
        (
            "/api/v1/label/job/values",
            with(span(), "match[]", "request_duration_seconds_count"),
        ),
        (
            "/api/v1/series",
            with(span(), "match[]", "request_duration_seconds_count"),
        ),
        (
            "/api/v1/series",
            with(
                with(span(), "match[]", r#"{job="web"}"#),
                "match[]",
                "memory_bytes",
            ),
        ),
    ]
}

/// The JSON type of every key Prometheus's value has must be the same in
/// pharos's (which may have more keys); arrays compare their first
/// elements when both have one.
fn shape_diff(path: &str, p: &Value, q: &Value, out: &mut Vec<String>) {
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if kind(p) != kind(q) {
        out.push(format!(
            "{path}: {} in Prometheus, {} in pharos",
            kind(p),
            kind(q)
        ));
        return;
    }
    match (p, q) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => shape_diff(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("{path}.{k}: missing in pharos")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if let (Some(v), Some(w)) = (a.first(), b.first()) {
                shape_diff(&format!("{path}[0]"), v, w, out);
            }
        }
        _ => {}
    }
}

#[test]
fn bodies_and_status_shapes_match_prometheus() {
    // Bound whole: the servers live as long as `pair`.
    let Some(pair) = start_both() else {
        return;
    };
    let Pair { d, prom, ours, .. } = &pair;
    let began = Instant::now();
    let mut failures = Vec::new();
    for (path, params) in byte_exact(d) {
        let (p, q) = (prom.get(path, &params), ours.get(path, &params));
        if p.code != 200 {
            failures.push(format!("{path} {params:?}: Prometheus answered {}", p.text));
        } else if (p.code, &p.text) != (q.code, &q.text) {
            failures.push(format!(
                "{path} {params:?}:\n    Prometheus: {}\n    pharos:     {} {}",
                truncate(&p.text),
                q.code,
                truncate(&q.text)
            ));
        }
    }

    // The status endpoints: Prometheus's keys, with the same JSON types.
    for path in [
        "/api/v1/status/buildinfo",
        "/api/v1/status/runtimeinfo",
        "/api/v1/status/flags",
        "/api/v1/status/config",
        "/api/v1/status/tsdb",
    ] {
        let (p, q) = (prom.get(path, &[]), ours.get(path, &[]));
        assert_eq!(p.code, 200, "{path}: {}", p.text);
        if q.code != 200 || q.body["status"] != "success" {
            failures.push(format!("{path}: pharos answered {} {}", q.code, q.text));
            continue;
        }
        let mut out = Vec::new();
        if path.ends_with("/flags") {
            // Different programs, different flags: the ones both have
            // are strings in both.
            for k in [
                "web.listen-address",
                "storage.tsdb.path",
                "storage.tsdb.retention.time",
                "config.file",
                "query.lookback-delta",
                "query.timeout",
                "query.max-samples",
                "log.level",
            ] {
                shape_diff(
                    &format!("{path}.{k}"),
                    &p.body["data"][k],
                    &q.body["data"][k],
                    &mut out,
                );
            }
        } else {
            shape_diff(path, &p.body, &q.body, &mut out);
        }
        failures.extend(out);
    }
    eprintln!("done in {:.1?}", began.elapsed());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
