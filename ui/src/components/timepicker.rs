//! The time range picker: Grafana's quick ranges, the last one chosen
//! highlighted.

use leptos::prelude::*;

/// Quick ranges: label and seconds.
pub const RANGES: &[(&str, f64)] = &[
    ("Last 15 minutes", 900.0),
    ("Last 1 hour", 3600.0),
    ("Last 6 hours", 21600.0),
    ("Last 24 hours", 86400.0),
    ("Last 7 days", 604800.0),
];

/// The range a URL asks for with Grafana's `from=now-6h` (`s`, `m`, `h`,
/// `d`, `w`), if any.
pub fn range_from_url() -> Option<f64> {
    let search = web_sys::window()?.location().search().ok()?;
    let from = search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix("from="))?;
    parse_relative(from)
}

/// Seconds of `now-<n><unit>`.
pub fn parse_relative(from: &str) -> Option<f64> {
    let spec = from.strip_prefix("now-")?;
    let unit = spec.chars().last()?;
    let n: f64 = spec[..spec.len() - unit.len_utf8()].parse().ok()?;
    let secs = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86400.0,
        'w' => 604800.0,
        _ => return None,
    };
    (n > 0.0).then_some(n * secs)
}

#[component]
pub fn TimePicker(range: ReadSignal<f64>, set_range: WriteSignal<f64>) -> impl IntoView {
    view! {
        <div class="timepicker" role="group" aria-label="Time range">
            {RANGES
                .iter()
                .map(|&(label, secs)| {
                    view! {
                        <button
                            class:active=move || range.get() == secs
                            on:click=move |_| set_range.set(secs)
                        >
                            {label}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grafana_relative_ranges() {
        assert_eq!(super::parse_relative("now-15m"), Some(900.0));
        assert_eq!(super::parse_relative("now-2d"), Some(172800.0));
        assert_eq!(super::parse_relative("now"), None);
        assert_eq!(super::parse_relative("now-5y"), None);
    }
}
