//! The host collector against the fixture tree in testdata/host: exact
//! values, names, labels and types.

use std::path::PathBuf;

use pharos_agent::exposition::MetricType;
use pharos_agent::host::{render_text, Family, HostCollector};

fn root(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/host")
        .join(sub)
}

fn collector() -> HostCollector {
    HostCollector::new(root("proc"), root("sys")).with_udev_data(root("udev"))
}

fn families() -> Vec<Family> {
    let (fams, errors) = collector().collect_with_errors();
    assert!(errors.is_empty(), "errors: {errors:?}");
    fams
}

fn family<'a>(fams: &'a [Family], name: &str) -> &'a Family {
    fams.iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// The value of the sample of `name` with exactly these labels.
fn value(fams: &[Family], name: &str, labels: &[(&str, &str)]) -> f64 {
    let f = family(fams, name);
    let mut want: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    f.samples
        .iter()
        .find(|s| s.labels == want)
        .unwrap_or_else(|| panic!("no sample {name}{labels:?} in {:?}", f.samples))
        .value
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}

#[test]
fn host_cpu_seconds_are_ticks_over_100() {
    let f = families();
    let cpu = family(&f, "node_cpu_seconds_total");
    assert_eq!(cpu.kind, MetricType::Counter);
    assert_eq!(cpu.samples.len(), 16, "2 cpus x 8 modes, no total line");
    close(
        value(
            &f,
            "node_cpu_seconds_total",
            &[("cpu", "0"), ("mode", "user")],
        ),
        1.5,
    );
    close(
        value(
            &f,
            "node_cpu_seconds_total",
            &[("cpu", "0"), ("mode", "idle")],
        ),
        25.0,
    );
    close(
        value(
            &f,
            "node_cpu_seconds_total",
            &[("cpu", "0"), ("mode", "steal")],
        ),
        0.04,
    );
    close(
        value(
            &f,
            "node_cpu_seconds_total",
            &[("cpu", "1"), ("mode", "softirq")],
        ),
        0.03,
    );
    close(
        value(
            &f,
            "node_cpu_guest_seconds_total",
            &[("cpu", "0"), ("mode", "user")],
        ),
        0.11,
    );
    close(
        value(
            &f,
            "node_cpu_guest_seconds_total",
            &[("cpu", "0"), ("mode", "nice")],
        ),
        0.12,
    );
}

#[test]
fn host_meminfo_names_and_bytes() {
    let f = families();
    close(
        value(&f, "node_memory_MemTotal_bytes", &[]),
        16000000.0 * 1024.0,
    );
    close(
        value(&f, "node_memory_Active_anon_bytes", &[]),
        250000.0 * 1024.0,
    );
    close(
        value(&f, "node_memory_Inactive_file_bytes", &[]),
        125.0 * 1024.0,
    );
    close(value(&f, "node_memory_HugePages_Total", &[]), 4.0);
    close(
        value(&f, "node_memory_Hugepagesize_bytes", &[]),
        2048.0 * 1024.0,
    );
    let m = family(&f, "node_memory_MemFree_bytes");
    assert_eq!(m.kind, MetricType::Gauge);
    assert_eq!(m.help, "Memory information field MemFree_bytes.");
}

#[test]
fn host_load_stat_filefd_pressure() {
    let f = families();
    close(value(&f, "node_load1", &[]), 0.52);
    close(value(&f, "node_load5", &[]), 1.25);
    close(value(&f, "node_load15", &[]), 2.5);
    close(value(&f, "node_boot_time_seconds", &[]), 1.7e9);
    close(value(&f, "node_context_switches_total", &[]), 987654.0);
    close(value(&f, "node_forks_total", &[]), 4242.0);
    close(value(&f, "node_intr_total", &[]), 123456.0);
    close(value(&f, "node_procs_running", &[]), 3.0);
    close(value(&f, "node_procs_blocked", &[]), 1.0);
    assert_eq!(family(&f, "node_forks_total").kind, MetricType::Counter);
    assert_eq!(family(&f, "node_procs_running").kind, MetricType::Gauge);
    close(value(&f, "node_filefd_allocated", &[]), 1024.0);
    close(value(&f, "node_filefd_maximum", &[]), 65536.0);
    close(
        value(&f, "node_pressure_cpu_waiting_seconds_total", &[]),
        1.5,
    );
    close(
        value(&f, "node_pressure_io_waiting_seconds_total", &[]),
        2.5,
    );
    close(
        value(&f, "node_pressure_io_stalled_seconds_total", &[]),
        1.25,
    );
    close(
        value(&f, "node_pressure_memory_waiting_seconds_total", &[]),
        30e-6,
    );
    close(
        value(&f, "node_pressure_memory_stalled_seconds_total", &[]),
        10e-6,
    );
    assert!(f
        .iter()
        .all(|x| x.name != "node_pressure_cpu_stalled_seconds_total"));
}

