//! The text panel: Markdown (headings, paragraphs, lists, emphasis, code,
//! links, rules) rendered to HTML from escaped text, so a dashboard cannot
//! inject markup; `html` mode content is shown as text.

use leptos::prelude::*;
use serde_json::Value;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Inline Markdown over already escaped text: `code`, **bold**, *em*,
/// [links](url) with http(s), relative or fragment URLs only.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('`') {
            if let Some(end) = r.find('`') {
                out.push_str(&format!("<code>{}</code>", &r[..end]));
                rest = &r[end + 1..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix("**") {
            if let Some(end) = r.find("**") {
                out.push_str(&format!("<strong>{}</strong>", inline(&r[..end])));
                rest = &r[end + 2..];
                continue;
            }
        }
        if let Some(r) = rest.strip_prefix('*').or_else(|| rest.strip_prefix('_')) {
            let mark = &rest[..1];
            if let Some(end) = r.find(mark) {
                if end > 0 {
                    out.push_str(&format!("<em>{}</em>", inline(&r[..end])));
                    rest = &r[end + 1..];
                    continue;
                }
            }
        }
        if let Some(r) = rest.strip_prefix('[') {
            if let Some((text, after)) = r.split_once("](") {
                if let Some(end) = after.find(')') {
                    let url = &after[..end];
                    let safe = url.starts_with("http://")
                        || url.starts_with("https://")
                        || url.starts_with('/')
                        || url.starts_with('#')
                        || !url.contains(':');
                    if safe && !text.contains('[') {
                        out.push_str(&format!("<a href=\"{url}\">{}</a>", inline(text)));
                        rest = &after[end + 1..];
                        continue;
                    }
                }
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Markdown to HTML; every character of the input is escaped first.
pub fn markdown(src: &str) -> String {
    let mut html = String::new();
    let mut para: Vec<String> = Vec::new();
    let mut list: Option<&str> = None;
    let mut code = false;
    let flush = |html: &mut String, para: &mut Vec<String>| {
        if !para.is_empty() {
            html.push_str(&format!("<p>{}</p>", inline(&para.join(" "))));
            para.clear();
        }
    };
    for raw in src.lines() {
        let line = escape(raw);
        if line.trim_start().starts_with("```") {
            flush(&mut html, &mut para);
            html.push_str(if code { "</code></pre>" } else { "<pre><code>" });
            code = !code;
            continue;
        }
        if code {
            html.push_str(&line);
            html.push('\n');
            continue;
        }
        let t = line.trim();
        let item = t
            .strip_prefix("- ")
            .or_else(|| t.strip_prefix("* "))
            .map(|i| ("ul", i))
            .or_else(|| {
                let d = t.find(". ")?;
                t[..d]
                    .chars()
                    .all(|c| c.is_ascii_digit())
                    .then(|| ("ol", &t[d + 2..]))
            });
        if let Some((kind, text)) = item.filter(|(_, i)| !i.is_empty()) {
            flush(&mut html, &mut para);
            if list != Some(kind) {
                if let Some(k) = list {
                    html.push_str(&format!("</{k}>"));
                }
                html.push_str(&format!("<{kind}>"));
                list = Some(kind);
            }
            html.push_str(&format!("<li>{}</li>", inline(text)));
            continue;
        }
        if let Some(k) = list.take() {
            html.push_str(&format!("</{k}>"));
        }
        if t.is_empty() {
            flush(&mut html, &mut para);
        } else if t.starts_with('#') {
            flush(&mut html, &mut para);
            let level = t.chars().take_while(|c| *c == '#').count().min(6);
            html.push_str(&format!(
                "<h{level}>{}</h{level}>",
                inline(t[level..].trim())
            ));
        } else if t == "---" || t == "***" {
            flush(&mut html, &mut para);
            html.push_str("<hr>");
        } else {
            para.push(t.to_string());
        }
    }
    flush(&mut html, &mut para);
    if let Some(k) = list {
        html.push_str(&format!("</{k}>"));
    }
    if code {
        html.push_str("</code></pre>");
    }
    html
}

#[component]
pub fn Text(options: Value, fill: std::rc::Rc<dyn Fn(&str) -> String>) -> impl IntoView {
    let content = fill(options.get("content").and_then(Value::as_str).unwrap_or(""));
    let mode = options
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("markdown");
    let html = if mode == "markdown" {
        markdown(&content)
    } else {
        format!("<pre>{}</pre>", escape(&content))
    };
    view! { <div class="text-panel" inner_html=html></div> }
}

#[cfg(test)]
mod tests {
    #[test]
    fn markdown_is_escaped_and_rendered() {
        let h = super::markdown("# Title\n\nSome **bold** and `code`, [a link](https://x.io).\n\n- one\n- two\n\n<script>alert(1)</script> [bad](javascript:alert(1))");
        assert!(h.starts_with("<h1>Title</h1><p>Some <strong>bold</strong> and <code>code</code>, <a href=\"https://x.io\">a link</a>.</p><ul><li>one</li><li>two</li></ul>"), "{h}");
        assert!(h.contains("&lt;script&gt;"), "{h}");
        assert!(!h.contains("href=\"javascript"), "{h}");
    }
}
