//! `prometheus.yml` as the server reads it: the sections pharos-agent
//! reads too (`global`, `scrape_configs`, `scrape_config_files`,
//! `remote_write` — decoded by [`pharos_agent::config`]) and the server's
//! own: `rule_files`, `alerting` (`alerting.rs`), `remote_read`
//! (`remote_read.rs`), `storage`, `tracing`, `otlp` and `runtime`
//! (`storage.rs`).
//!
//! The format, defaults and load-time checks are Prometheus 3's: strict
//! (an unknown key is an error), and every problem in a file reported at
//! once with `file:line`. Sections pharos reads so that a Prometheus file
//! loads but does not act on are said once at load, in
//! [`Loaded::warnings`].

mod alerting;
mod remote_read;
mod storage;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use pharos_agent::config::decode::{self, Ctx, MapReader};
use pharos_agent::config::{check_dup_name, glob_paths, yaml, Sections};
pub use pharos_agent::config::{ConfigError, ConfigErrors};

pub use alerting::{AlertingConfig, AlertmanagerConfig};
pub use remote_read::RemoteReadConfig;
pub use storage::{
    ExemplarsConfig, OtlpConfig, RuntimeConfig, StorageConfig, TracingConfig, TsdbConfig,
};

/// The whole configuration file, defaults filled in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    /// The sections pharos-agent reads too: `global`, the scrape jobs and
    /// `remote_write`.
    pub agent: pharos_agent::config::Config,
    pub runtime: RuntimeConfig,
    /// Resolved against the config file's directory; globs are kept as
    /// patterns.
    pub rule_files: Vec<PathBuf>,
    pub alerting: AlertingConfig,
    pub remote_read: Vec<RemoteReadConfig>,
    pub storage: StorageConfig,
    /// `None` when the section is absent (tracing off).
    pub tracing: Option<TracingConfig>,
    pub otlp: OtlpConfig,
}

/// A loaded configuration, its warnings and its text as shown.
pub type Loaded = pharos_agent::config::Loaded<Config>;

/// Loads `path`; relative paths inside are resolved against its directory.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigErrors> {
    pharos_agent::config::load_file_with(path, decode_file)
}

/// Loads config text. `file_name` is used in messages; `base_dir` resolves
/// relative paths (rule files, file SD, credentials, `scrape_config_files`).
pub fn load_str(text: &str, file_name: &str, base_dir: &Path) -> Result<Loaded, ConfigErrors> {
    pharos_agent::config::load_str_with(text, file_name, base_dir, decode_file)
}

/// The sections in the order Prometheus decodes them, so that problems
/// are listed in the same order.
fn decode_file(ctx: &mut Ctx, root: &yaml::Node, c: &mut Config) {
    let Some(mut m) = MapReader::open(ctx, root, "config file", "config.plain") else {
        return;
    };
    let mut shared = Sections::default();
    shared.global(ctx, &mut m);
    if let Some(n) = m.take("runtime") {
        c.runtime = storage::decode_runtime(ctx, n);
    }
    if let Some(paths) = glob_paths(ctx, &mut m, "rule_files", "rule file") {
        c.rule_files = paths;
    }
    shared.scrape_config_files(ctx, &mut m);
    shared.scrape_configs(ctx, &mut m);
    if let Some(n) = m.take("alerting") {
        c.alerting = alerting::decode_alerting(ctx, n);
    }
    shared.remote_write(ctx, &mut m);
    if let Some(n) = m.value("remote_read") {
        for item in decode::seq(ctx, n, "remote_read") {
            if item.is_null() {
                ctx.err(item.line, "empty or null remote read config section");
            } else if let Some(rr) = remote_read::decode_remote_read(ctx, item) {
                let names: Vec<_> = c.remote_read.iter().map(|r| &r.name).collect();
                check_dup_name(ctx, &names, &rr.name, item.line, "remote read");
                c.remote_read.push(rr);
            }
        }
    }
    if let Some(n) = m.take("storage") {
        c.storage = storage::decode_storage(ctx, n);
    }
    if let Some(n) = m.take("tracing") {
        c.tracing = Some(storage::decode_tracing(ctx, n));
    }
    if let Some(n) = m.take("otlp") {
        c.otlp = storage::decode_otlp(ctx, n);
    }
    m.finish(ctx);
    c.agent = shared.finish(ctx);
    warn_not_acted_on(ctx, c);
}

/// Sections pharos reads (so a Prometheus file loads) but does not act on:
/// said once at load rather than silently ignored.
fn warn_not_acted_on(ctx: &mut Ctx, c: &Config) {
    for rw in &c.agent.remote_write {
        ctx.warnings.push(format!(
            "remote_write {:?}: sending samples to remote storage is not supported by pharos yet; this entry is ignored",
            // Logs never carry secrets: no password, no query token.
            yaml::redact_url(&rw.url, true)
        ));
    }
    for rr in &c.remote_read {
        ctx.warnings.push(format!(
            "remote_read {:?}: reading from remote storage is not supported by pharos; this entry is ignored (pharos answers remote read itself, at /api/v1/read)",
            yaml::redact_url(&rr.url, true)
        ));
    }
    if c.tracing.as_ref().is_some_and(|t| !t.endpoint.is_empty()) {
        ctx.warnings
            .push("tracing: pharos does not export traces; this section is ignored".to_string());
    }
}
