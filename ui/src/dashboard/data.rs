//! What a panel's queries return, in the two shapes panels draw: series
//! (time-series, stat, gauge, bar gauge) and tables (one frame per
//! query, joined and reshaped by Grafana's common transformations:
//! `merge`, `groupBy`, `calculateField`, `organize`, `filterFieldsByName`,
//! `sortBy`, `limit`, `reduce`). Also the reductions Grafana names
//! `lastNotNull`, `mean`, `max`, … for legends and single values.

use std::collections::BTreeMap;

use serde_json::Value;

/// One series of a query, its points in Unix seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub ref_id: String,
    /// The legend: the query's legend format filled in, or the label set.
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(f64, f64)>,
}

/// Grafana's reducers (`reduceOptions.calcs`, legend `calcs`) over the
/// values of a series, `None` when there is nothing to reduce.
pub fn reduce(calc: &str, points: &[(f64, f64)]) -> Option<f64> {
    let vals: Vec<f64> = points.iter().map(|p| p.1).collect();
    let not_null: Vec<f64> = vals.iter().copied().filter(|v| !v.is_nan()).collect();
    match calc {
        "last" => vals.last().copied(),
        "lastNotNull" => not_null.last().copied(),
        "first" => vals.first().copied(),
        "firstNotNull" => not_null.first().copied(),
        "min" => not_null.iter().copied().reduce(f64::min),
        "max" => not_null.iter().copied().reduce(f64::max),
        "mean" => {
            (!not_null.is_empty()).then(|| not_null.iter().sum::<f64>() / not_null.len() as f64)
        }
        "sum" => (!not_null.is_empty()).then(|| not_null.iter().sum()),
        "count" => Some(vals.len() as f64),
        "range" => Some(reduce("max", points)? - reduce("min", points)?),
        "delta" => {
            // Increases summed, counter resets read as a restart from zero.
            let mut d = 0.0;
            for w in not_null.windows(2) {
                d += if w[1] >= w[0] { w[1] - w[0] } else { w[1] };
            }
            (!not_null.is_empty()).then_some(d)
        }
        "diff" => Some(not_null.last()? - not_null.first()?),
        "median" => {
            let mut v = not_null.clone();
            v.sort_by(f64::total_cmp);
            (!v.is_empty()).then(|| v[v.len() / 2])
        }
        _ => reduce("lastNotNull", points),
    }
}

/// The display name of each reducer, as Grafana's legends head them.
pub fn calc_title(calc: &str) -> &str {
    match calc {
        "lastNotNull" => "Last *",
        "last" => "Last",
        "firstNotNull" => "First *",
        "first" => "First",
        "min" => "Min",
        "max" => "Max",
        "mean" => "Mean",
        "sum" => "Total",
        "count" => "Count",
        "range" => "Range",
        "delta" => "Delta",
        "diff" => "Difference",
        "median" => "Median",
        other => other,
    }
}

/// A table cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Num(f64),
    Text(String),
    Null,
}

impl Cell {
    pub fn num(&self) -> Option<f64> {
        match self {
            Cell::Num(n) => Some(*n),
            Cell::Text(t) => t.parse().ok(),
            Cell::Null => None,
        }
    }

    fn text(&self) -> String {
        match self {
            Cell::Num(n) => n.to_string(),
            Cell::Text(t) => t.clone(),
            Cell::Null => String::new(),
        }
    }
}

