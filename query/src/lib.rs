//! Sightline's read side: assembles stored spans into traces and serves them over HTTP, in
//! Sightline's own JSON, as OTLP, and in Jaeger's query API shapes.
//!
//! Modules, in data-path order:
//! - [`trace`]: rows of one trace → [`trace::AssembledTrace`]: dedupe, tree, roots, orphans,
//!   services, clock skew (noted, never rewritten), critical path.
//! - [`search`]: query strings → validated [`sightline_store::SpanQuery`] (durations,
//!   timestamps, logfmt and JSON attribute filters).
//! - [`promql`]: PromQL text → [`promql::Value`]: parse (`promql-parser`), evaluate over a
//!   [`promql::SeriesSource`] with Prometheus' semantics.
//! - [`alerts`]: alerting and recording rules (rule files, the API, quick health rules),
//!   their evaluation with Prometheus' state semantics, `ALERTS` series, persisted states and
//!   history, and notifications to webhooks and Alertmanagers.
//! - [`logql`]: LogQL text → streams or samples: parse, evaluate over a
//!   [`logql::LogSource`] (the log store, or [`logql::InMemoryLogs`] in tests).
//! - `api`: the HTTP routers: `api::native` (`/api/v1`, JSON for the UI and OTLP export),
//!   `api::logs` (`/api/v1/logs`, search, histogram, live tail, a trace's logs),
//!   `api::jaeger` (`/jaeger/api`, Jaeger's `structuredResponse` shapes) and
//!   `api::prometheus` (`/prometheus/api/v1`, Prometheus' HTTP API for Grafana); tenant
//!   selection and self-metrics shared by all.
//! - [`error`]: [`Error`], its class, and the one HTTP mapping every router uses.
//!
//! Read path: HTTP request → `api` (tenant, params via [`search`]) → [`SpanStore`]
//! (`search_trace_ids`, `find_trace`) → [`trace::assemble_trace`] (on a blocking thread) →
//! rendering (`api::native` JSON, OTLP via [`sightline_store::otlp::spans_to_otlp`], or
//! `api::jaeger`).
//!
//! Metrics read path: HTTP request → `api::prometheus` (tenant, params) → on a blocking
//! thread, [`promql::Engine`] over [`promql::MetricStoreSource`] → [`MetricStore::select`]
//! → Prometheus JSON. Metadata endpoints call [`MetricStore`] directly.
//!
//! Health-check targets: `api::health_checks` (`/api/v1/health-checks`) reads and changes
//! the [`HealthCheckRegistry`] the binary hands to [`health_checks_router`]; the registry
//! (in the store crate) persists them, and the collector's prober follows its changes.
//!
//! Alerting: [`alerts::evaluator::run_alerting`] runs one task per rule group over the
//! [`alerts::registry::AlertRegistry`] (rules, receivers, states; persisted through the
//! store's [`sightline_store::AlertingDb`]) → PromQL over [`promql::MetricStoreSource`] →
//! [`alerts::state`] → `ALERTS` into the [`MetricStore`], notifications to
//! [`alerts::notify::Notifier`]; `api::alerts` serves `/api/v1/alerts/...` and Prometheus'
//! `/rules` and `/alerts` ([`alerts_router`]).
//!
//! This crate persists nothing itself (state such as API-created health checks, alert rules
//! and alert states is kept in the store crate's state database). Stored formats it owns: the
//! JSON of [`alerts::rule::RuleDefinition`], [`alerts::notify::ReceiverDefinition`] and
//! [`alerts::state::RuleState`] (rows of `alert_rules`, `alert_receivers`, `alert_states`);
//! rename a field only with a serde alias. Its wire formats are contracts, too: when you change
//! `api::jaeger`'s JSON, check it against Jaeger UI; when you change the native JSON, change
//! the UI (`ui/`) with it.

// STYLE.md §9 allows unwrap in tests (`allow-unwrap-in-tests`); until the workspace has its
// clippy.toml, say so here.

pub mod alerts;
pub mod error;
pub mod health;
pub mod logql;
pub mod promql;
pub mod search;
pub mod trace;

mod api;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use sightline_store::{HealthCheckRegistry, LogStore, MetricStore, SpanStore};

pub use error::Error;

