//! TSDB Status: the head's statistics and its cardinality — the top 10
//! label names by value count, metric names by series count, label names
//! by memory and label pairs by series count — as the Prometheus UI's
//! Status → TSDB Status page shows `/api/v1/status/tsdb`.

use leptos::prelude::*;
use serde_json::Value;

use super::status::{loaded, table, titled_table};

/// A time in Unix milliseconds as ISO 8601 in UTC (`2024-01-31T12:00:00.000Z`,
/// JavaScript's `toISOString`), the way Prometheus shows the head's bounds.
pub fn iso_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// `"<ISO time> (<ms>)"`, or "No data" for an empty head's sentinel bounds.
pub fn head_time(ms: i64, series: u64) -> String {
    if series == 0 || ms == i64::MAX || ms == i64::MIN {
        return "No data".into();
    }
    format!("{} ({ms})", iso_utc(ms))
}

/// `(name, value)` of a top list: `[{"name": …, "value": …}, …]`.
pub fn top_list(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let name = e["name"].as_str().unwrap_or_default().to_string();
                    (name, e["value"].as_u64().unwrap_or(0))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn top_table(title: &'static str, unit: &str, list: &Value) -> AnyView {
    let rows = top_list(list)
        .into_iter()
        .map(|(name, value)| vec![name, value.to_string()])
        .collect();
    titled_table(
        title,
        "result kv top",
        vec!["Name".into(), unit.into()],
        rows,
    )
}

#[component]
pub fn TsdbStatus() -> impl IntoView {
    view! {
        <div class="dashboard-header"><h1>"TSDB Status"</h1></div>
        {loaded(&["api/v1/status/tsdb"], None, |vs| {
                    let s = &vs[0];
                    let h = &s["headStats"];
                    let n = |k: &str| h[k].as_u64().unwrap_or(0);
                    let t = |k: &str| h[k].as_i64().unwrap_or(i64::MAX);
                    let series = n("numSeries");
                    view! {
                        <section class="panel status-section head-stats">
                            <h2 class="panel-title">"Head Stats"</h2>
                            {table(
                                "result kv",
                                ["Number of Series", "Number of Chunks", "Number of Label Pairs"].map(String::from).to_vec(),
                                vec![vec![series.to_string(), n("chunkCount").to_string(), n("numLabelPairs").to_string()]],
                            )}
                            <p>"Current Min Time: "{head_time(t("minTime"), series)}</p>
                            <p>"Current Max Time: "{head_time(t("maxTime"), series)}</p>
                        </section>
                        <h2 class="status-heading">"Head Cardinality Stats"</h2>
                        <div class="top-tables">
                            {top_table("Top 10 label names with value count", "Count", &s["labelValueCountByLabelName"])}
                            {top_table("Top 10 series count by metric names", "Count", &s["seriesCountByMetricName"])}
                            {top_table("Top 10 label names with high memory usage", "Bytes", &s["memoryInBytesByLabelName"])}
                            {top_table("Top 10 series count by label value pairs", "Count", &s["seriesCountByLabelValuePair"])}
                        </div>
                    }.into_any()
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_like_javascript() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_utc(1_706_702_400_123), "2024-01-31T12:00:00.123Z");
        assert_eq!(iso_utc(951_825_600_000), "2000-02-29T12:00:00.000Z");
        assert_eq!(iso_utc(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn top_lists_read_from_the_answer() {
        let v: Value = serde_json::from_str(
            r#"[{"name":"node_cpu_seconds_total","value":16},{"name":"up","value":3}]"#,
        )
        .unwrap();
        assert_eq!(
            top_list(&v),
            [
                ("node_cpu_seconds_total".to_string(), 16),
                ("up".to_string(), 3)
            ]
        );
        assert!(top_list(&Value::Null).is_empty());
    }

    #[test]
    fn empty_head_has_no_times() {
        assert_eq!(head_time(i64::MAX, 0), "No data");
        assert_eq!(head_time(i64::MIN, 5), "No data");
        assert_eq!(head_time(1000, 1), "1970-01-01T00:00:01.000Z (1000)");
    }
}
