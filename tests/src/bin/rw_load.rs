//! Remote-write 1.0 load generator for `tests/bench/ingest_bench.py`.
//!
//! Sends node_exporter-like samples for `--series` active series, one scrape
//! round (every series once, 15 s apart in sample time) after another,
//! `--per-request` samples per request, from `--senders` threads, for
//! `--duration` seconds (after `--warmup` seconds whose samples are not
//! counted). Prints one JSON line: samples and requests sent and accepted in
//! the measured window and the achieved rate.
//!
//! usage: rw_load --url http://127.0.0.1:19090/api/v1/write [--series 100000]
//!        [--per-request 2000] [--senders 2] [--warmup 10] [--duration 30]
//!        [--rounds R]
//!
//! With `--rounds R` it instead sends exactly R samples per series (R scrape
//! rounds) as fast as it can, then exits: the memory benchmark compares
//! systems holding the same data, whatever their speed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pharos_agent::remote::proto;
use prost::Message;

struct Args {
    url: String,
    series: u64,
    per_request: u64,
    senders: u64,
    warmup: u64,
    duration: u64,
    rounds: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:19090/api/v1/write".into(),
        series: 100_000,
        per_request: 2000,
        senders: 2,
        warmup: 10,
        duration: 30,
        rounds: 0,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        let num = || {
            v.parse::<u64>()
                .unwrap_or_else(|_| panic!("{} needs a number", argv[i]))
        };
        match argv[i].as_str() {
            "--url" => a.url = v.clone(),
            "--series" => a.series = num(),
            "--per-request" => a.per_request = num(),
            "--senders" => a.senders = num(),
            "--warmup" => a.warmup = num(),
            "--duration" => a.duration = num(),
            "--rounds" => a.rounds = num(),
            other => panic!("unknown argument {other}; see the usage in the source header"),
        }
        i += 2;
    }
    a
}

/// Labels of series `i`: 100 metric names per host, a few label pairs each.
fn labels(i: u64) -> Vec<proto::Label> {
    let l = |n: &str, v: String| proto::Label::new(n, v);
    let host = i / 100;
    let m = i % 100;
    let mut v = vec![
        l("__name__", format!("node_bench_metric_{}", m / 4)),
        l("cpu", (m % 4).to_string()),
        l("instance", format!("host-{host:05}:9100")),
        l("job", "node".into()),
    ];
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// A counter-like value with two decimals, as node_exporter's CPU seconds.
fn value(i: u64, round: u64) -> f64 {
    let rate = (i % 97 + 1) as f64 * 0.37;
    ((round as f64 * rate + (i % 13) as f64) * 100.0).round() / 100.0
}

fn main() {
    let a = parse_args();
    let start_ms: i64 = 1_700_000_000_000;
    let all_labels: Arc<Vec<Vec<proto::Label>>> = Arc::new((0..a.series).map(labels).collect());
    // Requests are numbered globally; request r covers samples
    // [r*per_request, (r+1)*per_request) of the endless sequence
    // round-major over series. Each sender takes the next number, so every
    // series receives its rounds in order as long as a round has more
    // requests than there are senders (true for the sizes used).
    let next = Arc::new(AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for _ in 0..a.senders {
        let (next, measuring, stop, sent, accepted, failed, all_labels) = (
            Arc::clone(&next),
            Arc::clone(&measuring),
            Arc::clone(&stop),
            Arc::clone(&sent),
            Arc::clone(&accepted),
            Arc::clone(&failed),
            Arc::clone(&all_labels),
        );
        let (url, per_request, series) = (a.url.clone(), a.per_request, a.series);
        // With --rounds, the request numbers that exist.
        let last_request = (a.rounds > 0).then(|| a.rounds * a.series / a.per_request);
        threads.push(std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let r = next.fetch_add(1, Ordering::Relaxed);
                if last_request.is_some_and(|l| r >= l) {
                    break;
                }
                let first = r * per_request;
                let timeseries = (first..first + per_request)
                    .map(|k| {
                        let (round, i) = (k / series, k % series);
                        proto::TimeSeries {
                            labels: all_labels[i as usize].clone(),
                            samples: vec![proto::Sample {
                                value: value(i, round),
                                timestamp: start_ms + round as i64 * 15_000,
                            }],
                            ..Default::default()
                        }
                    })
                    .collect();
                let body = snap::raw::Encoder::new()
                    .compress_vec(
                        &proto::WriteRequest {
                            timeseries,
                            metadata: vec![],
                        }
                        .encode_to_vec(),
                    )
                    .expect("snappy");
                let res = client
                    .post(&url)
                    .header("Content-Type", "application/x-protobuf")
                    .header("Content-Encoding", "snappy")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                    .body(body)
                    .send();
                let ok = matches!(&res, Ok(r) if r.status().is_success());
                if !ok {
                    let msg = match res {
                        Ok(r) => format!("{} {}", r.status(), r.text().unwrap_or_default()),
                        Err(e) => e.to_string(),
                    };
                    if failed.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("rw_load: request {r} failed: {}", msg.trim());
                    }
                }
                if measuring.load(Ordering::Relaxed) {
                    sent.fetch_add(per_request, Ordering::Relaxed);
                    if ok {
                        accepted.fetch_add(per_request, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let elapsed = if a.rounds > 0 {
        // Memory mode: send the fixed amount as fast as possible.
        let t0 = Instant::now();
        measuring.store(true, Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        t0.elapsed().as_secs_f64()
    } else {
        std::thread::sleep(Duration::from_secs(a.warmup));
        // Marks the measured window for the driver, which samples the
        // server's CPU time when it reads this line.
        println!("{{\"event\":\"measure_start\"}}");
        let t0 = Instant::now();
        measuring.store(true, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(a.duration));
        measuring.store(false, Ordering::SeqCst);
        let elapsed = t0.elapsed().as_secs_f64();
        println!("{{\"event\":\"measure_end\"}}");
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        elapsed
    };
    let acc = accepted.load(Ordering::Relaxed);
    println!(
        "{{\"event\":\"result\",\"samples_sent\":{},\"samples_accepted\":{},\"failed_requests\":{},\"seconds\":{:.3},\"samples_per_second\":{:.0}}}",
        sent.load(Ordering::Relaxed),
        acc,
        failed.load(Ordering::Relaxed),
        elapsed,
        acc as f64 / elapsed
    );
}
