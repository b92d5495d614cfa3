//! Prometheus relabeling (`relabel_configs`, `metric_relabel_configs`,
//! `write_relabel_configs`, alert relabeling).
//!
//! A [`RelabelConfig`] is one rule; [`process`] applies a list of rules in
//! order to one label set and reports whether the set survives. The
//! behaviour follows Prometheus's `model/relabel/relabel.go`:
//!
//! - The source label values are joined with `separator` (a missing label
//!   contributes the empty string) and matched against `regex`, which is
//!   always fully anchored (`^(?:regex)$`).
//! - `replace` expands `target_label` and `replacement` with Go's
//!   `regexp.Expand` rules (`$1`, `${1}`, `$name`, `${name}`, `$$`; the
//!   longest run of letters, digits and `_` is the name, so `$1x` is the group
//!   *named* `1x`, which expands to nothing). A target that does not expand
//!   to a valid label name skips the rule; an empty result deletes the target.
//! - `keep`/`drop` filter on the regex, `keepequal`/`dropequal` on equality
//!   with the target label's value.
//! - `hashmod` writes `md5(value)[8..16]` (big-endian u64) modulo `modulus`:
//!   Prometheus uses the *last* eight bytes of the digest, so hash-based
//!   sharding agrees with a Prometheus server splitting the same targets.
//! - `labelmap` copies labels whose *name* matches to the expanded
//!   replacement name; `labeldrop`/`labelkeep` remove labels by name.
//! - `lowercase`/`uppercase` write the case-mapped joined value to the target.
//!
//! Setting a label to the empty string deletes it, as in Prometheus, so the
//! result never holds empty values. Label names follow the legacy
//! (Prometheus 2.x) rule `[a-zA-Z_][a-zA-Z0-9_]*`.
//!
//! Regexes are Rust `regex` syntax, which is close to Go's RE2 but not
//! identical: `\d`, `\w`, `\s` and `\b` are Unicode-aware here and ASCII-only
//! in Go.
//!
//! Nothing here panics on any input, even on a config that was never
//! validated: an impossible rule (zero modulus, invalid target) is skipped.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use md5::{Digest, Md5};
use serde::Deserialize;

/// What a rule does. YAML spelling is lowercase (`keepequal`, `hashmod`...);
/// like Prometheus, parsing is case-insensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum Action {
    /// Write the expanded replacement to the expanded target label.
    #[default]
    Replace,
    /// Drop the label set unless the joined value matches the regex.
    Keep,
    /// Drop the label set if the joined value matches the regex.
    Drop,
    /// Drop the label set unless the joined value equals the target label's value.
    KeepEqual,
    /// Drop the label set if the joined value equals the target label's value.
    DropEqual,
    /// Set the target label to a hash of the joined value modulo `modulus`.
    HashMod,
    /// Copy labels whose name matches the regex to the expanded replacement name.
    LabelMap,
    /// Remove labels whose name matches the regex.
    LabelDrop,
    /// Remove labels whose name does not match the regex.
    LabelKeep,
    /// Set the target label to the lowercased joined value.
    Lowercase,
    /// Set the target label to the uppercased joined value.
    Uppercase,
}

impl Action {
    /// The configuration spelling (`"keepequal"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => return Err(format!("unknown relabel action {s:?}")),
        })
    }
}

impl TryFrom<String> for Action {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// The default regex source: matches anything and captures it as `$1`.
const DEFAULT_REGEX: &str = "(.*)";
const DEFAULT_SEPARATOR: &str = ";";
const DEFAULT_REPLACEMENT: &str = "$1";

/// A relabel regex: the source as written plus its anchored compilation.
/// Equality compares the source text.
#[derive(Clone, Debug)]
pub struct RelabelRegex {
    source: String,
    compiled: regex::Regex,
}

impl RelabelRegex {
    /// Compiles `source` anchored at both ends, as Prometheus does: a relabel
    /// regex always has to match the whole value.
    pub fn new(source: &str) -> Result<Self, String> {
        let compiled = regex::Regex::new(&format!("^(?:{source})$"))
            .map_err(|e| format!("invalid regex {source:?}: {e}"))?;
        Ok(RelabelRegex {
            source: source.to_string(),
            compiled,
        })
    }

