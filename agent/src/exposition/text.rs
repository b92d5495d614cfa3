//! Prometheus text format 0.0.4, read the way Prometheus's own `promparse`
//! reads it: blanks may separate any two tokens, blank lines and `#`
//! comments are skipped, only `# HELP` and `# TYPE` carry meaning, and no
//! rule spans lines (so this module keeps no state beyond a capacity hint).

use super::lexer::{self, Cursor, LabelSyntax};
use super::{Entry, MetricType, Sample};

pub(super) fn parse_line<'a>(
    line: &'a str,
    label_hint: &mut usize,
) -> Result<Option<Entry<'a>>, String> {
    // Files written on Windows end lines with "\r\n"; the spec says "\n",
    // but refusing a textfile over it helps nobody.
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut cur = Cursor::new(line);
    cur.skip_blanks();
    match cur.peek() {
        None => Ok(None),
        Some(b'#') => comment(cur),
        Some(_) => sample(cur, label_hint).map(|s| Some(Entry::Sample(s))),
    }
}

/// The series text, value and timestamp of an ordinary sample line, found
/// without building its labels — for a scraper that already knows the
/// series by its text ([`Sample::series`]) and so needs only the numbers.
/// `None` for anything else (comments, quoted metric names, lines the full
/// parser would reject or read differently): parse those with
/// [`super::Parser`]. When this returns `Some`, the full parser accepts the
/// line with the same series text, value and timestamp, provided it
/// accepted a line with that series text before (the label set is not
/// checked here).
pub fn quick_sample(line: &str) -> Option<(&str, f64, Option<i64>)> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut cur = Cursor::new(line);
    cur.skip_blanks();
    let start = cur.consumed().len();
    if cur.metric_name().is_empty() {
        return None;
    }
    if cur.peek() == Some(b'{') {
        let b = line.as_bytes();
        let open = cur.consumed().len() + 1;
        // The first `}` closes the labels when nothing before it is
        // escaped and the quotes before it pair up (no `}` inside a
        // value): the usual line, found with a fast search.
        let i = match line[open..].find('}') {
            Some(k)
                if !b[open..open + k].contains(&b'\\')
                    && b[open..open + k].iter().filter(|&&c| c == b'"').count() % 2 == 0 =>
            {
                open + k
            }
            _ => {
                // Otherwise step over quoted values byte by byte.
                let mut i = open;
                let mut quoted = false;
                loop {
                    match *b.get(i)? {
                        b'\\' if quoted => i += 1,
                        b'"' => quoted = !quoted,
                        b'}' if !quoted => break,
                        _ => {}
                    }
                    i += 1;
                }
                i
            }
        };
        let series = &line[start..=i];
        let mut rest = Cursor::new(&line[i + 1..]);
        rest.skip_blanks();
        numbers(rest).map(|(v, ts)| (series, v, ts))
    } else {
        let series = &line[start..cur.consumed().len()];
        if !cur.skip_blanks() {
            return None;
        }
        numbers(Cursor::new(cur.rest())).map(|(v, ts)| (series, v, ts))
    }
}

/// The value and timestamp of a sample line that starts with a series text
/// the full parser accepted before, `rest` being what follows that text.
/// The same answer as [`quick_sample`] for the whole line, without looking
/// at the series again: the parse of a line up to its series' end depends
/// only on those bytes, so an identical prefix ends where it ended before.
/// `rest` must start with a blank (after a bare metric name, anything else
/// would continue the name); `None` otherwise and wherever [`quick_sample`]
/// is `None`.
pub fn quick_numbers(rest: &str) -> Option<(f64, Option<i64>)> {
    let rest = rest.strip_suffix('\r').unwrap_or(rest);
    let mut cur = Cursor::new(rest);
    if !cur.skip_blanks() {
        return None;
    }
    numbers(cur)
}

/// The value and optional timestamp after a sample's series, read exactly
/// as [`sample`] reads them.
fn numbers(mut cur: Cursor<'_>) -> Option<(f64, Option<i64>)> {
    let text = cur.token(true);
    if text.is_empty() || text.starts_with('{') {
        return None;
    }
    let value = lexer::parse_value(text).ok()?;
    cur.skip_blanks();
    let mut ts = None;
    if !cur.at_end() {
        ts = Some(cur.token(true).parse::<i64>().ok()?);
        cur.skip_blanks();
        if !cur.at_end() {
            return None;
        }
    }
    Some((value, ts))
}

