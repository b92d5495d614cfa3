//! `Labels`: the identity of a series — a set of (name, value) pairs sorted by
//! name, `__name__` included — plus its canonical byte encoding (the `labels`
//! column of the `series` table, see FORMAT.md) and the validity rules every
//! write path applies before a label set reaches storage.

use std::fmt;

use super::varint;

/// The label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";

/// A label set, sorted by name, no duplicate names, no empty values.
///
/// Stored as one `String` holding every name and value back to back plus the
/// offsets of each: one heap allocation per series instead of two per label,
/// which matters because the index keeps one `Labels` per active series.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Labels {
    /// All names and values concatenated: name0 value0 name1 value1 …
    buf: Box<str>,
    /// End offset in `buf` of each name and value, in the order above.
    ends: Box<[u32]>,
}

/// Why a label set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    #[error("label set has no metric name (__name__)")]
    MissingName,
    #[error("empty label name")]
    EmptyName,
    #[error("duplicate label name {0:?}")]
    Duplicate(String),
    #[error("labels are not sorted by name ({0:?} after {1:?})")]
    Unsorted(String, String),
    #[error("label set is too large")]
    TooLarge,
}

impl Labels {
    /// Builds a label set from pairs that must already be sorted by name and
    /// free of duplicates (what remote write requires of senders). Pairs with
    /// an empty value are dropped: in Prometheus an empty value is the same as
    /// an absent label.
    pub fn from_sorted<N: AsRef<str>, V: AsRef<str>, I>(pairs: I) -> Result<Labels, LabelsError>
    where
        I: IntoIterator<Item = (N, V)>,
        I::IntoIter: Clone,
    {
        let pairs = pairs.into_iter();
        // Size both buffers exactly first: this runs once per series of
        // every remote-write request, and growing them cost more than the
        // rest of label handling.
        let (mut bytes, mut count) = (0usize, 0usize);
        for (n, v) in pairs.clone() {
            bytes += n.as_ref().len() + v.as_ref().len();
            count += 2;
        }
        let mut buf = String::with_capacity(bytes);
        let mut ends: Vec<u32> = Vec::with_capacity(count);
        // The previous input name, for the order check. Usually it is the
        // last name in `buf`; after a dropped empty-valued label it is kept
        // in `skipped` instead.
        let mut skipped = String::new();
        let mut prev_in_buf: Option<(usize, usize)> = None;
        let mut prev_skipped = false;
        let mut has_name = false;
        for (n, v) in pairs {
            let (n, v) = (n.as_ref(), v.as_ref());
            if n.is_empty() {
                return Err(LabelsError::EmptyName);
            }
            let prev = if prev_skipped {
                Some(skipped.as_str())
            } else {
                prev_in_buf.map(|(s, e)| &buf[s..e])
            };
            if let Some(prev) = prev {
                match prev.cmp(n) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => return Err(LabelsError::Duplicate(n.into())),
                    std::cmp::Ordering::Greater => {
                        return Err(LabelsError::Unsorted(n.into(), prev.into()))
                    }
                }
            }
            if v.is_empty() {
                skipped.clear();
                skipped.push_str(n);
                prev_skipped = true;
                continue;
            }
            prev_skipped = false;
            if n == METRIC_NAME {
                has_name = true;
            }
            let start = buf.len();
            buf.push_str(n);
            prev_in_buf = Some((start, buf.len()));
            ends.push(u32::try_from(buf.len()).map_err(|_| LabelsError::TooLarge)?);
            buf.push_str(v);
            ends.push(u32::try_from(buf.len()).map_err(|_| LabelsError::TooLarge)?);
        }
        if !has_name {
            return Err(LabelsError::MissingName);
        }
        Ok(Labels {
            buf: buf.into_boxed_str(),
            ends: ends.into_boxed_slice(),
        })
    }

    /// Builds a label set from pairs in any order (sorting them first).
    /// Duplicate names are still an error.
    pub fn from_unsorted(mut pairs: Vec<(String, String)>) -> Result<Labels, LabelsError> {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Labels::from_sorted(pairs)
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    /// True for the empty set (never produced by the constructors, which
    /// require `__name__`; exists for API completeness).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        (0..self.len()).map(move |i| {
            let start = if i == 0 {
                0
            } else {
                self.ends[2 * i - 1] as usize
            };
            let mid = self.ends[2 * i] as usize;
            let end = self.ends[2 * i + 1] as usize;
            (&self.buf[start..mid], &self.buf[mid..end])
        })
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The metric name (`__name__`).
    pub fn metric_name(&self) -> &str {
        self.get(METRIC_NAME).unwrap_or("")
    }

    /// Heap bytes held, for memory accounting.
    pub fn mem_size(&self) -> usize {
        self.buf.len() + self.ends.len() * 4
    }

    /// The canonical encoding stored in the `series` table.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buf.len() + 2 * self.len() + 2);
        varint::put_uvarint(&mut out, self.len() as u64);
        for (n, v) in self.iter() {
            varint::put_uvarint(&mut out, n.len() as u64);
            out.extend_from_slice(n.as_bytes());
            varint::put_uvarint(&mut out, v.len() as u64);
            out.extend_from_slice(v.as_bytes());
        }
        out
    }

    /// Decodes [`Labels::encode`]'s output.
    pub fn decode(mut b: &[u8]) -> Result<Labels, String> {
        let count = varint::get_uvarint(&mut b).ok_or("truncated label count")?;
        let mut pairs = Vec::with_capacity(count.min(1024) as usize);
        for _ in 0..count {
            let n = take_str(&mut b)?;
            let v = take_str(&mut b)?;
            pairs.push((n, v));
        }
        if !b.is_empty() {
            return Err("trailing bytes after label set".into());
        }
        Labels::from_sorted(pairs).map_err(|e| e.to_string())
    }
}

