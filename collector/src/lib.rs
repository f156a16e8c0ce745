//! Sightline's OTLP receivers: gRPC and HTTP in front of [`SpanStore`], [`MetricStore`] and
//! [`LogStore`].
//!
//! Modules, in data-path order:
//! - [`config`]: [`CollectorConfig`], body size limit, in-flight budget, tenancy.
//! - `grpc`: OTLP/gRPC `TraceService/Export`, `MetricsService/Export` and `LogsService/Export`
//!   (tonic), with a budget layer in front of decoding.
//! - `http`: OTLP/HTTP `POST /v1/traces`, `POST /v1/metrics` and `POST /v1/logs` (axum),
//!   protobuf and JSON.
//! - `remote_write`: Prometheus remote write 1.0 `POST /prometheus/api/v1/write` (snappy
//!   protobuf), validated per series, into [`MetricStore::append`].
//! - `tenant`: authentication (bearer token → tenant, `ingest` scope, when any token exists)
//!   or `X-Scope-OrgID` → [`TenantId`](sightline_model::TenantId).
//! - `rate_limit`: per-tenant ingest rates (bytes before decoding, items after), refused with
//!   a retry delay.
//! - `limits`: the in-flight byte budget (reserved before a body is read) and log throttling.
//! - `decode`: content types, gzip with a limit on the decompressed size, protobuf/JSON
//!   decoding, then validation by [`sightline_store::otlp::spans_from_otlp`] (or translation
//!   by [`sightline_store::otlp::metrics::metrics_from_otlp`], delta points made cumulative by
//!   the collector's [`DeltaToCumulative`]).
//! - `handoff`: metrics per request and [`SpanStore::append`] (or [`MetricStore::append`]),
//!   awaited until durable.
//! - `processors`: span metrics and the service graph, derived from spans once they are
//!   durable and flushed into the [`MetricStore`] by [`Collector::spawn_processors`].
//! - `probes`: health checks: HTTP(S), TCP and gRPC-health probes of the targets in a
//!   [`HealthCheckRegistry`](sightline_store::HealthCheckRegistry), on their schedules, into
//!   `probe_success` and `probe_duration_seconds` series ([`run_health_checks`]).
//! - [`error`]: [`Error`], its [`ErrorClass`](sightline_model::ErrorClass), and the one HTTP
//!   and one gRPC mapping of classes.
//!
//! Write path: `grpc` | `http` → `tenant` → `limits` (reserve bytes) → `rate_limit` (admit
//! bytes) → `decode` (blocking pool for large bodies) → `rate_limit` (charge items) → `handoff` (`processors` prepare) → [`SpanStore::append`] →
//! (`processors` commit) → response (with `partial_success` when spans were rejected). The
//! reservation is released after the hand-off. Derived series: `processors` → (every
//! `flush_interval_seconds`) → [`MetricStore::append`].
//!
//! Self-metrics: `sightline_collector_spans_received_total{protocol}`,
//! `sightline_collector_spans_rejected_total{reason}`,
//! `sightline_dropped_total{signal="traces",reason}`,
//! `sightline_collector_requests_total{protocol,outcome}`,
//! `sightline_collector_request_bytes_total{protocol}`; `protocol` is `grpc`, `http_protobuf`,
//! `http_json` (or `http` when the content type is unknown). OTLP metrics add
//! `sightline_collector_points_received_total{protocol}`,
//! `sightline_collector_points_rejected_total{reason}` and
//! `sightline_dropped_total{signal="metrics",reason}`.
//! OTLP logs add `sightline_collector_records_received_total{protocol,signal="logs"}`,
//! `sightline_collector_records_rejected_total{signal="logs",reason}` and
//! `sightline_dropped_total{signal="logs",reason}`.
//! The span processors add `sightline_processors_*` and `sightline_service_graph_*` (see
//! `processors`).
//! Health checks add `sightline_health_checks` and
//! `sightline_health_check_probes_total{probe,outcome}` (see `probes`).
//! Remote write adds `sightline_remote_write_samples_received_total`,
//! `sightline_dropped_total{signal="metrics",reason}` and `protocol="remote_write"`.
//!
//! Persisted formats: none here. The OTLP ⇄ model mapping lives in `sightline_store::otlp`.

