//! Exposition parsing throughput (MB/s of input) on real scrape bodies:
//! node_exporter's output and Prometheus's parser fixtures. Entries are
//! consumed one by one, as the scrape loop does, not collected.

use std::fs;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pharos_agent::exposition::{lines, Entry, Format, Parser, Validation};

fn read(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(rel);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Parses `body` and returns a checksum so nothing is optimised away.
fn parse(body: &str, format: Format, validation: Validation) -> f64 {
    let mut parser = Parser::with_validation(format, validation);
    let mut sum = 0.0;
    for (i, line) in lines(body).enumerate() {
        if let Some(Entry::Sample(s)) = parser.parse_line(line, i + 1).expect("valid fixture") {
            sum += s.value + s.labels.len() as f64;
        }
    }
    parser.finish().expect("valid fixture");
    sum
}

fn bench(c: &mut Criterion) {
    let cases = [
        (
            "node_exporter",
            "node_exporter/e2e-output.txt",
            Format::PrometheusText,
            Validation::Strict,
        ),
        (
            "prometheus_alltypes_text",
            "prometheus-textparse/alltypes.237mfs.prom.txt",
            Format::PrometheusText,
            Validation::Strict,
        ),
        // Breaks a strict rule (negative histogram _sum), as real targets do.
        (
            "prometheus_alltypes_openmetrics_lenient",
            "prometheus-textparse/alltypes.5mfs.om.txt",
            Format::OpenMetrics,
            Validation::Prometheus,
        ),
        (
            "prometheus_histogram_openmetrics_strict",
            "prometheus-textparse/1histogram.om.txt",
            Format::OpenMetrics,
            Validation::Strict,
        ),
    ];
    let mut group = c.benchmark_group("exposition");
    for (name, file, format, validation) in cases {
        let body = read(file);
        parse(&body, format, validation); // fail fast on a broken fixture
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| parse(black_box(&body), format, validation))
        });
    }
    // A scrape-sized OpenMetrics body, to price the strict cross-line rules.
    let body = synthetic_openmetrics();
    group.throughput(Throughput::Bytes(body.len() as u64));
    for (name, validation) in [
        ("synthetic_openmetrics_strict", Validation::Strict),
        ("synthetic_openmetrics_lenient", Validation::Prometheus),
    ] {
        parse(&body, Format::OpenMetrics, validation);
        group.bench_function(name, |b| {
            b.iter(|| parse(black_box(&body), Format::OpenMetrics, validation))
        });
    }
    group.finish();
}

/// 100 counter families and 20 histogram families, 20 series each, in the
/// shape client libraries write (about 400 KB).
fn synthetic_openmetrics() -> String {
    use std::fmt::Write;
    let mut b = String::new();
    for f in 0..100 {
        let _ = writeln!(b, "# TYPE app_requests_{f} counter");
        let _ = writeln!(
            b,
            "# HELP app_requests_{f} Requests handled, by path and code."
        );
        for s in 0..20 {
            let _ = writeln!(
                b,
                "app_requests_{f}_total{{instance=\"host-{s}.example.org:9100\",path=\"/api/v1/items/{s}\",code=\"200\"}} {}",
                f * 1000 + s * 7
            );
        }
    }
    for f in 0..20 {
        let _ = writeln!(b, "# TYPE app_latency_{f}_seconds histogram");
        let _ = writeln!(b, "# UNIT app_latency_{f}_seconds seconds");
        for s in 0..20 {
            let labels = format!("instance=\"host-{s}.example.org:9100\",path=\"/api/v1/items\"");
            let mut cum = 0;
            for (i, le) in [
                "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "+Inf",
            ]
            .iter()
            .enumerate()
            {
                cum += i * 3 + s;
                let _ = writeln!(
                    b,
                    "app_latency_{f}_seconds_bucket{{{labels},le=\"{le}\"}} {cum}"
                );
            }
            let _ = writeln!(b, "app_latency_{f}_seconds_sum{{{labels}}} {}.25", cum * 2);
            let _ = writeln!(b, "app_latency_{f}_seconds_count{{{labels}}} {cum}");
            let _ = writeln!(b, "app_latency_{f}_seconds_created{{{labels}}} 1.7e9");
        }
    }
    b.push_str("# EOF\n");
    b
}

criterion_group!(benches, bench);
criterion_main!(benches);
