//! Loading the sections of Prometheus's configuration file
//! (`prometheus.yml`) that both binaries read — `global`, `scrape_configs`,
//! `scrape_config_files` and `remote_write` — with the same format, defaults
//! and load-time validation as Prometheus 3, and the strict YAML toolkit
//! every other loader (the server's whole `prometheus.yml`, rule files,
//! Alertmanager's configuration) is built from.
//!
//! [`load_file`] / [`load_str`] turn YAML into a [`Config`] whose scrape
//! jobs have every inherited default filled in, or into [`ConfigErrors`]
//! listing *every* problem found, each with `file:line`. Parsing is strict:
//! an unknown key is an error, as with Prometheus's strict unmarshalling.
//! The server's loader (`server/src/config`) reads the same sections
//! through [`Sections`], key by key between its own, so a file loads the
//! same in either binary.
//!
//! Accepted and warned about: every other `*_sd_configs` mechanism
//! (kubernetes, consul, dns, ec2, azure, gce, openstack, ...). Such a section
//! is validated as Prometheus validates it at load time, named in
//! [`ScrapeConfig::unsupported_sd`], and reported in [`Loaded::warnings`];
//! it discovers no targets. Its inner keys are loosely typed (typos there
//! are not caught).
//!
//! Layout: [`yaml`] builds a line-numbered node tree; [`decode`] holds the
//! strict mapping reader and Prometheus's scalar syntaxes (durations such
//! as `1h30m`, sizes such as `10MB`); one module per section decodes and
//! validates it into the public types: `scrape` (global and jobs), `sd`
//! (static and file discovery), `http` (the HTTP client settings every
//! outgoing connection shares), `remote` (remote write, and the pieces
//! remote read and alerting reuse).

pub mod decode;
mod http;
mod remote;
mod scrape;
mod sd;
// Public: the scrape engine reads file SD target files with it, and the
// server reads rule files and Alertmanager configuration with the same
// line-numbered tree and strict reader.
pub mod yaml;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use decode::{parse_duration, parse_size};
pub use http::{
    decode_inline as decode_http_inline, decode_tls, Authorization, BasicAuth, HttpClientConfig,
    HttpHeader, HttpKeys, OAuth2, ProxyConfig, Secret, TlsConfig,
};
pub use remote::{
    check_headers, decode_sigv4, url_and_headers, MetadataConfig, QueueConfig, RemoteWriteConfig,
    SigV4Config,
};
pub use scrape::{
    relabel_list, GlobalConfig, ScrapeConfig, DEFAULT_SCRAPE_PROTOCOLS,
    PROTO_FIRST_SCRAPE_PROTOCOLS, SCRAPE_PROTOCOLS,
};
pub use sd::{
    decode_discovery, parse_target_groups, Discovery, FileSdConfig, TargetGroup, UNSUPPORTED_SD,
};

use decode::{Ctx, MapReader};

/// The sections of a configuration file both binaries read, defaults
/// filled in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    pub global: GlobalConfig,
    /// The patterns as configured (resolved); their jobs are already merged
    /// into `scrape_configs`.
    pub scrape_config_files: Vec<PathBuf>,
    /// The file's own jobs, then those from `scrape_config_files`.
    pub scrape_configs: Vec<ScrapeConfig>,
    pub remote_write: Vec<RemoteWriteConfig>,
}

/// A successfully loaded config and what was accepted but not acted on.
#[derive(Clone, Debug)]
pub struct Loaded<C = Config> {
    pub config: C,
    pub warnings: Vec<String>,
    /// The file as `/api/v1/status/config` shows it: re-rendered from the
    /// parsed tree with every secret the decoders read as `<secret>`.
    pub shown: String,
}

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; `None` for problems with the file as a whole (unreadable).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in one load, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Loads `path`; relative paths inside are resolved against its directory.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    load_file_with(path, decode_file)
}