fn take_str<'a>(b: &mut &'a [u8]) -> Result<&'a str, String> {
    let len = varint::get_uvarint(b).ok_or("truncated label length")? as usize;
    if len > b.len() {
        return Err("label length past end of record".into());
    }
    let (s, rest) = b.split_at(len);
    *b = rest;
    std::str::from_utf8(s).map_err(|_| "label is not UTF-8".to_string())
}

/// Prometheus's order: pair by pair, name then value (not the order of the
/// concatenated buffer, which would put `{a="b", c=…}` after `{a="bz"}`).
impl Ord for Labels {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Labels {
    /// Prometheus's notation: `name{a="b", c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric_name())?;
        f.write_str("{")?;
        let mut first = true;
        for (n, v) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_accessors() {
        let l =
            Labels::from_sorted([("__name__", "up"), ("instance", "a:1"), ("job", "n")]).unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l.get("job"), Some("n"));
        assert_eq!(l.metric_name(), "up");
        assert_eq!(Labels::decode(&l.encode()).unwrap(), l);
        assert_eq!(l.to_string(), r#"up{instance="a:1", job="n"}"#);
    }

    #[test]
    fn rejects_bad_sets() {
        assert_eq!(
            Labels::from_sorted([("__name__", "x"), ("", "v")]),
            Err(LabelsError::EmptyName)
        );
        assert_eq!(
            Labels::from_sorted([("__name__", "x"), ("a", "1"), ("a", "2")]),
            Err(LabelsError::Duplicate("a".into()))
        );
        assert!(matches!(
            Labels::from_sorted([("__name__", "x"), ("b", "1"), ("a", "2")]),
            Err(LabelsError::Unsorted(..))
        ));
        assert_eq!(
            Labels::from_sorted([("job", "x")]),
            Err(LabelsError::MissingName)
        );
        assert!(Labels::decode(&[5, 1]).is_err());
    }

    #[test]
    fn orders_pair_by_pair() {
        let a = Labels::from_sorted([("__name__", "a"), ("job", "x")]).unwrap();
        let ab = Labels::from_sorted([("__name__", "ab"), ("job", "x")]).unwrap();
        assert!(a < ab);
    }

    #[test]
    fn empty_values_are_absent_labels() {
        let l = Labels::from_sorted([("__name__", "x"), ("a", ""), ("b", "1")]).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("a"), None);
    }
}
