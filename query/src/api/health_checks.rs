//! `/api/v1/health-checks`: the health-check targets of the request's tenant, with each one's
//! latest probe result; create, replace and delete the ones made through the API.
//!
//! - `GET /health-checks` → `{"health_checks": [target, …]}`, by name.
//! - `POST /health-checks` with a definition → 201 and the target; 409 when the name is taken
//!   (by an API or a config-file target), 400 naming each invalid field.
//! - `GET /health-checks/{name}` → the target, or 404.
//! - `PUT /health-checks/{name}` with a whole definition → the target; 400 for a config-file
//!   target (read-only here) or a different `name`.
//! - `DELETE /health-checks/{name}` → 204.
//!
//! A definition has the config file's keys (`name`, `service`, `probe`, `url`,
//! `expected_status`, `address`, `grpc_service`, `interval`, `timeout`, `enabled`); a target is
//! its canonical definition plus `source` (`"config"` or `"api"`) and `last_result`
//! (`null` until probed, else `success`, `duration_seconds`, `error` and `time_unix_ms`).
//! Changes take effect at once: the prober watches the registry.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use http::HeaderMap;
use serde::Serialize;
use serde_json::json;
use sightline_model::{HealthCheckDefinition, TenantId};
use sightline_store::health_checks::{HealthCheckEntry, HealthCheckSource};
use sightline_store::{HealthCheckRegistry, RegistryError};

use super::record_query_metrics;
use super::write_error::{request_tenant, ApiError};

/// The `api` label of this router's self-metrics.
const API_LABEL: &str = "native";

/// What the handlers share.
#[derive(Clone)]
pub(crate) struct HealthChecksState {
    pub(crate) registry: HealthCheckRegistry,
    pub(crate) multi_tenancy: bool,
}

impl HealthChecksState {
    fn tenant(&self, headers: &HeaderMap) -> Result<TenantId, ApiError> {
        request_tenant(headers, self.multi_tenancy)
    }
}

/// Builds the `/health-checks` routes (nested under `/api/v1` by the caller).
pub(crate) fn router(state: HealthChecksState) -> Router {
    Router::new()
        .route("/health-checks", get(list).post(create))
        .route(
            "/health-checks/{name}",
            get(get_one).put(replace).delete(delete),
        )
        .route_layer(middleware::from_fn_with_state(
            API_LABEL,
            record_query_metrics,
        ))
        .with_state(state)
}

/// A target as answered.
#[derive(Debug, Serialize)]
struct TargetJson {
    #[serde(flatten)]
    definition: HealthCheckDefinition,
    source: HealthCheckSource,
    last_result: Option<LastResultJson>,
}

#[derive(Debug, Serialize)]
struct LastResultJson {
    success: bool,
    duration_seconds: f64,
    error: Option<String>,
    time_unix_ms: i64,
}

impl From<HealthCheckEntry> for TargetJson {
    fn from(entry: HealthCheckEntry) -> Self {
        Self {
            definition: entry.spec.to_definition(),
            source: entry.source,
            last_result: entry.last_result.map(|result| LastResultJson {
                success: result.success,
                duration_seconds: result.duration.as_secs_f64(),
                error: result.error,
                time_unix_ms: result.finished_unix_ms,
            }),
        }
    }
}

#[derive(Debug, Serialize)]
struct ListJson {
    health_checks: Vec<TargetJson>,
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        let problems = match &error {
            RegistryError::Invalid(problems) => problems
                .iter()
                .map(|problem| json!({"field": problem.field, "message": problem.message}))
                .collect(),
            _ => Vec::new(),
        };
        ApiError::from_class(error.class(), &error, "health check registry", problems)
    }
}

async fn list(
    State(state): State<HealthChecksState>,
    headers: HeaderMap,
) -> Result<Json<ListJson>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let health_checks = state
        .registry
        .list(&tenant)
        .into_iter()
        .map(TargetJson::from)
        .collect();
    Ok(Json(ListJson { health_checks }))
}

async fn create(
    State(state): State<HealthChecksState>,
    headers: HeaderMap,
    body: Result<Json<HealthCheckDefinition>, JsonRejection>,
) -> Result<Response, ApiError> {
    let tenant = state.tenant(&headers)?;
    let Json(definition) = body?;
    let entry = state.registry.create(&tenant, &definition).await?;
    let location = format!("/api/v1/health-checks/{}", entry.spec.name);
    Ok((
        StatusCode::CREATED,
        [(http::header::LOCATION, location)],
        Json(TargetJson::from(entry)),
    )
        .into_response())
}

async fn get_one(
    State(state): State<HealthChecksState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Json<TargetJson>, ApiError> {
    let tenant = state.tenant(&headers)?;
    Ok(Json(state.registry.get(&tenant, &name)?.into()))
}

async fn replace(
    State(state): State<HealthChecksState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Result<Json<HealthCheckDefinition>, JsonRejection>,
) -> Result<Json<TargetJson>, ApiError> {
    let tenant = state.tenant(&headers)?;
    let Json(definition) = body?;
    Ok(Json(
        state
            .registry
            .replace(&tenant, &name, &definition)
            .await?
            .into(),
    ))
}

async fn delete(
    State(state): State<HealthChecksState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tenant = state.tenant(&headers)?;
    state.registry.delete(&tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests;
