//! `query_log_file`: every PromQL query the engine runs — from the HTTP
//! API and from rule evaluation — as one JSON object per line, the way
//! Prometheus's query log writes them (see its "query log" guide):
//!
//! ```json
//! {"httpRequest":{"clientIP":"127.0.0.1","method":"GET","path":"/api/v1/query_range"},
//!  "params":{"end":"2020-02-08T14:59:50.368Z","query":"up == 0","start":"2020-02-08T13:59:50.368Z","step":5},
//!  "stats":{"timings":{…},"samples":{…}},"ts":"2020-02-08T14:59:50.387Z"}
//! ```
//!
//! (on one line; rule queries carry `ruleGroup: {file, name}` instead of
//! `httpRequest`, failed ones an `error`). Queries that do not parse never
//! reach the engine and are not logged, as in Prometheus. The file is
//! opened in append mode on every configuration (re)load, so a reload
//! after moving it starts a new file; removing `query_log_file` closes it.

use pharos_agent::sync::LockExt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Map, Value};

use crate::promql::QueryStats;

/// The query log: closed until a configuration names a file.
#[derive(Debug, Default)]
pub struct QueryLog {
    file: Mutex<Option<(PathBuf, File)>>,
    failures: AtomicU64,
}

/// Where a query came from.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    Http {
        client_ip: &'a str,
        method: &'a str,
        path: &'a str,
    },
    Rule {
        file: &'a str,
        name: &'a str,
    },
}

/// One query as run: its parameters (instant queries have `start` =
/// `end` and step 0), where it came from, and how it went.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub query: &'a str,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
    pub origin: Origin<'a>,
    /// `None` for a query that failed (`error` says why).
    pub stats: Option<&'a QueryStats>,
    pub error: Option<&'a str>,
}

impl QueryLog {
    pub fn new() -> QueryLog {
        QueryLog::default()
    }

    /// Opens `path` (creating it, appending) or, for `None`, closes the
    /// log. The old file stays open if the new one cannot be opened.
    pub fn configure(&self, path: Option<&Path>) -> Result<(), QueryLogError> {
        self.install(open(path)?);
        Ok(())
    }

    /// Puts a file [`open`] opened in place (a reload opens first and
    /// installs once the whole configuration is accepted).
    pub fn install(&self, opened: Opened) {
        *self.file.locked() = opened.0;
    }

    /// Whether a file is open (`prometheus_engine_query_log_enabled`).
    pub fn enabled(&self) -> bool {
        self.file.locked().is_some()
    }

    /// Lines that could not be written
    /// (`prometheus_engine_query_log_failures_total`).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Writes a query the engine ran, with its outcome: as Prometheus, a
    /// query that does not parse never reached the engine and is left
    /// out; a failed one carries its error.
    pub fn record(
        &self,
        query: &str,
        (start_ms, end_ms, step_ms): (i64, i64, i64),
        origin: Origin<'_>,
        out: &Result<crate::promql::QueryOutput, crate::promql::QueryError>,
        now_ms: i64,
    ) {
        if matches!(out, Err(crate::promql::QueryError::Parse(_))) {
            return;
        }
        let error = out.as_ref().err().map(|e| e.to_string());
        self.log(
            &Entry {
                query,
                start_ms,
                end_ms,
                step_ms,
                origin,
                stats: out.as_ref().ok().map(|o| &o.stats),
                error: error.as_deref(),
            },
            now_ms,
        );
    }

    /// Writes `e` at `now_ms`, if the log is open.
    pub fn log(&self, e: &Entry<'_>, now_ms: i64) {
        let mut guard = self.file.locked();
        let Some((path, file)) = guard.as_mut() else {
            return;
        };
        let mut line = line(e, now_ms).to_string();
        line.push('\n');
        if let Err(err) = file.write_all(line.as_bytes()) {
            self.failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(file = %path.display(), error = %err, "writing the query log failed");
        }
    }
}

/// A query log file opened for [`QueryLog::install`]; none for no log.
#[derive(Debug)]
pub struct Opened(Option<(PathBuf, File)>);

/// The query log file cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("opening the query log file {}: {source}", path.display())]
pub struct QueryLogError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Opens `path` for appending (creating it); `None` closes the log.
pub fn open(path: Option<&Path>) -> Result<Opened, QueryLogError> {
    let Some(p) = path else {
        return Ok(Opened(None));
    };
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(|source| QueryLogError {
            path: p.to_path_buf(),
            source,
        })?;
    Ok(Opened(Some((p.to_path_buf(), f))))
}

