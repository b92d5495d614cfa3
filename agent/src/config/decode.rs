//! Typed reading of [`Node`]s: the error collector [`Ctx`], the strict
//! mapping reader [`MapReader`], and Prometheus's scalar syntaxes (durations,
//! byte sizes, URLs, label names, `$VAR` expansion).
//!
//! Every reader records its problem in [`Ctx`] and returns `None` instead of
//! failing, so one run of the loader reports every error in the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use super::http::Secret;
use super::yaml::{Kind, Node};
use super::ConfigError;

/// Where errors and warnings go while one file is decoded, plus what paths
/// are resolved against.
pub struct Ctx {
    pub file: String,
    pub base_dir: PathBuf,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<String>,
    /// What the decoders read as secrets, and URLs whose query may carry
    /// tokens: the nodes (by address in the tree being decoded) that
    /// [`super::yaml::render`] hides when the configuration is shown.
    pub hidden: super::yaml::Hidden,
}

impl Ctx {
    pub fn new(file: &str, base_dir: &Path) -> Ctx {
        Ctx {
            file: file.to_string(),
            base_dir: base_dir.to_path_buf(),
            errors: Vec::new(),
            warnings: Vec::new(),
            hidden: Default::default(),
        }
    }

    pub fn err(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line: Some(line),
            message: message.into(),
        });
    }

    /// Resolves a file name from the config against the config's directory,
    /// as Prometheus's `SetDirectory` does. Empty stays empty.
    pub fn path(&self, p: &str) -> PathBuf {
        if p.is_empty() {
            return PathBuf::new();
        }
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}

/// Reads one YAML mapping strictly: each key may be taken once by the
/// decoder, and [`MapReader::finish`] reports the keys nobody took. The
/// error wording keeps Prometheus's `field X not found in type T` so that
/// messages can be matched against Prometheus's.
pub struct MapReader<'n> {
    pub line: usize,
    /// (key, key line, value, taken)
    entries: Vec<(&'n str, usize, &'n Node, bool)>,
    what: &'static str,
    go_type: &'static str,
}

