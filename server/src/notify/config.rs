//! Alertmanager's configuration file (`alertmanager.yml`): `global`,
//! `route` (the routing tree), `inhibit_rules`, `receivers`, `templates`,
//! `time_intervals` / `mute_time_intervals` — read strictly, with defaults
//! filled in and every problem reported at once with `file:line`, in the
//! words Alertmanager's loader uses so `amtool check-config` users
//! recognise them.
//!
//! Receivers pharos delivers to: `webhook_configs`, `email_configs`,
//! `slack_configs`, `wechat_configs` (WeCom's application API), and the
//! pharos-only `wecom_configs` (WeCom group robot), `dingtalk_configs` and
//! `feishu_configs`. Alertmanager's other receiver types (PagerDuty,
//! OpsGenie, VictorOps, Telegram, …) are validated as Alertmanager
//! validates them, so a working file loads, but named in
//! [`Receiver::unsupported`]: they deliver nothing.
//!
//! The config of each type pharos delivers to ([`WebhookConfig`], …) and
//! the decoding of its entries live beside the receiver, in
//! `receivers/<type>.rs`; this file keeps the receiver list that calls
//! them, re-exports their types, and validates the types without a
//! receiver.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pharos_agent::config::decode::{self, Ctx, MapReader};
use pharos_agent::config::yaml::{Kind, Node};
use pharos_agent::config::{
    decode_http_client, ConfigError, ConfigErrors, HttpClientConfig, Secret,
};

use super::matchers::{parse_matchers, MatchType, Matcher, Matchers};
use super::receivers::email::decode_email;
use super::receivers::robot::decode_robot;
use super::receivers::slack::{decode_slack, SLACK_POST_MESSAGE};
use super::receivers::webhook::decode_webhook;
use super::receivers::wechat::decode_wechat;
use super::timeinterval::{self, TimeInterval};

// Each receiver type's config and its decoder live beside the receiver in
// `receivers/`; named here too, as the rest of the file format is.
pub use super::receivers::email::EmailConfig;
pub use super::receivers::robot::{RobotConfig, RobotKind};
pub use super::receivers::slack::SlackConfig;
pub use super::receivers::webhook::WebhookConfig;
pub use super::receivers::wechat::WechatConfig;

/// A whole Alertmanager configuration.
#[derive(Debug, Clone, Default)]
pub struct AmConfig {
    pub global: Global,
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    pub receivers: Vec<Receiver>,
    /// Template file patterns, resolved against the file's directory.
    pub templates: Vec<PathBuf>,
    /// `time_intervals` and `mute_time_intervals` by name.
    pub time_intervals: BTreeMap<String, Vec<TimeInterval>>,
    /// The file as `/api/v2/status` shows it: re-rendered from the parsed
    /// tree with every secret the decoder read as `<secret>`, as
    /// Alertmanager marshals its `Secret` fields.
    pub shown: String,
}

/// `global`: defaults for receivers.
#[derive(Debug, Clone)]
pub struct Global {
    /// How long an alert without `endsAt` stays firing (5m).
    pub resolve_timeout: Duration,
    pub http_config: HttpClientConfig,
    pub smtp_from: String,
    pub smtp_hello: String,
    pub smtp_smarthost: String,
    pub smtp_auth_username: String,
    pub smtp_auth_password: Option<Secret>,
    pub smtp_auth_password_file: Option<PathBuf>,
    pub smtp_auth_secret: Option<Secret>,
    pub smtp_auth_identity: String,
    pub smtp_require_tls: bool,
    pub slack_api_url: Option<Secret>,
    pub slack_api_url_file: Option<PathBuf>,
    pub wechat_api_url: String,
    pub wechat_api_secret: Option<Secret>,
    pub wechat_api_secret_file: Option<PathBuf>,
    pub wechat_api_corp_id: String,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            resolve_timeout: Duration::from_secs(300),
            http_config: HttpClientConfig::default(),
            smtp_from: String::new(),
            smtp_hello: "localhost".into(),
            smtp_smarthost: String::new(),
            smtp_auth_username: String::new(),
            smtp_auth_password: None,
            smtp_auth_password_file: None,
            smtp_auth_secret: None,
            smtp_auth_identity: String::new(),
            smtp_require_tls: true,
            slack_api_url: None,
            slack_api_url_file: None,
            wechat_api_url: "https://qyapi.weixin.qq.com/cgi-bin/".into(),
            wechat_api_secret: None,
            wechat_api_secret_file: None,
            wechat_api_corp_id: String::new(),
        }
    }
}

