//! node_exporter `sockstat`: socket counts from `/proc/net/sockstat` and
//! `/proc/net/sockstat6`: `node_sockstat_sockets_used`,
//! `node_sockstat_<PROTO>_<field>` for the fields node_exporter knows
//! (inuse, orphan, tw, alloc, mem, memory) and `<PROTO>_mem_bytes` (mem is
//! in pages). Either file may be missing (no IPv4 / IPv6); it is skipped.

use super::{num, Family, MetricType, Roots};

const FIELDS: [&str; 6] = ["inuse", "orphan", "tw", "alloc", "mem", "memory"];

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64;
    let mut out = Vec::new();
    for (file, v4) in [("net/sockstat", true), ("net/sockstat6", false)] {
        let path = roots.proc(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        parse(&text, v4, page, &mut out).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(out)
}

fn parse(text: &str, v4: bool, page: f64, out: &mut Vec<Family>) -> Result<(), String> {
    for line in text.lines() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        let kv: Vec<&str> = rest.split_whitespace().collect();
        if !kv.len().is_multiple_of(2) {
            return Err(format!("odd number of fields in {line:?}"));
        }
        if proto == "sockets" {
            if v4 {
                if let Some(pair) = kv.chunks(2).find(|p| p[0] == "used") {
                    out.push(Family::single(
                        "node_sockstat_sockets_used",
                        "Number of IPv4 sockets in use.",
                        MetricType::Gauge,
                        num(pair[1], "sockstat sockets used")?,
                    ));
                }
            }
            continue;
        }
        for field in FIELDS {
            let Some(pair) = kv.chunks(2).find(|p| p[0] == field) else {
                continue;
            };
            let v = num(pair[1], "sockstat")?;
            let mut push = |name: &str, v: f64| {
                out.push(Family::single(
                    &format!("node_sockstat_{proto}_{name}"),
                    &format!("Number of {proto} sockets in state {name}."),
                    MetricType::Gauge,
                    v,
                ))
            };
            push(field, v);
            if field == "mem" {
                push("mem_bytes", v * page);
            }
        }
    }
    Ok(())
}
