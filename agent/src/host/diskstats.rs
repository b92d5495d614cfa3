//! node_exporter `diskstats`: `node_disk_*{device}` from `/proc/diskstats`
//! and `node_disk_info` (major/minor from diskstats, the rest from udev's
//! `/run/udev/data/b<major>:<minor>` when present, else empty strings).
//!
//! Devices matching node_exporter 1.5's default
//! `--collector.diskstats.device-exclude` are skipped:
//! `^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$` (partitions, ram and
//! loop devices).

use std::sync::OnceLock;

use regex::Regex;

use super::{num, read, Family, MetricType, Roots};

pub(crate) const DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// Sector size /proc/diskstats counts in, whatever the device's own.
const SECTOR: f64 = 512.0;

/// (name, help, kind, scale) for fields 4.. of a diskstats line.
const FIELDS: [(&str, &str, MetricType, f64); 17] = [
    (
        "reads_completed_total",
        "The total number of reads completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "reads_merged_total",
        "The total number of reads merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "read_bytes_total",
        "The total number of bytes read successfully.",
        MetricType::Counter,
        SECTOR,
    ),
    (
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricType::Counter,
        0.001,
    ),
    (
        "writes_completed_total",
        "The total number of writes completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "writes_merged_total",
        "The number of writes merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "written_bytes_total",
        "The total number of bytes written successfully.",
        MetricType::Counter,
        SECTOR,
    ),
    (
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricType::Counter,
        0.001,
    ),
    (
        "io_now",
        "The number of I/Os currently in progress.",
        MetricType::Gauge,
        1.0,
    ),
    (
        "io_time_seconds_total",
        "Total seconds spent doing I/Os.",
        MetricType::Counter,
        0.001,
    ),
    (
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricType::Counter,
        0.001,
    ),
    (
        "discards_completed_total",
        "The total number of discards completed successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "discards_merged_total",
        "The total number of discards merged.",
        MetricType::Counter,
        1.0,
    ),
    (
        "discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        MetricType::Counter,
        1.0,
    ),
    (
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricType::Counter,
        0.001,
    ),
    (
        "flush_requests_total",
        "The total number of flush requests completed successfully",
        MetricType::Counter,
        1.0,
    ),
    (
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricType::Counter,
        0.001,
    ),
];

fn exclude() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(DEVICE_EXCLUDE).expect("valid regex"))
}

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("diskstats"))?;
    let mut families: Vec<Family> = FIELDS
        .iter()
        .map(|(n, h, k, _)| Family::new(&format!("node_disk_{n}"), h, *k))
        .collect();
    let mut info = Family::new(
        "node_disk_info",
        "Info of /sys/block/<block_device>.",
        MetricType::Gauge,
    );
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        if parts.len() < 14 {
            return Err(format!("/proc/diskstats: too few fields in {line:?}"));
        }
        let (major, minor, dev) = (parts[0], parts[1], parts[2]);
        if exclude().is_match(dev) {
            continue;
        }
        let udev = udev_props(roots, major, minor);
        let prop = |k: &str| {
            udev.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        info.push(
            &[
                ("device", dev),
                ("major", major),
                ("minor", minor),
                ("path", prop("ID_PATH")),
                ("wwn", prop("ID_WWN")),
                ("model", prop("ID_MODEL")),
                ("serial", prop("ID_SERIAL_SHORT")),
                ("revision", prop("ID_REVISION")),
            ],
            1.0,
        );
        for (i, raw) in parts[3..].iter().enumerate().take(FIELDS.len()) {
            let v = num(raw, "diskstats")? * FIELDS[i].3;
            families[i].push(&[("device", dev)], v);
        }
    }
    families.push(info);
    families.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(families)
}

/// `E:KEY=value` properties of a block device from the udev database.
fn udev_props(roots: &Roots, major: &str, minor: &str) -> Vec<(String, String)> {
    let path = roots.udev_data.join(format!("b{major}:{minor}"));
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| l.strip_prefix("E:"))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