/// A table: named columns of equal length.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    pub names: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Frame {
    fn col(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// The frames of instant results as Grafana's `format: table` shapes
/// them: per query, a row per series with `Time`, the labels in order,
/// and `Value` — `Value #<refId>` when the panel has several queries.
pub fn table_frames(results: &[(String, Vec<Series>)]) -> Vec<Frame> {
    let several = results.len() > 1;
    results
        .iter()
        .map(|(ref_id, series)| {
            let mut labels: Vec<String> = Vec::new();
            for s in series {
                for k in s.labels.keys() {
                    if !labels.contains(k) {
                        labels.push(k.clone());
                    }
                }
            }
            labels.sort();
            let value = if several {
                format!("Value #{ref_id}")
            } else {
                "Value".to_string()
            };
            let mut names = vec!["Time".to_string()];
            names.extend(labels.iter().cloned());
            names.push(value);
            let rows = series
                .iter()
                .filter_map(|s| {
                    let (t, v) = *s.points.last()?;
                    let mut row = vec![Cell::Num(t * 1000.0)];
                    row.extend(labels.iter().map(|l| {
                        s.labels
                            .get(l)
                            .map_or(Cell::Null, |v| Cell::Text(v.clone()))
                    }));
                    row.push(Cell::Num(v));
                    Some(row)
                })
                .collect();
            Frame { names, rows }
        })
        .collect()
}

/// Applies Grafana's transformations in order; unknown ones are skipped
/// (and named in the returned list, for the panel to say so).
pub fn transform(mut frames: Vec<Frame>, transformations: &[Value]) -> (Vec<Frame>, Vec<String>) {
    let mut skipped = Vec::new();
    for t in transformations {
        if t.get("disabled").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let o = t.get("options").cloned().unwrap_or(Value::Null);
        let id = t.get("id").and_then(Value::as_str).unwrap_or("");
        frames = match id {
            "merge" | "seriesToColumns" | "joinByField" => vec![merge(&frames)],
            "groupBy" => frames.iter().map(|f| group_by(f, &o)).collect(),
            "calculateField" => frames.into_iter().map(|f| calculate(f, &o)).collect(),
            "organize" => frames.into_iter().map(|f| organize(f, &o)).collect(),
            "filterFieldsByName" => frames.into_iter().map(|f| filter_names(f, &o)).collect(),
            "sortBy" => frames.into_iter().map(|f| sort_by(f, &o)).collect(),
            "limit" => {
                let n = o.get("limitField").and_then(Value::as_u64).unwrap_or(10) as usize;
                frames
                    .into_iter()
                    .map(|mut f| {
                        f.rows.truncate(n);
                        f
                    })
                    .collect()
            }
            other => {
                skipped.push(other.to_string());
                frames
            }
        };
    }
    (frames, skipped)
}

/// Joins frames on the columns they share that are not values: rows with
/// the same labels become one row with every query's value.
fn merge(frames: &[Frame]) -> Frame {
    let mut out = Frame::default();
    for f in frames {
        for n in &f.names {
            if !out.names.contains(n) {
                out.names.push(n.clone());
            }
        }
    }
    let is_key = |n: &str| n != "Time" && !n.starts_with("Value");
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for f in frames {
        // Rows join on this frame's label columns, into a row that does
        // not have this frame's values yet.
        let cols = |key: bool| -> Vec<usize> {
            f.names
                .iter()
                .filter(|n| n.as_str() != "Time" && is_key(n) == key)
                .filter_map(|n| out.col(n))
                .collect()
        };
        let (keys, values) = (cols(true), cols(false));
        for r in &f.rows {
            let mut full = vec![Cell::Null; out.names.len()];
            for (i, n) in f.names.iter().enumerate() {
                full[out.col(n).unwrap_or(0)] = r[i].clone();
            }
            let same = rows.iter_mut().find(|existing| {
                !keys.is_empty()
                    && keys.iter().all(|&i| existing[i] == full[i])
                    && values.iter().all(|&i| existing[i] == Cell::Null)
            });
            match same {
                Some(existing) => {
                    for (i, c) in full.into_iter().enumerate() {
                        if c != Cell::Null {
                            existing[i] = c;
                        }
                    }
                }
                None => rows.push(full),
            }
        }
    }
    out.rows = rows;
    out
}

fn group_by(f: &Frame, o: &Value) -> Frame {
    let Some(Value::Object(fields)) = o.get("fields") else {
        return f.clone();
    };
    let mut keys = Vec::new();
    let mut aggs: Vec<(usize, String)> = Vec::new();
    let mut names = Vec::new();
    for (i, n) in f.names.iter().enumerate() {
        let Some(spec) = fields.get(n) else { continue };
        match spec.get("operation").and_then(Value::as_str) {
            Some("groupby") => {
                keys.push(i);
                names.push(n.clone());
            }
            Some("aggregate") => {
                for a in spec
                    .get("aggregations")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let a = a.as_str().unwrap_or("lastNotNull").to_string();
                    names.push(format!("{n} ({a})"));
                    aggs.push((i, a));
                }
            }
            _ => {}
        }
    }
    let mut groups: Vec<(Vec<Cell>, Vec<&Vec<Cell>>)> = Vec::new();
    for r in &f.rows {
        let key: Vec<Cell> = keys.iter().map(|&i| r[i].clone()).collect();
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => g.1.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let rows = groups
        .into_iter()
        .map(|(key, rs)| {
            let mut row = key;
            for (i, a) in &aggs {
                let pts: Vec<(f64, f64)> = rs
                    .iter()
                    .map(|r| (0.0, r[*i].num().unwrap_or(f64::NAN)))
                    .collect();
                row.push(reduce(a, &pts).map_or(Cell::Null, Cell::Num));
            }
            row
        })
        .collect();
    Frame { names, rows }
}

fn calculate(mut f: Frame, o: &Value) -> Frame {
    let mode = o.get("mode").and_then(Value::as_str).unwrap_or("reduceRow");
    let alias = o.get("alias").and_then(Value::as_str).map(str::to_string);
    let column: Vec<Cell> = match mode {
        "binary" => {
            let b = o.get("binary").cloned().unwrap_or(Value::Null);
            let side = |k: &str, row: &Vec<Cell>| -> Option<f64> {
                let name = b.get(k).and_then(|v| {
                    v.as_str().map(str::to_string).or_else(|| {
                        v.get("matcher")?
                            .get("options")?
                            .as_str()
                            .map(str::to_string)
                    })
                })?;
                match f.col(&name) {
                    Some(i) => row[i].num(),
                    None => name.parse().ok(),
                }
            };
            let op = b.get("operator").and_then(Value::as_str).unwrap_or("+");
            f.rows
                .iter()
                .map(|r| match (side("left", r), side("right", r)) {
                    (Some(l), Some(rv)) => Cell::Num(match op {
                        "-" => l - rv,
                        "*" => l * rv,
                        "/" => l / rv,
                        "%" => l % rv,
                        "^" => l.powf(rv),
                        _ => l + rv,
                    }),
                    _ => Cell::Null,
                })
                .collect()
        }
        _ => {
            // reduceRow: the reducer over the row's numeric values.
            let reducer = o
                .get("reduce")
                .and_then(|r| r.get("reducer"))
                .and_then(Value::as_str)
                .unwrap_or("sum");
            f.rows
                .iter()
                .map(|r| {
                    let pts: Vec<(f64, f64)> = f
                        .names
                        .iter()
                        .zip(r)
                        .filter(|(n, _)| n.as_str() != "Time")
                        .filter_map(|(_, c)| match c {
                            Cell::Num(v) => Some((0.0, *v)),
                            _ => None,
                        })
                        .collect();
                    reduce(reducer, &pts).map_or(Cell::Null, Cell::Num)
                })
                .collect()
        }
    };
    let name = alias.unwrap_or_else(|| "Total".into());
    if o.get("replaceFields").and_then(Value::as_bool) == Some(true) {
        return Frame {
            names: vec![name],
            rows: column.into_iter().map(|c| vec![c]).collect(),
        };
    }
    f.names.push(name);
    for (r, c) in f.rows.iter_mut().zip(column) {
        r.push(c);
    }
    f
}

fn organize(f: Frame, o: &Value) -> Frame {
    let excluded = |n: &str| {
        o.get("excludeByName")
            .and_then(|e| e.get(n))
            .and_then(Value::as_bool)
            == Some(true)
    };
    let index = |n: &str| {
        o.get("indexByName")
            .and_then(|e| e.get(n))
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX)
    };
    let mut order: Vec<usize> = (0..f.names.len())
        .filter(|&i| !excluded(&f.names[i]))
        .collect();
    order.sort_by_key(|&i| index(&f.names[i]));
    let rename = |n: &str| {
        o.get("renameByName")
            .and_then(|e| e.get(n))
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map_or(n.to_string(), str::to_string)
    };
    Frame {
        names: order.iter().map(|&i| rename(&f.names[i])).collect(),
        rows: f
            .rows
            .iter()
            .map(|r| order.iter().map(|&i| r[i].clone()).collect())
            .collect(),
    }
}

