//! Wiring: builds the store, receivers and query API, serves them, and owns the shutdown
//! sequence.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sightline_collector::Collector;
use sightline_query::alerts::evaluator::{run_alerting, AlertingContext};
use sightline_query::alerts::notify::Notifier;
use sightline_query::alerts::registry::AlertRegistry;
use sightline_store::{
    AlertingDb, HealthCheckRegistry, LogStore, MetricStore, SpanStore, StateDb, TokenRegistry,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, ServerConfig};
use crate::tls;

/// Installs the tracing subscriber.
pub fn init_logging(server: &ServerConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&server.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if server.log_format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}

#[derive(Clone)]
struct OpsState {
    ready: Arc<AtomicBool>,
    metrics: PrometheusHandle,
}

fn ops_router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(state): State<OpsState>| async move {
                if state.ready.load(Ordering::Relaxed) {
                    (StatusCode::OK, "ready")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "not ready")
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(state): State<OpsState>| async move { state.metrics.render() }),
        )
        .with_state(state)
}

async fn bind(what: &str, address: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for {what} on {address}"))
}

/// Runs the server until SIGTERM or SIGINT, then shuts down in order.
///
/// Ingest (the OTLP receivers, remote write's decoding aside, the stores' background work)
/// runs on the current runtime; the query port and rule evaluation run on `query`, another
/// runtime with its own workers and blocking pool, so that neither can starve the other.
///
/// # Errors
/// Start-up failures (store, listeners); a failed final flush.
pub async fn run(config: Config, query: tokio::runtime::Handle) -> anyhow::Result<()> {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let file = config.file;
    let server = file.server.clone();
    tracing::info!(data_dir = %file.store.data_dir.display(), "opening store");
    let store = SpanStore::open(file.store.clone())
        .await
        .context("cannot open the store")?;

    let metric_store = MetricStore::open(file.store.clone())
        .await
        .context("cannot open the metric store")?;

    let log_store = LogStore::open(file.store.clone())
        .await
        .context("cannot open the log store")?;

    // User-managed state (API-created health checks) in {data_dir}/sightline.db.
    let state_db = StateDb::open(&file.store.data_dir)
        .await
        .context("cannot open the state database")?;
    let health_checks = HealthCheckRegistry::open(state_db.clone(), config.health_checks.clone())
        .await
        .context("cannot load the health checks")?;
    // Bearer tokens (config file and API); authentication is on while any exists.
    let tokens = TokenRegistry::open(state_db.clone(), config.tokens.clone())
        .await
        .context("cannot load the tokens")?;
    // Alerting: rules from files and the API, receivers, states persisted in the same file.
    let notifier = Notifier::new(
        config.alerting.delivery.clone(),
        config.alerting.external_url.clone(),
    )
    .context("cannot start the alert notifier")?;
    let alert_registry = AlertRegistry::open(
        AlertingDb::new(state_db),
        config.rule_groups.clone(),
        config.alerting.receivers.clone(),
        config.alerting.evaluation_interval,
        notifier.clone(),
    )
    .await
    .context("cannot load the alerting rules and receivers")?;
    let alerting_context = Arc::new(AlertingContext {
        registry: alert_registry,
        store: metric_store.clone(),
        engine: file.query.promql_engine(),
        settings: config.alerting.clone(),
    });

    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    store.spawn_background(&tracker, shutdown.child_token());
    metric_store.spawn_background(&tracker, shutdown.child_token());
    log_store.spawn_background(&tracker, shutdown.child_token());

    let grpc_listener = bind("OTLP/gRPC", config.otlp_grpc_listen).await?;
    let otlp_http_listener = bind("OTLP/HTTP", config.otlp_http_listen).await?;
    let http_listener = bind("the query API", config.http_listen).await?;
    let addresses = (
        grpc_listener.local_addr()?,
        otlp_http_listener.local_addr()?,
        http_listener.local_addr()?,
    );

    let receivers = shutdown.child_token();
    let collector = Collector::new(
        file.collector.clone(),
        store.clone(),
        metric_store.clone(),
        log_store.clone(),
    );
    collector.set_tokens(tokens.clone());
    let tls = match (&server.tls_cert_file, &server.tls_key_file) {
        (Some(cert), Some(key)) => Some((
            tls::server_config(cert, key, tls::Alpn::Http)?,
            tls::server_config(cert, key, tls::Alpn::Grpc)?,
        )),
        _ => None,
    };
    let (grpc, otlp_http) = match &tls {
        None => (
            tracker.spawn(sightline_collector::serve_grpc(
                collector.clone(),
                grpc_listener,
                receivers.clone(),
            )),
            tracker.spawn(sightline_collector::serve_http(
                collector.clone(),
                otlp_http_listener,
                receivers.clone(),
            )),
        ),
        Some((http_tls, grpc_tls)) => {
            let accepted = tls::accept_tls(grpc_listener, grpc_tls.clone(), receivers.clone());
            let incoming = tokio_stream::StreamExt::map(
                tokio_stream::wrappers::ReceiverStream::new(accepted),
                |(connection, _)| Ok::<_, std::io::Error>(connection),
            );
            (
                tracker.spawn(sightline_collector::serve_grpc_incoming(
                    collector.clone(),
                    incoming,
                    receivers.clone(),
                )),
                tracker.spawn(sightline_collector::serve_http(
                    collector.clone(),
                    tls::TlsListener::new(otlp_http_listener, http_tls.clone(), receivers.clone())?,
                    receivers.clone(),
                )),
            )
        }
    };
    // Span metrics and the service graph: flushed on an interval, and once more at shutdown
    // (after the receivers drain, before the metric store closes).
    let derived_metrics = collector.spawn_processors(&tracker, shutdown.child_token());

    // Health checks: probe tasks follow the registry; stopped before the metric store closes.
    let probes = tracker.spawn(sightline_collector::run_health_checks(
        health_checks.clone(),
        metric_store.clone(),
        shutdown.child_token(),
    ));

    // Rule evaluation: one task per group; stopped before the metric store closes.
    let alerting = tracker.spawn_on(
        run_alerting(alerting_context.clone(), shutdown.child_token()),
        &query,
    );

    let ready = Arc::new(AtomicBool::new(false));
    let app = sightline_query::router(
        store.clone(),
        metric_store.clone(),
        log_store.clone(),
        file.query.clone(),
    )
    // Prometheus remote write shares the :7878 port and `/prometheus` prefix with the API.
    .merge(sightline_query::health_checks_router(
        health_checks,
        &file.query,
    ))
    .merge(sightline_query::alerts_router(
        alerting_context,
        &file.query,
    ))
    .merge(collector.remote_write_router())
    .merge(sightline_query::tokens_router(tokens.clone()))
    .merge(ops_router(OpsState {
        ready: ready.clone(),
        metrics,
    }))
    .layer(axum::middleware::from_fn_with_state(
        tokens.clone(),
        crate::auth::authenticate,
    ))
    // The web UI's files, outside authentication: `/` and every non-API path.
    .merge(crate::ui::router());
    let query_shutdown = shutdown.child_token();
    let query_http = match &tls {
        None => tracker.spawn_on(
            async move {
                axum::serve(http_listener, app)
                    .with_graceful_shutdown(async move { query_shutdown.cancelled().await })
                    .await
            },
            &query,
        ),
        Some((http_tls, _)) => {
            // The accept loop and handshakes run on the query runtime too.
            let _entered = query.enter();
            let listener =
                tls::TlsListener::new(http_listener, http_tls.clone(), query_shutdown.clone())?;
            tracker.spawn_on(
                async move {
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move { query_shutdown.cancelled().await })
                        .await
                },
                &query,
            )
        }
    };
    tracker.close();
    ready.store(true, Ordering::Relaxed);
    tracing::info!(
        tls = tls.is_some(),
        otlp_grpc = %addresses.0,
        otlp_http = %addresses.1,
        http = %addresses.2,
        "listening"
    );
    if tokens.is_enabled() {
        tracing::info!(
            tokens = tokens.list().len(),
            "authentication on: every endpoint but /healthz and /readyz needs a bearer token"
        );
    } else {
        tracing::info!(
            "authentication off: no tokens configured ([[auth.tokens]] or POST /api/v1/tokens)"
        );
    }
    if addresses.2.ip().is_loopback() {
        tracing::info!(
            "the query API listens on loopback only; set --http-listen 0.0.0.0:7878 to expose it"
        );
    }

    wait_for_signal().await;
    tracing::info!("shutting down: readiness off");
    ready.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(server.shutdown_delay_seconds)).await;
    receivers.cancel();
    let drain = Duration::from_secs(server.shutdown_drain_seconds);
    for (name, handle) in [("otlp grpc", grpc), ("otlp http", otlp_http)] {
        match tokio::time::timeout(drain, handle).await {
            Ok(Ok(Ok(()))) => tracing::info!(receiver = name, "receiver drained"),
            Ok(Ok(Err(error))) => tracing::error!(receiver = name, %error, "receiver failed"),
            Ok(Err(error)) => tracing::error!(receiver = name, %error, "receiver task failed"),
            Err(_) => tracing::warn!(receiver = name, "receiver did not drain in time"),
        }
    }
    shutdown.cancel();
    let _ = tokio::time::timeout(drain, derived_metrics).await;
    let _ = tokio::time::timeout(drain, probes).await;
    let _ = tokio::time::timeout(drain, alerting).await;
    notifier.shutdown(drain).await;
    let _ = tokio::time::timeout(drain, query_http).await;
    let spans_closed = store.close().await;
    let metrics_closed = metric_store.close().await;
    let logs_closed = log_store.close().await;
    spans_closed.context("final span flush failed; the WAL keeps the data for the next start")?;
    metrics_closed
        .context("final metric flush failed; the WAL keeps the data for the next start")?;
    logs_closed
        .context("final log index commit failed; the WAL keeps the data for the next start")?;
    let _ = tokio::time::timeout(drain, tracker.wait()).await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
