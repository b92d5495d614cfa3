//! Grafana's HTTP API, the part dashboards need, over the
//! [`crate::dashboards::Store`]: so pharos's web UI, grafonnet and
//! Terraform-style tools, `grafana-dashboard` scripts and curl lines
//! written for Grafana work against pharos.
//!
//! - dashboards: `POST /api/dashboards/db`, `GET|DELETE
//!   /api/dashboards/uid/{uid}`, `POST /api/dashboards/import`,
//!   `GET /api/dashboards/tags`;
//! - versions: `GET /api/dashboards/uid/{uid}/versions[/{version}]`,
//!   `POST /api/dashboards/uid/{uid}/restore`;
//! - `GET /api/search` (folders and dashboards);
//! - folders: `GET|POST /api/folders`, `GET|PUT|DELETE
//!   /api/folders/{uid}`, `GET /api/folders/id/{id}`;
//! - datasources: pharos itself as the one Prometheus datasource
//!   (`/api/datasources`, `…/uid/{uid}`, `…/name/{name}`, `…/id/{id}`);
//! - `GET /api/health`.
//!
//! Request and response shapes, status codes and error texts are
//! Grafana's (its HTTP API documentation and `pkg/api`); errors are
//! Grafana's `{"message": …}` (with `status` where Grafana adds one), not
//! Prometheus's envelope. There is no authentication yet: every caller
//! is the anonymous admin; `Authorization` headers are ignored.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::api::Params;
use super::AppState;
use crate::dashboards::{self, Dashboard, Folder, FolderChoice, Hit, Kind, Query, Save, Store};

/// Largest request body: dashboards are bigger than API requests (Node
/// Exporter Full is 460 KB), and Grafana sets no small limit.
pub const MAX_DASHBOARD_BODY: usize = 16 << 20;

/// Who made every change, as Grafana names an anonymous user.
const ANONYMOUS: &str = "Anonymous";

/// The datasource every dashboard of pharos queries: pharos itself.
const DATASOURCE_UID: &str = "pharos";
const DATASOURCE_ID: i64 = 1;

/// The routes, with their own body limit and the API's CORS handling.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/dashboards/db", post(save_dashboard))
        .route("/api/dashboards/import", post(import_dashboard))
        .route("/api/dashboards/tags", get(tags))
        .route(
            "/api/dashboards/uid/{uid}",
            get(get_dashboard).delete(delete_dashboard),
        )
        .route("/api/dashboards/uid/{uid}/versions", get(versions))
        .route("/api/dashboards/uid/{uid}/versions/{version}", get(version))
        .route("/api/dashboards/uid/{uid}/restore", post(restore))
        .route("/api/search", get(search))
        .route("/api/search/", get(search))
        .route("/api/folders", get(list_folders).post(create_folder))
        .route(
            "/api/folders/{uid}",
            get(get_folder).put(update_folder).delete(delete_folder),
        )
        .route("/api/folders/id/{id}", get(get_folder_by_id))
        .route("/api/datasources", get(datasources))
        .route("/api/datasources/uid/{uid}", get(datasource_by_uid))
        .route("/api/datasources/name/{name}", get(datasource_by_name))
        .route("/api/datasources/id/{id}", get(datasource_by_id))
        .route("/api/health", get(health))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(axum::middleware::from_fn_with_state(state, super::cors))
        .layer(axum::middleware::map_response(allow_put_and_delete))
        .layer(DefaultBodyLimit::max(MAX_DASHBOARD_BODY))
}

/// Prometheus's API allows GET and POST across origins; Grafana's also
/// updates and deletes, so a page on an allowed origin may send those.
async fn allow_put_and_delete(mut resp: Response) -> Response {
    if let Some(h) = resp.headers_mut().get_mut("access-control-allow-methods") {
        *h = axum::http::HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS");
    }
    resp
}

/// An error in Grafana's shape: `{"message": …}`, plus `status` for the
/// 412s and the others Grafana marks.
#[derive(Debug)]
pub struct GrafanaError {
    code: StatusCode,
    message: String,
    status: Option<&'static str>,
}

