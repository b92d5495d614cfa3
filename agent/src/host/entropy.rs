//! node_exporter `entropy`: `node_entropy_available_bits` and
//! `node_entropy_pool_size_bits` from `/proc/sys/kernel/random`.

use super::{num, read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let avail = read(&roots.proc("sys/kernel/random/entropy_avail"))?;
    let pool = read(&roots.proc("sys/kernel/random/poolsize"))?;
    Ok(vec![
        Family::single(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            MetricType::Gauge,
            num(avail.trim(), "entropy_avail")?,
        ),
        Family::single(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            MetricType::Gauge,
            num(pool.trim(), "poolsize")?,
        ),
    ])
}
