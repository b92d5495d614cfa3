//! Engine tests: append/select round trips, the out-of-order rules, restart
//! with log replay, sealing and log truncation, retention, and import
//! overlapping stored data.

use std::sync::atomic::Ordering;

use super::head::WINDOW_MS;
use super::*;

fn labels(name: &str, job: &str) -> Labels {
    Labels::from_sorted([("__name__", name), ("job", job)]).unwrap()
}

fn batch(l: &Labels, samples: &[(i64, f64)]) -> Vec<SeriesSamples> {
    vec![SeriesSamples {
        labels: l.clone(),
        samples: samples.to_vec(),
    }]
}

fn eq(name: &str) -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Equal, METRIC_NAME, name).unwrap()]
}

fn all_samples(s: &Storage, name: &str) -> Vec<(i64, u64)> {
    s.select(&eq(name), i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|d| d.samples.into_iter().map(|(t, v)| (t, v.to_bits())))
        .collect()
}

fn open(dir: &std::path::Path) -> Storage {
    Storage::open(dir, Options::default()).unwrap()
}

const STALE: u64 = 0x7ff0000000000002;

#[test]
fn append_points_says_where_unreferenced_entries_went() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let (a, b) = (labels("up", "a"), labels("up", "b"));
    let r = s.append(batch(&a, &[(1000, 1.0)])).unwrap();
    assert!(r.placed.is_empty(), "the remote-write path asks for none");
    let ra = s.series_ref(&a).unwrap();
    // a with its reference, b new (twice in the batch), a again without.
    let pts = [(1000, 2.0), (2000, 1.0), (3000, 1.0), (4000, 3.0)];
    let entries = [
        (&b, None, &pts[0]),
        (&a, Some(ra), &pts[1]),
        (&b, None, &pts[2]),
        (&a, None, &pts[3]),
    ];
    let r = s.append_points(entries.into_iter()).unwrap();
    assert_eq!((r.written, r.new_series), (4, 1));
    let rb = s.series_ref(&b).unwrap();
    let mut placed = r.placed.clone();
    placed.sort_by_key(|p| p.0);
    // The new series at the entry that introduced it; the existing one
    // found by its labels; the referenced entry not at all.
    assert_eq!(placed, vec![(0, rb), (3, ra)]);
}

#[test]
fn append_then_select_keeps_bits() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let l = labels("up", "a");
    let stale = f64::from_bits(STALE);
    let r = s
        .append(batch(&l, &[(1000, 1.0), (2000, stale), (3000, -0.0)]))
        .unwrap();
    assert_eq!((r.written, r.new_series), (3, 1));
    assert_eq!(
        all_samples(&s, "up"),
        vec![
            (1000, 1f64.to_bits()),
            (2000, STALE),
            (3000, (-0.0f64).to_bits())
        ]
    );
    let got = s.select(&eq("up"), 1500, 2500).unwrap();
    assert_eq!(got[0].samples.len(), 1);
    assert_eq!(s.series(&eq("up"), 4000, 5000).unwrap().len(), 0);
}

#[test]
fn out_of_order_and_duplicates_are_reported_not_stored() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let l = labels("up", "a");
    s.append(batch(&l, &[(1000, 1.0), (2000, 2.0)])).unwrap();
    let r = s
        .append(batch(
            &l,
            &[(1500, 9.0), (2000, 2.0), (2000, 7.0), (3000, 3.0)],
        ))
        .unwrap();
    // 2000/2.0 repeats the stored sample: success, stored once.
    assert_eq!(r.written, 2);
    assert_eq!(r.rejected_total(), 2);
    let reasons: Vec<_> = r.rejected.iter().map(|x| (x.0, x.1)).collect();
    assert!(reasons.contains(&(RejectReason::OutOfOrder, 1)));
    assert!(reasons.contains(&(RejectReason::Duplicate, 1)));
    assert_eq!(
        all_samples(&s, "up")
            .iter()
            .map(|x| x.0)
            .collect::<Vec<_>>(),
        vec![1000, 2000, 3000]
    );
    assert_eq!(s.stats.samples_out_of_order.load(Ordering::Relaxed), 1);
}