    /// The regex as written, without the added anchors.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the regex matches the whole of `s`.
    pub fn is_match(&self, s: &str) -> bool {
        self.compiled.is_match(s)
    }

    fn is_default(&self) -> bool {
        self.source == DEFAULT_REGEX
    }
}

impl Default for RelabelRegex {
    fn default() -> Self {
        // A constant pattern, so this cannot fail on any input.
        RelabelRegex::new(DEFAULT_REGEX).expect("default relabel regex compiles")
    }
}

impl PartialEq for RelabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for RelabelRegex {}

/// One relabeling rule. Build it with [`RelabelConfig::new`] and the
/// chainable setters, or deserialize it (which also validates it).
///
/// Fields are public for inspection; [`process`] tolerates any combination,
/// but only a config that passes [`RelabelConfig::validate`] behaves as in
/// Prometheus.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawRelabelConfig")]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    pub source_labels: Vec<String>,
    /// Joins the source label values. Default `;`.
    pub separator: String,
    /// Matched against the joined value (or label names for
    /// labelmap/labeldrop/labelkeep). Default `(.*)`.
    pub regex: RelabelRegex,
    /// Modulus for `hashmod`; must be non-zero there.
    pub modulus: u64,
    /// Label written by replace/hashmod/lowercase/uppercase, compared by
    /// keepequal/dropequal. May hold `$` references for replace.
    pub target_label: String,
    /// Template for replace and labelmap. Default `$1`.
    pub replacement: String,
    /// What the rule does. Default replace.
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig::new(Action::Replace)
    }
}

impl RelabelConfig {
    /// A rule with Prometheus's defaults (separator `;`, regex `(.*)`,
    /// replacement `$1`, no source or target labels).
    pub fn new(action: Action) -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_string(),
            regex: RelabelRegex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_string(),
            action,
        }
    }

    /// Sets `source_labels`.
    pub fn source_labels<I, S>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.source_labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets `separator`.
    pub fn separator(mut self, separator: impl Into<String>) -> Self {
        self.separator = separator.into();
        self
    }

    /// Sets `regex`, failing if it does not compile.
    pub fn regex(mut self, regex: &str) -> Result<Self, String> {
        self.regex = RelabelRegex::new(regex)?;
        Ok(self)
    }

    /// Sets `modulus`.
    pub fn modulus(mut self, modulus: u64) -> Self {
        self.modulus = modulus;
        self
    }

    /// Sets `target_label`.
    pub fn target_label(mut self, target: impl Into<String>) -> Self {
        self.target_label = target.into();
        self
    }

    /// Sets `replacement`.
    pub fn replacement(mut self, replacement: impl Into<String>) -> Self {
        self.replacement = replacement.into();
        self
    }

    /// Checks the rule as Prometheus's `Config.Validate` does (plus the
    /// source-label name check Prometheus makes while parsing YAML). Error
    /// texts are Prometheus's.
    pub fn validate(&self) -> Result<(), String> {
        use Action::*;
        let a = self.action;
        for name in &self.source_labels {
            if !is_valid_label_name(name) {
                return Err(format!("{name:?} is not a valid label name"));
            }
        }
        if a == HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        let needs_target = matches!(
            a,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            return Err(format!(
                "relabel configuration for {a} action requires 'target_label' value"
            ));
        }
        let invalid_target = || {
            format!(
                "{:?} is invalid 'target_label' for {a} action",
                self.target_label
            )
        };
        if a == Replace {
            // A templated target is checked for shape only; its expansion is
            // checked per label set in `process`.
            let ok = if self.target_label.contains('$') {
                is_relabel_target(&self.target_label)
            } else {
                is_valid_label_name(&self.target_label)
            };
            if !ok {
                return Err(invalid_target());
            }
        }
        let single_value = matches!(a, Lowercase | Uppercase | KeepEqual | DropEqual);
        if single_value && !is_valid_label_name(&self.target_label) {
            return Err(invalid_target());
        }
        if single_value && self.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {a} action"));
        }
        if a == LabelMap && !is_relabel_target(&self.replacement) {
            return Err(format!(
                "{:?} is invalid 'replacement' for {a} action",
                self.replacement
            ));
        }
        if a == HashMod && !is_valid_label_name(&self.target_label) {
            return Err(invalid_target());
        }
        if matches!(a, KeepEqual | DropEqual)
            && (!self.regex.is_default()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{a} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(a, LabelDrop | LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{a} action requires only 'regex', and no other fields"
            ));
        }
        Ok(())
    }
}

