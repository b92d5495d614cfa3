//! The web UI: the bundle `ui/build.sh` writes to `ui/dist`, embedded in
//! the binary (rust-embed), served as Grafana and the Prometheus UI serve
//! theirs:
//!
//! - `assets/<name>-<hash>.<ext>`: content-hashed names, so a year-long
//!   immutable cache is safe; the pre-compressed `.br` or `.gz` sibling is
//!   sent when the browser accepts it;
//! - every other `GET` that is not an API path answers `index.html`
//!   (client-side routes), never cached, with a `<base href>` of
//!   `--web.route-prefix`, so the app's relative URLs work behind a
//!   reverse proxy.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::AppState;

#[derive(rust_embed::RustEmbed)]
#[folder = "../ui/dist/"]
struct Bundle;

/// Cache lifetime of hashed assets: a year, as long as any cache keeps them.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("html") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether the request's `Accept-Encoding` lists `coding` (quality not 0).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case(coding))
                && !parts.any(|p| p.replace(' ', "") == "q=0")
        })
}

/// `path` from the bundle, pre-compressed when the client takes it.
fn file(path: &str, headers: &HeaderMap, cache: &'static str) -> Option<Response> {
    let plain = Bundle::get(path)?;
    let (body, encoding) = [("br", "br"), ("gz", "gzip")]
        .iter()
        .filter(|(_, coding)| accepts(headers, coding))
        .find_map(|(ext, coding)| {
            Bundle::get(&format!("{path}.{ext}")).map(|f| (f.data, Some(*coding)))
        })
        .unwrap_or((plain.data, None));
    let mut resp = (
        [
            (header::CONTENT_TYPE, content_type(path)),
            (header::CACHE_CONTROL, cache),
            (header::VARY, "Accept-Encoding"),
        ],
        body.into_owned(),
    )
        .into_response();
    if let Some(coding) = encoding {
        resp.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    Some(resp)
}

/// `GET /assets/{name}`.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name.ends_with(".gz") || name.ends_with(".br") {
        return StatusCode::NOT_FOUND.into_response();
    }
    file(&format!("assets/{name}"), &headers, IMMUTABLE)
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `index.html` for `/` and the app's own routes; API paths that match no
/// route stay 404s.
pub async fn index(State(st): State<AppState>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches(&st.route_prefix);
    if path.starts_with("/api/") || path.starts_with("/-/") || path.starts_with("/assets/") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(page) = Bundle::get("index.html") else {
        return (
            StatusCode::NOT_FOUND,
            "this pharos was built without its web UI (run ui/build.sh before cargo build)\n",
        )
            .into_response();
    };
    let html = String::from_utf8_lossy(&page.data).replacen(
        "<head>",
        &format!("<head>\n<base href=\"{}/\">", st.route_prefix),
        1,
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_is_read_as_browsers_send_it() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(accepts(&h("gzip, deflate, br, zstd"), "br"));
        assert!(accepts(&h("gzip;q=1.0, br;q=0.5"), "br"));
        assert!(!accepts(&h("gzip, br;q=0"), "br"));
        assert!(!accepts(&h("gzip"), "br"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }
}
