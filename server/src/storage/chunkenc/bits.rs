//! Bit-level I/O for the Gorilla stream, most significant bit first.
//!
//! The writer is a free function over the chunk's own `Vec<u8>` plus a
//! count of unused bits in its last byte, rather than a struct holding
//! both, so that [`super::XorChunk`] stays a `Vec` and a few small fields.
//! [`BitReader`] keeps up to 64 unread bits in a register and refills it
//! eight bytes at a time; reads past the end yield zero bits and set
//! [`BitReader::overrun`] instead of failing, which keeps the hot loop free
//! of error plumbing while checked decoders test the flag once per sample.

/// Appends the low `n` bits of `v` (`n <= 64`) to `buf`, most significant
/// first. `free` is the number of unused low bits in the last byte of `buf`
/// (0 when `buf` is empty or its last byte is full) and is updated.
#[inline]
pub(crate) fn write_bits(buf: &mut Vec<u8>, free: &mut u8, v: u64, mut n: u32) {
    debug_assert!(n <= 64);
    if *free > 0 && n > 0 {
        let k = (*free as u32).min(n);
        // n - k <= 63 since k >= 1; k <= 7 so the mask is in range.
        let bits = (v >> (n - k)) & ((1u64 << k) - 1);
        if let Some(last) = buf.last_mut() {
            *last |= (bits << (*free as u32 - k)) as u8;
        }
        *free -= k as u8;
        n -= k;
    }
    while n >= 8 {
        n -= 8;
        buf.push((v >> n) as u8);
    }
    if n > 0 {
        // The low n bits of v go to the top of a fresh byte; `as u8` drops
        // the higher bits that were already written.
        buf.push((v << (8 - n)) as u8);
        *free = (8 - n) as u8;
    }
}

/// Appends `v` as a LEB128 uvarint, 8 bits per group, at the current
/// (possibly unaligned) bit position.
#[inline]
pub(crate) fn write_uvarint_bits(buf: &mut Vec<u8>, free: &mut u8, mut v: u64) {
    while v >= 0x80 {
        write_bits(buf, free, (v as u8 | 0x80) as u64, 8);
        v >>= 7;
    }
    write_bits(buf, free, v, 8);
}

/// BitReader reads a big-endian bit stream from untrusted bytes.
#[derive(Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` not yet counted in `avail`.
    pos: usize,
    /// Unread bits, MSB-aligned. Bits below `avail` may already hold the
    /// start of byte `pos` (loaded early by the 8-byte refill); they are
    /// exactly the bits a later refill ORs in again, so that is harmless.
    acc: u64,
    /// Number of valid bits at the top of `acc`.
    avail: u32,
    /// Set when a read needed bits past the end of `data`.
    pub(crate) overrun: bool,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            acc: 0,
            avail: 0,
            overrun: false,
        }
    }

    /// Bits consumed so far (meaningful when not overrun).
    pub(crate) fn bits_read(&self) -> usize {
        (self.pos * 8).saturating_sub(self.avail as usize)
    }

    /// Tops `acc` up to at least 57 bits, or to the end of the data.
    /// Requires `avail <= 56`.
    #[inline]
    fn refill(&mut self) {
        if let Some(s) = self.data.get(self.pos..self.pos + 8) {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            self.acc |= u64::from_be_bytes(a) >> self.avail;
            let k = (63 - self.avail) >> 3;
            self.pos += k as usize;
            self.avail += k * 8;
        } else {
            while self.avail <= 56 {
                match self.data.get(self.pos) {
                    Some(&b) => {
                        self.acc |= (b as u64) << (56 - self.avail);
                        self.pos += 1;
                        self.avail += 8;
                    }
                    None => break,
                }
            }
        }
    }

    /// Reads `n` bits (`n <= 64`) as the low bits of the result.
    #[inline]
    pub(crate) fn read_bits(&mut self, n: u32) -> u64 {
        if n > 56 {
            let hi = self.read_bits(n - 32);
            let lo = self.read_bits(32);
            return (hi << 32) | lo;
        }
        if n == 0 {
            return 0;
        }
        if self.avail < n {
            self.refill();
            if self.avail < n {
                // Past the end: acc is zero-filled below the real bits.
                self.overrun = true;
                self.avail = n;
            }
        }
        let v = self.acc >> (64 - n);
        self.acc <<= n;
        self.avail -= n;
        v
    }

    #[inline]
    pub(crate) fn read_bit(&mut self) -> bool {
        self.read_bits(1) != 0
    }

    /// Reads a unary count: up to 31 zero bits ended by a one bit (both
    /// consumed). Returns 32, with only the 32 zeros consumed, when no one
    /// bit comes within 32 bits: the Rice escape.
    #[inline]
    pub(crate) fn read_unary32(&mut self) -> u32 {
        if self.avail < 33 {
            self.refill();
        }
        let lz = self.acc.leading_zeros().min(32);
        let need = if lz == 32 { 32 } else { lz + 1 };
        if need > self.avail {
            self.overrun = true;
            self.acc = 0;
            self.avail = 0;
            return 0;
        }
        self.acc <<= need;
        self.avail -= need;
        lz
    }

    /// Reads a LEB128 uvarint written by [`write_uvarint_bits`]. Returns
    /// `None` for an encoding longer than 10 groups.
    #[inline]
    pub(crate) fn read_uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.read_bits(8);
            v |= (b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip() {
        let fields: Vec<(u64, u32)> = (0..500u64)
            .map(|i| {
                let n = (i * 7 % 65) as u32;
                let v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let v = if n == 64 { v } else { v & ((1u64 << n) - 1) };
                (v, n)
            })
            .collect();
        let mut buf = Vec::new();
        let mut free = 0u8;
        let mut total = 0usize;
        for &(v, n) in &fields {
            write_bits(&mut buf, &mut free, v, n);
            total += n as usize;
            assert_eq!(buf.len() * 8 - free as usize, total);
        }
        write_uvarint_bits(&mut buf, &mut free, 300);
        let mut r = BitReader::new(&buf);
        for &(v, n) in &fields {
            assert_eq!(r.read_bits(n), v, "width {n}");
        }
        assert_eq!(r.read_uvarint(), Some(300));
        assert!(!r.overrun);
        assert_eq!(r.bits_read(), total + 16);
        r.read_bits(free as u32);
        assert!(!r.overrun);
        r.read_bits(1);
        assert!(r.overrun);
    }
}