impl GrafanaError {
    fn new(code: StatusCode, message: impl Into<String>) -> GrafanaError {
        GrafanaError {
            code,
            message: message.into(),
            status: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> GrafanaError {
        GrafanaError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for GrafanaError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("message".into(), Value::from(self.message));
        if let Some(s) = self.status {
            body.insert("status".into(), Value::from(s));
        }
        (self.code, Json(Value::Object(body))).into_response()
    }
}

impl From<dashboards::Error> for GrafanaError {
    fn from(e: dashboards::Error) -> GrafanaError {
        use dashboards::Error as E;
        let (code, status) = match &e {
            E::NotFound | E::VersionNotFound => (StatusCode::NOT_FOUND, None),
            E::NoSuchFolder => (StatusCode::NOT_FOUND, Some("not-found")),
            E::VersionMismatch | E::FolderVersionMismatch => {
                (StatusCode::PRECONDITION_FAILED, Some("version-mismatch"))
            }
            E::NameExists => (StatusCode::PRECONDITION_FAILED, Some("name-exists")),
            E::TitleEmpty => (StatusCode::BAD_REQUEST, Some("empty-name")),
            E::FolderUidExists | E::FolderNameExists => (StatusCode::CONFLICT, None),
            E::FolderNotFound
            | E::InvalidUid
            | E::UidTooLong
            | E::SameUidExists
            | E::SaveProvisioned
            | E::DeleteProvisioned
            | E::FolderTitleEmpty
            | E::FolderHasProvisioned
            | E::InputMissing(_)
            | E::NotAnObject => (StatusCode::BAD_REQUEST, None),
            E::Store(detail) => {
                // The database's words stay in the log.
                tracing::error!(error = %detail, "a dashboard change could not be stored");
                return GrafanaError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storing the change failed; see the server log",
                );
            }
        };
        GrafanaError {
            code,
            message: e.to_string(),
            status,
        }
    }
}

type Reply = Result<Response, GrafanaError>;

/// A request body as read: too large or cut off, it is refused with the
/// reason, in Grafana's shape.
type Body = Result<Bytes, BytesRejection>;

/// A JSON request body; what is wrong with a malformed one is said.
fn parse_body<T: DeserializeOwned>(body: Body) -> Result<T, GrafanaError> {
    let body = body.map_err(|e| GrafanaError::new(e.status(), e.body_text()))?;
    if body.is_empty() {
        return Err(GrafanaError::bad_request(
            "bad request data: the request body is empty; a JSON object is expected",
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|e| GrafanaError::bad_request(format!("bad request data: {e}")))
}

/// Runs a store change on a blocking thread: it writes to the database,
/// whose writer lock a large remote-write batch may hold for a while.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, dashboards::Error> + Send + 'static,
) -> Result<T, GrafanaError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(GrafanaError::from),
        Err(e) => {
            tracing::error!(error = %e, "dashboard task failed");
            Err(GrafanaError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "dashboard task failed; see the server log",
            ))
        }
    }
}

fn store(st: &AppState) -> Arc<Store> {
    Arc::clone(&st.dashboards)
}

fn dashboard_url(st: &AppState, uid: &str, slug: &str) -> String {
    format!("{}/d/{uid}/{slug}", st.route_prefix)
}

fn folder_url(st: &AppState, f: &Folder) -> String {
    format!(
        "{}/dashboards/f/{}/{}",
        st.route_prefix,
        f.uid,
        dashboards::slugify(&f.title)
    )
}

