//! The host collector against this machine's real /proc and /sys.

use pharos_agent::host::{Family, HostCollector};

fn get<'a>(f: &'a [Family], name: &str) -> &'a Family {
    f.iter().find(|x| x.name == name).unwrap_or_else(|| {
        panic!(
            "no family {name}; have {:?}",
            f.iter().map(|x| &x.name).collect::<Vec<_>>()
        )
    })
}

#[test]
fn host_live_proc_has_plausible_values() {
    let (f, errors) = HostCollector::default().collect_with_errors();
    for must in [
        "cpu", "meminfo", "loadavg", "netdev", "stat", "filefd", "time",
    ] {
        assert!(
            errors.iter().all(|e| e.collector != must),
            "collector {must} failed: {errors:?}"
        );
    }
    let cpu = get(&f, "node_cpu_seconds_total");
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    assert!(cpu.samples.len() >= 8, "{}", cpu.samples.len());
    assert!(cpu.samples.len().is_multiple_of(8));
    assert!(cpu.samples.len() / 8 >= ncpu.min(1));
    let idle: f64 = cpu
        .samples
        .iter()
        .filter(|s| s.labels.iter().any(|(k, v)| k == "mode" && v == "idle"))
        .map(|s| s.value)
        .sum();
    assert!(idle > 0.0);

    let total = get(&f, "node_memory_MemTotal_bytes").samples[0].value;
    let avail = get(&f, "node_memory_MemAvailable_bytes").samples[0].value;
    assert!(total > 64e6 && total < 64e12, "MemTotal {total}");
    assert!(avail > 0.0 && avail <= total);
    assert_eq!(total % 1024.0, 0.0);

    let load = get(&f, "node_load1").samples[0].value;
    assert!((0.0..10_000.0).contains(&load));

    let rx = get(&f, "node_network_receive_bytes_total");
    assert!(!rx.samples.is_empty());
    assert!(rx
        .samples
        .iter()
        .all(|s| s.value >= 0.0 && s.labels[0].0 == "device"));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let boot = get(&f, "node_boot_time_seconds").samples[0].value;
    assert!(boot > 1e9 && boot < now, "boot {boot}");
    assert!((get(&f, "node_time_seconds").samples[0].value - now).abs() < 60.0);
    assert!(get(&f, "node_filefd_maximum").samples[0].value > 0.0);
    assert!(get(&f, "node_procs_running").samples[0].value >= 1.0);

    // The Node Exporter Full dashboard's variables read node_uname_info.
    let uname = &get(&f, "node_uname_info").samples[0];
    assert!(uname
        .labels
        .iter()
        .any(|(k, v)| k == "sysname" && v == "Linux"));
    assert!(uname
        .labels
        .iter()
        .any(|(k, v)| k == "nodename" && !v.is_empty()));
    let lo_mtu = get(&f, "node_network_mtu_bytes")
        .samples
        .iter()
        .find(|s| s.labels[0].1 == "lo")
        .map(|s| s.value);
    assert!(lo_mtu.is_some_and(|m| m > 0.0), "{lo_mtu:?}");
    assert!(get(&f, "node_vmstat_pgfault").samples[0].value > 0.0);
    assert!(get(&f, "node_timex_tick_seconds").samples[0].value > 0.0);
}
