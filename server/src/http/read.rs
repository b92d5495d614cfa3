//! Remote read, `POST /api/v1/read`: snappy-compressed protobuf
//! `ReadRequest` in, `ReadResponse` with raw samples (the "sampled"
//! response type) out, as Prometheus serves it to another Prometheus's
//! `remote_read` or to tools like Thanos.

use std::sync::Arc;

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

/// Most samples one request may return (Prometheus's
/// `--storage.remote.read-sample-limit` default).
const SAMPLE_LIMIT: usize = 50_000_000;

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
    let storage = Arc::clone(&st.storage);
    let result = tokio::task::spawn_blocking(move || -> Result<proto::ReadResponse, String> {
        let mut total = 0usize;
        let mut results = Vec::with_capacity(queries.len());
        for (matchers, start, end) in queries {
            let data = storage.select(&matchers, start, end).map_err(|e| e.to_string())?;
            let mut timeseries = Vec::with_capacity(data.len());
            for d in data {
                total += d.samples.len();
                if total > SAMPLE_LIMIT {
                    return Err(format!(
                        "exceeded sample limit ({SAMPLE_LIMIT}): narrow the time range or the matchers"
                    ));
                }
                timeseries.push(proto::TimeSeries {
                    labels: d.labels.iter().map(|(n, v)| proto::Label::new(n, v)).collect(),
                    samples: d
                        .samples
                        .iter()
                        .map(|&(t, v)| proto::Sample { value: v, timestamp: t })
                        .collect(),
                    ..Default::default()
                });
            }
            results.push(proto::QueryResult { timeseries });
        }
        Ok(proto::ReadResponse { results })
    })
    .await;
    let resp = match result {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return bad_request(e),
        Err(e) => {
            tracing::error!(error = %e, "remote read task failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "remote read failed\n").into_response();
        }
    };
    let encoded = match snap::raw::Encoder::new().compress_vec(&resp.encode_to_vec()) {
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