impl<'n> MapReader<'n> {
    /// `what` names the section for people ("scrape config"), `go_type` the
    /// Prometheus type for compatibility of messages ("config.plain").
    /// A null node reads as an empty mapping; a non-mapping is an error.
    pub fn open(
        ctx: &mut Ctx,
        node: &'n Node,
        what: &'static str,
        go_type: &'static str,
    ) -> Option<MapReader<'n>> {
        let mut reader = MapReader {
            line: node.line,
            entries: Vec::new(),
            what,
            go_type,
        };
        match &node.kind {
            Kind::Null => {}
            Kind::Map(entries) => {
                for (k, v) in entries {
                    let Some(key) = k.as_str() else {
                        ctx.err(
                            k.line,
                            format!("{what}: keys must be strings, found {}", k.kind_name()),
                        );
                        continue;
                    };
                    if reader.entries.iter().any(|(seen, ..)| *seen == key) {
                        ctx.err(
                            k.line,
                            format!(
                                "duplicate key {key:?} in {what} (field {key} already set in type {go_type})"
                            ),
                        );
                        continue;
                    }
                    reader.entries.push((key, k.line, v, false));
                }
            }
            _ => {
                ctx.err(
                    node.line,
                    format!(
                        "{what}: expected a mapping, found {} (unmarshal errors)",
                        node.kind_name()
                    ),
                );
                return None;
            }
        }
        Some(reader)
    }

    /// Takes `key`'s value node (null values included).
    pub fn take(&mut self, key: &str) -> Option<&'n Node> {
        let e = self.entries.iter_mut().find(|(k, ..)| *k == key)?;
        e.3 = true;
        Some(e.2)
    }

    /// Takes `key`'s value unless it is absent or null.
    pub fn value(&mut self, key: &str) -> Option<&'n Node> {
        self.take(key).filter(|n| !n.is_null())
    }

    /// Whether `key` is present (even with a null value), without taking it.
    pub fn has(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, ..)| *k == key)
    }

    /// The line of `key` if present, else the mapping's line: where an
    /// error about that key should point.
    pub fn key_line(&self, key: &str) -> usize {
        self.entries
            .iter()
            .find(|(k, ..)| *k == key)
            .map_or(self.line, |e| e.1)
    }

    /// The keys not taken yet, with their value nodes, taking them.
    pub fn take_rest(&mut self) -> Vec<(&'n str, &'n Node)> {
        let mut out = Vec::new();
        for e in self.entries.iter_mut().filter(|e| !e.3) {
            e.3 = true;
            out.push((e.0, e.2));
        }
        out
    }

    /// Reports every key that no decoder took.
    pub fn finish(self, ctx: &mut Ctx) {
        for (key, line, _, used) in self.entries {
            if !used {
                ctx.err(
                    line,
                    format!(
                        "unknown key {key:?} in {} (field {key} not found in type {})",
                        self.what, self.go_type
                    ),
                );
            }
        }
    }

    pub fn string(&mut self, ctx: &mut Ctx, key: &str) -> Option<String> {
        self.value(key).and_then(|n| string(ctx, n, key))
    }

    /// A secret (password, token, key): read as a string, and marked so
    /// that the configuration is shown with `<secret>` in its place.
    pub fn secret(&mut self, ctx: &mut Ctx, key: &str) -> Option<Secret> {
        let n = self.value(key)?;
        ctx.hidden.secret(n);
        string(ctx, n, key).map(Secret::new)
    }

    /// Like [`MapReader::strings`], each item a secret.
    pub fn secrets(&mut self, ctx: &mut Ctx, key: &str) -> Vec<Secret> {
        let Some(n) = self.value(key) else {
            return Vec::new();
        };
        ctx.hidden.secret(n);
        strings(ctx, n, key).into_iter().map(Secret::new).collect()
    }

    /// A URL whose query string may carry credentials (remote write and
    /// read endpoints): shown with its query values hidden.
    pub fn url_with_query_secrets(&mut self, ctx: &mut Ctx, key: &str) -> Option<String> {
        let n = self.value(key)?;
        ctx.hidden.url(n);
        string(ctx, n, key)
    }

    pub fn bool(&mut self, ctx: &mut Ctx, key: &str) -> Option<bool> {
        self.value(key).and_then(|n| bool_(ctx, n, key))
    }

    pub fn u64(&mut self, ctx: &mut Ctx, key: &str) -> Option<u64> {
        self.value(key)
            .and_then(|n| parse_num::<u64>(ctx, n, key, "an unsigned integer"))
    }

    pub fn i64(&mut self, ctx: &mut Ctx, key: &str) -> Option<i64> {
        self.value(key)
            .and_then(|n| parse_num::<i64>(ctx, n, key, "an integer"))
    }

    pub fn f64(&mut self, ctx: &mut Ctx, key: &str) -> Option<f64> {
        self.value(key)
            .and_then(|n| parse_num::<f64>(ctx, n, key, "a number"))
    }

    pub fn duration(&mut self, ctx: &mut Ctx, key: &str) -> Option<Duration> {
        let n = self.value(key)?;
        let s = string(ctx, n, key)?;
        match parse_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                ctx.err(n.line, format!("{key}: {e}"));
                None
            }
        }
    }

    /// A byte size such as `10MB` (see [`parse_size`]).
    pub fn size(&mut self, ctx: &mut Ctx, key: &str) -> Option<i64> {
        let n = self.value(key)?;
        let s = string(ctx, n, key)?;
        match parse_size(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                ctx.err(n.line, format!("{key}: {e}"));
                None
            }
        }
    }

    pub fn strings(&mut self, ctx: &mut Ctx, key: &str) -> Vec<String> {
        match self.value(key) {
            Some(n) => strings(ctx, n, key),
            None => Vec::new(),
        }
    }

    pub fn string_map(&mut self, ctx: &mut Ctx, key: &str) -> BTreeMap<String, String> {
        match self.value(key) {
            Some(n) => string_map(ctx, n, key),
            None => BTreeMap::new(),
        }
    }

    /// A file name, resolved against the config's directory.
    pub fn path(&mut self, ctx: &mut Ctx, key: &str) -> Option<PathBuf> {
        self.string(ctx, key).map(|s| ctx.path(&s))
    }
}

fn mismatch(ctx: &mut Ctx, n: &Node, key: &str, want: &str) {
    ctx.err(
        n.line,
        format!(
            "{key}: cannot unmarshal {} into {want} (unmarshal errors)",
            n.kind_name()
        ),
    );
}

/// Any scalar reads as a string (Go's yaml does the same for `1234` or
/// `true` into a string field); null reads as `None` without error.
pub fn string(ctx: &mut Ctx, n: &Node, key: &str) -> Option<String> {
    match &n.kind {
        Kind::Null => None,
        Kind::Scalar { text, .. } => Some(text.clone()),
        _ => {
            mismatch(ctx, n, key, "a string");
            None
        }
    }
}

pub fn bool_(ctx: &mut Ctx, n: &Node, key: &str) -> Option<bool> {
    // YAML 1.1 spellings too: Prometheus's yaml.v2 accepts them.
    match n.as_str() {
        Some("true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON") => Some(true),
        Some("false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF") => {
            Some(false)
        }
        _ if n.is_null() => None,
        _ => {
            mismatch(ctx, n, key, "a boolean");
            None
        }
    }
}

