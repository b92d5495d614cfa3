//! Parsing of Prometheus-style durations (`15d`, `1h30m`, `500ms`) and byte
//! sizes (`512MB`, `1GiB`), as the `--storage.tsdb.retention.*` flags take.

/// Parses a Prometheus duration into milliseconds: one or more
/// `<number><unit>` terms with units `y w d h m s ms`, largest first.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    const UNITS: [(&str, i64); 7] = [
        ("ms", 1),
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ];
    let err = || format!("invalid duration {s:?}: expected e.g. 15d, 12h, 1h30m or 500ms");
    if s.is_empty() {
        return Err(err());
    }
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut total: i64 = 0;
    let mut last_rank = usize::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let (rank, (unit, mult)) = UNITS
            .iter()
            .enumerate()
            .find(|(_, (u, _))| rest.starts_with(u))
            .ok_or_else(err)?;
        // Units must decrease (`1h30m`, not `30m1h`); ranks follow size.
        let size_rank = [6, 0, 1, 2, 3, 4, 5][rank];
        if last_rank != usize::MAX && size_rank <= last_rank {
            return Err(err());
        }
        last_rank = size_rank;
        rest = &rest[unit.len()..];
        total = n
            .checked_mul(*mult)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
    }
    Ok(total)
}

/// Parses a byte size: a whole number with `B`, `KB`, `MB`, `GB`, `TB`,
/// `PB`, `EB` (powers of 1024, as Prometheus reads them) or the `KiB`…`EiB`
/// spellings.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let err = || format!("invalid size {s:?}: expected e.g. 512MB, 10GB or 1TB");
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(err());
    }
    let n: u64 = s[..digits].parse().map_err(|_| err())?;
    let unit = &s[digits..];
    let shift = match unit {
        "B" => 0,
        "KB" | "KiB" => 10,
        "MB" | "MiB" => 20,
        "GB" | "GiB" => 30,
        "TB" | "TiB" => 40,
        "PB" | "PiB" => 50,
        "EB" | "EiB" => 60,
        _ => return Err(err()),
    };
    n.checked_mul(1u64 << shift).ok_or_else(err)
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
        for bad in ["", "MB", "1.5GB", "10", "10mb"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