/// Settings of the query side.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// How many traces a search returns when the request gives no `limit`.
    pub default_search_limit: usize,
    /// The largest `limit` a search accepts; the native API rejects larger values, the Jaeger
    /// API lowers them to this.
    pub max_search_limit: usize,
    /// Whether the `X-Scope-OrgID` header selects the tenant. When off, every request reads
    /// the default tenant and the header is ignored.
    pub multi_tenancy: bool,
    /// Seconds a PromQL query may run (Prometheus' `--query.timeout`), waiting for its turn
    /// included; the Prometheus API's `timeout` parameter can only shorten it. A query past
    /// it stops and answers `timeout` (HTTP 503).
    pub promql_timeout_seconds: u64,
    /// Seconds any other query may take to answer: trace search and trace reads (native and
    /// Jaeger APIs), native log search, service health and the dependency map, and LogQL
    /// (waiting for its turn included). Past it the request answers HTTP 503 naming this key.
    pub timeout_seconds: u64,
    /// `[query.health]`: the objectives services are judged by (see [`health::objectives`]).
    pub health: health::HealthConfig,
    /// The longest time range one query may span, in hours (trace search, Prometheus range
    /// queries, Loki range queries); a longer one is refused with HTTP 400 naming this key.
    /// 0 = unlimited. Default 768 (32 days).
    pub max_query_range_hours: u64,
    /// The most series one PromQL query may select (all its selectors together, like
    /// Mimir's `max_fetched_series_per_query`); beyond it the query stops with an
    /// `execution` error (HTTP 422). 0 = unlimited. Default 500000.
    pub max_series_per_query: usize,
    /// The most samples one step of a PromQL evaluation may hold at once (Prometheus'
    /// `--query.max-samples`), in the Prometheus API, the health API and alert rules;
    /// beyond it the query stops with an `execution` error (HTTP 422). 0 = unlimited.
    /// Default 50000000.
    pub max_samples_per_query: u64,
    /// The most bytes of stored data one request to the query API may read: Parquet pages of
    /// trace and metric parts, and stored log records (see [`sightline_store::scan`]); past
    /// it the query stops with HTTP 400 naming this key. In-memory heads are not counted.
    /// 0 = unlimited. Default 8 GiB.
    pub max_bytes_scanned_per_query: u64,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            default_search_limit: 20,
            max_search_limit: 1000,
            multi_tenancy: false,
            promql_timeout_seconds: 120,
            timeout_seconds: 120,
            health: health::HealthConfig::default(),
            max_query_range_hours: 768,
            max_series_per_query: 500_000,
            max_samples_per_query: 50_000_000,
            max_bytes_scanned_per_query: 8 << 30,
        }
    }
}

impl QueryConfig {
    /// The PromQL engine with the configured limits, for every PromQL evaluation over the
    /// store (the Prometheus API, the health API, alert rules).
    pub fn promql_engine(&self) -> promql::Engine {
        let max_samples = match self.max_samples_per_query {
            0 => i64::MAX,
            limit => i64::try_from(limit).unwrap_or(i64::MAX),
        };
        promql::Engine {
            max_samples,
            ..promql::Engine::default()
        }
    }

    /// Refuses a time range longer than `max_query_range_hours`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming `end`, the range and the limit.
    pub fn check_time_range(&self, start_unix_nano: u64, end_unix_nano: u64) -> Result<(), Error> {
        const HOUR_NANOS: u64 = 3_600_000_000_000;
        let limit_nanos = self.max_query_range_hours.saturating_mul(HOUR_NANOS);
        let range_nanos = end_unix_nano.saturating_sub(start_unix_nano);
        if self.max_query_range_hours == 0 || range_nanos <= limit_nanos {
            return Ok(());
        }
        Err(Error::invalid_parameter(
            "end",
            format!(
                "the query time range ({:.1}h) exceeds the limit of {}h (query.max_query_range_hours); narrow start and end",
                range_nanos as f64 / HOUR_NANOS as f64,
                self.max_query_range_hours
            ),
        ))
    }
}

impl QueryConfig {
    /// Checks the settings, returning one line per problem naming the key.
    ///
    /// # Errors
    /// Every problem found: a zero limit, a default above the maximum, or a zero timeout.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.max_search_limit == 0 {
            problems.push("query.max_search_limit must be at least 1".to_string());
        }
        if self.default_search_limit == 0 || self.default_search_limit > self.max_search_limit {
            problems.push(format!(
                "query.default_search_limit must be between 1 and query.max_search_limit ({}), got {}",
                self.max_search_limit, self.default_search_limit
            ));
        }
        if self.promql_timeout_seconds == 0 {
            problems.push("query.promql_timeout_seconds must be at least 1".to_string());
        }
        if self.timeout_seconds == 0 {
            problems.push("query.timeout_seconds must be at least 1".to_string());
        }
        problems.extend(self.health.problems());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

