//! Table-driven tests of single lines and short bodies; the corpus-wide
//! tests live in `agent/tests/`.

use super::*;

fn sample(line: &str, format: Format) -> Sample<'_> {
    let mut p = Parser::new(format);
    match p.parse_line(line, 1) {
        Ok(Some(Entry::Sample(s))) => s,
        other => panic!("{line:?}: expected a sample, got {other:?}"),
    }
}

fn text_err(line: &str) -> String {
    let mut p = Parser::new(Format::PrometheusText);
    match p.parse_line(line, 7) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("{line:?}: expected an error, got {v:?}"),
    }
}

fn om_err(body: &str) -> String {
    match parse_all(body, Format::OpenMetrics) {
        Err(e) => e.to_string(),
        Ok(v) => panic!("{body:?}: expected an error, got {v:?}"),
    }
}

#[test]
fn text_samples() {
    let s = sample(
        r#"  http_requests_total { method = "post" , code="200", } 1027 1395066363000  "#,
        Format::PrometheusText,
    );
    assert_eq!(s.name, "http_requests_total");
    assert_eq!(
        s.labels,
        vec![("method", Cow::from("post")), ("code", Cow::from("200"))]
    );
    assert_eq!(s.value, 1027.0);
    assert_eq!(s.timestamp_ms, Some(1395066363000));

    let s = sample(
        r#"msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9"#,
        Format::PrometheusText,
    );
    assert_eq!(s.labels[0].1, r"C:\DIR\FILE.TXT");
    assert_eq!(s.labels[1].1, "Cannot find file:\n\"FILE.TXT\"");
    assert_eq!(s.value, 1.458255915e9);
    assert_eq!(s.timestamp_ms, None);

    let s = sample(
        r#"{"my.dotted.metric", "error.message"="Not Found"} 1"#,
        Format::PrometheusText,
    );
    assert_eq!(s.name, "my.dotted.metric");
    assert_eq!(s.labels, vec![("error.message", Cow::from("Not Found"))]);

    assert!(sample("a -Inf", Format::PrometheusText).value == f64::NEG_INFINITY);
    assert!(sample("a\tNaN\t-5", Format::PrometheusText).value.is_nan());
    assert_eq!(
        sample("a 1 -5", Format::PrometheusText).timestamp_ms,
        Some(-5)
    );
    assert_eq!(sample("a{} 1\r", Format::PrometheusText).value, 1.0);
}

#[test]
fn text_metadata_and_comments() {
    let all = parse_all(
        "# HELP a Some \\\\ help\\n \"quoted\"\n# TYPE a  untyped \n\n# just a comment\n#HELP b x\n# HELP\n# TYPE \"x.y\" counter\n",
        Format::PrometheusText,
    )
    .unwrap();
    assert_eq!(
        all,
        vec![
            Entry::Help {
                family: "a",
                help: Cow::from("Some \\ help\n \"quoted\"")
            },
            Entry::Type {
                family: "a",
                kind: MetricType::Unknown
            },
            Entry::Type {
                family: "x.y",
                kind: MetricType::Counter
            },
        ]
    );
    assert_eq!(
        parse_all("# HELP a\n", Format::PrometheusText).unwrap(),
        vec![Entry::Help {
            family: "a",
            help: Cow::from("")
        }]
    );
}

#[test]
fn text_errors_name_the_line_and_the_problem() {
    let cases = [
        ("a", "line 7: expected a value after the metric name \"a\""),
        (
            "a{b=\"c\"} abc",
            "line 7: the value \"abc\" is not a number (expected e.g. 12, -3.5, 1e-3, +Inf, -Inf or NaN)",
        ),
        ("a{b=\"c\"}", "line 7: expected a value after the label set, found the end of the line"),
        ("a 0x1", "line 7: the value \"0x1\" is not a number"),
        ("a 1e999", "line 7: the value \"1e999\" is outside the range of a 64-bit float"),
        ("a 1 1.5", "line 7: the timestamp \"1.5\" is not an integer"),
        ("a 1 2 3", "line 7: unexpected \"3\" after the timestamp"),
        ("a-b 1", "line 7: unexpected \"-b 1\" right after the metric name \"a\""),
        ("0a 1", "line 7: expected a metric name"),
        ("a{b=c} 1", "line 7: expected a double-quoted value after \"b\"=, found \"c} 1\""),
        ("a{b=\"c} 1", "line 7: the quoted string \"\\\"c} 1\" is not closed"),
        ("a{b=\"1\",b=\"2\"} 1", "line 7: the label \"b\" appears twice"),
        ("{b=\"1\"} 1", "line 7: the label set does not name the metric"),
        ("# TYPE a gaugehistogram", "line 7: unknown metric type \"gaugehistogram\" for \"a\""),
        ("# TYPE a", "line 7: expected a metric type after \"# TYPE a\""),
        ("# HELP ", "line 7: expected a metric name after \"# HELP\""),
        ("a{b=\"1\" 1", "line 7: expected ',' or '}' after the value of label \"b\""),
    ];
    for (line, want) in cases {
        let got = text_err(line);
        assert!(got.starts_with(want), "{line:?}:\n got {got}\nwant {want}");
    }
}