/// One node of the routing tree; children inherit what they leave unset.
#[derive(Debug, Clone, Default)]
pub struct Route {
    pub receiver: String,
    /// Group by these labels; `group_by_all` (`['...']`) groups by all.
    pub group_by: Vec<String>,
    pub group_by_all: bool,
    pub matchers: Matchers,
    /// Keep matching siblings after this route matched.
    pub continue_: bool,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
    /// Route labels (Alertmanager 0.34): templates rendered per group,
    /// inherited by children, overridden key by key.
    pub labels: BTreeMap<String, String>,
    pub routes: Vec<Route>,
    /// The line the route starts on, for messages.
    pub line: usize,
}

impl Route {
    /// The routes an alert with `labels` goes to, in tree order, as
    /// Alertmanager's dispatcher walks the tree: a route that matches
    /// hands the alert to its first matching child (and, with `continue`,
    /// to later matching siblings too); a matching route none of whose
    /// children match takes the alert itself. Empty when the route itself
    /// does not match.
    pub fn matching(&self, labels: &BTreeMap<String, String>) -> Vec<&Route> {
        if !self.matchers.matches_map(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let found = child.matching(labels);
            let matched = !found.is_empty();
            all.extend(found);
            if matched && !child.continue_ {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }
}

/// `inhibit_rules` entry: alerts matching `target` are muted while an
/// alert matching `source` fires with equal values of `equal`.
#[derive(Debug, Clone, Default)]
pub struct InhibitRule {
    pub source: Matchers,
    pub target: Matchers,
    pub equal: Vec<String>,
}

/// A receiver and its integrations.
#[derive(Debug, Clone, Default)]
pub struct Receiver {
    pub name: String,
    pub webhooks: Vec<WebhookConfig>,
    pub emails: Vec<EmailConfig>,
    pub slack: Vec<SlackConfig>,
    pub wechat: Vec<WechatConfig>,
    /// pharos: WeCom (企业微信) group robots, DingTalk (钉钉) and Feishu
    /// (飞书) bots.
    pub robots: Vec<RobotConfig>,
    /// Alertmanager integrations pharos does not deliver to, by key
    /// (`pagerduty_configs`, …).
    pub unsupported: Vec<String>,
}

/// Integrations pharos accepts but does not deliver to, with the global
/// credential each needs (`(global key, file key, error when neither is
/// set anywhere)`).
const UNSUPPORTED: &[(&str, Option<(&str, &str)>)] = &[
    ("pagerduty_configs", None),
    ("pushover_configs", None),
    (
        "opsgenie_configs",
        Some((
            "opsgenie_api_key",
            "no global OpsGenie API Key set either inline or in a file",
        )),
    ),
    (
        "victorops_configs",
        Some(("victorops_api_key", "no global VictorOps API Key set")),
    ),
    ("sns_configs", None),
    (
        "telegram_configs",
        Some((
            "telegram_bot_token",
            "missing bot_token or bot_token_file on telegram_config",
        )),
    ),
    ("discord_configs", None),
    ("webex_configs", None),
    ("msteams_configs", None),
    ("msteamsv2_configs", None),
    ("jira_configs", None),
    (
        "rocketchat_configs",
        Some((
            "rocketchat_token",
            "no global Rocketchat Token set either inline or in a file",
        )),
    ),
    (
        "mattermost_configs",
        Some((
            "mattermost_webhook_url",
            "missing webhook_url or webhook_url_file on mattermost_config",
        )),
    ),
    ("incidentio_configs", None),
];

/// The keys an OpsGenie config may have (its fixture checks strictness).
const OPSGENIE_KEYS: &[&str] = &[
    "send_resolved",
    "http_config",
    "api_key",
    "api_key_file",
    "api_url",
    "message",
    "description",
    "source",
    "details",
    "entity",
    "responders",
    "actions",
    "tags",
    "note",
    "priority",
    "update_alerts",
];

/// Loads `path`; template patterns are resolved against its directory.
pub fn load_file(path: &Path) -> Result<(AmConfig, Vec<String>), ConfigErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: name.clone(),
            line: None,
            message: format!("cannot read Alertmanager configuration: {e}"),
        }])
    })?;
    load_str(&text, &name, path.parent().unwrap_or(Path::new("")))
}

/// Parses configuration text; returns the config and its warnings.
pub fn load_str(
    text: &str,
    name: &str,
    base: &Path,
) -> Result<(AmConfig, Vec<String>), ConfigErrors> {
    let mut ctx = Ctx::new(name, base);
    let root = pharos_agent::config::parse_tree(&mut ctx, text);
    let mut c = AmConfig::default();
    match &root {
        Some(root) => decode_root(&mut ctx, root, &mut c),
        None => ctx.err(1, "no route provided in config"),
    }
    if ctx.errors.is_empty() {
        if let Some(root) = &root {
            c.shown = pharos_agent::config::yaml::render(root, &ctx.hidden);
        }
        Ok((c, ctx.warnings))
    } else {
        ctx.errors.sort_by_key(|e| e.line);
        Err(ConfigErrors(ctx.errors))
    }
}

