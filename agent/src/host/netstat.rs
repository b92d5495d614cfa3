//! node_exporter `netstat`: `node_netstat_<Proto>_<Field>` (untyped) from
//! `/proc/net/netstat`, `/proc/net/snmp` and `/proc/net/snmp6`, for the
//! fields matching node_exporter's default `--collector.netstat.fields`.
//!
//! netstat and snmp are pairs of lines (`Proto: names...` then
//! `Proto: values...`); snmp6 is one `Ip6InReceives 4` per line, split
//! after the first `6`. snmp6 is missing when IPv6 is disabled and is
//! then skipped, as in node_exporter.

use std::sync::OnceLock;

use regex::Regex;

use super::{num, read, Family, MetricType, Roots};

/// node_exporter 1.5's default `--collector.netstat.fields`.
pub(crate) const DEFAULT_FIELDS: &str = r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

fn fields() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(DEFAULT_FIELDS).expect("BUG: netstat field regex"))
}

pub(crate) fn collect(roots: &Roots) -> Result<Vec<Family>, String> {
    // (protocol, field, value text)
    let mut stats: Vec<(String, String, String)> = Vec::new();
    for file in ["net/netstat", "net/snmp"] {
        let path = roots.proc(file);
        paired(&read(&path)?, &mut stats).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let path = roots.proc("net/snmp6");
    match std::fs::read_to_string(&path) {
        Ok(text) => snmp6(&text, &mut stats),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    }
    let mut out = Vec::new();
    for (proto, field, value) in stats {
        let key = format!("{proto}_{field}");
        if !fields().is_match(&key) {
            continue;
        }
        out.push(Family::single(
            &format!("node_netstat_{key}"),
            &format!("Statistic {proto}{field}."),
            MetricType::Unknown,
            num(&value, &format!("netstat {key}"))?,
        ));
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}

/// Parses header/value line pairs (`/proc/net/netstat`, `/proc/net/snmp`).
fn paired(text: &str, out: &mut Vec<(String, String, String)>) -> Result<(), String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    while let Some(names) = lines.next() {
        let values = lines
            .next()
            .ok_or_else(|| format!("header {names:?} without a value line"))?;
        let (proto, names) = names
            .split_once(':')
            .ok_or_else(|| format!("no protocol in {names:?}"))?;
        let (vproto, values) = values
            .split_once(':')
            .ok_or_else(|| format!("no protocol in {values:?}"))?;
        if proto != vproto {
            return Err(format!("header {proto:?} followed by values of {vproto:?}"));
        }
        let names: Vec<&str> = names.split_whitespace().collect();
        let values: Vec<&str> = values.split_whitespace().collect();
        if names.len() != values.len() {
            return Err(format!(
                "{proto}: {} names but {} values",
                names.len(),
                values.len()
            ));
        }
        for (n, v) in names.into_iter().zip(values) {
            out.push((proto.to_string(), n.to_string(), v.to_string()));
        }
    }
    Ok(())
}

/// Parses `/proc/net/snmp6`: `Icmp6InMsgs 5` is protocol `Icmp6`, field
/// `InMsgs`; lines without a `6` in the name are skipped.
fn snmp6(text: &str, out: &mut Vec<(String, String, String)>) {
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(key), Some(value)) = (it.next(), it.next()) else {
            continue;
        };
        if let Some(six) = key.find('6') {
            let (proto, field) = key.split_at(six + 1);
            out.push((proto.to_string(), field.to_string(), value.to_string()));
        }
    }
}
