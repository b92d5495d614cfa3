//! The OpenMetrics rules that span lines, checked as lines stream past.
//!
//! [`Rules`] follows one metric family at a time. A family opens with
//! metadata for a new name or with a sample that does not belong to the
//! current family (it then has type `unknown`), and closes when the next one
//! opens or at `# EOF`. Checked here, as in the OpenMetrics reference parser
//! that the conformance suite was written against:
//!
//! - metadata: at most one HELP, TYPE and UNIT per family, all before its
//!   first sample; a unit must be the name's suffix and is not allowed on
//!   info and stateset families;
//! - names: a family claims its name and the sample names its type may use
//!   (`x`, `x_total`, `x_created`, …); no later family may claim them again;
//! - samples: which suffixes and labels each type needs (`le`, `quantile`,
//!   the stateset label), value ranges (counts are whole numbers, counters
//!   never negative or NaN, info is 1, stateset is 0 or 1), and where
//!   exemplars may appear;
//! - grouping: samples of one series group (labels apart from `le`,
//!   `quantile` or the stateset label) are consecutive, all or none carry a
//!   timestamp, and timestamps do not go backwards within a group;
//! - histograms: per group, buckets in increasing `le` with non-decreasing
//!   counts, a `+Inf` bucket equal to `_count`, `_count` and `_sum` together,
//!   no `_sum` with negative buckets (and no negative `_gsum` without them).
//!
//! Some of these can only be judged when a group or family ends, so an
//! error may be reported after samples of that family were already handed
//! out: callers must drop the whole exposition on any error, as
//! Prometheus's scrape loop does.
//!
//! Memory: one name string per family and one `u64` per series group of the
//! current family. Groups are remembered by a 64-bit hash of their labels; a
//! collision could only turn a valid exposition into a false "continues
//! after samples of other series" error, with odds around n²/2⁶⁵ for n
//! groups in one family.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use super::lexer::{self, Label};
use super::{MetricType, Sample};

/// A metadata line, as far as the rules care.
pub(super) enum Meta<'a> {
    Help,
    Type(MetricType),
    Unit(&'a str),
}

#[derive(Default)]
pub(super) struct Rules {
    /// Line of `# EOF`, once seen: nothing may follow it.
    eof_line: Option<usize>,
    fam: Family,
    /// Every name claimed by a closed family (see module docs).
    seen_names: HashSet<String>,
    /// Group keys seen in the current family, to catch a group reappearing.
    seen_groups: HashSet<u64, BuildHasherDefault<KeyHasher>>,
    /// The group of the previous sample in the current family.
    group: Option<Group>,
    /// Histogram consistency state of the current group.
    hist: HistRun,
    /// Reused buffer for building claimed names.
    scratch: String,
}

#[derive(Default)]
struct Family {
    active: bool,
    name: String,
    /// None until a TYPE line; without one the family is `unknown`.
    kind: Option<MetricType>,
    help: bool,
    unit: bool,
    unit_nonempty: bool,
    has_samples: bool,
    first_line: usize,
}

struct Group {
    key: u64,
    ts: Option<f64>,
}

#[derive(Default)]
struct HistRun {
    active: bool,
    key: u64,
    /// Timestamp of the run; a different timestamp starts a new run.
    ts: Option<f64>,
    first_line: usize,
    last_le: Option<f64>,
    last_bucket_value: f64,
    count: Option<f64>,
    has_sum: bool,
    has_gsum: bool,
    negative_bucket: bool,
    negative_gsum: bool,
}

/// The sample names a family of each type may use, as suffixes of its name.
fn suffixes(kind: Option<MetricType>) -> &'static [&'static str] {
    match kind {
        Some(MetricType::Counter) => &["_total", "_created"],
        Some(MetricType::Summary) => &["", "_count", "_sum", "_created"],
        Some(MetricType::Histogram) => &["_count", "_sum", "_bucket", "_created"],
        Some(MetricType::GaugeHistogram) => &["_gcount", "_gsum", "_bucket"],
        Some(MetricType::Info) => &["_info"],
        _ => &[""],
    }
}

fn label<'b>(labels: &'b [Label<'_>], name: &str) -> Option<&'b str> {
    labels
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_ref())
}

