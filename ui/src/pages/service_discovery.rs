//! Service Discovery: every discovered target by scrape pool, its labels
//! before relabeling and the target labels after, dropped ones marked
//! "Dropped" — the Prometheus UI's Status → Service Discovery page, from
//! `/api/v1/targets?state=any`. Pools fold (`<details>`); the filter
//! matches pool names and labels; at most [`ROW_LIMIT`] rows render.

use std::collections::BTreeMap;

use leptos::prelude::*;
use serde_json::Value;

use super::status::{limit_note, loaded, Filter, ROW_LIMIT};
use crate::api::string_map;

/// A target as the page shows it: its labels before relabeling and,
/// unless relabeling dropped it, after.
#[derive(Clone, Debug, PartialEq)]
pub struct DiscoveredTarget {
    pub scrape_pool: String,
    pub discovered_labels: BTreeMap<String, String>,
    /// The target labels; `None` for a dropped target.
    pub labels: Option<BTreeMap<String, String>>,
}

/// The targets of a `/api/v1/targets?state=any` answer: the active ones,
/// then the dropped ones.
pub fn discovered_targets(data: &Value) -> Vec<DiscoveredTarget> {
    let read = |key: &str, dropped: bool| -> Vec<DiscoveredTarget> {
        data[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| DiscoveredTarget {
                        scrape_pool: t["scrapePool"].as_str().unwrap_or_default().to_string(),
                        discovered_labels: string_map(&t["discoveredLabels"]),
                        labels: (!dropped).then(|| string_map(&t["labels"])),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut all = read("activeTargets", false);
    all.extend(read("droppedTargets", true));
    all
}

/// A scrape pool as the page shows it.
#[derive(Debug, PartialEq)]
pub struct Pool {
    pub name: String,
    /// Active targets of the pool, filtered or not, as Prometheus counts.
    pub active: usize,
    /// All its targets, active and dropped.
    pub total: usize,
    /// How many of its targets the filter matches.
    pub matched: usize,
    /// The first of those, within the page's row budget.
    pub rows: Vec<DiscoveredTarget>,
}

/// `name="value", …` of a label set, as the filter sees it.
fn label_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The pools (sorted by name) with the targets `filter` matches, at most
/// `limit` rows over all pools; pools with no match are left out, pools
/// past the budget stay (without rows), so none hides. Also returns how
/// many targets matched in all.
pub fn pools(targets: &[DiscoveredTarget], filter: &Filter, limit: usize) -> (Vec<Pool>, usize) {
    let mut all_matched = 0;
    let mut shown = 0;
    let groups = super::grouped(targets.iter(), |t| t.scrape_pool.clone());
    let mut out = Vec::new();
    for (name, ts) in groups {
        let active = ts.iter().filter(|t| t.labels.is_some()).count();
        let total = ts.len();
        let mut rows = Vec::new();
        let mut matched = 0;
        for t in ts {
            let text = format!(
                "{} {} {}",
                t.scrape_pool,
                label_text(&t.discovered_labels),
                t.labels
                    .as_ref()
                    .map(label_text)
                    .unwrap_or_else(|| "dropped".into())
            );
            if !filter.matches(&text) {
                continue;
            }
            matched += 1;
            if shown < limit {
                shown += 1;
                rows.push(t.clone());
            }
        }
        all_matched += matched;
        if matched > 0 {
            out.push(Pool {
                name,
                active,
                total,
                matched,
                rows,
            });
        }
    }
    (out, all_matched)
}

/// The note of a pool whose rows the page's budget held back.
fn held_back(n: usize) -> Option<impl IntoView> {
    let note = match n {
        0 => return None,
        1 => "1 more target not shown: narrow the filter to see it.".to_string(),
        n => format!("{n} more targets not shown: narrow the filter to see them."),
    };
    Some(view! { <p class="hint">{note}</p> })
}

fn labels_view(labels: &BTreeMap<String, String>) -> impl IntoView {
    labels
        .iter()
        .map(|(k, v)| view! { <span class="lbl">{format!("{k}=\"{v}\"")}</span> })
        .collect_view()
}

#[component]
pub fn ServiceDiscovery() -> impl IntoView {
    let (filter, set_filter) = signal(String::new());
    view! {
        <div class="dashboard-header">
            <h1>"Service Discovery"</h1>
            <input
                class="filter"
                type="search"
                placeholder="Filter by pool or labels"
                aria-label="Filter targets"
                on:input=move |ev| set_filter.set(event_target_value(&ev))
            />
        </div>
        {loaded(&["api/v1/targets?state=any"], None, move |vs| {
                    let all = discovered_targets(&vs[0]);
                    let (pools, matched) = pools(&all, &Filter::new(&filter.get()), ROW_LIMIT);
                    let shown: usize = pools.iter().map(|p| p.rows.len()).sum();
                    let note = limit_note(shown, matched);
                    view! {
                        {(matched == 0).then(|| view! { <p class="hint">"No target matches."</p> })}
                        {pools.into_iter().map(|p| {
                            let shown_here = p.rows.len();
                            view! {
                            <details class="panel pool sd-pool" open>
                                <summary class="panel-title">
                                    {p.name}" ("{p.active}" / "{p.total}" active targets)"
                                </summary>
                                <table class="result targets sd">
                                    <thead>
                                        <tr><th>"Discovered Labels"</th><th>"Target Labels"</th></tr>
                                    </thead>
                                    <tbody>
                                        {p.rows.into_iter().map(|t| view! {
                                            <tr>
                                                <td class="series">{labels_view(&t.discovered_labels)}</td>
                                                <td class="series">
                                                    {match &t.labels {
                                                        Some(l) => labels_view(l).into_any(),
                                                        None => view! { <span class="state dropped">"Dropped"</span> }.into_any(),
                                                    }}
                                                </td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {held_back(p.matched - shown_here)}
                            </details>
                            }
                        }).collect_view()}
                        {note.map(|n| view! { <p class="hint">{n}</p> })}
                    }.into_any()
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(pool: &str, addr: &str, dropped: bool) -> DiscoveredTarget {
        let discovered: BTreeMap<String, String> = [("__address__", addr), ("job", pool)]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let labels = (!dropped).then(|| {
            [("instance", addr), ("job", pool)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        });
        DiscoveredTarget {
            scrape_pool: pool.into(),
            discovered_labels: discovered,
            labels,
        }
    }

    fn sample() -> Vec<DiscoveredTarget> {
        vec![
            target("node", "a:9100", false),
            target("blackbox", "b:1", false),
            target("node", "c:9100", true),
            target("node", "d:9100", false),
        ]
    }

    #[test]
    fn targets_read_from_the_answer() {
        let v: Value = serde_json::from_str(
            r#"{"activeTargets": [{"discoveredLabels": {"__address__": "a:1", "job": "x"},
                    "labels": {"instance": "a:1", "job": "x"}, "scrapePool": "x", "health": "up"}],
                "droppedTargets": [{"discoveredLabels": {"__address__": "b:1"}, "scrapePool": "x"}]}"#,
        )
        .unwrap();
        let ts = discovered_targets(&v);
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[0].labels.as_ref().unwrap()["instance"], "a:1");
        assert_eq!(ts[0].discovered_labels["__address__"], "a:1");
        assert_eq!(
            (ts[1].scrape_pool.as_str(), ts[1].labels.is_none()),
            ("x", true)
        );
    }

    #[test]
    fn pools_sorted_with_active_and_total_counts() {
        let (ps, matched) = pools(&sample(), &Filter::new(""), 100);
        assert_eq!(matched, 4);
        let summary: Vec<(&str, usize, usize, usize)> = ps
            .iter()
            .map(|p| (p.name.as_str(), p.active, p.total, p.rows.len()))
            .collect();
        assert_eq!(summary, [("blackbox", 1, 1, 1), ("node", 2, 3, 3)]);
        assert!(
            ps[1].rows[1].labels.is_none(),
            "the dropped target keeps its place"
        );
    }

    #[test]
    fn filter_matches_labels_and_drops_empty_pools() {
        let (ps, matched) = pools(&sample(), &Filter::new("__ADDRESS__=\"c:"), 100);
        assert_eq!(matched, 1);
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].name, "node");
        assert_eq!(ps[0].total, 3, "counts stay the pool's");
        let (ps, _) = pools(&sample(), &Filter::new("dropped"), 100);
        assert_eq!(ps[0].rows.len(), 1);
        let (ps, _) = pools(&sample(), &Filter::new("instance=\"d:9100\""), 100);
        assert_eq!(ps[0].rows[0].discovered_labels["__address__"], "d:9100");
    }

    #[test]
    fn rows_capped_over_all_pools() {
        let (ps, matched) = pools(&sample(), &Filter::new(""), 2);
        assert_eq!(matched, 4);
        let rows: usize = ps.iter().map(|p| p.rows.len()).sum();
        assert_eq!(rows, 2);
        assert_eq!(ps.len(), 2, "blackbox's one row, then node's first");
        assert_eq!((ps[1].matched, ps[1].rows.len()), (3, 1));
        let (ps, _) = pools(&sample(), &Filter::new(""), 1);
        assert_eq!(ps.len(), 2, "a pool past the budget still shows");
        assert!(ps[1].rows.is_empty());
    }
}
