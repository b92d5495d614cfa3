//! The notification pipeline one flush runs through (Alertmanager's
//! `notify` stages): time intervals, inhibition and silences take alerts
//! out; then, for each integration of the receiver in parallel, the
//! notification log decides whether anything must be sent, the message goes
//! out with retries (exponential backoff, until the group's next flush is
//! due) under the receiver's rate limit, and the log records it.

use pharos_agent::sync::LockExt;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use tokio::time::Instant;

use super::alert::Alert;
use super::config::AmConfig;
use super::dispatch::Flush;
use super::inhibit;
use super::nflog::{self, NotificationLog, Recipient};
use super::receivers::{Integration, Notification};
use super::silence::Silences;
use super::timeinterval;

/// Retry and rate-limit settings.
#[derive(Clone, Debug)]
pub struct DeliveryOptions {
    /// First pause after a failed attempt; doubles each time.
    pub retry_min: Duration,
    /// Longest pause between attempts.
    pub retry_max: Duration,
    /// Messages a receiver may send in a burst…
    pub rate_burst: u32,
    /// …and how many it regains per minute.
    pub rate_per_minute: u32,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
            rate_burst: 30,
            rate_per_minute: 60,
        }
    }
}

/// A token bucket: each message takes a token; tokens come back at a
/// steady rate. Waiting for a token is bounded by the caller's deadline,
/// so a flood delays messages instead of dropping them.
pub struct RateLimiter {
    state: Mutex<(f64, Instant)>,
    burst: f64,
    per_sec: f64,
}

impl RateLimiter {
    pub fn new(burst: u32, per_minute: u32) -> RateLimiter {
        RateLimiter {
            state: Mutex::new((burst.max(1) as f64, Instant::now())),
            burst: burst.max(1) as f64,
            per_sec: per_minute.max(1) as f64 / 60.0,
        }
    }

