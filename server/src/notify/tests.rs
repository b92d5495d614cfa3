//! Timeline tests: the notifier driven by a hand-moved clock, asserting
//! exactly which notifications go out when.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::alert::Alert;
use super::config;
use super::notifier::{Notifier, NotifierOptions};
use super::pipeline::DeliveryOptions;
use super::receivers::{Integration, Notification, NotifyError, NotifyFuture};
use super::silence::{Silence, SilenceMatcher};
use crate::storage::state::{MemState, StateStore};
use crate::storage::Clock;

/// 2024-01-01T00:00:00Z, a Monday.
const T0: i64 = 1_704_067_200_000;
const S: i64 = 1000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;

/// What a recorder saw: when, for which receiver and group, and each
/// alert's name and status.
#[derive(Clone, Debug, PartialEq)]
struct Sent {
    at: i64,
    receiver: String,
    group: String,
    alerts: Vec<(String, &'static str)>,
}

#[derive(Default)]
struct Log {
    sent: Mutex<Vec<Sent>>,
    attempts: AtomicUsize,
    /// Attempts to fail before succeeding, and whether they are retryable.
    fail: Mutex<(usize, bool)>,
}

struct Recorder {
    log: Arc<Log>,
    send_resolved: bool,
}

impl Integration for Recorder {
    fn name(&self) -> &'static str {
        "webhook"
    }
    fn send_resolved(&self) -> bool {
        self.send_resolved
    }
    fn notify<'a>(&'a self, n: &'a Notification) -> NotifyFuture<'a> {
        Box::pin(async move {
            self.log.attempts.fetch_add(1, Ordering::SeqCst);
            {
                let mut f = self.log.fail.lock().unwrap();
                if f.0 > 0 {
                    f.0 -= 1;
                    return Err(NotifyError {
                        retry: f.1,
                        message: "receiver down".into(),
                    });
                }
            }
            self.log.sent.lock().unwrap().push(Sent {
                at: n.now,
                receiver: n.receiver.clone(),
                group: n.group_key.clone(),
                alerts: n
                    .alerts
                    .iter()
                    .map(|a| (a.name().to_string(), a.status_at(n.now)))
                    .collect(),
            });
            Ok(())
        })
    }
}

struct Harness {
    now: Arc<AtomicI64>,
    log: Arc<Log>,
    state: Arc<MemState>,
    notifier: Arc<Notifier>,
}

impl Harness {
    fn new(yaml: &str) -> Harness {
        Harness::with_state(
            yaml,
            Arc::new(MemState::default()),
            T0,
            Arc::new(Log::default()),
        )
    }

    fn with_state(yaml: &str, state: Arc<MemState>, start: i64, log: Arc<Log>) -> Harness {
        let now = Arc::new(AtomicI64::new(start));
        let (cfg, _) = config::load_str(yaml, "test.yml", Path::new("")).expect("config");
        let clock_now = now.clone();
        let rec_log = log.clone();
        let opts = NotifierOptions {
            clock: Clock::from_fn(move || clock_now.load(Ordering::SeqCst)),
            build: Arc::new(move |r: &config::Receiver, _: &config::Global| {
                // One recorder per webhook entry; its send_resolved is the
                // entry's.
                Ok(r.webhooks
                    .iter()
                    .map(|w| {
                        Arc::new(Recorder {
                            log: rec_log.clone(),
                            send_resolved: w.send_resolved,
                        }) as Arc<dyn Integration>
                    })
                    .collect())
            }),
            state: state.clone() as Arc<dyn StateStore>,
            external_url: "http://pharos.example:9090".into(),
            retention: Duration::from_secs(120 * 3600),
            delivery: DeliveryOptions {
                retry_min: Duration::from_millis(1),
                retry_max: Duration::from_millis(4),
                rate_burst: 1000,
                rate_per_minute: 60_000,
            },
        };
        let notifier = Notifier::new(opts, cfg).expect("notifier");
        Harness {
            now,
            log,
            state,
            notifier,
        }
    }

    fn at(&self, t: i64) {
        self.now.store(t, Ordering::SeqCst);
    }

    /// Moves the clock to `t` and runs what is due.
    async fn step(&self, t: i64) {
        self.at(t);
        self.notifier.tick().await;
    }

