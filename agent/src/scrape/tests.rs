//! Scrape engine tests: the loop's bookkeeping fed with bodies directly,
//! and fetches against a real local HTTP server.
//!
//! The manager tests (and the fetch test) run under paused Tokio time, the
//! manager with a [`Clock::tokio`]: their sleeps move the loops' timers and
//! the wall clock together without waiting, and scrape times are exact
//! points of each target's grid. The scrapes still go over loopback TCP to
//! [`serve`], in the same single-threaded runtime. A paused runtime jumps
//! to its next timer only when no task can run and no I/O is ready, and
//! loopback hands a write to the reader in practice before the writer's
//! system call returns, so no scrape times out early; were it to, the
//! symptom would be a target down on a scrape timeout.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::scrape_loop::{ScrapeError, ScrapeState};
use super::target::{populate, Populated, Target};
use super::*;
use crate::clock::Clock;
use crate::exposition::Format;
use crate::relabel::{Action, RelabelConfig};

/// Records every append; series are label sets rendered as text.
#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<Vec<(String, i64, f64)>>>,
    /// The exemplars handed over with each batch.
    exemplars: Mutex<Vec<Vec<(String, ScrapedExemplar)>>>,
}

impl Sink for Recorder {
    type Series = String;

    fn series(&self, labels: &[(String, String)]) -> Result<String, SinkError> {
        let mut name = String::new();
        let mut rest = Vec::new();
        for (n, v) in labels {
            if n == "__name__" {
                name = v.clone();
            } else {
                rest.push(format!("{n}={v:?}"));
            }
        }
        Ok(format!("{name}{{{}}}", rest.join(",")))
    }

    fn append(&self, samples: Vec<(String, i64, f64)>) -> Committed {
        let written = samples.len();
        self.batches.lock().unwrap().push(samples);
        committed(Ok(Appended {
            written,
            ..Appended::default()
        }))
    }

    fn append_with_exemplars(
        &self,
        samples: Vec<(String, i64, f64)>,
        exemplars: Vec<(String, ScrapedExemplar)>,
    ) -> Committed {
        self.exemplars.lock().unwrap().push(exemplars);
        self.append(samples)
    }
}

