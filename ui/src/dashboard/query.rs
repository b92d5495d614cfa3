//! Running a dashboard against pharos: the options of query variables
//! (Grafana's `label_values`, `label_names`, `metrics`, `query_result`,
//! then the variable's regex and sort), and each panel's queries with the
//! variables and built-ins filled in, over the panel's step.

use std::collections::BTreeMap;

use super::data::Series;
use super::field::regex_matches;
use super::model::{Panel, Target};
use super::vars::{self, format_duration, interpolate, Interval, VarKind, Variable, ALL};
use crate::api;

/// The scrape interval panels assume until the data source says
/// (Grafana's default for a Prometheus data source, and pharos's
/// built-in scrape interval).
pub const SCRAPE: f64 = 15.0;

thread_local! {
    static SCRAPE_INTERVAL: std::cell::Cell<f64> = const { std::cell::Cell::new(SCRAPE) };
    static TRACE_LINKS: std::cell::RefCell<Vec<(String, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Where exemplars link their traces: (label holding the trace id, URL
/// with `${__value.raw}` for it), from the data source's
/// `jsonData.exemplarTraceIdDestinations` (`--ui.exemplar-trace-url`).
pub fn trace_links() -> Vec<(String, String)> {
    TRACE_LINKS.with(|t| t.borrow().clone())
}

/// The scrape interval in use: the data source's `jsonData.timeInterval`
/// once [`load_datasource`] has read it, as Grafana uses its data
/// source's "Scrape interval" for `$__rate_interval` and the lowest step.
pub fn scrape_interval() -> f64 {
    SCRAPE_INTERVAL.with(std::cell::Cell::get)
}

/// Reads pharos's scrape interval and trace links from the Grafana data
/// source API.
pub async fn load_datasource() {
    if let Ok(ds) = api::json("GET", "api/datasources/uid/pharos", None).await {
        let links: Vec<(String, String)> = ds["jsonData"]["exemplarTraceIdDestinations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                Some((
                    d["name"].as_str()?.to_string(),
                    d["url"].as_str()?.to_string(),
                ))
            })
            .collect();
        TRACE_LINKS.with(|t| *t.borrow_mut() = links);
        let secs = ds["jsonData"]["timeInterval"]
            .as_str()
            .and_then(vars::parse_duration)
            .filter(|s| *s > 0.0);
        if let Some(s) = secs {
            SCRAPE_INTERVAL.with(|c| c.set(s));
        }
    }
}

/// What names resolve to while a panel is filled in.
#[derive(Clone, Debug)]
pub struct Scope<'a> {
    pub vars: &'a [Variable],
    /// Values that replace a variable's for one repeated panel.
    pub fixed: &'a [(String, String)],
    pub from: f64,
    pub to: f64,
    pub interval: Option<Interval>,
}

impl Scope<'_> {
    /// The value of `name` formatted as `format` asks, `None` if unknown.
    pub fn lookup(&self, name: &str, format: Option<&str>) -> Option<String> {
        if let Some((_, v)) = self.fixed.iter().find(|(n, _)| n == name) {
            let mut var = self.vars.iter().find(|x| x.name == name)?.clone();
            var.current = vec![v.clone()];
            var.multi = false;
            var.include_all = false;
            return Some(var.formatted(format));
        }
        if let Some(var) = self.vars.iter().find(|v| v.name == name) {
            if let VarKind::Interval {
                auto_count,
                auto_min,
                ..
            } = &var.kind
            {
                if var
                    .current
                    .first()
                    .is_some_and(|c| c.starts_with("$__auto_interval"))
                {
                    let min = vars::parse_duration(auto_min).unwrap_or(10.0);
                    let auto = vars::round_interval((self.to - self.from) / auto_count).max(min);
                    return Some(format_duration(auto));
                }
            }
            return Some(var.formatted(format));
        }
        let range = self.to - self.from;
        let i = self.interval.as_ref();
        Some(match name {
            "__interval" => format_duration(i?.step),
            "__interval_ms" => format!("{}", (i?.step * 1000.0).round()),
            "__rate_interval" => format_duration(i?.rate),
            "__rate_interval_ms" => format!("{}", (i?.rate * 1000.0).round()),
            "__range" => format_duration(range.round()),
            "__range_s" => format!("{}", range.round()),
            "__range_ms" => format!("{}", (range * 1000.0).round()),
            "__from" => format!("{}", (self.from * 1000.0).round()),
            "__to" => format!("{}", (self.to * 1000.0).round()),
            _ => return None,
        })
    }

    pub fn fill(&self, text: &str) -> String {
        interpolate(text, &|n, f| self.lookup(n, f))
    }
}