/// Secrets that are set both inline and from a file, or neither where
/// one is needed.
pub(crate) fn at_most_one(
    ctx: &mut Ctx,
    line: usize,
    a: bool,
    b: bool,
    a_name: &str,
    b_name: &str,
) {
    if a && b {
        ctx.err(
            line,
            format!("at most one of {a_name} & {b_name} must be configured"),
        );
    }
}

/// A secret field: hidden when the configuration is shown; empty is unset.
pub(crate) fn secret(m: &mut MapReader, ctx: &mut Ctx, key: &str) -> Option<Secret> {
    m.secret(ctx, key).filter(|s| !s.expose().is_empty())
}

fn decode_root(ctx: &mut Ctx, root: &Node, c: &mut AmConfig) {
    let Some(mut m) = MapReader::open(ctx, root, "Alertmanager configuration", "config.plain")
    else {
        return;
    };
    // Global credentials of unsupported integrations: which are set.
    let mut globals_set: BTreeMap<String, bool> = BTreeMap::new();
    if let Some(g) = m.take("global") {
        c.global = decode_global(ctx, g, &mut globals_set);
    }
    c.templates = m
        .strings(ctx, "templates")
        .iter()
        .map(|p| ctx.path(p))
        .collect();
    if m.value("tracing").is_some() {
        // Alertmanager's OpenTelemetry tracing; pharos has none to configure.
        ctx.warnings
            .push("tracing is accepted but ignored: pharos does not export traces".into());
    }
    for key in ["time_intervals", "mute_time_intervals"] {
        if let Some(list) = m.value(key) {
            for item in decode::seq(ctx, list, key) {
                if let Some((name, ivs)) = decode_time_interval(ctx, item) {
                    if c.time_intervals.insert(name.clone(), ivs).is_some() {
                        ctx.err(
                            item.line,
                            format!("mute time interval {name:?} is not unique"),
                        );
                    }
                }
            }
        }
    }
    if let Some(list) = m.value("receivers") {
        for item in decode::seq(ctx, list, "receivers") {
            if let Some(r) = decode_receiver(ctx, item, &c.global, &globals_set) {
                if c.receivers.iter().any(|o| o.name == r.name) {
                    ctx.err(
                        item.line,
                        format!("notification config name {:?} is not unique", r.name),
                    );
                    continue;
                }
                c.receivers.push(r);
            }
        }
    }
    if let Some(list) = m.value("inhibit_rules") {
        for item in decode::seq(ctx, list, "inhibit_rules") {
            if let Some(r) = decode_inhibit(ctx, item) {
                c.inhibit_rules.push(r);
            }
        }
    }
    match m.value("route") {
        None => ctx.err(m.line, "no route provided in config"),
        Some(r) => {
            let defaults = Route {
                group_wait: Duration::from_secs(30),
                group_interval: Duration::from_secs(300),
                repeat_interval: Duration::from_secs(4 * 3600),
                ..Route::default()
            };
            if let Some(route) = decode_route(ctx, r, &defaults) {
                if route.receiver.is_empty() {
                    ctx.err(route.line, "root route must specify a default receiver");
                }
                if !route.matchers.0.is_empty() {
                    ctx.err(route.line, "root route must not have any matchers");
                }
                if !route.mute_time_intervals.is_empty() {
                    ctx.err(
                        route.line,
                        "root route must not have any mute time intervals",
                    );
                }
                if !route.active_time_intervals.is_empty() {
                    ctx.err(
                        route.line,
                        "root route must not have any active time intervals",
                    );
                }
                check_route_refs(ctx, &route, c);
                c.route = route;
            }
        }
    }
    m.finish(ctx);
}

fn check_route_refs(ctx: &mut Ctx, r: &Route, c: &AmConfig) {
    if !r.receiver.is_empty() && !c.receivers.iter().any(|x| x.name == r.receiver) {
        ctx.err(
            r.line,
            format!("undefined receiver {:?} used in route", r.receiver),
        );
    }
    for t in r.mute_time_intervals.iter().chain(&r.active_time_intervals) {
        if !c.time_intervals.contains_key(t) {
            ctx.err(
                r.line,
                format!("undefined time interval {t:?} used in route"),
            );
        }
    }
    for child in &r.routes {
        check_route_refs(ctx, child, c);
    }
}

