//! OpenMetrics 1.0 text, line syntax. The grammar is the spec's ABNF
//! taken literally: single spaces between tokens, no blank lines, no
//! comments other than `# HELP`, `# TYPE`, `# UNIT` and the final `# EOF`.
//! Every parsed line is then handed to [`Rules`], which checks what spans
//! lines (families, grouping, histogram consistency).

use super::lexer::{self, Cursor, LabelSyntax};
use super::rules::{Meta, Rules};
use super::{Entry, Exemplar, MetricType, Sample};

/// Exemplar label sets are capped so an exemplar stays a small annotation
/// (spec: "MUST NOT exceed 128 UTF-8 character code points").
const EXEMPLAR_MAX_CHARS: usize = 128;

/// `strict` turns on the cross-line rules and the exemplar size limit;
/// without it the grammar, `# EOF` and what Prometheus's parser checks of
/// exemplars (the sample's name ends in `_total` or `_bucket`) are checked.
/// Prometheus leaves an oversize exemplar label set to its exemplar
/// storage, which drops the exemplar and keeps the sample; pharos's does
/// the same.
pub(super) fn parse_line<'a>(
    line: &'a str,
    lineno: usize,
    strict: bool,
    rules: &mut Rules,
    label_hint: &mut usize,
) -> Result<Option<Entry<'a>>, String> {
    if let Some(eof) = rules.eof_line() {
        let what = if line.is_empty() {
            "a blank line".to_string()
        } else {
            lexer::snippet(line)
        };
        return Err(format!(
            "unexpected {what} after the \"# EOF\" on line {eof}; \"# EOF\" must be the last line"
        ));
    }
    if line.is_empty() {
        return Err("blank line; OpenMetrics does not allow empty lines".to_string());
    }
    if line == "# EOF" {
        rules.on_eof(lineno)?;
        return Ok(None);
    }
    if line.starts_with('#') {
        return metadata(line, lineno, strict.then_some(rules)).map(Some);
    }
    let (sample, ts_secs) = sample(line, strict, label_hint)?;
    if strict {
        rules.on_sample(&sample, ts_secs, lineno)?;
    }
    Ok(Some(Entry::Sample(sample)))
}

fn metadata<'a>(
    line: &'a str,
    lineno: usize,
    rules: Option<&mut Rules>,
) -> Result<Entry<'a>, String> {
    let mut cur = Cursor::new(line);
    let keyword = if cur.eat_str("# HELP") {
        "HELP"
    } else if cur.eat_str("# TYPE") {
        "TYPE"
    } else if cur.eat_str("# UNIT") {
        "UNIT"
    } else {
        return Err(format!(
            "{} is not a valid OpenMetrics line: lines starting with '#' must be \"# HELP\", \"# TYPE\", \"# UNIT\" or \"# EOF\" (plain comments are not allowed)",
            lexer::snippet(line)
        ));
    };
    if !cur.eat(b' ') {
        return Err(format!(
            "expected a space and a metric name after \"# {keyword}\", {}",
            cur.found()
        ));
    }
    let family = lexer::metadata_name(&mut cur, keyword)?;
    if !cur.eat(b' ') {
        let what = match keyword {
            "HELP" => "the help text (which may be empty)",
            "TYPE" => "the metric type",
            _ => "the unit (which may be empty)",
        };
        return Err(format!(
            "expected a single space and {what} after \"# {keyword} {family}\", {}",
            cur.found()
        ));
    }
    let rest = cur.rest();
    match keyword {
        "HELP" => {
            if let Some(rules) = rules {
                rules.on_metadata(family, Meta::Help, lineno)?;
            }
            Ok(Entry::Help {
                family,
                help: lexer::unescape(rest, true),
            })
        }
        "TYPE" => {
            let kind = match rest {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "gaugehistogram" => MetricType::GaugeHistogram,
                "summary" => MetricType::Summary,
                "info" => MetricType::Info,
                "stateset" => MetricType::StateSet,
                "unknown" => MetricType::Unknown,
                "untyped" => {
                    return Err(format!(
                        "\"untyped\" is a Prometheus text-format type; OpenMetrics calls it \"unknown\" (in \"# TYPE {family} untyped\")"
                    ))
                }
                _ => {
                    return Err(format!(
                        "unknown metric type {} for {family:?}; OpenMetrics knows counter, gauge, histogram, gaugehistogram, summary, info, stateset and unknown",
                        lexer::snippet(rest)
                    ))
                }
            };
            if let Some(rules) = rules {
                rules.on_metadata(family, Meta::Type(kind), lineno)?;
            }
            Ok(Entry::Type { family, kind })
        }
        _ => {
            if !lexer::is_metric_name_chars(rest) {
                return Err(format!(
                    "the unit {} of {family:?} may only contain letters, digits, '_' and ':'",
                    lexer::snippet(rest)
                ));
            }
            if let Some(rules) = rules {
                rules.on_metadata(family, Meta::Unit(rest), lineno)?;
            }
            Ok(Entry::Unit { family, unit: rest })
        }
    }
}