/// The YAML shape: every field optional, unknown fields rejected. Converted
/// (with defaults filled and validation run) into [`RelabelConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelabelConfig {
    #[serde(default)]
    source_labels: Option<Vec<String>>,
    #[serde(default)]
    separator: Option<String>,
    // Prometheus turns an explicit `regex: null` into the empty regex (which
    // only matches ""), not the default, so null and absent are kept apart.
    #[serde(default, deserialize_with = "present")]
    regex: Option<Option<String>>,
    #[serde(default)]
    modulus: Option<u64>,
    #[serde(default)]
    target_label: Option<String>,
    #[serde(default)]
    replacement: Option<String>,
    #[serde(default)]
    action: Option<Action>,
}

fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

impl TryFrom<RawRelabelConfig> for RelabelConfig {
    type Error = String;

    fn try_from(raw: RawRelabelConfig) -> Result<Self, String> {
        let mut c = RelabelConfig::new(raw.action.unwrap_or_default());
        if let Some(v) = raw.source_labels {
            c.source_labels = v;
        }
        if let Some(v) = raw.separator {
            c.separator = v;
        }
        match raw.regex {
            None => {}
            Some(None) => c.regex = RelabelRegex::new("")?,
            Some(Some(r)) => c.regex = RelabelRegex::new(&r)?,
        }
        if let Some(v) = raw.modulus {
            c.modulus = v;
        }
        if let Some(v) = raw.target_label {
            c.target_label = v;
        }
        if let Some(v) = raw.replacement {
            c.replacement = v;
        }
        c.validate()?;
        Ok(c)
    }
}

/// Legacy Prometheus label-name rule: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Prometheus's `relabelTarget` shape check for templated target labels and
/// labelmap replacements: name characters and `$ref`/`${ref}` pieces, not
/// starting with a digit.
fn is_relabel_target(s: &str) -> bool {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^(?:(?:[a-zA-Z_]|\$(?:\{[0-9A-Za-z_]+\}|[0-9A-Za-z_]+))+[0-9A-Za-z_]*)+$",
        )
        .ok()
    })
    .as_ref()
    .is_some_and(|re| re.is_match(s))
}

/// Length in bytes of the Go `regexp.Expand` reference name at the start of
/// `s`: the longest run of Unicode letters (`\p{L}`), decimal digits
/// (`\p{Nd}`) and `_`, exactly Go's `unicode.IsLetter || unicode.IsDigit`.
fn ref_name_len(s: &str) -> usize {
    static RE: OnceLock<Option<regex::Regex>> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[\p{L}\p{Nd}_]+").ok())
        .as_ref()
        .and_then(|re| re.find(s))
        .map_or(0, |m| m.end())
}

/// Splits a `$` reference (the text after the `$`) into its name and the
/// rest of the template, or `None` if malformed (Go then emits the `$`
/// literally).
fn parse_ref(s: &str) -> Option<(&str, &str)> {
    let (body, braced) = match s.strip_prefix('{') {
        Some(b) => (b, true),
        None => (s, false),
    };
    let n = ref_name_len(body);
    if n == 0 {
        return None;
    }
    let name = &body[..n];
    let rest = &body[n..];
    if braced {
        return rest.strip_prefix('}').map(|r| (name, r));
    }
    Some((name, rest))
}

