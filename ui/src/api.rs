//! Fetching from pharos's HTTP API and the JSON shapes of its answers
//! (Prometheus's envelope: `status`, `data`, `errorType`, `error`).
//!
//! URLs are relative: the document's `<base href>` (set by the server to
//! `--web.route-prefix`) makes them work behind a reverse proxy.

use std::collections::BTreeMap;

use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

// Every answer is read as a `serde_json::Value` and its few fields picked
// out by hand: a typed `Deserialize` per shape costs the bundle a
// deserializer each (about 10 KB gzipped for the nine shapes this had).

/// One series of a range query: its labels and `[seconds, "value"]` points.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSeries {
    pub metric: BTreeMap<String, String>,
    pub values: Vec<(f64, String)>,
}

/// One sample of an instant query.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSample {
    pub metric: BTreeMap<String, String>,
    pub value: (f64, String),
}

/// A `[seconds, "value"]` pair.
fn point(v: &Value) -> (f64, String) {
    (
        v[0].as_f64().unwrap_or(f64::NAN),
        v[1].as_str().unwrap_or("NaN").to_string(),
    )
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// The series of a `matrix` result.
pub fn matrix(data: &Value) -> Vec<MatrixSeries> {
    array(&data["result"])
        .iter()
        .map(|s| MatrixSeries {
            metric: string_map(&s["metric"]),
            values: array(&s["values"]).iter().map(point).collect(),
        })
        .collect()
}

/// The samples of an instant query's result: a vector's, or one sample
/// without labels for a scalar or string; `None` for a range vector.
fn instant(data: &Value) -> Option<Vec<VectorSample>> {
    match data["resultType"].as_str() {
        Some("vector") => Some(
            array(&data["result"])
                .iter()
                .map(|s| VectorSample {
                    metric: string_map(&s["metric"]),
                    value: point(&s["value"]),
                })
                .collect(),
        ),
        Some("scalar") | Some("string") => Some(vec![VectorSample {
            metric: BTreeMap::new(),
            value: point(&data["result"]),
        }]),
        _ => None,
    }
}

fn js_error(e: wasm_bindgen::JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "request failed".into())
}

