//! Where targets come from: `static_configs` and `file_sd_configs`.
//!
//! Both produce target groups — a list of targets (each at least an
//! `__address__`) with labels shared by the group — identified by a
//! `source` string, so an update replaces exactly the groups it came from.
//!
//! File discovery reads JSON (`.json`) or YAML (`.yml`, `.yaml`) files in
//! Prometheus's format (`[{"targets": [...], "labels": {...}}]`); a pattern's
//! last path element may hold `*` and `?` wildcards. Files are re-read
//! when their modification time or size changes (checked every
//! [`FILE_POLL`]) and in any case every `refresh_interval`. A file that
//! cannot be read or parsed keeps the targets it last produced, as in
//! Prometheus: a half-written file must not drop every target. Each target
//! gets `__meta_filepath`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use crate::relabel::is_valid_label_name;

use super::target::{LabelSet, ADDRESS};

/// How often file modification times are checked.
/// (A few `stat` calls a second; Prometheus reacts at once through inotify.)
pub const FILE_POLL: Duration = Duration::from_secs(1);

/// A group of targets sharing labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Where the group came from (`static:0`, `path/to/file.json:2`).
    pub source: String,
    /// One label set per target, `__address__` included.
    pub targets: Vec<LabelSet>,
    /// Labels of every target in the group.
    pub labels: LabelSet,
}

impl Group {
    /// The discovered label sets of the group's targets: the group's
    /// labels overlaid with each target's own.
    pub fn expand(&self) -> impl Iterator<Item = LabelSet> + '_ {
        self.targets.iter().map(|own| {
            let mut labels = self.labels.clone();
            for (n, v) in own {
                match labels.iter_mut().find(|(ln, _)| ln == n) {
                    Some(slot) => slot.1 = v.clone(),
                    None => labels.push((n.clone(), v.clone())),
                }
            }
            labels
        })
    }
}

/// The on-disk shape of one group in a file_sd file (and of a
/// `static_configs` entry).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Turns configured or file-read groups into [`Group`]s, checking label
/// names. `extra` labels go on every group (`__meta_filepath`).
pub fn make_group(
    source: String,
    targets: &[String],
    labels: &BTreeMap<String, String>,
    extra: &[(&str, &str)],
) -> Result<Group, String> {
    let mut group_labels: LabelSet = Vec::with_capacity(labels.len() + extra.len());
    for (n, v) in labels {
        if !is_valid_label_name(n) {
            return Err(format!("{n:?} is not a valid label name"));
        }
        group_labels.push((n.clone(), v.clone()));
    }
    for (n, v) in extra {
        group_labels.push((n.to_string(), v.to_string()));
    }
    let targets = targets
        .iter()
        .map(|t| vec![(ADDRESS.to_string(), t.clone())])
        .collect();
    Ok(Group {
        source,
        targets,
        labels: group_labels,
    })
}

/// Parses a file_sd file's content.
pub fn parse_file(path: &Path, text: &str) -> Result<Vec<Group>, String> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let raw: Vec<RawGroup> = match ext {
        "json" => serde_json::from_str(text).map_err(|e| e.to_string())?,
        "yml" | "yaml" => yaml_groups(text)?,
        _ => {
            return Err(format!(
                "{}: unknown file type {ext:?}; file_sd reads .json, .yml and .yaml",
                path.display()
            ))
        }
    };
    let shown = path.display().to_string();
    raw.iter()
        .enumerate()
        .map(|(i, g)| {
            make_group(
                format!("{shown}:{i}"),
                &g.targets,
                &g.labels,
                &[("__meta_filepath", &shown)],
            )
            .map_err(|e| format!("{shown}: group {i}: {e}"))
        })
        .collect()
}

/// Reads the YAML spelling of a target group list.
fn yaml_groups(text: &str) -> Result<Vec<RawGroup>, String> {
    use crate::config::yaml::{parse, Kind, Node};
    let at = |n: &Node, what: &str| format!("line {}: {what}", n.line);
    let (root, _) = parse(text).map_err(|e| format!("line {}: {}", e.line, e.message))?;
    let Some(root) = root else {
        return Ok(Vec::new());
    };
    let Kind::Seq(items) = &root.kind else {
        return Err(at(&root, "expected a list of target groups"));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Kind::Map(entries) = &item.kind else {
            return Err(at(item, "expected a target group (targets:, labels:)"));
        };
        let mut g = RawGroup {
            targets: Vec::new(),
            labels: BTreeMap::new(),
        };
        for (k, v) in entries {
            match (k.as_str(), &v.kind) {
                (Some("targets"), Kind::Seq(ts)) => {
                    for t in ts {
                        let t = t
                            .as_str()
                            .ok_or_else(|| at(t, "a target must be a string"))?;
                        g.targets.push(t.to_string());
                    }
                }
                (Some("labels"), Kind::Map(ls)) => {
                    for (n, v) in ls {
                        match (n.as_str(), v.as_str()) {
                            (Some(n), Some(v)) => {
                                g.labels.insert(n.to_string(), v.to_string());
                            }
                            _ => return Err(at(n, "label names and values must be strings")),
                        }
                    }
                }
                (Some("targets" | "labels"), Kind::Null) => {}
                (Some("targets"), _) => return Err(at(v, "targets must be a list")),
                (Some("labels"), _) => return Err(at(v, "labels must be a mapping")),
                _ => {
                    return Err(at(
                        k,
                        "unknown key in a target group; expected targets and labels",
                    ))
                }
            }
        }
        out.push(g);
    }
    Ok(out)
}

