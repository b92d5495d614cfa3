//! Value formatting by unit, as Grafana's unit names read (`percent`,
//! `bytes`, `Bps`, `short`, `s`): compact numbers with SI or IEC prefixes.

/// How a panel's values are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Plain numbers with k/M/G/T prefixes (Grafana's `short`).
    Short,
    /// 0–100 with a `%` sign (Grafana's `percent`).
    Percent,
    /// Bytes with binary prefixes (Grafana's `bytes`).
    Bytes,
    /// Bytes per second with binary prefixes (Grafana's `Bps`).
    BytesPerSecond,
    /// Durations from seconds (Grafana's `s`).
    Seconds,
}

/// `v` in `unit`, with about three significant digits.
pub fn format(v: f64, unit: Unit) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    match unit {
        Unit::Short => scaled(v, 1000.0, &["", " K", " Mil", " Bil", " Tri"]),
        Unit::Percent => format!("{}%", digits(v)),
        Unit::Bytes => scaled(v, 1024.0, &[" B", " KiB", " MiB", " GiB", " TiB", " PiB"]),
        Unit::BytesPerSecond => {
            scaled(v, 1024.0, &[" B/s", " KiB/s", " MiB/s", " GiB/s", " TiB/s"])
        }
        Unit::Seconds => duration(v),
    }
}

/// Three significant digits, trailing zeros dropped.
fn digits(v: f64) -> String {
    let a = v.abs();
    let decimals = if a == 0.0 || a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Axis tick labels: one prefix for the whole axis (the largest tick's)
/// and as many decimals as the spacing of the ticks needs, so no two
/// ticks read the same.
pub fn ticks(splits: &[f64], unit: Unit) -> Vec<String> {
    let (base, suffixes): (f64, &[&str]) = match unit {
        Unit::Short => (1000.0, &["", " K", " Mil", " Bil", " Tri"]),
        Unit::Bytes => (1024.0, &[" B", " KiB", " MiB", " GiB", " TiB", " PiB"]),
        Unit::BytesPerSecond => (1024.0, &[" B/s", " KiB/s", " MiB/s", " GiB/s", " TiB/s"]),
        Unit::Percent => (f64::INFINITY, &["%"]),
        Unit::Seconds => return splits.iter().map(|&v| format(v, unit)).collect(),
    };
    let max = splits.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut scale = 1.0;
    let mut i = 0;
    while max / scale >= base && i + 1 < suffixes.len() {
        scale *= base;
        i += 1;
    }
    let spacing = splits
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let decimals = if spacing.is_finite() {
        (-(spacing / scale).log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        0
    };
    splits
        .iter()
        .map(|&v| format!("{:.*}{}", decimals, v / scale, suffixes[i]))
        .collect()
}

fn scaled(v: f64, base: f64, suffixes: &[&str]) -> String {
    let mut x = v;
    let mut i = 0;
    while x.abs() >= base && i + 1 < suffixes.len() {
        x /= base;
        i += 1;
    }
    format!("{}{}", digits(x), suffixes[i])
}

fn duration(secs: f64) -> String {
    let a = secs.abs();
    if a < 60.0 {
        format!("{} s", digits(secs))
    } else if a < 3600.0 {
        format!("{} min", digits(secs / 60.0))
    } else if a < 86400.0 {
        format!("{} hour", digits(secs / 3600.0))
    } else if a < 86400.0 * 365.0 {
        format!("{} day", digits(secs / 86400.0))
    } else {
        format!("{} year", digits(secs / (86400.0 * 365.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_share_a_prefix_and_differ() {
        assert_eq!(
            ticks(&[76.4, 76.45, 76.5, 76.55], Unit::Percent),
            ["76.40%", "76.45%", "76.50%", "76.55%"]
        );
        let mib = 1024.0 * 1024.0;
        assert_eq!(
            ticks(&[0.0, 10.0 * mib, 20.0 * mib], Unit::BytesPerSecond),
            ["0 MiB/s", "10 MiB/s", "20 MiB/s"]
        );
        assert_eq!(ticks(&[0.0, 0.5, 1.0], Unit::Short), ["0.0", "0.5", "1.0"]);
    }

    #[test]
    fn formats_as_grafana_reads_them() {
        let cases = [
            (0.0, Unit::Short, "0"),
            (1234.0, Unit::Short, "1.23 K"),
            (2_500_000.0, Unit::Short, "2.5 Mil"),
            (42.123, Unit::Percent, "42.1%"),
            (100.0, Unit::Percent, "100%"),
            (512.0, Unit::Bytes, "512 B"),
            (1536.0, Unit::Bytes, "1.5 KiB"),
            (8.0 * 1024.0 * 1024.0 * 1024.0, Unit::Bytes, "8 GiB"),
            (1_048_576.0, Unit::BytesPerSecond, "1 MiB/s"),
            (90.0, Unit::Seconds, "1.5 min"),
            (3.0 * 86400.0, Unit::Seconds, "3 day"),
            (f64::NAN, Unit::Bytes, "NaN"),
        ];
        for (v, unit, want) in cases {
            assert_eq!(format(v, unit), want, "{v} {unit:?}");
        }
    }
}
