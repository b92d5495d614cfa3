//! The sealed block codec: [`encode_sealed`] / [`decode_sealed`].
//!
//! A sealed blob holds one series' samples for a finished time range and is
//! written once, read many times, so the encoder tries every encoding and
//! keeps the smallest. The first byte names the encoding (low 7 bits) and
//! whether the rest is a zstd frame (high bit):
//!
//! - `0x01` XOR: the [`XorChunk`] stream verbatim. Always valid; the
//!   fallback for values that are not short decimals.
//! - `0x02` decimal: values as integer mantissas `m` with one exponent `e`
//!   for the block (`v = m * 10^e`, checked bit-exact per value; NaN, ±Inf,
//!   -0.0 and the unrepresentable are kept as raw exceptions), then
//!   timestamps and mantissas each as an integer sequence (`IntPlan`:
//!   deltas, delta-of-deltas or a line, a gcd taken out, and the residuals
//!   Rice-coded). Exporter values are mostly short decimals (integers,
//!   counters with 2 or 3 decimals), so this turns 64 float bits into a few
//!   bits of increment, and regular scrapes into no bytes at all.
//! - the `0x80` flag: the payload is zstd-compressed. Used for decimal
//!   blocks with varint residuals when that beats Rice codes, which is the
//!   case for low-entropy series (values that rarely change).
//!
//! Measured on the node_exporter-like bench data (1 000 series, 24 h at
//! 15 s): 0.93 bytes/sample in 2 h blocks and 0.88 in 24 h blocks, against
//! 3.5 for the XOR stream alone. The residuals are close to their order-0
//! entropy there; the rest is per-block headers.
//!
//! Byte layout: `FORMAT.md`. Both decoders treat input as untrusted.

use std::cell::RefCell;

use super::bits::{write_bits, BitReader};
use super::varint::{put_uvarint, put_varint, unzigzag, uvarint_len, zigzag, ByteReader};
use super::xor::{self, XorChunk};
use super::ChunkError;

/// Encoding id: the XOR head-chunk stream.
pub const ENC_XOR: u8 = 0x01;
/// Encoding id: decimal mantissas + differenced integer sequences.
pub const ENC_DECIMAL: u8 = 0x02;
/// Flag on the encoding id: the payload is `uvarint len` + a zstd frame.
pub const FLAG_ZSTD: u8 = 0x80;

/// MAX_SEALED_SAMPLES bounds the samples in one sealed blob. Decoding must
/// size its output from a count read from the blob, and a constant series
/// costs no bytes per sample, so without a bound a corrupt count could ask
/// for any amount of memory. 2^21 is 24 days at 1 s scrapes.
pub const MAX_SEALED_SAMPLES: usize = 1 << 21;

/// Largest decimal payload bytes per sample: timestamp and mantissa
/// residuals (10 + 10) plus an exception (index 10 + bits 8).
const MAX_PAYLOAD_PER_SAMPLE: usize = 38;
/// Fixed part of a decimal payload: count, two sequence headers, exponent,
/// exception count.
const MAX_PAYLOAD_FIXED: usize = 128;
/// zstd cannot expand more than this (an RLE block: 4 bytes -> 128 KiB).
const ZSTD_MAX_RATIO: usize = 1 << 15;

/// Exact powers of ten as f64 (10^22 is the largest exact one).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
const MAX_EXP: i32 = 22;

/// Tuning of the encoder; fixed in production, varied by measurements.
#[derive(Clone, Debug)]
pub(crate) struct Knobs {
    pub zstd_level: i32,
    pub try_xor_zstd: bool,
    pub try_decimal: bool,
    pub try_decimal_zstd: bool,
    /// Models (values, deltas, delta-of-deltas, linear) the integer
    /// sequences may use.
    pub models: [bool; 4],
    pub allow_for: bool,
    pub allow_zigzag: bool,
    pub use_gcd: bool,
    /// Try zstd only when the raw decimal blob is at most this many bytes
    /// per sample.
    pub zstd_below: f64,
    /// Try XOR only when the decimal blob is more than this many bytes per
    /// sample (or there is none).
    pub xor_above: f64,
    /// Rice-code residual streams when smaller, trying these partition
    /// sizes (log2); empty: never.
    pub rice_parts: &'static [u8],
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            zstd_level: 3,
            try_xor_zstd: false,
            try_decimal: true,
            try_decimal_zstd: true,
            models: [true; 4],
            allow_for: true,
            allow_zigzag: true,
            use_gcd: true,
            zstd_below: f64::INFINITY,
            xor_above: 1.5,
            rice_parts: &[6, 9, 12],
        }
    }
}

thread_local! {
    /// zstd contexts are expensive to create (hundreds of KiB) relative to
    /// a block of a few hundred bytes, so each thread keeps one of each.
    static ZSTD_C: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    static ZSTD_D: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// encode_sealed encodes a run of strictly increasing samples of one series
/// into a self-describing blob, choosing the smallest encoding.
///
/// Panics (a caller bug) with more than [`MAX_SEALED_SAMPLES`] samples.
pub fn encode_sealed(samples: &[(i64, f64)]) -> Vec<u8> {
    encode_sealed_with(samples, &Knobs::default())
}

pub(crate) fn encode_sealed_with(samples: &[(i64, f64)], k: &Knobs) -> Vec<u8> {
    assert!(
        samples.len() <= MAX_SEALED_SAMPLES,
        "BUG: encode_sealed given {} samples, more than MAX_SEALED_SAMPLES",
        samples.len()
    );
    if samples.is_empty() {
        // One spelling of "no samples", so that no truncated XOR blob
        // (just its id byte) can pass for an empty one.
        return vec![ENC_DECIMAL, 0];
    }
    let n = samples.len() as f64;
    let mut decimal: Option<Vec<u8>> = None;
    if k.try_decimal {
        if let Some(parts) = analyse_decimal(samples, k) {
            let mut raw = vec![ENC_DECIMAL];
            write_decimal(&parts, k.rice_parts, &mut raw);
            if k.try_decimal_zstd && raw.len() as f64 <= k.zstd_below * n {
                // zstd gets the varint form: it compresses bytes, not bits.
                let mut payload = Vec::with_capacity(raw.len() + 16);
                write_decimal(&parts, &[], &mut payload);
                if let Some(z) = zstd_blob(ENC_DECIMAL, &payload, k.zstd_level) {
                    if z.len() < raw.len() {
                        raw = z;
                    }
                }
            }
            decimal = Some(raw);
        }
    }
    // Values that make a good decimal block make a poor XOR stream:
    // building one only costs time.
    match decimal {
        Some(d) if d.len() as f64 <= k.xor_above * n => d,
        decimal => {
            let xor = encode_xor(samples, k);
            match decimal {
                Some(d) if d.len() <= xor.len() => d,
                _ => xor,
            }
        }
    }
}

/// encode_xor is the smallest XOR blob (zstd only if the knobs ask).
fn encode_xor(samples: &[(i64, f64)], k: &Knobs) -> Vec<u8> {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, v);
    }
    let mut blob = Vec::with_capacity(1 + c.bytes().len());
    blob.push(ENC_XOR);
    blob.extend_from_slice(c.bytes());
    if k.try_xor_zstd {
        if let Some(z) = zstd_blob(ENC_XOR, c.bytes(), k.zstd_level) {
            if z.len() < blob.len() {
                return z;
            }
        }
    }
    blob
}