fn comment(mut cur: Cursor<'_>) -> Result<Option<Entry<'_>>, String> {
    cur.eat(b'#');
    // "#HELP x" and "# HELPER" are plain comments, as in Prometheus.
    if !cur.skip_blanks() {
        return Ok(None);
    }
    let keyword = if cur.eat_str("HELP") {
        "HELP"
    } else if cur.eat_str("TYPE") {
        "TYPE"
    } else {
        return Ok(None);
    };
    if !cur.skip_blanks() {
        return Ok(None);
    }
    let family = lexer::metadata_name(&mut cur, keyword)?;
    let separated = cur.skip_blanks();
    if keyword == "HELP" {
        if !separated && !cur.at_end() {
            return Err(format!(
                "expected a space between the metric name {family:?} and the help text, {}",
                cur.found()
            ));
        }
        // Text-format HELP escapes only backslash and newline.
        let help = lexer::unescape(cur.rest(), false);
        return Ok(Some(Entry::Help { family, help }));
    }
    let word = cur.rest().trim_end_matches([' ', '\t']);
    if !separated || word.is_empty() {
        return Err(format!(
            "expected a metric type after \"# TYPE {family}\", {}",
            cur.found()
        ));
    }
    let kind = match word {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" => MetricType::Unknown,
        _ => {
            return Err(format!(
                "unknown metric type {} for {family:?}; the Prometheus text format knows counter, gauge, histogram, summary and untyped",
                lexer::snippet(word)
            ))
        }
    };
    Ok(Some(Entry::Type { family, kind }))
}

fn sample<'a>(mut cur: Cursor<'a>, label_hint: &mut usize) -> Result<Sample<'a>, String> {
    let mut name = None;
    if cur.peek() != Some(b'{') {
        let n = cur.metric_name();
        if n.is_empty() {
            return Err(format!(
                "expected a metric name (letters, digits, '_' and ':', not starting with a digit) or '{{' at the start of the line, {}",
                cur.found()
            ));
        }
        name = Some(n);
    }
    let mut series = cur.consumed();
    let separated = cur.skip_blanks();
    let mut labels = Vec::new();
    let after;
    if cur.peek() == Some(b'{') {
        labels.reserve_exact(*label_hint);
        let quoted = lexer::label_set(&mut cur, LabelSyntax::Lenient, name.is_none(), &mut labels)?;
        if quoted.is_some() {
            name = quoted;
        }
        series = cur.consumed();
        cur.skip_blanks();
        after = "the label set";
    } else {
        if !separated {
            // The name ran into a character that cannot be part of it.
            return Err(if cur.at_end() {
                format!(
                    "expected a value after the metric name {:?}",
                    name.unwrap_or_default()
                )
            } else {
                format!(
                    "unexpected {} right after the metric name {:?}; metric names may only contain letters, digits, '_' and ':' (quote other names inside the braces: {{\"name\"}})",
                    lexer::snippet(cur.rest()),
                    name.unwrap_or_default()
                )
            });
        }
        after = "the metric name";
    }
    let Some(name) = name else {
        return Err(
            "the label set does not name the metric; write the name before '{' or as a quoted string inside the braces"
                .to_string(),
        );
    };
    let text = cur.token(true);
    if text.is_empty() {
        return Err(format!("expected a value after {after}, {}", cur.found()));
    }
    let value = lexer::parse_value(text).map_err(|e| e.explain("the value", text))?;
    cur.skip_blanks();
    let mut timestamp_ms = None;
    if !cur.at_end() {
        let text = cur.token(true);
        timestamp_ms = Some(text.parse::<i64>().map_err(|_| {
            format!(
                "the timestamp {} is not an integer number of milliseconds since the Unix epoch",
                lexer::snippet(text)
            )
        })?);
        cur.skip_blanks();
        if !cur.at_end() {
            return Err(format!(
                "unexpected {} after the timestamp; a sample line ends after its value and optional timestamp",
                lexer::snippet(cur.rest())
            ));
        }
    }
    *label_hint = labels.len();
    Ok(Sample {
        name,
        series: series.trim_start(),
        labels,
        value,
        timestamp_ms,
        exemplar: None,
    })
}
