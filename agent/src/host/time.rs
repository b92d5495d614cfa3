//! node_exporter `time`: `node_time_seconds`,
//! `node_time_zone_offset_seconds{time_zone}` and the clocksource info
//! metrics from `/sys/devices/system/clocksource`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| format!("system clock before 1970: {e}"))?;
    let mut out = vec![Family::single(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        MetricType::Gauge,
        now.as_secs_f64(),
    )];
    let (zone, offset) = local_zone(now.as_secs() as libc::time_t);
    let mut tz = Family::new(
        "node_time_zone_offset_seconds",
        "System time zone offset in seconds.",
        MetricType::Gauge,
    );
    tz.push(&[("time_zone", &zone)], offset as f64);
    out.push(tz);

    let mut available = Family::new(
        "node_time_clocksource_available_info",
        "Available clocksources read from '/sys/devices/system/clocksource'.",
        MetricType::Gauge,
    );
    let mut current = Family::new(
        "node_time_clocksource_current_info",
        "Current clocksource read from '/sys/devices/system/clocksource'.",
        MetricType::Gauge,
    );
    let dir = roots.sys("devices/system/clocksource");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut devices: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("clocksource")
                    .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                    .map(str::to_string)
            })
            .collect();
        devices.sort();
        for d in devices {
            let base = dir.join(format!("clocksource{d}"));
            let avail = read(&base.join("available_clocksource"))?;
            for cs in avail.split_whitespace() {
                available.push(&[("clocksource", cs), ("device", &d)], 1.0);
            }
            let cur = read(&base.join("current_clocksource"))?;
            for cs in cur.split_whitespace() {
                current.push(&[("clocksource", cs), ("device", &d)], 1.0);
            }
        }
    }
    out.push(available);
    out.push(current);
    Ok(out)
}

/// The local zone abbreviation and its offset from UTC in seconds.
fn local_zone(t: libc::time_t) -> (String, i64) {
    // SAFETY: localtime_r writes only into `tm`, which we own; tm_zone then
    // points at static tz data (or is null).
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return ("UTC".to_string(), 0);
        }
        let zone = if tm.tm_zone.is_null() {
            "UTC".to_string()
        } else {
            std::ffi::CStr::from_ptr(tm.tm_zone)
                .to_string_lossy()
                .into_owned()
        };
        (zone, tm.tm_gmtoff)
    }
}