/// The JSON object of one entry, keys in the order Prometheus's logger
/// sorts them.
fn line(e: &Entry<'_>, now_ms: i64) -> Value {
    let mut m = Map::new();
    if let Some(err) = e.error {
        m.insert("error".into(), json!(err));
    }
    if let Origin::Http {
        client_ip,
        method,
        path,
    } = e.origin
    {
        m.insert(
            "httpRequest".into(),
            json!({"clientIP": client_ip, "method": method, "path": path}),
        );
    }
    m.insert(
        "params".into(),
        json!({
            "end": date(e.end_ms),
            "query": e.query,
            "start": date(e.start_ms),
            // Whole seconds, as Prometheus writes the step.
            "step": e.step_ms / 1000,
        }),
    );
    if let Origin::Rule { file, name } = e.origin {
        m.insert("ruleGroup".into(), json!({"file": file, "name": name}));
    }
    if let Some(st) = e.stats {
        let eval = st.eval_time.as_secs_f64();
        let prepare = st.prepare_time.as_secs_f64();
        m.insert(
            "stats".into(),
            json!({
                "timings": {
                    "evalTotalTime": eval,
                    "resultSortTime": 0.0,
                    "queryPreparationTime": prepare,
                    "innerEvalTime": eval,
                    "execQueueTime": 0.0,
                    "execTotalTime": eval + prepare,
                },
                "samples": {
                    "totalQueryableSamples": st.total_queryable_samples,
                    "peakSamples": st.peak_samples,
                },
            }),
        );
    }
    m.insert("ts".into(), json!(date(now_ms)));
    Value::Object(m)
}

/// Go's `2006-01-02T15:04:05.000Z07:00` in UTC.
fn date(ms: i64) -> String {
    pharos_agent::gofmt::rfc3339_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn logs_http_and_rule_queries_as_prometheus_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("query.log");
        let log = QueryLog::new();
        let stats = QueryStats {
            total_queryable_samples: 12,
            peak_samples: 4,
            prepare_time: Duration::from_millis(1),
            eval_time: Duration::from_millis(2),
        };
        let entry = Entry {
            query: "up == 0",
            start_ms: 1_581_170_390_368,
            end_ms: 1_581_173_990_368,
            step_ms: 5_000,
            origin: Origin::Http {
                client_ip: "127.0.0.1",
                method: "GET",
                path: "/api/v1/query_range",
            },
            stats: Some(&stats),
            error: None,
        };
        // Closed: nothing is written anywhere.
        log.log(&entry, 0);
        assert!(!log.enabled());
        log.configure(Some(&path)).unwrap();
        assert!(log.enabled());
        log.log(&entry, 1_581_173_990_387);
        log.log(
            &Entry {
                query: "rate(x[5m]) > 1",
                start_ms: 1_000,
                end_ms: 1_000,
                step_ms: 0,
                origin: Origin::Rule {
                    file: "rules.yml",
                    name: "partners",
                },
                stats: None,
                error: Some("query timed out in query execution"),
            },
            2_000,
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            concat!(
                r#"{"httpRequest":{"clientIP":"127.0.0.1","method":"GET","path":"/api/v1/query_range"},"#,
                r#""params":{"end":"2020-02-08T14:59:50.368Z","query":"up == 0","start":"2020-02-08T13:59:50.368Z","step":5},"#,
                r#""stats":{"timings":{"evalTotalTime":0.002,"resultSortTime":0.0,"queryPreparationTime":0.001,"innerEvalTime":0.002,"execQueueTime":0.0,"execTotalTime":0.003},"#,
                r#""samples":{"totalQueryableSamples":12,"peakSamples":4}},"ts":"2020-02-08T14:59:50.387Z"}"#
            )
        );
        let rule: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(
            rule["ruleGroup"],
            json!({"file": "rules.yml", "name": "partners"})
        );
        assert_eq!(rule["error"], "query timed out in query execution");
        assert_eq!(rule["params"]["step"], 0);
        assert_eq!(rule["params"]["start"], rule["params"]["end"]);
        assert!(rule.get("httpRequest").is_none());

        // Removing query_log_file closes it; a file that cannot be opened
        // is an error and keeps the log as it was.
        log.configure(None).unwrap();
        assert!(!log.enabled());
        assert!(log
            .configure(Some(&dir.path().join("no/such/dir/q.log")))
            .unwrap_err()
            .to_string()
            .starts_with("opening the query log file"));
        assert_eq!(log.failures(), 0);
    }
}
