//! node_exporter `softnet`: per-CPU packet processing counters from
//! `/proc/net/softnet_stat` (hex columns: processed, dropped,
//! time_squeezed, ...). As in node_exporter 1.5 the `cpu` label is the
//! line number.

use super::{read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("net/softnet_stat"))?;
    let mut processed = Family::new(
        "node_softnet_processed_total",
        "Number of processed packets",
        MetricType::Counter,
    );
    let mut dropped = Family::new(
        "node_softnet_dropped_total",
        "Number of dropped packets",
        MetricType::Counter,
    );
    let mut squeezed = Family::new(
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
        MetricType::Counter,
    );
    for (cpu, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 3 {
            return Err(format!("/proc/net/softnet_stat: short line {line:?}"));
        }
        let hex = |s: &str| {
            u64::from_str_radix(s, 16)
                .map(|v| v as f64)
                .map_err(|_| format!("/proc/net/softnet_stat: cannot parse {s:?} as hex"))
        };
        let cpu = cpu.to_string();
        processed.push(&[("cpu", &cpu)], hex(cols[0])?);
        dropped.push(&[("cpu", &cpu)], hex(cols[1])?);
        squeezed.push(&[("cpu", &cpu)], hex(cols[2])?);
    }
    Ok(vec![dropped, processed, squeezed])
}
