//! Alertmanager's HTTP API v2, so a Prometheus can use pharos as its
//! Alertmanager and `amtool` works against it: `/api/v2/alerts` (GET,
//! POST), `/api/v2/alerts/groups`, `/api/v2/silences` (GET, POST),
//! `/api/v2/silence/{id}` (GET, DELETE), `/api/v2/status`,
//! `/api/v2/receivers`. Shapes, parameters and status codes follow
//! Alertmanager's OpenAPI spec; errors are JSON strings, as its generated
//! server writes them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::Params;
use super::AppState;
use crate::notify::alert::{parse_rfc3339, rfc3339_millis as rfc3339, Alert};
use crate::notify::matchers::{parse_matcher, Matcher};
use crate::notify::notifier::{AlertView, Notifier};
use crate::notify::silence::{Silence, SilenceError, SilenceMatcher};

/// An API error: a status and a message, written as a JSON string.
pub struct AmError(StatusCode, String);

impl IntoResponse for AmError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(Value::String(self.1))).into_response()
    }
}

fn fail(code: StatusCode, message: impl Into<String>) -> AmError {
    AmError(code, message.into())
}

/// What every handler returns.
pub type Reply = Result<Response, AmError>;

fn notifier(st: &AppState) -> Result<Arc<Notifier>, AmError> {
    st.notifier.clone().ok_or_else(|| {
        fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "the notifier is not running in this server",
        )
    })
}

fn params(q: &Option<String>) -> Params {
    Params::from_request(q.as_deref(), &Default::default(), &[])
}

/// A boolean query parameter (`true`/`false`), `default` when absent.
fn flag(p: &Params, name: &str, default: bool) -> Result<bool, AmError> {
    match p.get(name) {
        None => Ok(default),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(fail(
            StatusCode::BAD_REQUEST,
            format!("{name} in query must be of type bool: {v:?}"),
        )),
    }
}

fn filters(p: &Params) -> Result<Vec<Matcher>, AmError> {
    p.all("filter")
        .map(|f| {
            parse_matcher(f).map_err(|e| {
                fail(
                    StatusCode::BAD_REQUEST,
                    format!("bad matcher format: {f}: {e}"),
                )
            })
        })
        .collect()
}

fn receiver_filter(p: &Params) -> Result<Option<regex::Regex>, AmError> {
    p.get("receiver")
        .filter(|r| !r.is_empty())
        .map(|r| {
            regex::Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                fail(
                    StatusCode::BAD_REQUEST,
                    format!("failed to parse receiver param: {e}"),
                )
            })
        })
        .transpose()
}

fn label_map(m: &BTreeMap<String, String>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
}

fn alert_json(view: &AlertView) -> Value {
    let a = &view.alert;
    let receivers: Vec<Value> = view
        .receivers
        .iter()
        .map(|r| json!({ "name": r }))
        .collect();
    let mut v = json!({
        "annotations": label_map(&a.annotations),
        "endsAt": rfc3339(a.ends_at),
        "fingerprint": a.fingerprint_hex(),
        "receivers": receivers,
        "startsAt": rfc3339(a.starts_at),
        "status": {
            "inhibitedBy": view.inhibited_by,
            "mutedBy": [],
            "silencedBy": view.silenced_by,
            "state": view.state(),
        },
        "updatedAt": rfc3339(a.updated_at),
        "generatorURL": a.generator_url,
        "labels": label_map(&a.labels),
    });
    // Alertmanager omits an empty generatorURL.
    if a.generator_url.is_empty() {
        if let Some(m) = v.as_object_mut() {
            m.remove("generatorURL");
        }
    }
    v
}

/// The alert filters shared by `/alerts` and `/alerts/groups`.
struct AlertFilter {
    active: bool,
    silenced: bool,
    inhibited: bool,
    matchers: Vec<Matcher>,
    receiver: Option<regex::Regex>,
}

impl AlertFilter {
    fn from(p: &Params) -> Result<AlertFilter, AmError> {
        Ok(AlertFilter {
            active: flag(p, "active", true)?,
            silenced: flag(p, "silenced", true)?,
            inhibited: flag(p, "inhibited", true)?,
            // Alerts are processed as they arrive; there are no
            // unprocessed ones to filter.
            matchers: {
                flag(p, "unprocessed", true)?;
                filters(p)?
            },
            receiver: receiver_filter(p)?,
        })
    }

    fn keep(&self, v: &AlertView) -> bool {
        if let Some(re) = &self.receiver {
            if !v.receivers.iter().any(|r| re.is_match(r)) {
                return false;
            }
        }
        if !self.silenced && !v.silenced_by.is_empty() {
            return false;
        }
        if !self.inhibited && !v.inhibited_by.is_empty() {
            return false;
        }
        if !self.active && v.state() == "active" {
            return false;
        }
        self.matchers
            .iter()
            .all(|m| m.matches(v.alert.labels.get(&m.name).map_or("", String::as_str)))
    }
}

/// `GET /api/v2/alerts`.
pub async fn get_alerts(State(st): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let n = notifier(&st)?;
    let f = AlertFilter::from(&params(&q))?;
    let out: Vec<Value> = n
        .alerts()
        .iter()
        .filter(|v| f.keep(v))
        .map(alert_json)
        .collect();
    Ok(axum::Json(out).into_response())
}