/// Parses `name[{labels}] value [timestamp] [# {labels} value [timestamp]]`
/// and returns the raw timestamp in seconds alongside, because the
/// ordering rules compare timestamps at full precision.
fn sample<'a>(
    line: &'a str,
    strict: bool,
    label_hint: &mut usize,
) -> Result<(Sample<'a>, Option<f64>), String> {
    let mut cur = Cursor::new(line);
    let mut name = None;
    if cur.peek() != Some(b'{') {
        let n = cur.metric_name();
        if n.is_empty() {
            return Err(format!(
                "expected a metric name (letters, digits, '_' and ':', not starting with a digit) at the start of the line, {}",
                cur.found()
            ));
        }
        name = Some(n);
    }
    let mut labels = Vec::new();
    let after = if cur.peek() == Some(b'{') {
        labels.reserve_exact(*label_hint);
        if let Some(q) =
            lexer::label_set(&mut cur, LabelSyntax::Strict, name.is_none(), &mut labels)?
        {
            name = Some(q);
        }
        "the label set"
    } else {
        "the metric name"
    };
    let series = cur.consumed();
    let Some(name) = name else {
        return Err(
            "the label set does not name the metric; write the name before '{' or as a quoted string inside the braces"
                .to_string(),
        );
    };
    if !cur.eat(b' ') {
        return Err(if cur.at_end() {
            format!("expected a space and a value after {after}, found the end of the line")
        } else {
            format!(
                "unexpected {} after {} {name:?}; expected a single space and the value",
                lexer::snippet(cur.rest()),
                if after == "the label set" {
                    "the label set of"
                } else {
                    "the metric name"
                }
            )
        });
    }
    let text = cur.token(false);
    if text.is_empty() {
        return Err(format!(
            "expected a value after {after} and a single space, {}",
            cur.found()
        ));
    }
    let value = lexer::parse_value(text).map_err(|e| e.explain("the value", text))?;

    let mut ts_secs = None;
    let mut exemplar = None;
    if cur.eat(b' ') {
        if cur.peek() != Some(b'#') {
            ts_secs = Some(timestamp(&mut cur, "value")?);
            if cur.eat(b' ') && cur.peek() != Some(b'#') {
                return Err(if cur.at_end() {
                    "trailing space after the timestamp; OpenMetrics lines end right after the last token".to_string()
                } else {
                    format!(
                        "unexpected {} after the timestamp; only an exemplar (\" # {{labels}} value\") may follow it",
                        lexer::snippet(cur.rest())
                    )
                });
            }
        }
        if cur.peek() == Some(b'#') {
            // Strict mode checks placement by family type in `Rules`; what
            // Prometheus's scraper checks is the name alone, before the
            // exemplar itself, and it fails the scrape.
            let allowed = name.ends_with("_total") || name.ends_with("_bucket");
            if !strict && !allowed {
                return Err(format!(
                    "metric name {name:?} does not support exemplars: only samples whose name ends in _total or _bucket may carry one"
                ));
            }
            exemplar = Some(parse_exemplar(&mut cur, strict)?);
        }
    }
    if !cur.at_end() {
        let rest = cur.rest();
        return Err(if rest.trim().is_empty() {
            "trailing whitespace at the end of the line; OpenMetrics lines end right after the last token".to_string()
        } else {
            format!(
                "unexpected {} at the end of the sample line",
                lexer::snippet(rest)
            )
        });
    }
    *label_hint = labels.len();
    let sample = Sample {
        name,
        series,
        labels,
        value,
        timestamp_ms: ts_secs.map(lexer::seconds_to_ms),
        exemplar,
    };
    Ok((sample, ts_secs))
}

/// A timestamp token right at the cursor (the separating space is eaten).
fn timestamp(cur: &mut Cursor<'_>, after: &str) -> Result<f64, String> {
    let text = cur.token(false);
    if text.is_empty() {
        return Err(format!(
            "expected a timestamp after the {after} and a single space, {} (tokens are separated by exactly one space, and lines have no trailing space)",
            cur.found()
        ));
    }
    lexer::parse_real(text).map_err(|_| {
        format!(
            "the timestamp {} is not a decimal number of seconds since the Unix epoch (NaN, Inf and hex are not allowed)",
            lexer::snippet(text)
        )
    })
}

fn parse_exemplar<'a>(cur: &mut Cursor<'a>, strict: bool) -> Result<Exemplar<'a>, String> {
    if !(cur.eat_str("# ") && cur.peek() == Some(b'{')) {
        return Err(format!(
            "malformed exemplar {}; write it as \" # {{label=\\\"value\\\"}} value [timestamp]\"",
            lexer::snippet(cur.rest())
        ));
    }
    let mut labels = Vec::new();
    lexer::label_set(cur, LabelSyntax::Strict, false, &mut labels)?;
    let chars = || -> usize {
        labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum()
    };
    if strict && chars() > EXEMPLAR_MAX_CHARS {
        return Err(format!(
            "the exemplar's labels are {} characters long (names and values together); OpenMetrics allows at most {EXEMPLAR_MAX_CHARS}",
            chars()
        ));
    }
    if !cur.eat(b' ') {
        return Err(format!(
            "expected a space and a value after the exemplar's label set, {}",
            cur.found()
        ));
    }
    let text = cur.token(false);
    if text.is_empty() {
        return Err(format!(
            "expected the exemplar's value after its label set and a single space, {}",
            cur.found()
        ));
    }
    let value = lexer::parse_value(text).map_err(|e| e.explain("the exemplar value", text))?;
    let mut timestamp_ms = None;
    if cur.eat(b' ') {
        timestamp_ms = Some(lexer::seconds_to_ms(timestamp(cur, "exemplar value")?));
    }
    Ok(Exemplar {
        labels,
        value,
        timestamp_ms,
    })
}
