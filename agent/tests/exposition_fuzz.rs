//! The exposition parser must never panic, whatever a target sends: random
//! text, syntax-heavy noise, and real lines with random edits are fed to
//! both formats. A round-trip property checks escaping on generated lines.

use std::borrow::Cow;

use pharos_agent::exposition::{lines, parse_all, Entry, Format, Parser};
use proptest::prelude::*;

const FORMATS: [Format; 2] = [Format::PrometheusText, Format::OpenMetrics];

/// Real lines covering every construct, used as seeds for mutation.
const SEEDS: &[&str] = &[
    "# HELP http_requests_total The total number of \\\\ HTTP \\n requests.",
    "# TYPE http_requests_total counter",
    "# UNIT a_seconds seconds",
    "# EOF",
    "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000",
    "a_bucket{le=\"+Inf\",foo=\"bar # \"} 3 # {a=\"d\",foo=\"bar # bar\"} 4 1.5",
    "a_total{foo=\"b\\\"a\\nr\"} 1 1.5e3",
    "{\"my.dotted.metric\", \"error.message\"=\"Not Found\"} -Inf",
    "a{quantile=\"0.5\"} NaN",
    "x 0000000000000000000000000000000000000001.2e-1",
];

fn feed_body(body: &str) {
    for format in FORMATS {
        let _ = parse_all(body, format);
    }
}

fn feed_lines(lines: &[String]) {
    for format in FORMATS {
        let mut p = Parser::new(format);
        for (i, l) in lines.iter().enumerate() {
            // Keep going after errors: a careless caller must not panic us.
            let _ = p.parse_line(l, i + 1);
        }
        let _ = p.finish();
    }
}

/// Applies `edits` (position, action, char) to `seed` at char boundaries.
fn mutate(seed: &str, edits: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for &(pos, action, c) in edits {
        let at = if chars.is_empty() {
            0
        } else {
            pos % (chars.len() + 1)
        };
        match action % 3 {
            0 => chars.insert(at, c),
            1 if at < chars.len() => {
                chars.remove(at);
            }
            _ if at < chars.len() => chars[at] = c,
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

fn syntax_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            '{', '}', '=', '"', ',', '#', ' ', '\t', '\\', 'n', '.', 'e', 'E', '+', '-', ':',
            '_', '0', '1', '9', 'a', 'z', 'I', 'N', '\r', '\0', 'é', '☃',
        ]),
        1 => any::<char>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(body in ".{0,200}") {
        feed_body(&body);
    }

    #[test]
    fn syntax_noise_never_panics(lines in prop::collection::vec(
        prop::collection::vec(syntax_char(), 0..60).prop_map(|v| v.into_iter().collect::<String>()),
        0..8,
    )) {
        feed_lines(&lines);
        feed_body(&lines.join("\n"));
    }

    #[test]
    fn mutated_real_lines_never_panic(
        seeds in prop::collection::vec(prop::sample::select(SEEDS.to_vec()), 1..6),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), syntax_char()), 0..6),
    ) {
        let mutated: Vec<String> = seeds
            .iter()
            .enumerate()
            .map(|(i, s)| if i % 2 == 0 { mutate(s, &edits) } else { s.to_string() })
            .collect();
        feed_lines(&mutated);
    }

    /// Escaping any label value and parsing it back gives the value again.
    #[test]
    fn label_values_round_trip(
        name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,10}",
        values in prop::collection::vec("(?s).{0,20}", 0..4),
        value in any::<f64>(),
    ) {
        let mut line = format!("{name}{{");
        for (i, v) in values.iter().enumerate() {
            let escaped = v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            line.push_str(&format!("l{i}=\"{escaped}\","));
        }
        if line.ends_with(',') {
            line.pop();
        }
        let text = if value.is_nan() { "NaN".to_string() } else if value.is_infinite() {
            (if value > 0.0 { "+Inf" } else { "-Inf" }).to_string()
        } else {
            format!("{value:e}")
        };
        line.push_str(&format!("}} {text}"));
        for format in FORMATS {
            let mut p = Parser::new(format);
            let entry = p.parse_line(&line, 1);
            let Ok(Some(Entry::Sample(s))) = entry else {
                panic!("{format:?} {line:?}: {entry:?}");
            };
            prop_assert_eq!(s.name, name.as_str());
            let got: Vec<&str> = s.labels.iter().map(|(_, v)| v.as_ref()).collect();
            let want: Vec<&str> = values.iter().map(String::as_str).collect();
            prop_assert_eq!(got, want);
            prop_assert!(s.value == value || (s.value.is_nan() && value.is_nan()));
            prop_assert!(s.labels.iter().zip(&values).all(|((_, v), orig)|
                matches!(v, Cow::Borrowed(_)) || orig.contains(['\\', '"', '\n'])));
        }
    }
}

