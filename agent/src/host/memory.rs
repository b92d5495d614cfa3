//! node_exporter `meminfo`: one gauge per `/proc/meminfo` field.
//!
//! As node_exporter does: `Active(anon)` becomes `Active_anon`; a value in
//! `kB` is multiplied by 1024 and the name gets `_bytes`; a value without a
//! unit (`HugePages_Total`) keeps its bare name.

use super::{num, read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("meminfo"))?;
    let mut out: Vec<Family> = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 2 || fields.len() > 3 {
            return Err(format!("meminfo: malformed line {line:?}"));
        }
        let mut value = num(fields[1], "meminfo")?;
        let mut key = normalize_key(fields[0].trim_end_matches(':'));
        if fields.len() == 3 {
            if fields[2] != "kB" {
                return Err(format!("meminfo: unsupported unit in {line:?}"));
            }
            value *= 1024.0;
            key.push_str("_bytes");
        }
        let name = format!("node_memory_{key}");
        if out.iter().any(|f| f.name == name) {
            continue;
        }
        out.push(Family::single(
            &name,
            &format!("Memory information field {key}."),
            MetricType::Gauge,
            value,
        ));
    }
    Ok(out)
}

/// `Active(anon)` -> `Active_anon` (node_exporter's `\((.*)\)` -> `_$1`).
fn normalize_key(key: &str) -> String {
    match (key.find('('), key.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!(
                "{}_{}{}",
                &key[..open],
                &key[open + 1..close],
                &key[close + 1..]
            )
        }
        _ => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys() {
        assert_eq!(super::normalize_key("Active(anon)"), "Active_anon");
        assert_eq!(super::normalize_key("MemTotal"), "MemTotal");
    }
}
