//! Value formatting by unit, as Grafana formats its unit ids (`short`,
//! `percent`, `percentunit`, `bytes`, `decbytes`, `bits`, `Bps`, `bps`,
//! `ops`, `iops`, `pps`, `hertz`, `s`, `ms`, `celsius`, `bool`, …): the
//! same prefixes, the same automatic number of decimals, the same suffixes,
//! so a dashboard imported from Grafana reads the same here.

/// How a panel's values are shown: one of Grafana's unit ids, parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// The number alone (`none`).
    None,
    /// Numbers with K/Mil/Bil prefixes (`short`, Grafana's default).
    Short,
    /// 0–100 with a `%` sign (`percent`).
    Percent,
    /// 0–1 shown as 0–100 % (`percentunit`).
    PercentUnit,
    /// Scaled by `base` (1000 or 1024) with a prefix before `symbol`
    /// (`bytes` → KiB, `decbytes` → kB, `Bps` → kB/s, `hertz` → kHz);
    /// `offset` is the index of the unprefixed entry in the prefixes
    /// (SI units may go down to m, µ, n); values count `base^start`
    /// of the symbol (`kbytes`: start 1).
    Prefixed {
        base: f64,
        prefixes: &'static [&'static str],
        offset: usize,
        symbol: &'static str,
        start: i32,
    },
    /// A count with K/M/B prefixes and a symbol (`ops` → "1.2K ops").
    Count(&'static str),
    /// The number and a fixed symbol (`celsius` → "21.5 °C").
    Fixed(&'static str),
    /// A duration; the value counts this many seconds (`s`: 1, `ms`: 0.001).
    Time(f64),
    /// Zero and anything else (`bool`: false/true).
    Bool(&'static str, &'static str),
}

const SI: &[&str] = &[
    "f", "p", "n", "µ", "m", "", "k", "M", "G", "T", "P", "E", "Z", "Y",
];
const IEC: &[&str] = &["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"];
const SHORT: &[&str] = &[
    "", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext", " Sept",
];
const COUNT: &[&str] = &["", "K", "M", "B", "T"];

const fn si(symbol: &'static str) -> Unit {
    Unit::Prefixed {
        base: 1000.0,
        prefixes: SI,
        offset: 5,
        symbol,
        start: 0,
    }
}

const fn iec(symbol: &'static str) -> Unit {
    Unit::Prefixed {
        base: 1024.0,
        prefixes: IEC,
        offset: 0,
        symbol,
        start: 0,
    }
}

/// Units counted in a prefix of their symbol (`kbytes` counts KiB).
const fn from(unit: Unit, start: i32) -> Unit {
    match unit {
        Unit::Prefixed {
            base,
            prefixes,
            offset,
            symbol,
            ..
        } => Unit::Prefixed {
            base,
            prefixes,
            offset,
            symbol,
            start,
        },
        other => other,
    }
}

impl Unit {
    /// Grafana's unit id; unknown ids read as `short`, as Grafana falls back.
    pub fn parse(id: &str) -> Unit {
        match id {
            "none" | "" => Unit::None,
            "percent" => Unit::Percent,
            "percentunit" => Unit::PercentUnit,
            "bytes" => iec("B"),
            "kbytes" => from(iec("B"), 1),
            "mbytes" => from(iec("B"), 2),
            "gbytes" => from(iec("B"), 3),
            "decbytes" => si("B"),
            "deckbytes" => from(si("B"), 1),
            "decmbytes" => from(si("B"), 2),
            "decgbytes" => from(si("B"), 3),
            "bits" => iec("b"),
            "decbits" => si("b"),
            "Bps" => si("B/s"),
            "KBs" => from(si("B/s"), 1),
            "MBs" => from(si("B/s"), 2),
            "binBps" => iec("B/s"),
            "bps" => si("b/s"),
            "Kbits" => from(si("b/s"), 1),
            "binbps" => iec("b/s"),
            "pps" => si("p/s"),
            "hertz" => si("Hz"),
            "watt" => si("W"),
            "volt" => si("V"),
            "amp" => si("A"),
            "ops" => Unit::Count("ops"),
            "reqps" => Unit::Count("req/s"),
            "rps" | "rds" => Unit::Count("rd/s"),
            "wps" => Unit::Count("wr/s"),
            "iops" => Unit::Count("io/s"),
            "eps" => Unit::Count("evt/s"),
            "cps" => Unit::Count("c/s"),
            "mps" => Unit::Count("msg/s"),
            "opm" => Unit::Count("ops/min"),
            "celsius" => Unit::Fixed("°C"),
            "fahrenheit" => Unit::Fixed("°F"),
            "rotrpm" => Unit::Fixed("rpm"),
            "ns" => Unit::Time(1e-9),
            "µs" | "us" => Unit::Time(1e-6),
            "ms" => Unit::Time(1e-3),
            "s" | "dtdurations" => Unit::Time(1.0),
            "m" => Unit::Time(60.0),
            "h" => Unit::Time(3600.0),
            "d" => Unit::Time(86400.0),
            "bool" => Unit::Bool("false", "true"),
            "bool_yes_no" => Unit::Bool("No", "Yes"),
            "bool_on_off" => Unit::Bool("Off", "On"),
            _ => Unit::Short,
        }
    }
}

/// `v` in `unit`, with Grafana's automatic decimals.
pub fn format(v: f64, unit: Unit) -> String {
    format_with(v, unit, None)
}

/// `v` in `unit` with `decimals` fixed, or Grafana's automatic decimals.
pub fn format_with(v: f64, unit: Unit, decimals: Option<usize>) -> String {
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
        Unit::None => to_fixed(v, decimals),
        Unit::Short => scaled(v, 1000.0, SHORT, 0, "", decimals),
        Unit::Percent => format!("{}%", to_fixed(v, decimals)),
        Unit::PercentUnit => format!("{}%", to_fixed(100.0 * v, decimals)),
        Unit::Prefixed {
            base,
            prefixes,
            offset,
            symbol,
            start,
        } => scaled(
            v * base.powi(start),
            base,
            prefixes,
            offset,
            symbol,
            decimals,
        ),
        Unit::Count(symbol) => format!("{} {symbol}", scaled(v, 1000.0, COUNT, 0, "", decimals)),
        Unit::Fixed(symbol) => format!("{} {symbol}", to_fixed(v, decimals)),
        Unit::Time(per) => seconds(v * per, decimals),
        Unit::Bool(no, yes) => (if v == 0.0 { no } else { yes }).to_string(),
    }
}