impl Recorder {
    fn last(&self) -> Vec<(String, i64, f64)> {
        self.batches
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

fn target_for(job: &Job, address: &str) -> Target {
    match populate(job, vec![("__address__".to_string(), address.to_string())]) {
        Populated::Active(t) => t,
        other => panic!("{other:?}"),
    }
}

fn state(
    job: Job,
) -> (
    ScrapeState<Recorder>,
    Arc<Recorder>,
    Arc<Mutex<TargetStatus>>,
) {
    let sink = Arc::new(Recorder::default());
    let status = Arc::new(Mutex::new(TargetStatus::default()));
    let target = target_for(&job, "host:9100");
    let s = ScrapeState::new(
        Arc::clone(&sink),
        Arc::new(job),
        target,
        Arc::clone(&status),
        Arc::default(),
    );
    (s, sink, status)
}

fn ok(body: &str) -> Result<(&str, Format), ScrapeError> {
    Ok((body, Format::PrometheusText))
}

fn value(batch: &[(String, i64, f64)], series: &str) -> Option<f64> {
    batch
        .iter()
        .find(|(s, _, _)| s == series)
        .map(|(_, _, v)| *v)
}

const T: &str = r#"instance="host:9100",job="node""#;

#[test]
fn samples_get_target_labels_and_report_series() {
    let (mut s, sink, status) = state(Job::for_tests("node"));
    let body = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\"} 3\nb 4.5\n";
    s.complete(1000, Duration::from_millis(20), ok(body));
    let b = sink.last();
    assert_eq!(value(&b, &format!(r#"a_total{{{T},x="1"}}"#)), Some(3.0));
    assert_eq!(value(&b, &format!("b{{{T}}}")), Some(4.5));
    assert_eq!(value(&b, &format!("up{{{T}}}")), Some(1.0));
    assert_eq!(
        value(&b, &format!("scrape_duration_seconds{{{T}}}")),
        Some(0.02)
    );
    assert_eq!(
        value(&b, &format!("scrape_samples_scraped{{{T}}}")),
        Some(2.0)
    );
    assert_eq!(
        value(&b, &format!("scrape_samples_post_metric_relabeling{{{T}}}")),
        Some(2.0)
    );
    assert_eq!(value(&b, &format!("scrape_series_added{{{T}}}")), Some(2.0));
    assert!(b.iter().all(|(_, t, _)| *t == 1000));
    let st = status.lock().unwrap();
    assert_eq!(st.health, TargetHealth::Up);
    assert_eq!(st.metadata["a_total"].help, "Things.");
    assert_eq!(st.metadata["a_total"].kind, MetricType::Counter);
}

#[test]
fn metadata_is_shared_until_it_changes() {
    let (mut s, _, status) = state(Job::for_tests("node"));
    let body = "# HELP a Old.\n# TYPE a gauge\na 1\n";
    s.complete(1000, Duration::ZERO, ok(body));
    let first = Arc::clone(&status.lock().unwrap().metadata);
    assert_eq!(first["a"].help, "Old.");
    s.complete(2000, Duration::ZERO, ok(body));
    assert!(
        Arc::ptr_eq(&first, &status.lock().unwrap().metadata),
        "an unchanged scrape does not copy the metadata"
    );
    s.complete(
        3000,
        Duration::ZERO,
        ok("# HELP a New.\n# TYPE a gauge\na 1\n"),
    );
    assert_eq!(status.lock().unwrap().metadata["a"].help, "New.");
    assert_eq!(status.lock().unwrap().metadata["a"].kind, MetricType::Gauge);
}

#[test]
fn metadata_of_a_family_no_longer_exposed_is_forgotten_after_ten_scrapes() {
    let (mut s, _, status) = state(Job::for_tests("node"));
    s.complete(
        1000,
        Duration::ZERO,
        ok("# HELP a A.\na 1\n# HELP b B.\nb 1\n"),
    );
    let has = |f: &str| status.lock().unwrap().metadata.contains_key(f);
    assert!(has("a") && has("b"));
    // `b` is gone from scrape 2 on; Prometheus keeps it ten scrapes more.
    for i in 2..=11 {
        s.complete(i * 1000, Duration::ZERO, ok("# HELP a A.\na 1\n"));
        assert!(has("b"), "still known at scrape {i}");
    }
    for i in 12..=21 {
        s.complete(i * 1000, Duration::ZERO, ok("# HELP a A.\na 1\n"));
    }
    assert!(has("a"), "a family still exposed stays");
    assert!(!has("b"), "forgotten within ten scrapes of its expiry");
}

#[test]
fn vanished_series_get_stale_markers() {
    let (mut s, sink, _) = state(Job::for_tests("node"));
    s.complete(1000, Duration::ZERO, ok("a 1\nb 2\n"));
    s.complete(2000, Duration::ZERO, ok("a 1\n"));
    let b = sink.last();
    let stale = value(&b, &format!("b{{{T}}}")).expect("stale marker for b");
    assert_eq!(stale.to_bits(), STALE_NAN.to_bits());
    assert_eq!(value(&b, &format!("scrape_series_added{{{T}}}")), Some(0.0));
    // Once stale, not marked again.
    s.complete(3000, Duration::ZERO, ok("a 1\n"));
    assert_eq!(value(&sink.last(), &format!("b{{{T}}}")), None);
}

#[test]
fn failed_scrape_stores_nothing_and_marks_everything_stale() {
    let (mut s, sink, status) = state(Job::for_tests("node"));
    s.complete(1000, Duration::ZERO, ok("a 1\nb 2\n"));
    s.complete(2000, Duration::ZERO, ok("a 5\nb{ 3\n"));
    let b = sink.last();
    assert!(value(&b, &format!("a{{{T}}}")).unwrap().is_nan(), "{b:?}");
    assert!(value(&b, &format!("b{{{T}}}")).unwrap().is_nan());
    assert_eq!(value(&b, &format!("up{{{T}}}")), Some(0.0));
    assert_eq!(
        value(&b, &format!("scrape_samples_scraped{{{T}}}")),
        Some(0.0)
    );
    let st = status.lock().unwrap().clone();
    assert_eq!(st.health, TargetHealth::Down);
    assert!(st.last_error.starts_with("line 2:"), "{}", st.last_error);
}

#[test]
fn stats_count_scrapes_failures_and_stale_markers() {
    let sink = Arc::new(Recorder::default());
    let stats = Arc::new(ScrapeStats::default());
    let job = Job::for_tests("node");
    let target = target_for(&job, "host:9100");
    let mut s = ScrapeState::new(
        sink,
        Arc::new(job),
        target,
        Arc::default(),
        Arc::clone(&stats),
    );
    s.complete(1000, Duration::ZERO, ok("a 1\nb 2\n"));
    s.complete(2000, Duration::ZERO, ok("a{ 1\n"));
    let get = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(get(&stats.scrapes), 2);
    assert_eq!(get(&stats.samples), 2);
    assert_eq!(get(&stats.stale_markers), 2);
    let parse = ScrapeError::REASONS
        .iter()
        .position(|r| *r == "parse")
        .unwrap();
    assert_eq!(get(&stats.failures[parse]), 1);
    assert_eq!(stats.failures.iter().map(get).sum::<u64>(), 1);
}

#[test]
fn sample_limit_fails_the_whole_scrape() {
    let mut job = Job::for_tests("node");
    job.config.sample_limit = 2;
    job.config.metric_relabel_configs = vec![RelabelConfig::new(Action::Drop)
        .source_labels(["__name__"])
        .regex("dropped_.*")
        .unwrap()];
    let (mut s, sink, status) = state(job);
    // Dropped samples do not count against the limit.
    s.complete(1000, Duration::ZERO, ok("a 1\nb 2\ndropped_x 3\n"));
    assert_eq!(value(&sink.last(), &format!("up{{{T}}}")), Some(1.0));
    s.complete(2000, Duration::ZERO, ok("a 1\nb 2\nc 3\n"));
    let b = sink.last();
    assert_eq!(value(&b, &format!("c{{{T}}}")), None);
    assert_eq!(value(&b, &format!("up{{{T}}}")), Some(0.0));
    assert!(status
        .lock()
        .unwrap()
        .last_error
        .contains("sample limit exceeded"));
}

#[test]
fn label_limits() {
    let mut job = Job::for_tests("node");
    job.config.label_value_length_limit = 5;
    let (mut s, _, status) = state(job);
    s.complete(1000, Duration::ZERO, ok("a{v=\"toolongvalue\"} 1\n"));
    let err = status.lock().unwrap().last_error.clone();
    assert!(
        err.starts_with("label_value_length_limit exceeded"),
        "{err}"
    );

    let mut job = Job::for_tests("node");
    job.config.label_limit = 3;
    let (mut s, _, status) = state(job);
    s.complete(1000, Duration::ZERO, ok("a{x=\"1\",y=\"2\"} 1\n"));
    let err = status.lock().unwrap().last_error.clone();
    assert!(err.starts_with("label_limit exceeded"), "{err}");
}

#[test]
fn honor_labels_and_exported_labels() {
    let (mut s, sink, _) = state(Job::for_tests("node"));
    s.complete(
        1000,
        Duration::ZERO,
        ok("a{job=\"other\",instance=\"\"} 1\n"),
    );
    // An empty scraped label is no label, so only job clashes.
    assert_eq!(
        value(&sink.last(), &format!(r#"a{{exported_job="other",{T}}}"#)),
        Some(1.0)
    );
    let mut job = Job::for_tests("node");
    job.config.honor_labels = true;
    let (mut s, sink, _) = state(job);
    s.complete(1000, Duration::ZERO, ok("a{job=\"other\"} 1\n"));
    assert_eq!(
        value(&sink.last(), r#"a{instance="host:9100",job="other"}"#),
        Some(1.0)
    );
}

#[test]
fn explicit_timestamps_are_honored_and_not_marked_stale() {
    let (mut s, sink, _) = state(Job::for_tests("node"));
    s.complete(5000, Duration::ZERO, ok("a 1 1234\nb 2\n"));
    let b = sink.last();
    assert!(b.contains(&(format!("a{{{T}}}"), 1234, 1.0)));
    s.complete(6000, Duration::ZERO, ok(""));
    let b = sink.last();
    assert_eq!(value(&b, &format!("a{{{T}}}")), None);
    assert!(value(&b, &format!("b{{{T}}}")).unwrap().is_nan());

    let mut job = Job::for_tests("node");
    job.config.honor_timestamps = false;
    let (mut s, sink, _) = state(job);
    s.complete(5000, Duration::ZERO, ok("a 1 1234\n"));
    assert!(sink.last().contains(&(format!("a{{{T}}}"), 5000, 1.0)));
}

#[test]
fn duplicate_series_in_one_scrape_keep_the_first() {
    let (mut s, sink, _) = state(Job::for_tests("node"));
    s.complete(1000, Duration::ZERO, ok("a 1\na 2\n"));
    let b = sink.last();
    assert_eq!(
        b.iter()
            .filter(|(s, _, _)| *s == format!("a{{{T}}}"))
            .count(),
        1
    );
    assert_eq!(value(&b, &format!("a{{{T}}}")), Some(1.0));
    // As in Prometheus, the duplicate counts as scraped and post-relabeling.
    assert_eq!(
        value(&b, &format!("scrape_samples_post_metric_relabeling{{{T}}}")),
        Some(2.0)
    );
}

#[test]
fn two_spellings_of_one_series_are_one_series() {
    let (mut s, sink, _) = state(Job::for_tests("node"));
    let body = "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n";
    s.complete(1000, Duration::ZERO, ok(body));
    let name = format!("a{{{T},x=\"1\",y=\"2\"}}");
    let b = sink.last();
    assert_eq!(b.iter().filter(|(s, _, _)| *s == name).count(), 1);
    assert_eq!(value(&b, &name), Some(1.0));
    assert_eq!(value(&b, &format!("scrape_series_added{{{T}}}")), Some(1.0));
    // Either spelling keeps the series fresh.
    s.complete(2000, Duration::ZERO, ok("a{y=\"2\",x=\"1\"} 3\n"));
    let b = sink.last();
    assert_eq!(value(&b, &name), Some(3.0));
    assert_eq!(value(&b, &format!("scrape_series_added{{{T}}}")), Some(0.0));
}

#[test]
fn series_forgotten_by_the_cache_come_back_as_new() {
    let (mut s, sink, _) = state(Job::for_tests("node"));
    s.complete(1000, Duration::ZERO, ok("a 1\nb 2\n"));
    for i in 2..=25 {
        s.complete(i * 1000, Duration::ZERO, ok("a 1\n"));
    }
    // b's cache entry and its slot are gone by now; the slot is reused.
    s.complete(26_000, Duration::ZERO, ok("a 1\nc 3\n"));
    assert_eq!(s.tracked_slots(), 2, "c reuses b's slot");
    s.complete(27_000, Duration::ZERO, ok("a 1\nc 3\nb 4\n"));
    let batch = sink.last();
    assert_eq!(value(&batch, &format!("b{{{T}}}")), Some(4.0));
    assert_eq!(
        value(&batch, &format!("scrape_series_added{{{T}}}")),
        Some(1.0)
    );
    s.complete(28_000, Duration::ZERO, ok("a 1\n"));
    let batch = sink.last();
    for gone in ["b", "c"] {
        let v = value(&batch, &format!("{gone}{{{T}}}")).expect("stale marker");
        assert_eq!(v.to_bits(), STALE_NAN.to_bits());
    }
}

#[test]
fn series_keep_their_values_when_the_body_changes_order() {
    let (mut s, sink, _) = state(Job::for_tests("node"));
    let bodies = [
        "a 1\nb 2\nc 3\nd 4\n",
        "a 1\nx 9\nb 2\nc 3\nd 4\n",                // inserted
        "a 1\nb 2\nd 4\n",                          // removed from the middle
        "d 4\nc 3\nb 2\na 1\n",                     // reversed
        "# HELP a help\na 1\nb 2\nb 5\nc 3\nd 4\n", // a duplicate
        "c 3\nd 4\n",
    ];
    for (i, body) in bodies.iter().enumerate() {
        s.complete(1000 * (i as i64 + 1), Duration::ZERO, ok(body));
        let batch = sink.last();
        for (name, v) in [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0), ("x", 9.0)] {
            let got = value(&batch, &format!("{name}{{{T}}}"));
            if body.contains(&format!("{name} ")) {
                assert_eq!(got, Some(v), "{name} in body {i}");
            } else if let Some(got) = got {
                assert_eq!(got.to_bits(), STALE_NAN.to_bits(), "{name} in body {i}");
            }
        }
    }
}

/// The shortcut for a line that starts with last scrape's series text
/// must not take a longer name or a longer label set for that series.
#[test]
fn lines_that_only_start_like_the_expected_series_are_read_whole() {
    let mut job = Job::for_tests("node");
    job.config.honor_timestamps = true;
    let (mut s, sink, _) = state(job);
    s.complete(
        1000,
        Duration::ZERO,
        ok("a 1\nb{x=\"1\"} 2\nc{x=\"}\"} 3\n"),
    );
    // Each line starts with the series expected at its position.
    s.complete(
        2000,
        Duration::ZERO,
        ok("ab 11\nb{x=\"1\",y=\"2\"} 12\nc{x=\"}\"} 3\n"),
    );
    let b = sink.last();
    assert_eq!(value(&b, &format!("ab{{{T}}}")), Some(11.0));
    assert_eq!(value(&b, &format!(r#"b{{{T},x="1",y="2"}}"#)), Some(12.0));
    assert_eq!(value(&b, &format!("up{{{T}}}")), Some(1.0));
    // `}_d` after the labels is not a value: the scrape fails whole.
    s.complete(
        3000,
        Duration::ZERO,
        ok("a 1\nb{x=\"1\"} 2\nc{x=\"}\"}_d 13\n"),
    );
    let b = sink.last();
    assert_eq!(value(&b, &format!("up{{{T}}}")), Some(0.0));
    assert!(value(&b, &format!("a{{{T}}}")).is_none());
    s.complete(
        4000,
        Duration::ZERO,
        ok("a 1\nb{x=\"1\"} 2\nc{x=\"}\"} 3\n"),
    );
    s.complete(
        5000,
        Duration::ZERO,
        ok("a\t21\r\nb{x=\"1\"}  22 4500\nc{x=\"}\"} 23\n"),
    );
    let b = sink.last();
    assert_eq!(value(&b, &format!("a{{{T}}}")), Some(21.0));
    let stamped: Vec<_> = b
        .iter()
        .filter(|(n, _, _)| *n == format!(r#"b{{{T},x="1"}}"#))
        .collect();
    assert_eq!(stamped.len(), 1);
    assert_eq!((stamped[0].1, stamped[0].2), (4500, 22.0));
    assert_eq!(value(&b, &format!(r#"c{{{T},x="}}"}}"#)), Some(23.0));
}

#[test]
fn end_of_run_marks_series_and_report_stale() {
    let (mut s, sink, _) = state(Job::for_tests("node"));
    s.complete(1000, Duration::ZERO, ok("a 1\n"));
    let stored = s.end_of_run(16_000).blocking_recv().unwrap();
    assert!(stored.is_ok());
    let b = sink.last();
    assert_eq!(b.len(), 6, "{b:?}");
    assert!(b.iter().all(|(_, t, v)| *t == 16_000 && v.is_nan()));
}

#[test]
fn extra_scrape_metrics_report_timeout_limit_and_body_size() {
    let mut job = job_from_yaml(
        "scrape_configs:\n  - job_name: node\n    scrape_timeout: 4s\n    sample_limit: 50\n    extra_scrape_metrics: true\n",
    );
    job.config.scrape_interval = Duration::from_secs(15);
    let (mut s, sink, _) = state(job);
    s.complete(1000, Duration::ZERO, ok("a 1\nb 2\n"));
    let b = sink.last();
    assert_eq!(
        value(&b, &format!("scrape_timeout_seconds{{{T}}}")),
        Some(4.0)
    );
    assert_eq!(
        value(&b, &format!("scrape_sample_limit{{{T}}}")),
        Some(50.0)
    );
    assert_eq!(
        value(&b, &format!("scrape_body_size_bytes{{{T}}}")),
        Some(8.0)
    );
    s.complete(
        2000,
        Duration::ZERO,
        Err(ScrapeError::Fetch(http::FetchError::BodySizeLimit(4))),
    );
    assert_eq!(
        value(&sink.last(), &format!("scrape_body_size_bytes{{{T}}}")),
        Some(-1.0)
    );
    // The three go stale with the rest.
    s.end_of_run(16_000).blocking_recv().unwrap().unwrap();
    let b = sink.last();
    assert_eq!(b.len(), 8, "{b:?}");
    assert!(b.iter().all(|(_, _, v)| v.is_nan()));

    // Off by default.
    let (mut s, sink, _) = state(Job::for_tests("node"));
    s.complete(1000, Duration::ZERO, ok("a 1\n"));
    assert_eq!(
        value(&sink.last(), &format!("scrape_body_size_bytes{{{T}}}")),
        None
    );
}

#[test]
fn openmetrics_bodies_need_eof() {
    let (mut s, _, status) = state(Job::for_tests("node"));
    s.complete(
        1000,
        Duration::ZERO,
        Ok(("a_total 1\n", Format::OpenMetrics)),
    );
    assert!(status.lock().unwrap().last_error.contains("EOF"));
}

/// A one-shot HTTP server: answers each connection with `respond(request)`.
async fn serve(
    respond: impl Fn(&str) -> (u16, Vec<(&'static str, String)>, Vec<u8>, Duration)
        + Send
        + Sync
        + 'static,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let respond = Arc::new(respond);
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let respond = Arc::clone(&respond);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let (status, headers, body, delay) = respond(&req);
                tokio::time::sleep(delay).await;
                let mut head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    addr
}

fn gzip(data: &[u8]) -> Vec<u8> {
    // A stored (uncompressed) deflate block inside a gzip frame: valid
    // gzip without pulling a compressor into the dev-dependencies.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    out.push(1);
    let len = data.len() as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Under paused time: the slow answer's 3 s delay and the 300 ms scrape
/// timeout are both Tokio timers, so the timeout wins without waiting.
#[tokio::test(start_paused = true)]
async fn fetch_negotiates_decompresses_and_enforces_limits() {
    let addr = serve(|req| {
        let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
        let om = "application/openmetrics-text; version=1.0.0; charset=utf-8".to_string();
        match path.as_str() {
            "/om" => {
                assert!(req
                    .to_ascii_lowercase()
                    .contains("accept: application/openmetrics-text"));
                (
                    200,
                    vec![("content-type", om)],
                    b"a_total 1\n# EOF\n".to_vec(),
                    Duration::ZERO,
                )
            }
            "/gz" => (
                200,
                vec![("content-encoding", "gzip".to_string())],
                gzip(b"a 1\n"),
                Duration::ZERO,
            ),
            "/big" => (200, vec![], vec![b'#'; 4096], Duration::ZERO),
            "/slow" => (200, vec![], b"a 1\n".to_vec(), Duration::from_secs(3)),
            "/auth" => {
                let ok = req.contains("authorization: Bearer s3cret");
                (
                    if ok { 200 } else { 401 },
                    vec![],
                    b"a 1\n".to_vec(),
                    Duration::ZERO,
                )
            }
            _ => (500, vec![], b"boom".to_vec(), Duration::ZERO),
        }
    })
    .await;
    let mut job = Job::for_tests("j");
    job.config.body_size_limit = 1000;
    let mut buf = Vec::new();
    let at = |path: &str, timeout: Duration| {
        let mut t = target_for(&job, &addr);
        t.url = format!("http://{addr}{path}");
        t.timeout = timeout;
        t
    };
    let long = Duration::from_secs(5);

    let f = http::fetch(&job.client, &job, &at("/om", long), &mut buf)
        .await
        .unwrap();
    assert_eq!(f, Format::OpenMetrics);
    assert_eq!(buf, b"a_total 1\n# EOF\n");

    let f = http::fetch(&job.client, &job, &at("/gz", long), &mut buf)
        .await
        .unwrap();
    assert_eq!(f, Format::PrometheusText);
    assert_eq!(buf, b"a 1\n");

    let e = http::fetch(&job.client, &job, &at("/big", long), &mut buf)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "body size limit exceeded (limit: 1000 bytes)"
    );

    let e = http::fetch(&job.client, &job, &at("/x", long), &mut buf)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "server returned HTTP status 500 Internal Server Error"
    );

    let e = http::fetch(
        &job.client,
        &job,
        &at("/slow", Duration::from_millis(300)),
        &mut buf,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("context deadline exceeded"), "{e}");

    let e = http::fetch(&job.client, &job, &at("/auth", long), &mut buf)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");
    job.auth = Auth::Header {
        kind: "Bearer".to_string(),
        credentials: Credential::Inline("s3cret".to_string()),
    };
    let t = {
        let mut t = target_for(&job, &addr);
        t.url = format!("http://{addr}/auth");
        t
    };
    http::fetch(&job.client, &job, &t, &mut buf).await.unwrap();

    let mut t = target_for(&job, "127.0.0.1:1");
    t.timeout = long;
    let e = http::fetch(&job.client, &job, &t, &mut buf)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Get \"http://127.0.0.1:1/metrics\": "),
        "{e}"
    );
}

/// Where a test's [`Clock::tokio`] starts: a multiple of every interval
/// the tests use.
const CLOCK_START_MS: i64 = 1_700_000_000_000;

#[tokio::test(start_paused = true)]
async fn manager_scrapes_targets_and_reports_them() {
    let addr = serve(|_| (200, vec![], b"m 7\n".to_vec(), Duration::ZERO)).await;
    let sink = Arc::new(Recorder::default());
    let manager = Manager::with_clock(Arc::clone(&sink), 0, Clock::tokio(CLOCK_START_MS));
    let mut job = Job::for_tests("j");
    job.config.scrape_interval = Duration::from_millis(200);
    job.config.scrape_timeout = Duration::from_millis(200);
    job.static_groups = vec![discovery::Group::from_config(
        "static:0".into(),
        &crate::config::TargetGroup {
            targets: vec![addr.clone(), "127.0.0.1:1".to_string()],
            ..Default::default()
        },
        &[],
    )];
    job.config.relabel_configs = vec![RelabelConfig::new(Action::Drop)
        .source_labels(["__address__"])
        .regex("never")
        .unwrap()];
    manager.apply(vec![job.clone()]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let snap = manager.snapshot();
    assert_eq!(snap.active.len(), 2);
    let good = snap
        .active
        .iter()
        .find(|a| a.target.url.contains(&addr))
        .unwrap();
    assert_eq!(good.status.health, TargetHealth::Up, "{:?}", good.status);
    let bad = snap
        .active
        .iter()
        .find(|a| a.target.url.contains(":1/"))
        .unwrap();
    assert_eq!(bad.status.health, TargetHealth::Down);
    let stored: Vec<(String, i64, f64)> = sink.batches.lock().unwrap().concat();
    assert!(stored
        .iter()
        .any(|(s, _, v)| s.starts_with("m{") && *v == 7.0));
    // The samples carry the injected clock's times: the good target's
    // slots in its interval.
    let slot = good.target.offset(0).as_millis() as i64;
    assert!(
        stored
            .iter()
            .filter(|(s, _, _)| s.starts_with("m{"))
            .all(|(_, t, _)| (t - CLOCK_START_MS - slot) % 200 == 0),
        "{stored:?}"
    );
    assert_eq!(
        good.status
            .last_scrape_ms
            .map(|t| (t - CLOCK_START_MS - slot) % 200),
        Some(0)
    );

    // Target limit: both targets fail without being scraped; the pool's
    // sync counts once.
    job.config.target_limit = 1;
    manager.apply(vec![job.clone()]);
    assert_eq!(
        manager
            .stats()
            .target_limit_syncs
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let snap = manager.snapshot();
    assert!(
        snap.active
            .iter()
            .all(|a| a.status.last_error.starts_with("target_limit exceeded")),
        "{:?}",
        snap.active
    );

    // Removing the job stops it and marks its series stale.
    manager.apply(vec![]);
    assert!(manager.snapshot().active.is_empty());
    tokio::time::sleep(Duration::from_millis(600)).await;
    let last: Vec<(String, i64, f64)> = sink.batches.lock().unwrap().concat();
    assert!(last
        .iter()
        .any(|(s, _, v)| s.starts_with("up{") && v.to_bits() == STALE_NAN.to_bits()));
}

/// A job built from `yaml` (one scrape config).
fn job_from_yaml(yaml: &str) -> Job {
    let mut loaded = crate::config::load_str(yaml, "test.yml", std::path::Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"));
    Job::from_config(&loaded.config.scrape_configs.remove(0)).unwrap()
}

#[tokio::test]
async fn proxy_url_carries_requests_except_for_no_proxy_hosts() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&seen);
    let proxy = serve(move |req| {
        log.lock().unwrap().push(req.to_string());
        (200, vec![], b"via_proxy 1\n".to_vec(), Duration::ZERO)
    })
    .await;
    let job = |extra: &str| {
        job_from_yaml(&format!(
            "scrape_configs:\n  - job_name: p\n    proxy_url: http://{proxy}\n{extra}"
        ))
    };
    let mut buf = Vec::new();
    let at = |job: &Job, host: &str| {
        let mut t = target_for(job, host);
        t.timeout = Duration::from_secs(5);
        t
    };

    let j = job("    proxy_connect_header:\n      X-Proxy-Token: [abc]\n");
    http::fetch(&j.client, &j, &at(&j, "metrics.invalid:9100"), &mut buf)
        .await
        .unwrap();
    assert_eq!(buf, b"via_proxy 1\n");
    let req = seen.lock().unwrap().pop().expect("the proxy was asked");
    assert!(
        req.starts_with("GET http://metrics.invalid:9100/metrics HTTP/1.1\r\n"),
        "{req}"
    );
    // Connect headers are for tunnels; the proxy would forward them here.
    assert!(!req.to_ascii_lowercase().contains("x-proxy-token"), "{req}");

    // https goes through a CONNECT tunnel, which carries them.
    let mut t = at(&j, "metrics.invalid:9443");
    t.url = "https://metrics.invalid:9443/metrics".into();
    let _ = http::fetch(&j.client, &j, &t, &mut buf).await;
    let req = seen.lock().unwrap().pop().expect("the proxy was asked");
    assert!(
        req.starts_with("CONNECT metrics.invalid:9443 HTTP/1.1\r\n"),
        "{req}"
    );
    assert!(
        req.to_ascii_lowercase().contains("x-proxy-token: abc"),
        "{req}"
    );

    // Listed hosts (and their subdomains) are reached directly: these
    // names do not resolve, so the fetch fails without the proxy.
    let j = job("    no_proxy: invalid,10.0.0.0/8\n");
    let e = http::fetch(&j.client, &j, &at(&j, "metrics.invalid:9100"), &mut buf)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Get \"http://metrics.invalid:9100/metrics\": "),
        "{e}"
    );
    http::fetch(&j.client, &j, &at(&j, "other.example:80"), &mut buf)
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "only the unlisted host went through the proxy"
    );
}

#[test]
fn ticks_lie_on_the_targets_grid() {
    use super::scrape_loop::next_on_grid;
    // Offset 300 ms within 1 s intervals.
    assert_eq!(next_on_grid(10_000, 1000, 300), 10_300);
    assert_eq!(next_on_grid(10_300, 1000, 300), 10_300);
    assert_eq!(next_on_grid(10_301, 1000, 300), 11_300);
    // A scrape 4 ms late is due again on the grid, not 4 ms late.
    assert_eq!(next_on_grid(10_304 + 1, 1000, 300), 11_300);
    assert_eq!(next_on_grid(-5, 1000, 0), 0);
}

#[tokio::test(start_paused = true)]
async fn a_reload_changing_only_the_client_hands_each_target_to_its_new_loop() {
    // The target drops `b` for requests with the new job's credentials, so
    // `b` disappears exactly at the reload: only a new loop that knows the
    // old loop's last scrape can mark it stale.
    let addr = serve(|req| {
        let new = req
            .to_ascii_lowercase()
            .contains("authorization: bearer new");
        let body: &[u8] = if new { b"a 1\n" } else { b"a 1\nb 2\n" };
        (200, vec![], body.to_vec(), Duration::ZERO)
    })
    .await;
    let job = |extra: &str| {
        job_from_yaml(&format!(
            "scrape_configs:\n  - job_name: j\n    scrape_interval: 200ms\n    scrape_timeout: 150ms\n{extra}    static_configs:\n      - targets: ['{addr}']\n"
        ))
    };
    let sink = Arc::new(Recorder::default());
    // The clock starts on the target's grid, so it is scraped at once and
    // then at 200, 400 and 600 ms; the reload at 700 ms falls between two
    // scrapes, as a reload in real time almost always does.
    let slot = target_for(&job(""), &addr).offset(0).as_millis() as i64;
    let clock = Clock::tokio(CLOCK_START_MS + slot);
    let manager = Manager::with_clock(Arc::clone(&sink), 0, clock);
    manager.apply(vec![job("")]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let before = sink.batches.lock().unwrap().len();
    assert!(before >= 2, "{before} scrapes");

    manager.apply(vec![job("    authorization:\n      credentials: new\n")]);
    // The target keeps its health in the API across the reload.
    let snap = manager.snapshot();
    assert_eq!(snap.active.len(), 1);
    assert_eq!(snap.active[0].status.health, TargetHealth::Up);
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let stored: Vec<(String, i64, f64)> = sink.batches.lock().unwrap().concat();
    let stale = |name: &str| {
        stored
            .iter()
            .filter(|(s, _, v)| {
                s.starts_with(&format!("{name}{{")) && v.to_bits() == STALE_NAN.to_bits()
            })
            .count()
    };
    assert_eq!(stale("b"), 1, "{stored:?}");
    assert_eq!(stale("a"), 0, "{stored:?}");
    assert_eq!(stale("up"), 0, "the old loop stopped quietly: {stored:?}");
    // The old and the new loop never scrape at once.
    let times: Vec<i64> = stored
        .iter()
        .filter(|(s, _, _)| s.starts_with("up{"))
        .map(|(_, t, _)| *t)
        .collect();
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    // The new loop knows the series: none is new after the first scrape.
    let added: Vec<f64> = stored
        .iter()
        .filter(|(s, _, _)| s.starts_with("scrape_series_added{"))
        .map(|(_, _, v)| *v)
        .collect();
    assert_eq!(added[0], 2.0);
    assert!(added[1..].iter().all(|v| *v == 0.0), "{added:?}");
    assert!(sink.batches.lock().unwrap().len() >= before + 3);
}

#[tokio::test]
async fn enable_compression_and_fallback_scrape_protocol() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = Arc::clone(&seen);
    // No Content-Type at all: the job's fallback decides.
    let addr = serve(move |req| {
        log.lock().unwrap().push(req.to_ascii_lowercase());
        (200, vec![], b"m 1\n# EOF\n".to_vec(), Duration::ZERO)
    })
    .await;
    let job = |extra: &str| job_from_yaml(&format!("scrape_configs:\n  - job_name: c\n{extra}"));
    let fetch = |j: Job| {
        let mut t = target_for(&j, &addr);
        t.timeout = Duration::from_secs(5);
        async move {
            let mut buf = Vec::new();
            http::fetch(&j.client, &j, &t, &mut buf).await.unwrap()
        }
    };
    assert_eq!(fetch(job("")).await, Format::PrometheusText);
    let req = seen.lock().unwrap().pop().unwrap();
    assert!(req.contains("accept-encoding: gzip"), "{req}");

    let j =
        job("    enable_compression: false\n    fallback_scrape_protocol: OpenMetricsText1.0.0\n");
    assert_eq!(fetch(j).await, Format::OpenMetrics);
    let req = seen.lock().unwrap().pop().unwrap();
    assert!(req.contains("accept-encoding: identity"), "{req}");
    assert!(!req.contains("gzip"), "{req}");
}

#[tokio::test]
async fn keep_dropped_targets_bounds_the_list_not_the_count() {
    let sink = Arc::new(Recorder::default());
    let manager = Manager::new(Arc::clone(&sink), 0);
    let kept = job_from_yaml(
        "scrape_configs:\n  - job_name: few\n    keep_dropped_targets: 1\n    static_configs:\n      - targets: ['a:1', 'b:1', 'c:1']\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: 'c:1'\n        action: keep\n",
    );
    let none = job_from_yaml(
        "scrape_configs:\n  - job_name: all\n    static_configs:\n      - targets: ['d:1']\n",
    );
    manager.apply(vec![kept, none]);
    let snap = manager.snapshot();
    manager.shutdown();
    assert_eq!(snap.dropped.len(), 1, "{:?}", snap.dropped);
    assert_eq!(
        snap.dropped_counts,
        [("all".to_string(), 0), ("few".to_string(), 2)].into()
    );
}

/// Exemplars of an OpenMetrics scrape reach the sink with its samples, on
/// the final series (target labels, relabeling); one without a timestamp
/// takes the sample's; a failed scrape hands over none, nor do samples
/// dropped by relabeling.
#[test]
fn exemplars_go_to_the_sink_with_their_samples() {
    let mut job = Job::for_tests("node");
    job.config.metric_relabel_configs = vec![RelabelConfig::new(Action::Drop)
        .source_labels(["__name__"])
        .regex("dropped_.*")
        .unwrap()];
    let (mut s, sink, _) = state(job);
    let om = |b| Ok((b, Format::OpenMetrics));
    let body = "# TYPE rq counter\nrq_total{code=\"200\"} 7 # {trace_id=\"abc\",a=\"1\"} 1.5 1690000000.25\n# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 2 # {trace_id=\"x\"} 0.05\nlat_count 2\nlat_sum 0.3\n# TYPE dropped_x counter\ndropped_x_total 1 # {trace_id=\"d\"} 1\n# EOF\n";
    s.complete(5000, Duration::ZERO, om(body));
    let got = sink.exemplars.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        got,
        vec![
            (
                format!(r#"rq_total{{code="200",{T}}}"#),
                ScrapedExemplar {
                    labels: vec![("a".into(), "1".into()), ("trace_id".into(), "abc".into())],
                    value: 1.5,
                    timestamp_ms: 1_690_000_000_250,
                    has_timestamp: true,
                }
            ),
            (
                format!(r#"lat_bucket{{{T},le="+Inf"}}"#),
                ScrapedExemplar {
                    labels: vec![("trace_id".into(), "x".into())],
                    value: 0.05,
                    timestamp_ms: 5000,
                    has_timestamp: false,
                }
            ),
        ]
    );
    // Cut off before "# EOF": the scrape fails, nothing of it is stored.
    s.complete(6000, Duration::ZERO, om(&body[..body.len() - 6]));
    assert!(sink.exemplars.lock().unwrap().last().unwrap().is_empty());
    // A gauge's exemplar fails the scrape, as in Prometheus.
    s.complete(
        7000,
        Duration::ZERO,
        om("# TYPE g gauge\ng 1 # {trace_id=\"x\"} 1\n# EOF\n"),
    );
    assert_eq!(value(&sink.last(), &format!("up{{{T}}}")), Some(0.0));
}
