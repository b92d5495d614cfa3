//! The SLO panel (`type: "pharos-slo-panel"`): from a service level
//! indicator and an objective over a window, the error budget left and
//! the multi-window, multi-burn-rate view of the SRE workbook's alerting
//! chapter.
//!
//! Options (`options` of the panel JSON):
//!
//! ```json
//! {"objective": 99.9, "window": "30d",
//!  "sli": {"errors": "http_requests_total{code=~\"5..\"}", "total": "http_requests_total"}}
//! ```
//!
//! The SLI is one of `{good, total}`, `{errors, total}` (series selectors
//! of counters, summed and rated over each window, or any expression
//! with `$__window` where the window goes) or `{errorRatio}` (an
//! expression with `$__window`). The error ratio is read at the end of
//! the time range over each window the view needs; the burn rate is the
//! error ratio divided by the error budget (1 − objective).
//!
//! Each window pair (long/short: 1h/5m, 6h/30m, 1d/2h, 3d/6h) alerts
//! when both burn rates reach its threshold: the rate that spends 2 %,
//! 5 %, 10 % and 10 % of the budget within the long window (14.4, 6, 3
//! and 1 for a 30-day objective). A pair is red when it alerts at page
//! severity (the first two), yellow when a ticket pair alerts or only
//! one of a pair's windows is over, green otherwise.

use leptos::prelude::*;
use serde_json::Value;

use crate::api;
use crate::dashboard::data::Series;
use crate::dashboard::model::Panel;
use crate::dashboard::query::{Results, Scope};
use crate::dashboard::vars::parse_duration;

/// The window pairs: long, short, share of the budget they alert on,
/// and whether they page.
pub const PAIRS: [(&str, &str, f64, bool); 4] = [
    ("1h", "5m", 0.02, true),
    ("6h", "30m", 0.05, true),
    ("1d", "2h", 0.10, false),
    ("3d", "6h", 0.10, false),
];

/// How the error ratio over a window is computed.
#[derive(Clone, Debug, PartialEq)]
pub enum Sli {
    Good { good: String, total: String },
    Errors { errors: String, total: String },
    ErrorRatio(String),
}

/// An SLO panel's options.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    /// The objective as a fraction (0.999).
    pub objective: f64,
    pub window: String,
    pub sli: Sli,
}

impl Slo {
    /// Reads the panel's `options`; an error names what is missing.
    pub fn parse(options: &Value) -> Result<Slo, String> {
        let o = |k: &str| options["sli"][k].as_str().map(str::to_string);
        let sli = match (o("good"), o("errors"), o("total"), o("errorRatio")) {
            (_, _, _, Some(r)) => Sli::ErrorRatio(r),
            (Some(good), _, Some(total), _) => Sli::Good { good, total },
            (_, Some(errors), Some(total), _) => Sli::Errors { errors, total },
            _ => return Err(
                "The SLO panel needs options.sli: {good, total}, {errors, total} or {errorRatio}."
                    .into(),
            ),
        };
        let objective = match options["objective"].as_f64() {
            Some(p) if p > 1.0 && p < 100.0 => p / 100.0,
            Some(f) if f > 0.0 && f < 1.0 => f,
            _ => return Err("options.objective must be a percentage below 100, e.g. 99.9.".into()),
        };
        let window = options["window"].as_str().unwrap_or("30d").to_string();
        if parse_duration(&window).is_none() {
            return Err(format!("options.window {window:?} is not a duration."));
        }
        Ok(Slo {
            objective,
            window,
            sli,
        })
    }

    /// The PromQL of the error ratio over `window`.
    pub fn error_ratio(&self, window: &str) -> String {
        // A selector is summed and rated (no series: none counted, so
        // no 5xx series yet reads as no errors); an expression names its
        // window.
        let rated = |q: &str| {
            if q.contains("$__window") || q.contains("${__window}") {
                q.replace("${__window}", window)
                    .replace("$__window", window)
            } else {
                format!("sum(rate({q}[{window}])) or vector(0)")
            }
        };
        match &self.sli {
            Sli::Good { good, total } => format!("1 - ({}) / ({})", rated(good), rated(total)),
            Sli::Errors { errors, total } => format!("({}) / ({})", rated(errors), rated(total)),
            Sli::ErrorRatio(r) => r
                .replace("${__window}", window)
                .replace("$__window", window),
        }
    }