/// Go's `regexp.Expand`: `$$` is a literal `$`; `$name`/`${name}` is the
/// group with that number (decimal, no leading zero, below 1e8) or name; an
/// unknown or non-participating group expands to nothing; a malformed
/// reference leaves the `$` as text.
fn expand(template: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut t = template;
    while let Some(i) = t.find('$') {
        out.push_str(&t[..i]);
        t = &t[i + 1..];
        if let Some(rest) = t.strip_prefix('$') {
            out.push('$');
            t = rest;
            continue;
        }
        let Some((name, rest)) = parse_ref(t) else {
            out.push('$');
            continue;
        };
        t = rest;
        let group = match group_number(name) {
            Some(n) => caps.get(n),
            None => caps.name(name),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(t);
    out
}

/// The group index a reference name denotes, if it is one in Go's sense.
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    // Go stops at 1e8 and treats longer numbers as (nonexistent) names.
    name.parse::<usize>().ok().filter(|&n| n < 100_000_000)
}

/// The label set being rewritten: sorted by name, no empty values. It also
/// remembers which labels rules have set, in first-set order, because
/// Prometheus's label builder visits those after the untouched ones, and
/// that order decides which source wins when labelmap maps two labels onto
/// one name.
struct Builder<'a> {
    labels: &'a mut Vec<(String, String)>,
    added: Vec<String>,
}

impl Builder<'_> {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.labels.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    fn get(&self, name: &str) -> &str {
        match self.find(name) {
            Ok(i) => &self.labels[i].1,
            Err(_) => "",
        }
    }

    fn set(&mut self, name: &str, value: String) {
        if value.is_empty() {
            self.del(name);
            return;
        }
        match self.find(name) {
            Ok(i) => self.labels[i].1 = value,
            Err(i) => self.labels.insert(i, (name.to_string(), value)),
        }
        if !self.added.iter().any(|n| n == name) {
            self.added.push(name.to_string());
        }
    }

    fn del(&mut self, name: &str) {
        if let Ok(i) = self.find(name) {
            self.labels.remove(i);
        }
        self.added.retain(|n| n != name);
    }

    /// The current labels in Prometheus's `Builder.Range` order: untouched
    /// labels by name, then labels set by earlier rules in first-set order.
    fn snapshot(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .labels
            .iter()
            .filter(|(n, _)| !self.added.contains(n))
            .cloned()
            .collect();
        for name in &self.added {
            out.push((name.clone(), self.get(name).to_string()));
        }
        out
    }
}

/// Applies `configs` in order to `labels`. Returns `false` if a rule drops
/// the label set (then `labels` is cleared, as Prometheus returns an empty
/// set).
///
/// On return `labels` is sorted by name, holds each name once (for a
/// duplicated input name the last value wins) and no empty values.
pub fn process(labels: &mut Vec<(String, String)>, configs: &[RelabelConfig]) -> bool {
    normalize(labels);
    let mut b = Builder {
        labels,
        added: Vec::new(),
    };
    for cfg in configs {
        if !apply(cfg, &mut b) {
            b.labels.clear();
            return false;
        }
    }
    true
}

/// Sorts by name, keeps the last value of a repeated name and removes empty
/// values, so the builder can binary-search.
fn normalize(labels: &mut Vec<(String, String)>) {
    // Stable sort keeps input order among equal names, so "last wins" below
    // means last in the input.
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(String, String)> = Vec::with_capacity(labels.len());
    for (name, value) in labels.drain(..) {
        match out.last_mut() {
            Some(last) if last.0 == name => last.1 = value,
            _ => out.push((name, value)),
        }
    }
    out.retain(|(_, v)| !v.is_empty());
    *labels = out;
}

