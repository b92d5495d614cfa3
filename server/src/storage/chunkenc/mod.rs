//! Sample chunk codecs: how one series' `(timestamp ms, f64)` samples become bytes.
//!
//! Two codecs, for the two lives of a sample (byte layouts in `FORMAT.md`
//! beside this file):
//!
//! - [`XorChunk`] is the in-memory *head* chunk a series appends to as it is
//!   scraped. It is Gorilla compression as in Prometheus's
//!   `tsdb/chunkenc/xor.go` (delta-of-delta timestamps, XOR of float bits),
//!   chosen because appends are O(1) and cheap and the state per series is
//!   one `Vec<u8>` plus a few words: memory per active series is a budget.
//!   [`XorIter`] decodes it.
//! - [`encode_sealed`] / [`decode_sealed`] turn a finished run of samples
//!   (a 2 h window, or a larger re-packed block) into the blob stored on
//!   disk. Sealing is done once and read many times, so it spends CPU to
//!   try several encodings and keeps the smallest; the first byte names the
//!   one chosen. Most exporter values are short decimals, which the
//!   "decimal" encoding turns into small integers, delta-codes and
//!   Rice-codes (or hands to zstd); anything else falls back to the Gorilla
//!   stream, which is always valid. About 0.9 bytes/sample on the bench
//!   data, where the Gorilla stream alone takes 3.5.
//!
//! Both decoders treat their input as untrusted: corrupt or truncated bytes
//! give a [`ChunkError`], never a panic.

mod bits;
pub mod sealed;
mod varint;
pub mod xor;

pub use sealed::{decode_sealed, decode_sealed_into, encode_sealed};
pub use xor::{XorChunk, XorIter};

/// ChunkError is why bytes could not be decoded into samples.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// The input ended before the structure it describes did.
    #[error("chunk truncated: {0}")]
    Truncated(&'static str),
    /// The input is structurally invalid (a field out of range, bytes left
    /// over, a count that does not match).
    #[error("chunk corrupt: {0}")]
    Corrupt(&'static str),
    /// The first byte of a sealed blob names no encoding this build knows.
    #[error("unknown sealed chunk encoding 0x{0:02x}")]
    UnknownEncoding(u8),
    /// The zstd frame inside a sealed blob did not decompress.
    #[error("chunk zstd payload does not decompress")]
    Zstd(#[source] std::io::Error),
}

/// Strategies shared by the codecs' property tests.
#[cfg(test)]
pub(crate) mod testutil {
    use proptest::prelude::*;

    /// Prometheus's stale marker.
    pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    /// Strictly increasing timestamps: mostly 15 s scrapes, some jitter,
    /// some random and some enormous gaps, starting anywhere.
    fn timestamps(max_len: usize) -> impl Strategy<Value = Vec<i64>> {
        let start = prop_oneof![
            4 => -10_000_000_000_000i64..10_000_000_000_000,
            1 => Just(i64::MIN),
            1 => any::<i64>(),
        ];
        let gap = prop_oneof![
            8 => Just(15_000i64),
            4 => 14_990i64..15_010,
            2 => 1i64..1_000_000_000,
            1 => 1i64..=i64::MAX,
        ];
        (start, prop::collection::vec(gap, 0..max_len)).prop_map(|(start, gaps)| {
            let mut t = start;
            let mut out = vec![t];
            for g in gaps {
                match t.checked_add(g) {
                    Some(n) => {
                        t = n;
                        out.push(t);
                    }
                    None => break,
                }
            }
            out
        })
    }

    fn special() -> impl Strategy<Value = f64> {
        prop_oneof![
            Just(f64::from_bits(STALE_NAN)),
            Just(f64::NAN),
            any::<u64>()
                .prop_map(|p| f64::from_bits(0x7ff0_0000_0000_0001 | (p & 0x000f_ffff_ffff_ffff))),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            (1u64..1 << 52).prop_map(f64::from_bits),
        ]
    }

    /// n values of one of several shapes: arbitrary bits, decimal counters
    /// and gauges (sometimes with special values mixed in), flapping.
    fn values(n: usize) -> impl Strategy<Value = Vec<f64>> {
        let pow = |dp: u32| 10f64.powi(dp as i32);
        prop_oneof![
            prop::collection::vec(any::<u64>().prop_map(f64::from_bits), n),
            (
                0i64..1_000_000_000,
                0u32..4,
                prop::collection::vec(0i64..10_000, n)
            )
                .prop_map(move |(m0, dp, incs)| {
                    let mut m = m0;
                    incs.iter()
                        .map(|i| {
                            m += i;
                            m as f64 / pow(dp)
                        })
                        .collect()
                }),
            (
                -1_000_000i64..1_000_000,
                0u32..7,
                prop::collection::vec(-500i64..500, n)
            )
                .prop_map(move |(m0, dp, steps)| {
                    let mut m = m0;
                    steps
                        .iter()
                        .map(|s| {
                            m += s;
                            m as f64 / pow(dp)
                        })
                        .collect()
                }),
            (
                0u32..3,
                prop::collection::vec(
                    prop_oneof![9 => (0i64..100_000).prop_map(Some), 1 => Just(None)],
                    n
                ),
                prop::collection::vec(special(), n)
            )
                .prop_map(move |(dp, ms, sp)| {
                    ms.iter()
                        .zip(sp)
                        .map(|(m, s)| m.map_or(s, |m| m as f64 / pow(dp)))
                        .collect()
                }),
            prop::collection::vec(prop_oneof![Just(0.0), Just(1.0)], n),
            (any::<u64>(), prop::collection::vec(0u32..64, n)).prop_map(|(b0, flips)| {
                // Floats close to each other, as gauges of ratios are.
                flips
                    .iter()
                    .map(|f| f64::from_bits(b0 ^ (1u64 << f)))
                    .collect()
            }),
        ]
    }

    /// A series of samples: strictly increasing timestamps, any values.
    pub fn series(max_len: usize) -> impl Strategy<Value = Vec<(i64, f64)>> {
        timestamps(max_len).prop_flat_map(|ts| {
            let n = ts.len();
            values(n).prop_map(move |vs| ts.iter().copied().zip(vs).collect())
        })
    }

    pub fn bits(s: &[(i64, f64)]) -> Vec<(i64, u64)> {
        s.iter().map(|&(t, v)| (t, v.to_bits())).collect()
    }
}
