//! Reading Prometheus's rule file format (`groups:` of recording and
//! alerting rules) into [`RuleFile`]s, strictly and with every error at
//! once, each as `file:line: group "g", rule N, "name": problem` in the
//! words Prometheus's `rulefmt` uses, so `pharos check rules` reads like
//! `promtool check rules`.
//!
//! Expressions are parsed here (a rule that does not parse is a file
//! error); templates in labels and annotations are parsed too, against the
//! functions Prometheus offers, because a broken template would otherwise
//! only show when the alert fires.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use pharos_agent::config::decode::{self, Ctx, MapReader};
use pharos_agent::config::yaml::Node;
use pharos_agent::config::{ConfigError, ConfigErrors};

/// One rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The file's name as given (what the API shows as `file`).
    pub name: String,
    pub groups: Vec<GroupSpec>,
}

/// One group as written.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    pub name: String,
    /// The file the group came from.
    pub file: String,
    /// `None`: the global `evaluation_interval`.
    pub interval: Option<Duration>,
    /// `None`: the global `rule_query_offset` (0).
    pub query_offset: Option<Duration>,
    /// Most series (recording) or alerts (alerting) a rule may produce;
    /// 0 is no limit.
    pub limit: u64,
    /// Labels added to every rule of the group (Prometheus 3).
    pub labels: BTreeMap<String, String>,
    pub rules: Vec<RuleSpec>,
}

/// One rule as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    pub kind: RuleKind,
    pub expr: String,
    pub labels: BTreeMap<String, String>,
    /// The rule's line in its file.
    pub line: usize,
}

/// Recording or alerting, with what only that kind has.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    Recording {
        record: String,
    },
    Alerting {
        alert: String,
        for_: Duration,
        keep_firing_for: Duration,
        annotations: BTreeMap<String, String>,
    },
}

impl RuleSpec {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Recording { record } => record,
            RuleKind::Alerting { alert, .. } => alert,
        }
    }
}

/// Reads and checks one rule file.
pub fn load_file(path: &Path) -> Result<RuleFile, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            line: None,
            message: format!("cannot read rule file: {e}"),
        }])
    })?;
    parse_str(&text, &name)
}

/// Parses rule file text; `name` is used in errors.
pub fn parse_str(text: &str, name: &str) -> Result<RuleFile, ConfigErrors> {
    let mut ctx = Ctx::new(name, Path::new(""));
    let root = pharos_agent::config::parse_tree(&mut ctx, text);
    let mut file = RuleFile {
        name: name.to_string(),
        groups: Vec::new(),
    };
    if let Some(root) = &root {
        decode_file(&mut ctx, root, &mut file);
    }
    if ctx.errors.is_empty() {
        Ok(file)
    } else {
        // In file order, whichever check found them.
        ctx.errors.sort_by_key(|e| e.line);
        Err(ConfigErrors(ctx.errors))
    }
}

fn decode_file(ctx: &mut Ctx, root: &Node, file: &mut RuleFile) {
    let Some(mut m) = MapReader::open(ctx, root, "rule file", "rulefmt.RuleGroups") else {
        return;
    };
    if let Some(groups) = m.value("groups") {
        for g in decode::seq(ctx, groups, "groups") {
            if let Some(group) = decode_group(ctx, g, &file.name) {
                if file.groups.iter().any(|o| o.name == group.name) {
                    ctx.err(
                        g.line,
                        format!("groupname: {:?} is repeated in the same file", group.name),
                    );
                    continue;
                }
                file.groups.push(group);
            }
        }
    }
    m.finish(ctx);
}

fn decode_group(ctx: &mut Ctx, n: &Node, file: &str) -> Option<GroupSpec> {
    let mut m = MapReader::open(ctx, n, "rule group", "rulefmt.RuleGroup")?;
    let name = m.string(ctx, "name").unwrap_or_default();
    if name.is_empty() {
        ctx.err(n.line, "Groupname must not be empty");
    }
    let mut group = GroupSpec {
        interval: m.duration(ctx, "interval"),
        query_offset: m.duration(ctx, "query_offset"),
        limit: m.u64(ctx, "limit").unwrap_or(0),
        labels: m.string_map(ctx, "labels"),
        name,
        file: file.to_string(),
        rules: Vec::new(),
    };
    if let Some(rules) = m.value("rules") {
        for (i, r) in decode::seq(ctx, rules, "rules").iter().enumerate() {
            if let Some(rule) = decode_rule(ctx, r, &group.name, i + 1) {
                group.rules.push(rule);
            }
        }
    }
    m.finish(ctx);
    Some(group)
}

fn decode_rule(ctx: &mut Ctx, n: &Node, group: &str, index: usize) -> Option<RuleSpec> {
    let mut m = MapReader::open(ctx, n, "rule", "rulefmt.Rule")?;
    let record = m.string(ctx, "record").unwrap_or_default();
    let alert = m.string(ctx, "alert").unwrap_or_default();
    let expr = m.string(ctx, "expr").unwrap_or_default();
    let for_ = m.has("for").then(|| m.duration(ctx, "for")).flatten();
    let keep_firing_for = m
        .has("keep_firing_for")
        .then(|| m.duration(ctx, "keep_firing_for"))
        .flatten();
    let labels = m.string_map(ctx, "labels");
    let annotations = m.string_map(ctx, "annotations");
    m.finish(ctx);

    let name = if record.is_empty() { &alert } else { &record };
    let mut problems = Vec::new();
    match (record.is_empty(), alert.is_empty()) {
        (false, false) => problems.push("only one of 'record' and 'alert' must be set".to_string()),
        (true, true) => problems.push("one of 'record' or 'alert' must be set".to_string()),
        _ => {}
    }
    if expr.trim().is_empty() {
        problems.push("field 'expr' must be set in rule".to_string());
    } else if let Err(e) = crate::promql::prepare::parse(&expr) {
        problems.push(format!("could not parse expression: {e}"));
    }
    if !record.is_empty() {
        if !annotations.is_empty() {
            problems.push("invalid field 'annotations' in recording rule".into());
        }
        if for_.is_some_and(|d| !d.is_zero()) {
            problems.push("invalid field 'for' in recording rule".into());
        }
        if keep_firing_for.is_some_and(|d| !d.is_zero()) {
            problems.push("invalid field 'keep_firing_for' in recording rule".into());
        }
        if record.contains(['{', '}']) {
            problems.push(format!(
                "braces present in the recording rule name; should it be in expr?: {record}"
            ));
        }
    }
    for k in labels.keys() {
        if k.is_empty() || k == "__name__" {
            problems.push(format!("invalid label name: {k}"));
        }
    }
    for k in annotations.keys() {
        if k.is_empty() {
            problems.push(format!("invalid annotation name: {k}"));
        }
    }
    if !alert.is_empty() {
        for (what, text) in labels.iter().chain(annotations.iter()) {
            if let Err(e) = super::alerting::check_template(&alert, text) {
                problems.push(format!("{what}: {e}"));
            }
        }
    }
    if !problems.is_empty() {
        for p in problems {
            ctx.err(
                n.line,
                format!("group {group:?}, rule {index}, {name:?}: {p}"),
            );
        }
        return None;
    }
    let kind = if record.is_empty() {
        RuleKind::Alerting {
            alert,
            for_: for_.unwrap_or_default(),
            keep_firing_for: keep_firing_for.unwrap_or_default(),
            annotations,
        }
    } else {
        RuleKind::Recording { record }
    };
    Some(RuleSpec {
        kind,
        expr,
        labels,
        line: n.line,
    })
}
