//! Crash safety: a writer thread keeps sending remote-write batches while the
//! server is killed with SIGKILL, five times. After every restart each
//! acknowledged sample is present with its exact value, nothing that was not
//! sent appears, and no timestamp is stored twice. (The batch in flight at the
//! kill may or may not be stored: it was never acknowledged.)

use std::collections::BTreeMap;
use std::time::Duration;

use pharos_tests::{series, write_v1_to, Server};

const SERIES: usize = 20;
const PER_BATCH: i64 = 4;
/// One minute between samples, so a few hundred batches cross several
/// 2-hour chunk windows and exercise sealing and log truncation too.
const STEP_MS: i64 = 60_000;

fn value(series: usize, t: i64) -> f64 {
    (t / STEP_MS) as f64 * 1.5 + series as f64
}

/// Sends batches until a request fails; returns (acknowledged timestamps,
/// timestamps of the failed batch, next timestamp).
fn writer(addr: String, mut next_t: i64) -> (Vec<i64>, Vec<i64>, i64) {
    let mut acked = Vec::new();
    loop {
        let ts: Vec<i64> = (0..PER_BATCH).map(|i| next_t + i * STEP_MS).collect();
        next_t += PER_BATCH * STEP_MS;
        let batch = (0..SERIES)
            .map(|k| {
                let job = format!("w{k}");
                let samples: Vec<(i64, f64)> = ts.iter().map(|&t| (t, value(k, t))).collect();
                series(&[("__name__", "crash_test"), ("job", &job)], &samples)
            })
            .collect();
        match write_v1_to(&addr, batch) {
            Ok((204, _)) => acked.extend(&ts),
            Ok((st, body)) => panic!("write failed with {st}: {body}"),
            Err(_) => return (acked, ts, next_t),
        }
    }
}

#[test]
fn sigkill_loses_no_acknowledged_sample() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut acked: Vec<i64> = Vec::new();
    let mut unknown: Vec<i64> = Vec::new();
    let mut next_t: i64 = 1_700_000_000_000;

    for round in 0..5u64 {
        let mut s = Server::start(&data);
        verify(&s, &acked, &unknown);
        let addr = s.addr.clone();
        let w = std::thread::spawn(move || writer(addr, next_t));
        std::thread::sleep(Duration::from_millis(400 + 170 * round));
        s.kill9();
        let (a, failed, n) = w.join().unwrap();
        assert!(!a.is_empty(), "round {round}: the writer made progress");
        eprintln!("round {round}: {} samples per series acknowledged", a.len());
        acked.extend(a);
        unknown.extend(failed);
        next_t = n;
    }
    let s = Server::start(&data);
    verify(&s, &acked, &unknown);
}

/// Every acknowledged sample is there with its value; every stored sample
/// was sent; timestamps strictly increase (no duplicates).
fn verify(s: &Server, acked: &[i64], unknown: &[i64]) {
    let got = s.export("crash_test");
    if acked.is_empty() && got.is_empty() {
        return;
    }
    assert_eq!(got.len(), SERIES, "every series is present");
    for (labels, samples) in got {
        let job = labels["job"].as_str().unwrap();
        let k: usize = job[1..].parse().unwrap();
        let stored: BTreeMap<i64, f64> = samples.iter().copied().collect();
        assert_eq!(stored.len(), samples.len(), "{job}: duplicate timestamps");
        assert!(
            samples.windows(2).all(|w| w[0].0 < w[1].0),
            "{job}: out of order"
        );
        for t in acked {
            assert_eq!(
                stored.get(t),
                Some(&value(k, *t)),
                "{job}: acknowledged sample at {t}"
            );
        }
        for (t, v) in &stored {
            assert!(
                acked.binary_search(t).is_ok() || unknown.contains(t),
                "{job}: sample at {t} was never sent"
            );
            assert_eq!(*v, value(k, *t));
        }
    }
}
