//! The Gorilla head chunk: [`XorChunk`] (append side) and [`XorIter`]
//! (read side).
//!
//! The scheme is Prometheus's `tsdb/chunkenc/xor.go`, itself from
//! Facebook's Gorilla paper: timestamps are stored as the delta of the
//! delta in bucketed widths (regular scrapes cost one bit), values as the
//! XOR with the previous value's bits, reusing the previous window of
//! meaningful bits when it still fits. Byte layout: `FORMAT.md`.
//!
//! Differences from Prometheus, all deliberate:
//! - the sample count header is 4 bytes, not 2, so no scrape interval or
//!   chunk length can overflow it;
//! - the delta-of-delta buckets are two's-complement ranges, and all
//!   timestamp arithmetic wraps, so any i64 sequence round-trips (even the
//!   non-increasing ones the caller promises not to send);
//! - the buffer grows by a quarter at a time instead of doubling, to bound
//!   the slack a head chunk carries per series.
//!
//! The append state (last timestamp, last delta, last value bits, XOR
//! window and the free bits of the last byte) lives next to the buffer so
//! that appending never re-reads the stream.

use super::bits::{write_bits, write_uvarint_bits, BitReader};
use super::varint::{unzigzag, zigzag};
use super::ChunkError;

/// Bytes of the big-endian sample count at the start of the stream.
const HEADER_LEN: usize = 4;
/// `leading` value meaning "no XOR window yet" (as in Prometheus).
const NO_WINDOW: u8 = 0xff;
/// Upper bound of bytes one append can add: the first sample is
/// header 4 + varint 10 + 8 bytes, the second a uvarint of 10 bytes + 77
/// bits, later ones at most 68 + 77 bits.
const MAX_APPEND_BYTES: usize = 24;
/// Smallest growth step of the buffer; must cover one append.
const MIN_GROW: usize = 32;

/// XorChunk is a Gorilla-encoded run of samples that can be appended to.
///
/// Size: a `Vec<u8>` plus 31 bytes of encoder state (56 bytes inline),
/// plus the buffer's heap capacity ([`XorChunk::mem_size`]).
#[derive(Clone, Debug)]
pub struct XorChunk {
    /// Header + bit stream; empty (no allocation) until the first append.
    buf: Vec<u8>,
    /// Last appended timestamp: base of the next delta.
    t: i64,
    /// Last timestamp delta (wrapping u64): base of the next delta-of-delta.
    delta: u64,
    /// Bits of the last appended value: base of the next XOR.
    v: u64,
    /// Leading zeros of the current XOR window, or [`NO_WINDOW`].
    leading: u8,
    /// Trailing zeros of the current XOR window.
    trailing: u8,
    /// Unused low bits of the last byte of `buf`.
    free: u8,
    /// Samples appended: the header's count, kept here too so an append
    /// does not have to read the start of the buffer (a cache miss per
    /// sample when thousands of series are appended to in turn).
    n: u32,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self::new()
    }
}

impl XorChunk {
    /// new returns an empty chunk; it allocates nothing until the first
    /// append.
    pub fn new() -> Self {
        XorChunk {
            buf: Vec::new(),
            t: 0,
            delta: 0,
            v: 0,
            leading: NO_WINDOW,
            trailing: 0,
            free: 0,
            n: 0,
        }
    }

    /// len is the number of samples in the chunk.
    #[inline]
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// is_empty reports whether no sample was appended.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// min_t is the first sample's timestamp.
    pub fn min_t(&self) -> Option<i64> {
        if self.is_empty() {
            return None;
        }
        let mut r = BitReader::new(&self.buf[HEADER_LEN..]);
        r.read_uvarint().map(unzigzag)
    }

    /// max_t is the last sample's timestamp.
    pub fn max_t(&self) -> Option<i64> {
        (!self.is_empty()).then_some(self.t)
    }

    /// last is the last sample appended.
    pub fn last(&self) -> Option<(i64, f64)> {
        (!self.is_empty()).then(|| (self.t, f64::from_bits(self.v)))
    }