/// Loads config text. `file_name` is used in messages; `base_dir` resolves
/// relative paths (file SD, credentials, `scrape_config_files`).
pub fn load_str(text: &str, file_name: &str, base_dir: &Path) -> Result<Loaded, ConfigErrors> {
    load_str_with(text, file_name, base_dir, decode_file)
}

/// [`load_str_with`] on a file's contents: what every loader of a
/// `prometheus.yml`-shaped file shares.
pub fn load_file_with<C: Default>(
    path: &Path,
    decode: impl FnOnce(&mut Ctx, &yaml::Node, &mut C),
) -> Result<Loaded<C>, ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            line: None,
            message: format!("cannot read config file: {e}"),
        }])
    })?;
    let base = path.parent().unwrap_or(Path::new(""));
    load_str_with(&text, &name, base, decode)
}

/// Parses `text`, hands the tree to `decode`, and returns the config only
/// if no problem at all was found (all of them otherwise), with the file
/// as shown with its secrets hidden.
pub fn load_str_with<C: Default>(
    text: &str,
    file_name: &str,
    base_dir: &Path,
    decode: impl FnOnce(&mut Ctx, &yaml::Node, &mut C),
) -> Result<Loaded<C>, ConfigErrors> {
    let mut ctx = Ctx::new(file_name, base_dir);
    let mut config = C::default();
    let root = parse_tree(&mut ctx, text);
    if let Some(root) = &root {
        decode(&mut ctx, root, &mut config);
    }
    if ctx.errors.is_empty() {
        Ok(Loaded {
            config,
            warnings: ctx.warnings,
            shown: root.map_or_else(String::new, |r| yaml::render(&r, &ctx.hidden)),
        })
    } else {
        Err(ConfigErrors(ctx.errors))
    }
}

/// Parses `text` into the node tree, recording tree-level problems (and a
/// syntax error) in `ctx`: the first step of every strict YAML reader.
pub fn parse_tree(ctx: &mut Ctx, text: &str) -> Option<yaml::Node> {
    match yaml::parse(text) {
        Ok((root, issues)) => {
            for i in issues {
                ctx.err(i.line, i.message);
            }
            root
        }
        Err(i) => {
            ctx.err(i.line, i.message);
            None
        }
    }
}

/// The file as pharos-agent reads it: the shared sections and nothing
/// else (an unknown key, `rule_files` included, is an error).
fn decode_file(ctx: &mut Ctx, root: &yaml::Node, c: &mut Config) {
    let Some(mut m) = MapReader::open(ctx, root, "config file", "config.plain") else {
        return;
    };
    let mut s = Sections::default();
    s.global(ctx, &mut m);
    s.scrape_config_files(ctx, &mut m);
    s.scrape_configs(ctx, &mut m);
    s.remote_write(ctx, &mut m);
    m.finish(ctx);
    *c = s.finish(ctx);
}

/// Decodes the shared sections of a top-level mapping one key at a time,
/// so that a loader of a larger file (the server's) reads its own keys in
/// between, in the order Prometheus reports problems.
#[derive(Default)]
pub struct Sections {
    config: Config,
    /// Where each job was defined, for the duplicate-name check.
    job_lines: Vec<(String, usize)>,
}

impl Sections {
    /// `global`, first: scrape configs inherit from it.
    pub fn global(&mut self, ctx: &mut Ctx, m: &mut MapReader) {
        if let Some(n) = m.take("global") {
            self.config.global = scrape::decode_global(ctx, n);
        }
    }

    /// `scrape_config_files`: the patterns (their jobs are read by
    /// [`Sections::finish`]).
    pub fn scrape_config_files(&mut self, ctx: &mut Ctx, m: &mut MapReader) {
        if let Some(paths) = glob_paths(ctx, m, "scrape_config_files", "scrape config file") {
            self.config.scrape_config_files = paths;
        }
    }