#[test]
fn same_series_twice_in_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let l = labels("up", "a");
    let mut b = batch(&l, &[(1, 1.0)]);
    b.extend(batch(&l, &[(2, 2.0), (1, 5.0)]));
    let r = s.append(b).unwrap();
    assert_eq!((r.written, r.new_series, r.rejected_total()), (2, 1, 1));
    assert_eq!(s.series_count(), 1);
}

#[test]
fn restart_replays_the_log_and_remembers_series() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels("up", "a");
    {
        let s = open(dir.path());
        s.append(batch(&l, &[(1000, 1.0)])).unwrap();
        s.append(batch(&l, &[(2000, f64::from_bits(STALE))]))
            .unwrap();
        s.append(batch(&labels("other", "b"), &[(500, 5.0)]))
            .unwrap();
    }
    let s = open(dir.path());
    assert_eq!(s.stats.wal_records_replayed.load(Ordering::Relaxed), 3);
    assert_eq!(
        all_samples(&s, "up"),
        vec![(1000, 1f64.to_bits()), (2000, STALE)]
    );
    assert_eq!(s.series_count(), 2);
    // The replayed head still refuses out-of-order samples.
    let r = s.append(batch(&l, &[(1500, 1.0)])).unwrap();
    assert_eq!(r.rejected_total(), 1);
}

#[test]
fn the_directory_lock_refuses_a_second_owner() {
    let dir = tempfile::tempdir().unwrap();
    let _s = open(dir.path());
    assert!(matches!(
        Storage::open(dir.path(), Options::default()),
        Err(StorageError::Locked { .. })
    ));
}

#[test]
fn sealing_persists_chunks_and_truncates_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels("up", "a");
    let n = 3 * WINDOW_MS / 15_000;
    let samples: Vec<(i64, f64)> = (0..n).map(|i| (i * 15_000, i as f64 * 0.5)).collect();
    {
        let s = open(dir.path());
        for part in samples.chunks(100) {
            s.append(batch(&l, part)).unwrap();
        }
        // Two windows are complete and frozen; the third is open.
        assert_eq!(s.seal(false).unwrap(), 2);
        let w = s.lock_writer();
        let left: i64 = w
            .conn
            .query_row("SELECT COUNT(*) FROM wal", [], |r| r.get(0))
            .unwrap();
        // Only records holding samples of the open window remain.
        assert!(left > 0 && left < n / 100, "{left}");
    }
    let s = open(dir.path());
    let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(all_samples(&s, "up"), want);
    // Reading a range that spans disk and memory.
    let got = s
        .select(&eq("up"), WINDOW_MS - 15_000, WINDOW_MS * 2 + 15_000)
        .unwrap();
    assert_eq!(got[0].samples.len(), (WINDOW_MS / 15_000 + 3) as usize);
}

#[test]
fn idle_heads_are_frozen_once_time_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.append(batch(&labels("idle", "a"), &[(0, 1.0)])).unwrap();
    s.append(batch(&labels("busy", "a"), &[(3 * WINDOW_MS, 1.0)]))
        .unwrap();
    assert_eq!(s.seal(true).unwrap(), 1);
    assert_eq!(all_samples(&s, "idle"), vec![(0, 1f64.to_bits())]);
}

#[test]
fn retention_by_time_deletes_old_chunks_and_empty_series() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(
        dir.path(),
        Options {
            retention_ms: Some(WINDOW_MS),
            ..Options::default()
        },
    )
    .unwrap();
    let old = labels("old", "a");
    let new = labels("new", "a");
    s.write_chunks(&batch(&old, &[(0, 1.0), (1000, 2.0)]))
        .unwrap();
    s.write_chunks(&batch(&new, &[(0, 1.0), (5 * WINDOW_MS, 2.0)]))
        .unwrap();
    let deleted = s.enforce_retention().unwrap();
    assert_eq!(deleted, 2);
    assert!(all_samples(&s, "old").is_empty());
    assert_eq!(s.series(&eq("old"), i64::MIN, i64::MAX).unwrap().len(), 0);
    assert_eq!(
        all_samples(&s, "new"),
        vec![(5 * WINDOW_MS, 2f64.to_bits())]
    );
    assert_eq!(s.series_count(), 1);
    drop(s);
    let s = open(dir.path());
    assert_eq!(s.series_count(), 1);
}

