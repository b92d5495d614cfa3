//! Remote read, `POST /api/v1/read`: snappy-compressed protobuf
//! `ReadRequest` in, `ReadResponse` with raw samples (the "sampled"
//! response type) out, as Prometheus serves it to another Prometheus's
//! `remote_read` or to tools like Thanos.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// `--storage.remote.read-max-bytes` (pharos's own): most bytes the
    /// responses of all remote reads in flight may hold together, before
    /// compression. The sample limit alone does not bound memory: a
    /// request that repeats one query 10 000 times returns every series'
    /// labels 10 000 times. 0: no limit.
    pub max_bytes: usize,
    /// `--query.timeout`: a request still reading after this fails.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            sample_limit: 50_000_000,
            concurrent_limit: 10,
            max_bytes_in_frame: 1_048_576,
            max_bytes: 256 << 20,
            timeout: Duration::from_secs(120),
        }
    }
}

/// The limits, the slots of concurrent requests, and the response bytes
/// they hold.
#[derive(Debug)]
pub struct Gate {
    pub limits: Limits,
    slots: Option<tokio::sync::Semaphore>,
    /// Bytes of responses being built or compressed, over all requests.
    bytes: AtomicUsize,
}

impl Gate {
    pub fn new(limits: Limits) -> Gate {
        Gate {
            limits,
            slots: (limits.concurrent_limit > 0)
                .then(|| tokio::sync::Semaphore::new(limits.concurrent_limit)),
            bytes: AtomicUsize::new(0),
        }
    }
}

/// Response bytes one request holds in its [`Gate`]; given back on drop.
struct Held<'g> {
    gate: &'g Gate,
    bytes: usize,
}

impl Held<'_> {
    /// Grows the hold to `total` bytes, or fails past the budget.
    fn grow_to(&mut self, total: usize) -> Result<(), String> {
        let more = total.saturating_sub(self.bytes);
        let max = self.gate.limits.max_bytes;
        let before = self.gate.bytes.fetch_add(more, Ordering::SeqCst);
        self.bytes += more;
        if max > 0 && before + more > max {
            return Err(format!(
                "remote read responses would hold more than {max} bytes (--storage.remote.read-max-bytes): narrow the time range or the matchers, or send fewer queries per request"
            ));
        }
        Ok(())
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.gate.bytes.fetch_sub(self.bytes, Ordering::SeqCst);
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
    let gate = Arc::clone(&st.remote_read);
    let querier = Arc::clone(&st.querier);
    let result = tokio::task::spawn_blocking(move || {
        let mut held = Held {
            gate: &gate,
            bytes: 0,
        };
        let resp = read_all(&*querier, queries, &mut held)?;
        // The compressed copy exists beside the plain one for a moment.
        held.grow_to(resp.capacity() + snap::raw::max_compress_len(resp.len()))?;
        snap::raw::Encoder::new()
            .compress_vec(&resp)
            .map_err(|e| format!("snappy compression of the response failed: {e}"))
    })
    .await;
    let encoded = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return bad_request(e),
        Err(e) => {
            tracing::error!(error = %e, "remote read task failed");
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
/// series is encoded and dropped as soon as it is read, so memory holds the
/// encoded response and one query's selection, not every query's decoded
/// samples at once; the encoded bytes count against the gate's budget as
/// they grow. Fails past the sample limit, the byte budget or the timeout.
fn read_all(
    storage: &dyn Queryable,
    queries: Vec<(Vec<Matcher>, i64, i64)>,
    held: &mut Held,
) -> Result<Vec<u8>, String> {
    let limits = held.gate.limits;
    let deadline = Instant::now() + limits.timeout;
    let mut total = 0usize;
    let mut out = Vec::new();
    let mut result = Vec::new();
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
        result.clear();
        for d in data {
            total += d.samples.len();
            if limits.sample_limit > 0 && total > limits.sample_limit {
                return Err(format!(
                    "exceeded sample limit ({}): narrow the time range or the matchers, or raise --storage.remote.read-sample-limit",
                    limits.sample_limit
                ));
            }
            let ts = proto::TimeSeries::of(d.labels.iter(), &d.samples);
            // `QueryResult.timeseries` is field 1.
            prost::encoding::message::encode(1, &ts, &mut result);
            // Capacities, not lengths: what is allocated is what costs.
            held.grow_to(out.capacity() + result.capacity())?;
        }
        // `ReadResponse.results` is field 1: the response is its results,
        // each a length-delimited field 1 around the query's series.
        prost::encoding::encode_key(1, prost::encoding::WireType::LengthDelimited, &mut out);
        prost::encoding::encode_varint(result.len() as u64, &mut out);
        out.extend_from_slice(&result);
        held.grow_to(out.capacity() + result.capacity())?;
    }
    Ok(out)
}