    /// `scrape_configs`.
    pub fn scrape_configs(&mut self, ctx: &mut Ctx, m: &mut MapReader) {
        let Some(n) = m.value("scrape_configs") else {
            return;
        };
        for item in decode::seq(ctx, n, "scrape_configs") {
            if item.is_null() {
                ctx.err(item.line, "empty or null scrape config section");
                continue;
            }
            if let Some(sc) = scrape::decode_scrape(ctx, item, &self.config.global) {
                self.job_lines.push((ctx.file.clone(), item.line));
                self.config.scrape_configs.push(sc);
            }
        }
    }

    /// `remote_write`.
    pub fn remote_write(&mut self, ctx: &mut Ctx, m: &mut MapReader) {
        let Some(n) = m.value("remote_write") else {
            return;
        };
        for item in decode::seq(ctx, n, "remote_write") {
            if item.is_null() {
                ctx.err(item.line, "empty or null remote write config section");
            } else if let Some(rw) = remote::decode_remote_write(ctx, item) {
                let names: Vec<_> = self.config.remote_write.iter().map(|r| &r.name).collect();
                check_dup_name(ctx, &names, &rw.name, item.line, "remote write");
                self.config.remote_write.push(rw);
            }
        }
    }

    /// Reads the jobs of `scrape_config_files` and checks job names are
    /// unique across the file and those files; call after the top-level
    /// mapping is finished.
    pub fn finish(mut self, ctx: &mut Ctx) -> Config {
        let c = &mut self.config;
        load_scrape_config_files(ctx, c, &mut self.job_lines);
        for (i, sc) in c.scrape_configs.iter().enumerate() {
            if c.scrape_configs[..i]
                .iter()
                .any(|o| o.job_name == sc.job_name)
            {
                let (file, line) = &self.job_lines[i];
                ctx.errors.push(ConfigError {
                    file: file.clone(),
                    line: Some(*line),
                    message: format!(
                        "found multiple scrape configs with job name {:?}",
                        sc.job_name
                    ),
                });
            }
        }
        self.config
    }
}

/// A list of file patterns (`rule_files`, `scrape_config_files`), each
/// checked as Prometheus checks them and resolved against the file's
/// directory; `None` when the key is absent.
pub fn glob_paths(ctx: &mut Ctx, m: &mut MapReader, key: &str, what: &str) -> Option<Vec<PathBuf>> {
    let n = m.value(key)?;
    let mut paths = Vec::new();
    for item in decode::seq(ctx, n, key) {
        let Some(p) = decode::string(ctx, item, key) else {
            continue;
        };
        if !is_glob_path(&p) {
            ctx.err(item.line, format!("invalid {what} path {p:?}"));
            continue;
        }
        paths.push(ctx.path(&p));
    }
    Some(paths)
}

/// Reports a `name` already used by an earlier entry of the same list.
pub fn check_dup_name(
    ctx: &mut Ctx,
    seen: &[&Option<String>],
    name: &Option<String>,
    line: usize,
    what: &str,
) {
    if let Some(n) = name {
        if seen.iter().any(|s| s.as_deref() == Some(n.as_str())) {
            // Prometheus says "job name" here too.
            ctx.err(
                line,
                format!("found multiple {what} configs with job name {n:?}"),
            );
        }
    }
}

/// Prometheus's rule for rule and scrape-config file patterns: a `*` may
/// appear only in the last path element.
fn is_glob_path(p: &str) -> bool {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    // Prometheus allows wildcards in the last element only; pharos also
    // takes whole `**` elements before it (`rules/**/*.yml`).
    let without_recursive = p.replace("/**/", "/");
    let without_recursive = without_recursive
        .strip_prefix("**/")
        .unwrap_or(&without_recursive);
    RE.get_or_init(|| regex::Regex::new(r"^[^*]*(\*[^/]*)?$").expect("BUG: pattern compiles"))
        .is_match(without_recursive)
}

