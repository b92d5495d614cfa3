//! Silences, as Alertmanager's UI has them: the list (active, pending,
//! expired) with each silence's matchers, author, comment and time span,
//! expire and edit; and the editor (`/silences/new`, prefilled from an
//! alert with `?filter={alertname="…",…}`, or `?id=` to edit) whose
//! matcher rows preview the alerts the silence would mute, live, before it
//! is created. All through the Alertmanager API v2.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::{json, Value};

use super::targets::ago;
use crate::api;

/// One matcher of a silence.
#[derive(Clone, Debug, PartialEq)]
pub struct Matcher {
    pub name: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: String,
    pub value: String,
}

impl Matcher {
    /// As Alertmanager's filters and UI write it: `name=~"value"`.
    pub fn text(&self) -> String {
        let v = self.value.replace('\\', "\\\\").replace('"', "\\\"");
        format!("{}{}\"{v}\"", self.name, self.op)
    }

    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "value": self.value,
            "isRegex": self.op.ends_with('~'),
            "isEqual": !self.op.starts_with('!'),
        })
    }

    fn from_json(m: &Value) -> Matcher {
        let regex = m["isRegex"].as_bool().unwrap_or(false);
        let equal = m["isEqual"].as_bool().unwrap_or(true);
        Matcher {
            name: m["name"].as_str().unwrap_or("").to_string(),
            op: match (equal, regex) {
                (true, false) => "=",
                (false, false) => "!=",
                (true, true) => "=~",
                (false, true) => "!~",
            }
            .to_string(),
            value: m["value"].as_str().unwrap_or("").to_string(),
        }
    }
}

/// Reads `{a="b", c=~"d"}` (the braces optional) into matchers; `None`
/// when it is not a list of matchers.
pub fn parse_matchers(s: &str) -> Option<Vec<Matcher>> {
    let s = s.trim();
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let name_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
        let name = rest[..name_end].trim().to_string();
        rest = rest[name_end..].trim_start();
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| rest.starts_with(op))?;
        rest = rest[op.len()..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => break i,
                c => value.push(c),
            }
        };
        rest = rest[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
        if name.is_empty() {
            return None;
        }
        out.push(Matcher {
            name,
            op: op.to_string(),
            value,
        });
    }
    Some(out)
}