fn decode_global(ctx: &mut Ctx, n: &Node, set: &mut BTreeMap<String, bool>) -> Global {
    let mut g = Global::default();
    let Some(mut m) = MapReader::open(ctx, n, "global", "config.GlobalConfig") else {
        return g;
    };
    let line = m.line;
    if let Some(d) = m.duration(ctx, "resolve_timeout") {
        g.resolve_timeout = d;
    }
    if let Some(h) = m.value("http_config") {
        g.http_config = decode_http_client(ctx, h);
    }
    g.smtp_from = m.string(ctx, "smtp_from").unwrap_or_default();
    if let Some(h) = m.string(ctx, "smtp_hello") {
        g.smtp_hello = h;
    }
    g.smtp_smarthost = m.string(ctx, "smtp_smarthost").unwrap_or_default();
    g.smtp_auth_username = m.string(ctx, "smtp_auth_username").unwrap_or_default();
    g.smtp_auth_password = secret(&mut m, ctx, "smtp_auth_password");
    g.smtp_auth_password_file = m
        .path(ctx, "smtp_auth_password_file")
        .filter(|p| !p.as_os_str().is_empty());
    g.smtp_auth_secret = secret(&mut m, ctx, "smtp_auth_secret");
    let _ = m.path(ctx, "smtp_auth_secret_file");
    g.smtp_auth_identity = m.string(ctx, "smtp_auth_identity").unwrap_or_default();
    if let Some(b) = m.bool(ctx, "smtp_require_tls") {
        g.smtp_require_tls = b;
    }
    at_most_one(
        ctx,
        line,
        g.smtp_auth_password.is_some(),
        g.smtp_auth_password_file.is_some(),
        "smtp_auth_password",
        "smtp_auth_password_file",
    );
    g.slack_api_url = secret(&mut m, ctx, "slack_api_url");
    g.slack_api_url_file = m.path(ctx, "slack_api_url_file");
    at_most_one(
        ctx,
        line,
        g.slack_api_url.is_some(),
        g.slack_api_url_file.is_some(),
        "slack_api_url",
        "slack_api_url_file",
    );
    let app_token = m.string(ctx, "slack_app_token").is_some();
    let app_token_file = m.string(ctx, "slack_app_token_file").is_some();
    let _ = m.string(ctx, "slack_app_url");
    at_most_one(
        ctx,
        line,
        app_token,
        app_token_file,
        "slack_app_token",
        "slack_app_token_file",
    );
    // A bot token goes with the chat.postMessage API URL only.
    let webhook_url = g
        .slack_api_url
        .as_ref()
        .is_some_and(|u| u.expose() != SLACK_POST_MESSAGE)
        || g.slack_api_url_file.is_some();
    if (app_token || app_token_file) && webhook_url {
        ctx.err(line, "at most one of slack_app_token/slack_app_token_file & slack_api_url/slack_api_url_file must be configured");
    }
    set.insert(
        "slack".into(),
        g.slack_api_url.is_some() || g.slack_api_url_file.is_some() || app_token || app_token_file,
    );
    if let Some(u) = m.string(ctx, "wechat_api_url") {
        g.wechat_api_url = u;
    }
    g.wechat_api_secret = secret(&mut m, ctx, "wechat_api_secret");
    g.wechat_api_secret_file = m.path(ctx, "wechat_api_secret_file");
    at_most_one(
        ctx,
        line,
        g.wechat_api_secret.is_some(),
        g.wechat_api_secret_file.is_some(),
        "wechat_api_secret",
        "wechat_api_secret_file",
    );
    g.wechat_api_corp_id = m.string(ctx, "wechat_api_corp_id").unwrap_or_default();
    // Globals of integrations pharos does not deliver to: validated only.
    for key in [
        "opsgenie_api_key",
        "victorops_api_key",
        "telegram_bot_token",
        "rocketchat_token",
        "rocketchat_token_id",
        "mattermost_webhook_url",
    ] {
        let inline = secret(&mut m, ctx, key).is_some();
        let file = m
            .string(ctx, &format!("{key}_file"))
            .is_some_and(|s| !s.is_empty());
        at_most_one(ctx, line, inline, file, key, &format!("{key}_file"));
        set.insert(key.to_string(), inline || file);
    }
    for key in [
        "pagerduty_url",
        "opsgenie_api_url",
        "victorops_api_url",
        "telegram_api_url",
        "webex_api_url",
        "rocketchat_api_url",
        "jira_api_url",
        "mattermost_api_url",
    ] {
        let _ = m.string(ctx, key);
    }
    m.finish(ctx);
    g
}

