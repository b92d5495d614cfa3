//! One target's scrape loop: fetch, parse, label, limit, append — and the
//! staleness bookkeeping in between.
//!
//! Every scrape becomes exactly one append: the scraped samples, the stale
//! markers for series the previous scrape had and this one lacks, and the
//! five report series (`up`, `scrape_duration_seconds`,
//! `scrape_samples_scraped`, `scrape_samples_post_metric_relabeling`,
//! `scrape_series_added`). A scrape that fails — transport error, bad
//! status, oversize body, unparsable line, a limit exceeded — appends none
//! of its samples (Prometheus rolls the transaction back); it is treated as
//! an empty scrape, so every series of the previous scrape gets a stale
//! marker, and `up` is 0.
//!
//! Building a label set is the expensive part of a sample, so the loop
//! caches, per target, the series text as written on the line (`series` of
//! [`Sample`]) → the sink's series handle, or "dropped by
//! `metric_relabel_configs`". Labels, relabeling and the label limits are
//! only worked out on a miss, as Prometheus's scrape cache does. Entries
//! not seen for [`CACHE_KEEP_SCRAPES`] scrapes are forgotten.
//!
//! Staleness is tracked per series in a slot array the cache entries point
//! into ([`Tracked`]): marking a series as scraped, spotting a duplicate
//! and telling a new series from a known one are stores and loads in the
//! entry the cache lookup already found, not hash-set operations per
//! sample.

use crate::sync::LockExt;
use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::Clock;
use crate::exposition::{
    lines, quick_numbers, quick_sample, Entry, Format, MetricType, Parser, Sample, Validation,
};
use crate::relabel;

use super::http::{self, FetchError};
use super::target::Target;
use super::{
    Appended, Committed, Job, Metadata, ScrapedExemplar, Sink, SinkError, TargetHealth,
    TargetStatus, STALE_NAN,
};

/// Cache entries unseen for this many scrapes are dropped.
const CACHE_KEEP_SCRAPES: u64 = 10;

/// Why a scrape failed; the text is the target's `lastError`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScrapeError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Parse(String),
    #[error("sample limit exceeded (number of samples: more than {limit}, limit: {limit})")]
    SampleLimit { limit: u64 },
    #[error("{0}")]
    LabelLimit(String),
    #[error("target_limit exceeded (number of targets: {targets}, limit: {limit})")]
    TargetLimit { targets: usize, limit: u64 },
    #[error("storing the scrape failed: {0}")]
    Append(SinkError),
}

impl ScrapeError {
    /// A short, stable name for the failure kind (a metric label).
    pub fn reason(&self) -> &'static str {
        match self {
            ScrapeError::Fetch(FetchError::Timeout { .. }) => "timeout",
            ScrapeError::Fetch(FetchError::Transport { .. }) => "transport",
            ScrapeError::Fetch(FetchError::Status(_)) => "http_status",
            ScrapeError::Fetch(FetchError::BodySizeLimit(_)) => "body_size_limit",
            ScrapeError::Fetch(FetchError::Credentials(_) | FetchError::OAuth2(_)) => "credentials",
            ScrapeError::Parse(_) => "parse",
            ScrapeError::SampleLimit { .. } => "sample_limit",
            ScrapeError::LabelLimit(_) => "label_limit",
            ScrapeError::TargetLimit { .. } => "target_limit",
            ScrapeError::Append(_) => "storage",
        }
    }

    /// Every [`ScrapeError::reason`], for exporting zero counters.
    pub const REASONS: [&'static str; 10] = [
        "timeout",
        "transport",
        "http_status",
        "body_size_limit",
        "credentials",
        "parse",
        "sample_limit",
        "label_limit",
        "target_limit",
        "storage",
    ];
}

/// Counters over every scrape of a manager, for pharos's own metrics.
#[derive(Debug, Default)]
pub struct ScrapeStats {
    pub scrapes: AtomicU64,
    /// Failed scrapes, indexed like [`ScrapeError::REASONS`].
    pub failures: [AtomicU64; 10],
    /// Samples stored from successful scrapes (after metric relabeling).
    pub samples: AtomicU64,
    /// Stale markers written.
    pub stale_markers: AtomicU64,
    /// Target syncs of a pool that found more targets than its
    /// `target_limit` (Prometheus's
    /// `prometheus_target_scrape_pool_exceeded_target_limit_total`).
    pub target_limit_syncs: AtomicU64,
}

