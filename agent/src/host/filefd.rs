//! node_exporter `filefd`: `node_filefd_allocated` and
//! `node_filefd_maximum` from `/proc/sys/fs/file-nr`.

use super::{num, read, Family, MetricType, Roots};

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    let text = read(&roots.proc("sys/fs/file-nr"))?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 3 {
        return Err(format!("file-nr: expected 3 fields, got {text:?}"));
    }
    Ok(vec![
        Family::single(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            MetricType::Gauge,
            num(fields[0], "file-nr allocated")?,
        ),
        Family::single(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            MetricType::Gauge,
            num(fields[2], "file-nr maximum")?,
        ),
    ])
}
