//! The notifier: Alertmanager's half of the loop. Written so far:
//!
//! - [`config`]: Alertmanager's configuration format (`route` tree,
//!   `inhibit_rules`, `receivers`, `time_intervals`), strict, every error
//!   with `file:line` (`pharos check alertmanager`);
//! - [`matchers`]: label matchers as routes, inhibition rules, silences
//!   and `amtool` write them;
//! - [`timeinterval`]: the `time_intervals` that mute or activate routes.
//!
//! Dispatch (grouping and waits), inhibition, silences, the notification
//! log and the receivers come next.
pub mod config;
pub mod matchers;
pub mod timeinterval;