#[test]
fn every_prefix_of_a_real_body_is_handled() {
    let body = SEEDS.join("\n");
    for end in (0..=body.len()).filter(|&i| body.is_char_boundary(i)) {
        feed_body(&body[..end]);
        let _ = lines(&body[..end]).count();
    }
}

/// The full parser's reading of a text-format sample line.
fn full_text_sample(line: &str) -> Option<(String, u64, Option<i64>)> {
    let mut p = Parser::new(Format::PrometheusText);
    match p.parse_line(line, 1) {
        Ok(Some(Entry::Sample(s))) => {
            Some((s.series.to_string(), s.value.to_bits(), s.timestamp_ms))
        }
        _ => None,
    }
}

/// `quick_sample` (the scraper's shortcut for known series) must never
/// read a line differently from the full parser: when it answers, the full
/// parser accepts the line with the same series text, value and timestamp
/// — given that it accepts that series text at all.
fn quick_agrees(line: &str) -> Result<(), TestCaseError> {
    let Some((series, value, ts)) = pharos_agent::exposition::quick_sample(line) else {
        return Ok(());
    };
    if full_text_sample(&format!("{series} 1")).is_none() {
        return Ok(());
    }
    let full = full_text_sample(line);
    prop_assert_eq!(
        full,
        Some((series.to_string(), value.to_bits(), ts)),
        "line {:?}",
        line
    );
    Ok(())
}

/// `quick_numbers` (the scraper's shortcut for a line that starts with the
/// series text it had last time) must read the rest of the line as the
/// full parser reads the whole line: same series, value and timestamp.
fn prefix_agrees(series_line: &str, rest: &str) -> Result<(), TestCaseError> {
    let Some((series, _, _)) = full_text_sample(series_line) else {
        return Ok(());
    };
    let line = format!("{series}{rest}");
    let Some((value, ts)) = pharos_agent::exposition::quick_numbers(&line[series.len()..]) else {
        return Ok(());
    };
    prop_assert_eq!(
        full_text_sample(&line),
        Some((series, value.to_bits(), ts)),
        "line {:?}",
        line
    );
    Ok(())
}

#[test]
fn quick_sample_agrees_with_the_parser_on_real_bodies() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/testdata");
    let mut answered = 0;
    for file in [
        "node_exporter/e2e-output.txt",
        "prometheus-textparse/alltypes.237mfs.prom.txt",
    ] {
        let body = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        for line in pharos_agent::exposition::lines(&body) {
            quick_agrees(line).unwrap();
            if let Some((series, _, _)) = full_text_sample(line) {
                // The line read again as "known series, then numbers".
                let rest = &line[line.find(&series).unwrap() + series.len()..];
                prefix_agrees(line, rest).unwrap();
                if !line.starts_with(char::is_whitespace) {
                    assert!(
                        pharos_agent::exposition::quick_numbers(rest).is_some(),
                        "{line:?}"
                    );
                }
            }
            // Ordinary lines take the shortcut.
            if let (Some(full), Some((s, _, _))) = (
                full_text_sample(line),
                pharos_agent::exposition::quick_sample(line),
            ) {
                assert_eq!(s, full.0, "{line:?}");
                answered += 1;
            }
        }
    }
    assert!(answered > 1000, "only {answered} lines took the shortcut");
    for line in [
        "a 1",
        "a{} 1",
        "a {x=\"1\"} 1",
        "a{x=\"}\"} 2 1000",
        "a{x=\"\\\"}\"} 3",
        "a{x=\"1\"}1",
        "a{x=\"1\"} 1 2 3",
        "a{x=\"1\"} 1 1.5",
        "a{x=\"1\"} NaN",
        "a{x=\"1\"} +Inf  ",
        "  a  4\r",
        "a\t5\t6",
        "a{x=\"1\" 1",
        "{\"a\"} 1",
        "a 0x10",
        "a 1_000",
    ] {
        quick_agrees(line).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn quick_sample_never_disagrees(line in "[a-c_{}=\",\\\\ \t0-9.+eEinfNa:-]{0,30}") {
        quick_agrees(&line)?;
    }

    #[test]
    fn quick_numbers_never_disagrees(
        name in "[a-c_:]{1,3}",
        labels in proptest::option::of(
            "([a-c]{1,2} ?= ?\"([a-c}{, ]|\\\\\\\\|\\\\\"){0,4}\" ?,?){0,3}|[a-c=\",\\\\}{ ]{0,14}"
        ),
        rest in "[ \t0-9.+eEinfNa\r-]{0,14}",
    ) {
        let series = match labels {
            Some(l) => format!("{name}{{{l}}}"),
            None => name,
        };
        prefix_agrees(&format!("{series} 1"), &rest)?;
    }
}
