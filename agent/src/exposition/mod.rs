//! Exposition-format parsing: Prometheus text format 0.0.4 and OpenMetrics
//! 1.0 text, turned into [`Entry`] values one line at a time.
//!
//! Place in the flow: *scrape → parse → append* (the scrape loop feeds each
//! line of a target's response body to a [`Parser`] and appends the
//! samples) and *import → parse → storage* (`pharos import` does the same
//! with a file). Both stream: nothing holds more than one line, and entries
//! borrow from that line, so a sample costs one `Vec` for its labels and
//! nothing else unless a label value has escapes to undo.
//!
//! - [`Parser`] carries what spans lines. In [`Format::PrometheusText`]
//!   that is nothing: the format is read as leniently as Prometheus reads
//!   it. In [`Format::OpenMetrics`] it enforces the line grammar and the
//!   closing `# EOF` and, with [`Validation::Strict`] (the default), the
//!   rest of the spec — metric-family rules, grouping, value ranges and
//!   histogram consistency — passing all 211 cases of the OpenMetrics
//!   conformance suite. [`Validation::Prometheus`] accepts what
//!   Prometheus's scraper accepts, for targets that break those rules.
//! - [`Entry`] is one meaningful line: [`Entry::Help`], [`Entry::Type`],
//!   [`Entry::Unit`] or a [`Sample`] (with an OpenMetrics [`Exemplar`]).
//! - [`ParseError`] names the line and says what to fix.
//! - [`parse_all`] is the convenience for a whole body in memory.
//!
//! Timestamps come out in milliseconds: as written in the text format, and
//! rounded to the nearest millisecond from OpenMetrics' float seconds.
//! `_created` samples are passed on as ordinary samples.
//!
//! Files: `lexer` (names, quoted strings, label sets, numbers), `text`
//! (0.0.4 lines), `openmetrics` (OpenMetrics lines), `rules` (the
//! OpenMetrics rules that span lines).

mod lexer;
mod openmetrics;
mod rules;
mod text;

pub use text::{quick_numbers, quick_sample};

use std::borrow::Cow;
use std::fmt;

/// Which exposition format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

impl Format {
    /// The format an HTTP `Content-Type` value names: OpenMetrics for
    /// `application/openmetrics-text`, the text format for `text/plain`,
    /// `None` for anything else (the caller picks a fallback).
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("application/openmetrics-text") {
            Some(Format::OpenMetrics)
        } else if media.eq_ignore_ascii_case("text/plain") {
            Some(Format::PrometheusText)
        } else {
            None
        }
    }
}

/// How much of OpenMetrics beyond its line grammar a [`Parser`] enforces.
/// The Prometheus text format has no cross-line rules, so this only
/// matters for [`Format::OpenMetrics`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validation {
    /// The whole OpenMetrics 1.0 spec, as its conformance suite demands:
    /// family and naming rules, grouping, value ranges, histogram
    /// consistency, exemplar placement and size. For `pharos check`-style
    /// validation and for files known to be clean.
    #[default]
    Strict,
    /// What Prometheus's scraper accepts: the line grammar, the final
    /// `# EOF` and exemplars only on samples named `*_total` or `*_bucket`
    /// (whatever the family's type), none of the rules above. Client libraries do emit bodies the
    /// spec forbids — client_golang writes a negative `_sum` for a histogram
    /// with negative buckets — and Prometheus ingests them, so a scraper
    /// that must not lose such targets uses this.
    Prometheus,
}

/// The type of a metric family, from its `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
    /// OpenMetrics `unknown`; text format `untyped`.
    Unknown,
}

impl MetricType {
    /// The OpenMetrics spelling (`unknown` for the text format's `untyped`).
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One meaningful line of an exposition, borrowing from that line.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP family text`, with the text unescaped.
    Help {
        family: &'a str,
        help: Cow<'a, str>,
    },
    /// `# TYPE family kind`.
    Type {
        family: &'a str,
        kind: MetricType,
    },
    /// `# UNIT family unit` (OpenMetrics only).
    Unit {
        family: &'a str,
        unit: &'a str,
    },
    Sample(Sample<'a>),
}

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The sample's metric name, suffix included (`http_requests_total`).
    pub name: &'a str,
    /// The series as written on the line — name and label set, up to the
    /// value, spacing and escapes untouched. Two lines of one exposition
    /// with the same text here are the same series, so a scraper can key a
    /// cache on it and skip rebuilding label sets it has seen.
    pub series: &'a str,
    /// Labels in the order written, values unescaped; never `__name__`.
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: f64,
    /// Milliseconds since the Unix epoch, if the line carries a timestamp.
    pub timestamp_ms: Option<i64>,
    /// OpenMetrics only.
    pub exemplar: Option<Exemplar<'a>>,
}