/// The argument list of `name(…)` in `q`, if `q` is that call.
fn call<'q>(q: &'q str, name: &str) -> Option<&'q str> {
    let rest = q.trim().strip_prefix(name)?.trim_start();
    rest.strip_prefix('(')?.strip_suffix(')').map(str::trim)
}

/// Splits `selector, label` at the last top-level comma.
fn split_last_arg(args: &str) -> (Option<&str>, &str) {
    let mut depth = 0i32;
    let mut quoted = false;
    let mut last = None;
    let mut prev = ' ';
    for (i, c) in args.char_indices() {
        match c {
            '"' if prev != '\\' => quoted = !quoted,
            '{' | '(' | '[' if !quoted => depth += 1,
            '}' | ')' | ']' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => last = Some(i),
            _ => {}
        }
        prev = c;
    }
    match last {
        Some(i) => (Some(args[..i].trim()), args[i + 1..].trim()),
        None => (None, args.trim()),
    }
}

/// The options of a query variable, its query filled in with the others.
pub async fn options(var: &Variable, scope: &Scope<'_>) -> Result<Vec<(String, String)>, String> {
    let VarKind::Query { query, regex, sort } = &var.kind else {
        return Ok(vars::static_options(var));
    };
    let q = scope.fill(query);
    let (start, end) = (scope.from.floor(), scope.to.ceil());
    let values: Vec<String> = if let Some(args) = call(&q, "label_values") {
        let (selector, label) = split_last_arg(args);
        api::label_values(label, selector, start, end).await?
    } else if let Some(args) = call(&q, "label_names") {
        api::label_names(Some(args).filter(|a| !a.is_empty()), start, end).await?
    } else if let Some(args) = call(&q, "metrics") {
        let names = api::label_values("__name__", None, start, end).await?;
        names
            .into_iter()
            .filter(|n| regex_matches(args, n))
            .collect()
    } else if let Some(expr) = call(&q, "query_result") {
        api::query_at(expr, end)
            .await?
            .into_iter()
            .map(|s| {
                format!(
                    "{} {} {}",
                    api::legend("", &s.metric),
                    s.value.1,
                    (s.value.0 * 1000.0).round()
                )
            })
            .collect()
    } else if q.trim().is_empty() {
        Vec::new()
    } else {
        // A bare PromQL expression: its results' label sets, as
        // query_result would give them.
        return Err(format!(
            "variable {}: unsupported query {q:?} (label_values, label_names, metrics and query_result are)",
            var.name
        ));
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for v in values {
        let kept = if regex.is_empty() {
            Some(v)
        } else {
            captured(regex, &v)
        };
        if let Some(k) = kept {
            if !out.iter().any(|o| o.1 == k) {
                out.push((k.clone(), k));
            }
        }
    }
    sort_options(&mut out, *sort);
    Ok(out)
}

/// The variable regex applied to `text`: no match drops the value; a
/// capture group picks the part that is kept.
fn captured(pattern: &str, text: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        let (body, flags) = match pattern
            .strip_prefix('/')
            .and_then(|r| r.rfind('/').map(|i| (&r[..i], &r[i + 1..])))
        {
            Some(p) => p,
            None => (pattern, ""),
        };
        let re = js_sys::RegExp::new(body, flags);
        let m = re.exec(text)?;
        let group = m.get(1).as_string().or_else(|| m.get(0).as_string());
        group
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        regex_matches(pattern, text).then(|| text.to_string())
    }
}

/// Grafana's variable sort orders: 1/2 alphabetical, 3/4 numerical,
/// 5/6 alphabetical ignoring case (odd ascending, even descending).
pub fn sort_options(o: &mut [(String, String)], sort: u64) {
    match sort {
        1 | 2 => o.sort_by(|a, b| a.0.cmp(&b.0)),
        3 | 4 => o.sort_by(|a, b| {
            let n = |s: &str| {
                s.chars()
                    .skip_while(|c| !c.is_ascii_digit())
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect::<String>()
                    .parse::<f64>()
                    .unwrap_or(f64::NEG_INFINITY)
            };
            n(&a.0).total_cmp(&n(&b.0))
        }),
        5..=8 => o.sort_by_key(|a| a.0.to_ascii_lowercase()),
        _ => {}
    }
    if sort % 2 == 0 && sort > 0 {
        o.reverse();
    }
}