/// zstd_blob is `id|FLAG_ZSTD`, the payload length, and the zstd frame, or
/// None if zstd failed (it then simply is not a candidate).
fn zstd_blob(id: u8, payload: &[u8], level: i32) -> Option<Vec<u8>> {
    ZSTD_C.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            let mut c = zstd::bulk::Compressor::new(level).ok()?;
            // We store the length ourselves (to bound decompression), and
            // sealed blobs live in SQLite, which has its own integrity.
            c.set_parameter(zstd::zstd_safe::CParameter::ContentSizeFlag(false))
                .ok()?;
            c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(false))
                .ok()?;
            *slot = Some((level, c));
        }
        let (_, c) = slot.as_mut()?;
        // The Vec target is written from its start, hence the copy.
        let mut frame = Vec::with_capacity(zstd::zstd_safe::compress_bound(payload.len()));
        c.compress_to_buffer(payload, &mut frame).ok()?;
        let mut blob = Vec::with_capacity(11 + frame.len());
        blob.push(id | FLAG_ZSTD);
        put_uvarint(&mut blob, payload.len() as u64);
        blob.extend_from_slice(&frame);
        Some(blob)
    })
}

/// decode_sealed decodes a blob made by [`encode_sealed`].
pub fn decode_sealed(b: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    let mut out = Vec::new();
    decode_sealed_into(b, &mut out)?;
    Ok(out)
}

/// decode_sealed_into appends the samples of a blob to `out`, so a query
/// can gather several blocks into one buffer. On error `out` is left as it
/// was.
pub fn decode_sealed_into(b: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    let start = out.len();
    let r = decode_inner(b, out);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

fn decode_inner(b: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    let (&id, rest) = b
        .split_first()
        .ok_or(ChunkError::Truncated("sealed encoding id"))?;
    let enc = id & !FLAG_ZSTD;
    if enc != ENC_XOR && enc != ENC_DECIMAL {
        return Err(ChunkError::UnknownEncoding(id));
    }
    if id & FLAG_ZSTD == 0 {
        return decode_payload(enc, rest, out);
    }
    let mut r = ByteReader::new(rest);
    let raw_len = r.uvarint("zstd payload length")?;
    let frame = r.remaining();
    let limit = (MAX_SEALED_SAMPLES * MAX_PAYLOAD_PER_SAMPLE + MAX_PAYLOAD_FIXED)
        .min(frame.len().saturating_mul(ZSTD_MAX_RATIO));
    if raw_len > limit as u64 {
        return Err(ChunkError::Corrupt("zstd payload length out of range"));
    }
    let raw_len = raw_len as usize;
    ZSTD_D.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new().map_err(ChunkError::Zstd)?);
        }
        let Some(d) = slot.as_mut() else {
            return Err(ChunkError::Zstd(std::io::Error::other(
                "no zstd decompressor",
            )));
        };
        // Take the scratch buffer out of the thread-local so nothing is
        // borrowed while decoding.
        let mut payload = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
        payload.clear();
        payload.reserve(raw_len);
        let res = d
            .decompress_to_buffer(frame, &mut payload)
            .map_err(ChunkError::Zstd)
            .and_then(|n| {
                if n != raw_len {
                    return Err(ChunkError::Corrupt("zstd payload length mismatch"));
                }
                decode_payload(enc, &payload, out)
            });
        // Keep modest scratch buffers for the next block; drop huge ones.
        if payload.capacity() <= 1 << 20 {
            SCRATCH.with(|s| *s.borrow_mut() = payload);
        }
        res
    })
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn decode_payload(enc: u8, p: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    match enc {
        ENC_XOR => {
            if p.is_empty() {
                return Err(ChunkError::Truncated("sealed xor payload"));
            }
            xor::decode_checked(p, |t, v| out.push((t, v)))?;
            Ok(())
        }
        ENC_DECIMAL => decode_decimal(p, out),
        _ => Err(ChunkError::UnknownEncoding(enc)),
    }
}

// ---------------------------------------------------------------------------
// Decimal encoding.

/// dec_value is the value a mantissa and exponent decode to. Encoder and
/// decoder both use it, and the encoder keeps a mantissa only if this gives
/// back the exact bits, so the round trip is bit-exact by construction. It
/// is an integer conversion and one IEEE-754 operation on an exact power of
/// ten, so every IEEE platform computes the same bits (for |m| < 2^53 it is
/// the correctly rounded value of m × 10^e).
#[inline]
fn dec_value(m: i64, e: i32) -> f64 {
    if e >= 0 {
        m as f64 * POW10[e as usize]
    } else {
        m as f64 / POW10[(-e) as usize]
    }
}

/// mantissa_at is the mantissa of `v` at exponent `e`, if `v` is exactly
/// `dec_value(m, e)` for some i64 m.
#[inline]
fn mantissa_at(v: f64, e: i32) -> Option<i64> {
    let x = if e >= 0 {
        v / POW10[e as usize]
    } else {
        v * POW10[(-e) as usize]
    };
    // Also rejects ±Inf.
    if x.is_nan() || x.abs() >= 9.0e18 {
        return None;
    }
    // Round to nearest without libm's `round` (a call on baseline x86-64).
    // At or above 2^52 every f64 is already an integer, and adding 0.5
    // could round up. A wrong guess only fails the check below.
    let m = if x.abs() >= 4_503_599_627_370_496.0 {
        x as i64
    } else {
        (x + 0.5f64.copysign(x)) as i64
    };
    (dec_value(m, e).to_bits() == v.to_bits()).then_some(m)
}