#[test]
fn host_diskstats_units_and_excludes() {
    let f = families();
    let d = &[("device", "sda")];
    close(value(&f, "node_disk_reads_completed_total", d), 100.0);
    close(value(&f, "node_disk_reads_merged_total", d), 2.0);
    close(value(&f, "node_disk_read_bytes_total", d), 800.0 * 512.0);
    close(value(&f, "node_disk_read_time_seconds_total", d), 0.03);
    close(value(&f, "node_disk_writes_completed_total", d), 200.0);
    close(
        value(&f, "node_disk_written_bytes_total", d),
        1600.0 * 512.0,
    );
    close(value(&f, "node_disk_write_time_seconds_total", d), 0.05);
    close(value(&f, "node_disk_io_now", d), 1.0);
    close(value(&f, "node_disk_io_time_seconds_total", d), 0.07);
    close(
        value(&f, "node_disk_io_time_weighted_seconds_total", d),
        0.09,
    );
    close(value(&f, "node_disk_discards_completed_total", d), 5.0);
    close(value(&f, "node_disk_discarded_sectors_total", d), 40.0);
    close(value(&f, "node_disk_discard_time_seconds_total", d), 0.006);
    close(value(&f, "node_disk_flush_requests_total", d), 7.0);
    close(
        value(&f, "node_disk_flush_requests_time_seconds_total", d),
        0.008,
    );
    assert_eq!(family(&f, "node_disk_io_now").kind, MetricType::Gauge);
    // dm-0 has only the 11 classic fields: no discard/flush series.
    close(
        value(&f, "node_disk_reads_completed_total", &[("device", "dm-0")]),
        11.0,
    );
    assert_eq!(
        family(&f, "node_disk_flush_requests_total").samples.len(),
        1
    );
    // sda1 (partition) and loop0 are excluded by the default regex.
    let devs: Vec<&str> = family(&f, "node_disk_reads_completed_total")
        .samples
        .iter()
        .map(|s| s.labels[0].1.as_str())
        .collect();
    assert_eq!(devs, ["sda", "dm-0"]);
    let info = &[
        ("device", "sda"),
        ("major", "8"),
        ("minor", "0"),
        ("model", "PharosDisk"),
        ("path", "pci-0000:00:1f.2-ata-1"),
        ("revision", "1.0"),
        ("serial", "S123"),
        ("wwn", "0x5000"),
    ];
    close(value(&f, "node_disk_info", info), 1.0);
    let info = &[
        ("device", "dm-0"),
        ("major", "253"),
        ("minor", "0"),
        ("model", ""),
        ("path", ""),
        ("revision", ""),
        ("serial", ""),
        ("wwn", ""),
    ];
    close(value(&f, "node_disk_info", info), 1.0);
}