#[test]
fn retention_by_size_deletes_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(
        dir.path(),
        Options {
            retention_ms: None,
            retention_bytes: Some(200 * 1024),
            ..Options::default()
        },
    )
    .unwrap();
    // Random-looking values compress badly: ~ several MB in total.
    for k in 0..40 {
        let l =
            Labels::from_sorted([("__name__", "big".to_string()), ("k", k.to_string())]).unwrap();
        let samples: Vec<(i64, f64)> = (0..5000)
            .map(|i| {
                (
                    i * 15_000,
                    f64::from_bits(
                        0x4000_0000_0000_0000
                            ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 12,
                    ),
                )
            })
            .collect();
        s.write_chunks(&batch(&l, &samples)).unwrap();
    }
    s.checkpoint().unwrap();
    assert!(s.disk_bytes().unwrap() > 200 * 1024);
    assert!(s.enforce_retention().unwrap() > 0);
    assert!(s.disk_bytes().unwrap() <= 200 * 1024);
    // What is left is the newest data.
    let left = s.select(&eq("big"), i64::MIN, i64::MAX).unwrap();
    let newest = left
        .iter()
        .map(|d| d.samples.last().unwrap().0)
        .max()
        .unwrap();
    assert_eq!(newest, 4999 * 15_000);
}

#[test]
fn imported_chunks_merge_with_live_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let l = labels("up", "a");
    s.append(batch(&l, &[(10_000, 10.0), (20_000, 20.0)]))
        .unwrap();
    // Older data, one sample overlapping (timestamp 10 000).
    s.write_chunks(&batch(&l, &[(0, 0.0), (5_000, 5.0), (10_000, 99.0)]))
        .unwrap();
    let got: Vec<i64> = all_samples(&s, "up").iter().map(|x| x.0).collect();
    assert_eq!(got, vec![0, 5_000, 10_000, 20_000]);
    // Import does not move the append frontier backwards.
    assert_eq!(
        s.append(batch(&l, &[(15_000, 1.0)]))
            .unwrap()
            .rejected_total(),
        1
    );
}

#[test]
fn label_names_and_values_respect_matchers_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    s.append(batch(&labels("up", "a"), &[(1000, 1.0)])).unwrap();
    s.append(batch(
        &Labels::from_sorted([("__name__", "cpu"), ("job", "b"), ("mode", "idle")]).unwrap(),
        &[(5000, 1.0)],
    ))
    .unwrap();
    assert_eq!(
        s.label_names(&[], i64::MIN, i64::MAX).unwrap(),
        vec!["__name__", "job", "mode"]
    );
    assert_eq!(
        s.label_names(&[eq("up")], i64::MIN, i64::MAX).unwrap(),
        vec!["__name__", "job"]
    );
    assert_eq!(s.label_values("job", &[], 0, 2000).unwrap(), vec!["a"]);
    assert_eq!(
        s.label_values("job", &[], i64::MIN, i64::MAX).unwrap(),
        vec!["a", "b"]
    );
}

#[test]
fn a_full_window_at_one_millisecond_is_cut_into_bounded_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels("fast", "a");
    let n = head::MAX_CHUNK_SAMPLES as i64 + 1000;
    let samples: Vec<(i64, f64)> = (0..n).map(|i| (i, i as f64)).collect();
    {
        let s = open(dir.path());
        s.append(batch(&l, &samples)).unwrap();
        assert_eq!(s.seal(false).unwrap(), 1);
        // Import splits the same way.
        s.write_chunks(&batch(&labels("fast", "b"), &samples))
            .unwrap();
    }
    let s = open(dir.path());
    assert_eq!(all_samples(&s, "fast").len(), 2 * n as usize);
    let r = verify::verify(dir.path(), |_, _| {}).unwrap();
    assert!(r.ok(), "{r}");
    assert_eq!(r.chunks, 3);
}