fn decode_route(ctx: &mut Ctx, n: &Node, parent: &Route) -> Option<Route> {
    let mut m = MapReader::open(ctx, n, "route", "config.Route")?;
    let mut r = Route {
        receiver: m
            .string(ctx, "receiver")
            .unwrap_or_else(|| parent.receiver.clone()),
        group_by: parent.group_by.clone(),
        group_by_all: parent.group_by_all,
        group_wait: parent.group_wait,
        group_interval: parent.group_interval,
        repeat_interval: parent.repeat_interval,
        labels: parent.labels.clone(),
        line: n.line,
        ..Route::default()
    };
    if m.has("group_by") {
        let labels = m.strings(ctx, "group_by");
        let line = m.key_line("group_by");
        r.group_by = Vec::new();
        r.group_by_all = false;
        for l in labels {
            if l == "..." {
                r.group_by_all = true;
            } else if r.group_by.contains(&l) {
                ctx.err(line, format!("duplicated label {l:?} in group_by"));
            } else {
                r.group_by.push(l);
            }
        }
        if r.group_by_all && !r.group_by.is_empty() {
            ctx.err(
                line,
                "cannot have wildcard group_by (`...`) and other other labels at the same time",
            );
        }
    }
    let mut matchers = Vec::new();
    if let Some(list) = m.value("matchers") {
        for item in decode::seq(ctx, list, "matchers") {
            if let Some(s) = decode::string(ctx, item, "matchers") {
                match parse_matchers(&s) {
                    Ok(ms) => matchers.extend(ms.0),
                    Err(e) => ctx.err(item.line, format!("matchers: {e}")),
                }
            }
        }
    }
    matchers.extend(legacy_matchers(ctx, &mut m, "match", "match_re"));
    r.matchers = Matchers(matchers);
    r.continue_ = m.bool(ctx, "continue").unwrap_or(false);
    for (key, field) in [
        ("group_wait", 0),
        ("group_interval", 1),
        ("repeat_interval", 2),
    ] {
        if let Some(d) = m.duration(ctx, key) {
            if field > 0 && d.is_zero() {
                ctx.err(m.key_line(key), format!("{key} cannot be zero"));
            }
            match field {
                0 => r.group_wait = d,
                1 => r.group_interval = d,
                _ => r.repeat_interval = d,
            }
        }
    }
    r.labels.extend(m.string_map(ctx, "labels"));
    r.mute_time_intervals = m.strings(ctx, "mute_time_intervals");
    r.active_time_intervals = m.strings(ctx, "active_time_intervals");
    if let Some(list) = m.value("routes") {
        for item in decode::seq(ctx, list, "routes") {
            if let Some(child) = decode_route(ctx, item, &r) {
                r.routes.push(child);
            }
        }
    }
    m.finish(ctx);
    Some(r)
}

/// `match:` (equality) and `match_re:` (anchored regexes), the deprecated
/// forms of `matchers:`.
fn legacy_matchers(ctx: &mut Ctx, m: &mut MapReader, eq_key: &str, re_key: &str) -> Vec<Matcher> {
    let mut out = Vec::new();
    for (key, kind) in [(eq_key, MatchType::Equal), (re_key, MatchType::Regexp)] {
        let Some(n) = m.value(key) else { continue };
        for (k, v) in decode::map_entries(ctx, n, key) {
            let Some(name) = k.as_str() else { continue };
            let value = match &v.kind {
                Kind::Scalar { text, .. } => text.clone(),
                _ if kind == MatchType::Regexp => {
                    ctx.err(
                        v.line,
                        format!("{key}: label {name:?} has no regular expression"),
                    );
                    continue;
                }
                _ => String::new(),
            };
            match Matcher::new(name, &value, kind) {
                Ok(mt) => out.push(mt),
                Err(e) => ctx.err(v.line, format!("{key}: {name}: {e}")),
            }
        }
    }
    out
}

fn decode_inhibit(ctx: &mut Ctx, n: &Node) -> Option<InhibitRule> {
    let mut m = MapReader::open(ctx, n, "inhibit rule", "config.InhibitRule")?;
    let mut rule = InhibitRule::default();
    for (key, legacy_eq, legacy_re, target) in [
        ("source_matchers", "source_match", "source_match_re", false),
        ("target_matchers", "target_match", "target_match_re", true),
    ] {
        let mut ms = Vec::new();
        if let Some(list) = m.value(key) {
            for item in decode::seq(ctx, list, key) {
                if let Some(s) = decode::string(ctx, item, key) {
                    match parse_matchers(&s) {
                        Ok(p) => ms.extend(p.0),
                        Err(e) => ctx.err(item.line, format!("{key}: {e}")),
                    }
                }
            }
        }
        ms.extend(legacy_matchers(ctx, &mut m, legacy_eq, legacy_re));
        if target {
            rule.target = Matchers(ms);
        } else {
            rule.source = Matchers(ms);
        }
    }
    rule.equal = m.strings(ctx, "equal");
    m.finish(ctx);
    Some(rule)
}