/// Re-reads the options of the query variables from `from` on, each with
/// the values of those before it (chained variables), keeping the chosen
/// values that are still offered.
pub async fn refresh_variables(
    vars: &mut Vec<Variable>,
    from: usize,
    t0: f64,
    t1: f64,
) -> Vec<String> {
    let mut errors = Vec::new();
    for i in from..vars.len() {
        if !matches!(vars[i].kind, VarKind::Query { .. }) {
            if vars[i].options.is_empty() {
                vars[i].options = vars::static_options(&vars[i]);
            }
            vars[i].settle();
            continue;
        }
        let opts = {
            let scope = Scope {
                vars: &vars[..i],
                fixed: &[],
                from: t0,
                to: t1,
                interval: None,
            };
            options(&vars[i], &scope).await
        };
        match opts {
            Ok(o) => vars[i].options = o,
            Err(e) => {
                vars[i].options.clear();
                errors.push(e);
            }
        }
        vars[i].settle();
    }
    errors
}

/// What one panel's queries returned, by query.
pub type Results = Vec<(String, Vec<Series>)>;

/// Runs the panel's visible queries over `scope`'s range on the step its
/// width allows (`points` pixels); instant queries at the range's end.
pub async fn run(panel: &Panel, scope: &Scope<'_>, points: f64) -> Result<Results, String> {
    let mut out = Vec::new();
    for t in active(panel) {
        let (scope, iv) = target_scope(panel, t, scope, points);
        let expr = scope.fill(&t.expr);
        let legend = scope.fill(&t.legend);
        let series: Vec<Series> = if t.instant {
            api::query_at(&expr, scope.to.floor())
                .await?
                .into_iter()
                .map(|s| Series {
                    ref_id: t.ref_id.clone(),
                    name: display(&legend, &s.metric),
                    points: vec![(s.value.0, s.value.1.parse().unwrap_or(f64::NAN))],
                    labels: s.metric,
                })
                .collect()
        } else {
            let step = iv.step;
            let start = (scope.from / step).floor() * step;
            let end = (scope.to / step).floor() * step;
            api::query_range(&expr, start, end, step)
                .await?
                .into_iter()
                .map(|s| Series {
                    ref_id: t.ref_id.clone(),
                    name: display(&legend, &s.metric),
                    points: s
                        .values
                        .iter()
                        .map(|(t, v)| (*t, v.parse().unwrap_or(f64::NAN)))
                        .collect(),
                    labels: s.metric,
                })
                .collect()
        };
        out.push((t.ref_id.clone(), series));
    }
    Ok(out)
}

/// The queries a panel runs: shown, with an expression.
fn active(panel: &Panel) -> impl Iterator<Item = &Target> {
    panel
        .targets
        .iter()
        .filter(|t| !t.hide && !t.expr.trim().is_empty())
}

/// The scope a query is filled in with: the panel's, with the query's
/// interval (`$__interval`, `$__rate_interval`, the step).
fn target_scope<'a>(
    panel: &Panel,
    t: &Target,
    scope: &Scope<'a>,
    points: f64,
) -> (Scope<'a>, Interval) {
    let range = (scope.to - scope.from).max(1.0);
    let iv = vars::interval(
        range,
        panel.max_data_points.unwrap_or(points),
        min_interval(panel, t, scope),
        scrape_interval(),
    );
    let scope = Scope {
        interval: Some(iv.clone()),
        ..scope.clone()
    };
    (scope, iv)
}

/// The exemplars of the panel's queries that ask for them
/// (`exemplar: true`) over the scope's range. A failure costs the
/// exemplars, not the panel.
pub async fn exemplars(panel: &Panel, scope: &Scope<'_>, points: f64) -> Vec<api::Exemplar> {
    let mut out = Vec::new();
    for t in active(panel).filter(|t| t.exemplar && !t.instant) {
        let (scope, _) = target_scope(panel, t, scope, points);
        if let Ok(e) = api::exemplars(&scope.fill(&t.expr), scope.from, scope.to).await {
            out.extend(e);
        }
    }
    out
}