fn filter_names(f: Frame, o: &Value) -> Frame {
    let inc = o.get("include").cloned().unwrap_or(Value::Null);
    let names: Vec<String> = inc
        .get("names")
        .and_then(Value::as_array)
        .map(|n| {
            n.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let pattern = inc
        .get("pattern")
        .and_then(Value::as_str)
        .map(str::to_string);
    let keep: Vec<usize> = (0..f.names.len())
        .filter(|&i| {
            names.contains(&f.names[i])
                || pattern
                    .as_deref()
                    .is_some_and(|p| super::field::regex_matches(p, &f.names[i]))
        })
        .collect();
    if names.is_empty() && pattern.is_none() {
        return f;
    }
    Frame {
        names: keep.iter().map(|&i| f.names[i].clone()).collect(),
        rows: f
            .rows
            .iter()
            .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
            .collect(),
    }
}

fn sort_by(mut f: Frame, o: &Value) -> Frame {
    let Some(Value::Array(sorts)) = o.get("sort") else {
        return f;
    };
    for s in sorts.iter().rev() {
        let Some(i) = s
            .get("field")
            .and_then(Value::as_str)
            .and_then(|n| f.col(n))
        else {
            continue;
        };
        let desc = s.get("desc").and_then(Value::as_bool) == Some(true);
        f.rows.sort_by(|a, b| {
            let ord = match (a[i].num(), b[i].num()) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => a[i].text().cmp(&b[i].text()),
            };
            if desc {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn series(ref_id: &str, mount: &str, v: f64) -> Series {
        Series {
            ref_id: ref_id.into(),
            name: String::new(),
            labels: [("mountpoint".to_string(), mount.to_string())].into(),
            points: vec![(100.0, v)],
        }
    }

    /// kube-prometheus's "Disk Space Usage" table: two instant queries,
    /// groupBy, merge, two calculated fields, organize, sortBy.
    #[test]
    fn kube_prometheus_disk_table() {
        let frames = table_frames(&[
            (
                "A".into(),
                vec![series("A", "/", 100.0), series("A", "/boot", 10.0)],
            ),
            (
                "B".into(),
                vec![series("B", "/", 25.0), series("B", "/boot", 5.0)],
            ),
        ]);
        assert_eq!(frames[0].names, ["Time", "mountpoint", "Value #A"]);
        let ts: Value = json!([
            {"id": "groupBy", "options": {"fields": {
                "Value #A": {"aggregations": ["lastNotNull"], "operation": "aggregate"},
                "Value #B": {"aggregations": ["lastNotNull"], "operation": "aggregate"},
                "mountpoint": {"aggregations": [], "operation": "groupby"}}}},
            {"id": "merge"},
            {"id": "calculateField", "options": {"alias": "Used", "mode": "binary",
                "binary": {"left": "Value #A (lastNotNull)", "operator": "-", "right": "Value #B (lastNotNull)"}}},
            {"id": "calculateField", "options": {"alias": "Used, %", "mode": "binary",
                "binary": {"left": "Used", "operator": "/", "right": "Value #A (lastNotNull)"}}},
            {"id": "organize", "options": {"excludeByName": {}, "indexByName": {}, "renameByName": {
                "Value #A (lastNotNull)": "Size", "Value #B (lastNotNull)": "Available", "mountpoint": "Mounted on"}}},
            {"id": "sortBy", "options": {"sort": [{"field": "Mounted on", "desc": true}]}},
            {"id": "rowsToFields"}
        ]);
        let (out, skipped) = transform(frames, ts.as_array().unwrap());
        assert_eq!(skipped, ["rowsToFields"]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].names,
            ["Mounted on", "Size", "Available", "Used", "Used, %"]
        );
        assert_eq!(
            out[0].rows,
            vec![
                vec![
                    Cell::Text("/boot".into()),
                    Cell::Num(10.0),
                    Cell::Num(5.0),
                    Cell::Num(5.0),
                    Cell::Num(0.5)
                ],
                vec![
                    Cell::Text("/".into()),
                    Cell::Num(100.0),
                    Cell::Num(25.0),
                    Cell::Num(75.0),
                    Cell::Num(0.75)
                ],
            ]
        );
    }

    #[test]
    fn reducers() {
        let p = [(1.0, 3.0), (2.0, f64::NAN), (3.0, 1.0), (4.0, 5.0)];
        assert_eq!(reduce("lastNotNull", &p), Some(5.0));
        assert_eq!(reduce("mean", &p), Some(3.0));
        assert_eq!(reduce("max", &p), Some(5.0));
        assert_eq!(reduce("min", &p), Some(1.0));
        assert_eq!(reduce("delta", &p), Some(5.0));
        assert_eq!(reduce("range", &p), Some(4.0));
        assert_eq!(reduce("mean", &[]), None);
    }
}