    /// bytes is the encoded chunk: [`XorChunk::from_bytes`] restores it.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// mem_size is the heap memory held by the chunk (its buffer's
    /// capacity); add `size_of::<XorChunk>()` for the inline part.
    pub fn mem_size(&self) -> usize {
        self.buf.capacity()
    }

    /// shrink_to_fit drops the buffer's spare capacity, for chunks that
    /// will not be appended to for a while (the next append grows it again).
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// iter decodes the samples in order.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter {
            d: Decoder::new(self.buf.get(HEADER_LEN..).unwrap_or(&[])),
            remaining: self.len(),
        }
    }

    /// prefetch_tail asks the CPU to bring the end of the buffer, where the
    /// next append writes, into the cache (a hint, nothing else).
    #[inline]
    pub fn prefetch_tail(&self) {
        #[cfg(target_arch = "x86_64")]
        if let Some(last) = self.buf.last() {
            // SAFETY: a prefetch never faults and has no effect on memory;
            // the address is inside a live buffer anyway.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    last as *const u8 as *const i8,
                );
            }
        }
    }

    /// append adds a sample. The caller guarantees `t` is greater than the
    /// last appended timestamp; any `v` (NaN payloads, the stale marker,
    /// -0.0) is kept bit-exact.
    #[inline]
    pub fn append(&mut self, t: i64, v: f64) {
        let n = self.len();
        if self.buf.capacity() - self.buf.len() < MAX_APPEND_BYTES {
            // Grow by a quarter rather than doubling: a head chunk per
            // active series is the bulk of memory, and slack is waste.
            let add = (self.buf.len() / 4).max(MIN_GROW);
            self.buf.reserve_exact(add);
        }
        let vb = v.to_bits();
        match n {
            0 => {
                self.buf.extend_from_slice(&[0; HEADER_LEN]);
                write_uvarint_bits(&mut self.buf, &mut self.free, zigzag(t));
                write_bits(&mut self.buf, &mut self.free, vb, 64);
                self.v = vb;
            }
            1 => {
                let delta = t.wrapping_sub(self.t) as u64;
                write_uvarint_bits(&mut self.buf, &mut self.free, delta);
                self.delta = delta;
                self.write_value(vb);
            }
            _ => {
                let delta = t.wrapping_sub(self.t) as u64;
                let dod = delta.wrapping_sub(self.delta) as i64;
                self.write_dod(dod);
                self.delta = delta;
                self.write_value(vb);
            }
        }
        self.t = t;
        let count = u32::try_from(n + 1)
            .expect("BUG: XorChunk holds more than u32::MAX samples (over 1 GiB of stream)");
        // A store only: nothing waits for it, unlike the load it replaced.
        self.buf[..HEADER_LEN].copy_from_slice(&count.to_be_bytes());
        self.n = count;
    }

    #[inline]
    fn write_dod(&mut self, dod: i64) {
        let (buf, free) = (&mut self.buf, &mut self.free);
        let u = dod as u64;
        if dod == 0 {
            write_bits(buf, free, 0, 1);
        } else if fits(dod, 14) {
            write_bits(buf, free, (0b10 << 14) | (u & mask(14)), 16);
        } else if fits(dod, 17) {
            write_bits(buf, free, (0b110 << 17) | (u & mask(17)), 20);
        } else if fits(dod, 20) {
            write_bits(buf, free, (0b1110 << 20) | (u & mask(20)), 24);
        } else {
            write_bits(buf, free, 0b1111, 4);
            write_bits(buf, free, u, 64);
        }
    }

    #[inline]
    fn write_value(&mut self, vb: u64) {
        let x = vb ^ self.v;
        self.v = vb;
        let (buf, free) = (&mut self.buf, &mut self.free);
        if x == 0 {
            write_bits(buf, free, 0, 1);
            return;
        }
        // The leading-zero field is 5 bits wide, so at most 31 are recorded.
        let lz = x.leading_zeros().min(31);
        let tz = x.trailing_zeros();
        if self.leading != NO_WINDOW && lz >= self.leading as u32 && tz >= self.trailing as u32 {
            let sig = 64 - self.leading as u32 - self.trailing as u32;
            let payload = x >> self.trailing;
            if sig <= 62 {
                write_bits(buf, free, (0b10 << sig) | payload, 2 + sig);
            } else {
                write_bits(buf, free, 0b10, 2);
                write_bits(buf, free, payload, sig);
            }
        } else {
            let sig = 64 - lz - tz;
            // '11', 5 bits of leading zeros, 6 bits of length (64 as 0).
            let head = (0b11 << 11) | ((lz as u64) << 6) | (sig as u64 & 63);
            write_bits(buf, free, head, 13);
            write_bits(buf, free, x >> tz, sig);
            self.leading = lz as u8;
            self.trailing = tz as u8;
        }
    }

    /// from_bytes restores a chunk from [`XorChunk::bytes`], decoding it to
    /// rebuild the append state, so appending can continue. Bytes that are
    /// not exactly a chunk's encoding (truncated, trailing garbage, nonzero
    /// padding, impossible fields) are an error.
    pub fn from_bytes(b: &[u8]) -> Result<XorChunk, ChunkError> {
        let state = decode_checked(b, |_, _| {})?;
        let mut c = XorChunk::new();
        if let Some(s) = state {
            c.buf = b.to_vec();
            c.t = s.t;
            c.delta = s.delta;
            c.v = s.v;
            c.leading = s.leading;
            c.trailing = s.trailing;
            c.free = s.free;
            c.n = s.n;
        }
        Ok(c)
    }
}