#[test]
fn importing_newer_data_does_not_hide_unsealed_log_records() {
    let dir = tempfile::tempdir().unwrap();
    let l = labels("up", "a");
    {
        let s = open(dir.path());
        s.append(batch(&l, &[(1000, 1.0), (2000, 2.0)])).unwrap();
    }
    {
        let s = open(dir.path());
        s.write_chunks(&batch(&l, &[(5000, 5.0), (6000, 6.0)]))
            .unwrap();
    }
    let s = open(dir.path());
    let got: Vec<i64> = all_samples(&s, "up").iter().map(|x| x.0).collect();
    assert_eq!(got, vec![1000, 2000, 5000, 6000]);
    // And appends still have to come after everything stored.
    assert_eq!(
        s.append(batch(&l, &[(5500, 1.0)]))
            .unwrap()
            .rejected_total(),
        1
    );
}

#[test]
fn samples_far_in_the_future_or_past_retention_are_out_of_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let now = 1_700_000_000_000;
    let s = Storage::open(
        dir.path(),
        Options {
            retention_ms: Some(3_600_000),
            clock: Clock::fixed(now),
            ..Options::default()
        },
    )
    .unwrap();
    let l = labels("up", "a");
    s.append(batch(&l, &[(now - 1000, 1.0)])).unwrap();
    let r = s
        .append(batch(
            &labels("up", "b"),
            &[
                (now - 7_200_000, 1.0),
                (now + 60_000, 2.0),
                (now * 1000, 3.0),
            ],
        ))
        .unwrap();
    assert_eq!(r.written, 1);
    assert_eq!(
        r.rejected,
        vec![(RejectReason::OutOfBounds, 2, r.rejected[0].2.clone())]
    );
    // Nothing moved "newest" ahead, so retention keeps the data.
    assert_eq!(s.enforce_retention().unwrap(), 0);
    // Counted back from the newest sample, never from beyond the clock.
    assert_eq!(s.retention_cutoff(), Some(now - 3_600_000));
}

#[test]
fn a_conflicting_resend_after_restart_is_still_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let a = labels("up", "a");
    {
        let s = open(dir.path());
        s.append(batch(&a, &[(1000, 1.0), (2000, 2.0)])).unwrap();
        // Another series moves time on, so `a` is idle, frozen and sealed,
        // and the log record holding its samples is deleted.
        s.append(batch(&labels("up", "b"), &[(3 * WINDOW_MS, 1.0)]))
            .unwrap();
        assert_eq!(s.seal(true).unwrap(), 1);
        let w = s.lock_writer();
        let rows: i64 = w
            .conn
            .query_row("SELECT COUNT(*) FROM wal", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1, "only the record of `b` is left");
    }
    // After the restart `a`'s newest value exists only in a sealed chunk.
    let s = open(dir.path());
    let r = s.append(batch(&a, &[(2000, 7.0)])).unwrap();
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].0, RejectReason::Duplicate);
    let r = s.append(batch(&a, &[(2000, 2.0)])).unwrap();
    assert_eq!((r.written, r.rejected_total()), (1, 0));
    assert_eq!(all_samples(&s, "up").len(), 3);
}

#[test]
fn many_frozen_chunks_ask_for_an_early_seal() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    // One sample per 2-hour window: every sample freezes the previous chunk.
    let n = EARLY_SEAL_CHUNKS as i64 + 2;
    let samples: Vec<(i64, f64)> = (0..n).map(|i| (i * WINDOW_MS, 1.0)).collect();
    s.append(batch(&labels("sparse", "a"), &samples)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let asked = rt.block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(1), s.seal_wanted.notified())
            .await
            .is_ok()
    });
    assert!(asked, "an early seal was requested");
    assert_eq!(s.seal(false).unwrap(), n as usize - 1);
}
