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
//!   "decimal" encoding turns into small integers, delta-codes and hands to
//!   zstd; anything else falls back to the Gorilla stream, which is always
//!   valid.
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
    #[error("chunk zstd payload: {0}")]
    Zstd(#[source] std::io::Error),
}
