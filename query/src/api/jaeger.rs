//! Jaeger's query HTTP API under `/jaeger/api`, so Jaeger UI and Grafana's Jaeger data source
//! work unchanged. Every answer is Jaeger's `structuredResponse`
//! (`{data, total, limit, offset, errors}`); see [`model`] for the trace translation.
//!
//! - `GET /services` → `data: [name]`, `total` = count.
//! - `GET /services/{service}/operations` → `data: [name]` (names of every kind, deduplicated).
//! - `GET /operations?service=&spanKind=` → `data: [{name, spanKind}]`.
//! - `GET /traces/{traceID}` → `data: [trace]`; unknown → 404 with
//!   `errors: [{code: 404, msg: "trace not found"}]`.
//! - `GET /traces?service=&operation=&tags=&minDuration=&maxDuration=&start=&end=&lookback=&limit=`
//!   (or repeated `traceID=`) → `data: [trace]`, most recent first; parameters as in
//!   [`crate::search::parse_jaeger_search`].
//!
//! - `GET /dependencies?endTs=&lookback=` (unix ms and ms; default now and 24 h) →
//!   `data: [{parent, child, callCount}]`, from the service graph's request counter, so any
//!   window within retention works; calls from outside (`user`) are left out, calls to
//!   uninstrumented peers (databases, external APIs) are kept.
//!
//! Errors answer `{"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{code, msg}]}`
//! with the status from [`Error::to_http`].

mod model;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use http::{HeaderMap, StatusCode};
use sightline_model::SpanKind;

use self::model::{
    jaeger_span_kind, jaeger_trace, jaeger_trace_id, DependencyLink, Operation, StructuredError,
    StructuredResponse,
};
use super::evaluate::evaluate_off_reactor;
use super::{
    now_unix_nano, parse_trace_id, query_params, record_query_metrics, render_off_reactor, AppState,
};
use crate::error::Error;
use crate::health::graph::USER_NODE;
use crate::health::stats::{edge_calls, Window};
use crate::search::{parse_jaeger_search, QueryParams};
use crate::trace::AssembledTrace;

/// The `api` label of this router's self-metrics.
const API_LABEL: &str = "jaeger";

/// Builds the `/jaeger/api` router.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/services", get(services))
        .route("/services/{service}/operations", get(service_operations))
        .route("/operations", get(operations))
        .route("/traces", get(search_traces))
        .route("/traces/{trace_id}", get(get_trace))
        .route("/dependencies", get(dependencies))
        .route_layer(middleware::from_fn_with_state(
            API_LABEL,
            record_query_metrics,
        ))
        .with_state(state)
}

/// An error answered in Jaeger's `structuredResponse` shape.
struct JaegerError(Error);

impl From<Error> for JaegerError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl IntoResponse for JaegerError {
    fn into_response(self) -> Response {
        let (status, message) = self.0.to_http();
        // Jaeger's own wording, which clients and scenario files match on.
        let msg = match self.0 {
            Error::TraceNotFound { .. } => "trace not found".to_string(),
            _ => message,
        };
        let body = StructuredResponse {
            data: serde_json::Value::Null,
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![StructuredError {
                code: status.as_u16(),
                msg,
                trace_id: None,
            }]),
        };
        (status, Json(body)).into_response()
    }
}

type JaegerResult = Result<Response, JaegerError>;

/// Jaeger's default `lookback` of `/dependencies`, in ms.
const DEPENDENCIES_LOOKBACK_MS: i64 = 24 * 3_600_000;

/// Parses a whole number of milliseconds.
fn millis_param(params: &QueryParams, name: &'static str) -> Result<Option<i64>, Error> {
    params
        .get(name)
        .map(|text| {
            text.trim()
                .parse::<i64>()
                .ok()
                .filter(|value| *value > 0)
                .ok_or_else(|| {
                    Error::invalid_parameter(
                        name,
                        format!("{text:?} is not a positive number of milliseconds"),
                    )
                })
        })
        .transpose()
}