fn decode_time_interval(ctx: &mut Ctx, n: &Node) -> Option<(String, Vec<TimeInterval>)> {
    let mut m = MapReader::open(ctx, n, "time interval", "config.TimeInterval")?;
    let name = m.string(ctx, "name").unwrap_or_default();
    if name.is_empty() {
        ctx.err(n.line, "missing name in time interval");
    }
    let mut out = Vec::new();
    if let Some(list) = m.value("time_intervals") {
        for item in decode::seq(ctx, list, "time_intervals") {
            let Some(mut im) =
                MapReader::open(ctx, item, "time interval", "timeinterval.TimeInterval")
            else {
                continue;
            };
            let mut ti = TimeInterval::default();
            let fail = |ctx: &mut Ctx, line: usize, e: String| ctx.err(line, e);
            if let Some(times) = im.value("times") {
                for t in decode::seq(ctx, times, "times") {
                    let Some(mut tm) = MapReader::open(ctx, t, "times", "timeinterval.TimeRange")
                    else {
                        continue;
                    };
                    let start = tm.string(ctx, "start_time").unwrap_or_default();
                    let end = tm.string(ctx, "end_time").unwrap_or_default();
                    tm.finish(ctx);
                    match timeinterval::parse_time_range(&start, &end) {
                        Ok(r) => ti.times.push(r),
                        Err(e) => fail(ctx, t.line, e),
                    }
                }
            }
            let line = im.line;
            for s in im.strings(ctx, "weekdays") {
                match timeinterval::parse_weekday_range(&s) {
                    Ok(r) => ti.weekdays.push(r),
                    Err(e) => fail(ctx, line, e),
                }
            }
            for s in im.strings(ctx, "days_of_month") {
                match timeinterval::parse_day_of_month_range(&s) {
                    Ok(r) => ti.days_of_month.push(r),
                    Err(e) => fail(ctx, line, e),
                }
            }
            for s in im.strings(ctx, "months") {
                match timeinterval::parse_month_range(&s) {
                    Ok(r) => ti.months.push(r),
                    Err(e) => fail(ctx, line, e),
                }
            }
            for s in im.strings(ctx, "years") {
                match timeinterval::parse_year_range(&s) {
                    Ok(r) => ti.years.push(r),
                    Err(e) => fail(ctx, line, e),
                }
            }
            if let Some(loc) = im.string(ctx, "location") {
                match timeinterval::parse_location(&loc) {
                    Ok(l) => ti.location = l,
                    Err(e) => fail(ctx, line, e),
                }
            }
            im.finish(ctx);
            out.push(ti);
        }
    }
    m.finish(ctx);
    Some((name, out))
}

fn decode_receiver<'n>(
    ctx: &mut Ctx,
    n: &'n Node,
    g: &Global,
    globals_set: &BTreeMap<String, bool>,
) -> Option<Receiver> {
    let mut m = MapReader::open(ctx, n, "receiver", "config.Receiver")?;
    let mut r = Receiver {
        name: m.string(ctx, "name").unwrap_or_default(),
        ..Receiver::default()
    };
    if r.name.is_empty() {
        ctx.err(n.line, "missing name in receiver");
    }
    // The entries themselves, not copies: secrets are marked on the nodes
    // of the tree that is shown.
    let items = |ctx: &mut Ctx, m: &mut MapReader<'n>, key: &str| -> &'n [Node] {
        match m.value(key) {
            Some(list) => decode::seq(ctx, list, key),
            None => &[],
        }
    };
    for item in items(ctx, &mut m, "webhook_configs") {
        if let Some(cfg) = decode_webhook(ctx, item, g) {
            r.webhooks.push(cfg);
        }
    }
    for item in items(ctx, &mut m, "email_configs") {
        if let Some(cfg) = decode_email(ctx, item, g) {
            r.emails.push(cfg);
        }
    }
    for item in items(ctx, &mut m, "slack_configs") {
        if let Some(cfg) = decode_slack(ctx, item, g, globals_set) {
            r.slack.push(cfg);
        }
    }
    for item in items(ctx, &mut m, "wechat_configs") {
        if let Some(cfg) = decode_wechat(ctx, item, g) {
            r.wechat.push(cfg);
        }
    }
    for (key, kind) in [
        ("wecom_configs", RobotKind::WeCom),
        ("dingtalk_configs", RobotKind::DingTalk),
        ("feishu_configs", RobotKind::Feishu),
    ] {
        for item in items(ctx, &mut m, key) {
            if let Some(cfg) = decode_robot(ctx, item, key, kind, g) {
                r.robots.push(cfg);
            }
        }
    }
    for (key, global) in UNSUPPORTED {
        let Some(list) = m.value(key) else { continue };
        r.unsupported.push(key.to_string());
        ctx.warnings.push(format!(
            "receiver {:?}: {key} are accepted but pharos does not deliver to them yet",
            r.name
        ));
        for item in decode::seq(ctx, list, key).to_vec() {
            check_unsupported(ctx, &item, key, *global, globals_set);
        }
    }
    m.finish(ctx);
    Some(r)
}