/// Grafana's `getDecimalsForValue`: about two significant digits, one
/// more when the leading digits exceed 2.25, none for whole numbers.
pub fn auto_decimals(v: f64) -> usize {
    let a = v.abs();
    if a == 0.0 || !a.is_finite() || v.fract() == 0.0 {
        return 0;
    }
    let log10 = a.log10().floor();
    let mut dec = -log10 + 1.0;
    let norm = a / 10f64.powf(-dec);
    if norm > 2.25 {
        dec += 1.0;
    }
    dec.clamp(0.0, 15.0) as usize
}

/// Grafana's `toFixed`: `decimals` (or automatic ones) places, zero
/// shown as `0`.
pub fn to_fixed(v: f64, decimals: Option<usize>) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let d = decimals.unwrap_or_else(|| auto_decimals(v)).min(15);
    format!("{v:.d$}")
}

/// Grafana's `scaledUnits`: the prefix of `floor(log_base |v|)`, clamped to
/// the table, `offset` being the unprefixed entry.
fn scaled(
    v: f64,
    base: f64,
    prefixes: &[&str],
    offset: usize,
    symbol: &str,
    decimals: Option<usize>,
) -> String {
    let step = if v == 0.0 {
        0
    } else {
        (v.abs().ln() / base.ln()).floor() as i64
    };
    let i = (offset as i64 + step).clamp(0, prefixes.len() as i64 - 1);
    let shown = v / base.powi((i - offset as i64) as i32);
    let number = to_fixed(shown, decimals);
    if symbol.is_empty() {
        format!("{number}{}", prefixes[i as usize])
    } else {
        format!("{number} {}{symbol}", prefixes[i as usize])
    }
}