#[test]
fn host_netdev() {
    let f = families();
    let e = &[("device", "eth0")];
    close(value(&f, "node_network_receive_bytes_total", e), 2000.0);
    close(value(&f, "node_network_receive_packets_total", e), 20.0);
    close(value(&f, "node_network_receive_errs_total", e), 1.0);
    close(value(&f, "node_network_receive_drop_total", e), 2.0);
    close(value(&f, "node_network_receive_fifo_total", e), 3.0);
    close(value(&f, "node_network_receive_frame_total", e), 4.0);
    close(value(&f, "node_network_receive_compressed_total", e), 5.0);
    close(value(&f, "node_network_receive_multicast_total", e), 6.0);
    close(value(&f, "node_network_receive_nohandler_total", e), 13.0);
    close(value(&f, "node_network_transmit_bytes_total", e), 3000.0);
    close(value(&f, "node_network_transmit_packets_total", e), 30.0);
    close(value(&f, "node_network_transmit_errs_total", e), 7.0);
    close(value(&f, "node_network_transmit_drop_total", e), 8.0);
    close(value(&f, "node_network_transmit_fifo_total", e), 9.0);
    close(value(&f, "node_network_transmit_colls_total", e), 10.0);
    close(value(&f, "node_network_transmit_carrier_total", e), 11.0);
    close(value(&f, "node_network_transmit_compressed_total", e), 12.0);
    close(
        value(&f, "node_network_receive_bytes_total", &[("device", "lo")]),
        1000.0,
    );
    let f2 = family(&f, "node_network_receive_bytes_total");
    assert_eq!(f2.kind, MetricType::Counter);
    assert_eq!(f2.help, "Network device statistic receive_bytes.");
}

#[test]
fn host_filesystem_excludes_dedup_and_errors() {
    let f = families();
    let root = &[
        ("device", "/dev/root"),
        ("fstype", "ext4"),
        ("mountpoint", "/"),
    ];
    close(value(&f, "node_filesystem_device_error", root), 0.0);
    close(value(&f, "node_filesystem_readonly", root), 1.0);
    assert!(value(&f, "node_filesystem_size_bytes", root) > 0.0);
    assert!(value(&f, "node_filesystem_files", root) >= 0.0);
    let run = &[
        ("device", "tmpfs"),
        ("fstype", "tmpfs"),
        ("mountpoint", "/"),
    ];
    close(value(&f, "node_filesystem_readonly", run), 0.0);
    let missing = &[
        ("device", "/dev/sdz9"),
        ("fstype", "ext4"),
        ("mountpoint", "/pharos-no-such mount"),
    ];
    close(value(&f, "node_filesystem_device_error", missing), 1.0);
    // A failed statfs yields only device_error.
    let sizes = &family(&f, "node_filesystem_size_bytes").samples;
    assert_eq!(
        sizes.len(),
        2,
        "/dev/root on / (once, deduplicated) and tmpfs on /: {sizes:?}"
    );
    let mps: Vec<&str> = family(&f, "node_filesystem_device_error")
        .samples
        .iter()
        .map(|s| s.labels[2].1.as_str())
        .collect();
    assert_eq!(mps, ["/", "/", "/pharos-no-such mount"]);
}

#[test]
fn host_time_and_scrape_families() {
    let f = families();
    let t = value(&f, "node_time_seconds", &[]);
    assert!(t > 1.6e9, "{t}");
    assert_eq!(family(&f, "node_time_zone_offset_seconds").samples.len(), 1);
    for cs in ["tsc", "hpet", "acpi_pm"] {
        close(
            value(
                &f,
                "node_time_clocksource_available_info",
                &[("clocksource", cs), ("device", "0")],
            ),
            1.0,
        );
    }
    close(
        value(
            &f,
            "node_time_clocksource_current_info",
            &[("clocksource", "tsc"), ("device", "0")],
        ),
        1.0,
    );
    for c in HostCollector::available() {
        close(
            value(&f, "node_scrape_collector_success", &[("collector", c)]),
            1.0,
        );
        assert!(
            value(
                &f,
                "node_scrape_collector_duration_seconds",
                &[("collector", c)]
            ) >= 0.0
        );
    }
}

#[test]
fn host_failed_collector_does_not_stop_others() {
    let c = HostCollector::new(root("no-such-proc"), root("sys"));
    let (f, errors) = c.collect_with_errors();
    let failed: Vec<&str> = errors.iter().map(|e| e.collector).collect();
    assert!(
        failed.contains(&"meminfo") && failed.contains(&"cpu"),
        "{errors:?}"
    );
    assert!(!failed.contains(&"time"));
    // Every collector reading a /proc file fails on its own; the ones
    // asking the kernel (uname, timex) or sysfs (netclass) do not.
    for c in [
        "netstat",
        "vmstat",
        "entropy",
        "softnet",
        "arp",
        "conntrack",
        "udp_queues",
    ] {
        assert!(failed.contains(&c), "{c}: {errors:?}");
    }
    for c in ["uname", "timex", "netclass", "textfile"] {
        assert!(!failed.contains(&c), "{c}: {errors:?}");
    }
    close(
        value(
            &f,
            "node_scrape_collector_success",
            &[("collector", "meminfo")],
        ),
        0.0,
    );
    close(
        value(
            &f,
            "node_scrape_collector_success",
            &[("collector", "time")],
        ),
        1.0,
    );
    assert!(f.iter().any(|x| x.name == "node_time_seconds"));
    assert!(f.iter().all(|x| !x.samples.is_empty()));
}