fn text(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

#[component]
pub fn Silences() -> impl IntoView {
    let (tick, set_tick) = signal(0u64);
    let list = LocalResource::new(move || {
        tick.track();
        async move { api::json("GET", "api/v2/silences", None).await }
    });
    let base = super::base_path();
    let expire = move |id: String| {
        leptos::task::spawn_local(async move {
            let _ = api::json("DELETE", &format!("api/v2/silence/{id}"), None).await;
            set_tick.update(|n| *n += 1);
        });
    };
    view! {
        <div class="dashboard-header">
            <h1>"Silences"</h1>
            <a class="button" href=format!("{base}/silences/new")>"New silence"</a>
        </div>
        <Transition fallback=|| view! { <p class="hint">"Loading…"</p> }>
            {move || list.get().map(|r| match r {
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                Ok(v) => {
                    let all = v.as_array().cloned().unwrap_or_default();
                    let base = base.clone();
                    ["active", "pending", "expired"].into_iter().map(|state| {
                        let mut these: Vec<Value> = all.iter().filter(|s| s["status"]["state"] == state).cloned().collect();
                        these.sort_by_key(|s| std::cmp::Reverse(text(s, "endsAt")));
                        let base = base.clone();
                        view! {
                            <section class="panel silences" data-state=state>
                                <h3 class="panel-title">{format!("{} ({})", state[..1].to_ascii_uppercase() + &state[1..], these.len())}</h3>
                                <table class="result">
                                    <tbody>
                                        {these.into_iter().map(|s| {
                                            let id = text(&s, "id");
                                            let matchers: Vec<String> = s["matchers"].as_array().into_iter().flatten().map(|m| Matcher::from_json(m).text()).collect();
                                            let ends = text(&s, "endsAt");
                                            let when = if state == "expired" { format!("expired {}", ago(&ends)) } else { format!("ends {}", ends.replace('T', " ")) };
                                            let id2 = id.clone();
                                            view! {
                                                <tr data-silence=id.clone()>
                                                    <td class="series">{matchers.into_iter().map(|m| view! { <span class="matcher">{m}</span> }).collect_view()}</td>
                                                    <td>{text(&s, "createdBy")}</td>
                                                    <td>{text(&s, "comment")}</td>
                                                    <td class="value">{when}</td>
                                                    <td class="value">
                                                        <a class="button" href=format!("{base}/silences/new?id={id}")>{if state == "expired" { "Recreate" } else { "Edit" }}</a>
                                                        {(state != "expired").then(|| view! { <button class="icon expire" on:click=move |_| expire(id2.clone())>"Expire"</button> })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                        }
                    }).collect_view().into_any()
                }
            })}
        </Transition>
    }
}

/// Durations offered for a new silence.
const DURATIONS: &[(&str, f64)] = &[
    ("1h", 3600.0),
    ("2h", 7200.0),
    ("4h", 14400.0),
    ("1d", 86400.0),
    ("1w", 604800.0),
];

fn iso(secs: f64) -> String {
    String::from(js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(secs * 1000.0)).to_iso_string())
}

#[component]
pub fn SilenceEditor() -> impl IntoView {
    let q = use_query_map().get_untracked();
    let matchers = RwSignal::new(
        q.get("filter")
            .and_then(|f| parse_matchers(&f))
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| {
                vec![Matcher {
                    name: "alertname".into(),
                    op: "=".into(),
                    value: String::new(),
                }]
            }),
    );
    let editing = q.get("id");
    let (creator, set_creator) = signal(String::new());
    let (comment, set_comment) = signal(String::new());
    let (hours, set_hours) = signal(2.0 * 3600.0);
    let (status, set_status) = signal(None::<Result<String, String>>);
    // Editing: the silence's matchers, author and comment.
    if let Some(id) = editing.clone() {
        leptos::task::spawn_local(async move {
            if let Ok(s) = api::json("GET", &format!("api/v2/silence/{id}"), None).await {
                matchers.set(
                    s["matchers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(Matcher::from_json)
                        .collect(),
                );
                set_creator.set(text(&s, "createdBy"));
                set_comment.set(text(&s, "comment"));
            }
        });
    }
    let preview = LocalResource::new(move || {
        let ms = matchers.get();
        async move {
            let ms: Vec<Matcher> = ms.into_iter().filter(|m| !m.name.is_empty()).collect();
            if ms.is_empty() {
                return Ok(Value::Array(Vec::new()));
            }
            let filters: Vec<String> = ms
                .iter()
                .map(|m| format!("filter={}", js_sys::encode_uri_component(&m.text())))
                .collect();
            api::json("GET", &format!("api/v2/alerts?{}", filters.join("&")), None).await
        }
    });
    let submit = move |_| {
        let ms: Vec<Matcher> = matchers
            .get_untracked()
            .into_iter()
            .filter(|m| !m.name.trim().is_empty())
            .collect();
        if ms.is_empty() {
            set_status.set(Some(Err("A silence needs at least one matcher.".into())));
            return;
        }
        if creator.get_untracked().trim().is_empty() || comment.get_untracked().trim().is_empty() {
            set_status.set(Some(Err(
                "Say who creates the silence and why (Alertmanager requires both).".into(),
            )));
            return;
        }
        let now = api::now();
        let mut body = json!({
            "matchers": ms.iter().map(Matcher::json).collect::<Vec<_>>(),
            "startsAt": iso(now),
            "endsAt": iso(now + hours.get_untracked()),
            "createdBy": creator.get_untracked(),
            "comment": comment.get_untracked(),
        });
        if let Some(id) = &editing {
            body["id"] = json!(id);
        }
        leptos::task::spawn_local(async move {
            match api::json("POST", "api/v2/silences", Some(&body)).await {
                Ok(r) => {
                    set_status.set(Some(Ok(format!(
                        "Silence {} created",
                        text(&r, "silenceID")
                    ))));
                    if let Some(w) = web_sys::window() {
                        let _ = w
                            .location()
                            .set_href(&format!("{}/silences", super::base_path()));
                    }
                }
                Err(e) => set_status.set(Some(Err(e))),
            }
        });
    };
    let rows = move || {
        matchers
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let set = move |f: &dyn Fn(&mut Matcher)| matchers.update(|ms| if let Some(x) = ms.get_mut(i) { f(x) });
                view! {
                    <div class="matcher-row">
                        <input class="m-name" placeholder="label" prop:value=m.name.clone()
                            on:change=move |ev| { let v = event_target_value(&ev); set(&|x| x.name = v.clone()) } />
                        <select class="m-op" on:change=move |ev| { let v = event_target_value(&ev); set(&|x| x.op = v.clone()) }>
                            {["=", "!=", "=~", "!~"].map(|op| view! { <option value=op selected=m.op == op>{op}</option> }).collect_view()}
                        </select>
                        <input class="m-value" placeholder="value" prop:value=m.value.clone()
                            on:change=move |ev| { let v = event_target_value(&ev); set(&|x| x.value = v.clone()) } />
                        <button class="icon" title="Remove matcher" on:click=move |_| matchers.update(|ms| { if i < ms.len() { ms.remove(i); } })>"✕"</button>
                    </div>
                }
            })
            .collect_view()
    };
    view! {
        <div class="dashboard-header"><h1>{if q.get("id").is_some() { "Edit silence" } else { "New silence" }}</h1></div>
        <section class="panel silence-editor">
            <div class="field">
                <span>"Matchers (alerts matching all of them are silenced)"</span>
                {rows}
                <button class="icon" on:click=move |_| matchers.update(|ms| ms.push(Matcher { name: String::new(), op: "=".into(), value: String::new() }))>"Add matcher"</button>
            </div>
            <label class="field">
                <span>"Duration"</span>
                <select on:change=move |ev| set_hours.set(DURATIONS.iter().find(|d| d.0 == event_target_value(&ev)).map_or(7200.0, |d| d.1))>
                    {DURATIONS.iter().map(|(l, s)| view! { <option value=*l selected=*s == 7200.0>{*l}</option> }).collect_view()}
                </select>
            </label>
            <label class="field"><span>"Creator"</span>
                <input class="creator" prop:value=move || creator.get() on:change=move |ev| set_creator.set(event_target_value(&ev)) /></label>
            <label class="field"><span>"Comment"</span>
                <textarea class="comment" rows="2" prop:value=move || comment.get() on:change=move |ev| set_comment.set(event_target_value(&ev))></textarea></label>
            <div class="actions"><button class="run create" on:click=submit>{if q.get("id").is_some() { "Update" } else { "Create" }}</button></div>
            {move || status.get().map(|s| match s {
                Ok(m) => view! { <p class="hint">{m}</p> }.into_any(),
                Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
            })}
        </section>
        <section class="panel preview-alerts">
            <h3 class="panel-title">"Affected alerts"</h3>
            <Transition fallback=|| view! { <p class="hint">"…"</p> }>
                {move || preview.get().map(|r| match r {
                    Err(e) => view! { <p class="panel-error">{e}</p> }.into_any(),
                    Ok(v) => {
                        let alerts = v.as_array().cloned().unwrap_or_default();
                        let n = alerts.len();
                        view! {
                            <p class="affected" data-count=n.to_string()>{format!("{n} alert{} would be silenced", if n == 1 { "" } else { "s" })}</p>
                            <table class="result"><tbody>
                                {alerts.into_iter().take(100).map(|a| {
                                    let labels = a["labels"].as_object().map(|o| o.iter().map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(", ")).unwrap_or_default();
                                    view! { <tr><td class="series">{labels}</td><td>{a["status"]["state"].as_str().unwrap_or("").to_string()}</td></tr> }
                                }).collect_view()}
                            </tbody></table>
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_and_written() {
        let ms = parse_matchers(r#"{alertname="High \"CPU\"", severity=~"page|crit",env!="dev"}"#)
            .unwrap();
        assert_eq!(ms.len(), 3);
        assert_eq!(ms[0].value, "High \"CPU\"");
        assert_eq!(ms[1].op, "=~");
        assert_eq!(ms[2].text(), r#"env!="dev""#);
        assert_eq!(ms[0].text(), r#"alertname="High \"CPU\"""#);
        assert_eq!(
            ms[1].json(),
            json!({"name": "severity", "value": "page|crit", "isRegex": true, "isEqual": true})
        );
        assert_eq!(Matcher::from_json(&ms[2].json()), ms[2]);
        assert!(parse_matchers("{broken").is_none());
        assert_eq!(parse_matchers("{}"), Some(vec![]));
    }
}
