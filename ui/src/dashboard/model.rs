//! A Grafana dashboard's JSON read into what the renderer needs: the
//! panels cut into sections at their rows (a collapsed row carries its
//! panels inside it, an open row owns the panels after it), each panel's
//! queries, field configuration and overrides. The JSON itself stays the
//! source of truth — saving writes back the document that was loaded —
//! so fields this reader skips survive a round trip.

use serde_json::Value;

use super::field::{apply, Field, Matcher, Override};

/// A panel's place on Grafana's 24-column grid, in grid units (a unit of
/// height is 30 px).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Grid {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// The visualisations this UI draws (Grafana's plugin ids; the legacy
/// `graph` and `singlestat` read as their successors).
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    TimeSeries,
    Stat,
    Gauge,
    BarGauge,
    Table,
    Text,
    Heatmap,
    /// pharos's SLO panel (`pharos-slo-panel`).
    Slo,
    Other(String),
}

/// One PromQL query of a panel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Target {
    pub ref_id: String,
    pub expr: String,
    pub legend: String,
    /// Evaluated once at the end of the range (`instant: true`, or
    /// `format: table` without `range: true`).
    pub instant: bool,
    pub hide: bool,
    /// The target's minimum step (`interval`, e.g. `1m` or `$inter`).
    pub interval: String,
    pub format: String,
    /// Exemplars asked for (`exemplar: true`): drawn on the graph.
    pub exemplar: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    pub id: i64,
    pub kind: Kind,
    pub title: String,
    pub description: String,
    pub grid: Grid,
    pub targets: Vec<Target>,
    pub defaults: Field,
    pub overrides: Vec<Override>,
    /// The panel's `options` (legend, reduce calculations, orientation,
    /// text content…), read by each visualisation.
    pub options: Value,
    pub transformations: Vec<Value>,
    /// The panel's minimum interval (`interval`).
    pub interval: String,
    pub max_data_points: Option<f64>,
    /// Repeated for each value of this variable.
    pub repeat: Option<String>,
    /// `h`: side by side; `v`: one under the other.
    pub repeat_direction: char,
    pub max_per_row: Option<u32>,
    pub links: Vec<Link>,
}

/// A panel link or data link: a title and a URL template.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub title: String,
    pub url: String,
    pub blank: bool,
}

/// A row header.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub title: String,
    pub collapsed: bool,
    pub repeat: Option<String>,
}

/// A row and its panels (the panels before the first row have no row),
/// their `y` made relative to the top of the section.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub row: Option<Row>,
    pub panels: Vec<Panel>,
    /// The document's grid row where the section's panels start.
    pub top: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    pub uid: String,
    pub title: String,
    pub tags: Vec<String>,
    pub from: String,
    pub to: String,
    pub refresh: String,
    /// 0: each panel its own crosshair; 1: shared crosshair; 2: shared
    /// crosshair and tooltip.
    pub graph_tooltip: u64,
    pub sections: Vec<Section>,
}

fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn u(v: &Value, key: &str) -> u32 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0) as u32
}

fn opt_s(v: &Value, key: &str) -> Option<String> {
    Some(s(v, key)).filter(|s| !s.is_empty())
}

impl Dashboard {
    /// Reads a dashboard document (the `dashboard` of Grafana's API
    /// answers, or an exported file).
    pub fn parse(doc: &Value) -> Result<Dashboard, String> {
        if !doc.is_object() {
            return Err("a dashboard must be a JSON object".into());
        }
        let time = doc.get("time").cloned().unwrap_or(Value::Null);
        let mut panels: Vec<&Value> = Vec::new();
        if let Some(Value::Array(ps)) = doc.get("panels") {
            panels.extend(ps.iter());
        }
        Ok(Dashboard {
            uid: s(doc, "uid"),
            title: s(doc, "title"),
            tags: doc
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            from: opt_s(&time, "from").unwrap_or_else(|| "now-6h".into()),
            to: opt_s(&time, "to").unwrap_or_else(|| "now".into()),
            refresh: s(doc, "refresh"),
            graph_tooltip: doc.get("graphTooltip").and_then(Value::as_u64).unwrap_or(0),
            sections: sections(&panels, doc.get("rows")),
        })
    }

