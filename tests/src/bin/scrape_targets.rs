//! Scrape targets for `tests/bench/scrape_bench.py`: one process serving
//! `--targets` N distinct targets on N ports, each answering every request
//! with Prometheus text format 0.0.4 holding `--series` M node_exporter-like
//! series (a few metric families with label combinations, ~60-80 bytes a
//! line). Values are functions of the time of the request (counters grow at a
//! per-series rate, gauges oscillate), so they change from one scrape to the
//! next; each target has its own bases and rates.
//!
//! The body is rendered from pre-built line prefixes into a per-connection
//! buffer, so a scrape costs a few tens of microseconds: the target server
//! does not distort the measurement of the scrapers. Responses are not
//! compressed (Prometheus asks for gzip and accepts identity), for both
//! scrapers alike.
//!
//! `GET /stats` on any port answers JSON totals: requests and samples served
//! (all targets and per target), so a benchmark can count what each scraper
//! fetched in a window independently of the scraper.
//!
//! usage: scrape_targets [--targets 50] [--series 1000] [--port-base 0]
//!        [--seed 1] [--max-seconds 3600]
//!
//! With `--port-base 0` the ports are chosen by the kernel. Once listening it
//! prints one JSON line on stdout: {"event":"ready","ports":[...],
//! "body_bytes":..,"line_bytes":..}. It exits by itself after --max-seconds.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    targets: usize,
    series: usize,
    port_base: u16,
    seed: u64,
    max_seconds: u64,
}

fn parse_args() -> Args {
    let mut a = Args {
        targets: 50,
        series: 1000,
        port_base: 0,
        seed: 1,
        max_seconds: 3600,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--targets" => a.targets = v.parse().expect("--targets"),
            "--series" => a.series = v.parse().expect("--series"),
            "--port-base" => a.port_base = v.parse().expect("--port-base"),
            "--seed" => a.seed = v.parse().expect("--seed"),
            "--max-seconds" => a.max_seconds = v.parse().expect("--max-seconds"),
            other => {
                eprintln!("unknown argument {other}; see the doc comment of tests/src/bin/scrape_targets.rs");
                std::process::exit(2);
            }
        }
        i += 2;
    }
    a
}

/// splitmix64: a deterministic stream of pseudo-random numbers.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    /// base + rate*t, two decimals (CPU seconds).
    CounterF2,
    /// base + rate*t, three decimals.
    CounterF3,
    /// floor(base + rate*t) (bytes, packets, requests, bucket counts).
    CounterInt,
    /// base + amp*sin(w*t + phase), rounded to 4096 (bytes free).
    GaugeBytes,
    /// base + amp*sin(w*t + phase), one decimal (temperatures).
    GaugeF1,
}

struct Line {
    prefix: String,
    kind: Kind,
    base: f64,
    rate: f64,
    phase: f64,
}

/// One family: its # HELP/# TYPE header and the index range of its lines.
struct Family {
    header: String,
    lines: std::ops::Range<usize>,
}

struct Target {
    families: Vec<Family>,
    lines: Vec<Line>,
    requests: AtomicU64,
}

const MODES: [&str; 8] = [
    "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
];
const HANDLERS: [&str; 8] = [
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/targets",
    "/federate",
    "/metrics",
    "/api/v1/write",
];
const CODES: [&str; 4] = ["200", "204", "400", "503"];
const METHODS: [&str; 2] = ["GET", "POST"];
const LES: [&str; 10] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf",
];

