//! The notifier: Alertmanager's half of the loop.
//!
//! Alerts arrive (from pharos's rule evaluator or, through the Alertmanager
//! v2 API, from any Prometheus) into the [`store`]; the [`dispatch`]er
//! walks the `route` tree and sorts them into aggregation groups, which it
//! flushes after `group_wait`, then every `group_interval`; each flush runs
//! the [`pipeline`]: drop alerts that are [`inhibit`]ed, silenced
//! ([`silence`]) or outside the route's time intervals, ask the
//! notification log ([`nflog`]) whether anything changed since the last
//! message (or `repeat_interval` has passed), and deliver through the
//! [`receivers`] with retries and a rate limit. Silences and the log live
//! in the database, so a restart neither forgets a silence nor sends a
//! message twice.
//!
//! - [`config`]: Alertmanager's configuration format, strict, every error
//!   with `file:line` (`pharos check alertmanager`);
//! - [`matchers`]: label matchers as routes, inhibition rules, silences
//!   and `amtool` write them;
//! - [`timeinterval`]: the `time_intervals` that mute or activate routes.

pub mod alert;
pub mod config;
pub mod dispatch;
pub mod inhibit;
pub mod matchers;
pub mod metrics;
pub mod nflog;
pub mod notifier;
pub mod pipeline;
pub mod receivers;
pub mod silence;
pub mod store;
pub mod timeinterval;

#[cfg(test)]
mod tests;