/// fits reports whether `x` is representable in `n`-bit two's complement.
#[inline]
fn fits(x: i64, n: u32) -> bool {
    let lim = 1i64 << (n - 1);
    -lim <= x && x < lim
}

#[inline]
fn mask(n: u32) -> u64 {
    (1u64 << n) - 1
}

#[inline]
fn sign_extend(x: u64, n: u32) -> i64 {
    ((x << (64 - n)) as i64) >> (64 - n)
}

/// Decoder state after the last sample: what [`XorChunk::from_bytes`] needs
/// to continue appending.
pub(crate) struct EndState {
    t: i64,
    delta: u64,
    v: u64,
    leading: u8,
    trailing: u8,
    free: u8,
    n: u32,
}

/// decode_checked decodes a whole chunk from untrusted bytes, handing each
/// sample to `sink`, and returns the final state (`None` for an empty
/// chunk).
pub(crate) fn decode_checked(
    b: &[u8],
    mut sink: impl FnMut(i64, f64),
) -> Result<Option<EndState>, ChunkError> {
    if b.is_empty() {
        return Ok(None);
    }
    let h = b
        .get(..HEADER_LEN)
        .ok_or(ChunkError::Truncated("xor chunk header"))?;
    let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if n == 0 {
        // An empty chunk is encoded as no bytes at all.
        return Err(ChunkError::Corrupt("xor chunk header says 0 samples"));
    }
    let stream = &b[HEADER_LEN..];
    let mut d = Decoder::new(stream);
    for _ in 0..n {
        let (t, v) = d.next_sample();
        if d.r.overrun {
            return Err(ChunkError::Truncated("xor chunk stream"));
        }
        if d.corrupt {
            return Err(ChunkError::Corrupt("xor chunk stream"));
        }
        sink(t, v);
    }
    let bits = d.r.bits_read();
    if bits.div_ceil(8) != stream.len() {
        return Err(ChunkError::Corrupt(
            "xor chunk has bytes after its last sample",
        ));
    }
    let free = (stream.len() * 8 - bits) as u8;
    // Appending ORs into the last byte, so its padding must be zero.
    if free > 0 && stream[stream.len() - 1] & ((1u8 << free) - 1) != 0 {
        return Err(ChunkError::Corrupt("xor chunk padding bits are not zero"));
    }
    Ok(Some(EndState {
        t: d.t,
        delta: d.delta,
        v: d.v,
        leading: d.leading,
        trailing: d.trailing,
        free,
        n,
    }))
}

/// Decoder walks the bit stream after the header. It never fails: reading
/// past the end sets `r.overrun`, an impossible field sets `corrupt`, and
/// checked callers test both after each sample.
#[derive(Clone)]
struct Decoder<'a> {
    r: BitReader<'a>,
    /// Samples decoded so far (only 0, 1 and "more" matter).
    n: u32,
    t: i64,
    delta: u64,
    v: u64,
    leading: u8,
    trailing: u8,
    corrupt: bool,
}