/// Family templates: (name, type, help, share of the series, label renderer
/// for index j, value kind, (rate range)).
fn build_target(idx: usize, series: usize, seed: u64) -> Target {
    type Labels = fn(usize) -> String;
    /// name, type, help, share of the series, labels of line j, value kind, rate range.
    type Template = (
        &'static str,
        &'static str,
        &'static str,
        f64,
        Labels,
        Kind,
        (f64, f64),
    );
    let cpu: Labels = |j| format!("cpu=\"{}\",mode=\"{}\"", j / 8, MODES[j % 8]);
    let rx: Labels = |j| {
        format!(
            "device=\"veth{:08x}\"",
            (j as u64).wrapping_mul(2654435761) & 0xffff_ffff
        )
    };
    let tx: Labels = |j| {
        format!(
            "device=\"veth{:08x}\"",
            (j as u64).wrapping_mul(2654435761) & 0xffff_ffff
        )
    };
    let fs: Labels = |j| {
        format!(
            "device=\"/dev/mapper/vg{}-lv{}\",fstype=\"ext4\",mountpoint=\"/srv/v{}\"",
            j / 16,
            j % 16,
            j
        )
    };
    let disk: Labels = |j| format!("device=\"nvme{}n{}\"", j / 4, j % 4 + 1);
    let http: Labels = |j| {
        let k = j % 64;
        format!(
            "code=\"{}\",handler=\"{}\",method=\"{}\",shard=\"{}\"",
            CODES[k % 4],
            HANDLERS[(k / 4) % 8],
            METHODS[k / 32],
            j / 64
        )
    };
    let bucket: Labels = |j| {
        format!(
            "handler=\"{}\",le=\"{}\",shard=\"{}\"",
            HANDLERS[(j / 10) % 8],
            LES[j % 10],
            j / 80
        )
    };
    let temp: Labels = |j| {
        format!(
            "chip=\"platform_coretemp_{}\",sensor=\"temp{}\"",
            j / 16,
            j % 16 + 1
        )
    };
    #[rustfmt::skip]
    let templates: [Template; 8] = [
        ("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", 0.25, cpu, Kind::CounterF2, (0.05, 1.0)),
        ("node_network_receive_bytes_total", "counter", "Network device statistic receive_bytes.", 0.10, rx, Kind::CounterInt, (1e3, 1e6)),
        ("node_network_transmit_packets_total", "counter", "Network device statistic transmit_packets.", 0.10, tx, Kind::CounterInt, (5.0, 5e3)),
        ("node_filesystem_avail_bytes", "gauge", "Filesystem space available to non-root users in bytes.", 0.10, fs, Kind::GaugeBytes, (1e5, 1e8)),
        ("node_disk_io_time_seconds_total", "counter", "Total seconds spent doing I/Os.", 0.10, disk, Kind::CounterF3, (0.01, 0.5)),
        ("http_requests_total", "counter", "Requests served, by status code, handler and method.", 0.15, http, Kind::CounterInt, (1.0, 200.0)),
        ("http_request_duration_seconds_bucket", "histogram", "Request latency.", 0.15, bucket, Kind::CounterInt, (1.0, 100.0)),
        ("node_hwmon_temp_celsius", "gauge", "Hardware monitor for temperature (input).", 0.05, temp, Kind::GaugeF1, (1.0, 10.0)),
    ];
    let mut rng = Rng(seed.wrapping_mul(1_000_003).wrapping_add(idx as u64));
    let mut lines = Vec::with_capacity(series);
    let mut families = Vec::new();
    let mut left = series;
    for (f, (name, typ, help, share, labels, kind, (lo, hi))) in templates.iter().enumerate() {
        let n = if f == templates.len() - 1 {
            left
        } else {
            ((series as f64 * share).round() as usize).min(left)
        };
        left -= n;
        if n == 0 {
            continue;
        }
        let family_name = name.strip_suffix("_bucket").unwrap_or(name);
        let header = format!("# HELP {family_name} {help}\n# TYPE {family_name} {typ}\n");
        let start = lines.len();
        for j in 0..n {
            let rate = rng.range(*lo, *hi);
            // Histogram buckets are cumulative: a bucket counts at least as
            // much as the buckets below it.
            let (rate, base) = match kind {
                Kind::CounterInt if name.ends_with("_bucket") => {
                    let frac = (j % 10 + 1) as f64 / 10.0;
                    (hi * frac, 1e5 * frac)
                }
                Kind::GaugeBytes => (rate, rng.range(1e10, 1e12)),
                Kind::GaugeF1 => (rate, rng.range(35.0, 80.0)),
                _ => (rate, rate * rng.range(1e4, 1e6)),
            };
            lines.push(Line {
                prefix: format!("{name}{{{}}} ", labels(j)),
                kind: *kind,
                base,
                rate,
                phase: rng.range(0.0, std::f64::consts::TAU),
            });
        }
        families.push(Family {
            header,
            lines: start..lines.len(),
        });
    }
    Target {
        families,
        lines,
        requests: AtomicU64::new(0),
    }
}