    /// Steps through `[from, to]` every `every` ms.
    async fn run(&self, from: i64, to: i64, every: i64) {
        let mut t = from;
        while t <= to {
            self.step(t).await;
            t += every;
        }
    }

    fn post(&self, labels: &[(&str, &str)], starts_at: i64, ends_at: i64) {
        let errors = self
            .notifier
            .put_alerts(vec![alert(labels, starts_at, ends_at)]);
        assert!(errors.is_empty(), "{errors:?}");
    }

    fn take(&self) -> Vec<Sent> {
        std::mem::take(&mut *self.log.sent.lock().unwrap())
    }
}

fn alert(labels: &[(&str, &str)], starts_at: i64, ends_at: i64) -> Alert {
    Alert {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        annotations: BTreeMap::new(),
        starts_at,
        ends_at,
        generator_url: String::new(),
        updated_at: 0,
        timeout: false,
    }
}

fn sent(at: i64, group: &str, alerts: &[(&str, &'static str)]) -> Sent {
    Sent {
        at,
        receiver: "team".into(),
        group: group.into(),
        alerts: alerts.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
    }
}

const BASIC: &str = "
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: team
    webhook_configs:
      - url: http://127.0.0.1:1/hook
        send_resolved: true
";

#[tokio::test]
async fn group_wait_then_interval_then_repeat() {
    let h = Harness::new(BASIC);
    // Prometheus re-sends every minute with an end 4 minutes ahead.
    h.at(T0);
    h.post(&[("alertname", "A"), ("instance", "a")], T0, T0 + 4 * M);
    h.step(T0).await;
    h.step(T0 + 29 * S).await;
    assert_eq!(h.take(), vec![], "nothing before group_wait");
    h.step(T0 + 30 * S).await;
    assert_eq!(
        h.take(),
        vec![sent(
            T0 + 30 * S,
            "{}:{alertname=\"A\"}",
            &[("A", "firing")]
        )]
    );

    // A second alert joins the group: announced at the next interval,
    // not before.
    h.at(T0 + M);
    h.post(&[("alertname", "A"), ("instance", "b")], T0 + M, T0 + 5 * M);
    h.run(T0 + M, T0 + 5 * M + 29 * S, 10 * S).await;
    assert_eq!(h.take(), vec![]);
    // Keep both alive by re-sending, as Prometheus would.
    let keep_alive = |h: &Harness, t: i64| {
        h.at(t);
        h.post(&[("alertname", "A"), ("instance", "a")], T0, t + 4 * M);
        h.post(&[("alertname", "A"), ("instance", "b")], T0 + M, t + 4 * M);
    };
    keep_alive(&h, T0 + 5 * M + 30 * S);
    h.step(T0 + 5 * M + 30 * S).await;
    assert_eq!(
        h.take(),
        vec![sent(
            T0 + 5 * M + 30 * S,
            "{}:{alertname=\"A\"}",
            &[("A", "firing"), ("A", "firing")]
        )]
    );

    // Nothing changes: silence until the repeat interval has passed since
    // the last message, then one repeat at the next group flush.
    let mut t = T0 + 10 * M + 30 * S;
    while t < T0 + 5 * M + 30 * S + 4 * H {
        keep_alive(&h, t);
        h.step(t).await;
        t += 5 * M;
    }
    assert_eq!(h.take(), vec![], "no repeat before repeat_interval");
    keep_alive(&h, t);
    h.step(t).await;
    assert_eq!(t, T0 + 4 * H + 5 * M + 30 * S);
    assert_eq!(h.take().len(), 1, "one repeat");
}

#[tokio::test]
async fn resolution_is_announced_once_with_send_resolved() {
    let h = Harness::new(BASIC);
    h.at(T0);
    h.post(&[("alertname", "A")], T0, T0 + 4 * M);
    h.step(T0 + 30 * S).await;
    assert_eq!(h.take().len(), 1);
    // Resolved by the sender at T0+2m.
    h.at(T0 + 2 * M);
    h.post(&[("alertname", "A")], T0, T0 + 2 * M);
    h.run(T0 + 2 * M, T0 + 5 * M + 20 * S, 10 * S).await;
    assert_eq!(h.take(), vec![]);
    h.step(T0 + 5 * M + 30 * S).await;
    assert_eq!(
        h.take(),
        vec![sent(
            T0 + 5 * M + 30 * S,
            "{}:{alertname=\"A\"}",
            &[("A", "resolved")]
        )]
    );
    // The group is gone: no more messages.
    h.run(T0 + 6 * M, T0 + 5 * H, 5 * M).await;
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.notifier.groups().len(), 0);
}

#[tokio::test]
async fn resolution_without_send_resolved_sends_nothing_but_clears_the_log() {
    let h = Harness::new(&BASIC.replace("send_resolved: true", "send_resolved: false"));
    h.at(T0);
    h.post(&[("alertname", "A")], T0, T0 + 4 * M);
    h.step(T0 + 30 * S).await;
    assert_eq!(h.take().len(), 1);
    h.at(T0 + M);
    h.post(&[("alertname", "A")], T0, T0 + M);
    h.run(T0 + M, T0 + 20 * M, 30 * S).await;
    assert_eq!(h.take(), vec![]);
    // Fires again later: a new message right after group_wait (the log
    // no longer lists it as firing).
    h.at(T0 + 30 * M);
    h.post(&[("alertname", "A")], T0 + 30 * M, T0 + 34 * M);
    h.step(T0 + 30 * M).await;
    h.step(T0 + 30 * M + 30 * S).await;
    assert_eq!(h.take().len(), 1);
}

#[tokio::test]
async fn an_alert_that_already_waited_is_sent_at_once() {
    let h = Harness::new(BASIC);
    h.at(T0);
    // Started an hour ago (Prometheus restarted, say): no group_wait.
    h.post(&[("alertname", "Old")], T0 - H, T0 + 4 * M);
    h.step(T0).await;
    assert_eq!(
        h.take(),
        vec![sent(T0, "{}:{alertname=\"Old\"}", &[("Old", "firing")])]
    );
}

#[tokio::test]
async fn alert_without_end_resolves_after_resolve_timeout() {
    let h = Harness::new(&format!("global:\n  resolve_timeout: 2m\n{BASIC}"));
    h.at(T0);
    h.post(&[("alertname", "A")], T0, 0);
    h.step(T0 + 30 * S).await;
    assert_eq!(h.take().len(), 1);
    h.run(T0 + M, T0 + 5 * M + 30 * S, 30 * S).await;
    assert_eq!(
        h.take(),
        vec![sent(
            T0 + 5 * M + 30 * S,
            "{}:{alertname=\"A\"}",
            &[("A", "resolved")]
        )]
    );
}

#[tokio::test]
async fn routes_with_continue_and_child_timing() {
    let yaml = "
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: ['severity=\"critical\"']
      receiver: pager
      group_wait: 10s
      continue: true
    - matchers: ['severity=~\"critical|warning\"']
      receiver: team
receivers:
  - name: team
    webhook_configs: [{url: 'http://127.0.0.1:1/'}]
  - name: pager
    webhook_configs: [{url: 'http://127.0.0.1:1/'}]
";
    let h = Harness::new(yaml);
    h.at(T0);
    h.post(
        &[("alertname", "Disk"), ("severity", "critical")],
        T0,
        T0 + H,
    );
    h.post(&[("alertname", "Cpu"), ("severity", "info")], T0, T0 + H);
    h.run(T0, T0 + 40 * S, 5 * S).await;
    let mut got: Vec<(i64, String, String)> = h
        .take()
        .into_iter()
        .map(|s| (s.at - T0, s.receiver, s.group))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                10 * S,
                "pager".into(),
                "{}/{severity=\"critical\"}:{alertname=\"Disk\"}".into()
            ),
            (
                30 * S,
                "team".into(),
                "{}/{severity=~\"critical|warning\"}:{alertname=\"Disk\"}".into()
            ),
            (30 * S, "team".into(), "{}:{alertname=\"Cpu\"}".into()),
        ]
    );
}