/// finest_exp is the exponent `v` needs, given that it is not representable
/// at `cur` (so only finer exponents are tried). None if no exponent works.
fn finest_exp(v: f64, cur: Option<i32>) -> Option<i32> {
    if !v.is_finite() {
        return None;
    }
    if v == v.trunc() && v.abs() < 9.0e18 {
        // An integer: exponent 0 works (or v is -0.0, which nothing does).
        return mantissa_at(v, 0).map(|_| 0);
    }
    if v.abs() >= 9.0e18 {
        // Only reachable with positive exponents.
        let lo = cur.map_or(MAX_EXP, |c| c - 1).min(MAX_EXP);
        return (1..=lo).rev().find(|&e| mantissa_at(v, e).is_some());
    }
    let from = cur.map_or(-1, |c| (c - 1).min(-1));
    (-MAX_EXP..=from)
        .rev()
        .find(|&e| mantissa_at(v, e).is_some())
}

/// A decimal block analysed and ready to be written.
struct DecimalParts {
    n: usize,
    ts: Seq,
    exp: i32,
    /// (index, raw bits) of values that are not `m * 10^exp`.
    exc: Vec<(usize, u64)>,
    ms: Seq,
}

/// analyse_decimal finds the block exponent, mantissas and exceptions, and
/// plans both integer sequences; None when too many values are exceptions
/// for the encoding to be worth it.
fn analyse_decimal(samples: &[(i64, f64)], k: &Knobs) -> Option<DecimalParts> {
    let n = samples.len();
    // The block exponent is the finest any value needs. Mantissas are taken
    // at the exponent current when the value is seen; those seen before the
    // last change of exponent are redone below (it changes rarely, and
    // usually at the first values).
    let mut exp: Option<i32> = None;
    let mut redo_before = 0usize;
    let mut ms: Vec<i64> = Vec::with_capacity(n);
    let mut hopeless = 0usize;
    for (i, &(_, v)) in samples.iter().enumerate() {
        if let Some(e) = exp {
            if let Some(m) = mantissa_at(v, e) {
                ms.push(m);
                continue;
            }
        }
        match finest_exp(v, exp) {
            Some(e) => {
                if exp.is_none_or(|c| e < c) {
                    exp = Some(e);
                    redo_before = i;
                }
            }
            None => {
                // Values that are no short decimal cost a search over all
                // exponents each; give up early on blocks made of them.
                hopeless += 1;
                if hopeless * 2 > n || (hopeless >= 32 && hopeless * 2 > i + 1) {
                    return None;
                }
            }
        }
        // Placeholder; exceptions are settled in the pass below.
        ms.push(0);
    }
    let exp = exp.unwrap_or(0);
    // Exceptions repeat the previous mantissa so they do not disturb the
    // deltas.
    let mut exc: Vec<(usize, u64)> = Vec::new();
    let mut prev = 0i64;
    for (i, &(_, v)) in samples.iter().enumerate() {
        let m = if i < redo_before || ms[i] == 0 {
            mantissa_at(v, exp)
        } else {
            Some(ms[i])
        };
        match m {
            Some(m) => {
                ms[i] = m;
                prev = m;
            }
            None => {
                ms[i] = prev;
                exc.push((i, v.to_bits()));
            }
        }
    }
    if exc.len() > n / 2 {
        return None;
    }
    let ts: Vec<i64> = samples.iter().map(|s| s.0).collect();
    let mut scratch = Vec::new();
    Some(DecimalParts {
        n,
        ts: Seq::plan(&ts, k, &mut scratch),
        exp,
        exc,
        ms: Seq::plan(&ms, k, &mut scratch),
    })
}

/// write_decimal writes the payload; a sequence is Rice-coded (with the
/// best of the partition sizes `rice`) where that is smaller than varints.
/// The variant for zstd passes no sizes: zstd compresses byte-aligned
/// varints far better than Rice bits.
fn write_decimal(p: &DecimalParts, rice: &[u8], out: &mut Vec<u8>) {
    put_uvarint(out, p.n as u64);
    if p.n == 0 {
        return;
    }
    p.ts.write(rice, out);
    out.push(p.exp as i8 as u8);
    put_uvarint(out, p.exc.len() as u64);
    let mut next = 0usize;
    for &(i, bits) in &p.exc {
        put_uvarint(out, (i - next) as u64);
        out.extend_from_slice(&bits.to_le_bytes());
        next = i + 1;
    }
    p.ms.write(rice, out);
}