async fn dependencies(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> JaegerResult {
    let params = query_params(query)?;
    let now_ms = i64::try_from(now_unix_nano() / 1_000_000).unwrap_or(i64::MAX);
    let window = Window {
        end_ms: millis_param(&params, "endTs")?.unwrap_or(now_ms),
        length_ms: millis_param(&params, "lookback")?.unwrap_or(DEPENDENCIES_LOOKBACK_MS),
    };
    let tenant = state.tenant(&headers)?;
    let links = evaluate_off_reactor(&state, tenant, state.promql_timeout(), move |source| {
        Ok(edge_calls(source, window)?)
    })
    .await?;
    let links: Vec<DependencyLink> = links
        .into_iter()
        .filter(|((parent, _), _)| parent != USER_NODE)
        .map(|((parent, child), calls)| DependencyLink {
            parent,
            child,
            call_count: calls.round().max(0.0) as u64,
        })
        .filter(|link| link.call_count > 0)
        .collect();
    Ok(Json(StructuredResponse::data(links)).into_response())
}

async fn services(State(state): State<AppState>, headers: HeaderMap) -> JaegerResult {
    let tenant = state.tenant(&headers)?;
    let services = state.store.services(&tenant).await.map_err(Error::from)?;
    let total = services.len();
    Ok(Json(StructuredResponse {
        total,
        ..StructuredResponse::data(services)
    })
    .into_response())
}

async fn service_operations(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> JaegerResult {
    let Path(service) =
        path.map_err(|rejection| Error::invalid_parameter("service", rejection.body_text()))?;
    let tenant = state.tenant(&headers)?;
    let operations = state
        .store
        .operations(&tenant, &service)
        .await
        .map_err(Error::from)?;
    let mut names: Vec<String> = operations.into_iter().map(|(name, _)| name).collect();
    names.sort();
    names.dedup();
    let total = names.len();
    Ok(Json(StructuredResponse {
        total,
        ..StructuredResponse::data(names)
    })
    .into_response())
}

async fn operations(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> JaegerResult {
    let params = query_params(query)?;
    let service = params
        .get("service")
        .ok_or_else(|| Error::invalid_parameter("service", "parameter 'service' is required"))?;
    let kind_filter = match params.get("spanKind") {
        Some(text) => Some(SpanKind::parse(text).ok_or_else(|| {
            Error::invalid_parameter(
                "spanKind",
                format!("{text:?} is not one of server, client, producer, consumer, internal"),
            )
        })?),
        None => None,
    };
    let tenant = state.tenant(&headers)?;
    let operations: Vec<Operation> = state
        .store
        .operations(&tenant, service)
        .await
        .map_err(Error::from)?
        .into_iter()
        .filter(|(_, kind)| kind_filter.is_none_or(|wanted| wanted == *kind))
        .map(|(name, kind)| Operation {
            name,
            span_kind: jaeger_span_kind(kind),
        })
        .collect();
    let total = operations.len();
    Ok(Json(StructuredResponse {
        total,
        ..StructuredResponse::data(operations)
    })
    .into_response())
}

async fn get_trace(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> JaegerResult {
    let Path(text) =
        path.map_err(|rejection| Error::invalid_parameter("traceID", rejection.body_text()))?;
    let trace_id = parse_trace_id(&text)?;
    let tenant = state.tenant(&headers)?;
    let trace = state.load_trace(&tenant, trace_id).await?;
    let body = render_traces(vec![trace], None).await?;
    Ok(body)
}

async fn search_traces(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    headers: HeaderMap,
) -> JaegerResult {
    let search = parse_jaeger_search(&query_params(query)?, &state.config, now_unix_nano())?;
    let tenant = state.tenant(&headers)?;
    if search.trace_ids.is_empty() {
        let trace_ids = state
            .store
            .search_trace_ids(&tenant, &search.query)
            .await
            .map_err(Error::from)?;
        let traces = state.load_traces(&tenant, trace_ids).await?;
        return Ok(render_traces(traces, None).await?);
    }
    let mut traces = Vec::with_capacity(search.trace_ids.len());
    let mut errors = Vec::new();
    for trace_id in search.trace_ids {
        match state.load_trace(&tenant, trace_id).await {
            Ok(trace) => traces.push(trace),
            Err(Error::TraceNotFound { trace_id }) => errors.push(StructuredError {
                code: StatusCode::NOT_FOUND.as_u16(),
                msg: "trace not found".to_string(),
                trace_id: Some(jaeger_trace_id(&trace_id)),
            }),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(render_traces(traces, (!errors.is_empty()).then_some(errors)).await?)
}

/// Translates and serialises traces off the reactor into `{data: [trace], ...}`.
async fn render_traces(
    traces: Vec<AssembledTrace>,
    errors: Option<Vec<StructuredError>>,
) -> Result<Response, Error> {
    let body = render_off_reactor(move || {
        let data: Vec<model::Trace> = traces.iter().map(jaeger_trace).collect();
        let response = StructuredResponse {
            errors,
            ..StructuredResponse::data(data)
        };
        serde_json::to_vec(&response).map_err(|error| Error::Encode {
            what: "jaeger traces",
            reason: error.to_string(),
        })
    })
    .await?;
    Ok(([(http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    async fn body_json(response: Response) -> (StatusCode, serde_json::Value) {
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn not_found_has_jaeger_shape() {
        let trace_id = "1".parse().unwrap();
        let response = JaegerError(Error::TraceNotFound { trace_id }).into_response();
        let (status, json) = body_json(response).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            json,
            serde_json::json!({"data": null, "total": 0, "limit": 0, "offset": 0,
                "errors": [{"code": 404, "msg": "trace not found"}]})
        );
    }

    #[tokio::test]
    async fn bad_parameter_has_jaeger_shape() {
        let response =
            JaegerError(Error::invalid_parameter("limit", "must be positive")).into_response();
        let (status, json) = body_json(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            json["errors"][0]["msg"],
            "invalid parameter limit: must be positive"
        );
        assert_eq!(json["data"], serde_json::Value::Null);
    }
}
