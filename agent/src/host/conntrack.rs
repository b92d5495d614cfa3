//! node_exporter `conntrack`: table size and limit from
//! `/proc/sys/net/netfilter/nf_conntrack_{count,max}`, and the per-CPU
//! statistics of `/proc/net/stat/nf_conntrack` summed over CPUs. Without
//! the nf_conntrack module the files are missing and the collector fails.

use super::{num, read, Family, MetricType, Roots};

/// (column of /proc/net/stat/nf_conntrack, metric suffix, help).
const STATS: [(&str, &str, &str); 8] = [
    (
        "found",
        "found",
        "Number of searched entries which were successful.",
    ),
    (
        "invalid",
        "invalid",
        "Number of packets seen which can not be tracked.",
    ),
    (
        "ignore",
        "ignore",
        "Number of packets seen which are already connected to a conntrack entry.",
    ),
    (
        "insert",
        "insert",
        "Number of entries inserted into the list.",
    ),
    (
        "insert_failed",
        "insert_failed",
        "Number of entries for which list insertion was attempted but failed.",
    ),
    (
        "drop",
        "drop",
        "Number of packets dropped due to conntrack failure.",
    ),
    (
        "early_drop",
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        "search_restart",
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
];

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let count = read(&roots.proc("sys/net/netfilter/nf_conntrack_count"))?;
    let max = read(&roots.proc("sys/net/netfilter/nf_conntrack_max"))?;
    let mut out = vec![
        Family::single(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            MetricType::Gauge,
            num(count.trim(), "nf_conntrack_count")?,
        ),
        Family::single(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            MetricType::Gauge,
            num(max.trim(), "nf_conntrack_max")?,
        ),
    ];
    let path = roots.proc("net/stat/nf_conntrack");
    let sums = stat_sums(&read(&path)?).map_err(|e| format!("{}: {e}", path.display()))?;
    for (column, suffix, help) in STATS {
        let v = sums
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("{}: no column {column:?}", path.display()))?;
        out.push(Family::single(
            &format!("node_nf_conntrack_stat_{suffix}"),
            help,
            MetricType::Gauge,
            v,
        ));
    }
    Ok(out)
}

/// Column name -> sum over the per-CPU rows (hex values).
fn stat_sums(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or("empty file")?
        .split_whitespace()
        .collect();
    let mut sums = vec![0u64; header.len()];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() != header.len() {
            return Err(format!(
                "{} columns in a row, {} in the header",
                cols.len(),
                header.len()
            ));
        }
        for (sum, c) in sums.iter_mut().zip(cols) {
            *sum += u64::from_str_radix(c, 16).map_err(|_| format!("cannot parse {c:?} as hex"))?;
        }
    }
    Ok(header
        .into_iter()
        .map(str::to_string)
        .zip(sums.into_iter().map(|v| v as f64))
        .collect())
}
