//! node_exporter `udp_queues`: `node_udp_queues{ip,queue}`, the bytes
//! queued in UDP sockets, summed over `/proc/net/udp` (`ip="v4"`) and
//! `/proc/net/udp6` (`ip="v6"`). A missing file (IPv6 disabled) is
//! skipped; both missing fails the collector.

use super::{Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let mut f = Family::new(
        "node_udp_queues",
        "Number of allocated memory in the kernel for UDP datagrams in bytes.",
        MetricType::Gauge,
    );
    let mut found = false;
    for (ip, file) in [("v4", "net/udp"), ("v6", "net/udp6")] {
        let path = roots.proc(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        found = true;
        let (tx, rx) = queued(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        f.push(&[("queue", "tx"), ("ip", ip)], tx);
        f.push(&[("queue", "rx"), ("ip", ip)], rx);
    }
    if !found {
        return Err("neither /proc/net/udp nor /proc/net/udp6 exists".to_string());
    }
    Ok(vec![f])
}

/// Sums the `tx_queue:rx_queue` column (hex) over all sockets.
fn queued(text: &str) -> Result<(f64, f64), String> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        let q = cols.get(4).ok_or_else(|| format!("short line {line:?}"))?;
        let (t, r) = q
            .split_once(':')
            .ok_or_else(|| format!("bad queue column {q:?}"))?;
        let hex =
            |s: &str| u64::from_str_radix(s, 16).map_err(|_| format!("cannot parse {s:?} as hex"));
        tx += hex(t)?;
        rx += hex(r)?;
    }
    Ok((tx as f64, rx as f64))
}
