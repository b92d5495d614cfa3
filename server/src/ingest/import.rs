//! `pharos import openmetrics FILE`: offline backfill of an OpenMetrics text
//! file (the input of `promtool tsdb create-blocks-from openmetrics`) into a
//! data directory.
//!
//! The file is read line by line through the agent's exposition parser,
//! samples are gathered per series in memory, and every few million samples
//! the gathered runs are written as sealed chunks ([`Storage::write_chunks`])
//! — no head, no write-ahead log, one transaction per few hundred series.
//! The directory lock makes it refuse to run beside a server.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pharos_agent::exposition::{Entry, Format, Parser, Validation};

use crate::storage::{Labels, Options, SeriesSamples, Storage, StorageError, METRIC_NAME};

/// Samples gathered in memory before they are written out.
const FLUSH_SAMPLES: usize = 4_000_000;
/// Series per write transaction.
const SERIES_PER_TX: usize = 500;

/// Why an import stopped. Samples of earlier flushes stay imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Input {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportSummary {
    pub series: usize,
    pub new_series: usize,
    pub samples: usize,
    pub bytes_written: u64,
    pub elapsed: Duration,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} samples of {} series ({} new) in {:.1}s; database grew by {} bytes ({:.2} bytes/sample)",
            self.samples,
            self.series,
            self.new_series,
            self.elapsed.as_secs_f64(),
            self.bytes_written,
            if self.samples > 0 {
                self.bytes_written as f64 / self.samples as f64
            } else {
                0.0
            }
        )
    }
}

/// Per-series state while reading.
struct Pending {
    labels: Labels,
    samples: Vec<(i64, f64)>,
    /// Last timestamp seen, across flushes, for the order check.
    last_t: Option<i64>,
}

/// Imports `file` into the data directory `dir`.
pub fn import_openmetrics(
    file: &Path,
    dir: &Path,
    show_progress: bool,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    let read_err = |source| ImportError::Read {
        path: file.to_path_buf(),
        source,
    };
    let input_err = |line: usize, message: String| ImportError::Input {
        path: file.to_path_buf(),
        line,
        message,
    };
    let f = File::open(file).map_err(read_err)?;
    let total = f.metadata().map_err(read_err)?.len();
    let storage = Storage::open(
        dir,
        Options {
            retention_ms: None,
            retention_bytes: None,
            // One fsync at the end (closing the database) is enough: an
            // interrupted import is re-run, not resumed.
            sync_full: false,
            ..Options::default()
        },
    )?;
    let bytes_before = storage.disk_bytes()?;
    // Same bound as live appends: a file in the wrong unit would otherwise
    // put "newest" centuries ahead, and retention would then delete
    // everything else.
    let too_new = Options::default().clock.now_ms() + crate::storage::MAX_AHEAD_MS;

    let bar = if show_progress {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };

    let mut reader = BufReader::with_capacity(1 << 20, f);
    // Accept what promtool's backfill accepts: files written by dump tools
    // interleave the series of a family by time, which the strict
    // OpenMetrics grouping rules forbid. Per-series time order is still
    // checked below.
    let mut parser = Parser::with_validation(Format::OpenMetrics, Validation::Prometheus);
    let mut series: Vec<Pending> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut key = String::new();
    let mut line = String::new();
    let mut lineno = 0usize;
    let mut buffered = 0usize;
    let mut summary = ImportSummary::default();
    let mut read_bytes = 0u64;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(read_err)?;
        if n == 0 {
            break;
        }
        lineno += 1;
        read_bytes += n as u64;
        if lineno.is_multiple_of(65536) {
            bar.set_position(read_bytes);
        }
        let text = line.strip_suffix('\n').unwrap_or(&line);
        let entry = parser
            .parse_line(text, lineno)
            .map_err(|e| input_err(e.line, e.message))?;
        let Some(Entry::Sample(s)) = entry else {
            continue;
        };
        let Some(t) = s.timestamp_ms else {
            return Err(input_err(
                lineno,
                format!(
                    "sample of {} has no timestamp; every sample of an import file needs one",
                    s.name
                ),
            ));
        };
        // Look the series up by a key built in a reused buffer, so known
        // series cost no allocation.
        key.clear();
        key.push_str(s.name);
        for (n, v) in &s.labels {
            key.push('\u{0}');
            key.push_str(n);
            key.push('\u{0}');
            key.push_str(v);
        }
        let idx = match by_key.get(key.as_str()) {
            Some(&i) => i,
            None => {
                let mut pairs: Vec<(String, String)> = Vec::with_capacity(s.labels.len() + 1);
                pairs.push((METRIC_NAME.to_string(), s.name.to_string()));
                pairs.extend(s.labels.iter().map(|(n, v)| (n.to_string(), v.to_string())));
                let labels = Labels::from_unsorted(pairs)
                    .map_err(|e| input_err(lineno, format!("invalid labels: {e}")))?;
                series.push(Pending {
                    labels,
                    samples: Vec::new(),
                    last_t: None,
                });
                by_key.insert(key.clone(), series.len() - 1);
                series.len() - 1
            }
        };
        if t > too_new {
            return Err(input_err(
                lineno,
                format!(
                    "timestamp {t} lies more than 10 minutes in the future; OpenMetrics timestamps are seconds since 1970 (was it written in milliseconds?)"
                ),
            ));
        }
        let p = &mut series[idx];
        if p.last_t.is_some_and(|lt| t <= lt) {
            return Err(input_err(
                lineno,
                format!(
                    "timestamp {t} of series {} is not after its previous sample ({}); samples of a series must be in increasing time order",
                    p.labels,
                    p.last_t.unwrap_or_default()
                ),
            ));
        }
        p.last_t = Some(t);
        p.samples.push((t, s.value));
        buffered += 1;
        summary.samples += 1;
        if buffered >= FLUSH_SAMPLES {
            flush(&storage, &mut series, &mut summary)?;
            buffered = 0;
        }
    }
    parser
        .finish()
        .map_err(|e| input_err(e.line.max(lineno), e.message))?;
    flush(&storage, &mut series, &mut summary)?;
    bar.set_position(total);
    bar.finish_and_clear();
    summary.series = series.len();
    storage.checkpoint()?;
    summary.bytes_written = storage.disk_bytes()?.saturating_sub(bytes_before);
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Writes every gathered run as sealed chunks and empties the buffers.
fn flush(
    storage: &Storage,
    series: &mut [Pending],
    summary: &mut ImportSummary,
) -> Result<(), StorageError> {
    let mut batch = Vec::with_capacity(SERIES_PER_TX);
    for p in series.iter_mut().filter(|p| !p.samples.is_empty()) {
        batch.push(SeriesSamples {
            labels: p.labels.clone(),
            samples: std::mem::take(&mut p.samples),
        });
        if batch.len() == SERIES_PER_TX {
            summary.new_series += storage.write_chunks(&batch)?.new_series;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        summary.new_series += storage.write_chunks(&batch)?.new_series;
    }
    Ok(())
}
