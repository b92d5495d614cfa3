//! node_exporter `arp`: `node_arp_entries{device}`, the number of entries
//! per device in `/proc/net/arp` (node_exporter 1.5 reads the file; later
//! releases ask netlink).

use std::collections::BTreeMap;

use super::{read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("net/arp"))?;
    let mut per_device: BTreeMap<&str, f64> = BTreeMap::new();
    // Header: "IP address  HW type  Flags  HW address  Mask  Device".
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        if fields.len() < 6 {
            return Err(format!("/proc/net/arp: short line {line:?}"));
        }
        *per_device.entry(fields[5]).or_default() += 1.0;
    }
    let mut f = Family::new(
        "node_arp_entries",
        "ARP entries by device",
        MetricType::Gauge,
    );
    for (device, n) in per_device {
        f.push(&[("device", device)], n);
    }
    Ok(vec![f])
}
