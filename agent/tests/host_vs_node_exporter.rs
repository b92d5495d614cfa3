//! Name compatibility of the host collector with the real node_exporter:
//! runs `/usr/bin/prometheus-node-exporter` (Debian package
//! `prometheus-node-exporter`, installed by tests/run.sh) with only the
//! collectors we implement, and checks that family names, types and label
//! names match both ways, up to the allow-lists below.

use std::collections::{BTreeMap, BTreeSet};

use pharos_agent::exposition::{parse_all, Entry, Format, MetricType};
use pharos_agent::host::HostCollector;

mod common;

/// Same as the host collector's defaults (node_exporter 1.5 upstream); the
/// Debian build defaults to wider excludes, so we pass these explicitly.
const MOUNT_POINTS_EXCLUDE: &str =
    r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
const FS_TYPES_EXCLUDE: &str = r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";

/// Families node_exporter may emit for these collectors that we do not,
/// with the reason. (Mostly newer node_exporter releases than 1.5.)
const THEIRS_ONLY: &[(&str, &str)] = &[
    (
        "node_pressure_cpu_stalled_seconds_total",
        "node_exporter >= 1.6 reads the cpu `full` PSI line; we follow 1.5",
    ),
    (
        "node_pressure_irq_stalled_seconds_total",
        "node_exporter >= 1.9 reads /proc/pressure/irq; not implemented",
    ),
    (
        "node_filesystem_mount_info",
        "node_exporter >= 1.9; not implemented",
    ),
    ("node_filesystem_purgeable_bytes", "macOS only"),
    (
        "node_disk_filesystem_info",
        "node_exporter >= 1.6, from udev ID_FS_* properties; not implemented",
    ),
    (
        "node_disk_ata_rotation_rate_rpm",
        "node_exporter >= 1.6, from udev ATA properties; not implemented",
    ),
    (
        "node_disk_ata_write_cache_enabled",
        "node_exporter >= 1.6, from udev ATA properties; not implemented",
    ),
    (
        "node_disk_device_mapper_info",
        "node_exporter >= 1.6, from udev DM_* properties; not implemented",
    ),
    (
        "node_cpu_core_throttles_total",
        "cpu collector reads thermal_throttle from sysfs on real hardware; not implemented",
    ),
    (
        "node_cpu_package_throttles_total",
        "cpu collector reads thermal_throttle from sysfs on real hardware; not implemented",
    ),
    (
        "node_cpu_isolated",
        "cpu collector reads /sys/devices/system/cpu/isolated when set; not implemented",
    ),
];

/// Families we emit that node_exporter (1.5) may not; none today.
const OURS_ONLY: &[(&str, &str)] = &[];

/// (metric name, sorted labels, value) of one sample.
type FlatSample = (String, Vec<(String, String)>, f64);

/// family -> (type, label names over all samples)
type Shape = BTreeMap<String, (MetricType, BTreeSet<String>)>;

fn shape_of_exporter(body: &str) -> Shape {
    let mut shape = Shape::new();
    for entry in parse_all(body, Format::PrometheusText).expect("node_exporter output parses") {
        match entry {
            Entry::Type { family, kind } => {
                shape
                    .entry(family.to_string())
                    .or_insert((kind, BTreeSet::new()))
                    .0 = kind;
            }
            Entry::Sample(s) => {
                let e = shape
                    .entry(s.name.to_string())
                    .or_insert((MetricType::Unknown, BTreeSet::new()));
                e.1.extend(s.labels.iter().map(|(k, _)| k.to_string()));
            }
            _ => {}
        }
    }
    shape
}