impl Target {
    fn render(&self, t: f64, out: &mut String) {
        out.clear();
        for fam in &self.families {
            out.push_str(&fam.header);
            for l in &self.lines[fam.lines.clone()] {
                out.push_str(&l.prefix);
                let _ = match l.kind {
                    Kind::CounterF2 => write!(out, "{:.2}", l.base + l.rate * t),
                    Kind::CounterF3 => write!(out, "{:.3}", l.base + l.rate * t),
                    Kind::CounterInt => write!(out, "{}", (l.base + l.rate * t).floor() as u64),
                    Kind::GaugeBytes => {
                        let v = l.base + l.rate * 100.0 * (t / 30.0 + l.phase).sin();
                        write!(out, "{}", (v / 4096.0).round() as u64 * 4096)
                    }
                    Kind::GaugeF1 => {
                        write!(out, "{:.1}", l.base + l.rate * (t / 20.0 + l.phase).sin())
                    }
                };
                out.push('\n');
            }
        }
    }
}

struct Shared {
    targets: Vec<Target>,
    series: usize,
    start: Instant,
    /// Seconds since the epoch at `start`, so values follow wall time.
    epoch0: f64,
    requests: AtomicU64,
    samples: AtomicU64,
}

fn stats_json(sh: &Shared) -> String {
    let per: Vec<String> = sh
        .targets
        .iter()
        .map(|t| t.requests.load(Ordering::Relaxed).to_string())
        .collect();
    format!(
        "{{\"requests\":{},\"samples\":{},\"series_per_target\":{},\"uptime_s\":{:.3},\"per_target_requests\":[{}]}}",
        sh.requests.load(Ordering::Relaxed),
        sh.samples.load(Ordering::Relaxed),
        sh.series,
        sh.start.elapsed().as_secs_f64(),
        per.join(",")
    )
}

fn serve_conn(sh: Arc<Shared>, idx: usize, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut w = stream;
    let mut body = String::with_capacity(sh.series * 80 + 4096);
    let mut head = Vec::with_capacity(256);
    let mut line = String::new();
    loop {
        // Request line, then headers up to the empty line.
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut close = line.contains("HTTP/1.0");
        loop {
            let mut h = String::new();
            match reader.read_line(&mut h) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if h == "\r\n" || h == "\n" {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let ctype = if path.starts_with("/stats") {
            body.clear();
            body.push_str(&stats_json(&sh));
            "application/json"
        } else {
            let t = sh.epoch0 + sh.start.elapsed().as_secs_f64();
            let tg = &sh.targets[idx];
            tg.render(t - 1.7e9, &mut body);
            tg.requests.fetch_add(1, Ordering::Relaxed);
            sh.requests.fetch_add(1, Ordering::Relaxed);
            sh.samples
                .fetch_add(tg.lines.len() as u64, Ordering::Relaxed);
            "text/plain; version=0.0.4; charset=utf-8"
        };
        head.clear();
        let _ = write!(
            head,
            "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{}\r\n",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        );
        if w.write_all(&head)
            .and_then(|_| w.write_all(body.as_bytes()))
            .is_err()
            || close
        {
            return;
        }
    }
}

fn main() {
    let a = parse_args();
    let epoch0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let sh = Arc::new(Shared {
        targets: (0..a.targets)
            .map(|i| build_target(i, a.series, a.seed))
            .collect(),
        series: a.series,
        start: Instant::now(),
        epoch0,
        requests: AtomicU64::new(0),
        samples: AtomicU64::new(0),
    });
    let mut ports = Vec::new();
    let mut listeners = Vec::new();
    for i in 0..a.targets {
        let port = if a.port_base == 0 {
            0
        } else {
            a.port_base + i as u16
        };
        let l = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
        ports.push(l.local_addr().unwrap().port());
        listeners.push(l);
    }
    for (i, l) in listeners.into_iter().enumerate() {
        let sh = Arc::clone(&sh);
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let sh = Arc::clone(&sh);
                std::thread::spawn(move || serve_conn(sh, i, s));
            }
        });
    }
    let mut sample = String::new();
    sh.targets[0].render(0.0, &mut sample);
    let nlines = sh.targets[0].lines.len().max(1);
    let line_bytes: usize = sample
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.len() + 1)
        .sum();
    println!(
        "{{\"event\":\"ready\",\"ports\":[{}],\"body_bytes\":{},\"line_bytes\":{:.1}}}",
        ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(","),
        sample.len(),
        line_bytes as f64 / nlines as f64
    );
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_secs(a.max_seconds));
}