/// Validates an entry of an integration pharos does not deliver to, as far
/// as Alertmanager's loader does: the needed credential somewhere, one of
/// inline and file, SNS's destination, OpsGenie's keys.
fn check_unsupported(
    ctx: &mut Ctx,
    item: &Node,
    key: &str,
    global: Option<(&str, &str)>,
    globals_set: &BTreeMap<String, bool>,
) {
    let Some(mut m) = MapReader::open(ctx, item, "receiver config", "config.plain") else {
        return;
    };
    let type_name = key.trim_end_matches("_configs");
    if let Some((gkey, missing)) = global {
        // The receiver's own key: the global's without its prefix.
        let local = match gkey {
            "rocketchat_token" => "token",
            "telegram_bot_token" => "bot_token",
            "mattermost_webhook_url" => "webhook_url",
            other => other.trim_start_matches(&format!("{type_name}_")[..]),
        };
        let inline = m.has(local);
        let file = m.has(&format!("{local}_file"));
        at_most_one(
            ctx,
            item.line,
            inline,
            file,
            local,
            &format!("{local}_file"),
        );
        if !inline && !file && !globals_set.get(gkey).copied().unwrap_or(false) {
            ctx.err(item.line, missing);
        }
    }
    if key == "sns_configs"
        && !["target_arn", "topic_arn", "phone_number"]
            .iter()
            .any(|k| m.has(k))
    {
        ctx.err(
            item.line,
            "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config",
        );
    }
    // Everything else of these integrations is accepted as written, their
    // `Secret` fields hidden when the configuration is shown.
    for (k, node) in m.take_rest() {
        if key == "opsgenie_configs" && !OPSGENIE_KEYS.contains(&k) {
            ctx.err(item.line, format!("unknown key {k:?} in opsgenie config (field {k} not found in type opsgenie.plain)"));
        }
        if UNSUPPORTED_SECRETS.contains(&k) {
            ctx.hidden.secret(node);
        }
        if k == "http_config" {
            // Read for its secrets (and checks) only.
            let _ = decode_http_client(ctx, node);
        }
    }
    m.finish(ctx);
}