#[test]
fn host_names_match_node_exporter() {
    let collectors = HostCollector::available();
    // One textfile, read by both, so the textfile families and the file
    // label compare too.
    let textfile_dir = std::env::temp_dir().join(format!("pharos-textfile-{}", std::process::id()));
    std::fs::create_dir_all(&textfile_dir).unwrap();
    std::fs::write(
        textfile_dir.join("probe.prom"),
        "# HELP node_textfile_probe_value A value from a textfile.\n\
         # TYPE node_textfile_probe_value gauge\n\
         node_textfile_probe_value{source=\"side-by-side\"} 42\n",
    )
    .unwrap();
    let host = HostCollector::default().with_textfile_dir(&textfile_dir);
    let mut args = vec![
        "--collector.disable-defaults".to_string(),
        format!("--collector.filesystem.mount-points-exclude={MOUNT_POINTS_EXCLUDE}"),
        format!("--collector.filesystem.fs-types-exclude={FS_TYPES_EXCLUDE}"),
        format!("--collector.textfile.directory={}", textfile_dir.display()),
    ];
    args.extend(collectors.iter().map(|c| format!("--collector.{c}")));
    let body = common::scrape_node_exporter(&args);
    let theirs: Shape = shape_of_exporter(&body)
        .into_iter()
        // node_exporter_build_info describes the exporter binary, not the host.
        .filter(|(name, _)| name.starts_with("node_") && name != "node_exporter_build_info")
        .collect();

    // Every collector we run succeeds in node_exporter too (else the
    // comparison below would be vacuous for it).
    let mut ours = Shape::new();
    for f in host.collect() {
        let labels = f
            .samples
            .iter()
            .flat_map(|s| s.labels.iter().map(|(k, _)| k.clone()))
            .collect();
        ours.insert(f.name, (f.kind, labels));
    }

    let mut problems = Vec::new();
    for (name, (kind, labels)) in &ours {
        if OURS_ONLY.iter().any(|(n, _)| n == name) {
            continue;
        }
        match theirs.get(name) {
            None => problems.push(format!("we emit {name}; node_exporter does not")),
            Some((tkind, tlabels)) => {
                if tkind != kind {
                    problems.push(format!(
                        "{name}: type {kind} here, {tkind} in node_exporter"
                    ));
                }
                if tlabels != labels {
                    problems.push(format!(
                        "{name}: label names {labels:?} here, {tlabels:?} in node_exporter"
                    ));
                }
            }
        }
    }
    for name in theirs.keys() {
        if !ours.contains_key(name) && !THEIRS_ONLY.iter().any(|(n, _)| n == name) {
            problems.push(format!("node_exporter emits {name}; we do not"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences from node_exporter:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // Values that cannot change between the two scrapes agree, and the
    // series (label sets) of stable families are the same.
    let their_samples: Vec<FlatSample> = parse_all(&body, Format::PrometheusText)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            Entry::Sample(s) => {
                let mut l: Vec<(String, String)> = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                l.sort();
                Some((s.name.to_string(), l, s.value))
            }
            _ => None,
        })
        .collect();
    let our_samples: Vec<FlatSample> = host
        .collect()
        .into_iter()
        .flat_map(|f| f.samples)
        .map(|s| (s.name, s.labels, s.value))
        .collect();
    for name in [
        "node_memory_MemTotal_bytes",
        "node_boot_time_seconds",
        "node_filefd_maximum",
        "node_disk_info",
        "node_time_clocksource_current_info",
        "node_uname_info",
        "node_network_info",
        "node_network_mtu_bytes",
        "node_network_speed_bytes",
        "node_network_flags",
        "node_network_iface_id",
        "node_network_protocol_type",
        "node_network_up",
        "node_nf_conntrack_entries_limit",
        "node_entropy_pool_size_bits",
        "node_timex_tick_seconds",
        "node_textfile_scrape_error",
        "node_textfile_mtime_seconds",
        "node_textfile_probe_value",
    ] {
        let pick = |v: &[FlatSample]| {
            let mut x: Vec<(Vec<(String, String)>, String)> = v
                .iter()
                .filter(|(n, _, _)| n == name)
                .map(|(_, l, v)| (l.clone(), format!("{v}")))
                .collect();
            x.sort();
            x
        };
        assert_eq!(pick(&our_samples), pick(&their_samples), "values of {name}");
    }
    for name in [
        "node_cpu_seconds_total",
        "node_filesystem_size_bytes",
        "node_disk_reads_completed_total",
        "node_network_carrier",
        "node_softnet_processed_total",
        "node_udp_queues",
        "node_arp_entries",
    ] {
        let series = |v: &[FlatSample]| {
            let mut x: Vec<Vec<(String, String)>> = v
                .iter()
                .filter(|(n, _, _)| n == name)
                .map(|(_, l, _)| l.clone())
                .collect();
            x.sort();
            x
        };
        assert_eq!(
            series(&our_samples),
            series(&their_samples),
            "series of {name}"
        );
    }
    let _ = std::fs::remove_dir_all(&textfile_dir);
    // Sanity: the comparison covered every collector.
    for c in collectors {
        assert!(
            body.contains(&format!(
                "node_scrape_collector_success{{collector=\"{c}\"}} 1"
            )),
            "node_exporter's {c} collector failed or did not run"
        );
    }
}