    /// Every window whose error ratio the view shows: the objective's,
    /// then the pairs' windows.
    pub fn windows(&self) -> Vec<String> {
        let mut w = vec![self.window.clone()];
        for (long, short, _, _) in PAIRS {
            for x in [long, short] {
                if !w.iter().any(|y| y == x) {
                    w.push(x.to_string());
                }
            }
        }
        w
    }

    /// The burn rate that spends `share` of the budget within `long`.
    pub fn threshold(&self, long: &str, share: f64) -> f64 {
        let window = parse_duration(&self.window).unwrap_or(30.0 * 86400.0);
        share * window / parse_duration(long).unwrap_or(3600.0)
    }
}

/// The colour of a window pair from its two burn rates.
pub fn pair_status(long: f64, short: f64, threshold: f64, page: bool) -> &'static str {
    let over = |b: f64| b.is_finite() && b >= threshold;
    match (over(long), over(short)) {
        (true, true) if page => "red",
        (true, true) => "yellow",
        (true, false) | (false, true) => "yellow",
        _ => "green",
    }
}

/// The colour of the budget left (a fraction; ≤ 0 is spent).
pub fn budget_status(left: f64) -> &'static str {
    if !left.is_finite() || left > 0.25 {
        "green"
    } else if left > 0.0 {
        "yellow"
    } else {
        "red"
    }
}

/// Runs the panel's queries: one result per window, each the error
/// ratio at the end of the range (no sample: no traffic).
pub async fn run(panel: &Panel, scope: &Scope<'_>) -> Result<Results, String> {
    let slo = Slo::parse(&panel.options)?;
    let mut out = Vec::new();
    for w in slo.windows() {
        let expr = scope.fill(&slo.error_ratio(&w));
        let samples = api::query_at(&expr, scope.to.floor()).await?;
        let series = samples
            .into_iter()
            .take(1)
            .map(|s| Series {
                ref_id: w.clone(),
                name: w.clone(),
                points: vec![(s.value.0, s.value.1.parse().unwrap_or(f64::NAN))],
                labels: s.metric,
            })
            .collect();
        out.push((w, series));
    }
    Ok(out)
}

/// A ratio as a percentage with enough digits to tell 99.9 from 99.95
/// (up to three decimals, trailing zeros dropped).
fn percent(f: f64) -> String {
    if !f.is_finite() {
        return "–".into();
    }
    let p = format!("{:.3}", f * 100.0);
    let p = p.trim_end_matches('0').trim_end_matches('.');
    format!("{p}%")
}

fn burn_text(b: f64) -> String {
    if b.is_finite() {
        format!("{b:.2}×")
    } else {
        "–".into()
    }
}