impl<'a> Decoder<'a> {
    fn new(stream: &'a [u8]) -> Self {
        Decoder {
            r: BitReader::new(stream),
            n: 0,
            t: 0,
            delta: 0,
            v: 0,
            leading: NO_WINDOW,
            trailing: 0,
            corrupt: false,
        }
    }

    #[inline]
    fn next_sample(&mut self) -> (i64, f64) {
        match self.n {
            0 => {
                match self.r.read_uvarint() {
                    Some(u) => self.t = unzigzag(u),
                    None => self.corrupt = true,
                }
                self.v = self.r.read_bits(64);
            }
            1 => {
                match self.r.read_uvarint() {
                    Some(u) => self.delta = u,
                    None => self.corrupt = true,
                }
                self.t = self.t.wrapping_add(self.delta as i64);
                self.read_value();
            }
            _ => {
                let dod = self.read_dod();
                self.delta = self.delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.delta as i64);
                self.read_value();
            }
        }
        self.n = self.n.saturating_add(1);
        (self.t, f64::from_bits(self.v))
    }

    #[inline]
    fn read_dod(&mut self) -> i64 {
        let r = &mut self.r;
        if !r.read_bit() {
            0
        } else if !r.read_bit() {
            sign_extend(r.read_bits(14), 14)
        } else if !r.read_bit() {
            sign_extend(r.read_bits(17), 17)
        } else if !r.read_bit() {
            sign_extend(r.read_bits(20), 20)
        } else {
            r.read_bits(64) as i64
        }
    }

    #[inline]
    fn read_value(&mut self) {
        let r = &mut self.r;
        if !r.read_bit() {
            return;
        }
        if !r.read_bit() {
            if self.leading == NO_WINDOW {
                self.corrupt = true;
                return;
            }
            let sig = 64 - self.leading as u32 - self.trailing as u32;
            self.v ^= r.read_bits(sig) << self.trailing;
        } else {
            let head = r.read_bits(11);
            let lz = (head >> 6) as u32;
            let sig = match (head & 63) as u32 {
                0 => 64,
                s => s,
            };
            if lz + sig > 64 {
                self.corrupt = true;
                return;
            }
            let tz = 64 - lz - sig;
            self.v ^= r.read_bits(sig) << tz;
            self.leading = lz as u8;
            self.trailing = tz as u8;
        }
    }
}

/// XorIter yields the samples of an [`XorChunk`] in order.
#[derive(Clone)]
pub struct XorIter<'a> {
    d: Decoder<'a>,
    remaining: usize,
}

impl Iterator for XorIter<'_> {
    type Item = (i64, f64);

    #[inline]
    fn next(&mut self) -> Option<(i64, f64)> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        Some(self.d.next_sample())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for XorIter<'_> {}

impl<'a> IntoIterator for &'a XorChunk {
    type Item = (i64, f64);
    type IntoIter = XorIter<'a>;

