//! Rules: Prometheus's recording and alerting rules, evaluated on the
//! stored data.
//!
//! - [`file`]: the rule file format, checked strictly with `file:line`
//!   errors (`pharos check rules`);
//! - [`alerting`]: one alerting rule's state machine, its templates and
//!   the `ALERTS` / `ALERTS_FOR_STATE` series;
//! - [`group`]: one evaluation of a group at a given time — results back to
//!   storage, stale markers, alerts to the [`crate::alert_sender::AlertSender`] seam;
//! - [`manager`]: the running groups — loops, reloads that take all files
//!   or none, alert state saved in the database and restored at start;
//! - [`unittest`]: `pharos test rules` (promtool's rule unit tests).

pub mod alerting;
pub mod file;
pub mod group;
pub mod manager;
pub mod metrics;
pub mod unittest;

#[cfg(test)]
mod tests;

pub use alerting::{Alert, AlertState, AlertingRule};
pub use group::{Group, Rule, RuleImpl};
pub use manager::{load_files, Manager, ManagerOptions, RuleLoadError, RuleSettings};
