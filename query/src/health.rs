//! Service health and the dependency map, computed from stored metric series only (so a
//! restart keeps history, and any past window within retention can be asked for):
//!
//! - the span metrics (`traces_span_metrics_calls_total`,
//!   `traces_span_metrics_duration_seconds_bucket`) give each service's and operation's rate,
//!   errors and latency;
//! - the service graph (`traces_service_graph_request_total`, `…_failed_total`,
//!   `…_request_server_seconds_bucket`, `…_request_client_seconds_bucket`) gives the edges;
//! - health checks (`probe_success`, `probe_duration_seconds`, `job="health_check"`) give
//!   probe states, linked to services by their `service` label;
//! - firing alerts (`ALERTS{alertstate="firing"}`) with a `service` label count against that
//!   service.
//!
//! Modules: [`stats`] counts requests, errors and latency into [`stats::Red`] figures;
//! [`probes`] and [`alerts`] read health-check states and firing alerts;
//! [`objectives`] holds the configurable objectives and the rule that turns figures into a
//! [`objectives::HealthStatus`]; [`services`] judges each service; [`graph`] builds the dependency graph's nodes and edges;
//! [`parallel`] runs two independent parts of an answer on two threads;
//! [`sparklines`] computes every service's compact rate and error-ratio series for the
//! health table in one range query.
//!
//! A service is measured on the spans where it serves a caller (`SERVER` and `CONSUMER`
//! spans); a service that has none in the window (a batch job, a pure client) is measured on
//! all its spans. Counts are what the counters counted in the window, without the
//! extrapolation of PromQL's `increase` (see [`stats::counted_in_window`]), so a user who
//! sent 20 requests sees 20; rates over time use PromQL's `rate`, as dashboards do.

pub mod alerts;
pub mod graph;
pub mod objectives;
pub mod parallel;
pub mod probes;
pub mod services;
pub mod sparklines;
pub mod stats;

pub use objectives::{HealthConfig, HealthStatus, Objectives};