    /// Takes a token, waiting until `deadline` at most; false if none came.
    pub async fn acquire(&self, deadline: Instant) -> bool {
        loop {
            let wait = {
                let mut s = self.state.locked();
                let now = Instant::now();
                s.0 = (s.0 + now.duration_since(s.1).as_secs_f64() * self.per_sec).min(self.burst);
                s.1 = now;
                if s.0 >= 1.0 {
                    s.0 -= 1.0;
                    return true;
                }
                Duration::from_secs_f64((1.0 - s.0) / self.per_sec)
            };
            if Instant::now() + wait > deadline {
                return false;
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// Delivery attempts and failures per integration (`/metrics`).
#[derive(Debug, Default)]
pub struct DeliveryStats(Mutex<std::collections::BTreeMap<&'static str, (u64, u64)>>);

impl DeliveryStats {
    fn record(&self, integration: &'static str, ok: bool) {
        let mut m = self.0.locked();
        let e = m.entry(integration).or_default();
        e.0 += 1;
        if !ok {
            e.1 += 1;
        }
    }

    /// `(integration, attempts, failed attempts)`.
    pub fn snapshot(&self) -> Vec<(&'static str, u64, u64)> {
        let m = self.0.locked();
        m.iter().map(|(k, (n, f))| (*k, *n, *f)).collect()
    }
}

/// What a flush needs from the notifier, taken under its lock once.
pub struct FlushContext {
    pub config: Arc<AmConfig>,
    pub integrations: Vec<Arc<dyn Integration>>,
    pub templates: Arc<crate::template::Template>,
    pub limiter: Arc<RateLimiter>,
    pub external_url: String,
    pub stats: Arc<DeliveryStats>,
}

/// The alerts of a flush that survive time intervals, inhibition and
/// silences; `None` when the route is muted at this time.
pub fn unmuted(
    f: &Flush,
    config: &AmConfig,
    silences: &Silences,
    all_alerts: &[Alert],
) -> Option<Vec<Alert>> {
    let now = f.now;
    let t = Utc.timestamp_millis_opt(now).single()?;
    let intervals = |names: &[String]| {
        names.iter().any(|n| {
            config
                .time_intervals
                .get(n)
                .is_some_and(|iv| timeinterval::any_contains(iv, t))
        })
    };
    if !f.route.active_time_intervals.is_empty() && !intervals(&f.route.active_time_intervals) {
        return None;
    }
    if intervals(&f.route.mute_time_intervals) {
        return None;
    }
    Some(
        f.alerts
            .iter()
            .filter(|a| {
                inhibit::inhibited_by(&config.inhibit_rules, &a.labels, all_alerts, now).is_empty()
            })
            .filter(|a| silences.mutes(&a.labels, now).is_empty())
            .cloned()
            .collect(),
    )
}

/// Runs the per-integration stages for the alerts left after muting;
/// true when every integration is done (sent, or had nothing to send).
pub async fn deliver(
    f: &Flush,
    alerts: Vec<Alert>,
    ctx: FlushContext,
    nflog: Arc<NotificationLog>,
    opts: &DeliveryOptions,
) -> bool {
    let firing: BTreeSet<u64> = alerts
        .iter()
        .filter(|a| !a.resolved_at(f.now))
        .map(Alert::fingerprint)
        .collect();
    let resolved: BTreeSet<u64> = alerts
        .iter()
        .filter(|a| a.resolved_at(f.now))
        .map(Alert::fingerprint)
        .collect();
    let alerts = Arc::new(alerts);
    let mut per_kind: HashMap<&'static str, usize> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for integration in &ctx.integrations {
        let index = per_kind.entry(integration.name()).or_insert(0);
        let recipient = Recipient {
            receiver: f.route.receiver.clone(),
            integration: integration.name().to_string(),
            index: *index,
            group_key: f.group_key.clone(),
        };
        *index += 1;
        let job = Job {
            integration: integration.clone(),
            recipient,
            firing: firing.clone(),
            resolved: resolved.clone(),
            alerts: alerts.clone(),
            flush: f.clone(),
            templates: ctx.templates.clone(),
            external_url: ctx.external_url.clone(),
            limiter: ctx.limiter.clone(),
            stats: ctx.stats.clone(),
            nflog: nflog.clone(),
            opts: opts.clone(),
        };
        tasks.spawn(job.run());
    }
    let mut ok = true;
    while let Some(r) = tasks.join_next().await {
        ok &= r.unwrap_or(false);
    }
    ok
}

struct Job {
    integration: Arc<dyn Integration>,
    recipient: Recipient,
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    alerts: Arc<Vec<Alert>>,
    flush: Flush,
    templates: Arc<crate::template::Template>,
    external_url: String,
    limiter: Arc<RateLimiter>,
    stats: Arc<DeliveryStats>,
    nflog: Arc<NotificationLog>,
    opts: DeliveryOptions,
}

impl Job {
    async fn run(self) -> bool {
        let f = &self.flush;
        let send_resolved = self.integration.send_resolved();
        let entry = self.nflog.get(&self.recipient);
        if !nflog::needs_update(
            entry.as_ref(),
            &self.firing,
            &self.resolved,
            send_resolved,
            f.route.repeat_interval,
            f.now,
        ) {
            return true;
        }
        let to_send: Vec<Alert> = self
            .alerts
            .iter()
            .filter(|a| send_resolved || !a.resolved_at(f.now))
            .cloned()
            .collect();
        // Without send_resolved an all-resolved group sends nothing, but
        // the log still learns that the firing alerts are gone.
        if !to_send.is_empty() && !self.send(to_send).await {
            return false;
        }
        if let Err(e) = self
            .nflog
            .log(&self.recipient, self.firing, self.resolved, f.now)
        {
            // The message went out; only a repeat may follow early.
            tracing::error!(receiver = %self.recipient.receiver, error = %e, "cannot record a sent notification");
        }
        true
    }

    /// One message with retries until the group's next flush is due.
    async fn send(&self, alerts: Vec<Alert>) -> bool {
        let f = &self.flush;
        let n = Notification {
            receiver: f.route.receiver.clone(),
            group_key: f.group_key.clone(),
            group_labels: f.group_labels.clone(),
            alerts,
            now: f.now,
            external_url: self.external_url.clone(),
            templates: self.templates.clone(),
        };
        let budget = Duration::from_millis(f.route.group_interval.max(1000) as u64);
        let deadline = Instant::now() + budget;
        let mut pause = self.opts.retry_min;
        let mut attempt = 1;
        loop {
            if !self.limiter.acquire(deadline).await {
                tracing::warn!(
                    receiver = %n.receiver,
                    integration = self.integration.name(),
                    "rate limit reached; the notification waits for the next flush"
                );
                return false;
            }
            let result = self.integration.notify(&n).await;
            self.stats.record(self.integration.name(), result.is_ok());
            match result {
                Ok(()) => {
                    tracing::debug!(receiver = %n.receiver, integration = self.integration.name(), attempt, "notification sent");
                    return true;
                }
                Err(e) if e.retry && Instant::now() + pause < deadline => {
                    tracing::warn!(
                        receiver = %n.receiver,
                        integration = self.integration.name(),
                        attempt,
                        error = %e,
                        "notification failed; retrying in {:?}",
                        pause
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(self.opts.retry_max);
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(
                        receiver = %n.receiver,
                        integration = self.integration.name(),
                        attempt,
                        error = %e,
                        "notification failed"
                    );
                    return false;
                }
            }
        }
    }
}
