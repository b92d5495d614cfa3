//! Parsing of Prometheus-style durations (`15d`, `1h30m`, `500ms`) and byte
//! sizes (`512MB`, `1GiB`), as the `--storage.tsdb.retention.*` flags take.

/// Parses a Prometheus duration into milliseconds: one or more
/// `<number><unit>` terms with units `y w d h m s ms`, largest first — the
/// same parser prometheus.yml durations go through.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    pharos_agent::config::parse_duration(s)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| format!("invalid duration {s:?}: expected e.g. 15d, 12h, 1h30m or 500ms"))
}

/// Parses a byte size with `B`, `KB`, `MB`, `GB`, `TB`, `PB`, `EB` (powers
/// of 1024, as Prometheus reads them) or the `KiB`…`EiB` spellings — the
/// same parser prometheus.yml sizes go through.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    pharos_agent::config::parse_size(s)
        .ok()
        .filter(|n| *n >= 0 && s != "0")
        .map(|n| n as u64)
        .ok_or_else(|| format!("invalid size {s:?}: expected e.g. 512MB, 10GB or 1TB"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("15d"), Ok(15 * 86_400_000));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("1y2w"), Ok((365 + 14) * 86_400_000));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        for bad in ["", "5", "d", "30m1h", "1.5h", "-1h", "1hh"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512MB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("100B"), Ok(100));
        for bad in ["", "MB", "10", "-1GB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