/// Alertmanager's `Secret` and `SecretURL` fields of the integrations
/// pharos does not deliver to (PagerDuty, OpsGenie, VictorOps, Pushover,
/// Telegram, Webex, SNS, Discord, MS Teams, Rocket.Chat, Jira,
/// Mattermost).
const UNSUPPORTED_SECRETS: &[&str] = &[
    "routing_key",
    "service_key",
    "api_key",
    "api_url",
    "token",
    "user_key",
    "bot_token",
    "webhook_url",
    "token_id",
    "secret_key",
    "sigv4",
    "url",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(f: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/notify/testdata")
            .join(f)
    }

    /// Alertmanager's own loader fixtures: the 20 that load, load; the 26
    /// that fail, fail with Alertmanager's message.
    #[test]
    fn alertmanager_fixtures() {
        let table = std::fs::read_to_string(testdata("EXPECTATIONS.tsv")).unwrap();
        let (mut ok, mut bad) = (0, 0);
        for line in table
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split('\t').collect();
            let (file, expected, message) = (cols[0], cols[1], cols[2]);
            let result = load_file(&testdata(file));
            match expected {
                "ok" => {
                    result.unwrap_or_else(|e| panic!("{file} should load:\n{e}"));
                    ok += 1;
                }
                _ => {
                    let e = result
                        .err()
                        .unwrap_or_else(|| panic!("{file} should fail with {message:?}"))
                        .to_string();
                    // The wording after Go's yaml prefix is what is compared.
                    let want = message.rsplit("\\n").next().unwrap().trim();
                    let want = want
                        .split_once(": ")
                        .filter(|(l, _)| l.starts_with("line "))
                        .map_or(want, |(_, w)| w);
                    assert!(e.contains(want), "{file}: {e:?} lacks {want:?}");
                    bad += 1;
                }
            }
        }
        assert_eq!((ok, bad), (20, 26));
    }

    #[test]
    fn example_configurations_load() {
        for f in [
            "example-simple.yml",
            "example-route_labels.yml",
            "example-ha.yml",
            "cli-conf.routing.yml",
        ] {
            load_file(&testdata(f)).unwrap_or_else(|e| panic!("{f}:\n{e}"));
        }
    }

    #[test]
    fn routes_inherit_and_defaults_fill_in() {
        let (c, _) = load_str(
            "route:\n  receiver: a\n  group_by: [alertname]\n  routes:\n  - matchers: ['severity=\"page\"', 'team=~\"db|web\"']\n    receiver: b\n    group_wait: 5s\n    routes:\n    - match: {x: y}\n      continue: true\nreceivers:\n- name: a\n- name: b\n  webhook_configs:\n  - url: http://hook.example/\n",
            "am.yml",
            Path::new(""),
        )
        .unwrap();
        let r = &c.route;
        assert_eq!(
            (r.group_wait, r.group_interval, r.repeat_interval),
            (
                Duration::from_secs(30),
                Duration::from_secs(300),
                Duration::from_secs(14400)
            )
        );
        let child = &r.routes[0];
        assert_eq!(child.receiver, "b");
        assert_eq!(child.group_by, vec!["alertname".to_string()]);
        assert_eq!(child.group_wait, Duration::from_secs(5));
        assert_eq!(child.matchers.0.len(), 2);
        let grandchild = &child.routes[0];
        assert_eq!(grandchild.receiver, "b");
        assert_eq!(grandchild.group_wait, Duration::from_secs(5));
        assert!(grandchild.continue_);
        assert_eq!(grandchild.matchers.0[0].to_string(), "x=\"y\"");
        assert!(c.receivers[1].webhooks[0].send_resolved);
    }

    #[test]
    fn alerts_follow_the_routing_tree() {
        let (c, _) = load_file(&testdata("example-simple.yml")).unwrap();
        let receivers = |pairs: &[(&str, &str)]| -> Vec<String> {
            let labels = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            c.route
                .matching(&labels)
                .iter()
                .map(|r| r.receiver.clone())
                .collect()
        };
        assert_eq!(receivers(&[("service", "database")]), ["team-DB-pager"]);
        assert_eq!(
            receivers(&[("service", "files"), ("severity", "critical")]),
            ["team-Y-pager"]
        );
        assert_eq!(receivers(&[("service", "nothing")]), ["team-X-mails"]);
        assert_eq!(
            receivers(&[("service", "database"), ("owner", "team-Y")]),
            ["team-Y-pager"]
        );
        assert_eq!(
            receivers(&[("service", "database"), ("owner", "team-X")]),
            ["team-X-pager"]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let e = load_str(
            "route:\n  receiver: nobody\n  group_by: ['...', job]\n  routes:\n  - receiver: a\n    mute_time_intervals: [never]\n    repeat_interval: 0s\nreceivers:\n- name: a\n- name: a\n- name: c\n  bogus: 1\n",
            "am.yml",
            Path::new(""),
        )
        .unwrap_err();
        let text = e.to_string();
        for want in [
            "am.yml:2: undefined receiver \"nobody\" used in route",
            "am.yml:3: cannot have wildcard group_by",
            "am.yml:5: undefined time interval \"never\" used in route",
            "am.yml:7: repeat_interval cannot be zero",
            "am.yml:10: notification config name \"a\" is not unique",
            "am.yml:12: unknown key \"bogus\"",
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
    }

    #[test]
    fn pharos_robot_receivers() {
        let (c, warnings) = load_str(
            "route:\n  receiver: chat\nreceivers:\n- name: chat\n  dingtalk_configs:\n  - url: https://oapi.dingtalk.com/robot/send?access_token=x\n    secret: SEC1\n  feishu_configs:\n  - url: https://open.feishu.cn/open-apis/bot/v2/hook/x\n  wecom_configs:\n  - url: https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x\n  pagerduty_configs:\n  - routing_key: abc\n",
            "am.yml",
            Path::new(""),
        )
        .unwrap();
        let kinds: Vec<RobotKind> = c.receivers[0].robots.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [RobotKind::WeCom, RobotKind::DingTalk, RobotKind::Feishu]
        );
        assert_eq!(
            c.receivers[0].robots[1].secret.as_ref().unwrap().expose(),
            "SEC1"
        );
        assert_eq!(c.receivers[0].unsupported, ["pagerduty_configs"]);
        assert!(warnings[0].contains("pagerduty_configs"), "{warnings:?}");
    }
}