/// `GET /api/v2/alerts/groups`.
pub async fn get_groups(State(st): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let n = notifier(&st)?;
    let f = AlertFilter::from(&params(&q))?;
    let out: Vec<Value> = n
        .groups()
        .into_iter()
        .filter_map(|g| {
            let alerts: Vec<Value> = g
                .alerts
                .iter()
                .filter(|v| f.keep(v))
                .map(alert_json)
                .collect();
            (!alerts.is_empty()).then(|| {
                json!({
                    "alerts": alerts,
                    "labels": label_map(&g.labels),
                    "receiver": { "name": g.receiver },
                })
            })
        })
        .collect();
    Ok(axum::Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableAlert {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: Option<String>,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default, rename = "generatorURL")]
    generator_url: String,
}

fn opt_time(s: &Option<String>) -> Result<i64, String> {
    match s.as_deref() {
        None | Some("") => Ok(0),
        Some(t) => parse_rfc3339(t),
    }
}

/// `POST /api/v2/alerts`: valid alerts are taken even when others in the
/// same request are refused (400 lists those), as Alertmanager does.
pub async fn post_alerts(State(st): State<AppState>, body: Bytes) -> Reply {
    let n = notifier(&st)?;
    let posted: Vec<PostableAlert> = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                format!("the body must be a JSON array of alerts: {e}"),
            ))
        }
    };
    let mut errors = Vec::new();
    let mut alerts = Vec::with_capacity(posted.len());
    for p in posted {
        match (opt_time(&p.starts_at), opt_time(&p.ends_at)) {
            (Ok(starts_at), Ok(ends_at)) => alerts.push(Alert {
                labels: p.labels,
                annotations: p.annotations,
                starts_at,
                ends_at,
                generator_url: p.generator_url,
                updated_at: 0,
                timeout: false,
            }),
            (Err(e), _) | (_, Err(e)) => errors.push(e),
        }
    }
    errors.extend(n.put_alerts(alerts));
    if errors.is_empty() {
        Ok(StatusCode::OK.into_response())
    } else {
        Err(fail(StatusCode::BAD_REQUEST, errors.join("; ")))
    }
}

fn silence_json(s: &Silence, now: i64) -> Value {
    json!({
        "id": s.id,
        "status": { "state": s.state_at(now).as_str() },
        "updatedAt": rfc3339(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": rfc3339(s.ends_at),
        "matchers": s.matchers,
        "startsAt": rfc3339(s.starts_at),
    })
}

/// `GET /api/v2/silences`: a filter keeps silences whose matchers, read
/// as labels, satisfy every filter matcher.
pub async fn get_silences(State(st): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let n = notifier(&st)?;
    let f = filters(&params(&q))?;
    let now = n.now();
    let out: Vec<Value> = n
        .silences()
        .list(now)
        .iter()
        .filter(|s| {
            f.iter().all(|m| {
                s.matchers
                    .iter()
                    .any(|sm| sm.name == m.name && m.matches(&sm.value))
            })
        })
        .map(|s| silence_json(s, now))
        .collect();
    Ok(axum::Json(out).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<SilenceMatcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

fn silence_error(e: SilenceError) -> AmError {
    match e {
        SilenceError::NotFound(_) => fail(StatusCode::NOT_FOUND, e.to_string()),
        SilenceError::Invalid(_) => fail(StatusCode::BAD_REQUEST, e.to_string()),
        _ => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// `POST /api/v2/silences`: creates, or updates the silence with `id`.
pub async fn post_silence(State(st): State<AppState>, body: Bytes) -> Reply {
    let n = notifier(&st)?;
    let p: PostableSilence = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return Err(fail(
                StatusCode::BAD_REQUEST,
                format!("invalid silence: {e}"),
            ))
        }
    };
    let (starts_at, ends_at) = match (parse_rfc3339(&p.starts_at), parse_rfc3339(&p.ends_at)) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(e), _) | (_, Err(e)) => return Err(fail(StatusCode::BAD_REQUEST, e)),
    };
    if p.created_by.is_empty() {
        return Err(fail(StatusCode::BAD_REQUEST, "createdBy must not be empty"));
    }
    let s = Silence {
        id: p.id,
        matchers: p.matchers,
        starts_at,
        ends_at,
        updated_at: 0,
        created_by: p.created_by,
        comment: p.comment,
    };
    let id = n.silences().set(s, n.now()).map_err(silence_error)?;
    Ok(axum::Json(json!({ "silenceID": id })).into_response())
}

/// `GET /api/v2/silence/{id}`.
pub async fn get_silence(State(st): State<AppState>, Path(id): Path<String>) -> Reply {
    let n = notifier(&st)?;
    match n.silences().get(&id) {
        Some(s) => Ok(axum::Json(silence_json(&s, n.now())).into_response()),
        None => Err(fail(
            StatusCode::NOT_FOUND,
            format!("silence {id} not found"),
        )),
    }
}

/// `DELETE /api/v2/silence/{id}`: expires it.
pub async fn delete_silence(State(st): State<AppState>, Path(id): Path<String>) -> Reply {
    let n = notifier(&st)?;
    n.silences().expire(&id, n.now()).map_err(silence_error)?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /api/v2/status`: no cluster (one binary), the configuration with
/// secrets hidden.
pub async fn status(State(st): State<AppState>) -> Reply {
    let n = notifier(&st)?;
    Ok(axum::Json(json!({
        "cluster": { "name": "", "peers": [], "status": "disabled" },
        "config": { "original": n.config_shown() },
        "uptime": rfc3339(n.started_ms()),
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": env!("CARGO_PKG_VERSION"),
        },
    }))
    .into_response())
}

/// `GET /api/v2/receivers`.
pub async fn receivers(State(st): State<AppState>) -> Reply {
    let n = notifier(&st)?;
    let out: Vec<Value> = n.receivers().iter().map(|r| json!({ "name": r })).collect();
    Ok(axum::Json(out).into_response())
}
