//! `scrape_failure_log_file`: every failed fetch of a job's targets as one
//! JSON line, the way Prometheus's scrape failure logger writes them —
//! `time`, `level`, `msg` (the target's `lastError`), `job_name` and
//! `target` — so the tools that read Prometheus's file read this one.
//!
//! As in Prometheus only fetch errors are logged (timeouts, HTTP statuses,
//! transport and body size errors), not parse or limit errors. The file is
//! opened in append mode when the job is built, so a reload reopens it
//! (log rotation: move the file, then reload).

use crate::sync::LockExt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// An open failure log.
#[derive(Debug)]
pub struct FailureLog {
    file: Mutex<File>,
}

impl FailureLog {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<FailureLog, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                format!(
                    "opening the scrape failure log file {}: {e}",
                    path.display()
                )
            })?;
        Ok(FailureLog {
            file: Mutex::new(file),
        })
    }

    /// Writes from now on to the file `newer` opened (a reload that leaves
    /// the job as it was still reopens its log, as Prometheus does, so a
    /// rotated file is let go).
    pub fn reopen_from(&self, newer: &FailureLog) {
        if std::ptr::eq(self, newer) {
            return;
        }
        let mut mine = self.file.locked();
        let mut theirs = newer.file.locked();
        std::mem::swap(&mut *mine, &mut *theirs);
    }

    /// Appends one failure of `target` (its URL) of `job` at `t_ms`. A
    /// write that fails is logged, never fatal to the scrape.
    pub fn record(&self, t_ms: i64, job: &str, target: &str, error: &str) {
        let time = chrono::DateTime::from_timestamp_millis(t_ms)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let line = serde_json::json!({
            "time": time,
            "level": "ERROR",
            "msg": error,
            "job_name": job,
            "target": target,
        });
        let mut text = line.to_string();
        text.push('\n');
        let mut f = self.file.locked();
        if let Err(e) = f.write_all(text.as_bytes()) {
            tracing::warn!(error = %e, "writing the scrape failure log failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_one_json_line_per_failure() {
        let dir = tempfile_dir();
        let path = dir.join("failures.log");
        std::fs::write(&path, "earlier\n").unwrap();
        let log = FailureLog::open(&path).unwrap();
        log.record(
            1_700_000_000_123,
            "node",
            "http://h:9100/metrics",
            "server returned HTTP status 500 Internal Server Error",
        );
        log.record(
            1_700_000_001_000,
            "node",
            "http://h:9100/metrics",
            "Get \"x\": \"quoted\"",
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "earlier");
        let first: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(
            first,
            serde_json::json!({
                "time": "2023-11-14T22:13:20.123Z",
                "level": "ERROR",
                "msg": "server returned HTTP status 500 Internal Server Error",
                "job_name": "node",
                "target": "http://h:9100/metrics",
            })
        );
        let second: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(second["msg"], "Get \"x\": \"quoted\"");
        assert!(FailureLog::open(&dir.join("missing/dir/f.log"))
            .unwrap_err()
            .starts_with("opening the scrape failure log file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reload_lets_a_rotated_file_go() {
        let dir = tempfile_dir();
        let path = dir.join("f.log");
        let running = FailureLog::open(&path).unwrap();
        running.record(0, "j", "t", "before");
        std::fs::rename(&path, dir.join("f.log.1")).unwrap();
        // The reload opens the file anew; the running job takes it.
        running.reopen_from(&FailureLog::open(&path).unwrap());
        running.record(0, "j", "t", "after");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(read("f.log.1").contains("before") && !read("f.log.1").contains("after"));
        assert!(read("f.log").contains("after"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "pharos-failure-log-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
