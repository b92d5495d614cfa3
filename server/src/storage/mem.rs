//! `MemStore`: an in-memory [`Queryable`] — a sorted map from label set to
//! samples, with the same selection contract as the real storage (every
//! matcher must match, an absent label reads as `""`, only series with
//! samples in `[mint, maxt]`, sorted by labels). The PromQL conformance
//! run loads its test files into it, and handler tests put it behind
//! `AppState::querier`.

use std::collections::BTreeMap;

use super::{Labels, Matcher, Queryable, SeriesData, StorageError};

/// Series and their samples, each series' samples sorted by time.
#[derive(Default)]
pub struct MemStore {
    series: BTreeMap<Labels, Vec<(i64, f64)>>,
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// `clear`: drops everything.
    pub fn clear(&mut self) {
        self.series.clear();
    }

    /// Adds samples to a series. A sample at a time the series already has
    /// replaces the old one (the test files never rely on either choice).
    pub fn add(&mut self, labels: Labels, samples: &[(i64, f64)]) {
        if samples.is_empty() {
            return;
        }
        let s = self.series.entry(labels).or_default();
        for &(t, v) in samples {
            match s.binary_search_by_key(&t, |p| p.0) {
                Ok(k) => s[k].1 = v,
                Err(k) => s.insert(k, (t, v)),
            }
        }
    }

    /// The selected series with their samples in `[mint, maxt]`, in label
    /// order (the map's order is `Labels`' order).
    fn matching<'a>(
        &'a self,
        matchers: &'a [Matcher],
        mint: i64,
        maxt: i64,
    ) -> impl Iterator<Item = (&'a Labels, &'a [(i64, f64)])> + 'a {
        self.series.iter().filter_map(move |(labels, samples)| {
            let selected = matchers
                .iter()
                .all(|m| m.matches(labels.get(&m.name).unwrap_or("")));
            if !selected || mint > maxt {
                return None;
            }
            let lo = samples.partition_point(|s| s.0 < mint);
            let hi = samples.partition_point(|s| s.0 <= maxt);
            (lo < hi).then(|| (labels, &samples[lo..hi]))
        })
    }
}

impl Queryable for MemStore {
    fn series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .matching(matchers, mint, maxt)
            .map(|(l, _)| l.clone())
            .collect())
    }

    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesData>, StorageError> {
        Ok(self
            .matching(matchers, mint, maxt)
            .map(|(l, s)| SeriesData {
                labels: l.clone(),
                samples: s.to_vec(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MatchOp;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_unsorted(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn selects_by_matchers_and_range() {
        let mut st = MemStore::new();
        st.add(
            labels(&[("__name__", "m"), ("a", "1")]),
            &[(0, 1.0), (10, 2.0)],
        );
        st.add(labels(&[("__name__", "m")]), &[(20, 3.0)]);
        st.add(labels(&[("__name__", "n"), ("a", "2")]), &[(0, 4.0)]);
        let name = Matcher::new(MatchOp::Equal, "__name__", "m").unwrap();
        let no_a = Matcher::new(MatchOp::Equal, "a", "").unwrap();
        let got = st.select(std::slice::from_ref(&name), 5, 20).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].samples, vec![(20, 3.0)]);
        assert_eq!(got[1].samples, vec![(10, 2.0)]);
        let got = st.series(&[name.clone(), no_a], 0, 100).unwrap();
        assert_eq!(got, vec![labels(&[("__name__", "m")])]);
        assert!(st.select(&[name], 11, 19).unwrap().is_empty());
        let any_a = Matcher::new(MatchOp::RegexMatch, "a", ".+").unwrap();
        assert_eq!(st.select(&[any_a], 0, 0).unwrap().len(), 2);
    }
}
