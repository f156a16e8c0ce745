//! The health API under `/api/v1`, for the UI and for automation; every figure is computed
//! from stored metric series (see [`crate::health`]), so any window within retention can be
//! asked for.
//!
//! - `GET /api/v1/services?start=&end=&sparkline_points=`: every service with span metrics or
//!   health checks in the window: status and reasons, requests, rate, errors, error ratio,
//!   p50/p95/p99 latency, health checks, firing alerts. With `sparkline_points` (2 to 120),
//!   each service also has a `sparkline`: up to that many points of its request rate and error
//!   ratio over the window (never finer than `query.health`'s sample interval), every
//!   service's from one range query.
//! - `GET /api/v1/services/{service}?start=&end=&step=`: the same summary, RED time series
//!   (`step` defaults to about 120 points, never finer than `query.health`'s sample interval;
//!   `rate` windows as Grafana's `$__rate_interval`), operations by requests, recent error
//!   traces, and upstream (callers) and downstream (callees) edges. 404 when the service has
//!   nothing in the window.
//! - `GET /api/v1/dependencies?start=&end=`: the dependency graph's nodes (kind, health,
//!   figures) and edges (figures).
//!
//! `start` and `end` are unix nanoseconds or RFC 3339; `end` defaults to now and `start` to an
//! hour before it. See `render` for the JSON.

mod render;

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{middleware, Json, Router};
use http::HeaderMap;
use serde::Serialize;
use sightline_model::StatusCode;
use sightline_store::SpanQuery;

use self::render::{EdgeJson, FiguresJson, NodeJson, OperationJson, SeriesJson, ServiceJson};
use super::evaluate::evaluate_off_reactor;
use super::native::render::TraceSummaryJson;
use super::native::NativeError;
use super::{now_unix_nano, query_params, record_query_metrics, AppState};
use crate::error::Error;
use crate::health::alerts::firing_alerts;
use crate::health::graph::build_graph;
use crate::health::parallel::join;
use crate::health::probes::probe_states;
use crate::health::services::{judge_one, judge_services, ServiceHealth};
use crate::health::sparklines::{service_sparklines, SparklineSteps};
use crate::health::stats::{
    edge_red, matcher, matchers, red_series, span_red, Window, ENTRY_KINDS,
};
use crate::promql::engine::MAX_POINTS_PER_SERIES;
use crate::promql::{Engine, MetricStoreSource};
use crate::search::{optional_duration, optional_timestamp, QueryParams, DEFAULT_LOOKBACK_NANOS};
use crate::QueryConfig;

/// The `api` label of this router's self-metrics.
const API_LABEL: &str = "native";

/// How many recent error traces a service page lists.
const ERROR_TRACES: usize = 10;

/// About how many points a service page's series have when no `step` is given.
const TARGET_POINTS: i64 = 120;

/// The most points a health-table sparkline may ask for (`sparkline_points`).
const MAX_SPARKLINE_POINTS: i64 = 120;

/// Steps a service page's series snap to, in seconds.
const NICE_STEPS_SECONDS: [i64; 18] = [
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];

/// Builds the health routes, merged into `/api/v1`.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/services", get(list_services))
        .route("/services/{service}", get(service_page))
        .route("/dependencies", get(dependencies))
        .route_layer(middleware::from_fn_with_state(
            API_LABEL,
            record_query_metrics,
        ))
        .with_state(state)
}

type Answer<T> = Result<Json<T>, NativeError>;

/// The window a request asks about.
#[derive(Debug, Clone, Copy)]
struct Asked {
    start_unix_nano: u64,
    end_unix_nano: u64,
    window: Window,
}

fn asked_window(params: &QueryParams) -> Result<Asked, Error> {
    let end_unix_nano = optional_timestamp(params, "end", 1)?.unwrap_or_else(now_unix_nano);
    let start_unix_nano = optional_timestamp(params, "start", 1)?
        .unwrap_or_else(|| end_unix_nano.saturating_sub(DEFAULT_LOOKBACK_NANOS));
    if start_unix_nano >= end_unix_nano {
        return Err(Error::invalid_parameter("start", "must be before end"));
    }
    let ms = |nanos: u64| i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX);
    Ok(Asked {
        start_unix_nano,
        end_unix_nano,
        window: Window {
            end_ms: ms(end_unix_nano),
            length_ms: (ms(end_unix_nano) - ms(start_unix_nano)).max(1),
        },
    })
}

