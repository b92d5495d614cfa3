//! The dispatcher: sorts alerts into aggregation groups along the route
//! tree and decides when each group is flushed (Alertmanager's
//! `dispatch.Dispatcher` and `aggrGroup`).
//!
//! It is a plain state machine over an explicit `now`, with no timers of
//! its own: the notifier's loop asks [`Dispatcher::due`] for the groups to
//! flush and sleeps until [`Dispatcher::next_deadline`], and tests step
//! through time exactly. The timing rules are Alertmanager's: a new group
//! waits `group_wait` (or flushes at once when an alert of it started more
//! than `group_wait` ago), then flushes every `group_interval`; a flush
//! that succeeded forgets the resolved alerts it announced, and a group
//! with no alerts left goes away.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::alert::Alert;
use super::config::{AmConfig, Route};

/// A route's identity and the options its groups use.
#[derive(Clone, Debug)]
pub struct RouteInfo {
    /// Alertmanager's route key: the matchers of the path from the root,
    /// `{}/{env="prod"}` (the prefix of group keys).
    pub key: String,
    /// Unique among routes: the key plus the position among siblings.
    pub id: String,
    pub receiver: String,
    pub group_by: Vec<String>,
    pub group_by_all: bool,
    pub group_wait: i64,
    pub group_interval: i64,
    pub repeat_interval: i64,
    pub mute_time_intervals: Vec<String>,
    pub active_time_intervals: Vec<String>,
}