#[tokio::test]
async fn inhibition_mutes_targets_while_the_source_fires() {
    let yaml = format!(
        "{BASIC}inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [instance]
"
    );
    let h = Harness::new(&yaml.replace("group_by: [alertname]", "group_by: ['...']"));
    h.at(T0);
    h.post(
        &[
            ("alertname", "Down"),
            ("severity", "critical"),
            ("instance", "a"),
        ],
        T0,
        T0 + H,
    );
    h.post(
        &[
            ("alertname", "Slow"),
            ("severity", "warning"),
            ("instance", "a"),
        ],
        T0,
        T0 + H,
    );
    // Another instance: not inhibited.
    h.post(
        &[
            ("alertname", "Slow"),
            ("severity", "warning"),
            ("instance", "b"),
        ],
        T0,
        T0 + H,
    );
    h.step(T0 + 30 * S).await;
    let mut names: Vec<String> = h.take().into_iter().map(|s| s.group).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "{}:{alertname=\"Down\", instance=\"a\", severity=\"critical\"}".to_string(),
            "{}:{alertname=\"Slow\", instance=\"b\", severity=\"warning\"}".to_string(),
        ]
    );
    let inhibited: Vec<_> = h
        .notifier
        .alerts()
        .into_iter()
        .filter(|v| !v.inhibited_by.is_empty())
        .collect();
    assert_eq!(inhibited.len(), 1);
    assert_eq!(inhibited[0].state(), "suppressed");

    // The source resolves: the target is announced at its next flush.
    h.at(T0 + M);
    h.post(
        &[
            ("alertname", "Down"),
            ("severity", "critical"),
            ("instance", "a"),
        ],
        T0,
        T0 + M,
    );
    h.step(T0 + 5 * M + 30 * S).await;
    let groups: Vec<String> = h.take().into_iter().map(|s| s.group).collect();
    assert!(
        groups
            .contains(&"{}:{alertname=\"Slow\", instance=\"a\", severity=\"warning\"}".to_string()),
        "{groups:?}"
    );
}

