//! The in-memory label index: an inverted index from each label pair to the
//! sorted ids of the series that carry it, and the label [`Matcher`]s that
//! select series from it with Prometheus's semantics.
//!
//! It is rebuilt from the `series` table at start (see FORMAT.md), so it is
//! never persisted itself.

use std::collections::HashMap;

use regex::Regex;

use super::labels::Labels;

/// A series id: the `series.id` rowid. Never reused (AUTOINCREMENT).
pub type SeriesId = u64;

/// The four label matcher operators of PromQL selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

/// One label matcher, e.g. `job=~"node|prom.*"`.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// Compiled, fully anchored pattern for the regex operators.
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher; regex values use RE2 syntax and are fully anchored
    /// with `.` matching newlines, as Prometheus 3 does.
    pub fn new(op: MatchOp, name: &str, value: &str) -> Result<Matcher, regex::Error> {
        let re = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => {
                // Compiling is the dear part of a regex matcher; queries
                // repeat their patterns.
                static COMPILED: std::sync::LazyLock<crate::memo::Memo<String, Regex>> =
                    std::sync::LazyLock::new(|| crate::memo::Memo::new(1024));
                Some(COMPILED.get_or_try(value, || Regex::new(&format!("^(?s:{value})$")))?)
            }
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value: value.to_string(),
            re,
        })
    }

    /// Whether a label value (`""` for an absent label) satisfies the matcher.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => v == self.value,
            MatchOp::NotEqual => v != self.value,
            MatchOp::RegexMatch => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::RegexNoMatch => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }

    /// Whether the matcher selects series that lack the label altogether.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

/// What `/api/v1/status/tsdb` reports about the index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cardinality {
    pub label_pairs: u64,
    pub series_by_metric: Vec<(String, u64)>,
    pub values_by_label: Vec<(String, u64)>,
    pub bytes_by_label: Vec<(String, u64)>,
    pub series_by_pair: Vec<(String, u64)>,
}

/// Inverted index: label name → label value → sorted series ids.
#[derive(Default)]
pub struct Index {
    postings: HashMap<Box<str>, HashMap<Box<str>, Vec<SeriesId>>>,
    /// Every indexed id, sorted: the starting set for selectors whose
    /// matchers all match the empty string.
    all: Vec<SeriesId>,
}

impl Index {
    /// Adds a series. Ids normally arrive in increasing order, which keeps
    /// every insertion an append.
    pub fn add(&mut self, id: SeriesId, labels: &Labels) {
        insert_sorted(&mut self.all, id);
        for (n, v) in labels.iter() {
            let values = match self.postings.get_mut(n) {
                Some(values) => values,
                None => self.postings.entry(n.into()).or_default(),
            };
            match values.get_mut(v) {
                Some(ids) => insert_sorted(ids, id),
                None => {
                    values.insert(v.into(), vec![id]);
                }
            }
        }
    }

    /// Removes a series (retention deleted all its data).
    pub fn remove(&mut self, id: SeriesId, labels: &Labels) {
        remove_sorted(&mut self.all, id);
        for (n, v) in labels.iter() {
            if let Some(values) = self.postings.get_mut(n) {
                if let Some(ids) = values.get_mut(v) {
                    remove_sorted(ids, id);
                    if ids.is_empty() {
                        values.remove(v);
                    }
                }
                if values.is_empty() {
                    self.postings.remove(n);
                }
            }
        }
    }

    /// Cardinality for `/api/v1/status/tsdb`: series per metric name,
    /// distinct values per label name, bytes of values per label name,
    /// series per label pair — each sorted by count, descending, cut to
    /// `limit`; and the number of label pairs.
    pub fn cardinality(&self, limit: usize) -> Cardinality {
        let top = |mut v: Vec<(String, u64)>| {
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(limit);
            v
        };
        let mut by_metric = Vec::new();
        let mut values_by_name = Vec::new();
        let mut bytes_by_name = Vec::new();
        let mut by_pair = Vec::new();
        let mut pairs = 0u64;
        for (name, values) in &self.postings {
            pairs += values.len() as u64;
            values_by_name.push((name.to_string(), values.len() as u64));
            let mut bytes = 0u64;
            for (value, ids) in values {
                bytes += (value.len() * ids.len()) as u64;
                if &**name == super::METRIC_NAME {
                    by_metric.push((value.to_string(), ids.len() as u64));
                }
                by_pair.push((format!("{name}={value}"), ids.len() as u64));
            }
            bytes_by_name.push((name.to_string(), bytes));
        }
        Cardinality {
            label_pairs: pairs,
            series_by_metric: top(by_metric),
            values_by_label: top(values_by_name),
            bytes_by_label: top(bytes_by_name),
            series_by_pair: top(by_pair),
        }
    }

