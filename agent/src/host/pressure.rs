//! node_exporter `pressure`: PSI totals from `/proc/pressure/{cpu,io,memory}`.
//!
//! `some` is "waiting", `full` is "stalled"; totals are microseconds.
//! As in node_exporter 1.5, cpu only reports `waiting` (the cpu `full` line
//! of newer kernels is ignored).

use super::{num, read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let mut out = Vec::new();
    for res in ["cpu", "io", "memory"] {
        let text = read(&roots.proc(&format!("pressure/{res}")))?;
        let mut some = None;
        let mut full = None;
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let kind = it.next();
            let total = it
                .find_map(|kv| kv.strip_prefix("total="))
                .map(|t| num(t, "pressure total"))
                .transpose()?;
            match kind {
                Some("some") => some = total,
                Some("full") => full = total,
                _ => {}
            }
        }
        let some = some.ok_or_else(|| format!("/proc/pressure/{res}: no \"some\" line"))?;
        let (wait_help, stall_help) = match res {
            "cpu" => (
                "Total time in seconds that processes have waited for CPU time",
                "",
            ),
            "io" => (
                "Total time in seconds that processes have waited due to IO congestion",
                "Total time in seconds no process could make progress due to IO congestion",
            ),
            _ => (
                "Total time in seconds that processes have waited for memory",
                "Total time in seconds no process could make progress due to memory congestion",
            ),
        };
        out.push(Family::single(
            &format!("node_pressure_{res}_waiting_seconds_total"),
            wait_help,
            MetricType::Counter,
            some / 1e6,
        ));
        if res != "cpu" {
            let full = full.ok_or_else(|| format!("/proc/pressure/{res}: no \"full\" line"))?;
            out.push(Family::single(
                &format!("node_pressure_{res}_stalled_seconds_total"),
                stall_help,
                MetricType::Counter,
                full / 1e6,
            ));
        }
    }
    Ok(out)
}