#[test]
fn host_enabled_subset_and_render() {
    let c = collector().with_enabled(&["loadavg"]).unwrap();
    let f = c.collect();
    let names: Vec<&str> = f.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "node_load1",
            "node_load5",
            "node_load15",
            "node_scrape_collector_duration_seconds",
            "node_scrape_collector_success"
        ]
    );
    assert!(collector().with_enabled(&["nope"]).is_err());
    let text = render_text(&f[..1]);
    assert_eq!(
        text,
        "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.52\n"
    );
    // The rendering parses back with our own parser.
    let all = render_text(&families());
    pharos_agent::exposition::parse_all(&all, pharos_agent::exposition::Format::PrometheusText)
        .unwrap();
}

#[test]
fn host_netstat_default_fields() {
    let f = families();
    close(value(&f, "node_netstat_Tcp_CurrEstab", &[]), 5.0);
    close(value(&f, "node_netstat_Tcp_ActiveOpens", &[]), 48034.0);
    close(value(&f, "node_netstat_Tcp_InErrs", &[]), 12.0);
    close(value(&f, "node_netstat_TcpExt_ListenOverflows", &[]), 4.0);
    close(value(&f, "node_netstat_TcpExt_SyncookiesFailed", &[]), 3.0);
    close(value(&f, "node_netstat_TcpExt_TCPSynRetrans", &[]), 7.0);
    close(value(&f, "node_netstat_IpExt_InOctets", &[]), 4718728641.0);
    close(value(&f, "node_netstat_Icmp_InErrors", &[]), 21.0);
    close(value(&f, "node_netstat_Ip_Forwarding", &[]), 2.0);
    close(value(&f, "node_netstat_Icmp_OutMsgs", &[]), 23.0);
    close(value(&f, "node_netstat_Udp_NoPorts", &[]), 1.0);
    close(value(&f, "node_netstat_UdpLite_InErrors", &[]), 0.0);
    // snmp6: split after the first "6".
    close(value(&f, "node_netstat_Ip6_InOctets", &[]), 800.0);
    close(value(&f, "node_netstat_Icmp6_InErrors", &[]), 1.0);
    close(value(&f, "node_netstat_Udp6_OutDatagrams", &[]), 16.0);
    close(value(&f, "node_netstat_UdpLite6_InErrors", &[]), 0.0);
    let t = family(&f, "node_netstat_Tcp_CurrEstab");
    assert_eq!(t.kind, MetricType::Unknown);
    assert_eq!(t.help, "Statistic TcpCurrEstab.");
    // Not in node_exporter's default field regex.
    for absent in [
        "node_netstat_TcpExt_TCPOFOQueue",
        "node_netstat_Tcp_MaxConn",
        "node_netstat_Ip6_InReceives",
        "node_netstat_Ip_DefaultTTL",
    ] {
        assert!(f.iter().all(|x| x.name != absent), "{absent}");
    }
}

#[test]
fn host_sockstat_v4_v6_and_mem_bytes() {
    let f = families();
    let page = 4096.0_f64.max(value(&f, "node_sockstat_TCP_mem_bytes", &[]) / 334.0);
    close(value(&f, "node_sockstat_sockets_used", &[]), 15.0);
    close(value(&f, "node_sockstat_TCP_inuse", &[]), 4.0);
    close(value(&f, "node_sockstat_TCP_orphan", &[]), 1.0);
    close(value(&f, "node_sockstat_TCP_tw", &[]), 3.0);
    close(value(&f, "node_sockstat_TCP_alloc", &[]), 6.0);
    close(value(&f, "node_sockstat_TCP_mem", &[]), 334.0);
    close(value(&f, "node_sockstat_TCP_mem_bytes", &[]), 334.0 * page);
    close(value(&f, "node_sockstat_UDP_mem_bytes", &[]), 5.0 * page);
    close(value(&f, "node_sockstat_FRAG_memory", &[]), 0.0);
    close(value(&f, "node_sockstat_TCP6_inuse", &[]), 7.0);
    close(value(&f, "node_sockstat_UDP6_inuse", &[]), 8.0);
    close(value(&f, "node_sockstat_FRAG6_memory", &[]), 0.0);
    assert!(f
        .iter()
        .all(|x| x.name != "node_sockstat_FRAG_memory_bytes"));
    let s = family(&f, "node_sockstat_TCP_tw");
    assert_eq!(s.help, "Number of TCP sockets in state tw.");
    assert_eq!(s.kind, MetricType::Gauge);
}

