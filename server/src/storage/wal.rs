//! Write-ahead records: the bytes of one `wal` row (layout in FORMAT.md).
//! One record holds every sample of one acknowledged append, grouped by
//! series; replay feeds them back through the same head append path.

use super::index::SeriesId;
use super::varint::{get_f64, get_uvarint, get_varint, put_uvarint, put_varint};

/// Written since format 1.1; version 1 records (absolute timestamps,
/// absolute ids) are still read.
const VERSION: u8 = 2;
const VERSION_1: u8 = 1;

/// Why a record could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("corrupt write-ahead record: {0}")]
pub struct WalError(&'static str);

/// [`encode_into`] a fresh buffer.
#[cfg(test)]
pub fn encode<'a>(groups: impl ExactSizeIterator<Item = (SeriesId, &'a [(i64, f64)])>) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, groups);
    out
}

/// Encodes one record from (series, samples) groups into `out` (cleared
/// first; callers keep it between records); samples of a group are
/// in increasing time order.
///
/// Timestamps are written against the record's first one and series ids
/// against the previous group's: a batch of scrapes holds a few distinct
/// times and runs of consecutive ids, so both take a byte or two instead of
/// six and three. The values stay raw (eight bytes): without the series'
/// previous value a record cannot compress them.
pub fn encode_into<'a>(
    out: &mut Vec<u8>,
    groups: impl ExactSizeIterator<Item = (SeriesId, &'a [(i64, f64)])>,
) {
    out.clear();
    // Typically one sample per series: id, count, timestamp, value.
    out.reserve(16 + groups.len() * 13);
    out.push(VERSION);
    let mut groups = groups.peekable();
    let base = groups
        .peek()
        .and_then(|(_, s)| s.first())
        .map_or(0, |&(t, _)| t);
    put_varint(out, base);
    put_uvarint(out, groups.len() as u64);
    let mut prev_id = 0u64;
    for (id, samples) in groups {
        put_varint(out, id.wrapping_sub(prev_id) as i64);
        prev_id = id;
        put_uvarint(out, samples.len() as u64);
        let mut prev = base;
        for &(t, v) in samples {
            put_varint(out, t.wrapping_sub(prev));
            out.extend_from_slice(&v.to_bits().to_le_bytes());
            prev = t;
        }
    }
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
    // Version 1 has no base and absolute ids: the same walk with a zero
    // base and no id deltas.
    let v1 = match version {
        VERSION => false,
        VERSION_1 => true,
        _ => return Err(WalError("unknown record version")),
    };
    let base = if v1 {
        0
    } else {
        get_varint(&mut b).ok_or(WalError("truncated base timestamp"))?
    };
    let groups = get_uvarint(&mut b).ok_or(WalError("truncated group count"))?;
    let mut id = 0u64;
    for _ in 0..groups {
        id = if v1 {
            get_uvarint(&mut b).ok_or(WalError("truncated series id"))?
        } else {
            let d = get_varint(&mut b).ok_or(WalError("truncated series id"))?;
            id.wrapping_add(d as u64)
        };
        let n = get_uvarint(&mut b).ok_or(WalError("truncated sample count"))?;
        let mut t = base;
        for _ in 0..n {
            let d = get_varint(&mut b).ok_or(WalError("truncated timestamp"))?;
            t = t.wrapping_add(d);
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
    fn a_reused_buffer_holds_only_the_new_record() {
        let big = [(10, 1.0), (20, 2.0), (30, 3.0)];
        let small = [(40, 4.0)];
        let mut buf = Vec::new();
        encode_into(&mut buf, [(1u64, &big[..]), (2, &big[..])].into_iter());
        encode_into(&mut buf, [(3u64, &small[..])].into_iter());
        assert_eq!(buf, encode([(3u64, &small[..])].into_iter()));
        let mut got = Vec::new();
        decode(&buf, |id, t, v| got.push((id, t, v))).unwrap();
        assert_eq!(got, vec![(3, 40, 4.0)]);
    }

    #[test]
    fn round_trip_keeps_bits() {
        let stale = f64::from_bits(0x7ff0000000000002);
        let a = [
            (i64::MIN + 1, 1.5),
            (-5, stale),
            (i64::MAX, f64::NEG_INFINITY),
        ];
        let b = [(1000, -0.0)];
        let rec = encode(
            [
                (7u64, &a[..]),
                (9u64, &b[..]),
                (u64::MAX, &b[..]),
                (1, &a[..]),
            ]
            .into_iter(),
        );
        let mut got = Vec::new();
        decode(&rec, |id, t, v| got.push((id, t, v.to_bits()))).unwrap();
        let want: Vec<_> = a
            .iter()
            .map(|&(t, v)| (7, t, v.to_bits()))
            .chain(b.iter().map(|&(t, v)| (9, t, v.to_bits())))
            .chain(b.iter().map(|&(t, v)| (u64::MAX, t, v.to_bits())))
            .chain(a.iter().map(|&(t, v)| (1, t, v.to_bits())))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn records_are_compact() {
        // One scrape-like batch: consecutive ids, one timestamp.
        let one: Vec<[(i64, f64); 1]> =
            (0..1000).map(|i| [(1_764_716_400_000, i as f64)]).collect();
        let rec = encode((0..1000).map(|i| (5000 + i as u64, &one[i][..])));
        // id delta, count and time delta: a byte each, then the value.
        assert!(rec.len() <= 1000 * 11 + 16, "{} bytes", rec.len());
        let mut got = Vec::new();
        decode(&rec, |id, t, v| got.push((id, t, v))).unwrap();
        assert_eq!(got.len(), 1000);
        assert_eq!(got[999], (5999, 1_764_716_400_000, 999.0));
    }

    /// A record as format 1.0 wrote it: absolute ids and timestamps.
    fn encode_v1(groups: &[(u64, &[(i64, f64)])]) -> Vec<u8> {
        let mut out = vec![VERSION_1];
        put_uvarint(&mut out, groups.len() as u64);
        for &(id, samples) in groups {
            put_uvarint(&mut out, id);
            put_uvarint(&mut out, samples.len() as u64);
            let mut prev = 0i64;
            for (i, &(t, v)) in samples.iter().enumerate() {
                put_varint(&mut out, if i == 0 { t } else { t - prev });
                out.extend_from_slice(&v.to_bits().to_le_bytes());
                prev = t;
            }
        }
        out
    }

    #[test]
    fn version_1_records_are_still_read() {
        let a = [(1000, 1.5), (2000, 2.5)];
        let b = [(-7, -1.0)];
        let rec = encode_v1(&[(9, &a), (3, &b)]);
        let mut got = Vec::new();
        decode(&rec, |id, t, v| got.push((id, t, v))).unwrap();
        assert_eq!(got, vec![(9, 1000, 1.5), (9, 2000, 2.5), (3, -7, -1.0)]);
        let mut bad = rec.clone();
        bad[0] = 3;
        assert!(decode(&bad, |_, _, _| {}).is_err());
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