/// The answer of `GET /api/v1/services`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicesJson {
    start_unix_nano: String,
    end_unix_nano: String,
    /// The step between sparkline points, when sparklines were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    sparkline_step_seconds: Option<f64>,
    services: Vec<ServiceJson>,
}

/// The sparkline steps `sparkline_points` asks for over `window`, or `None` when it is absent.
///
/// The step is the window over the points, never under the sample interval (so a short window
/// gets fewer points); the last point is the window's end, so the newest requests show.
fn sparkline_steps(
    params: &QueryParams,
    window: Window,
    sample_interval_seconds: u64,
) -> Result<Option<SparklineSteps>, Error> {
    let Some(text) = params.get("sparkline_points") else {
        return Ok(None);
    };
    let points = text
        .parse::<i64>()
        .ok()
        .filter(|points| (2..=MAX_SPARKLINE_POINTS).contains(points))
        .ok_or_else(|| {
            Error::invalid_parameter(
                "sparkline_points",
                format!("{text:?} is not a whole number from 2 to {MAX_SPARKLINE_POINTS}"),
            )
        })?;
    let sample_ms = sample_interval_ms(sample_interval_seconds);
    let step_ms = (window.length_ms.saturating_add(points - 1) / points)
        .max(sample_ms)
        .max(1000);
    Ok(Some(SparklineSteps {
        start_ms: first_point_ms(window, step_ms, points),
        end_ms: window.end_ms,
        step_ms,
        rate_window_ms: rate_window_ms(step_ms, sample_ms),
    }))
}

async fn list_services(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Answer<ServicesJson> {
    let params = query_params(query)?;
    let asked = asked_window(&params)?;
    let sparklines = sparkline_steps(
        &params,
        asked.window,
        state.config.health.sample_interval_seconds,
    )?;
    let tenant = state.tenant(&headers)?;
    let config = Arc::clone(&state.config);
    let window = asked.window;
    let services = evaluate_off_reactor(&state, tenant, state.promql_timeout(), move |source| {
        let engine = config.promql_engine();
        let services = services_health(&engine, source, window, &config)?;
        let rows = services
            .iter()
            .map(|service| ServiceJson::new(service, window.seconds()));
        let Some(steps) = sparklines else {
            return Ok(rows.collect());
        };
        let entry_spans_only = services
            .iter()
            .filter(|service| service.entry_spans_only)
            .map(|service| service.name.clone())
            .collect();
        let mut lines = service_sparklines(&engine, source, steps, &entry_spans_only)?;
        Ok(rows
            .map(|row| {
                let line = lines.remove(row.name()).unwrap_or_default();
                row.with_sparkline(line)
            })
            .collect())
    })
    .await?;
    Ok(Json(ServicesJson {
        start_unix_nano: asked.start_unix_nano.to_string(),
        end_unix_nano: asked.end_unix_nano.to_string(),
        sparkline_step_seconds: sparklines.map(|steps| steps.step_ms as f64 / 1000.0),
        services,
    }))
}

/// Every service of the window judged: its span figures, probes and firing alerts (the probes
/// and alerts read while the span figures are counted).
fn services_health(
    engine: &Engine,
    source: &MetricStoreSource,
    window: Window,
    config: &QueryConfig,
) -> Result<Vec<ServiceHealth>, Error> {
    let (spans, probes_and_alerts) = join(
        || span_red(source, window, &["service"], ""),
        || {
            let probes = probe_states(engine, source, window, "")?;
            let alerts = firing_alerts(engine, source, window, "")?;
            Ok::<_, Error>((probes, alerts))
        },
    );
    let (probes, alerts) = probes_and_alerts?;
    Ok(judge_services(&config.health, spans?, probes, alerts))
}

/// The answer of `GET /api/v1/services/{service}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePageJson {
    start_unix_nano: String,
    end_unix_nano: String,
    service: ServiceJson,
    step_seconds: f64,
    rate_window_seconds: f64,
    series: SeriesJson,
    operations: Vec<OperationJson>,
    error_traces: Vec<TraceSummaryJson>,
    /// Edges into the service (its callers).
    upstream: Vec<EdgeJson>,
    /// Edges out of it (what it calls).
    downstream: Vec<EdgeJson>,
}

