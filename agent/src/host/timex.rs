//! node_exporter `timex`: the kernel's clock discipline state from
//! adjtimex(2) (read-only, `modes = 0`), as `node_timex_*`. Units follow
//! adjtimex(2) NOTES: offsets and jitter in µs (ns with `STA_NANO`),
//! frequencies in ppm with a 16-bit fraction.

use super::{Family, MetricType, Roots};

/// adjtimex's return value when the clock is not synchronised.
const TIME_ERROR: i64 = 5;
/// `status` bit: offset and jitter are in nanoseconds, not microseconds.
const STA_NANO: i64 = 0x2000;
/// Scaled-ppm unit of `freq`, `ppsfreq` and `stabil`.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;
const MICRO: f64 = 1e6;

/// The fields of `struct timex` we report, widened to i64.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Reading {
    /// adjtimex's return value (clock state; `TIME_ERROR` if unsynced).
    pub state: i64,
    pub offset: i64,
    pub freq: i64,
    pub maxerror: i64,
    pub esterror: i64,
    pub status: i64,
    pub constant: i64,
    pub tick: i64,
    pub ppsfreq: i64,
    pub jitter: i64,
    pub shift: i64,
    pub stabil: i64,
    pub jitcnt: i64,
    pub calcnt: i64,
    pub errcnt: i64,
    pub stbcnt: i64,
    pub tai: i64,
}

pub(crate) fn collect(_roots: &Roots) -> Result<Vec<Family>, String> {
    Ok(families(&read_kernel()?))
}

// The casts are no-ops on 64-bit glibc but not on every target (c_long
// fields on 32-bit musl, c_int status/shift/tai everywhere).
#[allow(clippy::unnecessary_cast)]
fn read_kernel() -> Result<Reading, String> {
    // SAFETY: with modes = 0 adjtimex only writes into the struct we own.
    let (state, t) = unsafe {
        let mut t: libc::timex = std::mem::zeroed();
        let state = libc::adjtimex(&mut t);
        if state < 0 {
            return Err(format!("adjtimex: {}", std::io::Error::last_os_error()));
        }
        (state, t)
    };
    Ok(Reading {
        state: state as i64,
        offset: t.offset as i64,
        freq: t.freq as i64,
        maxerror: t.maxerror as i64,
        esterror: t.esterror as i64,
        status: t.status as i64,
        constant: t.constant as i64,
        tick: t.tick as i64,
        ppsfreq: t.ppsfreq as i64,
        jitter: t.jitter as i64,
        shift: t.shift as i64,
        stabil: t.stabil as i64,
        jitcnt: t.jitcnt as i64,
        calcnt: t.calcnt as i64,
        errcnt: t.errcnt as i64,
        stbcnt: t.stbcnt as i64,
        tai: t.tai as i64,
    })
}

pub(crate) fn families(r: &Reading) -> Vec<Family> {
    let divisor = if r.status & STA_NANO != 0 { 1e9 } else { MICRO };
    let g = MetricType::Gauge;
    let c = MetricType::Counter;
    let one = |name: &str, help: &str, kind: MetricType, v: f64| {
        Family::single(&format!("node_timex_{name}"), help, kind, v)
    };
    vec![
        one(
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            g,
            if r.state == TIME_ERROR { 0.0 } else { 1.0 },
        ),
        one(
            "offset_seconds",
            "Time offset in between local system and reference clock.",
            g,
            r.offset as f64 / divisor,
        ),
        one(
            "frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            g,
            1.0 + r.freq as f64 / PPM16FRAC,
        ),
        one(
            "maxerror_seconds",
            "Maximum error in seconds.",
            g,
            r.maxerror as f64 / MICRO,
        ),
        one(
            "estimated_error_seconds",
            "Estimated error in seconds.",
            g,
            r.esterror as f64 / MICRO,
        ),
        one(
            "status",
            "Value of the status array bits.",
            g,
            r.status as f64,
        ),
        one(
            "loop_time_constant",
            "Phase-locked loop time constant.",
            g,
            r.constant as f64,
        ),
        one(
            "tick_seconds",
            "Seconds between clock ticks.",
            g,
            r.tick as f64 / MICRO,
        ),
        one(
            "pps_frequency_hertz",
            "Pulse per second frequency.",
            g,
            r.ppsfreq as f64 / PPM16FRAC,
        ),
        one(
            "pps_jitter_seconds",
            "Pulse per second jitter.",
            g,
            r.jitter as f64 / divisor,
        ),
        one(
            "pps_shift_seconds",
            "Pulse per second interval duration.",
            g,
            r.shift as f64,
        ),
        one(
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            g,
            r.stabil as f64 / PPM16FRAC,
        ),
        one(
            "pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            c,
            r.jitcnt as f64,
        ),
        one(
            "pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            c,
            r.calcnt as f64,
        ),
        one(
            "pps_error_total",
            "Pulse per second count of calibration errors.",
            c,
            r.errcnt as f64,
        ),
        one(
            "pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            c,
            r.stbcnt as f64,
        ),
        one(
            "tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            g,
            r.tai as f64,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(f: &[Family], name: &str) -> f64 {
        f.iter()
            .find(|x| x.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .samples[0]
            .value
    }

    #[test]
    fn host_timex_units_follow_adjtimex() {
        let r = Reading {
            state: 0,
            offset: 1500,
            freq: 65536 * 10,
            maxerror: 16_000_000,
            esterror: 250,
            status: 1,
            constant: 7,
            tick: 10_000,
            ppsfreq: 65536,
            jitter: 3,
            shift: 2,
            stabil: 65536 * 2,
            jitcnt: 4,
            calcnt: 5,
            errcnt: 6,
            stbcnt: 7,
            tai: 37,
        };
        let f = families(&r);
        assert_eq!(f.len(), 17);
        assert_eq!(value(&f, "node_timex_sync_status"), 1.0);
        assert_eq!(value(&f, "node_timex_offset_seconds"), 0.0015);
        assert!((value(&f, "node_timex_frequency_adjustment_ratio") - 1.00001).abs() < 1e-12);
        assert_eq!(value(&f, "node_timex_maxerror_seconds"), 16.0);
        assert_eq!(value(&f, "node_timex_estimated_error_seconds"), 0.00025);
        assert_eq!(value(&f, "node_timex_tick_seconds"), 0.01);
        assert_eq!(value(&f, "node_timex_pps_frequency_hertz"), 1e-6);
        assert_eq!(value(&f, "node_timex_pps_stability_hertz"), 2e-6);
        assert_eq!(value(&f, "node_timex_pps_jitter_seconds"), 3e-6);
        assert_eq!(value(&f, "node_timex_tai_offset_seconds"), 37.0);
        // STA_NANO: offsets in nanoseconds; TIME_ERROR: not synchronised.
        let nano = Reading {
            state: TIME_ERROR,
            status: STA_NANO,
            offset: 1500,
            ..r
        };
        let f = families(&nano);
        assert_eq!(value(&f, "node_timex_offset_seconds"), 1.5e-6);
        assert_eq!(value(&f, "node_timex_sync_status"), 0.0);
    }

    #[test]
    fn host_timex_reads_the_kernel() {
        let r = read_kernel().expect("adjtimex");
        assert!(r.tick > 0, "{r:?}");
    }
}
