//! Inhibition: an alert matching a rule's `target_matchers` is muted while
//! an alert matching its `source_matchers` fires with the same values of
//! the `equal` labels (Alertmanager's `inhibit.Inhibitor`).

use std::collections::BTreeMap;

use super::alert::Alert;
use super::config::InhibitRule;

/// The fingerprints (hex) of the firing alerts that inhibit an alert with
/// `labels`, found among `alerts` (the store's contents), sorted.
pub fn inhibited_by(
    rules: &[InhibitRule],
    labels: &BTreeMap<String, String>,
    alerts: &[Alert],
    now: i64,
) -> Vec<String> {
    let target_fp = super::alert::labels_fingerprint(labels);
    let mut out = Vec::new();
    for rule in rules {
        if !rule.target.matches_map(labels) {
            continue;
        }
        // An alert that matches both sides could inhibit itself, or
        // another alert that matches both; Alertmanager excludes sources
        // that also match the target in that case.
        let two_sided = rule.source.matches_map(labels);
        for a in alerts {
            if a.resolved_at(now) || a.fingerprint() == target_fp {
                continue;
            }
            if !rule.source.matches_map(&a.labels) {
                continue;
            }
            if two_sided && rule.target.matches_map(&a.labels) {
                continue;
            }
            let equal = rule.equal.iter().all(|l| {
                a.labels.get(l).map_or("", String::as_str)
                    == labels.get(l).map_or("", String::as_str)
            });
            if equal {
                out.push(a.fingerprint_hex());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