/// Grafana's `toSeconds` (and `toMilliSeconds` below a second).
fn seconds(s: f64, decimals: Option<usize>) -> String {
    let a = s.abs();
    let f = |v: f64, suffix: &str| format!("{}{suffix}", to_fixed(v, decimals));
    if a == 0.0 {
        "0 s".into()
    } else if a < 1e-6 {
        f(s * 1e9, " ns")
    } else if a < 1e-3 {
        f(s * 1e6, " µs")
    } else if a < 1.0 {
        f(s * 1e3, " ms")
    } else if a < 60.0 {
        f(s, " s")
    } else if a < 3600.0 {
        f(s / 60.0, " min")
    } else if a < 86400.0 {
        f(s / 3600.0, " hour")
    } else if a < 604800.0 {
        f(s / 86400.0, " day")
    } else if a < 31_536_000.0 {
        f(s / 604800.0, " week")
    } else {
        f(s / 31_536_000.0, " year")
    }
}

/// Axis tick labels: one prefix for the whole axis (the largest tick's)
/// and as many decimals as the spacing of the ticks needs, so no two
/// ticks read the same.
pub fn ticks(splits: &[f64], unit: Unit) -> Vec<String> {
    let spacing = splits
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .filter(|d| *d > 0.0)
        .fold(f64::INFINITY, f64::min);
    let max = splits.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let (base, prefixes, offset, symbol, sep, mult): (f64, &[&str], usize, &str, &str, f64) =
        match unit {
            Unit::Short => (1000.0, SHORT, 0, "", "", 1.0),
            Unit::Count(symbol) => (1000.0, COUNT, 0, symbol, " ", 1.0),
            Unit::Prefixed {
                base,
                prefixes,
                offset,
                symbol,
                start,
            } => (base, prefixes, offset, symbol, " ", base.powi(start)),
            Unit::Percent | Unit::PercentUnit | Unit::None | Unit::Fixed(_) => {
                let scale = if unit == Unit::PercentUnit {
                    100.0
                } else {
                    1.0
                };
                let d = decimals_for_spacing(spacing * scale);
                return splits
                    .iter()
                    .map(|&v| {
                        let n = format!("{:.d$}", v * scale);
                        match unit {
                            Unit::Fixed(s) => format!("{n} {s}"),
                            Unit::None => n,
                            _ => format!("{n}%"),
                        }
                    })
                    .collect();
            }
            Unit::Time(_) | Unit::Bool(..) => {
                return splits.iter().map(|&v| format(v, unit)).collect();
            }
        };
    let (max, spacing) = (max * mult, spacing * mult);
    let step = if max == 0.0 {
        0
    } else {
        (max.ln() / base.ln()).floor() as i64
    };
    let i = (offset as i64 + step).clamp(0, prefixes.len() as i64 - 1);
    let scale = base.powi((i - offset as i64) as i32) / mult;
    let d = decimals_for_spacing(spacing / (scale * mult));
    let prefix = prefixes[i as usize];
    splits
        .iter()
        .map(|&v| {
            if v == 0.0 {
                // Zero needs no prefix: "0 B", not "0 GiB".
                return if symbol.is_empty() {
                    "0".to_string()
                } else {
                    format!("0{sep}{symbol}")
                };
            }
            format!("{:.d$}{sep}{prefix}{symbol}", v / scale)
        })
        .collect()
}

