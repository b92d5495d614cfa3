//! TSDB Status: the head's statistics and its cardinality — the top 10
//! label names by value count, metric names by series count, label names
//! by memory and label pairs by series count — as the Prometheus UI's
//! Status → TSDB Status page shows `/api/v1/status/tsdb`.

use leptos::prelude::*;

use crate::api::{self, NameCount};

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

fn top_table(title: &'static str, unit: &'static str, rows: Vec<NameCount>) -> impl IntoView {
    view! {
        <section class="panel status-section">
            <h3 class="panel-title">{title}</h3>
            <table class="result kv top">
                <thead><tr><th>"Name"</th><th class="value">{unit}</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! {
                        <tr><td>{r.name}</td><td class="value">{r.value}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
pub fn TsdbStatus() -> impl IntoView {
    let status = LocalResource::new(api::tsdb_status);
    view! {
        <div class="dashboard-header"><h1>"TSDB Status"</h1></div>
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || status.get().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(s) => {
                    let h = s.head_stats;
                    view! {
                        <section class="panel status-section head-stats">
                            <h2 class="panel-title">"Head Stats"</h2>
                            <table class="result kv">
                                <thead>
                                    <tr><th>"Number of Series"</th><th>"Number of Chunks"</th><th>"Number of Label Pairs"</th></tr>
                                </thead>
                                <tbody>
                                    <tr><td>{h.num_series}</td><td>{h.chunk_count}</td><td>{h.num_label_pairs}</td></tr>
                                </tbody>
                            </table>
                            <p>"Current Min Time: "{head_time(h.min_time, h.num_series)}</p>
                            <p>"Current Max Time: "{head_time(h.max_time, h.num_series)}</p>
                        </section>
                        <h2 class="status-heading">"Head Cardinality Stats"</h2>
                        <div class="top-tables">
                            {top_table("Top 10 label names with value count", "Count", s.label_value_count_by_label_name)}
                            {top_table("Top 10 series count by metric names", "Count", s.series_count_by_metric_name)}
                            {top_table("Top 10 label names with high memory usage", "Bytes", s.memory_in_bytes_by_label_name)}
                            {top_table("Top 10 series count by label value pairs", "Count", s.series_count_by_label_value_pair)}
                        </div>
                    }.into_any()
                }
            })}
        </Transition>
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
    fn empty_head_has_no_times() {
        assert_eq!(head_time(i64::MAX, 0), "No data");
        assert_eq!(head_time(i64::MIN, 5), "No data");
        assert_eq!(head_time(1000, 1), "1970-01-01T00:00:01.000Z (1000)");
    }
}