/// An OpenMetrics exemplar (` # {trace_id="…"} 0.25 1700000000.123`).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    pub labels: Vec<(&'a str, Cow<'a, str>)>,
    pub value: f64,
    pub timestamp_ms: Option<i64>,
}

/// A line that could not be parsed, or an OpenMetrics rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number (for an error at the end of input, the last line).
    pub line: usize,
    pub message: String,
}

/// Streaming parser for one exposition. Feed lines in order with
/// [`Parser::parse_line`], then call [`Parser::finish`]. After an error
/// the exposition as a whole is invalid; stop feeding it.
pub struct Parser {
    format: Format,
    validation: Validation,
    /// Label count of the previous sample: the next sample's `Vec` is
    /// allocated at that size once, instead of growing 0→4→8→16.
    label_hint: usize,
    /// OpenMetrics cross-line state; stays empty (and unallocated) for the
    /// text format.
    rules: rules::Rules,
    /// Last line number fed, to place end-of-input errors.
    last_line: usize,
}

impl Parser {
    /// A parser with [`Validation::Strict`].
    pub fn new(format: Format) -> Self {
        Parser::with_validation(format, Validation::Strict)
    }

    pub fn with_validation(format: Format, validation: Validation) -> Self {
        Parser {
            format,
            validation,
            label_hint: 0,
            rules: rules::Rules::default(),
            last_line: 0,
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn validation(&self) -> Validation {
        self.validation
    }

    /// Forgets everything about the previous exposition so the parser (and
    /// the memory it has grown) can be reused for the next scrape.
    pub fn reset(&mut self) {
        self.rules.reset();
        self.last_line = 0;
    }

    /// Parses one line, given without its trailing `'\n'`. `lineno` is
    /// 1-based and only used in errors. Returns `None` for lines that carry
    /// nothing (text-format comments and blank lines, `# EOF`).
    pub fn parse_line<'a>(
        &mut self,
        line: &'a str,
        lineno: usize,
    ) -> Result<Option<Entry<'a>>, ParseError> {
        self.last_line = lineno;
        let result = match self.format() {
            Format::PrometheusText => text::parse_line(line, &mut self.label_hint),
            Format::OpenMetrics => openmetrics::parse_line(
                line,
                lineno,
                self.validation == Validation::Strict,
                &mut self.rules,
                &mut self.label_hint,
            ),
        };
        result.map_err(|message| ParseError {
            line: lineno,
            message,
        })
    }

    /// Ends the input. OpenMetrics requires `# EOF` as the last line.
    pub fn finish(&mut self) -> Result<(), ParseError> {
        if self.format() == Format::OpenMetrics && self.rules.eof_line().is_none() {
            return Err(ParseError {
                line: self.last_line.max(1),
                message: "the input ends without \"# EOF\"; OpenMetrics requires it as the last line (was the response cut off?)".to_string(),
            });
        }
        Ok(())
    }
}

/// Splits a body into lines the way the parser expects them: on `'\n'`
/// only (a `'\r'` stays, as OpenMetrics forbids it), with no empty line
/// after a final newline, and none at all for an empty body.
pub fn lines(body: &str) -> Lines<'_> {
    Lines {
        rest: Some(body).filter(|b| !b.is_empty()),
    }
}

/// Iterator returned by [`lines`].
pub struct Lines<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match lexer::find2(rest.as_bytes(), b'\n', b'\n') {
            Some(i) => {
                // A final '\n' ends the last line; it does not start one.
                self.rest = Some(&rest[i + 1..]).filter(|r| !r.is_empty());
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// Parses a whole body with [`Validation::Strict`], returning every entry
/// or the first error.
pub fn parse_all(body: &str, format: Format) -> Result<Vec<Entry<'_>>, ParseError> {
    parse_all_with(body, format, Validation::Strict)
}

/// [`parse_all`] with a chosen [`Validation`].
pub fn parse_all_with(
    body: &str,
    format: Format,
    validation: Validation,
) -> Result<Vec<Entry<'_>>, ParseError> {
    let mut parser = Parser::with_validation(format, validation);
    let mut out = Vec::new();
    for (i, line) in lines(body).enumerate() {
        if let Some(entry) = parser.parse_line(line, i + 1)? {
            out.push(entry);
        }
    }
    parser.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests;