    fn into_iter(self) -> XorIter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    fn build(samples: &[(i64, f64)]) -> XorChunk {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v);
        }
        c
    }

    /// Round-trips through iter() and from_bytes(), comparing bits.
    fn assert_round_trip(samples: &[(i64, f64)]) {
        let c = build(samples);
        assert_eq!(c.len(), samples.len());
        let got: Vec<(i64, u64)> = c.iter().map(|(t, v)| (t, v.to_bits())).collect();
        let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
        assert_eq!(got, want);
        assert_eq!(c.min_t(), samples.first().map(|s| s.0));
        assert_eq!(c.max_t(), samples.last().map(|s| s.0));
        assert_eq!(
            c.last().map(|(t, v)| (t, v.to_bits())),
            samples.last().map(|&(t, v)| (t, v.to_bits()))
        );
        let r = XorChunk::from_bytes(c.bytes()).expect("own bytes decode");
        assert_eq!(r.bytes(), c.bytes());
        assert_eq!(r.iter().count(), samples.len());
    }

    #[test]
    fn empty_chunk() {
        let c = XorChunk::new();
        assert!(c.is_empty());
        assert_eq!(c.len(), 0);
        assert_eq!(c.min_t(), None);
        assert_eq!(c.max_t(), None);
        assert!(c.last().is_none());
        assert_eq!(c.iter().next(), None);
        assert!(c.bytes().is_empty());
        assert_eq!(c.mem_size(), 0);
        let r = XorChunk::from_bytes(&[]).unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn one_and_two_samples() {
        assert_round_trip(&[(1_700_000_000_000, 1.5)]);
        assert_round_trip(&[(-5, -0.0)]);
        assert_round_trip(&[(1_700_000_000_000, 1.5), (1_700_000_015_000, 1.5)]);
        assert_round_trip(&[(0, 0.0), (1, f64::from_bits(STALE_NAN))]);
        let c = build(&[(10, 2.0)]);
        assert!(!c.is_empty());
        assert_eq!((c.min_t(), c.max_t()), (Some(10), Some(10)));
    }

    #[test]
    fn regular_scrapes_cost_two_bits() {
        let samples: Vec<(i64, f64)> = (0..1000).map(|i| (i * 15_000, 1.0)).collect();
        let c = build(&samples);
        // header 4 + t0 1 + v0 8 + delta 3 + 998 samples * 2 bits + 1 bit.
        assert!(
            c.bytes().len() <= 4 + 1 + 8 + 3 + 251,
            "{}",
            c.bytes().len()
        );
        assert_round_trip(&samples);
    }

    #[test]
    fn dod_bucket_edges() {
        // Delta-of-deltas at both edges of every bucket, and beyond.
        let mut dods = vec![0i64, 1, -1];
        for n in [14u32, 17, 20] {
            let lim = 1i64 << (n - 1);
            dods.extend([lim - 1, lim, -lim, -lim - 1]);
        }
        dods.extend([1 << 40, -(1 << 40)]);
        let mut t = 0i64;
        let mut delta = 1i64 << 41;
        let mut samples = vec![(t, 0.0)];
        for (i, d) in dods.iter().enumerate() {
            delta += d;
            t += delta;
            samples.push((t, i as f64));
        }
        assert_round_trip(&samples);
    }

    #[test]
    fn large_gaps_and_extreme_timestamps() {
        let year = 365 * 86_400_000i64;
        assert_round_trip(&[
            (-10 * year, 1.0),
            (-year, 2.0),
            (-1, 3.0),
            (0, 4.0),
            (50 * year, 5.0),
        ]);
        assert_round_trip(&[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
        assert_round_trip(&[(i64::MIN, 1.0), (0, 2.0), (i64::MAX, 3.0)]);
        assert_round_trip(&[
            (i64::MIN, 1.0),
            (i64::MIN + 1, 2.0),
            (i64::MAX - 1, 3.0),
            (i64::MAX, 4.0),
        ]);
    }

    #[test]
    fn special_floats_are_bit_exact() {
        let specials = [
            f64::NAN,
            f64::from_bits(STALE_NAN),
            f64::from_bits(0x7ff8_0000_0000_0001),
            f64::from_bits(0xfff0_0000_0000_0001),
            f64::from_bits(u64::MAX),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            0.0,
            f64::from_bits(1),
            f64::MIN_POSITIVE / 3.0,
            -f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
        ];
        let samples: Vec<(i64, f64)> = specials
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * 15_000, v))
            .collect();
        assert_round_trip(&samples);
        // And interleaved with ordinary values, so windows are reused.
        let mixed: Vec<(i64, f64)> = (0..200)
            .map(|i| {
                (
                    i * 1000,
                    if i % 7 == 0 {
                        specials[i as usize % specials.len()]
                    } else {
                        i as f64 * 0.5
                    },
                )
            })
            .collect();
        assert_round_trip(&mixed);
    }

    #[test]
    fn from_bytes_then_append_matches_uninterrupted() {
        let samples: Vec<(i64, f64)> = (0..300)
            .map(|i| (i * 15_000 + (i * i) % 7, ((i * 37) % 101) as f64 / 4.0))
            .collect();
        let whole = build(&samples);
        for cut in 0..samples.len() {
            let head = build(&samples[..cut]);
            let mut c = XorChunk::from_bytes(head.bytes()).unwrap();
            for &(t, v) in &samples[cut..] {
                c.append(t, v);
            }
            assert_eq!(c.bytes(), whole.bytes(), "cut at {cut}");
            assert_eq!(c.len(), samples.len());
        }
    }

    #[test]
    fn truncated_or_extended_bytes_are_errors() {
        let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 15_000, (i as f64).sqrt())).collect();
        let c = build(&samples);
        let b = c.bytes();
        for n in 1..b.len() {
            assert!(XorChunk::from_bytes(&b[..n]).is_err(), "truncated to {n}");
        }
        let mut longer = b.to_vec();
        longer.push(0);
        assert!(XorChunk::from_bytes(&longer).is_err());
        // A count of zero is not how an empty chunk is encoded.
        assert!(XorChunk::from_bytes(&[0, 0, 0, 0]).is_err());
        // A count far larger than the stream holds. (One more may decode:
        // the padding bits can spell a repeated sample.)
        let mut more = b.to_vec();
        more[2] = more[2].wrapping_add(1);
        assert!(XorChunk::from_bytes(&more).is_err());
    }

    #[test]
    fn nonzero_padding_is_an_error() {
        let c = build(&[(0, 1.0), (15_000, 2.0), (30_000, 2.0)]);
        let mut b = c.bytes().to_vec();
        assert_ne!(c.free, 0, "test needs a partial last byte");
        *b.last_mut().unwrap() |= 1;
        assert!(XorChunk::from_bytes(&b).is_err());
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let samples: Vec<(i64, f64)> = (0..64)
            .map(|i| (i * 15_000 + i % 3, (i as f64 * 1.1).sin()))
            .collect();
        let b = build(&samples).bytes().to_vec();
        for i in 0..b.len() {
            for bit in 0..8 {
                let mut m = b.clone();
                m[i] ^= 1 << bit;
                if let Ok(c) = XorChunk::from_bytes(&m) {
                    // Whatever it decodes to, it must be usable.
                    let n = c.iter().count();
                    assert_eq!(n, c.len());
                    let mut c = c;
                    c.append(i64::MAX, 1.0);
                }
            }
        }
    }

    #[test]
    fn memory_grows_in_small_steps() {
        let mut c = XorChunk::new();
        let mut max_slack = 0f64;
        for i in 0..2000 {
            c.append(i * 15_000, (i as f64 * 0.37).sin());
            let slack = (c.mem_size() - c.bytes().len()) as f64;
            if c.bytes().len() > 256 {
                max_slack = max_slack.max(slack / c.bytes().len() as f64);
            }
        }
        assert!(max_slack <= 0.3, "slack {max_slack}");
        c.shrink_to_fit();
        assert_eq!(c.mem_size(), c.bytes().len());
        assert!(std::mem::size_of::<XorChunk>() <= 56);
    }
}