/// Grafana's timestamps: RFC 3339, UTC.
fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `folderUid` wins over `folderId`; neither (or 0) is General.
fn folder_choice(uid: Option<String>, id: Option<i64>) -> FolderChoice {
    match (uid.filter(|u| !u.is_empty()), id.filter(|&i| i > 0)) {
        (Some(u), _) => FolderChoice::Uid(u),
        (None, Some(i)) => FolderChoice::Id(i),
        (None, None) => FolderChoice::General,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SaveRequest {
    dashboard: Option<Value>,
    folder_uid: Option<String>,
    folder_id: Option<i64>,
    message: Option<String>,
    overwrite: Option<bool>,
}

/// `POST /api/dashboards/db`.
async fn save_dashboard(State(st): State<AppState>, body: Body) -> Reply {
    let req: SaveRequest = parse_body(body)?;
    let dashboard = dashboard_model(req.dashboard)?;
    let save = Save {
        dashboard,
        folder: folder_choice(req.folder_uid, req.folder_id),
        message: req.message.unwrap_or_default(),
        overwrite: req.overwrite.unwrap_or(false),
    };
    let s = store(&st);
    let d = blocking(move || s.save(save)).await?;
    Ok(Json(json!({
        "id": d.id,
        "uid": d.uid,
        "url": dashboard_url(&st, &d.uid, &d.slug),
        "status": "success",
        "version": d.version,
        "slug": d.slug,
    }))
    .into_response())
}

fn dashboard_model(v: Option<Value>) -> Result<Value, GrafanaError> {
    match v {
        Some(v @ Value::Object(_)) => Ok(v),
        Some(_) => Err(GrafanaError::bad_request(
            "bad request data: dashboard must be a JSON object",
        )),
        None => Err(GrafanaError::bad_request(
            "bad request data: dashboard is missing",
        )),
    }
}

/// `GET /api/dashboards/uid/{uid}`: the model and Grafana's `meta`.
async fn get_dashboard(State(st): State<AppState>, Path(uid): Path<String>) -> Reply {
    let (d, folder) = st.dashboards.get(&uid).ok_or(dashboards::Error::NotFound)?;
    let meta = meta(&st, &d, folder.as_ref());
    Ok(Json(json!({ "dashboard": d.data, "meta": meta })).into_response())
}

fn meta(st: &AppState, d: &Dashboard, folder: Option<&Folder>) -> Value {
    json!({
        "type": "db",
        "canSave": true,
        "canEdit": true,
        "canAdmin": true,
        "canStar": false,
        "canDelete": true,
        "isStarred": false,
        "slug": d.slug,
        "url": dashboard_url(st, &d.uid, &d.slug),
        "expires": "0001-01-01T00:00:00Z",
        "created": time(d.created),
        "updated": time(d.updated),
        "updatedBy": ANONYMOUS,
        "createdBy": ANONYMOUS,
        "version": d.version,
        "hasAcl": false,
        "isFolder": false,
        "folderId": folder.map_or(0, |f| f.id),
        "folderUid": folder.map_or("", |f| f.uid.as_str()),
        "folderTitle": folder.map_or("General", |f| f.title.as_str()),
        "folderUrl": folder.map(|f| folder_url(st, f)).unwrap_or_default(),
        "provisioned": d.provisioned.is_some(),
        "provisionedExternalId": d.provisioned.as_ref().map(|p| p.external_id.as_str()).unwrap_or(""),
    })
}

/// `DELETE /api/dashboards/uid/{uid}`.
async fn delete_dashboard(State(st): State<AppState>, Path(uid): Path<String>) -> Reply {
    let s = store(&st);
    let d = blocking(move || s.delete(&uid)).await?;
    Ok(Json(json!({
        "title": d.title,
        "message": format!("Dashboard {} deleted", d.title),
        "id": d.id,
    }))
    .into_response())
}

/// `GET /api/dashboards/tags`.
async fn tags(State(st): State<AppState>) -> Reply {
    let tags: Vec<Value> = st
        .dashboards
        .tags()
        .into_iter()
        .map(|(term, count)| json!({ "term": term, "count": count }))
        .collect();
    Ok(Json(tags).into_response())
}

fn version_summary(v: &dashboards::Version) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), v.id.into());
    m.insert("dashboardId".into(), v.dashboard_id.into());
    m.insert("uid".into(), v.uid.clone().into());
    m.insert("parentVersion".into(), v.parent_version.into());
    m.insert("restoredFrom".into(), v.restored_from.into());
    m.insert("version".into(), v.version.into());
    m.insert("created".into(), time(v.created).into());
    m.insert("createdBy".into(), ANONYMOUS.into());
    m.insert("message".into(), v.message.clone().into());
    m
}

/// `GET /api/dashboards/uid/{uid}/versions` (`limit`, `start`): newest
/// first, in Grafana 12's shape (`{"continueToken", "versions"}`).
async fn versions(
    State(st): State<AppState>,
    Path(uid): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let p = Params::from_request(q.as_deref(), &Default::default(), &[]);
    let limit = number(&p, "limit", 1000).max(1) as usize;
    let start = number(&p, "start", 0).max(0) as usize;
    let s = store(&st);
    let all = blocking(move || s.versions(&uid)).await?;
    let versions: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|v| Value::Object(version_summary(v)))
        .collect();
    Ok(Json(json!({ "continueToken": "", "versions": versions })).into_response())
}