    /// Number of indexed series.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// True when no series is indexed.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The sorted ids of the series that satisfy every matcher.
    ///
    /// As in Prometheus: a matcher that does not match `""` narrows the set
    /// to series whose value matches; one that does match `""` removes the
    /// series whose value does not match, keeping those without the label.
    /// With no narrowing matcher the start set is every series.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<SeriesId> {
        let mut result: Option<Vec<SeriesId>> = None;
        for m in matchers.iter().filter(|m| !m.matches_empty()) {
            let ids = self.union_where(&m.name, |v| m.matches(v));
            result = Some(match result {
                None => ids,
                Some(r) => intersect(&r, &ids),
            });
            if result.as_ref().is_some_and(|r| r.is_empty()) {
                return Vec::new();
            }
        }
        let mut result = result.unwrap_or_else(|| self.all.clone());
        for m in matchers.iter().filter(|m| m.matches_empty()) {
            let drop = self.union_where(&m.name, |v| !m.matches(v));
            if !drop.is_empty() {
                result = subtract(&result, &drop);
            }
        }
        result
    }

    /// All label names, sorted.
    pub fn label_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.postings.keys().map(|k| k.to_string()).collect();
        names.sort_unstable();
        names
    }

    /// All values of label `name`, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        let mut values: Vec<String> = self
            .postings
            .get(name)
            .map(|vs| vs.keys().map(|k| k.to_string()).collect())
            .unwrap_or_default();
        values.sort_unstable();
        values
    }

    /// Approximate heap bytes held by the index, for memory accounting.
    pub fn mem_size(&self) -> usize {
        let mut total = self.all.capacity() * 8;
        for (n, values) in &self.postings {
            total += n.len() + 48;
            for (v, ids) in values {
                total += v.len() + 48 + ids.capacity() * 8;
            }
        }
        total
    }

    /// Union of the postings of every value of `name` accepted by `keep`.
    fn union_where(&self, name: &str, keep: impl Fn(&str) -> bool) -> Vec<SeriesId> {
        let Some(values) = self.postings.get(name) else {
            return Vec::new();
        };
        let mut lists: Vec<&Vec<SeriesId>> = values
            .iter()
            .filter(|(v, _)| keep(v))
            .map(|(_, ids)| ids)
            .collect();
        match lists.len() {
            0 => Vec::new(),
            1 => lists[0].clone(),
            _ => {
                lists.sort_by_key(|l| std::cmp::Reverse(l.len()));
                let mut out: Vec<SeriesId> = lists.iter().flat_map(|l| l.iter().copied()).collect();
                out.sort_unstable();
                out.dedup();
                out
            }
        }
    }
}

fn insert_sorted(v: &mut Vec<SeriesId>, id: SeriesId) {
    match v.last() {
        Some(&last) if last < id => v.push(id),
        None => v.push(id),
        _ => {
            if let Err(pos) = v.binary_search(&id) {
                v.insert(pos, id);
            }
        }
    }
}

fn remove_sorted(v: &mut Vec<SeriesId>, id: SeriesId) {
    if let Ok(pos) = v.binary_search(&id) {
        v.remove(pos);
    }
}