#[test]
fn openmetrics_body() {
    let body = "# TYPE a histogram\n# UNIT a \n# HELP a h\\\"i\na_bucket{le=\"1\"} 0 1.0009 # {trace_id=\"x\"} 0.5 1.5\na_bucket{le=\"+Inf\"} 2 1.0009\na_count 2 1.0009\na_sum 3 1.0009\n# TYPE b gauge\nb 1 1.001\n# EOF\n";
    let all = parse_all(body, Format::OpenMetrics).unwrap();
    assert_eq!(all.len(), 9);
    assert_eq!(
        all[2],
        Entry::Help {
            family: "a",
            help: Cow::from("h\"i")
        }
    );
    let Entry::Sample(s) = &all[3] else { panic!() };
    let ex = s.exemplar.as_ref().unwrap();
    assert_eq!(ex.labels, vec![("trace_id", Cow::from("x"))]);
    assert_eq!((ex.value, ex.timestamp_ms), (0.5, Some(1500)));
    let Entry::Sample(s) = &all[4] else { panic!() };
    // Rounded to the nearest millisecond.
    assert_eq!(s.timestamp_ms, Some(1001));
    let Entry::Sample(s) = &all[8] else { panic!() };
    assert_eq!(s.timestamp_ms, Some(1001));
}

#[test]
fn openmetrics_errors() {
    let cases = [
        ("a 1\n", "line 1: the input ends without \"# EOF\""),
        ("a 1\n\n# EOF\n", "line 2: blank line"),
        (
            "# EOF\na 1\n",
            "line 2: unexpected \"a 1\" after the \"# EOF\" on line 1",
        ),
        (
            "# a comment\n# EOF\n",
            "line 1: \"# a comment\" is not a valid OpenMetrics line",
        ),
        (
            "a  1\n# EOF\n",
            "line 1: expected a value after the metric name and a single space",
        ),
        (
            "a 1 \n# EOF\n",
            "line 1: expected a timestamp after the value and a single space",
        ),
        (
            "# TYPE a counter\na_total -1\n# EOF\n",
            "line 2: \"a_total\" has the negative value -1",
        ),
        (
            "# TYPE a gauge\na 1\n# TYPE a gauge\n# EOF\n",
            "line 3: \"# TYPE\" for \"a\" comes after its samples",
        ),
        (
            "# TYPE a counter\n# TYPE a_created gauge\n# EOF\n",
            "line 3: the metric family \"a_created\" (from line 2) clashes with an earlier family",
        ),
        (
            "# TYPE a histogram\na_bucket{le=\"1\"} 0\na_count 0\n# EOF\n",
            "line 4: histogram \"a\" (samples from line 2) has no bucket with le=\"+Inf\"",
        ),
        (
            "# TYPE a gauge\na{x=\"1\"} 0\na{x=\"2\"} 0\na{x=\"1\"} 0\n# EOF\n",
            "line 4: the series a{x=\"1\"} of \"a\" continues after samples of other series",
        ),
        (
            "# TYPE a gauge\na 1 # {x=\"1\"} 0\n# EOF\n",
            "line 2: \"a\" (gauge) carries an exemplar",
        ),
        (
            "# TYPE a untyped\n# EOF\n",
            "line 1: \"untyped\" is a Prometheus text-format type",
        ),
    ];
    for (body, want) in cases {
        let got = om_err(body);
        assert!(got.starts_with(want), "{body:?}:\n got {got}\nwant {want}");
    }
}

#[test]
fn group_order_does_not_depend_on_label_order() {
    let body = "# TYPE a gauge\na{x=\"1\",y=\"2\"} 0 1\na{y=\"2\",x=\"1\"} 0 2\n# EOF\n";
    assert!(parse_all(body, Format::OpenMetrics).is_ok());
    let body = "# TYPE a gauge\na{x=\"1\",y=\"2\"} 0 2\na{y=\"2\",x=\"1\"} 0 1\n# EOF\n";
    assert!(om_err(body).contains("go backwards"));
}

