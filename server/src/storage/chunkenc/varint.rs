//! Byte-aligned integer helpers shared by the codecs: LEB128 varints (the
//! encoding Go's `binary.PutUvarint` uses, so the XOR head chunk reads like
//! Prometheus's), zigzag, and [`ByteReader`], a cursor over untrusted bytes
//! whose every read is checked.

use super::ChunkError;

/// Longest LEB128 encoding of a u64.
pub(crate) const MAX_VARINT_LEN: usize = 10;

/// zigzag maps signed to unsigned so that small magnitudes stay small.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
pub(crate) fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

#[inline]
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// Encoded length of `v` as a uvarint.
#[inline]
pub(crate) fn uvarint_len(v: u64) -> usize {
    // 1 byte per started group of 7 significant bits, at least one.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// ByteReader walks untrusted bytes; every read is bounds-checked and
/// reports what was being read when the input ran out.
pub(crate) struct ByteReader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        ByteReader { b, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.b.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.b.len()
    }

    /// Skips `n` bytes (after a bit-level section decoded elsewhere).
    pub(crate) fn advance(&mut self, n: usize, what: &'static str) -> Result<(), ChunkError> {
        self.bytes(n, what).map(|_| ())
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, ChunkError> {
        let v = *self.b.get(self.pos).ok_or(ChunkError::Truncated(what))?;
        self.pos += 1;
        Ok(v)
    }

    pub(crate) fn u64_le(&mut self, what: &'static str) -> Result<u64, ChunkError> {
        let s = self
            .b
            .get(self.pos..self.pos + 8)
            .ok_or(ChunkError::Truncated(what))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        self.pos += 8;
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ChunkError> {
        let end = self.pos.checked_add(n).ok_or(ChunkError::Truncated(what))?;
        let s = self
            .b
            .get(self.pos..end)
            .ok_or(ChunkError::Truncated(what))?;
        self.pos = end;
        Ok(s)
    }

    #[inline]
    pub(crate) fn uvarint(&mut self, what: &'static str) -> Result<u64, ChunkError> {
        // Fast path: a one-byte varint, by far the most common in our streams.
        if let Some(&b) = self.b.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(b as u64);
            }
        }
        let mut v = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let b = self.u8(what)?;
            if i == MAX_VARINT_LEN - 1 && b > 1 {
                return Err(ChunkError::Corrupt("varint overflows 64 bits"));
            }
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(ChunkError::Corrupt("varint longer than 10 bytes"))
    }

    #[inline]
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<i64, ChunkError> {
        Ok(unzigzag(self.uvarint(what)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_and_len() {
        let vals = [
            0u64,
            1,
            127,
            128,
            300,
            16383,
            16384,
            u32::MAX as u64,
            u64::MAX >> 1,
            u64::MAX,
        ];
        for &v in &vals {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            assert_eq!(b.len(), uvarint_len(v), "len of {v}");
            let mut r = ByteReader::new(&b);
            assert_eq!(r.uvarint("t").unwrap(), v);
            assert!(r.is_empty());
        }
        for &v in &[0i64, -1, 1, i64::MIN, i64::MAX, -64, 64] {
            assert_eq!(unzigzag(zigzag(v)), v);
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(ByteReader::new(&b).varint("t").unwrap(), v);
        }
    }

    #[test]
    fn varint_rejects_overflow_and_truncation() {
        assert!(ByteReader::new(&[0x80]).uvarint("t").is_err());
        assert!(ByteReader::new(&[0xff; 10]).uvarint("t").is_err());
        assert!(ByteReader::new(&[0xff; 11]).uvarint("t").is_err());
        assert!(ByteReader::new(&[]).u64_le("t").is_err());
        assert!(ByteReader::new(&[1, 2]).bytes(usize::MAX, "t").is_err());
    }
}
