//! node_exporter `stat`: boot time, context switches, forks, interrupts and
//! process counts from `/proc/stat`.

use super::{num, read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("stat"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(key) = it.next() else { continue };
        let (name, help, kind) = match key {
            "intr" => (
                "node_intr_total",
                "Total number of interrupts serviced.",
                MetricType::Counter,
            ),
            "ctxt" => (
                "node_context_switches_total",
                "Total number of context switches.",
                MetricType::Counter,
            ),
            "btime" => (
                "node_boot_time_seconds",
                "Node boot time, in unixtime.",
                MetricType::Gauge,
            ),
            "processes" => (
                "node_forks_total",
                "Total number of forks.",
                MetricType::Counter,
            ),
            "procs_running" => (
                "node_procs_running",
                "Number of processes in runnable state.",
                MetricType::Gauge,
            ),
            "procs_blocked" => (
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                MetricType::Gauge,
            ),
            _ => continue,
        };
        let v = it
            .next()
            .ok_or_else(|| format!("/proc/stat: {key} has no value"))?;
        out.push(Family::single(name, help, kind, num(v, key)?));
    }
    // node_exporter's order: intr, ctxt, forks, btime, running, blocked —
    // order does not matter to consumers; sort by name for stable output.
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