/// GETs `url` (relative to the document's base) and returns the body.
async fn get_text(url: &str) -> Result<String, String> {
    let window = web_sys::window().ok_or("no window")?;
    let resp = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(js_error)?;
    let resp: web_sys::Response = resp.dyn_into().map_err(js_error)?;
    let text = JsFuture::from(resp.text().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    text.as_string()
        .ok_or_else(|| "response is not text".into())
}

/// GETs a Prometheus API endpoint and unwraps its envelope (`status`,
/// `data`, `error`).
async fn get(url: &str) -> Result<Value, String> {
    let text = get_text(url).await?;
    let mut env: Value =
        serde_json::from_str(&text).map_err(|e| format!("unexpected answer from {url}: {e}"))?;
    if env["status"] == "success" && !env["data"].is_null() {
        return Ok(env["data"].take());
    }
    Err(env["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| format!("{url} failed")))
}

fn enc(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// `/api/v1/query_range` from `start` to `end` (Unix seconds) every
/// `step` seconds.
pub async fn query_range(
    query: &str,
    start: f64,
    end: f64,
    step: f64,
) -> Result<Vec<MatrixSeries>, String> {
    let url = format!(
        "api/v1/query_range?query={}&start={start}&end={end}&step={step}",
        enc(query)
    );
    get(&url).await.map(|d| matrix(&d))
}

/// `/api/v1/query` now: the samples of an instant vector, or one sample
/// without labels for a scalar.
pub async fn query(query: &str) -> Result<Vec<VectorSample>, String> {
    let url = format!("api/v1/query?query={}", enc(query));
    instant(&get(&url).await?).ok_or_else(|| "a range vector cannot be shown as a stat".into())
}

/// One scrape target of `/api/v1/targets`, as the Targets page shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub labels: BTreeMap<String, String>,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub last_error: String,
    pub last_scrape: String,
    pub last_scrape_duration: f64,
    pub health: String,
}

/// The active targets of a `/api/v1/targets` answer.
pub fn read_targets(data: &Value) -> Vec<Target> {
    array(&data["activeTargets"])
        .iter()
        .map(|t| Target {
            labels: string_map(&t["labels"]),
            scrape_pool: text(&t["scrapePool"]),
            scrape_url: text(&t["scrapeUrl"]),
            last_error: text(&t["lastError"]),
            last_scrape: text(&t["lastScrape"]),
            last_scrape_duration: t["lastScrapeDuration"].as_f64().unwrap_or(0.0),
            health: text(&t["health"]),
        })
        .collect()
}

/// The active scrape targets.
pub async fn targets() -> Result<Vec<Target>, String> {
    get("api/v1/targets?state=active")
        .await
        .map(|d| read_targets(&d))
}

/// One alert of `/api/v1/alerts` (pending or firing).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: String,
    pub active_at: Option<String>,
    pub value: String,
}

/// The alerts of a `/api/v1/alerts` answer.
pub fn read_alerts(data: &Value) -> Vec<Alert> {
    array(&data["alerts"])
        .iter()
        .map(|a| Alert {
            labels: string_map(&a["labels"]),
            annotations: string_map(&a["annotations"]),
            state: text(&a["state"]),
            active_at: a["activeAt"].as_str().map(str::to_string),
            value: text(&a["value"]),
        })
        .collect()
}

/// The rules' pending and firing alerts.
pub async fn alerts() -> Result<Vec<Alert>, String> {
    get("api/v1/alerts").await.map(|d| read_alerts(&d))
}

/// `/api/v1/query` at `time` (Unix seconds): the samples of an instant
/// vector, or one sample without labels for a scalar.
pub async fn query_at(query: &str, time: f64) -> Result<Vec<VectorSample>, String> {
    let url = format!("api/v1/query?query={}&time={time}", enc(query));
    instant(&get(&url).await?).ok_or_else(|| {
        "the query returns a range vector; it cannot be evaluated at one instant".into()
    })
}

/// One exemplar of `/api/v1/query_exemplars`: the series it belongs to,
/// its own labels (a trace id), value and time (Unix seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    pub series: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub time: f64,
}

/// The exemplars of a `/api/v1/query_exemplars` answer, series by series.
pub fn read_exemplars(data: &Value) -> Vec<Exemplar> {
    array(data)
        .iter()
        .flat_map(|s| {
            let series = string_map(&s["seriesLabels"]);
            array(&s["exemplars"]).iter().map(move |e| Exemplar {
                series: series.clone(),
                labels: string_map(&e["labels"]),
                value: e["value"]
                    .as_str()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(f64::NAN),
                time: e["timestamp"].as_f64().unwrap_or(f64::NAN),
            })
        })
        .collect()
}

/// The exemplars of the series `query` selects between `start` and `end`.
pub async fn exemplars(query: &str, start: f64, end: f64) -> Result<Vec<Exemplar>, String> {
    let url = format!(
        "api/v1/query_exemplars?query={}&start={start}&end={end}",
        enc(query)
    );
    get(&url).await.map(|d| read_exemplars(&d))
}

/// The strings of a JSON array (label names or values).
fn strings(data: &Value) -> Vec<String> {
    array(data)
        .iter()
        .filter_map(|v| v.as_str())
        .map(str::to_string)
        .collect()
}

/// The values of `label` (on the series `selector` selects, if given)
/// between `start` and `end`.
pub async fn label_values(
    label: &str,
    selector: Option<&str>,
    start: f64,
    end: f64,
) -> Result<Vec<String>, String> {
    let mut url = format!("api/v1/label/{}/values?start={start}&end={end}", enc(label));
    if let Some(s) = selector {
        url.push_str(&format!("&match[]={}", enc(s)));
    }
    get(&url).await.map(|d| strings(&d))
}

/// The label names (of the series `selector` selects, if given).
pub async fn label_names(
    selector: Option<&str>,
    start: f64,
    end: f64,
) -> Result<Vec<String>, String> {
    let mut url = format!("api/v1/labels?start={start}&end={end}");
    if let Some(s) = selector {
        url.push_str(&format!("&match[]={}", enc(s)));
    }
    get(&url).await.map(|d| strings(&d))
}

/// A request to one of pharos's own or Grafana-compatible endpoints:
/// `body` as JSON, the answer as JSON; a failure carries the answer's
/// `message` (Grafana's errors) or `error` (Prometheus's).
pub async fn json(
    method: &str,
    url: &str,
    body: Option<&serde_json::Value>,
) -> Result<serde_json::Value, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        let headers = web_sys::Headers::new().map_err(js_error)?;
        headers
            .set("Content-Type", "application/json")
            .map_err(js_error)?;
        init.set_headers(&headers);
        init.set_body(&wasm_bindgen::JsValue::from_str(&b.to_string()));
    }
    let req = web_sys::Request::new_with_str_and_init(url, &init).map_err(js_error)?;
    let resp = JsFuture::from(window.fetch_with_request(&req))
        .await
        .map_err(js_error)?;
    let resp: web_sys::Response = resp.dyn_into().map_err(js_error)?;
    let status = resp.status();
    let text = JsFuture::from(resp.text().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    let text = text.as_string().unwrap_or_default();
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    if (200..300).contains(&status) {
        return Ok(value);
    }
    let msg = value
        .get("message")
        .or_else(|| value.get("error"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{url} answered {status}"));
    Err(msg)
}

/// The `data` of a Prometheus API answer as JSON: the status pages read
/// their few fields from it (typed answers cost the bundle a deserializer
/// each).
pub async fn data(url: &str) -> Result<Value, String> {
    get(url).await
}

/// A JSON object of strings (a label set, flags) as a map; other values
/// are left out.
pub fn string_map(v: &serde_json::Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Switches a host collector on or off (`POST /api/v1/collectors/<name>`).
pub async fn set_collector(name: &str, enabled: bool) -> Result<(), String> {
    let url = format!("api/v1/collectors/{}?enabled={enabled}", enc(name));
    json("POST", &url, None).await.map(|_| ())
}

/// Now, in Unix seconds.
pub fn now() -> f64 {
    js_sys::Date::now() / 1000.0
}

/// A legend from a template such as `{{device}} received`: each
/// `{{name}}` is the series' label; no template gives the label set.
pub fn legend(template: &str, metric: &BTreeMap<String, String>) -> String {
    if template.is_empty() {
        let inner: Vec<String> = metric
            .iter()
            .filter(|(k, _)| k.as_str() != "__name__")
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        let name = metric.get("__name__").map(String::as_str).unwrap_or("");
        return format!("{name}{{{}}}", inner.join(", "));
    }
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let name = after[..j].trim();
                out.push_str(metric.get(name).map(String::as_str).unwrap_or(""));
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legends_fill_labels() {
        let m: BTreeMap<String, String> = [("device", "eth0"), ("__name__", "x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(legend("{{device}} in", &m), "eth0 in");
        assert_eq!(legend("{{ missing }}!", &m), "!");
        assert_eq!(legend("", &m), "x{device=\"eth0\"}");
    }

    #[test]
    fn answers_read_by_hand() {
        let d: Value = serde_json::from_str(
            r#"{"resultType":"matrix","result":[{"metric":{"job":"a"},"values":[[1,"2"],[2.5,"NaN"]]}]}"#,
        )
        .unwrap();
        let m = matrix(&d);
        assert_eq!(m[0].metric["job"], "a");
        assert_eq!(m[0].values, vec![(1.0, "2".into()), (2.5, "NaN".into())]);
        let d: Value =
            serde_json::from_str(r#"{"resultType":"scalar","result":[3,"1.5"]}"#).unwrap();
        assert_eq!(instant(&d).unwrap()[0].value, (3.0, "1.5".into()));
        let d: Value = serde_json::from_str(r#"{"resultType":"matrix","result":[]}"#).unwrap();
        assert!(instant(&d).is_none());
        let d: Value = serde_json::from_str(
            r#"{"alerts":[{"labels":{"alertname":"X"},"state":"firing","activeAt":"2026-01-01T00:00:00Z","value":"1e+00"}]}"#,
        )
        .unwrap();
        let a = &read_alerts(&d)[0];
        assert_eq!(
            (a.state.as_str(), a.active_at.as_deref()),
            ("firing", Some("2026-01-01T00:00:00Z"))
        );
        let d: Value = serde_json::from_str(
            r#"{"activeTargets":[{"labels":{"job":"j"},"scrapePool":"j","scrapeUrl":"http://x/metrics","lastError":"","lastScrape":"t","lastScrapeDuration":0.25,"health":"up"}]}"#,
        )
        .unwrap();
        assert_eq!(read_targets(&d)[0].last_scrape_duration, 0.25);
        let d: Value = serde_json::from_str(
            r#"[{"seriesLabels":{"job":"a"},"exemplars":[{"labels":{"trace_id":"abc"},"value":"6","timestamp":1600000000.123}]}]"#,
        )
        .unwrap();
        let e = &read_exemplars(&d)[0];
        assert_eq!(
            (
                e.series["job"].as_str(),
                e.labels["trace_id"].as_str(),
                e.value,
                e.time
            ),
            ("a", "abc", 6.0, 1600000000.123)
        );
    }
}
