//! The remote-write receiver, `POST /api/v1/write`, answering as Prometheus
//! does: 204 when everything was stored; 400 (which senders do not retry)
//! for bodies that cannot be decoded and for refused series or samples,
//! naming them, after the valid rest was stored; 413 for oversized bodies;
//! 415 for a content type that is not remote write; 5xx (which senders
//! retry) when storage failed and nothing was stored. Exemplars are added
//! to the exemplar store after the samples, for series that exist; as in
//! Prometheus, refused exemplars do not fail the request.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use pharos_agent::remote::{self, Version};

use super::{AppState, MAX_WRITE_BODY};
use crate::ingest::remote_write::{self as rw, DecodeError};
use crate::storage::exemplars::{Exemplar, ExemplarError};
use crate::storage::{AppendReport, Appender, Labels, Storage, StorageError};

/// Why a request stored nothing.
enum Failure {
    Decode(DecodeError),
    Storage(StorageError),
}

/// `POST /api/v1/write`.
pub async fn remote_write(State(st): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    // Refuse an announced oversize body before reading any of it: reading
    // 32 MiB only to refuse it wastes the link, and a sender still writing
    // when the connection closes sees a reset instead of the 413.
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > MAX_WRITE_BODY) {
        return too_large();
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_WRITE_BODY).await else {
        return too_large();
    };
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    let content_type = text(header::CONTENT_TYPE);
    let Some(version) = remote::version_from_content_type(content_type) else {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type {:?}: expected application/x-protobuf with proto={} or proto={}\n",
                content_type.unwrap_or_default(),
                remote::PROTO_V1,
                remote::PROTO_V2
            ),
        )
            .into_response();
    };
    let encoding = text(header::CONTENT_ENCODING).map(str::to_string);
    let Ok(_slot) = st.write_slots.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    };
    let storage = Arc::clone(&st.storage);
    let outcome = tokio::task::spawn_blocking(move || {
        let mut decoded =
            rw::decode(&body, version, encoding.as_deref()).map_err(Failure::Decode)?;
        let batch = std::mem::take(&mut decoded.batch);
        let report = storage.append(batch).map_err(Failure::Storage)?;
        let exemplars = add_exemplars(&storage, std::mem::take(&mut decoded.exemplars));
        Ok::<_, Failure>((decoded, report, exemplars))
    })
    .await;
    let (decoded, report, exemplars) = match outcome {
        Ok(Ok(done)) => done,
        Ok(Err(Failure::Decode(e))) => {
            let status = match e {
                DecodeError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                DecodeError::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                _ => StatusCode::BAD_REQUEST,
            };
            return (status, format!("{e}\n")).into_response();
        }
        Ok(Err(Failure::Storage(e))) => {
            tracing::error!(error = %e, "remote write could not be stored");
            let status = match e {
                StorageError::Full => StatusCode::INSUFFICIENT_STORAGE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return (status, format!("{e}\n")).into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "remote write task failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
        }
    };
    respond(version, &decoded, &report, exemplars)
}

/// Adds exemplars of series storage has (Prometheus's head refuses those
/// of unknown series); how many were stored.
fn add_exemplars(storage: &Storage, exemplars: Vec<(Labels, Exemplar)>) -> usize {
    let mut stored = 0;
    for (series, e) in exemplars {
        if storage.series_ref(&series).is_none() {
            continue;
        }
        match storage.exemplars.add(&series, e) {
            Ok(true) => stored += 1,
            Ok(false) | Err(ExemplarError::Disabled) => {}
            Err(err) => {
                tracing::debug!(series = %series, error = %err, "remote-written exemplar refused")
            }
        }
    }
    stored
}

fn too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "request body larger than the limit of {MAX_WRITE_BODY} bytes; send smaller batches\n"
        ),
    )
        .into_response()
}

/// Builds the response for a request that was (at least partly) stored.
fn respond(
    version: Version,
    decoded: &rw::Decoded,
    report: &AppendReport,
    exemplars_written: usize,
) -> Response {
    let mut problems = Vec::new();
    if decoded.invalid_series > 0 {
        problems.push(format!(
            "{} series refused for invalid labels (first: {})",
            decoded.invalid_series,
            decoded.invalid_example.as_deref().unwrap_or("")
        ));
    }
    for (reason, n, example) in &report.rejected {
        problems.push(format!(
            "{n} samples refused: {} (first: {example})",
            reason.as_str()
        ));
    }
    if decoded.histograms > 0 {
        problems.push(format!(
            "{} native histogram samples not stored: pharos does not store native histograms yet",
            decoded.histograms
        ));
    }
    let mut resp = if problems.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        let mut msg = format!("stored {} of {} samples; ", report.written, decoded.samples);
        msg.push_str(&problems.join("; "));
        msg.push('\n');
        (StatusCode::BAD_REQUEST, msg).into_response()
    };
    if version == Version::V2 {
        let h = resp.headers_mut();
        h.insert(
            remote::HEADER_SAMPLES_WRITTEN,
            HeaderValue::from(report.written),
        );
        h.insert(remote::HEADER_HISTOGRAMS_WRITTEN, HeaderValue::from(0u32));
        h.insert(
            remote::HEADER_EXEMPLARS_WRITTEN,
            HeaderValue::from(exemplars_written),
        );
    }
    resp
}