    /// Every panel of every section.
    pub fn panels(&self) -> impl Iterator<Item = &Panel> {
        self.sections.iter().flat_map(|s| s.panels.iter())
    }
}

/// Cuts the top-level panels into sections at each row, sorted by grid
/// position as Grafana lays them out. Schema-1 dashboards (`rows` with
/// `panels` and a height, before Grafana 5) become one section per row.
fn sections(panels: &[&Value], old_rows: Option<&Value>) -> Vec<Section> {
    let mut sorted: Vec<&Value> = panels.to_vec();
    let pos = |p: &Value| {
        let g = p.get("gridPos").cloned().unwrap_or(Value::Null);
        (u(&g, "y"), u(&g, "x"))
    };
    sorted.sort_by_key(|p| pos(p));
    let mut out: Vec<Section> = Vec::new();
    let mut current = Section {
        row: None,
        panels: Vec::new(),
        top: 0,
    };
    let mut top = 0;
    for p in sorted {
        if s(p, "type") == "row" {
            if current.row.is_some() || !current.panels.is_empty() {
                out.push(current);
            }
            let row_y = pos(p).0;
            let collapsed = p.get("collapsed").and_then(Value::as_bool).unwrap_or(false);
            let mut inner: Vec<Panel> = Vec::new();
            if let Some(Value::Array(ps)) = p.get("panels") {
                // Collapsed rows keep their panels' absolute positions
                // from when they were last open: below the row.
                inner = ps.iter().filter_map(|q| panel(q, row_y + 1)).collect();
                inner.sort_by_key(|q| (q.grid.y, q.grid.x));
            }
            current = Section {
                row: Some(Row {
                    title: s(p, "title"),
                    collapsed,
                    repeat: opt_s(p, "repeat"),
                }),
                panels: inner,
                top: row_y + 1,
            };
            top = row_y + 1;
            continue;
        }
        if let Some(q) = panel(p, top) {
            current.panels.push(q);
        }
    }
    if current.row.is_some() || !current.panels.is_empty() {
        out.push(current);
    }
    if let Some(Value::Array(rows)) = old_rows {
        for r in rows {
            let mut x = 0;
            let h = r
                .get("height")
                .and_then(|h| {
                    h.as_u64()
                        .or_else(|| h.as_str()?.trim_end_matches("px").parse().ok())
                })
                .map_or(8, |px| ((px as f64) / 30.0).ceil().max(3.0) as u32);
            let mut ps = Vec::new();
            for p in r
                .get("panels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let w = p
                    .get("span")
                    .and_then(Value::as_f64)
                    .map_or(12, |s| (s * 2.0).round() as u32)
                    .clamp(1, 24);
                if x + w > 24 {
                    x = 0;
                }
                let mut q = p.clone();
                q["gridPos"] = serde_json::json!({"x": x, "y": 0, "w": w, "h": h});
                if let Some(panel) = panel(&q, 0) {
                    ps.push(panel);
                }
                x += w;
            }
            let title = s(r, "title");
            out.push(Section {
                row: Some(Row {
                    title,
                    collapsed: r.get("collapse").and_then(Value::as_bool).unwrap_or(false),
                    repeat: opt_s(r, "repeat"),
                }),
                panels: ps,
                top: 0,
            });
        }
    }
    out
}

/// One panel of a document on its own (the panel editor's preview).
pub fn parse_panel(p: &Value) -> Option<Panel> {
    let y = p.get("gridPos").map_or(0, |g| u(g, "y"));
    panel(p, y)
}