/// Applies one rule; `false` means drop.
fn apply(cfg: &RelabelConfig, b: &mut Builder<'_>) -> bool {
    let val = cfg
        .source_labels
        .iter()
        .map(|n| b.get(n))
        .collect::<Vec<_>>()
        .join(&cfg.separator);

    match cfg.action {
        Action::Drop => return !cfg.regex.is_match(&val),
        Action::Keep => return cfg.regex.is_match(&val),
        Action::DropEqual => return b.get(&cfg.target_label) != val,
        Action::KeepEqual => return b.get(&cfg.target_label) == val,
        Action::Replace => replace(cfg, &val, b),
        Action::Lowercase => {
            if is_valid_label_name(&cfg.target_label) {
                b.set(&cfg.target_label, go_to_lower(&val));
            }
        }
        Action::Uppercase => {
            if is_valid_label_name(&cfg.target_label) {
                b.set(&cfg.target_label, go_to_upper(&val));
            }
        }
        Action::HashMod => {
            // A zero modulus only survives an unvalidated config; skipping
            // beats Go's divide-by-zero panic.
            if cfg.modulus != 0 && is_valid_label_name(&cfg.target_label) {
                b.set(&cfg.target_label, hash_mod(&val, cfg.modulus).to_string());
            }
        }
        Action::LabelMap => {
            for (name, value) in b.snapshot() {
                if let Some(caps) = cfg.regex.compiled.captures(&name) {
                    // The regex is anchored, so Go's ReplaceAllString makes
                    // exactly one replacement: the expansion of the template.
                    let new_name = expand(&cfg.replacement, &caps);
                    // Prometheus would add a label with an empty name here;
                    // such a label can never be valid, so it is skipped.
                    if !new_name.is_empty() {
                        b.set(&new_name, value);
                    }
                }
            }
        }
        Action::LabelDrop => {
            for (name, _) in b.snapshot() {
                if cfg.regex.is_match(&name) {
                    b.del(&name);
                }
            }
        }
        Action::LabelKeep => {
            for (name, _) in b.snapshot() {
                if !cfg.regex.is_match(&name) {
                    b.del(&name);
                }
            }
        }
    }
    true
}

fn replace(cfg: &RelabelConfig, val: &str, b: &mut Builder<'_>) {
    // Prometheus's shortcut for the common "set a constant label" rule: with
    // the default regex and no templates, the result is known without
    // matching.
    if val.is_empty()
        && cfg.regex.is_default()
        && !cfg.target_label.contains('$')
        && !cfg.replacement.contains('$')
    {
        if is_valid_label_name(&cfg.target_label) {
            b.set(&cfg.target_label, cfg.replacement.clone());
        }
        return;
    }
    // No match: no replacement at all (the target is left alone).
    let Some(caps) = cfg.regex.compiled.captures(val) else {
        return;
    };
    let target = expand(&cfg.target_label, &caps);
    if !is_valid_label_name(&target) {
        return;
    }
    let value = expand(&cfg.replacement, &caps);
    b.set(&target, value);
}

/// Go's `strings.ToLower`: a per-character (simple) mapping, unlike Rust's
/// `str::to_lowercase`, which applies the context-dependent final-sigma
/// rule. `İ` is the one character whose full lowercase mapping has two
/// characters; Go maps it to plain `i`.
fn go_to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\u{130}' {
                return 'i';
            }
            single(c.to_lowercase()).unwrap_or(c)
        })
        .collect()
}

/// Go's `strings.ToUpper`: a per-character mapping. Characters whose full
/// uppercase mapping has several characters (`ß` → `SS`) have no simple
/// mapping in Go and stay as they are.
fn go_to_upper(s: &str) -> String {
    s.chars()
        .map(|c| single(c.to_uppercase()).unwrap_or(c))
        .collect()
}

/// The only item of a case-mapping iterator, if it has exactly one.
fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

/// Prometheus's hashmod: the last eight bytes of the MD5 digest as a
/// big-endian integer (earlier Prometheus versions shifted the first eight
/// bytes out, and the current code keeps that result), modulo `modulus`.
fn hash_mod(val: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(val.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&digest[8..16]);
    u64::from_be_bytes(tail) % modulus
}

#[cfg(test)]
mod tests;
