//! Benchmarks of the sample chunk codecs (`storage::chunkenc`): appending
//! to and iterating the Gorilla head chunk, and sealing/unsealing blocks,
//! on a 2 h window (480 samples at 15 s) and a 30 h one (7 200 samples).
//!
//! Two value shapes: a CPU-seconds counter with two decimals (what most
//! exporter series look like, so the decimal encoding is chosen) and a
//! random-walk of full-precision floats (not decimals: the XOR fallback).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pharos::storage::chunkenc::{decode_sealed_into, encode_sealed, XorChunk};
use std::hint::black_box;

/// Deterministic xorshift, so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A counter of CPU seconds scraped every 15 s: increments of 2..12 s
/// rounded to hundredths, as node_exporter reports them.
fn counter_2dp(n: usize) -> Vec<(i64, f64)> {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut v = 21_913_883.05f64;
    (0..n)
        .map(|i| {
            v = ((v + 2.0 + 10.0 * r.unit()) * 100.0).round() / 100.0;
            (1_700_000_000_000 + i as i64 * 15_000, v)
        })
        .collect()
}

/// A random walk of full-precision floats (e.g. a recording rule's ratio).
fn float_walk(n: usize) -> Vec<(i64, f64)> {
    let mut r = Rng(0x2545_F491_4F6C_DD1D);
    let mut v = 0.5f64;
    (0..n)
        .map(|i| {
            v += (r.unit() - 0.5) * 0.01;
            (1_700_000_000_000 + i as i64 * 15_000, v)
        })
        .collect()
}

type Shape = (&'static str, fn(usize) -> Vec<(i64, f64)>);
const SHAPES: [Shape; 2] = [("counter_2dp", counter_2dp), ("float_walk", float_walk)];
const SIZES: [usize; 2] = [480, 7200];

fn bench_xor(c: &mut Criterion) {
    let mut g = c.benchmark_group("xor");
    for (name, gen) in SHAPES {
        for n in SIZES {
            let samples = gen(n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("append/{name}"), n),
                &samples,
                |b, s| {
                    b.iter(|| {
                        let mut c = XorChunk::new();
                        for &(t, v) in s {
                            c.append(t, v);
                        }
                        c
                    })
                },
            );
            let mut chunk = XorChunk::new();
            for &(t, v) in &samples {
                chunk.append(t, v);
            }
            g.bench_with_input(
                BenchmarkId::new(format!("iter/{name}"), n),
                &chunk,
                |b, c| {
                    b.iter(|| {
                        let mut acc = 0f64;
                        for (t, v) in c.iter() {
                            acc += v + t as f64;
                        }
                        black_box(acc)
                    })
                },
            );
        }
    }
    g.finish();
}

fn bench_sealed(c: &mut Criterion) {
    let mut g = c.benchmark_group("sealed");
    for (name, gen) in SHAPES {
        for n in SIZES {
            let samples = gen(n);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("encode/{name}"), n),
                &samples,
                |b, s| b.iter(|| encode_sealed(black_box(s))),
            );
            let blob = encode_sealed(&samples);
            let mut out = Vec::with_capacity(n);
            g.bench_with_input(
                BenchmarkId::new(format!("decode/{name}"), n),
                &blob,
                |b, blob| {
                    b.iter(|| {
                        out.clear();
                        decode_sealed_into(black_box(blob), &mut out).expect("bench blob decodes");
                        black_box(out.len())
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group!(benches, bench_xor, bench_sealed);
criterion_main!(benches);