pub mod config;
mod decode;
pub mod error;
mod grpc;
mod handoff;
mod http;
mod limits;
mod probes;
mod processors;
mod rate_limit;
mod remote_write;
mod tenant;
#[cfg(test)]
mod test_support;

use std::sync::Arc;

use sightline_store::otlp::metrics::{DeltaToCumulative, DeltaToCumulativeConfig};
use sightline_store::{LogStore, MetricStore, SpanStore, TokenRegistry};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::CollectorConfig;
pub use error::Error;
pub use http::{LOGS_PATH, METRICS_PATH, TRACES_PATH};
pub use probes::run_health_checks;
pub use remote_write::REMOTE_WRITE_PATH;
pub use tenant::TENANT_HEADER;

use handoff::SpanSink;
use limits::ByteBudget;
use processors::{ProcessorSettings, Processors};

/// The OTLP receivers' shared state: config, store and in-flight byte budget. Cheap to clone.
#[derive(Clone)]
pub struct Collector {
    inner: Arc<CollectorInner>,
}

struct CollectorInner {
    config: CollectorConfig,
    /// Where spans go: the store, then the span processors.
    store: SpanSink,
    /// Where metric samples go (OTLP metrics, remote write).
    metrics: MetricStore,
    /// Where OTLP log records go.
    logs: LogStore,
    /// Running totals of OTLP delta streams, shared by both protocols.
    deltas: Arc<DeltaToCumulative>,
    budget: ByteBudget,
    /// Per-tenant ingest rate limits, when the config sets any.
    rate_limits: Option<rate_limit::TenantRateLimits>,
    /// Bearer tokens, once the binary hands them over; authentication is on while any exists.
    tokens: std::sync::OnceLock<TokenRegistry>,
}

impl Collector {
    /// Creates the collector state shared by the gRPC and HTTP receivers, with the span
    /// processors the config enables (their settings that
    /// [`CollectorConfig::validate`] refuses fall back to the defaults, with a warning).
    pub fn new(
        config: CollectorConfig,
        store: SpanStore,
        metrics: MetricStore,
        logs: LogStore,
    ) -> Self {
        let budget = ByteBudget::new(config.max_in_flight_bytes);
        let deltas = Arc::new(DeltaToCumulative::new(DeltaToCumulativeConfig {
            max_streams: config.max_delta_streams,
            stale_after: std::time::Duration::from_secs(config.delta_stream_stale_after_secs),
        }));
        let processors = Processors::new(ProcessorSettings::from_config(&config)).map(Arc::new);
        let rate_limits = rate_limit::TenantRateLimits::from_config(&config);
        Self {
            inner: Arc::new(CollectorInner {
                config,
                store: SpanSink::new(store, processors),
                metrics,
                logs,
                deltas,
                budget,
                tokens: std::sync::OnceLock::new(),
                rate_limits,
            }),
        }
    }

    /// Authenticates every export with `tokens` from now on (while any token exists). A
    /// second call is ignored.
    pub fn set_tokens(&self, tokens: TokenRegistry) {
        let _ = self.inner.tokens.set(tokens);
    }

    /// Admits an export of `bytes` under the tenant's ingest rate limits, before it is
    /// decoded (see [`rate_limit`]).
    pub(crate) fn admit(
        &self,
        tenant: &sightline_model::TenantId,
        signal: &'static str,
        bytes: usize,
    ) -> Result<(), Error> {
        match &self.inner.rate_limits {
            None => Ok(()),
            Some(limits) => limits.admit(tenant, signal, bytes as u64),
        }
    }

    /// Charges the items decoded from an admitted export to the tenant's rate limit.
    pub(crate) fn charge_items(&self, tenant: &sightline_model::TenantId, items: usize) {
        if let Some(limits) = &self.inner.rate_limits {
            limits.charge_items(tenant, items as u64);
        }
    }

