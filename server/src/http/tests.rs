//! The query-side handlers driven through `router(state).oneshot(request)`
//! against a fake querier: what they answer comes from the seam
//! (`AppState::querier`), not from the store (empty in these tests).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::{router, AppState};
use crate::storage::mem::MemStore;
use crate::storage::{Labels, Matcher, Queryable, SeriesData, Storage, StorageError};

/// A store whose every read fails.
struct Broken;

impl Queryable for Broken {
    fn series(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<Labels>, StorageError> {
        Err(StorageError::Corrupt("fake failure".into()))
    }

    fn select(&self, _: &[Matcher], _: i64, _: i64) -> Result<Vec<SeriesData>, StorageError> {
        Err(StorageError::Corrupt("fake failure".into()))
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_unsorted(
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap()
}

/// `up` of two targets and one `http_requests_total`, a sample every 15 s
/// from t = 1 000 s to 1 060 s.
fn fake() -> MemStore {
    let samples = |v: f64| {
        (0..5)
            .map(|i| (1_000_000 + i * 15_000, v))
            .collect::<Vec<_>>()
    };
    let mut m = MemStore::new();
    m.add(
        labels(&[("__name__", "up"), ("job", "node"), ("instance", "a")]),
        &samples(1.0),
    );
    m.add(
        labels(&[("__name__", "up"), ("job", "api"), ("instance", "b")]),
        &samples(0.0),
    );
    m.add(
        labels(&[
            ("__name__", "http_requests_total"),
            ("job", "api"),
            ("code", "200"),
        ]),
        &samples(7.0),
    );
    m
}

/// The router over an empty store with `q` as its querier, and the store's
/// directory (kept alive while the router is used).
fn app(q: impl Queryable + 'static) -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(dir.path(), Default::default()).unwrap());
    let state = AppState::new(storage).with_querier(Arc::new(q));
    (router(state), dir)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let resp = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{uri}: {e}: {}", String::from_utf8_lossy(&body)));
    (status, v)
}

#[tokio::test]
async fn series_labels_and_values_come_from_the_querier() {
    let (app, _dir) = app(fake());
    let (s, v) = get(&app, "/api/v1/series?match[]=up").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["data"],
        json!([
            {"__name__": "up", "instance": "a", "job": "node"},
            {"__name__": "up", "instance": "b", "job": "api"},
        ])
    );
    let (_, v) = get(&app, "/api/v1/labels").await;
    assert_eq!(v["data"], json!(["__name__", "code", "instance", "job"]));
    let (_, v) = get(
        &app,
        "/api/v1/labels?match[]=%7Bjob%3D%22api%22%2Ccode%3D%22200%22%7D",
    )
    .await;
    assert_eq!(v["data"], json!(["__name__", "code", "job"]));
    let (_, v) = get(&app, "/api/v1/label/job/values").await;
    assert_eq!(v["data"], json!(["api", "node"]));
    // Outside the samples' time range nothing matches.
    let (_, v) = get(&app, "/api/v1/label/job/values?start=2000&end=3000").await;
    assert_eq!(v["data"], json!([]));
    let (_, v) = get(
        &app,
        "/api/v1/label/__name__/values?match[]=%7Bjob%3D%22api%22%7D",
    )
    .await;
    assert_eq!(v["data"], json!(["http_requests_total", "up"]));
}

#[tokio::test]
async fn limits_and_bad_requests_answer_as_prometheus() {
    let (app, _dir) = app(fake());
    let (s, v) = get(&app, "/api/v1/label/job/values?limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["data"], json!(["api"]));
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let (_, v) = get(&app, "/api/v1/series?match[]=up&limit=1").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
    let (s, v) = get(&app, "/api/v1/series").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    assert_eq!(v["error"], "no match[] parameter provided");
    let (s, v) = get(&app, "/api/v1/labels?limit=-1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn queries_evaluate_over_the_querier() {
    let (app, _dir) = app(fake());
    let (s, v) = get(&app, "/api/v1/query?query=sum(up)&time=1030").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(v["data"]["result"][0]["value"], json!([1030, "1"]));
    let (_, v) = get(
        &app,
        "/api/v1/query_range?query=count(up)&start=1000&end=1060&step=30",
    )
    .await;
    assert_eq!(
        v["data"]["result"][0]["values"],
        json!([[1000, "2"], [1030, "2"], [1060, "2"]])
    );
    let (_, v) = get(&app, "/api/v1/query?query=up&time=1030&limit=1").await;
    assert_eq!(v["data"]["result"].as_array().unwrap().len(), 1);
    assert_eq!(v["warnings"], json!(["results truncated due to limit"]));
}

#[tokio::test]
async fn a_failing_querier_is_an_internal_error_not_a_crash() {
    let (app, _dir) = app(Broken);
    for uri in [
        "/api/v1/series?match[]=up",
        "/api/v1/labels",
        "/api/v1/label/job/values",
        "/api/v1/query?query=up&time=1030",
    ] {
        let (s, v) = get(&app, uri).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{uri}: {v}");
        assert_eq!(v["status"], "error", "{uri}");
        assert_eq!(v["errorType"], "internal", "{uri}");
    }
}