/// Builds the query HTTP router: the native API under `/api/v1` (traces and logs), the Jaeger
/// query API under `/jaeger/api`, the Prometheus HTTP API under `/prometheus/api/v1` and
/// Loki's query API under `/loki/api/v1` (over the log store). The binary adds `/metrics`,
/// `/healthz` and `/readyz` and serves it.
///
/// Every request records `sightline_query_duration_seconds{api,endpoint}` and
/// `sightline_query_requests_total{api,endpoint,status}`, where `endpoint` is the matched route
/// template, and runs under a scan budget of `config.max_bytes_scanned_per_query`.
pub fn router(
    store: SpanStore,
    metrics: MetricStore,
    logs: LogStore,
    config: QueryConfig,
) -> axum::Router {
    let state = api::AppState {
        store,
        metrics,
        logs,
        tail_permits: api::logs::new_tail_permits(),
        config: Arc::new(config),
        promql_permits: api::prometheus::new_query_permits(),
    };
    let loki = loki_router(Arc::new(state.logs.clone()), (*state.config).clone());
    let scan_limit = state.config.max_bytes_scanned_per_query;
    let time_limit = Duration::from_secs(state.config.timeout_seconds);
    // PromQL and LogQL keep their own deadlines, which answer in their APIs' error shapes.
    let timed = move |router: axum::Router| {
        router.layer(axum::middleware::from_fn_with_state(
            time_limit,
            api::time_limit,
        ))
    };
    axum::Router::new()
        .nest(
            "/api/v1",
            timed(
                api::native::router(state.clone())
                    .merge(api::logs::router(state.clone()))
                    .merge(api::health::router(state.clone())),
            ),
        )
        .nest("/jaeger/api", timed(api::jaeger::router(state.clone())))
        .nest("/prometheus/api/v1", api::prometheus::router(state))
        .merge(loki)
        .layer(axum::middleware::from_fn_with_state(
            scan_limit,
            api::scan_budget,
        ))
}

/// Builds `/api/v1/health-checks` (list, create, read, replace, delete health-check targets,
/// with each one's latest probe result) over `registry`. Tenant selection follows
/// `config.multi_tenancy` as in [`router`]; config-file targets are read-only.
pub fn health_checks_router(registry: HealthCheckRegistry, config: &QueryConfig) -> axum::Router {
    let state = api::health_checks::HealthChecksState {
        registry,
        multi_tenancy: config.multi_tenancy,
    };
    axum::Router::new().nest("/api/v1", api::health_checks::router(state))
}

/// Builds the alerting API: `/api/v1/alerts/...` (rules, alerts, history, receivers) and
/// Prometheus' `/prometheus/api/v1/rules` and `/prometheus/api/v1/alerts`, over the
/// evaluator's context. Tenant selection follows `config.multi_tenancy` as in [`router`].
pub fn alerts_router(
    context: Arc<alerts::evaluator::AlertingContext>,
    config: &QueryConfig,
) -> axum::Router {
    let state = api::alerts::AlertsState {
        context,
        multi_tenancy: config.multi_tenancy,
    };
    axum::Router::new()
        .nest("/api/v1", api::alerts::router(state.clone()))
        .nest("/prometheus/api/v1", api::alerts::prometheus_router(state))
}

/// Builds `/api/v1/tokens` (list, create — answering the secret once — and delete bearer
/// tokens) over `tokens`. The binary admits only `admin` tokens here once authentication is
/// on.
pub fn tokens_router(tokens: sightline_store::TokenRegistry) -> axum::Router {
    axum::Router::new().nest("/api/v1", api::tokens::router(tokens))
}

/// Builds Loki's query API (`/loki/api/v1/...`: `query_range`, `query`, `labels`,
/// `label/{name}/values`, `series`, `index/stats`, `index/volume`, …) over a log source, for
/// Grafana's Loki data source pointed at `http://host:7878/loki`. Tenant selection follows
/// `config.multi_tenancy` as in [`router`].
pub fn loki_router(logs: Arc<dyn logql::LogSource>, config: QueryConfig) -> axum::Router {
    let state = api::loki::LokiState::new(logs, Arc::new(config));
    axum::Router::new().nest("/loki/api/v1", api::loki::router(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_unknown_fields() {
        let config: QueryConfig = serde_json::from_str(r#"{"multi_tenancy": true}"#).unwrap();
        assert_eq!(
            config,
            QueryConfig {
                multi_tenancy: true,
                ..QueryConfig::default()
            }
        );
        assert_eq!(config.default_search_limit, 20);
        assert!(serde_json::from_str::<QueryConfig>(r#"{"max_limit": 5}"#).is_err());
        assert_eq!(QueryConfig::default().validate(), Ok(()));
        let inverted = QueryConfig {
            default_search_limit: 50,
            max_search_limit: 10,
            ..QueryConfig::default()
        };
        assert_eq!(inverted.validate().unwrap_err().len(), 1);
        let no_time = QueryConfig {
            promql_timeout_seconds: 0,
            timeout_seconds: 0,
            ..QueryConfig::default()
        };
        assert_eq!(no_time.validate().unwrap_err().len(), 2);
    }

    #[test]
    fn long_time_ranges_are_refused_naming_the_key() {
        const HOUR: u64 = 3_600_000_000_000;
        let config = QueryConfig {
            max_query_range_hours: 24,
            ..QueryConfig::default()
        };
        assert!(config.check_time_range(0, 24 * HOUR).is_ok());
        let error = config.check_time_range(0, 25 * HOUR).unwrap_err();
        assert_eq!(error.to_http().0, http::StatusCode::BAD_REQUEST);
        assert!(
            error
                .to_string()
                .contains("(25.0h) exceeds the limit of 24h (query.max_query_range_hours)"),
            "{error}"
        );
        let unlimited = QueryConfig {
            max_query_range_hours: 0,
            ..QueryConfig::default()
        };
        assert!(unlimited.check_time_range(0, u64::MAX).is_ok());
    }
}