#[test]
fn lines_split_like_the_wire() {
    assert_eq!(lines("").count(), 0);
    assert_eq!(lines("\n").collect::<Vec<_>>(), vec![""]);
    assert_eq!(lines("a\nb").collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(lines("a\nb\n").collect::<Vec<_>>(), vec!["a", "b"]);
    assert_eq!(lines("a\r\n\n").collect::<Vec<_>>(), vec!["a\r", ""]);
}

#[test]
fn reset_allows_reuse() {
    let mut p = Parser::new(Format::OpenMetrics);
    for _ in 0..2 {
        assert!(p.parse_line("# TYPE a gauge", 1).unwrap().is_some());
        assert!(p.parse_line("a 1", 2).unwrap().is_some());
        assert!(p.parse_line("# EOF", 3).unwrap().is_none());
        p.finish().unwrap();
        p.reset();
    }
}

#[test]
fn content_type() {
    assert_eq!(
        Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        Some(Format::OpenMetrics)
    );
    assert_eq!(
        Format::from_content_type("text/plain; version=0.0.4"),
        Some(Format::PrometheusText)
    );
    assert_eq!(Format::from_content_type(""), None);
    assert_eq!(Format::from_content_type("text/html"), None);
}

#[test]
fn prometheus_validation_keeps_only_grammar_and_eof() {
    let long = "x".repeat(200);
    // A gauge whose name ends in _total may carry an exemplar for
    // Prometheus's parser, which looks at the name only.
    let body = format!(
        "# TYPE a histogram\na_bucket{{le=\"-1\"}} 1 # {{id=\"{long}\"}} 1\na_bucket{{le=\"+Inf\"}} 2\na_sum -3\na_count 2\n# TYPE g_total gauge\ng_total 1 # {{x=\"y\"}} 2\ng_total 2\n# EOF\n"
    );
    assert!(parse_all(&body, Format::OpenMetrics).is_err());
    let entries = parse_all_with(&body, Format::OpenMetrics, Validation::Prometheus).unwrap();
    assert_eq!(entries.len(), 8);
    for (body, want) in [
        ("a 1\n", "line 1: the input ends without \"# EOF\""),
        ("a  1\n# EOF\n", "line 1: expected a value"),
        (
            "# EOF\na 1\n",
            "line 2: unexpected \"a 1\" after the \"# EOF\"",
        ),
        // Prometheus's parser refuses exemplars on names without the
        // _total or _bucket suffix, whatever the type, failing the scrape.
        (
            "# TYPE g gauge\ng 1 # {x=\"y\"} 2\n# EOF\n",
            "line 2: metric name \"g\" does not support exemplars",
        ),
        (
            "# TYPE a counter\na_created 1 # {x=\"y\"} 2\n# EOF\n",
            "line 2: metric name \"a_created\" does not support exemplars",
        ),
        (
            "# TYPE a histogram\na_sum 1 # {x=\"y\"} 2\n# EOF\n",
            "line 2: metric name \"a_sum\" does not support exemplars",
        ),
        // The exemplar grammar stays enforced.
        (
            "a_total 1 # {x=\"y\"} 1 NaN\n# EOF\n",
            "line 1: the timestamp \"NaN\" is not a decimal number",
        ),
        (
            "a_total 1 # {x=\"y\"}\n# EOF\n",
            "line 1: expected a space and a value after the exemplar's label set",
        ),
    ] {
        let err = parse_all_with(body, Format::OpenMetrics, Validation::Prometheus).unwrap_err();
        assert!(err.to_string().starts_with(want), "{err}");
    }
}

/// What the scraper gets from an exemplar line in Prometheus mode: the
/// exemplar with its labels as written, value and timestamp (rounded to
/// the millisecond like sample timestamps); none without a `# {…}`; an
/// exemplar over the 128-character label limit passes the parser (storage
/// drops it, as Prometheus's does) while strict mode refuses the line.
#[test]
fn exemplars_in_prometheus_mode() {
    let body = "# TYPE rq counter\nrq_total{code=\"200\"} 7 # {trace_id=\"abc\",span_id=\"\"} 1.5 1690000000.25\n# TYPE lat histogram\nlat_bucket{le=\"0.1\"} 1 # {trace_id=\"x\"} 0.05\nlat_bucket{le=\"+Inf\"} 2\nlat_count 2\nlat_sum 0.3\n# EOF\n";
    let all = parse_all_with(body, Format::OpenMetrics, Validation::Prometheus).unwrap();
    let samples: Vec<&Sample<'_>> = all
        .iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => Some(s),
            _ => None,
        })
        .collect();
    let ex = samples[0].exemplar.as_ref().unwrap();
    assert_eq!(
        ex.labels,
        vec![("trace_id", Cow::from("abc")), ("span_id", Cow::from(""))]
    );
    assert_eq!((ex.value, ex.timestamp_ms), (1.5, Some(1_690_000_000_250)));
    let ex = samples[1].exemplar.as_ref().unwrap();
    assert_eq!((ex.value, ex.timestamp_ms), (0.05, None));
    assert!(samples[2..].iter().all(|s| s.exemplar.is_none()));

    // 129 characters of names and values together.
    let long = format!(
        "# TYPE a counter\na_total 1 # {{t=\"{}\"}} 1\n# EOF\n",
        "x".repeat(128)
    );
    assert!(parse_all_with(&long, Format::OpenMetrics, Validation::Prometheus).is_ok());
    assert!(om_err(&long).contains("OpenMetrics allows at most 128"));
    // Exactly 128 code points (more bytes) is within the limit.
    let wide = format!(
        "# TYPE a counter\na_total 1 # {{t=\"☃{}\"}} 1\n# EOF\n",
        "x".repeat(126)
    );
    assert!(parse_all(&wide, Format::OpenMetrics).is_ok());
}
