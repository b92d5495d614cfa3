//! Remote read, `POST /api/v1/read`: snappy-compressed protobuf
//! `ReadRequest` in, `ReadResponse` with raw samples (the "sampled"
//! response type) out, as Prometheus serves it to another Prometheus's
//! `remote_read` or to tools like Thanos.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use pharos_agent::remote::proto;
use prost::Message;

use super::AppState;
use crate::storage::{MatchOp, Matcher, Queryable};

/// Largest compressed request accepted (requests are a few matchers).
const MAX_READ_BODY: usize = 1 << 20;

/// What one remote-read request may cost, from Prometheus's flags.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `--storage.remote.read-sample-limit`: most samples one request may
    /// return, over all its queries (Prometheus counts per query; a
    /// request of 10 000 queries must not get 10 000 budgets). 0: none.
    pub sample_limit: usize,
    /// `--storage.remote.read-concurrent-limit`: requests served at once;
    /// more wait for a slot, as in Prometheus. 0: no limit.
    pub concurrent_limit: usize,
    /// `--storage.remote.read-max-bytes-in-frame`: Prometheus's frame size
    /// of streamed (chunked) responses. pharos answers with the sampled
    /// response type only, which has no frames; kept for the flag's sake.
    pub max_bytes_in_frame: usize,
    /// `--query.timeout`: a request still reading after this fails.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sample_limit: 50_000_000,
            concurrent_limit: 10,
            max_bytes_in_frame: 1_048_576,
            timeout: Duration::from_secs(120),
        }
    }
}

/// The limits and the slots of concurrent requests.
#[derive(Debug)]
pub struct Gate {
    pub limits: Limits,
    slots: Option<tokio::sync::Semaphore>,
}

impl Gate {
    pub fn new(limits: Limits) -> Gate {
        Gate {
            limits,
            slots: (limits.concurrent_limit > 0)
                .then(|| tokio::sync::Semaphore::new(limits.concurrent_limit)),
        }
    }
}

fn bad_request(msg: String) -> Response {
    (StatusCode::BAD_REQUEST, msg + "\n").into_response()
}

/// `POST /api/v1/read`.
pub async fn remote_read(State(st): State<AppState>, body: Bytes) -> Response {
    if body.len() > MAX_READ_BODY {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "remote read request too large\n",
        )
            .into_response();
    }
    let raw = match snap::raw::Decoder::new().decompress_vec(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("snappy decompression failed: {e}")),
    };
    let req = match proto::ReadRequest::decode(raw.as_slice()) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("cannot decode the remote read request: {e}")),
    };
    if !req.accepted_response_types.is_empty()
        && !req
            .accepted_response_types
            .contains(&proto::RESPONSE_SAMPLES)
    {
        return bad_request(format!(
            "server does not support any of the requested response types: {:?}; supported: [SAMPLES]",
            req.accepted_response_types
        ));
    }
    let mut queries = Vec::with_capacity(req.queries.len());
    for q in &req.queries {
        let mut matchers = Vec::with_capacity(q.matchers.len());
        for m in &q.matchers {
            let op = match m.r#type {
                0 => MatchOp::Equal,
                1 => MatchOp::NotEqual,
                2 => MatchOp::RegexMatch,
                3 => MatchOp::RegexNoMatch,
                t => return bad_request(format!("unknown label matcher type {t}")),
            };
            match Matcher::new(op, &m.name, &m.value) {
                Ok(m) => matchers.push(m),
                Err(e) => {
                    return bad_request(format!("invalid regular expression {:?}: {e}", m.value))
                }
            }
        }
        queries.push((matchers, q.start_timestamp_ms, q.end_timestamp_ms));
    }
    let _slot = match &st.remote_read.slots {
        Some(slots) => match slots.acquire().await {
            Ok(p) => Some(p),
            Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
        },
        None => None,
    };
    let limits = st.remote_read.limits;
    let storage = Arc::clone(&st.storage);
    let result = tokio::task::spawn_blocking(move || read_all(&*storage, queries, limits)).await;
    let resp = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return bad_request(e),
        Err(e) => {
            tracing::error!(error = %e, "remote read task failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "remote read failed\n").into_response();
        }
    };
    let encoded = match snap::raw::Encoder::new().compress_vec(&resp) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "snappy compression of a remote read response failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "remote read failed\n").into_response();
        }
    };
    (
        [
            (header::CONTENT_TYPE, "application/x-protobuf"),
            (header::CONTENT_ENCODING, "snappy"),
        ],
        encoded,
    )
        .into_response()
}

/// Runs the queries and encodes the `ReadResponse` as it goes: each
/// query's result is encoded and dropped before the next is read, so
/// memory holds the encoded response and one query's series, not every
/// query's decoded samples at once. Fails past the sample limit or the
/// timeout.
fn read_all(
    storage: &dyn Queryable,
    queries: Vec<(Vec<Matcher>, i64, i64)>,
    limits: Limits,
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + limits.timeout;
    let mut total = 0usize;
    let mut out = Vec::new();
    for (matchers, start, end) in queries {
        if Instant::now() > deadline {
            return Err(format!(
                "remote read timed out after {:?} (--query.timeout)",
                limits.timeout
            ));
        }
        let data = storage
            .select(&matchers, start, end)
            .map_err(|e| e.to_string())?;
        let mut timeseries = Vec::with_capacity(data.len());
        for d in data {
            total += d.samples.len();
            if limits.sample_limit > 0 && total > limits.sample_limit {
                return Err(format!(
                    "exceeded sample limit ({}): narrow the time range or the matchers, or raise --storage.remote.read-sample-limit",
                    limits.sample_limit
                ));
            }
            timeseries.push(proto::TimeSeries {
                labels: d
                    .labels
                    .iter()
                    .map(|(n, v)| proto::Label::new(n, v))
                    .collect(),
                samples: d
                    .samples
                    .iter()
                    .map(|&(t, v)| proto::Sample {
                        value: v,
                        timestamp: t,
                    })
                    .collect(),
                ..Default::default()
            });
        }
        // `ReadResponse.results` is field 1: the response is the
        // concatenation of its results, each encoded as that field.
        prost::encoding::message::encode(1, &proto::QueryResult { timeseries }, &mut out);
    }
    Ok(out)
}
