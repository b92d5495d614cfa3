//! node_exporter `textfile`: metrics from `*.prom` files in a directory
//! (node_exporter's `--collector.textfile.directory`), plus
//! `node_textfile_mtime_seconds{file}` per file read and
//! `node_textfile_scrape_error`.
//!
//! Without a directory (the default here) no file is read and
//! scrape_error is 0, as node_exporter with an empty directory flag. A file
//! that does not parse, or carries client-side timestamps, is skipped
//! whole and sets scrape_error to 1; the other files still count.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::exposition::{parse_all, Entry, Format};

use super::{Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let mut out: Vec<Family> = Vec::new();
    let mut mtimes = Family::new(
        "node_textfile_mtime_seconds",
        "Unixtime mtime of textfiles successfully read.",
        MetricType::Gauge,
    );
    let mut error = false;
    if let Some(dir) = roots.textfile_dir {
        match prom_files(dir) {
            Ok(files) => {
                for path in files {
                    match read_file(&path) {
                        Ok((families, mtime)) => {
                            merge(&mut out, families);
                            mtimes.push(&[("file", &path.display().to_string())], mtime);
                        }
                        Err(e) => {
                            tracing::warn!(file = %path.display(), error = %e, "textfile: skipping file");
                            error = true;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "textfile: cannot read directory");
                error = true;
            }
        }
    }
    out.push(mtimes);
    out.push(Family::single(
        "node_textfile_scrape_error",
        "1 if there was an error opening or reading a file, 0 otherwise",
        MetricType::Gauge,
        if error { 1.0 } else { 0.0 },
    ));
    Ok(out)
}

/// The `*.prom` files of `dir`, sorted.
fn prom_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "prom") && !p.is_dir())
        .collect();
    files.sort();
    Ok(files)
}

/// One file's families and its mtime (whole seconds, as node_exporter 1.5).
fn read_file(path: &Path) -> Result<(Vec<Family>, f64), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| e.to_string())?
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    Ok((parse(&text, path)?, mtime.as_secs() as f64))
}

/// Parses one file's text into families; untyped families get
/// node_exporter's help "Metric read from <path>".
pub(crate) fn parse(text: &str, path: &Path) -> Result<Vec<Family>, String> {
    let default_help = format!("Metric read from {}", path.display());
    let entries = parse_all(text, Format::PrometheusText).map_err(|e| e.to_string())?;
    let mut out: Vec<Family> = Vec::new();
    let family_for = |out: &mut Vec<Family>, name: &str| -> usize {
        match out.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                out.push(Family::new(name, &default_help, MetricType::Unknown));
                out.len() - 1
            }
        }
    };
    for entry in entries {
        match entry {
            Entry::Help { family, help } => {
                let i = family_for(&mut out, family);
                out[i].help = help.into_owned();
            }
            Entry::Type { family, kind } => {
                let i = family_for(&mut out, family);
                out[i].kind = kind;
            }
            Entry::Sample(s) => {
                if s.timestamp_ms.is_some() {
                    return Err(format!(
                        "{}: client-side timestamps are not supported",
                        s.name
                    ));
                }
                let owner = out
                    .iter()
                    .position(|f| belongs(f, s.name))
                    .unwrap_or_else(|| family_for(&mut out, s.name));
                let mut labels: Vec<(String, String)> = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                labels.sort();
                out[owner].samples.push(super::Sample {
                    name: s.name.to_string(),
                    labels,
                    value: s.value,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Whether a sample named `name` belongs to family `f` (histogram and
/// summary samples carry suffixes).
fn belongs(f: &Family, name: &str) -> bool {
    if f.name == name {
        return true;
    }
    let suffixes: &[&str] = match f.kind {
        MetricType::Histogram => &["_bucket", "_sum", "_count"],
        MetricType::Summary => &["_sum", "_count"],
        _ => &[],
    };
    name.strip_prefix(f.name.as_str())
        .is_some_and(|rest| suffixes.contains(&rest))
}

/// Adds `families` to `out`, appending samples of a family already there.
fn merge(out: &mut Vec<Family>, families: Vec<Family>) {
    for f in families {
        match out.iter_mut().find(|o| o.name == f.name) {
            Some(o) => o.samples.extend(f.samples),
            None => out.push(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_textfile_parses_types_help_and_suffixes() {
        let text = "# HELP jobs_total Jobs run.\n# TYPE jobs_total counter\n\
                    jobs_total{kind=\"b\",a=\"x\"} 3\nplain 2\n\
                    # TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 1\nlat_sum 0.5\nlat_count 1\n";
        let f = parse(text, Path::new("/d/x.prom")).unwrap();
        let names: Vec<&str> = f.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["jobs_total", "plain", "lat"]);
        assert_eq!(f[0].kind, MetricType::Counter);
        assert_eq!(f[0].help, "Jobs run.");
        assert_eq!(f[0].samples[0].labels[0].0, "a");
        assert_eq!(f[1].kind, MetricType::Unknown);
        assert_eq!(f[1].help, "Metric read from /d/x.prom");
        assert_eq!(f[2].samples.len(), 3);
        assert!(parse("x 1 1700000000000\n", Path::new("t.prom")).is_err());
        assert!(parse("x{ 1\n", Path::new("t.prom")).is_err());
    }
}
