//! The home page: the host dashboard of the built-in configuration — the
//! host collector's series (`job="node"`, node_exporter's names) over the
//! chosen range, refreshed every 15 s (the built-in scrape interval).

use std::time::Duration;

use leptos::prelude::*;

use crate::components::stat::StatPanel;
use crate::components::timepicker::{range_from_url, TimePicker};
use crate::components::timeseries::{Target, TimeSeriesPanel};
use crate::units::Unit;

/// How often the page re-reads its queries.
const REFRESH: Duration = Duration::from_secs(15);

fn t(expr: &str, legend: &str) -> Target {
    Target {
        expr: expr.to_string(),
        legend: legend.to_string(),
    }
}

#[component]
pub fn Home() -> impl IntoView {
    let (range, set_range) = signal(range_from_url().unwrap_or(3600.0));
    let (tick, set_tick) = signal(0u64);
    let _ = set_interval_with_handle(move || set_tick.update(|n| *n += 1), REFRESH);
    view! {
        <div class="dashboard-header">
            <h1>"Host"</h1>
            <TimePicker range=range set_range=set_range />
        </div>
        <div class="row stats">
            <StatPanel title="Targets up" expr="count(up == 1)" unit=Unit::Short tick=tick />
            <StatPanel
                title="CPU busy"
                expr=r#"100 * (1 - avg(rate(node_cpu_seconds_total{job="node",mode="idle"}[1m])))"#
                unit=Unit::Percent
                tick=tick
            />
            <StatPanel
                title="Memory used"
                expr=r#"sum(node_memory_MemTotal_bytes{job="node"} - node_memory_MemAvailable_bytes{job="node"})"#
                unit=Unit::Bytes
                tick=tick
            />
            <StatPanel
                title="Uptime"
                expr=r#"max(time() - node_boot_time_seconds{job="node"})"#
                unit=Unit::Seconds
                tick=tick
            />
        </div>
        <div class="row">
            <TimeSeriesPanel
                title="CPU busy"
                targets=vec![t(
                    r#"100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{job="node",mode="idle"}[1m])))"#,
                    "{{instance}}",
                )]
                unit=Unit::Percent
                range=range
                tick=tick
            />
            <TimeSeriesPanel
                title="Load average"
                targets=vec![
                    t(r#"node_load1{job="node"}"#, "1 min"),
                    t(r#"node_load5{job="node"}"#, "5 min"),
                    t(r#"node_load15{job="node"}"#, "15 min"),
                ]
                unit=Unit::Short
                range=range
                tick=tick
            />
        </div>
        <div class="row">
            <TimeSeriesPanel
                title="Memory"
                targets=vec![
                    t(r#"node_memory_MemTotal_bytes{job="node"} - node_memory_MemAvailable_bytes{job="node"}"#, "used"),
                    t(r#"node_memory_MemTotal_bytes{job="node"}"#, "total"),
                ]
                unit=Unit::Bytes
                range=range
                tick=tick
            />
            <TimeSeriesPanel
                title="Network traffic"
                targets=vec![
                    t(r#"rate(node_network_receive_bytes_total{job="node",device!="lo"}[1m])"#, "{{device}} received"),
                    t(r#"rate(node_network_transmit_bytes_total{job="node",device!="lo"}[1m])"#, "{{device}} sent"),
                ]
                unit=Unit::BytesPerSecond
                range=range
                tick=tick
            />
        </div>
        <div class="row">
            <TimeSeriesPanel
                title="Disk space used"
                targets=vec![t(
                    r#"100 * (1 - node_filesystem_avail_bytes{job="node",fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{job="node",fstype!~"tmpfs|overlay|squashfs"})"#,
                    "{{mountpoint}}",
                )]
                unit=Unit::Percent
                range=range
                tick=tick
            />
            <TimeSeriesPanel
                title="Disk I/O"
                targets=vec![
                    t(r#"rate(node_disk_read_bytes_total{job="node"}[1m])"#, "{{device}} read"),
                    t(r#"rate(node_disk_written_bytes_total{job="node"}[1m])"#, "{{device}} written"),
                ]
                unit=Unit::BytesPerSecond
                range=range
                tick=tick
            />
        </div>
    }
}