/// One panel, its `y` counted from `top`; `None` for rows.
fn panel(p: &Value, top: u32) -> Option<Panel> {
    let g = p.get("gridPos").cloned().unwrap_or(Value::Null);
    let kind = match s(p, "type").as_str() {
        "row" => return None,
        "timeseries" | "graph" | "trend" => Kind::TimeSeries,
        "stat" | "singlestat" => Kind::Stat,
        "gauge" => Kind::Gauge,
        "bargauge" => Kind::BarGauge,
        "table" | "table-old" => Kind::Table,
        "text" => Kind::Text,
        "heatmap" => Kind::Heatmap,
        "pharos-slo-panel" => Kind::Slo,
        other => Kind::Other(other.to_string()),
    };
    let mut defaults = Field::default();
    let fc = p.get("fieldConfig").cloned().unwrap_or(Value::Null);
    if let Some(Value::Object(d)) = fc.get("defaults") {
        for (k, v) in d {
            if k == "custom" {
                if let Value::Object(c) = v {
                    for (ck, cv) in c {
                        apply(&mut defaults, &format!("custom.{ck}"), cv);
                    }
                }
            } else {
                apply(&mut defaults, k, v);
            }
        }
    }
    legacy_field(p, &mut defaults);
    let overrides = fc
        .get("overrides")
        .and_then(Value::as_array)
        .map(|os| os.iter().map(override_of).collect())
        .unwrap_or_default();
    let targets = p
        .get("targets")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter(|t| t.get("expr").is_some())
                .map(|t| {
                    let format = s(t, "format");
                    let flag = |k: &str| t.get(k).and_then(Value::as_bool);
                    let instant = match (flag("instant"), flag("range")) {
                        (_, Some(true)) => false,
                        (Some(i), _) => i,
                        (None, _) => format == "table" && flag("range") != Some(true),
                    };
                    Target {
                        ref_id: s(t, "refId"),
                        expr: s(t, "expr"),
                        legend: s(t, "legendFormat"),
                        instant,
                        hide: flag("hide").unwrap_or(false),
                        interval: s(t, "interval"),
                        format,
                        exemplar: flag("exemplar").unwrap_or(false),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    // Queries without a refId are A, B, C… in Grafana.
    let mut targets: Vec<Target> = targets;
    for (i, t) in targets.iter_mut().enumerate() {
        if t.ref_id.is_empty() {
            t.ref_id = ((b'A' + (i % 26) as u8) as char).to_string();
        }
    }
    let mut links: Vec<Link> = Vec::new();
    for l in p
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        links.push(Link {
            title: s(l, "title"),
            url: s(l, "url"),
            blank: l
                .get("targetBlank")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        });
    }
    let mut options = p.get("options").cloned().unwrap_or(Value::Null);
    if matches!(kind, Kind::Text) && options.get("content").is_none() {
        // Text panels before Grafana 7 kept their content at the top.
        options = serde_json::json!({"content": s(p, "content"), "mode": s(p, "mode")});
    }
    Some(Panel {
        id: p.get("id").and_then(Value::as_i64).unwrap_or(0),
        kind,
        title: s(p, "title"),
        description: s(p, "description"),
        grid: Grid {
            x: u(&g, "x").min(23),
            y: u(&g, "y").saturating_sub(top),
            w: u(&g, "w").clamp(1, 24),
            h: u(&g, "h").max(1),
        },
        targets,
        defaults,
        overrides,
        options,
        transformations: p
            .get("transformations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        interval: s(p, "interval"),
        max_data_points: p.get("maxDataPoints").and_then(Value::as_f64),
        repeat: opt_s(p, "repeat"),
        repeat_direction: if s(p, "repeatDirection") == "v" {
            'v'
        } else {
            'h'
        },
        max_per_row: p
            .get("maxPerRow")
            .and_then(Value::as_u64)
            .map(|n| n.max(1) as u32),
        links,
    })
}

/// The unit and y-axis bounds of pre-7 `graph` and `singlestat` panels
/// (`yaxes[0].format`, `format`), read when the field config has none.
fn legacy_field(p: &Value, f: &mut Field) {
    if f.unit.is_none() {
        let unit = p
            .get("yaxes")
            .and_then(|y| y.get(0))
            .map(|y| s(y, "format"))
            .or_else(|| opt_s(p, "format"));
        if let Some(unit) = unit.filter(|u| !u.is_empty()) {
            f.unit = Some(unit);
        }
    }
}

fn override_of(o: &Value) -> Override {
    let m = o.get("matcher").cloned().unwrap_or(Value::Null);
    let opt = m.get("options").cloned().unwrap_or(Value::Null);
    let matcher = match s(&m, "id").as_str() {
        "byName" => Matcher::Name(opt.as_str().unwrap_or("").to_string()),
        "byRegexp" => Matcher::Regexp(opt.as_str().unwrap_or("").to_string()),
        "byFrameRefID" => Matcher::RefId(opt.as_str().unwrap_or("").to_string()),
        "byNames" => Matcher::Names(
            opt.get("names")
                .and_then(Value::as_array)
                .map(|n| {
                    n.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        ),
        _ => Matcher::Never,
    };
    let properties = o
        .get("properties")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| (s(p, "id"), p.get("value").cloned().unwrap_or(Value::Null)))
                .collect()
        })
        .unwrap_or_default();
    Override {
        matcher,
        properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_exporter_full() -> Value {
        serde_json::from_str(include_str!(
            "../../../agent/tests/testdata/dashboards/node-exporter-full.json"
        ))
        .unwrap()
    }

    #[test]
    fn rows_cut_the_dashboard_into_sections() {
        let d = Dashboard::parse(&node_exporter_full()).unwrap();
        assert_eq!(d.title, "Node Exporter Full");
        assert_eq!(d.from, "now-24h");
        assert_eq!(d.graph_tooltip, 1);
        let rows: Vec<(&str, bool, usize)> = d
            .sections
            .iter()
            .map(|s| {
                let r = s.row.as_ref().unwrap();
                (r.title.as_str(), r.collapsed, s.panels.len())
            })
            .collect();
        assert_eq!(rows[0], ("Quick CPU / Mem / Disk", false, 11));
        assert_eq!(rows[2], ("CPU / Memory / Net / Disk", true, 10));
        assert_eq!(rows.len(), 16);
        // Every panel but the rows: 141 in all, 16 of them rows.
        assert_eq!(d.panels().count(), 125);
        // The first open row's panels start at its top.
        let first = &d.sections[0].panels;
        assert_eq!(first.iter().map(|p| p.grid.y).min(), Some(0));
        let pressure = first.iter().find(|p| p.title == "Pressure").unwrap();
        assert_eq!(pressure.kind, Kind::BarGauge);
        assert_eq!(pressure.targets.len(), 4);
        assert!(pressure.targets[0].instant);
        assert_eq!(pressure.defaults.unit.as_deref(), Some("percentunit"));
        assert_eq!(pressure.defaults.decimals, Some(1));
        // Collapsed rows' panels are placed relative to the row.
        let cpu = &d.sections[2].panels;
        assert_eq!(cpu.iter().map(|p| p.grid.y).min(), Some(0));
    }

    #[test]
    fn schema_one_rows_become_sections() {
        let doc = serde_json::json!({
            "title": "old",
            "rows": [{"title": "r", "height": "250px", "panels": [
                {"type": "graph", "span": 6, "targets": [{"expr": "up"}], "yaxes": [{"format": "bytes"}]},
                {"type": "singlestat", "span": 6, "format": "percent", "targets": [{"expr": "up"}]}
            ]}]
        });
        let d = Dashboard::parse(&doc).unwrap();
        let ps = &d.sections[0].panels;
        assert_eq!(ps[0].kind, Kind::TimeSeries);
        assert_eq!(
            ps[0].grid,
            Grid {
                x: 0,
                y: 0,
                w: 12,
                h: 9
            }
        );
        assert_eq!(ps[1].grid.x, 12);
        assert_eq!(ps[0].defaults.unit.as_deref(), Some("bytes"));
        assert_eq!(ps[1].defaults.unit.as_deref(), Some("percent"));
        assert!(Dashboard::parse(&serde_json::json!([1])).is_err());
    }
}