fn decode_decimal(p: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), ChunkError> {
    let mut r = ByteReader::new(p);
    let n = r.uvarint("decimal sample count")?;
    if n > MAX_SEALED_SAMPLES as u64 {
        return Err(ChunkError::Corrupt("decimal sample count out of range"));
    }
    let n = n as usize;
    if n == 0 {
        return if r.is_empty() {
            Ok(())
        } else {
            Err(ChunkError::Corrupt("bytes after empty decimal block"))
        };
    }
    let base = out.len();
    out.reserve(n);
    let mut res = Vec::new();
    read_ints(&mut r, n, &mut res, |_, t| out.push((t, 0.0)))?;
    let exp = r.u8("decimal exponent")? as i8 as i32;
    if !(-MAX_EXP..=MAX_EXP).contains(&exp) {
        return Err(ChunkError::Corrupt("decimal exponent out of range"));
    }
    let n_exc = r.uvarint("decimal exception count")?;
    if n_exc > n as u64 {
        return Err(ChunkError::Corrupt("more exceptions than samples"));
    }
    let exc_start = r.remaining();
    // Validate and skip the exceptions: they overwrite values decoded below.
    let mut next = 0u64;
    for _ in 0..n_exc {
        let gap = r.uvarint("decimal exception index")?;
        next = next.saturating_add(gap).saturating_add(1);
        if next > n as u64 {
            return Err(ChunkError::Corrupt("decimal exception index out of range"));
        }
        r.u64_le("decimal exception value")?;
    }
    let samples = &mut out[base..];
    read_ints(&mut r, n, &mut res, |i, m| {
        // Always in range: the timestamps pushed exactly n samples.
        if let Some(s) = samples.get_mut(i) {
            s.1 = dec_value(m, exp);
        }
    })?;
    if !r.is_empty() {
        return Err(ChunkError::Corrupt("bytes after decimal block"));
    }
    let mut er = ByteReader::new(exc_start);
    let mut next = 0usize;
    for _ in 0..n_exc {
        let i = next + er.uvarint("decimal exception index")? as usize;
        let bits = er.u64_le("decimal exception value")?;
        if let Some(s) = samples.get_mut(i) {
            s.1 = f64::from_bits(bits);
        }
        next = i + 1;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Integer sequences.

/// IntPlan is how a sequence of i64 is turned into small unsigned numbers.
/// A model predicts each value; the residuals are what it misses:
/// [`MODEL_VALUES`] predicts 0, [`MODEL_DELTA`] the previous value,
/// [`MODEL_DOD`] the previous value plus the previous delta, and
/// [`MODEL_LINEAR`] a straight line `x0 + i * step`. The last fits
/// timestamps of scrapes that jitter around a fixed schedule (the jitter
/// itself is cheaper to store than its differences) and values that follow
/// the clock. The first value (and the first delta, or the step) are
/// stored as heads. Each residual r becomes `(r - base) / gcd`, either
/// as is (`zigzag == false`, base = minimum residual: best for one-sided
/// spreads such as counter increments) or zigzagged (base = a median
/// residual: a rare outlier such as a counter reset then costs only
/// itself). gcd 0 means every residual equals base and none is stored:
/// regular scrapes and constant values cost no bytes per sample.
#[derive(Clone, Copy, Debug)]
struct IntPlan {
    model: u8,
    /// The slope of [`MODEL_LINEAR`]; unused by the other models.
    step: i64,
    zigzag: bool,
    base: i64,
    gcd: u64,
}

/// Seq is a planned integer sequence: its heads and coded residuals.
struct Seq {
    plan: IntPlan,
    heads: [i64; 2],
    us: Vec<u64>,
}

const MODEL_VALUES: u8 = 0;
const MODEL_DELTA: u8 = 1;
const MODEL_DOD: u8 = 2;
const MODEL_LINEAR: u8 = 3;

/// head_len is how many leading values a model stores as heads rather
/// than as residuals.
fn head_len(model: u8) -> usize {
    match model {
        MODEL_VALUES => 0,
        MODEL_DOD => 2,
        _ => 1,
    }
}

/// Residual codings: LEB128 varints (byte-aligned, for zstd) or Rice codes.
const CODING_VARINT: u8 = 0;
const CODING_RICE: u8 = 1;
/// Rice quotients of this many or more are escaped (see `FORMAT.md`).
const RICE_ESCAPE: u64 = 32;

impl Seq {
    fn plan(xs: &[i64], k: &Knobs, scratch: &mut Vec<i64>) -> Seq {
        let plan = plan_ints(xs, k, scratch);
        let heads = match plan.model {
            MODEL_VALUES => [0, 0],
            MODEL_DELTA => [xs[0], 0],
            MODEL_DOD => [xs[0], xs[1].wrapping_sub(xs[0])],
            _ => [xs[0], plan.step],
        };
        let mut us = Vec::new();
        if plan.gcd != 0 {
            residuals(xs, plan.model, plan.step, scratch);
            us.reserve(scratch.len());
            let g = plan.gcd;
            for &x in scratch.iter() {
                let d = x.wrapping_sub(plan.base);
                us.push(match (plan.zigzag, g) {
                    (true, 1) => zigzag(d),
                    (true, _) => zigzag(d / g as i64),
                    (false, 1) => d as u64,
                    (false, _) => d as u64 / g,
                });
            }
        }
        Seq { plan, heads, us }
    }

    fn varint_bytes(&self) -> usize {
        self.us.iter().map(|&u| uvarint_len(u)).sum()
    }

    /// write appends the sequence, Rice-coding the residuals when one of
    /// the partition sizes `rice` (log2) makes that smaller than varints.
    fn write(&self, rice: &[u8], out: &mut Vec<u8>) {
        let p = &self.plan;
        let mut best_rice: Option<(u8, Vec<u8>, u64)> = None;
        for (i, &part_log2) in rice.iter().enumerate() {
            // A partition as large as the sequence is the same at any
            // larger size.
            if i > 0 && self.us.len() <= 1 << rice[i - 1] {
                break;
            }
            let (ks, bits) = rice_plan(&self.us, 1 << part_log2);
            if best_rice.as_ref().is_none_or(|b| bits < b.2) {
                best_rice = Some((part_log2, ks, bits));
            }
        }
        // +1: the partition size byte.
        let rice = best_rice
            .filter(|b| b.2.div_ceil(8) as usize + 1 < self.varint_bytes())
            .map(|b| (b.0, b.1));
        let coding = if rice.is_some() {
            CODING_RICE
        } else {
            CODING_VARINT
        };
        out.push(p.model | (p.zigzag as u8) << 2 | coding << 3);
        if p.model != MODEL_VALUES {
            put_varint(out, self.heads[0]);
        }
        if p.model == MODEL_DOD || p.model == MODEL_LINEAR {
            put_varint(out, self.heads[1]);
        }
        put_varint(out, p.base);
        put_uvarint(out, p.gcd);
        if p.gcd == 0 {
            return;
        }
        match rice {
            None => {
                for &u in &self.us {
                    put_uvarint(out, u);
                }
            }
            Some((part_log2, ks)) => {
                out.push(part_log2);
                write_rice(&self.us, 1 << part_log2, &ks, out);
            }
        }
    }
}

/// residuals fills `r` with what `model` fails to predict of `xs` (all
/// but the heads).
fn residuals(xs: &[i64], model: u8, step: i64, r: &mut Vec<i64>) {
    r.clear();
    match model {
        MODEL_VALUES => r.extend_from_slice(xs),
        MODEL_DELTA => r.extend(xs.windows(2).map(|w| w[1].wrapping_sub(w[0]))),
        MODEL_DOD => r.extend(xs.windows(3).map(|w| {
            w[2].wrapping_sub(w[1])
                .wrapping_sub(w[1].wrapping_sub(w[0]))
        })),
        _ => {
            let mut line = xs.first().copied().unwrap_or(0);
            r.extend(xs.iter().skip(1).map(|&x| {
                line = line.wrapping_add(step);
                x.wrapping_sub(line)
            }))
        }
    }
}

/// gcd by Stein's algorithm (no divisions).
fn gcd(mut a: u64, mut b: u64) -> u64 {
    if a == 0 {
        return b;
    }
    if b == 0 {
        return a;
    }
    let shift = (a | b).trailing_zeros();
    a >>= a.trailing_zeros();
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            (a, b) = (b, a);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}

/// gcd_of is the gcd of `f(r)` over `r`, stopping early at 1.
fn gcd_of(r: &[i64], f: impl Fn(i64) -> u64) -> u64 {
    let mut g = 0u64;
    for &x in r {
        let u = f(x);
        // Most values are multiples of a gcd found early: skip the work.
        if g != 0 && u.is_multiple_of(g) {
            continue;
        }
        g = gcd(g, u);
        if g == 1 {
            break;
        }
    }
    g
}

#[inline]
fn bit_len(u: u64) -> u64 {
    64 - u.leading_zeros() as u64
}

/// median_of_sample is the median of at most 65 evenly spaced elements: a
/// base near the middle is all zigzag needs, and this avoids sorting.
fn median_of_sample(r: &[i64]) -> i64 {
    let step = r.len().div_ceil(65).max(1);
    let mut s: Vec<i64> = r.iter().step_by(step).copied().collect();
    if s.is_empty() {
        return 0;
    }
    let mid = s.len() / 2;
    *s.select_nth_unstable(mid).1
}

/// plan_ints picks the model and residual mapping with the fewest
/// significant bits in total, a proxy for the coded size.
fn plan_ints(xs: &[i64], k: &Knobs, scratch: &mut Vec<i64>) -> IntPlan {
    let n = xs.len();
    let mut best: Option<(IntPlan, u64)> = None;
    for model in [MODEL_VALUES, MODEL_DELTA, MODEL_DOD, MODEL_LINEAR] {
        if !k.models[model as usize] || head_len(model) > n {
            continue;
        }
        let mut step = 0;
        if model == MODEL_LINEAR {
            // The typical delta is the slope.
            residuals(xs, MODEL_DELTA, 0, scratch);
            step = median_of_sample(scratch);
        }
        residuals(xs, model, step, scratch);
        let r = &scratch[..];
        // A head costs roughly what a residual of its size costs.
        let head_cost: u64 = match model {
            MODEL_VALUES => 0,
            MODEL_DELTA => bit_len(zigzag(xs[0])),
            MODEL_DOD => bit_len(zigzag(xs[0])) + bit_len(zigzag(xs[1].wrapping_sub(xs[0]))),
            _ => bit_len(zigzag(xs[0])) + bit_len(zigzag(step)),
        };
        let Some(&min) = r.iter().min() else {
            let plan = IntPlan {
                model,
                step,
                zigzag: false,
                base: 0,
                gcd: 0,
            };
            if best.is_none_or(|b| head_cost < b.1) {
                best = Some((plan, head_cost));
            }
            continue;
        };
        let med = median_of_sample(r);
        let (g_for, g_zz) = if k.use_gcd {
            let g_for = gcd_of(r, |x| x.wrapping_sub(min) as u64);
            let g_zz = gcd_of(r, |x| x.wrapping_sub(med).unsigned_abs());
            // A gcd that does not fit i64 cannot divide signed values; 1
            // always works.
            (g_for, if g_zz > i64::MAX as u64 { 1 } else { g_zz })
        } else {
            (1, 1)
        };
        // Both mappings' costs in one pass; a gcd of 0 costs nothing. The
        // cost only ranks candidates, so long sequences are sampled (every
        // model keeps about the same number of residuals, so the ranking
        // is unchanged on average).
        let stride = (r.len() / 128).max(1);
        let (mut c_for, mut c_zz) = (0u64, 0u64);
        if g_for <= 1 && g_zz <= 1 {
            for &x in r.iter().step_by(stride) {
                c_for += bit_len(x.wrapping_sub(min) as u64);
                c_zz += bit_len(zigzag(x.wrapping_sub(med)));
            }
            if g_for == 0 {
                c_for = 0;
            }
            if g_zz == 0 {
                c_zz = 0;
            }
        } else {
            let (gf, gz) = (g_for.max(1), g_zz.max(1) as i64);
            for &x in r.iter().step_by(stride) {
                c_for += bit_len(x.wrapping_sub(min) as u64 / gf);
                c_zz += bit_len(zigzag(x.wrapping_sub(med) / gz));
            }
        }
        let (c_for, c_zz) = (c_for * stride as u64, c_zz * stride as u64);
        let mut cands = [None, None];
        if k.allow_for {
            let plan = IntPlan {
                model,
                step,
                zigzag: false,
                base: min,
                gcd: g_for,
            };
            cands[0] = Some((plan, c_for + head_cost));
        }
        if k.allow_zigzag {
            let plan = IntPlan {
                model,
                step,
                zigzag: true,
                base: med,
                gcd: g_zz,
            };
            cands[1] = Some((plan, c_zz + head_cost));
        }
        for c in cands.into_iter().flatten() {
            if best.is_none_or(|b| c.1 < b.1) {
                best = Some(c);
            }
        }
        // No residual bytes at all (constant values, regular scrapes): the
        // later models can only add heads.
        if best.is_some_and(|b| b.0.gcd == 0) {
            break;
        }
    }
    // Only reachable if a measurement disables every model/mapping.
    best.map_or(
        IntPlan {
            model: MODEL_VALUES,
            step: 0,
            zigzag: true,
            base: 0,
            gcd: 1,
        },
        |b| b.0,
    )
}

// ---------------------------------------------------------------------------
// Rice coding.

/// rice_cost is the bits of `us` Rice-coded with parameter `k`.
fn rice_cost(us: &[u64], k: u32) -> u64 {
    us.iter()
        .map(|&u| {
            let q = u >> k;
            if q < RICE_ESCAPE {
                q + 1 + k as u64
            } else {
                RICE_ESCAPE + 6 + bit_len(u)
            }
        })
        .sum()
}

/// rice_plan picks the Rice parameter of each partition of `part` values
/// and returns them with the total bits (parameters included).
fn rice_plan(us: &[u64], part: usize) -> (Vec<u8>, u64) {
    let mut ks = Vec::with_capacity(us.len().div_ceil(part));
    let mut total = 0u64;
    for chunk in us.chunks(part) {
        // The best k is near log2 of the mean; look around it.
        let sum: u128 = chunk.iter().map(|&u| u as u128).sum();
        let mean = (sum / chunk.len() as u128) as u64;
        let k0 = bit_len(mean) as u32;
        let mut best = (0u32, u64::MAX);
        for k in k0.saturating_sub(2)..=(k0 + 1).min(63) {
            let c = rice_cost(chunk, k);
            if c < best.1 {
                best = (k, c);
            }
        }
        ks.push(best.0 as u8);
        total += best.1 + 6;
    }
    (ks, total)
}

/// write_rice appends the Rice bit section, padded to a whole byte.
fn write_rice(us: &[u64], part: usize, ks: &[u8], out: &mut Vec<u8>) {
    let mut free = 0u8;
    for (chunk, &k) in us.chunks(part).zip(ks) {
        let k = k as u32;
        write_bits(out, &mut free, k as u64, 6);
        for &u in chunk {
            let q = u >> k;
            if q < RICE_ESCAPE {
                // q zeros, a one, then the low k bits.
                let low = u & ((1u64 << k) - 1);
                let n = q as u32 + 1 + k;
                if n <= 64 {
                    write_bits(out, &mut free, (1u64 << k) | low, n);
                } else {
                    write_bits(out, &mut free, 1, q as u32 + 1);
                    write_bits(out, &mut free, low, k);
                }
            } else {
                let l = bit_len(u) as u32;
                write_bits(out, &mut free, 0, RICE_ESCAPE as u32);
                write_bits(out, &mut free, (l - 1) as u64, 6);
                write_bits(out, &mut free, u, l);
            }
        }
    }
}

/// read_ints decodes a sequence of `n` integers, calling `set(i, x)` for
/// each in order; `res` is scratch space for the residuals.
fn read_ints(
    r: &mut ByteReader<'_>,
    n: usize,
    res: &mut Vec<u64>,
    mut set: impl FnMut(usize, i64),
) -> Result<(), ChunkError> {
    let desc = r.u8("int sequence descriptor")?;
    let model = desc & 3;
    let zz = desc & 4 != 0;
    let coding = desc >> 3;
    if head_len(model) > n || coding > CODING_RICE {
        return Err(ChunkError::Corrupt("int sequence descriptor"));
    }
    let x0 = if model != MODEL_VALUES {
        r.varint("int sequence head")?
    } else {
        0
    };
    // The first delta (MODEL_DOD) or the step (MODEL_LINEAR).
    let d1 = if model == MODEL_DOD || model == MODEL_LINEAR {
        r.varint("int sequence head")?
    } else {
        0
    };
    let base = r.varint("int sequence base")?;
    let g = r.uvarint("int sequence gcd")?;
    if zz && g > i64::MAX as u64 {
        return Err(ChunkError::Corrupt("int sequence gcd"));
    }
    let m = n - head_len(model);
    res.clear();
    if g != 0 {
        if coding == CODING_VARINT {
            for _ in 0..m {
                res.push(r.uvarint("int sequence residual")?);
            }
        } else {
            let part_log2 = r.u8("rice partition size")?;
            if part_log2 > 30 {
                return Err(ChunkError::Corrupt("rice partition size"));
            }
            let bits = read_rice(r.remaining(), m, 1usize << part_log2, res)?;
            r.advance(bits.div_ceil(8), "rice section")?;
        }
    }
    let mut next_res = {
        let mut it = res.iter();
        move || -> i64 {
            let d = match (it.next(), zz) {
                (None, _) => 0,
                (Some(&u), true) => unzigzag(u).wrapping_mul(g as i64),
                (Some(&u), false) => u.wrapping_mul(g) as i64,
            };
            base.wrapping_add(d)
        }
    };
    match model {
        MODEL_VALUES => {
            for i in 0..n {
                set(i, next_res());
            }
        }
        MODEL_DELTA => {
            let mut x = x0;
            set(0, x);
            for i in 1..n {
                x = x.wrapping_add(next_res());
                set(i, x);
            }
        }
        MODEL_LINEAR => {
            let mut line = x0;
            set(0, x0);
            for i in 1..n {
                line = line.wrapping_add(d1);
                set(i, line.wrapping_add(next_res()));
            }
        }
        _ => {
            let mut x = x0;
            let mut d = d1;
            set(0, x);
            x = x.wrapping_add(d);
            set(1, x);
            for i in 2..n {
                d = d.wrapping_add(next_res());
                x = x.wrapping_add(d);
                set(i, x);
            }
        }
    }
    Ok(())
}

/// read_rice decodes `m` Rice-coded values into `out` and returns the bits
/// consumed.
fn read_rice(b: &[u8], m: usize, part: usize, out: &mut Vec<u64>) -> Result<usize, ChunkError> {
    let mut br = BitReader::new(b);
    let mut left = m;
    while left > 0 {
        let k = br.read_bits(6) as u32;
        let cnt = left.min(part);
        for _ in 0..cnt {
            let q = br.read_unary32();
            let u = if (q as u64) < RICE_ESCAPE {
                ((q as u64) << k) | br.read_bits(k)
            } else {
                let l = br.read_bits(6) as u32 + 1;
                br.read_bits(l)
            };
            out.push(u);
            if br.overrun {
                return Err(ChunkError::Truncated("rice section"));
            }
        }
        left -= cnt;
    }
    Ok(br.bits_read())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    fn bits(s: &[(i64, f64)]) -> Vec<(i64, u64)> {
        s.iter().map(|&(t, v)| (t, v.to_bits())).collect()
    }

    /// Knob sets that force each encoding path in turn.
    pub(super) fn all_knobs() -> Vec<Knobs> {
        let d = Knobs::default();
        let mut ks = vec![
            d.clone(),
            Knobs {
                try_decimal: false,
                xor_above: 0.0,
                ..d.clone()
            },
            Knobs {
                try_decimal: false,
                try_xor_zstd: true,
                xor_above: 0.0,
                ..d.clone()
            },
            Knobs {
                try_decimal_zstd: false,
                rice_parts: &[],
                ..d.clone()
            },
            Knobs {
                try_decimal_zstd: false,
                rice_parts: &[0, 3],
                ..d.clone()
            },
            Knobs {
                use_gcd: false,
                ..d.clone()
            },
        ];
        for model in 0..4 {
            let mut models = [false; 4];
            models[model] = true;
            for (allow_for, allow_zigzag) in [(true, false), (false, true)] {
                for rice in [&[][..], &[6][..]] {
                    ks.push(Knobs {
                        models,
                        allow_for,
                        allow_zigzag,
                        rice_parts: rice,
                        try_decimal_zstd: false,
                        ..d.clone()
                    });
                }
            }
        }
        ks
    }

    /// Round-trips `s` through every encoding path, checking bits, and
    /// that every strict truncation of every blob is an error.
    fn assert_round_trip(s: &[(i64, f64)]) {
        for k in all_knobs() {
            let blob = encode_sealed_with(s, &k);
            let got = decode_sealed(&blob).unwrap_or_else(|e| panic!("{k:?}: {e}"));
            assert_eq!(bits(&got), bits(s), "{k:?} blob {blob:02x?}");
            for n in 0..blob.len() {
                assert!(decode_sealed(&blob[..n]).is_err(), "{k:?} truncated to {n}");
            }
        }
    }

    fn counter(n: usize, step: f64) -> Vec<(i64, f64)> {
        let mut v = 1000.25;
        (0..n)
            .map(|i| {
                v = ((v + step * ((i * 7919) % 13) as f64) * 100.0).round() / 100.0;
                (1_700_000_000_000 + i as i64 * 15_000, v)
            })
            .collect()
    }

    #[test]
    fn empty_one_two() {
        assert_round_trip(&[]);
        assert_round_trip(&[(5, 1.25)]);
        assert_round_trip(&[(-5, f64::NAN)]);
        assert_round_trip(&[(1, 1.0), (2, 2.0)]);
        assert_round_trip(&[(1, -0.0), (2, f64::INFINITY)]);
        assert_eq!(encode_sealed(&[]), vec![ENC_DECIMAL, 0]);
    }

    #[test]
    fn decimal_blocks_are_small_and_exact() {
        let s = counter(480, 0.37);
        assert_round_trip(&s);
        let blob = encode_sealed(&s);
        assert_eq!(blob[0] & !FLAG_ZSTD, ENC_DECIMAL);
        assert!(blob.len() < 480, "{} bytes", blob.len());
        // Constant values at regular scrapes cost a fixed few bytes.
        let c: Vec<(i64, f64)> = (0..10_000).map(|i| (i * 15_000, 1.0)).collect();
        assert!(encode_sealed(&c).len() < 24);
        assert_round_trip(&c);
    }

    #[test]
    fn special_values_become_exceptions() {
        let mut s = counter(200, 1.5);
        s[0].1 = f64::from_bits(STALE_NAN);
        s[10].1 = f64::NAN;
        s[11].1 = f64::INFINITY;
        s[12].1 = f64::NEG_INFINITY;
        s[13].1 = -0.0;
        s[14].1 = f64::from_bits(1);
        s[199].1 = f64::from_bits(STALE_NAN);
        assert_round_trip(&s);
        assert_eq!(encode_sealed(&s)[0] & !FLAG_ZSTD, ENC_DECIMAL);
    }

    #[test]
    fn mostly_special_values_fall_back_to_xor() {
        let s: Vec<(i64, f64)> = (0..100)
            .map(|i| {
                (
                    i * 1000,
                    if i % 4 == 0 {
                        1.0
                    } else {
                        f64::from_bits(STALE_NAN + i as u64)
                    },
                )
            })
            .collect();
        assert_round_trip(&s);
        assert_eq!(encode_sealed(&s)[0] & !FLAG_ZSTD, ENC_XOR);
    }

    #[test]
    fn non_decimal_floats_fall_back_to_xor() {
        let s: Vec<(i64, f64)> = (0..300)
            .map(|i| (i * 15_000, (i as f64 * 0.1).sin()))
            .collect();
        assert_round_trip(&s);
        assert_eq!(encode_sealed(&s)[0] & !FLAG_ZSTD, ENC_XOR);
    }

    #[test]
    fn awkward_decimals() {
        let vals = [
            0.1,
            0.3,
            1e-22,
            1.5e-20,
            123.456,
            1699920002.007575,
            9_007_199_254_740_993.0, // 2^53 + 1 is not an f64; this is 2^53
            4_503_599_627_370_497.0, // 2^52 + 1
            9.2e18,
            1e20,
            1.7976931348623157e308,
            -2.5,
            5e-324,
            1e22,
            123456789012345680000.0,
        ];
        let s: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64, v))
            .collect();
        assert_round_trip(&s);
        for &v in &vals {
            assert_round_trip(&[(0, v), (1, v), (2, 0.5)]);
        }
    }

    #[test]
    fn mantissa_search() {
        assert_eq!(mantissa_at(0.1, -1), Some(1));
        assert_eq!(mantissa_at(0.1, 0), None);
        assert_eq!(mantissa_at(123.456, -3), Some(123456));
        assert_eq!(mantissa_at(-0.0, 0), None);
        assert_eq!(mantissa_at(f64::NAN, 0), None);
        assert_eq!(mantissa_at(1e20, 20), Some(1));
        assert_eq!(finest_exp(2.5, None), Some(-1));
        assert_eq!(finest_exp(1699920002.007575, None), Some(-6));
        assert_eq!(finest_exp(42.0, None), Some(0));
        assert_eq!(finest_exp(1e20, None), Some(20));
        assert_eq!(finest_exp(f64::INFINITY, None), None);
        assert_eq!(finest_exp(1e-30, None), None);
        assert_eq!(finest_exp(5e-324, None), None);
        // 17 significant digits still fit a mantissa.
        assert_eq!(finest_exp(0.1 + 0.2, None), Some(-17));
        // Above 2^52 adding 0.5 would round the wrong way.
        let big = 4_503_599_627_370_497.0;
        assert_eq!(mantissa_at(big, 0), Some(4_503_599_627_370_497));
    }

    #[test]
    fn timestamps_of_all_shapes() {
        let year = 365 * 86_400_000i64;
        let jitter: Vec<(i64, f64)> = (0..500)
            .map(|i| (i * 15_000 + (i * 7919) % 41 - 20, 1.0))
            .collect();
        assert_round_trip(&jitter);
        assert_round_trip(&[
            (i64::MIN, 1.0),
            (-year, 2.0),
            (0, 3.0),
            (year * 100, 4.0),
            (i64::MAX, 5.0),
        ]);
        assert_round_trip(&[(i64::MIN, 0.5), (i64::MAX, 0.25)]);
        let gaps: Vec<(i64, f64)> = (0..100)
            .map(|i| (i * i * i * 1_000_000 - 5_000_000_000, i as f64))
            .collect();
        assert_round_trip(&gaps);
    }

    #[test]
    fn counter_reset_and_gcd() {
        let mut s = counter(480, 2.0);
        for (i, x) in s.iter_mut().enumerate().skip(300) {
            x.1 = (i - 300) as f64 * 0.25;
        }
        assert_round_trip(&s);
        // Memory gauges move in pages: the gcd takes the 12 zero bits.
        let mem: Vec<(i64, f64)> = (0..480)
            .map(|i| (i * 15_000, 4096.0 * (1_000_000 + (i * 7919) % 4001) as f64))
            .collect();
        assert_round_trip(&mem);
        assert!(encode_sealed(&mem).len() < 480 * 2);
    }

    fn unhex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    /// Pins the byte layout: the worked example in FORMAT.md, and a block
    /// with a stale marker. A change here is a format change.
    #[test]
    fn golden_bytes() {
        let s = [
            (1_700_000_000_000i64, 1.5f64),
            (1_700_000_015_000, 2.25),
            (1_700_000_030_000, 3.0),
            (1_700_000_045_000, 3.0),
        ];
        let want = "02 04 08 80 a0 ab fe f9 62 98 75 06 02 91 fe 00 0c d8 04 4b 06 00 5c";
        assert_eq!(encode_sealed(&s), unhex(want));
        assert_eq!(bits(&decode_sealed(&unhex(want)).unwrap()), bits(&s));
        let mut c = XorChunk::new();
        for &(t, v) in &s {
            c.append(t, v);
        }
        let want_xor =
            "00 00 00 04 80 a0 ab fe f9 62 3f f8 00 00 00 00 00 00 98 75 c2 77 ff a8 00 50";
        assert_eq!(c.bytes(), unhex(want_xor));
        let mut sealed_xor = vec![ENC_XOR];
        sealed_xor.extend_from_slice(&unhex(want_xor));
        assert_eq!(bits(&decode_sealed(&sealed_xor).unwrap()), bits(&s));

        let vals = [
            0.5,
            0.75,
            f64::from_bits(STALE_NAN),
            1.25,
            2.0,
            2.5,
            3.0,
            3.25,
        ];
        let s2: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| (1_700_000_000_000 + i as i64 * 15_000, v))
            .collect();
        let want2 =
            "02 08 08 80 a0 ab fe f9 62 98 75 06 06 d3 23 10 c0 fe 01 02 02 00 00 00 00 00 \
                     f0 7f 0d 64 64 19 06 01 19 d0";
        assert_eq!(encode_sealed(&s2), unhex(want2));
    }

    #[test]
    fn gcd_works() {
        assert_eq!(gcd(0, 0), 0);
        assert_eq!(gcd(0, 12), 12);
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(1 << 63, 1 << 62), 1 << 62);
        assert_eq!(gcd(u64::MAX, 3), 3);
        assert_eq!(gcd(17, 5), 1);
    }

    #[test]
    fn corrupt_blobs_are_errors() {
        assert!(matches!(decode_sealed(&[]), Err(ChunkError::Truncated(_))));
        assert!(matches!(
            decode_sealed(&[0x7f]),
            Err(ChunkError::UnknownEncoding(0x7f))
        ));
        assert!(matches!(
            decode_sealed(&[0x00]),
            Err(ChunkError::UnknownEncoding(0))
        ));
        // A count beyond MAX_SEALED_SAMPLES is refused before allocating.
        let mut b = vec![ENC_DECIMAL];
        put_uvarint(&mut b, MAX_SEALED_SAMPLES as u64 + 1);
        assert!(decode_sealed(&b).is_err());
        // A zstd length that cannot come from the frame.
        let mut z = vec![ENC_DECIMAL | FLAG_ZSTD];
        put_uvarint(&mut z, 1 << 40);
        z.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd]);
        assert!(decode_sealed(&z).is_err());
        // Trailing bytes after a complete payload.
        let mut t = encode_sealed_with(
            &counter(10, 1.0),
            &Knobs {
                try_decimal_zstd: false,
                ..Knobs::default()
            },
        );
        t.push(0);
        assert!(decode_sealed(&t).is_err());
    }

    #[test]
    fn decode_into_appends_and_restores_on_error() {
        let a = counter(20, 1.0);
        let mut out = vec![(1, 1.0)];
        decode_sealed_into(&encode_sealed(&a), &mut out).unwrap();
        assert_eq!(out.len(), 21);
        let blob = encode_sealed(&a);
        let bad = &blob[..blob.len() - 1];
        assert!(decode_sealed_into(bad, &mut out).is_err());
        assert_eq!(out.len(), 21);
    }

    #[test]
    fn flipped_bits_never_panic() {
        let mut s = counter(300, 0.5);
        s[7].1 = f64::NAN;
        for k in all_knobs() {
            let blob = encode_sealed_with(&s, &k);
            for i in 0..blob.len() {
                for bit in [0, 3, 7] {
                    let mut m = blob.clone();
                    m[i] ^= 1 << bit;
                    let _ = decode_sealed(&m);
                }
            }
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::super::testutil::{bits, series};
    use super::tests::all_knobs;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_bit_exact(s in series(600), ki in any::<prop::sample::Index>()) {
            let blob = encode_sealed(&s);
            prop_assert_eq!(bits(&decode_sealed(&blob).unwrap()), bits(&s));
            // And through one of the forced encoding paths.
            let knobs = all_knobs();
            let k = &knobs[ki.index(knobs.len())];
            let blob = encode_sealed_with(&s, k);
            prop_assert_eq!(bits(&decode_sealed(&blob).unwrap()), bits(&s));
        }

        #[test]
        fn random_bytes_never_panic(
            id in prop::sample::select(vec![0x01u8, 0x02, 0x81, 0x82, 0x03, 0x00]),
            b in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let _ = decode_sealed(&b);
            let mut v = vec![id];
            v.extend_from_slice(&b);
            let _ = decode_sealed(&v);
        }

        #[test]
        fn mutated_blobs_never_panic(
            s in series(200),
            ki in any::<prop::sample::Index>(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let knobs = all_knobs();
            let k = &knobs[ki.index(knobs.len())];
            let mut blob = encode_sealed_with(&s, k);
            for (i, x) in flips {
                let i = i.index(blob.len());
                blob[i] ^= x;
            }
            let mut out = vec![(0, 0.0)];
            if decode_sealed_into(&blob, &mut out).is_err() {
                prop_assert_eq!(out.len(), 1);
            }
        }
    }
}