#[cfg(test)]
mod proptests {
    use super::super::testutil::{bits, series};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips_bit_exact(s in series(600), cut in any::<prop::sample::Index>()) {
            let mut c = XorChunk::new();
            for &(t, v) in &s {
                c.append(t, v);
            }
            let got: Vec<(i64, f64)> = c.iter().collect();
            prop_assert_eq!(bits(&got), bits(&s));
            // Restoring at any point and appending the rest gives the same bytes.
            let k = cut.index(s.len() + 1);
            let mut head = XorChunk::new();
            for &(t, v) in &s[..k] {
                head.append(t, v);
            }
            let mut r = XorChunk::from_bytes(head.bytes()).unwrap();
            for &(t, v) in &s[k..] {
                r.append(t, v);
            }
            prop_assert_eq!(r.bytes(), c.bytes());
        }

        #[test]
        fn random_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(mut c) = XorChunk::from_bytes(&b) {
                prop_assert_eq!(c.iter().count(), c.len());
                c.append(i64::MAX, 0.0);
            }
            let mut h = (b.len() as u32 / 4).to_be_bytes().to_vec();
            h.extend_from_slice(&b);
            if let Ok(c) = XorChunk::from_bytes(&h) {
                prop_assert_eq!(c.iter().count(), c.len());
            }
        }
    }
}
