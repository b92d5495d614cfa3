//! `Labels`: the identity of a series — a set of (name, value) pairs sorted by
//! name, `__name__` included — plus its canonical byte encoding (the `labels`
//! column of the `series` table, see FORMAT.md) and the validity rules every
//! write path applies before a label set reaches storage.

use std::fmt;
use std::sync::Arc;

use super::varint;

/// The label that carries the metric name.
pub const METRIC_NAME: &str = "__name__";

/// A label set, sorted by name, no duplicate names, no empty values.
///
/// One shared, immutable allocation holds everything, laid out as
/// `count: u32`, then `2 × count` end offsets (`u32`) into the string area,
/// then the string area (name0 value0 name1 value1 …). Cloning is a
/// reference-count increment, and a hash-map probe that compares two label
/// sets touches one cache line run instead of chasing a pointer per field:
/// the index probes one per appended series, so that matters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Labels {
    data: Arc<[u8]>,
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
    #[error("label name or value is not valid UTF-8")]
    InvalidUtf8,
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
        Labels::build(pairs, true)
    }

    /// Like [`Labels::from_sorted`] without requiring a metric name: query
    /// results (`sum by (job)`, `rate(x[5m])`) have none.
    pub fn from_sorted_any<N: AsRef<str>, V: AsRef<str>, I>(pairs: I) -> Result<Labels, LabelsError>
    where
        I: IntoIterator<Item = (N, V)>,
        I::IntoIter: Clone,
    {
        Labels::build(pairs, false)
    }

    fn build<N: AsRef<str>, V: AsRef<str>, I>(
        pairs: I,
        need_name: bool,
    ) -> Result<Labels, LabelsError>
    where
        I: IntoIterator<Item = (N, V)>,
        I::IntoIter: Clone,
    {
        let pairs = pairs.into_iter();
        // Size the allocation exactly first: this runs once per series of
        // every remote-write request.
        let (mut bytes, mut count) = (0usize, 0usize);
        for (n, v) in pairs.clone() {
            if !v.as_ref().is_empty() {
                bytes += n.as_ref().len() + v.as_ref().len();
                count += 1;
            }
        }
        let header = 4 + 8 * count;
        if header + bytes > u32::MAX as usize {
            return Err(LabelsError::TooLarge);
        }
        let mut data: Vec<u8> = Vec::with_capacity(header + bytes);
        data.extend_from_slice(&(count as u32).to_le_bytes());
        data.resize(header, 0);
        // The previous input name, for the order check: the last name in
        // `data`, or one whose empty value was dropped (kept in `skipped`).
        let mut skipped = String::new();
        let mut prev_in_data: Option<(usize, usize)> = None;
        let mut prev_skipped = false;
        let mut has_name = false;
        let mut k = 0usize;
        for (n, v) in pairs {
            let (n, v) = (n.as_ref(), v.as_ref());
            if n.is_empty() {
                return Err(LabelsError::EmptyName);
            }
            let prev = if prev_skipped {
                Some(skipped.as_bytes())
            } else {
                prev_in_data.map(|(s, e)| &data[s..e])
            };
            if let Some(prev) = prev {
                match prev.cmp(n.as_bytes()) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => return Err(LabelsError::Duplicate(n.into())),
                    std::cmp::Ordering::Greater => {
                        return Err(LabelsError::Unsorted(
                            n.into(),
                            String::from_utf8_lossy(prev).into_owned(),
                        ))
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
            let start = data.len();
            data.extend_from_slice(n.as_bytes());
            prev_in_data = Some((start, data.len()));
            let name_end = (data.len() - header) as u32;
            data.extend_from_slice(v.as_bytes());
            let value_end = (data.len() - header) as u32;
            data[4 + 8 * k..8 + 8 * k].copy_from_slice(&name_end.to_le_bytes());
            data[8 + 8 * k..12 + 8 * k].copy_from_slice(&value_end.to_le_bytes());
            k += 1;
        }
        if need_name && !has_name {
            return Err(LabelsError::MissingName);
        }
        Ok(Labels { data: data.into() })
    }

    /// Builds a label set from pairs in any order (sorting them first).
    /// Duplicate names are still an error.
    pub fn from_unsorted(mut pairs: Vec<(String, String)>) -> Result<Labels, LabelsError> {
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        Labels::from_sorted(pairs)
    }

    /// These labels without label `name`.
    pub fn without(&self, name: &str) -> Labels {
        if self.get(name).is_none() {
            return self.clone();
        }
        self.filtered(|n, _| n != name)
    }

    /// The labels for which `keep` is true.
    pub fn filtered(&self, keep: impl Fn(&str, &str) -> bool) -> Labels {
        let pairs: Vec<(&str, &str)> = self.iter().filter(|(n, v)| keep(n, v)).collect();
        Labels::from_sorted_any(pairs).expect("a subset of valid labels is valid")
    }

    /// These labels with `name` set to `value` (removed when `value` is
    /// empty, as Prometheus treats an empty value as no label).
    pub fn with(&self, name: &str, value: &str) -> Labels {
        let mut pairs: Vec<(&str, &str)> = self.iter().filter(|(n, _)| *n != name).collect();
        if !value.is_empty() {
            let at = pairs.partition_point(|(n, _)| *n < name);
            pairs.insert(at, (name, value));
        }
        Labels::from_sorted_any(pairs).expect("a valid label set with one label set is valid")
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.u32_at(0) as usize
    }

    /// True for the empty set (a query result such as `sum(x)`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn u32_at(&self, pos: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.data[pos..pos + 4]);
        u32::from_le_bytes(b)
    }

    /// The pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let count = self.len();
        let strings = &self.data[4 + 8 * count..];
        (0..count).map(move |i| {
            let start = if i == 0 {
                0
            } else {
                self.u32_at(8 * i) as usize
            };
            let mid = self.u32_at(4 + 8 * i) as usize;
            let end = self.u32_at(8 + 8 * i) as usize;
            (as_str(&strings[start..mid]), as_str(&strings[mid..end]))
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

    /// Heap bytes held (with the reference counts), for memory accounting.
    pub fn mem_size(&self) -> usize {
        self.data.len() + 16
    }

    /// The canonical encoding stored in the `series` table.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len());
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

/// A slice of the string area as `&str`.
fn as_str(b: &[u8]) -> &str {
    // SAFETY: the string area is only ever built by `from_sorted` from
    // `&str` names and values, and every slice taken here starts and ends
    // at the boundary between two of them, so it is valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(b) }
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
impl Default for Labels {
    /// The empty label set.
    fn default() -> Self {
        Labels::from_sorted_any(std::iter::empty::<(&str, &str)>()).expect("empty set is valid")
    }
}

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

impl Labels {
    /// Go's `labels.Labels.String()`: `{__name__="x", a="b"}`, as
    /// Prometheus prints label sets in error messages.
    pub fn to_go_string(&self) -> String {
        let pairs: Vec<String> = self.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
        format!("{{{}}}", pairs.join(", "))
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

    proptest::proptest! {
        /// Whatever goes in comes back out, through the packed layout and
        /// through the stored encoding; order is pair by pair.
        #[test]
        fn round_trips_any_label_set(
            pairs in proptest::collection::btree_map("[a-z_\\p{L}]{1,8}", "\\PC{0,12}", 0..12),
            other in proptest::collection::btree_map("[a-z_]{1,4}", "[a-z]{0,3}", 0..4),
        ) {
            let mut with_name = pairs.clone();
            with_name.insert("__name__".into(), "m".into());
            let l = Labels::from_sorted(with_name.iter()).unwrap();
            let want: Vec<(&str, &str)> = with_name
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            proptest::prop_assert_eq!(l.iter().collect::<Vec<_>>(), want.clone());
            proptest::prop_assert_eq!(Labels::decode(&l.encode()).unwrap(), l.clone());
            let mut with_name2 = other.clone();
            with_name2.insert("__name__".into(), "m".into());
            let l2 = Labels::from_sorted(with_name2.iter()).unwrap();
            let want2: Vec<(&str, &str)> = with_name2
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            proptest::prop_assert_eq!(l.cmp(&l2), want.cmp(&want2));
        }
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