/// The decimals that show ticks `spacing` apart exactly (0.25 apart
/// needs two: 0.25, 0.5, 0.75 — not 0.2, 0.5, 0.8).
fn decimals_for_spacing(spacing: f64) -> usize {
    if !(spacing.is_finite() && spacing > 0.0) {
        return 0;
    }
    let mut d = (-(spacing.log10().floor())).clamp(0.0, 10.0) as usize;
    while d < 10 {
        let scaled = spacing * 10f64.powi(d as i32);
        if (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0) {
            break;
        }
        d += 1;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_decimals_show_the_spacing() {
        assert_eq!(decimals_for_spacing(0.25), 2);
        assert_eq!(decimals_for_spacing(0.5), 1);
        assert_eq!(decimals_for_spacing(2.5), 1);
        assert_eq!(decimals_for_spacing(20.0), 0);
        assert_eq!(decimals_for_spacing(0.1 + 0.2), 1);
        assert_eq!(
            ticks(&[0.0, 250.0, 500.0, 750.0, 1000.0], Unit::parse("Bps")),
            ["0 B/s", "0.25 kB/s", "0.50 kB/s", "0.75 kB/s", "1.00 kB/s"]
        );
    }

    #[test]
    fn ticks_share_a_prefix_and_differ() {
        let p = Unit::parse("percent");
        assert_eq!(
            ticks(&[76.4, 76.45, 76.5, 76.55], p),
            ["76.40%", "76.45%", "76.50%", "76.55%"]
        );
        let mib = 1024.0 * 1024.0;
        assert_eq!(
            ticks(&[0.0, 10.0 * mib, 20.0 * mib], Unit::parse("binBps")),
            ["0 B/s", "10 MiB/s", "20 MiB/s"]
        );
        assert_eq!(
            ticks(&[0.0, 0.5, 1.0], Unit::parse("short")),
            ["0", "0.5", "1.0"]
        );
        assert_eq!(
            ticks(&[0.0, 0.25, 0.5], Unit::parse("percentunit")),
            ["0%", "25%", "50%"]
        );
    }

    /// Expected strings as Grafana 10 shows them for the same values.
    #[test]
    fn formats_as_grafana_does() {
        let cases = [
            (0.0, "short", "0"),
            (1234.0, "short", "1.23 K"),
            (2_500_000.0, "short", "2.50 Mil"),
            (42.123, "percent", "42.1%"),
            (100.0, "percent", "100%"),
            (0.253, "percentunit", "25.3%"),
            (512.0, "bytes", "512 B"),
            (1536.0, "bytes", "1.50 KiB"),
            (8.0 * 1024.0 * 1024.0 * 1024.0, "bytes", "8 GiB"),
            (1500.0, "decbytes", "1.50 kB"),
            (1_048_576.0, "binBps", "1 MiB/s"),
            (1_200_000.0, "Bps", "1.20 MB/s"),
            (1e9, "bps", "1 Gb/s"),
            (12_000.0, "pps", "12 kp/s"),
            (1_230.0, "ops", "1.23K ops"),
            (12.0, "iops", "12 io/s"),
            (2.4e9, "hertz", "2.40 GHz"),
            (0.5, "hertz", "500 mHz"),
            (90.0, "s", "1.50 min"),
            (3.0 * 86400.0, "s", "3 day"),
            (0.0042, "s", "4.20 ms"),
            (250.0, "ms", "250 ms"),
            (45.5, "celsius", "45.5 °C"),
            (1.0, "bool_yes_no", "Yes"),
            (0.0, "bool", "false"),
            (3.14159, "none", "3.14"),
            (7.0, "no-such-unit", "7"),
            (f64::NAN, "bytes", "NaN"),
        ];
        for (v, unit, want) in cases {
            assert_eq!(format(v, Unit::parse(unit)), want, "{v} {unit}");
        }
        assert_eq!(format_with(1536.0, Unit::parse("bytes"), Some(0)), "2 KiB");
        assert_eq!(format_with(0.5, Unit::parse("percent"), Some(3)), "0.500%");
    }
}
