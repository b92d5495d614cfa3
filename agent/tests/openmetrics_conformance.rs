//! Runs the OpenMetrics conformance suite (prometheus/OpenMetrics
//! `tests/testdata/parsers`): every case marked `shouldParse: true` must
//! parse in OpenMetrics mode and every other one must be rejected.
//!
//! The cases are copied into `tests/testdata/openmetrics-conformance` (see
//! `tests/testdata/SOURCES.md`); the shared corpus next to the checkout is
//! the fallback when the copy is absent.

use std::fs;
use std::path::PathBuf;

use pharos_agent::exposition::{parse_all, Format};

fn suite_dir() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let copied = manifest.join("tests/testdata/openmetrics-conformance/parsers");
    if copied.is_dir() {
        return copied;
    }
    manifest.join("../../shared/corpus/exposition/openmetrics-conformance/parsers")
}

/// Reads `shouldParse` from a test.json without a JSON dependency: the
/// files are one small flat object.
fn should_parse(json: &str) -> bool {
    let at = json
        .find("\"shouldParse\"")
        .expect("test.json has a shouldParse field");
    let rest = json[at + "\"shouldParse\"".len()..].trim_start();
    let rest = rest
        .strip_prefix(':')
        .expect("':' after shouldParse")
        .trim_start();
    if rest.starts_with("true") {
        true
    } else if rest.starts_with("false") {
        false
    } else {
        panic!("shouldParse is neither true nor false in {json}")
    }
}

#[test]
fn openmetrics_conformance_suite() {
    let dir = suite_dir();
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("test.json").is_file())
        .collect();
    cases.sort();
    assert_eq!(
        cases.len(),
        211,
        "expected the full suite in {}",
        dir.display()
    );

    let mut failures = Vec::new();
    let (mut good, mut bad) = (0, 0);
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let json = fs::read_to_string(case.join("test.json")).unwrap();
        let want = should_parse(&json);
        let bytes = fs::read(case.join("metrics")).unwrap();
        // Input that is not UTF-8 can never reach the parser's &str API.
        let got = match String::from_utf8(bytes) {
            Ok(body) => parse_all(&body, Format::OpenMetrics).map(|_| ()),
            Err(_) => Err(pharos_agent::exposition::ParseError {
                line: 0,
                message: "not UTF-8".into(),
            }),
        };
        match (want, &got) {
            (true, Ok(())) => good += 1,
            (false, Err(_)) => bad += 1,
            (true, Err(e)) => failures.push(format!("{name}: should parse, but: {e}")),
            (false, Ok(())) => failures.push(format!("{name}: should be rejected, but parsed")),
        }
    }
    println!(
        "OpenMetrics conformance: {} of {} cases pass ({good} valid accepted, {bad} invalid rejected)",
        good + bad,
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}

/// Prints every rejection reason: run with `--nocapture` to review the
/// error messages users would see.
#[test]
fn rejections_carry_a_line_number() {
    let dir = suite_dir();
    for entry in fs::read_dir(&dir).unwrap() {
        let case = entry.unwrap().path();
        let Ok(json) = fs::read_to_string(case.join("test.json")) else {
            continue;
        };
        if should_parse(&json) {
            continue;
        }
        let Ok(body) = fs::read_to_string(case.join("metrics")) else {
            continue;
        };
        if let Err(e) = parse_all(&body, Format::OpenMetrics) {
            assert!(e.line >= 1, "{}: {e}", case.display());
            println!("{}: {e}", case.file_name().unwrap().to_string_lossy());
        }
    }
}