/// The longest of the panel's and the query's minimum intervals.
fn min_interval(panel: &Panel, t: &Target, scope: &Scope<'_>) -> Option<f64> {
    [&panel.interval, &t.interval]
        .iter()
        .filter_map(|i| vars::parse_duration(scope.fill(i).trim_start_matches('>')))
        .reduce(f64::max)
}

/// A series' name from the legend format (`{{label}}`, `__auto` or empty:
/// the label set).
pub fn display(legend: &str, labels: &BTreeMap<String, String>) -> String {
    if legend == "__auto" {
        api::legend("", labels)
    } else {
        api::legend(legend, labels)
    }
}

/// Firing periods from a range query of `ALERTS{alertstate="firing"}`:
/// each series' runs of consecutive steps as (start, end, alert name).
pub fn firing_periods(series: &[api::MatrixSeries], step: f64) -> Vec<(f64, f64, String)> {
    let mut out = Vec::new();
    for s in series {
        let name = s.metric.get("alertname").cloned().unwrap_or_default();
        let mut run: Option<(f64, f64)> = None;
        for (t, _) in &s.values {
            run = match run {
                Some((a, last)) if t - last <= step * 1.5 => Some((a, *t)),
                Some((a, last)) => {
                    out.push((a, last, name.clone()));
                    Some((*t, *t))
                }
                None => Some((*t, *t)),
            };
        }
        if let Some((a, b)) = run {
            out.push((a, b, name.clone()));
        }
    }
    out
}

/// The "All" sentinel, for pickers.
pub fn is_all(v: &str) -> bool {
    v == ALL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_arguments() {
        assert_eq!(
            call("label_values(up, job)", "label_values"),
            Some("up, job")
        );
        assert_eq!(
            split_last_arg(r#"node_uname_info{job="a,b", x=~"$y"}, nodename"#),
            (Some(r#"node_uname_info{job="a,b", x=~"$y"}"#), "nodename")
        );
        assert_eq!(split_last_arg("job"), (None, "job"));
        assert_eq!(call("query_result(up)", "label_values"), None);
    }

    #[test]
    fn scope_fills_builtins_and_variables() {
        let vs = vars::parse(&serde_json::json!({"templating": {"list": [
            {"name": "job", "type": "custom", "query": "node", "current": {"value": "node"}},
            {"name": "iv", "type": "interval", "query": "1m", "auto": true, "auto_count": 10,
             "current": {"value": "$__auto_interval_iv"}}
        ]}}));
        let scope = Scope {
            vars: &vs,
            fixed: &[],
            from: 0.0,
            to: 3600.0,
            interval: Some(vars::interval(3600.0, 1000.0, None, SCRAPE)),
        };
        assert_eq!(
            scope.fill("rate(x{job=\"$job\"}[$__rate_interval]) $__interval $__range ${__to} $iv"),
            "rate(x{job=\"node\"}[1m]) 15s 1h 3600000 5m"
        );
        let fixed = [("job".to_string(), "other".to_string())];
        let repeated = Scope {
            fixed: &fixed,
            ..scope
        };
        assert_eq!(repeated.fill("$job"), "other");
    }

    #[test]
    fn firing_periods_are_runs_of_steps() {
        let s = api::MatrixSeries {
            metric: [("alertname".to_string(), "Hot".to_string())].into(),
            values: [10.0, 20.0, 30.0, 60.0, 70.0]
                .iter()
                .map(|t| (*t, "1".to_string()))
                .collect(),
        };
        assert_eq!(
            firing_periods(&[s], 10.0),
            [
                (10.0, 30.0, "Hot".to_string()),
                (60.0, 70.0, "Hot".to_string())
            ]
        );
    }

    #[test]
    fn sorts() {
        let mut o: Vec<(String, String)> = ["b10", "a2", "C1"]
            .iter()
            .map(|s| (s.to_string(), s.to_string()))
            .collect();
        sort_options(&mut o, 1);
        assert_eq!(o[0].0, "C1");
        sort_options(&mut o, 3);
        assert_eq!(
            o.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
            ["C1", "a2", "b10"]
        );
        sort_options(&mut o, 6);
        assert_eq!(o[0].0, "C1");
    }
}
