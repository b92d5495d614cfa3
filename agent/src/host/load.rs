//! node_exporter `loadavg`: `node_load1`, `node_load5`, `node_load15` from
//! `/proc/loadavg`.

use super::{num, read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("loadavg"))?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() < 3 {
        return Err(format!(
            "/proc/loadavg: expected 3 load averages, got {text:?}"
        ));
    }
    let mut out = Vec::new();
    for (i, (name, help)) in [
        ("node_load1", "1m load average."),
        ("node_load5", "5m load average."),
        ("node_load15", "15m load average."),
    ]
    .into_iter()
    .enumerate()
    {
        let v = num(fields[i], "loadavg")?;
        out.push(Family::single(name, help, MetricType::Gauge, v));
    }
    Ok(out)
}