fn parse_num<T: std::str::FromStr>(ctx: &mut Ctx, n: &Node, key: &str, want: &str) -> Option<T> {
    match n.as_str() {
        Some(s) => match s.replace('_', "").parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                ctx.err(
                    n.line,
                    format!("{key}: cannot unmarshal {s:?} into {want} (unmarshal errors)"),
                );
                None
            }
        },
        None if n.is_null() => None,
        None => {
            mismatch(ctx, n, key, want);
            None
        }
    }
}

/// A sequence of strings; null items are skipped.
pub fn strings(ctx: &mut Ctx, n: &Node, key: &str) -> Vec<String> {
    match &n.kind {
        Kind::Null => Vec::new(),
        Kind::Seq(items) => items.iter().filter_map(|i| string(ctx, i, key)).collect(),
        _ => {
            mismatch(ctx, n, key, "a list of strings");
            Vec::new()
        }
    }
}

/// A sequence of nodes (null reads as empty).
pub fn seq<'n>(ctx: &mut Ctx, n: &'n Node, key: &str) -> &'n [Node] {
    match &n.kind {
        Kind::Seq(items) => items,
        Kind::Null => &[],
        _ => {
            mismatch(ctx, n, key, "a list");
            &[]
        }
    }
}

/// A mapping of string to string.
pub fn string_map(ctx: &mut Ctx, n: &Node, key: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in map_entries(ctx, n, key) {
        if let (Some(k), v) = (k.as_str(), string(ctx, v, key).unwrap_or_default()) {
            if out.insert(k.to_string(), v).is_some() {
                ctx.err(k_line(n, k), format!("{key}: duplicate key {k:?}"));
            }
        }
    }
    out
}

fn k_line(n: &Node, key: &str) -> usize {
    if let Kind::Map(entries) = &n.kind {
        if let Some((k, _)) = entries.iter().rev().find(|(k, _)| k.as_str() == Some(key)) {
            return k.line;
        }
    }
    n.line
}

/// The raw entries of a mapping (null reads as empty).
pub fn map_entries<'n>(ctx: &mut Ctx, n: &'n Node, key: &str) -> &'n [(Node, Node)] {
    match &n.kind {
        Kind::Map(entries) => entries,
        Kind::Null => &[],
        _ => {
            mismatch(ctx, n, key, "a mapping");
            &[]
        }
    }
}

/// Prometheus's duration syntax (`model.ParseDuration`): units y, w, d, h,
/// m, s, ms, each at most once and in that order, integers only; bare `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?$",
        )
        .expect("BUG: duration regex compiles")
    });
    let invalid = || format!("not a valid duration string: {s:?}");
    let caps = re.captures(s).ok_or_else(invalid)?;
    const MS: [u128; 7] = [
        365 * 86_400_000,
        7 * 86_400_000,
        86_400_000,
        3_600_000,
        60_000,
        1000,
        1,
    ];
    let mut total: u128 = 0;
    for (i, unit) in MS.iter().enumerate() {
        if let Some(m) = caps.get(i + 1) {
            let v: u128 = m.as_str().parse().map_err(|_| invalid())?;
            total = total
                .checked_add(v.checked_mul(*unit).ok_or_else(invalid)?)
                .ok_or_else(invalid)?;
        }
    }
    // Go's time.Duration is int64 nanoseconds.
    if total > (i64::MAX as u128) / 1_000_000 {
        return Err("duration out of range".into());
    }
    Ok(Duration::from_millis(total as u64))
}

/// Prometheus's byte sizes (`units.ParseBase2Bytes`): a sign, then one or
/// more `<number><unit>` parts with B, KB/KiB, MB/MiB, ... all powers of
/// 1024; a bare `0` is allowed, a bare number is not. The error texts are
/// the ones Prometheus prints (`units: unknown unit  in 100`).
pub fn parse_size(orig: &str) -> Result<i64, String> {
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    let invalid = || format!("units: invalid {orig}");
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !s.is_empty() {
        let num_len = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let num = &s[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(invalid());
        }
        let v: f64 = num.parse().map_err(|_| invalid())?;
        s = &s[num_len..];
        let unit_len = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let scale =
            size_unit(unit).ok_or_else(|| format!("units: unknown unit {unit} in {orig}"))?;
        total += v * scale;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(if neg { -(total as i64) } else { total as i64 })
}

fn size_unit(unit: &str) -> Option<f64> {
    if unit == "B" {
        return Some(1.0);
    }
    let prefix = unit.strip_suffix("iB").or_else(|| unit.strip_suffix('B'))?;
    let power = match prefix {
        "K" | "k" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        "E" => 6,
        _ => return None,
    };
    Some(1024f64.powi(power))
}

/// The parts of a URL that config validation looks at. Parsing follows Go's
/// `url.Parse` leniency: `localhost:9090` has scheme `localhost` and no
/// host, `example.com` has neither.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts {
    pub scheme: String,
    pub host: String,
}

