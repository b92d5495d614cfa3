//! node_exporter `netdev`: `node_network_{receive,transmit}_*_total{device}`
//! from `/proc/net/dev`, plus `receive_nohandler` from
//! `/sys/class/net/<device>/statistics/rx_nohandler` (node_exporter 1.5
//! reads it over netlink; /proc/net/dev lacks it).
//!
//! No device is excluded (node_exporter's upstream default; the Debian
//! package excludes `lo`).

use super::{num, read, Family, MetricType, Roots};

const RECEIVE: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "frame",
    "compressed",
    "multicast",
];
const TRANSMIT: [&str; 8] = [
    "bytes",
    "packets",
    "errs",
    "drop",
    "fifo",
    "colls",
    "carrier",
    "compressed",
];

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("net/dev"))?;
    // (stat name, [(device, value)])
    let mut stats: Vec<(String, Vec<(String, f64)>)> = Vec::new();
    let mut add = |stat: String, dev: &str, v: f64| match stats.iter_mut().find(|(s, _)| *s == stat)
    {
        Some((_, list)) => list.push((dev.to_string(), v)),
        None => stats.push((stat, vec![(dev.to_string(), v)])),
    };
    for line in text.lines().skip(2) {
        let Some((dev, rest)) = line.split_once(':') else {
            continue;
        };
        let dev = dev.trim();
        let values: Vec<&str> = rest.split_whitespace().collect();
        if values.len() != 16 {
            return Err(format!(
                "/proc/net/dev: expected 16 values for {dev}, got {}",
                values.len()
            ));
        }
        for (i, s) in RECEIVE.iter().enumerate() {
            add(format!("receive_{s}"), dev, num(values[i], "net/dev")?);
        }
        for (i, s) in TRANSMIT.iter().enumerate() {
            add(format!("transmit_{s}"), dev, num(values[8 + i], "net/dev")?);
        }
        let nohandler = roots.sys(&format!("class/net/{dev}/statistics/rx_nohandler"));
        if let Ok(t) = std::fs::read_to_string(nohandler) {
            if let Ok(v) = t.trim().parse::<f64>() {
                add("receive_nohandler".to_string(), dev, v);
            }
        }
    }
    stats.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(stats
        .into_iter()
        .map(|(stat, devs)| {
            let mut f = Family::new(
                &format!("node_network_{stat}_total"),
                &format!("Network device statistic {stat}."),
                MetricType::Counter,
            );
            for (d, v) in devs {
                f.push(&[("device", &d)], v);
            }
            f
        })
        .collect())
}