fn ms(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// A group's state.
#[derive(Debug)]
pub struct Group {
    pub route: Arc<RouteInfo>,
    /// Alertmanager's group key, `{route key}:{group labels}`.
    pub key: String,
    pub labels: BTreeMap<String, String>,
    pub alerts: BTreeMap<u64, Alert>,
    next_flush: i64,
    has_flushed: bool,
    /// A flush is being delivered; the next waits for it.
    in_flight: bool,
}

/// What a flush delivers: one group's alerts at the time of the flush.
#[derive(Clone, Debug)]
pub struct Flush {
    pub route: Arc<RouteInfo>,
    pub group_key: String,
    pub group_labels: BTreeMap<String, String>,
    /// Sorted as Alertmanager sorts them; firing alerts carry no end.
    pub alerts: Vec<Alert>,
    /// When the flush was taken (Unix ms).
    pub now: i64,
}

pub struct Dispatcher {
    config: Arc<AmConfig>,
    /// Route pointer (into `config`) → its info.
    routes: HashMap<usize, Arc<RouteInfo>>,
    /// (route id, group key) → group.
    groups: BTreeMap<(String, String), Group>,
}

impl Dispatcher {
    pub fn new(config: Arc<AmConfig>) -> Dispatcher {
        let mut routes = HashMap::new();
        walk(&config.route, None, 0, &mut routes);
        Dispatcher {
            config,
            routes,
            groups: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &Arc<AmConfig> {
        &self.config
    }

    /// The routes an alert goes to.
    pub fn routes_for(&self, labels: &BTreeMap<String, String>) -> Vec<Arc<RouteInfo>> {
        self.config
            .route
            .matching(labels)
            .into_iter()
            .filter_map(|r| self.routes.get(&(r as *const Route as usize)).cloned())
            .collect()
    }

    /// Hands a (merged) alert to every group it belongs to.
    pub fn insert(&mut self, alert: &Alert, now: i64) {
        for route in self.routes_for(&alert.labels) {
            let labels: BTreeMap<String, String> = if route.group_by_all {
                alert.labels.clone()
            } else {
                route
                    .group_by
                    .iter()
                    .filter_map(|l| alert.labels.get(l).map(|v| (l.clone(), v.clone())))
                    .collect()
            };
            let key = format!("{}:{}", route.key, label_set_string(&labels));
            let g = self
                .groups
                .entry((route.id.clone(), key.clone()))
                .or_insert_with(|| Group {
                    next_flush: now + route.group_wait,
                    route: route.clone(),
                    key,
                    labels,
                    alerts: BTreeMap::new(),
                    has_flushed: false,
                    in_flight: false,
                });
            g.alerts.insert(alert.fingerprint(), alert.clone());
            // An alert that has already waited long enough (it started
            // group_wait ago) does not wait again.
            if !g.has_flushed && alert.starts_at + g.route.group_wait < now {
                g.next_flush = now;
            }
        }
    }

    /// Takes the flushes due at `now`; each group's next flush is one
    /// `group_interval` later.
    pub fn due(&mut self, now: i64) -> Vec<Flush> {
        let mut out = Vec::new();
        for g in self.groups.values_mut() {
            if g.in_flight || g.next_flush > now {
                continue;
            }
            g.has_flushed = true;
            g.in_flight = true;
            g.next_flush = now + g.route.group_interval;
            let mut alerts: Vec<Alert> = g
                .alerts
                .values()
                .map(|a| {
                    let mut a = a.clone();
                    // Firing alerts must not resolve while the message
                    // travels.
                    if !a.resolved_at(now) {
                        a.ends_at = 0;
                    }
                    a
                })
                .collect();
            alerts.sort_by(alert_order);
            out.push(Flush {
                route: g.route.clone(),
                group_key: g.key.clone(),
                group_labels: g.labels.clone(),
                alerts,
                now,
            });
        }
        out
    }

    /// Reports how a flush went: after success the resolved alerts it
    /// carried are forgotten unless they changed meanwhile, and an empty
    /// group is removed.
    pub fn flushed(&mut self, f: &Flush, ok: bool) {
        let id = (f.route.id.clone(), f.group_key.clone());
        let Some(g) = self.groups.get_mut(&id) else {
            return;
        };
        g.in_flight = false;
        if ok {
            for a in f.alerts.iter().filter(|a| a.resolved_at(f.now)) {
                let fp = a.fingerprint();
                if g.alerts
                    .get(&fp)
                    .is_some_and(|cur| cur.updated_at == a.updated_at)
                {
                    g.alerts.remove(&fp);
                }
            }
        }
        if g.alerts.is_empty() {
            self.groups.remove(&id);
        }
    }

    /// The earliest pending flush, if any group waits.
    pub fn next_deadline(&self) -> Option<i64> {
        self.groups
            .values()
            .filter(|g| !g.in_flight)
            .map(|g| g.next_flush)
            .min()
    }

    /// The current groups, in key order.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }
}

fn walk(r: &Route, parent: Option<&str>, index: usize, out: &mut HashMap<usize, Arc<RouteInfo>>) {
    let key = match parent {
        Some(p) => format!("{p}/{}", r.matchers),
        None => r.matchers.to_string(),
    };
    let id = match parent {
        Some(_) => format!("{key}/{index}"),
        None => key.clone(),
    };
    out.insert(
        r as *const Route as usize,
        Arc::new(RouteInfo {
            key: key.clone(),
            id,
            receiver: r.receiver.clone(),
            group_by: r.group_by.clone(),
            group_by_all: r.group_by_all,
            group_wait: ms(r.group_wait),
            group_interval: ms(r.group_interval),
            repeat_interval: ms(r.repeat_interval),
            mute_time_intervals: r.mute_time_intervals.clone(),
            active_time_intervals: r.active_time_intervals.clone(),
        }),
    );
    for (i, c) in r.routes.iter().enumerate() {
        walk(c, Some(&key), i, out);
    }
}

/// A label set as Prometheus's `LabelSet.String` prints it:
/// `{a="b", c="d"}`.
pub fn label_set_string(labels: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::template::go_quote(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Alertmanager's `AlertSlice` order: by `job`, then `instance` (alerts
/// lacking one sort after those having it), then by label set.
pub fn alert_order(a: &Alert, b: &Alert) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for key in ["job", "instance"] {
        match (a.labels.get(key), b.labels.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    if label_set_before(&a.labels, &b.labels) {
        Ordering::Less
    } else if label_set_before(&b.labels, &a.labels) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// Prometheus's `LabelSet.Before`: fewer labels first, then the first
/// differing name or value over the sorted names of both.
fn label_set_before(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    for n in names {
        let Some(x) = a.get(n) else { return true };
        let Some(y) = b.get(n) else { return false };
        if x != y {
            return x < y;
        }
    }
    false
}