#[test]
fn host_netclass_attributes() {
    let f = families();
    let e = &[("device", "eth0")];
    let lo = &[("device", "lo")];
    close(value(&f, "node_network_up", e), 1.0);
    close(value(&f, "node_network_up", lo), 0.0);
    close(value(&f, "node_network_mtu_bytes", e), 1400.0);
    close(value(&f, "node_network_mtu_bytes", lo), 65536.0);
    close(value(&f, "node_network_speed_bytes", e), 125_000_000.0);
    close(value(&f, "node_network_speed_bytes", lo), -125_000.0);
    close(value(&f, "node_network_flags", e), 4099.0);
    close(value(&f, "node_network_carrier", e), 1.0);
    close(value(&f, "node_network_carrier_changes_total", e), 2.0);
    close(value(&f, "node_network_carrier_up_changes_total", e), 1.0);
    close(value(&f, "node_network_carrier_down_changes_total", e), 1.0);
    close(value(&f, "node_network_iface_id", e), 4.0);
    close(value(&f, "node_network_protocol_type", lo), 772.0);
    close(value(&f, "node_network_transmit_queue_length", e), 1000.0);
    close(value(&f, "node_network_name_assign_type", e), 1.0);
    // lo has no name_assign_type or dormant file: no sample.
    assert_eq!(family(&f, "node_network_dormant").samples.len(), 1);
    assert_eq!(
        family(&f, "node_network_carrier_changes_total").kind,
        MetricType::Counter
    );
    let info = &[
        ("device", "eth0"),
        ("address", "02:fc:00:00:00:01"),
        ("broadcast", "ff:ff:ff:ff:ff:ff"),
        ("duplex", "full"),
        ("ifalias", "uplink"),
        ("operstate", "up"),
    ];
    close(value(&f, "node_network_info", info), 1.0);
    let info = &[
        ("device", "lo"),
        ("address", "00:00:00:00:00:00"),
        ("broadcast", "00:00:00:00:00:00"),
        ("duplex", ""),
        ("ifalias", ""),
        ("operstate", "unknown"),
    ];
    close(value(&f, "node_network_info", info), 1.0);
    // bonding_masters is a file, not a device.
    assert_eq!(family(&f, "node_network_up").samples.len(), 2);
    assert_eq!(
        family(&f, "node_network_mtu_bytes").help,
        "Network device property: mtu_bytes"
    );
}

#[test]
fn host_softnet_arp_conntrack_udp_queues() {
    let f = families();
    let c0 = &[("cpu", "0")];
    let c1 = &[("cpu", "1")];
    close(
        value(&f, "node_softnet_processed_total", c0),
        0x661de as f64,
    );
    close(value(&f, "node_softnet_dropped_total", c0), 2.0);
    close(value(&f, "node_softnet_times_squeezed_total", c0), 3.0);
    close(value(&f, "node_softnet_times_squeezed_total", c1), 10.0);
    close(value(&f, "node_arp_entries", &[("device", "eth0")]), 2.0);
    close(value(&f, "node_arp_entries", &[("device", "wlan0")]), 1.0);
    close(value(&f, "node_nf_conntrack_entries", &[]), 42.0);
    close(value(&f, "node_nf_conntrack_entries_limit", &[]), 262144.0);
    close(value(&f, "node_nf_conntrack_stat_found", &[]), 17.0);
    close(value(&f, "node_nf_conntrack_stat_invalid", &[]), 2.0);
    close(value(&f, "node_nf_conntrack_stat_ignore", &[]), 3.0);
    close(value(&f, "node_nf_conntrack_stat_insert", &[]), 4.0);
    close(value(&f, "node_nf_conntrack_stat_insert_failed", &[]), 1.0);
    close(value(&f, "node_nf_conntrack_stat_drop", &[]), 6.0);
    close(value(&f, "node_nf_conntrack_stat_early_drop", &[]), 7.0);
    close(value(&f, "node_nf_conntrack_stat_search_restart", &[]), 8.0);
    let q = |ip, queue| value(&f, "node_udp_queues", &[("ip", ip), ("queue", queue)]);
    close(q("v4", "tx"), 17.0);
    close(q("v4", "rx"), 512.0);
    close(q("v6", "tx"), 0.0);
    close(q("v6", "rx"), 256.0);
}

