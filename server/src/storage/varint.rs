//! LEB128 varints (protobuf's encoding) used by the write-ahead records and
//! the label encoding. See FORMAT.md "Conventions".

/// Appends `v` as an unsigned LEB128 varint.
#[inline]
pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads an unsigned varint from the front of `b`, advancing it. `None` when
/// the input ends inside the varint or it is longer than 10 bytes.
#[inline]
pub fn get_uvarint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            *b = &b[i + 1..];
            return Some(v);
        }
    }
    None
}

/// Reads a zigzag varint.
#[inline]
pub fn get_varint(b: &mut &[u8]) -> Option<i64> {
    let u = get_uvarint(b)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

/// Reads 8 little-endian bytes as f64 bits.
#[inline]
pub fn get_f64(b: &mut &[u8]) -> Option<f64> {
    let (head, rest) = b.split_first_chunk::<8>()?;
    *b = rest;
    Some(f64::from_bits(u64::from_le_bytes(*head)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for v in [0i64, 1, -1, 63, -64, 1 << 40, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let mut b = out.as_slice();
            assert_eq!(get_varint(&mut b), Some(v));
            assert!(b.is_empty());
        }
        assert_eq!(get_uvarint(&mut &[0x80u8][..]), None);
        assert_eq!(get_f64(&mut &[1u8, 2][..]), None);
    }
}
