//! Edits of a dashboard's JSON document, as the editor makes them: find a
//! panel by id (at the top or inside a collapsed row), remove, duplicate,
//! move and resize it on the grid, add panels and rows. The document is
//! edited in place, so everything the editor does not know survives.

use serde_json::{json, Map, Value};

use super::model::Grid;

/// Every panel object of the document, rows' nested panels included.
fn all_panels(doc: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in doc
        .get("panels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push(p);
        for q in p
            .get("panels")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.push(q);
        }
    }
    out
}

/// The panel with `id`, wherever it is.
pub fn panel_mut(doc: &mut Value, id: i64) -> Option<&mut Value> {
    let panels = doc.get_mut("panels")?.as_array_mut()?;
    for p in panels.iter_mut() {
        if p.get("id").and_then(Value::as_i64) == Some(id) {
            return Some(p);
        }
        if let Some(inner) = p.get_mut("panels").and_then(Value::as_array_mut) {
            if let Some(q) = inner
                .iter_mut()
                .find(|q| q.get("id").and_then(Value::as_i64) == Some(id))
            {
                return Some(q);
            }
        }
    }
    None
}

pub fn panel(doc: &Value, id: i64) -> Option<Value> {
    all_panels(doc)
        .into_iter()
        .find(|p| p.get("id").and_then(Value::as_i64) == Some(id))
        .cloned()
}

/// One more than the largest panel id.
pub fn next_id(doc: &Value) -> i64 {
    all_panels(doc)
        .iter()
        .filter_map(|p| p.get("id").and_then(Value::as_i64))
        .max()
        .unwrap_or(0)
        + 1
}

/// The first grid row below every top-level panel.
fn bottom(doc: &Value) -> u64 {
    doc.get("panels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let g = &p["gridPos"];
            g["y"].as_u64().unwrap_or(0) + g["h"].as_u64().unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

fn panels_mut(doc: &mut Value) -> &mut Vec<Value> {
    if !doc.is_object() {
        *doc = json!({});
    }
    let obj = doc.as_object_mut().unwrap();
    let p = obj.entry("panels").or_insert_with(|| json!([]));
    if !p.is_array() {
        *p = json!([]);
    }
    p.as_array_mut().unwrap()
}

pub fn remove(doc: &mut Value, id: i64) {
    let is = |p: &Value| p.get("id").and_then(Value::as_i64) == Some(id);
    let panels = panels_mut(doc);
    panels.retain(|p| !is(p));
    for p in panels.iter_mut() {
        if let Some(inner) = p.get_mut("panels").and_then(Value::as_array_mut) {
            inner.retain(|q| !is(q));
        }
    }
}

/// A copy of the panel beside it (or below when there is no room), with a
/// new id; returns the id.
pub fn duplicate(doc: &mut Value, id: i64) -> Option<i64> {
    let mut copy = panel(doc, id)?;
    let new = next_id(doc);
    copy["id"] = json!(new);
    let g = copy["gridPos"].clone();
    let (x, w) = (g["x"].as_u64().unwrap_or(0), g["w"].as_u64().unwrap_or(12));
    if x + 2 * w <= 24 {
        copy["gridPos"]["x"] = json!(x + w);
    } else {
        copy["gridPos"]["y"] = json!(g["y"].as_u64().unwrap_or(0) + g["h"].as_u64().unwrap_or(8));
    }
    let panels = panels_mut(doc);
    // Beside its original: in the same row's list when nested.
    for p in panels.iter_mut() {
        if let Some(inner) = p.get_mut("panels").and_then(Value::as_array_mut) {
            if inner
                .iter()
                .any(|q| q.get("id").and_then(Value::as_i64) == Some(id))
            {
                inner.push(copy);
                return Some(new);
            }
        }
    }
    panels.push(copy);
    Some(new)
}

/// Sets the panel's grid position; `y` counts from its section's top,
/// `top` is where that section starts in the document.
pub fn set_grid(doc: &mut Value, id: i64, g: Grid, top: u32) {
    if let Some(p) = panel_mut(doc, id) {
        p["gridPos"] = json!({"x": g.x, "y": g.y + top, "w": g.w, "h": g.h});
    }
}

/// A new panel of `kind` at the bottom, with one empty query; its id.
pub fn add_panel(doc: &mut Value, kind: &str) -> i64 {
    let id = next_id(doc);
    let y = bottom(doc);
    let (w, h) = match kind {
        "stat" | "gauge" => (6, 4),
        _ => (12, 8),
    };
    panels_mut(doc).push(json!({
        "id": id,
        "type": kind,
        "title": "New panel",
        "gridPos": {"x": 0, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
        "targets": [{"refId": "A", "expr": ""}]
    }));
    id
}

pub fn add_row(doc: &mut Value, title: &str) -> i64 {
    let id = next_id(doc);
    let y = bottom(doc);
    panels_mut(doc).push(json!({
        "id": id, "type": "row", "title": title, "collapsed": false, "panels": [],
        "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}
    }));
    id
}

/// Sets `path` in `v` to `value` (creating objects on the way); `None`
/// removes the key.
pub fn set_path(v: &mut Value, path: &[&str], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for k in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        cur = cur
            .as_object_mut()
            .unwrap()
            .entry(k.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    let obj = cur.as_object_mut().unwrap();
    match value {
        Some(x) => {
            obj.insert(last.to_string(), x);
        }
        None => {
            obj.remove(*last);
        }
    }
}

/// The value at `path`, if any.
pub fn get_path<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(v, |cur, k| cur.get(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({"panels": [
            {"id": 1, "type": "stat", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}},
            {"id": 2, "type": "row", "collapsed": true, "gridPos": {"x": 0, "y": 4, "w": 24, "h": 1},
             "panels": [{"id": 7, "type": "timeseries", "gridPos": {"x": 0, "y": 5, "w": 24, "h": 8}}]}
        ], "unknown": {"kept": true}})
    }

    #[test]
    fn edits_keep_the_rest_of_the_document() {
        let mut d = doc();
        assert_eq!(next_id(&d), 8);
        assert_eq!(duplicate(&mut d, 1), Some(8));
        assert_eq!(d["panels"][2]["gridPos"]["x"], 6);
        assert_eq!(duplicate(&mut d, 7), Some(9));
        assert_eq!(
            d["panels"][1]["panels"][1]["gridPos"]["y"], 13,
            "no room beside: below"
        );
        set_grid(
            &mut d,
            7,
            Grid {
                x: 2,
                y: 1,
                w: 10,
                h: 6,
            },
            5,
        );
        assert_eq!(
            d["panels"][1]["panels"][0]["gridPos"],
            json!({"x": 2, "y": 6, "w": 10, "h": 6})
        );
        remove(&mut d, 9);
        assert_eq!(d["panels"][1]["panels"].as_array().unwrap().len(), 1);
        let id = add_panel(&mut d, "gauge");
        assert_eq!(id, 9, "ids are reused only after the largest");
        assert_eq!(panel(&d, 9).unwrap()["gridPos"]["y"], 5);
        let mut p = panel(&d, 9).unwrap();
        set_path(
            &mut p,
            &["fieldConfig", "defaults", "unit"],
            Some(json!("bytes")),
        );
        assert_eq!(
            get_path(&p, &["fieldConfig", "defaults", "unit"]),
            Some(&json!("bytes"))
        );
        set_path(&mut p, &["fieldConfig", "defaults", "unit"], None);
        assert_eq!(get_path(&p, &["fieldConfig", "defaults", "unit"]), None);
        assert_eq!(d["unknown"]["kept"], true);
    }
}