impl ScrapeStats {
    fn failed(&self, e: &ScrapeError) {
        if let Some(i) = ScrapeError::REASONS.iter().position(|r| *r == e.reason()) {
            self.failures[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct CacheEntry {
    /// Index in [`ScrapeState::tracked`]; `None`: dropped by metric
    /// relabeling.
    slot: Option<u32>,
    last_seen: u64,
}

/// The series texts of the last successful scrape in the order they came,
/// with their cache entries' slots: targets write their series in the same
/// order every time, so the next line's text is almost always the next
/// one here. Comparing against it is a sequential read of one buffer;
/// the cache lookup it saves hashes the text and follows a pointer to a
/// key somewhere in memory — a cache miss per sample.
#[derive(Default)]
struct Order {
    text: String,
    /// End offset in `text` and the slot (`None`: dropped by relabeling).
    items: Vec<(u32, Option<u32>)>,
    /// The scrape being recorded, swapped in when it succeeds.
    next_text: String,
    next_items: Vec<(u32, Option<u32>)>,
    /// Next item expected.
    pos: usize,
}

impl Order {
    fn begin(&mut self) {
        self.pos = 0;
        self.next_text.clear();
        self.next_items.clear();
    }

    fn item(&self, i: usize) -> Option<(&str, Option<u32>)> {
        let &(end, slot) = self.items.get(i)?;
        let start = i.checked_sub(1).map_or(0, |p| self.items[p].0);
        Some((&self.text[start as usize..end as usize], slot))
    }

    /// The slot of `text` if it is the expected next series (or the one
    /// after it: a series removed from the middle costs one miss, not the
    /// rest of the scrape).
    fn expect(&mut self, text: &str) -> Option<Option<u32>> {
        for skip in 0..2 {
            match self.item(self.pos + skip) {
                Some((t, slot)) if t == text => {
                    self.pos += skip + 1;
                    return Some(slot);
                }
                Some(_) => {}
                None => return None,
            }
        }
        None
    }

    /// Whether `line` starts with the expected next series text (or the
    /// one after it) followed by a blank: how many items that skips, the
    /// text's length and its slot. Nothing moves until [`Order::advance`].
    fn peek_line(&self, line: &str) -> Option<(usize, usize, Option<u32>)> {
        let b = line.as_bytes();
        for skip in 0..2 {
            let (t, slot) = self.item(self.pos + skip)?;
            let n = t.len();
            if matches!(b.get(n), Some(b' ' | b'\t')) && b[..n] == *t.as_bytes() {
                return Some((skip, n, slot));
            }
        }
        None
    }

    fn advance(&mut self, skip: usize) {
        self.pos += skip + 1;
    }

    fn record(&mut self, text: &str, slot: Option<u32>) {
        self.next_text.push_str(text);
        // Bodies are far below 4 GiB (body_size_limit); if one were not,
        // the order would just stop helping.
        if let Ok(end) = u32::try_from(self.next_text.len()) {
            self.next_items.push((end, slot));
        }
    }

    /// The scrape succeeded: its order is the one to expect next time.
    fn commit(&mut self) {
        std::mem::swap(&mut self.text, &mut self.next_text);
        std::mem::swap(&mut self.items, &mut self.next_items);
    }

    fn texts(&self) -> impl Iterator<Item = &str> {
        (0..self.items.len()).filter_map(|i| self.item(i).map(|(t, _)| t))
    }
}

/// One series of the target and what staleness needs to know about it.
/// Several cache entries may lead to the same series (two spellings of one
/// label set, or relabeling that merges series); they share the slot, so a
/// duplicate is caught whichever spelling it came in.
struct Tracked<S> {
    series: S,
    /// Iteration of the last scrape that took a sample of it.
    taken: u64,
    /// Whether that sample is tracked for staleness (honor_timestamps with
    /// an explicit timestamp is not, unless track_timestamps_staleness).
    track: bool,
    /// It was in the previous successful scrape, and tracked there.
    in_prev: bool,
    prev_track: bool,
}

/// The report series' handles, made once per loop.
struct Report<S> {
    up: S,
    duration: S,
    scraped: S,
    post_relabel: S,
    added: S,
    /// With `extra_scrape_metrics`: `scrape_timeout_seconds`,
    /// `scrape_sample_limit`, `scrape_body_size_bytes`.
    extra: Option<[S; 3]>,
}

impl<S> Report<S> {
    /// Every report series.
    fn all(&self) -> impl Iterator<Item = &S> {
        [
            &self.up,
            &self.duration,
            &self.scraped,
            &self.post_relabel,
            &self.added,
        ]
        .into_iter()
        .chain(self.extra.iter().flatten())
    }
}

/// Counts of one processed scrape.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub scraped: usize,
    pub post_relabel: usize,
    pub added: usize,
    /// Stale markers added to the batch.
    pub stale: usize,
}

/// A scrape between [`ScrapeState::begin`] and [`ScrapeState::end`].
#[derive(Debug)]
pub struct Attempt {
    t: i64,
    duration: Duration,
    counts: Counts,
    error: Option<String>,
}

/// Everything a loop remembers between scrapes. Separate from the I/O so
/// tests can feed bodies directly.
pub struct ScrapeState<S: Sink> {
    sink: Arc<S>,
    job: Arc<Job>,
    target: Target,
    status: Arc<Mutex<TargetStatus>>,
    stats: Arc<ScrapeStats>,
    cache: FxHashMap<Box<str>, CacheEntry>,
    /// The target's series; `None` marks a free slot. Slots of series that
    /// no cache entry leads to any more and that were not in the previous
    /// scrape are freed when the cache is pruned.
    tracked: Vec<Option<Tracked<S::Series>>>,
    free_slots: Vec<u32>,
    /// Series → slot, consulted only when the cache learns a new spelling.
    slot_of: FxHashMap<S::Series, u32>,
    /// Series in the previous successful scrape (for batch sizing).
    prev_len: usize,
    order: Order,
    report: Option<Report<S::Series>>,
    /// HELP/TYPE/UNIT by family as last scraped, with the iteration that
    /// last showed one of its lines; the status holds a copy.
    metadata: HashMap<String, (Metadata, u64)>,
    iteration: u64,
    /// Exemplars of the scrape being recorded, handed to the sink with its
    /// samples; empty after a failed scrape (none of it is stored).
    exemplars: Vec<(S::Series, ScrapedExemplar)>,
}

impl<S: Sink> ScrapeState<S> {
    pub fn new(
        sink: Arc<S>,
        job: Arc<Job>,
        target: Target,
        status: Arc<Mutex<TargetStatus>>,
        stats: Arc<ScrapeStats>,
    ) -> Self {
        ScrapeState {
            sink,
            job,
            target,
            status,
            stats,
            cache: FxHashMap::default(),
            tracked: Vec::new(),
            free_slots: Vec::new(),
            slot_of: FxHashMap::default(),
            prev_len: 0,
            order: Order::default(),
            report: None,
            metadata: HashMap::new(),
            iteration: 0,
            exemplars: Vec::new(),
        }
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Takes over what `old`, the stopped loop of the same target under a
    /// job whose change does not alter what is stored (a reload changing
    /// only the interval, timeout, sample limit or HTTP client), knew of
    /// the target: its series cache, the previous scrape's series (so a
    /// series missing from the first scrape after the reload still gets
    /// its stale marker), metadata and status. Prometheus's reload hands
    /// the old loop's scrape cache to the new loop the same way.
    pub fn adopt(&mut self, old: ScrapeState<S>) {
        *self.status.locked() = old.status.locked().clone();
        self.cache = old.cache;
        self.tracked = old.tracked;
        self.free_slots = old.free_slots;
        self.slot_of = old.slot_of;
        self.prev_len = old.prev_len;
        self.order = old.order;
        self.report = old.report;
        self.metadata = old.metadata;
        self.iteration = old.iteration;
    }

    /// Turns a scraped body into samples for time `t` (ms), checking every
    /// limit. On `Err` nothing of the body is kept and the caller records a
    /// failed scrape.
    fn process(
        &mut self,
        body: &str,
        format: Format,
        t: i64,
        batch: &mut Vec<(S::Series, i64, f64)>,
    ) -> Result<Counts, ScrapeError> {
        self.iteration += 1;
        self.order.begin();
        let mut counts = Counts::default();
        // What Prometheus's scraper enforces: the line grammar and `# EOF`.
        let mut parser = Parser::with_validation(format, Validation::Prometheus);
        let mut metadata_changed = false;
        // Text-format lines of series the cache knows need only their
        // numbers: skip building (and validating) their labels again.
        let quick = format == Format::PrometheusText;
        for (i, line) in lines(body).enumerate() {
            if quick {
                // The usual line: the series of the same line last time,
                // compared as a prefix; only the numbers are read.
                if let Some((skip, n, slot)) = self.order.peek_line(line) {
                    if let Some((value, timestamp_ms)) = quick_numbers(&line[n..]) {
                        self.order.advance(skip);
                        self.order.record(&line[..n], slot);
                        counts.scraped += 1;
                        self.take(slot, value, timestamp_ms, t, &mut counts, batch)?;
                        continue;
                    }
                }
                if let Some((text, value, timestamp_ms)) = quick_sample(line) {
                    let slot = match self.order.expect(text) {
                        Some(slot) => Some(slot),
                        None => self.cache.get_mut(text).map(|e| {
                            e.last_seen = self.iteration;
                            e.slot
                        }),
                    };
                    if let Some(slot) = slot {
                        self.order.record(text, slot);
                        counts.scraped += 1;
                        self.take(slot, value, timestamp_ms, t, &mut counts, batch)?;
                        continue;
                    }
                }
            }
            let entry = parser
                .parse_line(line, i + 1)
                .map_err(|e| ScrapeError::Parse(e.to_string()))?;
            let sample = match entry {
                None => continue,
                Some(Entry::Sample(s)) => s,
                Some(Entry::Help { family, help }) => {
                    metadata_changed |=
                        note_metadata(&mut self.metadata, family, self.iteration, |m| {
                            let changed = m.help != help;
                            if changed {
                                m.help = help.into_owned();
                            }
                            changed
                        });
                    continue;
                }
                Some(Entry::Type { family, kind }) => {
                    metadata_changed |=
                        note_metadata(&mut self.metadata, family, self.iteration, |m| {
                            std::mem::replace(&mut m.kind, kind) != kind
                        });
                    continue;
                }
                Some(Entry::Unit { family, unit }) => {
                    metadata_changed |=
                        note_metadata(&mut self.metadata, family, self.iteration, |m| {
                            let changed = m.unit != unit;
                            if changed {
                                m.unit = unit.to_string();
                            }
                            changed
                        });
                    continue;
                }
            };
            counts.scraped += 1;
            let slot = match self.cache.get_mut(sample.series) {
                Some(e) => {
                    e.last_seen = self.iteration;
                    e.slot
                }
                None => {
                    let slot = self.make_series(&sample)?.map(|s| self.slot_for(s));
                    self.cache.insert(
                        sample.series.into(),
                        CacheEntry {
                            slot,
                            last_seen: self.iteration,
                        },
                    );
                    slot
                }
            };
            self.order.record(sample.series, slot);
            self.take(
                slot,
                sample.value,
                sample.timestamp_ms,
                t,
                &mut counts,
                batch,
            )?;
            if let (Some(ex), Some(slot)) = (sample.exemplar, slot) {
                self.keep_exemplar(slot, ex, sample.timestamp_ms, t);
            }
        }
        parser
            .finish()
            .map_err(|e| ScrapeError::Parse(e.to_string()))?;
        // Stale markers for what the previous scrape had and this one
        // lacks; this scrape becomes the previous one.
        let before = batch.len();
        let mut prev_len = 0;
        for tr in self.tracked.iter_mut().flatten() {
            let now = tr.taken == self.iteration;
            if tr.in_prev && tr.prev_track && !now {
                batch.push((tr.series.clone(), t, STALE_NAN));
            }
            tr.in_prev = now;
            tr.prev_track = tr.track;
            prev_len += usize::from(now);
        }
        self.prev_len = prev_len;
        self.order.commit();
        counts.stale = batch.len() - before;
        if self.iteration.is_multiple_of(CACHE_KEEP_SCRAPES) {
            metadata_changed |= self.prune();
        }
        // Published only when a family's HELP, TYPE or UNIT changed or a
        // family was forgotten: the API shares the map instead of copying
        // it per request.
        if metadata_changed {
            let copy = self.metadata.iter();
            self.status.locked().metadata =
                Arc::new(copy.map(|(f, (m, _))| (f.clone(), m.clone())).collect());
        }
        Ok(counts)
    }

    /// The slot of a series the cache just met under a new spelling.
    fn slot_for(&mut self, series: S::Series) -> u32 {
        if let Some(&slot) = self.slot_of.get(&series) {
            return slot;
        }
        let tracked = Tracked {
            series: series.clone(),
            taken: 0,
            track: false,
            in_prev: false,
            prev_track: false,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.tracked[slot as usize] = Some(tracked);
                slot
            }
            None => {
                self.tracked.push(Some(tracked));
                u32::try_from(self.tracked.len() - 1).expect("BUG: 4 billion series in one target")
            }
        };
        self.slot_of.insert(series, slot);
        slot
    }

    /// Forgets cache entries unseen for [`CACHE_KEEP_SCRAPES`] scrapes, and
    /// the series no remaining entry leads to (unless the last scrape had
    /// them: their stale marker is still due).
    /// Forgets cache entries, slots and metadata unseen for
    /// [`CACHE_KEEP_SCRAPES`] scrapes; whether any metadata went.
    fn prune(&mut self) -> bool {
        let now = self.iteration;
        // Lines found through the order did not touch their entries.
        for text in self.order.texts() {
            if let Some(e) = self.cache.get_mut(text) {
                e.last_seen = now;
            }
        }
        self.cache
            .retain(|_, e| now - e.last_seen <= CACHE_KEEP_SCRAPES);
        let mut used = vec![false; self.tracked.len()];
        for slot in self.cache.values().filter_map(|e| e.slot) {
            used[slot as usize] = true;
        }
        for (slot, t) in self.tracked.iter_mut().enumerate() {
            if !used[slot] && t.as_ref().is_some_and(|t| !t.in_prev) {
                let gone = t.take().expect("checked above");
                self.slot_of.remove(&gone.series);
                self.free_slots.push(slot as u32);
            }
        }
        // As Prometheus: a family's metadata outlives its last HELP, TYPE
        // or UNIT line by ten scrapes, so a family that stops being
        // exposed leaves the metadata APIs instead of staying forever.
        let families = self.metadata.len();
        self.metadata
            .retain(|_, (_, seen)| now - *seen <= CACHE_KEEP_SCRAPES);
        self.metadata.len() != families
    }

    /// Slots in use, for tests.
    #[cfg(test)]
    pub fn tracked_slots(&self) -> usize {
        self.tracked.iter().flatten().count()
    }

    /// Adds one scraped sample of the series in `slot` (`None`: dropped by
    /// metric relabeling) to the batch: its timestamp, the sample limit,
    /// duplicates within the scrape and staleness tracking.
    fn take(
        &mut self,
        slot: Option<u32>,
        value: f64,
        timestamp_ms: Option<i64>,
        t: i64,
        counts: &mut Counts,
        batch: &mut Vec<(S::Series, i64, f64)>,
    ) -> Result<(), ScrapeError> {
        let Some(slot) = slot else {
            return Ok(());
        };
        let explicit = self.job.config.honor_timestamps && timestamp_ms.is_some();
        let ts = if explicit {
            timestamp_ms.unwrap_or(t)
        } else {
            t
        };
        let track = !explicit || self.job.config.track_timestamps_staleness;
        // Counted before the duplicate check: Prometheus counts (and
        // limits) every sample that survives relabeling.
        counts.post_relabel += 1;
        let sample_limit = self.job.config.sample_limit;
        if sample_limit > 0 && counts.post_relabel as u64 > sample_limit {
            return Err(ScrapeError::SampleLimit {
                limit: sample_limit,
            });
        }
        let tr = self.tracked[slot as usize]
            .as_mut()
            .expect("BUG: cache entry leads to a freed slot");
        // The same series twice in one scrape: Prometheus keeps the first
        // and refuses the rest as duplicates.
        if tr.taken == self.iteration {
            return Ok(());
        }
        tr.taken = self.iteration;
        tr.track = track;
        if !tr.in_prev {
            counts.added += 1;
        }
        batch.push((tr.series.clone(), ts, value));
        Ok(())
    }

    /// Queues the exemplar of a sample of the series in `slot`. As in
    /// Prometheus: one without its own timestamp takes the sample's (the
    /// scrape time unless honor_timestamps kept the target's), and it is
    /// kept even when the sample itself is a duplicate within the scrape;
    /// the exemplars of samples dropped by relabeling are dropped with them.
    fn keep_exemplar(
        &mut self,
        slot: u32,
        ex: crate::exposition::Exemplar<'_>,
        sample_ts: Option<i64>,
        t: i64,
    ) {
        let Some(tr) = self.tracked[slot as usize].as_ref() else {
            return;
        };
        let default_ts = match sample_ts {
            Some(ts) if self.job.config.honor_timestamps => ts,
            _ => t,
        };
        let mut labels: Vec<(String, String)> = ex
            .labels
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.into_owned()))
            .collect();
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        self.exemplars.push((
            tr.series.clone(),
            ScrapedExemplar {
                labels,
                value: ex.value,
                timestamp_ms: ex.timestamp_ms.unwrap_or(default_ts),
                has_timestamp: ex.timestamp_ms.is_some(),
            },
        ));
    }

    /// Final labels of a scraped sample, or `None` if metric relabeling
    /// drops it; checks the label limits.
    fn make_series(&self, sample: &Sample<'_>) -> Result<Option<S::Series>, ScrapeError> {
        let job = &self.job;
        let mut labels: Vec<(String, String)> =
            Vec::with_capacity(sample.labels.len() + self.target.labels.len() + 1);
        labels.push(("__name__".to_string(), sample.name.to_string()));
        for (n, v) in &sample.labels {
            labels.push((n.to_string(), v.to_string()));
        }
        // Target labels: with honor_labels the scraped value wins; without
        // it a clash renames the scraped label to exported_<name> (and
        // exported_exported_<name> if that is taken too).
        for (name, value) in &self.target.labels {
            match labels.iter().position(|(n, _)| n == name) {
                Some(_) if job.config.honor_labels => {}
                Some(i) => {
                    let mut exported = format!("exported_{name}");
                    while labels.iter().any(|(n, _)| *n == exported) {
                        exported = format!("exported_{exported}");
                    }
                    labels[i].0 = exported;
                    labels.push((name.clone(), value.clone()));
                }
                None => labels.push((name.clone(), value.clone())),
            }
        }
        // `process` sorts and removes empty values even with no rules.
        if !relabel::process(&mut labels, &job.config.metric_relabel_configs) {
            return Ok(None);
        }
        self.check_label_limits(&labels)?;
        self.sink
            .series(&labels)
            .map(Some)
            .map_err(|e| ScrapeError::Parse(e.to_string()))
    }

    fn check_label_limits(&self, labels: &[(String, String)]) -> Result<(), ScrapeError> {
        let l = &self.job.config;
        let metric = labels
            .iter()
            .find(|(n, _)| n == "__name__")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let metric: String = metric.chars().take(50).collect();
        if l.label_limit > 0 && labels.len() as u64 > l.label_limit {
            return Err(ScrapeError::LabelLimit(format!(
                "label_limit exceeded (metric: {metric}, number of labels: {}, limit: {})",
                labels.len(),
                l.label_limit
            )));
        }
        for (name, value) in labels {
            if l.label_name_length_limit > 0 && name.len() as u64 > l.label_name_length_limit {
                return Err(ScrapeError::LabelLimit(format!(
                    "label_name_length_limit exceeded (metric: {metric}, label name: {}, length: {}, limit: {})",
                    name.chars().take(50).collect::<String>(),
                    name.len(),
                    l.label_name_length_limit
                )));
            }
            if l.label_value_length_limit > 0 && value.len() as u64 > l.label_value_length_limit {
                return Err(ScrapeError::LabelLimit(format!(
                    "label_value_length_limit exceeded (metric: {metric}, label name: {name}, value: {:?}, length: {}, limit: {})",
                    value.chars().take(50).collect::<String>(),
                    value.len(),
                    l.label_value_length_limit
                )));
            }
        }
        Ok(())
    }

    fn report_series(&mut self) -> Result<&Report<S::Series>, SinkError> {
        if self.report.is_none() {
            let make = |name: &str| {
                let mut labels = self.target.labels.clone();
                labels.push(("__name__".to_string(), name.to_string()));
                labels.sort();
                self.sink.series(&labels)
            };
            let extra = if self.job.config.extra_scrape_metrics {
                Some([
                    make("scrape_timeout_seconds")?,
                    make("scrape_sample_limit")?,
                    make("scrape_body_size_bytes")?,
                ])
            } else {
                None
            };
            self.report = Some(Report {
                up: make("up")?,
                duration: make("scrape_duration_seconds")?,
                scraped: make("scrape_samples_scraped")?,
                post_relabel: make("scrape_samples_post_metric_relabeling")?,
                added: make("scrape_series_added")?,
                extra,
            });
        }
        Ok(self.report.as_ref().expect("set above"))
    }

    /// Records one scrape attempt that started at `t` (ms) and whose fetch
    /// took `duration`, with a sink that stores before it answers (tests,
    /// simple sinks): [`Self::begin`], append, [`Self::end`].
    #[cfg(test)]
    pub fn complete(
        &mut self,
        t: i64,
        duration: Duration,
        result: Result<(&str, Format), ScrapeError>,
    ) {
        let (batch, attempt) = self.begin(t, duration, result);
        let exemplars = self.take_exemplars();
        let stored = self
            .sink
            .append_with_exemplars(batch, exemplars)
            .blocking_recv()
            .unwrap_or(Err(SinkError::Closed("the sink went away")));
        self.end(attempt, stored);
    }

    /// First half of recording a scrape: the samples to append — the
    /// scrape's own (or, if `result` failed, stale markers for everything)
    /// and the report series.
    pub fn begin(
        &mut self,
        t: i64,
        duration: Duration,
        result: Result<(&str, Format), ScrapeError>,
    ) -> (Vec<(S::Series, i64, f64)>, Attempt) {
        let mut batch = Vec::with_capacity(self.prev_len + 8);
        self.exemplars.clear();
        // `scrape_body_size_bytes`: -1 when the body was over the limit,
        // as Prometheus reports it.
        let body_bytes = match &result {
            Ok((body, _)) => body.len() as f64,
            Err(e) if e.reason() == "body_size_limit" => -1.0,
            Err(_) => 0.0,
        };
        let outcome = result.and_then(|(body, format)| {
            let r = self.process(body, format, t, &mut batch);
            if r.is_err() {
                batch.clear();
                self.exemplars.clear();
            }
            r
        });
        let counts = match &outcome {
            Ok(c) => *c,
            Err(_) => {
                self.stale_everything(t, &mut batch);
                Counts {
                    stale: batch.len(),
                    ..Counts::default()
                }
            }
        };
        let up = if outcome.is_ok() { 1.0 } else { 0.0 };
        self.stats.scrapes.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = &outcome {
            self.stats.failed(e);
        }
        self.stats
            .stale_markers
            .fetch_add(counts.stale as u64, Ordering::Relaxed);
        self.stats
            .samples
            .fetch_add(counts.post_relabel as u64, Ordering::Relaxed);
        let timeout = self.target.timeout.as_secs_f64();
        let sample_limit = self.job.config.sample_limit as f64;
        match self.report_series() {
            Ok(r) => {
                batch.extend([
                    (r.up.clone(), t, up),
                    (r.duration.clone(), t, duration.as_secs_f64()),
                    (r.scraped.clone(), t, counts.scraped as f64),
                    (r.post_relabel.clone(), t, counts.post_relabel as f64),
                    (r.added.clone(), t, counts.added as f64),
                ]);
                if let Some([timeout_s, limit_s, bytes_s]) = &r.extra {
                    batch.extend([
                        (timeout_s.clone(), t, timeout),
                        (limit_s.clone(), t, sample_limit),
                        (bytes_s.clone(), t, body_bytes),
                    ]);
                }
            }
            Err(e) => {
                tracing::warn!(target_url = %self.target.url, error = %e, "report series refused")
            }
        }
        let attempt = Attempt {
            t,
            duration,
            counts,
            error: outcome.err().map(|e| e.to_string()),
        };
        (batch, attempt)
    }

    /// The exemplars of the scrape [`Self::begin`] just recorded, to hand
    /// to [`Sink::append_with_exemplars`] with its batch.
    pub fn take_exemplars(&mut self) -> Vec<(S::Series, ScrapedExemplar)> {
        std::mem::take(&mut self.exemplars)
    }

    /// Second half: once the sink has stored (or failed to store) the
    /// batch, the target's status says how the scrape went — so `up` in the
    /// API never runs ahead of the data.
    pub fn end(&mut self, attempt: Attempt, stored: Result<Appended, SinkError>) {
        let mut error = attempt.error;
        match stored {
            Ok(a) if a.rejected > 0 => {
                tracing::debug!(
                    target_url = %self.target.url,
                    rejected = a.rejected,
                    example = a.first_rejection.as_deref().unwrap_or(""),
                    "samples of a scrape refused by storage"
                );
            }
            Ok(_) => {}
            Err(e) => {
                // Storage failed: nothing of this scrape is stored, so the
                // next scrape must not assume these series exist.
                self.forget_prev();
                let e = ScrapeError::Append(e);
                if error.is_none() {
                    self.stats.failed(&e);
                    error = Some(e.to_string());
                }
            }
        }
        let mut status = self.status.locked();
        status.health = if error.is_none() {
            TargetHealth::Up
        } else {
            TargetHealth::Down
        };
        status.last_error = error.unwrap_or_default();
        status.last_scrape_ms = Some(attempt.t);
        status.last_duration = attempt.duration;
        status.last_samples = attempt.counts.post_relabel;
    }

    fn stale_everything(&mut self, t: i64, batch: &mut Vec<(S::Series, i64, f64)>) {
        for tr in self.tracked.iter().flatten() {
            if tr.in_prev && tr.prev_track {
                batch.push((tr.series.clone(), t, STALE_NAN));
            }
        }
        self.forget_prev();
    }

    fn forget_prev(&mut self) {
        for tr in self.tracked.iter_mut().flatten() {
            tr.in_prev = false;
        }
        self.prev_len = 0;
    }

    /// The target is gone: stale markers at `t` for its series and its
    /// report series, as Prometheus writes at the end of a loop.
    pub fn end_of_run(&mut self, t: i64) -> Committed {
        let mut batch = Vec::with_capacity(self.prev_len + 8);
        self.stale_everything(t, &mut batch);
        if let Ok(r) = self.report_series() {
            for s in r.all() {
                batch.push((s.clone(), t, STALE_NAN));
            }
        }
        self.sink.append(batch)
    }
}

/// Records one metadata line of `family`, seen in scrape `iteration`;
/// whether anything changed.
fn note_metadata(
    metadata: &mut HashMap<String, (Metadata, u64)>,
    family: &str,
    iteration: u64,
    update: impl FnOnce(&mut Metadata) -> bool,
) -> bool {
    match metadata.get_mut(family) {
        Some((m, seen)) => {
            *seen = iteration;
            update(m)
        }
        None => {
            let mut m = Metadata {
                kind: MetricType::Unknown,
                help: String::new(),
                unit: String::new(),
            };
            update(&mut m);
            metadata.insert(family.to_string(), (m, iteration));
            true
        }
    }
}

/// Runs a target's loop until `stop` says so: waits for the target's slot
/// in the interval, then scrapes every interval. When stopped with
/// `stale = true` (the target disappeared), writes end-of-run stale markers
/// once the next scrape would have been due. A `predecessor` (the same
/// target's loop under the previous config, stopped quietly) is waited for
/// and its state adopted first. Returns the loop's state, for a successor.
///
/// Scrape and stale-marker times are `clock`'s; the waits are Tokio timers
/// set from it, and a scrape's duration is measured on Tokio's clock.
pub async fn run<S: Sink>(
    mut state: ScrapeState<S>,
    client: reqwest::Client,
    offset_seed: u64,
    clock: Clock,
    forced_error: Arc<Mutex<Option<ScrapeError>>>,
    mut stop: tokio::sync::watch::Receiver<Option<bool>>,
    predecessor: Option<tokio::task::JoinHandle<ScrapeState<S>>>,
) -> ScrapeState<S> {
    // The old loop of this target finishes a scrape in flight before it
    // hands its state over, so the two never scrape at once and the new
    // loop's first scrape is compared with the old loop's last.
    if let Some(old) = predecessor {
        if let Ok(old) = old.await {
            state.adopt(old);
        }
    }
    let interval = state.target.interval;
    let offset = state.target.offset(offset_seed);
    let start = first_tick(&clock, interval, offset);
    let mut ticker = tokio::time::interval_at(start, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut buf = Vec::new();
    let mut last_t = None;
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = ticker.tick() => {}
        }
        let t = clock.now_ms();
        let started = tokio::time::Instant::now();
        let forced = forced_error.locked().clone();
        let fetched = match forced {
            Some(e) => Err(e),
            None => http::fetch(&client, &state.job, &state.target, &mut buf)
                .await
                .map_err(ScrapeError::from),
        };
        let duration = started.elapsed();
        if let (Err(e @ ScrapeError::Fetch(_)), Some(log)) = (&fetched, &state.job.failure_log) {
            log.record(
                t,
                &state.job.config.job_name,
                &state.target.url,
                &e.to_string(),
            );
        }
        // Parsing a body is short CPU work and the sink only queues the
        // samples, so this runs on the async worker (a hop to the blocking
        // pool per scrape cost more than the work itself).
        let result = fetched.and_then(|format| match std::str::from_utf8(&buf) {
            Ok(text) => Ok((text, format)),
            Err(e) => Err(ScrapeError::Parse(format!(
                "the response is not valid UTF-8 (at byte {})",
                e.valid_up_to()
            ))),
        });
        let (batch, attempt) = state.begin(t, duration, result);
        let exemplars = state.take_exemplars();
        let stored = state
            .sink
            .append_with_exemplars(batch, exemplars)
            .await
            .unwrap_or(Err(SinkError::Closed("the sink went away")));
        state.end(attempt, stored);
        last_t = Some(t);
        // Keep the body buffer from growing without bound after one huge
        // scrape.
        if buf.capacity() > 4 * buf.len().max(1 << 16) {
            buf = Vec::new();
        }
    }
    let stale = *stop.borrow();
    if stale == Some(true) {
        if let Some(last) = last_t {
            // As Prometheus: the markers carry the time the next scrape
            // would have been due, and are written one more interval (and
            // 10 %) later. A loop re-created for the same target (a reload,
            // a target file rewritten) ticks on the same grid, so by then
            // it has stored samples at or after that time, and its series
            // refuse the markers (out of order or duplicate) instead of
            // showing a gap. The time is the grid point itself, not `last`
            // plus an interval: `last` may be a few milliseconds late,
            // and the new loop's sample on time.
            let interval_ms = interval.as_millis().max(1) as i64;
            let due = next_on_grid(last + 1, interval_ms, offset.as_millis() as i64);
            let wait = (due + interval_ms - clock.now_ms()).max(0) as u64 + interval_ms as u64 / 10;
            tokio::time::sleep(Duration::from_millis(wait)).await;
            if let Ok(Err(e)) = state.end_of_run(due).await {
                tracing::warn!(error = %e, "writing stale markers failed");
            }
        }
    }
    state
}

/// The first tick: the next point in `clock`'s time that is `offset` past
/// a multiple of `interval`, so a target keeps its phase across restarts.
fn first_tick(clock: &Clock, interval: Duration, offset: Duration) -> tokio::time::Instant {
    let interval_ms = interval.as_millis().max(1) as i64;
    let now = clock.now_ms();
    let next = next_on_grid(now, interval_ms, offset.as_millis() as i64);
    tokio::time::Instant::now() + Duration::from_millis((next - now) as u64)
}

/// The first point at or after `t` (ms) that is `offset_ms` past a
/// multiple of `interval_ms`: the target's tick times.
pub(crate) fn next_on_grid(t: i64, interval_ms: i64, offset_ms: i64) -> i64 {
    t + (offset_ms - t).rem_euclid(interval_ms)
}