/// What a service page computes from metrics.
struct ServiceFigures {
    service: ServiceJson,
    series: SeriesJson,
    operations: Vec<OperationJson>,
    upstream: Vec<EdgeJson>,
    downstream: Vec<EdgeJson>,
}

/// The first of at most `max_points` points `step_ms` apart that end at the window's end itself
/// (not at the last multiple of the step before it, so the newest requests show at once).
fn first_point_ms(window: Window, step_ms: i64, max_points: i64) -> i64 {
    let points = (window.length_ms / step_ms).clamp(1, max_points);
    window.end_ms - (points - 1) * step_ms
}

/// The sample interval in ms.
fn sample_interval_ms(sample_interval_seconds: u64) -> i64 {
    i64::try_from(sample_interval_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// The `rate` window of series points `step_ms` apart: a step and a sample, and at least four
/// samples (as Grafana's `$__rate_interval`).
fn rate_window_ms(step_ms: i64, sample_ms: i64) -> i64 {
    step_ms
        .saturating_add(sample_ms)
        .max(sample_ms.saturating_mul(4))
}

/// The step of a service page's series and its `rate` window, both in ms.
fn series_step(
    params: &QueryParams,
    window_ms: i64,
    sample_interval_seconds: u64,
) -> Result<(i64, i64), Error> {
    let sample_ms = sample_interval_ms(sample_interval_seconds);
    let step_ms = match optional_duration(params, "step")? {
        Some(nanos) => {
            let step_ms = i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX);
            if step_ms < 1000 {
                return Err(Error::invalid_parameter("step", "must be at least 1s"));
            }
            if window_ms / step_ms > MAX_POINTS_PER_SERIES {
                return Err(Error::invalid_parameter(
                    "step",
                    format!("gives more than {MAX_POINTS_PER_SERIES} points; use a larger step"),
                ));
            }
            step_ms
        }
        None => {
            let wanted_ms = (window_ms / TARGET_POINTS).max(sample_ms);
            NICE_STEPS_SECONDS
                .iter()
                .map(|seconds| seconds * 1000)
                .find(|step| *step >= wanted_ms)
                .unwrap_or(wanted_ms)
        }
    };
    Ok((step_ms, rate_window_ms(step_ms, sample_ms)))
}

async fn service_page(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Answer<ServicePageJson> {
    let Path(name) =
        path.map_err(|rejection| Error::invalid_parameter("service", rejection.body_text()))?;
    let params = query_params(query)?;
    let asked = asked_window(&params)?;
    let (step_ms, rate_window_ms) = series_step(
        &params,
        asked.window.length_ms,
        state.config.health.sample_interval_seconds,
    )?;
    let tenant = state.tenant(&headers)?;
    let config = Arc::clone(&state.config);
    let window = asked.window;
    let service_name = name.clone();
    let figures = evaluate_off_reactor(
        &state,
        tenant.clone(),
        state.promql_timeout(),
        move |source| {
            let engine = config.promql_engine();
            let name = service_name;
            let selector = matchers(&[("service", "=", &name)]);
            let only = matcher("service", "=", &name);
            let spans = span_red(source, window, &["service"], &selector)?;
            let probes = probe_states(&engine, source, window, &only)?;
            let alerts = firing_alerts(&engine, source, window, &only)?;
            let Some(figures) = spans
                .into_values()
                .next()
                .or_else(|| (!probes.is_empty()).then(Default::default))
            else {
                return Err(Error::ServiceNotFound { service: name });
            };
            let health = judge_one(&config.health, name.clone(), &figures, probes, alerts);
            let seconds = window.seconds();

            let mut operations: Vec<OperationJson> =
                span_red(source, window, &["span_name", "span_kind"], &selector)?
                    .into_iter()
                    .map(|(key, red)| {
                        let mut key = key.into_iter();
                        OperationJson {
                            name: key.next().unwrap_or_default(),
                            span_kind: key.next().unwrap_or_default(),
                            figures: FiguresJson::new(&red.all, seconds),
                        }
                    })
                    .collect();
            operations.sort_by(|a, b| b.figures.requests().total_cmp(&a.figures.requests()));

            let entry_kinds = ENTRY_KINDS.join("|");
            let series_selector = if health.entry_spans_only {
                matchers(&[("service", "=", &name), ("span_kind", "=~", &entry_kinds)])
            } else {
                selector
            };
            let end_ms = window.end_ms;
            let start_ms = first_point_ms(window, step_ms, i64::MAX);
            let series = red_series(
                &engine,
                source,
                &series_selector,
                (start_ms.min(end_ms), end_ms, step_ms),
                rate_window_ms,
            )?;

            let edges = edge_red(
                source,
                window,
                &[
                    matchers(&[("client", "=", &name)]),
                    matchers(&[("server", "=", &name)]),
                ],
            )?;
            let mut upstream = Vec::new();
            let mut downstream = Vec::new();
            for (key, edge) in &edges {
                if key.1 == name {
                    upstream.push(EdgeJson::new(key, edge, seconds));
                }
                if key.0 == name {
                    downstream.push(EdgeJson::new(key, edge, seconds));
                }
            }
            Ok(ServiceFigures {
                service: ServiceJson::new(&health, seconds),
                series: series.into(),
                operations,
                upstream,
                downstream,
            })
        },
    )
    .await?;

    let errors = SpanQuery {
        service: Some(name),
        status: Some(StatusCode::Error),
        start_unix_nano: asked.start_unix_nano,
        end_unix_nano: asked.end_unix_nano,
        limit: ERROR_TRACES,
        ..SpanQuery::default()
    };
    let trace_ids = state
        .store
        .search_trace_ids(&tenant, &errors)
        .await
        .map_err(Error::from)?;
    let error_traces = state
        .load_traces(&tenant, trace_ids)
        .await?
        .iter()
        .map(TraceSummaryJson::from_trace)
        .collect();
    Ok(Json(ServicePageJson {
        start_unix_nano: asked.start_unix_nano.to_string(),
        end_unix_nano: asked.end_unix_nano.to_string(),
        service: figures.service,
        step_seconds: step_ms as f64 / 1000.0,
        rate_window_seconds: rate_window_ms as f64 / 1000.0,
        series: figures.series,
        operations: figures.operations,
        error_traces,
        upstream: figures.upstream,
        downstream: figures.downstream,
    }))
}

/// The answer of `GET /api/v1/dependencies`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DependenciesJson {
    start_unix_nano: String,
    end_unix_nano: String,
    nodes: Vec<NodeJson>,
    edges: Vec<EdgeJson>,
}

async fn dependencies(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> Answer<DependenciesJson> {
    let asked = asked_window(&query_params(query)?)?;
    let tenant = state.tenant(&headers)?;
    let config = Arc::clone(&state.config);
    let window = asked.window;
    let (nodes, edges) =
        evaluate_off_reactor(&state, tenant, state.promql_timeout(), move |source| {
            let engine = config.promql_engine();
            let (services, edges) = join(
                || services_health(&engine, source, window, &config),
                || edge_red(source, window, &[]),
            );
            let graph = build_graph(&config.health, &services?, edges?);
            let seconds = window.seconds();
            Ok((
                graph
                    .nodes
                    .iter()
                    .map(|node| NodeJson::new(node, seconds))
                    .collect(),
                graph
                    .edges
                    .iter()
                    .map(|(key, edge)| EdgeJson::new(key, edge, seconds))
                    .collect(),
            ))
        })
        .await?;
    Ok(Json(DependenciesJson {
        start_unix_nano: asked.start_unix_nano.to_string(),
        end_unix_nano: asked.end_unix_nano.to_string(),
        nodes,
        edges,
    }))
}

#[cfg(test)]
mod tests;