fn silence(matchers: &[(&str, &str)], starts: i64, ends: i64) -> Silence {
    Silence {
        id: String::new(),
        matchers: matchers
            .iter()
            .map(|(n, v)| SilenceMatcher {
                name: n.to_string(),
                value: v.to_string(),
                is_regex: false,
                is_equal: true,
            })
            .collect(),
        starts_at: starts,
        ends_at: ends,
        updated_at: 0,
        created_by: "tester".into(),
        comment: "maintenance".into(),
    }
}

#[tokio::test]
async fn silence_mutes_until_expired_and_survives_restart() {
    let state = Arc::new(MemState::default());
    let log = Arc::new(Log::default());
    let h = Harness::with_state(BASIC, state.clone(), T0, log.clone());
    let id = h
        .notifier
        .silences()
        .set(silence(&[("alertname", "A")], T0, T0 + H), T0)
        .unwrap();
    h.post(&[("alertname", "A")], T0, T0 + 2 * H);
    h.post(&[("alertname", "B")], T0, T0 + 2 * H);
    h.step(T0 + 30 * S).await;
    assert_eq!(
        h.take(),
        vec![sent(
            T0 + 30 * S,
            "{}:{alertname=\"B\"}",
            &[("B", "firing")]
        )]
    );
    let a = h
        .notifier
        .alerts()
        .into_iter()
        .find(|v| v.alert.name() == "A")
        .unwrap();
    assert_eq!(a.silenced_by, vec![id.clone()]);

    // Restart: the silence is still there and still mutes; B, already
    // announced, is not announced again.
    drop(h);
    let h = Harness::with_state(BASIC, state, T0 + M, log);
    assert_eq!(h.notifier.silences().get(&id).unwrap().created_by, "tester");
    h.post(&[("alertname", "A")], T0, T0 + 2 * H);
    h.post(&[("alertname", "B")], T0, T0 + 2 * H);
    h.run(T0 + M, T0 + 20 * M, 30 * S).await;
    assert_eq!(
        h.take(),
        vec![],
        "nothing twice after a restart, silence kept"
    );

    // Expire the silence: A goes out at the next flush.
    h.notifier.silences().expire(&id, T0 + 21 * M).unwrap();
    h.run(T0 + 21 * M, T0 + 27 * M, 30 * S).await;
    let got = h.take();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].alerts, vec![("A".to_string(), "firing")]);
}

