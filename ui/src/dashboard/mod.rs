//! Grafana dashboards: reading their JSON ([`model`], [`field`],
//! [`vars`]), running their queries and reshaping the answers ([`data`],
//! [`query`]), and the page that lays them out ([`view`]).

pub mod data;
pub mod field;
pub mod model;
pub mod query;
pub mod vars;