/// The panel's body.
#[component]
pub fn SloView(panel: Panel, results: Results) -> impl IntoView {
    let slo = match Slo::parse(&panel.options) {
        Ok(s) => s,
        Err(e) => return view! { <p class="panel-error">{e}</p> }.into_any(),
    };
    let budget = 1.0 - slo.objective;
    let ratio = |w: &str| {
        results
            .iter()
            .find(|(k, _)| k == w)
            .and_then(|(_, s)| s.first())
            .and_then(|s| s.points.first())
            .map_or(f64::NAN, |p| p.1)
    };
    let burn = |w: &str| ratio(w) / budget;
    let spent = ratio(&slo.window);
    let left = 1.0 - spent / budget;
    let status = budget_status(left);
    let bar = if left.is_finite() {
        (left.clamp(0.0, 1.0) * 100.0).round()
    } else {
        100.0
    };
    let rows = PAIRS
        .iter()
        .map(|&(long, short, share, page)| {
            let (bl, bs) = (burn(long), burn(short));
            let threshold = slo.threshold(long, share);
            let st = pair_status(bl, bs, threshold, page);
            view! {
                <tr class=format!("slo-pair {st}") data-status=st data-burn-long=bl.to_string() data-burn-short=bs.to_string()>
                    <td>{format!("{long} / {short}")}</td>
                    <td class="num">{burn_text(bl)}</td>
                    <td class="num">{burn_text(bs)}</td>
                    <td class="num">{format!("{}×", format!("{threshold:.2}").trim_end_matches('0').trim_end_matches('.'))}</td>
                    <td>{if page { "page" } else { "ticket" }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="slo">
            <div class=format!("slo-budget {status}") data-status=status data-left=left.to_string()>
                <b>{percent(left)}</b>
                <span>"error budget left"</span>
                <i class="bar"><i style=format!("width:{bar}%")></i></i>
                <small>{format!("Objective {} over {} · SLI {}", percent(slo.objective), slo.window, percent(1.0 - spent))}</small>
            </div>
            <table class="slo-burn">
                <thead><tr><th>"Windows"</th><th class="num">"Burn (long)"</th><th class="num">"Burn (short)"</th><th class="num">"Alert at"</th><th>"Severity"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_expressions_and_thresholds() {
        let s = Slo::parse(&json!({"objective": 99.9, "window": "30d",
            "sli": {"errors": "rq_total{code=~\"5..\"}", "total": "rq_total"}}))
        .unwrap();
        assert!((s.objective - 0.999).abs() < 1e-12);
        assert_eq!(
            s.error_ratio("5m"),
            "(sum(rate(rq_total{code=~\"5..\"}[5m])) or vector(0)) / (sum(rate(rq_total[5m])) or vector(0))"
        );
        let g = Slo::parse(&json!({"objective": 0.99,
            "sli": {"good": "sum(rate(ok[$__window]))", "total": "sum(rate(all[${__window}]))"}}))
        .unwrap();
        assert_eq!(
            g.error_ratio("1h"),
            "1 - (sum(rate(ok[1h]))) / (sum(rate(all[1h])))"
        );
        assert_eq!(g.window, "30d");
        // The SRE workbook's thresholds for 30 days; a 7-day objective
        // spends its budget faster per hour.
        let t: Vec<String> = PAIRS
            .iter()
            .map(|(l, _, share, _)| format!("{:.1}", s.threshold(l, *share)))
            .collect();
        assert_eq!(t, ["14.4", "6.0", "3.0", "1.0"]);
        let week = Slo::parse(
            &json!({"objective": 99.0, "window": "7d", "sli": {"errorRatio": "x[$__window]"}}),
        )
        .unwrap();
        assert!((week.threshold("1h", 0.02) - 3.36).abs() < 1e-9);
        assert_eq!(
            week.windows(),
            ["7d", "1h", "5m", "6h", "30m", "1d", "2h", "3d"]
        );
        for bad in [
            json!({"objective": 99.9}),
            json!({"objective": 100, "sli": {"errorRatio": "x"}}),
            json!({"objective": 99, "window": "soon", "sli": {"errorRatio": "x"}}),
        ] {
            assert!(Slo::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn colours() {
        assert_eq!(pair_status(20.0, 15.0, 14.4, true), "red");
        assert_eq!(pair_status(20.0, 15.0, 3.0, false), "yellow");
        assert_eq!(pair_status(20.0, 1.0, 14.4, true), "yellow");
        assert_eq!(pair_status(1.0, f64::NAN, 14.4, true), "green");
        assert_eq!(budget_status(0.8), "green");
        assert_eq!(budget_status(0.1), "yellow");
        assert_eq!(budget_status(-1.0), "red");
        assert_eq!(budget_status(f64::NAN), "green");
        assert_eq!(percent(0.99973), "99.973%");
        assert_eq!(percent(0.999), "99.9%");
        assert_eq!(percent(0.5), "50%");
    }
}