/// Expands a pattern whose last element may hold `*` and `?`.
pub fn expand_pattern(pattern: &Path) -> Vec<PathBuf> {
    let name = pattern
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![pattern.to_path_buf()];
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| wildcard(name, n)))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// `*` matches any run of characters, `?` one character.
fn wildcard(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A file's modification time and size, to notice rewrites.
type Stamp = (SystemTime, u64);

/// The state of one `file_sd_configs` entry.
pub struct FileSd {
    patterns: Vec<PathBuf>,
    refresh: Duration,
    last_full: Option<Instant>,
    /// Per file: what it looked like when last read, and its groups.
    files: BTreeMap<PathBuf, (Option<Stamp>, Vec<Group>)>,
}

impl FileSd {
    pub fn new(patterns: Vec<PathBuf>, refresh: Duration) -> Self {
        FileSd {
            patterns,
            refresh,
            last_full: None,
            files: BTreeMap::new(),
        }
    }

    /// Re-reads files that changed (all of them when the refresh interval
    /// has passed). Returns the complete group list if anything changed.
    pub fn poll(&mut self) -> Option<Vec<Group>> {
        let full = self.last_full.is_none_or(|t| t.elapsed() >= self.refresh);
        if full {
            self.last_full = Some(Instant::now());
        }
        let mut seen: Vec<PathBuf> = Vec::new();
        let mut changed = false;
        for pattern in &self.patterns {
            for path in expand_pattern(pattern) {
                let stamp = std::fs::metadata(&path)
                    .ok()
                    .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
                let known = self.files.get(&path);
                seen.push(path.clone());
                if !full && known.is_some_and(|(s, _)| *s == stamp) {
                    continue;
                }
                let read = std::fs::read_to_string(&path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))
                    .and_then(|text| parse_file(&path, &text));
                match read {
                    Ok(groups) => {
                        if known.map(|(_, g)| g) != Some(&groups) {
                            changed = true;
                        }
                        self.files.insert(path, (stamp, groups));
                    }
                    Err(e) => {
                        // Keep what the file produced before; remember the
                        // stamp so a broken file is not re-read every poll.
                        tracing::error!(error = %e, "file_sd: keeping the file's previous targets");
                        let groups = known.map(|(_, g)| g.clone()).unwrap_or_default();
                        self.files.insert(path, (stamp, groups));
                    }
                }
            }
        }
        let before = self.files.len();
        self.files.retain(|p, _| seen.contains(p));
        changed |= self.files.len() != before;
        changed.then(|| self.groups())
    }

    /// Every group from every file.
    pub fn groups(&self) -> Vec<Group> {
        self.files.values().flat_map(|(_, g)| g.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*.json", "a.json"));
        assert!(wildcard("tg_?.yml", "tg_1.yml"));
        assert!(!wildcard("tg_?.yml", "tg_12.yml"));
        assert!(!wildcard("*.json", "a.yml"));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn group_expansion_overlays_target_labels() {
        let g = make_group(
            "s".into(),
            &["a:1".to_string(), "b:2".to_string()],
            &BTreeMap::from([("env".to_string(), "prod".to_string())]),
            &[],
        )
        .unwrap();
        let all: Vec<LabelSet> = g.expand().collect();
        assert_eq!(all.len(), 2);
        assert!(all[1].contains(&("__address__".to_string(), "b:2".to_string())));
        assert!(all[1].contains(&("env".to_string(), "prod".to_string())));
    }

    #[test]
    fn file_sd_reads_json_and_yaml_and_keeps_targets_of_broken_files() {
        let dir = std::env::temp_dir().join(format!("pharos-filesd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("a.json");
        let yaml = dir.join("b.yml");
        std::fs::write(
            &json,
            r#"[{"targets": ["a:1"], "labels": {"env": "prod"}}]"#,
        )
        .unwrap();
        std::fs::write(
            &yaml,
            "- targets: ['b:1', 'b:2']\n  labels:\n    env: dev\n",
        )
        .unwrap();
        let mut sd = FileSd::new(
            vec![dir.join("*.json"), dir.join("*.yml")],
            Duration::from_secs(300),
        );
        let groups = sd.poll().expect("first poll reports groups");
        let targets: usize = groups.iter().map(|g| g.targets.len()).sum();
        assert_eq!(targets, 3);
        assert!(groups[0]
            .labels
            .contains(&("__meta_filepath".to_string(), json.display().to_string())));
        assert!(sd.poll().is_none(), "nothing changed");

        // A broken rewrite keeps the old targets.
        std::fs::write(&json, "[{\"targets\": [").unwrap();
        bump_mtime(&json);
        assert!(sd.poll().is_none());
        assert_eq!(sd.groups().len(), 2);

        // A good rewrite replaces them; a deleted file removes its groups.
        std::fs::write(&json, r#"[{"targets": ["a:1", "a:2"]}]"#).unwrap();
        bump_mtime(&json);
        let groups = sd.poll().expect("changed");
        assert_eq!(groups.iter().map(|g| g.targets.len()).sum::<usize>(), 4);
        std::fs::remove_file(&yaml).unwrap();
        let groups = sd.poll().expect("file removed");
        assert_eq!(groups.iter().map(|g| g.targets.len()).sum::<usize>(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn bump_mtime(p: &Path) {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        let later = SystemTime::now() + Duration::from_secs(5);
        f.set_modified(later).unwrap();
    }

    #[test]
    fn bad_label_names_in_files_are_errors() {
        let e = parse_file(
            Path::new("x.json"),
            r#"[{"targets": ["a:1"], "labels": {"bad-name": "v"}}]"#,
        )
        .unwrap_err();
        assert!(e.contains("bad-name"), "{e}");
        let e = parse_file(Path::new("x.txt"), "").unwrap_err();
        assert!(e.contains("unknown file type"), "{e}");
    }
}
