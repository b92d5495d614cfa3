//! `pharos import openmetrics`: a file goes in, the server serves exactly its
//! samples; bad files fail with `file:line` and a non-zero exit; the import
//! refuses a data directory a running server owns.

use std::fmt::Write as _;
use std::process::Command;

use pharos_tests::{pharos_bin, Server};

fn import(file: &std::path::Path, data: &std::path::Path) -> std::process::Output {
    Command::new(pharos_bin())
        .args(["import", "openmetrics"])
        .arg(file)
        .arg(format!("--storage.path={}", data.display()))
        .arg("--quiet")
        .output()
        .unwrap()
}

/// (series key, its samples) as the test expects them back.
type Expected = Vec<(String, Vec<(i64, f64)>)>;

/// Three series over 10 hours at 15 s (several 2 h chunks each), including
/// special values.
fn sample_file() -> (String, Expected) {
    let start = 1_700_000_000i64;
    let n = 10 * 240;
    let mut text = String::new();
    let mut want = Vec::new();
    text.push_str("# HELP node_cpu_seconds Seconds the CPUs spent in each mode.\n");
    text.push_str("# TYPE node_cpu_seconds counter\n");
    for mode in ["idle", "user"] {
        let mut samples = Vec::new();
        for i in 0..n {
            let t = start + i * 15;
            let v = i as f64 * if mode == "idle" { 14.25 } else { 0.75 };
            writeln!(
                text,
                "node_cpu_seconds_total{{cpu=\"0\",mode=\"{mode}\"}} {v} {t}"
            )
            .unwrap();
            samples.push((t * 1000, v));
        }
        want.push((mode.to_string(), samples));
    }
    text.push_str("# TYPE temp gauge\n");
    let mut samples = Vec::new();
    for i in 0..n {
        let t = start + i * 15;
        let (s, v) = match i % 500 {
            7 => ("NaN".to_string(), f64::NAN),
            8 => ("+Inf".to_string(), f64::INFINITY),
            _ => {
                let v = 20.0 + (i % 37) as f64 * 0.1;
                (format!("{v}"), v)
            }
        };
        writeln!(text, "temp{{room=\"lab \\\"A\\\"\"}} {s} {t}.000").unwrap();
        samples.push((t * 1000, v));
    }
    want.push(("temp".to_string(), samples));
    text.push_str("# EOF\n");
    (text, want)
}

fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.0 == y.0 && (x.1 == y.1 || (x.1.is_nan() && y.1.is_nan())))
}

#[test]
fn imported_file_is_served_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (text, want) = sample_file();
    let file = dir.path().join("in.om");
    std::fs::write(&file, text).unwrap();
    let data = dir.path().join("data");
    let out = import(&file, &data);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("imported 7200 samples of 3 series (3 new)"),
        "{stdout}"
    );

    let s = Server::start(&data);
    let cpu = s.export("node_cpu_seconds_total");
    assert_eq!(cpu.len(), 2);
    assert_eq!(cpu[0].0["mode"], "idle");
    assert!(same(&cpu[0].1, &want[0].1));
    assert!(same(&cpu[1].1, &want[1].1));
    let temp = s.export("temp");
    assert_eq!(temp[0].0["room"], "lab \"A\"");
    assert!(same(&temp[0].1, &want[2].1));
    let (_, v) = s.get_json("/api/v1/label/mode/values");
    assert_eq!(v["data"], serde_json::json!(["idle", "user"]));
}

#[test]
fn bad_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cases = [
        ("a 1 1\nb{ 2 2\n# EOF\n", ":2:"),
        ("a 1 1\na 2 1\n# EOF\n", ":2:"),
        ("a 1 1\n", ":"),
        ("# TYPE a gauge\na 1\n# EOF\n", ":2:"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let file = dir.path().join(format!("bad{i}.om"));
        std::fs::write(&file, text).unwrap();
        let out = import(&file, &data);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} should fail");
        let expect = format!("bad{i}.om{want}");
        assert!(
            stderr.contains(&expect),
            "case {i}: {stderr:?} lacks {expect:?}"
        );
    }
}

#[test]
fn refuses_a_directory_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _s = Server::start(&data);
    let file = dir.path().join("in.om");
    std::fs::write(&file, "a 1 1\n# EOF\n").unwrap();
    let out = import(&file, &data);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by another pharos process"));
}