#[tokio::test]
async fn silence_rules_as_alertmanager() {
    let h = Harness::new(BASIC);
    let s = h.notifier.silences();
    // Every matcher matching "" would silence everything.
    let err = s
        .set(silence(&[("alertname", "")], T0, T0 + H), T0)
        .unwrap_err();
    assert!(
        err.to_string().contains("must not match the empty string"),
        "{err}"
    );
    assert!(s.set(silence(&[], T0, T0 + H), T0).is_err());
    assert!(s.set(silence(&[("a", "b")], T0 + H, T0), T0).is_err());
    // Updating the end of an active silence keeps its id; changing its
    // matchers expires it and makes a new one.
    let id = s.set(silence(&[("a", "b")], T0, T0 + H), T0).unwrap();
    let mut longer = s.get(&id).unwrap();
    longer.ends_at = T0 + 2 * H;
    assert_eq!(s.set(longer, T0 + M).unwrap(), id);
    let mut other = s.get(&id).unwrap();
    other.matchers[0].value = "c".into();
    let new_id = s.set(other, T0 + 2 * M).unwrap();
    assert_ne!(new_id, id);
    assert_eq!(s.get(&id).unwrap().state_at(T0 + 2 * M).as_str(), "expired");
    assert_eq!(
        s.get(&new_id).unwrap().state_at(T0 + 2 * M).as_str(),
        "active"
    );
    assert!(s.expire(&id, T0 + 3 * M).is_err(), "already expired");
    assert!(s.expire("nope", T0).is_err());
    // Kept for the retention period, then dropped.
    s.gc(T0 + 2 * M + 121 * H);
    assert!(s.get(&id).is_none());
}

#[tokio::test]
async fn time_intervals_mute_and_activate_routes() {
    let yaml = "
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  routes:
    - matchers: [team=ops]
      receiver: team
      mute_time_intervals: [weekends]
    - matchers: [team=office]
      receiver: team
      active_time_intervals: [office]
time_intervals:
  - name: weekends
    time_intervals: [{weekdays: [saturday, sunday]}]
  - name: office
    time_intervals: [{times: [{start_time: '09:00', end_time: '17:00'}]}]
receivers:
  - name: team
    webhook_configs: [{url: 'http://127.0.0.1:1/'}]
";
    // Saturday 2024-01-06 08:00 UTC.
    let sat = T0 + 5 * 24 * H + 8 * H;
    let h = Harness::with_state(
        yaml,
        Arc::new(MemState::default()),
        sat,
        Arc::new(Log::default()),
    );
    h.post(&[("alertname", "Ops"), ("team", "ops")], sat, sat + 48 * H);
    h.post(
        &[("alertname", "Office"), ("team", "office")],
        sat,
        sat + 48 * H,
    );
    h.run(sat, sat + 50 * M, 5 * M).await;
    assert_eq!(
        h.take(),
        vec![],
        "ops muted on Saturday, office closed before 09:00"
    );
    // 09:00 on Saturday: the office route is active.
    h.run(sat + 55 * M, sat + 70 * M, 5 * M).await;
    let got = h.take();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].alerts[0].0, "Office");
    // Monday 00:00: ops is no longer muted.
    let mon = T0 + 7 * 24 * H;
    // Keep the alerts alive.
    h.at(mon - M);
    h.post(&[("alertname", "Ops"), ("team", "ops")], sat, mon + H);
    h.post(&[("alertname", "Office"), ("team", "office")], sat, mon + H);
    h.run(mon - 5 * M, mon + 5 * M, 5 * M).await;
    let got = h.take();
    assert!(got.iter().any(|s| s.alerts[0].0 == "Ops"), "{got:?}");
}

#[tokio::test]
async fn receiver_down_retries_then_succeeds_once() {
    let h = Harness::new(BASIC);
    *h.log.fail.lock().unwrap() = (2, true);
    h.at(T0);
    h.post(&[("alertname", "A")], T0, T0 + H);
    h.step(T0 + 30 * S).await;
    assert_eq!(
        h.log.attempts.load(Ordering::SeqCst),
        3,
        "two failures, one success"
    );
    assert_eq!(h.take().len(), 1);
    h.run(T0 + M, T0 + H - M, 5 * M).await;
    assert_eq!(h.take(), vec![], "no duplicate after the retried success");
    assert_eq!(h.log.attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_permanent_failure_is_retried_at_the_next_flush() {
    let h = Harness::new(BASIC);
    *h.log.fail.lock().unwrap() = (1, false);
    h.at(T0);
    h.post(&[("alertname", "A")], T0, T0 + H);
    h.step(T0 + 30 * S).await;
    assert_eq!(
        h.log.attempts.load(Ordering::SeqCst),
        1,
        "not retried at once"
    );
    assert_eq!(h.take(), vec![]);
    h.step(T0 + 5 * M + 30 * S).await;
    assert_eq!(h.take().len(), 1);
    assert!(h.state.list("notify/nflog/").unwrap().len() == 1);
}

#[tokio::test]
async fn post_validation_and_defaults() {
    let h = Harness::new(BASIC);
    h.at(T0);
    let errs = h.notifier.put_alerts(vec![
        alert(&[], T0, 0),
        alert(&[("alertname", "")], T0, 0),
        alert(&[("alertname", "Backwards")], T0, T0 - M),
        alert(&[("alertname", "Ok")], 0, 0),
    ]);
    assert_eq!(errs.len(), 3, "{errs:?}");
    let v = h.notifier.alerts();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].alert.starts_at, T0);
    assert_eq!(v[0].alert.ends_at, T0 + 5 * M, "resolve_timeout default 5m");
    assert_eq!(v[0].receivers, vec!["team".to_string()]);
}

