//! node_exporter `vmstat`: `node_vmstat_<field>` (untyped) for the fields
//! of `/proc/vmstat` matching node_exporter's default
//! `--collector.vmstat.fields`.

use std::sync::OnceLock;

use regex::Regex;

use super::{num, read, Family, MetricType, Roots};

/// node_exporter 1.5's default `--collector.vmstat.fields`.
pub(crate) const DEFAULT_FIELDS: &str = r"^(oom_kill|pgpg|pswp|pg.*fault).*";

fn fields() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(DEFAULT_FIELDS).expect("BUG: vmstat field regex"))
}

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("vmstat"))?;
    let mut out = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(name), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        if !fields().is_match(name) {
            continue;
        }
        out.push(Family::single(
            &format!("node_vmstat_{name}"),
            &format!("/proc/vmstat information field {name}."),
            MetricType::Unknown,
            num(value, "vmstat")?,
        ));
    }
    Ok(out)
}