#[test]
fn host_vmstat_entropy_uname_timex() {
    let f = families();
    close(value(&f, "node_vmstat_pgpgin", &[]), 35285357.0);
    close(value(&f, "node_vmstat_pswpout", &[]), 2.0);
    close(value(&f, "node_vmstat_pgmajfault", &[]), 54285.0);
    close(value(&f, "node_vmstat_oom_kill", &[]), 3.0);
    let v = family(&f, "node_vmstat_pgfault");
    assert_eq!(v.kind, MetricType::Unknown);
    assert_eq!(v.help, "/proc/vmstat information field pgfault.");
    for absent in ["node_vmstat_nr_free_pages", "node_vmstat_pgfree"] {
        assert!(f.iter().all(|x| x.name != absent), "{absent}");
    }
    close(value(&f, "node_entropy_available_bits", &[]), 256.0);
    close(value(&f, "node_entropy_pool_size_bits", &[]), 4096.0);
    // uname and timex ask the kernel, whatever the roots.
    let u = family(&f, "node_uname_info");
    let names: Vec<&str> = u.samples[0]
        .labels
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "domainname",
            "machine",
            "nodename",
            "release",
            "sysname",
            "version"
        ]
    );
    assert_eq!(u.samples[0].labels[4].1, "Linux");
    assert!(value(&f, "node_timex_tick_seconds", &[]) > 0.0);
    assert_eq!(
        family(&f, "node_timex_pps_error_total").kind,
        MetricType::Counter
    );
    // No textfile directory: no error, no files.
    close(value(&f, "node_textfile_scrape_error", &[]), 0.0);
    assert!(f.iter().all(|x| x.name != "node_textfile_mtime_seconds"));
}

#[test]
fn host_textfile_directory() {
    let dir = root("textfile");
    let (f, errors) = collector()
        .with_textfile_dir(&dir)
        .with_enabled(&["textfile"])
        .unwrap()
        .collect_with_errors();
    assert!(errors.is_empty(), "{errors:?}");
    // broken.prom does not parse: skipped, and reported.
    close(value(&f, "node_textfile_scrape_error", &[]), 1.0);
    let good = dir.join("backup.prom").display().to_string();
    let mtimes = family(&f, "node_textfile_mtime_seconds");
    assert_eq!(mtimes.samples.len(), 1, "{:?}", mtimes.samples);
    assert_eq!(
        mtimes.samples[0].labels,
        [("file".to_string(), good.clone())]
    );
    assert!(mtimes.samples[0].value > 1e9);
    close(
        value(&f, "pharos_backup_last_success_seconds", &[("job", "db")]),
        1.7e9,
    );
    let b = family(&f, "pharos_backup_last_success_seconds");
    assert_eq!(b.kind, MetricType::Gauge);
    assert_eq!(b.help, "Last good backup.");
    let r = family(&f, "raid_ok");
    assert_eq!(r.kind, MetricType::Unknown);
    assert_eq!(r.help, format!("Metric read from {good}"));
    assert!(f.iter().all(|x| x.name != "ignored"));
    // A missing directory is an error of the files, not of the collector.
    let f = collector()
        .with_textfile_dir(root("no-such-dir"))
        .with_enabled(&["textfile"])
        .unwrap()
        .collect();
    close(value(&f, "node_textfile_scrape_error", &[]), 1.0);
    close(
        value(
            &f,
            "node_scrape_collector_success",
            &[("collector", "textfile")],
        ),
        1.0,
    );
}