#[test]
fn secrets_are_hidden_in_the_shown_config() {
    // Block and flow style alike: the decoder marks what it reads as a
    // secret, wherever and however it is written.
    let text = "global:\n  smtp_auth_password: hunter2\nroute: {receiver: x}\nreceivers:\n  - name: x\n    webhook_configs:\n      - url: http://h/token123\n        send_resolved: true\n        http_config: {basic_auth: {username: u, password: flowpass}}\n    email_configs: [{to: a@b.c, from: f@b.c, smarthost: 'h:25', auth_username: u, auth_password: flowpass2}]\n";
    let (cfg, _) = config::load_str(text, "am.yml", Path::new("")).expect("config");
    let shown = cfg.shown;
    for secret in ["hunter2", "token123", "flowpass", "flowpass2"] {
        assert!(!shown.contains(secret), "{secret} shown in {shown}");
    }
    assert!(
        shown.contains("smtp_auth_password: \"<secret>\""),
        "{shown}"
    );
    assert!(shown.contains("url: \"<secret>\""), "{shown}");
    assert!(shown.contains("send_resolved: true"), "{shown}");
    assert!(shown.contains("username: u"), "{shown}");
    // What is shown is a configuration again.
    assert!(config::load_str(&shown, "shown.yml", Path::new("")).is_ok());
}

#[test]
fn silences_and_log_survive_in_the_database() {
    use super::nflog::{NotificationLog, Recipient};
    use super::silence::Silences;
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Arc::new(crate::storage::Storage::open(dir.path(), Default::default()).unwrap())
            as Arc<dyn StateStore>
    };
    let store = open();
    let silences = Silences::load(store.clone(), H).unwrap();
    let id = silences
        .set(silence(&[("alertname", "A")], T0, T0 + H), T0)
        .unwrap();
    let log = NotificationLog::load(store.clone(), H).unwrap();
    let r = Recipient {
        receiver: "team".into(),
        integration: "webhook".into(),
        index: 0,
        group_key: "{}:{alertname=\"A\"}".into(),
    };
    log.log(&r, [7u64].into_iter().collect(), Default::default(), T0)
        .unwrap();
    // Another key space in the same table is not mistaken for either.
    store.put("rules/alerts/x", b"{}").unwrap();
    drop((silences, log, store));

    let store = open();
    let silences = Silences::load(store.clone(), H).unwrap();
    assert_eq!(silences.get(&id).unwrap().created_by, "tester");
    assert_eq!(silences.list(T0).len(), 1);
    let log = NotificationLog::load(store, H).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        log.get(&r).unwrap().firing.into_iter().collect::<Vec<_>>(),
        vec![7]
    );
}

#[tokio::test]
async fn the_rate_limit_delays_and_then_refuses() {
    use super::pipeline::RateLimiter;
    use tokio::time::Instant;
    let l = RateLimiter::new(2, 60);
    let soon = Instant::now() + Duration::from_millis(50);
    assert!(l.acquire(soon).await);
    assert!(l.acquire(soon).await);
    // The bucket is empty; a token comes back after a second, past the
    // deadline.
    assert!(!l.acquire(soon).await);
    let later = Instant::now() + Duration::from_secs(3);
    let start = Instant::now();
    assert!(l.acquire(later).await);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "waited for the token"
    );
}
