//! node_exporter `cpu`: `node_cpu_seconds_total{cpu,mode}` and
//! `node_cpu_guest_seconds_total{cpu,mode}` from the `cpuN` lines of
//! `/proc/stat`, in USER_HZ ticks (100 per second on Linux, fixed by the
//! kernel ABI regardless of CONFIG_HZ).

use super::{num, read, Family, MetricType, Roots};

const USER_HZ: f64 = 100.0;

const MODES: [&str; 8] = [
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
];

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("stat"))?;
    let mut seconds = Family::new(
        "node_cpu_seconds_total",
        "Seconds the CPUs spent in each mode.",
        MetricType::Counter,
    );
    let mut guest = Family::new(
        "node_cpu_guest_seconds_total",
        "Seconds the CPUs spent in guests (VMs) for each mode.",
        MetricType::Counter,
    );
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(key) = it.next() else { continue };
        let Some(id) = key.strip_prefix("cpu") else {
            continue;
        };
        if id.is_empty() {
            continue; // the "cpu" total line
        }
        if id.parse::<u32>().is_err() {
            return Err(format!("/proc/stat: bad cpu line {line:?}"));
        }
        let values = it
            .map(|v| num(v, "/proc/stat cpu").map(|t| t / USER_HZ))
            .collect::<Result<Vec<f64>, String>>()?;
        if values.len() < 4 {
            return Err(format!("/proc/stat: too few fields in {line:?}"));
        }
        for (i, mode) in MODES.iter().enumerate() {
            // Older kernels lack iowait/irq/softirq/steal; procfs reads
            // them as 0.
            let v = values.get(i).copied().unwrap_or(0.0);
            seconds.push(&[("cpu", id), ("mode", mode)], v);
        }
        guest.push(
            &[("cpu", id), ("mode", "user")],
            values.get(8).copied().unwrap_or(0.0),
        );
        guest.push(
            &[("cpu", id), ("mode", "nice")],
            values.get(9).copied().unwrap_or(0.0),
        );
    }
    if seconds.samples.is_empty() {
        return Err("/proc/stat: no per-cpu lines".to_string());
    }
    Ok(vec![seconds, guest])
}