    /// Authenticates an export and resolves its tenant from its `Authorization` and
    /// `X-Scope-OrgID` values (see [`tenant`]).
    pub(crate) fn ingest_tenant(
        &self,
        authorization: Option<&[u8]>,
        tenant_header: Option<&[u8]>,
    ) -> Result<sightline_model::TenantId, Error> {
        tenant::ingest_tenant(
            self.inner.tokens.get(),
            self.inner.config.multi_tenancy,
            authorization,
            tenant_header,
        )
    }

    /// Returns the router serving OTLP/HTTP `POST /v1/traces`, `POST /v1/metrics` and
    /// `POST /v1/logs`, to be
    /// merged into the binary's HTTP server or served with [`serve_http`].
    pub fn http_router(&self) -> axum::Router {
        http::otlp_router(self.clone())
    }

    /// Returns the router serving Prometheus remote write 1.0 `POST /prometheus/api/v1/write`,
    /// to be merged into the binary's HTTP server.
    pub fn remote_write_router(&self) -> axum::Router {
        remote_write::remote_write_router(self.clone())
    }

    pub(crate) fn config(&self) -> &CollectorConfig {
        &self.inner.config
    }

    /// Spawns the task that writes the derived series (span metrics, service graph) into the
    /// metric store every `flush_interval_seconds`, and once more when `shutdown` is
    /// cancelled. Await the handle before closing the metric store, so the last flush lands.
    /// With both processors off, the task ends at once.
    pub fn spawn_processors(
        &self,
        tracker: &TaskTracker,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        match self.inner.store.processors() {
            Some(processors) => tracker.spawn(processors::run_flush_loop(
                processors.clone(),
                self.inner.metrics.clone(),
                shutdown,
            )),
            None => tracker.spawn(async {}),
        }
    }

    pub(crate) fn store(&self) -> &SpanSink {
        &self.inner.store
    }

    pub(crate) fn budget(&self) -> &ByteBudget {
        &self.inner.budget
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` is cancelled, then stops accepting and
/// drains the exports in flight.
///
/// # Errors
/// [`Error::Serve`] when the server fails.
pub async fn serve_grpc(
    collector: Collector,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let local_addr = listener.local_addr().ok();
    tracing::info!(?local_addr, "otlp grpc receiver listening");
    serve_grpc_incoming(collector, TcpListenerStream::new(listener), shutdown).await?;
    tracing::info!(?local_addr, "otlp grpc receiver stopped");
    Ok(())
}

/// Serves OTLP/gRPC on the connections `incoming` yields (TLS ones, say) until `shutdown` is
/// cancelled, then drains the requests in flight.
///
/// # Errors
/// [`Error::Serve`] when the server fails.
pub async fn serve_grpc_incoming<I, IO, IE>(
    collector: Collector,
    incoming: I,
    shutdown: CancellationToken,
) -> Result<(), Error>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>>,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Two services, routed by path in `grpc::otlp_routes` (tonic's router is an extra feature).
    tonic::transport::Server::builder()
        .layer(grpc::GrpcBudgetLayer::new(&collector))
        .serve_with_incoming_shutdown(
            grpc::otlp_routes(collector),
            incoming,
            shutdown.cancelled_owned(),
        )
        .await
        .map_err(|error| Error::Serve {
            protocol: "grpc",
            reason: error.to_string(),
        })
}

/// Serves OTLP/HTTP on `listener` until `shutdown` is cancelled, then stops accepting and
/// drains the requests in flight.
///
/// # Errors
/// [`Error::Serve`] when the server fails.
pub async fn serve_http<L>(
    collector: Collector,
    listener: L,
    shutdown: CancellationToken,
) -> Result<(), Error>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let local_addr = listener.local_addr().ok();
    tracing::info!(?local_addr, "otlp http receiver listening");
    axum::serve(listener, collector.http_router())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|error| Error::Serve {
            protocol: "http",
            reason: error.to_string(),
        })?;
    tracing::info!(?local_addr, "otlp http receiver stopped");
    Ok(())
}
