//! Grafana dashboards: reading their JSON ([`model`], [`field`],
//! [`vars`]), running their queries and reshaping the answers ([`data`],
//! [`query`]), and editing their JSON ([`edit`]); the pages are in
//! `pages::dashboard`.

pub mod data;
pub mod edit;
pub mod field;
pub mod model;
pub mod query;
pub mod vars;