fn intersect(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn subtract(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let mut j = 0;
    a.iter()
        .copied()
        .filter(|&x| {
            while j < b.len() && b[j] < x {
                j += 1;
            }
            !(j < b.len() && b[j] == x)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_unsorted(
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        )
        .unwrap()
    }

    fn m(op: MatchOp, n: &str, v: &str) -> Matcher {
        Matcher::new(op, n, v).unwrap()
    }

    fn index() -> Index {
        let mut ix = Index::default();
        ix.add(
            1,
            &ls(&[("__name__", "up"), ("job", "node"), ("instance", "a")]),
        );
        ix.add(
            2,
            &ls(&[("__name__", "up"), ("job", "prom"), ("instance", "b")]),
        );
        ix.add(3, &ls(&[("__name__", "cpu"), ("job", "node")]));
        ix.add(
            4,
            &ls(&[("__name__", "cpu"), ("job", "node"), ("mode", "idle\nx")]),
        );
        ix
    }

    #[test]
    fn selects_like_prometheus() {
        use MatchOp::*;
        let ix = index();
        assert_eq!(ix.select(&[m(Equal, "__name__", "up")]), vec![1, 2]);
        assert_eq!(
            ix.select(&[m(Equal, "job", "node"), m(NotEqual, "__name__", "up")]),
            vec![3, 4]
        );
        // Regexes are fully anchored.
        assert_eq!(ix.select(&[m(RegexMatch, "job", "no")]), Vec::<u64>::new());
        assert_eq!(
            ix.select(&[m(RegexMatch, "job", "no.*|prom")]),
            vec![1, 2, 3, 4]
        );
        // `.` matches a newline.
        assert_eq!(ix.select(&[m(RegexMatch, "mode", "idle.x")]), vec![4]);
        // A matcher that matches "" keeps series without the label.
        assert_eq!(
            ix.select(&[m(Equal, "__name__", "cpu"), m(Equal, "instance", "")]),
            vec![3, 4]
        );
        assert_eq!(ix.select(&[m(NotEqual, "instance", "a")]), vec![2, 3, 4]);
        assert_eq!(ix.select(&[m(RegexNoMatch, "job", "node")]), vec![2]);
        assert_eq!(ix.select(&[m(RegexMatch, "instance", "a|")]), vec![1, 3, 4]);
        assert_eq!(ix.select(&[m(Equal, "nope", "x")]), Vec::<u64>::new());
    }

    #[test]
    fn remove_drops_empty_postings() {
        let mut ix = index();
        ix.remove(
            2,
            &ls(&[("__name__", "up"), ("job", "prom"), ("instance", "b")]),
        );
        assert_eq!(ix.label_values("job"), vec!["node"]);
        assert_eq!(ix.len(), 3);
        assert_eq!(
            ix.label_names(),
            vec!["__name__", "instance", "job", "mode"]
        );
    }

    proptest::proptest! {
        /// The index answers exactly what filtering every series by every
        /// matcher (absent label = "") answers.
        #[test]
        fn select_equals_brute_force(
            sets in proptest::collection::vec(
                proptest::collection::btree_map("[abc]", "[xyz]{0,2}", 0..3), 1..30),
            ms in proptest::collection::vec((
                "[abcd]",
                0..4u8,
                proptest::sample::select(vec!["", "x", "y", "xz", "x.*", ".*", ".+", "z|", "y|x"]),
            ), 1..4),
        ) {
            let mut ix = Index::default();
            let mut all = Vec::new();
            for (i, set) in sets.iter().enumerate() {
                let mut pairs: Vec<(String, String)> =
                    set.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
                pairs.push(("__name__".into(), "m".into()));
                let l = Labels::from_unsorted(pairs).unwrap();
                ix.add(i as u64 + 1, &l);
                all.push((i as u64 + 1, l));
            }
            let matchers: Vec<Matcher> = ms
                .iter()
                .map(|(n, op, v)| {
                    let op = [MatchOp::Equal, MatchOp::NotEqual, MatchOp::RegexMatch, MatchOp::RegexNoMatch][*op as usize];
                    Matcher::new(op, n, v).unwrap()
                })
                .collect();
            let want: Vec<u64> = all
                .iter()
                .filter(|(_, l)| matchers.iter().all(|m| m.matches(l.get(&m.name).unwrap_or(""))))
                .map(|(id, _)| *id)
                .collect();
            proptest::prop_assert_eq!(ix.select(&matchers), want);
        }
    }

    #[test]
    fn bad_regex_is_an_error() {
        assert!(Matcher::new(MatchOp::RegexMatch, "a", "(").is_err());
    }
}