/// Expands `scrape_config_files` and appends their jobs, each decoded
/// against the including file's `global` and its own directory.
fn load_scrape_config_files(ctx: &mut Ctx, c: &mut Config, job_lines: &mut Vec<(String, usize)>) {
    for pattern in c.scrape_config_files.clone() {
        for file in expand_glob(&pattern) {
            let name = file.display().to_string();
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) => {
                    ctx.errors.push(ConfigError {
                        file: name,
                        line: None,
                        message: format!("cannot read scrape config file: {e}"),
                    });
                    continue;
                }
            };
            let mut sub = Ctx::new(&name, file.parent().unwrap_or(Path::new("")));
            if let Some(root) = parse_tree(&mut sub, &text) {
                if let Some(mut m) = MapReader::open(
                    &mut sub,
                    &root,
                    "scrape config file",
                    "config.ScrapeConfigs",
                ) {
                    if let Some(n) = m.value("scrape_configs") {
                        for item in decode::seq(&mut sub, n, "scrape_configs") {
                            if item.is_null() {
                                sub.err(item.line, "empty or null scrape config section");
                            } else if let Some(sc) =
                                scrape::decode_scrape(&mut sub, item, &c.global)
                            {
                                job_lines.push((name.clone(), item.line));
                                c.scrape_configs.push(sc);
                            }
                        }
                    }
                    m.finish(&mut sub);
                }
            }
            ctx.errors.append(&mut sub.errors);
            ctx.warnings.append(&mut sub.warnings);
        }
    }
}

/// The files matching `pattern`, sorted like Go's `filepath.Glob`:
/// `*` and `?` match within one path element, in any element; an element
/// that is exactly `**` matches any number of directories (rule files are
/// often laid out as `rules/**/*.yml`).
pub fn expand_glob(pattern: &Path) -> Vec<PathBuf> {
    use std::path::Component;
    let mut bases = vec![PathBuf::new()];
    let parts: Vec<Component> = pattern.components().collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let name = match part {
            Component::Normal(n) => n.to_string_lossy().into_owned(),
            other => {
                for b in &mut bases {
                    b.push(other.as_os_str());
                }
                continue;
            }
        };
        let mut next = Vec::new();
        for base in &bases {
            let dir = if base.as_os_str().is_empty() {
                Path::new(".")
            } else {
                base.as_path()
            };
            if name == "**" {
                // Zero or more directories: the base itself and every
                // directory below it.
                let mut stack = vec![base.clone()];
                while let Some(d) = stack.pop() {
                    let read = if d.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        d.as_path()
                    };
                    for e in std::fs::read_dir(read).into_iter().flatten().flatten() {
                        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                            stack.push(d.join(e.file_name()));
                        }
                    }
                    next.push(d);
                }
            } else if !name.contains(['*', '?']) {
                let p = base.join(&name);
                if (last && p.is_file()) || (!last && p.is_dir()) {
                    next.push(p);
                }
            } else {
                for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                    let Ok(n) = e.file_name().into_string() else {
                        continue;
                    };
                    let Ok(t) = e.file_type() else { continue };
                    let wanted = if last {
                        t.is_file() || t.is_symlink()
                    } else {
                        t.is_dir() || t.is_symlink()
                    };
                    if wanted && wildcard_match(name.as_bytes(), n.as_bytes()) {
                        next.push(base.join(n));
                    }
                }
            }
        }
        bases = next;
    }
    bases.retain(|p| p.is_file());
    bases.sort();
    bases.dedup();
    bases
}

fn wildcard_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard_match(&p[1..], s) || (!s.is_empty() && wildcard_match(p, &s[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => wildcard_match(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Reads an `http_config:` block (Prometheus's common HTTP client
/// settings as a mapping of their own, as Alertmanager's receivers write
/// them), strictly.
pub fn decode_http_client(ctx: &mut Ctx, n: &yaml::Node) -> HttpClientConfig {
    let Some(mut m) = MapReader::open(ctx, n, "http_config", "config.HTTPClientConfig") else {
        return HttpClientConfig::default();
    };
    let (c, _) = http::decode_inline(ctx, &mut m);
    m.finish(ctx);
    c
}
