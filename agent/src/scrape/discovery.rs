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
//! gets `__meta_filepath`. The refresh interval is measured on Tokio's
//! (monotonic) clock, which paused Tokio time in tests moves.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::config::{parse_target_groups, TargetGroup};

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

impl Group {
    /// A configured or file-read target group (its labels already checked
    /// by the config reader); `extra` labels go on every target
    /// (`__meta_filepath`).
    pub fn from_config(source: String, g: &TargetGroup, extra: &[(&str, &str)]) -> Group {
        let labels = g
            .labels
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .chain(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())))
            .collect();
        let targets = g
            .targets
            .iter()
            .map(|t| vec![(ADDRESS.to_string(), t.clone())])
            .collect();
        Group {
            source,
            targets,
            labels,
        }
    }
}

/// Parses a file_sd file's content (`.json`, `.yml` or `.yaml`).
pub fn parse_file(path: &Path, text: &str) -> Result<Vec<Group>, String> {
    let shown = path.display().to_string();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "json" | "yml" | "yaml") {
        return Err(format!(
            "{shown}: unknown file type {ext:?}; file_sd reads .json, .yml and .yaml"
        ));
    }
    let groups = parse_target_groups(text, &shown).map_err(|e| e.to_string())?;
    Ok(groups
        .iter()
        .enumerate()
        .map(|(i, g)| Group::from_config(format!("{shown}:{i}"), g, &[("__meta_filepath", &shown)]))
        .collect())
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
        let tg = TargetGroup {
            targets: vec!["a:1".to_string(), "b:2".to_string()],
            labels: BTreeMap::from([("env".to_string(), "prod".to_string())]),
            source: "0".to_string(),
        };
        let g = Group::from_config("s".into(), &tg, &[]);
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
        // Files are read by the config reader: what no rule allows (and
        // unknown keys) refuses the file, with the line.
        let e = parse_file(
            Path::new("x.json"),
            "[{\"targets\": [\"a:1\"],\n  \"labels\": {\"\": \"v\"}}]",
        )
        .unwrap_err();
        assert!(
            e.contains("x.json:2") && e.contains("not a valid label name"),
            "{e}"
        );
        let e = parse_file(Path::new("x.yml"), "- targets: ['a:1']\n  lables: {}\n").unwrap_err();
        assert!(e.contains("x.yml:2") && e.contains("lables"), "{e}");
        // A name Prometheus 3 accepts but pharos's legacy rule does not
        // reaches the target, which is then refused naming it.
        let groups = parse_file(
            Path::new("x.json"),
            r#"[{"targets": ["a:1"], "labels": {"bad-name": "v"}}]"#,
        )
        .unwrap();
        let labels = groups[0].expand().next().unwrap();
        match super::super::target::populate(&super::super::Job::for_tests("j"), labels) {
            super::super::target::Populated::Invalid { error, .. } => {
                assert!(error.contains("bad-name"), "{error}")
            }
            other => panic!("{other:?}"),
        }
        let e = parse_file(Path::new("x.txt"), "").unwrap_err();
        assert!(e.contains("unknown file type"), "{e}");
    }
}