pub fn parse_url(s: &str) -> Result<UrlParts, String> {
    if s.chars().any(|c| c.is_ascii_control()) {
        return Err(format!("parse {s:?}: invalid control character in URL"));
    }
    let mut scheme = String::new();
    let mut rest = s;
    if let Some(i) = s.find(':') {
        let candidate = &s[..i];
        if i == 0 {
            return Err(format!("parse {s:?}: missing protocol scheme"));
        }
        let valid = candidate
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && candidate
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if valid {
            scheme = candidate.to_ascii_lowercase();
            rest = &s[i + 1..];
        }
    }
    let mut host = String::new();
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let authority = &after[..end];
        let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        host = hostport.to_string();
    }
    Ok(UrlParts { scheme, host })
}

/// The check Prometheus applies to SD URLs that must be HTTP endpoints.
pub fn check_http_url(s: &str) -> Result<(), String> {
    let u = parse_url(s)?;
    if u.scheme != "http" && u.scheme != "https" {
        return Err("URL scheme must be 'http' or 'https'".into());
    }
    if u.host.is_empty() {
        return Err("host is missing in URL".into());
    }
    Ok(())
}

/// A label name under Prometheus 3's default UTF-8 validation: non-empty.
/// (Invalid UTF-8 cannot reach here except through `!!binary`, which the
/// label readers check separately.)
pub fn is_valid_label_name(s: &str) -> bool {
    !s.is_empty()
}

/// Quotes bytes as Go's `%q` does, so that an invalid-UTF-8 label reads
/// `"\xff"` in messages exactly as in Prometheus.
pub use crate::gofmt::quote_bytes as go_quote;

/// The raw bytes of a scalar (a `!!binary` scalar may not be UTF-8).
pub fn scalar_bytes(n: &Node) -> Option<Vec<u8>> {
    match &n.kind {
        Kind::Scalar {
            invalid_utf8: Some(b),
            ..
        } => Some(b.clone()),
        Kind::Scalar { text, .. } => Some(text.clone().into_bytes()),
        _ => None,
    }
}

/// Expands `$VAR` and `${VAR}` from the environment, `$$` to `$`, as
/// Prometheus does for external label values (Go's `os.Expand`).
pub fn expand_env(s: &str) -> String {
    let mut out = String::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            out.push_str(&s[start..i]);
            let rest = &s[i + 1..];
            let (name, consumed) = if let Some(inner) = rest.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => (&inner[..end], end + 2),
                    // Go's os.Expand drops a bad `${` syntax.
                    None => ("", rest.len()),
                }
            } else if rest.starts_with('$') {
                ("$", 1)
            } else {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                if end == 0 {
                    // `$` followed by something that is not a name: Go keeps
                    // both characters.
                    out.push('$');
                    i += 1;
                    start = i;
                    continue;
                }
                (&rest[..end], end)
            };
            if name == "$" {
                out.push('$');
            } else if !name.is_empty() {
                out.push_str(&std::env::var(name).unwrap_or_default());
            }
            i += 1 + consumed;
            start = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&s[start.min(s.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(
            parse_duration("1w").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(
            parse_duration("1y").unwrap(),
            Duration::from_secs(365 * 86400)
        );
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("-1h")
            .unwrap_err()
            .contains("not a valid duration string"));
        assert!(parse_duration("1m1h").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10MB").unwrap(), 10 << 20);
        assert_eq!(parse_size("1KiB").unwrap(), 1024);
        assert_eq!(parse_size("1GB512MB").unwrap(), (1 << 30) + (512 << 20));
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("-1GB").unwrap(), -(1 << 30));
        assert_eq!(
            parse_size("100").unwrap_err(),
            "units: unknown unit  in 100"
        );
    }

    #[test]
    fn urls() {
        assert!(check_http_url("http://example.com/x").is_ok());
        assert!(check_http_url("ftp://example.com").is_err());
        assert_eq!(
            check_http_url("http://").unwrap_err(),
            "host is missing in URL"
        );
        assert!(check_http_url("invalid").is_err());
        assert!(parse_url("://invalid").is_err());
        let u = parse_url("localhost:9090").unwrap();
        assert_eq!(u.scheme, "localhost");
        assert!(u.host.is_empty());
    }

    #[test]
    fn env_expansion() {
        std::env::set_var("PHAROS_CONFIG_TEST_VAR", "v");
        assert_eq!(expand_env("a${PHAROS_CONFIG_TEST_VAR}b"), "avb");
        assert_eq!(expand_env("$PHAROS_CONFIG_TEST_VAR"), "v");
        assert_eq!(expand_env("foo$${X}"), "foo${X}");
        assert_eq!(expand_env("foo$$bar"), "foo$bar");
        assert_eq!(expand_env("plain"), "plain");
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote(&[0xff]), "\"\\xff\"");
        assert_eq!(go_quote(b"ok"), "\"ok\"");
    }
}