/// A number written the one way `le` and `quantile` values must be: any
/// decimal form is fine, but infinities must read `+Inf`/`-Inf` and NaN is
/// not a bound at all.
fn canonical_number(s: &str) -> Option<f64> {
    let v = lexer::parse_value(s).ok()?;
    if v.is_nan() || (v.is_infinite() && s != "+Inf" && s != "-Inf") {
        return None;
    }
    Some(v)
}

/// Shows a number as the exposition formats write it (`+Inf`, not `inf`).
struct Num(f64);

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

fn is_whole(v: f64) -> bool {
    v.is_finite() && v.fract() == 0.0
}

/// Hasher for group keys, which are already well-mixed hashes: SipHashing
/// them again cost a sixth of strict parsing time.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A fast 64-bit hash of one label (name and value), for group keys. Not
/// keyed: an exporter can at worst craft a collision that gets its own
/// scrape rejected.
fn hash_label(name: &str, value: &str) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x243F_6A88_85A3_08D3;
    for part in [name.as_bytes(), value.as_bytes()] {
        let mut chunks = part.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
        }
        let mut w = [0u8; 8];
        w[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
        // The length separates name from value ("ab","c" vs "a","bc").
        h = (h ^ part.len() as u64).wrapping_mul(K);
    }
    // murmur3's finalizer, so that summing keys below mixes well.
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Order-independent hash of a sample's group: its labels minus the one
/// that tells samples of the group apart.
fn group_key(kind: MetricType, suffix: &str, family: &str, labels: &[Label<'_>]) -> u64 {
    let skip = match kind {
        // All info samples of a family form one group.
        MetricType::Info => return 0,
        MetricType::Summary if suffix.is_empty() => Some("quantile"),
        MetricType::StateSet => Some(family),
        MetricType::Histogram | MetricType::GaugeHistogram if suffix == "_bucket" => Some("le"),
        _ => None,
    };
    let mut key = 0u64;
    for (n, v) in labels {
        if Some(*n) == skip {
            continue;
        }
        // Summing makes the key independent of label order.
        key = key.wrapping_add(hash_label(n, v));
    }
    key
}

fn show_labels(labels: &[Label<'_>]) -> String {
    let mut s = String::from("{");
    for (i, (n, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("{n}={v:?}"));
    }
    s.push('}');
    s
}

impl Rules {
    pub fn eof_line(&self) -> Option<usize> {
        self.eof_line
    }

    /// Back to the start of an exposition, keeping allocated capacity.
    pub fn reset(&mut self) {
        self.eof_line = None;
        self.fam.active = false;
        self.seen_names.clear();
        self.seen_groups.clear();
        self.group = None;
        self.hist = HistRun::default();
    }

    pub fn on_eof(&mut self, lineno: usize) -> Result<(), String> {
        self.close_family()?;
        self.eof_line = Some(lineno);
        Ok(())
    }

    fn open_family(&mut self, name: &str, lineno: usize) {
        let mut buf = std::mem::take(&mut self.fam.name);
        buf.clear();
        buf.push_str(name);
        self.fam = Family {
            active: true,
            name: buf,
            first_line: lineno,
            ..Family::default()
        };
    }

    fn close_family(&mut self) -> Result<(), String> {
        if !self.fam.active {
            return Ok(());
        }
        self.fam.active = false;
        self.seen_groups.clear();
        self.group = None;
        if self.hist.active {
            self.hist.active = false;
            check_histogram(&self.hist, &self.fam.name, self.fam.kind)?;
        }
        let claimed = std::iter::once("").chain(
            suffixes(self.fam.kind)
                .iter()
                .copied()
                .filter(|s| !s.is_empty()),
        );
        for suffix in claimed {
            self.scratch.clear();
            self.scratch.push_str(&self.fam.name);
            self.scratch.push_str(suffix);
            if self.seen_names.contains(self.scratch.as_str()) {
                return Err(format!(
                    "the metric family {:?} (from line {}) clashes with an earlier family: the name {:?} is already taken; OpenMetrics needs each family name, and the sample names its type implies (such as \"x_total\" and \"x_created\" for a counter \"x\"), to be unique",
                    self.fam.name, self.fam.first_line, self.scratch
                ));
            }
            self.seen_names.insert(self.scratch.clone());
        }
        Ok(())
    }

    pub fn on_metadata(&mut self, name: &str, meta: Meta<'_>, lineno: usize) -> Result<(), String> {
        let keyword = match meta {
            Meta::Help => "HELP",
            Meta::Type(_) => "TYPE",
            Meta::Unit(_) => "UNIT",
        };
        if self.fam.active && self.fam.name == name {
            if self.fam.has_samples {
                return Err(format!(
                    "\"# {keyword}\" for {name:?} comes after its samples; HELP, TYPE and UNIT must precede the first sample of a family"
                ));
            }
        } else {
            self.close_family()?;
            self.open_family(name, lineno);
        }
        let fam = &mut self.fam;
        let duplicate = match meta {
            Meta::Help => std::mem::replace(&mut fam.help, true),
            Meta::Unit(_) => std::mem::replace(&mut fam.unit, true),
            Meta::Type(_) => fam.kind.is_some(),
        };
        if duplicate {
            return Err(format!(
                "second \"# {keyword}\" line for {name:?}; a family may have only one"
            ));
        }
        match meta {
            Meta::Help => {}
            Meta::Type(kind) => {
                if fam.unit_nonempty && matches!(kind, MetricType::Info | MetricType::StateSet) {
                    return Err(format!(
                        "{name:?} has a unit, but {kind} metrics cannot have one; remove its \"# UNIT\" line"
                    ));
                }
                fam.kind = Some(kind);
            }
            Meta::Unit(unit) => {
                if unit.is_empty() {
                    return Ok(());
                }
                let suffixed = name.len() > unit.len()
                    && name.ends_with(unit)
                    && name.as_bytes()[name.len() - unit.len() - 1] == b'_';
                if !suffixed {
                    return Err(format!(
                        "the unit {unit:?} must end the metric name, as in \"{name}_{unit}\"; rename the family or drop the unit"
                    ));
                }
                if let Some(kind @ (MetricType::Info | MetricType::StateSet)) = fam.kind {
                    return Err(format!(
                        "{kind} metrics cannot have a unit; remove \"# UNIT {name} {unit}\""
                    ));
                }
                fam.unit_nonempty = true;
            }
        }
        Ok(())
    }

    pub fn on_sample(
        &mut self,
        s: &Sample<'_>,
        ts: Option<f64>,
        lineno: usize,
    ) -> Result<(), String> {
        let belongs = self.fam.active
            && s.name
                .strip_prefix(self.fam.name.as_str())
                .is_some_and(|rest| suffixes(self.fam.kind).contains(&rest));
        if !belongs {
            self.close_family()?;
            self.open_family(s.name, lineno);
        }
        self.fam.has_samples = true;
        let family = self.fam.name.as_str();
        let suffix = &s.name[family.len()..];
        let kind = self.fam.kind.unwrap_or(MetricType::Unknown);
        let is_hist = matches!(kind, MetricType::Histogram | MetricType::GaugeHistogram);
        let v = s.value;
        let v_ = Num(v);

        // Labels each type requires.
        if kind == MetricType::StateSet && label(&s.labels, family).is_none() {
            return Err(format!(
                "stateset sample {:?} has no label {family:?}; each stateset sample names its state in a label called like the family",
                s.name
            ));
        }
        let mut le = 0.0;
        if is_hist && suffix == "_bucket" {
            let raw = label(&s.labels, "le")
                .ok_or_else(|| format!("histogram bucket {:?} has no \"le\" label", s.name))?;
            le = canonical_number(raw).ok_or_else(|| {
                format!(
                    "histogram bucket {:?} has le={raw:?}, which is not a valid bound; use a number such as \"0.5\" or \"1e-3\", or exactly \"+Inf\"",
                    s.name
                )
            })?;
            if !is_whole(v) {
                return Err(format!(
                    "the bucket {:?} has the value {v_}, but bucket counts must be whole numbers",
                    s.name
                ));
            }
        }
        if (suffix == "_count" || suffix == "_gcount") && !is_whole(v) {
            return Err(format!(
                "{:?} has the value {v_}, but counts must be whole numbers",
                s.name
            ));
        }
        if kind == MetricType::Summary && suffix.is_empty() {
            let q = label(&s.labels, "quantile");
            if !q
                .and_then(canonical_number)
                .is_some_and(|q| (0.0..=1.0).contains(&q))
            {
                return Err(format!(
                    "summary sample {:?} needs a \"quantile\" label with a number between 0 and 1, found {}",
                    s.name,
                    q.map_or("none".to_string(), |q| format!("quantile={q:?}"))
                ));
            }
        }

        // Grouping and timestamps.
        let key = group_key(kind, suffix, family, &s.labels);
        match &mut self.group {
            Some(g) if g.key == key => {
                if g.ts.is_some() != ts.is_some() {
                    return Err(format!(
                        "{:?} {} a timestamp but the previous sample of its group {}; within a group either all samples have timestamps or none do",
                        s.name,
                        if ts.is_some() { "has" } else { "lacks" },
                        if g.ts.is_some() { "has one" } else { "has none" },
                    ));
                }
                if let (Some(prev), Some(now)) = (g.ts, ts) {
                    let (prev_, now_) = (Num(prev), Num(now));
                    if now < prev && kind != MetricType::Info {
                        return Err(format!(
                            "the timestamp {now_} of {:?} is earlier than the previous sample's {prev_} in the same group; timestamps must not go backwards",
                            s.name
                        ));
                    }
                }
                g.ts = ts;
            }
            _ => {
                if !self.seen_groups.insert(key) {
                    return Err(format!(
                        "the series {}{} of {family:?} continues after samples of other series; OpenMetrics requires all samples of a series group (same labels apart from le, quantile or the stateset label) to be consecutive",
                        s.name,
                        show_labels(&s.labels)
                    ));
                }
                self.group = Some(Group { key, ts });
            }
        }

        // Values each type allows.
        match kind {
            MetricType::StateSet if v != 0.0 && v != 1.0 => {
                return Err(format!(
                    "stateset sample {:?} has the value {v_}; stateset values must be 0 or 1",
                    s.name
                ))
            }
            MetricType::Info if v != 1.0 => {
                return Err(format!(
                    "info sample {:?} has the value {v_}; info values must be 1",
                    s.name
                ))
            }
            MetricType::Summary if suffix.is_empty() && v < 0.0 => {
                return Err(format!(
                    "the quantile sample {:?} has the negative value {v_}; quantiles of a summary cannot be negative",
                    s.name
                ))
            }
            _ => {}
        }
        let counter_like = matches!(
            suffix,
            "_total" | "_sum" | "_count" | "_bucket" | "_gcount" | "_gsum"
        );
        if counter_like && v.is_nan() {
            return Err(format!(
                "{:?} is NaN, but {suffix} samples count things and cannot be NaN",
                s.name
            ));
        }
        // A gauge histogram's _gsum may go negative (with negative buckets).
        if counter_like && suffix != "_gsum" && v < 0.0 {
            return Err(format!(
                "{:?} has the negative value {v_}, but {suffix} samples cannot be negative",
                s.name
            ));
        }
        if s.exemplar.is_some() {
            let allowed = (is_hist && suffix == "_bucket")
                || (kind == MetricType::Counter && suffix == "_total");
            if !allowed {
                return Err(format!(
                    "{:?} ({kind}) carries an exemplar; exemplars are only allowed on counter _total and histogram _bucket samples",
                    s.name
                ));
            }
        }

        if is_hist {
            self.histogram_sample(kind, suffix, key, ts, le, v, lineno)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn histogram_sample(
        &mut self,
        kind: MetricType,
        suffix: &str,
        key: u64,
        ts: Option<f64>,
        le: f64,
        v: f64,
        lineno: usize,
    ) -> Result<(), String> {
        if self.hist.active && (self.hist.key != key || self.hist.ts != ts) {
            self.hist.active = false;
            check_histogram(&self.hist, &self.fam.name, Some(kind))?;
        }
        let run = &mut self.hist;
        let (le_, v_) = (Num(le), Num(v));
        if !run.active {
            *run = HistRun {
                active: true,
                key,
                ts,
                first_line: lineno,
                ..HistRun::default()
            };
        }
        match suffix {
            "_bucket" => {
                if let Some(prev) = run.last_le {
                    let prev_ = Num(prev);
                    if le <= prev {
                        return Err(format!(
                            "bucket le=\"{le_}\" of histogram {:?} follows le=\"{prev_}\"; buckets must be in increasing order of le",
                            self.fam.name
                        ));
                    }
                }
                if v < run.last_bucket_value {
                    return Err(format!(
                        "bucket le=\"{le_}\" of histogram {:?} counts {v_}, less than the {} of the bucket before it; bucket counts are cumulative and cannot decrease",
                        self.fam.name,
                        Num(run.last_bucket_value)
                    ));
                }
                if le < 0.0 {
                    run.negative_bucket = true;
                }
                run.last_le = Some(le);
                run.last_bucket_value = v;
            }
            "_count" | "_gcount" => run.count = Some(v),
            "_sum" => run.has_sum = true,
            "_gsum" => {
                run.has_gsum = true;
                if v < 0.0 {
                    run.negative_gsum = true;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Checks a finished group of histogram samples.
fn check_histogram(run: &HistRun, name: &str, kind: Option<MetricType>) -> Result<(), String> {
    let gauge = kind == Some(MetricType::GaugeHistogram);
    let (what, count, sum) = if gauge {
        ("gauge histogram", "_gcount", "_gsum")
    } else {
        ("histogram", "_count", "_sum")
    };
    let at = format!("{what} {name:?} (samples from line {})", run.first_line);
    if run.last_le != Some(f64::INFINITY) {
        return Err(format!(
            "{at} has no bucket with le=\"+Inf\"; every histogram needs one, as its last bucket"
        ));
    }
    if let Some(c) = run.count {
        let c_ = Num(c);
        if c != run.last_bucket_value {
            return Err(format!(
                "{at}: {count} is {c_} but the le=\"+Inf\" bucket is {}; they must be equal",
                Num(run.last_bucket_value)
            ));
        }
    }
    let has_sum = run.has_sum || run.has_gsum;
    if has_sum && run.count.is_none() {
        return Err(format!(
            "{at} has {sum} but no {count}; give both or neither"
        ));
    }
    if !has_sum && run.count.is_some() {
        return Err(format!(
            "{at} has {count} but no {sum}; give both or neither"
        ));
    }
    if run.negative_bucket && run.has_sum {
        return Err(format!(
            "{at} has buckets with negative le and a _sum; a histogram with negative observations must not expose _sum (use a gaugehistogram)"
        ));
    }
    if !run.negative_bucket && run.negative_gsum {
        return Err(format!(
            "{at} has a negative _gsum but no bucket with a negative le"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn group_keys_ignore_order_and_the_distinguishing_label() {
        let l = |v: &[(&'static str, &'static str)]| -> Vec<Label<'static>> {
            v.iter().map(|&(n, v)| (n, Cow::Borrowed(v))).collect()
        };
        let key = |kind, suffix, labels: &[Label<'_>]| group_key(kind, suffix, "a", labels);
        let g = MetricType::Gauge;
        assert_eq!(
            key(g, "", &l(&[("x", "1"), ("y", "2")])),
            key(g, "", &l(&[("y", "2"), ("x", "1")]))
        );
        assert_ne!(key(g, "", &l(&[("x", "1")])), key(g, "", &l(&[("x", "2")])));
        assert_ne!(
            key(g, "", &l(&[("ab", "c")])),
            key(g, "", &l(&[("a", "bc")]))
        );
        assert_ne!(key(g, "", &l(&[("x", "")])), key(g, "", &l(&[])));
        let h = MetricType::Histogram;
        assert_eq!(
            key(h, "_bucket", &l(&[("x", "1"), ("le", "0.5")])),
            key(h, "_count", &l(&[("x", "1")]))
        );
        let s = MetricType::Summary;
        assert_eq!(
            key(s, "", &l(&[("quantile", "0.5")])),
            key(s, "_sum", &l(&[]))
        );
        assert_eq!(
            key(MetricType::StateSet, "", &l(&[("a", "on")])),
            key(MetricType::StateSet, "", &l(&[("a", "off")]))
        );
    }
}
