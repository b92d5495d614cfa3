//! Write-ahead records: the bytes of one `wal` row (layout in FORMAT.md).
//! One record holds every sample of one acknowledged append, grouped by
//! series; replay feeds them back through the same head append path.

use super::index::SeriesId;
use super::varint::{get_f64, get_uvarint, get_varint, put_uvarint, put_varint};

const VERSION: u8 = 1;

/// Why a record could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("corrupt write-ahead record: {0}")]
pub struct WalError(&'static str);

/// Encodes one record from (series, samples) groups; samples of a group are
/// in increasing time order.
pub fn encode<'a>(groups: impl ExactSizeIterator<Item = (SeriesId, &'a [(i64, f64)])>) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    put_uvarint(&mut out, groups.len() as u64);
    for (id, samples) in groups {
        put_uvarint(&mut out, id);
        put_uvarint(&mut out, samples.len() as u64);
        let mut prev = 0i64;
        for (i, &(t, v)) in samples.iter().enumerate() {
            put_varint(&mut out, if i == 0 { t } else { t.wrapping_sub(prev) });
            out.extend_from_slice(&v.to_bits().to_le_bytes());
            prev = t;
        }
    }
    out
}

/// Decodes a record, calling `f(series, t, v)` for each sample in order.
/// The whole record is validated before the first call, so a corrupt record
/// delivers nothing rather than a prefix.
pub fn decode(b: &[u8], mut f: impl FnMut(SeriesId, i64, f64)) -> Result<(), WalError> {
    walk(b, |_, _, _| {})?;
    walk(b, &mut f)
}

fn walk(b: &[u8], mut f: impl FnMut(SeriesId, i64, f64)) -> Result<(), WalError> {
    let (&version, mut b) = b.split_first().ok_or(WalError("empty record"))?;
    if version != VERSION {
        return Err(WalError("unknown record version"));
    }
    let groups = get_uvarint(&mut b).ok_or(WalError("truncated group count"))?;
    for _ in 0..groups {
        let id = get_uvarint(&mut b).ok_or(WalError("truncated series id"))?;
        let n = get_uvarint(&mut b).ok_or(WalError("truncated sample count"))?;
        let mut t = 0i64;
        for i in 0..n {
            let d = get_varint(&mut b).ok_or(WalError("truncated timestamp"))?;
            t = if i == 0 { d } else { t.wrapping_add(d) };
            let v = get_f64(&mut b).ok_or(WalError("truncated value"))?;
            f(id, t, v);
        }
    }
    if !b.is_empty() {
        return Err(WalError("trailing bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_bits() {
        let stale = f64::from_bits(0x7ff0000000000002);
        let a = [
            (i64::MIN + 1, 1.5),
            (-5, stale),
            (i64::MAX, f64::NEG_INFINITY),
        ];
        let b = [(1000, -0.0)];
        let rec = encode([(7u64, &a[..]), (9u64, &b[..])].into_iter());
        let mut got = Vec::new();
        decode(&rec, |id, t, v| got.push((id, t, v.to_bits()))).unwrap();
        let want: Vec<_> = a
            .iter()
            .map(|&(t, v)| (7, t, v.to_bits()))
            .chain(b.iter().map(|&(t, v)| (9, t, v.to_bits())))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn corrupt_records_deliver_nothing() {
        let a = [(1, 1.0), (2, 2.0)];
        let rec = encode([(1u64, &a[..])].into_iter());
        for cut in 0..rec.len() {
            let mut n = 0;
            assert!(decode(&rec[..cut], |_, _, _| n += 1).is_err());
            assert_eq!(n, 0);
        }
        let mut long = rec.clone();
        long.push(0);
        assert!(decode(&long, |_, _, _| {}).is_err());
    }
}
