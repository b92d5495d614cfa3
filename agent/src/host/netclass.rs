//! node_exporter `netclass`: the attributes of each device in
//! `/sys/class/net/<device>/` as `node_network_<property>{device}`, plus
//! `node_network_up` (operstate is `up`) and `node_network_info` (the
//! string attributes as labels).
//!
//! An attribute the kernel refuses to report (e.g. `carrier` or `speed` of
//! a device that is down: EINVAL) is left out, as node_exporter does. No
//! device is ignored (node_exporter's default `^$`).

use super::{Family, MetricType, Roots};

/// (sysfs file, metric suffix, type). Values are integers in Go's base-0
/// syntax (`flags` is hex, `0x1003`).
const PROPERTIES: [(&str, &str, MetricType); 17] = [
    ("addr_assign_type", "address_assign_type", MetricType::Gauge),
    ("carrier", "carrier", MetricType::Gauge),
    (
        "carrier_changes",
        "carrier_changes_total",
        MetricType::Counter,
    ),
    (
        "carrier_up_count",
        "carrier_up_changes_total",
        MetricType::Counter,
    ),
    (
        "carrier_down_count",
        "carrier_down_changes_total",
        MetricType::Counter,
    ),
    ("dev_id", "device_id", MetricType::Gauge),
    ("dormant", "dormant", MetricType::Gauge),
    ("flags", "flags", MetricType::Gauge),
    ("ifindex", "iface_id", MetricType::Gauge),
    ("iflink", "iface_link", MetricType::Gauge),
    ("link_mode", "iface_link_mode", MetricType::Gauge),
    ("mtu", "mtu_bytes", MetricType::Gauge),
    ("name_assign_type", "name_assign_type", MetricType::Gauge),
    ("netdev_group", "net_dev_group", MetricType::Gauge),
    ("speed", "speed_bytes", MetricType::Gauge),
    ("tx_queue_len", "transmit_queue_length", MetricType::Gauge),
    ("type", "protocol_type", MetricType::Gauge),
];

/// String attributes reported as labels of `node_network_info`; an
/// unreadable one is the empty string.
const INFO: [&str; 5] = ["address", "broadcast", "duplex", "ifalias", "operstate"];

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let dir = roots.sys("class/net");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut devices: Vec<String> = entries
        .flatten()
        // Devices are symlinks to directories; skip files such as
        // bonding_masters.
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    devices.sort();

    let mut up = Family::new(
        "node_network_up",
        "Value is 1 if operstate is 'up', 0 otherwise.",
        MetricType::Gauge,
    );
    let mut info = Family::new(
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        MetricType::Gauge,
    );
    let mut props: Vec<Family> = PROPERTIES
        .iter()
        .map(|(_, name, kind)| {
            Family::new(
                &format!("node_network_{name}"),
                &format!("Network device property: {name}"),
                *kind,
            )
        })
        .collect();
    for dev in &devices {
        let base = dir.join(dev);
        let attr = |file: &str| {
            std::fs::read_to_string(base.join(file))
                .ok()
                .map(|s| s.trim().to_string())
        };
        let strings: Vec<String> = INFO.iter().map(|a| attr(a).unwrap_or_default()).collect();
        let operstate = &strings[4];
        up.push(
            &[("device", dev)],
            if operstate == "up" { 1.0 } else { 0.0 },
        );
        let mut labels: Vec<(&str, &str)> = vec![("device", dev)];
        labels.extend(INFO.iter().zip(&strings).map(|(k, v)| (*k, v.as_str())));
        info.push(&labels, 1.0);
        for ((file, name, _), family) in PROPERTIES.iter().zip(props.iter_mut()) {
            let Some(v) = attr(file).and_then(|s| parse_int(&s)) else {
                continue;
            };
            let v = if *name == "speed_bytes" {
                // Mbit/s to bytes/s; -1 (unknown) stays negative as in
                // node_exporter 1.5.
                (v * 1000 * 1000 / 8) as f64
            } else {
                v as f64
            };
            family.push(&[("device", dev)], v);
        }
    }
    let mut out = vec![up, info];
    out.extend(props);
    Ok(out)
}

/// Parses an integer the way Go's `strconv.ParseInt(s, 0, 64)` does for
/// the forms sysfs uses: decimal, `0x` hex, optional sign.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(hex, 16).ok()?
    } else {
        digits.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::parse_int;

    #[test]
    fn host_netclass_parses_go_base0_ints() {
        assert_eq!(parse_int("0x1003"), Some(4099));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("1500"), Some(1500));
        assert_eq!(parse_int("up"), None);
    }
}