/// An integer query parameter; Grafana falls back to the default for a
/// malformed one.
fn number(p: &Params, key: &str, default: i64) -> i64 {
    p.get(key)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `GET /api/dashboards/uid/{uid}/versions/{version}`: with `data`.
async fn version(
    State(st): State<AppState>,
    Path((uid, version)): Path<(String, String)>,
) -> Reply {
    let Ok(n) = version.parse::<i64>() else {
        return Err(GrafanaError::bad_request(format!(
            "bad request data: version {version:?} is not a number"
        )));
    };
    let s = store(&st);
    let v = blocking(move || s.version(&uid, n)).await?;
    let mut m = version_summary(&v);
    m.insert("data".into(), v.data);
    Ok(Json(Value::Object(m)).into_response())
}

#[derive(Deserialize)]
struct RestoreRequest {
    version: i64,
}

/// `POST /api/dashboards/uid/{uid}/restore`: the old model as a new
/// version.
async fn restore(State(st): State<AppState>, Path(uid): Path<String>, body: Body) -> Reply {
    let req: RestoreRequest = parse_body(body)?;
    let s = store(&st);
    let d = blocking(move || s.restore(&uid, req.version)).await?;
    Ok(Json(json!({
        "id": d.id,
        "slug": d.slug,
        "status": "success",
        "uid": d.uid,
        "url": dashboard_url(&st, &d.uid, &d.slug),
        "version": d.version,
    }))
    .into_response())
}

/// `GET /api/search`: Grafana's parameters; `starred=true` finds nothing,
/// as nothing is starred.
async fn search(State(st): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let p = Params::from_request(q.as_deref(), &Default::default(), &[]);
    if p.get("starred") == Some("true") {
        return Ok(Json(Vec::<Value>::new()).into_response());
    }
    // Repeated keys, and comma-separated lists as some clients send them.
    let list = |key: &str| -> Vec<String> {
        p.all(key)
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let ids = |key: &str| -> Vec<i64> { list(key).iter().filter_map(|v| v.parse().ok()).collect() };
    let kind = match p.get("type") {
        Some("dash-db") => Some(Kind::Dashboard),
        Some("dash-folder") => Some(Kind::Folder),
        _ => None,
    };
    let limit = match number(&p, "limit", 1000) {
        n if n <= 0 => 1000,
        n => n.min(5000),
    };
    let mut folder_uids = list("folderUIDs");
    folder_uids.extend(list("folderUids"));
    let mut dashboard_uids = list("dashboardUIDs");
    dashboard_uids.extend(list("dashboardUID"));
    let query = Query {
        query: p.get("query").unwrap_or("").to_string(),
        tags: p.all("tag").map(str::to_string).collect(),
        kind,
        dashboard_uids,
        dashboard_ids: ids("dashboardIds"),
        folder_uids,
        folder_ids: ids("folderIds"),
        limit: limit as usize,
        page: number(&p, "page", 1).max(1) as usize,
    };
    let hits: Vec<Value> = st
        .dashboards
        .search(&query)
        .iter()
        .map(|h| hit(&st, h))
        .collect();
    Ok(Json(hits).into_response())
}

/// A search hit; the folder fields only for a dashboard in a folder, as
/// Grafana omits them when empty.
fn hit(st: &AppState, h: &Hit) -> Value {
    let (kind, url) = match h.kind {
        Kind::Dashboard => ("dash-db", dashboard_url(st, &h.uid, &h.slug)),
        Kind::Folder => (
            "dash-folder",
            format!("{}/dashboards/f/{}/{}", st.route_prefix, h.uid, h.slug),
        ),
    };
    let mut m = Map::new();
    m.insert("id".into(), h.id.into());
    m.insert("uid".into(), h.uid.clone().into());
    m.insert("orgId".into(), 1.into());
    m.insert("title".into(), h.title.clone().into());
    m.insert("uri".into(), format!("db/{}", h.slug).into());
    m.insert("url".into(), url.into());
    m.insert("slug".into(), h.slug.clone().into());
    m.insert("type".into(), kind.into());
    m.insert("tags".into(), h.tags.clone().into());
    m.insert("isStarred".into(), false.into());
    if let Some(f) = &h.folder {
        m.insert("folderId".into(), f.id.into());
        m.insert("folderUid".into(), f.uid.clone().into());
        m.insert("folderTitle".into(), f.title.clone().into());
        m.insert("folderUrl".into(), folder_url(st, f).into());
    }
    m.insert("sortMeta".into(), 0.into());
    Value::Object(m)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportRequest {
    dashboard: Option<Value>,
    overwrite: Option<bool>,
    inputs: Option<Vec<ImportInput>>,
    folder_uid: Option<String>,
    folder_id: Option<i64>,
    path: Option<String>,
    plugin_id: Option<String>,
}

/// `POST /api/dashboards/import`: Grafana's import of an exported
/// dashboard — `${NAME}` of every `__inputs` entry replaced by the
/// request's input of that name and type (or name `*`), `__inputs` and
/// `__requires` dropped, the exported `id` forgotten — then saved.
async fn import_dashboard(State(st): State<AppState>, body: Body) -> Reply {
    let req: ImportRequest = parse_body(body)?;
    let template = dashboard_model(req.dashboard)?;
    let inputs = req.inputs.unwrap_or_default();
    let dashboard = interpolate(template, &inputs)?;
    let folder = folder_choice(req.folder_uid, req.folder_id);
    let save = Save {
        dashboard,
        folder,
        message: String::new(),
        overwrite: req.overwrite.unwrap_or(false),
    };
    let s = store(&st);
    let d = blocking(move || s.save(save)).await?;
    let folder = st.dashboards.folder(&d.folder_uid);
    Ok(Json(json!({
        "uid": d.uid,
        "pluginId": req.plugin_id.unwrap_or_default(),
        "title": d.title,
        "imported": true,
        "importedUri": format!("db/{}", d.slug),
        "importedUrl": dashboard_url(&st, &d.uid, &d.slug),
        "slug": d.slug,
        "dashboardId": d.id,
        "folderId": folder.as_ref().map_or(0, |f| f.id),
        "folderUid": d.folder_uid,
        "description": d.data.get("description").and_then(Value::as_str).unwrap_or(""),
        "path": req.path.unwrap_or_default(),
        "removed": false,
    }))
    .into_response())
}

/// Grafana's `DashTemplateEvaluator`.
fn interpolate(mut template: Value, inputs: &[ImportInput]) -> Result<Value, GrafanaError> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let defs = template
        .get("__inputs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for def in &defs {
        let name = def.get("name").and_then(Value::as_str).unwrap_or("");
        let kind = def.get("type").and_then(Value::as_str).unwrap_or("");
        let found = inputs.iter().find(|i| {
            i.kind.as_deref().unwrap_or("") == kind
                && matches!(i.name.as_deref(), Some(n) if n == name || n == "*")
        });
        let Some(input) = found else {
            return Err(dashboards::Error::InputMissing(name.to_string()).into());
        };
        vars.push((
            format!("${{{name}}}"),
            input.value.clone().unwrap_or_default(),
        ));
    }
    if let Some(m) = template.as_object_mut() {
        m.shift_remove("__inputs");
        m.shift_remove("__requires");
        m.insert("id".into(), Value::Null);
    }
    if !vars.is_empty() {
        replace_vars(&mut template, &vars);
    }
    Ok(template)
}

/// Replaces each `${…}` that is a declared input, in every string value.
fn replace_vars(v: &mut Value, vars: &[(String, String)]) {
    match v {
        Value::String(s) if s.contains("${") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("${") {
                out.push_str(&rest[..start]);
                let tail = &rest[start..];
                // Grafana's `\$\{.+?\}`: the shortest `${…}` with at least
                // one character inside.
                match tail[2..].find('}').filter(|&n| n > 0) {
                    Some(n) => {
                        let token = &tail[..n + 3];
                        match vars.iter().find(|(k, _)| k == token) {
                            Some((_, value)) => out.push_str(value),
                            None => out.push_str(token),
                        }
                        rest = &tail[n + 3..];
                    }
                    None => {
                        out.push_str(&tail[..2]);
                        rest = &tail[2..];
                    }
                }
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace_vars(x, vars)),
        Value::Object(m) => m.values_mut().for_each(|x| replace_vars(x, vars)),
        _ => {}
    }
}

fn folder_json(st: &AppState, f: &Folder) -> Value {
    json!({
        "id": f.id,
        "uid": f.uid,
        "orgId": 1,
        "title": f.title,
        "url": folder_url(st, f),
        "hasAcl": false,
        "canSave": true,
        "canEdit": true,
        "canAdmin": true,
        "canDelete": true,
        "createdBy": ANONYMOUS,
        "created": time(f.created),
        "updatedBy": ANONYMOUS,
        "updated": time(f.updated),
        "version": f.version,
    })
}

/// `GET /api/folders` (`limit`, `page`): `[{id, uid, title}]` by title.
async fn list_folders(State(st): State<AppState>, RawQuery(q): RawQuery) -> Reply {
    let p = Params::from_request(q.as_deref(), &Default::default(), &[]);
    let limit = number(&p, "limit", 1000).max(1) as usize;
    let page = number(&p, "page", 1).max(1) as usize;
    let out: Vec<Value> = st
        .dashboards
        .folders()
        .iter()
        .skip(limit * (page - 1))
        .take(limit)
        .map(|f| json!({ "id": f.id, "uid": f.uid, "title": f.title }))
        .collect();
    Ok(Json(out).into_response())
}

async fn get_folder(State(st): State<AppState>, Path(uid): Path<String>) -> Reply {
    let f = st
        .dashboards
        .folder(&uid)
        .ok_or(dashboards::Error::NoSuchFolder)?;
    Ok(Json(folder_json(&st, &f)).into_response())
}

async fn get_folder_by_id(State(st): State<AppState>, Path(id): Path<String>) -> Reply {
    let f = id
        .parse::<i64>()
        .ok()
        .and_then(|id| st.dashboards.folder_by_id(id))
        .ok_or(dashboards::Error::NoSuchFolder)?;
    Ok(Json(folder_json(&st, &f)).into_response())
}

#[derive(Deserialize)]
struct CreateFolder {
    uid: Option<String>,
    title: Option<String>,
}

/// `POST /api/folders`.
async fn create_folder(State(st): State<AppState>, body: Body) -> Reply {
    let req: CreateFolder = parse_body(body)?;
    let s = store(&st);
    let f =
        blocking(move || s.create_folder(req.uid.as_deref(), req.title.as_deref().unwrap_or("")))
            .await?;
    Ok(Json(folder_json(&st, &f)).into_response())
}

#[derive(Deserialize)]
struct UpdateFolder {
    title: Option<String>,
    version: Option<i64>,
    overwrite: Option<bool>,
}

/// `PUT /api/folders/{uid}`.
async fn update_folder(State(st): State<AppState>, Path(uid): Path<String>, body: Body) -> Reply {
    let req: UpdateFolder = parse_body(body)?;
    let s = store(&st);
    let f = blocking(move || {
        s.update_folder(
            &uid,
            req.title.as_deref().unwrap_or(""),
            req.version.unwrap_or(0),
            req.overwrite.unwrap_or(false),
        )
    })
    .await?;
    Ok(Json(folder_json(&st, &f)).into_response())
}

/// `DELETE /api/folders/{uid}`: with every dashboard in it.
async fn delete_folder(State(st): State<AppState>, Path(uid): Path<String>) -> Reply {
    let s = store(&st);
    let (f, _) = blocking(move || s.delete_folder(&uid)).await?;
    Ok(Json(json!({
        "message": "Folder deleted",
        "id": f.id,
        "title": f.title,
    }))
    .into_response())
}

/// pharos as Grafana describes a Prometheus datasource.
fn datasource(st: &AppState, full: bool) -> Value {
    // Grafana's `$__rate_interval` needs the scrape interval.
    let interval = st
        .reloader
        .as_ref()
        .and_then(|c| c.config())
        .map_or(15, |c| c.agent.global.scrape_interval.as_secs().max(1));
    let mut v = json!({
        "id": DATASOURCE_ID,
        "uid": DATASOURCE_UID,
        "orgId": 1,
        "name": "pharos",
        "type": "prometheus",
        "typeName": "Prometheus",
        "typeLogoUrl": "public/app/plugins/datasource/prometheus/img/prometheus_logo.svg",
        "access": "proxy",
        "url": st.route_prefix,
        "user": "",
        "database": "",
        "basicAuth": false,
        "isDefault": true,
        "jsonData": {
            "httpMethod": "POST",
            "timeInterval": format!("{interval}s"),
            "prometheusType": "Prometheus",
            "exemplarTraceIdDestinations": st.trace_link.iter()
                .map(|(label, url)| json!({"name": label, "url": url}))
                .collect::<Vec<_>>(),
        },
        "readOnly": true,
    });
    if full {
        if let Some(m) = v.as_object_mut() {
            m.shift_remove("typeName");
            m.insert("basicAuthUser".into(), "".into());
            m.insert("withCredentials".into(), false.into());
            m.insert("secureJsonFields".into(), json!({}));
            m.insert("version".into(), 1.into());
        }
    }
    v
}

fn no_datasource() -> GrafanaError {
    GrafanaError::new(StatusCode::NOT_FOUND, "Data source not found")
}

/// `GET /api/datasources`.
async fn datasources(State(st): State<AppState>) -> Reply {
    Ok(Json(json!([datasource(&st, false)])).into_response())
}

async fn datasource_by_uid(State(st): State<AppState>, Path(uid): Path<String>) -> Reply {
    if uid != DATASOURCE_UID {
        return Err(no_datasource());
    }
    Ok(Json(datasource(&st, true)).into_response())
}

async fn datasource_by_name(State(st): State<AppState>, Path(name): Path<String>) -> Reply {
    if name != "pharos" {
        return Err(no_datasource());
    }
    Ok(Json(datasource(&st, true)).into_response())
}

async fn datasource_by_id(State(st): State<AppState>, Path(id): Path<String>) -> Reply {
    if id.parse::<i64>().ok() != Some(DATASOURCE_ID) {
        return Err(no_datasource());
    }
    Ok(Json(datasource(&st, true)).into_response())
}

/// `GET /api/health`.
async fn health() -> Reply {
    Ok(Json(json!({
        "commit": option_env!("PHAROS_REVISION").unwrap_or("unknown"),
        "database": "ok",
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_replaces_declared_inputs_only() {
        let template = json!({
            "__inputs": [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}],
            "__requires": [{"type": "datasource", "id": "prometheus"}],
            "id": 7,
            "title": "T",
            "panels": [{"datasource": "${DS_PROMETHEUS}", "targets": [
                {"expr": "rate(x[${__rate_interval}]) ${DS_PROMETHEUS}/${} ${unclosed"}
            ]}],
        });
        let inputs = [ImportInput {
            name: Some("DS_PROMETHEUS".into()),
            kind: Some("datasource".into()),
            value: Some("pharos".into()),
        }];
        let out = interpolate(template.clone(), &inputs).unwrap();
        assert_eq!(out["panels"][0]["datasource"], "pharos");
        assert_eq!(
            out["panels"][0]["targets"][0]["expr"],
            "rate(x[${__rate_interval}]) pharos/${} ${unclosed"
        );
        assert!(out.get("__inputs").is_none() && out.get("__requires").is_none());
        assert_eq!(out["id"], Value::Null);

        // The wrong type does not satisfy an input; `*` does.
        let wrong = [ImportInput {
            name: Some("DS_PROMETHEUS".into()),
            kind: Some("constant".into()),
            value: Some("x".into()),
        }];
        let e = interpolate(template.clone(), &wrong).unwrap_err();
        assert_eq!(e.code, StatusCode::BAD_REQUEST);
        assert_eq!(
            e.message,
            "Dashboard input variable: DS_PROMETHEUS missing from import command"
        );
        let star = [ImportInput {
            name: Some("*".into()),
            kind: Some("datasource".into()),
            value: Some("any".into()),
        }];
        let out = interpolate(template, &star).unwrap();
        assert_eq!(out["panels"][0]["datasource"], "any");
    }
}
